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
    AwsResultExt, CallRecorder, CallSummary, EcsName, Error, Executable, Ident, Mode, Observations,
    Plan, Resource, ResourceId,
};

use crate::environment::Environment;
use crate::rollout::{DeploymentView, LogTarget, RolloutOptions, RolloutWatch, TargetIssue};
use crate::run_task::{ContainerOverride, RunTaskRequest, TaskOutcome, run_now};
use crate::saved_plan::{PlanMode, SavedPlan, SavedPlanError};
use crate::service::ServiceSpec;
use crate::{AwsContext, Clients, DeployerOptions};

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

    /// The listener rules the app puts on the environment's shared ALB (none by
    /// default). A plan gives every rule on the listener the list of all of them
    /// ([`fargate_net::listener::ListenerRules`]) before asking the apps for their
    /// [`resources`](App::resources), so that their priorities are allocated
    /// together and never collide.
    fn listener_rules(&self, env: &Environment) -> Vec<fargate_net::listener::ListenerRuleSpec> {
        let _ = env;
        Vec::new()
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

    /// What the pre-flight checks look for before the app is deployed
    /// ([`crate::preflight::check`]): its image in its own ECR repository, the
    /// secrets it references. `None` (nothing to check) by default.
    fn preflight(&self, env: &Environment) -> Option<crate::preflight::Requirements> {
        let _ = env;
        None
    }

    /// What the app publishes with ECS Service Connect in `env` (none by default), checked
    /// across the environment's apps before any AWS call.
    fn service_connect_claims(&self, env: &Environment) -> Vec<crate::service_connect::Claim> {
        let _ = env;
        Vec::new()
    }

    /// What to report after apply: `(label, output key, format)` where `{}`
    /// in the format is replaced by the output's value (e.g. `http://{}/api`).
    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)>;

    /// An ECS Express Mode app's service, `(cluster, name)` ([`Deployer::status`] reads it
    /// as an Express service); `None` (the default) for every other app.
    fn express_service(&self, _env: &Environment) -> Option<(EcsName, EcsName)> {
        None
    }
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
    environment: Ident,
    generation: crate::lock::Generation,
    /// Whether applying removes the environment itself (not only apps).
    removes_environment: bool,
    /// Whether the environment's own resources are in the plan.
    with_env: bool,
    /// What the plan was made from ([`crate::saved_plan`]).
    input_digest: String,
    exe: Executable<Clients>,
    /// The resources the plan was computed for (to plan again from recorded observations).
    resources: Vec<Arc<dyn Resource<Clients>>>,
    mode: Mode,
    report_outputs: Vec<(String, OutputKey<String>, String)>,
    cost: fargate_core::cost::CostInputs,
    preflight: crate::preflight::Preflight,
}

impl DeployPlan {
    /// The plan as data (serde-serializable, secrets redacted).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The environment this plan changes.
    pub fn environment(&self) -> &Ident {
        &self.environment
    }

    /// What the pre-flight checks found ([`crate::preflight`]): missing images,
    /// secrets or parameters, for which [`Deployer::apply`] refuses this plan,
    /// and notes (also in the plan's notes).
    pub fn preflight(&self) -> &crate::preflight::Preflight {
        &self.preflight
    }

    /// Whether this plan creates/updates or destroys.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether applying would make any mutating call.
    pub fn has_changes(&self) -> bool {
        self.plan.has_changes()
    }

    /// The plan as data to save, review and apply later with [`Deployer::apply_saved`]
    /// (see [`crate::saved_plan`]): the environment, mode, generation, input digest and plan.
    pub fn to_saved(&self) -> SavedPlan {
        SavedPlan::new(
            self.environment.to_string(),
            PlanMode::of(self.mode, self.with_env),
            self.generation.version,
            self.input_digest.clone(),
            self.plan.clone(),
            self.exe.observations.clone(),
        )
    }

    /// What AWS looked like when this plan was made: every resource's observation, as data
    /// (secrets only as digests). The plan is a pure function of them and the input
    /// ([`DeployPlan::plan_from`]).
    pub fn observations(&self) -> &Observations {
        &self.exe.observations
    }

    /// The plan these resources have for other recorded `observations` (for example those
    /// of a saved plan): pure, no AWS call. With this plan's own observations it is this
    /// plan's list of changes.
    ///
    /// # Errors
    /// An observation that does not fit its resource (recorded by another version), or a
    /// change the resources refuse.
    pub fn plan_from(&self, observations: &Observations) -> Result<Plan, Error> {
        Executable::from_observations(&self.resources, observations.clone(), self.mode)
            .map(|exe| exe.plan)
    }

    /// Whether applying is followed by bringing the kept environment to what the remaining
    /// apps need (destroying some apps of an environment that others still use).
    fn converges_environment(&self) -> bool {
        self.mode == Mode::Destroy && self.with_env && !self.removes_environment
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
    /// The most steps at once (default: no bound; the clients' request limits pace the
    /// AWS calls, see [`fargate_core::limit`]).
    pub concurrency: Option<usize>,
}

/// A service's state, as `status` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub service: String,
    /// ACTIVE or DRAINING (an app that is not deployed is an `Error::NotDeployed`).
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
    /// The service's current ECS service deployment (in flight or last finished), where the
    /// endpoint reports one: status, lifecycle stage, traffic shift, rollback.
    pub service_deployment: Option<crate::rollout::ServiceDeploymentView>,
    /// Which revisions run tasks and how much production traffic each gets
    /// ([`crate::rollout::ServingRevision`]).
    pub serving: Vec<crate::rollout::ServingRevision>,
    /// An Express app's service: its URL and the configurations in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub express: Option<crate::express::ExpressStatus>,
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
    lock: crate::lock::LockOptions,
}

impl Deployer {
    /// A deployer for this config; one STS `GetCallerIdentity` call finds the account.
    ///
    /// Every client retries as [`crate::default_retry_config`] says (10 attempts), whatever
    /// retry configuration `sdk` carries; choose another with [`Deployer::with_options`].
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn new(sdk: &SdkConfig) -> Result<Self, Error> {
        Self::with_options(sdk, DeployerOptions::default()).await
    }

    /// Like [`Deployer::new`], with extra SDK interceptors on every client.
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn with_interceptors(
        sdk: &SdkConfig,
        interceptors: Vec<SharedInterceptor>,
    ) -> Result<Self, Error> {
        Self::with_options(sdk, DeployerOptions::default().interceptors(interceptors)).await
    }

    /// Like [`Deployer::new`], with the clients built as `options` say: extra interceptors,
    /// and the retry configuration of every client ([`DeployerOptions::retry_config`], which
    /// replaces the one in `sdk`).
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn with_options(sdk: &SdkConfig, options: DeployerOptions) -> Result<Self, Error> {
        let recorder = CallRecorder::new();
        let sdk = options.sdk_config(sdk);
        let mut interceptors = options.interceptors;
        interceptors.push(SharedInterceptor::new(recorder.clone()));
        let clients =
            Clients::connect_with_limits(&sdk, &interceptors, &options.request_limits).await?;
        Ok(Self::from_clients(clients, recorder))
    }

    /// A deployer over clients you built (for example mocked ones in tests).
    pub fn from_clients(clients: Clients, recorder: CallRecorder) -> Self {
        Self {
            clients,
            recorder,
            lock: crate::lock::LockOptions::default(),
        }
    }

    /// The same deployer with these environment-lock settings (see
    /// [`crate::lock`]): how long to wait for another holder, the lease's
    /// time to live, the holder's name.
    #[must_use]
    pub fn with_lock_options(mut self, lock: crate::lock::LockOptions) -> Self {
        self.lock = lock;
        self
    }

    /// Take the environment lock for `operation` (see [`crate::lock`]),
    /// waiting as the lock options say. [`Deployer::deploy`] and
    /// [`Deployer::destroy`] do this themselves; hold it yourself around
    /// several plans and applies with [`Deployer::apply_locked`].
    ///
    /// # Errors
    /// [`crate::LockError::Held`] (inside [`Error::Failed`]) when another
    /// deployer holds the environment; AWS errors.
    pub async fn lock(
        &self,
        env: &Environment,
        operation: &str,
    ) -> Result<crate::lock::LockGuard, Error> {
        crate::lock::acquire(
            &self.clients,
            env.name(),
            operation,
            &self.lock,
            CancellationToken::new(),
        )
        .await
    }

    /// The current lease on the environment, if a deployer holds it.
    ///
    /// # Errors
    /// AWS errors.
    pub async fn lock_status(
        &self,
        env: &Environment,
    ) -> Result<Option<crate::lock::Lease>, Error> {
        crate::lock::read(&self.clients, env.name()).await
    }

    /// Remove the environment's lease whoever holds it (for a holder known to
    /// be gone; a crashed holder's lease also expires by itself). Returns the
    /// lease it removed.
    ///
    /// # Errors
    /// AWS errors.
    pub async fn force_unlock(
        &self,
        env: &Environment,
    ) -> Result<Option<crate::lock::Lease>, Error> {
        crate::lock::force_unlock(&self.clients, env.name()).await
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
        env_needs: Option<&[crate::Needs]>,
        mode: Mode,
        volume_roles: std::collections::BTreeSet<Ident>,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let mut out: Vec<Arc<dyn Resource<Clients>>> = Vec::new();
        let mut seen: HashSet<ResourceId> = HashSet::new();
        // Every rule of this plan on the shared ALB's listener knows the others: their
        // priorities are allocated together.
        let rules: Vec<_> = apps.iter().flat_map(|a| a.listener_rules(env)).collect();
        let env = &env
            .with_listener_rules(&rules)
            .with_volume_roles(volume_roles);
        let mut all = match env_needs {
            Some(needs) => env.resources_for_needs(needs, mode),
            None => Vec::new(),
        };
        for a in apps {
            let resources = a.resources(env, &self.clients.aws)?;
            let registration =
                crate::registry::AppRegistration::new(env.name(), a.name(), a.needs())
                    .with_volume_role(crate::ebs::has_volume_role(env, a.name(), &resources));
            let after = vec![fargate_core::Kind::<Clients>::id(&registration)];
            all.push(fargate_core::resource::node(registration));
            all.extend(resources.into_iter().map(|r| {
                crate::registry::After::wrap(r, after.clone()) as Arc<dyn Resource<Clients>>
            }));
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
        crate::preflight::validate(env, apps)?;
        // The apps deployed into the environment from elsewhere (another app
        // file, another service): the shared resources serve them too.
        let mine: HashSet<&Ident> = apps.iter().map(|a| a.name()).collect();
        let (registrations, generation) = tokio::try_join!(
            crate::registry::registrations(&self.clients, env.name()),
            crate::lock::generation(&self.clients, env.name()),
        )?;
        let volume_roles = registrations
            .values()
            .filter(|r| r.volume_role)
            .map(|r| r.app.clone())
            .collect();
        let registered = registrations.into_iter().map(|(app, r)| (app, r.needs));
        let others: Vec<(Ident, crate::Needs)> = registered
            .into_iter()
            .filter(|(name, _)| !mine.contains(name))
            .collect();
        let mut needs: Vec<(String, crate::Needs)> = apps
            .iter()
            .map(|a| (a.name().to_string(), a.needs()))
            .collect();
        let elsewhere: Vec<(String, crate::Needs)> = others
            .iter()
            .map(|(n, x)| (n.to_string(), x.clone()))
            .collect();
        if mode == Mode::Apply {
            crate::shared_lb::check_needs(&needs, &elsewhere)?;
        }
        needs.extend(elsewhere);
        let keep_env = mode == Mode::Destroy && !others.is_empty();
        let env_needs: Vec<crate::Needs> = needs.into_iter().map(|(_, n)| n).collect();
        let resources = self.collect(
            env,
            apps,
            (with_env && !keep_env).then_some(env_needs.as_slice()),
            mode,
            volume_roles,
        )?;
        let input_digest = crate::saved_plan::input_digest(env, apps, &resources);
        let (exe, preflight) = tokio::join!(
            Executable::plan(&self.clients, &resources, mode),
            crate::preflight::check(&self.clients, env, apps, mode),
        );
        let (exe, preflight) = (exe?, preflight?);
        let mut plan = exe.plan.clone();
        if mode == Mode::Apply {
            for n in env.notes() {
                plan.note(n);
            }
        }
        for n in preflight.plan_notes() {
            plan.note(n);
        }
        if keep_env && with_env {
            let users: Vec<String> = others.iter().map(|(n, _)| n.to_string()).collect();
            plan.note(format!(
                "environment {} is kept (network, cluster, shared load balancers): apps {} deployed into it from elsewhere still use it",
                env.name(),
                users.join(", ")
            ));
        }
        let report_outputs = apps.iter().flat_map(|a| a.output_keys(env)).collect();
        Ok(DeployPlan {
            plan,
            environment: env.name().clone(),
            generation,
            removes_environment: mode == Mode::Destroy && with_env && !keep_env,
            with_env,
            input_digest,
            exe,
            resources,
            mode,
            report_outputs,
            cost: crate::estimate::cost_inputs(env, apps),
            preflight,
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
        let calls = self.recorder.summary_since(self.recorder.mark());
        crate::preflight::refuse(&plan.preflight, calls)?;
        if !plan.has_changes() || self.lock.disabled {
            return self.apply_locked(plan, options).await;
        }
        let mark = self.recorder.mark();
        let lock_failed = |e: Error, calls| ApplyError {
            failed_step: "lock".into(),
            source: e,
            other_failures: Vec::new(),
            finished: Vec::new(),
            not_started: Vec::new(),
            calls,
        };
        // A plan made before another deployer changed the environment is
        // stale: never wait here, fail at once naming the holder.
        let no_wait = crate::lock::LockOptions {
            wait: Duration::ZERO,
            ..self.lock.clone()
        };
        let cancel = options.cancel.child_token();
        let operation = match plan.mode {
            Mode::Apply => "apply",
            Mode::Destroy => "destroy",
        };
        let guard = crate::lock::acquire(
            &self.clients,
            &plan.environment,
            operation,
            &no_wait,
            cancel.clone(),
        )
        .await
        .map_err(|e| lock_failed(e, self.recorder.summary_since(mark)))?;
        if let Err(e) =
            crate::lock::ensure_current(&self.clients, &plan.environment, &plan.generation).await
        {
            if let Err(r) = guard.release().await {
                tracing::warn!(error = %r, "could not release the environment lock; it expires by itself");
            }
            return Err(lock_failed(e, self.recorder.summary_since(mark)));
        }
        let (result, record) = self
            .apply_unrecorded(plan, ApplyOptions { cancel, ..options })
            .await;
        self.finish_locked(guard, result, record).await
    }

    /// Record the new generation of `result`'s apply and release `guard` (the release's
    /// check overlaps the record; the lease goes after it); a lost lease turns a cancelled
    /// apply into [`crate::LockError::Lost`].
    async fn finish_locked(
        &self,
        guard: crate::lock::LockGuard,
        result: Result<ApplyReport, ApplyError>,
        record: Option<NewGeneration>,
    ) -> Result<ApplyReport, ApplyError> {
        let lost = guard.lost_to();
        let env_name = guard.environment().to_string();
        let ((), released) = guard
            .release_after(self.record_generation(record, result.is_ok()))
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the environment lock; it expires by itself");
        }
        match (result, lost) {
            (Err(mut e), Some(by)) => {
                e.source = Error::Failed {
                    resource: ResourceId::new("ssm:lock", env_name.clone()),
                    source: Box::new(crate::lock::LockError::Lost {
                        environment: env_name,
                        by,
                    }),
                };
                Err(e)
            }
            (r, _) => r,
        }
    }

    /// Lock the environment (waiting as the lock options say), plan, apply and
    /// unlock: what a deploy tool's `apply` command does. Planning under the
    /// lock means the plan cannot be made stale by another deployer.
    ///
    /// # Errors
    /// As [`Deployer::lock`], [`Deployer::plan`] and [`Deployer::apply`], as an [`ApplyError`].
    pub async fn deploy(
        &self,
        env: &Environment,
        apps: &[&dyn App],
        options: ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        self.locked_run(env, apps, Mode::Apply, true, options, None)
            .await
    }

    /// Apply a plan saved earlier ([`DeployPlan::to_saved`], maybe in another process) for
    /// the same environment and apps: observe AWS again and apply only when the fresh plan is
    /// exactly the saved one — the same environment, mode, generation ([`crate::lock`]) and
    /// input, the same entries in the same order with the same changes and field diffs.
    /// Takes the environment lock as [`apply_with`](Self::apply_with) does.
    ///
    /// # Errors
    /// [`SavedPlanError::Stale`] (inside [`Error::Failed`], failed step `plan`) naming what
    /// differs — each resource whose change differs (saved vs now), another apply since
    /// (generation X → Y), other input — with no mutating call made; otherwise as
    /// [`plan`](Self::plan) and [`apply`](Self::apply).
    pub async fn apply_saved(
        &self,
        env: &Environment,
        apps: &[&dyn App],
        saved: &SavedPlan,
        options: ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        let mark = self.recorder.mark();
        let (mode, with_env) = saved.mode().parts();
        let fresh = match self.make_plan(env, apps, mode, with_env).await {
            Ok(fresh) => fresh,
            Err(e) => return Err(plan_failed(e, self.recorder.summary_since(mark))),
        };
        if let Err(e) = check_saved(saved, &fresh) {
            return Err(plan_failed(e, self.recorder.summary_since(mark)));
        }
        if fresh.converges_environment() {
            // Two applies under one lock: plan again under it, and check again.
            return self
                .locked_run(env, apps, mode, with_env, options, Some(saved))
                .await;
        }
        self.apply_with(fresh, options).await
    }

    async fn locked_run(
        &self,
        env: &Environment,
        apps: &[&dyn App],
        mode: Mode,
        with_env: bool,
        options: ApplyOptions,
        expect: Option<&SavedPlan>,
    ) -> Result<ApplyReport, ApplyError> {
        let cancel = options.cancel.child_token();
        let operation = match mode {
            Mode::Apply => "apply",
            Mode::Destroy => "destroy",
        };
        let guard = if self.lock.disabled {
            None
        } else {
            Some(
                crate::lock::acquire(
                    &self.clients,
                    env.name(),
                    operation,
                    &self.lock,
                    cancel.clone(),
                )
                .await
                .map_err(|e| plan_failed(e, self.recorder.summary()))?,
            )
        };
        let planned = match self.make_plan(env, apps, mode, with_env).await {
            Ok(plan) => match expect {
                Some(saved) => check_saved(saved, &plan).map(|()| plan),
                None => Ok(plan),
            },
            Err(e) => Err(e),
        };
        let result = match planned {
            Ok(plan) => {
                // Destroying some apps of an environment that others still
                // use: afterwards the shared resources are brought to what
                // the remaining apps need (an NLB port rule of a removed app
                // goes), under the same lock.
                let converge_env = plan.converges_environment();
                let (result, record) = self
                    .apply_unrecorded(
                        plan,
                        ApplyOptions {
                            cancel: cancel.clone(),
                            ..options.clone()
                        },
                    )
                    .await;
                match result {
                    Ok(report) if converge_env => {
                        self.record_generation(record, true).await;
                        match self.make_plan(env, &[], Mode::Apply, true).await {
                            Ok(rest) => {
                                let (result, record) = self
                                    .apply_unrecorded(rest, ApplyOptions { cancel, ..options })
                                    .await;
                                (result.map(|_| report), record)
                            }
                            Err(e) => (Err(plan_failed(e, self.recorder.summary())), None),
                        }
                    }
                    other => (other, record),
                }
            }
            Err(e) => (Err(plan_failed(e, self.recorder.summary())), None),
        };
        let (result, record) = result;
        match guard {
            Some(g) => self.finish_locked(g, result, record).await,
            None => {
                self.record_generation(record, result.is_ok()).await;
                result
            }
        }
    }

    /// Carry out a plan while you hold the environment lock yourself (see
    /// [`Deployer::lock`]); [`Deployer::apply_with`] takes it for you.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub async fn apply_locked(
        &self,
        plan: DeployPlan,
        options: ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        let (result, record) = self.apply_unrecorded(plan, options).await;
        self.record_generation(record, result.is_ok()).await;
        result
    }

    /// Carry out a plan, leaving the record of the environment's new generation (when it
    /// changes anything) to [`record_generation`](Self::record_generation).
    async fn apply_unrecorded(
        &self,
        plan: DeployPlan,
        options: ApplyOptions,
    ) -> (Result<ApplyReport, ApplyError>, Option<NewGeneration>) {
        let record = (plan.has_changes() && !self.lock.disabled).then(|| NewGeneration {
            environment: plan.environment.clone(),
            removes_environment: plan.removes_environment,
            operation: match plan.mode {
                Mode::Apply => "apply",
                Mode::Destroy => "destroy",
            },
        });
        (self.run_plan(plan, options).await, record)
    }

    /// Record a new generation of the environment: plans made before it are stale now. A
    /// successful apply that removed the environment ends its history instead.
    async fn record_generation(&self, record: Option<NewGeneration>, succeeded: bool) {
        let Some(g) = record else {
            return;
        };
        let recorded = if g.removes_environment && succeeded {
            crate::lock::forget(&self.clients, &g.environment).await
        } else {
            let lease = crate::lock::Lease {
                holder: self.lock.holder.clone(),
                token: String::new(),
                operation: g.operation.to_string(),
                acquired: 0,
                ttl_secs: 0,
                renewed: 0,
            };
            crate::lock::bump(&self.clients, &g.environment, &lease).await
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record the environment's new generation");
        }
    }

    async fn run_plan(
        &self,
        plan: DeployPlan,
        options: ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        let mark = self.recorder.mark();
        crate::preflight::refuse(&plan.preflight, self.recorder.summary_since(mark))?;
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
                concurrency: options.concurrency.unwrap_or(usize::MAX),
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
        self.locked_run(
            env,
            apps,
            Mode::Destroy,
            true,
            ApplyOptions::default(),
            None,
        )
        .await
    }

    /// Start `command` (default `/bin/sh`) with ECS Exec in a running task of the app, in
    /// `container` (default: the app's main container, named like the app). Connect a
    /// terminal to the returned session with the AWS Session Manager plugin
    /// ([`crate::exec::ExecSession::plugin_args`]); `fargate exec APP` does.
    ///
    /// The app needs `enable_exec: true`, applied, and tasks started since.
    ///
    /// # Errors
    /// [`Error::NotDeployed`]; [`Error::NotFound`] when the app has no service (a
    /// scheduled job); a [`crate::exec::ExecError`] (inside [`Error::Failed`]) when no task
    /// runs, the task was started without ECS Exec, has no such container or its agent does
    /// not run; AWS errors.
    pub async fn exec(
        &self,
        env: &Environment,
        app: &dyn App,
        container: Option<&str>,
        command: Option<&str>,
    ) -> Result<crate::exec::ExecSession, Error> {
        let spec = service_of(env, app)?;
        crate::exec::start(
            &self.clients,
            env.name().as_str(),
            app.name().as_str(),
            spec.cluster.as_str(),
            spec.name.as_str(),
            container.unwrap_or(app.name().as_str()),
            command.unwrap_or("/bin/sh"),
        )
        .await
    }

    /// A service's state: counts, deployments, task definitions, events and target health.
    ///
    /// # Errors
    /// [`Error::NotDeployed`] when the environment's cluster or the app's service does not
    /// exist (never applied, or destroyed); [`Error::NotFound`] when the app has no service
    /// (a scheduled job); AWS errors.
    pub async fn status(&self, env: &Environment, app: &dyn App) -> Result<ServiceStatus, Error> {
        let c = &self.clients;
        let not_deployed = |missing: ResourceId| Error::NotDeployed {
            environment: env.name().to_string(),
            app: app.name().to_string(),
            missing,
        };
        if let Some((cluster, name)) = app.express_service(env) {
            return crate::express::status(c, &cluster, &name, not_deployed).await;
        }
        let spec = service_of(env, app)?;
        let id = spec.resource_id();
        let s =
            match crate::service::describe_one(c, &id, spec.cluster.as_str(), spec.name.as_str())
                .await?
            {
                crate::service::Lookup::Found(s) => s,
                crate::service::Lookup::NoCluster => {
                    return Err(not_deployed(ResourceId::new(
                        "ecs:cluster",
                        spec.cluster.as_str(),
                    )));
                }
                crate::service::Lookup::NoService => return Err(not_deployed(id)),
            };
        service_status(c, &id, spec.name.as_str(), &s, Some(&spec.family)).await
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
    /// While an ECS service deployment is in flight (`PENDING` or `IN_PROGRESS`, as
    /// [`status`](Self::status) reports it), it is stopped with
    /// `StopServiceDeployment(ROLLBACK)` instead, and ECS moves tasks and traffic back to the
    /// revision that served before; this waits until ECS reports the rollback done.
    ///
    /// # Errors
    /// [`Error::NotDeployed`] when the app is not deployed (see [`status`](Self::status));
    /// [`Error::NotFound`] when there is no earlier revision; a failed rollout.
    pub async fn rollback(&self, env: &Environment, app: &dyn App) -> Result<String, Error> {
        let spec = service_of(env, app)?;
        let id = spec.resource_id();
        let status = self.status(env, app).await?;
        let in_flight = status
            .service_deployment
            .as_ref()
            .filter(|d| d.is_in_flight())
            .cloned();
        if let Some(sd) = in_flight {
            // A deployment in flight: ECS itself moves tasks and traffic back.
            let (watch, ctx) = rollback_watch(&spec, &id, status.previous_task_definition.clone());
            crate::rollout::service_deployment::roll_back_deployment(
                &self.clients,
                &ctx,
                &watch,
                &sd.arn,
            )
            .await?;
            let source = sd.sources.first().map(|r| r.arn.clone());
            let to = status
                .serving
                .iter()
                .find(|r| r.revision.is_some() && r.revision == source)
                .map(|r| r.task_definition.clone())
                .filter(|td| !td.is_empty())
                .or(status.previous_task_definition)
                .or(source)
                .unwrap_or_else(|| "the previous revision".to_string());
            return Ok(to);
        }
        let Some(previous) = status.previous_task_definition else {
            return Err(Error::NotFound {
                resource: id,
                detail: "no earlier task definition revision to roll back to".into(),
            });
        };
        let (watch, ctx) = rollback_watch(&spec, &id, None);
        crate::rollout::watch::rollback_to(&self.clients, &ctx, &watch, &previous).await?;
        Ok(previous)
    }

    /// Continue the app's blue/green, linear or canary service deployment that is paused at
    /// a lifecycle hook (`ContinueServiceDeployment(CONTINUE)` of each hook awaiting an
    /// action): it goes on to its next stage. Returns what was continued; it does not wait
    /// for the deployment (see [`status`](Self::status)).
    ///
    /// ```no_run
    /// # async fn demo(deployer: fargate_deploy::Deployer, env: fargate_deploy::Environment, app: fargate_deploy::ContainerService) -> Result<(), fargate_core::Error> {
    /// let continued = deployer.continue_deployment(&env, &app).await?;
    /// println!("{} {}", continued.action, continued.service_deployment_arn);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotDeployed`] when the app is not deployed; [`Error::NotFound`] when the app
    /// has no service; [`Error::Failed`] with a
    /// [`ContinueError`](crate::rollout::service_deployment::ContinueError) when no service
    /// deployment is in flight or it is not paused at a hook; AWS errors.
    pub async fn continue_deployment(
        &self,
        env: &Environment,
        app: &dyn App,
    ) -> Result<crate::rollout::service_deployment::ContinuedDeployment, Error> {
        self.on_paused(
            env,
            app,
            crate::rollout::service_deployment::HookAction::Continue,
        )
        .await
    }

    /// Reject the app's service deployment that is paused at a lifecycle hook
    /// (`ContinueServiceDeployment(ROLLBACK)` of the first hook awaiting an action): ECS
    /// rolls back to the revision that served before. Returns what was rolled back; it does
    /// not wait for the rollback.
    ///
    /// # Errors
    /// As [`continue_deployment`](Self::continue_deployment).
    pub async fn reject_deployment(
        &self,
        env: &Environment,
        app: &dyn App,
    ) -> Result<crate::rollout::service_deployment::ContinuedDeployment, Error> {
        self.on_paused(
            env,
            app,
            crate::rollout::service_deployment::HookAction::Rollback,
        )
        .await
    }

    async fn on_paused(
        &self,
        env: &Environment,
        app: &dyn App,
        action: crate::rollout::service_deployment::HookAction,
    ) -> Result<crate::rollout::service_deployment::ContinuedDeployment, Error> {
        let spec = service_of(env, app)?;
        crate::rollout::service_deployment::act_on_paused(
            &self.clients,
            &spec,
            env.name().as_str(),
            app.name().as_str(),
            action,
        )
        .await
    }

    /// Follow the app's logs live (all its containers), from `since` on, giving each new
    /// line to `sink` until `cancel` is cancelled: a [`crate::logs::LogTail`] with its
    /// default waits (1 s doubling to 8 s between empty polls).
    ///
    /// ```no_run
    /// # async fn demo(deployer: fargate_deploy::Deployer, env: fargate_deploy::Environment, app: fargate_deploy::ContainerService) -> Result<(), fargate_core::Error> {
    /// let cancel = fargate_core::exec::CancellationToken::new();
    /// let report = deployer
    ///     .tail_logs(&env, &app, std::time::SystemTime::now(), &cancel, |line| {
    ///         println!("{} | {}", line.stream, line.message)
    ///     })
    ///     .await?;
    /// println!("{} lines", report.lines);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotDeployed`] when the app's log group does not exist; [`Error::NotFound`]
    /// when the app has no task; AWS errors.
    pub async fn tail_logs(
        &self,
        env: &Environment,
        app: &dyn App,
        since: std::time::SystemTime,
        cancel: &CancellationToken,
        sink: impl FnMut(crate::logs::LogLine),
    ) -> Result<crate::logs::TailReport, Error> {
        crate::logs::LogTail::for_app(env, app, since)?
            .run(&self.clients, cancel, sink)
            .await
    }
}

/// The watch of a rollback of `spec`'s service (which never rolls back itself), and a step
/// context of its own.
fn rollback_watch(
    spec: &ServiceSpec,
    id: &ResourceId,
    previous_task_definition: Option<String>,
) -> (RolloutWatch, StepContext) {
    let watch = RolloutWatch {
        resource: id.clone(),
        cluster: spec.cluster.to_string(),
        service: spec.name.to_string(),
        deployment_id: String::new(),
        previous_task_definition,
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
    (watch, ctx)
}

/// What an apply that changed the environment leaves to record (see
/// [`Deployer::record_generation`]).
struct NewGeneration {
    environment: Ident,
    removes_environment: bool,
    operation: &'static str,
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

/// Refuse a fresh plan that is not exactly `saved`.
fn check_saved(saved: &SavedPlan, fresh: &DeployPlan) -> Result<(), Error> {
    let mut differences = saved.differences(&fresh.to_saved(), &fresh.generation.last);
    if saved.input_digest() == fresh.input_digest {
        // The saved entries must be exactly what the saved observations give.
        let follows = fresh
            .plan_from(saved.observations())
            .is_ok_and(|p| p.changes == saved.plan().changes);
        if !follows {
            differences.push(crate::saved_plan::Difference::Recorded);
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(Error::Failed {
        resource: ResourceId::new("fargate:saved-plan", fresh.environment.as_str()),
        source: Box::new(SavedPlanError::Stale {
            environment: fresh.environment.to_string(),
            differences,
        }),
    })
}

/// The status of ECS service `s` (named `name`): counts, deployments, task definitions (the
/// one before the current one when `family` is ours), events, target health, the current
/// service deployment and which revisions serve.
pub(crate) async fn service_status(
    c: &Clients,
    id: &ResourceId,
    name: &str,
    s: &aws_sdk_ecs::types::Service,
    family: Option<&str>,
) -> Result<ServiceStatus, Error> {
    let view = crate::rollout::watch::view_of(s);
    let current = s.task_definition().map(str::to_string);
    let previous = match (&current, family) {
        (Some(td), Some(family)) => previous_revision(c, id, family, td).await?,
        _ => None,
    };
    let tgs: Vec<String> = s
        .load_balancers()
        .iter()
        .filter_map(|l| l.target_group_arn().map(str::to_string))
        .collect();
    let targets = crate::rollout::diagnose::target_health(c, &tgs).await?;
    let service_deployment = match s.current_service_deployment() {
        Some(arn) => crate::rollout::service_deployment::describe_deployment(c, id, arn).await?,
        None => None,
    };
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    let revisions: Vec<crate::rollout::RevisionView> = s
        .current_service_revisions()
        .iter()
        .map(|r| crate::rollout::RevisionView {
            arn: r.arn().unwrap_or_default().to_string(),
            requested: count(r.requested_task_count()),
            running: count(r.running_task_count()),
            pending: count(r.pending_task_count()),
            production_traffic_percent: None,
            test_traffic_percent: None,
        })
        .collect();
    let task_definitions = crate::rollout::service_deployment::revision_task_definitions(
        c,
        id,
        revisions.iter().map(|r| r.arn.clone()).collect(),
    )
    .await?;
    let serving = crate::rollout::service_deployment::serving_revisions(
        &revisions,
        &task_definitions,
        service_deployment.as_ref(),
        &view,
        !tgs.is_empty(),
    );
    Ok(ServiceStatus {
        service: name.to_string(),
        status: view.status.clone(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        task_definition: current,
        previous_task_definition: previous,
        deployments: view.deployments,
        events: view.events.into_iter().take(5).map(|(_, m)| m).collect(),
        targets,
        service_deployment,
        serving,
        express: None,
    })
}

fn service_of(env: &Environment, app: &dyn App) -> Result<ServiceSpec, Error> {
    app.service(env).ok_or_else(|| Error::NotFound {
        resource: ResourceId::new("ecs:service", format!("{}/{}", env.name(), app.name())),
        detail: if app.express_service(env).is_some() {
            "an Express Mode app: its service is managed by ECS Express (status works; rollback, continue and exec are ECS service operations it does not take)".into()
        } else {
            "this app has no ECS service (a scheduled job?)".into()
        },
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
