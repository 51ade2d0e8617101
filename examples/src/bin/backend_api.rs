//! An API behind API Gateway: an HTTP API with routes `GET /items` and
//! `POST /items` and stage throttling, over a VPC link to the environment's
//! internal Network Load Balancer, which forwards to the API's tasks.
//!
//! It plans, applies with live progress, prints the invoke URL and destroys
//! everything it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin backend_api            # local AWS emulator
//! cargo run -p fargate-examples --bin backend_api -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin backend_api -- --keep  # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::{App, BackendApi, ContainerService, Deployer, Environment};

/// Deploy an API behind API Gateway, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "apis")]
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
    let items = BackendApi::builder()
        .service(
            ContainerService::builder()
                .name("items")
                .image("public.ecr.aws/docker/library/python:3.12-alpine")
                .command(vec![
                    "python".into(),
                    "-m".into(),
                    "http.server".into(),
                    "8080".into(),
                ])
                .port(8080)
                .build()?,
        )
        .routes(vec!["GET /items".into(), "POST /items".into()])
        // (burst, requests per second) for every route.
        .throttling(fargate_deploy::Throttling::new(100, 50.0))
        .build()?;
    let apps: [&dyn App; 1] = [&items];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    let report = fargate_examples::apply(&deployer, plan, "applied").await?;
    if let Some(url) = report.outputs.get("items.url") {
        println!("\ntry: curl {}/items", url.trim_end_matches('/'));
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
