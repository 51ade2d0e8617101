//! `logs APP --follow` (new lines as they are logged, `<stream> | <line>`, until Ctrl-C:
//! exit 0) and `continue APP` (not deployed: exit 6; nothing paused on the emulator, which has
//! no service deployments: exit 1 naming why).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fargate_testkit::aws_sdk_cloudwatchlogs::types::InputLogEvent;

use crate::{app_file, command, fargate, run, text};

/// The next stdout line containing `needle`, within `within`; every line read on the way is
/// kept in `seen`.
fn line_with(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    within: Duration,
    seen: &mut Vec<String>,
) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = lines.recv_timeout(left).ok()?;
        seen.push(line.clone());
        if line.contains(needle) {
            return Some(line);
        }
    }
}

#[tokio::test]
async fn logs_follow_prints_lines_logged_after_it_started_and_ctrl_c_exits_0() {
    let ctx = fargate_testkit::context().await;
    let file = app_file("worker.json");
    let applied = run(command()
        .args(["-f", &file, "apply"])
        .env("FARGATE_MOTO_ACCOUNT", ctx.account_id()));
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));

    let mut child = command()
        .args(["-f", &file, "logs", "worker", "--follow"])
        .env("FARGATE_MOTO_ACCOUNT", ctx.account_id())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    // The last-lines part comes first (the emulator runs no containers: no stream yet); the
    // tail starts from before it.
    let first = line_with(
        &lines,
        "no log stream yet",
        Duration::from_secs(60),
        &mut seen,
    );
    if first.is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("no first output: {seen:?}\n{}", text(&out.stderr));
    }

    let logs = ctx.logs();
    let stream = "worker/worker/0123456789abcdef";
    logs.create_log_stream()
        .log_group_name("/ecs/tools/worker")
        .log_stream_name(stream)
        .send()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    logs.put_log_events()
        .log_group_name("/ecs/tools/worker")
        .log_stream_name(stream)
        .log_events(
            InputLogEvent::builder()
                .timestamp(now)
                .message("hello from the test")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let printed = line_with(
        &lines,
        "hello from the test",
        Duration::from_secs(30),
        &mut seen,
    );

    let interrupt = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        printed.as_deref(),
        Some(format!("{stream} | hello from the test").as_str()),
        "stdout: {seen:?}\nstderr:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "Ctrl-C ends the tail with 0:\n{stderr}"
    );
    assert!(stderr.contains("Ctrl-C stops"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn logs_follow_and_continue_of_an_app_not_deployed_exit_6() {
    let file = app_file("worker.json");
    for args in [
        ["-f", file.as_str(), "logs", "worker", "--follow"].as_slice(),
        ["-f", file.as_str(), "continue", "worker"].as_slice(),
        ["-f", file.as_str(), "continue", "worker", "--reject"].as_slice(),
    ] {
        let out = fargate(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{args:?}:\n{stderr}");
        assert!(stderr.contains("not deployed"), "{args:?}:\n{stderr}");
    }
}

#[test]
fn continue_without_a_paused_deployment_fails_naming_why() {
    let file = app_file("worker.json");
    let out = fargate(&["-f", &file, "apply", "then", "continue", "worker"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("has no service deployment in flight"),
        "{stderr}"
    );

    let out = fargate(&["-f", &file, "--json", "apply", "then", "continue", "worker"]);
    let stdout = text(&out.stdout);
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(last["ok"], false, "{stdout}");
    assert_eq!(last["exit_code"], 1, "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}
