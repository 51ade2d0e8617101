//! A queue worker against the moto server, through the `Deployer`: a `ContainerService`
//! with a queue gets its SQS queue and dead-letter queue (redriving to it), `QUEUE_URL` in
//! its task definition and a task role statement on that queue only; a re-apply makes no
//! mutating call, a new visibility timeout is an update of both queues in place, and
//! destroy removes both queues.

use fargate_core::Error;
use fargate_deploy::iam::percent_decode;
use fargate_deploy::queue::QueueWorker;
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_iam::Client as Iam;
use fargate_testkit::aws_sdk_sqs::Client as Sqs;
use fargate_testkit::aws_sdk_sqs::types::QueueAttributeName;
use fargate_testkit::context;

fn worker(visibility: u32) -> ContainerService {
    ContainerService::builder()
        .name("worker")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .queue(QueueWorker {
            visibility_timeout_secs: visibility,
            ..QueueWorker::default()
        })
        .build()
        .unwrap()
}

async fn attribute(sqs: &Sqs, name: &str, attribute: QueueAttributeName) -> String {
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(attribute.clone())
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&attribute).cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_queue_worker_gets_its_queues_url_and_scoped_role_and_destroy_removes_them() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("qw").build().unwrap();
    let account = ctx.account_id().to_string();
    let arn = format!("arn:aws:sqs:us-east-1:{account}:qw-worker");
    let dlq_arn = format!("arn:aws:sqs:us-east-1:{account}:qw-worker-dlq");
    let app = worker(30);

    let plan = d.plan(&env, &[&app]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("+ sqs:queue qw-worker-dlq") && shown.contains("+ sqs:queue qw-worker"),
        "{shown}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    // Both queues, the main one redriving to the dead-letter queue after 5 receives.
    let sqs = ctx.client::<Sqs>();
    let redrive: serde_json::Value = serde_json::from_str(
        &attribute(&sqs, "qw-worker", QueueAttributeName::RedrivePolicy).await,
    )
    .unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq_arn.as_str());
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert_eq!(
        attribute(&sqs, "qw-worker", QueueAttributeName::QueueArn).await,
        arn
    );
    assert_eq!(
        attribute(
            &sqs,
            "qw-worker-dlq",
            QueueAttributeName::MessageRetentionPeriod
        )
        .await,
        "1209600"
    );

    // QUEUE_URL in the task definition: the queue's URL in AWS's form.
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("qw-worker")
        .send()
        .await
        .unwrap();
    let env_vars: Vec<(String, String)> = td
        .task_definition()
        .unwrap()
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some("worker"))
        .unwrap()
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default().to_string(),
                kv.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let url = format!("https://sqs.us-east-1.amazonaws.com/{account}/qw-worker");
    assert!(
        env_vars.contains(&("QUEUE_URL".to_string(), url)),
        "{env_vars:?}"
    );

    // The task role may work this queue only.
    let iam = ctx.client::<Iam>();
    let doc = iam
        .get_role_policy()
        .role_name("qw-worker-task")
        .policy_name("fargate-rs")
        .send()
        .await
        .unwrap()
        .policy_document()
        .to_string();
    let doc: serde_json::Value = serde_json::from_str(&percent_decode(&doc)).unwrap();
    let statements = doc["Statement"].as_array().unwrap();
    let sqs_statements: Vec<&serde_json::Value> = statements
        .iter()
        .filter(|s| s.to_string().contains("sqs:"))
        .collect();
    assert_eq!(sqs_statements.len(), 1, "{doc}");
    assert_eq!(sqs_statements[0]["Resource"], serde_json::json!([arn]));
    assert_eq!(
        sqs_statements[0]["Action"],
        serde_json::json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes"
        ])
    );

    // Re-apply: nothing to do, no mutating call.
    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // A new visibility timeout: both queues updated in place, the task definition unchanged.
    let slower = worker(120);
    let update = d.plan(&env, &[&slower]).await.unwrap();
    assert_eq!(update.plan().summary().update, 2, "{update}");
    assert_eq!(update.plan().summary().create, 0, "{update}");
    let mark = ctx.recorder().mark();
    d.apply(update).await.unwrap_or_else(|e| panic!("{e}"));
    let calls = ctx.recorder().mutating_calls_since(mark);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.contains("SetQueueAttributes"))
            .count(),
        2,
        "{calls:?}"
    );
    assert_eq!(
        attribute(&sqs, "qw-worker", QueueAttributeName::VisibilityTimeout).await,
        "120"
    );

    // Destroy removes both queues.
    let gone = d.plan_destroy(&env, &[&slower]).await.unwrap();
    d.apply(gone).await.unwrap_or_else(|e| panic!("{e}"));
    let left = sqs.list_queues().send().await.unwrap();
    assert!(left.queue_urls().is_empty(), "{left:?}");
}

#[tokio::test]
async fn bad_queue_settings_are_refused_at_build_naming_the_field() {
    let bad = ContainerService::builder()
        .name("worker")
        .image("busybox:1.36")
        .queue(QueueWorker {
            max_receives: 0,
            ..QueueWorker::default()
        })
        .build()
        .unwrap_err();
    let Error::Invalid(v) = &bad else {
        panic!("{bad:?}")
    };
    assert_eq!(v.field, "worker.queue.max_receives");
    let clash = ContainerService::builder()
        .name("worker")
        .image("busybox:1.36")
        .env([("QUEUE_URL".to_string(), "x".to_string())].into())
        .queue(QueueWorker::default())
        .build()
        .unwrap_err();
    assert!(clash.to_string().contains("worker.env"), "{clash}");
    let adopt = ContainerService::builder()
        .name("worker")
        .image("busybox:1.36")
        .queue(QueueWorker {
            adopt_url: Some("http://example.com/q".into()),
            ..QueueWorker::default()
        })
        .build()
        .unwrap_err();
    assert!(
        adopt.to_string().contains("worker.queue.adopt_url"),
        "{adopt}"
    );
}

#[tokio::test]
async fn with_autoscaling_the_worker_scales_on_its_backlog_per_task() {
    use fargate_deploy::autoscaling::AutoscalingSpec;
    use fargate_testkit::aws_sdk_applicationautoscaling::Client as AppAutoScaling;
    use fargate_testkit::aws_sdk_applicationautoscaling::types::ServiceNamespace;

    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("qs").build().unwrap();
    let app = |messages: u32| {
        ContainerService::builder()
            .name("worker")
            .image("public.ecr.aws/docker/library/busybox:1.36")
            .autoscaling(AutoscalingSpec::new(1, 10, vec![]).unwrap())
            .queue(QueueWorker {
                messages_per_task: Some(messages),
                ..QueueWorker::default()
            })
            .build()
            .unwrap()
    };
    let plan = d.plan(&env, &[&app(100)]).await.unwrap();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    let aas = ctx.client::<AppAutoScaling>();
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    let policy = policies
        .scaling_policies()
        .iter()
        .find(|p| p.policy_name() == "qs-worker-backlog")
        .unwrap_or_else(|| panic!("{policies:?}"));
    let config = policy
        .target_tracking_scaling_policy_configuration()
        .unwrap();
    assert_eq!(config.target_value(), 100.0);
    let metrics = config.customized_metric_specification().unwrap().metrics();
    let ids: Vec<(&str, Option<&str>)> = metrics
        .iter()
        .map(|m| {
            (
                m.id(),
                m.metric_stat()
                    .and_then(|s| s.metric())
                    .and_then(|m| m.metric_name()),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("m1", Some("ApproximateNumberOfMessagesVisible")),
            ("m2", Some("RunningTaskCount")),
            ("e1", None)
        ]
    );
    assert_eq!(metrics[2].expression(), Some("m1 / m2"));
    let queue_dim: Vec<(&str, &str)> = metrics[0]
        .metric_stat()
        .and_then(|s| s.metric())
        .map(|m| {
            m.dimensions()
                .iter()
                .map(|d| (d.name(), d.value()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(queue_dim, [("QueueName", "qs-worker")]);

    // Re-apply: no change, no mutating call.
    let again = d.plan(&env, &[&app(100)]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // A new target is one update of the scaling resource.
    let update = d.plan(&env, &[&app(50)]).await.unwrap();
    assert_eq!(update.plan().summary().update, 1, "{update}");
    d.apply(update).await.unwrap_or_else(|e| panic!("{e}"));

    let gone = d.plan_destroy(&env, &[&app(50)]).await.unwrap();
    d.apply(gone).await.unwrap_or_else(|e| panic!("{e}"));
    let left = ctx.client::<Sqs>().list_queues().send().await.unwrap();
    assert!(left.queue_urls().is_empty(), "{left:?}");
}

#[test]
fn backlog_scaling_needs_autoscaling() {
    let e = ContainerService::builder()
        .name("worker")
        .image("busybox:1.36")
        .queue(QueueWorker {
            messages_per_task: Some(100),
            ..QueueWorker::default()
        })
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("worker.queue.messages_per_task"),
        "{e}"
    );
}

/// A queue removed from the app's configuration is retired: the plan keeps it (no delete,
/// no mutating call), and destroying the app afterwards deletes it and its dead-letter
/// queue.
#[tokio::test]
async fn a_removed_queue_is_kept_and_destroyed_with_the_app() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("qr").build().unwrap();
    let app = worker(30);
    let plan = d.plan(&env, &[&app]).await.unwrap();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    let sqs = ctx.client::<Sqs>();
    assert_eq!(
        sqs.list_queues().send().await.unwrap().queue_urls().len(),
        2
    );

    // Without the queue: the task definition loses QUEUE_URL, the queues stay.
    let plain = ContainerService::builder()
        .name("worker")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .build()
        .unwrap();
    let without = d.plan(&env, &[&plain]).await.unwrap();
    assert_eq!(without.plan().summary().delete, 0, "{without}");
    assert!(!without.to_string().contains("sqs:queue"), "{without}");
    let mark = ctx.recorder().mark();
    d.apply(without).await.unwrap_or_else(|e| panic!("{e}"));
    let calls = ctx.recorder().mutating_calls_since(mark);
    assert!(
        !calls.iter().any(|c| c.contains("DeleteQueue")),
        "{calls:?}"
    );
    assert_eq!(
        sqs.list_queues().send().await.unwrap().queue_urls().len(),
        2
    );
    let again = d.plan(&env, &[&plain]).await.unwrap();
    assert!(!again.has_changes(), "{again}");

    // Destroying the app removes the retired queues too.
    let gone = d.plan_destroy(&env, &[&plain]).await.unwrap();
    let shown = gone.to_string();
    assert!(shown.contains("sqs:queue qr-worker-dlq"), "{shown}");
    d.apply(gone).await.unwrap_or_else(|e| panic!("{e}"));
    let left = sqs.list_queues().send().await.unwrap();
    assert!(left.queue_urls().is_empty(), "{left:?}");
}

/// Every attribute and tag of the queue at `url`, to compare before and after.
async fn snapshot(
    sqs: &Sqs,
    url: &str,
) -> (
    std::collections::BTreeMap<String, String>,
    std::collections::BTreeMap<String, String>,
) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let tags = sqs
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .unwrap()
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    (attributes, tags)
}

/// The user's own queue, made first with the SDK, adopted by its URL: the app gets
/// `QUEUE_URL` and a task role statement on that queue only, fargate-rs makes no queue and
/// calls nothing mutating on SQS, a re-apply makes no mutating call, and destroy leaves the
/// user's queue there with every attribute and tag as it was.
#[tokio::test]
async fn an_adopted_queue_is_used_as_it_is_and_left_untouched_by_destroy() {
    let ctx = context().await;
    let account = ctx.account_id().to_string();
    let sqs = ctx.client::<Sqs>();
    let made = sqs
        .create_queue()
        .queue_name("team-jobs")
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .attributes(QueueAttributeName::MessageRetentionPeriod, "3600")
        .tags("owner", "team-a")
        .send()
        .await
        .unwrap();
    let local_url = made.queue_url().unwrap().to_string();
    sqs.send_message()
        .queue_url(&local_url)
        .message_body("a job of the team")
        .send()
        .await
        .unwrap();
    let before = snapshot(&sqs, &local_url).await;
    assert_eq!(before.0["VisibilityTimeout"], "45", "{before:?}");
    let arn = format!("arn:aws:sqs:us-east-1:{account}:team-jobs");
    assert_eq!(before.0["QueueArn"], arn);

    // The app names the queue by its URL in AWS's form (what GetQueueUrl gives on AWS).
    let url = format!("https://sqs.us-east-1.amazonaws.com/{account}/team-jobs");
    let app = ContainerService::builder()
        .name("worker")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .queue(QueueWorker {
            adopt_url: Some(url.clone()),
            ..QueueWorker::default()
        })
        .build()
        .unwrap();
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("qa").build().unwrap();
    let mark = ctx.recorder().mark();
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.to_string().contains("sqs:queue"), "{plan}");
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    let sqs_calls: Vec<String> = ctx
        .recorder()
        .mutating_calls_since(mark)
        .into_iter()
        .filter(|c| c.starts_with("SQS."))
        .collect();
    assert_eq!(sqs_calls, Vec::<String>::new());

    // QUEUE_URL is the adopted queue's URL.
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("qa-worker")
        .send()
        .await
        .unwrap();
    let queue_url: Vec<String> = td
        .task_definition()
        .unwrap()
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some("worker"))
        .unwrap()
        .environment()
        .iter()
        .filter(|kv| kv.name() == Some("QUEUE_URL"))
        .map(|kv| kv.value().unwrap_or_default().to_string())
        .collect();
    assert_eq!(queue_url, std::slice::from_ref(&url));

    // The task role may work the adopted queue only.
    let doc = ctx
        .client::<Iam>()
        .get_role_policy()
        .role_name("qa-worker-task")
        .policy_name("fargate-rs")
        .send()
        .await
        .unwrap()
        .policy_document()
        .to_string();
    let doc: serde_json::Value = serde_json::from_str(&percent_decode(&doc)).unwrap();
    let sqs_statements: Vec<&serde_json::Value> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.to_string().contains("sqs:"))
        .collect();
    assert_eq!(sqs_statements.len(), 1, "{doc}");
    assert_eq!(sqs_statements[0]["Resource"], serde_json::json!([arn]));
    assert_eq!(
        sqs_statements[0]["Action"],
        serde_json::json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes"
        ])
    );

    // Re-apply: nothing to do, no mutating call.
    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Destroy: the app goes, the user's queue stays exactly as it was (its message too).
    let mark = ctx.recorder().mark();
    let gone = d.plan_destroy(&env, &[&app]).await.unwrap();
    assert!(!gone.to_string().contains("sqs:queue"), "{gone}");
    d.apply(gone).await.unwrap_or_else(|e| panic!("{e}"));
    let calls = ctx.recorder().mutating_calls_since(mark);
    assert!(!calls.iter().any(|c| c.starts_with("SQS.")), "{calls:?}");
    let left = sqs.list_queues().send().await.unwrap();
    assert_eq!(
        left.queue_urls(),
        std::slice::from_ref(&local_url),
        "{left:?}"
    );
    assert_eq!(snapshot(&sqs, &local_url).await, before);
}
