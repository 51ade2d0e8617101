//! The graph executor, on tokio's paused clock: concurrency, ordering, output
//! flow, fail-fast, cancellation and the bound on concurrent steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fargate_core::exec::{Event, EventSink, Failure, GraphBuilder, OutputKey, RunOptions};
use fargate_core::{Error, ResourceId};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn sleeper(g: &mut GraphBuilder<Error>, id: &str, deps: &[&str], secs: u64) {
    g.step(
        id,
        deps.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        move |_| async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok(())
        },
    );
}

fn fail(id: &str) -> Error {
    Error::NotFound {
        resource: ResourceId::new("test", id),
        detail: "boom".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn independent_steps_run_concurrently_and_wall_time_is_the_critical_path() {
    let mut g = GraphBuilder::<Error>::new();
    // Two chains of 10 s each, plus 10 independent 5 s steps.
    sleeper(&mut g, "vpc", &[], 5);
    sleeper(&mut g, "subnet", &["vpc"], 5);
    sleeper(&mut g, "role", &[], 3);
    sleeper(&mut g, "taskdef", &["role"], 7);
    for i in 0..10 {
        sleeper(&mut g, &format!("x{i}"), &[], 5);
    }
    let g = g.build().unwrap();
    assert_eq!(g.depth(), 2);
    let start = Instant::now();
    let report = g.run(RunOptions::default()).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.finished.len(), 14);
    // Paused clock: exactly the longest chain (10 s), not the sum (80 s).
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn dependencies_are_respected_and_outputs_flow() {
    let vpc_id: OutputKey<String> = ResourceId::new("ec2:vpc", "main").output("id");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut g = GraphBuilder::<Error>::new();
    let (k, s) = (vpc_id.clone(), seen.clone());
    g.step("subnet", ["vpc"], move |ctx| async move {
        s.lock()
            .unwrap()
            .push(format!("subnet sees {}", ctx.get(&k)?));
        Ok(())
    });
    let (k, s) = (vpc_id.clone(), seen.clone());
    g.step("vpc", [] as [&str; 0], move |ctx| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ctx.set(&k, "vpc-0abc".to_string());
        s.lock().unwrap().push("vpc".into());
        Ok(())
    });
    let report = g.build().unwrap().run(RunOptions::default()).await;
    assert!(report.is_success());
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["vpc".to_string(), "subnet sees vpc-0abc".into()]
    );
    assert_eq!(report.outputs.get(&vpc_id).unwrap(), "vpc-0abc");
    // Timings: the dependent started when its dependency ended.
    let t = |id: &str| {
        report
            .timings
            .iter()
            .find(|t| t.step == id)
            .unwrap()
            .clone()
    };
    assert_eq!(t("subnet").start, t("vpc").end);
}

#[tokio::test(start_paused = true)]
async fn failure_stops_new_steps_lets_running_ones_finish_and_reports_not_started() {
    let finished_slow = Arc::new(AtomicUsize::new(0));
    let mut g = GraphBuilder::<Error>::new();
    g.step("bad", [] as [&str; 0], |_| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Err(fail("bad"))
    });
    let f = finished_slow.clone();
    g.step("slow", [] as [&str; 0], move |_| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        f.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    sleeper(&mut g, "after-bad", &["bad"], 1);
    sleeper(&mut g, "after-slow", &["slow"], 1);
    let (sink, mut rx) = EventSink::channel();
    let report = g
        .build()
        .unwrap()
        .run(RunOptions {
            events: sink,
            ..RunOptions::default()
        })
        .await;
    assert_eq!(
        finished_slow.load(Ordering::SeqCst),
        1,
        "running step was allowed to finish"
    );
    assert_eq!(report.finished, vec!["slow"]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "bad");
    let mut not_started = report.not_started.clone();
    not_started.sort();
    assert_eq!(not_started, vec!["after-bad", "after-slow"]);
    let err = report.into_result().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("step bad failed: test bad: boom"),
        "{err}"
    );

    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::StepFailed { step, .. } if step == "bad"))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::StepNotStarted { step } if step == "after-slow"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_step_is_reported_not_propagated() {
    let mut g = GraphBuilder::<Error>::new();
    #[allow(unreachable_code)]
    g.step("oops", [] as [&str; 0], |_| async {
        panic!("bug in step");
        Ok(())
    });
    let report = g.build().unwrap().run(RunOptions::default()).await;
    assert!(matches!(&report.failed[0].1, Failure::Panicked(m) if m.contains("bug in step")));
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut g = GraphBuilder::<Error>::new();
    for i in 0..20 {
        let (f, p) = (in_flight.clone(), peak.clone());
        g.step(format!("s{i}"), [] as [&str; 0], move |_| async move {
            let now = f.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            f.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
    }
    let start = Instant::now();
    let report = g
        .build()
        .unwrap()
        .run(RunOptions {
            concurrency: 4,
            ..RunOptions::default()
        })
        .await;
    assert!(report.is_success());
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_cleanly() {
    let cancel = CancellationToken::new();
    let mut g = GraphBuilder::<Error>::new();
    g.step("waiter", [] as [&str; 0], |ctx| async move {
        // A long wait that honours cancellation.
        ctx.sleep(Duration::from_secs(3600)).await
    });
    sleeper(&mut g, "next", &["waiter"], 1);
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        c.cancel();
    });
    let start = Instant::now();
    let report = g
        .build()
        .unwrap()
        .run(RunOptions {
            cancel,
            ..RunOptions::default()
        })
        .await;
    assert!(report.cancelled);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert!(matches!(
        &report.failed[0].1,
        Failure::Error(Error::Cancelled)
    ));
    assert_eq!(report.not_started, vec!["next"]);
}
