//! Run a task now, wait for it to stop, and return its exit code and last log lines.
//!
//! Start with [`RunTaskRequest::new`] (cluster, task definition, subnets, security groups),
//! set what differs from the defaults (30-minute timeout; DescribeTasks at once, then after
//! 1 s, the interval doubling to at most 5 s — at 0, 1, 3, 7, 12, 17, … s — so a short task's
//! end is seen within a second or two and a long one's within 5 s; the last 50 log lines,
//! on-demand Fargate, no public IP), then call [`run_now`]:
//!
//! ```no_run
//! # async fn example(clients: &fargate_deploy::Clients) -> Result<(), fargate_core::Error> {
//! use fargate_core::exec::{CancellationToken, EventSink, Outputs, StepContext};
//! use fargate_deploy::run_task::{ContainerOverride, RunTaskRequest, run_now};
//!
//! let request = RunTaskRequest::new("prod", "prod-migrate", vec!["subnet-1".into()], vec!["sg-1".into()])?
//!     .container_override(ContainerOverride::new("app")?.command(["migrate", "--to", "42"]));
//! // Progress ("task 1a2b… RUNNING") goes to the events of the context.
//! let (events, _rx) = EventSink::channel();
//! let ctx = StepContext::detached("run migrate", Outputs::new(), events, CancellationToken::new());
//! let outcome = run_now(clients, &request, &ctx).await?;
//! assert_eq!(outcome.exit_code(), Some(0));
//! # Ok(()) }
//! ```
//!
//! A task whose main container exits non-zero, or that never started (no exit code, for
//! example `CannotPullContainerError`), is an [`Error::Failed`] whose source is a
//! [`RunTaskError`] carrying the whole [`TaskOutcome`], logs included. A task still running
//! at the timeout is stopped (reason `fargate-rs: run-now timed out`) and reported as
//! [`Error::Timeout`].
//!
//! [`ContainerOverride`] is shared with scheduled jobs ([`crate::schedule`]), which send the
//! same overrides as the schedule target's input ([`overrides_json`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, KeyValuePair, LaunchType,
    NetworkConfiguration, Task, TaskOverride,
};
use fargate_core::redact::DebugEnv;
use fargate_core::wait::{Poll, poll_until, retry_eventual};
use fargate_core::{
    AwsResultExt, EcsName, EnvVarName, Error, InvalidValue, ResourceId, StepContext, client_token,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Clients;
use crate::iam::is_iam_propagation_error;
use crate::rollout::diagnose::{ContainerExit, LogLocation, StoppedTask, attach_log_lines};
use crate::task_definition::IAM_PROPAGATION;

/// The resource kind of one-off tasks in errors and progress.
pub const KIND: &str = "ecs:run-task";

/// The reason given to ECS when a task is stopped because it ran past its timeout.
pub const TIMEOUT_STOP_REASON: &str = "fargate-rs: run-now timed out";

/// RunTask accepts at most this many characters of overrides, JSON formatting included.
pub const MAX_OVERRIDES_CHARS: usize = 8192;

/// The most CPU units a Fargate container can be given (16 vCPU).
const MAX_CPU_UNITS: u32 = 16_384;
/// The most memory a Fargate container can be given, in MiB (120 GiB).
const MAX_MEMORY_MIB: u32 = 122_880;

/// Changes to one container of the task definition for one run: environment variables
/// (added to or replacing those of the task definition), the command, CPU and memory.
///
/// Environment values are plain text, stored in clear in ECS (and in a schedule's target):
/// pass secrets through the task definition's `secrets`, never here. Values that look like
/// secrets (by name, such as `API_TOKEN`, or a URL with a password; see
/// [`fargate_core::redact`]) are still redacted wherever fargate-rs shows them: plans, `Debug`,
/// events and logs. [`to_json`](Self::to_json) and the serde form keep the real values (they
/// are what is sent to AWS).
///
/// ```
/// use fargate_deploy::run_task::ContainerOverride;
/// let o = ContainerOverride::new("app")?.env("MODE", "full")?.command(["report", "--daily"]);
/// assert_eq!(o.to_json()["environment"][0]["name"], "MODE");
/// assert!(ContainerOverride::new("app")?.env("2FA", "x").is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerOverride {
    /// The container's name in the task definition.
    pub name: String,
    /// Environment variables to set, by name.
    pub environment: BTreeMap<String, String>,
    /// The command to run instead of the image's or task definition's.
    pub command: Option<Vec<String>>,
    /// CPU units for the container (1024 = 1 vCPU), within the task's.
    pub cpu: Option<u32>,
    /// Hard memory limit of the container in MiB, within the task's.
    pub memory: Option<u32>,
}

impl fmt::Debug for ContainerOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            environment,
            command,
            cpu,
            memory,
        } = self;
        f.debug_struct("ContainerOverride")
            .field("name", name)
            .field("environment", &DebugEnv(environment))
            .field("command", command)
            .field("cpu", cpu)
            .field("memory", memory)
            .finish()
    }
}

impl ContainerOverride {
    /// Overrides for the container `name`.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `container_override.name` unless the name is 1 to 255
    /// letters, digits, hyphens and underscores (ECS's rule for container names).
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidValue> {
        let name = name.into();
        check_container_name(&name)?;
        Ok(Self {
            name,
            ..Self::default()
        })
    }

    /// Set the environment variable `name` to `value`.
    ///
    /// # Errors
    /// An [`InvalidValue`] when `name` is not a portable variable name ([`EnvVarName`]).
    pub fn env(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, InvalidValue> {
        let name = EnvVarName::new(name)?;
        self.environment
            .insert(name.as_str().to_string(), value.into());
        Ok(self)
    }

    /// Run this command instead of the default one.
    #[must_use]
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Give the container `units` CPU units (1024 = 1 vCPU).
    ///
    /// # Errors
    /// An [`InvalidValue`] unless `units` is from 1 to 16384.
    pub fn cpu(mut self, units: u32) -> Result<Self, InvalidValue> {
        self.cpu = Some(units);
        self.validate()?;
        Ok(self)
    }

    /// Give the container a hard memory limit of `mib` MiB.
    ///
    /// # Errors
    /// An [`InvalidValue`] unless `mib` is from 6 to 122880 (ECS needs at least 6 MiB).
    pub fn memory(mut self, mib: u32) -> Result<Self, InvalidValue> {
        self.memory = Some(mib);
        self.validate()?;
        Ok(self)
    }

    /// Check every field (the fields are public, so [`run_now`] and the schedule check again).
    ///
    /// # Errors
    /// An [`InvalidValue`] naming the first invalid field.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        check_container_name(&self.name)?;
        for name in self.environment.keys() {
            EnvVarName::new(name.as_str())
                .map_err(|e| e.in_field(format!("container_override.{}.environment", self.name)))?;
        }
        if let Some(cpu) = self.cpu
            && !(1..=MAX_CPU_UNITS).contains(&cpu)
        {
            return Err(InvalidValue::new(
                format!("container_override.{}.cpu", self.name),
                cpu.to_string(),
                "out of range",
                format!("1 to {MAX_CPU_UNITS} CPU units (1024 = 1 vCPU), within the task's CPU"),
            ));
        }
        if let Some(memory) = self.memory
            && !(6..=MAX_MEMORY_MIB).contains(&memory)
        {
            return Err(InvalidValue::new(
                format!("container_override.{}.memory", self.name),
                memory.to_string(),
                "out of range",
                format!("6 to {MAX_MEMORY_MIB} MiB, within the task's memory"),
            ));
        }
        Ok(())
    }

    /// The override in the shape of ECS's `ContainerOverride` JSON (camelCase keys), as
    /// EventBridge Scheduler passes it to RunTask.
    pub fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("name".into(), json!(self.name));
        if !self.environment.is_empty() {
            let env: Vec<Value> = self
                .environment
                .iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect();
            o.insert("environment".into(), Value::Array(env));
        }
        if let Some(command) = &self.command {
            o.insert("command".into(), json!(command));
        }
        if let Some(cpu) = self.cpu {
            o.insert("cpu".into(), json!(cpu));
        }
        if let Some(memory) = self.memory {
            o.insert("memory".into(), json!(memory));
        }
        Value::Object(o)
    }

    /// The override as the ECS SDK type.
    pub fn to_ecs(&self) -> aws_sdk_ecs::types::ContainerOverride {
        let env: Vec<KeyValuePair> = self
            .environment
            .iter()
            .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
            .collect();
        aws_sdk_ecs::types::ContainerOverride::builder()
            .name(&self.name)
            .set_environment((!env.is_empty()).then_some(env))
            .set_command(self.command.clone())
            .set_cpu(self.cpu.and_then(|c| i32::try_from(c).ok()))
            .set_memory(self.memory.and_then(|m| i32::try_from(m).ok()))
            .build()
    }
}

fn check_container_name(name: &str) -> Result<(), InvalidValue> {
    EcsName::new(name)
        .map(drop)
        .map_err(|e| e.in_field("container_override.name"))
}

/// The task overrides JSON, `{"containerOverrides":[...]}`, or `None` when there are none.
pub fn overrides_json(overrides: &[ContainerOverride]) -> Option<Value> {
    if overrides.is_empty() {
        return None;
    }
    Some(
        json!({ "containerOverrides": overrides.iter().map(ContainerOverride::to_json).collect::<Vec<_>>() }),
    )
}

/// Check a list of overrides: each valid, at most one per container, within RunTask's size limit.
///
/// # Errors
/// An [`InvalidValue`] naming what is wrong.
pub fn validate_overrides(overrides: &[ContainerOverride]) -> Result<(), InvalidValue> {
    let mut seen = std::collections::BTreeSet::new();
    for o in overrides {
        o.validate()?;
        if !seen.insert(o.name.as_str()) {
            return Err(InvalidValue::new(
                "container_overrides",
                o.name.clone(),
                "the container has two overrides",
                "at most one override per container",
            ));
        }
    }
    if let Some(v) = overrides_json(overrides) {
        let len = v.to_string().len();
        if len > MAX_OVERRIDES_CHARS {
            return Err(InvalidValue::new(
                "container_overrides",
                format!("{len} characters of JSON"),
                "too long for RunTask",
                format!("at most {MAX_OVERRIDES_CHARS} characters of overrides JSON"),
            ));
        }
    }
    Ok(())
}

/// Which Fargate capacity a one-off task runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunCapacity {
    /// On-demand Fargate (launch type `FARGATE`).
    #[default]
    Fargate,
    /// Fargate Spot (capacity provider `FARGATE_SPOT`; the cluster must have it): cheaper, may
    /// be interrupted.
    FargateSpot,
}

/// The default first interval between DescribeTasks calls of [`run_now`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The default longest interval between DescribeTasks calls of [`run_now`].
pub const DEFAULT_MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

fn default_max_poll_interval() -> Duration {
    DEFAULT_MAX_POLL_INTERVAL
}

/// What to run and how long to wait for it. Built with [`RunTaskRequest::new`]; the fields
/// are public for inspection and checked again by [`run_now`] before any call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTaskRequest {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Task definition ARN, `family:revision`, or family (its latest ACTIVE revision).
    pub task_definition: String,
    /// Subnets for the task's network interface (at least one).
    pub subnets: Vec<String>,
    /// Security groups of the task.
    pub security_groups: Vec<String>,
    /// Whether the task gets a public IP (needed in public subnets without NAT to pull images).
    pub assign_public_ip: bool,
    /// Per-container overrides.
    pub container_overrides: Vec<ContainerOverride>,
    /// Fargate or Fargate Spot.
    pub capacity: RunCapacity,
    /// The task's `startedBy` (default `fargate-rs`): up to 128 letters, digits, hyphens and
    /// underscores.
    pub started_by: String,
    /// Where the containers log, to return their last lines.
    pub log: Option<LogLocation>,
    /// Stop the task and give up after this long (default 30 minutes).
    pub timeout: Duration,
    /// First interval between DescribeTasks calls (default 1 s); it doubles after each call
    /// that did not see the task stopped, up to [`max_poll_interval`](Self::max_poll_interval).
    pub poll_interval: Duration,
    /// The longest interval between DescribeTasks calls (default 5 s): how late, at most, the
    /// task's end is seen. A value below `poll_interval` means polling every `poll_interval`.
    #[serde(default = "default_max_poll_interval")]
    pub max_poll_interval: Duration,
    /// How many log lines to return per container (default 50).
    pub log_lines: usize,
}

impl RunTaskRequest {
    /// Run `task_definition` in `cluster` on these subnets with these security groups.
    ///
    /// # Errors
    /// An [`InvalidValue`] when the cluster or task definition is empty or there is no subnet.
    pub fn new(
        cluster: impl Into<String>,
        task_definition: impl Into<String>,
        subnets: Vec<String>,
        security_groups: Vec<String>,
    ) -> Result<Self, InvalidValue> {
        let request = Self {
            cluster: cluster.into(),
            task_definition: task_definition.into(),
            subnets,
            security_groups,
            assign_public_ip: false,
            container_overrides: Vec::new(),
            capacity: RunCapacity::Fargate,
            started_by: "fargate-rs".to_string(),
            log: None,
            timeout: Duration::from_secs(30 * 60),
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_poll_interval: DEFAULT_MAX_POLL_INTERVAL,
            log_lines: 50,
        };
        request.validate()?;
        Ok(request)
    }

    /// Give the task a public IP.
    #[must_use]
    pub fn assign_public_ip(mut self, yes: bool) -> Self {
        self.assign_public_ip = yes;
        self
    }

    /// Add overrides for one container.
    #[must_use]
    pub fn container_override(mut self, o: ContainerOverride) -> Self {
        self.container_overrides.push(o);
        self
    }

    /// Run on Fargate or Fargate Spot.
    #[must_use]
    pub fn capacity(mut self, capacity: RunCapacity) -> Self {
        self.capacity = capacity;
        self
    }

    /// Set the task's `startedBy`.
    ///
    /// # Errors
    /// An [`InvalidValue`] unless it is 1 to 128 letters, digits, hyphens and underscores.
    pub fn started_by(mut self, started_by: impl Into<String>) -> Result<Self, InvalidValue> {
        self.started_by = started_by.into();
        check_started_by(&self.started_by)?;
        Ok(self)
    }

    /// Return the last log lines of the containers from this log location.
    #[must_use]
    pub fn logs(mut self, log: LogLocation) -> Self {
        self.log = Some(log);
        self
    }

    /// Stop the task and give up after `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Wait `interval` before the second DescribeTasks call (default 1 s); the interval then
    /// doubles up to [`max_poll_interval`](Self::max_poll_interval).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Let the interval between DescribeTasks calls grow to at most `max` (default 5 s): the
    /// task's end is seen at most this late. A cap below the first interval means polling
    /// every [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn max_poll_interval(mut self, max: Duration) -> Self {
        self.max_poll_interval = max;
        self
    }

    /// Return this many log lines per container.
    #[must_use]
    pub fn log_lines(mut self, lines: usize) -> Self {
        self.log_lines = lines;
        self
    }

    /// Check every field.
    ///
    /// # Errors
    /// An [`InvalidValue`] naming the first invalid field.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.cluster.trim().is_empty() {
            return Err(InvalidValue::new(
                "cluster",
                "",
                "empty",
                "a cluster name or ARN",
            ));
        }
        if self.task_definition.trim().is_empty() {
            return Err(InvalidValue::new(
                "task_definition",
                "",
                "empty",
                "a task definition ARN, family:revision or family",
            ));
        }
        if self.subnets.is_empty() || self.subnets.len() > 16 {
            return Err(InvalidValue::new(
                "subnets",
                format!("{} subnets", self.subnets.len()),
                "a Fargate task needs from 1 to 16 subnets",
                "1 to 16 subnet ids",
            ));
        }
        if self.security_groups.len() > 5 {
            return Err(InvalidValue::new(
                "security_groups",
                format!("{} security groups", self.security_groups.len()),
                "too many",
                "0 to 5 security group ids",
            ));
        }
        check_started_by(&self.started_by)?;
        if self.timeout.is_zero() {
            return Err(InvalidValue::new(
                "timeout",
                "0s",
                "must be positive",
                "a positive duration",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(InvalidValue::new(
                "poll_interval",
                "0s",
                "must be positive",
                "a positive duration",
            ));
        }
        validate_overrides(&self.container_overrides)
    }

    /// The identity used in errors and progress: `ecs:run-task <cluster>/<task definition>`.
    pub fn resource_id(&self) -> ResourceId {
        ResourceId::new(KIND, format!("{}/{}", self.cluster, self.task_definition))
    }
}

fn check_started_by(s: &str) -> Result<(), InvalidValue> {
    let ok = (1..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            "started_by",
            s,
            "not a valid startedBy",
            "1 to 128 letters, digits, hyphens and underscores",
        ))
    }
}

/// How a one-off task ended: its containers' exit codes and last log lines, and its timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// The task ARN.
    pub task_arn: String,
    /// The task definition it ran.
    pub task_definition: String,
    /// Why ECS stopped it (for example `Essential container in task exited`).
    pub stopped_reason: Option<String>,
    /// ECS's stop code (for example `EssentialContainerExited`, `TaskFailedToStart`).
    pub stop_code: Option<String>,
    /// Every container, with exit code, reason and last log lines.
    pub containers: Vec<ContainerExit>,
    /// The container whose exit code is the task's: the only one, or the (first failed)
    /// essential one.
    pub main_container: Option<String>,
    /// When the task was created.
    pub created_at: Option<SystemTime>,
    /// When its containers started (None when they never did).
    pub started_at: Option<SystemTime>,
    /// When it stopped.
    pub stopped_at: Option<SystemTime>,
}

impl TaskOutcome {
    /// The task id (last part of the ARN).
    pub fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }

    /// The main container (see [`TaskOutcome::main_container`]), else the first one.
    pub fn main(&self) -> Option<&ContainerExit> {
        self.main_container
            .as_deref()
            .and_then(|name| self.containers.iter().find(|c| c.name == name))
            .or_else(|| self.containers.first())
    }

    /// The exit code of the main container; `None` when it never ran.
    pub fn exit_code(&self) -> Option<i32> {
        self.main().and_then(|c| c.exit_code)
    }

    /// Whether the main container exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code() == Some(0)
    }

    /// How long the containers ran (start to stop).
    pub fn run_time(&self) -> Option<Duration> {
        self.stopped_at?.duration_since(self.started_at?).ok()
    }

    /// How long the task took from creation to stop (provisioning and image pull included).
    pub fn total_time(&self) -> Option<Duration> {
        self.stopped_at?.duration_since(self.created_at?).ok()
    }

    fn as_stopped_task(&self) -> StoppedTask {
        StoppedTask {
            task_arn: self.task_arn.clone(),
            task_definition: self.task_definition.clone(),
            stopped_reason: self.stopped_reason.clone(),
            stop_code: self.stop_code.clone(),
            containers: self.containers.clone(),
        }
    }
}

impl TaskOutcome {
    /// `stopped: <reason> (<code>)`.
    fn stopped_line(&self) -> String {
        let mut s = format!(
            "stopped: {}",
            self.stopped_reason.as_deref().unwrap_or("no reason given")
        );
        if let Some(code) = &self.stop_code {
            s.push_str(&format!(" ({code})"));
        }
        s
    }

    /// One line per container, followed by its last log lines.
    fn write_containers(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.containers {
            match c.exit_code {
                Some(code) => write!(f, "\n  container {} exited with code {code}", c.name)?,
                None => write!(f, "\n  container {} did not run", c.name)?,
            }
            if let Some(reason) = &c.reason {
                write!(f, ": {reason}")?;
            }
            if !c.last_log_lines.is_empty() {
                write!(f, "\n  last log lines of {}:", c.name)?;
                for line in &c.last_log_lines {
                    write!(f, "\n    | {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} of {} {}",
            self.task_id(),
            self.task_definition,
            self.stopped_line()
        )?;
        self.write_containers(f)
    }
}

/// One reason ECS gave for not starting a task (an entry of RunTask's `failures`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartFailure {
    /// What failed (often a container instance or ENI ARN), if given.
    pub arn: Option<String>,
    /// The reason, for example `RESOURCE:ENI` or `MISSING`.
    pub reason: String,
    /// More detail, if given.
    pub detail: Option<String>,
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        if let Some(a) = &self.arn {
            write!(f, " [{a}]")?;
        }
        Ok(())
    }
}

/// Why a one-off task failed; the source of the [`Error::Failed`] that [`run_now`] returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunTaskError {
    /// ECS did not start the task (RunTask answered with `failures`).
    #[error("ECS did not start a task of {task_definition}: {}", join(.failures))]
    Rejected {
        /// The task definition asked for.
        task_definition: String,
        /// ECS's reasons.
        failures: Vec<StartFailure>,
    },
    /// The main container exited with a non-zero code.
    #[error("{}", Failure("failed", .outcome))]
    ExitedNonZero {
        /// Everything about the task, logs included.
        outcome: Box<TaskOutcome>,
    },
    /// The task stopped before its main container ran (no exit code), for example
    /// `CannotPullContainerError` or `ResourceInitializationError`.
    #[error("{}", Failure("did not start", .outcome))]
    NeverStarted {
        /// Everything about the task, logs included.
        outcome: Box<TaskOutcome>,
    },
}

impl RunTaskError {
    /// The task's outcome, when it was started.
    pub fn outcome(&self) -> Option<&TaskOutcome> {
        match self {
            RunTaskError::ExitedNonZero { outcome } | RunTaskError::NeverStarted { outcome } => {
                Some(outcome)
            }
            RunTaskError::Rejected { .. } => None,
        }
    }

    /// The main container's exit code, when it ran.
    pub fn exit_code(&self) -> Option<i32> {
        self.outcome().and_then(TaskOutcome::exit_code)
    }
}

fn join(failures: &[StartFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a failed task is shown: what failed first, then every container and its log lines.
struct Failure<'a>(&'a str, &'a TaskOutcome);

impl fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Failure(what, outcome) = self;
        write!(
            f,
            "task {} of {} {what}: ",
            outcome.task_id(),
            outcome.task_definition
        )?;
        match outcome.main() {
            Some(c) => match c.exit_code {
                Some(code) => write!(f, "container {} exited with code {code}", c.name)?,
                None => write!(f, "container {} did not run", c.name)?,
            },
            None => write!(f, "no container ran")?,
        }
        write!(f, "; {}", outcome.stopped_line())?;
        outcome.write_containers(f)
    }
}

/// Run one task now and wait until it stops; see the [module docs](self).
///
/// Progress (`task <id> PROVISIONING`, `… RUNNING`, `… STOPPED`) is reported on `ctx`; to
/// run outside a graph, make one with [`StepContext::detached`] around an
/// [`fargate_core::EventSink`]. Cancelling the context stops the task.
///
/// # Errors
/// - [`Error::Invalid`] when the request is invalid (before any call);
/// - [`Error::Failed`] with a [`RunTaskError`]: ECS did not start the task, the main container
///   exited non-zero, or it never ran;
/// - [`Error::Timeout`] when the task did not stop within the timeout (it is then stopped);
/// - [`Error::Cancelled`] when `ctx` was cancelled (the task is stopped);
/// - [`Error::Aws`] when a call failed.
#[tracing::instrument(skip_all, fields(resource = %req.resource_id()))]
pub async fn run_now(
    clients: &Clients,
    req: &RunTaskRequest,
    ctx: &StepContext,
) -> Result<TaskOutcome, Error> {
    req.validate()?;
    let id = req.resource_id();
    // The task's roles may have been created seconds ago: retry while ECS cannot assume
    // them yet (and only then).
    let task_arn = retry_eventual(ctx, IAM_PROPAGATION, is_iam_propagation_error, || {
        start(clients, req, &id)
    })
    .await?;
    let task_id = task_arn.rsplit('/').next().unwrap_or(&task_arn).to_string();
    ctx.progress(format!("started task {task_id}"));

    let last_status = Mutex::new(String::new());
    let waiting_for = format!("task {task_id} to stop");
    let poll = Poll::new(req.timeout, req.poll_interval).with_max_interval(req.max_poll_interval);
    let stopped = poll_until(ctx, &id, &waiting_for, poll, || async {
        let task = describe(clients, &req.cluster, &task_arn, &id).await?;
        let status = task.last_status().unwrap_or("UNKNOWN").to_string();
        let changed = {
            let mut last = last_status.lock().unwrap_or_else(|p| p.into_inner());
            let changed = *last != status;
            last.clone_from(&status);
            changed
        };
        if changed {
            ctx.progress(format!("task {task_id} {status}"));
        }
        Ok((status == "STOPPED").then_some(task))
    })
    .await;
    let task = match stopped {
        Ok(task) => task,
        Err(e @ (Error::Timeout { .. } | Error::Cancelled)) => {
            stop(clients, req, &task_arn, &id).await;
            return Err(e);
        }
        Err(e) => return Err(e),
    };

    let mut outcome = outcome_of(&task);
    outcome.main_container = main_container(clients, &task, &id).await;
    if let Some(log) = &req.log {
        attach_all_log_lines(clients, &mut outcome, log, req.log_lines).await;
    }
    match outcome.exit_code() {
        Some(0) => Ok(outcome),
        Some(_) => Err(failed(
            &id,
            RunTaskError::ExitedNonZero {
                outcome: Box::new(outcome),
            },
        )),
        None => Err(failed(
            &id,
            RunTaskError::NeverStarted {
                outcome: Box::new(outcome),
            },
        )),
    }
}

fn failed(id: &ResourceId, e: RunTaskError) -> Error {
    Error::Failed {
        resource: id.clone(),
        source: Box::new(e),
    }
}

fn unexpected(id: &ResourceId, operation: &str, detail: impl Into<String>) -> Error {
    Error::Unexpected {
        resource: id.clone(),
        operation: operation.to_string(),
        detail: detail.into(),
    }
}

/// RunTask; the new task's ARN.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn start(clients: &Clients, req: &RunTaskRequest, id: &ResourceId) -> Result<String, Error> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(req.subnets.clone()))
        .set_security_groups(Some(req.security_groups.clone()))
        .assign_public_ip(if req.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| unexpected(id, "RunTask", e.to_string()))?;
    let mut call = clients
        .ecs
        .run_task()
        .cluster(&req.cluster)
        .task_definition(&req.task_definition)
        .count(1)
        .started_by(&req.started_by)
        .platform_version("LATEST")
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        );
    call = match req.capacity {
        RunCapacity::Fargate => call.launch_type(LaunchType::Fargate),
        RunCapacity::FargateSpot => call.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider("FARGATE_SPOT")
                .weight(1)
                .build()
                .map_err(|e| unexpected(id, "RunTask", e.to_string()))?,
        ),
    };
    if !req.container_overrides.is_empty() {
        let overrides = TaskOverride::builder()
            .set_container_overrides(Some(
                req.container_overrides
                    .iter()
                    .map(ContainerOverride::to_ecs)
                    .collect(),
            ))
            .build();
        call = call.overrides(overrides);
    }
    // Stable across the SDK's retries of this call (a retry whose first attempt was applied
    // gets the same task back, not a second task), new for every run.
    let out = call
        .client_token(client_token())
        .send()
        .await
        .context(id, "RunTask")?;
    let failures: Vec<StartFailure> = out
        .failures()
        .iter()
        .map(|f| StartFailure {
            arn: f.arn().map(str::to_string),
            reason: f.reason().unwrap_or("unknown").to_string(),
            detail: f.detail().map(str::to_string),
        })
        .collect();
    match out.tasks().first().and_then(|t| t.task_arn()) {
        Some(arn) if failures.is_empty() => Ok(arn.to_string()),
        _ => Err(failed(
            id,
            RunTaskError::Rejected {
                task_definition: req.task_definition.clone(),
                failures,
            },
        )),
    }
}

/// DescribeTasks for one task.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn describe(
    clients: &Clients,
    cluster: &str,
    task_arn: &str,
    id: &ResourceId,
) -> Result<Task, Error> {
    let out = clients
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(task_arn)
        .send()
        .await
        .context(id, "DescribeTasks")?;
    out.tasks()
        .iter()
        .find(|t| t.task_arn() == Some(task_arn))
        .or_else(|| out.tasks().first())
        .cloned()
        .ok_or_else(|| {
            let why = out
                .failures()
                .first()
                .and_then(|f| f.reason())
                .unwrap_or("not in the answer");
            unexpected(
                id,
                "DescribeTasks",
                format!("task {task_arn} is missing: {why}"),
            )
        })
}

/// StopTask after a timeout or cancellation; a failure is logged, not returned (the
/// timeout is the error the caller needs).
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn stop(clients: &Clients, req: &RunTaskRequest, task_arn: &str, id: &ResourceId) {
    let result = clients
        .ecs
        .stop_task()
        .cluster(&req.cluster)
        .task(task_arn)
        .reason(TIMEOUT_STOP_REASON)
        .send()
        .await
        .context(id, "StopTask");
    if let Err(e) = result {
        tracing::warn!(task = task_arn, error = %e, "could not stop the task");
    }
}

fn time(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<SystemTime> {
    t.and_then(|t| SystemTime::try_from(*t).ok())
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// The outcome of a stopped task, without log lines or main container yet.
fn outcome_of(task: &Task) -> TaskOutcome {
    TaskOutcome {
        task_arn: task.task_arn().unwrap_or_default().to_string(),
        task_definition: task.task_definition_arn().unwrap_or_default().to_string(),
        stopped_reason: non_empty(task.stopped_reason()),
        stop_code: task.stop_code().map(|c| c.as_str().to_string()),
        containers: task
            .containers()
            .iter()
            .map(|c| ContainerExit {
                name: c.name().unwrap_or_default().to_string(),
                exit_code: c.exit_code(),
                reason: non_empty(c.reason()),
                last_log_lines: Vec::new(),
            })
            .collect(),
        main_container: None,
        created_at: time(task.created_at()),
        started_at: time(task.started_at()),
        stopped_at: time(task.stopped_at()),
    }
}

/// The container whose exit code is the task's: the only container, else (one
/// DescribeTaskDefinition) the first essential container that failed, else the first
/// essential one. `None` (the first container is then used) when that cannot be read.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn main_container(clients: &Clients, task: &Task, id: &ResourceId) -> Option<String> {
    match task.containers() {
        [] => return None,
        [only] => return only.name().map(str::to_string),
        _ => {}
    }
    let td = task.task_definition_arn()?;
    let described = clients
        .ecs
        .describe_task_definition()
        .task_definition(td)
        .send()
        .await;
    let out = match described.context(id, "DescribeTaskDefinition") {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell the essential container; using the first");
            return None;
        }
    };
    let essential: Vec<&str> = out
        .task_definition()
        .map(|d| d.container_definitions())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.essential() != Some(false))
        .filter_map(|c| c.name())
        .collect();
    let exit_of = |name: &str| {
        task.containers()
            .iter()
            .find(|c| c.name() == Some(name))
            .and_then(|c| c.exit_code())
    };
    essential
        .iter()
        .find(|name| exit_of(name) != Some(0))
        .or_else(|| essential.first())
        .map(|name| (*name).to_string())
}

/// The last log lines of every container, including those that exited 0 (the rollout
/// diagnosis only reads failed containers, so their exit codes are hidden from it here).
async fn attach_all_log_lines(
    clients: &Clients,
    outcome: &mut TaskOutcome,
    log: &LogLocation,
    lines: usize,
) {
    let mut tasks = [outcome.as_stopped_task()];
    for t in tasks.iter_mut() {
        for c in t.containers.iter_mut() {
            c.exit_code = None;
        }
    }
    attach_log_lines(clients, &mut tasks, log, lines).await;
    let [read] = tasks;
    for (c, with_lines) in outcome.containers.iter_mut().zip(read.containers) {
        c.last_log_lines = with_lines.last_log_lines;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_serialize_to_ecs_run_task_json() {
        let o = ContainerOverride::new("app")
            .unwrap()
            .env("B", "2")
            .unwrap()
            .env("A", "1")
            .unwrap()
            .command(["run", "--now"])
            .cpu(256)
            .unwrap();
        assert_eq!(
            overrides_json(&[o]).unwrap(),
            json!({"containerOverrides":[{"name":"app","environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"command":["run","--now"],"cpu":256}]})
        );
        assert_eq!(overrides_json(&[]), None);
    }

    #[test]
    fn invalid_requests_are_refused_before_any_call() {
        let ok = RunTaskRequest::new("prod", "job", vec!["subnet-1".into()], vec![]).unwrap();
        assert_eq!(ok.timeout, Duration::from_secs(1800));
        assert_eq!(ok.log_lines, 50);
        assert_eq!(
            RunTaskRequest::new("prod", "job", vec![], vec![])
                .unwrap_err()
                .field,
            "subnets"
        );
        assert_eq!(
            ok.clone().started_by("has space").unwrap_err().field,
            "started_by"
        );
        assert_eq!(
            ContainerOverride::new("app")
                .unwrap()
                .memory(2)
                .unwrap_err()
                .field,
            "container_override.app.memory"
        );
        assert_eq!(
            ContainerOverride::new("bad name").unwrap_err().field,
            "container_override.name"
        );
        let twice = ok
            .clone()
            .container_override(ContainerOverride::new("app").unwrap())
            .container_override(ContainerOverride::new("app").unwrap());
        assert_eq!(twice.validate().unwrap_err().field, "container_overrides");
        let huge = ok.container_override(
            ContainerOverride::new("app")
                .unwrap()
                .env("BIG", "x".repeat(9000))
                .unwrap(),
        );
        assert!(huge.validate().unwrap_err().allowed.contains("8192"));
    }

    #[test]
    fn exit_code_is_the_main_containers() {
        let c = |name: &str, exit: Option<i32>| ContainerExit {
            name: name.into(),
            exit_code: exit,
            reason: None,
            last_log_lines: vec![],
        };
        let mut o = TaskOutcome {
            task_arn: "arn:aws:ecs:us-east-1:1:task/prod/abc".into(),
            task_definition: "td".into(),
            stopped_reason: None,
            stop_code: None,
            containers: vec![c("sidecar", Some(137)), c("app", Some(0))],
            main_container: Some("app".into()),
            created_at: None,
            started_at: None,
            stopped_at: None,
        };
        assert!(o.succeeded());
        assert_eq!(o.task_id(), "abc");
        o.main_container = None;
        assert_eq!(o.exit_code(), Some(137));
    }
}
