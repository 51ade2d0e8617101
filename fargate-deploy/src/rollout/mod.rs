//! Watching an ECS service rollout: fail fast with the real reason, roll back,
//! and never report success when the rollout failed or ECS rolled back.
//!
//! The logic is split the way it can be tested: [`assess`] is a pure function
//! from a snapshot of the service ([`ServiceView`]) to [`Progress`];
//! [`diagnose`] gathers the evidence of a failure (stopped tasks, exit codes,
//! last log lines, target health, service events); [`watch`] polls, decides
//! and rolls back.

pub mod diagnose;
pub mod service_deployment;
pub mod watch;

use std::fmt;
use std::time::Duration;

use fargate_core::wait::Poll;
use serde::{Deserialize, Serialize};

/// The shortest first interval [`RolloutOptions::poll`] uses.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

pub use diagnose::{ContainerExit, Diagnosis, StoppedTask, TargetIssue};
pub use service_deployment::{
    RevisionView, ServiceDeploymentView, ServingRevision, await_deployment,
};
pub use watch::{LogTarget, RolloutWatch, await_rollout};

/// The default first interval between the rollout watcher's polls.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The default longest interval between the rollout watcher's polls.
pub const DEFAULT_MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// A [`Duration`] as whole seconds in JSON (`timeout_secs`).
mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// A [`Duration`] as whole milliseconds in JSON (`poll_interval_ms`).
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// How a rollout is watched.
///
/// ```
/// use std::time::Duration;
/// use fargate_deploy::rollout::RolloutOptions;
///
/// // Poll after 2 s at first, then 4, 8, 10, 10, … s while nothing changes.
/// let options = RolloutOptions::default()
///     .poll_interval(Duration::from_secs(2))
///     .max_poll_interval(Duration::from_secs(10));
/// assert_eq!(options.max_poll_interval, Duration::from_secs(10));
/// ```
///
/// In JSON every field is optional (the defaults above) and durations are integers:
/// `timeout_secs` in seconds, `poll_interval_ms` and `max_poll_interval_ms` in milliseconds,
/// e.g. `{"timeout_secs": 900, "rollback": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutOptions {
    /// Wait for the rollout at all (default true). When false, apply returns
    /// as soon as ECS accepted the change.
    pub wait: bool,
    /// Give up waiting after this long (default 15 minutes). The service is
    /// then rolled back like on any other failure.
    #[serde(rename = "timeout_secs", with = "duration_secs")]
    #[schemars(with = "u64")]
    pub timeout: Duration,
    /// Stop after this many failed tasks of the new deployment. Default: like
    /// the ECS circuit breaker, half the desired count, at least 3 and at most 200.
    pub failure_threshold: Option<u32>,
    /// Roll back to the previous task definition on failure (default true).
    pub rollback: bool,
    /// First interval between DescribeServices polls (default 1 s). It doubles after each
    /// poll that saw no change, up to [`max_poll_interval`](Self::max_poll_interval), and
    /// goes back to this whenever the rollout's progress (running, pending, failed tasks)
    /// changes.
    #[serde(rename = "poll_interval_ms", with = "duration_ms")]
    #[schemars(with = "u64")]
    pub poll_interval: Duration,
    /// The longest interval between polls (default 5 s): a completed or failed rollout is
    /// seen at most this late. A value below `poll_interval` means polling every
    /// `poll_interval`.
    #[serde(rename = "max_poll_interval_ms", with = "duration_ms")]
    #[schemars(with = "u64")]
    pub max_poll_interval: Duration,
    /// How many log lines of a failed container to show (default 20).
    pub log_lines: usize,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        Self {
            wait: true,
            timeout: Duration::from_secs(15 * 60),
            failure_threshold: None,
            rollback: true,
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_poll_interval: DEFAULT_MAX_POLL_INTERVAL,
            log_lines: 20,
        }
    }
}

impl RolloutOptions {
    /// Poll again `interval` after a poll that saw a change (default 1 s); the interval then
    /// doubles up to [`max_poll_interval`](Self::max_poll_interval) while nothing changes.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Let the interval between polls grow to at most `max` (default 5 s): the end of the
    /// rollout is seen at most this late. A cap below the first interval means polling every
    /// [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn max_poll_interval(mut self, max: Duration) -> Self {
        self.max_poll_interval = max;
        self
    }

    /// The polling schedule: first [`poll_interval`](Self::poll_interval) (at least 10 ms),
    /// doubling up to [`max_poll_interval`](Self::max_poll_interval), for
    /// [`timeout`](Self::timeout).
    pub fn poll(&self) -> Poll {
        Poll::new(self.timeout, self.poll_interval.max(MIN_POLL_INTERVAL))
            .with_max_interval(self.max_poll_interval)
    }

    /// The failed-task threshold for a deployment of `desired` tasks.
    pub fn threshold(&self, desired: u32) -> u32 {
        self.failure_threshold
            .unwrap_or_else(|| desired.div_ceil(2).clamp(3, 200))
            .max(1)
    }
}

/// One ECS deployment, as the watcher sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Deployment id (`ecs-svc/...`); tasks it starts carry it as `startedBy`.
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    /// Task definition ARN.
    pub task_definition: String,
    /// Desired tasks.
    pub desired: u32,
    /// Running tasks.
    pub running: u32,
    /// Pending tasks.
    pub pending: u32,
    /// Tasks that failed to start or stopped.
    pub failed_tasks: u32,
    /// COMPLETED, FAILED or IN_PROGRESS (None on old services).
    pub rollout_state: Option<String>,
    /// Why, when ECS says.
    pub rollout_state_reason: Option<String>,
}

/// A snapshot of a service for the watcher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    /// The service's deployments.
    pub deployments: Vec<DeploymentView>,
    /// Service events, newest first, as (epoch seconds, message).
    pub events: Vec<(i64, String)>,
}

impl ServiceView {
    /// The PRIMARY deployment.
    pub fn primary(&self) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// A deployment by id.
    pub fn deployment(&self, id: &str) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

/// Why a rollout failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureReason {
    /// Tasks of the new deployment kept failing.
    TasksKeptFailing {
        /// Failed tasks seen.
        failed: u32,
        /// The threshold.
        threshold: u32,
    },
    /// A task failed in a way retrying cannot fix (image not found, secret not readable).
    Unrecoverable {
        /// The stopped reason.
        reason: String,
    },
    /// ECS's deployment circuit breaker marked the rollout FAILED.
    CircuitBreaker {
        /// ECS's reason.
        reason: String,
    },
    /// ECS rolled the service back by itself: the primary deployment is not ours.
    RolledBackByEcs {
        /// The task definition ECS went back to.
        to: String,
    },
    /// The service went away during the rollout.
    ServiceGone {
        /// Its status.
        status: String,
    },
    /// It took longer than allowed.
    TimedOut {
        /// How long it waited.
        after: Duration,
    },
    /// ECS ended the service deployment without success (`ROLLBACK_SUCCESSFUL`,
    /// `ROLLBACK_FAILED` or `STOPPED`): a circuit breaker, an alarm or a lifecycle hook.
    ServiceDeployment {
        /// The service deployment's status.
        status: String,
        /// ECS's reason (the status reason, else the rollback's reason).
        reason: String,
    },
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::TasksKeptFailing { failed, threshold } => {
                write!(
                    f,
                    "{failed} tasks of the new deployment failed (threshold {threshold})"
                )
            }
            FailureReason::Unrecoverable { reason } => write!(f, "a task cannot start: {reason}"),
            FailureReason::CircuitBreaker { reason } => {
                write!(f, "ECS deployment circuit breaker: {reason}")
            }
            FailureReason::RolledBackByEcs { to } => {
                write!(f, "ECS rolled the service back to {to}")
            }
            FailureReason::ServiceGone { status } => write!(f, "the service is {status}"),
            FailureReason::TimedOut { after } => {
                write!(f, "the rollout did not finish within {}s", after.as_secs())
            }
            FailureReason::ServiceDeployment { status, reason } => {
                write!(f, "ECS service deployment {status}: {reason}")
            }
        }
    }
}

/// What was done about a failed rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RollbackOutcome {
    /// fargate-rs rolled the service back to this task definition, and that rollout completed.
    RolledBackTo(String),
    /// ECS rolled the service back (circuit breaker) to this task definition.
    EcsRolledBack(String),
    /// This was the first deployment: nothing to roll back to.
    NothingToRollBackTo {
        /// Whether the service was scaled to 0 to stop the crash loop.
        scaled_to_zero: bool,
    },
    /// Rollback was disabled by the caller.
    Disabled,
    /// Rolling back failed too.
    RollbackFailed(String),
    /// fargate-rs stopped the in-flight service deployment (this ARN) with
    /// `StopServiceDeployment(ROLLBACK)`: ECS moves traffic and tasks back to the revision
    /// that served before.
    ServiceDeploymentRolledBack(String),
    /// ECS stopped the service deployment without rolling back.
    StoppedWithoutRollback,
}

impl fmt::Display for RollbackOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RollbackOutcome::RolledBackTo(td) => write!(f, "rolled back to {td}"),
            RollbackOutcome::EcsRolledBack(td) => write!(f, "ECS rolled back to {td}"),
            RollbackOutcome::NothingToRollBackTo {
                scaled_to_zero: true,
            } => write!(
                f,
                "first deployment, nothing to roll back to: scaled the service to 0 tasks"
            ),
            RollbackOutcome::NothingToRollBackTo {
                scaled_to_zero: false,
            } => write!(f, "first deployment, nothing to roll back to"),
            RollbackOutcome::Disabled => {
                write!(f, "rollback disabled: the service was left as it is")
            }
            RollbackOutcome::RollbackFailed(e) => write!(f, "rollback failed: {e}"),
            RollbackOutcome::ServiceDeploymentRolledBack(arn) => {
                write!(f, "stopped service deployment {arn} with rollback")
            }
            RollbackOutcome::StoppedWithoutRollback => {
                write!(f, "ECS stopped the deployment without rolling back")
            }
        }
    }
}

/// A failed rollout: why, the evidence, and what was done about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("rollout of service {service} failed: {reason}; {rollback}\n{diagnosis}")]
pub struct RolloutError {
    /// The service.
    pub service: String,
    /// Why it failed.
    pub reason: FailureReason,
    /// The evidence.
    pub diagnosis: Diagnosis,
    /// What was done about it.
    pub rollback: RollbackOutcome,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still going.
    InProgress {
        /// Running tasks of our deployment.
        running: u32,
        /// Desired tasks.
        desired: u32,
        /// Pending tasks.
        pending: u32,
        /// Failed tasks so far.
        failed: u32,
    },
    /// Our deployment is PRIMARY and completed.
    Completed,
    /// It failed.
    Failed(FailureReason),
}

/// Assess a rollout from one snapshot. Pure.
///
/// Success needs *our* deployment (by id) to be PRIMARY and COMPLETED; a
/// primary deployment that is not ours means ECS rolled back, which is a
/// failure, never a success.
pub fn assess(view: &ServiceView, our_deployment: &str, options: &RolloutOptions) -> Progress {
    if view.status != "ACTIVE" {
        return Progress::Failed(FailureReason::ServiceGone {
            status: view.status.clone(),
        });
    }
    let Some(ours) = view.deployment(our_deployment) else {
        let to = view
            .primary()
            .map(|p| p.task_definition.clone())
            .unwrap_or_else(|| "(no primary deployment)".to_string());
        return Progress::Failed(FailureReason::RolledBackByEcs { to });
    };
    if ours.rollout_state.as_deref() == Some("FAILED") {
        return Progress::Failed(FailureReason::CircuitBreaker {
            reason: ours
                .rollout_state_reason
                .clone()
                .unwrap_or_else(|| "rollout FAILED".to_string()),
        });
    }
    if ours.status != "PRIMARY" {
        let to = view
            .primary()
            .map(|p| p.task_definition.clone())
            .unwrap_or_else(|| "(no primary deployment)".to_string());
        return Progress::Failed(FailureReason::RolledBackByEcs { to });
    }
    let threshold = options.threshold(ours.desired);
    if ours.failed_tasks >= threshold {
        return Progress::Failed(FailureReason::TasksKeptFailing {
            failed: ours.failed_tasks,
            threshold,
        });
    }
    let completed = match ours.rollout_state.as_deref() {
        Some(state) => state == "COMPLETED",
        // Services without rollout state: done when the only deployment runs all tasks.
        None => view.deployments.len() == 1 && ours.running >= ours.desired,
    };
    if completed {
        Progress::Completed
    } else {
        Progress::InProgress {
            running: ours.running,
            desired: ours.desired,
            pending: ours.pending,
            failed: ours.failed_tasks,
        }
    }
}

/// Whether a stopped task's reason means retrying cannot help.
pub fn is_unrecoverable(stopped_reason: &str) -> bool {
    let r = stopped_reason.to_ascii_lowercase();
    let pull = r.contains("cannotpullcontainererror")
        && (r.contains("not found")
            || r.contains("manifest unknown")
            || r.contains("does not exist")
            || r.contains("denied")
            || r.contains("unauthorized"));
    let init = r.contains("resourceinitializationerror")
        && (r.contains("secret")
            || r.contains("ssm")
            || r.contains("accessdenied")
            || r.contains("not authorized"));
    pull || init || r.contains("invalid image") || r.contains("cannotstartcontainererror")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: &str, status: &str, state: Option<&str>, failed: u32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: format!("arn:td/{id}"),
            desired: 2,
            running: 0,
            pending: 2,
            failed_tasks: failed,
            rollout_state: state.map(Into::into),
            rollout_state_reason: None,
        }
    }

    fn view(deps: Vec<DeploymentView>) -> ServiceView {
        ServiceView {
            status: "ACTIVE".into(),
            deployments: deps,
            events: vec![],
        }
    }

    #[test]
    fn completed_only_when_ours_is_primary_and_completed() {
        let o = RolloutOptions::default();
        assert_eq!(
            assess(
                &view(vec![dep("new", "PRIMARY", Some("COMPLETED"), 0)]),
                "new",
                &o
            ),
            Progress::Completed
        );
        assert!(matches!(
            assess(
                &view(vec![
                    dep("new", "PRIMARY", Some("IN_PROGRESS"), 1),
                    dep("old", "ACTIVE", Some("COMPLETED"), 0)
                ]),
                "new",
                &o
            ),
            Progress::InProgress { failed: 1, .. }
        ));
    }

    #[test]
    fn ecs_rollback_is_a_failure_not_a_success() {
        let o = RolloutOptions::default();
        // ECS made a new primary with the old task definition; ours is ACTIVE.
        let v = view(vec![
            dep("rollback", "PRIMARY", Some("COMPLETED"), 0),
            dep("new", "ACTIVE", Some("IN_PROGRESS"), 3),
        ]);
        assert_eq!(
            assess(&v, "new", &o),
            Progress::Failed(FailureReason::RolledBackByEcs {
                to: "arn:td/rollback".into()
            })
        );
        // Ours is gone altogether.
        let v = view(vec![dep("rollback", "PRIMARY", Some("COMPLETED"), 0)]);
        assert!(matches!(
            assess(&v, "new", &o),
            Progress::Failed(FailureReason::RolledBackByEcs { .. })
        ));
    }

    #[test]
    fn circuit_breaker_failed_state_fails() {
        let mut d = dep("new", "PRIMARY", Some("FAILED"), 4);
        d.rollout_state_reason = Some("tasks failed to start".into());
        assert_eq!(
            assess(&view(vec![d]), "new", &RolloutOptions::default()),
            Progress::Failed(FailureReason::CircuitBreaker {
                reason: "tasks failed to start".into()
            })
        );
    }

    #[test]
    fn threshold_is_half_desired_between_3_and_200() {
        let o = RolloutOptions::default();
        assert_eq!(o.threshold(1), 3);
        assert_eq!(o.threshold(10), 5);
        assert_eq!(o.threshold(11), 6);
        assert_eq!(o.threshold(1000), 200);
        let custom = RolloutOptions {
            failure_threshold: Some(1),
            ..o.clone()
        };
        assert_eq!(custom.threshold(10), 1);
        // Detected as soon as the count reaches it.
        assert!(matches!(
            assess(
                &view(vec![dep("new", "PRIMARY", Some("IN_PROGRESS"), 3)]),
                "new",
                &o
            ),
            Progress::Failed(FailureReason::TasksKeptFailing {
                failed: 3,
                threshold: 3
            })
        ));
        assert!(matches!(
            assess(
                &view(vec![dep("new", "PRIMARY", Some("IN_PROGRESS"), 2)]),
                "new",
                &o
            ),
            Progress::InProgress { .. }
        ));
    }

    #[test]
    fn draining_service_fails() {
        let mut v = view(vec![dep("new", "PRIMARY", None, 0)]);
        v.status = "DRAINING".into();
        assert!(matches!(
            assess(&v, "new", &RolloutOptions::default()),
            Progress::Failed(FailureReason::ServiceGone { .. })
        ));
    }

    #[test]
    fn unrecoverable_reasons() {
        assert!(is_unrecoverable(
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref docker.io/library/nginx:nope: docker.io/library/nginx:nope: not found"
        ));
        assert!(is_unrecoverable(
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException"
        ));
        assert!(!is_unrecoverable("Essential container in task exited"));
        assert!(!is_unrecoverable(
            "CannotPullContainerError: context deadline exceeded"
        ));
    }
}
