//! The `fargate` CLI, run as a user would (the real binary, against the local emulator it
//! starts itself, or against a moto server this test binary starts): one integration-test
//! binary for the crate.
//!
//! - [`input`]: bad input is refused with exit code 3 before any AWS call;
//! - [`workflow`]: plan/apply/status/logs/run/destroy chained in one invocation, JSON and text;
//! - [`emulator`]: every example app file runs now on the emulator; memory reservations and
//!   secrets the emulator needs; the banner names the endpoint;
//! - [`setup`]: not deployed (exit 6), the emulator or the endpoint unavailable (exit 7),
//!   `RUST_LOG`, a closed stdout: never a panic.

mod emulator;
mod input;
mod setup;
mod workflow;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `fargate` binary with a clean environment for the things it reads: no colours, no
/// `RUST_LOG`, no endpoint override, no AWS profile or config file of the machine.
fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fargate"));
    c.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent/fargate-cli-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/fargate-cli-test/credentials",
        );
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_ENDPOINT_URL_") {
            c.env_remove(k);
        }
    }
    c
}

fn fargate(args: &[&str]) -> Output {
    run(command().args(args))
}

fn run(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("could not start fargate: {e}"))
}

/// An app file of `examples/apps`.
fn app_file(name: &str) -> String {
    format!("{}/{name}", apps_dir())
}

fn apps_dir() -> String {
    format!("{}/../examples/apps", env!("CARGO_MANIFEST_DIR"))
}

/// A description file in a fresh temporary directory.
pub(crate) fn temp_file(test: &str, json: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fargate-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn assert_bad_input(test: &str, json: &str, field: &str) {
    let path = temp_file(test, json);
    let out = fargate(&["-f", path.to_str().unwrap(), "plan"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains(field), "{field} not named in:\n{stderr}");
    assert!(
        !stderr.contains("moto"),
        "bad input must be refused before starting the emulator:\n{stderr}"
    );
}
