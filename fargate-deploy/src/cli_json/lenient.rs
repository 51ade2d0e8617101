//! The lenient pre-pass of an import: what a valid document may carry that changes nothing
//! (empty lists, `null`, `""`, describe-output read-only fields, defaults) is removed with a
//! note, documented size strings are normalized, and credential-looking plain values warned
//! about. Everything else is left for the strict check.

use serde_json::{Map, Value};

/// What an import did besides building the spec: every field it ignored or value it wrote
/// differently (notes), and what deploys but probably should not (warnings).
///
/// ```
/// use fargate_deploy::cli_json::TaskDefinitionDocument;
///
/// let json = r#"{ "family": "web", "cpu": "0.25 vCPU", "memory": "0.5 GB",
///   "executionRoleArn": "arn:aws:iam::123456789012:role/web-exec", "volumes": [],
///   "containerDefinitions": [{ "name": "web", "image": "nginx:1.27", "cpu": 0,
///     "environment": [{ "name": "DATABASE_URL", "value": "postgresql://u:p@db/app" }] }] }"#;
/// let (doc, report) = TaskDefinitionDocument::from_json_with_report(json)?;
/// assert_eq!(doc.to_json()["cpu"], "256");
/// assert!(report.notes.iter().any(|n| n.contains("volumes")));
/// assert!(report.warnings.iter().any(|w| w.contains("DATABASE_URL")));
/// # Ok::<(), fargate_deploy::cli_json::CliJsonError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Fields accepted but ignored (no-op, read-only, defaults), and values normalized or set
    /// differently by the library, each naming its field path.
    pub notes: Vec<String>,
    /// Accepted values that are probably a mistake (a credential in a plain environment
    /// variable), each naming its field path and what to do instead.
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Whether there is neither a note nor a warning.
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty() && self.warnings.is_empty()
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

/// Read-only fields of a `describe-task-definition` output.
const READ_ONLY: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// Prepare a `register-task-definition` document (or a `describe-task-definition` output).
pub(crate) fn prepare_task(mut v: Value, r: &mut ImportReport) -> Value {
    if let Value::Object(m) = &mut v
        && m.contains_key("taskDefinition")
        && m.keys().all(|k| k == "taskDefinition" || k == "tags")
    {
        let tags = m.remove("tags");
        if let Some(Value::Object(mut inner)) = m.remove("taskDefinition") {
            r.note("taskDefinition: a describe-task-definition output, unwrapped");
            if let Some(tags) = tags
                && !inner.contains_key("tags")
            {
                inner.insert("tags".to_string(), tags);
            }
            v = Value::Object(inner);
        }
    }
    let Some(m) = strip_no_ops(&mut v, &READ_ONLY, r) else {
        return v;
    };
    if let Some(Value::Array(list)) = m.get("requiresCompatibilities")
        && list.len() > 1
        && list.iter().any(|c| c == "FARGATE")
    {
        r.note(format!(
            "requiresCompatibilities: {}, deployed as [\"FARGATE\"]",
            Value::Array(list.clone())
        ));
        m.insert(
            "requiresCompatibilities".to_string(),
            Value::from(vec!["FARGATE"]),
        );
    }
    normalize_size(m, "cpu", Unit::Cpu, r);
    normalize_size(m, "memory", Unit::Memory, r);
    if let Some(Value::Object(p)) = m.get_mut("runtimePlatform") {
        for key in ["cpuArchitecture", "operatingSystemFamily"] {
            if let Some(Value::String(s)) = p.get_mut(key) {
                let upper = s.to_uppercase();
                if upper != *s {
                    r.note(format!("runtimePlatform.{key}: {s} read as {upper}"));
                    *s = upper;
                }
            }
        }
    }
    if let Some(Value::Array(volumes)) = m.get_mut("volumes") {
        for (i, v) in volumes.iter_mut().enumerate() {
            if let Value::Object(v) = v
                && v.get("configuredAtLaunch") == Some(&Value::Bool(false))
            {
                v.remove("configuredAtLaunch");
                r.note(format!(
                    "volumes[{i}].configuredAtLaunch: false is the default, ignored"
                ));
            }
            if let Value::Object(v) = v
                && let Some(Value::Object(efs)) = v.get_mut("efsVolumeConfiguration")
            {
                prepare_efs(&format!("volumes[{i}].efsVolumeConfiguration"), efs, r);
            }
        }
    }
    if let Some(Value::Array(containers)) = m.get_mut("containerDefinitions") {
        for (i, c) in containers.iter_mut().enumerate() {
            if let Value::Object(c) = c {
                prepare_container(&format!("containerDefinitions[{i}]"), c, r);
            }
        }
    }
    v
}

/// An EFS volume's `ENABLED`/`DISABLED` values read in upper case, with a note.
fn prepare_efs(path: &str, efs: &mut Map<String, Value>, r: &mut ImportReport) {
    let mut upper = |field: String, value: Option<&mut Value>| {
        if let Some(Value::String(s)) = value {
            let u = s.to_uppercase();
            if u != *s {
                r.note(format!("{field}: {s} read as {u}"));
                *s = u;
            }
        }
    };
    upper(
        format!("{path}.transitEncryption"),
        efs.get_mut("transitEncryption"),
    );
    if let Some(Value::Object(auth)) = efs.get_mut("authorizationConfig") {
        upper(
            format!("{path}.authorizationConfig.iam"),
            auth.get_mut("iam"),
        );
    }
}

/// Read-only fields of a `describe-services` output's service.
const SERVICE_READ_ONLY: [&str; 14] = [
    "serviceArn",
    "clusterArn",
    "status",
    "runningCount",
    "pendingCount",
    "deployments",
    "events",
    "createdAt",
    "createdBy",
    "roleArn",
    "taskSets",
    "currentServiceDeployment",
    "currentServiceRevisions",
    "resourceManagementType",
];

/// Prepare a `create-service` document (or a `describe-services` output of one service): the
/// wrapper unwrapped, empty and `null` fields, read-only fields and the values that only
/// restate ECS's defaults for Fargate (`schedulingStrategy: REPLICA`,
/// `deploymentController: {type: ECS}`) removed, each with a note.
pub(crate) fn prepare_service(mut v: Value, r: &mut ImportReport) -> Value {
    if let Value::Object(m) = &mut v
        && m.len() == 1
        && let Some(Value::Array(services)) = m.get("services")
        && let [one] = services.as_slice()
    {
        r.note("services: a describe-services output, its one service unwrapped");
        v = one.clone();
    }
    if let Value::Object(m) = &mut v
        && m.len() == 1
        && let Some(one @ Value::Object(_)) = m.get("service")
    {
        r.note("service: a create-service output, unwrapped");
        v = one.clone();
    }
    let Some(m) = strip_no_ops(&mut v, &SERVICE_READ_ONLY, r) else {
        return v;
    };
    if m.get("schedulingStrategy").and_then(Value::as_str) == Some("REPLICA") {
        m.remove("schedulingStrategy");
        r.note("schedulingStrategy: REPLICA is what Fargate services do, ignored");
    }
    if let Some(Value::Object(controller)) = m.get("deploymentController")
        && controller.len() == 1
        && controller.get("type").and_then(Value::as_str) == Some("ECS")
    {
        m.remove("deploymentController");
        r.note("deploymentController: {type: ECS} is the default (rolling updates), ignored");
    }
    v
}

/// Prepare a `run-task --cli-input-json` document: empty and `null` fields removed, and the
/// values that restate ECS's defaults (`propagateTags: NONE`, `enableExecuteCommand: false`,
/// `enableECSManagedTags: false`) removed, each with a note.
pub(crate) fn prepare_run_task(mut v: Value, r: &mut ImportReport) -> Value {
    let Some(m) = strip_no_ops(&mut v, &[], r) else {
        return v;
    };
    if m.get("propagateTags").and_then(Value::as_str) == Some("NONE") {
        m.remove("propagateTags");
        r.note("propagateTags: NONE is the default (tags are not propagated), ignored");
    }
    for key in ["enableExecuteCommand", "enableECSManagedTags"] {
        if m.get(key) == Some(&Value::Bool(false)) {
            m.remove(key);
            r.note(format!("{key}: false is the default, ignored"));
        }
    }
    v
}

fn prepare_container(p: &str, c: &mut Map<String, Value>, r: &mut ImportReport) {
    if c.get("cpu").and_then(Value::as_i64) == Some(0) {
        c.remove("cpu");
        r.note(format!("{p}.cpu: 0 (no reservation), ignored"));
    }
    if let Some(Value::Object(linux)) = c.get_mut("linuxParameters")
        && linux.get("initProcessEnabled") == Some(&Value::Bool(false))
    {
        linux.remove("initProcessEnabled");
        r.note(format!(
            "{p}.linuxParameters.initProcessEnabled: false is the default, ignored"
        ));
        if linux.is_empty() {
            c.remove("linuxParameters");
        }
    }
    if let Some(Value::Object(options)) = c
        .get_mut("logConfiguration")
        .and_then(|l| l.get_mut("options"))
        && options.remove("awslogs-create-group").is_some()
    {
        r.note(format!(
            "{p}.logConfiguration.options.awslogs-create-group: ignored, the library creates the log group"
        ));
    }
    if let Some(Value::Array(env)) = c.get("environment") {
        for (j, kv) in env.iter().enumerate() {
            let name = kv.get("name").and_then(Value::as_str).unwrap_or_default();
            let value = kv.get("value").and_then(Value::as_str).unwrap_or_default();
            if let Some(why) = credential_like(name, value) {
                r.warnings.push(format!(
                    "{p}.environment[{j}] ({name}): {why}; pass it as a secret (`secrets` with valueFrom a Secrets Manager or SSM parameter ARN), not a plain value"
                ));
            }
        }
    }
}

/// Why a plain environment value looks like a credential, if it does.
fn credential_like(name: &str, value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return None;
    }
    // What the plans redact by value: a URL with a password, a PEM private key.
    if fargate_core::redact::is_sensitive_value(value) {
        return Some("a URL with a password, or a private key");
    }
    let bytes = value.as_bytes();
    if bytes.windows(20).any(|w| {
        (w.starts_with(b"AKIA") || w.starts_with(b"ASIA"))
            && w[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }) {
        return Some("an AWS access key id");
    }
    let lower = value.to_lowercase();
    if ["password=", "passwd=", "pwd=", "secret="]
        .iter()
        .any(|k| lower.contains(k))
    {
        return Some("a password in the value");
    }
    if crate::task_definition::looks_sensitive(name) {
        return Some("its name suggests a credential");
    }
    None
}

/// Remove the empty and `null` fields of `v` and, when it is an object, its `read_only` fields
/// (a describe output's), each with a note; the object, to prepare further.
fn strip_no_ops<'v>(
    v: &'v mut Value,
    read_only: &[&str],
    r: &mut ImportReport,
) -> Option<&'v mut Map<String, Value>> {
    let mut empty = Vec::new();
    strip_empty(v, "", &mut empty);
    if !empty.is_empty() {
        r.note(format!(
            "{}: empty or null, ignored (no-op)",
            empty.join(", ")
        ));
    }
    let Value::Object(m) = v else {
        return None;
    };
    for key in read_only {
        if m.remove(*key).is_some() {
            r.note(format!(
                "{key}: read-only field of a describe output, ignored"
            ));
        }
    }
    Some(m)
}

/// Remove `null`, `[]`, `""` and `{}` (after their own cleaning), recording their paths.
/// An environment variable's `value` may be `""` (it sets the variable empty).
fn strip_empty(v: &mut Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for key in keys {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let Some(child) = m.get_mut(&key) else {
                    continue;
                };
                strip_empty(child, &child_path, out);
                let empty = match child {
                    Value::Null => true,
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    Value::String(s) => s.is_empty() && key != "value",
                    _ => false,
                };
                if empty {
                    m.remove(&key);
                    out.push(child_path);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                strip_empty(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Cpu,
    Memory,
}

/// `"1 vCPU"`, `"0.5 vcpu"` → CPU units (× 1024); `"2 GB"`, `"0.5 GiB"` → MiB (× 1024);
/// `"512 MiB"`/`"512 MB"` and bare numbers (string or JSON number) as they are.
fn parse_size(s: &str, unit: Unit) -> Option<u32> {
    let t = s.trim().to_lowercase();
    let (num, factor) = match unit {
        Unit::Cpu => match t.strip_suffix("vcpu") {
            Some(n) => (n, 1024.0),
            None => (t.as_str(), 1.0),
        },
        Unit::Memory => {
            if let Some(n) = t.strip_suffix("gib").or_else(|| t.strip_suffix("gb")) {
                (n, 1024.0)
            } else if let Some(n) = t.strip_suffix("mib").or_else(|| t.strip_suffix("mb")) {
                (n, 1.0)
            } else {
                (t.as_str(), 1.0)
            }
        }
    };
    let n: f64 = num.trim().parse().ok()?;
    let units = n * factor;
    (units.fract() == 0.0 && units > 0.0 && units <= f64::from(u32::MAX)).then_some(units as u32)
}

fn normalize_size(m: &mut Map<String, Value>, key: &str, unit: Unit, r: &mut ImportReport) {
    let given = match m.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return,
    };
    if let Some(units) = parse_size(&given, unit) {
        let normalized = units.to_string();
        if normalized != given || !m.get(key).is_some_and(Value::is_string) {
            r.note(format!("{key}: {given} normalized to \"{normalized}\""));
        }
        m.insert(key.to_string(), Value::String(normalized));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_size_strings_are_normalized() {
        assert_eq!(parse_size("1 vCPU", Unit::Cpu), Some(1024));
        assert_eq!(parse_size("0.5 vcpu", Unit::Cpu), Some(512));
        assert_eq!(parse_size(".25 vCPU", Unit::Cpu), Some(256));
        assert_eq!(parse_size("512", Unit::Cpu), Some(512));
        assert_eq!(parse_size("2 GB", Unit::Memory), Some(2048));
        assert_eq!(parse_size("0.5GB", Unit::Memory), Some(512));
        assert_eq!(parse_size("512 MiB", Unit::Memory), Some(512));
        assert_eq!(parse_size("lots", Unit::Memory), None);
        assert_eq!(parse_size("0.3 vCPU", Unit::Cpu), None);
    }

    #[test]
    fn credential_looking_values_are_recognized() {
        assert!(credential_like("DATABASE_URL", "postgresql://u:p@h/db").is_some());
        assert!(credential_like("X", "AKIAABCDEFGHIJKLMNOP").is_some());
        assert!(credential_like("OPTS", "user=a password=b").is_some());
        assert!(credential_like("API_TOKEN", "abc").is_some());
        assert!(credential_like("RUST_LOG", "info").is_none());
        assert!(credential_like("URL", "https://example.com/a@b").is_none());
        assert!(credential_like("TLS", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...").is_some());
    }
}
