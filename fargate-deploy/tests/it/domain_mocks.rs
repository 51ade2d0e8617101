//! Custom domains against mocked clients: the exact calls of requesting the certificate
//! (DNS validation, the wildcard SAN, the idempotency token, the ownership tags), UPSERTing
//! its validation CNAME into the zone, waiting until it is ISSUED, and UPSERTing the alias
//! record; a certificate ACM fails is an error with ACM's status and reason; an A record of
//! the app's name that is not an alias to our ALB is refused with zero mutating calls; bad
//! input is a typed error before any call.

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::resource::node;
use fargate_core::{CallRecorder, Error, Executable, Ident, Mode, Ref, Resource, ResourceId, Tags};
use fargate_deploy::Clients;
use fargate_deploy::discovery::DnsName;
use fargate_deploy::domain::{
    AliasRecordSpec, CertificateSpec, HostedZoneSpec, StaleAliasRecords, ValidationRecordsSpec,
};
use fargate_deploy::{ContainerService, Deployer, Environment, FrontendApp};
use fargate_testkit::aws_sdk_acm::Client as Acm;
use fargate_testkit::aws_sdk_acm::operation::delete_certificate::DeleteCertificateOutput;
use fargate_testkit::aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
use fargate_testkit::aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
use fargate_testkit::aws_sdk_acm::operation::list_tags_for_certificate::ListTagsForCertificateOutput;
use fargate_testkit::aws_sdk_acm::operation::request_certificate::RequestCertificateOutput;
use fargate_testkit::aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, CertificateSummary, DomainValidation, FailureReason,
    RecordType, ResourceRecord as AcmRecord, Tag as AcmTag,
};
use fargate_testkit::aws_sdk_route53::Client as Route53;
use fargate_testkit::aws_sdk_route53::operation::change_resource_record_sets::{
    ChangeResourceRecordSetsInput, ChangeResourceRecordSetsOutput,
};
use fargate_testkit::aws_sdk_route53::operation::get_change::GetChangeOutput;
use fargate_testkit::aws_sdk_route53::operation::list_hosted_zones_by_name::ListHostedZonesByNameOutput;
use fargate_testkit::aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use fargate_testkit::aws_sdk_route53::primitives::DateTime;
use fargate_testkit::aws_sdk_route53::types::{
    AliasTarget, ChangeAction, ChangeInfo, ChangeStatus, HostedZone, HostedZoneConfig,
    ResourceRecord, ResourceRecordSet, RrType,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c-1";
const LB_DNS: &str = "prod-alb-1.us-east-1.elb.amazonaws.com";
const LB_ZONE: &str = "Z35SXDOTRQ7X7K";
const CNAME_NAME: &str = "_a1.example.com.";
const CNAME_VALUE: &str = "_b2.acm-validations.aws.";

fn name(s: &str) -> DnsName {
    s.parse().unwrap()
}

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn resources() -> Vec<Arc<dyn Resource<Clients>>> {
    let domain = name("example.com");
    vec![
        node(HostedZoneSpec::new(domain.clone(), None)),
        node(CertificateSpec::new(
            &ident("prod"),
            domain.clone(),
            Tags::new(),
        )),
        node(ValidationRecordsSpec::new(domain.clone())),
        node(AliasRecordSpec::new(
            ident("prod"),
            ident("shop"),
            name("shop.example.com"),
            domain,
            ResourceId::new("elbv2:load-balancer", "prod/alb"),
            Ref::Known(LB_DNS.into()),
            Ref::Known(LB_ZONE.into()),
        )),
    ]
}

fn zones() -> Rule {
    mock!(Route53::list_hosted_zones_by_name)
        .match_requests(|r| r.dns_name() == Some("example.com."))
        .then_output(|| {
            ListHostedZonesByNameOutput::builder()
                .hosted_zones(
                    HostedZone::builder()
                        .id("/hostedzone/Z1")
                        .name("example.com.")
                        .caller_reference("user")
                        .config(HostedZoneConfig::builder().private_zone(false).build())
                        .build()
                        .unwrap(),
                )
                .is_truncated(false)
                .max_items(100)
                .build()
                .unwrap()
        })
}

fn no_records() -> Rule {
    mock!(Route53::list_resource_record_sets).then_output(|| {
        ListResourceRecordSetsOutput::builder()
            .set_resource_record_sets(Some(Vec::new()))
            .is_truncated(false)
            .max_items(1)
            .build()
            .unwrap()
    })
}

fn described(status: CertificateStatus, records: bool) -> DescribeCertificateOutput {
    let mut detail = CertificateDetail::builder()
        .certificate_arn(ARN)
        .domain_name("example.com")
        .subject_alternative_names("example.com")
        .subject_alternative_names("*.example.com")
        .status(status.clone());
    if status == CertificateStatus::Failed {
        detail = detail.failure_reason(FailureReason::CaaError);
    }
    for d in ["example.com", "*.example.com"] {
        let mut v = DomainValidation::builder().domain_name(d);
        if records {
            v = v.resource_record(
                AcmRecord::builder()
                    .name(CNAME_NAME)
                    .r#type(RecordType::Cname)
                    .value(CNAME_VALUE)
                    .build()
                    .unwrap(),
            );
        }
        detail = detail.domain_validation_options(v.build().unwrap());
    }
    DescribeCertificateOutput::builder()
        .certificate(detail.build())
        .build()
}

fn request() -> Rule {
    mock!(Acm::request_certificate)
        .match_requests(|r| {
            r.domain_name() == Some("example.com")
                && r.subject_alternative_names() == ["*.example.com".to_string()]
                && r.validation_method().map(|m| m.as_str()) == Some("DNS")
                && r.idempotency_token()
                    .is_some_and(|t| t.starts_with("fargaters") && t.len() <= 32)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == "fargate:environment" && t.value() == Some("prod"))
        })
        .then_output(|| {
            RequestCertificateOutput::builder()
                .certificate_arn(ARN)
                .build()
        })
}

fn upsert_cname() -> Rule {
    mock!(Route53::change_resource_record_sets)
        .match_requests(|r| {
            let Some(batch) = r.change_batch() else {
                return false;
            };
            let c = batch.changes();
            r.hosted_zone_id() == Some("Z1")
                && c.len() == 1
                && *c[0].action() == ChangeAction::Upsert
                && c[0].resource_record_set().is_some_and(|s| {
                    s.name() == CNAME_NAME
                        && *s.r#type() == RrType::Cname
                        && s.ttl() == Some(300)
                        && s.resource_records()
                            .iter()
                            .map(|v| v.value())
                            .collect::<Vec<_>>()
                            == [CNAME_VALUE]
                })
        })
        .then_output(|| ChangeResourceRecordSetsOutput::builder().build())
}

const MARKER_OF_SHOP: &str =
    "\"heritage=fargate-rs,fargate-rs/environment=prod,fargate-rs/app=shop\"";

/// The exact change batch of an alias of `name` to our ALB with its ownership marker: both
/// UPSERTed together.
fn alias_with_marker(r: &ChangeResourceRecordSetsInput, name: &str) -> bool {
    let Some(batch) = r.change_batch() else {
        return false;
    };
    let c = batch.changes();
    r.hosted_zone_id() == Some("Z1")
        && c.len() == 2
        && c.iter().all(|c| *c.action() == ChangeAction::Upsert)
        && c[0].resource_record_set().is_some_and(|s| {
            s.name() == format!("{name}.")
                && *s.r#type() == RrType::A
                && s.alias_target().is_some_and(|a| {
                    a.dns_name() == LB_DNS
                        && a.hosted_zone_id() == LB_ZONE
                        && !a.evaluate_target_health()
                })
        })
        && c[1].resource_record_set().is_some_and(|s| {
            s.name() == format!("_fargate-rs.{name}.")
                && *s.r#type() == RrType::Txt
                && s.ttl() == Some(300)
                && s.resource_records()
                    .iter()
                    .map(|v| v.value())
                    .collect::<Vec<_>>()
                    == [MARKER_OF_SHOP]
        })
}

fn upsert_alias() -> Rule {
    mock!(Route53::change_resource_record_sets)
        .match_requests(|r| alias_with_marker(r, "shop.example.com"))
        .then_output(|| ChangeResourceRecordSetsOutput::builder().build())
}

#[tokio::test(start_paused = true)]
async fn the_certificate_is_requested_validated_in_the_zone_and_waited_for_then_the_alias_is_made()
{
    let (zones, records) = (zones(), no_records());
    let list =
        mock!(Acm::list_certificates).then_output(|| ListCertificatesOutput::builder().build());
    let request = request();
    // Records appear after the request; the certificate is ISSUED after two more polls.
    let describe = mock!(Acm::describe_certificate)
        .match_requests(|r| r.certificate_arn() == Some(ARN))
        .sequence()
        .output(|| described(CertificateStatus::PendingValidation, false))
        .output(|| described(CertificateStatus::PendingValidation, true))
        .output(|| described(CertificateStatus::PendingValidation, true))
        .output(|| described(CertificateStatus::Issued, true))
        .build();
    let (cname, alias) = (upsert_cname(), upsert_alias());
    let clients = Mocks {
        route53: vec![&zones, &records, &cname, &alias],
        acm: vec![&list, &request, &describe],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap();
    let shown = exe.plan.to_string();
    assert_eq!(exe.plan.summary().create, 3, "{shown}");
    assert!(
        shown.contains("+ acm:certificate example.com") && shown.contains("*.example.com"),
        "{shown}"
    );
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(zones.num_calls(), 1, "the zone is looked up once");
    assert_eq!(request.num_calls(), 1);
    assert_eq!(
        describe.num_calls(),
        4,
        "polled for records, then until ISSUED"
    );
    assert_eq!((cname.num_calls(), alias.num_calls()), (1, 1));
    let validated = ValidationRecordsSpec::new(name("example.com")).validated_arn();
    assert_eq!(outputs.get(&validated).unwrap(), ARN);
}

#[tokio::test(start_paused = true)]
async fn a_failed_certificate_is_an_error_with_acms_status_and_reason() {
    let (zones, records) = (zones(), no_records());
    let list =
        mock!(Acm::list_certificates).then_output(|| ListCertificatesOutput::builder().build());
    let request = request();
    let describe = mock!(Acm::describe_certificate)
        .sequence()
        .output(|| described(CertificateStatus::PendingValidation, true))
        .output(|| described(CertificateStatus::Failed, true))
        .build();
    let (cname, alias) = (upsert_cname(), upsert_alias());
    let clients = Mocks {
        route53: vec![&zones, &records, &cname, &alias],
        acm: vec![&list, &request, &describe],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let e = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("route53:validation-records example.com")
            && e.contains("FAILED")
            && e.contains("CAA_ERROR"),
        "{e}"
    );
}

fn record_of_shop(alias: Option<&str>) -> Rule {
    let alias = alias.map(str::to_string);
    mock!(Route53::list_resource_record_sets)
        .match_requests(|r| {
            r.start_record_name() == Some("shop.example.com.")
                && r.start_record_type() == Some(&RrType::A)
        })
        .then_output(move || {
            let set = ResourceRecordSet::builder()
                .name("shop.example.com.")
                .r#type(RrType::A);
            let set = match &alias {
                Some(dns) => set.alias_target(
                    AliasTarget::builder()
                        .dns_name(dns)
                        .hosted_zone_id(LB_ZONE)
                        .evaluate_target_health(false)
                        .build()
                        .unwrap(),
                ),
                None => set.ttl(60).resource_records(
                    ResourceRecord::builder()
                        .value("192.0.2.1")
                        .build()
                        .unwrap(),
                ),
            };
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(set.build().unwrap())
                .is_truncated(false)
                .max_items(1)
                .build()
                .unwrap()
        })
}

#[tokio::test(start_paused = true)]
async fn an_a_record_that_is_not_an_alias_to_our_alb_is_refused_with_no_mutating_call() {
    for foreign in [None, Some("someone-else.us-east-1.elb.amazonaws.com.")] {
        let (zones, shop, rest) = (zones(), record_of_shop(foreign), no_records());
        let list =
            mock!(Acm::list_certificates).then_output(|| ListCertificatesOutput::builder().build());
        // No rule for any mutating call: one would fail the test.
        let clients = Mocks {
            route53: vec![&zones, &shop, &rest],
            acm: vec![&list],
            ..Mocks::default()
        }
        .clients();
        let e = Executable::plan(&clients, &resources(), Mode::Apply)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NotOwned { .. }), "{e:?}");
        assert!(e.to_string().contains("shop.example.com"), "{e}");
        // Destroy leaves it alone.
        let destroy = Executable::plan(&clients, &resources(), Mode::Destroy)
            .await
            .unwrap();
        let alias = destroy
            .plan
            .get(&ResourceId::new("route53:alias-record", "shop.example.com"))
            .unwrap();
        assert!(!alias.change.is_change(), "{}", destroy.plan);
    }
    // Our own alias (dualstack, trailing dot, as Route 53 may report it) without a marker
    // (the previous version's): adopted by adding the marker, in one batch with the alias.
    let (zones, shop, rest) = (
        zones(),
        record_of_shop(Some("dualstack.prod-alb-1.us-east-1.elb.amazonaws.com.")),
        no_records(),
    );
    let list =
        mock!(Acm::list_certificates).then_output(|| ListCertificatesOutput::builder().build());
    let upsert = upsert_alias();
    let clients = Mocks {
        route53: vec![&zones, &shop, &rest, &upsert],
        acm: vec![&list],
        ..Mocks::default()
    }
    .clients();
    let alias_only = |r: Vec<Arc<dyn Resource<Clients>>>| {
        r.into_iter()
            .filter(|r| {
                r.id().kind != "acm:certificate" && r.id().kind != "route53:validation-records"
            })
            .collect::<Vec<_>>()
    };
    let exe = Executable::plan(&clients, &alias_only(resources()), Mode::Apply)
        .await
        .unwrap();
    let alias = exe
        .plan
        .get(&ResourceId::new("route53:alias-record", "shop.example.com"))
        .unwrap();
    let fargate_core::Change::Update { diffs } = &alias.change else {
        panic!("{}", exe.plan)
    };
    assert_eq!(
        diffs.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
        ["ownership_marker"],
        "{}",
        exe.plan
    );
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(upsert.num_calls(), 1);
}

fn frontend(domain: &str) -> FrontendApp {
    FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("shop")
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(80)
                .build()
                .unwrap(),
        )
        .domain(domain)
        .build()
        .unwrap()
}

#[tokio::test]
async fn bad_domains_are_typed_errors_before_any_call() {
    // No rules at all: any AWS call would fail the test.
    let d = Deployer::from_clients(Mocks::default().clients(), CallRecorder::new());
    let with = Environment::builder()
        .name("prod")
        .domain("example.com")
        .build()
        .unwrap();
    let without = Environment::builder().name("prod").build().unwrap();
    for (env, app) in [
        (&with, frontend("shop.example.org")),
        (&with, frontend("notexample.com")),
        (&without, frontend("shop.example.com")),
    ] {
        let e = d.plan(env, &[&app]).await.unwrap_err();
        let Error::Invalid(v) = &e else {
            panic!("expected a typed invalid value, got {e:?}");
        };
        assert_eq!(v.field, "shop.domain", "{e}");
    }
    for (domain, zone) in [
        ("Example..com", None),
        ("localhost", None),
        ("example.com", Some("")),
    ] {
        let b = Environment::builder().name("prod").domain(domain);
        let e = match zone {
            Some(z) => Environment::builder()
                .name("prod")
                .hosted_zone_id(z)
                .build()
                .unwrap_err(),
            None => b.build().unwrap_err(),
        };
        let Error::Invalid(v) = &e else {
            panic!("{e:?}");
        };
        assert!(v.field.starts_with("environment."), "{e}");
    }
    let e = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("shop")
                .image("nginx")
                .port(80)
                .build()
                .unwrap(),
        )
        .domain("Shop..example.com")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("shop.domain"), "{e}");
}

fn zone(id: &str, private: bool) -> HostedZone {
    HostedZone::builder()
        .id(format!("/hostedzone/{id}"))
        .name("example.com.")
        .caller_reference(id)
        .config(HostedZoneConfig::builder().private_zone(private).build())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_zone_must_be_one_public_zone_of_the_name_or_the_one_of_hosted_zone_id() {
    let zones = mock!(Route53::list_hosted_zones_by_name).then_output(|| {
        ListHostedZonesByNameOutput::builder()
            .hosted_zones(zone("Z1", false))
            .hosted_zones(zone("Z2", false))
            .hosted_zones(zone("Z3", true))
            .is_truncated(false)
            .max_items(100)
            .build()
            .unwrap()
    });
    let clients = Mocks {
        route53: vec![&zones],
        ..Mocks::default()
    }
    .clients();
    let plan = |id: Option<&str>| {
        let r: Vec<Arc<dyn Resource<Clients>>> = vec![node(HostedZoneSpec::new(
            name("example.com"),
            id.map(str::to_string),
        ))];
        let clients = clients.clone();
        async move { Executable::plan(&clients, &r, Mode::Apply).await }
    };
    let e = plan(None).await.unwrap_err();
    let Error::Invalid(v) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(v.field, "environment.domain");
    assert!(e.to_string().contains("2 public hosted zones"), "{e}");
    // The private zone of that name does not count, and is not chosen.
    assert!(plan(Some("Z3")).await.is_err());
    let exe = plan(Some("/hostedzone/Z2")).await.unwrap();
    let entry = exe
        .plan
        .get(&ResourceId::new("route53:hosted-zone", "example.com"))
        .unwrap();
    assert!(
        matches!(&entry.change, fargate_core::Change::Adopt { detail } if detail.contains("Z2")),
        "{}",
        exe.plan
    );
}

fn alias_of(name: &str, dns: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(format!("{name}."))
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name(dns)
                .hosted_zone_id(LB_ZONE)
                .evaluate_target_health(false)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn txt_of(name: &str, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(format!("{name}."))
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap()
}

fn marker(env: &str, app: &str) -> String {
    format!("\"heritage=fargate-rs,fargate-rs/environment={env},fargate-rs/app={app}\"")
}

/// The zone and the alias of app shop of environment prod at `domain`, with the check for
/// its earlier domains.
fn shop_alias(domain: &str) -> Vec<Arc<dyn Resource<Clients>>> {
    let lb = ResourceId::new("elbv2:load-balancer", "prod/alb");
    vec![
        node(HostedZoneSpec::new(name("example.com"), None)),
        node(AliasRecordSpec::new(
            ident("prod"),
            ident("shop"),
            name(domain),
            name("example.com"),
            lb.clone(),
            Ref::Known(LB_DNS.into()),
            Ref::Known(LB_ZONE.into()),
        )),
        node(StaleAliasRecords::new(
            ident("prod"),
            ident("shop"),
            name("example.com"),
            Some(name(domain)),
            lb,
            Ref::Known(LB_DNS.into()),
        )),
    ]
}

fn pending(id: &str) -> ChangeInfo {
    ChangeInfo::builder()
        .id(id)
        .status(ChangeStatus::Pending)
        .submitted_at(DateTime::from_secs(0))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_alias_is_written_with_its_marker_in_one_batch_then_waited_for_until_insync() {
    let (zones, records) = (zones(), no_records());
    let upsert = mock!(Route53::change_resource_record_sets)
        .match_requests(|r| alias_with_marker(r, "shop.example.com"))
        .then_output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(pending("/change/C1"))
                .build()
        });
    let get = mock!(Route53::get_change)
        // The SDK sends the id without its /change/ prefix.
        .match_requests(|r| {
            r.id()
                .is_some_and(|i| i.trim_start_matches("/change/") == "C1")
        })
        .sequence()
        .output(|| {
            GetChangeOutput::builder()
                .change_info(pending("/change/C1"))
                .build()
        })
        .output(|| {
            let mut i = pending("/change/C1");
            i.status = ChangeStatus::Insync;
            GetChangeOutput::builder().change_info(i).build()
        })
        .build();
    let clients = Mocks {
        route53: vec![&zones, &records, &upsert, &get],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &shop_alias("shop.example.com"), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(exe.plan.summary().create, 1, "{}", exe.plan);
    assert!(
        exe.plan
            .to_string()
            .contains("_fargate-rs.shop.example.com TXT"),
        "{}",
        exe.plan
    );
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((upsert.num_calls(), get.num_calls()), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn a_changed_domain_deletes_the_old_alias_with_its_marker_and_no_foreign_record() {
    let zones = zones();
    // The whole zone, as the check for earlier domains lists it (no start name).
    let listing = mock!(Route53::list_resource_record_sets)
        .match_requests(|r| r.start_record_name().is_none())
        .then_output(|| {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(alias_of("old.example.com", LB_DNS))
                .resource_record_sets(txt_of("_fargate-rs.old.example.com", MARKER_OF_SHOP))
                // Another environment's pair, another app's, a marker whose alias the
                // user moved elsewhere, the user's own records.
                .resource_record_sets(alias_of("staging.example.com", LB_DNS))
                .resource_record_sets(txt_of(
                    "_fargate-rs.staging.example.com",
                    &marker("staging", "shop"),
                ))
                .resource_record_sets(alias_of("blog.example.com", LB_DNS))
                .resource_record_sets(txt_of(
                    "_fargate-rs.blog.example.com",
                    &marker("prod", "blog"),
                ))
                .resource_record_sets(alias_of("moved.example.com", "elsewhere.example.net"))
                .resource_record_sets(txt_of("_fargate-rs.moved.example.com", MARKER_OF_SHOP))
                .resource_record_sets(alias_of("www.example.com", LB_DNS))
                .resource_record_sets(txt_of("example.com", "\"v=spf1 -all\""))
                .is_truncated(false)
                .max_items(300)
                .build()
                .unwrap()
        });
    let lookups = no_records();
    let upsert = mock!(Route53::change_resource_record_sets)
        .match_requests(|r| alias_with_marker(r, "new.example.com"))
        .then_output(|| ChangeResourceRecordSetsOutput::builder().build());
    let delete = |name: &'static str, with_alias: bool| {
        mock!(Route53::change_resource_record_sets)
            .match_requests(move |r| {
                let Some(batch) = r.change_batch() else {
                    return false;
                };
                let c: Vec<(String, String)> = batch
                    .changes()
                    .iter()
                    .filter(|c| *c.action() == ChangeAction::Delete)
                    .filter_map(|c| c.resource_record_set())
                    .map(|s| (s.name().to_string(), s.r#type().as_str().to_string()))
                    .collect();
                let mut want = Vec::new();
                if with_alias {
                    want.push((format!("{name}."), "A".to_string()));
                }
                want.push((format!("_fargate-rs.{name}."), "TXT".to_string()));
                batch.changes().len() == want.len() && c == want
            })
            .then_output(|| ChangeResourceRecordSetsOutput::builder().build())
    };
    let (old, moved) = (
        delete("old.example.com", true),
        delete("moved.example.com", false),
    );
    // No rule for any other change: one would fail the test.
    let clients = Mocks {
        route53: vec![&zones, &listing, &lookups, &upsert, &old, &moved],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &shop_alias("new.example.com"), Mode::Apply)
        .await
        .unwrap();
    let stale = exe
        .plan
        .get(&ResourceId::new("route53:stale-alias-records", "prod/shop"))
        .unwrap_or_else(|| panic!("{}", exe.plan));
    assert_eq!(stale.change, fargate_core::Change::Delete, "{}", exe.plan);
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listing.num_calls(), 1, "the zone is listed once");
    assert_eq!(
        (upsert.num_calls(), old.num_calls(), moved.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_marker_of_another_environment_or_app_is_refused_and_left_on_destroy() {
    for (env, app) in [("staging", "shop"), ("prod", "blog")] {
        let zones = zones();
        let value = marker(env, app);
        let found = mock!(Route53::list_resource_record_sets)
            .match_requests(|r| r.start_record_type() == Some(&RrType::Txt))
            .then_output(move || {
                ListResourceRecordSetsOutput::builder()
                    .resource_record_sets(txt_of("_fargate-rs.shop.example.com", &value))
                    .is_truncated(false)
                    .max_items(1)
                    .build()
                    .unwrap()
            });
        let rest = no_records();
        let clients = Mocks {
            route53: vec![&zones, &found, &rest],
            ..Mocks::default()
        }
        .clients();
        let e = Executable::plan(&clients, &shop_alias("shop.example.com"), Mode::Apply)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NotOwned { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains(&format!("app {app} of environment {env}")),
            "{e}"
        );
        let destroy = Executable::plan(&clients, &shop_alias("shop.example.com"), Mode::Destroy)
            .await
            .unwrap();
        assert!(!destroy.plan.has_changes(), "{}", destroy.plan);
    }
}

fn summary(arn: &str) -> CertificateSummary {
    CertificateSummary::builder()
        .certificate_arn(arn)
        .domain_name("example.com")
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_validation_record_another_certificate_needs_is_kept_on_destroy() {
    const OTHER: &str = "arn:aws:acm:us-east-1:123456789012:certificate/user-1";
    for shared in [true, false] {
        let zones = zones();
        let cname = mock!(Route53::list_resource_record_sets)
            .match_requests(|r| r.start_record_name() == Some(CNAME_NAME))
            .then_output(|| {
                ListResourceRecordSetsOutput::builder()
                    .resource_record_sets(
                        ResourceRecordSet::builder()
                            .name(CNAME_NAME)
                            .r#type(RrType::Cname)
                            .ttl(300)
                            .resource_records(
                                ResourceRecord::builder()
                                    .value(CNAME_VALUE)
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .is_truncated(false)
                    .max_items(1)
                    .build()
                    .unwrap()
            });
        let rest = no_records();
        let list = mock!(Acm::list_certificates).then_output(move || {
            let mut out = ListCertificatesOutput::builder().certificate_summary_list(summary(ARN));
            if shared {
                // The user's own certificate of a name under the same validation record.
                out = out.certificate_summary_list(
                    CertificateSummary::builder()
                        .certificate_arn(OTHER)
                        .domain_name("www.example.org")
                        .subject_alternative_name_summaries("www.example.org")
                        .subject_alternative_name_summaries("*.example.com")
                        .build(),
                );
            }
            out.build()
        });
        let tags = mock!(Acm::list_tags_for_certificate).then_output(our_tags);
        let describe = mock!(Acm::describe_certificate)
            .match_requests(|r| r.certificate_arn() == Some(ARN))
            .then_output(|| described(CertificateStatus::Issued, true));
        let delete_cert = mock!(Acm::delete_certificate)
            .match_requests(|r| r.certificate_arn() == Some(ARN))
            .then_output(|| DeleteCertificateOutput::builder().build());
        let delete_cname = mock!(Route53::change_resource_record_sets)
            .match_requests(|r| {
                r.change_batch().is_some_and(|b| {
                    b.changes().len() == 1
                        && *b.changes()[0].action() == ChangeAction::Delete
                        && b.changes()[0]
                            .resource_record_set()
                            .is_some_and(|s| s.name() == CNAME_NAME)
                })
            })
            .then_output(|| ChangeResourceRecordSetsOutput::builder().build());
        let clients = Mocks {
            route53: vec![&zones, &cname, &rest, &delete_cname],
            acm: vec![&list, &tags, &describe, &delete_cert],
            ..Mocks::default()
        }
        .clients();
        let domain = name("example.com");
        let r: Vec<Arc<dyn Resource<Clients>>> = vec![
            node(HostedZoneSpec::new(domain.clone(), None)),
            node(CertificateSpec::new(
                &ident("prod"),
                domain.clone(),
                Tags::new(),
            )),
            node(ValidationRecordsSpec::new(domain)),
        ];
        let exe = Executable::plan(&clients, &r, Mode::Destroy).await.unwrap();
        let entry = exe
            .plan
            .get(&ResourceId::new(
                "route53:validation-records",
                "example.com",
            ))
            .unwrap();
        if shared {
            assert!(
                matches!(&entry.change, fargate_core::Change::Adopt { detail } if detail.contains(OTHER)),
                "{}",
                exe.plan
            );
        } else {
            assert_eq!(entry.change, fargate_core::Change::Delete, "{}", exe.plan);
        }
        let (_, graph) = exe.into_graph(clients.clone()).unwrap();
        graph
            .run(RunOptions::default())
            .await
            .into_result()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(delete_cert.num_calls(), 1, "ours is deleted either way");
        assert_eq!(delete_cname.num_calls(), usize::from(!shared));
    }
}

/// Our ownership tags (of the certificate `c-1`; the user's certificate is of another domain
/// and never asked for).
fn our_tags() -> ListTagsForCertificateOutput {
    let owner = fargate_core::tags::Ownership::new(ident("prod")).with_component("certificate");
    let mut out = ListTagsForCertificateOutput::builder();
    for (k, v) in owner.tags() {
        out = out.tags(AcmTag::builder().key(k).value(v).build().unwrap());
    }
    out.build()
}
