//! [`ContainerService`]: an ECS service on Fargate with no load balancer (a
//! worker or an internal service), with the common layer.

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::exec::OutputKey;
use fargate_core::{
    Architecture, EcsName, Error, Ident, InvalidValue, Port, Ref, Resource, ResourceId,
};
use fargate_net::security_group::IngressRule;
use typed_builder::TypedBuilder;

use super::common::{
    AppSettings, AppVolume, CommonLayer, Image, RawSettings, debug_redacting_env, defaults,
};
use crate::autoscaling::{AutoscalingSpec, ServiceScaling};
use crate::deployer::{App, TaskInfo};
use crate::deployment::Deployment;
use crate::environment::Environment;
use crate::iam::PolicyStatement;
use crate::rollout::RolloutOptions;
use crate::service::{Capacity, LbAttachment, ServiceSpec};
use crate::task_definition::ContainerSpec;
use crate::{AwsContext, Clients};

/// What a container service is, as given; [`ContainerService::builder`]
/// checks it at `build()` (no AWS calls).
///
/// ```
/// use fargate_deploy::ContainerService;
/// let worker = ContainerService::builder()
///     .name("worker")
///     .image("public.ecr.aws/docker/library/busybox:1.36")
///     .command(vec!["sh".into(), "-c".into(), "while true; do date; sleep 60; done".into()])
///     .build()?;
/// assert_eq!(worker.name().as_str(), "worker");
///
/// let bad = ContainerService::builder().name("w").image("busybox").cpu(256).memory(4096).build();
/// assert!(bad.unwrap_err().to_string().contains("allowed: 512, 1024, 2048"));
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// Its `Debug` redacts secret-looking `env` values ([`fargate_core::redact`]).
///
/// It deserializes from JSON with the same field names and defaults (unknown fields are
/// refused), e.g. `{"name": "worker", "image": "busybox:1.36", "desired_count": 2}`; the
/// `fargate` CLI's app file uses it for `"kind": "service"`.
#[derive(Clone, TypedBuilder, serde::Deserialize, schemars::JsonSchema)]
#[builder(build_method(into = Result<ContainerService, Error>))]
#[serde(deny_unknown_fields)]
pub struct ContainerServiceSpec {
    /// The app's name (lowercase letters, digits, hyphens).
    #[builder(setter(into))]
    pub name: String,
    /// The image: any reference (`"nginx:1.27"`), or `Image::Ecr { tag }` for the app's own repository.
    #[builder(setter(into))]
    pub image: Image,
    /// CPU units (256 = 0.25 vCPU). Default 256.
    #[builder(default = defaults::cpu())]
    #[serde(default = "defaults::cpu")]
    pub cpu: u32,
    /// Memory in MiB, valid for the CPU. Default 512.
    #[builder(default = defaults::memory())]
    #[serde(default = "defaults::memory")]
    pub memory: u32,
    /// CPU architecture (ARM64 is about 20 % cheaper). Default X86_64.
    #[builder(default)]
    #[serde(default)]
    pub architecture: Architecture,
    /// The port the container listens on, if any.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub port: Option<u16>,
    /// Command override.
    #[builder(default)]
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variables.
    #[builder(default)]
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Secrets by reference (Secrets Manager ARN, SSM parameter ARN or name), by variable name.
    #[builder(default)]
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Tasks to run (ignored when `autoscaling` is set). Default 1.
    #[builder(default = defaults::desired_count())]
    #[serde(default = "defaults::desired_count")]
    pub desired_count: u32,
    /// Application Auto Scaling; it then owns the desired count.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub autoscaling: Option<AutoscalingSpec>,
    /// Weight of Fargate Spot against on-demand (0 = on-demand only).
    #[builder(default)]
    #[serde(default)]
    pub spot_weight: u32,
    /// ECS Exec (`aws ecs execute-command`).
    #[builder(default)]
    #[serde(default)]
    pub enable_exec: bool,
    /// A container health check, run by a shell in the container.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub health_check: Option<String>,
    /// Extra containers in the task.
    #[builder(default)]
    #[serde(default)]
    pub sidecars: Vec<ContainerSpec>,
    /// Container-level memory reservation in MiB.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub memory_reservation: Option<u32>,
    /// Log retention in days (CloudWatch's allowed values). Default 30.
    #[builder(default = defaults::log_retention_days())]
    #[serde(default = "defaults::log_retention_days")]
    pub log_retention_days: u16,
    /// What the app's code may do in AWS (a task role with these statements).
    #[builder(default)]
    #[serde(default)]
    pub task_role: Vec<PolicyStatement>,
    /// Managed policies attached to the task role, by ARN (for example
    /// `arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess`, or one of your account's); shown in
    /// the plan, detached on destroy. With none and no `task_role` statement there is no
    /// task role.
    #[builder(default)]
    #[serde(default)]
    pub task_role_managed_policies: Vec<String>,
    /// Tags on everything the app creates.
    #[builder(default)]
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// How the rollout is watched.
    #[builder(default)]
    #[serde(default)]
    pub rollout: RolloutOptions,
    /// How a new revision rolls out (default [`Deployment::default`]: rolling, circuit
    /// breaker with rollback). A `ContainerService` has no load balancer, so only rolling;
    /// blue/green, linear and canary go on [`crate::FrontendApp`] and [`crate::BackendApi`].
    #[builder(default)]
    #[serde(default)]
    pub deployment: Deployment,
    /// Register the tasks in the environment's private DNS namespace (Cloud Map), so the
    /// other apps reach this one at `<name>.<namespace>` (default off; needs the
    /// environment's `private_namespace`).
    #[builder(default)]
    #[serde(default)]
    pub discoverable: bool,
    /// A work queue (SQS, with a dead-letter queue): the task gets `QUEUE_URL` and may
    /// receive, delete and change the visibility of the queue's messages (default none).
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub queue: Option<crate::queue::QueueWorker>,
    /// Volumes of the main container: EFS on a file system fargate-rs creates
    /// (`{"name": "data", "path": "/data", "create": true}`) or on an existing one; one
    /// managed EBS volume per task (`{"name": "data", "path": "/data", "ebs": {"size_gib":
    /// 20}}`, see [`crate::ebs`]); bind mounts on the task's storage (`"bind": true`).
    #[builder(default)]
    #[serde(default)]
    pub volumes: Vec<AppVolume>,
    /// ECS Service Connect in the environment's private DNS namespace (default off; needs
    /// the environment's `private_namespace`): `{}` publishes the app's port as
    /// `<name>.<namespace>:<port>`, `{"client_only": true}` only reaches the others.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub service_connect: Option<crate::service_connect::ServiceConnect>,
}

debug_redacting_env!(ContainerServiceSpec {
    name,
    image,
    cpu,
    memory,
    architecture,
    port,
    command,
    secrets,
    desired_count,
    autoscaling,
    spot_weight,
    enable_exec,
    health_check,
    sidecars,
    memory_reservation,
    log_retention_days,
    task_role,
    task_role_managed_policies,
    tags,
    rollout,
    deployment,
    discoverable,
    queue,
    volumes,
    service_connect,
} env { env });

/// A worker or internal service on Fargate. Build with [`ContainerService::builder`].
///
/// It deserializes from a [`ContainerServiceSpec`] (and is then validated like
/// [`ContainerService::new`]): that is how [`crate::FrontendAppSpec`] and
/// [`crate::BackendApiSpec`] read their service's fields from JSON.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "ContainerServiceSpec")]
pub struct ContainerService {
    settings: AppSettings,
    desired_count: u32,
    autoscaling: Option<AutoscalingSpec>,
    capacity: Capacity,
    enable_exec: bool,
    deployment: Deployment,
    discoverable: bool,
    queue: Option<crate::queue::QueueWorker>,
    service_connect: Option<crate::service_connect::ServiceConnect>,
}

impl From<ContainerServiceSpec> for Result<ContainerService, Error> {
    fn from(spec: ContainerServiceSpec) -> Self {
        ContainerService::new(spec)
    }
}

impl TryFrom<ContainerServiceSpec> for ContainerService {
    type Error = Error;
    fn try_from(spec: ContainerServiceSpec) -> Result<Self, Error> {
        ContainerService::new(spec)
    }
}

impl ContainerService {
    /// Start describing a container service.
    pub fn builder() -> ContainerServiceSpecBuilder {
        ContainerServiceSpec::builder()
    }

    /// Validate a spec (no AWS calls).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (e.g. `worker.memory`) and what is allowed.
    pub fn new(spec: ContainerServiceSpec) -> Result<Self, Error> {
        let name = spec.name.clone();
        if spec.desired_count > 10_000 {
            return Err(InvalidValue::new(
                format!("{name}.desired_count"),
                spec.desired_count.to_string(),
                "more tasks than a service can run",
                "0 to 10000",
            )
            .into());
        }
        if spec.spot_weight > 1000 {
            return Err(InvalidValue::new(
                format!("{name}.spot_weight"),
                spec.spot_weight.to_string(),
                "too large",
                "0 to 1000",
            )
            .into());
        }
        crate::deployment::validate_for_app(&spec.deployment, &name, false)?;
        if let Some(q) = &spec.queue {
            q.validate(&name)?;
            if q.messages_per_task.is_some() && spec.autoscaling.is_none() {
                return Err(InvalidValue::new(
                    format!("{name}.queue.messages_per_task"),
                    q.messages_per_task.unwrap_or_default().to_string(),
                    "scaling on the backlog needs autoscaling",
                    "set autoscaling (min, max), or no messages_per_task",
                )
                .into());
            }
            if spec.env.contains_key(crate::queue::QUEUE_URL_VAR) {
                return Err(InvalidValue::new(
                    format!("{name}.env"),
                    crate::queue::QUEUE_URL_VAR,
                    "the queue sets QUEUE_URL",
                    "another variable name, or no queue",
                )
                .into());
            }
        }
        let settings = RawSettings {
            name: spec.name,
            image: spec.image,
            cpu: spec.cpu,
            memory: spec.memory,
            architecture: spec.architecture,
            port: spec.port,
            command: spec.command,
            environment: spec.env,
            secrets: spec.secrets,
            health_check: spec.health_check,
            sidecars: spec.sidecars,
            memory_reservation: spec.memory_reservation,
            log_retention_days: spec.log_retention_days,
            task_role_statements: with_exec_access(spec.task_role, spec.enable_exec),
            task_role_managed_policies: spec.task_role_managed_policies,
            tags: spec.tags,
            rollout: spec.rollout,
            volumes: spec.volumes,
        }
        .validate()?;
        let mut settings = settings;
        if let Some(sc) = &spec.service_connect {
            sc.validate(&settings.name, settings.port)?;
            settings.port_name = sc
                .port_name_of(&settings.name)
                .map(|n| (n, sc.app_protocol));
        }
        Ok(Self {
            settings,
            desired_count: spec.desired_count,
            autoscaling: spec.autoscaling,
            capacity: Capacity {
                spot_weight: spec.spot_weight,
                ..Capacity::default()
            },
            enable_exec: spec.enable_exec,
            deployment: spec.deployment,
            discoverable: spec.discoverable,
            queue: spec.queue,
            service_connect: spec.service_connect,
        })
    }

    /// The ECS service's Service Connect configuration in `env` (`None`: off).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `<app>.service_connect` when the environment has no private
    /// DNS namespace.
    fn connect_spec(
        &self,
        env: &Environment,
        aws: &AwsContext,
        log_group: &str,
    ) -> Result<Option<crate::service_connect::ServiceConnectSpec>, Error> {
        let Some(sc) = &self.service_connect else {
            return Ok(None);
        };
        let name = &self.settings.name;
        let ns = env.private_namespace().ok_or_else(|| {
            InvalidValue::new(
                format!("{name}.service_connect"),
                if sc.client_only { "client_only" } else { "server mode" },
                format!("environment {} has no private DNS namespace", env.name()),
                "set the environment's private_namespace (e.g. \"prod.internal\"), or no service_connect",
            )
        })?;
        Ok(Some(crate::service_connect::ServiceConnectSpec {
            namespace_arn: Ref::Output(crate::discovery::namespace_arn(ns)),
            namespace_id: crate::discovery::namespace_resource(ns),
            services: sc
                .published(name, self.settings.port, ns)
                .into_iter()
                .collect(),
            log_group: log_group.to_string(),
            region: aws.region.clone(),
        }))
    }

    /// What this app publishes with Service Connect in `env` (for the checks across apps).
    pub(crate) fn connect_claims(&self, env: &Environment) -> Vec<crate::service_connect::Claim> {
        let name = &self.settings.name;
        let Some(ns) = env.private_namespace() else {
            return Vec::new();
        };
        let discoverable = self
            .discoverable
            .then(|| crate::service_connect::Claim::discoverable(name));
        let published = self
            .service_connect
            .as_ref()
            .and_then(|sc| sc.published(name, self.settings.port, ns))
            .map(|s| crate::service_connect::Claim::published(name, &s));
        discoverable.into_iter().chain(published).collect()
    }

    /// The app's Cloud Map service in `env`, when it is discoverable.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `<app>.discoverable` when the environment has no private
    /// DNS namespace.
    fn discovery(&self, env: &Environment) -> Result<Option<Arc<dyn Resource<Clients>>>, Error> {
        let name = &self.settings.name;
        if !self.discoverable {
            // One an earlier configuration made: destroy removes it.
            return Ok(env.private_namespace().map(|ns| {
                fargate_core::resource::node(super::common::Retired(
                    crate::discovery::DiscoveryServiceSpec::new(
                        env.name(),
                        name,
                        ns.clone(),
                        self.settings.tags.clone(),
                    ),
                ))
            }));
        }
        let ns = env.private_namespace().ok_or_else(|| {
            InvalidValue::new(
                format!("{name}.discoverable"),
                "true",
                format!("environment {} has no private DNS namespace", env.name()),
                "set the environment's private_namespace (e.g. \"prod.internal\"), or discoverable: false",
            )
        })?;
        Ok(Some(fargate_core::resource::node(
            crate::discovery::DiscoveryServiceSpec::new(
                env.name(),
                name,
                ns.clone(),
                self.settings.tags.clone(),
            ),
        )))
    }

    /// Whether ECS Exec is enabled (then the task role allows the SSM agent's channels).
    pub fn exec_enabled(&self) -> bool {
        self.enable_exec
    }

    /// How a new revision rolls out.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The app's name.
    pub fn name(&self) -> &Ident {
        &self.settings.name
    }

    /// The validated settings.
    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }

    /// The container port, if any.
    pub fn port(&self) -> Option<Port> {
        self.settings.port
    }

    fn service_name(&self) -> EcsName {
        EcsName::derive(&[self.settings.name.as_str()])
    }

    /// The service spec in `env`, given the common layer and how it is exposed.
    pub(crate) fn service_spec(
        &self,
        env: &Environment,
        layer: Option<&CommonLayer>,
        exposure: &Exposure,
    ) -> ServiceSpec {
        let s = &self.settings;
        let family = s.family(env);
        let td_id = crate::task_definition::task_definition_id(&family);
        let sg_id = layer
            .map(|l| l.security_group_id.clone())
            .unwrap_or_else(|| {
                Ref::Output(
                    ResourceId::new(
                        "ec2:security-group",
                        EcsName::derive(&[env.name().as_str(), s.name.as_str(), "task"])
                            .to_string(),
                    )
                    .output("id"),
                )
            });
        let mut extra = vec![env.egress_id()];
        if let Some(l) = layer {
            extra.push(l.security_group.clone());
            extra.push(l.execution_role.clone());
            extra.extend(l.task_role.clone());
        }
        extra.extend(exposure.after.iter().cloned());
        let security_groups = vec![sg_id];
        ServiceSpec {
            name: self.service_name(),
            cluster: env.cluster_name().clone(),
            cluster_id: env.cluster_id(),
            owner: s.ownership(env, "service"),
            tags: s.tags.clone(),
            task_definition_id: td_id,
            family: family.to_string(),
            desired_count: if self.autoscaling.is_some() {
                None
            } else {
                Some(self.desired_count)
            },
            subnets: env.task_subnets(),
            security_groups,
            assign_public_ip: env.network().tasks_need_public_ip(),
            load_balancers: exposure.load_balancers.clone(),
            health_check_grace_period: exposure.grace_period,
            deployment: exposure
                .deployment
                .clone()
                .unwrap_or_else(|| self.deployment.clone()),
            traffic_shift: exposure.traffic_shift.clone(),
            capacity: self.capacity,
            enable_execute_command: self.enable_exec,
            rollout: s.rollout.clone(),
            logs: layer.map(|l| l.logs.clone()),
            extra_dependencies: extra,
            service_registries: match (self.discoverable, env.private_namespace()) {
                (true, Some(ns)) => vec![(
                    crate::discovery::service_resource(ns, &s.name),
                    Ref::Output(crate::discovery::registry_arn(ns, &s.name)),
                )],
                _ => Vec::new(),
            },
            // Only an invalid partition fails, and the role's name does not use it.
            ebs_volumes: s.ebs_volumes(env).unwrap_or_default(),
            service_connect: None,
        }
    }

    /// All resources of this service in `env`, exposed as `exposure` says.
    pub(crate) fn resources_with(
        &self,
        env: &Environment,
        aws: &AwsContext,
        mut exposure: Exposure,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let mut settings = std::borrow::Cow::Borrowed(&self.settings);
        let mut queues: Vec<Arc<dyn Resource<Clients>>> = Vec::new();
        let mut autoscaling = self.autoscaling.clone();
        if let Some(q) = &self.queue {
            let expanded = q.expand(env.name(), &self.settings.name, aws, &self.settings.tags)?;
            if let (Some(a), Some(n)) = (autoscaling.take(), q.messages_per_task) {
                let backlog = crate::autoscaling::TargetTracking::sqs_backlog_per_task(
                    f64::from(n),
                    expanded.name.clone(),
                    env.cluster_name().to_string(),
                    self.service_name().to_string(),
                )
                .and_then(|t| a.with_target(t))
                .map_err(|e| {
                    e.in_field(format!("{}.queue.messages_per_task", self.settings.name))
                })?;
                autoscaling = Some(backlog);
            } else {
                autoscaling = self.autoscaling.clone();
            }
            let s = settings.to_mut();
            s.environment.insert(
                crate::queue::QUEUE_URL_VAR.to_string(),
                expanded.url.clone(),
            );
            let statement = expanded.statement()?;
            if !s.task_role_statements.contains(&statement) {
                s.task_role_statements.push(statement);
            }
            // The tasks start once their queue exists.
            exposure.after.extend(
                expanded
                    .specs
                    .last()
                    .map(|q| crate::queue::queue_resource(q.name())),
            );
            queues.extend(expanded.specs.into_iter().map(fargate_core::resource::node));
        } else {
            // The queue and dead-letter queue an earlier configuration made (the default
            // names do not depend on the settings): kept, and destroyed with the app.
            let retired = crate::queue::QueueWorker::default().expand(
                env.name(),
                &self.settings.name,
                aws,
                &self.settings.tags,
            )?;
            queues.extend(
                retired
                    .specs
                    .into_iter()
                    .map(|q| fargate_core::resource::node(super::common::Retired(q))),
            );
        }
        let layer = settings.common_layer(
            env,
            aws,
            exposure.ingress.clone(),
            exposure.sg_after.clone(),
        )?;
        let discovery = self.discovery(env)?;
        let mut service = self.service_spec(env, Some(&layer), &exposure);
        service.service_connect = self.connect_spec(env, aws, &layer.logs.group)?;
        let service_id = service.resource_id();
        let ebs_role = if settings.volumes.iter().any(|v| v.ebs.is_some()) {
            Some(fargate_core::resource::node(
                settings.volume_role(env, &aws.partition)?,
            ))
        } else if env.had_volume_role(&settings.name) {
            // The volume was removed: its role goes once the service no longer uses it.
            Some(crate::ebs::withdrawn_volume_role(
                settings.volume_role(env, &aws.partition)?,
                service_id.clone(),
            ))
        } else {
            None
        };
        let mut out = queues;
        out.extend(layer.resources);
        out.extend(discovery);
        out.extend(ebs_role);
        if let Some(a) = &autoscaling {
            let scaling = ServiceScaling::new(
                a.clone(),
                env.name(),
                &self.settings.name,
                env.cluster_name().clone(),
                service.name.clone(),
                service_id,
            )
            .depends_on(exposure.after.iter().cloned());
            out.push(fargate_core::resource::node(scaling));
        }
        out.push(fargate_core::resource::node(service));
        Ok(out)
    }
}

/// How a service is reached: ingress on its security group, load balancer
/// attachments, and what must exist before it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exposure {
    pub ingress: Vec<IngressRule>,
    pub sg_after: Vec<ResourceId>,
    pub load_balancers: Vec<LbAttachment>,
    pub grace_period: Option<u32>,
    pub after: Vec<ResourceId>,
    /// The deployment of the app that wraps the service (instead of the service's own).
    pub deployment: Option<Deployment>,
    /// Blue/green, linear, canary: how traffic moves between the target groups.
    pub traffic_shift: Option<crate::service::TrafficShift>,
}

impl App for ContainerService {
    fn name(&self) -> &Ident {
        &self.settings.name
    }

    fn resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        self.resources_with(env, aws, Exposure::default())
    }

    fn service(&self, env: &Environment) -> Option<ServiceSpec> {
        Some(self.service_spec(env, None, &Exposure::default()))
    }

    fn task(&self, env: &Environment) -> Option<TaskInfo> {
        Some(self.settings.task_info(env))
    }

    fn preflight(&self, env: &Environment) -> Option<crate::preflight::Requirements> {
        Some(self.settings.preflight(env))
    }

    fn service_connect_claims(&self, env: &Environment) -> Vec<crate::service_connect::Claim> {
        self.connect_claims(env)
    }

    /// Its tasks all month: the desired count, or the autoscaling minimum.
    fn cost_inputs(&self, env: &Environment) -> Vec<fargate_core::cost::TaskCost> {
        let name = self.settings.name.to_string();
        let (name, count) = match &self.autoscaling {
            Some(a) => (
                format!("{name} (autoscaled {}-{}, at minimum)", a.min(), a.max()),
                a.min(),
            ),
            None => (name, self.desired_count),
        };
        vec![crate::estimate::service_task(
            &self.settings,
            env,
            name,
            count,
            &self.capacity,
        )]
    }

    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)> {
        let spec = self.service_spec(env, None, &Exposure::default());
        vec![
            (
                format!("{}.service_arn", self.settings.name),
                spec.arn_output(),
                "{}".to_string(),
            ),
            (
                format!("{}.task_definition", self.settings.name),
                spec.task_definition_output(),
                "{}".to_string(),
            ),
        ]
        .into_iter()
        .chain(
            env.private_namespace()
                .filter(|_| self.discoverable)
                .map(|ns| {
                    (
                        format!("{}.dns_name", self.settings.name),
                        crate::discovery::dns_name(ns, &self.settings.name),
                        "{}".to_string(),
                    )
                }),
        )
        .collect()
    }
}

/// The task role's statements, with what ECS Exec needs when it is enabled: the SSM agent
/// in the task opens its control and data channels (`ssmmessages:*Channel`, ECS developer
/// guide, "Monitor Amazon ECS containers with ECS Exec", IAM permissions). A task role is
/// made for it even when the app asks for no other permission.
fn with_exec_access(
    mut statements: Vec<PolicyStatement>,
    enable_exec: bool,
) -> Vec<PolicyStatement> {
    if enable_exec {
        let exec = PolicyStatement::ecs_exec();
        if !statements.contains(&exec) {
            statements.push(exec);
        }
    }
    statements
}
