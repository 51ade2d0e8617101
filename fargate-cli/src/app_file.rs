//! The app description file (JSON): an environment and its apps, deserialized straight into
//! the builders' own input types ([`EnvironmentSpec`], [`ContainerServiceSpec`],
//! [`FrontendAppSpec`], [`BackendApiSpec`], [`ScheduledJobSpec`], [`ExpressAppSpec`]), which
//! validate it before any
//! AWS call. Its JSON Schema is generated from these types ([`schema`], `fargate schema`,
//! shipped as `fargate-cli/app-file.schema.json`). Every error names the field
//! (`apps[0].cpu`).

mod explain;
mod import;
pub mod schema;
#[cfg(test)]
mod tests;

use std::path::Path;

use fargate_core::Error;
use fargate_deploy::apps::{ContainerServiceSpec, ScheduledJobSpec};
use fargate_deploy::environment::EnvironmentSpec;
use fargate_deploy::{
    App, BackendApi, BackendApiSpec, ContainerService, Environment, ExpressApp, ExpressAppSpec,
    FrontendApp, FrontendAppSpec, ScheduledJob,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::exit::Failure;

/// The whole file: `{"$schema": ..., "environment": {...}, "apps": [...]}`.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "fargate app file",
    description = "An environment and its apps, for the `fargate` CLI of fargate-rs (`fargate -f FILE plan`). Generated from the builders' input types: print it with `fargate schema`."
)]
pub struct AppFile {
    /// The JSON Schema of this file, for editors (e.g. `../../fargate-cli/app-file.schema.json`
    /// from `examples/apps/`); not read otherwise.
    #[serde(rename = "$schema", default)]
    #[allow(dead_code, reason = "for editors; fargate reads nothing from it")]
    pub schema: Option<String>,
    /// What the apps share: the network, the ECS cluster, the load balancers.
    pub environment: EnvironmentSpec,
    /// The apps, each with its `kind`.
    #[serde(default)]
    pub apps: Vec<AppSpec>,
}

/// One app: the builder input of its `kind`. Any entry may also name an AWS CLI
/// `register-task-definition` JSON file in `task_definition` (relative to the app file) whose
/// container fills the fields the entry does not give, and an app with a service a
/// `create-service` JSON file in `service_definition` whose settings do, and a job a `run-task`
/// JSON file in `run_task_definition` whose container override does.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[schemars(transform = schema::with_task_definition)]
pub enum AppSpec {
    /// A worker or internal service on Fargate, with no load balancer (`ContainerService`).
    Service(ContainerServiceSpec),
    /// A web app behind the environment's public ALB (`FrontendApp`).
    Frontend(FrontendAppSpec),
    /// An API behind API Gateway and the environment's internal NLB (`BackendApi`).
    Backend(BackendApiSpec),
    /// A task run on a schedule by EventBridge Scheduler (`ScheduledJob`).
    Job(ScheduledJobSpec),
    /// A web app on ECS Express Mode, with the load balancer, certificate and autoscaling
    /// AWS makes for it (`ExpressApp`; real AWS only).
    Express(ExpressAppSpec),
}

/// The kinds of app, as the file's `"kind"` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Service,
    Frontend,
    Backend,
    Job,
    Express,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Service,
        Kind::Frontend,
        Kind::Backend,
        Kind::Job,
        Kind::Express,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Job => "job",
            Kind::Express => "express",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// `service, frontend, backend, job, express`.
    fn list() -> String {
        Kind::ALL.map(Kind::as_str).join(", ")
    }
}

impl AppSpec {
    fn name(&self) -> &str {
        match self {
            AppSpec::Service(s) => &s.name,
            AppSpec::Frontend(s) => s.service.name().as_str(),
            AppSpec::Backend(s) => s.service.name().as_str(),
            AppSpec::Job(s) => &s.name,
            AppSpec::Express(s) => &s.name,
        }
    }

    /// The task memory (MiB) and the container's memory reservation, as given or defaulted;
    /// `None` for an Express app (no reservation to give: AWS makes its task definition).
    fn memory(&self) -> Option<(u32, Option<u32>)> {
        let of_service = |s: &ContainerService| {
            let settings = s.settings();
            (settings.size.memory_mib(), settings.memory_reservation)
        };
        Some(match self {
            AppSpec::Service(s) => (s.memory, s.memory_reservation),
            AppSpec::Frontend(s) => of_service(&s.service),
            AppSpec::Backend(s) => of_service(&s.service),
            AppSpec::Job(s) => (s.memory, s.memory_reservation),
            AppSpec::Express(_) => return None,
        })
    }

    /// Validate the spec with its builder; errors name `at` (`apps[0] (web)`) and the field.
    fn build(self, at: &str) -> Result<BuiltApp, Failure> {
        let at = format!("{at} ({})", self.name());
        let invalid = invalid(&at);
        Ok(match self {
            AppSpec::Service(s) => BuiltApp::Service(ContainerService::new(s).map_err(invalid)?),
            AppSpec::Frontend(s) => BuiltApp::Frontend(FrontendApp::new(s).map_err(invalid)?),
            AppSpec::Backend(s) => BuiltApp::Backend(BackendApi::new(s).map_err(invalid)?),
            AppSpec::Job(s) => BuiltApp::Job(ScheduledJob::new(s).map_err(invalid)?),
            AppSpec::Express(s) => BuiltApp::Express(ExpressApp::new(s).map_err(invalid)?),
        })
    }
}

/// A built app of the file.
pub enum BuiltApp {
    Service(ContainerService),
    Frontend(FrontendApp),
    Backend(BackendApi),
    Job(ScheduledJob),
    Express(ExpressApp),
}

impl BuiltApp {
    pub fn app(&self) -> &dyn App {
        match self {
            BuiltApp::Service(a) => a,
            BuiltApp::Frontend(a) => a,
            BuiltApp::Backend(a) => a,
            BuiltApp::Job(a) => a,
            BuiltApp::Express(a) => a,
        }
    }
    pub fn kind(&self) -> Kind {
        match self {
            BuiltApp::Service(_) => Kind::Service,
            BuiltApp::Frontend(_) => Kind::Frontend,
            BuiltApp::Backend(_) => Kind::Backend,
            BuiltApp::Job(_) => Kind::Job,
            BuiltApp::Express(_) => Kind::Express,
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

/// Deserialize the file's JSON (task definitions already imported) into its types; on failure,
/// the error names the field (`apps[2].port`) and what is allowed there.
pub fn parse(value: &Value) -> Result<AppFile, Failure> {
    serde_path_to_error::deserialize(value).map_err(|e| explain::explain(value, &e))
}

/// Read, check and build the app file at `path`. For the local emulator (`emulator`), an app
/// whose container reserves no memory gets a reservation equal to the task memory (moto's
/// RunTask answers HTTP 500 without one), with a note; nothing is added otherwise.
pub fn load(path: &Path, emulator: bool) -> Result<Loaded, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let mut value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::bad_input(format!("{} is not JSON: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut notes = import::import_task_definitions(&mut value, base)?;
    let mut file = parse(&value)?;
    let mut without_memory_reservation = Vec::new();
    let mut added = false;
    for (i, app) in file.apps.iter().enumerate() {
        let Some((memory, None)) = app.memory() else {
            continue;
        };
        let name = app.name();
        if !emulator {
            without_memory_reservation.push(name.to_string());
            continue;
        }
        if let Some(entry) = value
            .get_mut("apps")
            .and_then(|apps| apps.get_mut(i))
            .and_then(Value::as_object_mut)
        {
            entry.insert("memory_reservation".into(), memory.into());
            added = true;
            notes.push(format!(
                "apps[{i}] ({name}): the local emulator cannot run a task whose container \
                 reserves no memory, so here it gets memory_reservation = {memory} (the task \
                 memory); set `memory_reservation` to choose; nothing is added on AWS"
            ));
        }
    }
    if added {
        file = parse(&value)?;
    }
    let env = Environment::new(file.environment).map_err(invalid("environment"))?;
    let apps = file
        .apps
        .into_iter()
        .enumerate()
        .map(|(i, app)| app.build(&format!("apps[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        env,
        apps,
        notes,
        without_memory_reservation,
    })
}

/// A builder's error, reported at `path` (`apps[0] (web): invalid web.cpu ...`).
fn invalid(path: &str) -> impl Fn(Error) -> Failure + '_ {
    move |e| {
        let mut f = Failure::from_error(&e);
        f.message = format!("{path}: {}", f.message);
        f
    }
}
