//! The network and security groups against the moto server: create, re-plan
//! (no change, no mutating call), a rule change, destroy (nothing of ours
//! left), and adoption of a VPC made outside fargate-rs.

use std::sync::Arc;
use std::time::Duration;

use fargate_core::wait::Poll;
use fargate_core::{Change, Error, Mode, Plan, Port, Ref, Resource};
use fargate_net::NetClients;
use fargate_net::network::{
    AdoptSpec, Egress, Network, NetworkSpec, SubnetSelector, VpcSelector, Waits,
};
use fargate_net::security_group::{SecurityGroupSpec, load_balancer_sg, task_sg};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::{Filter, NatGatewayState, VpcAttributeName};

use crate::network_support::{converge, env, plan};

fn clients(ctx: &TestContext) -> NetClients {
    NetClients::new(&ctx.sdk_config(), &ctx.interceptors())
}

fn fast() -> Poll {
    Poll::new(Duration::from_secs(30), Duration::from_millis(20))
}

fn port(p: u16) -> Port {
    Port::new(p).unwrap()
}

fn ours() -> Vec<Filter> {
    vec![
        Filter::builder()
            .name("tag:fargate:environment")
            .values("prod")
            .build(),
    ]
}

fn all_unchanged(plan: &Plan) {
    for c in &plan.changes {
        assert!(
            matches!(c.change, Change::NoOp),
            "{} is not unchanged:\n{plan}",
            c.id
        );
    }
}

/// Asserts that a describe call, filtered to our environment tag ([`ours`]),
/// lists nothing in `$list`.
macro_rules! assert_none_ours {
    ($describe:expr, $list:ident) => {{
        let out = $describe.set_filters(Some(ours())).send().await.unwrap();
        assert!(
            out.$list().is_empty(),
            "{}: {:?}",
            stringify!($list),
            out.$list()
        );
    }};
}

/// Nothing carrying our environment tag is left (NAT gateways may linger as `deleted`).
async fn nothing_of_ours_is_left(ctx: &TestContext) {
    let ec2 = ctx.ec2();
    assert_none_ours!(ec2.describe_vpcs(), vpcs);
    assert_none_ours!(ec2.describe_subnets(), subnets);
    assert_none_ours!(ec2.describe_security_groups(), security_groups);
    assert_none_ours!(ec2.describe_internet_gateways(), internet_gateways);
    assert_none_ours!(ec2.describe_route_tables(), route_tables);
    assert_none_ours!(ec2.describe_addresses(), addresses);
    let endpoints = ec2
        .describe_vpc_endpoints()
        .set_filters(Some(ours()))
        .send()
        .await
        .unwrap();
    let live: Vec<_> = endpoints
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            e.state()
                .is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
        })
        .collect();
    assert!(live.is_empty(), "{live:?}");
    let nats = ec2
        .describe_nat_gateways()
        .set_filter(Some(ours()))
        .send()
        .await
        .unwrap();
    let live: Vec<_> = nats
        .nat_gateways()
        .iter()
        .filter(|n| n.state() != Some(&NatGatewayState::Deleted))
        .collect();
    assert!(live.is_empty(), "{live:?}");
}

#[tokio::test]
async fn public_subnets_network_with_security_groups_converges_changes_one_rule_and_is_destroyed() {
    let ctx = fargate_testkit::context().await;
    let clients = clients(&ctx);
    let recorder = ctx.recorder();
    let network = Network::create(NetworkSpec::new(env()))
        .unwrap()
        .with_waits(Waits {
            provisioning: fast(),
            dependencies: fast(),
        });
    let groups = |lb_ports: &[Port]| {
        let lb = load_balancer_sg(&env(), "shared", lb_ports, &[]).with_delete_wait(fast());
        let task = task_sg(&env(), &"web".parse().unwrap(), port(8080), &lb.as_source())
            .with_delete_wait(fast());
        [lb, task]
    };
    let resources = |lb_ports: &[Port]| {
        let mut r: Vec<Arc<dyn Resource<NetClients>>> = network.resources();
        r.extend(groups(lb_ports).map(SecurityGroupSpec::into_resource));
        r
    };
    let web_ports = [Port::HTTP, Port::HTTPS];

    // Create.
    let (created, outputs) = converge(&clients, &resources(&web_ports), Mode::Apply).await;
    assert_eq!(created.summary().create, 7, "{created}");
    let public = outputs.get(&network.public_subnet_ids_key()).unwrap();
    assert_eq!(outputs.get(&network.task_subnet_ids_key()).unwrap(), public);
    assert!(outputs.get(&network.task_public_ip_key()).unwrap());
    let ec2 = ctx.ec2();
    let subnets = ec2
        .describe_subnets()
        .set_subnet_ids(Some(public.clone()))
        .send()
        .await
        .unwrap();
    let mut zones: Vec<&str> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    zones.sort();
    assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
    let vpc = outputs.get(&network.vpc_id_key()).unwrap();
    let hostnames = ec2
        .describe_vpc_attribute()
        .vpc_id(&vpc)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|v| v.value()),
        Some(true)
    );

    // Re-plan: nothing to do; re-apply: no mutating call.
    let mark = recorder.mark();
    let (again, _) = converge(&clients, &resources(&web_ports), Mode::Apply).await;
    all_unchanged(&again);
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    // One more port on the load balancer: one AuthorizeSecurityGroupIngress, nothing else.
    let mark = recorder.mark();
    let (changed, _) = converge(
        &clients,
        &resources(&[Port::HTTP, Port::HTTPS, port(8443)]),
        Mode::Apply,
    )
    .await;
    let lb_id = groups(&web_ports)[0].resource_id();
    for c in &changed.changes {
        if c.id == lb_id {
            assert!(matches!(c.change, Change::Update { .. }), "{changed}");
        } else {
            assert_eq!(c.change, Change::NoOp, "{changed}");
        }
    }
    assert_eq!(
        recorder.mutating_calls_since(mark),
        ["EC2.AuthorizeSecurityGroupIngress"]
    );

    // Destroy: nothing of ours is left.
    let (destroyed, _) = converge(
        &clients,
        &resources(&[Port::HTTP, Port::HTTPS, port(8443)]),
        Mode::Destroy,
    )
    .await;
    assert_eq!(destroyed.summary().delete, 7, "{destroyed}");
    nothing_of_ours_is_left(&ctx).await;
}

#[tokio::test]
async fn shared_nat_network_converges_and_is_destroyed() {
    let ctx = fargate_testkit::context().await;
    let clients = clients(&ctx);
    let recorder = ctx.recorder();
    let network = Network::create(
        NetworkSpec::new(env())
            .egress(Egress::SharedNat)
            .cidr("10.20.0.0/16".parse().unwrap()),
    )
    .unwrap()
    .with_waits(Waits {
        provisioning: fast(),
        dependencies: fast(),
    });
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let (created, outputs) = converge(&clients, &resources, Mode::Apply).await;
    assert_eq!(created.summary().create, 10, "{created}");
    let private = outputs.get(&network.private_subnet_ids_key()).unwrap();
    assert_eq!(private.len(), 2);
    assert_eq!(
        outputs.get(&network.task_subnet_ids_key()).unwrap(),
        private
    );
    assert!(!outputs.get(&network.task_public_ip_key()).unwrap());
    // The private subnets route to the NAT gateway.
    let ec2 = ctx.ec2();
    let tables = ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .set_values(Some(private.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tables.route_tables().len(), 1);
    let default_route = tables.route_tables()[0]
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .and_then(|r| r.nat_gateway_id());
    assert!(
        default_route.is_some_and(|n| n.starts_with("nat-")),
        "{:?}",
        tables.route_tables()
    );

    let mark = recorder.mark();
    let (again, _) = converge(&clients, &resources, Mode::Apply).await;
    all_unchanged(&again);
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    let (destroyed, _) = converge(&clients, &resources, Mode::Destroy).await;
    assert_eq!(destroyed.summary().delete, 10, "{destroyed}");
    nothing_of_ours_is_left(&ctx).await;
}

#[tokio::test]
async fn vpc_endpoints_network_converges_and_is_destroyed() {
    let ctx = fargate_testkit::context().await;
    let clients = clients(&ctx);
    let recorder = ctx.recorder();
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::VpcEndpoints))
        .unwrap()
        .with_waits(Waits {
            provisioning: fast(),
            dependencies: fast(),
        });
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let (created, outputs) = converge(&clients, &resources, Mode::Apply).await;
    // VPC, gateway, 4 subnets, 2 route tables, the endpoints' group, 6 endpoints.
    assert_eq!(created.summary().create, 15, "{created}");
    let private = outputs.get(&network.task_subnet_ids_key()).unwrap();
    let ec2 = ctx.ec2();
    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(ours()[0].clone())
        .send()
        .await
        .unwrap();
    let mut services: Vec<&str> = endpoints
        .vpc_endpoints()
        .iter()
        .filter_map(|e| e.service_name())
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "com.amazonaws.us-east-1.ecr.api",
            "com.amazonaws.us-east-1.ecr.dkr",
            "com.amazonaws.us-east-1.logs",
            "com.amazonaws.us-east-1.s3",
            "com.amazonaws.us-east-1.secretsmanager",
            "com.amazonaws.us-east-1.ssm",
        ]
    );
    let ecr = endpoints
        .vpc_endpoints()
        .iter()
        .find(|e| e.service_name() == Some("com.amazonaws.us-east-1.ecr.dkr"))
        .unwrap();
    let mut in_subnets = ecr.subnet_ids().to_vec();
    in_subnets.sort();
    let mut want = private.clone();
    want.sort();
    assert_eq!(in_subnets, want);
    assert_eq!(ecr.private_dns_enabled(), Some(true));

    let mark = recorder.mark();
    let (again, _) = converge(&clients, &resources, Mode::Apply).await;
    all_unchanged(&again);
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    let (destroyed, _) = converge(&clients, &resources, Mode::Destroy).await;
    assert_eq!(destroyed.summary().delete, 15, "{destroyed}");
    nothing_of_ours_is_left(&ctx).await;
}

#[tokio::test]
async fn an_adopted_vpc_and_subnets_are_used_but_never_changed_or_deleted() {
    let ctx = fargate_testkit::context().await;
    let ec2 = ctx.ec2();
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.9.0.0/24", "us-east-1a"), ("10.9.1.0/24", "us-east-1b")] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().and_then(|s| s.subnet_id()).unwrap().to_string());
    }
    let clients = clients(&ctx);
    let recorder = ctx.recorder();
    let network = Network::adopt(AdoptSpec::by_ids(env(), &vpc, subnets.clone())).unwrap();
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let mark = recorder.mark();
    let (adopted, outputs) = converge(&clients, &resources, Mode::Apply).await;
    assert_eq!(
        adopted.get(&network.vpc_resource_id()).unwrap().change,
        Change::Adopt {
            detail: vpc.clone()
        }
    );
    assert_eq!(adopted.summary().adopt, 2, "{adopted}");
    assert!(!adopted.has_changes());
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );
    assert_eq!(outputs.get(&network.vpc_id_key()).unwrap(), vpc);
    assert_eq!(
        outputs.get(&network.public_subnet_ids_key()).unwrap(),
        subnets
    );
    assert_eq!(
        outputs.get(&network.vpc_cidr_key()).unwrap().to_string(),
        "10.9.0.0/16"
    );

    // A group with our name in the adopted VPC, made by someone else: refused.
    ec2.create_security_group()
        .group_name("prod-shared-lb")
        .description("not ours")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let lb = load_balancer_sg(&env(), "shared", &[Port::HTTP], &[]).with_vpc(network.vpc_ref());
    assert!(matches!(network.vpc_ref(), Ref::Known(ref id) if *id == vpc));
    let mark = recorder.mark();
    let refused = plan(&clients, &[lb.into_resource()], Mode::Apply).await;
    assert!(
        matches!(refused, Err(Error::NotOwned { .. })),
        "{refused:?}"
    );
    assert!(recorder.mutating_calls_since(mark).is_empty());

    // The same VPC and subnets chosen by tags instead of ids.
    let tag = |k: &str, v: &str| {
        fargate_testkit::aws_sdk_ec2::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    };
    ec2.create_tags()
        .resources(&vpc)
        .tags(tag("network", "shared"))
        .send()
        .await
        .unwrap();
    ec2.create_tags()
        .set_resources(Some(subnets.clone()))
        .tags(tag("tier", "public"))
        .send()
        .await
        .unwrap();
    let by_tags = Network::adopt(AdoptSpec::new(
        env(),
        VpcSelector::Tags(vec![("network".into(), "shared".into())]),
        SubnetSelector::Tags(vec![("tier".into(), "public".into())]),
    ))
    .unwrap();
    let mark = recorder.mark();
    let (tagged, outputs) = converge(&clients, &by_tags.resources(), Mode::Apply).await;
    assert_eq!(tagged.summary().adopt, 2, "{tagged}");
    assert!(recorder.mutating_calls_since(mark).is_empty());
    assert_eq!(outputs.get(&by_tags.vpc_id_key()).unwrap(), vpc);
    let mut found = outputs.get(&by_tags.task_subnet_ids_key()).unwrap();
    found.sort();
    let mut want = subnets.clone();
    want.sort();
    assert_eq!(found, want);

    // Destroy leaves them in place.
    let mark = recorder.mark();
    let (destroyed, _) = converge(&clients, &resources, Mode::Destroy).await;
    all_unchanged(&destroyed);
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );
    let still = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnets.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(still.subnets().len(), 2);
    assert_eq!(
        ec2.describe_vpcs()
            .vpc_ids(&vpc)
            .send()
            .await
            .unwrap()
            .vpcs()
            .len(),
        1
    );
}
