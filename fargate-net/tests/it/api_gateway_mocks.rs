//! VPC link and HTTP API steps against mocked API Gateway clients
//! (aws-smithy-mocks): the create sequence with the wait for the link,
//! minimal updates (stage throttling → UpdateStage only), a failed link,
//! destroy waiting for the link to go, and refusal of a foreign link.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use fargate_core::{
    CallRecorder, Change, Error, Executable, Ident, Mode, Ownership, Ref, Resource, RunOptions,
};
use fargate_net::NetClients;
use fargate_net::api_gateway::{ApiGatewayError, HttpApiSpec, VpcLinkSpec};
use fargate_net::listener::AdoptedListener;
use fargate_testkit::aws_sdk_apigatewayv2 as apigw;
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::mock_sdk_client;

use apigw::operation::create_api::CreateApiOutput;
use apigw::operation::create_authorizer::CreateAuthorizerOutput;
use apigw::operation::create_integration::CreateIntegrationOutput;
use apigw::operation::create_route::CreateRouteOutput;
use apigw::operation::create_stage::CreateStageOutput;
use apigw::operation::create_vpc_link::CreateVpcLinkOutput;
use apigw::operation::delete_api::DeleteApiOutput;
use apigw::operation::delete_vpc_link::DeleteVpcLinkOutput;
use apigw::operation::get_apis::GetApisOutput;
use apigw::operation::get_integrations::GetIntegrationsOutput;
use apigw::operation::get_routes::GetRoutesOutput;
use apigw::operation::get_stage::GetStageOutput;
use apigw::operation::get_vpc_link::{GetVpcLinkError, GetVpcLinkOutput};
use apigw::operation::get_vpc_links::GetVpcLinksOutput;
use apigw::operation::update_stage::UpdateStageOutput;
use apigw::types::error::NotFoundException;
use apigw::types::{
    Api, AuthorizationType, ConnectionType, Integration, IntegrationType, ProtocolType, Route,
    RouteSettings, VpcLink, VpcLinkStatus,
};

const LISTENER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/prod-nlb/50dc6c495c0c9188/f2f7dc8efc522ab2";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn link_owner() -> Ownership {
    Ownership::new(ident("prod")).with_component("vpc-link")
}

fn api_owner() -> Ownership {
    Ownership::new(ident("prod")).with_app(ident("orders"))
}

fn link() -> VpcLinkSpec {
    VpcLinkSpec::new(
        &ident("prod"),
        "link",
        Ref::Known(vec!["subnet-a".into()]),
        Ref::Known(vec!["sg-link".into()]),
        link_owner(),
    )
}

fn api(link: &VpcLinkSpec) -> HttpApiSpec {
    let listener = AdoptedListener::new("prod/nlb:80", LISTENER_ARN).unwrap();
    HttpApiSpec::new(
        &ident("prod"),
        &ident("orders"),
        link.reference(),
        listener.reference(),
        api_owner(),
    )
    .routes(["GET /orders", "POST /orders"])
    .unwrap()
}

fn tag_map(owner: &Ownership) -> HashMap<String, String> {
    owner.tags().into_iter().collect()
}

fn clients(rules: &[&Rule], recorder: &CallRecorder) -> NetClients {
    let none: Vec<&Rule> = Vec::new();
    NetClients {
        apigw: mock_sdk_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c.interceptor(recorder.clone())
        ),
        ec2: mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, none.iter().copied()),
        elb: mock_sdk_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            none.iter().copied()
        ),
    }
}

fn mutating(recorder: &CallRecorder) -> Vec<String> {
    recorder
        .mutating_calls()
        .into_iter()
        .map(|c| c.trim_start_matches("ApiGatewayV2.").to_string())
        .collect()
}

fn vpc_link(status: VpcLinkStatus) -> VpcLink {
    VpcLink::builder()
        .vpc_link_id("vl-1")
        .name("prod-link")
        .subnet_ids("subnet-a")
        .security_group_ids("sg-link")
        .vpc_link_status(status)
        .set_tags(Some(tag_map(&link_owner())))
        .build()
}

fn get_vpc_link_output(status: VpcLinkStatus, message: &str) -> GetVpcLinkOutput {
    GetVpcLinkOutput::builder()
        .vpc_link_id("vl-1")
        .name("prod-link")
        .vpc_link_status(status)
        .vpc_link_status_message(message)
        .build()
}

fn no_links() -> Rule {
    mock!(apigw::Client::get_vpc_links).then_output(|| GetVpcLinksOutput::builder().build())
}

fn no_apis() -> Rule {
    mock!(apigw::Client::get_apis).then_output(|| GetApisOutput::builder().build())
}

async fn plan_and_run(
    clients: &NetClients,
    resources: &[Arc<dyn Resource<NetClients>>],
    mode: Mode,
) -> Result<fargate_core::Plan, String> {
    let exe = Executable::plan(clients, resources, mode)
        .await
        .map_err(|e| e.to_string())?;
    let (plan, graph) = exe.into_graph(clients.clone()).map_err(|e| e.to_string())?;
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .map_err(|e| e.to_string())?;
    Ok(plan)
}

#[tokio::test(start_paused = true)]
async fn create_makes_the_link_waits_until_available_then_builds_the_api() {
    let link = link();
    let api = api(&link)
        .jwt_authorizer("https://auth.example.com/", ["orders"])
        .unwrap();
    let create_link = mock!(apigw::Client::create_vpc_link)
        .match_requests(|r| {
            r.name() == Some("prod-link")
                && r.subnet_ids() == ["subnet-a"]
                && r.tags()
                    .is_some_and(|t| t.contains_key("fargate:managed-by"))
        })
        .then_output(|| {
            CreateVpcLinkOutput::builder()
                .vpc_link_id("vl-1")
                .vpc_link_status(VpcLinkStatus::Pending)
                .build()
        });
    let get_link = mock!(apigw::Client::get_vpc_link)
        .sequence()
        .output(|| get_vpc_link_output(VpcLinkStatus::Pending, "creating"))
        .output(|| get_vpc_link_output(VpcLinkStatus::Available, "ready"))
        .build();
    let create_api = mock!(apigw::Client::create_api)
        .match_requests(|r| {
            r.name() == Some("prod-orders") && r.protocol_type() == Some(&ProtocolType::Http)
        })
        .then_output(|| {
            CreateApiOutput::builder()
                .api_id("a1")
                .api_endpoint("https://a1.execute-api.us-east-1.amazonaws.com")
                .build()
        });
    let create_integration = mock!(apigw::Client::create_integration)
        .match_requests(|r| {
            r.integration_type() == Some(&IntegrationType::HttpProxy)
                && r.connection_type() == Some(&ConnectionType::VpcLink)
                && r.connection_id() == Some("vl-1")
                && r.integration_uri() == Some(LISTENER_ARN)
                && r.payload_format_version() == Some("1.0")
        })
        .then_output(|| {
            CreateIntegrationOutput::builder()
                .integration_id("i1")
                .build()
        });
    let create_authorizer = mock!(apigw::Client::create_authorizer)
        .match_requests(|r| {
            r.jwt_configuration().and_then(|j| j.issuer()) == Some("https://auth.example.com/")
        })
        .then_output(|| {
            CreateAuthorizerOutput::builder()
                .authorizer_id("au1")
                .build()
        });
    let create_route = mock!(apigw::Client::create_route)
        .match_requests(|r| {
            r.target() == Some("integrations/i1")
                && r.authorizer_id() == Some("au1")
                && r.authorization_type() == Some(&AuthorizationType::Jwt)
        })
        .then_output(|| CreateRouteOutput::builder().build());
    let create_stage = mock!(apigw::Client::create_stage)
        .match_requests(|r| {
            r.stage_name() == Some("$default")
                && r.auto_deploy() == Some(true)
                && r.default_route_settings()
                    .and_then(|s| s.throttling_burst_limit())
                    == Some(5000)
        })
        .then_output(|| CreateStageOutput::builder().build());
    let (links, apis) = (no_links(), no_apis());
    let recorder = CallRecorder::new();
    let clients = clients(
        &[
            &links,
            &apis,
            &create_link,
            &get_link,
            &create_api,
            &create_integration,
            &create_authorizer,
            &create_route,
            &create_stage,
        ],
        &recorder,
    );
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(link.clone()),
        fargate_core::resource::node(api.clone()),
    ];

    let exe = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(exe.plan.summary().create, 2);
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();

    assert_eq!(
        mutating(&recorder),
        [
            "CreateVpcLink",
            "CreateApi",
            "CreateIntegration",
            "CreateAuthorizer",
            "CreateRoute",
            "CreateRoute",
            "CreateStage"
        ]
    );
    assert_eq!(get_link.num_calls(), 2, "polled until AVAILABLE");
    let records = recorder.records();
    let available_at = records
        .iter()
        .rposition(|r| r.operation == "GetVpcLink")
        .unwrap();
    let api_at = records
        .iter()
        .position(|r| r.operation == "CreateApi")
        .unwrap();
    assert!(
        available_at < api_at,
        "the API is built once the link is available"
    );
    assert_eq!(outputs.get(&api.api_id()).unwrap(), "a1");
    assert_eq!(
        outputs.get(&api.invoke_url()).unwrap(),
        "https://a1.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(outputs.get(&link.link_id()).unwrap(), "vl-1");
}

/// An existing API as it was created by `api(&link())` with default throttling.
fn existing_api_rules(burst: i32, rate: f64) -> Vec<Rule> {
    vec![
        mock!(apigw::Client::get_vpc_links).then_output(|| {
            GetVpcLinksOutput::builder()
                .items(vpc_link(VpcLinkStatus::Available))
                .build()
        }),
        mock!(apigw::Client::get_apis).then_output(|| {
            GetApisOutput::builder()
                .items(
                    Api::builder()
                        .api_id("a1")
                        .name("prod-orders")
                        .protocol_type(ProtocolType::Http)
                        .api_endpoint("https://a1.execute-api.us-east-1.amazonaws.com")
                        .set_tags(Some(tag_map(&api_owner())))
                        .build(),
                )
                .build()
        }),
        mock!(apigw::Client::get_integrations).then_output(|| {
            GetIntegrationsOutput::builder()
                .items(
                    Integration::builder()
                        .integration_id("i1")
                        .integration_type(IntegrationType::HttpProxy)
                        .connection_type(ConnectionType::VpcLink)
                        .connection_id("vl-1")
                        .integration_method("ANY")
                        .integration_uri(LISTENER_ARN)
                        .payload_format_version("1.0")
                        .build(),
                )
                .build()
        }),
        mock!(apigw::Client::get_routes).then_output(|| {
            let route = |key: &str| {
                Route::builder()
                    .route_id(format!("r-{key}"))
                    .route_key(key)
                    .target("integrations/i1")
                    .authorization_type(AuthorizationType::None)
                    .build()
            };
            GetRoutesOutput::builder()
                .items(route("GET /orders"))
                .items(route("POST /orders"))
                .build()
        }),
        mock!(apigw::Client::get_stage).then_output(move || {
            GetStageOutput::builder()
                .stage_name("$default")
                .auto_deploy(true)
                .default_route_settings(
                    RouteSettings::builder()
                        .throttling_burst_limit(burst)
                        .throttling_rate_limit(rate)
                        .build(),
                )
                .build()
        }),
    ]
}

#[tokio::test]
async fn unchanged_api_makes_no_mutating_call() {
    let link = link();
    let rules = existing_api_rules(5000, 10000.0);
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(link.clone()),
        fargate_core::resource::node(api(&link)),
    ];

    let plan = plan_and_run(&clients, &resources, Mode::Apply)
        .await
        .unwrap();

    assert!(!plan.has_changes(), "{plan}");
    assert!(mutating(&recorder).is_empty(), "{:?}", mutating(&recorder));
}

#[tokio::test]
async fn stage_throttling_change_is_exactly_one_update_stage() {
    let link = link();
    let update_stage = mock!(apigw::Client::update_stage)
        .match_requests(|r| {
            r.stage_name() == Some("$default")
                && r.default_route_settings()
                    .and_then(|s| s.throttling_burst_limit())
                    == Some(100)
                && r.default_route_settings()
                    .and_then(|s| s.throttling_rate_limit())
                    == Some(50.0)
        })
        .then_output(|| UpdateStageOutput::builder().build());
    let mut rules = existing_api_rules(5000, 10000.0);
    rules.push(update_stage);
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let api = api(&link).throttling(100, 50.0).unwrap();
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(link.clone()),
        fargate_core::resource::node(api.clone()),
    ];

    let plan = plan_and_run(&clients, &resources, Mode::Apply)
        .await
        .unwrap();

    let Change::Update { diffs } = &plan
        .get(&fargate_core::Kind::<NetClients>::id(&api))
        .unwrap()
        .change
    else {
        panic!("{plan}")
    };
    let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "stage.throttling_burst_limit",
            "stage.throttling_rate_limit"
        ]
    );
    assert_eq!(mutating(&recorder), ["UpdateStage"]);
}

#[tokio::test]
async fn failed_vpc_link_reports_api_gateways_message() {
    let link = link();
    let create_link = mock!(apigw::Client::create_vpc_link)
        .then_output(|| CreateVpcLinkOutput::builder().vpc_link_id("vl-1").build());
    let get_link = mock!(apigw::Client::get_vpc_link)
        .then_output(|| get_vpc_link_output(VpcLinkStatus::Failed, "subnet-a does not exist"));
    let links = no_links();
    let recorder = CallRecorder::new();
    let clients = clients(&[&links, &create_link, &get_link], &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![fargate_core::resource::node(link)];

    let exe = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let report = graph.run(RunOptions::default()).await;

    let (_, failure) = report.failed.first().unwrap();
    match failure {
        fargate_core::exec::Failure::Error(Error::Failed { source, .. }) => {
            let e = source.downcast_ref::<ApiGatewayError>().unwrap();
            assert!(
                matches!(e, ApiGatewayError::VpcLinkFailed { message, .. } if message == "subnet-a does not exist"),
                "{e}"
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn destroy_deletes_the_api_then_the_link_and_waits_until_the_link_is_gone() {
    let link = link();
    let delete_api = mock!(apigw::Client::delete_api)
        .match_requests(|r| r.api_id() == Some("a1"))
        .then_output(|| DeleteApiOutput::builder().build());
    let delete_link = mock!(apigw::Client::delete_vpc_link)
        .match_requests(|r| r.vpc_link_id() == Some("vl-1"))
        .then_output(|| DeleteVpcLinkOutput::builder().build());
    let get_link = mock!(apigw::Client::get_vpc_link)
        .sequence()
        .output(|| get_vpc_link_output(VpcLinkStatus::Deleting, "deleting"))
        .error(|| {
            GetVpcLinkError::NotFoundException(NotFoundException::builder().message("gone").build())
        })
        .build();
    let mut rules = existing_api_rules(5000, 10000.0);
    rules.extend([delete_api, delete_link, get_link]);
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(link.clone()),
        fargate_core::resource::node(api(&link)),
    ];

    let plan = plan_and_run(&clients, &resources, Mode::Destroy)
        .await
        .unwrap();

    assert_eq!(plan.summary().delete, 2);
    assert_eq!(mutating(&recorder), ["DeleteApi", "DeleteVpcLink"]);
    assert_eq!(
        rules[7].num_calls(),
        2,
        "waited while the link was DELETING"
    );
    assert_eq!(recorder.records().last().unwrap().operation, "GetVpcLink");
}

#[tokio::test]
async fn vpc_link_with_our_name_but_not_our_tags_is_refused() {
    let foreign = mock!(apigw::Client::get_vpc_links).then_output(|| {
        GetVpcLinksOutput::builder()
            .items(
                VpcLink::builder()
                    .vpc_link_id("vl-other")
                    .name("prod-link")
                    .build(),
            )
            .build()
    });
    let recorder = CallRecorder::new();
    let clients = clients(&[&foreign], &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![fargate_core::resource::node(link())];

    let err = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::NotOwned { detail, .. } if detail.contains("vl-other")),
        "{err}"
    );
    assert!(mutating(&recorder).is_empty());
}
