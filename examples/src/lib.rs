//! Shared helpers for the examples: choosing where to deploy (the local
//! emulator or real AWS), `RUST_LOG` tracing and live progress, all from
//! [`fargate_local`], plus printing an apply and an error, and the demo's
//! financial-dashboard apps ([`dashboard_apps`], which the benchmarks deploy too).

pub use fargate_local::{Endpoint, MotoError, Target, init_tracing, progress};

/// The local AWS emulator (the moto server, installed into `target/` on
/// first use), with a fresh account; or your AWS config when `aws` is true
/// (your default credentials chain, `AWS_PROFILE`, `AWS_REGION` and
/// `AWS_ENDPOINT_URL`). `target.endpoint` says which, and prints the
/// endpoint URL whenever one is configured.
///
/// # Errors
/// When the emulator is asked for and cannot be installed or started.
pub async fn target(aws: bool) -> Result<Target, MotoError> {
    Target::new(aws).await
}

/// Prints an error and its chain of causes to stderr, then exits with code 1.
pub fn report_error(e: &(dyn std::error::Error + 'static)) -> ! {
    eprintln!("\nerror: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
    std::process::exit(1);
}

/// Applies `plan` with live progress, then prints `<done> in <secs>s: <summary>`
/// with the AWS call counts, and each output (`name = value`).
///
/// # Errors
/// The failed apply.
pub async fn apply(
    deployer: &fargate_deploy::Deployer,
    plan: fargate_deploy::DeployPlan,
    done: &str,
) -> Result<fargate_deploy::ApplyReport, fargate_deploy::ApplyError> {
    let (events, renderer) = progress(deployer.recorder().clone());
    let options = fargate_deploy::ApplyOptions {
        events,
        ..fargate_deploy::ApplyOptions::default()
    };
    let report = deployer.apply_with(plan, options).await;
    let _ = renderer.await;
    let report = report?;
    println!(
        "{done} in {:.1}s: {} ({} AWS calls, {} mutating)",
        report.elapsed.as_secs_f64(),
        report.summary,
        report.calls.total,
        report.calls.mutating
    );
    for (k, v) in &report.outputs {
        println!("  {k} = {v}");
    }
    Ok(report)
}

/// The financial-dashboard apps of the README demo in environment `env_name`: an API
/// behind the shared ALB (0.5 vCPU / 1 GB, port 8000, 2 tasks, env vars, the database URL
/// from the Secrets Manager secret `db_secret`) and a nightly ETL job on EventBridge
/// Scheduler, both running `image`.
///
/// # Errors
/// A value the builders refuse (for example an empty image).
pub fn dashboard_apps(
    env_name: &str,
    image: &str,
    db_secret: &str,
) -> Result<(fargate_deploy::FrontendApp, fargate_deploy::ScheduledJob), fargate_core::Error> {
    use fargate_deploy::{ContainerService, FrontendApp, ScheduledJob};
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
                        ("APP_ENV".to_string(), env_name.to_string()),
                        ("LOG_LEVEL".to_string(), "info".to_string()),
                    ]
                    .into(),
                )
                .secrets([("DATABASE_URL".to_string(), db_secret.to_string())].into())
                .memory_reservation(512)
                .build()?,
        )
        .health_check_path("/")
        .build()?;
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
        .build()?;
    Ok((api, etl))
}
