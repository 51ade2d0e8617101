//! ECS Express Mode: one Express gateway service per [`crate::apps::ExpressApp`].
//!
//! An Express service is an ECS service for which AWS makes and manages the rest: the task
//! definition, an Application Load Balancer with an HTTPS listener and its certificate, the
//! security groups, the autoscaling policy. fargate-rs gives it the image, the container's
//! port, command, environment and secrets, the task size, the health check path, the
//! scaling target, the subnets, the execution role, the task role and the infrastructure
//! role (the roles are the usual [`crate::iam`] kinds).
//!
//! [`ExpressServiceSpec`] is found again by its ARN, which follows from the account, the
//! region, the cluster and the service's name (`arn:<p>:ecs:<region>:<account>:service/
//! <cluster>/<name>`), so an apply that was killed after `CreateExpressGatewayService`
//! finds its service on the next plan. A service of that name without fargate-rs's tags is
//! refused ([`Error::NotOwned`]), never changed or deleted.
//!
//! Outputs: [`url`] (the HTTPS endpoint) and [`service_arn`].

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{
    AccessType, EcsExpressGatewayService, ExpressCpuArchitecture, ExpressGatewayContainer,
    ExpressGatewayScalingTarget, ExpressGatewayServiceAwsLogsConfiguration,
    ExpressGatewayServiceConfiguration, ExpressGatewayServiceInclude,
    ExpressGatewayServiceNetworkConfiguration, ExpressGatewayServiceScalingMetric,
    ExpressGatewayServiceStatusCode, KeyValuePair, Secret, Tag,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until};
use fargate_core::{
    Architecture, AwsResultExt, Change, EcsName, Error, Fields, IamRoleName, Ident, ImageRef,
    InvalidValue, Kind, LogGroupName, Mode, PlanValues, Port, Ref, Resolved, ResourceId, Round,
    SecretRef, StepContext, Tags, TaskSize,
};
use serde_json::{Value, json};

use crate::Clients;
use crate::aws_util::{bad_request, creation_tags, ensure_owned, missing};
use crate::iam::role_arn;
use crate::service::KNOWN_AFTER_APPLY;

/// The resource kind of Express gateway services in plans.
pub const KIND: &str = "ecs:express-service";

/// The health check path AWS uses when none is given.
pub const DEFAULT_HEALTH_CHECK_PATH: &str = "/ping";

/// How long apply waits for a deployment to finish, and destroy for the service to go.
const READY_POLL: Poll = Poll::new(Duration::from_secs(1200), Duration::from_secs(5))
    .with_max_interval(Duration::from_secs(20));

/// The metric the service's tasks are scaled on.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ScalingMetric {
    /// Average CPU utilization of the tasks, in percent (the default).
    #[default]
    Cpu,
    /// Average memory utilization of the tasks, in percent.
    Memory,
    /// Requests per task and minute, counted by the load balancer.
    RequestsPerTarget,
}

impl ScalingMetric {
    /// The API's name of the metric.
    pub fn as_api(self) -> &'static str {
        match self {
            ScalingMetric::Cpu => "AVERAGE_CPU",
            ScalingMetric::Memory => "AVERAGE_MEMORY",
            ScalingMetric::RequestsPerTarget => "REQUEST_COUNT_PER_TARGET",
        }
    }

    fn sdk(self) -> ExpressGatewayServiceScalingMetric {
        ExpressGatewayServiceScalingMetric::from(self.as_api())
    }
}

/// How many tasks run and what they scale on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpressScaling {
    /// The fewest tasks.
    pub min_tasks: u32,
    /// The most tasks.
    pub max_tasks: u32,
    /// The metric.
    pub metric: ScalingMetric,
    /// The metric's target value.
    pub target: u32,
}

impl ExpressScaling {
    /// Check the bounds for app `app` (fields `<app>.min_tasks`, `<app>.max_tasks`,
    /// `<app>.scaling_target`).
    ///
    /// # Errors
    /// The first invalid field.
    pub fn validate(&self, app: &str) -> Result<(), InvalidValue> {
        if self.min_tasks == 0 || self.min_tasks > 10_000 {
            return Err(InvalidValue::new(
                format!("{app}.min_tasks"),
                self.min_tasks.to_string(),
                "an Express service runs at least one task",
                "1 to 10000",
            ));
        }
        if self.max_tasks < self.min_tasks || self.max_tasks > 10_000 {
            return Err(InvalidValue::new(
                format!("{app}.max_tasks"),
                self.max_tasks.to_string(),
                "fewer than min_tasks, or too many",
                format!("{} to 10000", self.min_tasks),
            ));
        }
        let (low, high, allowed) = match self.metric {
            ScalingMetric::Cpu | ScalingMetric::Memory => (1, 100, "a percentage from 1 to 100"),
            ScalingMetric::RequestsPerTarget => {
                (1, 1_000_000, "requests per task from 1 to 1000000")
            }
        };
        if !(low..=high).contains(&self.target) {
            return Err(InvalidValue::new(
                format!("{app}.scaling_target"),
                self.target.to_string(),
                "out of range for the scaling metric",
                allowed,
            ));
        }
        Ok(())
    }
}

/// The identity of the Express service `name` in cluster `cluster`.
pub fn service_resource(cluster: &EcsName, name: &EcsName) -> ResourceId {
    ResourceId::new(KIND, format!("{cluster}/{name}"))
}

/// Output: the service's HTTPS endpoint (`https://…`).
pub fn url(cluster: &EcsName, name: &EcsName) -> OutputKey<String> {
    service_resource(cluster, name).output("url")
}

/// Output: the service's ARN.
pub fn service_arn(cluster: &EcsName, name: &EcsName) -> OutputKey<String> {
    service_resource(cluster, name).output("arn")
}

/// The name of a role in its ARN (`arn:…:role/<path>/<name>` → `<name>`).
fn role_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The endpoint of a configuration as a URL: the public one when there is one.
fn endpoint_of(config: &ExpressGatewayServiceConfiguration) -> Option<String> {
    let paths = config.ingress_paths();
    let path = paths
        .iter()
        .find(|p| p.access_type() == &AccessType::Public)
        .or_else(|| paths.first())?;
    let e = path.endpoint();
    Some(if e.starts_with("http://") || e.starts_with("https://") {
        e.to_string()
    } else {
        format!("https://{e}")
    })
}

/// The configuration in effect: the newest of the active ones.
fn newest(service: &EcsExpressGatewayService) -> Option<&ExpressGatewayServiceConfiguration> {
    service
        .active_configurations()
        .iter()
        .max_by_key(|c| c.created_at().map(|t| (t.secs(), t.subsec_nanos())))
}

/// One app's Express gateway service.
#[derive(Clone)]
pub struct ExpressServiceSpec {
    cluster: EcsName,
    name: EcsName,
    ownership: Ownership,
    tags: Tags,
    image: ImageRef,
    port: Port,
    command: Vec<String>,
    environment: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretRef>,
    log_group: LogGroupName,
    log_stream_prefix: String,
    size: TaskSize,
    architecture: Architecture,
    health_check_path: String,
    scaling: ExpressScaling,
    execution_role: IamRoleName,
    task_role: Option<IamRoleName>,
    infrastructure_role: IamRoleName,
    subnets: Ref<Vec<String>>,
    after: Vec<ResourceId>,
}

crate::apps::common::debug_redacting_env!(ExpressServiceSpec {
    cluster,
    name,
    ownership,
    tags,
    image,
    port,
    command,
    secrets,
    log_group,
    log_stream_prefix,
    size,
    architecture,
    health_check_path,
    scaling,
    execution_role,
    task_role,
    infrastructure_role,
    subnets,
    after,
} env { environment });

/// The container part of an [`ExpressServiceSpec`]: what runs and how it logs.
#[derive(Clone)]
pub struct ExpressContainer {
    /// The image.
    pub image: ImageRef,
    /// The port the load balancer sends traffic to.
    pub port: Port,
    /// Command override (empty: the image's).
    pub command: Vec<String>,
    /// Plain environment variables.
    pub environment: BTreeMap<String, String>,
    /// Secrets by reference.
    pub secrets: BTreeMap<String, SecretRef>,
    /// The log group the container logs to (`awslogs`), with the stream prefix.
    pub logs: (LogGroupName, String),
}

crate::apps::common::debug_redacting_env!(ExpressContainer {
    image,
    port,
    command,
    secrets,
    logs,
} env { environment });

/// The roles of an [`ExpressServiceSpec`], by name (their ARNs are read from the role kinds'
/// outputs at apply time).
#[derive(Debug, Clone)]
pub struct ExpressRoles {
    /// The task execution role.
    pub execution: IamRoleName,
    /// The task role, if the app has one.
    pub task: Option<IamRoleName>,
    /// The infrastructure role ECS uses to manage the load balancer, security groups and
    /// scaling.
    pub infrastructure: IamRoleName,
}

/// What an [`ExpressServiceSpec`] is made from.
#[derive(Debug, Clone)]
pub struct ExpressServiceParts {
    /// The environment's cluster.
    pub cluster: EcsName,
    /// The service's name.
    pub name: EcsName,
    /// Who owns it.
    pub ownership: Ownership,
    /// User tags.
    pub tags: Tags,
    /// The container.
    pub container: ExpressContainer,
    /// CPU and memory.
    pub size: TaskSize,
    /// CPU architecture.
    pub architecture: Architecture,
    /// The load balancer's health check path.
    pub health_check_path: String,
    /// Scaling.
    pub scaling: ExpressScaling,
    /// The roles.
    pub roles: ExpressRoles,
    /// The subnets of the tasks.
    pub subnets: Ref<Vec<String>>,
    /// The resources that must exist first (cluster, roles, log group, network).
    pub after: Vec<ResourceId>,
}

impl ExpressServiceSpec {
    /// The service made of `parts`.
    pub fn new(parts: ExpressServiceParts) -> Self {
        let ExpressServiceParts {
            cluster,
            name,
            ownership,
            tags,
            container,
            size,
            architecture,
            health_check_path,
            scaling,
            roles,
            subnets,
            after,
        } = parts;
        Self {
            cluster,
            name,
            ownership,
            tags,
            image: container.image,
            port: container.port,
            command: container.command,
            environment: container.environment,
            secrets: container.secrets,
            log_group: container.logs.0,
            log_stream_prefix: container.logs.1,
            size,
            architecture,
            health_check_path,
            scaling,
            execution_role: roles.execution,
            task_role: roles.task,
            infrastructure_role: roles.infrastructure,
            subnets,
            after,
        }
    }

    /// The service's name.
    pub fn name(&self) -> &EcsName {
        &self.name
    }

    /// Output: the HTTPS endpoint.
    pub fn url(&self) -> OutputKey<String> {
        url(&self.cluster, &self.name)
    }

    /// Output: the service ARN.
    pub fn arn(&self) -> OutputKey<String> {
        service_arn(&self.cluster, &self.name)
    }

    fn rid(&self) -> ResourceId {
        service_resource(&self.cluster, &self.name)
    }

    /// The ARN the service has (or will have) in `clients`' account and region.
    fn expected_arn(&self, clients: &Clients) -> String {
        clients
            .aws
            .arn("ecs", &format!("service/{}/{}", self.cluster, self.name))
    }

    /// The fields fargate-rs manages, as desired; `subnets` as the plan knows them.
    fn desired_fields(&self, subnets: Option<Vec<String>>) -> Fields {
        let mut f = Fields::new()
            .with("image", self.image.to_string())
            .with("container_port", self.port.get())
            .with("command", self.command.clone())
            .with(
                "logs",
                format!("{} prefix={}", self.log_group, self.log_stream_prefix),
            )
            .with("cpu", self.size.cpu())
            .with("memory", self.size.memory_mib())
            .with("architecture", self.architecture.as_str())
            .with("health_check_path", self.health_check_path.as_str())
            .with("scaling.min_tasks", self.scaling.min_tasks)
            .with("scaling.max_tasks", self.scaling.max_tasks)
            .with("scaling.metric", self.scaling.metric.as_api())
            .with("scaling.target", self.scaling.target)
            .with("execution_role", self.execution_role.as_str())
            .with(
                "task_role",
                self.task_role.as_ref().map(|r| r.as_str().to_string()),
            )
            .with("infrastructure_role", self.infrastructure_role.as_str());
        f = match subnets {
            Some(s) => f.with_set("subnets", s),
            None => f.with("subnets", KNOWN_AFTER_APPLY),
        };
        for (k, v) in &self.environment {
            let field = format!("environment.{k}");
            f = if fargate_core::redact::is_sensitive(k, v) {
                f.with_sensitive(field, v.as_str())
            } else {
                f.with(field, v.as_str())
            };
        }
        for (k, s) in &self.secrets {
            f = f.with(format!("secrets.{k}"), s.value_from());
        }
        f
    }

    /// The managed fields of a service as ECS reports it (pure, normalized: AWS's
    /// defaults for what is unset).
    fn observed_fields(
        service: &EcsExpressGatewayService,
        config: Option<&ExpressGatewayServiceConfiguration>,
    ) -> Fields {
        let container = config.and_then(|c| c.primary_container());
        let scaling = config.and_then(|c| c.scaling_target());
        let number = |s: Option<&str>| -> Value {
            match s.and_then(|s| s.parse::<u32>().ok()) {
                Some(n) => json!(n),
                None => json!(s),
            }
        };
        let mut f = Fields::new()
            .with("image", container.map(|c| c.image().to_string()))
            .with(
                "container_port",
                container.and_then(|c| c.container_port()).unwrap_or(80),
            )
            .with(
                "command",
                container.map(|c| c.command().to_vec()).unwrap_or_default(),
            )
            .with(
                "logs",
                container
                    .and_then(|c| c.aws_logs_configuration())
                    .map(|l| format!("{} prefix={}", l.log_group(), l.log_stream_prefix())),
            )
            .with("cpu", number(config.and_then(|c| c.cpu())))
            .with("memory", number(config.and_then(|c| c.memory())))
            .with(
                "architecture",
                config
                    .and_then(|c| c.cpu_architecture())
                    .map(|a| a.as_str())
                    .unwrap_or("X86_64"),
            )
            .with(
                "health_check_path",
                config
                    .and_then(|c| c.health_check_path())
                    .unwrap_or(DEFAULT_HEALTH_CHECK_PATH),
            )
            .with(
                "scaling.min_tasks",
                scaling.and_then(|s| s.min_task_count()),
            )
            .with(
                "scaling.max_tasks",
                scaling.and_then(|s| s.max_task_count()),
            )
            .with(
                "scaling.metric",
                scaling
                    .and_then(|s| s.auto_scaling_metric())
                    .map(|m| m.as_str())
                    .unwrap_or("AVERAGE_CPU"),
            )
            .with(
                "scaling.target",
                scaling
                    .and_then(|s| s.auto_scaling_target_value())
                    .unwrap_or(60),
            )
            .with(
                "execution_role",
                config
                    .and_then(|c| c.execution_role_arn())
                    .map(role_name_of),
            )
            .with(
                "task_role",
                config
                    .and_then(|c| c.task_role_arn())
                    .map(|a| role_name_of(a).to_string()),
            )
            .with(
                "infrastructure_role",
                service.infrastructure_role_arn().map(role_name_of),
            )
            .with_set(
                "subnets",
                config
                    .and_then(|c| c.network_configuration())
                    .map(|n| n.subnets().to_vec())
                    .unwrap_or_default(),
            );
        for kv in container.map(|c| c.environment()).unwrap_or_default() {
            let (Some(k), Some(v)) = (kv.name(), kv.value()) else {
                continue;
            };
            let field = format!("environment.{k}");
            f = if fargate_core::redact::is_sensitive(k, v) {
                f.with_sensitive(field, v)
            } else {
                f.with(field, v)
            };
        }
        for s in container.map(|c| c.secrets()).unwrap_or_default() {
            f = f.with(format!("secrets.{}", s.name()), s.value_from());
        }
        f
    }

    /// Read the service by its ARN (with its tags): `None` when there is none, or only a
    /// deleted one.
    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn find(&self, c: &Clients) -> Result<Option<ObservedExpress>, Error> {
        let id = self.rid();
        let arn = self.expected_arn(c);
        let out = crate::aws_util::absent_on(
            c.ecs
                .describe_express_gateway_service()
                .service_arn(&arn)
                .include(ExpressGatewayServiceInclude::Tags)
                .send()
                .await,
            &[
                "ResourceNotFoundException",
                "ServiceNotFoundException",
                "ClusterNotFoundException",
            ],
            &id,
            "DescribeExpressGatewayService",
        )?;
        let Some(service) = out.as_ref().and_then(|o| o.service()) else {
            return Ok(None);
        };
        let status = service.status().and_then(|s| s.status_code());
        if status == Some(&ExpressGatewayServiceStatusCode::Inactive) {
            return Ok(None);
        }
        let found_arn = service.service_arn().unwrap_or(&arn).to_string();
        ensure_owned(
            &self.ownership,
            &id,
            &format!("Express service {found_arn}"),
            service
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
        )?;
        let config = newest(service);
        Ok(Some(ObservedExpress::of(
            found_arn,
            status.map(|s| s.as_str().to_string()),
            service,
            config,
        )))
    }

    fn sdk_container(&self, id: &ResourceId, op: &str) -> Result<ExpressGatewayContainer, Error> {
        let logs = ExpressGatewayServiceAwsLogsConfiguration::builder()
            .log_group(self.log_group.as_str())
            .log_stream_prefix(&self.log_stream_prefix)
            .build()
            .map_err(|e| bad_request(id, op, e))?;
        let secrets = self
            .secrets
            .iter()
            .map(|(k, s)| {
                Secret::builder()
                    .name(k)
                    .value_from(s.value_from())
                    .build()
                    .map_err(|e| bad_request(id, op, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ExpressGatewayContainer::builder()
            .image(self.image.to_string())
            .container_port(i32::from(self.port.get()))
            .aws_logs_configuration(logs)
            .set_command((!self.command.is_empty()).then(|| self.command.clone()))
            .set_environment(Some(
                self.environment
                    .iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                    .collect(),
            ))
            .set_secrets(Some(secrets))
            .build()
            .map_err(|e| bad_request(id, op, e))
    }

    fn sdk_scaling(&self) -> ExpressGatewayScalingTarget {
        let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        ExpressGatewayScalingTarget::builder()
            .min_task_count(n(self.scaling.min_tasks))
            .max_task_count(n(self.scaling.max_tasks))
            .auto_scaling_metric(self.scaling.metric.sdk())
            .auto_scaling_target_value(n(self.scaling.target))
            .build()
    }

    fn sdk_network(
        &self,
        ctx: &StepContext,
    ) -> Result<ExpressGatewayServiceNetworkConfiguration, Error> {
        Ok(ExpressGatewayServiceNetworkConfiguration::builder()
            .set_subnets(Some(self.subnets.resolve(ctx)?))
            .build())
    }

    fn sdk_architecture(&self) -> ExpressCpuArchitecture {
        ExpressCpuArchitecture::from(self.architecture.as_str())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn create(&self, c: &Clients, ctx: &StepContext) -> Result<ObservedExpress, Error> {
        let id = self.rid();
        const OP: &str = "CreateExpressGatewayService";
        let tags: Vec<Tag> = creation_tags(&self.ownership, &self.tags, self.name.as_str())
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let task_role = match &self.task_role {
            Some(r) => Some(ctx.get(&role_arn(r))?),
            None => None,
        };
        let out = c
            .ecs
            .create_express_gateway_service()
            .cluster(self.cluster.as_str())
            .service_name(self.name.as_str())
            .execution_role_arn(ctx.get(&role_arn(&self.execution_role))?)
            .infrastructure_role_arn(ctx.get(&role_arn(&self.infrastructure_role))?)
            .set_task_role_arn(task_role)
            .primary_container(self.sdk_container(&id, OP)?)
            .cpu(self.size.cpu().to_string())
            .memory(self.size.memory_mib().to_string())
            .cpu_architecture(self.sdk_architecture())
            .health_check_path(&self.health_check_path)
            .scaling_target(self.sdk_scaling())
            .network_configuration(self.sdk_network(ctx)?)
            .set_tags(Some(tags))
            .send()
            .await;
        let arn = match out {
            Ok(out) => out
                .service()
                .and_then(|s| s.service_arn())
                .ok_or_else(|| missing(&id, OP, "serviceArn"))?
                .to_string(),
            // Made meanwhile (by a killed apply's request, not yet visible when this plan
            // looked): ours (`find` refuses what is not), so wait for it like for a new one.
            Err(e) => match self.find(c).await {
                Ok(Some(found)) => {
                    ctx.progress(format!(
                        "{}: the service exists already ({found_arn}); waiting for it",
                        self.name,
                        found_arn = found.arn
                    ));
                    found.arn
                }
                Ok(None) => return Err(Error::from_sdk(&id, OP, e)),
                Err(found) => return Err(found),
            },
        };
        self.wait_ready(c, ctx, &arn).await
    }

    /// Send the groups of settings in which `diffs` has a change, and only those.
    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn update(
        &self,
        c: &Clients,
        ctx: &StepContext,
        observed: &ObservedExpress,
        diffs: &[fargate_core::FieldDiff],
    ) -> Result<ObservedExpress, Error> {
        let id = self.rid();
        const OP: &str = "UpdateExpressGatewayService";
        let has = |f: &str| diffs.iter().any(|d| d.field == f);
        let has_prefix = |p: &str| diffs.iter().any(|d| d.field.starts_with(p));
        let mut req = c
            .ecs
            .update_express_gateway_service()
            .service_arn(&observed.arn);
        if ["image", "container_port", "command", "logs"]
            .iter()
            .any(|f| has(f))
            || has_prefix("environment.")
            || has_prefix("secrets.")
        {
            req = req.primary_container(self.sdk_container(&id, OP)?);
        }
        if has("cpu") || has("memory") {
            req = req
                .cpu(self.size.cpu().to_string())
                .memory(self.size.memory_mib().to_string());
        }
        if has("architecture") {
            req = req.cpu_architecture(self.sdk_architecture());
        }
        if has("health_check_path") {
            req = req.health_check_path(&self.health_check_path);
        }
        if has_prefix("scaling.") {
            req = req.scaling_target(self.sdk_scaling());
        }
        if has("execution_role") {
            req = req.execution_role_arn(ctx.get(&role_arn(&self.execution_role))?);
        }
        if has("task_role")
            && let Some(r) = &self.task_role
        {
            req = req.task_role_arn(ctx.get(&role_arn(r))?);
        }
        if has("subnets") {
            req = req.network_configuration(self.sdk_network(ctx)?);
        }
        let out = req.send().await.context(&id, OP)?;
        // The deployment this update started is the one to the service revision it made
        // (`targetConfiguration.serviceRevisionArn`): an older, finished deployment must
        // not end the wait. No new revision (none returned, or the one already in
        // effect): the update started no deployment, so there is nothing to wait for.
        let target = out
            .service()
            .and_then(|s| s.target_configuration())
            .and_then(|t| t.service_revision_arn());
        match target {
            Some(revision) if Some(revision) != observed.revision.as_deref() => {
                self.wait_for_revision(c, ctx, &observed.arn, revision)
                    .await
            }
            _ => {
                ctx.progress(format!(
                    "{}: the update started no deployment (no new service revision); not waiting",
                    self.name
                ));
                self.find(c)
                    .await?
                    .ok_or_else(|| missing(&id, "DescribeExpressGatewayService", "service"))
            }
        }
    }

    /// The Express service, when it is `ACTIVE`; `None` while it has no status yet. Any
    /// other status is an error with ECS's reason.
    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn active_service(
        &self,
        c: &Clients,
        arn: &str,
    ) -> Result<Option<EcsExpressGatewayService>, Error> {
        let id = self.rid();
        const OP: &str = "DescribeExpressGatewayService";
        let out = c
            .ecs
            .describe_express_gateway_service()
            .service_arn(arn)
            .send()
            .await
            .context(&id, OP)?;
        let service = out.service.ok_or_else(|| missing(&id, OP, "service"))?;
        let status = service.status();
        match status.and_then(|s| s.status_code()) {
            Some(ExpressGatewayServiceStatusCode::Active) => Ok(Some(service)),
            Some(code) => Err(Error::Unexpected {
                resource: id,
                operation: OP.to_string(),
                detail: format!(
                    "the Express service is {}: {}",
                    code.as_str(),
                    status
                        .and_then(|s| s.status_reason())
                        .unwrap_or("no reason given")
                ),
            }),
            None => Ok(None),
        }
    }

    /// Wait for the ECS service deployment to service revision `revision` (the one an
    /// update started, found by its target revision in `ListServiceDeployments`) to be
    /// `SUCCESSFUL`. One that failed (`ROLLBACK_SUCCESSFUL`, `ROLLBACK_FAILED`: ECS rolled
    /// it back) or was `STOPPED` is an error with the reason ECS gives; one not listed yet,
    /// or still rolling back, is waited for.
    #[tracing::instrument(skip_all, fields(resource = %self.rid(), revision = %revision))]
    async fn wait_for_revision(
        &self,
        c: &Clients,
        ctx: &StepContext,
        arn: &str,
        revision: &str,
    ) -> Result<ObservedExpress, Error> {
        use aws_sdk_ecs::types::ServiceDeploymentStatus as S;
        let id = self.rid();
        const OP: &str = "ListServiceDeployments";
        poll_until(
            ctx,
            &id,
            &format!(
                "the deployment of Express service {} to {revision}",
                self.name
            ),
            READY_POLL,
            || async {
                let Some(service) = self.active_service(c, arn).await? else {
                    return Ok(None);
                };
                let out = c
                    .ecs
                    .list_service_deployments()
                    .cluster(self.cluster.as_str())
                    .service(arn)
                    .send()
                    .await
                    .context(&id, OP)?;
                let ours = out
                    .service_deployments()
                    .iter()
                    .filter(|d| d.target_service_revision_arn() == Some(revision))
                    .max_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())));
                let Some(ours) = ours else {
                    ctx.progress(format!(
                        "{}: waiting for the deployment of {revision} to start",
                        self.name
                    ));
                    return Ok(None);
                };
                match ours.status() {
                    Some(S::Successful) => {}
                    Some(s @ (S::Stopped | S::RollbackSuccessful | S::RollbackFailed)) => {
                        return Err(Error::Unexpected {
                            resource: id.clone(),
                            operation: OP.to_string(),
                            detail: format!(
                                "the deployment {} to {revision} ended {}: {}",
                                ours.service_deployment_arn().unwrap_or("(no ARN)"),
                                s.as_str(),
                                ours.status_reason().unwrap_or("no reason given")
                            ),
                        });
                    }
                    s => {
                        ctx.progress(format!(
                            "{}: the deployment to {revision} is {}",
                            self.name,
                            s.map(|s| s.as_str()).unwrap_or("starting")
                        ));
                        return Ok(None);
                    }
                }
                let config = service
                    .active_configurations()
                    .iter()
                    .find(|c| c.service_revision_arn() == Some(revision))
                    .or_else(|| newest(&service));
                Ok(Some(ObservedExpress::of(
                    arn.to_string(),
                    Some("ACTIVE".into()),
                    &service,
                    config,
                )))
            },
        )
        .await
    }

    /// Wait until a new service's deployment has finished: the Express service active and
    /// the ECS service's primary deployment `COMPLETED` (a service just created has no
    /// other; an update waits for its own with [`Self::wait_for_revision`]). A deployment that fails, or a service
    /// that stops, is an error with the reason ECS gives.
    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn wait_ready(
        &self,
        c: &Clients,
        ctx: &StepContext,
        arn: &str,
    ) -> Result<ObservedExpress, Error> {
        let id = self.rid();
        let failed = |operation: &str, detail: String| Error::Unexpected {
            resource: id.clone(),
            operation: operation.to_string(),
            detail,
        };
        poll_until(
            ctx,
            &id,
            &format!("the deployment of Express service {}", self.name),
            READY_POLL,
            || async {
                let Some(service) = self.active_service(c, arn).await? else {
                    return Ok(None);
                };
                let ecs = c
                    .ecs
                    .describe_services()
                    .cluster(self.cluster.as_str())
                    .services(arn)
                    .send()
                    .await
                    .context(&id, "DescribeServices")?;
                let primary = ecs.services().first().and_then(|s| {
                    s.deployments()
                        .iter()
                        .find(|d| d.status() == Some("PRIMARY"))
                });
                let Some(primary) = primary else {
                    return Ok(None);
                };
                use aws_sdk_ecs::types::DeploymentRolloutState as R;
                match primary.rollout_state() {
                    Some(R::Completed) => {}
                    Some(R::Failed) => {
                        return Err(failed(
                            "DescribeServices",
                            format!(
                                "the deployment failed: {}",
                                primary.rollout_state_reason().unwrap_or("no reason given")
                            ),
                        ));
                    }
                    _ => {
                        ctx.progress(format!(
                            "{}: {} of {} tasks running",
                            self.name,
                            primary.running_count(),
                            primary.desired_count()
                        ));
                        return Ok(None);
                    }
                }
                let config = newest(&service);
                Ok(Some(ObservedExpress::of(
                    arn.to_string(),
                    Some("ACTIVE".into()),
                    &service,
                    config,
                )))
            },
        )
        .await
    }

    /// Delete the service (or find it being deleted already) and wait until it is gone.
    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn delete(&self, c: &Clients, ctx: &StepContext, arn: &str) -> Result<(), Error> {
        let id = self.rid();
        const OP: &str = "DeleteExpressGatewayService";
        if let Err(e) = c
            .ecs
            .delete_express_gateway_service()
            .service_arn(arn)
            .send()
            .await
        {
            match fargate_core::error::sdk_error_code(&e) {
                Some("ServiceNotFoundException") => return Ok(()),
                // Being deleted already: wait for it like for our own delete.
                Some("ServiceNotActiveException") => {}
                _ => return Err(Error::from_sdk(&id, OP, e)),
            }
        }
        poll_until(
            ctx,
            &id,
            &format!("Express service {} to be deleted", self.name),
            READY_POLL,
            || async {
                let out = crate::aws_util::absent_on(
                    c.ecs
                        .describe_express_gateway_service()
                        .service_arn(arn)
                        .send()
                        .await,
                    &["ResourceNotFoundException", "ServiceNotFoundException"],
                    &id,
                    "DescribeExpressGatewayService",
                )?;
                let code = out
                    .as_ref()
                    .and_then(|o| o.service())
                    .and_then(|s| s.status())
                    .and_then(|s| s.status_code());
                Ok(match code {
                    None | Some(ExpressGatewayServiceStatusCode::Inactive) => Some(()),
                    Some(_) => None,
                })
            },
        )
        .await
    }
}

/// An Express service as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedExpress {
    arn: String,
    url: Option<String>,
    status: Option<String>,
    /// The service revision of the configuration in effect (the newest active one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
    fields: Fields,
}

impl ObservedExpress {
    /// What `service` (ARN `arn`, status `status`) is, its configuration `config` in effect.
    fn of(
        arn: String,
        status: Option<String>,
        service: &EcsExpressGatewayService,
        config: Option<&ExpressGatewayServiceConfiguration>,
    ) -> Self {
        Self {
            arn,
            url: config.and_then(endpoint_of),
            status,
            revision: config
                .and_then(|c| c.service_revision_arn())
                .map(str::to_string),
            fields: ExpressServiceSpec::observed_fields(service, config),
        }
    }

    fn values(&self, spec: &ExpressServiceSpec) -> PlanValues {
        let mut v = PlanValues::new().with(&spec.arn(), &self.arn);
        if let Some(u) = &self.url {
            v.set(&spec.url(), u);
        }
        v
    }

    fn publish(&self, ctx: &StepContext, spec: &ExpressServiceSpec) {
        ctx.set(&spec.arn(), self.arn.clone());
        ctx.set(&spec.url(), self.url.clone().unwrap_or_default());
    }
}

impl Kind<Clients> for ExpressServiceSpec {
    type Observed = ObservedExpress;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.after.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedExpress>, Error>> {
        Box::pin(self.find(clients))
    }

    fn diff(
        &self,
        observed: Option<&ObservedExpress>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        if let Some(o) = observed
            && o.status.as_deref() == Some("DRAINING")
        {
            return Ok(Change::Replace {
                reason: "the service is being deleted (DRAINING): it is made again once it is gone"
                    .into(),
                diffs: o
                    .fields
                    .diff(&self.desired_fields(resolved.get_ref(&self.subnets))),
            });
        }
        let desired = self.desired_fields(resolved.get_ref(&self.subnets));
        let change = Change::compute(
            &desired,
            observed.map(|o| &o.fields),
            &["infrastructure_role"],
        );
        // A task role cannot be taken away in place.
        Ok(match change {
            Change::Update { diffs }
                if diffs
                    .iter()
                    .any(|d| d.field == "task_role" && d.new == Some(Value::Null)) =>
            {
                Change::Replace {
                    reason: "task_role cannot be removed in place".into(),
                    diffs,
                }
            }
            c => c,
        })
    }

    fn outputs(
        &self,
        observed: Option<&ObservedExpress>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| o.values(self))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedExpress>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let now = match (change, observed) {
                (Change::NoOp | Change::Adopt { .. }, Some(o)) => o.clone(),
                (Change::Update { diffs }, Some(o)) => self.update(clients, ctx, o, diffs).await?,
                (Change::Replace { .. }, Some(o)) => {
                    self.delete(clients, ctx, &o.arn).await?;
                    self.create(clients, ctx).await?
                }
                _ => self.create(clients, ctx).await?,
            };
            now.publish(ctx, self);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedExpress,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete(clients, ctx, &observed.arn))
    }
}

/// One configuration (service revision) of an Express service, as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExpressConfigurationView {
    /// The service revision's ARN.
    pub revision: Option<String>,
    /// The image it runs.
    pub image: Option<String>,
    /// CPU units and memory (MiB), as ECS reports them.
    pub cpu: Option<String>,
    /// Memory in MiB.
    pub memory: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: Option<String>,
    /// Whether it is the one in effect (the newest active configuration).
    pub in_effect: bool,
}

/// What an Express app's `status` adds to the ECS service's: the URL and the configurations
/// that serve.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExpressStatus {
    /// The HTTPS endpoint.
    pub url: Option<String>,
    /// The Express service's status (`ACTIVE`, `DRAINING`, ...) and ECS's reason.
    pub status: Option<String>,
    /// Why it has that status, when ECS says.
    pub status_reason: Option<String>,
    /// The Express service's current deployment, as ECS names it.
    pub current_deployment: Option<String>,
    /// The active configurations, the one in effect first.
    pub configurations: Vec<ExpressConfigurationView>,
}

impl ExpressStatus {
    /// The status part of an Express service as described.
    pub fn of(service: &EcsExpressGatewayService) -> Self {
        let in_effect = newest(service).and_then(|c| c.service_revision_arn());
        let mut configurations: Vec<ExpressConfigurationView> = service
            .active_configurations()
            .iter()
            .map(|c| ExpressConfigurationView {
                revision: c.service_revision_arn().map(str::to_string),
                image: c.primary_container().map(|p| p.image().to_string()),
                cpu: c.cpu().map(str::to_string),
                memory: c.memory().map(str::to_string),
                created_at: c
                    .created_at()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                in_effect: in_effect.is_some() && c.service_revision_arn() == in_effect,
            })
            .collect();
        configurations.sort_by_key(|c| !c.in_effect);
        let status = service.status();
        ExpressStatus {
            url: newest(service).and_then(endpoint_of),
            status: status
                .and_then(|s| s.status_code())
                .map(|c| c.as_str().to_string()),
            status_reason: status.and_then(|s| s.status_reason()).map(str::to_string),
            current_deployment: service.current_deployment().map(str::to_string),
            configurations,
        }
    }
}

/// The status of Express service `name` in `cluster`: the ECS service's (counts,
/// deployments, events, the current service deployment, which revisions serve; see
/// [`crate::Deployer::status`]) with the Express service's URL and configurations.
///
/// # Errors
/// `not_deployed(missing)` when the cluster or the service does not exist (or is deleted);
/// AWS errors.
#[tracing::instrument(skip_all)]
pub(crate) async fn status(
    c: &Clients,
    cluster: &EcsName,
    name: &EcsName,
    not_deployed: impl Fn(ResourceId) -> Error,
) -> Result<crate::deployer::ServiceStatus, Error> {
    let id = service_resource(cluster, name);
    const OP: &str = "DescribeExpressGatewayService";
    let s = match crate::service::describe_one(c, &id, cluster.as_str(), name.as_str()).await? {
        crate::service::Lookup::Found(s) => s,
        crate::service::Lookup::NoCluster => {
            return Err(not_deployed(ResourceId::new(
                "ecs:cluster",
                cluster.as_str(),
            )));
        }
        crate::service::Lookup::NoService => return Err(not_deployed(id)),
    };
    let arn = s
        .service_arn()
        .map(str::to_string)
        .unwrap_or_else(|| c.aws.arn("ecs", &format!("service/{cluster}/{name}")));
    let out = crate::aws_util::absent_on(
        c.ecs
            .describe_express_gateway_service()
            .service_arn(&arn)
            .send()
            .await,
        &["ResourceNotFoundException", "ServiceNotFoundException"],
        &id,
        OP,
    )?;
    let Some(express) = out.as_ref().and_then(|o| o.service()) else {
        return Err(not_deployed(id));
    };
    let mut status = crate::deployer::service_status(c, &id, name.as_str(), &s, None).await?;
    status.express = Some(ExpressStatus::of(express));
    Ok(status)
}

/// The name of app `app`'s Express service in `env`, `<env>-<app>`.
pub fn service_name(env: &Ident, app: &Ident) -> EcsName {
    EcsName::derive(&[env.as_str(), app.as_str()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_bounds_name_the_field() {
        let ok = ExpressScaling {
            min_tasks: 1,
            max_tasks: 4,
            metric: ScalingMetric::Cpu,
            target: 60,
        };
        assert!(ok.validate("web").is_ok());
        let e = ExpressScaling { min_tasks: 0, ..ok }
            .validate("web")
            .unwrap_err();
        assert_eq!(e.field, "web.min_tasks");
        let e = ExpressScaling { max_tasks: 0, ..ok }
            .validate("web")
            .unwrap_err();
        assert_eq!(e.field, "web.max_tasks");
        let e = ExpressScaling { target: 101, ..ok }
            .validate("web")
            .unwrap_err();
        assert_eq!(e.field, "web.scaling_target");
        assert!(
            ExpressScaling {
                metric: ScalingMetric::RequestsPerTarget,
                target: 500,
                ..ok
            }
            .validate("web")
            .is_ok()
        );
    }

    #[test]
    fn role_names_come_from_their_arns() {
        assert_eq!(
            role_name_of("arn:aws:iam::1:role/prod-web-exec"),
            "prod-web-exec"
        );
        assert_eq!(role_name_of("arn:aws:iam::1:role/a/b/name"), "name");
    }
}
