//! The "common layer / back end / front end" layout in one environment: the
//! environment is the common layer (VPC, subnets, ECS cluster and the shared
//! load balancers); the back end is an API (a BackendApi behind API Gateway,
//! a VPC link and the internal NLB); the front end is a web app (a
//! FrontendApp behind a rule on the public ALB). Both are deployed together,
//! on the same network and cluster.
//!
//! It plans, applies with live progress, prints both URLs, re-plans to show
//! "No changes." and destroys everything it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin layered            # local AWS emulator
//! cargo run -p fargate-examples --bin layered -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin layered -- --keep  # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::{App, BackendApi, ContainerService, Deployer, Environment, FrontendApp};

/// Deploy an API and a web front end into one environment, then tear them down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "shop")]
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

    // Common layer: network, cluster, shared load balancers.
    let env = Environment::builder().name(args.env.clone()).build()?;
    // Back end.
    let api = BackendApi::builder()
        .service(
            ContainerService::builder()
                .name("api")
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
        .routes(vec!["ANY /{proxy+}".into()])
        .build()?;
    // Front end.
    let web = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("web")
                .image("public.ecr.aws/nginx/nginx:1.27-alpine")
                .port(80)
                .build()?,
        )
        .health_check_path("/")
        .build()?;
    let apps: [&dyn App; 2] = [&api, &web];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    let report = fargate_examples::apply(&deployer, plan, "applied").await?;
    println!("\ncluster {} runs both apps", env.cluster_name());
    for (label, key) in [("API", "api.url"), ("web", "web.url")] {
        if let Some(url) = report.outputs.get(key) {
            println!("{label} URL: {url}");
        }
    }

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
