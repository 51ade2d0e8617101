//! Live progress of an apply on a terminal: one spinner per running step and the AWS calls so
//! far, drawn on stderr with indicatif (hidden when stderr is not a terminal).

use std::collections::HashMap;
use std::time::Duration;

use fargate_core::exec::Event;
use fargate_core::{CallRecorder, EventSink};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// Renders step events as spinners (one per running step) with the number of AWS calls so far
/// in `recorder`. Pass the sink to an apply (`ApplyOptions { events, .. }`), then drop it and
/// await the handle to finish drawing.
///
/// Must be called inside a tokio runtime (it spawns the renderer).
pub fn progress(recorder: CallRecorder) -> (EventSink, JoinHandle<()>) {
    let (sink, rx) = EventSink::channel();
    let handle = tokio::spawn(render(rx, recorder));
    (sink, handle)
}

async fn render(mut rx: UnboundedReceiver<Event>, recorder: CallRecorder) {
    let multi = MultiProgress::new();
    let running =
        ProgressStyle::with_template("  {spinner} {prefix:.bold} {wide_msg:.dim} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let total = multi.add(ProgressBar::new_spinner());
    total.enable_steady_tick(Duration::from_millis(120));
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    let (mut done, mut failed) = (0usize, 0usize);
    while let Some(event) = rx.recv().await {
        match event {
            Event::StepStarted { step, .. } => {
                let bar = multi.insert_before(&total, ProgressBar::new_spinner());
                bar.set_style(running.clone());
                bar.set_prefix(step.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(step, bar);
            }
            Event::Progress { step, message, .. } => {
                if let Some(bar) = bars.get(&step) {
                    bar.set_message(message);
                }
            }
            Event::StepFinished { step, elapsed } => {
                done += 1;
                if let Some(bar) = bars.remove(&step) {
                    bar.finish_and_clear();
                }
                if elapsed > Duration::from_millis(500) {
                    let _ = multi.println(format!("  ✓ {step} ({:.1}s)", elapsed.as_secs_f64()));
                }
            }
            Event::StepFailed { step, error, .. } => {
                failed += 1;
                if let Some(bar) = bars.remove(&step) {
                    bar.finish_and_clear();
                }
                let first = error.lines().next().unwrap_or_default().to_string();
                let _ = multi.println(format!("  ✗ {step}: {first}"));
            }
            _ => {}
        }
        let calls = recorder.summary();
        total.set_message(format!(
            "{done} steps done{}, {} AWS calls ({} mutating)",
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            },
            calls.total,
            calls.mutating
        ));
    }
    for (_, bar) in bars {
        bar.finish_and_clear();
    }
    total.finish_and_clear();
}
