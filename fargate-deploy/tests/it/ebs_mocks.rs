//! Managed EBS volumes (issue #12) against aws-smithy-mocks (moto 5.2 ignores
//! `volumeConfigurations`): the exact `volumeConfigurations` of CreateService and
//! UpdateService (infrastructure role, size, type, IOPS, throughput, file system, snapshot,
//! encryption, tags propagated from the service); the configuration ECS echoes on the PRIMARY
//! deployment plans no change and makes no mutating call; a primary deployment without any
//! is taken as asked for; a changed size updates only the volume configuration; a removed
//! volume is sent as an empty list; a new task definition revision carries the configuration,
//! a scaling change does not (it would start a new deployment); bad input is a typed error
//! naming the field at build(), before any call (a scheduled job refuses EBS with the reason).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use fargate_core::exec::Outputs;
use fargate_core::{
    Change, Error, Executable, Mode, Ownership, Ref, Resource, ResourceId, RunOptions, Tags,
};
use fargate_deploy::ebs::{EbsVolume, ServiceEbsVolume};
use fargate_deploy::service::ServiceSpec;
use fargate_deploy::{App, AppVolume, Clients, ContainerService, Environment, ScheduledJob};
use fargate_testkit::aws_sdk_ecs::operation::create_service::CreateServiceOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use fargate_testkit::aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use fargate_testkit::aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentStrategy, EbsResourceType, LaunchType, NetworkConfiguration, PropagateTags, Service,
    ServiceManagedEbsVolumeConfiguration, ServiceVolumeConfiguration, Tag, TaskFilesystemType,
};
use fargate_testkit::aws_sdk_ecs::{self, Client as Ecs};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-web:3";
const ROLE: &str = "arn:aws:iam::123456789012:role/prod-web-ecs-ebs";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SNAP: &str = "snap-0123456789abcdef0";

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap())
        .with_app("web".parse().unwrap())
        .with_component("service")
}

fn io2() -> EbsVolume {
    EbsVolume::new(200)
        .volume_type("io2")
        .iops(8000)
        .filesystem_type("ext4")
        .snapshot(SNAP)
        .kms_key(KEY)
}

/// A worker service whose tasks get a managed EBS volume `data` with `ebs` (none without).
fn spec(ebs: Option<EbsVolume>) -> ServiceSpec {
    ServiceSpec {
        owner: owner(),
        tags: Tags::try_from_iter([("team".to_string(), "media".to_string())]).unwrap(),
        ebs_volumes: ebs
            .into_iter()
            .map(|ebs| ServiceEbsVolume {
                name: "data".into(),
                ebs,
                role_arn: Ref::Known(ROLE.into()),
                role_name: "prod-web-ecs-ebs".into(),
                role_id: ResourceId::new("iam:role", "prod-web-ecs-ebs"),
            })
            .collect(),
        ..crate::support::worker_service("web")
    }
}

fn resources(spec: &ServiceSpec, new_revision: bool) -> Vec<Arc<dyn Resource<Clients>>> {
    crate::support::with_stubs(spec, |id| {
        let changed = new_revision && id == spec.task_definition_id;
        Some(crate::support::Stub { id, changed })
    })
}

/// Plan and apply `spec`, the task definition's ARN known: the plan.
async fn apply(clients: &Clients, spec: &ServiceSpec) -> fargate_core::Plan {
    apply_revision(clients, spec, false).await
}

/// [`apply`], the task definition planning a new revision with `new_revision`.
async fn apply_revision(
    clients: &Clients,
    spec: &ServiceSpec,
    new_revision: bool,
) -> fargate_core::Plan {
    let exe = Executable::plan(clients, &resources(spec, new_revision), Mode::Apply)
        .await
        .unwrap();
    let plan = exe.plan.clone();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = Outputs::new();
    outputs.set(
        &spec.task_definition_id.output::<String>("arn"),
        TD.to_string(),
    );
    graph
        .run(RunOptions {
            outputs,
            ..RunOptions::default()
        })
        .await
        .into_result()
        .unwrap();
    plan
}

/// The volume configuration as ECS echoes it on a deployment: what was sent, and gp3's
/// default IOPS and throughput when none was.
fn echoed(size: i32, gp3: bool) -> ServiceVolumeConfiguration {
    let m = ServiceManagedEbsVolumeConfiguration::builder()
        .role_arn(ROLE)
        .size_in_gib(size)
        .encrypted(true)
        .filesystem_type(TaskFilesystemType::Xfs);
    let m = if gp3 {
        m.volume_type("gp3").iops(3000).throughput(125)
    } else {
        m.volume_type("io2")
            .iops(8000)
            .filesystem_type(TaskFilesystemType::Ext4)
            .snapshot_id(SNAP)
            .kms_key_id(KEY)
    };
    ServiceVolumeConfiguration::builder()
        .name("data")
        .managed_ebs_volume(m.build().unwrap())
        .build()
        .unwrap()
}

/// The service as DescribeServices shows it, its PRIMARY deployment with `volumes`.
fn described(volumes: Vec<ServiceVolumeConfiguration>) -> Service {
    let mut tags: Vec<Tag> = owner()
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    tags.push(Tag::builder().key("team").value("media").build());
    Service::builder()
        .service_name("web")
        .service_arn(SERVICE_ARN)
        .status("ACTIVE")
        .task_definition(TD)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
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
                .minimum_healthy_percent(100)
                .maximum_percent(200)
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                )
                .build(),
        )
        .set_tags(Some(tags))
        .deployments(
            aws_sdk_ecs::types::Deployment::builder()
                .id("ecs-svc/1")
                .status("PRIMARY")
                .task_definition(TD)
                .desired_count(1)
                .set_volume_configurations(Some(volumes))
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

type Seen = Arc<Mutex<Option<Vec<ServiceVolumeConfiguration>>>>;

/// What an UpdateService asked for: its task definition and volume configurations.
type Updated = (Option<String>, Vec<ServiceVolumeConfiguration>);

#[tokio::test]
async fn create_service_sends_the_managed_ebs_volume_with_the_role_and_tags() {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let create = mock!(Ecs::create_service).then_compute_output(move |r| {
        *s2.lock().unwrap() = Some(r.volume_configurations().to_vec());
        CreateServiceOutput::builder()
            .service(described(r.volume_configurations().to_vec()))
            .build()
    });
    let describe = describing(None);
    let clients = Mocks {
        ecs: vec![&describe, &create],
        ..Mocks::default()
    }
    .clients();
    let plan = apply(&clients, &spec(Some(io2()))).await;
    let shown = plan.to_string();
    assert!(
        shown.contains("volume_configurations")
            && shown.contains(
                "data: size_gib=200 type=io2 iops=8000 throughput=- filesystem=ext4 \
                 snapshot=snap-0123456789abcdef0 encrypted=true"
            )
            && shown.contains("role=prod-web-ecs-ebs"),
        "{shown}"
    );
    let sent = seen
        .lock()
        .unwrap()
        .clone()
        .expect("CreateService was called");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].name(), "data");
    let m = sent[0].managed_ebs_volume().unwrap();
    assert_eq!(m.role_arn(), ROLE);
    assert_eq!(m.size_in_gib(), Some(200));
    assert_eq!(m.volume_type(), Some("io2"));
    assert_eq!((m.iops(), m.throughput()), (Some(8000), None));
    assert_eq!(m.filesystem_type(), Some(&TaskFilesystemType::Ext4));
    assert_eq!(m.snapshot_id(), Some(SNAP));
    assert_eq!((m.encrypted(), m.kms_key_id()), (Some(true), Some(KEY)));
    assert_eq!(m.volume_initialization_rate(), None);
    let [t] = m.tag_specifications() else {
        panic!("one tag specification: {:?}", m.tag_specifications())
    };
    assert_eq!(t.resource_type(), &EbsResourceType::Volume);
    assert_eq!(t.propagate_tags(), Some(&PropagateTags::Service));
    let mut tags: Vec<(&str, &str)> = t
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("fargate:app", "web"),
            ("fargate:component", "service"),
            ("fargate:environment", "prod"),
            ("fargate:managed-by", "fargate-rs"),
            ("team", "media"),
        ]
    );
}

#[tokio::test]
async fn an_echoed_configuration_plans_no_change_and_makes_no_mutating_call() {
    for (ebs, volumes) in [
        (io2(), vec![echoed(200, false)]),
        // gp3 without IOPS or throughput: ECS echoes its defaults.
        (EbsVolume::new(20), vec![echoed(20, true)]),
        // No volumeConfigurations on the PRIMARY deployment (moto): taken as asked for.
        (EbsVolume::new(20), Vec::new()),
    ] {
        let describe = describing(Some(described(volumes.clone())));
        // Only DescribeServices has a rule: any other call fails the test.
        let clients = Mocks {
            ecs: vec![&describe],
            ..Mocks::default()
        }
        .clients();
        let plan = apply(&clients, &spec(Some(ebs.clone()))).await;
        assert!(!plan.has_changes(), "{ebs:?} {volumes:?}: {plan}");
        assert_eq!(describe.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_bigger_volume_updates_only_the_volume_configuration() {
    let describe = describing(Some(described(vec![echoed(20, true)])));
    let seen: Arc<Mutex<Option<Updated>>> = Arc::default();
    let s2 = seen.clone();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *s2.lock().unwrap() = Some((
            r.task_definition().map(str::to_string),
            r.volume_configurations().to_vec(),
        ));
        UpdateServiceOutput::builder()
            .service(described(r.volume_configurations().to_vec()))
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let plan = apply(&clients, &spec(Some(EbsVolume::new(50).throughput(250)))).await;
    let change = plan
        .changes
        .iter()
        .find(|c| c.id.kind == "ecs:service")
        .unwrap();
    let Change::Update { diffs } = &change.change else {
        panic!("an update: {plan}")
    };
    let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["volume_configurations"], "{plan}");
    let (td, sent) = seen.lock().unwrap().clone().expect("UpdateService");
    assert_eq!(td, None, "the task definition is unchanged");
    let m = sent[0].managed_ebs_volume().unwrap();
    assert_eq!(
        (m.size_in_gib(), m.volume_type(), m.throughput(), m.iops()),
        (Some(50), Some("gp3"), Some(250), None)
    );
    assert_eq!(m.role_arn(), ROLE);
}

#[tokio::test]
async fn a_removed_volume_is_sent_as_an_empty_list() {
    let describe = describing(Some(described(vec![echoed(20, true)])));
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *s2.lock().unwrap() = r.volume_configurations.clone();
        UpdateServiceOutput::builder()
            .service(described(Vec::new()))
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let plan = apply(&clients, &spec(None)).await;
    assert!(plan.has_changes(), "{plan}");
    assert_eq!(seen.lock().unwrap().clone(), Some(Vec::new()));
}

fn web(volumes: Vec<AppVolume>) -> Result<ContainerService, Error> {
    ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .volumes(volumes)
        .build()
}

fn field(e: Error) -> String {
    match e {
        Error::Invalid(v) => v.field,
        other => panic!("expected an invalid value, got {other:?}"),
    }
}

#[test]
fn bad_ebs_settings_are_refused_at_build_naming_the_field() {
    let ebs = |e: EbsVolume| AppVolume::ebs("data", "/data", e);
    for (volumes, f) in [
        (vec![ebs(EbsVolume::new(0))], "web.volumes[0].ebs.size_gib"),
        (
            vec![ebs(EbsVolume::new(10).volume_type("gp4"))],
            "web.volumes[0].ebs.volume_type",
        ),
        (
            vec![ebs(EbsVolume::new(10).volume_type("gp2").throughput(200))],
            "web.volumes[0].ebs.throughput",
        ),
        (
            vec![ebs(EbsVolume::new(10).volume_type("io1"))],
            "web.volumes[0].ebs.iops",
        ),
        (
            vec![
                AppVolume::created("files", "/files"),
                ebs(EbsVolume::new(10)),
                AppVolume::ebs("more", "/more", EbsVolume::new(10)),
            ],
            "web.volumes[2].ebs",
        ),
    ] {
        assert_eq!(field(web(volumes.clone()).unwrap_err()), f, "{volumes:?}");
    }
    let mut both = ebs(EbsVolume::new(10));
    both.create = true;
    assert_eq!(field(web(vec![both]).unwrap_err()), "web.volumes[0].create");
    let mut bind_ebs = AppVolume::bind("tmp", "/tmp");
    bind_ebs.ebs = Some(EbsVolume::new(10));
    assert_eq!(
        field(web(vec![bind_ebs]).unwrap_err()),
        "web.volumes[0].ebs"
    );
    assert!(
        web(vec![
            AppVolume::bind("tmp", "/tmp"),
            ebs(EbsVolume::new(10))
        ])
        .is_ok()
    );
    let e = web(vec![ebs(EbsVolume::new(10).iops(20000))]).unwrap_err();
    assert!(e.to_string().contains("3000 to 16000"), "{e}");
}

#[test]
fn a_scheduled_job_refuses_ebs_with_the_reason() {
    let e = ScheduledJob::builder()
        .name("etl")
        .image("busybox:1.36")
        .volumes(vec![
            AppVolume::created("files", "/files"),
            AppVolume::ebs("data", "/data", EbsVolume::new(10)),
        ])
        .build()
        .unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("EventBridge Scheduler"), "{shown}");
    assert_eq!(field(e), "etl.volumes[1].ebs");
}

#[test]
fn the_service_of_an_app_with_ebs_uses_the_apps_infrastructure_role() {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = web(vec![
        AppVolume::ebs("data", "/data", EbsVolume::new(30)).read_only(),
    ])
    .unwrap();
    let service = App::service(&app, &env).unwrap();
    let [v] = service.ebs_volumes.as_slice() else {
        panic!("one EBS volume")
    };
    assert_eq!(
        (v.name.as_str(), v.role_name.as_str()),
        ("data", "prod-web-ecs-ebs")
    );
    assert!(fargate_core::Kind::depends_on(&service).contains(&v.role_id));
    let plain = web(Vec::new()).unwrap();
    assert!(App::service(&plain, &env).unwrap().ebs_volumes.is_empty());
}

#[tokio::test]
async fn other_changes_do_not_resend_the_volume_configuration() {
    let describe = describing(Some(described(vec![echoed(20, true)])));
    let seen: Arc<Mutex<Option<Option<Vec<ServiceVolumeConfiguration>>>>> = Arc::default();
    let s2 = seen.clone();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *s2.lock().unwrap() = Some(r.volume_configurations.clone());
        UpdateServiceOutput::builder()
            .service(described(vec![echoed(20, true)]))
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let mut scaled = spec(Some(EbsVolume::new(20)));
    scaled.desired_count = Some(3);
    let plan = apply(&clients, &scaled).await;
    assert!(plan.has_changes(), "{plan}");
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some(None),
        "no volumeConfigurations (it would start a new deployment)"
    );
}

#[tokio::test]
async fn a_new_revision_carries_the_volume_configuration() {
    // The service runs revision 2 and shows no configuration (as moto, or a volume just
    // added to the task definition); revision 3 is deployed with it.
    let mut running = described(Vec::new());
    running.task_definition = Some(TD.replace(":3", ":2"));
    let describe = describing(Some(running));
    let seen: Arc<Mutex<Option<Updated>>> = Arc::default();
    let s2 = seen.clone();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *s2.lock().unwrap() = Some((
            r.task_definition().map(str::to_string),
            r.volume_configurations().to_vec(),
        ));
        UpdateServiceOutput::builder()
            .service(described(vec![echoed(20, true)]))
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    apply_revision(&clients, &spec(Some(EbsVolume::new(20))), true).await;
    let (td, sent) = seen.lock().unwrap().clone().expect("UpdateService");
    assert_eq!(td.as_deref(), Some(TD));
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].managed_ebs_volume().unwrap().size_in_gib(),
        Some(20)
    );
}
