//! Following an ECS *service deployment* (`DescribeServiceDeployments`): its status,
//! lifecycle stage, traffic shift and bake, reported as progress events; stopping it with
//! `StopServiceDeployment(ROLLBACK)` when it fails or hangs; continuing (or rejecting) one
//! paused at a lifecycle hook ([`act_on_paused`], `ContinueServiceDeployment`).
//!
//! Blue/green, linear and canary deployments are only truthfully visible this way (the
//! service's `deployments` do not show stages or traffic). Endpoints that do not know these
//! APIs (the moto emulator answers `UnknownOperation`/404/501) get today's
//! `DescribeServices`-based watch ([`super::await_rollout`]) instead, without failing.

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookDetail, ServiceDeployment,
    ServiceDeploymentStatus, StopServiceDeploymentStopType,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use fargate_core::exec::StepContext;
use fargate_core::{Error, ResourceId};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::watch::{await_rollout, describe_view, gather, unrecoverable_reason};
use super::{FailureReason, RollbackOutcome, RolloutError, RolloutWatch, diagnose};
use crate::Clients;

/// One service revision of a service deployment: its tasks and its share of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionView {
    /// The service revision ARN.
    pub arn: String,
    /// Tasks ECS wants of it.
    pub requested: u32,
    /// Its running tasks.
    pub running: u32,
    /// Its pending tasks.
    pub pending: u32,
    /// Its share of production traffic (0 to 100), when ECS says.
    pub production_traffic_percent: Option<f64>,
    /// Its share of test traffic (0 to 100), when ECS says.
    pub test_traffic_percent: Option<f64>,
}

/// A service deployment as the watcher and `status` see it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceDeploymentView {
    /// The service deployment ARN.
    pub arn: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `STOP_REQUESTED`,
    /// `ROLLBACK_REQUESTED`, `ROLLBACK_IN_PROGRESS`, `ROLLBACK_SUCCESSFUL` or `ROLLBACK_FAILED`.
    pub status: String,
    /// ECS's reason for the status.
    pub status_reason: Option<String>,
    /// The lifecycle stage (`SCALE_UP`, `TEST_TRAFFIC_SHIFT`, `PRODUCTION_TRAFFIC_SHIFT`,
    /// `BAKE_TIME`, `CLEAN_UP`, …).
    pub lifecycle_stage: Option<String>,
    /// The revision being deployed.
    pub target: Option<RevisionView>,
    /// The revisions that served before.
    pub sources: Vec<RevisionView>,
    /// Why ECS rolled back, when it did.
    pub rollback_reason: Option<String>,
    /// The revision ECS rolled back to.
    pub rollback_revision: Option<String>,
    /// CloudWatch alarms that fired during the deployment.
    pub triggered_alarms: Vec<String>,
    /// The lifecycle hooks active in the current stage (a hook `AWAITING_ACTION` pauses the
    /// deployment until it is continued or rolled back, see [`act_on_paused`]).
    #[serde(default)]
    pub lifecycle_hooks: Vec<LifecycleHookView>,
}

/// A lifecycle hook active during a service deployment, as `DescribeServiceDeployments`
/// reports it (`lifecycleHookDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleHookView {
    /// The hook id, what `ContinueServiceDeployment` takes.
    pub hook_id: String,
    /// `PAUSE` or `AWS_LAMBDA`, when ECS says.
    pub target_type: Option<String>,
    /// The Lambda function of an `AWS_LAMBDA` hook.
    pub target_arn: Option<String>,
    /// `AWAITING_ACTION`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED` or `TIMED_OUT`.
    pub status: String,
    /// When the hook times out, in seconds since the Unix epoch.
    pub expires_at_epoch: Option<i64>,
    /// What ECS does at the timeout: `CONTINUE` or `ROLLBACK`.
    pub timeout_action: Option<String>,
}

impl LifecycleHookView {
    /// Convert the SDK's hook detail; `None` without a hook id (nothing could act on it).
    pub fn from_sdk(h: &DeploymentLifecycleHookDetail) -> Option<Self> {
        Some(Self {
            hook_id: h.hook_id().filter(|id| !id.is_empty())?.to_string(),
            target_type: h.target_type().map(|t| t.as_str().to_string()),
            target_arn: h.target_arn().map(str::to_string),
            status: h
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            expires_at_epoch: h.expires_at().map(aws_smithy_types::DateTime::secs),
            timeout_action: h.timeout_action().map(|a| a.as_str().to_string()),
        })
    }

    /// Whether the deployment waits for this hook to be continued or rolled back
    /// (`AWAITING_ACTION`).
    pub fn is_awaiting_action(&self) -> bool {
        self.status == "AWAITING_ACTION"
    }
}

fn revision(r: &aws_sdk_ecs::types::ServiceRevisionSummary) -> RevisionView {
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    RevisionView {
        arn: r.arn().unwrap_or_default().to_string(),
        requested: count(r.requested_task_count()),
        running: count(r.running_task_count()),
        pending: count(r.pending_task_count()),
        production_traffic_percent: r.requested_production_traffic_weight(),
        test_traffic_percent: r.requested_test_traffic_weight(),
    }
}

impl ServiceDeploymentView {
    /// Convert the SDK's service deployment.
    pub fn from_sdk(d: &ServiceDeployment) -> Self {
        Self {
            arn: d.service_deployment_arn().unwrap_or_default().to_string(),
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: d.status_reason().map(str::to_string),
            lifecycle_stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
            target: d.target_service_revision().map(revision),
            sources: d.source_service_revisions().iter().map(revision).collect(),
            rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_string),
            rollback_revision: d
                .rollback()
                .and_then(|r| r.service_revision_arn())
                .map(str::to_string),
            triggered_alarms: d
                .alarms()
                .map(|a| a.triggered_alarm_names().to_vec())
                .unwrap_or_default(),
            lifecycle_hooks: d
                .lifecycle_hook_details()
                .iter()
                .filter_map(LifecycleHookView::from_sdk)
                .collect(),
        }
    }

    /// The hooks the deployment is paused at (`AWAITING_ACTION`), in ECS's order.
    pub fn awaiting_hooks(&self) -> impl Iterator<Item = &LifecycleHookView> {
        self.lifecycle_hooks
            .iter()
            .filter(|h| h.is_awaiting_action())
    }

    /// Whether it can still be stopped with a rollback (`PENDING` or `IN_PROGRESS`).
    pub fn is_in_flight(&self) -> bool {
        matches!(self.status.as_str(), "PENDING" | "IN_PROGRESS")
    }

    /// One line for progress events: status, stage, the new revision's tasks and traffic.
    pub fn summary(&self) -> String {
        let mut line = format!("service deployment {}", self.status);
        if let Some(stage) = &self.lifecycle_stage {
            line.push_str(&format!(", stage {stage}"));
        }
        if let Some(t) = &self.target {
            line.push_str(&format!(
                ": new revision {}/{} running, {} pending",
                t.running, t.requested, t.pending
            ));
            if let Some(w) = t.production_traffic_percent {
                line.push_str(&format!(", {w:.1}% of production traffic"));
            }
            if let Some(w) = t.test_traffic_percent.filter(|w| *w > 0.0) {
                line.push_str(&format!(", {w:.1}% of test traffic"));
            }
        }
        let paused: Vec<&str> = self.awaiting_hooks().map(|h| h.hook_id.as_str()).collect();
        if self.is_in_flight() && !paused.is_empty() {
            line.push_str(&format!(
                ", paused at lifecycle hook {} (awaiting continue or rollback)",
                paused.join(", ")
            ));
        }
        let reason = self
            .rollback_reason
            .as_ref()
            .or(self.status_reason.as_ref());
        if let (true, Some(r)) = (self.status.starts_with("ROLLBACK"), reason) {
            line.push_str(&format!(" ({r})"));
        }
        line
    }

    fn reason(&self) -> String {
        self.status_reason
            .clone()
            .or_else(|| self.rollback_reason.clone())
            .map(|r| {
                if self.triggered_alarms.is_empty() {
                    r
                } else {
                    format!("{r} (alarms: {})", self.triggered_alarms.join(", "))
                }
            })
            .unwrap_or_else(|| "ECS gave no reason".to_string())
    }
}

/// A revision of a service that runs tasks, and its share of traffic: what `status` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingRevision {
    /// The service revision ARN (None where the endpoint has no service revisions; the row
    /// is then one of the service's deployments).
    pub revision: Option<String>,
    /// The task definition it runs.
    pub task_definition: String,
    /// Tasks ECS wants of it.
    pub requested: u32,
    /// Its running tasks.
    pub running: u32,
    /// Its pending tasks.
    pub pending: u32,
    /// Its share of production traffic in percent: as ECS's service deployment says, or, for
    /// deployments behind one target group, its share of the running tasks; None without a
    /// load balancer.
    pub production_traffic_percent: Option<f64>,
}

/// The revisions that serve (pure): ECS's current service revisions (`revisions`, with the
/// task definitions of `task_definitions`) and their traffic from the service deployment;
/// without service revisions, the service's deployments that have tasks, sharing traffic
/// by running tasks when `load_balanced`.
pub fn serving_revisions(
    revisions: &[RevisionView],
    task_definitions: &[(String, String)],
    deployment: Option<&ServiceDeploymentView>,
    view: &super::ServiceView,
    load_balanced: bool,
) -> Vec<ServingRevision> {
    if !revisions.is_empty() {
        let weight_of = |arn: &str| {
            deployment.and_then(|d| {
                d.target
                    .iter()
                    .chain(&d.sources)
                    .find(|r| r.arn == arn)
                    .and_then(|r| r.production_traffic_percent)
            })
        };
        return revisions
            .iter()
            .map(|r| ServingRevision {
                revision: Some(r.arn.clone()),
                task_definition: task_definitions
                    .iter()
                    .find(|(a, _)| *a == r.arn)
                    .map(|(_, td)| td.clone())
                    .unwrap_or_default(),
                requested: r.requested,
                running: r.running,
                pending: r.pending,
                production_traffic_percent: weight_of(&r.arn),
            })
            .collect();
    }
    let live: Vec<&super::DeploymentView> = view
        .deployments
        .iter()
        .filter(|d| d.status == "PRIMARY" || d.running + d.pending > 0)
        .collect();
    let total: u32 = live.iter().map(|d| d.running).sum();
    live.into_iter()
        .map(|d| ServingRevision {
            revision: None,
            task_definition: d.task_definition.clone(),
            requested: d.desired,
            running: d.running,
            pending: d.pending,
            production_traffic_percent: (load_balanced && total > 0)
                .then(|| f64::from(d.running) * 100.0 / f64::from(total)),
        })
        .collect()
}

/// Where a service deployment stands.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentProgress {
    /// Not finished (including ECS rolling back by itself).
    InFlight,
    /// `SUCCESSFUL`.
    Succeeded,
    /// Ended without success: why, and what ECS did about it.
    Failed(FailureReason, RollbackOutcome),
}

/// Assess a service deployment (pure): success only at `SUCCESSFUL`; `ROLLBACK_SUCCESSFUL`,
/// `ROLLBACK_FAILED` and `STOPPED` are failures carrying ECS's reason. `previous` names the
/// task definition ECS went back to when the deployment does not say.
pub fn assess_deployment(
    view: &ServiceDeploymentView,
    previous: Option<&str>,
) -> DeploymentProgress {
    let failed = |rollback| {
        DeploymentProgress::Failed(
            FailureReason::ServiceDeployment {
                status: view.status.clone(),
                reason: view.reason(),
            },
            rollback,
        )
    };
    match view.status.as_str() {
        "SUCCESSFUL" => DeploymentProgress::Succeeded,
        "ROLLBACK_SUCCESSFUL" => failed(RollbackOutcome::EcsRolledBack(
            view.rollback_revision
                .clone()
                .or_else(|| previous.map(str::to_string))
                .unwrap_or_else(|| "the previous revision".to_string()),
        )),
        "ROLLBACK_FAILED" => failed(RollbackOutcome::RollbackFailed(view.reason())),
        "STOPPED" => failed(RollbackOutcome::StoppedWithoutRollback),
        _ => DeploymentProgress::InFlight,
    }
}

/// Whether an error means the endpoint does not know the operation (an emulator without
/// the service deployment APIs): `UnknownOperationException`, `InvalidAction`, HTTP 404 or
/// 501.
fn is_unsupported<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    let code = match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    };
    if matches!(
        code,
        Some("UnknownOperationException" | "UnknownOperation" | "InvalidAction" | "NotImplemented")
    ) {
        return true;
    }
    let status = match e {
        SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
        SdkError::ResponseError(r) => Some(r.raw().status().as_u16()),
        _ => None,
    };
    matches!(status, Some(404 | 501)) && code.is_none_or(|c| !c.ends_with("NotFoundException"))
}

/// The service deployment in flight for the watched service (`ListServiceDeployments`,
/// `PENDING` or `IN_PROGRESS`); `None` when there is none or it cannot be listed.
///
/// This only chooses how to watch a deployment ECS already accepted, so any failure falls
/// back to the `DescribeServices` watch (logged): an endpoint without the API (moto answers
/// HTTP 500 for operations it does not know), or an error of the one attempt it gets (no
/// retries: an emulator's 500 would otherwise be retried with backoff on every deploy).
#[tracing::instrument(skip_all, fields(service = %watch.service))]
pub async fn find_in_flight(clients: &Clients, watch: &RolloutWatch) -> Option<String> {
    list_in_flight(clients, &watch.resource, &watch.cluster, &watch.service).await
}

/// `ListServiceDeployments` of `service` in `cluster`, `PENDING` or `IN_PROGRESS`: the
/// newest one's ARN; `None` when there is none or it cannot be listed (one attempt, the
/// failure logged; see [`find_in_flight`]).
#[tracing::instrument(skip_all, fields(resource = %resource))]
async fn list_in_flight(
    clients: &Clients,
    resource: &ResourceId,
    cluster: &str,
    service: &str,
) -> Option<String> {
    let out = clients
        .ecs
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .status(ServiceDeploymentStatus::InProgress)
        .status(ServiceDeploymentStatus::Pending)
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .send()
        .await;
    match out {
        Ok(o) => o
            .service_deployments()
            .iter()
            .max_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())))
            .and_then(|d| d.service_deployment_arn())
            .map(str::to_string),
        Err(e) => {
            let unsupported = is_unsupported(&e);
            let e = Error::from_sdk(resource, "ListServiceDeployments", e);
            if unsupported {
                tracing::info!(
                    "ListServiceDeployments is not supported here: watching DescribeServices"
                );
            } else {
                tracing::warn!(error = %e, "cannot list service deployments: watching DescribeServices");
            }
            None
        }
    }
}

/// One service deployment (`DescribeServiceDeployments`); `None` when ECS does not find it
/// or the endpoint does not know the API.
///
/// # Errors
/// Other AWS errors.
#[tracing::instrument(skip_all, fields(resource = %resource, arn = %arn))]
pub async fn describe_deployment(
    clients: &Clients,
    resource: &ResourceId,
    arn: &str,
) -> Result<Option<ServiceDeploymentView>, Error> {
    let out = clients
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await;
    match out {
        Ok(o) => Ok(o
            .service_deployments()
            .iter()
            .find(|d| d.service_deployment_arn() == Some(arn))
            .map(ServiceDeploymentView::from_sdk)),
        Err(e) if is_unsupported(&e) => Ok(None),
        Err(e) => Err(Error::from_sdk(resource, "DescribeServiceDeployments", e)),
    }
}

/// The task definition of each service revision (`DescribeServiceRevisions`), by ARN;
/// empty when the endpoint does not know the API.
///
/// # Errors
/// Other AWS errors.
#[tracing::instrument(skip_all, fields(resource = %resource))]
pub async fn revision_task_definitions(
    clients: &Clients,
    resource: &ResourceId,
    arns: Vec<String>,
) -> Result<Vec<(String, String)>, Error> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let out = clients
        .ecs
        .describe_service_revisions()
        .set_service_revision_arns(Some(arns))
        .send()
        .await;
    match out {
        Ok(o) => Ok(o
            .service_revisions()
            .iter()
            .filter_map(|r| {
                Some((
                    r.service_revision_arn()?.to_string(),
                    r.task_definition().unwrap_or_default().to_string(),
                ))
            })
            .collect()),
        Err(e) if is_unsupported(&e) => Ok(Vec::new()),
        Err(e) => Err(Error::from_sdk(resource, "DescribeServiceRevisions", e)),
    }
}

/// Stop the service deployment `arn` and roll back (`StopServiceDeployment(ROLLBACK)`).
///
/// # Errors
/// AWS errors.
#[tracing::instrument(skip_all, fields(resource = %resource, arn = %arn))]
pub async fn stop_with_rollback(
    clients: &Clients,
    resource: &ResourceId,
    arn: &str,
) -> Result<(), Error> {
    clients
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map_err(|e| Error::from_sdk(resource, "StopServiceDeployment", e))?;
    Ok(())
}

/// Wait for the watched deployment, following its service deployment when there is one.
///
/// `service_deployment` is the ARN CreateService/UpdateService returned
/// (`currentServiceDeployment`); without one, a strategy that `shifts_traffic` looks the
/// deployment in flight up (`ListServiceDeployments`). When neither finds one (or the
/// endpoint does not know these APIs), this is [`await_rollout`]: DescribeServices polls.
///
/// Following a service deployment: polls `DescribeServiceDeployments` (and
/// `DescribeServices`, for failed tasks) on the schedule of
/// [`super::RolloutOptions::poll`], reports each new status, stage and traffic share as a
/// progress event, and returns at the first terminal state. `SUCCESSFUL` is success;
/// `ROLLBACK_SUCCESSFUL`, `ROLLBACK_FAILED` and `STOPPED` are a [`RolloutError`] with ECS's
/// reason and the diagnosis. When tasks keep failing, cannot start, or the timeout passes
/// while the deployment is in flight, it is stopped with `StopServiceDeployment(ROLLBACK)`
/// (unless rollback is disabled).
///
/// # Errors
/// [`Error::Failed`] with a [`RolloutError`] when the rollout failed; AWS errors of the polls.
#[tracing::instrument(skip_all, fields(service = %watch.service, deployment = %watch.deployment_id))]
pub async fn await_deployment(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    service_deployment: Option<String>,
    shifts_traffic: bool,
) -> Result<(), Error> {
    let arn = match service_deployment {
        Some(arn) => Some(arn),
        None if shifts_traffic => find_in_flight(clients, watch).await,
        None => None,
    };
    match arn {
        Some(arn) => follow(clients, ctx, watch, &arn).await,
        None => await_rollout(clients, ctx, watch).await,
    }
}

async fn follow(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    arn: &str,
) -> Result<(), Error> {
    let start = Instant::now();
    let opts = &watch.options;
    let poll = opts.poll();
    let mut interval = poll.interval;
    let mut last: Option<String> = None;
    let mut failed_seen = 0;
    loop {
        let Some(sd) = describe_deployment(clients, &watch.resource, arn).await? else {
            ctx.progress("the service deployment cannot be read: watching the service instead");
            return await_rollout(clients, ctx, watch).await;
        };
        let view = describe_view(clients, &watch.resource, &watch.cluster, &watch.service).await?;
        match assess_deployment(&sd, watch.previous_task_definition.as_deref()) {
            DeploymentProgress::Succeeded => {
                ctx.progress(sd.summary());
                ctx.progress("rollout completed");
                return Ok(());
            }
            DeploymentProgress::Failed(reason, rollback) => {
                ctx.progress(sd.summary());
                return Err(failed(clients, ctx, watch, reason, rollback, &view).await);
            }
            DeploymentProgress::InFlight => {}
        }
        let line = sd.summary();
        if last.as_ref() != Some(&line) {
            ctx.progress(line.clone());
            interval = poll.interval;
        } else {
            interval = poll.next_interval(interval);
        }
        last = Some(line);
        if sd.is_in_flight() {
            // Our own fail-fast, on the tasks of our deployment.
            let mut reason = None;
            if let Some(ours) = view.deployment(&watch.deployment_id) {
                let threshold = opts.threshold(ours.desired);
                if ours.failed_tasks >= threshold {
                    reason = Some(FailureReason::TasksKeptFailing {
                        failed: ours.failed_tasks,
                        threshold,
                    });
                } else if ours.failed_tasks > failed_seen {
                    failed_seen = ours.failed_tasks;
                    let stopped =
                        diagnose::stopped_tasks(clients, &watch.cluster, &watch.deployment_id, 5)
                            .await?;
                    reason = unrecoverable_reason(&stopped)
                        .map(|reason| FailureReason::Unrecoverable { reason });
                }
            }
            if reason.is_none() && start.elapsed() >= opts.timeout {
                reason = Some(FailureReason::TimedOut {
                    after: start.elapsed(),
                });
            }
            if let Some(reason) = reason {
                let rollback = stop(clients, ctx, watch, arn).await;
                return Err(failed(clients, ctx, watch, reason, rollback, &view).await);
            }
        } else if start.elapsed() >= opts.timeout {
            // Stopping or rolling back already: nothing more to do than say so.
            let reason = FailureReason::TimedOut {
                after: start.elapsed(),
            };
            let rollback = RollbackOutcome::RollbackFailed(format!(
                "the service deployment was still {} when the watch gave up",
                sd.status
            ));
            return Err(failed(clients, ctx, watch, reason, rollback, &view).await);
        }
        ctx.sleep(interval).await?;
    }
}

async fn stop(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    arn: &str,
) -> RollbackOutcome {
    if !watch.options.rollback {
        return RollbackOutcome::Disabled;
    }
    ctx.progress(format!("stopping service deployment {arn} with rollback"));
    match stop_with_rollback(clients, &watch.resource, arn).await {
        Ok(()) => RollbackOutcome::ServiceDeploymentRolledBack(arn.to_string()),
        Err(e) => RollbackOutcome::RollbackFailed(e.to_string()),
    }
}

async fn failed(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    reason: FailureReason,
    rollback: RollbackOutcome,
    view: &super::ServiceView,
) -> Error {
    ctx.progress(format!("rollout failed: {reason}; gathering diagnosis"));
    let diagnosis = gather(clients, watch, view).await;
    let err = RolloutError {
        service: watch.service.clone(),
        reason,
        diagnosis,
        rollback,
    };
    tracing::error!(error = %err, "rollout failed");
    Error::Failed {
        resource: watch.resource.clone(),
        source: Box::new(err),
    }
}

/// Stop the in-flight service deployment `arn` with a rollback and wait until ECS finished
/// rolling back (`ROLLBACK_SUCCESSFUL`, or `STOPPED`), within the watch's timeout.
///
/// # Errors
/// AWS errors; [`Error::Failed`] with a [`RolloutError`] when the rollback fails or does not
/// finish in time.
pub async fn roll_back_deployment(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    arn: &str,
) -> Result<(), Error> {
    stop_with_rollback(clients, &watch.resource, arn).await?;
    let start = Instant::now();
    let poll = watch.options.poll();
    let mut interval = poll.interval;
    let mut last = None;
    loop {
        let sd = describe_deployment(clients, &watch.resource, arn).await?;
        let Some(sd) = sd else { return Ok(()) };
        let line = sd.summary();
        if last.as_ref() != Some(&line) {
            ctx.progress(line.clone());
            interval = poll.interval;
        } else {
            interval = poll.next_interval(interval);
        }
        last = Some(line);
        match sd.status.as_str() {
            "ROLLBACK_SUCCESSFUL" | "STOPPED" => return Ok(()),
            "ROLLBACK_FAILED" => {
                let view =
                    describe_view(clients, &watch.resource, &watch.cluster, &watch.service).await?;
                let reason = FailureReason::ServiceDeployment {
                    status: sd.status.clone(),
                    reason: sd.reason(),
                };
                let rollback = RollbackOutcome::RollbackFailed(sd.reason());
                return Err(failed(clients, ctx, watch, reason, rollback, &view).await);
            }
            _ => {}
        }
        if start.elapsed() >= watch.options.timeout {
            let view =
                describe_view(clients, &watch.resource, &watch.cluster, &watch.service).await?;
            let reason = FailureReason::TimedOut {
                after: start.elapsed(),
            };
            let rollback = RollbackOutcome::RollbackFailed(format!(
                "the service deployment was still {} when the watch gave up",
                sd.status
            ));
            return Err(failed(clients, ctx, watch, reason, rollback, &view).await);
        }
        ctx.sleep(interval).await?;
    }
}

/// What to do with a service deployment paused at a lifecycle hook.
///
/// ```
/// use fargate_deploy::rollout::service_deployment::HookAction;
/// assert_eq!(HookAction::Continue.as_str(), "CONTINUE");
/// assert_eq!(HookAction::Rollback.as_str(), "ROLLBACK");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookAction {
    /// Go on to the next lifecycle stage (`CONTINUE`).
    Continue,
    /// Roll back to the revision that served before (`ROLLBACK`).
    Rollback,
}

impl HookAction {
    /// The action as `ContinueServiceDeployment` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookAction::Continue => "CONTINUE",
            HookAction::Rollback => "ROLLBACK",
        }
    }

    fn sdk(self) -> DeploymentLifecycleHookAction {
        match self {
            HookAction::Continue => DeploymentLifecycleHookAction::Continue,
            HookAction::Rollback => DeploymentLifecycleHookAction::Rollback,
        }
    }
}

impl std::fmt::Display for HookAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`act_on_paused`] did: the service deployment, and the hooks it continued or
/// rolled back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuedDeployment {
    /// The service name.
    pub service: String,
    /// The service deployment ARN.
    pub service_deployment_arn: String,
    /// What was asked of ECS.
    pub action: HookAction,
    /// The lifecycle stage it was paused at, when ECS says.
    pub lifecycle_stage: Option<String>,
    /// The hooks acted on (as they were before: `AWAITING_ACTION`).
    pub hooks: Vec<LifecycleHookView>,
    /// The service revision being deployed, when ECS says.
    pub target_revision: Option<String>,
}

/// Why there was nothing to continue: the typed source of the [`Error::Failed`] that
/// [`act_on_paused`] returns (an app that is not deployed is [`Error::NotDeployed`]).
#[derive(Debug, thiserror::Error)]
pub enum ContinueError {
    /// No service deployment is `PENDING` or `IN_PROGRESS`.
    #[error("service {service} has no service deployment in flight{}", last_of(.last.as_deref()))]
    NothingInFlight {
        /// The service name.
        service: String,
        /// The service's current service deployment, finished, when ECS reports one.
        last: Option<Box<ServiceDeploymentView>>,
    },
    /// A service deployment is in flight but no lifecycle hook awaits an action.
    #[error(
        "service deployment {} of service {service} is {}{} and not paused at a lifecycle hook{}",
        .deployment.arn,
        .deployment.status,
        .deployment.lifecycle_stage.as_deref().map(|s| format!(" (stage {s})")).unwrap_or_default(),
        hooks_of(&.deployment.lifecycle_hooks)
    )]
    NotPaused {
        /// The service name.
        service: String,
        /// The service deployment in flight.
        deployment: Box<ServiceDeploymentView>,
    },
}

fn last_of(last: Option<&ServiceDeploymentView>) -> String {
    match last {
        Some(d) => format!(" (the last one, {}, is {})", d.arn, d.status),
        None => " (ECS reports none)".to_string(),
    }
}

fn hooks_of(hooks: &[LifecycleHookView]) -> String {
    if hooks.is_empty() {
        return " (no lifecycle hook is active)".to_string();
    }
    let hooks: Vec<String> = hooks
        .iter()
        .map(|h| format!("{} {}", h.hook_id, h.status))
        .collect();
    format!(" (hooks: {})", hooks.join(", "))
}

/// Continue (or roll back) the service deployment of `spec`'s service that is paused at a
/// lifecycle hook: `DescribeServices` (its `currentServiceDeployment`; without one,
/// `ListServiceDeployments` of the deployments in flight), `DescribeServiceDeployments` (its
/// `lifecycleHookDetails`), then one `ContinueServiceDeployment` per hook `AWAITING_ACTION`
/// with [`HookAction::Continue`], or one for the first such hook with
/// [`HookAction::Rollback`] (a rollback ends the deployment). `environment` and `app` name
/// the app in errors.
///
/// # Errors
/// [`Error::NotDeployed`] when the cluster or the service does not exist; [`Error::Failed`]
/// with a [`ContinueError`] when no service deployment is in flight
/// ([`ContinueError::NothingInFlight`]) or none of its hooks awaits an action
/// ([`ContinueError::NotPaused`]); AWS errors.
#[tracing::instrument(skip_all, fields(resource = %spec.resource_id(), action = action.as_str()))]
pub async fn act_on_paused(
    clients: &Clients,
    spec: &crate::service::ServiceSpec,
    environment: &str,
    app: &str,
    action: HookAction,
) -> Result<ContinuedDeployment, Error> {
    use crate::service::{Lookup, describe_one};
    let id = spec.resource_id();
    let (cluster, service) = (spec.cluster.as_str(), spec.name.as_str());
    let not_deployed = |missing: ResourceId| Error::NotDeployed {
        environment: environment.to_string(),
        app: app.to_string(),
        missing,
    };
    let fail = |e: ContinueError| Error::Failed {
        resource: id.clone(),
        source: Box::new(e),
    };
    let found = match describe_one(clients, &id, cluster, service).await? {
        Lookup::Found(s) => s,
        Lookup::NoCluster => {
            return Err(not_deployed(ResourceId::new("ecs:cluster", cluster)));
        }
        Lookup::NoService => return Err(not_deployed(id.clone())),
    };
    let arn = match found.current_service_deployment() {
        Some(arn) => Some(arn.to_string()),
        None => list_in_flight(clients, &id, cluster, service).await,
    };
    let nothing = |last: Option<ServiceDeploymentView>| {
        fail(ContinueError::NothingInFlight {
            service: service.to_string(),
            last: last.map(Box::new),
        })
    };
    let Some(arn) = arn else {
        return Err(nothing(None));
    };
    let Some(deployment) = describe_deployment(clients, &id, &arn).await? else {
        return Err(nothing(None));
    };
    if !deployment.is_in_flight() {
        return Err(nothing(Some(deployment)));
    }
    let mut hooks: Vec<LifecycleHookView> = deployment.awaiting_hooks().cloned().collect();
    if hooks.is_empty() {
        return Err(fail(ContinueError::NotPaused {
            service: service.to_string(),
            deployment: Box::new(deployment),
        }));
    }
    if action == HookAction::Rollback {
        hooks.truncate(1);
    }
    for hook in &hooks {
        continue_hook(clients, &id, &arn, &hook.hook_id, action).await?;
    }
    Ok(ContinuedDeployment {
        service: service.to_string(),
        service_deployment_arn: arn,
        action,
        lifecycle_stage: deployment.lifecycle_stage.clone(),
        hooks,
        target_revision: deployment.target.as_ref().map(|t| t.arn.clone()),
    })
}

/// `ContinueServiceDeployment` of the hook `hook_id` of the service deployment `arn`.
///
/// # Errors
/// AWS errors (a hook that no longer awaits an action is ECS's `InvalidParameterException`).
#[tracing::instrument(skip_all, fields(resource = %resource, arn = %arn, hook = %hook_id, action = action.as_str()))]
pub async fn continue_hook(
    clients: &Clients,
    resource: &ResourceId,
    arn: &str,
    hook_id: &str,
    action: HookAction,
) -> Result<(), Error> {
    clients
        .ecs
        .continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(hook_id)
        .action(action.sdk())
        .send()
        .await
        .map_err(|e| Error::from_sdk(resource, "ContinueServiceDeployment", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: &str) -> ServiceDeploymentView {
        ServiceDeploymentView {
            arn: "arn:sd".into(),
            status: status.into(),
            ..ServiceDeploymentView::default()
        }
    }

    #[test]
    fn only_successful_is_success() {
        assert_eq!(
            assess_deployment(&view("SUCCESSFUL"), None),
            DeploymentProgress::Succeeded
        );
        for s in [
            "PENDING",
            "IN_PROGRESS",
            "STOP_REQUESTED",
            "ROLLBACK_REQUESTED",
            "ROLLBACK_IN_PROGRESS",
        ] {
            assert_eq!(
                assess_deployment(&view(s), None),
                DeploymentProgress::InFlight
            );
        }
    }

    #[test]
    fn ecs_rollback_is_a_failure_with_its_reason() {
        let mut v = view("ROLLBACK_SUCCESSFUL");
        v.rollback_reason = Some("alarm web-5xx in ALARM".into());
        v.triggered_alarms = vec!["web-5xx".into()];
        v.rollback_revision = Some("arn:rev/1".into());
        assert_eq!(
            assess_deployment(&v, Some("td:1")),
            DeploymentProgress::Failed(
                FailureReason::ServiceDeployment {
                    status: "ROLLBACK_SUCCESSFUL".into(),
                    reason: "alarm web-5xx in ALARM (alarms: web-5xx)".into(),
                },
                RollbackOutcome::EcsRolledBack("arn:rev/1".into())
            )
        );
        assert!(matches!(
            assess_deployment(&view("STOPPED"), None),
            DeploymentProgress::Failed(_, RollbackOutcome::StoppedWithoutRollback)
        ));
        assert!(matches!(
            assess_deployment(&view("ROLLBACK_FAILED"), None),
            DeploymentProgress::Failed(_, RollbackOutcome::RollbackFailed(_))
        ));
    }

    #[test]
    fn a_hook_awaiting_action_is_paused_and_shown_in_the_summary() {
        let hook = |id: &str, status: &str| LifecycleHookView {
            hook_id: id.into(),
            status: status.into(),
            ..LifecycleHookView::default()
        };
        let mut v = view("IN_PROGRESS");
        v.lifecycle_stage = Some("POST_TEST_TRAFFIC_SHIFT".into());
        v.lifecycle_hooks = vec![hook("h1", "SUCCEEDED"), hook("h2", "AWAITING_ACTION")];
        let awaiting: Vec<&str> = v.awaiting_hooks().map(|h| h.hook_id.as_str()).collect();
        assert_eq!(awaiting, ["h2"]);
        assert_eq!(
            v.summary(),
            "service deployment IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT, paused at lifecycle \
             hook h2 (awaiting continue or rollback)"
        );
        v.lifecycle_hooks = vec![hook("h1", "IN_PROGRESS")];
        assert_eq!(
            v.summary(),
            "service deployment IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT"
        );
    }

    #[test]
    fn summary_shows_stage_tasks_and_traffic() {
        let mut v = view("IN_PROGRESS");
        v.lifecycle_stage = Some("PRODUCTION_TRAFFIC_SHIFT".into());
        v.target = Some(RevisionView {
            arn: "arn:rev/2".into(),
            requested: 2,
            running: 2,
            pending: 0,
            production_traffic_percent: Some(25.0),
            test_traffic_percent: None,
        });
        assert_eq!(
            v.summary(),
            "service deployment IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT: new revision 2/2 \
             running, 0 pending, 25.0% of production traffic"
        );
    }
}
