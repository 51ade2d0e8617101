//! Pre-flight checks and secret redaction against the moto server: a missing Secrets
//! Manager secret, SSM parameter or unpushed ECR tag is refused by `apply` before any
//! mutating call, an existing one passes; a scheduled job's secret-looking `job_env` values
//! never show in the plan (Display, JSON, Debug), the events or the logs, while the real
//! values are what the schedule sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use fargate_core::{Error, EventSink};
use fargate_deploy::preflight::PreflightError;
use fargate_deploy::{
    ApplyError, ApplyOptions, ContainerService, Deployer, Environment, Image, ScheduledJob,
};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ssm::types::ParameterType;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const BUSYBOX: &str = "public.ecr.aws/docker/library/busybox:1.36";

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

fn env(name: &str) -> Environment {
    Environment::builder().name(name).build().unwrap()
}

/// The pre-flight error an apply was refused with.
fn refusal(e: &ApplyError) -> &PreflightError {
    assert_eq!(e.failed_step, "preflight", "{e}");
    match &e.source {
        Error::Failed { source, .. } => source
            .downcast_ref::<PreflightError>()
            .unwrap_or_else(|| panic!("not a pre-flight error: {e}")),
        other => panic!("not a pre-flight error: {other}"),
    }
}

fn api(secrets: &[(&str, &str)]) -> ContainerService {
    ContainerService::builder()
        .name("api")
        .image(BUSYBOX)
        .secrets(
            secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn missing_secret_and_parameter_are_refused_before_any_mutating_call() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = env("pf");
    let account = ctx.account_id().to_string();
    let made_up = format!("arn:aws:secretsmanager:us-east-1:{account}:secret:pf/db-AbCdEf");
    let app = api(&[("DB_PASSWORD", &made_up), ("API_TOKEN", "/pf/api/token")]);

    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert_eq!(plan.preflight().blockers.len(), 2, "{plan}");
    let shown = plan.to_string();
    assert!(
        shown.contains(&format!(
            "error: app api: DB_PASSWORD is set from the Secrets Manager secret {made_up}, \
             which does not exist"
        )),
        "{shown}"
    );
    assert!(
        shown.contains(
            "error: app api: API_TOKEN is set from the SSM parameter /pf/api/token, which does \
             not exist"
        ),
        "{shown}"
    );
    assert!(plan.plan().to_json().unwrap().contains("/pf/api/token"));
    let err = d.apply(plan).await.unwrap_err();
    match refusal(&err) {
        PreflightError::SecretNotFound { app, env_var, .. }
        | PreflightError::ParameterNotFound { app, env_var, .. } => {
            assert_eq!(app, "api");
            assert!(["DB_PASSWORD", "API_TOKEN"].contains(&env_var.as_str()));
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.other_failures.len(), 1, "{err:?}");
    assert_eq!(ctx.recorder().mutating_calls(), Vec::<String>::new());

    // Once they exist (made directly), the plan is clear and apply goes ahead.
    let clients = crate::support::moto_clients(&ctx);
    let created = clients
        .secrets
        .create_secret()
        .name("pf/db")
        .secret_string("s3cret")
        .send()
        .await
        .unwrap();
    clients
        .ssm
        .put_parameter()
        .name("/pf/api/token")
        .value("t0ken")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let real = created.arn().unwrap().to_string();
    // A full ARN, with a JSON key; a partial ARN (no random suffix); a parameter ARN.
    let keyed = format!("{real}:password::");
    let partial = format!("arn:aws:secretsmanager:us-east-1:{account}:secret:pf/db");
    let param_arn = format!("arn:aws:ssm:us-east-1:{account}:parameter/pf/api/token");
    let app = api(&[
        ("DB_PASSWORD", &keyed),
        ("DB_PASSWORD_AGAIN", &partial),
        ("API_TOKEN", "/pf/api/token"),
        ("API_TOKEN_ARN", &param_arn),
    ]);
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(plan.preflight().is_clear(), "{plan}");
    assert!(!plan.to_string().contains("error:"), "{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ctx.recorder()
            .mutating_calls_since(mark)
            .contains(&"ECS.RegisterTaskDefinition".to_string())
    );
    // The checks read metadata only, never a value.
    let calls: Vec<String> = ctx.recorder().records().iter().map(|r| r.name()).collect();
    assert!(
        calls.iter().any(|c| c.ends_with(".DescribeSecret"))
            && calls.iter().any(|c| c.ends_with(".DescribeParameters")),
        "{calls:?}"
    );
    // (The environment lock and app registry read their own SSM parameters with
    // GetParameter(sByPath); a secret's value would be GetSecretValue or GetParameters.)
    assert!(
        !calls
            .iter()
            .any(|c| c.ends_with(".GetSecretValue") || c.ends_with(".GetParameters")),
        "{calls:?}"
    );
    d.destroy(&env, &[&app])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A minimal Docker image manifest, for moto's PutImage.
const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}"#;

#[tokio::test]
async fn unpushed_ecr_tag_is_refused_before_any_mutating_call() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = env("img");
    let web = |tag: &str| {
        ContainerService::builder()
            .name("web")
            .image(Image::Ecr { tag: tag.into() })
            .build()
            .unwrap()
    };
    // No repository yet: this apply creates it; a note says the image must be pushed.
    let plan = d.plan(&env, &[&web("1.0")]).await.unwrap();
    assert!(plan.preflight().is_clear(), "{plan}");
    assert!(
        plan.to_string()
            .contains("ECR repository img/web does not exist yet; this apply creates it"),
        "{plan}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    // The repository is ours now and 2.0 was never pushed: refused, nothing changed.
    let mark = ctx.recorder().mark();
    let plan = d.plan(&env, &[&web("2.0")]).await.unwrap();
    let image = format!(
        "{}.dkr.ecr.us-east-1.amazonaws.com/img/web:2.0",
        ctx.account_id()
    );
    assert_eq!(
        plan.preflight().blockers,
        vec![PreflightError::ImageNotPushed {
            app: "web".into(),
            repository: "img/web".into(),
            image: image.clone(),
        }],
        "{plan}"
    );
    assert!(
        plan.to_string()
            .contains(&format!("push it first (docker push {image})")),
        "{plan}"
    );
    let err = d.apply(plan).await.unwrap_err();
    assert!(matches!(
        refusal(&err),
        PreflightError::ImageNotPushed { app, .. } if app == "web"
    ));
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Pushed: the plan is clear and apply registers the new revision.
    ctx.ecr()
        .put_image()
        .repository_name("img/web")
        .image_tag("2.0")
        .image_manifest(MANIFEST)
        .send()
        .await
        .unwrap();
    let plan = d.plan(&env, &[&web("2.0")]).await.unwrap();
    assert!(plan.preflight().is_clear(), "{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ctx.recorder()
            .mutating_calls_since(mark)
            .contains(&"ECS.RegisterTaskDefinition".to_string())
    );
    d.destroy(&env, &[&web("2.0")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Every field of every span and event, as text (a `tracing` subscriber for this test's
/// thread: the test runtime is single-threaded, so every task of the deployer runs here).
#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    next: Arc<Mutex<u64>>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Fields(&mut self.text.lock().unwrap()));
        let mut next = self.next.lock().unwrap();
        *next += 1;
        Id::from_u64(*next)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.text.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = self.text.lock().unwrap();
        let _ = write!(
            text,
            "[{} {}] ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

const SECRETS: [&str; 4] = ["abc123", "def456", "hunter2", "k3y-value"];

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows {s:?}:\n{text}");
    }
}

fn job(token: &str) -> ScheduledJob {
    ScheduledJob::builder()
        .name("etl")
        .image(BUSYBOX)
        .schedule("cron(0 3 * * ? *)")
        .timezone("Europe/Paris")
        .env(BTreeMap::from([(
            "SIGNING_KEY".to_string(),
            "k3y-value".to_string(),
        )]))
        .job_env(BTreeMap::from([
            ("API_TOKEN".to_string(), token.to_string()),
            (
                "DATABASE_URL".to_string(),
                "postgresql://etl:hunter2@db.internal/etl".to_string(),
            ),
            ("ETL_JOB".to_string(), "import".to_string()),
        ]))
        .memory_reservation(256)
        .build()
        .unwrap()
}

/// Mutating calls without the environment lock's (its lease is an SSM parameter).
fn without_lock(calls: Vec<String>) -> Vec<String> {
    calls
        .into_iter()
        .filter(|c| !c.starts_with("SSM."))
        .collect()
}

/// The schedule's target input, as moto keeps it.
async fn schedule_input(ctx: &TestContext) -> Value {
    let schedule = ctx
        .scheduler()
        .get_schedule()
        .name("red-etl")
        .send()
        .await
        .unwrap();
    serde_json::from_str(schedule.target().unwrap().input().unwrap()).unwrap()
}

fn job_env_value(input: &Value, name: &str) -> String {
    input["containerOverrides"][0]["environment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["name"] == name)
        .and_then(|kv| kv["value"].as_str())
        .unwrap_or_else(|| panic!("{name} not in {input}"))
        .to_string()
}

#[tokio::test]
async fn scheduled_job_secrets_are_redacted_in_plan_events_and_logs_but_sent() {
    let ctx = fargate_testkit::context().await;
    let capture = Capture::default();
    let _logs = tracing::subscriber::set_default(capture.clone());
    let d = deployer(&ctx).await;
    let env = env("red");

    let plan = d.plan(&env, &[&job("abc123")]).await.unwrap();
    let shown = plan.to_string();
    assert_no_secret("plan", &shown);
    assert_no_secret("plan JSON", &plan.plan().to_json().unwrap());
    assert_no_secret("plan Debug", &format!("{plan:?}"));
    assert_no_secret("job Debug", &format!("{:?}", job("abc123")));
    assert!(
        shown.contains("target.overrides.etl.environment.API_TOKEN") && shown.contains("import"),
        "{shown}"
    );
    assert!(
        shown.contains("container.etl.environment.SIGNING_KEY"),
        "{shown}"
    );
    let (events, mut rx) = EventSink::channel();
    d.apply_with(
        plan,
        ApplyOptions {
            events,
            ..ApplyOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    while let Ok(e) = rx.try_recv() {
        assert_no_secret("an event", &format!("{e:?}"));
        n += 1;
    }
    assert!(n > 0, "no events");

    // What was sent is the real thing.
    let input = schedule_input(&ctx).await;
    assert_eq!(job_env_value(&input, "API_TOKEN"), "abc123");
    assert_eq!(
        job_env_value(&input, "DATABASE_URL"),
        "postgresql://etl:hunter2@db.internal/etl"
    );
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("red-etl")
        .send()
        .await
        .unwrap();
    let container = &td.task_definition().unwrap().container_definitions()[0];
    assert!(
        container
            .environment()
            .iter()
            .any(|kv| kv.name() == Some("SIGNING_KEY") && kv.value() == Some("k3y-value"))
    );

    // A changed secret is a change, shown without either value.
    let plan = d.plan(&env, &[&job("def456")]).await.unwrap();
    let shown = plan.to_string();
    assert_no_secret("update plan", &shown);
    assert_no_secret("update plan JSON", &plan.plan().to_json().unwrap());
    assert!(
        shown.contains("target.overrides.etl.environment.API_TOKEN : (sensitive, changed)"),
        "{shown}"
    );
    let changed: Vec<&str> = plan
        .plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.kind.as_str())
        .collect();
    assert_eq!(changed, vec!["scheduler:schedule"], "{shown}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        without_lock(ctx.recorder().mutating_calls_since(mark)),
        vec!["Scheduler.UpdateSchedule"]
    );
    assert_eq!(
        job_env_value(&schedule_input(&ctx).await, "API_TOKEN"),
        "def456"
    );
    // Unchanged: nothing to do.
    let plan = d.plan(&env, &[&job("def456")]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");

    d.destroy(&env, &[&job("def456")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let logs = capture.text.lock().unwrap().clone();
    assert!(logs.contains("resource="), "nothing captured: {logs}");
    // The SDK's wire-level TRACE events (`aws_smithy_runtime`'s "read HTTP response body" and
    // "output_or_error") print whole AWS responses, the schedule's stored input included:
    // that is the SDK's own trace of the wire, outside what fargate-rs shows. Everything else,
    // at any level, and every event at DEBUG and above, never shows a secret.
    let shown: String = logs
        .lines()
        .filter(|l| !l.starts_with("[TRACE aws_smithy_runtime"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(shown.contains("[DEBUG "), "no DEBUG events captured");
    assert_no_secret("the logs", &shown);
}
