//! Values only known once apply has run (a [`Ref::Output`] produced by another step), in
//! plans and steps.
//!
//! The plan shows such a value as [`KNOWN_AFTER_APPLY`]. For a resource that already exists,
//! [`defer_unknown`] gives the field the observed value instead, so an unchanged dependency
//! does not make every plan an update; the step then compares the resolved value with what
//! it observed and makes no call when they are equal.
//!
//! The same idea exists privately in `fargate-net` (load balancers, target groups); a shared
//! helper in `fargate-core` would serve both.

use fargate_core::{Fields, Ref};
use serde_json::Value;

pub(crate) use crate::service::KNOWN_AFTER_APPLY;

/// A string reference as a plan value: the value, or [`KNOWN_AFTER_APPLY`].
pub(crate) fn ref_value(r: &Ref<String>) -> Value {
    match r.known() {
        Some(v) => Value::from(v.as_str()),
        None => Value::from(KNOWN_AFTER_APPLY),
    }
}

/// A list reference compared as a set: sorted and de-duplicated, or [`KNOWN_AFTER_APPLY`].
pub(crate) fn ref_set(r: &Ref<Vec<String>>) -> Value {
    match r.known() {
        Some(v) => Value::from(sorted(v)),
        None => Value::from(KNOWN_AFTER_APPLY),
    }
}

/// A sorted, de-duplicated copy of a list.
pub(crate) fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// For a resource that exists, every desired field in `names` that is still
/// [`KNOWN_AFTER_APPLY`] takes the observed value (see the module docs).
pub(crate) fn defer_unknown(desired: &mut Fields, observed: Option<&Fields>, names: &[&str]) {
    let Some(observed) = observed else { return };
    for name in names {
        if desired.get(name) == Some(&Value::from(KNOWN_AFTER_APPLY)) {
            desired.set(*name, observed.get(name).cloned().unwrap_or(Value::Null));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fargate_core::exec::OutputKey;

    #[test]
    fn unknown_values_take_the_observed_value_only_when_it_exists() {
        let unknown: Ref<String> = Ref::Output(OutputKey::new("x#arn"));
        let mut desired = Fields::new().with("arn", ref_value(&unknown)).with(
            "subnets",
            ref_set(&Ref::Known(vec!["b".into(), "a".into(), "a".into()])),
        );
        assert_eq!(desired.get("subnets"), Some(&serde_json::json!(["a", "b"])));
        let mut created = desired.clone();
        defer_unknown(&mut created, None, &["arn"]);
        assert_eq!(created.get("arn"), Some(&Value::from(KNOWN_AFTER_APPLY)));
        let observed = Fields::new()
            .with("arn", "arn:old")
            .with("subnets", serde_json::json!(["a", "b"]));
        defer_unknown(&mut desired, Some(&observed), &["arn", "subnets"]);
        assert!(observed.diff(&desired).is_empty());
    }
}
