//! Target groups of Fargate tasks (target type `ip`), and the clean-up of the
//! target groups they replace.
//!
//! A target group's port, protocol, VPC and target type cannot change. So its
//! name carries a short hash of them (`ElbName::derive(&[env, app, hash])`):
//! when one changes, the new target group has a new name and is created next
//! to the old one, the listener rule (or listener) and the service move to it,
//! and only then [`OrphanedTargetGroups`] deletes the old one — traffic always
//! has somewhere to go. Health-check settings and the deregistration delay
//! change in place, with exactly the calls they need.

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use std::collections::HashMap;

use fargate_core::batch::Batcher;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, ElbName, Error, FieldDiff, Fields, Ident, InvalidValue, Kind,
    Mode, OutputKey, PlanValues, Port, Ref, Resolved, ResourceId, Round, StepContext, Tags,
    create_or_existing,
};

use crate::NetClients;
use crate::elb::{
    defer_unknown, ensure_elb_owned, is_new, is_owned_by, resolved_ref, retry_while_in_use,
    set_ref_string, short_hash, tags_by_arn, unless_absent,
};
use crate::load_balancer::LoadBalancerRef;
use crate::tagging::elb_tags;

/// The resource kind of target groups in plans.
pub const KIND: &str = "elbv2:target-group";
/// The resource kind of the clean-up of replaced target groups.
pub const ORPHANS_KIND: &str = "elbv2:orphaned-target-groups";

const DEREGISTRATION_DELAY_KEY: &str = "deregistration_delay.timeout_seconds";
/// The deregistration delay fargate-rs sets by default (AWS's own default is 300 s,
/// which makes every rollout wait five minutes per task).
pub const DEFAULT_DEREGISTRATION_DELAY_SECONDS: u32 = 30;
/// AWS's deregistration delay for a new target group.
const AWS_DEREGISTRATION_DELAY_SECONDS: u32 = 300;
const TRAFFIC_PORT: &str = "traffic-port";
const DEFAULT_MATCHER: &str = "200";
const DEFAULT_PATH: &str = "/";

/// The protocol of a target group or of its health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetProtocol {
    /// HTTP (behind an ALB).
    Http,
    /// HTTPS (behind an ALB).
    Https,
    /// TCP (behind an NLB).
    Tcp,
}

impl TargetProtocol {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetProtocol::Http => "HTTP",
            TargetProtocol::Https => "HTTPS",
            TargetProtocol::Tcp => "TCP",
        }
    }

    fn sdk(self) -> ProtocolEnum {
        match self {
            TargetProtocol::Http => ProtocolEnum::Http,
            TargetProtocol::Https => ProtocolEnum::Https,
            TargetProtocol::Tcp => ProtocolEnum::Tcp,
        }
    }

    fn is_http(self) -> bool {
        matches!(self, TargetProtocol::Http | TargetProtocol::Https)
    }
}

/// Which port health checks go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheckPort {
    /// The port traffic goes to (the default).
    TrafficPort,
    /// Another port.
    Port(Port),
}

/// A target group's health check. Defaults: AWS's for an ALB (path `/`, matcher `200`,
/// every 30 s, timeout 5 s, 5 healthy / 2 unhealthy) or an NLB TCP check (every 30 s,
/// timeout 10 s).
///
/// ```
/// use fargate_net::target_group::HealthCheck;
/// let hc = HealthCheck::http("/health")?.matcher("200-299")?.interval(15)?;
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    protocol: TargetProtocol,
    port: HealthCheckPort,
    path: String,
    matcher: String,
    interval_seconds: u32,
    timeout_seconds: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

fn out_of_range(field: &str, value: u32, allowed: &str) -> InvalidValue {
    InvalidValue::new(
        format!("health_check.{field}"),
        value.to_string(),
        "out of range",
        allowed,
    )
}

impl HealthCheck {
    /// An HTTP health check of `path`.
    ///
    /// # Errors
    /// [`InvalidValue`] when `path` does not start with `/` or is longer than 1024 characters.
    pub fn http(path: &str) -> Result<Self, InvalidValue> {
        Self::default_for(TargetProtocol::Http).path(path)
    }

    /// A TCP health check (a connection is made; nothing is sent).
    pub fn tcp() -> Self {
        Self {
            timeout_seconds: 10,
            ..Self::default_for(TargetProtocol::Http)
        }
        .protocol(TargetProtocol::Tcp)
    }

    /// The default check for a target group of `protocol`.
    pub fn default_for(protocol: TargetProtocol) -> Self {
        match protocol {
            TargetProtocol::Tcp => Self::tcp(),
            TargetProtocol::Http | TargetProtocol::Https => Self {
                protocol,
                port: HealthCheckPort::TrafficPort,
                path: DEFAULT_PATH.into(),
                matcher: DEFAULT_MATCHER.into(),
                interval_seconds: 30,
                timeout_seconds: 5,
                healthy_threshold: 5,
                unhealthy_threshold: 2,
            },
        }
    }

    /// Check with another protocol (`HTTPS` to check over TLS, `HTTP` behind an NLB).
    #[must_use]
    pub fn protocol(mut self, protocol: TargetProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Check another port than the traffic port.
    #[must_use]
    pub fn port(mut self, port: HealthCheckPort) -> Self {
        self.port = port;
        self
    }

    /// The path requested (HTTP and HTTPS checks).
    ///
    /// # Errors
    /// [`InvalidValue`] when it does not start with `/` or is longer than 1024 characters.
    pub fn path(mut self, path: &str) -> Result<Self, InvalidValue> {
        if !path.starts_with('/') || path.len() > 1024 || path.chars().any(char::is_whitespace) {
            return Err(InvalidValue::new(
                "health_check.path",
                path,
                "not an absolute URL path",
                "a path starting with / of at most 1024 characters, without spaces",
            ));
        }
        self.path = path.into();
        Ok(self)
    }

    /// The HTTP codes that mean healthy: `200`, `200-299` or `200,202`.
    ///
    /// # Errors
    /// [`InvalidValue`] for anything else, or codes outside 200–499.
    pub fn matcher(mut self, codes: &str) -> Result<Self, InvalidValue> {
        let code_ok =
            |c: &str| c.len() == 3 && c.parse::<u16>().is_ok_and(|n| (200..=499).contains(&n));
        let ok = !codes.is_empty()
            && codes.split(',').all(|part| match part.split_once('-') {
                Some((a, b)) => code_ok(a) && code_ok(b) && a <= b,
                None => code_ok(part),
            });
        if !ok {
            return Err(InvalidValue::new(
                "health_check.matcher",
                codes,
                "not a list or range of HTTP codes",
                "HTTP codes from 200 to 499 like 200, 200-299 or 200,202",
            ));
        }
        self.matcher = codes.into();
        Ok(self)
    }

    /// Seconds between checks (5–300).
    ///
    /// # Errors
    /// [`InvalidValue`] out of range.
    pub fn interval(mut self, seconds: u32) -> Result<Self, InvalidValue> {
        if !(5..=300).contains(&seconds) {
            return Err(out_of_range("interval", seconds, "5 to 300 seconds"));
        }
        self.interval_seconds = seconds;
        Ok(self)
    }

    /// Seconds before a check fails (2–120, less than the interval).
    ///
    /// # Errors
    /// [`InvalidValue`] out of range.
    pub fn timeout(mut self, seconds: u32) -> Result<Self, InvalidValue> {
        if !(2..=120).contains(&seconds) {
            return Err(out_of_range("timeout", seconds, "2 to 120 seconds"));
        }
        self.timeout_seconds = seconds;
        Ok(self)
    }

    /// Consecutive successes before a target is healthy (2–10).
    ///
    /// # Errors
    /// [`InvalidValue`] out of range.
    pub fn healthy_threshold(mut self, n: u32) -> Result<Self, InvalidValue> {
        if !(2..=10).contains(&n) {
            return Err(out_of_range("healthy_threshold", n, "2 to 10"));
        }
        self.healthy_threshold = n;
        Ok(self)
    }

    /// Consecutive failures before a target is unhealthy (2–10).
    ///
    /// # Errors
    /// [`InvalidValue`] out of range.
    pub fn unhealthy_threshold(mut self, n: u32) -> Result<Self, InvalidValue> {
        if !(2..=10).contains(&n) {
            return Err(out_of_range("unhealthy_threshold", n, "2 to 10"));
        }
        self.unhealthy_threshold = n;
        Ok(self)
    }

    fn validate(&self) -> Result<(), InvalidValue> {
        if self.timeout_seconds >= self.interval_seconds {
            return Err(InvalidValue::new(
                "health_check.timeout",
                self.timeout_seconds.to_string(),
                format!(
                    "must be less than the interval ({} s)",
                    self.interval_seconds
                ),
                "a timeout shorter than the interval",
            ));
        }
        Ok(())
    }
}

/// The output key of a target group: its ARN.
pub fn target_group_arn(id: &ResourceId) -> OutputKey<String> {
    id.output("arn")
}

/// How listeners and rules refer to a target group: its ARN during apply, its
/// (deterministic) name at plan time.
#[derive(Debug, Clone)]
pub struct TargetGroupRef {
    /// The target group resource (a dependency of its users).
    pub id: ResourceId,
    /// Its ARN.
    pub arn: Ref<String>,
    /// Its name, compared with the name inside observed ARNs at plan time.
    pub name: ElbName,
}

/// A target group fargate-rs creates and owns for one app.
///
/// ```
/// use fargate_core::{Ownership, Port, Ref};
/// use fargate_net::target_group::{HealthCheck, TargetGroupSpec, TargetProtocol};
///
/// let env: fargate_core::Ident = "prod".parse()?;
/// let app: fargate_core::Ident = "web".parse()?;
/// let tg = TargetGroupSpec::new(
///     &env,
///     &app,
///     Port::new(8080)?,
///     TargetProtocol::Http,
///     Ref::Known("vpc-1".into()),
///     Ownership::new(env.clone()).with_app(app.clone()).with_component("target-group"),
/// )
/// .health_check(HealthCheck::http("/health")?)?;
/// assert!(tg.name().as_str().starts_with("prod-web-"));
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct TargetGroupSpec {
    id: ResourceId,
    name: ElbName,
    port: Port,
    protocol: TargetProtocol,
    vpc: Ref<String>,
    health_check: HealthCheck,
    deregistration_delay_seconds: u32,
    depends_on: Vec<ResourceId>,
    owner: Ownership,
    tags: Tags,
}

impl TargetGroupSpec {
    /// A target group of type `ip` for `app`, named
    /// `ElbName::derive(&[env, app, hash of (component, port, protocol, VPC)])`.
    ///
    /// The VPC enters the hash as its id when known, else as the name of the output that
    /// produces it (stable as long as the network is the same resource).
    pub fn new(
        env: &Ident,
        app: &Ident,
        port: Port,
        protocol: TargetProtocol,
        vpc: Ref<String>,
        owner: Ownership,
    ) -> Self {
        let component = owner.component.clone().unwrap_or_default();
        let vpc_identity = match &vpc {
            Ref::Known(v) => v.clone(),
            Ref::Output(k) => k.name().to_string(),
        };
        let port_s = port.to_string();
        let hash = short_hash(&[&component, "ip", protocol.as_str(), &port_s, &vpc_identity]);
        let mut id_name = format!("{env}/{app}");
        if !component.is_empty() {
            id_name = format!("{id_name}/{component}");
        }
        Self {
            id: ResourceId::new(KIND, id_name),
            name: ElbName::derive(&[env.as_str(), app.as_str(), &hash]),
            port,
            protocol,
            vpc,
            health_check: HealthCheck::default_for(protocol),
            deregistration_delay_seconds: DEFAULT_DEREGISTRATION_DELAY_SECONDS,
            depends_on: Vec::new(),
            owner,
            tags: Tags::new(),
        }
    }

    /// The health check.
    ///
    /// # Errors
    /// [`InvalidValue`] when its timeout is not shorter than its interval, or a TCP check
    /// is asked of an HTTP target group.
    pub fn health_check(mut self, health_check: HealthCheck) -> Result<Self, InvalidValue> {
        health_check.validate()?;
        if self.protocol.is_http() && !health_check.protocol.is_http() {
            return Err(InvalidValue::new(
                "health_check.protocol",
                health_check.protocol.as_str(),
                "an HTTP or HTTPS target group is checked over HTTP or HTTPS",
                "HTTP, HTTPS",
            ));
        }
        self.health_check = health_check;
        Ok(self)
    }

    /// Seconds a target drains before it is deregistered (default 30).
    ///
    /// # Errors
    /// [`InvalidValue`] outside 0..=3600.
    pub fn deregistration_delay(mut self, seconds: u32) -> Result<Self, InvalidValue> {
        if seconds > 3600 {
            return Err(InvalidValue::new(
                "target_group.deregistration_delay",
                seconds.to_string(),
                "out of range",
                "0 to 3600 seconds",
            ));
        }
        self.deregistration_delay_seconds = seconds;
        Ok(self)
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// Resources that must exist first (for example the VPC).
    #[must_use]
    pub fn after(mut self, ids: impl IntoIterator<Item = ResourceId>) -> Self {
        self.depends_on.extend(ids);
        self
    }

    /// The target group's name (it changes when port, protocol or VPC change).
    pub fn name(&self) -> &ElbName {
        &self.name
    }

    /// The resource id (stable across replacements).
    pub fn id(&self) -> &ResourceId {
        &self.id
    }

    /// The ARN output key.
    pub fn arn(&self) -> OutputKey<String> {
        target_group_arn(&self.id)
    }

    /// How listeners and rules refer to it.
    pub fn reference(&self) -> TargetGroupRef {
        TargetGroupRef {
            id: self.id.clone(),
            arn: Ref::Output(self.arn()),
            name: self.name.clone(),
        }
    }

    /// The clean-up of the target groups this one replaces (same ownership, other name,
    /// attached to `load_balancer`). It runs after `after` — pass the listener rule (or
    /// listener) and the service that move to this target group.
    pub fn orphans(
        &self,
        load_balancer: LoadBalancerRef,
        after: impl IntoIterator<Item = ResourceId>,
    ) -> OrphanedTargetGroups {
        let mut depends_on: Vec<ResourceId> = vec![self.id.clone(), load_balancer.id.clone()];
        depends_on.extend(after);
        OrphanedTargetGroups {
            id: ResourceId::new(ORPHANS_KIND, self.id.name.clone()),
            current: self.name.clone(),
            owner: self.owner.clone(),
            load_balancer,
            depends_on,
        }
    }

    /// The managed fields as desired (pure).
    pub fn desired_fields(&self) -> Fields {
        let hc = &self.health_check;
        let mut f = Fields::new()
            .with("protocol", self.protocol.as_str())
            .with("port", self.port.get())
            .with("target_type", "ip")
            .with("health_check.protocol", hc.protocol.as_str())
            .with("health_check.port", health_port_value(hc.port, self.port))
            .with("health_check.interval_seconds", hc.interval_seconds)
            .with("health_check.timeout_seconds", hc.timeout_seconds)
            .with("health_check.healthy_threshold", hc.healthy_threshold)
            .with("health_check.unhealthy_threshold", hc.unhealthy_threshold)
            .with(
                "deregistration_delay_seconds",
                self.deregistration_delay_seconds,
            );
        if hc.protocol.is_http() {
            f.set("health_check.path", hc.path.clone());
            f.set("health_check.matcher", hc.matcher.clone());
        } else {
            f.set("health_check.path", serde_json::Value::Null);
            f.set("health_check.matcher", serde_json::Value::Null);
        }
        set_ref_string(&mut f, "vpc_id", &self.vpc);
        f
    }

    /// The change from `observed` to this spec (pure).
    pub fn diff(&self, observed: Option<&Fields>) -> Change {
        let mut desired = self.desired_fields();
        defer_unknown(&mut desired, observed, &["vpc_id"]);
        Change::compute(&desired, observed, &IMMUTABLE)
    }
}

/// Fields that cannot change in place (they are part of the name's hash).
const IMMUTABLE: [&str; 4] = ["protocol", "port", "target_type", "vpc_id"];

fn health_port_value(port: HealthCheckPort, traffic: Port) -> String {
    match port {
        HealthCheckPort::Port(p) if p != traffic => p.to_string(),
        _ => TRAFFIC_PORT.to_string(),
    }
}

/// The managed fields of a target group as AWS reports it, with API defaults filled in (pure):
/// a health-check port equal to the traffic port is `traffic-port`, a missing matcher is
/// `200`, path and matcher are dropped for TCP checks.
pub fn observed_fields(tg: &TargetGroup, attributes: &[TargetGroupAttribute]) -> Fields {
    let port = tg.port().unwrap_or_default();
    let hc_protocol = tg
        .health_check_protocol()
        .or(tg.protocol())
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let hc_port = match tg.health_check_port() {
        None => TRAFFIC_PORT.to_string(),
        Some(p) if p == TRAFFIC_PORT || p == port.to_string() => TRAFFIC_PORT.to_string(),
        Some(p) => p.to_string(),
    };
    let delay = attributes
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY_KEY))
        .and_then(|a| a.value())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(AWS_DEREGISTRATION_DELAY_SECONDS);
    let mut f = Fields::new()
        .with(
            "protocol",
            tg.protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
        )
        .with("port", port)
        .with(
            "target_type",
            tg.target_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        )
        .with("vpc_id", tg.vpc_id().unwrap_or_default().to_string())
        .with("health_check.protocol", hc_protocol.clone())
        .with("health_check.port", hc_port)
        .with(
            "health_check.interval_seconds",
            tg.health_check_interval_seconds().unwrap_or(30),
        )
        .with(
            "health_check.timeout_seconds",
            tg.health_check_timeout_seconds().unwrap_or(5),
        )
        .with(
            "health_check.healthy_threshold",
            tg.healthy_threshold_count().unwrap_or(5),
        )
        .with(
            "health_check.unhealthy_threshold",
            tg.unhealthy_threshold_count().unwrap_or(2),
        )
        .with("deregistration_delay_seconds", delay);
    if hc_protocol == "HTTP" || hc_protocol == "HTTPS" {
        f.set(
            "health_check.path",
            tg.health_check_path().unwrap_or(DEFAULT_PATH).to_string(),
        );
        f.set(
            "health_check.matcher",
            tg.matcher()
                .and_then(|m| m.http_code())
                .unwrap_or(DEFAULT_MATCHER)
                .to_string(),
        );
    } else {
        f.set("health_check.path", serde_json::Value::Null);
        f.set("health_check.matcher", serde_json::Value::Null);
    }
    f
}

/// What went wrong with a target group, beyond a failed API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetGroupError {
    /// A target group with this name exists with other immutable settings (its name should
    /// have changed with them; only a hash collision or a hand-made group gets here).
    #[error("target group {name} exists with other {fields}; delete it or change the app's name")]
    ImmutableMismatch {
        /// The target group's name.
        name: String,
        /// The fields that differ.
        fields: String,
    },
}

/// The most names one `DescribeTargetGroups` call takes.
const BY_NAMES_BATCH: usize = 20;

/// The target groups of these names that exist, by name. `DescribeTargetGroups` by names
/// fails as a whole when one name does not exist; then the account's target groups are
/// listed (400 a page) and filtered.
async fn describe_by_names(
    elb: &ElbClient,
    id: &ResourceId,
    names: Vec<String>,
) -> Result<HashMap<String, TargetGroup>, Error> {
    let by_name = |groups: &[TargetGroup], out: &mut HashMap<String, TargetGroup>| {
        for tg in groups {
            if let Some(n) = tg
                .target_group_name()
                .filter(|n| names.iter().any(|w| w == n))
            {
                out.insert(n.to_string(), tg.clone());
            }
        }
    };
    let mut found = HashMap::new();
    let out = elb
        .describe_target_groups()
        .set_names(Some(names.clone()))
        .send()
        .await;
    let answer = unless_absent(out, id, "DescribeTargetGroups", |e| {
        e.is_target_group_not_found_exception()
    })?;
    if let Some(out) = answer {
        by_name(out.target_groups(), &mut found);
        return Ok(found);
    }
    if names.len() == 1 {
        return Ok(found);
    }
    let mut marker: Option<String> = None;
    loop {
        let page = elb
            .describe_target_groups()
            .page_size(400)
            .set_marker(marker.take())
            .send()
            .await
            .context(id, "DescribeTargetGroups")?;
        by_name(page.target_groups(), &mut found);
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(found),
        }
    }
}

/// An observed target group: ARN and normalized fields ([`observed_fields`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedTargetGroup {
    /// The target group ARN.
    pub arn: String,
    /// Its managed fields as AWS reports them.
    pub fields: Fields,
}

impl TargetGroupSpec {
    /// The target group and its tags. With a plan's round, the look-ups of the plan's
    /// target groups made within a few milliseconds share calls: one `DescribeTargetGroups`
    /// by up to 20 names (when one of them does not exist, which fails the call, one
    /// listing of the account's target groups) and one `DescribeTags` per 20 ARNs.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_group(
        &self,
        elb: &ElbClient,
        round: Option<&Round<'_>>,
    ) -> Result<Option<ObservedTargetGroup>, Error> {
        let name = self.name.as_str().to_string();
        let fetch = |(): (), names: Vec<String>| describe_by_names(elb, &self.id, names);
        let tg = match round {
            Some(round) => {
                round
                    .shared("elbv2:DescribeTargetGroups", || {
                        Batcher::<(), String, TargetGroup>::new(BY_NAMES_BATCH)
                    })
                    .load((), name, fetch)
                    .await?
            }
            None => fetch((), vec![name.clone()]).await?.remove(&name),
        };
        let Some(tg) = tg else {
            return Ok(None);
        };
        let arn = tg.target_group_arn().unwrap_or_default().to_string();
        let tags_of =
            |(): (), arns: Vec<String>| async move { tags_by_arn(elb, &self.id, &arns).await };
        let tags = async {
            match round {
                Some(round) => {
                    round
                        .shared("elbv2:DescribeTags", || {
                            Batcher::<(), String, Vec<(String, String)>>::new(
                                crate::elb::DESCRIBE_TAGS_BATCH,
                            )
                        })
                        .load((), arn.clone(), tags_of)
                        .await
                }
                None => Ok(tags_of((), vec![arn.clone()]).await?.remove(&arn)),
            }
        };
        let (tags, attributes) = tokio::join!(
            tags,
            elb.describe_target_group_attributes()
                .target_group_arn(&arn)
                .send()
        );
        let tags = tags?.unwrap_or_default();
        ensure_elb_owned(&self.owner, &self.id, &arn, &tags)?;
        let attributes = attributes.context(&self.id, "DescribeTargetGroupAttributes")?;
        Ok(Some(ObservedTargetGroup {
            fields: observed_fields(&tg, attributes.attributes()),
            arn,
        }))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn create(&self, elb: &ElbClient, ctx: &StepContext) -> Result<(), Error> {
        let vpc = self.vpc.resolve(ctx)?;
        let hc = &self.health_check;
        let mut req = elb
            .create_target_group()
            .name(self.name.as_str())
            .protocol(self.protocol.sdk())
            .port(i32::from(self.port))
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_protocol(hc.protocol.sdk())
            .health_check_port(health_port_value(hc.port, self.port))
            .health_check_interval_seconds(to_i32(hc.interval_seconds))
            .health_check_timeout_seconds(to_i32(hc.timeout_seconds))
            .healthy_threshold_count(to_i32(hc.healthy_threshold))
            .unhealthy_threshold_count(to_i32(hc.unhealthy_threshold))
            .set_tags(Some(elb_tags(&self.owner, &self.tags, self.name.as_str())));
        if hc.protocol.is_http() {
            req = req
                .health_check_path(&hc.path)
                .matcher(Matcher::builder().http_code(&hc.matcher).build());
        }
        let out = req.send().await;
        // A retried create whose first attempt was applied meets its own target group.
        let found = || self.observe_group(elb, None);
        let out = match create_or_existing(
            ctx,
            &self.id,
            "CreateTargetGroup",
            out,
            |e| e.is_duplicate_target_group_name_exception(),
            found,
        )
        .await?
        {
            Created::New(out) => out,
            Created::Existing(observed) => {
                ctx.set(&self.arn(), observed.arn.clone());
                return match self.diff(Some(&observed.fields)) {
                    Change::Update { diffs } => self.update(elb, &observed.arn, &diffs).await,
                    _ => Ok(()),
                };
            }
        };
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .ok_or_else(|| Error::Unexpected {
                resource: self.id.clone(),
                operation: "CreateTargetGroup".into(),
                detail: "no target group ARN in the answer".into(),
            })?
            .to_string();
        ctx.set(&self.arn(), arn.clone());
        ctx.progress(format!("created target group {}", self.name));
        if self.deregistration_delay_seconds != AWS_DEREGISTRATION_DELAY_SECONDS {
            self.set_deregistration_delay(elb, &arn).await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn set_deregistration_delay(&self, elb: &ElbClient, arn: &str) -> Result<(), Error> {
        elb.modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key(DEREGISTRATION_DELAY_KEY)
                    .value(self.deregistration_delay_seconds.to_string())
                    .build(),
            )
            .send()
            .await
            .context(&self.id, "ModifyTargetGroupAttributes")?;
        Ok(())
    }

    /// Applies an in-place update: one ModifyTargetGroup carrying only the changed
    /// health-check settings, one ModifyTargetGroupAttributes if the delay changed.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn update(&self, elb: &ElbClient, arn: &str, diffs: &[FieldDiff]) -> Result<(), Error> {
        let changed = |name: &str| diffs.iter().any(|d| d.field == name);
        let hc = &self.health_check;
        let mut req = elb.modify_target_group().target_group_arn(arn);
        let mut any = false;
        if changed("health_check.protocol") {
            req = req.health_check_protocol(hc.protocol.sdk());
            any = true;
        }
        if changed("health_check.port") {
            req = req.health_check_port(health_port_value(hc.port, self.port));
            any = true;
        }
        if changed("health_check.path") && hc.protocol.is_http() {
            req = req.health_check_path(&hc.path);
            any = true;
        }
        if changed("health_check.matcher") && hc.protocol.is_http() {
            req = req.matcher(Matcher::builder().http_code(&hc.matcher).build());
            any = true;
        }
        if changed("health_check.interval_seconds") {
            req = req.health_check_interval_seconds(to_i32(hc.interval_seconds));
            any = true;
        }
        if changed("health_check.timeout_seconds") {
            req = req.health_check_timeout_seconds(to_i32(hc.timeout_seconds));
            any = true;
        }
        if changed("health_check.healthy_threshold") {
            req = req.healthy_threshold_count(to_i32(hc.healthy_threshold));
            any = true;
        }
        if changed("health_check.unhealthy_threshold") {
            req = req.unhealthy_threshold_count(to_i32(hc.unhealthy_threshold));
            any = true;
        }
        if any {
            req.send().await.context(&self.id, "ModifyTargetGroup")?;
        }
        if changed("deregistration_delay_seconds") {
            self.set_deregistration_delay(elb, arn).await?;
        }
        Ok(())
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Deletes a target group, waiting (bounded) while it is still in use by a listener or
/// rule that was just changed; gone already is fine.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn delete_target_group(
    elb: &ElbClient,
    ctx: &StepContext,
    id: &ResourceId,
    arn: &str,
) -> Result<(), Error> {
    retry_while_in_use(ctx, || async {
        // AWS answers success for a target group that is gone; emulators answer
        // `TargetGroupNotFound`, which DeleteTargetGroup does not model (so its code):
        // a retry whose first attempt was applied is done either way.
        let out = elb.delete_target_group().target_group_arn(arn).send().await;
        unless_absent(out, id, "DeleteTargetGroup", |e| {
            e.code() == Some("TargetGroupNotFound")
        })
        .map(drop)
    })
    .await
}

impl<C> Kind<C> for TargetGroupSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedTargetGroup;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.depends_on.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedTargetGroup>, Error>> {
        Box::pin(self.observe_group(&clients.as_ref().elb, Some(round)))
    }

    fn diff(
        &self,
        observed: Option<&ObservedTargetGroup>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        let mut spec = self.clone();
        spec.vpc = resolved_ref(&self.vpc, resolved);
        let change = spec.diff(observed.map(|o| &o.fields));
        if let Change::Replace { diffs, .. } = &change {
            return Err(Error::Failed {
                resource: self.id.clone(),
                source: Box::new(TargetGroupError::ImmutableMismatch {
                    name: self.name.to_string(),
                    fields: diffs
                        .iter()
                        .map(|d| d.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            });
        }
        Ok(change)
    }

    fn outputs(
        &self,
        observed: Option<&ObservedTargetGroup>,
        _: &Change,
        _: &Resolved,
    ) -> PlanValues {
        // An existing target group keeps its ARN: dependents may plan against it.
        match observed {
            Some(o) => PlanValues::new().with(&self.arn(), &o.arn),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedTargetGroup>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let elb = &clients.as_ref().elb;
            let Some(observed) = observed else {
                return self.create(elb, ctx).await;
            };
            ctx.set(&self.arn(), observed.arn.clone());
            match change {
                Change::Update { diffs } => self.update(elb, &observed.arn, diffs).await,
                _ => Ok(()),
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedTargetGroup,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(delete_target_group(
            &clients.as_ref().elb,
            ctx,
            &self.id,
            &observed.arn,
        ))
    }
}

/// The target groups an app's target group replaced: same ownership (environment, app and
/// component), another name, still attached to the app's load balancer. Deleted after the
/// listener rule and the service moved to the new target group (see
/// [`TargetGroupSpec::orphans`]); `NoOp` when there are none.
///
/// Only target groups attached to the load balancer are found (the look-up is
/// `DescribeTargetGroups(LoadBalancerArn)`, not a scan of the account): one left behind by
/// an interrupted apply after its rule had already moved is not found again.
#[derive(Debug, Clone)]
pub struct OrphanedTargetGroups {
    id: ResourceId,
    current: ElbName,
    owner: Ownership,
    load_balancer: LoadBalancerRef,
    depends_on: Vec<ResourceId>,
}

/// A target group attached to a load balancer: name, ARN and tags.
type AttachedGroup = (String, String, Vec<(String, String)>);

/// The target groups attached to a load balancer.
async fn attached_target_groups(
    elb: &ElbClient,
    id: &ResourceId,
    lb_arn: String,
) -> Result<Vec<AttachedGroup>, Error> {
    let out = elb
        .describe_target_groups()
        .load_balancer_arn(&lb_arn)
        .send()
        .await;
    let groups = unless_absent(out, id, "DescribeTargetGroups", |e| {
        e.is_target_group_not_found_exception() || e.is_load_balancer_not_found_exception()
    })?
    .map(|out| out.target_groups().to_vec())
    .unwrap_or_default();
    let named: Vec<(String, String)> = groups
        .iter()
        .filter_map(|g| {
            Some((
                g.target_group_name()?.to_string(),
                g.target_group_arn()?.to_string(),
            ))
        })
        .collect();
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let arns: Vec<String> = named.iter().map(|(_, a)| a.clone()).collect();
    let mut tags = tags_by_arn(elb, id, &arns).await?;
    Ok(named
        .into_iter()
        .map(|(name, arn)| {
            let t = tags.remove(&arn).unwrap_or_default();
            (name, arn, t)
        })
        .collect())
}

impl OrphanedTargetGroups {
    /// The resource id.
    pub fn id(&self) -> &ResourceId {
        &self.id
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_orphans(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
    ) -> Result<Vec<(String, String)>, Error> {
        let Some(lb_arn) = self.load_balancer.observe_arn(elb, round).await? else {
            return Ok(Vec::new());
        };
        // Every app's check reads the same load balancer: its target groups and their tags
        // are read once per plan and shared.
        let attached = round
            .observe_once(&format!("elbv2:target-groups-of:{lb_arn}"), || {
                attached_target_groups(elb, &self.id, lb_arn.clone())
            })
            .await?;
        let candidates: Vec<&AttachedGroup> = attached
            .iter()
            .filter(|(name, _, _)| name != self.current.as_str())
            .collect();
        let component = self.owner.component.as_deref();
        Ok(candidates
            .into_iter()
            .filter(|(_, _, t)| {
                is_owned_by(&self.owner, t)
                    && t.iter()
                        .find(|(k, _)| k == Ownership::COMPONENT_KEY)
                        .map(|(_, v)| v.as_str())
                        == component
            })
            .map(|(name, arn, _)| (name.clone(), arn.clone()))
            .collect())
    }
}

/// The target groups to delete, by name and ARN.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Orphans(Vec<(String, String)>);

impl OrphanedTargetGroups {
    async fn delete_all(
        &self,
        elb: &ElbClient,
        ctx: &StepContext,
        orphans: &Orphans,
    ) -> Result<(), Error> {
        for (name, arn) in &orphans.0 {
            delete_target_group(elb, ctx, &self.id, arn).await?;
            ctx.progress(format!("deleted replaced target group {name}"));
        }
        Ok(())
    }
}

impl<C> Kind<C> for OrphanedTargetGroups
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    /// The replaced target groups found (none: `None`).
    type Observed = Orphans;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.depends_on.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<Orphans>, Error>> {
        Box::pin(async move {
            let orphans = self.observe_orphans(&clients.as_ref().elb, round).await?;
            Ok((!orphans.is_empty()).then_some(Orphans(orphans)))
        })
    }

    fn diff(&self, observed: Option<&Orphans>, resolved: &Resolved) -> Result<Change, Error> {
        // A load balancer this apply creates or replaces has none of them attached.
        Ok(match observed {
            Some(_) if !is_new(resolved, &self.load_balancer.id) => Change::Delete,
            _ => Change::NoOp,
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a Orphans>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match (change, observed) {
                (Change::Delete, Some(orphans)) => {
                    self.delete_all(&clients.as_ref().elb, ctx, orphans).await
                }
                _ => Ok(()),
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a Orphans,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete_all(&clients.as_ref().elb, ctx, observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str) -> Ident {
        s.parse().unwrap()
    }

    fn spec(port: u16) -> TargetGroupSpec {
        TargetGroupSpec::new(
            &ident("prod"),
            &ident("web"),
            Port::new(port).unwrap(),
            TargetProtocol::Http,
            Ref::Known("vpc-1".into()),
            Ownership::new(ident("prod"))
                .with_app(ident("web"))
                .with_component("target-group"),
        )
    }

    fn aws_default(port: i32) -> TargetGroup {
        // What AWS answers for a target group created with only name, protocol, port, VPC
        // and target type.
        TargetGroup::builder()
            .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1")
            .protocol(ProtocolEnum::Http)
            .port(port)
            .vpc_id("vpc-1")
            .target_type(TargetTypeEnum::Ip)
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_port("traffic-port")
            .health_check_interval_seconds(30)
            .health_check_timeout_seconds(5)
            .healthy_threshold_count(5)
            .unhealthy_threshold_count(2)
            .health_check_path("/")
            .matcher(Matcher::builder().http_code("200").build())
            .build()
    }

    fn delay(seconds: &str) -> Vec<TargetGroupAttribute> {
        vec![
            TargetGroupAttribute::builder()
                .key(DEREGISTRATION_DELAY_KEY)
                .value(seconds)
                .build(),
        ]
    }

    #[test]
    fn api_defaults_match_the_default_spec() {
        let observed = observed_fields(&aws_default(8080), &delay("30"));
        assert_eq!(spec(8080).diff(Some(&observed)), Change::NoOp);
    }

    #[test]
    fn health_check_port_equal_to_traffic_port_is_normalized() {
        let tg = aws_default(8080).to_builder_for_test("8080");
        let observed = observed_fields(&tg, &delay("30"));
        assert_eq!(spec(8080).diff(Some(&observed)), Change::NoOp);
    }

    #[test]
    fn aws_default_deregistration_delay_differs_from_ours() {
        let observed = observed_fields(&aws_default(8080), &[]);
        let Change::Update { diffs } = spec(8080).diff(Some(&observed)) else {
            panic!()
        };
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].field, "deregistration_delay_seconds");
    }

    #[test]
    fn one_health_check_field_is_one_diff() {
        let observed = observed_fields(&aws_default(8080), &delay("30"));
        let s = spec(8080)
            .health_check(HealthCheck::http("/health").unwrap())
            .unwrap();
        let Change::Update { diffs } = s.diff(Some(&observed)) else {
            panic!()
        };
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].field, "health_check.path");
    }

    #[test]
    fn immutable_fields_are_in_the_name() {
        assert_ne!(spec(8080).name(), spec(8081).name());
        assert_eq!(spec(8080).name(), spec(8080).name());
        assert_eq!(spec(8080).id(), spec(8081).id());
        assert!(spec(8080).name().as_str().starts_with("prod-web-"));
    }

    #[test]
    fn tcp_checks_ignore_path_and_matcher() {
        let nlb_tg = TargetGroupSpec::new(
            &ident("prod"),
            &ident("api"),
            Port::new(8080).unwrap(),
            TargetProtocol::Tcp,
            Ref::Known("vpc-1".into()),
            Ownership::new(ident("prod")).with_app(ident("api")),
        );
        let tg = TargetGroup::builder()
            .protocol(ProtocolEnum::Tcp)
            .port(8080)
            .vpc_id("vpc-1")
            .target_type(TargetTypeEnum::Ip)
            .health_check_protocol(ProtocolEnum::Tcp)
            .health_check_port("traffic-port")
            .health_check_interval_seconds(30)
            .health_check_timeout_seconds(10)
            .healthy_threshold_count(5)
            .unhealthy_threshold_count(2)
            .matcher(Matcher::builder().http_code("200-399").build())
            .build();
        assert_eq!(
            nlb_tg.diff(Some(&observed_fields(&tg, &delay("30")))),
            Change::NoOp
        );
    }

    #[test]
    fn invalid_health_checks_are_refused() {
        assert_eq!(
            HealthCheck::http("health").unwrap_err().field,
            "health_check.path"
        );
        let hc = HealthCheck::http("/").unwrap();
        assert!(hc.clone().matcher("200-299").is_ok());
        assert!(hc.clone().matcher("200,202").is_ok());
        for bad in ["", "ok", "600", "299-200", "20"] {
            assert_eq!(
                hc.clone().matcher(bad).unwrap_err().field,
                "health_check.matcher",
                "{bad}"
            );
        }
        assert!(hc.clone().interval(4).is_err());
        assert!(hc.clone().healthy_threshold(11).is_err());
        let slow = hc.clone().timeout(30).unwrap();
        assert_eq!(
            spec(80).health_check(slow).unwrap_err().field,
            "health_check.timeout"
        );
        assert!(spec(80).health_check(HealthCheck::tcp()).is_err());
        assert!(spec(80).deregistration_delay(3601).is_err());
    }

    trait ForTest {
        fn to_builder_for_test(self, port: &str) -> TargetGroup;
    }

    impl ForTest for TargetGroup {
        fn to_builder_for_test(self, port: &str) -> TargetGroup {
            TargetGroup::builder()
                .set_target_group_arn(self.target_group_arn().map(str::to_string))
                .set_protocol(self.protocol().cloned())
                .set_port(self.port())
                .set_vpc_id(self.vpc_id().map(str::to_string))
                .set_target_type(self.target_type().cloned())
                .set_health_check_protocol(self.health_check_protocol().cloned())
                .health_check_port(port)
                .set_health_check_interval_seconds(self.health_check_interval_seconds())
                .set_health_check_timeout_seconds(self.health_check_timeout_seconds())
                .set_healthy_threshold_count(self.healthy_threshold_count())
                .set_unhealthy_threshold_count(self.unhealthy_threshold_count())
                .set_health_check_path(self.health_check_path().map(str::to_string))
                .set_matcher(self.matcher().cloned())
                .build()
        }
    }
}
