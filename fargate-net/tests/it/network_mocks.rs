//! The network against mocked EC2 (aws-smithy-mocks): exact call sequences,
//! refusal of foreign objects, destroy order and adoption errors.

use std::sync::{Arc, Mutex};

use fargate_core::{CallRecorder, Change, Error, Mode, Resource};
use fargate_net::NetClients;
use fargate_net::network::{AdoptSpec, Egress, Network, NetworkSpec, Waits};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_ec2::Client;
use fargate_testkit::aws_sdk_ec2::operation::{
    allocate_address::AllocateAddressOutput, associate_route_table::AssociateRouteTableOutput,
    attach_internet_gateway::AttachInternetGatewayOutput,
    create_internet_gateway::CreateInternetGatewayOutput,
    create_nat_gateway::CreateNatGatewayOutput, create_route::CreateRouteOutput,
    create_route_table::CreateRouteTableOutput, create_subnet::CreateSubnetOutput,
    create_vpc::CreateVpcOutput, delete_internet_gateway::DeleteInternetGatewayOutput,
    delete_nat_gateway::DeleteNatGatewayOutput, delete_route_table::DeleteRouteTableOutput,
    delete_subnet::DeleteSubnetOutput, delete_vpc::DeleteVpcError, delete_vpc::DeleteVpcOutput,
    describe_addresses::DescribeAddressesOutput,
    describe_availability_zones::DescribeAvailabilityZonesOutput,
    describe_internet_gateways::DescribeInternetGatewaysOutput,
    describe_nat_gateways::DescribeNatGatewaysOutput,
    describe_route_tables::DescribeRouteTablesOutput, describe_subnets::DescribeSubnetsOutput,
    describe_vpcs::DescribeVpcsOutput, detach_internet_gateway::DetachInternetGatewayOutput,
    disassociate_route_table::DisassociateRouteTableOutput,
    modify_vpc_attribute::ModifyVpcAttributeOutput, release_address::ReleaseAddressOutput,
};
use fargate_testkit::aws_sdk_ec2::types::{
    Address, AvailabilityZone, InternetGateway, InternetGatewayAttachment, NatGateway,
    NatGatewayState, RouteTable, RouteTableAssociation, Subnet, Tag, Vpc,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::network_support::{
    component_filter, converge, env, filter_values, mock_clients, owned_tags, plan, run,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn push(log: &Log, entry: String) {
    log.lock().unwrap().push(entry);
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn position(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry} not in {log:?}"))
}

fn zones_rule() -> Rule {
    mock!(Client::describe_availability_zones).then_output(|| {
        let zone = |n: &str| AvailabilityZone::builder().zone_name(n).build();
        // Out of order on purpose: the first zones are taken in name order.
        DescribeAvailabilityZonesOutput::builder()
            .availability_zones(zone("us-east-1c"))
            .availability_zones(zone("us-east-1a"))
            .availability_zones(zone("us-east-1b"))
            .build()
    })
}

/// Describe rules that find nothing (a new account).
fn empty_describes() -> Vec<Rule> {
    vec![
        zones_rule(),
        mock!(Client::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build()),
        mock!(Client::describe_internet_gateways)
            .then_output(|| DescribeInternetGatewaysOutput::builder().build()),
        mock!(Client::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build()),
        mock!(Client::describe_route_tables)
            .then_output(|| DescribeRouteTablesOutput::builder().build()),
        mock!(Client::describe_addresses)
            .then_output(|| DescribeAddressesOutput::builder().build()),
    ]
}

/// Create rules for the VPC, gateway, subnets and route tables, logging their key arguments.
fn create_rules(log: &Log) -> Vec<Rule> {
    let (l1, l2, l3, l4, l5, l6) = (
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
    );
    vec![
        mock!(Client::create_vpc).then_compute_output(move |i| {
            push(
                &l1,
                format!("CreateVpc {}", i.cidr_block().unwrap_or_default()),
            );
            CreateVpcOutput::builder()
                .vpc(Vpc::builder().vpc_id("vpc-1").build())
                .build()
        }),
        mock!(Client::modify_vpc_attribute).then_compute_output(move |i| {
            let hostnames = i.enable_dns_hostnames().and_then(|v| v.value());
            push(
                &l2,
                format!(
                    "ModifyVpcAttribute {} hostnames={hostnames:?}",
                    i.vpc_id().unwrap_or_default()
                ),
            );
            ModifyVpcAttributeOutput::builder().build()
        }),
        mock!(Client::create_internet_gateway).then_compute_output(move |_| {
            push(&l3, "CreateInternetGateway".into());
            CreateInternetGatewayOutput::builder()
                .internet_gateway(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-1")
                        .build(),
                )
                .build()
        }),
        mock!(Client::attach_internet_gateway).then_compute_output(move |i| {
            push(
                &l4,
                format!(
                    "AttachInternetGateway {} {}",
                    i.internet_gateway_id().unwrap_or_default(),
                    i.vpc_id().unwrap_or_default()
                ),
            );
            AttachInternetGatewayOutput::builder().build()
        }),
        mock!(Client::create_subnet).then_compute_output(move |i| {
            let cidr = i.cidr_block().unwrap_or_default().to_string();
            let zone = i.availability_zone().unwrap_or_default().to_string();
            push(
                &l5,
                format!(
                    "CreateSubnet {} {cidr} {zone}",
                    i.vpc_id().unwrap_or_default()
                ),
            );
            // subnet-<third octet>, e.g. subnet-64 for 10.0.64.0/18.
            let id = format!("subnet-{}", cidr.split('.').nth(2).unwrap_or("x"));
            CreateSubnetOutput::builder()
                .subnet(Subnet::builder().subnet_id(id).build())
                .build()
        }),
        mock!(Client::create_route_table).then_compute_output(move |_| {
            let n = l6
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.starts_with("CreateRouteTable"))
                .count();
            push(&l6, format!("CreateRouteTable rtb-{n}"));
            CreateRouteTableOutput::builder()
                .route_table(
                    RouteTable::builder()
                        .route_table_id(format!("rtb-{n}"))
                        .build(),
                )
                .build()
        }),
    ]
}

fn route_rules(log: &Log) -> Vec<Rule> {
    let (l1, l2) = (log.clone(), log.clone());
    vec![
        mock!(Client::create_route).then_compute_output(move |i| {
            let target = i.gateway_id().or(i.nat_gateway_id()).unwrap_or_default();
            push(
                &l1,
                format!(
                    "CreateRoute {} {} {target}",
                    i.route_table_id().unwrap_or_default(),
                    i.destination_cidr_block().unwrap_or_default()
                ),
            );
            CreateRouteOutput::builder().r#return(true).build()
        }),
        mock!(Client::associate_route_table).then_compute_output(move |i| {
            push(
                &l2,
                format!(
                    "AssociateRouteTable {} {}",
                    i.route_table_id().unwrap_or_default(),
                    i.subnet_id().unwrap_or_default()
                ),
            );
            AssociateRouteTableOutput::builder()
                .association_id("rtbassoc-1")
                .build()
        }),
    ]
}

fn short_waits() -> Waits {
    let poll = fargate_core::wait::Poll::new(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(1),
    );
    Waits {
        provisioning: poll,
        dependencies: poll,
    }
}

#[tokio::test]
async fn a_new_public_subnets_network_is_created_in_dependency_order() {
    let recorder = CallRecorder::new();
    let log = log();
    let rules: Vec<Rule> = empty_describes()
        .into_iter()
        .chain(create_rules(&log))
        .chain(route_rules(&log))
        .collect();
    let clients = mock_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let network = Network::create(NetworkSpec::new(env())).unwrap();
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let (plan, outputs) = converge(&clients, &resources, Mode::Apply).await;

    assert_eq!(plan.summary().create, 5, "{plan}");
    let calls = recorder.mutating_calls();
    // The VPC first; then, concurrently, the gateway and the subnets; the route table last.
    assert_eq!(
        calls[..2],
        ["EC2.CreateVpc", "EC2.ModifyVpcAttribute"],
        "{calls:?}"
    );
    let mut middle = calls[2..6].to_vec();
    middle.sort();
    assert_eq!(
        middle,
        [
            "EC2.AttachInternetGateway",
            "EC2.CreateInternetGateway",
            "EC2.CreateSubnet",
            "EC2.CreateSubnet"
        ],
        "{calls:?}"
    );
    assert_eq!(
        calls[6..],
        [
            "EC2.CreateRouteTable",
            "EC2.CreateRoute",
            "EC2.AssociateRouteTable",
            "EC2.AssociateRouteTable"
        ],
        "{calls:?}"
    );
    let log = entries(&log);
    assert!(
        log.contains(&"CreateVpc 10.0.0.0/16".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"ModifyVpcAttribute vpc-1 hostnames=Some(true)".to_string()),
        "{log:?}"
    );
    assert!(
        position(&log, "CreateInternetGateway")
            < position(&log, "AttachInternetGateway igw-1 vpc-1")
    );
    assert!(
        log.contains(&"CreateSubnet vpc-1 10.0.0.0/18 us-east-1a".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"CreateSubnet vpc-1 10.0.64.0/18 us-east-1b".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"CreateRoute rtb-0 0.0.0.0/0 igw-1".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"AssociateRouteTable rtb-0 subnet-0".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"AssociateRouteTable rtb-0 subnet-64".to_string()),
        "{log:?}"
    );

    assert_eq!(outputs.get(&network.vpc_id_key()).unwrap(), "vpc-1");
    assert_eq!(
        outputs.get(&network.public_subnet_ids_key()).unwrap(),
        ["subnet-0", "subnet-64"]
    );
    assert!(
        outputs
            .get(&network.private_subnet_ids_key())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        outputs.get(&network.task_subnet_ids_key()).unwrap(),
        ["subnet-0", "subnet-64"]
    );
    assert!(outputs.get(&network.task_public_ip_key()).unwrap());
}

#[tokio::test]
async fn a_shared_nat_routes_private_subnets_only_once_the_nat_gateway_is_available() {
    let recorder = CallRecorder::new();
    let log = log();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let nat_rules = vec![
        mock!(Client::allocate_address).then_compute_output(move |_| {
            push(&l1, "AllocateAddress".into());
            AllocateAddressOutput::builder()
                .allocation_id("eipalloc-1")
                .build()
        }),
        mock!(Client::create_nat_gateway).then_compute_output(move |i| {
            push(
                &l2,
                format!(
                    "CreateNatGateway {} {}",
                    i.subnet_id().unwrap_or_default(),
                    i.allocation_id().unwrap_or_default()
                ),
            );
            CreateNatGatewayOutput::builder()
                .nat_gateway(
                    NatGateway::builder()
                        .nat_gateway_id("nat-1")
                        .state(NatGatewayState::Pending)
                        .build(),
                )
                .build()
        }),
        // Observing finds no NAT gateway; then, polled by id, it is pending twice, then available.
        mock!(Client::describe_nat_gateways)
            .match_requests(|i| i.nat_gateway_ids().is_empty())
            .then_output(|| DescribeNatGatewaysOutput::builder().build()),
        mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| nat_in_state(NatGatewayState::Pending))
            .times(2)
            .output(move || {
                push(&l3, "NAT available".into());
                nat_in_state(NatGatewayState::Available)
            })
            .repeatedly()
            .build(),
    ];
    let rules: Vec<Rule> = empty_describes()
        .into_iter()
        .chain(create_rules(&log))
        .chain(route_rules(&log))
        .chain(nat_rules)
        .collect();
    let clients = mock_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat))
        .unwrap()
        .with_waits(short_waits());
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let (plan, outputs) = converge(&clients, &resources, Mode::Apply).await;

    assert_eq!(plan.summary().create, 10, "{plan}");
    let log = entries(&log);
    let nat = position(&log, "CreateNatGateway subnet-0 eipalloc-1");
    assert!(position(&log, "AllocateAddress") < nat, "{log:?}");
    assert!(
        position(&log, "AttachInternetGateway igw-1 vpc-1") < nat,
        "{log:?}"
    );
    assert!(
        position(&log, "CreateSubnet vpc-1 10.0.0.0/18 us-east-1a") < nat,
        "{log:?}"
    );
    let private_route = log
        .iter()
        .position(|e| e.starts_with("CreateRoute") && e.ends_with("nat-1"))
        .unwrap();
    assert!(position(&log, "NAT available") < private_route, "{log:?}");
    assert!(
        log.contains(&"CreateSubnet vpc-1 10.0.128.0/18 us-east-1a".to_string()),
        "{log:?}"
    );
    assert_eq!(
        outputs.get(&network.task_subnet_ids_key()).unwrap(),
        ["subnet-128", "subnet-192"]
    );
    assert!(!outputs.get(&network.task_public_ip_key()).unwrap());
}

fn nat_in_state(state: NatGatewayState) -> DescribeNatGatewaysOutput {
    DescribeNatGatewaysOutput::builder()
        .nat_gateways(
            NatGateway::builder()
                .nat_gateway_id("nat-1")
                .state(state)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_vpc_found_without_our_tags_is_refused_before_any_change() {
    let recorder = CallRecorder::new();
    let mut rules = empty_describes();
    rules[1] = mock!(Client::describe_vpcs).then_output(|| {
        DescribeVpcsOutput::builder()
            .vpcs(
                Vpc::builder()
                    .vpc_id("vpc-theirs")
                    .cidr_block("10.0.0.0/16")
                    .tags(Tag::builder().key("Name").value("prod-vpc").build())
                    .build(),
            )
            .build()
    });
    let clients = mock_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let resources: Vec<Arc<dyn Resource<NetClients>>> = Network::create(NetworkSpec::new(env()))
        .unwrap()
        .resources();

    let err = plan(&clients, &resources, Mode::Apply).await.unwrap_err();

    match &err {
        Error::NotOwned { resource, detail } => {
            assert_eq!(resource.to_string(), "ec2:vpc prod");
            assert!(detail.contains("vpc-theirs"), "{detail}");
        }
        other => panic!("expected NotOwned, got {other:?}"),
    }
    assert!(
        recorder.mutating_calls().is_empty(),
        "{:?}",
        recorder.mutating_calls()
    );
}

/// An existing shared-NAT network with 2 zones, as EC2 describes it.
fn existing_network_describes(log: &Log) -> Vec<Rule> {
    let subnet = |name: &str| {
        Subnet::builder()
            .subnet_id(format!("subnet-{name}"))
            .vpc_id("vpc-1")
            .cidr_block("10.0.0.0/18")
            .availability_zone("us-east-1a")
            .set_tags(Some(owned_tags(&format!("subnet-{name}"))))
            .build()
    };
    let table = |name: &str, subnets: &[&str]| {
        let mut t = RouteTable::builder()
            .route_table_id(format!("rtb-{name}"))
            .set_tags(Some(owned_tags(&format!("rt-{name}"))));
        for s in subnets {
            t = t.associations(
                RouteTableAssociation::builder()
                    .main(false)
                    .route_table_association_id(format!("assoc-{s}"))
                    .subnet_id(format!("subnet-{s}"))
                    .build(),
            );
        }
        t.build()
    };
    let nat_log = log.clone();
    vec![
        mock!(Client::describe_vpcs).then_output(|| {
            DescribeVpcsOutput::builder()
                .vpcs(
                    Vpc::builder()
                        .vpc_id("vpc-1")
                        .cidr_block("10.0.0.0/16")
                        .set_tags(Some(owned_tags("vpc")))
                        .build(),
                )
                .build()
        }),
        mock!(Client::describe_internet_gateways).then_output(|| {
            DescribeInternetGatewaysOutput::builder()
                .internet_gateways(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-1")
                        .attachments(
                            InternetGatewayAttachment::builder()
                                .vpc_id("vpc-1")
                                .state("available".into())
                                .build(),
                        )
                        .set_tags(Some(owned_tags("igw")))
                        .build(),
                )
                .build()
        }),
        mock!(Client::describe_subnets).then_compute_output(move |i| {
            let by_component = component_filter(i.filters())
                .and_then(|c| c.strip_prefix("subnet-").map(str::to_string));
            let names: Vec<String> = match by_component {
                Some(name) => vec![name],
                None => filter_values(i.filters(), "subnet-id")
                    .iter()
                    .filter_map(|id| id.strip_prefix("subnet-").map(str::to_string))
                    .collect(),
            };
            DescribeSubnetsOutput::builder()
                .set_subnets(Some(names.iter().map(|n| subnet(n)).collect()))
                .build()
        }),
        mock!(Client::describe_route_tables).then_compute_output(move |i| {
            let t = match component_filter(i.filters()).as_deref() {
                Some("rt-public") => table("public", &["public-a", "public-b"]),
                _ => table("private", &["private-a", "private-b"]),
            };
            DescribeRouteTablesOutput::builder().route_tables(t).build()
        }),
        mock!(Client::describe_addresses).then_output(|| {
            DescribeAddressesOutput::builder()
                .addresses(
                    Address::builder()
                        .allocation_id("eipalloc-1")
                        .domain("vpc".into())
                        .set_tags(Some(owned_tags("eip-nat-a")))
                        .build(),
                )
                .build()
        }),
        mock!(Client::describe_nat_gateways).then_compute_output(move |i| {
            let (state, tags) = if i.nat_gateway_ids().is_empty() {
                (NatGatewayState::Available, owned_tags("nat-a"))
            } else {
                push(&nat_log, "NAT deleted".into());
                (NatGatewayState::Deleted, owned_tags("nat-a"))
            };
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .nat_gateway_id("nat-1")
                        .state(state)
                        .set_tags(Some(tags))
                        .build(),
                )
                .build()
        }),
    ]
}

#[tokio::test]
async fn destroy_deletes_in_reverse_order_and_waits_out_a_dependency_violation() {
    let recorder = CallRecorder::new();
    let log = log();
    let (l1, l2, l3, l4, l5, l6, l7) = (
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
    );
    let delete_vpc = mock!(Client::delete_vpc)
        .sequence()
        .error(|| {
            DeleteVpcError::generic(aws_error_meta(
                "DependencyViolation",
                "The vpc 'vpc-1' has dependencies",
            ))
        })
        .output(move || {
            push(&l7, "DeleteVpc vpc-1".into());
            DeleteVpcOutput::builder().build()
        })
        .build();
    let deletes = vec![
        mock!(Client::disassociate_route_table).then_compute_output(move |i| {
            push(
                &l1,
                format!(
                    "DisassociateRouteTable {}",
                    i.association_id().unwrap_or_default()
                ),
            );
            DisassociateRouteTableOutput::builder().build()
        }),
        mock!(Client::delete_route_table).then_compute_output(move |i| {
            push(
                &l2,
                format!(
                    "DeleteRouteTable {}",
                    i.route_table_id().unwrap_or_default()
                ),
            );
            DeleteRouteTableOutput::builder().build()
        }),
        mock!(Client::delete_nat_gateway).then_compute_output(move |i| {
            push(
                &l3,
                format!(
                    "DeleteNatGateway {}",
                    i.nat_gateway_id().unwrap_or_default()
                ),
            );
            DeleteNatGatewayOutput::builder()
                .nat_gateway_id("nat-1")
                .build()
        }),
        mock!(Client::release_address).then_compute_output(move |i| {
            push(
                &l4,
                format!("ReleaseAddress {}", i.allocation_id().unwrap_or_default()),
            );
            ReleaseAddressOutput::builder().build()
        }),
        mock!(Client::detach_internet_gateway).then_compute_output({
            let l = l5.clone();
            move |i| {
                push(
                    &l,
                    format!(
                        "DetachInternetGateway {} {}",
                        i.internet_gateway_id().unwrap_or_default(),
                        i.vpc_id().unwrap_or_default()
                    ),
                );
                DetachInternetGatewayOutput::builder().build()
            }
        }),
        mock!(Client::delete_internet_gateway).then_compute_output(move |i| {
            push(
                &l5,
                format!(
                    "DeleteInternetGateway {}",
                    i.internet_gateway_id().unwrap_or_default()
                ),
            );
            DeleteInternetGatewayOutput::builder().build()
        }),
        mock!(Client::delete_subnet).then_compute_output(move |i| {
            push(
                &l6,
                format!("DeleteSubnet {}", i.subnet_id().unwrap_or_default()),
            );
            DeleteSubnetOutput::builder().build()
        }),
    ];
    let rules: Vec<Rule> = existing_network_describes(&log)
        .into_iter()
        .chain(deletes)
        .collect();
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&delete_vpc);
    let clients = mock_clients(&all, &recorder);
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat))
        .unwrap()
        .with_waits(short_waits());
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let (plan, _) = converge(&clients, &resources, Mode::Destroy).await;

    assert_eq!(plan.summary().delete, 10, "{plan}");
    assert!(
        plan.get(&network.egress_resource_id()).is_none(),
        "the network's published ids are a planner value, not a plan entry:\n{plan}"
    );
    let log = entries(&log);
    let at = |e: &str| position(&log, e);
    for (table, subnets) in [
        ("rtb-public", ["public-a", "public-b"]),
        ("rtb-private", ["private-a", "private-b"]),
    ] {
        for s in subnets {
            assert!(
                at(&format!("DisassociateRouteTable assoc-{s}"))
                    < at(&format!("DeleteRouteTable {table}")),
                "{log:?}"
            );
        }
    }
    // The private route table goes before the NAT gateway, which is deleted and
    // waited for before its address is released.
    assert!(
        at("DeleteRouteTable rtb-private") < at("DeleteNatGateway nat-1"),
        "{log:?}"
    );
    assert!(at("DeleteNatGateway nat-1") < at("NAT deleted"), "{log:?}");
    assert!(
        at("NAT deleted") < at("ReleaseAddress eipalloc-1"),
        "{log:?}"
    );
    assert!(
        at("DetachInternetGateway igw-1 vpc-1") < at("DeleteInternetGateway igw-1"),
        "{log:?}"
    );
    assert!(
        at("DeleteNatGateway nat-1") < at("DeleteInternetGateway igw-1"),
        "{log:?}"
    );
    for s in ["public-a", "public-b", "private-a", "private-b"] {
        assert!(
            at("DeleteRouteTable rtb-public") < at(&format!("DeleteSubnet subnet-{s}")),
            "{log:?}"
        );
        assert!(
            at(&format!("DeleteSubnet subnet-{s}")) < at("DeleteVpc vpc-1"),
            "{log:?}"
        );
    }
    assert_eq!(
        log.last().map(String::as_str),
        Some("DeleteVpc vpc-1"),
        "{log:?}"
    );
    // The first DeleteVpc met DependencyViolation; it was re-tried, not failed.
    assert_eq!(delete_vpc.num_calls(), 2);
}

#[tokio::test]
async fn adopting_names_exactly_what_is_missing_or_misplaced() {
    let subnet = |id: &str, vpc: &str, zone: &str| {
        Subnet::builder()
            .subnet_id(id)
            .vpc_id(vpc)
            .availability_zone(zone)
            .build()
    };
    let vpc_rule = || {
        mock!(Client::describe_vpcs).then_compute_output(|i| {
            let asked = filter_values(i.filters(), "vpc-id");
            let vpcs = asked
                .iter()
                .filter(|id| *id == "vpc-0a")
                .map(|id| {
                    Vpc::builder()
                        .vpc_id(id)
                        .cidr_block("172.31.0.0/16")
                        .build()
                })
                .collect();
            DescribeVpcsOutput::builder().set_vpcs(Some(vpcs)).build()
        })
    };
    let known = vec![
        subnet("subnet-01", "vpc-0a", "us-east-1a"),
        subnet("subnet-02", "vpc-0a", "us-east-1b"),
        subnet("subnet-03", "vpc-0a", "us-east-1a"),
        subnet("subnet-04", "vpc-0b", "us-east-1b"),
    ];
    let subnets_rule = move || {
        let known = known.clone();
        mock!(Client::describe_subnets).then_compute_output(move |i| {
            let asked = filter_values(i.filters(), "subnet-id");
            DescribeSubnetsOutput::builder()
                .set_subnets(Some(
                    known
                        .iter()
                        .filter(|s| asked.iter().any(|a| Some(a.as_str()) == s.subnet_id()))
                        .cloned()
                        .collect(),
                ))
                .build()
        })
    };
    let cases = [
        (
            AdoptSpec::by_ids(env(), "vpc-0c", ["subnet-01", "subnet-02"]),
            "ec2:vpc prod",
            "VPC vpc-0c to adopt does not exist",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-0a", ["subnet-01", "subnet-09"]),
            "ec2:subnets prod/public",
            "subnet(s) subnet-09 to adopt do not exist",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-0a", ["subnet-01", "subnet-03"]),
            "ec2:subnets prod/public",
            "are all in us-east-1a",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-0a", ["subnet-01", "subnet-04"]),
            "ec2:subnets prod/public",
            "subnet-04 is in vpc-0b, not in the adopted VPC vpc-0a",
        ),
    ];
    for (spec, resource, detail) in cases {
        let recorder = CallRecorder::new();
        let (v, s) = (vpc_rule(), subnets_rule());
        let clients = mock_clients(&[&v, &s], &recorder);
        let resources: Vec<Arc<dyn Resource<NetClients>>> =
            Network::adopt(spec).unwrap().resources();
        match plan(&clients, &resources, Mode::Apply).await {
            Err(Error::NotFound {
                resource: r,
                detail: d,
            }) => {
                assert_eq!(r.to_string(), resource);
                assert!(d.contains(detail), "{d}");
            }
            other => panic!("expected NotFound({detail}), got {other:?}"),
        }
        assert!(recorder.mutating_calls().is_empty());
    }

    // All present: adopted as they are, ids published, nothing changed.
    let recorder = CallRecorder::new();
    let (v, s) = (vpc_rule(), subnets_rule());
    let clients = mock_clients(&[&v, &s], &recorder);
    let network = Network::adopt(AdoptSpec::by_ids(
        env(),
        "vpc-0a",
        ["subnet-02", "subnet-01"],
    ))
    .unwrap();
    let exe = plan(&clients, &network.resources(), Mode::Apply)
        .await
        .unwrap();
    let (plan, result) = run(&clients, exe).await;
    let outputs = result.unwrap();
    assert_eq!(
        plan.get(&network.vpc_resource_id()).unwrap().change,
        Change::Adopt {
            detail: "vpc-0a".into()
        }
    );
    assert_eq!(plan.summary().adopt, 2, "{plan}");
    assert_eq!(
        outputs.get(&network.public_subnet_ids_key()).unwrap(),
        ["subnet-02", "subnet-01"]
    );
    assert_eq!(
        outputs.get(&network.vpc_cidr_key()).unwrap().to_string(),
        "172.31.0.0/16"
    );
    assert!(recorder.mutating_calls().is_empty());
}

/// How long every mocked EC2 call takes in the concurrency tests: long enough that calls
/// issued together overlap and calls issued one after the other do not.
const LATENCY: std::time::Duration = std::time::Duration::from_millis(25);

/// Like `mock_clients`, with every EC2 call answered after [`LATENCY`].
fn delayed_clients(rules: &[&Rule], recorder: &CallRecorder) -> NetClients {
    let r = recorder.clone();
    let mut clients = mock_clients(&[], recorder);
    clients.ec2 = fargate_testkit::mock_sdk_client!(
        aws_sdk_ec2,
        fargate_testkit::aws_smithy_mocks::RuleMode::MatchAny,
        rules.iter().copied(),
        move |c| c
            .http_client(fargate_testkit::mocks::delayed_mock_http_client(LATENCY))
            .interceptor(r.clone())
    );
    clients
}

/// Whether all these calls were in flight at one moment (one round of the critical path).
fn one_round(records: &[&fargate_core::CallRecord]) -> bool {
    let latest_start = records.iter().map(|r| r.start).max();
    let earliest_end = records.iter().map(|r| r.end).min();
    matches!((latest_start, earliest_end), (Some(s), Some(e)) if s < e)
}

/// A route table of 3 subnets: its default route and its 3 associations are one round
/// (they were 4 sequential calls), after CreateRouteTable.
#[tokio::test]
async fn a_3_subnet_route_table_sets_its_route_and_associations_in_one_round() {
    let recorder = CallRecorder::new();
    let log = log();
    let rules: Vec<Rule> = empty_describes()
        .into_iter()
        .chain(create_rules(&log))
        .chain(route_rules(&log))
        .collect();
    let clients = delayed_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let network = Network::create(NetworkSpec::new(env()).zone_count(3)).unwrap();
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let exe = plan(&clients, &resources, Mode::Apply).await.unwrap();
    let mark = recorder.mark();
    let (_, result) = run(&clients, exe).await;
    result.unwrap();

    let records = recorder.records_since(mark);
    let summary = recorder.summary_since(mark);
    println!("apply of a 3-zone public network: {summary}");
    let table = records
        .iter()
        .find(|r| r.operation == "CreateRouteTable")
        .unwrap();
    let round: Vec<&fargate_core::CallRecord> = records
        .iter()
        .filter(|r| r.operation == "CreateRoute" || r.operation == "AssociateRouteTable")
        .collect();
    assert_eq!(round.len(), 4, "{records:#?}");
    assert!(one_round(&round), "{round:#?}");
    assert!(round.iter().all(|r| r.start >= table.end), "{round:#?}");

    // CreateVpc; ModifyVpcAttribute with the look-up for copies of the VPC; CreateSubnet (×3)
    // with CreateInternetGateway; AttachInternetGateway with the look-up for copies of the
    // gateway; CreateRouteTable (after the gateway and the subnets); CreateRoute with the 3
    // AssociateRouteTable. (11 one after the other before these calls ran concurrently.)
    assert_eq!(summary.critical_path, 6, "{summary}");
    assert!(summary.max_concurrency >= 4, "{summary}");
}

/// Two of the three associations fail: the third still runs, and the error names both
/// failures with their resource and operation.
#[tokio::test]
async fn concurrent_association_failures_all_surface_with_context() {
    use fargate_testkit::aws_sdk_ec2::operation::associate_route_table::AssociateRouteTableError;
    use fargate_testkit::aws_smithy_mocks::MockResponse;
    let recorder = CallRecorder::new();
    let log = log();
    let seen = log.clone();
    let first_subnet = std::sync::Mutex::new(None::<String>);
    let associate = mock!(Client::associate_route_table).then_compute_response(move |i| {
        let subnet = i.subnet_id().unwrap_or_default().to_string();
        push(&seen, format!("AssociateRouteTable {subnet}"));
        let mut first = first_subnet.lock().unwrap();
        if first.get_or_insert_with(|| subnet.clone()) == &subnet {
            MockResponse::Output(
                AssociateRouteTableOutput::builder()
                    .association_id("rtbassoc-1")
                    .build(),
            )
        } else {
            MockResponse::Error(AssociateRouteTableError::generic(aws_error_meta(
                "InvalidSubnetID.NotFound",
                &format!("The subnet ID '{subnet}' does not exist"),
            )))
        }
    });
    let rules: Vec<Rule> = empty_describes()
        .into_iter()
        .chain(create_rules(&log))
        .chain([associate])
        .chain(route_rules(&log))
        .collect();
    let clients = delayed_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let network = Network::create(NetworkSpec::new(env()).zone_count(3)).unwrap();
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    let exe = plan(&clients, &resources, Mode::Apply).await.unwrap();
    let (_, result) = run(&clients, exe).await;

    let err = result.unwrap_err().to_string();
    let log = entries(&log);
    let attempted: Vec<&String> = log
        .iter()
        .filter(|e| e.starts_with("AssociateRouteTable "))
        .collect();
    assert_eq!(attempted.len(), 3, "all three were sent: {log:?}");
    assert!(err.contains("2 concurrent calls failed"), "{err}");
    assert!(err.contains("ec2:route-table prod/public"), "{err}");
    assert_eq!(err.matches("AssociateRouteTable").count(), 2, "{err}");
    for failed in &attempted[1..] {
        let subnet = failed.trim_start_matches("AssociateRouteTable ");
        assert!(err.contains(&format!("'{subnet}'")), "{subnet} in {err}");
    }
    assert!(log.iter().any(|e| e.starts_with("CreateRoute ")), "{log:?}");
}

/// Destroy: the associations of each route table are removed in one round, before the table.
#[tokio::test]
async fn destroy_disassociates_a_tables_subnets_in_one_round() {
    let recorder = CallRecorder::new();
    let log = log();
    let deletes = vec![
        mock!(Client::disassociate_route_table)
            .then_output(|| DisassociateRouteTableOutput::builder().build()),
        mock!(Client::delete_route_table).then_output(|| DeleteRouteTableOutput::builder().build()),
        mock!(Client::delete_nat_gateway).then_output(|| {
            DeleteNatGatewayOutput::builder()
                .nat_gateway_id("nat-1")
                .build()
        }),
        mock!(Client::release_address).then_output(|| ReleaseAddressOutput::builder().build()),
        mock!(Client::detach_internet_gateway)
            .then_output(|| DetachInternetGatewayOutput::builder().build()),
        mock!(Client::delete_internet_gateway)
            .then_output(|| DeleteInternetGatewayOutput::builder().build()),
        mock!(Client::delete_subnet).then_output(|| DeleteSubnetOutput::builder().build()),
        mock!(Client::delete_vpc).then_output(|| DeleteVpcOutput::builder().build()),
    ];
    let rules: Vec<Rule> = existing_network_describes(&log)
        .into_iter()
        .chain(deletes)
        .collect();
    let clients = delayed_clients(&rules.iter().collect::<Vec<_>>(), &recorder);
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat))
        .unwrap()
        .with_waits(short_waits());
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();

    converge(&clients, &resources, Mode::Destroy).await;

    let records = recorder.records();
    let disassociations: Vec<&fargate_core::CallRecord> = records
        .iter()
        .filter(|r| r.operation == "DisassociateRouteTable")
        .collect();
    assert_eq!(disassociations.len(), 4, "{records:#?}");
    let first_table_delete = records
        .iter()
        .filter(|r| r.operation == "DeleteRouteTable")
        .map(|r| r.start)
        .min()
        .unwrap();
    // Two tables of two subnets each: each table's pair overlaps (the two tables may also
    // run together); no table is deleted before its round ended.
    let mut by_start = disassociations.clone();
    by_start.sort_by_key(|r| r.start);
    assert!(one_round(&by_start[..2]), "{by_start:#?}");
    assert!(one_round(&by_start[2..]), "{by_start:#?}");
    assert!(
        by_start[..2].iter().all(|r| r.end <= first_table_delete),
        "{records:#?}"
    );
}
