//! How a service rolls out a new revision: [`Deployment`].
//!
//! Four strategies of ECS's own deployment controller: rolling (the default), blue/green,
//! linear and canary; with the deployment circuit breaker, CloudWatch alarms, bake times and
//! lifecycle hooks. Everything is checked at [`DeploymentBuilder::build`], before any AWS
//! call; the service kind ([`crate::service`]) sends it as the service's
//! `deploymentConfiguration` and, for the strategies that shift traffic, the load balancer
//! attachment's `advancedConfiguration`.

use std::fmt;

use fargate_core::{Error, InvalidValue};
use serde::{Deserialize, Serialize};

/// The longest bake time AWS takes, in minutes (24 hours).
pub const MAX_BAKE_MINUTES: u32 = 1440;

/// The bake time of blue/green, linear and canary deployments when none is given, in minutes.
pub const DEFAULT_BAKE_MINUTES: u32 = 5;

/// The AWS managed policy of the role ECS uses to move traffic between target groups.
pub const LOAD_BALANCER_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers";

/// How a service deploys a new revision. Build with [`Deployment::rolling`],
/// [`Deployment::blue_green`], [`Deployment::linear`] or [`Deployment::canary`], then
/// [`DeploymentBuilder::build`] (no AWS call).
///
/// Defaults ([`Deployment::default`] is what every service gets when none is set):
/// - strategy **rolling**, minimum healthy 100 %, maximum 200 % (capacity is kept);
/// - the **deployment circuit breaker** on, with rollback, at ECS's own threshold (half the
///   desired count, at least 3, at most 200 failed tasks);
/// - **no CloudWatch alarms** (fargate-rs does not create alarms; name yours with
///   [`DeploymentBuilder::alarms`], they roll the deployment back when they fire);
/// - blue/green, linear and canary: a bake time of [`DEFAULT_BAKE_MINUTES`] minutes after
///   all production traffic moved (both revisions run meanwhile, so a rollback is instant);
///   they need a load balancer ([`crate::FrontendApp`], [`crate::BackendApi`]): fargate-rs
///   then creates the app's second ("alternate") target group with the same health check
///   and the IAM role ECS needs to move traffic (trusted by `ecs.amazonaws.com`, with the
///   managed policy [`LOAD_BALANCER_ROLE_POLICY`]);
/// - no lifecycle hooks.
///
/// ```
/// use fargate_deploy::deployment::{Deployment, HookStage, LifecycleHook, Strategy};
///
/// let rolling = Deployment::default();
/// assert_eq!(rolling.strategy, Strategy::Rolling);
/// assert!(rolling.circuit_breaker.enable && rolling.circuit_breaker.rollback);
///
/// let canary = Deployment::canary(10.0, 15)
///     .bake_time_minutes(30)
///     .alarms(["web-5xx"])
///     .hook(LifecycleHook::pause([HookStage::PostTestTrafficShift]))
///     .build()?;
/// assert!(canary.needs_load_balancer());
///
/// let too_big = Deployment::linear(3.0, 6).bake_time_minutes(2000).build();
/// assert!(too_big.unwrap_err().to_string().contains("deployment.bake_time_minutes"));
/// # Ok::<(), fargate_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// How traffic moves to the new revision (default rolling).
    #[serde(default)]
    pub strategy: Strategy,
    /// Rolling: the share of the desired count that keeps running during a deployment
    /// (default 100; 0 to 100).
    #[serde(default = "default_min_healthy")]
    pub minimum_healthy_percent: u32,
    /// Rolling: the most tasks during a deployment, as a share of the desired count
    /// (default 200; 100 to 200, and above the minimum).
    #[serde(default = "default_max_percent")]
    pub maximum_percent: u32,
    /// The deployment circuit breaker (default on, with rollback).
    #[serde(default)]
    pub circuit_breaker: CircuitBreaker,
    /// CloudWatch alarms that fail the deployment when they fire (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Alarms>,
    /// Blue/green, linear, canary: minutes both revisions keep running after all production
    /// traffic moved (default [`DEFAULT_BAKE_MINUTES`]; 0 to 1440). Not for rolling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_minutes: Option<u32>,
    /// Blue/green, linear, canary: hooks run (or pauses made) at lifecycle stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_hooks: Vec<LifecycleHook>,
}

fn default_min_healthy() -> u32 {
    100
}

fn default_max_percent() -> u32 {
    200
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            strategy: Strategy::Rolling,
            minimum_healthy_percent: default_min_healthy(),
            maximum_percent: default_max_percent(),
            circuit_breaker: CircuitBreaker::default(),
            alarms: None,
            bake_time_minutes: None,
            lifecycle_hooks: Vec::new(),
        }
    }
}

/// How traffic moves from the running revision to the new one.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// Replace tasks in batches (ECS `ROLLING`); no load balancer needed.
    #[default]
    Rolling,
    /// Start the new revision beside the old one, then move all traffic at once (ECS
    /// `BLUE_GREEN`).
    BlueGreen,
    /// Move traffic in equal steps (ECS `LINEAR`).
    Linear {
        /// The share of traffic each step moves: 3.0 to 100.0, in steps of 0.1.
        step_percent: f64,
        /// Minutes between steps: 0 to 1440.
        step_bake_minutes: u32,
    },
    /// Move a share of traffic first, the rest after a wait (ECS `CANARY`).
    Canary {
        /// The share of traffic of the canary phase: 0.1 to 100.0, in steps of 0.1.
        canary_percent: f64,
        /// Minutes of the canary phase: 0 to 1440.
        canary_bake_minutes: u32,
    },
}

impl Strategy {
    /// The ECS name: `ROLLING`, `BLUE_GREEN`, `LINEAR` or `CANARY`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Linear { .. } => "LINEAR",
            Strategy::Canary { .. } => "CANARY",
        }
    }

    /// Whether traffic moves between two target groups (everything but rolling).
    pub fn shifts_traffic(&self) -> bool {
        !matches!(self, Strategy::Rolling)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Rolling | Strategy::BlueGreen => f.write_str(self.as_str()),
            Strategy::Linear {
                step_percent,
                step_bake_minutes,
            } => write!(f, "LINEAR {step_percent:.1}% every {step_bake_minutes}m"),
            Strategy::Canary {
                canary_percent,
                canary_bake_minutes,
            } => write!(f, "CANARY {canary_percent:.1}% for {canary_bake_minutes}m"),
        }
    }
}

/// The deployment circuit breaker: ECS fails a deployment whose tasks keep failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Watch for failing tasks at all (default true).
    pub enable: bool,
    /// Roll back to the last completed deployment when it trips (default true).
    pub rollback: bool,
    /// When it trips (default: ECS's own, half the desired count between 3 and 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            enable: true,
            rollback: true,
            threshold: None,
        }
    }
}

impl CircuitBreaker {
    /// The breaker as compared in plans: `enable,rollback`, `enable`, `disabled`, with
    /// `,threshold=<TYPE>:<value>` when one is set.
    pub(crate) fn describe(&self) -> String {
        breaker_value(self.enable, self.rollback, self.threshold)
    }
}

/// A circuit breaker as compared in plans (pure): `enable,rollback`, `enable` or `disabled`,
/// with `,threshold=<TYPE>:<value>` unless it is ECS's default (`BOUNDED_PERCENT:50`).
pub(crate) fn breaker_value(enable: bool, rollback: bool, threshold: Option<Threshold>) -> String {
    let base = match (enable, rollback) {
        (true, true) => "enable,rollback",
        (true, false) => "enable",
        _ => "disabled",
    };
    match (enable, threshold) {
        (true, Some(t)) if t != Threshold::BoundedPercent(50) => format!("{base},threshold={t}"),
        _ => base.to_string(),
    }
}

/// The strategy and bake time as compared in plans (pure): `ROLLING`, or the strategy with
/// its bake time, like `CANARY 5.0% for 10m, bake 5m`.
pub(crate) fn strategy_value(strategy: &Strategy, bake_minutes: Option<u32>) -> String {
    match strategy {
        Strategy::Rolling => strategy.to_string(),
        _ => format!("{strategy}, bake {}m", bake_minutes.unwrap_or(0)),
    }
}

/// Alarms as compared in plans (pure): sorted names, then `(rollback)` or `(no-rollback)`;
/// `none` without names.
pub(crate) fn alarms_value(names: &[String], rollback: bool) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    let rb = if rollback { "rollback" } else { "no-rollback" };
    format!("{} ({rb})", names.join(","))
}

/// A hook as compared in plans (pure): `AWS_LAMBDA <fn> as <role> at <stages>` or
/// `PAUSE at <stages>`, stages sorted.
pub(crate) fn hook_value(lambda: Option<(&str, &str)>, stages: &[&str]) -> String {
    let mut stages = stages.to_vec();
    stages.sort_unstable();
    stages.dedup();
    let stages = stages.join(",");
    match lambda {
        Some((function, role)) => format!("AWS_LAMBDA {function} as {role} at {stages}"),
        None => format!("PAUSE at {stages}"),
    }
}

/// When the circuit breaker trips (ECS `thresholdConfiguration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Threshold {
    /// After this many failed tasks (1 to 10000).
    Count(u32),
    /// After this percentage of the desired count failed, kept between 3 and 200 tasks
    /// (1 to 100).
    BoundedPercent(u32),
    /// After this percentage of the desired count failed, with no bounds (1 to 100).
    UnboundedPercent(u32),
}

impl Threshold {
    /// The ECS type name and value.
    pub(crate) fn parts(&self) -> (&'static str, u32) {
        match *self {
            Threshold::Count(v) => ("COUNT", v),
            Threshold::BoundedPercent(v) => ("BOUNDED_PERCENT", v),
            Threshold::UnboundedPercent(v) => ("UNBOUNDED_PERCENT", v),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, v) = self.parts();
        write!(f, "{t}:{v}")
    }
}

/// CloudWatch alarms that fail a deployment when one of them goes to `ALARM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// Alarm names (1 to 10, each 1 to 255 characters, no commas).
    pub names: Vec<String>,
    /// Roll back when one fires (default true).
    #[serde(default = "yes")]
    pub rollback: bool,
}

fn yes() -> bool {
    true
}

impl Alarms {
    /// The alarms as compared in plans: sorted names, then `rollback` or `no-rollback`.
    pub(crate) fn describe(&self) -> String {
        alarms_value(&self.names, self.rollback)
    }
}

/// A lifecycle stage of a blue/green, linear or canary deployment where a hook runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStage {
    /// A new deployment starts while more than one revision is active.
    ReconcileService,
    /// Before the new revision's tasks start.
    PreScaleUp,
    /// After they started; no traffic yet.
    PostScaleUp,
    /// Test traffic moves to the new revision (Lambda hooks only).
    TestTrafficShift,
    /// All test traffic reaches the new revision.
    PostTestTrafficShift,
    /// Before (each step of) the production traffic shift.
    PreProductionTrafficShift,
    /// Production traffic moves (Lambda hooks only).
    ProductionTrafficShift,
    /// All production traffic reached the new revision.
    PostProductionTrafficShift,
}

impl HookStage {
    /// The ECS name, like `POST_SCALE_UP`.
    pub fn as_str(&self) -> &'static str {
        match self {
            HookStage::ReconcileService => "RECONCILE_SERVICE",
            HookStage::PreScaleUp => "PRE_SCALE_UP",
            HookStage::PostScaleUp => "POST_SCALE_UP",
            HookStage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            HookStage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            HookStage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            HookStage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            HookStage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
        }
    }
}

/// What a lifecycle hook does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HookTarget {
    /// Invoke a Lambda function; it answers whether the deployment goes on.
    Lambda {
        /// The function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
        function_arn: String,
        /// The IAM role ECS assumes to invoke it.
        role_arn: String,
    },
    /// Pause until `ContinueServiceDeployment` (or the hook's timeout, which rolls back).
    /// The rollout watcher waits for it within its timeout
    /// ([`crate::rollout::RolloutOptions::timeout`] plus the strategy's bake times), then
    /// stops the deployment with a rollback; with `RolloutOptions::wait` false, apply returns
    /// at once and the pause is yours to continue.
    Pause,
}

/// A hook at one or more lifecycle stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleHook {
    /// What runs.
    pub target: HookTarget,
    /// Where (at least one stage).
    pub stages: Vec<HookStage>,
}

impl LifecycleHook {
    /// Invoke `function_arn` (assuming `role_arn`) at `stages`.
    pub fn lambda(
        function_arn: impl Into<String>,
        role_arn: impl Into<String>,
        stages: impl IntoIterator<Item = HookStage>,
    ) -> Self {
        Self {
            target: HookTarget::Lambda {
                function_arn: function_arn.into(),
                role_arn: role_arn.into(),
            },
            stages: stages.into_iter().collect(),
        }
    }

    /// Pause at `stages` until the deployment is continued.
    pub fn pause(stages: impl IntoIterator<Item = HookStage>) -> Self {
        Self {
            target: HookTarget::Pause,
            stages: stages.into_iter().collect(),
        }
    }

    /// The hook as compared in plans: `LAMBDA <fn> as <role> at <stages>` or `PAUSE at <stages>`.
    pub(crate) fn describe(&self) -> String {
        let stages: Vec<&str> = self.stages.iter().map(HookStage::as_str).collect();
        let lambda = match &self.target {
            HookTarget::Lambda {
                function_arn,
                role_arn,
            } => Some((function_arn.as_str(), role_arn.as_str())),
            HookTarget::Pause => None,
        };
        hook_value(lambda, &stages)
    }
}

/// Builds a [`Deployment`]; start with [`Deployment::rolling`] and the like.
#[derive(Debug, Clone)]
#[must_use]
pub struct DeploymentBuilder {
    inner: Deployment,
}

impl Deployment {
    /// Replace tasks in batches (the default; no load balancer needed).
    pub fn rolling() -> DeploymentBuilder {
        DeploymentBuilder {
            inner: Deployment::default(),
        }
    }

    /// Blue/green: the new revision starts beside the old one, traffic moves at once, and
    /// both keep running for the bake time. Needs a load balancer.
    pub fn blue_green() -> DeploymentBuilder {
        Self::with(Strategy::BlueGreen)
    }

    /// Linear: `step_percent` of traffic moves every `step_bake_minutes`. Needs a load
    /// balancer.
    pub fn linear(step_percent: f64, step_bake_minutes: u32) -> DeploymentBuilder {
        Self::with(Strategy::Linear {
            step_percent,
            step_bake_minutes,
        })
    }

    /// Canary: `canary_percent` of traffic moves first, the rest after
    /// `canary_bake_minutes`. Needs a load balancer.
    pub fn canary(canary_percent: f64, canary_bake_minutes: u32) -> DeploymentBuilder {
        Self::with(Strategy::Canary {
            canary_percent,
            canary_bake_minutes,
        })
    }

    fn with(strategy: Strategy) -> DeploymentBuilder {
        DeploymentBuilder {
            inner: Deployment {
                strategy,
                ..Deployment::default()
            },
        }
    }

    /// Whether the strategy moves traffic between two target groups (it then needs a load
    /// balancer, an alternate target group and the load balancer role).
    pub fn needs_load_balancer(&self) -> bool {
        self.strategy.shifts_traffic()
    }

    /// The bake time sent to ECS: the one given, or [`DEFAULT_BAKE_MINUTES`] for the
    /// strategies that shift traffic; `None` for rolling.
    pub fn effective_bake_minutes(&self) -> Option<u32> {
        self.strategy
            .shifts_traffic()
            .then(|| self.bake_time_minutes.unwrap_or(DEFAULT_BAKE_MINUTES))
    }

    /// How long the strategy itself makes a deployment wait at least (bake times and steps),
    /// added to the rollout watcher's timeout.
    pub fn planned_wait(&self) -> std::time::Duration {
        let steps = match self.strategy {
            Strategy::Rolling | Strategy::BlueGreen => 0,
            Strategy::Linear {
                step_percent,
                step_bake_minutes,
            } => {
                let n = (100.0 / step_percent.max(0.1)).ceil();
                // At most 34 steps (3 %), each baking at most 1440 minutes.
                let n = if n.is_finite() { n.min(40.0) as u32 } else { 1 };
                n.saturating_sub(1) * step_bake_minutes
            }
            Strategy::Canary {
                canary_bake_minutes,
                ..
            } => canary_bake_minutes,
        };
        let minutes = u64::from(steps + self.effective_bake_minutes().unwrap_or(0));
        std::time::Duration::from_secs(minutes * 60)
    }

    /// Check every value (no AWS call); fields are named `deployment.<field>`.
    ///
    /// # Errors
    /// An [`InvalidValue`] naming the field and what is allowed.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let bad = |field: &str, value: String, reason: &str, allowed: &str| {
            Err(InvalidValue::new(
                format!("deployment.{field}"),
                value,
                reason,
                allowed,
            ))
        };
        let rolling = !self.strategy.shifts_traffic();
        if self.minimum_healthy_percent > 100 {
            return bad(
                "minimum_healthy_percent",
                self.minimum_healthy_percent.to_string(),
                "out of range",
                "0 to 100",
            );
        }
        if !(100..=200).contains(&self.maximum_percent) {
            return bad(
                "maximum_percent",
                self.maximum_percent.to_string(),
                "out of range",
                "100 to 200",
            );
        }
        if self.maximum_percent == 100 && self.minimum_healthy_percent == 100 {
            return bad(
                "maximum_percent",
                "100".into(),
                "with minimum_healthy_percent 100 no task can ever be replaced",
                "above 100, or a minimum_healthy_percent below 100",
            );
        }
        match self.strategy {
            Strategy::Rolling | Strategy::BlueGreen => {}
            Strategy::Linear {
                step_percent,
                step_bake_minutes,
            } => {
                check_percent("strategy.step_percent", step_percent, 3.0)?;
                check_bake("strategy.step_bake_minutes", step_bake_minutes)?;
            }
            Strategy::Canary {
                canary_percent,
                canary_bake_minutes,
            } => {
                check_percent("strategy.canary_percent", canary_percent, 0.1)?;
                check_bake("strategy.canary_bake_minutes", canary_bake_minutes)?;
            }
        }
        if let Some(b) = self.bake_time_minutes {
            if rolling {
                return bad(
                    "bake_time_minutes",
                    b.to_string(),
                    "a rolling deployment has no bake time",
                    "a bake time with Deployment::blue_green, linear or canary",
                );
            }
            check_bake("bake_time_minutes", b)?;
        }
        if let Some(t) = self.circuit_breaker.threshold {
            let (kind, v) = t.parts();
            let max = if kind == "COUNT" { 10_000 } else { 100 };
            if !(1..=max).contains(&v) {
                return bad(
                    "circuit_breaker.threshold",
                    t.to_string(),
                    "out of range",
                    &format!("{kind} from 1 to {max}"),
                );
            }
        }
        if let Some(a) = &self.alarms {
            if a.names.is_empty() || a.names.len() > 10 {
                return bad(
                    "alarms.names",
                    a.names.len().to_string(),
                    "wrong number of alarm names",
                    "1 to 10 CloudWatch alarm names",
                );
            }
            if let Some(n) = a
                .names
                .iter()
                .find(|n| n.is_empty() || n.len() > 255 || n.contains(','))
            {
                return bad(
                    "alarms.names",
                    n.clone(),
                    "not a CloudWatch alarm name",
                    "1 to 255 characters, no commas",
                );
            }
        }
        if rolling && !self.lifecycle_hooks.is_empty() {
            return bad(
                "lifecycle_hooks",
                format!("{} hooks", self.lifecycle_hooks.len()),
                "a rolling deployment has no lifecycle hooks here",
                "hooks with Deployment::blue_green, linear or canary",
            );
        }
        for (i, h) in self.lifecycle_hooks.iter().enumerate() {
            h.validate(&format!("deployment.lifecycle_hooks[{i}]"))?;
        }
        Ok(())
    }
}

fn check_percent(field: &str, p: f64, min: f64) -> Result<(), InvalidValue> {
    let tenths = p * 10.0;
    if !p.is_finite()
        || p < min - 1e-9
        || p > 100.0 + 1e-9
        || (tenths - tenths.round()).abs() > 1e-6
    {
        return Err(InvalidValue::new(
            format!("deployment.{field}"),
            p.to_string(),
            "out of range or finer than 0.1",
            format!("{min:.1} to 100.0, in steps of 0.1"),
        ));
    }
    Ok(())
}

fn check_bake(field: &str, minutes: u32) -> Result<(), InvalidValue> {
    if minutes > MAX_BAKE_MINUTES {
        return Err(InvalidValue::new(
            format!("deployment.{field}"),
            minutes.to_string(),
            "out of range",
            "0 to 1440 minutes",
        ));
    }
    Ok(())
}

impl LifecycleHook {
    fn validate(&self, field: &str) -> Result<(), InvalidValue> {
        if self.stages.is_empty() {
            return Err(InvalidValue::new(
                format!("{field}.stages"),
                "[]",
                "a hook needs at least one stage",
                all_stages(),
            ));
        }
        match &self.target {
            HookTarget::Lambda {
                function_arn,
                role_arn,
            } => {
                let parts: Vec<&str> = function_arn.split(':').collect();
                if !(parts.len() >= 7
                    && parts[0] == "arn"
                    && parts[2] == "lambda"
                    && parts[5] == "function"
                    && !parts[6].is_empty())
                {
                    return Err(InvalidValue::new(
                        format!("{field}.function_arn"),
                        function_arn,
                        "not a Lambda function ARN",
                        "arn:<partition>:lambda:<region>:<account>:function:<name>",
                    ));
                }
                check_role_arn(&format!("{field}.role_arn"), role_arn)?;
            }
            HookTarget::Pause => {
                if let Some(s) = self.stages.iter().find(|s| {
                    matches!(
                        s,
                        HookStage::TestTrafficShift | HookStage::ProductionTrafficShift
                    )
                }) {
                    return Err(InvalidValue::new(
                        format!("{field}.stages"),
                        s.as_str(),
                        "a PAUSE hook cannot stop a traffic shift midway (Lambda hooks only)",
                        "RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, POST_TEST_TRAFFIC_SHIFT, \
                         PRE_PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn all_stages() -> String {
    [
        HookStage::ReconcileService,
        HookStage::PreScaleUp,
        HookStage::PostScaleUp,
        HookStage::TestTrafficShift,
        HookStage::PostTestTrafficShift,
        HookStage::PreProductionTrafficShift,
        HookStage::ProductionTrafficShift,
        HookStage::PostProductionTrafficShift,
    ]
    .iter()
    .map(HookStage::as_str)
    .collect::<Vec<_>>()
    .join(", ")
}

fn check_role_arn(field: &str, arn: &str) -> Result<(), InvalidValue> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if !(parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len())
    {
        return Err(InvalidValue::new(
            field,
            arn,
            "not an IAM role ARN",
            "arn:<partition>:iam::<account>:role/<name>",
        ));
    }
    Ok(())
}

impl DeploymentBuilder {
    /// Rolling: the share of the desired count kept running (default 100; 0 to 100).
    pub fn min_healthy_percent(mut self, percent: u32) -> Self {
        self.inner.minimum_healthy_percent = percent;
        self
    }

    /// Rolling: the most tasks during a deployment, as a share of the desired count
    /// (default 200; 100 to 200).
    pub fn max_percent(mut self, percent: u32) -> Self {
        self.inner.maximum_percent = percent;
        self
    }

    /// The circuit breaker (default on, with rollback, at ECS's threshold).
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.inner.circuit_breaker = breaker;
        self
    }

    /// Trip the circuit breaker at `threshold` (it stays on, with rollback as set).
    pub fn failure_threshold(mut self, threshold: Threshold) -> Self {
        self.inner.circuit_breaker.enable = true;
        self.inner.circuit_breaker.threshold = Some(threshold);
        self
    }

    /// Fail (and roll back) the deployment when one of these CloudWatch alarms fires.
    pub fn alarms<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.inner.alarms = Some(Alarms {
            names: names.into_iter().map(Into::into).collect(),
            rollback: true,
        });
        self
    }

    /// Blue/green, linear, canary: minutes both revisions keep running after all production
    /// traffic moved (default [`DEFAULT_BAKE_MINUTES`]; 0 to 1440).
    pub fn bake_time_minutes(mut self, minutes: u32) -> Self {
        self.inner.bake_time_minutes = Some(minutes);
        self
    }

    /// Add a lifecycle hook (blue/green, linear, canary).
    pub fn hook(mut self, hook: LifecycleHook) -> Self {
        self.inner.lifecycle_hooks.push(hook);
        self
    }

    /// Check and return the deployment (no AWS call).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (`deployment.<field>`) and the allowed values.
    pub fn build(self) -> Result<Deployment, Error> {
        self.inner.validate()?;
        Ok(self.inner)
    }
}

/// Check an app's deployment: valid, and with a load balancer when its strategy moves
/// traffic; errors name `<app>.deployment.<field>`.
pub(crate) fn validate_for_app(
    deployment: &Deployment,
    app: &str,
    has_load_balancer: bool,
) -> Result<(), InvalidValue> {
    deployment.validate().map_err(|e| {
        let field = format!("{app}.{}", e.field);
        e.in_field(field)
    })?;
    if deployment.needs_load_balancer() && !has_load_balancer {
        return Err(InvalidValue::new(
            format!("{app}.deployment.strategy"),
            deployment.strategy.as_str(),
            "blue/green, linear and canary deployments move traffic between two target \
             groups, and a ContainerService has no load balancer",
            "ROLLING here; BLUE_GREEN, LINEAR or CANARY on a FrontendApp or BackendApi",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<Deployment, Error>) -> String {
        match r {
            Err(Error::Invalid(v)) => v.field,
            other => panic!("expected an invalid value, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_todays_rolling_deployment() {
        let d = Deployment::rolling().build().unwrap();
        assert_eq!(d, Deployment::default());
        assert_eq!(d.minimum_healthy_percent, 100);
        assert_eq!(d.maximum_percent, 200);
        assert_eq!(d.circuit_breaker.describe(), "enable,rollback");
        assert_eq!(d.effective_bake_minutes(), None);
        let bg = Deployment::blue_green().build().unwrap();
        assert_eq!(bg.effective_bake_minutes(), Some(DEFAULT_BAKE_MINUTES));
    }

    #[test]
    fn ranges_are_checked_with_the_field_named() {
        assert_eq!(
            field(Deployment::rolling().min_healthy_percent(101).build()),
            "deployment.minimum_healthy_percent"
        );
        assert_eq!(
            field(Deployment::rolling().max_percent(99).build()),
            "deployment.maximum_percent"
        );
        assert_eq!(
            field(Deployment::linear(2.9, 6).build()),
            "deployment.strategy.step_percent"
        );
        assert_eq!(
            field(Deployment::linear(10.05, 6).build()),
            "deployment.strategy.step_percent"
        );
        assert_eq!(
            field(Deployment::canary(5.0, 1441).build()),
            "deployment.strategy.canary_bake_minutes"
        );
        assert_eq!(
            field(Deployment::canary(0.0, 10).build()),
            "deployment.strategy.canary_percent"
        );
        assert_eq!(
            field(Deployment::rolling().bake_time_minutes(5).build()),
            "deployment.bake_time_minutes"
        );
        assert_eq!(
            field(
                Deployment::rolling()
                    .failure_threshold(Threshold::Count(0))
                    .build()
            ),
            "deployment.circuit_breaker.threshold"
        );
        assert_eq!(
            field(Deployment::rolling().alarms(["a,b"]).build()),
            "deployment.alarms.names"
        );
        assert!(Deployment::linear(3.0, 0).build().is_ok());
        assert!(Deployment::canary(0.1, 1440).build().is_ok());
        assert!(Deployment::linear(33.3, 6).build().is_ok());
    }

    #[test]
    fn hooks_are_checked() {
        let bad_lambda = LifecycleHook::lambda(
            "my-function",
            "arn:aws:iam::123456789012:role/hook",
            [HookStage::PostScaleUp],
        );
        assert_eq!(
            field(Deployment::blue_green().hook(bad_lambda).build()),
            "deployment.lifecycle_hooks[0].function_arn"
        );
        let pause_mid_shift = LifecycleHook::pause([HookStage::ProductionTrafficShift]);
        assert_eq!(
            field(Deployment::blue_green().hook(pause_mid_shift).build()),
            "deployment.lifecycle_hooks[0].stages"
        );
        assert_eq!(
            field(
                Deployment::rolling()
                    .hook(LifecycleHook::pause([HookStage::PostScaleUp]))
                    .build()
            ),
            "deployment.lifecycle_hooks"
        );
        let ok = LifecycleHook::lambda(
            "arn:aws:lambda:us-east-1:123456789012:function:check",
            "arn:aws:iam::123456789012:role/hook",
            [HookStage::PostTestTrafficShift, HookStage::PostScaleUp],
        );
        assert_eq!(
            ok.describe(),
            "AWS_LAMBDA arn:aws:lambda:us-east-1:123456789012:function:check as \
             arn:aws:iam::123456789012:role/hook at POST_SCALE_UP,POST_TEST_TRAFFIC_SHIFT"
        );
        assert!(Deployment::canary(5.0, 10).hook(ok).build().is_ok());
    }

    #[test]
    fn a_container_service_cannot_shift_traffic() {
        let bg = Deployment::blue_green().build().unwrap();
        let e = validate_for_app(&bg, "worker", false).unwrap_err();
        assert_eq!(e.field, "worker.deployment.strategy");
        assert!(e.allowed.contains("FrontendApp"));
        assert!(validate_for_app(&bg, "web", true).is_ok());
        let bad = Deployment {
            maximum_percent: 300,
            ..Deployment::default()
        };
        assert_eq!(
            validate_for_app(&bad, "web", true).unwrap_err().field,
            "web.deployment.maximum_percent"
        );
    }

    #[test]
    fn serde_round_trips_and_refuses_unknown_fields() {
        let d = Deployment::canary(5.0, 10)
            .bake_time_minutes(15)
            .alarms(["x"])
            .hook(LifecycleHook::pause([HookStage::PostScaleUp]))
            .build()
            .unwrap();
        let json = serde_json::to_string(&d).unwrap();
        let back: Deployment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        let minimal: Deployment =
            serde_json::from_str(r#"{"strategy":{"type":"blue_green"}}"#).unwrap();
        assert_eq!(minimal.strategy, Strategy::BlueGreen);
        assert_eq!(minimal.maximum_percent, 200);
        assert!(serde_json::from_str::<Deployment>(r#"{"stratgy":{"type":"rolling"}}"#).is_err());
    }
}
