//! `register-task-definition --cli-input-json` ↔ [`TaskDefinitionSpec`].

use std::time::Duration;

use fargate_core::{
    Architecture, EcsName, ImageRef, InvalidValue, LogGroupName, Ownership, Port, Ref, SecretRef,
    Tags, TaskSize,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CliJsonError, ImportReport, Shape, checked_value, lenient, non_negative, role_arn};
use crate::task_definition::linux::{self, Ulimit};
use crate::task_definition::volume;
use crate::task_definition::{
    ContainerSpec, DependencyCondition, EfsVolume, HealthCheck, TaskDefinitionSpec,
};

const DOCUMENT: &str = "register-task-definition";

const NAME_VALUE: Shape = Shape::Obj(&[("name", Shape::Leaf), ("value", Shape::Leaf)]);
const SECRET: Shape = Shape::Obj(&[("name", Shape::Leaf), ("valueFrom", Shape::Leaf)]);
const PORT: Shape = Shape::Obj(&[
    ("containerPort", Shape::Leaf),
    ("hostPort", Shape::Leaf),
    ("protocol", Shape::Leaf),
    ("name", Shape::Leaf),
    ("appProtocol", Shape::Leaf),
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
/// The `linuxParameters` Fargate refuses: listed in the shape, so that they are refused with
/// the Fargate rule rather than as unknown fields.
const FARGATE_UNSUPPORTED_LINUX: [&str; 5] = [
    "devices",
    "tmpfs",
    "sharedMemorySize",
    "maxSwap",
    "swappiness",
];
const LINUX: Shape = Shape::Obj(&[
    ("initProcessEnabled", Shape::Leaf),
    (
        "capabilities",
        Shape::Obj(&[("add", Shape::Leaf), ("drop", Shape::Leaf)]),
    ),
    ("devices", Shape::Leaf),
    ("tmpfs", Shape::Leaf),
    ("sharedMemorySize", Shape::Leaf),
    ("maxSwap", Shape::Leaf),
    ("swappiness", Shape::Leaf),
]);
const ULIMIT: Shape = Shape::Obj(&[
    ("name", Shape::Leaf),
    ("softLimit", Shape::Leaf),
    ("hardLimit", Shape::Leaf),
]);
const MOUNT: Shape = Shape::Obj(&[
    ("sourceVolume", Shape::Leaf),
    ("containerPath", Shape::Leaf),
    ("readOnly", Shape::Leaf),
]);
const VOLUME_FROM: Shape =
    Shape::Obj(&[("sourceContainer", Shape::Leaf), ("readOnly", Shape::Leaf)]);
/// The volume kinds other than bind mounts and EFS volumes, each refused with its reason.
const OTHER_VOLUMES: [(&str, &str); 3] = [
    (
        "dockerVolumeConfiguration",
        "Fargate rule: Fargate does not support Docker volumes; use a bind mount volume (a name \
         alone)",
    ),
    (
        "fsxWindowsFileServerVolumeConfiguration",
        "not supported yet: FSx for Windows File Server volumes (Windows tasks only)",
    ),
    (
        "s3filesVolumeConfiguration",
        "not supported yet: S3 Files volumes",
    ),
];
const EFS: Shape = Shape::Obj(&[
    ("fileSystemId", Shape::Leaf),
    ("rootDirectory", Shape::Leaf),
    ("transitEncryption", Shape::Leaf),
    ("transitEncryptionPort", Shape::Leaf),
    (
        "authorizationConfig",
        Shape::Obj(&[("accessPointId", Shape::Leaf), ("iam", Shape::Leaf)]),
    ),
]);
const VOLUME: Shape = Shape::Obj(&[
    ("name", Shape::Leaf),
    ("host", Shape::Obj(&[("sourcePath", Shape::Leaf)])),
    ("efsVolumeConfiguration", EFS),
    ("dockerVolumeConfiguration", Shape::Leaf),
    ("fsxWindowsFileServerVolumeConfiguration", Shape::Leaf),
    ("s3filesVolumeConfiguration", Shape::Leaf),
    ("configuredAtLaunch", Shape::Leaf),
]);
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
    ("cpu", Shape::Leaf),
    ("memory", Shape::Leaf),
    ("linuxParameters", LINUX),
    ("ulimits", Shape::List(&ULIMIT)),
    ("mountPoints", Shape::List(&MOUNT)),
    ("volumesFrom", Shape::List(&VOLUME_FROM)),
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
    ("volumes", Shape::List(&VOLUME)),
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
    volumes: Vec<VolumeJson>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    linux_parameters: Option<LinuxJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ulimits: Vec<UlimitJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mount_points: Vec<MountJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    volumes_from: Vec<VolumeFromJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<DependsJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LinuxJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    init_process_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capabilities: Option<CapabilitiesJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapabilitiesJson {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    drop: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UlimitJson {
    name: String,
    soft_limit: i64,
    hard_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MountJson {
    source_volume: String,
    container_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VolumeFromJson {
    source_container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
}

/// A bind mount volume, an EFS volume, or a volume configured at launch (a managed EBS
/// volume whose configuration the service or the run gives); the other kinds are refused
/// before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VolumeJson {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    efs_volume_configuration: Option<EfsJson>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    configured_at_launch: bool,
}

/// An `efsVolumeConfiguration` (without `transitEncryptionPort`, refused before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EfsJson {
    file_system_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transit_encryption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_config: Option<EfsAuthJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EfsAuthJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_point_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iam: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PortJson {
    container_port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_protocol: Option<String>,
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
    /// example `placementConstraints`, `volumes[0].fsxWindowsFileServerVolumeConfiguration`,
    /// `containerDefinitions[0].linuxParameters.devices`, `networkMode=bridge`), each with its
    /// reason (a Fargate rule, or not supported yet) in `hints`,
    /// [`CliJsonError::Json`] for malformed JSON or a wrongly typed field,
    /// [`CliJsonError::Invalid`] when the library would reject a value (task size, names,
    /// image, secret reference, ranges, log configuration differing between containers, the
    /// Fargate rules on container cpu and memory, capabilities and ulimits, mounts of unknown
    /// volumes or containers).
    ///
    /// Supported beyond the basics: container `cpu` and `memory`, `linuxParameters`
    /// (`initProcessEnabled`, `capabilities`), `ulimits`, bind mount `volumes` (a name alone,
    /// or `host: {}`) and EFS `volumes` (`efsVolumeConfiguration` on an existing file system:
    /// `fileSystemId`, `rootDirectory`, `transitEncryption`, `authorizationConfig`; see
    /// [`crate::task_definition::EfsVolume`]) with `mountPoints` and `volumesFrom`, and no
    /// `executionRoleArn` when no container needs one.
    ///
    /// ```
    /// use fargate_deploy::cli_json::TaskDefinitionDocument;
    ///
    /// let json = r#"{ "family": "app", "cpu": "512", "memory": "1024",
    ///   "volumes": [{ "name": "scratch", "host": {} }],
    ///   "containerDefinitions": [
    ///     { "name": "app", "image": "nginx:1.27", "cpu": 384, "memory": 768,
    ///       "linuxParameters": { "initProcessEnabled": true },
    ///       "ulimits": [{ "name": "nofile", "softLimit": 65535, "hardLimit": 65535 }],
    ///       "mountPoints": [{ "sourceVolume": "scratch", "containerPath": "/scratch" }] },
    ///     { "name": "sidecar", "image": "busybox:1.36", "essential": false, "cpu": 128,
    ///       "volumesFrom": [{ "sourceContainer": "app", "readOnly": true }] } ] }"#;
    /// let (doc, report) = TaskDefinitionDocument::from_json_with_report(json)?;
    /// assert_eq!(doc.to_json()["volumes"], serde_json::json!([{ "name": "scratch" }]));
    /// assert!(report.notes.iter().any(|n| n.starts_with("executionRoleArn: absent")));
    /// # Ok::<(), fargate_deploy::cli_json::CliJsonError>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, CliJsonError> {
        Self::from_json_with_report(json).map(|(doc, _)| doc)
    }

    /// [`from_json`](Self::from_json), with the [`ImportReport`] of what was ignored,
    /// normalized or set differently, and of credential-looking plain values. Accepted and
    /// noted: empty or `null` fields (`host: {}` of a bind mount volume), a container `cpu`
    /// of 0, `initProcessEnabled: false`, `configuredAtLaunch: false`, the read-only fields of
    /// a describe output (and its `{"taskDefinition": …}` wrapper), `["EC2", "FARGATE"]`,
    /// `awslogs-create-group`, size strings (`"1 vCPU"`, `"0.5 vcpu"`, `"2 GB"`, `"512"`),
    /// lower-case `runtimePlatform` values, and a missing `executionRoleArn` no container
    /// needs (registered without one).
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json).
    pub fn from_json_with_report(json: &str) -> Result<(Self, ImportReport), CliJsonError> {
        Self::from_value_with_report(serde_json::from_str(json)?)
    }

    /// The document of a task definition built with the library's builders, in the AWS CLI's
    /// `register-task-definition --cli-input-json` shape, normalized like an imported one:
    /// importing it (with the same ownership) gives back an equal spec. The log
    /// configuration's `awslogs-region` is `region`; the tags are the user tags (the import
    /// adds the ownership tags again).
    ///
    /// ```
    /// use fargate_core::{Ownership, Ref, TaskSize};
    /// use fargate_deploy::cli_json::{TaskDefinitionDocument, import_task_definition};
    /// use fargate_deploy::task_definition::{ContainerSpec, TaskDefinitionSpec};
    ///
    /// let owner = Ownership::new("prod".parse()?);
    /// let app = ContainerSpec::new("app", "nginx:1.27".parse()?).cpu_units(256).ulimit("nofile", 65535, 65535);
    /// let exec = Ref::Known("arn:aws:iam::123456789012:role/app-exec".to_string());
    /// let spec = TaskDefinitionSpec::builder("app".parse()?, owner.clone(), TaskSize::new(512, 1024)?, exec, app)
    ///     .logs("/ecs/prod/app".parse()?, "app")
    ///     .build()?;
    /// let doc = TaskDefinitionDocument::from_spec(&spec, "eu-west-1")?;
    /// assert_eq!(doc.to_json()["containerDefinitions"][0]["cpu"], 256);
    /// let again = import_task_definition(&doc.to_json().to_string(), owner)?;
    /// assert_eq!(again.desired_fields("eu-west-1"), spec.desired_fields("eu-west-1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`CliJsonError::Invalid`] naming `execution_role` or `task_role` when a role is the
    /// output of another step (`Ref::Output`, known only after apply).
    pub fn from_spec(spec: &TaskDefinitionSpec, region: &str) -> Result<Self, CliJsonError> {
        Self::from_value_with_report(spec.cli_json(region)?).map(|(doc, _)| doc)
    }

    fn from_value_with_report(value: Value) -> Result<(Self, ImportReport), CliJsonError> {
        let mut report = ImportReport::default();
        let value = lenient::prepare_task(value, &mut report);
        let value =
            checked_value(value, DOCUMENT, &TASK, unsupported_values).map_err(with_reasons)?;
        let doc: TaskJson = super::typed(value, DOCUMENT)?;
        // Validate now, with the library's own rules, before normalizing: list indexes in
        // the errors (`mountPoints[1]`) are the document's, not those of the sorted lists.
        let given = Self { doc };
        given.to_spec(Ownership::new("import".parse()?))?;
        let normalized = Self {
            doc: normalize(given.doc),
        };
        if normalized.doc.execution_role_arn.is_none() {
            report.notes.push(
                "executionRoleArn: absent, and no container needs one (no awslogs \
                 logConfiguration, no secrets, no private ECR image): the spec registers the \
                 task definition without an execution role; the app builders (and an app \
                 file's task_definition) always create their own execution role and use it \
                 instead"
                    .to_string(),
            );
        }
        if let Some(region) = normalized.log_region() {
            report.notes.push(format!(
                "containerDefinitions[].logConfiguration.options.awslogs-region: {region} is \
                 kept in the exported document, but the deployed task logs in the region of \
                 the clients that deploy it: deploy with clients in {region}"
            ));
        }
        Ok((normalized, report))
    }

    /// The normalized document, in the CLI JSON shape: beyond the
    /// [module's normalizations](super), a container `cpu` of 0, `initProcessEnabled: false`
    /// and `readOnly: false` are omitted, capabilities, `ulimits` (by name), `mountPoints`,
    /// `volumesFrom` and `volumes` are sorted, and a bind mount volume is `{"name": …}`.
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
    /// [`CliJsonError::Invalid`] (or [`CliJsonError::InvalidValues`], every one of them)
    /// naming the field: missing `cpu` or `memory`; a missing `executionRoleArn` that a
    /// container needs (the reason names the container field: an awslogs
    /// `logConfiguration`, `secrets`, a private ECR `image`); an invalid task size, family,
    /// image, port, secret reference, dependency condition or tag; container `cpu` adding up
    /// to more than the task's, a container `memory` outside 6 MiB to the task's or below its
    /// `memoryReservation`; a capability other than `SYS_PTRACE` added, an unknown capability
    /// or ulimit name, a ulimit soft limit above its hard limit (or `nofile` above 1048576); a
    /// mount of an unknown volume or a relative path, `volumesFrom` an unknown container; an
    /// invalid EFS volume (`volumes[0].efsVolumeConfiguration.fileSystemId`, `rootDirectory`,
    /// `transitEncryption`, `authorizationConfig.accessPointId` or `.iam`: the ids, an
    /// absolute path, `ENABLED`/`DISABLED`, and ECS's rules on access points and transit
    /// encryption);
    /// log configurations that differ between containers (the library logs every container
    /// to one group); and anything [`crate::task_definition::TaskDefinitionBuilder::build`] rejects.
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
        let execution_role = d.execution_role_arn.clone();
        match &execution_role {
            Some(arn) => {
                keep(&mut errors, role_arn("executionRoleArn", arn));
            }
            None => {
                let needs = execution_role_needs(&d.container_definitions);
                if !needs.is_empty() {
                    errors.push(crate::task_definition::missing_execution_role(
                        "executionRoleArn",
                        "",
                        &needs,
                        "the ARN of the task execution role, or no awslogs logConfiguration, \
                         secrets or private ECR image",
                    ));
                }
            }
        }
        if let Some(arn) = &d.task_role_arn {
            keep(&mut errors, role_arn("taskRoleArn", arn));
        }
        let volumes = keep(&mut errors, volume_specs(&d.volumes))
            .map(|vs| {
                vs.into_iter()
                    .map(|(name, efs)| (name, efs.and_then(|e| keep(&mut errors, e))))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let at_launch: Vec<&str> = d
            .volumes
            .iter()
            .filter(|v| v.configured_at_launch)
            .map(|v| v.name.as_str())
            .collect();
        let volume_names: Vec<String> = volumes.iter().map(|(n, _)| n.clone()).collect();
        let names: Vec<&str> = d
            .container_definitions
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let mut containers: Vec<ContainerSpec> = Vec::new();
        for (i, c) in d.container_definitions.iter().enumerate() {
            let spec = keep(&mut errors, container_spec(i, c));
            container_checks(i, c, size, &volume_names, &names, &mut errors);
            containers.extend(spec);
        }
        if let Some(size) = size {
            let cpu: i64 = d.container_definitions.iter().filter_map(|c| c.cpu).sum();
            if cpu > i64::from(size.cpu()) {
                errors.push(InvalidValue::new(
                    "containerDefinitions[].cpu",
                    cpu.to_string(),
                    "Fargate rule: the containers' cpu add up to more than the task's cpu",
                    format!("at most {} CPU units in total", size.cpu()),
                ));
            }
        }
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
        let (Some(family), Some(size), Some(main), true) =
            (family, size, containers.next(), errors.is_empty())
        else {
            return Err(CliJsonError::from_invalid(errors));
        };
        let mut b = match execution_role {
            Some(role) => {
                TaskDefinitionSpec::builder(family, ownership, size, Ref::Known(role), main)
            }
            None => {
                TaskDefinitionSpec::builder_without_execution_role(family, ownership, size, main)
            }
        };
        for c in containers {
            b = b.sidecar(c);
        }
        for (name, efs) in volumes {
            b = match efs {
                Some(efs) => b.efs_volume(name, efs),
                None if at_launch.contains(&name.as_str()) => b.configured_at_launch_volume(name),
                None => b.volume(name),
            };
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
        } else if f.contains(".portMappings[") && f.ends_with(".appProtocol") {
            "an appProtocol is used by Service Connect, on a named port mapping: give the mapping a name"
        } else if f.contains(".logDriver=") {
            "not supported yet: only the awslogs log driver"
        } else if f.contains(".logConfiguration.options.") {
            "not supported yet: only awslogs-group, awslogs-region, awslogs-stream-prefix and awslogs-create-group"
        } else if let Some(name) = f
            .rsplit_once(".linuxParameters.")
            .map(|(_, name)| name)
            .filter(|name| FARGATE_UNSUPPORTED_LINUX.contains(name))
        {
            hints.push(format!(
                "{f}: Fargate rule: Fargate does not support linuxParameters.{name}"
            ));
            continue;
        } else if f.starts_with("volumes[") && f.ends_with(".host.sourcePath") {
            "Fargate rule: Fargate has no host paths (host.sourcePath); a bind mount volume is a \
             name alone (or host {}), on the task's ephemeral storage"
        } else if f.starts_with("volumes[")
            && f.ends_with(".efsVolumeConfiguration.transitEncryptionPort")
        {
            "not supported yet: transitEncryptionPort (ECS picks the port of the EFS mount \
             helper when it is absent)"
        } else if let Some((_, why)) = OTHER_VOLUMES
            .iter()
            .find(|(kind, _)| f.starts_with("volumes[") && f.ends_with(&format!(".{kind}")))
        {
            why
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
    let volumes = v
        .get("volumes")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, volume) in volumes.iter().enumerate() {
        let p = format!("volumes[{i}]");
        if volume.pointer("/host/sourcePath").is_some() {
            out.push(format!("{p}.host.sourcePath"));
        }
        for (kind, _) in OTHER_VOLUMES {
            if volume.get(kind).is_some() {
                out.push(format!("{p}.{kind}"));
            }
        }
        if volume
            .pointer("/efsVolumeConfiguration/transitEncryptionPort")
            .is_some()
        {
            out.push(format!("{p}.efsVolumeConfiguration.transitEncryptionPort"));
        }
    }
    let containers = v
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, c) in containers.iter().enumerate() {
        let p = format!("containerDefinitions[{i}]");
        if let Some(linux) = c.get("linuxParameters") {
            for name in FARGATE_UNSUPPORTED_LINUX {
                if linux.get(name).is_some() {
                    out.push(format!("{p}.linuxParameters.{name}"));
                }
            }
        }
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
            if m.get("appProtocol").is_some() && m.get("name").is_none() {
                out.push(format!("{p}.portMappings[{j}].appProtocol"));
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
        if c.cpu == Some(0) {
            c.cpu = None;
        }
        if let Some(linux) = &mut c.linux_parameters {
            if linux.init_process_enabled == Some(false) {
                linux.init_process_enabled = None;
            }
            if let Some(caps) = &mut linux.capabilities {
                for list in [&mut caps.add, &mut caps.drop] {
                    list.sort();
                    list.dedup();
                }
                if caps.add.is_empty() && caps.drop.is_empty() {
                    linux.capabilities = None;
                }
            }
            if linux.init_process_enabled.is_none() && linux.capabilities.is_none() {
                c.linux_parameters = None;
            }
        }
        c.ulimits.sort_by(|a, b| a.name.cmp(&b.name));
        for m in &mut c.mount_points {
            if m.read_only == Some(false) {
                m.read_only = None;
            }
        }
        c.mount_points.sort_by(|a, b| {
            (&a.source_volume, &a.container_path).cmp(&(&b.source_volume, &b.container_path))
        });
        for v in &mut c.volumes_from {
            if v.read_only == Some(false) {
                v.read_only = None;
            }
        }
        c.volumes_from
            .sort_by(|a, b| a.source_container.cmp(&b.source_container));
    }
    for v in &mut d.volumes {
        if let Some(efs) = &mut v.efs_volume_configuration {
            normalize_efs(efs);
        }
    }
    d.volumes.sort_by(|a, b| a.name.cmp(&b.name));
    d
}

/// ECS's defaults of an `efsVolumeConfiguration` written out (`rootDirectory` `/`,
/// `transitEncryption` and `iam` `DISABLED`), and no `authorizationConfig` that sets nothing:
/// the shape [`crate::task_definition::EfsVolume`] exports.
fn normalize_efs(efs: &mut EfsJson) {
    if efs.root_directory.as_deref().is_none_or(str::is_empty) {
        efs.root_directory = Some("/".to_string());
    }
    efs.transit_encryption
        .get_or_insert_with(|| "DISABLED".to_string());
    if let Some(auth) = &mut efs.authorization_config {
        auth.iam.get_or_insert_with(|| "DISABLED".to_string());
        if auth.access_point_id.is_none() && auth.iam.as_deref() == Some("DISABLED") {
            efs.authorization_config = None;
        }
    }
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
        let port = Port::new(n).map_err(|e| e.in_field(f))?;
        spec = spec.port(port);
        if let Some(name) = &p.name {
            // Service Connect's port mapping name and application protocol.
            let app = p
                .app_protocol
                .as_deref()
                .map(|a| {
                    crate::service_connect::AppProtocol::parse(a).ok_or_else(|| {
                        InvalidValue::new(
                            field(&format!("portMappings[{j}].appProtocol")),
                            a,
                            "not an application protocol",
                            "http, http2 or grpc",
                        )
                    })
                })
                .transpose()?;
            spec = spec.port_name(port, name, app.map(|a| a.as_str()));
        }
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
    // Container cpu, memory, ulimits: their values are checked by `container_checks`.
    if let Some(units) = c.cpu {
        spec = spec.cpu_units(u32::try_from(units).unwrap_or(0));
    }
    if let Some(mib) = c.memory {
        spec = spec.memory_mib(u32::try_from(mib).unwrap_or(0));
    }
    if let Some(linux) = &c.linux_parameters {
        if let Some(init) = linux.init_process_enabled {
            spec = spec.init_process_enabled(init);
        }
        for cap in linux.capabilities.iter().flat_map(|caps| &caps.add) {
            spec = spec.add_capability(cap.clone());
        }
        for cap in linux.capabilities.iter().flat_map(|caps| &caps.drop) {
            spec = spec.drop_capability(cap.clone());
        }
    }
    for u in &c.ulimits {
        let limit = |n: i64| u32::try_from(n).unwrap_or(0);
        spec = spec.ulimit(u.name.clone(), limit(u.soft_limit), limit(u.hard_limit));
    }
    for m in &c.mount_points {
        spec = spec.mount(
            m.source_volume.clone(),
            m.container_path.clone(),
            m.read_only.unwrap_or(false),
        );
    }
    for v in &c.volumes_from {
        spec = spec.volumes_from(v.source_container.clone(), v.read_only.unwrap_or(false));
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

/// The container fields that need a task execution role, as document paths.
fn execution_role_needs(containers: &[ContainerJson]) -> Vec<String> {
    let mut needs = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let p = format!("containerDefinitions[{i}]");
        if c.log_configuration.is_some() {
            needs.push(format!("{p}.logConfiguration (awslogs)"));
        }
        if !c.secrets.is_empty() {
            needs.push(format!("{p}.secrets"));
        }
        if c.image.parse::<ImageRef>().is_ok_and(|i| i.is_ecr()) {
            needs.push(format!("{p}.image (a private ECR image)"));
        }
    }
    needs
}

/// The bind mount volumes' names, each valid and once.
/// `ENABLED` as true, `DISABLED` (or absent, ECS's default) as false.
fn enabled(field: String, value: Option<&str>) -> Result<bool, InvalidValue> {
    match value {
        None | Some("DISABLED") => Ok(false),
        Some("ENABLED") => Ok(true),
        Some(other) => Err(InvalidValue::new(
            field,
            other,
            "not a value ECS accepts",
            "ENABLED or DISABLED (any case; DISABLED when absent)",
        )),
    }
}

/// The EFS volume of the document's `efsVolumeConfiguration` at `volumes[i]`, checked with
/// the library's rules, errors naming the document's field paths.
fn efs_spec(i: usize, name: &str, e: &EfsJson) -> Result<EfsVolume, InvalidValue> {
    let p = format!("volumes[{i}].efsVolumeConfiguration");
    let auth = e.authorization_config.as_ref();
    let efs = EfsVolume {
        file_system_id: e.file_system_id.clone(),
        root_directory: e.root_directory.clone().filter(|r| !r.is_empty()),
        access_point_id: auth.and_then(|a| a.access_point_id.clone()),
        transit_encryption: enabled(
            format!("{p}.transitEncryption"),
            e.transit_encryption.as_deref(),
        )?,
        iam_authorization: enabled(
            format!("{p}.authorizationConfig.iam"),
            auth.and_then(|a| a.iam.as_deref()),
        )?,
    };
    efs.validate(name).map_err(|err| {
        let library = format!("volumes.{name}.efs.");
        let document = match err.field.strip_prefix(&library) {
            Some("file_system_id") => "fileSystemId",
            Some("root_directory") => "rootDirectory",
            Some("access_point_id") => "authorizationConfig.accessPointId",
            Some("iam_authorization") => "authorizationConfig.iam",
            _ => "transitEncryption",
        };
        let field = format!("{p}.{document}");
        err.in_field(field)
    })?;
    Ok(efs)
}

/// An EFS volume of the document, or why it is invalid.
type EfsResult = Result<EfsVolume, InvalidValue>;

/// The volumes of the document, each a name and its EFS volume (`None` for a bind mount);
/// an invalid EFS volume keeps its name, so that mounts of it are not refused too.
fn volume_specs(volumes: &[VolumeJson]) -> Result<Vec<(String, Option<EfsResult>)>, InvalidValue> {
    let mut names: Vec<(String, Option<EfsResult>)> = Vec::new();
    for (i, v) in volumes.iter().enumerate() {
        volume::validate_volume_name(&v.name)
            .map_err(|e| e.in_field(format!("volumes[{i}].name")))?;
        if names.iter().any(|(n, _)| *n == v.name) {
            return Err(InvalidValue::new(
                format!("volumes[{i}].name"),
                &v.name,
                "two volumes have this name",
                "a different name for each volume of the task",
            ));
        }
        if v.configured_at_launch && v.efs_volume_configuration.is_some() {
            // Its name stays known, so that mounts of it are not refused too.
            names.push((
                v.name.clone(),
                Some(Err(InvalidValue::new(
                    format!("volumes[{i}].configuredAtLaunch"),
                    "true",
                    "a volume configured at launch is a managed EBS volume: it has no \
                 efsVolumeConfiguration",
                    "configuredAtLaunch alone (its EBS settings in the service's \
                 volumeConfigurations), or efsVolumeConfiguration alone",
                ))),
            ));
            continue;
        }
        let efs = v
            .efs_volume_configuration
            .as_ref()
            .map(|e| efs_spec(i, &v.name, e));
        names.push((v.name.clone(), efs));
    }
    Ok(names)
}

/// The checks of container `i`'s cpu, memory, Linux settings, ulimits and mounts, every
/// failure added to `errors` with its document path (`containerDefinitions[0].ulimits[1]`).
fn container_checks(
    i: usize,
    c: &ContainerJson,
    size: Option<TaskSize>,
    volumes: &[String],
    names: &[&str],
    errors: &mut Vec<InvalidValue>,
) {
    let field = |f: &str| format!("containerDefinitions[{i}].{f}");
    if let Some(units) = c.cpu {
        keep(errors, non_negative(&field("cpu"), units));
    }
    let memory = c
        .memory
        .and_then(|mib| keep(errors, non_negative(&field("memory"), mib)));
    if let Some(mib) = memory {
        let task = size.as_ref().map_or(u32::MAX, TaskSize::memory_mib);
        if !(6..=task).contains(&mib) {
            errors.push(InvalidValue::new(
                field("memory"),
                mib.to_string(),
                "out of the range ECS accepts: a container's memory is within the task's",
                format!("6 to {task} MiB"),
            ));
        }
        if let Some(reserved) = c.memory_reservation
            && reserved > i64::from(mib)
        {
            errors.push(InvalidValue::new(
                field("memoryReservation"),
                reserved.to_string(),
                format!("more than the container's memory ({mib} MiB, the hard limit)"),
                format!("at most the container's memory, {mib} MiB"),
            ));
        }
    }
    if let Some(caps) = c
        .linux_parameters
        .as_ref()
        .and_then(|l| l.capabilities.as_ref())
    {
        for (list, add, given) in [("add", true, &caps.add), ("drop", false, &caps.drop)] {
            for (j, cap) in given.iter().enumerate() {
                let f = field(&format!("linuxParameters.capabilities.{list}[{j}]"));
                keep(errors, linux::check_capability(&f, add, cap));
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (j, u) in c.ulimits.iter().enumerate() {
        let f = field(&format!("ulimits[{j}]"));
        if seen.contains(&u.name.as_str()) {
            errors.push(InvalidValue::new(
                format!("{f}.name"),
                &u.name,
                "this ulimit is set twice",
                "each ulimit name once",
            ));
        }
        seen.push(&u.name);
        let (Some(soft), Some(hard)) = (
            keep(
                errors,
                non_negative(&format!("{f}.softLimit"), u.soft_limit),
            ),
            keep(
                errors,
                non_negative(&format!("{f}.hardLimit"), u.hard_limit),
            ),
        ) else {
            continue;
        };
        let limit = Ulimit {
            name: u.name.clone(),
            soft,
            hard,
        };
        keep(
            errors,
            linux::check_ulimit(&format!("{f}.name"), &f, &limit),
        );
    }
    for (j, m) in c.mount_points.iter().enumerate() {
        let f = field(&format!("mountPoints[{j}]"));
        if !volumes.contains(&m.source_volume) {
            errors.push(InvalidValue::new(
                format!("{f}.sourceVolume"),
                &m.source_volume,
                "the task has no volume of this name",
                if volumes.is_empty() {
                    "the name of a volume in `volumes` (the task has none)".to_string()
                } else {
                    format!("one of the task's volumes: {}", volumes.join(", "))
                },
            ));
        }
        if !m.container_path.starts_with('/') {
            errors.push(InvalidValue::new(
                format!("{f}.containerPath"),
                &m.container_path,
                "the container path is not absolute",
                "an absolute path in the container, e.g. /var/log/app",
            ));
        }
    }
    for (j, v) in c.volumes_from.iter().enumerate() {
        let f = field(&format!("volumesFrom[{j}].sourceContainer"));
        if v.source_container == c.name || !names.contains(&v.source_container.as_str()) {
            errors.push(InvalidValue::new(
                f,
                &v.source_container,
                if v.source_container == c.name {
                    "a container cannot mount its own volumes"
                } else {
                    "no container of the task has this name"
                },
                "the name of another container of the task",
            ));
        }
    }
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
