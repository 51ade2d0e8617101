//! EventBridge Scheduler schedules that run an ECS task on Fargate (cron, rate or one-time).
//!
//! Start with [`ScheduleSpec::new`] (ownership with the app, expression, [`EcsTarget`],
//! role ARN) and set what differs from the defaults: group `default`, time zone UTC, no
//! flexible window, enabled, AWS's retry policy (185 retries within 24 h). Everything is
//! validated before any AWS call, including what EventBridge Scheduler would reject only at
//! apply time (ARN shapes, retry ranges, the description length).
//!
//! The schedule is named `<env>-<app>` (shortened with a hash past 64 characters) and found
//! with `GetSchedule(name, group)`. It is created with `CreateSchedule`, changed with one
//! `UpdateSchedule` (which replaces the whole schedule, so everything is sent), and removed
//! with `DeleteSchedule`. Output: [`ScheduleSpec::arn_output`].
//!
//! # Ownership without tags
//!
//! EventBridge Scheduler schedules cannot carry tags (only schedule groups can), so the
//! ownership mark is a suffix of the description: `[managed-by fargate-rs env=<env>
//! app=<app>]` ([`ownership_marker`]). A schedule with our name whose description does not
//! end with our marker — someone else's, or another environment's or app's — is refused
//! with [`Error::NotOwned`] and never updated or deleted. The marker is managed like any
//! other field: a description edited by hand is put back on the next apply. (A dedicated
//! schedule group per environment would carry tags, but groups are shared by other tools and
//! deleting one deletes every schedule in it; the description keeps ownership per schedule.)
//!
//! # Secrets in the overrides
//!
//! The container overrides are sent as the target's input JSON, stored in clear by
//! EventBridge Scheduler. In plans (Display, JSON, `Debug`), events and logs, every
//! secret-looking environment value ([`fargate_core::redact::is_sensitive`]: `API_TOKEN`,
//! `*_PASSWORD`, `*_SECRET`, `*_KEY`, a URL with a password, ...) is shown as `(sensitive)`:
//! `target.overrides` shows the JSON with those values replaced, and each of them is compared
//! as its own sensitive field `target.overrides.<container>.environment.<NAME>`, so a changed
//! secret is still a change, rendered `(sensitive, changed)`. The real values are what
//! `CreateSchedule`/`UpdateSchedule` send.
//!
//! # One-time schedules in the past
//!
//! An `at(...)` expression in the past is accepted, as EventBridge Scheduler accepts it (the
//! schedule then never runs). Rejecting it would make re-applying an unchanged program fail
//! once its date has passed; the time is also in the schedule's own time zone, which this
//! library does not resolve. The schedule is kept after it ran (`ActionAfterCompletion`
//! `NONE`): deleting it would make the next apply create it, and run it, again.
//!
//! # The scheduler's role
//!
//! EventBridge Scheduler assumes a role to call `ecs:RunTask`. [`scheduler_trust_policy`]
//! and [`scheduler_role_policy`] give its documents, scoped to this job: the task definition
//! family (any revision) in this cluster, and `iam:PassRole` on exactly the job's execution
//! and task roles.

use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, EcsParameters,
    FlexibleTimeWindow, FlexibleTimeWindowMode, LaunchType, NetworkConfiguration, RetryPolicy,
    ScheduleState, Target,
};
use fargate_core::exec::OutputKey;
use fargate_core::redact::{REDACTED, is_sensitive};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::retry_eventual;
use fargate_core::{
    AwsResultExt, Change, Created, Error, Fields, IamRoleName, InvalidValue, Kind, Mode, Ref,
    ResourceId, Round, ScheduleExpression, StepContext, Timezone, client_token, create_or_existing,
};
use serde_json::{Value, json};

use crate::deferred::{defer_unknown, ref_set, ref_value, sorted};
use crate::iam::{PolicyStatement, is_iam_propagation_error};
use crate::run_task::{ContainerOverride, overrides_json, validate_overrides};
use crate::service::Capacity;
use crate::task_definition::IAM_PROPAGATION;
use crate::{AwsContext, Clients};

/// The resource kind of schedules in plans.
pub const KIND: &str = "scheduler:schedule";

/// The schedule group every account has.
pub const DEFAULT_GROUP: &str = "default";

/// The longest description EventBridge Scheduler accepts.
pub const MAX_DESCRIPTION: usize = 512;

/// The fields whose values may be produced by other steps during apply.
const REF_FIELDS: [&str; 5] = [
    "target.cluster_arn",
    "target.task_definition",
    "target.subnets",
    "target.security_groups",
    "target.role_arn",
];

const NAME_ALLOWED: &str = "1 to 64 letters, digits, hyphens, underscores and dots";

fn check_name(field: &str, value: &str) -> Result<(), InvalidValue> {
    let ok = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            value,
            "not a valid schedule name",
            NAME_ALLOWED,
        ))
    }
}

/// Check the shape of an ARN: `arn:<partition>:<service>:<region>:<account>:<prefix>...`.
fn check_arn(
    field: &str,
    value: &str,
    service: &str,
    prefix: &str,
    example: &str,
) -> Result<(), InvalidValue> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let ok = matches!(parts.as_slice(), ["arn", p, s, _, account, resource]
        if !p.is_empty() && *s == service && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            value,
            format!("not an ARN of the form {example}"),
            example,
        ))
    }
}

fn check_cluster_arn(v: &str) -> Result<(), InvalidValue> {
    check_arn(
        "schedule.target.cluster_arn",
        v,
        "ecs",
        "cluster/",
        "arn:<partition>:ecs:<region>:<account>:cluster/<name>",
    )
}

fn check_task_definition_arn(v: &str) -> Result<(), InvalidValue> {
    check_arn(
        "schedule.target.task_definition",
        v,
        "ecs",
        "task-definition/",
        "arn:<partition>:ecs:<region>:<account>:task-definition/<family>:<revision>",
    )
}

fn check_role_arn(v: &str) -> Result<(), InvalidValue> {
    check_arn(
        "schedule.role_arn",
        v,
        "iam",
        "role/",
        "arn:<partition>:iam::<account>:role/<name>",
    )
}

/// Whether EventBridge Scheduler may start the target later than scheduled, to spread load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FlexibleWindow {
    /// Run at the scheduled time.
    #[default]
    Off,
    /// Run within this many minutes (1 to 1440) after the scheduled time.
    Minutes(u16),
}

impl FlexibleWindow {
    /// A window of `minutes` minutes.
    ///
    /// # Errors
    /// An [`InvalidValue`] unless `minutes` is from 1 to 1440.
    pub fn minutes(minutes: u16) -> Result<Self, InvalidValue> {
        if (1..=1440).contains(&minutes) {
            Ok(Self::Minutes(minutes))
        } else {
            Err(InvalidValue::new(
                "schedule.flexible_window",
                minutes.to_string(),
                "out of range",
                "1 to 1440 minutes",
            ))
        }
    }

    fn label(self) -> String {
        match self {
            Self::Off => "OFF".to_string(),
            Self::Minutes(m) => format!("FLEXIBLE {m} min"),
        }
    }
}

/// How EventBridge Scheduler retries when it cannot start the task (for example RunTask
/// throttled); not a retry of a task that ran and failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRetry {
    max_retries: u8,
    max_event_age_secs: u32,
}

impl Default for ScheduleRetry {
    /// AWS's default: 185 retries within 24 hours.
    fn default() -> Self {
        Self {
            max_retries: 185,
            max_event_age_secs: 86_400,
        }
    }
}

impl ScheduleRetry {
    /// Retry at most `max_retries` times (0 to 185), for at most `max_event_age_secs` seconds
    /// (60 to 86400).
    ///
    /// # Errors
    /// An [`InvalidValue`] naming the value out of range.
    pub fn new(max_retries: u8, max_event_age_secs: u32) -> Result<Self, InvalidValue> {
        if max_retries > 185 {
            return Err(InvalidValue::new(
                "schedule.retry.max_retries",
                max_retries.to_string(),
                "out of range",
                "0 to 185",
            ));
        }
        if !(60..=86_400).contains(&max_event_age_secs) {
            return Err(InvalidValue::new(
                "schedule.retry.max_event_age",
                format!("{max_event_age_secs}s"),
                "out of range",
                "60 to 86400 seconds",
            ));
        }
        Ok(Self {
            max_retries,
            max_event_age_secs,
        })
    }

    /// Retries allowed.
    pub fn max_retries(&self) -> u8 {
        self.max_retries
    }

    /// How long an invocation may be retried, in seconds.
    pub fn max_event_age_secs(&self) -> u32 {
        self.max_event_age_secs
    }
}

/// What the schedule runs: one Fargate task (platform version `LATEST`) of a task definition
/// in a cluster, with optional container overrides.
#[derive(Debug, Clone)]
pub struct EcsTarget {
    cluster_arn: Ref<String>,
    task_definition_arn: Ref<String>,
    task_definition_id: Option<ResourceId>,
    capacity: Capacity,
    subnets: Ref<Vec<String>>,
    security_groups: Ref<Vec<String>>,
    assign_public_ip: bool,
    container_overrides: Vec<ContainerOverride>,
}

impl EcsTarget {
    /// Run the task definition `task_definition_arn` (a full ARN with revision, typically
    /// the task definition resource's output) in the cluster `cluster_arn`, on these subnets
    /// with these security groups.
    ///
    /// # Errors
    /// An [`InvalidValue`] when an ARN known now does not have the right shape.
    pub fn new(
        cluster_arn: Ref<String>,
        task_definition_arn: Ref<String>,
        subnets: Ref<Vec<String>>,
        security_groups: Ref<Vec<String>>,
    ) -> Result<Self, InvalidValue> {
        if let Some(c) = cluster_arn.known() {
            check_cluster_arn(c)?;
        }
        if let Some(t) = task_definition_arn.known() {
            check_task_definition_arn(t)?;
        }
        Ok(Self {
            cluster_arn,
            task_definition_arn,
            task_definition_id: None,
            capacity: Capacity::default(),
            subnets,
            security_groups,
            assign_public_ip: false,
            container_overrides: Vec::new(),
        })
    }

    /// The task definition resource in the same plan: when it plans a new revision, the
    /// schedule plans the switch to it.
    #[must_use]
    pub fn follows(mut self, task_definition_id: ResourceId) -> Self {
        self.task_definition_id = Some(task_definition_id);
        self
    }

    /// Fargate or Fargate Spot placement (default: launch type `FARGATE`).
    #[must_use]
    pub fn capacity(mut self, capacity: Capacity) -> Self {
        self.capacity = capacity;
        self
    }

    /// Give the task a public IP.
    #[must_use]
    pub fn assign_public_ip(mut self, yes: bool) -> Self {
        self.assign_public_ip = yes;
        self
    }

    /// Add overrides for one container (sent as the target's input).
    ///
    /// # Errors
    /// An [`InvalidValue`] when the overrides are invalid, repeat a container or are too long.
    pub fn container_override(mut self, o: ContainerOverride) -> Result<Self, InvalidValue> {
        self.container_overrides.push(o);
        validate_overrides(&self.container_overrides)?;
        Ok(self)
    }

    fn capacity_label(&self) -> String {
        let c = self.capacity;
        if c.spot_weight == 0 {
            "launch_type=FARGATE".to_string()
        } else {
            format!(
                "FARGATE:weight={},base={};FARGATE_SPOT:weight={}",
                c.on_demand_weight, c.on_demand_base, c.spot_weight
            )
        }
    }
}

/// The values of an [`EcsTarget`]'s references once known.
#[derive(Debug, Clone)]
struct ResolvedTarget {
    cluster_arn: String,
    task_definition: String,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    role_arn: String,
}

/// The desired schedule.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    name: String,
    group: String,
    owner: Ownership,
    expression: ScheduleExpression,
    timezone: Timezone,
    window: FlexibleWindow,
    enabled: bool,
    target: EcsTarget,
    retry: ScheduleRetry,
    role_arn: Ref<String>,
    description: Option<String>,
    dependencies: Vec<ResourceId>,
}

/// The ownership mark at the end of a schedule's description:
/// `[managed-by fargate-rs env=<env> app=<app>]`.
pub fn ownership_marker(owner: &Ownership) -> String {
    match &owner.app {
        Some(app) => format!(
            "[managed-by {} env={} app={app}]",
            Ownership::MANAGED_BY_VALUE,
            owner.environment
        ),
        None => format!(
            "[managed-by {} env={}]",
            Ownership::MANAGED_BY_VALUE,
            owner.environment
        ),
    }
}

impl ScheduleSpec {
    /// The schedule of `owner`'s app, named `<env>-<app>`, running `target` on `expression`
    /// with the role `role_arn` (see [`scheduler_role_policy`]).
    ///
    /// # Errors
    /// An [`InvalidValue`] when `owner` has no app or a role ARN known now has the wrong shape.
    pub fn new(
        owner: Ownership,
        expression: ScheduleExpression,
        target: EcsTarget,
        role_arn: Ref<String>,
    ) -> Result<Self, InvalidValue> {
        let Some(app) = owner.app.as_ref() else {
            return Err(InvalidValue::new(
                "schedule.owner",
                owner.environment.to_string(),
                "a schedule belongs to an app",
                "an Ownership with an app",
            ));
        };
        // Derived from identifiers (lowercase letters, digits, hyphens), the IAM role name rules
        // (64 characters, hash-shortened) give a valid schedule name.
        let name = IamRoleName::derive(&[owner.environment.as_str(), app.as_str()]).to_string();
        check_name("schedule.name", &name)?;
        if let Some(r) = role_arn.known() {
            check_role_arn(r)?;
        }
        Ok(Self {
            name,
            group: DEFAULT_GROUP.to_string(),
            owner,
            expression,
            timezone: Timezone::default(),
            window: FlexibleWindow::Off,
            enabled: true,
            target,
            retry: ScheduleRetry::default(),
            role_arn,
            description: None,
            dependencies: Vec::new(),
        })
    }

    /// Put the schedule in an existing schedule group (default `default`); fargate-rs does
    /// not create groups.
    ///
    /// # Errors
    /// An [`InvalidValue`] unless the name is 1 to 64 letters, digits, `-`, `_` and `.`.
    pub fn group(mut self, group: impl Into<String>) -> Result<Self, InvalidValue> {
        let group = group.into();
        check_name("schedule.group", &group)?;
        self.group = group;
        Ok(self)
    }

    /// The time zone of the expression (default UTC).
    #[must_use]
    pub fn timezone(mut self, timezone: Timezone) -> Self {
        self.timezone = timezone;
        self
    }

    /// The flexible time window (default off).
    #[must_use]
    pub fn flexible_window(mut self, window: FlexibleWindow) -> Self {
        self.window = window;
        self
    }

    /// Whether the schedule runs (default true); a disabled schedule is kept but never runs.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// How EventBridge Scheduler retries starting the task.
    #[must_use]
    pub fn retry(mut self, retry: ScheduleRetry) -> Self {
        self.retry = retry;
        self
    }

    /// A description; the ownership marker is appended to it.
    ///
    /// # Errors
    /// An [`InvalidValue`] when it is too long to hold the marker within 512 characters.
    pub fn description(mut self, description: impl Into<String>) -> Result<Self, InvalidValue> {
        let description = description.into();
        let room = MAX_DESCRIPTION - ownership_marker(&self.owner).len() - 1;
        if description.chars().count() > room {
            return Err(InvalidValue::new(
                "schedule.description",
                description,
                "too long",
                format!("at most {room} characters (fargate-rs appends its ownership marker)"),
            ));
        }
        self.description = Some(description);
        Ok(self)
    }

    /// Other resources that must exist first (the role, its policy, the cluster).
    #[must_use]
    pub fn depends_on(mut self, ids: impl IntoIterator<Item = ResourceId>) -> Self {
        self.dependencies.extend(ids);
        self
    }

    /// The schedule name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schedule group.
    pub fn group_name(&self) -> &str {
        &self.group
    }

    /// The resource id, `scheduler:schedule <group>/<name>`.
    pub fn resource_id(&self) -> ResourceId {
        ResourceId::new(KIND, format!("{}/{}", self.group, self.name))
    }

    /// Output: the schedule ARN.
    pub fn arn_output(&self) -> OutputKey<String> {
        self.resource_id().output("arn")
    }

    /// The description sent to AWS: the user's, then the ownership marker.
    pub fn full_description(&self) -> String {
        let marker = ownership_marker(&self.owner);
        match &self.description {
            Some(d) if !d.is_empty() => format!("{d} {marker}"),
            _ => marker,
        }
    }

    /// The managed fields; the five reference fields are given as values.
    fn fields(&self, refs: [Value; 5]) -> Fields {
        let [
            cluster_arn,
            task_definition,
            subnets,
            security_groups,
            role_arn,
        ] = refs;
        let mut f = Fields::new()
            .with("expression", self.expression.to_string())
            .with("timezone", self.timezone.as_str())
            .with("state", if self.enabled { "ENABLED" } else { "DISABLED" })
            .with("flexible_window", self.window.label())
            .with("description", self.full_description())
            .with("target.capacity", self.target.capacity_label())
            .with("target.platform_version", "LATEST")
            .with("target.task_count", 1)
            .with("target.assign_public_ip", self.target.assign_public_ip)
            .with("retry.max_retries", self.retry.max_retries)
            .with("retry.max_event_age_seconds", self.retry.max_event_age_secs);
        for (name, value) in REF_FIELDS.iter().zip([
            cluster_arn,
            task_definition,
            subnets,
            security_groups,
            role_arn,
        ]) {
            f.set(*name, value);
        }
        with_overrides(f, overrides_json(&self.target.container_overrides))
    }

    /// The managed fields of the desired schedule at plan time (pure); `task_definition` is
    /// what the task definition will be after apply when known from its plan.
    pub fn desired_fields(&self, task_definition: Option<Value>) -> Fields {
        self.fields([
            ref_value(&self.target.cluster_arn),
            task_definition.unwrap_or_else(|| ref_value(&self.target.task_definition_arn)),
            ref_set(&self.target.subnets),
            ref_set(&self.target.security_groups),
            ref_value(&self.role_arn),
        ])
    }

    fn resolved_fields(&self, r: &ResolvedTarget) -> Fields {
        self.fields([
            Value::from(r.cluster_arn.as_str()),
            Value::from(r.task_definition.as_str()),
            Value::from(sorted(&r.subnets)),
            Value::from(sorted(&r.security_groups)),
            Value::from(r.role_arn.as_str()),
        ])
    }

    /// The managed fields of a schedule as GetSchedule reports it (pure), with AWS's defaults
    /// filled in.
    pub fn observed_fields(observed: &GetScheduleOutput) -> Fields {
        let expression = observed.schedule_expression().unwrap_or_default();
        let expression = expression
            .parse::<ScheduleExpression>()
            .map(|e| e.to_string())
            .unwrap_or_else(|_| expression.to_string());
        let window = match observed.flexible_time_window() {
            Some(w) if *w.mode() == FlexibleTimeWindowMode::Flexible => {
                format!(
                    "FLEXIBLE {} min",
                    w.maximum_window_in_minutes().unwrap_or_default()
                )
            }
            _ => "OFF".to_string(),
        };
        let target = observed.target();
        let ecs = target.and_then(|t| t.ecs_parameters());
        let vpc = ecs
            .and_then(|e| e.network_configuration())
            .and_then(|n| n.awsvpc_configuration());
        let capacity = match ecs
            .map(|e| e.capacity_provider_strategy())
            .unwrap_or_default()
        {
            [] => format!(
                "launch_type={}",
                ecs.and_then(|e| e.launch_type())
                    .map(|l| l.as_str())
                    .unwrap_or("(none)")
            ),
            items => {
                let get = |name: &str| items.iter().find(|i| i.capacity_provider() == name);
                let od = get("FARGATE");
                format!(
                    "FARGATE:weight={},base={};FARGATE_SPOT:weight={}",
                    od.map(|c| c.weight()).unwrap_or(0),
                    od.map(|c| c.base()).unwrap_or(0),
                    get("FARGATE_SPOT").map(|c| c.weight()).unwrap_or(0)
                )
            }
        };
        let overrides = match target.and_then(|t| t.input()) {
            None => Value::Null,
            Some(input) => {
                serde_json::from_str::<Value>(input).unwrap_or_else(|_| Value::from(input))
            }
        };
        let retry = target.and_then(|t| t.retry_policy());
        let defaults = ScheduleRetry::default();
        let list = |v: Option<&[String]>| Value::from(sorted(v.unwrap_or_default()));
        let fields = Fields::new()
            .with("expression", expression)
            .with(
                "timezone",
                observed.schedule_expression_timezone().unwrap_or("UTC"),
            )
            .with(
                "state",
                observed.state().map(|s| s.as_str()).unwrap_or("ENABLED"),
            )
            .with("flexible_window", window)
            .with("description", observed.description().unwrap_or_default())
            .with("target.capacity", capacity)
            .with(
                "target.platform_version",
                ecs.and_then(|e| e.platform_version()).unwrap_or("LATEST"),
            )
            .with(
                "target.task_count",
                ecs.and_then(|e| e.task_count()).unwrap_or(1),
            )
            .with(
                "target.assign_public_ip",
                vpc.and_then(|v| v.assign_public_ip()) == Some(&AssignPublicIp::Enabled),
            )
            .with(
                "retry.max_retries",
                retry
                    .and_then(|r| r.maximum_retry_attempts())
                    .unwrap_or(i32::from(defaults.max_retries)),
            )
            .with(
                "retry.max_event_age_seconds",
                retry
                    .and_then(|r| r.maximum_event_age_in_seconds())
                    .map(i64::from)
                    .unwrap_or(i64::from(defaults.max_event_age_secs)),
            )
            .with(
                "target.cluster_arn",
                target.map(|t| t.arn()).unwrap_or_default(),
            )
            .with(
                "target.task_definition",
                ecs.map(|e| e.task_definition_arn()).unwrap_or_default(),
            )
            .with("target.subnets", list(vpc.map(|v| v.subnets())))
            .with(
                "target.security_groups",
                list(vpc.map(|v| v.security_groups())),
            )
            .with(
                "target.role_arn",
                target.map(|t| t.role_arn()).unwrap_or_default(),
            );
        with_overrides(fields, Some(overrides))
    }

    /// Read the schedule; `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::NotOwned`] when a schedule with this name lacks our ownership marker; AWS errors.
    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    pub async fn observe(&self, clients: &Clients) -> Result<Option<ObservedSchedule>, Error> {
        let id = self.resource_id();
        let result = clients
            .scheduler
            .get_schedule()
            .name(&self.name)
            .group_name(&self.group)
            .send()
            .await;
        let Some(found) =
            crate::aws_util::absent_on(result, &["ResourceNotFoundException"], &id, "GetSchedule")?
        else {
            return Ok(None);
        };
        let marker = ownership_marker(&self.owner);
        let description = found.description().unwrap_or_default();
        if !description.ends_with(&marker) {
            return Err(Error::NotOwned {
                resource: id,
                detail: format!(
                    "schedule {} has the description {description:?}, without the marker {marker:?} \
                     (schedules cannot be tagged; fargate-rs marks its own in the description)",
                    found.arn().unwrap_or(&self.name)
                ),
            });
        }
        Ok(Some(ObservedSchedule {
            arn: found.arn().map(str::to_string),
            fields: Self::observed_fields(&found),
        }))
    }

    fn resolve(&self, ctx: &StepContext) -> Result<ResolvedTarget, Error> {
        let r = ResolvedTarget {
            cluster_arn: self.target.cluster_arn.resolve(ctx)?,
            task_definition: self.target.task_definition_arn.resolve(ctx)?,
            subnets: self.target.subnets.resolve(ctx)?,
            security_groups: self.target.security_groups.resolve(ctx)?,
            role_arn: self.role_arn.resolve(ctx)?,
        };
        check_cluster_arn(&r.cluster_arn)?;
        check_task_definition_arn(&r.task_definition)?;
        check_role_arn(&r.role_arn)?;
        if r.subnets.is_empty() {
            return Err(InvalidValue::new(
                "schedule.target.subnets",
                "[]",
                "no subnet",
                "1 to 16 subnet ids",
            )
            .into());
        }
        Ok(r)
    }

    fn target(&self, r: &ResolvedTarget) -> Result<Target, Error> {
        let build = |e: aws_sdk_scheduler::error::BuildError| Error::Unexpected {
            resource: self.resource_id(),
            operation: "build schedule target".into(),
            detail: e.to_string(),
        };
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(r.subnets.clone()))
            .set_security_groups(Some(r.security_groups.clone()))
            .assign_public_ip(if self.target.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(build)?;
        let mut ecs = EcsParameters::builder()
            .task_definition_arn(&r.task_definition)
            .task_count(1)
            .platform_version("LATEST")
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            );
        let c = self.target.capacity;
        if c.spot_weight == 0 {
            ecs = ecs.launch_type(LaunchType::Fargate);
        } else {
            let weight = |w: u32| i32::try_from(w).unwrap_or(i32::MAX);
            for (provider, w, base) in [
                ("FARGATE", c.on_demand_weight, c.on_demand_base),
                ("FARGATE_SPOT", c.spot_weight, 0),
            ] {
                let item = CapacityProviderStrategyItem::builder()
                    .capacity_provider(provider)
                    .weight(weight(w))
                    .base(weight(base))
                    .build()
                    .map_err(build)?;
                ecs = ecs.capacity_provider_strategy(item);
            }
        }
        Target::builder()
            .arn(&r.cluster_arn)
            .role_arn(&r.role_arn)
            .ecs_parameters(ecs.build().map_err(build)?)
            .set_input(overrides_json(&self.target.container_overrides).map(|v| v.to_string()))
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(i32::from(self.retry.max_retries))
                    .maximum_event_age_in_seconds(
                        i32::try_from(self.retry.max_event_age_secs).unwrap_or(86_400),
                    )
                    .build(),
            )
            .build()
            .map_err(build)
    }

    fn window(&self) -> Result<FlexibleTimeWindow, Error> {
        let w = match self.window {
            FlexibleWindow::Off => FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off),
            FlexibleWindow::Minutes(m) => FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Flexible)
                .maximum_window_in_minutes(i32::from(m)),
        };
        w.build().map_err(|e| Error::Unexpected {
            resource: self.resource_id(),
            operation: "build flexible time window".into(),
            detail: e.to_string(),
        })
    }

    fn state(&self) -> ScheduleState {
        if self.enabled {
            ScheduleState::Enabled
        } else {
            ScheduleState::Disabled
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn create(&self, c: &Clients, ctx: &StepContext) -> Result<(), Error> {
        let r = self.resolve(ctx)?;
        ctx.progress(format!(
            "creating schedule {} ({})",
            self.name, self.expression
        ));
        let id = self.resource_id();
        let req = c
            .scheduler
            .create_schedule()
            .name(&self.name)
            .group_name(&self.group)
            .schedule_expression(self.expression.to_string())
            .schedule_expression_timezone(self.timezone.as_str())
            .flexible_time_window(self.window()?)
            .state(self.state())
            .description(self.full_description())
            .target(self.target(&r)?);
        // The role the schedule assumes may have been created seconds ago: retry while
        // Scheduler cannot assume it yet (and only then).
        let created = retry_eventual(ctx, IAM_PROPAGATION, is_iam_propagation_error, || {
            // One token per attempt: stable across the SDK's retries of this call, new after
            // a propagation error (that attempt created nothing) and every apply.
            let out = req.clone().client_token(client_token()).send();
            let id = &id;
            async move {
                // A retried create whose first attempt was applied meets its own schedule.
                let found = || self.observe(c);
                create_or_existing(
                    ctx,
                    id,
                    "CreateSchedule",
                    out.await,
                    |e| e.is_conflict_exception(),
                    found,
                )
                .await
            }
        })
        .await?;
        match created {
            Created::New(out) => {
                ctx.set(&self.arn_output(), out.schedule_arn().to_string());
                Ok(())
            }
            Created::Existing(found) => self.converge(c, ctx, &found).await,
        }
    }

    /// One UpdateSchedule with every field, when the resolved desired state differs from
    /// what was observed; otherwise no call.
    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn converge(
        &self,
        c: &Clients,
        ctx: &StepContext,
        observed: &ObservedSchedule,
    ) -> Result<(), Error> {
        let r = self.resolve(ctx)?;
        let diffs = observed.fields.diff(&self.resolved_fields(&r));
        let mut arn = observed.arn.clone();
        if !diffs.is_empty() {
            let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
            ctx.progress(format!(
                "updating schedule {} ({})",
                self.name,
                fields.join(", ")
            ));
            let out = c
                .scheduler
                .update_schedule()
                .name(&self.name)
                .group_name(&self.group)
                .schedule_expression(self.expression.to_string())
                .schedule_expression_timezone(self.timezone.as_str())
                .flexible_time_window(self.window()?)
                .state(self.state())
                .description(self.full_description())
                .target(self.target(&r)?)
                .send()
                .await
                .context(self.resource_id(), "UpdateSchedule")?;
            arn = Some(out.schedule_arn().to_string());
        }
        if let Some(arn) = arn {
            ctx.set(&self.arn_output(), arn);
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn delete(&self, c: &Clients, ctx: &StepContext) -> Result<(), Error> {
        ctx.progress(format!("deleting schedule {}", self.name));
        let result = c
            .scheduler
            .delete_schedule()
            .name(&self.name)
            .group_name(&self.group)
            .send()
            .await;
        crate::aws_util::absent_on(
            result,
            &["ResourceNotFoundException"],
            &self.resource_id(),
            "DeleteSchedule",
        )
        .map(drop)
    }
}

/// A schedule as observed: its ARN and its managed fields ([`ScheduleSpec::observed_fields`],
/// secret-looking override values kept only as digests when recorded).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedSchedule {
    /// The schedule ARN, when GetSchedule gives it.
    pub arn: Option<String>,
    /// The managed fields, with AWS's defaults filled in.
    pub fields: Fields,
}

impl Kind<Clients> for ScheduleSpec {
    type Observed = ObservedSchedule;

    fn id(&self) -> ResourceId {
        self.resource_id()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut d = self.dependencies.clone();
        d.extend(self.target.task_definition_id.iter().cloned());
        d
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedSchedule>, Error>> {
        Box::pin(self.observe(clients))
    }

    fn diff(
        &self,
        observed: Option<&ObservedSchedule>,
        resolved: &fargate_core::Resolved,
    ) -> Result<Change, Error> {
        // What the task definition will be after apply, when its plan tells.
        let task_definition = self
            .target
            .task_definition_id
            .as_ref()
            .and_then(|td| match resolved.change_of(td) {
                Some(change) if change.is_change() => {
                    Some(Value::from(format!("(new revision of {})", td.name)))
                }
                Some(_) => resolved.get(&td.output::<String>("arn")).map(Value::from),
                None => None,
            });
        let observed_fields = observed.map(|o| &o.fields);
        let mut desired = self.desired_fields(task_definition);
        defer_unknown(&mut desired, observed_fields, &REF_FIELDS);
        Ok(Change::compute(&desired, observed_fields, &[]))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedSchedule>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match observed {
                None => self.create(clients, ctx).await,
                Some(o) => self.converge(clients, ctx, o).await,
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        _: &'a ObservedSchedule,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete(clients, ctx))
    }
}

/// Adds the target's overrides to `fields`: `target.overrides` as it may be shown, with every
/// secret-looking environment value ([`fargate_core::redact::is_sensitive`]) replaced by
/// [`REDACTED`], and each such value as its own sensitive field
/// `target.overrides.<container>.environment.<NAME>`, compared but never shown, so that a
/// changed secret is still a change. Desired and observed overrides go through this same
/// function, so they compare alike.
fn with_overrides(mut fields: Fields, overrides: Option<Value>) -> Fields {
    let mut shown = overrides.unwrap_or(Value::Null);
    let mut secrets = Vec::new();
    let list = shown
        .get_mut("containerOverrides")
        .and_then(Value::as_array_mut);
    for o in list.into_iter().flatten() {
        let container = o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let env = o.get_mut("environment").and_then(Value::as_array_mut);
        for kv in env.into_iter().flatten().filter_map(Value::as_object_mut) {
            let name = kv.get("name").and_then(Value::as_str).unwrap_or_default();
            let Some(value) = kv.get("value").and_then(Value::as_str) else {
                continue;
            };
            if is_sensitive(name, value) {
                secrets.push((
                    format!("target.overrides.{container}.environment.{name}"),
                    value.to_string(),
                ));
                kv.insert("value".into(), Value::from(REDACTED));
            }
        }
    }
    fields.set("target.overrides", shown);
    for (field, value) in secrets {
        fields = fields.with_sensitive(field, value);
    }
    fields
}

/// The trust policy of the role EventBridge Scheduler assumes: `scheduler.amazonaws.com`,
/// only on behalf of schedules of `account_id` (confused-deputy protection).
pub fn scheduler_trust_policy(account_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "scheduler.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "aws:SourceAccount": account_id } }
        }]
    })
}

/// The ARN pattern of every revision of a task definition family,
/// `arn:<partition>:ecs:<region>:<account>:task-definition/<family>:*`.
pub fn task_definition_family_arn(aws: &AwsContext, family: &str) -> String {
    aws.arn("ecs", &format!("task-definition/{family}:*"))
}

/// The statements of the scheduler's role for one job: `ecs:RunTask` on any revision of
/// `family`, only in `cluster_arn`; `iam:PassRole` on exactly the job's execution role and
/// task role (when it has one), only to ECS tasks. In the shape [`crate::iam`] takes for a
/// role's inline policy.
///
/// # Errors
/// An [`InvalidValue`] when an ARN is malformed.
pub fn scheduler_role_statements(
    aws: &AwsContext,
    family: &str,
    cluster_arn: &str,
    execution_role_arn: &str,
    task_role_arn: Option<&str>,
) -> Result<Vec<PolicyStatement>, InvalidValue> {
    check_cluster_arn(cluster_arn)?;
    let mut pass: Vec<&str> = vec![execution_role_arn];
    pass.extend(task_role_arn);
    pass.sort_unstable();
    pass.dedup();
    for role in &pass {
        check_role_arn(role)?;
    }
    Ok(vec![
        PolicyStatement::allow(["ecs:RunTask"], [task_definition_family_arn(aws, family)])?
            .condition("ArnEquals", "ecs:cluster", [cluster_arn]),
        PolicyStatement::allow(["iam:PassRole"], pass)?.condition(
            "StringEquals",
            "iam:PassedToService",
            [crate::iam::ECS_TASKS_PRINCIPAL],
        ),
    ])
}

/// The permissions policy of the scheduler's role for one job, as a document; see
/// [`scheduler_role_statements`].
///
/// # Errors
/// An [`InvalidValue`] when an ARN is malformed.
pub fn scheduler_role_policy(
    aws: &AwsContext,
    family: &str,
    cluster_arn: &str,
    execution_role_arn: &str,
    task_role_arn: Option<&str>,
) -> Result<Value, InvalidValue> {
    let statements =
        scheduler_role_statements(aws, family, cluster_arn, execution_role_arn, task_role_arn)?;
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": statements.iter().map(PolicyStatement::to_json).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws() -> AwsContext {
        AwsContext {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn trust_policy_is_scheduler_only_in_this_account() {
        let t = scheduler_trust_policy("123456789012");
        let s = &t["Statement"][0];
        assert_eq!(s["Principal"]["Service"], "scheduler.amazonaws.com");
        assert_eq!(s["Action"], "sts:AssumeRole");
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
    }

    #[test]
    fn role_policy_is_scoped_to_the_family_cluster_and_roles() {
        let cluster = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
        let exec = "arn:aws:iam::123456789012:role/prod-job-execution";
        let task = "arn:aws:iam::123456789012:role/prod-job-task";
        let p = scheduler_role_policy(&aws(), "prod-job", cluster, exec, Some(task)).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 2);
        let run = &p["Statement"][0];
        assert_eq!(run["Effect"], "Allow");
        assert_eq!(run["Action"], json!(["ecs:RunTask"]));
        assert_eq!(
            run["Resource"],
            json!(["arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-job:*"])
        );
        assert_eq!(
            run["Condition"]["ArnEquals"]["ecs:cluster"],
            json!([cluster])
        );
        let pass = &p["Statement"][1];
        assert_eq!(pass["Action"], json!(["iam:PassRole"]));
        assert_eq!(pass["Resource"], json!([exec, task]));
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            json!(["ecs-tasks.amazonaws.com"])
        );
        let no_task_role = scheduler_role_policy(&aws(), "prod-job", cluster, exec, None).unwrap();
        assert_eq!(no_task_role["Statement"][1]["Resource"], json!([exec]));
        assert!(scheduler_role_policy(&aws(), "prod-job", "prod", exec, None).is_err());
    }

    #[test]
    fn ranges_and_shapes_are_checked_before_any_call() {
        assert_eq!(
            ScheduleRetry::new(186, 60).unwrap_err().field,
            "schedule.retry.max_retries"
        );
        assert_eq!(
            ScheduleRetry::new(0, 59).unwrap_err().field,
            "schedule.retry.max_event_age"
        );
        assert_eq!(
            ScheduleRetry::new(0, 86_401).unwrap_err().field,
            "schedule.retry.max_event_age"
        );
        assert!(ScheduleRetry::new(185, 86_400).is_ok());
        assert!(FlexibleWindow::minutes(0).is_err());
        assert!(FlexibleWindow::minutes(1441).is_err());
        let bad_cluster = EcsTarget::new(
            Ref::Known("prod".into()),
            Ref::Known("arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-job:3".into()),
            Ref::Known(vec!["subnet-1".into()]),
            Ref::Known(vec![]),
        );
        assert_eq!(
            bad_cluster.unwrap_err().field,
            "schedule.target.cluster_arn"
        );
        assert!(check_role_arn("arn:aws:iam::123456789012:role/x").is_ok());
        assert!(check_role_arn("arn:aws:iam::123456789012:user/x").is_err());
        assert!(check_task_definition_arn("prod-job:3").is_err());
    }

    #[test]
    fn secret_looking_override_values_are_compared_but_never_shown() {
        let fields = |token: &str, url: &str| {
            let o = ContainerOverride::new("etl")
                .unwrap()
                .env("API_TOKEN", token)
                .unwrap()
                .env("DATABASE_URL", url)
                .unwrap()
                .env("MODE", "full")
                .unwrap();
            with_overrides(Fields::new(), overrides_json(&[o]))
        };
        let old = fields("abc123", "postgresql://u:hunter2@h/db");
        assert!(
            old.diff(&fields("abc123", "postgresql://u:hunter2@h/db"))
                .is_empty()
        );
        let shown = old.get("target.overrides").unwrap().to_string();
        assert!(
            shown.contains(r#"{"name":"MODE","value":"full"}"#),
            "{shown}"
        );
        assert!(
            !shown.contains("abc123") && !shown.contains("hunter2"),
            "{shown}"
        );
        let diffs = old.diff(&fields("def456", "postgresql://u:hunter2@h/db"));
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(diffs[0].field, "target.overrides.etl.environment.API_TOKEN");
        assert!(diffs[0].sensitive);
        let json = serde_json::to_string(&diffs).unwrap();
        assert!(
            !json.contains("abc123") && !json.contains("def456"),
            "{json}"
        );
        // No overrides at all: null, no extra field.
        let none = with_overrides(Fields::new(), None);
        assert_eq!(none.get("target.overrides"), Some(&Value::Null));
    }

    #[test]
    fn names_and_marker() {
        let owner = Ownership::new("production-environment-with-long-name".parse().unwrap())
            .with_app("customer-portal-nightly-report-job".parse().unwrap());
        let target = EcsTarget::new(
            Ref::Known("arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into()),
            Ref::Known("arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-job:3".into()),
            Ref::Known(vec!["subnet-1".into()]),
            Ref::Known(vec![]),
        )
        .unwrap();
        let spec = ScheduleSpec::new(
            owner.clone(),
            "rate(1 hour)".parse().unwrap(),
            target,
            Ref::Known("arn:aws:iam::123456789012:role/r".into()),
        )
        .unwrap();
        assert!(spec.name().len() <= 64, "{}", spec.name());
        assert!(spec.full_description().ends_with(
            "[managed-by fargate-rs env=production-environment-with-long-name app=customer-portal-nightly-report-job]"
        ));
        assert!(spec.clone().description("x".repeat(500)).is_err());
        let with = spec.description("nightly report").unwrap();
        assert!(with.full_description().starts_with("nightly report ["));
        assert!(with.full_description().len() <= MAX_DESCRIPTION);
    }
}
