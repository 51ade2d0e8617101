//! Cloud Map against mocked clients: the exact calls of creating a namespace (an
//! asynchronous operation, polled until it succeeds) and a service in it; a failed operation
//! is an error carrying Cloud Map's reason; destroy waits while ECS still holds the service
//! (`ResourceInUse`) and deletes the namespace last.

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::resource::node;
use fargate_core::{Change, Executable, Ident, Mode, Ref, Resource, Tags};
use fargate_deploy::Clients;
use fargate_deploy::discovery::{DiscoveryServiceSpec, DnsName, NamespaceSpec, registry_arn};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_servicediscovery::Client as CloudMap;
use fargate_testkit::aws_sdk_servicediscovery::operation::create_private_dns_namespace::CreatePrivateDnsNamespaceOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::create_service::CreateServiceOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::delete_namespace::DeleteNamespaceOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::delete_service::{
    DeleteServiceError, DeleteServiceOutput,
};
use fargate_testkit::aws_sdk_servicediscovery::operation::get_namespace::GetNamespaceOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::get_operation::GetOperationOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::get_service::GetServiceOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::list_namespaces::ListNamespacesOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::list_services::ListServicesOutput;
use fargate_testkit::aws_sdk_servicediscovery::operation::list_tags_for_resource::ListTagsForResourceOutput;
use fargate_testkit::aws_sdk_servicediscovery::types::{
    DnsConfig, DnsRecord, Namespace, NamespaceSummary, NamespaceType, Operation, OperationStatus,
    OperationTargetType, RecordType, RoutingPolicy, Service, ServiceSummary, Tag,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const NS_ARN: &str = "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1";
const SVC_ARN: &str = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn ns() -> DnsName {
    "prod.internal".parse().unwrap()
}

fn resources() -> Vec<Arc<dyn Resource<Clients>>> {
    vec![
        node(NamespaceSpec::new(
            &ident("prod"),
            ns(),
            Ref::Known("vpc-1".into()),
            None,
            Tags::new(),
        )),
        node(DiscoveryServiceSpec::new(
            &ident("prod"),
            &ident("api"),
            ns(),
            Tags::new(),
        )),
    ]
}

fn operation(status: OperationStatus) -> GetOperationOutput {
    GetOperationOutput::builder()
        .operation(
            Operation::builder()
                .id("op-1")
                .status(status.clone())
                .set_error_message(
                    (status == OperationStatus::Fail).then(|| "the VPC does not exist".into()),
                )
                .targets(OperationTargetType::Namespace, "ns-1")
                .build(),
        )
        .build()
}

fn owned_tags(app: Option<&'static str>) -> Rule {
    let mut tags = vec![
        Tag::builder()
            .key("fargate:environment")
            .value("prod")
            .build()
            .unwrap(),
        Tag::builder()
            .key("fargate:managed-by")
            .value("fargate-rs")
            .build()
            .unwrap(),
    ];
    if let Some(app) = app {
        tags.push(
            Tag::builder()
                .key("fargate:app")
                .value(app)
                .build()
                .unwrap(),
        );
    }
    mock!(CloudMap::list_tags_for_resource)
        .match_requests(move |r| {
            r.resource_arn() == Some(if app.is_some() { SVC_ARN } else { NS_ARN })
        })
        .then_output(move || {
            ListTagsForResourceOutput::builder()
                .set_tags(Some(tags.clone()))
                .build()
        })
}

async fn run(
    clients: &Clients,
    mode: Mode,
) -> Result<fargate_core::Plan, fargate_core::exec::ExecError<fargate_core::Error>> {
    let exe = Executable::plan(clients, &resources(), mode).await.unwrap();
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .map(|_| plan)
}

#[tokio::test(start_paused = true)]
async fn creating_polls_the_namespace_operation_then_creates_the_service_in_it() {
    let list =
        mock!(CloudMap::list_namespaces).then_output(|| ListNamespacesOutput::builder().build());
    let create_ns = mock!(CloudMap::create_private_dns_namespace)
        .match_requests(|r| {
            let tags = r.tags();
            r.name() == Some("prod.internal")
                && r.vpc() == Some("vpc-1")
                && r.creator_request_id().is_some_and(|t| t.len() == 36)
                && tags
                    .iter()
                    .any(|t| t.key() == "fargate:environment" && t.value() == "prod")
        })
        .then_output(|| {
            CreatePrivateDnsNamespaceOutput::builder()
                .operation_id("op-1")
                .build()
        });
    let poll = mock!(CloudMap::get_operation)
        .match_requests(|r| r.operation_id() == Some("op-1"))
        .sequence()
        .output(|| operation(OperationStatus::Pending))
        .output(|| operation(OperationStatus::Success))
        .build();
    let get_ns = mock!(CloudMap::get_namespace)
        .match_requests(|r| r.id() == Some("ns-1"))
        .then_output(|| {
            GetNamespaceOutput::builder()
                .namespace(Namespace::builder().id("ns-1").arn(NS_ARN).build())
                .build()
        });
    let create_svc = mock!(CloudMap::create_service)
        .match_requests(|r| {
            let dns = r.dns_config();
            r.name() == Some("api")
                && r.namespace_id() == Some("ns-1")
                && dns.and_then(|d| d.routing_policy()) == Some(&RoutingPolicy::Multivalue)
                && dns.is_some_and(|d| {
                    d.dns_records()
                        .iter()
                        .map(|x| (x.r#type().clone(), x.ttl()))
                        .collect::<Vec<_>>()
                        == vec![(RecordType::A, 10)]
                })
                && r.tags()
                    .iter()
                    .any(|t| t.key() == "fargate:app" && t.value() == "api")
        })
        .then_output(|| {
            CreateServiceOutput::builder()
                .service(Service::builder().id("srv-1").arn(SVC_ARN).build())
                .build()
        });
    let clients = Mocks {
        discovery: vec![&list, &create_ns, &poll, &get_ns, &create_svc],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(list.num_calls(), 1, "the namespace is looked up once");
    assert_eq!(exe.plan.summary().create, 2, "{}", exe.plan);
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    assert_eq!(poll.num_calls(), 2, "polled until the operation succeeded");
    assert_eq!((create_ns.num_calls(), create_svc.num_calls()), (1, 1));
    assert_eq!(
        outputs.get(&registry_arn(&ns(), &ident("api"))).unwrap(),
        SVC_ARN
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_namespace_operation_is_an_error_with_cloud_maps_reason() {
    let list =
        mock!(CloudMap::list_namespaces).then_output(|| ListNamespacesOutput::builder().build());
    let create_ns = mock!(CloudMap::create_private_dns_namespace).then_output(|| {
        CreatePrivateDnsNamespaceOutput::builder()
            .operation_id("op-1")
            .build()
    });
    let poll = mock!(CloudMap::get_operation).then_output(|| operation(OperationStatus::Fail));
    let clients = Mocks {
        discovery: vec![&list, &create_ns, &poll],
        ..Mocks::default()
    }
    .clients();
    let e = run(&clients, Mode::Apply).await.unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("servicediscovery:namespace prod.internal")
            && shown.contains("the VPC does not exist"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn destroy_waits_while_the_service_is_in_use_then_deletes_the_namespace() {
    let list = mock!(CloudMap::list_namespaces).then_output(|| {
        ListNamespacesOutput::builder()
            .namespaces(
                NamespaceSummary::builder()
                    .id("ns-1")
                    .arn(NS_ARN)
                    .name("prod.internal")
                    .r#type(NamespaceType::DnsPrivate)
                    .build(),
            )
            .build()
    });
    let ns_tags = owned_tags(None);
    let svc_tags = owned_tags(Some("api"));
    let list_svc = mock!(CloudMap::list_services)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.values().iter().any(|v| v == "ns-1"))
        })
        .then_output(|| {
            ListServicesOutput::builder()
                .services(
                    ServiceSummary::builder()
                        .id("srv-1")
                        .arn(SVC_ARN)
                        .name("api")
                        .build(),
                )
                .build()
        });
    let get_svc = mock!(CloudMap::get_service).then_output(|| {
        GetServiceOutput::builder()
            .service(
                Service::builder()
                    .id("srv-1")
                    .arn(SVC_ARN)
                    .namespace_id("ns-1")
                    .dns_config(
                        DnsConfig::builder()
                            .routing_policy(RoutingPolicy::Multivalue)
                            .dns_records(
                                DnsRecord::builder()
                                    .r#type(RecordType::A)
                                    .ttl(10)
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
    });
    let delete_svc = mock!(CloudMap::delete_service)
        .match_requests(|r| r.id() == Some("srv-1"))
        .sequence()
        .error(|| {
            DeleteServiceError::generic(aws_error_meta(
                "ResourceInUse",
                "the service has registered instances",
            ))
        })
        .output(|| DeleteServiceOutput::builder().build())
        .build();
    let delete_ns = mock!(CloudMap::delete_namespace)
        .match_requests(|r| r.id() == Some("ns-1"))
        .then_output(|| {
            DeleteNamespaceOutput::builder()
                .operation_id("op-1")
                .build()
        });
    let poll = mock!(CloudMap::get_operation).then_output(|| operation(OperationStatus::Success));
    let clients = Mocks {
        discovery: vec![
            &list,
            &ns_tags,
            &svc_tags,
            &list_svc,
            &get_svc,
            &delete_svc,
            &delete_ns,
            &poll,
        ],
        ..Mocks::default()
    }
    .clients();

    // Unchanged on apply: no mutating call.
    let apply = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap();
    assert!(!apply.plan.has_changes(), "{}", apply.plan);

    let plan = run(&clients, Mode::Destroy).await.unwrap();
    assert!(
        plan.changes.iter().all(|c| c.change == Change::Delete),
        "{plan}"
    );
    assert_eq!(delete_svc.num_calls(), 2, "retried while in use");
    assert_eq!((delete_ns.num_calls(), poll.num_calls()), (1, 1));
}
