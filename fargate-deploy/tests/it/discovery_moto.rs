//! Cloud Map service discovery against the moto server: an environment's private DNS
//! namespace and an app's Cloud Map service are created, re-applied with zero mutating
//! calls, and destroyed; a same-named namespace of another environment (in another VPC)
//! is left alone, and a same-named Cloud Map service that is not ours is refused.

use std::sync::Arc;

use fargate_core::resource::node;
use fargate_core::{Change, Error, Executable, Ident, Mode, Plan, Ref, Resource, RunOptions, Tags};
use fargate_deploy::Clients;
use fargate_deploy::discovery::{
    DiscoveryServiceSpec, DnsName, NamespaceSpec, namespace_id, namespace_resource, registry_arn,
    service_resource,
};
use fargate_testkit::{TestContext, context};

use crate::support::moto_clients;

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn ns() -> DnsName {
    "prod.internal".parse().unwrap()
}

async fn vpc(ctx: &TestContext, cidr: &str) -> String {
    ctx.ec2()
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_string()
}

fn resources(env: &str, vpc_id: &str, apps: &[&str]) -> Vec<Arc<dyn Resource<Clients>>> {
    let env = ident(env);
    let mut out: Vec<Arc<dyn Resource<Clients>>> = vec![node(NamespaceSpec::new(
        &env,
        ns(),
        Ref::Known(vpc_id.to_string()),
        None,
        Tags::new(),
    ))];
    for app in apps {
        out.push(node(DiscoveryServiceSpec::new(
            &env,
            &ident(app),
            ns(),
            Tags::new(),
        )));
    }
    out
}

async fn apply(
    clients: &Clients,
    resources: &[Arc<dyn Resource<Clients>>],
    mode: Mode,
) -> (Plan, fargate_core::Outputs) {
    let exe = Executable::plan(clients, resources, mode).await.unwrap();
    let plan = exe.plan.clone();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    match graph.run(RunOptions::default()).await.into_result() {
        Ok(outputs) => (plan, outputs),
        Err(e) => panic!("{e}"),
    }
}

fn change_of(plan: &Plan, id: &fargate_core::ResourceId) -> Change {
    plan.get(id).unwrap().change.clone()
}

#[tokio::test]
async fn namespace_and_service_are_created_reapplied_without_mutating_calls_and_destroyed() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let vpc_id = vpc(&ctx, "10.20.0.0/16").await;
    let set = resources("prod", &vpc_id, &["api", "worker"]);

    let (plan, outputs) = apply(&clients, &set, Mode::Apply).await;
    assert!(matches!(
        change_of(&plan, &namespace_resource(&ns())),
        Change::Create { .. }
    ));
    let api = service_resource(&ns(), &ident("api"));
    assert!(
        matches!(change_of(&plan, &api), Change::Create { .. }),
        "{plan}"
    );
    let ns_id = outputs.get(&namespace_id(&ns())).unwrap();
    assert!(ns_id.starts_with("ns-"), "{ns_id}");
    let arn = outputs.get(&registry_arn(&ns(), &ident("api"))).unwrap();
    assert!(arn.contains(":servicediscovery:"), "{arn}");

    // What Cloud Map holds: the namespace in our VPC's name, the service with A records.
    let sd = ctx.client::<fargate_testkit::aws_sdk_servicediscovery::Client>();
    let listed = sd.list_services().send().await.unwrap();
    let names: Vec<&str> = listed.services().iter().filter_map(|s| s.name()).collect();
    assert!(
        names.contains(&"api") && names.contains(&"worker"),
        "{names:?}"
    );

    // Re-apply: no change, no mutating call, the same outputs.
    let mark = ctx.recorder().mark();
    let (again, outputs) = apply(&clients, &set, Mode::Apply).await;
    assert!(!again.has_changes(), "{again}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );
    assert_eq!(
        outputs.get(&registry_arn(&ns(), &ident("api"))).unwrap(),
        arn
    );

    // Destroy removes both services, then the namespace; a second destroy has nothing to do.
    let (gone, _) = apply(&clients, &set, Mode::Destroy).await;
    assert_eq!(gone.summary().delete, 3, "{gone}");
    assert!(
        sd.list_services()
            .send()
            .await
            .unwrap()
            .services()
            .is_empty()
    );
    let (nothing, _) = apply(&clients, &set, Mode::Destroy).await;
    assert!(!nothing.has_changes(), "{nothing}");
}

#[tokio::test]
async fn another_environments_namespace_is_left_alone_and_a_foreign_service_is_refused() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    let (vpc_a, vpc_b) = (
        vpc(&ctx, "10.21.0.0/16").await,
        vpc(&ctx, "10.22.0.0/16").await,
    );
    // Environment `staging` has a namespace of the same name in its own VPC.
    apply(&clients, &resources("staging", &vpc_a, &[]), Mode::Apply).await;

    let prod = resources("prod", &vpc_b, &["api"]);
    let (plan, _) = apply(&clients, &prod, Mode::Apply).await;
    assert!(
        matches!(
            change_of(&plan, &namespace_resource(&ns())),
            Change::Create { .. }
        ),
        "staging's namespace is not prod's: {plan}"
    );
    // Destroying prod leaves staging's namespace.
    apply(&clients, &prod, Mode::Destroy).await;
    let sd = ctx.client::<fargate_testkit::aws_sdk_servicediscovery::Client>();
    let left = sd.list_namespaces().send().await.unwrap();
    assert_eq!(left.namespaces().len(), 1, "{left:?}");

    // A Cloud Map service named like an app in our namespace, made by someone else: refused.
    let staging = resources("staging", &vpc_a, &[]);
    let (_, outputs) = apply(&clients, &staging, Mode::Apply).await;
    let ns_id = outputs.get(&namespace_id(&ns())).unwrap();
    sd.create_service()
        .name("api")
        .namespace_id(&ns_id)
        .send()
        .await
        .unwrap();
    let err = Executable::plan(
        &clients,
        &resources("staging", &vpc_a, &["api"]),
        Mode::Apply,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotOwned { .. }), "{err:?}");
    // ... and left untouched by destroy (planned only: the foreign service keeps the
    // namespace in use, which AWS refuses to delete).
    let destroy = Executable::plan(
        &clients,
        &resources("staging", &vpc_a, &["api"]),
        Mode::Destroy,
    )
    .await
    .unwrap()
    .plan;
    assert_eq!(
        change_of(&destroy, &service_resource(&ns(), &ident("api"))),
        Change::NoOp,
        "{destroy}"
    );
    assert!(
        destroy.notes.iter().any(|n| n.contains("not owned")),
        "{destroy}"
    );
}

fn service(name: &str, discoverable: bool) -> fargate_deploy::ContainerService {
    fargate_deploy::ContainerService::builder()
        .name(name)
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .port(8080)
        .discoverable(discoverable)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_discoverable_app_registers_its_tasks_in_the_environments_namespace() {
    let ctx = context().await;
    let d = fargate_deploy::Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = fargate_deploy::Environment::builder()
        .name("disco")
        .private_namespace("disco.internal")
        .build()
        .unwrap();
    let (api, worker) = (service("api", true), service("worker", false));

    let plan = d.plan(&env, &[&api, &worker]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("+ servicediscovery:namespace disco.internal")
            && shown.contains("+ servicediscovery:service disco.internal/api"),
        "{shown}"
    );
    assert!(
        !shown.contains("servicediscovery:service disco.internal/worker"),
        "only the discoverable app has a Cloud Map service: {shown}"
    );
    let report = d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.outputs.get("api.dns_name").map(String::as_str),
        Some("api.disco.internal"),
        "{:?}",
        report.outputs
    );

    // The ECS service registers in the Cloud Map service; the worker in none.
    let sd = ctx.client::<fargate_testkit::aws_sdk_servicediscovery::Client>();
    let listed = sd.list_services().send().await.unwrap();
    let registry = listed
        .services()
        .iter()
        .find(|s| s.name() == Some("api"))
        .and_then(|s| s.arn())
        .unwrap()
        .to_string();
    let described = ctx
        .ecs()
        .describe_services()
        .cluster("disco")
        .services("api")
        .services("worker")
        .send()
        .await
        .unwrap();
    let registries = |name: &str| -> Vec<String> {
        described
            .services()
            .iter()
            .find(|s| s.service_name() == Some(name))
            .unwrap()
            .service_registries()
            .iter()
            .filter_map(|r| r.registry_arn().map(str::to_string))
            .collect()
    };
    assert_eq!(registries("api"), vec![registry]);
    assert!(registries("worker").is_empty());

    // Re-apply: nothing to do, no mutating call.
    let again = d.plan(&env, &[&api, &worker]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Destroying the apps only keeps the namespace and removes the app's Cloud Map service.
    let apps_gone = d.plan_destroy_apps(&env, &[&api, &worker]).await.unwrap();
    let shown = apps_gone.to_string();
    assert!(
        shown.contains("- servicediscovery:service disco.internal/api")
            && !shown.contains("servicediscovery:namespace"),
        "{shown}"
    );
    d.apply(apps_gone).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sd.list_services()
            .send()
            .await
            .unwrap()
            .services()
            .is_empty()
    );
    assert_eq!(
        sd.list_namespaces()
            .send()
            .await
            .unwrap()
            .namespaces()
            .len(),
        1
    );

    // Destroying the environment removes the namespace.
    let all = d.plan_destroy(&env, &[&api, &worker]).await.unwrap();
    d.apply(all).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sd.list_namespaces()
            .send()
            .await
            .unwrap()
            .namespaces()
            .is_empty()
    );
}

#[tokio::test]
async fn discoverable_without_a_namespace_is_refused_before_any_aws_call() {
    let ctx = context().await;
    let d = fargate_deploy::Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = fargate_deploy::Environment::builder()
        .name("nodisco")
        .build()
        .unwrap();
    let mark = ctx.recorder().mark();
    let e = d.plan(&env, &[&service("api", true)]).await.unwrap_err();
    let Error::Invalid(v) = &e else {
        panic!("expected a typed invalid value, got {e:?}");
    };
    assert_eq!(v.field, "api.discoverable");
    assert!(e.to_string().contains("private_namespace"), "{e}");
    let calls = ctx.recorder().records_since(mark);
    assert!(calls.is_empty(), "no AWS call: {calls:?}");
    let bad = fargate_deploy::Environment::builder()
        .name("nodisco")
        .private_namespace("Not..Valid")
        .build()
        .unwrap_err();
    assert!(
        bad.to_string().contains("environment.private_namespace"),
        "{bad}"
    );
}
