//! `RUST_LOG` for programs: one subscriber setup shared by the CLI, the demo and the examples.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (tracing-subscriber's `EnvFilter`
/// syntax: `RUST_LOG=debug`, `RUST_LOG=fargate_deploy=debug,fargate_core=info`). Without
/// `RUST_LOG` nothing is printed. Directives that do not parse are ignored. Colours only on a
/// terminal and when `NO_COLOR` is unset.
///
/// Call it once, first thing in `main`; later calls (or another subscriber already installed)
/// change nothing. Returns whether this call installed the subscriber.
pub fn init_tracing() -> bool {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::OFF.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init()
        .is_ok()
}
