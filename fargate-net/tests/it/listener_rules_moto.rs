//! Many listener rules on one listener, against the moto server: a no-op plan reads the
//! listener's rules and their tags once (DescribeRules once per page, DescribeTags once per
//! 20 rules), whatever the number of rules; priorities of one plan never collide; the load
//! balancer's 100-rule quota is refused at plan time with no mutating call.
//!
//! The ALB, its listener and the target groups are made directly with the ELB SDK; the rules
//! are [`ListenerRuleSpec`]s on the adopted listener, so the plan's ELB reads are the rules'.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use fargate_core::{Executable, Mode, Ownership, Ref, Resource, ResourceId};
use fargate_net::NetClients;
use fargate_net::listener::{AdoptedListener, ListenerRuleSpec, ListenerRules, RuleConditions};
use fargate_net::target_group::TargetGroupRef;
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum, RuleCondition,
};

use crate::network_support::{converge, ident, sdk_network};

/// An ALB with an HTTP listener answering 404 and `groups` target groups, made with the SDK.
struct Alb {
    listener: AdoptedListener,
    listener_arn: String,
    target_groups: Vec<(String, String)>,
}

async fn alb(ctx: &TestContext, groups: usize) -> Alb {
    let net = sdk_network(ctx, "10.0", "rules", "listener rules").await;
    let elb = ctx.elb();
    let lb = elb
        .create_load_balancer()
        .name("rules-alb")
        .set_subnets(Some(net.subnets.clone()))
        .security_groups(&net.sg)
        .send()
        .await
        .unwrap();
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let listener = elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("404")
                        .content_type("text/plain")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let listener_arn = listener.listeners()[0].listener_arn().unwrap().to_string();
    let mut target_groups = Vec::new();
    for i in 0..groups {
        let name = format!("rules-tg-{i}");
        let tg = elb
            .create_target_group()
            .name(&name)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id(&net.vpc)
            .target_type("ip".into())
            .send()
            .await
            .unwrap();
        let arn = tg.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        target_groups.push((name, arn));
    }
    Alb {
        listener: AdoptedListener::new("rules/alb:80", listener_arn.clone()).unwrap(),
        listener_arn,
        target_groups,
    }
}

/// The rule of app `app-<i>` routing `/app-<i>/*` to target group `i`.
fn rule(alb: &Alb, i: usize) -> ListenerRuleSpec {
    let env = ident("prod");
    let app = ident(&format!("app-{i}"));
    let (name, arn) = &alb.target_groups[i];
    ListenerRuleSpec::new(
        &env,
        &app,
        alb.listener.reference(),
        RuleConditions::paths([format!("/app-{i}/*")]).unwrap(),
        TargetGroupRef {
            id: ResourceId::new("elbv2:target-group", format!("prod/app-{i}")),
            arn: Ref::Known(arn.clone()),
            name: name.parse().unwrap(),
        },
        Ownership::new(env.clone())
            .with_app(app.clone())
            .with_component("rule"),
    )
}

fn resources(alb: &Alb, rules: Vec<ListenerRuleSpec>) -> Vec<Arc<dyn Resource<NetClients>>> {
    let mut out: Vec<Arc<dyn Resource<NetClients>>> =
        vec![fargate_core::resource::node(alb.listener.clone())];
    out.extend(
        rules
            .into_iter()
            .map(|r| fargate_core::resource::node(r) as Arc<dyn Resource<NetClients>>),
    );
    out
}

/// The priorities of the listener's non-default rules.
async fn priorities(ctx: &TestContext, listener_arn: &str) -> Vec<u32> {
    let rules = ctx
        .elb()
        .describe_rules()
        .listener_arn(listener_arn)
        .page_size(400)
        .send()
        .await
        .unwrap();
    rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| r.priority().unwrap().parse().unwrap())
        .collect()
}

/// How many calls of `operation` (ELB) the recorder saw since `mark`.
fn calls(ctx: &TestContext, mark: usize, operation: &str) -> usize {
    ctx.recorder()
        .summary_since(mark)
        .by_operation
        .get(&format!("ElasticLoadBalancingv2.{operation}"))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_no_op_plan_reads_the_rules_and_their_tags_once_whatever_their_number() {
    let mut measured = Vec::new();
    for n in [1usize, 10, 30] {
        let ctx = fargate_testkit::context().await;
        let alb = alb(&ctx, n).await;
        let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
        let rules = ListenerRules::share((0..n).map(|i| rule(&alb, i)).collect());
        let resources = resources(&alb, rules);
        converge(&clients, &resources, Mode::Apply).await;
        assert_eq!(priorities(&ctx, &alb.listener_arn).await.len(), n);

        let mark = ctx.recorder().mark();
        let exe = Executable::plan(&clients, &resources, Mode::Apply)
            .await
            .unwrap();
        assert!(!exe.plan.has_changes(), "{}", exe.plan);
        let counts = (
            calls(&ctx, mark, "DescribeRules"),
            calls(&ctx, mark, "DescribeTags"),
            calls(&ctx, mark, "DescribeListeners"),
        );
        println!("N = {n}: (DescribeRules, DescribeTags, DescribeListeners) = {counts:?}");
        // One page of rules; their tags by 20 ARNs; DescribeListeners: the adopted
        // listener's existence check, and the load balancer's listeners for the quota.
        assert_eq!(counts, (1, n.div_ceil(20), 2), "N = {n}");
        measured.push(counts);
    }
    assert_eq!(
        measured[0].0, measured[2].0,
        "DescribeRules does not grow with N"
    );
}

#[tokio::test]
async fn thirty_rules_preferring_one_priority_get_distinct_ones_and_keep_them() {
    let ctx = fargate_testkit::context().await;
    let alb = alb(&ctx, 30).await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    // Every rule prefers 4001 in the band 4001..=4500: they all collide without the
    // allocation over the whole plan.
    let band = 4_001..=4_500;
    let make = || {
        let rules: Vec<ListenerRuleSpec> = (0..30)
            .map(|i| rule(&alb, i).prefer_priority(4_001, band.clone()).unwrap())
            .collect();
        resources(&alb, ListenerRules::share(rules))
    };
    converge(&clients, &make(), Mode::Apply).await;
    let found = priorities(&ctx, &alb.listener_arn).await;
    let distinct: BTreeSet<u32> = found.iter().copied().collect();
    assert_eq!(distinct.len(), 30, "{found:?}");
    assert!(distinct.iter().all(|p| band.contains(p)), "{found:?}");

    // Re-apply: every rule keeps its priority, no mutating call.
    let mark = ctx.recorder().mark();
    let plan = converge(&clients, &make(), Mode::Apply).await.0;
    assert!(!plan.has_changes(), "{plan}");
    assert!(
        ctx.recorder().mutating_calls_since(mark).is_empty(),
        "{:?}",
        ctx.recorder().mutating_calls_since(mark)
    );
    let again: BTreeSet<u32> = priorities(&ctx, &alb.listener_arn)
        .await
        .into_iter()
        .collect();
    assert_eq!(again, distinct);
}

/// Rules of another tool (no tags) answering 200 on `/<prefix>-<i>`, on `listener_arn`.
async fn foreign_rules(ctx: &TestContext, listener_arn: &str, prefix: &str, n: usize, from: u32) {
    for i in 0..n {
        ctx.elb()
            .create_rule()
            .listener_arn(listener_arn)
            .priority(i32::try_from(from as usize + i).unwrap())
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .values(format!("/{prefix}-{i}"))
                    .build(),
            )
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::FixedResponse)
                    .fixed_response_config(
                        FixedResponseActionConfig::builder()
                            .status_code("200")
                            .content_type("text/plain")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_rule_beyond_the_load_balancers_quota_is_refused_at_plan_time() {
    let ctx = fargate_testkit::context().await;
    let alb = alb(&ctx, 6).await;
    let clients = NetClients::new(&ctx.sdk_config(), &ctx.interceptors());
    // 90 rules of another tool on our listener, 5 on another listener of the same load
    // balancer: 95 of the 100 AWS allows per load balancer.
    foreign_rules(&ctx, &alb.listener_arn, "other", 90, 1).await;
    let lb_arn = ctx
        .elb()
        .describe_listeners()
        .listener_arns(&alb.listener_arn)
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let second = ctx
        .elb()
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .port(8080)
        .protocol(ProtocolEnum::Http)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("404")
                        .content_type("text/plain")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let second_arn = second.listeners()[0].listener_arn().unwrap().to_string();
    foreign_rules(&ctx, &second_arn, "more", 5, 1).await;

    let mark = ctx.recorder().mark();
    // Five more fit...
    let five = (0..5)
        .map(|i| rule(&alb, i).reported_as(format!("app-{i}")))
        .collect();
    let fits = Executable::plan(
        &clients,
        &resources(&alb, ListenerRules::share(five)),
        Mode::Apply,
    )
    .await;
    assert!(fits.is_ok(), "{:?}", fits.err());
    // ...the sixth is the 101st rule of the load balancer.
    let six = (0..6)
        .map(|i| rule(&alb, i).reported_as(format!("app-{i}")))
        .collect();
    let err = Executable::plan(
        &clients,
        &resources(&alb, ListenerRules::share(six)),
        Mode::Apply,
    )
    .await
    .unwrap_err();
    let fargate_core::Error::Invalid(e) = err.original() else {
        panic!("not a typed invalid value: {err}")
    };
    assert_eq!(e.field, "app-5.listener_rule", "{e}");
    assert_eq!(e.value, "101 rules");
    assert!(
        e.reason.contains("95 not of this plan, 6 of this plan"),
        "{e}"
    );
    assert!(e.reason.contains("100 AWS allows"), "{e}");
    assert!(e.allowed.contains("another environment"), "{e}");
    assert!(
        ctx.recorder().mutating_calls_since(mark).is_empty(),
        "{:?}",
        ctx.recorder().mutating_calls_since(mark)
    );
    assert_eq!(priorities(&ctx, &alb.listener_arn).await.len(), 90);
}
