//! End-to-end deploy costs of the financial-dashboard scenario (the `demo`
//! example: an API behind the shared ALB, two tasks, and a nightly ETL job on
//! EventBridge Scheduler, in a new VPC), against the moto server behind a
//! loopback proxy that adds 25 ms to each direction of every exchange — about
//! what a call to a real AWS regional endpoint costs.
//!
//! Measured per scenario: AWS calls, mutating calls, the critical path (the
//! longest chain of calls that had to wait for each other) and the largest
//! number of calls in flight, from the deployer's call recorder; and wall time.
//! Each measurement is repeated 3 times (a fresh moto account for every cold
//! deploy); the table shows the median and [min–max].
//!
//! Then the time to diagnosis of a crash-looping rollout, against mocked ECS
//! (aws-smithy-mocks) on tokio's paused clock, with the default
//! `RolloutOptions`: simulated seconds until `await_rollout` returns the error.
//!
//! Run: `cargo bench -p fargate-benches --bench deploy`. A plain program (no
//! criterion): the runs take seconds each. Results are in `BENCHMARKS.md`.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fargate_benches::measure::critical_chain;
use fargate_benches::scenario::{Dashboard, IMAGE_V1, IMAGE_V2, create_db_secret, warm_up_account};
use fargate_benches::{LatencyProxy, Samples};
use fargate_core::exec::{CancellationToken, EventSink, Outputs, StepContext};
use fargate_core::{CallSummary, Error, ResourceId};
use fargate_deploy::rollout::{LogTarget, RolloutError, RolloutOptions, RolloutWatch};
use fargate_deploy::{ApplyOptions, AwsContext, Clients, Deployer};
use fargate_net::NetClients;
use fargate_testkit::aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use fargate_testkit::aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use fargate_testkit::aws_sdk_ecs::Client as Ecs;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use fargate_testkit::aws_sdk_ecs::types::{
    Container, Deployment, DeploymentRolloutState, Service, Task, TaskStopCode,
};
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::{TestContext, mock_sdk_client};

type BoxError = Box<dyn StdError>;

/// Latency added to each direction of every exchange with moto.
const ONE_WAY: Duration = Duration::from_millis(25);
/// Measured repetitions of every scenario (after one untimed warm-up round).
const REPS: usize = 3;

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; a filter argument selects one part.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |part: &str| filter.is_empty() || filter.iter().any(|f| part.contains(f.as_str()));
    if wants("deploy") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let rows = rt.block_on(deploy_benchmarks())?;
        print_deploy(&rows);
    }
    if wants("diagnosis") {
        let rows = diagnosis_benchmarks()?;
        print_diagnosis(&rows);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Deploys against moto behind the latency proxy
// ---------------------------------------------------------------------------

/// One plan + apply, measured.
struct Run {
    /// Both phases.
    calls: CallSummary,
    /// The plan's observe phase only.
    plan_calls: CallSummary,
    /// The apply only.
    apply_calls: CallSummary,
    /// The longest chain of calls, each waiting for the one before.
    chain: Vec<String>,
    plan: Duration,
    wall: Duration,
    summary: String,
}

#[derive(Clone, Copy, PartialEq)]
enum What {
    Apply,
    Destroy,
}

async fn plan_apply(
    d: &Deployer,
    dash: &Dashboard,
    what: What,
    concurrency: Option<usize>,
) -> Result<Run, BoxError> {
    let apps = dash.apps();
    let recorder = d.recorder();
    let mark = recorder.mark();
    let start = Instant::now();
    let plan = match what {
        What::Apply => d.plan(&dash.env, &apps).await?,
        What::Destroy => d.plan_destroy(&dash.env, &apps).await?,
    };
    let planned = start.elapsed();
    let applying = recorder.mark();
    let summary = plan.plan().summary().to_string();
    d.apply_with(
        plan,
        ApplyOptions {
            concurrency,
            ..ApplyOptions::default()
        },
    )
    .await?;
    let wall = start.elapsed();
    let records = recorder.records_since(mark);
    Ok(Run {
        calls: recorder.summary_since(mark),
        plan_calls: CallSummary::from_records(records.get(..applying - mark).unwrap_or_default()),
        apply_calls: recorder.summary_since(applying),
        chain: critical_chain(&records),
        plan: planned,
        wall,
        summary,
    })
}

/// One row of the deploy table: samples over the repetitions.
struct Row {
    name: &'static str,
    summary: String,
    calls: Samples,
    mutating: Samples,
    critical: Samples,
    plan_critical: Samples,
    apply_critical: Samples,
    plan_concurrency: Samples,
    apply_concurrency: Samples,
    plan: Samples,
    wall: Samples,
    by_operation: Vec<(String, usize)>,
    chain: Vec<String>,
}

impl Row {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            summary: String::new(),
            calls: Samples::new(),
            mutating: Samples::new(),
            critical: Samples::new(),
            plan_critical: Samples::new(),
            apply_critical: Samples::new(),
            plan_concurrency: Samples::new(),
            apply_concurrency: Samples::new(),
            plan: Samples::new(),
            wall: Samples::new(),
            by_operation: Vec::new(),
            chain: Vec::new(),
        }
    }

    fn add(&mut self, run: Run) {
        self.summary = run.summary;
        self.calls.push(run.calls.total as f64);
        self.mutating.push(run.calls.mutating as f64);
        self.critical.push(run.calls.critical_path as f64);
        self.plan_critical.push(run.plan_calls.critical_path as f64);
        self.apply_critical
            .push(run.apply_calls.critical_path as f64);
        self.plan_concurrency
            .push(run.plan_calls.max_concurrency as f64);
        self.apply_concurrency
            .push(run.apply_calls.max_concurrency as f64);
        self.plan.push(run.plan.as_secs_f64());
        self.wall.push(run.wall.as_secs_f64());
        self.by_operation = run.calls.by_operation.into_iter().collect();
        self.chain = run.chain;
    }
}

struct DeployResults {
    rows: Vec<Row>,
    /// Per repetition: sequential cold wall time / concurrent cold wall time.
    ratio: Samples,
    /// Time moto took to set up each fresh account's backends (not measured).
    account_warmup: Samples,
    moto_url: String,
}

/// A deployer on a fresh moto account, talking through the proxy, and the
/// ARN of the dashboard's database secret in that account.
async fn deployer(
    proxy: &LatencyProxy,
) -> Result<(TestContext, Deployer, Duration, String), BoxError> {
    let ctx = fargate_testkit::context().await;
    let warm = warm_up_account(&ctx).await;
    let secret = create_db_secret(&ctx).await?;
    let sdk = ctx
        .sdk_config()
        .to_builder()
        .endpoint_url(proxy.url())
        .build();
    let d = Deployer::with_interceptors(&sdk, ctx.interceptors()).await?;
    Ok((ctx, d, warm, secret))
}

async fn deploy_benchmarks() -> Result<DeployResults, BoxError> {
    let first = fargate_testkit::context().await;
    let moto_url = first.url().to_string();
    let upstream = moto_url.trim_start_matches("http://").to_string();
    let proxy = LatencyProxy::start(upstream, ONE_WAY).await?;

    let mut cold = Row::new("cold deploy (plan + apply)");
    let mut noop = Row::new("no-op re-apply (plan + apply)");
    let mut update = Row::new("image update (plan + apply)");
    let mut destroy = Row::new("destroy (plan + apply)");
    let mut sequential = Row::new("cold deploy, concurrency 1");
    let mut ratio = Samples::new();
    let mut account_warmup = Samples::new();

    // Round 0 is an untimed warm-up: moto imports its service modules and the
    // SDK clients fill their connection pools once.
    for round in 0..=REPS {
        let measured = round > 0;
        eprintln!(
            "{} round {round}/{REPS}",
            if measured { "measured" } else { "warm-up" }
        );

        let (_ctx, d, warm, secret) = deployer(&proxy).await?;
        let v1 = Dashboard::new(&secret, IMAGE_V1)?;
        let v2 = Dashboard::new(&secret, IMAGE_V2)?;
        let c = plan_apply(&d, &v1, What::Apply, None).await?;
        let cold_wall = c.wall.as_secs_f64();
        let n = plan_apply(&d, &v1, What::Apply, None).await?;
        let u = plan_apply(&d, &v2, What::Apply, None).await?;
        let x = plan_apply(&d, &v2, What::Destroy, None).await?;

        let (_ctx1, d1, warm1, secret1) = deployer(&proxy).await?;
        let s1 = Dashboard::new(&secret1, IMAGE_V1)?;
        let s = plan_apply(&d1, &s1, What::Apply, Some(1)).await?;
        let seq_wall = s.wall.as_secs_f64();

        if measured {
            cold.add(c);
            noop.add(n);
            update.add(u);
            destroy.add(x);
            sequential.add(s);
            ratio.push(seq_wall / cold_wall);
            account_warmup.push(warm.as_secs_f64());
            account_warmup.push(warm1.as_secs_f64());
        }
    }
    drop(proxy);
    Ok(DeployResults {
        rows: vec![cold, noop, update, destroy, sequential],
        ratio,
        account_warmup,
        moto_url,
    })
}

fn print_deploy(r: &DeployResults) {
    println!();
    println!(
        "## Financial-dashboard deploy against moto ({}) through a latency proxy: +{} ms each way",
        r.moto_url,
        ONE_WAY.as_millis()
    );
    println!(
        "{REPS} repetitions; counts and seconds as median [min–max]; floor = critical path × {} ms round trip",
        2 * ONE_WAY.as_millis()
    );
    println!();
    println!(
        "| scenario | plan | API calls | mutating | critical path (plan + apply) | max in flight (plan / apply) | floor s | plan s | wall s | wall / floor |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for row in &r.rows {
        let floor = row.critical.median().unwrap_or(0.0) * 2.0 * ONE_WAY.as_secs_f64();
        // Per repetition: wall time over that repetition's own floor.
        let over_floor: Samples = row
            .wall
            .values()
            .iter()
            .zip(row.critical.values())
            .filter(|(_, cp)| **cp > 0.0)
            .map(|(wall, cp)| wall / (cp * 2.0 * ONE_WAY.as_secs_f64()))
            .collect();
        println!(
            "| {} | {} | {} | {} | {} ({} + {}) | {} / {} | {floor:.2} | {} | {} | {}× |",
            row.name,
            row.summary,
            row.calls.display(0),
            row.mutating.display(0),
            row.critical.display(0),
            row.plan_critical.display(0),
            row.apply_critical.display(0),
            row.plan_concurrency.display(0),
            row.apply_concurrency.display(0),
            row.plan.display(2),
            row.wall.display(2),
            over_floor.display(2),
        );
    }
    println!();
    println!(
        "sequential / concurrent cold deploy wall time, per repetition: {}×",
        r.ratio.display(2)
    );
    println!(
        "(not measured) moto's first-call setup of each fresh account: {} s",
        r.account_warmup.display(2)
    );
    for row in &r.rows {
        println!();
        println!("last \"{}\":", row.name);
        println!("  critical path: {}", row.chain.join(" → "));
        let ops: Vec<String> = row
            .by_operation
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        println!("  calls by operation: {}", ops.join(", "));
    }
}

// ---------------------------------------------------------------------------
// Time to diagnosis of a failed rollout (mocked ECS, paused clock)
// ---------------------------------------------------------------------------

const PREVIOUS: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/dash-api:6";
const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/dash-api:7";
const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/dash/0123456789abcdef";

/// How the new deployment's `failedTasks` grows.
#[derive(Clone, Copy)]
enum Failures {
    /// One more at every DescribeServices poll.
    PerPoll,
    /// One more every this many (simulated) seconds: ECS starting a Fargate
    /// task that then crashes takes tens of seconds.
    Every(Duration),
}

struct Case {
    name: &'static str,
    failures: Failures,
    stopped_reason: &'static str,
    container_reason: Option<&'static str>,
    exit_code: Option<i32>,
}

struct DiagRow {
    name: &'static str,
    simulated: Duration,
    threshold_reached: Option<Duration>,
    polls: usize,
    calls: usize,
    reason: String,
    rollback: String,
}

fn deployment(id: &str, td: &str, state: DeploymentRolloutState, failed: u32) -> Deployment {
    let (status, running) = if id.ends_with("old") {
        ("ACTIVE", 2)
    } else {
        ("PRIMARY", 0)
    };
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td)
        .desired_count(2)
        .running_count(running)
        .pending_count(2 - running)
        .failed_tasks(i32::try_from(failed).unwrap_or(i32::MAX))
        .rollout_state(state)
        .build()
}

fn service(deployments: Vec<Deployment>) -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            Service::builder()
                .service_name("api")
                .status("ACTIVE")
                .set_deployments(Some(deployments))
                .build(),
        )
        .build()
}

fn no_rules() -> std::iter::Empty<&'static Rule> {
    std::iter::empty()
}

async fn time_to_diagnosis(case: &Case) -> Result<DiagRow, BoxError> {
    let start = tokio::time::Instant::now();
    let polls = Arc::new(AtomicU32::new(0));
    let rolled_back = Arc::new(AtomicBool::new(false));
    let failures = case.failures;

    let describe = mock!(Ecs::describe_services).then_output({
        let polls = polls.clone();
        let rolled_back = rolled_back.clone();
        move || {
            if rolled_back.load(Ordering::SeqCst) {
                // Our rollback deployment completes at once.
                return service(vec![deployment(
                    "ecs-svc/rollback",
                    PREVIOUS,
                    DeploymentRolloutState::Completed,
                    0,
                )]);
            }
            let poll = polls.fetch_add(1, Ordering::SeqCst) + 1;
            let failed = match failures {
                Failures::PerPoll => poll,
                Failures::Every(period) => {
                    (start.elapsed().as_secs_f64() / period.as_secs_f64()) as u32
                }
            };
            service(vec![
                deployment(
                    "ecs-svc/new",
                    NEW,
                    DeploymentRolloutState::InProgress,
                    failed,
                ),
                deployment(
                    "ecs-svc/old",
                    PREVIOUS,
                    DeploymentRolloutState::Completed,
                    0,
                ),
            ])
        }
    });
    let list =
        mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().task_arns(TASK).build());
    let (stopped_reason, container_reason, exit_code) =
        (case.stopped_reason, case.container_reason, case.exit_code);
    let tasks = mock!(Ecs::describe_tasks).then_output(move || {
        let mut c = Container::builder().name("api");
        if let Some(e) = exit_code {
            c = c.exit_code(e);
        }
        if let Some(r) = container_reason {
            c = c.reason(r);
        }
        DescribeTasksOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn(TASK)
                    .task_definition_arn(NEW)
                    .stopped_reason(stopped_reason)
                    .stop_code(TaskStopCode::EssentialContainerExited)
                    .containers(c.build())
                    .build(),
            )
            .build()
    });
    let update = mock!(Ecs::update_service).then_compute_output({
        let rolled_back = rolled_back.clone();
        move |_| {
            rolled_back.store(true, Ordering::SeqCst);
            UpdateServiceOutput::builder()
                .service(
                    Service::builder()
                        .deployments(deployment(
                            "ecs-svc/rollback",
                            PREVIOUS,
                            DeploymentRolloutState::InProgress,
                            0,
                        ))
                        .build(),
                )
                .build()
        }
    });
    let log_lines = mock!(fargate_testkit::aws_sdk_cloudwatchlogs::Client::get_log_events)
        .then_output(|| {
            GetLogEventsOutput::builder()
                .events(OutputLogEvent::builder().message("starting api").build())
                .events(
                    OutputLogEvent::builder()
                        .message("KeyError: 'DATABASE_URL'")
                        .build(),
                )
                .build()
        });
    let clients = Clients {
        net: NetClients {
            ec2: mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, no_rules()),
            elb: mock_sdk_client!(
                aws_sdk_elasticloadbalancingv2,
                RuleMode::MatchAny,
                no_rules()
            ),
            apigw: mock_sdk_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, no_rules()),
        },
        ecs: mock_sdk_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            [&describe, &list, &tasks, &update]
        ),
        ecr: mock_sdk_client!(aws_sdk_ecr, RuleMode::MatchAny, no_rules()),
        iam: mock_sdk_client!(aws_sdk_iam, RuleMode::MatchAny, no_rules()),
        logs: mock_sdk_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&log_lines]),
        scheduler: mock_sdk_client!(aws_sdk_scheduler, RuleMode::MatchAny, no_rules()),
        autoscaling: mock_sdk_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::MatchAny,
            no_rules()
        ),
        ssm: mock_sdk_client!(aws_sdk_ssm, RuleMode::MatchAny, no_rules()),
        secrets: mock_sdk_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, no_rules()),
        discovery: mock_sdk_client!(aws_sdk_servicediscovery, RuleMode::MatchAny, no_rules()),
        sqs: mock_sdk_client!(aws_sdk_sqs, RuleMode::MatchAny, no_rules()),
        efs: mock_sdk_client!(aws_sdk_efs, RuleMode::MatchAny, no_rules()),
        route53: mock_sdk_client!(aws_sdk_route53, RuleMode::MatchAny, no_rules()),
        acm: mock_sdk_client!(aws_sdk_acm, RuleMode::MatchAny, no_rules()),
        aws: AwsContext {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
        },
    };
    let watch = RolloutWatch {
        resource: ResourceId::new("ecs:service", "dash/api"),
        cluster: "dash".into(),
        service: "api".into(),
        deployment_id: "ecs-svc/new".into(),
        previous_task_definition: Some(PREVIOUS.into()),
        target_groups: Vec::new(),
        logs: Some(LogTarget {
            group: "/ecs/dash/api".into(),
            stream_prefix: "api".into(),
        }),
        since_epoch: 0,
        // The defaults: first poll interval 3 s, threshold 3 for 2 desired tasks.
        options: RolloutOptions::default(),
    };
    let ctx = StepContext::detached(
        "ecs:service dash/api",
        Outputs::new(),
        EventSink::none(),
        CancellationToken::new(),
    );

    let result = fargate_deploy::rollout::await_rollout(&clients, &ctx, &watch).await;
    let simulated = start.elapsed();
    let err = match result {
        Ok(()) => return Err("the crash-looping rollout was reported as a success".into()),
        Err(Error::Failed { source, .. }) => match source.downcast::<RolloutError>() {
            Ok(e) => *e,
            Err(other) => return Err(format!("not a rollout error: {other}").into()),
        },
        Err(other) => return Err(format!("unexpected error: {other}").into()),
    };
    let threshold = watch.options.threshold(2);
    let threshold_reached = match failures {
        Failures::Every(period) => Some(period * threshold),
        Failures::PerPoll => None,
    };
    let calls = describe.num_calls()
        + list.num_calls()
        + tasks.num_calls()
        + update.num_calls()
        + log_lines.num_calls();
    Ok(DiagRow {
        name: case.name,
        simulated,
        threshold_reached,
        polls: polls.load(Ordering::SeqCst) as usize,
        calls,
        reason: err.reason.to_string(),
        rollback: err.rollback.to_string(),
    })
}

fn diagnosis_benchmarks() -> Result<Vec<DiagRow>, BoxError> {
    let cases = [
        Case {
            name: "crash loop, +1 failed task per DescribeServices poll",
            failures: Failures::PerPoll,
            stopped_reason: "Essential container in task exited",
            container_reason: None,
            exit_code: Some(1),
        },
        Case {
            name: "crash loop, +1 failed task every 45 s",
            failures: Failures::Every(Duration::from_secs(45)),
            stopped_reason: "Essential container in task exited",
            container_reason: None,
            exit_code: Some(1),
        },
        Case {
            name: "image not found, +1 failed task per poll",
            failures: Failures::PerPoll,
            stopped_reason: "Task failed to start",
            container_reason: Some(
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): \
                 failed to resolve ref public.ecr.aws/docker/library/python:3.99: not found",
            ),
            exit_code: None,
        },
    ];
    let mut rows = Vec::new();
    for case in &cases {
        // A fresh paused runtime per case: the simulated clock starts at 0.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()?;
        rows.push(rt.block_on(time_to_diagnosis(case))?);
    }
    Ok(rows)
}

fn print_diagnosis(rows: &[DiagRow]) {
    println!();
    println!(
        "## Time to diagnosis of a failed rollout (mocked ECS, paused clock, default RolloutOptions: \
         first poll 3 s growing to 12 s while nothing changes, threshold 3 failed tasks for 2 desired)"
    );
    println!();
    println!(
        "| case | 3rd task failure (ECS's threshold for 2 tasks) | await_rollout returned the error at (simulated) | DescribeServices polls | mocked calls | reason | rollback |"
    );
    println!("|---|--:|--:|--:|--:|---|---|");
    for r in rows {
        let reached = r
            .threshold_reached
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .unwrap_or_else(|| "at poll 3".to_string());
        println!(
            "| {} | {reached} | {:.1} s | {} | {} | {} | {} |",
            r.name,
            r.simulated.as_secs_f64(),
            r.polls,
            r.calls,
            r.reason,
            r.rollback
        );
    }
}
