//! A web app behind the environment's shared public Application Load
//! Balancer: nginx on port 80, routed every path (`/*`), with a load balancer
//! health check path.
//!
//! It plans, applies with live progress, prints the app's URL and destroys
//! everything it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin frontend_app            # local AWS emulator
//! cargo run -p fargate-examples --bin frontend_app -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin frontend_app -- --keep  # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::{App, ContainerService, Deployer, Environment, FrontendApp};

/// Deploy a web app behind an ALB, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "web")]
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
    let site = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("site")
                .image("public.ecr.aws/nginx/nginx:1.27-alpine")
                .port(80)
                .desired_count(2)
                .build()?,
        )
        .paths(vec!["/*".into()])
        .health_check_path("/index.html")
        .build()?;
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
