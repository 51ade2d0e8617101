//! Self-tests of the testkit: the moto harness, per-test accounts, the call recorder against
//! real HTTP, and the mocked-client helpers.

use std::path::Path;

use fargate_testkit::aws_sdk_ecs;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use fargate_testkit::aws_sdk_ecs::operation::list_clusters::{
    ListClustersError, ListClustersOutput,
};
use fargate_testkit::aws_sdk_ecs::types::error::ClusterNotFoundException;
use fargate_testkit::aws_smithy_mocks::{RuleMode, mock};
use fargate_testkit::{
    CallRecorder, MotoServer, aws_error_meta, context, fast_retry, mock_sdk_client, moto,
};

#[tokio::test]
async fn cluster_calls_are_made_and_recorded() {
    let ctx = context().await;
    let ecs = ctx.ecs();

    let created = ecs
        .create_cluster()
        .cluster_name("selftest")
        .send()
        .await
        .unwrap();
    let arn = created.cluster().unwrap().cluster_arn().unwrap().to_owned();
    assert!(
        arn.contains(ctx.account_id()),
        "{arn} is not in account {}",
        ctx.account_id()
    );
    let listed = ecs.list_clusters().send().await.unwrap();
    assert_eq!(listed.cluster_arns(), [arn.as_str()]);
    let described = ecs
        .describe_clusters()
        .clusters("selftest")
        .send()
        .await
        .unwrap();
    assert_eq!(described.clusters().len(), 1);

    let recorder = ctx.recorder();
    let records = recorder.records();
    let names: Vec<String> = records.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "ECS.CreateCluster",
            "ECS.ListClusters",
            "ECS.DescribeClusters"
        ]
    );
    assert!(records.iter().all(|r| r.ok && r.error_code.is_none()));
    assert!(records.iter().all(|r| r.end >= r.start));
    assert_eq!(recorder.mutating_calls(), ["ECS.CreateCluster"]);
    let summary = recorder.summary();
    assert_eq!(summary.total, 3);
    assert_eq!(summary.mutating, 1);
    assert_eq!(summary.failed, 0);
    assert_eq!(
        summary.critical_path, 3,
        "three sequential calls: {summary}"
    );
    assert_eq!(summary.max_concurrency, 1);

    // Concurrent calls: one round trip on the critical path.
    let mark = recorder.mark();
    let (a, b, c) = tokio::join!(
        ecs.describe_clusters().clusters("selftest").send(),
        ecs.list_clusters().send(),
        ctx.sts().get_caller_identity().send(),
    );
    a.unwrap();
    b.unwrap();
    let identity = c.unwrap();
    assert_eq!(identity.account(), Some(ctx.account_id()));
    let since = recorder.summary_since(mark);
    assert_eq!(since.total, 3);
    assert_eq!(since.mutating, 0);
    assert_eq!(since.critical_path, 1, "{since}");
    assert_eq!(since.max_concurrency, 3, "{since}");
    assert_eq!(since.by_operation.get("STS.GetCallerIdentity"), Some(&1));
    assert!(recorder.mutating_calls_since(mark).is_empty());
}

#[tokio::test]
async fn failed_calls_carry_the_aws_error_code() {
    let ctx = context().await;
    let error = ctx
        .ecs()
        .describe_services()
        .cluster("no-such-cluster")
        .services("web")
        .send()
        .await
        .unwrap_err();
    let records = ctx.recorder().records();
    assert_eq!(records.len(), 1);
    assert!(!records[0].ok);
    assert_eq!(
        records[0].error_code.as_deref(),
        Some("ClusterNotFoundException"),
        "{error:?}"
    );
    assert_eq!(ctx.recorder().summary().failed, 1);

    // EC2 errors are unmodeled: the code comes from the error metadata.
    let error = ctx
        .ec2()
        .delete_vpc()
        .vpc_id("vpc-00000000")
        .send()
        .await
        .unwrap_err();
    let last = ctx.recorder().records().pop().unwrap();
    assert_eq!(last.name(), "EC2.DeleteVpc");
    assert!(last.mutating);
    assert_eq!(
        last.error_code.as_deref(),
        Some("InvalidVpcID.NotFound"),
        "{error:?}"
    );
}

#[tokio::test]
async fn accounts_are_isolated() {
    let (a, b) = tokio::join!(context(), context());
    assert_ne!(a.account_id(), b.account_id());
    assert_eq!(a.url(), b.url(), "one server per test binary");

    a.ecs()
        .create_cluster()
        .cluster_name("only-in-a")
        .send()
        .await
        .unwrap();
    let in_a = a.ecs().list_clusters().send().await.unwrap();
    let in_b = b.ecs().list_clusters().send().await.unwrap();
    assert_eq!(in_a.cluster_arns().len(), 1);
    assert!(
        in_b.cluster_arns().is_empty(),
        "account {} sees {:?}",
        b.account_id(),
        in_b.cluster_arns()
    );

    // A client from the bare SdkConfig has no account header: moto's default account.
    let bare = aws_sdk_ecs::Client::new(&a.sdk_config());
    let in_default = bare.list_clusters().send().await.unwrap();
    assert!(
        !in_default
            .cluster_arns()
            .iter()
            .any(|arn| arn.contains(a.account_id()))
    );
    assert_eq!(b.recorder().summary().mutating, 0);
}

#[tokio::test]
async fn server_outlives_the_thread_that_started_it() {
    // Start (or fetch) the server from a short-lived thread, as a test thread would be.
    let pid = std::thread::spawn(|| MotoServer::shared().pid())
        .join()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let server = moto().await;
    assert_eq!(server.pid(), pid);
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "moto (pid {pid}) died with the thread that started it"
    );
    let ctx = context().await;
    ctx.ecs().list_clusters().send().await.unwrap();
}

#[tokio::test]
async fn an_extra_server_is_another_process_with_its_own_state_and_stops_when_dropped() {
    let shared = moto().await;
    let extra = fargate_testkit::extra_moto().await;
    assert_ne!(extra.pid(), shared.pid());
    assert_ne!(extra.url(), shared.url());
    // One account id on both servers: state is per server.
    let on_extra = fargate_testkit::TestContext::new(extra);
    let on_shared = ecs_in(shared, on_extra.account_id());
    on_extra
        .ecs()
        .create_cluster()
        .cluster_name("extra")
        .send()
        .await
        .unwrap();
    let listed = on_extra.ecs().list_clusters().send().await.unwrap();
    assert_eq!(listed.cluster_arns().len(), 1);
    let listed = on_shared.list_clusters().send().await.unwrap();
    assert!(listed.cluster_arns().is_empty(), "{listed:?}");

    // fargate-local's own handle of an extra server stops it when dropped.
    let dropped = fargate_local::extra_moto().await.unwrap();
    let pid = dropped.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(dropped);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !is_gone(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "moto (pid {pid}) still runs after its handle was dropped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An ECS client in account `account_id` of `server`.
fn ecs_in(server: &MotoServer, account_id: &str) -> aws_sdk_ecs::Client {
    let account = fargate_local::MotoAccount::new(account_id);
    let config = aws_sdk_ecs::config::Builder::from(&fargate_local::sdk_config(server.url()))
        .interceptor(account)
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

/// The process is gone or a zombie (killed, not yet reaped by the thread that waits for it).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn mocked_throttling_is_retried_by_the_sdk() {
    let rule = mock!(aws_sdk_ecs::Client::list_clusters)
        .sequence()
        .error(|| {
            ListClustersError::generic(aws_error_meta("ThrottlingException", "Rate exceeded"))
        })
        .output(|| {
            ListClustersOutput::builder()
                .cluster_arns("arn:aws:ecs:us-east-1:123456789012:cluster/c")
                .build()
        })
        .build();
    let recorder = CallRecorder::new();
    let ecs = mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule], |c| c
        .interceptor(recorder.clone()));
    assert_eq!(ecs.config().retry_config(), Some(&fast_retry()));

    let listed = ecs.list_clusters().send().await.unwrap();
    assert_eq!(
        listed.cluster_arns(),
        ["arn:aws:ecs:us-east-1:123456789012:cluster/c"]
    );
    assert_eq!(rule.num_calls(), 2, "one throttled attempt, one retry");
    // The recorder sees one call (an execution), retries included.
    let records = recorder.records();
    assert_eq!(records.len(), 1);
    assert!(records[0].ok);
    assert_eq!(records[0].name(), "ECS.ListClusters");
}

#[tokio::test]
async fn mocked_errors_exhaust_the_retries_and_keep_their_code() {
    let throttled = mock!(aws_sdk_ecs::Client::list_clusters).then_error(|| {
        ListClustersError::generic(aws_error_meta("ThrottlingException", "Rate exceeded"))
    });
    let missing = mock!(aws_sdk_ecs::Client::describe_services).then_error(|| {
        DescribeServicesError::ClusterNotFoundException(
            ClusterNotFoundException::builder()
                .message("Cluster not found.")
                .build(),
        )
    });
    let recorder = CallRecorder::new();
    let ecs = mock_sdk_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&throttled, &missing],
        |c| c.interceptor(recorder.clone())
    );

    let error = ecs.list_clusters().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&error),
        Some("ThrottlingException")
    );
    assert_eq!(throttled.num_calls(), 3, "fast_retry makes 3 attempts");

    ecs.describe_services().send().await.unwrap_err();
    assert_eq!(missing.num_calls(), 1, "not retryable");

    let codes: Vec<Option<String>> = recorder
        .records()
        .into_iter()
        .map(|r| r.error_code)
        .collect();
    assert_eq!(
        codes,
        [
            Some("ThrottlingException".to_owned()),
            Some("ClusterNotFoundException".to_owned())
        ]
    );
    assert_eq!(recorder.summary().failed, 2);
}
