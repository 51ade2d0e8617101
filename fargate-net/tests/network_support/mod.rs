//! Helpers shared by the network and security group tests.
#![allow(dead_code)]

use std::sync::Arc;

use fargate_core::exec::ExecError;
use fargate_core::tags::Ownership;
use fargate_core::{
    CallRecorder, Error, Executable, Ident, Mode, Outputs, Plan, Resource, RunOptions,
};
use fargate_net::NetClients;
use fargate_testkit::aws_sdk_ec2::types::{Filter, Tag};
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode};
use fargate_testkit::mock_sdk_client;

/// The environment every test uses.
pub fn env() -> Ident {
    "prod".parse().unwrap()
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
