//! The common layer of one app (ECR repository, log group, execution and task roles, cluster,
//! task definition) against the moto server: create, unchanged re-apply, targeted updates,
//! destroy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fargate_core::exec::Outputs;
use fargate_core::{
    Change, EcrRepositoryName, EcsName, Error, Executable, Ident, Mode, Ownership, Plan, Ref,
    Resource, RunOptions, TaskSize,
};
use fargate_deploy::Clients;
use fargate_deploy::cluster::{ClusterSpec, cluster_arn};
use fargate_deploy::ecr::{EcrError, EcrRepositorySpec, ensure_image_exists, repository_uri};
use fargate_deploy::iam::{
    ExecutionAccess, IamRoleSpec, PolicyStatement, role_arn, role_arn_in, role_id,
};
use fargate_deploy::logs::{LogGroupSpec, RetentionDays, log_group_arn, log_group_id};
use fargate_deploy::task_definition::{
    ContainerSpec, HealthCheck, TaskDefinitionSpec, previous_task_definition_arn,
    task_definition_arn,
};
use fargate_testkit::context;

use crate::support::moto_clients;

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn repo_name() -> EcrRepositoryName {
    EcrRepositoryName::derive(&["prod", "web"])
}

fn family() -> EcsName {
    "prod-web".parse().unwrap()
}

/// The common layer of app `web` in environment `prod`, running image tag `tag`, logs kept
/// `retention` days.
fn app(clients: &Clients, tag: &str, retention: u16) -> Vec<Arc<dyn Resource<Clients>>> {
    let (env, name) = (ident("prod"), ident("web"));
    let owner = Ownership::new(env.clone()).with_app(name.clone());
    let repo = EcrRepositorySpec::new(repo_name(), owner.clone().with_component("repository"));
    let group = LogGroupSpec::for_app(&env, &name, owner.clone())
        .retention_days(retention)
        .unwrap();
    let image: fargate_core::ImageRef = format!(
        "{}.dkr.ecr.us-east-1.amazonaws.com/{}:{tag}",
        clients.aws.account_id,
        repo_name()
    )
    .parse()
    .unwrap();
    let access = ExecutionAccess::new()
        .image(image.clone())
        .log_group(group.name().clone())
        .secret(SECRET.parse().unwrap());
    let exec = IamRoleSpec::execution_role(&env, &name, owner.clone(), access);
    let task = IamRoleSpec::task_role(
        &env,
        &name,
        owner.clone(),
        vec![PolicyStatement::allow(["s3:GetObject"], ["arn:aws:s3:::prod-web-assets/*"]).unwrap()],
    );
    let cluster = ClusterSpec::for_environment(&env, Ownership::new(env.clone()));
    let web = ContainerSpec::new("web", image)
        .port("8080".parse().unwrap())
        .env("RUST_LOG", "info")
        .secret("DATABASE_URL", SECRET.parse().unwrap())
        .health_check(HealthCheck::shell(
            "curl -f http://localhost:8080/health || exit 1",
        ))
        .memory_reservation_mib(256);
    let td = TaskDefinitionSpec::builder(
        family(),
        owner,
        TaskSize::new(512, 1024).unwrap(),
        Ref::Known(role_arn_in(&clients.aws, exec.name())),
        web,
    )
    // One role known at plan time, one read from the role's step output.
    .task_role(Ref::Output(role_arn(task.name())))
    .logs(group.name().clone(), "web")
    .depends_on(role_id(exec.name()))
    .depends_on(role_id(task.name()))
    .depends_on(log_group_id(group.name()))
    .build()
    .unwrap();
    vec![
        fargate_core::resource::node(repo),
        fargate_core::resource::node(group),
        fargate_core::resource::node(exec),
        fargate_core::resource::node(task),
        fargate_core::resource::node(cluster),
        fargate_core::resource::node(td),
    ]
}

async fn plan_for(
    clients: &Clients,
    resources: &[Arc<dyn Resource<Clients>>],
    mode: Mode,
) -> (Plan, Executable<Clients>) {
    let exe = Executable::plan(clients, resources, mode).await.unwrap();
    (exe.plan.clone(), exe)
}

async fn run(clients: &Clients, exe: Executable<Clients>) -> Outputs {
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    match graph.run(RunOptions::default()).await.into_result() {
        Ok(outputs) => outputs,
        Err(e) => panic!("apply failed: {e}"),
    }
}

async fn apply(clients: &Clients, resources: &[Arc<dyn Resource<Clients>>]) -> (Plan, Outputs) {
    let (plan, exe) = plan_for(clients, resources, Mode::Apply).await;
    (plan, run(clients, exe).await)
}

/// The entries of `plan` that change something, as `kind name`.
fn changed(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.to_string())
        .collect()
}

#[tokio::test]
async fn common_layer_is_created_then_reapplied_without_any_mutating_call() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let resources = app(&clients, "v1", 30);

    let (plan, outputs) = apply(&clients, &resources).await;
    assert_eq!(plan.summary().create, 6, "{plan}");
    let account = ctx.account_id();
    assert_eq!(
        outputs.get(&repository_uri(&repo_name())).unwrap(),
        format!("{account}.dkr.ecr.us-east-1.amazonaws.com/prod/web")
    );
    assert_eq!(
        outputs
            .get(&log_group_arn(&"/ecs/prod/web".parse().unwrap()))
            .unwrap(),
        format!("arn:aws:logs:us-east-1:{account}:log-group:/ecs/prod/web")
    );
    assert_eq!(
        outputs
            .get(&role_arn(&"prod-web-exec".parse().unwrap()))
            .unwrap(),
        format!("arn:aws:iam::{account}:role/prod-web-exec")
    );
    assert_eq!(
        outputs.get(&cluster_arn(&"prod".parse().unwrap())).unwrap(),
        format!("arn:aws:ecs:us-east-1:{account}:cluster/prod")
    );
    assert_eq!(
        outputs.get(&task_definition_arn(&family())).unwrap(),
        format!("arn:aws:ecs:us-east-1:{account}:task-definition/prod-web:1")
    );

    let recorder = ctx.recorder();
    let mark = recorder.mark();
    let (plan, outputs) = apply(&clients, &resources).await;
    assert!(!plan.has_changes(), "re-plan is not a no-op:\n{plan}");
    assert_eq!(recorder.mutating_calls_since(mark), Vec::<String>::new());
    // Outputs are still published for dependents.
    assert!(
        outputs
            .get(&task_definition_arn(&family()))
            .unwrap()
            .ends_with("prod-web:1")
    );
    assert_eq!(
        outputs
            .get(&previous_task_definition_arn(&family()))
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn image_tag_change_registers_exactly_one_revision() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    apply(&clients, &app(&clients, "v1", 30)).await;

    let recorder = ctx.recorder();
    let mark = recorder.mark();
    let (plan, outputs) = apply(&clients, &app(&clients, "v2", 30)).await;
    // The execution role allows the repository, not a tag: only the task definition changes.
    assert_eq!(changed(&plan), ["ecs:task-definition prod-web"], "{plan}");
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["ECS.RegisterTaskDefinition"]
    );
    let account = ctx.account_id();
    let base = format!("arn:aws:ecs:us-east-1:{account}:task-definition/prod-web");
    assert_eq!(
        outputs.get(&task_definition_arn(&family())).unwrap(),
        format!("{base}:2")
    );
    assert_eq!(
        outputs
            .get(&previous_task_definition_arn(&family()))
            .unwrap(),
        Some(format!("{base}:1"))
    );
}

#[tokio::test]
async fn retention_change_calls_only_put_retention_policy() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    apply(&clients, &app(&clients, "v1", 30)).await;

    let recorder = ctx.recorder();
    let mark = recorder.mark();
    let (plan, _) = apply(&clients, &app(&clients, "v1", 90)).await;
    assert_eq!(changed(&plan), ["logs:log-group /ecs/prod/web"], "{plan}");
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["CloudWatchLogs.PutRetentionPolicy"]
    );
    let groups = ctx
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/ecs/prod/web")
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.log_groups()[0].retention_in_days(),
        Some(i32::from(RetentionDays::new(90).unwrap().get()))
    );
}

#[tokio::test]
async fn destroy_leaves_nothing_owned_and_no_active_revision() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    apply(&clients, &app(&clients, "v1", 30)).await;
    let resources = app(&clients, "v2", 30);
    apply(&clients, &resources).await;

    let (plan, exe) = plan_for(&clients, &resources, Mode::Destroy).await;
    assert_eq!(plan.summary().delete, 6, "{plan}");
    run(&clients, exe).await;

    let repo = ctx
        .ecr()
        .describe_repositories()
        .repository_names("prod/web")
        .send()
        .await;
    assert_eq!(
        fargate_core::error::sdk_error_code(&repo.unwrap_err()),
        Some("RepositoryNotFoundException")
    );
    let groups = ctx
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/ecs/prod/web")
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty(), "{:?}", groups.log_groups());
    for role in ["prod-web-exec", "prod-web-task"] {
        let found = ctx.iam().get_role().role_name(role).send().await;
        assert_eq!(
            fargate_core::error::sdk_error_code(&found.unwrap_err()),
            Some("NoSuchEntity"),
            "{role}"
        );
    }
    let clusters = ctx
        .ecs()
        .describe_clusters()
        // Tags included, as the library asks: moto 5.2 shares that choice between threads.
        .include(fargate_testkit::aws_sdk_ecs::types::ClusterField::Tags)
        .clusters("prod")
        .send()
        .await
        .unwrap();
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|c| c.status() == Some("INACTIVE")),
        "{:?}",
        clusters.clusters()
    );
    let active = ctx
        .ecs()
        .list_task_definitions()
        .family_prefix("prod-web")
        .status(fargate_testkit::aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert!(
        active.task_definition_arns().is_empty(),
        "{:?}",
        active.task_definition_arns()
    );

    // Destroying again finds nothing to do.
    let (plan, _) = plan_for(&clients, &resources, Mode::Destroy).await;
    assert!(!plan.has_changes(), "{plan}");
    assert!(plan.changes.iter().all(|c| c.change == Change::NoOp));
}

#[tokio::test]
async fn missing_images_are_reported_before_deploying() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let owner = Ownership::new(ident("prod")).with_app(ident("web"));
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![fargate_core::resource::node(
        EcrRepositorySpec::new(repo_name(), owner),
    )];
    apply(&clients, &resources).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
        },
        "layers": []
    });
    ctx.ecr()
        .put_image()
        .repository_name("prod/web")
        .image_tag("v1")
        .image_manifest(manifest.to_string())
        .send()
        .await
        .unwrap();

    ensure_image_exists(&clients, &repo_name(), "v1")
        .await
        .unwrap();
    let err = ensure_image_exists(&clients, &repo_name(), "v2")
        .await
        .unwrap_err();
    match &err {
        Error::Failed { source, .. } => {
            assert!(
                matches!(
                    source.downcast_ref::<EcrError>(),
                    Some(EcrError::ImageNotFound { .. })
                ),
                "{err}"
            );
        }
        other => panic!("expected ImageNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains(":v2"), "{err}");
    let err = ensure_image_exists(
        &clients,
        &EcrRepositoryName::derive(&["prod", "nope"]),
        "v1",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
