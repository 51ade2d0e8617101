//! A nightly job: a ScheduledJob run by EventBridge Scheduler at 02:30 Paris
//! time (`cron(30 2 * * ? *)`), each run with an environment override
//! (`REPORT=daily-sales`) on top of the task definition's environment.
//!
//! It plans, applies with live progress, runs the job once now (as the
//! schedule would) and prints its exit code and last log lines, then destroys
//! everything it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin scheduled_job            # local AWS emulator
//! cargo run -p fargate-examples --bin scheduled_job -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin scheduled_job -- --keep  # do not destroy at the end
//! ```

use std::time::Duration;

use clap::Parser;
use fargate_deploy::{App, Deployer, Environment, ScheduledJob};

/// Deploy a nightly job, run it once now, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "jobs")]
    env: String,
}

#[tokio::main]
async fn main() {
    fargate_examples::init_tracing();
    if let Err(e) = run(Args::parse()).await {
        fargate_examples::report_error(e.as_ref());
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let target = fargate_examples::target(args.aws).await?;
    println!("deploying to {}\n", target.endpoint);
    let deployer = Deployer::with_interceptors(&target.sdk, target.interceptors.clone()).await?;

    let env = Environment::builder().name(args.env.clone()).build()?;
    let report = ScheduledJob::builder()
        .name("report")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .schedule("cron(30 2 * * ? *)")
        .timezone("Europe/Paris")
        .command(vec![
            "sh".into(),
            "-c".into(),
            "echo \"building $REPORT for $COMPANY\"; sleep 5; echo done".into(),
        ])
        .env([("COMPANY".to_string(), "acme".to_string())].into())
        .job_env([("REPORT".to_string(), "daily-sales".to_string())].into())
        // The local emulator's RunTask fails (HTTP 500) unless a container
        // sets memory or a memory reservation.
        .memory_reservation(256)
        .build()?;
    let apps: [&dyn App; 1] = [&report];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    fargate_examples::apply(&deployer, plan, "applied").await?;

    println!("\n== run the job now, with the schedule's override");
    let (events, renderer) = fargate_examples::progress(deployer.recorder().clone());
    let overrides = vec![report.job_override().clone()];
    let outcome = deployer
        .run(&env, &report, overrides, Duration::from_secs(600), events)
        .await;
    let _ = renderer.await;
    let outcome = outcome?;
    let exit = outcome.exit_code().map(|c| c.to_string());
    println!(
        "task {} exit code: {}",
        outcome.task_id(),
        exit.as_deref().unwrap_or("-")
    );
    for line in outcome.main().iter().flat_map(|c| &c.last_log_lines) {
        println!("  | {line}");
    }
    if target.is_emulator() {
        println!("(the emulator runs no containers, so no logs; on AWS they show here)");
    }

    if args.keep {
        println!("\n--keep: leaving it in place; run again without --keep to destroy it");
    } else {
        let plan = deployer.plan_destroy(&env, &apps).await?;
        println!("\n== destroy\n{plan}");
        fargate_examples::apply(&deployer, plan, "destroyed").await?;
    }
    Ok(())
}
