//! Custom domains against the moto server: the user's public hosted zone `example.com`
//! exists; an environment with that domain and a FrontendApp at `shop.example.com`, through
//! `Deployer`: the certificate is requested and ISSUED, the HTTPS listener uses it, HTTP 80
//! redirects, the alias record points at the ALB, the app's URL is `https://shop.example.com/`;
//! re-apply makes no mutating call; destroy leaves the zone with its NS and SOA records only
//! and no certificate. Changing the app's domain replaces the alias and its ownership marker
//! (the old pair is deleted), removing it deletes the pair. A foreign A record of the app's name is refused before any change.

use fargate_core::Error;
use fargate_deploy::{ContainerService, Deployer, Environment, FrontendApp};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_acm::Client as Acm;
use fargate_testkit::aws_sdk_route53::Client as Route53;
use fargate_testkit::aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

/// The user's public hosted zone (made directly with the SDK); its id.
async fn user_zone(r53: &Route53, name: &str) -> String {
    let out = r53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("user-{name}"))
        .send()
        .await
        .unwrap();
    let id = out.hosted_zone().unwrap().id().to_string();
    id.trim_start_matches("/hostedzone/").to_string()
}

async fn records(r53: &Route53, zone: &str) -> Vec<(String, String)> {
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap();
    out.resource_record_sets()
        .iter()
        .map(|r| (r.name().to_string(), r.r#type().as_str().to_string()))
        .collect()
}

/// The value of the ownership marker of `name`, if there is one.
async fn marker_of(r53: &Route53, zone: &str, name: &str) -> Option<String> {
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap();
    out.resource_record_sets()
        .iter()
        .find(|r| r.name() == format!("_fargate-rs.{name}.") && *r.r#type() == RrType::Txt)
        .and_then(|r| r.resource_records().first())
        .map(|v| v.value().to_string())
}

fn shop(domain: &str) -> FrontendApp {
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
async fn a_domain_gets_an_issued_certificate_https_and_an_alias_record_then_leaves_only_the_zone() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let r53 = ctx.client::<Route53>();
    let acm = ctx.client::<Acm>();
    let elb = ctx.elb();
    let zone = user_zone(&r53, "example.com").await;
    let env = Environment::builder()
        .name("shopenv")
        .domain("example.com")
        .build()
        .unwrap();
    let app = shop("shop.example.com");

    let plan = d.plan(&env, &[&app]).await.unwrap();
    let shown = plan.to_string();
    for entry in [
        "route53:hosted-zone example.com",
        "+ acm:certificate example.com",
        "+ route53:validation-records example.com",
        "+ route53:alias-record shop.example.com",
    ] {
        assert!(shown.contains(entry), "{entry} in\n{shown}");
    }
    assert!(shown.contains("*.example.com"), "{shown}");
    let report = d
        .apply(plan)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    assert_eq!(report.outputs["shop.url"], "https://shop.example.com/");

    // The certificate: ours, ISSUED, for the domain and its wildcard.
    let certs = acm.list_certificates().send().await.unwrap();
    let summaries = certs.certificate_summary_list();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let arn = summaries[0].certificate_arn().unwrap().to_string();
    let described = acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    let cert = described.certificate().unwrap();
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    assert!(
        cert.subject_alternative_names()
            .contains(&"*.example.com".to_string()),
        "{cert:?}"
    );

    // The ALB: HTTPS 443 with that certificate, HTTP 80 redirecting.
    let lb = elb
        .describe_load_balancers()
        .names("shopenv-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
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
            .clone()
    };
    assert_eq!(on(443).protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(
        on(443).certificates()[0].certificate_arn(),
        Some(arn.as_str())
    );
    let redirect = on(80).default_actions()[0]
        .redirect_config()
        .unwrap()
        .clone();
    assert_eq!(
        (redirect.protocol(), redirect.port()),
        (Some("HTTPS"), Some("443"))
    );
    // The app's rule matches its host.
    let rules = elb
        .describe_rules()
        .listener_arn(on(443).listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let hosts: Vec<String> = rules
        .rules()
        .iter()
        .flat_map(|r| r.conditions())
        .filter_map(|c| c.host_header_config())
        .flat_map(|h| h.values().to_vec())
        .collect();
    assert_eq!(hosts, ["shop.example.com"]);

    // The alias record points at the ALB; the validation CNAME is in the zone.
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    let alias = sets
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == "shop.example.com." && *r.r#type() == RrType::A)
        .and_then(|r| r.alias_target())
        .unwrap_or_else(|| panic!("no alias record: {sets:?}"));
    assert_eq!(
        alias.dns_name().trim_end_matches('.'),
        lb.dns_name().unwrap()
    );
    assert_eq!(
        alias.hosted_zone_id(),
        lb.canonical_hosted_zone_id().unwrap()
    );
    assert!(
        records(&r53, &zone)
            .await
            .iter()
            .any(|(n, t)| t == "CNAME" && n.ends_with("example.com.")),
        "{sets:?}"
    );

    // Re-apply: nothing to do, no mutating call.
    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // The alias's ownership marker is next to it.
    let marker = marker_of(&r53, &zone, "shop.example.com").await;
    assert_eq!(
        marker.as_deref(),
        Some("\"heritage=fargate-rs,fargate-rs/environment=shopenv,fargate-rs/app=shop\"")
    );

    // Another domain: the new alias and marker are made, the old pair is deleted.
    let app = shop("store.example.com");
    let moved = d.plan(&env, &[&app]).await.unwrap();
    let shown = moved.to_string();
    for entry in [
        "+ route53:alias-record store.example.com",
        "route53:stale-alias-records shopenv/shop",
    ] {
        assert!(shown.contains(entry), "{entry} in\n{shown}");
    }
    let report = d
        .apply(moved)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    assert_eq!(report.outputs["shop.url"], "https://store.example.com/");
    let now = records(&r53, &zone).await;
    for gone in ["shop.example.com.", "_fargate-rs.shop.example.com."] {
        assert!(!now.iter().any(|(n, _)| n == gone), "{gone} left: {now:?}");
    }
    for (name, t) in [
        ("store.example.com.", "A"),
        ("_fargate-rs.store.example.com.", "TXT"),
    ] {
        assert!(
            now.iter().any(|(n, k)| n == name && k == t),
            "{name} {t} missing: {now:?}"
        );
    }
    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // No domain any more: the pair goes, the rest of the app stays.
    let app = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("shop")
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(80)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    d.apply(d.plan(&env, &[&app]).await.unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:?}", e.source));
    let now = records(&r53, &zone).await;
    assert!(
        !now.iter().any(|(n, _)| n.contains("store.example.com")),
        "{now:?}"
    );
    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");

    // Destroy: the zone keeps its NS and SOA records only; no certificate is left.
    d.destroy(&env, &[&app])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut left: Vec<String> = records(&r53, &zone)
        .await
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    left.sort();
    assert_eq!(left, ["NS", "SOA"]);
    assert!(
        acm.list_certificates()
            .send()
            .await
            .unwrap()
            .certificate_summary_list()
            .is_empty()
    );
    let zones = r53.list_hosted_zones().send().await.unwrap();
    assert_eq!(zones.hosted_zones().len(), 1, "the user's zone stays");
}

#[tokio::test]
async fn a_foreign_record_of_the_apps_name_is_refused_and_left_as_it_was() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let r53 = ctx.client::<Route53>();
    let zone = user_zone(&r53, "example.org").await;
    let set = ResourceRecordSet::builder()
        .name("www.example.org.")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.1")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let env = Environment::builder()
        .name("orgenv")
        .domain("example.org")
        .build()
        .unwrap();
    let mark = ctx.recorder().mark();
    let e = d.plan(&env, &[&shop("www.example.org")]).await.unwrap_err();
    assert!(matches!(e, Error::NotOwned { .. }), "{e:?}");
    assert!(e.to_string().contains("www.example.org"), "{e}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_domain_without_its_zone_is_a_typed_error_naming_the_field() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder()
        .name("nozone")
        .domain("missing.example")
        .build()
        .unwrap();
    let mark = ctx.recorder().mark();
    let e = d.plan(&env, &[&shop("missing.example")]).await.unwrap_err();
    let Error::Invalid(v) = &e else {
        panic!("expected a typed invalid value, got {e:?}");
    };
    assert_eq!(v.field, "environment.domain");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
}
