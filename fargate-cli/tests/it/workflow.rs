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

/// The JSON lines of an invocation's stdout.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A path for a saved plan in a fresh temporary directory.
fn plan_path(test: &str) -> String {
    let dir = crate::temp_file(test, "{}");
    dir.with_file_name("plan.json")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_saved_plan_is_applied_and_a_stale_one_is_refused_with_exit_8() {
    let file = app_file("worker.json");
    let saved = plan_path("saved-plan-ok");
    let out = fargate(&[
        "-f", &file, "--json", "plan", "--out", &saved, "then", "apply", "--plan", &saved,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let steps = json_lines(&stdout);
    assert_eq!(steps.len(), 2, "{stdout}");
    assert_eq!(steps[0]["has_changes"], true, "{stdout}");
    assert_eq!(steps[1]["command"], "apply");
    assert_eq!(steps[1]["ok"], true, "{stdout}");
    assert!(
        steps[1]["outputs"]["worker.service_arn"].is_string(),
        "{stdout}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(written["format"], 2);
    assert!(
        written["observations"]["resources"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "a saved plan holds what it was made from: {written}"
    );
    assert_eq!(written["environment"], "tools");
    assert_eq!(written["mode"], "apply");

    // Another apply between saving and applying: the generation moved.
    let stale = plan_path("saved-plan-stale");
    let out = fargate(&[
        "-f", &file, "--json", "plan", "--out", &stale, "then", "apply", "then", "apply", "--plan",
        &stale,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(8),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let steps = json_lines(&stdout);
    let last = steps.last().unwrap();
    assert_eq!(last["command"], "apply");
    assert_eq!(last["error"]["kind"], "stale_plan", "{stdout}");
    let message = last["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("another apply ran since (generation none → 1)"),
        "{message}"
    );
    assert!(message.contains("nothing was applied"), "{message}");
    assert!(
        last["error"]["detail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "generation"),
        "{stdout}"
    );
}

#[test]
fn a_saved_plan_applies_in_a_later_invocation_unless_edited_by_hand() {
    let file = app_file("worker.json");
    let account = fargate_local::random_account_id();
    let fargate = |args: &[&str]| {
        run(crate::command()
            .args(["-f", &file])
            .args(args)
            .env("FARGATE_MOTO_ACCOUNT", &account))
    };
    let saved = plan_path("saved-plan-later");
    let out = fargate(&["plan", "--out", &saved]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("saved the plan to"), "{stderr}");
    let json = std::fs::read_to_string(&saved).unwrap();

    // The image edited in the file: the plan is not what AWS and the input give.
    assert!(json.contains("busybox:1.36"), "{json}");
    let edited = saved.replace("plan.json", "edited.json");
    std::fs::write(&edited, json.replace("busybox:1.36", "busybox:1.37")).unwrap();
    let out = fargate(&["apply", "--plan", &edited]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("stale plan:"), "{stderr}");
    assert!(stderr.contains("ecs:task-definition"), "{stderr}");
    assert!(
        stderr.contains("busybox:1.37") && stderr.contains("busybox:1.36"),
        "saved vs now: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Another format version, or not a saved plan: bad input.
    let v3 = saved.replace("plan.json", "v3.json");
    std::fs::write(&v3, json.replace("\"format\": 2", "\"format\": 3")).unwrap();
    let out = fargate(&["apply", "--plan", &v3]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("saved plan format 3 is not supported (allowed: 2)"),
        "{stderr}"
    );
    let out = fargate(&["apply", "--plan", &file]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));

    // The file as written applies, in this later process.
    let out = fargate(&["apply", "--plan", &saved]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("saved plan "), "{stdout}");
    assert!(stdout.contains("applied in"), "{stdout}");
    let out = fargate(&["plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
