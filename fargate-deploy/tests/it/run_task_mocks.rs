//! run-now against mocked ECS and CloudWatch Logs: the exit code, the stopped reason and the
//! last log lines come back, on success and on failure; ECS refusing to start the task and a
//! task that runs too long are typed errors.

use std::time::Duration;

use fargate_core::Error;
use fargate_core::exec::{CancellationToken, Event, EventSink, Outputs, StepContext};
use fargate_deploy::rollout::diagnose::LogLocation;
use fargate_deploy::run_task::{
    ContainerOverride, RunTaskError, RunTaskRequest, TIMEOUT_STOP_REASON, TaskOutcome, run_now,
};
use fargate_testkit::aws_sdk_cloudwatchlogs::Client as Logs;
use fargate_testkit::aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use fargate_testkit::aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use fargate_testkit::aws_sdk_ecs::Client as Ecs;
use fargate_testkit::aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::run_task::RunTaskOutput;
use fargate_testkit::aws_sdk_ecs::operation::stop_task::StopTaskOutput;
use fargate_testkit::aws_sdk_ecs::primitives::DateTime;
use fargate_testkit::aws_sdk_ecs::types::{Container, Failure, LaunchType, Task, TaskStopCode};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef";
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-report:4";

fn request() -> RunTaskRequest {
    RunTaskRequest::new(
        "prod",
        "prod-report",
        vec!["subnet-1".into()],
        vec!["sg-1".into()],
    )
    .unwrap()
    .container_override(
        ContainerOverride::new("app")
            .unwrap()
            .env("MODE", "daily")
            .unwrap(),
    )
    .logs(LogLocation {
        group: "/ecs/prod/report".into(),
        stream_prefix: "report".into(),
    })
    .poll_interval(Duration::from_millis(2))
}

fn ctx(events: EventSink) -> StepContext {
    StepContext::detached(
        "run report",
        Outputs::new(),
        events,
        CancellationToken::new(),
    )
}

fn run_task_ok() -> Rule {
    mock!(Ecs::run_task)
        .match_requests(|r| {
            r.launch_type() == Some(&LaunchType::Fargate)
                && r.overrides().is_some_and(|o| {
                    o.container_overrides().first().and_then(|c| c.name()) == Some("app")
                })
        })
        .then_output(|| {
            RunTaskOutput::builder()
                .tasks(
                    Task::builder()
                        .task_arn(TASK)
                        .last_status("PROVISIONING")
                        .build(),
                )
                .build()
        })
}

fn task(
    status: &str,
    exit: Option<i32>,
    reason: Option<&str>,
    stopped: Option<&str>,
    code: Option<TaskStopCode>,
) -> Task {
    let mut b = Task::builder()
        .task_arn(TASK)
        .task_definition_arn(TD)
        .last_status(status)
        .set_stopped_reason(stopped.map(Into::into))
        .set_stop_code(code)
        .created_at(DateTime::from_secs(1_700_000_000))
        .containers(
            Container::builder()
                .name("app")
                .set_exit_code(exit)
                .set_reason(reason.map(Into::into))
                .build(),
        );
    if exit.is_some() {
        b = b
            .started_at(DateTime::from_secs(1_700_000_030))
            .stopped_at(DateTime::from_secs(1_700_000_090));
    }
    b.build()
}

/// RUNNING once, then the given stopped task.
fn describe_then(stopped: Task) -> Rule {
    mock!(Ecs::describe_tasks)
        .match_requests(|r| r.tasks() == [TASK] && r.cluster() == Some("prod"))
        .sequence()
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(task("RUNNING", None, None, None, None))
                .build()
        })
        .output(move || {
            DescribeTasksOutput::builder()
                .tasks(stopped.clone())
                .build()
        })
        .build()
}

fn log_lines(lines: &'static [&'static str]) -> Rule {
    mock!(Logs::get_log_events)
        .match_requests(|r| {
            r.log_group_name() == Some("/ecs/prod/report")
                && r.log_stream_name() == Some("report/app/0123456789abcdef")
                && r.start_from_head() == Some(false)
        })
        .then_output(move || {
            let mut out = GetLogEventsOutput::builder();
            for l in lines {
                out = out.events(OutputLogEvent::builder().message(*l).build());
            }
            out.build()
        })
}

fn run_task_error(e: Error) -> (RunTaskError, String) {
    let shown = e.to_string();
    match e {
        Error::Failed { source, .. } => match source.downcast::<RunTaskError>() {
            Ok(e) => (*e, shown),
            Err(other) => panic!("not a RunTaskError: {other}"),
        },
        other => panic!("expected Error::Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn exit_code_1_is_a_failure_carrying_the_exit_code_and_last_log_line() {
    let run = run_task_ok();
    let describe = describe_then(task(
        "STOPPED",
        Some(1),
        None,
        Some("Essential container in task exited"),
        Some(TaskStopCode::EssentialContainerExited),
    ));
    let logs = log_lines(&["loading data", "error: table reports does not exist"]);
    let clients = Mocks {
        ecs: vec![&run, &describe],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();

    let err = run_now(&clients, &request(), &ctx(EventSink::none()))
        .await
        .unwrap_err();
    let (err, shown) = run_task_error(err);

    let outcome = err.outcome().expect("the outcome travels with the error");
    assert!(matches!(err, RunTaskError::ExitedNonZero { .. }));
    assert_eq!(err.exit_code(), Some(1));
    assert_eq!(
        outcome.containers[0]
            .last_log_lines
            .last()
            .map(String::as_str),
        Some("error: table reports does not exist")
    );
    assert!(
        shown.contains("container app exited with code 1"),
        "{shown}"
    );
    assert!(
        shown.contains("error: table reports does not exist"),
        "{shown}"
    );
    assert!(
        shown.contains("Essential container in task exited"),
        "{shown}"
    );
    assert_eq!(
        (run.num_calls(), describe.num_calls(), logs.num_calls()),
        (1, 2, 1)
    );
}

#[tokio::test]
async fn a_task_that_never_started_names_the_stopped_reason() {
    let pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): \
                failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/report:v9: not found";
    let run = run_task_ok();
    let describe = describe_then(task(
        "STOPPED",
        None,
        Some(pull),
        Some(pull),
        Some(TaskStopCode::TaskFailedToStart),
    ));
    let logs = log_lines(&[]);
    let clients = Mocks {
        ecs: vec![&run, &describe],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();

    let err = run_now(&clients, &request(), &ctx(EventSink::none()))
        .await
        .unwrap_err();
    let (err, shown) = run_task_error(err);

    assert!(matches!(err, RunTaskError::NeverStarted { .. }), "{err:?}");
    assert_eq!(err.exit_code(), None);
    assert_eq!(
        err.outcome().and_then(|o| o.stop_code.as_deref()),
        Some("TaskFailedToStart")
    );
    assert!(shown.contains("did not start"), "{shown}");
    assert!(shown.contains("CannotPullContainerError"), "{shown}");
}

#[tokio::test]
async fn exit_code_0_returns_the_outcome_with_logs_and_reports_progress() {
    let run = run_task_ok();
    let describe = describe_then(task(
        "STOPPED",
        Some(0),
        None,
        Some("Essential container in task exited"),
        Some(TaskStopCode::EssentialContainerExited),
    ));
    let logs = log_lines(&["report written: 42 rows"]);
    let clients = Mocks {
        ecs: vec![&run, &describe],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();
    let (events, mut rx) = EventSink::channel();

    let outcome: TaskOutcome = run_now(&clients, &request(), &ctx(events)).await.unwrap();

    assert!(outcome.succeeded());
    assert_eq!(outcome.exit_code(), Some(0));
    assert_eq!(outcome.task_id(), "0123456789abcdef");
    assert_eq!(
        outcome.containers[0].last_log_lines,
        ["report written: 42 rows"]
    );
    assert_eq!(outcome.run_time(), Some(Duration::from_secs(60)));
    assert_eq!(outcome.total_time(), Some(Duration::from_secs(90)));
    let mut progress = Vec::new();
    while let Ok(Event::Progress { message, .. }) = rx.try_recv() {
        progress.push(message);
    }
    assert!(
        progress
            .iter()
            .any(|m| m == "task 0123456789abcdef RUNNING"),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|m| m == "task 0123456789abcdef STOPPED"),
        "{progress:?}"
    );
}

#[tokio::test]
async fn run_task_failures_are_a_typed_rejection_with_the_reason() {
    let run = mock!(Ecs::run_task).then_output(|| {
        RunTaskOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-east-1:123456789012:cluster/prod")
                    .reason("RESOURCE:ENI")
                    .detail("no free ENI in subnet-1")
                    .build(),
            )
            .build()
    });
    let clients = Mocks {
        ecs: vec![&run],
        ..Mocks::default()
    }
    .clients();

    let err = run_now(&clients, &request(), &ctx(EventSink::none()))
        .await
        .unwrap_err();
    let (err, shown) = run_task_error(err);

    match &err {
        RunTaskError::Rejected {
            failures,
            task_definition,
        } => {
            assert_eq!(task_definition, "prod-report");
            assert_eq!(failures[0].reason, "RESOURCE:ENI");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.outcome().is_none());
    assert!(
        shown.contains("RESOURCE:ENI") && shown.contains("no free ENI"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_task_still_running_at_the_timeout_is_stopped_and_reported_as_timeout() {
    let run = run_task_ok();
    let describe = mock!(Ecs::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(task("RUNNING", None, None, None, None))
            .build()
    });
    let stop = mock!(Ecs::stop_task)
        .match_requests(|r| r.task() == Some(TASK) && r.reason() == Some(TIMEOUT_STOP_REASON))
        .then_output(|| StopTaskOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&run, &describe, &stop],
        ..Mocks::default()
    }
    .clients();
    let request = request().timeout(Duration::from_millis(30));

    let err = run_now(&clients, &request, &ctx(EventSink::none()))
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(stop.num_calls(), 1);
    assert!(describe.num_calls() >= 2);
}

#[tokio::test]
async fn an_invalid_request_makes_no_call() {
    let clients = Mocks::default().clients();
    let mut request = request();
    request.subnets.clear();
    let err = run_now(&clients, &request, &ctx(EventSink::none()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref v) if v.field == "subnets"),
        "{err:?}"
    );
}

/// Right after the task's roles were created, ECS may refuse them ("ECS was unable to assume
/// the role"): RunTask is tried again, with a client token per attempt, and the task runs.
#[tokio::test(start_paused = true)]
async fn run_task_is_retried_while_ecs_cannot_assume_a_new_role() {
    use fargate_testkit::aws_sdk_ecs::operation::run_task::RunTaskError;
    use fargate_testkit::aws_sdk_ecs::types::error::InvalidParameterException;
    use std::sync::{Arc, Mutex};
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = tokens.clone();
    let run = mock!(Ecs::run_task)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.client_token().unwrap_or_default().to_string());
            true
        })
        .sequence()
        .error(|| {
            RunTaskError::InvalidParameterException(
                InvalidParameterException::builder()
                    .message(
                        "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/prod-report-exec' that was provided for this task.",
                    )
                    .meta(fargate_testkit::aws_error_meta(
                        "InvalidParameterException",
                        "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/prod-report-exec' that was provided for this task.",
                    ))
                    .build(),
            )
        })
        .output(|| {
            RunTaskOutput::builder()
                .tasks(
                    Task::builder()
                        .task_arn(TASK)
                        .last_status("PROVISIONING")
                        .build(),
                )
                .build()
        })
        .build();
    let describe = describe_then(task(
        "STOPPED",
        Some(0),
        None,
        Some("Essential container in task exited"),
        Some(TaskStopCode::EssentialContainerExited),
    ));
    let logs = log_lines(&["done"]);
    let clients = Mocks {
        ecs: vec![&run, &describe],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();
    let outcome = run_now(&clients, &request(), &ctx(EventSink::none()))
        .await
        .unwrap();
    assert!(outcome.succeeded());
    assert_eq!(run.num_calls(), 2);
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(tokens.iter().all(|t| t.len() == 36), "{tokens:?}");
    assert_ne!(tokens[0], tokens[1]);
}

/// DescribeTasks answering RUNNING until `stops_at` (on tokio's clock, since `start`), then
/// the task stopped with exit code 0; every call's time (ms since `start`) goes to `times`.
fn describe_stopping_at(
    start: tokio::time::Instant,
    stops_at: Duration,
    times: std::sync::Arc<std::sync::Mutex<Vec<u128>>>,
) -> Rule {
    mock!(Ecs::describe_tasks)
        .match_requests(|r| r.tasks() == [TASK])
        .then_compute_output(move |_| {
            let elapsed = start.elapsed();
            times.lock().unwrap().push(elapsed.as_millis());
            let t = if elapsed >= stops_at {
                task(
                    "STOPPED",
                    Some(0),
                    None,
                    Some("Essential container in task exited"),
                    Some(TaskStopCode::EssentialContainerExited),
                )
            } else {
                task("RUNNING", None, None, None, None)
            };
            DescribeTasksOutput::builder().tasks(t).build()
        })
}

/// The default schedule polls DescribeTasks at 0, 1, 3, 7, … s: a task that stops at 2.5 s
/// is reported at 3 s, after exactly 3 DescribeTasks calls, and no call follows.
#[tokio::test(start_paused = true)]
async fn a_task_stopping_at_2_5_s_is_reported_by_4_s_with_3_describe_calls() {
    let start = tokio::time::Instant::now();
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let run = run_task_ok();
    let describe = describe_stopping_at(start, Duration::from_millis(2500), times.clone());
    let logs = log_lines(&["done"]);
    let clients = Mocks {
        ecs: vec![&run, &describe],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();
    // The defaults of a new request: first interval 1 s, doubling, at most 5 s.
    let defaults = RunTaskRequest::new("c", "td", vec!["s".into()], vec![]).unwrap();
    assert_eq!(defaults.poll_interval, Duration::from_secs(1));
    assert_eq!(defaults.max_poll_interval, Duration::from_secs(5));
    // The test request with its fast test interval put back to the default.
    let request = request()
        .poll_interval(defaults.poll_interval)
        .max_poll_interval(defaults.max_poll_interval);

    let outcome = run_now(&clients, &request, &ctx(EventSink::none()))
        .await
        .unwrap();

    assert_eq!(outcome.exit_code(), Some(0));
    let reported = start.elapsed();
    assert!(
        reported <= Duration::from_secs(4),
        "reported at {reported:?}"
    );
    assert_eq!(*times.lock().unwrap(), [0, 1_000, 3_000]);
    assert_eq!(describe.num_calls(), 3);
}

/// With the interval capped at 2 s, the sleeps are 1, 2, 2, 2, … s (never longer): a task that
/// stops at 10.5 s is seen at 11 s.
#[tokio::test(start_paused = true)]
async fn run_now_honours_the_poll_interval_cap() {
    let start = tokio::time::Instant::now();
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let run = run_task_ok();
    let describe = describe_stopping_at(start, Duration::from_millis(10_500), times.clone());
    let logs = log_lines(&["done"]);
    let clients = Mocks {
        ecs: vec![&run, &describe],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();
    let request = request()
        .poll_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(2));

    run_now(&clients, &request, &ctx(EventSink::none()))
        .await
        .unwrap();

    assert_eq!(
        *times.lock().unwrap(),
        [0, 1_000, 3_000, 5_000, 7_000, 9_000, 11_000]
    );
    assert_eq!(start.elapsed(), Duration::from_secs(11));
}
