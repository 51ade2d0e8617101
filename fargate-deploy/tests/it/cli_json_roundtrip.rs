//! AWS CLI JSON import/export: round trips on realistic documents, and unsupported fields.

use fargate_core::{Ownership, SecretKind};
use fargate_deploy::cli_json::{
    CliJsonError, ImportedService, TaskDefinitionDocument, export_overrides, import_overrides,
    import_task_definition,
};
use fargate_deploy::service::Capacity;
use serde_json::{Value, json};

const TASK_DEFINITION: &str = include_str!("fixtures/cli_task_definition.json");
const UNSUPPORTED: &str = include_str!("fixtures/cli_task_definition_unsupported.json");
const SERVICE: &str = include_str!("fixtures/cli_create_service.json");
const OVERRIDES: &str = include_str!("fixtures/cli_run_task_overrides.json");

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("orders".parse().unwrap())
}

#[test]
fn task_definition_export_of_import_is_the_normalized_document() {
    let doc = TaskDefinitionDocument::from_json(TASK_DEFINITION).unwrap();
    let mut expected: Value = serde_json::from_str(TASK_DEFINITION).unwrap();
    // Normalizations: env/secrets sorted by name, tags by key, sidecar essential and port
    // mapping filled in.
    expected["containerDefinitions"][0]["environment"] = json!([
        { "name": "APP_ENV", "value": "prod" },
        { "name": "RUST_LOG", "value": "info" }
    ]);
    expected["containerDefinitions"][0]["secrets"] = json!([
        { "name": "API_KEY", "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/orders/api-key" },
        { "name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/db-AbCdEf:password::" }
    ]);
    expected["containerDefinitions"][1]["portMappings"] =
        json!([{ "containerPort": 4317, "hostPort": 4317, "protocol": "tcp" }]);
    expected["tags"] = json!([
        { "key": "cost-center", "value": "cc-42" },
        { "key": "team", "value": "payments" }
    ]);
    assert_eq!(doc.to_json(), expected);
    assert_eq!(doc.family(), "prod-orders");
    assert_eq!(doc.log_region(), Some("eu-west-1"));
}

#[test]
fn task_definition_import_of_export_is_identity() {
    let doc = TaskDefinitionDocument::from_json(TASK_DEFINITION).unwrap();
    let again = TaskDefinitionDocument::from_json(&doc.to_json().to_string()).unwrap();
    assert_eq!(again, doc);
}

#[test]
fn task_definition_imports_into_a_spec_with_every_field() {
    let spec = import_task_definition(TASK_DEFINITION, owner()).unwrap();
    assert_eq!(spec.family().as_str(), "prod-orders");
    let names: Vec<&str> = spec.containers().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["app", "otel"]);
    let f = spec.desired_fields("eu-west-1");
    assert_eq!(f.get("cpu"), Some(&json!("1024")));
    assert_eq!(f.get("memory"), Some(&json!("2048")));
    assert_eq!(f.get("cpu_architecture"), Some(&json!("ARM64")));
    assert_eq!(f.get("ephemeral_storage_gib"), Some(&json!(40)));
    assert_eq!(
        f.get("execution_role_arn"),
        Some(&json!("arn:aws:iam::123456789012:role/prod-orders-exec"))
    );
    assert_eq!(
        f.get("task_role_arn"),
        Some(&json!("arn:aws:iam::123456789012:role/prod-orders-task"))
    );
    assert_eq!(
        f.get("container.app.secrets.DB_PASSWORD"),
        Some(&json!(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/db-AbCdEf:password::"
        ))
    );
    assert_eq!(
        f.get("container.app.secrets.API_KEY"),
        Some(&json!(
            "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/orders/api-key"
        ))
    );
    assert_eq!(
        f.get("container.app.health_check"),
        Some(&json!({
            "command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
            "interval": 15, "timeout": 5, "retries": 3, "start_period": 60
        }))
    );
    assert_eq!(
        f.get("container.otel.log"),
        Some(&json!({ "driver": "awslogs", "options": {
            "awslogs-group": "/ecs/prod/orders",
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "orders"
        }}))
    );
    assert_eq!(f.get("container.app.ports"), Some(&json!(["8080/tcp"])));
    assert_eq!(
        f.get("container.app.depends_on"),
        Some(&json!(["otel:START"]))
    );
    assert_eq!(
        f.get("container.app.readonly_root_filesystem"),
        Some(&json!(true))
    );
    assert_eq!(f.get("container.otel.essential"), Some(&json!(false)));
    assert_eq!(
        f.get("container.otel.memory_reservation"),
        Some(&json!(256))
    );
    let secret: fargate_core::SecretRef =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/db-AbCdEf:password::"
            .parse()
            .unwrap();
    assert_eq!(secret.kind(), SecretKind::SecretsManager);
}

#[test]
fn unsupported_and_misspelled_fields_are_all_listed_in_one_error() {
    let err = TaskDefinitionDocument::from_json(UNSUPPORTED).unwrap_err();
    match err {
        CliJsonError::Unsupported {
            document, fields, ..
        } => {
            assert_eq!(document, "register-task-definition");
            assert_eq!(
                fields,
                // (The fixture's EFS volume is supported now: not listed.)
                ["containerDefinitons", "placementConstraints"]
            );
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn unsupported_values_and_nested_fields_are_listed_with_their_paths() {
    let doc = json!({
        "family": "x", "executionRoleArn": "arn:aws:iam::123456789012:role/x", "cpu": "256", "memory": "512",
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [{
            "name": "app", "image": "nginx:1.27",
            "linuxParameters": { "initProcessEnabled": true, "sharedMemorySize": 64 },
            "portMappings": [{ "containerPort": 80, "hostPort": 8080, "protocol": "udp", "appProtocol": "http" }],
            "logConfiguration": { "logDriver": "awsfirelens", "options": { "Name": "cloudwatch" } }
        }]
    });
    let err = TaskDefinitionDocument::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Unsupported { fields, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "containerDefinitions[0].linuxParameters.sharedMemorySize",
            "containerDefinitions[0].logConfiguration.logDriver=awsfirelens",
            "containerDefinitions[0].logConfiguration.options.Name",
            "containerDefinitions[0].portMappings[0].appProtocol",
            "containerDefinitions[0].portMappings[0].hostPort=8080",
            "containerDefinitions[0].portMappings[0].protocol=udp",
            "networkMode=bridge",
            "requiresCompatibilities[0]=\"EC2\"",
        ]
    );
}

#[test]
fn invalid_values_are_reported_by_field() {
    let doc = json!({
        "family": "x", "executionRoleArn": "arn:aws:iam::123456789012:role/x", "cpu": "300", "memory": "512",
        "containerDefinitions": [{ "name": "app", "image": "nginx:1.27" }]
    });
    let err = TaskDefinitionDocument::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Invalid(v) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(v.field, "cpu");
    let no_role = json!({
        "family": "x", "cpu": "256", "memory": "512",
        "containerDefinitions": [{ "name": "app", "image": "nginx:1.27",
            "secrets": [{ "name": "TOKEN", "valueFrom": "/x/token" }] }]
    });
    let err = TaskDefinitionDocument::from_json(&no_role.to_string()).unwrap_err();
    let CliJsonError::Invalid(v) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(v.field, "executionRoleArn");
}

#[test]
fn create_service_round_trips_with_every_field_mapped() {
    let svc = ImportedService::from_json(SERVICE).unwrap();
    assert_eq!(svc.name.as_str(), "prod-orders");
    assert_eq!(svc.desired_count, Some(3));
    assert_eq!(svc.subnets, ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]);
    assert_eq!(svc.security_groups, ["sg-0123456789abcdef0"]);
    assert!(!svc.assign_public_ip);
    assert_eq!(svc.load_balancers[0].container_port, 8080);
    assert_eq!(
        svc.service_registries[0].container_name.as_deref(),
        Some("app")
    );
    assert_eq!(svc.health_check_grace_period, Some(60));
    assert_eq!(svc.minimum_healthy_percent, 50);
    assert_eq!(svc.maximum_percent, 200);
    assert_eq!(
        svc.capacity,
        Capacity {
            spot_weight: 3,
            on_demand_weight: 1,
            on_demand_base: 2
        }
    );
    assert!(svc.circuit_breaker.is_some_and(|c| c.enable && c.rollback));
    assert!(svc.enable_execute_command);
    assert_eq!(svc.tags.get("team"), Some("payments"));

    let exported = svc.to_json();
    let original: Value = serde_json::from_str(SERVICE).unwrap();
    assert_eq!(exported, original);
    assert_eq!(
        ImportedService::from_json(&exported.to_string()).unwrap(),
        svc
    );
}

#[test]
fn create_service_defaults_are_normalized() {
    let doc = json!({
        "serviceName": "web", "taskDefinition": "web",
        "launchType": "FARGATE",
        "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } }
    });
    let svc = ImportedService::from_json(&doc.to_string()).unwrap();
    assert_eq!(svc.capacity, Capacity::default());
    assert_eq!(
        svc.to_json(),
        json!({
            "serviceName": "web", "taskDefinition": "web", "launchType": "FARGATE",
            "networkConfiguration": { "awsvpcConfiguration": {
                "subnets": ["subnet-0123456789abcdef0"], "assignPublicIp": "DISABLED" } },
            "deploymentConfiguration": { "minimumHealthyPercent": 100, "maximumPercent": 200 }
        })
    );
}

#[test]
fn create_service_with_ec2_and_placement_lists_every_field() {
    let doc = json!({
        "serviceName": "web", "taskDefinition": "web", "launchType": "EC2",
        "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } },
        "placementConstraints": [{ "type": "distinctInstance" }],
        "placementStrategy": [{ "type": "spread", "field": "attribute:ecs.availability-zone" }],
        "deploymentConfiguration": { "alarms": { "alarmNames": ["a"], "enable": true, "rollback": true } }
    });
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Unsupported {
        document, fields, ..
    } = err
    else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(document, "create-service");
    assert_eq!(
        fields,
        [
            "deploymentConfiguration.alarms",
            "launchType=EC2",
            "placementConstraints",
            "placementStrategy"
        ]
    );
}

#[test]
fn run_task_overrides_round_trip() {
    let overrides = import_overrides(OVERRIDES).unwrap();
    assert_eq!(overrides.len(), 2);
    assert_eq!(overrides[0].name, "app");
    assert_eq!(
        overrides[0].environment.get("MODE").map(String::as_str),
        Some("full")
    );
    assert_eq!(
        overrides[0].command.as_deref(),
        Some(&["migrate".to_string(), "--to".into(), "42".into()][..])
    );
    assert_eq!(
        (overrides[0].cpu, overrides[0].memory),
        (Some(512), Some(1024))
    );
    let exported = export_overrides(&overrides);
    let mut expected: Value = serde_json::from_str(OVERRIDES).unwrap();
    expected["containerOverrides"][0]["environment"] = json!([
        { "name": "DRY_RUN", "value": "false" },
        { "name": "MODE", "value": "full" }
    ]);
    assert_eq!(exported, expected);
    assert_eq!(import_overrides(&exported.to_string()).unwrap(), overrides);
}

#[test]
fn run_task_task_level_overrides_are_unsupported() {
    let doc = json!({
        "cpu": "1024",
        "taskRoleArn": "arn:aws:iam::123456789012:role/x",
        "containerOverrides": [{ "name": "app", "environmentFiles": [{ "value": "arn:aws:s3:::b/f.env", "type": "s3" }] }]
    });
    let err = import_overrides(&doc.to_string()).unwrap_err();
    let CliJsonError::Unsupported { fields, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "containerOverrides[0].environmentFiles",
            "cpu",
            "taskRoleArn"
        ]
    );
}

#[test]
fn malformed_json_is_a_json_error_and_converts_into_the_core_error() {
    let err = import_overrides("{ not json").unwrap_err();
    assert!(matches!(err, CliJsonError::Json(_)));
    let core: fargate_core::Error = err.into();
    assert!(matches!(core, fargate_core::Error::Failed { .. }));
}

#[test]
fn different_log_configurations_per_container_are_rejected() {
    let log = |prefix: &str| {
        json!({ "logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/x", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": prefix } })
    };
    let doc = json!({
        "family": "x", "executionRoleArn": "arn:aws:iam::123456789012:role/x", "cpu": "256", "memory": "512",
        "containerDefinitions": [
            { "name": "app", "image": "nginx:1.27", "logConfiguration": log("app") },
            { "name": "side", "image": "busybox:1.36", "essential": false, "logConfiguration": log("side") }
        ]
    });
    let err = TaskDefinitionDocument::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Invalid(v) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(v.field, "containerDefinitions[].logConfiguration");
}

#[test]
fn launch_type_with_capacity_strategy_is_rejected() {
    let doc = json!({
        "serviceName": "web", "taskDefinition": "web", "launchType": "FARGATE",
        "capacityProviderStrategy": [{ "capacityProvider": "FARGATE_SPOT", "weight": 1 }],
        "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } }
    });
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Invalid(v) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(v.field, "launchType");
}
