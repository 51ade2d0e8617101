//! Load balancer, target group, listener and rule steps against mocked ELB
//! clients (aws-smithy-mocks): exact call sequences, refusal of foreign
//! resources, rule priorities around other rules, target group replacement
//! order, and throttling left to the SDK's retry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use fargate_core::{
    CallRecorder, Change, Error, Executable, Ident, Mode, Ownership, Port, Ref, Resource,
    RunOptions,
};
use fargate_net::NetClients;
use fargate_net::listener::{ListenerAction, ListenerRuleSpec, ListenerSpec, RuleConditions};
use fargate_net::load_balancer::{LoadBalancerSpec, Scheme};
use fargate_net::target_group::{HealthCheck, TargetGroupSpec, TargetProtocol};
use fargate_testkit::aws_sdk_elasticloadbalancingv2 as elbv2;
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::{aws_error_meta, mock_sdk_client};

use elbv2::operation::create_listener::CreateListenerOutput;
use elbv2::operation::create_load_balancer::CreateLoadBalancerOutput;
use elbv2::operation::create_rule::CreateRuleOutput;
use elbv2::operation::create_target_group::{CreateTargetGroupError, CreateTargetGroupOutput};
use elbv2::operation::delete_target_group::{DeleteTargetGroupError, DeleteTargetGroupOutput};
use elbv2::operation::describe_listeners::DescribeListenersOutput;
use elbv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use elbv2::operation::describe_load_balancers::{
    DescribeLoadBalancersError, DescribeLoadBalancersOutput,
};
use elbv2::operation::describe_rules::DescribeRulesOutput;
use elbv2::operation::describe_tags::DescribeTagsOutput;
use elbv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use elbv2::operation::describe_target_groups::{
    DescribeTargetGroupsError, DescribeTargetGroupsOutput,
};
use elbv2::operation::modify_rule::ModifyRuleOutput;
use elbv2::operation::modify_target_group::ModifyTargetGroupOutput;
use elbv2::operation::modify_target_group_attributes::ModifyTargetGroupAttributesOutput;
use elbv2::types::error::{LoadBalancerNotFoundException, TargetGroupNotFoundException};
use elbv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, Listener, LoadBalancer,
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher,
    PathPatternConditionConfig, ProtocolEnum, Rule as ElbRule, RuleCondition, Tag, TagDescription,
    TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};

const LB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-alb/50dc6c495c0c9188";
const LISTENER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
const RULE_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn tg_arn(name: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/73e2d6bc24d8a067"
    )
}

fn foreign_rule_arn(n: u32) -> String {
    format!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/foreign{n}"
    )
}

/// The four resources of one app behind a shared ALB.
struct Stack {
    lb: LoadBalancerSpec,
    listener: ListenerSpec,
    tg: TargetGroupSpec,
    rule: ListenerRuleSpec,
    owners: Owners,
}

#[derive(Clone)]
struct Owners {
    lb: Ownership,
    tg: Ownership,
    rule: Ownership,
}

fn stack(port: u16, health_path: &str) -> Stack {
    let env = ident("prod");
    let app = ident("web");
    let owners = Owners {
        lb: Ownership::new(env.clone()).with_component("alb"),
        tg: Ownership::new(env.clone())
            .with_app(app.clone())
            .with_component("target-group"),
        rule: Ownership::new(env.clone())
            .with_app(app.clone())
            .with_component("rule"),
    };
    let lb = LoadBalancerSpec::application(
        &env,
        Scheme::InternetFacing,
        Ref::Known(vec!["subnet-a".into(), "subnet-b".into()]),
        Ref::Known(vec!["sg-alb".into()]),
        owners.lb.clone(),
    )
    .unwrap();
    let listener = ListenerSpec::http(
        lb.reference(),
        ListenerAction::not_found(),
        owners.lb.clone(),
    )
    .unwrap();
    let tg = TargetGroupSpec::new(
        &env,
        &app,
        Port::new(port).unwrap(),
        TargetProtocol::Http,
        Ref::Known("vpc-1".into()),
        owners.tg.clone(),
    )
    .health_check(HealthCheck::http(health_path).unwrap())
    .unwrap();
    let rule = ListenerRuleSpec::new(
        &env,
        &app,
        listener.reference(),
        RuleConditions::paths(["/web/*"]).unwrap(),
        tg.reference(),
        owners.rule.clone(),
    );
    Stack {
        lb,
        listener,
        tg,
        rule,
        owners,
    }
}

fn resources(s: &Stack) -> Vec<Arc<dyn Resource<NetClients>>> {
    vec![
        fargate_core::resource::node(s.lb.clone()),
        fargate_core::resource::node(s.listener.clone()),
        fargate_core::resource::node(s.tg.clone()),
        fargate_core::resource::node(s.rule.clone()),
    ]
}

fn clients(rules: &[&Rule], recorder: &CallRecorder) -> NetClients {
    let none: Vec<&Rule> = Vec::new();
    NetClients {
        elb: mock_sdk_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c.interceptor(recorder.clone())
        ),
        ec2: mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, none.iter().copied()),
        apigw: mock_sdk_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            none.iter().copied()
        ),
    }
}

async fn apply(
    clients: &NetClients,
    resources: &[Arc<dyn Resource<NetClients>>],
    concurrency: usize,
) -> Result<fargate_core::Plan, String> {
    let exe = Executable::plan(clients, resources, Mode::Apply)
        .await
        .map_err(|e| e.to_string())?;
    let (plan, graph) = exe.into_graph(clients.clone()).map_err(|e| e.to_string())?;
    graph
        .run(RunOptions {
            concurrency,
            ..RunOptions::default()
        })
        .await
        .into_result()
        .map_err(|e| e.to_string())?;
    Ok(plan)
}

fn mutating(recorder: &CallRecorder) -> Vec<String> {
    recorder
        .mutating_calls()
        .into_iter()
        .map(|c| c.trim_start_matches("ElasticLoadBalancingv2.").to_string())
        .collect()
}

fn tags(owner: &Ownership) -> Vec<Tag> {
    owner
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// DescribeTags answering from a table of tags by ARN (unknown ARNs have none).
fn describe_tags(table: HashMap<String, Vec<Tag>>) -> Rule {
    mock!(elbv2::Client::describe_tags).then_compute_output(move |input| {
        let mut out = DescribeTagsOutput::builder();
        for arn in input.resource_arns() {
            out = out.tag_descriptions(
                TagDescription::builder()
                    .resource_arn(arn)
                    .set_tags(Some(table.get(arn).cloned().unwrap_or_default()))
                    .build(),
            );
        }
        out.build()
    })
}

fn lb_not_found() -> Rule {
    mock!(elbv2::Client::describe_load_balancers).then_error(|| {
        DescribeLoadBalancersError::LoadBalancerNotFoundException(
            LoadBalancerNotFoundException::builder().build(),
        )
    })
}

fn tg_not_found() -> Rule {
    mock!(elbv2::Client::describe_target_groups)
        .match_requests(|r| !r.names().is_empty())
        .then_error(|| {
            DescribeTargetGroupsError::TargetGroupNotFoundException(
                TargetGroupNotFoundException::builder().build(),
            )
        })
}

fn existing_lb() -> Rule {
    mock!(elbv2::Client::describe_load_balancers).then_output(|| {
        DescribeLoadBalancersOutput::builder()
            .load_balancers(
                LoadBalancer::builder()
                    .load_balancer_arn(LB_ARN)
                    .load_balancer_name("prod-alb")
                    .dns_name("prod-alb-1.us-east-1.elb.amazonaws.com")
                    .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
                    .r#type(LoadBalancerTypeEnum::Application)
                    .scheme(LoadBalancerSchemeEnum::InternetFacing)
                    .availability_zones(
                        elbv2::types::AvailabilityZone::builder()
                            .subnet_id("subnet-a")
                            .build(),
                    )
                    .availability_zones(
                        elbv2::types::AvailabilityZone::builder()
                            .subnet_id("subnet-b")
                            .build(),
                    )
                    .security_groups("sg-alb")
                    .build(),
            )
            .build()
    })
}

fn lb_attributes() -> Rule {
    mock!(elbv2::Client::describe_load_balancer_attributes).then_output(|| {
        DescribeLoadBalancerAttributesOutput::builder()
            .attributes(
                LoadBalancerAttribute::builder()
                    .key("idle_timeout.timeout_seconds")
                    .value("60")
                    .build(),
            )
            .attributes(
                LoadBalancerAttribute::builder()
                    .key("deletion_protection.enabled")
                    .value("false")
                    .build(),
            )
            .build()
    })
}

fn existing_listener() -> Rule {
    mock!(elbv2::Client::describe_listeners).then_output(|| {
        DescribeListenersOutput::builder()
            .listeners(
                Listener::builder()
                    .listener_arn(LISTENER_ARN)
                    .load_balancer_arn(LB_ARN)
                    .port(80)
                    .protocol(ProtocolEnum::Http)
                    .default_actions(
                        Action::builder()
                            .r#type(ActionTypeEnum::FixedResponse)
                            .fixed_response_config(
                                FixedResponseActionConfig::builder()
                                    .status_code("404")
                                    .content_type("text/plain")
                                    .message_body("Not Found")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn sdk_rule(arn: &str, priority: u32, path: &str, tg_name: &str) -> ElbRule {
    ElbRule::builder()
        .rule_arn(arn)
        .priority(priority.to_string())
        .is_default(false)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(PathPatternConditionConfig::builder().values(path).build())
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg_arn(tg_name))
                .build(),
        )
        .build()
}

fn default_rule() -> ElbRule {
    ElbRule::builder()
        .rule_arn(format!("{LISTENER_ARN}/default"))
        .priority("default")
        .is_default(true)
        .build()
}

fn describe_rules(rules: Vec<ElbRule>) -> Rule {
    mock!(elbv2::Client::describe_rules).then_output(move || {
        DescribeRulesOutput::builder()
            .set_rules(Some([vec![default_rule()], rules.clone()].concat()))
            .build()
    })
}

fn sdk_target_group(name: &str, port: i32) -> TargetGroup {
    TargetGroup::builder()
        .target_group_arn(tg_arn(name))
        .target_group_name(name)
        .protocol(ProtocolEnum::Http)
        .port(port)
        .vpc_id("vpc-1")
        .target_type(TargetTypeEnum::Ip)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_port("traffic-port")
        .health_check_path("/")
        .health_check_interval_seconds(30)
        .health_check_timeout_seconds(5)
        .healthy_threshold_count(5)
        .unhealthy_threshold_count(2)
        .matcher(Matcher::builder().http_code("200").build())
        .build()
}

fn existing_target_group(name: &str, port: i32) -> Rule {
    let tg = sdk_target_group(name, port);
    let wanted = name.to_string();
    mock!(elbv2::Client::describe_target_groups)
        .match_requests(move |r| r.names().contains(&wanted))
        .then_output(move || {
            DescribeTargetGroupsOutput::builder()
                .target_groups(tg.clone())
                .build()
        })
}

fn tg_attributes() -> Rule {
    mock!(elbv2::Client::describe_target_group_attributes).then_output(|| {
        DescribeTargetGroupAttributesOutput::builder()
            .attributes(
                TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value("30")
                    .build(),
            )
            .build()
    })
}

/// Everything an applied stack answers, with `health_path` as the target group's current
/// path; each resource carries the ownership tags in `table`.
fn existing_stack(s: &Stack, table: HashMap<String, Vec<Tag>>) -> Vec<Rule> {
    let tg_name = s.tg.name().to_string();
    vec![
        existing_lb(),
        lb_attributes(),
        existing_listener(),
        existing_target_group(&tg_name, 8080),
        tg_attributes(),
        describe_rules(vec![sdk_rule(
            RULE_ARN,
            s.rule.preferred_priority(),
            "/web/*",
            &tg_name,
        )]),
        describe_tags(table),
    ]
}

fn owned_table(s: &Stack) -> HashMap<String, Vec<Tag>> {
    HashMap::from([
        (LB_ARN.to_string(), tags(&s.owners.lb)),
        (LISTENER_ARN.to_string(), tags(&s.owners.lb)),
        (tg_arn(s.tg.name().as_str()), tags(&s.owners.tg)),
        (RULE_ARN.to_string(), tags(&s.owners.rule)),
    ])
}

#[tokio::test]
async fn create_calls_load_balancer_target_group_listener_then_rule() {
    let s = stack(8080, "/health");
    let tg_name = s.tg.name().to_string();
    let preferred = s.rule.preferred_priority();
    let create_lb = mock!(elbv2::Client::create_load_balancer)
        .match_requests(|r| {
            r.name() == Some("prod-alb")
                && r.r#type() == Some(&LoadBalancerTypeEnum::Application)
                && r.subnets() == ["subnet-a", "subnet-b"]
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("fargate:managed-by"))
        })
        .then_output(|| {
            CreateLoadBalancerOutput::builder()
                .load_balancers(
                    LoadBalancer::builder()
                        .load_balancer_arn(LB_ARN)
                        .dns_name("prod-alb-1.us-east-1.elb.amazonaws.com")
                        .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
                        .r#type(LoadBalancerTypeEnum::Application)
                        .build(),
                )
                .build()
        });
    let name = tg_name.clone();
    let create_tg = mock!(elbv2::Client::create_target_group)
        .match_requests(move |r| {
            r.name() == Some(name.as_str())
                && r.target_type() == Some(&TargetTypeEnum::Ip)
                && r.health_check_path() == Some("/health")
                && r.vpc_id() == Some("vpc-1")
        })
        .then_output({
            let name = tg_name.clone();
            move || {
                CreateTargetGroupOutput::builder()
                    .target_groups(
                        TargetGroup::builder()
                            .target_group_arn(tg_arn(&name))
                            .build(),
                    )
                    .build()
            }
        });
    let set_delay = mock!(elbv2::Client::modify_target_group_attributes)
        .match_requests(|r| {
            r.attributes().iter().any(|a| {
                a.key() == Some("deregistration_delay.timeout_seconds") && a.value() == Some("30")
            })
        })
        .then_output(|| ModifyTargetGroupAttributesOutput::builder().build());
    let create_listener = mock!(elbv2::Client::create_listener)
        .match_requests(|r| r.load_balancer_arn() == Some(LB_ARN) && r.port() == Some(80))
        .then_output(|| {
            CreateListenerOutput::builder()
                .listeners(Listener::builder().listener_arn(LISTENER_ARN).build())
                .build()
        });
    let expected_tg = tg_arn(&tg_name);
    let create_rule = mock!(elbv2::Client::create_rule)
        .match_requests(move |r| {
            r.listener_arn() == Some(LISTENER_ARN)
                && r.priority() == i32::try_from(preferred).ok()
                && r.actions().first().and_then(|a| a.target_group_arn())
                    == Some(expected_tg.as_str())
        })
        .then_output(|| {
            CreateRuleOutput::builder()
                .rules(ElbRule::builder().rule_arn(RULE_ARN).build())
                .build()
        });
    let (lb_nf, tg_nf) = (lb_not_found(), tg_not_found());
    let recorder = CallRecorder::new();
    let clients = clients(
        &[
            &lb_nf,
            &tg_nf,
            &create_lb,
            &create_tg,
            &set_delay,
            &create_listener,
            &create_rule,
        ],
        &recorder,
    );

    let plan = apply(&clients, &resources(&s), 1).await.unwrap();

    assert_eq!(plan.summary().create, 4);
    assert_eq!(
        mutating(&recorder),
        [
            "CreateLoadBalancer",
            "CreateTargetGroup",
            "ModifyTargetGroupAttributes",
            "CreateListener",
            "CreateRule"
        ]
    );
    // Observation: one look-up by name each; the listener and the rule learn from the plan
    // board that the ALB and the listener are new, without describing them again.
    let reads = recorder.summary().by_operation;
    assert_eq!(
        reads.get("ElasticLoadBalancingv2.DescribeLoadBalancers"),
        Some(&1)
    );
    assert_eq!(reads.get("ElasticLoadBalancingv2.DescribeListeners"), None);
    assert_eq!(reads.get("ElasticLoadBalancingv2.DescribeRules"), None);
    assert_eq!(
        reads.get("ElasticLoadBalancingv2.DescribeTargetGroups"),
        Some(&1)
    );
    assert_eq!(create_rule.num_calls(), 1);
}

#[tokio::test]
async fn create_respects_dependencies_when_run_concurrently() {
    let s = stack(8080, "/");
    let create_lb = mock!(elbv2::Client::create_load_balancer).then_output(|| {
        CreateLoadBalancerOutput::builder()
            .load_balancers(LoadBalancer::builder().load_balancer_arn(LB_ARN).build())
            .build()
    });
    let name = s.tg.name().to_string();
    let create_tg = mock!(elbv2::Client::create_target_group).then_output(move || {
        CreateTargetGroupOutput::builder()
            .target_groups(
                TargetGroup::builder()
                    .target_group_arn(tg_arn(&name))
                    .build(),
            )
            .build()
    });
    let set_delay = mock!(elbv2::Client::modify_target_group_attributes)
        .then_output(|| ModifyTargetGroupAttributesOutput::builder().build());
    let create_listener = mock!(elbv2::Client::create_listener).then_output(|| {
        CreateListenerOutput::builder()
            .listeners(Listener::builder().listener_arn(LISTENER_ARN).build())
            .build()
    });
    let create_rule = mock!(elbv2::Client::create_rule).then_output(|| {
        CreateRuleOutput::builder()
            .rules(ElbRule::builder().rule_arn(RULE_ARN).build())
            .build()
    });
    let (lb_nf, tg_nf) = (lb_not_found(), tg_not_found());
    let recorder = CallRecorder::new();
    let clients = clients(
        &[
            &lb_nf,
            &tg_nf,
            &create_lb,
            &create_tg,
            &set_delay,
            &create_listener,
            &create_rule,
        ],
        &recorder,
    );

    apply(&clients, &resources(&s), 16).await.unwrap();

    let calls = mutating(&recorder);
    let at = |op: &str| calls.iter().position(|c| c == op).unwrap();
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert!(at("CreateLoadBalancer") < at("CreateListener"));
    assert!(at("CreateListener") < at("CreateRule"));
    assert!(at("CreateTargetGroup") < at("CreateRule"));
}

#[tokio::test]
async fn second_apply_of_an_unchanged_stack_makes_no_mutating_call() {
    let s = stack(8080, "/");
    let recorder = CallRecorder::new();
    let rules = existing_stack(&s, owned_table(&s));
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let plan = apply(&clients, &resources(&s), 16).await.unwrap();

    assert!(!plan.has_changes(), "{plan}");
    assert!(mutating(&recorder).is_empty(), "{:?}", mutating(&recorder));
    // Dependents read the ALB's and the listener's ARNs from the plan board.
    let reads = recorder.summary().by_operation;
    assert_eq!(
        reads.get("ElasticLoadBalancingv2.DescribeLoadBalancers"),
        Some(&1)
    );
    assert_eq!(
        reads.get("ElasticLoadBalancingv2.DescribeListeners"),
        Some(&1)
    );
    assert_eq!(reads.get("ElasticLoadBalancingv2.DescribeRules"), Some(&1));
}

/// A stand-in for the network resource: it exists and publishes its subnets at plan time.
#[derive(Clone)]
struct PublishedSubnets {
    key: fargate_core::OutputKey<Vec<String>>,
    subnets: Vec<String>,
}

impl fargate_core::Kind<NetClients> for PublishedSubnets {
    type Observed = ();

    fn id(&self) -> fargate_core::ResourceId {
        fargate_core::ResourceId::new("ec2:network", "prod")
    }

    fn observe<'a>(
        &'a self,
        _: &'a NetClients,
        _: &'a fargate_core::Round<'a>,
        _: Mode,
    ) -> fargate_core::resource::BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(Some(())) })
    }

    fn diff(&self, _: Option<&()>, _: &fargate_core::Resolved) -> Result<Change, Error> {
        Ok(Change::NoOp)
    }

    fn outputs(
        &self,
        _: Option<&()>,
        _: &Change,
        _: &fargate_core::Resolved,
    ) -> fargate_core::PlanValues {
        fargate_core::PlanValues::new().with(&self.key, &self.subnets)
    }

    fn apply<'a>(
        &'a self,
        _: &'a NetClients,
        ctx: &'a fargate_core::StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> fargate_core::resource::BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            ctx.set(&self.key, self.subnets.clone());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a NetClients,
        _: &'a fargate_core::StepContext,
        _: &'a (),
    ) -> fargate_core::resource::BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn subnets_another_resource_publishes_at_plan_time_are_diffed_then_set() {
    let network = PublishedSubnets {
        key: fargate_core::ResourceId::new("ec2:network", "prod").output("public_subnets"),
        subnets: vec!["subnet-a".into(), "subnet-c".into()],
    };
    let alb = LoadBalancerSpec::application(
        &ident("prod"),
        Scheme::InternetFacing,
        Ref::Output(network.key.clone()),
        Ref::Known(vec!["sg-alb".into()]),
        Ownership::new(ident("prod")).with_component("alb"),
    )
    .unwrap();
    let s = stack(8080, "/");
    let set_subnets = mock!(elbv2::Client::set_subnets)
        .match_requests(|r| r.subnets() == ["subnet-a", "subnet-c"])
        .then_output(|| elbv2::operation::set_subnets::SetSubnetsOutput::builder().build());
    let rules = [
        existing_lb(),
        lb_attributes(),
        describe_tags(owned_table(&s)),
        set_subnets,
    ];
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(network),
        fargate_core::resource::node(
            alb.clone()
                .after([fargate_core::ResourceId::new("ec2:network", "prod")]),
        ),
    ];

    let plan = apply(&clients, &resources, 16).await.unwrap();

    let change = &plan
        .get(&fargate_core::Kind::<NetClients>::id(&alb))
        .unwrap()
        .change;
    assert!(
        matches!(change, Change::Update { diffs } if diffs.len() == 1 && diffs[0].field == "subnets"),
        "{plan}"
    );
    assert_eq!(mutating(&recorder), ["SetSubnets"]);
}

#[tokio::test]
async fn one_changed_health_check_field_is_exactly_one_modify_target_group() {
    let s = stack(8080, "/healthz");
    let modify = mock!(elbv2::Client::modify_target_group)
        .match_requests(|r| {
            r.health_check_path() == Some("/healthz")
                && r.health_check_interval_seconds().is_none()
                && r.health_check_port().is_none()
                && r.matcher().is_none()
                && r.healthy_threshold_count().is_none()
        })
        .then_output(|| ModifyTargetGroupOutput::builder().build());
    let recorder = CallRecorder::new();
    let mut rules = existing_stack(&s, owned_table(&s));
    rules.push(modify);
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let plan = apply(&clients, &resources(&s), 16).await.unwrap();

    let tg_change = &plan.get(s.tg.id()).unwrap().change;
    assert!(
        matches!(tg_change, Change::Update { diffs } if diffs.len() == 1 && diffs[0].field == "health_check.path"),
        "{tg_change:?}"
    );
    assert_eq!(plan.summary().update, 1);
    assert_eq!(mutating(&recorder), ["ModifyTargetGroup"]);
}

#[tokio::test]
async fn foreign_load_balancer_is_refused_without_any_mutating_call() {
    let s = stack(8080, "/");
    let mut table = owned_table(&s);
    table.insert(
        LB_ARN.to_string(),
        vec![Tag::builder().key("team").value("someone-else").build()],
    );
    let recorder = CallRecorder::new();
    let rules = existing_stack(&s, table);
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let err = Executable::plan(&clients, &resources(&s), Mode::Apply)
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::NotOwned { resource, detail } if resource.kind == "elbv2:load-balancer" && detail.contains(LB_ARN)),
        "{err}"
    );
    assert!(mutating(&recorder).is_empty());
}

#[tokio::test]
async fn foreign_target_group_is_refused_even_in_destroy() {
    let s = stack(8080, "/");
    let mut table = owned_table(&s);
    table.remove(&tg_arn(s.tg.name().as_str()));
    let recorder = CallRecorder::new();
    let rules = existing_stack(&s, table);
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let tg: Vec<Arc<dyn Resource<NetClients>>> = vec![fargate_core::resource::node(s.tg.clone())];

    let err = Executable::plan(&clients, &tg, Mode::Apply)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotOwned { resource, .. } if resource.kind == "elbv2:target-group"),
        "{err}"
    );
    crate::network_support::assert_skipped_in_destroy(
        Executable::plan(&clients, &tg, Mode::Destroy).await,
        "elbv2:target-group",
    );
    assert!(mutating(&recorder).is_empty());
}

#[tokio::test]
async fn new_rule_skips_priorities_held_by_foreign_rules() {
    let s = stack(8080, "/");
    let preferred = s.rule.preferred_priority();
    let next = move |n: u32| (preferred + n - 1) % 50_000 + 1;
    // Two rules of other tools hold the preferred priority and the next one.
    let foreign = vec![
        sdk_rule(&foreign_rule_arn(1), preferred, "/other/*", "other-tg"),
        sdk_rule(&foreign_rule_arn(2), next(1), "/more/*", "other-tg"),
    ];
    let create_rule = mock!(elbv2::Client::create_rule)
        .match_requests(move |r| r.priority() == i32::try_from(next(2)).ok())
        .then_output(|| {
            CreateRuleOutput::builder()
                .rules(ElbRule::builder().rule_arn(RULE_ARN).build())
                .build()
        });
    let recorder = CallRecorder::new();
    let mut table = owned_table(&s);
    table.remove(RULE_ARN);
    let rules = [
        existing_lb(),
        lb_attributes(),
        existing_listener(),
        existing_target_group(s.tg.name().as_str(), 8080),
        tg_attributes(),
        describe_rules(foreign),
        describe_tags(table),
        create_rule,
    ];
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let plan = apply(&clients, &resources(&s), 16).await.unwrap();

    let Change::Create { fields } = &plan.get(s.rule.id()).unwrap().change else {
        panic!("{plan}")
    };
    let priority = fields.iter().find(|f| f.field == "priority").unwrap();
    assert_eq!(priority.new, Some(serde_json::json!(next(2))));
    assert_eq!(mutating(&recorder), ["CreateRule"]);
    assert_eq!(
        rules[7].num_calls(),
        1,
        "CreateRule carried the first free priority"
    );
}

#[tokio::test]
async fn explicit_priority_held_by_a_foreign_rule_fails_before_any_mutating_call() {
    let s = stack(8080, "/");
    let rule = s.rule.clone().priority(10).unwrap();
    let recorder = CallRecorder::new();
    let mut table = owned_table(&s);
    table.remove(RULE_ARN);
    let rules = [
        existing_lb(),
        existing_listener(),
        describe_rules(vec![sdk_rule(
            &foreign_rule_arn(1),
            10,
            "/other/*",
            "other-tg",
        )]),
        describe_tags(table),
    ];
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let only_rule: Vec<Arc<dyn Resource<NetClients>>> = vec![fargate_core::resource::node(rule)];

    let err = Executable::plan(&clients, &only_rule, Mode::Apply)
        .await
        .unwrap_err();

    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "listener_rule.priority" && v.reason.contains("10")),
        "{err}"
    );
    assert!(mutating(&recorder).is_empty());
}

#[tokio::test(start_paused = true)]
async fn replaced_target_group_is_created_before_the_old_one_is_deleted() {
    // The app moves from port 8080 to 8081: a new target group (new name), the rule moves
    // to it, then the old one goes — even though AWS first says it is still in use.
    let old = stack(8080, "/");
    let s = stack(8081, "/");
    let old_name = old.tg.name().to_string();
    let new_name = s.tg.name().to_string();
    assert_ne!(old_name, new_name);

    let new_not_found = {
        let wanted = new_name.clone();
        mock!(elbv2::Client::describe_target_groups)
            .match_requests(move |r| r.names().contains(&wanted))
            .then_error(|| {
                DescribeTargetGroupsError::TargetGroupNotFoundException(
                    TargetGroupNotFoundException::builder().build(),
                )
            })
    };
    let attached = {
        let tg = sdk_target_group(&old_name, 8080);
        mock!(elbv2::Client::describe_target_groups)
            .match_requests(|r| r.load_balancer_arn() == Some(LB_ARN))
            .then_output(move || {
                DescribeTargetGroupsOutput::builder()
                    .target_groups(tg.clone())
                    .build()
            })
    };
    let create_tg = {
        let name = new_name.clone();
        mock!(elbv2::Client::create_target_group).then_output(move || {
            CreateTargetGroupOutput::builder()
                .target_groups(
                    TargetGroup::builder()
                        .target_group_arn(tg_arn(&name))
                        .build(),
                )
                .build()
        })
    };
    let set_delay = mock!(elbv2::Client::modify_target_group_attributes)
        .then_output(|| ModifyTargetGroupAttributesOutput::builder().build());
    let modify_rule = {
        let new_arn = tg_arn(&new_name);
        mock!(elbv2::Client::modify_rule)
            .match_requests(move |r| {
                r.rule_arn() == Some(RULE_ARN)
                    && r.actions().first().and_then(|a| a.target_group_arn())
                        == Some(new_arn.as_str())
            })
            .then_output(|| ModifyRuleOutput::builder().build())
    };
    let delete_old = {
        let old_arn = tg_arn(&old_name);
        mock!(elbv2::Client::delete_target_group)
            .match_requests(move |r| r.target_group_arn() == Some(old_arn.as_str()))
            .sequence()
            .error(|| {
                DeleteTargetGroupError::generic(aws_error_meta(
                    "ResourceInUse",
                    "Target group is currently in use by a listener or a rule",
                ))
            })
            .output(|| DeleteTargetGroupOutput::builder().build())
            .build()
    };
    let mut table = owned_table(&old);
    table.insert(tg_arn(&old_name), tags(&old.owners.tg));
    let rules = vec![
        existing_lb(),
        lb_attributes(),
        existing_listener(),
        describe_rules(vec![sdk_rule(
            RULE_ARN,
            s.rule.preferred_priority(),
            "/web/*",
            &old_name,
        )]),
        describe_tags(table),
        new_not_found,
        attached,
        create_tg,
        set_delay,
        modify_rule,
        delete_old,
    ];
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let orphans = s.tg.orphans(s.lb.reference(), [s.rule.id().clone()]);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(orphans.clone()),
        fargate_core::resource::node(s.lb.clone()),
        fargate_core::resource::node(s.listener.clone()),
        fargate_core::resource::node(s.rule.clone()),
        fargate_core::resource::node(s.tg.clone()),
    ];

    let plan = apply(&clients, &resources, 16).await.unwrap();

    assert!(matches!(
        plan.get(s.tg.id()).unwrap().change,
        Change::Create { .. }
    ));
    assert!(matches!(
        plan.get(s.rule.id()).unwrap().change,
        Change::Update { .. }
    ));
    assert_eq!(plan.get(orphans.id()).unwrap().change, Change::Delete);
    assert_eq!(
        mutating(&recorder),
        [
            "CreateTargetGroup",
            "ModifyTargetGroupAttributes",
            "ModifyRule",
            "DeleteTargetGroup",
            "DeleteTargetGroup"
        ]
    );
    assert_eq!(
        rules[10].num_calls(),
        2,
        "ResourceInUse was waited out once"
    );
}

#[tokio::test]
async fn throttled_create_is_retried_by_the_sdk() {
    let s = stack(8080, "/");
    let name = s.tg.name().to_string();
    let create_tg = mock!(elbv2::Client::create_target_group)
        .sequence()
        .error(|| CreateTargetGroupError::generic(aws_error_meta("Throttling", "Rate exceeded")))
        .output(move || {
            CreateTargetGroupOutput::builder()
                .target_groups(
                    TargetGroup::builder()
                        .target_group_arn(tg_arn(&name))
                        .build(),
                )
                .build()
        })
        .build();
    let set_delay = mock!(elbv2::Client::modify_target_group_attributes)
        .then_output(|| ModifyTargetGroupAttributesOutput::builder().build());
    let tg_nf = tg_not_found();
    let recorder = CallRecorder::new();
    let clients = clients(&[&tg_nf, &create_tg, &set_delay], &recorder);
    let tg: Vec<Arc<dyn Resource<NetClients>>> = vec![fargate_core::resource::node(s.tg.clone())];

    apply(&clients, &tg, 16).await.unwrap();

    assert_eq!(
        create_tg.num_calls(),
        2,
        "one throttled attempt, one success"
    );
    // The recorder sees one CreateTargetGroup execution: the retry happened inside the SDK.
    assert_eq!(
        mutating(&recorder),
        ["CreateTargetGroup", "ModifyTargetGroupAttributes"]
    );
}

#[tokio::test]
async fn destroy_deletes_rule_listener_target_group_and_waits_for_the_load_balancer() {
    let s = stack(8080, "/");
    let lb_gone = mock!(elbv2::Client::describe_load_balancers)
        .match_requests(|r| !r.load_balancer_arns().is_empty())
        .then_error(|| {
            DescribeLoadBalancersError::LoadBalancerNotFoundException(
                LoadBalancerNotFoundException::builder().build(),
            )
        });
    let delete_rule = mock!(elbv2::Client::delete_rule)
        .match_requests(|r| r.rule_arn() == Some(RULE_ARN))
        .then_output(|| elbv2::operation::delete_rule::DeleteRuleOutput::builder().build());
    let delete_listener = mock!(elbv2::Client::delete_listener)
        .then_output(|| elbv2::operation::delete_listener::DeleteListenerOutput::builder().build());
    let delete_tg = mock!(elbv2::Client::delete_target_group)
        .then_output(|| DeleteTargetGroupOutput::builder().build());
    let delete_lb = mock!(elbv2::Client::delete_load_balancer).then_output(|| {
        elbv2::operation::delete_load_balancer::DeleteLoadBalancerOutput::builder().build()
    });
    let mut rules = vec![lb_gone];
    rules.extend(existing_stack(&s, owned_table(&s)));
    rules.extend([delete_rule, delete_listener, delete_tg, delete_lb]);
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);

    let exe = Executable::plan(&clients, &resources(&s), Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(exe.plan.summary().delete, 4);
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions {
            concurrency: 1,
            ..RunOptions::default()
        })
        .await
        .into_result()
        .unwrap();

    assert_eq!(
        mutating(&recorder),
        [
            "DeleteRule",
            "DeleteListener",
            "DeleteTargetGroup",
            "DeleteLoadBalancer"
        ]
    );
    let records = recorder.records();
    let last = records.last().unwrap();
    assert_eq!(
        last.operation, "DescribeLoadBalancers",
        "destroy waited until the load balancer was gone"
    );
}

#[tokio::test]
async fn new_certificate_is_one_modify_listener_carrying_only_the_certificate() {
    const OLD_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/old-0001";
    const NEW_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/new-0002";
    let s = stack(8080, "/");
    let https = ListenerSpec::https(
        s.lb.reference(),
        NEW_CERT,
        ListenerAction::not_found(),
        s.owners.lb.clone(),
    )
    .unwrap();
    let existing = mock!(elbv2::Client::describe_listeners).then_output(|| {
        DescribeListenersOutput::builder()
            .listeners(
                Listener::builder()
                    .listener_arn(LISTENER_ARN)
                    .load_balancer_arn(LB_ARN)
                    .port(443)
                    .protocol(ProtocolEnum::Https)
                    .ssl_policy(fargate_net::listener::DEFAULT_SSL_POLICY)
                    .certificates(
                        elbv2::types::Certificate::builder()
                            .certificate_arn(OLD_CERT)
                            .build(),
                    )
                    .default_actions(
                        Action::builder()
                            .r#type(ActionTypeEnum::FixedResponse)
                            .fixed_response_config(
                                FixedResponseActionConfig::builder()
                                    .status_code("404")
                                    .content_type("text/plain")
                                    .message_body("Not Found")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let modify = mock!(elbv2::Client::modify_listener)
        .match_requests(|r| {
            r.certificates().first().and_then(|c| c.certificate_arn()) == Some(NEW_CERT)
                && r.default_actions().is_empty()
                && r.ssl_policy().is_none()
                && r.protocol().is_none()
        })
        .then_output(|| elbv2::operation::modify_listener::ModifyListenerOutput::builder().build());
    let rules = [
        existing_lb(),
        lb_attributes(),
        existing,
        describe_tags(owned_table(&s)),
        modify,
    ];
    let recorder = CallRecorder::new();
    let clients = clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = vec![
        fargate_core::resource::node(s.lb.clone()),
        fargate_core::resource::node(https.clone()),
    ];

    let plan = apply(&clients, &resources, 16).await.unwrap();

    let change = &plan
        .get(&fargate_core::Kind::<NetClients>::id(&https))
        .unwrap()
        .change;
    assert!(
        matches!(change, Change::Update { diffs } if diffs.len() == 1 && diffs[0].field == "certificate"),
        "{plan}"
    );
    assert_eq!(mutating(&recorder), ["ModifyListener"]);
}

#[tokio::test]
async fn malformed_certificate_arn_is_refused_before_any_call() {
    let s = stack(8080, "/");
    let err = ListenerSpec::https(
        s.lb.reference(),
        "arn:aws:iam::123456789012:server-certificate/legacy",
        ListenerAction::not_found(),
        s.owners.lb.clone(),
    )
    .unwrap_err();
    assert_eq!(err.field, "listener.certificate_arn");
    assert!(err.allowed.contains(":acm:"), "{err}");
}
