//! Saved plans against the moto server: a plan saved as JSON reads back equal and
//! `apply_saved` deploys it; a saved plan is refused, with no mutating call, naming what
//! differs, when another apply ran since (the generation moved), when AWS was changed under
//! a resource it covers, when it was made for other input, and when a secret-looking value
//! changed (without showing the value).

use fargate_core::Error;
use fargate_deploy::saved_plan::Difference;
use fargate_deploy::{
    ApplyError, ApplyOptions, ContainerService, Deployer, Environment, PlanMode, SavedPlan,
    SavedPlanError,
};
use fargate_testkit::TestContext;

fn worker(image: &str, token: &str) -> ContainerService {
    ContainerService::builder()
        .name("worker")
        .image(image)
        .env(
            [
                ("RUST_LOG".to_string(), "info".to_string()),
                ("API_TOKEN".to_string(), token.to_string()),
            ]
            .into(),
        )
        .build()
        .unwrap()
}

const V1: &str = "public.ecr.aws/docker/library/busybox:1.36";
const V2: &str = "public.ecr.aws/docker/library/busybox:1.37";

async fn deployer(ctx: &TestContext) -> Deployer {
    Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap()
}

/// The differences of a refused saved plan (and that it was refused at the `plan` step).
fn stale(e: &ApplyError) -> (String, Vec<Difference>) {
    assert_eq!(e.failed_step, "plan", "{e}");
    let Error::Failed { source, .. } = &e.source else {
        panic!("not a stale plan: {e}");
    };
    match source.downcast_ref::<SavedPlanError>() {
        Some(SavedPlanError::Stale { differences, .. }) => (e.to_string(), differences.clone()),
        _ => panic!("not a stale plan: {e}"),
    }
}

fn resource_kinds(differences: &[Difference]) -> Vec<String> {
    differences
        .iter()
        .filter_map(|d| match d {
            Difference::Resource { id, .. } => Some(id.kind.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_saved_plan_reads_back_equal_from_json_and_applies() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("saved").build().unwrap();
    let app = worker(V1, "t1");

    let plan = d.plan(&env, &[&app]).await.unwrap();
    let saved = plan.to_saved();
    assert_eq!(saved.mode(), PlanMode::Apply);
    assert_eq!(saved.environment(), "saved");
    assert_eq!(saved.generation(), None, "never applied");
    assert_eq!(saved.plan(), plan.plan());
    let json = saved.to_json().unwrap();
    assert!(json.contains("\"format\": 2"), "{json}");
    assert!(!json.contains("t1\""), "the token is redacted:\n{json}");
    let back = SavedPlan::from_json(&json).unwrap();
    assert_eq!(back, saved);
    drop(plan);

    let report = d
        .apply_saved(&env, &[&app], &back, ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.outputs.contains_key("worker.service_arn"),
        "{:?}",
        report.outputs
    );
    assert!(report.calls.mutating > 10, "{:?}", report.calls);
    let after = d.plan(&env, &[&app]).await.unwrap();
    assert!(!after.has_changes(), "{after}");

    // A saved plan of no changes applies with no mutating call.
    let noop = after.to_saved();
    assert_eq!(noop.generation(), Some(1));
    let noop_json = noop.to_json().unwrap();
    assert!(
        !noop_json.contains("t1\""),
        "what was observed of the deployed task definition holds no secret:\n{noop_json}"
    );
    assert_eq!(
        after.plan_from(noop.observations()).unwrap().changes,
        after.plan().changes,
        "the plan follows from its recorded observations"
    );

    // A saved plan whose entries do not follow from its observations (edited) is refused.
    let mut edited: serde_json::Value = serde_json::from_str(&noop_json).unwrap();
    let observed = edited["observations"]["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|o| o["id"]["kind"] == "ecs:cluster")
        .unwrap();
    observed["observed"] = serde_json::Value::Null;
    let edited = SavedPlan::from_json(&edited.to_string()).unwrap();
    let mark = ctx.recorder().mark();
    let e = d
        .apply_saved(&env, &[&app], &edited, ApplyOptions::default())
        .await
        .unwrap_err();
    let (shown, differences) = stale(&e);
    assert_eq!(differences, vec![Difference::Recorded], "{shown}");
    assert!(shown.contains("recorded observations"), "{shown}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    let mark = ctx.recorder().mark();
    d.apply_saved(&env, &[&app], &noop, ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_plan_saved_before_another_apply_is_refused_naming_the_generation() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("gen").build().unwrap();
    d.deploy(&env, &[&worker(V1, "t1")], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let v2 = worker(V2, "t1");
    let saved = d.plan(&env, &[&v2]).await.unwrap().to_saved();
    assert_eq!(saved.generation(), Some(1));

    // Another deployer applies the same change first.
    d.deploy(&env, &[&v2], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mark = ctx.recorder().mark();
    let e = d
        .apply_saved(&env, &[&v2], &saved, ApplyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new(),
        "a refused plan makes no mutating call"
    );
    let (message, differences) = stale(&e);
    assert!(
        matches!(
            &differences[0],
            Difference::Generation { saved: Some(1), now: Some(2), by } if by.contains("(apply)")
        ),
        "{differences:?}"
    );
    assert!(
        message.contains("another apply ran since (generation 1 → 2)"),
        "{message}"
    );
    assert!(
        resource_kinds(&differences).contains(&"ecs:task-definition".to_string()),
        "{message}"
    );
    assert!(
        message.contains("saved update (") && message.contains("now no change"),
        "{message}"
    );
}

#[tokio::test]
async fn a_foreign_change_under_a_saved_plan_is_refused_naming_the_resource() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("foreign").build().unwrap();
    let app = worker(V1, "t1");
    d.deploy(&env, &[&app], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    let saved = plan.to_saved();
    let group = plan
        .plan()
        .changes
        .iter()
        .find(|c| c.id.kind == "logs:log-group")
        .map(|c| c.id.clone())
        .unwrap_or_else(|| panic!("no log group in\n{plan}"));

    // Someone changes the log group's retention by hand.
    let groups = ctx.logs().describe_log_groups().send().await.unwrap();
    let name = groups
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name())
        .find(|n| n.contains("foreign"))
        .unwrap()
        .to_string();
    ctx.logs()
        .put_retention_policy()
        .log_group_name(&name)
        .retention_in_days(1)
        .send()
        .await
        .unwrap();

    let mark = ctx.recorder().mark();
    let e = d
        .apply_saved(&env, &[&app], &saved, ApplyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    let (message, differences) = stale(&e);
    assert_eq!(
        differences.len(),
        1,
        "only the log group differs: {message}"
    );
    assert!(
        matches!(&differences[0], Difference::Resource { id, .. } if *id == group),
        "{message}"
    );
    assert!(
        message.contains(&format!("{group}: saved no change, now update (retention")),
        "{message}"
    );
}

#[tokio::test]
async fn a_plan_saved_for_other_input_is_refused() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("other").build().unwrap();
    let saved = d.plan(&env, &[&worker(V1, "t1")]).await.unwrap().to_saved();
    let other = ContainerService::builder()
        .name("worker")
        .image(V2)
        .desired_count(3)
        .build()
        .unwrap();
    let mark = ctx.recorder().mark();
    let e = d
        .apply_saved(&env, &[&other], &saved, ApplyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    let (message, differences) = stale(&e);
    assert!(differences.contains(&Difference::Input), "{message}");
    assert!(
        message.contains("the plan was made for other input"),
        "{message}"
    );
    // Another environment's plan is refused as such.
    let elsewhere = Environment::builder().name("elsewhere").build().unwrap();
    let e = d
        .apply_saved(
            &elsewhere,
            &[&worker(V1, "t1")],
            &saved,
            ApplyOptions::default(),
        )
        .await
        .unwrap_err();
    let (message, differences) = stale(&e);
    assert_eq!(
        differences,
        vec![Difference::Environment {
            saved: "other".into(),
            now: "elsewhere".into()
        }]
    );
    assert!(
        message.contains("the plan was made for environment other, not elsewhere"),
        "{message}"
    );
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_changed_secret_value_makes_a_saved_plan_stale_without_showing_it() {
    let ctx = fargate_testkit::context().await;
    let d = deployer(&ctx).await;
    let env = Environment::builder().name("secret").build().unwrap();
    d.deploy(&env, &[&worker(V1, "token-one")], ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let saved = d
        .plan(&env, &[&worker(V1, "token-two")])
        .await
        .unwrap()
        .to_saved();
    assert!(saved.plan().has_changes());
    let json = saved.to_json().unwrap();
    assert!(
        !json.contains("token-one") && !json.contains("token-two"),
        "{json}"
    );

    let mark = ctx.recorder().mark();
    let e = d
        .apply_saved(
            &env,
            &[&worker(V1, "token-three")],
            &saved,
            ApplyOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    let (message, differences) = stale(&e);
    assert!(
        resource_kinds(&differences).contains(&"ecs:task-definition".to_string()),
        "{message}"
    );
    assert!(
        message.contains("API_TOKEN: a different value than saved"),
        "{message}"
    );
    for secret in ["token-one", "token-two", "token-three"] {
        assert!(!message.contains(secret), "{message}");
    }
    // With the value it was made for, the same saved plan applies.
    d.apply_saved(
        &env,
        &[&worker(V1, "token-two")],
        &saved,
        ApplyOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}
