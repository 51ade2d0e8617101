//! What the emulator needs and what the banner says: every example app file runs now on the
//! emulator; an app without a memory reservation gets one there (never with `--aws`); the
//! secrets the apps reference are created there; the banner names the endpoint it talks to.

use serde_json::Value;

use crate::{app_file, apps_dir, command, fargate, own_emulator, run, temp_file, text};

/// The app names of an app file.
fn apps_of(file: &str) -> Vec<String> {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    json["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn run_now_works_on_the_emulator_for_every_app_of_every_example_file() {
    let mut files: Vec<_> = std::fs::read_dir(apps_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let file = f.to_str().unwrap();
        let apps = apps_of(file);
        // One invocation (one emulator account): run every app, `run a then run b`.
        let mut args = vec!["-f", file];
        for (i, app) in apps.iter().enumerate() {
            if i > 0 {
                args.push("then");
            }
            args.extend(["run", app.as_str()]);
        }
        let out = fargate(&args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert_eq!(
            stdout.matches("stopped: exit code 0").count(),
            apps.len(),
            "{file}: every app's task ran and exited 0:\n{stdout}"
        );
    }
}

#[test]
fn an_app_without_memory_reservation_gets_one_on_the_emulator_and_runs() {
    let path = temp_file(
        "memory",
        r#"{"environment":{"name":"mem"},"apps":[{"kind":"job","name":"hello","image":"busybox:1.36",
            "memory":1024,"schedule":"rate(1 day)","command":["echo","hi"]}]}"#,
    );
    let out = fargate(&["-f", path.to_str().unwrap(), "run", "hello"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("stopped: exit code 0"), "{stdout}");
    assert!(
        stderr.contains("note: apps[0] (hello)") && stderr.contains("memory_reservation = 1024"),
        "the note says what was added:\n{stderr}"
    );
}

/// The value of field `field` of the task definition of a plan printed with `--json`.
fn task_definition_field(plan: &str, field: &str) -> Value {
    let plan: Value = serde_json::from_str(plan.trim()).unwrap();
    let td = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"]["kind"] == "ecs:task-definition")
        .unwrap_or_else(|| panic!("no task definition in {plan:#}"));
    td["change"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .map(|f| f["new"].clone())
        .unwrap_or_else(|| panic!("no field {field} in {td:#}"))
}

/// `fargate --aws` against the moto server of this test binary, as an endpoint override:
/// static credentials, no profile, only loopback; in moto account `account`
/// (`FARGATE_MOTO_ACCOUNT`), or in moto's default account. (`FARGATE_MOTO_URL` stays set, as
/// [`command`] sets it: `--aws` ignores it.)
pub(crate) fn fargate_on_endpoint(
    url: &str,
    account: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let mut c = command();
    c.args(args)
        .arg("--aws")
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAFARGATECLITEST00")
        .env("AWS_SECRET_ACCESS_KEY", "fargate-cli-test");
    if let Some(account) = account {
        c.env("FARGATE_MOTO_ACCOUNT", account);
    }
    run(&mut c)
}

#[tokio::test]
async fn the_memory_reservation_is_added_only_on_the_local_emulator() {
    let server = fargate_testkit::moto().await;
    let json = r#"{"environment":{"name":"memaws"},"apps":[{"kind":"service","name":"w",
        "image":"busybox:1.36","memory":1024}]}"#;
    let path = temp_file("memory-aws", json);
    let file = path.to_str().unwrap();

    let local = fargate(&["-f", file, "plan", "--json"]);
    assert_eq!(local.status.code(), Some(2), "{}", text(&local.stderr));
    assert_eq!(
        task_definition_field(&text(&local.stdout), "container.w.memory_reservation"),
        1024
    );

    let account = fargate_local::random_account_id();
    let aws = fargate_on_endpoint(
        server.url(),
        Some(&account),
        &["-f", file, "plan", "--json"],
    );
    assert_eq!(aws.status.code(), Some(2), "{}", text(&aws.stderr));
    assert_eq!(
        task_definition_field(&text(&aws.stdout), "container.w.memory_reservation"),
        Value::Null,
        "nothing is added to what --aws sends"
    );
}

#[test]
fn the_secrets_an_app_file_references_are_created_on_the_emulator() {
    let out = fargate(&["-f", &app_file("dashboard.json"), "apply"]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{stderr}",
        text(&out.stdout)
    );
    assert!(
        stderr.contains("created the SSM parameter /dashboard/db-url (used by api, etl)"),
        "{stderr}"
    );
}

/// The CLI starts its own emulator here, as on a newcomer's first `plan`.
#[test]
fn the_banner_names_the_local_emulator_with_its_url_and_account() {
    let out = run(own_emulator()
        .args(["-f", &app_file("worker.json"), "plan"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let banner = stderr
        .lines()
        .find(|l| l.starts_with("fargate: environment `tools`"))
        .unwrap_or_else(|| panic!("no banner in:\n{stderr}"));
    assert!(
        banner.contains(&format!(
            "on the local AWS emulator (moto {}) at http://127.0.0.1:",
            fargate_testkit::MOTO_VERSION
        )) && banner.contains(", account "),
        "{banner}"
    );
    assert!(
        stderr.contains("AWS_ENDPOINT_URL=http://127.0.0.1:9 is ignored"),
        "an endpoint override that is not used is said to be ignored:\n{stderr}"
    );
}

#[tokio::test]
async fn the_banner_names_an_endpoint_override_and_never_says_real_aws() {
    let server = fargate_testkit::moto().await;
    let path = temp_file(
        "banner",
        r#"{"environment":{"name":"banner"},"apps":[{"kind":"service","name":"w","image":"busybox:1.36"}]}"#,
    );
    let out = fargate_on_endpoint(server.url(), None, &["-f", path.to_str().unwrap(), "plan"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "on the endpoint {} (AWS_ENDPOINT_URL), region us-east-1, with your default \
             credentials\n",
            server.url()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("REAL AWS"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "FARGATE_MOTO_URL={} is ignored: with --aws",
            server.url()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_held_environment_lock_fails_apply_naming_the_holder_until_force_unlock() {
    // The test's own account on the test binary's server; the CLI acts in it with --aws on
    // the endpoint override and FARGATE_MOTO_ACCOUNT.
    let ctx = fargate_testkit::context().await;
    let (url, account) = (ctx.url(), Some(ctx.account_id()));
    let json = r#"{"environment":{"name":"clilock"},"apps":[{"kind":"service","name":"w",
        "image":"busybox:1.36","memory":512,"memory_reservation":256}]}"#;
    let path = temp_file("lock", json);
    let file = path.to_str().unwrap();
    // Another deployer (a crashed one: it never releases) holds the environment.
    let other = fargate_deploy::Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
        .with_lock_options(fargate_deploy::LockOptions {
            holder: "ci-runner-7 pid 4242".into(),
            ..Default::default()
        });
    let env = fargate_deploy::Environment::builder()
        .name("clilock")
        .build()
        .unwrap();
    std::mem::forget(other.lock(&env, "apply").await.unwrap());

    let refused = fargate_on_endpoint(url, account, &["-f", file, "apply", "--yes"]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "with your default credentials, in the moto account {} (FARGATE_MOTO_ACCOUNT)",
            ctx.account_id()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("locked by ci-runner-7 pid 4242"),
        "{stderr}"
    );
    assert!(stderr.contains("--force-unlock"), "{stderr}");

    let forced = fargate_on_endpoint(
        url,
        account,
        &["-f", file, "apply", "--yes", "--force-unlock"],
    );
    let stderr = text(&forced.stderr);
    assert_eq!(forced.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("removed the environment lock of ci-runner-7 pid 4242"),
        "{stderr}"
    );
    // It was applied in that account: the cluster is there.
    let clusters = ctx.ecs().list_clusters().send().await.unwrap();
    assert!(
        clusters
            .cluster_arns()
            .iter()
            .any(|arn| arn.contains(ctx.account_id()) && arn.ends_with("/clilock")),
        "{clusters:?}"
    );
    let done = fargate_on_endpoint(url, account, &["-f", file, "destroy", "--yes"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
}
