//! A ScheduledJob against the moto server: plan, apply, re-apply with zero
//! mutating calls, change only the schedule, run it now and get its outcome,
//! destroy with nothing owned left.

use std::time::Duration;

use fargate_core::EventSink;
use fargate_deploy::{Deployer, Environment, ScheduledJob};

/// A fresh moto account, a deployer in it and the environment `jobs` the tests deploy to.
async fn jobs_environment() -> (fargate_testkit::TestContext, Deployer, Environment) {
    let ctx = fargate_testkit::context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("jobs").build().unwrap();
    (ctx, d, env)
}

/// Runs `job` now and waits for it: nothing is applied, one `RunTask` is the only mutating
/// call, and a task ran.
async fn run_now(
    ctx: &fargate_testkit::TestContext,
    d: &Deployer,
    env: &Environment,
    job: &ScheduledJob,
) -> fargate_deploy::run_task::TaskOutcome {
    let mark = ctx.recorder().mark();
    let outcome = d
        .run(
            env,
            job,
            vec![job.job_override().clone()],
            Duration::from_secs(120),
            EventSink::none(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.task_arn.contains(":task/"), "{outcome:?}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        vec!["ECS.RunTask"]
    );
    outcome
}

fn job(schedule: &str) -> ScheduledJob {
    ScheduledJob::builder()
        .name("etl")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .schedule(schedule)
        .timezone("Europe/Paris")
        .command(vec![
            "sh".into(),
            "-c".into(),
            "echo importing $ETL_JOB".into(),
        ])
        .job_env([("ETL_JOB".to_string(), "import".to_string())].into())
        // moto's RunTask answers HTTP 500 unless a container sets memory or memoryReservation.
        .memory_reservation(256)
        .build()
        .unwrap()
}

#[tokio::test]
async fn scheduled_job_full_lifecycle_with_run_now() {
    let (ctx, d, env) = jobs_environment().await;
    let nightly = job("cron(0 3 * * ? *)");

    let plan = d.plan(&env, &[&nightly]).await.unwrap();
    assert!(
        plan.plan()
            .changes
            .iter()
            .any(|c| c.id.kind == "scheduler:schedule"),
        "{plan}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    let schedule = ctx
        .scheduler()
        .get_schedule()
        .name("jobs-etl")
        .send()
        .await
        .unwrap();
    let target = schedule.target().unwrap();
    assert!(
        target.role_arn().ends_with(":role/jobs-etl-scheduler"),
        "{}",
        target.role_arn()
    );
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input["containerOverrides"][0]["environment"][0]["value"],
        "import"
    );
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("Europe/Paris")
    );

    let plan = d.plan(&env, &[&nightly]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Only the schedule changes.
    let hourly = job("rate(1 hour)");
    let plan = d.plan(&env, &[&hourly]).await.unwrap();
    let changed: Vec<&str> = plan
        .plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.kind.as_str())
        .collect();
    assert_eq!(changed, vec!["scheduler:schedule"], "{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        crate::support::locked(&["Scheduler.UpdateSchedule"])
    );

    // Run now: applies nothing new, runs the task, waits for it to stop.
    run_now(&ctx, &d, &env, &hourly).await;

    d.destroy(&env, &[&hourly])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let gone = ctx.scheduler().get_schedule().name("jobs-etl").send().await;
    assert!(gone.is_err(), "schedule left behind");
    let plan = d.plan_destroy(&env, &[&hourly]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
}

#[tokio::test]
async fn bad_schedules_are_typed_errors_before_any_call() {
    for (schedule, field) in [
        ("cron(0 3 * * *)", "etl.schedule"),
        ("rate(1 hours)", "etl.schedule"),
        ("every day", "etl.schedule"),
    ] {
        let err = ScheduledJob::builder()
            .name("etl")
            .image("busybox")
            .schedule(schedule)
            .build()
            .unwrap_err();
        match err {
            fargate_core::Error::Invalid(v) => assert_eq!(v.field, field, "{v}"),
            other => panic!("{other}"),
        }
    }
    let err = ScheduledJob::builder()
        .name("etl")
        .image("busybox")
        .schedule("rate(5 minutes)")
        .timezone("Not a zone!")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("etl.timezone"), "{err}");
}

/// A job without a schedule: what `job` makes, minus the schedule and its time zone.
fn run_once() -> ScheduledJob {
    ScheduledJob::builder()
        .name("etl")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .command(vec![
            "sh".into(),
            "-c".into(),
            "echo importing $ETL_JOB".into(),
        ])
        .job_env([("ETL_JOB".to_string(), "import".to_string())].into())
        .memory_reservation(256)
        .build()
        .unwrap()
}

/// Whether the scheduler role `jobs-etl-scheduler` exists.
async fn scheduler_role_exists(ctx: &fargate_testkit::TestContext) -> bool {
    ctx.iam()
        .get_role()
        .role_name("jobs-etl-scheduler")
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn run_once_job_has_no_schedule_and_no_scheduler_role() {
    let (ctx, d, env) = jobs_environment().await;
    let once = run_once();
    assert!(once.schedule().is_none());

    let plan = d.plan(&env, &[&once]).await.unwrap();
    let kinds: Vec<&str> = plan
        .plan()
        .changes
        .iter()
        .map(|c| c.id.kind.as_str())
        .collect();
    assert!(kinds.contains(&"ecs:task-definition"), "{plan}");
    assert!(!kinds.contains(&"scheduler:schedule"), "{plan}");
    assert!(
        !plan
            .plan()
            .changes
            .iter()
            .any(|c| c.id.name.contains("scheduler")),
        "{plan}"
    );
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    let calls = ctx.recorder().mutating_calls_since(mark);
    assert!(
        calls.contains(&"ECS.RegisterTaskDefinition".to_string()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"CloudWatchLogs.CreateLogGroup".to_string()),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("Scheduler.")),
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| *c == "IAM.CreateRole").count(),
        1,
        "only the execution role: {calls:?}"
    );
    assert!(!scheduler_role_exists(&ctx).await);
    let none = ctx.scheduler().get_schedule().name("jobs-etl").send().await;
    assert!(none.is_err(), "a run-once job has no schedule");

    // Run now: nothing to apply, the task runs and its outcome comes back.
    let outcome = run_now(&ctx, &d, &env, &once).await;
    assert_eq!(outcome.exit_code(), Some(0), "{outcome:?}");

    // Re-deploy: nothing to change, no mutating call.
    let plan = d.plan(&env, &[&once]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Destroy: nothing ours left, and nothing of a schedule was ever touched.
    let mark = ctx.recorder().mark();
    d.destroy(&env, &[&once])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let calls = ctx.recorder().mutating_calls_since(mark);
    for expected in ["CloudWatchLogs.DeleteLogGroup", "IAM.DeleteRole"] {
        assert!(calls.contains(&expected.to_string()), "{calls:?}");
    }
    assert!(
        !calls.iter().any(|c| c.starts_with("Scheduler.")),
        "{calls:?}"
    );
    let plan = d.plan_destroy(&env, &[&once]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
}

#[tokio::test]
async fn a_job_losing_its_schedule_loses_the_schedule_and_its_role() {
    let (ctx, d, env) = jobs_environment().await;
    d.apply(d.plan(&env, &[&job("rate(1 hour)")]).await.unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(scheduler_role_exists(&ctx).await);

    let once = run_once();
    let plan = d.plan(&env, &[&once]).await.unwrap();
    let mut deleted: Vec<String> = plan
        .plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| format!("{} {:?}", c.id, c.change))
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            "fargate:retired iam:role jobs-etl-scheduler Delete".to_string(),
            "fargate:retired scheduler:schedule default/jobs-etl Delete".to_string(),
        ],
        "{plan}"
    );
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    let calls = ctx.recorder().mutating_calls_since(mark);
    assert!(
        calls.contains(&"Scheduler.DeleteSchedule".to_string()),
        "{calls:?}"
    );
    assert!(calls.contains(&"IAM.DeleteRole".to_string()), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("ECS.")), "{calls:?}");
    assert!(!scheduler_role_exists(&ctx).await);
    let gone = ctx.scheduler().get_schedule().name("jobs-etl").send().await;
    assert!(gone.is_err(), "schedule left behind");

    // Settled: the next plan changes nothing.
    let plan = d.plan(&env, &[&once]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    d.destroy(&env, &[&once])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn schedule_settings_without_a_schedule_are_refused() {
    for (field, b) in [
        (
            "etl.timezone",
            ScheduledJob::builder()
                .name("etl")
                .image("busybox")
                .timezone("Europe/Paris")
                .build(),
        ),
        (
            "etl.retries",
            ScheduledJob::builder()
                .name("etl")
                .image("busybox")
                .retries(2)
                .build(),
        ),
        (
            "etl.enabled",
            ScheduledJob::builder()
                .name("etl")
                .image("busybox")
                .enabled(false)
                .build(),
        ),
        (
            "etl.flexible_window_minutes",
            ScheduledJob::builder()
                .name("etl")
                .image("busybox")
                .flexible_window_minutes(5)
                .build(),
        ),
    ] {
        match b {
            Err(fargate_core::Error::Invalid(v)) => assert_eq!(v.field, field, "{v}"),
            other => panic!("{field}: {other:?}"),
        }
    }
}
