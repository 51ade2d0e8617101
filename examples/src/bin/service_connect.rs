//! ECS Service Connect: an `api` that publishes its port 8080 as `http://api.mesh.internal:8080`
//! in the environment's private namespace, and a `client` worker (client-only) that calls it
//! through the Service Connect proxy.
//!
//! It plans (the plan shows the api's named port mapping and the services'
//! `service_connect.*` fields), applies with live progress, re-plans to show "No changes."
//! and destroys everything it created, the namespace included (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin service_connect            # local AWS emulator
//! cargo run -p fargate-examples --bin service_connect -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin service_connect -- --keep  # do not destroy at the end
//! ```
//!
//! The local emulator keeps the namespace and the task definitions' named port mappings
//! but ignores the services' `serviceConnectConfiguration`: the proxy runs on AWS only.

use clap::Parser;
use fargate_deploy::service_connect::{AppProtocol, ServiceConnect};
use fargate_deploy::{App, ContainerService, Deployer, Environment};

/// Deploy two apps talking through Service Connect, then tear them down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "mesh")]
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

    let namespace = format!("{}.internal", args.env);
    let env = Environment::builder()
        .name(args.env.clone())
        .private_namespace(namespace.clone())
        .build()?;
    let api = ContainerService::builder()
        .name("api")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .port(8080)
        .command(vec![
            "sh".into(),
            "-c".into(),
            "mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www".into(),
        ])
        .service_connect(ServiceConnect {
            app_protocol: Some(AppProtocol::Http),
            ..ServiceConnect::server()
        })
        .build()?;
    let client = ContainerService::builder()
        .name("client")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .command(vec![
            "sh".into(),
            "-c".into(),
            format!("while true; do wget -qO- http://api.{namespace}:8080/; sleep 30; done"),
        ])
        .service_connect(ServiceConnect::client_only())
        .build()?;
    let apps: [&dyn App; 2] = [&api, &client];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    fargate_examples::apply(&deployer, plan, "applied").await?;
    println!("\nthe client reaches the api at http://api.{namespace}:8080");

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
