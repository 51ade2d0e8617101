//! Lenient, honest import of real-world task definitions: no-op fields noted, sizes
//! normalized, describe outputs unwrapped, every error in one round with its field path and
//! reason, credential-looking plain values warned about.

use fargate_core::Ownership;
use fargate_deploy::cli_json::{
    CliJsonError, ImportReport, ImportedService, TaskDefinitionDocument,
    import_task_definition_with_report,
};
use serde_json::json;

const NGINX: &str = include_str!("fixtures/import/nginx_tutorial.json");
const DESCRIBE: &str = include_str!("fixtures/import/describe_output.json");
const DUAL_SIZES: &str = include_str!("fixtures/import/dual_compat_sizes.json");
const ARM64: &str = include_str!("fixtures/import/arm64_lowercase.json");
const OTEL: &str = include_str!("fixtures/import/otel_sidecar.json");
const CREDENTIALS: &str = include_str!("fixtures/import/credentials_in_env.json");
const WORKER: &str = include_str!("fixtures/import/worker_no_ports.json");
const HEALTH: &str = include_str!("fixtures/import/web_healthcheck.json");
const MANY_ERRORS: &str = include_str!("fixtures/import/many_errors.json");
const FARGATE_RULES: &str = include_str!("fixtures/import/fargate_rules.json");

const VALID: [(&str, &str); 8] = [
    ("nginx_tutorial", NGINX),
    ("describe_output", DESCRIBE),
    ("dual_compat_sizes", DUAL_SIZES),
    ("arm64_lowercase", ARM64),
    ("otel_sidecar", OTEL),
    ("credentials_in_env", CREDENTIALS),
    ("worker_no_ports", WORKER),
    ("web_healthcheck", HEALTH),
];

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap())
}

fn import(json: &str) -> (TaskDefinitionDocument, ImportReport) {
    TaskDefinitionDocument::from_json_with_report(json).unwrap()
}

fn has_note(report: &ImportReport, needle: &str) -> bool {
    report.notes.iter().any(|n| n.contains(needle))
}

#[test]
fn every_realistic_document_imports_and_its_export_round_trips() {
    for (name, json) in VALID {
        let (doc, _) = TaskDefinitionDocument::from_json_with_report(json)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let exported = doc.to_json().to_string();
        let (again, report) = import(&exported);
        assert_eq!(again, doc, "{name}");
        assert_eq!(again.to_json(), doc.to_json(), "{name}");
        assert!(report.warnings.len() <= 2, "{name}");
        import_task_definition_with_report(json, owner()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn no_op_fields_of_the_nginx_tutorial_are_accepted_with_notes() {
    let (doc, report) = import(NGINX);
    for field in [
        "containerDefinitions[0].cpu: 0",
        "awslogs-create-group",
        "volumes",
        "placementConstraints",
        "containerDefinitions[0].mountPoints",
        "containerDefinitions[0].environment",
    ] {
        assert!(has_note(&report, field), "{field}: {:?}", report.notes);
    }
    let options = &doc.to_json()["containerDefinitions"][0]["logConfiguration"]["options"];
    assert_eq!(
        options["awslogs-region"], "us-east-1",
        "the region is kept as given"
    );
    assert!(has_note(&report, "awslogs-region: us-east-1"));
}

#[test]
fn a_describe_output_is_unwrapped_and_its_read_only_fields_noted() {
    let (doc, report) = import(DESCRIBE);
    assert!(has_note(
        &report,
        "taskDefinition: a describe-task-definition output, unwrapped"
    ));
    for field in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ] {
        assert!(has_note(&report, &format!("{field}: read-only")), "{field}");
    }
    assert_eq!(doc.family(), "orders");
    assert_eq!(
        doc.to_json()["tags"],
        json!([{ "key": "team", "value": "orders" }])
    );
}

#[test]
fn dual_compatibility_and_size_strings_are_normalized_with_notes() {
    let (doc, report) = import(DUAL_SIZES);
    let j = doc.to_json();
    assert_eq!(j["cpu"], "1024");
    assert_eq!(j["memory"], "2048");
    assert_eq!(j["requiresCompatibilities"], json!(["FARGATE"]));
    assert!(has_note(&report, "cpu: 1 vCPU normalized to \"1024\""));
    assert!(has_note(&report, "memory: 2 GB normalized to \"2048\""));
    assert!(has_note(
        &report,
        "requiresCompatibilities: [\"EC2\",\"FARGATE\"]"
    ));
    assert!(has_note(&report, "containerDefinitions[0].dockerLabels"));
    assert!(has_note(
        &report,
        "containerDefinitions[0].workingDirectory"
    ));
}

#[test]
fn a_lower_case_arm64_deploys_as_arm64_with_a_note() {
    let (spec, report) = import_task_definition_with_report(ARM64, owner()).unwrap();
    let f = spec.desired_fields("eu-west-1");
    assert_eq!(f.get("cpu_architecture"), Some(&json!("ARM64")));
    assert_eq!(f.get("cpu"), Some(&json!("512")));
    assert!(has_note(
        &report,
        "runtimePlatform.cpuArchitecture: arm64 read as ARM64"
    ));
    assert!(has_note(
        &report,
        "runtimePlatform.operatingSystemFamily: linux read as LINUX"
    ));
}

#[test]
fn credential_looking_plain_values_are_warned_about_by_field() {
    let (_, report) = import(CREDENTIALS);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(
        report.warnings[0].starts_with("containerDefinitions[0].environment[0] (DATABASE_URL)")
    );
    assert!(report.warnings[0].contains("secret"));
    assert!(
        report.warnings[1]
            .starts_with("containerDefinitions[0].environment[1] (AWS_ACCESS_KEY_ID)")
    );
    let (_, clean) = import(OTEL);
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
}

#[test]
fn every_invalid_value_is_reported_in_one_round_with_its_field() {
    let err = TaskDefinitionDocument::from_json(MANY_ERRORS).unwrap_err();
    assert!(matches!(err, CliJsonError::InvalidValues(_)), "{err:?}");
    assert_eq!(
        err.fields(),
        [
            "executionRoleArn",
            "taskRoleArn",
            "containerDefinitions[1].portMappings[0].containerPort",
            "runtimePlatform.cpuArchitecture",
        ]
    );
    let text = err.to_string();
    assert!(text.contains("<account-id>"), "{text}");
    assert!(text.contains("X86_64 or ARM64"), "{text}");
}

#[test]
fn fargate_rules_unsupported_and_misspelled_fields_read_differently() {
    let err = TaskDefinitionDocument::from_json(FARGATE_RULES).unwrap_err();
    let CliJsonError::Unsupported { fields, hints, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "containerDefinitions[0].essentail",
            "containerDefinitions[0].portMappings[0].hostPort=8080",
            "networkMode=bridge",
        ]
    );
    assert_eq!(
        hints,
        [
            "containerDefinitions[0].essentail: unknown field, did you mean essential?",
            "containerDefinitions[0].portMappings[0].hostPort=8080: Fargate rule: hostPort must equal containerPort (awsvpc)",
            "networkMode=bridge: Fargate rule: networkMode must be awsvpc",
        ]
    );
}

#[test]
fn an_unsupported_field_says_not_supported_yet() {
    let json = r#"{ "family": "w", "cpu": "256", "memory": "512",
      "executionRoleArn": "arn:aws:iam::123456789012:role/w-exec",
      "containerDefinitions": [{ "name": "w", "image": "nginx:1.27",
        "logConfiguration": { "logDriver": "splunk", "options": {} } }] }"#;
    let CliJsonError::Unsupported { hints, .. } =
        TaskDefinitionDocument::from_json(json).unwrap_err()
    else {
        panic!("expected Unsupported");
    };
    assert_eq!(
        hints,
        [
            "containerDefinitions[0].logConfiguration.logDriver=splunk: not supported yet: only the awslogs log driver"
        ]
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_field_path() {
    let json = r#"{ "family": "web", "cpu": "256", "memory": "512",
        "executionRoleArn": "arn:aws:iam::123456789012:role/web-exec",
        "containerDefinitions": [{ "name": "web", "image": "nginx:1.27",
            "portMappings": [{ "containerPort": "eighty" }] }] }"#;
    match TaskDefinitionDocument::from_json(json) {
        Err(CliJsonError::Invalid(e)) => {
            assert_eq!(
                e.field,
                "containerDefinitions[0].portMappings[0].containerPort"
            );
            assert!(e.reason.contains("invalid type"), "{e}");
            assert!(e.allowed.contains("register-task-definition"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_describe_services_output_imports_with_ecs_defaults_and_read_only_fields_noted() {
    let json = r#"{ "services": [{
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
        "serviceName": "web", "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
        "desiredCount": 3, "runningCount": 3, "pendingCount": 0, "status": "ACTIVE",
        "launchType": "FARGATE", "schedulingStrategy": "REPLICA",
        "deploymentController": { "type": "ECS" }, "serviceRegistries": [],
        "placementConstraints": [], "events": [], "deployments": [],
        "createdAt": "2026-11-30T10:00:00Z", "createdBy": "arn:aws:iam::123456789012:role/admin",
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-0123456789abcdef0"], "assignPublicIp": "DISABLED" } } }] }"#;
    let (service, report) = ImportedService::from_json_with_report(json)
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.fields()));
    assert_eq!(service.desired_count, Some(3));
    for needle in [
        "services: a describe-services output",
        "schedulingStrategy: REPLICA",
        "deploymentController: {type: ECS}",
        "serviceArn: read-only",
        "runningCount: read-only",
        "createdBy: read-only",
        "empty or null, ignored",
    ] {
        assert!(has_note(&report, needle), "{needle}: {:#?}", report.notes);
    }
    // A non-default controller is still refused, naming the field.
    let blue_green = json.replace(r#"{ "type": "ECS" }"#, r#"{ "type": "CODE_DEPLOY" }"#);
    match ImportedService::from_json(&blue_green) {
        Err(CliJsonError::Unsupported { fields, .. }) => {
            assert!(
                fields.iter().any(|f| f.starts_with("deploymentController")),
                "{fields:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn placeholder_subnets_groups_and_target_groups_are_refused_in_one_round() {
    let json = r#"{ "serviceName": "web", "taskDefinition": "web:1",
        "loadBalancers": [{ "targetGroupArn": "arn:aws:elasticloadbalancing:...",
                            "containerName": "web", "containerPort": 80 }],
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-12345", "subnet-0123456789abcdef0"],
            "securityGroups": ["sg-xxxxxxxx"] } } }"#;
    match ImportedService::from_json(json) {
        Err(e @ CliJsonError::InvalidValues(_)) => {
            assert_eq!(
                e.fields(),
                [
                    "networkConfiguration.awsvpcConfiguration.subnets[0]",
                    "networkConfiguration.awsvpcConfiguration.securityGroups[0]",
                    "loadBalancers[0].targetGroupArn",
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}
