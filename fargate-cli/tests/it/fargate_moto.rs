//! `FARGATE_MOTO_URL` (a moto server that is already running is the local emulator, with a
//! fresh account per invocation) and `FARGATE_MOTO_ACCOUNT` (the moto account to act in: one
//! account across separate invocations; see also the lock test in [`crate::emulator`] for
//! `--aws` on an endpoint override); bad values are setup errors before any call.

use std::net::TcpListener;

use fargate_testkit::aws_sdk_ecs;

use crate::{app_file, command, run, text};

/// The account the banner names: `..., account <id>`.
fn banner_account(stderr: &str) -> String {
    let banner = stderr
        .lines()
        .find(|l| l.starts_with("fargate: environment `tools`"))
        .unwrap_or_else(|| panic!("no banner in:\n{stderr}"));
    let id = banner
        .rsplit_once(", account ")
        .map(|(_, id)| id.trim().to_string())
        .unwrap_or_else(|| panic!("no account in the banner: {banner}"));
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()),
        "{banner}"
    );
    id
}

/// ECS in account `account_id` of the test binary's moto server.
fn ecs_in(url: &str, account_id: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::config::Builder::from(&fargate_local::sdk_config(url))
        .interceptor(fargate_local::MotoAccount::new(account_id))
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

async fn cluster_names(ecs: &aws_sdk_ecs::Client) -> Vec<String> {
    let listed = ecs.list_clusters().send().await.unwrap();
    listed
        .cluster_arns()
        .iter()
        .filter_map(|arn| arn.rsplit('/').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn fargate_moto_url_is_the_emulator_with_a_fresh_account_per_invocation() {
    let server = fargate_testkit::moto().await;
    let file = app_file("worker.json");
    // `command()` sets FARGATE_MOTO_URL to this server.
    let applied = run(command().args(["-f", &file, "apply"]));
    let stderr = text(&applied.stderr);
    assert_eq!(applied.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "on the local AWS emulator (moto {}) at {}, account ",
            fargate_testkit::MOTO_VERSION,
            server.url()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("moto server ready"), "{stderr}");
    let first = banner_account(&stderr);
    // It deployed on this server, in the account its banner names.
    assert_eq!(
        cluster_names(&ecs_in(server.url(), &first)).await,
        ["tools"]
    );

    // The next invocation is a fresh, empty account of the same server.
    let status = run(command().args(["-f", &file, "status", "worker"]));
    let stderr = text(&status.stderr);
    assert_eq!(status.status.code(), Some(6), "{stderr}");
    let second = banner_account(&stderr);
    assert_ne!(first, second);
}

#[tokio::test]
async fn fargate_moto_account_lets_separate_invocations_share_one_account() {
    let ctx = fargate_testkit::context().await;
    let file = app_file("worker.json");
    let fargate = |args: &[&str]| {
        run(command()
            .args(["-f", &file])
            .args(args)
            .env("FARGATE_MOTO_ACCOUNT", ctx.account_id()))
    };

    let applied = fargate(&["apply"]);
    let stderr = text(&applied.stderr);
    assert_eq!(applied.status.code(), Some(0), "{stderr}");
    assert_eq!(banner_account(&stderr), ctx.account_id());
    assert_eq!(cluster_names(&ctx.ecs()).await, ["tools"]);

    let status = fargate(&["status", "worker"]);
    let stdout = text(&status.stdout);
    assert_eq!(
        status.status.code(),
        Some(0),
        "a later invocation sees the apply:\n{stdout}\n{}",
        text(&status.stderr)
    );
    assert!(stdout.contains("ACTIVE"), "{stdout}");

    let destroyed = fargate(&["destroy"]);
    assert_eq!(
        destroyed.status.code(),
        Some(0),
        "{}",
        text(&destroyed.stderr)
    );
    let status = fargate(&["status", "worker"]);
    assert_eq!(status.status.code(), Some(6), "{}", text(&status.stderr));
}

/// The one line on stderr of a setup error (exit code 7).
fn setup_error(c: &mut std::process::Command) -> String {
    let out = run(c);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_moto_variables_are_setup_errors_before_any_call() {
    let file = app_file("worker.json");
    let plan = || {
        let mut c = command();
        c.args(["-f", &file, "plan"]);
        c
    };

    let stderr = setup_error(plan().env("FARGATE_MOTO_URL", "http://example.com:5000"));
    assert_eq!(
        stderr.trim_end(),
        "setup error: FARGATE_MOTO_URL: http://example.com:5000 is not on this machine: a \
         running moto server is given as http://127.0.0.1:<port> (or localhost, [::1])"
    );
    let stderr = setup_error(plan().env("FARGATE_MOTO_URL", "https://127.0.0.1:5000"));
    assert!(stderr.contains("is not on this machine"), "{stderr}");

    let stderr = setup_error(plan().env("FARGATE_MOTO_ACCOUNT", "12345"));
    assert_eq!(
        stderr.trim_end(),
        "setup error: FARGATE_MOTO_ACCOUNT=12345 is not an AWS account id (12 digits)"
    );

    // With --aws and no endpoint override the header would go to AWS: refused before any
    // call (static credentials and a region, so nothing is looked up either).
    let stderr = setup_error(
        plan()
            .arg("--aws")
            .env("FARGATE_MOTO_ACCOUNT", "111122223333")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAFARGATECLITEST00")
            .env("AWS_SECRET_ACCESS_KEY", "fargate-cli-test")
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    );
    assert!(
        stderr.starts_with(
            "setup error: FARGATE_MOTO_ACCOUNT=111122223333 selects an account of a moto \
             server, but --aws talks to AWS us-east-1"
        ),
        "{stderr}"
    );

    // A server that is not there: found at once (one GET /moto-api/), not by the retries
    // of the first AWS call.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let stderr = setup_error(plan().env("FARGATE_MOTO_URL", &url));
    assert!(
        stderr.starts_with(&format!(
            "setup error: FARGATE_MOTO_URL: no moto server answers at {url}\n  caused by: "
        )),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_moto_variables() {
    let out = run(command().arg("--help"));
    let help = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for var in [
        "FARGATE_MOTO_URL",
        "FARGATE_MOTO_ACCOUNT",
        "FARGATE_MOTO_SERVER",
    ] {
        assert!(help.contains(var), "{var} is not in --help:\n{help}");
    }
}
