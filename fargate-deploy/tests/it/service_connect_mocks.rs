//! ECS Service Connect against aws-smithy-mocks (moto 5.2.5 ignores
//! `serviceConnectConfiguration`, so these are the tests of the ECS field): the exact
//! CreateService configuration; a PRIMARY deployment reporting the same configuration plans
//! no change and makes no mutating call; a changed alias is an UpdateService with the new
//! configuration; a new task definition revision carries it when the deployment reports none;
//! an app without `service_connect` turns it off with `enabled: false`; bad
//! settings are typed errors naming the field before any AWS call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fargate_core::exec::Outputs;
use fargate_core::resource::BoxFuture;
use fargate_core::{
    Change, Error, Executable, Mode, Ownership, Ref, Resource, ResourceId, RunOptions,
};
use fargate_deploy::rollout::RolloutOptions;
use fargate_deploy::service::ServiceSpec;
use fargate_deploy::service_connect::{
    AppProtocol, ConnectService, ServiceConnect, ServiceConnectSpec,
};
use fargate_deploy::{Clients, ContainerService, Deployer, Deployment, Environment};
use fargate_testkit::CallRecorder;
use fargate_testkit::aws_sdk_ecs::operation::create_service::CreateServiceOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use fargate_testkit::aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use fargate_testkit::aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentStrategy, LaunchType, LogConfiguration, LogDriver, NetworkConfiguration, Service,
    ServiceConnectClientAlias, ServiceConnectConfiguration, ServiceConnectService, Tag,
};
use fargate_testkit::aws_sdk_ecs::{self, Client as Ecs};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-api:3";
const NS_ARN: &str = "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/api";
const LOG_GROUP: &str = "/ecs/prod/api";

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap())
        .with_app("api".parse().unwrap())
        .with_component("service")
}

fn connect(dns: &str) -> ServiceConnectSpec {
    ServiceConnectSpec {
        namespace_arn: Ref::Known(NS_ARN.into()),
        namespace_id: ResourceId::new("servicediscovery:namespace", "prod.internal"),
        services: vec![ConnectService {
            port_name: "api".into(),
            discovery_name: "api".into(),
            port: 8080,
            dns_name: dns.into(),
        }],
        log_group: LOG_GROUP.into(),
        region: "us-east-1".into(),
    }
}

/// The api service (no load balancer, rollout not watched) with `sc`.
fn spec(sc: Option<ServiceConnectSpec>) -> ServiceSpec {
    ServiceSpec {
        rollout: RolloutOptions {
            wait: false,
            poll_interval: Duration::from_millis(5),
            ..RolloutOptions::default()
        },
        service_connect: sc,
        ..crate::support::worker_service("api")
    }
}

fn resources(spec: &ServiceSpec) -> Vec<Arc<dyn Resource<Clients>>> {
    crate::support::with_stubs(spec, |id| Some(crate::support::Stub::unchanged(id)))
}

/// Plan and apply `spec`, the task definition's ARN known.
async fn apply(clients: &Clients, spec: &ServiceSpec) -> fargate_core::Plan {
    let exe = Executable::plan(clients, &resources(spec), Mode::Apply)
        .await
        .unwrap();
    let plan = exe.plan.clone();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = Outputs::new();
    outputs.set(
        &spec.task_definition_id.output::<String>("arn"),
        TD.to_string(),
    );
    if let Err(e) = graph
        .run(RunOptions {
            outputs,
            ..RunOptions::default()
        })
        .await
        .into_result()
    {
        panic!("{e:?}");
    }
    plan
}

/// What ECS returns for the configuration `connect` sends with alias `dns`.
fn sent(dns: &str) -> ServiceConnectConfiguration {
    ServiceConnectConfiguration::builder()
        .enabled(true)
        .namespace(NS_ARN)
        .services(
            ServiceConnectService::builder()
                .port_name("api")
                .discovery_name("api")
                .client_aliases(
                    ServiceConnectClientAlias::builder()
                        .port(8080)
                        .dns_name(dns)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", LOG_GROUP)
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "service-connect")
                .build()
                .unwrap(),
        )
        .build()
}

/// The service as DescribeServices returns it, its PRIMARY deployment with `sc`.
fn described(sc: Option<ServiceConnectConfiguration>) -> Service {
    let d = Deployment::default();
    Service::builder()
        .service_name("api")
        .service_arn(SERVICE_ARN)
        .status("ACTIVE")
        .task_definition(TD)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .enable_execute_command(false)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets("subnet-1")
                        .security_groups("sg-1")
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::Rolling)
                .minimum_healthy_percent(i32::try_from(d.minimum_healthy_percent).unwrap())
                .maximum_percent(i32::try_from(d.maximum_percent).unwrap())
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(d.circuit_breaker.enable)
                        .rollback(d.circuit_breaker.rollback)
                        .build(),
                )
                .build(),
        )
        .set_tags(Some(
            owner()
                .tags()
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .deployments(
            aws_sdk_ecs::types::Deployment::builder()
                .id("ecs-svc/1")
                .status("PRIMARY")
                .task_definition(TD)
                .set_service_connect_configuration(sc)
                .build(),
        )
        .build()
}

fn describing(service: Option<Service>) -> Rule {
    mock!(Ecs::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .set_services(service.clone().map(|s| vec![s]))
            .build()
    })
}

type Seen = Arc<Mutex<Option<Option<ServiceConnectConfiguration>>>>;

fn updating(seen: Seen) -> Rule {
    mock!(Ecs::update_service).then_compute_output(move |r| {
        *seen.lock().unwrap() = Some(r.service_connect_configuration().cloned());
        assert!(r.task_definition().is_none(), "{r:?}");
        UpdateServiceOutput::builder()
            .service(described(r.service_connect_configuration().cloned()))
            .build()
    })
}

fn fields(plan: &fargate_core::Plan, spec: &ServiceSpec) -> Vec<String> {
    match &plan.get(&spec.resource_id()).unwrap().change {
        Change::Update { diffs } => diffs.iter().map(|d| d.field.clone()).collect(),
        other => panic!("expected an update, got {other:?}"),
    }
}

#[tokio::test]
async fn create_sends_the_namespace_the_alias_and_the_proxy_logs() {
    let seen: Seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let create = mock!(Ecs::create_service).then_compute_output(move |r| {
        *record.lock().unwrap() = Some(r.service_connect_configuration().cloned());
        CreateServiceOutput::builder()
            .service(described(r.service_connect_configuration().cloned()))
            .build()
    });
    let describe = describing(None);
    let clients = Mocks {
        ecs: vec![&create, &describe],
        ..Mocks::default()
    }
    .clients();
    let s = spec(Some(connect("api.prod.internal")));
    let plan = apply(&clients, &s).await;
    let shown = plan.to_string();
    assert!(
        shown.contains("service_connect.services")
            && shown.contains("api discovery=api alias=api.prod.internal:8080")
            && shown.contains(NS_ARN),
        "{shown}"
    );
    let got = seen.lock().unwrap().clone().unwrap().unwrap();
    assert_eq!(got, sent("api.prod.internal"));
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn the_same_configuration_reported_plans_no_change_and_makes_no_call() {
    let describe = describing(Some(described(Some(sent("api.prod.internal")))));
    // No rule for CreateService or UpdateService: calling either would panic.
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    let s = spec(Some(connect("api.prod.internal")));
    let plan = apply(&clients, &s).await;
    assert_eq!(
        plan.get(&s.resource_id()).unwrap().change,
        Change::NoOp,
        "{plan}"
    );
}

#[tokio::test]
async fn an_unreported_configuration_is_taken_as_the_desired_one() {
    // What moto returns: a PRIMARY deployment without the field.
    let describe = describing(Some(described(None)));
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    let s = spec(Some(connect("api.prod.internal")));
    let plan = apply(&clients, &s).await;
    assert_eq!(plan.get(&s.resource_id()).unwrap().change, Change::NoOp);
}

#[tokio::test]
async fn a_changed_alias_is_an_update_with_the_new_configuration() {
    let describe = describing(Some(described(Some(sent("api.prod.internal")))));
    let seen: Seen = Arc::new(Mutex::new(None));
    let update = updating(seen.clone());
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let s = spec(Some(connect("api.internal")));
    let plan = apply(&clients, &s).await;
    assert_eq!(fields(&plan, &s), ["service_connect.services"], "{plan}");
    let got = seen.lock().unwrap().clone().unwrap().unwrap();
    assert_eq!(got, sent("api.internal"));
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn turning_it_off_sends_enabled_false() {
    let describe = describing(Some(described(Some(sent("api.prod.internal")))));
    let seen: Seen = Arc::new(Mutex::new(None));
    let update = updating(seen.clone());
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let s = spec(None);
    let plan = apply(&clients, &s).await;
    assert!(
        fields(&plan, &s).contains(&"service_connect.enabled".to_string()),
        "{plan}"
    );
    let got = seen.lock().unwrap().clone().unwrap().unwrap();
    assert_eq!(
        got,
        ServiceConnectConfiguration::builder()
            .enabled(false)
            .build()
    );
}

#[tokio::test]
async fn a_disabled_configuration_is_what_an_app_without_service_connect_wants() {
    let off = ServiceConnectConfiguration::builder()
        .enabled(false)
        .build();
    let describe = describing(Some(described(Some(off))));
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    let s = spec(None);
    let plan = apply(&clients, &s).await;
    assert_eq!(plan.get(&s.resource_id()).unwrap().change, Change::NoOp);
}

fn app(name: &str, sc: ServiceConnect) -> ContainerService {
    ContainerService::builder()
        .name(name)
        .image("busybox:1.36")
        .port(8080)
        .service_connect(sc)
        .build()
        .unwrap()
}

fn invalid(e: Error) -> fargate_core::InvalidValue {
    match e {
        Error::Invalid(v) => v,
        other => panic!("expected bad input, got {other}"),
    }
}

#[tokio::test]
async fn bad_service_connect_settings_are_refused_before_any_aws_call() {
    // Clients with no rule at all: any call would panic.
    let d = Deployer::from_clients(Mocks::default().clients(), CallRecorder::new());
    let plain = Environment::builder().name("prod").build().unwrap();
    let e = d
        .plan(&plain, &[&app("api", ServiceConnect::server())])
        .await
        .unwrap_err();
    let v = invalid(e);
    assert_eq!(v.field, "api.service_connect");
    assert!(v.allowed.contains("private_namespace"), "{v:?}");

    let env = Environment::builder()
        .name("prod")
        .private_namespace("prod.internal")
        .build()
        .unwrap();
    let same_name = ServiceConnect {
        discovery_name: Some("api".into()),
        ..ServiceConnect::server()
    };
    let e = d
        .plan(
            &env,
            &[
                &app("api", ServiceConnect::server()),
                &app("web", same_name),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(invalid(e).field, "web.service_connect.discovery_name");

    let same_alias = ServiceConnect {
        dns_name: Some("api.prod.internal".into()),
        ..ServiceConnect::server()
    };
    let e = d
        .plan(
            &env,
            &[
                &app("api", ServiceConnect::server()),
                &app("web", same_alias),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(invalid(e).field, "web.service_connect.dns_name");

    // A discoverable app's Cloud Map service already has the name `api`.
    let both = ContainerService::builder()
        .name("api")
        .image("busybox:1.36")
        .port(8080)
        .discoverable(true)
        .service_connect(ServiceConnect::server())
        .build()
        .unwrap();
    let e = d.plan(&env, &[&both]).await.unwrap_err();
    let v = invalid(e);
    assert_eq!(v.field, "api.service_connect.discovery_name");
    assert!(v.reason.contains("api.discoverable"), "{v:?}");

    // At build: server mode needs a port, names follow ECS's rule.
    let e = ContainerService::builder()
        .name("worker")
        .image("busybox:1.36")
        .service_connect(ServiceConnect::server())
        .build()
        .unwrap_err();
    assert_eq!(invalid(e).field, "worker.service_connect");
    let e = ContainerService::builder()
        .name("api")
        .image("busybox:1.36")
        .port(8080)
        .service_connect(ServiceConnect {
            port_name: Some("Bad Name".into()),
            app_protocol: Some(AppProtocol::Http),
            ..ServiceConnect::server()
        })
        .build()
        .unwrap_err();
    assert_eq!(invalid(e).field, "api.service_connect.port_name");
    // Client-only needs no port.
    assert!(
        ContainerService::builder()
            .name("worker")
            .image("busybox:1.36")
            .service_connect(ServiceConnect::client_only())
            .build()
            .is_ok()
    );
}

/// What an UpdateService asked for: the task definition and the configuration.
type UpdateSeen = (Option<String>, Option<ServiceConnectConfiguration>);

const NEW_TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-api:4";

/// The task definition, planning a new revision (`NEW_TD`).
#[derive(Clone)]
struct NewRevision(ResourceId);

impl fargate_core::Kind<Clients> for NewRevision {
    type Observed = ();

    fn id(&self) -> ResourceId {
        self.0.clone()
    }

    fn observe<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(Some(())) })
    }

    fn diff(&self, _: Option<&()>, _: &fargate_core::Resolved) -> Result<Change, Error> {
        Ok(Change::Update { diffs: Vec::new() })
    }

    fn apply<'a>(
        &'a self,
        _: &'a Clients,
        ctx: &'a fargate_core::StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            ctx.set(&self.0.output::<String>("arn"), NEW_TD.to_string());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::StepContext,
        _: &'a (),
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// The AWS case the unreported rule would miss, turning Service Connect on for a service
/// made without it, is covered by the new revision that naming the port makes: the
/// UpdateService that moves the task definition carries the configuration.
#[tokio::test]
async fn a_new_revision_carries_the_configuration_when_the_deployment_reports_none() {
    let describe = describing(Some(described(None)));
    let seen: Arc<Mutex<Option<UpdateSeen>>> = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *record.lock().unwrap() = Some((
            r.task_definition().map(str::to_string),
            r.service_connect_configuration().cloned(),
        ));
        UpdateServiceOutput::builder()
            .service(described(None))
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let s = spec(Some(connect("api.prod.internal")));
    let mut nodes: Vec<Arc<dyn Resource<Clients>>> = fargate_core::Kind::depends_on(&s)
        .into_iter()
        .filter(|id| *id != s.task_definition_id)
        .map(|id| fargate_core::resource::node(crate::support::Stub::unchanged(id)))
        .collect();
    nodes.push(fargate_core::resource::node(NewRevision(
        s.task_definition_id.clone(),
    )));
    nodes.push(fargate_core::resource::node(s.clone()));
    let exe = Executable::plan(&clients, &nodes, Mode::Apply)
        .await
        .unwrap();
    let plan = exe.plan.clone();
    assert_eq!(fields(&plan, &s), ["task_definition"], "{plan}");
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    if let Err(e) = graph.run(RunOptions::default()).await.into_result() {
        panic!("{e:?}");
    }
    let (td, sc) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(td.as_deref(), Some(NEW_TD));
    assert_eq!(sc, Some(sent("api.prod.internal")));
}
