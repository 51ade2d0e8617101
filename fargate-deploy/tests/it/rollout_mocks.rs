//! Rollout watching against mocked ECS: success only when our deployment
//! completes; fail fast with exit codes, stopped reasons and log lines; roll
//! back; never report success when ECS rolled back.

use std::time::Duration;

use fargate_core::exec::CancellationToken;
use fargate_core::exec::{EventSink, Outputs, StepContext};
use fargate_core::{Error, ResourceId};
use fargate_deploy::rollout::{
    FailureReason, LogTarget, RollbackOutcome, RolloutError, RolloutOptions, RolloutWatch,
    await_rollout,
};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use fargate_testkit::aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::{
    DescribeServicesError, DescribeServicesOutput,
};
use fargate_testkit::aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use fargate_testkit::aws_sdk_ecs::types::{
    Container, Deployment, DeploymentRolloutState, Service, Task, TaskStopCode,
};
use fargate_testkit::aws_sdk_ecs::{self, Client as Ecs};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const PREVIOUS: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-api:6";
const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-api:7";

fn deployment(
    id: &str,
    status: &str,
    td: &str,
    state: &str,
    running: i32,
    failed: i32,
) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td)
        .desired_count(2)
        .running_count(running)
        .pending_count(2 - running)
        .failed_tasks(failed)
        .rollout_state(DeploymentRolloutState::from(state))
        .build()
}

fn service(deployments: Vec<Deployment>) -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            Service::builder()
                .service_name("api")
                .status("ACTIVE")
                .set_deployments(Some(deployments))
                .build(),
        )
        .build()
}

fn watch(previous: Option<&str>) -> RolloutWatch {
    RolloutWatch {
        resource: ResourceId::new("ecs:service", "prod/api"),
        cluster: "prod".into(),
        service: "api".into(),
        deployment_id: "ecs-svc/new".into(),
        previous_task_definition: previous.map(Into::into),
        target_groups: vec![],
        logs: Some(LogTarget {
            group: "/ecs/prod/api".into(),
            stream_prefix: "api".into(),
        }),
        since_epoch: 0,
        options: RolloutOptions {
            poll_interval: Duration::from_millis(5),
            max_poll_interval: Duration::from_millis(20),
            ..RolloutOptions::default()
        },
    }
}

fn ctx() -> StepContext {
    StepContext::detached(
        "ecs:service prod/api",
        Outputs::new(),
        EventSink::none(),
        CancellationToken::new(),
    )
}

fn rollout_error(e: Error) -> RolloutError {
    match e {
        Error::Failed { source, .. } => match source.downcast::<RolloutError>() {
            Ok(r) => *r,
            Err(other) => panic!("not a rollout error: {other}"),
        },
        other => panic!("expected a failed rollout, got {other}"),
    }
}

fn stopped_task(reason: &str, exit: Option<i32>, container_reason: Option<&str>) -> Rule {
    let reason = reason.to_string();
    let container_reason = container_reason.map(str::to_string);
    mock!(Ecs::describe_tasks).then_output(move || {
        let mut c = Container::builder().name("api");
        if let Some(e) = exit {
            c = c.exit_code(e);
        }
        if let Some(r) = &container_reason {
            c = c.reason(r);
        }
        DescribeTasksOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef")
                    .task_definition_arn(NEW)
                    .stopped_reason(&reason)
                    .stop_code(TaskStopCode::EssentialContainerExited)
                    .containers(c.build())
                    .build(),
            )
            .build()
    })
}

fn list_stopped() -> Rule {
    mock!(Ecs::list_tasks)
        .match_requests(|r| r.started_by() == Some("ecs-svc/new"))
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef")
                .build()
        })
}

#[tokio::test]
async fn happy_rollout_completes_without_rollback() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            service(vec![
                deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", 0, 0),
                deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 2, 0),
            ])
        })
        .output(|| {
            service(vec![
                deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", 1, 0),
                deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 1, 0),
            ])
        })
        .output(|| {
            service(vec![deployment(
                "ecs-svc/new",
                "PRIMARY",
                NEW,
                "COMPLETED",
                2,
                0,
            )])
        })
        .build();
    let update = mock!(Ecs::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    await_rollout(&clients, &ctx(), &watch(Some(PREVIOUS)))
        .await
        .unwrap();
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(update.num_calls(), 0, "no rollback on success");
}

#[tokio::test]
async fn crash_loop_fails_fast_with_exit_code_and_log_line_and_rolls_back() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            service(vec![
                deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", 0, 1),
                deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 2, 0),
            ])
        })
        .output(|| {
            service(vec![
                deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", 0, 3),
                deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 2, 0),
            ])
        })
        // After our rollback: the rollback deployment completes.
        .output(|| {
            service(vec![deployment(
                "ecs-svc/rb",
                "PRIMARY",
                PREVIOUS,
                "COMPLETED",
                2,
                0,
            )])
        })
        .build();
    let list = list_stopped();
    let tasks = stopped_task("Essential container in task exited", Some(1), None);
    let logs = mock!(fargate_testkit::aws_sdk_cloudwatchlogs::Client::get_log_events)
        .match_requests(|r| {
            r.log_group_name() == Some("/ecs/prod/api")
                && r.log_stream_name() == Some("api/api/0123456789abcdef")
        })
        .then_output(|| {
            GetLogEventsOutput::builder()
                .events(OutputLogEvent::builder().message("starting api").build())
                .events(
                    OutputLogEvent::builder()
                        .message("panic: DATABASE_URL is not set")
                        .build(),
                )
                .build()
        });
    let rollback = mock!(Ecs::update_service)
        .match_requests(|r| r.task_definition() == Some(PREVIOUS) && r.service() == Some("api"))
        .then_output(|| {
            UpdateServiceOutput::builder()
                .service(
                    Service::builder()
                        .deployments(deployment(
                            "ecs-svc/rb",
                            "PRIMARY",
                            PREVIOUS,
                            "IN_PROGRESS",
                            0,
                            0,
                        ))
                        .build(),
                )
                .build()
        });
    let clients = Mocks {
        ecs: vec![&describe, &list, &tasks, &rollback],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();

    let err = rollout_error(
        await_rollout(&clients, &ctx(), &watch(Some(PREVIOUS)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.reason,
        FailureReason::TasksKeptFailing {
            failed: 3,
            threshold: 3
        }
    );
    assert_eq!(err.rollback, RollbackOutcome::RolledBackTo(PREVIOUS.into()));
    assert_eq!(rollback.num_calls(), 1);
    let (task, container) = err
        .diagnosis
        .first_failed_container()
        .expect("a failed container");
    assert_eq!(
        task.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
    assert_eq!(container.exit_code, Some(1));
    assert_eq!(
        container.last_log_lines.last().map(String::as_str),
        Some("panic: DATABASE_URL is not set")
    );
    // The message a person reads carries all of it.
    let text = err.to_string();
    assert!(text.contains("exit code 1"), "{text}");
    assert!(text.contains("panic: DATABASE_URL is not set"), "{text}");
    assert!(
        text.contains(&format!("rolled back to {PREVIOUS}")),
        "{text}"
    );
}

#[tokio::test]
async fn image_that_cannot_be_pulled_fails_at_the_first_stopped_task_and_first_deploy_scales_to_zero()
 {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            service(vec![deployment(
                "ecs-svc/new",
                "PRIMARY",
                NEW,
                "IN_PROGRESS",
                0,
                1,
            )])
        })
        .build();
    let list = list_stopped();
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/api:v9: not found";
    let tasks = stopped_task("Task failed to start", None, Some(reason));
    let logs = mock!(fargate_testkit::aws_sdk_cloudwatchlogs::Client::get_log_events).then_error(|| {
        fargate_testkit::aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsError::generic(aws_error_meta(
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        ))
    });
    let scale = mock!(Ecs::update_service)
        .match_requests(|r| r.desired_count() == Some(0) && r.task_definition().is_none())
        .then_output(|| UpdateServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &list, &tasks, &scale],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();

    let err = rollout_error(
        await_rollout(&clients, &ctx(), &watch(None))
            .await
            .unwrap_err(),
    );
    match &err.reason {
        FailureReason::Unrecoverable { reason: r } => {
            assert!(r.contains("CannotPullContainerError"), "{r}")
        }
        other => panic!("expected an unrecoverable failure, got {other:?}"),
    }
    assert_eq!(
        describe.num_calls(),
        1,
        "failed at the first poll that showed a failed task"
    );
    assert_eq!(
        err.rollback,
        RollbackOutcome::NothingToRollBackTo {
            scaled_to_zero: true
        }
    );
    assert_eq!(scale.num_calls(), 1);
}

#[tokio::test]
async fn circuit_breaker_failed_is_an_error_and_we_do_not_roll_back_twice() {
    let describe = mock!(Ecs::describe_services).then_output(|| {
        let d = Deployment::builder()
            .id("ecs-svc/new")
            .status("PRIMARY")
            .task_definition(NEW)
            .desired_count(2)
            .failed_tasks(4)
            .rollout_state(DeploymentRolloutState::Failed)
            .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
            .build();
        service(vec![
            d,
            deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 2, 0),
        ])
    });
    let list = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let update = mock!(Ecs::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &list, &update],
        ..Mocks::default()
    }
    .clients();
    let err = rollout_error(
        await_rollout(&clients, &ctx(), &watch(Some(PREVIOUS)))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err.reason, FailureReason::CircuitBreaker { ref reason } if reason.contains("circuit breaker"))
    );
    assert_eq!(
        err.rollback,
        RollbackOutcome::EcsRolledBack(PREVIOUS.into())
    );
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn ecs_rolling_back_on_its_own_is_never_reported_as_success() {
    // ECS replaced our deployment with a rollback deployment that completed:
    // every task is running and healthy, but it is the old version.
    let describe = mock!(Ecs::describe_services).then_output(|| {
        service(vec![
            deployment("ecs-svc/rollback", "PRIMARY", PREVIOUS, "COMPLETED", 2, 0),
            deployment("ecs-svc/new", "ACTIVE", NEW, "IN_PROGRESS", 0, 2),
        ])
    });
    let list = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &list],
        ..Mocks::default()
    }
    .clients();
    let err = rollout_error(
        await_rollout(&clients, &ctx(), &watch(Some(PREVIOUS)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.reason,
        FailureReason::RolledBackByEcs {
            to: PREVIOUS.into()
        }
    );
    assert_eq!(
        err.rollback,
        RollbackOutcome::EcsRolledBack(PREVIOUS.into())
    );
}

#[tokio::test]
async fn throttling_mid_rollout_is_retried_by_the_sdk() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            service(vec![deployment(
                "ecs-svc/new",
                "PRIMARY",
                NEW,
                "IN_PROGRESS",
                1,
                0,
            )])
        })
        .error(|| {
            DescribeServicesError::generic(aws_error_meta("ThrottlingException", "Rate exceeded"))
        })
        .output(|| {
            service(vec![deployment(
                "ecs-svc/new",
                "PRIMARY",
                NEW,
                "COMPLETED",
                2,
                0,
            )])
        })
        .build();
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    await_rollout(&clients, &ctx(), &watch(Some(PREVIOUS)))
        .await
        .unwrap();
    assert_eq!(
        describe.num_calls(),
        3,
        "two polls, one of them retried once"
    );
}

#[tokio::test]
async fn a_rollout_that_never_settles_times_out_and_rolls_back() {
    let describe = mock!(Ecs::describe_services)
        .sequence()
        .output(|| {
            service(vec![
                deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", 0, 0),
                deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 2, 0),
            ])
        })
        .times(1000)
        .build();
    let list = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let rollback = mock!(Ecs::update_service)
        .match_requests(|r| r.task_definition() == Some(PREVIOUS))
        .then_error(|| {
            aws_sdk_ecs::operation::update_service::UpdateServiceError::generic(aws_error_meta(
                "AccessDeniedException",
                "not allowed",
            ))
        });
    let clients = Mocks {
        ecs: vec![&describe, &list, &rollback],
        ..Mocks::default()
    }
    .clients();
    let mut w = watch(Some(PREVIOUS));
    w.options.timeout = Duration::from_millis(60);
    let err = rollout_error(await_rollout(&clients, &ctx(), &w).await.unwrap_err());
    assert!(matches!(err.reason, FailureReason::TimedOut { .. }));
    assert!(
        matches!(err.rollback, RollbackOutcome::RollbackFailed(ref m) if m.contains("AccessDeniedException"))
    );
}

/// DescribeServices answering, call after call, the services of `script` (the last one
/// repeatedly); every call's time (ms since `start`, tokio's clock) goes to `times`.
fn scripted_describe(
    start: tokio::time::Instant,
    script: Vec<DescribeServicesOutput>,
    times: std::sync::Arc<std::sync::Mutex<Vec<u128>>>,
) -> Rule {
    mock!(Ecs::describe_services).then_compute_output(move |_| {
        let mut times = times.lock().unwrap();
        times.push(start.elapsed().as_millis());
        let i = (times.len() - 1).min(script.len() - 1);
        script[i].clone()
    })
}

fn in_progress(running: i32) -> DescribeServicesOutput {
    service(vec![
        deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", running, 0),
        deployment(
            "ecs-svc/old",
            "ACTIVE",
            PREVIOUS,
            "COMPLETED",
            2 - running,
            0,
        ),
    ])
}

fn completed() -> DescribeServicesOutput {
    service(vec![deployment(
        "ecs-svc/new",
        "PRIMARY",
        NEW,
        "COMPLETED",
        2,
        0,
    )])
}

/// With the default options, polls follow 1, 2, 4, 5, 5 s while nothing changes (the 5 s cap
/// holds); when the progress changes the next poll comes 1 s later again; the first COMPLETED
/// ends the watch with no further call.
#[tokio::test(start_paused = true)]
async fn rollout_polls_double_to_the_cap_and_reset_when_progress_changes() {
    let start = tokio::time::Instant::now();
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut script: Vec<_> = (0..6).map(|_| in_progress(0)).collect();
    script.extend([in_progress(1), in_progress(1), completed()]);
    let describe = scripted_describe(start, script, times.clone());
    let update = mock!(Ecs::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let mut w = watch(Some(PREVIOUS));
    w.options = RolloutOptions::default();
    assert_eq!(w.options.poll_interval, Duration::from_secs(1));
    assert_eq!(w.options.max_poll_interval, Duration::from_secs(5));

    await_rollout(&clients, &ctx(), &w).await.unwrap();

    let times = times.lock().unwrap().clone();
    let gaps: Vec<u128> = times.windows(2).map(|p| (p[1] - p[0]) / 1000).collect();
    // 0 running for 6 polls (1, 2, 4, 5, 5 s apart), 1 running (changed: 1 s), same (2 s),
    // then COMPLETED.
    assert_eq!(gaps, [1, 2, 4, 5, 5, 5, 1, 2]);
    assert_eq!(describe.num_calls(), 9);
    assert_eq!(start.elapsed(), Duration::from_secs(25));
    assert_eq!(update.num_calls(), 0);
}

/// The cap is configurable next to the first interval: 2 s first, at most 3 s.
#[tokio::test(start_paused = true)]
async fn rollout_honours_a_configured_cap() {
    let start = tokio::time::Instant::now();
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut script: Vec<_> = (0..5).map(|_| in_progress(1)).collect();
    script.push(completed());
    let describe = scripted_describe(start, script, times.clone());
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    let mut w = watch(Some(PREVIOUS));
    w.options = RolloutOptions::default()
        .poll_interval(Duration::from_secs(2))
        .max_poll_interval(Duration::from_secs(3));

    await_rollout(&clients, &ctx(), &w).await.unwrap();

    assert_eq!(
        *times.lock().unwrap(),
        [0, 2_000, 5_000, 8_000, 11_000, 14_000]
    );
}

/// A crash loop failing one task every 45 s (the 3rd, the threshold for 2 tasks, at 135 s),
/// with the default options: each new failure brings the interval back to 1 s and it never
/// exceeds 5 s, so the failure is reported within 5 s of the 3rd failed task.
#[tokio::test(start_paused = true)]
async fn a_slow_crash_loop_is_reported_within_the_5_s_cap_of_the_threshold() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let start = tokio::time::Instant::now();
    let polls = std::sync::Arc::new(AtomicU32::new(0));
    let rolled_back = std::sync::Arc::new(AtomicBool::new(false));
    let describe = mock!(Ecs::describe_services).then_compute_output({
        let (polls, rolled_back) = (polls.clone(), rolled_back.clone());
        move |_| {
            if rolled_back.load(Ordering::SeqCst) {
                return service(vec![deployment(
                    "ecs-svc/rb",
                    "PRIMARY",
                    PREVIOUS,
                    "COMPLETED",
                    2,
                    0,
                )]);
            }
            polls.fetch_add(1, Ordering::SeqCst);
            let failed = (start.elapsed().as_secs() / 45) as i32;
            service(vec![
                deployment("ecs-svc/new", "PRIMARY", NEW, "IN_PROGRESS", 0, failed),
                deployment("ecs-svc/old", "ACTIVE", PREVIOUS, "COMPLETED", 2, 0),
            ])
        }
    });
    let list = list_stopped();
    let tasks = stopped_task("Essential container in task exited", Some(1), None);
    let logs = mock!(fargate_testkit::aws_sdk_cloudwatchlogs::Client::get_log_events)
        .then_output(|| GetLogEventsOutput::builder().build());
    let rollback = mock!(Ecs::update_service).then_compute_output({
        let rolled_back = rolled_back.clone();
        move |_| {
            rolled_back.store(true, Ordering::SeqCst);
            UpdateServiceOutput::builder()
                .service(
                    Service::builder()
                        .deployments(deployment(
                            "ecs-svc/rb",
                            "PRIMARY",
                            PREVIOUS,
                            "IN_PROGRESS",
                            0,
                            0,
                        ))
                        .build(),
                )
                .build()
        }
    });
    let clients = Mocks {
        ecs: vec![&describe, &list, &tasks, &rollback],
        logs: vec![&logs],
        ..Mocks::default()
    }
    .clients();
    let mut w = watch(Some(PREVIOUS));
    w.options = RolloutOptions::default();

    let err = rollout_error(await_rollout(&clients, &ctx(), &w).await.unwrap_err());

    let reported = start.elapsed();
    assert_eq!(
        err.reason,
        FailureReason::TasksKeptFailing {
            failed: 3,
            threshold: 3
        }
    );
    // Polls at 0, 1, 3, 7, then every 5 s: 47 sees the 1st failure; 48, 50, 54, then every
    // 5 s: 94 the 2nd; 95, 97, 101, then every 5 s: 136 the 3rd.
    assert_eq!(reported, Duration::from_secs(136), "{reported:?}");
    assert!(reported - Duration::from_secs(135) <= Duration::from_secs(5));
    assert_eq!(polls.load(Ordering::SeqCst), 33);
    println!(
        "reported at {reported:?} after {} polls, {} ECS+Logs calls",
        polls.load(Ordering::SeqCst),
        describe.num_calls()
            + list.num_calls()
            + tasks.num_calls()
            + rollback.num_calls()
            + logs.num_calls()
    );
}
