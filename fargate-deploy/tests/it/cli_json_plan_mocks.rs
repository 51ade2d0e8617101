//! An imported task definition with container CPU and memory, Linux settings, ulimits and a
//! shared bind volume, against aws-smithy-mocks: the first apply registers it once, and
//! re-applying it against what ECS then describes (its defaults filled in: a container `cpu`
//! of 0, `host: {}` volumes, explicit `readOnly: false`) is a no-op that registers nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fargate_core::{Change, Ownership};
use fargate_deploy::cli_json::import_task_definition;
use fargate_deploy::task_definition::{TaskDefinitionSpec, task_definition_id};
use fargate_testkit::aws_sdk_ecs as ecs_sdk;
use fargate_testkit::aws_smithy_mocks::mock;
use fargate_testkit::{CallRecorder, aws_sdk_ecs};

use crate::support::task_definition::{
    Sent, absent, apply, as_described, capturing_register, clients, plan,
};

const FEATURES: &str = include_str!("fixtures/import/otel_log_router_features.json");
const TD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout";

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("checkout".parse().unwrap())
}

fn spec() -> TaskDefinitionSpec {
    import_task_definition(FEATURES, owner()).unwrap()
}

#[tokio::test]
async fn an_imported_task_with_every_new_feature_is_registered_once_and_then_a_no_op() {
    use ecs_sdk::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use ecs_sdk::operation::register_task_definition::RegisterTaskDefinitionOutput;
    let sent = Sent::default();

    // 1. Nothing registered yet: one RegisterTaskDefinition with every new field.
    let recorder = CallRecorder::new();
    let absent = absent();
    let register = capturing_register(&sent, TD_ARN);
    let first = clients(&[&absent, &register], &recorder);
    let (created, exe) = plan(&first, spec()).await;
    assert_eq!(created.summary().create, 1, "{created}");
    apply(&first, exe).await;
    assert_eq!(register.num_calls(), 1);
    assert_eq!(recorder.mutating_calls(), ["ECS.RegisterTaskDefinition"]);

    let input = sent.lock().unwrap().clone().unwrap();
    let containers = input.container_definitions();
    let checkout = &containers[0];
    assert_eq!((checkout.cpu(), checkout.memory()), (640, Some(1536)));
    let linux = checkout.linux_parameters().unwrap();
    assert_eq!(linux.init_process_enabled(), Some(true));
    assert_eq!(linux.capabilities().unwrap().drop(), ["NET_RAW"]);
    assert_eq!(checkout.ulimits()[0].name().as_str(), "nofile");
    assert_eq!(checkout.mount_points().len(), 2);
    let router = &containers[2];
    assert_eq!(router.cpu(), 0, "no cpu was given to the log router");
    assert_eq!(
        router.volumes_from()[0].source_container(),
        Some("checkout")
    );
    assert_eq!(
        input
            .volumes()
            .iter()
            .filter_map(|v| v.name())
            .collect::<Vec<_>>(),
        ["app-logs", "scratch"]
    );

    // 2. Re-applying the same document against what ECS describes registers nothing.
    let described = as_described(&input, TD_ARN);
    let tags = owner().tags();
    let recorder = CallRecorder::new();
    let describe = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some("checkout"))
        .then_output(move || {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(described.clone())
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| ecs_sdk::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build()
        });
    let register_again = mock!(aws_sdk_ecs::Client::register_task_definition)
        .then_output(|| RegisterTaskDefinitionOutput::builder().build());
    let second = clients(&[&describe, &register_again], &recorder);
    let (noop, exe) = plan(&second, spec()).await;
    let change = &noop
        .get(&task_definition_id(&"checkout".parse().unwrap()))
        .unwrap()
        .change;
    assert!(matches!(change, Change::NoOp), "{noop}");
    assert!(!noop.has_changes(), "{noop}");
    apply(&second, exe).await;
    assert_eq!(register_again.num_calls(), 0);
    assert!(
        recorder.mutating_calls().is_empty(),
        "{:?}",
        recorder.mutating_calls()
    );

    // 3. A changed limit is an update of exactly that field.
    let raised = FEATURES.replace(
        r#""softLimit": 4096, "hardLimit": 8192"#,
        r#""softLimit": 8192, "hardLimit": 8192"#,
    );
    let (update, _) = plan(&second, import_task_definition(&raised, owner()).unwrap()).await;
    match &update
        .get(&task_definition_id(&"checkout".parse().unwrap()))
        .unwrap()
        .change
    {
        Change::Update { diffs } => {
            let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
            assert_eq!(fields, ["container.log-router.ulimits"]);
        }
        other => panic!("expected an update, got {other:?}"),
    }
}
