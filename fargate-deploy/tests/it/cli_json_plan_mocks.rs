//! An imported task definition with container CPU and memory, Linux settings, ulimits and a
//! shared bind volume, against aws-smithy-mocks: the first apply registers it once, and
//! re-applying it against what ECS then describes (its defaults filled in: a container `cpu`
//! of 0, `host: {}` volumes, explicit `readOnly: false`) is a no-op that registers nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use fargate_core::{Change, Executable, Mode, Ownership, Resource, RunOptions};
use fargate_deploy::Clients;
use fargate_deploy::cli_json::import_task_definition;
use fargate_deploy::task_definition::{TaskDefinitionSpec, task_definition_id};
use fargate_testkit::aws_sdk_ecs as ecs_sdk;
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::{CallRecorder, aws_error_meta, aws_sdk_ecs, mock_sdk_client};

use crate::support::Mocks;

const FEATURES: &str = include_str!("fixtures/import/otel_log_router_features.json");
const TD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout";

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("checkout".parse().unwrap())
}

fn spec() -> TaskDefinitionSpec {
    import_task_definition(FEATURES, owner()).unwrap()
}

fn clients(ecs: &[&Rule], recorder: &CallRecorder) -> Clients {
    let mut clients = Mocks::default().clients();
    clients.ecs = mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs.iter().copied(), |c| c
        .interceptor(recorder.clone()));
    clients
}

async fn plan(
    clients: &Clients,
    spec: TaskDefinitionSpec,
) -> (fargate_core::Plan, Executable<Clients>) {
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![Arc::new(spec)];
    let exe = Executable::plan(clients, &resources, Mode::Apply)
        .await
        .unwrap();
    (exe.plan.clone(), exe)
}

async fn apply(clients: &Clients, exe: Executable<Clients>) {
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
}

/// What ECS describes after `RegisterTaskDefinition(input)`: the request as sent, with the
/// defaults ECS fills in and reports.
fn as_described(
    input: &ecs_sdk::operation::register_task_definition::RegisterTaskDefinitionInput,
) -> ecs_sdk::types::TaskDefinition {
    use ecs_sdk::types::*;
    let containers = input
        .container_definitions()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            // ECS reports readOnly explicitly, and empty lists for what was not sent.
            c.mount_points = Some(
                c.mount_points()
                    .iter()
                    .map(|m| {
                        let mut m = m.clone();
                        m.read_only = Some(m.read_only.unwrap_or(false));
                        m
                    })
                    .collect(),
            );
            c.volumes_from.get_or_insert_with(Vec::new);
            c.ulimits.get_or_insert_with(Vec::new);
            c
        })
        .collect();
    let volumes = input
        .volumes()
        .iter()
        .map(|v| {
            Volume::builder()
                .set_name(v.name().map(str::to_string))
                .host(HostVolumeProperties::builder().build())
                .build()
        })
        .collect();
    TaskDefinition::builder()
        .task_definition_arn(format!("{TD_ARN}:1"))
        .family(input.family().unwrap_or_default())
        .revision(1)
        .status(TaskDefinitionStatus::Active)
        .set_cpu(input.cpu().map(str::to_string))
        .set_memory(input.memory().map(str::to_string))
        .set_network_mode(input.network_mode().cloned())
        .set_requires_compatibilities(Some(input.requires_compatibilities().to_vec()))
        .compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Fargate)
        .set_runtime_platform(input.runtime_platform().cloned())
        .set_execution_role_arn(input.execution_role_arn().map(str::to_string))
        .set_task_role_arn(input.task_role_arn().map(str::to_string))
        .set_volumes(Some(volumes))
        .set_container_definitions(Some(containers))
        .build()
}

#[tokio::test]
async fn an_imported_task_with_every_new_feature_is_registered_once_and_then_a_no_op() {
    use ecs_sdk::operation::describe_task_definition::{
        DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
    };
    use ecs_sdk::operation::register_task_definition::{
        RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput,
    };
    let sent: Arc<Mutex<Option<RegisterTaskDefinitionInput>>> = Arc::default();

    // 1. Nothing registered yet: one RegisterTaskDefinition with every new field.
    let recorder = CallRecorder::new();
    let absent = mock!(aws_sdk_ecs::Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::generic(aws_error_meta(
            "ClientException",
            "Unable to describe task definition.",
        ))
    });
    let capture = sent.clone();
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(move |r| {
            *capture.lock().unwrap() = Some(r.clone());
            true
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(
                    ecs_sdk::types::TaskDefinition::builder()
                        .task_definition_arn(format!("{TD_ARN}:1"))
                        .revision(1)
                        .build(),
                )
                .build()
        });
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
    let described = as_described(&input);
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
