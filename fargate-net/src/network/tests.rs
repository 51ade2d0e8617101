//! Validation, layout and pure diff functions of the network (no AWS).

use std::sync::Arc;

use aws_sdk_ec2::types::{Route, RouteState};
use fargate_core::{Change, Cidr, Fields, Ident, Resource};

use super::*;

fn env() -> Ident {
    "prod".parse().unwrap()
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn ids(network: &Network) -> Vec<String> {
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();
    resources.iter().map(|r| r.id().to_string()).collect()
}

#[test]
fn default_network_is_public_subnets_in_two_zones_of_10_0_0_0_16() {
    let network = Network::create(NetworkSpec::new(env())).unwrap();
    assert_eq!(network.egress(), Some(Egress::PublicSubnets));
    assert!(network.tasks_need_public_ip());
    let Kind::Create(layout) = &network.kind else {
        panic!("not a new network")
    };
    assert_eq!(layout.cidr, cidr("10.0.0.0/16"));
    // 2 zones × 2 tiers: /18 each, public first; no private subnets without NAT.
    assert_eq!(
        layout.public,
        vec![cidr("10.0.0.0/18"), cidr("10.0.64.0/18")]
    );
    assert!(layout.private.is_empty());
    assert_eq!(
        ids(&network),
        [
            "ec2:vpc prod",
            "ec2:internet-gateway prod",
            "ec2:subnet prod/public-a",
            "ec2:subnet prod/public-b",
            "ec2:route-table prod/public",
            "fargate:network prod/subnets",
            "fargate:network prod/egress",
        ]
    );
}

#[test]
fn switching_egress_keeps_the_public_subnets_where_they_are() {
    let public = Network::create(NetworkSpec::new(env())).unwrap();
    let nat = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat)).unwrap();
    let (Kind::Create(a), Kind::Create(b)) = (&public.kind, &nat.kind) else {
        panic!()
    };
    assert_eq!(a.public, b.public);
    assert_eq!(
        b.private,
        vec![cidr("10.0.128.0/18"), cidr("10.0.192.0/18")]
    );
}

#[test]
fn shared_nat_has_one_nat_gateway_and_one_private_route_table() {
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat)).unwrap();
    assert!(!network.tasks_need_public_ip());
    let ids = ids(&network);
    for id in [
        "ec2:subnet prod/private-a",
        "ec2:subnet prod/private-b",
        "ec2:elastic-ip prod/nat-a",
        "ec2:nat-gateway prod/a",
        "ec2:route-table prod/private",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
    }
    assert_eq!(
        ids.iter()
            .filter(|i| i.starts_with("ec2:nat-gateway"))
            .count(),
        1
    );
}

#[test]
fn nat_per_az_has_a_nat_gateway_and_route_table_per_zone() {
    let network = Network::create(
        NetworkSpec::new(env())
            .egress(Egress::NatPerAz)
            .zone_count(3),
    )
    .unwrap();
    let ids = ids(&network);
    for letter in ["a", "b", "c"] {
        assert!(
            ids.contains(&format!("ec2:nat-gateway prod/{letter}")),
            "{ids:?}"
        );
        assert!(
            ids.contains(&format!("ec2:route-table prod/private-{letter}")),
            "{ids:?}"
        );
    }
}

#[test]
fn the_egress_step_depends_on_every_network_object() {
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat)).unwrap();
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();
    let egress = resources
        .iter()
        .find(|r| r.id() == network.egress_resource_id())
        .unwrap();
    let deps = egress.depends_on();
    for r in &resources {
        if r.id() != egress.id() {
            assert!(deps.contains(&r.id()), "{} missing", r.id());
        }
    }
    let nat = resources
        .iter()
        .find(|r| r.id().kind == "ec2:nat-gateway")
        .unwrap();
    let nat_deps: Vec<String> = nat.depends_on().iter().map(ToString::to_string).collect();
    assert_eq!(
        nat_deps,
        [
            "ec2:subnet prod/public-a",
            "ec2:elastic-ip prod/nat-a",
            "ec2:internet-gateway prod"
        ]
    );
}

#[test]
fn vpc_endpoints_network_has_its_endpoints_their_group_and_no_default_route() {
    let network = Network::create(NetworkSpec::new(env()).egress(Egress::VpcEndpoints)).unwrap();
    assert!(!network.tasks_need_public_ip());
    let resources: Vec<Arc<dyn Resource<NetClients>>> = network.resources();
    let ids: Vec<String> = resources.iter().map(|r| r.id().to_string()).collect();
    for service in ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "s3"] {
        assert!(
            ids.contains(&format!("ec2:vpc-endpoint prod/{service}")),
            "{ids:?}"
        );
    }
    assert!(
        !ids.iter().any(|i| i.starts_with("ec2:nat-gateway")),
        "{ids:?}"
    );
    let deps = |id: &str| -> Vec<String> {
        let r = resources.iter().find(|r| r.id().to_string() == id).unwrap();
        r.depends_on().iter().map(ToString::to_string).collect()
    };
    assert!(
        deps("ec2:vpc-endpoint prod/ecr.dkr")
            .contains(&"ec2:security-group prod-vpc-endpoints".to_string())
    );
    assert!(
        deps("ec2:vpc-endpoint prod/ecr.dkr").contains(&"ec2:subnet prod/private-b".to_string())
    );
    assert!(deps("ec2:vpc-endpoint prod/s3").contains(&"ec2:route-table prod/private".to_string()));
    // The private route table has no default route, so it waits for no gateway.
    assert_eq!(
        deps("ec2:route-table prod/private"),
        [
            "ec2:vpc prod",
            "ec2:subnet prod/private-a",
            "ec2:subnet prod/private-b"
        ]
    );
    let d = network.describe();
    assert!(
        d.contains("no internet access") && d.contains("$7.30/month"),
        "{d}"
    );
}

#[test]
fn validation_refuses_bad_networks_before_any_aws_call() {
    let cases: Vec<(NetworkSpec, &str, &str)> = vec![
        (
            NetworkSpec::new(env()).zone_count(1),
            "network.zone_count",
            "at least 2",
        ),
        (
            NetworkSpec::new(env()).zones(["us-east-1a"]),
            "network.zones",
            "at least 2",
        ),
        (
            NetworkSpec::new(env()).zones(["us-east-1a", "us-east-1a"]),
            "network.zones",
            "distinct",
        ),
        (
            NetworkSpec::new(env()).cidr(cidr("10.0.0.0/8")),
            "network.cidr",
            "/16",
        ),
        (
            NetworkSpec::new(env()).cidr(cidr("10.0.0.0/27")),
            "network.cidr",
            "too small",
        ),
        (
            NetworkSpec::new(env())
                .subnet_cidrs(vec![cidr("10.0.0.0/24"), cidr("10.0.0.128/25")], vec![]),
            "network.subnet_cidrs",
            "overlap",
        ),
        (
            NetworkSpec::new(env())
                .subnet_cidrs(vec![cidr("10.0.0.0/24"), cidr("10.1.0.0/24")], vec![]),
            "network.public_subnet_cidrs",
            "not inside",
        ),
        (
            NetworkSpec::new(env()).subnet_cidrs(vec![cidr("10.0.0.0/24")], vec![]),
            "network.public_subnet_cidrs",
            "1 given for 2",
        ),
        (
            NetworkSpec::new(env())
                .egress(Egress::SharedNat)
                .subnet_cidrs(vec![cidr("10.0.0.0/24"), cidr("10.0.1.0/24")], vec![]),
            "network.private_subnet_cidrs",
            "0 given for 2",
        ),
    ];
    for (spec, field, reason) in cases {
        let e = Network::create(spec).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.to_string().contains(reason), "{e}");
    }
    let ok = NetworkSpec::new(env())
        .egress(Egress::SharedNat)
        .subnet_cidrs(
            vec![cidr("10.0.0.0/24"), cidr("10.0.1.0/24")],
            vec![cidr("10.0.10.0/24"), cidr("10.0.11.0/24")],
        );
    assert!(Network::create(ok).is_ok());
}

#[test]
fn adopt_validation_refuses_bad_selections_before_any_aws_call() {
    let cases = vec![
        (
            AdoptSpec::by_ids(env(), "vpc-xyz", ["subnet-01", "subnet-02"]),
            "network.vpc",
            "vpc-",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-01", ["subnet-01"]),
            "network.public_subnets",
            "at least 2",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-01", ["subnet-01", "subnet-01"]),
            "network.public_subnets",
            "twice",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-01", ["subnet-01", "subnet-02"])
                .private_subnets(["subnet-02"]),
            "network.private_subnets",
            "twice",
        ),
        (
            AdoptSpec::by_ids(env(), "vpc-01", ["subnet-01", "subnet-02"])
                .tasks_in_private_subnets(),
            "network.tasks",
            "no private subnets",
        ),
        (
            AdoptSpec::new(
                env(),
                VpcSelector::Tags(vec![]),
                SubnetSelector::Ids(vec!["subnet-1".into(), "subnet-2".into()]),
            ),
            "network.vpc",
            "at least one tag",
        ),
    ];
    for (spec, field, reason) in cases {
        let e = Network::adopt(spec).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.to_string().contains(reason), "{e}");
    }
}

#[test]
fn adopted_network_has_adopt_resources_and_the_same_output_keys() {
    let network = Network::adopt(
        AdoptSpec::by_ids(env(), "vpc-0a", ["subnet-01", "subnet-02"])
            .private_subnets(["subnet-03"])
            .tasks_in_private_subnets(),
    )
    .unwrap();
    assert!(!network.tasks_need_public_ip());
    assert_eq!(
        ids(&network),
        [
            "ec2:vpc prod",
            "ec2:subnets prod/public",
            "ec2:subnets prod/private",
            "fargate:network prod/subnets",
            "fargate:network prod/egress",
        ]
    );
    assert_eq!(network.vpc_id_key().name(), vpc_id_key(&env()).name());
    assert!(
        network.describe().contains("adopted"),
        "{}",
        network.describe()
    );
    assert!(
        network.describe().contains("not verified"),
        "{}",
        network.describe()
    );
}

#[test]
fn describe_names_the_egress_mode_and_its_cost() {
    let d = Network::create(NetworkSpec::new(env())).unwrap().describe();
    assert!(
        d.contains("public subnets (the default)") && d.contains("no NAT gateway cost"),
        "{d}"
    );
    let d = Network::create(NetworkSpec::new(env()).egress(Egress::SharedNat))
        .unwrap()
        .describe();
    assert!(
        d.contains("$32/month") && d.contains("one NAT gateway"),
        "{d}"
    );
    let d = Network::create(
        NetworkSpec::new(env())
            .egress(Egress::NatPerAz)
            .zone_count(3),
    )
    .unwrap()
    .describe();
    assert!(d.contains("3 × about $32/month"), "{d}");
}

#[test]
fn egress_parses_and_displays_its_names() {
    for e in [
        Egress::PublicSubnets,
        Egress::SharedNat,
        Egress::NatPerAz,
        Egress::VpcEndpoints,
    ] {
        assert_eq!(e.to_string().parse::<Egress>().unwrap(), e);
    }
    assert_eq!("nat".parse::<Egress>().unwrap_err().field, "network.egress");
}

#[test]
fn vpc_fields_fill_dns_defaults_and_refuse_a_cidr_change() {
    let observed = vpc::ObservedVpc {
        id: "vpc-1".into(),
        cidr: "10.0.0.0/16".into(),
        dns_hostnames: false,
        dns_support: true,
        duplicates: Vec::new(),
    };
    let desired = vpc::desired_fields(&cidr("10.0.0.0/16"));
    match Change::compute(&desired, Some(&vpc::observed_fields(&observed)), &["cidr"]) {
        Change::Update { diffs } => {
            assert_eq!(diffs.len(), 1);
            assert_eq!(diffs[0].field, "dns_hostnames");
        }
        other => panic!("{other:?}"),
    }
    let rid = vpc_resource_id(&env());
    let moved = vpc::desired_fields(&cidr("10.1.0.0/16"));
    let err = common::change_in_place(
        &rid,
        &moved,
        Some(&vpc::observed_fields(&observed)),
        &["cidr"],
        "hint",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cidr is \"10.0.0.0/16\" and cannot change in place"),
        "{err}"
    );
}

#[test]
fn routes_normalize_to_their_target_kind() {
    let igw = Route::builder()
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id("igw-1")
        .build();
    assert_eq!(route::normalize_route(&igw), "internet-gateway");
    let nat = Route::builder()
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id("nat-1")
        .state(RouteState::Blackhole)
        .build();
    assert_eq!(route::normalize_route(&nat), "nat-gateway (blackhole)");
    let peering = Route::builder().vpc_peering_connection_id("pcx-1").build();
    assert_eq!(route::normalize_route(&peering), "other pcx-1");
}

#[test]
fn route_table_diff_ignores_subnet_order_and_foreign_subnets() {
    let desired = route::fields(Some("internet-gateway"), ["public-a", "public-b"]);
    let observed = route::fields(Some("internet-gateway"), ["public-b", "public-a"]);
    assert_eq!(
        Change::compute(&desired, Some(&observed), &[]),
        Change::NoOp
    );
    let missing: Fields = route::fields(Some("internet-gateway"), ["public-a"]);
    assert!(matches!(
        Change::compute(&desired, Some(&missing), &[]),
        Change::Update { .. }
    ));
}

#[test]
fn keep_one_prefers_the_used_copy_then_the_smallest_id() {
    use super::common::keep_one;
    let copies = vec![&("vpc-a", 0usize), &("vpc-b", 2), &("vpc-c", 2)];
    let (keep, rest) = keep_one(copies.clone(), |c| c.1);
    assert_eq!(keep.map(|c| c.0), Some("vpc-b"));
    assert_eq!(
        rest.iter().map(|c| c.0).collect::<Vec<_>>(),
        ["vpc-a", "vpc-c"]
    );
    let (keep, rest) = keep_one(copies, |_| 0);
    assert_eq!(keep.map(|c| c.0), Some("vpc-a"));
    assert_eq!(rest.len(), 2);
    let none: Vec<&(&str, usize)> = Vec::new();
    assert_eq!(keep_one(none, |c| c.1), (None, Vec::new()));
}

#[test]
fn duplicates_show_as_an_update_of_the_kept_copy() {
    use super::common::with_duplicates;
    match with_duplicates(Change::NoOp, vec!["igw-2".into()]) {
        Change::Update { diffs } => {
            assert_eq!(diffs[0].field, "duplicates");
            assert_eq!(diffs[0].old, Some(serde_json::json!(["igw-2"])));
            assert_eq!(diffs[0].new, Some(serde_json::json!([])));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(with_duplicates(Change::NoOp, Vec::new()), Change::NoOp);
}

#[test]
fn a_created_network_knows_its_vpc_cidr_and_an_adopted_one_does_not() {
    let default = Network::create(NetworkSpec::new(env())).unwrap();
    assert_eq!(default.vpc_cidr(), Some(cidr("10.0.0.0/16")));
    let given = Network::create(NetworkSpec::new(env()).cidr(cidr("10.42.0.0/16"))).unwrap();
    assert_eq!(given.vpc_cidr(), Some(cidr("10.42.0.0/16")));
    let adopted = Network::adopt(AdoptSpec::by_ids(
        env(),
        "vpc-0123456789abcdef0",
        ["subnet-01", "subnet-02"],
    ))
    .unwrap();
    assert_eq!(adopted.vpc_cidr(), None);
}
