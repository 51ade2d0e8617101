//! An EventBridge Scheduler schedule with an ECS target against the moto server: create,
//! unchanged re-apply (no mutating call), update of the expression (one UpdateSchedule),
//! destroy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::{Change, Executable, Mode, Ownership, Plan, Ref, Resource};
use fargate_deploy::run_task::ContainerOverride;
use fargate_deploy::schedule::{
    EcsTarget, FlexibleWindow, ScheduleRetry, ScheduleSpec, scheduler_role_policy,
    scheduler_trust_policy,
};
use fargate_deploy::{AwsContext, Clients};
use fargate_testkit::aws_sdk_scheduler::types::{FlexibleTimeWindowMode, ScheduleState};
use fargate_testkit::{TestContext, context};

use crate::support::{moto_clients, sdk_cluster, sdk_task_definition, sdk_task_network};

/// What the schedule points at, made directly with the SDK.
struct Job {
    cluster_arn: String,
    task_definition_arn: String,
    subnet: String,
    sg: String,
    role_arn: String,
}

async fn setup(ctx: &TestContext, aws: &AwsContext) -> Job {
    let cluster_arn = sdk_cluster(ctx, "prod").await;
    let task_definition_arn = sdk_task_definition(
        ctx,
        "prod-report",
        "app",
        "busybox",
        Some(format!(
            "arn:aws:iam::{}:role/prod-report-exec",
            aws.account_id
        )),
    )
    .await;
    let (subnet, sg) = sdk_task_network(ctx, "jobs").await;
    // The scheduler's role, with the documents fargate-rs generates for it.
    let iam = ctx.iam();
    let role = iam
        .create_role()
        .role_name("prod-report-scheduler")
        .assume_role_policy_document(scheduler_trust_policy(&aws.account_id).to_string())
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    let policy = scheduler_role_policy(
        aws,
        "prod-report",
        &cluster_arn,
        &format!("arn:aws:iam::{}:role/prod-report-exec", aws.account_id),
        None,
    )
    .unwrap();
    iam.put_role_policy()
        .role_name("prod-report-scheduler")
        .policy_name("fargate-rs")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    Job {
        cluster_arn,
        task_definition_arn,
        subnet,
        sg,
        role_arn,
    }
}

fn spec(job: &Job, expression: &str) -> ScheduleSpec {
    let owner = Ownership::new("prod".parse().unwrap()).with_app("report".parse().unwrap());
    let target = EcsTarget::new(
        Ref::Known(job.cluster_arn.clone()),
        Ref::Known(job.task_definition_arn.clone()),
        Ref::Known(vec![job.subnet.clone()]),
        Ref::Known(vec![job.sg.clone()]),
    )
    .unwrap()
    .container_override(
        ContainerOverride::new("app")
            .unwrap()
            .env("MODE", "daily")
            .unwrap()
            .command(["report", "--all"]),
    )
    .unwrap();
    ScheduleSpec::new(
        owner,
        expression.parse().unwrap(),
        target,
        Ref::Known(job.role_arn.clone()),
    )
    .unwrap()
    .timezone("Europe/Paris".parse().unwrap())
    .flexible_window(FlexibleWindow::minutes(15).unwrap())
    .retry(ScheduleRetry::new(3, 3600).unwrap())
    .description("nightly report")
    .unwrap()
}

async fn run(clients: &Clients, spec: &ScheduleSpec, mode: Mode) -> Plan {
    let resources: Vec<Arc<dyn Resource<Clients>>> =
        vec![fargate_core::resource::node(spec.clone())];
    let exe = Executable::plan(clients, &resources, mode).await.unwrap();
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    plan
}

#[tokio::test]
async fn schedule_create_reapply_update_destroy() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let job = setup(&ctx, &clients.aws).await;
    let recorder = ctx.recorder();

    // Create.
    let nightly = spec(&job, "cron(0 3 * * ? *)");
    let mark = recorder.mark();
    let plan = run(&clients, &nightly, Mode::Apply).await;
    assert!(
        matches!(plan.changes[0].change, Change::Create { .. }),
        "{plan}"
    );
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["Scheduler.CreateSchedule"]
    );
    let found = ctx
        .scheduler()
        .get_schedule()
        .name(nightly.name())
        .send()
        .await
        .unwrap();
    assert_eq!(found.schedule_expression(), Some("cron(0 3 * * ? *)"));
    assert_eq!(found.schedule_expression_timezone(), Some("Europe/Paris"));
    assert_eq!(found.state(), Some(&ScheduleState::Enabled));
    assert_eq!(
        found.flexible_time_window().map(|w| w.mode()),
        Some(&FlexibleTimeWindowMode::Flexible)
    );
    assert_eq!(
        found.description(),
        Some("nightly report [managed-by fargate-rs env=prod app=report]")
    );
    let target = found.target().unwrap();
    assert_eq!(target.arn(), job.cluster_arn);
    assert_eq!(
        target.ecs_parameters().unwrap().task_definition_arn(),
        job.task_definition_arn
    );
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input["containerOverrides"][0]["command"],
        serde_json::json!(["report", "--all"])
    );

    // Re-apply: nothing to do, no mutating call.
    let mark = recorder.mark();
    let plan = run(&clients, &nightly, Mode::Apply).await;
    assert!(!plan.has_changes(), "{plan}");
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    // Change the expression: one field in the plan, one UpdateSchedule.
    let later = spec(&job, "cron(30 4 * * ? *)");
    let mark = recorder.mark();
    let plan = run(&clients, &later, Mode::Apply).await;
    match &plan.changes[0].change {
        Change::Update { diffs } => {
            assert_eq!(
                diffs.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
                ["expression"]
            );
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["Scheduler.UpdateSchedule"]
    );
    let found = ctx
        .scheduler()
        .get_schedule()
        .name(later.name())
        .send()
        .await
        .unwrap();
    assert_eq!(found.schedule_expression(), Some("cron(30 4 * * ? *)"));
    assert_eq!(
        found
            .target()
            .unwrap()
            .retry_policy()
            .and_then(|r| r.maximum_retry_attempts()),
        Some(3)
    );
    let mark = recorder.mark();
    assert!(!run(&clients, &later, Mode::Apply).await.has_changes());
    assert!(recorder.mutating_calls_since(mark).is_empty());

    // Destroy, then nothing is left to destroy.
    let mark = recorder.mark();
    let plan = run(&clients, &later, Mode::Destroy).await;
    assert_eq!(plan.changes[0].change, Change::Delete);
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["Scheduler.DeleteSchedule"]
    );
    let gone = ctx
        .scheduler()
        .get_schedule()
        .name(later.name())
        .send()
        .await;
    assert!(gone.is_err());
    assert_eq!(
        run(&clients, &later, Mode::Destroy).await.changes[0].change,
        Change::NoOp
    );
}

#[tokio::test]
async fn a_foreign_schedule_with_our_name_is_never_touched() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let job = setup(&ctx, &clients.aws).await;
    let ours = spec(&job, "rate(1 hour)");
    // Made by hand under the name fargate-rs would use.
    let target = fargate_testkit::aws_sdk_scheduler::types::Target::builder()
        .arn(&job.cluster_arn)
        .role_arn(&job.role_arn)
        .build()
        .unwrap();
    ctx.scheduler()
        .create_schedule()
        .name(ours.name())
        .schedule_expression("rate(5 minutes)")
        .description("made by hand")
        .flexible_time_window(
            fargate_testkit::aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(target)
        .send()
        .await
        .unwrap();
    let resources: Vec<Arc<dyn Resource<Clients>>> =
        vec![fargate_core::resource::node(ours.clone())];
    let mark = ctx.recorder().mark();

    let err = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap_err();
    assert!(
        matches!(err, fargate_core::Error::NotOwned { .. }),
        "{err:?}"
    );
    // Destroy skips it (and would go on with the rest).
    let exe = Executable::plan(&clients, &resources, Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(exe.plan.changes[0].change, fargate_core::Change::NoOp);
    assert!(
        exe.plan
            .notes
            .iter()
            .any(|n| n.starts_with("skipped scheduler:schedule"))
    );

    assert!(ctx.recorder().mutating_calls_since(mark).is_empty());
    let still = ctx
        .scheduler()
        .get_schedule()
        .name(ours.name())
        .send()
        .await
        .unwrap();
    assert_eq!(still.schedule_expression(), Some("rate(5 minutes)"));
}
