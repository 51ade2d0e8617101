//! The entry point: [`Deployer`] plans, applies, destroys, reports status and
//! rolls back an [`Environment`] and its apps.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_types::SdkConfig;
use fargate_core::exec::{
    CancellationToken, EventSink, ExecError, OutputKey, Outputs, RunOptions, StepContext,
    StepTiming,
};
use fargate_core::{
    AwsResultExt, CallRecorder, CallSummary, EcsName, Error, Executable, Ident, InvalidValue, Mode,
    Plan, Resource, ResourceId,
};

use crate::environment::Environment;
use crate::rollout::{DeploymentView, LogTarget, RolloutOptions, RolloutWatch, TargetIssue};
use crate::run_task::{ContainerOverride, RunTaskRequest, TaskOutcome, run_now};
use crate::service::ServiceSpec;
use crate::{AwsContext, Clients};

/// Something deployable into an [`Environment`]: a [`crate::ContainerService`],
/// [`crate::FrontendApp`], [`crate::BackendApi`] or [`crate::ScheduledJob`].
pub trait App: Send + Sync {
    /// The app's name, unique in its environment.
    fn name(&self) -> &Ident;

    /// The app's resources in `env` (without the environment's own).
    ///
    /// # Errors
    /// Input that can only be checked against the environment or account.
    fn resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error>;

    /// The app's ECS service, when it has one (jobs do not).
    fn service(&self, env: &Environment) -> Option<ServiceSpec>;

    /// What the app needs of the environment's shared load balancers (none by
    /// default); the environment plans the ALB or the NLB only when an app needs it.
    fn needs(&self) -> crate::shared_lb::Needs {
        crate::shared_lb::Needs::default()
    }

    /// The app's Fargate tasks for a cost estimate ([`crate::estimate`]): size,
    /// count, architecture, Spot share and run hours. None by default (the
    /// estimate then assumes the smallest size for the app's service).
    fn cost_inputs(&self, env: &Environment) -> Vec<fargate_core::cost::TaskCost> {
        let _ = env;
        Vec::new()
    }

    /// The app's task, for one-off runs ([`Deployer::run`]); `None` when it has none.
    fn task(&self, env: &Environment) -> Option<TaskInfo> {
        let _ = env;
        None
    }

    /// What to report after apply: `(label, output key, format)` where `{}`
    /// in the format is replaced by the output's value (e.g. `http://{}/api`).
    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)>;
}

/// What [`Deployer::run`] needs to know about an app's task.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// The task definition family.
    pub family: EcsName,
    /// The output key of the task security group id.
    pub security_group: OutputKey<String>,
    /// Where the containers log.
    pub logs: LogTarget,
    /// The main container's name.
    pub container: String,
}

/// A computed plan, ready to [`Deployer::apply`]. Render it with `Display`;
/// read it as data through [`DeployPlan::plan`].
pub struct DeployPlan {
    plan: Plan,
    exe: Executable<Clients>,
    mode: Mode,
    report_outputs: Vec<(String, OutputKey<String>, String)>,
    cost: fargate_core::cost::CostInputs,
}

impl DeployPlan {
    /// The plan as data (serde-serializable, secrets redacted).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Whether this plan creates/updates or destroys.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether applying would make any mutating call.
    pub fn has_changes(&self) -> bool {
        self.plan.has_changes()
    }

    /// A monthly cost estimate of what this plan deploys (Fargate tasks, load
    /// balancers, NAT gateways, log ingestion), from `table`
    /// (`PricingTable::default()` is us-east-1 list prices with their date).
    /// Clearly an estimate: see its assumptions.
    pub fn estimate_cost(
        &self,
        table: &fargate_core::cost::PricingTable,
    ) -> fargate_core::cost::CostEstimate {
        fargate_core::cost::estimate(&self.cost, table)
    }
}

impl fmt::Display for DeployPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.plan.fmt(f)
    }
}

impl fmt::Debug for DeployPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeployPlan")
            .field("plan", &self.plan)
            .field("mode", &self.mode)
            .finish()
    }
}

/// What an apply or destroy did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyReport {
    /// The plan's summary line.
    pub summary: String,
    /// Outputs: URLs, ARNs, task definition revisions, by name.
    pub outputs: BTreeMap<String, String>,
    /// AWS calls made (total, mutating, critical path).
    pub calls: CallSummary,
    /// Wall time.
    pub elapsed: Duration,
    /// When each step ran.
    #[serde(skip)]
    pub steps: Vec<StepTiming>,
    /// Every output the steps produced (ids, ARNs), by typed key.
    #[serde(skip)]
    pub all_outputs: Outputs,
}

/// An apply that did not complete: the step that failed, why, and what was left.
///
/// Nothing is left without a way forward: running `apply` again converges,
/// and `destroy` removes what was created.
#[derive(Debug, thiserror::Error)]
#[error("{failed_step} failed: {source}{}", if not_started.is_empty() { String::new() } else { format!(" ({} steps not started)", not_started.len()) })]
pub struct ApplyError {
    /// The step (resource) that failed, or `cancelled`.
    pub failed_step: String,
    /// Why.
    #[source]
    pub source: Error,
    /// Other steps that failed at the same time.
    pub other_failures: Vec<(String, String)>,
    /// Steps that finished.
    pub finished: Vec<String>,
    /// Steps that never started.
    pub not_started: Vec<String>,
    /// AWS calls made.
    pub calls: CallSummary,
}

impl ApplyError {
    /// The rollout failure inside, if a service rollout failed.
    pub fn rollout(&self) -> Option<&crate::rollout::RolloutError> {
        match &self.source {
            Error::Failed { source, .. } => source.downcast_ref(),
            _ => None,
        }
    }
}

/// How to run an apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Progress events.
    pub events: EventSink,
    /// Cancel to stop starting new steps.
    pub cancel: CancellationToken,
    /// The most steps at once (default 16).
    pub concurrency: Option<usize>,
}

/// A service's state, as `status` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub service: String,
    /// ACTIVE, DRAINING, INACTIVE or MISSING.
    pub status: String,
    /// Desired tasks.
    pub desired: i32,
    /// Running tasks.
    pub running: i32,
    /// Pending tasks.
    pub pending: i32,
    /// The task definition it runs.
    pub task_definition: Option<String>,
    /// The revision before it (what `rollback` goes to).
    pub previous_task_definition: Option<String>,
    /// Deployments.
    pub deployments: Vec<DeploymentView>,
    /// The last service events, newest first.
    pub events: Vec<String>,
    /// Load balancer targets and their health.
    pub targets: Vec<TargetIssue>,
}

/// Plans, applies and destroys environments and apps; built from your `SdkConfig`.
///
/// ```no_run
/// # async fn demo(env: fargate_deploy::Environment, app: fargate_deploy::ContainerService) -> Result<(), Box<dyn std::error::Error>> {
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let deployer = fargate_deploy::Deployer::new(&sdk).await?;
/// let plan = deployer.plan(&env, &[&app]).await?;
/// println!("{plan}");
/// let report = deployer.apply(plan).await?;
/// println!("{:?}", report.outputs);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Deployer {
    clients: Clients,
    recorder: CallRecorder,
}

impl Deployer {
    /// A deployer for this config; one STS `GetCallerIdentity` call finds the account.
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn new(sdk: &SdkConfig) -> Result<Self, Error> {
        Self::with_interceptors(sdk, Vec::new()).await
    }

    /// Like [`Deployer::new`], with extra SDK interceptors on every client.
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn with_interceptors(
        sdk: &SdkConfig,
        mut interceptors: Vec<SharedInterceptor>,
    ) -> Result<Self, Error> {
        let recorder = CallRecorder::new();
        interceptors.push(SharedInterceptor::new(recorder.clone()));
        let clients = Clients::connect(sdk, &interceptors).await?;
        Ok(Self { clients, recorder })
    }

    /// A deployer over clients you built (for example mocked ones in tests).
    pub fn from_clients(clients: Clients, recorder: CallRecorder) -> Self {
        Self { clients, recorder }
    }

    /// The clients.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// The call recorder attached to every client.
    pub fn recorder(&self) -> &CallRecorder {
        &self.recorder
    }

    fn collect(
        &self,
        env: &Environment,
        apps: &[&dyn App],
        with_env: bool,
        mode: Mode,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let mut names = HashSet::new();
        for a in apps {
            if !names.insert(a.name().to_string()) {
                return Err(InvalidValue::new(
                    "app name",
                    a.name().to_string(),
                    "two apps in one environment have this name",
                    "a unique name per app",
                )
                .into());
            }
        }
        crate::shared_lb::check_apps(apps)?;
        let mut out: Vec<Arc<dyn Resource<Clients>>> = Vec::new();
        let mut seen: HashSet<ResourceId> = HashSet::new();
        let env_resources = if with_env {
            env.resources_for(apps, mode)
        } else {
            Vec::new()
        };
        let mut all = env_resources;
        for a in apps {
            all.extend(a.resources(env, &self.clients.aws)?);
        }
        for r in all {
            if seen.insert(r.id()) {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn make_plan(
        &self,
        env: &Environment,
        apps: &[&dyn App],
        mode: Mode,
        with_env: bool,
    ) -> Result<DeployPlan, Error> {
        let resources = self.collect(env, apps, with_env, mode)?;
        let exe = Executable::plan(&self.clients, &resources, mode).await?;
        let mut plan = exe.plan.clone();
        if mode == Mode::Apply {
            for n in env.notes() {
                plan.note(n);
            }
        }
        let report_outputs = apps.iter().flat_map(|a| a.output_keys(env)).collect();
        Ok(DeployPlan {
            plan,
            exe,
            mode,
            report_outputs,
            cost: crate::estimate::cost_inputs(env, apps),
        })
    }

    /// Observe AWS and plan what [`apply`](Self::apply) would do for the environment and apps.
    ///
    /// # Errors
    /// Bad input (duplicate app names), AWS read errors, or a resource with
    /// our name that we do not own ([`Error::NotOwned`]).
    pub async fn plan(&self, env: &Environment, apps: &[&dyn App]) -> Result<DeployPlan, Error> {
        self.make_plan(env, apps, Mode::Apply, true).await
    }

    /// Plan removing the apps and the environment (only what fargate-rs owns).
    ///
    /// # Errors
    /// As [`plan`](Self::plan).
    pub async fn plan_destroy(
        &self,
        env: &Environment,
        apps: &[&dyn App],
    ) -> Result<DeployPlan, Error> {
        self.make_plan(env, apps, Mode::Destroy, true).await
    }

    /// Plan removing only the apps, keeping the environment.
    ///
    /// # Errors
    /// As [`plan`](Self::plan).
    pub async fn plan_destroy_apps(
        &self,
        env: &Environment,
        apps: &[&dyn App],
    ) -> Result<DeployPlan, Error> {
        self.make_plan(env, apps, Mode::Destroy, false).await
    }

    /// Carry out a plan.
    ///
    /// # Errors
    /// [`ApplyError`] naming the failed step; a failed service rollout carries a
    /// [`crate::rollout::RolloutError`] (see [`ApplyError::rollout`]).
    pub async fn apply(&self, plan: DeployPlan) -> Result<ApplyReport, ApplyError> {
        self.apply_with(plan, ApplyOptions::default()).await
    }

    /// Carry out a plan with progress events and cancellation.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub async fn apply_with(
        &self,
        plan: DeployPlan,
        options: ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        let mark = self.recorder.mark();
        let summary = plan.plan.summary().to_string();
        let DeployPlan {
            exe,
            report_outputs,
            ..
        } = plan;
        let (_, graph) = exe
            .into_graph(self.clients.clone())
            .map_err(|e| ApplyError {
                failed_step: "plan".into(),
                source: e,
                other_failures: Vec::new(),
                finished: Vec::new(),
                not_started: Vec::new(),
                calls: self.recorder.summary_since(mark),
            })?;
        let report = graph
            .run(RunOptions {
                concurrency: options.concurrency.unwrap_or(16),
                cancel: options.cancel,
                events: options.events,
                outputs: Outputs::new(),
            })
            .await;
        let steps = report.timings.clone();
        let elapsed = report.elapsed;
        match report.into_result() {
            Ok(outputs) => {
                let out = report_outputs
                    .iter()
                    .filter_map(|(label, key, format)| {
                        outputs
                            .try_get(key)
                            .map(|v| (label.clone(), format.replace("{}", &v)))
                    })
                    .collect();
                Ok(ApplyReport {
                    summary,
                    outputs: out,
                    calls: self.recorder.summary_since(mark),
                    elapsed,
                    steps,
                    all_outputs: outputs,
                })
            }
            Err(e) => Err(self.apply_error(e, mark)),
        }
    }

    fn apply_error(&self, e: ExecError<Error>, mark: usize) -> ApplyError {
        let (failed_step, source) = match e.failed {
            Some((step, fargate_core::exec::Failure::Error(err))) => (step, err),
            Some((step, fargate_core::exec::Failure::Panicked(msg))) => (
                step.clone(),
                Error::Unexpected {
                    resource: ResourceId::new("fargate:step", step),
                    operation: "apply".into(),
                    detail: format!("step panicked: {msg}"),
                },
            ),
            None => ("cancelled".to_string(), Error::Cancelled),
        };
        ApplyError {
            failed_step,
            source,
            other_failures: e
                .other_failures
                .into_iter()
                .map(|(s, f)| (s, f.to_string()))
                .collect(),
            finished: e.finished,
            not_started: e.not_started,
            calls: self.recorder.summary_since(mark),
        }
    }

    /// Plan and apply removing the apps and the environment (only what fargate-rs owns).
    ///
    /// # Errors
    /// As [`plan`](Self::plan) and [`apply`](Self::apply), as an [`ApplyError`].
    pub async fn destroy(
        &self,
        env: &Environment,
        apps: &[&dyn App],
    ) -> Result<ApplyReport, ApplyError> {
        let plan = self
            .plan_destroy(env, apps)
            .await
            .map_err(|e| plan_failed(e, self.recorder.summary()))?;
        self.apply(plan).await
    }

    /// A service's state: counts, deployments, task definitions, events and target health.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the app has no service; AWS errors.
    pub async fn status(&self, env: &Environment, app: &dyn App) -> Result<ServiceStatus, Error> {
        let spec = service_of(env, app)?;
        let id = spec.resource_id();
        let c = &self.clients;
        let out = c
            .ecs
            .describe_services()
            .cluster(spec.cluster.as_str())
            .services(spec.name.as_str())
            .send()
            .await
            .context(&id, "DescribeServices")?;
        let Some(s) = out
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
        else {
            return Ok(ServiceStatus {
                service: spec.name.to_string(),
                status: "MISSING".into(),
                desired: 0,
                running: 0,
                pending: 0,
                task_definition: None,
                previous_task_definition: None,
                deployments: Vec::new(),
                events: Vec::new(),
                targets: Vec::new(),
            });
        };
        let view = crate::rollout::watch::view_of(s);
        let current = s.task_definition().map(str::to_string);
        let previous = match &current {
            Some(td) => previous_revision(c, &id, &spec.family, td).await?,
            None => None,
        };
        let tgs: Vec<String> = s
            .load_balancers()
            .iter()
            .filter_map(|l| l.target_group_arn().map(str::to_string))
            .collect();
        let targets = crate::rollout::diagnose::target_health(c, &tgs).await?;
        Ok(ServiceStatus {
            service: spec.name.to_string(),
            status: view.status.clone(),
            desired: s.desired_count(),
            running: s.running_count(),
            pending: s.pending_count(),
            task_definition: current,
            previous_task_definition: previous,
            deployments: view.deployments,
            events: view.events.into_iter().take(5).map(|(_, m)| m).collect(),
            targets,
        })
    }

    /// Run the app's task once now (a scheduled job's run-now, or a one-off
    /// command such as a migration with a [`ContainerOverride`]), wait for it
    /// to stop and return its exit code and last log lines.
    ///
    /// The app is applied first (no mutating call when it is up to date), so
    /// its task definition, roles and network exist.
    ///
    /// # Errors
    /// A failed apply; [`Error::Failed`] with a [`crate::run_task::RunTaskError`] when the
    /// task exits non-zero or never starts (it carries the outcome and logs);
    /// [`Error::Timeout`] after `timeout`.
    pub async fn run(
        &self,
        env: &Environment,
        app: &dyn App,
        overrides: Vec<ContainerOverride>,
        timeout: Duration,
        events: EventSink,
    ) -> Result<TaskOutcome, Error> {
        let Some(info) = app.task(env) else {
            return Err(Error::NotFound {
                resource: ResourceId::new(
                    "ecs:task-definition",
                    format!("{}/{}", env.name(), app.name()),
                ),
                detail: "this app has no task to run".into(),
            });
        };
        let plan = self.plan(env, &[app]).await?;
        let report = self
            .apply_with(
                plan,
                ApplyOptions {
                    events: events.clone(),
                    ..ApplyOptions::default()
                },
            )
            .await
            .map_err(|e| e.source)?;
        let o = &report.all_outputs;
        let subnets = o.get(&env.network().task_subnet_ids_key())?;
        let sg = o.get(&info.security_group)?;
        let td = o.get(&crate::task_definition::task_definition_arn(&info.family))?;
        let mut req = RunTaskRequest::new(env.cluster_name().as_str(), td, subnets, vec![sg])?
            .assign_public_ip(env.network().tasks_need_public_ip())
            .logs(info.logs.clone())
            .timeout(timeout)
            .started_by(format!("fargate-rs-{}", app.name()))?;
        for o in overrides {
            req = req.container_override(o);
        }
        let id = req.resource_id();
        let ctx = StepContext::detached(
            &id.to_string(),
            Outputs::new(),
            events,
            CancellationToken::new(),
        );
        run_now(&self.clients, &req, &ctx).await
    }

    /// Roll the app's service back to the revision before the one it runs, and
    /// wait for that rollout. Returns the task definition it went back to.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no earlier revision; a failed rollout.
    pub async fn rollback(&self, env: &Environment, app: &dyn App) -> Result<String, Error> {
        let spec = service_of(env, app)?;
        let id = spec.resource_id();
        let status = self.status(env, app).await?;
        let Some(previous) = status.previous_task_definition else {
            return Err(Error::NotFound {
                resource: id,
                detail: "no earlier task definition revision to roll back to".into(),
            });
        };
        let watch = RolloutWatch {
            resource: id.clone(),
            cluster: spec.cluster.to_string(),
            service: spec.name.to_string(),
            deployment_id: String::new(),
            previous_task_definition: None,
            target_groups: Vec::new(),
            logs: spec.logs.clone(),
            since_epoch: 0,
            options: RolloutOptions {
                rollback: false,
                ..spec.rollout.clone()
            },
        };
        let ctx = StepContext::detached(
            &id.to_string(),
            Outputs::new(),
            EventSink::none(),
            CancellationToken::new(),
        );
        crate::rollout::watch::rollback_to(&self.clients, &ctx, &watch, &previous).await?;
        Ok(previous)
    }
}

fn plan_failed(e: Error, calls: CallSummary) -> ApplyError {
    ApplyError {
        failed_step: "plan".into(),
        source: e,
        other_failures: Vec::new(),
        finished: Vec::new(),
        not_started: Vec::new(),
        calls,
    }
}

fn service_of(env: &Environment, app: &dyn App) -> Result<ServiceSpec, Error> {
    app.service(env).ok_or_else(|| Error::NotFound {
        resource: ResourceId::new("ecs:service", format!("{}/{}", env.name(), app.name())),
        detail: "this app has no ECS service (a scheduled job?)".into(),
    })
}

/// The newest ACTIVE revision of `family` older than `current`.
async fn previous_revision(
    c: &Clients,
    id: &ResourceId,
    family: &str,
    current: &str,
) -> Result<Option<String>, Error> {
    let revision = |arn: &str| arn.rsplit(':').next().and_then(|r| r.parse::<u64>().ok());
    let Some(cur) = revision(current) else {
        return Ok(None);
    };
    let out = c
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .send()
        .await
        .context(id, "ListTaskDefinitions")?;
    Ok(out
        .task_definition_arns()
        .iter()
        .filter(|a| {
            a.rsplit('/')
                .next()
                .and_then(|fr| fr.rsplit_once(':'))
                .map(|(f, _)| f)
                == Some(family)
        })
        .filter_map(|a| revision(a).map(|r| (r, a)))
        .filter(|(r, _)| *r < cur)
        .max_by_key(|(r, _)| *r)
        .map(|(_, a)| a.clone()))
}
