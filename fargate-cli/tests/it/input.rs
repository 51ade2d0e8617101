//! Bad input: refused with exit code 3, naming the field, before any AWS call.

use crate::{app_file, assert_bad_input, fargate, temp_file, text};

#[test]
fn unknown_field_in_the_file_exits_3_naming_the_field() {
    assert_bad_input(
        "unknown",
        r#"{"environment":{"name":"t"},"apps":[{"kind":"service","name":"w","image":"busybox","desired_cont":2}]}"#,
        "desired_cont",
    );
}

#[test]
fn invalid_value_rejected_by_the_builder_exits_3_naming_the_field() {
    assert_bad_input(
        "memory",
        r#"{"environment":{"name":"t"},"apps":[{"kind":"service","name":"w","image":"busybox","cpu":256,"memory":4096}]}"#,
        "w.memory",
    );
}

#[test]
fn wrong_type_and_field_of_another_kind_exit_3_naming_the_field() {
    assert_bad_input(
        "type",
        r#"{"environment":{"name":"t"},"apps":[{"kind":"service","name":"w","image":"busybox","cpu":"lots"}]}"#,
        "apps[0].cpu",
    );
    assert_bad_input(
        "kind",
        r#"{"environment":{"name":"t"},"apps":[{"kind":"service","name":"w","image":"busybox","schedule":"rate(1 hour)"}]}"#,
        "apps[0].schedule",
    );
}

#[test]
fn unknown_app_and_usage_errors_exit_3() {
    let file = app_file("worker.json");
    let out = fargate(&["-f", &file, "status", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("no app named `nope`"));
    let out = fargate(&["-f", &file, "plann"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn an_aws_cli_task_definition_fills_the_app_and_unsupported_fields_exit_3() {
    let out = fargate(&["-f", &app_file("imported.json"), "plan", "--json"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let td = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"]["kind"] == "ecs:task-definition")
        .unwrap();
    let fields = td["change"]["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["field"] == name)
            .map(|f| f["new"].clone())
    };
    assert_eq!(
        field("container.web.image").unwrap(),
        "public.ecr.aws/nginx/nginx:1.27"
    );
    assert_eq!(field("cpu_architecture").unwrap(), "ARM64");
    assert_eq!(
        field("container.web.environment.MODE").unwrap(),
        "production"
    );

    let dir = temp_file("td", "{}").parent().unwrap().to_path_buf();
    std::fs::write(
        dir.join("td.json"),
        r#"{"family":"w","cpu":"256","memory":"512","executionRoleArn":"arn:aws:iam::1:role/x",
            "volumes":[{"name":"data"}],
            "containerDefinitions":[{"name":"w","image":"busybox"}]}"#,
    )
    .unwrap();
    let app = dir.join("app.json");
    std::fs::write(
        &app,
        r#"{"environment":{"name":"t"},"apps":[{"kind":"service","name":"w","task_definition":"td.json"}]}"#,
    )
    .unwrap();
    let out = fargate(&["-f", app.to_str().unwrap(), "plan"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("apps[0].task_definition") && stderr.contains("volumes"),
        "{stderr}"
    );
}

#[test]
fn clashing_apps_reserved_names_and_bad_values_exit_3_before_any_aws_call() {
    let service = |name: &str, extra: &str| {
        format!(r#"{{"kind":"service","name":"{name}","image":"busybox"{extra}}}"#)
    };
    let file = |apps: &[String]| {
        format!(
            r#"{{"environment":{{"name":"t"}},"apps":[{}]}}"#,
            apps.join(",")
        )
    };
    // Two apps with one name: found by `validate` over all the apps, before the emulator.
    assert_bad_input(
        "duplicate",
        &file(&[service("w", ""), service("w", "")]),
        "two apps in one environment have this name",
    );
    // `then` separates chained steps on this command line.
    assert_bad_input(
        "then",
        &file(&[service("then", "")]),
        "separates chained steps",
    );
    assert_bad_input(
        "retention",
        &file(&[service("w", r#","log_retention_days":10"#)]),
        "w.log_retention_days",
    );
    let job = |tz: &str| {
        format!(
            r#"{{"kind":"job","name":"etl","image":"busybox","schedule":"rate(1 hour)","timezone":"{tz}"}}"#
        )
    };
    assert_bad_input(
        "timezone",
        &file(&[job("EUROPE/PARIS")]),
        r#"did you mean "Europe/Paris"?"#,
    );
    assert_bad_input("mars", &file(&[job("Mars/Olympus_Mons")]), "etl.timezone");
}
