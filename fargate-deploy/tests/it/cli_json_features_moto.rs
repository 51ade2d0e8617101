//! An imported task definition with container CPU and memory, Linux settings, ulimits and a
//! shared bind volume against the moto server: registered once, re-applied with zero mutating
//! calls, a changed limit registers one revision whose diff is that field, destroy
//! deregisters every revision.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fargate_core::{Change, Executable, Mode, Ownership, Plan, Resource, RunOptions};
use fargate_deploy::Clients;
use fargate_deploy::cli_json::import_task_definition;
use fargate_deploy::task_definition::task_definition_id;
use fargate_testkit::aws_sdk_ecs::types::TaskDefinitionStatus;
use fargate_testkit::context;

use crate::support::moto_clients;

const FEATURES: &str = include_str!("fixtures/import/otel_log_router_features.json");

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("checkout".parse().unwrap())
}

fn resources(json: &str) -> Vec<Arc<dyn Resource<Clients>>> {
    vec![fargate_core::resource::node(
        import_task_definition(json, owner()).unwrap(),
    )]
}

async fn plan_for(
    clients: &Clients,
    resources: &[Arc<dyn Resource<Clients>>],
    mode: Mode,
) -> (Plan, Executable<Clients>) {
    let exe = Executable::plan(clients, resources, mode).await.unwrap();
    (exe.plan.clone(), exe)
}

async fn apply(clients: &Clients, resources: &[Arc<dyn Resource<Clients>>], mode: Mode) -> Plan {
    let (plan, exe) = plan_for(clients, resources, mode).await;
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    if let Err(e) = graph.run(RunOptions::default()).await.into_result() {
        panic!("apply failed: {e}");
    }
    plan
}

#[tokio::test]
async fn an_imported_task_with_every_new_feature_deploys_reapplies_as_no_op_and_destroys() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let recorder = ctx.recorder();
    let family = "checkout".parse().unwrap();

    let mark = recorder.mark();
    let plan = apply(&clients, &resources(FEATURES), Mode::Apply).await;
    assert_eq!(plan.summary().create, 1, "{plan}");
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["ECS.RegisterTaskDefinition"]
    );
    // What ECS (moto) stored carries every new field.
    let described = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("checkout")
        .send()
        .await
        .unwrap();
    let td = described.task_definition().unwrap();
    let names: Vec<&str> = td.volumes().iter().filter_map(|v| v.name()).collect();
    assert_eq!(names, ["app-logs", "scratch"]);
    let checkout = &td.container_definitions()[0];
    assert_eq!((checkout.cpu(), checkout.memory()), (640, Some(1536)));
    assert_eq!(
        checkout.linux_parameters().unwrap().init_process_enabled(),
        Some(true)
    );
    assert_eq!(checkout.ulimits()[0].hard_limit(), 65535);
    assert_eq!(
        td.container_definitions()[2].volumes_from()[0].source_container(),
        Some("checkout")
    );

    // Re-applying the same document: a no-op, not one mutating call.
    let mark = recorder.mark();
    let plan = apply(&clients, &resources(FEATURES), Mode::Apply).await;
    assert!(!plan.has_changes(), "re-plan is not a no-op:\n{plan}");
    assert_eq!(recorder.mutating_calls_since(mark), Vec::<String>::new());

    // A raised limit: one revision, whose diff is exactly that field.
    let raised = FEATURES.replace(
        r#""softLimit": 4096, "hardLimit": 8192"#,
        r#""softLimit": 8192, "hardLimit": 8192"#,
    );
    let mark = recorder.mark();
    let plan = apply(&clients, &resources(&raised), Mode::Apply).await;
    match &plan.get(&task_definition_id(&family)).unwrap().change {
        Change::Update { diffs } => {
            let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
            assert_eq!(fields, ["container.log-router.ulimits"]);
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["ECS.RegisterTaskDefinition"]
    );

    // Destroy deregisters both revisions.
    let plan = apply(&clients, &resources(&raised), Mode::Destroy).await;
    assert_eq!(plan.summary().delete, 1, "{plan}");
    let active = ctx
        .ecs()
        .list_task_definitions()
        .family_prefix("checkout")
        .status(TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert!(
        active.task_definition_arns().is_empty(),
        "{:?}",
        active.task_definition_arns()
    );
}
