//! User tags ([`Tags`]) and the ownership tags fargate-rs puts on everything it creates
//! ([`Ownership`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::names::Ident;
use crate::validate::{check_chars, check_len, strip_prefix_ignore_case};

const KEY_FIELD: &str = "tag key";
const VALUE_FIELD: &str = "tag value";
const CHARS: &str = "letters, digits, spaces and _ . : / = + - @";

/// Whether `c` is allowed in a tag key or value: `\p{L}\p{Z}\p{N}_.:/=+\-@`.
///
/// `\p{L}` is approximated by `char::is_alphabetic` (which also admits a few combining marks)
/// and `\p{N}` by `char::is_numeric`.
fn tag_char(c: char) -> bool {
    let separator = matches!(
        c,
        ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    );
    c.is_alphabetic() || c.is_numeric() || separator || "_.:/=+-@".contains(c)
}

fn validate_key(key: &str) -> Result<(), InvalidValue> {
    let allowed = format!("1 to 128 {CHARS}, not starting with aws: or fargate:");
    check_len(KEY_FIELD, key, 1, 128, &allowed)?;
    check_chars(KEY_FIELD, key, tag_char, &allowed)?;
    for reserved in ["aws:", "fargate:"] {
        if strip_prefix_ignore_case(key, reserved).is_some() {
            let reason = format!("the {reserved} prefix is reserved");
            return Err(InvalidValue::new(KEY_FIELD, key, reason, allowed));
        }
    }
    Ok(())
}

fn validate_value(value: &str) -> Result<(), InvalidValue> {
    let allowed = format!("0 to 256 {CHARS}");
    check_len(VALUE_FIELD, value, 0, 256, &allowed)?;
    check_chars(VALUE_FIELD, value, tag_char, &allowed)
}

/// User tags to put on every resource of an app, validated against the rules AWS applies
/// to all the services fargate-rs uses.
///
/// - at most [`Tags::MAX`] = 46 tags: AWS allows 50 per resource and [`Ownership`] uses up to 4;
/// - keys of 1 to 128 characters, values of 0 to 256, made of Unicode letters, digits and
///   spaces and `_ . : / = + - @`;
/// - keys must not start with `aws:` (reserved by AWS) or `fargate:` (the ownership tags), in
///   any case.
///
/// Serialized as a JSON object.
///
/// ```rust
/// use fargate_core::Tags;
///
/// let tags = Tags::new().insert("team", "payments")?.insert("cost-center", "42")?;
/// assert_eq!(tags.len(), 2);
/// assert_eq!(tags.get("team"), Some("payments"));
///
/// let err = Tags::new().insert("aws:createdBy", "me").unwrap_err();
/// assert_eq!(err.field, "tag key");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct Tags(BTreeMap<String, String>);

impl Tags {
    /// The most user tags a resource can have.
    pub const MAX: usize = 46;

    /// No tags.
    pub fn new() -> Self {
        Tags(BTreeMap::new())
    }

    /// These tags with `key` set to `value` (replacing an earlier value).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `tag key` or `tag value` when either breaks the rules,
    /// or for field `tags` when there would be more than [`Tags::MAX`] tags.
    pub fn insert(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, InvalidValue> {
        let (key, value) = (key.into(), value.into());
        validate_key(&key)?;
        validate_value(&value)?;
        if self.0.len() >= Self::MAX && !self.0.contains_key(&key) {
            return Err(InvalidValue::new(
                "tags",
                key,
                format!("more than {} tags", Self::MAX),
                format!(
                    "at most {} user tags (AWS allows 50, fargate-rs uses 4)",
                    Self::MAX
                ),
            ));
        }
        self.0.insert(key, value);
        Ok(self)
    }

    /// Tags from `(key, value)` pairs; a later pair replaces an earlier one with the same key.
    ///
    /// # Errors
    /// The first error [`insert`](Self::insert) reports.
    pub fn try_from_iter<I, K, V>(pairs: I) -> Result<Self, InvalidValue>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        pairs
            .into_iter()
            .try_fold(Tags::new(), |tags, (k, v)| tags.insert(k, v))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The tags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of tags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<BTreeMap<String, String>> for Tags {
    type Error = InvalidValue;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, Self::Error> {
        Tags::try_from_iter(map)
    }
}

impl From<Tags> for BTreeMap<String, String> {
    fn from(tags: Tags) -> Self {
        tags.0
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Who owns a resource: the tags fargate-rs writes on everything it creates and checks
/// before it modifies or deletes anything.
///
/// A resource found with the expected name but other ownership tags is never touched
/// ([`OwnershipCheck`]).
///
/// ```rust
/// use fargate_core::{Ident, Ownership};
/// use fargate_core::tags::OwnershipCheck;
///
/// let owner = Ownership::new("prod".parse()?).with_app("web".parse()?).with_component("service");
/// let tags = owner.tags();
/// assert!(tags.contains(&("fargate:managed-by".to_string(), "fargate-rs".to_string())));
///
/// let found = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
/// assert_eq!(owner.check(found), OwnershipCheck::Owned);
/// assert_eq!(owner.check([("Name", "something")]), OwnershipCheck::Foreign);
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ownership {
    /// The environment the resource belongs to.
    pub environment: Ident,
    /// The app, for app resources; `None` for what the environment shares (network, cluster).
    pub app: Option<Ident>,
    /// What the resource is within the app (for example `service` or `target-group`); a tag
    /// value, so at most 256 letters, digits, spaces and `_ . : / = + - @`. Informational:
    /// not compared by [`check`](Self::check).
    pub component: Option<String>,
}

/// The result of [`Ownership::check`] on the tags of a resource found in AWS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OwnershipCheck {
    /// fargate-rs made it for this environment (and app).
    Owned,
    /// Not made by fargate-rs: never modify or delete it.
    Foreign,
    /// Made by fargate-rs for another environment or app.
    OtherOwner {
        /// The environment it belongs to (empty when the tag is missing).
        environment: String,
        /// The app it belongs to, if any.
        app: Option<String>,
    },
}

impl Ownership {
    /// The tag key naming the environment.
    pub const ENVIRONMENT_KEY: &'static str = "fargate:environment";
    /// The tag key naming the app.
    pub const APP_KEY: &'static str = "fargate:app";
    /// The tag key naming the component.
    pub const COMPONENT_KEY: &'static str = "fargate:component";
    /// The tag key marking resources fargate-rs manages.
    pub const MANAGED_BY_KEY: &'static str = "fargate:managed-by";
    /// The value of [`MANAGED_BY_KEY`](Self::MANAGED_BY_KEY).
    pub const MANAGED_BY_VALUE: &'static str = "fargate-rs";

    /// Ownership by `environment`, for a resource the environment shares.
    pub fn new(environment: Ident) -> Self {
        Ownership {
            environment,
            app: None,
            component: None,
        }
    }

    /// The same ownership, for a resource of `app`.
    #[must_use]
    pub fn with_app(mut self, app: Ident) -> Self {
        self.app = Some(app);
        self
    }

    /// The same ownership, naming the component.
    #[must_use]
    pub fn with_component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// The ownership tags: managed-by, environment, then app and component when set.
    pub fn tags(&self) -> Vec<(String, String)> {
        let mut tags = vec![
            (
                Self::MANAGED_BY_KEY.to_string(),
                Self::MANAGED_BY_VALUE.to_string(),
            ),
            (
                Self::ENVIRONMENT_KEY.to_string(),
                self.environment.to_string(),
            ),
        ];
        if let Some(app) = &self.app {
            tags.push((Self::APP_KEY.to_string(), app.to_string()));
        }
        if let Some(component) = &self.component {
            tags.push((Self::COMPONENT_KEY.to_string(), component.clone()));
        }
        tags
    }

    /// The user tags followed by the ownership tags; an ownership tag replaces a user tag
    /// with the same key.
    pub fn merged_with(&self, user: &Tags) -> Vec<(String, String)> {
        let own = self.tags();
        let mut merged: Vec<(String, String)> = user
            .iter()
            .filter(|(k, _)| !own.iter().any(|(o, _)| o == k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        merged.extend(own);
        merged
    }

    /// Whether a resource with tags `found` is ours: [`OwnershipCheck::Owned`] when it is
    /// managed by fargate-rs for this environment and, when [`app`](Self::app) is set, this
    /// app; [`OwnershipCheck::OtherOwner`] when fargate-rs manages it for someone else;
    /// [`OwnershipCheck::Foreign`] otherwise.
    pub fn check<'a>(&self, found: impl IntoIterator<Item = (&'a str, &'a str)>) -> OwnershipCheck {
        let (mut managed, mut environment, mut app) = (false, None, None);
        for (key, value) in found {
            match key {
                Self::MANAGED_BY_KEY => managed = value == Self::MANAGED_BY_VALUE,
                Self::ENVIRONMENT_KEY => environment = Some(value),
                Self::APP_KEY => app = Some(value),
                _ => {}
            }
        }
        if !managed {
            return OwnershipCheck::Foreign;
        }
        let same_env = environment == Some(self.environment.as_str());
        let same_app = self
            .app
            .as_ref()
            .is_none_or(|mine| app == Some(mine.as_str()));
        if same_env && same_app {
            OwnershipCheck::Owned
        } else {
            OwnershipCheck::OtherOwner {
                environment: environment.unwrap_or_default().to_string(),
                app: app.map(str::to_string),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ident(s: &str) -> Ident {
        s.parse().unwrap()
    }

    #[test]
    fn keys_and_values() {
        let tags = Tags::new()
            .insert("Name", "")
            .unwrap()
            .insert("équipe", "données 2024")
            .unwrap()
            .insert("a.b:c/d=e+f-g@h_i", "日本語 ok")
            .unwrap();
        assert_eq!(tags.len(), 3);
        let cases = [
            ("", "x", KEY_FIELD, "must not be empty"),
            ("aws:x", "x", KEY_FIELD, "aws: prefix is reserved"),
            ("AWS:x", "x", KEY_FIELD, "aws: prefix is reserved"),
            ("Fargate:app", "x", KEY_FIELD, "fargate: prefix"),
            ("a*b", "x", KEY_FIELD, "'*'"),
            ("tab\tkey", "x", KEY_FIELD, "'\\t'"),
            ("ok", "semi;colon", VALUE_FIELD, "';'"),
            ("ok", "new\nline", VALUE_FIELD, "'\\n'"),
        ];
        for (k, v, field, why) in cases {
            let e = Tags::new().insert(k, v).unwrap_err();
            assert_eq!(e.field, field, "{k}={v}");
            assert!(e.reason.contains(why), "{k}={v}: {e}");
        }
        assert!(Tags::new().insert("k".repeat(128), "v".repeat(256)).is_ok());
        assert!(Tags::new().insert("k".repeat(129), "v").is_err());
        assert!(Tags::new().insert("k", "é".repeat(257)).is_err());
    }

    #[test]
    fn limits_and_iteration() {
        let full = Tags::try_from_iter((0..Tags::MAX).map(|i| (format!("k{i:02}"), "v"))).unwrap();
        assert_eq!(full.len(), Tags::MAX);
        assert!(full.clone().insert("k00", "replaced").is_ok());
        let e = full.clone().insert("one-more", "v").unwrap_err();
        assert_eq!(e.field, "tags");
        assert!(e.allowed.contains("at most 46"), "{e}");
        let keys: Vec<&str> = full.iter().map(|(k, _)| k).take(2).collect();
        assert_eq!(keys, ["k00", "k01"]);
        assert_eq!((&full).into_iter().count(), Tags::MAX);
        let json = serde_json::to_string(&Tags::new().insert("a", "b").unwrap()).unwrap();
        assert_eq!(json, r#"{"a":"b"}"#);
        assert!(serde_json::from_str::<Tags>(r#"{"aws:x":"b"}"#).is_err());
    }

    #[test]
    fn ownership_tags() {
        let env_only = Ownership::new(ident("prod"));
        assert_eq!(
            env_only.tags(),
            vec![
                ("fargate:managed-by".to_string(), "fargate-rs".to_string()),
                ("fargate:environment".to_string(), "prod".to_string()),
            ]
        );
        let owner = Ownership::new(ident("prod"))
            .with_app(ident("web"))
            .with_component("alb");
        let user = Tags::new().insert("team", "x").unwrap();
        let merged = owner.merged_with(&user);
        assert_eq!(merged.len(), 5);
        assert_eq!(merged.first(), Some(&("team".to_string(), "x".to_string())));
        for (k, v) in owner.tags() {
            validate_key(&k).unwrap_err(); // reserved for users, but valid AWS keys
            validate_value(&v).unwrap();
        }
    }

    #[test]
    fn ownership_check() {
        let owner = Ownership::new(ident("prod")).with_app(ident("web"));
        let tags = |env: &'static str, app: Option<&'static str>| {
            let mut t = vec![
                ("fargate:managed-by", "fargate-rs"),
                ("fargate:environment", env),
            ];
            t.extend(app.map(|a| ("fargate:app", a)));
            t.push(("fargate:component", "anything"));
            t
        };
        assert_eq!(
            owner.check(tags("prod", Some("web"))),
            OwnershipCheck::Owned
        );
        assert_eq!(
            owner.check(tags("prod", Some("api"))),
            OwnershipCheck::OtherOwner {
                environment: "prod".into(),
                app: Some("api".into())
            }
        );
        assert_eq!(
            owner.check(tags("dev", Some("web"))),
            OwnershipCheck::OtherOwner {
                environment: "dev".into(),
                app: Some("web".into())
            }
        );
        assert_eq!(
            owner.check(tags("prod", None)),
            OwnershipCheck::OtherOwner {
                environment: "prod".into(),
                app: None
            }
        );
        let env_owner = Ownership::new(ident("prod"));
        assert_eq!(env_owner.check(tags("prod", None)), OwnershipCheck::Owned);
        assert_eq!(
            env_owner.check(tags("prod", Some("web"))),
            OwnershipCheck::Owned
        );
        assert_eq!(
            owner.check([("fargate:environment", "prod"), ("fargate:app", "web")]),
            OwnershipCheck::Foreign
        );
        assert_eq!(
            owner.check([("fargate:managed-by", "terraform")]),
            OwnershipCheck::Foreign
        );
        assert_eq!(
            owner.check([("fargate:managed-by", "fargate-rs")]),
            OwnershipCheck::OtherOwner {
                environment: String::new(),
                app: None
            }
        );
        let json = serde_json::to_string(&owner).unwrap();
        assert_eq!(serde_json::from_str::<Ownership>(&json).unwrap(), owner);
    }

    proptest! {
        #[test]
        fn arbitrary_pairs_never_panic(k in any::<String>(), v in any::<String>()) {
            if let Ok(tags) = Tags::new().insert(k.clone(), v.clone()) {
                prop_assert_eq!(tags.get(&k), Some(v.as_str()));
            }
        }

        #[test]
        fn valid_pairs_are_accepted(k in "[a-zA-Z0-9 _.:/=+@-]{1,128}", v in "\\PC{0,256}") {
            let v: String = v.chars().filter(|c| tag_char(*c)).collect();
            let accepted = Tags::new().insert(k.clone(), v).is_ok();
            let reserved = k.to_ascii_lowercase().starts_with("aws:") || k.to_ascii_lowercase().starts_with("fargate:");
            prop_assert_eq!(accepted, !reserved);
        }

        #[test]
        fn serde_round_trips(pairs in prop::collection::btree_map("[a-z]{1,10}", "[a-z0-9 ]{0,10}", 0..20)) {
            let tags = Tags::try_from(pairs).unwrap();
            let json = serde_json::to_string(&tags).unwrap();
            prop_assert_eq!(serde_json::from_str::<Tags>(&json).unwrap(), tags);
        }
    }
}
