//! Helpers shared by the load balancer, target group, listener and API
//! Gateway modules: ownership tags read by ARN, stable hashes, values that
//! are only known after apply, and the bounded wait for `ResourceInUse`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, retry_eventual};
use fargate_core::{AwsResultExt, Change, Error, Ref, Resolved, ResourceId, StepContext};
use serde::de::DeserializeOwned;

use crate::tagging::ensure_owned;

pub(crate) use crate::deferred::{
    KNOWN_AFTER_APPLY, defer_unknown, set_ref_list, set_ref_string, sorted,
};

/// DescribeTags accepts at most this many ARNs per call.
pub(crate) const DESCRIBE_TAGS_BATCH: usize = 20;

/// 64-bit FNV-1a: a hash that is stable across Rust versions and platforms
/// (unlike `DefaultHasher`), so names and priorities derived from it never
/// change between releases.
pub(crate) fn stable_hash(s: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    s.bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Six hex characters of [`stable_hash`] of the parts joined with `/`.
pub(crate) fn short_hash(parts: &[&str]) -> String {
    format!("{:06x}", stable_hash(&parts.join("/")) & 0x00ff_ffff)
}

/// The reference with its value filled in when a dependency's plan knows it (pure; the
/// producer exists and the value will not change). An unchanged dependency then compares
/// like a known value, with no deferral and no second look-up.
pub(crate) fn resolved_ref<T>(r: &Ref<T>, resolved: &Resolved) -> Ref<T>
where
    T: Clone + DeserializeOwned,
{
    match r {
        Ref::Known(_) => r.clone(),
        Ref::Output(_) => resolved.get_ref(r).map_or_else(|| r.clone(), Ref::Known),
    }
}

/// Whether this apply creates or replaces the dependency `producer` (pure): what observing
/// found of it now is not what its dependents will meet, so they plan as if it were absent.
pub(crate) fn is_new(resolved: &Resolved, producer: &ResourceId) -> bool {
    matches!(
        resolved.change_of(producer),
        Some(Change::Create { .. } | Change::Replace { .. })
    )
}

/// Where a plan finds a value that another resource produces.
pub(crate) enum AtPlan<T> {
    /// Known now (given, or published at plan time by its producer).
    Value(T),
    /// Its producer is in this plan and will produce it during apply (it is new or replaced).
    New,
    /// Its producer is not in this plan: look the resource up directly.
    Unplanned,
}

/// Tags of ELB resources (load balancers, target groups, listeners, rules) by ARN,
/// read with as few DescribeTags calls as the 20-ARN limit allows, concurrently.
///
/// An ARN the answer does not mention maps to no tags.
#[tracing::instrument(skip_all, fields(resource = %id))]
pub(crate) async fn tags_by_arn(
    elb: &ElbClient,
    id: &ResourceId,
    arns: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>, Error> {
    let chunks: Vec<Vec<String>> = arns
        .chunks(DESCRIBE_TAGS_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    let calls = chunks.into_iter().map(|chunk| {
        let request = elb.describe_tags().set_resource_arns(Some(chunk));
        async move { request.send().await.context(id, "DescribeTags") }
    });
    let mut out: HashMap<String, Vec<(String, String)>> =
        arns.iter().map(|a| (a.clone(), Vec::new())).collect();
    for answer in futures_join(calls).await {
        for d in answer?.tag_descriptions() {
            let Some(arn) = d.resource_arn() else {
                continue;
            };
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            out.insert(arn.to_string(), tags);
        }
    }
    Ok(out)
}

/// Refuses an ELB resource that does not carry `owner`'s tags.
///
/// # Errors
/// [`Error::NotOwned`] naming the ARN.
pub(crate) fn ensure_elb_owned(
    owner: &Ownership,
    id: &ResourceId,
    arn: &str,
    tags: &[(String, String)],
) -> Result<(), Error> {
    ensure_owned(
        owner,
        id,
        arn,
        tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// Whether `tags` show exactly this ownership.
pub(crate) fn is_owned_by(owner: &Ownership, tags: &[(String, String)]) -> bool {
    matches!(
        owner.check(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        fargate_core::tags::OwnershipCheck::Owned
    )
}

/// Runs futures concurrently, keeping their order.
pub(crate) async fn futures_join<'a, T: Send + 'a>(
    futs: impl IntoIterator<Item = impl std::future::Future<Output = T> + Send + 'a>,
) -> Vec<T> {
    fargate_core::resource::futures_join_all(
        futs.into_iter().map(|f| Box::pin(f) as BoxFuture<'a, T>),
    )
    .await
}

/// The answer of a call, or `None` when the service said the resource does not exist
/// (the shared [`fargate_core::ok_unless`]).
pub(crate) use fargate_core::ok_unless as unless_absent;

/// How long a delete waits for AWS to let go of a resource still in use
/// (`ResourceInUse` right after the listener or rule that used it changed).
const IN_USE_WAIT: Poll = Poll::new(Duration::from_secs(120), Duration::from_secs(2));

/// Runs a delete, waiting (bounded) while AWS answers `ResourceInUse`: a
/// target group stays "in use" for a moment after the listener rule that
/// used it was changed or deleted.
///
/// # Errors
/// The delete's error, or `ResourceInUse` still after two minutes.
pub(crate) async fn retry_while_in_use<F, Fut>(ctx: &StepContext, op: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    retry_eventual(
        ctx,
        IN_USE_WAIT,
        |e| e.aws_code() == Some("ResourceInUse"),
        op,
    )
    .await
}

/// The name inside an ELB ARN: `...:targetgroup/<name>/<id>` or
/// `...:loadbalancer/app/<name>/<id>`.
pub(crate) fn name_from_arn(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    match parts.next()? {
        "targetgroup" => parts.next(),
        "loadbalancer" => parts.nth(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_fnv1a() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(short_hash(&["prod", "web"]).len(), 6);
        assert_eq!(short_hash(&["prod", "web"]), short_hash(&["prod", "web"]));
        assert_ne!(short_hash(&["prod", "web"]), short_hash(&["prod", "api"]));
    }

    #[test]
    fn names_are_read_from_arns() {
        assert_eq!(
            name_from_arn(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web-1a2b3c/73e2d6bc24d8a067"
            ),
            Some("prod-web-1a2b3c")
        );
        assert_eq!(
            name_from_arn(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-alb/50dc6c495c0c9188"
            ),
            Some("prod-alb")
        );
        assert_eq!(name_from_arn("not-an-arn"), None);
    }
}
