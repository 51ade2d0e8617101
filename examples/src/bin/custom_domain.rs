//! A web app at its own domain, over HTTPS: the environment's `domain` is a public Route 53
//! hosted zone you own; fargate-rs requests an ACM certificate for it and `*.<domain>`
//! (validated through DNS records in the zone), serves HTTPS on the shared ALB with it
//! (HTTP redirects), and points the app's domain at the ALB with an alias record.
//!
//! On the local emulator the example first makes the hosted zone, standing in for yours. It
//! plans, applies with live progress, prints the app's URL, re-plans (no changes) and
//! destroys everything it created (unless `--keep`); the zone itself is never touched.
//!
//! ```sh
//! cargo run -p fargate-examples --bin custom_domain                      # local AWS emulator
//! cargo run -p fargate-examples --bin custom_domain -- --aws \
//!     --domain example.com --app-domain shop.example.com                # your AWS account and zone (costs money)
//! cargo run -p fargate-examples --bin custom_domain -- --keep           # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::{App, ContainerService, Deployer, Environment, FrontendApp};

/// Deploy a web app at its own domain over HTTPS, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// The environment name.
    #[arg(long, default_value = "domains")]
    env: String,
    /// The domain of a public hosted zone you own.
    #[arg(long, default_value = "example.com")]
    domain: String,
    /// The app's domain: the domain or a name under it.
    #[arg(long, default_value = "shop.example.com")]
    app_domain: String,
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
    if !args.aws {
        // The emulator's account is new: make the zone a user would already have.
        let zone = deployer
            .clients()
            .route53
            .create_hosted_zone()
            .name(&args.domain)
            .caller_reference(format!("custom-domain-example-{}", args.domain))
            .send()
            .await?;
        if let Some(z) = zone.hosted_zone() {
            println!("emulator: hosted zone {} ({})\n", z.name(), z.id());
        }
    }

    let env = Environment::builder()
        .name(args.env.clone())
        .domain(args.domain.clone())
        .build()?;
    let shop = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("shop")
                .image("public.ecr.aws/nginx/nginx:1.27-alpine")
                .port(80)
                .build()?,
        )
        .domain(args.app_domain.clone())
        .health_check_path("/index.html")
        .build()?;
    let apps: [&dyn App; 1] = [&shop];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    let report = fargate_examples::apply(&deployer, plan, "applied").await?;
    if let Some(url) = report.outputs.get("shop.url") {
        println!("\nthe shop answers at {url}");
    }
    let again = deployer.plan(&env, &apps).await?;
    println!("\n== plan again\n{again}");

    if args.keep {
        println!("\n--keep: leaving it in place; run again without --keep to destroy it");
    } else {
        let plan = deployer.plan_destroy(&env, &apps).await?;
        println!("\n== destroy\n{plan}");
        fargate_examples::apply(&deployer, plan, "destroyed").await?;
    }
    Ok(())
}
