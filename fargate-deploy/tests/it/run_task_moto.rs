//! run-now against the moto server: RunTask, DescribeTasks until STOPPED, the outcome back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use fargate_core::exec::{CancellationToken, EventSink, Outputs, StepContext};
use fargate_deploy::run_task::{ContainerOverride, RunCapacity, RunTaskRequest, run_now};
use fargate_testkit::{TestContext, context};

use crate::support::{moto_clients, sdk_cluster, sdk_task_definition, sdk_task_network};

/// A cluster, a task definition and a subnet and security group to run it in.
async fn setup(ctx: &TestContext) -> (String, String, String) {
    sdk_cluster(ctx, "prod").await;
    let td = sdk_task_definition(
        ctx,
        "prod-report",
        "app",
        "public.ecr.aws/docker/library/busybox:latest",
        None,
    )
    .await;
    let (subnet, sg) = sdk_task_network(ctx, "jobs").await;
    (td, subnet, sg)
}

#[tokio::test]
async fn run_now_waits_for_the_task_to_stop_and_returns_its_outcome() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let (td, subnet, sg) = setup(&ctx).await;
    let request = RunTaskRequest::new("prod", "prod-report", vec![subnet], vec![sg])
        .unwrap()
        .container_override(
            ContainerOverride::new("app")
                .unwrap()
                .env("MODE", "daily")
                .unwrap()
                .command(["report"]),
        )
        .started_by("run-now-test")
        .unwrap()
        .poll_interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(30));
    let step = StepContext::detached(
        "run report",
        Outputs::new(),
        EventSink::none(),
        CancellationToken::new(),
    );
    let mark = ctx.recorder().mark();

    // moto starts tasks RUNNING and moves them one state per DescribeTasks call
    // (DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED); its containers exit with code 0.
    let outcome = run_now(&clients, &request, &step).await.unwrap();

    assert!(outcome.succeeded(), "{outcome}");
    assert_eq!(outcome.task_definition, td);
    assert_eq!(outcome.main().map(|c| c.name.as_str()), Some("app"));
    assert_eq!(ctx.recorder().mutating_calls_since(mark), ["ECS.RunTask"]);
    let described = ctx
        .ecs()
        .describe_tasks()
        .cluster("prod")
        .tasks(&outcome.task_arn)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(task.started_by(), Some("run-now-test"));
}

#[tokio::test]
async fn run_now_on_fargate_spot_uses_the_spot_capacity_provider() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let (_, subnet, sg) = setup(&ctx).await;
    let request = RunTaskRequest::new("prod", "prod-report", vec![subnet], vec![sg])
        .unwrap()
        .capacity(RunCapacity::FargateSpot)
        .poll_interval(Duration::from_millis(5));
    let step = StepContext::detached(
        "run report",
        Outputs::new(),
        EventSink::none(),
        CancellationToken::new(),
    );

    let outcome = run_now(&clients, &request, &step).await.unwrap();

    let described = ctx
        .ecs()
        .describe_tasks()
        .cluster("prod")
        .tasks(&outcome.task_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.tasks()[0].capacity_provider_name(),
        Some("FARGATE_SPOT")
    );
}
