//! The `fargate` CLI, run as a user would: bad input is refused with exit
//! code 3 before any AWS call, `plan` reports changes with exit code 2 and
//! machine-readable JSON, and one invocation can apply, check and destroy
//! against the local emulator (a fresh account per process).

use std::path::PathBuf;
use std::process::{Command, Output};

fn fargate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fargate"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("could not start fargate: {e}"))
}

fn app_file(name: &str) -> String {
    format!("{}/apps/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A description file in a fresh temporary directory.
fn temp_file(test: &str, json: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fargate-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn assert_bad_input(test: &str, json: &str, field: &str) {
    let path = temp_file(test, json);
    let out = fargate(&["-f", path.to_str().unwrap(), "plan"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains(field), "{field} not named in:\n{stderr}");
    assert!(
        !stderr.contains("moto"),
        "bad input must be refused before starting the emulator:\n{stderr}"
    );
}

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
fn plan_on_a_fresh_emulator_exits_2_and_prints_the_changes_as_json() {
    let out = fargate(&["-f", &app_file("worker.json"), "plan", "--json"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(plan["command"], "plan");
    assert_eq!(plan["has_changes"], true);
    let changes = plan["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["id"]["kind"] == "ecs:service" && c["change"]["action"] == "create"),
        "{plan:#}"
    );
}

#[test]
fn one_invocation_applies_replans_without_changes_reports_status_and_destroys() {
    let out = fargate(&[
        "-f",
        &app_file("worker.json"),
        "--json",
        "apply",
        "then",
        "plan",
        "then",
        "status",
        "worker",
        "then",
        "logs",
        "worker",
        "then",
        "destroy",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let steps: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s["command"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["apply", "plan", "status", "logs", "destroy"]);
    assert!(
        steps[0]["outputs"]["worker.service_arn"].is_string(),
        "{stdout}"
    );
    assert_eq!(steps[1]["has_changes"], false, "{stdout}");
    assert_eq!(steps[2]["services"][0]["status"]["status"], "ACTIVE");
    assert_eq!(steps[4]["ok"], true);
    assert!(steps[4]["summary"].as_str().unwrap().contains("to destroy"));
}

#[test]
fn human_output_applies_the_dashboard_runs_the_job_and_destroys() {
    let out = fargate(&[
        "-f",
        &app_file("dashboard.json"),
        "apply",
        "then",
        "run",
        "etl",
        "--env",
        "ETL_JOB=full",
        "then",
        "destroy",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("== apply") && stdout.contains("Plan: "),
        "{stdout}"
    );
    assert!(stdout.contains("api.url = http://"), "{stdout}");
    assert!(
        stdout.contains("== run etl") && stdout.contains("stopped:"),
        "{stdout}"
    );
    assert!(stdout.contains("destroyed in"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "NO_COLOR output has colour codes");
}

#[test]
fn every_example_file_is_valid_and_diff_lists_only_changes() {
    let dir = format!("{}/apps", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let out = fargate(&["-f", f.to_str().unwrap(), "diff", "--json"]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}:\n{stdout}\n{}",
            f.display(),
            text(&out.stderr)
        );
        let diff: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let changes = diff["changes"].as_array().unwrap();
        assert!(!changes.is_empty());
        assert!(
            changes.iter().all(|c| c["change"]["action"] != "no_op"),
            "{diff:#}"
        );
    }
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
