//! The API-call recorder: an SDK interceptor that records every AWS call a client makes.
//!
//! Start with [`CallRecorder`]. Attach one recorder to every service client whose calls you want
//! to count — [`aws_types::SdkConfig`](https://docs.rs/aws-types) cannot carry interceptors, so
//! each service config builder gets it explicitly:
//!
//! ```ignore
//! let recorder = fargate_core::CallRecorder::new();
//! let ecs = aws_sdk_ecs::Client::from_conf(
//!     aws_sdk_ecs::config::Builder::from(&sdk_config)
//!         .interceptor(recorder.clone())
//!         .build(),
//! );
//! // ... use the clients ...
//! let summary = recorder.summary();
//! println!("{summary}"); // "7 calls (2 mutating, 0 failed), critical path 3, max concurrency 4"
//! ```
//!
//! A recorder is cheap to clone; clones share the same records. It records one
//! [`CallRecord`] per *execution* (an operation call including all its retries), with its
//! start and end relative to the recorder's creation, its outcome and whether the operation
//! mutates anything ([`is_mutating`]). [`CallRecorder::summary`] condenses them into a
//! [`CallSummary`]: how many calls, how many mutating or failed, the critical path (the number of
//! sequential round trips) and the maximum concurrency.
//!
//! To measure one phase only (for example the second `apply`, which must make no mutating call),
//! take a [`CallRecorder::mark`] before it and use [`CallRecorder::records_since`] or
//! [`CallRecorder::summary_since`] after it.
//!
//! Every completed call is also logged with `tracing::debug!` (target `fargate_core::calls`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreAppend};
use serde::Serialize;

/// Operation-name prefixes of read-only AWS operations; see [`is_mutating`].
const READ_ONLY_PREFIXES: &[&str] = &[
    "Describe", "List", "Get", "BatchGet", "Lookup", "Search", "Query", "Filter", "Check",
    "Validate",
];

/// Whether an AWS operation changes anything, judged by its name.
///
/// Operations whose names start with `Describe`, `List`, `Get`, `BatchGet`, `Lookup`, `Search`,
/// `Query`, `Filter`, `Check` or `Validate` are read-only; every other operation (`Create…`,
/// `Put…`, `Update…`, `Delete…`, `Register…`, `Tag…`, `RunTask`, …) counts as mutating.
///
/// ```
/// assert!(!fargate_core::calls::is_mutating("DescribeServices"));
/// assert!(fargate_core::calls::is_mutating("CreateService"));
/// ```
pub fn is_mutating(operation: &str) -> bool {
    !READ_ONLY_PREFIXES
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

/// One AWS API call (one execution, retries included) seen by a [`CallRecorder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// The SDK's service name without spaces, e.g. `ECS`, `EC2`, `ElasticLoadBalancingv2`,
    /// `CloudWatchLogs`.
    pub service: String,
    /// The operation name, e.g. `CreateService`.
    pub operation: String,
    /// When the call started, measured from the recorder's creation.
    pub start: Duration,
    /// When the call finished (after its last retry), measured from the recorder's creation.
    pub end: Duration,
    /// Whether the call succeeded.
    pub ok: bool,
    /// For a failed call, the AWS error code (e.g. `ThrottlingException`) when one could be
    /// found, otherwise `"timeout"`, `"connector"` or `"error"`. `None` for a successful call.
    pub error_code: Option<String>,
    /// Whether the operation mutates anything; see [`is_mutating`].
    pub mutating: bool,
}

impl CallRecord {
    /// `Service.Operation`, e.g. `ECS.CreateService`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.service, self.operation)
    }

    /// How long the call took, retries included.
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// Counts computed from a set of [`CallRecord`]s; see [`CallRecorder::summary`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallSummary {
    /// Number of calls.
    pub total: usize,
    /// Number of calls to mutating operations (failed ones included).
    pub mutating: usize,
    /// Number of calls that failed.
    pub failed: usize,
    /// The length of the longest chain of calls in which each call started at or after the
    /// previous one ended: the number of sequential round trips. Calls that overlap in time
    /// count once.
    pub critical_path: usize,
    /// The largest number of calls in flight at the same moment. A call that starts exactly
    /// when another ends does not overlap it.
    pub max_concurrency: usize,
    /// Number of calls per `Service.Operation`.
    pub by_operation: BTreeMap<String, usize>,
}

impl CallSummary {
    /// Summarizes `records` (in any order).
    pub fn from_records(records: &[CallRecord]) -> Self {
        let mut by_operation = BTreeMap::new();
        for record in records {
            *by_operation.entry(record.name()).or_insert(0) += 1;
        }
        CallSummary {
            total: records.len(),
            mutating: records.iter().filter(|r| r.mutating).count(),
            failed: records.iter().filter(|r| !r.ok).count(),
            critical_path: critical_path(records),
            max_concurrency: max_concurrency(records),
            by_operation,
        }
    }
}

impl fmt::Display for CallSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls ({} mutating, {} failed), critical path {}, max concurrency {}",
            self.total, self.mutating, self.failed, self.critical_path, self.max_concurrency
        )
    }
}

/// Longest chain of calls where each starts at or after the previous one ended.
fn critical_path(records: &[CallRecord]) -> usize {
    let mut sorted: Vec<&CallRecord> = records.iter().collect();
    sorted.sort_by_key(|r| (r.start, r.end));
    // chain[i]: the longest chain ending with sorted[i].
    let mut chain: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, record) in sorted.iter().enumerate() {
        let best_before = sorted[..i]
            .iter()
            .zip(&chain)
            .filter(|(earlier, _)| earlier.end <= record.start)
            .map(|(_, len)| *len)
            .max()
            .unwrap_or(0);
        chain.push(best_before + 1);
    }
    chain.into_iter().max().unwrap_or(0)
}

/// The most calls in flight at once (half-open intervals `[start, end)`).
fn max_concurrency(records: &[CallRecord]) -> usize {
    // (time, delta): at equal times the end (-1) sorts before the start (+1).
    let mut events: Vec<(Duration, i8)> = Vec::with_capacity(records.len() * 2);
    for record in records {
        events.push((record.start, 1));
        events.push((record.end.max(record.start), -1));
    }
    events.sort();
    let (mut current, mut max) = (0usize, 0usize);
    for (_, delta) in events {
        if delta > 0 {
            current += 1;
            max = max.max(current);
        } else {
            current = current.saturating_sub(1);
        }
    }
    max
}

/// Records AWS API calls; an SDK interceptor. See the [module docs](self) for how to attach it.
///
/// Cloning is cheap and clones share their records, so one recorder can be attached to all the
/// service clients of a deployment and read afterwards.
#[derive(Clone, Debug)]
pub struct CallRecorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Distinguishes recorders attached to the same client.
    id: u64,
    origin: Instant,
    next_call: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Start times of calls in flight, by call id.
    in_flight: HashMap<u64, Duration>,
    /// Completed calls, in completion order.
    records: Vec<CallRecord>,
}

/// The per-execution marker stored in the config bag, pairing the start and the end of a call.
#[derive(Clone, Debug)]
struct CallMarker {
    recorder: u64,
    call: u64,
}

impl Storable for CallMarker {
    type Storer = StoreAppend<Self>;
}

static NEXT_RECORDER_ID: AtomicU64 = AtomicU64::new(1);

impl Default for CallRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl CallRecorder {
    /// A recorder with no records; times are measured from now.
    pub fn new() -> Self {
        CallRecorder {
            inner: Arc::new(Inner {
                id: NEXT_RECORDER_ID.fetch_add(1, Ordering::Relaxed),
                origin: Instant::now(),
                next_call: AtomicU64::new(0),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent (every update is
        // a single push or insert), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// All completed calls, ordered by start time.
    pub fn records(&self) -> Vec<CallRecord> {
        self.records_since(0)
    }

    /// The number of calls completed so far; pass it to [`records_since`](Self::records_since)
    /// or [`summary_since`](Self::summary_since) to look at later calls only.
    pub fn mark(&self) -> usize {
        self.state().records.len()
    }

    /// The calls completed after `mark` was taken with [`mark`](Self::mark), ordered by start
    /// time. A mark taken before a [`reset`](Self::reset) is clamped to the records kept.
    pub fn records_since(&self, mark: usize) -> Vec<CallRecord> {
        let state = self.state();
        let mut records = state.records.get(mark..).unwrap_or_default().to_vec();
        drop(state);
        records.sort_by_key(|r| (r.start, r.end));
        records
    }

    /// Forgets the completed calls. Calls in flight are still recorded when they complete.
    pub fn reset(&self) {
        self.state().records.clear();
    }

    /// Summary of all completed calls.
    pub fn summary(&self) -> CallSummary {
        self.summary_since(0)
    }

    /// Summary of the calls completed after `mark`; see [`mark`](Self::mark).
    pub fn summary_since(&self, mark: usize) -> CallSummary {
        CallSummary::from_records(&self.records_since(mark))
    }

    /// `Service.Operation` of every completed mutating call (failed ones included), in start
    /// order. Empty after an apply that changed nothing.
    pub fn mutating_calls(&self) -> Vec<String> {
        self.mutating_calls_since(0)
    }

    /// Like [`mutating_calls`](Self::mutating_calls), for the calls completed after `mark`.
    pub fn mutating_calls_since(&self, mark: usize) -> Vec<String> {
        self.records_since(mark)
            .iter()
            .filter(|r| r.mutating)
            .map(CallRecord::name)
            .collect()
    }

    fn elapsed(&self) -> Duration {
        self.inner.origin.elapsed()
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "fargate_core::CallRecorder"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = self.inner.next_call.fetch_add(1, Ordering::Relaxed);
        let start = self.elapsed();
        self.state().in_flight.insert(call, start);
        cfg.interceptor_state().store_append(CallMarker {
            recorder: self.inner.id,
            call,
        });
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let end = self.elapsed();
        let call = cfg
            .load::<CallMarker>()
            .find(|marker| marker.recorder == self.inner.id)
            .map(|marker| marker.call);
        // The operation metadata is stored by the operation's runtime plugin, after the client
        // interceptors' `read_before_execution` ran, so it is read here.
        let (service, operation) = match cfg.load::<Metadata>() {
            Some(metadata) => (
                metadata.service().replace(' ', ""),
                metadata.name().to_owned(),
            ),
            None => ("unknown".to_owned(), "unknown".to_owned()),
        };
        let error_code = outcome_error_code(context);
        let ok = error_code.is_none();
        let mut state = self.state();
        let start = call
            .and_then(|call| state.in_flight.remove(&call))
            .unwrap_or(end);
        let record = CallRecord {
            mutating: is_mutating(&operation),
            service,
            operation,
            start,
            end,
            ok,
            error_code,
        };
        tracing::debug!(
            service = %record.service,
            operation = %record.operation,
            duration_ms = record.duration().as_secs_f64() * 1000.0,
            ok = record.ok,
            error_code = record.error_code.as_deref().unwrap_or(""),
            "AWS call completed"
        );
        state.records.push(record);
        Ok(())
    }
}

/// `None` for a success; for a failure the best error code found.
fn outcome_error_code(context: &FinalizerInterceptorContextRef<'_>) -> Option<String> {
    let error = match context.output_or_error() {
        Some(Ok(_)) => return None,
        Some(Err(error)) => error,
        // No outcome at all: the execution was cut short before producing one.
        None => return Some("error".to_owned()),
    };
    let from_operation = error
        .as_operation_error()
        .and_then(|operation_error| code_from_display(&operation_error.to_string()));
    let from_header = || {
        context
            .response()
            .and_then(|response| response.headers().get("x-amzn-errortype"))
            .and_then(code_from_errortype_header)
    };
    let code = from_operation.or_else(from_header).unwrap_or_else(|| {
        if error.is_timeout_error() {
            "timeout".to_owned()
        } else if error.is_connector_error() {
            "connector".to_owned()
        } else {
            "error".to_owned()
        }
    });
    Some(code)
}

/// The error code from the `Display` of a generated SDK operation error: modeled errors print
/// `Code` or `Code: message`, unmodeled ones `unhandled error (Code)`.
fn code_from_display(display: &str) -> Option<String> {
    let candidate = match display.strip_prefix("unhandled error (") {
        Some(rest) => rest.split(')').next()?,
        None => display.split(':').next()?,
    };
    let is_code = !candidate.is_empty()
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    is_code.then(|| candidate.to_owned())
}

/// `x-amzn-errortype: Code:http://internal.amazon.com/...` (REST-JSON and AWS-JSON protocols).
fn code_from_errortype_header(value: &str) -> Option<String> {
    let code = value.split(':').next()?.trim();
    (!code.is_empty()).then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn rec(operation: &str, start: u64, end: u64) -> CallRecord {
        CallRecord {
            service: "ECS".to_owned(),
            operation: operation.to_owned(),
            start: ms(start),
            end: ms(end),
            ok: true,
            error_code: None,
            mutating: is_mutating(operation),
        }
    }

    #[test]
    fn mutating_is_judged_by_prefix() {
        for read_only in [
            "DescribeServices",
            "ListClusters",
            "GetRole",
            "BatchGetImage",
            "LookupEvents",
            "SearchResources",
            "QueryObjects",
            "FilterLogEvents",
            "CheckSomething",
            "ValidateTemplate",
            "GetCallerIdentity",
        ] {
            assert!(!is_mutating(read_only), "{read_only}");
        }
        for mutating in [
            "CreateService",
            "UpdateService",
            "DeleteCluster",
            "PutRetentionPolicy",
            "RegisterTaskDefinition",
            "TagResource",
            "RunTask",
            "AttachRolePolicy",
        ] {
            assert!(is_mutating(mutating), "{mutating}");
        }
    }

    #[test]
    fn empty_summary() {
        let summary = CallSummary::from_records(&[]);
        assert_eq!(summary, CallSummary::default());
    }

    #[test]
    fn sequential_calls_make_a_chain() {
        // Touching intervals (end == next start) are sequential.
        let records = [
            rec("CreateCluster", 0, 10),
            rec("DescribeClusters", 10, 20),
            rec("CreateService", 25, 30),
        ];
        let summary = CallSummary::from_records(&records);
        assert_eq!(summary.total, 3);
        assert_eq!(summary.mutating, 2);
        assert_eq!(summary.critical_path, 3);
        assert_eq!(summary.max_concurrency, 1);
    }

    #[test]
    fn concurrent_calls_count_once_on_the_critical_path() {
        // Round 1: three observes at once; round 2: two creates at once; round 3: one create.
        let records = [
            rec("GetRole", 0, 5),
            rec("DescribeClusters", 1, 7),
            rec("DescribeRepositories", 2, 6),
            rec("CreateRole", 8, 12),
            rec("CreateRepository", 8, 10),
            rec("CreateService", 13, 20),
        ];
        let summary = CallSummary::from_records(&records);
        assert_eq!(summary.critical_path, 3);
        assert_eq!(summary.max_concurrency, 3);
        assert_eq!(summary.mutating, 3);
        assert_eq!(summary.by_operation.get("ECS.GetRole"), Some(&1));
        assert_eq!(summary.by_operation.len(), 6);
    }

    #[test]
    fn critical_path_takes_the_longest_chain_not_the_first() {
        // A long call [0, 100) overlaps a chain of four short calls.
        let records = [
            rec("CreateLoadBalancer", 0, 100),
            rec("A", 1, 2),
            rec("B", 3, 4),
            rec("C", 5, 6),
            rec("D", 7, 8),
            rec("CreateListener", 100, 110),
        ];
        let summary = CallSummary::from_records(&records);
        // A, B, C, D, CreateListener.
        assert_eq!(summary.critical_path, 5);
        assert_eq!(summary.max_concurrency, 2);
    }

    #[test]
    fn order_of_records_does_not_matter() {
        let mut records = vec![
            rec("C", 20, 30),
            rec("A", 0, 10),
            rec("B2", 12, 18),
            rec("B", 10, 20),
        ];
        let a = CallSummary::from_records(&records);
        records.reverse();
        let b = CallSummary::from_records(&records);
        assert_eq!(a, b);
        assert_eq!(a.critical_path, 3);
        assert_eq!(a.max_concurrency, 2);
    }

    #[test]
    fn summary_counts_failures_and_renders() {
        let mut failed = rec("CreateService", 0, 5);
        failed.ok = false;
        failed.error_code = Some("ThrottlingException".to_owned());
        let summary = CallSummary::from_records(&[failed, rec("ListServices", 6, 7)]);
        assert_eq!(summary.failed, 1);
        assert_eq!(
            summary.to_string(),
            "2 calls (1 mutating, 1 failed), critical path 2, max concurrency 1"
        );
    }

    #[test]
    fn marks_reset_and_mutating_calls() {
        let recorder = CallRecorder::new();
        {
            let mut state = recorder.state();
            state.records.push(rec("CreateCluster", 0, 1));
            state.records.push(rec("ListClusters", 2, 3));
        }
        let mark = recorder.mark();
        assert_eq!(mark, 2);
        recorder.state().records.push(rec("DescribeClusters", 4, 5));
        assert_eq!(recorder.mutating_calls(), vec!["ECS.CreateCluster"]);
        assert!(recorder.mutating_calls_since(mark).is_empty());
        assert_eq!(recorder.records_since(mark).len(), 1);
        assert_eq!(recorder.summary_since(mark).total, 1);
        assert_eq!(recorder.summary().total, 3);
        let clone = recorder.clone();
        clone.reset();
        assert!(recorder.records().is_empty());
        assert!(recorder.records_since(mark).is_empty());
    }

    #[test]
    fn error_codes_from_sdk_error_text() {
        assert_eq!(
            code_from_display("ClusterNotFoundException: Cluster not found."),
            Some("ClusterNotFoundException".to_owned())
        );
        assert_eq!(
            code_from_display("ServerException"),
            Some("ServerException".to_owned())
        );
        assert_eq!(
            code_from_display("unhandled error (InvalidVpcID.NotFound)"),
            Some("InvalidVpcID.NotFound".to_owned())
        );
        assert_eq!(code_from_display("unhandled error"), None);
        assert_eq!(code_from_display("something went wrong"), None);
        assert_eq!(
            code_from_errortype_header("ThrottlingException:http://internal.amazon.com/"),
            Some("ThrottlingException".to_owned())
        );
    }
}
