//! A BackendApi behind API Gateway against the moto server: the HTTP API's
//! integration goes over the environment's VPC link to the app's NLB
//! listener; every security group on the path VPC link → NLB → task has the
//! rule it needs; re-apply makes no mutating call; destroy leaves nothing of
//! ours. Bad input is a typed error before any call.

use fargate_core::Error;
use fargate_deploy::{BackendApi, ContainerService, Deployer, Environment};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup};

fn container(name: &str, port: u16) -> ContainerService {
    ContainerService::builder()
        .name(name)
        .image("public.ecr.aws/nginx/nginx:1.27")
        .port(port)
        .build()
        .unwrap()
}

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

async fn group(ctx: &TestContext, name: &str) -> SecurityGroup {
    let out = ctx
        .ec2()
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .unwrap();
    assert_eq!(out.security_groups().len(), 1, "{name}: {out:?}");
    out.security_groups()[0].clone()
}

/// `(port, source group ids, CIDRs)` of each ingress permission.
fn ingress(sg: &SecurityGroup) -> Vec<(i32, Vec<String>, usize)> {
    sg.ip_permissions()
        .iter()
        .map(|p: &IpPermission| {
            assert_eq!(p.from_port(), p.to_port());
            (
                p.from_port().unwrap(),
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect(),
                p.ip_ranges().len(),
            )
        })
        .collect()
}

#[tokio::test]
async fn backend_api_reaches_its_tasks_over_vpc_link_and_nlb_through_its_lifecycle() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let apigw = ctx.apigw();
    let elb = ctx.elb();
    let env = Environment::builder().name("be").build().unwrap();
    let orders = BackendApi::builder()
        .service(container("orders", 8080))
        .routes(vec!["GET /orders".into(), "POST /orders".into()])
        .throttling(fargate_deploy::Throttling::new(100, 50.0))
        .jwt(fargate_deploy::Jwt::new(
            "https://auth.example.com/",
            ["orders"],
        ))
        .build()
        .unwrap();
    let port = i32::from(orders.nlb_listener_port());

    // 1. Create.
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    let report = d
        .apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let url = &report.outputs["orders.url"];
    let apis = apigw.get_apis().send().await.unwrap();
    let api = apis
        .items()
        .iter()
        .find(|a| a.name() == Some("be-orders"))
        .unwrap();
    let api_id = api.api_id().unwrap();
    assert_eq!(
        url,
        &format!("https://{api_id}.execute-api.us-east-1.amazonaws.com")
    );

    // The integration goes over the VPC link to the app's listener on the NLB.
    let nlb = elb
        .describe_load_balancers()
        .names("be-nlb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(nlb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1);
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(port));
    let links = apigw.get_vpc_links().send().await.unwrap();
    let link = links
        .items()
        .iter()
        .find(|l| l.name() == Some("be-vpc-link"))
        .unwrap();
    let integrations = apigw
        .get_integrations()
        .api_id(api_id)
        .send()
        .await
        .unwrap();
    assert_eq!(integrations.items().len(), 1);
    let integration = &integrations.items()[0];
    assert_eq!(integration.integration_uri(), listener.listener_arn());
    assert_eq!(integration.connection_id(), link.vpc_link_id());
    let routes = apigw.get_routes().api_id(api_id).send().await.unwrap();
    let mut keys: Vec<&str> = routes
        .items()
        .iter()
        .filter_map(|r| r.route_key())
        .collect();
    keys.sort();
    assert_eq!(keys, ["GET /orders", "POST /orders"]);
    assert!(routes.items().iter().all(|r| r.authorizer_id().is_some()));

    // Security groups: VPC link (no ingress) → NLB (listener port from the link's
    // group only) → tasks (container port from the NLB's group only).
    let link_sg = group(&ctx, "be-vpc-link").await;
    let nlb_sg = group(&ctx, "be-nlb-nlb").await;
    let task_sg = group(&ctx, "be-orders-task").await;
    let link_sg_id = link_sg.group_id().unwrap().to_string();
    let nlb_sg_id = nlb_sg.group_id().unwrap().to_string();
    assert_eq!(link.security_group_ids(), std::slice::from_ref(&link_sg_id));
    assert_eq!(nlb.security_groups(), std::slice::from_ref(&nlb_sg_id));
    assert!(ingress(&link_sg).is_empty());
    assert_eq!(ingress(&nlb_sg), [(port, vec![link_sg_id], 0)]);
    assert_eq!(ingress(&task_sg), [(8080, vec![nlb_sg_id], 0)]);

    // ECS refuses a target group without a listener: the service comes after it.
    let records = ctx.recorder().records();
    let first = |n: &str| records.iter().find(|r| r.name() == n).unwrap().clone();
    assert!(first("ElasticLoadBalancingv2.CreateListener").end <= first("ECS.CreateService").start);
    let tg_name = elb
        .describe_target_groups()
        .load_balancer_arn(nlb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_name()
        .unwrap()
        .to_string();

    // 2. Re-plan: nothing to do; re-apply makes no mutating call.
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // 3. Destroy: no API, VPC link, NLB, target group or security group of ours is left.
    d.destroy(&env, &[&orders])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan_destroy(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    let apis = apigw.get_apis().send().await.unwrap();
    assert!(apis.items().iter().all(|a| a.name() != Some("be-orders")));
    let links = apigw.get_vpc_links().send().await.unwrap();
    assert!(
        links
            .items()
            .iter()
            .all(|l| l.name() != Some("be-vpc-link"))
    );
    let nlbs = elb.describe_load_balancers().names("be-nlb").send().await;
    assert!(
        nlbs.as_ref()
            .map_or(true, |o| o.load_balancers().is_empty()),
        "{nlbs:?}"
    );
    let tgs = elb.describe_target_groups().names(&tg_name).send().await;
    assert!(
        tgs.as_ref().map_or(true, |o| o.target_groups().is_empty()),
        "{tgs:?}"
    );
    let groups = ctx
        .ec2()
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("tag:fargate:environment")
                .values("be")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(groups.security_groups().is_empty(), "{groups:?}");
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
    let api = |routes: &[&str]| {
        BackendApi::builder()
            .service(container("orders", 8080))
            .routes(routes.iter().map(|r| r.to_string()).collect())
            .build()
    };
    for bad in [&["GET orders"][..], &["FETCH /orders"], &["GET /a b"], &[]] {
        assert_eq!(
            invalid_field(api(bad).unwrap_err()),
            "orders.routes",
            "{bad:?}"
        );
    }
    let no_port = BackendApi::builder()
        .service(
            ContainerService::builder()
                .name("orders")
                .image("nginx")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(no_port), "orders.port");
    let bad_issuer = BackendApi::builder()
        .service(container("orders", 8080))
        .jwt(fargate_deploy::Jwt::new(
            "http://auth.example.com",
            ["orders"],
        ))
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_issuer), "orders.jwt.issuer");
    let bad_throttling = BackendApi::builder()
        .service(container("orders", 8080))
        .throttling(fargate_deploy::Throttling::new(0, 10.0))
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(bad_throttling), "orders.throttling");
    let zero_port = BackendApi::builder()
        .service(container("orders", 8080))
        .nlb_listener_port(0)
        .build()
        .unwrap_err();
    assert_eq!(invalid_field(zero_port), "orders.nlb_listener_port");

    // Two APIs on one NLB port: refused by plan before any AWS call.
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("clash").build().unwrap();
    let on = |name: &str| {
        BackendApi::builder()
            .service(container(name, 8080))
            .nlb_listener_port(10080)
            .build()
            .unwrap()
    };
    let (a, b) = (on("a"), on("b"));
    let mark = ctx.recorder().mark();
    let err = d.plan(&env, &[&a, &b]).await.unwrap_err();
    assert_eq!(invalid_field(err), "b.nlb_listener_port");
    assert!(ctx.recorder().records_since(mark).is_empty());
}
