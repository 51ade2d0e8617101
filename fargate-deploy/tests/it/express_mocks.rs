//! ECS Express Mode against mocked clients (moto has no Express Mode): the exact create
//! request and the wait for its deployment, a re-apply with zero mutating calls, an update
//! that sends only what differs, destroy (delete, then wait until the service is gone), a
//! same-named service without our tags refused with zero mutating calls, a failed
//! deployment reported with ECS's reason, and bad input refused before any AWS call; an
//! update waits for the deployment to the revision it made (not an older finished one),
//! or not at all when it made none; `status` of an Express app.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::exec::{OutputKey, RunOptions};
use fargate_core::resource::{BoxFuture, node};
use fargate_core::tags::Ownership;
use fargate_core::{
    Architecture, Change, EcsName, Error, Executable, IamRoleName, Ident, Kind, LogGroupName, Mode,
    PlanValues, Port, Ref, Resolved, Resource, ResourceId, Round, StepContext, Tags, TaskSize,
};
use fargate_deploy::deployer::App;
use fargate_deploy::express::{
    ExpressContainer, ExpressRoles, ExpressScaling, ExpressServiceParts, ExpressServiceSpec,
    ScalingMetric, service_arn, url,
};
use fargate_deploy::iam::role_arn;
use fargate_deploy::{Clients, Deployer, Environment, ExpressApp};
use fargate_testkit::aws_sdk_ecs::Client as Ecs;
use fargate_testkit::aws_sdk_ecs::operation::create_express_gateway_service::{
    CreateExpressGatewayServiceError, CreateExpressGatewayServiceOutput,
};
use fargate_testkit::aws_sdk_ecs::operation::delete_express_gateway_service::{
    DeleteExpressGatewayServiceError, DeleteExpressGatewayServiceOutput,
};
use fargate_testkit::aws_sdk_ecs::operation::describe_express_gateway_service::{
    DescribeExpressGatewayServiceError, DescribeExpressGatewayServiceOutput,
};
use fargate_testkit::aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use fargate_testkit::aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use fargate_testkit::aws_sdk_ecs::operation::update_express_gateway_service::UpdateExpressGatewayServiceOutput;
use fargate_testkit::aws_sdk_ecs::primitives::DateTime;
use fargate_testkit::aws_sdk_ecs::types::error::{
    InvalidParameterException, ResourceNotFoundException, ServiceNotActiveException,
};
use fargate_testkit::aws_sdk_ecs::types::{
    AccessType, Deployment, DeploymentRolloutState, EcsExpressGatewayService,
    ExpressCpuArchitecture, ExpressGatewayContainer, ExpressGatewayScalingTarget,
    ExpressGatewayServiceAwsLogsConfiguration, ExpressGatewayServiceConfiguration,
    ExpressGatewayServiceInclude, ExpressGatewayServiceNetworkConfiguration,
    ExpressGatewayServiceScalingMetric, ExpressGatewayServiceStatus,
    ExpressGatewayServiceStatusCode, IngressPathSummary, KeyValuePair, Service,
    ServiceCurrentRevisionSummary, ServiceDeployment, ServiceDeploymentBrief,
    ServiceDeploymentStatus, ServiceRevision, ServiceRevisionSummary, Tag,
    UpdatedExpressGatewayService,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};
use fargate_testkit::{CallRecorder, aws_error_meta};

use crate::support::Mocks;

const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/prod-web";
const EXEC_ARN: &str = "arn:aws:iam::123456789012:role/prod-web-exec";
const INFRA_ARN: &str = "arn:aws:iam::123456789012:role/prod-web-ecs-infra";
const ENDPOINT: &str = "pr-ab12cd.ecs.us-east-1.on.aws";
/// The service revision in effect before an update, and the one an update makes.
const REV1: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/prod-web/1";
const REV2: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/prod-web/2";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn cluster() -> EcsName {
    EcsName::derive(&["prod"])
}

fn name() -> EcsName {
    EcsName::derive(&["prod", "web"])
}

/// The role ARNs and nothing else, as the role kinds publish them (observed, kept).
#[derive(Debug, Clone)]
struct Roles;

fn role(name: &str) -> OutputKey<String> {
    role_arn(&IamRoleName::derive(&[name]))
}

impl Kind<Clients> for Roles {
    type Observed = ();

    fn id(&self) -> ResourceId {
        ResourceId::new("test:roles", "prod/web")
    }

    fn observe<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(Some(())) })
    }

    fn diff(&self, _: Option<&()>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::NoOp)
    }

    fn destroy_change(&self, _: Option<&()>) -> Change {
        Change::NoOp
    }

    fn outputs(&self, _: Option<&()>, _: &Change, _: &Resolved) -> PlanValues {
        PlanValues::new()
            .with(&role("prod-web-exec"), &EXEC_ARN.to_string())
            .with(&role("prod-web-ecs-infra"), &INFRA_ARN.to_string())
    }

    fn apply<'a>(
        &'a self,
        _: &'a Clients,
        ctx: &'a StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            ctx.set(&role("prod-web-exec"), EXEC_ARN.to_string());
            ctx.set(&role("prod-web-ecs-infra"), INFRA_ARN.to_string());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a StepContext,
        _: &'a (),
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// The desired service; `cpu` and `max_tasks` vary between tests.
fn spec(cpu: u32, memory: u32, max_tasks: u32) -> ExpressServiceSpec {
    let env = ident("prod");
    let app = ident("web");
    ExpressServiceSpec::new(ExpressServiceParts {
        cluster: cluster(),
        name: name(),
        ownership: Ownership::new(env)
            .with_app(app)
            .with_component("express-service"),
        tags: Tags::new(),
        container: ExpressContainer {
            image: "public.ecr.aws/nginx/nginx:1.27".parse().unwrap(),
            port: Port::new(8080).unwrap(),
            command: vec![],
            environment: BTreeMap::from([
                ("MODE".to_string(), "prod".to_string()),
                ("API_TOKEN".to_string(), "hunter2".to_string()),
            ]),
            secrets: BTreeMap::new(),
            logs: (LogGroupName::derive(&["ecs", "prod", "web"]), "web".into()),
        },
        size: TaskSize::new(cpu, memory).unwrap(),
        architecture: Architecture::X86_64,
        health_check_path: "/health".into(),
        scaling: ExpressScaling {
            min_tasks: 1,
            max_tasks,
            metric: ScalingMetric::Cpu,
            target: 60,
        },
        roles: ExpressRoles {
            execution: IamRoleName::derive(&["prod-web-exec"]),
            task: None,
            infrastructure: IamRoleName::derive(&["prod-web-ecs-infra"]),
        },
        subnets: Ref::Known(vec!["subnet-2".into(), "subnet-1".into()]),
        after: vec![ResourceId::new("test:roles", "prod/web")],
    })
}

fn resources(spec: ExpressServiceSpec) -> Vec<Arc<dyn Resource<Clients>>> {
    vec![node(Roles), node(spec)]
}

fn tags(owned: bool) -> Vec<Tag> {
    let mut t = vec![Tag::builder().key("Name").value("prod-web").build()];
    if owned {
        t.extend([
            Tag::builder()
                .key("fargate:managed-by")
                .value("fargate-rs")
                .build(),
            Tag::builder()
                .key("fargate:environment")
                .value("prod")
                .build(),
            Tag::builder().key("fargate:app").value("web").build(),
            Tag::builder()
                .key("fargate:component")
                .value("express-service")
                .build(),
        ]);
    }
    t
}

/// The service as ECS describes it: `cpu` and `max_tasks` as configured, with `status`.
fn described(
    cpu: &str,
    max_tasks: i32,
    status: ExpressGatewayServiceStatusCode,
    owned: bool,
) -> DescribeExpressGatewayServiceOutput {
    described_at(REV1, cpu, max_tasks, status, owned)
}

/// [`described`] with its configuration at service revision `revision`.
fn described_at(
    revision: &str,
    cpu: &str,
    max_tasks: i32,
    status: ExpressGatewayServiceStatusCode,
    owned: bool,
) -> DescribeExpressGatewayServiceOutput {
    let container = ExpressGatewayContainer::builder()
        .image("public.ecr.aws/nginx/nginx:1.27")
        .container_port(8080)
        .aws_logs_configuration(
            ExpressGatewayServiceAwsLogsConfiguration::builder()
                .log_group("/ecs/prod/web")
                .log_stream_prefix("web")
                .build()
                .unwrap(),
        )
        .environment(KeyValuePair::builder().name("MODE").value("prod").build())
        .environment(
            KeyValuePair::builder()
                .name("API_TOKEN")
                .value("hunter2")
                .build(),
        )
        .build()
        .unwrap();
    let config = ExpressGatewayServiceConfiguration::builder()
        .service_revision_arn(revision)
        .execution_role_arn(EXEC_ARN)
        .cpu(cpu)
        .memory("512")
        .cpu_architecture(ExpressCpuArchitecture::X8664)
        .health_check_path("/health")
        .primary_container(container)
        .scaling_target(
            ExpressGatewayScalingTarget::builder()
                .min_task_count(1)
                .max_task_count(max_tasks)
                .auto_scaling_metric(ExpressGatewayServiceScalingMetric::AverageCpuUtilization)
                .auto_scaling_target_value(60)
                .build(),
        )
        .network_configuration(
            ExpressGatewayServiceNetworkConfiguration::builder()
                .subnets("subnet-1")
                .subnets("subnet-2")
                .build(),
        )
        .ingress_paths(
            IngressPathSummary::builder()
                .access_type(AccessType::Public)
                .endpoint(ENDPOINT)
                .build()
                .unwrap(),
        )
        .build();
    DescribeExpressGatewayServiceOutput::builder()
        .service(
            EcsExpressGatewayService::builder()
                .cluster("prod")
                .service_name("prod-web")
                .service_arn(ARN)
                .infrastructure_role_arn(INFRA_ARN)
                .status(
                    ExpressGatewayServiceStatus::builder()
                        .status_code(status)
                        .status_reason("the service is being deleted")
                        .build(),
                )
                .active_configurations(config)
                .set_tags(Some(tags(owned)))
                .build(),
        )
        .build()
}

fn not_found() -> Rule {
    mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .then_error(|| {
            DescribeExpressGatewayServiceError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("service not found")
                    .meta(aws_error_meta(
                        "ResourceNotFoundException",
                        "service not found",
                    ))
                    .build(),
            )
        })
}

fn ecs_service(state: DeploymentRolloutState, reason: &str) -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            Service::builder()
                .service_arn(ARN)
                .deployments(
                    Deployment::builder()
                        .status("PRIMARY")
                        .rollout_state(state)
                        .rollout_state_reason(reason)
                        .desired_count(1)
                        .running_count(1)
                        .build(),
                )
                .build(),
        )
        .build()
}

async fn run(
    clients: &Clients,
    resources: &[Arc<dyn Resource<Clients>>],
    mode: Mode,
) -> (
    fargate_core::Plan,
    Result<fargate_core::exec::Outputs, fargate_core::exec::ExecError<Error>>,
) {
    let exe = Executable::plan(clients, resources, mode).await.unwrap();
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    let out = graph.run(RunOptions::default()).await.into_result();
    (plan, out)
}

#[tokio::test(start_paused = true)]
async fn creating_sends_the_whole_service_then_waits_for_its_deployment() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .sequence()
        .output(|| {
            // The look-up at plan time: nothing of that name yet.
            DescribeExpressGatewayServiceOutput::builder().build()
        })
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .build();
    let create = mock!(Ecs::create_express_gateway_service)
        .match_requests(|r| {
            let c = r.primary_container().unwrap();
            let logs = c.aws_logs_configuration().unwrap();
            let s = r.scaling_target().unwrap();
            let env: Vec<(&str, &str)> = c
                .environment()
                .iter()
                .map(|kv| (kv.name().unwrap(), kv.value().unwrap()))
                .collect();
            r.cluster() == Some("prod")
                && r.service_name() == Some("prod-web")
                && r.execution_role_arn() == Some(EXEC_ARN)
                && r.infrastructure_role_arn() == Some(INFRA_ARN)
                && r.task_role_arn().is_none()
                && r.task_definition_arn().is_none()
                && c.image() == "public.ecr.aws/nginx/nginx:1.27"
                && c.container_port() == Some(8080)
                && c.command().is_empty()
                && env == vec![("API_TOKEN", "hunter2"), ("MODE", "prod")]
                && (logs.log_group(), logs.log_stream_prefix()) == ("/ecs/prod/web", "web")
                && r.cpu() == Some("256")
                && r.memory() == Some("512")
                && r.cpu_architecture() == Some(&ExpressCpuArchitecture::X8664)
                && r.health_check_path() == Some("/health")
                && (s.min_task_count(), s.max_task_count()) == (Some(1), Some(4))
                && s.auto_scaling_metric()
                    == Some(&ExpressGatewayServiceScalingMetric::AverageCpuUtilization)
                && s.auto_scaling_target_value() == Some(60)
                && r.network_configuration().unwrap().subnets() == ["subnet-2", "subnet-1"]
                && r.network_configuration()
                    .unwrap()
                    .security_groups()
                    .is_empty()
                && r.tags().iter().any(|t| {
                    t.key() == Some("fargate:managed-by") && t.value() == Some("fargate-rs")
                })
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("fargate:app") && t.value() == Some("web"))
        })
        .then_output(|| {
            CreateExpressGatewayServiceOutput::builder()
                .service(EcsExpressGatewayService::builder().service_arn(ARN).build())
                .build()
        });
    let deployments = mock!(Ecs::describe_services)
        .match_requests(|r| r.cluster() == Some("prod") && r.services() == [ARN])
        .sequence()
        .output(|| ecs_service(DeploymentRolloutState::InProgress, ""))
        .output(|| ecs_service(DeploymentRolloutState::Completed, "done"))
        .build();
    let clients = Mocks {
        ecs: vec![&describe, &create, &deployments],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    assert_eq!(plan.summary().create, 1, "{plan}");
    let shown = plan.to_string();
    assert!(shown.contains("scaling.max_tasks"), "{shown}");
    assert!(!shown.contains("hunter2"), "a token is redacted: {shown}");
    let outputs = out.unwrap();
    assert_eq!(create.num_calls(), 1);
    assert_eq!(
        deployments.num_calls(),
        2,
        "waited until the deployment completed"
    );
    assert_eq!(
        outputs.get(&url(&cluster(), &name())).unwrap(),
        format!("https://{ENDPOINT}")
    );
    assert_eq!(outputs.get(&service_arn(&cluster(), &name())).unwrap(), ARN);
}

#[tokio::test(start_paused = true)]
async fn a_deployed_service_is_a_no_op_with_zero_mutating_calls() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| {
            r.service_arn() == Some(ARN) && r.include() == [ExpressGatewayServiceInclude::Tags]
        })
        .then_output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true));
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    assert!(!plan.has_changes(), "{plan}");
    let outputs = out.unwrap();
    assert_eq!(
        describe.num_calls(),
        1,
        "one read, no write (any other call panics)"
    );
    assert_eq!(
        outputs.get(&url(&cluster(), &name())).unwrap(),
        format!("https://{ENDPOINT}")
    );
}

#[tokio::test(start_paused = true)]
async fn an_update_sends_only_the_settings_that_differ() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .sequence()
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .output(|| described("256", 6, ExpressGatewayServiceStatusCode::Active, true))
        .build();
    let update = mock!(Ecs::update_express_gateway_service)
        .match_requests(|r| {
            let s = r.scaling_target();
            r.service_arn() == Some(ARN)
                && s.and_then(|s| s.max_task_count()) == Some(6)
                && r.primary_container().is_none()
                && r.cpu().is_none()
                && r.memory().is_none()
                && r.health_check_path().is_none()
                && r.execution_role_arn().is_none()
                && r.network_configuration().is_none()
                && r.cpu_architecture().is_none()
        })
        .then_output(|| {
            UpdateExpressGatewayServiceOutput::builder()
                .service(
                    UpdatedExpressGatewayService::builder()
                        .service_arn(ARN)
                        .build(),
                )
                .build()
        });
    // No target revision returned: the update started no deployment, so there is no
    // deployment to wait for (any call but the read afterwards panics).
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(256, 512, 6)), Mode::Apply).await;
    assert_eq!(plan.summary().update, 1, "{plan}");
    let diffs: Vec<String> = plan
        .changes
        .iter()
        .flat_map(|c| match &c.change {
            Change::Update { diffs } => diffs.iter().map(|d| d.field.clone()).collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(diffs, ["scaling.max_tasks"]);
    out.unwrap();
    assert_eq!(update.num_calls(), 1);
    assert_eq!(describe.num_calls(), 2, "the plan's read and one after");
}

/// `UpdateExpressGatewayService`'s answer: the configuration it deploys, at [`REV2`].
fn updated_to(revision: &str) -> UpdateExpressGatewayServiceOutput {
    UpdateExpressGatewayServiceOutput::builder()
        .service(
            UpdatedExpressGatewayService::builder()
                .service_arn(ARN)
                .target_configuration(
                    ExpressGatewayServiceConfiguration::builder()
                        .service_revision_arn(revision)
                        .cpu("512")
                        .build(),
                )
                .build(),
        )
        .build()
}

/// A service deployment to `revision` in `status`.
fn deployment(
    n: u32,
    revision: &str,
    status: ServiceDeploymentStatus,
    reason: &str,
) -> ServiceDeploymentBrief {
    ServiceDeploymentBrief::builder()
        .service_deployment_arn(format!(
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/prod-web/d{n}"
        ))
        .service_arn(ARN)
        .created_at(DateTime::from_secs(1_700_000_000 + i64::from(n) * 600))
        .target_service_revision_arn(revision)
        .status(status)
        .status_reason(reason)
        .build()
}

fn deployments(list: Vec<ServiceDeploymentBrief>) -> ListServiceDeploymentsOutput {
    ListServiceDeploymentsOutput::builder()
        .set_service_deployments(Some(list))
        .build()
}

/// The plan's read (at [`REV1`], 256 CPU), then the service as the wait reads it (at
/// [`REV2`], 512 CPU).
fn described_before_and_during_the_update() -> Rule {
    mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .sequence()
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .output(|| {
            described_at(
                REV2,
                "512",
                4,
                ExpressGatewayServiceStatusCode::Active,
                true,
            )
        })
        .repeatedly()
        .build()
}

fn cpu_update() -> Rule {
    mock!(Ecs::update_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN) && r.cpu() == Some("512"))
        .then_output(|| updated_to(REV2))
}

#[tokio::test(start_paused = true)]
async fn an_update_waits_for_the_deployment_it_started_not_an_older_finished_one() {
    use ServiceDeploymentStatus as S;
    let describe = described_before_and_during_the_update();
    let update = cpu_update();
    let list = mock!(Ecs::list_service_deployments)
        .match_requests(|r| r.cluster() == Some("prod") && r.service() == Some(ARN))
        .sequence()
        // The old deployment finished long ago; the new one is not listed yet.
        .output(|| deployments(vec![deployment(1, REV1, S::Successful, "done")]))
        .output(|| {
            deployments(vec![
                deployment(2, REV2, S::InProgress, ""),
                deployment(1, REV1, S::Successful, "done"),
            ])
        })
        .output(|| {
            deployments(vec![
                deployment(2, REV2, S::Successful, "done"),
                deployment(1, REV1, S::Successful, "done"),
            ])
        })
        .build();
    let clients = Mocks {
        ecs: vec![&describe, &update, &list],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(512, 1024, 4)), Mode::Apply).await;
    assert_eq!(plan.summary().update, 1, "{plan}");
    out.unwrap();
    assert_eq!(update.num_calls(), 1);
    assert_eq!(
        list.num_calls(),
        3,
        "waited past the old SUCCESSFUL deployment until the new one succeeded"
    );
}

#[tokio::test(start_paused = true)]
async fn an_update_whose_deployment_fails_is_an_error_with_its_reason() {
    use ServiceDeploymentStatus as S;
    let describe = described_before_and_during_the_update();
    let update = cpu_update();
    let list = mock!(Ecs::list_service_deployments).then_output(|| {
        deployments(vec![
            deployment(
                2,
                REV2,
                S::RollbackSuccessful,
                "ECS deployment circuit breaker: tasks failed to start",
            ),
            deployment(1, REV1, S::Successful, "done"),
        ])
    });
    let clients = Mocks {
        ecs: vec![&describe, &update, &list],
        ..Mocks::default()
    }
    .clients();
    let (_, out) = run(&clients, &resources(spec(512, 1024, 4)), Mode::Apply).await;
    let err = out.err().unwrap().to_string();
    assert!(err.contains("tasks failed to start"), "{err}");
    assert!(err.contains("ROLLBACK_SUCCESSFUL"), "{err}");
    assert_eq!(list.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn destroy_deletes_the_service_and_waits_until_it_is_gone() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .sequence()
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Draining, true))
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Inactive, true))
        .build();
    let delete = mock!(Ecs::delete_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .then_output(|| DeleteExpressGatewayServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &delete],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Destroy).await;
    assert_eq!(plan.summary().delete, 1, "{plan}");
    out.unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(describe.num_calls(), 3, "polled until INACTIVE");
}

#[tokio::test(start_paused = true)]
async fn a_service_still_being_deleted_is_made_again_once_it_is_gone() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .sequence()
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Draining, true))
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Inactive, true))
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .build();
    let delete = mock!(Ecs::delete_express_gateway_service).then_error(|| {
        DeleteExpressGatewayServiceError::ServiceNotActiveException(
            ServiceNotActiveException::builder()
                .message("Service is being deleted.")
                .meta(aws_error_meta(
                    "ServiceNotActiveException",
                    "Service is being deleted.",
                ))
                .build(),
        )
    });
    let create = mock!(Ecs::create_express_gateway_service).then_output(|| {
        CreateExpressGatewayServiceOutput::builder()
            .service(EcsExpressGatewayService::builder().service_arn(ARN).build())
            .build()
    });
    let deployments = mock!(Ecs::describe_services)
        .then_output(|| ecs_service(DeploymentRolloutState::Completed, "done"));
    let clients = Mocks {
        ecs: vec![&describe, &delete, &create, &deployments],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    assert_eq!(plan.summary().replace, 1, "{plan}");
    assert!(plan.to_string().contains("DRAINING"), "{plan}");
    out.unwrap();
    assert_eq!(
        (delete.num_calls(), create.num_calls()),
        (1, 1),
        "created once the old one was INACTIVE"
    );
}

#[tokio::test(start_paused = true)]
async fn a_same_named_service_without_our_tags_is_refused_with_zero_mutating_calls() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .then_output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, false));
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    // Apply refuses to touch it.
    let err = Executable::plan(&clients, &resources(spec(256, 512, 4)), Mode::Apply)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::NotOwned { .. }),
        "expected NotOwned, got {err}"
    );
    assert!(err.to_string().contains(ARN), "{err}");
    // Destroy leaves it alone and says so.
    let exe = Executable::plan(&clients, &resources(spec(256, 512, 4)), Mode::Destroy)
        .await
        .unwrap();
    assert!(!exe.plan.has_changes(), "{}", exe.plan);
    assert!(
        exe.plan
            .notes
            .iter()
            .any(|n| n.starts_with("skipped ") && n.contains("not owned by fargate-rs")),
        "{}",
        exe.plan
    );
    // Only reads: the mocks have no rule for a write, which would panic.
    assert_eq!(describe.num_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_create_refused_because_our_service_exists_meanwhile_waits_for_that_service() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .sequence()
        // The plan's look-up: not visible yet.
        .output(|| DescribeExpressGatewayServiceOutput::builder().build())
        // After the refused create: there, with our tags.
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .build();
    let create = mock!(Ecs::create_express_gateway_service).then_error(|| {
        CreateExpressGatewayServiceError::InvalidParameterException(
            InvalidParameterException::builder()
                .message("Creation of service was not idempotent.")
                .meta(aws_error_meta(
                    "InvalidParameterException",
                    "Creation of service was not idempotent.",
                ))
                .build(),
        )
    });
    let deployments = mock!(Ecs::describe_services)
        .then_output(|| ecs_service(DeploymentRolloutState::Completed, "done"));
    let clients = Mocks {
        ecs: vec![&describe, &create, &deployments],
        ..Mocks::default()
    }
    .clients();
    let (_, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    let outputs = out.unwrap();
    assert_eq!(create.num_calls(), 1, "not sent again");
    assert_eq!(outputs.get(&service_arn(&cluster(), &name())).unwrap(), ARN);
}

#[tokio::test(start_paused = true)]
async fn a_create_refused_for_another_reason_is_that_error() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .then_output(|| DescribeExpressGatewayServiceOutput::builder().build());
    let create = mock!(Ecs::create_express_gateway_service).then_error(|| {
        CreateExpressGatewayServiceError::InvalidParameterException(
            InvalidParameterException::builder()
                .message("The subnet is not in the cluster's VPC.")
                .meta(aws_error_meta(
                    "InvalidParameterException",
                    "The subnet is not in the cluster's VPC.",
                ))
                .build(),
        )
    });
    let clients = Mocks {
        ecs: vec![&describe, &create],
        ..Mocks::default()
    }
    .clients();
    let (_, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    let err = out.err().unwrap().to_string();
    assert!(err.contains("not in the cluster's VPC"), "{err}");
    assert!(err.contains("CreateExpressGatewayService"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_deployment_is_reported_with_its_reason() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .sequence()
        .output(|| DescribeExpressGatewayServiceOutput::builder().build())
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .build();
    let create = mock!(Ecs::create_express_gateway_service).then_output(|| {
        CreateExpressGatewayServiceOutput::builder()
            .service(EcsExpressGatewayService::builder().service_arn(ARN).build())
            .build()
    });
    let deployments = mock!(Ecs::describe_services).then_output(|| {
        ecs_service(
            DeploymentRolloutState::Failed,
            "ECS deployment circuit breaker: tasks failed to start",
        )
    });
    let clients = Mocks {
        ecs: vec![&describe, &create, &deployments],
        ..Mocks::default()
    }
    .clients();
    let (_, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    let err = out.err().unwrap().to_string();
    assert!(err.contains("tasks failed to start"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_service_that_stops_during_apply_is_reported_with_its_status_reason() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .sequence()
        .output(|| DescribeExpressGatewayServiceOutput::builder().build())
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Draining, true))
        .build();
    let create = mock!(Ecs::create_express_gateway_service).then_output(|| {
        CreateExpressGatewayServiceOutput::builder()
            .service(EcsExpressGatewayService::builder().service_arn(ARN).build())
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &create],
        ..Mocks::default()
    }
    .clients();
    let (_, out) = run(&clients, &resources(spec(256, 512, 4)), Mode::Apply).await;
    let err = out.err().unwrap().to_string();
    assert!(
        err.contains("DRAINING: the service is being deleted"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_service_is_planned_as_a_create() {
    let describe = not_found();
    let clients = Mocks {
        ecs: vec![&describe],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &resources(spec(256, 512, 4)), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(exe.plan.summary().create, 1, "{}", exe.plan);
    let exe = Executable::plan(&clients, &resources(spec(256, 512, 4)), Mode::Destroy)
        .await
        .unwrap();
    assert!(!exe.plan.has_changes(), "{}", exe.plan);
}

fn invalid(e: Error) -> fargate_core::InvalidValue {
    match e {
        Error::Invalid(v) => v,
        other => panic!("expected bad input, got {other}"),
    }
}

#[test]
fn bad_input_is_refused_at_build_naming_the_field() {
    let base = || ExpressApp::builder().name("web").image("nginx:1.27");
    let field = |r: Result<ExpressApp, Error>| invalid(r.unwrap_err()).field;
    assert_eq!(field(base().cpu(256).memory(4096).build()), "web.memory");
    assert_eq!(field(base().cpu(300).build()), "web.cpu");
    assert_eq!(field(base().port(0).build()), "web.port");
    assert_eq!(field(base().min_tasks(0).build()), "web.min_tasks");
    assert_eq!(
        field(base().min_tasks(3).max_tasks(2).build()),
        "web.max_tasks"
    );
    assert_eq!(
        field(base().scaling_target(0).build()),
        "web.scaling_target"
    );
    assert_eq!(
        field(base().health_check_path("health").build()),
        "web.health_check_path"
    );
    assert_eq!(
        field(
            base()
                .secrets(BTreeMap::from([("DB".into(), "not a secret ref".into())]))
                .build()
        ),
        "web.secrets.DB"
    );
    assert_eq!(
        field(
            ExpressApp::builder()
                .name("web")
                .image("NOT AN IMAGE")
                .build()
        ),
        "web.image"
    );
}

#[test]
fn debug_redacts_secret_looking_environment_values() {
    let app = ExpressApp::builder()
        .name("web")
        .image("nginx:1.27")
        .env(BTreeMap::from([("API_TOKEN".into(), "hunter2".into())]))
        .build()
        .unwrap();
    let shown = format!("{app:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("API_TOKEN"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn an_app_expands_before_any_aws_call_and_reports_its_url() {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ExpressApp::builder()
        .name("web")
        .image("nginx:1.27")
        .task_role(vec![
            fargate_deploy::iam::PolicyStatement::allow(
                ["s3:GetObject"],
                ["arn:aws:s3:::bucket/*"],
            )
            .unwrap(),
        ])
        .build()
        .unwrap();
    // Expanded with placeholder account facts, as before any AWS call.
    fargate_deploy::validate(&env, &[&app]).unwrap();
    let resources = app.resources(&env, &crate::support::aws()).unwrap();
    let ids: Vec<String> = resources.iter().map(|r| r.id().to_string()).collect();
    for expected in [
        "prod-web-exec",
        "prod-web-task",
        "prod-web-ecs-infra",
        "/ecs/prod/web",
        "ecs:express-service",
    ] {
        assert!(
            ids.iter().any(|i| i.contains(expected)),
            "{expected}: {ids:?}"
        );
    }
    // The service comes after its roles, log group, cluster and network, so destroy
    // (the reverse) deletes it, and waits until it is gone, before them.
    let service = resources
        .iter()
        .find(|r| r.id().kind == "ecs:express-service")
        .unwrap();
    let deps: Vec<String> = service
        .depends_on()
        .iter()
        .map(ToString::to_string)
        .collect();
    for dep in [
        "prod-web-exec",
        "prod-web-task",
        "prod-web-ecs-infra",
        "/ecs/prod/web",
        "ecs:cluster",
        "egress",
    ] {
        assert!(deps.iter().any(|d| d.contains(dep)), "{dep}: {deps:?}");
    }
    let labels: Vec<String> = app
        .output_keys(&env)
        .into_iter()
        .map(|(l, _, _)| l)
        .collect();
    assert_eq!(labels, ["web.url", "web.service_arn"]);
    assert!(app.service(&env).is_none());
}

#[tokio::test(start_paused = true)]
async fn an_apps_resources_plan_its_roles_log_group_and_service_in_an_empty_account() {
    use fargate_testkit::aws_sdk_cloudwatchlogs::Client as Logs;
    use fargate_testkit::aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
    use fargate_testkit::aws_sdk_iam::Client as Iam;
    use fargate_testkit::aws_sdk_iam::operation::get_role::GetRoleError;
    use fargate_testkit::aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
    use fargate_testkit::aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesError;
    let gone = || aws_error_meta("NoSuchEntity", "The role cannot be found.");
    let get_role = mock!(Iam::get_role).then_error(move || GetRoleError::generic(gone()));
    let get_policy =
        mock!(Iam::get_role_policy).then_error(move || GetRolePolicyError::generic(gone()));
    let attached = mock!(Iam::list_attached_role_policies)
        .then_error(move || ListAttachedRolePoliciesError::generic(gone()));
    let groups =
        mock!(Logs::describe_log_groups).then_output(|| DescribeLogGroupsOutput::builder().build());
    let describe = not_found();
    let clients = Mocks {
        ecs: vec![&describe],
        iam: vec![&get_role, &get_policy, &attached],
        logs: vec![&groups],
        ..Mocks::default()
    }
    .clients();
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ExpressApp::builder()
        .name("web")
        .image("public.ecr.aws/nginx/nginx:1.27")
        .port(8080)
        .health_check_path("/health")
        .secrets(BTreeMap::from([(
            "DB_URL".into(),
            "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db-url".into(),
        )]))
        .build()
        .unwrap();
    let resources = app.resources(&env, &crate::support::aws()).unwrap();
    let exe = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap();
    let plan = &exe.plan;
    assert_eq!(plan.summary().create, 4, "{plan}");
    let express = plan
        .changes
        .iter()
        .find(|c| c.id.kind == "ecs:express-service")
        .unwrap();
    let Change::Create { fields } = &express.change else {
        panic!("{plan}");
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f.field == name)
            .and_then(|f| f.new.clone())
            .unwrap_or_else(|| panic!("{name}: {plan}"))
    };
    assert_eq!(field("execution_role"), "prod-web-exec");
    assert_eq!(field("infrastructure_role"), "prod-web-ecs-infra");
    assert_eq!(field("task_role"), serde_json::Value::Null);
    assert_eq!(
        field("secrets.DB_URL"),
        "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db-url"
    );
    assert_eq!(
        field("subnets"),
        "(known after apply)",
        "the network is new"
    );
    let infra = plan
        .changes
        .iter()
        .find(|c| c.id.name == "prod-web-ecs-infra")
        .unwrap();
    assert!(
        format!("{:?}", infra.change).contains(
            "arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices"
        ),
        "{plan}"
    );
}

const TD1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/default-prod-web:1";
const TD2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/default-prod-web:2";
const SD: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/prod-web/d2";

/// The ECS service of the Express service mid-update: REV2 (1 of 2 tasks) replacing REV1.
fn ecs_service_mid_update() -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            Service::builder()
                .service_name("prod-web")
                .service_arn(ARN)
                .status("ACTIVE")
                .desired_count(2)
                .running_count(3)
                .pending_count(1)
                .task_definition(TD2)
                .current_service_deployment(SD)
                .current_service_revisions(
                    ServiceCurrentRevisionSummary::builder()
                        .arn(REV2)
                        .requested_task_count(2)
                        .running_task_count(1)
                        .pending_task_count(1)
                        .build(),
                )
                .current_service_revisions(
                    ServiceCurrentRevisionSummary::builder()
                        .arn(REV1)
                        .requested_task_count(2)
                        .running_task_count(2)
                        .build(),
                )
                .deployments(
                    Deployment::builder()
                        .id("ecs-svc/2")
                        .status("PRIMARY")
                        .task_definition(TD2)
                        .rollout_state(DeploymentRolloutState::InProgress)
                        .desired_count(2)
                        .running_count(1)
                        .build(),
                )
                .deployments(
                    Deployment::builder()
                        .id("ecs-svc/1")
                        .status("ACTIVE")
                        .task_definition(TD1)
                        .rollout_state(DeploymentRolloutState::Completed)
                        .desired_count(2)
                        .running_count(2)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The Express service with both configurations active, REV2 the newer.
fn described_with_two_configurations() -> DescribeExpressGatewayServiceOutput {
    let config = |revision: &str, image: &str, secs: i64| {
        ExpressGatewayServiceConfiguration::builder()
            .service_revision_arn(revision)
            .cpu("256")
            .memory("512")
            .created_at(DateTime::from_secs(secs))
            .primary_container(
                ExpressGatewayContainer::builder()
                    .image(image)
                    .build()
                    .unwrap(),
            )
            .ingress_paths(
                IngressPathSummary::builder()
                    .access_type(AccessType::Public)
                    .endpoint(ENDPOINT)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    DescribeExpressGatewayServiceOutput::builder()
        .service(
            EcsExpressGatewayService::builder()
                .service_arn(ARN)
                .status(
                    ExpressGatewayServiceStatus::builder()
                        .status_code(ExpressGatewayServiceStatusCode::Active)
                        .build(),
                )
                .current_deployment(SD)
                .active_configurations(config(REV1, "nginx:1.26", 1_700_000_000))
                .active_configurations(config(REV2, "nginx:1.27", 1_700_000_600))
                .build(),
        )
        .build()
}

#[tokio::test(start_paused = true)]
async fn status_shows_what_serves_the_task_counts_and_the_url() {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ExpressApp::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    let services = mock!(Ecs::describe_services)
        .match_requests(|r| r.cluster() == Some("prod") && r.services() == ["prod-web"])
        .then_output(ecs_service_mid_update);
    let express = mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .then_output(described_with_two_configurations);
    let deployment = mock!(Ecs::describe_service_deployments)
        .match_requests(|r| r.service_deployment_arns() == [SD])
        .then_output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(
                    ServiceDeployment::builder()
                        .service_deployment_arn(SD)
                        .status(ServiceDeploymentStatus::InProgress)
                        .target_service_revision(
                            ServiceRevisionSummary::builder()
                                .arn(REV2)
                                .requested_task_count(2)
                                .running_task_count(1)
                                .requested_production_traffic_weight(5.0)
                                .build(),
                        )
                        .source_service_revisions(
                            ServiceRevisionSummary::builder()
                                .arn(REV1)
                                .requested_task_count(2)
                                .running_task_count(2)
                                .requested_production_traffic_weight(95.0)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
        DescribeServiceRevisionsOutput::builder()
            .service_revisions(
                ServiceRevision::builder()
                    .service_revision_arn(REV2)
                    .task_definition(TD2)
                    .build(),
            )
            .service_revisions(
                ServiceRevision::builder()
                    .service_revision_arn(REV1)
                    .task_definition(TD1)
                    .build(),
            )
            .build()
    });
    let clients = Mocks {
        ecs: vec![&services, &express, &deployment, &revisions],
        ..Mocks::default()
    }
    .clients();
    let deployer = Deployer::from_clients(clients, CallRecorder::new());
    let status = deployer.status(&env, &app).await.unwrap();
    assert_eq!(status.service, "prod-web");
    assert_eq!((status.running, status.desired, status.pending), (3, 2, 1));
    assert_eq!(status.task_definition.as_deref(), Some(TD2));
    assert_eq!(
        status.previous_task_definition, None,
        "AWS's task definitions"
    );
    let express = status.express.as_ref().unwrap();
    assert_eq!(
        express.url.as_deref(),
        Some(&*format!("https://{ENDPOINT}"))
    );
    assert_eq!(express.status.as_deref(), Some("ACTIVE"));
    assert_eq!(express.current_deployment.as_deref(), Some(SD));
    let configs: Vec<(&str, &str, bool)> = express
        .configurations
        .iter()
        .map(|c| {
            (
                c.revision.as_deref().unwrap(),
                c.image.as_deref().unwrap(),
                c.in_effect,
            )
        })
        .collect();
    assert_eq!(
        configs,
        [(REV2, "nginx:1.27", true), (REV1, "nginx:1.26", false)]
    );
    let serving: Vec<(&str, u32, Option<f64>)> = status
        .serving
        .iter()
        .map(|r| {
            (
                r.task_definition.as_str(),
                r.running,
                r.production_traffic_percent,
            )
        })
        .collect();
    assert_eq!(serving, [(TD2, 1, Some(5.0)), (TD1, 2, Some(95.0))]);
    assert_eq!(
        status
            .service_deployment
            .as_ref()
            .map(|d| d.status.as_str()),
        Some("IN_PROGRESS")
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["express"]["configurations"][0]["revision"], REV2);
}

#[tokio::test(start_paused = true)]
async fn status_of_an_express_app_not_deployed_names_its_service() {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ExpressApp::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    let services =
        mock!(Ecs::describe_services).then_output(|| DescribeServicesOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&services],
        ..Mocks::default()
    }
    .clients();
    let deployer = Deployer::from_clients(clients, CallRecorder::new());
    match deployer.status(&env, &app).await {
        Err(Error::NotDeployed { missing, .. }) => {
            assert_eq!(missing.kind, "ecs:express-service", "{missing}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_update_that_keeps_the_revision_in_effect_does_not_wait() {
    let describe = mock!(Ecs::describe_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(ARN))
        .sequence()
        .output(|| described("256", 4, ExpressGatewayServiceStatusCode::Active, true))
        .output(|| described("256", 6, ExpressGatewayServiceStatusCode::Active, true))
        .build();
    // ECS answers with the revision already in effect: no deployment was started, so no
    // ListServiceDeployments or DescribeServices (either would panic here).
    let update = mock!(Ecs::update_express_gateway_service).then_output(|| updated_to(REV1));
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let (plan, out) = run(&clients, &resources(spec(256, 512, 6)), Mode::Apply).await;
    assert_eq!(plan.summary().update, 1, "{plan}");
    out.unwrap();
    assert_eq!(update.num_calls(), 1);
    assert_eq!(describe.num_calls(), 2, "the plan's read and one after");
}
