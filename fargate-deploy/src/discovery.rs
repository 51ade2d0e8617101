//! Service discovery with AWS Cloud Map: an environment's private DNS namespace and one
//! Cloud Map service per discoverable app, so that apps reach each other at
//! `<app>.<namespace>` inside the VPC, whatever their tasks' addresses.
//!
//! [`NamespaceSpec`] is the environment's private DNS namespace (a Route 53 private hosted
//! zone that Cloud Map manages, in the environment's VPC); [`DiscoveryServiceSpec`] is one
//! app's Cloud Map service (multivalue `A` records, one per running task, that ECS registers
//! and deregisters as tasks start and stop: the ECS service's `serviceRegistries`).
//!
//! Both are owned through tags like every other resource: a namespace or Cloud Map service
//! with the same name that fargate-rs did not create is never modified or deleted.
//!
//! Outputs: [`namespace_id`], [`namespace_arn`], [`registry_arn`], [`dns_name`].

use std::time::Duration;

use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsConfigChange, DnsRecord, HealthCheckCustomConfig, NamespaceFilter,
    NamespaceFilterName, OperationStatus, RecordType, RoutingPolicy, ServiceChange, ServiceFilter,
    ServiceFilterName, Tag,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until, retry_eventual};
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Ident, InvalidValue, Kind, Mode, PlanValues, Ref,
    Resolved, ResourceId, Round, StepContext, Tags,
};

use crate::Clients;
use crate::aws_util::{creation_tags, ensure_owned, missing};

/// The resource kind of Cloud Map namespaces in plans.
pub const NAMESPACE_KIND: &str = "servicediscovery:namespace";
/// The resource kind of Cloud Map services in plans.
pub const SERVICE_KIND: &str = "servicediscovery:service";

/// How long Cloud Map operations (namespace create and delete, service updates) are waited for.
const OPERATION_POLL: Poll = Poll::new(Duration::from_secs(600), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));
/// How long a delete waits while ECS still deregisters tasks (`ResourceInUse`).
const IN_USE_POLL: Poll = Poll::new(Duration::from_secs(300), Duration::from_secs(5))
    .with_max_interval(Duration::from_secs(20));
/// The TTL of the `A` records, in seconds: short, so clients follow tasks that move.
pub const DEFAULT_TTL: i64 = 10;

/// A private DNS name for a namespace: 1 to 253 characters, labels of letters, digits and
/// hyphens (not at either end) separated by dots, lower case.
///
/// ```
/// use fargate_deploy::discovery::DnsName;
/// assert_eq!("prod.internal".parse::<DnsName>()?.as_str(), "prod.internal");
/// assert!("Prod..internal".parse::<DnsName>().is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DnsName(String);

impl DnsName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DnsName {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        const ALLOWED: &str = "a lower-case DNS name of 1 to 253 characters: labels of a-z, 0-9 and '-' \
                               (not first or last), 1 to 63 characters each, separated by '.', e.g. prod.internal";
        let bad = |why: &str| Err(InvalidValue::new("private_namespace", s, why, ALLOWED));
        if s.is_empty() || s.len() > 253 {
            return bad("the name is empty or longer than 253 characters");
        }
        for label in s.split('.') {
            if label.is_empty() || label.len() > 63 {
                return bad("a label is empty or longer than 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return bad("a label has a character other than a-z, 0-9 or '-'");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return bad("a label starts or ends with '-'");
            }
        }
        Ok(Self(s.to_string()))
    }
}

impl TryFrom<String> for DnsName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        s.parse()
    }
}

impl From<DnsName> for String {
    fn from(n: DnsName) -> String {
        n.0
    }
}

impl std::fmt::Display for DnsName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity of the namespace `name` in plans.
pub fn namespace_resource(name: &DnsName) -> ResourceId {
    ResourceId::new(NAMESPACE_KIND, name.as_str())
}

/// Output: the namespace id (`ns-…`).
pub fn namespace_id(name: &DnsName) -> OutputKey<String> {
    namespace_resource(name).output("id")
}

/// Output: the namespace ARN.
pub fn namespace_arn(name: &DnsName) -> OutputKey<String> {
    namespace_resource(name).output("arn")
}

/// The identity of app `app`'s Cloud Map service in namespace `namespace`.
pub fn service_resource(namespace: &DnsName, app: &Ident) -> ResourceId {
    ResourceId::new(SERVICE_KIND, format!("{namespace}/{app}"))
}

/// Output: the Cloud Map service ARN, the `registryArn` of the ECS service's
/// `serviceRegistries`.
pub fn registry_arn(namespace: &DnsName, app: &Ident) -> OutputKey<String> {
    service_resource(namespace, app).output("arn")
}

/// Output: the DNS name a discoverable app is reached at, `<app>.<namespace>`.
pub fn dns_name(namespace: &DnsName, app: &Ident) -> OutputKey<String> {
    service_resource(namespace, app).output("dns_name")
}

/// The key of the one look-up per plan of environment `env`'s namespace `name`.
fn lookup_key(name: &DnsName, env: &Ident) -> String {
    format!("servicediscovery:namespace:{env}:{name}")
}

/// A Cloud Map tag list.
fn sdk_tags(tags: Vec<(String, String)>) -> Result<Vec<Tag>, Error> {
    tags.into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::Unexpected {
                    resource: ResourceId::new(NAMESPACE_KIND, "tags"),
                    operation: "TagResource".into(),
                    detail: e.to_string(),
                })
        })
        .collect()
}

/// The tags of a Cloud Map resource.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn tags_of(c: &Clients, id: &ResourceId, arn: &str) -> Result<Vec<(String, String)>, Error> {
    let out = c
        .discovery
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .context(id, "ListTagsForResource")?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// Wait for a Cloud Map operation to succeed; the id of its target of `target_type`
/// (`NAMESPACE`, `SERVICE`) when it has one.
async fn wait_operation(
    c: &Clients,
    ctx: &StepContext,
    id: &ResourceId,
    operation_id: &str,
    target_type: &str,
) -> Result<Option<String>, Error> {
    poll_until(
        ctx,
        id,
        &format!("Cloud Map operation {operation_id}"),
        OPERATION_POLL,
        || async {
            let out = c
                .discovery
                .get_operation()
                .operation_id(operation_id)
                .send()
                .await
                .context(id, "GetOperation")?;
            let Some(op) = out.operation() else {
                return Err(missing(id, "GetOperation", "operation"));
            };
            match op.status() {
                Some(OperationStatus::Success) => Ok(Some(op.targets().and_then(|t| {
                    t.iter()
                        .find(|(k, _)| k.as_str() == target_type)
                        .map(|(_, v)| v.clone())
                }))),
                Some(OperationStatus::Fail) => Err(Error::Unexpected {
                    resource: id.clone(),
                    operation: "GetOperation".into(),
                    detail: format!(
                        "Cloud Map operation {operation_id} failed: {} {}",
                        op.error_code().unwrap_or_default(),
                        op.error_message().unwrap_or_default()
                    ),
                }),
                _ => Ok(None),
            }
        },
    )
    .await
}

/// An environment's private DNS namespace.
#[derive(Debug, Clone)]
pub struct NamespaceSpec {
    name: DnsName,
    vpc_id: Ref<String>,
    vpc_producer: Option<ResourceId>,
    ownership: Ownership,
    tags: Tags,
}

impl NamespaceSpec {
    /// The namespace `name` of environment `env`, in the VPC `vpc_id` (produced by
    /// `vpc_producer` when the environment creates its network).
    pub fn new(
        env: &Ident,
        name: DnsName,
        vpc_id: Ref<String>,
        vpc_producer: Option<ResourceId>,
        tags: Tags,
    ) -> Self {
        Self {
            name,
            vpc_id,
            vpc_producer,
            ownership: Ownership::new(env.clone()).with_component("namespace"),
            tags,
        }
    }

    /// The namespace's DNS name.
    pub fn name(&self) -> &DnsName {
        &self.name
    }

    fn desired_fields(&self) -> Fields {
        Fields::new()
            .with("name", self.name.as_str())
            .with("type", "DNS_PRIVATE")
    }

    #[tracing::instrument(skip_all, fields(resource = %namespace_resource(&self.name)))]
    async fn find(&self, c: &Clients) -> Result<Option<ObservedNamespace>, Error> {
        let id = namespace_resource(&self.name);
        let mut pages = c
            .discovery
            .list_namespaces()
            .filters(
                NamespaceFilter::builder()
                    .name(NamespaceFilterName::Type)
                    .values("DNS_PRIVATE")
                    .build()
                    .map_err(|e| crate::aws_util::bad_request(&id, "ListNamespaces", e))?,
            )
            .into_paginator()
            .send();
        let mut found = None;
        while let Some(page) = pages.next().await {
            let page = page.context(&id, "ListNamespaces")?;
            for ns in page.namespaces() {
                if ns.name() != Some(self.name.as_str()) {
                    continue;
                }
                let (Some(ns_id), Some(arn)) = (ns.id(), ns.arn()) else {
                    continue;
                };
                // Private namespaces of one name may exist in several VPCs (other
                // environments'): only the one with this environment's tags is ours.
                let tags = tags_of(c, &id, arn).await?;
                if self
                    .ownership
                    .check(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    == fargate_core::OwnershipCheck::Owned
                {
                    found = Some(ObservedNamespace {
                        id: ns_id.to_string(),
                        arn: arn.to_string(),
                        fields: Fields::new()
                            .with("name", ns.name().unwrap_or_default())
                            .with("type", ns.r#type().map(|t| t.as_str()).unwrap_or_default()),
                    });
                }
            }
        }
        Ok(found)
    }

    #[tracing::instrument(skip_all, fields(resource = %namespace_resource(&self.name)))]
    async fn create(&self, c: &Clients, ctx: &StepContext) -> Result<ObservedNamespace, Error> {
        let id = namespace_resource(&self.name);
        let vpc = self.vpc_id.resolve(ctx)?;
        let tags = sdk_tags(creation_tags(
            &self.ownership,
            &self.tags,
            self.name.as_str(),
        ))?;
        let out = c
            .discovery
            .create_private_dns_namespace()
            .name(self.name.as_str())
            .vpc(&vpc)
            .creator_request_id(fargate_core::client_token())
            .description(format!(
                "fargate-rs environment {}",
                self.ownership.environment
            ))
            .set_tags(Some(tags))
            .send()
            .await
            .context(&id, "CreatePrivateDnsNamespace")?;
        let op = out
            .operation_id()
            .ok_or_else(|| missing(&id, "CreatePrivateDnsNamespace", "OperationId"))?;
        let ns_id = wait_operation(c, ctx, &id, op, "NAMESPACE")
            .await?
            .ok_or_else(|| missing(&id, "GetOperation", "the namespace target"))?;
        let got = c
            .discovery
            .get_namespace()
            .id(&ns_id)
            .send()
            .await
            .context(&id, "GetNamespace")?;
        let arn = got
            .namespace()
            .and_then(|n| n.arn())
            .ok_or_else(|| missing(&id, "GetNamespace", "Arn"))?;
        Ok(ObservedNamespace {
            id: ns_id.clone(),
            arn: arn.to_string(),
            fields: self.desired_fields(),
        })
    }
}

/// A namespace as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedNamespace {
    id: String,
    arn: String,
    fields: Fields,
}

impl ObservedNamespace {
    fn publish(&self, ctx: &StepContext, name: &DnsName) {
        ctx.set(&namespace_id(name), self.id.clone());
        ctx.set(&namespace_arn(name), self.arn.clone());
    }
}

impl Kind<Clients> for NamespaceSpec {
    type Observed = ObservedNamespace;

    fn id(&self) -> ResourceId {
        namespace_resource(&self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.vpc_producer.iter().cloned().collect()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedNamespace>, Error>> {
        Box::pin(async move {
            let found = round
                .observe_once(&lookup_key(&self.name, &self.ownership.environment), || {
                    self.find(clients)
                })
                .await?;
            Ok((*found).clone())
        })
    }

    fn diff(&self, observed: Option<&ObservedNamespace>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &self.desired_fields(),
            observed.map(|o| &o.fields),
            &["name", "type"],
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedNamespace>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new()
                .with(&namespace_id(&self.name), &o.id)
                .with(&namespace_arn(&self.name), &o.arn)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedNamespace>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ns = match (change, observed) {
                (Change::NoOp | Change::Update { .. }, Some(o)) => o.clone(),
                _ => self.create(clients, ctx).await?,
            };
            ns.publish(ctx, &self.name);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedNamespace,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = namespace_resource(&self.name);
            let in_use = |e: &Error| e.aws_code() == Some("ResourceInUse");
            let sent = retry_eventual(ctx, IN_USE_POLL, in_use, || async {
                let out = clients
                    .discovery
                    .delete_namespace()
                    .id(&observed.id)
                    .send()
                    .await;
                match out {
                    Ok(o) => Ok(o.operation_id().map(str::to_string)),
                    Err(e)
                        if fargate_core::error::sdk_error_code(&e) == Some("NamespaceNotFound") =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(Error::from_sdk(&id, "DeleteNamespace", e)),
                }
            })
            .await?;
            if let Some(op) = sent {
                wait_operation(clients, ctx, &id, &op, "NAMESPACE").await?;
            }
            Ok(())
        })
    }
}

/// One app's Cloud Map service in the environment's namespace.
#[derive(Debug, Clone)]
pub struct DiscoveryServiceSpec {
    namespace: DnsName,
    app: Ident,
    ttl: i64,
    ownership: Ownership,
    tags: Tags,
}

impl DiscoveryServiceSpec {
    /// The Cloud Map service of `app` (environment `env`) in `namespace`: its tasks are
    /// reachable at `<app>.<namespace>`.
    pub fn new(env: &Ident, app: &Ident, namespace: DnsName, tags: Tags) -> Self {
        Self {
            namespace,
            app: app.clone(),
            ttl: DEFAULT_TTL,
            ownership: Ownership::new(env.clone()).with_app(app.clone()),
            tags,
        }
    }

    /// The DNS name the app is reachable at.
    pub fn dns_name(&self) -> String {
        format!("{}.{}", self.app, self.namespace)
    }

    fn desired_fields(&self) -> Fields {
        Fields::new()
            .with("dns.routing_policy", "MULTIVALUE")
            .with_set("dns.records", [format!("A ttl={}", self.ttl)])
    }

    fn observed_fields(dns: Option<&DnsConfig>) -> Fields {
        Fields::new()
            .with(
                "dns.routing_policy",
                dns.and_then(|d| d.routing_policy())
                    .map(|p| p.as_str())
                    .unwrap_or("MULTIVALUE"),
            )
            .with_set(
                "dns.records",
                dns.map(|d| d.dns_records())
                    .unwrap_or_default()
                    .iter()
                    .map(|r| format!("{} ttl={}", r.r#type().as_str(), r.ttl())),
            )
    }

    fn dns_records(&self) -> Result<Vec<DnsRecord>, Error> {
        let id = service_resource(&self.namespace, &self.app);
        Ok(vec![
            DnsRecord::builder()
                .r#type(RecordType::A)
                .ttl(self.ttl)
                .build()
                .map_err(|e| crate::aws_util::bad_request(&id, "CreateService", e))?,
        ])
    }

    #[tracing::instrument(skip_all, fields(resource = %service_resource(&self.namespace, &self.app)))]
    async fn find(&self, c: &Clients, namespace: &str) -> Result<Option<ObservedService>, Error> {
        let id = service_resource(&self.namespace, &self.app);
        let mut pages = c
            .discovery
            .list_services()
            .filters(
                ServiceFilter::builder()
                    .name(ServiceFilterName::NamespaceId)
                    .values(namespace)
                    .build()
                    .map_err(|e| crate::aws_util::bad_request(&id, "ListServices", e))?,
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context(&id, "ListServices")?;
            for s in page.services() {
                if s.name() != Some(self.app.as_str()) {
                    continue;
                }
                let (Some(sid), Some(arn)) = (s.id(), s.arn()) else {
                    continue;
                };
                // Emulators may ignore the filter: read the service itself.
                let got = c
                    .discovery
                    .get_service()
                    .id(sid)
                    .send()
                    .await
                    .context(&id, "GetService")?;
                let Some(service) = got.service() else {
                    continue;
                };
                if service.namespace_id() != Some(namespace) {
                    continue;
                }
                let tags = tags_of(c, &id, arn).await?;
                ensure_owned(
                    &self.ownership,
                    &id,
                    &format!("Cloud Map service {arn}"),
                    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )?;
                return Ok(Some(ObservedService {
                    id: sid.to_string(),
                    arn: arn.to_string(),
                    fields: Self::observed_fields(service.dns_config()),
                }));
            }
        }
        Ok(None)
    }

    #[tracing::instrument(skip_all, fields(resource = %service_resource(&self.namespace, &self.app)))]
    async fn create(&self, c: &Clients, ctx: &StepContext) -> Result<ObservedService, Error> {
        let id = service_resource(&self.namespace, &self.app);
        let namespace = ctx.get(&namespace_id(&self.namespace))?;
        let dns = DnsConfig::builder()
            .routing_policy(RoutingPolicy::Multivalue)
            .set_dns_records(Some(self.dns_records()?))
            .build()
            .map_err(|e| crate::aws_util::bad_request(&id, "CreateService", e))?;
        let tags = sdk_tags(creation_tags(&self.ownership, &self.tags, &self.dns_name()))?;
        let out = c
            .discovery
            .create_service()
            .name(self.app.as_str())
            .namespace_id(&namespace)
            .creator_request_id(fargate_core::client_token())
            .dns_config(dns)
            .health_check_custom_config(HealthCheckCustomConfig::builder().build())
            .set_tags(Some(tags))
            .send()
            .await
            .context(&id, "CreateService")?;
        let s = out
            .service()
            .ok_or_else(|| missing(&id, "CreateService", "Service"))?;
        Ok(ObservedService {
            id: s
                .id()
                .ok_or_else(|| missing(&id, "CreateService", "Id"))?
                .to_string(),
            arn: s
                .arn()
                .ok_or_else(|| missing(&id, "CreateService", "Arn"))?
                .to_string(),
            fields: self.desired_fields(),
        })
    }

    #[tracing::instrument(skip_all, fields(resource = %service_resource(&self.namespace, &self.app)))]
    async fn update(
        &self,
        c: &Clients,
        ctx: &StepContext,
        observed: &ObservedService,
    ) -> Result<(), Error> {
        let id = service_resource(&self.namespace, &self.app);
        let change = ServiceChange::builder()
            .dns_config(
                DnsConfigChange::builder()
                    .set_dns_records(Some(self.dns_records()?))
                    .build()
                    .map_err(|e| crate::aws_util::bad_request(&id, "UpdateService", e))?,
            )
            .build();
        let out = c
            .discovery
            .update_service()
            .id(&observed.id)
            .service(change)
            .send()
            .await
            .context(&id, "UpdateService")?;
        if let Some(op) = out.operation_id() {
            wait_operation(c, ctx, &id, op, "SERVICE").await?;
        }
        Ok(())
    }
}

/// A Cloud Map service as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedService {
    id: String,
    arn: String,
    fields: Fields,
}

impl Kind<Clients> for DiscoveryServiceSpec {
    type Observed = ObservedService;

    fn id(&self) -> ResourceId {
        service_resource(&self.namespace, &self.app)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![namespace_resource(&self.namespace)]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedService>, Error>> {
        Box::pin(async move {
            // A namespace still to be created has no services.
            // The namespace's id as the plan knows it; when the namespace is not in this
            // plan (destroying apps only), this environment's namespace of that name. A
            // namespace still to be created has no services.
            let ns = match round.output(&namespace_id(&self.namespace)).await {
                Some(ns) => Some(ns),
                None => {
                    let env = &self.ownership.environment;
                    let lookup = NamespaceSpec::new(
                        env,
                        self.namespace.clone(),
                        Ref::Known(String::new()),
                        None,
                        Tags::new(),
                    );
                    round
                        .observe_once(&lookup_key(&self.namespace, env), || lookup.find(clients))
                        .await?
                        .as_ref()
                        .as_ref()
                        .map(|n| n.id.clone())
                }
            };
            match ns {
                Some(ns) => self.find(clients, &ns).await,
                None => Ok(None),
            }
        })
    }

    fn diff(&self, observed: Option<&ObservedService>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &self.desired_fields(),
            observed.map(|o| &o.fields),
            &["dns.routing_policy"],
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedService>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(&registry_arn(&self.namespace, &self.app), &o.arn)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedService>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let arn = match (change, observed) {
                (Change::NoOp, Some(o)) => o.arn.clone(),
                (Change::Update { .. }, Some(o)) => {
                    self.update(clients, ctx, o).await?;
                    o.arn.clone()
                }
                (Change::Replace { .. }, Some(o)) => {
                    self.destroy(clients, ctx, o).await?;
                    self.create(clients, ctx).await?.arn
                }
                _ => self.create(clients, ctx).await?.arn,
            };
            ctx.set(&registry_arn(&self.namespace, &self.app), arn);
            ctx.set(&dns_name(&self.namespace, &self.app), self.dns_name());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedService,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = service_resource(&self.namespace, &self.app);
            // ECS deregisters a deleted service's tasks shortly after: until then the
            // Cloud Map service is in use.
            let in_use = |e: &Error| e.aws_code() == Some("ResourceInUse");
            retry_eventual(ctx, IN_USE_POLL, in_use, || async {
                match clients
                    .discovery
                    .delete_service()
                    .id(&observed.id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e)
                        if fargate_core::error::sdk_error_code(&e) == Some("ServiceNotFound") =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(Error::from_sdk(&id, "DeleteService", e)),
                }
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_validated_naming_the_field() {
        for ok in ["internal", "prod.internal", "a-b.c1"] {
            assert!(ok.parse::<DnsName>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Prod.internal",
            "a..b",
            "-a.b",
            "a-.b",
            "a_b",
            &"a".repeat(64),
        ] {
            let e = bad.parse::<DnsName>().unwrap_err();
            assert_eq!(e.field, "private_namespace", "{bad}");
        }
    }

    #[test]
    fn observed_records_compare_equal_to_the_desired_ones() {
        let spec = DiscoveryServiceSpec::new(
            &"prod".parse().unwrap(),
            &"api".parse().unwrap(),
            "prod.internal".parse().unwrap(),
            Tags::new(),
        );
        let dns = DnsConfig::builder()
            .routing_policy(RoutingPolicy::Multivalue)
            .dns_records(
                DnsRecord::builder()
                    .r#type(RecordType::A)
                    .ttl(10)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let observed = DiscoveryServiceSpec::observed_fields(Some(&dns));
        assert!(observed.diff(&spec.desired_fields()).is_empty());
        assert_eq!(spec.dns_name(), "api.prod.internal");
    }
}
