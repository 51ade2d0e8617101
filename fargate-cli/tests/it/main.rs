//! The `fargate` CLI, run as a user would (the real binary): one integration-test binary for
//! the crate.
//!
//! Starting moto takes seconds, so the invocations run on ONE moto server that this test
//! binary starts ([`command`] sets `FARGATE_MOTO_URL` to it), each in a fresh account of its
//! own as always (and [`fargate_moto`] proves that variable and `FARGATE_MOTO_ACCOUNT`). The
//! tests about the CLI's own emulator — its start-up, its failure, its tracing, the newcomer's
//! apply-run-destroy — use [`own_emulator`]: the CLI installs and starts moto itself.
//!
//! - [`input`]: bad input is refused with exit code 3 before any AWS call;
//! - [`workflow`]: plan/apply/status/logs/run/destroy chained in one invocation, JSON and text;
//! - [`emulator`]: every example app file runs now on the emulator; memory reservations and
//!   secrets the emulator needs; the banner names the endpoint;
//! - [`setup`]: not deployed (exit 6), the emulator or the endpoint unavailable (exit 7),
//!   `RUST_LOG`, a closed stdout: never a panic;
//! - [`follow_and_continue`]: `logs --follow` until Ctrl-C (exit 0), `continue` (exit 6 when
//!   not deployed, 1 when nothing is paused);
//! - [`exec`]: `exec APP` without the Session Manager plugin (exit 7), of a job (3), not
//!   deployed (6), with no task to enter on the emulator (1);
//! - [`fargate_moto`]: `FARGATE_MOTO_URL` (a running moto server, a fresh account per
//!   invocation) and `FARGATE_MOTO_ACCOUNT` (one account across invocations, and on an
//!   endpoint override with `--aws`).

mod app_schema;
mod emulator;
mod exec;
mod fargate_moto;
mod follow_and_continue;
mod input;
mod setup;
mod workflow;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `fargate` binary with a clean environment for the things it reads: no colours, no
/// `RUST_LOG`, no endpoint override, no AWS profile or config file of the machine, no moto
/// account; its local emulator is this test binary's moto server (`FARGATE_MOTO_URL`), started
/// here on first use, so each invocation gets a fresh account on it.
fn command() -> Command {
    let mut c = own_emulator();
    c.env("FARGATE_MOTO_URL", shared_emulator().url());
    c
}

/// This test binary's moto server, on which a task is STOPPED at its first DescribeTasks
/// (`ecs::task` transitions immediately, server-wide): `run` would otherwise poll on a real
/// clock (1 s, 2 s, 4 s, 5 s) through moto's four task states, ~12 s per task. The states
/// themselves are the library's to prove (fargate-deploy's run-task tests), and the CLI's
/// own emulator keeps moto's default ([`own_emulator`]: the newcomer's `run` in
/// `workflow::human_output_applies_the_dashboard_runs_the_job_and_destroys`).
fn shared_emulator() -> &'static fargate_testkit::MotoServer {
    static READY: std::sync::OnceLock<&'static fargate_testkit::MotoServer> =
        std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let server = fargate_testkit::MotoServer::shared();
        // From a thread of its own: the caller may be inside a tokio runtime.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(
                    server.set_transition("ecs::task", fargate_testkit::Transition::Immediate),
                )
        })
        .join()
        .unwrap();
        server
    })
}

/// Like [`command`], but the CLI starts its own local emulator, as for a user (no
/// `FARGATE_MOTO_URL`): for the tests of that start-up.
fn own_emulator() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fargate"));
    c.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("FARGATE_MOTO_URL")
        .env_remove("FARGATE_MOTO_ACCOUNT")
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
    // No emulator at all: one that were started or called would fail with exit code 7.
    let out = run(own_emulator()
        .args(["-f", path.to_str().unwrap(), "plan"])
        .env("FARGATE_MOTO_SERVER", "/nonexistent"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains(field), "{field} not named in:\n{stderr}");
    assert!(
        !stderr.contains("moto"),
        "bad input must be refused before starting the emulator:\n{stderr}"
    );
}
