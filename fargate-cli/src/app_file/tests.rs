//! The example app files against the types and the generated schema.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{AppSpec, BuiltApp, Kind, import, load, parse, schema};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/apps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "examples in {}: {files:?}", dir.display());
    files
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every example deserializes into the builders' types and builds (on the emulator too, where
/// memory reservations are added), and its `$schema` is the shipped schema.
#[test]
fn every_example_app_file_loads_and_names_the_shipped_schema() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("app-file.schema.json")
        .canonicalize()
        .unwrap();
    for file in examples() {
        for emulator in [false, true] {
            let loaded = load(&file, emulator)
                .unwrap_or_else(|f| panic!("{}: {}", file.display(), f.message));
            assert!(!loaded.apps.is_empty(), "{}", file.display());
        }
        let value = read(&file);
        let link = value["$schema"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no \"$schema\"", file.display()));
        let target = file.parent().unwrap().join(link).canonicalize();
        assert_eq!(
            target.ok().as_ref(),
            Some(&shipped),
            "{}: $schema {link}",
            file.display()
        );
    }
}

/// A small JSON Schema validator for what the generated schema uses: `type`, `properties`,
/// `required`, `additionalProperties`, `items`, `enum`, `const`, `oneOf`/`anyOf`/`allOf`,
/// `minimum`/`maximum`. Errors name the instance path.
fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Value::Object(s) = schema else { return };
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(l) => l.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "number" => v.is_number(),
            "integer" => v.is_u64() || v.is_i64(),
            other => panic!("type {other} not known to this validator"),
        });
        if !ok {
            errors.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = s.get("enum")
        && !allowed.contains(v)
    {
        errors.push(format!("{at}: {v} not in {allowed:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} < {min}"));
    }
    if let (Some(max), Some(n)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64())
        && n > max
    {
        errors.push(format!("{at}: {n} > {max}"));
    }
    for key in s.keys() {
        assert!(
            [
                "type",
                "properties",
                "required",
                "additionalProperties",
                "items",
                "enum",
                "const",
                "oneOf",
                "anyOf",
                "allOf",
                "minimum",
                "maximum",
                "format",
                "default",
                "description",
                "title",
                "$schema",
            ]
            .contains(&key.as_str()),
            "{at}: schema keyword {key} not known to this validator"
        );
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for sub in all {
            validate(sub, v, at, errors);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(any)) = s.get(key) {
            let matching = any
                .iter()
                .filter(|sub| {
                    let mut e = Vec::new();
                    validate(sub, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if matching == 0 || (key == "oneOf" && matching > 1) {
                errors.push(format!("{at}: {matching} of the {key} alternatives match"));
            }
        }
    }
    if let Value::Object(o) = v {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !o.contains_key(r) {
                    errors.push(format!("{at}.{r}: required"));
                }
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => validate(sub, x, &format!("{at}.{k}"), errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{at}.{k}: not allowed")),
                    Some(sub @ Value::Object(_)) => validate(sub, x, &format!("{at}.{k}"), errors),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (v, s.get("items")) {
        for (i, x) in items.iter().enumerate() {
            validate(sub, x, &format!("{at}[{i}]"), errors);
        }
    }
}

fn schema_errors(v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema::app_file(), v, "file", &mut errors);
    errors
}

#[test]
fn every_example_app_file_is_valid_against_the_generated_schema() {
    for file in examples() {
        let mut value = read(&file);
        let errors = schema_errors(&value);
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
        // After the task definition import too: that is what the types read.
        import::import_task_definitions(&mut value, file.parent().unwrap()).unwrap();
        let errors = schema_errors(&value);
        assert!(
            errors.is_empty(),
            "{} imported: {errors:#?}",
            file.display()
        );
        parse(&value).unwrap_or_else(|f| panic!("{}: {}", file.display(), f.message));
    }
}

#[test]
fn the_schema_refuses_what_the_types_refuse() {
    let file = |app: Value| json!({"environment": {"name": "t"}, "apps": [app]});
    let bad = [
        json!({"kind": "service", "name": "w", "image": "busybox", "cpu": "lots"}),
        json!({"kind": "service", "name": "w", "image": "busybox", "desired_cont": 2}),
        json!({"kind": "service", "name": "w", "image": "busybox", "schedule": "rate(1 hour)"}),
        json!({"kind": "job", "name": "j", "image": "busybox", "schedule": "rate(1 hour)", "port": 80}),
        json!({"kind": "job", "name": "j", "schedule": "rate(1 hour)"}),
        json!({"kind": "service", "name": "w", "image": "b", "sidecars": [{"name": "p", "image": "envoy", "port": 9901}]}),
        json!({"kind": "service", "name": "w", "image": "b", "sidecars": [{"image": "envoy"}]}),
        json!({"kind": "daemon", "name": "w", "image": "busybox"}),
        json!({"kind": "frontend", "name": "w", "image": {"ecr": "v1"}, "port": 80}),
        json!({"kind": "backend", "name": "w", "image": "b", "port": 80, "rollout": {"timeout": 5}}),
    ];
    for app in bad {
        let f = file(app.clone());
        assert!(!schema_errors(&f).is_empty(), "the schema accepts {app}");
        assert!(parse(&f).is_err(), "the types accept {app}");
    }
    let good = file(json!({
        "kind": "frontend", "name": "w", "image": {"ecr_tag": "v1"}, "port": 80,
        "autoscaling": {"min": 1, "max": 4, "targets": [{"metric": "cpu", "target": 60}]},
        "task_role": [{"actions": ["s3:GetObject"], "resources": ["*"]}],
        "rollout": {"timeout_secs": 60, "wait": false},
        "sidecars": [{"name": "proxy", "image": "envoyproxy/envoy:v1.31", "ports": [9901],
            "env": {"LOG": "info"}, "depends_on": {"w": "Start"}, "stop_timeout_secs": 10,
            "health_check": {"command": ["CMD", "/bin/check"], "retries": 5}}]
    }));
    assert_eq!(schema_errors(&good), Vec::<String>::new());
    let mut file = parse(&good).unwrap_or_else(|f| panic!("{}", f.message));
    let web = file.apps.remove(0);
    let AppSpec::Frontend(spec) = &web else {
        panic!("not a frontend: {web:?}")
    };
    let sidecars = &spec.service.settings().sidecars;
    assert_eq!(sidecars.len(), 1);
    assert_eq!(sidecars[0].name(), "proxy");
    assert_eq!(sidecars[0].ports()[0].get(), 9901);
    assert!(matches!(web.build("apps[0]"), Ok(BuiltApp::Frontend(_))));
}

#[test]
fn the_schema_has_each_kind_with_its_fields_and_required_ones() {
    let expect: [(Kind, &[&str], &[&str]); 4] = [
        (
            Kind::Service,
            &[
                "name",
                "image",
                "cpu",
                "desired_count",
                "rollout",
                "autoscaling",
            ],
            &["kind", "name"],
        ),
        (
            Kind::Frontend,
            &[
                "name",
                "image",
                "port",
                "paths",
                "hosts",
                "priority",
                "health_check_path",
            ],
            &["kind", "name"],
        ),
        (
            Kind::Backend,
            &[
                "name",
                "image",
                "port",
                "routes",
                "throttling",
                "jwt",
                "nlb_listener_port",
            ],
            &["kind", "name"],
        ),
        (
            Kind::Job,
            &[
                "name", "image", "schedule", "timezone", "job_env", "retries",
            ],
            &["kind", "name"],
        ),
    ];
    let items = &schema::app_file()["properties"]["apps"]["items"];
    for (kind, fields, required) in expect {
        let have = schema::fields_of(kind);
        for f in fields.iter().chain(&["kind", "task_definition"]) {
            assert!(have.contains(*f), "{kind:?} lacks {f}: {have:?}");
        }
        let variant = items["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["properties"]["kind"]["const"] == kind.as_str())
            .unwrap();
        let mut req: Vec<&str> = variant["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        req.sort();
        let mut want = required.to_vec();
        want.sort();
        assert_eq!(req, want, "{kind:?}");
        // `image`, unless a task definition gives it.
        assert_eq!(
            variant["anyOf"],
            json!([{"required": ["image"]}, {"required": ["task_definition"]}]),
            "{kind:?}"
        );
        assert_eq!(variant["additionalProperties"], false, "{kind:?}");
    }
    assert!(!schema::fields_of(Kind::Job).contains("port"));
    assert!(!schema::fields_of(Kind::Service).contains("paths"));
    // The defaults are the builders'.
    let service = items["oneOf"][0]["properties"].clone();
    assert_eq!(service["cpu"]["default"], 256);
    assert_eq!(service["memory"]["default"], 512);
    assert_eq!(service["desired_count"]["default"], 1);
    assert_eq!(service["log_retention_days"]["default"], 30);
}

/// A field a frontend or backend spec declares itself (`deployment`) is its own, not its
/// service's: a blue/green deployment (refused for a plain service) is no error of the service
/// part when another field is wrong.
#[test]
fn the_service_part_of_a_frontend_is_the_fields_it_does_not_redefine() {
    for kind in [Kind::Frontend, Kind::Backend] {
        let service = schema::service_fields_of(kind);
        for f in [
            "name", "image", "cpu", "memory", "port", "rollout", "sidecars",
        ] {
            assert!(service.contains(f), "{kind:?}: {f} not in {service:?}");
        }
        for f in ["deployment", "health_check_path", "kind", "task_definition"] {
            assert!(!service.contains(f), "{kind:?}: {f} in {service:?}");
        }
    }
    let file = json!({"environment": {"name": "t"}, "apps": [{"kind": "frontend", "name": "web",
        "image": "nginx", "port": 80, "deployment": {"strategy": {"type": "blue_green"}},
        "cpu": "lots"}]});
    let message = parse(&file).unwrap_err().message;
    assert!(
        message.starts_with("apps[0].cpu: invalid type"),
        "{message}"
    );
    let fine = json!({"environment": {"name": "t"}, "apps": [{"kind": "frontend", "name": "web",
        "image": "nginx", "port": 80, "deployment": {"strategy": {"type": "blue_green"}}}]});
    parse(&fine).unwrap_or_else(|f| panic!("{}", f.message));
}

#[test]
fn an_entry_env_is_merged_over_the_imported_document_environment() {
    let dir = std::env::temp_dir().join(format!("fargate-env-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("td.json"),
        r#"{ "family": "w", "cpu": "256", "memory": "512",
             "executionRoleArn": "arn:aws:iam::123456789012:role/w-exec",
             "containerDefinitions": [{ "name": "w", "image": "nginx:1.27",
               "environment": [{ "name": "KEEP", "value": "doc" }, { "name": "OVER", "value": "doc" }] }] }"#,
    )
    .unwrap();
    let mut file = json!({"environment": {"name": "t"}, "apps": [{"kind": "service", "name": "w",
        "task_definition": "td.json", "env": {"OVER": "entry", "NEW": "entry"}}]});
    import::import_task_definitions(&mut file, &dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        file["apps"][0]["env"],
        json!({"KEEP": "doc", "NEW": "entry", "OVER": "entry"})
    );
}

#[test]
fn the_import_report_reaches_the_app_file_notes_warnings_first() {
    let dir = std::env::temp_dir().join(format!("fargate-import-notes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("td.json"),
        r#"{ "taskDefinition": { "family": "w", "cpu": "1 vCPU", "memory": "2 GB",
             "executionRoleArn": "arn:aws:iam::123456789012:role/w-exec",
             "containerDefinitions": [{ "name": "w", "image": "nginx:1.27",
               "environment": [{ "name": "DATABASE_URL", "value": "postgresql://u:p@h/db" }] }] } }"#,
    )
    .unwrap();
    let mut file = json!({"environment": {"name": "t"}, "apps": [{"kind": "service", "name": "w",
        "task_definition": "td.json"}]});
    let notes = import::import_task_definitions(&mut file, &dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let warning = notes
        .iter()
        .position(|n| n.contains("warning:") && n.contains("DATABASE_URL"))
        .unwrap_or_else(|| panic!("no warning for the credential: {notes:#?}"));
    assert!(
        notes.starts_with(&[notes[warning].clone()]),
        "warnings first: {notes:#?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("taskDefinition")),
        "the describe wrapper is noted: {notes:#?}"
    );
    assert!(
        notes
            .iter()
            .all(|n| n.starts_with("apps[0].task_definition: ")),
        "each note names its entry: {notes:#?}"
    );
}

/// `entry` with `"service_definition": "svc.json"` holding `doc`, imported: the entry, or the
/// failure's message.
fn import_service(test: &str, doc: &str, entry: Value) -> Result<(Value, Vec<String>), String> {
    let dir = std::env::temp_dir().join(format!("fargate-svc-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("svc.json"), doc).unwrap();
    let mut entry = entry;
    entry["service_definition"] = json!("svc.json");
    let mut file = json!({"environment": {"name": "t"}, "apps": [entry]});
    let result = import::import_task_definitions(&mut file, &dir);
    std::fs::remove_dir_all(&dir).ok();
    match result {
        Ok(notes) => Ok((file["apps"][0].clone(), notes)),
        Err(f) => Err(f.message),
    }
}

const CREATE_SERVICE: &str = r#"{
  "cluster": "prod", "serviceName": "orders", "taskDefinition": "orders:7",
  "desiredCount": 3, "launchType": "FARGATE", "platformVersion": "1.4.0",
  "networkConfiguration": { "awsvpcConfiguration": {
    "subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"],
    "assignPublicIp": "DISABLED" } },
  "loadBalancers": [{ "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/orders/0123456789abcdef",
    "containerName": "orders", "containerPort": 8080 }],
  "healthCheckGracePeriodSeconds": 90,
  "deploymentConfiguration": { "minimumHealthyPercent": 50, "maximumPercent": 150,
    "deploymentCircuitBreaker": { "enable": true, "rollback": true } },
  "enableExecuteCommand": true,
  "tags": [{ "key": "team", "value": "orders" }]
}"#;

#[test]
fn a_create_service_document_fills_the_entry_and_says_what_fargate_rs_replaces() {
    let (entry, notes) = import_service(
        "fills",
        CREATE_SERVICE,
        json!({"kind": "frontend", "name": "orders", "image": "nginx:1.27", "port": 8080,
               "desired_count": 2}),
    )
    .unwrap();
    // The entry's own value wins; the document fills the rest.
    assert_eq!(entry["desired_count"], 2);
    assert_eq!(entry["enable_exec"], true);
    assert_eq!(entry["health_check_grace_period"], 90);
    assert_eq!(
        entry["deployment"],
        json!({"minimum_healthy_percent": 50, "maximum_percent": 150,
               "circuit_breaker": {"enable": true, "rollback": true}})
    );
    assert_eq!(entry["tags"], json!({"team": "orders"}));
    assert!(entry.get("service_definition").is_none());
    let replaced = notes
        .iter()
        .find(|n| n.contains("uses its own"))
        .unwrap_or_else(|| panic!("{notes:#?}"));
    for what in [
        "cluster",
        "networkConfiguration",
        "taskDefinition",
        "loadBalancers",
        "platformVersion",
    ] {
        assert!(replaced.contains(what), "{what} not in {replaced}");
    }
    assert!(!replaced.contains("serviceName"), "{replaced}");
    // And the entry is a valid app.
    let file = json!({"environment": {"name": "t"}, "apps": [entry]});
    parse(&file).unwrap_or_else(|f| panic!("{}", f.message));
}

#[test]
fn what_an_app_cannot_express_of_a_service_is_refused_naming_the_field() {
    let worker = json!({"kind": "service", "name": "orders", "image": "nginx:1.27"});
    let e = import_service("lb", CREATE_SERVICE, worker.clone()).unwrap_err();
    assert!(e.contains("loadBalancers") && e.contains("frontend"), "{e}");
    let e = import_service(
        "job",
        CREATE_SERVICE,
        json!({"kind": "job", "name": "orders", "image": "nginx:1.27"}),
    )
    .unwrap_err();
    assert!(e.contains("scheduled job"), "{e}");
    let based = r#"{ "serviceName": "orders", "taskDefinition": "orders",
      "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } },
      "capacityProviderStrategy": [{ "capacityProvider": "FARGATE", "weight": 1, "base": 2 },
                                   { "capacityProvider": "FARGATE_SPOT", "weight": 3 }] }"#;
    let e = import_service("base", based, worker.clone()).unwrap_err();
    assert!(e.contains("capacityProviderStrategy"), "{e}");
    let spot = based.replace(r#""base": 2"#, r#""base": 0"#);
    let (entry, _) = import_service("spot", &spot, worker).unwrap();
    assert_eq!(entry["spot_weight"], 3);
    // No circuit breaker in the document: ECS would not stop a failing deployment, and the
    // import keeps that (and says so) instead of turning fargate-rs's default on.
    assert_eq!(
        entry["deployment"]["circuit_breaker"],
        json!({"enable": false, "rollback": false})
    );
}

#[test]
fn a_multi_container_task_definition_imports_its_other_containers_as_sidecars() {
    let dir = std::env::temp_dir().join(format!("fargate-sidecars-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("td.json"),
        r#"{ "family": "api", "cpu": "1024", "memory": "2048",
             "executionRoleArn": "arn:aws:iam::123456789012:role/api-exec",
             "containerDefinitions": [
               { "name": "otel", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.0",
                 "essential": false, "cpu": 256, "memory": 512,
                 "portMappings": [{ "containerPort": 4317 }],
                 "environment": [{ "name": "AWS_REGION", "value": "us-east-1" }],
                 "linuxParameters": { "initProcessEnabled": true },
                 "ulimits": [{ "name": "nofile", "softLimit": 65536, "hardLimit": 65536 }],
                 "healthCheck": { "command": ["CMD", "/healthcheck"], "interval": 10, "startPeriod": 5 },
                 "dependsOn": [{ "containerName": "server", "condition": "START" }] },
               { "name": "server", "image": "ghcr.io/acme/api:3", "essential": true,
                 "portMappings": [{ "containerPort": 8000 }] } ] }"#,
    )
    .unwrap();
    let mut file = json!({"environment": {"name": "t"}, "apps": [{"kind": "service", "name": "api",
        "task_definition": "td.json"}]});
    let notes = import::import_task_definitions(&mut file, &dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let entry = &file["apps"][0];
    // No container is named like the app: the first essential one is the main container.
    assert_eq!(entry["image"], "ghcr.io/acme/api:3", "{entry:#}");
    assert_eq!(entry["port"], 8000);
    assert_eq!(
        entry["sidecars"],
        json!([{
            "name": "otel",
            "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.0",
            "essential": false,
            "ports": [4317],
            "env": {"AWS_REGION": "us-east-1"},
            "cpu": 256,
            "memory": 512,
            "init_process_enabled": true,
            "ulimits": {"nofile": {"soft": 65536, "hard": 65536}},
            // The document's timings, ECS's defaults filled in by the import.
            "health_check": {"command": ["CMD", "/healthcheck"], "interval": 10, "timeout": 5,
                             "retries": 3, "start_period": 5},
            // `server` is the main container, which fargate-rs names after the app.
            "depends_on": {"api": "Start"}
        }])
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("otel are the app's sidecars")),
        "{notes:#?}"
    );
    // And the entry builds: the sidecar goes through ContainerSpec's own checks.
    let file = json!({"environment": {"name": "t"}, "apps": [entry]});
    parse(&file).unwrap_or_else(|f| panic!("{}", f.message));
}

/// Volumes in an app file: EFS volumes on a job, an EBS volume on a service; the schema and
/// the types agree, and the builders' errors name the same field paths (`<app>.volumes[i]…`).
#[test]
fn jobs_take_efs_volumes_services_an_ebs_volume_with_the_builders_field_paths() {
    let file = |app: Value| json!({"environment": {"name": "t"}, "apps": [app]});
    let good = file(json!({
        "kind": "job", "name": "etl", "image": "busybox", "schedule": "rate(1 day)",
        "volumes": [
            {"name": "work", "path": "/work", "create": true},
            {"name": "shared", "path": "/shared", "file_system_id": "fs-0123abcd", "read_only": true},
            {"name": "scratch", "path": "/scratch", "bind": true}
        ]
    }));
    assert_eq!(schema_errors(&good), Vec::<String>::new());
    let mut parsed = parse(&good).unwrap_or_else(|f| panic!("{}", f.message));
    let job = parsed.apps.remove(0);
    let Ok(BuiltApp::Job(job)) = job.build("apps[0]") else {
        panic!("a job")
    };
    let shown = format!("{job:?}");
    assert!(
        shown.contains("\"work\"") && shown.contains("fs-0123abcd"),
        "{shown}"
    );

    let service = file(json!({
        "kind": "service", "name": "web", "image": "busybox",
        "volumes": [{"name": "data", "path": "/data",
            "ebs": {"size_gib": 50, "volume_type": "gp3", "iops": 6000, "throughput": 250,
                    "filesystem_type": "ext4", "kms_key_id": "alias/web"}}]
    }));
    assert_eq!(schema_errors(&service), Vec::<String>::new());
    let mut parsed = parse(&service).unwrap_or_else(|f| panic!("{}", f.message));
    assert!(matches!(
        parsed.apps.remove(0).build("apps[0]"),
        Ok(BuiltApp::Service(_))
    ));

    let refused = |app: Value| -> String {
        let mut parsed = parse(&file(app.clone())).unwrap_or_else(|f| panic!("{}", f.message));
        match parsed.apps.remove(0).build("apps[0]") {
            Ok(_) => panic!("built {app}"),
            Err(f) => f.message,
        }
    };
    let m = refused(json!({
        "kind": "service", "name": "web", "image": "busybox",
        "volumes": [{"name": "data", "path": "/data", "ebs": {"size_gib": 50, "volume_type": "gp2", "throughput": 250}}]
    }));
    assert!(
        m.contains("web.volumes[0].ebs.throughput") && m.contains("gp3"),
        "{m}"
    );
    let m = refused(json!({
        "kind": "job", "name": "etl", "image": "busybox", "schedule": "rate(1 day)",
        "volumes": [{"name": "data", "path": "/data", "ebs": {"size_gib": 50}}]
    }));
    assert!(
        m.contains("etl.volumes[0].ebs") && m.contains("EventBridge Scheduler"),
        "{m}"
    );
    // What the types refuse, the schema refuses too.
    let bad = file(json!({
        "kind": "service", "name": "web", "image": "busybox",
        "volumes": [{"name": "data", "path": "/data", "ebs": {"size_gib": "big"}}]
    }));
    assert!(!schema_errors(&bad).is_empty());
    assert!(parse(&bad).is_err());
}

#[test]
fn service_connect_and_a_cloud_map_registry_become_the_apps_fields() {
    let doc = r#"{ "serviceName": "api", "taskDefinition": "api:3", "launchType": "FARGATE",
      "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } },
      "serviceRegistries": [{ "registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef" }],
      "serviceConnectConfiguration": { "enabled": true, "namespace": "prod.internal",
        "services": [{ "portName": "api", "discoveryName": "api",
                       "clientAliases": [{ "port": 80, "dnsName": "api.prod.internal" }] }],
        "logConfiguration": { "logDriver": "awslogs", "options": { "awslogs-group": "/ecs/sc",
          "awslogs-region": "us-east-1", "awslogs-stream-prefix": "sc" } } },
      "deploymentConfiguration": { "minimumHealthyPercent": 100, "maximumPercent": 200,
        "deploymentCircuitBreaker": { "enable": true, "rollback": true } } }"#;
    let (entry, notes) = import_service(
        "connect",
        doc,
        json!({"kind": "service", "name": "api", "image": "nginx:1.27", "port": 8080}),
    )
    .unwrap();
    assert_eq!(entry["discoverable"], true);
    assert_eq!(
        entry["service_connect"],
        json!({"port_name": "api", "discovery_name": "api", "client_alias_port": 80,
               "dns_name": "api.prod.internal"})
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("becomes `service_connect`")),
        "{notes:#?}"
    );
    let file = json!({"environment": {"name": "t", "private_namespace": "prod.internal"}, "apps": [entry]});
    parse(&file).unwrap_or_else(|f| panic!("{}", f.message));

    let srv = doc.replace(
        r#""registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef""#,
        r#""registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef", "containerName": "api", "containerPort": 8080"#,
    );
    let e = import_service(
        "srv",
        &srv,
        json!({"kind": "service", "name": "api", "image": "nginx:1.27", "port": 8080}),
    )
    .unwrap_err();
    assert!(e.contains("serviceRegistries[0].containerPort"), "{e}");
}

#[test]
fn an_express_app_is_its_own_kind_and_its_errors_name_the_field_path() {
    let file = |app: Value| json!({"environment": {"name": "t"}, "apps": [app]});
    let good = file(json!({
        "kind": "express", "name": "web", "image": "public.ecr.aws/nginx/nginx:1.27",
        "port": 8080, "health_check_path": "/health", "min_tasks": 2, "max_tasks": 6,
        "scaling_metric": "requests_per_target", "scaling_target": 500,
        "env": {"MODE": "prod"}
    }));
    assert_eq!(schema_errors(&good), Vec::<String>::new());
    let mut parsed = parse(&good).unwrap_or_else(|f| panic!("{}", f.message));
    let web = parsed.apps.remove(0);
    assert!(matches!(web, AppSpec::Express(_)), "{web:?}");
    let built = web
        .build("apps[0]")
        .unwrap_or_else(|f| panic!("{}", f.message));
    assert_eq!(built.kind(), Kind::Express);
    assert_eq!(built.app().name().as_str(), "web");
    let fields = schema::fields_of(Kind::Express);
    for f in ["kind", "name", "image", "min_tasks", "scaling_metric"] {
        assert!(fields.contains(f), "{fields:?}");
    }
    // AWS makes an Express app's task definition and service: no import documents.
    assert!(!fields.contains("task_definition"), "{fields:?}");
    assert!(!fields.contains("service_definition"), "{fields:?}");

    let message = |app: Value| {
        let f = file(app);
        assert!(!schema_errors(&f).is_empty(), "the schema accepts {f}");
        parse(&f).unwrap_err().message
    };
    let m =
        message(json!({"kind": "express", "name": "web", "image": "b", "scaling_metric": "gpu"}));
    assert!(m.starts_with("apps[0].scaling_metric:"), "{m}");
    let m = message(json!({"kind": "express", "name": "web", "image": "b", "paths": ["/"]}));
    assert!(
        m.starts_with("apps[0].paths: not a field of kind \"express\""),
        "{m}"
    );
    let m = message(json!({"kind": "express", "name": "web"}));
    assert!(m.starts_with("apps[0].image: missing"), "{m}");
    let m = message(
        json!({"kind": "express", "name": "web", "image": "b", "task_definition": "td.json"}),
    );
    assert!(m.starts_with("apps[0].task_definition:"), "{m}");

    // What only the builder checks is named with the app's field.
    let bad = parse(&file(json!({
        "kind": "express", "name": "web", "image": "b", "min_tasks": 3, "max_tasks": 2
    })))
    .unwrap_or_else(|f| panic!("{}", f.message))
    .apps
    .remove(0);
    let m = bad.build("apps[0]").err().unwrap().message;
    assert!(m.starts_with("apps[0] (web): "), "{m}");
    assert!(m.contains("web.max_tasks"), "{m}");
}

/// `entry` with `"run_task_definition": "run.json"` holding `doc`, imported: the entry and the
/// notes, or the failure's message.
fn import_run_task(test: &str, doc: &str, entry: Value) -> Result<(Value, Vec<String>), String> {
    let dir = std::env::temp_dir().join(format!("fargate-run-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.json"), doc).unwrap();
    let mut entry = entry;
    entry["run_task_definition"] = json!("run.json");
    let mut file = json!({"environment": {"name": "t"}, "apps": [entry]});
    let result = import::import_task_definitions(&mut file, &dir);
    std::fs::remove_dir_all(&dir).ok();
    match result {
        Ok(notes) => Ok((file["apps"][0].clone(), notes)),
        Err(f) => Err(f.message),
    }
}

const RUN_TASK: &str = r#"{
  "cluster": "prod", "taskDefinition": "migrate:4", "count": 1, "launchType": "FARGATE",
  "networkConfiguration": { "awsvpcConfiguration": {
    "subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"],
    "assignPublicIp": "DISABLED" } },
  "overrides": { "containerOverrides": [{ "name": "migrate",
    "command": ["./migrate", "--to", "latest"],
    "environment": [{ "name": "DRY_RUN", "value": "0" }, { "name": "LOG", "value": "info" }] }] },
  "tags": [{ "key": "team", "value": "data" }],
  "clientToken": "migrate-2026-12-03"
}"#;

#[test]
fn a_run_task_document_fills_a_run_once_job_and_says_what_fargate_rs_replaces() {
    let (entry, notes) = import_run_task(
        "fills",
        RUN_TASK,
        json!({"kind": "job", "name": "migrate", "image": "ghcr.io/acme/api:1.4.2",
               "job_env": {"LOG": "debug"}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The entry's own values win; the document fills the rest.
    assert_eq!(entry["job_env"], json!({"DRY_RUN": "0", "LOG": "debug"}));
    assert_eq!(entry["job_command"], json!(["./migrate", "--to", "latest"]));
    assert_eq!(entry["tags"], json!({"team": "data"}));
    assert!(entry.get("run_task_definition").is_none());
    let replaced = notes
        .iter()
        .find(|n| n.contains("uses its own"))
        .unwrap_or_else(|| panic!("{notes:#?}"));
    for what in [
        "cluster",
        "networkConfiguration",
        "taskDefinition",
        "clientToken",
    ] {
        assert!(replaced.contains(what), "{what} not in {replaced}");
    }
    // And the entry is a valid run-once job.
    let file = json!({"environment": {"name": "t"}, "apps": [entry]});
    parse(&file).unwrap_or_else(|f| panic!("{}", f.message));
    assert!(schema::fields_of(Kind::Job).contains("run_task_definition"));
}

#[test]
fn what_a_run_once_job_cannot_take_from_a_run_task_document_is_refused() {
    let job = json!({"kind": "job", "name": "migrate", "image": "busybox:1.36"});
    let e = import_run_task(
        "service",
        RUN_TASK,
        json!({"kind": "service", "name": "migrate", "image": "busybox:1.36"}),
    )
    .unwrap_err();
    assert!(e.contains("give run_task_definition to a job"), "{e}");
    let ebs = RUN_TASK.replace(
        r#""clientToken""#,
        r#""volumeConfigurations": [{ "name": "data", "managedEBSVolume": { "sizeInGiB": 20 } }], "clientToken""#,
    );
    let e = import_run_task("ebs", &ebs, job.clone()).unwrap_err();
    assert!(
        e.contains("volumeConfigurations") && e.contains("no managed EBS"),
        "{e}"
    );
    let many = RUN_TASK
        .replace(r#""count": 1"#, r#""count": 2"#)
        .replace(r#""tags""#, r#""enableExecuteCommand": true, "tags""#);
    let e = import_run_task("many", &many, job).unwrap_err();
    assert!(
        e.contains("count") && e.contains("enableExecuteCommand"),
        "{e}"
    );
}
