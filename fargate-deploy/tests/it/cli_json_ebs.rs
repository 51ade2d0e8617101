//! AWS CLI JSON import/export of managed EBS volumes (issue #12): the AWS docs' example (a
//! task definition volume `configuredAtLaunch: true`, the service's `volumeConfigurations`)
//! round trips; the document's `roleArn` is noted as replaced by the app's own role; the
//! fields the library lacks are refused with their reasons, with the document's other errors.

use fargate_core::Ownership;
use fargate_deploy::cli_json::{
    CliJsonError, ImportedService, TaskDefinitionDocument, import_task_definition,
};
use fargate_deploy::ebs::EbsVolume;
use serde_json::{Value, json};

/// The ECS developer guide's EBS example ("Specify Amazon EBS volume configuration at
/// deployment"), with a 12-digit account and the network a create-service needs.
const TASK_DEFINITION: &str = include_str!("fixtures/cli_ebs_task_definition.json");
const SERVICE: &str = include_str!("fixtures/cli_ebs_create_service.json");

#[test]
fn a_task_definition_volume_configured_at_launch_round_trips() {
    let doc = TaskDefinitionDocument::from_json(TASK_DEFINITION).unwrap();
    assert_eq!(
        doc.to_json()["volumes"],
        json!([{ "name": "myEbsVolume", "configuredAtLaunch": true }])
    );
    let again = TaskDefinitionDocument::from_json(&doc.to_json().to_string()).unwrap();
    assert_eq!(again, doc);
    let owner = Ownership::new("prod".parse().unwrap()).with_app("mysvc".parse().unwrap());
    let spec = import_task_definition(TASK_DEFINITION, owner).unwrap();
    let fields = serde_json::to_string(&spec.desired_fields("us-east-1")).unwrap();
    assert!(
        fields.contains("myEbsVolume (configured at launch)"),
        "{fields}"
    );
    // The spec exports the same document.
    let exported = TaskDefinitionDocument::from_spec(&spec, "us-east-1").unwrap();
    assert_eq!(exported.to_json()["volumes"], doc.to_json()["volumes"]);
}

#[test]
fn a_volume_configured_at_launch_with_an_efs_configuration_is_refused() {
    let mut doc: Value = serde_json::from_str(TASK_DEFINITION).unwrap();
    doc["volumes"][0]["efsVolumeConfiguration"] = json!({ "fileSystemId": "fs-0123456789abcdef0" });
    // One error: the volume's; its mount is not refused too.
    let err = TaskDefinitionDocument::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Invalid(v) = err else {
        panic!("expected one Invalid, got {err:?}");
    };
    assert_eq!(v.field, "volumes[0].configuredAtLaunch");
    assert!(v.to_string().contains("managed EBS volume"), "{v}");
}

#[test]
fn the_services_volume_configuration_maps_every_field_notes_the_role_and_round_trips() {
    let (svc, report) = ImportedService::from_json_with_report(SERVICE).unwrap();
    let [v] = svc.ebs_volumes.as_slice() else {
        panic!("one volume: {:?}", svc.ebs_volumes)
    };
    assert_eq!(v.name, "myEbsVolume");
    assert_eq!(
        v.ebs,
        EbsVolume::new(100)
            .iops(3000)
            .throughput(125)
            .filesystem_type("ext4")
    );
    assert_eq!(
        v.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/ecsInfrastructureRole")
    );
    let note = |start: &str| {
        report
            .notes
            .iter()
            .find(|n| n.starts_with(start))
            .unwrap_or_else(|| panic!("{start}: {:#?}", report.notes))
            .clone()
    };
    assert!(
        note("volumeConfigurations[0].managedEBSVolume.roleArn:")
            .contains("the app's own ECS infrastructure role (<env>-<app>-ecs-ebs")
    );
    assert!(note("volumeConfigurations[0].managedEBSVolume.encrypted: absent").contains("true"));

    // Export: the document's configuration, with the defaults written out.
    let original: Value = serde_json::from_str(SERVICE).unwrap();
    let mut expected = original["volumeConfigurations"].clone();
    expected[0]["managedEBSVolume"]["encrypted"] = json!(true);
    let exported = svc.to_json();
    assert_eq!(exported["volumeConfigurations"], expected);
    let again = ImportedService::from_json(&exported.to_string()).unwrap();
    assert_eq!(again, svc);

    // Every field the library has.
    let full = json!({
        "serviceName": "db", "taskDefinition": "db:1",
        "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } },
        "volumeConfigurations": [{ "name": "data", "managedEBSVolume": {
            "volumeType": "io2", "sizeInGiB": 500, "iops": 20000, "filesystemType": "xfs",
            "snapshotId": "snap-0123456789abcdef0", "encrypted": true,
            "kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        } }]
    });
    let svc = ImportedService::from_json(&full.to_string()).unwrap();
    assert_eq!(
        svc.ebs_volumes[0].ebs,
        EbsVolume::new(500)
            .volume_type("io2")
            .iops(20000)
            .snapshot("snap-0123456789abcdef0")
            .kms_key("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    assert_eq!(svc.ebs_volumes[0].role_arn, None);
    assert_eq!(
        svc.to_json()["volumeConfigurations"],
        full["volumeConfigurations"]
    );
}

#[test]
fn ebs_fields_the_library_lacks_are_refused_with_why_beside_the_other_fields() {
    let mut doc: Value = serde_json::from_str(SERVICE).unwrap();
    doc["placementConstraints"] = json!([{ "type": "distinctInstance" }]);
    let ebs = &mut doc["volumeConfigurations"][0]["managedEBSVolume"];
    ebs["volumeInitializationRate"] = json!(100);
    ebs["tagSpecifications"] =
        json!([{ "resourceType": "volume", "tags": [{ "key": "a", "value": "b" }] }]);
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::Unsupported { fields, hints, .. } = err else {
        panic!("expected Unsupported, got {err:?}");
    };
    assert_eq!(
        fields,
        [
            "placementConstraints",
            "volumeConfigurations[0].managedEBSVolume.tagSpecifications",
            "volumeConfigurations[0].managedEBSVolume.volumeInitializationRate",
        ]
    );
    assert!(
        hints.iter().any(|h| h.starts_with(
            "volumeConfigurations[0].managedEBSVolume.tagSpecifications: not supported: the volumes get the app's tags"
        )),
        "{hints:#?}"
    );
    assert!(
        hints.iter().any(|h| h.starts_with(
            "volumeConfigurations[0].managedEBSVolume.volumeInitializationRate: not supported yet"
        )),
        "{hints:#?}"
    );
}

#[test]
fn invalid_ebs_values_are_named_by_their_path_with_the_documents_other_errors() {
    let mut doc: Value = serde_json::from_str(SERVICE).unwrap();
    doc["networkConfiguration"]["awsvpcConfiguration"]["subnets"][0] = json!("subnet-xxx");
    let ebs = &mut doc["volumeConfigurations"][0]["managedEBSVolume"];
    ebs["roleArn"] = json!("arn:aws:iam::<account-id>:role/ecsInfrastructureRole");
    ebs["sizeInGiB"] = json!(20000);
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::InvalidValues(errors) = err else {
        panic!("expected InvalidValues, got {err:?}");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "networkConfiguration.awsvpcConfiguration.subnets[0]",
            "volumeConfigurations[0].managedEBSVolume.roleArn",
        ]
    );
    // With a valid role, the library's EBS rules, in the document's terms.
    doc["volumeConfigurations"][0]["managedEBSVolume"]["roleArn"] =
        json!("arn:aws:iam::111122223333:role/ecsInfrastructureRole");
    doc["volumeConfigurations"][0]["managedEBSVolume"]["volumeType"] = json!("standard");
    let err = ImportedService::from_json(&doc.to_string()).unwrap_err();
    let CliJsonError::InvalidValues(errors) = err else {
        panic!("expected InvalidValues, got {err:?}");
    };
    assert_eq!(
        errors[1].field,
        "volumeConfigurations[0].managedEBSVolume.volumeType"
    );
    assert!(
        errors[1].to_string().contains("not supported on Fargate"),
        "{}",
        errors[1]
    );
}
