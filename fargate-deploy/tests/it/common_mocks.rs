//! The common layer (ECR, logs, IAM, cluster, task definition) against aws-smithy-mocks:
//! exact calls, normalization, ownership refusal, error paths and input validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use fargate_core::exec::Outputs;
use fargate_core::{
    EcrRepositoryName, EcsName, Error, Executable, Ident, Mode, Ownership, Plan, Ref, Resource,
    RunOptions, TaskSize,
};
use fargate_deploy::ecr::{EcrError, EcrRepositorySpec, ensure_image_exists};
use fargate_deploy::iam::{
    ExecutionAccess, IamRoleSpec, PolicyStatement, is_iam_propagation_error,
};
use fargate_deploy::logs::LogGroupSpec;
use fargate_deploy::task_definition::{
    ContainerSpec, HealthCheck, TaskDefinitionSpec, previous_task_definition_arn,
    task_definition_arn, task_definition_id, task_definition_revision,
};
use fargate_deploy::{AwsContext, Clients};
use fargate_net::NetClients;
use fargate_testkit::aws_sdk_cloudwatchlogs as logs_sdk;
use fargate_testkit::aws_sdk_ecr as ecr_sdk;
use fargate_testkit::aws_sdk_ecs as ecs_sdk;
use fargate_testkit::aws_sdk_iam as iam_sdk;
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::{
    CallRecorder, aws_error_meta, aws_sdk_cloudwatchlogs, aws_sdk_ecr, aws_sdk_ecs, aws_sdk_iam,
    mock_sdk_client,
};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const EXEC_ARN: &str = "arn:aws:iam::123456789012:role/prod-web-exec";
const TASK_ARN: &str = "arn:aws:iam::123456789012:role/prod-web-task";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
const TD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-web";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn owner() -> Ownership {
    Ownership::new(ident("prod")).with_app(ident("web"))
}

fn aws() -> AwsContext {
    AwsContext {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
    }
}

/// Clients whose ECS, ECR, IAM and Logs answer from `rules` (any other call panics), all
/// recorded by `recorder`.
fn clients(rules: &[&Rule], recorder: &CallRecorder) -> Clients {
    let r = rules.iter().copied();
    Clients {
        net: NetClients {
            ec2: mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, Vec::<&Rule>::new()),
            elb: mock_sdk_client!(
                aws_sdk_elasticloadbalancingv2,
                RuleMode::MatchAny,
                Vec::<&Rule>::new()
            ),
            apigw: mock_sdk_client!(
                aws_sdk_apigatewayv2,
                RuleMode::MatchAny,
                Vec::<&Rule>::new()
            ),
        },
        ecs: mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, r.clone(), |c| c
            .interceptor(recorder.clone())),
        ecr: mock_sdk_client!(aws_sdk_ecr, RuleMode::MatchAny, r.clone(), |c| c
            .interceptor(recorder.clone())),
        iam: mock_sdk_client!(aws_sdk_iam, RuleMode::MatchAny, r.clone(), |c| c
            .interceptor(recorder.clone())),
        logs: mock_sdk_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, r, |c| c
            .interceptor(recorder.clone())),
        scheduler: mock_sdk_client!(aws_sdk_scheduler, RuleMode::MatchAny, Vec::<&Rule>::new()),
        autoscaling: mock_sdk_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::MatchAny,
            Vec::<&Rule>::new()
        ),
        ssm: mock_sdk_client!(aws_sdk_ssm, RuleMode::MatchAny, Vec::<&Rule>::new()),
        secrets: mock_sdk_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            Vec::<&Rule>::new()
        ),
        discovery: mock_sdk_client!(
            aws_sdk_servicediscovery,
            RuleMode::MatchAny,
            Vec::<&Rule>::new()
        ),
        sqs: mock_sdk_client!(aws_sdk_sqs, RuleMode::MatchAny, Vec::<&Rule>::new()),
        efs: mock_sdk_client!(aws_sdk_efs, RuleMode::MatchAny, Vec::<&Rule>::new()),
        route53: mock_sdk_client!(aws_sdk_route53, RuleMode::MatchAny, Vec::<&Rule>::new()),
        acm: mock_sdk_client!(aws_sdk_acm, RuleMode::MatchAny, Vec::<&Rule>::new()),
        aws: aws(),
    }
}

async fn plan_one(
    clients: &Clients,
    resource: impl Resource<Clients> + 'static,
    mode: Mode,
) -> Result<(Plan, Executable<Clients>), Error> {
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![Arc::new(resource)];
    let exe = Executable::plan(clients, &resources, mode).await?;
    Ok((exe.plan.clone(), exe))
}

async fn run(clients: &Clients, exe: Executable<Clients>) -> Outputs {
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap()
}

fn ownership_tags() -> Vec<(String, String)> {
    owner().tags()
}

// ---------------------------------------------------------------- task definitions

fn td_spec(image: &str) -> TaskDefinitionSpec {
    let web = ContainerSpec::new("web", image.parse().unwrap())
        .port("8080".parse().unwrap())
        .env("RUST_LOG", "info")
        .env("API_TOKEN", "not-really-secret")
        .secret("DATABASE_URL", SECRET.parse().unwrap())
        .health_check(HealthCheck::shell(
            "curl -f http://localhost:8080/health || exit 1",
        ));
    let xray = ContainerSpec::new(
        "xray",
        "public.ecr.aws/xray/aws-xray-daemon:3.3".parse().unwrap(),
    )
    .essential(false)
    .memory_reservation_mib(64);
    TaskDefinitionSpec::builder(
        "prod-web".parse().unwrap(),
        owner(),
        TaskSize::new(512, 1024).unwrap(),
        Ref::Known(EXEC_ARN.to_string()),
        web,
    )
    .sidecar(xray)
    .task_role(Ref::Known(TASK_ARN.to_string()))
    .logs("/ecs/prod/web".parse().unwrap(), "web")
    .build()
    .unwrap()
}

/// Revision 3 of `prod-web` as ECS describes it: defaults filled in (hostPort, protocol,
/// cpu 0, health check timings), environment in another order, options in a map.
fn described_td(image: &str) -> ecs_sdk::types::TaskDefinition {
    use ecs_sdk::types::*;
    let log = || {
        LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .set_options(Some(HashMap::from([
                ("awslogs-stream-prefix".to_string(), "web".to_string()),
                ("awslogs-region".to_string(), "us-east-1".to_string()),
                ("awslogs-group".to_string(), "/ecs/prod/web".to_string()),
            ])))
            .build()
            .unwrap()
    };
    let web = ContainerDefinition::builder()
        .name("web")
        .image(image)
        .cpu(0)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(8080)
                .host_port(8080)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("RUST_LOG")
                .value("info")
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("API_TOKEN")
                .value("not-really-secret")
                .build(),
        )
        .secrets(
            Secret::builder()
                .name("DATABASE_URL")
                .value_from(SECRET)
                .build()
                .unwrap(),
        )
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -f http://localhost:8080/health || exit 1")
                .interval(30)
                .timeout(5)
                .retries(3)
                .build()
                .unwrap(),
        )
        .readonly_root_filesystem(false)
        .log_configuration(log())
        .build();
    let xray = ContainerDefinition::builder()
        .name("xray")
        .image("public.ecr.aws/xray/aws-xray-daemon:3.3")
        .cpu(0)
        .essential(false)
        .memory_reservation(64)
        .log_configuration(log())
        .build();
    TaskDefinition::builder()
        .task_definition_arn(format!("{TD_ARN}:3"))
        .family("prod-web")
        .revision(3)
        .status(TaskDefinitionStatus::Active)
        .cpu("512")
        .memory("1024")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Fargate)
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::X8664)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .execution_role_arn(EXEC_ARN)
        .task_role_arn(TASK_ARN)
        .container_definitions(xray)
        .container_definitions(web)
        .build()
}

fn describe_td_rule(image: &'static str, tags: Vec<(String, String)>) -> Rule {
    use ecs_sdk::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some("prod-web"))
        .then_output(move || {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(described_td(image))
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| ecs_sdk::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build()
        })
}

fn register_rule() -> Rule {
    use ecs_sdk::operation::register_task_definition::RegisterTaskDefinitionOutput;
    mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|r| {
            r.container_definitions()
                .iter()
                .any(|c| c.image() == Some("nginx:1.28"))
                && r.execution_role_arn() == Some(EXEC_ARN)
                && !r.tags().is_empty()
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(
                    ecs_sdk::types::TaskDefinition::builder()
                        .task_definition_arn(format!("{TD_ARN}:4"))
                        .revision(4)
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn unchanged_task_definition_is_noop_and_registers_nothing() {
    let recorder = CallRecorder::new();
    let describe = describe_td_rule("nginx:1.27", ownership_tags());
    let register = register_rule();
    let clients = clients(&[&describe, &register], &recorder);

    let (plan, exe) = plan_one(
        &clients,
        fargate_core::Node(td_spec("nginx:1.27")),
        Mode::Apply,
    )
    .await
    .unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let outputs = run(&clients, exe).await;

    assert_eq!(register.num_calls(), 0);
    assert!(
        recorder.mutating_calls().is_empty(),
        "{:?}",
        recorder.mutating_calls()
    );
    let family: EcsName = "prod-web".parse().unwrap();
    assert_eq!(
        outputs.get(&task_definition_arn(&family)).unwrap(),
        format!("{TD_ARN}:3")
    );
    assert_eq!(outputs.get(&task_definition_revision(&family)).unwrap(), 3);
    assert_eq!(
        outputs.get(&previous_task_definition_arn(&family)).unwrap(),
        None
    );
}

#[tokio::test]
async fn changed_image_registers_exactly_one_revision() {
    let recorder = CallRecorder::new();
    let describe = describe_td_rule("nginx:1.27", ownership_tags());
    let register = register_rule();
    let clients = clients(&[&describe, &register], &recorder);

    let (plan, exe) = plan_one(
        &clients,
        fargate_core::Node(td_spec("nginx:1.28")),
        Mode::Apply,
    )
    .await
    .unwrap();
    let change = &plan
        .get(&task_definition_id(&"prod-web".parse().unwrap()))
        .unwrap()
        .change;
    match change {
        fargate_core::Change::Update { diffs } => {
            let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
            assert_eq!(fields, ["container.web.image"]);
        }
        other => panic!("expected an update, got {other:?}"),
    }
    let outputs = run(&clients, exe).await;

    assert_eq!(register.num_calls(), 1);
    assert_eq!(recorder.mutating_calls(), ["ECS.RegisterTaskDefinition"]);
    let family: EcsName = "prod-web".parse().unwrap();
    assert_eq!(
        outputs.get(&task_definition_arn(&family)).unwrap(),
        format!("{TD_ARN}:4")
    );
    assert_eq!(
        outputs.get(&previous_task_definition_arn(&family)).unwrap(),
        Some(format!("{TD_ARN}:3"))
    );
}

#[tokio::test]
async fn sensitive_looking_environment_values_never_appear_in_the_plan() {
    let recorder = CallRecorder::new();
    let describe = describe_td_rule("nginx:1.27", ownership_tags());
    let clients = clients(&[&describe], &recorder);
    let spec = {
        let web = ContainerSpec::new("web", "nginx:1.27".parse().unwrap())
            .env("API_TOKEN", "new-token-value");
        TaskDefinitionSpec::builder(
            "prod-web".parse().unwrap(),
            owner(),
            TaskSize::new(512, 1024).unwrap(),
            Ref::Known(EXEC_ARN.into()),
            web,
        )
        .build()
        .unwrap()
    };
    let (plan, _) = plan_one(&clients, fargate_core::Node(spec), Mode::Apply)
        .await
        .unwrap();
    let text = format!("{plan}\n{}", plan.to_json().unwrap());
    assert!(
        !text.contains("not-really-secret") && !text.contains("new-token-value"),
        "{text}"
    );
    assert!(
        text.contains("container.web.environment.API_TOKEN"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn register_is_retried_while_ecs_cannot_assume_a_new_role() {
    use ecs_sdk::operation::describe_task_definition::DescribeTaskDefinitionError;
    use ecs_sdk::operation::register_task_definition::{
        RegisterTaskDefinitionError, RegisterTaskDefinitionOutput,
    };
    let recorder = CallRecorder::new();
    let absent = mock!(aws_sdk_ecs::Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::generic(aws_error_meta(
            "ClientException",
            "Unable to describe task definition.",
        ))
    });
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .sequence()
        .error(|| {
            RegisterTaskDefinitionError::generic(aws_error_meta(
                "ClientException",
                "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/prod-web-exec' that was provided for this task.",
            ))
        })
        .output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(
                    ecs_sdk::types::TaskDefinition::builder()
                        .task_definition_arn(format!("{TD_ARN}:1"))
                        .revision(1)
                        .build(),
                )
                .build()
        })
        .build();
    let clients = clients(&[&absent, &register], &recorder);

    let (plan, exe) = plan_one(
        &clients,
        fargate_core::Node(td_spec("nginx:1.28")),
        Mode::Apply,
    )
    .await
    .unwrap();
    assert_eq!(plan.summary().create, 1);
    let outputs = run(&clients, exe).await;
    assert_eq!(register.num_calls(), 2);
    let family: EcsName = "prod-web".parse().unwrap();
    assert_eq!(outputs.get(&task_definition_revision(&family)).unwrap(), 1);
}

#[test]
fn iam_propagation_errors_are_recognized_and_nothing_else() {
    let aws = |code: &str, message: &str| {
        Error::Aws(Box::new(fargate_core::AwsError {
            resource: "x".into(),
            operation: "CreateService".into(),
            code: code.into(),
            message: message.into(),
            retryable: false,
            source: None,
        }))
    };
    assert!(is_iam_propagation_error(&aws(
        "InvalidParameterException",
        "Unable to assume role and validate the specified targetGroupArn."
    )));
    assert!(is_iam_propagation_error(&aws(
        "ClientException",
        "ECS was unable to assume the role 'arn:...'"
    )));
    assert!(!is_iam_propagation_error(&aws(
        "ClientException",
        "Unable to describe task definition."
    )));
    assert!(!is_iam_propagation_error(&aws(
        "AccessDeniedException",
        "Unable to assume role"
    )));
    assert!(!is_iam_propagation_error(&Error::Cancelled));
}

// ---------------------------------------------------------------- IAM

/// RFC 3986 percent-encoding of everything but unreserved characters, as IAM returns policies.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn exec_role() -> IamRoleSpec {
    let access = ExecutionAccess::new()
        .image(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/web:v1"
                .parse()
                .unwrap(),
        )
        .log_group("/ecs/prod/web".parse().unwrap())
        .secret(SECRET.parse().unwrap())
        .secret("/prod/web/api-key".parse().unwrap())
        .kms_key("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        .unwrap();
    IamRoleSpec::execution_role(&ident("prod"), &ident("web"), owner(), access)
}

/// Reverse every array and every statement list, as another valid spelling of the same policy.
fn reordered(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().rev().map(reordered).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reordered(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn iam_rules(trust: String, policy: Option<String>, tags: Vec<(String, String)>) -> Vec<Rule> {
    use iam_sdk::operation::get_role::GetRoleOutput;
    use iam_sdk::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
    use iam_sdk::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    // GetRole answers the role's tags (no ListRoleTags).
    let role_tags: Vec<iam_sdk::types::Tag> = tags
        .iter()
        .map(|(k, v)| {
            iam_sdk::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .unwrap()
        })
        .collect();
    let get_role = mock!(aws_sdk_iam::Client::get_role).then_output(move || {
        GetRoleOutput::builder()
            .role(
                iam_sdk::types::Role::builder()
                    .path("/")
                    .role_name("prod-web-exec")
                    .role_id("AROAEXAMPLE")
                    .arn(EXEC_ARN)
                    .create_date(iam_sdk::primitives::DateTime::from_secs(0))
                    .assume_role_policy_document(trust.clone())
                    .set_tags(Some(role_tags.clone()))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let get_policy = match policy {
        Some(doc) => mock!(aws_sdk_iam::Client::get_role_policy).then_output(move || {
            GetRolePolicyOutput::builder()
                .role_name("prod-web-exec")
                .policy_name("fargate-rs")
                .policy_document(doc.clone())
                .build()
                .unwrap()
        }),
        None => mock!(aws_sdk_iam::Client::get_role_policy).then_error(|| {
            GetRolePolicyError::generic(aws_error_meta(
                "NoSuchEntity",
                "The role policy was not found.",
            ))
        }),
    };
    let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies)
        .then_output(|| ListAttachedRolePoliciesOutput::builder().build());
    vec![get_role, get_policy, attached]
}

#[tokio::test]
async fn url_encoded_reordered_role_policies_are_noop() {
    let role = exec_role();
    let trust = reordered(&role.trust_policy(&aws())).to_string();
    let policy = reordered(&role.inline_policy(&aws()).unwrap()).to_string();
    let rules = iam_rules(
        url_encode(&trust),
        Some(url_encode(&policy)),
        ownership_tags(),
    );
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let (plan, exe) = plan_one(&clients, fargate_core::Node(role), Mode::Apply)
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let outputs = run(&clients, exe).await;
    assert!(
        recorder.mutating_calls().is_empty(),
        "{:?}",
        recorder.mutating_calls()
    );
    let name = "prod-web-exec".parse().unwrap();
    assert_eq!(
        outputs.get(&fargate_deploy::iam::role_arn(&name)).unwrap(),
        EXEC_ARN
    );
}

#[tokio::test]
async fn changed_role_policy_is_put_and_trust_left_alone() {
    let role = exec_role();
    let trust = url_encode(&role.trust_policy(&aws()).to_string());
    let old_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]});
    let mut rules = iam_rules(
        trust,
        Some(url_encode(&old_policy.to_string())),
        ownership_tags(),
    );
    rules.push(
        mock!(aws_sdk_iam::Client::put_role_policy)
            .match_requests(|r| r.policy_name() == Some("fargate-rs"))
            .then_output(|| {
                iam_sdk::operation::put_role_policy::PutRolePolicyOutput::builder().build()
            }),
    );
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let (plan, exe) = plan_one(&clients, fargate_core::Node(role), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(plan.summary().update, 1, "{plan}");
    run(&clients, exe).await;
    assert_eq!(recorder.mutating_calls(), ["IAM.PutRolePolicy"]);
}

#[test]
fn execution_role_policy_has_star_only_on_get_authorization_token() {
    let policy = exec_role().inline_policy(&aws()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let mut actions_on_star = Vec::new();
    let mut resources = Vec::new();
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        let stmt_resources: Vec<&str> = statement["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let actions: Vec<&str> = statement["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
        if stmt_resources
            .iter()
            .any(|r| r.contains('*') && !r.ends_with(":log-stream:*"))
        {
            assert_eq!(stmt_resources, ["*"]);
            actions_on_star.extend(actions.iter().map(|a| a.to_string()));
        }
        resources.extend(stmt_resources.iter().map(|r| r.to_string()));
    }
    assert_eq!(actions_on_star, ["ecr:GetAuthorizationToken"]);
    for expected in [
        "arn:aws:ecr:us-east-1:123456789012:repository/prod/web",
        "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/prod/web",
        "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/prod/web:log-stream:*",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        "arn:aws:ssm:us-east-1:123456789012:parameter/prod/web/api-key",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        assert!(
            resources.iter().any(|r| r == expected),
            "{expected} missing from {resources:?}"
        );
    }

    let trust = exec_role().trust_policy(&aws());
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "ecs-tasks.amazonaws.com");
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceAccount"],
        ACCOUNT
    );
    assert_eq!(
        statement["Condition"]["ArnLike"]["aws:SourceArn"],
        "arn:aws:ecs:us-east-1:123456789012:*"
    );
}

#[test]
fn task_role_statements_are_validated() {
    assert_eq!(
        PolicyStatement::allow(Vec::<String>::new(), ["*"])
            .unwrap_err()
            .field,
        "policy.actions"
    );
    assert_eq!(
        PolicyStatement::allow(["s3:GetObject"], Vec::<String>::new())
            .unwrap_err()
            .field,
        "policy.resources"
    );
    assert_eq!(
        PolicyStatement::allow(["GetObject"], ["*"])
            .unwrap_err()
            .field,
        "policy.actions"
    );
    assert_eq!(
        PolicyStatement::allow(["s3:GetObject"], ["my-bucket"])
            .unwrap_err()
            .field,
        "policy.resources"
    );
    let role = IamRoleSpec::task_role(
        &ident("prod"),
        &ident("web"),
        owner(),
        vec![
            PolicyStatement::allow(["s3:GetObject"], ["arn:aws:s3:::b/*"])
                .unwrap()
                .condition("Bool", "aws:SecureTransport", ["true"]),
        ],
    );
    let policy = role.inline_policy(&aws()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
        json!(["true"])
    );
    let none = IamRoleSpec::task_role(&ident("prod"), &ident("web"), owner(), vec![]);
    assert_eq!(none.inline_policy(&aws()), None);
}

// ---------------------------------------------------------------- ownership

fn ecr_foreign_rules() -> Vec<Rule> {
    use ecr_sdk::operation::describe_repositories::DescribeRepositoriesOutput;
    use ecr_sdk::operation::get_lifecycle_policy::GetLifecyclePolicyError;
    use ecr_sdk::operation::list_tags_for_resource::ListTagsForResourceOutput;
    vec![
        mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(
                    ecr_sdk::types::Repository::builder()
                        .repository_name("prod/web")
                        .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/prod/web")
                        .repository_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/web")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ecr::Client::get_lifecycle_policy).then_error(|| {
            GetLifecyclePolicyError::generic(aws_error_meta(
                "LifecyclePolicyNotFoundException",
                "none",
            ))
        }),
        mock!(aws_sdk_ecr::Client::list_tags_for_resource)
            .then_output(|| ListTagsForResourceOutput::builder().build()),
    ]
}

fn logs_foreign_rules() -> Vec<Rule> {
    use logs_sdk::operation::describe_log_groups::DescribeLogGroupsOutput;
    use logs_sdk::operation::list_tags_for_resource::ListTagsForResourceOutput;
    vec![
        mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    logs_sdk::types::LogGroup::builder()
                        .log_group_name("/ecs/prod/web")
                        .arn("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/prod/web:*")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_cloudwatchlogs::Client::list_tags_for_resource)
            .match_requests(|r| {
                r.resource_arn()
                    == Some("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/prod/web")
            })
            .then_output(|| ListTagsForResourceOutput::builder().build()),
    ]
}

fn cluster_foreign_rules() -> Vec<Rule> {
    use ecs_sdk::operation::describe_clusters::DescribeClustersOutput;
    vec![
        mock!(aws_sdk_ecs::Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(
                    ecs_sdk::types::Cluster::builder()
                        .cluster_name("prod")
                        .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/prod")
                        .status("ACTIVE")
                        .build(),
                )
                .build()
        }),
    ]
}

#[tokio::test]
async fn foreign_resources_are_refused_without_any_mutating_call() {
    let recorder = CallRecorder::new();
    let mut rules = ecr_foreign_rules();
    rules.extend(logs_foreign_rules());
    rules.extend(cluster_foreign_rules());
    rules.extend(iam_rules(
        url_encode("{}"),
        None,
        vec![("team".into(), "platform".into())],
    ));
    rules.push(describe_td_rule("nginx:1.27", vec![]));
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let repo = EcrRepositorySpec::new(EcrRepositoryName::derive(&["prod", "web"]), owner());
    let group = LogGroupSpec::for_app(&ident("prod"), &ident("web"), owner());
    let cluster = fargate_deploy::cluster::ClusterSpec::for_environment(
        &ident("prod"),
        Ownership::new(ident("prod")),
    );
    for mode in [Mode::Apply, Mode::Destroy] {
        let results = [
            plan_one(&clients, fargate_core::Node(repo.clone()), mode).await,
            plan_one(&clients, fargate_core::Node(group.clone()), mode).await,
            plan_one(&clients, fargate_core::Node(cluster.clone()), mode).await,
            plan_one(&clients, fargate_core::Node(exec_role()), mode).await,
            plan_one(&clients, fargate_core::Node(td_spec("nginx:1.27")), mode).await,
        ];
        for result in results {
            match (mode, result) {
                // Apply refuses to touch it.
                (Mode::Apply, Err(Error::NotOwned { .. })) => {}
                // Destroy leaves it alone, says so, and goes on with the rest.
                (Mode::Destroy, Ok((plan, _))) => {
                    assert_eq!(plan.changes[0].change, fargate_core::Change::NoOp, "{plan}");
                    assert!(
                        plan.notes
                            .iter()
                            .any(|n| n.starts_with("skipped ")
                                && n.contains("not owned by fargate-rs")),
                        "{plan}"
                    );
                }
                (mode, other) => panic!("{mode:?}: {:?}", other.map(|(p, _)| p)),
            }
        }
    }
    assert!(
        recorder.mutating_calls().is_empty(),
        "{:?}",
        recorder.mutating_calls()
    );
}

#[tokio::test]
async fn adopted_repository_is_never_modified() {
    let recorder = CallRecorder::new();
    let rules = ecr_foreign_rules();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let name = EcrRepositoryName::derive(&["prod", "web"]);
    for mode in [Mode::Apply, Mode::Destroy] {
        let (plan, exe) = plan_one(
            &clients,
            fargate_core::Node(EcrRepositorySpec::adopt(name.clone())),
            mode,
        )
        .await
        .unwrap();
        assert!(
            matches!(plan.changes[0].change, fargate_core::Change::Adopt { .. }),
            "{plan}"
        );
        let outputs = run(&clients, exe).await;
        assert_eq!(
            outputs
                .get(&fargate_deploy::ecr::repository_uri(&name))
                .unwrap(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/web"
        );
    }
    assert!(
        recorder.mutating_calls().is_empty(),
        "{:?}",
        recorder.mutating_calls()
    );
}

// ---------------------------------------------------------------- ECR

fn owned_repo_rules(scan_on_push: bool) -> Vec<Rule> {
    use ecr_sdk::operation::describe_repositories::DescribeRepositoriesOutput;
    use ecr_sdk::operation::get_lifecycle_policy::GetLifecyclePolicyOutput;
    use ecr_sdk::operation::list_tags_for_resource::ListTagsForResourceOutput;
    vec![
        mock!(aws_sdk_ecr::Client::describe_repositories)
            .sequence()
            .error(|| {
                ecr_sdk::operation::describe_repositories::DescribeRepositoriesError::generic(aws_error_meta(
                    "ThrottlingException",
                    "Rate exceeded",
                ))
            })
            .output(move || {
                DescribeRepositoriesOutput::builder()
                    .repositories(
                        ecr_sdk::types::Repository::builder()
                            .repository_name("prod/web")
                            .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/prod/web")
                            .repository_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/web")
                            .image_tag_mutability(ecr_sdk::types::ImageTagMutability::Mutable)
                            .image_scanning_configuration(
                                ecr_sdk::types::ImageScanningConfiguration::builder().scan_on_push(scan_on_push).build(),
                            )
                            .encryption_configuration(
                                ecr_sdk::types::EncryptionConfiguration::builder()
                                    .encryption_type(ecr_sdk::types::EncryptionType::Aes256)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
            })
            .repeatedly()
            .build(),
        mock!(aws_sdk_ecr::Client::get_lifecycle_policy).then_output(|| {
            // Another spelling (whitespace, key order) of the policy fargate-rs writes.
            GetLifecyclePolicyOutput::builder()
                .lifecycle_policy_text(
                    r#"{ "rules": [ { "action": {"type": "expire"}, "selection": {"countNumber": 20,
                       "countType": "imageCountMoreThan", "tagStatus": "any"},
                       "description": "keep the last 20 images", "rulePriority": 1 } ] }"#,
                )
                .build()
        }),
        mock!(aws_sdk_ecr::Client::list_tags_for_resource).then_output(|| {
            ListTagsForResourceOutput::builder()
                .set_tags(Some(
                    ownership_tags()
                        .into_iter()
                        .map(|(k, v)| ecr_sdk::types::Tag::builder().key(k).value(v).build().unwrap())
                        .collect(),
                ))
                .build()
        }),
        mock!(aws_sdk_ecr::Client::put_image_scanning_configuration)
            .match_requests(|r| r.image_scanning_configuration().is_some_and(|c| c.scan_on_push()))
            .then_output(|| {
                ecr_sdk::operation::put_image_scanning_configuration::PutImageScanningConfigurationOutput::builder()
                    .build()
            }),
    ]
}

#[tokio::test]
async fn repository_update_touches_only_the_changed_field_after_a_throttled_read() {
    let recorder = CallRecorder::new();
    let rules = owned_repo_rules(false);
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let repo = EcrRepositorySpec::new(EcrRepositoryName::derive(&["prod", "web"]), owner());

    let (plan, exe) = plan_one(&clients, fargate_core::Node(repo), Mode::Apply)
        .await
        .unwrap();
    match &plan.changes[0].change {
        fargate_core::Change::Update { diffs } => {
            assert_eq!(
                diffs.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
                ["scan_on_push"]
            );
        }
        other => panic!("expected an update, got {other:?}"),
    }
    run(&clients, exe).await;
    assert_eq!(
        recorder.mutating_calls(),
        ["ECR.PutImageScanningConfiguration"]
    );
    // The throttled DescribeRepositories was retried by the SDK: one recorded call, two answers.
    assert_eq!(rules[0].num_calls(), 2);
}

#[tokio::test]
async fn missing_image_is_a_clear_error_naming_the_push() {
    use ecr_sdk::operation::describe_images::DescribeImagesError;
    let recorder = CallRecorder::new();
    let describe = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("prod/web") && r.image_ids().first().and_then(|i| i.image_tag()) == Some("v42"))
        .then_error(|| {
            DescribeImagesError::ImageNotFoundException(
                ecr_sdk::types::error::ImageNotFoundException::builder()
                    .message("The image with imageId {imageDigest:'null', imageTag:'v42'} does not exist")
                    .meta(aws_error_meta("ImageNotFoundException", "The image does not exist"))
                    .build(),
            )
        });
    let clients = clients(&[&describe], &recorder);

    let err = ensure_image_exists(
        &clients,
        &EcrRepositoryName::derive(&["prod", "web"]),
        "v42",
    )
    .await
    .unwrap_err();
    let Error::Failed { source, .. } = &err else {
        panic!("expected a typed failure, got {err:?}");
    };
    let ecr_error = source.downcast_ref::<EcrError>().expect("an EcrError");
    assert!(matches!(ecr_error, EcrError::ImageNotFound { reference, .. } if reference == "v42"));
    let message = err.to_string();
    assert!(message.contains("prod/web"), "{message}");
    assert!(
        message.contains("docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/web:v42"),
        "{message}"
    );
}

// ---------------------------------------------------------------- validation

#[test]
fn bad_input_is_rejected_before_any_call() {
    let exec = || Ref::Known(EXEC_ARN.to_string());
    let size = TaskSize::new(256, 512).unwrap();
    let build = |main: ContainerSpec, sidecar: Option<ContainerSpec>| {
        let b =
            TaskDefinitionSpec::builder("prod-web".parse().unwrap(), owner(), size, exec(), main);
        match sidecar {
            Some(s) => b.sidecar(s),
            None => b,
        }
        .build()
    };
    let nginx = || "nginx:1.27".parse().unwrap();

    let e = build(
        ContainerSpec::new("web", nginx()),
        Some(ContainerSpec::new("web", nginx())),
    )
    .unwrap_err();
    assert_eq!(e.field, "container.name");
    assert!(e.reason.contains("two containers"), "{e}");

    let clash = ContainerSpec::new("web", nginx())
        .env("DB", "x")
        .secret("DB", SECRET.parse().unwrap());
    let e = build(clash, None).unwrap_err();
    assert_eq!(e.field, "container.web.secrets");
    assert_eq!(e.value, "DB");

    let e = build(ContainerSpec::new("web", nginx()).env("2FA-KEY", "x"), None).unwrap_err();
    assert_eq!(e.field, "container.web.environment");

    let e = build(ContainerSpec::new("web", nginx()).essential(false), None).unwrap_err();
    assert_eq!(e.field, "container.essential");

    let e = TaskDefinitionSpec::builder(
        "prod-web".parse().unwrap(),
        owner(),
        size,
        exec(),
        ContainerSpec::new("web", nginx()),
    )
    .ephemeral_storage_gib(10)
    .build()
    .unwrap_err();
    assert_eq!(e.field, "ephemeral_storage_gib");

    let e = build(
        ContainerSpec::new("web", nginx()).port("80".parse().unwrap()),
        Some(ContainerSpec::new("proxy", nginx()).port("80".parse().unwrap())),
    )
    .unwrap_err();
    assert_eq!(e.field, "container.proxy.ports");

    let e = build(
        ContainerSpec::new("web", nginx()).depends_on(
            "db",
            fargate_deploy::task_definition::DependencyCondition::Start,
        ),
        None,
    )
    .unwrap_err();
    assert_eq!(e.field, "container.web.depends_on");

    let e = build(
        ContainerSpec::new("web", nginx()).memory_reservation_mib(4096),
        None,
    )
    .unwrap_err();
    assert_eq!(e.field, "container.web.memory_reservation");

    // CPU and memory are validated by TaskSize itself, before a spec can exist.
    assert_eq!(TaskSize::new(300, 512).unwrap_err().field, "cpu");
    assert_eq!(TaskSize::new(256, 4096).unwrap_err().field, "memory");
    assert!("0".parse::<fargate_core::Port>().is_err());

    let e = fargate_deploy::logs::LogGroupSpec::for_app(&ident("prod"), &ident("web"), owner())
        .retention_days(10)
        .unwrap_err();
    assert_eq!(e.field, "retention_in_days");
    assert!(e.allowed.starts_with("1, 3, 5, 7, 14, 30"), "{e}");
}

// ---------------------------------------------------------------- concurrent IAM calls

/// How long every mocked IAM call takes here: calls issued together overlap, calls issued one
/// after the other do not.
const IAM_LATENCY: std::time::Duration = std::time::Duration::from_millis(25);

/// Like `clients`, with IAM answering after [`IAM_LATENCY`].
fn delayed_iam_clients(rules: &[&Rule], recorder: &CallRecorder) -> Clients {
    let mut c = clients(rules, recorder);
    c.iam = mock_sdk_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        rules.iter().copied(),
        |c| c
            .http_client(fargate_testkit::mocks::delayed_mock_http_client(
                IAM_LATENCY
            ))
            .interceptor(recorder.clone())
    );
    c
}

/// Whether all these calls were in flight at one moment.
fn one_round(records: &[&fargate_testkit::CallRecord]) -> bool {
    let latest_start = records.iter().map(|r| r.start).max();
    let earliest_end = records.iter().map(|r| r.end).min();
    matches!((latest_start, earliest_end), (Some(s), Some(e)) if s < e)
}

const MANAGED: [&str; 2] = [
    "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
];

/// A new role with an inline policy and two managed policies: after CreateRole, the
/// PutRolePolicy and both AttachRolePolicy calls run in one round (3 sequential round trips
/// before).
#[tokio::test]
async fn a_new_roles_inline_policy_and_attachments_run_in_one_round() {
    use iam_sdk::operation::attach_role_policy::AttachRolePolicyOutput;
    use iam_sdk::operation::create_role::CreateRoleOutput;
    use iam_sdk::operation::get_role::GetRoleError;
    use iam_sdk::operation::get_role_policy::GetRolePolicyError;
    use iam_sdk::operation::list_attached_role_policies::ListAttachedRolePoliciesError;
    use iam_sdk::operation::put_role_policy::PutRolePolicyOutput;
    let gone = || {
        aws_error_meta(
            "NoSuchEntity",
            "The role with name prod-web-exec cannot be found.",
        )
    };
    let rules = [
        mock!(aws_sdk_iam::Client::get_role).then_error(move || GetRoleError::generic(gone())),
        mock!(aws_sdk_iam::Client::get_role_policy)
            .then_error(move || GetRolePolicyError::generic(gone())),
        mock!(aws_sdk_iam::Client::list_attached_role_policies)
            .then_error(move || ListAttachedRolePoliciesError::generic(gone())),
        mock!(aws_sdk_iam::Client::create_role).then_output(|| {
            CreateRoleOutput::builder()
                .role(
                    iam_sdk::types::Role::builder()
                        .path("/")
                        .role_name("prod-web-exec")
                        .role_id("AROAEXAMPLE")
                        .arn(EXEC_ARN)
                        .create_date(iam_sdk::primitives::DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        mock!(aws_sdk_iam::Client::put_role_policy)
            .then_output(|| PutRolePolicyOutput::builder().build()),
        mock!(aws_sdk_iam::Client::attach_role_policy)
            .match_requests(|r| MANAGED.contains(&r.policy_arn().unwrap_or_default()))
            .then_output(|| AttachRolePolicyOutput::builder().build()),
    ];
    let recorder = CallRecorder::new();
    let clients = delayed_iam_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let role = exec_role()
        .managed_policy(MANAGED[0])
        .unwrap()
        .managed_policy(MANAGED[1])
        .unwrap();

    let (plan, exe) = plan_one(&clients, fargate_core::Node(role), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(plan.summary().create, 1, "{plan}");
    let mark = recorder.mark();
    run(&clients, exe).await;

    let records = recorder.records_since(mark);
    let create = records
        .iter()
        .find(|r| r.operation == "CreateRole")
        .unwrap();
    let round: Vec<&fargate_testkit::CallRecord> = records
        .iter()
        .filter(|r| r.operation == "PutRolePolicy" || r.operation == "AttachRolePolicy")
        .collect();
    assert_eq!(round.len(), 3, "{records:#?}");
    assert!(one_round(&round), "{round:#?}");
    assert!(round.iter().all(|r| r.start >= create.end), "{round:#?}");
    let summary = recorder.summary_since(mark);
    assert_eq!(summary.critical_path, 2, "{summary}");
}

/// Deleting a role: its inline policy and its attachments go in one round, the role after
/// them.
#[tokio::test]
async fn deleting_a_role_removes_its_policies_in_one_round_then_the_role() {
    use iam_sdk::operation::delete_role::DeleteRoleOutput;
    use iam_sdk::operation::delete_role_policy::DeleteRolePolicyOutput;
    use iam_sdk::operation::detach_role_policy::DetachRolePolicyOutput;
    use iam_sdk::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    let role = exec_role();
    let trust = url_encode(&role.trust_policy(&aws()).to_string());
    let policy = url_encode(&role.inline_policy(&aws()).unwrap().to_string());
    let mut rules = iam_rules(trust, Some(policy), ownership_tags());
    // Replace the empty attachment list (the last rule) with two attached policies.
    rules.pop();
    rules.extend([
        mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
            let mut out = ListAttachedRolePoliciesOutput::builder();
            for arn in MANAGED {
                out = out.attached_policies(
                    iam_sdk::types::AttachedPolicy::builder()
                        .policy_arn(arn)
                        .build(),
                );
            }
            out.build()
        }),
        mock!(aws_sdk_iam::Client::delete_role_policy)
            .then_output(|| DeleteRolePolicyOutput::builder().build()),
        mock!(aws_sdk_iam::Client::detach_role_policy)
            .then_output(|| DetachRolePolicyOutput::builder().build()),
        mock!(aws_sdk_iam::Client::delete_role).then_output(|| DeleteRoleOutput::builder().build()),
    ]);
    let recorder = CallRecorder::new();
    let clients = delayed_iam_clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let (plan, exe) = plan_one(&clients, fargate_core::Node(role), Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(plan.summary().delete, 1, "{plan}");
    let mark = recorder.mark();
    run(&clients, exe).await;

    let records = recorder.records_since(mark);
    let round: Vec<&fargate_testkit::CallRecord> = records
        .iter()
        .filter(|r| r.operation == "DeleteRolePolicy" || r.operation == "DetachRolePolicy")
        .collect();
    assert_eq!(round.len(), 3, "{records:#?}");
    assert!(one_round(&round), "{round:#?}");
    let delete = records
        .iter()
        .find(|r| r.operation == "DeleteRole")
        .unwrap();
    assert!(round.iter().all(|r| r.end <= delete.start), "{records:#?}");
}
