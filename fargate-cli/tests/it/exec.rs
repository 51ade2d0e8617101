//! `exec APP`: without the Session Manager plugin, exit 7 before any AWS call, naming how to
//! install it; a scheduled job has no service to enter (exit 3); an app not deployed is exit 6;
//! on the emulator, which runs no task (and ignores enableExecuteCommand), exit 1 naming why.

use crate::{command, run, temp_file, text};

const WORKER: &str = r#"{
  "environment": { "name": "tools" },
  "apps": [
    { "kind": "service", "name": "worker", "image": "public.ecr.aws/docker/library/busybox:1.36",
      "memory_reservation": 256, "enable_exec": true },
    { "kind": "job", "name": "report", "image": "public.ecr.aws/docker/library/busybox:1.36",
      "memory_reservation": 256 }
  ]
}"#;

/// A file standing in for the plugin: these tests never get as far as starting it.
fn fake_plugin(test: &str) -> String {
    let dir = temp_file(test, "{}");
    let plugin = dir.with_file_name("session-manager-plugin");
    std::fs::write(&plugin, "#!/bin/sh\nexit 0\n").unwrap();
    plugin.to_str().unwrap().to_string()
}

#[test]
fn exec_without_the_plugin_exits_7_naming_how_to_install_it() {
    let file = temp_file("exec-no-plugin", WORKER);
    let out = run(command()
        .args(["-f", file.to_str().unwrap(), "exec", "worker"])
        .env("PATH", "/nonexistent/fargate-cli-test")
        .env_remove("FARGATE_SESSION_MANAGER_PLUGIN"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("session-manager-plugin"), "{stderr}");
    assert!(
        stderr.contains("FARGATE_SESSION_MANAGER_PLUGIN"),
        "{stderr}"
    );
}

#[test]
fn exec_of_a_job_is_bad_input() {
    let file = temp_file("exec-job", WORKER);
    let out = run(command()
        .args(["-f", file.to_str().unwrap(), "exec", "report"])
        .env(
            "FARGATE_SESSION_MANAGER_PLUGIN",
            fake_plugin("exec-job-plugin"),
        ));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("scheduled job"), "{stderr}");
}

#[test]
fn exec_before_apply_is_not_deployed_and_after_apply_names_why_no_task_can_be_entered() {
    let file = temp_file("exec-deployed", WORKER);
    let file = file.to_str().unwrap();
    let plugin = fake_plugin("exec-deployed-plugin");
    let out = run(command()
        .args(["-f", file, "exec", "worker"])
        .env("FARGATE_SESSION_MANAGER_PLUGIN", &plugin));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("not deployed"), "{stderr}");

    let out = run(command()
        .args([
            "-f", file, "apply", "then", "exec", "worker", "--", "ls", "-l",
        ])
        .env("FARGATE_SESSION_MANAGER_PLUGIN", &plugin));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no running task"), "{stderr}");
}
