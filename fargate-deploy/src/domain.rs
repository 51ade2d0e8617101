//! Custom domains with Route 53 and ACM: an environment's `domain` (a public hosted zone the
//! user owns), the certificate fargate-rs requests for it, and one alias record per
//! [`crate::FrontendApp`] with a `domain`.
//!
//! - [`HostedZoneSpec`]: the public hosted zone of that name, found with
//!   `ListHostedZonesByName` (exactly one, or the one of `hosted_zone_id`). Adopted: never
//!   created, modified or deleted.
//! - [`CertificateSpec`]: an ACM certificate for `<domain>` and `*.<domain>` with DNS
//!   validation, requested with an idempotency token derived from the environment and the
//!   domain and tagged with the ownership tags; a certificate of that domain without our tags
//!   is left alone.
//! - [`ValidationRecordsSpec`]: the certificate's validation `CNAME` records, UPSERTed into
//!   the zone; its step then waits until the certificate is `ISSUED` (bounded, failing with
//!   ACM's status and reason) and publishes the ARN the shared ALB's HTTPS listener uses
//!   ([`ValidationRecordsSpec::validated_arn`]). Destroy deletes the records only while they
//!   still hold the certificate's values, and keeps them while another certificate of the
//!   account still needs the name (ACM's validation record of a name is the same for every
//!   certificate of it; the plan shows them kept, naming that certificate).
//! - [`AliasRecordSpec`]: an `A` alias record of an app's domain to the shared ALB, with an
//!   ownership marker: the `TXT` record `_fargate-rs.<name>` holding
//!   `"heritage=fargate-rs,fargate-rs/environment=<env>,fargate-rs/app=<app>"` (external-dns's
//!   TXT registry style, at a name of its own so that no user `TXT` set or `CNAME` is in the
//!   way), UPSERTed in the same change batch as the alias; the step then waits until the
//!   change is `INSYNC` (`GetChange`, bounded; skipped when Route 53 answers `INSYNC` at once,
//!   as moto does). Route 53 records have no tags: the marker proves ownership. A record
//!   with the marker of another environment or app, or without a marker and not an alias to
//!   our load balancer, is foreign ([`Error::NotOwned`], never overwritten or deleted); an
//!   alias to our load balancer without a marker (made before markers) is adopted by adding
//!   it. Destroy deletes alias and marker in one batch (the alias only while it still
//!   aliases our load balancer).
//! - [`StaleAliasRecords`]: per app, the markers of this environment and app in the zone at
//!   another name than its domain now (found by listing the zone once per plan); each is
//!   deleted with its alias after the new alias is made (a plan entry with `Delete`).
//!
//! Destroy order follows the dependencies: alias records and the HTTPS listener first, then
//! the validation records, then the certificate; the zone stays.

use std::time::Duration;

use aws_sdk_acm::types::{
    CertificateStatus, Filters, KeyAlgorithm, Tag as AcmTag, ValidationMethod,
};
use aws_sdk_route53::types::{
    AliasTarget, Change as RrChange, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until, retry_eventual};
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Ident, InvalidValue, Kind, Mode, OwnershipCheck,
    PlanValues, Ref, Resolved, ResourceId, Round, StepContext, Tags,
};
use fargate_net::deferred::KNOWN_AFTER_APPLY;

use crate::Clients;
use crate::aws_util::{bad_request, creation_tags, missing};
use crate::discovery::DnsName;

/// The resource kind of the adopted hosted zone in plans.
pub const ZONE_KIND: &str = "route53:hosted-zone";
/// The resource kind of ACM certificates in plans.
pub const CERTIFICATE_KIND: &str = "acm:certificate";
/// The resource kind of a certificate's validation records in plans.
pub const VALIDATION_KIND: &str = "route53:validation-records";
/// The resource kind of alias records in plans.
pub const ALIAS_KIND: &str = "route53:alias-record";

/// The TTL of the validation `CNAME` records, in seconds.
const VALIDATION_TTL: i64 = 300;
/// How long DescribeCertificate is polled for the validation records ACM adds shortly after
/// the request.
const RECORDS_POLL: Poll = Poll::new(Duration::from_secs(120), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));
/// How long a certificate is waited for until it is `ISSUED` (DNS validation takes minutes).
const ISSUED_POLL: Poll = Poll::new(Duration::from_secs(1800), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(30));
/// How long a delete waits while ELB still holds the certificate (`ResourceInUseException`).
const IN_USE_POLL: Poll = Poll::new(Duration::from_secs(300), Duration::from_secs(5))
    .with_max_interval(Duration::from_secs(20));

/// A public domain name (`example.com`): a lower-case DNS name of at least two labels.
///
/// # Errors
/// [`InvalidValue`] naming `field`.
pub fn parse_domain(field: &str, s: &str) -> Result<DnsName, InvalidValue> {
    let name: DnsName = s.parse().map_err(|e: InvalidValue| e.in_field(field))?;
    if !name.as_str().contains('.') {
        return Err(InvalidValue::new(
            field,
            s,
            "a public domain has at least two labels",
            "a domain name such as example.com or shop.example.com",
        ));
    }
    Ok(name)
}

/// Whether `name` is `domain` or a name under it.
pub fn is_within(name: &DnsName, domain: &DnsName) -> bool {
    name == domain
        || name
            .as_str()
            .strip_suffix(domain.as_str())
            .is_some_and(|p| p.ends_with('.'))
}

/// A DNS name as Route 53 or ELB report it, for comparing: lower case, no trailing dot, no
/// `dualstack.` prefix.
fn normalize(name: &str) -> String {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n.strip_prefix("dualstack.")
        .map_or(n.clone(), str::to_string)
}

/// A hosted zone id without its `/hostedzone/` prefix.
fn zone_id_of(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

/// The identity of the hosted zone of `domain` in plans.
pub fn zone_resource(domain: &DnsName) -> ResourceId {
    ResourceId::new(ZONE_KIND, domain.as_str())
}

/// Output: the hosted zone's id (`Z…`).
pub fn zone_id(domain: &DnsName) -> OutputKey<String> {
    zone_resource(domain).output("id")
}

/// The identity of the certificate of `domain` in plans.
pub fn certificate_resource(domain: &DnsName) -> ResourceId {
    ResourceId::new(CERTIFICATE_KIND, domain.as_str())
}

/// Output: the certificate's ARN.
pub fn certificate_arn(domain: &DnsName) -> OutputKey<String> {
    certificate_resource(domain).output("arn")
}

/// Output: the certificate's validation records.
fn certificate_records(domain: &DnsName) -> OutputKey<Vec<ValidationRecord>> {
    certificate_resource(domain).output("validation_records")
}

/// Output: the certificate's status.
fn certificate_status(domain: &DnsName) -> OutputKey<String> {
    certificate_resource(domain).output("status")
}

/// The identity of the validation records of `domain`'s certificate in plans.
pub fn validation_resource(domain: &DnsName) -> ResourceId {
    ResourceId::new(VALIDATION_KIND, domain.as_str())
}

/// The identity of the alias record `name` in plans.
pub fn alias_resource(name: &DnsName) -> ResourceId {
    ResourceId::new(ALIAS_KIND, name.as_str())
}

/// One `CNAME` record ACM asks for to validate a domain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ValidationRecord {
    /// The record's name (`_x.example.com.`).
    pub name: String,
    /// Its value (`_y.acm-validations.aws.`).
    pub value: String,
}

impl ValidationRecord {
    fn describe(&self) -> String {
        format!("{} CNAME {}", self.name, self.value)
    }
}

/// The environment's public hosted zone, adopted: read, never changed.
#[derive(Debug, Clone)]
pub struct HostedZoneSpec {
    domain: DnsName,
    hosted_zone_id: Option<String>,
}

/// A hosted zone as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedZone {
    /// The zone id, without `/hostedzone/`.
    pub id: String,
    /// The zone's name.
    pub name: String,
}

impl HostedZoneSpec {
    /// The public zone `domain` (the one of `hosted_zone_id` when several have that name).
    pub fn new(domain: DnsName, hosted_zone_id: Option<String>) -> Self {
        Self {
            domain,
            hosted_zone_id: hosted_zone_id.map(|z| zone_id_of(&z).to_string()),
        }
    }

    fn invalid(&self, why: &str) -> Error {
        InvalidValue::new(
            "environment.domain",
            self.domain.as_str(),
            why,
            "the name of exactly one public Route 53 hosted zone of this account \
             (or set environment.hosted_zone_id to choose one)",
        )
        .into()
    }

    #[tracing::instrument(skip_all, fields(resource = %zone_resource(&self.domain)))]
    async fn find(&self, c: &Clients) -> Result<Vec<ObservedZone>, Error> {
        let id = zone_resource(&self.domain);
        let wanted = format!("{}.", self.domain);
        let mut found = Vec::new();
        let mut next: Option<(String, Option<String>)> = None;
        loop {
            let mut req = c.route53.list_hosted_zones_by_name().max_items(100);
            req = match &next {
                Some((name, zone)) => req.dns_name(name).set_hosted_zone_id(zone.clone()),
                None => req.dns_name(&wanted),
            };
            let out = req.send().await.context(&id, "ListHostedZonesByName")?;
            let mut past = false;
            for z in out.hosted_zones() {
                if normalize(z.name()) != self.domain.as_str() {
                    // Zones come sorted by name: one of another name ends ours.
                    past = true;
                    continue;
                }
                if z.config().is_some_and(|c| c.private_zone()) {
                    continue;
                }
                found.push(ObservedZone {
                    id: zone_id_of(z.id()).to_string(),
                    name: self.domain.to_string(),
                });
            }
            match (out.is_truncated(), out.next_dns_name()) {
                (true, Some(n)) if !past => {
                    next = Some((n.to_string(), out.next_hosted_zone_id().map(str::to_string)));
                }
                _ => break,
            }
        }
        Ok(found)
    }

    /// The one zone this spec means among `found`.
    fn pick(&self, found: &[ObservedZone]) -> Result<Option<ObservedZone>, Error> {
        match &self.hosted_zone_id {
            Some(z) => match found.iter().find(|f| &f.id == z) {
                Some(f) => Ok(Some(f.clone())),
                None => Err(self.invalid(&format!(
                    "no public hosted zone of this name has the id {z} (environment.hosted_zone_id)"
                ))),
            },
            None => match found {
                [] => Ok(None),
                [one] => Ok(Some(one.clone())),
                _ => Err(self.invalid(&format!(
                    "{} public hosted zones have this name",
                    found.len()
                ))),
            },
        }
    }
}

impl Kind<Clients> for HostedZoneSpec {
    type Observed = ObservedZone;

    fn id(&self) -> ResourceId {
        zone_resource(&self.domain)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedZone>, Error>> {
        Box::pin(async move {
            let key = format!("route53:zones:{}", self.domain);
            let found = round.observe_once(&key, || self.find(clients)).await?;
            match self.pick(&found) {
                Ok(z) => Ok(z),
                // Destroying after the zone went away: nothing of ours is in it.
                Err(_) if mode == Mode::Destroy => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn diff(&self, observed: Option<&ObservedZone>, _: &Resolved) -> Result<Change, Error> {
        match observed {
            Some(z) => Ok(Change::Adopt {
                detail: format!("hosted zone {} ({})", z.name, z.id),
            }),
            None => Err(self.invalid("no public Route 53 hosted zone has this name")),
        }
    }

    fn destroy_change(&self, observed: Option<&ObservedZone>) -> Change {
        match observed {
            Some(z) => Change::Adopt {
                detail: format!("hosted zone {} ({}), kept", z.name, z.id),
            },
            None => Change::NoOp,
        }
    }

    fn outputs(&self, observed: Option<&ObservedZone>, _: &Change, _: &Resolved) -> PlanValues {
        observed.map_or_else(PlanValues::new, |z| {
            PlanValues::new().with(&zone_id(&self.domain), &z.id)
        })
    }

    fn apply<'a>(
        &'a self,
        _: &'a Clients,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedZone>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let z = observed.ok_or_else(|| self.invalid("no public hosted zone has this name"))?;
            ctx.set(&zone_id(&self.domain), z.id.clone());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a StepContext,
        _: &'a ObservedZone,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Never deleted (destroy_change never plans it).
        Box::pin(async { Ok(()) })
    }
}

/// The ACM certificate of an environment's domain: `<domain>` and `*.<domain>`, DNS
/// validation.
#[derive(Debug, Clone)]
pub struct CertificateSpec {
    domain: DnsName,
    ownership: Ownership,
    tags: Tags,
}

/// A certificate as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedCertificate {
    /// The ARN.
    pub arn: String,
    /// ACM's status (`PENDING_VALIDATION`, `ISSUED`, …).
    pub status: String,
    /// The validation records ACM asks for (empty until ACM has made them).
    pub records: Vec<ValidationRecord>,
    fields: Fields,
}

impl CertificateSpec {
    /// The certificate of environment `env`'s `domain`.
    pub fn new(env: &Ident, domain: DnsName, tags: Tags) -> Self {
        Self {
            domain,
            ownership: Ownership::new(env.clone()).with_component("certificate"),
            tags,
        }
    }

    fn wildcard(&self) -> String {
        format!("*.{}", self.domain)
    }

    fn desired_fields(&self) -> Fields {
        Fields::new()
            .with("domain", self.domain.as_str())
            .with_set("subject_alternative_names", [self.wildcard()])
            .with("validation_method", "DNS")
    }

    /// The idempotency token of the request: the same for one environment and domain (ACM
    /// keeps a token for an hour), letters and digits, at most 32.
    fn token(&self) -> String {
        let h = crate::shared_lb::stable_hash(&format!(
            "{}/{}",
            self.ownership.environment, self.domain
        ));
        format!("fargaters{h:016x}")
    }

    #[tracing::instrument(skip_all, fields(resource = %certificate_resource(&self.domain)))]
    async fn find(&self, c: &Clients) -> Result<Option<ObservedCertificate>, Error> {
        let id = certificate_resource(&self.domain);
        let mut pages = c.acm.list_certificates().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.context(&id, "ListCertificates")?;
            for s in page.certificate_summary_list() {
                let (Some(arn), Some(domain)) = (s.certificate_arn(), s.domain_name()) else {
                    continue;
                };
                if domain != self.domain.as_str() {
                    continue;
                }
                let tags = c
                    .acm
                    .list_tags_for_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .context(&id, "ListTagsForCertificate")?;
                let tags: Vec<(String, String)> = tags
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                // Other certificates of this domain (the user's, other environments') are
                // left alone: only ours is managed.
                if self
                    .ownership
                    .check(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    != OwnershipCheck::Owned
                {
                    continue;
                }
                return Ok(Some(self.describe(c, arn).await?));
            }
        }
        Ok(None)
    }

    #[tracing::instrument(skip_all, fields(resource = %certificate_resource(&self.domain)))]
    async fn describe(&self, c: &Clients, arn: &str) -> Result<ObservedCertificate, Error> {
        let id = certificate_resource(&self.domain);
        let out = c
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .context(&id, "DescribeCertificate")?;
        let cert = out
            .certificate()
            .ok_or_else(|| missing(&id, "DescribeCertificate", "Certificate"))?;
        let mut records: Vec<ValidationRecord> = cert
            .domain_validation_options()
            .iter()
            .filter_map(|o| o.resource_record())
            .map(|r| ValidationRecord {
                name: r.name().to_string(),
                value: r.value().to_string(),
            })
            .collect();
        // The domain and its wildcard are validated by one record.
        records.sort();
        records.dedup();
        let domain = cert.domain_name().unwrap_or_default();
        Ok(ObservedCertificate {
            arn: arn.to_string(),
            status: cert
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            records,
            fields: Fields::new()
                .with("domain", domain)
                .with_set(
                    "subject_alternative_names",
                    cert.subject_alternative_names()
                        .iter()
                        .filter(|n| n.as_str() != domain)
                        .cloned(),
                )
                .with(
                    "validation_method",
                    if cert.domain_validation_options().is_empty() {
                        "NONE"
                    } else {
                        "DNS"
                    },
                ),
        })
    }

    #[tracing::instrument(skip_all, fields(resource = %certificate_resource(&self.domain)))]
    async fn request(&self, c: &Clients) -> Result<String, Error> {
        let id = certificate_resource(&self.domain);
        let tags = creation_tags(&self.ownership, &self.tags, self.domain.as_str())
            .into_iter()
            .map(|(k, v)| {
                AcmTag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| bad_request(&id, "RequestCertificate", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = c
            .acm
            .request_certificate()
            .domain_name(self.domain.as_str())
            .subject_alternative_names(self.wildcard())
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(self.token())
            .set_tags(Some(tags))
            .send()
            .await
            .context(&id, "RequestCertificate")?;
        Ok(out
            .certificate_arn()
            .ok_or_else(|| missing(&id, "RequestCertificate", "CertificateArn"))?
            .to_string())
    }

    /// The certificate once ACM lists its validation records.
    #[tracing::instrument(skip_all, fields(resource = %certificate_resource(&self.domain)))]
    async fn with_records(
        &self,
        c: &Clients,
        ctx: &StepContext,
        arn: &str,
    ) -> Result<ObservedCertificate, Error> {
        let id = certificate_resource(&self.domain);
        poll_until(
            ctx,
            &id,
            &format!(
                "the validation records of the certificate of {}",
                self.domain
            ),
            RECORDS_POLL,
            || async {
                let cert = self.describe(c, arn).await?;
                Ok((!cert.records.is_empty() || cert.status == "ISSUED").then_some(cert))
            },
        )
        .await
    }

    /// Deletes the certificate (gone already is fine), waiting while ELB still uses it.
    #[tracing::instrument(skip_all, fields(resource = %certificate_resource(&self.domain)))]
    async fn delete(&self, c: &Clients, ctx: &StepContext, arn: &str) -> Result<(), Error> {
        let id = certificate_resource(&self.domain);
        // ELB lets go of a certificate shortly after its listener is deleted.
        let in_use = |e: &Error| e.aws_code() == Some("ResourceInUseException");
        retry_eventual(ctx, IN_USE_POLL, in_use, || async {
            match c.acm.delete_certificate().certificate_arn(arn).send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if fargate_core::error::sdk_error_code(&e)
                        == Some("ResourceNotFoundException") =>
                {
                    Ok(())
                }
                Err(e) => Err(Error::from_sdk(&id, "DeleteCertificate", e)),
            }
        })
        .await
    }

    fn publish(&self, ctx: &StepContext, cert: &ObservedCertificate) {
        ctx.set(&certificate_arn(&self.domain), cert.arn.clone());
        ctx.set(&certificate_records(&self.domain), cert.records.clone());
        ctx.set(&certificate_status(&self.domain), cert.status.clone());
    }
}

impl Kind<Clients> for CertificateSpec {
    type Observed = ObservedCertificate;

    fn id(&self) -> ResourceId {
        certificate_resource(&self.domain)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedCertificate>, Error>> {
        Box::pin(self.find(clients))
    }

    fn diff(&self, observed: Option<&ObservedCertificate>, _: &Resolved) -> Result<Change, Error> {
        match Change::compute(
            &self.desired_fields(),
            observed.map(|o| &o.fields),
            &["domain", "subject_alternative_names", "validation_method"],
        ) {
            // ACM cannot change a certificate's names, and ours is in use by the listener:
            // refused at plan time rather than deleted on our own.
            Change::Replace { reason, .. } => Err(Error::Unexpected {
                resource: certificate_resource(&self.domain),
                operation: "plan".into(),
                detail: format!(
                    "the certificate {} does not cover {} and {} ({reason}): delete it to have                      a new one requested",
                    observed.map_or("", |o| o.arn.as_str()),
                    self.domain,
                    self.wildcard()
                ),
            }),
            change => Ok(change),
        }
    }

    fn outputs(
        &self,
        observed: Option<&ObservedCertificate>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            let v = PlanValues::new()
                .with(&certificate_arn(&self.domain), &o.arn)
                .with(&certificate_status(&self.domain), &o.status);
            if o.records.is_empty() {
                v
            } else {
                v.with(&certificate_records(&self.domain), &o.records)
            }
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedCertificate>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let cert = match (change, observed) {
                (Change::NoOp | Change::Update { .. }, Some(o)) if !o.records.is_empty() => {
                    o.clone()
                }
                (Change::NoOp | Change::Update { .. }, Some(o)) => {
                    self.with_records(clients, ctx, &o.arn).await?
                }
                _ => {
                    let arn = self.request(clients).await?;
                    self.with_records(clients, ctx, &arn).await?
                }
            };
            self.publish(ctx, &cert);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedCertificate,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete(clients, ctx, &observed.arn))
    }
}

/// A record set as found in a zone: its name, type, TTL, values and alias target.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FoundRecord {
    /// The name, as Route 53 reports it (with its trailing dot).
    pub name: String,
    /// The TTL (none for an alias).
    pub ttl: Option<i64>,
    /// The values.
    pub values: Vec<String>,
    /// The alias target: DNS name, hosted zone id, evaluate target health.
    pub alias: Option<(String, String, bool)>,
}

/// The record set `name` of type `rr_type` in zone `zone`, if any.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn find_record(
    c: &Clients,
    id: &ResourceId,
    zone: &str,
    name: &str,
    rr_type: RrType,
) -> Result<Option<FoundRecord>, Error> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(name)
        .start_record_type(rr_type.clone())
        .max_items(1)
        .send()
        .await
        .context(id, "ListResourceRecordSets")?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| normalize(r.name()) == normalize(name) && *r.r#type() == rr_type)
        .map(to_found))
}

/// A record set as found.
fn to_found(r: &ResourceRecordSet) -> FoundRecord {
    FoundRecord {
        name: r.name().to_string(),
        ttl: r.ttl(),
        values: r
            .resource_records()
            .iter()
            .map(|v| v.value().to_string())
            .collect(),
        alias: r.alias_target().map(|a| {
            (
                a.dns_name().to_string(),
                a.hosted_zone_id().to_string(),
                a.evaluate_target_health(),
            )
        }),
    }
}

/// One ChangeResourceRecordSets of `changes` in zone `zone` (atomic: all or none); the
/// change's id and whether it is `INSYNC` already.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn change_records(
    c: &Clients,
    id: &ResourceId,
    zone: &str,
    changes: Vec<(ChangeAction, ResourceRecordSet)>,
) -> Result<(String, bool), Error> {
    let op = "ChangeResourceRecordSets";
    let changes = changes
        .into_iter()
        .map(|(action, set)| {
            RrChange::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .map_err(|e| bad_request(id, op, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(format!("fargate-rs {id}"))
        .build()
        .map_err(|e| bad_request(id, op, e))?;
    let out = c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .context(id, op)?;
    Ok(match out.change_info() {
        Some(i) => (i.id().to_string(), *i.status() == ChangeStatus::Insync),
        // No change info to wait on (not what Route 53 answers).
        None => (String::new(), true),
    })
}

/// A `CNAME` record set.
fn cname(id: &ResourceId, name: &str, ttl: i64, value: &str) -> Result<ResourceRecordSet, Error> {
    let op = "ChangeResourceRecordSets";
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(ttl)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| bad_request(id, op, e))?,
        )
        .build()
        .map_err(|e| bad_request(id, op, e))
}

/// The certificate's validation records in the zone, and the wait until it is `ISSUED`.
#[derive(Debug, Clone)]
pub struct ValidationRecordsSpec {
    domain: DnsName,
}

/// The validation records as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedValidation {
    /// The zone.
    pub zone_id: String,
    /// The certificate.
    pub certificate_arn: String,
    /// The records found that hold the certificate's values (ours to delete).
    pub records: Vec<FoundRecord>,
    /// In [`Mode::Destroy`]: the other certificates of the account that still need these
    /// records (ACM's validation record of a name is the same for every certificate of it):
    /// then the records are kept.
    #[serde(default)]
    pub shared_with: Vec<String>,
    fields: Fields,
}

impl ValidationRecordsSpec {
    /// The validation records of the certificate of `domain`.
    pub fn new(domain: DnsName) -> Self {
        Self { domain }
    }

    /// Output: the certificate's ARN once it is `ISSUED`: what the HTTPS listener uses.
    pub fn validated_arn(&self) -> OutputKey<String> {
        validation_resource(&self.domain).output("certificate_arn")
    }

    fn validated_domains(&self) -> [String; 2] {
        [self.domain.to_string(), format!("*.{}", self.domain)]
    }

    fn desired_fields(&self, records: Option<&[ValidationRecord]>) -> Fields {
        let f = Fields::new()
            .with("certificate_status", "ISSUED")
            .with_set("domains", self.validated_domains());
        match records {
            Some(r) => f.with_set("records", r.iter().map(ValidationRecord::describe)),
            None => f.with("records", KNOWN_AFTER_APPLY),
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %validation_resource(&self.domain)))]
    async fn find(
        &self,
        c: &Clients,
        zone: &str,
        arn: &str,
        status: &str,
        wanted: &[ValidationRecord],
    ) -> Result<ObservedValidation, Error> {
        let id = validation_resource(&self.domain);
        let mut ours = Vec::new();
        let mut described = Vec::new();
        for w in wanted {
            let Some(found) = find_record(c, &id, zone, &w.name, RrType::Cname).await? else {
                continue;
            };
            for v in &found.values {
                described.push(ValidationRecord {
                    name: w.name.clone(),
                    value: v.clone(),
                });
            }
            if found
                .values
                .iter()
                .any(|v| normalize(v) == normalize(&w.value))
            {
                ours.push(found);
            }
        }
        Ok(ObservedValidation {
            zone_id: zone.to_string(),
            certificate_arn: arn.to_string(),
            records: ours,
            shared_with: Vec::new(),
            fields: Fields::new()
                .with("certificate_status", status)
                .with_set("domains", self.validated_domains())
                .with_set("records", described.iter().map(ValidationRecord::describe)),
        })
    }

    /// The other certificates of the account (not `ours`) that need a name these records
    /// validate: `<domain>` or `*.<domain>` (ACM validates both with one record). Every key
    /// type is listed (ListCertificates lists RSA 2048 only by default); names beyond the
    /// summary are read with DescribeCertificate.
    #[tracing::instrument(skip_all, fields(resource = %validation_resource(&self.domain)))]
    async fn shared_with(&self, c: &Clients, ours: &str) -> Result<Vec<String>, Error> {
        let id = validation_resource(&self.domain);
        let needs = |n: &str| n.strip_prefix("*.").unwrap_or(n) == self.domain.as_str();
        let filters = Filters::builder()
            .set_key_types(Some(
                KeyAlgorithm::values()
                    .iter()
                    .map(|k| KeyAlgorithm::from(*k))
                    .collect(),
            ))
            .build();
        let mut found = Vec::new();
        let mut pages = c
            .acm
            .list_certificates()
            .includes(filters)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context(&id, "ListCertificates")?;
            for s in page.certificate_summary_list() {
                let Some(arn) = s.certificate_arn().filter(|a| *a != ours) else {
                    continue;
                };
                let summarized = s.subject_alternative_name_summaries();
                let mut need =
                    s.domain_name().is_some_and(needs) || summarized.iter().any(|n| needs(n));
                if !need
                    && (summarized.is_empty()
                        || s.has_additional_subject_alternative_names() == Some(true))
                {
                    let out = c
                        .acm
                        .describe_certificate()
                        .certificate_arn(arn)
                        .send()
                        .await;
                    match out {
                        Ok(out) => {
                            need = out.certificate().is_some_and(|d| {
                                d.subject_alternative_names().iter().any(|n| needs(n))
                            });
                        }
                        // Deleted in between: it needs nothing.
                        Err(e)
                            if fargate_core::error::sdk_error_code(&e)
                                == Some("ResourceNotFoundException") => {}
                        Err(e) => return Err(Error::from_sdk(&id, "DescribeCertificate", e)),
                    }
                }
                if need {
                    found.push(arn.to_string());
                }
            }
        }
        Ok(found)
    }

    /// Wait until the certificate is `ISSUED`; its failure with ACM's status and reason.
    #[tracing::instrument(skip_all, fields(resource = %validation_resource(&self.domain)))]
    async fn wait_issued(&self, c: &Clients, ctx: &StepContext, arn: &str) -> Result<(), Error> {
        let id = validation_resource(&self.domain);
        poll_until(
            ctx,
            &id,
            &format!("the certificate of {} to be ISSUED", self.domain),
            ISSUED_POLL,
            || async {
                let out = c
                    .acm
                    .describe_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .context(&id, "DescribeCertificate")?;
                let cert = out
                    .certificate()
                    .ok_or_else(|| missing(&id, "DescribeCertificate", "Certificate"))?;
                match cert.status() {
                    Some(CertificateStatus::Issued) => Ok(Some(())),
                    Some(CertificateStatus::PendingValidation) | None => Ok(None),
                    Some(other) => Err(Error::Unexpected {
                        resource: id.clone(),
                        operation: "DescribeCertificate".into(),
                        detail: format!(
                            "the certificate {arn} is {} ({}), not ISSUED",
                            other.as_str(),
                            cert.failure_reason()
                                .map_or("no reason given", |r| r.as_str())
                        ),
                    }),
                }
            },
        )
        .await
    }
}

impl Kind<Clients> for ValidationRecordsSpec {
    type Observed = ObservedValidation;

    fn id(&self) -> ResourceId {
        validation_resource(&self.domain)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![
            zone_resource(&self.domain),
            certificate_resource(&self.domain),
        ]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedValidation>, Error>> {
        Box::pin(async move {
            // A certificate still to be requested has no records yet.
            let (Some(zone), Some(arn), Some(wanted)) = (
                round.output(&zone_id(&self.domain)).await,
                round.output(&certificate_arn(&self.domain)).await,
                round.output(&certificate_records(&self.domain)).await,
            ) else {
                return Ok(None);
            };
            let status = round
                .output(&certificate_status(&self.domain))
                .await
                .unwrap_or_default();
            let mut found = self.find(clients, &zone, &arn, &status, &wanted).await?;
            if found.records.is_empty() {
                return Ok(None);
            }
            if mode == Mode::Destroy {
                found.shared_with = self.shared_with(clients, &arn).await?;
            }
            Ok(Some(found))
        })
    }

    fn diff(
        &self,
        observed: Option<&ObservedValidation>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        let wanted = resolved.get(&certificate_records(&self.domain));
        Ok(Change::compute(
            &self.desired_fields(wanted.as_deref()),
            observed.map(|o| &o.fields),
            &[],
        ))
    }

    fn destroy_change(&self, observed: Option<&ObservedValidation>) -> Change {
        match observed {
            Some(o) if !o.shared_with.is_empty() => Change::Adopt {
                detail: format!(
                    "validation records of {} kept: certificate {} still needs them",
                    self.domain,
                    o.shared_with.join(", ")
                ),
            },
            Some(_) => Change::Delete,
            None => Change::NoOp,
        }
    }

    fn outputs(
        &self,
        observed: Option<&ObservedValidation>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        match (change, observed) {
            (Change::NoOp, Some(o)) => {
                PlanValues::new().with(&self.validated_arn(), &o.certificate_arn)
            }
            _ => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedValidation>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            // Kept on destroy for another certificate: nothing to do.
            if matches!(change, Change::Adopt { .. }) {
                return Ok(());
            }
            let id = validation_resource(&self.domain);
            let arn = ctx.get(&certificate_arn(&self.domain))?;
            if let (Change::NoOp, Some(o)) = (change, observed) {
                ctx.set(&self.validated_arn(), o.certificate_arn.clone());
                return Ok(());
            }
            let zone = ctx.get(&zone_id(&self.domain))?;
            let records = ctx.get(&certificate_records(&self.domain))?;
            let changes = records
                .iter()
                .map(|r| {
                    Ok((
                        ChangeAction::Upsert,
                        cname(&id, &r.name, VALIDATION_TTL, &r.value)?,
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            if !changes.is_empty() {
                change_records(clients, &id, &zone, changes).await?;
            }
            self.wait_issued(clients, ctx, &arn).await?;
            ctx.set(&self.validated_arn(), arn);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a StepContext,
        observed: &'a ObservedValidation,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = validation_resource(&self.domain);
            if !observed.shared_with.is_empty() {
                return Ok(());
            }
            // Only the records that held the certificate's values when observed, exactly as
            // found (Route 53 deletes a record set only with all its values).
            let changes = observed
                .records
                .iter()
                .filter_map(|r| {
                    let value = r.values.first()?;
                    Some(
                        cname(&id, &r.name, r.ttl.unwrap_or(VALIDATION_TTL), value)
                            .map(|s| (ChangeAction::Delete, s)),
                    )
                })
                .collect::<Result<Vec<_>, Error>>()?;
            if changes.is_empty() {
                return Ok(());
            }
            change_records(clients, &id, &observed.zone_id, changes).await?;
            Ok(())
        })
    }
}

/// The prefix of the ownership markers' names: the marker of `shop.example.com` is the `TXT`
/// record `_fargate-rs.shop.example.com`.
///
/// A name of its own (not a `TXT` at the alias's name, as external-dns does by default): the
/// user's `TXT` record set at that name (SPF, site verification) is never touched, and the
/// marker's name is free even where the alias's name would also hold a `CNAME`.
pub const MARKER_PREFIX: &str = "_fargate-rs.";

/// How long a Route 53 change is waited for until it is `INSYNC` (usually within a minute).
const INSYNC_POLL: Poll = Poll::new(Duration::from_secs(600), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));

/// The marker's record name of the alias record `name` (with its trailing dot).
fn marker_name(name: &str) -> String {
    format!("{MARKER_PREFIX}{}.", normalize(name))
}

/// The ownership marker's value: the heritage, environment and app, as one quoted
/// character-string (Route 53's `TXT` syntax; idents need no escaping, and the value stays
/// under 255 characters).
fn marker_value(env: &Ident, app: &Ident) -> String {
    format!("\"heritage=fargate-rs,fargate-rs/environment={env},fargate-rs/app={app}\"")
}

/// The environment and app of a marker value, if it is one of fargate-rs's.
fn parse_marker(value: &str) -> Option<(String, String)> {
    let inner = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    let mut heritage = false;
    let (mut env, mut app) = (None, None);
    for part in inner.split(',') {
        match part.split_once('=') {
            Some(("heritage", "fargate-rs")) => heritage = true,
            Some(("fargate-rs/environment", e)) => env = Some(e.to_string()),
            Some(("fargate-rs/app", a)) => app = Some(a.to_string()),
            _ => {}
        }
    }
    match (heritage, env, app) {
        (true, Some(e), Some(a)) => Some((e, a)),
        _ => None,
    }
}

/// Who a marker record set names: its only value parsed, or `None` (not fargate-rs's).
fn marker_owner(marker: &FoundRecord) -> Option<(String, String)> {
    match marker.values.as_slice() {
        [one] => parse_marker(one),
        _ => None,
    }
}

/// A `TXT` record set of one value.
fn txt(id: &ResourceId, name: &str, ttl: i64, value: &str) -> Result<ResourceRecordSet, Error> {
    let op = "ChangeResourceRecordSets";
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Txt)
        .ttl(ttl)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| bad_request(id, op, e))?,
        )
        .build()
        .map_err(|e| bad_request(id, op, e))
}

/// The TTL of the ownership markers, in seconds.
const MARKER_TTL: i64 = 300;

/// An alias record set exactly as found (for a DELETE, which needs every value).
fn found_alias_set(id: &ResourceId, r: &FoundRecord) -> Option<Result<ResourceRecordSet, Error>> {
    let (dns, hz, evaluate) = r.alias.as_ref()?;
    let op = "ChangeResourceRecordSets";
    Some(
        AliasTarget::builder()
            .dns_name(dns)
            .hosted_zone_id(hz)
            .evaluate_target_health(*evaluate)
            .build()
            .map_err(|e| bad_request(id, op, e))
            .and_then(|a| {
                ResourceRecordSet::builder()
                    .name(&r.name)
                    .r#type(RrType::A)
                    .alias_target(a)
                    .build()
                    .map_err(|e| bad_request(id, op, e))
            }),
    )
}

/// The DELETE of an alias (when given) and its marker, as one atomic change batch.
fn delete_pair(
    id: &ResourceId,
    alias: Option<&FoundRecord>,
    marker: Option<&FoundRecord>,
) -> Result<Vec<(ChangeAction, ResourceRecordSet)>, Error> {
    let mut changes = Vec::new();
    if let Some(set) = alias.and_then(|a| found_alias_set(id, a)) {
        changes.push((ChangeAction::Delete, set?));
    }
    if let Some(m) = marker
        && let Some(v) = m.values.first()
    {
        changes.push((
            ChangeAction::Delete,
            txt(id, &m.name, m.ttl.unwrap_or(MARKER_TTL), v)?,
        ));
    }
    Ok(changes)
}

/// Whether an alias record aliases the load balancer of DNS name `lb` (normalized).
fn aliases(found: &FoundRecord, lb: Option<&str>) -> bool {
    match (&found.alias, lb) {
        (Some((dns, _, _)), Some(lb)) => normalize(dns) == lb,
        _ => false,
    }
}

/// Waits until a Route 53 change is `INSYNC` (its new records answer on every Route 53 name
/// server). Bounded; `GetChange` is read-only.
#[tracing::instrument(skip_all, fields(resource = %id, change = %change))]
async fn wait_insync(
    c: &Clients,
    ctx: &StepContext,
    id: &ResourceId,
    change: &str,
) -> Result<(), Error> {
    poll_until(
        ctx,
        id,
        &format!("the Route 53 change {change} to be INSYNC"),
        INSYNC_POLL,
        || async {
            let out = c
                .route53
                .get_change()
                .id(change)
                .send()
                .await
                .context(id, "GetChange")?;
            Ok(out
                .change_info()
                .is_some_and(|i| *i.status() == ChangeStatus::Insync)
                .then_some(()))
        },
    )
    .await
}

/// An `A` alias record of an app's domain to the environment's ALB, with its ownership
/// marker ([`MARKER_PREFIX`]): a `TXT` record naming the environment and app, written in
/// the same change batch as the alias.
///
/// The record is ours when its marker names this environment and app; an alias to our load
/// balancer without a marker (made before markers existed) is adopted by adding it. Any
/// other record of the name, or a marker of another environment or app, is foreign
/// ([`Error::NotOwned`]): never overwritten, never deleted.
#[derive(Debug, Clone)]
pub struct AliasRecordSpec {
    env: Ident,
    app: Ident,
    name: DnsName,
    zone: DnsName,
    lb: ResourceId,
    lb_dns_name: Ref<String>,
    lb_zone_id: Ref<String>,
}

/// An alias record as observed (ours: our marker, or an alias to our load balancer).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedAlias {
    /// The zone.
    pub zone_id: String,
    /// The `A` record as found (none: only our marker is left).
    pub record: Option<FoundRecord>,
    /// Whether that record aliases our load balancer (destroy deletes it only then).
    #[serde(default)]
    pub aliases_ours: bool,
    /// Our ownership marker as found (none: an alias the previous version made).
    #[serde(default)]
    pub marker: Option<FoundRecord>,
    fields: Fields,
}

impl AliasRecordSpec {
    /// The record `name` of app `app` of environment `env` in the zone of `zone`, aliasing
    /// the load balancer `lb` (its DNS name and canonical hosted zone id).
    pub fn new(
        env: Ident,
        app: Ident,
        name: DnsName,
        zone: DnsName,
        lb: ResourceId,
        lb_dns_name: Ref<String>,
        lb_zone_id: Ref<String>,
    ) -> Self {
        Self {
            env,
            app,
            name,
            zone,
            lb,
            lb_dns_name,
            lb_zone_id,
        }
    }

    fn record_name(&self) -> String {
        format!("{}.", self.name)
    }

    fn marker(&self) -> String {
        format!(
            "{} TXT {}",
            marker_name(self.name.as_str()).trim_end_matches('.'),
            marker_value(&self.env, &self.app)
        )
    }

    fn desired_fields(&self, dns: Option<String>, zone: Option<String>) -> Fields {
        Fields::new()
            .with("name", self.name.as_str())
            .with("type", "A")
            .with(
                "alias.dns_name",
                dns.map_or(KNOWN_AFTER_APPLY.to_string(), |d| normalize(&d)),
            )
            .with(
                "alias.hosted_zone_id",
                zone.unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string()),
            )
            .with("ownership_marker", self.marker())
    }

    fn alias_set(&self, dns: &str, zone: &str, evaluate: bool) -> Result<ResourceRecordSet, Error> {
        let id = alias_resource(&self.name);
        let op = "ChangeResourceRecordSets";
        ResourceRecordSet::builder()
            .name(self.record_name())
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .dns_name(dns)
                    .hosted_zone_id(zone)
                    .evaluate_target_health(evaluate)
                    .build()
                    .map_err(|e| bad_request(&id, op, e))?,
            )
            .build()
            .map_err(|e| bad_request(&id, op, e))
    }

    fn not_owned(&self, zone: &str, what: String) -> Error {
        Error::NotOwned {
            resource: alias_resource(&self.name),
            detail: format!(
                "{what} in hosted zone {zone}; it is never overwritten: delete it or choose \
                 another domain for {}",
                self.app
            ),
        }
    }

    /// Our record, refusing a foreign one (in [`Mode::Destroy`] a foreign one is `None`).
    async fn observe_record(
        &self,
        clients: &Clients,
        round: &Round<'_>,
        mode: Mode,
    ) -> Result<Option<ObservedAlias>, Error> {
        let id = alias_resource(&self.name);
        let Some(zone) = round.output(&zone_id(&self.zone)).await else {
            return Ok(None);
        };
        let (record_at, marker_at) = (self.record_name(), marker_name(self.name.as_str()));
        let (found, marker) = tokio::try_join!(
            find_record(clients, &id, &zone, &record_at, RrType::A),
            find_record(clients, &id, &zone, &marker_at, RrType::Txt),
        )?;
        let ours = round
            .get_ref(&self.lb_dns_name)
            .await
            .map(|d| normalize(&d));
        let aliases_ours = found.as_ref().is_some_and(|f| aliases(f, ours.as_deref()));
        let refuse = |what: String| {
            if mode == Mode::Destroy {
                // Not (or no longer) ours: left as it is.
                Ok(None)
            } else {
                Err(self.not_owned(&zone, what))
            }
        };
        match (&marker, marker.as_ref().map(marker_owner)) {
            (Some(_), Some(Some((e, a)))) if e == self.env.as_str() && a == self.app.as_str() => {}
            (Some(m), Some(Some((e, a)))) => {
                return refuse(format!(
                    "the ownership marker {} names app {a} of environment {e}, not {} of {}",
                    m.name, self.app, self.env
                ));
            }
            (Some(m), _) => {
                return refuse(format!(
                    "the TXT record {} is not a fargate-rs ownership marker",
                    m.name
                ));
            }
            // No marker: a record of the name is ours only as an alias to our load
            // balancer (the previous version's, adopted by adding the marker).
            (None, _) => match &found {
                None => return Ok(None),
                Some(_) if aliases_ours => {}
                Some(f) => {
                    let what = match &f.alias {
                        Some((dns, _, _)) => format!("an alias to {dns}"),
                        None => format!("values {}", f.values.join(", ")),
                    };
                    return refuse(format!(
                        "the A record {} is {what}, not an alias to this environment's load \
                         balancer, and has no ownership marker",
                        self.name
                    ));
                }
            },
        }
        let mut fields = Fields::new()
            .with("name", self.name.as_str())
            .with("type", "A");
        if let Some((dns, hz, _)) = found.as_ref().and_then(|f| f.alias.clone()) {
            fields = fields
                .with("alias.dns_name", normalize(&dns))
                .with("alias.hosted_zone_id", hz);
        }
        if let Some(m) = &marker {
            fields = fields.with(
                "ownership_marker",
                format!(
                    "{} TXT {}",
                    m.name.trim_end_matches('.'),
                    m.values.join(" ")
                ),
            );
        }
        Ok(Some(ObservedAlias {
            zone_id: zone,
            record: found,
            aliases_ours,
            marker,
            fields,
        }))
    }
}

impl Kind<Clients> for AliasRecordSpec {
    type Observed = ObservedAlias;

    fn id(&self) -> ResourceId {
        alias_resource(&self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![zone_resource(&self.zone), self.lb.clone()]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedAlias>, Error>> {
        Box::pin(self.observe_record(clients, round, mode))
    }

    fn diff(&self, observed: Option<&ObservedAlias>, resolved: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &self.desired_fields(
                resolved.get_ref(&self.lb_dns_name),
                resolved.get_ref(&self.lb_zone_id),
            ),
            observed.map(|o| &o.fields),
            &[],
        ))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        _: Option<&'a ObservedAlias>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if matches!(change, Change::NoOp | Change::Adopt { .. }) {
                return Ok(());
            }
            let id = alias_resource(&self.name);
            let zone = ctx.get(&zone_id(&self.zone))?;
            let dns = self.lb_dns_name.resolve(ctx)?;
            let hz = self.lb_zone_id.resolve(ctx)?;
            // The alias and its marker together: a record of ours is never without it.
            let changes = vec![
                (ChangeAction::Upsert, self.alias_set(&dns, &hz, false)?),
                (
                    ChangeAction::Upsert,
                    txt(
                        &id,
                        &marker_name(self.name.as_str()),
                        MARKER_TTL,
                        &marker_value(&self.env, &self.app),
                    )?,
                ),
            ];
            let (change_id, insync) = change_records(clients, &id, &zone, changes).await?;
            if !insync {
                wait_insync(clients, ctx, &id, &change_id).await?;
            }
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a StepContext,
        observed: &'a ObservedAlias,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = alias_resource(&self.name);
            // The alias only while it still aliases our load balancer; our marker always.
            let alias = observed.record.as_ref().filter(|_| observed.aliases_ours);
            let changes = delete_pair(&id, alias, observed.marker.as_ref())?;
            if changes.is_empty() {
                return Ok(());
            }
            change_records(clients, &id, &observed.zone_id, changes).await?;
            Ok(())
        })
    }
}

/// The resource kind of an app's stale alias records (an internal planner value, shown only
/// when it deletes).
pub const STALE_ALIASES_KIND: &str = "route53:stale-alias-records";

/// The alias records an app's earlier `domain` made: the markers in the zone naming this
/// environment and app at another name than the app's domain now (or any, when it has none
/// now), each deleted with its alias when that still aliases our load balancer (one change
/// batch per pair). Found by listing the zone's records once per plan; records without our
/// marker are never among them.
#[derive(Debug, Clone)]
pub struct StaleAliasRecords {
    env: Ident,
    app: Ident,
    zone: DnsName,
    current: Option<DnsName>,
    lb: ResourceId,
    lb_dns_name: Ref<String>,
}

/// One stale marker and its alias record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StalePair {
    /// The alias's name (no trailing dot).
    pub name: String,
    /// The marker as found.
    pub marker: FoundRecord,
    /// The alias, when it still aliases our load balancer (deleted with the marker).
    pub alias: Option<FoundRecord>,
}

/// The stale pairs found, and their zone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StaleAliases {
    /// The zone.
    pub zone_id: String,
    /// The pairs to delete.
    pub pairs: Vec<StalePair>,
}

/// The markers of fargate-rs in a zone, with the `A` record at each marker's alias name.
type ZoneMarkers = Vec<(FoundRecord, Option<FoundRecord>)>;

/// Every fargate-rs marker in zone `zone` and the `A` record of its name (one listing of the
/// zone, paginated).
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn zone_markers(c: &Clients, id: &ResourceId, zone: &str) -> Result<ZoneMarkers, Error> {
    let mut markers = Vec::new();
    let mut a_records = std::collections::HashMap::new();
    let mut next: Option<(String, RrType)> = None;
    loop {
        let mut req = c
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .max_items(300);
        if let Some((name, t)) = &next {
            req = req.start_record_name(name).start_record_type(t.clone());
        }
        let out = req.send().await.context(id, "ListResourceRecordSets")?;
        for r in out.resource_record_sets() {
            let found = to_found(r);
            match r.r#type() {
                RrType::Txt if normalize(r.name()).starts_with(MARKER_PREFIX) => {
                    markers.push(found);
                }
                RrType::A => {
                    a_records.insert(normalize(r.name()), found);
                }
                _ => {}
            }
        }
        match (
            out.is_truncated(),
            out.next_record_name(),
            out.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => next = Some((n.to_string(), t.clone())),
            _ => break,
        }
    }
    Ok(markers
        .into_iter()
        .map(|m| {
            let name = normalize(&m.name);
            let alias = name
                .strip_prefix(MARKER_PREFIX)
                .and_then(|n| a_records.get(n).cloned());
            (m, alias)
        })
        .collect())
}

impl StaleAliasRecords {
    /// The check for app `app` of environment `env`, whose domain is now `current`, in the
    /// zone of `zone`; `lb` the load balancer the aliases point at.
    pub fn new(
        env: Ident,
        app: Ident,
        zone: DnsName,
        current: Option<DnsName>,
        lb: ResourceId,
        lb_dns_name: Ref<String>,
    ) -> Self {
        Self {
            env,
            app,
            zone,
            current,
            lb,
            lb_dns_name,
        }
    }

    async fn observe_stale(
        &self,
        clients: &Clients,
        round: &Round<'_>,
    ) -> Result<Option<StaleAliases>, Error> {
        let id = Kind::<Clients>::id(self);
        let Some(zone) = round.output(&zone_id(&self.zone)).await else {
            return Ok(None);
        };
        // Every app's check reads the same zone: it is listed once per plan.
        let all = round
            .observe_once(&format!("route53:markers:{zone}"), || {
                zone_markers(clients, &id, &zone)
            })
            .await?;
        let lb = round
            .get_ref(&self.lb_dns_name)
            .await
            .map(|d| normalize(&d));
        let current = self.current.as_ref().map(|d| marker_name(d.as_str()));
        let pairs: Vec<StalePair> = all
            .iter()
            .filter(|(m, _)| {
                marker_owner(m)
                    .is_some_and(|(e, a)| e == self.env.as_str() && a == self.app.as_str())
                    && current
                        .as_deref()
                        .is_none_or(|c| normalize(c) != normalize(&m.name))
            })
            .map(|(m, a)| StalePair {
                name: normalize(&m.name)
                    .strip_prefix(MARKER_PREFIX)
                    .unwrap_or_default()
                    .to_string(),
                marker: m.clone(),
                alias: a.clone().filter(|a| aliases(a, lb.as_deref())),
            })
            .collect();
        Ok((!pairs.is_empty()).then_some(StaleAliases {
            zone_id: zone,
            pairs,
        }))
    }

    async fn delete_all(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        stale: &StaleAliases,
    ) -> Result<(), Error> {
        let id = Kind::<Clients>::id(self);
        for p in &stale.pairs {
            let changes = delete_pair(&id, p.alias.as_ref(), Some(&p.marker))?;
            change_records(clients, &id, &stale.zone_id, changes).await?;
            ctx.progress(format!(
                "deleted the alias record {} {} of an earlier domain",
                p.name,
                if p.alias.is_some() {
                    "and its marker"
                } else {
                    "(its marker; the alias no longer pointed at our load balancer)"
                }
            ));
        }
        Ok(())
    }
}

impl Kind<Clients> for StaleAliasRecords {
    type Observed = StaleAliases;

    fn id(&self) -> ResourceId {
        ResourceId::new(STALE_ALIASES_KIND, format!("{}/{}", self.env, self.app))
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        // After the app's new alias is made: its name answers before the old one goes.
        let mut d = vec![zone_resource(&self.zone), self.lb.clone()];
        d.extend(self.current.as_ref().map(alias_resource));
        d
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<StaleAliases>, Error>> {
        Box::pin(self.observe_stale(clients, round))
    }

    fn diff(&self, observed: Option<&StaleAliases>, _: &Resolved) -> Result<Change, Error> {
        Ok(match observed {
            Some(_) => Change::Delete,
            None => Change::NoOp,
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a StaleAliases>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match (change, observed) {
                (Change::Delete, Some(stale)) => self.delete_all(clients, ctx, stale).await,
                _ => Ok(()),
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a StaleAliases,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete_all(clients, ctx, observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DnsName {
        s.parse().unwrap()
    }

    #[test]
    fn names_under_a_domain() {
        let d = name("example.com");
        assert!(is_within(&name("example.com"), &d));
        assert!(is_within(&name("shop.example.com"), &d));
        assert!(!is_within(&name("shopexample.com"), &d));
        assert!(!is_within(&name("example.org"), &d));
        assert!(parse_domain("environment.domain", "localhost").is_err());
        assert_eq!(
            parse_domain("environment.domain", "Example.com")
                .unwrap_err()
                .field,
            "environment.domain"
        );
    }

    #[test]
    fn reported_names_compare_normalized() {
        assert_eq!(
            normalize("dualstack.Web-1.us-east-1.elb.amazonaws.com."),
            "web-1.us-east-1.elb.amazonaws.com"
        );
        assert_eq!(zone_id_of("/hostedzone/Z123"), "Z123");
    }

    #[test]
    fn markers_name_environment_and_app() {
        let v = marker_value(&"prod".parse().unwrap(), &"shop".parse().unwrap());
        assert!(
            v.starts_with('"') && v.ends_with('"') && v.len() < 255,
            "{v}"
        );
        assert_eq!(parse_marker(&v), Some(("prod".into(), "shop".into())));
        assert_eq!(parse_marker("\"v=spf1 -all\""), None);
        assert_eq!(
            parse_marker("\"heritage=external-dns,fargate-rs/environment=prod,fargate-rs/app=x\""),
            None
        );
        assert_eq!(
            marker_name("Shop.example.com."),
            "_fargate-rs.shop.example.com."
        );
    }

    #[test]
    fn the_token_is_stable_and_short() {
        let c = CertificateSpec::new(&"prod".parse().unwrap(), name("example.com"), Tags::new());
        assert_eq!(c.token(), c.token());
        assert!(c.token().len() <= 32);
        assert!(c.token().chars().all(|ch| ch.is_ascii_alphanumeric()));
    }
}
