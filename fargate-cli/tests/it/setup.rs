//! Failures that are not the app's: an app that is not deployed (exit 6), an emulator or an
//! endpoint that is not there (exit 7); `RUST_LOG`; a closed stdout. Never a panic.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::{app_file, command, fargate, own_emulator, run, text};

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn status_before_any_deploy_says_not_deployed_with_exit_code_6() {
    let file = app_file("worker.json");
    let out = fargate(&["-f", &file, "status"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(6), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("worker: not deployed (ecs:cluster tools does not exist)"),
        "{stdout}"
    );
    assert!(!stderr.contains("ClusterNotFoundException"), "{stderr}");

    let out = fargate(&["-f", &file, "status", "worker", "--json"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let status: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(status["ok"], false);
    assert_eq!(status["exit_code"], 6);
    assert_eq!(status["services"][0]["deployed"], false);
}

#[test]
fn rollback_before_any_deploy_says_not_deployed_with_exit_code_6() {
    let out = fargate(&["-f", &app_file("worker.json"), "rollback", "worker"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains(
            "not deployed: app worker is not deployed in environment tools: \
             ecs:cluster tools does not exist"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("ClusterNotFoundException"), "{stderr}");
}

#[test]
fn logs_before_any_deploy_say_not_deployed_with_exit_code_6() {
    let out = fargate(&["-f", &app_file("worker.json"), "logs", "worker"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("not deployed: app worker is not deployed"),
        "{stderr}"
    );
}

#[test]
fn status_after_the_app_was_destroyed_says_not_deployed() {
    let out = fargate(&[
        "-f",
        &app_file("worker.json"),
        "apply",
        "then",
        "destroy",
        "--apps-only",
        "then",
        "status",
        "worker",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("worker: not deployed (ecs:service tools/worker does not exist)"),
        "the cluster is kept, the service is gone:\n{stdout}"
    );
}

#[test]
fn a_moto_server_that_does_not_exist_is_exit_code_7_with_one_line_and_no_panic() {
    let out = run(own_emulator()
        .args(["plan", "-f", &app_file("dashboard.json")])
        .env("FARGATE_MOTO_SERVER", "/nonexistent"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert_no_panic(&stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "setup error: the local AWS emulator cannot start: FARGATE_MOTO_SERVER=/nonexistent \
             is not a file; unset it to let fargate-local install moto {} itself",
            fargate_testkit::MOTO_VERSION
        )],
    );

    let out = run(own_emulator()
        .args(["plan", "--json", "-f", &app_file("dashboard.json")])
        .env("FARGATE_MOTO_SERVER", "/nonexistent"));
    assert_eq!(out.status.code(), Some(7));
    let error: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(error["error"]["kind"], "setup");
}

#[test]
fn an_endpoint_that_does_not_answer_is_exit_code_7() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run(own_emulator()
        .args(["-f", &app_file("worker.json"), "plan", "--aws"])
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAFARGATECLITEST00")
        .env("AWS_SECRET_ACCESS_KEY", "fargate-cli-test")
        .env("AWS_MAX_ATTEMPTS", "1"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert_no_panic(&stderr);
    assert!(
        stderr.contains(&format!(
            "setup error: cannot connect to the endpoint {url}"
        )),
        "{stderr}"
    );
}

/// A listener that accepts connections and closes them at once (the SDK retries that, as a
/// connection lost); the number of connections it accepted so far.
fn closing_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, accepted)
}

#[test]
fn aws_max_attempts_sets_the_attempts_of_each_call_with_aws() {
    let (url, accepted) = closing_listener();
    let plan = |attempts: &str| {
        run(own_emulator()
            .args(["-f", &app_file("worker.json"), "plan", "--aws"])
            .env("AWS_ENDPOINT_URL", &url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAFARGATECLITEST00")
            .env("AWS_SECRET_ACCESS_KEY", "fargate-cli-test")
            .env("AWS_MAX_ATTEMPTS", attempts))
    };
    // The first call (STS GetCallerIdentity) is tried twice, then the endpoint is given up.
    let out = plan("2");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "setup error: cannot connect to the endpoint {url}"
        )),
        "{stderr}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "{stderr}");

    let out = plan("0");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "setup error: AWS_MAX_ATTEMPTS=0 is not a number of attempts (1 or more)"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "no call with a bad value"
    );
}

/// The CLI starts its own emulator here: its start-up is what the tracing line is about.
#[test]
fn rust_log_turns_on_tracing_lines_on_stderr_and_is_off_without_it() {
    let file = app_file("worker.json");
    let out = run(own_emulator()
        .args(["-f", &file, "status"])
        .env("RUST_LOG", "fargate_local=info"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("moto server ready"))
        .unwrap_or_else(|| panic!("no tracing line in:\n{stderr}"));
    assert!(
        line.contains("INFO") && line.contains("fargate_local"),
        "{line}"
    );

    let out = run(own_emulator().args(["-f", &file, "status"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(!stderr.contains("moto server ready"), "{stderr}");
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let mut child = command()
        .args(["-f", &app_file("worker.json"), "plan"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_no_panic(&stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}
