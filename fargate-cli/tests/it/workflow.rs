//! One invocation applies, checks and destroys against the local emulator (a fresh account per
//! process), in JSON Lines and in text.

use crate::{app_file, apps_dir, fargate, own_emulator, run, text};

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

/// A newcomer's first cycle, end to end: the CLI installs (if needed) and starts its own
/// emulator, applies, runs the job and destroys.
#[test]
fn human_output_applies_the_dashboard_runs_the_job_and_destroys() {
    let out = run(own_emulator().args([
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
    ]));
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
    let dir = apps_dir();
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
