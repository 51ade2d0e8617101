//! `"task_definition": "file.json"` in an app entry: an AWS CLI
//! `register-task-definition --cli-input-json` document whose one container fills the entry's
//! unset fields.

use std::collections::BTreeMap;
use std::path::Path;

use fargate_deploy::cli_json::TaskDefinitionDocument;
use serde_json::Value;

use super::{AppEntry, Kind};
use crate::exit::Failure;

/// Fill the entry's unset fields from an AWS CLI `register-task-definition` document,
/// checked by `fargate_deploy::cli_json` (every unsupported field is listed). What the app
/// builders cannot express is refused, naming the field; what fargate-rs replaces with its
/// own (family, execution role, log configuration, container name) is returned as notes.
pub(super) fn import_task_definition(
    file: &Path,
    a: &mut AppEntry,
    at: &str,
) -> Result<Vec<String>, Failure> {
    let at = format!("{at}.task_definition");
    let bad = |m: String| Failure::bad_input(format!("{at} ({}): {m}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read: {e}")))?;
    let doc = TaskDefinitionDocument::from_json(&text).map_err(|e| bad(e.to_string()))?;
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
            "the app file maps exactly one container (sidecars need the library's builders)",
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
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    };
    let pairs = |v: &Value, value: &str| -> Option<BTreeMap<String, String>> {
        v.as_array().map(|l| {
            l.iter()
                .filter_map(|p| Some((p["name"].as_str()?.into(), p[value].as_str()?.into())))
                .collect()
        })
    };
    let units = |v: &Value| v.as_str().and_then(|s| s.parse::<u32>().ok());
    if a.image.is_none() && a.ecr_tag.is_none() {
        a.image = c["image"].as_str().map(str::to_string);
    }
    a.cpu = a.cpu.or(units(&d["cpu"]));
    a.memory = a.memory.or(units(&d["memory"]));
    if a.architecture.is_none()
        && let Some(arch) = d["runtimePlatform"]["cpuArchitecture"].as_str()
    {
        a.architecture = Some(
            arch.parse()
                .map_err(|e: fargate_core::InvalidValue| bad(e.to_string()))?,
        );
    }
    a.command = a.command.take().or_else(|| strings(&c["command"]));
    a.env = a.env.take().or_else(|| pairs(&c["environment"], "value"));
    a.secrets = a
        .secrets
        .take()
        .or_else(|| pairs(&c["secrets"], "valueFrom"));
    a.memory_reservation = a.memory_reservation.or(c["memoryReservation"]
        .as_u64()
        .and_then(|m| u32::try_from(m).ok()));
    if a.tags.is_none()
        && let Some(tags) = d["tags"].as_array()
    {
        a.tags = Some(
            tags.iter()
                .filter_map(|t| Some((t["key"].as_str()?.into(), t["value"].as_str()?.into())))
                .collect(),
        );
    }
    let mut replaced = vec!["family", "executionRoleArn"];
    match c["portMappings"].as_array().map(Vec::as_slice) {
        None | Some([]) => {}
        Some([_]) if a.kind == Some(Kind::Job) => {
            replaced.push("portMappings (a job serves no port)")
        }
        Some([p]) => {
            if a.port.is_none() {
                a.port = p["containerPort"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok());
            }
        }
        Some(_) => {
            return Err(refuse(
                "containerDefinitions[0].portMappings",
                "an app serves one port",
            ));
        }
    }
    let hc = &c["healthCheck"];
    if !hc.is_null() && a.health_check.is_none() {
        let defaults = hc["interval"] == 30
            && hc["timeout"] == 5
            && hc["retries"] == 3
            && hc["startPeriod"] == 0;
        match strings(&hc["command"]).as_deref() {
            Some([shell, cmd]) if shell == "CMD-SHELL" && defaults => {
                a.health_check = Some(cmd.clone());
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
    let name = a.name.as_deref().unwrap_or("?");
    if c["name"].as_str() != Some(name) {
        replaced.push("the container name");
    }
    Ok(vec![format!(
        "{at}: fargate-rs uses its own {} for app `{name}`",
        replaced.join(", ")
    )])
}
