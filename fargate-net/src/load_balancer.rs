//! Application and network load balancers: created per environment and
//! shared by its apps ([`LoadBalancerSpec`]), or adopted as they are
//! ([`AdoptedLoadBalancer`]).
//!
//! A managed load balancer is found by its derived name
//! (`DescribeLoadBalancers(Names)`), then its ownership tags are verified.
//! Creating publishes the ARN, DNS name and hosted zone id right away:
//! listeners may be created while AWS is still provisioning the load balancer,
//! so the step does not wait for `active` unless asked
//! ([`LoadBalancerSpec::wait_until_active`]). The idle timeout and deletion
//! protection are changed in place; a change of type or scheme replaces the
//! load balancer (deleted, then created again under the same name). Destroy
//! deletes it and waits until it is gone, so its security groups can be
//! deleted next.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until};
use fargate_core::{
    AwsResultExt, Change, Created, ElbName, Error, Fields, Ident, InvalidValue, Kind, Mode,
    OutputKey, PlanValues, Ref, Resolved, ResourceId, Round, StepContext, Tags, create_or_existing,
};

use crate::NetClients;
use crate::elb::{
    defer_unknown, ensure_elb_owned, resolved_ref, set_ref_list, sorted, tags_by_arn, unless_absent,
};
use crate::tagging::elb_tags;

/// The resource kind of load balancers in plans.
pub const KIND: &str = "elbv2:load-balancer";

const IDLE_TIMEOUT_KEY: &str = "idle_timeout.timeout_seconds";
const DELETION_PROTECTION_KEY: &str = "deletion_protection.enabled";
/// The ALB idle timeout AWS uses when none is set.
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u32 = 60;
/// A new load balancer is active after a minute or three: check after 2 s, 4 s, 8 s, then
/// every 10 s (it is on the critical path of an apply: seen at most 10 s late).
const ACTIVE_WAIT: Poll = Poll::new(Duration::from_secs(600), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));
/// A deleted load balancer is gone within seconds to a minute: the same schedule.
const GONE_WAIT: Poll = Poll::new(Duration::from_secs(600), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));

/// Application (HTTP, layer 7) or network (TCP, layer 4) load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancerKind {
    /// An Application Load Balancer.
    Application,
    /// A Network Load Balancer.
    Network,
}

impl LoadBalancerKind {
    /// The API's name: `application` or `network`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancerKind::Application => "application",
            LoadBalancerKind::Network => "network",
        }
    }
}

/// Whether a load balancer is reachable from the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Public: a DNS name resolving to public addresses.
    InternetFacing,
    /// Private to the VPC.
    Internal,
}

impl Scheme {
    /// The API's name: `internet-facing` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

/// The output keys of a load balancer (managed or adopted): its ARN, DNS name
/// and Route 53 hosted zone id (for alias records).
#[derive(Debug, Clone)]
pub struct LoadBalancerOutputs {
    /// The load balancer ARN.
    pub arn: OutputKey<String>,
    /// The DNS name.
    pub dns_name: OutputKey<String>,
    /// The canonical hosted zone id.
    pub canonical_hosted_zone_id: OutputKey<String>,
}

impl LoadBalancerOutputs {
    /// The output keys of the load balancer resource `id`.
    pub fn of(id: &ResourceId) -> Self {
        Self {
            arn: id.output("arn"),
            dns_name: id.output("dns_name"),
            canonical_hosted_zone_id: id.output("canonical_hosted_zone_id"),
        }
    }

    /// The outputs of an existing load balancer, known at plan time.
    fn at_plan(&self, lb: &ObservedLoadBalancer) -> PlanValues {
        PlanValues::new()
            .with(&self.arn, &lb.arn)
            .with(&self.dns_name, &lb.dns_name)
            .with(&self.canonical_hosted_zone_id, &lb.hosted_zone_id)
    }

    fn publish(&self, ctx: &StepContext, lb: &ObservedLoadBalancer) {
        ctx.set(&self.arn, lb.arn.clone());
        ctx.set(&self.dns_name, lb.dns_name.clone());
        ctx.set(&self.canonical_hosted_zone_id, lb.hosted_zone_id.clone());
    }
}

/// The identity of the load balancer resource `label` (for example `alb`) of an environment.
pub fn load_balancer_id(env: &Ident, label: &str) -> ResourceId {
    ResourceId::new(KIND, format!("{env}/{label}"))
}

/// How dependents (listeners, target group clean-up) find a load balancer: its
/// ARN when apply runs, and at plan time the ARN if known or else its name.
#[derive(Debug, Clone)]
pub struct LoadBalancerRef {
    /// The resource that provides the load balancer (a dependency of its users).
    pub id: ResourceId,
    /// Its ARN.
    pub arn: Ref<String>,
    /// Its name, to look it up at plan time when the ARN is produced during apply.
    pub name: Option<ElbName>,
}

impl LoadBalancerRef {
    /// The load balancer's ARN as it is now, if it exists (read-only): known, or published
    /// at plan time by the load balancer resource when it is in the same plan (no call), or
    /// else looked up by name (a look-up the load balancer resource of the same plan shares:
    /// no second call).
    ///
    /// Its dependents' diffs tell a load balancer this apply creates or replaces
    /// (`elb::is_new`): what this finds of it now is then not what they will meet.
    ///
    /// # Errors
    /// DescribeLoadBalancers failed.
    pub async fn observe_arn(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
    ) -> Result<Option<String>, Error> {
        if let Some(arn) = round.get_ref(&self.arn).await {
            return Ok(Some(arn));
        }
        let Some(name) = &self.name else {
            return Ok(None);
        };
        Ok(describe_by_name_shared(elb, round, &self.id, name.as_str())
            .await?
            .and_then(|lb| lb.load_balancer_arn().map(str::to_string)))
    }
}

/// A load balancer fargate-rs creates and owns, shared by an environment's apps.
///
/// ```
/// use fargate_core::{Ownership, Ref};
/// use fargate_net::load_balancer::{LoadBalancerSpec, Scheme};
///
/// let env: fargate_core::Ident = "prod".parse()?;
/// let alb = LoadBalancerSpec::application(
///     &env,
///     Scheme::InternetFacing,
///     Ref::Known(vec!["subnet-a".into(), "subnet-b".into()]),
///     Ref::Known(vec!["sg-alb".into()]),
///     Ownership::new(env.clone()).with_component("alb"),
/// )?
/// .idle_timeout(120)?;
/// assert_eq!(alb.name().as_str(), "prod-alb");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoadBalancerSpec {
    id: ResourceId,
    name: ElbName,
    kind: LoadBalancerKind,
    scheme: Scheme,
    subnets: Ref<Vec<String>>,
    security_groups: Ref<Vec<String>>,
    idle_timeout_seconds: u32,
    deletion_protection: bool,
    wait_until_active: bool,
    depends_on: Vec<ResourceId>,
    owner: Ownership,
    tags: Tags,
}

impl LoadBalancerSpec {
    /// A load balancer named `ElbName::derive(&[env, label])`.
    ///
    /// # Errors
    /// [`InvalidValue`] when the subnets are known and fewer than an ALB needs
    /// (two, in different Availability Zones) or none for an NLB.
    pub fn new(
        env: &Ident,
        label: &str,
        kind: LoadBalancerKind,
        scheme: Scheme,
        subnets: Ref<Vec<String>>,
        security_groups: Ref<Vec<String>>,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        if let Some(s) = subnets.known() {
            let min = if kind == LoadBalancerKind::Application {
                2
            } else {
                1
            };
            if sorted(s).len() < min {
                return Err(InvalidValue::new(
                    "load_balancer.subnets",
                    s.join(","),
                    format!(
                        "an {} load balancer needs at least {min} subnet(s)",
                        kind.as_str()
                    ),
                    "subnet ids in at least two Availability Zones for an ALB, at least one for an NLB",
                ));
            }
        }
        Ok(Self {
            id: load_balancer_id(env, label),
            name: ElbName::derive(&[env.as_str(), label]),
            kind,
            scheme,
            subnets,
            security_groups,
            idle_timeout_seconds: DEFAULT_IDLE_TIMEOUT_SECONDS,
            deletion_protection: false,
            wait_until_active: false,
            depends_on: Vec::new(),
            owner,
            tags: Tags::new(),
        })
    }

    /// An Application Load Balancer labelled `alb` (internet-facing) or `alb-internal`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn application(
        env: &Ident,
        scheme: Scheme,
        subnets: Ref<Vec<String>>,
        security_groups: Ref<Vec<String>>,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        let label = match scheme {
            Scheme::InternetFacing => "alb",
            Scheme::Internal => "alb-internal",
        };
        Self::new(
            env,
            label,
            LoadBalancerKind::Application,
            scheme,
            subnets,
            security_groups,
            owner,
        )
    }

    /// An internal Network Load Balancer labelled `nlb` (what API Gateway's VPC link reaches).
    /// Its security groups are set at creation: an NLB created without any cannot get them later.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn internal_network(
        env: &Ident,
        subnets: Ref<Vec<String>>,
        security_groups: Ref<Vec<String>>,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        Self::new(
            env,
            "nlb",
            LoadBalancerKind::Network,
            Scheme::Internal,
            subnets,
            security_groups,
            owner,
        )
    }

    /// The ALB idle timeout (default 60 s).
    ///
    /// # Errors
    /// [`InvalidValue`] outside 1..=4000 seconds, or for a network load balancer.
    pub fn idle_timeout(mut self, seconds: u32) -> Result<Self, InvalidValue> {
        if self.kind != LoadBalancerKind::Application {
            return Err(InvalidValue::new(
                "load_balancer.idle_timeout",
                seconds.to_string(),
                "the idle timeout is an Application Load Balancer attribute",
                "no idle timeout for a network load balancer",
            ));
        }
        if !(1..=4000).contains(&seconds) {
            return Err(InvalidValue::new(
                "load_balancer.idle_timeout",
                seconds.to_string(),
                "out of range",
                "1 to 4000 seconds",
            ));
        }
        self.idle_timeout_seconds = seconds;
        Ok(self)
    }

    /// Turn deletion protection on or off (default off). While on, destroy fails and says so.
    #[must_use]
    pub fn deletion_protection(mut self, on: bool) -> Self {
        self.deletion_protection = on;
        self
    }

    /// Wait for the new load balancer to be `active` in its create step (default: don't;
    /// listeners can be created while it is provisioning).
    #[must_use]
    pub fn wait_until_active(mut self, wait: bool) -> Self {
        self.wait_until_active = wait;
        self
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// Resources that must exist first (for example the subnets and security groups).
    #[must_use]
    pub fn after(mut self, ids: impl IntoIterator<Item = ResourceId>) -> Self {
        self.depends_on.extend(ids);
        self
    }

    /// The load balancer's name.
    pub fn name(&self) -> &ElbName {
        &self.name
    }

    /// Its output keys.
    pub fn outputs(&self) -> LoadBalancerOutputs {
        LoadBalancerOutputs::of(&self.id)
    }

    /// How listeners and others refer to it.
    pub fn reference(&self) -> LoadBalancerRef {
        LoadBalancerRef {
            id: self.id.clone(),
            arn: Ref::Output(self.outputs().arn),
            name: Some(self.name.clone()),
        }
    }

    /// The managed fields as desired (pure). Subnets and security groups produced by other
    /// steps show as known after apply.
    pub fn desired_fields(&self) -> Fields {
        let mut f = Fields::new()
            .with("type", self.kind.as_str())
            .with("scheme", self.scheme.as_str())
            .with("deletion_protection", self.deletion_protection);
        set_ref_list(&mut f, "subnets", &self.subnets);
        set_ref_list(&mut f, "security_groups", &self.security_groups);
        if self.kind == LoadBalancerKind::Application {
            f.set("idle_timeout_seconds", self.idle_timeout_seconds);
        }
        f
    }

    /// The change from `observed` to this spec (pure). A network load balancer created
    /// without security groups must be replaced to get some.
    pub fn diff(&self, observed: Option<&ObservedLoadBalancer>) -> Change {
        let mut desired = self.desired_fields();
        let observed_fields = observed.map(ObservedLoadBalancer::fields);
        defer_unknown(
            &mut desired,
            observed_fields.as_ref(),
            &["subnets", "security_groups"],
        );
        let mut immutable = vec!["type", "scheme"];
        if self.kind == LoadBalancerKind::Network
            && observed.is_some_and(|o| o.security_groups.is_empty())
        {
            immutable.push("security_groups");
        }
        Change::compute(&desired, observed_fields.as_ref(), &immutable)
    }
}

/// A load balancer as AWS reports it, reduced to what fargate-rs manages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedLoadBalancer {
    /// ARN.
    pub arn: String,
    /// DNS name.
    pub dns_name: String,
    /// Canonical hosted zone id.
    pub hosted_zone_id: String,
    /// `application` or `network`.
    pub kind: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// Subnet ids, sorted.
    pub subnets: Vec<String>,
    /// Security group ids, sorted.
    pub security_groups: Vec<String>,
    /// The idle timeout (ALB), 60 when AWS does not say.
    pub idle_timeout_seconds: Option<u32>,
    /// Whether deletion protection is on.
    pub deletion_protection: bool,
}

impl ObservedLoadBalancer {
    /// Normalizes what DescribeLoadBalancers and DescribeLoadBalancerAttributes returned (pure).
    pub fn from_aws(lb: &LoadBalancer, attributes: &[LoadBalancerAttribute]) -> Self {
        let attr = |key: &str| {
            attributes
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value())
        };
        let kind = lb
            .r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        let idle_timeout_seconds = (kind == LoadBalancerKind::Application.as_str()).then(|| {
            attr(IDLE_TIMEOUT_KEY)
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECONDS)
        });
        let subnets: Vec<String> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect();
        Self {
            arn: lb.load_balancer_arn().unwrap_or_default().to_string(),
            dns_name: lb.dns_name().unwrap_or_default().to_string(),
            hosted_zone_id: lb
                .canonical_hosted_zone_id()
                .unwrap_or_default()
                .to_string(),
            kind,
            scheme: lb
                .scheme()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            subnets: sorted(&subnets),
            security_groups: sorted(lb.security_groups()),
            idle_timeout_seconds,
            deletion_protection: attr(DELETION_PROTECTION_KEY) == Some("true"),
        }
    }

    /// The managed fields as observed (pure).
    pub fn fields(&self) -> Fields {
        let mut f = Fields::new()
            .with("type", self.kind.clone())
            .with("scheme", self.scheme.clone())
            .with("deletion_protection", self.deletion_protection)
            .with("subnets", self.subnets.clone())
            .with("security_groups", self.security_groups.clone());
        if let Some(t) = self.idle_timeout_seconds {
            f.set("idle_timeout_seconds", t);
        }
        f
    }
}

/// The attribute changes that bring `observed` to `spec` (pure): only the keys that differ.
fn attribute_changes(
    spec: &LoadBalancerSpec,
    observed: &ObservedLoadBalancer,
) -> Vec<LoadBalancerAttribute> {
    let mut out = Vec::new();
    if spec.kind == LoadBalancerKind::Application
        && observed.idle_timeout_seconds != Some(spec.idle_timeout_seconds)
    {
        out.push(attribute(
            IDLE_TIMEOUT_KEY,
            spec.idle_timeout_seconds.to_string(),
        ));
    }
    if observed.deletion_protection != spec.deletion_protection {
        out.push(attribute(
            DELETION_PROTECTION_KEY,
            spec.deletion_protection.to_string(),
        ));
    }
    out
}

fn attribute(key: &str, value: String) -> LoadBalancerAttribute {
    LoadBalancerAttribute::builder()
        .key(key)
        .value(value)
        .build()
}

/// What went wrong with a load balancer, beyond a failed API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadBalancerError {
    /// Destroy or replace was refused because deletion protection is on.
    #[error(
        "load balancer {name} has deletion protection enabled; turn it off (LoadBalancerSpec::deletion_protection(false)) and apply, then destroy"
    )]
    DeletionProtected {
        /// The load balancer's name.
        name: String,
    },
    /// AWS could not provision the load balancer.
    #[error("load balancer {name} failed to provision: {reason}")]
    ProvisioningFailed {
        /// The load balancer's name.
        name: String,
        /// AWS's reason.
        reason: String,
    },
}

/// Looks a load balancer up by name; `None` when there is none.
#[tracing::instrument(skip_all, fields(resource = %id))]
pub(crate) async fn describe_by_name(
    elb: &ElbClient,
    id: &ResourceId,
    name: &str,
) -> Result<Option<LoadBalancer>, Error> {
    let out = elb.describe_load_balancers().names(name).send().await;
    Ok(unless_absent(out, id, "DescribeLoadBalancers", |e| {
        e.is_load_balancer_not_found_exception()
    })?
    .and_then(|out| out.load_balancers().first().cloned()))
}

/// [`describe_by_name`] once per plan: the load balancer resource and the listeners, rules
/// and clean-ups that find it by name share one DescribeLoadBalancers.
async fn describe_by_name_shared(
    elb: &ElbClient,
    round: &Round<'_>,
    id: &ResourceId,
    name: &str,
) -> Result<Option<LoadBalancer>, Error> {
    let found = round
        .observe_once(&format!("{KIND}:by-name:{name}"), || {
            describe_by_name(elb, id, name)
        })
        .await?;
    Ok(found.as_ref().clone())
}

/// Looks a load balancer up by ARN; `None` when there is none.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn describe_by_arn(
    elb: &ElbClient,
    id: &ResourceId,
    arn: &str,
) -> Result<Option<LoadBalancer>, Error> {
    let out = elb
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await;
    Ok(unless_absent(out, id, "DescribeLoadBalancers", |e| {
        e.is_load_balancer_not_found_exception()
    })?
    .and_then(|out| out.load_balancers().first().cloned()))
}

impl LoadBalancerSpec {
    /// Observes the load balancer by name (with a plan's round: the look-up its dependents
    /// share), checks it is ours and reads its attributes.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_lb(
        &self,
        elb: &ElbClient,
        round: Option<&Round<'_>>,
    ) -> Result<Option<ObservedLoadBalancer>, Error> {
        let found = match round {
            Some(round) => {
                describe_by_name_shared(elb, round, &self.id, self.name.as_str()).await?
            }
            None => describe_by_name(elb, &self.id, self.name.as_str()).await?,
        };
        let Some(lb) = found else {
            return Ok(None);
        };
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let arns = [arn.clone()];
        let (tags, attributes) = tokio::join!(
            tags_by_arn(elb, &self.id, &arns),
            elb.describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
        );
        let tags = tags?;
        ensure_elb_owned(
            &self.owner,
            &self.id,
            &arn,
            tags.get(&arn).map(Vec::as_slice).unwrap_or_default(),
        )?;
        let attributes = attributes.context(&self.id, "DescribeLoadBalancerAttributes")?;
        Ok(Some(ObservedLoadBalancer::from_aws(
            &lb,
            attributes.attributes(),
        )))
    }

    /// Creates the load balancer, publishes its outputs, sets non-default attributes.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn create(&self, elb: &ElbClient, ctx: &StepContext) -> Result<(), Error> {
        let subnets = self.subnets.resolve(ctx)?;
        let security_groups = self.security_groups.resolve(ctx)?;
        let scheme = match self.scheme {
            Scheme::InternetFacing => LoadBalancerSchemeEnum::InternetFacing,
            Scheme::Internal => LoadBalancerSchemeEnum::Internal,
        };
        let kind = match self.kind {
            LoadBalancerKind::Application => LoadBalancerTypeEnum::Application,
            LoadBalancerKind::Network => LoadBalancerTypeEnum::Network,
        };
        let out = elb
            .create_load_balancer()
            .name(self.name.as_str())
            .r#type(kind)
            .scheme(scheme)
            .set_subnets(Some(subnets.clone()))
            .set_security_groups((!security_groups.is_empty()).then(|| security_groups.clone()))
            .set_tags(Some(elb_tags(&self.owner, &self.tags, self.name.as_str())))
            .send()
            .await;
        // A retried create whose first attempt was applied meets its own load balancer
        // (AWS answers with it; emulators say DuplicateLoadBalancerName).
        let found = || self.observe_lb(elb, None);
        let out = match create_or_existing(
            ctx,
            &self.id,
            "CreateLoadBalancer",
            out,
            |e| e.is_duplicate_load_balancer_name_exception(),
            found,
        )
        .await?
        {
            Created::New(out) => out,
            Created::Existing(observed) => {
                self.outputs().publish(ctx, &observed);
                self.converge(elb, ctx, &observed).await?;
                if self.wait_until_active {
                    self.wait_active(elb, ctx, &observed.arn).await?;
                }
                return Ok(());
            }
        };
        let lb = out
            .load_balancers()
            .first()
            .ok_or_else(|| Error::Unexpected {
                resource: self.id.clone(),
                operation: "CreateLoadBalancer".into(),
                detail: "no load balancer in the answer".into(),
            })?;
        // What the new load balancer is: what was asked, with AWS's default attributes.
        let created = ObservedLoadBalancer {
            arn: lb.load_balancer_arn().unwrap_or_default().to_string(),
            dns_name: lb.dns_name().unwrap_or_default().to_string(),
            hosted_zone_id: lb
                .canonical_hosted_zone_id()
                .unwrap_or_default()
                .to_string(),
            kind: self.kind.as_str().to_string(),
            scheme: self.scheme.as_str().to_string(),
            subnets: sorted(&subnets),
            security_groups: sorted(&security_groups),
            idle_timeout_seconds: (self.kind == LoadBalancerKind::Application)
                .then_some(DEFAULT_IDLE_TIMEOUT_SECONDS),
            deletion_protection: false,
        };
        // Dependents may proceed now: listeners can be created while it is provisioning.
        self.outputs().publish(ctx, &created);
        ctx.progress(format!("created load balancer {}", self.name));
        self.converge(elb, ctx, &created).await?;
        if self.wait_until_active {
            self.wait_active(elb, ctx, &created.arn).await?;
        }
        Ok(())
    }

    /// Brings an existing load balancer to the spec with the minimal calls: attributes,
    /// subnets and security groups only when they differ (subnets and security groups
    /// produced by other steps are compared here, once resolved).
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn converge(
        &self,
        elb: &ElbClient,
        ctx: &StepContext,
        observed: &ObservedLoadBalancer,
    ) -> Result<(), Error> {
        let changes = attribute_changes(self, observed);
        if !changes.is_empty() {
            elb.modify_load_balancer_attributes()
                .load_balancer_arn(&observed.arn)
                .set_attributes(Some(changes))
                .send()
                .await
                .context(&self.id, "ModifyLoadBalancerAttributes")?;
        }
        let subnets = self.subnets.resolve(ctx)?;
        if sorted(&subnets) != observed.subnets {
            elb.set_subnets()
                .load_balancer_arn(&observed.arn)
                .set_subnets(Some(subnets))
                .send()
                .await
                .context(&self.id, "SetSubnets")?;
        }
        let security_groups = self.security_groups.resolve(ctx)?;
        if sorted(&security_groups) != observed.security_groups {
            elb.set_security_groups()
                .load_balancer_arn(&observed.arn)
                .set_security_groups(Some(security_groups))
                .send()
                .await
                .context(&self.id, "SetSecurityGroups")?;
        }
        Ok(())
    }

    /// Polls until the load balancer is active (or impaired but serving).
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn wait_active(
        &self,
        elb: &ElbClient,
        ctx: &StepContext,
        arn: &str,
    ) -> Result<(), Error> {
        poll_until(
            ctx,
            &self.id,
            "load balancer to be active",
            ACTIVE_WAIT,
            || async {
                let Some(lb) = describe_by_arn(elb, &self.id, arn).await? else {
                    return Ok(None);
                };
                let state = lb.state();
                match state.and_then(|s| s.code()) {
                    Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired) => {
                        Ok(Some(()))
                    }
                    Some(LoadBalancerStateEnum::Failed) => Err(Error::Failed {
                        resource: self.id.clone(),
                        source: Box::new(LoadBalancerError::ProvisioningFailed {
                            name: self.name.to_string(),
                            reason: state
                                .and_then(|s| s.reason())
                                .unwrap_or("no reason given")
                                .to_string(),
                        }),
                    }),
                    _ => Ok(None),
                }
            },
        )
        .await
    }
}

/// Deletes a load balancer and waits until DescribeLoadBalancers no longer finds it
/// (its security groups can only be deleted after that).
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn delete_and_wait(
    elb: &ElbClient,
    ctx: &StepContext,
    id: &ResourceId,
    name: &str,
    arn: &str,
) -> Result<(), Error> {
    let out = elb
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await;
    if let Err(e) = &out
        && e.as_service_error()
            .is_some_and(|s| s.is_operation_not_permitted_exception())
    {
        return Err(Error::Failed {
            resource: id.clone(),
            source: Box::new(LoadBalancerError::DeletionProtected {
                name: name.to_string(),
            }),
        });
    }
    if unless_absent(out, id, "DeleteLoadBalancer", |e| {
        e.is_load_balancer_not_found_exception()
    })?
    .is_none()
    {
        return Ok(());
    }
    ctx.progress(format!("deleted load balancer {name}"));
    poll_until(
        ctx,
        id,
        "load balancer to be deleted",
        GONE_WAIT,
        || async { Ok(describe_by_arn(elb, id, arn).await?.is_none().then_some(())) },
    )
    .await
}

impl<C> Kind<C> for LoadBalancerSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedLoadBalancer;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.depends_on.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedLoadBalancer>, Error>> {
        Box::pin(self.observe_lb(&clients.as_ref().elb, Some(round)))
    }

    fn diff(
        &self,
        observed: Option<&ObservedLoadBalancer>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        Ok(self.resolved(resolved).diff(observed))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedLoadBalancer>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        // An existing load balancer keeps its ARN: dependents may plan against it.
        match observed {
            Some(lb) if !matches!(change, Change::Replace { .. }) => self.outputs().at_plan(lb),
            _ => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedLoadBalancer>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let elb = &clients.as_ref().elb;
            match observed {
                Some(observed) if matches!(change, Change::Replace { .. }) => {
                    delete_and_wait(elb, ctx, &self.id, self.name.as_str(), &observed.arn).await?;
                    self.create(elb, ctx).await
                }
                Some(observed) => {
                    self.outputs().publish(ctx, observed);
                    self.converge(elb, ctx, observed).await
                }
                None => self.create(elb, ctx).await,
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedLoadBalancer,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(delete_and_wait(
            &clients.as_ref().elb,
            ctx,
            &self.id,
            self.name.as_str(),
            &observed.arn,
        ))
    }
}

impl LoadBalancerSpec {
    /// This spec with the subnets and security groups its dependencies' plans know (pure).
    fn resolved(&self, resolved: &Resolved) -> Self {
        let mut spec = self.clone();
        spec.subnets = resolved_ref(&self.subnets, resolved);
        spec.security_groups = resolved_ref(&self.security_groups, resolved);
        spec
    }
}

/// How an existing load balancer is named for adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AdoptBy {
    Arn(String),
    Name(String),
}

/// An existing load balancer used as it is: found by ARN or name, never modified or
/// deleted (not even by destroy). Its outputs have the same keys as a managed one's.
#[derive(Debug, Clone)]
pub struct AdoptedLoadBalancer {
    id: ResourceId,
    by: AdoptBy,
    /// The kind it must be, and the input field to name when it is not.
    expected: Option<(LoadBalancerKind, String)>,
}

impl AdoptedLoadBalancer {
    /// Adopt the load balancer with this ARN, as the environment's `label` load balancer.
    ///
    /// # Errors
    /// [`InvalidValue`] when `arn` is not a load balancer ARN
    /// (`arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app|net/<name>/<id>`).
    pub fn by_arn(env: &Ident, label: &str, arn: impl Into<String>) -> Result<Self, InvalidValue> {
        let arn = arn.into();
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let resource_ok = parts.get(5).is_some_and(|r| {
            let segs: Vec<&str> = r.split('/').collect();
            segs.len() == 4
                && segs.first() == Some(&"loadbalancer")
                && matches!(segs.get(1), Some(&"app") | Some(&"net"))
                && segs.iter().all(|s| !s.is_empty())
        });
        if parts.len() != 6
            || parts.first() != Some(&"arn")
            || parts.get(2) != Some(&"elasticloadbalancing")
            || !resource_ok
        {
            return Err(InvalidValue::new(
                "load_balancer.arn",
                arn,
                "not a load balancer ARN",
                "arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app|net/<name>/<id>",
            ));
        }
        Ok(Self {
            id: load_balancer_id(env, label),
            by: AdoptBy::Arn(arn),
            expected: None,
        })
    }

    /// The same adoption, refused at plan time (after one read, before any change) when the
    /// load balancer found is not of `kind`, with an [`InvalidValue`] naming `field`.
    ///
    /// The ARN names the kind (`loadbalancer/net/...`), but the check reads the type AWS
    /// reports (some emulators name every load balancer `loadbalancer/app/...`).
    ///
    /// ```
    /// use fargate_net::load_balancer::{AdoptedLoadBalancer, LoadBalancerKind};
    ///
    /// let env: fargate_core::Ident = "prod".parse()?;
    /// let nlb = AdoptedLoadBalancer::by_arn(
    ///     &env,
    ///     "nlb",
    ///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/shared/1",
    /// )?
    /// .of_kind(LoadBalancerKind::Network, "environment.adopt_nlb.load_balancer_arn");
    /// assert_eq!(nlb.reference().id.name, "prod/nlb");
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    pub fn of_kind(mut self, kind: LoadBalancerKind, field: impl Into<String>) -> Self {
        self.expected = Some((kind, field.into()));
        self
    }

    /// Adopt the load balancer with this name.
    ///
    /// # Errors
    /// [`InvalidValue`] when `name` is not a valid load balancer name.
    pub fn by_name(env: &Ident, label: &str, name: &str) -> Result<Self, InvalidValue> {
        let name: ElbName = name.parse()?;
        Ok(Self {
            id: load_balancer_id(env, label),
            by: AdoptBy::Name(name.to_string()),
            expected: None,
        })
    }

    /// Its output keys (the same as a managed load balancer with this identity).
    pub fn outputs(&self) -> LoadBalancerOutputs {
        LoadBalancerOutputs::of(&self.id)
    }

    /// How listeners and others refer to it.
    pub fn reference(&self) -> LoadBalancerRef {
        match &self.by {
            AdoptBy::Arn(arn) => LoadBalancerRef {
                id: self.id.clone(),
                arn: Ref::Known(arn.clone()),
                name: None,
            },
            AdoptBy::Name(name) => LoadBalancerRef {
                id: self.id.clone(),
                arn: Ref::Output(self.outputs().arn),
                name: name.parse().ok(),
            },
        }
    }
}

impl AdoptedLoadBalancer {
    /// The load balancer to adopt as it is now, refused when it is not of the expected kind.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_lb(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
    ) -> Result<Option<ObservedLoadBalancer>, Error> {
        let found = match &self.by {
            AdoptBy::Arn(arn) => describe_by_arn(elb, &self.id, arn).await?,
            AdoptBy::Name(name) => describe_by_name_shared(elb, round, &self.id, name).await?,
        };
        let Some(lb) = found else {
            return Ok(None);
        };
        let observed = ObservedLoadBalancer::from_aws(&lb, &[]);
        if let Some((kind, field)) = &self.expected
            && observed.kind != kind.as_str()
        {
            return Err(InvalidValue::new(
                field.clone(),
                &observed.arn,
                format!("a load balancer of type {}", observed.kind),
                format!("the ARN of a load balancer of type {}", kind.as_str()),
            )
            .into());
        }
        Ok(Some(observed))
    }
}

impl<C> Kind<C> for AdoptedLoadBalancer
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedLoadBalancer;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedLoadBalancer>, Error>> {
        Box::pin(self.observe_lb(&clients.as_ref().elb, round))
    }

    fn diff(&self, observed: Option<&ObservedLoadBalancer>, _: &Resolved) -> Result<Change, Error> {
        match observed {
            Some(lb) => Ok(Change::Adopt {
                detail: lb.arn.clone(),
            }),
            None => Err(Error::NotFound {
                resource: self.id.clone(),
                detail: format!("the load balancer to adopt ({:?}) does not exist", self.by),
            }),
        }
    }

    fn destroy_change(&self, observed: Option<&ObservedLoadBalancer>) -> Change {
        // Never deleted: destroy still publishes its outputs for its dependents.
        match observed {
            Some(lb) => Change::Adopt {
                detail: lb.arn.clone(),
            },
            None => Change::NoOp,
        }
    }

    fn outputs(
        &self,
        observed: Option<&ObservedLoadBalancer>,
        _: &Change,
        _: &Resolved,
    ) -> PlanValues {
        observed.map_or_else(PlanValues::new, |lb| self.outputs().at_plan(lb))
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedLoadBalancer>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(lb) = observed {
                self.outputs().publish(ctx, lb);
            }
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a ObservedLoadBalancer,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Adopted: never deleted (destroy_change never plans a Delete).
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elb::KNOWN_AFTER_APPLY;
    use aws_sdk_elasticloadbalancingv2::types::{AvailabilityZone, LoadBalancerState};

    fn env() -> Ident {
        "prod".parse().unwrap()
    }

    fn alb() -> LoadBalancerSpec {
        LoadBalancerSpec::application(
            &env(),
            Scheme::InternetFacing,
            Ref::Known(vec!["subnet-b".into(), "subnet-a".into()]),
            Ref::Known(vec!["sg-1".into()]),
            Ownership::new(env()).with_component("alb"),
        )
        .unwrap()
    }

    fn aws_alb(idle: &str) -> ObservedLoadBalancer {
        let lb = LoadBalancer::builder()
            .load_balancer_arn(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-alb/1",
            )
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .state(
                LoadBalancerState::builder()
                    .code(LoadBalancerStateEnum::Active)
                    .build(),
            )
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-a").build())
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-b").build())
            .security_groups("sg-1")
            .build();
        ObservedLoadBalancer::from_aws(&lb, &[attribute(IDLE_TIMEOUT_KEY, idle.into())])
    }

    #[test]
    fn unchanged_load_balancer_is_a_noop_whatever_the_subnet_order() {
        assert_eq!(alb().diff(Some(&aws_alb("60"))), Change::NoOp);
    }

    #[test]
    fn idle_timeout_change_is_an_update_of_that_field_only() {
        let change = alb().idle_timeout(120).unwrap().diff(Some(&aws_alb("60")));
        let Change::Update { diffs } = change else {
            panic!("{change:?}")
        };
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].field, "idle_timeout_seconds");
        let changes = attribute_changes(&alb().idle_timeout(120).unwrap(), &aws_alb("60"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key(), Some(IDLE_TIMEOUT_KEY));
    }

    #[test]
    fn scheme_change_is_a_replace() {
        let internal = LoadBalancerSpec::new(
            &env(),
            "alb",
            LoadBalancerKind::Application,
            Scheme::Internal,
            Ref::Known(vec!["subnet-a".into(), "subnet-b".into()]),
            Ref::Known(vec!["sg-1".into()]),
            Ownership::new(env()),
        )
        .unwrap();
        assert!(matches!(
            internal.diff(Some(&aws_alb("60"))),
            Change::Replace { .. }
        ));
    }

    #[test]
    fn unknown_subnets_do_not_show_as_a_change() {
        let spec = LoadBalancerSpec::application(
            &env(),
            Scheme::InternetFacing,
            Ref::Output(OutputKey::new("net#subnets")),
            Ref::Known(vec!["sg-1".into()]),
            Ownership::new(env()),
        )
        .unwrap();
        assert_eq!(spec.diff(Some(&aws_alb("60"))), Change::NoOp);
        let Change::Create { fields } = spec.diff(None) else {
            panic!()
        };
        let subnets = fields.iter().find(|f| f.field == "subnets").unwrap();
        assert_eq!(
            subnets.new,
            Some(serde_json::Value::from(KNOWN_AFTER_APPLY))
        );
    }

    #[test]
    fn invalid_input_is_refused_before_any_call() {
        let one_subnet = LoadBalancerSpec::application(
            &env(),
            Scheme::Internal,
            Ref::Known(vec!["subnet-a".into()]),
            Ref::Known(vec![]),
            Ownership::new(env()),
        );
        assert_eq!(one_subnet.unwrap_err().field, "load_balancer.subnets");
        assert_eq!(
            alb().idle_timeout(0).unwrap_err().field,
            "load_balancer.idle_timeout"
        );
        assert_eq!(
            alb().idle_timeout(4001).unwrap_err().field,
            "load_balancer.idle_timeout"
        );
        let nlb = LoadBalancerSpec::internal_network(
            &env(),
            Ref::Known(vec!["s".into()]),
            Ref::Known(vec![]),
            Ownership::new(env()),
        )
        .unwrap();
        assert!(nlb.idle_timeout(30).is_err());
        assert!(AdoptedLoadBalancer::by_arn(&env(), "alb", "arn:aws:s3:::bucket").is_err());
        assert!(
            AdoptedLoadBalancer::by_arn(
                &env(),
                "alb",
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shared/50dc6c495c0c9188"
            )
            .is_ok()
        );
    }

    #[test]
    fn nlb_without_security_groups_is_replaced_to_get_some() {
        let nlb = LoadBalancerSpec::internal_network(
            &env(),
            Ref::Known(vec!["subnet-a".into()]),
            Ref::Known(vec!["sg-nlb".into()]),
            Ownership::new(env()),
        )
        .unwrap();
        let observed = ObservedLoadBalancer {
            arn: "arn".into(),
            dns_name: String::new(),
            hosted_zone_id: String::new(),
            kind: "network".into(),
            scheme: "internal".into(),
            subnets: vec!["subnet-a".into()],
            security_groups: vec![],
            idle_timeout_seconds: None,
            deletion_protection: false,
        };
        assert!(matches!(nlb.diff(Some(&observed)), Change::Replace { .. }));
    }
}
