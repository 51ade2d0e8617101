//! Exit codes, and why a step failed ([`Failure`]): every failure of the CLI is one of these.
//! The table is `exit_codes.txt`, shown by `fargate --help` and in the crate docs.

use fargate_core::Error;
use fargate_deploy::rollout::RolloutError;
use fargate_deploy::run_task::RunTaskError;
use fargate_deploy::{ApplyError, SavedPlanError};
use serde_json::{Value, json};

use crate::output::{Out, errln};

/// Success.
pub const OK: u8 = 0;
/// An AWS error, a resource fargate-rs does not own, nothing to roll back to, an internal error.
pub const FAILED: u8 = 1;
/// `plan`/`diff`: there are changes.
pub const CHANGES: u8 = 2;
/// The app file, a field or an argument is wrong (found before any AWS call).
pub const BAD_INPUT: u8 = 3;
/// A rollout failed (the diagnosis is printed; rolled back unless impossible).
pub const ROLLOUT_FAILED: u8 = 4;
/// `run`: the task exited non-zero or never started.
pub const TASK_FAILED: u8 = 5;
/// `status`, `rollback` or `logs` of an app that is not deployed.
pub const NOT_DEPLOYED: u8 = 6;
/// The local emulator cannot start, AWS has no region or credentials, the endpoint is
/// unreachable.
pub const SETUP: u8 = 7;
/// `apply --plan FILE`: planning again did not give the saved plan; nothing was applied.
pub const STALE_PLAN: u8 = 8;

/// The exit code table, as `--help` and the crate docs show it (they include the file).
#[cfg(test)]
const TABLE: &str = include_str!("exit_codes.txt");

/// Why a step failed, and its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub kind: &'static str,
    pub message: String,
    pub detail: Option<Value>,
}

impl Failure {
    fn new(code: u8, kind: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            kind,
            message: message.into(),
            detail: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure::new(BAD_INPUT, "bad_input", message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Failure::new(FAILED, "failed", message)
    }

    pub fn not_deployed(message: impl Into<String>) -> Self {
        Failure::new(NOT_DEPLOYED, "not_deployed", message)
    }

    pub fn setup(message: impl Into<String>) -> Self {
        Failure::new(SETUP, "setup", message)
    }

    /// Classify a library error: bad input, not deployed, a failed rollout, a failed task, or
    /// other.
    pub fn from_error(e: &Error) -> Self {
        let mut message = e.to_string();
        if !matches!(e, Error::Failed { .. }) {
            message.push_str(&causes(e));
        }
        match e {
            Error::Invalid(_) => Failure::bad_input(message),
            Error::NotDeployed { .. } => Failure::not_deployed(message),
            Error::Failed { source, .. } => {
                if let Some(r) = source.downcast_ref::<RolloutError>() {
                    Failure {
                        detail: serde_json::to_value(r).ok(),
                        ..Failure::new(ROLLOUT_FAILED, "rollout_failed", message)
                    }
                } else if let Some(p) = source.downcast_ref::<SavedPlanError>() {
                    let detail = match p {
                        SavedPlanError::Stale { differences, .. } => {
                            serde_json::to_value(differences).ok()
                        }
                        _ => None,
                    };
                    Failure {
                        detail,
                        ..Failure::new(STALE_PLAN, "stale_plan", message)
                    }
                } else if let Some(t) = source.downcast_ref::<RunTaskError>() {
                    Failure {
                        detail: t.outcome().and_then(|o| serde_json::to_value(o).ok()),
                        ..Failure::new(TASK_FAILED, "task_failed", message)
                    }
                } else {
                    Failure::failed(message)
                }
            }
            _ => Failure::failed(message),
        }
    }

    pub fn from_apply(e: &ApplyError) -> Self {
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

    /// Print the failure: one JSON line with `--json`, and `<label>: <message>` on stderr.
    pub fn report(&self, out: &Out, command: &str) {
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
            NOT_DEPLOYED => "not deployed",
            SETUP => "setup error",
            STALE_PLAN => "stale plan",
            _ => "error",
        };
        errln!("{}: {}", out.err.red(&out.err.bold(label)), self.message);
    }
}

/// `\n  caused by: ...` for each source of `e`.
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use fargate_core::ResourceId;
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
    fn an_app_that_is_not_deployed_is_exit_code_6() {
        let e = Error::NotDeployed {
            environment: "prod".into(),
            app: "web".into(),
            missing: ResourceId::new("ecs:cluster", "prod"),
        };
        let f = Failure::from_error(&e);
        assert_eq!((f.code, f.kind), (NOT_DEPLOYED, "not_deployed"));
        assert!(f.message.contains("not deployed"), "{}", f.message);
    }

    #[test]
    fn the_table_lists_every_exit_code_once() {
        for code in [
            OK,
            FAILED,
            CHANGES,
            BAD_INPUT,
            ROLLOUT_FAILED,
            TASK_FAILED,
            NOT_DEPLOYED,
            SETUP,
            STALE_PLAN,
        ] {
            let rows = TABLE
                .lines()
                .filter(|l| l.trim_start().starts_with(&format!("{code}  ")))
                .count();
            assert_eq!(rows, 1, "exit code {code} in:\n{TABLE}");
        }
    }
}
