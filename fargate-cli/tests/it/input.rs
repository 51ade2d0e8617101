//! Bad input: refused with exit code 3, naming the field, before any AWS call.

use crate::{app_file, assert_bad_input, fargate, own_emulator, run, temp_file, text};

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
fn aws_cli_task_and_service_definitions_fill_the_app_and_unsupported_fields_exit_3() {
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
    // The service definition (examples/apps/service-definitions/web.json) fills the service.
    let service = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"]["kind"] == "ecs:service")
        .unwrap();
    let service_field = |name: &str| {
        service["change"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .map(|f| f["new"].clone())
    };
    assert_eq!(service_field("desired_count").unwrap(), 2);
    assert_eq!(
        service_field("deployment.minimum_healthy_percent").unwrap(),
        50
    );
    assert_eq!(service_field("health_check_grace_period").unwrap(), 30);

    let dir = temp_file("td", "{}").parent().unwrap().to_path_buf();
    std::fs::write(
        dir.join("td.json"),
        r#"{"family":"w","cpu":"256","memory":"512","executionRoleArn":"arn:aws:iam::123456789012:role/x",
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

/// The stderr of `plan` on `json`, which must be refused as bad input (exit code 3) before
/// the emulator starts.
fn refused(test: &str, json: &str) -> String {
    let path = temp_file(test, json);
    let out = run(own_emulator()
        .args(["-f", path.to_str().unwrap(), "plan"])
        .env("FARGATE_MOTO_SERVER", "/nonexistent"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{json}\nstderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn malformed_app_files_exit_3_naming_the_path_and_what_is_allowed() {
    let app = |fields: &str| {
        format!(
            r#"{{"environment":{{"name":"t"}},"apps":[{{"kind":"service","name":"w","image":"busybox"}},{fields}]}}"#
        )
    };
    let cases: &[(&str, String, &[&str])] = &[
        (
            "wrong-type",
            app(r#"{"kind":"frontend","name":"web","image":"nginx","port":80,"memory":true}"#),
            &["apps[1].memory: invalid type: boolean `true`, expected u32"],
        ),
        (
            "nested-type",
            app(
                r#"{"kind":"backend","name":"api","image":"nginx","port":80,"rollout":{"timeout_secs":"long"}}"#,
            ),
            &["apps[1].rollout.timeout_secs: invalid type: string"],
        ),
        (
            "unknown-kind",
            app(r#"{"kind":"daemon","name":"d","image":"busybox"}"#),
            &[
                "apps[1].kind: unknown kind \"daemon\" (one of service, frontend, backend, job, express)",
            ],
        ),
        (
            "no-kind",
            app(r#"{"name":"d","image":"busybox"}"#),
            &["apps[1].kind: missing"],
        ),
        (
            "unknown-field",
            app(
                r#"{"kind":"job","name":"etl","image":"busybox","schedule":"rate(1 hour)","retry":2}"#,
            ),
            &[
                "apps[1].retry: unknown field of kind \"job\"",
                "allowed: ",
                "retries",
            ],
        ),
        (
            "other-kind",
            app(
                r#"{"kind":"job","name":"etl","image":"busybox","schedule":"rate(1 hour)","port":80}"#,
            ),
            &[
                "apps[1].port: not a field of kind \"job\" (only of service, frontend, backend, express)",
                "allowed: ",
                "job_env",
            ],
        ),
        (
            "missing",
            app(r#"{"kind":"job","name":"etl","schedule":"rate(1 hour)"}"#),
            &["apps[1].image: missing (required)"],
        ),
        (
            "run-once-with-timezone",
            app(r#"{"kind":"job","name":"etl","image":"busybox","timezone":"Europe/Paris"}"#),
            &["etl.timezone", "no `schedule`"],
        ),
        (
            "image",
            app(r#"{"kind":"service","name":"x","image":{"ecr":"v1"}}"#),
            &["apps[1].image: ", "ecr_tag"],
        ),
        (
            "service-build",
            app(r#"{"kind":"frontend","name":"web","image":"nginx","port":80,"cpu":300}"#),
            &["apps[1] (web): invalid web.cpu", "allowed: "],
        ),
        (
            "environment",
            r#"{"environment":{"name":"t","vpc":"10.0.0.0/16"},"apps":[]}"#.to_string(),
            &[
                "environment.vpc: unknown field `vpc`, expected one of",
                "vpc_cidr",
            ],
        ),
        (
            "top",
            r#"{"environment":{"name":"t"},"app":[]}"#.to_string(),
            &["app: unknown field; allowed: $schema, apps, environment"],
        ),
        (
            "apps",
            r#"{"environment":{"name":"t"},"apps":{"kind":"service"}}"#.to_string(),
            &["apps: expected a list"],
        ),
        (
            "not-json",
            "{\"environment\":".to_string(),
            &["is not JSON"],
        ),
        ("array", "[]".to_string(), &["file: expected a JSON object"]),
    ];
    for (test, json, expected) in cases {
        let stderr = refused(test, json);
        for e in *expected {
            assert!(stderr.contains(e), "{test}: {e:?} not in:\n{stderr}");
        }
    }
}
