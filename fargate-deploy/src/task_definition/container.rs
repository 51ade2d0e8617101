//! Container definitions: the desired container ([`ContainerSpec`]), its validation, and the
//! normalized view ([`ContainerView`]) both the desired and the observed container map to, so
//! that an unchanged container compares equal.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{
    ApplicationProtocol, ContainerCondition, ContainerDefinition, ContainerDependency,
    HealthCheck as SdkHealthCheck, KeyValuePair, LogConfiguration, LogDriver, PortMapping, Secret,
    TransportProtocol,
};
use fargate_core::redact::{DebugEnv, is_sensitive};
use fargate_core::{
    EcsName, EnvVarName, Error, Fields, ImageRef, InvalidValue, Port, ResourceId, SecretRef,
    TaskSize,
};
use serde_json::{Value, json};

use super::linux::{self, LinuxSettings, Ulimit};
use super::volume::{self, MountPoint, VolumesFrom};
use crate::aws_util::bad_request;

/// When a container may start relative to another one of the task.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum DependencyCondition {
    /// The other container has started.
    Start,
    /// The other container has exited (any exit code).
    Complete,
    /// The other container has exited with code 0.
    Success,
    /// The other container's health check passes (it must have one).
    Healthy,
}

impl DependencyCondition {
    fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::Start => "START",
            DependencyCondition::Complete => "COMPLETE",
            DependencyCondition::Success => "SUCCESS",
            DependencyCondition::Healthy => "HEALTHY",
        }
    }
}

/// A container health check run by ECS inside the container.
///
/// ```
/// use std::time::Duration;
/// use fargate_deploy::task_definition::HealthCheck;
/// let hc = HealthCheck::shell("curl -f http://localhost:8080/health || exit 1")
///     .interval(Duration::from_secs(15))
///     .start_period(Duration::from_secs(60));
/// ```
///
/// In JSON: `{"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}`, the timings
/// in seconds, each optional with the ECS default.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `CMD` or `CMD-SHELL` followed by the command.
    command: Vec<String>,
    /// Seconds between checks (5 to 300; default 30).
    #[serde(default = "default_interval")]
    interval: u32,
    /// Seconds a check may take (2 to 120; default 5).
    #[serde(default = "default_timeout")]
    timeout: u32,
    /// Failed checks before the container is unhealthy (1 to 10; default 3).
    #[serde(default = "default_retries")]
    retries: u32,
    /// Seconds after start during which failures do not count (0 to 300; default 0).
    #[serde(default)]
    start_period: u32,
}

/// The ECS defaults of a health check.
fn default_interval() -> u32 {
    30
}

fn default_timeout() -> u32 {
    5
}

fn default_retries() -> u32 {
    3
}

impl HealthCheck {
    /// A check running `command` in the container's shell (`CMD-SHELL`), every 30 s, 5 s
    /// timeout, 3 retries, no start period (the ECS defaults).
    pub fn shell(command: impl Into<String>) -> Self {
        Self::exec(["CMD-SHELL".to_string(), command.into()])
    }

    /// A check running `command` directly, as the ECS `healthCheck.command` list (starting with
    /// `CMD` or `CMD-SHELL`).
    pub fn exec<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            interval: default_interval(),
            timeout: default_timeout(),
            retries: default_retries(),
            start_period: 0,
        }
    }

    /// Time between checks (5 to 300 s).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = secs(interval);
        self
    }

    /// Time a check may take (2 to 120 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = secs(timeout);
        self
    }

    /// Failed checks before the container is unhealthy (1 to 10).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Grace period after start during which failures do not count (0 to 300 s).
    #[must_use]
    pub fn start_period(mut self, start_period: Duration) -> Self {
        self.start_period = secs(start_period);
        self
    }

    fn validate(&self, field: &str) -> Result<(), InvalidValue> {
        let first = self.command.first().map(String::as_str);
        if !matches!(first, Some("CMD" | "CMD-SHELL")) || self.command.len() < 2 {
            return Err(InvalidValue::new(
                format!("{field}.command"),
                format!("{:?}", self.command),
                "a health check command is CMD or CMD-SHELL followed by the command",
                r#"["CMD-SHELL", "curl -f http://localhost/ || exit 1"] or ["CMD", "/bin/check"]"#,
            ));
        }
        check_range(
            &format!("{field}.interval"),
            self.interval,
            5,
            300,
            "seconds",
        )?;
        check_range(&format!("{field}.timeout"), self.timeout, 2, 120, "seconds")?;
        check_range(&format!("{field}.retries"), self.retries, 1, 10, "attempts")?;
        check_range(
            &format!("{field}.start_period"),
            self.start_period,
            0,
            300,
            "seconds",
        )
    }
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn check_range(
    field: &str,
    value: u32,
    min: u32,
    max: u32,
    unit: &str,
) -> Result<(), InvalidValue> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            value.to_string(),
            "out of the range ECS accepts",
            format!("{min} to {max} {unit}"),
        ))
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// One container of a task: the app's main container or a sidecar.
///
/// Environment variable values are plain configuration and appear in plans; a variable whose
/// name contains `TOKEN`, `PASSWORD`, `SECRET`, `KEY` (and the like), or whose value is a URL
/// with a password, is redacted from plans and `Debug` ([`fargate_core::redact`]), but its
/// value is still stored in the task definition in clear text: put credentials in Secrets
/// Manager or SSM and pass them with [`secret`](Self::secret) instead.
///
/// ```
/// use fargate_deploy::task_definition::ContainerSpec;
/// let web = ContainerSpec::new("web", "nginx:1.27".parse()?)
///     .port("8080".parse()?)
///     .env("RUST_LOG", "info")
///     .secret("DATABASE_URL", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".parse()?);
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
///
/// Its `Debug` redacts secret-looking environment values ([`fargate_core::redact`]).
///
/// It deserializes from JSON through the same setters, e.g. `{"name": "proxy", "image":
/// "envoyproxy/envoy:v1.31", "ports": [9901], "env": {"LOG": "info"}, "secrets": {"TOKEN":
/// "/proxy/token"}, "depends_on": {"app": "Start"}, "stop_timeout_secs": 10, "cpu": 128,
/// "memory": 256, "init_process_enabled": true, "ulimits": {"nofile": {"soft": 65536, "hard":
/// 65536}}}` (an app file's `sidecars`; volumes and mounts are the builders' only).
///
/// ```
/// use fargate_deploy::task_definition::ContainerSpec;
/// let proxy: ContainerSpec = serde_json::from_str(r#"{"name": "proxy", "image": "envoyproxy/envoy:v1.31",
///     "cpu": 128, "memory": 256, "init_process_enabled": true,
///     "ulimits": {"nofile": {"soft": 65536, "hard": 65536}}}"#)?;
/// assert_eq!(proxy, ContainerSpec::new("proxy", "envoyproxy/envoy:v1.31".parse()?)
///     .cpu_units(128).memory_mib(256).init_process_enabled(true).ulimit("nofile", 65536, 65536));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(try_from = "ContainerFields")]
pub struct ContainerSpec {
    pub(crate) name: String,
    pub(crate) image: ImageRef,
    essential: bool,
    ports: Vec<Port>,
    environment: BTreeMap<EnvVarName, String>,
    secrets: BTreeMap<EnvVarName, SecretRef>,
    command: Option<Vec<String>>,
    entry_point: Option<Vec<String>>,
    health_check: Option<HealthCheck>,
    stop_timeout: Option<u32>,
    readonly_root_filesystem: bool,
    memory_reservation: Option<u32>,
    cpu: Option<u32>,
    memory: Option<u32>,
    linux: LinuxSettings,
    ulimits: Vec<Ulimit>,
    mount_points: Vec<MountPoint>,
    volumes_from: Vec<VolumesFrom>,
    depends_on: Vec<(String, DependencyCondition)>,
    /// The first invalid value given to a setter, reported by the task definition's `build`.
    error: Option<InvalidValue>,
    /// Port mapping names and application protocols (Service Connect), by port.
    port_names: BTreeMap<u16, (String, Option<String>)>,
}

impl std::fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            name,
            image,
            essential,
            ports,
            environment,
            secrets,
            command,
            entry_point,
            health_check,
            stop_timeout,
            readonly_root_filesystem,
            memory_reservation,
            cpu,
            memory,
            linux,
            ulimits,
            mount_points,
            volumes_from,
            depends_on,
            error,
            port_names,
        } = self;
        f.debug_struct("ContainerSpec")
            .field("name", name)
            .field("image", image)
            .field("essential", essential)
            .field("ports", ports)
            .field("environment", &DebugEnv(environment))
            .field("secrets", secrets)
            .field("command", command)
            .field("entry_point", entry_point)
            .field("health_check", health_check)
            .field("stop_timeout", stop_timeout)
            .field("readonly_root_filesystem", readonly_root_filesystem)
            .field("memory_reservation", memory_reservation)
            .field("cpu", cpu)
            .field("memory", memory)
            .field("linux", linux)
            .field("ulimits", ulimits)
            .field("mount_points", mount_points)
            .field("volumes_from", volumes_from)
            .field("depends_on", depends_on)
            .field("error", error)
            .field("port_names", port_names)
            .finish()
    }
}

/// A [`ContainerSpec`] as read from JSON, before its setters check it.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContainerFields {
    /// The container name, unique in the task.
    name: String,
    /// The image reference (`envoyproxy/envoy:v1.31`).
    image: String,
    /// Whether the task stops when this container stops (default true).
    #[serde(default = "essential_default")]
    essential: bool,
    /// The TCP ports the container listens on.
    #[serde(default)]
    ports: Vec<u16>,
    /// Environment variables.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Secrets by reference (Secrets Manager ARN, SSM parameter ARN or name), by variable name.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// Override the image's `CMD`.
    #[serde(default)]
    command: Option<Vec<String>>,
    /// Override the image's `ENTRYPOINT`.
    #[serde(default)]
    entry_point: Option<Vec<String>>,
    /// A health check.
    #[serde(default)]
    health_check: Option<HealthCheck>,
    /// Seconds between SIGTERM and SIGKILL when the task stops (2 to 120; Fargate's default 30).
    #[serde(default)]
    stop_timeout_secs: Option<u32>,
    /// Mount the root filesystem read-only (default false).
    #[serde(default)]
    readonly_root_filesystem: bool,
    /// Memory reserved for this container, in MiB.
    #[serde(default)]
    memory_reservation: Option<u32>,
    /// Containers of the task to wait for, by name, each with its condition.
    #[serde(default)]
    depends_on: BTreeMap<String, DependencyCondition>,
    /// CPU units reserved for this container (within the task's; 0 or none: unreserved).
    #[serde(default)]
    cpu: Option<u32>,
    /// Memory hard limit in MiB (the container is killed above it; within the task's).
    #[serde(default)]
    memory: Option<u32>,
    /// Run an init process as PID 1 that reaps zombies and forwards signals.
    #[serde(default)]
    init_process_enabled: bool,
    /// Linux capabilities to add (Fargate allows only `SYS_PTRACE`).
    #[serde(default)]
    add_capabilities: Vec<String>,
    /// Linux capabilities to drop.
    #[serde(default)]
    drop_capabilities: Vec<String>,
    /// Resource limits, by name (`nofile`, `nproc`, ...), each with its soft and hard limit.
    #[serde(default)]
    ulimits: BTreeMap<String, UlimitFields>,
}

/// A soft and a hard limit, as the JSON form gives them.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct UlimitFields {
    /// The soft limit (at most the hard one).
    soft: u32,
    /// The hard limit.
    hard: u32,
}

fn essential_default() -> bool {
    true
}

/// The JSON form: see [`ContainerSpec`].
impl schemars::JsonSchema for ContainerSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContainerSpec".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ContainerFields::json_schema(generator)
    }
}

impl TryFrom<ContainerFields> for ContainerSpec {
    type Error = InvalidValue;
    fn try_from(f: ContainerFields) -> Result<Self, InvalidValue> {
        let field = format!("container.{}", f.name);
        let image: ImageRef = f
            .image
            .parse()
            .map_err(|e: InvalidValue| e.in_field(format!("{field}.image")))?;
        let mut c = ContainerSpec::new(f.name, image)
            .essential(f.essential)
            .readonly_root_filesystem(f.readonly_root_filesystem);
        for port in f.ports {
            c = c.port(Port::new(port).map_err(|e| e.in_field(format!("{field}.ports")))?);
        }
        for (name, value) in f.env {
            c = c.env(name, value);
        }
        for (name, secret) in f.secrets {
            let secret: SecretRef = secret
                .parse()
                .map_err(|e: InvalidValue| e.in_field(format!("{field}.secrets.{name}")))?;
            c = c.secret(name, secret);
        }
        if let Some(command) = f.command {
            c = c.command(command);
        }
        if let Some(entry_point) = f.entry_point {
            c = c.entry_point(entry_point);
        }
        if let Some(check) = f.health_check {
            c = c.health_check(check);
        }
        if let Some(secs) = f.stop_timeout_secs {
            c = c.stop_timeout(Duration::from_secs(secs.into()));
        }
        if let Some(mib) = f.memory_reservation {
            c = c.memory_reservation_mib(mib);
        }
        for (container, condition) in f.depends_on {
            c = c.depends_on(container, condition);
        }
        if let Some(units) = f.cpu {
            c = c.cpu_units(units);
        }
        if let Some(mib) = f.memory {
            c = c.memory_mib(mib);
        }
        c = c.init_process_enabled(f.init_process_enabled);
        for cap in f.add_capabilities {
            c = c.add_capability(cap);
        }
        for cap in f.drop_capabilities {
            c = c.drop_capability(cap);
        }
        for (name, u) in f.ulimits {
            c = c.ulimit(name, u.soft, u.hard);
        }
        Ok(c)
    }
}

impl ContainerSpec {
    /// An essential container `name` running `image`.
    pub fn new(name: impl Into<String>, image: ImageRef) -> Self {
        Self {
            name: name.into(),
            image,
            essential: true,
            ports: Vec::new(),
            environment: BTreeMap::new(),
            secrets: BTreeMap::new(),
            command: None,
            entry_point: None,
            health_check: None,
            stop_timeout: None,
            readonly_root_filesystem: false,
            memory_reservation: None,
            cpu: None,
            memory: None,
            linux: LinuxSettings::default(),
            ulimits: Vec::new(),
            mount_points: Vec::new(),
            volumes_from: Vec::new(),
            depends_on: Vec::new(),
            error: None,
            port_names: BTreeMap::new(),
        }
    }

    /// The container name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image.
    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    /// The ports the container listens on (TCP).
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// Whether the task stops when this container stops (default `true`).
    #[must_use]
    pub fn essential(mut self, essential: bool) -> Self {
        self.essential = essential;
        self
    }

    /// The container listens on TCP `port` (the same port on the task's network interface).
    #[must_use]
    pub fn port(mut self, port: Port) -> Self {
        self.ports.push(port);
        self
    }

    /// Name the port mapping of `port` (one of [`ports`](Self::ports)) `name`, with an
    /// application protocol (`http`, `http2`, `grpc`): what ECS Service Connect publishes.
    #[must_use]
    pub fn port_name(mut self, port: Port, name: &str, app_protocol: Option<&str>) -> Self {
        self.port_names.insert(
            u16::from(port),
            (name.to_string(), app_protocol.map(str::to_string)),
        );
        self
    }

    /// The port mapping key of `port` in plans: `<port>/tcp`, and ` name=<name>` ` app=<protocol>`
    /// when it is named.
    fn port_view(&self, port: u16) -> String {
        let key = port_key(i32::from(port), "tcp");
        named_port_key(
            key,
            self.port_names
                .get(&port)
                .map(|(n, a)| (n.as_str(), a.as_deref())),
        )
    }

    /// The port mapping's `name` and `appProtocol` JSON members (when named).
    fn port_json(&self, port: u16, mut m: Value) -> Value {
        if let (Some((name, app)), Some(obj)) = (self.port_names.get(&port), m.as_object_mut()) {
            obj.insert("name".into(), json!(name));
            if let Some(a) = app {
                obj.insert("appProtocol".into(), json!(a));
            }
        }
        m
    }

    /// Set the environment variable `name` (an invalid name is reported when the task
    /// definition is built).
    #[must_use]
    pub fn env(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        match name.as_ref().parse::<EnvVarName>() {
            Ok(name) => {
                self.environment.insert(name, value.into());
            }
            Err(e) => self.keep_error(e.in_field(format!("container.{}.environment", self.name))),
        }
        self
    }

    /// Set the environment variable `name` from a secret, fetched by ECS when the task starts.
    #[must_use]
    pub fn secret(mut self, name: impl AsRef<str>, secret: SecretRef) -> Self {
        match name.as_ref().parse::<EnvVarName>() {
            Ok(name) => {
                self.secrets.insert(name, secret);
            }
            Err(e) => self.keep_error(e.in_field(format!("container.{}.secrets", self.name))),
        }
        self
    }

    /// Override the image's `CMD`.
    #[must_use]
    pub fn command<S: Into<String>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Override the image's `ENTRYPOINT`.
    #[must_use]
    pub fn entry_point<S: Into<String>>(
        mut self,
        entry_point: impl IntoIterator<Item = S>,
    ) -> Self {
        self.entry_point = Some(entry_point.into_iter().map(Into::into).collect());
        self
    }

    /// A health check.
    #[must_use]
    pub fn health_check(mut self, check: HealthCheck) -> Self {
        self.health_check = Some(check);
        self
    }

    /// Time between SIGTERM and SIGKILL when the task stops (2 to 120 s; Fargate's default is 30 s).
    #[must_use]
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = Some(secs(timeout));
        self
    }

    /// Mount the root filesystem read-only (default `false`).
    #[must_use]
    pub fn readonly_root_filesystem(mut self, readonly: bool) -> Self {
        self.readonly_root_filesystem = readonly;
        self
    }

    /// Memory reserved for this container, in MiB (a soft limit within the task's memory; at
    /// most [`memory_mib`](Self::memory_mib) when both are set).
    #[must_use]
    pub fn memory_reservation_mib(mut self, mib: u32) -> Self {
        self.memory_reservation = Some(mib);
        self
    }

    /// CPU units reserved for this container (1024 = one vCPU), within the task's CPU: the
    /// containers' CPU units add up to at most the task's (a Fargate rule). `0`, like unset,
    /// reserves nothing (ECS reports an unset container CPU as 0, and it reads as unchanged).
    ///
    /// ```
    /// use fargate_core::{Ownership, Ref, TaskSize};
    /// use fargate_deploy::task_definition::{ContainerSpec, TaskDefinitionSpec};
    ///
    /// let app = ContainerSpec::new("app", "nginx:1.27".parse()?).cpu_units(768).memory_mib(1536);
    /// let otel = ContainerSpec::new("otel", "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0".parse()?)
    ///     .essential(false)
    ///     .cpu_units(256)
    ///     .memory_reservation_mib(256)
    ///     .memory_mib(512);
    /// let exec = Ref::Known("arn:aws:iam::123456789012:role/app-exec".to_string());
    /// let owner = Ownership::new("prod".parse()?);
    /// TaskDefinitionSpec::builder("app".parse()?, owner.clone(), TaskSize::new(1024, 2048)?, exec.clone(), app.clone())
    ///     .sidecar(otel.clone())
    ///     .build()?;
    /// // 768 + 512 CPU units do not fit a 1024-unit task.
    /// let err = TaskDefinitionSpec::builder("app".parse()?, owner, TaskSize::new(1024, 2048)?, exec, app)
    ///     .sidecar(otel.cpu_units(512))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.field, "container.cpu");
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    #[must_use]
    pub fn cpu_units(mut self, units: u32) -> Self {
        self.cpu = (units > 0).then_some(units);
        self
    }

    /// The container's hard memory limit in MiB (it is killed past it): at least 6, at most
    /// the task's memory, and at least its [`memory_reservation_mib`](Self::memory_reservation_mib).
    #[must_use]
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory = Some(mib);
        self
    }

    /// Run an init process (`docker run --init`) as PID 1 that forwards signals and reaps
    /// zombie processes (`linuxParameters.initProcessEnabled`).
    #[must_use]
    pub fn init_process_enabled(mut self, enabled: bool) -> Self {
        self.linux.init_process_enabled = enabled;
        self
    }

    /// Add a kernel capability (`linuxParameters.capabilities.add`): Fargate allows only
    /// `SYS_PTRACE` (for debuggers and profilers); anything else is refused at `build()`.
    #[must_use]
    pub fn add_capability(mut self, capability: impl Into<String>) -> Self {
        self.linux.add.insert(capability.into());
        self
    }

    /// Drop a kernel capability (`linuxParameters.capabilities.drop`): any capability ECS
    /// knows, or `ALL`.
    ///
    /// ```
    /// use fargate_deploy::task_definition::ContainerSpec;
    /// let profiler = ContainerSpec::new("app", "nginx:1.27".parse()?)
    ///     .init_process_enabled(true)
    ///     .add_capability("SYS_PTRACE")
    ///     .drop_capability("NET_RAW")
    ///     .ulimit("nofile", 65535, 65535);
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    #[must_use]
    pub fn drop_capability(mut self, capability: impl Into<String>) -> Self {
        self.linux.drop.insert(capability.into());
        self
    }

    /// A resource limit (`ulimits`): `name` is one of ECS's (`core`, `cpu`, `data`, `fsize`,
    /// `locks`, `memlock`, `msgqueue`, `nice`, `nofile`, `nproc`, `rss`, `rtprio`, `rttime`,
    /// `sigpending`, `stack`), `soft` at most `hard`; on Fargate `nofile` is at most 1048576.
    /// Setting a name again replaces it.
    #[must_use]
    pub fn ulimit(mut self, name: impl Into<String>, soft: u32, hard: u32) -> Self {
        let name = name.into();
        self.ulimits.retain(|u| u.name != name);
        self.ulimits.push(Ulimit { name, soft, hard });
        self
    }

    /// Mount the task's bind mount volume `volume` (see
    /// [`TaskDefinitionBuilder::volume`](super::TaskDefinitionBuilder::volume)) at the absolute
    /// `container_path`, read-only or not.
    #[must_use]
    pub fn mount(
        mut self,
        volume: impl Into<String>,
        container_path: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.mount_points.push(MountPoint {
            source_volume: volume.into(),
            container_path: container_path.into(),
            read_only,
        });
        self
    }

    /// Mount every volume of the task's container `container` at the same paths
    /// (`volumesFrom`), read-only or not.
    #[must_use]
    pub fn volumes_from(mut self, container: impl Into<String>, read_only: bool) -> Self {
        self.volumes_from.push(VolumesFrom {
            source_container: container.into(),
            read_only,
        });
        self
    }

    /// Start only once `container` reached `condition`.
    #[must_use]
    pub fn depends_on(
        mut self,
        container: impl Into<String>,
        condition: DependencyCondition,
    ) -> Self {
        self.depends_on.push((container.into(), condition));
        self
    }

    fn keep_error(&mut self, e: InvalidValue) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Checks this container alone (names, ranges, env/secret clashes, Linux settings).
    pub(crate) fn validate(&self, size: TaskSize) -> Result<(), InvalidValue> {
        let task_memory = size.memory_mib();
        let field = format!("container.{}", self.name);
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        EcsName::new(self.name.as_str()).map_err(|e| {
            InvalidValue::new(
                "container.name",
                &self.name,
                e.reason,
                "1 to 255 letters, digits, hyphens and underscores",
            )
        })?;
        if let Some(name) = self
            .secrets
            .keys()
            .find(|n| self.environment.contains_key(*n))
        {
            return Err(InvalidValue::new(
                format!("{field}.secrets"),
                name.as_str(),
                "the name is set both as an environment variable and as a secret",
                "each name either in environment or in secrets",
            ));
        }
        if let Some(check) = &self.health_check {
            check.validate(&format!("{field}.health_check"))?;
        }
        if let Some(timeout) = self.stop_timeout {
            check_range(&format!("{field}.stop_timeout"), timeout, 2, 120, "seconds")?;
        }
        if let Some(mib) = self.memory_reservation {
            check_range(
                &format!("{field}.memory_reservation"),
                mib,
                6,
                task_memory,
                "MiB (within the task memory)",
            )?;
        }
        if let Some(mib) = self.memory {
            check_range(
                &format!("{field}.memory"),
                mib,
                6,
                task_memory,
                "MiB (within the task memory)",
            )?;
            if let Some(reserved) = self.memory_reservation
                && reserved > mib
            {
                return Err(InvalidValue::new(
                    format!("{field}.memory_reservation"),
                    reserved.to_string(),
                    format!("more than the container's hard memory limit ({mib} MiB)"),
                    format!("at most the container memory, {mib} MiB"),
                ));
            }
        }
        if let Some(units) = self.cpu {
            check_range(
                &format!("{field}.cpu"),
                units,
                1,
                size.cpu(),
                "CPU units (within the task CPU)",
            )?;
        }
        self.linux.validate(&format!("{field}.linux_parameters"))?;
        linux::validate_ulimits(&field, &self.ulimits)?;
        for m in &self.mount_points {
            if !m.container_path.starts_with('/') {
                return Err(InvalidValue::new(
                    format!("{field}.mount_points.{}", m.source_volume),
                    &m.container_path,
                    "the container path is not absolute",
                    "an absolute path in the container, e.g. /var/log/app",
                ));
            }
        }
        for (other, _) in &self.depends_on {
            if *other == self.name {
                return Err(InvalidValue::new(
                    format!("{field}.depends_on"),
                    other,
                    "a container cannot depend on itself",
                    "the name of another container of the task",
                ));
            }
        }
        for v in &self.volumes_from {
            if v.source_container == self.name {
                return Err(InvalidValue::new(
                    format!("{field}.volumes_from"),
                    &v.source_container,
                    "a container cannot mount its own volumes",
                    "the name of another container of the task",
                ));
            }
        }
        Ok(())
    }

    /// The CPU units reserved, if any.
    pub(crate) fn cpu(&self) -> Option<u32> {
        self.cpu
    }

    /// The memory ECS counts against the task's: the reservation, else the hard limit.
    pub(crate) fn reserved_memory(&self) -> Option<u32> {
        self.memory_reservation.or(self.memory)
    }

    /// The task volumes this container mounts.
    pub(crate) fn mounted_volumes(&self) -> impl Iterator<Item = &str> {
        self.mount_points.iter().map(|m| m.source_volume.as_str())
    }

    /// The containers whose volumes this container mounts.
    pub(crate) fn volume_sources(&self) -> impl Iterator<Item = &str> {
        self.volumes_from
            .iter()
            .map(|v| v.source_container.as_str())
    }

    /// The container fields that need a task execution role besides the task's log
    /// configuration: its secrets, a private ECR image.
    pub(crate) fn needs_execution_role(&self) -> Vec<String> {
        let field = format!("container.{}", self.name);
        let mut needs = Vec::new();
        if !self.secrets.is_empty() {
            needs.push(format!("{field}.secrets"));
        }
        if self.image.is_ecr() {
            needs.push(format!("{field}.image (a private ECR image)"));
        }
        needs
    }

    /// The dependencies, for the task-level checks.
    pub(crate) fn dependencies(&self) -> &[(String, DependencyCondition)] {
        &self.depends_on
    }

    /// The secrets, by variable name.
    pub(crate) fn secret_refs(&self) -> &BTreeMap<EnvVarName, SecretRef> {
        &self.secrets
    }

    /// The container definition as JSON, in the shape `RegisterTaskDefinition` sends it
    /// (camelCase keys), to measure the task definition's size before any call.
    pub(crate) fn definition_json(&self, log: Option<&LogView>) -> Value {
        let view = self.view(log);
        json!({
            "name": view.name,
            "image": view.image,
            "essential": view.essential,
            "portMappings": self.ports.iter()
                .map(|p| self.port_json(u16::from(*p), json!({ "containerPort": i32::from(*p), "protocol": "tcp" })))
                .collect::<Vec<_>>(),
            "environment": view.environment.iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect::<Vec<_>>(),
            "secrets": view.secrets.iter()
                .map(|(name, value_from)| json!({ "name": name, "valueFrom": value_from }))
                .collect::<Vec<_>>(),
            "command": view.command,
            "entryPoint": view.entry_point,
            "healthCheck": view.health_check,
            "stopTimeout": view.stop_timeout,
            "readonlyRootFilesystem": view.readonly_root_filesystem,
            "memoryReservation": view.memory_reservation,
            "cpu": view.cpu,
            "memory": view.memory,
            "linuxParameters": (!self.linux.is_default()).then(|| json!({
                "initProcessEnabled": self.linux.init_process_enabled,
                "capabilities": { "add": self.linux.add, "drop": self.linux.drop },
            })),
            "ulimits": self.ulimits.iter()
                .map(|u| json!({ "name": u.name, "softLimit": u.soft, "hardLimit": u.hard }))
                .collect::<Vec<_>>(),
            "mountPoints": self.mount_points.iter()
                .map(|m| json!({ "sourceVolume": m.source_volume, "containerPath": m.container_path, "readOnly": m.read_only }))
                .collect::<Vec<_>>(),
            "volumesFrom": self.volumes_from.iter()
                .map(|v| json!({ "sourceContainer": v.source_container, "readOnly": v.read_only }))
                .collect::<Vec<_>>(),
            "dependsOn": self.depends_on.iter()
                .map(|(c, cond)| json!({ "containerName": c, "condition": cond.as_str() }))
                .collect::<Vec<_>>(),
            "logConfiguration": view.log.map(|l| json!({ "logDriver": l.driver, "options": l.options })),
        })
    }

    /// The container definition in the AWS CLI's `register-task-definition --cli-input-json`
    /// shape, for export (`null`, `[]` and `{}` members are left for the import to drop).
    pub(crate) fn cli_json(&self, log: Option<&LogView>) -> Value {
        let caps = (!self.linux.add.is_empty() || !self.linux.drop.is_empty())
            .then(|| json!({ "add": self.linux.add, "drop": self.linux.drop }));
        json!({
            "name": self.name,
            "image": self.image.to_string(),
            "essential": self.essential,
            "portMappings": self.ports.iter()
                .map(|p| self.port_json(u16::from(*p), json!({ "containerPort": i32::from(*p), "hostPort": i32::from(*p), "protocol": "tcp" })))
                .collect::<Vec<_>>(),
            "environment": self.environment.iter()
                .map(|(name, value)| json!({ "name": name.as_str(), "value": value }))
                .collect::<Vec<_>>(),
            "secrets": self.secrets.iter()
                .map(|(name, s)| json!({ "name": name.as_str(), "valueFrom": s.value_from() }))
                .collect::<Vec<_>>(),
            "command": self.command,
            "entryPoint": self.entry_point,
            "healthCheck": self.health_check.as_ref().map(|h| json!({
                "command": h.command,
                "interval": h.interval,
                "timeout": h.timeout,
                "retries": h.retries,
                "startPeriod": h.start_period,
            })),
            "logConfiguration": log.map(|l| json!({ "logDriver": l.driver, "options": l.options })),
            "stopTimeout": self.stop_timeout,
            "readonlyRootFilesystem": self.readonly_root_filesystem.then_some(true),
            "memoryReservation": self.memory_reservation,
            "cpu": self.cpu,
            "memory": self.memory,
            "linuxParameters": (!self.linux.is_default()).then(|| json!({
                "initProcessEnabled": self.linux.init_process_enabled.then_some(true),
                "capabilities": caps,
            })),
            "ulimits": self.ulimits.iter()
                .map(|u| json!({ "name": u.name, "softLimit": u.soft, "hardLimit": u.hard }))
                .collect::<Vec<_>>(),
            "mountPoints": self.mount_points.iter()
                .map(|m| json!({
                    "sourceVolume": m.source_volume,
                    "containerPath": m.container_path,
                    "readOnly": m.read_only.then_some(true),
                }))
                .collect::<Vec<_>>(),
            "volumesFrom": self.volumes_from.iter()
                .map(|v| json!({ "sourceContainer": v.source_container, "readOnly": v.read_only.then_some(true) }))
                .collect::<Vec<_>>(),
            "dependsOn": self.depends_on.iter()
                .map(|(c, cond)| json!({ "containerName": c, "condition": cond.as_str() }))
                .collect::<Vec<_>>(),
        })
    }

    /// The largest single value the user gave this container (an environment value, a secret
    /// reference, a command or entry point argument, the health check command), as
    /// `(field, bytes)`.
    pub(crate) fn largest_value(&self) -> Option<(String, usize)> {
        let field = format!("container.{}", self.name);
        let env = self
            .environment
            .iter()
            .map(|(k, v)| (format!("{field}.environment.{k}"), v.len()));
        let secrets = self
            .secrets
            .iter()
            .map(|(k, v)| (format!("{field}.secrets.{k}"), v.value_from().len()));
        let lists = [
            ("command", self.command.as_ref()),
            ("entry_point", self.entry_point.as_ref()),
            (
                "health_check.command",
                self.health_check.as_ref().map(|h| &h.command),
            ),
        ]
        .into_iter()
        .filter_map(|(name, list)| {
            list.map(|l| (format!("{field}.{name}"), l.iter().map(String::len).sum()))
        });
        env.chain(secrets)
            .chain(lists)
            .chain(std::iter::once((
                format!("{field}.image"),
                self.image.to_string().len(),
            )))
            .max_by_key(|(_, n)| *n)
    }

    /// Whether a health check is defined.
    pub(crate) fn has_health_check(&self) -> bool {
        self.health_check.is_some()
    }

    /// Whether the task stops when this container stops.
    pub(crate) fn is_essential(&self) -> bool {
        self.essential
    }

    /// The normalized view of the desired container.
    pub(crate) fn view(&self, log: Option<&LogView>) -> ContainerView {
        let mut ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| self.port_view(u16::from(*p)))
            .collect();
        ports.sort();
        let mut depends_on: Vec<String> = self
            .depends_on
            .iter()
            .map(|(c, cond)| format!("{c}:{}", cond.as_str()))
            .collect();
        depends_on.sort();
        ContainerView {
            name: self.name.clone(),
            image: self.image.to_string(),
            essential: self.essential,
            ports,
            environment: self
                .environment
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            secrets: self
                .secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.value_from().to_string()))
                .collect(),
            command: self.command.clone().filter(|c| !c.is_empty()),
            entry_point: self.entry_point.clone().filter(|c| !c.is_empty()),
            health_check: self.health_check.as_ref().map(|h| {
                json!({
                    "command": h.command,
                    "interval": to_i32(h.interval),
                    "timeout": to_i32(h.timeout),
                    "retries": to_i32(h.retries),
                    "start_period": to_i32(h.start_period),
                })
            }),
            stop_timeout: self.stop_timeout.map(to_i32),
            readonly_root_filesystem: self.readonly_root_filesystem,
            memory_reservation: self.memory_reservation.map(to_i32),
            cpu: self.cpu.map(to_i32),
            memory: self.memory.map(to_i32),
            linux: self.linux.view(),
            ulimits: sorted(self.ulimits.iter().map(Ulimit::key)),
            mount_points: sorted(self.mount_points.iter().map(MountPoint::key)),
            volumes_from: sorted(self.volumes_from.iter().map(VolumesFrom::key)),
            depends_on,
            log: log.cloned(),
        }
    }

    /// The ECS container definition.
    pub(crate) fn to_sdk(
        &self,
        log: Option<&LogView>,
        id: &ResourceId,
    ) -> Result<ContainerDefinition, Error> {
        let op = "RegisterTaskDefinition";
        let secrets = self
            .secrets
            .iter()
            .map(|(name, secret)| {
                Secret::builder()
                    .name(name.as_str())
                    .value_from(secret.value_from())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_request(id, op, e))?;
        let health_check = match &self.health_check {
            Some(h) => Some(
                SdkHealthCheck::builder()
                    .set_command(Some(h.command.clone()))
                    .interval(to_i32(h.interval))
                    .timeout(to_i32(h.timeout))
                    .retries(to_i32(h.retries))
                    .start_period(to_i32(h.start_period))
                    .build()
                    .map_err(|e| bad_request(id, op, e))?,
            ),
            None => None,
        };
        let depends_on = self
            .depends_on
            .iter()
            .map(|(c, cond)| {
                ContainerDependency::builder()
                    .container_name(c)
                    .condition(ContainerCondition::from(cond.as_str()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_request(id, op, e))?;
        let log_configuration = match log {
            Some(log) => Some(
                LogConfiguration::builder()
                    .log_driver(LogDriver::from(log.driver.as_str()))
                    .set_options(Some(log.options.clone().into_iter().collect()))
                    .build()
                    .map_err(|e| bad_request(id, op, e))?,
            ),
            None => None,
        };
        let ulimits = self
            .ulimits
            .iter()
            .map(Ulimit::to_sdk)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_request(id, op, e))?;
        Ok(ContainerDefinition::builder()
            .name(&self.name)
            .image(self.image.to_string())
            .essential(self.essential)
            .set_port_mappings(Some(
                self.ports
                    .iter()
                    .map(|p| {
                        let named = self.port_names.get(&u16::from(*p));
                        PortMapping::builder()
                            .container_port(i32::from(*p))
                            .protocol(TransportProtocol::Tcp)
                            .set_name(named.map(|(n, _)| n.clone()))
                            .set_app_protocol(
                                named
                                    .and_then(|(_, a)| a.as_deref())
                                    .map(ApplicationProtocol::from),
                            )
                            .build()
                    })
                    .collect(),
            ))
            .set_environment(Some(
                self.environment
                    .iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k.as_str()).value(v).build())
                    .collect(),
            ))
            .set_secrets(Some(secrets))
            .set_command(self.command.clone())
            .set_entry_point(self.entry_point.clone())
            .set_health_check(health_check)
            .set_stop_timeout(self.stop_timeout.map(to_i32))
            .readonly_root_filesystem(self.readonly_root_filesystem)
            .set_memory_reservation(self.memory_reservation.map(to_i32))
            .set_cpu(self.cpu.map(to_i32))
            .set_memory(self.memory.map(to_i32))
            .set_linux_parameters(self.linux.to_sdk())
            .set_ulimits(non_empty(ulimits))
            .set_mount_points(non_empty(
                self.mount_points.iter().map(MountPoint::to_sdk).collect(),
            ))
            .set_volumes_from(non_empty(
                self.volumes_from.iter().map(VolumesFrom::to_sdk).collect(),
            ))
            .set_depends_on(Some(depends_on))
            .set_log_configuration(log_configuration)
            .build())
    }
}

/// `Some(list)` unless empty (ECS reports an unset list as empty).
fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

fn sorted(keys: impl Iterator<Item = String>) -> Vec<String> {
    let mut keys: Vec<String> = keys.collect();
    keys.sort();
    keys
}

fn port_key(port: i32, protocol: &str) -> String {
    format!("{port}/{protocol}")
}

/// A port key with the mapping's name and application protocol, when it has a name.
fn named_port_key(key: String, named: Option<(&str, Option<&str>)>) -> String {
    match named {
        None => key,
        Some((name, None)) => format!("{key} name={name}"),
        Some((name, Some(app))) => format!("{key} name={name} app={app}"),
    }
}

/// A log configuration, normalized: the driver and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogView {
    pub(crate) driver: String,
    pub(crate) options: BTreeMap<String, String>,
}

impl LogView {
    /// The `awslogs` driver writing to `group` in `region`, streams named `<prefix>/<container>/<task id>`.
    pub(crate) fn awslogs(group: &str, region: &str, prefix: &str) -> Self {
        let options = [
            ("awslogs-group", group),
            ("awslogs-region", region),
            ("awslogs-stream-prefix", prefix),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Self {
            driver: "awslogs".to_string(),
            options,
        }
    }
}

/// A container reduced to the fields fargate-rs manages, with API defaults filled in; built
/// from the desired [`ContainerSpec`] or from the observed [`ContainerDefinition`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContainerView {
    name: String,
    image: String,
    essential: bool,
    ports: Vec<String>,
    environment: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    command: Option<Vec<String>>,
    entry_point: Option<Vec<String>>,
    health_check: Option<Value>,
    stop_timeout: Option<i32>,
    readonly_root_filesystem: bool,
    memory_reservation: Option<i32>,
    /// `None` for 0 (what ECS reports for a container without CPU units).
    cpu: Option<i32>,
    memory: Option<i32>,
    linux: Option<Value>,
    ulimits: Vec<String>,
    mount_points: Vec<String>,
    volumes_from: Vec<String>,
    depends_on: Vec<String>,
    log: Option<LogView>,
}

impl ContainerView {
    /// The normalized view of a container definition ECS returned: `essential` defaults to
    /// true, protocol to tcp, health check timings to their ECS defaults, a `cpu` of 0 (what
    /// ECS reports for a container without one) to unset, `readOnly` to false, default
    /// `linuxParameters` to unset; empty lists are unset.
    pub(crate) fn from_sdk(c: &ContainerDefinition) -> Self {
        let mut ports: Vec<String> = c
            .port_mappings()
            .iter()
            .filter_map(|p| {
                let port = p.container_port()?;
                let protocol = p
                    .protocol()
                    .map_or("tcp", |p| p.as_str())
                    .to_ascii_lowercase();
                let key = match p.host_port() {
                    Some(host) if host != port && host != 0 => format!("{port}->{host}/{protocol}"),
                    _ => port_key(port, &protocol),
                };
                Some(named_port_key(
                    key,
                    p.name().map(|n| (n, p.app_protocol().map(|a| a.as_str()))),
                ))
            })
            .collect();
        ports.sort();
        let mut depends_on: Vec<String> = c
            .depends_on()
            .iter()
            .map(|d| format!("{}:{}", d.container_name(), d.condition().as_str()))
            .collect();
        depends_on.sort();
        let list = |l: &[String]| (!l.is_empty()).then(|| l.to_vec());
        Self {
            name: c.name().unwrap_or_default().to_string(),
            image: c.image().unwrap_or_default().to_string(),
            essential: c.essential().unwrap_or(true),
            ports,
            environment: c
                .environment()
                .iter()
                .map(|kv| {
                    (
                        kv.name().unwrap_or_default().to_string(),
                        kv.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            secrets: c
                .secrets()
                .iter()
                .map(|s| (s.name().to_string(), s.value_from().to_string()))
                .collect(),
            command: list(c.command()),
            entry_point: list(c.entry_point()),
            health_check: c.health_check().map(|h| {
                json!({
                    "command": h.command(),
                    "interval": h.interval().unwrap_or(30),
                    "timeout": h.timeout().unwrap_or(5),
                    "retries": h.retries().unwrap_or(3),
                    "start_period": h.start_period().unwrap_or(0),
                })
            }),
            stop_timeout: c.stop_timeout(),
            readonly_root_filesystem: c.readonly_root_filesystem().unwrap_or(false),
            memory_reservation: c.memory_reservation(),
            cpu: Some(c.cpu()).filter(|units| *units != 0),
            memory: c.memory(),
            linux: linux::observed_view(c.linux_parameters()),
            ulimits: linux::observed_ulimits(c.ulimits()),
            mount_points: volume::observed_mounts(c.mount_points()),
            volumes_from: volume::observed_volumes_from(c.volumes_from()),
            depends_on,
            log: c.log_configuration().map(|l| LogView {
                driver: l.log_driver().as_str().to_string(),
                options: l
                    .options()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }),
        }
    }

    /// Adds this container's fields, named `container.<name>.<field>`, to `fields`.
    pub(crate) fn add_to(&self, mut fields: Fields) -> Fields {
        let p = format!("container.{}", self.name);
        fields = fields
            .with(format!("{p}.image"), self.image.as_str())
            .with(format!("{p}.essential"), self.essential)
            .with_set(format!("{p}.ports"), self.ports.iter().map(String::as_str))
            .with(format!("{p}.command"), self.command.clone())
            .with(format!("{p}.entry_point"), self.entry_point.clone())
            .with(format!("{p}.health_check"), self.health_check.clone())
            .with(format!("{p}.stop_timeout"), self.stop_timeout)
            .with(
                format!("{p}.readonly_root_filesystem"),
                self.readonly_root_filesystem,
            )
            .with(format!("{p}.memory_reservation"), self.memory_reservation)
            .with_set(
                format!("{p}.depends_on"),
                self.depends_on.iter().map(String::as_str),
            )
            .with(
                format!("{p}.log"),
                self.log
                    .as_ref()
                    .map(|l| json!({ "driver": l.driver, "options": l.options })),
            );
        // Added only when set, so that plans of containers without them read as before.
        let optional = [
            ("cpu", self.cpu.map(Value::from)),
            ("memory", self.memory.map(Value::from)),
            ("linux_parameters", self.linux.clone()),
            ("ulimits", list_value(&self.ulimits)),
            ("mount_points", list_value(&self.mount_points)),
            ("volumes_from", list_value(&self.volumes_from)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                fields = fields.with(format!("{p}.{name}"), value);
            }
        }
        for (name, value) in &self.environment {
            let field = format!("{p}.environment.{name}");
            fields = if is_sensitive(name, value) {
                fields.with_sensitive(field, value.as_str())
            } else {
                fields.with(field, value.as_str())
            };
        }
        for (name, value_from) in &self.secrets {
            fields = fields.with(format!("{p}.secrets.{name}"), value_from.as_str());
        }
        fields
    }
}

/// A sorted list as a JSON value, `None` when empty.
fn list_value(keys: &[String]) -> Option<Value> {
    (!keys.is_empty()).then(|| Value::from(keys.to_vec()))
}

/// Whether an environment variable's name suggests a credential (`TOKEN`, `PASSWORD`,
/// `SECRET`, `KEY`, ..., any case; see [`fargate_core::redact::is_sensitive_name`]). Values
/// are redacted from plans when their name does or when the value itself carries a credential
/// (a URL with a password): see [`fargate_core::redact::is_sensitive`].
pub fn looks_sensitive(name: &str) -> bool {
    fargate_core::redact::is_sensitive_name(name)
}
