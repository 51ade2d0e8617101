//! Deployment strategies against aws-smithy-mocks (moto has no service deployment APIs and
//! ignores `deploymentConfiguration`): each strategy's exact CreateService / UpdateService
//! `deploymentConfiguration` and `advancedConfiguration`; an echoed configuration plans no
//! change; the watcher follows a blue/green service deployment through its stages; a
//! rolled-back one is a failure with ECS's reason; a stuck one is stopped with
//! `StopServiceDeployment(ROLLBACK)`; an endpoint without the APIs falls back to
//! DescribeServices; `Deployer::rollback` stops an in-flight deployment; bad input is a
//! typed error before any call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fargate_core::exec::{CancellationToken, Event, EventSink, Outputs, StepContext};
use fargate_core::{Error, Executable, Mode, Ownership, Ref, Resource, ResourceId, RunOptions};
use fargate_deploy::deployment::{CircuitBreaker, Deployment, HookStage, LifecycleHook, Threshold};
use fargate_deploy::rollout::{
    FailureReason, LogTarget, RollbackOutcome, RolloutError, RolloutOptions, RolloutWatch,
    await_deployment,
};
use fargate_deploy::service::{LbAttachment, ServiceSpec, TrafficShift};
use fargate_deploy::{Clients, ContainerService, Deployer, Environment, FrontendApp};
use fargate_testkit::aws_sdk_ecs::operation::create_service::CreateServiceOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use fargate_testkit::aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsError;
use fargate_testkit::aws_sdk_ecs::operation::list_task_definitions::ListTaskDefinitionsOutput;
use fargate_testkit::aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentOutput;
use fargate_testkit::aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use fargate_testkit::aws_sdk_ecs::types::{
    AdvancedConfiguration, AssignPublicIp, AwsVpcConfiguration, CanaryConfiguration,
    DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentLifecycleHook,
    DeploymentLifecycleHookStage, DeploymentLifecycleHookTargetType, DeploymentRolloutState,
    DeploymentStrategy, LaunchType, LoadBalancer, NetworkConfiguration, Rollback, Service,
    ServiceCurrentRevisionSummary, ServiceDeployment, ServiceDeploymentLifecycleStage,
    ServiceDeploymentStatus, ServiceRevision, ServiceRevisionSummary,
    StopServiceDeploymentStopType, Tag, ThresholdType,
};
use fargate_testkit::aws_sdk_ecs::{self, Client as Ecs};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};
use fargate_testkit::{CallRecorder, aws_error_meta};

use crate::support::{Mocks, Stub};

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-web:7";
const PREVIOUS: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-web:6";
const BLUE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web-blue/1";
const GREEN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web-green/2";
const RULE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-alb/1/2/3";
const ROLE: &str = "arn:aws:iam::123456789012:role/prod-web-ecs-lb";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";
const SD: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc";
const REV_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/7";
const REV_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/6";
const HOOK_FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test";
const HOOK_ROLE: &str = "arn:aws:iam::123456789012:role/hook";

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap())
        .with_app("web".parse().unwrap())
        .with_component("service")
}

fn fast() -> RolloutOptions {
    RolloutOptions {
        poll_interval: Duration::from_millis(5),
        max_poll_interval: Duration::from_millis(10),
        ..RolloutOptions::default()
    }
}

/// A service behind `BLUE`, with a traffic shift to `GREEN` through `RULE` when the
/// deployment needs one; every reference known.
fn spec(deployment: Deployment) -> ServiceSpec {
    let shift = deployment.needs_load_balancer().then(|| TrafficShift {
        alternate_target_group: Ref::Known(GREEN.into()),
        alternate_target_group_id: ResourceId::new("elbv2:target-group", "prod/web/alt"),
        production_listener_rule: Ref::Known(RULE.into()),
        production_listener_rule_id: ResourceId::new("elbv2:listener-rule", "prod/web/rule"),
        role_arn: Ref::Known(ROLE.into()),
        role_name: "prod-web-ecs-lb".into(),
        role_id: ResourceId::new("iam:role", "prod-web-ecs-lb"),
        test_listener_rule: None,
    });
    ServiceSpec {
        desired_count: Some(2),
        load_balancers: vec![LbAttachment {
            target_group: Ref::Known(BLUE.into()),
            target_group_id: ResourceId::new("elbv2:target-group", "prod/web/tg"),
            container_name: "web".into(),
            container_port: 80,
        }],
        health_check_grace_period: Some(60),
        deployment,
        traffic_shift: shift,
        rollout: fast(),
        ..crate::support::worker_service("web")
    }
}

/// The service and a stub for each of its dependencies.
fn resources(spec: &ServiceSpec) -> Vec<Arc<dyn Resource<Clients>>> {
    crate::support::with_stubs(spec, |id| Some(Stub::unchanged(id)))
}

/// Plan and apply `spec` with its task definition output known.
async fn apply(clients: &Clients, spec: &ServiceSpec) -> Result<fargate_core::Plan, Error> {
    let exe = Executable::plan(clients, &resources(spec), Mode::Apply).await?;
    let plan = exe.plan.clone();
    let (_, graph) = exe.into_graph(clients.clone())?;
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
        .map_err(|e| Error::Unexpected {
            resource: spec.resource_id(),
            operation: "apply".into(),
            detail: format!("{e:?}"),
        })?;
    Ok(plan)
}

fn tags() -> Vec<Tag> {
    owner()
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The service as AWS describes it after a create with `dc` and `lb`.
fn described(dc: Option<DeploymentConfiguration>, lb: LoadBalancer, state: &str) -> Service {
    Service::builder()
        .service_name("web")
        .service_arn(SERVICE_ARN)
        .status("ACTIVE")
        .task_definition(TD)
        .desired_count(2)
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
        .load_balancers(lb)
        .health_check_grace_period_seconds(60)
        .set_deployment_configuration(dc)
        .set_tags(Some(tags()))
        .deployments(
            aws_sdk_ecs::types::Deployment::builder()
                .id("ecs-svc/new")
                .status("PRIMARY")
                .task_definition(TD)
                .desired_count(2)
                .running_count(2)
                .rollout_state(DeploymentRolloutState::from(state))
                .build(),
        )
        .build()
}

fn no_service() -> DescribeServicesOutput {
    DescribeServicesOutput::builder().build()
}

/// What a CreateService asked for: its deployment configuration and load balancers.
type Seen = Arc<Mutex<Option<(DeploymentConfiguration, Vec<LoadBalancer>)>>>;

/// CreateService that records its request and answers with the service.
fn create_recording(seen: Seen) -> Rule {
    mock!(Ecs::create_service).then_compute_output(move |r| {
        *seen.lock().unwrap() = Some((
            r.deployment_configuration().cloned().unwrap(),
            r.load_balancers().to_vec(),
        ));
        CreateServiceOutput::builder()
            .service(described(
                None,
                r.load_balancers()[0].clone(),
                "IN_PROGRESS",
            ))
            .build()
    })
}

fn describe_then_completed() -> Rule {
    let lb = LoadBalancer::builder()
        .target_group_arn(BLUE)
        .container_name("web")
        .container_port(80)
        .build();
    mock!(Ecs::describe_services)
        .sequence()
        .output(no_service)
        .output(move || {
            DescribeServicesOutput::builder()
                .services(described(None, lb.clone(), "COMPLETED"))
                .build()
        })
        .repeatedly()
        .build()
}

/// ListServiceDeployments as an endpoint that does not know it answers.
fn unknown_list() -> Rule {
    mock!(Ecs::list_service_deployments).then_error(|| {
        ListServiceDeploymentsError::generic(aws_error_meta(
            "UnknownOperationException",
            "Unknown operation ListServiceDeployments",
        ))
    })
}

async fn create_with(
    deployment: Deployment,
) -> (DeploymentConfiguration, Vec<LoadBalancer>, usize) {
    let seen = Arc::new(Mutex::new(None));
    let create = create_recording(seen.clone());
    let describe = describe_then_completed();
    let list = unknown_list();
    let clients = Mocks {
        ecs: vec![&create, &describe, &list],
        ..Mocks::default()
    }
    .clients();
    let plan = apply(&clients, &spec(deployment)).await.unwrap();
    let rendered = plan.to_string();
    assert!(rendered.contains("deployment.strategy"), "{rendered}");
    let (dc, lbs) = seen
        .lock()
        .unwrap()
        .clone()
        .expect("CreateService was called");
    (dc, lbs, list.num_calls())
}

#[tokio::test]
async fn rolling_sends_its_percentages_threshold_and_alarms() {
    let d = Deployment::rolling()
        .min_healthy_percent(50)
        .max_percent(150)
        .failure_threshold(Threshold::Count(4))
        .alarms(["web-5xx", "web-unhealthy-hosts"])
        .build()
        .unwrap();
    let (dc, lbs, lists) = create_with(d).await;
    assert_eq!(dc.strategy(), Some(&DeploymentStrategy::Rolling));
    assert_eq!(dc.minimum_healthy_percent(), Some(50));
    assert_eq!(dc.maximum_percent(), Some(150));
    let cb = dc.deployment_circuit_breaker().unwrap();
    assert!(cb.enable() && cb.rollback());
    let t = cb.threshold_configuration().unwrap();
    assert_eq!((t.r#type(), t.value()), (&ThresholdType::Count, 4));
    let alarms = dc.alarms().unwrap();
    assert_eq!(alarms.alarm_names(), ["web-5xx", "web-unhealthy-hosts"]);
    assert!(alarms.enable() && alarms.rollback());
    assert_eq!(dc.bake_time_in_minutes(), None);
    assert!(dc.lifecycle_hooks().is_empty());
    assert_eq!(lbs.len(), 1);
    assert!(
        lbs[0].advanced_configuration().is_none(),
        "rolling: no traffic shift"
    );
    assert_eq!(
        lists, 0,
        "a rolling deployment without a service deployment ARN is watched as before"
    );
}

#[tokio::test]
async fn the_default_is_todays_rolling_deployment() {
    let (dc, _, _) = create_with(Deployment::default()).await;
    assert_eq!(dc.strategy(), Some(&DeploymentStrategy::Rolling));
    assert_eq!(dc.minimum_healthy_percent(), Some(100));
    assert_eq!(dc.maximum_percent(), Some(200));
    let cb = dc.deployment_circuit_breaker().unwrap();
    assert!(cb.enable() && cb.rollback());
    assert!(cb.threshold_configuration().is_none());
    assert!(dc.alarms().is_none());
}

#[tokio::test]
async fn blue_green_sends_bake_hooks_and_the_advanced_configuration() {
    let d = Deployment::blue_green()
        .bake_time_minutes(15)
        .hook(LifecycleHook::lambda(
            HOOK_FN,
            HOOK_ROLE,
            [HookStage::PostTestTrafficShift],
        ))
        .hook(LifecycleHook::pause([HookStage::PostScaleUp]))
        .build()
        .unwrap();
    let (dc, lbs, lists) = create_with(d).await;
    assert_eq!(dc.strategy(), Some(&DeploymentStrategy::BlueGreen));
    assert_eq!(dc.bake_time_in_minutes(), Some(15));
    assert!(dc.linear_configuration().is_none() && dc.canary_configuration().is_none());
    let hooks = dc.lifecycle_hooks();
    assert_eq!(hooks.len(), 2);
    assert_eq!(
        hooks[0].target_type(),
        Some(&DeploymentLifecycleHookTargetType::AwsLambda)
    );
    assert_eq!(hooks[0].hook_target_arn(), Some(HOOK_FN));
    assert_eq!(hooks[0].role_arn(), Some(HOOK_ROLE));
    assert_eq!(
        hooks[0].lifecycle_stages(),
        [DeploymentLifecycleHookStage::PostTestTrafficShift]
    );
    assert_eq!(
        hooks[1].target_type(),
        Some(&DeploymentLifecycleHookTargetType::Pause)
    );
    assert_eq!(
        hooks[1].lifecycle_stages(),
        [DeploymentLifecycleHookStage::PostScaleUp]
    );
    let ac = lbs[0]
        .advanced_configuration()
        .expect("advancedConfiguration");
    assert_eq!(lbs[0].target_group_arn(), Some(BLUE));
    assert_eq!(ac.alternate_target_group_arn(), Some(GREEN));
    assert_eq!(ac.production_listener_rule(), Some(RULE));
    assert_eq!(ac.role_arn(), Some(ROLE));
    assert_eq!(ac.test_listener_rule(), None);
    assert_eq!(
        lists, 1,
        "without a service deployment ARN the in-flight one is looked up once, then the \
         watch falls back to DescribeServices"
    );
}

#[tokio::test]
async fn linear_and_canary_send_their_steps_and_default_bake() {
    let (dc, lbs, _) = create_with(Deployment::linear(10.0, 3).build().unwrap()).await;
    assert_eq!(dc.strategy(), Some(&DeploymentStrategy::Linear));
    let l = dc.linear_configuration().unwrap();
    assert_eq!(
        (l.step_percent(), l.step_bake_time_in_minutes()),
        (Some(10.0), Some(3))
    );
    assert_eq!(
        dc.bake_time_in_minutes(),
        Some(5),
        "the documented default bake"
    );
    assert!(lbs[0].advanced_configuration().is_some());

    let (dc, _, _) = create_with(
        Deployment::canary(5.0, 10)
            .bake_time_minutes(0)
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(dc.strategy(), Some(&DeploymentStrategy::Canary));
    let c = dc.canary_configuration().unwrap();
    assert_eq!(
        (c.canary_percent(), c.canary_bake_time_in_minutes()),
        (Some(5.0), Some(10))
    );
    assert_eq!(dc.bake_time_in_minutes(), Some(0));
}

/// The configuration as AWS echoes a blue/green service (with ECS's own defaults filled in).
fn echoed_blue_green() -> (DeploymentConfiguration, LoadBalancer) {
    let dc = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(15)
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .threshold_configuration(
                    fargate_testkit::aws_sdk_ecs::types::ThresholdConfiguration::builder()
                        .r#type(ThresholdType::BoundedPercent)
                        .value(50)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .alarms(
            DeploymentAlarms::builder()
                .set_alarm_names(Some(vec![]))
                .enable(false)
                .rollback(false)
                .build()
                .unwrap(),
        )
        .lifecycle_hooks(
            DeploymentLifecycleHook::builder()
                .hook_target_arn(HOOK_FN)
                .role_arn(HOOK_ROLE)
                .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
                .build(),
        )
        .build();
    // ECS swapped the groups after a deployment: green serves, blue is the alternate.
    let lb = LoadBalancer::builder()
        .target_group_arn(GREEN)
        .container_name("web")
        .container_port(80)
        .advanced_configuration(
            AdvancedConfiguration::builder()
                .alternate_target_group_arn(BLUE)
                .production_listener_rule(RULE)
                .role_arn(ROLE)
                .build(),
        )
        .build();
    (dc, lb)
}

fn blue_green_15() -> Deployment {
    Deployment::blue_green()
        .bake_time_minutes(15)
        .hook(LifecycleHook::lambda(
            HOOK_FN,
            HOOK_ROLE,
            [HookStage::PostTestTrafficShift],
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_echoed_configuration_is_no_change_even_with_the_groups_swapped() {
    let (dc, lb) = echoed_blue_green();
    let describe = mock!(Ecs::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(described(Some(dc.clone()), lb.clone(), "COMPLETED"))
            .build()
    });
    let update = mock!(Ecs::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&describe, &update],
        ..Mocks::default()
    }
    .clients();
    let plan = apply(&clients, &spec(blue_green_15())).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn switching_to_canary_updates_configuration_and_load_balancers_only() {
    let rolling_lb = LoadBalancer::builder()
        .target_group_arn(BLUE)
        .container_name("web")
        .container_port(80)
        .build();
    let rolling_dc = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Rolling)
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build();
    let describe = mock!(Ecs::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(described(
                Some(rolling_dc.clone()),
                rolling_lb.clone(),
                "COMPLETED",
            ))
            .build()
    });
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let update = mock!(Ecs::update_service).then_compute_output(move |r| {
        *s.lock().unwrap() = Some(r.clone());
        UpdateServiceOutput::builder()
            .service(
                Service::builder()
                    .current_service_deployment(SD)
                    .deployments(
                        aws_sdk_ecs::types::Deployment::builder()
                            .id("ecs-svc/new")
                            .status("PRIMARY")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let follow = mock!(Ecs::describe_service_deployments).then_output(|| {
        DescribeServiceDeploymentsOutput::builder()
            .service_deployments(
                ServiceDeployment::builder()
                    .service_deployment_arn(SD)
                    .status(ServiceDeploymentStatus::Successful)
                    .build(),
            )
            .build()
    });
    let clients = Mocks {
        ecs: vec![&describe, &update, &follow],
        ..Mocks::default()
    }
    .clients();
    let canary = Deployment::canary(5.0, 10).build().unwrap();
    let plan = apply(&clients, &spec(canary)).await.unwrap();
    let rendered = plan.to_string();
    assert!(
        rendered.contains("CANARY 5.0% for 10m, bake 5m"),
        "{rendered}"
    );
    let r = seen.lock().unwrap().clone().expect("UpdateService");
    assert_eq!(
        r.task_definition(),
        None,
        "the task definition did not change"
    );
    let dc = r.deployment_configuration().unwrap();
    assert_eq!(dc.strategy(), Some(&DeploymentStrategy::Canary));
    assert_eq!(
        dc.canary_configuration(),
        Some(
            &CanaryConfiguration::builder()
                .canary_percent(5.0)
                .canary_bake_time_in_minutes(10)
                .build()
        )
    );
    let lbs = r.load_balancers();
    assert_eq!(
        lbs[0]
            .advanced_configuration()
            .and_then(|a| a.alternate_target_group_arn()),
        Some(GREEN)
    );
    assert!(
        follow.num_calls() >= 1,
        "the new service deployment was followed"
    );
}

fn watch() -> RolloutWatch {
    RolloutWatch {
        resource: ResourceId::new("ecs:service", "prod/web"),
        cluster: "prod".into(),
        service: "web".into(),
        deployment_id: "ecs-svc/new".into(),
        previous_task_definition: Some(PREVIOUS.into()),
        target_groups: vec![],
        logs: Some(LogTarget {
            group: "/ecs/prod/web".into(),
            stream_prefix: "web".into(),
        }),
        since_epoch: 0,
        options: fast(),
    }
}

fn ctx_with_events() -> (StepContext, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (sink, rx) = EventSink::channel();
    let ctx = StepContext::detached(
        "ecs:service prod/web",
        Outputs::new(),
        sink,
        CancellationToken::new(),
    );
    (ctx, rx)
}

fn messages(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::Progress { message, .. } = e {
            out.push(message);
        }
    }
    out
}

fn sd(
    status: ServiceDeploymentStatus,
    stage: ServiceDeploymentLifecycleStage,
    running: i32,
    traffic: f64,
) -> DescribeServiceDeploymentsOutput {
    DescribeServiceDeploymentsOutput::builder()
        .service_deployments(
            ServiceDeployment::builder()
                .service_deployment_arn(SD)
                .status(status)
                .lifecycle_stage(stage)
                .target_service_revision(
                    ServiceRevisionSummary::builder()
                        .arn(REV_NEW)
                        .requested_task_count(2)
                        .running_task_count(running)
                        .pending_task_count(2 - running)
                        .requested_production_traffic_weight(traffic)
                        .build(),
                )
                .source_service_revisions(
                    ServiceRevisionSummary::builder()
                        .arn(REV_OLD)
                        .requested_task_count(2)
                        .running_task_count(2)
                        .requested_production_traffic_weight(100.0 - traffic)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn service_in_progress(failed: i32) -> Rule {
    mock!(Ecs::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .deployments(
                        aws_sdk_ecs::types::Deployment::builder()
                            .id("ecs-svc/new")
                            .status("PRIMARY")
                            .task_definition(TD)
                            .desired_count(2)
                            .failed_tasks(failed)
                            .rollout_state(DeploymentRolloutState::InProgress)
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn no_stopped_tasks() -> Rule {
    mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build())
}

fn rollout_error(e: Error) -> RolloutError {
    match e {
        Error::Failed { source, .. } => match source.downcast::<RolloutError>() {
            Ok(r) => *r,
            Err(other) => panic!("not a rollout error: {other}"),
        },
        other => panic!("expected a failed rollout, got {other}"),
    }
}

#[tokio::test]
async fn the_watcher_follows_a_blue_green_deployment_through_its_stages() {
    use ServiceDeploymentLifecycleStage as Stage;
    use ServiceDeploymentStatus as Status;
    let follow = mock!(Ecs::describe_service_deployments)
        .match_requests(|r| r.service_deployment_arns() == [SD])
        .sequence()
        .output(|| sd(Status::InProgress, Stage::ScaleUp, 1, 0.0))
        .output(|| sd(Status::InProgress, Stage::TestTrafficShift, 2, 0.0))
        .output(|| sd(Status::InProgress, Stage::ProductionTrafficShift, 2, 100.0))
        .output(|| sd(Status::InProgress, Stage::BakeTime, 2, 100.0))
        .output(|| sd(Status::InProgress, Stage::BakeTime, 2, 100.0))
        .output(|| sd(Status::Successful, Stage::CleanUp, 2, 100.0))
        .build();
    let describe = service_in_progress(0);
    let stop = mock!(Ecs::stop_service_deployment)
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&follow, &describe, &stop],
        ..Mocks::default()
    }
    .clients();
    let (ctx, mut rx) = ctx_with_events();
    await_deployment(&clients, &ctx, &watch(), Some(SD.into()), true)
        .await
        .unwrap();
    assert_eq!(follow.num_calls(), 6, "stops at the first terminal state");
    assert_eq!(stop.num_calls(), 0);
    let m = messages(&mut rx);
    let stages: Vec<&String> = m.iter().filter(|l| l.contains("stage")).collect();
    for (i, want) in [
        "stage SCALE_UP: new revision 1/2 running, 1 pending, 0.0% of production traffic",
        "stage TEST_TRAFFIC_SHIFT",
        "stage PRODUCTION_TRAFFIC_SHIFT: new revision 2/2 running, 0 pending, 100.0% of production traffic",
        "stage BAKE_TIME",
    ]
    .iter()
    .enumerate()
    {
        assert!(stages[i].contains(want), "{i}: {stages:?}");
    }
    assert_eq!(
        m.iter().filter(|l| l.contains("BAKE_TIME")).count(),
        1,
        "an unchanged state is reported once: {m:?}"
    );
    assert!(m.iter().any(|l| l.contains("SUCCESSFUL")), "{m:?}");
    assert_eq!(m.last().map(String::as_str), Some("rollout completed"));
}

#[tokio::test]
async fn a_deployment_ecs_rolled_back_is_a_failure_with_its_reason() {
    let follow = mock!(Ecs::describe_service_deployments)
        .sequence()
        .output(|| {
            sd(
                ServiceDeploymentStatus::InProgress,
                ServiceDeploymentLifecycleStage::ProductionTrafficShift,
                2,
                50.0,
            )
        })
        .output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(
                    ServiceDeployment::builder()
                        .service_deployment_arn(SD)
                        .status(ServiceDeploymentStatus::RollbackSuccessful)
                        .status_reason("CloudWatch alarm web-5xx went to ALARM")
                        .rollback(
                            Rollback::builder()
                                .reason("alarm triggered")
                                .service_revision_arn(REV_OLD)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    let describe = service_in_progress(0);
    let list = no_stopped_tasks();
    let stop = mock!(Ecs::stop_service_deployment)
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&follow, &describe, &list, &stop],
        ..Mocks::default()
    }
    .clients();
    let (ctx, _rx) = ctx_with_events();
    let err = rollout_error(
        await_deployment(&clients, &ctx, &watch(), Some(SD.into()), true)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.reason,
        FailureReason::ServiceDeployment {
            status: "ROLLBACK_SUCCESSFUL".into(),
            reason: "CloudWatch alarm web-5xx went to ALARM".into(),
        }
    );
    assert_eq!(err.rollback, RollbackOutcome::EcsRolledBack(REV_OLD.into()));
    assert!(
        err.to_string().contains("CloudWatch alarm web-5xx"),
        "{err}"
    );
    assert_eq!(
        stop.num_calls(),
        0,
        "ECS already rolled back: nothing to stop"
    );
}

#[tokio::test]
async fn a_stuck_deployment_is_stopped_with_rollback() {
    let follow = mock!(Ecs::describe_service_deployments).then_output(|| {
        sd(
            ServiceDeploymentStatus::InProgress,
            ServiceDeploymentLifecycleStage::ScaleUp,
            0,
            0.0,
        )
    });
    let describe = service_in_progress(0);
    let list = no_stopped_tasks();
    let stop = mock!(Ecs::stop_service_deployment)
        .match_requests(|r| {
            r.service_deployment_arn() == Some(SD)
                && r.stop_type() == Some(&StopServiceDeploymentStopType::Rollback)
        })
        .then_output(|| {
            StopServiceDeploymentOutput::builder()
                .service_deployment_arn(SD)
                .build()
        });
    let clients = Mocks {
        ecs: vec![&follow, &describe, &list, &stop],
        ..Mocks::default()
    }
    .clients();
    let mut w = watch();
    w.options.timeout = Duration::from_millis(60);
    let (ctx, _rx) = ctx_with_events();
    let err = rollout_error(
        await_deployment(&clients, &ctx, &w, Some(SD.into()), true)
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err.reason, FailureReason::TimedOut { .. }),
        "{err}"
    );
    assert_eq!(
        err.rollback,
        RollbackOutcome::ServiceDeploymentRolledBack(SD.into())
    );
    assert_eq!(stop.num_calls(), 1);
}

#[tokio::test]
async fn failing_tasks_stop_the_deployment_with_rollback_at_once() {
    let follow = mock!(Ecs::describe_service_deployments).then_output(|| {
        sd(
            ServiceDeploymentStatus::InProgress,
            ServiceDeploymentLifecycleStage::ScaleUp,
            0,
            0.0,
        )
    });
    let describe = service_in_progress(3);
    let list = no_stopped_tasks();
    let stop = mock!(Ecs::stop_service_deployment)
        .match_requests(|r| r.stop_type() == Some(&StopServiceDeploymentStopType::Rollback))
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let clients = Mocks {
        ecs: vec![&follow, &describe, &list, &stop],
        ..Mocks::default()
    }
    .clients();
    let (ctx, _rx) = ctx_with_events();
    let err = rollout_error(
        await_deployment(&clients, &ctx, &watch(), Some(SD.into()), true)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.reason,
        FailureReason::TasksKeptFailing {
            failed: 3,
            threshold: 3
        }
    );
    assert_eq!(follow.num_calls(), 1, "failed at the first poll");
    assert_eq!(stop.num_calls(), 1);
}

#[tokio::test]
async fn without_the_service_deployment_apis_the_watch_falls_back_to_describe_services() {
    let list = unknown_list();
    let describe = mock!(Ecs::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .deployments(
                        aws_sdk_ecs::types::Deployment::builder()
                            .id("ecs-svc/new")
                            .status("PRIMARY")
                            .task_definition(TD)
                            .desired_count(2)
                            .running_count(2)
                            .rollout_state(DeploymentRolloutState::Completed)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let clients = Mocks {
        ecs: vec![&list, &describe],
        ..Mocks::default()
    }
    .clients();
    let (ctx, _rx) = ctx_with_events();
    await_deployment(&clients, &ctx, &watch(), None, true)
        .await
        .unwrap();
    assert_eq!(list.num_calls(), 1);
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn rollback_stops_an_in_flight_service_deployment() {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    let describe = mock!(Ecs::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(TD)
                    .current_service_deployment(SD)
                    .current_service_revisions(
                        ServiceCurrentRevisionSummary::builder()
                            .arn(REV_NEW)
                            .requested_task_count(2)
                            .running_task_count(1)
                            .build(),
                    )
                    .current_service_revisions(
                        ServiceCurrentRevisionSummary::builder()
                            .arn(REV_OLD)
                            .requested_task_count(2)
                            .running_task_count(2)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let revisions = mock!(Ecs::list_task_definitions).then_output(|| {
        ListTaskDefinitionsOutput::builder()
            .task_definition_arns(TD)
            .task_definition_arns(PREVIOUS)
            .build()
    });
    let describe_revisions = mock!(Ecs::describe_service_revisions).then_output(|| {
        DescribeServiceRevisionsOutput::builder()
            .service_revisions(
                ServiceRevision::builder()
                    .service_revision_arn(REV_NEW)
                    .task_definition(TD)
                    .build(),
            )
            .service_revisions(
                ServiceRevision::builder()
                    .service_revision_arn(REV_OLD)
                    .task_definition(PREVIOUS)
                    .build(),
            )
            .build()
    });
    let follow = mock!(Ecs::describe_service_deployments)
        .sequence()
        // status, then rollback's own status
        .output(|| {
            sd(
                ServiceDeploymentStatus::InProgress,
                ServiceDeploymentLifecycleStage::ProductionTrafficShift,
                1,
                40.0,
            )
        })
        .times(2)
        // after the stop
        .output(|| {
            sd(
                ServiceDeploymentStatus::RollbackInProgress,
                ServiceDeploymentLifecycleStage::ProductionTrafficShift,
                1,
                0.0,
            )
        })
        .output(|| {
            sd(
                ServiceDeploymentStatus::RollbackSuccessful,
                ServiceDeploymentLifecycleStage::CleanUp,
                0,
                0.0,
            )
        })
        .build();
    let stop = mock!(Ecs::stop_service_deployment)
        .match_requests(|r| {
            r.service_deployment_arn() == Some(SD)
                && r.stop_type() == Some(&StopServiceDeploymentStopType::Rollback)
        })
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let update = mock!(Ecs::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let clients = Mocks {
        ecs: vec![
            &describe,
            &revisions,
            &describe_revisions,
            &follow,
            &stop,
            &update,
        ],
        ..Mocks::default()
    }
    .clients();
    let deployer = Deployer::from_clients(clients, CallRecorder::new());
    let status = deployer.status(&env, &app).await.unwrap();
    let serving: Vec<(String, u32, Option<f64>)> = status
        .serving
        .iter()
        .map(|r| {
            (
                r.task_definition.clone(),
                r.running,
                r.production_traffic_percent,
            )
        })
        .collect();
    assert_eq!(
        serving,
        [
            (TD.to_string(), 1, Some(40.0)),
            (PREVIOUS.to_string(), 2, Some(60.0))
        ]
    );
    let to = deployer.rollback(&env, &app).await.unwrap();
    assert_eq!(to, PREVIOUS);
    assert_eq!(stop.num_calls(), 1);
    assert_eq!(
        update.num_calls(),
        0,
        "ECS rolls back, not an UpdateService"
    );
}

#[test]
fn bad_deployments_are_typed_errors_before_any_call() {
    let field = |e: Error| match e {
        Error::Invalid(v) => (v.field, v.allowed),
        other => panic!("not an invalid value: {other}"),
    };
    // A service without a load balancer cannot shift traffic.
    let e = ContainerService::builder()
        .name("worker")
        .image("busybox:1.36")
        .deployment(Deployment::blue_green().build().unwrap())
        .build()
        .unwrap_err();
    let (f, allowed) = field(e);
    assert_eq!(f, "worker.deployment.strategy");
    assert!(allowed.contains("FrontendApp"), "{allowed}");
    // Out of range, named with the app.
    let bad = Deployment {
        bake_time_minutes: Some(2000),
        ..Deployment::blue_green().build().unwrap()
    };
    let e = FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name("web")
                .image("nginx:1.27")
                .port(80)
                .build()
                .unwrap(),
        )
        .deployment(bad)
        .build()
        .unwrap_err();
    let (f, allowed) = field(e);
    assert_eq!(f, "web.deployment.bake_time_minutes");
    assert_eq!(allowed, "0 to 1440 minutes");
    let e = Deployment::linear(1.0, 5).build().unwrap_err();
    assert_eq!(field(e).0, "deployment.strategy.step_percent");
    let e = Deployment::rolling()
        .circuit_breaker(CircuitBreaker {
            enable: true,
            rollback: true,
            threshold: Some(Threshold::BoundedPercent(0)),
        })
        .build()
        .unwrap_err();
    assert_eq!(field(e).0, "deployment.circuit_breaker.threshold");
}
