//! Running a [`Graph`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::events::{Event, EventSink};
use super::graph::Graph;
use super::outputs::{OutputKey, Outputs};
use crate::Error;

/// How to run a graph.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The most steps running at once (at least 1). Default: no bound, so the graph's
    /// depth, not its width, sets the rounds of an apply. What bounds the AWS requests is
    /// each client's [`crate::limit::RequestLimits`] (requests in flight and token buckets
    /// per service), which a step waiting for a request does not hold up other services'.
    pub concurrency: usize,
    /// Cancel to stop starting new steps; running steps see it through
    /// [`StepContext::cancelled`] and should return promptly.
    pub cancel: CancellationToken,
    /// Where progress events go.
    pub events: EventSink,
    /// Outputs known before the run (for example adopted resource ids).
    pub outputs: Outputs,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: usize::MAX,
            cancel: CancellationToken::new(),
            events: EventSink::none(),
            outputs: Outputs::new(),
        }
    }
}

/// What a running step can use: the outputs of the steps before it, a way to
/// report progress, and the cancellation token.
#[derive(Clone)]
pub struct StepContext {
    step: Arc<str>,
    started: Instant,
    outputs: Outputs,
    events: EventSink,
    cancel: CancellationToken,
}

impl fmt::Debug for StepContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepContext")
            .field("step", &self.step)
            .finish()
    }
}

impl StepContext {
    /// A context outside any graph run, for running one step's logic directly
    /// (for example a rollback).
    pub fn detached(
        step: &str,
        outputs: Outputs,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            step: Arc::from(step),
            started: Instant::now(),
            outputs,
            events,
            cancel,
        }
    }

    /// This step's id.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// Read an output produced by a dependency.
    ///
    /// # Errors
    /// [`Error::MissingOutput`] when no finished step produced it.
    pub fn get<T: Clone + Send + Sync + 'static>(&self, key: &OutputKey<T>) -> Result<T, Error> {
        self.outputs.get(key)
    }

    /// Read an output if some step produced it.
    pub fn try_get<T: Clone + Send + Sync + 'static>(&self, key: &OutputKey<T>) -> Option<T> {
        self.outputs.try_get(key)
    }

    /// Publish an output for dependents.
    pub fn set<T: Send + Sync + 'static>(&self, key: &OutputKey<T>, value: T) {
        self.outputs.set(key, value);
    }

    /// All outputs of the run.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// The event sink.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Report what the step is doing now.
    pub fn progress(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(step = %self.step, "{message}");
        self.events
            .progress(&self.step, message, self.started.elapsed());
    }

    /// The run's cancellation token.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the run is cancelled; use in `select!` around long waits.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Sleep, returning [`Error::Cancelled`] early if the run is cancelled.
    ///
    /// # Errors
    /// [`Error::Cancelled`] when cancelled while sleeping.
    pub async fn sleep(&self, d: Duration) -> Result<(), Error> {
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.cancel.cancelled() => Err(Error::Cancelled),
        }
    }
}

/// Why a step failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// The step returned an error.
    Error(E),
    /// The step panicked (a bug); the message is kept.
    Panicked(String),
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "{e}"),
            Failure::Panicked(m) => write!(f, "panicked: {m}"),
        }
    }
}

/// When one step ran, relative to the start of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTiming {
    /// The step id.
    pub step: String,
    /// When it started.
    pub start: Duration,
    /// When it ended.
    pub end: Duration,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct RunReport<E> {
    /// Steps that finished successfully, in completion order.
    pub finished: Vec<String>,
    /// Steps that failed, with why.
    pub failed: Vec<(String, Failure<E>)>,
    /// Steps that never started (after a failure or cancellation).
    pub not_started: Vec<String>,
    /// Whether the run was cancelled.
    pub cancelled: bool,
    /// Everything the steps produced.
    pub outputs: Outputs,
    /// Per-step timing.
    pub timings: Vec<StepTiming>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl<E> RunReport<E> {
    /// Whether every step finished.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.not_started.is_empty() && !self.cancelled
    }

    /// The outputs on success, else an [`ExecError`] naming the failed step.
    ///
    /// # Errors
    /// When a step failed or the run was cancelled.
    pub fn into_result(self) -> Result<Outputs, ExecError<E>> {
        if self.is_success() {
            return Ok(self.outputs);
        }
        let mut failed = self.failed.into_iter();
        let first = failed.next();
        Err(ExecError {
            failed: first,
            other_failures: failed.collect(),
            finished: self.finished,
            not_started: self.not_started,
            cancelled: self.cancelled,
        })
    }
}

/// A run that did not complete: the step that failed and what it left undone.
#[derive(Debug)]
pub struct ExecError<E> {
    /// The first failed step and its failure (None when only cancelled).
    pub failed: Option<(String, Failure<E>)>,
    /// Other steps that failed while running concurrently.
    pub other_failures: Vec<(String, Failure<E>)>,
    /// Steps that finished.
    pub finished: Vec<String>,
    /// Steps that never started.
    pub not_started: Vec<String>,
    /// Whether the run was cancelled.
    pub cancelled: bool,
}

impl<E: fmt::Display> fmt::Display for ExecError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failed {
            Some((step, failure)) => write!(f, "step {step} failed: {failure}")?,
            None => write!(f, "cancelled")?,
        }
        for (step, failure) in &self.other_failures {
            write!(f, "; step {step} also failed: {failure}")?;
        }
        if !self.not_started.is_empty() {
            write!(f, " ({} steps not started)", self.not_started.len())?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ExecError<E> {}

impl<E: Send + 'static + fmt::Display> Graph<E> {
    /// Run every step once its dependencies finished, up to
    /// `options.concurrency` at a time.
    ///
    /// Never panics and never returns early: it always waits for running steps.
    pub async fn run(self, options: RunOptions) -> RunReport<E> {
        let RunOptions {
            concurrency,
            cancel,
            events,
            outputs,
        } = options;
        let concurrency = concurrency.max(1);
        let run_start = Instant::now();
        let n = self.steps.len();

        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut waiting_on: Vec<usize> = vec![0; n];
        for (i, deps) in self.deps.iter().enumerate() {
            waiting_on[i] = deps.len();
            for &d in deps {
                dependents[d].push(i);
            }
        }
        let mut ids: Vec<String> = Vec::with_capacity(n);
        let mut actions = Vec::with_capacity(n);
        for s in self.steps {
            ids.push(s.id);
            actions.push(Some(s.action));
        }
        let mut started = vec![false; n];
        let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
        let mut running: JoinSet<(usize, Result<(), E>)> = JoinSet::new();
        let mut task_index = std::collections::HashMap::new();
        let mut starts: Vec<Duration> = vec![Duration::ZERO; n];

        let mut report = RunReport {
            finished: Vec::new(),
            failed: Vec::new(),
            not_started: Vec::new(),
            cancelled: false,
            outputs: outputs.clone(),
            timings: Vec::new(),
            elapsed: Duration::ZERO,
        };

        loop {
            let stop = !report.failed.is_empty() || cancel.is_cancelled();
            while !stop && running.len() < concurrency {
                let Some(i) = ready.pop_front() else { break };
                let Some(action) = actions[i].take() else {
                    continue;
                };
                started[i] = true;
                let at = run_start.elapsed();
                starts[i] = at;
                events.send(Event::StepStarted {
                    step: ids[i].clone(),
                    at,
                });
                let ctx = StepContext {
                    step: Arc::from(ids[i].as_str()),
                    started: Instant::now(),
                    outputs: outputs.clone(),
                    events: events.clone(),
                    cancel: cancel.clone(),
                };
                let span = tracing::info_span!("step", step = %ids[i]);
                let handle = running.spawn(async move { (i, action(ctx).await) }.instrument(span));
                task_index.insert(handle.id(), i);
            }
            if running.is_empty() {
                break;
            }
            let joined = tokio::select! {
                j = running.join_next_with_id() => j,
                () = cancel.cancelled(), if !report.cancelled => {
                    report.cancelled = true;
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            let (i, result) = match joined {
                Ok((_, (i, result))) => (i, result.map_err(Failure::Error)),
                Err(join_err) => {
                    let Some(&i) = task_index.get(&join_err.id()) else {
                        continue;
                    };
                    let msg = if join_err.is_panic() {
                        let payload = join_err.into_panic();
                        payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".to_string())
                    } else {
                        "task was aborted".to_string()
                    };
                    (i, Err(Failure::Panicked(msg)))
                }
            };
            let end = run_start.elapsed();
            report.timings.push(StepTiming {
                step: ids[i].clone(),
                start: starts[i],
                end,
            });
            let elapsed = end.saturating_sub(starts[i]);
            match result {
                Ok(()) => {
                    events.send(Event::StepFinished {
                        step: ids[i].clone(),
                        elapsed,
                    });
                    report.finished.push(ids[i].clone());
                    for &d in &dependents[i] {
                        waiting_on[d] = waiting_on[d].saturating_sub(1);
                        if waiting_on[d] == 0 {
                            ready.push_back(d);
                        }
                    }
                }
                Err(failure) => {
                    tracing::warn!(step = %ids[i], error = %failure, "step failed");
                    events.send(Event::StepFailed {
                        step: ids[i].clone(),
                        error: failure.to_string(),
                        elapsed,
                    });
                    report.failed.push((ids[i].clone(), failure));
                }
            }
        }
        report.cancelled = report.cancelled || cancel.is_cancelled();
        for (i, id) in ids.iter().enumerate() {
            if !started[i] {
                events.send(Event::StepNotStarted { step: id.clone() });
                report.not_started.push(id.clone());
            }
        }
        report.elapsed = run_start.elapsed();
        report
    }
}
