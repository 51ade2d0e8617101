//! Load balancers, target groups, listeners and rules against the moto server:
//! create, re-plan (all NoOp) and re-apply (no mutating call), an in-place
//! health-check change, a target group replacement, adoption and destroy.
//! The VPC, subnets and security group are made directly with the EC2 SDK.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fargate_core::{Change, Error, Executable, Mode, Ownership, Port, Ref, Resource};
use fargate_net::NetClients;
use fargate_net::listener::{
    ListenerAction, ListenerProtocol, ListenerRuleSpec, ListenerSpec, RuleConditions,
};
use fargate_net::load_balancer::{AdoptedLoadBalancer, LoadBalancerSpec, Scheme};
use fargate_net::target_group::{HealthCheck, TargetGroupSpec, TargetProtocol};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};

use crate::network_support::{SdkNetwork, converge, ident, sdk_network};

/// A public ALB with an HTTP listener (404) and one app's target group and rule, plus an
/// internal NLB with a TCP listener forwarding to another app's target group.
struct Stack {
    alb: LoadBalancerSpec,
    http: ListenerSpec,
    web_tg: TargetGroupSpec,
    web_rule: ListenerRuleSpec,
    nlb: LoadBalancerSpec,
    api_tg: TargetGroupSpec,
    tcp: ListenerSpec,
}

fn stack(net: &SdkNetwork, web_port: u16, health_path: &str) -> Stack {
    let env = ident("prod");
    let shared = Ownership::new(env.clone()).with_component("load-balancer");
    let web = ident("web");
    let api = ident("api");
    let alb = LoadBalancerSpec::application(
        &env,
        Scheme::InternetFacing,
        Ref::Known(net.subnets.clone()),
        Ref::Known(vec![net.sg.clone()]),
        shared.clone(),
    )
    .unwrap();
    let http =
        ListenerSpec::http(alb.reference(), ListenerAction::not_found(), shared.clone()).unwrap();
    let web_tg = TargetGroupSpec::new(
        &env,
        &web,
        Port::new(web_port).unwrap(),
        TargetProtocol::Http,
        Ref::Known(net.vpc.clone()),
        Ownership::new(env.clone())
            .with_app(web.clone())
            .with_component("target-group"),
    )
    .health_check(HealthCheck::http(health_path).unwrap())
    .unwrap();
    let web_rule = ListenerRuleSpec::new(
        &env,
        &web,
        http.reference(),
        RuleConditions::new(["/web/*"], ["example.com"]).unwrap(),
        web_tg.reference(),
        Ownership::new(env.clone())
            .with_app(web.clone())
            .with_component("rule"),
    );
    let nlb = LoadBalancerSpec::internal_network(
        &env,
        Ref::Known(net.subnets.clone()),
        Ref::Known(vec![net.sg.clone()]),
        shared.clone(),
    )
    .unwrap();
    let api_tg = TargetGroupSpec::new(
        &env,
        &api,
        Port::new(8080).unwrap(),
        TargetProtocol::Tcp,
        Ref::Known(net.vpc.clone()),
        Ownership::new(env.clone())
            .with_app(api.clone())
            .with_component("target-group"),
    );
    let tcp = ListenerSpec::tcp(nlb.reference(), Port::HTTP, api_tg.reference(), shared);
    Stack {
        alb,
        http,
        web_tg,
        web_rule,
        nlb,
        api_tg,
        tcp,
    }
}

fn resources(s: &Stack) -> Vec<Arc<dyn Resource<NetClients>>> {
    vec![
        fargate_core::resource::node(s.alb.clone()),
        fargate_core::resource::node(s.http.clone()),
        fargate_core::resource::node(s.web_tg.clone()),
        fargate_core::resource::node(s.web_rule.clone()),
        fargate_core::resource::node(s.nlb.clone()),
        fargate_core::resource::node(s.api_tg.clone()),
        fargate_core::resource::node(s.tcp.clone()),
    ]
}

async fn lb_exists(ctx: &TestContext, name: &str) -> bool {
    match ctx.elb().describe_load_balancers().names(name).send().await {
        Ok(out) => !out.load_balancers().is_empty(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_load_balancer_not_found_exception()) =>
        {
            false
        }
        Err(e) => panic!("{e:?}"),
    }
}

async fn tg_exists(ctx: &TestContext, name: &str) -> bool {
    match ctx.elb().describe_target_groups().names(name).send().await {
        Ok(out) => !out.target_groups().is_empty(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_target_group_not_found_exception()) =>
        {
            false
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn alb_and_nlb_stacks_converge_update_in_place_and_destroy() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.0", "lb", "load balancers").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    let recorder = ctx.recorder();
    let s = stack(&net, 8080, "/health");

    // Create.
    let plan = converge(&clients, &resources(&s), Mode::Apply).await.0;
    assert_eq!(plan.summary().create, 7, "{plan}");
    assert!(lb_exists(&ctx, s.alb.name().as_str()).await);
    assert!(tg_exists(&ctx, s.web_tg.name().as_str()).await);

    // Re-plan: nothing to do; re-apply: no mutating call.
    let mark = recorder.mark();
    let plan = converge(&clients, &resources(&s), Mode::Apply).await.0;
    assert!(!plan.has_changes(), "{plan}");
    assert_eq!(plan.summary().unchanged, 7);
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    // One health-check field changes: exactly one ModifyTargetGroup.
    let changed = stack(&net, 8080, "/ready");
    let mark = recorder.mark();
    let plan = converge(&clients, &resources(&changed), Mode::Apply)
        .await
        .0;
    let tg = &plan.get(changed.web_tg.id()).unwrap().change;
    assert!(
        matches!(tg, Change::Update { diffs } if diffs.len() == 1 && diffs[0].field == "health_check.path"),
        "{plan}"
    );
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["ElasticLoadBalancingv2.ModifyTargetGroup"]
    );
    let path = ctx
        .elb()
        .describe_target_groups()
        .names(changed.web_tg.name().as_str())
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .health_check_path()
        .map(str::to_string);
    assert_eq!(path.as_deref(), Some("/ready"));

    // Destroy: everything of ours is gone.
    let plan = converge(&clients, &resources(&changed), Mode::Destroy)
        .await
        .0;
    assert_eq!(plan.summary().delete, 7, "{plan}");
    for name in [changed.alb.name().as_str(), changed.nlb.name().as_str()] {
        assert!(!lb_exists(&ctx, name).await, "{name} still exists");
    }
    for name in [
        changed.web_tg.name().as_str(),
        changed.api_tg.name().as_str(),
    ] {
        assert!(!tg_exists(&ctx, name).await, "{name} still exists");
    }
    // Destroying again finds nothing.
    let plan = converge(&clients, &resources(&changed), Mode::Destroy)
        .await
        .0;
    assert!(!plan.has_changes(), "{plan}");
}

#[tokio::test]
async fn port_change_replaces_the_target_group_and_deletes_the_old_one_last() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.0", "lb", "load balancers").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    let recorder = ctx.recorder();
    let before = stack(&net, 8080, "/");
    let web = |s: &Stack| -> Vec<Arc<dyn Resource<NetClients>>> {
        vec![
            fargate_core::resource::node(s.alb.clone()),
            fargate_core::resource::node(s.http.clone()),
            fargate_core::resource::node(s.web_tg.clone()),
            fargate_core::resource::node(s.web_rule.clone()),
            fargate_core::resource::node(
                s.web_tg
                    .orphans(s.alb.reference(), [s.web_rule.id().clone()]),
            ),
        ]
    };
    converge(&clients, &web(&before), Mode::Apply).await;

    let after = stack(&net, 8081, "/");
    let mark = recorder.mark();
    let plan = converge(&clients, &web(&after), Mode::Apply).await.0;

    assert!(
        matches!(
            plan.get(after.web_tg.id()).unwrap().change,
            Change::Create { .. }
        ),
        "{plan}"
    );
    assert!(
        matches!(
            plan.get(after.web_rule.id()).unwrap().change,
            Change::Update { .. }
        ),
        "{plan}"
    );
    assert_eq!(plan.summary().delete, 1, "{plan}");
    assert_eq!(
        recorder.mutating_calls_since(mark),
        [
            "ElasticLoadBalancingv2.CreateTargetGroup",
            "ElasticLoadBalancingv2.ModifyTargetGroupAttributes",
            "ElasticLoadBalancingv2.ModifyRule",
            "ElasticLoadBalancingv2.DeleteTargetGroup",
        ]
    );
    assert!(tg_exists(&ctx, after.web_tg.name().as_str()).await);
    assert!(!tg_exists(&ctx, before.web_tg.name().as_str()).await);

    converge(&clients, &web(&after), Mode::Destroy).await;
    assert!(!lb_exists(&ctx, after.alb.name().as_str()).await);
}

#[tokio::test]
async fn adopted_alb_is_never_modified_and_survives_destroy() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.0", "lb", "load balancers").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    let recorder = ctx.recorder();
    let created = ctx
        .elb()
        .create_load_balancer()
        .name("shared-alb")
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .set_subnets(Some(net.subnets.clone()))
        .security_groups(&net.sg)
        .send()
        .await
        .unwrap();
    let lb_arn = created.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();

    let env = ident("prod");
    let app = ident("web");
    let adopted = AdoptedLoadBalancer::by_name(&env, "alb", "shared-alb").unwrap();
    let owner = Ownership::new(env.clone()).with_app(app.clone());
    // Our own listener on the adopted load balancer, on a port its owner does not use.
    let listener = ListenerSpec::new(
        adopted.reference(),
        Port::new(8080).unwrap(),
        ListenerProtocol::Http,
        ListenerAction::not_found(),
        owner.clone().with_component("listener"),
    )
    .unwrap();
    let tg = TargetGroupSpec::new(
        &env,
        &app,
        Port::new(8080).unwrap(),
        TargetProtocol::Http,
        Ref::Known(net.vpc.clone()),
        owner.clone().with_component("target-group"),
    );
    let rule = ListenerRuleSpec::new(
        &env,
        &app,
        listener.reference(),
        RuleConditions::paths(["/*"]).unwrap(),
        tg.reference(),
        owner.with_component("rule"),
    );
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(adopted.clone()),
        fargate_core::resource::node(listener),
        fargate_core::resource::node(tg),
        fargate_core::resource::node(rule),
    ];

    let mark = recorder.mark();
    let plan = converge(&clients, &resources, Mode::Apply).await.0;
    assert_eq!(
        plan.get(&adopted_id()).unwrap().change,
        Change::Adopt {
            detail: lb_arn.clone()
        }
    );
    let calls = recorder.mutating_calls_since(mark);
    assert!(
        !calls.iter().any(|c| c.contains("LoadBalancer")),
        "{calls:?}"
    );

    let plan = converge(&clients, &resources, Mode::Destroy).await.0;
    assert!(matches!(
        plan.get(&adopted_id()).unwrap().change,
        Change::Adopt { .. }
    ));
    assert_eq!(plan.summary().delete, 3, "{plan}");
    assert!(
        lb_exists(&ctx, "shared-alb").await,
        "the adopted load balancer survives destroy"
    );
    let listeners = ctx
        .elb()
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    assert!(
        listeners.listeners().is_empty(),
        "our listener on it is gone"
    );
}

fn adopted_id() -> fargate_core::ResourceId {
    fargate_net::load_balancer::load_balancer_id(&ident("prod"), "alb")
}

#[tokio::test]
async fn load_balancer_with_our_name_but_not_our_tags_is_refused() {
    let ctx = fargate_testkit::context().await;
    let net = sdk_network(&ctx, "10.0", "lb", "load balancers").await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    ctx.elb()
        .create_load_balancer()
        .name("prod-alb")
        .set_subnets(Some(net.subnets.clone()))
        .send()
        .await
        .unwrap();
    let recorder = ctx.recorder();
    let mark = recorder.mark();
    let s = stack(&net, 8080, "/");
    let resources: Vec<Arc<dyn Resource<NetClients>>> =
        vec![fargate_core::resource::node(s.alb.clone())];

    let err = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotOwned { .. }), "{err}");
    crate::network_support::assert_skipped_in_destroy(
        Executable::plan(&clients, &resources, Mode::Destroy).await,
        "elbv2:load-balancer",
    );
    assert!(recorder.mutating_calls_since(mark).is_empty());
    assert!(lb_exists(&ctx, "prod-alb").await);
}
