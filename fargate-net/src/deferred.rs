//! Values only known once apply has run (a [`Ref::Output`] produced by another
//! step), as they appear in plans.
//!
//! The plan shows such a value as [`KNOWN_AFTER_APPLY`]. For a resource that
//! already exists, [`defer_unknown`] gives the field the observed value
//! instead, so an unchanged dependency does not make every plan an update; the
//! step then compares the resolved value with what it observed and makes no
//! call when they are equal.
//!
//! Shared by the network resources here and by `fargate-deploy`.

use fargate_core::{Fields, Ref};
use serde_json::Value;

/// What a plan shows for a value produced by another step during apply.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// A sorted, de-duplicated copy of a list (how the plan compares a list as a set).
pub fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// A list the plan compares as a set ([`sorted`]), when it is known at plan time.
pub fn known_set(r: &Ref<Vec<String>>) -> Option<Vec<String>> {
    r.known().map(|v| sorted(v))
}

/// A string reference as a plan value: the value, or [`KNOWN_AFTER_APPLY`].
pub fn ref_value(r: &Ref<String>) -> Value {
    match r.known() {
        Some(v) => Value::from(v.as_str()),
        None => Value::from(KNOWN_AFTER_APPLY),
    }
}

/// A list reference compared as a set: [`sorted`], or [`KNOWN_AFTER_APPLY`].
pub fn ref_set(r: &Ref<Vec<String>>) -> Value {
    match known_set(r) {
        Some(v) => Value::from(v),
        None => Value::from(KNOWN_AFTER_APPLY),
    }
}

/// Sets `name` to a sorted list, or to [`KNOWN_AFTER_APPLY`] when the list is
/// produced by another step (see [`ref_set`]).
pub fn set_ref_list(fields: &mut Fields, name: &str, r: &Ref<Vec<String>>) {
    fields.set(name, ref_set(r));
}

/// Sets `name` to a value, or to [`KNOWN_AFTER_APPLY`] when it is produced by
/// another step (see [`ref_value`]).
pub fn set_ref_string(fields: &mut Fields, name: &str, r: &Ref<String>) {
    fields.set(name, ref_value(r));
}

/// For a resource that exists (`observed` is `Some`): every desired field in
/// `names` that is still [`KNOWN_AFTER_APPLY`] takes the observed value
/// (`null` when the observed fields lack it), so the plan shows no diff for
/// it. For a resource to be created (`observed` is `None`) nothing changes.
pub fn defer_unknown(desired: &mut Fields, observed: Option<&Fields>, names: &[&str]) {
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
    fn unknown_fields_take_the_observed_value_only_when_the_resource_exists() {
        let mut desired = Fields::new()
            .with("subnets", KNOWN_AFTER_APPLY)
            .with("port", 80);
        let observed = Fields::new().with("subnets", vec!["a"]).with("port", 81);
        defer_unknown(&mut desired, Some(&observed), &["subnets", "port"]);
        assert_eq!(desired.get("subnets"), observed.get("subnets"));
        assert_eq!(desired.get("port"), Some(&Value::from(80)));
        let mut created = Fields::new().with("subnets", KNOWN_AFTER_APPLY);
        defer_unknown(&mut created, None, &["subnets"]);
        assert_eq!(
            created.get("subnets"),
            Some(&Value::from(KNOWN_AFTER_APPLY))
        );
    }

    #[test]
    fn references_show_their_value_or_known_after_apply() {
        let unknown: Ref<String> = Ref::Output(OutputKey::new("x#arn"));
        assert_eq!(ref_value(&unknown), Value::from(KNOWN_AFTER_APPLY));
        assert_eq!(ref_value(&Ref::Known("a".into())), Value::from("a"));
        assert_eq!(
            ref_set(&Ref::Known(vec!["b".into(), "a".into(), "a".into()])),
            serde_json::json!(["a", "b"])
        );
    }
}
