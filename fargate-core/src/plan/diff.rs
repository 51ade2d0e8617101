//! Normalized field sets and their diff.
//!
//! Every resource kind describes the fields it manages as [`Fields`], once for
//! the desired state and once for what AWS reported (after filling in API
//! defaults and sorting unordered lists). The diff of two field sets is
//! generic, so every kind diffs the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The placeholder shown instead of a sensitive value.
pub const REDACTED: &str = "(sensitive)";

/// One managed field's value, possibly sensitive.
///
/// Its `Debug` shows [`REDACTED`] instead of a sensitive value.
#[derive(Clone, PartialEq)]
pub struct FieldValue {
    /// The value (compared, never shown when sensitive).
    pub value: Value,
    /// Whether the value must never be shown.
    pub sensitive: bool,
}

impl std::fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("FieldValue");
        if self.sensitive {
            s.field("value", &REDACTED);
        } else {
            s.field("value", &self.value);
        }
        s.field("sensitive", &self.sensitive).finish()
    }
}

/// The managed fields of one resource, by dotted name.
///
/// ```
/// use fargate_core::Fields;
/// let a = Fields::new().with("cpu", 256).with("memory", 512);
/// let b = Fields::new().with("cpu", 512).with("memory", 512);
/// let d = a.diff(&b);
/// assert_eq!(d.len(), 1);
/// assert_eq!(d[0].field, "cpu");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(BTreeMap<String, FieldValue>);

impl Fields {
    /// An empty field set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a field. `None`-like values (`Value::Null`) are kept, so "unset" can be compared.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Add a field whose value is never shown in plans or logs.
    #[must_use]
    pub fn with_sensitive(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.insert(
            name.into(),
            FieldValue {
                value: value.into(),
                sensitive: true,
            },
        );
        self
    }

    /// Add a list field whose order does not matter: it is sorted so that
    /// AWS returning it in another order is not a change.
    #[must_use]
    pub fn with_set<I, V>(mut self, name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let mut items: Vec<Value> = values.into_iter().map(Into::into).collect();
        items.sort_by_key(|v| v.to_string());
        items.dedup();
        self.set(name, Value::Array(items));
        self
    }

    /// Set a field in place.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(
            name.into(),
            FieldValue {
                value: value.into(),
                sensitive: false,
            },
        );
    }

    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).map(|f| &f.value)
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields that differ from `self` (observed) to `desired`, sorted by name.
    /// A field present on only one side is compared with `null`.
    pub fn diff(&self, desired: &Fields) -> Vec<FieldDiff> {
        let mut names: Vec<&String> = self.0.keys().chain(desired.0.keys()).collect();
        names.sort();
        names.dedup();
        let mut out = Vec::new();
        for name in names {
            let old = self.0.get(name);
            let new = desired.0.get(name);
            let old_v = old.map(|f| &f.value).unwrap_or(&Value::Null);
            let new_v = new.map(|f| &f.value).unwrap_or(&Value::Null);
            if old_v != new_v {
                let sensitive =
                    old.is_some_and(|f| f.sensitive) || new.is_some_and(|f| f.sensitive);
                out.push(FieldDiff::new(
                    name,
                    Some(old_v.clone()),
                    Some(new_v.clone()),
                    sensitive,
                ));
            }
        }
        out
    }

    /// The fields as the `Create` entries of a plan (no old values).
    pub fn as_created(&self) -> Vec<FieldDiff> {
        self.0
            .iter()
            .map(|(name, f)| FieldDiff::new(name, None, Some(f.value.clone()), f.sensitive))
            .collect()
    }
}

/// One field that changes. Sensitive values are replaced by a placeholder
/// when the diff is made, so they can never leak through a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The dotted field name, e.g. `health_check.path`.
    pub field: String,
    /// The current value (`None` when the resource does not exist yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The new value (`None` when the field goes away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// Whether the values were redacted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

impl FieldDiff {
    /// A field diff; sensitive values are redacted here (a `null`, the field being unset on
    /// that side, stays `null`: it tells that the value appears or goes away, not what it is).
    pub fn new(
        field: impl Into<String>,
        old: Option<Value>,
        new: Option<Value>,
        sensitive: bool,
    ) -> Self {
        let redact = |v: Option<Value>| match v {
            Some(v) if sensitive && !v.is_null() => Some(Value::String(REDACTED.into())),
            v => v,
        };
        Self {
            field: field.into(),
            old: redact(old),
            new: redact(new),
            sensitive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sets_have_no_diff() {
        let a = Fields::new().with_set("subnets", ["b", "a"]);
        let b = Fields::new().with_set("subnets", ["a", "b"]);
        assert!(a.diff(&b).is_empty());
    }

    #[test]
    fn missing_field_compares_with_null() {
        let a = Fields::new();
        let b = Fields::new().with("desired_count", 2);
        let d = a.diff(&b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].old, Some(Value::Null));
        assert_eq!(d[0].new, Some(Value::from(2)));
    }

    #[test]
    fn sensitive_values_are_redacted_in_diffs() {
        let a = Fields::new().with_sensitive("env.TOKEN", "old-secret");
        let b = Fields::new().with_sensitive("env.TOKEN", "new-secret");
        let d = a.diff(&b);
        assert_eq!(d.len(), 1);
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("secret\""), "{json}");
        assert!(!json.contains("old-secret") && !json.contains("new-secret"));
        assert!(json.contains(REDACTED));
    }

    #[test]
    fn debug_of_fields_never_shows_sensitive_values() {
        let a = Fields::new()
            .with_sensitive("env.TOKEN", "abc123")
            .with("env.MODE", "full");
        let shown = format!("{a:?}");
        assert!(!shown.contains("abc123"), "{shown}");
        assert!(
            shown.contains("full") && shown.contains(REDACTED),
            "{shown}"
        );
    }
}
