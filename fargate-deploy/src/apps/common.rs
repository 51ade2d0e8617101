//! The common layer every app has: ECR repository (or an external image), log
//! group, execution role (and task role), security group, task definition.

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::LogGroupName;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    Architecture, Change, EcrRepositoryName, EcsName, Error, Ident, ImageRef, InvalidValue, Kind,
    Mode, Port, Ref, Resolved, Resource, ResourceId, Round, SecretRef, StepContext, Tags, TaskSize,
};
use fargate_net::security_group::{IngressRule, SecurityGroupSpec, Source};

use crate::ecr::{EcrRepositorySpec, repository_id};
use crate::environment::Environment;
use crate::iam::{ExecutionAccess, IamRoleSpec, PolicyStatement, role_arn, role_id};
use crate::logs::{LogGroupSpec, RetentionDays, log_group_id};
use crate::rollout::{LogTarget, RolloutOptions};
use crate::task_definition::{ContainerSpec, HealthCheck, TaskDefinitionSpec};
use crate::{AwsContext, Clients};

/// Where an app's image comes from.
///
/// In JSON (an app file): a string for any image reference, or `{"ecr_tag": "<tag>"}` for a
/// tag of the app's own ECR repository.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(
    untagged,
    deny_unknown_fields,
    expecting = "an image reference (a string such as \"nginx:1.27\") or {\"ecr_tag\": \"<tag>\"} for the app's own ECR repository"
)]
pub enum Image {
    /// Any image reference, e.g. `public.ecr.aws/nginx/nginx:1.27` or `ghcr.io/acme/api@sha256:...`.
    External(String),
    /// A tag (or `sha256:` digest) in the app's own ECR repository `<env>/<app>`,
    /// which fargate-rs creates (scan on push, keep the last 20 images).
    Ecr {
        /// The tag or digest.
        #[serde(rename = "ecr_tag")]
        tag: String,
    },
}

/// A volume of an app, mounted into its main container at `path`: an EFS volume on a file
/// system fargate-rs creates for it (`create: true`) or on an existing one
/// (`file_system_id`); or a managed EBS volume per task (`ebs`, services only, see
/// [`crate::ebs`]); or a bind mount volume on the task's storage (`bind: true`).
///
/// A created file system is `<env>-<app>-<name>`: encrypted, with a mount target in each of
/// the environment's task subnets behind a security group `<env>-<app>-<name>-efs` that
/// allows NFS (TCP 2049) only from the app's tasks; the task mounts it with transit
/// encryption and IAM authorization, and the task role may `ClientMount` and `ClientWrite`
/// it. Destroy deletes the mount targets, the file system (its data) and the group.
///
/// In JSON: `{"name": "data", "path": "/var/lib/app", "create": true}`, `{"name": "data",
/// "path": "/data", "ebs": {"size_gib": 20}}`, `{"name": "tmp", "path": "/tmp", "bind": true}`.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AppVolume {
    /// The volume's name: 1 to 32 lower-case letters, digits and hyphens (part of the file
    /// system's name).
    pub name: String,
    /// Where the main container sees it (an absolute path).
    pub path: String,
    /// Mount it read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Create an encrypted EFS file system for it.
    #[serde(default)]
    pub create: bool,
    /// Or mount this existing file system (`fs-…`; fargate-rs does not change it).
    #[serde(default)]
    pub file_system_id: Option<String>,
    /// With `create`: mount through an access point that fargate-rs creates (clients act as
    /// its POSIX user and see its directory as the root).
    #[serde(default)]
    pub access_point: Option<AccessPointSettings>,
    /// Or a managed EBS volume that ECS creates for each task of the service (and deletes
    /// with it), from these settings: `{"size_gib": 20}` (see [`crate::ebs::EbsVolume`]). At
    /// most one per app; not on a scheduled job.
    #[serde(default)]
    pub ebs: Option<crate::ebs::EbsVolume>,
    /// Or a bind mount volume: a directory of the task's ephemeral storage (gone with the
    /// task), for a read-only root file system or scratch space.
    #[serde(default)]
    pub bind: bool,
}

/// The access point of a created EFS volume. In JSON: `{"uid": 1000, "gid": 1000, "path":
/// "/app"}`.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AccessPointSettings {
    /// The POSIX user id every client acts as.
    pub uid: u32,
    /// The POSIX group id every client acts as.
    pub gid: u32,
    /// The directory clients see as the root (absolute; created owned by `uid:gid`, mode
    /// 0755, when it does not exist).
    pub path: String,
}

impl AppVolume {
    /// A volume `name` on a file system fargate-rs creates, mounted at `path`.
    pub fn created(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            read_only: false,
            create: true,
            file_system_id: None,
            access_point: None,
            ebs: None,
            bind: false,
        }
    }

    /// Mount through an access point that fargate-rs creates, as `uid:gid`, at `path`.
    #[must_use]
    pub fn access_point(mut self, uid: u32, gid: u32, path: impl Into<String>) -> Self {
        self.access_point = Some(AccessPointSettings {
            uid,
            gid,
            path: path.into(),
        });
        self
    }

    /// A volume `name` on the existing file system `file_system_id`, mounted at `path`.
    pub fn existing(
        name: impl Into<String>,
        path: impl Into<String>,
        file_system_id: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            read_only: false,
            create: false,
            file_system_id: Some(file_system_id.into()),
            access_point: None,
            ebs: None,
            bind: false,
        }
    }

    /// A managed EBS volume `name` that ECS creates for each task with the settings `ebs`,
    /// mounted at `path`.
    ///
    /// ```
    /// use fargate_deploy::AppVolume;
    /// use fargate_deploy::ebs::EbsVolume;
    /// let v = AppVolume::ebs("scratch", "/scratch", EbsVolume::new(50).throughput(250));
    /// assert!(!v.create);
    /// ```
    pub fn ebs(
        name: impl Into<String>,
        path: impl Into<String>,
        ebs: crate::ebs::EbsVolume,
    ) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            read_only: false,
            create: false,
            file_system_id: None,
            access_point: None,
            ebs: Some(ebs),
            bind: false,
        }
    }

    /// A bind mount volume `name` on the task's ephemeral storage, mounted at `path`.
    pub fn bind(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            read_only: false,
            create: false,
            file_system_id: None,
            access_point: None,
            ebs: None,
            bind: true,
        }
    }

    /// Mount it read-only.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The checks of app `app`'s volume `i` (fields `<app>.volumes.<name>.<field>`, and
    /// `<app>.volumes[i].ebs.<field>` for an EBS volume).
    fn validate(&self, app: &Ident, i: usize) -> Result<(), InvalidValue> {
        let field = |f: &str| format!("{app}.volumes.{}.{f}", self.name);
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(InvalidValue::new(
                format!("{app}.volumes.name"),
                &self.name,
                "not a volume name fargate-rs accepts",
                "1 to 32 lower-case letters, digits and hyphens",
            ));
        }
        let at = |f: &str| format!("{app}.volumes[{i}].{f}");
        if self.bind {
            let other = if self.create {
                Some(("create", "true".to_string()))
            } else if let Some(id) = &self.file_system_id {
                Some(("file_system_id", id.clone()))
            } else if self.ebs.is_some() {
                Some(("ebs", self.name.clone()))
            } else {
                self.access_point
                    .as_ref()
                    .map(|ap| ("access_point", ap.path.clone()))
            };
            if let Some((f, v)) = other {
                return Err(InvalidValue::new(
                    at(f),
                    v,
                    "a bind mount volume is the task's own storage, no file system or EBS volume",
                    "bind alone, or create / file_system_id / ebs without bind",
                ));
            }
            return Ok(());
        }
        if let Some(ebs) = &self.ebs {
            let other = if self.create {
                Some(("create", "true".to_string()))
            } else if let Some(id) = &self.file_system_id {
                Some(("file_system_id", id.clone()))
            } else {
                self.access_point
                    .as_ref()
                    .map(|ap| ("access_point", ap.path.clone()))
            };
            if let Some((f, v)) = other {
                return Err(InvalidValue::new(
                    at(f),
                    v,
                    "an EBS volume has no EFS file system",
                    "ebs alone, or create / file_system_id without ebs",
                ));
            }
            return ebs.validate(&at("ebs"));
        }
        match (self.create, &self.file_system_id) {
            (true, Some(id)) => Err(InvalidValue::new(
                field("file_system_id"),
                id,
                "a created volume has no file system id",
                "create: true without file_system_id, or file_system_id without create",
            )),
            (false, None) => Err(InvalidValue::new(
                field("create"),
                "false",
                "the volume names no file system",
                "create: true, the file_system_id of an existing file system, ebs, or bind: true",
            )),
            _ => Ok(()),
        }?;
        if let Some(ap) = &self.access_point {
            if !self.create {
                return Err(InvalidValue::new(
                    field("access_point"),
                    &ap.path,
                    "only a created volume gets an access point",
                    "create: true, or no access_point",
                ));
            }
            let valid = ap.path.starts_with('/')
                && ap.path.len() <= 100
                && !ap.path.split('/').any(|s| s == "..")
                && !ap.path.chars().any(char::is_control);
            if !valid {
                return Err(InvalidValue::new(
                    field("access_point.path"),
                    &ap.path,
                    "not an absolute path",
                    "a path starting with / of at most 100 characters, without .. segments",
                ));
            }
        }
        Ok(())
    }

    /// The file system's name in `env` for app `app`, `<env>-<app>-<name>`.
    pub fn file_system_name(&self, env: &Ident, app: &Ident) -> EcsName {
        EcsName::derive(&[env.as_str(), app.as_str(), self.name.as_str()])
    }

    fn efs(&self) -> crate::task_definition::EfsVolume {
        match &self.file_system_id {
            Some(id) => crate::task_definition::EfsVolume::new(id.clone()),
            None if self.access_point.is_some() => crate::task_definition::EfsVolume::created()
                .access_point(crate::task_definition::volume::CREATED_AP_PLACEHOLDER),
            None => crate::task_definition::EfsVolume::created(),
        }
    }
}

/// The defaults of the builders' inputs: each one is used by the builder
/// (`#[builder(default = ...)]`) and by deserialization (`#[serde(default = ...)]`), so an app
/// built in code and one read from a file get the same.
pub(crate) mod defaults {
    /// CPU units (0.25 vCPU).
    pub(crate) fn cpu() -> u32 {
        256
    }
    /// Task memory in MiB.
    pub(crate) fn memory() -> u32 {
        512
    }
    /// Tasks of a service.
    pub(crate) fn desired_count() -> u32 {
        1
    }
    /// Log retention in days.
    pub(crate) fn log_retention_days() -> u16 {
        30
    }
    /// For the flags that are on unless turned off.
    pub(crate) fn on() -> bool {
        true
    }
    /// Seconds a target drains before it is deregistered (AWS's own is 300).
    pub(crate) fn deregistration_delay() -> u32 {
        30
    }
    /// Seconds after a task starts during which failing load balancer health checks do not
    /// stop it.
    pub(crate) fn health_check_grace_period() -> u32 {
        60
    }
}

impl From<&str> for Image {
    fn from(s: &str) -> Self {
        Image::External(s.to_string())
    }
}

impl From<String> for Image {
    fn from(s: String) -> Self {
        Image::External(s)
    }
}

/// `Debug` for a struct that lists every field (a field added later and not listed is a
/// compile error), with the environment maps given after `env` shown with secret-looking
/// values redacted ([`fargate_core::redact`]).
macro_rules! debug_redacting_env {
    ($ty:ident { $($field:ident),* $(,)? } env { $($env:ident),* $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let $ty { $($field,)* $($env,)* } = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), $field))*
                    $(.field(stringify!($env), &::fargate_core::redact::DebugEnv($env)))*
                    .finish()
            }
        }
    };
}
pub(crate) use debug_redacting_env;

/// The validated settings every app shares (size, image, container, logs,
/// roles, rollout). Built by the app builders; see [`crate::ContainerService`].
///
/// Its `Debug` redacts secret-looking environment values.
#[derive(Clone)]
pub struct AppSettings {
    /// The app's name.
    pub name: Ident,
    /// The image.
    pub image: Image,
    /// CPU and memory.
    pub size: TaskSize,
    /// CPU architecture.
    pub architecture: Architecture,
    /// The container port, if it serves one.
    pub port: Option<Port>,
    /// Command override.
    pub command: Vec<String>,
    /// Plain environment variables.
    pub environment: BTreeMap<String, String>,
    /// Secrets by reference, by variable name.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Container health check command (shell).
    pub health_check: Option<String>,
    /// Extra containers.
    pub sidecars: Vec<ContainerSpec>,
    /// Container-level memory reservation (MiB).
    pub memory_reservation: Option<u32>,
    /// Log retention in days.
    pub log_retention_days: u16,
    /// Statements of the task role (none, and no managed policy: no task role).
    pub task_role_statements: Vec<PolicyStatement>,
    /// Managed policies attached to the task role (IAM policy ARNs).
    pub task_role_managed_policies: Vec<String>,
    /// User tags.
    pub tags: Tags,
    /// Rollout watching.
    pub rollout: RolloutOptions,
    /// EFS volumes of the main container.
    pub volumes: Vec<AppVolume>,
    /// The name and application protocol of the port's mapping (ECS Service Connect).
    pub port_name: Option<(String, Option<crate::service_connect::AppProtocol>)>,
}

debug_redacting_env!(AppSettings {
    name,
    image,
    size,
    architecture,
    port,
    command,
    secrets,
    health_check,
    sidecars,
    memory_reservation,
    log_retention_days,
    task_role_statements,
    task_role_managed_policies,
    tags,
    rollout,
    volumes,
    port_name,
} env { environment });

/// The app-level resources of the common layer, with the ids and keys that
/// dependents use.
pub(crate) struct CommonLayer {
    pub resources: Vec<Arc<dyn Resource<Clients>>>,
    pub security_group: ResourceId,
    pub security_group_id: Ref<String>,
    pub execution_role: ResourceId,
    pub task_role: Option<ResourceId>,
    pub logs: LogTarget,
}

/// What a blue/green, linear or canary deployment adds to an app behind a load balancer:
/// the alternate target group, and the service's traffic shift (alternate group, production
/// listener rule or listener, load balancer role).
pub(crate) struct ShiftParts {
    pub alternate: fargate_net::target_group::TargetGroupSpec,
    pub shift: crate::service::TrafficShift,
}

/// A resource an app's current configuration does not use but an earlier one may have
/// made (the alternate target group and load balancer role of a blue/green, linear or
/// canary deployment, after a switch back to rolling): apply leaves it alone without
/// reading anything, destroy deletes it when it exists (and is ours). Its id is
/// `fargate:retired <the resource's id>`, a planner value shown only when it deletes.
#[derive(Debug, Clone)]
pub(crate) struct Retired<K>(pub K);

impl<K: Kind<Clients>> Kind<Clients> for Retired<K> {
    type Observed = K::Observed;

    fn id(&self) -> ResourceId {
        ResourceId::new("fargate:retired", self.0.id().to_string())
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.0.depends_on()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<K::Observed>, Error>> {
        match mode {
            Mode::Destroy => self.0.observe(clients, round, mode),
            Mode::Apply => Box::pin(async { Ok(None) }),
        }
    }

    fn diff(&self, _: Option<&K::Observed>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::NoOp)
    }

    fn destroy_change(&self, observed: Option<&K::Observed>) -> Change {
        self.0.destroy_change(observed)
    }

    fn apply<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a StepContext,
        _: &'a Change,
        _: Option<&'a K::Observed>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a K::Observed,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.0.destroy(clients, ctx, observed)
    }
}

/// The id (output) and producer of a created volume's file system.
type FileSystemOf<'a> = dyn Fn(&AppVolume) -> (Ref<String>, ResourceId) + 'a;

/// The raw inputs every builder shares, before validation.
pub(crate) struct RawSettings {
    pub name: String,
    pub image: Image,
    pub cpu: u32,
    pub memory: u32,
    pub architecture: Architecture,
    pub port: Option<u16>,
    pub command: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub health_check: Option<String>,
    pub sidecars: Vec<ContainerSpec>,
    pub memory_reservation: Option<u32>,
    pub log_retention_days: u16,
    pub task_role_statements: Vec<PolicyStatement>,
    pub task_role_managed_policies: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub rollout: RolloutOptions,
    pub volumes: Vec<AppVolume>,
}

impl RawSettings {
    /// Validate (no AWS calls); errors name the field as `<app>.<field>`.
    pub(crate) fn validate(self) -> Result<AppSettings, Error> {
        let name: Ident = self
            .name
            .parse()
            .map_err(|e: InvalidValue| e.in_field("name"))?;
        crate::preflight::check_app_name(&name)?;
        RetentionDays::new(self.log_retention_days)
            .map_err(|e| e.in_field(format!("{name}.log_retention_days")))?;
        let size = TaskSize::new(self.cpu, self.memory).map_err(|e| {
            let field = if e.field == "cpu" { "cpu" } else { "memory" };
            e.in_field(format!("{name}.{field}"))
        })?;
        let port = self
            .port
            .map(|p| Port::new(p).map_err(|e| e.in_field(format!("{name}.port"))))
            .transpose()?;
        let mut secrets = BTreeMap::new();
        for (k, v) in &self.secrets {
            let s: SecretRef = v
                .parse()
                .map_err(|e: InvalidValue| e.in_field(format!("{name}.secrets.{k}")))?;
            secrets.insert(k.clone(), s);
        }
        let tags =
            Tags::try_from_iter(self.tags).map_err(|e| e.in_field(format!("{name}.tags")))?;
        for (i, arn) in self.task_role_managed_policies.iter().enumerate() {
            crate::iam::check_policy_arn(&format!("{name}.task_role_managed_policies[{i}]"), arn)?;
        }
        for (i, v) in self.volumes.iter().enumerate() {
            v.validate(&name, i)?;
        }
        if let Some((i, _)) = self
            .volumes
            .iter()
            .enumerate()
            .filter(|(_, v)| v.ebs.is_some())
            .nth(1)
        {
            return Err(InvalidValue::new(
                format!("{name}.volumes[{i}].ebs"),
                &self.volumes[i].name,
                "a Fargate task takes at most one EBS volume",
                "one volume with ebs; more storage as EFS volumes",
            )
            .into());
        }
        let settings = AppSettings {
            name,
            image: self.image,
            size,
            architecture: self.architecture,
            port,
            command: self.command,
            environment: self.environment,
            secrets,
            health_check: self.health_check,
            sidecars: self.sidecars,
            memory_reservation: self.memory_reservation,
            log_retention_days: self.log_retention_days,
            task_role_statements: self.task_role_statements,
            task_role_managed_policies: self.task_role_managed_policies,
            tags,
            rollout: self.rollout,
            volumes: self.volumes,
            port_name: None,
        };
        settings.validate()?;
        Ok(settings)
    }
}

impl AppSettings {
    /// Whether the app has a task role: statements or managed policies of its own.
    pub fn has_task_role(&self) -> bool {
        !self.task_role_statements.is_empty()
            || !self.task_role_managed_policies.is_empty()
            || self.volumes.iter().any(|v| v.create)
    }

    /// The task definition with the app's volumes: a created one on its file system's id
    /// (`file_system` gives the output key by volume; `None` validates with a placeholder).
    fn with_volumes(
        &self,
        mut td: crate::task_definition::TaskDefinitionBuilder,
        file_system: Option<&FileSystemOf<'_>>,
    ) -> crate::task_definition::TaskDefinitionBuilder {
        for v in &self.volumes {
            if v.ebs.is_some() {
                td = td.configured_at_launch_volume(v.name.as_str());
                continue;
            }
            if v.bind {
                td = td.volume(v.name.as_str());
                continue;
            }
            td = match (v.create, file_system) {
                (true, Some(fs)) => {
                    let (id, producer) = fs(v);
                    let name = producer.name.clone();
                    let ap = v
                        .access_point
                        .as_ref()
                        .map(|_| Ref::Output(crate::efs::access_point_id(&name)));
                    let mut td = td
                        .created_efs_volume(v.name.as_str(), id, ap, v.efs())
                        .depends_on(producer);
                    if v.access_point.is_some() {
                        td = td.depends_on(crate::efs::access_point_resource(&name));
                    }
                    td
                }
                _ => td.efs_volume(v.name.as_str(), v.efs()),
            };
        }
        td
    }

    /// The role ECS assumes to move this app's load balancer traffic (blue/green, linear,
    /// canary), `<env>-<app>-ecs-lb`, with the managed policy of `partition`.
    ///
    /// # Errors
    /// An invalid partition.
    pub(crate) fn load_balancer_role(
        &self,
        env: &Environment,
        partition: &str,
    ) -> Result<IamRoleSpec, Error> {
        Ok(IamRoleSpec::load_balancer_role(
            env.name(),
            &self.name,
            self.ownership(env, "ecs-lb-role"),
            partition,
        )?
        .tags(self.tags.clone()))
    }

    /// The role ECS assumes to create and attach this app's managed EBS volumes,
    /// `<env>-<app>-ecs-ebs`, with the managed policy of `partition`.
    ///
    /// # Errors
    /// An invalid partition.
    pub(crate) fn volume_role(
        &self,
        env: &Environment,
        partition: &str,
    ) -> Result<IamRoleSpec, Error> {
        Ok(IamRoleSpec::volume_role(
            env.name(),
            &self.name,
            self.ownership(env, "ecs-ebs-role"),
            partition,
        )?
        .tags(self.tags.clone()))
    }

    /// The service's managed EBS volumes (at most one), with the infrastructure role.
    ///
    /// # Errors
    /// An invalid partition.
    pub(crate) fn ebs_volumes(
        &self,
        env: &Environment,
    ) -> Result<Vec<crate::ebs::ServiceEbsVolume>, Error> {
        let mut out = Vec::new();
        for v in &self.volumes {
            let Some(ebs) = &v.ebs else { continue };
            // The role's name and ARN do not depend on the partition of its managed policy.
            let role = self.volume_role(env, "aws")?;
            out.push(crate::ebs::ServiceEbsVolume {
                name: v.name.clone(),
                ebs: ebs.clone(),
                role_arn: Ref::Output(role_arn(role.name())),
                role_name: role.name().to_string(),
                role_id: role_id(role.name()),
            });
        }
        Ok(out)
    }

    /// [`Self::traffic_shift`] when `deployment` moves traffic between target groups
    /// (blue/green, linear, canary), `None` for a rolling one.
    ///
    /// # Errors
    /// Invalid target group settings.
    pub(crate) fn traffic_shift_for(
        &self,
        deployment: &crate::Deployment,
        env: &Environment,
        target: &crate::shared_lb::TargetSettings,
        port: Port,
        production: (Ref<String>, ResourceId),
    ) -> Result<Option<ShiftParts>, Error> {
        if !deployment.needs_load_balancer() {
            return Ok(None);
        }
        self.traffic_shift(env, target, port, production).map(Some)
    }

    /// The alternate target group (like the first: `target`'s settings on `port`) and the
    /// traffic shift through `production` (the listener rule or listener ARN and its id).
    ///
    /// # Errors
    /// Invalid target group settings.
    pub(crate) fn traffic_shift(
        &self,
        env: &Environment,
        target: &crate::shared_lb::TargetSettings,
        port: Port,
        production: (Ref<String>, ResourceId),
    ) -> Result<ShiftParts, Error> {
        let alternate = target.target_group_as(
            "target-group-alt",
            env.name(),
            &self.name,
            port,
            env.vpc_id(),
            env.network().vpc_resource_id(),
            &self.tags,
        )?;
        // The role's name and ARN do not depend on the partition of its managed policy.
        let role = self.load_balancer_role(env, "aws")?;
        let shift = crate::service::TrafficShift {
            alternate_target_group: Ref::Output(alternate.arn()),
            alternate_target_group_id: alternate.id().clone(),
            production_listener_rule: production.0,
            production_listener_rule_id: production.1,
            role_arn: Ref::Output(role_arn(role.name())),
            role_name: role.name().to_string(),
            role_id: role_id(role.name()),
            test_listener_rule: None,
        };
        Ok(ShiftParts { alternate, shift })
    }

    /// What an app behind a load balancer adds for its deployment: with a traffic-shifting
    /// strategy (`shift` given), the alternate target group and the load balancer role; else
    /// the same two [`Retired`], so that destroy removes what an earlier configuration made.
    ///
    /// # Errors
    /// An invalid partition or target group settings.
    pub(crate) fn deployment_resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
        shift: Option<ShiftParts>,
        retired: impl FnOnce() -> Result<ShiftParts, Error>,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let role = self.load_balancer_role(env, &aws.partition)?;
        Ok(match shift {
            Some(s) => vec![
                fargate_core::resource::node(s.alternate),
                fargate_core::resource::node(role),
            ],
            None => vec![
                fargate_core::resource::node(Retired(retired()?.alternate)),
                fargate_core::resource::node(Retired(role)),
            ],
        })
    }

    /// The ownership of this app's resources in `env`.
    pub fn ownership(&self, env: &Environment, component: &str) -> Ownership {
        Ownership::new(env.name().clone())
            .with_app(self.name.clone())
            .with_component(component)
    }

    /// The task definition family, `<env>-<app>`.
    pub fn family(&self, env: &Environment) -> EcsName {
        EcsName::derive(&[env.name().as_str(), self.name.as_str()])
    }

    /// The name of the app's task security group, `<env>-<app>-task`.
    pub fn task_sg_name(&self, env: &Environment) -> EcsName {
        EcsName::derive(&[env.name().as_str(), self.name.as_str(), "task"])
    }

    /// The output key of the task security group's id.
    pub fn task_sg_key(&self, env: &Environment) -> fargate_core::exec::OutputKey<String> {
        ResourceId::new("ec2:security-group", self.task_sg_name(env).as_str()).output("id")
    }

    /// What a one-off run of this app's task needs.
    pub fn task_info(&self, env: &Environment) -> crate::deployer::TaskInfo {
        crate::deployer::TaskInfo {
            family: self.family(env),
            security_group: self.task_sg_key(env),
            logs: LogTarget {
                group: LogGroupName::derive(&["ecs", env.name().as_str(), self.name.as_str()])
                    .to_string(),
                stream_prefix: self.name.to_string(),
            },
            container: self.name.to_string(),
        }
    }

    /// What the pre-flight checks look for before this app is deployed: its image when it is
    /// in the app's own ECR repository, and the secrets it references (main container and
    /// sidecars), by variable name.
    pub fn preflight(&self, env: &Environment) -> crate::preflight::Requirements {
        let ecr_image = match &self.image {
            Image::Ecr { tag } => Some((self.repository(env), tag.clone())),
            Image::External(_) => None,
        };
        let mut secrets: Vec<(String, SecretRef)> = self
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for c in &self.sidecars {
            secrets.extend(
                c.secret_refs()
                    .iter()
                    .map(|(k, v)| (format!("{}.{k}", c.name()), v.clone())),
            );
        }
        crate::preflight::Requirements {
            app: self.name.clone(),
            ecr_image,
            secrets,
        }
    }

    /// The app's ECR repository name, `<env>/<app>`.
    pub fn repository(&self, env: &Environment) -> EcrRepositoryName {
        EcrRepositoryName::derive(&[env.name().as_str(), self.name.as_str()])
    }

    /// The image reference the task definition uses.
    ///
    /// # Errors
    /// An invalid image reference or ECR tag.
    pub fn image_ref(&self, env: &Environment, aws: &AwsContext) -> Result<ImageRef, InvalidValue> {
        match &self.image {
            Image::External(s) => s
                .parse()
                .map_err(|e: InvalidValue| e.in_field(format!("{}.image", self.name))),
            Image::Ecr { tag } => {
                let repo = self.repository(env);
                let base = ImageRef::ecr(&aws.account_id, &aws.region, repo.as_str(), "latest")?;
                if let Some(digest) = tag.strip_prefix("sha256:") {
                    base.with_digest(&format!("sha256:{digest}"))
                } else {
                    base.with_tag(tag)
                }
                .map_err(|e| e.in_field(format!("{}.image", self.name)))
            }
        }
    }

    /// The main container.
    ///
    /// # Errors
    /// Invalid environment variable names or duplicates.
    pub fn main_container(&self, image: ImageRef) -> Result<ContainerSpec, InvalidValue> {
        let mut c = ContainerSpec::new(self.name.as_str(), image);
        if let Some(p) = self.port {
            c = c.port(p);
            if let Some((name, app)) = &self.port_name {
                c = c.port_name(p, name, app.map(|a| a.as_str()));
            }
        }
        if !self.command.is_empty() {
            c = c.command(self.command.clone());
        }
        for (k, v) in &self.environment {
            c = c.env(k, v.clone());
        }
        for (k, s) in &self.secrets {
            c = c.secret(k, s.clone());
        }
        if let Some(h) = &self.health_check {
            c = c.health_check(HealthCheck::shell(h.clone()));
        }
        if let Some(m) = self.memory_reservation {
            c = c.memory_reservation_mib(m);
        }
        for v in &self.volumes {
            c = c.mount(v.name.as_str(), v.path.as_str(), v.read_only);
        }
        Ok(c)
    }

    /// Validate everything that can be checked without an environment or AWS:
    /// the task definition is built once with placeholder names.
    ///
    /// # Errors
    /// The first invalid field.
    pub(crate) fn validate(&self) -> Result<(), InvalidValue> {
        let placeholder = ImageRef::ecr("123456789012", "us-east-1", "validate", "latest")?;
        let image = match &self.image {
            Image::External(s) => s
                .parse()
                .map_err(|e: InvalidValue| e.in_field(format!("{}.image", self.name)))?,
            Image::Ecr { tag } => placeholder
                .with_tag(tag)
                .map_err(|e| e.in_field(format!("{}.image", self.name)))?,
        };
        let owner = Ownership::new(self.name.clone());
        let mut td = TaskDefinitionSpec::builder(
            EcsName::derive(&["validate", self.name.as_str()]),
            owner,
            self.size,
            Ref::Known("arn:aws:iam::123456789012:role/validate".to_string()),
            self.main_container(image)?,
        );
        for s in &self.sidecars {
            td = td.sidecar(s.clone());
        }
        let td = self.with_volumes(td, None);
        td.build().map(|_| ()).map_err(|e| {
            // The task definition's volume fields are the app's.
            match e.field.strip_prefix("volumes.") {
                Some(rest) => {
                    let field = format!("{}.volumes.{}", self.name, rest.replace(".efs.", "."));
                    e.in_field(field)
                }
                None => e,
            }
        })
    }

    /// The task role's statement for the created EFS volumes: `ClientMount` and
    /// `ClientWrite` on the app's file systems (by their `Name` tag), none without one.
    fn efs_statement(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Option<PolicyStatement>, Error> {
        let names: Vec<String> = self
            .volumes
            .iter()
            .filter(|v| v.create)
            .map(|v| v.file_system_name(env.name(), &self.name).to_string())
            .collect();
        if names.is_empty() {
            return Ok(None);
        }
        let arn = format!(
            "arn:{}:elasticfilesystem:{}:{}:file-system/*",
            aws.partition, aws.region, aws.account_id
        );
        let statement = PolicyStatement::allow(
            [
                "elasticfilesystem:ClientMount",
                "elasticfilesystem:ClientWrite",
            ],
            [arn],
        )
        .map_err(|e| e.in_field(format!("{}.volumes", self.name)))?
        .condition("StringEquals", "aws:ResourceTag/Name", names);
        Ok(Some(statement))
    }

    /// The resources of a created EFS volume: the file system, the security group that
    /// allows NFS from `tasks`, the mount targets in the task subnets.
    fn created_volume(
        &self,
        env: &Environment,
        v: &AppVolume,
        tasks: &fargate_net::security_group::GroupRef,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let fs_name = v.file_system_name(env.name(), &self.name).to_string();
        let component = format!("efs-{}", v.name);
        let fs = crate::efs::FileSystemSpec::new(
            fs_name.clone(),
            self.ownership(env, &component),
            self.tags.clone(),
        );
        let sg_name = EcsName::derive(&[fs_name.as_str(), "efs"]);
        let nfs = Port::new(2049).map_err(|e| e.in_field(format!("{}.volumes", self.name)))?;
        let mut sg = SecurityGroupSpec::new(
            sg_name.as_str(),
            format!(
                "fargate-rs EFS {fs_name}: NFS from the tasks of {}",
                self.name
            ),
            env.vpc_id(),
            self.ownership(env, &format!("sg-{component}")),
        )?
        .with_tags(self.tags.clone())
        .allow(IngressRule::tcp(nfs, Source::Group(tasks.clone())));
        sg.depends_on.push(env.network().vpc_resource_id());
        sg.depends_on.extend(tasks.resource.clone());
        let access_point = v.access_point.as_ref().map(|ap| {
            crate::efs::AccessPointSpec::new(
                fs_name.clone(),
                (ap.uid, ap.gid),
                ap.path.clone(),
                self.ownership(env, &component),
                self.tags.clone(),
            )
        });
        let targets = crate::efs::MountTargetsSpec::new(
            fs_name,
            env.task_subnets(),
            Ref::Output(sg.group_id_key()),
            vec![sg.resource_id(), env.egress_id()],
        );
        let mut out = vec![
            fargate_core::resource::node(fs),
            sg.into_resource(),
            fargate_core::resource::node(targets),
        ];
        out.extend(access_point.map(fargate_core::resource::node));
        Ok(out)
    }

    /// The common layer in `env`: repository (for ECR images), log group,
    /// roles, task security group with `ingress`, task definition.
    pub(crate) fn common_layer(
        &self,
        env: &Environment,
        aws: &AwsContext,
        ingress: Vec<IngressRule>,
        sg_after: Vec<ResourceId>,
    ) -> Result<CommonLayer, Error> {
        let name = &self.name;
        let envn = env.name();
        let mut resources: Vec<Arc<dyn Resource<Clients>>> = Vec::new();
        let image = self.image_ref(env, aws)?;

        let logs = LogGroupSpec::for_app(envn, name, self.ownership(env, "logs"))
            .retention_days(self.log_retention_days)
            .map_err(|e| e.in_field(format!("{name}.log_retention_days")))?
            .tags(self.tags.clone());
        let log_name = logs.name().clone();
        let log_id = log_group_id(&log_name);
        resources.push(fargate_core::resource::node(logs));

        let mut access = ExecutionAccess::new()
            .image(image.clone())
            .log_group(log_name.clone());
        for s in self.secrets.values() {
            access = access.secret(s.clone());
        }
        let exec =
            IamRoleSpec::execution_role(envn, name, self.ownership(env, "execution-role"), access)
                .tags(self.tags.clone());
        let exec_name = exec.name().clone();
        resources.push(fargate_core::resource::node(exec));

        let mut deps = vec![log_id.clone(), role_id(&exec_name)];
        if let Image::Ecr { .. } = &self.image {
            let repo =
                EcrRepositorySpec::new(self.repository(env), self.ownership(env, "repository"))
                    .tags(self.tags.clone());
            deps.push(repository_id(repo.name()));
            resources.push(fargate_core::resource::node(repo));
        }

        let task_role = if self.has_task_role() {
            let mut statements = self.task_role_statements.clone();
            statements.extend(self.efs_statement(env, aws)?);
            let mut role =
                IamRoleSpec::task_role(envn, name, self.ownership(env, "task-role"), statements)
                    .tags(self.tags.clone());
            for arn in &self.task_role_managed_policies {
                role = role
                    .managed_policy(arn)
                    .map_err(|e| e.in_field(format!("{name}.task_role_managed_policies")))?;
            }
            let role_name = role.name().clone();
            resources.push(fargate_core::resource::node(role));
            deps.push(role_id(&role_name));
            Some(role_name)
        } else {
            None
        };

        let family = self.family(env);
        let mut td = TaskDefinitionSpec::builder(
            family.clone(),
            self.ownership(env, "task-definition"),
            self.size,
            Ref::Output(role_arn(&exec_name)),
            self.main_container(image)?,
        )
        .architecture(self.architecture)
        .logs(log_name.clone(), name.as_str())
        .tags(self.tags.clone());
        if let Some(r) = &task_role {
            td = td.task_role(Ref::Output(role_arn(r)));
        }
        for s in &self.sidecars {
            td = td.sidecar(s.clone());
        }
        let fs_of = |v: &AppVolume| {
            let fs = v.file_system_name(envn, name).to_string();
            (
                Ref::Output(crate::efs::file_system_id(&fs)),
                crate::efs::file_system_resource(&fs),
            )
        };
        td = self.with_volumes(td, Some(&fs_of));
        for v in self.volumes.iter().filter(|v| v.create) {
            let fs = v.file_system_name(envn, name).to_string();
            td = td.depends_on(crate::efs::mount_targets_resource(&fs));
        }
        for d in deps {
            td = td.depends_on(d);
        }
        let td = td.build()?;
        resources.push(fargate_core::resource::node(td));

        let sg_name = self.task_sg_name(env);
        let mut sg = SecurityGroupSpec::new(
            sg_name.as_str(),
            format!("fargate-rs tasks of {envn}/{name}"),
            env.vpc_id(),
            self.ownership(env, "sg-task"),
        )?
        .with_tags(self.tags.clone());
        sg.depends_on.push(env.network().vpc_resource_id());
        sg.depends_on.extend(sg_after);
        for rule in ingress {
            sg = sg.allow(rule);
        }
        let sg_id = sg.resource_id();
        let sg_key = sg.group_id_key();
        let task_group = sg.as_source();
        resources.push(sg.into_resource());
        for v in self.volumes.iter().filter(|v| v.create) {
            resources.extend(self.created_volume(env, v, &task_group)?);
        }

        Ok(CommonLayer {
            resources,
            security_group: sg_id,
            security_group_id: Ref::Output(sg_key),
            execution_role: role_id(&exec_name),
            task_role: task_role.as_ref().map(role_id),
            logs: LogTarget {
                group: log_name.to_string(),
                stream_prefix: name.to_string(),
            },
        })
    }
}
