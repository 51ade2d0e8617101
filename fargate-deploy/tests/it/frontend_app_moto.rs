//! FrontendApps behind the environment's shared ALB, against the moto server:
//! two apps share one ALB with distinct rule priorities; re-apply makes no
//! mutating call; a health-check change is one ModifyTargetGroup; destroy
//! leaves no load balancer or target group. An environment with a
//! certificate gets HTTPS 443 with the rules and HTTP 80 redirecting to it.
//! Bad input is a typed error before any call. Thirty frontends on one ALB,
//! two of them preferring the same priority, get distinct priorities in their
//! specificity bands, a no-op plan reads the listener's rules once, and
//! re-apply changes nothing.

use std::io::{Read, Write};

use fargate_core::Error;
use fargate_deploy::{
    AdoptAlb, AdoptNetwork, ContainerService, Deployer, Environment, FrontendApp,
};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::Filter;
use fargate_testkit::aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum,
};

fn container(name: &str, port: Option<u16>) -> ContainerService {
    let b = ContainerService::builder()
        .name(name)
        .image("public.ecr.aws/nginx/nginx:1.27");
    match port {
        Some(p) => b.port(p).build().unwrap(),
        None => b.build().unwrap(),
    }
}

fn web(name: &str, port: u16, paths: &[&str], health: &str) -> FrontendApp {
    FrontendApp::builder()
        .service(container(name, Some(port)))
        .paths(paths.iter().map(|p| p.to_string()).collect())
        .health_check_path(health)
        .build()
        .unwrap()
}

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

/// Whether every `after` call started once as many `first` calls had ended: the k-th
/// `after` to start (in time) started after the k-th `first` to end. Each service waits for
/// its own rule, so when the k-th service starts, at least k rules are done (the records
/// do not say which app a call was for).
fn each_after_its_own(ctx: &TestContext, first: &str, after: &str) -> Result<(), String> {
    let records = ctx.recorder().records();
    let mut ends: Vec<_> = records
        .iter()
        .filter(|r| r.name() == first)
        .map(|r| r.end)
        .collect();
    let mut starts: Vec<_> = records
        .iter()
        .filter(|r| r.name() == after)
        .map(|r| r.start)
        .collect();
    ends.sort();
    starts.sort();
    if starts.is_empty() || starts.len() > ends.len() {
        return Err(format!(
            "{} {first} calls, {} {after} calls",
            ends.len(),
            starts.len()
        ));
    }
    match ends
        .iter()
        .zip(&starts)
        .enumerate()
        .find(|(_, (e, s))| s < e)
    {
        Some((k, (e, s))) => Err(format!(
            "{after} number {} started at {s:?}, before {first} number {} ended at {e:?}",
            k + 1,
            k + 1
        )),
        None => Ok(()),
    }
}

#[tokio::test]
async fn two_frontend_apps_share_one_alb_through_their_lifecycle() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let elb = ctx.elb();
    let env = Environment::builder().name("fe").build().unwrap();
    let api = web("api", 8080, &["/api/*"], "/api/health");
    let site = web("site", 80, &["/*"], "/");
    assert!(
        api.priority() < site.priority(),
        "/api/* is evaluated before /*"
    );

    // 1. Create: one ALB, one HTTP listener answering 404, one rule per app.
    let plan = d.plan(&env, &[&api, &site]).await.unwrap();
    let report = d
        .apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let lbs = elb
        .describe_load_balancers()
        .names("fe-alb")
        .send()
        .await
        .unwrap();
    assert_eq!(lbs.load_balancers().len(), 1);
    let lb = &lbs.load_balancers()[0];
    let dns = lb.dns_name().unwrap();
    assert_eq!(report.outputs["api.url"], format!("http://{dns}/api/"));
    assert_eq!(report.outputs["site.url"], format!("http://{dns}/"));
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1, "{listeners:?}");
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(80));
    assert_eq!(
        listener.default_actions()[0].r#type(),
        Some(&ActionTypeEnum::FixedResponse)
    );
    let rules = elb
        .describe_rules()
        .listener_arn(listener.listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut ours: Vec<(u32, String, String)> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let path = r.conditions()[0]
                .path_pattern_config()
                .map(|p| p.values()[0].clone())
                .unwrap_or_else(|| r.conditions()[0].values()[0].clone());
            (
                r.priority().unwrap().parse().unwrap(),
                path,
                r.actions()[0].target_group_arn().unwrap().to_string(),
            )
        })
        .collect();
    ours.sort();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert_eq!(ours[0].0, api.priority());
    assert_eq!(ours[0].1, "/api/*");
    assert_eq!(ours[1].0, site.priority());
    assert_eq!(ours[1].1, "/*");
    assert_ne!(ours[0].2, ours[1].2, "each app has its own target group");
    let groups = elb
        .describe_target_groups()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tg_names: Vec<String> = groups
        .target_groups()
        .iter()
        .map(|g| g.target_group_name().unwrap().to_string())
        .collect();
    assert_eq!(tg_names.len(), 2, "{tg_names:?}");
    let api_tg = groups
        .target_groups()
        .iter()
        .find(|g| g.port() == Some(8080))
        .unwrap();
    assert_eq!(api_tg.health_check_path(), Some("/api/health"));

    // ECS refuses a target group without a listener rule: the services come after the rules.
    each_after_its_own(
        &ctx,
        "ElasticLoadBalancingv2.CreateRule",
        "ECS.CreateService",
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // The tasks accept their port from the ALB's security group only.
    let alb_sg = lb.security_groups()[0].clone();
    let task_sg = ctx
        .ec2()
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("fe-api-task")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let perms = task_sg.security_groups()[0].ip_permissions();
    assert_eq!(perms.len(), 1, "{perms:?}");
    assert_eq!(
        (perms[0].from_port(), perms[0].to_port()),
        (Some(8080), Some(8080))
    );
    assert!(perms[0].ip_ranges().is_empty(), "{perms:?}");
    let sources: Vec<&str> = perms[0]
        .user_id_group_pairs()
        .iter()
        .filter_map(|p| p.group_id())
        .collect();
    assert_eq!(sources, [alb_sg.as_str()]);

    // 2. Re-plan: nothing to do; re-apply makes no mutating call.
    let plan = d.plan(&env, &[&api, &site]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // 3. Another health-check path: the target group changes, in place, and nothing else.
    let api2 = web("api", 8080, &["/api/*"], "/api/ready");
    let plan = d.plan(&env, &[&api2, &site]).await.unwrap();
    let changed: Vec<String> = plan
        .plan()
        .changes
        .iter()
        .filter(|c| c.change.is_change())
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(
        changed,
        ["elbv2:target-group fe/api/target-group"],
        "{plan}"
    );
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        crate::support::locked(&["ElasticLoadBalancingv2.ModifyTargetGroup"])
    );

    // 4. Destroy: no load balancer or target group of ours is left.
    d.destroy(&env, &[&api2, &site])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan_destroy(&env, &[&api2, &site]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    let lbs = elb.describe_load_balancers().names("fe-alb").send().await;
    assert!(
        lbs.as_ref().map_or(true, |o| o.load_balancers().is_empty()),
        "{lbs:?}"
    );
    for name in &tg_names {
        let tgs = elb.describe_target_groups().names(name).send().await;
        assert!(
            tgs.as_ref().map_or(true, |o| o.target_groups().is_empty()),
            "{name}: {tgs:?}"
        );
    }
}

/// Requests an ACM certificate from moto (which checks that a listener's certificate
/// exists); there is no ACM client in the testkit, so this is one raw JSON call.
fn moto_certificate(ctx: &TestContext) -> String {
    let addr = ctx.url().trim_start_matches("http://").to_string();
    let body = r#"{"DomainName":"app.example.com"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: CertificateManager.RequestCertificate\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/acm/aws4_request, SignedHeaders=host, Signature=0\r\n\
         x-moto-account-id: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        ctx.account_id(),
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let start = response
        .find("arn:aws:acm:")
        .unwrap_or_else(|| panic!("no certificate ARN in {response}"));
    let arn = &response[start..];
    arn[..arn.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn a_certificate_gives_https_with_the_rules_and_http_redirecting() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let elb = ctx.elb();
    let certificate = moto_certificate(&ctx);
    let env = Environment::builder()
        .name("tls")
        .https_certificate_arn(certificate.clone())
        .build()
        .unwrap();
    let site = web("site", 80, &["/*"], "/");

    let plan = d.plan(&env, &[&site]).await.unwrap();
    let report = d
        .apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let lb = elb
        .describe_load_balancers()
        .names("tls-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    assert_eq!(
        report.outputs["site.url"],
        format!("https://{}/", lb.dns_name().unwrap())
    );
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let on = |port: i32| {
        listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(port))
            .unwrap_or_else(|| panic!("no listener on {port}: {listeners:?}"))
    };
    let https = on(443);
    assert_eq!(https.protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(certificate.as_str())
    );
    let redirect = on(80).default_actions()[0].redirect_config().unwrap();
    assert_eq!(
        (redirect.protocol(), redirect.port()),
        (Some("HTTPS"), Some("443"))
    );
    for (port, rules_expected) in [(443, 1), (80, 0)] {
        let rules = elb
            .describe_rules()
            .listener_arn(on(port).listener_arn().unwrap())
            .send()
            .await
            .unwrap();
        let count = rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .count();
        assert_eq!(count, rules_expected, "rules on {port}");
    }
    // The ALB accepts 80 and 443.
    let sg = ctx
        .ec2()
        .describe_security_groups()
        .group_ids(&lb.security_groups()[0])
        .send()
        .await
        .unwrap();
    let mut ports: Vec<i32> = sg.security_groups()[0]
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    ports.sort();
    assert_eq!(ports, [80, 443]);

    let plan = d.plan(&env, &[&site]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");
    d.destroy(&env, &[&site])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn an_adopted_alb_gets_the_rules_and_is_left_as_it_was() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let (ec2, elb) = (ctx.ec2(), ctx.elb());
    // An existing VPC, ALB (with its security group) and listener, made by someone else.
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.5.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.5.1.0/24", "us-east-1a"), ("10.5.2.0/24", "us-east-1b")] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let alb_sg = ec2
        .create_security_group()
        .group_name("shared-alb")
        .description("shared ALB")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let lb = elb
        .create_load_balancer()
        .name("shared")
        .set_subnets(Some(subnets.clone()))
        .security_groups(&alb_sg)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    let lb_arn = lb.load_balancer_arn().unwrap().to_string();
    let not_found = Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("404")
                .content_type("text/plain")
                .build(),
        )
        .build();
    let listener_arn = elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(not_found)
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_string();
    let env = Environment::builder()
        .name("adopt")
        .adopt_network(AdoptNetwork {
            vpc_id: vpc.clone(),
            public_subnet_ids: subnets,
            private_subnet_ids: Vec::new(),
        })
        .adopt_alb(AdoptAlb {
            load_balancer_arn: lb_arn.clone(),
            listener_arn: listener_arn.clone(),
            security_group_id: alb_sg.clone(),
        })
        .build()
        .unwrap();
    let app = web("web", 8080, &["/web/*"], "/web/health");

    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(plan.plan().summary().adopt >= 2, "{plan}");
    let report = d
        .apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    assert_eq!(
        report.outputs["web.url"],
        format!("http://{}/web/", lb.dns_name().unwrap())
    );
    let rules = |elb: fargate_testkit::aws_sdk_elasticloadbalancingv2::Client| {
        let arn = listener_arn.clone();
        async move {
            elb.describe_rules()
                .listener_arn(arn)
                .send()
                .await
                .unwrap()
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
                .filter_map(|r| r.priority().map(str::to_string))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(rules(elb.clone()).await, [app.priority().to_string()]);
    let task_sg = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("adopt-web-task")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let perms = task_sg.security_groups()[0].ip_permissions();
    assert_eq!(perms.len(), 1, "{perms:?}");
    let sources: Vec<&str> = perms[0]
        .user_id_group_pairs()
        .iter()
        .filter_map(|p| p.group_id())
        .collect();
    assert_eq!(sources, [alb_sg.as_str()]);
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");

    // Destroy removes the rule and the app's target group; the ALB and listener stay.
    d.destroy(&env, &[&app])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rules(elb.clone()).await.is_empty());
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1);
    let groups = elb
        .describe_target_groups()
        .load_balancer_arn(&lb_arn)
        .send()
        .await;
    assert!(
        groups
            .as_ref()
            .map_or(true, |o| o.target_groups().is_empty()),
        "{groups:?}"
    );
    let vpcs = ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "the adopted VPC stays");
}

#[tokio::test]
async fn bad_input_is_a_typed_error_before_any_call() {
    let invalid_field = |e: Error| match e {
        Error::Invalid(v) => {
            assert!(!v.allowed.is_empty(), "{v}");
            v.field
        }
        other => panic!("not a validation error: {other}"),
    };
    let no_port = FrontendApp::builder()
        .service(container("web", None))
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(no_port), "web.port");
    let relative_path = FrontendApp::builder()
        .service(container("web", Some(80)))
        .paths(vec!["api/*".into()])
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(relative_path), "web.paths");
    let bad_host = FrontendApp::builder()
        .service(container("web", Some(80)))
        .hosts(vec!["bad host".into()])
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_host), "web.hosts");
    let bad_health = FrontendApp::builder()
        .service(container("web", Some(80)))
        .health_check_path("health")
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_health), "web.health_check_path");
    let bad_priority = FrontendApp::builder()
        .service(container("web", Some(80)))
        .priority(50_001)
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_priority), "web.priority");
    let bad_delay = FrontendApp::builder()
        .service(container("web", Some(80)))
        .deregistration_delay(4000)
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_delay), "web.deregistration_delay");
    let bad_certificate = Environment::builder()
        .name("e")
        .https_certificate_arn("arn:aws:iam::123456789012:server-certificate/x")
        .build()
        .unwrap_err();
    assert_eq!(
        invalid_field(bad_certificate),
        "environment.https_certificate_arn"
    );
    let bad_cidr = Environment::builder()
        .name("e")
        .alb_ingress_cidrs(vec!["10.0.0.1/8".into()])
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_cidr), "environment.alb_ingress_cidrs");
    let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shared/50dc6c495c0c9188";
    let other_listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/other/1111111111111111/f2f7dc8efc522ab2";
    let adopt = |listener: &str, sg: &str| {
        Environment::builder()
            .name("e")
            .adopt_alb(AdoptAlb {
                load_balancer_arn: lb.into(),
                listener_arn: listener.into(),
                security_group_id: sg.into(),
            })
            .build()
    };
    let own_listener = format!(
        "{}/f2f7dc8efc522ab2",
        lb.replace(":loadbalancer/", ":listener/")
    );
    assert!(adopt(&own_listener, "sg-0123456789abcdef0").is_ok());
    assert_eq!(
        invalid_field(adopt(other_listener, "sg-0123456789abcdef0").unwrap_err()),
        "environment.adopt_alb.listener_arn"
    );
    assert_eq!(
        invalid_field(adopt(&own_listener, "shared-alb").unwrap_err()),
        "environment.adopt_alb.security_group_id"
    );

    // Two apps routing the same paths, or asking for one explicit priority: refused by
    // plan before any AWS call. (A default priority is only a preferred position: an
    // explicit one on it is no clash, the default one moves.)
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("clash").build().unwrap();
    let a = web("a", 80, &["/*"], "/");
    let b = web("b", 80, &["/*"], "/");
    let mark = ctx.recorder().mark();
    let same_paths = d.plan(&env, &[&a, &b]).await.unwrap_err();
    assert_eq!(invalid_field(same_paths), "b.paths");
    let explicit = |name: &str, priority: u32| {
        FrontendApp::builder()
            .service(container(name, Some(80)))
            .paths(vec![format!("/{name}/*")])
            .priority(priority)
            .build()
            .unwrap()
    };
    let (c, e) = (explicit("c", 7), explicit("e", 7));
    let same_priority = d.plan(&env, &[&c, &e]).await.unwrap_err();
    assert_eq!(invalid_field(same_priority), "e.priority");
    assert!(ctx.recorder().records_since(mark).is_empty());
}

/// The non-default rules of the environment's ALB listener on port 80: (priority, path).
async fn alb_rules(ctx: &TestContext, alb: &str) -> Vec<(u32, String)> {
    let elb = ctx.elb();
    let lbs = elb
        .describe_load_balancers()
        .names(alb)
        .send()
        .await
        .unwrap();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lbs.load_balancers()[0].load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let rules = elb
        .describe_rules()
        .listener_arn(listeners.listeners()[0].listener_arn().unwrap())
        .page_size(400)
        .send()
        .await
        .unwrap();
    rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let c = &r.conditions()[0];
            let path = c
                .path_pattern_config()
                .map(|p| p.values()[0].clone())
                .unwrap_or_else(|| c.values()[0].clone());
            (r.priority().unwrap().parse().unwrap(), path)
        })
        .collect()
}

#[tokio::test]
async fn thirty_frontends_on_one_alb_get_distinct_priorities_and_reapply_changes_nothing() {
    let ctx = fargate_testkit::context().await;
    // One moto process answers 30 apps' observations: at most 8 requests in flight per
    // service, or moto stalls some of them past the SDK's stalled-stream limit.
    let d = Deployer::with_options(
        &ctx.sdk_config(),
        fargate_deploy::DeployerOptions::default()
            .interceptors(ctx.interceptors())
            .request_limits(fargate_core::limit::RequestLimits::emulator(8)),
    )
    .await
    .unwrap();
    let env = Environment::builder().name("many").build().unwrap();
    let app = |i: usize| {
        let name = format!("app-{i}");
        web(&name, 80, &[&format!("/{name}/*")], "/")
    };
    // Two apps whose preferred positions coincide, then 28 more: the old explicit
    // default priorities would have refused this environment.
    let candidates: Vec<FrontendApp> = (0..1000).map(app).collect();
    let (x, y) = candidates
        .iter()
        .enumerate()
        .find_map(|(i, x)| {
            candidates[i + 1..]
                .iter()
                .find(|y| y.priority() == x.priority())
                .map(|y| (i, y.name().to_string()))
        })
        .expect("1000 names in 500 slots share a preferred priority");
    let mut apps: Vec<FrontendApp> = vec![candidates[x].clone()];
    apps.extend(
        candidates
            .iter()
            .filter(|a| a.name().as_str() == y)
            .cloned(),
    );
    apps.extend(
        candidates
            .iter()
            .enumerate()
            .filter(|(i, a)| *i != x && a.name().as_str() != y)
            .map(|(_, a)| a.clone())
            .take(28),
    );
    assert_eq!(apps.len(), 30);
    assert_eq!(apps[0].priority(), apps[1].priority());
    let refs: Vec<&dyn fargate_deploy::deployer::App> = apps
        .iter()
        .map(|a| a as &dyn fargate_deploy::deployer::App)
        .collect();

    let plan = d.plan(&env, &refs).await.unwrap();
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let rules = alb_rules(&ctx, "many-alb").await;
    assert_eq!(rules.len(), 30, "{rules:?}");
    let distinct: std::collections::BTreeSet<u32> = rules.iter().map(|(p, _)| *p).collect();
    assert_eq!(distinct.len(), 30, "{rules:?}");
    // Every rule in the specificity band of its preferred position.
    for a in &apps {
        let path = format!("/{}/*", a.name());
        let (p, _) = rules.iter().find(|(_, r)| *r == path).unwrap();
        assert_eq!(
            (p - 1) / 500,
            (a.priority() - 1) / 500,
            "{} at {p}",
            a.name()
        );
    }

    // Re-plan: nothing to do; the listener's rules read once, not once per frontend.
    let mark = ctx.recorder().mark();
    let plan = d.plan(&env, &refs).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let reads = ctx.recorder().summary_since(mark).by_operation;
    let count = |op: &str| {
        reads
            .get(&format!("ElasticLoadBalancingv2.{op}"))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "no-op plan of 30 frontends: DescribeRules {}, DescribeTags {}, DescribeListeners {}",
        count("DescribeRules"),
        count("DescribeTags"),
        count("DescribeListeners")
    );
    assert_eq!(count("DescribeRules"), 1, "{reads:?}");
    // Re-apply: no mutating call; every rule kept its priority.
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    assert_eq!(alb_rules(&ctx, "many-alb").await, rules);
}
