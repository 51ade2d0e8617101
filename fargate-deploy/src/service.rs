//! The ECS service: create, update, watch the rollout, roll back, delete.
//!
//! The service follows its task definition: when the task definition plans a
//! new revision, the service plans an update to it (read from what the plan
//! [`Resolved`] of its dependencies), so the plan shows the deployment before it happens.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_ecs::types::{
    AdvancedConfiguration, AssignPublicIp, AwsVpcConfiguration, CanaryConfiguration,
    CapacityProviderStrategyItem, DeploymentAlarms, DeploymentCircuitBreaker,
    DeploymentConfiguration, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentStrategy, LaunchType, LinearConfiguration,
    LoadBalancer, NetworkConfiguration, PropagateTags, ServiceConnectConfiguration,
    ServiceRegistry, Tag, ThresholdConfiguration, ThresholdType,
};
use fargate_core::batch::Batcher;
use fargate_core::exec::{OutputKey, StepContext};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until};
use fargate_core::{
    AwsResultExt, Change, EcsName, Error, Fields, Kind, Mode, Ref, Resolved, ResourceId, Round,
    Tags, client_token, ok_unless,
};
use serde_json::json;

use crate::Clients;
use crate::deployment::{
    Deployment, HookTarget, Strategy, Threshold, alarms_value, breaker_value, hook_value,
    strategy_value,
};
use crate::rollout::{LogTarget, RolloutOptions, RolloutWatch, await_deployment, watch::view_of};

/// The placeholder for values only known once apply has run.
pub const KNOWN_AFTER_APPLY: &str = fargate_net::deferred::KNOWN_AFTER_APPLY;

/// A load balancer target group the service registers its tasks in.
#[derive(Debug, Clone)]
pub struct LbAttachment {
    /// The target group ARN.
    pub target_group: Ref<String>,
    /// The target group's resource id (for plan rendering).
    pub target_group_id: ResourceId,
    /// The container that receives traffic.
    pub container_name: String,
    /// Its port.
    pub container_port: u16,
}

/// What ECS needs to move traffic between two target groups (blue/green, linear and canary
/// deployments): the load balancer attachment's `advancedConfiguration`.
#[derive(Debug, Clone)]
pub struct TrafficShift {
    /// The alternate target group's ARN (the new revision registers there).
    pub alternate_target_group: Ref<String>,
    /// The alternate target group's resource id (a dependency).
    pub alternate_target_group_id: ResourceId,
    /// The production listener rule (ALB) or listener (NLB) ARN whose traffic moves.
    pub production_listener_rule: Ref<String>,
    /// Its resource id (a dependency).
    pub production_listener_rule_id: ResourceId,
    /// The role ECS assumes to modify the load balancer.
    pub role_arn: Ref<String>,
    /// Its name (plans compare the role by name: its ARN is only read at apply).
    pub role_name: String,
    /// Its resource id (a dependency).
    pub role_id: ResourceId,
    /// The test listener rule (ALB), when there is one: ECS sends its traffic to the new
    /// revision before production traffic (ARN, and its resource id as a dependency).
    pub test_listener_rule: Option<(Ref<String>, ResourceId)>,
}

/// How tasks are placed on Fargate capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capacity {
    /// Weight of FARGATE_SPOT against FARGATE (0 = on-demand only, launch type FARGATE).
    pub spot_weight: u32,
    /// Weight of on-demand FARGATE.
    pub on_demand_weight: u32,
    /// Tasks always on on-demand FARGATE before weights apply.
    pub on_demand_base: u32,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            spot_weight: 0,
            on_demand_weight: 1,
            on_demand_base: 0,
        }
    }
}

impl Capacity {
    fn describe(&self) -> String {
        if self.spot_weight == 0 {
            "launch_type=FARGATE".to_string()
        } else {
            format!(
                "FARGATE:weight={},base={};FARGATE_SPOT:weight={}",
                self.on_demand_weight, self.on_demand_base, self.spot_weight
            )
        }
    }
}

/// Values from other resources, as known at plan time (None: known after apply).
#[derive(Default)]
struct PlanTimeValues {
    subnets: Option<Vec<String>>,
    security_groups: Option<Vec<String>>,
    target_groups: Vec<Option<String>>,
    /// The traffic shift's alternate target group, rule and role ARNs.
    traffic_shift: Option<[Option<String>; 3]>,
    /// The traffic shift's test listener rule ARN, when it has one.
    test_listener_rule: Option<Option<String>>,
    /// The Cloud Map services the tasks register in.
    registries: Vec<Option<String>>,
    /// The Service Connect namespace's ARN.
    connect_namespace: Option<String>,
}

/// The desired ECS service.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Service name.
    pub name: EcsName,
    /// Cluster name.
    pub cluster: EcsName,
    /// The cluster's resource id (dependency).
    pub cluster_id: ResourceId,
    /// Who owns it.
    pub owner: Ownership,
    /// User tags.
    pub tags: Tags,
    /// The task definition resource this service runs.
    pub task_definition_id: ResourceId,
    /// The task definition family.
    pub family: String,
    /// Desired task count; `None` when autoscaling owns it.
    pub desired_count: Option<u32>,
    /// Subnets for the tasks.
    pub subnets: Ref<Vec<String>>,
    /// Security groups for the tasks.
    pub security_groups: Vec<Ref<String>>,
    /// Whether tasks get a public IP (public subnets without NAT).
    pub assign_public_ip: bool,
    /// Load balancer attachments.
    pub load_balancers: Vec<LbAttachment>,
    /// Seconds ECS ignores failing LB health checks after a task starts.
    pub health_check_grace_period: Option<u32>,
    /// How a new revision rolls out (strategy, circuit breaker, alarms, bake time, hooks).
    pub deployment: Deployment,
    /// For blue/green, linear and canary: the alternate target group, production listener
    /// rule and role of the (first) load balancer attachment.
    pub traffic_shift: Option<TrafficShift>,
    /// Fargate / Fargate Spot split.
    pub capacity: Capacity,
    /// ECS Exec.
    pub enable_execute_command: bool,
    /// Rollout watching.
    pub rollout: RolloutOptions,
    /// Where containers log, for diagnosis.
    pub logs: Option<LogTarget>,
    /// Other resources that must exist first (security groups, listener rules, roles).
    pub extra_dependencies: Vec<ResourceId>,
    /// Cloud Map services the tasks register in (`serviceRegistries`), each with the
    /// resource that produces its ARN (see [`crate::discovery`]).
    pub service_registries: Vec<(ResourceId, Ref<String>)>,
    /// Managed EBS volumes of its tasks (`volumeConfigurations`, at most one on Fargate;
    /// see [`crate::ebs`]).
    pub ebs_volumes: Vec<crate::ebs::ServiceEbsVolume>,
    /// ECS Service Connect (`serviceConnectConfiguration`); `None` is off (a service that
    /// has it on gets `enabled: false`). See [`crate::service_connect`].
    pub service_connect: Option<crate::service_connect::ServiceConnectSpec>,
}

impl ServiceSpec {
    /// The resource id, `ecs:service <cluster>/<name>`.
    pub fn resource_id(&self) -> ResourceId {
        ResourceId::new("ecs:service", format!("{}/{}", self.cluster, self.name))
    }

    /// Output: the service ARN.
    pub fn arn_output(&self) -> OutputKey<String> {
        self.resource_id().output("arn")
    }

    /// Output: the task definition the service runs after apply.
    pub fn task_definition_output(&self) -> OutputKey<String> {
        self.resource_id().output("task_definition")
    }

    /// Output: the task definition it ran before (None on the first deploy).
    pub fn previous_task_definition_output(&self) -> OutputKey<Option<String>> {
        self.resource_id().output("previous_task_definition")
    }

    /// The desired managed fields, given what is known at plan time of the
    /// values that come from other resources.
    fn desired_fields(&self, task_definition: &str, known: &PlanTimeValues) -> Fields {
        let list = |v: &Option<Vec<String>>| match v {
            Some(v) => {
                let mut v = v.clone();
                v.sort();
                json!(v)
            }
            None => json!(KNOWN_AFTER_APPLY),
        };
        let or_later =
            |v: &Option<String>| v.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string());
        let lbs: Vec<String> = self
            .load_balancers
            .iter()
            .zip(&known.target_groups)
            .enumerate()
            .map(|(i, (lb, tg))| {
                let shift = match (i, &known.traffic_shift) {
                    (0, Some([alt, rule, role])) => {
                        Some([or_later(alt), or_later(rule), or_later(role)])
                    }
                    _ => None,
                };
                let test = match (i, &known.test_listener_rule) {
                    (0, Some(rule)) => Some(or_later(rule)),
                    _ => None,
                };
                lb_value(
                    &or_later(tg),
                    &lb.container_name,
                    i32::from(lb.container_port),
                    shift
                        .as_ref()
                        .map(|[a, r, o]| (a.as_str(), r.as_str(), o.as_str())),
                    test.as_deref(),
                )
            })
            .collect();
        let d = &self.deployment;
        let hooks: Vec<String> = d.lifecycle_hooks.iter().map(|h| h.describe()).collect();
        let mut f = Fields::new()
            .with("task_definition", task_definition)
            .with("subnets", list(&known.subnets))
            .with("security_groups", list(&known.security_groups))
            .with("assign_public_ip", self.assign_public_ip)
            .with_set("load_balancers", lbs)
            .with(
                "deployment.strategy",
                strategy_value(&d.strategy, d.effective_bake_minutes()),
            )
            .with(
                "deployment.minimum_healthy_percent",
                d.minimum_healthy_percent,
            )
            .with("deployment.maximum_percent", d.maximum_percent)
            .with("deployment.circuit_breaker", d.circuit_breaker.describe())
            .with(
                "deployment.alarms",
                d.alarms
                    .as_ref()
                    .map(|a| a.describe())
                    .unwrap_or_else(|| "none".to_string()),
            )
            .with_set("deployment.lifecycle_hooks", hooks)
            .with("capacity", self.capacity.describe())
            .with("enable_execute_command", self.enable_execute_command)
            .with(
                "health_check_grace_period",
                self.health_check_grace_period
                    .map(|g| json!(g))
                    .unwrap_or(json!(null)),
            );
        if let Some(n) = self.desired_count {
            f.set("desired_count", n);
        }
        // Only a service with registries has the field: plans of the others are unchanged.
        if !self.service_registries.is_empty() {
            let arns: Vec<String> = known
                .registries
                .iter()
                .map(|r| r.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string()))
                .collect();
            f = f.with_set("service_registries", arns);
        }
        // Likewise only a service with EBS volumes has `volume_configurations`.
        if !self.ebs_volumes.is_empty() {
            f = f.with_set(
                "volume_configurations",
                self.ebs_volumes
                    .iter()
                    .map(crate::ebs::ServiceEbsVolume::describe),
            );
        }
        // Only a service with Service Connect has its fields (see `observed_fields`).
        if let Some(sc) = &self.service_connect {
            let ns = known
                .connect_namespace
                .clone()
                .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string());
            f = with_connect_fields(f, &sc.fields(&ns));
        }
        f
    }

    fn observed_fields(&self, s: &aws_sdk_ecs::types::Service) -> Fields {
        let vpc = s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            json!(v)
        };
        let lbs: Vec<String> = s
            .load_balancers()
            .iter()
            .map(|lb| {
                let shift = lb.advanced_configuration().and_then(|a| {
                    Some((
                        a.alternate_target_group_arn()?,
                        a.production_listener_rule().unwrap_or_default(),
                        a.role_arn().unwrap_or_default(),
                    ))
                });
                lb_value(
                    lb.target_group_arn().unwrap_or_default(),
                    lb.container_name().unwrap_or_default(),
                    lb.container_port().unwrap_or_default(),
                    shift,
                    lb.advanced_configuration()
                        .and_then(|a| a.test_listener_rule()),
                )
            })
            .collect();
        let capacity = if s.capacity_provider_strategy().is_empty() {
            format!(
                "launch_type={}",
                s.launch_type().map(|l| l.as_str()).unwrap_or("FARGATE")
            )
        } else {
            let mut items: Vec<String> = s
                .capacity_provider_strategy()
                .iter()
                .map(|c| format!("{}:weight={}", c.capacity_provider(), c.weight()))
                .collect();
            items.sort();
            let get = |name: &str| {
                s.capacity_provider_strategy()
                    .iter()
                    .find(|c| c.capacity_provider() == name)
            };
            let od = get("FARGATE");
            format!(
                "FARGATE:weight={},base={};FARGATE_SPOT:weight={}",
                od.map(|c| c.weight()).unwrap_or(0),
                od.map(|c| c.base()).unwrap_or(0),
                get("FARGATE_SPOT").map(|c| c.weight()).unwrap_or(0)
            )
        };
        // Endpoints that do not echo the deployment configuration (moto 5.2 does not on
        // CreateService) are taken to have what was asked for; AWS always returns it.
        let want = self.desired_fields("", &PlanTimeValues::default());
        let dc = s.deployment_configuration();

        let grace = match s.health_check_grace_period_seconds() {
            Some(g) => json!(g),
            None if self.load_balancers.is_empty() => json!(null),
            None => self
                .health_check_grace_period
                .map(|g| json!(g))
                .unwrap_or(json!(null)),
        };
        let mut f = Fields::new()
            .with("task_definition", s.task_definition().unwrap_or_default())
            .with(
                "subnets",
                vpc.map(|v| sorted(v.subnets())).unwrap_or(json!([])),
            )
            .with(
                "security_groups",
                vpc.map(|v| sorted(v.security_groups()))
                    .unwrap_or(json!([])),
            )
            .with(
                "assign_public_ip",
                vpc.and_then(|v| v.assign_public_ip()) == Some(&AssignPublicIp::Enabled),
            )
            .with_set("load_balancers", lbs)
            .with("capacity", capacity)
            .with("enable_execute_command", s.enable_execute_command())
            .with("health_check_grace_period", grace);
        match dc {
            Some(dc) => f = with_observed_deployment(f, dc),
            None => {
                for k in DEPLOYMENT_FIELDS {
                    f.set(k, want.get(k).cloned().unwrap_or(serde_json::Value::Null));
                }
            }
        }
        if self.desired_count.is_some() {
            f.set("desired_count", s.desired_count());
        }
        if !s.service_registries().is_empty() || !self.service_registries.is_empty() {
            f = f.with_set(
                "service_registries",
                s.service_registries()
                    .iter()
                    .filter_map(|r| r.registry_arn().map(str::to_string)),
            );
        }
        // From the PRIMARY deployment (what its tasks get). None there is taken as what is
        // asked for (see the module doc of crate::ebs: moto does not keep them).
        let configs = s
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .map(|d| d.volume_configurations())
            .unwrap_or_default();
        if !configs.is_empty() {
            f = f.with_set("volume_configurations", crate::ebs::observed(configs));
        } else if let Some(v) = want.get("volume_configurations") {
            f.set("volume_configurations", v.clone());
        }
        if let Some(c) = primary_connect(s) {
            f = with_connect_fields(f, &crate::service_connect::observed_fields(c));
        }
        f
    }

    /// The `serviceRegistries` of the request, read at apply time.
    fn registries(&self, ctx: &StepContext) -> Result<Vec<ServiceRegistry>, Error> {
        self.service_registries
            .iter()
            .map(|(_, arn)| {
                Ok(ServiceRegistry::builder()
                    .registry_arn(arn.resolve(ctx)?)
                    .build())
            })
            .collect()
    }
}

/// The Service Connect fields of the plan.
const CONNECT_FIELDS: [&str; 4] = [
    "service_connect.enabled",
    "service_connect.namespace",
    "service_connect.services",
    "service_connect.logs",
];

/// `f` with the Service Connect fields of `sc` (none when `sc` has none).
fn with_connect_fields(mut f: Fields, sc: &Fields) -> Fields {
    for k in CONNECT_FIELDS {
        if let Some(v) = sc.get(k) {
            f.set(k, v.clone());
        }
    }
    f
}

/// The PRIMARY deployment's `serviceConnectConfiguration`: ECS reports Service Connect on
/// the deployments, not on the service.
fn primary_connect(s: &aws_sdk_ecs::types::Service) -> Option<&ServiceConnectConfiguration> {
    s.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.service_connect_configuration())
}

/// Whether the service has a PRIMARY deployment that does not report Service Connect at
/// all (neither on nor off).
fn connect_unreported(s: &aws_sdk_ecs::types::Service) -> bool {
    s.deployments()
        .iter()
        .any(|d| d.status() == Some("PRIMARY") && d.service_connect_configuration().is_none())
}

/// A load balancer attachment as compared in plans (pure): `<tg>|<container>:<port>`, or
/// with a traffic shift `<tg>+<alternate>|<container>:<port>|rule=<arn>,role=<name>` with the
/// two target groups sorted (ECS swaps which one is production at every deployment) and the
/// role by name (the last part of its ARN).
fn lb_value(
    tg: &str,
    container: &str,
    port: i32,
    shift: Option<(&str, &str, &str)>,
    test_rule: Option<&str>,
) -> String {
    match shift {
        None => format!("{tg}|{container}:{port}"),
        Some((alt, rule, role)) => {
            let role = role.rsplit('/').next().unwrap_or(role);
            let mut pair = [tg, alt];
            pair.sort_unstable();
            let test = test_rule.map(|t| format!(",test={t}")).unwrap_or_default();
            format!(
                "{}+{}|{container}:{port}|rule={rule}{test},role={role}",
                pair[0], pair[1]
            )
        }
    }
}

/// The fields of the deployment configuration.
const DEPLOYMENT_FIELDS: [&str; 6] = [
    "deployment.strategy",
    "deployment.minimum_healthy_percent",
    "deployment.maximum_percent",
    "deployment.circuit_breaker",
    "deployment.alarms",
    "deployment.lifecycle_hooks",
];

/// `f` with the deployment fields of an observed `deploymentConfiguration` (pure), ECS's
/// defaults filled in: no strategy is `ROLLING`, no circuit breaker is `disabled`, alarms
/// that are off are `none`.
fn with_observed_deployment(f: Fields, dc: &DeploymentConfiguration) -> Fields {
    let strategy = match dc.strategy() {
        None | Some(DeploymentStrategy::Rolling) => Some(Strategy::Rolling),
        Some(DeploymentStrategy::BlueGreen) => Some(Strategy::BlueGreen),
        Some(DeploymentStrategy::Linear) => {
            let l = dc.linear_configuration();
            Some(Strategy::Linear {
                step_percent: l.and_then(|l| l.step_percent()).unwrap_or(10.0),
                step_bake_minutes: l
                    .and_then(|l| l.step_bake_time_in_minutes())
                    .and_then(|m| u32::try_from(m).ok())
                    .unwrap_or(6),
            })
        }
        Some(DeploymentStrategy::Canary) => {
            let c = dc.canary_configuration();
            Some(Strategy::Canary {
                canary_percent: c.and_then(|c| c.canary_percent()).unwrap_or(5.0),
                canary_bake_minutes: c
                    .and_then(|c| c.canary_bake_time_in_minutes())
                    .and_then(|m| u32::try_from(m).ok())
                    .unwrap_or(10),
            })
        }
        Some(_) => None,
    };
    let bake = dc
        .bake_time_in_minutes()
        .and_then(|m| u32::try_from(m).ok());
    let strategy = match (strategy, dc.strategy()) {
        (Some(st), _) => strategy_value(&st, bake),
        (None, Some(other)) => other.as_str().to_string(),
        (None, None) => "ROLLING".to_string(),
    };
    let breaker = match dc.deployment_circuit_breaker() {
        Some(cb) => {
            let threshold = cb
                .threshold_configuration()
                .and_then(|t| threshold_of(t.r#type(), t.value()));
            breaker_value(cb.enable(), cb.rollback(), threshold)
        }
        None => breaker_value(false, false, None),
    };
    let alarms = match dc.alarms() {
        Some(a) if a.enable() => alarms_value(a.alarm_names(), a.rollback()),
        _ => alarms_value(&[], false),
    };
    let hooks: Vec<String> = dc
        .lifecycle_hooks()
        .iter()
        .map(|h| {
            let stages: Vec<&str> = h.lifecycle_stages().iter().map(|s| s.as_str()).collect();
            let lambda = match h.target_type() {
                Some(DeploymentLifecycleHookTargetType::Pause) => None,
                _ => Some((
                    h.hook_target_arn().unwrap_or_default(),
                    h.role_arn().unwrap_or_default(),
                )),
            };
            hook_value(lambda, &stages)
        })
        .collect();
    f.with("deployment.strategy", strategy)
        .with(
            "deployment.minimum_healthy_percent",
            dc.minimum_healthy_percent().unwrap_or(100),
        )
        .with(
            "deployment.maximum_percent",
            dc.maximum_percent().unwrap_or(200),
        )
        .with("deployment.circuit_breaker", breaker)
        .with("deployment.alarms", alarms)
        .with_set("deployment.lifecycle_hooks", hooks)
}

fn threshold_of(kind: &ThresholdType, value: i32) -> Option<Threshold> {
    let v = u32::try_from(value).ok()?;
    Some(match kind {
        ThresholdType::Count => Threshold::Count(v),
        ThresholdType::BoundedPercent => Threshold::BoundedPercent(v),
        ThresholdType::UnboundedPercent => Threshold::UnboundedPercent(v),
        _ => return None,
    })
}

/// Find the service; `None` when it does not exist or is INACTIVE.
///
/// With a plan's round, the look-ups of every service of the plan made within a few
/// milliseconds go out as one `DescribeServices` per cluster and 10 services (the API's
/// limit); without one, alone.
///
/// # Errors
/// AWS errors; [`Error::NotOwned`] when it exists without our tags.
#[tracing::instrument(skip_all, fields(service = %spec.name))]
pub async fn observe(
    clients: &Clients,
    spec: &ServiceSpec,
    round: Option<&Round<'_>>,
) -> Result<Option<aws_sdk_ecs::types::Service>, Error> {
    let id = spec.resource_id();
    let cluster = spec.cluster.as_str().to_string();
    let name = spec.name.as_str().to_string();
    let fetch = |cluster: String, names: Vec<String>| async move {
        let id = ResourceId::new("ecs:cluster", cluster.as_str());
        Ok(describe_services(clients, &id, cluster, names)
            .await?
            .unwrap_or_default())
    };
    let found = match round {
        Some(round) => {
            let batcher = round.shared("ecs:DescribeServices", || {
                Batcher::<String, String, aws_sdk_ecs::types::Service>::new(DESCRIBE_SERVICES_BATCH)
            });
            batcher.load(cluster, name, fetch).await?
        }
        None => fetch(cluster, vec![name.clone()]).await?.remove(&name),
    };
    let Some(s) = found else {
        return Ok(None);
    };
    let tags: Vec<(&str, &str)> = s
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .collect();
    fargate_net::tagging::ensure_owned(
        &spec.owner,
        &id,
        s.service_arn().unwrap_or_default(),
        tags,
    )?;
    Ok(Some(s))
}

/// The most services one `DescribeServices` call takes.
const DESCRIBE_SERVICES_BATCH: usize = 10;

/// What one `DescribeServices` found of a service.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The cluster does not exist.
    NoCluster,
    /// The cluster exists; the service does not (or is INACTIVE).
    NoService,
    /// The service.
    Found(Box<aws_sdk_ecs::types::Service>),
}

/// One service, as status, rollback and the rollout watcher read it (the one
/// `DescribeServices` of the crate: [`describe_services`]).
///
/// # Errors
/// AWS errors other than a missing cluster.
pub(crate) async fn describe_one(
    clients: &Clients,
    resource: &ResourceId,
    cluster: &str,
    name: &str,
) -> Result<Lookup, Error> {
    let Some(mut found) = describe_services(
        clients,
        resource,
        cluster.to_string(),
        vec![name.to_string()],
    )
    .await?
    else {
        return Ok(Lookup::NoCluster);
    };
    Ok(match found.remove(name) {
        Some(s) => Lookup::Found(Box::new(s)),
        None => Lookup::NoService,
    })
}

/// `DescribeServices` of up to 10 names in one cluster, with their tags: the services that
/// exist and are not INACTIVE, by name; `None` when the cluster does not exist.
async fn describe_services(
    clients: &Clients,
    id: &ResourceId,
    cluster: String,
    names: Vec<String>,
) -> Result<Option<HashMap<String, aws_sdk_ecs::types::Service>>, Error> {
    let out = clients
        .ecs
        .describe_services()
        .cluster(cluster.as_str())
        .set_services(Some(names))
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        // The cluster itself does not exist yet: neither do its services.
        Err(e) if fargate_core::error::sdk_error_code(&e) == Some("ClusterNotFoundException") => {
            return Ok(None);
        }
        Err(e) => return Err(Error::from_sdk(id, "DescribeServices", e)),
    };
    Ok(Some(
        out.services()
            .iter()
            .filter(|s| s.status() != Some("INACTIVE"))
            .filter_map(|s| Some((s.service_name()?.to_string(), s.clone())))
            .collect(),
    ))
}

/// A service as observed: what the diff, apply and destroy need (no running counts).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedService {
    /// Its ARN.
    pub arn: Option<String>,
    /// The task definition it runs.
    pub task_definition: Option<String>,
    /// Its desired task count.
    pub desired_count: i32,
    /// The managed fields (the deployment configuration included), ECS's defaults filled in.
    pub fields: Fields,
    /// The PRIMARY deployment does not report `serviceConnectConfiguration` (see
    /// [`ServiceSpec`]'s diff).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub connect_unreported: bool,
}

impl Kind<Clients> for ServiceSpec {
    type Observed = ObservedService;

    fn id(&self) -> ResourceId {
        self.resource_id()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut d = vec![self.cluster_id.clone(), self.task_definition_id.clone()];
        d.extend(
            self.load_balancers
                .iter()
                .map(|l| l.target_group_id.clone()),
        );
        if let Some(t) = &self.traffic_shift {
            d.extend([
                t.alternate_target_group_id.clone(),
                t.production_listener_rule_id.clone(),
                t.role_id.clone(),
            ]);
            d.extend(t.test_listener_rule.iter().map(|(_, id)| id.clone()));
        }
        d.extend(self.extra_dependencies.iter().cloned());
        d.extend(self.service_registries.iter().map(|(id, _)| id.clone()));
        d.extend(self.ebs_volumes.iter().map(|v| v.role_id.clone()));
        d.extend(
            self.service_connect
                .iter()
                .map(|sc| sc.namespace_id.clone()),
        );
        d
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedService>, Error>> {
        Box::pin(async move {
            let found = observe(clients, self, Some(round)).await?;
            Ok(found.map(|s| ObservedService {
                arn: s.service_arn().map(str::to_string),
                task_definition: s.task_definition().map(str::to_string),
                desired_count: s.desired_count(),
                fields: self.observed_fields(&s),
                // Recorded only for a service that wants Service Connect (the only case
                // the diff reads it), so other observations are unchanged.
                connect_unreported: self.service_connect.is_some() && connect_unreported(&s),
            }))
        })
    }

    fn diff(
        &self,
        observed: Option<&ObservedService>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        // What the task definition will be after apply.
        let desired_td = match resolved.change_of(&self.task_definition_id) {
            Some(change) if change.is_change() => format!("(new revision of {})", self.family),
            _ => resolved
                .get(&task_definition_key(self))
                .or_else(|| observed.and_then(|o| o.task_definition.clone()))
                .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string()),
        };
        let desired = self.desired_fields(&desired_td, &self.plan_time_values(resolved));
        // A PRIMARY deployment that does not report Service Connect at all is taken to run
        // the desired configuration. AWS reports it on every deployment made with Service
        // Connect, on or off; emulators drop it (moto 5.2.5 ignores the request's field), and
        // reading their silence as "off" would plan an update at every apply. What this
        // misses on AWS: turning Service Connect on for a service made without it. In server
        // mode that also names the port mapping (a new task definition revision), and every
        // UpdateService that moves the task definition sends the configuration (see
        // `update`); a client-only configuration added to an existing service with an
        // unchanged task definition is not seen (a known limit).
        let observed = observed.map(|o| {
            let mut fields = o.fields.clone();
            if o.connect_unreported && self.service_connect.is_some() {
                fields = with_connect_fields(fields, &desired);
            }
            fields
        });
        Ok(Change::compute(&desired, observed.as_ref(), &[]))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedService>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let current_td = observed.and_then(|o| o.task_definition.clone());
            let arn = observed.and_then(|o| o.arn.clone());
            ctx.set(&self.previous_task_definition_output(), current_td.clone());
            match change {
                Change::Create { .. } => create(clients, ctx, self).await,
                Change::Update { diffs } => {
                    let fields: Vec<String> = diffs.iter().map(|d| d.field.clone()).collect();
                    let current_desired = observed.map(|o| o.desired_count);
                    update(clients, ctx, self, &fields, current_td, current_desired).await?;
                    if let Some(arn) = arn {
                        ctx.set(&self.arn_output(), arn);
                    }
                    Ok(())
                }
                _ => {
                    if let Some(arn) = arn {
                        ctx.set(&self.arn_output(), arn);
                    }
                    if let Some(td) = current_td {
                        ctx.set(&self.task_definition_output(), td);
                    }
                    Ok(())
                }
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedService,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(delete(
            clients,
            ctx,
            self,
            observed.arn.as_deref().unwrap_or_default(),
        ))
    }
}

impl ServiceSpec {
    /// The values from other resources as the plan knows them (pure): known values, and the
    /// outputs of dependencies that keep their value.
    fn plan_time_values(&self, resolved: &Resolved) -> PlanTimeValues {
        PlanTimeValues {
            subnets: resolved.get_ref(&self.subnets),
            security_groups: self
                .security_groups
                .iter()
                .map(|r| resolved.get_ref(r))
                .collect(),
            target_groups: self
                .load_balancers
                .iter()
                .map(|l| resolved.get_ref(&l.target_group))
                .collect(),
            traffic_shift: self.traffic_shift.as_ref().map(|t| {
                [
                    resolved.get_ref(&t.alternate_target_group),
                    resolved.get_ref(&t.production_listener_rule),
                    Some(t.role_name.clone()),
                ]
            }),
            test_listener_rule: self
                .traffic_shift
                .as_ref()
                .and_then(|t| t.test_listener_rule.as_ref())
                .map(|(rule, _)| resolved.get_ref(rule)),
            registries: self
                .service_registries
                .iter()
                .map(|(_, arn)| resolved.get_ref(arn))
                .collect(),
            connect_namespace: self
                .service_connect
                .as_ref()
                .and_then(|sc| resolved.get_ref(&sc.namespace_arn)),
        }
    }
}

fn task_definition_key(spec: &ServiceSpec) -> OutputKey<String> {
    spec.task_definition_id.output("arn")
}

fn network(spec: &ServiceSpec, ctx: &StepContext) -> Result<NetworkConfiguration, Error> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(spec.subnets.resolve(ctx)?))
        .set_security_groups(Some(
            spec.security_groups
                .iter()
                .map(|r| r.resolve(ctx))
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .assign_public_ip(if spec.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| Error::Unexpected {
            resource: spec.resource_id(),
            operation: "build network configuration".into(),
            detail: e.to_string(),
        })?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

/// A value validated at `build()` (percent, minutes) as the SDK's `i32`.
fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The `deploymentConfiguration` of the spec's [`Deployment`].
fn deployment_configuration(spec: &ServiceSpec) -> Result<DeploymentConfiguration, Error> {
    let d = &spec.deployment;
    let unexpected = |what: &str, e: aws_sdk_ecs::error::BuildError| Error::Unexpected {
        resource: spec.resource_id(),
        operation: format!("build {what}"),
        detail: e.to_string(),
    };
    let mut cb = DeploymentCircuitBreaker::builder()
        .enable(d.circuit_breaker.enable)
        .rollback(d.circuit_breaker.rollback);
    if let Some(t) = d.circuit_breaker.threshold {
        let (kind, value) = t.parts();
        cb = cb.threshold_configuration(
            ThresholdConfiguration::builder()
                .r#type(ThresholdType::from(kind))
                .value(int(value))
                .build()
                .map_err(|e| unexpected("circuit breaker threshold", e))?,
        );
    }
    let mut b = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::from(d.strategy.as_str()))
        .minimum_healthy_percent(int(d.minimum_healthy_percent))
        .maximum_percent(int(d.maximum_percent))
        .deployment_circuit_breaker(cb.build());
    if let Some(a) = &d.alarms {
        b = b.alarms(
            DeploymentAlarms::builder()
                .set_alarm_names(Some(a.names.clone()))
                .enable(true)
                .rollback(a.rollback)
                .build()
                .map_err(|e| unexpected("deployment alarms", e))?,
        );
    }
    if let Some(bake) = d.effective_bake_minutes() {
        b = b.bake_time_in_minutes(int(bake));
    }
    match d.strategy {
        Strategy::Rolling | Strategy::BlueGreen => {}
        Strategy::Linear {
            step_percent,
            step_bake_minutes,
        } => {
            b = b.linear_configuration(
                LinearConfiguration::builder()
                    .step_percent(step_percent)
                    .step_bake_time_in_minutes(int(step_bake_minutes))
                    .build(),
            );
        }
        Strategy::Canary {
            canary_percent,
            canary_bake_minutes,
        } => {
            b = b.canary_configuration(
                CanaryConfiguration::builder()
                    .canary_percent(canary_percent)
                    .canary_bake_time_in_minutes(int(canary_bake_minutes))
                    .build(),
            );
        }
    }
    for h in &d.lifecycle_hooks {
        let mut hook = DeploymentLifecycleHook::builder().set_lifecycle_stages(Some(
            h.stages
                .iter()
                .map(|s| DeploymentLifecycleHookStage::from(s.as_str()))
                .collect(),
        ));
        hook = match &h.target {
            HookTarget::Lambda {
                function_arn,
                role_arn,
            } => hook
                .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
                .hook_target_arn(function_arn)
                .role_arn(role_arn),
            HookTarget::Pause => hook.target_type(DeploymentLifecycleHookTargetType::Pause),
        };
        b = b.lifecycle_hooks(hook.build());
    }
    Ok(b.build())
}

fn capacity_items(spec: &ServiceSpec) -> Result<Vec<CapacityProviderStrategyItem>, Error> {
    let c = spec.capacity;
    let item = |name: &str, weight: u32, base: u32| {
        CapacityProviderStrategyItem::builder()
            .capacity_provider(name)
            .weight(i32::try_from(weight).unwrap_or(1))
            .base(i32::try_from(base).unwrap_or(0))
            .build()
            .map_err(|e| Error::Unexpected {
                resource: spec.resource_id(),
                operation: "build capacity provider strategy".into(),
                detail: e.to_string(),
            })
    };
    Ok(vec![
        item("FARGATE", c.on_demand_weight, c.on_demand_base)?,
        item("FARGATE_SPOT", c.spot_weight, 0)?,
    ])
}

fn load_balancers(
    spec: &ServiceSpec,
    ctx: &StepContext,
) -> Result<(Vec<LoadBalancer>, Vec<String>), Error> {
    let mut lbs = Vec::new();
    let mut tgs = Vec::new();
    for (i, a) in spec.load_balancers.iter().enumerate() {
        let tg = a.target_group.resolve(ctx)?;
        let mut lb = LoadBalancer::builder()
            .target_group_arn(&tg)
            .container_name(&a.container_name)
            .container_port(i32::from(a.container_port));
        if let (0, Some(t)) = (i, &spec.traffic_shift) {
            let alternate = t.alternate_target_group.resolve(ctx)?;
            lb = lb.advanced_configuration(
                AdvancedConfiguration::builder()
                    .alternate_target_group_arn(&alternate)
                    .production_listener_rule(t.production_listener_rule.resolve(ctx)?)
                    .set_test_listener_rule(
                        t.test_listener_rule
                            .as_ref()
                            .map(|(rule, _)| rule.resolve(ctx))
                            .transpose()?,
                    )
                    .role_arn(t.role_arn.resolve(ctx)?)
                    .build(),
            );
            tgs.push(alternate);
        }
        lbs.push(lb.build());
        tgs.push(tg);
    }
    Ok((lbs, tgs))
}

fn watch_for(
    spec: &ServiceSpec,
    deployment_id: String,
    previous: Option<String>,
    target_groups: Vec<String>,
    since: i64,
) -> RolloutWatch {
    let mut options = spec.rollout.clone();
    // Bake times and traffic steps are waits the strategy asked for, not slowness.
    options.timeout += spec.deployment.planned_wait();
    RolloutWatch {
        resource: spec.resource_id(),
        cluster: spec.cluster.to_string(),
        service: spec.name.to_string(),
        deployment_id,
        previous_task_definition: previous,
        target_groups,
        logs: spec.logs.clone(),
        since_epoch: since,
        options,
    }
}

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

fn primary_deployment(s: Option<&aws_sdk_ecs::types::Service>) -> Option<String> {
    s.map(view_of)
        .and_then(|v| v.primary().map(|p| p.id.clone()))
}

/// The `volumeConfigurations` of the request, the volumes tagged like the service.
fn volume_configurations(
    spec: &ServiceSpec,
    ctx: &StepContext,
    operation: &str,
) -> Result<Vec<aws_sdk_ecs::types::ServiceVolumeConfiguration>, Error> {
    let tags = crate::ebs::volume_tags(&spec.owner, &spec.tags);
    let id = spec.resource_id();
    spec.ebs_volumes
        .iter()
        .map(|v| v.to_sdk(ctx, &tags, &id, operation))
        .collect()
}

#[tracing::instrument(skip_all, fields(service = %spec.name))]
async fn create(c: &Clients, ctx: &StepContext, spec: &ServiceSpec) -> Result<(), Error> {
    let id = spec.resource_id();
    let td = ctx.get(&task_definition_key(spec))?;
    let (lbs, tgs) = load_balancers(spec, ctx)?;
    let tags: Vec<Tag> = spec
        .owner
        .merged_with(&spec.tags)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let since = now_epoch();
    let mut req = c
        .ecs
        .create_service()
        .cluster(spec.cluster.as_str())
        .service_name(spec.name.as_str())
        .task_definition(&td)
        .desired_count(i32::try_from(spec.desired_count.unwrap_or(1)).unwrap_or(1))
        .network_configuration(network(spec, ctx)?)
        .deployment_configuration(deployment_configuration(spec)?)
        .set_load_balancers(Some(lbs))
        .set_service_registries(
            (!spec.service_registries.is_empty())
                .then(|| spec.registries(ctx))
                .transpose()?,
        )
        .set_volume_configurations(
            (!spec.ebs_volumes.is_empty())
                .then(|| volume_configurations(spec, ctx, "CreateService"))
                .transpose()?,
        )
        .set_service_connect_configuration(
            spec.service_connect
                .as_ref()
                .map(|sc| sc.to_sdk(ctx, &id, "CreateService"))
                .transpose()?,
        )
        .enable_ecs_managed_tags(true)
        .propagate_tags(PropagateTags::Service)
        .enable_execute_command(spec.enable_execute_command)
        .set_tags(Some(tags))
        .platform_version("LATEST");
    if spec.capacity.spot_weight == 0 {
        req = req.launch_type(LaunchType::Fargate);
    } else {
        req = req.set_capacity_provider_strategy(Some(capacity_items(spec)?));
    }
    if !spec.load_balancers.is_empty() {
        req = req.health_check_grace_period_seconds(
            i32::try_from(spec.health_check_grace_period.unwrap_or(30)).unwrap_or(30),
        );
    }
    ctx.progress("creating service");
    // A service whose roles were created seconds ago can fail while IAM propagates.
    let out = fargate_core::wait::retry_eventual(
        ctx,
        Poll::new(Duration::from_secs(60), Duration::from_secs(1))
            .with_max_interval(Duration::from_secs(5)),
        is_propagation_error,
        || {
            // One token per attempt: stable across the SDK's retries of this call (a
            // retry whose first attempt was applied gets the same service back), new
            // after a propagation error (that attempt created nothing) and every apply.
            let req = req.clone().client_token(client_token());
            let id = id.clone();
            async move { req.send().await.context(&id, "CreateService") }
        },
    )
    .await?;
    let arn = out
        .service()
        .and_then(|s| s.service_arn())
        .unwrap_or_default()
        .to_string();
    ctx.set(&spec.arn_output(), arn);
    ctx.set(&spec.task_definition_output(), td);
    let service_deployment = out
        .service()
        .and_then(|s| s.current_service_deployment())
        .map(str::to_string);
    let Some(deployment) = primary_deployment(out.service()) else {
        return Err(Error::Unexpected {
            resource: id,
            operation: "CreateService".into(),
            detail: "the new service has no primary deployment".into(),
        });
    };
    if spec.rollout.wait {
        let watch = watch_for(spec, deployment, None, tgs, since);
        let shifts = spec.deployment.strategy.shifts_traffic();
        await_deployment(c, ctx, &watch, service_deployment, shifts).await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(service = %spec.name))]
async fn update(
    c: &Clients,
    ctx: &StepContext,
    spec: &ServiceSpec,
    changed: &[String],
    previous: Option<String>,
    current_desired: Option<i32>,
) -> Result<(), Error> {
    let id = spec.resource_id();
    let td = ctx.get(&task_definition_key(spec))?;
    let (lbs, tgs) = load_balancers(spec, ctx)?;
    let has = |f: &str| {
        changed
            .iter()
            .any(|c| c == f || c.starts_with(&format!("{f}.")))
    };
    let mut req = c
        .ecs
        .update_service()
        .cluster(spec.cluster.as_str())
        .service(spec.name.as_str());
    if has("task_definition") {
        req = req.task_definition(&td);
    }
    if has("subnets") || has("security_groups") || has("assign_public_ip") {
        req = req.network_configuration(network(spec, ctx)?);
    }
    if has("deployment") {
        req = req.deployment_configuration(deployment_configuration(spec)?);
    }
    if has("load_balancers") {
        req = req.set_load_balancers(Some(lbs));
    }
    if has("service_registries") {
        req = req.set_service_registries(Some(spec.registries(ctx)?));
    }
    // A changed configuration is sent (an empty list removes it), and so is the one of a new
    // task definition's deployment (a volume just added to the task definition may be
    // observed without one, see crate::ebs); not with other changes: a changed
    // configuration starts a new deployment.
    let new_revision = has("task_definition") && !spec.ebs_volumes.is_empty();
    if has("volume_configurations") || new_revision {
        req =
            req.set_volume_configurations(Some(volume_configurations(spec, ctx, "UpdateService")?));
    }
    // A new revision is a new deployment: it carries the configuration (see the diff).
    match &spec.service_connect {
        Some(sc) if has("service_connect") || has("task_definition") => {
            req = req.service_connect_configuration(sc.to_sdk(ctx, &id, "UpdateService")?);
        }
        None if has("service_connect") => {
            req = req.service_connect_configuration(crate::service_connect::off());
        }
        _ => {}
    }
    if has("capacity") {
        req = req
            .set_capacity_provider_strategy(Some(capacity_items(spec)?))
            .force_new_deployment(true);
    }
    if has("enable_execute_command") {
        req = req.enable_execute_command(spec.enable_execute_command);
    }
    if let (true, Some(g)) = (
        has("health_check_grace_period"),
        spec.health_check_grace_period,
    ) {
        req = req.health_check_grace_period_seconds(i32::try_from(g).unwrap_or(30));
    }
    if let (true, Some(n)) = (has("desired_count"), spec.desired_count) {
        req = req.desired_count(i32::try_from(n).unwrap_or(current_desired.unwrap_or(1)));
    }
    let since = now_epoch();
    ctx.progress(format!("updating service ({})", changed.join(", ")));
    let out = req.send().await.context(&id, "UpdateService")?;
    ctx.set(&spec.task_definition_output(), td);
    let deployment = primary_deployment(out.service());
    let service_deployment = out
        .service()
        .and_then(|s| s.current_service_deployment())
        .map(str::to_string);
    if let (true, Some(deployment)) = (spec.rollout.wait, deployment) {
        let watch = watch_for(spec, deployment, previous, tgs, since);
        let shifts = spec.deployment.strategy.shifts_traffic();
        await_deployment(c, ctx, &watch, service_deployment, shifts).await?;
    }
    Ok(())
}

/// Scale to 0, delete, and wait until the service is INACTIVE (so a service
/// of the same name can be created again and the cluster can be deleted).
#[tracing::instrument(skip_all, fields(service = %spec.name))]
async fn delete(
    c: &Clients,
    ctx: &StepContext,
    spec: &ServiceSpec,
    arn: &str,
) -> Result<(), Error> {
    let id = spec.resource_id();
    ctx.progress("scaling to 0 and deleting");
    c.ecs
        .update_service()
        .cluster(spec.cluster.as_str())
        .service(arn)
        .desired_count(0)
        .send()
        .await
        .context(&id, "UpdateService")?;
    let out = c
        .ecs
        .delete_service()
        .cluster(spec.cluster.as_str())
        .service(arn)
        .force(true)
        .send()
        .await;
    // A retry whose first attempt was applied finds it gone.
    ok_unless(out, &id, "DeleteService", |e| {
        e.is_service_not_found_exception()
    })?;
    poll_until(
        ctx,
        &id,
        "the service to drain (INACTIVE)",
        Poll::new(Duration::from_secs(600), Duration::from_secs(2)),
        || async {
            let found = describe_one(c, &id, spec.cluster.as_str(), spec.name.as_str()).await?;
            Ok((!matches!(found, Lookup::Found(_))).then_some(()))
        },
    )
    .await
}

/// ECS errors that mean a role created moments ago is not yet usable.
pub fn is_propagation_error(e: &Error) -> bool {
    match e {
        Error::Aws(a) => {
            let m = a.message.to_ascii_lowercase();
            (a.code == "InvalidParameterException" || a.code == "ClientException")
                && (m.contains("unable to assume")
                    || m.contains("assume the role")
                    || m.contains("role is not valid"))
        }
        _ => false,
    }
}

/// Tags as a map, for status output.
pub fn tags_of(s: &aws_sdk_ecs::types::Service) -> BTreeMap<String, String> {
    s.tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fargate_core::PlanValues;

    const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-web:3";

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: EcsName::derive(&["web"]),
            cluster: EcsName::derive(&["prod"]),
            cluster_id: ResourceId::new("ecs:cluster", "prod"),
            owner: Ownership::new("prod".parse().unwrap()),
            tags: Tags::new(),
            task_definition_id: ResourceId::new("ecs:task-definition", "prod-web"),
            family: "prod-web".into(),
            desired_count: Some(2),
            subnets: Ref::Known(vec!["subnet-1".into()]),
            security_groups: vec![Ref::Output(
                ResourceId::new("ec2:security-group", "prod-web-task").output("id"),
            )],
            assign_public_ip: false,
            load_balancers: Vec::new(),
            health_check_grace_period: None,
            deployment: Deployment::default(),
            traffic_shift: None,
            capacity: Capacity::default(),
            enable_execute_command: false,
            rollout: RolloutOptions::default(),
            logs: None,
            extra_dependencies: vec![ResourceId::new("ec2:security-group", "prod-web-task")],
            service_registries: Vec::new(),
            ebs_volumes: Vec::new(),
            service_connect: None,
        }
    }

    /// The service as it runs `TD` in security group `sg-1`.
    fn running(s: &ServiceSpec) -> ObservedService {
        let known = PlanTimeValues {
            subnets: Some(vec!["subnet-1".into()]),
            security_groups: Some(vec!["sg-1".into()]),
            ..PlanTimeValues::default()
        };
        ObservedService {
            arn: Some("arn:aws:ecs:us-east-1:123456789012:service/prod/web".into()),
            task_definition: Some(TD.into()),
            desired_count: 2,
            fields: s.desired_fields(TD, &known),
            connect_unreported: false,
        }
    }

    /// What the plan knows of the dependencies: the task definition's change and arn, the
    /// security group's id.
    fn resolved(s: &ServiceSpec, td_change: Change, td_arn: Option<&str>) -> Resolved {
        let mut r = Resolved::none();
        let mut td = PlanValues::new();
        if let Some(arn) = td_arn {
            td.set(&task_definition_key(s), &arn.to_string());
        }
        r.insert(s.task_definition_id.clone(), td_change, &td);
        let sg = ResourceId::new("ec2:security-group", "prod-web-task");
        let id = PlanValues::new().with(&sg.output::<String>("id"), &"sg-1".to_string());
        r.insert(sg, Change::NoOp, &id);
        r
    }

    #[test]
    fn the_diff_follows_the_task_definitions_plan() {
        let s = spec();
        let observed = running(&s);
        // The task definition keeps its revision: nothing to do.
        let same = resolved(&s, Change::NoOp, Some(TD));
        assert_eq!(s.diff(Some(&observed), &same).unwrap(), Change::NoOp);
        // It registers a new one: the service moves to it.
        let new = resolved(&s, Change::Update { diffs: Vec::new() }, None);
        let Change::Update { diffs } = s.diff(Some(&observed), &new).unwrap() else {
            panic!("expected an update");
        };
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["task_definition"]);
        assert_eq!(diffs[0].new, Some(json!("(new revision of prod-web)")));
        // A security group id known only after apply is a change of the field.
        let mut unknown = Resolved::none();
        unknown.insert(
            s.task_definition_id.clone(),
            Change::NoOp,
            &PlanValues::new().with(&task_definition_key(&s), &TD.to_string()),
        );
        let Change::Update { diffs } = s.diff(Some(&observed), &unknown).unwrap() else {
            panic!("expected an update");
        };
        assert_eq!(diffs[0].field, "security_groups");
        assert_eq!(diffs[0].new, Some(json!(KNOWN_AFTER_APPLY)));
    }

    #[test]
    fn an_observed_service_is_plain_data() {
        let s = spec();
        let observed = running(&s);
        let back: ObservedService =
            serde_json::from_value(serde_json::to_value(&observed).unwrap()).unwrap();
        assert_eq!(back, observed);
        assert_eq!(s.destroy_change(Some(&observed)), Change::Delete);
        assert_eq!(s.destroy_change(None), Change::NoOp);
    }
}
