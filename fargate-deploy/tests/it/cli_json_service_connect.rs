//! `create-service --cli-input-json` with ECS Service Connect and Cloud Map registries
//! (issue 12): round trips of the Amazon ECS developer guide's Service Connect documents (a
//! server with an alias and proxy logs, a client-only service), their mapping onto an app's
//! `service_connect`, and every field an app cannot express refused by path, with its reason,
//! in one round.

use fargate_deploy::cli_json::{CliJsonError, ImportedService};
use fargate_deploy::service_connect::ServiceConnect;
use serde_json::{Value, json};

/// The developer guide's "Service Connect" tutorial service (nginx published on port 80 with
/// the proxy's logs in CloudWatch), with real-looking ids.
fn server_doc() -> Value {
    json!({
        "cluster": "tutorial",
        "serviceName": "service-connect-nginx-service",
        "taskDefinition": "service-connect-nginx",
        "desiredCount": 1,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": "ENABLED" } },
        "serviceConnectConfiguration": {
            "enabled": true,
            "namespace": "service-connect",
            "services": [{
                "portName": "nginx",
                "discoveryName": "nginx",
                "clientAliases": [{ "port": 80, "dnsName": "nginx.service-connect" }]
            }],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/service-connect-proxy",
                    "awslogs-region": "us-west-2",
                    "awslogs-stream-prefix": "service-connect-proxy"
                }
            }
        },
        "deploymentConfiguration": { "minimumHealthyPercent": 0, "maximumPercent": 200 },
        "enableECSManagedTags": true,
        "propagateTags": "SERVICE",
        "enableExecuteCommand": true
    })
}

#[test]
fn a_service_connect_server_round_trips_and_maps_onto_the_app() {
    let doc = server_doc();
    let svc = ImportedService::from_json(&doc.to_string()).unwrap();
    let sc = svc.service_connect.clone().unwrap();
    assert!(sc.enabled);
    assert_eq!(sc.namespace.as_deref(), Some("service-connect"));
    let published = sc.service.clone().unwrap();
    assert_eq!(published.port_name, "nginx");
    assert_eq!(
        published.client_alias,
        Some((80, Some("nginx.service-connect".to_string())))
    );
    assert_eq!(
        sc.to_app(),
        Some(ServiceConnect {
            port_name: Some("nginx".into()),
            discovery_name: Some("nginx".into()),
            client_alias_port: Some(80),
            dns_name: Some("nginx.service-connect".into()),
            ..ServiceConnect::server()
        })
    );

    let exported = svc.to_json();
    assert_eq!(exported, doc);
    assert_eq!(
        ImportedService::from_json(&exported.to_string()).unwrap(),
        svc
    );
}

#[test]
fn a_client_only_service_round_trips() {
    // The guide's client-side configuration: Service Connect on, no services.
    let doc = json!({
        "serviceName": "client", "taskDefinition": "client:4", "launchType": "FARGATE",
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60718"], "assignPublicIp": "DISABLED" } },
        "serviceConnectConfiguration": { "enabled": true, "namespace": "internal" },
        "deploymentConfiguration": { "minimumHealthyPercent": 100, "maximumPercent": 200 }
    });
    let svc = ImportedService::from_json(&doc.to_string()).unwrap();
    let sc = svc.service_connect.clone().unwrap();
    assert_eq!(sc.service, None);
    assert_eq!(sc.to_app(), Some(ServiceConnect::client_only()));
    assert_eq!(svc.to_json(), doc);

    // Disabled: no Service Connect on the app.
    let mut off = doc.clone();
    off["serviceConnectConfiguration"] = json!({ "enabled": false });
    let svc = ImportedService::from_json(&off.to_string()).unwrap();
    assert_eq!(svc.service_connect.as_ref().unwrap().to_app(), None);
    assert_eq!(svc.to_json(), off);
}

#[test]
fn a_cloud_map_registry_round_trips() {
    let doc = json!({
        "serviceName": "api", "taskDefinition": "api", "launchType": "FARGATE",
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60718"], "assignPublicIp": "DISABLED" } },
        "serviceRegistries": [{
            "registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef"
        }],
        "deploymentConfiguration": { "minimumHealthyPercent": 100, "maximumPercent": 200 }
    });
    let svc = ImportedService::from_json(&doc.to_string()).unwrap();
    assert_eq!(svc.service_registries.len(), 1);
    assert_eq!(svc.service_registries[0].container_port, None);
    assert_eq!(svc.to_json(), doc);
}

#[test]
fn what_an_app_cannot_express_is_refused_by_path_with_the_reason() {
    let mut doc = server_doc();
    doc["serviceConnectConfiguration"]["services"] = json!([
        { "portName": "nginx", "clientAliases": [{ "port": 80 }, { "port": 8080 }],
          "tls": { "issuerCertificateAuthority": { "awsPcaAuthorityArn": "arn:aws:acm-pca:us-west-2:123456789012:certificate-authority/1" } } },
        { "portName": "admin", "timeout": { "idleTimeoutSeconds": 60 } }
    ]);
    doc["serviceConnectConfiguration"]["logConfiguration"]["logDriver"] = json!("fluentd");
    doc["serviceRegistries"] = json!([
        { "registryArn": "arn:aws:servicediscovery:us-west-2:123456789012:service/srv-1" },
        { "registryArn": "arn:aws:servicediscovery:us-west-2:123456789012:service/srv-2" }
    ]);
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Unsupported { fields, hints, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "serviceConnectConfiguration.logConfiguration.logDriver=fluentd",
            "serviceConnectConfiguration.services[0].clientAliases[1]",
            "serviceConnectConfiguration.services[0].tls",
            "serviceConnectConfiguration.services[1]",
            "serviceConnectConfiguration.services[1].timeout",
            "serviceRegistries[1]",
        ]
    );
    assert_eq!(hints.len(), fields.len(), "{hints:?}");
    assert!(
        hints
            .iter()
            .any(|h| h
                .starts_with("serviceConnectConfiguration.services[1]: an app publishes one port")),
        "{hints:?}"
    );
    assert!(
        hints
            .iter()
            .any(|h| h.starts_with("serviceRegistries[1]: an app registers in one")),
        "{hints:?}"
    );
}

#[test]
fn invalid_service_connect_values_are_reported_with_the_others_in_one_round() {
    let mut doc = server_doc();
    doc["serviceConnectConfiguration"]["services"] = json!([
        { "portName": "Nginx Port", "clientAliases": [{ "port": 70000, "dnsName": "nginx" }] }
    ]);
    doc["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = json!(["subnet-EXAMPLE"]);
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let fields = err.fields();
    assert_eq!(
        fields,
        [
            "networkConfiguration.awsvpcConfiguration.subnets[0]",
            "serviceConnectConfiguration.services[0].clientAliases[0].port",
            "serviceConnectConfiguration.services[0].portName",
        ],
        "{err}"
    );
}

/// The task definition of the developer guide's Service Connect tutorial: the nginx
/// container's port mapping is named, with an application protocol.
#[test]
fn a_named_port_mapping_round_trips_through_the_task_definition_document() {
    use fargate_deploy::cli_json::TaskDefinitionDocument;
    let doc = json!({
        "family": "service-connect-nginx",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "runtimePlatform": { "cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX" },
        "containerDefinitions": [{
            "name": "webserver", "image": "public.ecr.aws/docker/library/nginx:latest",
            "essential": true,
            "portMappings": [{ "containerPort": 80, "hostPort": 80, "protocol": "tcp",
                               "name": "nginx", "appProtocol": "http" }]
        }]
    });
    let imported = TaskDefinitionDocument::from_json(&doc.to_string()).unwrap();
    let exported = imported.to_json();
    assert_eq!(
        exported["containerDefinitions"][0]["portMappings"],
        doc["containerDefinitions"][0]["portMappings"]
    );
    assert_eq!(
        TaskDefinitionDocument::from_json(&exported.to_string()).unwrap(),
        imported
    );

    // An unknown protocol is an invalid value; a protocol without a name is unsupported.
    let mut bad = doc.clone();
    bad["containerDefinitions"][0]["portMappings"][0]["appProtocol"] = json!("websocket");
    let err = TaskDefinitionDocument::from_json(&bad.to_string()).unwrap_err();
    assert_eq!(
        err.fields(),
        ["containerDefinitions[0].portMappings[0].appProtocol"]
    );
    let mut unnamed = doc.clone();
    unnamed["containerDefinitions"][0]["portMappings"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let err = TaskDefinitionDocument::from_json(&unnamed.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("an appProtocol is used by Service Connect"),
        "{err}"
    );
}
