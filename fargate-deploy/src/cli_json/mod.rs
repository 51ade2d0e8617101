//! AWS CLI JSON, both ways: import the documents people already have into the library's
//! specs, and export specs back to the same JSON.
//!
//! - `aws ecs register-task-definition --cli-input-json` → [`TaskDefinitionDocument`] →
//!   [`crate::task_definition::TaskDefinitionSpec`] ([`import_task_definition`]).
//! - `aws ecs create-service --cli-input-json` → [`ImportedService`], with its managed EBS
//!   volumes (`volumeConfigurations` → [`ImportedEbsVolume`], for a task definition volume
//!   `configuredAtLaunch: true`; the document's `roleArn` is kept for the export and noted as
//!   replaced by the app's own infrastructure role, [`crate::ebs`]).
//! - `aws ecs run-task --overrides` → `Vec<`[`crate::run_task::ContainerOverride`]`>`
//!   ([`import_overrides`], [`export_overrides`]).
//! - `aws ecs run-task --cli-input-json` → [`ImportedRunTask`], whose container overrides
//!   become a run-once [`crate::ScheduledJob`]'s `job_env` / `job_command`
//!   ([`ImportedRunTask::to_job`]); `volumeConfigurations` is refused (a job takes no EBS
//!   volume).
//!
//! Nothing is silently dropped: a field the library does not support (FSx and Docker `volumes`, an EBS
//! volume's `tagSpecifications` and `volumeInitializationRate`,
//! `placementConstraints`, the `linuxParameters` Fargate refuses, the EC2 launch type, a
//! network mode other than `awsvpc`, …) or does not know (a misspelling) makes the import fail with
//! [`CliJsonError::Unsupported`], which lists **every** such field path at once.
//! Each is given a reason in `hints`: a Fargate rule (`networkMode=bridge`, a `hostPort`
//! other than the `containerPort`), not supported yet, or an unknown field with the nearest
//! known name. Invalid values of supported fields are all reported together too
//! ([`CliJsonError::InvalidValues`]), each naming its field path.
//!
//! What a valid document may carry that changes nothing is accepted and said in an
//! [`ImportReport`] note ([`TaskDefinitionDocument::from_json_with_report`]): empty or `null`
//! fields, a container `cpu` of 0, a describe output's wrapper and read-only fields,
//! `["EC2", "FARGATE"]`, `awslogs-create-group`, documented size strings (`"1 vCPU"`,
//! `"2 GB"`), lower-case platform values. Credential-looking plain environment values are
//! warned about.
//!
//! Exported documents are normalized, so `export(import(doc))` equals `doc` up to these
//! normalizations:
//! - task definitions: `networkMode` is `awsvpc`, `requiresCompatibilities` is `["FARGATE"]`,
//!   `runtimePlatform` is filled in (`X86_64`/`LINUX` by default), `essential` is explicit
//!   (default `true`), each port mapping has `hostPort` = `containerPort` and protocol `tcp`,
//!   health checks carry their ECS defaults (30 s interval, 5 s timeout, 3 retries, 0 s start
//!   period), `environment` and `secrets` are sorted by name, `tags` by key, `readonlyRootFilesystem` is
//!   written only when true, empty lists are omitted;
//! - services: `launchType` `FARGATE` replaces a capacity provider strategy equal to the
//!   default (FARGATE weight 1, base 0), `deploymentConfiguration` carries the percentages
//!   (defaults 100 / 200), `assignPublicIp` is explicit (`DISABLED` by default), booleans are
//!   written only when true, `tags` are sorted by key, empty lists are omitted, an EBS
//!   volume's `volumeType`, `filesystemType` and `encrypted` are explicit (defaults `gp3`,
//!   `xfs`, `true`: an absent `encrypted` is read as true, with a note);
//! - run-task overrides: environment sorted by name, empty environment omitted;
//! - run-task documents: `count` and `assignPublicIp` explicit (defaults 1, `DISABLED`),
//!   `launchType` `FARGATE` for the default capacity, booleans written only when true,
//!   `tags` sorted by key.
//!
//! ```
//! use fargate_deploy::cli_json::{CliJsonError, TaskDefinitionDocument};
//!
//! let json = r#"{
//!   "family": "web", "cpu": "256", "memory": "512",
//!   "executionRoleArn": "arn:aws:iam::123456789012:role/web-exec",
//!   "containerDefinitions": [{ "name": "web", "image": "nginx:1.27",
//!                              "portMappings": [{ "containerPort": 80 }] }]
//! }"#;
//! let doc = TaskDefinitionDocument::from_json(json)?;
//! assert_eq!(doc.to_json()["containerDefinitions"][0]["portMappings"][0]["hostPort"], 80);
//! let spec = doc.to_spec(fargate_core::Ownership::new("prod".parse()?))?;
//! assert_eq!(spec.family().as_str(), "web");
//!
//! let legacy = r#"{ "family": "web", "placementConstraints": [],
//!                   "volumes": [{ "name": "v", "dockerVolumeConfiguration": { "driver": "local" } }],
//!                   "containerDefinitions": [{ "name": "web", "image": "nginx:1.27" }] }"#;
//! match TaskDefinitionDocument::from_json(legacy) {
//!     Err(CliJsonError::Unsupported { fields, .. }) => {
//!         // `placementConstraints: []` is a no-op: ignored, with a note.
//!         assert_eq!(fields, ["volumes[0].dockerVolumeConfiguration"]);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod lenient;
mod run_task;
mod service;
mod task_definition;

pub use lenient::ImportReport;
pub use run_task::{ImportedRunTask, JobFields, export_overrides, import_overrides};
pub use service::{
    CircuitBreaker, ImportedConnectService, ImportedEbsVolume, ImportedLoadBalancer,
    ImportedService, ImportedServiceConnect, ImportedServiceRegistry,
};
pub use task_definition::{
    TaskDefinitionDocument, import_task_definition, import_task_definition_with_report,
};

use fargate_core::{Error, InvalidValue, ResourceId};
use serde_json::Value;

/// Why a CLI JSON document could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliJsonError {
    /// The document has fields the library does not support or does not know.
    #[error(
        "{document}: unsupported or unknown fields: {}{}",
        fields.join(", "),
        if hints.is_empty() { String::new() } else { format!(" ({})", hints.join("; ")) }
    )]
    Unsupported {
        /// Which document: `register-task-definition`, `create-service` or `run-task overrides`.
        document: &'static str,
        /// Every offending field path, sorted (`containerDefinitions[0].linuxParameters`); a
        /// supported field with an unsupported value reads `path=value`.
        fields: Vec<String>,
        /// For each unknown field close to a known one (a misspelling), the suggestion:
        /// `containerDefinitons: unknown field, did you mean containerDefinitions?`.
        hints: Vec<String>,
    },
    /// A supported field has an invalid value.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// Several supported fields have invalid values: every one of them, in document order.
    #[error("{} invalid values: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidValues(Vec<InvalidValue>),
    /// The document is not JSON, or a field has the wrong JSON type.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliJsonError {
    /// One invalid value as [`CliJsonError::Invalid`], several as
    /// [`CliJsonError::InvalidValues`].
    pub(crate) fn from_invalid(mut errors: Vec<InvalidValue>) -> Self {
        if errors.len() == 1
            && let Some(e) = errors.pop()
        {
            return CliJsonError::Invalid(e);
        }
        CliJsonError::InvalidValues(errors)
    }

    /// Every field path named by the error (unsupported fields, or the invalid values'
    /// fields), so a caller can show them all at once.
    pub fn fields(&self) -> Vec<String> {
        match self {
            CliJsonError::Unsupported { fields, .. } => fields.clone(),
            CliJsonError::Invalid(v) => vec![v.field.clone()],
            CliJsonError::InvalidValues(vs) => vs.iter().map(|v| v.field.clone()).collect(),
            CliJsonError::Json(_) => Vec::new(),
        }
    }
}

impl From<CliJsonError> for Error {
    fn from(e: CliJsonError) -> Self {
        match e {
            CliJsonError::Invalid(v) => Error::Invalid(v),
            other => Error::Failed {
                resource: ResourceId::new("cli-json", "import"),
                source: Box::new(other),
            },
        }
    }
}

/// The known field tree of a JSON document.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Any scalar or list of scalars.
    Leaf,
    /// A string-keyed map with free keys, each value a scalar.
    Map,
    /// A list of items of one shape.
    List(&'static Shape),
    /// An object with these fields.
    Obj(&'static [(&'static str, Shape)]),
}

/// Every field path of `value` not described by `shape`.
#[cfg(test)]
pub(crate) fn unknown_fields(value: &Value, shape: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    let mut hints = Vec::new();
    walk(value, shape, "", &mut out, &mut hints);
    out
}

/// Levenshtein distance, case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name nearest to `key` when it is close enough to be a misspelling.
pub(crate) fn nearest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|name| (distance(key, name), name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

fn walk(value: &Value, shape: &Shape, path: &str, out: &mut Vec<String>, hints: &mut Vec<String>) {
    match (shape, value) {
        (Shape::Obj(fields), Value::Object(map)) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, s)) => walk(child, s, &child_path, out, hints),
                    None => {
                        if let Some(near) = nearest(key, fields.iter().map(|(n, _)| *n)) {
                            hints
                                .push(format!("{child_path}: unknown field, did you mean {near}?"));
                        }
                        out.push(child_path);
                    }
                }
            }
        }
        (Shape::List(item), Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, item, &format!("{path}[{i}]"), out, hints);
            }
        }
        _ => {}
    }
}

/// Deserialize a checked document; a value of the wrong type is an [`InvalidValue`] naming its
/// field path (`containerDefinitions[0].portMappings[0].containerPort`), not a bare serde
/// message.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    value: Value,
    document: &'static str,
) -> Result<T, CliJsonError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let reason = e.into_inner().to_string();
        CliJsonError::Invalid(InvalidValue::new(
            field,
            "",
            reason,
            format!("the type this field has in the AWS CLI's {document} JSON (its --generate-cli-skeleton)"),
        ))
    })
}

/// Parse `json`, collect unknown fields, then let `check` add unsupported values; fail with
/// every offending path (sorted), or return the parsed value.
pub(crate) fn checked(
    json: &str,
    document: &'static str,
    shape: &Shape,
    check: impl FnOnce(&Value, &mut Vec<String>),
) -> Result<Value, CliJsonError> {
    let value: Value = serde_json::from_str(json)?;
    checked_value(value, document, shape, check)
}

/// [`checked`] on an already parsed (and possibly prepared) value.
pub(crate) fn checked_value(
    value: Value,
    document: &'static str,
    shape: &Shape,
    check: impl FnOnce(&Value, &mut Vec<String>),
) -> Result<Value, CliJsonError> {
    let mut fields = Vec::new();
    let mut hints = Vec::new();
    walk(&value, shape, "", &mut fields, &mut hints);
    check(&value, &mut fields);
    fields.sort();
    fields.dedup();
    hints.sort();
    if fields.is_empty() {
        Ok(value)
    } else {
        Err(CliJsonError::Unsupported {
            document,
            fields,
            hints,
        })
    }
}

/// An ARN's `[service, region, account, resource]` once its `arn:<partition>:` prefix is
/// checked, or why it is not an AWS ARN.
fn arn_parts(arn: &str) -> Result<[&str; 4], &'static str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err("not an ARN (a placeholder?)");
    };
    if *prefix != "arn" || !fargate_core::is_partition(partition) {
        return Err("not an AWS ARN");
    }
    Ok([service, region, account, resource])
}

/// `arn` checked as a well-formed IAM role ARN (`arn:aws:iam::123456789012:role/name`):
/// placeholders (`arn:aws:iam::<account-id>:role/x`, `arn:aws:...`) are refused naming
/// `field`.
pub(crate) fn role_arn(field: &str, arn: &str) -> Result<(), InvalidValue> {
    let bad = |why: &str| {
        InvalidValue::new(
            field,
            arn,
            why,
            "an IAM role ARN: arn:<partition>:iam::<12-digit account>:role/<name>",
        )
    };
    let [service, region, account, resource] = arn_parts(arn).map_err(bad)?;
    if service != "iam" || !region.is_empty() {
        return Err(bad("not an IAM ARN"));
    }
    if !fargate_core::is_account_id(account) {
        return Err(bad("the account is not 12 digits (a placeholder?)"));
    }
    let name = resource.strip_prefix("role/").unwrap_or("");
    let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
    if name.is_empty() || !name.chars().all(valid) || name.contains("...") {
        return Err(bad("not a role/<name> resource (a placeholder?)"));
    }
    Ok(())
}

/// An EC2 resource id of `kind` (`subnet`, `sg`): `<kind>-` and 8 or 17 lower-case hex digits;
/// a placeholder (`subnet-12345`, `sg-xxxxxxxx`) is refused naming the field.
pub(crate) fn ec2_id(field: &str, id: &str, kind: &str) -> Result<(), InvalidValue> {
    let hex = id.strip_prefix(kind).and_then(|r| r.strip_prefix('-'));
    match hex {
        Some(h)
            if matches!(h.len(), 8 | 17)
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(InvalidValue::new(
            field,
            id,
            "not an EC2 id (a placeholder?)",
            format!(
                "{kind}- followed by 8 or 17 hexadecimal digits, e.g. {kind}-0123456789abcdef0"
            ),
        )),
    }
}

/// An ELB target group ARN:
/// `arn:<partition>:elasticloadbalancing:<region>:<12-digit account>:targetgroup/<name>/<id>`;
/// a placeholder (`arn:aws:elasticloadbalancing:...`) is refused naming the field.
pub(crate) fn target_group_arn(field: &str, arn: &str) -> Result<(), InvalidValue> {
    let bad = |why: &str| {
        InvalidValue::new(
            field,
            arn,
            why,
            "arn:<partition>:elasticloadbalancing:<region>:<12-digit account>:targetgroup/<name>/<16 hex digits>",
        )
    };
    let [service, region, account, resource] = arn_parts(arn).map_err(bad)?;
    if service != "elasticloadbalancing" {
        return Err(bad("not an Elastic Load Balancing ARN"));
    }
    if !fargate_core::is_region(region) {
        return Err(bad("the region is not a region name (a placeholder?)"));
    }
    if !fargate_core::is_account_id(account) {
        return Err(bad("the account is not 12 digits (a placeholder?)"));
    }
    let id_ok = |id: &str| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    match resource
        .strip_prefix("targetgroup/")
        .map(|r| r.split('/').collect::<Vec<_>>())
    {
        Some(parts) if matches!(parts.as_slice(), [name, id] if !name.is_empty() && id_ok(id)) => {
            Ok(())
        }
        _ => Err(bad(
            "not a targetgroup/<name>/<id> resource (a placeholder?)",
        )),
    }
}

/// The `launchType` and `capacityProviderStrategy` of a run-task or create-service
/// document that are not Fargate's, as unsupported field paths (`launchType=EC2`,
/// `capacityProviderStrategy[i].capacityProvider=X`); `spot` sees each `FARGATE_SPOT` item
/// with its index, for the document's own rules on it.
pub(crate) fn non_fargate_launch(
    v: &Value,
    out: &mut Vec<String>,
    mut spot: impl FnMut(usize, &Value, &mut Vec<String>),
) {
    if let Some(lt) = v.get("launchType").and_then(Value::as_str)
        && lt != "FARGATE"
    {
        out.push(format!("launchType={lt}"));
    }
    let strategy = v
        .get("capacityProviderStrategy")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, s) in strategy.iter().enumerate() {
        match s.get("capacityProvider").and_then(Value::as_str) {
            Some("FARGATE") => {}
            Some("FARGATE_SPOT") => spot(i, s, out),
            other => out.push(format!(
                "capacityProviderStrategy[{i}].capacityProvider={}",
                other.unwrap_or("")
            )),
        }
    }
}

/// `n` as a `u32`, or an [`InvalidValue`] for `field`.
pub(crate) fn non_negative(field: &str, n: i64) -> Result<u32, InvalidValue> {
    u32::try_from(n)
        .map_err(|_| InvalidValue::new(field, n.to_string(), "negative or too large", "0 or more"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const INNER: Shape = Shape::Obj(&[("a", Shape::Leaf), ("m", Shape::Map)]);
    const OUTER: Shape = Shape::Obj(&[("list", Shape::List(&INNER)), ("x", Shape::Leaf)]);

    #[test]
    fn every_unknown_path_is_listed_with_list_indexes() {
        let v = json!({"x": 1, "y": 2, "list": [{"a": 1, "m": {"free": "ok"}}, {"b": 1}]});
        let mut found = unknown_fields(&v, &OUTER);
        found.sort();
        assert_eq!(found, vec!["list[1].b", "y"]);
    }
}
