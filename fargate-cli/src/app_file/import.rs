//! `"task_definition": "file.json"` in an app entry: an AWS CLI
//! `register-task-definition --cli-input-json` document whose main container fills the entry's
//! unset fields (its other containers become `sidecars`); `"service_definition": "file.json"`: a `create-service --cli-input-json`
//! document (or a `describe-services` output) whose service settings do; a job's
//! `"run_task_definition": "file.json"`: a `run-task --cli-input-json` document whose container
//! override fills its `job_env` and `job_command`. The values are merged into the entry's JSON before it is deserialized into
//! the builder's input type, which then checks them like any other.

use std::collections::BTreeMap;
use std::path::Path;

use fargate_deploy::cli_json::{
    ImportReport, ImportedRunTask, ImportedService, TaskDefinitionDocument,
};
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
        // An Express app's task definition is AWS's: its `task_definition` is an unknown
        // field, named as such by the entry's own parse.
        if entry.get("kind").and_then(Value::as_str) == Some("express") {
            continue;
        }
        let at = format!("apps[{i}]");
        if let Some(td) = document(entry, "task_definition", &at)? {
            notes.extend(import_task_definition(&base.join(td), entry, &at)?);
        }
        if let Some(sd) = document(entry, "service_definition", &at)? {
            notes.extend(import_service_definition(&base.join(sd), entry, &at)?);
        }
        if let Some(rd) = document(entry, "run_task_definition", &at)? {
            notes.extend(import_run_task_definition(&base.join(rd), entry, &at)?);
        }
    }
    Ok(notes)
}

/// What an import accepted, normalized or found suspicious, warnings first, each naming
/// `at`.
fn report_notes(at: &str, report: &ImportReport) -> Vec<String> {
    report
        .warnings
        .iter()
        .map(|w| format!("{at}: warning: {w}"))
        .chain(report.notes.iter().map(|n| format!("{at}: {n}")))
        .collect()
}

/// The entry's app name (`?` when it has none: the entry's own parse then says so).
fn entry_name(entry: &Map<String, Value>) -> String {
    entry
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// The file an entry's `key` names, removed from the entry.
fn document(
    entry: &mut Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, Failure> {
    match entry.remove(key) {
        None => Ok(None),
        Some(Value::String(file)) => Ok(Some(file)),
        Some(other) => Err(Failure::bad_input(format!(
            "{at}.{key}: expected the name of a JSON file (relative to the app file), not {other}"
        ))),
    }
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
    let mut notes = report_notes(&at, &report);
    let d = doc.to_json();
    let refuse = |field: &str, why: &str| bad(format!("{field}: {why}"));
    for field in ["taskRoleArn", "ephemeralStorage", "volumes"] {
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
    let name = entry_name(entry);
    let is_job = entry.get("kind").and_then(Value::as_str) == Some("job");
    // The main container: the one named like the app, else the first essential one (ECS's
    // default is essential), else the first; the others are sidecars.
    let main = containers
        .iter()
        .position(|c| c["name"].as_str() == Some(name.as_str()))
        .or_else(|| {
            containers
                .iter()
                .position(|c| c["essential"].as_bool() != Some(false))
        })
        .unwrap_or(0);
    let Some(c) = containers.get(main) else {
        return Err(refuse("containerDefinitions", "no container"));
    };
    if containers.len() > 1 {
        if is_job {
            return Err(refuse(
                "containerDefinitions",
                "a job runs one container (use the library's builders for more)",
            ));
        }
        if entry.contains_key("sidecars") {
            return Err(refuse(
                "containerDefinitions",
                "the entry gives `sidecars` and the document more than one container: give them in one place",
            ));
        }
        let main_name = c["name"].as_str().unwrap_or_default();
        let sidecars = containers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != main)
            .map(|(i, s)| sidecar(i, s, main_name, &name).map_err(|(f, why)| refuse(&f, &why)))
            .collect::<Result<Vec<Value>, Failure>>()?;
        notes.push(format!(
            "{at}: containers {} are the app's sidecars; container {main_name} is its main container",
            sidecars
                .iter()
                .filter_map(|s| s["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        entry.insert("sidecars".into(), Value::Array(sidecars));
    }
    let main_at = format!("containerDefinitions[{main}]");
    for field in [
        "entryPoint",
        "stopTimeout",
        "readonlyRootFilesystem",
        "dependsOn",
        "cpu",
        "memory",
        "linuxParameters",
        "ulimits",
        "mountPoints",
        "volumesFrom",
    ] {
        if !c[field].is_null() {
            return Err(refuse(
                &format!("{main_at}.{field}"),
                "not expressible in an app file (use the library's builders)",
            ));
        }
    }
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
        Some([p]) => {
            fill("port", p["containerPort"].as_u64().map(Value::from));
            if p["name"].is_string() {
                replaced.push(
                    "port mapping name and appProtocol (set by the app's service_connect: port_name, app_protocol)",
                );
            }
        }
        Some(_) => {
            return Err(refuse(
                &format!("{main_at}.portMappings"),
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
                    &format!("{main_at}.healthCheck"),
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

/// Fill the entry's unset fields from an AWS CLI `create-service --cli-input-json` document
/// (or a `describe-services` output of one service), checked by `fargate_deploy::cli_json`:
/// the desired count, ECS Exec, the Fargate Spot weight, the rolling deployment's
/// percentages and circuit breaker, the health check grace period (apps behind a load
/// balancer) and the tags. The network, cluster, name, task definition and load balancer
/// are the environment's and the app's own (said in a note); what an app cannot express is
/// refused, naming the field.
fn import_service_definition(
    file: &Path,
    entry: &mut Map<String, Value>,
    at: &str,
) -> Result<Vec<String>, Failure> {
    let at = format!("{at}.service_definition");
    let bad = |m: String| Failure::bad_input(format!("{at} ({}): {m}", file.display()));
    let kind = entry
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if kind == "job" {
        return Err(bad(
            "a scheduled job has no ECS service: give service_definition to a service, frontend or backend".into(),
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read: {e}")))?;
    let (svc, report) =
        ImportedService::from_json_with_report(&text).map_err(|e| bad(e.to_string()))?;
    let mut notes = report_notes(&at, &report);
    let behind_lb = matches!(kind.as_str(), "frontend" | "backend");
    let mut fill_later: Vec<(&str, Value)> = Vec::new();
    if let Some(r) = svc.service_registries.first() {
        // One registry (cli_json refuses more): the app's own Cloud Map service, A records.
        if r.container_port.is_some() {
            return Err(bad(
                "serviceRegistries[0].containerPort: SRV records are not supported; a `discoverable` app registers A records (one per task) in its own Cloud Map service".into(),
            ));
        }
        fill_later.push(("discoverable", Value::from(true)));
        notes.push(format!(
            "{at}: serviceRegistries[0] ({}) becomes `discoverable`: fargate-rs registers the app in its own Cloud Map service `<app>.<private_namespace>` (the environment needs `private_namespace`)",
            r.registry_arn
        ));
    }
    if let Some(sc) = &svc.service_connect {
        match sc.to_app() {
            Some(app) => {
                let mut value = serde_json::to_value(&app)
                    .map_err(|e| bad(format!("serviceConnectConfiguration: {e}")))?;
                if let Some(obj) = value.as_object_mut() {
                    obj.retain(|_, v| !v.is_null() && v != &Value::Bool(false));
                }
                fill_later.push(("service_connect", value));
                notes.push(format!(
                    "{at}: serviceConnectConfiguration becomes `service_connect`: fargate-rs uses the environment's private_namespace{} and sends the proxy's logs to the app's log group (stream prefix service-connect)",
                    sc.namespace
                        .as_deref()
                        .map(|n| format!(" (instead of {n})"))
                        .unwrap_or_default()
                ));
            }
            None => notes.push(format!(
                "{at}: serviceConnectConfiguration is disabled: the app has no service_connect"
            )),
        }
    }
    if let Some(v) = svc.ebs_volumes.first() {
        let ebs = serde_json::to_value(&v.ebs).unwrap_or(Value::Null);
        return Err(bad(format!(
            "volumeConfigurations: an app's EBS volume is one of its `volumes`, not taken from \
             the document yet: give the app {{\"name\": \"{}\", \"path\": <its mount path>, \
             \"ebs\": {ebs}}} (its own infrastructure role replaces roleArn)",
            v.name
        )));
    }
    if !svc.load_balancers.is_empty() && !behind_lb {
        return Err(bad(
            "loadBalancers: a service behind a load balancer is a `frontend` (ALB) or `backend` (API Gateway + NLB) app; fargate-rs makes its target group".into(),
        ));
    }
    let c = svc.capacity;
    if c.spot_weight > 0 && (c.on_demand_weight != 1 || c.on_demand_base != 0) {
        return Err(bad(format!(
            "capacityProviderStrategy: FARGATE weight {} base {}: an app's on-demand share is FARGATE weight 1, base 0, beside its `spot_weight`",
            c.on_demand_weight, c.on_demand_base
        )));
    }
    let mut fill = |field: &str, value: Value| {
        entry.entry(field).or_insert(value);
    };
    for (field, value) in fill_later {
        fill(field, value);
    }
    if let Some(n) = svc.desired_count {
        fill("desired_count", Value::from(n));
    }
    if svc.enable_execute_command {
        fill("enable_exec", Value::from(true));
    }
    if c.spot_weight > 0 {
        fill("spot_weight", Value::from(c.spot_weight));
    }
    let cb = svc
        .circuit_breaker
        .unwrap_or(fargate_deploy::cli_json::CircuitBreaker {
            enable: false,
            rollback: false,
        });
    let defaults = fargate_deploy::Deployment::default();
    let deployment = json!({
        "minimum_healthy_percent": svc.minimum_healthy_percent,
        "maximum_percent": svc.maximum_percent,
        "circuit_breaker": {"enable": cb.enable, "rollback": cb.rollback},
    });
    let same_as_default = svc.minimum_healthy_percent == defaults.minimum_healthy_percent
        && svc.maximum_percent == defaults.maximum_percent
        && cb.enable == defaults.circuit_breaker.enable
        && cb.rollback == defaults.circuit_breaker.rollback;
    if !same_as_default {
        fill("deployment", deployment);
    }
    if svc.circuit_breaker.is_none() {
        notes.push(format!(
            "{at}: the document has no deploymentCircuitBreaker, so ECS would not stop a failing \
             deployment; the app keeps that (circuit_breaker off); fargate-rs's default is on, with rollback"
        ));
    }
    if let Some(g) = svc.health_check_grace_period {
        if behind_lb {
            fill("health_check_grace_period", Value::from(g));
        } else {
            notes.push(format!(
                "{at}: healthCheckGracePeriodSeconds ({g}) is not used: a service without a load balancer has no load balancer health checks"
            ));
        }
    }
    if !svc.tags.is_empty() {
        fill(
            "tags",
            json!(
                svc.tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            ),
        );
    }
    let name = entry_name(entry);
    let mut replaced = vec!["cluster", "networkConfiguration", "taskDefinition"];
    if svc.name.as_str() != name {
        replaced.push("serviceName");
    }
    if !svc.load_balancers.is_empty() {
        replaced.push("loadBalancers (its own target group)");
    }
    if svc
        .platform_version
        .as_deref()
        .is_some_and(|v| v != "LATEST")
    {
        replaced.push("platformVersion (LATEST)");
    }
    if svc
        .propagate_tags
        .as_deref()
        .is_some_and(|p| p != "SERVICE")
        || !svc.enable_ecs_managed_tags
    {
        replaced.push("tag propagation (ECS managed tags, propagated from the service)");
    }
    notes.push(format!(
        "{at}: fargate-rs uses its own {} for app `{name}`",
        replaced.join(", ")
    ));
    Ok(notes)
}

/// Fill a job entry's unset `job_env` variables, `job_command` and tags from an AWS CLI
/// `run-task --cli-input-json` document, checked by `fargate_deploy::cli_json` (every
/// unsupported field and invalid value is listed). What a run-once job cannot do (several
/// tasks, Fargate Spot, ECS Exec, container cpu/memory, several containers) is refused,
/// naming the field; what fargate-rs replaces (cluster, network, task definition) is a note.
fn import_run_task_definition(
    file: &Path,
    entry: &mut Map<String, Value>,
    at: &str,
) -> Result<Vec<String>, Failure> {
    let at = format!("{at}.run_task_definition");
    let bad = |m: String| Failure::bad_input(format!("{at} ({}): {m}", file.display()));
    if entry.get("kind").and_then(Value::as_str) != Some("job") {
        return Err(bad(
            "a run-task document describes a one-off task: give run_task_definition to a job (kind job, without schedule for a run-once task)".into(),
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read: {e}")))?;
    let (run, report) =
        ImportedRunTask::from_json_with_report(&text).map_err(|e| bad(e.to_string()))?;
    let mut notes = report_notes(&at, &report);
    let name = entry_name(entry);
    let fields = run.job_fields(&name).map_err(|e| bad(e.to_string()))?;
    let mut merge = |key: &str, values: BTreeMap<String, String>| -> Result<(), Failure> {
        if values.is_empty() {
            return Ok(());
        }
        let target = entry
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(target) = target.as_object_mut() else {
            return Err(bad(format!("{key}: the entry's {key} is not an object")));
        };
        for (k, v) in values {
            target.entry(k).or_insert(Value::String(v));
        }
        Ok(())
    };
    merge("job_env", fields.job_env)?;
    merge("tags", fields.tags)?;
    if let Some(cmd) = fields.job_command {
        entry.entry("job_command").or_insert(json!(cmd));
    }
    if entry.contains_key("schedule") {
        notes.push(format!(
            "{at}: the job has a schedule: the document's overrides apply to every scheduled run"
        ));
    }
    notes.extend(fields.notes.iter().map(|n| format!("{at}: {n}")));
    Ok(notes)
}

/// A container of a task definition document (CLI JSON, normalized) as an app file's sidecar
/// (`ContainerSpec`'s JSON form). A `dependsOn` on the main container (`main`) names the app
/// (fargate-rs names the main container after it). `Err`: the field and why.
fn sidecar(i: usize, c: &Value, main: &str, app: &str) -> Result<Value, (String, String)> {
    let at = |f: &str| format!("containerDefinitions[{i}].{f}");
    for field in ["mountPoints", "volumesFrom"] {
        if !c[field].is_null() {
            return Err((
                at(field),
                "a sidecar's mounts are not expressible in an app file (use the library's builders)".into(),
            ));
        }
    }
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            out.insert(k.into(), v);
        }
    };
    put("name", c["name"].clone());
    put("image", c["image"].clone());
    put("essential", c["essential"].clone());
    put(
        "ports",
        c["portMappings"]
            .as_array()
            .map(|p| {
                json!(
                    p.iter()
                        .map(|m| m["containerPort"].clone())
                        .collect::<Vec<_>>()
                )
            })
            .unwrap_or(Value::Null),
    );
    let pairs = |v: &Value, key: &str, value: &str| -> Value {
        v.as_array()
            .map(|l| {
                json!(
                    l.iter()
                        .filter_map(|p| Some((p[key].as_str()?, p[value].as_str()?)))
                        .collect::<BTreeMap<_, _>>()
                )
            })
            .unwrap_or(Value::Null)
    };
    put("env", pairs(&c["environment"], "name", "value"));
    put("secrets", pairs(&c["secrets"], "name", "valueFrom"));
    put("command", c["command"].clone());
    put("entry_point", c["entryPoint"].clone());
    let hc = &c["healthCheck"];
    if !hc.is_null() {
        let mut check = json!({"command": hc["command"]});
        for (from, to) in [
            ("interval", "interval"),
            ("timeout", "timeout"),
            ("retries", "retries"),
            ("startPeriod", "start_period"),
        ] {
            if !hc[from].is_null() {
                check[to] = hc[from].clone();
            }
        }
        put("health_check", check);
    }
    put("stop_timeout_secs", c["stopTimeout"].clone());
    put(
        "readonly_root_filesystem",
        c["readonlyRootFilesystem"].clone(),
    );
    put("memory_reservation", c["memoryReservation"].clone());
    put("cpu", c["cpu"].clone());
    put("memory", c["memory"].clone());
    if let Some(deps) = c["dependsOn"].as_array() {
        let mut map = Map::new();
        for d in deps {
            let (Some(name), Some(cond)) = (d["containerName"].as_str(), d["condition"].as_str())
            else {
                continue;
            };
            // START → Start, the JSON form of the condition.
            let cond = {
                let lower = cond.to_ascii_lowercase();
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            };
            let name = if name == main { app } else { name };
            map.insert(name.to_string(), Value::from(cond));
        }
        put("depends_on", Value::Object(map));
    }
    let linux = &c["linuxParameters"];
    put("init_process_enabled", linux["initProcessEnabled"].clone());
    put("add_capabilities", linux["capabilities"]["add"].clone());
    put("drop_capabilities", linux["capabilities"]["drop"].clone());
    if let Some(limits) = c["ulimits"].as_array() {
        put(
            "ulimits",
            json!(
                limits
                    .iter()
                    .filter_map(|u| Some((
                        u["name"].as_str()?.to_string(),
                        json!({"soft": u["softLimit"], "hard": u["hardLimit"]})
                    )))
                    .collect::<BTreeMap<_, _>>()
            ),
        );
    }
    Ok(Value::Object(out))
}
