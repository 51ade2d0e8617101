//! A worker: a ContainerService with no load balancer, two tasks running a
//! busybox loop, with environment variables.
//!
//! It plans, applies with live progress, prints the outputs, re-plans to show
//! "No changes." and destroys everything it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin container_service            # local AWS emulator
//! cargo run -p fargate-examples --bin container_service -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin container_service -- --keep  # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::{App, ContainerService, Deployer, Environment};

/// Deploy a worker service, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "workers")]
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
    let worker = ContainerService::builder()
        .name("worker")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .command(vec![
            "sh".into(),
            "-c".into(),
            "while true; do echo \"$QUEUE: working\"; sleep 30; done".into(),
        ])
        .env(
            [
                ("QUEUE".to_string(), "orders".to_string()),
                ("LOG_LEVEL".to_string(), "info".to_string()),
            ]
            .into(),
        )
        .desired_count(2)
        .build()?;
    let apps: [&dyn App; 1] = [&worker];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    fargate_examples::apply(&deployer, plan, "applied").await?;

    let status = deployer.status(&env, &worker).await?;
    println!(
        "\nworker: {} — {}/{} tasks running",
        status.status, status.running, status.desired
    );

    println!("\n== re-plan (nothing changed)");
    println!("{}", deployer.plan(&env, &apps).await?);

    if args.keep {
        println!("\n--keep: leaving it in place; run again without --keep to destroy it");
    } else {
        let plan = deployer.plan_destroy(&env, &apps).await?;
        println!("\n== destroy\n{plan}");
        fargate_examples::apply(&deployer, plan, "destroyed").await?;
    }
    Ok(())
}
