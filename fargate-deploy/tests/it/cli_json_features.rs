//! Real task definitions through the AWS CLI JSON import (issue 12): container CPU and memory,
//! `linuxParameters` and `ulimits`, bind mount volumes with `mountPoints` and `volumesFrom`,
//! an optional execution role, and the export of a builder-made spec back to the same JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fargate_core::{Ownership, Ref, TaskSize};
use fargate_deploy::cli_json::{
    CliJsonError, TaskDefinitionDocument, import_task_definition,
    import_task_definition_with_report,
};
use fargate_deploy::task_definition::{ContainerSpec, DependencyCondition, TaskDefinitionSpec};
use serde_json::{Value, json};

const FEATURES: &str = include_str!("fixtures/import/otel_log_router_features.json");
const DESCRIBED: &str = include_str!("fixtures/import/otel_log_router_described.json");
const ERRORS: &str = include_str!("fixtures/import/feature_errors.json");
const RULES: &str = include_str!("fixtures/import/fargate_linux_volume_rules.json");

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("checkout".parse().unwrap())
}

fn has_note(notes: &[String], needle: &str) -> bool {
    notes.iter().any(|n| n.contains(needle))
}

#[test]
fn a_sidecar_task_with_sizes_limits_and_a_shared_volume_imports_and_round_trips() {
    let (doc, report) = TaskDefinitionDocument::from_json_with_report(FEATURES)
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.fields()));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The export is normalized (readOnly false omitted, capabilities and lists sorted) and
    // imports back equal.
    let exported = doc.to_json();
    let checkout = &exported["containerDefinitions"][0];
    assert_eq!(checkout["cpu"], 640);
    assert_eq!(checkout["memory"], 1536);
    assert_eq!(
        checkout["linuxParameters"],
        json!({ "initProcessEnabled": true, "capabilities": { "drop": ["NET_RAW"] } })
    );
    assert_eq!(
        checkout["mountPoints"],
        json!([
            { "sourceVolume": "app-logs", "containerPath": "/var/log/checkout" },
            { "sourceVolume": "scratch", "containerPath": "/tmp" },
        ])
    );
    assert_eq!(
        exported["containerDefinitions"][2]["volumesFrom"],
        json!([{ "sourceContainer": "checkout", "readOnly": true }])
    );
    assert_eq!(
        exported["volumes"],
        json!([{ "name": "app-logs" }, { "name": "scratch" }])
    );
    let again = TaskDefinitionDocument::from_json(&exported.to_string()).unwrap();
    assert_eq!(again, doc);
    assert_eq!(again.to_json(), exported);

    // The spec carries every field, in the plan's normalized form.
    let spec = doc.to_spec(owner()).unwrap();
    let f = spec.desired_fields("us-east-1");
    let field = |name: &str| f.get(name).cloned().unwrap_or(Value::Null);
    assert_eq!(field("container.checkout.cpu"), json!(640));
    assert_eq!(field("container.checkout.memory"), json!(1536));
    assert_eq!(field("container.checkout.memory_reservation"), json!(1024));
    assert_eq!(
        field("container.checkout.linux_parameters"),
        json!({ "init_process_enabled": true, "capabilities_add": [], "capabilities_drop": ["NET_RAW"] })
    );
    assert_eq!(
        field("container.aws-otel-collector.linux_parameters")["capabilities_add"],
        json!(["SYS_PTRACE"])
    );
    assert_eq!(
        field("container.checkout.ulimits"),
        json!(["nofile=65535:65535"])
    );
    assert_eq!(
        field("container.log-router.ulimits"),
        json!(["nofile=4096:8192"])
    );
    assert_eq!(
        field("container.checkout.mount_points"),
        json!(["app-logs:/var/log/checkout", "scratch:/tmp"])
    );
    assert_eq!(
        field("container.log-router.volumes_from"),
        json!(["checkout:ro"])
    );
    assert_eq!(field("container.log-router.cpu"), Value::Null);
    assert_eq!(field("volumes"), json!(["app-logs", "scratch"]));
    assert_eq!(field("cpu_architecture"), json!("ARM64"));
}

#[test]
fn the_describe_output_of_the_same_task_imports_equal_with_ecs_defaults_noted() {
    let (described, report) = TaskDefinitionDocument::from_json_with_report(DESCRIBED)
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.fields()));
    let registered = TaskDefinitionDocument::from_json(FEATURES).unwrap();
    assert_eq!(described, registered);
    for needle in [
        "taskDefinition: a describe-task-definition output, unwrapped",
        "containerDefinitions[2].cpu: 0 (no reservation), ignored",
        "containerDefinitions[2].linuxParameters.initProcessEnabled: false is the default",
        "volumes[0].host",
        "containerDefinitions[0].volumesFrom",
        "requiresAttributes: read-only",
    ] {
        assert!(
            has_note(&report.notes, needle),
            "{needle}: {:#?}",
            report.notes
        );
    }
}

#[test]
fn an_imported_spec_exports_to_the_same_document() {
    let doc = TaskDefinitionDocument::from_json(FEATURES).unwrap();
    let spec = doc.to_spec(owner()).unwrap();
    let exported = TaskDefinitionDocument::from_spec(&spec, "us-east-1").unwrap();
    assert_eq!(exported, doc);
}

#[test]
fn a_builder_made_spec_exports_to_cli_json_and_imports_back_equal() {
    let app = ContainerSpec::new(
        "app",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:3.1"
            .parse()
            .unwrap(),
    )
    .port("8080".parse().unwrap())
    .env("RUST_LOG", "info")
    .secret(
        "DATABASE_URL",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"
            .parse()
            .unwrap(),
    )
    .cpu_units(768)
    .memory_mib(1536)
    .memory_reservation_mib(1024)
    .init_process_enabled(true)
    .drop_capability("NET_RAW")
    .ulimit("nofile", 65535, 1_048_576)
    .mount("cache", "/var/cache/app", false)
    .depends_on("otel", DependencyCondition::Start);
    let otel = ContainerSpec::new(
        "otel",
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
            .parse()
            .unwrap(),
    )
    .essential(false)
    .cpu_units(256)
    .memory_mib(512)
    .add_capability("SYS_PTRACE")
    .volumes_from("app", true);
    let spec = TaskDefinitionSpec::builder(
        "app".parse().unwrap(),
        owner(),
        TaskSize::new(1024, 2048).unwrap(),
        Ref::Known("arn:aws:iam::123456789012:role/app-exec".to_string()),
        app,
    )
    .sidecar(otel)
    .task_role(Ref::Known(
        "arn:aws:iam::123456789012:role/app-task".to_string(),
    ))
    .volume("cache")
    .ephemeral_storage_gib(40)
    .logs("/ecs/prod/app".parse().unwrap(), "app")
    .tags(fargate_core::Tags::try_from_iter([("team", "core")]).unwrap())
    .build()
    .unwrap();

    let doc = TaskDefinitionDocument::from_spec(&spec, "eu-west-1").unwrap();
    let json = doc.to_json().to_string();
    let again = import_task_definition(&json, owner()).unwrap();
    // Equal specs: every field (roles, containers, volumes, tags, ownership, logs) the same.
    assert_eq!(format!("{again:?}"), format!("{spec:?}"));
    assert_eq!(
        again.desired_fields("eu-west-1"),
        spec.desired_fields("eu-west-1")
    );
    // And the document is what the AWS CLI takes.
    let j = doc.to_json();
    assert_eq!(
        j["executionRoleArn"],
        "arn:aws:iam::123456789012:role/app-exec"
    );
    assert_eq!(
        j["containerDefinitions"][0]["ulimits"][0]["hardLimit"],
        1_048_576
    );
    assert_eq!(
        j["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-region"],
        "eu-west-1"
    );
    assert_eq!(j["tags"], json!([{ "key": "team", "value": "core" }]));
}

#[test]
fn every_invalid_value_of_the_new_fields_is_reported_in_one_round_with_its_path() {
    let err = TaskDefinitionDocument::from_json(ERRORS).unwrap_err();
    assert!(matches!(err, CliJsonError::InvalidValues(_)), "{err:?}");
    assert_eq!(
        err.fields(),
        [
            "executionRoleArn",
            "containerDefinitions[0].memory",
            "containerDefinitions[0].linuxParameters.capabilities.add[0]",
            "containerDefinitions[0].ulimits[0]",
            "containerDefinitions[0].ulimits[1].name",
            "containerDefinitions[0].mountPoints[0].sourceVolume",
            "containerDefinitions[0].mountPoints[1].containerPath",
            "containerDefinitions[1].memoryReservation",
            "containerDefinitions[1].volumesFrom[0].sourceContainer",
            "containerDefinitions[].cpu",
        ]
    );
    let CliJsonError::InvalidValues(errors) = err else {
        unreachable!()
    };
    let reason = |field: &str| {
        let e = errors.iter().find(|e| e.field == field).unwrap();
        format!("{}; allowed: {}", e.reason, e.allowed)
    };
    assert!(
        reason("executionRoleArn").contains("containerDefinitions[0].secrets"),
        "{}",
        reason("executionRoleArn")
    );
    assert!(
        reason("containerDefinitions[0].linuxParameters.capabilities.add[0]")
            .contains("Fargate rule")
    );
    assert!(reason("containerDefinitions[0].ulimits[1].name").contains("nofile"));
    assert!(reason("containerDefinitions[0].ulimits[0]").contains("softLimit <= hardLimit"));
    assert!(reason("containerDefinitions[0].mountPoints[0].sourceVolume").contains("data"));
    assert!(reason("containerDefinitions[].cpu").contains("Fargate rule"));
    assert!(reason("containerDefinitions[].cpu").contains("at most 512"));
}

#[test]
fn linux_parameters_and_volume_kinds_fargate_refuses_name_the_rule() {
    let err = TaskDefinitionDocument::from_json(RULES).unwrap_err();
    let CliJsonError::Unsupported { fields, hints, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "containerDefinitions[0].linuxParameters.devices",
            "containerDefinitions[0].linuxParameters.maxSwap",
            "containerDefinitions[0].linuxParameters.sharedMemorySize",
            "containerDefinitions[0].linuxParameters.swappiness",
            "containerDefinitions[0].linuxParameters.tmpfs",
            "volumes[0].host.sourcePath",
            "volumes[3].dockerVolumeConfiguration",
        ]
    );
    assert_eq!(hints.len(), fields.len(), "{hints:#?}");
    for name in [
        "devices",
        "maxSwap",
        "sharedMemorySize",
        "swappiness",
        "tmpfs",
    ] {
        let hint = format!(
            "containerDefinitions[0].linuxParameters.{name}: Fargate rule: Fargate does not support linuxParameters.{name}"
        );
        assert!(hints.contains(&hint), "{hint}: {hints:#?}");
    }
    let hint = |prefix: &str| {
        hints
            .iter()
            .find(|h| h.starts_with(prefix))
            .unwrap()
            .clone()
    };
    assert!(hint("volumes[0].host.sourcePath: Fargate rule").contains("no host paths"));
    // The EFS volume (volumes[1]) is supported since issue #12: neither listed nor hinted.
    assert!(
        !hints.iter().any(|h| h.starts_with("volumes[1]")),
        "{hints:#?}"
    );
    // A volume configured at launch (volumes[2], EBS) is supported too.
    assert!(
        !hints.iter().any(|h| h.starts_with("volumes[2]")),
        "{hints:#?}"
    );
    assert!(hint("volumes[3].dockerVolumeConfiguration: Fargate rule").contains("Docker volumes"));
}

#[test]
fn a_missing_execution_role_is_accepted_when_no_container_needs_one() {
    let public = r#"{ "family": "job", "cpu": "256", "memory": "512",
        "containerDefinitions": [{ "name": "job", "image": "public.ecr.aws/docker/library/busybox:1.36",
                                   "cpu": 128, "memory": 256 }] }"#;
    let (spec, report) = import_task_definition_with_report(public, owner()).unwrap();
    assert_eq!(
        spec.desired_fields("us-east-1").get("execution_role_arn"),
        Some(&Value::Null)
    );
    assert!(
        has_note(&report.notes, "executionRoleArn: absent")
            && has_note(&report.notes, "the app builders")
            && has_note(&report.notes, "always create their own execution role"),
        "{:#?}",
        report.notes
    );
    // Each container field that needs the role is named.
    let needing: Value = json!({ "family": "job", "cpu": "256", "memory": "512",
        "containerDefinitions": [
            { "name": "job", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1",
              "logConfiguration": { "logDriver": "awslogs", "options": {
                  "awslogs-group": "/ecs/job", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "job" } } },
            { "name": "side", "image": "busybox:1.36", "essential": false,
              "secrets": [{ "name": "TOKEN", "valueFrom": "/job/token" }],
              "logConfiguration": { "logDriver": "awslogs", "options": {
                  "awslogs-group": "/ecs/job", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "job" } } } ] });
    let err = TaskDefinitionDocument::from_json(&needing.to_string()).unwrap_err();
    let CliJsonError::Invalid(e) = err else {
        panic!("expected one invalid value, got {err:?}");
    };
    assert_eq!(e.field, "executionRoleArn");
    for needle in [
        "containerDefinitions[0].logConfiguration (awslogs)",
        "containerDefinitions[0].image (a private ECR image)",
        "containerDefinitions[1].secrets",
    ] {
        assert!(e.reason.contains(needle), "{needle}: {e}");
    }
}

#[test]
fn container_cpu_and_memory_that_fit_are_accepted_and_a_zero_cpu_is_a_no_op() {
    let doc = json!({ "family": "w", "cpu": "512", "memory": "1024",
        "executionRoleArn": "arn:aws:iam::123456789012:role/w-exec",
        "containerDefinitions": [
            { "name": "w", "image": "nginx:1.27", "cpu": 512, "memory": 1024 },
            { "name": "s", "image": "busybox:1.36", "essential": false, "cpu": 0 } ] });
    let (doc, report) = TaskDefinitionDocument::from_json_with_report(&doc.to_string()).unwrap();
    assert!(has_note(&report.notes, "containerDefinitions[1].cpu: 0"));
    assert!(
        doc.to_json()["containerDefinitions"][1]
            .get("cpu")
            .is_none()
    );
    assert_eq!(doc.to_json()["containerDefinitions"][0]["cpu"], 512);
}
