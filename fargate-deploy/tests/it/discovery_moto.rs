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
