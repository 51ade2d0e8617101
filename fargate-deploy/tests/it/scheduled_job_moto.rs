//! A ScheduledJob against the moto server: plan, apply, re-apply with zero
//! mutating calls, change only the schedule, run it now and get its outcome,
//! destroy with nothing owned left.

use std::time::Duration;

use fargate_core::EventSink;
use fargate_deploy::{Deployer, Environment, ScheduledJob};

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
    let ctx = fargate_testkit::context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("jobs").build().unwrap();
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
    let mark = ctx.recorder().mark();
    let outcome = d
        .run(
            &env,
            &hourly,
            vec![hourly.job_override().clone()],
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
