//! IAM policy documents: typed statements ([`PolicyStatement`]) and the normalization that
//! makes two spellings of the same policy compare equal ([`parse_policy_document`]).

use std::collections::BTreeMap;

use fargate_core::InvalidValue;
use serde_json::{Map, Value, json};

/// Allow or deny.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Effect {
    /// Allow the actions.
    #[default]
    Allow,
    /// Deny the actions (wins over any allow).
    Deny,
}

impl Effect {
    fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One statement of an IAM policy: `effect` on `actions` for `resources`, optionally under
/// conditions (`operator → key → values`, for example `StringEquals → aws:ResourceTag/team → [web]`).
///
/// ```
/// use fargate_deploy::iam::PolicyStatement;
/// let s = PolicyStatement::allow(["s3:GetObject"], ["arn:aws:s3:::my-bucket/*"])?
///     .condition("Bool", "aws:SecureTransport", ["true"]);
/// assert_eq!(s.actions(), ["s3:GetObject"]);
/// assert!(PolicyStatement::allow(Vec::<String>::new(), ["*"]).is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
///
/// It deserializes from JSON (`{"effect": "Allow", "actions": [...], "resources": [...],
/// "conditions": {...}}`, `effect` defaults to `Allow`), checked like [`new`](Self::new).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "StatementFields")]
pub struct PolicyStatement {
    effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
    conditions: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

/// A statement as read from JSON, before [`PolicyStatement::new`] checks it.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct StatementFields {
    /// Allow (the default) or deny.
    #[serde(default)]
    effect: Effect,
    /// `service:Action` names, wildcards allowed (`s3:Get*`).
    actions: Vec<String>,
    /// ARNs or `*`.
    resources: Vec<String>,
    /// `operator → key → values`, e.g. `{"StringEquals": {"aws:ResourceTag/team": ["web"]}}`.
    #[serde(default)]
    conditions: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

impl TryFrom<StatementFields> for PolicyStatement {
    type Error = InvalidValue;
    fn try_from(f: StatementFields) -> Result<Self, InvalidValue> {
        let mut statement = PolicyStatement::new(f.effect, f.actions, f.resources)?;
        statement.conditions = f.conditions;
        Ok(statement)
    }
}

impl PolicyStatement {
    /// A statement with `effect` on `actions` (`service:Action`, wildcards allowed) for
    /// `resources` (ARNs or `*`).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `policy.actions` or `policy.resources` when a list is
    /// empty or an entry is malformed.
    pub fn new<A, R>(
        effect: Effect,
        actions: impl IntoIterator<Item = A>,
        resources: impl IntoIterator<Item = R>,
    ) -> Result<Self, InvalidValue>
    where
        A: Into<String>,
        R: Into<String>,
    {
        let actions: Vec<String> = actions.into_iter().map(Into::into).collect();
        let resources: Vec<String> = resources.into_iter().map(Into::into).collect();
        const ACTIONS: &str = "one or more actions such as s3:GetObject or sqs:Send*";
        const RESOURCES: &str = "one or more ARNs (arn:...) or *";
        if actions.is_empty() {
            return Err(InvalidValue::new(
                "policy.actions",
                "[]",
                "a statement needs actions",
                ACTIONS,
            ));
        }
        for action in &actions {
            let valid = action == "*"
                || action.split_once(':').is_some_and(|(service, name)| {
                    !service.is_empty()
                        && !name.is_empty()
                        && service
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
                });
            if !valid {
                return Err(InvalidValue::new(
                    "policy.actions",
                    action,
                    "not a service:Action name",
                    ACTIONS,
                ));
            }
        }
        if resources.is_empty() {
            return Err(InvalidValue::new(
                "policy.resources",
                "[]",
                "a statement needs resources",
                RESOURCES,
            ));
        }
        if let Some(bad) = resources
            .iter()
            .find(|r| r.as_str() != "*" && !r.starts_with("arn:"))
        {
            return Err(InvalidValue::new(
                "policy.resources",
                bad,
                "not an ARN",
                RESOURCES,
            ));
        }
        Ok(Self {
            effect,
            actions,
            resources,
            conditions: None,
        })
    }

    /// What ECS Exec needs of a task role: the SSM agent in the task opens its control and
    /// data channels (`ssmmessages:CreateControlChannel`, `CreateDataChannel`,
    /// `OpenControlChannel`, `OpenDataChannel` on `*`; ECS developer guide, "Monitor Amazon
    /// ECS containers with ECS Exec").
    ///
    /// ```
    /// use fargate_deploy::iam::PolicyStatement;
    /// let exec = PolicyStatement::ecs_exec();
    /// assert!(exec.actions().iter().all(|a| a.starts_with("ssmmessages:")));
    /// assert_eq!(exec.resources(), ["*"]);
    /// ```
    pub fn ecs_exec() -> Self {
        Self {
            effect: Effect::Allow,
            actions: [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ]
            .map(String::from)
            .to_vec(),
            resources: vec!["*".to_string()],
            conditions: None,
        }
    }

    /// An `Allow` statement; see [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn allow<A, R>(
        actions: impl IntoIterator<Item = A>,
        resources: impl IntoIterator<Item = R>,
    ) -> Result<Self, InvalidValue>
    where
        A: Into<String>,
        R: Into<String>,
    {
        Self::new(Effect::Allow, actions, resources)
    }

    /// The same statement with one more condition, e.g. `("StringEquals", "aws:RequestedRegion", ["eu-west-1"])`.
    #[must_use]
    pub fn condition<V: Into<String>>(
        mut self,
        operator: impl Into<String>,
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.conditions
            .get_or_insert_with(BTreeMap::new)
            .entry(operator.into())
            .or_default()
            .entry(key.into())
            .or_default()
            .extend(values.into_iter().map(Into::into));
        self
    }

    /// The effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The actions.
    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    /// The resources.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The statement as IAM policy JSON.
    pub fn to_json(&self) -> Value {
        let mut statement = Map::new();
        statement.insert("Effect".into(), json!(self.effect.as_str()));
        statement.insert("Action".into(), json!(self.actions));
        statement.insert("Resource".into(), json!(self.resources));
        if let Some(conditions) = &self.conditions {
            statement.insert("Condition".into(), json!(conditions));
        }
        Value::Object(statement)
    }
}

/// Decode `%XX` escapes (RFC 3986 percent-encoding, as IAM returns policy documents). Invalid
/// escapes are kept as they are; `+` is not a space.
///
/// ```
/// use fargate_deploy::iam::percent_decode;
/// assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), r#"{"a":1}"#);
/// assert_eq!(percent_decode("100%"), "100%");
/// ```
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| {
                Some((
                    hex_value(*bytes.get(i + 1)?)?,
                    hex_value(*bytes.get(i + 2)?)?,
                ))
            })
            .flatten();
        match escaped {
            Some((hi, lo)) => {
                out.push(hi * 16 + lo);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A policy document as IAM returns it (URL-encoded JSON, or plain JSON), parsed and
/// [normalized](normalize_policy). Text that is not JSON even after decoding is kept as a
/// string, so it compares unequal to any policy fargate-rs writes.
pub fn parse_policy_document(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .or_else(|_| serde_json::from_str::<Value>(&percent_decode(text)))
        .map(normalize_policy)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// A policy document in a canonical form, so that equal policies compare equal as values: a
/// single statement becomes a list; `Action`, `NotAction`, `Resource`, `NotResource`,
/// principal and condition values become sorted lists without duplicates; statements are
/// sorted.
///
/// ```
/// use fargate_deploy::iam::normalize_policy;
/// use serde_json::json;
/// let a = json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["b", "a"]}});
/// let b = json!({"Statement": [{"Resource": ["a", "b"], "Action": ["s3:GetObject"], "Effect": "Allow"}]});
/// assert_eq!(normalize_policy(a), normalize_policy(b));
/// ```
pub fn normalize_policy(policy: Value) -> Value {
    let Value::Object(mut doc) = policy else {
        return policy;
    };
    if let Some(statements) = doc.remove("Statement") {
        let mut list: Vec<Value> = as_list(statements)
            .into_iter()
            .map(|s| sort_keys(normalize_statement(s)))
            .collect();
        list.sort_by_key(Value::to_string);
        list.dedup();
        doc.insert("Statement".into(), Value::Array(list));
    }
    Value::Object(doc)
}

fn normalize_statement(statement: Value) -> Value {
    let Value::Object(statement) = statement else {
        return statement;
    };
    let normalized = statement
        .into_iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "Action" | "NotAction" | "Resource" | "NotResource" => sorted_list(value),
                "Principal" | "NotPrincipal" | "Condition" => normalize_nested(value),
                _ => value,
            };
            (key, value)
        })
        .collect();
    Value::Object(normalized)
}

/// `{k: v}` → `{k: sorted_list(v)}`, recursively for condition operators.
fn normalize_nested(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if v.is_object() {
                        normalize_nested(v)
                    } else {
                        sorted_list(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// The same value with every object's keys in sorted order, so that its text (used to sort
/// lists) does not depend on the order keys were written in.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

fn sorted_list(value: Value) -> Value {
    let mut items: Vec<Value> = as_list(value).into_iter().map(sort_keys).collect();
    items.sort_by_key(Value::to_string);
    items.dedup();
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_multibyte_and_bad_escapes() {
        assert_eq!(percent_decode("caf%C3%A9%20%2B+"), "café ++");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode(""), "");
    }

    #[test]
    fn policies_differing_only_in_spelling_normalize_equal() {
        let a = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}}"#;
        let b = r#"{"Statement":[{"Condition":{"StringEquals":{"aws:SourceAccount":["1"]}},"Action":["sts:AssumeRole"],"Principal":{"Service":["ecs-tasks.amazonaws.com"]},"Effect":"Allow"}],"Version":"2012-10-17"}"#;
        let encoded: String = b.bytes().map(|c| format!("%{c:02X}")).collect();
        assert_eq!(parse_policy_document(a), parse_policy_document(&encoded));
        let other = a.replace("\"1\"", "\"2\"");
        assert_ne!(parse_policy_document(a), parse_policy_document(&other));
        assert_eq!(
            parse_policy_document("not json"),
            Value::String("not json".into())
        );
    }
}
