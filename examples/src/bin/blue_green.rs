//! A web app deployed blue/green behind the environment's shared ALB: ECS starts the
//! new revision in a second ("alternate") target group, moves all production traffic
//! to it at once, keeps both running for a 10-minute bake, and rolls back by itself
//! when the circuit breaker (or a CloudWatch alarm named with `--alarm`) trips.
//!
//! fargate-rs adds what the strategy needs: the alternate target group (same health
//! check), a listener rule forwarding to both groups (ECS owns the weights), and the
//! role ECS assumes to move the traffic (`ecs.amazonaws.com`, with the managed policy
//! `AmazonECSInfrastructureRolePolicyForLoadBalancers`). The plan shows the strategy.
//!
//! It plans, applies with live progress, prints the app's URL and destroys everything
//! it created (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin blue_green            # local AWS emulator
//! cargo run -p fargate-examples --bin blue_green -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin blue_green -- --keep  # do not destroy at the end
//! ```

use clap::Parser;
use fargate_deploy::deployment::{HookStage, LifecycleHook};
use fargate_deploy::{App, ContainerService, Deployer, Deployment, Environment, FrontendApp};

/// Deploy a web app blue/green behind an ALB, then tear it down.
#[derive(Parser)]
struct Args {
    /// Deploy to real AWS with your default credentials instead of the local emulator.
    #[arg(long)]
    aws: bool,
    /// Keep what was deployed (skip the destroy at the end).
    #[arg(long)]
    keep: bool,
    /// Pause after the test traffic shift until `ContinueServiceDeployment` (or the
    /// hook's timeout, which rolls back).
    #[arg(long)]
    pause: bool,
    /// A CloudWatch alarm (an existing one, by name) that rolls the deployment back when it
    /// fires; repeat for several.
    #[arg(long)]
    alarm: Vec<String>,
    /// The environment name.
    #[arg(long, default_value = "bluegreen")]
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
    let mut deployment = Deployment::blue_green().bake_time_minutes(10);
    if !args.alarm.is_empty() {
        deployment = deployment.alarms(args.alarm.clone());
    }
    if args.pause {
        deployment = deployment.hook(LifecycleHook::pause([HookStage::PostTestTrafficShift]));
    }
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
        .deployment(deployment.build()?)
        // Requests with this header reach the new revision first (during the pause, try it:
        // `curl -H 'x-test: green' http://<alb>/`), then `fargate continue site` or
        // `Deployer::continue_deployment` moves production traffic.
        .test_traffic_header("x-test: green")
        .build()?;
    let apps: [&dyn App; 1] = [&site];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    let report = fargate_examples::apply(&deployer, plan, "applied").await?;
    if let Some(url) = report.outputs.get("site.url") {
        println!("\nthe site answers at {url}");
    }
    let status = deployer.status(&env, &site).await?;
    for r in &status.serving {
        let traffic = r
            .production_traffic_percent
            .map(|w| format!("{w:.0}% of traffic"))
            .unwrap_or_else(|| "traffic share unknown".into());
        println!(
            "serving: {} ({}/{} running, {traffic})",
            r.task_definition, r.running, r.requested
        );
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
