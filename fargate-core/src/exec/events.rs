//! Progress events for embedders.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

/// Something that happened during a run. Times are measured from the start of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A step started.
    StepStarted {
        /// The step id.
        step: String,
        /// When it started.
        at: Duration,
    },
    /// A step reported progress (for example "waiting for the load balancer").
    Progress {
        /// The step id.
        step: String,
        /// What it is doing.
        message: String,
        /// When.
        at: Duration,
    },
    /// A step finished successfully.
    StepFinished {
        /// The step id.
        step: String,
        /// How long it took.
        elapsed: Duration,
    },
    /// A step failed.
    StepFailed {
        /// The step id.
        step: String,
        /// The error, rendered.
        error: String,
        /// How long it ran.
        elapsed: Duration,
    },
    /// A step was not started because an earlier step failed or the run was cancelled.
    StepNotStarted {
        /// The step id.
        step: String,
    },
}

/// Where events go: nowhere, or a channel the embedder reads.
///
/// ```
/// use fargate_core::EventSink;
/// let (sink, mut rx) = EventSink::channel();
/// sink.progress("vpc", "creating", std::time::Duration::ZERO);
/// assert!(rx.try_recv().is_ok());
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventSink {
    tx: Option<UnboundedSender<Event>>,
}

impl EventSink {
    /// A sink that drops every event.
    pub fn none() -> Self {
        Self { tx: None }
    }

    /// A sink sending into this channel.
    pub fn new(tx: UnboundedSender<Event>) -> Self {
        Self { tx: Some(tx) }
    }

    /// A new channel and the sink that feeds it.
    pub fn channel() -> (Self, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self::new(tx), rx)
    }

    /// Send an event; a closed receiver is not an error (the embedder stopped listening).
    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }

    /// Send a progress message for a step.
    pub fn progress(&self, step: &str, message: impl Into<String>, at: Duration) {
        self.send(Event::Progress {
            step: step.to_string(),
            message: message.into(),
            at,
        });
    }
}
