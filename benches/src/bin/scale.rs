//! Scale benchmark: one environment (a new VPC, an ECS cluster, one shared
//! ALB) with N apps, half `FrontendApp`s behind the ALB (`/app-<i>/*`) and
//! half worker `ContainerService`s, against the moto server behind
//! `LatencyProxy` (+25 ms each way, as the deploy benchmark).
//!
//! For each N (default 1, 10, 50, 100, 200): a cold deploy (plan + apply), a
//! no-op re-plan/re-apply (which must make no mutating call: checked and
//! reported), an update of every app's image, and a destroy. Per phase: AWS
//! calls (total, mutating, failed, retried attempts), calls per app, the
//! critical path (sequential round trips), the most calls in flight, wall
//! time, CPU time and peak RSS. Then the calls by operation per phase, so the
//! ones that grow faster than N show.
//!
//! Each N runs in a fresh process (the driver re-executes itself with
//! `--child N`), with its own moto server and account: a process's peak RSS
//! (`VmHWM`) cannot be reset, and moto's memory does not carry over from one
//! N to the next. In that process, an untimed warm-up cycle of 2 apps in
//! another account runs first (moto loads code on first use), and each phase
//! gets a new `Deployer` with the library's default options (new clients,
//! connection pools and request-limit buckets, as a new `fargate` process).
//! Before the fleets, the financial-dashboard ("seed") cold deploy is
//! measured the same way, repeated, to report its wall time against its
//! critical path.
//!
//! Besides the deployer's `CallRecorder` (one record per call), an
//! interceptor counts attempts (retries, and why attempts failed) and an HTTP
//! client wrapper under any client-side request limit records the exchanges
//! that really went out ("wire round trips": the critical path of those).
//!
//! ```sh
//! cargo run -p fargate-benches --bin scale                      # 1, 10, 50, 100, 200 apps
//! cargo run -p fargate-benches --bin scale -- --apps 1,10,50
//! cargo run -p fargate-benches --bin scale -- --help
//! ```
//!
//! A `[[bin]]`, not a `cargo bench` target: it is built in the dev profile,
//! reusing what the tests built, instead of a ~20-minute release build. It
//! measures network round trips (50 ms each), not CPU; its CPU time is
//! reported so that can be checked. Results: `BENCHMARKS.md`, "Scale: 1 to
//! 200 apps".

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as StdError;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use fargate_benches::measure::{
    AttemptCounter, ProcStats, WireRecorder, critical_chain_records, error_chain, is_not_found,
};
use fargate_benches::scenario::{
    Dashboard, Fleet, IMAGE_V1, IMAGE_V2, Priorities, create_db_secret, warm_up_account,
};
use fargate_benches::{LatencyProxy, Samples};
use fargate_core::limit::RequestLimits;
use fargate_core::{CallRecord, CallSummary};
use fargate_deploy::{App, ApplyOptions, Deployer, DeployerOptions, Environment};
use fargate_testkit::{MotoAccount, TestContext};
use serde_json::{Value, json};

type BoxError = Box<dyn StdError>;

/// The prefix of the line a child prints its result on.
const RESULT: &str = "SCALE-RESULT ";
/// The environment's name.
const ENV: &str = "scale";
/// No critical-path chain is computed (O(calls²)) above this many calls.
const MAX_CHAIN_CALLS: usize = 20_000;

const USAGE: &str = "\
scale: deploy, re-apply, update and destroy N apps in one environment against moto behind a latency proxy

  cargo run -p fargate-benches --bin scale -- [options]

options:
  --apps 1,10,50,100,200   the values of N (default 1,10,50,100,200)
  --one-way-ms 25          latency added to each direction of every exchange (default 25)
  --seed-reps 3            measured repetitions of the seed (financial-dashboard) cold deploy (default 3)
  --no-seed                skip the seed scenario
  --seed-only              only the seed scenario
  --priorities default     frontends' listener-rule priorities: `default` (the library's) or
                           `explicit` (1, 3, 5, ...: always distinct)
  --limits default         the deployer's request limits: `default` (DeployerOptions::default(), AWS's
                           quotas), `unlimited`, or `emulator:<n>` (n in flight per service, no rates)
  --timeout-secs 3600      kill an N's process after this long (default 3600)
  --json FILE              also write every result as JSON
";

#[derive(Clone, Debug)]
struct Args {
    apps: Vec<usize>,
    one_way: Duration,
    seed: bool,
    seed_reps: usize,
    priorities: Priorities,
    limits: Limits,
    timeout: Duration,
    json: Option<PathBuf>,
    child: Option<Role>,
}

/// The deployer's client-side request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Limits {
    /// `DeployerOptions::default()`'s (AWS's default quotas).
    Default,
    /// `RequestLimits::unlimited()`.
    Unlimited,
    /// `RequestLimits::emulator(n)`: at most n in flight per service.
    Emulator(usize),
}

impl Limits {
    fn parse(v: &str) -> Result<Self, String> {
        match v {
            "default" => Ok(Self::Default),
            "unlimited" => Ok(Self::Unlimited),
            other => other
                .strip_prefix("emulator:")
                .and_then(|n| n.parse().ok())
                .map(Self::Emulator)
                .ok_or(format!(
                    "--limits {other}: expected `default`, `unlimited` or `emulator:<in flight>`"
                )),
        }
    }

    fn arg(self) -> String {
        match self {
            Self::Default => "default".into(),
            Self::Unlimited => "unlimited".into(),
            Self::Emulator(n) => format!("emulator:{n}"),
        }
    }

    /// The request limits the deployer runs with.
    fn request_limits(self) -> RequestLimits {
        match self {
            Self::Default => RequestLimits::aws(),
            Self::Unlimited => RequestLimits::unlimited(),
            Self::Emulator(n) => RequestLimits::emulator(n),
        }
    }

    fn apply(self, options: DeployerOptions) -> DeployerOptions {
        match self {
            Self::Default => options,
            Self::Unlimited => options.request_limits(RequestLimits::unlimited()),
            Self::Emulator(n) => options.request_limits(RequestLimits::emulator(n)),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Role {
    Fleet(usize),
    Seed,
}

impl Args {
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Args {
            apps: vec![1, 10, 50, 100, 200],
            one_way: Duration::from_millis(25),
            seed: true,
            seed_reps: 3,
            priorities: Priorities::Default,
            limits: Limits::Default,
            timeout: Duration::from_secs(3600),
            json: None,
            child: None,
        };
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
            let number = |name: &str, v: String| {
                v.parse::<u64>()
                    .map_err(|_| format!("{name} {v}: not a whole number"))
            };
            match arg.as_str() {
                "--apps" => {
                    let v = value("--apps")?;
                    args.apps = v
                        .split(',')
                        .map(|n| match n.trim().parse::<usize>() {
                            Ok(n) if n > 0 => Ok(n),
                            _ => Err(format!("--apps {v}: {n:?} is not a positive number")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--one-way-ms" => {
                    args.one_way =
                        Duration::from_millis(number("--one-way-ms", value("--one-way-ms")?)?)
                }
                "--seed-reps" => {
                    args.seed_reps = number("--seed-reps", value("--seed-reps")?)? as usize
                }
                "--no-seed" => args.seed = false,
                "--seed-only" => {
                    args.seed = true;
                    args.apps.clear();
                }
                "--priorities" => {
                    args.priorities = match value("--priorities")?.as_str() {
                        "default" => Priorities::Default,
                        "explicit" => Priorities::Explicit,
                        other => {
                            return Err(format!(
                                "--priorities {other}: expected `default` or `explicit`"
                            ));
                        }
                    }
                }
                "--limits" => args.limits = Limits::parse(&value("--limits")?)?,
                "--timeout-secs" => {
                    args.timeout =
                        Duration::from_secs(number("--timeout-secs", value("--timeout-secs")?)?)
                }
                "--json" => args.json = Some(PathBuf::from(value("--json")?)),
                "--child" => {
                    args.child = Some(Role::Fleet(number("--child", value("--child")?)? as usize))
                }
                "--child-seed" => args.child = Some(Role::Seed),
                // `cargo bench`-style harness flags are ignored.
                "--bench" => {}
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(args)
    }

    /// The arguments a child needs.
    fn child_args(&self, role: Role) -> Vec<String> {
        let mut v = vec![
            "--one-way-ms".to_string(),
            self.one_way.as_millis().to_string(),
            "--seed-reps".to_string(),
            self.seed_reps.to_string(),
            "--priorities".to_string(),
            match self.priorities {
                Priorities::Default => "default",
                Priorities::Explicit => "explicit",
            }
            .to_string(),
            "--limits".to_string(),
            self.limits.arg(),
        ];
        match role {
            Role::Fleet(n) => v.extend(["--child".to_string(), n.to_string()]),
            Role::Seed => v.push("--child-seed".to_string()),
        }
        v
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("scale: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match args.child {
        Some(role) => child(role, &args),
        None => driver(&args),
    }
}

// ---------------------------------------------------------------------------
// Child: one N (or the seed scenario) in this process
// ---------------------------------------------------------------------------

fn child(role: Role, args: &Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scale: cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match role {
            Role::Fleet(n) => fleet_run(n, args).await,
            Role::Seed => seed_run(args).await,
        }
    });
    let (value, ok) = match result {
        Ok(v) => {
            let ok = v["ok"].as_bool().unwrap_or(false);
            (v, ok)
        }
        Err(e) => (
            json!({ "ok": false, "error": format!("set-up failed: {}", error_chain(e.as_ref(), 2000)) }),
            false,
        ),
    };
    println!("{RESULT}{value}");
    let _ = std::io::stdout().flush();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A fresh account of this process's moto server, reached through a latency
/// proxy, with the counters every deployer made by [`Setup::deployer`]
/// shares.
struct Setup {
    ctx: TestContext,
    proxy: LatencyProxy,
    /// moto behind the proxy, with the wire recorder as HTTP client.
    sdk: fargate_testkit::aws_types::SdkConfig,
    limits: Limits,
    attempts: AttemptCounter,
    wire: WireRecorder,
    warm_up: Duration,
}

async fn setup(args: &Args, proxy: Option<LatencyProxy>) -> Result<Setup, BoxError> {
    let one_way = args.one_way;
    let ctx = fargate_testkit::context().await;
    let warm_up = warm_up_account(&ctx).await;
    let proxy = match proxy {
        Some(p) => p,
        None => LatencyProxy::start(ctx.url().trim_start_matches("http://"), one_way).await?,
    };
    let attempts = AttemptCounter::new();
    let wire = WireRecorder::new();
    let sdk = ctx
        .sdk_config()
        .to_builder()
        .endpoint_url(proxy.url())
        .http_client(wire.http_client())
        .build();
    Ok(Setup {
        ctx,
        proxy,
        sdk,
        limits: args.limits,
        attempts,
        wire,
        warm_up,
    })
}

fn summary_json(s: &CallSummary) -> Value {
    json!({
        "total": s.total,
        "mutating": s.mutating,
        "failed": s.failed,
        "critical_path": s.critical_path,
        "max_concurrency": s.max_concurrency,
    })
}

fn proc_json(s: &ProcStats) -> Value {
    json!({ "peak_rss_kib": s.peak_rss_kib, "rss_kib": s.rss_kib, "cpu_s": s.cpu_s })
}

/// `A → A → B` as `A ×2 → B`.
fn compress(chain: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chain.len() {
        let mut j = i;
        while j < chain.len() && chain[j] == chain[i] {
            j += 1;
        }
        out.push(if j - i > 1 {
            format!("{} ×{}", chain[i], j - i)
        } else {
            chain[i].clone()
        });
        i = j;
    }
    out.join(" → ")
}

impl Setup {
    /// A new deployer (new clients, connection pools and request-limit
    /// buckets, as a new `fargate` process has), with the library's default
    /// options plus the account header and the attempt counter. Its one STS
    /// call happens here, before anything is measured.
    async fn deployer(&self) -> Result<Deployer, fargate_core::Error> {
        Deployer::with_options(
            &self.sdk,
            self.limits.apply(
                DeployerOptions::default()
                    .interceptor(MotoAccount::new(self.ctx.account_id()))
                    .interceptor(self.attempts.clone()),
            ),
        )
        .await
    }
}

/// A failed call that is an answer, not a problem: a look-up of something
/// that does not exist (yet, or any more).
fn is_lookup_miss(r: &CallRecord) -> bool {
    let code = r.error_code.as_deref().unwrap_or("");
    code.contains("NotFound")
        || code.contains("NoSuchEntity")
        || (r.operation == "DescribeTaskDefinition" && code == "ClientException")
}

/// One plan + apply (or plan_destroy + apply), measured.
async fn phase(
    s: &Setup,
    name: &str,
    env: &Environment,
    apps: &[&dyn App],
    destroy: bool,
) -> Value {
    let d = match s.deployer().await {
        Ok(d) => d,
        Err(e) => {
            return json!({
                "phase": name, "ok": false,
                "error": format!("cannot make a deployer: {}", error_chain(&e, 2000)),
            });
        }
    };
    let recorder = d.recorder();
    let moto_pid = s.ctx.server().pid();
    eprintln!("  {name}: planning ({} apps)", apps.len());
    s.attempts.clear_first_failure();
    let attempts_before = s.attempts.snapshot();
    let own_before = ProcStats::own().unwrap_or_default();
    let moto_before = ProcStats::of(moto_pid).unwrap_or_default();
    let mark = recorder.mark();
    let wire_start = s.wire.now();
    let start = Instant::now();
    let planned = if destroy {
        d.plan_destroy(env, apps).await
    } else {
        d.plan(env, apps).await
    };
    let plan_s = start.elapsed().as_secs_f64();
    let applying = recorder.mark();
    let mut plan_summary = String::new();
    let mut error: Option<String> = None;
    match planned {
        Err(e) => error = Some(format!("plan: {}", error_chain(&e, 2000))),
        Ok(plan) => {
            plan_summary = plan.plan().summary().to_string();
            eprintln!("  {name}: planned in {plan_s:.2} s: {plan_summary}; applying");
            if let Err(e) = d.apply_with(plan, ApplyOptions::default()).await {
                let others = if e.other_failures.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (and {} other failed steps, the first: {}: {})",
                        e.other_failures.len(),
                        e.other_failures[0].0,
                        e.other_failures[0].1
                    )
                };
                error = Some(format!(
                    "apply, step {}: {}{others}; {} steps finished, {} not started",
                    e.failed_step,
                    error_chain(&e.source, 2000),
                    e.finished.len(),
                    e.not_started.len()
                ));
            }
        }
    }
    let wall_s = start.elapsed().as_secs_f64();
    let own_after = ProcStats::own().unwrap_or_default();
    let moto_after = ProcStats::of(moto_pid).unwrap_or_default();
    let attempts = s.attempts.snapshot().since(&attempts_before);
    let wire = s.wire.summary_since(wire_start);
    let mean_exchange_s = s
        .wire
        .mean_exchange_since(wire_start)
        .map(|d| d.as_secs_f64());

    let all = recorder.records_since(mark);
    let plan_records: Vec<CallRecord> = recorder
        .records_since(mark)
        .into_iter()
        .take(applying - mark)
        .collect();
    let apply_records = recorder.records_since(applying);
    let total = CallSummary::from_records(&all);
    let plan_calls = CallSummary::from_records(&plan_records);
    let apply_calls = CallSummary::from_records(&apply_records);
    // The wall time split along the critical path: its round trips, the
    // rest of its calls' durations (moto's processing and queueing, and any
    // wait in a client-side request limit), and the time between them.
    let (chain, chain_calls_s) = if all.len() <= MAX_CHAIN_CALLS {
        let records = critical_chain_records(&all);
        let names: Vec<String> = records.iter().map(|r| r.name()).collect();
        let in_calls: f64 = records.iter().map(|r| r.duration().as_secs_f64()).sum();
        (compress(&names), Some(in_calls))
    } else {
        (
            format!("(not computed: more than {MAX_CHAIN_CALLS} calls)"),
            None,
        )
    };
    let mut failed_calls: BTreeMap<String, usize> = BTreeMap::new();
    let failed_not_lookup = all.iter().filter(|r| !r.ok && !is_lookup_miss(r)).count();
    for r in all.iter().filter(|r| !r.ok) {
        let code = r.error_code.as_deref().unwrap_or("?");
        *failed_calls
            .entry(format!("{}: {code}", r.name()))
            .or_insert(0) += 1;
    }
    let mutating_ops: Vec<String> = all
        .iter()
        .filter(|r| r.mutating)
        .map(|r| r.name())
        .collect();
    let retried: BTreeMap<String, usize> = attempts
        .attempts
        .iter()
        .filter_map(|(op, n)| {
            let calls = total.by_operation.get(op).copied().unwrap_or(0);
            (*n > calls).then(|| (op.clone(), n - calls))
        })
        .collect();
    let attempt_failures: BTreeMap<String, usize> = attempts
        .failures
        .iter()
        .map(|((op, reason), n)| (format!("{op}: {reason}"), *n))
        .collect();
    let floor_s = total.critical_path as f64 * 2.0 * s.proxy.one_way().as_secs_f64();
    let (quota_floor_s, quota_bucket) =
        quota_floor(&total.by_operation, &s.limits.request_limits());
    eprintln!(
        "  {name}: {} in {wall_s:.2} s{}",
        total,
        error
            .as_deref()
            .map(|e| format!("; FAILED: {e}"))
            .unwrap_or_default()
    );
    json!({
        "phase": name,
        "ok": error.is_none(),
        "error": error,
        "plan": plan_summary,
        "calls": summary_json(&total),
        "plan_calls": summary_json(&plan_calls),
        "apply_calls": summary_json(&apply_calls),
        "wire": summary_json(&wire),
        "by_operation": total.by_operation,
        "mutating_operations": mutating_ops,
        "failed_calls": failed_calls,
        "failed_not_lookup": failed_not_lookup,
        "attempts": attempts.total(),
        "retries": attempts.total().saturating_sub(total.total),
        "retried_by_operation": retried,
        "failed_attempts": attempts.failed(),
        "failed_attempt_reasons": attempt_failures,
        "first_failed_attempt": attempts.first_failure,
        "plan_s": plan_s,
        "wall_s": wall_s,
        "floor_s": floor_s,
        "quota_floor_s": quota_floor_s,
        "quota_bucket": quota_bucket,
        "critical_chain": chain,
        "chain_calls_s": chain_calls_s,
        "mean_exchange_s": mean_exchange_s,
        "cpu_s": own_after.cpu_s - own_before.cpu_s,
        "moto_cpu_s": moto_after.cpu_s - moto_before.cpu_s,
        "process": proc_json(&own_after),
        "moto": proc_json(&moto_after),
    })
}

/// The least time the request limits allow for these calls: for each service's read and
/// write bucket, the requests beyond its burst at its refill rate; the largest of them, and
/// which bucket it is (`""` when no bucket binds).
fn quota_floor(by_operation: &BTreeMap<String, usize>, limits: &RequestLimits) -> (f64, String) {
    // Requests per bucket: an operation's own, else its service's read or write bucket.
    let mut per_bucket: BTreeMap<String, (usize, Option<fargate_core::limit::RateLimit>)> =
        BTreeMap::new();
    for (name, &n) in by_operation {
        let Some((service, op)) = name.split_once('.') else {
            continue;
        };
        let (key, limit) = match limits.limit_of_operation(service, op) {
            Some(own) => (format!("{service} {op}"), Some(own)),
            None => {
                let l = limits.limits_of(service);
                if fargate_core::calls::is_mutating(op) {
                    (format!("{service} writes"), l.write)
                } else {
                    (format!("{service} reads"), l.read)
                }
            }
        };
        let entry = per_bucket.entry(key).or_insert((0, limit));
        entry.0 += n;
    }
    let mut worst = (0.0, String::new());
    for (bucket, (n, limit)) in per_bucket {
        let Some(rate) = limit else { continue };
        let secs = n.saturating_sub(rate.burst as usize) as f64 / rate.per_second;
        if secs > worst.0 {
            worst = (secs, format!("{bucket}: {n} at {}/s", rate.per_second));
        }
    }
    worst
}

async fn fleet_run(n: usize, args: &Args) -> Result<Value, BoxError> {
    let started = Instant::now();
    eprintln!("N = {n}: starting moto, the proxy and a deployer");
    let warm = setup(args, None).await?;
    let warm_up_cycle = warm_up_cycle(&warm).await;
    let s = setup(args, Some(warm.proxy)).await?;
    let v1 = Fleet::new(ENV, n, IMAGE_V1, args.priorities)?;
    let v2 = Fleet::new(ENV, n, IMAGE_V2, args.priorities)?;
    let (a1, a2) = (v1.apps(), v2.apps());
    let steps: [(&str, &Fleet, &[&dyn App], bool); 4] = [
        ("cold deploy", &v1, &a1, false),
        ("no-op re-apply", &v1, &a1, false),
        ("image update", &v2, &a2, false),
        ("destroy", &v2, &a2, true),
    ];
    let mut phases = Vec::new();
    let mut ok = true;
    let mut noop_violation = None;
    for (name, fleet, apps, destroy) in steps {
        if !ok {
            phases.push(json!({ "phase": name, "ok": false, "skipped": true }));
            continue;
        }
        let p = phase(&s, name, &fleet.env, apps, destroy).await;
        ok = p["ok"].as_bool().unwrap_or(false);
        if name == "no-op re-apply" && p["calls"]["mutating"].as_u64().unwrap_or(0) > 0 {
            noop_violation = Some(p["mutating_operations"].clone());
            eprintln!(
                "  ASSERTION FAILED: the no-op re-apply made mutating calls: {}",
                p["mutating_operations"]
            );
        }
        phases.push(p);
    }
    Ok(json!({
        "kind": "fleet",
        "n": n,
        "frontends": v1.frontends.len(),
        "workers": v1.workers.len(),
        "ok": ok && noop_violation.is_none(),
        "noop_violation": noop_violation,
        "account_warm_up_s": s.warm_up.as_secs_f64(),
        "warm_up_cycle": warm_up_cycle,
        "process_s": started.elapsed().as_secs_f64(),
        "phases": phases,
        "process": proc_json(&ProcStats::own().unwrap_or_default()),
        "moto": proc_json(&ProcStats::of(s.ctx.server().pid()).unwrap_or_default()),
    }))
}

/// Untimed, in another account of the same moto server: deploy, re-apply,
/// update and destroy 2 apps (a frontend and a worker), so that moto has
/// served every operation once (it loads and compiles code on first use)
/// before anything is measured. Returns a short description.
async fn warm_up_cycle(s: &Setup) -> String {
    let started = Instant::now();
    let (v1, v2) = match (
        Fleet::new("warm", 2, IMAGE_V1, Priorities::Default),
        Fleet::new("warm", 2, IMAGE_V2, Priorities::Default),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return format!("not run: {e}"),
    };
    eprintln!("warm-up (not measured): 2 apps in another account");
    let mut failed = Vec::new();
    for (name, fleet, destroy) in [
        ("cold deploy", &v1, false),
        ("no-op re-apply", &v1, false),
        ("image update", &v2, false),
        ("destroy", &v2, true),
    ] {
        let p = phase(s, name, &fleet.env, &fleet.apps(), destroy).await;
        if let Some(e) = p["error"].as_str() {
            failed.push(format!("{name}: {e}"));
        }
    }
    format!(
        "{:.1} s{}",
        started.elapsed().as_secs_f64(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(", FAILED: {}", failed.join("; "))
        }
    )
}

async fn seed_run(args: &Args) -> Result<Value, BoxError> {
    eprintln!(
        "seed (financial dashboard): 1 warm-up + {} measured cold deploys, each in a fresh account",
        args.seed_reps
    );
    let mut proxy = None;
    let mut runs = Vec::new();
    let mut ok = true;
    for round in 0..=args.seed_reps {
        let s = setup(args, proxy.take()).await?;
        let secret = create_db_secret(&s.ctx).await?;
        let dash = Dashboard::new(&secret, IMAGE_V1)?;
        let p = phase(&s, "seed cold deploy", &dash.env, &dash.apps(), false).await;
        ok &= p["ok"].as_bool().unwrap_or(false);
        if round > 0 {
            runs.push(p);
        }
        proxy = Some(s.proxy);
    }
    Ok(json!({ "kind": "seed", "ok": ok, "runs": runs }))
}

// ---------------------------------------------------------------------------
// Driver: one child process per N, then the tables
// ---------------------------------------------------------------------------

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("({program} not available)"))
}

fn proc_line(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(prefix))
                .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

/// Run one child, echoing its output; its result, or why there is none.
fn run_child(args: &Args, role: Role) -> Value {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return json!({ "ok": false, "error": format!("cannot find this program: {e}") }),
    };
    let started = Instant::now();
    let mut child = match Command::new(&exe)
        .args(args.child_args(role))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return json!({ "ok": false, "error": format!("cannot start {}: {e}", exe.display()) });
        }
    };
    let Some(stdout) = child.stdout.take() else {
        return json!({ "ok": false, "error": "the child's stdout was not captured" });
    };
    let reader = std::thread::spawn(move || {
        let mut result = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.strip_prefix(RESULT) {
                Some(json) => result = serde_json::from_str::<Value>(json).ok(),
                None => println!("{line}"),
            }
        }
        result
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() > args.timeout => {
                // Our own child, by its handle; its moto server dies with it.
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "killed after the timeout of {} s",
                    args.timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => break Err(format!("cannot wait for the child: {e}")),
        }
    };
    let result = reader.join().ok().flatten();
    match (result, status) {
        (Some(v), _) => v,
        (None, Ok(status)) => json!({
            "ok": false,
            "error": format!("the process ended ({status}) without a result; see its output above"),
        }),
        (None, Err(e)) => json!({ "ok": false, "error": e }),
    }
}

fn driver(args: &Args) -> ExitCode {
    let machine = json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": proc_line("/proc/cpuinfo", "model name"),
        "mem_total": proc_line("/proc/meminfo", "MemTotal"),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "rustc": command_output("rustc", &["-V"]),
        "moto": fargate_testkit::MOTO_VERSION,
        "profile": if cfg!(debug_assertions) { "dev (unoptimized)" } else { "optimized" },
        "date": command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        "load_average_start": load_average(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    });
    eprintln!("machine: {machine}");
    let started = Instant::now();
    let seed = args.seed.then(|| run_child(args, Role::Seed));
    let mut fleets = Vec::new();
    for &n in &args.apps {
        fleets.push(run_child(args, Role::Fleet(n)));
    }
    let mut machine = machine;
    machine["load_average_end"] = json!(load_average());
    machine["total_s"] = json!(started.elapsed().as_secs_f64());
    let all = json!({
        "machine": machine,
        "one_way_ms": args.one_way.as_millis() as u64,
        "priorities": format!("{:?}", args.priorities),
        "limits": args.limits.arg(),
        "seed": seed,
        "fleets": fleets,
    });
    print_report(&all, args);
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, format!("{all:#}\n")) {
            eprintln!("scale: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("results written to {}", path.display());
    }
    let all_ok = seed
        .as_ref()
        .is_none_or(|s| s["ok"].as_bool() == Some(true))
        && fleets.iter().all(|f| f["ok"].as_bool() == Some(true));
    if all_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("scale: some runs failed (see the report)");
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn mib(kib: &Value) -> String {
    format!("{:.0}", f(kib) / 1024.0)
}

fn print_report(all: &Value, args: &Args) {
    let m = &all["machine"];
    let rtt_ms = 2 * args.one_way.as_millis();
    println!();
    println!("## Scale benchmark");
    println!();
    println!(
        "machine: nproc {}, {}, MemTotal {}, Linux {}; {}; moto {}; {} build; {}; load average {} at the start, {} at the end; {:.0} s in all",
        m["nproc"],
        m["cpu_model"].as_str().unwrap_or("?"),
        m["mem_total"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        m["rustc"].as_str().unwrap_or("?"),
        m["moto"].as_str().unwrap_or("?"),
        m["profile"].as_str().unwrap_or("?"),
        m["date"].as_str().unwrap_or("?"),
        m["load_average_start"].as_str().unwrap_or("?"),
        m["load_average_end"].as_str().unwrap_or("?"),
        f(&m["total_s"]),
    );
    println!("command: {}", m["command"].as_str().unwrap_or("?"));
    println!(
        "latency: +{} ms each way ({rtt_ms} ms per round trip); floor = critical path × {rtt_ms} ms; frontend priorities: {}; request limits: {}",
        args.one_way.as_millis(),
        all["priorities"].as_str().unwrap_or("?"),
        all["limits"].as_str().unwrap_or("?")
    );

    if let Some(seed) = all.get("seed").filter(|s| !s.is_null()) {
        print_seed(seed);
    }

    let fleets = all["fleets"].as_array().cloned().unwrap_or_default();
    println!();
    println!(
        "| N | phase | plan | calls | calls / app | mutating | failed (not a not-found) | retries | critical path (plan + apply) | wire round trips | max in flight: calls (plan / apply), wire | floor s | plan s | wall s | wall / floor | quota floor s (binding bucket) | CPU s: ours + moto | peak RSS MiB | moto peak RSS MiB |"
    );
    println!("|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|");
    let mut failures = Vec::new();
    for (fleet, &n) in fleets.iter().zip(&args.apps) {
        let Some(phases) = fleet["phases"].as_array() else {
            println!(
                "| {n} | (no result) | **{}** | | | | | | | | | | | | | | | | |",
                fleet["error"].as_str().unwrap_or("failed")
            );
            failures.push(format!(
                "N = {n}: {}",
                fleet["error"].as_str().unwrap_or("failed")
            ));
            continue;
        };
        for p in phases {
            let name = p["phase"].as_str().unwrap_or("?");
            if p["skipped"].as_bool() == Some(true) {
                println!(
                    "| {n} | {name} | not run (an earlier phase failed) | | | | | | | | | | | | | | | | |"
                );
                continue;
            }
            let c = &p["calls"];
            let plan = if p["ok"].as_bool() == Some(true) {
                p["plan"].as_str().unwrap_or("").to_string()
            } else {
                failures.push(format!(
                    "N = {n}, {name}: {}{}",
                    p["error"].as_str().unwrap_or("?"),
                    p["first_failed_attempt"]
                        .as_str()
                        .map(|a| format!("\n  first failed attempt: {a}"))
                        .unwrap_or_default()
                ));
                format!("**FAILED** {}", p["plan"].as_str().unwrap_or(""))
            };
            let floor = f(&p["floor_s"]);
            println!(
                "| {n} | {name} | {plan} | {} | {:.1} | {} | {} ({}) | {} | {} ({} + {}) | {} | {} / {}, {} | {floor:.2} | {:.2} | {:.2} | {} | {} | {:.1} + {:.1} | {} | {} |",
                u(&c["total"]),
                u(&c["total"]) as f64 / n as f64,
                u(&c["mutating"]),
                u(&c["failed"]),
                u(&p["failed_not_lookup"]),
                u(&p["retries"]),
                u(&c["critical_path"]),
                u(&p["plan_calls"]["critical_path"]),
                u(&p["apply_calls"]["critical_path"]),
                u(&p["wire"]["critical_path"]),
                u(&p["plan_calls"]["max_concurrency"]),
                u(&p["apply_calls"]["max_concurrency"]),
                u(&p["wire"]["max_concurrency"]),
                f(&p["plan_s"]),
                f(&p["wall_s"]),
                if floor > 0.0 {
                    format!("{:.2}×", f(&p["wall_s"]) / floor)
                } else {
                    "-".to_string()
                },
                match p["quota_bucket"].as_str() {
                    Some(b) if !b.is_empty() => format!("{:.1} ({b})", f(&p["quota_floor_s"])),
                    _ => "0".to_string(),
                },
                f(&p["cpu_s"]),
                f(&p["moto_cpu_s"]),
                mib(&p["process"]["peak_rss_kib"]),
                mib(&p["moto"]["peak_rss_kib"]),
            );
        }
        if let Some(v) = fleet.get("noop_violation").filter(|v| !v.is_null()) {
            failures.push(format!(
                "N = {n}: ASSERTION FAILED, the no-op re-apply made mutating calls: {v}"
            ));
        }
    }
    println!();
    let warm: Vec<String> = fleets
        .iter()
        .zip(&args.apps)
        .map(|(fl, n)| {
            format!(
                "N = {n}: {} (then moto's first calls in the measured account: {:.2} s)",
                fl["warm_up_cycle"].as_str().unwrap_or("-"),
                f(&fl["account_warm_up_s"])
            )
        })
        .collect();
    println!(
        "untimed warm-up per process (2 apps in another account): {}",
        warm.join("; ")
    );
    println!();
    if failures.is_empty() {
        println!("every phase succeeded; the no-op re-apply made 0 mutating calls at every N");
    } else {
        println!("failures:");
        for fl in &failures {
            println!("- {fl}");
        }
    }

    for phase in ["no-op re-apply", "cold deploy", "image update", "destroy"] {
        print_by_operation(&fleets, &args.apps, phase);
    }
    print_retries(&fleets, &args.apps);
    println!();
    println!("critical paths (`|` is not marked; consecutive repeats as ×k):");
    for (fleet, &n) in fleets.iter().zip(&args.apps) {
        for p in fleet["phases"].as_array().into_iter().flatten() {
            if let Some(chain) = p["critical_chain"].as_str() {
                let floor = f(&p["floor_s"]);
                let in_calls = f(&p["chain_calls_s"]);
                println!(
                    "- N = {n}, {} ({}; wall {:.2} s = floor {floor:.2} + in its calls beyond the round trip {:.2} + between them {:.2}): {chain}",
                    p["phase"].as_str().unwrap_or("?"),
                    u(&p["calls"]["critical_path"]),
                    f(&p["wall_s"]),
                    in_calls - floor,
                    f(&p["wall_s"]) - in_calls,
                );
            }
        }
    }
}

fn print_seed(seed: &Value) {
    let runs = seed["runs"].as_array().cloned().unwrap_or_default();
    println!();
    if runs.is_empty() {
        println!(
            "seed (financial-dashboard) cold deploy: no result: {}",
            seed["error"].as_str().unwrap_or("?")
        );
        return;
    }
    let samples = |key: &dyn Fn(&Value) -> f64| -> Samples { runs.iter().map(key).collect() };
    let wall = samples(&|p| f(&p["wall_s"]));
    let floor = samples(&|p| f(&p["floor_s"]));
    let cp = samples(&|p| u(&p["calls"]["critical_path"]) as f64);
    let plan_cp = samples(&|p| u(&p["plan_calls"]["critical_path"]) as f64);
    let apply_cp = samples(&|p| u(&p["apply_calls"]["critical_path"]) as f64);
    let calls = samples(&|p| u(&p["calls"]["total"]) as f64);
    let wire = samples(&|p| u(&p["wire"]["critical_path"]) as f64);
    let ratio = samples(&|p| {
        let fl = f(&p["floor_s"]);
        if fl > 0.0 { f(&p["wall_s"]) / fl } else { 0.0 }
    });
    println!(
        "seed (financial-dashboard) cold deploy, {} runs in fresh accounts: {} calls, critical path {} ({} + {}), wire round trips {}, floor {} s, wall {} s: **wall / floor = {}×** (median [min–max])",
        runs.len(),
        calls.display(0),
        cp.display(0),
        plan_cp.display(0),
        apply_cp.display(0),
        wire.display(0),
        floor.display(2),
        wall.display(2),
        ratio.display(2),
    );
    for p in &runs {
        if let Some(e) = p["error"].as_str() {
            println!("  FAILED: {e}");
        }
    }
    // The critical path in time: the durations of the calls on the longest chain of
    // dependent calls, end to end, as they were measured in this run.
    let path_s = samples(&|p| f(&p["chain_calls_s"]));
    let path_ratio = samples(&|p| {
        let path = f(&p["chain_calls_s"]);
        if path > 0.0 {
            f(&p["wall_s"]) / path
        } else {
            0.0
        }
    });
    println!(
        "  critical path in time (the durations of its calls, one after another) {} s: **wall / critical path = {}×**",
        path_s.display(2),
        path_ratio.display(2),
    );
    let in_calls = samples(&|p| f(&p["chain_calls_s"]) - f(&p["floor_s"]));
    let between = samples(&|p| f(&p["wall_s"]) - f(&p["chain_calls_s"]));
    let exchange_ms = samples(&|p| f(&p["mean_exchange_s"]) * 1000.0);
    let chain_call_ms = samples(&|p| {
        let n = u(&p["calls"]["critical_path"]).max(1) as f64;
        f(&p["chain_calls_s"]) / n * 1000.0
    });
    println!(
        "  wall = floor {} s + the critical path's calls beyond their round trip (moto's processing and queueing, request-limit waits) {} s + between those calls (the client) {} s",
        floor.display(2),
        in_calls.display(2),
        between.display(2),
    );
    println!(
        "  a call on the critical path took {} ms on average; an HTTP exchange (SDK to moto and back, through the proxy) {} ms",
        chain_call_ms.display(1),
        exchange_ms.display(1),
    );
    if let Some(chain) = runs.last().and_then(|p| p["critical_chain"].as_str()) {
        println!("  last critical path: {chain}");
    }
}

/// Calls by operation of one phase across N: count at each N, and count / N.
fn print_by_operation(fleets: &[Value], ns: &[usize], phase: &str) {
    let of = |fleet: &Value| -> Option<BTreeMap<String, u64>> {
        fleet["phases"]
            .as_array()?
            .iter()
            .find(|p| p["phase"] == phase && p["ok"].as_bool() == Some(true))?
            .get("by_operation")?
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), u(v))).collect())
    };
    let columns: Vec<(usize, BTreeMap<String, u64>)> = fleets
        .iter()
        .zip(ns)
        .filter_map(|(fl, &n)| of(fl).map(|m| (n, m)))
        .collect();
    if columns.is_empty() {
        return;
    }
    let ops: BTreeSet<&String> = columns.iter().flat_map(|(_, m)| m.keys()).collect();
    println!();
    println!(
        "calls by operation, {phase} (phases that succeeded): count at each N (count / N); growth compares count / N at the two largest N"
    );
    println!();
    let header: Vec<String> = columns.iter().map(|(n, _)| format!("N = {n}")).collect();
    println!("| operation | {} | growth |", header.join(" | "));
    println!("|---|{}---|", "--:|".repeat(columns.len()));
    let mut totals = vec![0u64; columns.len()];
    for op in ops {
        let counts: Vec<u64> = columns
            .iter()
            .map(|(_, m)| m.get(op).copied().unwrap_or(0))
            .collect();
        for (t, c) in totals.iter_mut().zip(&counts) {
            *t += c;
        }
        let cells: Vec<String> = counts
            .iter()
            .zip(&columns)
            .map(|(c, (n, _))| format!("{c} ({:.2})", *c as f64 / *n as f64))
            .collect();
        println!(
            "| {op} | {} | {} |",
            cells.join(" | "),
            growth(&columns, &counts)
        );
    }
    let cells: Vec<String> = totals
        .iter()
        .zip(&columns)
        .map(|(c, (n, _))| format!("**{c}** ({:.2})", *c as f64 / *n as f64))
        .collect();
    println!(
        "| all | {} | {} |",
        cells.join(" | "),
        growth(&columns, &totals)
    );
}

/// How count(N) grows between the two largest N that have a result:
/// `constant`, `linear` (count / N within ±20 %), `super-linear` or
/// `sub-linear`.
fn growth(columns: &[(usize, BTreeMap<String, u64>)], counts: &[u64]) -> String {
    if columns.len() < 2 {
        return "-".to_string();
    }
    let (a, b) = (columns.len() - 2, columns.len() - 1);
    let (na, nb) = (columns[a].0 as f64, columns[b].0 as f64);
    let (ca, cb) = (counts[a] as f64, counts[b] as f64);
    if ca == cb {
        return "constant".to_string();
    }
    if ca == 0.0 {
        return format!("new at N = {}", columns[b].0);
    }
    let r = (cb / nb) / (ca / na);
    let kind = if r > 1.2 {
        "**super-linear**"
    } else if r < 0.8 {
        "sub-linear"
    } else {
        "linear"
    };
    format!("{kind} ({r:.2})")
}

fn print_retries(fleets: &[Value], ns: &[usize]) {
    let mut lines = Vec::new();
    for (fleet, &n) in fleets.iter().zip(ns) {
        for p in fleet["phases"].as_array().into_iter().flatten() {
            let name = p["phase"].as_str().unwrap_or("?");
            let reasons: Vec<(&String, u64)> = p["failed_attempt_reasons"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k, u(v)))
                .collect();
            let not_found: u64 = reasons
                .iter()
                .filter(|(r, _)| is_not_found(r))
                .map(|(_, c)| c)
                .sum();
            let mut problems: Vec<(&String, u64)> = reasons
                .iter()
                .copied()
                .filter(|(r, _)| !is_not_found(r))
                .collect();
            if problems.is_empty() && u(&p["retries"]) == 0 {
                continue;
            }
            problems.sort_by_key(|p| std::cmp::Reverse(p.1));
            lines.push(format!(
                "- N = {n}, {name}: {} retries; {} failed attempts, {} of them look-ups of something missing (expected while planning); {} failed calls after retries that are not look-ups",
                u(&p["retries"]),
                u(&p["failed_attempts"]),
                not_found,
                u(&p["failed_not_lookup"]),
            ));
            for (reason, count) in problems.iter().take(6) {
                lines.push(format!("  - {count}× {reason}"));
            }
            if problems.len() > 6 {
                lines.push(format!("  - … and {} other reasons", problems.len() - 6));
            }
            let retried: Vec<String> = p["retried_by_operation"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} ×{}", u(v)))
                .collect();
            if !retried.is_empty() {
                lines.push(format!("  - retried: {}", retried.join(", ")));
            }
        }
    }
    println!();
    if lines.is_empty() {
        println!("no retries, and no failed attempt other than look-ups of missing resources");
    } else {
        println!("failed attempts and retries (look-ups of missing resources left out):");
        for l in lines {
            println!("{l}");
        }
    }
}
