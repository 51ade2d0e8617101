//! `register-task-definition --cli-input-json` ↔ [`TaskDefinitionSpec`].

use std::time::Duration;

use fargate_core::{
    Architecture, EcsName, ImageRef, InvalidValue, LogGroupName, Ownership, Port, Ref, SecretRef,
    Tags, TaskSize,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CliJsonError, ImportReport, Shape, checked_value, lenient, non_negative, role_arn};
use crate::task_definition::{ContainerSpec, DependencyCondition, HealthCheck, TaskDefinitionSpec};

const DOCUMENT: &str = "register-task-definition";

const NAME_VALUE: Shape = Shape::Obj(&[("name", Shape::Leaf), ("value", Shape::Leaf)]);
const SECRET: Shape = Shape::Obj(&[("name", Shape::Leaf), ("valueFrom", Shape::Leaf)]);
const PORT: Shape = Shape::Obj(&[
    ("containerPort", Shape::Leaf),
    ("hostPort", Shape::Leaf),
    ("protocol", Shape::Leaf),
]);
const HEALTH: Shape = Shape::Obj(&[
    ("command", Shape::Leaf),
    ("interval", Shape::Leaf),
    ("timeout", Shape::Leaf),
    ("retries", Shape::Leaf),
    ("startPeriod", Shape::Leaf),
]);
const LOG: Shape = Shape::Obj(&[("logDriver", Shape::Leaf), ("options", Shape::Map)]);
const DEPENDS: Shape = Shape::Obj(&[("containerName", Shape::Leaf), ("condition", Shape::Leaf)]);
const CONTAINER: Shape = Shape::Obj(&[
    ("name", Shape::Leaf),
    ("image", Shape::Leaf),
    ("essential", Shape::Leaf),
    ("portMappings", Shape::List(&PORT)),
    ("environment", Shape::List(&NAME_VALUE)),
    ("secrets", Shape::List(&SECRET)),
    ("command", Shape::Leaf),
    ("entryPoint", Shape::Leaf),
    ("healthCheck", HEALTH),
    ("logConfiguration", LOG),
    ("stopTimeout", Shape::Leaf),
    ("readonlyRootFilesystem", Shape::Leaf),
    ("memoryReservation", Shape::Leaf),
    ("dependsOn", Shape::List(&DEPENDS)),
]);
const TAG: Shape = Shape::Obj(&[("key", Shape::Leaf), ("value", Shape::Leaf)]);
const TASK: Shape = Shape::Obj(&[
    ("family", Shape::Leaf),
    ("taskRoleArn", Shape::Leaf),
    ("executionRoleArn", Shape::Leaf),
    ("networkMode", Shape::Leaf),
    ("containerDefinitions", Shape::List(&CONTAINER)),
    ("requiresCompatibilities", Shape::Leaf),
    ("cpu", Shape::Leaf),
    ("memory", Shape::Leaf),
    (
        "runtimePlatform",
        Shape::Obj(&[
            ("cpuArchitecture", Shape::Leaf),
            ("operatingSystemFamily", Shape::Leaf),
        ]),
    ),
    (
        "ephemeralStorage",
        Shape::Obj(&[("sizeInGiB", Shape::Leaf)]),
    ),
    ("tags", Shape::List(&TAG)),
]);

const AWSLOGS_OPTIONS: [&str; 3] = ["awslogs-group", "awslogs-region", "awslogs-stream-prefix"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TaskJson {
    family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    execution_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_mode: Option<String>,
    container_definitions: Vec<ContainerJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requires_compatibilities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime_platform: Option<PlatformJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ephemeral_storage: Option<StorageJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContainerJson {
    name: String,
    image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    essential: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    port_mappings: Vec<PortJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    environment: Vec<NameValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry_point: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_check: Option<HealthJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_configuration: Option<LogJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    readonly_root_filesystem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory_reservation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<DependsJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PortJson {
    container_port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SecretJson {
    name: String,
    value_from: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HealthJson {
    command: Vec<String>,
    #[serde(default = "default_interval")]
    interval: i64,
    #[serde(default = "default_timeout")]
    timeout: i64,
    #[serde(default = "default_retries")]
    retries: i64,
    #[serde(default)]
    start_period: i64,
}

fn default_interval() -> i64 {
    30
}
fn default_timeout() -> i64 {
    5
}
fn default_retries() -> i64 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LogJson {
    log_driver: String,
    #[serde(default)]
    options: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DependsJson {
    container_name: String,
    condition: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlatformJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu_architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operating_system_family: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StorageJson {
    #[serde(rename = "sizeInGiB")]
    size_in_gib: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagJson {
    key: String,
    value: String,
}

/// A `register-task-definition --cli-input-json` document, checked (only supported fields)
/// and normalized (see the [module documentation](super)); compare two with `==`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinitionDocument {
    doc: TaskJson,
}

/// Import a `register-task-definition --cli-input-json` document as a task definition owned
/// by `ownership`.
///
/// # Errors
/// [`CliJsonError::Unsupported`] listing every unsupported or unknown field,
/// [`CliJsonError::Json`] for malformed JSON, [`CliJsonError::Invalid`] for an invalid value
/// (as [`TaskDefinitionDocument::to_spec`]).
pub fn import_task_definition(
    json: &str,
    ownership: Ownership,
) -> Result<TaskDefinitionSpec, CliJsonError> {
    TaskDefinitionDocument::from_json(json)?.to_spec(ownership)
}

/// [`import_task_definition`], with the [`ImportReport`]: every field ignored (no-op,
/// read-only, default) or value set differently, and credential-looking plain values.
///
/// ```
/// use fargate_deploy::cli_json::import_task_definition_with_report;
///
/// let json = r#"{ "taskDefinition": { "family": "web", "cpu": "256", "memory": "512",
///   "revision": 3, "status": "ACTIVE", "requiresCompatibilities": ["EC2", "FARGATE"],
///   "executionRoleArn": "arn:aws:iam::123456789012:role/web-exec",
///   "runtimePlatform": { "cpuArchitecture": "arm64" },
///   "containerDefinitions": [{ "name": "web", "image": "nginx:1.27" }] } }"#;
/// let owner = fargate_core::Ownership::new("prod".parse()?);
/// let (spec, report) = import_task_definition_with_report(json, owner)?;
/// assert_eq!(spec.family().as_str(), "web");
/// assert!(report.notes.iter().any(|n| n.starts_with("taskDefinition:")));
/// assert!(report.notes.iter().any(|n| n.contains("arm64 read as ARM64")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`import_task_definition`].
pub fn import_task_definition_with_report(
    json: &str,
    ownership: Ownership,
) -> Result<(TaskDefinitionSpec, ImportReport), CliJsonError> {
    let (doc, report) = TaskDefinitionDocument::from_json_with_report(json)?;
    Ok((doc.to_spec(ownership)?, report))
}

impl TaskDefinitionDocument {
    /// Parse, check and normalize a document.
    ///
    /// # Errors
    /// [`CliJsonError::Unsupported`] listing every unsupported or unknown field path (for
    /// example `volumes`, `containerDefinitions[0].linuxParameters`, `networkMode=bridge`),
    /// [`CliJsonError::Json`] for malformed JSON or a wrongly typed field,
    /// [`CliJsonError::Invalid`] when the library would reject a value (task size, names,
    /// image, secret reference, ranges, log configuration differing between containers).
    pub fn from_json(json: &str) -> Result<Self, CliJsonError> {
        Self::from_json_with_report(json).map(|(doc, _)| doc)
    }

    /// [`from_json`](Self::from_json), with the [`ImportReport`] of what was ignored,
    /// normalized or set differently, and of credential-looking plain values. Accepted and
    /// noted: empty or `null` fields, a container `cpu` of 0, the read-only fields of a
    /// describe output (and its `{"taskDefinition": …}` wrapper), `["EC2", "FARGATE"]`,
    /// `awslogs-create-group`, size strings (`"1 vCPU"`, `"0.5 vcpu"`, `"2 GB"`, `"512"`),
    /// lower-case `runtimePlatform` values.
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json).
    pub fn from_json_with_report(json: &str) -> Result<(Self, ImportReport), CliJsonError> {
        let mut report = ImportReport::default();
        let value = lenient::prepare_task(serde_json::from_str(json)?, &mut report);
        let value =
            checked_value(value, DOCUMENT, &TASK, unsupported_values).map_err(with_reasons)?;
        let doc: TaskJson = super::typed(value, DOCUMENT)?;
        let normalized = Self {
            doc: normalize(doc),
        };
        // Validate now, with the library's own rules.
        normalized.to_spec(Ownership::new("import".parse()?))?;
        if let Some(region) = normalized.log_region() {
            report.notes.push(format!(
                "containerDefinitions[].logConfiguration.options.awslogs-region: {region} is \
                 kept in the exported document, but the deployed task logs in the region of \
                 the clients that deploy it: deploy with clients in {region}"
            ));
        }
        Ok((normalized, report))
    }

    /// The normalized document, in the CLI JSON shape.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.doc).unwrap_or(Value::Null)
    }

    /// The family name.
    pub fn family(&self) -> &str {
        &self.doc.family
    }

    /// The region of the `awslogs` configuration, if the containers log with `awslogs`.
    pub fn log_region(&self) -> Option<&str> {
        self.doc
            .container_definitions
            .iter()
            .find_map(|c| c.log_configuration.as_ref())
            .and_then(|l| l.options.get("awslogs-region"))
            .map(String::as_str)
    }

    /// The task definition spec, owned by `ownership`; the document's tags are the user tags,
    /// the first container is the main one. The `awslogs-region` is not kept (the spec logs
    /// in the clients' region).
    ///
    /// # Errors
    /// [`CliJsonError::Invalid`] naming the field: missing `executionRoleArn`, `cpu` or
    /// `memory`; an invalid task size, family, image, port, secret reference, dependency
    /// condition or tag; log configurations that differ between containers (the library
    /// logs every container to one group); and anything [`crate::task_definition::TaskDefinitionBuilder::build`] rejects.
    pub fn to_spec(&self, ownership: Ownership) -> Result<TaskDefinitionSpec, CliJsonError> {
        let d = &self.doc;
        // Every invalid value of the document, reported together.
        let mut errors: Vec<InvalidValue> = Vec::new();
        let family: Option<EcsName> = keep(
            &mut errors,
            d.family
                .parse()
                .map_err(|e: InvalidValue| e.in_field("family")),
        );
        let cpu = keep(&mut errors, parse_units("cpu", d.cpu.as_deref()));
        let memory = keep(&mut errors, parse_units("memory", d.memory.as_deref()));
        let size = match (cpu, memory) {
            (Some(cpu), Some(memory)) => keep(&mut errors, TaskSize::new(cpu, memory)),
            _ => None,
        };
        let execution_role = keep(
            &mut errors,
            d.execution_role_arn.clone().ok_or_else(|| {
                InvalidValue::new(
                    "executionRoleArn",
                    "",
                    "missing",
                    "the ARN of the task execution role",
                )
            }),
        );
        if let Some(arn) = &execution_role {
            keep(&mut errors, role_arn("executionRoleArn", arn));
        }
        if let Some(arn) = &d.task_role_arn {
            keep(&mut errors, role_arn("taskRoleArn", arn));
        }
        let containers: Vec<ContainerSpec> = d
            .container_definitions
            .iter()
            .enumerate()
            .filter_map(|(i, c)| keep(&mut errors, container_spec(i, c)))
            .collect();
        if d.container_definitions.is_empty() {
            keep::<()>(
                &mut errors,
                Err(InvalidValue::new(
                    "containerDefinitions",
                    "[]",
                    "no container",
                    "at least one container definition",
                )),
            );
        }
        let architecture = d
            .runtime_platform
            .as_ref()
            .and_then(|p| p.cpu_architecture.as_deref())
            .and_then(|arch| {
                keep(
                    &mut errors,
                    match arch.to_uppercase().as_str() {
                        "ARM64" => Ok(Architecture::Arm64),
                        "X86_64" => Ok(Architecture::X86_64),
                        _ => Err(InvalidValue::new(
                            "runtimePlatform.cpuArchitecture",
                            arch,
                            "not a Fargate CPU architecture",
                            "X86_64 or ARM64 (any case)",
                        )),
                    },
                )
            });
        let storage = d.ephemeral_storage.as_ref().and_then(|s| {
            keep(
                &mut errors,
                non_negative("ephemeralStorage.sizeInGiB", s.size_in_gib),
            )
        });
        let logs = keep(&mut errors, shared_logs(&d.container_definitions)).flatten();
        let tags = if d.tags.is_empty() {
            None
        } else {
            keep(
                &mut errors,
                Tags::try_from_iter(d.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
                    .map_err(|e| e.in_field("tags")),
            )
        };
        let mut containers = containers.into_iter();
        let (Some(family), Some(size), Some(execution_role), Some(main), true) = (
            family,
            size,
            execution_role,
            containers.next(),
            errors.is_empty(),
        ) else {
            return Err(CliJsonError::from_invalid(errors));
        };
        let mut b =
            TaskDefinitionSpec::builder(family, ownership, size, Ref::Known(execution_role), main);
        for c in containers {
            b = b.sidecar(c);
        }
        if let Some(role) = &d.task_role_arn {
            b = b.task_role(Ref::Known(role.clone()));
        }
        if let Some(arch) = architecture {
            b = b.architecture(arch);
        }
        if let Some(gib) = storage {
            b = b.ephemeral_storage_gib(gib);
        }
        if let Some((group, prefix)) = logs {
            b = b.logs(group, prefix);
        }
        if let Some(tags) = tags {
            b = b.tags(tags);
        }
        Ok(b.build()?)
    }
}

/// Why each refused field is refused: a Fargate rule, or not supported (yet) by the library.
fn with_reasons(e: CliJsonError) -> CliJsonError {
    let CliJsonError::Unsupported {
        document,
        fields,
        mut hints,
    } = e
    else {
        return e;
    };
    for f in &fields {
        let why = if f.starts_with("networkMode=") {
            "Fargate rule: networkMode must be awsvpc"
        } else if f.starts_with("requiresCompatibilities") {
            "Fargate rule: the compatibilities must include FARGATE"
        } else if f.contains(".portMappings[") && f.contains(".hostPort=") {
            "Fargate rule: hostPort must equal containerPort (awsvpc)"
        } else if f.starts_with("runtimePlatform.operatingSystemFamily=") {
            "not supported yet: only LINUX"
        } else if f.contains(".protocol=") {
            "not supported yet: only tcp port mappings"
        } else if f.contains(".logDriver=") {
            "not supported yet: only the awslogs log driver"
        } else if f.contains(".logConfiguration.options.") {
            "not supported yet: only awslogs-group, awslogs-region, awslogs-stream-prefix and awslogs-create-group"
        } else if hints.iter().any(|h| h.starts_with(&format!("{f}:"))) {
            continue;
        } else {
            "not supported yet, or unknown"
        };
        hints.push(format!("{f}: {why}"));
    }
    hints.sort();
    CliJsonError::Unsupported {
        document,
        fields,
        hints,
    }
}

/// Supported fields with values the library does not support.
fn unsupported_values(v: &Value, out: &mut Vec<String>) {
    if let Some(mode) = v.get("networkMode").and_then(Value::as_str)
        && mode != "awsvpc"
    {
        out.push(format!("networkMode={mode}"));
    }
    if let Some(list) = v.get("requiresCompatibilities").and_then(Value::as_array) {
        for (i, c) in list.iter().enumerate() {
            if c.as_str() != Some("FARGATE") {
                out.push(format!("requiresCompatibilities[{i}]={c}"));
            }
        }
    }
    if let Some(os) = v
        .pointer("/runtimePlatform/operatingSystemFamily")
        .and_then(Value::as_str)
        && os != "LINUX"
    {
        out.push(format!("runtimePlatform.operatingSystemFamily={os}"));
    }
    let containers = v
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, c) in containers.iter().enumerate() {
        let p = format!("containerDefinitions[{i}]");
        let ports = c
            .get("portMappings")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (j, m) in ports.iter().enumerate() {
            if let Some(proto) = m.get("protocol").and_then(Value::as_str)
                && proto != "tcp"
            {
                out.push(format!("{p}.portMappings[{j}].protocol={proto}"));
            }
            if let (Some(host), Some(container)) = (
                m.get("hostPort").and_then(Value::as_i64),
                m.get("containerPort").and_then(Value::as_i64),
            ) && host != container
            {
                out.push(format!("{p}.portMappings[{j}].hostPort={host}"));
            }
        }
        if let Some(log) = c.get("logConfiguration") {
            if let Some(driver) = log.get("logDriver").and_then(Value::as_str)
                && driver != "awslogs"
            {
                out.push(format!("{p}.logConfiguration.logDriver={driver}"));
            }
            if let Some(options) = log.get("options").and_then(Value::as_object) {
                for key in options.keys() {
                    if !AWSLOGS_OPTIONS.contains(&key.as_str()) {
                        out.push(format!("{p}.logConfiguration.options.{key}"));
                    }
                }
            }
        }
    }
}

/// Fill in defaults and sort what the library keeps sorted.
fn normalize(mut d: TaskJson) -> TaskJson {
    d.network_mode = Some("awsvpc".to_string());
    d.requires_compatibilities = Some(vec!["FARGATE".to_string()]);
    let platform = d.runtime_platform.get_or_insert(PlatformJson {
        cpu_architecture: None,
        operating_system_family: None,
    });
    platform
        .cpu_architecture
        .get_or_insert_with(|| "X86_64".to_string());
    platform
        .operating_system_family
        .get_or_insert_with(|| "LINUX".to_string());
    d.tags.sort_by(|a, b| a.key.cmp(&b.key));
    for c in &mut d.container_definitions {
        c.essential = Some(c.essential.unwrap_or(true));
        for p in &mut c.port_mappings {
            p.host_port = Some(p.container_port);
            p.protocol = Some("tcp".to_string());
        }
        c.environment.sort_by(|a, b| a.name.cmp(&b.name));
        c.secrets.sort_by(|a, b| a.name.cmp(&b.name));
        if c.readonly_root_filesystem == Some(false) {
            c.readonly_root_filesystem = None;
        }
        if c.command.as_ref().is_some_and(Vec::is_empty) {
            c.command = None;
        }
        if c.entry_point.as_ref().is_some_and(Vec::is_empty) {
            c.entry_point = None;
        }
    }
    d
}

/// The value of `r`, or `None` with its error added to `errors`.
fn keep<T>(errors: &mut Vec<InvalidValue>, r: Result<T, InvalidValue>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn parse_units(field: &str, s: Option<&str>) -> Result<u32, InvalidValue> {
    let s = s.ok_or_else(|| {
        InvalidValue::new(
            field,
            "",
            "missing (Fargate needs a task-level size)",
            "a number as a string, for example \"512\"",
        )
    })?;
    s.trim().parse().map_err(|_| {
        InvalidValue::new(
            field,
            s,
            "not a whole number",
            "CPU units or MiB as a string, for example \"512\"",
        )
    })
}

fn container_spec(i: usize, c: &ContainerJson) -> Result<ContainerSpec, InvalidValue> {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    let image: ImageRef = c
        .image
        .parse()
        .map_err(|e: InvalidValue| e.in_field(field("image")))?;
    let mut spec = ContainerSpec::new(c.name.clone(), image).essential(c.essential.unwrap_or(true));
    for (j, p) in c.port_mappings.iter().enumerate() {
        let f = field(&format!("portMappings[{j}].containerPort"));
        let n = u16::try_from(p.container_port).map_err(|_| {
            InvalidValue::new(&f, p.container_port.to_string(), "not a port", "1 to 65535")
        })?;
        spec = spec.port(Port::new(n).map_err(|e| e.in_field(f))?);
    }
    for kv in &c.environment {
        spec = spec.env(&kv.name, kv.value.clone());
    }
    for s in &c.secrets {
        let secret: SecretRef = s
            .value_from
            .parse()
            .map_err(|e: InvalidValue| e.in_field(field(&format!("secrets.{}", s.name))))?;
        spec = spec.secret(&s.name, secret);
    }
    if let Some(cmd) = &c.command {
        spec = spec.command(cmd.clone());
    }
    if let Some(ep) = &c.entry_point {
        spec = spec.entry_point(ep.clone());
    }
    if let Some(h) = &c.health_check {
        let secs = |name: &str, n: i64| {
            non_negative(&field(&format!("healthCheck.{name}")), n)
                .map(|n| Duration::from_secs(u64::from(n)))
        };
        spec = spec.health_check(
            HealthCheck::exec(h.command.clone())
                .interval(secs("interval", h.interval)?)
                .timeout(secs("timeout", h.timeout)?)
                .retries(non_negative(&field("healthCheck.retries"), h.retries)?)
                .start_period(secs("startPeriod", h.start_period)?),
        );
    }
    if let Some(t) = c.stop_timeout {
        spec = spec.stop_timeout(Duration::from_secs(u64::from(non_negative(
            &field("stopTimeout"),
            t,
        )?)));
    }
    if let Some(ro) = c.readonly_root_filesystem {
        spec = spec.readonly_root_filesystem(ro);
    }
    if let Some(mib) = c.memory_reservation {
        spec = spec.memory_reservation_mib(non_negative(&field("memoryReservation"), mib)?);
    }
    for d in &c.depends_on {
        let condition = match d.condition.as_str() {
            "START" => DependencyCondition::Start,
            "COMPLETE" => DependencyCondition::Complete,
            "SUCCESS" => DependencyCondition::Success,
            "HEALTHY" => DependencyCondition::Healthy,
            other => {
                return Err(InvalidValue::new(
                    field("dependsOn.condition"),
                    other,
                    "unknown condition",
                    "START, COMPLETE, SUCCESS or HEALTHY",
                ));
            }
        };
        spec = spec.depends_on(d.container_name.clone(), condition);
    }
    Ok(spec)
}

/// The one awslogs group and stream prefix all containers use (the library configures logging
/// per task), or none when no container logs.
fn shared_logs(
    containers: &[ContainerJson],
) -> Result<Option<(LogGroupName, String)>, InvalidValue> {
    let first = containers
        .first()
        .and_then(|c| c.log_configuration.as_ref());
    if containers
        .iter()
        .any(|c| c.log_configuration.as_ref() != first)
    {
        return Err(InvalidValue::new(
            "containerDefinitions[].logConfiguration",
            "differs between containers",
            "every container logs to the same awslogs group and stream prefix here",
            "the same logConfiguration in every container, or none",
        ));
    }
    let Some(log) = first else {
        return Ok(None);
    };
    let option = |key: &str| {
        log.options.get(key).cloned().ok_or_else(|| {
            InvalidValue::new(
                format!("containerDefinitions[0].logConfiguration.options.{key}"),
                "",
                "missing",
                "awslogs-group, awslogs-region and awslogs-stream-prefix",
            )
        })
    };
    let group: LogGroupName = option("awslogs-group")?
        .parse()
        .map_err(|e: InvalidValue| {
            e.in_field("containerDefinitions[0].logConfiguration.options.awslogs-group")
        })?;
    option("awslogs-region")?;
    Ok(Some((group, option("awslogs-stream-prefix")?)))
}
