//! Security groups against mocked EC2 (aws-smithy-mocks): rule-level changes
//! make exactly one call, foreign groups are refused, deletes wait out
//! DependencyViolation for a bounded time, throttling is the SDK's business.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fargate_core::tags::Ownership;
use fargate_core::wait::Poll;
use fargate_core::{CallRecorder, Change, Error, Mode, Port, Ref, Resource};
use fargate_net::NetClients;
use fargate_net::security_group::{
    DEFAULT_LB_PORTS, IngressRule, SecurityGroupSpec, Source, load_balancer_sg, task_sg,
};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_ec2::Client;
use fargate_testkit::aws_sdk_ec2::operation::{
    authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput,
    create_security_group::CreateSecurityGroupOutput,
    delete_security_group::DeleteSecurityGroupError,
    delete_security_group::DeleteSecurityGroupOutput,
    describe_security_groups::DescribeSecurityGroupsOutput,
    revoke_security_group_ingress::RevokeSecurityGroupIngressOutput,
};
use fargate_testkit::aws_sdk_ec2::types::{
    IpPermission, IpRange, SecurityGroup, Tag, UserIdGroupPair,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::network_support::{converge, env, filter_values, mock_clients, plan, run, tags_of};

fn port(p: u16) -> Port {
    Port::new(p).unwrap()
}

fn lb_owner() -> Ownership {
    Ownership::new(env()).with_component("sg-lb-shared")
}

fn tcp_from_anywhere(p: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(p)
        .to_port(p)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

/// The load balancer group `prod-shared-lb` (sg-lb) with these permissions and tags.
fn lb_group(permissions: Vec<IpPermission>, tags: Vec<Tag>) -> SecurityGroup {
    SecurityGroup::builder()
        .group_id("sg-lb")
        .group_name("prod-shared-lb")
        .vpc_id("vpc-1")
        .set_ip_permissions(Some(permissions))
        .set_tags(Some(tags))
        .build()
}

fn describe(groups: Vec<SecurityGroup>) -> Rule {
    mock!(Client::describe_security_groups).then_output(move || {
        DescribeSecurityGroupsOutput::builder()
            .set_security_groups(Some(groups.clone()))
            .build()
    })
}

type Permissions = Arc<Mutex<Vec<Vec<IpPermission>>>>;

fn authorize_rule(seen: &Permissions) -> Rule {
    let seen = seen.clone();
    mock!(Client::authorize_security_group_ingress).then_compute_output(move |i| {
        assert_eq!(i.group_id(), Some("sg-lb"));
        seen.lock().unwrap().push(i.ip_permissions().to_vec());
        AuthorizeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    })
}

fn revoke_rule(seen: &Permissions) -> Rule {
    let seen = seen.clone();
    mock!(Client::revoke_security_group_ingress).then_compute_output(move |i| {
        assert_eq!(i.group_id(), Some("sg-lb"));
        seen.lock().unwrap().push(i.ip_permissions().to_vec());
        RevokeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    })
}

fn lb_spec(ports: &[Port]) -> Vec<Arc<dyn Resource<NetClients>>> {
    vec![load_balancer_sg(&env(), "shared", ports, &[]).into_resource()]
}

#[tokio::test]
async fn a_new_group_is_created_with_all_its_rules_in_one_authorize() {
    let recorder = CallRecorder::new();
    let added: Permissions = Default::default();
    let create = mock!(Client::create_security_group).then_compute_output(|i| {
        assert_eq!(
            (i.group_name(), i.vpc_id()),
            (Some("prod-shared-lb"), Some("vpc-1"))
        );
        let tags = i
            .tag_specifications()
            .first()
            .map(|s| s.tags().to_vec())
            .unwrap_or_default();
        assert!(
            tags.iter()
                .any(|t| t.key() == Some("fargate:component") && t.value() == Some("sg-lb-shared"))
        );
        CreateSecurityGroupOutput::builder()
            .group_id("sg-lb")
            .build()
    });
    let (d, a) = (describe(vec![]), authorize_rule(&added));
    let clients = mock_clients(&[&d, &create, &a], &recorder);
    let sg = SecurityGroupSpec::new(
        "prod-shared-lb",
        "lb",
        Ref::Known("vpc-1".into()),
        lb_owner(),
    )
    .unwrap()
    .allow(IngressRule::tcp(
        port(80),
        Source::Cidr("0.0.0.0/0".parse().unwrap()),
    ))
    .allow(IngressRule::tcp(
        port(443),
        Source::Cidr("0.0.0.0/0".parse().unwrap()),
    ));
    let key = sg.group_id_key();

    let (plan, outputs) = converge(&clients, &[sg.into_resource()], Mode::Apply).await;

    assert!(
        matches!(plan.changes[0].change, Change::Create { .. }),
        "{plan}"
    );
    assert_eq!(
        recorder.mutating_calls(),
        [
            "EC2.CreateSecurityGroup",
            "EC2.AuthorizeSecurityGroupIngress"
        ]
    );
    assert_eq!(added.lock().unwrap()[0].len(), 2);
    assert_eq!(outputs.get(&key).unwrap(), "sg-lb");
}

#[tokio::test]
async fn adding_a_port_makes_exactly_one_authorize_with_only_the_new_rule() {
    let recorder = CallRecorder::new();
    let added: Permissions = Default::default();
    let (d, a) = (
        describe(vec![lb_group(
            vec![tcp_from_anywhere(80)],
            tags_of(&lb_owner()),
        )]),
        authorize_rule(&added),
    );
    let clients = mock_clients(&[&d, &a], &recorder);

    let (plan, outputs) = converge(&clients, &lb_spec(&DEFAULT_LB_PORTS), Mode::Apply).await;

    match &plan.changes[0].change {
        Change::Update { diffs } => {
            assert_eq!(diffs.len(), 1);
            assert_eq!(diffs[0].field, "ingress");
            assert_eq!(
                diffs[0].new,
                Some(serde_json::json!([
                    "tcp:443 from 0.0.0.0/0",
                    "tcp:80 from 0.0.0.0/0"
                ]))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        recorder.mutating_calls(),
        ["EC2.AuthorizeSecurityGroupIngress"]
    );
    assert_eq!(*added.lock().unwrap(), vec![vec![tcp_from_anywhere(443)]]);
    assert_eq!(
        outputs
            .get(&load_balancer_sg(&env(), "shared", &DEFAULT_LB_PORTS, &[]).group_id_key())
            .unwrap(),
        "sg-lb"
    );
}

#[tokio::test]
async fn removing_a_port_makes_exactly_one_revoke_with_only_that_rule() {
    let recorder = CallRecorder::new();
    let removed: Permissions = Default::default();
    let group = lb_group(
        vec![
            tcp_from_anywhere(80),
            tcp_from_anywhere(443),
            tcp_from_anywhere(8080),
        ],
        tags_of(&lb_owner()),
    );
    let (d, r) = (describe(vec![group]), revoke_rule(&removed));
    let clients = mock_clients(&[&d, &r], &recorder);

    converge(&clients, &lb_spec(&DEFAULT_LB_PORTS), Mode::Apply).await;

    assert_eq!(
        recorder.mutating_calls(),
        ["EC2.RevokeSecurityGroupIngress"]
    );
    assert_eq!(
        *removed.lock().unwrap(),
        vec![vec![tcp_from_anywhere(8080)]]
    );
}

#[tokio::test]
async fn unchanged_rules_make_no_call_and_source_group_ids_map_to_names() {
    let recorder = CallRecorder::new();
    let web: fargate_core::Ident = "web".parse().unwrap();
    let task_owner = Ownership::new(env())
        .with_app(web.clone())
        .with_component("sg-task");
    let task_group = SecurityGroup::builder()
        .group_id("sg-task")
        .group_name("prod-web-task")
        .set_tags(Some(tags_of(&task_owner)))
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8080)
                .to_port(8080)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-lb").build())
                .build(),
        )
        .build();
    // The VPC id is not known at plan time: the groups are looked up by name among
    // the environment's groups, the task group and its source in one call.
    let d = mock!(Client::describe_security_groups)
        .match_requests(|i| {
            filter_values(i.filters(), "group-name") == ["prod-shared-lb", "prod-web-task"]
                && filter_values(i.filters(), "tag:fargate:environment") == ["prod"]
        })
        .then_output(move || {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(task_group.clone())
                .security_groups(lb_group(vec![tcp_from_anywhere(80)], tags_of(&lb_owner())))
                .build()
        });
    let clients = mock_clients(&[&d], &recorder);
    let lb = load_balancer_sg(&env(), "shared", &DEFAULT_LB_PORTS, &[]);
    let task = task_sg(&env(), &web, port(8080), &lb.as_source());

    let exe = plan(&clients, &[task.into_resource()], Mode::Apply)
        .await
        .unwrap();

    assert_eq!(exe.plan.changes[0].change, Change::NoOp, "{}", exe.plan);
    assert_eq!(
        recorder
            .summary()
            .by_operation
            .get("EC2.DescribeSecurityGroups"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_group_with_our_name_but_not_our_tags_is_refused() {
    let recorder = CallRecorder::new();
    let foreign = lb_group(
        vec![tcp_from_anywhere(22)],
        vec![Tag::builder().key("team").value("ops").build()],
    );
    let added: Permissions = Default::default();
    let (d, a, r) = (
        describe(vec![foreign]),
        authorize_rule(&added),
        revoke_rule(&added),
    );
    let clients = mock_clients(&[&d, &a, &r], &recorder);

    let err = plan(&clients, &lb_spec(&DEFAULT_LB_PORTS), Mode::Apply)
        .await
        .unwrap_err();

    match err {
        Error::NotOwned { resource, detail } => {
            assert_eq!(resource.to_string(), "ec2:security-group prod-shared-lb");
            assert!(detail.contains("sg-lb"), "{detail}");
        }
        other => panic!("expected NotOwned, got {other:?}"),
    }
    // Nor does destroy touch it: it is skipped and reported.
    crate::network_support::assert_skipped_in_destroy(
        plan(&clients, &lb_spec(&DEFAULT_LB_PORTS), Mode::Destroy).await,
        "ec2:security-group",
    );
    assert!(recorder.mutating_calls().is_empty());
}

fn short_wait(timeout: Duration) -> Poll {
    Poll::new(timeout, Duration::from_millis(1))
}

fn destroyable(wait: Poll) -> Vec<Arc<dyn Resource<NetClients>>> {
    vec![
        load_balancer_sg(&env(), "shared", &DEFAULT_LB_PORTS, &[])
            .with_delete_wait(wait)
            .into_resource(),
    ]
}

fn in_use() -> DeleteSecurityGroupError {
    DeleteSecurityGroupError::generic(aws_error_meta(
        "DependencyViolation",
        "resource sg-lb has a dependent object",
    ))
}

#[tokio::test]
async fn destroy_waits_while_network_interfaces_still_use_the_group() {
    let recorder = CallRecorder::new();
    let d = describe(vec![lb_group(
        vec![tcp_from_anywhere(80)],
        tags_of(&lb_owner()),
    )]);
    let delete = mock!(Client::delete_security_group)
        .sequence()
        .error(in_use)
        .times(2)
        .output(|| DeleteSecurityGroupOutput::builder().build())
        .build();
    let clients = mock_clients(&[&d, &delete], &recorder);

    let (plan, _) = converge(
        &clients,
        &destroyable(short_wait(Duration::from_secs(10))),
        Mode::Destroy,
    )
    .await;

    assert_eq!(plan.changes[0].change, Change::Delete);
    assert_eq!(delete.num_calls(), 3);
    assert_eq!(recorder.mutating_calls(), ["EC2.DeleteSecurityGroup"; 3]);
}

#[tokio::test]
async fn destroy_gives_up_with_a_timeout_naming_the_group() {
    let recorder = CallRecorder::new();
    let d = describe(vec![lb_group(vec![], tags_of(&lb_owner()))]);
    let delete = mock!(Client::delete_security_group).then_error(in_use);
    let clients = mock_clients(&[&d, &delete], &recorder);

    let exe = plan(
        &clients,
        &destroyable(short_wait(Duration::from_millis(50))),
        Mode::Destroy,
    )
    .await
    .unwrap();
    let (_, result) = run(&clients, exe).await;

    let failure = result.unwrap_err().failed.unwrap().1.to_string();
    assert!(failure.contains("timed out"), "{failure}");
    assert!(
        failure.contains("security group prod-shared-lb (sg-lb)"),
        "{failure}"
    );
    assert!(delete.num_calls() >= 2, "retried: {}", delete.num_calls());
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_not_by_us() {
    let recorder = CallRecorder::new();
    let throttled = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></Errors><RequestID>r-1</RequestID></Response>"#;
    let d = mock!(Client::describe_security_groups)
        .sequence()
        .http_status(400, Some(throttled.to_string()))
        .output(|| {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(lb_group(
                    vec![tcp_from_anywhere(80), tcp_from_anywhere(443)],
                    tags_of(&lb_owner()),
                ))
                .build()
        })
        .build();
    let clients = mock_clients(&[&d], &recorder);

    let exe = plan(&clients, &lb_spec(&DEFAULT_LB_PORTS), Mode::Apply)
        .await
        .unwrap();

    assert_eq!(exe.plan.changes[0].change, Change::NoOp);
    assert_eq!(d.num_calls(), 2);
    // One execution (its retry included) as the recorder sees it.
    assert_eq!(recorder.summary().total, 1);
}
