//! What the benchmarks measure besides wall time: SDK attempts (to count
//! retries), the chain of calls behind a critical path, and the process's
//! memory and CPU time from `/proc`.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use fargate_core::{CallRecord, CallSummary};
use fargate_testkit::aws_sdk_ecs::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use fargate_testkit::aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};

type BoxError = Box<dyn StdError + Send + Sync>;

/// An SDK interceptor counting *attempts* (every HTTP request the SDK sends,
/// retries included) per `Service.Operation`, and why attempts failed.
///
/// `fargate_core::CallRecorder` records one call per operation execution
/// (all its retries together); attempts minus calls is the number of
/// retries. Clones share their counts.
#[derive(Clone, Debug, Default)]
pub struct AttemptCounter {
    state: Arc<Mutex<AttemptState>>,
}

/// Counts taken by an [`AttemptCounter`], cumulative since its creation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptState {
    /// Attempts per `Service.Operation`.
    pub attempts: BTreeMap<String, usize>,
    /// Failed attempts per `Service.Operation` and reason (the error and its
    /// sources, truncated).
    pub failures: BTreeMap<(String, String), usize>,
    /// The first failed attempt that is not a look-up of something missing
    /// ([`is_not_found`]), `Service.Operation: reason`.
    pub first_failure: Option<String>,
}

impl AttemptState {
    /// All attempts.
    pub fn total(&self) -> usize {
        self.attempts.values().sum()
    }

    /// All failed attempts.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// The counts since `earlier` (a snapshot of the same counter).
    /// `first_failure` is the first one after `earlier`, if any.
    pub fn since(&self, earlier: &AttemptState) -> AttemptState {
        let minus = |now: usize, before: Option<&usize>| now - before.copied().unwrap_or(0);
        AttemptState {
            attempts: self
                .attempts
                .iter()
                .map(|(k, v)| (k.clone(), minus(*v, earlier.attempts.get(k))))
                .filter(|(_, v)| *v > 0)
                .collect(),
            failures: self
                .failures
                .iter()
                .map(|(k, v)| (k.clone(), minus(*v, earlier.failures.get(k))))
                .filter(|(_, v)| *v > 0)
                .collect(),
            first_failure: if self.first_failure == earlier.first_failure {
                None
            } else {
                self.first_failure.clone()
            },
        }
    }
}

impl AttemptCounter {
    /// A counter with no attempts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn snapshot(&self) -> AttemptState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forget the first failure, so the next one is kept (one per phase).
    pub fn clear_first_failure(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_failure = None;
    }
}

fn operation(cfg: &ConfigBag) -> String {
    match cfg.load::<Metadata>() {
        Some(m) => format!("{}.{}", m.service().replace(' ', ""), m.name()),
        None => "unknown.unknown".to_string(),
    }
}

/// Whether a failed attempt's reason says that what was looked up does not
/// exist: an answer a plan expects (`NoSuchEntity`, `…NotFound…`, ECS's
/// "Unable to describe task definition"), not a problem.
pub fn is_not_found(reason: &str) -> bool {
    [
        "NotFound",
        "NoSuchEntity",
        "not found",
        "does not exist",
        "Unable to describe task definition",
    ]
    .iter()
    .any(|s| reason.contains(s))
}

/// `error: source: source …` (each source not already in the text), at most
/// `max_chars` characters.
pub fn error_chain(error: &(dyn StdError + 'static), max_chars: usize) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    if text.chars().count() > max_chars {
        text = text.chars().take(max_chars).collect::<String>() + "…";
    }
    text
}

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "fargate_benches::AttemptCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state.attempts.entry(op).or_insert(0) += 1;
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Err(error)) = context.output_or_error() else {
            return Ok(());
        };
        let status = context
            .response()
            .map(|r| format!("HTTP {}: ", r.status().as_u16()))
            .unwrap_or_default();
        let reason = format!("{status}{}", error_chain(error, 300));
        let op = operation(cfg);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.first_failure.is_none() && !is_not_found(&reason) {
            state.first_failure = Some(format!("{op}: {reason}"));
        }
        *state.failures.entry((op, reason)).or_insert(0) += 1;
        Ok(())
    }
}

/// Records every HTTP exchange that leaves the SDK (one per attempt), with
/// its start and end: an HTTP client wrapping another.
///
/// Put it in the `SdkConfig` given to the deployer
/// (`.http_client(wire.http_client())`). Anything the deployer wraps around
/// the config's HTTP client (such as client-side request limits) sits
/// *outside* it, so an exchange is timed from when it really goes out: the
/// critical path of the exchanges counts the round trips actually waited for,
/// including those a request limit added, while the calls'
/// (`CallRecorder`) counts only those the calls' order imposes.
#[derive(Clone, Debug)]
pub struct WireRecorder {
    origin: Instant,
    exchanges: Arc<Mutex<Vec<(Duration, Duration)>>>,
}

impl Default for WireRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl WireRecorder {
    /// A recorder with no exchanges; times are measured from now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            exchanges: Arc::default(),
        }
    }

    /// A plain-HTTP client (for moto on loopback) that records its exchanges here.
    pub fn http_client(&self) -> SharedHttpClient {
        self.wrap(aws_smithy_http_client::Builder::new().build_http())
    }

    /// `inner`, recording its exchanges here.
    pub fn wrap(&self, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(WireClient {
            inner,
            recorder: self.clone(),
        })
    }

    /// Now, on this recorder's clock; pass it to [`summary_since`](Self::summary_since).
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The mean duration of the exchanges that started at or after `since`
    /// (`None` without any).
    pub fn mean_exchange_since(&self, since: Duration) -> Option<Duration> {
        let exchanges = self
            .exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let durations: Vec<Duration> = exchanges
            .iter()
            .filter(|(start, _)| *start >= since)
            .map(|(start, end)| end.saturating_sub(*start))
            .collect();
        let n = u32::try_from(durations.len()).ok().filter(|n| *n > 0)?;
        Some(durations.iter().sum::<Duration>() / n)
    }

    /// The exchanges that started at or after `since` and have completed, as a
    /// [`CallSummary`] (each exchange a call `HTTP.exchange`): how many, the
    /// critical path and the most in flight at once.
    pub fn summary_since(&self, since: Duration) -> CallSummary {
        let records: Vec<CallRecord> = self
            .exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(start, _)| *start >= since)
            .map(|&(start, end)| CallRecord {
                service: "HTTP".into(),
                operation: "exchange".into(),
                start,
                end,
                ok: true,
                error_code: None,
                mutating: false,
            })
            .collect();
        CallSummary::from_records(&records)
    }
}

#[derive(Debug)]
struct WireClient {
    inner: SharedHttpClient,
    recorder: WireRecorder,
}

impl HttpClient for WireClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(WireConnector {
            inner: self.inner.http_connector(settings, components),
            recorder: self.recorder.clone(),
        })
    }
}

#[derive(Debug)]
struct WireConnector {
    inner: SharedHttpConnector,
    recorder: WireRecorder,
}

impl HttpConnector for WireConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let recorder = self.recorder.clone();
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let start = recorder.now();
            let result = inner.call(request).await;
            let end = recorder.now();
            recorder
                .exchanges
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((start, end));
            result
        })
    }
}

/// The calls of the critical path, in order: the longest chain in which each
/// call started at or after the previous one ended (the same definition as
/// `CallSummary::critical_path`).
pub fn critical_chain(records: &[CallRecord]) -> Vec<String> {
    critical_chain_records(records)
        .into_iter()
        .map(CallRecord::name)
        .collect()
}

/// The calls of the critical path, in order (see [`critical_chain`]).
pub fn critical_chain_records(records: &[CallRecord]) -> Vec<&CallRecord> {
    let mut sorted: Vec<&CallRecord> = records.iter().collect();
    sorted.sort_by_key(|r| (r.start, r.end));
    // best[i] = (length of the longest chain ending with sorted[i], previous call).
    let mut best: Vec<(usize, Option<usize>)> = Vec::with_capacity(sorted.len());
    for (i, r) in sorted.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| sorted[j].end <= r.start)
            .max_by_key(|&j| best[j].0);
        best.push((before.map_or(0, |j| best[j].0) + 1, before));
    }
    let mut at = (0..sorted.len()).max_by_key(|&i| best[i].0);
    let mut chain = Vec::new();
    while let Some(i) = at {
        chain.push(sorted[i]);
        at = best[i].1;
    }
    chain.reverse();
    chain
}

/// Memory and CPU time of one process, from `/proc/<pid>/status` and
/// `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcStats {
    /// `VmHWM`: the peak resident set size so far, in KiB. It cannot be
    /// reset: it is the peak since the process started.
    pub peak_rss_kib: u64,
    /// `VmRSS`: the resident set size now, in KiB.
    pub rss_kib: u64,
    /// User + system CPU time so far, in seconds (of all threads; children
    /// not included).
    pub cpu_s: f64,
}

impl ProcStats {
    /// This process.
    ///
    /// # Errors
    /// When `/proc/self` cannot be read (not Linux).
    pub fn own() -> std::io::Result<Self> {
        Self::read("self")
    }

    /// Process `pid`.
    ///
    /// # Errors
    /// When `/proc/<pid>` cannot be read (the process is gone, or not Linux).
    pub fn of(pid: u32) -> std::io::Result<Self> {
        Self::read(&pid.to_string())
    }

    fn read(pid: &str) -> std::io::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the command name (which is in parentheses and may hold
        // spaces): state is field 3, utime 14 and stime 15 (1-based).
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15: indexes 11 and 12 after the
        // name. USER_HZ is 100 on every Linux architecture Rust targets.
        let cpu_s = (ticks(11) + ticks(12)) as f64 / 100.0;
        Ok(Self {
            peak_rss_kib: field("VmHWM:"),
            rss_kib: field("VmRSS:"),
            cpu_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn call(op: &str, start: u64, end: u64) -> CallRecord {
        CallRecord {
            service: "ECS".into(),
            operation: op.into(),
            start: Duration::from_millis(start),
            end: Duration::from_millis(end),
            ok: true,
            error_code: None,
            mutating: false,
        }
    }

    #[test]
    fn the_chain_follows_calls_that_waited_for_each_other() {
        let records = [
            call("A", 0, 10),
            call("B", 0, 5),
            call("C", 10, 20),
            call("D", 6, 21),
            call("E", 20, 30),
        ];
        assert_eq!(
            critical_chain(&records),
            ["ECS.A", "ECS.C", "ECS.E"].map(String::from)
        );
        assert!(critical_chain(&[]).is_empty());
    }

    #[test]
    fn own_process_stats_are_read() {
        let s = ProcStats::own().unwrap();
        assert!(s.peak_rss_kib >= s.rss_kib && s.rss_kib > 0, "{s:?}");
    }

    #[test]
    fn attempt_counts_since_a_snapshot() {
        let mut before = AttemptState::default();
        before.attempts.insert("ECS.A".into(), 2);
        let mut now = before.clone();
        now.attempts.insert("ECS.A".into(), 5);
        now.attempts.insert("ECS.B".into(), 1);
        now.failures.insert(("ECS.A".into(), "x".into()), 1);
        now.first_failure = Some("ECS.A: x".into());
        let d = now.since(&before);
        assert_eq!((d.total(), d.failed()), (4, 1));
        assert_eq!(d.first_failure.as_deref(), Some("ECS.A: x"));
    }
}
