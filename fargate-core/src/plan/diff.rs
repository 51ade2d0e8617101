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

/// How a field is written to JSON: a sensitive value as its salted SHA-256 only, so
/// recorded observations never hold a secret, and still compare equal to the same value.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredField {
    Sensitive { sensitive_sha256: String },
    Plain(Value),
}

/// The prefix of a sensitive value read back from JSON: only its digest is known.
const DIGEST_PREFIX: &str = "fargate-rs:sha256:";

impl FieldValue {
    /// The salted SHA-256 (hex) of a sensitive value of `field` (what JSON holds of it).
    fn hash(&self, field: &str) -> String {
        if let Value::String(s) = &self.value
            && let Some(h) = s.strip_prefix(DIGEST_PREFIX)
        {
            return h.to_string();
        }
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"fargate-rs sensitive field v1\0");
        h.update(field.as_bytes());
        h.update(b"\0");
        h.update(self.value.to_string().as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether two values of `field` are the same (a sensitive one by its digest).
    fn same(&self, other: &FieldValue, field: &str) -> bool {
        if self.sensitive && other.sensitive && !self.value.is_null() && !other.value.is_null() {
            self.hash(field) == other.hash(field)
        } else {
            self.value == other.value
        }
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, f) in &self.0 {
            if f.sensitive && !f.value.is_null() {
                map.serialize_entry(
                    name,
                    &StoredField::Sensitive {
                        sensitive_sha256: f.hash(name),
                    },
                )?;
            } else {
                map.serialize_entry(name, &StoredField::Plain(f.value.clone()))?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, StoredField>::deserialize(d)?;
        Ok(Self(
            raw.into_iter()
                .map(|(name, f)| {
                    let value = match f {
                        StoredField::Sensitive { sensitive_sha256 } => FieldValue {
                            value: Value::String(format!("{DIGEST_PREFIX}{sensitive_sha256}")),
                            sensitive: true,
                        },
                        StoredField::Plain(value) => FieldValue {
                            value,
                            sensitive: false,
                        },
                    };
                    (name, value)
                })
                .collect(),
        ))
    }
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
            let null = FieldValue {
                value: Value::Null,
                sensitive: false,
            };
            let old_f = old.unwrap_or(&null);
            let new_f = new.unwrap_or(&null);
            if !old_f.same(new_f, name) {
                let sensitive = old_f.sensitive || new_f.sensitive;
                let mut d = FieldDiff::new(
                    name,
                    Some(old_f.value.clone()),
                    Some(new_f.value.clone()),
                    sensitive,
                );
                if sensitive {
                    d.digest = Some(redacted_digest(name, Some(old_f), Some(new_f)));
                }
                out.push(d);
            }
        }
        out
    }

    /// The fields as the `Create` entries of a plan (no old values).
    pub fn as_created(&self) -> Vec<FieldDiff> {
        self.0
            .iter()
            .map(|(name, f)| {
                let mut d = FieldDiff::new(name, None, Some(f.value.clone()), f.sensitive);
                if f.sensitive {
                    d.digest = Some(redacted_digest(name, None, Some(f)));
                }
                d
            })
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub old: Option<Value>,
    /// The new value (`None` when the field goes away).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub new: Option<Value>,
    /// Whether the values were redacted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// For a redacted field: a short digest of the real values (salted with the field's name,
    /// truncated, not reversible), so that two plans whose sensitive values differ are not
    /// equal (a saved plan is refused when a secret changed since it was made) while neither
    /// shows them. Never rendered. Like any digest it can confirm a guess of a weak value:
    /// keep credentials in Secrets Manager or SSM, passed by reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
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
        let field = field.into();
        let as_field = |v: &Value| FieldValue {
            value: v.clone(),
            sensitive: true,
        };
        let digest = sensitive.then(|| {
            redacted_digest(
                &field,
                old.as_ref().map(as_field).as_ref(),
                new.as_ref().map(as_field).as_ref(),
            )
        });
        let redact = |v: Option<Value>| match v {
            Some(v) if sensitive && !v.is_null() => Some(Value::String(REDACTED.into())),
            v => v,
        };
        Self {
            field,
            old: redact(old),
            new: redact(new),
            sensitive,
            digest,
        }
    }
}

/// A value that is in the JSON, `null` included, is `Some` (an absent one is `None` by
/// default): a diff reads back equal to the one written.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The first 6 bytes (12 hex digits) of the SHA-256 of the field's name and both values'
/// digests (a value read back from JSON has only its digest: the same value gives the same
/// digest either way).
fn redacted_digest(field: &str, old: Option<&FieldValue>, new: Option<&FieldValue>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"fargate-rs redacted field v2\0");
    h.update(field.as_bytes());
    for v in [old, new] {
        h.update(b"\0");
        match v {
            Some(v) if v.value.is_null() => h.update(b"null"),
            Some(v) => h.update(v.hash(field).as_bytes()),
            None => h.update(b"\x01"),
        }
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
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
    fn a_changed_sensitive_value_changes_the_diff_without_showing_it() {
        let observed = Fields::new().with_sensitive("env.TOKEN", "old-secret");
        let to_b = observed.diff(&Fields::new().with_sensitive("env.TOKEN", "new-secret-b"));
        let to_c = observed.diff(&Fields::new().with_sensitive("env.TOKEN", "new-secret-c"));
        assert_ne!(to_b, to_c, "a different secret gives a different diff");
        assert_eq!(
            to_b,
            observed.diff(&Fields::new().with_sensitive("env.TOKEN", "new-secret-b")),
            "the same secret gives the same diff"
        );
        let digest = to_b[0].digest.as_deref().unwrap();
        assert_eq!(digest.len(), 12, "{digest}");
        let json = serde_json::to_string(&to_b).unwrap();
        assert!(!json.contains("secret"), "{json}");
        let created = Fields::new().with_sensitive("env.TOKEN", "a").as_created();
        let other = Fields::new().with_sensitive("env.TOKEN", "b").as_created();
        assert_ne!(created, other);
        let plain = Fields::new()
            .with("env.MODE", "a")
            .diff(&Fields::new().with("env.MODE", "b"));
        assert_eq!(plain[0].digest, None, "plain values need no digest");
    }

    #[test]
    fn diffs_with_null_values_read_back_equal_from_json() {
        let created = Fields::new().with("command", Value::Null).as_created();
        let changed = Fields::new()
            .with("a", Value::Null)
            .diff(&Fields::new().with("a", 1));
        for diffs in [created, changed] {
            let json = serde_json::to_string(&diffs).unwrap();
            let back: Vec<FieldDiff> = serde_json::from_str(&json).unwrap();
            assert_eq!(back, diffs, "{json}");
        }
    }

    #[test]
    fn recorded_fields_hold_no_secret_and_compare_equal_to_the_value() {
        let observed = Fields::new()
            .with_sensitive("env.TOKEN", "s3cr3t-value")
            .with("env.MODE", "full")
            .with_sensitive("env.GONE", Value::Null);
        let json = serde_json::to_string(&observed).unwrap();
        assert!(!json.contains("s3cr3t"), "{json}");
        let back: Fields = serde_json::from_str(&json).unwrap();
        let desired = Fields::new()
            .with_sensitive("env.TOKEN", "s3cr3t-value")
            .with("env.MODE", "full")
            .with_sensitive("env.GONE", Value::Null);
        assert!(
            back.diff(&desired).is_empty(),
            "the same secret is no change"
        );
        let other = desired.clone().with_sensitive("env.TOKEN", "another-value");
        let from_json = back.diff(&other);
        let live = observed.diff(&other);
        assert_eq!(from_json.len(), 1);
        assert_eq!(
            from_json, live,
            "a diff from recorded fields is the live diff"
        );
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            json,
            "stable round trip"
        );
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
