//! Lambda or Fargate? [`advise`] checks a [`Workload`] against AWS Lambda's hard
//! limits ([`LambdaLimits`]) and then compares the monthly cost of both at the
//! workload's volume, with a [`PricingTable`].
//!
//! ```rust
//! use std::time::Duration;
//! use fargate_core::advise::{Recommendation, Workload, advise};
//! use fargate_core::cost::PricingTable;
//!
//! // A report export: 30 MB responses are over Lambda's 6 MB synchronous limit.
//! let export = Workload {
//!     sync_response_bytes: Some(30 * 1024 * 1024),
//!     ..Workload::default()
//! };
//! let advice = advise(&export, &PricingTable::US_EAST_1);
//! assert_eq!(advice.recommendation, Recommendation::Fargate);
//! assert!(advice.reasons[0].contains("6 MB"));
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cost::{HOURS_PER_MONTH, PricingTable};
use crate::task_size::TaskSize;

const MIB: u64 = 1024 * 1024;
const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;
/// Fargate bills at least one minute per task.
const FARGATE_MINIMUM_SECONDS: f64 = 60.0;
/// Billed time for a task to pull its image and start, assumed.
const FARGATE_STARTUP_SECONDS: f64 = 30.0;
/// How much cheaper one option must be to be recommended on cost alone.
const MARGIN: f64 = 0.2;

/// AWS Lambda's hard limits (not raisable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaLimits {
    /// Largest synchronous request and response payload, bytes.
    pub sync_payload_bytes: u64,
    /// Largest asynchronous invocation payload, bytes.
    pub async_payload_bytes: u64,
    /// Longest run of one invocation.
    pub timeout: Duration,
    /// Most memory of a function, MB.
    pub memory_mb: u32,
}

impl LambdaLimits {
    /// The limits as of November 2026: 6 MB synchronous payloads (request and
    /// response), 1 MB asynchronous payloads (raised from 256 KB in October 2025),
    /// 15 minutes, 10,240 MB of memory (Lambda quotas and `Invoke` API reference).
    pub const CURRENT: LambdaLimits = LambdaLimits {
        sync_payload_bytes: 6 * MIB,
        async_payload_bytes: MIB,
        timeout: Duration::from_secs(15 * 60),
        memory_mb: 10_240,
    };
}

impl Default for LambdaLimits {
    fn default() -> Self {
        Self::CURRENT
    }
}

/// The facts about a workload that decide between Lambda and Fargate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// The largest request body of a synchronous call; `None` when not called synchronously.
    pub sync_request_bytes: Option<u64>,
    /// The largest response body of a synchronous call; `None` when not called synchronously.
    pub sync_response_bytes: Option<u64>,
    /// The largest payload of an asynchronous invocation (queue or event); `None` when none.
    pub async_payload_bytes: Option<u64>,
    /// How long one request runs (its p99: limits are checked against it, and costs use it).
    pub duration: Duration,
    /// The memory it needs, MiB.
    pub memory_mib: u32,
    /// Requests a month.
    pub requests_per_month: u64,
    /// Whether traffic is steady around the clock (rather than bursty or mostly idle).
    pub always_on: bool,
    /// Whether clients hold connections open (WebSockets, streaming, long polling).
    pub long_lived_connections: bool,
    /// How many requests one Fargate task serves at once (about 10 for I/O-bound
    /// handlers, 1 for CPU-bound work).
    pub concurrency_per_task: u32,
    /// ARM64 (Graviton) on both sides.
    pub arm64: bool,
}

impl Default for Workload {
    /// A synchronous API: 100 KB in and out, 200 ms, 512 MiB, a million requests a
    /// month, bursty, 10 requests at once per task, x86.
    fn default() -> Self {
        Self {
            sync_request_bytes: Some(100 * 1024),
            sync_response_bytes: Some(100 * 1024),
            async_payload_bytes: None,
            duration: Duration::from_millis(200),
            memory_mib: 512,
            requests_per_month: 1_000_000,
            always_on: false,
            long_lived_connections: false,
            concurrency_per_task: 10,
            arm64: false,
        }
    }
}

impl Workload {
    /// Whether anything waits for the answer (so a Fargate service must always run).
    fn is_sync(&self) -> bool {
        self.sync_request_bytes.is_some()
            || self.sync_response_bytes.is_some()
            || self.async_payload_bytes.is_none()
    }
}

/// What [`advise`] recommends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recommendation {
    /// AWS Lambda.
    Lambda,
    /// ECS on Fargate.
    Fargate,
    /// Both fit and cost about the same: choose on other grounds.
    Either,
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recommendation::Lambda => "Lambda",
            Recommendation::Fargate => "Fargate",
            Recommendation::Either => "either Lambda or Fargate",
        })
    }
}

/// A recommendation with its reasons and both monthly cost estimates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// What to use.
    pub recommendation: Recommendation,
    /// Why: each hard limit exceeded, or the cost comparison, and notes.
    pub reasons: Vec<String>,
    /// Lambda's monthly cost estimate; `None` when a hard limit rules Lambda out.
    pub lambda_monthly_usd: Option<f64>,
    /// Fargate's monthly cost estimate.
    pub fargate_monthly_usd: f64,
    /// The Fargate task size the estimate uses.
    pub fargate_task_size: TaskSize,
}

fn finite(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

fn size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MB", bytes as f64 / MIB as f64)
    } else {
        format!("{:.0} KB", bytes as f64 / 1024.0)
    }
}

/// The hard limits `w` exceeds, each as a reason naming it.
fn limit_reasons(w: &Workload, limits: &LambdaLimits) -> Vec<String> {
    let mut out = Vec::new();
    let sync_max = limits.sync_payload_bytes;
    if let Some(b) = w.sync_request_bytes.filter(|b| *b > sync_max) {
        out.push(format!(
            "synchronous request payload {} exceeds Lambda's {} synchronous limit",
            size(b),
            size(sync_max)
        ));
    }
    if let Some(b) = w.sync_response_bytes.filter(|b| *b > sync_max) {
        out.push(format!(
            "synchronous response payload {} exceeds Lambda's {} synchronous limit",
            size(b),
            size(sync_max)
        ));
    }
    if let Some(b) = w
        .async_payload_bytes
        .filter(|b| *b > limits.async_payload_bytes)
    {
        out.push(format!(
            "asynchronous payload {} exceeds Lambda's {} asynchronous limit",
            size(b),
            size(limits.async_payload_bytes)
        ));
    }
    if w.duration > limits.timeout {
        out.push(format!(
            "run duration {} s exceeds Lambda's {}-minute timeout",
            w.duration.as_secs(),
            limits.timeout.as_secs() / 60
        ));
    }
    if w.memory_mib > limits.memory_mb {
        out.push(format!(
            "memory {} MB exceeds Lambda's {} MB maximum",
            w.memory_mib, limits.memory_mb
        ));
    }
    if w.long_lived_connections {
        out.push(
            "long-lived connections (WebSockets, streaming) need a process that stays up; \
             a Lambda invocation ends after at most 15 minutes"
                .to_string(),
        );
    }
    out
}

/// The cheapest Fargate size with at least `memory_mib`, or the largest one.
fn fargate_size(memory_mib: u32, table: &PricingTable, arm64: bool) -> TaskSize {
    let price = |t: &TaskSize| table.fargate_task_hour(t.vcpu(), t.memory_gib(), arm64);
    TaskSize::all()
        .filter(|t| t.memory_mib() >= memory_mib)
        .min_by(|a, b| price(a).total_cmp(&price(b)))
        .or_else(|| TaskSize::all().last())
        .unwrap_or_default()
}

/// Lambda's monthly cost: requests × duration × memory, plus requests (no free tier).
pub fn lambda_monthly_usd(w: &Workload, table: &PricingTable) -> f64 {
    let requests = w.requests_per_month as f64;
    let gb_seconds = requests * w.duration.as_secs_f64() * f64::from(w.memory_mib) / 1024.0;
    let gb_second = if w.arm64 {
        table.lambda_gb_second_arm
    } else {
        table.lambda_gb_second_x86
    };
    finite(gb_seconds * gb_second + requests / 1e6 * table.lambda_per_million_requests)
}

/// Fargate's monthly cost and how it was sized.
fn fargate_monthly(w: &Workload, table: &PricingTable) -> (f64, TaskSize, String) {
    let size = fargate_size(w.memory_mib, table, w.arm64);
    let task_hour = table.fargate_task_hour(size.vcpu(), size.memory_gib(), w.arm64);
    let requests = w.requests_per_month as f64;
    let busy_seconds = requests * w.duration.as_secs_f64();
    let per_task = f64::from(w.concurrency_per_task.max(1));
    let average_concurrency = busy_seconds / SECONDS_PER_MONTH;
    let tasks = (average_concurrency / per_task).ceil().max(1.0);
    let service = finite(tasks * HOURS_PER_MONTH * task_hour);
    let service_note = format!(
        "Fargate: {} always-on task(s) of {size} serving {} request(s) at once each",
        tasks, per_task
    );
    if w.is_sync() {
        return (service, size, service_note);
    }
    // Asynchronous work may instead run one task per request (RunTask).
    let per_run = (w.duration.as_secs_f64() + FARGATE_STARTUP_SECONDS).max(FARGATE_MINIMUM_SECONDS);
    let per_request = finite(requests * per_run / 3600.0 * task_hour);
    if per_request < service {
        let note = format!(
            "Fargate: one task of {size} per request, billed at least {FARGATE_MINIMUM_SECONDS} s \
             with {FARGATE_STARTUP_SECONDS} s of start-up"
        );
        (per_request, size, note)
    } else {
        (service, size, service_note)
    }
}

/// Recommends Lambda or Fargate for `w`, with [`LambdaLimits::CURRENT`].
///
/// Any Lambda hard limit exceeded (payloads, duration, memory, long-lived
/// connections) means Fargate, with one reason per limit. Otherwise the cheaper
/// one at the workload's volume wins when it is at least 20 % cheaper; else
/// [`Recommendation::Either`].
pub fn advise(w: &Workload, table: &PricingTable) -> Advice {
    advise_with(w, table, &LambdaLimits::CURRENT)
}

/// [`advise`] with other Lambda limits.
pub fn advise_with(w: &Workload, table: &PricingTable, limits: &LambdaLimits) -> Advice {
    let (fargate, size, fargate_note) = fargate_monthly(w, table);
    let mut reasons = limit_reasons(w, limits);
    if !reasons.is_empty() {
        reasons.push(format!("{fargate_note}: about ${fargate:.2} a month"));
        return Advice {
            recommendation: Recommendation::Fargate,
            reasons,
            lambda_monthly_usd: None,
            fargate_monthly_usd: fargate,
            fargate_task_size: size,
        };
    }
    let lambda = lambda_monthly_usd(w, table);
    let comparison = format!(
        "at {} requests a month of {} ms and {} MiB: Lambda about ${lambda:.2}, Fargate about \
         ${fargate:.2} a month ({} list prices of {})",
        w.requests_per_month,
        w.duration.as_millis(),
        w.memory_mib,
        table.region,
        table.date
    );
    let recommendation = if lambda < fargate * (1.0 - MARGIN) {
        reasons.push(format!("Lambda is cheaper {comparison}"));
        if !w.always_on {
            reasons.push("bursty traffic: Lambda scales to zero between bursts".into());
        }
        Recommendation::Lambda
    } else if fargate < lambda * (1.0 - MARGIN) {
        reasons.push(format!("Fargate is cheaper {comparison}"));
        if w.always_on {
            reasons.push("steady traffic keeps Fargate tasks busy".into());
        }
        Recommendation::Fargate
    } else {
        reasons.push(format!(
            "both fit Lambda's limits and cost within 20 % of each other {comparison}"
        ));
        Recommendation::Either
    };
    reasons.push(fargate_note);
    if w.is_sync() && recommendation != Recommendation::Fargate {
        reasons.push("Lambda adds cold-start latency to the first requests after idle".into());
    }
    Advice {
        recommendation,
        reasons,
        lambda_monthly_usd: Some(lambda),
        fargate_monthly_usd: fargate,
        fargate_task_size: size,
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Recommendation: {}", self.recommendation)?;
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        match self.lambda_monthly_usd {
            Some(l) => writeln!(
                f,
                "Estimated monthly cost: Lambda ${l:.2}, Fargate ${:.2}",
                self.fargate_monthly_usd
            ),
            None => writeln!(
                f,
                "Estimated monthly cost: Fargate ${:.2} (Lambda cannot run it)",
                self.fargate_monthly_usd
            ),
        }
    }
}
