//! Helpers shared by the fargate-net tests (network, security groups, load
//! balancers, API Gateway).
#![allow(dead_code)]

use std::sync::Arc;

use fargate_core::exec::ExecError;
use fargate_core::tags::Ownership;
use fargate_core::{
    CallRecorder, Error, Executable, Ident, Mode, Outputs, Plan, Resource, RunOptions,
};
use fargate_net::NetClients;
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode};
use fargate_testkit::mock_sdk_client;

/// The environment every test uses.
pub fn env() -> Ident {
    "prod".parse().unwrap()
}

/// An identifier from a literal.
pub fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

/// A VPC with two subnets in two AZs and a security group, made directly with
/// the EC2 SDK (not by fargate-rs), for the resources that live in a network.
pub struct SdkNetwork {
    /// The VPC id.
    pub vpc: String,
    /// The subnet ids (us-east-1a, us-east-1b).
    pub subnets: Vec<String>,
    /// The security group id.
    pub sg: String,
}

/// Makes an [`SdkNetwork`]: the VPC `<prefix>.0.0/16` with subnets
/// `<prefix>.1.0/24` and `<prefix>.2.0/24`, and the security group `sg_name`
/// (also its `Name` tag) described as `sg_description`.
pub async fn sdk_network(
    ctx: &TestContext,
    prefix: &str,
    sg_name: &str,
    sg_description: &str,
) -> SdkNetwork {
    let ec2 = ctx.ec2();
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{prefix}.0.0/16"))
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (n, az) in [(1, "us-east-1a"), (2, "us-east-1b")] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("{prefix}.{n}.0/24"))
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let sg = ec2
        .create_security_group()
        .group_name(sg_name)
        .description(sg_description)
        .vpc_id(&vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key("Name").value(sg_name).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    SdkNetwork { vpc, subnets, sg }
}

/// Our ownership tags (environment `prod`, this component) as EC2 tags.
pub fn owned_tags(component: &str) -> Vec<Tag> {
    tags_of(&Ownership::new(env()).with_component(component))
}

/// The tags of an ownership, as EC2 tags.
pub fn tags_of(owner: &Ownership) -> Vec<Tag> {
    owner
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The value of the `tag:fargate:component` filter of a describe call.
pub fn component_filter(filters: &[Filter]) -> Option<String> {
    filter_values(filters, "tag:fargate:component")
        .first()
        .cloned()
}

/// The values of filter `name`.
pub fn filter_values(filters: &[Filter], name: &str) -> Vec<String> {
    filters
        .iter()
        .filter(|f| f.name() == Some(name))
        .flat_map(|f| f.values().to_vec())
        .collect()
}

/// Net clients whose EC2 client answers with `rules` (ELB and API Gateway answer nothing),
/// recording calls in `recorder`.
pub fn mock_clients(rules: &[&Rule], recorder: &CallRecorder) -> NetClients {
    let r = recorder.clone();
    let no_rules: Vec<&Rule> = Vec::new();
    NetClients {
        ec2: mock_sdk_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            rules.iter().copied(),
            move |c| c.interceptor(r.clone())
        ),
        elb: mock_sdk_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            no_rules.iter().copied()
        ),
        apigw: mock_sdk_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            no_rules.iter().copied()
        ),
    }
}

/// Plan `resources` in `mode`.
///
/// # Errors
/// The planner's error.
pub async fn plan<C>(
    clients: &C,
    resources: &[Arc<dyn Resource<C>>],
    mode: Mode,
) -> Result<Executable<C>, Error>
where
    C: Clone + Send + Sync + 'static,
{
    Executable::plan(clients, resources, mode).await
}

/// Run a planned executable; the plan and the run's outputs (or why it failed).
pub async fn run<C>(clients: &C, exe: Executable<C>) -> (Plan, Result<Outputs, ExecError<Error>>)
where
    C: Clone + Send + Sync + 'static,
{
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    let result = graph.run(RunOptions::default()).await.into_result();
    (plan, result)
}

/// Plan and run; panics on failure.
pub async fn converge<C>(
    clients: &C,
    resources: &[Arc<dyn Resource<C>>],
    mode: Mode,
) -> (Plan, Outputs)
where
    C: Clone + Send + Sync + 'static,
{
    let exe = plan(clients, resources, mode).await.unwrap();
    let (plan, result) = run(clients, exe).await;
    match result {
        Ok(outputs) => (plan, outputs),
        Err(e) => panic!("{mode:?} failed: {e}\nplan:\n{plan}"),
    }
}

/// What planning a destroy of a resource that exists with our name but not
/// our tags gives: no change to it, and a note saying it was skipped.
pub fn assert_skipped_in_destroy<C>(
    planned: Result<fargate_core::Executable<C>, fargate_core::Error>,
    kind: &str,
) {
    let exe = planned.unwrap_or_else(|e| panic!("destroy goes on past a foreign {kind}: {e}"));
    let entry = exe
        .plan
        .changes
        .iter()
        .find(|c| c.id.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} in {}", exe.plan));
    assert_eq!(entry.change, fargate_core::Change::NoOp, "{}", exe.plan);
    assert!(
        exe.plan
            .notes
            .iter()
            .any(|n| n.starts_with(&format!("skipped {kind}")) && n.contains("not owned")),
        "{:?}",
        exe.plan.notes
    );
}
