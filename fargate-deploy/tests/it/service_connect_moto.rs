//! ECS Service Connect against the moto server, through the `Deployer`: a server-mode app
//! and a client-only app in an environment with a private namespace. What moto keeps is
//! asserted here: the namespace, the task definition's named port mapping with its
//! `appProtocol`, a re-apply with zero mutating calls, an update of the protocol (a new
//! revision), and destroy leaving nothing.
//!
//! moto 5.2.5 ignores the services' `serviceConnectConfiguration` (it neither stores nor
//! returns it on the deployments), so the ECS field itself is tested with mocks in
//! `service_connect_mocks`; the diff takes a deployment that does not report the field as
//! running the desired configuration (see `ServiceSpec`'s diff), which is why the re-apply
//! here is a no-op.

use fargate_deploy::service_connect::{AppProtocol, ServiceConnect};
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_servicediscovery::Client as CloudMap;
use fargate_testkit::context;

fn api(protocol: AppProtocol) -> ContainerService {
    ContainerService::builder()
        .name("api")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .port(8080)
        .service_connect(ServiceConnect {
            app_protocol: Some(protocol),
            ..ServiceConnect::server()
        })
        .build()
        .unwrap()
}

fn client() -> ContainerService {
    ContainerService::builder()
        .name("client")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .service_connect(ServiceConnect::client_only())
        .build()
        .unwrap()
}

/// The `(name, appProtocol)` of the api container's port mappings in its latest revision.
async fn port_mappings(ctx: &fargate_testkit::TestContext) -> Vec<(String, String)> {
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("sc-api")
        .send()
        .await
        .unwrap();
    td.task_definition()
        .unwrap()
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some("api"))
        .unwrap()
        .port_mappings()
        .iter()
        .map(|p| {
            (
                p.name().unwrap_or_default().to_string(),
                p.app_protocol()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn service_connect_apps_get_named_ports_in_the_namespace_and_are_destroyed() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder()
        .name("sc")
        .private_namespace("sc.internal")
        .build()
        .unwrap();
    let (server, client) = (api(AppProtocol::Http), client());

    let plan = d.plan(&env, &[&server, &client]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("+ servicediscovery:namespace sc.internal")
            && shown.contains("api discovery=api alias=api.sc.internal:8080")
            && shown.contains("8080/tcp name=api app=http"),
        "{shown}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    // The namespace, and the named port mapping Service Connect publishes.
    let sd = ctx.client::<CloudMap>();
    let namespaces = sd.list_namespaces().send().await.unwrap();
    assert_eq!(
        namespaces
            .namespaces()
            .iter()
            .filter_map(|n| n.name())
            .collect::<Vec<_>>(),
        ["sc.internal"]
    );
    assert_eq!(
        port_mappings(&ctx).await,
        [("api".to_string(), "http".to_string())]
    );

    // Re-apply: nothing to do, no mutating call.
    let again = d.plan(&env, &[&server, &client]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // gRPC: a new revision with the new protocol, the service moved to it.
    let grpc = api(AppProtocol::Grpc);
    let update = d.plan(&env, &[&grpc, &client]).await.unwrap();
    assert_eq!(update.plan().summary().create, 0, "{update}");
    d.apply(update).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        port_mappings(&ctx).await,
        [("api".to_string(), "grpc".to_string())]
    );
    let again = d.plan(&env, &[&grpc, &client]).await.unwrap();
    assert!(!again.has_changes(), "{again}");

    // Destroy: no service, no namespace left.
    let gone = d.plan_destroy(&env, &[&grpc, &client]).await.unwrap();
    d.apply(gone).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sd.list_namespaces()
            .send()
            .await
            .unwrap()
            .namespaces()
            .is_empty()
    );
    let left = ctx
        .ecs()
        .describe_services()
        .cluster("sc")
        .services("api")
        .services("client")
        .send()
        .await;
    if let Ok(left) = left {
        assert!(
            left.services()
                .iter()
                .all(|s| s.status() == Some("INACTIVE")),
            "{left:?}"
        );
    }
}
