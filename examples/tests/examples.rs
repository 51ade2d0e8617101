//! Every example runs against the local emulator, so none of them can rot.
//! Each test runs the example's binary as a user would and checks what it
//! printed.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> String {
    run_with_env(bin, args, &[]).0
}

/// Runs `bin` with `env` set (and no `RUST_LOG` otherwise); `(stdout, stderr)`.
fn run_with_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("could not start {bin}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{bin} failed with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

#[test]
fn demo_deploys_reapplies_without_changes_runs_the_job_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_demo"), &[]);
    assert!(out.contains("deploying to the local AWS emulator"), "{out}");
    assert!(
        out.contains("== plan") && out.contains("to create"),
        "{out}"
    );
    assert!(out.contains("api.url = http://"), "{out}");
    assert!(out.contains("== run the ETL job now"), "{out}");
    assert!(out.contains("No changes."), "{out}");
    assert!(out.contains("mutating calls: 0"), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn container_service_runs_two_workers_replans_without_changes_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_container_service"), &[]);
    assert!(out.contains("deploying to the local AWS emulator"), "{out}");
    assert!(
        out.contains("worker.service_arn = arn:aws:ecs:") && out.contains("service/workers/worker"),
        "{out}"
    );
    assert!(out.contains("worker: ACTIVE — 2/2 tasks running"), "{out}");
    assert!(out.contains("No changes."), "{out}");
    assert!(
        out.contains("destroyed in") && out.contains("to destroy"),
        "{out}"
    );
}

#[test]
fn frontend_app_prints_its_alb_url_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_frontend_app"), &[]);
    assert!(out.contains("site.url = http://web-alb"), "{out}");
    assert!(out.contains("the site answers at http://"), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn custom_domain_serves_https_at_the_apps_domain_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_custom_domain"), &[]);
    for planned in [
        "+ acm:certificate example.com",
        "+ route53:validation-records example.com",
        "+ route53:alias-record shop.example.com",
    ] {
        assert!(out.contains(planned), "{planned} not in:\n{out}");
    }
    assert!(
        out.contains("shop.url = https://shop.example.com/"),
        "{out}"
    );
    assert!(
        out.contains("the shop answers at https://shop.example.com/"),
        "{out}"
    );
    assert!(out.contains("No changes."), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn blue_green_deploys_both_target_groups_and_the_test_rule_then_destroys_them() {
    let out = run(env!("CARGO_BIN_EXE_blue_green"), &[]);
    for created in [
        "+ elbv2:target-group bluegreen/site/target-group-alt",
        "+ elbv2:listener-rule bluegreen/site/test-rule@bluegreen/alb:80",
        "+ iam:role bluegreen-site-ecs-lb",
    ] {
        assert!(out.contains(created), "{created} not in:\n{out}");
    }
    assert!(
        out.contains("- elbv2:listener-rule bluegreen/site/test-rule@bluegreen/alb:80"),
        "{out}"
    );
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn backend_api_prints_its_api_gateway_invoke_url_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_backend_api"), &[]);
    assert!(out.contains("items.url = https://"), "{out}");
    assert!(out.contains(".execute-api."), "{out}");
    assert!(
        out.contains("try: curl https://") && out.contains("/items\n"),
        "{out}"
    );
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn scheduled_job_deploys_runs_now_with_an_exit_code_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_scheduled_job"), &[]);
    assert!(out.contains("scheduler:schedule"), "{out}");
    assert!(
        out.contains("report.task_definition = arn:aws:ecs:"),
        "{out}"
    );
    assert!(out.contains("== run the job now"), "{out}");
    assert!(out.contains(" exit code: 0"), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn first_task_runs_once_and_prints_task_id_exit_code_and_stopped_reason() {
    // RUST_LOG turns on tracing output on stderr (fargate_local::init_tracing).
    let (out, stderr) = run_with_env(
        env!("CARGO_BIN_EXE_first_task"),
        &[],
        &[("RUST_LOG", "fargate_local=info")],
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("INFO") && l.contains("moto server ready")),
        "no tracing line in:\n{stderr}"
    );
    assert!(
        out.contains("hello.task_definition = arn:aws:ecs:"),
        "{out}"
    );
    assert!(out.contains("task id:"), "{out}");
    assert!(out.contains("exit code:      0"), "{out}");
    assert!(out.contains("stopped reason:"), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn layered_deploys_api_and_web_on_one_cluster_and_prints_both_urls() {
    let out = run(env!("CARGO_BIN_EXE_layered"), &[]);
    assert!(
        out.contains("service/shop/api") && out.contains("service/shop/web"),
        "{out}"
    );
    assert!(out.contains("API URL: https://"), "{out}");
    assert!(out.contains("web URL: http://shop-alb"), "{out}");
    assert!(out.contains("No changes."), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}

#[test]
fn service_connect_publishes_the_api_replans_without_changes_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_service_connect"), &[]);
    assert!(
        out.contains("8080/tcp name=api app=http")
            && out.contains("api discovery=api alias=api.mesh.internal:8080"),
        "{out}"
    );
    assert!(out.contains("No changes."), "{out}");
    assert!(
        out.contains("destroyed in") && out.contains("servicediscovery:namespace"),
        "{out}"
    );
}

#[test]
fn queue_worker_prints_its_queue_dlq_and_policy_takes_messages_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_queue_worker"), &[]);
    assert!(
        out.contains("+ sqs:queue jobs-worker-dlq") && out.contains("+ sqs:queue jobs-worker"),
        "{out}"
    );
    assert!(
        out.contains("queue url:") && out.contains("/jobs-worker\n"),
        "{out}"
    );
    assert!(
        out.contains(":jobs-worker-dlq") && out.contains("\"maxReceiveCount\": 3"),
        "{out}"
    );
    assert!(
        out.contains("scaling policy:   jobs-worker-backlog on service/jobs/worker (target 10"),
        "{out}"
    );
    assert!(out.contains("sent 3 messages; 3 waiting"), "{out}");
    assert!(out.contains("No changes."), "{out}");
    assert!(
        out.contains("destroyed in") && out.contains("- sqs:queue jobs-worker-dlq"),
        "{out}"
    );
}
