//! The JSON Schema of the app file, generated from its types ([`super::AppFile`]), and the
//! field names each part of the file allows, read from it (for error messages).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use fargate_deploy::apps::ContainerServiceSpec;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use super::{AppFile, Kind};

/// Every subschema inline: each kind of app is one object listing all its fields, so
/// `additionalProperties: false` holds with the `kind` tag and the flattened service fields.
fn generate<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
}

/// The app file's JSON Schema.
pub fn app_file() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| generate::<AppFile>().to_value())
}

/// The schema as `fargate schema` prints it and `fargate-cli/app-file.schema.json` holds it.
pub fn pretty() -> String {
    serde_json::to_string_pretty(app_file()).unwrap_or_default()
}

/// Each app entry may also name an AWS CLI task definition, and an app with a service an AWS
/// CLI service definition, and a job an AWS CLI run-task document (see [`super::import`]): add them to the kinds' fields; `image` is then required only when there is none (the task
/// definition's container has one).
pub(super) fn with_task_definition(schema: &mut Schema) {
    let field = json!({
        "description": "An AWS CLI `register-task-definition --cli-input-json` file (relative to the app file) whose main container (named like the app, else the first essential one) fills the fields this entry does not give: image, cpu, memory, architecture, command, env, secrets, port, memory_reservation, a CMD-SHELL health_check, tags; its other containers become `sidecars`.",
        "type": "string"
    });
    let service = json!({
        "description": "An AWS CLI `create-service --cli-input-json` file (or a `describe-services` output), relative to the app file, whose settings fill the fields this entry does not give: desired_count, enable_exec, spot_weight, the rolling deployment's percentages and circuit breaker, health_check_grace_period (frontend, backend), tags. The cluster, network, name, task definition and load balancer are the environment's and the app's own.",
        "type": "string"
    });
    let run_task = json!({
        "description": "An AWS CLI `run-task --cli-input-json` file, relative to the app file, whose container override fills the fields this job does not give: job_env, job_command, tags. The cluster, network and task definition are the environment's and the job's own; one task, on-demand Fargate, no ECS Exec, no EBS volume.",
        "type": "string"
    });
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(variants)) = schema.get_mut(key) {
            for v in variants.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(Value::Object(props)) = v.get_mut("properties") {
                    // AWS makes an Express app's task definition and service settings.
                    let kind = props.get("kind").and_then(|k| k.get("const")).cloned();
                    if kind == Some(json!("express")) {
                        continue;
                    }
                    props.insert("task_definition".into(), field.clone());
                    let job = kind == Some(json!("job"));
                    if job {
                        props.insert("run_task_definition".into(), run_task.clone());
                    } else {
                        props.insert("service_definition".into(), service.clone());
                    }
                }
                let image = json!("image");
                if let Some(Value::Array(required)) = v.get_mut("required")
                    && required.contains(&image)
                {
                    required.retain(|r| *r != image);
                    v.insert(
                        "anyOf".into(),
                        json!([{"required": ["image"]}, {"required": ["task_definition"]}]),
                    );
                }
            }
        }
    }
}

fn keys(properties: Option<&Value>) -> BTreeSet<String> {
    properties
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The fields of the top level of the file.
pub fn file_fields() -> BTreeSet<String> {
    keys(app_file().get("properties"))
}

/// The properties of the schema of an app of `kind`.
fn properties_of(kind: Kind) -> Option<&'static Map<String, Value>> {
    let items = &app_file()["properties"]["apps"]["items"];
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| items.get(*k).and_then(Value::as_array))
        .flatten()
        .find(|v| {
            let tag = &v["properties"]["kind"];
            tag["const"] == kind.as_str() || tag["enum"] == json!([kind.as_str()])
        })
        .and_then(|v| v.get("properties"))
        .and_then(Value::as_object)
}

/// The fields an app of `kind` allows (`kind` and `task_definition` included).
pub fn fields_of(kind: Kind) -> BTreeSet<String> {
    properties_of(kind)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The fields of an app of `kind` (frontend, backend) that go to its flattened service
/// ([`ContainerServiceSpec`]): those of the service that `kind` does not redefine (serde
/// gives a field the outer spec declares itself, like `deployment`, to the outer spec).
pub fn service_fields_of(kind: Kind) -> BTreeSet<String> {
    static SERVICE: OnceLock<Value> = OnceLock::new();
    let service = SERVICE.get_or_init(|| generate::<ContainerServiceSpec>().to_value());
    let (Some(service), Some(app)) = (
        service.get("properties").and_then(Value::as_object),
        properties_of(kind),
    ) else {
        return BTreeSet::new();
    };
    service
        .iter()
        .filter(|(k, v)| app.get(*k) == Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}
