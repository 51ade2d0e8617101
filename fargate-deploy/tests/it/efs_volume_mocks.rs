//! EFS volumes on an existing file system (issue #12): the AWS CLI JSON import and export of
//! `efsVolumeConfiguration`, its errors with document field paths, and, against
//! aws-smithy-mocks, the exact `RegisterTaskDefinition` request and the no-op re-plan against
//! what ECS describes (its defaults filled in).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fargate_core::{Change, Ownership};
use fargate_deploy::cli_json::{CliJsonError, TaskDefinitionDocument, import_task_definition};
use fargate_deploy::task_definition::task_definition_id;
use fargate_testkit::aws_sdk_ecs as ecs_sdk;
use fargate_testkit::aws_smithy_mocks::mock;
use fargate_testkit::{CallRecorder, aws_sdk_ecs};
use serde_json::{Value, json};

use crate::support::task_definition::{
    Sent, absent, apply, as_described, capturing_register, clients, plan,
};

const FS: &str = "fs-0a1b2c3d4e5f67890";
const AP: &str = "fsap-0a1b2c3d4e5f67890";
const TD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/media-api";

/// A media API whose uploads live on an existing EFS file system, mounted through an access
/// point with IAM authorization, next to a bind mount scratch volume.
fn document() -> Value {
    json!({
        "family": "media-api",
        "taskRoleArn": "arn:aws:iam::123456789012:role/media-api-task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/media-api-exec",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "volumes": [
            { "name": "uploads", "efsVolumeConfiguration": {
                "fileSystemId": FS,
                "transitEncryption": "ENABLED",
                "authorizationConfig": { "accessPointId": AP, "iam": "ENABLED" } } },
            { "name": "scratch", "host": {} }
        ],
        "containerDefinitions": [{
            "name": "api",
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/media-api:1.4.2",
            "essential": true,
            "portMappings": [{ "containerPort": 8080, "protocol": "tcp" }],
            "mountPoints": [
                { "sourceVolume": "uploads", "containerPath": "/var/lib/media/uploads", "readOnly": false },
                { "sourceVolume": "scratch", "containerPath": "/tmp/work" }
            ],
            "logConfiguration": { "logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/media-api", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "api" } }
        }]
    })
}

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("media-api".parse().unwrap())
}

fn with_efs(efs: Value) -> String {
    let mut doc = document();
    doc["volumes"][0]["efsVolumeConfiguration"] = efs;
    doc.to_string()
}

fn invalid_fields(json: &str) -> Vec<(String, String)> {
    match TaskDefinitionDocument::from_json(json).unwrap_err() {
        CliJsonError::Invalid(e) => vec![(e.field.clone(), e.to_string())],
        CliJsonError::InvalidValues(es) => es
            .into_iter()
            .map(|e| (e.field.clone(), e.to_string()))
            .collect(),
        other => panic!("expected invalid values, got {other:?}"),
    }
}

#[test]
fn an_efs_volume_with_an_access_point_and_iam_imports_and_exports_round_trip() {
    let json = document().to_string();
    let doc = TaskDefinitionDocument::from_json(&json).unwrap();
    // Normalized: ECS's default root directory written out, the volumes sorted by name.
    assert_eq!(
        doc.to_json()["volumes"],
        json!([
            { "name": "scratch" },
            { "name": "uploads", "efsVolumeConfiguration": {
                "fileSystemId": FS, "rootDirectory": "/", "transitEncryption": "ENABLED",
                "authorizationConfig": { "accessPointId": AP, "iam": "ENABLED" } } }
        ])
    );
    let spec = doc.to_spec(owner()).unwrap();
    assert_eq!(
        spec.desired_fields("us-east-1").get("volumes"),
        Some(&json!([
            "scratch",
            format!(
                "uploads (efs {FS} root=/ transit_encryption=ENABLED iam=ENABLED access_point={AP})"
            )
        ]))
    );
    // Export, then import again: the same document and the same spec.
    let exported = TaskDefinitionDocument::from_spec(&spec, "us-east-1").unwrap();
    assert_eq!(exported.to_json(), doc.to_json());
    let again = import_task_definition(&exported.to_json().to_string(), owner()).unwrap();
    assert_eq!(
        again.desired_fields("us-east-1"),
        spec.desired_fields("us-east-1")
    );
}

#[test]
fn efs_defaults_and_lower_case_values_import_as_ecs_reads_them() {
    // No transitEncryption: ECS's default, DISABLED (not the builder's default).
    let (doc, _) = TaskDefinitionDocument::from_json_with_report(&with_efs(
        json!({ "fileSystemId": "fs-0123abcd" }),
    ))
    .unwrap();
    let efs = &doc.to_json()["volumes"][1]["efsVolumeConfiguration"];
    assert_eq!(
        efs,
        &json!({ "fileSystemId": "fs-0123abcd", "rootDirectory": "/", "transitEncryption": "DISABLED" })
    );
    // Lower-case ENABLED/DISABLED values are read in upper case, with a note.
    let (doc, report) = TaskDefinitionDocument::from_json_with_report(&with_efs(json!({
        "fileSystemId": FS, "rootDirectory": "/srv/media", "transitEncryption": "enabled",
        "authorizationConfig": { "iam": "enabled" }
    })))
    .unwrap();
    let efs = &doc.to_json()["volumes"][1]["efsVolumeConfiguration"];
    assert_eq!(efs["transitEncryption"], "ENABLED");
    assert_eq!(efs["rootDirectory"], "/srv/media");
    assert_eq!(efs["authorizationConfig"], json!({ "iam": "ENABLED" }));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n
                == "volumes[0].efsVolumeConfiguration.transitEncryption: enabled read as ENABLED"),
        "{:#?}",
        report.notes
    );
}

#[test]
fn invalid_efs_values_are_refused_naming_the_document_field_and_allowed_values() {
    let p = "volumes[0].efsVolumeConfiguration";
    let cases = [
        (
            json!({ "fileSystemId": "fs-12" }),
            "fileSystemId",
            "8 or 17",
        ),
        (
            json!({ "fileSystemId": FS, "transitEncryption": "YES" }),
            "transitEncryption",
            "ENABLED or DISABLED",
        ),
        (
            json!({ "fileSystemId": FS, "transitEncryption": "ENABLED",
                    "authorizationConfig": { "accessPointId": "fsap-1" } }),
            "authorizationConfig.accessPointId",
            "fsap-",
        ),
        (
            json!({ "fileSystemId": FS, "rootDirectory": "/data", "transitEncryption": "ENABLED",
                    "authorizationConfig": { "accessPointId": AP } }),
            "rootDirectory",
            "access point",
        ),
        (
            json!({ "fileSystemId": FS, "rootDirectory": "data" }),
            "rootDirectory",
            "starting with /",
        ),
        (
            json!({ "fileSystemId": FS, "authorizationConfig": { "accessPointId": AP } }),
            "transitEncryption",
            "needs transit encryption",
        ),
        (
            json!({ "fileSystemId": FS, "transitEncryption": "DISABLED",
                    "authorizationConfig": { "iam": "ENABLED" } }),
            "transitEncryption",
            "IAM authorization",
        ),
        (
            json!({ "fileSystemId": FS, "authorizationConfig": { "iam": "on" } }),
            "authorizationConfig.iam",
            "ENABLED or DISABLED",
        ),
    ];
    for (efs, field, says) in cases {
        // Only the EFS field: the container's mount of the volume is not refused too.
        let errors = invalid_fields(&with_efs(efs.clone()));
        assert_eq!(errors.len(), 1, "{efs}: {errors:#?}");
        let (got, message) = &errors[0];
        assert_eq!(got, &format!("{p}.{field}"), "{efs}");
        assert!(message.contains(says), "{efs}: {message}");
    }
    // A missing fileSystemId is a typed error at the configuration's path.
    let errors = invalid_fields(&with_efs(json!({ "rootDirectory": "/" })));
    assert_eq!(errors[0].0, p);
    assert!(errors[0].1.contains("fileSystemId"), "{errors:?}");
}

#[test]
fn unknown_efs_fields_the_port_and_fsx_volumes_stay_refused() {
    let err = TaskDefinitionDocument::from_json(&with_efs(json!({
        "fileSystemId": FS, "transitEncryption": "ENABLED", "transitEncryptionPort": 2999,
        "authorizationConfig": { "accessPointID": AP }
    })))
    .unwrap_err();
    let CliJsonError::Unsupported { fields, hints, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "volumes[0].efsVolumeConfiguration.authorizationConfig.accessPointID",
            "volumes[0].efsVolumeConfiguration.transitEncryptionPort",
        ]
    );
    assert!(
        hints.iter().any(|h| h.starts_with(
            "volumes[0].efsVolumeConfiguration.transitEncryptionPort: not supported yet"
        )),
        "{hints:#?}"
    );
    assert!(
        hints.iter().any(|h| h.contains("accessPointId")),
        "{hints:#?}"
    );

    let mut doc = document();
    doc["volumes"] = json!([
        { "name": "uploads", "configuredAtLaunch": true },
        { "name": "scratch", "fsxWindowsFileServerVolumeConfiguration": { "fileSystemId": "fs-0123abcd" } }
    ]);
    let err = TaskDefinitionDocument::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Unsupported { fields, hints, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    // A volume configured at launch (EBS) is supported: only FSx is listed.
    assert_eq!(
        fields,
        ["volumes[1].fsxWindowsFileServerVolumeConfiguration"]
    );
    assert!(hints.iter().any(|h| h.contains("FSx")), "{hints:#?}");
}

#[tokio::test]
async fn an_imported_efs_volume_is_registered_with_its_configuration_and_then_a_no_op() {
    use ecs_sdk::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use ecs_sdk::operation::register_task_definition::RegisterTaskDefinitionOutput;
    use ecs_sdk::types::{EfsAuthorizationConfigIam, EfsTransitEncryption};
    let spec = || import_task_definition(&document().to_string(), owner()).unwrap();
    let sent = Sent::default();

    // 1. No revision yet: the plan shows the EFS volume, one RegisterTaskDefinition sends it.
    let recorder = CallRecorder::new();
    let absent = absent();
    let register = capturing_register(&sent, TD_ARN);
    let first = clients(&[&absent, &register], &recorder);
    let (created, exe) = plan(&first, spec()).await;
    assert_eq!(created.summary().create, 1, "{created}");
    let shown = created.to_string();
    assert!(shown.contains(&format!("uploads (efs {FS}")), "{shown}");
    apply(&first, exe).await;
    assert_eq!(register.num_calls(), 1);
    assert_eq!(recorder.mutating_calls(), ["ECS.RegisterTaskDefinition"]);

    let input = sent.lock().unwrap().clone().unwrap();
    let volumes = input.volumes();
    assert_eq!(volumes.len(), 2);
    let scratch = volumes
        .iter()
        .find(|v| v.name() == Some("scratch"))
        .unwrap();
    assert!(scratch.efs_volume_configuration().is_none());
    assert!(scratch.host().is_some());
    let uploads = volumes
        .iter()
        .find(|v| v.name() == Some("uploads"))
        .unwrap();
    assert!(uploads.host().is_none(), "an EFS volume has no host");
    let efs = uploads.efs_volume_configuration().unwrap();
    assert_eq!(efs.file_system_id(), FS);
    assert_eq!(efs.root_directory(), Some("/"));
    assert_eq!(
        efs.transit_encryption(),
        Some(&EfsTransitEncryption::Enabled)
    );
    assert_eq!(efs.transit_encryption_port(), None);
    let auth = efs.authorization_config().unwrap();
    assert_eq!(auth.access_point_id(), Some(AP));
    assert_eq!(auth.iam(), Some(&EfsAuthorizationConfigIam::Enabled));
    assert_eq!(
        input.task_role_arn(),
        Some("arn:aws:iam::123456789012:role/media-api-task")
    );
    let mount = &input.container_definitions()[0].mount_points()[1];
    assert_eq!(
        (mount.source_volume(), mount.container_path()),
        (Some("uploads"), Some("/var/lib/media/uploads"))
    );

    // 2. Re-planning against what ECS describes (defaults filled in) registers nothing.
    let described = as_described(&input, TD_ARN);
    let tags = owner().tags();
    let recorder = CallRecorder::new();
    let describe = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some("media-api"))
        .then_output(move || {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(described.clone())
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| ecs_sdk::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build()
        });
    let register_again = mock!(aws_sdk_ecs::Client::register_task_definition)
        .then_output(|| RegisterTaskDefinitionOutput::builder().build());
    let second = clients(&[&describe, &register_again], &recorder);
    let (noop, _) = plan(&second, spec()).await;
    let id = task_definition_id(&"media-api".parse().unwrap());
    assert!(
        matches!(noop.get(&id).unwrap().change, Change::NoOp),
        "{noop}"
    );
    assert!(recorder.mutating_calls().is_empty());

    // 3. IAM authorization turned off: an update of exactly the volumes, shown in the plan.
    let off = document()
        .to_string()
        .replace(r#""iam":"ENABLED""#, r#""iam":"DISABLED""#);
    assert_ne!(off, document().to_string());
    let (update, _) = plan(&second, import_task_definition(&off, owner()).unwrap()).await;
    match &update.get(&id).unwrap().change {
        Change::Update { diffs } => {
            let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
            assert_eq!(fields, ["volumes"]);
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert!(update.to_string().contains("iam=DISABLED"), "{update}");
    assert_eq!(register_again.num_calls(), 0);
}
