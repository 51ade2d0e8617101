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
    AliasRecordSpec, CertificateSpec, HostedZoneSpec, ValidationRecordsSpec,
};
use fargate_deploy::{ContainerService, Deployer, Environment, FrontendApp};
use fargate_testkit::aws_sdk_acm::Client as Acm;
use fargate_testkit::aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
use fargate_testkit::aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
use fargate_testkit::aws_sdk_acm::operation::request_certificate::RequestCertificateOutput;
use fargate_testkit::aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, DomainValidation, FailureReason, RecordType,
    ResourceRecord as AcmRecord,
};
use fargate_testkit::aws_sdk_route53::Client as Route53;
use fargate_testkit::aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use fargate_testkit::aws_sdk_route53::operation::list_hosted_zones_by_name::ListHostedZonesByNameOutput;
use fargate_testkit::aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use fargate_testkit::aws_sdk_route53::types::{
    AliasTarget, ChangeAction, HostedZone, HostedZoneConfig, ResourceRecord, ResourceRecordSet,
    RrType,
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

fn upsert_alias() -> Rule {
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
                    s.name() == "shop.example.com."
                        && *s.r#type() == RrType::A
                        && s.alias_target().is_some_and(|a| {
                            a.dns_name() == LB_DNS && a.hosted_zone_id() == LB_ZONE
                        })
                })
        })
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
        .match_requests(|r| r.start_record_name() == Some("shop.example.com."))
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
        let (zones, shop) = (zones(), record_of_shop(foreign));
        let list =
            mock!(Acm::list_certificates).then_output(|| ListCertificatesOutput::builder().build());
        // No rule for any mutating call: one would fail the test.
        let clients = Mocks {
            route53: vec![&zones, &shop],
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
    // Our own alias (dualstack, trailing dot, as Route 53 may report it) is ours.
    let (zones, shop) = (
        zones(),
        record_of_shop(Some("dualstack.prod-alb-1.us-east-1.elb.amazonaws.com.")),
    );
    let list =
        mock!(Acm::list_certificates).then_output(|| ListCertificatesOutput::builder().build());
    let clients = Mocks {
        route53: vec![&zones, &shop],
        acm: vec![&list],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap();
    let alias = exe
        .plan
        .get(&ResourceId::new("route53:alias-record", "shop.example.com"))
        .unwrap();
    assert!(!alias.change.is_change(), "{}", exe.plan);
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
