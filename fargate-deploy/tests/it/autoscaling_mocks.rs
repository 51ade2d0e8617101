//! Service autoscaling against mocked Application Auto Scaling: an unchanged re-plan is a
//! no-op with no mutating call; a changed target value is one PutScalingPolicy; a removed
//! metric is one DeleteScalingPolicy; create and destroy make exactly their calls.

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::{Change, EcsName, Executable, Mode, Ref, Resource, ResourceId};
use fargate_deploy::Clients;
use fargate_deploy::autoscaling::{AutoscalingSpec, ServiceScaling, TargetTracking};
use fargate_testkit::aws_sdk_applicationautoscaling::Client as Autoscaling;
use fargate_testkit::aws_sdk_applicationautoscaling::operation::delete_scaling_policy::DeleteScalingPolicyOutput;
use fargate_testkit::aws_sdk_applicationautoscaling::operation::deregister_scalable_target::DeregisterScalableTargetOutput;
use fargate_testkit::aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use fargate_testkit::aws_sdk_applicationautoscaling::operation::describe_scaling_policies::DescribeScalingPoliciesOutput;
use fargate_testkit::aws_sdk_applicationautoscaling::operation::put_scaling_policy::PutScalingPolicyOutput;
use fargate_testkit::aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
use fargate_testkit::aws_sdk_applicationautoscaling::primitives::DateTime;
use fargate_testkit::aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const RESOURCE: &str = "service/prod/prod-web";
const TARGET_ARN: &str =
    "arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/0ec5abc";
const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-web/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web/943f017f100becff";
const LABEL: &str = "app/prod-web/50dc6c495c0c9188/targetgroup/prod-web/943f017f100becff";

fn scaling(targets: Vec<TargetTracking>) -> ServiceScaling {
    ServiceScaling::new(
        AutoscalingSpec::new(2, 10, targets).unwrap(),
        &"prod".parse().unwrap(),
        &"web".parse().unwrap(),
        EcsName::new("prod").unwrap(),
        EcsName::new("prod-web").unwrap(),
        ResourceId::new("ecs:service", "prod/prod-web"),
    )
}

fn cpu_and_requests(cpu: f64) -> Vec<TargetTracking> {
    vec![
        TargetTracking::cpu(cpu)
            .unwrap()
            .cooldowns(120, 60)
            .unwrap(),
        TargetTracking::alb_requests_per_target(
            500.0,
            Ref::Known(LB.into()),
            Ref::Known(TG.into()),
        )
        .unwrap(),
    ]
}

fn target(min: i32, max: i32) -> ScalableTarget {
    ScalableTarget::builder()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
        .scalable_target_arn(TARGET_ARN)
        .creation_time(DateTime::from_secs(0))
        .build()
        .unwrap()
}

/// A policy as AWS returns it: cooldowns omitted when they are the defaults.
fn policy(
    name: &str,
    metric: MetricType,
    value: f64,
    cooldowns: Option<(i32, i32)>,
    label: Option<&str>,
) -> ScalingPolicy {
    let mut config = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(value)
        .predefined_metric_specification(
            PredefinedMetricSpecification::builder()
                .predefined_metric_type(metric)
                .set_resource_label(label.map(Into::into))
                .build()
                .unwrap(),
        );
    if let Some((scale_in, scale_out)) = cooldowns {
        config = config
            .scale_in_cooldown(scale_in)
            .scale_out_cooldown(scale_out);
    }
    ScalingPolicy::builder()
        .policy_arn(format!("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:1:resource/ecs/{RESOURCE}:policyName/{name}"))
        .policy_name(name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config.build().unwrap())
        .creation_time(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn existing_policies() -> Vec<ScalingPolicy> {
    vec![
        policy(
            "prod-web-cpu",
            MetricType::EcsServiceAverageCpuUtilization,
            60.0,
            Some((120, 60)),
            None,
        ),
        policy(
            "prod-web-requests",
            MetricType::AlbRequestCountPerTarget,
            500.0,
            None,
            Some(LABEL),
        ),
        // Not ours (another name): never read as ours, never touched.
        policy(
            "hand-made",
            MetricType::EcsServiceAverageMemoryUtilization,
            90.0,
            None,
            None,
        ),
    ]
}

fn describe_targets(found: Option<ScalableTarget>) -> Rule {
    mock!(Autoscaling::describe_scalable_targets)
        .match_requests(|r| {
            r.resource_ids() == [RESOURCE] && r.service_namespace() == Some(&ServiceNamespace::Ecs)
        })
        .then_output(move || {
            DescribeScalableTargetsOutput::builder()
                .set_scalable_targets(found.clone().map(|t| vec![t]))
                .build()
        })
}

fn describe_policies(policies: Vec<ScalingPolicy>) -> Rule {
    mock!(Autoscaling::describe_scaling_policies)
        .match_requests(|r| r.resource_id() == Some(RESOURCE))
        .then_output(move || {
            DescribeScalingPoliciesOutput::builder()
                .set_scaling_policies(Some(policies.clone()))
                .build()
        })
}

fn put_policy(name: &'static str) -> Rule {
    mock!(Autoscaling::put_scaling_policy)
        .match_requests(move |r| r.policy_name() == Some(name))
        .then_output(|| {
            PutScalingPolicyOutput::builder()
                .policy_arn("arn:policy")
                .build()
                .unwrap()
        })
}

async fn plan_and_apply(clients: &Clients, scaling: ServiceScaling, mode: Mode) -> Change {
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![fargate_core::resource::node(scaling)];
    let exe = Executable::plan(clients, &resources, mode).await.unwrap();
    let change = exe.plan.changes[0].change.clone();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    change
}

#[tokio::test]
async fn an_unchanged_re_plan_is_a_no_op_with_no_mutating_call() {
    let targets = describe_targets(Some(target(2, 10)));
    let policies = describe_policies(existing_policies());
    // Only the two Describe calls are mocked: any mutating call would panic.
    let clients = Mocks {
        autoscaling: vec![&targets, &policies],
        ..Mocks::default()
    }
    .clients();
    let scaling = scaling(cpu_and_requests(60.0));
    let arn = scaling.arn_output();

    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![fargate_core::resource::node(scaling)];
    let exe = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(exe.plan.changes[0].change, Change::NoOp);
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();

    assert_eq!(outputs.get(&arn).unwrap(), TARGET_ARN);
    assert_eq!((targets.num_calls(), policies.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_new_target_value_is_one_put_scaling_policy() {
    let targets = describe_targets(Some(target(2, 10)));
    let policies = describe_policies(existing_policies());
    let put = mock!(Autoscaling::put_scaling_policy)
        .match_requests(|r| {
            let c = r.target_tracking_scaling_policy_configuration();
            r.policy_name() == Some("prod-web-cpu")
                && r.policy_type() == Some(&PolicyType::TargetTrackingScaling)
                && c.map(|c| {
                    (
                        c.target_value(),
                        c.scale_in_cooldown(),
                        c.scale_out_cooldown(),
                    )
                }) == Some((45.0, Some(120), Some(60)))
        })
        .then_output(|| {
            PutScalingPolicyOutput::builder()
                .policy_arn("arn:policy")
                .build()
                .unwrap()
        });
    let clients = Mocks {
        autoscaling: vec![&targets, &policies, &put],
        ..Mocks::default()
    }
    .clients();

    let change = plan_and_apply(&clients, scaling(cpu_and_requests(45.0)), Mode::Apply).await;

    match change {
        Change::Update { diffs } => {
            let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
            assert_eq!(fields, ["policy.cpu.target_value"]);
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn a_removed_metric_deletes_only_its_policy() {
    let targets = describe_targets(Some(target(2, 10)));
    let policies = describe_policies(existing_policies());
    let delete = mock!(Autoscaling::delete_scaling_policy)
        .match_requests(|r| {
            r.policy_name() == Some("prod-web-requests") && r.resource_id() == Some(RESOURCE)
        })
        .then_output(|| DeleteScalingPolicyOutput::builder().build());
    let clients = Mocks {
        autoscaling: vec![&targets, &policies, &delete],
        ..Mocks::default()
    }
    .clients();

    let only_cpu = vec![
        TargetTracking::cpu(60.0)
            .unwrap()
            .cooldowns(120, 60)
            .unwrap(),
    ];
    let change = plan_and_apply(&clients, scaling(only_cpu), Mode::Apply).await;

    assert!(matches!(change, Change::Update { .. }), "{change:?}");
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn create_registers_the_target_with_ownership_tags_then_puts_each_policy() {
    let targets = describe_targets(None);
    let policies = describe_policies(vec![]);
    let register = mock!(Autoscaling::register_scalable_target)
        .match_requests(|r| {
            r.resource_id() == Some(RESOURCE)
                && r.scalable_dimension() == Some(&ScalableDimension::EcsServiceDesiredCount)
                && (r.min_capacity(), r.max_capacity()) == (Some(2), Some(10))
                && r.tags()
                    .and_then(|t| t.get("fargate:managed-by"))
                    .map(String::as_str)
                    == Some("fargate-rs")
        })
        .then_output(|| {
            RegisterScalableTargetOutput::builder()
                .scalable_target_arn(TARGET_ARN)
                .build()
        });
    let put_cpu = put_policy("prod-web-cpu");
    let put_requests = mock!(Autoscaling::put_scaling_policy)
        .match_requests(|r| {
            r.policy_name() == Some("prod-web-requests")
                && r.target_tracking_scaling_policy_configuration()
                    .and_then(|c| c.predefined_metric_specification())
                    .and_then(|m| m.resource_label())
                    == Some(LABEL)
        })
        .then_output(|| {
            PutScalingPolicyOutput::builder()
                .policy_arn("arn:policy")
                .build()
                .unwrap()
        });
    let clients = Mocks {
        autoscaling: vec![&targets, &policies, &register, &put_cpu, &put_requests],
        ..Mocks::default()
    }
    .clients();

    let change = plan_and_apply(&clients, scaling(cpu_and_requests(60.0)), Mode::Apply).await;

    assert!(matches!(change, Change::Create { .. }), "{change:?}");
    assert_eq!(
        (
            register.num_calls(),
            put_cpu.num_calls(),
            put_requests.num_calls()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn destroy_deletes_our_policies_then_deregisters_the_target() {
    let targets = describe_targets(Some(target(2, 10)));
    let policies = describe_policies(existing_policies());
    let delete = mock!(Autoscaling::delete_scaling_policy)
        .match_requests(|r| matches!(r.policy_name(), Some("prod-web-cpu" | "prod-web-requests")))
        .then_output(|| DeleteScalingPolicyOutput::builder().build());
    let deregister = mock!(Autoscaling::deregister_scalable_target)
        .match_requests(|r| r.resource_id() == Some(RESOURCE))
        .then_output(|| DeregisterScalableTargetOutput::builder().build());
    let clients = Mocks {
        autoscaling: vec![&targets, &policies, &delete, &deregister],
        ..Mocks::default()
    }
    .clients();

    let change = plan_and_apply(&clients, scaling(cpu_and_requests(60.0)), Mode::Destroy).await;

    assert_eq!(change, Change::Delete);
    assert_eq!((delete.num_calls(), deregister.num_calls()), (2, 1));
}
