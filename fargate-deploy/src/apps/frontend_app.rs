//! [`FrontendApp`]: a web app behind the environment's public ALB — a
//! [`ContainerService`] plus its target group (type `ip`) and a listener rule
//! (path patterns and/or host headers) on the ALB's listener.

use std::sync::Arc;

use fargate_core::exec::OutputKey;
use fargate_core::{Error, Ident, InvalidValue, Port, Ref, Resource};
use fargate_net::listener::{ListenerRuleSpec, MAX_PRIORITY, RuleConditions};
use fargate_net::security_group::{IngressRule, Source};
use fargate_net::target_group::{
    HealthCheck, OrphanedTargetGroups, TargetGroupSpec, TargetProtocol,
};
use typed_builder::TypedBuilder;

use super::common::defaults;
use super::common::{Retired, ShiftParts};
use super::container_service::{ContainerService, ContainerServiceSpec, Exposure};
use crate::deployer::App;
use crate::deployment::Deployment;
use crate::environment::Environment;
use crate::service::{LbAttachment, ServiceSpec};
use crate::shared_lb::{Needs, RuleNeed, TargetSettings, stable_hash};
use crate::{AwsContext, Clients};

/// What a frontend app is, as given; [`FrontendApp::builder`] checks it at
/// `build()` (no AWS calls).
///
/// ```
/// use fargate_deploy::{ContainerService, FrontendApp};
/// let web = FrontendApp::builder()
///     .service(
///         ContainerService::builder()
///             .name("web")
///             .image("public.ecr.aws/nginx/nginx:1.27")
///             .port(80)
///             .build()?,
///     )
///     .paths(vec!["/app/*".into()])
///     .health_check_path("/app/health")
///     .build()?;
/// assert_eq!(web.name().as_str(), "web");
///
/// let no_port = FrontendApp::builder()
///     .service(ContainerService::builder().name("web").image("nginx").build()?)
///     .build();
/// assert!(no_port.unwrap_err().to_string().contains("web.port"));
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// It deserializes from JSON: the service's fields ([`ContainerServiceSpec`]) and these, in one
/// object (unknown fields are refused), with the same defaults.
#[derive(Debug, Clone, TypedBuilder, serde::Deserialize, schemars::JsonSchema)]
#[builder(build_method(into = Result<FrontendApp, Error>))]
#[serde(deny_unknown_fields)]
pub struct FrontendAppSpec {
    /// The service; its `port` is where the load balancer sends traffic (required).
    #[serde(flatten)]
    #[schemars(with = "ContainerServiceSpec")]
    pub service: ContainerService,
    /// Path patterns routed to the app, like `/api/*` (default `/*`: everything).
    #[builder(default = default_paths())]
    #[serde(default = "default_paths")]
    pub paths: Vec<String>,
    /// Host headers routed to the app, like `www.example.com` or `*.example.com`
    /// (default: any host). With paths, a request must match both.
    #[builder(default)]
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The path the load balancer checks (default `/`).
    #[builder(default = default_health_check_path(), setter(into))]
    #[serde(default = "default_health_check_path")]
    pub health_check_path: String,
    /// The HTTP codes that mean healthy: `200`, `200-299` or `200,204` (default `200`).
    #[builder(default = default_healthy_codes(), setter(into))]
    #[serde(default = "default_healthy_codes")]
    pub healthy_codes: String,
    /// The listener rule's priority, 1 (first) to 50000; refused before any change
    /// when another rule on the listener holds it or another app asks for it.
    /// Default: a free priority allocated at plan time, keeping more specific
    /// conditions first (host headers, then longer literal path prefixes, `/*`
    /// last): a preferred position in the band of its specificity, spread by a
    /// hash of the app's name, moved to the next free one of the band when taken.
    /// A rule keeps its priority across applies.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub priority: Option<u32>,
    /// Seconds a task drains before it is deregistered (default 30; AWS's own is 300).
    #[builder(default = defaults::deregistration_delay())]
    #[serde(default = "defaults::deregistration_delay")]
    pub deregistration_delay: u32,
    /// Seconds after a task starts during which failing load balancer health
    /// checks do not stop it (default 60).
    #[builder(default = defaults::health_check_grace_period())]
    #[serde(default = "defaults::health_check_grace_period")]
    pub health_check_grace_period: u32,
    /// How a new revision rolls out: [`Deployment::blue_green`], [`Deployment::linear`],
    /// [`Deployment::canary`] or [`Deployment::rolling`] (default: the service's own, rolling).
    /// Blue/green, linear and canary add the app's alternate target group (same health
    /// check), forward the listener rule to both groups (ECS then owns the weights) and
    /// create the role ECS uses to move the traffic.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub deployment: Option<Deployment>,
    /// Blue/green, linear, canary: a request header, `name: value` (e.g. `x-test: 1`), that
    /// reaches the new revision before production traffic moves. It adds a second listener
    /// rule (the same paths and hosts, and the header, evaluated before the app's rule) that
    /// ECS points at the new revision during the test traffic stages
    /// (`advancedConfiguration.testListenerRule`): a lifecycle hook at
    /// `POST_TEST_TRAFFIC_SHIFT` (or a pause there) can try the new revision through the
    /// load balancer with the header. Default none (no test rule).
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub test_traffic_header: Option<String>,
    /// The app's own domain, e.g. `shop.example.com`: the environment's `domain` or a name
    /// under it. Requests with this host header are routed to the app (added to `hosts`), a
    /// Route 53 alias record points it at the shared ALB (an existing record of that name
    /// that is not an alias to this ALB is refused, never overwritten), and the app's URL is
    /// `https://<domain>`. Default none.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub domain: Option<String>,
}

/// Everything: `/*`.
fn default_paths() -> Vec<String> {
    vec!["/*".to_string()]
}

fn default_health_check_path() -> String {
    "/".to_string()
}

fn default_healthy_codes() -> String {
    "200".to_string()
}

/// A web app behind the environment's public Application Load Balancer. Build
/// with [`FrontendApp::builder`] and deploy with [`crate::Deployer`]; the
/// report's `<app>.url` says where it answers.
///
/// Several frontend apps of one environment share its ALB, each with its own
/// rule. Their priorities are allocated together at plan time against the
/// listener's rules, so they never collide; paths and hosts must differ, explicit
/// priorities too, and the ALB takes at most 100 rules (`Deployer::plan` says so
/// before any change).
/// Tasks accept traffic on their port from the ALB's security group only.
#[derive(Debug, Clone)]
pub struct FrontendApp {
    service: ContainerService,
    port: Port,
    conditions: RuleConditions,
    paths: Vec<String>,
    hosts: Vec<String>,
    domain: Option<crate::discovery::DnsName>,
    priority: Option<u32>,
    preferred: u32,
    target: TargetSettings,
    grace_period: u32,
    deployment: Deployment,
    /// The test listener rule's conditions and its preferred priority and window.
    test: Option<TestRule>,
}

/// The rule that sends test traffic (requests with the test header) to the new revision.
#[derive(Debug, Clone)]
struct TestRule {
    conditions: RuleConditions,
    preferred: u32,
    window: std::ops::RangeInclusive<u32>,
}

impl From<FrontendAppSpec> for Result<FrontendApp, Error> {
    fn from(spec: FrontendAppSpec) -> Self {
        FrontendApp::new(spec)
    }
}

/// The app's load balancer parts in an environment.
struct Parts {
    shift: Option<ShiftParts>,
    target_group: TargetGroupSpec,
    rule: ListenerRuleSpec,
    test_rule: Option<ListenerRuleSpec>,
    exposure: Exposure,
}

/// The width of a specificity band of rule priorities.
const BAND: u32 = 500;

/// The preferred rule priority: more specific conditions are evaluated first.
///
/// The specificity is 50 for host headers plus the shortest literal path
/// prefix (up to the first wildcard, capped at 40; an exact path counts one
/// more than its length). Each of the 91 specificity levels has a band of 500
/// priorities ([`band_of`]), where the app's name picks the preferred one; the
/// plan allocates the first free one of the band from there.
fn default_priority(name: &Ident, paths: &[String], hosts: &[String]) -> u32 {
    let literal = |p: &String| p.find(['*', '?']).unwrap_or(p.len() + 1);
    let path_score = paths.iter().map(literal).min().unwrap_or(0).min(40);
    let host_score = if hosts.is_empty() { 0 } else { 50 };
    let band = u32::try_from(90 - (path_score + host_score)).unwrap_or(90);
    let spread = u32::try_from(stable_hash(name.as_str()) % u64::from(BAND)).unwrap_or(0);
    band * BAND + 1 + spread
}

/// The specificity band of a preferred priority: the 500 priorities it was picked among.
fn band_of(preferred: u32) -> std::ops::RangeInclusive<u32> {
    let band = preferred.saturating_sub(1) / BAND;
    band * BAND + 1..=(band * BAND + BAND).min(MAX_PRIORITY)
}

/// `paths=/a,/b;hosts=x`: what two apps must not both route.
fn normalized_conditions(paths: &[String], hosts: &[String]) -> String {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v.dedup();
        v.join(",")
    };
    format!("paths={};hosts={}", sorted(paths), sorted(hosts))
}

/// The test rule of `test_traffic_header` (`name: value`): the app's conditions and the
/// header, at a priority before the app's rule (the band before its own, or below its
/// explicit priority), for a traffic-shifting deployment only.
fn test_rule(
    name: &Ident,
    header: &str,
    conditions: &RuleConditions,
    deployment: &Deployment,
    explicit: Option<u32>,
    preferred: u32,
) -> Result<TestRule, Error> {
    let field = format!("{name}.test_traffic_header");
    let bad = |why: &str, allowed: &str| InvalidValue::new(&field, header, why, allowed);
    if !deployment.needs_load_balancer() {
        return Err(bad(
            "test traffic needs a deployment that moves traffic",
            "a blue_green, linear or canary deployment (or no test_traffic_header)",
        )
        .into());
    }
    let (header_name, value) = header
        .split_once(':')
        .map(|(n, v)| (n.trim(), v.trim()))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| {
            bad(
                "not a header and a value",
                "`name: value`, e.g. `x-test: 1`",
            )
        })?;
    let conditions = conditions
        .clone()
        .with_http_header(header_name, [value])
        .map_err(|e| e.in_field(&field))?;
    let (preferred, window) = match explicit {
        Some(1) => {
            return Err(bad(
                "the app's rule has priority 1: no priority is left before it for the test rule",
                "an app priority of 2 or more",
            )
            .into());
        }
        Some(p) => (p - 1, 1..=p - 1),
        None if preferred > BAND => {
            let p = preferred - BAND;
            (p, band_of(p))
        }
        None => {
            return Err(bad(
                "the app's rule is in the most specific priority band: no band is left before it for the test rule",
                "an explicit app priority of 2 or more",
            )
            .into());
        }
    };
    Ok(TestRule {
        conditions,
        preferred,
        window,
    })
}

impl FrontendApp {
    /// Start describing a frontend app.
    pub fn builder() -> FrontendAppSpecBuilder {
        FrontendAppSpec::builder()
    }

    /// Validate a spec (no AWS calls).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field: `<app>.port` (missing),
    /// `<app>.paths`, `<app>.hosts`, `<app>.health_check_path`,
    /// `<app>.healthy_codes`, `<app>.priority`, `<app>.deregistration_delay`.
    pub fn new(spec: FrontendAppSpec) -> Result<Self, Error> {
        let name = spec.service.name().clone();
        let port = spec.service.port().ok_or_else(|| {
            InvalidValue::new(
                format!("{name}.port"),
                "",
                "a FrontendApp needs the port its container listens on (the load balancer sends traffic there)",
                "a port from 1 to 65535",
            )
        })?;
        let domain = spec
            .domain
            .as_deref()
            .map(|d| crate::domain::parse_domain(&format!("{name}.domain"), d))
            .transpose()?;
        let mut spec = spec;
        if let Some(d) = &domain
            && !spec.hosts.iter().any(|h| h == d.as_str())
        {
            // The domain first: the app's URL names it.
            spec.hosts.insert(0, d.to_string());
        }
        let conditions =
            RuleConditions::new(spec.paths.clone(), spec.hosts.clone()).map_err(|e| {
                let field = if e.field.ends_with("host_header") {
                    "hosts"
                } else {
                    "paths"
                };
                e.in_field(format!("{name}.{field}"))
            })?;
        let health_check = HealthCheck::http(&spec.health_check_path)
            .map_err(|e| e.in_field(format!("{name}.health_check_path")))?
            .matcher(&spec.healthy_codes)
            .map_err(|e| e.in_field(format!("{name}.healthy_codes")))?;
        if let Some(p) = spec.priority.filter(|p| !(1..=MAX_PRIORITY).contains(p)) {
            return Err(InvalidValue::new(
                format!("{name}.priority"),
                p.to_string(),
                "out of range",
                "1 to 50000",
            )
            .into());
        }
        let preferred = default_priority(&name, &spec.paths, &spec.hosts);
        let target = TargetSettings {
            protocol: TargetProtocol::Http,
            health_check,
            deregistration_delay: spec.deregistration_delay,
        };
        target.validate(&name, port)?;
        let deployment = spec
            .deployment
            .unwrap_or_else(|| spec.service.deployment().clone());
        crate::deployment::validate_for_app(&deployment, name.as_str(), true)?;
        let test = spec
            .test_traffic_header
            .as_deref()
            .map(|h| test_rule(&name, h, &conditions, &deployment, spec.priority, preferred))
            .transpose()?;
        Ok(Self {
            service: spec.service,
            port,
            conditions,
            paths: spec.paths,
            hosts: spec.hosts,
            domain,
            priority: spec.priority,
            preferred,
            target,
            grace_period: spec.health_check_grace_period,
            deployment,
            test,
        })
    }

    /// The app's name.
    pub fn name(&self) -> &Ident {
        self.service.name()
    }

    /// The container service inside.
    pub fn container_service(&self) -> &ContainerService {
        &self.service
    }

    /// The listener rule's priority as asked for: the explicit one, or else the
    /// preferred position (the rule gets it when it is free; see
    /// [`FrontendAppSpec::priority`]).
    pub fn priority(&self) -> u32 {
        self.priority.unwrap_or(self.preferred)
    }

    /// The explicit priority, when one was given.
    pub fn explicit_priority(&self) -> Option<u32> {
        self.priority
    }

    /// The alias record of the app's domain, checked against the environment's domain.
    fn alias_record(
        &self,
        env: &Environment,
    ) -> Result<Option<crate::domain::AliasRecordSpec>, Error> {
        let Some(domain) = &self.domain else {
            return Ok(None);
        };
        let field = format!("{}.domain", self.name());
        let Some(zone) = env.domain() else {
            return Err(InvalidValue::new(
                field,
                domain.as_str(),
                "the environment has no domain",
                "set environment.domain (the app's domain must be it or a name under it)",
            )
            .into());
        };
        if !crate::domain::is_within(domain, zone) {
            return Err(InvalidValue::new(
                field,
                domain.as_str(),
                format!("not within the environment's domain {zone}"),
                format!("{zone} or a name ending with .{zone}"),
            )
            .into());
        }
        let (lb, dns, hz) = env.shared_lb().alb_alias_target();
        Ok(Some(crate::domain::AliasRecordSpec::new(
            env.name().clone(),
            self.name().clone(),
            domain.clone(),
            zone.clone(),
            lb,
            dns,
            hz,
        )))
    }

    fn parts(&self, env: &Environment) -> Result<Parts, Error> {
        let shared = env.shared_lb();
        let name = self.name();
        let tags = &self.service.settings().tags;
        let target_group = self.target.target_group(
            env.name(),
            name,
            self.port,
            env.vpc_id(),
            env.network().vpc_resource_id(),
            tags,
        )?;
        let listener = shared.alb_listener();
        let siblings = shared.rules_on(&listener.id);
        let rule = ListenerRuleSpec::new(
            env.name(),
            name,
            listener.clone(),
            self.conditions.clone(),
            target_group.reference(),
            self.service.settings().ownership(env, "rule"),
        )
        .reported_as(name.as_str());
        let rule = match self.priority {
            Some(p) => rule.priority(p),
            None => rule.prefer_priority(self.preferred, band_of(self.preferred)),
        }
        .map_err(|e| e.in_field(format!("{name}.priority")))?
        .tags(tags.clone());
        let rule = match &siblings {
            Some(s) => rule.with_siblings(s.clone()),
            None => rule,
        };
        let test_rule = match &self.test {
            Some(t) => {
                let r = self
                    .test_rule_spec(env, &listener, &t.conditions, target_group.reference())
                    .reported_as(name.as_str())
                    .prefer_priority(t.preferred, t.window.clone())
                    .map_err(|e| e.in_field(format!("{name}.test_traffic_header")))?
                    .tags(tags.clone());
                Some(match &siblings {
                    Some(s) => r.with_siblings(s.clone()),
                    None => r,
                })
            }
            None => None,
        };
        let production = (Ref::Output(rule.arn()), rule.id().clone());
        let mut shift = self.service.settings().traffic_shift_for(
            &self.deployment,
            env,
            &self.target,
            self.port,
            production,
        )?;
        let (rule, test_rule) = match &mut shift {
            Some(s) => {
                let test_rule =
                    test_rule.map(|t| t.with_alternate_target_group(s.alternate.reference()));
                s.shift.test_listener_rule = test_rule
                    .as_ref()
                    .map(|t| (Ref::Output(t.arn()), t.id().clone()));
                (
                    rule.with_alternate_target_group(s.alternate.reference()),
                    test_rule,
                )
            }
            None => (rule, test_rule),
        };
        let (source, source_resource) = shared.alb_source();
        let exposure = Exposure {
            ingress: vec![IngressRule::tcp(self.port, Source::Group(source))],
            sg_after: source_resource.into_iter().collect(),
            load_balancers: vec![LbAttachment {
                target_group: Ref::Output(target_group.arn()),
                target_group_id: target_group.id().clone(),
                container_name: name.to_string(),
                container_port: self.port.get(),
            }],
            grace_period: Some(self.grace_period),
            // ECS refuses a target group no listener or rule uses yet.
            after: std::iter::once(rule.id().clone())
                .chain(test_rule.as_ref().map(|t| t.id().clone()))
                .collect(),
            deployment: Some(self.deployment.clone()),
            traffic_shift: shift.as_ref().map(|s| s.shift.clone()),
        };
        Ok(Parts {
            shift,
            target_group,
            rule,
            test_rule,
            exposure,
        })
    }

    /// The test rule on `listener` (its identity: the app's `test-rule` component), matching
    /// `conditions` and forwarding to `target_group`.
    fn test_rule_spec(
        &self,
        env: &Environment,
        listener: &fargate_net::listener::ListenerRef,
        conditions: &RuleConditions,
        target_group: fargate_net::target_group::TargetGroupRef,
    ) -> ListenerRuleSpec {
        ListenerRuleSpec::new(
            env.name(),
            self.name(),
            listener.clone(),
            conditions.clone(),
            target_group,
            self.service.settings().ownership(env, "test-rule"),
        )
    }

    /// The URL format: `http(s)://{}` (the ALB's DNS name) or the host name,
    /// then the literal prefix of the first path pattern.
    fn url_format(&self, env: &Environment) -> String {
        let scheme = if env.shared_lb().alb_https() {
            "https"
        } else {
            "http"
        };
        let host = self
            .hosts
            .iter()
            .find(|h| !h.contains(['*', '?']))
            .map_or("{}", String::as_str);
        let path = self
            .paths
            .first()
            .map(|p| p.split(['*', '?']).next().unwrap_or("/"))
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        format!("{scheme}://{host}{path}")
    }
}

impl App for FrontendApp {
    fn name(&self) -> &Ident {
        self.service.name()
    }

    fn task(&self, env: &Environment) -> Option<crate::deployer::TaskInfo> {
        App::task(&self.service, env)
    }

    fn preflight(&self, env: &Environment) -> Option<crate::preflight::Requirements> {
        App::preflight(&self.service, env)
    }

    fn service_connect_claims(&self, env: &Environment) -> Vec<crate::service_connect::Claim> {
        self.service.connect_claims(env)
    }

    fn cost_inputs(&self, env: &Environment) -> Vec<fargate_core::cost::TaskCost> {
        App::cost_inputs(&self.service, env)
    }

    fn resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let Parts {
            shift,
            target_group,
            rule,
            test_rule,
            exposure,
        } = self.parts(env)?;
        let service_id = self
            .service
            .service_spec(env, None, &exposure)
            .resource_id();
        let orphans: OrphanedTargetGroups = target_group.orphans(
            env.shared_lb().alb_load_balancer(),
            std::iter::once(rule.id().clone())
                .chain(test_rule.as_ref().map(|t| t.id().clone()))
                .chain([service_id]),
        );
        let settings = self.service.settings();
        let production = (Ref::Output(rule.arn()), rule.id().clone());
        let deployment = settings.deployment_resources(env, aws, shift, || {
            settings.traffic_shift(env, &self.target, self.port, production)
        })?;
        let mut out = self.service.resources_with(env, aws, exposure)?;
        let forward_to = target_group.reference();
        out.push(fargate_core::resource::node(target_group));
        match test_rule {
            Some(t) => out.push(fargate_core::resource::node(t)),
            // A test rule an earlier configuration made: destroy removes it.
            None => out.push(fargate_core::resource::node(Retired(self.test_rule_spec(
                env,
                rule.listener(),
                &self.conditions,
                forward_to,
            )))),
        }
        out.push(fargate_core::resource::node(rule));
        out.extend(deployment);
        out.push(fargate_core::resource::node(orphans));
        if let Some(alias) = self.alias_record(env)? {
            out.push(fargate_core::resource::node(alias));
        }
        // The alias records of the app's earlier domains (found by their markers).
        if let Some(zone) = env.domain() {
            let (lb, dns, _) = env.shared_lb().alb_alias_target();
            out.push(fargate_core::resource::node(
                crate::domain::StaleAliasRecords::new(
                    env.name().clone(),
                    self.name().clone(),
                    zone.clone(),
                    self.domain.clone(),
                    lb,
                    dns,
                ),
            ));
        }
        Ok(out)
    }

    fn service(&self, env: &Environment) -> Option<ServiceSpec> {
        match self.parts(env) {
            Ok(p) => Some(self.service.service_spec(env, None, &p.exposure)),
            Err(_) => App::service(&self.service, env),
        }
    }

    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)> {
        let mut keys = App::output_keys(&self.service, env);
        keys.push((
            format!("{}.url", self.name()),
            env.shared_lb().alb_dns_name(),
            self.url_format(env),
        ));
        keys
    }

    fn needs(&self) -> Needs {
        let mut needs = Needs::alb_rule(RuleNeed {
            priority: self.priority(),
            explicit: self.priority.is_some(),
            conditions: normalized_conditions(&self.paths, &self.hosts),
        });
        if let Some(t) = &self.test {
            needs.alb_rules.push(RuleNeed {
                priority: t.preferred,
                explicit: false,
                conditions: t.conditions.describe(),
            });
        }
        needs
    }

    fn listener_rules(&self, env: &Environment) -> Vec<ListenerRuleSpec> {
        // An app whose parts cannot be described fails in `resources` with the reason.
        self.parts(env)
            .map(|p| std::iter::once(p.rule).chain(p.test_rule).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str) -> Ident {
        s.parse().unwrap()
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn more_specific_rules_get_lower_priorities() {
        let catch_all = default_priority(&ident("a"), &paths(&["/*"]), &[]);
        let api = default_priority(&ident("b"), &paths(&["/api/*"]), &[]);
        let api_v2 = default_priority(&ident("c"), &paths(&["/api/v2/*"]), &[]);
        let exact = default_priority(&ident("d"), &paths(&["/api/v2"]), &[]);
        let host = default_priority(&ident("e"), &paths(&["/*"]), &paths(&["a.example.com"]));
        assert!(host < exact && exact < api_v2 && api_v2 < api && api < catch_all);
        assert!((1..=MAX_PRIORITY).contains(&catch_all));
        // A rule matching /api/* and /* is as general as /*.
        let mixed = default_priority(&ident("b"), &paths(&["/api/*", "/*"]), &[]);
        assert_eq!((mixed - 1) / 500, (catch_all - 1) / 500);
    }

    #[test]
    fn a_preferred_priority_lies_in_its_band_and_bands_keep_specificity_order() {
        for p in [1, 500, 501, 4_321, 45_001, 45_500] {
            assert!(band_of(p).contains(&p), "{p}");
            assert_eq!(band_of(p).count(), 500);
        }
        assert_eq!(band_of(45_500), 45_001..=45_500);
        let api = default_priority(&ident("b"), &paths(&["/api/*"]), &[]);
        let catch_all = default_priority(&ident("a"), &paths(&["/*"]), &[]);
        assert!(band_of(api).end() < band_of(catch_all).start());
    }

    /// 100 frontends on one listener (the ALB's quota): distinct priorities, every
    /// one in its specificity band, so the catch-all `/*` is evaluated last and the
    /// host rule first, although many preferred positions collide.
    #[test]
    fn a_hundred_frontends_get_distinct_priorities_in_specificity_order() {
        use fargate_net::listener::{ObservedPriorities, allocate_priorities};
        let env = Environment::builder().name("big").build().unwrap();
        let app = |name: &str, p: &[&str], hosts: &[&str]| {
            FrontendApp::builder()
                .service(
                    ContainerService::builder()
                        .name(name)
                        .image("nginx:1.27")
                        .port(80)
                        .build()
                        .unwrap(),
                )
                .paths(paths(p))
                .hosts(paths(hosts))
                .build()
                .unwrap()
        };
        let mut apps: Vec<FrontendApp> = (0..98)
            .map(|i| app(&format!("app-{i}"), &[&format!("/app-{i}/*")], &[]))
            .collect();
        apps.push(app("site", &["/*"], &[]));
        apps.push(app("admin", &["/*"], &["admin.example.com"]));
        let rules: Vec<ListenerRuleSpec> =
            apps.iter().flat_map(|a| a.listener_rules(&env)).collect();
        assert_eq!(rules.len(), 100);
        let preferred: std::collections::BTreeSet<u32> =
            apps.iter().map(FrontendApp::priority).collect();
        assert!(preferred.len() < 100, "some preferred positions collide");
        let claims: Vec<_> = rules.iter().map(|r| r.claim().clone()).collect();
        let got = allocate_priorities(&ObservedPriorities::default(), &claims);
        let given: Vec<u32> = got.values().map(|r| r.clone().unwrap()).collect();
        let distinct: std::collections::BTreeSet<u32> = given.iter().copied().collect();
        assert_eq!(distinct.len(), 100);
        let of = |app: &str| got[&format!("big/{app}/rule@big/alb:80")].clone().unwrap();
        assert_eq!(*distinct.last().unwrap(), of("site"), "/* last");
        assert_eq!(*distinct.first().unwrap(), of("admin"), "host rule first");
        for a in &apps {
            let p = of(a.name().as_str());
            assert!(band_of(a.priority()).contains(&p), "{} at {p}", a.name());
        }
    }

    #[test]
    fn conditions_are_compared_without_order() {
        assert_eq!(
            normalized_conditions(&paths(&["/b", "/a"]), &[]),
            normalized_conditions(&paths(&["/a", "/b", "/a"]), &[])
        );
    }
}
