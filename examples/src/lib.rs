//! Shared helpers for the examples: choosing where to deploy (the local
//! emulator or real AWS), `RUST_LOG` tracing and live progress, all from
//! [`fargate_local`], plus printing an apply and an error.

pub use fargate_local::{Endpoint, MotoError, Target, init_tracing, progress};

/// The local AWS emulator (the moto server, installed into `target/` on
/// first use), with a fresh account; or your AWS config when `aws` is true
/// (your default credentials chain, `AWS_PROFILE`, `AWS_REGION` and
/// `AWS_ENDPOINT_URL`). `target.endpoint` says which, and prints the
/// endpoint URL whenever one is configured.
///
/// # Errors
/// When the emulator is asked for and cannot be installed or started.
pub async fn target(aws: bool) -> Result<Target, MotoError> {
    Target::new(aws).await
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
