//! Service autoscaling (Application Auto Scaling): a scalable target on the ECS service's
//! desired count, and one target-tracking policy per metric.
//!
//! Start with [`AutoscalingSpec::new`] (min, max, and [`TargetTracking`] on CPU %, memory %
//! or ALB requests per target), then [`ServiceScaling::new`] makes it a resource of one
//! service. Everything is validated before any AWS call.
//!
//! AWS resources, all found by deterministic names (nothing is listed account-wide):
//! - the scalable target `service/<cluster>/<service>`, dimension `ecs:service:DesiredCount`
//!   (RegisterScalableTarget; observed with DescribeScalableTargets(ResourceIds));
//! - one target-tracking policy per metric, named `<env>-<app>-cpu`, `-memory` or `-requests`
//!   (PutScalingPolicy; observed with DescribeScalingPolicies on the target). Policies with
//!   other names on the target are not ours and are left alone.
//!
//! Ownership: scalable targets and scaling policies cannot be read back with tags everywhere
//! (policies have none), so ownership follows the ECS service: the target belongs to the
//! service this plan owns (the service resource refuses a foreign service), and policies are
//! ours by name. The target is tagged with the ownership tags when it is registered.
//!
//! When autoscaling owns the desired count, the service's `desired_count` must be `None`
//! (see [`AutoscalingSpec`]). Destroy deletes our policies, then deregisters the target.
//!
//! Output: [`ServiceScaling::arn_output`], the scalable target's ARN.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, EcsName, Error, Fields, Ident, InvalidValue, Kind, Mode, Ref, Resolved,
    ResourceId, Round, StepContext,
};
use serde_json::Value;

use crate::Clients;
use crate::deferred::{KNOWN_AFTER_APPLY, defer_unknown};

/// The resource kind of service autoscaling in plans.
pub const KIND: &str = "autoscaling:ecs-service";

/// The cooldown AWS applies to ECS services when none is given, in seconds.
pub const DEFAULT_COOLDOWN_SECS: u32 = 300;

/// The most tasks an ECS service can run.
const MAX_TASKS: u32 = 5000;

/// The policy kinds, one policy each at most: `<env>-<app>-<kind>`.
const POLICY_KINDS: [&str; 4] = ["cpu", "memory", "requests", "backlog"];

/// The plan's `metric` of a target-tracking policy on a customized metric.
const CUSTOM_METRIC: &str = "custom metric";

/// The customized metric of [`ScalingMetric::SqsBacklogPerTask`]: `m1 / m2`, the visible
/// messages of the queue (sum) over the running tasks of the service (average).
fn backlog_metric(
    queue_name: &str,
    cluster: &str,
    service: &str,
) -> Result<
    aws_sdk_applicationautoscaling::types::CustomizedMetricSpecification,
    aws_sdk_applicationautoscaling::error::BuildError,
> {
    use aws_sdk_applicationautoscaling::types::{
        CustomizedMetricSpecification, TargetTrackingMetric, TargetTrackingMetricDataQuery,
        TargetTrackingMetricDimension, TargetTrackingMetricStat,
    };
    let dimension = |name: &str, value: &str| {
        TargetTrackingMetricDimension::builder()
            .name(name)
            .value(value)
            .build()
    };
    let queue = TargetTrackingMetricDataQuery::builder()
        .id("m1")
        .label("messages visible in the queue")
        .metric_stat(
            TargetTrackingMetricStat::builder()
                .metric(
                    TargetTrackingMetric::builder()
                        .namespace("AWS/SQS")
                        .metric_name("ApproximateNumberOfMessagesVisible")
                        .dimensions(dimension("QueueName", queue_name)?)
                        .build(),
                )
                .stat("Sum")
                .build()?,
        )
        .return_data(false)
        .build()?;
    let tasks = TargetTrackingMetricDataQuery::builder()
        .id("m2")
        .label("running tasks of the service")
        .metric_stat(
            TargetTrackingMetricStat::builder()
                .metric(
                    TargetTrackingMetric::builder()
                        .namespace("ECS/ContainerInsights")
                        .metric_name("RunningTaskCount")
                        .dimensions(dimension("ClusterName", cluster)?)
                        .dimensions(dimension("ServiceName", service)?)
                        .build(),
                )
                .stat("Average")
                .build()?,
        )
        .return_data(false)
        .build()?;
    let backlog = TargetTrackingMetricDataQuery::builder()
        .id("e1")
        .label("backlog per task")
        .expression("m1 / m2")
        .return_data(true)
        .build()?;
    Ok(CustomizedMetricSpecification::builder()
        .metrics(queue)
        .metrics(tasks)
        .metrics(backlog)
        .build())
}

/// The metric a target-tracking policy follows.
#[derive(Debug, Clone)]
pub enum ScalingMetric {
    /// Average CPU utilization of the service's tasks, in percent
    /// (`ECSServiceAverageCPUUtilization`).
    Cpu,
    /// Average memory utilization of the service's tasks, in percent
    /// (`ECSServiceAverageMemoryUtilization`).
    Memory,
    /// Requests per target of the service's target group on its application load balancer
    /// (`ALBRequestCountPerTarget`).
    AlbRequestsPerTarget {
        /// The load balancer's ARN.
        load_balancer_arn: Ref<String>,
        /// The target group's ARN.
        target_group_arn: Ref<String>,
    },
    /// Messages waiting in an SQS queue per running task: metric math
    /// `ApproximateNumberOfMessagesVisible` (AWS/SQS, the queue) / `RunningTaskCount`
    /// (ECS/ContainerInsights, the service; needs Container Insights on the cluster), as in
    /// the AWS guide "Scaling policy based on Amazon SQS".
    SqsBacklogPerTask {
        /// The queue's name.
        queue_name: String,
        /// The cluster's name.
        cluster: String,
        /// The service's name.
        service: String,
    },
}

impl ScalingMetric {
    /// The short name used in policy names and plan fields: `cpu`, `memory` or `requests`.
    pub fn kind(&self) -> &'static str {
        match self {
            ScalingMetric::Cpu => "cpu",
            ScalingMetric::Memory => "memory",
            ScalingMetric::AlbRequestsPerTarget { .. } => "requests",
            ScalingMetric::SqsBacklogPerTask { .. } => "backlog",
        }
    }

    /// The predefined metric, or `None` for a customized one (the SQS backlog).
    fn metric_type(&self) -> Option<MetricType> {
        match self {
            ScalingMetric::Cpu => Some(MetricType::EcsServiceAverageCpuUtilization),
            ScalingMetric::Memory => Some(MetricType::EcsServiceAverageMemoryUtilization),
            ScalingMetric::AlbRequestsPerTarget { .. } => {
                Some(MetricType::AlbRequestCountPerTarget)
            }
            ScalingMetric::SqsBacklogPerTask { .. } => None,
        }
    }
}

/// Keep one metric near a target value, adding tasks when above and removing them when below.
#[derive(Debug, Clone)]
pub struct TargetTracking {
    metric: ScalingMetric,
    target: f64,
    scale_in_cooldown: u32,
    scale_out_cooldown: u32,
}

impl TargetTracking {
    /// Keep the average CPU utilization near `percent` (more than 0, at most 100).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `autoscaling.cpu.target` when out of range.
    pub fn cpu(percent: f64) -> Result<Self, InvalidValue> {
        Self::new(ScalingMetric::Cpu, percent)
    }

    /// Keep the average memory utilization near `percent` (more than 0, at most 100).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `autoscaling.memory.target` when out of range.
    pub fn memory(percent: f64) -> Result<Self, InvalidValue> {
        Self::new(ScalingMetric::Memory, percent)
    }

    /// Keep the requests per target (per task, per minute) of the target group on the
    /// application load balancer near `requests`.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `autoscaling.requests.target` when `requests` is not
    /// positive, or when an ARN known now is not an application load balancer's or a target
    /// group's.
    pub fn alb_requests_per_target(
        requests: f64,
        load_balancer_arn: Ref<String>,
        target_group_arn: Ref<String>,
    ) -> Result<Self, InvalidValue> {
        if let (Some(lb), Some(tg)) = (load_balancer_arn.known(), target_group_arn.known()) {
            alb_resource_label(lb, tg)?;
        }
        Self::new(
            ScalingMetric::AlbRequestsPerTarget {
                load_balancer_arn,
                target_group_arn,
            },
            requests,
        )
    }

    /// Keep the messages visible in the queue `queue_name` per running task of `service`
    /// (in `cluster`) near `messages` (see [`ScalingMetric::SqsBacklogPerTask`]).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `autoscaling.backlog.target` when `messages` is not
    /// positive.
    pub fn sqs_backlog_per_task(
        messages: f64,
        queue_name: impl Into<String>,
        cluster: impl Into<String>,
        service: impl Into<String>,
    ) -> Result<Self, InvalidValue> {
        Self::new(
            ScalingMetric::SqsBacklogPerTask {
                queue_name: queue_name.into(),
                cluster: cluster.into(),
                service: service.into(),
            },
            messages,
        )
    }

    fn new(metric: ScalingMetric, target: f64) -> Result<Self, InvalidValue> {
        let t = Self {
            metric,
            target,
            scale_in_cooldown: DEFAULT_COOLDOWN_SECS,
            scale_out_cooldown: DEFAULT_COOLDOWN_SECS,
        };
        t.validate()?;
        Ok(t)
    }

    /// Wait `scale_in_secs` after a scale-in and `scale_out_secs` after a scale-out before
    /// scaling again (default 300 s each, AWS's default for ECS).
    ///
    /// # Errors
    /// An [`InvalidValue`] when a cooldown is longer than one day.
    pub fn cooldowns(
        mut self,
        scale_in_secs: u32,
        scale_out_secs: u32,
    ) -> Result<Self, InvalidValue> {
        self.scale_in_cooldown = scale_in_secs;
        self.scale_out_cooldown = scale_out_secs;
        self.validate()?;
        Ok(self)
    }

    /// The metric.
    pub fn metric(&self) -> &ScalingMetric {
        &self.metric
    }

    /// The target value.
    pub fn target(&self) -> f64 {
        self.target
    }

    fn validate(&self) -> Result<(), InvalidValue> {
        let kind = self.metric.kind();
        let field = format!("autoscaling.{kind}.target");
        let in_range = match self.metric {
            ScalingMetric::Cpu | ScalingMetric::Memory => self.target > 0.0 && self.target <= 100.0,
            ScalingMetric::AlbRequestsPerTarget { .. }
            | ScalingMetric::SqsBacklogPerTask { .. } => {
                self.target > 0.0 && self.target.is_finite()
            }
        };
        if !in_range {
            let allowed = match self.metric {
                ScalingMetric::AlbRequestsPerTarget { .. } => {
                    "a number of requests per target greater than 0"
                }
                ScalingMetric::SqsBacklogPerTask { .. } => {
                    "a number of messages per task greater than 0"
                }
                _ => "a percentage greater than 0 and at most 100",
            };
            return Err(InvalidValue::new(
                field,
                self.target.to_string(),
                "out of range",
                allowed,
            ));
        }
        for (name, secs) in [
            ("scale_in_cooldown", self.scale_in_cooldown),
            ("scale_out_cooldown", self.scale_out_cooldown),
        ] {
            if secs > 86_400 {
                return Err(InvalidValue::new(
                    format!("autoscaling.{kind}.{name}"),
                    secs.to_string(),
                    "longer than one day",
                    "0 to 86400 seconds",
                ));
            }
        }
        Ok(())
    }
}

/// How a service scales: between `min` and `max` tasks, following target-tracking policies.
///
/// When autoscaling owns the desired count, the service's
/// [`desired_count`](crate::service::ServiceSpec::desired_count) must be `None`: the plan then
/// ignores the running count, and a re-deploy does not reset what autoscaling chose.
///
/// ```
/// use fargate_deploy::autoscaling::{AutoscalingSpec, TargetTracking};
/// let spec = AutoscalingSpec::new(2, 10, vec![TargetTracking::cpu(60.0)?, TargetTracking::memory(75.0)?])?;
/// assert_eq!(spec.max(), 10);
/// assert!(AutoscalingSpec::new(5, 2, vec![]).is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
///
/// It deserializes from JSON, checked like [`new`](Self::new):
/// `{"min": 2, "max": 10, "targets": [{"metric": "cpu", "target": 60}]}`, each target with
/// optional `scale_in_cooldown_secs` and `scale_out_cooldown_secs` (default 300). JSON knows
/// the `cpu` and `memory` metrics; requests per target need the load balancer's and target
/// group's ARNs ([`TargetTracking::alb_requests_per_target`]).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "AutoscalingFields")]
pub struct AutoscalingSpec {
    min: u32,
    max: u32,
    targets: Vec<TargetTracking>,
}

impl AutoscalingSpec {
    /// Scale between `min` and `max` tasks following `targets` (at most one per metric).
    ///
    /// # Errors
    /// An [`InvalidValue`] when `min > max`, `max` is 0 or above 5000, or a metric appears twice.
    pub fn new(min: u32, max: u32, targets: Vec<TargetTracking>) -> Result<Self, InvalidValue> {
        if max == 0 || max > MAX_TASKS {
            return Err(InvalidValue::new(
                "autoscaling.max",
                max.to_string(),
                "out of range",
                format!("1 to {MAX_TASKS} tasks"),
            ));
        }
        if min > max {
            return Err(InvalidValue::new(
                "autoscaling.min",
                min.to_string(),
                format!("greater than max ({max})"),
                format!("0 to {max} tasks"),
            ));
        }
        let mut kinds: Vec<&str> = Vec::new();
        for t in &targets {
            t.validate()?;
            let kind = t.metric.kind();
            if kinds.contains(&kind) {
                return Err(InvalidValue::new(
                    "autoscaling.targets",
                    kind,
                    "two policies follow the same metric",
                    "at most one target per metric (cpu, memory, requests)",
                ));
            }
            kinds.push(kind);
        }
        Ok(Self { min, max, targets })
    }

    /// The fewest tasks.
    pub fn min(&self) -> u32 {
        self.min
    }

    /// The most tasks.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The target-tracking policies.
    pub fn targets(&self) -> &[TargetTracking] {
        &self.targets
    }

    /// The same autoscaling with one more policy.
    ///
    /// # Errors
    /// As [`new`](Self::new): a metric followed twice.
    pub fn with_target(self, target: TargetTracking) -> Result<Self, InvalidValue> {
        let mut targets = self.targets;
        targets.push(target);
        Self::new(self.min, self.max, targets)
    }
}

/// [`AutoscalingSpec`] as read from JSON, before [`AutoscalingSpec::new`] checks it.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AutoscalingFields {
    /// The fewest tasks.
    min: u32,
    /// The most tasks (1 to 5000).
    max: u32,
    /// Target-tracking policies, at most one per metric.
    targets: Vec<TargetFields>,
}

/// A [`TargetTracking`] as read from JSON.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TargetFields {
    /// The metric: the average utilization of the service's tasks.
    metric: UtilizationMetric,
    /// The utilization to keep, in percent (more than 0, at most 100).
    target: f64,
    /// Seconds to wait after a scale-in before scaling again (default 300, at most 86400).
    #[serde(default = "default_cooldown_secs")]
    scale_in_cooldown_secs: u32,
    /// Seconds to wait after a scale-out before scaling again (default 300, at most 86400).
    #[serde(default = "default_cooldown_secs")]
    scale_out_cooldown_secs: u32,
}

/// The metrics a target in JSON can follow.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum UtilizationMetric {
    /// Average CPU utilization, in percent.
    Cpu,
    /// Average memory utilization, in percent.
    Memory,
}

fn default_cooldown_secs() -> u32 {
    DEFAULT_COOLDOWN_SECS
}

impl TryFrom<AutoscalingFields> for AutoscalingSpec {
    type Error = InvalidValue;
    fn try_from(f: AutoscalingFields) -> Result<Self, InvalidValue> {
        let targets = f
            .targets
            .into_iter()
            .map(|t| {
                let tracking = match t.metric {
                    UtilizationMetric::Cpu => TargetTracking::cpu(t.target),
                    UtilizationMetric::Memory => TargetTracking::memory(t.target),
                }?;
                tracking.cooldowns(t.scale_in_cooldown_secs, t.scale_out_cooldown_secs)
            })
            .collect::<Result<Vec<_>, _>>()?;
        AutoscalingSpec::new(f.min, f.max, targets)
    }
}

/// The JSON form: see [`AutoscalingSpec`].
impl schemars::JsonSchema for AutoscalingSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AutoscalingSpec".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        AutoscalingFields::json_schema(generator)
    }
}

/// The `ResourceLabel` of an `ALBRequestCountPerTarget` metric,
/// `app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>`, from the load balancer's and target
/// group's ARNs.
///
/// ```
/// use fargate_deploy::autoscaling::alb_resource_label;
/// let label = alb_resource_label(
///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-web/50dc6c495c0c9188",
///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web/943f017f100becff",
/// )?;
/// assert_eq!(label, "app/prod-web/50dc6c495c0c9188/targetgroup/prod-web/943f017f100becff");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
///
/// # Errors
/// An [`InvalidValue`] when the first ARN is not an application load balancer's or the second
/// not a target group's.
pub fn alb_resource_label(
    load_balancer_arn: &str,
    target_group_arn: &str,
) -> Result<String, InvalidValue> {
    let resource = |arn: &str| arn.splitn(6, ':').nth(5).map(str::to_string);
    let lb = resource(load_balancer_arn)
        .and_then(|r| r.strip_prefix("loadbalancer/").map(str::to_string))
        .filter(|r| r.starts_with("app/") && r.split('/').count() == 3);
    let Some(lb) = lb else {
        return Err(InvalidValue::new(
            "autoscaling.requests.load_balancer_arn",
            load_balancer_arn,
            "not the ARN of an application load balancer",
            "arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>",
        ));
    };
    let tg = resource(target_group_arn)
        .filter(|r| r.starts_with("targetgroup/") && r.split('/').count() == 3);
    let Some(tg) = tg else {
        return Err(InvalidValue::new(
            "autoscaling.requests.target_group_arn",
            target_group_arn,
            "not the ARN of a target group",
            "arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>",
        ));
    };
    Ok(format!("{lb}/{tg}"))
}

/// What was found in AWS: the scalable target and the policies named as ours.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedScaling {
    /// The scalable target.
    pub target: ObservedTarget,
    /// Our policies on it (by name).
    pub policies: Vec<ObservedPolicy>,
}

/// A scalable target as observed: what the plan compares and apply reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedTarget {
    /// Its ARN (not every endpoint returns one).
    pub arn: Option<String>,
    /// The fewest tasks.
    pub min_capacity: i32,
    /// The most tasks.
    pub max_capacity: i32,
}

impl ObservedTarget {
    /// The plain data of an SDK scalable target.
    pub fn from_sdk(t: &ScalableTarget) -> Self {
        Self {
            arn: t.scalable_target_arn().map(str::to_string),
            min_capacity: t.min_capacity(),
            max_capacity: t.max_capacity(),
        }
    }
}

/// A scaling policy as observed (target tracking on a predefined metric, or what else it is).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedPolicy {
    /// Its name.
    pub name: String,
    /// Its type (`TargetTrackingScaling`, `StepScaling`, ...).
    pub policy_type: String,
    /// The predefined metric followed, when it has one.
    pub predefined_metric: Option<String>,
    /// The metric's resource label (ALB requests per target).
    pub resource_label: Option<String>,
    /// The target value.
    pub target_value: Option<f64>,
    /// Seconds after a scale-in before scaling again.
    pub scale_in_cooldown: Option<i32>,
    /// Seconds after a scale-out before scaling again.
    pub scale_out_cooldown: Option<i32>,
    /// Whether scale-in is disabled.
    pub disable_scale_in: Option<bool>,
    /// The SQS queue of a customized backlog-per-task metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog_queue: Option<String>,
}

impl ObservedPolicy {
    /// The plain data of an SDK scaling policy.
    pub fn from_sdk(p: &ScalingPolicy) -> Self {
        let tt = p.target_tracking_scaling_policy_configuration();
        let predefined = tt.and_then(|c| c.predefined_metric_specification());
        Self {
            name: p.policy_name().to_string(),
            policy_type: p.policy_type().as_str().to_string(),
            predefined_metric: predefined.map(|m| m.predefined_metric_type().as_str().to_string()),
            resource_label: predefined
                .and_then(|m| m.resource_label())
                .map(str::to_string),
            target_value: tt.map(|c| c.target_value()),
            scale_in_cooldown: tt.and_then(|c| c.scale_in_cooldown()),
            scale_out_cooldown: tt.and_then(|c| c.scale_out_cooldown()),
            disable_scale_in: tt.and_then(|c| c.disable_scale_in()),
            backlog_queue: tt
                .and_then(|c| c.customized_metric_specification())
                .and_then(|m| {
                    m.metrics().iter().find_map(|q| {
                        let metric = q.metric_stat()?.metric()?;
                        if metric.namespace() != Some("AWS/SQS") {
                            return None;
                        }
                        metric
                            .dimensions()
                            .iter()
                            .find(|d| d.name() == "QueueName")
                            .map(|d| d.value().to_string())
                    })
                }),
        }
    }
}

/// The autoscaling of one ECS service, as a resource.
#[derive(Debug, Clone)]
pub struct ServiceScaling {
    spec: AutoscalingSpec,
    owner: Ownership,
    policy_prefix: String,
    cluster: EcsName,
    service: EcsName,
    service_id: ResourceId,
    extra_dependencies: Vec<ResourceId>,
}

impl ServiceScaling {
    /// Autoscaling of the service `service` in `cluster` (whose resource id is `service_id`),
    /// for app `app` of environment `env`.
    pub fn new(
        spec: AutoscalingSpec,
        env: &Ident,
        app: &Ident,
        cluster: EcsName,
        service: EcsName,
        service_id: ResourceId,
    ) -> Self {
        Self {
            spec,
            owner: Ownership::new(env.clone())
                .with_app(app.clone())
                .with_component("autoscaling"),
            policy_prefix: format!("{env}-{app}"),
            cluster,
            service,
            service_id,
            extra_dependencies: Vec::new(),
        }
    }

    /// Also wait for these resources (for example the target group and load balancer of an
    /// ALB request-count policy).
    #[must_use]
    pub fn depends_on(mut self, ids: impl IntoIterator<Item = ResourceId>) -> Self {
        self.extra_dependencies.extend(ids);
        self
    }

    /// The resource id, `autoscaling:ecs-service <cluster>/<service>`.
    pub fn resource_id(&self) -> ResourceId {
        ResourceId::new(KIND, format!("{}/{}", self.cluster, self.service))
    }

    /// Output: the scalable target's ARN.
    pub fn arn_output(&self) -> OutputKey<String> {
        self.resource_id().output("arn")
    }

    /// The scalable target's resource id, `service/<cluster>/<service>`.
    pub fn scalable_resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.service)
    }

    /// The name of the policy following `metric`, `<env>-<app>-<kind>`.
    pub fn policy_name(&self, metric: &ScalingMetric) -> String {
        format!("{}-{}", self.policy_prefix, metric.kind())
    }

    fn our_policy_names(&self) -> [String; 4] {
        POLICY_KINDS.map(|k| format!("{}-{k}", self.policy_prefix))
    }

    /// The managed fields of the desired state (pure). An ALB label whose ARNs are produced
    /// during apply is [`KNOWN_AFTER_APPLY`].
    ///
    /// # Errors
    /// [`Error::Invalid`] when known ARNs do not make an ALB resource label.
    pub fn desired_fields(&self) -> Result<Fields, Error> {
        self.fields_with(|lb, tg| match (lb.known(), tg.known()) {
            (Some(lb), Some(tg)) => Ok(Value::from(alb_resource_label(lb, tg)?)),
            _ => Ok(Value::from(KNOWN_AFTER_APPLY)),
        })
    }

    /// The desired fields with every reference resolved (during apply).
    fn resolved_fields(&self, ctx: &StepContext) -> Result<Fields, Error> {
        self.fields_with(|lb, tg| {
            Ok(Value::from(alb_resource_label(
                &lb.resolve(ctx)?,
                &tg.resolve(ctx)?,
            )?))
        })
    }

    fn fields_with(
        &self,
        label: impl Fn(&Ref<String>, &Ref<String>) -> Result<Value, Error>,
    ) -> Result<Fields, Error> {
        let mut f = Fields::new()
            .with("min_capacity", self.spec.min)
            .with("max_capacity", self.spec.max);
        for t in &self.spec.targets {
            let p = format!("policy.{}", t.metric.kind());
            f.set(
                format!("{p}.metric"),
                t.metric
                    .metric_type()
                    .map_or_else(|| CUSTOM_METRIC.to_string(), |m| m.as_str().to_string()),
            );
            f.set(format!("{p}.target_value"), t.target);
            f.set(format!("{p}.scale_in_cooldown"), t.scale_in_cooldown);
            f.set(format!("{p}.scale_out_cooldown"), t.scale_out_cooldown);
            f.set(format!("{p}.disable_scale_in"), false);
            if let ScalingMetric::AlbRequestsPerTarget {
                load_balancer_arn,
                target_group_arn,
            } = &t.metric
            {
                f.set(
                    format!("{p}.resource_label"),
                    label(load_balancer_arn, target_group_arn)?,
                );
            }
            if let ScalingMetric::SqsBacklogPerTask { queue_name, .. } = &t.metric {
                f.set(format!("{p}.queue"), queue_name.as_str());
            }
        }
        Ok(f)
    }

    /// The managed fields of what AWS has (pure), with AWS's defaults filled in.
    pub fn observed_fields(&self, observed: &ObservedScaling) -> Fields {
        let mut f = Fields::new()
            .with("min_capacity", observed.target.min_capacity)
            .with("max_capacity", observed.target.max_capacity);
        let target_tracking = PolicyType::TargetTrackingScaling.as_str();
        for policy in &observed.policies {
            let Some(kind) = policy
                .name
                .strip_prefix(&format!("{}-", self.policy_prefix))
            else {
                continue;
            };
            let p = format!("policy.{kind}");
            let metric = match (policy.policy_type.as_str(), &policy.predefined_metric) {
                (t, Some(m)) if t == target_tracking => m.clone(),
                (t, None) if t == target_tracking => CUSTOM_METRIC.to_string(),
                (other, _) => other.to_string(),
            };
            f.set(format!("{p}.metric"), metric);
            f.set(format!("{p}.target_value"), policy.target_value);
            let cooldown = |v: Option<i32>| v.unwrap_or(DEFAULT_COOLDOWN_SECS as i32);
            f.set(
                format!("{p}.scale_in_cooldown"),
                cooldown(policy.scale_in_cooldown),
            );
            f.set(
                format!("{p}.scale_out_cooldown"),
                cooldown(policy.scale_out_cooldown),
            );
            f.set(
                format!("{p}.disable_scale_in"),
                policy.disable_scale_in.unwrap_or(false),
            );
            if kind == "requests" {
                f.set(format!("{p}.resource_label"), policy.resource_label.clone());
            }
            if kind == "backlog" {
                f.set(format!("{p}.queue"), policy.backlog_queue.clone());
            }
        }
        f
    }

    /// Read the scalable target and our policies (two read calls, concurrently).
    ///
    /// # Errors
    /// When a Describe call fails.
    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    pub async fn observe(&self, clients: &Clients) -> Result<Option<ObservedScaling>, Error> {
        let id = self.resource_id();
        let resource = self.scalable_resource_id();
        let targets = clients
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_ids(&resource)
            .send();
        let (targets, policies) = tokio::join!(targets, self.our_policies(clients, &id));
        let target = targets
            .context(&id, "DescribeScalableTargets")?
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == resource)
            .map(ObservedTarget::from_sdk);
        let policies = policies?;
        Ok(target.map(|target| ObservedScaling { target, policies }))
    }

    async fn our_policies(
        &self,
        clients: &Clients,
        id: &ResourceId,
    ) -> Result<Vec<ObservedPolicy>, Error> {
        let resource = self.scalable_resource_id();
        let names = self.our_policy_names();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = clients
                .autoscaling
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(&resource)
                .set_policy_names(Some(names.to_vec()))
                .set_next_token(token.take())
                .send()
                .await
                .context(id, "DescribeScalingPolicies")?;
            out.extend(
                page.scaling_policies()
                    .iter()
                    .filter(|p| {
                        p.resource_id() == resource && names.iter().any(|n| n == p.policy_name())
                    })
                    .map(ObservedPolicy::from_sdk),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }
}

impl Kind<Clients> for ServiceScaling {
    type Observed = ObservedScaling;

    fn id(&self) -> ResourceId {
        self.resource_id()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut d = vec![self.service_id.clone()];
        d.extend(self.extra_dependencies.iter().cloned());
        d
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedScaling>, Error>> {
        Box::pin(self.observe(clients))
    }

    fn diff(&self, observed: Option<&ObservedScaling>, _: &Resolved) -> Result<Change, Error> {
        let observed_fields = observed.map(|o| self.observed_fields(o));
        let mut desired = self.desired_fields()?;
        defer_unknown(
            &mut desired,
            observed_fields.as_ref(),
            &["policy.requests.resource_label"],
        );
        Ok(Change::compute(&desired, observed_fields.as_ref(), &[]))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedScaling>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match (change, observed) {
                (Change::NoOp, None) => Ok(()),
                (Change::Delete, Some(o)) => self.delete(clients, ctx, o).await,
                (_, observed) => {
                    let observed_fields = observed.map(|o| self.observed_fields(o));
                    self.converge(clients, ctx, observed, observed_fields).await
                }
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedScaling,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete(clients, ctx, observed))
    }
}

impl ServiceScaling {
    /// Make AWS match: register the target when it is new or its capacity changed, put or
    /// delete the policies whose fields differ. No call when nothing differs.
    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn converge(
        &self,
        c: &Clients,
        ctx: &StepContext,
        observed: Option<&ObservedScaling>,
        observed_fields: Option<Fields>,
    ) -> Result<(), Error> {
        let id = self.resource_id();
        let desired = self.resolved_fields(ctx)?;
        let changed: Vec<String> = match &observed_fields {
            Some(o) => o.diff(&desired).into_iter().map(|d| d.field).collect(),
            None => Vec::new(),
        };
        let arn = match observed {
            Some(o) if !changed.iter().any(|f| f.ends_with("_capacity")) => o.target.arn.clone(),
            _ => self.register(c, ctx, observed.is_none()).await?,
        };
        if let Some(arn) = arn {
            ctx.set(&self.arn_output(), arn);
        }
        for kind in POLICY_KINDS {
            let prefix = format!("policy.{kind}.");
            if observed.is_some() && !changed.iter().any(|f| f.starts_with(&prefix)) {
                continue;
            }
            match self.spec.targets.iter().find(|t| t.metric.kind() == kind) {
                Some(t) => self.put_policy(c, ctx, t, &desired).await?,
                None if observed.is_some() => {
                    let name = format!("{}-{kind}", self.policy_prefix);
                    ctx.progress(format!("deleting scaling policy {name}"));
                    self.delete_policy(c, &id, &name).await?;
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn register(
        &self,
        c: &Clients,
        ctx: &StepContext,
        new: bool,
    ) -> Result<Option<String>, Error> {
        ctx.progress(format!(
            "registering scalable target {} ({}-{} tasks)",
            self.scalable_resource_id(),
            self.spec.min,
            self.spec.max
        ));
        let mut call = c
            .autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(self.scalable_resource_id())
            .min_capacity(i32::try_from(self.spec.min).unwrap_or(i32::MAX))
            .max_capacity(i32::try_from(self.spec.max).unwrap_or(i32::MAX));
        if new {
            for (k, v) in self.owner.tags() {
                call = call.tags(k, v);
            }
        }
        let out = call
            .send()
            .await
            .context(self.resource_id(), "RegisterScalableTarget")?;
        Ok(out.scalable_target_arn().map(str::to_string))
    }

    async fn put_policy(
        &self,
        c: &Clients,
        ctx: &StepContext,
        t: &TargetTracking,
        resolved: &Fields,
    ) -> Result<(), Error> {
        let id = self.resource_id();
        let name = self.policy_name(&t.metric);
        let unexpected = |e: aws_sdk_applicationautoscaling::error::BuildError| Error::Unexpected {
            resource: id.clone(),
            operation: "PutScalingPolicy".into(),
            detail: e.to_string(),
        };
        let config = TargetTrackingScalingPolicyConfiguration::builder().target_value(t.target);
        let config = match &t.metric {
            ScalingMetric::SqsBacklogPerTask {
                queue_name,
                cluster,
                service,
            } => config.customized_metric_specification(
                backlog_metric(queue_name, cluster, service).map_err(unexpected)?,
            ),
            other => {
                let mut metric = PredefinedMetricSpecification::builder()
                    .set_predefined_metric_type(other.metric_type());
                if let Some(Value::String(label)) = resolved.get("policy.requests.resource_label")
                    && matches!(t.metric, ScalingMetric::AlbRequestsPerTarget { .. })
                {
                    metric = metric.resource_label(label);
                }
                config.predefined_metric_specification(metric.build().map_err(unexpected)?)
            }
        };
        let config = config
            .scale_in_cooldown(i32::try_from(t.scale_in_cooldown).unwrap_or(i32::MAX))
            .scale_out_cooldown(i32::try_from(t.scale_out_cooldown).unwrap_or(i32::MAX))
            .disable_scale_in(false)
            .build()
            .map_err(unexpected)?;
        ctx.progress(format!(
            "putting scaling policy {name} ({} target {})",
            t.metric.kind(),
            t.target
        ));
        c.autoscaling
            .put_scaling_policy()
            .policy_name(&name)
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(self.scalable_resource_id())
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .send()
            .await
            .context(&id, "PutScalingPolicy")?;
        Ok(())
    }

    async fn delete_policy(&self, c: &Clients, id: &ResourceId, name: &str) -> Result<(), Error> {
        let result = c
            .autoscaling
            .delete_scaling_policy()
            .policy_name(name)
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(self.scalable_resource_id())
            .send()
            .await;
        crate::aws_util::absent_on(
            result,
            &["ObjectNotFoundException"],
            id,
            "DeleteScalingPolicy",
        )
        .map(drop)
    }

    /// Delete our policies, then deregister the target (which removes any other policy on it).
    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn delete(
        &self,
        c: &Clients,
        ctx: &StepContext,
        observed: &ObservedScaling,
    ) -> Result<(), Error> {
        let id = self.resource_id();
        for p in &observed.policies {
            ctx.progress(format!("deleting scaling policy {}", p.name));
            self.delete_policy(c, &id, &p.name).await?;
        }
        ctx.progress(format!(
            "deregistering scalable target {}",
            self.scalable_resource_id()
        ));
        let result = c
            .autoscaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(self.scalable_resource_id())
            .send()
            .await;
        crate::aws_util::absent_on(
            result,
            &["ObjectNotFoundException"],
            &id,
            "DeregisterScalableTarget",
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaling(targets: Vec<TargetTracking>) -> ServiceScaling {
        ServiceScaling::new(
            AutoscalingSpec::new(1, 4, targets).unwrap(),
            &"prod".parse().unwrap(),
            &"web".parse().unwrap(),
            EcsName::new("prod").unwrap(),
            EcsName::new("prod-web").unwrap(),
            ResourceId::new("ecs:service", "prod/prod-web"),
        )
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            AutoscalingSpec::new(0, 0, vec![]).unwrap_err().field,
            "autoscaling.max"
        );
        assert_eq!(
            AutoscalingSpec::new(3, 2, vec![]).unwrap_err().field,
            "autoscaling.min"
        );
        assert_eq!(
            TargetTracking::cpu(0.0).unwrap_err().field,
            "autoscaling.cpu.target"
        );
        assert_eq!(
            TargetTracking::memory(101.0).unwrap_err().field,
            "autoscaling.memory.target"
        );
        assert_eq!(
            TargetTracking::cpu(f64::NAN).unwrap_err().field,
            "autoscaling.cpu.target"
        );
        assert!(
            TargetTracking::cpu(50.0)
                .unwrap()
                .cooldowns(60, 100_000)
                .is_err()
        );
        let twice = AutoscalingSpec::new(
            1,
            2,
            vec![
                TargetTracking::cpu(50.0).unwrap(),
                TargetTracking::cpu(70.0).unwrap(),
            ],
        );
        assert_eq!(twice.unwrap_err().field, "autoscaling.targets");
        let nlb = TargetTracking::alb_requests_per_target(
            100.0,
            Ref::Known("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/x/1".into()),
            Ref::Known("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/2".into()),
        );
        assert_eq!(
            nlb.unwrap_err().field,
            "autoscaling.requests.load_balancer_arn"
        );
    }

    #[test]
    fn policy_names_are_deterministic() {
        let s = scaling(vec![TargetTracking::cpu(50.0).unwrap()]);
        assert_eq!(s.policy_name(&ScalingMetric::Cpu), "prod-web-cpu");
        assert_eq!(s.scalable_resource_id(), "service/prod/prod-web");
        assert_eq!(
            s.resource_id().to_string(),
            "autoscaling:ecs-service prod/prod-web"
        );
    }

    #[test]
    fn observed_defaults_match_desired_defaults() {
        let s = scaling(vec![TargetTracking::cpu(50.0).unwrap()]);
        let target = ScalableTarget::builder()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/prod/prod-web")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(1)
            .max_capacity(4)
            .role_arn("arn:role")
            .creation_time(aws_sdk_applicationautoscaling::primitives::DateTime::from_secs(0))
            .build()
            .unwrap();
        let policy = ScalingPolicy::builder()
            .policy_arn("arn:policy")
            .policy_name("prod-web-cpu")
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/prod/prod-web")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(
                TargetTrackingScalingPolicyConfiguration::builder()
                    .target_value(50.0)
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .creation_time(aws_sdk_applicationautoscaling::primitives::DateTime::from_secs(0))
            .build()
            .unwrap();
        let observed = ObservedScaling {
            target: ObservedTarget::from_sdk(&target),
            policies: vec![ObservedPolicy::from_sdk(&policy)],
        };
        // Plain data: it reads back equal from JSON.
        let json = serde_json::to_value(&observed).unwrap();
        assert_eq!(
            serde_json::from_value::<ObservedScaling>(json).unwrap(),
            observed
        );
        assert_eq!(
            s.diff(Some(&observed), &Resolved::none()).unwrap(),
            Change::NoOp
        );
        assert!(
            s.observed_fields(&observed)
                .diff(&s.desired_fields().unwrap())
                .is_empty()
        );
        // A policy we no longer want shows as a change.
        let fewer = scaling(vec![]);
        let diff = fewer
            .observed_fields(&observed)
            .diff(&fewer.desired_fields().unwrap());
        assert!(
            diff.iter().all(|d| d.field.starts_with("policy.cpu.")),
            "{diff:?}"
        );
    }
}
