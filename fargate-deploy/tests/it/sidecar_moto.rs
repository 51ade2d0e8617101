//! A ContainerService with a sidecar and a task role of its own statements and a managed
//! policy, against the moto server: the registered task definition has both containers and
//! the task role, the role allows the statements and has the policy attached; re-apply makes no mutating call; a new sidecar image is one new revision and a service
//! update; a new statement is one `PutRolePolicy`; destroy leaves no role behind.

use fargate_core::Change;
use fargate_deploy::iam::PolicyStatement;
use fargate_deploy::task_definition::{ContainerSpec, DependencyCondition};
use fargate_deploy::{ContainerService, Deployer, Environment};

const ENV: &str = "sidecars";
const S3_READ: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

fn app(sidecar_image: &str, statements: Vec<PolicyStatement>) -> ContainerService {
    let otel = ContainerSpec::new("otel", sidecar_image.parse().unwrap())
        .essential(false)
        .env("OTEL_SERVICE_NAME", "api");
    ContainerService::builder()
        .name("api")
        .image("public.ecr.aws/docker/library/nginx:1.27")
        .sidecars(vec![otel.depends_on("api", DependencyCondition::Start)])
        .task_role(statements)
        .task_role_managed_policies(vec![S3_READ.to_string()])
        .build()
        .unwrap()
}

fn reports() -> PolicyStatement {
    PolicyStatement::allow(["s3:GetObject"], ["arn:aws:s3:::reports/*"]).unwrap()
}

fn changed_kinds(plan: &fargate_deploy::DeployPlan) -> Vec<String> {
    plan.plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.kind.clone())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn mutating_apply(
    ctx: &fargate_testkit::TestContext,
    d: &Deployer,
    plan: fargate_deploy::DeployPlan,
) -> Vec<String> {
    let mark = ctx.recorder().mark();
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    sorted(ctx.recorder().mutating_calls_since(mark))
}

fn locked(calls: &[&str]) -> Vec<String> {
    sorted(
        crate::support::locked(calls)
            .into_iter()
            .map(String::from)
            .collect(),
    )
}

#[tokio::test]
async fn sidecar_and_task_role_lifecycle() {
    let ctx = fargate_testkit::context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name(ENV).build().unwrap();
    let v1 = app(
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
        vec![reports()],
    );

    // 1. Deploy: both containers, and the task role with the statement.
    // (ECS Exec is tested with mocks: moto 5.2 ignores enableExecuteCommand.)
    let plan = d.plan(&env, &[&v1]).await.unwrap();
    assert!(
        plan.plan()
            .changes
            .iter()
            .all(|c| matches!(c.change, Change::Create { .. } | Change::NoOp)),
        "{plan}"
    );
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition(format!("{ENV}-api"))
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    let names: Vec<&str> = td
        .container_definitions()
        .iter()
        .filter_map(|c| c.name())
        .collect();
    assert_eq!(names, ["api", "otel"]);
    let otel = &td.container_definitions()[1];
    assert_eq!(otel.essential(), Some(false));
    assert_eq!(
        otel.depends_on()
            .iter()
            .map(|d| (d.container_name(), d.condition().as_str()))
            .collect::<Vec<_>>(),
        [("api", "START")]
    );
    let role_arn = td.task_role_arn().expect("a task role").to_string();
    let role_name = role_arn.rsplit('/').next().unwrap().to_string();
    let policy = ctx
        .iam()
        .get_role_policy()
        .role_name(&role_name)
        .policy_name(fargate_deploy::iam::INLINE_POLICY_NAME)
        .send()
        .await
        .unwrap();
    let document = fargate_deploy::iam::percent_decode(policy.policy_document());
    assert!(document.contains("s3:GetObject"), "{document}");
    let attached = ctx
        .iam()
        .list_attached_role_policies()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, [S3_READ]);

    // 2. Re-apply: nothing to do, no mutating call.
    let plan = d.plan(&env, &[&v1]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    assert_eq!(mutating_apply(&ctx, &d, plan).await, Vec::<String>::new());

    // 3. A new sidecar image: a new revision and a service update, nothing else.
    let v2 = app(
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.0",
        vec![reports()],
    );
    let plan = d.plan(&env, &[&v2]).await.unwrap();
    assert_eq!(
        changed_kinds(&plan),
        ["ecs:task-definition", "ecs:service"],
        "{plan}"
    );
    assert_eq!(
        mutating_apply(&ctx, &d, plan).await,
        locked(&["ECS.RegisterTaskDefinition", "ECS.UpdateService"])
    );

    // 4. One more statement: the role's inline policy, nothing else.
    let queue = PolicyStatement::allow(
        ["sqs:ReceiveMessage"],
        ["arn:aws:sqs:us-east-1:123456789012:jobs"],
    )
    .unwrap();
    let v3 = app(
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.0",
        vec![reports(), queue],
    );
    let plan = d.plan(&env, &[&v3]).await.unwrap();
    assert_eq!(changed_kinds(&plan), ["iam:role"], "{plan}");
    assert_eq!(
        mutating_apply(&ctx, &d, plan).await,
        locked(&["IAM.PutRolePolicy"])
    );

    // 5. Destroy: the task role goes with the rest.
    d.destroy(&env, &[&v3])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan_destroy(&env, &[&v3]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    let roles = ctx.iam().list_roles().send().await.unwrap();
    assert!(
        roles
            .roles()
            .iter()
            .all(|r| r.role_name() != role_name && !r.role_name().starts_with("sidecars-")),
        "{:?}",
        roles.roles()
    );
}

#[test]
fn a_managed_policy_that_is_not_a_policy_arn_is_refused_naming_the_field() {
    for bad in [
        "AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/...",
        "arn:aws:iam::<account-id>:policy/reports",
        "arn:aws:s3:::reports",
    ] {
        let e = ContainerService::builder()
            .name("api")
            .image("nginx:1.27")
            .task_role_managed_policies(vec![bad.to_string()])
            .build()
            .unwrap_err();
        match e {
            fargate_core::Error::Invalid(v) => {
                assert_eq!(v.field, "api.task_role_managed_policies[0]", "{bad}");
                assert!(v.allowed.contains(":policy/"), "{}", v.allowed);
            }
            other => panic!("{bad}: {other}"),
        }
    }
}
