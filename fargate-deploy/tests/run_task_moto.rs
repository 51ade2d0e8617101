//! run-now against the moto server: RunTask, DescribeTasks until STOPPED, the outcome back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use fargate_core::exec::{CancellationToken, EventSink, Outputs, StepContext};
use fargate_deploy::run_task::{ContainerOverride, RunCapacity, RunTaskRequest, run_now};
use fargate_deploy::{AwsContext, Clients};
use fargate_testkit::aws_sdk_ec2::types::AttributeBooleanValue;
use fargate_testkit::aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use fargate_testkit::{TestContext, context};

fn clients(ctx: &TestContext) -> Clients {
    Clients::with_context(
        &ctx.sdk_config(),
        &ctx.interceptors(),
        AwsContext {
            account_id: ctx.account_id().to_string(),
            region: "us-east-1".into(),
            partition: "aws".into(),
        },
    )
}

/// A cluster, a task definition and a subnet and security group to run it in.
async fn setup(ctx: &TestContext) -> (String, String, String) {
    let ecs = ctx.ecs();
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    // moto's RunTask answers HTTP 500 when no container sets `memory` or
    // `memoryReservation` (a moto bug; AWS accepts task-level memory alone on Fargate).
    let td = ecs
        .register_task_definition()
        .family("prod-report")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/docker/library/busybox:latest")
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let td = td
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string();
    let ec2 = ctx.ec2();
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    // moto's RunTask (awsvpc) also answers HTTP 500 unless the VPC has DNS hostnames enabled
    // (it reads the task ENI's private DNS name, which it only sets then).
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    let sg = ec2
        .create_security_group()
        .group_name("jobs")
        .description("jobs")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    (td, subnet, sg.group_id().unwrap().to_string())
}

#[tokio::test]
async fn run_now_waits_for_the_task_to_stop_and_returns_its_outcome() {
    let ctx = context().await;
    let clients = clients(&ctx);
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
    let clients = clients(&ctx);
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
