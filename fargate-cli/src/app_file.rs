//! The app description file (JSON): an environment and its apps, mapped onto the typed
//! builders, which validate it before any AWS call. Every error names the field (`apps[0].cpu`).

mod import;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fargate_core::{Architecture, Error};
use fargate_deploy::apps::{ContainerServiceSpec, ScheduledJobSpec};
use fargate_deploy::environment::EnvironmentSpec;
use fargate_deploy::rollout::RolloutOptions;
use fargate_deploy::{
    AdoptAlb, AdoptNetwork, App, BackendApi, BackendApiSpec, ContainerService, Environment,
    FrontendApp, FrontendAppSpec, Image, ScheduledJob,
};
use fargate_net::network::Egress;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::exit::Failure;
use import::import_task_definition;

/// CPU units when an app gives none.
const DEFAULT_CPU: u32 = 256;
/// Task memory (MiB) when an app gives none.
const DEFAULT_MEMORY: u32 = 512;

/// The whole file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct AppFile {
    environment: Option<Value>,
    apps: Option<Vec<Value>>,
}

/// `environment`: mapped onto `EnvironmentSpec`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct EnvEntry {
    name: Option<String>,
    vpc_cidr: Option<String>,
    egress: Option<Egress>,
    adopt_network: Option<AdoptNetworkEntry>,
    adopt_cluster: Option<String>,
    container_insights: Option<bool>,
    tags: Option<BTreeMap<String, String>>,
    https_certificate_arn: Option<String>,
    alb_ingress_cidrs: Option<Vec<String>>,
    adopt_alb: Option<AdoptAlbEntry>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AdoptNetworkEntry {
    vpc_id: String,
    public_subnet_ids: Vec<String>,
    #[serde(default)]
    private_subnet_ids: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AdoptAlbEntry {
    load_balancer_arn: String,
    listener_arn: String,
    security_group_id: String,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Service,
    Frontend,
    Backend,
    Job,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Job => "job",
        }
    }
}

/// One entry of `apps`: every field of every kind; a field of another kind is bad input.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    kind: Option<Kind>,
    name: Option<String>,
    /// An AWS CLI `register-task-definition` JSON file (relative to this file) whose
    /// container fills the fields not given here.
    task_definition: Option<PathBuf>,
    /// Any image reference.
    image: Option<String>,
    /// Instead of `image`: a tag in the app's own ECR repository.
    ecr_tag: Option<String>,
    cpu: Option<u32>,
    memory: Option<u32>,
    architecture: Option<Architecture>,
    port: Option<u16>,
    command: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    secrets: Option<BTreeMap<String, String>>,
    health_check: Option<String>,
    memory_reservation: Option<u32>,
    log_retention_days: Option<u16>,
    tags: Option<BTreeMap<String, String>>,
    // service, frontend, backend
    desired_count: Option<u32>,
    spot_weight: Option<u32>,
    enable_exec: Option<bool>,
    rollout: Option<RolloutEntry>,
    // frontend, backend
    health_check_path: Option<String>,
    deregistration_delay: Option<u32>,
    health_check_grace_period: Option<u32>,
    // frontend
    paths: Option<Vec<String>>,
    hosts: Option<Vec<String>>,
    healthy_codes: Option<String>,
    priority: Option<u32>,
    // backend
    routes: Option<Vec<String>>,
    nlb_listener_port: Option<u16>,
    throttling: Option<ThrottlingEntry>,
    jwt: Option<JwtEntry>,
    // job
    schedule: Option<String>,
    timezone: Option<String>,
    job_env: Option<BTreeMap<String, String>>,
    job_command: Option<Vec<String>>,
    enabled: Option<bool>,
    retries: Option<u8>,
    flexible_window_minutes: Option<u16>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RolloutEntry {
    wait: Option<bool>,
    timeout_seconds: Option<u64>,
    rollback: Option<bool>,
    failure_threshold: Option<u32>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ThrottlingEntry {
    burst_limit: u32,
    rate_limit: f64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct JwtEntry {
    issuer: String,
    audiences: Vec<String>,
}

/// A built app of the file.
pub enum BuiltApp {
    Service(ContainerService),
    Frontend(FrontendApp),
    Backend(BackendApi),
    Job(ScheduledJob),
}

impl BuiltApp {
    pub fn app(&self) -> &dyn App {
        match self {
            BuiltApp::Service(a) => a,
            BuiltApp::Frontend(a) => a,
            BuiltApp::Backend(a) => a,
            BuiltApp::Job(a) => a,
        }
    }
    pub fn kind(&self) -> Kind {
        match self {
            BuiltApp::Service(_) => Kind::Service,
            BuiltApp::Frontend(_) => Kind::Frontend,
            BuiltApp::Backend(_) => Kind::Backend,
            BuiltApp::Job(_) => Kind::Job,
        }
    }
}

pub struct Loaded {
    pub env: Environment,
    pub apps: Vec<BuiltApp>,
    /// What the task definition imports replaced (fargate-rs's own roles, family, logs), and
    /// what was added for the local emulator.
    pub notes: Vec<String>,
    /// Apps whose container has no memory reservation as sent (moto's RunTask fails on them).
    pub without_memory_reservation: Vec<String>,
}

impl Loaded {
    pub fn all(&self) -> Vec<&dyn App> {
        self.apps.iter().map(BuiltApp::app).collect()
    }

    pub fn find(&self, name: &str) -> Result<&BuiltApp, Failure> {
        self.apps
            .iter()
            .find(|a| a.app().name().as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.apps.iter().map(|a| a.app().name().as_str()).collect();
                Failure::bad_input(format!(
                    "no app named `{name}` in the file (apps: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })
    }
}

/// Deserialize `value` as `T`; on failure name the first field (`path.field`) that is wrong.
fn section<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, Failure> {
    match serde_json::from_value::<T>(value.clone()) {
        Ok(t) => Ok(t),
        Err(whole) => {
            if let Value::Object(map) = value {
                for (k, v) in map {
                    let one = Value::Object([(k.clone(), v.clone())].into_iter().collect());
                    if let Err(e) = serde_json::from_value::<T>(one) {
                        let field = if e.to_string().starts_with("unknown field") {
                            path.to_string()
                        } else {
                            format!("{path}.{k}")
                        };
                        return Err(Failure::bad_input(format!("{field}: {e}")));
                    }
                }
            }
            Err(Failure::bad_input(format!("{path}: {whole}")))
        }
    }
}

/// Read, check and build the app file at `path`. For the local emulator (`emulator`), an app
/// whose container reserves no memory gets a reservation equal to the task memory (moto's
/// RunTask answers HTTP 500 without one), with a note; nothing is added otherwise.
pub fn load(path: &Path, emulator: bool) -> Result<Loaded, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::bad_input(format!("{} is not JSON: {e}", path.display())))?;
    let file: AppFile = section(&value, "file")?;
    let env_value = file
        .environment
        .ok_or_else(|| Failure::bad_input("environment: missing (an object with a `name`)"))?;
    let env = build_env(section(&env_value, "environment")?)?;
    let mut loaded = Loaded {
        env,
        apps: Vec::new(),
        notes: Vec::new(),
        without_memory_reservation: Vec::new(),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, v) in file.apps.unwrap_or_default().iter().enumerate() {
        let path = format!("apps[{i}]");
        let mut entry: AppEntry = section(v, &path)?;
        if let Some(td) = entry.task_definition.take() {
            loaded
                .notes
                .extend(import_task_definition(&base.join(td), &mut entry, &path)?);
        }
        if entry.memory_reservation.is_none() {
            let name = entry.name.clone().unwrap_or_default();
            if emulator {
                let memory = entry.memory.unwrap_or(DEFAULT_MEMORY);
                entry.memory_reservation = Some(memory);
                loaded.notes.push(format!(
                    "{path} ({name}): the local emulator cannot run a task whose container \
                     reserves no memory, so here it gets memory_reservation = {memory} (the task \
                     memory); set `memory_reservation` to choose; nothing is added on AWS"
                ));
            } else {
                loaded.without_memory_reservation.push(name);
            }
        }
        loaded.apps.push(build_app(entry, &path)?);
    }
    Ok(loaded)
}

fn invalid(path: &str) -> impl Fn(Error) -> Failure + '_ {
    move |e| {
        let mut f = Failure::from_error(&e);
        f.message = format!("{path}: {}", f.message);
        f
    }
}

fn build_env(e: EnvEntry) -> Result<Environment, Failure> {
    let name = e
        .name
        .ok_or_else(|| Failure::bad_input("environment.name: missing"))?;
    Environment::new(EnvironmentSpec {
        name,
        vpc_cidr: e.vpc_cidr,
        egress: e.egress.unwrap_or_default(),
        adopt_network: e.adopt_network.map(|a| AdoptNetwork {
            vpc_id: a.vpc_id,
            public_subnet_ids: a.public_subnet_ids,
            private_subnet_ids: a.private_subnet_ids,
        }),
        adopt_cluster: e.adopt_cluster,
        container_insights: e.container_insights.unwrap_or(true),
        tags: e.tags.unwrap_or_default(),
        https_certificate_arn: e.https_certificate_arn,
        alb_ingress_cidrs: e.alb_ingress_cidrs.unwrap_or_default(),
        adopt_alb: e.adopt_alb.map(|a| AdoptAlb {
            load_balancer_arn: a.load_balancer_arn,
            listener_arn: a.listener_arn,
            security_group_id: a.security_group_id,
        }),
    })
    .map_err(invalid("environment"))
}

/// Reject fields that belong to other kinds, naming the field.
fn check_kind(a: &AppEntry, kind: Kind, path: &str) -> Result<(), Failure> {
    use Kind::*;
    let services: &[Kind] = &[Service, Frontend, Backend];
    let lbs: &[Kind] = &[Frontend, Backend];
    let fields: [(&str, bool, &[Kind]); 20] = [
        ("desired_count", a.desired_count.is_some(), services),
        ("spot_weight", a.spot_weight.is_some(), services),
        ("enable_exec", a.enable_exec.is_some(), services),
        ("rollout", a.rollout.is_some(), services),
        ("port", a.port.is_some(), services),
        ("health_check_path", a.health_check_path.is_some(), lbs),
        (
            "deregistration_delay",
            a.deregistration_delay.is_some(),
            lbs,
        ),
        (
            "health_check_grace_period",
            a.health_check_grace_period.is_some(),
            lbs,
        ),
        ("paths", a.paths.is_some(), &[Frontend]),
        ("hosts", a.hosts.is_some(), &[Frontend]),
        ("healthy_codes", a.healthy_codes.is_some(), &[Frontend]),
        ("priority", a.priority.is_some(), &[Frontend]),
        ("routes", a.routes.is_some(), &[Backend]),
        (
            "nlb_listener_port",
            a.nlb_listener_port.is_some(),
            &[Backend],
        ),
        ("throttling", a.throttling.is_some(), &[Backend]),
        ("jwt", a.jwt.is_some(), &[Backend]),
        ("schedule", a.schedule.is_some(), &[Job]),
        ("timezone", a.timezone.is_some(), &[Job]),
        ("job_env", a.job_env.is_some(), &[Job]),
        (
            "job_command",
            a.job_command.is_some()
                || a.enabled.is_some()
                || a.retries.is_some()
                || a.flexible_window_minutes.is_some(),
            &[Job],
        ),
    ];
    for (field, set, kinds) in fields {
        if set && !kinds.contains(&kind) {
            let field = if field == "job_command" {
                [
                    ("job_command", a.job_command.is_some()),
                    ("enabled", a.enabled.is_some()),
                    ("retries", a.retries.is_some()),
                    (
                        "flexible_window_minutes",
                        a.flexible_window_minutes.is_some(),
                    ),
                ]
                .into_iter()
                .find(|(_, s)| *s)
                .map(|(f, _)| f)
                .unwrap_or(field)
            } else {
                field
            };
            let allowed: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            return Err(Failure::bad_input(format!(
                "{path}.{field}: not a field of kind \"{}\" (only of {})",
                kind.as_str(),
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn build_app(a: AppEntry, path: &str) -> Result<BuiltApp, Failure> {
    let kind = a.kind.ok_or_else(|| {
        Failure::bad_input(format!(
            "{path}.kind: missing (one of service, frontend, backend, job)"
        ))
    })?;
    let name = a
        .name
        .clone()
        .ok_or_else(|| Failure::bad_input(format!("{path}.name: missing")))?;
    check_kind(&a, kind, path)?;
    let path = format!("{path} ({name})");
    let path = path.as_str();
    let image = match (&a.image, &a.ecr_tag) {
        (Some(i), None) => Image::External(i.clone()),
        (None, Some(tag)) => Image::Ecr { tag: tag.clone() },
        (Some(_), Some(_)) => {
            return Err(Failure::bad_input(format!(
                "{path}.ecr_tag: give `image` or `ecr_tag`, not both"
            )));
        }
        (None, None) => {
            return Err(Failure::bad_input(format!(
                "{path}.image: missing (an image reference, or `ecr_tag` for the app's own ECR repository)"
            )));
        }
    };
    let architecture = a.architecture.unwrap_or_default();
    if kind == Kind::Job {
        let schedule = a.schedule.ok_or_else(|| {
            Failure::bad_input(format!(
                "{path}.schedule: missing (cron(...), rate(...) or at(...))"
            ))
        })?;
        let job = ScheduledJob::new(ScheduledJobSpec {
            name,
            image,
            schedule,
            timezone: a.timezone,
            cpu: a.cpu.unwrap_or(DEFAULT_CPU),
            memory: a.memory.unwrap_or(DEFAULT_MEMORY),
            architecture,
            command: a.command.unwrap_or_default(),
            env: a.env.unwrap_or_default(),
            secrets: a.secrets.unwrap_or_default(),
            job_env: a.job_env.unwrap_or_default(),
            job_command: a.job_command,
            enabled: a.enabled.unwrap_or(true),
            flexible_window_minutes: a.flexible_window_minutes,
            retries: a.retries.unwrap_or(0),
            memory_reservation: a.memory_reservation,
            log_retention_days: a.log_retention_days.unwrap_or(30),
            task_role: Vec::new(),
            tags: a.tags.unwrap_or_default(),
        })
        .map_err(invalid(path))?;
        return Ok(BuiltApp::Job(job));
    }
    let mut rollout = RolloutOptions::default();
    if let Some(r) = &a.rollout {
        rollout.wait = r.wait.unwrap_or(rollout.wait);
        rollout.rollback = r.rollback.unwrap_or(rollout.rollback);
        rollout.failure_threshold = r.failure_threshold;
        if let Some(t) = r.timeout_seconds {
            rollout.timeout = Duration::from_secs(t);
        }
    }
    let service = ContainerService::new(ContainerServiceSpec {
        name,
        image,
        cpu: a.cpu.unwrap_or(DEFAULT_CPU),
        memory: a.memory.unwrap_or(DEFAULT_MEMORY),
        architecture,
        port: a.port,
        command: a.command.unwrap_or_default(),
        env: a.env.unwrap_or_default(),
        secrets: a.secrets.unwrap_or_default(),
        desired_count: a.desired_count.unwrap_or(1),
        autoscaling: None,
        spot_weight: a.spot_weight.unwrap_or(0),
        enable_exec: a.enable_exec.unwrap_or(false),
        health_check: a.health_check,
        sidecars: Vec::new(),
        memory_reservation: a.memory_reservation,
        log_retention_days: a.log_retention_days.unwrap_or(30),
        task_role: Vec::new(),
        tags: a.tags.unwrap_or_default(),
        rollout,
    })
    .map_err(invalid(path))?;
    Ok(match kind {
        Kind::Frontend => BuiltApp::Frontend(
            FrontendApp::new(FrontendAppSpec {
                service,
                paths: a.paths.unwrap_or_else(|| vec!["/*".into()]),
                hosts: a.hosts.unwrap_or_default(),
                health_check_path: a.health_check_path.unwrap_or_else(|| "/".into()),
                healthy_codes: a.healthy_codes.unwrap_or_else(|| "200".into()),
                priority: a.priority,
                deregistration_delay: a.deregistration_delay.unwrap_or(30),
                health_check_grace_period: a.health_check_grace_period.unwrap_or(60),
            })
            .map_err(invalid(path))?,
        ),
        Kind::Backend => BuiltApp::Backend(
            BackendApi::new(BackendApiSpec {
                service,
                routes: a.routes.unwrap_or_else(|| vec!["$default".into()]),
                throttling: a
                    .throttling
                    .map(|t| fargate_deploy::Throttling::new(t.burst_limit, t.rate_limit)),
                jwt: a
                    .jwt
                    .map(|j| fargate_deploy::Jwt::new(j.issuer, j.audiences)),
                nlb_listener_port: a.nlb_listener_port,
                health_check_path: a.health_check_path,
                deregistration_delay: a.deregistration_delay.unwrap_or(30),
                health_check_grace_period: a.health_check_grace_period.unwrap_or(60),
            })
            .map_err(invalid(path))?,
        ),
        _ => BuiltApp::Service(service),
    })
}
