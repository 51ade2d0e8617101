//! Batched reads against the moto server: the look-ups of many apps' services and target
//! groups share calls (`DescribeServices` takes 10 services, `DescribeTargetGroups` 20
//! names, `DescribeTags` 20 ARNs), so a no-op plan's calls of those operations do not grow
//! one per app. The apps' log groups are found by listing their environment's path once
//! (pages of 50), and a role costs one `GetRole` when it does not exist.

use fargate_deploy::{ApplyOptions, ContainerService, Deployer, Environment, FrontendApp};

fn web(i: usize) -> FrontendApp {
    FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name(format!("web-{i}"))
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(8080)
                .build()
                .unwrap(),
        )
        .paths(vec![format!("/web-{i}/*")])
        .health_check_path("/")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_no_op_plan_of_twelve_frontends_batches_services_target_groups_and_tags() {
    let ctx = fargate_testkit::context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("batched").build().unwrap();
    let apps: Vec<FrontendApp> = (0..12).map(web).collect();
    let refs: Vec<&dyn fargate_deploy::App> =
        apps.iter().map(|a| a as &dyn fargate_deploy::App).collect();
    d.deploy(&env, &refs, ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mark = d.recorder().mark();
    let plan = d.plan(&env, &refs).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !plan.plan().has_changes(),
        "re-plan must be a no-op:\n{}",
        plan.plan()
    );
    let summary = d.recorder().summary_since(mark);
    assert_eq!(summary.mutating, 0);
    let calls = |op: &str| summary.by_operation.get(op).copied().unwrap_or(0);
    // 12 services: two calls of at most 10.
    assert_eq!(
        calls("ECS.DescribeServices"),
        2,
        "{:#?}",
        summary.by_operation
    );
    // 12 target groups by name: one call of at most 20 names; and one listing of the
    // target groups attached to the load balancer (the orphan check every app shares).
    assert_eq!(
        calls("ElasticLoadBalancingv2.DescribeTargetGroups"),
        2,
        "{:#?}",
        summary.by_operation
    );
    // The listener's rules are read once for all apps.
    assert_eq!(
        calls("ElasticLoadBalancingv2.DescribeRules"),
        1,
        "{:#?}",
        summary.by_operation
    );
    // The target groups' tags (12 ARNs) come in one call, the orphan check's in one, the
    // rules' in ceil(12 / 20) = 1, and the load balancer's and listener's own look-ups add
    // a fixed few: not one per app.
    let tags = calls("ElasticLoadBalancingv2.DescribeTags");
    assert!(
        tags <= 5,
        "DescribeTags {tags}: {:#?}",
        summary.by_operation
    );

    // The 12 log groups (`/ecs/batched/web-<i>`): one listing of `/ecs/batched/`.
    assert_eq!(
        calls("CloudWatchLogs.DescribeLogGroups"),
        1,
        "{:#?}",
        summary.by_operation
    );
    // Each existing role: GetRole (trust policy and tags), then its policies; no ListRoleTags.
    assert_eq!(calls("IAM.ListRoleTags"), 0, "{:#?}", summary.by_operation);
    assert_eq!(
        calls("IAM.GetRolePolicy"),
        calls("IAM.GetRole"),
        "{:#?}",
        summary.by_operation
    );

    d.destroy(&env, &refs)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Nothing exists any more: a plan reads each role with one GetRole only.
    let mark = d.recorder().mark();
    d.plan(&env, &refs).await.unwrap_or_else(|e| panic!("{e}"));
    let summary = d.recorder().summary_since(mark);
    let calls = |op: &str| summary.by_operation.get(op).copied().unwrap_or(0);
    assert!(calls("IAM.GetRole") >= 12, "{:#?}", summary.by_operation);
    assert_eq!(
        calls("IAM.GetRolePolicy") + calls("IAM.ListAttachedRolePolicies"),
        0,
        "{:#?}",
        summary.by_operation
    );
    assert_eq!(
        calls("CloudWatchLogs.DescribeLogGroups"),
        1,
        "{:#?}",
        summary.by_operation
    );
}
