//! A blue/green FrontendApp against the moto server: deploy creates both target groups, a
//! listener rule forwarding to both and the load balancer role ECS assumes; the service gets
//! the `advancedConfiguration`; moto has no service deployment APIs, so the watch falls back
//! to DescribeServices without failing; re-apply makes no mutating call; switching back to
//! rolling changes the rule and the service only; destroy (now rolling) still removes the
//! alternate group and the role.
//!
//! moto 5.2 does not echo `deploymentConfiguration` on CreateService: the plan then takes
//! the service to have what was asked for (AWS always returns it, and the mock tests in
//! `deployment_mocks` prove its normalization). It does echo the load balancers with their
//! `advancedConfiguration`, which is compared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fargate_deploy::{ContainerService, Deployer, Deployment, Environment, FrontendApp};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ecs::types::ServiceField;

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

fn web(deployment: Deployment) -> FrontendApp {
    FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("web")
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(80)
                .build()
                .unwrap(),
        )
        .health_check_path("/health")
        .deployment(deployment)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_blue_green_frontend_through_its_lifecycle() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let elb = ctx.elb();
    let env = Environment::builder().name("bg").build().unwrap();
    let app = web(Deployment::blue_green()
        .bake_time_minutes(10)
        .build()
        .unwrap());

    // 1. Create.
    let plan = d.plan(&env, &[&app]).await.unwrap();
    let rendered = plan.to_string();
    assert!(rendered.contains("BLUE_GREEN, bake 10m"), "{rendered}");
    assert!(
        rendered.contains("elbv2:target-group bg/web/target-group-alt"),
        "{rendered}"
    );
    assert!(rendered.contains("iam:role bg-web-ecs-lb"), "{rendered}");
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let names: Vec<String> = ctx.recorder().records().iter().map(|r| r.name()).collect();
    assert!(
        names.iter().any(|n| n == "ECS.ListServiceDeployments"),
        "the in-flight service deployment was looked up: {names:?}"
    );

    let lb = elb
        .describe_load_balancers()
        .names("bg-alb")
        .send()
        .await
        .unwrap();
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let groups = elb
        .describe_target_groups()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    let mut tgs: Vec<(String, String, Option<String>)> = groups
        .target_groups()
        .iter()
        .map(|g| {
            (
                g.target_group_name().unwrap().to_string(),
                g.target_group_arn().unwrap().to_string(),
                g.health_check_path().map(str::to_string),
            )
        })
        .collect();
    tgs.sort();
    assert_eq!(tgs.len(), 2, "the app's two target groups: {tgs:?}");
    assert!(
        tgs.iter().all(|(_, _, h)| h.as_deref() == Some("/health")),
        "same health check: {tgs:?}"
    );
    let listener = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    let rules = elb
        .describe_rules()
        .listener_arn(listener.listeners()[0].listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.is_default() != Some(true))
        .expect("the app's rule");
    let rule_arn = rule.rule_arn().unwrap().to_string();
    let mut forwarded: Vec<(String, Option<i32>)> = rule.actions()[0]
        .forward_config()
        .expect("a weighted forward")
        .target_groups()
        .iter()
        .map(|t| (t.target_group_arn().unwrap().to_string(), t.weight()))
        .collect();
    forwarded.sort();
    let mut want: Vec<String> = tgs.iter().map(|(_, a, _)| a.clone()).collect();
    want.sort();
    assert_eq!(
        forwarded.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
        want
    );
    let mut weights: Vec<Option<i32>> = forwarded.iter().map(|(_, w)| *w).collect();
    weights.sort();
    assert_eq!(weights, [Some(0), Some(100)]);

    let role = ctx
        .iam()
        .get_role()
        .role_name("bg-web-ecs-lb")
        .send()
        .await
        .unwrap();
    let trust = urlencoding_decode(role.role().unwrap().assume_role_policy_document().unwrap());
    assert!(trust.contains("ecs.amazonaws.com"), "{trust}");
    let attached = ctx
        .iam()
        .list_attached_role_policies()
        .role_name("bg-web-ecs-lb")
        .send()
        .await
        .unwrap();
    let policies: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    assert_eq!(
        policies,
        ["AmazonECSInfrastructureRolePolicyForLoadBalancers"]
    );

    let services = ctx
        .ecs()
        .describe_services()
        .cluster("bg")
        .services("web")
        .include(ServiceField::Tags)
        .send()
        .await
        .unwrap();
    let lbs = services.services()[0].load_balancers();
    let ac = lbs[0]
        .advanced_configuration()
        .expect("the traffic shift is configured");
    assert_eq!(ac.production_listener_rule(), Some(rule_arn.as_str()));
    assert!(ac.role_arn().unwrap().ends_with(":role/bg-web-ecs-lb"));
    let primary = lbs[0].target_group_arn().unwrap().to_string();
    let alternate = ac.alternate_target_group_arn().unwrap().to_string();
    let mut pair = vec![primary, alternate];
    pair.sort();
    assert_eq!(pair, want);

    // 2. Re-plan: nothing to do; re-apply makes no mutating call.
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // 3. Back to rolling: the load balancer attachment loses its traffic shift and the rule
    // forwards to one group. (moto does not echo `deploymentConfiguration`, so a change
    // between the traffic-shifting strategies, blue/green to canary say, is invisible here;
    // `deployment_mocks` proves it against AWS-shaped answers.) The alternate group and the
    // role stay until destroy.
    let rolling = web(Deployment::default());
    let plan = d.plan(&env, &[&rolling]).await.unwrap();
    let changed = changed_ids(&plan);
    assert_eq!(
        changed,
        [
            "elbv2:listener-rule bg/web/rule@bg/alb:80",
            "ecs:service bg/web"
        ],
        "{plan}"
    );
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        crate::support::locked(&["ElasticLoadBalancingv2.ModifyRule", "ECS.UpdateService"])
    );
    let plan = d.plan(&env, &[&rolling]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");

    // 4. Destroy: no target group, rule or role of the app is left.
    d.destroy(&env, &[&rolling])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan_destroy(&env, &[&rolling]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    for (name, _, _) in &tgs {
        let left = elb.describe_target_groups().names(name).send().await;
        assert!(
            left.as_ref().map_or(true, |o| o.target_groups().is_empty()),
            "{name}: {left:?}"
        );
    }
    let role = ctx.iam().get_role().role_name("bg-web-ecs-lb").send().await;
    assert!(role.is_err(), "the role is gone: {role:?}");
}

/// The resources a plan changes.
fn changed_ids(plan: &fargate_deploy::DeployPlan) -> Vec<String> {
    plan.plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.to_string())
        .collect()
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%' && i + 2 < b.len())
            .then(|| u8::from_str_radix(&s[i + 1..i + 3], 16).ok())
            .flatten();
        if let Some(v) = escaped {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The app's non-default rules on the environment's ALB listener, by priority.
async fn app_rules(
    ctx: &TestContext,
    alb: &str,
) -> Vec<fargate_testkit::aws_sdk_elasticloadbalancingv2::types::Rule> {
    let elb = ctx.elb();
    let lb = elb
        .describe_load_balancers()
        .names(alb)
        .send()
        .await
        .unwrap();
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap();
    let listener = elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .unwrap();
    let rules = elb
        .describe_rules()
        .listener_arn(listener.listeners()[0].listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut rules: Vec<_> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .cloned()
        .collect();
    rules.sort_by_key(|r| r.priority().and_then(|p| p.parse::<u32>().ok()));
    rules
}

#[tokio::test]
async fn a_test_traffic_header_adds_a_test_rule_before_the_apps_own_and_the_service_uses_it() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("bgtest").build().unwrap();
    let with_header = |header: Option<&str>| {
        let service = ContainerService::builder()
            .name("web")
            .image("public.ecr.aws/nginx/nginx:1.27")
            .port(80)
            .build()
            .unwrap();
        let b = FrontendApp::builder()
            .service(service)
            .paths(vec!["/shop/*".into()])
            .deployment(Deployment::blue_green().build().unwrap());
        match header {
            Some(h) => b.test_traffic_header(h).build().unwrap(),
            None => b.build().unwrap(),
        }
    };
    let app = with_header(Some("X-Test: green"));

    // 1. Deploy: two rules, the test one (with the header) evaluated first.
    let plan = d.plan(&env, &[&app]).await.unwrap();
    let rendered = plan.to_string();
    assert!(
        rendered.contains("elbv2:listener-rule bgtest/web/test-rule@bgtest/alb:80"),
        "{rendered}"
    );
    assert!(rendered.contains("x-test:green"), "{rendered}");
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let rules = app_rules(&ctx, "bgtest-alb").await;
    assert_eq!(rules.len(), 2, "{rules:?}");
    let (test, production) = (&rules[0], &rules[1]);
    let header = test
        .conditions()
        .iter()
        .find(|c| c.field() == Some("http-header"))
        .and_then(|c| c.http_header_config())
        .expect("the test rule matches the header");
    assert_eq!(header.http_header_name(), Some("x-test"));
    assert_eq!(header.values(), ["green"]);
    assert!(
        production
            .conditions()
            .iter()
            .all(|c| c.field() != Some("http-header")),
        "{production:?}"
    );
    let services = ctx
        .ecs()
        .describe_services()
        .cluster("bgtest")
        .services("web")
        .send()
        .await
        .unwrap();
    let ac = services.services()[0].load_balancers()[0]
        .advanced_configuration()
        .expect("the traffic shift is configured");
    assert_eq!(ac.test_listener_rule(), test.rule_arn());
    assert_eq!(ac.production_listener_rule(), production.rule_arn());

    // 2. Re-apply: no mutating call.
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // 3. Without the header: the service no longer names a test rule; destroy removes the
    // rule an earlier configuration made.
    let plain = with_header(None);
    let plan = d.plan(&env, &[&plain]).await.unwrap();
    let changed = changed_ids(&plan);
    // (The app's registration records its rules on the shared ALB: one fewer now.)
    assert_eq!(
        changed,
        ["ssm:app-registration bgtest/web", "ecs:service bgtest/web"],
        "{plan}"
    );
    d.apply(plan).await.unwrap();
    d.destroy(&env, &[&plain])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan_destroy(&env, &[&plain]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    let lbs = ctx
        .elb()
        .describe_load_balancers()
        .names("bgtest-alb")
        .send()
        .await;
    assert!(
        lbs.as_ref().map_or(true, |o| o.load_balancers().is_empty()),
        "{lbs:?}"
    );
}

#[test]
fn a_test_traffic_header_is_refused_without_a_traffic_shift_or_a_value() {
    let make = |deployment: Deployment, header: &str, priority: Option<u32>| {
        let service = ContainerService::builder()
            .name("web")
            .image("nginx:1.27")
            .port(80)
            .build()
            .unwrap();
        let b = FrontendApp::builder()
            .service(service)
            .deployment(deployment)
            .test_traffic_header(header);
        match priority {
            Some(p) => b.priority(p).build(),
            None => b.build(),
        }
    };
    let field = |r: Result<FrontendApp, fargate_core::Error>| match r {
        Err(fargate_core::Error::Invalid(v)) => (v.field, v.allowed),
        other => panic!("{other:?}"),
    };
    let bg = || Deployment::blue_green().build().unwrap();
    let (f, allowed) = field(make(Deployment::default(), "x-test: 1", None));
    assert_eq!(f, "web.test_traffic_header");
    assert!(allowed.contains("blue_green"), "{allowed}");
    let (f, allowed) = field(make(bg(), "x-test", None));
    assert_eq!(f, "web.test_traffic_header");
    assert!(allowed.contains("name: value"), "{allowed}");
    let (f, _) = field(make(bg(), "x test: 1", None));
    assert_eq!(f, "web.test_traffic_header");
    let (f, allowed) = field(make(bg(), "x-test: 1", Some(1)));
    assert_eq!(f, "web.test_traffic_header");
    assert!(allowed.contains("2 or more"), "{allowed}");
    assert!(make(bg(), "x-test: 1", Some(10)).is_ok());
}
