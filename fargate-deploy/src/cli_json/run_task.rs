//! `run-task --overrides` ↔ `Vec<ContainerOverride>`, and the whole
//! `run-task --cli-input-json` document ↔ [`ImportedRunTask`], which maps onto a run-once
//! [`ScheduledJob`] ([`ImportedRunTask::to_job`]).

use std::collections::BTreeMap;

use fargate_core::{Error, InvalidValue, Tags};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{CliJsonError, ImportReport, Shape, checked, checked_value, non_negative};
use crate::apps::{ScheduledJob, ScheduledJobSpec};
use crate::run_task::ContainerOverride;
use crate::service::Capacity;

const DOCUMENT: &str = "run-task overrides";
const RUN_TASK: &str = "run-task";

const NAME_VALUE: Shape = Shape::Obj(&[("name", Shape::Leaf), ("value", Shape::Leaf)]);
const CONTAINER: Shape = Shape::Obj(&[
    ("name", Shape::Leaf),
    ("environment", Shape::List(&NAME_VALUE)),
    ("command", Shape::Leaf),
    ("cpu", Shape::Leaf),
    ("memory", Shape::Leaf),
]);
const OVERRIDES: Shape = Shape::Obj(&[("containerOverrides", Shape::List(&CONTAINER))]);
const STRATEGY: Shape = Shape::Obj(&[
    ("capacityProvider", Shape::Leaf),
    ("weight", Shape::Leaf),
    ("base", Shape::Leaf),
]);
const TAG: Shape = Shape::Obj(&[("key", Shape::Leaf), ("value", Shape::Leaf)]);
/// The `run-task --cli-input-json` fields the library has. `volumeConfigurations` is refused
/// (see [`RUN_TASK_REASONS`]).
const RUN_TASK_SHAPE: Shape = Shape::Obj(&[
    ("cluster", Shape::Leaf),
    ("taskDefinition", Shape::Leaf),
    ("count", Shape::Leaf),
    ("launchType", Shape::Leaf),
    ("capacityProviderStrategy", Shape::List(&STRATEGY)),
    ("platformVersion", Shape::Leaf),
    (
        "networkConfiguration",
        Shape::Obj(&[(
            "awsvpcConfiguration",
            Shape::Obj(&[
                ("subnets", Shape::Leaf),
                ("securityGroups", Shape::Leaf),
                ("assignPublicIp", Shape::Leaf),
            ]),
        )]),
    ),
    ("overrides", OVERRIDES),
    ("propagateTags", Shape::Leaf),
    ("enableECSManagedTags", Shape::Leaf),
    ("enableExecuteCommand", Shape::Leaf),
    ("tags", Shape::List(&TAG)),
    ("startedBy", Shape::Leaf),
    ("group", Shape::Leaf),
    ("referenceId", Shape::Leaf),
    ("clientToken", Shape::Leaf),
]);
/// Why the `run-task` fields the library lacks are refused (prefix of the field path).
const RUN_TASK_REASONS: [(&str, &str); 4] = [
    (
        "volumeConfigurations",
        "not supported: a run-once task is a ScheduledJob, and a job takes no managed EBS \
         volume (EventBridge Scheduler's ECS target cannot pass the volume configuration); \
         use an EFS volume",
    ),
    (
        "overrides.containerOverrides[",
        "not supported: a container override takes environment, command, cpu and memory",
    ),
    (
        "overrides.",
        "not supported: the task's cpu, memory, roles and storage are the job's own \
         (ScheduledJob cpu, memory, task_role); overrides take containerOverrides",
    ),
    (
        "placement",
        "not supported: Fargate places tasks itself (no placement constraints or strategy)",
    ),
];

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunTaskJson {
    #[serde(default)]
    cluster: Option<String>,
    task_definition: String,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    capacity_provider_strategy: Vec<StrategyJson>,
    #[serde(default)]
    platform_version: Option<String>,
    network_configuration: NetworkJson,
    #[serde(default)]
    overrides: Option<OverridesJson>,
    #[serde(default)]
    propagate_tags: Option<String>,
    #[serde(default, rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: bool,
    #[serde(default)]
    enable_execute_command: bool,
    #[serde(default)]
    tags: Vec<TagJson>,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    reference_id: Option<String>,
    #[serde(default)]
    client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StrategyJson {
    capacity_provider: String,
    #[serde(default)]
    weight: i64,
    #[serde(default)]
    base: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NetworkJson {
    awsvpc_configuration: AwsvpcJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AwsvpcJson {
    subnets: Vec<String>,
    #[serde(default)]
    security_groups: Vec<String>,
    #[serde(default)]
    assign_public_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagJson {
    key: String,
    value: String,
}

/// The container overrides of `doc`, every invalid value added to `errors`, named by its
/// document path under `prefix` (`overrides.` in a run-task document).
fn container_overrides(
    doc: OverridesJson,
    prefix: &str,
    errors: &mut Vec<InvalidValue>,
) -> Vec<ContainerOverride> {
    let mut out = Vec::new();
    for (i, c) in doc.container_overrides.into_iter().enumerate() {
        let field = |f: &str| format!("{prefix}containerOverrides[{i}].{f}");
        let mut o = match ContainerOverride::new(c.name) {
            Ok(o) => o,
            Err(e) => {
                errors.push(e.in_field(field("name")));
                continue;
            }
        };
        for (j, kv) in c.environment.into_iter().enumerate() {
            match o.clone().env(kv.name, kv.value) {
                Ok(next) => o = next,
                Err(e) => errors.push(e.in_field(field(&format!("environment[{j}].name")))),
            }
        }
        if let Some(cmd) = c.command {
            o = o.command(cmd);
        }
        for (f, n) in [("cpu", c.cpu), ("memory", c.memory)] {
            let Some(n) = n else { continue };
            let set = non_negative(&field(f), n).and_then(|n| {
                if f == "cpu" {
                    o.clone().cpu(n)
                } else {
                    o.clone().memory(n)
                }
                .map_err(|e| e.in_field(field(f)))
            });
            match set {
                Ok(next) => o = next,
                Err(e) => errors.push(e),
            }
        }
        out.push(o);
    }
    out
}

/// Import a `run-task --overrides` document (`{"containerOverrides": [...]}`).
///
/// # Errors
/// [`CliJsonError::Unsupported`] listing every unsupported or unknown field (task-level `cpu`,
/// `memory`, `taskRoleArn`, `ephemeralStorage`, container `environmentFiles`,
/// `resourceRequirements`, …), [`CliJsonError::Json`] for malformed JSON,
/// [`CliJsonError::Invalid`] / [`CliJsonError::InvalidValues`] as
/// [`ContainerOverride::validate`], every invalid value at once.
pub fn import_overrides(json: &str) -> Result<Vec<ContainerOverride>, CliJsonError> {
    let value = checked(json, DOCUMENT, &OVERRIDES, |_, _| {})?;
    let doc: OverridesJson = super::typed(value, DOCUMENT)?;
    let mut errors = Vec::new();
    let out = container_overrides(doc, "", &mut errors);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(CliJsonError::from_invalid(errors))
    }
}

/// The overrides as a `run-task --overrides` document (environment sorted by name, empty
/// environment omitted).
pub fn export_overrides(overrides: &[ContainerOverride]) -> Value {
    let list: Vec<Value> = overrides.iter().map(ContainerOverride::to_json).collect();
    json!({ "containerOverrides": list })
}

/// A `run-task --cli-input-json` document mapped to the library's types. What the library
/// runs is a run-once [`ScheduledJob`] (no schedule) started by [`crate::Deployer::run`]:
/// [`to_job`](Self::to_job) puts the document's container overrides on a job as its
/// `job_env` / `job_command`.
///
/// ```
/// use fargate_deploy::cli_json::ImportedRunTask;
/// let json = r#"{ "cluster": "prod", "taskDefinition": "migrate:4", "launchType": "FARGATE",
///   "networkConfiguration": { "awsvpcConfiguration": {
///     "subnets": ["subnet-0123456789abcdef0"], "assignPublicIp": "DISABLED" } },
///   "overrides": { "containerOverrides": [{ "name": "migrate", "command": ["./migrate", "up"] }] } }"#;
/// let run = ImportedRunTask::from_json(json)?;
/// let spec: fargate_deploy::apps::ScheduledJobSpec =
///     serde_json::from_value(serde_json::json!({"name": "migrate", "image": "busybox:1.36"}))?;
/// let (job, _notes) = run.to_job(spec)?;
/// assert!(job.schedule().is_none());
/// assert_eq!(job.job_override().command.as_deref(), Some(&["./migrate".to_string(), "up".into()][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRunTask {
    /// The cluster (name or ARN), if given.
    pub cluster: Option<String>,
    /// The task definition (family, `family:revision` or ARN).
    pub task_definition: String,
    /// How many tasks (1 to 10, default 1).
    pub count: u32,
    /// Fargate / Fargate Spot split (`launchType: FARGATE` is the default).
    pub capacity: Capacity,
    /// The Fargate platform version, if pinned.
    pub platform_version: Option<String>,
    /// Subnets for the task.
    pub subnets: Vec<String>,
    /// Security groups for the task.
    pub security_groups: Vec<String>,
    /// Whether the task gets a public IP.
    pub assign_public_ip: bool,
    /// `overrides.containerOverrides`.
    pub overrides: Vec<ContainerOverride>,
    /// `propagateTags`: `TASK_DEFINITION`, if given (`NONE` is the default).
    pub propagate_tags: Option<String>,
    /// `enableECSManagedTags`.
    pub enable_ecs_managed_tags: bool,
    /// ECS Exec.
    pub enable_execute_command: bool,
    /// User tags of the task.
    pub tags: Tags,
    /// `startedBy`, if given.
    pub started_by: Option<String>,
    /// `group`, if given.
    pub group: Option<String>,
    /// `referenceId`, if given.
    pub reference_id: Option<String>,
    /// `clientToken`, if given.
    pub client_token: Option<String>,
}

/// What a run-task document gives a run-once job ([`ImportedRunTask::job_fields`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobFields {
    /// The override's environment: the job's `job_env`.
    pub job_env: BTreeMap<String, String>,
    /// The override's command: the job's `job_command`.
    pub job_command: Option<Vec<String>>,
    /// The task's tags: the job's `tags`.
    pub tags: BTreeMap<String, String>,
    /// What fargate-rs replaces with its own (cluster, network, task definition, …).
    pub notes: Vec<String>,
}

/// A placeholder (`<cluster-name>`, `my-cluster...`) where a real value is needed.
fn placeholder(field: &str, value: &str, errors: &mut Vec<InvalidValue>) {
    if value.contains('<') || value.contains('>') || value.contains("...") {
        errors.push(InvalidValue::new(
            field,
            value,
            "a placeholder, not a value",
            "the real name, ARN or value",
        ));
    }
}

/// `value` at most `max` characters.
fn at_most(field: &str, value: &str, max: usize, errors: &mut Vec<InvalidValue>) {
    if value.chars().count() > max {
        errors.push(InvalidValue::new(
            field,
            value,
            "too long",
            format!("at most {max} characters (ECS's RunTask limit)"),
        ));
    }
}

impl ImportedRunTask {
    /// Parse and check a `run-task --cli-input-json` document.
    ///
    /// # Errors
    /// As [`from_json_with_report`](Self::from_json_with_report).
    pub fn from_json(json: &str) -> Result<Self, CliJsonError> {
        Self::from_json_with_report(json).map(|(run, _)| run)
    }

    /// As [`from_json`](Self::from_json), and what the import accepted without using it:
    /// empty and `null` fields, `propagateTags: NONE`, `enableExecuteCommand: false` and
    /// `enableECSManagedTags: false` (ECS's defaults), each with a note.
    ///
    /// # Errors
    /// [`CliJsonError::Unsupported`] listing every unsupported or unknown field path, each
    /// with its reason in `hints` (`volumeConfigurations`: a job takes no EBS volume;
    /// `placementConstraints`; task-level `overrides.cpu`; `launchType=EC2`; a capacity
    /// provider other than `FARGATE`/`FARGATE_SPOT`), [`CliJsonError::Json`] for malformed
    /// JSON or a missing `taskDefinition`/`networkConfiguration`, and
    /// [`CliJsonError::Invalid`] / [`CliJsonError::InvalidValues`] with every invalid value at
    /// once (placeholder ids and names, `count` outside 1 to 10, both `launchType` and
    /// `capacityProviderStrategy`, `assignPublicIp`, `propagateTags`, tags, overrides).
    pub fn from_json_with_report(json: &str) -> Result<(Self, ImportReport), CliJsonError> {
        let mut report = ImportReport::default();
        let value = super::lenient::prepare_run_task(serde_json::from_str(json)?, &mut report);
        let value = checked_value(value, RUN_TASK, &RUN_TASK_SHAPE, unsupported_values)
            .map_err(with_reasons)?;
        let d: RunTaskJson = super::typed(value, RUN_TASK)?;
        let mut errors: Vec<InvalidValue> = Vec::new();
        let count = match d.count {
            None => 1,
            Some(n) if (1..=10).contains(&n) => u32::try_from(n).unwrap_or(1),
            Some(n) => {
                errors.push(InvalidValue::new(
                    "count",
                    n.to_string(),
                    "out of range",
                    "1 to 10 tasks (ECS's RunTask limit)",
                ));
                1
            }
        };
        if d.launch_type.is_some() && !d.capacity_provider_strategy.is_empty() {
            errors.push(InvalidValue::new(
                "launchType",
                "FARGATE",
                "given together with capacityProviderStrategy",
                "either launchType or capacityProviderStrategy",
            ));
        }
        let mut capacity = Capacity::default();
        if !d.capacity_provider_strategy.is_empty() {
            capacity.on_demand_weight = 0;
        }
        for (i, s) in d.capacity_provider_strategy.iter().enumerate() {
            let at = format!("capacityProviderStrategy[{i}]");
            let weight = non_negative(&format!("{at}.weight"), s.weight)
                .map_err(|e| errors.push(e))
                .unwrap_or(0);
            if s.capacity_provider == "FARGATE" {
                capacity.on_demand_weight = weight;
                capacity.on_demand_base = non_negative(&format!("{at}.base"), s.base.unwrap_or(0))
                    .map_err(|e| errors.push(e))
                    .unwrap_or(0);
            } else {
                capacity.spot_weight = weight;
            }
        }
        let vpc = &d.network_configuration.awsvpc_configuration;
        let at = "networkConfiguration.awsvpcConfiguration";
        if vpc.subnets.is_empty() {
            errors.push(InvalidValue::new(
                format!("{at}.subnets"),
                "[]",
                "a Fargate task needs a subnet",
                "1 to 16 subnet ids",
            ));
        }
        errors.extend(vpc.subnets.iter().enumerate().filter_map(|(i, id)| {
            super::ec2_id(&format!("{at}.subnets[{i}]"), id, "subnet").err()
        }));
        errors.extend(
            vpc.security_groups
                .iter()
                .enumerate()
                .filter_map(|(i, id)| {
                    super::ec2_id(&format!("{at}.securityGroups[{i}]"), id, "sg").err()
                }),
        );
        let assign_public_ip = match vpc.assign_public_ip.as_deref() {
            None | Some("DISABLED") => false,
            Some("ENABLED") => true,
            Some(other) => {
                errors.push(InvalidValue::new(
                    format!("{at}.assignPublicIp"),
                    other,
                    "not a value of assignPublicIp",
                    "ENABLED or DISABLED",
                ));
                false
            }
        };
        placeholder("taskDefinition", &d.task_definition, &mut errors);
        for (field, value, max) in [
            ("cluster", &d.cluster, usize::MAX),
            ("platformVersion", &d.platform_version, usize::MAX),
            ("startedBy", &d.started_by, 128),
            ("group", &d.group, 255),
            ("referenceId", &d.reference_id, 64),
            ("clientToken", &d.client_token, 64),
        ] {
            if let Some(v) = value {
                placeholder(field, v, &mut errors);
                at_most(field, v, max, &mut errors);
            }
        }
        if let Some(p) = d.propagate_tags.as_deref()
            && p != "TASK_DEFINITION"
        {
            errors.push(InvalidValue::new(
                "propagateTags",
                p,
                "a task run alone propagates no service's tags",
                "TASK_DEFINITION or NONE",
            ));
        }
        let tags = Tags::try_from_iter(d.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
            .map_err(|e| errors.push(e.in_field("tags")))
            .unwrap_or_default();
        let overrides = d
            .overrides
            .map(|o| container_overrides(o, "overrides.", &mut errors))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(CliJsonError::from_invalid(errors));
        }
        let run = Self {
            cluster: d.cluster,
            task_definition: d.task_definition,
            count,
            capacity,
            platform_version: d.platform_version,
            subnets: vpc.subnets.clone(),
            security_groups: vpc.security_groups.clone(),
            assign_public_ip,
            overrides,
            propagate_tags: d.propagate_tags,
            enable_ecs_managed_tags: d.enable_ecs_managed_tags,
            enable_execute_command: d.enable_execute_command,
            tags,
            started_by: d.started_by,
            group: d.group,
            reference_id: d.reference_id,
            client_token: d.client_token,
        };
        Ok((run, report))
    }

    /// The task as a normalized `run-task --cli-input-json` document: `count` and
    /// `assignPublicIp` explicit, `launchType: FARGATE` for the default capacity, booleans
    /// only when true, environment sorted by name, `tags` sorted by key, empty lists omitted.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        if let Some(c) = &self.cluster {
            put("cluster", json!(c));
        }
        put("taskDefinition", json!(self.task_definition));
        put("count", json!(self.count));
        if self.capacity == Capacity::default() {
            put("launchType", json!("FARGATE"));
        } else {
            let mut on_demand = json!({"capacityProvider": "FARGATE",
                                       "weight": self.capacity.on_demand_weight});
            if self.capacity.on_demand_base > 0 {
                on_demand["base"] = json!(self.capacity.on_demand_base);
            }
            let mut s = vec![on_demand];
            if self.capacity.spot_weight > 0 {
                s.push(json!({"capacityProvider": "FARGATE_SPOT",
                              "weight": self.capacity.spot_weight}));
            }
            put("capacityProviderStrategy", Value::Array(s));
        }
        if let Some(p) = &self.platform_version {
            put("platformVersion", json!(p));
        }
        let mut vpc = json!({"subnets": self.subnets,
            "assignPublicIp": if self.assign_public_ip { "ENABLED" } else { "DISABLED" }});
        if !self.security_groups.is_empty() {
            vpc["securityGroups"] = json!(self.security_groups);
        }
        put("networkConfiguration", json!({"awsvpcConfiguration": vpc}));
        if !self.overrides.is_empty() {
            put("overrides", export_overrides(&self.overrides));
        }
        if let Some(p) = &self.propagate_tags {
            put("propagateTags", json!(p));
        }
        if self.enable_ecs_managed_tags {
            put("enableECSManagedTags", json!(true));
        }
        if self.enable_execute_command {
            put("enableExecuteCommand", json!(true));
        }
        if !self.tags.is_empty() {
            let tags: Vec<Value> = self
                .tags
                .iter()
                .map(|(k, v)| json!({"key": k.to_string(), "value": v.to_string()}))
                .collect();
            put("tags", Value::Array(tags));
        }
        for (k, v) in [
            ("startedBy", &self.started_by),
            ("group", &self.group),
            ("referenceId", &self.reference_id),
            ("clientToken", &self.client_token),
        ] {
            if let Some(v) = v {
                put(k, json!(v));
            }
        }
        Value::Object(m)
    }

    /// What the document gives the run-once job `job` (its container is named after it):
    /// the container override's environment and command, and the tags; the rest is
    /// fargate-rs's own (said in `notes`).
    ///
    /// # Errors
    /// [`CliJsonError::Invalid`] / [`CliJsonError::InvalidValues`], every one at once, for
    /// what a run-once job cannot do: `count` above 1 ([`crate::Deployer::run`] starts one
    /// task), Fargate Spot, ECS Exec, container `cpu`/`memory` overrides (the job's are its
    /// task's), overrides of several containers (a job runs one).
    pub fn job_fields(&self, job: &str) -> Result<JobFields, CliJsonError> {
        let mut errors = Vec::new();
        if self.count > 1 {
            errors.push(InvalidValue::new(
                "count",
                self.count.to_string(),
                "a run-once job runs one task per run (Deployer::run, fargate run APP)",
                "1",
            ));
        }
        if self.capacity.spot_weight > 0 {
            errors.push(InvalidValue::new(
                "capacityProviderStrategy",
                "FARGATE_SPOT",
                "a run-once job runs on on-demand Fargate",
                "launchType FARGATE",
            ));
        }
        if self.enable_execute_command {
            errors.push(InvalidValue::new(
                "enableExecuteCommand",
                "true",
                "a job has no ECS Exec",
                "false",
            ));
        }
        let mut out = JobFields::default();
        let main = self
            .overrides
            .iter()
            .position(|o| o.name == job)
            .unwrap_or(0);
        for (i, o) in self.overrides.iter().enumerate() {
            let at = format!("overrides.containerOverrides[{i}]");
            if i != main {
                errors.push(InvalidValue::new(
                    format!("{at}.name"),
                    &o.name,
                    "a job runs one container, named after the job",
                    format!("one container override (for {job})"),
                ));
                continue;
            }
            for (f, v) in [("cpu", o.cpu), ("memory", o.memory)] {
                if let Some(v) = v {
                    errors.push(InvalidValue::new(
                        format!("{at}.{f}"),
                        v.to_string(),
                        "a job's container has its task's cpu and memory",
                        format!("no container {f} (set the job's {f})"),
                    ));
                }
            }
            if o.name != job {
                out.notes.push(format!(
                    "{at}.name: {} is the job's container, named {job} by fargate-rs",
                    o.name
                ));
            }
            out.job_env = o.environment.clone();
            out.job_command = o.command.clone();
        }
        if !errors.is_empty() {
            return Err(CliJsonError::from_invalid(errors));
        }
        out.tags = self
            .tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut replaced = vec!["cluster", "networkConfiguration", "taskDefinition"];
        if self
            .platform_version
            .as_deref()
            .is_some_and(|v| v != "LATEST")
        {
            replaced.push("platformVersion (LATEST)");
        }
        if self.propagate_tags.is_some() || self.enable_ecs_managed_tags {
            replaced.push("tag propagation (the job's tags are on its task definition)");
        }
        for (name, given) in [
            ("startedBy", self.started_by.is_some()),
            ("group", self.group.is_some()),
            ("referenceId", self.reference_id.is_some()),
            ("clientToken (one per run)", self.client_token.is_some()),
        ] {
            if given {
                replaced.push(name);
            }
        }
        out.notes.push(format!(
            "fargate-rs uses its own {} for job `{job}`",
            replaced.join(", ")
        ));
        Ok(out)
    }

    /// `spec` as a run-once job with the document's overrides: its unset `job_env` variables
    /// and `job_command`, and its unset `tags`, come from the document ([`job_fields`](Self::job_fields)),
    /// then the job is checked ([`ScheduledJob::new`]). The notes say what fargate-rs replaces.
    ///
    /// # Errors
    /// As [`job_fields`](Self::job_fields) and [`ScheduledJob::new`].
    pub fn to_job(&self, mut spec: ScheduledJobSpec) -> Result<(ScheduledJob, Vec<String>), Error> {
        let fields = self.job_fields(&spec.name)?;
        for (k, v) in fields.job_env {
            spec.job_env.entry(k).or_insert(v);
        }
        if spec.job_command.is_none() {
            spec.job_command = fields.job_command;
        }
        for (k, v) in fields.tags {
            spec.tags.entry(k).or_insert(v);
        }
        Ok((ScheduledJob::new(spec)?, fields.notes))
    }
}

/// Why each unsupported run-task field is refused, as hints.
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
        let why = if f.starts_with("launchType=") {
            "Fargate only: launchType FARGATE, or a FARGATE/FARGATE_SPOT capacity provider strategy"
        } else if f.starts_with("capacityProviderStrategy[") {
            "Fargate only: the capacity providers FARGATE and FARGATE_SPOT"
        } else if let Some((_, why)) = RUN_TASK_REASONS.iter().find(|(p, _)| f.starts_with(p)) {
            why
        } else {
            continue;
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

fn unsupported_values(v: &Value, out: &mut Vec<String>) {
    super::non_fargate_launch(v, out, |_, _, _| {});
}
