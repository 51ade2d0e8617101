//! Shared helpers for the examples: choosing where to deploy (the local
//! emulator or real AWS) and rendering progress events with indicatif.

use std::collections::HashMap;
use std::time::Duration;

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use fargate_core::exec::Event;
use fargate_core::{CallRecorder, EventSink};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// Where the example deploys.
pub struct Target {
    /// The AWS config to use.
    pub sdk: aws_types::SdkConfig,
    /// Interceptors to attach (the emulator's account header).
    pub interceptors: Vec<SharedInterceptor>,
    /// A human description ("local emulator at ..." or "AWS account ... in ...").
    pub description: String,
    /// Whether this is the local emulator.
    pub emulator: bool,
}

/// The local AWS emulator (the moto server, installed into `target/` on
/// first use), with a fresh account; or real AWS when `aws` is true (your
/// default credentials chain, `AWS_PROFILE` and `AWS_REGION`).
pub async fn target(aws: bool) -> Target {
    if aws {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "(no region set)".into());
        return Target {
            sdk,
            interceptors: Vec::new(),
            description: format!("REAL AWS, region {region} (your default credentials)"),
            emulator: false,
        };
    }
    let ctx = fargate_testkit::context().await;
    Target {
        description: format!(
            "the local AWS emulator (moto {}) at {}, account {}",
            fargate_testkit::MOTO_VERSION,
            ctx.url(),
            ctx.account_id()
        ),
        sdk: ctx.sdk_config(),
        interceptors: vec![SharedInterceptor::new(fargate_testkit::MotoAccount::new(
            ctx.account_id(),
        ))],
        emulator: true,
    }
}

/// Renders step events as spinners (one per running step) with the number
/// of AWS calls so far. Drop the sink and await the handle to finish.
pub fn progress(recorder: CallRecorder) -> (EventSink, JoinHandle<()>) {
    let (sink, rx) = EventSink::channel();
    let handle = tokio::spawn(render(rx, recorder));
    (sink, handle)
}

async fn render(mut rx: UnboundedReceiver<Event>, recorder: CallRecorder) {
    let multi = MultiProgress::new();
    let running =
        ProgressStyle::with_template("  {spinner} {prefix:.bold} {wide_msg:.dim} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let total = multi.add(ProgressBar::new_spinner());
    total.enable_steady_tick(Duration::from_millis(120));
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    let (mut done, mut failed) = (0usize, 0usize);
    while let Some(event) = rx.recv().await {
        match event {
            Event::StepStarted { step, .. } => {
                let bar = multi.insert_before(&total, ProgressBar::new_spinner());
                bar.set_style(running.clone());
                bar.set_prefix(step.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(step, bar);
            }
            Event::Progress { step, message, .. } => {
                if let Some(bar) = bars.get(&step) {
                    bar.set_message(message);
                }
            }
            Event::StepFinished { step, elapsed } => {
                done += 1;
                if let Some(bar) = bars.remove(&step) {
                    bar.finish_and_clear();
                }
                if elapsed > Duration::from_millis(500) {
                    let _ = multi.println(format!("  ✓ {step} ({:.1}s)", elapsed.as_secs_f64()));
                }
            }
            Event::StepFailed { step, error, .. } => {
                failed += 1;
                if let Some(bar) = bars.remove(&step) {
                    bar.finish_and_clear();
                }
                let first = error.lines().next().unwrap_or_default().to_string();
                let _ = multi.println(format!("  ✗ {step}: {first}"));
            }
            _ => {}
        }
        let calls = recorder.summary();
        total.set_message(format!(
            "{done} steps done{}, {} AWS calls ({} mutating)",
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            },
            calls.total,
            calls.mutating
        ));
    }
    for (_, bar) in bars {
        bar.finish_and_clear();
    }
    total.finish_and_clear();
}

/// Prints an error and its chain of causes to stderr, then exits with code 1.
pub fn report_error(e: &(dyn std::error::Error + 'static)) -> ! {
    eprintln!("\nerror: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
    std::process::exit(1);
}

/// Applies `plan` with live progress, then prints `<done> in <secs>s: <summary>`
/// with the AWS call counts, and each output (`name = value`).
///
/// # Errors
/// The failed apply.
pub async fn apply(
    deployer: &fargate_deploy::Deployer,
    plan: fargate_deploy::DeployPlan,
    done: &str,
) -> Result<fargate_deploy::ApplyReport, fargate_deploy::ApplyError> {
    let (events, renderer) = progress(deployer.recorder().clone());
    let options = fargate_deploy::ApplyOptions {
        events,
        ..fargate_deploy::ApplyOptions::default()
    };
    let report = deployer.apply_with(plan, options).await;
    let _ = renderer.await;
    let report = report?;
    println!(
        "{done} in {:.1}s: {} ({} AWS calls, {} mutating)",
        report.elapsed.as_secs_f64(),
        report.summary,
        report.calls.total,
        report.calls.mutating
    );
    for (k, v) in &report.outputs {
        println!("  {k} = {v}");
    }
    Ok(report)
}
