//! The fargate-rs demo: a financial-dashboard style deployment, end to end.
//!
//! An API container (0.5 vCPU / 1 GB, port 8000) with environment variables,
//! a database URL from Secrets Manager and awslogs logging, two tasks behind
//! an ALB; and a nightly ETL job running the same image with an environment
//! override selecting the job.
//!
//! It plans, applies with live progress, shows status and URLs, runs the ETL
//! job now and prints its exit code and logs, re-applies to show "no changes",
//! and destroys everything it created.
//!
//! ```sh
//! cargo run -p fargate-examples --bin demo            # local AWS emulator
//! cargo run -p fargate-examples --bin demo -- --aws --db-secret-arn <ARN>  # your AWS account (costs money)
//! cargo run -p fargate-examples --bin demo -- --keep  # do not destroy at the end
//! ```

use std::time::{Duration, Instant};

use clap::Parser;
use fargate_deploy::{ApplyOptions, Deployer, Environment};

/// Deploy the financial-dashboard scenario, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "demo")]
    env: String,
    /// The image of the API and the ETL job.
    #[arg(
        long,
        default_value = "public.ecr.aws/docker/library/python:3.12-alpine"
    )]
    image: String,
    /// The Secrets Manager ARN of the database URL (needed with --aws; on the emulator the
    /// demo creates one).
    #[arg(long)]
    db_secret_arn: Option<String>,
}

const NEEDS_SECRET: &str = "--aws needs --db-secret-arn: the ARN of the Secrets Manager secret \
     holding the database URL (fargate-rs references secrets, it does not create them)";

#[tokio::main]
async fn main() {
    fargate_examples::init_tracing();
    if let Err(e) = run(Args::parse()).await {
        fargate_examples::report_error(e.as_ref());
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    if args.aws && args.db_secret_arn.is_none() {
        return Err(NEEDS_SECRET.into());
    }
    let target = fargate_examples::target(args.aws).await?;
    println!("fargate-rs demo: deploying to {}\n", target.endpoint);

    let deployer = Deployer::with_interceptors(&target.sdk, target.interceptors.clone()).await?;
    let db_secret = match &args.db_secret_arn {
        Some(arn) => arn.clone(),
        None if target.is_emulator() => {
            // The emulator starts empty, and fargate-rs references secrets but never creates
            // them (the pre-flight check refuses a missing one): make the database URL here.
            let name = format!("{}/dashboard/db-url", args.env);
            let created = deployer
                .clients()
                .secrets
                .create_secret()
                .name(&name)
                .secret_string("postgres://dashboard:demo@db.internal:5432/dashboard")
                .send()
                .await?;
            println!("created the secret {name} (the database URL) in the emulator\n");
            created
                .arn()
                .ok_or("the emulator's CreateSecret returned no ARN")?
                .to_string()
        }
        None => return Err(NEEDS_SECRET.into()),
    };

    let env = Environment::builder().name(args.env.clone()).build()?;
    let (api, etl) = fargate_examples::dashboard_apps(&args.env, &args.image, &db_secret)?;
    let apps: [&dyn fargate_deploy::App; 2] = [&api, &etl];

    println!("== plan");
    let plan = deployer.plan(&env, &apps).await?;
    println!("{plan}");
    println!(
        "{}",
        plan.estimate_cost(&fargate_core::cost::PricingTable::default())
    );

    println!("== apply");
    let (events, renderer) = fargate_examples::progress(deployer.recorder().clone());
    let report = deployer
        .apply_with(
            plan,
            ApplyOptions {
                events,
                ..ApplyOptions::default()
            },
        )
        .await;
    let _ = renderer.await;
    let report = report?;
    println!(
        "applied in {:.1}s: {} ({} AWS calls, {} mutating, critical path {} calls)",
        report.elapsed.as_secs_f64(),
        report.summary,
        report.calls.total,
        report.calls.mutating,
        report.calls.critical_path
    );
    for (k, v) in &report.outputs {
        println!("  {k} = {v}");
    }

    println!("\n== status");
    let status = deployer.status(&env, &api).await?;
    println!(
        "  api: {} — {}/{} running, {} pending, task definition {}",
        status.status,
        status.running,
        status.desired,
        status.pending,
        status.task_definition.as_deref().unwrap_or("-")
    );
    for t in &status.targets {
        println!("  target {} is {}", t.target, t.state);
    }

    println!("\n== run the ETL job now");
    let (events, renderer) = fargate_examples::progress(deployer.recorder().clone());
    let outcome = deployer
        .run(
            &env,
            &etl,
            vec![etl.job_override().clone()],
            Duration::from_secs(600),
            events,
        )
        .await;
    let _ = renderer.await;
    match outcome {
        Ok(o) => {
            println!(
                "  task {} stopped: exit code {}, {}",
                o.task_id(),
                o.exit_code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                o.stopped_reason.as_deref().unwrap_or("no reason given")
            );
            for c in &o.containers {
                for line in &c.last_log_lines {
                    println!("    | {line}");
                }
            }
            if target.is_emulator() {
                println!(
                    "  (the emulator does not run containers: no exit code or logs; on AWS you see them here)"
                );
            }
        }
        Err(e) => println!("  the job failed: {e}"),
    }

    println!("\n== re-apply (nothing changed)");
    let plan = deployer.plan(&env, &apps).await?;
    println!("{plan}");
    let mark = deployer.recorder().mark();
    deployer.apply(plan).await?;
    println!(
        "  mutating calls: {}",
        deployer.recorder().mutating_calls_since(mark).len()
    );

    if args.keep {
        println!(
            "\n--keep: leaving everything in place; destroy it with the same program without --keep"
        );
    } else {
        println!("\n== destroy");
        let plan = deployer.plan_destroy(&env, &apps).await?;
        println!("{plan}");
        let (events, renderer) = fargate_examples::progress(deployer.recorder().clone());
        let report = deployer
            .apply_with(
                plan,
                ApplyOptions {
                    events,
                    ..ApplyOptions::default()
                },
            )
            .await;
        let _ = renderer.await;
        let report = report?;
        println!(
            "destroyed in {:.1}s ({} AWS calls)",
            report.elapsed.as_secs_f64(),
            report.calls.total
        );
    }
    let total = deployer.recorder().summary();
    println!(
        "\ndone in {:.1}s: {} AWS calls in all ({} mutating; {} answered with an error, mostly \"not found\" while observing)",
        started.elapsed().as_secs_f64(),
        total.total,
        total.mutating,
        total.failed
    );
    Ok(())
}
