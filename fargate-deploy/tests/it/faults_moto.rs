//! Faults against the moto server, through the fault-injection layer of fargate-testkit: the
//! seed-like app (the `dashboard` of examples/apps: a FrontendApp behind the shared ALB and a
//! ScheduledJob, in a new network) is applied and destroyed while
//!
//! - (a) the reply of every mutating call a clean apply and a clean destroy make is lost (each
//!   call is applied, the SDK retries it), in one apply and one destroy;
//! - (b) the apply dies right after one mutating call (applied, then a non-retryable error),
//!   for every mutating call of a clean apply, and a clean apply follows;
//! - (c) 30 % of all requests are throttled.
//!
//! The lists of calls come from a recorded clean run ([`CallRecorder::mutating_calls`]), so a
//! new call cannot be missed. "Converged" means: what exists is exactly what a clean apply
//! makes (one of each resource, compared by name), and a new plan has no change.
//!
//! The kill sweep (b) is most of this binary's moto work (two applies per mutating call), and
//! moto is one Python process on one core: (a) and (b) each run on a moto server of their own
//! ([`fargate_testkit::extra_moto`]), each case in its own account, so both cores serve them
//! and the other tests keep the binary's shared server. (a) needs no run per call: a lost
//! reply leaves the call applied and the run going, so one run can lose them all; a crash
//! ends the run, so (b) needs one per call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fargate_deploy::{
    ApplyOptions, Deployer, DeployerOptions, Environment, FrontendApp, LockOptions, ScheduledJob,
    default_retry_config,
};
use fargate_testkit::aws_sdk_ec2::types::Filter;
use fargate_testkit::aws_sdk_ecs::types::TaskDefinitionStatus;
use fargate_testkit::{CallRecorder, Faults, MotoServer, TestContext};
use tokio::sync::Semaphore;

/// Cases run at once (each in its own moto account).
const CONCURRENCY: usize = 6;

fn env() -> Environment {
    Environment::builder()
        .name("dashboard")
        .vpc_cidr("10.20.0.0/16")
        .build()
        .unwrap()
}

fn frontend() -> FrontendApp {
    let service = fargate_deploy::ContainerService::builder()
        .name("api")
        .image("public.ecr.aws/docker/library/python:3.12-alpine")
        .port(8000)
        .build()
        .unwrap();
    FrontendApp::builder()
        .service(service)
        .paths(vec!["/*".to_string()])
        .health_check_path("/")
        .build()
        .unwrap()
}

fn job() -> ScheduledJob {
    ScheduledJob::builder()
        .name("etl")
        .image("public.ecr.aws/docker/library/python:3.12-alpine")
        .schedule("cron(0 2 * * ? *)")
        .timezone("Europe/Paris")
        .command(vec![
            "python".into(),
            "-c".into(),
            "print('ETL done')".into(),
        ])
        .job_env([("ETL_JOB".to_string(), "import-transactions".to_string())].into())
        .memory_reservation(512)
        .build()
        .unwrap()
}

/// The library's retry defaults (mode and attempts) with millisecond backoffs.
fn options(ctx: &TestContext) -> DeployerOptions {
    DeployerOptions::default()
        .interceptors(ctx.interceptors())
        .retry_config(
            default_retry_config()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(20)),
        )
}

/// The environment lock's lease: short, so that the lease of a killed apply expires soon.
const LEASE: Duration = Duration::from_secs(10);

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_options(&ctx.sdk_config(), options(ctx))
        .await
        .unwrap()
        .with_lock_options(LockOptions {
            ttl: LEASE,
            ..LockOptions::default()
        })
}

/// The deployer of the run after a killed one: it waits for the dead holder's lease to
/// expire, as the lock documents, rather than failing at once.
async fn next_run_deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_options(&ctx.sdk_config(), options(ctx))
        .await
        .unwrap()
        .with_lock_options(LockOptions {
            ttl: LEASE,
            wait: LEASE * 3,
            ..LockOptions::default()
        })
}

async fn apply(d: &Deployer) -> Result<(), String> {
    let (env, fe, job) = (env(), frontend(), job());
    let plan = d
        .plan(&env, &[&fe, &job])
        .await
        .map_err(|e| format!("plan: {e}"))?;
    d.apply(plan)
        .await
        .map(drop)
        .map_err(|e| format!("apply: {e} ({:?})", e.source))
}

async fn destroy(d: &Deployer) -> Result<(), String> {
    let (env, fe, job) = (env(), frontend(), job());
    let plan = d
        .plan_destroy(&env, &[&fe, &job])
        .await
        .map_err(|e| format!("plan destroy: {e}"))?;
    d.apply(plan)
        .await
        .map(drop)
        .map_err(|e| format!("destroy: {e} ({:?})", e.source))
}

/// A new plan has no change.
async fn settled(d: &Deployer) -> Result<(), String> {
    let (env, fe, job) = (env(), frontend(), job());
    let plan = d
        .plan(&env, &[&fe, &job])
        .await
        .map_err(|e| format!("re-plan: {e}"))?;
    if plan.has_changes() {
        return Err(format!("the re-plan has changes:\n{plan}"));
    }
    Ok(())
}

/// `(operation, n)`: the n-th call (from 1) of each mutating operation, in call order.
fn indexed(calls: &[String]) -> Vec<(String, usize)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    calls
        .iter()
        .map(|c| {
            let n = seen.entry(c.as_str()).or_insert(0);
            *n += 1;
            (c.clone(), *n)
        })
        .collect()
}

fn tag_value(tags: &[fargate_testkit::aws_sdk_ec2::types::Tag], key: &str) -> String {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .unwrap_or("(none)")
        .to_string()
}

/// Everything of interest in the account, by kind and name (ids differ between accounts),
/// with how many there are of each.
async fn inventory(ctx: &TestContext) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |k: String| *out.entry(k).or_insert(0) += 1;
    let ec2 = ctx.ec2();
    let ours = || {
        Filter::builder()
            .name("tag-key")
            .values("fargate:managed-by")
            .build()
    };
    for v in ec2
        .describe_vpcs()
        .filters(ours())
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        add(format!("vpc {}", tag_value(v.tags(), "Name")));
    }
    for s in ec2
        .describe_subnets()
        .filters(ours())
        .send()
        .await
        .unwrap()
        .subnets()
    {
        add(format!("subnet {}", tag_value(s.tags(), "Name")));
    }
    let igws = ec2
        .describe_internet_gateways()
        .filters(ours())
        .send()
        .await
        .unwrap();
    for g in igws.internet_gateways() {
        add(format!("internet-gateway {}", tag_value(g.tags(), "Name")));
    }
    let tables = ec2
        .describe_route_tables()
        .filters(ours())
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        add(format!("route-table {}", tag_value(t.tags(), "Name")));
    }
    let groups = ec2
        .describe_security_groups()
        .filters(ours())
        .send()
        .await
        .unwrap();
    for g in groups.security_groups() {
        add(format!(
            "security-group {}",
            g.group_name().unwrap_or_default()
        ));
    }
    let elb = ctx.elb();
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    for lb in lbs.load_balancers() {
        let name = lb.load_balancer_name().unwrap_or_default();
        add(format!("load-balancer {name}"));
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
            .send()
            .await
            .unwrap();
        for l in listeners.listeners() {
            let port = l.port().unwrap_or_default();
            add(format!("listener {name}:{port}"));
            let rules = elb
                .describe_rules()
                .listener_arn(l.listener_arn().unwrap_or_default())
                .send()
                .await
                .unwrap();
            for r in rules
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
            {
                add(format!(
                    "rule {name}:{port}:{}",
                    r.priority().unwrap_or_default()
                ));
            }
        }
    }
    for tg in elb
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
    {
        add(format!(
            "target-group {}",
            tg.target_group_name().unwrap_or_default()
        ));
    }
    let ecs = ctx.ecs();
    let clusters = ecs.list_clusters().send().await.unwrap();
    if !clusters.cluster_arns().is_empty() {
        let described = ecs
            .describe_clusters()
            // Tags included, as the library asks: moto 5.2 shares that choice between threads.
            .include(fargate_testkit::aws_sdk_ecs::types::ClusterField::Tags)
            .set_clusters(Some(clusters.cluster_arns().to_vec()))
            .send()
            .await
            .unwrap();
        for c in described
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
        {
            let name = c.cluster_name().unwrap_or_default().to_string();
            add(format!("cluster {name}"));
            let services = ecs.list_services().cluster(&name).send().await.unwrap();
            if services.service_arns().is_empty() {
                continue;
            }
            // With the tags, like every DescribeServices of the library: moto 5.2 keeps
            // "include tags or not" in a class attribute shared by all its threads, so a
            // DescribeServices without tags in one account can strip them from the library's
            // answer in another (seen: a kill-at-call case failing with NotOwned).
            let described = ecs
                .describe_services()
                .cluster(&name)
                .set_services(Some(services.service_arns().to_vec()))
                .include(fargate_testkit::aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
                .unwrap();
            for s in described
                .services()
                .iter()
                .filter(|s| s.status() == Some("ACTIVE"))
            {
                add(format!(
                    "service {name}/{}",
                    s.service_name().unwrap_or_default()
                ));
            }
        }
    }
    let active = ecs
        .list_task_definitions()
        .status(TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    let mut families: Vec<String> = active
        .task_definition_arns()
        .iter()
        .filter_map(|arn| {
            arn.rsplit('/')
                .next()?
                .split(':')
                .next()
                .map(str::to_string)
        })
        .collect();
    families.sort();
    families.dedup();
    for f in families {
        // A family with active revisions, not its revisions: a retried
        // RegisterTaskDefinition adds an identical revision (the API has no token), which is
        // history, not a second task definition.
        add(format!("task-definition-family {f}"));
    }
    for r in ctx.iam().list_roles().send().await.unwrap().roles() {
        add(format!("role {}", r.role_name()));
    }
    let logs = ctx.logs().describe_log_groups().send().await.unwrap();
    for g in logs.log_groups() {
        add(format!(
            "log-group {}",
            g.log_group_name().unwrap_or_default()
        ));
    }
    let repos = ctx.ecr().describe_repositories().send().await.unwrap();
    for r in repos.repositories() {
        add(format!(
            "repository {}",
            r.repository_name().unwrap_or_default()
        ));
    }
    let schedules = ctx.scheduler().list_schedules().send().await.unwrap();
    for s in schedules.schedules() {
        add(format!(
            "schedule {}/{}",
            s.group_name().unwrap_or_default(),
            s.name().unwrap_or_default()
        ));
    }
    out
}

/// The difference between two inventories, for a failure message; empty when equal.
fn difference(want: &BTreeMap<String, usize>, got: &BTreeMap<String, usize>) -> String {
    let mut keys: Vec<&String> = want.keys().chain(got.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (w, g) = (
                want.get(k).copied().unwrap_or(0),
                got.get(k).copied().unwrap_or(0),
            );
            (w != g).then(|| format!("{k}: {g} instead of {w}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A clean apply and destroy in a new account: what the apply makes, and the mutating
/// calls of each (in call order).
struct Reference {
    inventory: BTreeMap<String, usize>,
    apply_calls: Vec<String>,
    destroy_calls: Vec<String>,
}

async fn reference(server: &'static MotoServer) -> Reference {
    let ctx = TestContext::new(server);
    let d = deployer(&ctx).await;
    let recorder: CallRecorder = ctx.recorder();
    let mark = recorder.mark();
    apply(&d).await.unwrap();
    let apply_calls = recorder.mutating_calls_since(mark);
    let made = inventory(&ctx).await;
    // Idempotent: the re-plan is empty and a re-apply makes no mutating call.
    settled(&d).await.unwrap();
    let mark = recorder.mark();
    apply(&d).await.unwrap();
    assert_eq!(recorder.mutating_calls_since(mark), Vec::<String>::new());
    let mark = recorder.mark();
    destroy(&d).await.unwrap();
    let destroy_calls = recorder.mutating_calls_since(mark);
    assert_eq!(
        inventory(&ctx).await,
        BTreeMap::new(),
        "destroy left something"
    );
    assert!(apply_calls.len() > 20, "{apply_calls:?}");
    assert!(destroy_calls.len() > 10, "{destroy_calls:?}");
    Reference {
        inventory: made,
        apply_calls,
        destroy_calls,
    }
}

/// Runs every case, `CONCURRENCY` at a time; `Err` lists the failed ones.
async fn run_cases<F, Fut>(what: &str, cases: Vec<(String, usize)>, case: F) -> Result<(), String>
where
    F: Fn(String, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let total = cases.len();
    for (op, n) in cases {
        let permits = permits.clone();
        let fut = case(op.clone(), n);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            (op, n, fut.await)
        });
    }
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (op, n, result) = joined.unwrap();
        if let Err(e) = result {
            failed.push(format!("{op} #{n}: {e}"));
        }
    }
    failed.sort();
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} of {total} {what} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    ))
}

/// Faults that lose the reply of each of `calls` (the n-th call of each operation, once).
fn lose_each_reply(calls: &[String]) -> (Faults, usize) {
    let planned = indexed(calls);
    let n = planned.len();
    let faults = planned
        .into_iter()
        .fold(Faults::new(), |f, (op, n)| f.lose_reply(&op, n));
    (faults, n)
}

/// Every one of the `planned` lost replies was injected.
fn all_fired(faults: &Faults, planned: usize) {
    assert_eq!(
        faults.counts().lost_replies,
        planned,
        "not every planned fault fired: {:?}",
        faults.injected()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_replies_on_every_mutating_call_still_apply_and_destroy_exactly_once() {
    let server = fargate_testkit::extra_moto().await;
    let reference = reference(server).await;
    let ctx = TestContext::new(server);

    // Apply: every mutating call the clean apply made is applied, its reply lost, and the
    // SDK retries it (a call's index counts its calls, not its attempts, so each fault fires
    // on the first attempt of one call). Each call meets the effect of its own first attempt,
    // as in a sweep that loses one reply per run, without one apply per call.
    let (faults, planned) = lose_each_reply(&reference.apply_calls);
    apply(&deployer(&ctx.with_faults(&faults)).await)
        .await
        .unwrap();
    all_fired(&faults, planned);
    let diff = difference(&reference.inventory, &inventory(&ctx).await);
    assert!(diff.is_empty(), "not one of each: {diff}");
    settled(&deployer(&ctx).await).await.unwrap();

    // Destroy: every mutating call of the clean destroy loses its reply.
    let (faults, planned) = lose_each_reply(&reference.destroy_calls);
    destroy(&deployer(&ctx.with_faults(&faults)).await)
        .await
        .unwrap();
    all_fired(&faults, planned);
    assert_eq!(inventory(&ctx).await, BTreeMap::new(), "left after destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_apply_killed_after_any_mutating_call_converges_on_the_next_apply() {
    let server = fargate_testkit::extra_moto().await;
    let reference = Arc::new(reference(server).await);
    let r = reference.clone();
    run_cases(
        "kill-at-call",
        indexed(&reference.apply_calls),
        move |op, n| {
            let r = r.clone();
            async move {
                let ctx = TestContext::new(server);
                let faults = Faults::new().crash(&op, n);
                let killed = apply(&deployer(&ctx.with_faults(&faults)).await).await;
                if faults.counts().crashes != 1 {
                    return Err(format!("the fault did not fire: {:?}", faults.injected()));
                }
                // A crash fails the apply, except in the lock's renewal or release, which come
                // after (or beside) the work and do not fail an apply that did it.
                if killed.is_ok() && !op.starts_with("SSM.") {
                    return Err("the apply succeeded through a crash".into());
                }
                // The next run: a new deployer, waiting for a lease the killed run left.
                let d = next_run_deployer(&ctx).await;
                let (env, fe, job) = (env(), frontend(), job());
                d.deploy(&env, &[&fe, &job], ApplyOptions::default())
                    .await
                    .map_err(|e| format!("re-apply: {e} ({:?})", e.source))?;
                let diff = difference(&r.inventory, &inventory(&ctx).await);
                if !diff.is_empty() {
                    return Err(format!("not one of each: {diff}"));
                }
                settled(&d).await
            }
        },
    )
    .await
    .unwrap_or_else(|failed| panic!("{failed}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_percent_throttling_applies_and_destroys_on_the_first_run() {
    let ctx = fargate_testkit::context().await;
    let faults = Faults::new().throttle_percent(30, 20_240_917);
    // AWS's request limits, adaptive as always (each throttling answer halves its bucket's
    // rate), at ten times their rates: at AWS's own, 30 % throttling slows SSM writes to one
    // every five seconds, and the test would mostly wait for tokens.
    let faulty = ctx.with_faults(&faults);
    let d = Deployer::with_options(
        &faulty.sdk_config(),
        options(&faulty).request_limits(fargate_core::limit::RequestLimits::aws().scaled(10.0)),
    )
    .await
    .unwrap()
    .with_lock_options(LockOptions {
        ttl: LEASE,
        ..LockOptions::default()
    });
    apply(&d).await.unwrap();
    let after_apply = faults.counts().throttled;
    assert!(after_apply > 10, "{:?}", faults.counts());
    settled(&d).await.unwrap();
    destroy(&d).await.unwrap();
    assert!(
        faults.counts().throttled > after_apply,
        "{:?}",
        faults.counts()
    );
    assert_eq!(inventory(&ctx).await, BTreeMap::new());
}
