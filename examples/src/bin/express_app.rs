//! A web app on ECS Express Mode: AWS makes and manages its HTTPS load balancer,
//! certificate, security groups and autoscaling; fargate-rs makes its roles and log group
//! and the Express service, in the environment's cluster and subnets.
//!
//! It needs real AWS: the local emulator (moto) has no Express Mode, so this example is not
//! among those `examples/tests/examples.rs` runs against it, and without `--aws` it only
//! says so. With `--aws` it plans, applies (waiting for the deployment), prints the HTTPS
//! URL and destroys everything it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin express_app -- --aws          # your AWS account (costs money)
//! cargo run -p fargate-examples --bin express_app -- --aws --keep   # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::express::ScalingMetric;
use fargate_deploy::{App, Deployer, Environment, ExpressApp};

/// Deploy a web app on ECS Express Mode, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials (required: moto has no Express Mode).
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "express")]
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
    let env = Environment::builder().name(args.env.clone()).build()?;
    let site = ExpressApp::builder()
        .name("site")
        .image("public.ecr.aws/nginx/nginx:1.27-alpine")
        .port(80)
        .health_check_path("/")
        .min_tasks(1)
        .max_tasks(3)
        .scaling_metric(ScalingMetric::RequestsPerTarget)
        .scaling_target(500)
        .build()?;
    if !args.aws {
        println!(
            "ECS Express Mode needs real AWS (the local emulator has none): run with --aws to \
             deploy {} in environment {} (costs money)",
            site.name(),
            env.name()
        );
        return Ok(());
    }
    let target = fargate_examples::target(true).await?;
    println!("deploying to {}\n", target.endpoint);
    let deployer = Deployer::with_interceptors(&target.sdk, target.interceptors.clone()).await?;
    let apps: [&dyn App; 1] = [&site];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    let report = fargate_examples::apply(&deployer, plan, "applied").await?;
    if let Some(url) = report.outputs.get("site.url") {
        println!("\nthe site answers at {url}");
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
