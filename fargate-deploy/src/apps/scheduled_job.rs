//! [`ScheduledJob`]: a task definition run on a schedule by EventBridge
//! Scheduler, with container overrides; and run-now through
//! [`crate::Deployer::run`].
//!
//! A job built without `schedule` is a run-once task: it deploys its task definition, log
//! group and roles, but no schedule and no scheduler role, and runs only when asked
//! ([`crate::Deployer::run`], `fargate run APP`). A job that had a schedule and loses it has
//! its schedule and scheduler role deleted by the next apply.

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::{
    Architecture, Change, Collect, Error, Ident, InvalidValue, Kind, Mode, Ref, Resolved, Resource,
    ResourceId, Round, ScheduleExpression, StepContext, Timezone,
};
use typed_builder::TypedBuilder;

use super::common::{AppSettings, AppVolume, Image, RawSettings, debug_redacting_env, defaults};
use crate::deployer::{App, TaskInfo};
use crate::environment::Environment;
use crate::iam::{IamRoleSpec, PolicyStatement, role_arn_in, role_id};
use crate::rollout::RolloutOptions;
use crate::run_task::{ContainerOverride, validate_overrides};
use crate::schedule::{
    EcsTarget, FlexibleWindow, ScheduleRetry, ScheduleSpec, scheduler_role_statements,
};
use crate::service::ServiceSpec;
use crate::task_definition::task_definition_arn;
use crate::{AwsContext, Clients};

/// What a scheduled job is, as given; [`ScheduledJob::builder`] checks it at
/// `build()` (no AWS calls).
///
/// ```
/// use fargate_deploy::ScheduledJob;
/// let etl = ScheduledJob::builder()
///     .name("nightly-etl")
///     .image("ghcr.io/acme/dashboard:1.4.2")
///     .schedule("cron(0 3 * * ? *)")
///     .timezone("Europe/Paris")
///     .job_env([("ETL_JOB".to_string(), "import".to_string())].into())
///     .build()?;
/// assert_eq!(etl.schedule().map(ToString::to_string).as_deref(), Some("cron(0 3 * * ? *)"));
///
/// // No schedule: a run-once task (no EventBridge schedule, no scheduler role).
/// let migrate = ScheduledJob::builder()
///     .name("migrate")
///     .image("ghcr.io/acme/dashboard:1.4.2")
///     .command(vec!["./migrate".into(), "--to".into(), "latest".into()])
///     .build()?;
/// assert!(migrate.schedule().is_none());
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// Its `Debug` redacts secret-looking `env` and `job_env` values ([`fargate_core::redact`]);
/// so do plans, which still see a changed value as a change.
///
/// It deserializes from JSON with the same field names and defaults (unknown fields are
/// refused); the `fargate` CLI's app file uses it for `"kind": "job"`.
#[derive(Clone, TypedBuilder, serde::Deserialize, schemars::JsonSchema)]
#[builder(build_method(into = Result<ScheduledJob, Error>))]
#[serde(deny_unknown_fields)]
pub struct ScheduledJobSpec {
    /// The job's name (lowercase letters, digits, hyphens).
    #[builder(setter(into))]
    pub name: String,
    /// The image: any reference, or `Image::Ecr { tag }` for the job's own repository.
    #[builder(setter(into))]
    pub image: Image,
    /// `cron(m h dom mon dow y)`, `rate(n unit)` or `at(yyyy-mm-ddThh:mm:ss)`. Without it the
    /// job is a run-once task: no EventBridge schedule and no scheduler role are made (and
    /// those of an earlier configuration are deleted); it runs when asked
    /// ([`crate::Deployer::run`], `fargate run APP`). `timezone`, `flexible_window_minutes`,
    /// `retries` and `enabled: false` need a schedule.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub schedule: Option<String>,
    /// The schedule's time zone: a name of the IANA time zone database, spelled exactly
    /// (`Europe/Paris`; `EUROPE/PARIS` is refused with the right spelling). Default UTC.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub timezone: Option<String>,
    /// CPU units. Default 256.
    #[builder(default = defaults::cpu())]
    #[serde(default = "defaults::cpu")]
    pub cpu: u32,
    /// Memory in MiB. Default 512.
    #[builder(default = defaults::memory())]
    #[serde(default = "defaults::memory")]
    pub memory: u32,
    /// CPU architecture. Default X86_64.
    #[builder(default)]
    #[serde(default)]
    pub architecture: Architecture,
    /// Command override in the task definition.
    #[builder(default)]
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variables of the task definition.
    #[builder(default)]
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Secrets by reference, by variable name.
    #[builder(default)]
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Environment variables the schedule sets on each run (container overrides), e.g.
    /// `ETL_JOB=import`. Stored in clear in the schedule's target: pass credentials as
    /// `secrets`; secret-looking values (`API_TOKEN`, `*_PASSWORD`, URLs with a password) are
    /// redacted from plans, `Debug` and events.
    #[builder(default)]
    #[serde(default)]
    pub job_env: BTreeMap<String, String>,
    /// Command the schedule runs instead of the task definition's.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub job_command: Option<Vec<String>>,
    /// Whether the schedule is enabled. Default true.
    #[builder(default = defaults::on())]
    #[serde(default = "defaults::on")]
    pub enabled: bool,
    /// Let the scheduler start up to this many minutes late to spread load.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub flexible_window_minutes: Option<u16>,
    /// Retries of a failed invocation (0 to 185). Default 0.
    #[builder(default)]
    #[serde(default)]
    pub retries: u8,
    /// Container-level memory reservation in MiB.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub memory_reservation: Option<u32>,
    /// Log retention in days. Default 30.
    #[builder(default = defaults::log_retention_days())]
    #[serde(default = "defaults::log_retention_days")]
    pub log_retention_days: u16,
    /// What the job's code may do in AWS.
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
    /// Tags on everything the job creates.
    #[builder(default)]
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Volumes of the job's container, as on [`crate::ContainerService`]: EFS on a file
    /// system fargate-rs creates (`{"name": "data", "path": "/data", "create": true}`) or on
    /// an existing one, and bind mounts (`"bind": true`). No EBS volume: EventBridge Scheduler's ECS target cannot pass the
    /// volume configuration a managed EBS volume needs.
    #[builder(default)]
    #[serde(default)]
    pub volumes: Vec<AppVolume>,
}

debug_redacting_env!(ScheduledJobSpec {
    name,
    image,
    schedule,
    timezone,
    cpu,
    memory,
    architecture,
    command,
    secrets,
    job_command,
    enabled,
    flexible_window_minutes,
    retries,
    memory_reservation,
    log_retention_days,
    task_role,
    task_role_managed_policies,
    tags,
    volumes,
} env { env, job_env });

/// A task on a schedule, or run once when asked (no schedule). Build with
/// [`ScheduledJob::builder`]; run it now with [`crate::Deployer::run`].
#[derive(Debug, Clone)]
pub struct ScheduledJob {
    settings: AppSettings,
    schedule: Option<ScheduleExpression>,
    timezone: Timezone,
    job_override: ContainerOverride,
    enabled: bool,
    window: FlexibleWindow,
    retry: ScheduleRetry,
}

impl From<ScheduledJobSpec> for Result<ScheduledJob, Error> {
    fn from(spec: ScheduledJobSpec) -> Self {
        ScheduledJob::new(spec)
    }
}

impl ScheduledJob {
    /// Start describing a scheduled job.
    pub fn builder() -> ScheduledJobSpecBuilder {
        ScheduledJobSpec::builder()
    }

    /// Validate a spec (no AWS calls).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field and what is allowed.
    pub fn new(spec: ScheduledJobSpec) -> Result<Self, Error> {
        let settings = RawSettings {
            name: spec.name.clone(),
            image: spec.image.clone(),
            cpu: spec.cpu,
            memory: spec.memory,
            architecture: spec.architecture,
            port: None,
            command: spec.command.clone(),
            environment: spec.env.clone(),
            secrets: spec.secrets.clone(),
            health_check: None,
            sidecars: Vec::new(),
            memory_reservation: spec.memory_reservation,
            log_retention_days: spec.log_retention_days,
            task_role_statements: spec.task_role.clone(),
            task_role_managed_policies: spec.task_role_managed_policies.clone(),
            tags: spec.tags.clone(),
            rollout: RolloutOptions::default(),
            volumes: spec.volumes.clone(),
        }
        .validate()?;
        let name = &settings.name;
        if let Some((i, v)) = spec
            .volumes
            .iter()
            .enumerate()
            .find(|(_, v)| v.ebs.is_some())
        {
            return Err(InvalidValue::new(
                format!("{name}.volumes[{i}].ebs"),
                &v.name,
                "a scheduled job cannot have an EBS volume: EventBridge Scheduler's ECS target \
                 (EcsParameters) cannot pass the volume configuration ECS needs at launch",
                "an EFS volume (create: true, or file_system_id), or no volume",
            )
            .into());
        }
        let schedule: Option<ScheduleExpression> = spec
            .schedule
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: InvalidValue| e.in_field(format!("{name}.schedule")))?;
        if schedule.is_none() {
            refuse_without_schedule(&spec)?;
        }
        let timezone = match &spec.timezone {
            Some(tz) => tz
                .parse()
                .map_err(|e: InvalidValue| e.in_field(format!("{name}.timezone")))?,
            None => Timezone::default(),
        };
        let mut job_override = ContainerOverride::new(name.as_str())?;
        for (k, v) in &spec.job_env {
            job_override = job_override
                .env(k.clone(), v.clone())
                .map_err(|e| e.in_field(format!("{name}.job_env.{k}")))?;
        }
        if let Some(c) = &spec.job_command {
            job_override = job_override.command(c.clone());
        }
        // What the schedule sends as its target's input must fit RunTask's limit: checked
        // now, not when the schedule is planned.
        validate_overrides(std::slice::from_ref(&job_override)).map_err(|e| {
            let field = if e.field == "container_overrides" {
                format!("{name}.job_env")
            } else {
                e.field.clone()
            };
            e.in_field(field)
        })?;
        let window = match spec.flexible_window_minutes {
            Some(m) => FlexibleWindow::minutes(m)
                .map_err(|e| e.in_field(format!("{name}.flexible_window_minutes")))?,
            None => FlexibleWindow::Off,
        };
        let retry = ScheduleRetry::new(spec.retries, 86_400)
            .map_err(|e| e.in_field(format!("{name}.retries")))?;
        Ok(Self {
            settings,
            schedule,
            timezone,
            job_override,
            enabled: spec.enabled,
            window,
            retry,
        })
    }

    /// The job's name.
    pub fn name(&self) -> &Ident {
        &self.settings.name
    }

    /// The schedule expression; `None` for a run-once job.
    pub fn schedule(&self) -> Option<&ScheduleExpression> {
        self.schedule.as_ref()
    }

    /// The overrides the schedule applies on each run (also a good default for run-now).
    pub fn job_override(&self) -> &ContainerOverride {
        &self.job_override
    }

    fn schedule_spec(
        &self,
        env: &Environment,
        aws: &AwsContext,
        expression: ScheduleExpression,
        sgs: Ref<Vec<String>>,
        after: Vec<ResourceId>,
    ) -> Result<ScheduleSpec, Error> {
        let s = &self.settings;
        let family = s.family(env);
        let cluster_arn = aws.arn("ecs", &format!("cluster/{}", env.cluster_name()));
        let mut target = EcsTarget::new(
            Ref::Known(cluster_arn),
            Ref::Output(task_definition_arn(&family)),
            env.task_subnets(),
            sgs,
        )?
        .follows(crate::task_definition::task_definition_id(&family))
        .assign_public_ip(env.network().tasks_need_public_ip());
        if self.job_override != ContainerOverride::new(s.name.as_str())? {
            target = target.container_override(self.job_override.clone())?;
        }
        let role = self.scheduler_role(env, aws)?;
        let role_arn = role_arn_in(aws, role.name());
        Ok(ScheduleSpec::new(
            s.ownership(env, "schedule"),
            expression,
            target,
            Ref::Known(role_arn),
        )?
        .timezone(self.timezone.clone())
        .flexible_window(self.window)
        .enabled(self.enabled)
        .retry(self.retry)
        .depends_on(after))
    }

    fn scheduler_role(&self, env: &Environment, aws: &AwsContext) -> Result<IamRoleSpec, Error> {
        let s = &self.settings;
        let exec = IamRoleSpec::execution_role(
            env.name(),
            &s.name,
            s.ownership(env, "execution-role"),
            Default::default(),
        );
        let task_role = s.has_task_role().then(|| {
            IamRoleSpec::task_role(
                env.name(),
                &s.name,
                s.ownership(env, "task-role"),
                Vec::new(),
            )
        });
        let cluster_arn = aws.arn("ecs", &format!("cluster/{}", env.cluster_name()));
        let statements = scheduler_role_statements(
            aws,
            s.family(env).as_str(),
            &cluster_arn,
            &role_arn_in(aws, exec.name()),
            task_role
                .as_ref()
                .map(|r| role_arn_in(aws, r.name()))
                .as_deref(),
        )?;
        Ok(IamRoleSpec::scheduler_role(
            env.name(),
            &s.name,
            s.ownership(env, "scheduler-role"),
            statements,
        )
        .tags(s.tags.clone()))
    }
}

impl App for ScheduledJob {
    fn name(&self) -> &Ident {
        &self.settings.name
    }

    fn resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let layer = self
            .settings
            .common_layer(env, aws, Vec::new(), Vec::new())?;
        let mut out = layer.resources;
        let sgs = Collect::new(
            ResourceId::new(
                "fargate:list",
                format!("{}/{}/task-security-groups", env.name(), self.settings.name),
            ),
            vec![(
                layer.security_group.clone(),
                layer.security_group_id.clone(),
            )],
        );
        let sgs_ref = Ref::Output(sgs.output());
        let sgs_id = fargate_core::Kind::<Clients>::id(&sgs);
        out.push(fargate_core::resource::node(sgs));
        let role = self.scheduler_role(env, aws)?;
        let Some(expression) = self.schedule.clone() else {
            // A run-once job: what an earlier, scheduled configuration made goes away. Only
            // the schedule's name, group and owner matter to delete it, so any expression does.
            let any = ScheduleExpression::Rate(fargate_core::schedule::Rate::new(
                1,
                fargate_core::schedule::RateUnit::Days,
            )?);
            let schedule = self.schedule_spec(env, aws, any, sgs_ref, Vec::new())?;
            out.push(fargate_core::resource::node(Withdrawn(schedule)));
            out.push(fargate_core::resource::node(Withdrawn(role)));
            return Ok(out);
        };
        let role_id = role_id(role.name());
        out.push(fargate_core::resource::node(role));
        let mut after = vec![
            role_id,
            sgs_id,
            layer.execution_role.clone(),
            env.cluster_id(),
            env.egress_id(),
        ];
        after.extend(layer.task_role.clone());
        out.push(fargate_core::resource::node(
            self.schedule_spec(env, aws, expression, sgs_ref, after)?,
        ));
        Ok(out)
    }

    fn service(&self, _env: &Environment) -> Option<ServiceSpec> {
        None
    }

    fn task(&self, env: &Environment) -> Option<TaskInfo> {
        Some(self.settings.task_info(env))
    }

    fn preflight(&self, env: &Environment) -> Option<crate::preflight::Requirements> {
        Some(self.settings.preflight(env))
    }

    /// One task per scheduled run, each assumed to last
    /// [`crate::estimate::JOB_RUN_MINUTES`] minutes.
    ///
    /// A run-once job has no scheduled runs, so no monthly cost.
    fn cost_inputs(&self, env: &Environment) -> Vec<fargate_core::cost::TaskCost> {
        self.schedule
            .iter()
            .map(|s| crate::estimate::job_task(&self.settings, env, s, self.enabled))
            .collect()
    }

    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)> {
        let family = self.settings.family(env);
        vec![(
            format!("{}.task_definition", self.settings.name),
            task_definition_arn(&family),
            "{}".to_string(),
        )]
    }
}

/// Refuse, for a job without a schedule, the settings only a schedule has.
fn refuse_without_schedule(spec: &ScheduledJobSpec) -> Result<(), Error> {
    let only_scheduled = [
        ("timezone", spec.timezone.clone()),
        (
            "flexible_window_minutes",
            spec.flexible_window_minutes.map(|m| m.to_string()),
        ),
        (
            "retries",
            (spec.retries != 0).then(|| spec.retries.to_string()),
        ),
        ("enabled", (!spec.enabled).then(|| "false".to_string())),
    ];
    match only_scheduled
        .into_iter()
        .find_map(|(f, v)| v.map(|v| (f, v)))
    {
        Some((field, value)) => Err(InvalidValue::new(
            format!("{}.{field}", spec.name),
            value,
            "a setting of the job's schedule, but the job has no `schedule` (a run-once job)",
            format!("a `schedule` with it, or no `{field}`"),
        )
        .into()),
        None => Ok(()),
    }
}

/// A resource a job's configuration no longer has (a run-once job's schedule and scheduler
/// role, which an earlier, scheduled configuration made): apply and destroy both delete it
/// when it exists and is ours, and leave it alone otherwise (one read, no mutating call).
/// Its id is `fargate:retired <the resource's id>`, a planner value shown only when it
/// deletes. One that exists but is someone else's is left untouched.
#[derive(Debug, Clone)]
pub(crate) struct Withdrawn<K>(pub K);

impl<K: Kind<Clients>> Kind<Clients> for Withdrawn<K> {
    type Observed = K::Observed;

    fn id(&self) -> ResourceId {
        ResourceId::new("fargate:retired", self.0.id().to_string())
    }

    /// What exists of it; one that is someone else's is nothing to do.
    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<K::Observed>, Error>> {
        Box::pin(async move {
            match self.0.observe(clients, round, Mode::Destroy).await {
                Err(Error::NotOwned { .. }) => Ok(None),
                other => other,
            }
        })
    }

    fn diff(&self, observed: Option<&K::Observed>, _: &Resolved) -> Result<Change, Error> {
        Ok(self.0.destroy_change(observed))
    }

    fn destroy_change(&self, observed: Option<&K::Observed>) -> Change {
        self.0.destroy_change(observed)
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a K::Observed>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        match (change, observed) {
            (Change::Delete, Some(o)) => self.0.destroy(clients, ctx, o),
            _ => Box::pin(async { Ok(()) }),
        }
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
