//! # fargate-local
//!
//! Run fargate-rs locally: the local AWS emulator used by the demo, the examples and the
//! `fargate` CLI, and the small pieces those programs share.
//!
//! - [`moto()`]: the moto server (PyPI `moto[server]`, pinned to [`MOTO_VERSION`]), installed
//!   into a Python venv on first use and started on a free loopback port; it dies with the
//!   process that started it. See [`moto`](mod@moto) for where it is installed and how it runs;
//!   [`extra_moto()`] starts one more server of its own (moto answers on one core).
//! - [`account()`]: a fresh AWS account on that server ([`LocalAccount`]): the `SdkConfig` and
//!   the [`MotoAccount`] interceptor that selects the account on every request.
//! - [`Target`]: the emulator or your AWS config, and the [`Endpoint`] it really talks to, for
//!   a banner that never says "AWS" when an endpoint override is set.
//! - [`init_tracing`]: `RUST_LOG` → `tracing` output on stderr.
//! - [`progress()`]: live progress of an apply on the terminal.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! fargate_local::init_tracing();
//! let target = fargate_local::Target::emulator().await?;
//! println!("deploying to {}", target.endpoint);
//! // fargate_deploy::Deployer::with_interceptors(&target.sdk, target.interceptors.clone()).await?
//! # Ok(()) }
//! ```
//!
//! Nothing here panics on a missing Python, a failed install or a server that does not start:
//! each is a [`MotoError`] that says what to do. Test harnesses that prefer to panic (such as
//! `fargate-testkit`) do so themselves.
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod account;
pub mod moto;
mod progress;
mod target;
mod trace;

pub use account::{LocalAccount, MotoAccount, REGION, account, random_account_id, sdk_config};
pub use moto::{MOTO_VERSION, MotoError, MotoServer, Transition, extra_moto, moto};
pub use progress::progress;
pub use target::{Endpoint, Target};
pub use trace::init_tracing;
