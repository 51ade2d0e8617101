//! Continuing (or rejecting) a deployment paused at a lifecycle hook
//! (`Deployer::continue_deployment`, `Deployer::reject_deployment`) against mocked ECS (moto
//! has no service deployment APIs): the exact calls (DescribeServices, then
//! DescribeServiceDeployments of its current service deployment, or ListServiceDeployments
//! without one, then ContinueServiceDeployment with the waiting hook), and each typed error
//! (not deployed, nothing in flight, in flight but not paused) with no
//! ContinueServiceDeployment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fargate_core::{Error, ResourceId};
use fargate_deploy::rollout::service_deployment::{ContinueError, ContinuedDeployment, HookAction};
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_ecs::Client as Ecs;
use fargate_testkit::aws_sdk_ecs::operation::continue_service_deployment::ContinueServiceDeploymentOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use fargate_testkit::aws_sdk_ecs::operation::describe_services::{
    DescribeServicesError, DescribeServicesOutput,
};
use fargate_testkit::aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use fargate_testkit::aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus,
    DeploymentLifecycleHookTargetType, Service, ServiceDeployment, ServiceDeploymentBrief,
    ServiceDeploymentLifecycleStage, ServiceDeploymentStatus, ServiceRevisionSummary,
};
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::{CallRecorder, aws_error_meta, mock_sdk_client};

use crate::support::Mocks;

const SD: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc";
const REV_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/7";

fn env_and_app() -> (Environment, ContainerService) {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    (env, app)
}

/// DescribeServices of prod/web: the service, with `current` as its current service
/// deployment.
fn described(current: Option<&'static str>) -> Rule {
    mock!(Ecs::describe_services)
        .match_requests(|r| r.cluster() == Some("prod") && r.services() == ["web"])
        .then_output(move || {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .service_name("web")
                        .status("ACTIVE")
                        .set_current_service_deployment(current.map(str::to_string))
                        .build(),
                )
                .build()
        })
}

fn hook(id: &str, status: DeploymentLifecycleHookStatus) -> DeploymentLifecycleHookDetail {
    DeploymentLifecycleHookDetail::builder()
        .hook_id(id)
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .status(status)
        .timeout_action(DeploymentLifecycleHookAction::Rollback)
        .build()
}

/// DescribeServiceDeployments of SD: `status`, at POST_TEST_TRAFFIC_SHIFT, with `hooks`.
fn deployment(status: ServiceDeploymentStatus, hooks: Vec<DeploymentLifecycleHookDetail>) -> Rule {
    mock!(Ecs::describe_service_deployments)
        .match_requests(|r| r.service_deployment_arns() == [SD])
        .then_output(move || {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(
                    ServiceDeployment::builder()
                        .service_deployment_arn(SD)
                        .status(status.clone())
                        .lifecycle_stage(ServiceDeploymentLifecycleStage::PostTestTrafficShift)
                        .target_service_revision(
                            ServiceRevisionSummary::builder().arn(REV_NEW).build(),
                        )
                        .set_lifecycle_hook_details(Some(hooks.clone()))
                        .build(),
                )
                .build()
        })
}

fn continued() -> Rule {
    mock!(Ecs::continue_service_deployment).then_output(|| {
        ContinueServiceDeploymentOutput::builder()
            .service_deployment_arn(SD)
            .build()
    })
}

/// A deployer whose ECS answers with `rules` (any other call panics) and records its calls.
fn deployer(rules: &[&Rule]) -> (Deployer, CallRecorder) {
    let recorder = CallRecorder::new();
    let mut clients = Mocks::default().clients();
    clients.ecs = mock_sdk_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        rules.iter().copied(),
        |c| c.interceptor(recorder.clone())
    );
    (
        Deployer::from_clients(clients, CallRecorder::new()),
        recorder,
    )
}

fn calls(recorder: &CallRecorder) -> Vec<String> {
    recorder.records().iter().map(|r| r.name()).collect()
}

fn continue_error(e: Error) -> ContinueError {
    match e {
        Error::Failed { resource, source } => {
            assert_eq!(resource, ResourceId::new("ecs:service", "prod/web"));
            match source.downcast::<ContinueError>() {
                Ok(c) => *c,
                Err(other) => panic!("not a continue error: {other}"),
            }
        }
        other => panic!("expected a continue error, got {other}"),
    }
}

#[tokio::test]
async fn continue_sends_continue_for_the_hook_awaiting_action() {
    let describe = described(Some(SD));
    let sd = deployment(
        ServiceDeploymentStatus::InProgress,
        vec![
            hook("hook-done", DeploymentLifecycleHookStatus::Succeeded),
            hook("hook-pause", DeploymentLifecycleHookStatus::AwaitingAction),
        ],
    );
    let cont = mock!(Ecs::continue_service_deployment)
        .match_requests(|r| {
            r.service_deployment_arn() == Some(SD)
                && r.hook_id() == Some("hook-pause")
                && r.action() == Some(&DeploymentLifecycleHookAction::Continue)
        })
        .then_output(|| {
            ContinueServiceDeploymentOutput::builder()
                .service_deployment_arn(SD)
                .build()
        });
    let (deployer, recorder) = deployer(&[&describe, &sd, &cont]);
    let (env, app) = env_and_app();

    let done: ContinuedDeployment = deployer.continue_deployment(&env, &app).await.unwrap();

    assert_eq!(
        calls(&recorder),
        [
            "ECS.DescribeServices",
            "ECS.DescribeServiceDeployments",
            "ECS.ContinueServiceDeployment"
        ]
    );
    assert_eq!(cont.num_calls(), 1);
    assert_eq!(done.action, HookAction::Continue);
    assert_eq!(done.service, "web");
    assert_eq!(done.service_deployment_arn, SD);
    assert_eq!(
        done.lifecycle_stage.as_deref(),
        Some("POST_TEST_TRAFFIC_SHIFT")
    );
    assert_eq!(done.target_revision.as_deref(), Some(REV_NEW));
    let hooks: Vec<(&str, &str, Option<&str>)> = done
        .hooks
        .iter()
        .map(|h| {
            (
                h.hook_id.as_str(),
                h.status.as_str(),
                h.target_type.as_deref(),
            )
        })
        .collect();
    assert_eq!(hooks, [("hook-pause", "AWAITING_ACTION", Some("PAUSE"))]);
}

#[tokio::test]
async fn continue_continues_every_waiting_hook_and_reject_rolls_back_the_first_only() {
    let describe = described(Some(SD));
    let sd = deployment(
        ServiceDeploymentStatus::InProgress,
        vec![
            hook("hook-a", DeploymentLifecycleHookStatus::AwaitingAction),
            hook("hook-b", DeploymentLifecycleHookStatus::AwaitingAction),
        ],
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let cont = mock!(Ecs::continue_service_deployment).then_compute_output({
        let seen = seen.clone();
        move |r| {
            seen.lock().unwrap().push((
                r.hook_id().unwrap_or_default().to_string(),
                r.action().map(|a| a.as_str().to_string()),
            ));
            ContinueServiceDeploymentOutput::builder()
                .service_deployment_arn(SD)
                .build()
        }
    });
    let (deployer, recorder) = deployer(&[&describe, &sd, &cont]);
    let (env, app) = env_and_app();

    let done = deployer.continue_deployment(&env, &app).await.unwrap();
    assert_eq!(done.hooks.len(), 2);
    let continued = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(
        continued,
        [
            ("hook-a".to_string(), Some("CONTINUE".to_string())),
            ("hook-b".to_string(), Some("CONTINUE".to_string()))
        ]
    );

    let mark = recorder.mark();
    let done = deployer.reject_deployment(&env, &app).await.unwrap();

    assert_eq!(done.action, HookAction::Rollback);
    assert_eq!(done.hooks.len(), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [("hook-a".to_string(), Some("ROLLBACK".to_string()))]
    );
    let names: Vec<String> = recorder
        .records_since(mark)
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(
        names,
        [
            "ECS.DescribeServices",
            "ECS.DescribeServiceDeployments",
            "ECS.ContinueServiceDeployment"
        ]
    );
}

#[tokio::test]
async fn without_a_current_service_deployment_the_one_in_flight_is_listed() {
    let describe = described(None);
    let list = mock!(Ecs::list_service_deployments)
        .match_requests(|r| r.cluster() == Some("prod") && r.service() == Some("web"))
        .then_output(|| {
            ListServiceDeploymentsOutput::builder()
                .service_deployments(
                    ServiceDeploymentBrief::builder()
                        .service_deployment_arn(SD)
                        .status(ServiceDeploymentStatus::InProgress)
                        .build(),
                )
                .build()
        });
    let sd = deployment(
        ServiceDeploymentStatus::InProgress,
        vec![hook(
            "hook-pause",
            DeploymentLifecycleHookStatus::AwaitingAction,
        )],
    );
    let cont = continued();
    let (deployer, recorder) = deployer(&[&describe, &list, &sd, &cont]);
    let (env, app) = env_and_app();

    let done = deployer.continue_deployment(&env, &app).await.unwrap();

    assert_eq!(done.service_deployment_arn, SD);
    assert_eq!(
        calls(&recorder),
        [
            "ECS.DescribeServices",
            "ECS.ListServiceDeployments",
            "ECS.DescribeServiceDeployments",
            "ECS.ContinueServiceDeployment"
        ]
    );
}

#[tokio::test]
async fn an_app_without_cluster_or_service_is_not_deployed() {
    let (env, app) = env_and_app();
    let no_cluster = mock!(Ecs::describe_services).then_error(|| {
        DescribeServicesError::generic(aws_error_meta(
            "ClusterNotFoundException",
            "Cluster not found.",
        ))
    });
    let cont = continued();
    let (d, recorder) = deployer(&[&no_cluster, &cont]);
    match d.continue_deployment(&env, &app).await.unwrap_err() {
        Error::NotDeployed { missing, app, .. } => {
            assert_eq!(missing, ResourceId::new("ecs:cluster", "prod"));
            assert_eq!(app, "web");
        }
        other => panic!("expected not deployed, got {other}"),
    }
    assert_eq!(calls(&recorder), ["ECS.DescribeServices"]);

    let no_service =
        mock!(Ecs::describe_services).then_output(|| DescribeServicesOutput::builder().build());
    let (d, recorder) = deployer(&[&no_service, &cont]);
    match d.reject_deployment(&env, &app).await.unwrap_err() {
        Error::NotDeployed { missing, .. } => {
            assert_eq!(missing, ResourceId::new("ecs:service", "prod/web"));
        }
        other => panic!("expected not deployed, got {other}"),
    }
    assert_eq!(calls(&recorder), ["ECS.DescribeServices"]);
    assert_eq!(cont.num_calls(), 0);
}

#[tokio::test]
async fn a_finished_deployment_is_nothing_in_flight() {
    let describe = described(Some(SD));
    let sd = deployment(ServiceDeploymentStatus::Successful, vec![]);
    let cont = continued();
    let (d, recorder) = deployer(&[&describe, &sd, &cont]);
    let (env, app) = env_and_app();

    let err = continue_error(d.continue_deployment(&env, &app).await.unwrap_err());

    match &err {
        ContinueError::NothingInFlight { service, last } => {
            assert_eq!(service, "web");
            let last = last.as_deref().unwrap();
            assert_eq!(
                (last.arn.as_str(), last.status.as_str()),
                (SD, "SUCCESSFUL")
            );
        }
        other => panic!("expected nothing in flight, got {other}"),
    }
    assert!(
        err.to_string().contains("no service deployment in flight"),
        "{err}"
    );
    assert!(err.to_string().contains("SUCCESSFUL"), "{err}");
    assert_eq!(
        calls(&recorder),
        ["ECS.DescribeServices", "ECS.DescribeServiceDeployments"]
    );
    assert_eq!(cont.num_calls(), 0);
}

#[tokio::test]
async fn no_service_deployment_at_all_is_nothing_in_flight() {
    let describe = described(None);
    let list = mock!(Ecs::list_service_deployments)
        .then_output(|| ListServiceDeploymentsOutput::builder().build());
    let cont = continued();
    let (d, recorder) = deployer(&[&describe, &list, &cont]);
    let (env, app) = env_and_app();

    let err = continue_error(d.continue_deployment(&env, &app).await.unwrap_err());

    assert!(
        matches!(&err, ContinueError::NothingInFlight { last: None, .. }),
        "{err}"
    );
    assert_eq!(
        calls(&recorder),
        ["ECS.DescribeServices", "ECS.ListServiceDeployments"]
    );
    assert_eq!(cont.num_calls(), 0);
}

#[tokio::test]
async fn a_deployment_in_flight_without_a_waiting_hook_is_not_paused() {
    let describe = described(Some(SD));
    let sd = deployment(
        ServiceDeploymentStatus::InProgress,
        vec![hook(
            "hook-lambda",
            DeploymentLifecycleHookStatus::InProgress,
        )],
    );
    let cont = continued();
    let (d, recorder) = deployer(&[&describe, &sd, &cont]);
    let (env, app) = env_and_app();

    let err = continue_error(d.reject_deployment(&env, &app).await.unwrap_err());

    match &err {
        ContinueError::NotPaused {
            service,
            deployment,
        } => {
            assert_eq!(service, "web");
            assert_eq!(deployment.status, "IN_PROGRESS");
            assert_eq!(deployment.lifecycle_hooks.len(), 1);
        }
        other => panic!("expected not paused, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("not paused at a lifecycle hook"),
        "{message}"
    );
    assert!(message.contains("hook-lambda IN_PROGRESS"), "{message}");
    assert!(message.contains("POST_TEST_TRAFFIC_SHIFT"), "{message}");
    assert_eq!(
        calls(&recorder),
        ["ECS.DescribeServices", "ECS.DescribeServiceDeployments"]
    );
    assert_eq!(cont.num_calls(), 0);
}

#[tokio::test]
async fn a_scheduled_job_has_no_deployment_to_continue_before_any_call() {
    let (env, _) = env_and_app();
    let job = fargate_deploy::ScheduledJob::builder()
        .name("etl")
        .image("busybox:1")
        .schedule("cron(0 2 * * ? *)")
        .build()
        .unwrap();
    let (d, recorder) = deployer(&[]);
    let err = d.continue_deployment(&env, &job).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(calls(&recorder).is_empty());
}
