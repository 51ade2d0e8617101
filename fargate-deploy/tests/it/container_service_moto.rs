//! A ContainerService in a new Environment against the moto server: plan,
//! apply, re-apply with zero mutating calls, update the image, status, and
//! destroy with nothing owned left.

use fargate_core::{Change, Error};
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_ec2::types::Filter;

fn app(image: &str) -> ContainerService {
    ContainerService::builder()
        .name("worker")
        .image(image)
        .cpu(256)
        .memory(512)
        .desired_count(2)
        .env([("RUST_LOG".to_string(), "info".to_string())].into())
        .build()
        .unwrap()
}

async fn deployer(ctx: &fargate_testkit::TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

#[tokio::test]
async fn container_service_full_lifecycle() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("lifecycle").build().unwrap();
    let v1 = app("public.ecr.aws/docker/library/nginx:1.26");

    // 1. First plan: everything is created.
    let plan = d.plan(&env, &[&v1]).await.unwrap();
    let summary = plan.plan().summary();
    assert!(summary.create > 10, "{plan}");
    assert_eq!(
        summary.update + summary.replace + summary.delete,
        0,
        "{plan}"
    );
    let report = d
        .apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    assert!(
        report.outputs.contains_key("worker.service_arn"),
        "{:?}",
        report.outputs
    );
    assert!(report.calls.mutating > 10);

    // 2. Re-plan: no changes; re-apply makes no mutating call.
    let plan = d.plan(&env, &[&v1]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // 3. A new image: exactly a new task definition revision and a service update.
    let v2 = app("public.ecr.aws/docker/library/nginx:1.27");
    let plan = d.plan(&env, &[&v2]).await.unwrap();
    let changed: Vec<String> = plan
        .plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.kind.clone())
        .collect();
    assert_eq!(
        changed,
        vec!["ecs:task-definition", "ecs:service"],
        "{plan}"
    );
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    let mut mutating = ctx.recorder().mutating_calls_since(mark);
    mutating.sort();
    let mut expected = crate::support::locked(&["ECS.RegisterTaskDefinition", "ECS.UpdateService"]);
    expected.sort();
    assert_eq!(mutating, expected);

    // 4. Status tells which revision runs and what came before.
    let status = d.status(&env, &v2).await.unwrap();
    assert_eq!(status.status, "ACTIVE");
    assert_eq!(status.desired, 2);
    assert!(
        status
            .task_definition
            .as_deref()
            .unwrap_or_default()
            .ends_with(":2"),
        "{status:?}"
    );
    assert!(
        status
            .previous_task_definition
            .as_deref()
            .unwrap_or_default()
            .ends_with(":1"),
        "{status:?}"
    );

    // 5. Destroy: nothing owned is left.
    d.destroy(&env, &[&v2])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan_destroy(&env, &[&v2]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    let vpcs = ctx
        .ec2()
        .describe_vpcs()
        .filters(
            Filter::builder()
                .name("tag:fargate:environment")
                .values("lifecycle")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(vpcs.vpcs().is_empty(), "VPC left behind: {:?}", vpcs.vpcs());
    let clusters = ctx
        .ecs()
        .describe_clusters()
        // Tags included, as the library asks: moto 5.2 shares that choice between threads.
        .include(fargate_testkit::aws_sdk_ecs::types::ClusterField::Tags)
        .clusters("lifecycle")
        .send()
        .await
        .unwrap();
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|c| c.status() == Some("INACTIVE"))
    );
    let roles = ctx.iam().list_roles().send().await.unwrap();
    assert!(
        roles
            .roles()
            .iter()
            .all(|r| !r.role_name().starts_with("lifecycle-")),
        "{:?}",
        roles.roles()
    );
    let groups = ctx.logs().describe_log_groups().send().await.unwrap();
    assert!(
        groups
            .log_groups()
            .iter()
            .all(|g| !g.log_group_name().unwrap_or_default().contains("lifecycle"))
    );
    let tds = ctx
        .ecs()
        .list_task_definitions()
        .family_prefix("lifecycle-worker")
        .send()
        .await
        .unwrap();
    assert!(
        tds.task_definition_arns().is_empty(),
        "{:?}",
        tds.task_definition_arns()
    );
}

#[tokio::test]
async fn bad_input_is_a_typed_error_before_any_call() {
    let cases = [
        ContainerService::builder()
            .name("w")
            .image("nginx")
            .cpu(256)
            .memory(4096)
            .build()
            .unwrap_err(),
        ContainerService::builder()
            .name("w")
            .image("nginx")
            .port(0)
            .build()
            .unwrap_err(),
        ContainerService::builder()
            .name("w")
            .image("nginx")
            .secrets([("DB".to_string(), "not an arn!".to_string())].into())
            .build()
            .unwrap_err(),
        ContainerService::builder()
            .name("w")
            .image("nginx")
            .env([("1BAD".to_string(), "x".to_string())].into())
            .build()
            .unwrap_err(),
        ContainerService::builder()
            .name("w")
            .image("nginx")
            .env([("DB".to_string(), "x".to_string())].into())
            .secrets(
                [(
                    "DB".to_string(),
                    "arn:aws:ssm:us-east-1:123456789012:parameter/db".to_string(),
                )]
                .into(),
            )
            .build()
            .unwrap_err(),
        ContainerService::builder()
            .name("Bad_Name")
            .image("nginx")
            .build()
            .unwrap_err(),
    ];
    let expected_fields = ["w.memory", "w.port", "w.secrets.DB", "", "", "name"];
    for (err, field) in cases.iter().zip(expected_fields) {
        let Error::Invalid(v) = err else {
            panic!("not a validation error: {err}")
        };
        if !field.is_empty() {
            assert_eq!(v.field, field, "{err}");
        }
        assert!(!v.allowed.is_empty(), "{err}");
    }
    // The changes a plan can show are data, too.
    let _ = Change::NoOp;
}
