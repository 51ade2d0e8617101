//! Shared environments against the moto server: the environment lock
//! (concurrent deploys, a held lock, a stale plan, a crashed holder,
//! force-unlock), the app registry (two app files in one environment),
//! duplicate copies converging, and destroy skipping a foreign resource.

use std::time::Duration;

use fargate_core::{Change, Error, ResourceId};
use fargate_deploy::{
    ApplyOptions, BackendApi, ContainerService, Deployer, Environment, FrontendApp, LockError,
    LockOptions,
};
use fargate_testkit::TestContext;
use fargate_testkit::aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

async fn deployer(ctx: &TestContext, holder: &str, wait: Duration) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
        .with_lock_options(LockOptions {
            wait,
            holder: holder.to_string(),
            ..LockOptions::default()
        })
}

fn web(name: &str, paths: &[&str]) -> FrontendApp {
    FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name(name)
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(8080)
                .build()
                .unwrap(),
        )
        .paths(paths.iter().map(|p| p.to_string()).collect())
        .health_check_path("/")
        .build()
        .unwrap()
}

fn worker(name: &str) -> ContainerService {
    ContainerService::builder()
        .name(name)
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .build()
        .unwrap()
}

fn env_filter(env: &str) -> Filter {
    Filter::builder()
        .name("tag:fargate:environment")
        .values(env)
        .build()
}

async fn vpc_ids(ctx: &TestContext, env: &str) -> Vec<String> {
    let out = ctx
        .ec2()
        .describe_vpcs()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap();
    out.vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect()
}

async fn igw_ids(ctx: &TestContext, env: &str) -> Vec<String> {
    let out = ctx
        .ec2()
        .describe_internet_gateways()
        .filters(env_filter(env))
        .send()
        .await
        .unwrap();
    out.internet_gateways()
        .iter()
        .filter_map(|g| g.internet_gateway_id().map(str::to_string))
        .collect()
}

async fn load_balancer_count(ctx: &TestContext) -> usize {
    ctx.elb()
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .len()
}

fn lock_error(e: &Error) -> Option<&LockError> {
    match e {
        Error::Failed { source, .. } => source.downcast_ref(),
        _ => None,
    }
}

#[tokio::test]
async fn concurrent_deploys_of_one_app_file_leave_exactly_one_set_of_resources() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("race").build().unwrap();
    let app = web("web", &["/*"]);
    let a = deployer(&ctx, "deployer-a", Duration::from_secs(120)).await;
    let b = deployer(&ctx, "deployer-b", Duration::from_secs(120)).await;
    let apps: [&dyn fargate_deploy::App; 1] = [&app];
    let (ra, rb) = tokio::join!(
        a.deploy(&env, &apps, ApplyOptions::default()),
        b.deploy(&env, &apps, ApplyOptions::default()),
    );
    ra.unwrap_or_else(|e| panic!("a: {e}"));
    rb.unwrap_or_else(|e| panic!("b: {e}"));
    assert_eq!(vpc_ids(&ctx, "race").await.len(), 1);
    assert_eq!(igw_ids(&ctx, "race").await.len(), 1);
    assert_eq!(load_balancer_count(&ctx).await, 1);
    let plan = a.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    assert!(
        a.lock_status(&env).await.unwrap().is_none(),
        "the lock is released"
    );
}

#[tokio::test]
async fn a_held_lock_fails_a_second_apply_at_once_and_a_stale_plan_is_refused() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("held").build().unwrap();
    let app = worker("jobs");
    let a = deployer(&ctx, "alice@ci pid 1", Duration::ZERO).await;
    let b = deployer(&ctx, "bob@laptop pid 2", Duration::ZERO).await;

    let guard = a.lock(&env, "apply").await.unwrap();
    let plan = b.plan(&env, &[&app]).await.unwrap();
    let mark = b.recorder().mark();
    let err = b.apply(plan).await.unwrap_err();
    assert_eq!(err.failed_step, "lock");
    match lock_error(&err.source) {
        Some(LockError::Held { lease, .. }) => {
            assert_eq!(lease.holder, "alice@ci pid 1");
            assert_eq!(lease.operation, "apply");
        }
        other => panic!("{other:?}: {err}"),
    }
    assert!(err.to_string().contains("alice@ci pid 1"), "{err}");
    let mutating: Vec<String> = b
        .recorder()
        .records_since(mark)
        .iter()
        .filter(|r| r.mutating)
        .map(|r| r.name())
        .collect();
    assert_eq!(
        mutating,
        ["SSM.PutParameter"],
        "only the refused lock attempt"
    );
    assert!(vpc_ids(&ctx, "held").await.is_empty());
    guard.release().await.unwrap();

    // b plans, a deploys, then b's plan is stale.
    let stale = b.plan(&env, &[&app]).await.unwrap();
    a.deploy(&env, &[&app], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = b.apply(stale).await.unwrap_err();
    assert!(
        matches!(lock_error(&err.source), Some(LockError::Stale { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("alice@ci pid 1"), "{err}");
    assert_eq!(
        vpc_ids(&ctx, "held").await.len(),
        1,
        "nothing was duplicated"
    );
    let fresh = b.plan(&env, &[&app]).await.unwrap();
    assert!(!fresh.has_changes(), "{fresh}");
    b.destroy(&env, &[&app])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(vpc_ids(&ctx, "held").await.is_empty());
}

#[tokio::test]
async fn a_crashed_holders_lease_expires_and_force_unlock_removes_a_lease() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("crash").build().unwrap();
    let a = deployer(&ctx, "crashed", Duration::ZERO)
        .await
        .with_lock_options(LockOptions {
            // Leases count whole seconds (a 1 s lease can expire 1 ms after it is taken),
            // and this binary shares its moto server with heavier tests: 5 s keeps the
            // lease alive through the `Held` check below even on a loaded server.
            ttl: Duration::from_secs(5),
            holder: "crashed".into(),
            ..LockOptions::default()
        });
    let b = deployer(&ctx, "survivor", Duration::ZERO).await;
    // A holder that dies stops renewing without releasing (dropping the guard).
    drop(a.lock(&env, "apply").await.unwrap());
    let err = b.lock(&env, "apply").await.unwrap_err();
    assert!(
        matches!(lock_error(&err), Some(LockError::Held { lease, .. }) if lease.holder == "crashed"),
        "{err}"
    );
    // Past the 5 s lease, taken before the check above.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let taken = b
        .lock(&env, "apply")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.lock_status(&env).await.unwrap().map(|l| l.holder),
        Some("survivor".to_string())
    );
    drop(taken);
    let removed = a.force_unlock(&env).await.unwrap();
    assert_eq!(removed.map(|l| l.holder), Some("survivor".to_string()));
    assert!(a.lock_status(&env).await.unwrap().is_none());
}

#[tokio::test]
async fn destroying_one_app_file_keeps_what_the_other_apps_use() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("two").build().unwrap();
    let d = deployer(&ctx, "d", Duration::ZERO).await;
    let api = web("api", &["/api/*"]);
    let site = web("site", &["/*"]);
    // Two app files, deployed separately.
    d.deploy(&env, &[&api], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    d.deploy(&env, &[&site], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(load_balancer_count(&ctx).await, 1, "one shared ALB");
    for app in [&api, &site] {
        let plan = d.plan(&env, &[app]).await.unwrap();
        assert!(!plan.has_changes(), "{plan}");
    }

    let plan = d.plan_destroy(&env, &[&site]).await.unwrap();
    assert!(
        plan.plan()
            .notes
            .iter()
            .any(|n| n.contains("is kept") && n.contains("api")),
        "{plan}"
    );
    for c in &plan.plan().changes {
        assert!(
            !matches!(
                c.id.kind.as_str(),
                "ec2:vpc" | "elbv2:load-balancer" | "ecs:cluster"
            ),
            "the environment stays: {plan}"
        );
    }
    d.destroy(&env, &[&site])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(load_balancer_count(&ctx).await, 1, "the ALB stays for api");
    assert_eq!(vpc_ids(&ctx, "two").await.len(), 1);
    let plan = d.plan(&env, &[&api]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");

    // The last app's destroy removes the environment too.
    d.destroy(&env, &[&api])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(load_balancer_count(&ctx).await, 0);
    assert!(vpc_ids(&ctx, "two").await.is_empty());
    let left = ctx
        .client::<fargate_testkit::aws_sdk_ssm::Client>()
        .get_parameters_by_path()
        .path("/fargate-rs/two/")
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(left.parameters().is_empty(), "{left:?}");
}

#[tokio::test]
async fn duplicate_copies_of_a_vpc_and_gateway_converge_and_destroy_removes_all() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("dup").build().unwrap();
    let d = deployer(&ctx, "d", Duration::ZERO).await;
    let app = worker("jobs");
    d.deploy(&env, &[&app], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let original_vpc = vpc_ids(&ctx, "dup").await;
    let original_igw = igw_ids(&ctx, "dup").await;
    assert_eq!((original_vpc.len(), original_igw.len()), (1, 1));

    // What a lost CreateVpc / CreateInternetGateway reply leaves: a second,
    // empty copy with the same ownership tags.
    let ec2 = ctx.ec2();
    let tags_of = async |kind: &str| {
        let out = ctx
            .ec2()
            .describe_tags()
            .filters(Filter::builder().name("resource-type").values(kind).build())
            .filters(env_filter("dup"))
            .send()
            .await
            .unwrap();
        out.tags()
            .iter()
            .map(|t| {
                Tag::builder()
                    .key(t.key().unwrap())
                    .value(t.value().unwrap())
                    .build()
            })
            .collect::<Vec<_>>()
    };
    let vpc_tags = tags_of("vpc").await;
    let igw_tags = tags_of("internet-gateway").await;
    let copy = |kind: ResourceType, tags: Vec<Tag>| {
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags))
            .build()
    };
    ec2.create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(copy(ResourceType::Vpc, vpc_tags))
        .send()
        .await
        .unwrap();
    ec2.create_internet_gateway()
        .tag_specifications(copy(ResourceType::InternetGateway, igw_tags.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(vpc_ids(&ctx, "dup").await.len(), 2);

    let plan = d.plan(&env, &[&app]).await.unwrap();
    let vpc = plan
        .plan()
        .changes
        .iter()
        .find(|c| c.id.kind == "ec2:vpc")
        .unwrap();
    assert!(
        matches!(&vpc.change, Change::Update { diffs } if diffs.iter().any(|d| d.field == "duplicates")),
        "{plan}"
    );
    let report = d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(report.calls.mutating > 0);
    assert_eq!(
        vpc_ids(&ctx, "dup").await,
        original_vpc,
        "the copy in use is kept"
    );
    assert_eq!(
        igw_ids(&ctx, "dup").await,
        original_igw,
        "the attached copy is kept"
    );
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");

    // Destroy deletes every owned copy.
    ec2.create_internet_gateway()
        .tag_specifications(copy(ResourceType::InternetGateway, igw_tags))
        .send()
        .await
        .unwrap();
    assert_eq!(igw_ids(&ctx, "dup").await.len(), 2);
    d.destroy(&env, &[&app])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(igw_ids(&ctx, "dup").await.is_empty());
    assert!(vpc_ids(&ctx, "dup").await.is_empty());
}

#[tokio::test]
async fn destroy_skips_a_foreign_same_named_resource_and_removes_the_rest() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("foreign").build().unwrap();
    let d = deployer(&ctx, "d", Duration::ZERO).await;
    let app = worker("jobs");
    d.deploy(&env, &[&app], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Someone else's cluster with our name: take our ownership tags off it.
    let ecs = ctx.ecs();
    let cluster = ecs
        .describe_clusters()
        // Tags included, as the library asks: moto 5.2 shares that choice between threads.
        .include(fargate_testkit::aws_sdk_ecs::types::ClusterField::Tags)
        .clusters("foreign")
        .send()
        .await
        .unwrap();
    let arn = cluster.clusters()[0].cluster_arn().unwrap().to_string();
    let tags = ecs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    ecs.untag_resource()
        .resource_arn(&arn)
        .set_tag_keys(Some(
            tags.tags()
                .iter()
                .filter_map(|t| t.key().map(str::to_string))
                .collect(),
        ))
        .send()
        .await
        .unwrap();

    let plan = d.plan_destroy(&env, &[&app]).await.unwrap();
    let id = ResourceId::new("ecs:cluster", "foreign");
    assert_eq!(
        plan.plan().get(&id).map(|c| &c.change),
        Some(&Change::NoOp),
        "{plan}"
    );
    assert!(
        plan.plan()
            .notes
            .iter()
            .any(|n| n.contains("skipped ecs:cluster foreign")),
        "{plan}"
    );
    d.destroy(&env, &[&app])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let still = ecs
        .describe_clusters()
        // Tags included, as the library asks: moto 5.2 shares that choice between threads.
        .include(fargate_testkit::aws_sdk_ecs::types::ClusterField::Tags)
        .clusters("foreign")
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.clusters()[0].status(),
        Some("ACTIVE"),
        "left untouched"
    );
    assert!(
        vpc_ids(&ctx, "foreign").await.is_empty(),
        "the rest is gone"
    );
}

fn backend(name: &str) -> BackendApi {
    BackendApi::builder()
        .service(
            ContainerService::builder()
                .name(name)
                .image("public.ecr.aws/nginx/nginx:1.27")
                .port(8080)
                .build()
                .unwrap(),
        )
        .routes(vec![format!("GET /{name}")])
        .build()
        .unwrap()
}

/// The ports the environment's NLB security group accepts.
async fn nlb_sg_ports(ctx: &TestContext, env: &str) -> Vec<i32> {
    let out = ctx
        .ec2()
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values(format!("{env}-nlb-nlb"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut ports: Vec<i32> = out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter_map(|p| p.from_port())
        .collect();
    ports.sort();
    ports
}

#[tokio::test]
async fn the_shared_nlb_serves_backends_deployed_from_two_files() {
    let ctx = fargate_testkit::context().await;
    let env = Environment::builder().name("nlbs").build().unwrap();
    let d = deployer(&ctx, "d", Duration::ZERO).await;
    let orders = backend("orders");
    let users = backend("users");
    let (po, pu) = (
        i32::from(orders.nlb_listener_port()),
        i32::from(users.nlb_listener_port()),
    );
    assert_ne!(po, pu);
    d.deploy(&env, &[&orders], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    d.deploy(&env, &[&users], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut both = vec![po, pu];
    both.sort();
    assert_eq!(
        nlb_sg_ports(&ctx, "nlbs").await,
        both,
        "rules for every app, not the last file's"
    );
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    assert!(
        !plan.has_changes(),
        "deploying orders again keeps users' rule: {plan}"
    );

    d.destroy(&env, &[&users])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        nlb_sg_ports(&ctx, "nlbs").await,
        vec![po],
        "users' rule went with it"
    );
    let plan = d.plan(&env, &[&orders]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    d.destroy(&env, &[&orders])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(load_balancer_count(&ctx).await, 0);
    assert!(vpc_ids(&ctx, "nlbs").await.is_empty());
}
