//! Shared helpers for fargate-deploy's tests: mocked clients, and moto clients and
//! resources made directly with the SDK.
#![allow(dead_code)]

pub mod task_definition;

use fargate_deploy::{AwsContext, Clients};
use fargate_net::NetClients;
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::AttributeBooleanValue;
use fargate_testkit::aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode};
use fargate_testkit::mock_sdk_client;

/// Mocked rules per service; any call to a service without rules panics
/// ("no rule matched"), so a test proves which services were called.
#[derive(Default)]
pub struct Mocks<'a> {
    pub ecs: Vec<&'a Rule>,
    pub ecr: Vec<&'a Rule>,
    pub ec2: Vec<&'a Rule>,
    pub elb: Vec<&'a Rule>,
    pub iam: Vec<&'a Rule>,
    pub logs: Vec<&'a Rule>,
    pub scheduler: Vec<&'a Rule>,
    pub apigw: Vec<&'a Rule>,
    pub autoscaling: Vec<&'a Rule>,
    pub ssm: Vec<&'a Rule>,
    pub secrets: Vec<&'a Rule>,
    pub discovery: Vec<&'a Rule>,
    pub sqs: Vec<&'a Rule>,
    pub efs: Vec<&'a Rule>,
    pub route53: Vec<&'a Rule>,
    pub acm: Vec<&'a Rule>,
}

pub fn aws() -> AwsContext {
    AwsContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
    }
}

impl Mocks<'_> {
    pub fn clients(&self) -> Clients {
        Clients {
            net: NetClients {
                ec2: mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, self.ec2.iter().copied()),
                elb: mock_sdk_client!(
                    aws_sdk_elasticloadbalancingv2,
                    RuleMode::MatchAny,
                    self.elb.iter().copied()
                ),
                apigw: mock_sdk_client!(
                    aws_sdk_apigatewayv2,
                    RuleMode::MatchAny,
                    self.apigw.iter().copied()
                ),
            },
            ecs: mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, self.ecs.iter().copied()),
            ecr: mock_sdk_client!(aws_sdk_ecr, RuleMode::MatchAny, self.ecr.iter().copied()),
            iam: mock_sdk_client!(aws_sdk_iam, RuleMode::MatchAny, self.iam.iter().copied()),
            logs: mock_sdk_client!(
                aws_sdk_cloudwatchlogs,
                RuleMode::MatchAny,
                self.logs.iter().copied()
            ),
            scheduler: mock_sdk_client!(
                aws_sdk_scheduler,
                RuleMode::MatchAny,
                self.scheduler.iter().copied()
            ),
            autoscaling: mock_sdk_client!(
                aws_sdk_applicationautoscaling,
                RuleMode::MatchAny,
                self.autoscaling.iter().copied()
            ),
            ssm: mock_sdk_client!(aws_sdk_ssm, RuleMode::MatchAny, self.ssm.iter().copied()),
            secrets: mock_sdk_client!(
                aws_sdk_secretsmanager,
                RuleMode::MatchAny,
                self.secrets.iter().copied()
            ),
            discovery: mock_sdk_client!(
                aws_sdk_servicediscovery,
                RuleMode::MatchAny,
                self.discovery.iter().copied()
            ),
            sqs: mock_sdk_client!(aws_sdk_sqs, RuleMode::MatchAny, self.sqs.iter().copied()),
            efs: mock_sdk_client!(aws_sdk_efs, RuleMode::MatchAny, self.efs.iter().copied()),
            route53: mock_sdk_client!(
                aws_sdk_route53,
                RuleMode::MatchAny,
                self.route53.iter().copied()
            ),
            acm: mock_sdk_client!(aws_sdk_acm, RuleMode::MatchAny, self.acm.iter().copied()),
            aws: aws(),
        }
    }
}

/// Clients for the moto server of `ctx` (account of the server, `us-east-1`).
pub fn moto_clients(ctx: &TestContext) -> Clients {
    Clients::with_context(
        &ctx.sdk_config(),
        &ctx.interceptors(),
        AwsContext {
            account_id: ctx.account_id().to_string(),
            region: "us-east-1".into(),
            partition: "aws".into(),
        },
    )
}

/// Makes the ECS cluster `name` directly with the SDK; its ARN.
pub async fn sdk_cluster(ctx: &TestContext, name: &str) -> String {
    let out = ctx
        .ecs()
        .create_cluster()
        .cluster_name(name)
        .send()
        .await
        .unwrap();
    out.cluster().unwrap().cluster_arn().unwrap().to_string()
}

/// Registers a Fargate (awsvpc, 256 CPU / 512 MiB) task definition `family` with one
/// container `container` running `image`, directly with the SDK; its ARN.
///
/// The container sets `memory`: moto's RunTask answers HTTP 500 when no container sets
/// `memory` or `memoryReservation` (a moto bug; AWS accepts task-level memory alone on
/// Fargate).
pub async fn sdk_task_definition(
    ctx: &TestContext,
    family: &str,
    container: &str,
    image: &str,
    execution_role_arn: Option<String>,
) -> String {
    let out = ctx
        .ecs()
        .register_task_definition()
        .family(family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .set_execution_role_arn(execution_role_arn)
        .container_definitions(
            ContainerDefinition::builder()
                .name(container)
                .image(image)
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string()
}

/// A subnet (`10.0.1.0/24` in `us-east-1a`, in a new VPC `10.0.0.0/16`) and a security
/// group `sg_name` there, made directly with the SDK, to run tasks in: `(subnet, sg)`.
///
/// The VPC has DNS hostnames enabled: moto's RunTask (awsvpc) answers HTTP 500 without
/// them (it reads the task ENI's private DNS name, which it only sets then).
pub async fn sdk_task_network(ctx: &TestContext, sg_name: &str) -> (String, String) {
    let ec2 = ctx.ec2();
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    let sg = ec2
        .create_security_group()
        .group_name(sg_name)
        .description(sg_name)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    (subnet, sg.group_id().unwrap().to_string())
}

/// The mutating calls of an apply that changes something: the environment
/// lock taken (`SSM.PutParameter`), `calls`, the environment's new generation
/// recorded (`SSM.PutParameter`) and the lock released (`SSM.DeleteParameter`).
pub fn locked<'a>(calls: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["SSM.PutParameter"];
    all.extend_from_slice(calls);
    all.extend(["SSM.PutParameter", "SSM.DeleteParameter"]);
    all
}

/// The ECS service `prod-<app>` of the mock tests of one service: one task in `subnet-1`
/// with `sg-1`, no load balancer, rolling, owned by app `<app>` of `prod`, rollout not
/// watched. Tests set what they are about with struct update syntax.
pub fn worker_service(app: &str) -> fargate_deploy::service::ServiceSpec {
    use fargate_core::{EcsName, Ownership, Ref, ResourceId, Tags};
    let family = format!("prod-{app}");
    fargate_deploy::service::ServiceSpec {
        name: EcsName::derive(&[app]),
        cluster: EcsName::derive(&["prod"]),
        cluster_id: ResourceId::new("ecs:cluster", "prod"),
        owner: Ownership::new("prod".parse().unwrap())
            .with_app(app.parse().unwrap())
            .with_component("service"),
        tags: Tags::new(),
        task_definition_id: ResourceId::new("ecs:task-definition", &family),
        family,
        desired_count: Some(1),
        subnets: Ref::Known(vec!["subnet-1".into()]),
        security_groups: vec![Ref::Known("sg-1".into())],
        assign_public_ip: false,
        load_balancers: Vec::new(),
        health_check_grace_period: None,
        deployment: fargate_deploy::Deployment::default(),
        traffic_shift: None,
        capacity: fargate_deploy::service::Capacity::default(),
        enable_execute_command: false,
        rollout: fargate_deploy::rollout::RolloutOptions {
            wait: false,
            ..fargate_deploy::rollout::RolloutOptions::default()
        },
        logs: None,
        extra_dependencies: Vec::new(),
        service_registries: Vec::new(),
        ebs_volumes: Vec::new(),
        service_connect: None,
    }
}

/// A dependency of the resource a mock test is about, with no AWS behind it: planned as no
/// change, or (`changed`) as an update, such as a new task definition revision.
#[derive(Clone)]
pub struct Stub {
    pub id: fargate_core::ResourceId,
    pub changed: bool,
}

impl Stub {
    /// A dependency planned as no change.
    pub fn unchanged(id: fargate_core::ResourceId) -> Self {
        Self { id, changed: false }
    }
}

impl fargate_core::Kind<Clients> for Stub {
    type Observed = ();

    fn id(&self) -> fargate_core::ResourceId {
        self.id.clone()
    }

    fn observe<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::Round<'a>,
        _: fargate_core::Mode,
    ) -> fargate_core::resource::BoxFuture<'a, Result<Option<()>, fargate_core::Error>> {
        Box::pin(async { Ok(None) })
    }

    fn diff(
        &self,
        _: Option<&()>,
        _: &fargate_core::Resolved,
    ) -> Result<fargate_core::Change, fargate_core::Error> {
        Ok(if self.changed {
            fargate_core::Change::Update { diffs: Vec::new() }
        } else {
            fargate_core::Change::NoOp
        })
    }

    fn apply<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::StepContext,
        _: &'a fargate_core::Change,
        _: Option<&'a ()>,
    ) -> fargate_core::resource::BoxFuture<'a, Result<(), fargate_core::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::StepContext,
        _: &'a (),
    ) -> fargate_core::resource::BoxFuture<'a, Result<(), fargate_core::Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// `resource` and a [`Stub`] for each of its dependencies that `stub` gives (`None`: that
/// dependency is left out, for the test to add its own).
pub fn with_stubs<K>(
    resource: &K,
    stub: impl Fn(fargate_core::ResourceId) -> Option<Stub>,
) -> Vec<std::sync::Arc<dyn fargate_core::Resource<Clients>>>
where
    K: fargate_core::Kind<Clients> + Clone + Send + Sync + 'static,
{
    let mut out: Vec<std::sync::Arc<dyn fargate_core::Resource<Clients>>> =
        fargate_core::Kind::depends_on(resource)
            .into_iter()
            .filter_map(stub)
            .map(fargate_core::resource::node)
            .collect();
    out.push(fargate_core::resource::node(resource.clone()));
    out
}
