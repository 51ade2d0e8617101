//! API Gateway HTTP API + VPC link + integration to an internal NLB listener,
//! against the moto server: create, re-plan (all NoOp), re-apply (no mutating
//! call), a route-set change (exactly the route calls), destroy. The VPC,
//! subnets and security group are made directly with the EC2 SDK.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fargate_core::{Executable, Mode, Ownership, Port, Ref, Resource};
use fargate_net::NetClients;
use fargate_net::api_gateway::{HttpApiSpec, VpcLinkSpec};
use fargate_net::listener::ListenerSpec;
use fargate_net::load_balancer::LoadBalancerSpec;
use fargate_net::target_group::{TargetGroupSpec, TargetProtocol};

use crate::network_support::{SdkNetwork, converge, ident, sdk_network};

struct Stack {
    nlb: LoadBalancerSpec,
    tg: TargetGroupSpec,
    listener: ListenerSpec,
    link: VpcLinkSpec,
    api: HttpApiSpec,
}

fn stack(net: &SdkNetwork, routes: &[&str]) -> Stack {
    let env = ident("prod");
    let app = ident("orders");
    let shared = Ownership::new(env.clone()).with_component("nlb");
    let nlb = LoadBalancerSpec::internal_network(
        &env,
        Ref::Known(net.subnets.clone()),
        Ref::Known(vec![net.sg.clone()]),
        shared.clone(),
    )
    .unwrap();
    let tg = TargetGroupSpec::new(
        &env,
        &app,
        Port::new(8080).unwrap(),
        TargetProtocol::Tcp,
        Ref::Known(net.vpc.clone()),
        Ownership::new(env.clone())
            .with_app(app.clone())
            .with_component("target-group"),
    );
    let listener = ListenerSpec::tcp(nlb.reference(), Port::HTTP, tg.reference(), shared);
    let link = VpcLinkSpec::new(
        &env,
        "link",
        Ref::Known(net.subnets.clone()),
        Ref::Known(vec![net.sg.clone()]),
        Ownership::new(env.clone()).with_component("vpc-link"),
    );
    let api = HttpApiSpec::new(
        &env,
        &app,
        link.reference(),
        listener.reference(),
        Ownership::new(env.clone()).with_app(app.clone()),
    )
    .routes(routes)
    .unwrap()
    .throttling(200, 100.0)
    .unwrap()
    .jwt_authorizer("https://auth.example.com/", ["orders"])
    .unwrap();
    Stack {
        nlb,
        tg,
        listener,
        link,
        api,
    }
}

fn resources(s: &Stack) -> Vec<Arc<dyn Resource<NetClients>>> {
    vec![
        fargate_core::resource::node(s.nlb.clone()),
        fargate_core::resource::node(s.tg.clone()),
        fargate_core::resource::node(s.listener.clone()),
        fargate_core::resource::node(s.link.clone()),
        fargate_core::resource::node(s.api.clone()),
    ]
}

#[tokio::test]
async fn http_api_over_vpc_link_to_nlb_converges_changes_routes_and_destroys() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.1", "vpc-link", "VPC link and NLB").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    let recorder = ctx.recorder();
    let apigw = ctx.apigw();
    let s = stack(&net, &["GET /orders", "POST /orders"]);

    // Create.
    let (plan, outputs) = converge(&clients, &resources(&s), Mode::Apply).await;
    assert_eq!(plan.summary().create, 5, "{plan}");
    let api_id = outputs.get(&s.api.api_id()).unwrap();
    let listener_arn = outputs.get(&s.listener.arn()).unwrap();
    let link_id = outputs.get(&s.link.link_id()).unwrap();
    assert_eq!(
        outputs.get(&s.api.invoke_url()).unwrap(),
        format!("https://{api_id}.execute-api.us-east-1.amazonaws.com")
    );
    let integrations = apigw
        .get_integrations()
        .api_id(&api_id)
        .send()
        .await
        .unwrap();
    let integration = &integrations.items()[0];
    assert_eq!(integration.integration_uri(), Some(listener_arn.as_str()));
    assert_eq!(integration.connection_id(), Some(link_id.as_str()));
    assert_eq!(integration.payload_format_version(), Some("1.0"));
    let routes = apigw.get_routes().api_id(&api_id).send().await.unwrap();
    let mut keys: Vec<&str> = routes
        .items()
        .iter()
        .filter_map(|r| r.route_key())
        .collect();
    keys.sort();
    assert_eq!(keys, ["GET /orders", "POST /orders"]);
    assert!(
        routes.items().iter().all(|r| r.authorizer_id().is_some()),
        "the JWT authorizer is on every route"
    );
    let stage = apigw
        .get_stage()
        .api_id(&api_id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    assert_eq!(stage.auto_deploy(), Some(true));
    assert_eq!(
        stage
            .default_route_settings()
            .and_then(|r| r.throttling_burst_limit()),
        Some(200)
    );

    // Re-plan: nothing to do; re-apply: no mutating call.
    let mark = recorder.mark();
    let (plan, _) = converge(&clients, &resources(&s), Mode::Apply).await;
    assert!(!plan.has_changes(), "{plan}");
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    // Routes as a set: one removed, one added — exactly those two calls.
    let changed = stack(&net, &["GET /orders", "DELETE /orders/{id}"]);
    let mark = recorder.mark();
    let (plan, _) = converge(&clients, &resources(&changed), Mode::Apply).await;
    assert_eq!(plan.summary().update, 1, "{plan}");
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["ApiGatewayV2.DeleteRoute", "ApiGatewayV2.CreateRoute"]
    );
    let routes = apigw.get_routes().api_id(&api_id).send().await.unwrap();
    let mut keys: Vec<&str> = routes
        .items()
        .iter()
        .filter_map(|r| r.route_key())
        .collect();
    keys.sort();
    assert_eq!(keys, ["DELETE /orders/{id}", "GET /orders"]);

    // Destroy: no API or VPC link of ours is left, nor the NLB.
    let (plan, _) = converge(&clients, &resources(&changed), Mode::Destroy).await;
    assert_eq!(plan.summary().delete, 5, "{plan}");
    let apis = apigw.get_apis().send().await.unwrap();
    assert!(
        apis.items()
            .iter()
            .all(|a| a.name() != Some(changed.api.name())),
        "{apis:?}"
    );
    let links = apigw.get_vpc_links().send().await.unwrap();
    assert!(
        links
            .items()
            .iter()
            .all(|l| l.name() != Some(changed.link.name())),
        "{links:?}"
    );
    let nlb = ctx
        .elb()
        .describe_load_balancers()
        .names(changed.nlb.name().as_str())
        .send()
        .await;
    assert!(nlb.is_err_and(|e| {
        e.as_service_error()
            .is_some_and(|s| s.is_load_balancer_not_found_exception())
    }));
}

#[tokio::test]
async fn api_with_our_name_but_not_our_tags_is_refused() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.1", "vpc-link", "VPC link and NLB").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    let s = stack(&net, &["$default"]);
    ctx.apigw()
        .create_api()
        .name(s.api.name())
        .protocol_type(fargate_testkit::aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .send()
        .await
        .unwrap();
    let recorder = ctx.recorder();
    let mark = recorder.mark();
    let api: Vec<Arc<dyn Resource<NetClients>>> = vec![fargate_core::resource::node(s.api.clone())];

    let err = Executable::plan(&clients, &api, Mode::Apply)
        .await
        .unwrap_err();
    assert!(matches!(err, fargate_core::Error::NotOwned { .. }), "{err}");
    crate::network_support::assert_skipped_in_destroy(
        Executable::plan(&clients, &api, Mode::Destroy).await,
        "apigateway:http-api",
    );
    assert!(recorder.mutating_calls_since(mark).is_empty());
}

#[tokio::test]
async fn a_second_copy_of_our_api_is_deleted_by_apply_and_every_copy_by_destroy() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.1", "vpc-link", "VPC link and NLB").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    let apigw = ctx.apigw();
    let s = stack(&net, &["GET /orders"]);
    let (_, outputs) = converge(&clients, &resources(&s), Mode::Apply).await;
    let api_id = outputs.get(&s.api.api_id()).unwrap();
    let tags = apigw
        .get_api()
        .api_id(&api_id)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap();
    // What a lost CreateApi reply leaves: an empty copy with our name and tags.
    let copy = || {
        apigw
            .create_api()
            .name(s.api.name())
            .protocol_type(fargate_testkit::aws_sdk_apigatewayv2::types::ProtocolType::Http)
            .set_tags(Some(tags.clone()))
            .send()
    };
    copy().await.unwrap();
    let ours =
        |apis: &fargate_testkit::aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput| {
            apis.items()
                .iter()
                .filter(|a| a.name() == Some(s.api.name()))
                .filter_map(|a| a.api_id().map(str::to_string))
                .collect::<Vec<_>>()
        };
    assert_eq!(ours(&apigw.get_apis().send().await.unwrap()).len(), 2);

    let (plan, _) = converge(&clients, &resources(&s), Mode::Apply).await;
    let entry = plan
        .changes
        .iter()
        .find(|c| c.id.kind == "apigateway:http-api")
        .unwrap();
    assert!(
        matches!(&entry.change, fargate_core::Change::Update { diffs } if diffs.iter().any(|d| d.field == "duplicates")),
        "{plan}"
    );
    assert_eq!(
        ours(&apigw.get_apis().send().await.unwrap()),
        vec![api_id],
        "the API with the routes is kept"
    );
    let (plan, _) = converge(&clients, &resources(&s), Mode::Apply).await;
    assert!(!plan.has_changes(), "{plan}");

    copy().await.unwrap();
    converge(&clients, &resources(&s), Mode::Destroy).await;
    assert!(ours(&apigw.get_apis().send().await.unwrap()).is_empty());
}
