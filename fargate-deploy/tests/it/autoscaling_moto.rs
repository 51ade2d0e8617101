//! Service autoscaling against the moto server: register the scalable target and its
//! policies, re-apply with no mutating call, change one policy, destroy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::{Change, EcsName, Executable, Mode, Plan, Ref, Resource, ResourceId};
use fargate_deploy::Clients;
use fargate_deploy::autoscaling::{AutoscalingSpec, ServiceScaling, TargetTracking};
use fargate_testkit::aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use fargate_testkit::aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, LaunchType, NetworkConfiguration,
};
use fargate_testkit::{TestContext, context};

use crate::support::{moto_clients, sdk_cluster, sdk_task_definition, sdk_task_network};

const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-web/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web/943f017f100becff";

/// The ECS service to scale (RegisterScalableTarget needs it to exist), made with the SDK.
async fn service(ctx: &TestContext) {
    sdk_cluster(ctx, "prod").await;
    sdk_task_definition(ctx, "prod-web", "web", "nginx", None).await;
    // moto's CreateService answers HTTP 500 without a security group.
    let (subnet, sg) = sdk_task_network(ctx, "web").await;
    let vpc_config = AwsVpcConfiguration::builder()
        .subnets(subnet)
        .security_groups(sg)
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .unwrap();
    ctx.ecs()
        .create_service()
        .cluster("prod")
        .service_name("prod-web")
        .task_definition("prod-web")
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc_config)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn scaling(cpu: f64, with_requests: bool) -> ServiceScaling {
    let mut targets = vec![
        TargetTracking::cpu(cpu).unwrap(),
        TargetTracking::memory(80.0)
            .unwrap()
            .cooldowns(600, 60)
            .unwrap(),
    ];
    if with_requests {
        targets.push(
            TargetTracking::alb_requests_per_target(
                1000.0,
                Ref::Known(LB.into()),
                Ref::Known(TG.into()),
            )
            .unwrap(),
        );
    }
    ServiceScaling::new(
        AutoscalingSpec::new(1, 6, targets).unwrap(),
        &"prod".parse().unwrap(),
        &"web".parse().unwrap(),
        EcsName::new("prod").unwrap(),
        EcsName::new("prod-web").unwrap(),
        ResourceId::new("ecs:service", "prod/prod-web"),
    )
}

async fn run(clients: &Clients, scaling: ServiceScaling, mode: Mode) -> Plan {
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![fargate_core::resource::node(scaling)];
    let exe = Executable::plan(clients, &resources, mode).await.unwrap();
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    plan
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn autoscaling_register_reapply_update_destroy() {
    let ctx = context().await;
    let clients = moto_clients(&ctx);
    service(&ctx).await;
    let recorder = ctx.recorder();

    // Create: the target, then one policy per metric.
    let mark = recorder.mark();
    let plan = run(&clients, scaling(60.0, true), Mode::Apply).await;
    assert!(
        matches!(plan.changes[0].change, Change::Create { .. }),
        "{plan}"
    );
    assert_eq!(
        sorted(recorder.mutating_calls_since(mark)),
        [
            "ApplicationAutoScaling.PutScalingPolicy",
            "ApplicationAutoScaling.PutScalingPolicy",
            "ApplicationAutoScaling.PutScalingPolicy",
            "ApplicationAutoScaling.RegisterScalableTarget",
        ]
    );
    let aas = ctx.autoscaling();
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids("service/prod/prod-web")
        .send()
        .await
        .unwrap();
    let target = &targets.scalable_targets()[0];
    assert_eq!((target.min_capacity(), target.max_capacity()), (1, 6));
    assert_eq!(
        target.scalable_dimension(),
        &ScalableDimension::EcsServiceDesiredCount
    );
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id("service/prod/prod-web")
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = policies
        .scaling_policies()
        .iter()
        .map(|p| p.policy_name())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["prod-web-cpu", "prod-web-memory", "prod-web-requests"]
    );

    // Re-apply: no change, no mutating call.
    let mark = recorder.mark();
    let plan = run(&clients, scaling(60.0, true), Mode::Apply).await;
    assert!(!plan.has_changes(), "{plan}");
    assert!(
        recorder.mutating_calls_since(mark).is_empty(),
        "{:?}",
        recorder.mutating_calls_since(mark)
    );

    // A new CPU target and no more request-count policy: one put, one delete.
    let mark = recorder.mark();
    let plan = run(&clients, scaling(45.0, false), Mode::Apply).await;
    assert!(
        matches!(plan.changes[0].change, Change::Update { .. }),
        "{plan}"
    );
    assert_eq!(
        sorted(recorder.mutating_calls_since(mark)),
        [
            "ApplicationAutoScaling.DeleteScalingPolicy",
            "ApplicationAutoScaling.PutScalingPolicy"
        ]
    );
    let mark = recorder.mark();
    assert!(
        !run(&clients, scaling(45.0, false), Mode::Apply)
            .await
            .has_changes()
    );
    assert!(recorder.mutating_calls_since(mark).is_empty());

    // Destroy: our policies, then the target; then nothing is left.
    let mark = recorder.mark();
    let plan = run(&clients, scaling(45.0, false), Mode::Destroy).await;
    assert_eq!(plan.changes[0].change, Change::Delete);
    assert_eq!(
        recorder.mutating_calls_since(mark),
        [
            "ApplicationAutoScaling.DeleteScalingPolicy",
            "ApplicationAutoScaling.DeleteScalingPolicy",
            "ApplicationAutoScaling.DeregisterScalableTarget",
        ]
    );
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids("service/prod/prod-web")
        .send()
        .await
        .unwrap();
    assert!(targets.scalable_targets().is_empty());
    assert_eq!(
        run(&clients, scaling(45.0, false), Mode::Destroy)
            .await
            .changes[0]
            .change,
        Change::NoOp
    );
}
