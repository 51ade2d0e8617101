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
