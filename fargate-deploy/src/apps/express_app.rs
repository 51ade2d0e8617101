//! [`ExpressApp`]: a web app on ECS Express Mode. AWS makes and manages its Application
//! Load Balancer (HTTPS, with a certificate), security groups, task definition and
//! autoscaling; fargate-rs makes its log group, its roles (execution, task, infrastructure)
//! and the Express service, in the environment's cluster and task subnets.

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::exec::OutputKey;
use fargate_core::{Architecture, Error, Ident, InvalidValue, Port, Resource};
use typed_builder::TypedBuilder;

use super::common::{AppSettings, Image, RawSettings, debug_redacting_env, defaults};
use crate::deployer::App;
use crate::ecr::{EcrRepositorySpec, repository_id};
use crate::environment::Environment;
use crate::express::{
    DEFAULT_HEALTH_CHECK_PATH, ExpressContainer, ExpressRoles, ExpressScaling, ExpressServiceParts,
    ExpressServiceSpec, ScalingMetric,
};
use crate::iam::{ExecutionAccess, IamRoleSpec, PolicyStatement, role_id};
use crate::logs::{LogGroupSpec, log_group_id};
use crate::service::ServiceSpec;
use crate::{AwsContext, Clients};

mod express_defaults {
    pub(super) fn port() -> u16 {
        80
    }
    pub(super) fn health_check_path() -> String {
        super::DEFAULT_HEALTH_CHECK_PATH.to_string()
    }
    pub(super) fn min_tasks() -> u32 {
        1
    }
    pub(super) fn max_tasks() -> u32 {
        4
    }
    pub(super) fn scaling_target() -> u32 {
        60
    }
}

/// What an Express app is, as given; [`ExpressApp::builder`] checks it at `build()` (no AWS
/// calls).
///
/// ```
/// use fargate_deploy::ExpressApp;
/// let web = ExpressApp::builder()
///     .name("web")
///     .image("public.ecr.aws/nginx/nginx:1.27")
///     .port(80)
///     .health_check_path("/")
///     .max_tasks(3)
///     .build()?;
/// assert_eq!(web.name().as_str(), "web");
///
/// let bad = ExpressApp::builder().name("web").image("nginx").min_tasks(3).max_tasks(2).build();
/// assert!(bad.unwrap_err().to_string().contains("web.max_tasks"));
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// Its `Debug` redacts secret-looking `env` values ([`fargate_core::redact`]).
#[derive(Clone, TypedBuilder, serde::Deserialize, schemars::JsonSchema)]
#[builder(build_method(into = Result<ExpressApp, Error>))]
#[serde(deny_unknown_fields)]
pub struct ExpressAppSpec {
    /// The app's name (lowercase letters, digits, hyphens).
    #[builder(setter(into))]
    pub name: String,
    /// The image: any reference, or `Image::Ecr { tag }` for the app's own repository.
    #[builder(setter(into))]
    pub image: Image,
    /// The port the container listens on (the load balancer sends traffic there). Default 80.
    #[builder(default = express_defaults::port())]
    #[serde(default = "express_defaults::port")]
    pub port: u16,
    /// CPU units (256 = 0.25 vCPU). Default 256.
    #[builder(default = defaults::cpu())]
    #[serde(default = "defaults::cpu")]
    pub cpu: u32,
    /// Memory in MiB, valid for the CPU. Default 512.
    #[builder(default = defaults::memory())]
    #[serde(default = "defaults::memory")]
    pub memory: u32,
    /// CPU architecture. Default X86_64.
    #[builder(default)]
    #[serde(default)]
    pub architecture: Architecture,
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
    /// The path the load balancer checks (HTTP 200 when healthy). Default `/ping`, AWS's.
    #[builder(default = express_defaults::health_check_path(), setter(into))]
    #[serde(default = "express_defaults::health_check_path")]
    pub health_check_path: String,
    /// The fewest tasks. Default 1.
    #[builder(default = express_defaults::min_tasks())]
    #[serde(default = "express_defaults::min_tasks")]
    pub min_tasks: u32,
    /// The most tasks. Default 4.
    #[builder(default = express_defaults::max_tasks())]
    #[serde(default = "express_defaults::max_tasks")]
    pub max_tasks: u32,
    /// What the tasks scale on. Default CPU.
    #[builder(default)]
    #[serde(default)]
    pub scaling_metric: ScalingMetric,
    /// The metric's target (percent for CPU and memory, requests per task otherwise).
    /// Default 60.
    #[builder(default = express_defaults::scaling_target())]
    #[serde(default = "express_defaults::scaling_target")]
    pub scaling_target: u32,
    /// Log retention in days. Default 30.
    #[builder(default = defaults::log_retention_days())]
    #[serde(default = "defaults::log_retention_days")]
    pub log_retention_days: u16,
    /// What the app's code may do in AWS (a task role with these statements).
    #[builder(default)]
    #[serde(default)]
    pub task_role: Vec<PolicyStatement>,
    /// Managed policies attached to the task role, by ARN.
    #[builder(default)]
    #[serde(default)]
    pub task_role_managed_policies: Vec<String>,
    /// Tags on everything the app creates.
    #[builder(default)]
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

debug_redacting_env!(ExpressAppSpec {
    name,
    image,
    port,
    cpu,
    memory,
    architecture,
    command,
    secrets,
    health_check_path,
    min_tasks,
    max_tasks,
    scaling_metric,
    scaling_target,
    log_retention_days,
    task_role,
    task_role_managed_policies,
    tags,
} env { env });

/// A web app on ECS Express Mode. Build with [`ExpressApp::builder`] and deploy it in an
/// [`Environment`] with [`crate::Deployer`]; the report's `<app>.url` is its HTTPS endpoint.
///
/// The service runs in the environment's cluster and task subnets; AWS decides from them
/// whether its load balancer is internet-facing (public subnets) or internal (private
/// subnets), and makes the security groups itself. It needs real AWS: emulators such as
/// moto have no Express Mode.
#[derive(Debug, Clone)]
pub struct ExpressApp {
    settings: AppSettings,
    port: Port,
    health_check_path: String,
    scaling: ExpressScaling,
}

impl From<ExpressAppSpec> for Result<ExpressApp, Error> {
    fn from(spec: ExpressAppSpec) -> Self {
        ExpressApp::new(spec)
    }
}

impl ExpressApp {
    /// Start describing an Express app.
    pub fn builder() -> ExpressAppSpecBuilder {
        ExpressAppSpec::builder()
    }

    /// Validate a spec (no AWS calls).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (`<app>.cpu`, `<app>.memory`, `<app>.port`,
    /// `<app>.image`, `<app>.secrets.<VAR>`, `<app>.health_check_path`, `<app>.min_tasks`,
    /// `<app>.max_tasks`, `<app>.scaling_target`, ...) and what is allowed.
    pub fn new(spec: ExpressAppSpec) -> Result<Self, Error> {
        let settings = RawSettings {
            name: spec.name,
            image: spec.image,
            cpu: spec.cpu,
            memory: spec.memory,
            architecture: spec.architecture,
            port: Some(spec.port),
            command: spec.command,
            environment: spec.env,
            secrets: spec.secrets,
            health_check: None,
            sidecars: Vec::new(),
            memory_reservation: None,
            log_retention_days: spec.log_retention_days,
            task_role_statements: spec.task_role,
            task_role_managed_policies: spec.task_role_managed_policies,
            tags: spec.tags,
            rollout: Default::default(),
            volumes: Vec::new(),
        }
        .validate()?;
        let name = settings.name.clone();
        let port = settings.port.ok_or_else(|| {
            InvalidValue::new(
                format!("{name}.port"),
                "",
                "an Express app needs the port its container listens on",
                "a port from 1 to 65535",
            )
        })?;
        fargate_net::target_group::HealthCheck::http(&spec.health_check_path)
            .map_err(|e| e.in_field(format!("{name}.health_check_path")))?;
        let scaling = ExpressScaling {
            min_tasks: spec.min_tasks,
            max_tasks: spec.max_tasks,
            metric: spec.scaling_metric,
            target: spec.scaling_target,
        };
        scaling.validate(name.as_str())?;
        Ok(Self {
            settings,
            port,
            health_check_path: spec.health_check_path,
            scaling,
        })
    }

    /// The app's name.
    pub fn name(&self) -> &Ident {
        &self.settings.name
    }

    /// The validated settings.
    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }

    /// The Express service's name in `env`, `<env>-<app>`.
    pub fn service_name(&self, env: &Environment) -> fargate_core::EcsName {
        crate::express::service_name(env.name(), self.name())
    }

    fn url_key(&self, env: &Environment) -> OutputKey<String> {
        crate::express::url(env.cluster_name(), &self.service_name(env))
    }

    fn arn_key(&self, env: &Environment) -> OutputKey<String> {
        crate::express::service_arn(env.cluster_name(), &self.service_name(env))
    }
}

impl App for ExpressApp {
    fn name(&self) -> &Ident {
        &self.settings.name
    }

    fn resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let s = &self.settings;
        let name = &s.name;
        let envn = env.name();
        let mut out: Vec<Arc<dyn Resource<Clients>>> = Vec::new();
        let image = s.image_ref(env, aws)?;
        let mut after = vec![env.cluster_id(), env.egress_id()];

        let logs = LogGroupSpec::for_app(envn, name, s.ownership(env, "logs"))
            .retention_days(s.log_retention_days)
            .map_err(|e| e.in_field(format!("{name}.log_retention_days")))?
            .tags(s.tags.clone());
        let log_name = logs.name().clone();
        after.push(log_group_id(&log_name));
        out.push(fargate_core::resource::node(logs));

        if let Image::Ecr { .. } = &s.image {
            let repo = EcrRepositorySpec::new(s.repository(env), s.ownership(env, "repository"))
                .tags(s.tags.clone());
            after.push(repository_id(repo.name()));
            out.push(fargate_core::resource::node(repo));
        }

        let mut access = ExecutionAccess::new()
            .image(image.clone())
            .log_group(log_name.clone());
        for secret in s.secrets.values() {
            access = access.secret(secret.clone());
        }
        let exec =
            IamRoleSpec::execution_role(envn, name, s.ownership(env, "execution-role"), access)
                .tags(s.tags.clone());
        let exec_name = exec.name().clone();
        after.push(role_id(&exec_name));
        out.push(fargate_core::resource::node(exec));

        let task_role = if s.has_task_role() {
            let mut role = IamRoleSpec::task_role(
                envn,
                name,
                s.ownership(env, "task-role"),
                s.task_role_statements.clone(),
            )
            .tags(s.tags.clone());
            for arn in &s.task_role_managed_policies {
                role = role
                    .managed_policy(arn)
                    .map_err(|e| e.in_field(format!("{name}.task_role_managed_policies")))?;
            }
            let role_name = role.name().clone();
            after.push(role_id(&role_name));
            out.push(fargate_core::resource::node(role));
            Some(role_name)
        } else {
            None
        };

        let infra = IamRoleSpec::express_infrastructure_role(
            envn,
            name,
            s.ownership(env, "infrastructure-role"),
            &aws.partition,
        )?
        .tags(s.tags.clone());
        let infra_name = infra.name().clone();
        after.push(role_id(&infra_name));
        out.push(fargate_core::resource::node(infra));

        let service = ExpressServiceSpec::new(ExpressServiceParts {
            cluster: env.cluster_name().clone(),
            name: self.service_name(env),
            ownership: s.ownership(env, "express-service"),
            tags: s.tags.clone(),
            container: ExpressContainer {
                image,
                port: self.port,
                command: s.command.clone(),
                environment: s.environment.clone(),
                secrets: s.secrets.clone(),
                logs: (log_name, name.to_string()),
            },
            size: s.size,
            architecture: s.architecture,
            health_check_path: self.health_check_path.clone(),
            scaling: self.scaling,
            roles: ExpressRoles {
                execution: exec_name,
                task: task_role,
                infrastructure: infra_name,
            },
            subnets: env.task_subnets(),
            after,
        });
        out.push(fargate_core::resource::node(service));
        Ok(out)
    }

    /// None: the ECS service is Express Mode's, watched by the Express service's own wait.
    fn service(&self, _env: &Environment) -> Option<ServiceSpec> {
        None
    }

    /// The tasks at the minimum of their scaling (the load balancer AWS makes is not counted).
    fn cost_inputs(&self, env: &Environment) -> Vec<fargate_core::cost::TaskCost> {
        let ExpressScaling {
            min_tasks,
            max_tasks,
            ..
        } = self.scaling;
        vec![crate::estimate::service_task(
            &self.settings,
            env,
            format!(
                "{} (Express, autoscaled {min_tasks}-{max_tasks}, at minimum)",
                self.name()
            ),
            min_tasks,
            &crate::service::Capacity::default(),
        )]
    }

    fn preflight(&self, env: &Environment) -> Option<crate::preflight::Requirements> {
        Some(self.settings.preflight(env))
    }

    fn express_service(
        &self,
        env: &Environment,
    ) -> Option<(fargate_core::EcsName, fargate_core::EcsName)> {
        Some((env.cluster_name().clone(), self.service_name(env)))
    }

    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)> {
        vec![
            (
                format!("{}.url", self.name()),
                self.url_key(env),
                "{}".to_string(),
            ),
            (
                format!("{}.service_arn", self.name()),
                self.arn_key(env),
                "{}".to_string(),
            ),
        ]
    }
}
