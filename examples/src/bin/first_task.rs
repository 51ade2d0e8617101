//! The classic first Fargate task: nginx (alpine) at 0.25 vCPU / 0.5 GB, run
//! once. Here it checks its configuration and prints its version instead of
//! serving forever (to serve, deploy it as a ContainerService or FrontendApp).
//!
//! It is a ScheduledJob whose schedule is disabled, so it only runs when asked:
//! the program deploys it, runs it once, waits for it to stop, prints its task
//! id, exit code, stopped reason and logs, and destroys everything it created
//! (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin first_task            # local AWS emulator
//! cargo run -p fargate-examples --bin first_task -- --aws   # your AWS account (costs cents)
//! cargo run -p fargate-examples --bin first_task -- --keep  # do not destroy at the end
//! ```

use std::time::Duration;

use clap::Parser;
use fargate_deploy::{App, Deployer, Environment, ScheduledJob};

/// Run one Fargate task, print how it ended, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "first")]
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
    let task = ScheduledJob::builder()
        .name("hello")
        .image("public.ecr.aws/nginx/nginx:alpine")
        .cpu(256) // 0.25 vCPU
        .memory(512) // 0.5 GB
        .command(vec![
            "sh".into(),
            "-c".into(),
            "nginx -t && nginx -v && echo 'hello from Fargate'".into(),
        ])
        .schedule("rate(1 day)")
        .enabled(false) // never runs on its own: only when we run it below
        // The local emulator's RunTask fails (HTTP 500) unless a container
        // sets memory or a memory reservation.
        .memory_reservation(256)
        .build()?;
    let apps: [&dyn App; 1] = [&task];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    fargate_examples::apply(&deployer, plan, "applied").await?;

    println!("\n== run the task once and wait for it to stop");
    let (events, renderer) = fargate_examples::progress(deployer.recorder().clone());
    let outcome = deployer
        .run(&env, &task, Vec::new(), Duration::from_secs(600), events)
        .await;
    let _ = renderer.await;
    let outcome = outcome?;
    let exit = outcome.exit_code().map(|c| c.to_string());
    println!("task id:        {}", outcome.task_id());
    println!("exit code:      {}", exit.as_deref().unwrap_or("-"));
    println!(
        "stopped reason: {}",
        outcome.stopped_reason.as_deref().unwrap_or("-")
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
