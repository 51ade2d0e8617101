//! `fargate`: a small command-line tool over fargate-rs for internal tooling.
//!
//! It reads an app description file (JSON, see `examples/apps/*.json`): an
//! environment and its apps (`service`, `frontend`, `backend`, `job`), mapped
//! onto the typed builders, which validate it before any AWS call.
//!
//! ```sh
//! fargate -f examples/apps/dashboard.json plan           # exit 2 when there are changes
//! fargate -f examples/apps/dashboard.json apply
//! fargate -f examples/apps/dashboard.json status api
//! fargate -f examples/apps/dashboard.json run etl --env ETL_JOB=full -- python -c 'print(1)'
//! fargate -f examples/apps/dashboard.json logs api -n 100
//! fargate -f examples/apps/dashboard.json rollback api
//! fargate -f examples/apps/dashboard.json destroy
//! ```
//!
//! By default it deploys to the local AWS emulator; `--aws` uses your default
//! AWS credentials (and `apply`/`destroy` then need `--yes`).
//!
//! **Steps in one invocation.** The emulator is a fresh, empty account for
//! every process, so against it one invocation must do the whole cycle. Chain
//! steps with the word `then`; they run in order against the same account and
//! stop at the first failure (like `&&`, except that "plan has changes" does
//! not stop the chain):
//!
//! ```sh
//! fargate -f examples/apps/worker.json apply then plan then status then destroy
//! ```
//!
//! `then` is reserved as the separator (an app cannot be called `then`), except
//! after `--` in `run`, where everything left is the command.
//!
//! **Output.** Human output is coloured when stdout is a terminal and
//! `NO_COLOR` is unset; long work shows progress bars on stderr. With `--json`
//! every step prints one JSON object on one line of stdout (JSON Lines), with
//! `"command"` naming the step and, on failure, `"error"`; nothing else goes
//! to stdout.
//!
//! **Exit codes**, of the failing step or else of the last step:
//! 0 ok; 1 failed (AWS error, resource not owned, nothing to roll back to, ...);
//! 2 `plan`/`diff` found changes; 3 bad input (file, field, argument);
//! 4 a rollout failed (diagnosis printed; rolled back unless that was impossible);
//! 5 `run`: the task exited non-zero or never started.
//!
//! **Task definitions.** An app entry may say `"task_definition": "file.json"`, an
//! AWS CLI `register-task-definition --cli-input-json` document (relative to the
//! app file): its one container fills the entry's unset fields (image, size,
//! architecture, command, environment, secrets, port, memory reservation,
//! `CMD-SHELL` health check, tags). fargate-rs keeps its own family, roles and
//! log group (a note says so); what an app file cannot express (a task role
//! ARN, sidecars, entry point, ...) is refused as bad input, naming the field.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fargate_core::{Architecture, AwsResultExt, Error, EventSink, PricingTable, ResourceId};
use fargate_deploy::apps::{ContainerServiceSpec, ScheduledJobSpec};
use fargate_deploy::cli_json::TaskDefinitionDocument;
use fargate_deploy::environment::EnvironmentSpec;
use fargate_deploy::rollout::{RolloutError, RolloutOptions};
use fargate_deploy::run_task::{ContainerOverride, RunTaskError};
use fargate_deploy::{
    AdoptAlb, AdoptNetwork, App, ApplyError, ApplyOptions, ApplyReport, BackendApi, BackendApiSpec,
    ContainerService, DeployPlan, Deployer, Environment, FrontendApp, FrontendAppSpec, Image,
    ScheduledJob,
};
use fargate_net::network::Egress;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const OK: u8 = 0;
const FAILED: u8 = 1;
const CHANGES: u8 = 2;
const BAD_INPUT: u8 = 3;
const ROLLOUT_FAILED: u8 = 4;
const TASK_FAILED: u8 = 5;

const AFTER_HELP: &str = "\
Chain steps with `then` (one emulator account per invocation):
  fargate -f app.json apply then status then destroy

Exit codes: 0 ok, 1 failed, 2 plan/diff has changes, 3 bad input,
4 rollout failed (and rolled back), 5 run: the task failed.";

/// Plan, deploy and operate the apps of an app description file on ECS Fargate.
#[derive(Parser, Debug)]
#[command(name = "fargate", after_help = AFTER_HELP)]
struct Cli {
    /// The app description file (JSON). Default: ./fargate.json.
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print one JSON object per step on stdout, nothing else.
    #[arg(long, global = true)]
    json: bool,
    /// Use real AWS (your default credentials) instead of the local emulator.
    #[arg(long, global = true)]
    aws: bool,
    /// Confirm changes to real AWS (`apply`, `destroy`, `rollback` and `run` with `--aws`).
    #[arg(long, global = true)]
    yes: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug, Clone)]
enum Command {
    /// Show what `apply` would do, with a cost estimate. Exit 0: no changes, 2: changes.
    Plan,
    /// Show only the resources that would change. Exit 0: no changes, 2: changes.
    Diff,
    /// Create or update the environment and apps, watching each rollout.
    Apply,
    /// Remove the apps and the environment (only what fargate-rs created).
    Destroy {
        /// Keep the environment (network, cluster, shared load balancers).
        #[arg(long)]
        apps_only: bool,
    },
    /// The state of an app's service (all services when no app is given).
    Status {
        /// The app.
        app: Option<String>,
    },
    /// Run an app's task once now and wait for it (applies the app first).
    Run {
        /// The app.
        app: String,
        /// Set an environment variable for this run (repeatable).
        #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The command to run instead of the app's (after `--`).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// The last log lines of an app's most recent task.
    Logs {
        /// The app.
        app: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: u32,
    },
    /// Roll an app's service back to its previous task definition.
    Rollback {
        /// The app.
        app: String,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Plan => "plan",
            Command::Diff => "diff",
            Command::Apply => "apply",
            Command::Destroy { .. } => "destroy",
            Command::Status { .. } => "status",
            Command::Run { .. } => "run",
            Command::Logs { .. } => "logs",
            Command::Rollback { .. } => "rollback",
        }
    }

    fn app(&self) -> Option<&str> {
        match self {
            Command::Status { app } => app.as_deref(),
            Command::Run { app, .. } | Command::Logs { app, .. } | Command::Rollback { app } => {
                Some(app)
            }
            _ => None,
        }
    }

    fn mutates(&self) -> bool {
        matches!(
            self,
            Command::Apply
                | Command::Destroy { .. }
                | Command::Run { .. }
                | Command::Rollback { .. }
        )
    }
}

// ---------------------------------------------------------------------------
// Output: colours, JSON, failures.

/// ANSI colours, only for a terminal and when `NO_COLOR` is unset.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn for_stream(is_terminal: bool) -> Self {
        Paint(is_terminal && std::env::var_os("NO_COLOR").is_none())
    }
    fn paint(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
    fn red(self, s: &str) -> String {
        self.paint("31", s)
    }
    fn green(self, s: &str) -> String {
        self.paint("32", s)
    }
    fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    fn magenta(self, s: &str) -> String {
        self.paint("35", s)
    }
    fn cyan(self, s: &str) -> String {
        self.paint("36", s)
    }
}

struct Out {
    json: bool,
    paint: Paint,
    err: Paint,
}

impl Out {
    /// One JSON line for the step `command`.
    fn emit(&self, command: &str, value: Value) {
        let mut obj = serde_json::Map::new();
        obj.insert("command".into(), Value::String(command.into()));
        match value {
            Value::Object(m) => obj.extend(m),
            other => {
                obj.insert("result".into(), other);
            }
        }
        println!("{}", Value::Object(obj));
    }
}

/// Why a step failed, and its exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    kind: &'static str,
    message: String,
    detail: Option<Value>,
}

impl Failure {
    fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            code: BAD_INPUT,
            kind: "bad_input",
            message: message.into(),
            detail: None,
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: FAILED,
            kind: "failed",
            message: message.into(),
            detail: None,
        }
    }

    /// Classify a library error: bad input, a failed rollout, a failed task, or other.
    fn from_error(e: &Error) -> Self {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        if !matches!(e, Error::Failed { .. }) {
            while let Some(s) = source {
                message.push_str(&format!("\n  caused by: {s}"));
                source = s.source();
            }
        }
        match e {
            Error::Invalid(_) => Failure::bad_input(message),
            Error::Failed { source, .. } => {
                if let Some(r) = source.downcast_ref::<RolloutError>() {
                    Failure {
                        code: ROLLOUT_FAILED,
                        kind: "rollout_failed",
                        message,
                        detail: serde_json::to_value(r).ok(),
                    }
                } else if let Some(t) = source.downcast_ref::<RunTaskError>() {
                    Failure {
                        code: TASK_FAILED,
                        kind: "task_failed",
                        message,
                        detail: t.outcome().and_then(|o| serde_json::to_value(o).ok()),
                    }
                } else {
                    Failure::failed(message)
                }
            }
            _ => Failure::failed(message),
        }
    }

    fn from_apply(e: &ApplyError) -> Self {
        let mut f = Failure::from_error(&e.source);
        f.message = e.to_string();
        if f.code == FAILED {
            for (step, why) in &e.other_failures {
                f.message
                    .push_str(&format!("\n  also failed: {step}: {why}"));
            }
            f.detail = Some(json!({
                "failed_step": e.failed_step,
                "other_failures": e.other_failures,
                "finished": e.finished,
                "not_started": e.not_started,
                "calls": e.calls,
            }));
        }
        f
    }

    fn report(&self, out: &Out, command: &str) {
        if out.json {
            out.emit(
                command,
                json!({
                    "ok": false,
                    "exit_code": self.code,
                    "error": {"kind": self.kind, "message": self.message, "detail": self.detail},
                }),
            );
        }
        let label = match self.code {
            BAD_INPUT => "bad input",
            ROLLOUT_FAILED => "rollout failed",
            TASK_FAILED => "task failed",
            _ => "error",
        };
        eprintln!("{}: {}", out.err.red(&out.err.bold(label)), self.message);
    }
}

// ---------------------------------------------------------------------------
// The app description file.

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
enum Kind {
    Service,
    Frontend,
    Backend,
    Job,
}

impl Kind {
    fn as_str(self) -> &'static str {
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
enum BuiltApp {
    Service(ContainerService),
    Frontend(FrontendApp),
    Backend(BackendApi),
    Job(ScheduledJob),
}

impl BuiltApp {
    fn app(&self) -> &dyn App {
        match self {
            BuiltApp::Service(a) => a,
            BuiltApp::Frontend(a) => a,
            BuiltApp::Backend(a) => a,
            BuiltApp::Job(a) => a,
        }
    }
    fn kind(&self) -> Kind {
        match self {
            BuiltApp::Service(_) => Kind::Service,
            BuiltApp::Frontend(_) => Kind::Frontend,
            BuiltApp::Backend(_) => Kind::Backend,
            BuiltApp::Job(_) => Kind::Job,
        }
    }
}

struct Loaded {
    env: Environment,
    apps: Vec<BuiltApp>,
    /// What the task definition imports replaced (fargate-rs's own roles, family, logs).
    notes: Vec<String>,
}

impl Loaded {
    fn all(&self) -> Vec<&dyn App> {
        self.apps.iter().map(BuiltApp::app).collect()
    }

    fn find(&self, name: &str) -> Result<&BuiltApp, Failure> {
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

fn load(path: &Path) -> Result<Loaded, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::bad_input(format!("{} is not JSON: {e}", path.display())))?;
    let file: AppFile = section(&value, "file")?;
    let env_value = file
        .environment
        .ok_or_else(|| Failure::bad_input("environment: missing (an object with a `name`)"))?;
    let env = build_env(section(&env_value, "environment")?)?;
    let mut apps = Vec::new();
    let mut notes = Vec::new();
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, v) in file.apps.unwrap_or_default().iter().enumerate() {
        let path = format!("apps[{i}]");
        let mut entry: AppEntry = section(v, &path)?;
        if let Some(td) = entry.task_definition.take() {
            notes.extend(import_task_definition(&base.join(td), &mut entry, &path)?);
        }
        apps.push(build_app(entry, &path)?);
    }
    Ok(Loaded { env, apps, notes })
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

/// Fill the entry's unset fields from an AWS CLI `register-task-definition` document,
/// checked by `fargate_deploy::cli_json` (every unsupported field is listed). What the app
/// builders cannot express is refused, naming the field; what fargate-rs replaces with its
/// own (family, execution role, log configuration, container name) is returned as notes.
fn import_task_definition(file: &Path, a: &mut AppEntry, at: &str) -> Result<Vec<String>, Failure> {
    let at = format!("{at}.task_definition");
    let bad = |m: String| Failure::bad_input(format!("{at} ({}): {m}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read: {e}")))?;
    let doc = TaskDefinitionDocument::from_json(&text).map_err(|e| bad(e.to_string()))?;
    let d = doc.to_json();
    let refuse = |field: &str, why: &str| bad(format!("{field}: {why}"));
    for field in ["taskRoleArn", "ephemeralStorage"] {
        if !d[field].is_null() {
            return Err(refuse(
                field,
                "not expressible in an app file (use the library's builders)",
            ));
        }
    }
    let containers = d["containerDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let [c] = containers.as_slice() else {
        return Err(refuse(
            "containerDefinitions",
            "the app file maps exactly one container (sidecars need the library's builders)",
        ));
    };
    for field in [
        "entryPoint",
        "stopTimeout",
        "readonlyRootFilesystem",
        "dependsOn",
    ] {
        if !c[field].is_null() {
            return Err(refuse(
                &format!("containerDefinitions[0].{field}"),
                "not expressible in an app file (use the library's builders)",
            ));
        }
    }
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    };
    let pairs = |v: &Value, value: &str| -> Option<BTreeMap<String, String>> {
        v.as_array().map(|l| {
            l.iter()
                .filter_map(|p| Some((p["name"].as_str()?.into(), p[value].as_str()?.into())))
                .collect()
        })
    };
    let units = |v: &Value| v.as_str().and_then(|s| s.parse::<u32>().ok());
    if a.image.is_none() && a.ecr_tag.is_none() {
        a.image = c["image"].as_str().map(str::to_string);
    }
    a.cpu = a.cpu.or(units(&d["cpu"]));
    a.memory = a.memory.or(units(&d["memory"]));
    if a.architecture.is_none()
        && let Some(arch) = d["runtimePlatform"]["cpuArchitecture"].as_str()
    {
        a.architecture = Some(
            arch.parse()
                .map_err(|e: fargate_core::InvalidValue| bad(e.to_string()))?,
        );
    }
    a.command = a.command.take().or_else(|| strings(&c["command"]));
    a.env = a.env.take().or_else(|| pairs(&c["environment"], "value"));
    a.secrets = a
        .secrets
        .take()
        .or_else(|| pairs(&c["secrets"], "valueFrom"));
    a.memory_reservation = a.memory_reservation.or(c["memoryReservation"]
        .as_u64()
        .and_then(|m| u32::try_from(m).ok()));
    if a.tags.is_none()
        && let Some(tags) = d["tags"].as_array()
    {
        a.tags = Some(
            tags.iter()
                .filter_map(|t| Some((t["key"].as_str()?.into(), t["value"].as_str()?.into())))
                .collect(),
        );
    }
    let mut replaced = vec!["family", "executionRoleArn"];
    match c["portMappings"].as_array().map(Vec::as_slice) {
        None | Some([]) => {}
        Some([_]) if a.kind == Some(Kind::Job) => {
            replaced.push("portMappings (a job serves no port)")
        }
        Some([p]) => {
            if a.port.is_none() {
                a.port = p["containerPort"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok());
            }
        }
        Some(_) => {
            return Err(refuse(
                "containerDefinitions[0].portMappings",
                "an app serves one port",
            ));
        }
    }
    let hc = &c["healthCheck"];
    if !hc.is_null() && a.health_check.is_none() {
        let defaults = hc["interval"] == 30
            && hc["timeout"] == 5
            && hc["retries"] == 3
            && hc["startPeriod"] == 0;
        match strings(&hc["command"]).as_deref() {
            Some([shell, cmd]) if shell == "CMD-SHELL" && defaults => {
                a.health_check = Some(cmd.clone());
            }
            _ => {
                return Err(refuse(
                    "containerDefinitions[0].healthCheck",
                    "only [\"CMD-SHELL\", \"<command>\"] with the ECS default timings maps onto `health_check`",
                ));
            }
        }
    }
    if !c["logConfiguration"].is_null() {
        replaced.push("logConfiguration");
    }
    let name = a.name.as_deref().unwrap_or("?");
    if c["name"].as_str() != Some(name) {
        replaced.push("the container name");
    }
    Ok(vec![format!(
        "{at}: fargate-rs uses its own {} for app `{name}`",
        replaced.join(", ")
    )])
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
            cpu: a.cpu.unwrap_or(256),
            memory: a.memory.unwrap_or(512),
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
        cpu: a.cpu.unwrap_or(256),
        memory: a.memory.unwrap_or(512),
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
                throttling: a.throttling.map(|t| (t.burst_limit, t.rate_limit)),
                jwt: a.jwt.map(|j| (j.issuer, j.audiences)),
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

// ---------------------------------------------------------------------------
// Command line: steps separated by `then`.

struct Invocation {
    file: PathBuf,
    json: bool,
    aws: bool,
    yes: bool,
    steps: Vec<Command>,
}

/// Split the arguments at `then` (not after `--`).
fn split_steps(args: impl IntoIterator<Item = OsString>) -> Vec<Vec<OsString>> {
    let mut steps = vec![Vec::new()];
    let mut rest_is_command = false;
    for a in args {
        if !rest_is_command && a == "then" {
            steps.push(Vec::new());
            continue;
        }
        if a == "--" {
            rest_is_command = true;
        }
        if let Some(last) = steps.last_mut() {
            last.push(a);
        }
    }
    steps
}

fn parse_args() -> Result<Invocation, ExitCode> {
    let mut args = std::env::args_os();
    let bin = args.next().unwrap_or_else(|| "fargate".into());
    let mut inv = Invocation {
        file: PathBuf::new(),
        json: false,
        aws: false,
        yes: false,
        steps: Vec::new(),
    };
    let mut file: Option<PathBuf> = None;
    for segment in split_steps(args) {
        let cli = match Cli::try_parse_from(std::iter::once(bin.clone()).chain(segment)) {
            Ok(cli) => cli,
            Err(e) if e.use_stderr() => {
                let _ = e.print();
                return Err(ExitCode::from(BAD_INPUT));
            }
            Err(e) => {
                let _ = e.print();
                return Err(ExitCode::from(OK));
            }
        };
        if let (Some(a), Some(b)) = (&file, &cli.file)
            && a != b
        {
            eprintln!(
                "bad input: one invocation reads one file, but both {} and {} were given",
                a.display(),
                b.display()
            );
            return Err(ExitCode::from(BAD_INPUT));
        }
        file = file.or(cli.file);
        inv.json |= cli.json;
        inv.aws |= cli.aws;
        inv.yes |= cli.yes;
        inv.steps.push(cli.command);
    }
    inv.file = file.unwrap_or_else(|| PathBuf::from("fargate.json"));
    Ok(inv)
}

#[tokio::main]
async fn main() -> ExitCode {
    let inv = match parse_args() {
        Ok(inv) => inv,
        Err(code) => return code,
    };
    let out = Out {
        json: inv.json,
        paint: Paint::for_stream(std::io::stdout().is_terminal()),
        err: Paint::for_stream(std::io::stderr().is_terminal()),
    };
    let first = inv.steps.first().map(Command::name).unwrap_or("load");
    let fail = |f: Failure, step: &str| {
        f.report(&out, step);
        ExitCode::from(f.code)
    };
    // Everything about the input is checked before any AWS call.
    let loaded = match load(&inv.file) {
        Ok(l) => l,
        Err(f) => return fail(f, first),
    };
    for step in &inv.steps {
        if let Err(f) = check_step(step, &loaded, &inv) {
            return fail(f, step.name());
        }
    }
    let target = fargate_examples::target(inv.aws).await;
    if !out.json {
        for n in &loaded.notes {
            eprintln!("{} {n}", out.err.dim("note:"));
        }
        eprintln!(
            "{} environment `{}` ({} apps) on {}",
            out.err.dim("fargate:"),
            loaded.env.name(),
            loaded.apps.len(),
            target.description
        );
    }
    let deployer = match Deployer::with_interceptors(&target.sdk, target.interceptors.clone()).await
    {
        Ok(d) => d,
        Err(e) => return fail(Failure::from_error(&e), first),
    };
    let mut code = OK;
    for step in &inv.steps {
        if !out.json && inv.steps.len() > 1 {
            println!("{}", out.paint.bold(&format!("== {}", step_title(step))));
        }
        match execute(step, &loaded, &deployer, &out).await {
            Ok(c) => code = c,
            Err(f) => return fail(f, step.name()),
        }
    }
    ExitCode::from(code)
}

fn step_title(step: &Command) -> String {
    match step.app() {
        Some(app) => format!("{} {app}", step.name()),
        None => step.name().to_string(),
    }
}

/// Input checks of a step that need no AWS call.
fn check_step(step: &Command, loaded: &Loaded, inv: &Invocation) -> Result<(), Failure> {
    if inv.aws && step.mutates() && !inv.yes {
        return Err(Failure::bad_input(format!(
            "`{}` changes your real AWS account: add --yes to confirm",
            step.name()
        )));
    }
    if let Some(name) = step.app() {
        let app = loaded.find(name)?;
        let needs_service = matches!(step, Command::Status { .. } | Command::Rollback { .. });
        if needs_service && app.kind() == Kind::Job {
            return Err(Failure::bad_input(format!(
                "app `{name}` is a scheduled job: it has no service to {}",
                if matches!(step, Command::Rollback { .. }) {
                    "roll back"
                } else {
                    "show (try `run` or `logs`)"
                }
            )));
        }
    }
    if let Command::Run { env, .. } = step {
        for kv in env {
            if kv.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                return Err(Failure::bad_input(format!(
                    "--env {kv}: expected NAME=VALUE"
                )));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The steps.

async fn execute(
    step: &Command,
    loaded: &Loaded,
    deployer: &Deployer,
    out: &Out,
) -> Result<u8, Failure> {
    let env = &loaded.env;
    match step {
        Command::Plan | Command::Diff => {
            let only_changes = matches!(step, Command::Diff);
            let plan = deployer
                .plan(env, &loaded.all())
                .await
                .map_err(|e| Failure::from_error(&e))?;
            show_plan(&plan, only_changes, step.name(), out);
            Ok(if plan.has_changes() { CHANGES } else { OK })
        }
        Command::Apply => {
            let plan = deployer
                .plan(env, &loaded.all())
                .await
                .map_err(|e| Failure::from_error(&e))?;
            let has_changes = plan.has_changes();
            if !out.json {
                print_plan_text(&plan, false, out);
            }
            let report = apply(deployer, plan, out).await?;
            report_apply(&report, has_changes, "apply", "applied", out);
            Ok(OK)
        }
        Command::Destroy { apps_only } => {
            let apps = loaded.all();
            let plan = if *apps_only {
                deployer.plan_destroy_apps(env, &apps).await
            } else {
                deployer.plan_destroy(env, &apps).await
            }
            .map_err(|e| Failure::from_error(&e))?;
            let has_changes = plan.has_changes();
            if !out.json {
                print_plan_text(&plan, false, out);
            }
            let report = apply(deployer, plan, out).await?;
            report_apply(&report, has_changes, "destroy", "destroyed", out);
            Ok(OK)
        }
        Command::Status { app } => {
            let apps: Vec<&BuiltApp> = match app {
                Some(name) => vec![loaded.find(name)?],
                None => loaded
                    .apps
                    .iter()
                    .filter(|a| a.kind() != Kind::Job)
                    .collect(),
            };
            let mut all = Vec::new();
            for a in apps {
                let s = deployer
                    .status(env, a.app())
                    .await
                    .map_err(|e| Failure::from_error(&e))?;
                if !out.json {
                    print_status(a.app().name().as_str(), &s, out);
                }
                all.push(json!({"app": a.app().name().as_str(), "status": s}));
            }
            if out.json {
                out.emit("status", json!({"ok": true, "services": all}));
            } else if all.is_empty() {
                println!("no services in the file");
            }
            Ok(OK)
        }
        Command::Run {
            app,
            env: vars,
            timeout,
            command,
        } => run_task(loaded, deployer, out, app, vars, *timeout, command).await,
        Command::Logs { app, lines } => logs(loaded, deployer, out, app, *lines).await,
        Command::Rollback { app } => {
            let a = loaded.find(app)?;
            let td = deployer
                .rollback(env, a.app())
                .await
                .map_err(|e| Failure::from_error(&e))?;
            if out.json {
                out.emit(
                    "rollback",
                    json!({"ok": true, "app": app, "task_definition": td}),
                );
            } else {
                println!("{} {app} to {td}", out.paint.green("rolled back"));
            }
            Ok(OK)
        }
    }
}

async fn apply(deployer: &Deployer, plan: DeployPlan, out: &Out) -> Result<ApplyReport, Failure> {
    let (events, renderer) = if out.json {
        (EventSink::none(), None)
    } else {
        let (events, handle) = fargate_examples::progress(deployer.recorder().clone());
        (events, Some(handle))
    };
    let result = deployer
        .apply_with(
            plan,
            ApplyOptions {
                events,
                ..ApplyOptions::default()
            },
        )
        .await;
    if let Some(r) = renderer {
        let _ = r.await;
    }
    result.map_err(|e| Failure::from_apply(&e))
}

fn report_apply(report: &ApplyReport, has_changes: bool, command: &str, verb: &str, out: &Out) {
    if out.json {
        let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("ok".into(), Value::Bool(true));
            m.insert("had_changes".into(), Value::Bool(has_changes));
        }
        out.emit(command, v);
        return;
    }
    println!(
        "{} in {:.1}s: {} ({} AWS calls, {} mutating)",
        out.paint.green(verb),
        report.elapsed.as_secs_f64(),
        report.summary,
        report.calls.total,
        report.calls.mutating
    );
    for (k, v) in &report.outputs {
        println!("  {} = {v}", out.paint.bold(k));
    }
}

fn plan_line(line: &str, p: Paint) -> String {
    let t = line.trim_start();
    if t.starts_with("-/+ ") {
        p.magenta(line)
    } else if t.starts_with("+ ") {
        p.green(line)
    } else if t.starts_with("~ ") {
        p.yellow(line)
    } else if t.starts_with("- ") {
        p.red(line)
    } else if t.starts_with("<= ") {
        p.cyan(line)
    } else if t.starts_with("Plan:") {
        p.bold(line)
    } else if t.starts_with("No changes.") {
        p.green(line)
    } else if t.starts_with("note:") {
        p.dim(line)
    } else {
        line.to_string()
    }
}

/// The plan as people read it; `only_changes` leaves out the summary and notes.
fn print_plan_text(plan: &DeployPlan, only_changes: bool, out: &Out) {
    let text = plan.to_string();
    for line in text.lines() {
        let t = line.trim_start();
        let trailer = line.is_empty()
            || t.starts_with("Plan:")
            || t.starts_with("No changes.")
            || t.starts_with("note:");
        if only_changes && trailer {
            continue;
        }
        println!("{}", plan_line(line, out.paint));
    }
    if only_changes && !plan.has_changes() {
        println!("{}", out.paint.green("No changes."));
    }
}

fn show_plan(plan: &DeployPlan, only_changes: bool, command: &str, out: &Out) {
    let p = plan.plan();
    if out.json {
        let changes: Vec<_> = p
            .changes
            .iter()
            .filter(|c| !only_changes || c.change.is_change())
            .collect();
        let mut v = json!({
            "ok": true,
            "has_changes": p.has_changes(),
            "summary": p.summary(),
            "changes": changes,
            "notes": p.notes,
        });
        if !only_changes && let Value::Object(m) = &mut v {
            m.insert(
                "cost_estimate".into(),
                serde_json::to_value(plan.estimate_cost(&PricingTable::default()))
                    .unwrap_or(Value::Null),
            );
        }
        out.emit(command, v);
        return;
    }
    print_plan_text(plan, only_changes, out);
    if !only_changes {
        println!("\n{}", plan.estimate_cost(&PricingTable::default()));
    }
}

fn print_status(name: &str, s: &fargate_deploy::ServiceStatus, out: &Out) {
    let p = out.paint;
    let state = format!("{} {}/{} running", s.status, s.running, s.desired);
    let state = if s.status == "ACTIVE" && s.running >= s.desired {
        p.green(&state)
    } else if s.status == "MISSING" {
        p.yellow(&format!("{} (not deployed)", s.status))
    } else {
        p.yellow(&state)
    };
    println!("{}: {state}, {} pending", p.bold(name), s.pending);
    if let Some(td) = &s.task_definition {
        println!("  task definition {td}");
    }
    if let Some(prev) = &s.previous_task_definition {
        println!("  {}", p.dim(&format!("previous (rollback target) {prev}")));
    }
    for d in &s.deployments {
        println!(
            "  deployment {} {}: {}/{} running, {} failed, {}",
            d.id,
            d.status,
            d.running,
            d.desired,
            d.failed_tasks,
            d.rollout_state.as_deref().unwrap_or("-")
        );
    }
    for t in &s.targets {
        let line = format!("  target {} is {}", t.target, t.state);
        println!(
            "{}",
            if t.state == "healthy" {
                p.green(&line)
            } else {
                p.red(&line)
            }
        );
    }
    for e in &s.events {
        println!("  {}", p.dim(&format!("event: {e}")));
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_task(
    loaded: &Loaded,
    deployer: &Deployer,
    out: &Out,
    name: &str,
    vars: &[String],
    timeout: u64,
    command: &[String],
) -> Result<u8, Failure> {
    let a = loaded.find(name)?;
    let info = a
        .app()
        .task(&loaded.env)
        .ok_or_else(|| Failure::bad_input(format!("app `{name}` has no task to run")))?;
    let mut o = match a {
        BuiltApp::Job(job) => job.job_override().clone(),
        _ => ContainerOverride::new(info.container.clone())
            .map_err(|e| Failure::bad_input(e.to_string()))?,
    };
    for kv in vars {
        if let Some((k, v)) = kv.split_once('=') {
            o = o
                .env(k, v)
                .map_err(|e| Failure::bad_input(format!("--env {kv}: {e}")))?;
        }
    }
    if !command.is_empty() {
        o = o.command(command.iter().cloned());
    }
    let (events, renderer) = if out.json {
        (EventSink::none(), None)
    } else {
        let (events, handle) = fargate_examples::progress(deployer.recorder().clone());
        (events, Some(handle))
    };
    let result = deployer
        .run(
            &loaded.env,
            a.app(),
            vec![o],
            Duration::from_secs(timeout),
            events,
        )
        .await;
    if let Some(r) = renderer {
        let _ = r.await;
    }
    let outcome = result.map_err(|e| Failure::from_error(&e))?;
    let code = match outcome.exit_code() {
        Some(c) if c != 0 => TASK_FAILED,
        _ => OK,
    };
    if out.json {
        let mut v = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("ok".into(), Value::Bool(code == OK));
            m.insert("app".into(), Value::String(name.into()));
            m.insert("exit_code".into(), json!(outcome.exit_code()));
        }
        out.emit("run", v);
        return Ok(code);
    }
    let exit = outcome
        .exit_code()
        .map(|c| format!("exit code {c}"))
        .unwrap_or_else(|| "no exit code".into());
    let exit = if code == OK {
        out.paint.green(&exit)
    } else {
        out.paint.red(&exit)
    };
    println!(
        "task {} stopped: {exit}, {}",
        outcome.task_id(),
        outcome
            .stopped_reason
            .as_deref()
            .unwrap_or("no reason given")
    );
    for c in &outcome.containers {
        for line in &c.last_log_lines {
            println!("  {} {line}", out.paint.dim("|"));
        }
    }
    Ok(code)
}

async fn logs(
    loaded: &Loaded,
    deployer: &Deployer,
    out: &Out,
    name: &str,
    lines: u32,
) -> Result<u8, Failure> {
    let a = loaded.find(name)?;
    let info = a
        .app()
        .task(&loaded.env)
        .ok_or_else(|| Failure::bad_input(format!("app `{name}` has no task")))?;
    let group = info.logs.group.clone();
    let prefix = format!("{}/{}/", info.logs.stream_prefix, info.container);
    let id = ResourceId::new("logs:log-group", group.as_str());
    let clients = deployer.clients();
    // The most recently written streams; the app's main container's is `<prefix>/<container>/<task>`.
    let found = clients
        .logs
        .describe_log_streams()
        .log_group_name(&group)
        .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LastEventTime)
        .descending(true)
        .limit(50)
        .send()
        .await
        .context(&id, "DescribeLogStreams");
    let found = match found {
        Ok(f) => f,
        Err(e) if e.aws_code() == Some("ResourceNotFoundException") => {
            return Err(Failure::failed(format!(
                "log group {group} does not exist: apply the app first"
            )));
        }
        Err(e) => return Err(Failure::from_error(&e)),
    };
    let stream = found
        .log_streams()
        .iter()
        .filter_map(|s| s.log_stream_name())
        .find(|s| s.starts_with(&prefix))
        .map(str::to_string);
    let lines = match &stream {
        Some(s) => fargate_deploy::logs::last_log_lines(clients, &group, s, lines)
            .await
            .map_err(|e| Failure::from_error(&e))?,
        None => Vec::new(),
    };
    if out.json {
        out.emit(
            "logs",
            json!({"ok": true, "app": name, "group": group, "stream": stream, "lines": lines}),
        );
        return Ok(OK);
    }
    match &stream {
        Some(s) => println!("{}", out.paint.dim(&format!("{group} {s}"))),
        None => println!("no log stream yet in {group} (no task of `{name}` has logged)"),
    }
    for l in &lines {
        println!("  {} {l}", out.paint.dim("|"));
    }
    Ok(OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fargate_deploy::rollout::{
        ContainerExit, Diagnosis, FailureReason, RollbackOutcome, StoppedTask,
    };
    use fargate_deploy::run_task::TaskOutcome;

    fn failed_container() -> ContainerExit {
        ContainerExit {
            name: "web".into(),
            exit_code: Some(1),
            reason: None,
            last_log_lines: vec!["panic: no DATABASE_URL".into()],
        }
    }

    #[test]
    fn a_failed_rollout_is_exit_code_4_with_its_diagnosis() {
        let rollout = RolloutError {
            service: "web".into(),
            reason: FailureReason::TasksKeptFailing {
                failed: 3,
                threshold: 3,
            },
            diagnosis: Diagnosis {
                stopped_tasks: vec![StoppedTask {
                    task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
                    task_definition: "web:2".into(),
                    stopped_reason: Some("Essential container in task exited".into()),
                    stop_code: None,
                    containers: vec![failed_container()],
                }],
                ..Diagnosis::default()
            },
            rollback: RollbackOutcome::RolledBackTo("web:1".into()),
        };
        let apply_error = ApplyError {
            failed_step: "ecs:service prod/web".into(),
            source: Error::Failed {
                resource: ResourceId::new("ecs:service", "prod/web"),
                source: Box::new(rollout),
            },
            other_failures: Vec::new(),
            finished: Vec::new(),
            not_started: Vec::new(),
            calls: Default::default(),
        };
        let f = Failure::from_apply(&apply_error);
        assert_eq!(f.code, ROLLOUT_FAILED);
        assert!(
            f.message.contains("panic: no DATABASE_URL"),
            "{}",
            f.message
        );
        assert!(f.message.contains("rolled back to web:1"), "{}", f.message);
        let detail = f.detail.unwrap();
        assert_eq!(detail["rollback"]["RolledBackTo"], "web:1");
    }

    #[test]
    fn a_task_that_exits_non_zero_is_exit_code_5_with_its_outcome() {
        let outcome = TaskOutcome {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
            task_definition: "etl:1".into(),
            stopped_reason: Some("Essential container in task exited".into()),
            stop_code: Some("EssentialContainerExited".into()),
            containers: vec![failed_container()],
            main_container: Some("web".into()),
            created_at: None,
            started_at: None,
            stopped_at: None,
        };
        let e = Error::Failed {
            resource: ResourceId::new("ecs:task", "abc"),
            source: Box::new(RunTaskError::ExitedNonZero {
                outcome: Box::new(outcome),
            }),
        };
        let f = Failure::from_error(&e);
        assert_eq!(f.code, TASK_FAILED);
        assert_eq!(f.detail.unwrap()["containers"][0]["exit_code"], 1);
    }

    #[test]
    fn invalid_values_are_bad_input_and_aws_errors_are_failures() {
        let invalid = Error::Invalid(fargate_core::InvalidValue::new("web.cpu", "3", "no", "256"));
        assert_eq!(Failure::from_error(&invalid).code, BAD_INPUT);
        let not_owned = Error::NotOwned {
            resource: ResourceId::new("ecs:cluster", "prod"),
            detail: "no tags".into(),
        };
        assert_eq!(Failure::from_error(&not_owned).code, FAILED);
    }

    #[test]
    fn steps_split_at_then_but_not_inside_a_run_command() {
        let args = ["apply", "then", "run", "etl", "--", "echo", "then", "x"]
            .map(OsString::from)
            .to_vec();
        let steps = split_steps(args);
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[1],
            ["run", "etl", "--", "echo", "then", "x"].map(OsString::from)
        );
    }
}
