//! `run-task --cli-input-json` (issue 12): the AWS CLI reference's run-task examples as a
//! document round trip, the document mapped onto a run-once `ScheduledJob` (its overrides
//! as `job_env` / `job_command`), what changes nothing accepted with a note, and every
//! unsupported field and invalid value refused by path, with its reason, in one round.

use fargate_deploy::apps::ScheduledJobSpec;
use fargate_deploy::cli_json::{CliJsonError, ImportedRunTask};
use serde_json::{Value, json};

/// The AWS CLI reference's run-task examples (`sleep360:1`, ECS Exec on Fargate in
/// `MyCluster`) written as one `--cli-input-json` document, with real-looking ids.
fn docs_example() -> Value {
    json!({
        "cluster": "MyCluster",
        "taskDefinition": "sleep360:1",
        "count": 1,
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-0abcd1234efab5678"],
            "securityGroups": ["sg-0abcd1234efab5678"],
            "assignPublicIp": "ENABLED" } },
        "overrides": { "containerOverrides": [{
            "name": "sleep",
            "command": ["sleep", "360"],
            "environment": [{ "name": "MODE", "value": "full" },
                            { "name": "LEVEL", "value": "3" }]
        }] },
        "propagateTags": "TASK_DEFINITION",
        "enableECSManagedTags": true,
        "tags": [{ "key": "team", "value": "data" }, { "key": "cost", "value": "etl" }],
        "startedBy": "nightly-cron",
        "group": "family:sleep360",
        "referenceId": "run-42",
        "clientToken": "6f1c1f2e-7d7a-4b6e-9d7e-1a2b3c4d5e6f"
    })
}

fn import(doc: &Value) -> Result<ImportedRunTask, CliJsonError> {
    ImportedRunTask::from_json(&doc.to_string())
}

fn job_spec(name: &str) -> ScheduledJobSpec {
    serde_json::from_value(json!({"name": name, "image": "busybox:1.36"})).unwrap()
}

#[test]
fn the_docs_run_task_example_round_trips_up_to_normalization() {
    let doc = docs_example();
    let run = import(&doc).unwrap();
    assert_eq!(run.task_definition, "sleep360:1");
    assert_eq!(run.count, 1);
    assert!(run.assign_public_ip);
    assert_eq!(run.overrides.len(), 1);
    assert_eq!(run.overrides[0].environment["MODE"], "full");
    let exported = run.to_json();
    // Normalized: environment sorted by name, tags by key.
    let mut expected = doc.clone();
    expected["overrides"]["containerOverrides"][0]["environment"] =
        json!([{ "name": "LEVEL", "value": "3" }, { "name": "MODE", "value": "full" }]);
    expected["tags"] =
        json!([{ "key": "cost", "value": "etl" }, { "key": "team", "value": "data" }]);
    assert_eq!(exported, expected);
    // And the export imports back to the same thing.
    assert_eq!(import(&exported).unwrap(), run);
}

#[test]
fn the_minimal_docs_example_gets_its_defaults_written() {
    let run = import(&json!({
        "cluster": "default", "taskDefinition": "sleep360:1",
        "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-12344321"] } }
    }))
    .unwrap();
    assert_eq!(
        run.to_json(),
        json!({ "cluster": "default", "taskDefinition": "sleep360:1", "count": 1,
                "launchType": "FARGATE",
                "networkConfiguration": { "awsvpcConfiguration": {
                    "subnets": ["subnet-12344321"], "assignPublicIp": "DISABLED" } } })
    );
}

#[test]
fn a_capacity_provider_strategy_round_trips() {
    let mut doc = docs_example();
    doc.as_object_mut().unwrap().remove("launchType");
    doc["capacityProviderStrategy"] = json!([
        { "capacityProvider": "FARGATE", "weight": 1, "base": 1 },
        { "capacityProvider": "FARGATE_SPOT", "weight": 3 }
    ]);
    let run = import(&doc).unwrap();
    assert_eq!(run.capacity.spot_weight, 3);
    assert_eq!(run.capacity.on_demand_base, 1);
    assert_eq!(
        run.to_json()["capacityProviderStrategy"],
        doc["capacityProviderStrategy"]
    );
}

#[test]
fn no_op_and_default_values_are_accepted_with_a_note() {
    let mut doc = docs_example();
    doc["propagateTags"] = json!("NONE");
    doc["enableExecuteCommand"] = json!(false);
    doc["placementConstraints"] = json!([]);
    doc["startedBy"] = Value::Null;
    let (run, report) = ImportedRunTask::from_json_with_report(&doc.to_string()).unwrap();
    assert_eq!(run.propagate_tags, None);
    assert_eq!(run.started_by, None);
    for f in [
        "propagateTags",
        "enableExecuteCommand",
        "placementConstraints",
        "startedBy",
    ] {
        assert!(
            report.notes.iter().any(|n| n.contains(f)),
            "{f}: {report:#?}"
        );
    }
}

#[test]
fn unsupported_fields_are_all_refused_in_one_round_with_their_reasons() {
    let mut doc = docs_example();
    doc["launchType"] = json!("EC2");
    doc["placementStrategy"] =
        json!([{ "type": "spread", "field": "attribute:ecs.availability-zone" }]);
    doc["overrides"]["cpu"] = json!("512");
    doc["overrides"]["containerOverrides"][0]["environmentFiles"] =
        json!([{ "type": "s3", "value": "arn:aws:s3:::bucket/env" }]);
    doc["volumeConfigurations"] = json!([{ "name": "data",
        "managedEBSVolume": { "sizeInGiB": 20, "roleArn": "arn:aws:iam::123456789012:role/ebs" } }]);
    doc["taskDefinitionn"] = json!("typo");
    let Err(CliJsonError::Unsupported {
        document,
        fields,
        hints,
    }) = import(&doc)
    else {
        panic!("{:?}", import(&doc));
    };
    assert_eq!(document, "run-task");
    assert_eq!(
        fields,
        [
            "launchType=EC2",
            "overrides.containerOverrides[0].environmentFiles",
            "overrides.cpu",
            "placementStrategy",
            "taskDefinitionn",
            "volumeConfigurations",
        ]
    );
    let hint = |f: &str| {
        hints
            .iter()
            .find(|h| h.starts_with(f))
            .unwrap_or_else(|| panic!("no hint for {f}: {hints:#?}"))
    };
    assert!(hint("volumeConfigurations").contains("takes no managed EBS volume"));
    assert!(hint("overrides.cpu").contains("job's own"));
    assert!(hint("launchType=EC2").contains("Fargate only"));
    assert!(hint("placementStrategy").contains("Fargate places tasks"));
    assert!(hint("taskDefinitionn").contains("did you mean taskDefinition"));
}

#[test]
fn invalid_values_and_placeholders_are_all_named_in_one_round() {
    let doc = json!({
        "cluster": "<cluster-name>",
        "taskDefinition": "<task-definition>:1",
        "count": 11,
        "launchType": "FARGATE",
        "capacityProviderStrategy": [{ "capacityProvider": "FARGATE", "weight": 1 }],
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-12345"], "securityGroups": ["sg-xxxxxxxx"],
            "assignPublicIp": "YES" } },
        "overrides": { "containerOverrides": [{ "name": "sleep",
            "environment": [{ "name": "2FA", "value": "x" }], "cpu": 0 }] },
        "propagateTags": "SERVICE",
        "tags": [{ "key": "aws:reserved", "value": "x" }],
        "clientToken": "x".repeat(65)
    });
    let Err(e) = import(&doc) else {
        panic!("accepted")
    };
    let fields = e.fields();
    for f in [
        "cluster",
        "taskDefinition",
        "count",
        "launchType",
        "networkConfiguration.awsvpcConfiguration.subnets[0]",
        "networkConfiguration.awsvpcConfiguration.securityGroups[0]",
        "networkConfiguration.awsvpcConfiguration.assignPublicIp",
        "overrides.containerOverrides[0].environment[0].name",
        "overrides.containerOverrides[0].cpu",
        "propagateTags",
        "tags",
        "clientToken",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:#?}");
    }
    assert!(matches!(e, CliJsonError::InvalidValues(_)), "{e}");
}

#[test]
fn the_document_becomes_a_run_once_job_with_its_overrides() {
    let run = import(&docs_example()).unwrap();
    let (job, notes) = run.to_job(job_spec("sleep")).unwrap();
    assert!(job.schedule().is_none());
    let o = job.job_override();
    assert_eq!(o.name, "sleep");
    assert_eq!(
        o.command.as_deref(),
        Some(&["sleep".to_string(), "360".to_string()][..])
    );
    assert_eq!(o.environment["LEVEL"], "3");
    let replaced = notes.join("\n");
    for what in [
        "cluster",
        "networkConfiguration",
        "taskDefinition",
        "platformVersion",
        "clientToken",
    ] {
        assert!(replaced.contains(what), "{what} not in {replaced}");
    }
}

#[test]
fn what_a_run_once_job_cannot_do_is_refused_in_one_round() {
    let mut doc = docs_example();
    doc["count"] = json!(3);
    doc["enableExecuteCommand"] = json!(true);
    doc["overrides"]["containerOverrides"][0]["memory"] = json!(256);
    doc["overrides"]["containerOverrides"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "sidecar", "command": ["true"] }));
    let run = import(&doc).unwrap();
    let e = run.job_fields("sleep").unwrap_err();
    assert_eq!(
        e.fields(),
        [
            "count",
            "enableExecuteCommand",
            "overrides.containerOverrides[0].memory",
            "overrides.containerOverrides[1].name",
        ]
    );
    assert!(run.to_job(job_spec("sleep")).is_err());
}
