//! A BackendApi in an environment that adopts an existing Network Load Balancer
//! (`adopt_nlb`), against the moto server: the app's TCP listener and target group go on
//! the foreign NLB, no NLB or NLB security group is made, the tasks accept traffic from the
//! NLB's security group, the plan shows the NLB as adopted, re-apply makes no mutating call,
//! and destroy removes our listener and target group and leaves the NLB and its security
//! group as they were. An adopted VPC link is used as it is and kept (a missing one is refused
//! by the plan). An ALB given as the NLB is refused by the plan before any change. Bad input is
//! a typed error naming `environment.adopt_nlb.<field>` before any call.

use fargate_core::Error;
use fargate_deploy::environment::AdoptNlb;
use fargate_deploy::{AdoptNetwork, BackendApi, ContainerService, Deployer, Environment};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::{Filter, IpPermission, IpRange, SecurityGroup};
use fargate_testkit::aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};

/// The foreign pieces: a VPC with two subnets, an internal NLB and its security group
/// (accepting the BackendApi listener ports from the VPC), made with the SDK directly.
struct Foreign {
    vpc: String,
    subnets: Vec<String>,
    nlb_sg: String,
    nlb: LoadBalancer,
}

impl Foreign {
    fn nlb_arn(&self) -> String {
        self.nlb.load_balancer_arn().unwrap().to_string()
    }
}

async fn foreign(ctx: &TestContext, cidr_prefix: &str) -> Foreign {
    let (ec2, elb) = (ctx.ec2(), ctx.elb());
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{cidr_prefix}.0.0/16"))
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (i, az) in [(1, "us-east-1a"), (2, "us-east-1b")] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("{cidr_prefix}.{i}.0/24"))
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let nlb_sg = ec2
        .create_security_group()
        .group_name("shared-nlb")
        .description("shared NLB")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&nlb_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(10000)
                .to_port(19999)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip(format!("{cidr_prefix}.0.0/16"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let nlb = elb
        .create_load_balancer()
        .name("shared-nlb")
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets.clone()))
        .security_groups(&nlb_sg)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    Foreign {
        vpc,
        subnets,
        nlb_sg,
        nlb,
    }
}

fn api(name: &str, port: u16) -> BackendApi {
    BackendApi::builder()
        .service(
            ContainerService::builder()
                .name(name)
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(port)
                .build()
                .unwrap(),
        )
        .routes(vec![format!("GET /{name}")])
        .build()
        .unwrap()
}

fn environment(name: &str, f: &Foreign, vpc_link_id: Option<String>) -> Environment {
    Environment::builder()
        .name(name)
        .adopt_network(AdoptNetwork {
            vpc_id: f.vpc.clone(),
            public_subnet_ids: f.subnets.clone(),
            private_subnet_ids: Vec::new(),
        })
        .adopt_nlb(AdoptNlb {
            load_balancer_arn: f.nlb_arn(),
            security_group_ids: vec![f.nlb_sg.clone()],
            vpc_link_id,
        })
        .build()
        .unwrap()
}

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

async fn group_named(ctx: &TestContext, name: &str) -> Vec<SecurityGroup> {
    ctx.ec2()
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .unwrap()
        .security_groups()
        .to_vec()
}

/// What the test compares of the foreign NLB and its group before and after: the NLB as
/// described (state, groups, subnets), its attributes and tags, and the group's rules.
async fn snapshot(ctx: &TestContext, f: &Foreign) -> String {
    let elb = ctx.elb();
    let arn = f.nlb_arn();
    let lbs = elb
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(lbs.load_balancers().len(), 1, "the foreign NLB stays");
    let lb = &lbs.load_balancers()[0];
    let attributes = elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags = elb
        .describe_tags()
        .resource_arns(&arn)
        .send()
        .await
        .unwrap();
    let sg = ctx
        .ec2()
        .describe_security_groups()
        .group_ids(&f.nlb_sg)
        .send()
        .await
        .unwrap();
    assert_eq!(sg.security_groups().len(), 1, "the foreign group stays");
    let sg = &sg.security_groups()[0];
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        lb.security_groups(),
        lb.availability_zones(),
        lb.scheme(),
        attributes.attributes(),
        tags.tag_descriptions(),
        (sg.ip_permissions(), sg.tags()),
    )
}

#[tokio::test]
async fn an_adopted_nlb_gets_the_listener_and_is_left_as_it_was() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let (elb, apigw) = (ctx.elb(), ctx.apigw());
    let f = foreign(&ctx, "10.7").await;
    let before = snapshot(&ctx, &f).await;
    let env = environment("anlb", &f, None);
    let orders = api("orders", 8080);
    let port = i32::from(orders.nlb_listener_port());

    // 1. Create: the NLB is adopted, nothing of it (nor an NLB group) is planned.
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    let text = plan.to_string();
    assert!(
        text.contains(&format!("(adopted: {})", f.nlb_arn())),
        "the NLB shows as adopted:\n{text}"
    );
    assert!(!text.contains("anlb-nlb-nlb"), "no NLB group:\n{text}");
    let mark = ctx.recorder().mark();
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let mutating = ctx.recorder().mutating_calls_since(mark);
    assert!(
        !mutating.iter().any(|c| c.ends_with(".CreateLoadBalancer")
            || c.ends_with(".SetSecurityGroups")
            || c.ends_with(".ModifyLoadBalancerAttributes")),
        "{mutating:?}"
    );
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    assert_eq!(lbs.load_balancers().len(), 1, "no NLB of ours: {lbs:?}");
    assert!(group_named(&ctx, "anlb-nlb-nlb").await.is_empty());

    // The app's listener is on the foreign NLB, forwarding to the app's target group,
    // and the API's integration goes to it over the VPC link made for the environment.
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(f.nlb_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1, "{listeners:?}");
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(port));
    assert_eq!(listener.protocol().map(|p| p.as_str()), Some("TCP"));
    let groups = elb
        .describe_target_groups()
        .load_balancer_arn(f.nlb_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(groups.target_groups().len(), 1, "{groups:?}");
    let tg_name = groups.target_groups()[0]
        .target_group_name()
        .unwrap()
        .to_string();
    let apis = apigw.get_apis().send().await.unwrap();
    let api_id = apis
        .items()
        .iter()
        .find(|a| a.name() == Some("anlb-orders"))
        .and_then(|a| a.api_id())
        .unwrap()
        .to_string();
    let integrations = apigw
        .get_integrations()
        .api_id(&api_id)
        .send()
        .await
        .unwrap();
    let integration = &integrations.items()[0];
    assert_eq!(integration.integration_uri(), listener.listener_arn());
    let links = apigw.get_vpc_links().send().await.unwrap();
    let link = links
        .items()
        .iter()
        .find(|l| l.name() == Some("anlb-vpc-link"))
        .unwrap();
    assert_eq!(integration.connection_id(), link.vpc_link_id());

    // The tasks accept the container port from the NLB's group only.
    let task = group_named(&ctx, "anlb-orders-task").await;
    let perms = task[0].ip_permissions();
    assert_eq!(perms.len(), 1, "{perms:?}");
    assert_eq!(perms[0].from_port(), Some(8080));
    let sources: Vec<&str> = perms[0]
        .user_id_group_pairs()
        .iter()
        .filter_map(|p| p.group_id())
        .collect();
    assert_eq!(sources, [f.nlb_sg.as_str()]);
    assert!(perms[0].ip_ranges().is_empty());
    assert_eq!(
        snapshot(&ctx, &f).await,
        before,
        "apply left the NLB as it was"
    );

    // 2. Re-plan: nothing to do; re-apply makes no mutating call.
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");
    let mark = ctx.recorder().mark();
    d.apply(plan).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // 3. Destroy: our listener, target group, API, VPC link and groups go; the NLB and
    // its group stay as they were.
    let mark = ctx.recorder().mark();
    d.destroy(&env, &[&orders])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let destroyed = ctx.recorder().mutating_calls_since(mark);
    assert!(
        !destroyed.iter().any(|c| c.ends_with(".DeleteLoadBalancer")),
        "{destroyed:?}"
    );
    let plan = d.plan_destroy(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "nothing left to destroy:\n{plan}");
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(f.nlb_arn())
        .send()
        .await
        .unwrap();
    assert!(listeners.listeners().is_empty(), "{listeners:?}");
    let tgs = elb.describe_target_groups().names(&tg_name).send().await;
    assert!(
        tgs.as_ref().map_or(true, |o| o.target_groups().is_empty()),
        "{tgs:?}"
    );
    let links = apigw.get_vpc_links().send().await.unwrap();
    assert!(
        links
            .items()
            .iter()
            .all(|l| l.name() != Some("anlb-vpc-link"))
    );
    let ours = ctx
        .ec2()
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("tag:fargate:environment")
                .values("anlb")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(ours.security_groups().is_empty(), "{ours:?}");
    assert_eq!(
        snapshot(&ctx, &f).await,
        before,
        "destroy left the NLB as it was"
    );
}

#[tokio::test]
async fn an_adopted_vpc_link_is_used_and_kept() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let apigw = ctx.apigw();
    let f = foreign(&ctx, "10.8").await;
    let link_id = apigw
        .create_vpc_link()
        .name("shared-link")
        .set_subnet_ids(Some(f.subnets.clone()))
        .security_group_ids(&f.nlb_sg)
        .send()
        .await
        .unwrap()
        .vpc_link_id()
        .unwrap()
        .to_string();
    let env = environment("alink", &f, Some(link_id.clone()));
    let orders = api("orders", 8080);

    let plan = d.plan(&env, &[&orders]).await.unwrap();
    let text = plan.to_string();
    assert!(
        text.contains(&format!("(adopted: {link_id})")),
        "the VPC link shows as adopted:\n{text}"
    );
    let mark = ctx.recorder().mark();
    d.apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let mutating = ctx.recorder().mutating_calls_since(mark);
    assert!(
        !mutating.iter().any(|c| c.ends_with(".CreateVpcLink")),
        "{mutating:?}"
    );
    assert!(group_named(&ctx, "alink-vpc-link").await.is_empty());
    let apis = apigw.get_apis().send().await.unwrap();
    let api_id = apis
        .items()
        .iter()
        .find(|a| a.name() == Some("alink-orders"))
        .and_then(|a| a.api_id())
        .unwrap()
        .to_string();
    let integrations = apigw
        .get_integrations()
        .api_id(&api_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        integrations.items()[0].connection_id(),
        Some(link_id.as_str())
    );
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "second plan should be empty:\n{plan}");

    d.destroy(&env, &[&orders])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let link = apigw
        .get_vpc_link()
        .vpc_link_id(&link_id)
        .send()
        .await
        .unwrap();
    assert_eq!(link.name(), Some("shared-link"), "the adopted link stays");
    let apis = apigw.get_apis().send().await.unwrap();
    assert!(
        apis.items()
            .iter()
            .all(|a| a.name() != Some("alink-orders"))
    );
}

#[tokio::test]
async fn adopting_an_alb_as_the_nlb_is_refused_by_the_plan_before_any_change() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let f = foreign(&ctx, "10.9").await;
    let alb = ctx
        .elb()
        .create_load_balancer()
        .name("web")
        .set_subnets(Some(f.subnets.clone()))
        .security_groups(&f.nlb_sg)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let env = Environment::builder()
        .name("wrong")
        .adopt_network(AdoptNetwork {
            vpc_id: f.vpc.clone(),
            public_subnet_ids: f.subnets.clone(),
            private_subnet_ids: Vec::new(),
        })
        .adopt_nlb(AdoptNlb {
            load_balancer_arn: alb,
            security_group_ids: vec![f.nlb_sg.clone()],
            vpc_link_id: None,
        })
        .build()
        .unwrap();
    let mark = ctx.recorder().mark();
    let err = d.plan(&env, &[&api("orders", 8080)]).await.unwrap_err();
    let Error::Invalid(v) = err else {
        panic!("not a validation error: {err}")
    };
    assert_eq!(v.field, "environment.adopt_nlb.load_balancer_arn");
    assert!(v.reason.contains("application"), "{v}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_missing_adopted_vpc_link_is_refused_by_the_plan_and_ignored_by_destroy() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let f = foreign(&ctx, "10.10").await;
    let env = environment("nolink", &f, Some("gone123".into()));
    let orders = api("orders", 8080);
    let mark = ctx.recorder().mark();
    let err = d.plan(&env, &[&orders]).await.unwrap_err();
    let Error::NotFound { resource, detail } = &err else {
        panic!("not a not-found error: {err}")
    };
    assert_eq!(resource.name, "nolink/vpc-link:adopted", "{err}");
    assert!(detail.contains("gone123"), "{err}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    // Destroy has nothing of ours to remove and does not need the link.
    let plan = d.plan_destroy(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "nothing to destroy:\n{plan}");
}

#[test]
fn bad_adopt_nlb_input_is_a_typed_error_naming_the_field() {
    let field = |r: Result<Environment, Error>| match r {
        Err(Error::Invalid(v)) => {
            assert!(!v.allowed.is_empty(), "{v}");
            v.field
        }
        Err(other) => panic!("not a validation error: {other}"),
        Ok(_) => panic!("accepted"),
    };
    let nlb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/shared/50dc6c495c0c9188";
    let adopt = |arn: &str, sgs: &[&str], link: Option<&str>, network: bool| {
        let b = Environment::builder().name("e");
        let a = AdoptNlb {
            load_balancer_arn: arn.into(),
            security_group_ids: sgs.iter().map(|s| s.to_string()).collect(),
            vpc_link_id: link.map(str::to_string),
        };
        if network {
            b.adopt_nlb(a)
                .adopt_network(AdoptNetwork {
                    vpc_id: "vpc-0123456789abcdef0".into(),
                    public_subnet_ids: vec!["subnet-0a".into(), "subnet-0b".into()],
                    private_subnet_ids: Vec::new(),
                })
                .build()
        } else {
            b.adopt_nlb(a).build()
        }
    };
    let sg = "sg-0123456789abcdef0";
    assert!(adopt(nlb, &[sg], Some("abc123"), true).is_ok());
    assert!(
        adopt(nlb, &[], None, false).is_ok(),
        "VPC CIDR of a new network"
    );
    assert_eq!(
        field(adopt(
            &nlb.replace(":loadbalancer/", ":targetgroup/"),
            &[sg],
            None,
            false
        )),
        "environment.adopt_nlb.load_balancer_arn"
    );
    assert_eq!(
        field(adopt("shared-nlb", &[sg], None, false)),
        "environment.adopt_nlb.load_balancer_arn"
    );
    assert_eq!(
        field(adopt(nlb, &[sg, "shared-nlb"], None, false)),
        "environment.adopt_nlb.security_group_ids"
    );
    assert_eq!(
        field(adopt(nlb, &[], None, true)),
        "environment.adopt_nlb.security_group_ids",
        "an adopted network's CIDR is not known before the plan"
    );
    for bad in [
        "",
        "vpclink-ABC",
        "arn:aws:apigateway:us-east-1::/vpclinks/abc123",
    ] {
        assert_eq!(
            field(adopt(nlb, &[sg], Some(bad), false)),
            "environment.adopt_nlb.vpc_link_id",
            "{bad:?}"
        );
    }
    let json = serde_json::json!({
        "name": "e",
        "adopt_nlb": {"load_balancer_arn": nlb, "vpc_link_id": "abc123", "extra": 1}
    });
    let unknown = serde_json::from_value::<fargate_deploy::environment::EnvironmentSpec>(json);
    assert!(unknown.unwrap_err().to_string().contains("extra"));
}
