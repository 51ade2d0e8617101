//! A queue worker: a ContainerService with its own SQS queue (`<env>-worker`) and
//! dead-letter queue (`<env>-worker-dlq`, after 3 receives), `QUEUE_URL` in its task and a
//! task role that may work that queue only, scaling from 1 to 5 tasks on the backlog per
//! task (10 visible messages per running task).
//!
//! It plans, applies with live progress, prints the queue URL, its dead-letter queue and the
//! scaling policy, sends a few messages with the SQS client, re-plans to show "No changes."
//! (messages are data, not configuration) and destroys everything it created, both queues
//! included (unless `--keep`).
//!
//! ```sh
//! cargo run -p fargate-examples --bin queue_worker            # local AWS emulator
//! cargo run -p fargate-examples --bin queue_worker -- --aws   # your AWS account (costs money)
//! cargo run -p fargate-examples --bin queue_worker -- --keep  # do not destroy at the end
//! ```
//!
//! On AWS the backlog metric needs Container Insights on the cluster (`RunningTaskCount`).

use clap::Parser;
use fargate_deploy::autoscaling::AutoscalingSpec;
use fargate_deploy::queue::QueueWorker;
use fargate_deploy::{App, ContainerService, Deployer, Environment};

/// Deploy a queue worker, send it messages, then tear it down.
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
    /// How many messages to send.
    #[arg(long, default_value_t = 3)]
    messages: u32,
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
            "while true; do echo \"working $QUEUE_URL\"; sleep 30; done".into(),
        ])
        .autoscaling(AutoscalingSpec::new(1, 5, vec![])?)
        .queue(QueueWorker {
            max_receives: 3,
            visibility_timeout_secs: 60,
            messages_per_task: Some(10),
            ..QueueWorker::default()
        })
        .build()?;
    let apps: [&dyn App; 1] = [&worker];

    let plan = deployer.plan(&env, &apps).await?;
    println!("== plan\n{plan}\n== apply");
    fargate_examples::apply(&deployer, plan, "applied").await?;

    // What was made, read back with the deployer's own clients.
    let clients = deployer.clients();
    let queue = format!("{}-worker", args.env);
    let url = clients
        .sqs
        .get_queue_url()
        .queue_name(&queue)
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names("RedrivePolicy".into())
        .send()
        .await?;
    let redrive = attributes
        .attributes()
        .and_then(|a| a.iter().find(|(k, _)| k.as_str() == "RedrivePolicy"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    println!("\nqueue url:        {url}");
    println!("dead-letter queue: {redrive}");
    let policies = clients
        .autoscaling
        .describe_scaling_policies()
        .service_namespace("ecs".into())
        .send()
        .await?;
    for p in policies.scaling_policies() {
        let target = p
            .target_tracking_scaling_policy_configuration()
            .map(|c| c.target_value())
            .unwrap_or_default();
        println!(
            "scaling policy:   {} on {} (target {target} messages per task)",
            p.policy_name(),
            p.resource_id()
        );
    }

    // Work for the worker: messages are data, the next plan has nothing to change.
    for i in 1..=args.messages {
        clients
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(format!("job {i}"))
            .send()
            .await?;
    }
    let visible = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names("ApproximateNumberOfMessages".into())
        .send()
        .await?
        .attributes()
        .and_then(|a| {
            a.iter()
                .find(|(k, _)| k.as_str() == "ApproximateNumberOfMessages")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_default();
    println!(
        "\nsent {} messages; {visible} waiting in {queue}",
        args.messages
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
