//! `run-task --overrides` ↔ `Vec<ContainerOverride>`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{CliJsonError, Shape, checked, non_negative};
use crate::run_task::ContainerOverride;

const DOCUMENT: &str = "run-task overrides";

const NAME_VALUE: Shape = Shape::Obj(&[("name", Shape::Leaf), ("value", Shape::Leaf)]);
const CONTAINER: Shape = Shape::Obj(&[
    ("name", Shape::Leaf),
    ("environment", Shape::List(&NAME_VALUE)),
    ("command", Shape::Leaf),
    ("cpu", Shape::Leaf),
    ("memory", Shape::Leaf),
]);
const OVERRIDES: Shape = Shape::Obj(&[("containerOverrides", Shape::List(&CONTAINER))]);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OverridesJson {
    #[serde(default)]
    container_overrides: Vec<ContainerJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerJson {
    name: String,
    #[serde(default)]
    environment: Vec<NameValue>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    cpu: Option<i64>,
    #[serde(default)]
    memory: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameValue {
    name: String,
    value: String,
}

/// Import a `run-task --overrides` document (`{"containerOverrides": [...]}`).
///
/// # Errors
/// [`CliJsonError::Unsupported`] listing every unsupported or unknown field (task-level `cpu`,
/// `memory`, `taskRoleArn`, `ephemeralStorage`, container `environmentFiles`,
/// `resourceRequirements`, …), [`CliJsonError::Json`] for malformed JSON,
/// [`CliJsonError::Invalid`] as [`ContainerOverride::validate`].
pub fn import_overrides(json: &str) -> Result<Vec<ContainerOverride>, CliJsonError> {
    let value = checked(json, DOCUMENT, &OVERRIDES, |_, _| {})?;
    let doc: OverridesJson = super::typed(value, DOCUMENT)?;
    doc.container_overrides
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |f: &str| format!("containerOverrides[{i}].{f}");
            let mut o = ContainerOverride::new(c.name)?;
            for kv in c.environment {
                o = o.env(kv.name, kv.value)?;
            }
            if let Some(cmd) = c.command {
                o = o.command(cmd);
            }
            if let Some(cpu) = c.cpu {
                o = o.cpu(non_negative(&field("cpu"), cpu)?)?;
            }
            if let Some(memory) = c.memory {
                o = o.memory(non_negative(&field("memory"), memory)?)?;
            }
            Ok(o)
        })
        .collect()
}

/// The overrides as a `run-task --overrides` document (environment sorted by name, empty
/// environment omitted).
pub fn export_overrides(overrides: &[ContainerOverride]) -> Value {
    let list: Vec<Value> = overrides.iter().map(ContainerOverride::to_json).collect();
    json!({ "containerOverrides": list })
}
