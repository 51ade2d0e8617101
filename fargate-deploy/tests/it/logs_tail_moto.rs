//! Following an app's logs (`Deployer::tail_logs`) against the moto server: lines put into
//! the app's log group after the tail started are given to the sink, each once, then the
//! tail stops on cancel; lines of other apps' streams are not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fargate_core::exec::CancellationToken;
use fargate_deploy::logs::LogLine;
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_cloudwatchlogs::types::InputLogEvent;
use fargate_testkit::{TestContext, context};

use crate::support::moto_clients;

async fn put(ctx: &TestContext, group: &str, stream: &str, messages: &[&str]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let events: Vec<InputLogEvent> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            InputLogEvent::builder()
                .timestamp(now + i as i64)
                .message(*m)
                .build()
                .unwrap()
        })
        .collect();
    ctx.logs()
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

/// Waits (real time, at most 20 s) until `lines` holds `n` lines.
async fn wait_for(lines: &Arc<Mutex<Vec<LogLine>>>, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while lines.lock().unwrap().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {:?} after 20 s",
            lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn lines_put_after_the_tail_started_are_seen_once_then_the_tail_stops_on_cancel() {
    let ctx = context().await;
    let logs = ctx.logs();
    let group = "/ecs/prod/web";
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    for stream in ["web/web/task1", "web/web/task2", "other/other/task3"] {
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
            .unwrap();
    }
    // Before the tail's start: not shown.
    put(&ctx, group, "web/web/task1", &["old line"]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;

    let env = Environment::builder().name("prod").build().unwrap();
    let app = ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    let deployer = Deployer::from_clients(moto_clients(&ctx), ctx.recorder());
    let cancel = CancellationToken::new();
    let lines = Arc::new(Mutex::new(Vec::<LogLine>::new()));
    let since = SystemTime::now();
    let tail = tokio::spawn({
        let (cancel, lines) = (cancel.clone(), lines.clone());
        async move {
            deployer
                .tail_logs(&env, &app, since, &cancel, |l| {
                    lines.lock().unwrap().push(l)
                })
                .await
        }
    });

    put(&ctx, group, "web/web/task1", &["first", "second"]).await;
    put(&ctx, group, "other/other/task3", &["not ours"]).await;
    wait_for(&lines, 2).await;
    put(&ctx, group, "web/web/task2", &["third"]).await;
    wait_for(&lines, 3).await;
    // Two more polls (1 s and 2 s apart) see the same events again: still given once.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    cancel.cancel();
    let report = tokio::time::timeout(Duration::from_secs(5), tail)
        .await
        .expect("the tail stops on cancel")
        .unwrap()
        .unwrap();

    let seen: Vec<(String, String)> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| (l.stream.clone(), l.message.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("web/web/task1".to_string(), "first".to_string()),
            ("web/web/task1".to_string(), "second".to_string()),
            ("web/web/task2".to_string(), "third".to_string()),
        ]
    );
    assert_eq!(report.lines, 3);
    assert!(report.polls >= 3, "{report:?}");
    let calls: Vec<String> = ctx
        .recorder()
        .records()
        .iter()
        .filter(|r| r.operation == "FilterLogEvents")
        .map(|r| r.name())
        .collect();
    assert_eq!(calls.len() as u64, report.polls, "one page per poll here");
}
