//! `"task_definition": "file.json"` in an app entry: an AWS CLI
//! `register-task-definition --cli-input-json` document whose one container fills the entry's
//! unset fields. The values are merged into the entry's JSON before it is deserialized into
//! the builder's input type, which then checks them like any other.

use std::collections::BTreeMap;
use std::path::Path;

use fargate_deploy::cli_json::TaskDefinitionDocument;
use serde_json::{Map, Value, json};

use crate::exit::Failure;

/// Import the task definition of every app entry of `file` that names one (relative to
/// `base`), removing `task_definition` from the entry; the notes say what fargate-rs replaced.
pub(super) fn import_task_definitions(
    file: &mut Value,
    base: &Path,
) -> Result<Vec<String>, Failure> {
    let mut notes = Vec::new();
    let Some(apps) = file.get_mut("apps").and_then(Value::as_array_mut) else {
        return Ok(notes);
    };
    for (i, entry) in apps.iter_mut().enumerate() {
        let Some(entry) = entry.as_object_mut() else {
            continue;
        };
        let Some(td) = entry.remove("task_definition") else {
            continue;
        };
        let at = format!("apps[{i}]");
        let Value::String(td) = td else {
            return Err(Failure::bad_input(format!(
                "{at}.task_definition: expected the name of a JSON file (relative to the app file), not {td}"
            )));
        };
        notes.extend(import_task_definition(&base.join(td), entry, &at)?);
    }
    Ok(notes)
}

/// Fill the entry's unset fields from an AWS CLI `register-task-definition` document,
/// checked by `fargate_deploy::cli_json` (every unsupported field is listed). What the app
/// builders cannot express is refused, naming the field; what fargate-rs replaces with its
/// own (family, execution role, log configuration, container name) is returned as notes.
fn import_task_definition(
    file: &Path,
    entry: &mut Map<String, Value>,
    at: &str,
) -> Result<Vec<String>, Failure> {
    let at = format!("{at}.task_definition");
    let bad = |m: String| Failure::bad_input(format!("{at} ({}): {m}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read: {e}")))?;
    let (doc, report) =
        TaskDefinitionDocument::from_json_with_report(&text).map_err(|e| bad(e.to_string()))?;
    // What the import accepted, normalized or found suspicious, warnings first.
    let mut notes: Vec<String> = report
        .warnings
        .iter()
        .map(|w| format!("{at}: warning: {w}"))
        .chain(report.notes.iter().map(|n| format!("{at}: {n}")))
        .collect();
    let d = doc.to_json();
    let refuse = |field: &str, why: &str| bad(format!("{field}: {why}"));
    for field in ["taskRoleArn", "ephemeralStorage"] {
        if !d[field].is_null() {
            return Err(refuse(
                field,
                "not expressible in an app file (use the library's builders)",
            ));
        }
    }
    let containers = d["containerDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let [c] = containers.as_slice() else {
        return Err(refuse(
            "containerDefinitions",
            "an app file imports exactly one container (give the others in `sidecars`)",
        ));
    };
    for field in [
        "entryPoint",
        "stopTimeout",
        "readonlyRootFilesystem",
        "dependsOn",
    ] {
        if !c[field].is_null() {
            return Err(refuse(
                &format!("containerDefinitions[0].{field}"),
                "not expressible in an app file (use the library's builders)",
            ));
        }
    }
    let is_job = entry.get("kind").and_then(Value::as_str) == Some("job");
    let name = entry
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let gives_architecture = entry.contains_key("architecture");
    // A field the entry gives wins over the document's.
    let mut fill = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            entry.entry(field).or_insert(value);
        }
    };
    let strings = |v: &Value| -> Option<Value> {
        v.as_array().map(|l| {
            json!(
                l.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            )
        })
    };
    let pairs = |v: &Value, key: &str, value: &str| -> Option<Value> {
        v.as_array().map(|l| {
            json!(
                l.iter()
                    .filter_map(|p| Some((p[key].as_str()?, p[value].as_str()?)))
                    .collect::<BTreeMap<_, _>>()
            )
        })
    };
    let units = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<u32>().ok())
            .map(Value::from)
    };
    fill("image", c["image"].as_str().map(Value::from));
    fill("cpu", units(&d["cpu"]));
    fill("memory", units(&d["memory"]));
    if let (false, Some(arch)) = (
        gives_architecture,
        d["runtimePlatform"]["cpuArchitecture"].as_str(),
    ) {
        let arch: fargate_core::Architecture = arch
            .parse()
            .map_err(|e: fargate_core::InvalidValue| bad(e.to_string()))?;
        fill("architecture", Some(Value::from(arch.as_str())));
    }
    fill("command", strings(&c["command"]));
    fill("secrets", pairs(&c["secrets"], "name", "valueFrom"));
    fill(
        "memory_reservation",
        c["memoryReservation"].as_u64().map(Value::from),
    );
    fill("tags", pairs(&d["tags"], "key", "value"));
    let mut replaced = vec!["family", "executionRoleArn"];
    match c["portMappings"].as_array().map(Vec::as_slice) {
        None | Some([]) => {}
        Some([_]) if is_job => replaced.push("portMappings (a job serves no port)"),
        Some([p]) => fill("port", p["containerPort"].as_u64().map(Value::from)),
        Some(_) => {
            return Err(refuse(
                "containerDefinitions[0].portMappings",
                "an app serves one port",
            ));
        }
    }
    // The document's environment under the entry's `env`: merged, the entry wins per name.
    if let Some(Value::Object(doc_env)) = pairs(&c["environment"], "name", "value") {
        match entry.get_mut("env") {
            Some(Value::Object(given)) => {
                for (k, v) in doc_env {
                    given.entry(k).or_insert(v);
                }
            }
            Some(_) => {}
            None => {
                entry.insert("env".into(), Value::Object(doc_env));
            }
        }
    }
    let hc = &c["healthCheck"];
    if !hc.is_null() && !entry.contains_key("health_check") {
        let defaults = hc["interval"] == 30
            && hc["timeout"] == 5
            && hc["retries"] == 3
            && hc["startPeriod"] == 0;
        let command: Vec<&str> = hc["command"]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match command.as_slice() {
            ["CMD-SHELL", cmd] if defaults => {
                entry.insert("health_check".into(), Value::from(*cmd));
            }
            _ => {
                return Err(refuse(
                    "containerDefinitions[0].healthCheck",
                    "only [\"CMD-SHELL\", \"<command>\"] with the ECS default timings maps onto `health_check`",
                ));
            }
        }
    }
    if !c["logConfiguration"].is_null() {
        replaced.push("logConfiguration");
    }
    if c["name"].as_str() != Some(name.as_str()) {
        replaced.push("the container name");
    }
    notes.push(format!(
        "{at}: fargate-rs uses its own {} for app `{name}`",
        replaced.join(", ")
    ));
    Ok(notes)
}
