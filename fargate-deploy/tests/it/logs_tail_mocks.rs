//! Following an app's logs (`Deployer::tail_logs`, `logs::LogTail`) against mocked
//! CloudWatch Logs, on a paused clock: the FilterLogEvents polls (start time, pages by
//! nextToken), the events at the boundary time given once (by eventId), the waits between
//! polls (1 s doubling to 8 s while nothing comes, back to 1 s when lines arrive), the stop
//! on cancel, and a missing log group as "not deployed".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fargate_core::exec::CancellationToken;
use fargate_core::{Error, ResourceId};
use fargate_deploy::logs::{LogLine, LogTail, TailReport};
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_cloudwatchlogs::Client as Logs;
use fargate_testkit::aws_sdk_cloudwatchlogs::operation::filter_log_events::{
    FilterLogEventsError, FilterLogEventsOutput,
};
use fargate_testkit::aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use fargate_testkit::aws_smithy_mocks::mock;
use fargate_testkit::{CallRecorder, aws_error_meta};

use crate::support::Mocks;

fn event(id: &str, ts: i64, message: &str) -> FilteredLogEvent {
    FilteredLogEvent::builder()
        .event_id(id)
        .log_stream_name("web/web/0123456789abcdef")
        .timestamp(ts)
        .message(message)
        .build()
}

fn page(events: Vec<FilteredLogEvent>, next: Option<&str>) -> FilterLogEventsOutput {
    FilterLogEventsOutput::builder()
        .set_events(Some(events))
        .set_next_token(next.map(str::to_string))
        .build()
}

fn env_and_app() -> (Environment, ContainerService) {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    (env, app)
}

/// One FilterLogEvents request as the mock saw it: when (ms on the paused clock since the
/// tail started), its startTime, its nextToken.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    at_ms: u128,
    start_time: Option<i64>,
    token: Option<String>,
}

#[tokio::test(start_paused = true)]
async fn the_tail_follows_pages_skips_boundary_repeats_and_backs_off_until_lines_arrive() {
    let t0 = tokio::time::Instant::now();
    let cancel = CancellationToken::new();
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (a, b, c) = (
        event("e1", 1_000, "a"),
        event("e2", 2_000, "b"),
        event("e3", 3_000, "c"),
    );
    let d = event("e4", 3_000, "d");
    let e = event("e5", 5_000, "e");
    let script: Vec<FilterLogEventsOutput> = vec![
        // poll 1: two pages
        page(vec![a, b], Some("page-2")),
        page(vec![c.clone()], None),
        // poll 2: e3 again at the boundary time (not given twice), e4 new at the same time
        page(vec![c.clone(), d.clone()], None),
        // poll 3: both again: nothing new
        page(vec![c, d], None),
        // polls 4 to 7: nothing
        page(vec![], None),
        page(vec![], None),
        page(vec![], None),
        page(vec![], None),
        // poll 8: a line again
        page(vec![e], None),
        // poll 9: nothing; the tail is cancelled while it waits after it
        page(vec![], None),
    ];
    let last = script.len() - 1;
    let filter = mock!(Logs::filter_log_events)
        .match_requests(|r| {
            r.log_group_name() == Some("/ecs/prod/web")
                && r.log_stream_name_prefix() == Some("web/")
        })
        .then_compute_output({
            let (seen, calls, cancel) = (seen.clone(), calls.clone(), cancel.clone());
            move |r| {
                seen.lock().unwrap().push(Seen {
                    at_ms: t0.elapsed().as_millis(),
                    start_time: r.start_time(),
                    token: r.next_token().map(str::to_string),
                });
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n >= last {
                    cancel.cancel();
                }
                script[n.min(last)].clone()
            }
        });
    let clients = Mocks {
        logs: vec![&filter],
        ..Mocks::default()
    }
    .clients();
    let deployer = Deployer::from_clients(clients, CallRecorder::new());
    let (env, app) = env_and_app();
    let since = UNIX_EPOCH + Duration::from_millis(500);
    let mut lines: Vec<LogLine> = Vec::new();

    let report = deployer
        .tail_logs(&env, &app, since, &cancel, |l| lines.push(l))
        .await
        .unwrap();

    let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(
        messages,
        ["a", "b", "c", "d", "e"],
        "each event once, in order"
    );
    assert_eq!(lines[0].stream, "web/web/0123456789abcdef");
    assert_eq!(lines[0].timestamp_ms, 1_000);
    assert_eq!(lines[0].event_id.as_deref(), Some("e1"));
    let seen = seen.lock().unwrap().clone();
    let at: Vec<u128> = seen.iter().map(|s| s.at_ms).collect();
    // The second page at once; 1 s after polls with lines (1, 2), then 1, 2, 4, 8, 8 s
    // after empty ones (the 8 s cap holds), 1 s again after the poll with a line (8).
    assert_eq!(
        at,
        [
            0, 0, 1_000, 2_000, 3_000, 5_000, 9_000, 17_000, 25_000, 26_000
        ]
    );
    let starts: Vec<Option<i64>> = seen.iter().map(|s| s.start_time).collect();
    let mut expected = vec![Some(500), Some(500)];
    expected.extend([Some(3_000); 7]);
    expected.push(Some(5_000));
    assert_eq!(starts, expected, "each poll starts at the newest time seen");
    let tokens: Vec<Option<&str>> = seen.iter().map(|s| s.token.as_deref()).collect();
    assert_eq!(tokens[1], Some("page-2"));
    assert!(
        tokens
            .iter()
            .enumerate()
            .all(|(i, t)| i == 1 || t.is_none())
    );
    assert_eq!(
        report,
        TailReport {
            lines: 5,
            polls: 9,
            resume_from_ms: 5_000,
        }
    );
    // Cancelled while waiting after poll 9: no further call.
    assert_eq!(filter.num_calls(), 10);
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_the_tail_while_it_waits() {
    let cancel = CancellationToken::new();
    let filter = mock!(Logs::filter_log_events).then_output(|| page(vec![], None));
    let clients = Mocks {
        logs: vec![&filter],
        ..Mocks::default()
    }
    .clients();
    let tail = LogTail::new("/ecs/prod/web", SystemTime::now())
        .waits(Duration::from_secs(2), Duration::from_secs(2))
        .unwrap();
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        })
    };
    let t0 = tokio::time::Instant::now();

    let report = tail.run(&clients, &cancel, |_| {}).await.unwrap();

    stopper.await.unwrap();
    // Polls at 0, 2 and 4 s; cancelled at 5 s while waiting.
    assert_eq!(report.polls, 3);
    assert_eq!(filter.num_calls(), 3);
    assert_eq!(report.lines, 0);
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_missing_log_group_is_not_deployed() {
    let filter = mock!(Logs::filter_log_events).then_error(|| {
        FilterLogEventsError::generic(aws_error_meta(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        ))
    });
    let clients = Mocks {
        logs: vec![&filter],
        ..Mocks::default()
    }
    .clients();
    let deployer = Deployer::from_clients(clients, CallRecorder::new());
    let (env, app) = env_and_app();

    let err = deployer
        .tail_logs(
            &env,
            &app,
            SystemTime::now(),
            &CancellationToken::new(),
            |_| {},
        )
        .await
        .unwrap_err();

    match err {
        Error::NotDeployed {
            environment,
            app,
            missing,
        } => {
            assert_eq!((environment.as_str(), app.as_str()), ("prod", "web"));
            assert_eq!(missing, ResourceId::new("logs:log-group", "/ecs/prod/web"));
        }
        other => panic!("expected not deployed, got {other}"),
    }
    assert_eq!(filter.num_calls(), 1, "not found is not retried");
}

#[test]
fn bad_waits_are_typed_errors_naming_the_field() {
    let tail = || LogTail::new("/ecs/prod/web", SystemTime::now());
    let zero = tail()
        .waits(Duration::ZERO, Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(zero.field, "first_wait");
    let short = tail()
        .waits(Duration::from_secs(2), Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(short.field, "max_wait");
}
