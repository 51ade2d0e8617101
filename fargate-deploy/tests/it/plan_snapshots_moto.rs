//! Snapshot tests of whole plans, as a user sees them (`Display`), against the moto server: for
//! each builder and the demo's dashboard apps, the plan of a cold deploy, the re-plan after
//! deploying (no changes), one update and the destroy plan. What moto generates differently
//! each run (the test's account, ids, ARN suffixes, timestamps) is normalized by
//! [`fargate_testkit::Normalizer`].
//!
//! The snapshots are `tests/it/snapshots/*.snap`, reviewed by eye; a difference or a missing
//! snapshot fails (under `CI` nothing is written). To re-record on purpose:
//! `INSTA_UPDATE=always cargo test -p fargate-deploy --test it plan_snapshots_moto::`, then
//! review the diff of the `.snap` files.

use std::path::PathBuf;

use fargate_deploy::{
    App, BackendApi, ContainerService, Deployer, Environment, FrontendApp, ScheduledJob,
};
use fargate_testkit::{Normalizer, TestContext};

fn snapshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots")
}

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

fn check(case: &str, step: &str, normalizer: &Normalizer, plan: &fargate_deploy::DeployPlan) {
    let text = normalizer.normalize(&plan.to_string());
    fargate_testkit::snapshot::assert_text_snapshot(
        &snapshots(),
        &format!("{case}__{step}"),
        &text,
    );
    // The plan is a pure function of what was observed: the observations, written to JSON
    // and read back, give the same entries again (planning from them is synchronous: no
    // AWS call can be made).
    let json = serde_json::to_string(plan.observations()).unwrap();
    let recorded: fargate_core::Observations = serde_json::from_str(&json).unwrap();
    assert_eq!(&recorded, plan.observations(), "{case} {step}");
    let again = plan.plan_from(&recorded).unwrap();
    assert_eq!(again.changes, plan.plan().changes, "{case} {step}");
}

/// Cold deploy, no-op re-plan, the update from `before` to `after`, destroy: each plan
/// snapshotted, each applied.
async fn lifecycle(
    ctx: &TestContext,
    case: &str,
    env: &Environment,
    before: &[&dyn App],
    after: &[&dyn App],
    normalizer: Normalizer,
) {
    let d = deployer(ctx).await;
    let n = normalizer.account(ctx.account_id());

    let cold = d.plan(env, before).await.unwrap();
    assert!(cold.has_changes(), "{cold}");
    check(case, "1_cold", &n, &cold);
    d.apply(cold).await.unwrap_or_else(|e| panic!("{e}"));

    let again = d.plan(env, before).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    assert!(again.to_string().starts_with("No changes."), "{again}");
    check(case, "2_noop", &n, &again);

    let update = d.plan(env, after).await.unwrap();
    assert!(update.has_changes(), "{update}");
    check(case, "3_update", &n, &update);
    d.apply(update).await.unwrap_or_else(|e| panic!("{e}"));

    let destroy = d.plan_destroy(env, after).await.unwrap();
    check(case, "4_destroy", &n, &destroy);
    d.apply(destroy).await.unwrap_or_else(|e| panic!("{e}"));
    let gone = d.plan_destroy(env, after).await.unwrap();
    assert!(!gone.has_changes(), "{gone}");
}

fn service(name: &str, image: &str) -> ContainerService {
    ContainerService::builder()
        .name(name)
        .image(image)
        .port(8080)
        .env([("RUST_LOG".to_string(), "info".to_string())].into())
        .build()
        .unwrap()
}

#[tokio::test]
async fn container_service_plans() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("snap-cs").build().unwrap();
    let worker = |image: &str| {
        ContainerService::builder()
            .name("worker")
            .image(image)
            .desired_count(2)
            .env([("RUST_LOG".to_string(), "info".to_string())].into())
            .build()
            .unwrap()
    };
    let (v1, v2) = (
        worker("public.ecr.aws/docker/library/busybox:1.36"),
        worker("public.ecr.aws/docker/library/busybox:1.37"),
    );
    lifecycle(
        &ctx,
        "container_service",
        &env,
        &[&v1],
        &[&v2],
        Normalizer::new(),
    )
    .await;
}

#[tokio::test]
async fn frontend_app_plans() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("snap-fe").build().unwrap();
    let web = |health: &str| {
        FrontendApp::builder()
            .service(service("web", "public.ecr.aws/nginx/nginx:1.27"))
            .paths(vec!["/app/*".to_string()])
            .health_check_path(health)
            .build()
            .unwrap()
    };
    let (v1, v2) = (web("/health"), web("/ready"));
    lifecycle(
        &ctx,
        "frontend_app",
        &env,
        &[&v1],
        &[&v2],
        Normalizer::new(),
    )
    .await;
}

#[tokio::test]
async fn backend_api_plans() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("snap-be").build().unwrap();
    let api = |image: &str| {
        BackendApi::builder()
            .service(service("orders", image))
            .routes(vec!["GET /orders".into(), "POST /orders".into()])
            .build()
            .unwrap()
    };
    let (v1, v2) = (
        api("public.ecr.aws/nginx/nginx:1.27"),
        api("public.ecr.aws/nginx/nginx:1.28"),
    );
    lifecycle(&ctx, "backend_api", &env, &[&v1], &[&v2], Normalizer::new()).await;
}

#[tokio::test]
async fn scheduled_job_plans() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("snap-job").build().unwrap();
    let job = |schedule: &str| {
        ScheduledJob::builder()
            .name("etl")
            .image("public.ecr.aws/docker/library/busybox:1.36")
            .schedule(schedule)
            .command(vec!["sh".into(), "-c".into(), "echo $ETL_JOB".into()])
            .job_env([("ETL_JOB".to_string(), "import".to_string())].into())
            .memory_reservation(256)
            .build()
            .unwrap()
    };
    let (v1, v2) = (job("rate(1 hour)"), job("cron(0 2 * * ? *)"));
    lifecycle(
        &ctx,
        "scheduled_job",
        &env,
        &[&v1],
        &[&v2],
        Normalizer::new(),
    )
    .await;
}

/// The README demo's apps (`fargate_examples::dashboard_apps`, rebuilt here: fargate-examples
/// depends on this crate): an API behind the shared ALB with a database secret, and a nightly
/// ETL job.
fn dashboard(image: &str, db_secret: &str) -> (FrontendApp, ScheduledJob) {
    let api = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("api")
                .image(image)
                .cpu(512)
                .memory(1024)
                .port(8000)
                .desired_count(2)
                .command(vec![
                    "python".into(),
                    "-m".into(),
                    "http.server".into(),
                    "8000".into(),
                ])
                .env(
                    [
                        ("APP_ENV".to_string(), "snap-demo".to_string()),
                        ("LOG_LEVEL".to_string(), "info".to_string()),
                    ]
                    .into(),
                )
                .secrets([("DATABASE_URL".to_string(), db_secret.to_string())].into())
                .memory_reservation(512)
                .build()
                .unwrap(),
        )
        .health_check_path("/")
        .build()
        .unwrap();
    let etl = ScheduledJob::builder()
        .name("etl")
        .image(image)
        .schedule("cron(0 2 * * ? *)")
        .cpu(512)
        .memory(1024)
        .command(vec![
            "python".into(),
            "-c".into(),
            "import os; print('ETL job', os.environ.get('ETL_JOB'), 'done')".into(),
        ])
        .secrets([("DATABASE_URL".to_string(), db_secret.to_string())].into())
        .job_env([("ETL_JOB".to_string(), "import-transactions".to_string())].into())
        .memory_reservation(512)
        .build()
        .unwrap();
    (api, etl)
}

#[tokio::test]
async fn dashboard_apps_plans() {
    let ctx = fargate_testkit::context().await;
    let secrets: fargate_testkit::aws_sdk_secretsmanager::Client = ctx.client();
    let created = secrets
        .create_secret()
        .name("snap-demo/db")
        .secret_string("postgresql://app:pw@db.internal/app")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_string();
    let env = Environment::builder().name("snap-demo").build().unwrap();
    let (api1, etl1) = dashboard("public.ecr.aws/docker/library/python:3.12-slim", &arn);
    let (api2, etl2) = dashboard("public.ecr.aws/docker/library/python:3.13-slim", &arn);
    // The secret's ARN ends in a random suffix.
    let n = Normalizer::new().replace(&arn, "<db-secret-arn>");
    lifecycle(
        &ctx,
        "dashboard_apps",
        &env,
        &[&api1, &etl1],
        &[&api2, &etl2],
        n,
    )
    .await;
}
