//! Polling a rollout until it completes or fails, and rolling back.

use tokio::time::Instant;

use super::diagnose::{self, Diagnosis, LogLocation};
use super::{
    FailureReason, Progress, RollbackOutcome, RolloutError, RolloutOptions, ServiceView, assess,
    is_unrecoverable,
};
use crate::Clients;
use fargate_core::exec::StepContext;
use fargate_core::{AwsResultExt, Error, ResourceId};

pub use diagnose::LogLocation as LogTarget;

/// What to watch: one deployment of one service.
#[derive(Debug, Clone)]
pub struct RolloutWatch {
    /// The service's resource id (for errors).
    pub resource: ResourceId,
    /// Cluster name or ARN.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// The deployment started by our CreateService/UpdateService.
    pub deployment_id: String,
    /// The task definition to roll back to (None on a first deployment).
    pub previous_task_definition: Option<String>,
    /// Target groups whose health explains failures.
    pub target_groups: Vec<String>,
    /// Where the containers log (for the last lines of failed containers).
    pub logs: Option<LogLocation>,
    /// Only service events from this time (epoch seconds) on are reported.
    pub since_epoch: i64,
    /// How to watch.
    pub options: RolloutOptions,
}

/// One DescribeServices, as a [`ServiceView`].
///
/// # Errors
/// When the call fails or the service is missing.
pub async fn describe_view(
    clients: &Clients,
    resource: &ResourceId,
    cluster: &str,
    service: &str,
) -> Result<ServiceView, Error> {
    match crate::service::describe_one(clients, resource, cluster, service).await? {
        crate::service::Lookup::Found(s) => Ok(view_of(&s)),
        crate::service::Lookup::NoCluster | crate::service::Lookup::NoService => Ok(ServiceView {
            status: "MISSING".to_string(),
            ..ServiceView::default()
        }),
    }
}

/// Convert the SDK's service into a [`ServiceView`].
pub fn view_of(s: &aws_sdk_ecs::types::Service) -> ServiceView {
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    ServiceView {
        status: s.status().unwrap_or_default().to_string(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| super::DeploymentView {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                desired: count(d.desired_count()),
                running: count(d.running_count()),
                pending: count(d.pending_count()),
                failed_tasks: count(d.failed_tasks()),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_string),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| {
                (
                    e.created_at().map(|t| t.secs()).unwrap_or(0),
                    e.message().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    }
}

/// Wait until the watched deployment completes. On failure, gather the
/// diagnosis, roll back (unless disabled) and return [`Error::Failed`] whose
/// source is a [`RolloutError`].
///
/// Polls DescribeServices at once, then on the schedule of [`RolloutOptions::poll`]: after
/// `poll_interval` (default 1 s), doubling up to `max_poll_interval` (default 5 s) while the
/// progress stays the same, and after `poll_interval` again whenever it changes. Returns at the
/// first completed or failed state. Cancellable through `ctx`; the overall limit is
/// `watch.options.timeout`.
///
/// # Errors
/// [`Error::Failed`] with a [`RolloutError`] when the rollout failed; AWS errors of the polls.
#[tracing::instrument(skip_all, fields(service = %watch.service, deployment = %watch.deployment_id))]
pub async fn await_rollout(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
) -> Result<(), Error> {
    let start = Instant::now();
    let opts = &watch.options;
    let poll = opts.poll();
    let mut interval = poll.interval;
    let mut last: Option<Progress> = None;
    let mut failed_seen = 0;
    loop {
        let view = describe_view(clients, &watch.resource, &watch.cluster, &watch.service).await?;
        let progress = assess(&view, &watch.deployment_id, opts);
        match &progress {
            Progress::Completed => {
                ctx.progress("rollout completed");
                return Ok(());
            }
            Progress::Failed(reason) => {
                return Err(fail(clients, ctx, watch, reason.clone(), &view).await);
            }
            Progress::InProgress {
                running,
                desired,
                pending,
                failed,
            } => {
                if *failed > failed_seen {
                    failed_seen = *failed;
                    // A task failure retrying cannot fix ends the rollout at once.
                    let stopped =
                        diagnose::stopped_tasks(clients, &watch.cluster, &watch.deployment_id, 5)
                            .await?;
                    if let Some(reason) = unrecoverable_reason(&stopped) {
                        let reason = FailureReason::Unrecoverable { reason };
                        return Err(fail(clients, ctx, watch, reason, &view).await);
                    }
                }
                if last.as_ref() != Some(&progress) {
                    ctx.progress(format!(
                        "rollout: {running}/{desired} running, {pending} pending, {failed} failed"
                    ));
                    interval = poll.interval;
                } else {
                    interval = poll.next_interval(interval);
                }
            }
        }
        last = Some(progress);
        if start.elapsed() >= opts.timeout {
            let reason = FailureReason::TimedOut {
                after: start.elapsed(),
            };
            return Err(fail(clients, ctx, watch, reason, &view).await);
        }
        ctx.sleep(interval).await?;
    }
}

pub(super) fn unrecoverable_reason(stopped: &[diagnose::StoppedTask]) -> Option<String> {
    for t in stopped {
        let reasons = t
            .stopped_reason
            .iter()
            .chain(t.containers.iter().filter_map(|c| c.reason.as_ref()));
        for r in reasons {
            if is_unrecoverable(r) {
                return Some(r.clone());
            }
        }
    }
    None
}

pub(super) async fn gather(
    clients: &Clients,
    watch: &RolloutWatch,
    view: &ServiceView,
) -> Diagnosis {
    let mut diagnosis = Diagnosis::default();
    match diagnose::stopped_tasks(clients, &watch.cluster, &watch.deployment_id, 3).await {
        Ok(mut tasks) => {
            if let Some(logs) = &watch.logs {
                diagnose::attach_log_lines(clients, &mut tasks, logs, watch.options.log_lines)
                    .await;
            }
            diagnosis.stopped_tasks = tasks;
        }
        Err(e) => diagnosis
            .events
            .push(format!("(could not list stopped tasks: {e})")),
    }
    match diagnose::unhealthy_targets(clients, &watch.target_groups).await {
        Ok(t) => diagnosis.unhealthy_targets = t,
        Err(e) => diagnosis
            .events
            .push(format!("(could not read target health: {e})")),
    }
    diagnosis.events.extend(
        view.events
            .iter()
            .filter(|(at, _)| *at >= watch.since_epoch)
            .take(10)
            .map(|(_, m)| m.clone()),
    );
    diagnosis
}

async fn fail(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    reason: FailureReason,
    view: &ServiceView,
) -> Error {
    ctx.progress(format!("rollout failed: {reason}; gathering diagnosis"));
    let diagnosis = gather(clients, watch, view).await;
    let rollback = roll_back(clients, ctx, watch, &reason).await;
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

async fn roll_back(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    reason: &FailureReason,
) -> RollbackOutcome {
    match reason {
        FailureReason::RolledBackByEcs { to } => return RollbackOutcome::EcsRolledBack(to.clone()),
        FailureReason::CircuitBreaker { .. } => {
            // Services fargate-rs creates have the circuit breaker's rollback on.
            return RollbackOutcome::EcsRolledBack(
                watch
                    .previous_task_definition
                    .clone()
                    .unwrap_or_else(|| "the previous deployment".to_string()),
            );
        }
        FailureReason::ServiceGone { status } => {
            return RollbackOutcome::RollbackFailed(format!("the service is {status}"));
        }
        _ => {}
    }
    if !watch.options.rollback {
        return RollbackOutcome::Disabled;
    }
    let Some(previous) = watch.previous_task_definition.clone() else {
        ctx.progress("first deployment failed: scaling the service to 0 tasks");
        let scaled = clients
            .ecs
            .update_service()
            .cluster(&watch.cluster)
            .service(&watch.service)
            .desired_count(0)
            .send()
            .await
            .context(&watch.resource, "UpdateService");
        return match scaled {
            Ok(_) => RollbackOutcome::NothingToRollBackTo {
                scaled_to_zero: true,
            },
            Err(e) => RollbackOutcome::RollbackFailed(e.to_string()),
        };
    };
    ctx.progress(format!("rolling back to {previous}"));
    match rollback_to(clients, ctx, watch, &previous).await {
        Ok(()) => RollbackOutcome::RolledBackTo(previous),
        Err(e) => RollbackOutcome::RollbackFailed(e.to_string()),
    }
}

/// Update the service to `task_definition` and wait for that deployment
/// (without rolling back again if it fails).
///
/// # Errors
/// When the update fails or the rollback deployment does not complete.
pub async fn rollback_to(
    clients: &Clients,
    ctx: &StepContext,
    watch: &RolloutWatch,
    task_definition: &str,
) -> Result<(), Error> {
    let out = clients
        .ecs
        .update_service()
        .cluster(&watch.cluster)
        .service(&watch.service)
        .task_definition(task_definition)
        .send()
        .await
        .context(&watch.resource, "UpdateService")?;
    let deployment_id = out
        .service()
        .map(view_of)
        .and_then(|v| v.primary().map(|p| p.id.clone()))
        .unwrap_or_default();
    let back = RolloutWatch {
        deployment_id,
        previous_task_definition: None,
        options: RolloutOptions {
            rollback: false,
            ..watch.options.clone()
        },
        ..watch.clone()
    };
    Box::pin(await_rollout(clients, ctx, &back)).await
}
