//! Listeners ([`ListenerSpec`], [`AdoptedListener`]) and listener rules
//! ([`ListenerRuleSpec`]).
//!
//! A listener is found on its load balancer by port
//! (`DescribeListeners(LoadBalancerArn)`) and changed in place with one
//! ModifyListener carrying only what differs (protocol, certificate, SSL policy,
//! default action). Typical set-ups: HTTP 80 answering 404 when several apps
//! share the load balancer, HTTPS 443 with an ACM certificate and HTTP 80
//! redirecting to it, or an NLB TCP listener forwarding to one target group.
//!
//! A rule ([`ListenerRuleSpec`]) routes path patterns and/or host headers to a
//! target group; its priority is chosen at plan time by the pure function
//! [`allocate_priorities`] over the listener's rules and the other rules of the
//! plan on it ([`ListenerRules`]); the load balancer's quota of
//! [`MAX_RULES_PER_LOAD_BALANCER`] rules is checked at the same time.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ForwardActionConfig, Listener,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupTuple,
};
use fargate_core::Error;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, FieldDiff, Fields, InvalidValue, Kind, Mode, OutputKey,
    PlanValues, Port, Ref, Resolved, ResourceId, Round, StepContext, Tags, create_or_existing,
};
use serde_json::{Value, json};

use crate::NetClients;
use crate::elb::{AtPlan, ensure_elb_owned, is_new, name_from_arn, tags_by_arn, unless_absent};
use crate::load_balancer::LoadBalancerRef;
use crate::tagging::elb_tags;
use crate::target_group::TargetGroupRef;

mod priority;
mod rule;

pub use priority::{
    MAX_PRIORITY, MAX_RULES_PER_LOAD_BALANCER, ObservedPriorities, PriorityError, RuleClaim,
    allocate_priorities, preferred_priority,
};
pub use rule::{ListenerRuleSpec, ListenerRules, RULE_KIND, RuleConditions, rule_fields};

/// The resource kind of listeners in plans.
pub const LISTENER_KIND: &str = "elbv2:listener";
/// The SSL policy of HTTPS listeners unless another is given (TLS 1.3 and 1.2).
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// An ACM certificate ARN, checked for shape before any call:
/// `arn:<partition>:acm:<region>:<12-digit account>:certificate/<id>`.
///
/// ```
/// use fargate_net::listener::CertificateArn;
/// assert!("arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab".parse::<CertificateArn>().is_ok());
/// assert!("arn:aws:iam::123456789012:server-certificate/x".parse::<CertificateArn>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateArn(String);

impl CertificateArn {
    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CertificateArn {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let field_ok = |i: usize, f: &dyn Fn(&str) -> bool| parts.get(i).is_some_and(|p| f(p));
        let valid = parts.len() == 6
            && field_ok(0, &|p| p == "arn")
            && field_ok(1, &|p| p.starts_with("aws"))
            && field_ok(2, &|p| p == "acm")
            && field_ok(3, &|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            && field_ok(4, &|p| {
                p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit())
            })
            && field_ok(5, &|p| {
                p.strip_prefix("certificate/").is_some_and(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
            });
        if valid {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidValue::new(
                "listener.certificate_arn",
                s,
                "not an ACM certificate ARN",
                "arn:<partition>:acm:<region>:<12-digit account>:certificate/<id>",
            ))
        }
    }
}

impl fmt::Display for CertificateArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an HTTPS listener's default certificate comes from.
#[derive(Debug, Clone)]
pub enum ListenerCertificate {
    /// A certificate ARN given as input (checked for shape).
    Arn(CertificateArn),
    /// The ARN another resource of the plan produces (a certificate fargate-rs requests):
    /// known at plan time when that certificate exists, else after its step.
    Output {
        /// The ARN.
        arn: Ref<String>,
        /// The resource that produces it (the listener depends on it).
        producer: ResourceId,
    },
}

impl ListenerCertificate {
    /// The ARN at plan time: the given one, or the producer's plan-time value.
    pub fn at_plan(&self, resolved: Option<&Resolved>) -> Option<String> {
        match self {
            ListenerCertificate::Arn(a) => Some(a.as_str().to_string()),
            ListenerCertificate::Output { arn, .. } => resolved.and_then(|r| r.get_ref(arn)),
        }
    }

    /// The ARN during apply.
    fn resolve(&self, ctx: &StepContext) -> Result<String, Error> {
        match self {
            ListenerCertificate::Arn(a) => Ok(a.as_str().to_string()),
            ListenerCertificate::Output { arn, .. } => arn.resolve(ctx),
        }
    }
}

/// A listener's protocol.
#[derive(Debug, Clone)]
pub enum ListenerProtocol {
    /// Plain HTTP (ALB).
    Http,
    /// HTTPS (ALB) with a certificate and an SSL policy.
    Https {
        /// The default certificate.
        certificate: ListenerCertificate,
        /// The SSL policy.
        ssl_policy: String,
    },
    /// TCP (NLB).
    Tcp,
}

impl ListenerProtocol {
    fn sdk(&self) -> ProtocolEnum {
        match self {
            ListenerProtocol::Http => ProtocolEnum::Http,
            ListenerProtocol::Https { .. } => ProtocolEnum::Https,
            ListenerProtocol::Tcp => ProtocolEnum::Tcp,
        }
    }
}

/// What a listener does with a request no rule matched, or what a rule does.
#[derive(Debug, Clone)]
pub enum ListenerAction {
    /// Answer directly (for example `404` on a load balancer shared by several apps).
    FixedResponse {
        /// The HTTP status, 200–599.
        status: u16,
        /// The content type.
        content_type: String,
        /// The body.
        body: String,
    },
    /// Forward to a target group.
    Forward(TargetGroupRef),
    /// Forward to `production`, with `alternate` beside it at weight 0: the two target groups
    /// an ECS blue/green, linear or canary deployment moves traffic between. ECS owns the
    /// weights, so a forward to these two groups with any weights is no change in plans.
    ForwardShifted {
        /// The target group that serves first.
        production: TargetGroupRef,
        /// The other one.
        alternate: TargetGroupRef,
    },
    /// Redirect to HTTPS on this port with `301 Moved Permanently`.
    RedirectToHttps(Port),
}

impl ListenerAction {
    /// `404 Not Found`, text/plain: the default of a shared load balancer.
    pub fn not_found() -> Self {
        ListenerAction::FixedResponse {
            status: 404,
            content_type: "text/plain".into(),
            body: "Not Found".into(),
        }
    }

    /// Redirect to HTTPS on 443 (301).
    pub fn redirect_to_https() -> Self {
        ListenerAction::RedirectToHttps(Port::HTTPS)
    }

    /// The action as compared in plans (pure): a forward is compared by target group name.
    fn value(&self) -> Value {
        match self {
            ListenerAction::FixedResponse {
                status,
                content_type,
                body,
            } => json!({
                "type": "fixed-response",
                "status_code": status.to_string(),
                "content_type": content_type,
                "message_body": body,
            }),
            ListenerAction::Forward(tg) => {
                json!({"type": "forward", "target_group": tg.name.as_str()})
            }
            ListenerAction::ForwardShifted {
                production,
                alternate,
            } => {
                let mut names = [production.name.as_str(), alternate.name.as_str()];
                names.sort_unstable();
                json!({"type": "forward", "target_groups": names, "weights": "managed by ECS"})
            }
            ListenerAction::RedirectToHttps(port) => json!({
                "type": "redirect",
                "protocol": "HTTPS",
                "port": port.to_string(),
                "host": "#{host}",
                "path": "/#{path}",
                "query": "#{query}",
                "status_code": "HTTP_301",
            }),
        }
    }

    /// The SDK action, with the target group ARN resolved.
    fn sdk(&self, ctx: &StepContext) -> Result<Action, Error> {
        Ok(match self {
            ListenerAction::FixedResponse {
                status,
                content_type,
                body,
            } => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code(status.to_string())
                        .content_type(content_type)
                        .message_body(body)
                        .build(),
                )
                .build(),
            ListenerAction::Forward(tg) => Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg.arn.resolve(ctx)?)
                .build(),
            ListenerAction::ForwardShifted {
                production,
                alternate,
            } => {
                let tuple = |tg: &TargetGroupRef, weight: i32| -> Result<TargetGroupTuple, Error> {
                    Ok(TargetGroupTuple::builder()
                        .target_group_arn(tg.arn.resolve(ctx)?)
                        .weight(weight)
                        .build())
                };
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(tuple(production, 100)?)
                            .target_groups(tuple(alternate, 0)?)
                            .build(),
                    )
                    .build()
            }
            ListenerAction::RedirectToHttps(port) => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port(port.to_string())
                        .host("#{host}")
                        .path("/#{path}")
                        .query("#{query}")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build(),
        })
    }

    fn validate(&self) -> Result<(), InvalidValue> {
        if let ListenerAction::FixedResponse {
            status,
            content_type,
            body,
        } = self
        {
            if !(200..=599).contains(status) {
                return Err(InvalidValue::new(
                    "listener.action.status",
                    status.to_string(),
                    "not an HTTP status",
                    "200 to 599",
                ));
            }
            let types = [
                "text/plain",
                "text/css",
                "text/html",
                "application/javascript",
                "application/json",
            ];
            if !types.contains(&content_type.as_str()) {
                return Err(InvalidValue::new(
                    "listener.action.content_type",
                    content_type,
                    "not supported by ELB",
                    types.join(", "),
                ));
            }
            if body.len() > 1024 {
                return Err(InvalidValue::new(
                    "listener.action.body",
                    format!("{} bytes", body.len()),
                    "too long",
                    "at most 1024 bytes",
                ));
            }
        }
        Ok(())
    }

    fn dependency(&self) -> Vec<ResourceId> {
        match self {
            ListenerAction::Forward(tg) => vec![tg.id.clone()],
            ListenerAction::ForwardShifted {
                production,
                alternate,
            } => vec![production.id.clone(), alternate.id.clone()],
            _ => Vec::new(),
        }
    }

    /// An observed action value as this desired action compares it (pure): for
    /// [`ListenerAction::ForwardShifted`], a forward to one or both of its target groups,
    /// whatever the weights, is this action; anything else is compared as it is.
    pub fn normalize_observed(&self, observed: Value) -> Value {
        let ListenerAction::ForwardShifted {
            production,
            alternate,
        } = self
        else {
            return observed;
        };
        let ours = [production.name.as_str(), alternate.name.as_str()];
        let is_ours = |v: &Value| v.as_str().is_some_and(|n| ours.contains(&n));
        let forward = observed.get("type").and_then(Value::as_str) == Some("forward");
        let single = observed.get("target_group").is_some_and(is_ours);
        let several = observed
            .get("target_groups")
            .and_then(Value::as_array)
            .is_some_and(|g| {
                !g.is_empty() && g.iter().all(|t| t.get("target_group").is_some_and(is_ours))
            });
        if forward && (single || several) {
            self.value()
        } else {
            observed
        }
    }
}

/// Observed actions as compared in plans (pure): one action as an object, several as a
/// list ordered by `Order`; a forward names its target group (from the ARN), a redirect
/// has AWS's `#{...}` defaults filled in.
pub fn actions_value(actions: &[Action]) -> Value {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    let mut values: Vec<Value> = sorted.into_iter().map(action_value).collect();
    if values.len() == 1 {
        values.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(values)
    }
}

fn action_value(a: &Action) -> Value {
    match a.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let mut groups: Vec<Value> = Vec::new();
            if let Some(cfg) = a.forward_config() {
                for t in cfg.target_groups() {
                    let name = t
                        .target_group_arn()
                        .and_then(name_from_arn)
                        .unwrap_or_default();
                    groups.push(json!({"target_group": name, "weight": t.weight()}));
                }
            }
            match (a.target_group_arn(), groups.len()) {
                (Some(arn), _) => {
                    json!({"type": "forward", "target_group": name_from_arn(arn).unwrap_or(arn)})
                }
                (None, 1) => {
                    json!({"type": "forward", "target_group": groups.first().and_then(|g| g.get("target_group")).cloned()})
                }
                (None, _) => json!({"type": "forward", "target_groups": groups}),
            }
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let c = a.fixed_response_config();
            json!({
                "type": "fixed-response",
                "status_code": c.and_then(|c| c.status_code()),
                "content_type": c.and_then(|c| c.content_type()),
                "message_body": c.and_then(|c| c.message_body()).unwrap_or_default(),
            })
        }
        Some(ActionTypeEnum::Redirect) => {
            let c = a.redirect_config();
            json!({
                "type": "redirect",
                "protocol": c.and_then(|c| c.protocol()).unwrap_or("#{protocol}"),
                "port": c.and_then(|c| c.port()).unwrap_or("#{port}"),
                "host": c.and_then(|c| c.host()).unwrap_or("#{host}"),
                "path": c.and_then(|c| c.path()).unwrap_or("/#{path}"),
                "query": c.and_then(|c| c.query()).unwrap_or("#{query}"),
                "status_code": c.and_then(|c| c.status_code()).map(|s| s.as_str()),
            })
        }
        other => json!({"type": other.map(|t| t.as_str())}),
    }
}

/// How rules and API Gateway integrations refer to a listener: its ARN during apply, and
/// at plan time the ARN if known or else its load balancer and port.
#[derive(Debug, Clone)]
pub struct ListenerRef {
    /// The listener resource (a dependency of its users).
    pub id: ResourceId,
    /// Its ARN.
    pub arn: Ref<String>,
    /// Its load balancer and port, to look it up at plan time.
    pub lookup: Option<(LoadBalancerRef, Port)>,
}

impl ListenerRef {
    /// The listener's ARN as it is now, if it exists (read-only): known, or published at
    /// plan time by the listener resource when it is in the same plan (no call), or else
    /// looked up on its load balancer by port.
    ///
    /// The look-ups are shared with the load balancer and listener resources of the same
    /// plan (no second call). Its dependents' diffs tell a listener this apply creates
    /// (`elb::is_new`): what this finds of it now is then not what they will meet.
    ///
    /// # Errors
    /// DescribeLoadBalancers or DescribeListeners failed.
    pub async fn observe_arn(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
    ) -> Result<Option<String>, Error> {
        if let Some(arn) = round.get_ref(&self.arn).await {
            return Ok(Some(arn));
        }
        let Some((lb, port)) = &self.lookup else {
            return Ok(None);
        };
        let Some(lb_arn) = lb.observe_arn(elb, round).await? else {
            return Ok(None);
        };
        let listeners = plan_listeners(elb, round, &self.id, &lb_arn).await?;
        Ok(on_port(&listeners, *port).and_then(|l| l.listener_arn().map(str::to_string)))
    }

    /// What a dependent's diff knows of the listener (pure), given what its observe found
    /// ([`observe_arn`](Self::observe_arn)): its ARN (`Value`), "does not exist yet" (`New`:
    /// not found, or created or replaced by this apply), or "cannot be known before apply"
    /// (`Unplanned`: not in this plan and no way to look it up). The listener must be in
    /// the dependent's `depends_on`.
    // For the API Gateway integration once it moves to `Kind` (it plans on the board now).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn at_plan(&self, observed: Option<&str>, resolved: &Resolved) -> AtPlan<String> {
        if is_new(resolved, &self.id) {
            return AtPlan::New;
        }
        match observed {
            Some(arn) => AtPlan::Value(arn.to_string()),
            None if self.lookup.is_some() || resolved.change_of(&self.id).is_some() => AtPlan::New,
            None => AtPlan::Unplanned,
        }
    }
}

/// Every listener of the load balancer `lb_arn`, every page (`None`: the load balancer is
/// gone).
#[tracing::instrument(skip_all, fields(resource = %id, load_balancer = %lb_arn))]
async fn describe_listeners_of(
    elb: &ElbClient,
    id: &ResourceId,
    lb_arn: &str,
) -> Result<Option<Vec<Listener>>, Error> {
    let mut listeners = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .page_size(LISTENER_PAGE_SIZE)
            .set_marker(marker.take())
            .send()
            .await;
        let Some(out) = unless_absent(out, id, "DescribeListeners", |e| {
            e.is_load_balancer_not_found_exception()
        })?
        else {
            return Ok(None);
        };
        listeners.extend(out.listeners().iter().cloned());
        match out.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(Some(listeners)),
        }
    }
}

/// DescribeListeners returns at most this many per page (AWS's maximum).
const LISTENER_PAGE_SIZE: i32 = 400;

/// Every listener of the load balancer `lb_arn`, read once per plan: the listeners of one
/// load balancer, the rules on them and the rule quota share one DescribeListeners.
pub(crate) async fn plan_listeners(
    elb: &ElbClient,
    round: &Round<'_>,
    id: &ResourceId,
    lb_arn: &str,
) -> Result<Arc<Option<Vec<Listener>>>, Error> {
    round
        .observe_once(&listeners_key(lb_arn), || {
            describe_listeners_of(elb, id, lb_arn)
        })
        .await
}

/// The key under which a plan shares the listeners of the load balancer `lb_arn`.
fn listeners_key(lb_arn: &str) -> String {
    format!("{LISTENER_KIND}:of:{lb_arn}")
}

/// The listener on `port` among `listeners`.
fn on_port(listeners: &Option<Vec<Listener>>, port: Port) -> Option<Listener> {
    listeners
        .as_ref()?
        .iter()
        .find(|l| l.port() == Some(i32::from(port)))
        .cloned()
}

/// The listener on `port` of the load balancer `lb_arn`, if any (read now, at apply time).
async fn find_listener(
    elb: &ElbClient,
    id: &ResourceId,
    lb_arn: &str,
    port: Port,
) -> Result<Option<Listener>, Error> {
    Ok(on_port(
        &describe_listeners_of(elb, id, lb_arn).await?,
        port,
    ))
}

/// A listener fargate-rs creates and owns on a load balancer.
///
/// ```
/// use fargate_core::{Ident, Ownership, Ref};
/// use fargate_net::listener::{ListenerAction, ListenerSpec};
/// use fargate_net::load_balancer::{LoadBalancerSpec, Scheme};
///
/// let env: Ident = "prod".parse()?;
/// let owner = Ownership::new(env.clone()).with_component("alb");
/// let alb = LoadBalancerSpec::application(&env, Scheme::InternetFacing,
///     Ref::Known(vec!["subnet-a".into(), "subnet-b".into()]), Ref::Known(vec!["sg-1".into()]), owner.clone())?;
/// let https = ListenerSpec::https(
///     alb.reference(),
///     "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c",
///     ListenerAction::not_found(),
///     owner.clone(),
/// )?;
/// let http = ListenerSpec::http(alb.reference(), ListenerAction::redirect_to_https(), owner)?;
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    id: ResourceId,
    load_balancer: LoadBalancerRef,
    port: Port,
    protocol: ListenerProtocol,
    default_action: ListenerAction,
    owner: Ownership,
    tags: Tags,
}

fn listener_id(lb: &LoadBalancerRef, port: Port) -> ResourceId {
    ResourceId::new(LISTENER_KIND, format!("{}:{port}", lb.id.name))
}

impl ListenerSpec {
    /// A listener on `port` with `protocol` and `default_action`.
    ///
    /// # Errors
    /// [`InvalidValue`] for a fixed response that ELB would refuse.
    pub fn new(
        load_balancer: LoadBalancerRef,
        port: Port,
        protocol: ListenerProtocol,
        default_action: ListenerAction,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        default_action.validate()?;
        Ok(Self {
            id: listener_id(&load_balancer, port),
            load_balancer,
            port,
            protocol,
            default_action,
            owner,
            tags: Tags::new(),
        })
    }

    /// HTTP on port 80.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn http(
        load_balancer: LoadBalancerRef,
        default_action: ListenerAction,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        Self::new(
            load_balancer,
            Port::HTTP,
            ListenerProtocol::Http,
            default_action,
            owner,
        )
    }

    /// HTTPS on port 443 with this ACM certificate and the default SSL policy
    /// ([`DEFAULT_SSL_POLICY`]).
    ///
    /// # Errors
    /// [`InvalidValue`] when `certificate_arn` is not an ACM certificate ARN.
    pub fn https(
        load_balancer: LoadBalancerRef,
        certificate_arn: &str,
        default_action: ListenerAction,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        let certificate: CertificateArn = certificate_arn.parse()?;
        Self::new(
            load_balancer,
            Port::HTTPS,
            ListenerProtocol::Https {
                certificate: ListenerCertificate::Arn(certificate),
                ssl_policy: DEFAULT_SSL_POLICY.into(),
            },
            default_action,
            owner,
        )
    }

    /// HTTPS on port 443 with the certificate whose ARN `producer` publishes as `arn` (a
    /// certificate requested in the same plan) and the default SSL policy.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn https_from(
        load_balancer: LoadBalancerRef,
        arn: Ref<String>,
        producer: ResourceId,
        default_action: ListenerAction,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        Self::new(
            load_balancer,
            Port::HTTPS,
            ListenerProtocol::Https {
                certificate: ListenerCertificate::Output { arn, producer },
                ssl_policy: DEFAULT_SSL_POLICY.into(),
            },
            default_action,
            owner,
        )
    }

    /// TCP on `port` forwarding to one target group (an NLB in front of one API).
    pub fn tcp(
        load_balancer: LoadBalancerRef,
        port: Port,
        target_group: TargetGroupRef,
        owner: Ownership,
    ) -> Self {
        Self {
            id: listener_id(&load_balancer, port),
            load_balancer,
            port,
            protocol: ListenerProtocol::Tcp,
            default_action: ListenerAction::Forward(target_group),
            owner,
            tags: Tags::new(),
        }
    }

    /// Another SSL policy for an HTTPS listener.
    ///
    /// # Errors
    /// [`InvalidValue`] when the listener is not HTTPS or the policy is not an `ELBSecurityPolicy-*` name.
    pub fn ssl_policy(mut self, policy: &str) -> Result<Self, InvalidValue> {
        let ListenerProtocol::Https { ssl_policy, .. } = &mut self.protocol else {
            return Err(InvalidValue::new(
                "listener.ssl_policy",
                policy,
                "only HTTPS listeners have an SSL policy",
                "an HTTPS listener",
            ));
        };
        if !policy.starts_with("ELBSecurityPolicy-") || policy.chars().any(char::is_whitespace) {
            return Err(InvalidValue::new(
                "listener.ssl_policy",
                policy,
                "not an ELB security policy name",
                "a policy name such as ELBSecurityPolicy-TLS13-1-2-2021-06",
            ));
        }
        *ssl_policy = policy.into();
        Ok(self)
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// A listener forwarding to a target group forwards with `alternate` beside it at
    /// weight 0, for an ECS blue/green, linear or canary deployment that moves traffic
    /// between the two ([`ListenerAction::ForwardShifted`]); other listeners are unchanged.
    #[must_use]
    pub fn with_alternate_target_group(mut self, alternate: TargetGroupRef) -> Self {
        if let ListenerAction::Forward(production) = &self.default_action {
            self.default_action = ListenerAction::ForwardShifted {
                production: production.clone(),
                alternate,
            };
        }
        self
    }

    /// The ARN output key.
    pub fn arn(&self) -> OutputKey<String> {
        self.id.output("arn")
    }

    /// How rules and integrations refer to it.
    pub fn reference(&self) -> ListenerRef {
        ListenerRef {
            id: self.id.clone(),
            arn: Ref::Output(self.arn()),
            lookup: Some((self.load_balancer.clone(), self.port)),
        }
    }

    /// The managed fields as desired (pure); a certificate produced by another step
    /// shows as "(known after apply)" until its ARN is known.
    pub fn desired_fields(&self) -> Fields {
        self.desired_fields_with(None)
    }

    /// The certificate ARN known at plan time (`None`: not HTTPS, or not known yet).
    fn certificate_at(&self, resolved: Option<&Resolved>) -> Option<String> {
        match &self.protocol {
            ListenerProtocol::Https { certificate, .. } => certificate.at_plan(resolved),
            _ => None,
        }
    }

    /// The certificate ARN during apply, when its producer published it.
    fn certificate_now(&self, ctx: &StepContext) -> Option<String> {
        match &self.protocol {
            ListenerProtocol::Https { certificate, .. } => certificate.resolve(ctx).ok(),
            _ => None,
        }
    }

    fn desired_fields_with(&self, known_certificate: Option<String>) -> Fields {
        let (certificate, ssl_policy) = match &self.protocol {
            ListenerProtocol::Https {
                certificate,
                ssl_policy,
            } => (
                json!(
                    known_certificate
                        .or_else(|| certificate.at_plan(None))
                        .as_deref()
                        .unwrap_or(crate::deferred::KNOWN_AFTER_APPLY)
                ),
                json!(ssl_policy),
            ),
            _ => (Value::Null, Value::Null),
        };
        Fields::new()
            .with("protocol", self.protocol.sdk().as_str())
            .with("certificate", certificate)
            .with("ssl_policy", ssl_policy)
            .with("default_action", self.default_action.value())
    }

    /// The change from `observed` to this spec (pure).
    pub fn diff(&self, observed: Option<&Listener>) -> Change {
        self.diff_fields(observed.map(listener_fields).as_ref(), None)
    }

    /// The change from a listener's observed fields ([`listener_fields`]) to this spec (pure).
    fn diff_fields(&self, observed: Option<&Fields>, certificate: Option<String>) -> Change {
        let observed = observed.map(|f| {
            let mut f = f.clone();
            if let Some(v) = f.get("default_action").cloned() {
                f.set("default_action", self.default_action.normalize_observed(v));
            }
            f
        });
        Change::compute(
            &self.desired_fields_with(certificate),
            observed.as_ref(),
            &[],
        )
    }
}

/// The managed fields of a listener as AWS reports it (pure): certificate and SSL policy
/// only for HTTPS/TLS listeners.
pub fn listener_fields(l: &Listener) -> Fields {
    let protocol = l
        .protocol()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let secure = protocol == "HTTPS" || protocol == "TLS";
    let certificate = l
        .certificates()
        .iter()
        .find_map(|c| c.certificate_arn())
        .filter(|_| secure)
        .map_or(Value::Null, |c| json!(c));
    let ssl_policy = l
        .ssl_policy()
        .filter(|_| secure)
        .map_or(Value::Null, |p| json!(p));
    Fields::new()
        .with("protocol", protocol)
        .with("certificate", certificate)
        .with("ssl_policy", ssl_policy)
        .with("default_action", actions_value(l.default_actions()))
}

impl ListenerSpec {
    fn certificates(&self, ctx: &StepContext) -> Result<Option<Vec<Certificate>>, Error> {
        match &self.protocol {
            ListenerProtocol::Https { certificate, .. } => Ok(Some(vec![
                Certificate::builder()
                    .certificate_arn(certificate.resolve(ctx)?)
                    .build(),
            ])),
            _ => Ok(None),
        }
    }

    fn ssl_policy_value(&self) -> Option<String> {
        match &self.protocol {
            ListenerProtocol::Https { ssl_policy, .. } => Some(ssl_policy.clone()),
            _ => None,
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_listener(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
    ) -> Result<Option<ObservedListener>, Error> {
        let Some(lb_arn) = self.load_balancer.observe_arn(elb, round).await? else {
            return Ok(None);
        };
        let listeners = plan_listeners(elb, round, &self.id, &lb_arn).await?;
        let Some(listener) = on_port(&listeners, self.port) else {
            return Ok(None);
        };
        Ok(self
            .owned(elb, listener)
            .await?
            .map(|listener| ObservedListener {
                lb_arn,
                arn: listener.listener_arn().unwrap_or_default().to_string(),
                fields: listener_fields(&listener),
            }))
    }

    /// The listener on our port of the load balancer `lb_arn`, ownership checked.
    async fn observe_on(&self, elb: &ElbClient, lb_arn: &str) -> Result<Option<Listener>, Error> {
        let Some(listener) = find_listener(elb, &self.id, lb_arn, self.port).await? else {
            return Ok(None);
        };
        self.owned(elb, listener).await
    }

    /// `listener` when its tags show it is ours; [`Error::NotOwned`] otherwise.
    async fn owned(&self, elb: &ElbClient, listener: Listener) -> Result<Option<Listener>, Error> {
        let arn = listener.listener_arn().unwrap_or_default().to_string();
        let tags = tags_by_arn(elb, &self.id, std::slice::from_ref(&arn)).await?;
        ensure_elb_owned(
            &self.owner,
            &self.id,
            &arn,
            tags.get(&arn).map(Vec::as_slice).unwrap_or_default(),
        )?;
        Ok(Some(listener))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn create(&self, elb: &ElbClient, ctx: &StepContext, lb_arn: &str) -> Result<(), Error> {
        let out = elb
            .create_listener()
            .load_balancer_arn(lb_arn)
            .port(i32::from(self.port))
            .protocol(self.protocol.sdk())
            .set_certificates(self.certificates(ctx)?)
            .set_ssl_policy(self.ssl_policy_value())
            .default_actions(self.default_action.sdk(ctx)?)
            .set_tags(Some(elb_tags(&self.owner, &self.tags, &self.id.name)))
            .send()
            .await;
        // A retried create whose first attempt was applied meets its own listener.
        let found = || self.observe_on(elb, lb_arn);
        let out = match create_or_existing(
            ctx,
            &self.id,
            "CreateListener",
            out,
            |e| e.is_duplicate_listener_exception(),
            found,
        )
        .await?
        {
            Created::New(out) => out,
            Created::Existing(listener) => {
                let arn = listener.listener_arn().unwrap_or_default().to_string();
                ctx.set(&self.arn(), arn.clone());
                let certificate = self
                    .certificate_at(None)
                    .or_else(|| self.certificate_now(ctx));
                return match self.diff_fields(Some(&listener_fields(&listener)), certificate) {
                    Change::Update { diffs } => self.update(elb, ctx, &arn, &diffs).await,
                    _ => Ok(()),
                };
            }
        };
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| Error::Unexpected {
                resource: self.id.clone(),
                operation: "CreateListener".into(),
                detail: "no listener ARN in the answer".into(),
            })?;
        ctx.set(&self.arn(), arn.to_string());
        Ok(())
    }

    /// One ModifyListener with only the changed parts.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn update(
        &self,
        elb: &ElbClient,
        ctx: &StepContext,
        arn: &str,
        diffs: &[FieldDiff],
    ) -> Result<(), Error> {
        let changed = |name: &str| diffs.iter().any(|d| d.field == name);
        let mut req = elb.modify_listener().listener_arn(arn);
        if changed("protocol") {
            req = req
                .protocol(self.protocol.sdk())
                .set_certificates(self.certificates(ctx)?)
                .set_ssl_policy(self.ssl_policy_value());
        } else {
            if changed("certificate") {
                req = req.set_certificates(self.certificates(ctx)?);
            }
            if changed("ssl_policy") {
                req = req.set_ssl_policy(self.ssl_policy_value());
            }
        }
        if changed("default_action") {
            req = req.default_actions(self.default_action.sdk(ctx)?);
        }
        req.send().await.context(&self.id, "ModifyListener")?;
        Ok(())
    }
}

/// A listener as observed: its load balancer, its ARN and its managed fields
/// ([`listener_fields`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedListener {
    /// The ARN of its load balancer.
    pub lb_arn: String,
    /// The listener ARN.
    pub arn: String,
    /// The managed fields as AWS reports them.
    pub fields: Fields,
}

impl<C> Kind<C> for ListenerSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedListener;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut deps = vec![self.load_balancer.id.clone()];
        deps.extend(self.default_action.dependency());
        if let ListenerProtocol::Https {
            certificate: ListenerCertificate::Output { producer, .. },
            ..
        } = &self.protocol
        {
            deps.push(producer.clone());
        }
        deps
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedListener>, Error>> {
        Box::pin(self.observe_listener(&clients.as_ref().elb, round))
    }

    fn diff(
        &self,
        observed: Option<&ObservedListener>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        Ok(self.diff_fields(
            self.kept(observed, resolved).map(|o| &o.fields),
            self.certificate_at(Some(resolved)),
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedListener>,
        _: &Change,
        resolved: &Resolved,
    ) -> PlanValues {
        // An existing listener keeps its ARN: rules and integrations may plan against it.
        match self.kept(observed, resolved) {
            Some(o) => PlanValues::new().with(&self.arn(), &o.arn),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedListener>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let elb = &clients.as_ref().elb;
            let lb_arn = self.load_balancer.arn.resolve(ctx)?;
            match (change, observed) {
                (Change::Create { .. }, _) => self.create(elb, ctx, &lb_arn).await,
                // The listener found at plan time is on the load balancer we have now.
                (_, Some(o)) if o.lb_arn == lb_arn => {
                    ctx.set(&self.arn(), o.arn.clone());
                    match change {
                        Change::Update { diffs } => self.update(elb, ctx, &o.arn, diffs).await,
                        _ => Ok(()),
                    }
                }
                // New, or its load balancer was replaced during this apply.
                _ => self.create(elb, ctx, &lb_arn).await,
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        _: &'a StepContext,
        observed: &'a ObservedListener,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(delete_listener(
            &clients.as_ref().elb,
            &self.id,
            &observed.arn,
        ))
    }
}

impl ListenerSpec {
    /// The observed listener, unless this apply creates or replaces its load balancer (then
    /// the listener is created on the new one).
    fn kept<'o>(
        &self,
        observed: Option<&'o ObservedListener>,
        resolved: &Resolved,
    ) -> Option<&'o ObservedListener> {
        observed.filter(|_| !is_new(resolved, &self.load_balancer.id))
    }
}

/// Deletes a listener (its rules go with it); gone already is fine.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn delete_listener(elb: &ElbClient, id: &ResourceId, arn: &str) -> Result<(), Error> {
    let out = elb.delete_listener().listener_arn(arn).send().await;
    unless_absent(out, id, "DeleteListener", |e| {
        e.is_listener_not_found_exception()
    })
    .map(|_| ())
}

/// Whether the listener with this ARN exists.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn listener_exists(elb: &ElbClient, id: &ResourceId, arn: &str) -> Result<bool, Error> {
    let out = elb.describe_listeners().listener_arns(arn).send().await;
    Ok(unless_absent(out, id, "DescribeListeners", |e| {
        e.is_listener_not_found_exception()
    })?
    .is_some_and(|out| !out.listeners().is_empty()))
}

/// An existing listener used as it is: never modified or deleted. Rules can be added to it.
#[derive(Debug, Clone)]
pub struct AdoptedListener {
    id: ResourceId,
    arn: String,
}

impl AdoptedListener {
    /// Adopt the listener with this ARN, known in plans as `name`.
    ///
    /// # Errors
    /// [`InvalidValue`] when `arn` is not a listener ARN
    /// (`arn:<partition>:elasticloadbalancing:<region>:<account>:listener/app|net/<lb>/<id>/<id>`).
    pub fn new(name: impl Into<String>, arn: impl Into<String>) -> Result<Self, InvalidValue> {
        let arn = arn.into();
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts.first() == Some(&"arn")
            && parts.get(2) == Some(&"elasticloadbalancing")
            && parts.get(5).is_some_and(|r| {
                let segs: Vec<&str> = r.split('/').collect();
                segs.len() == 5
                    && segs.first() == Some(&"listener")
                    && segs.iter().all(|s| !s.is_empty())
            });
        if !ok {
            return Err(InvalidValue::new(
                "listener.arn",
                arn,
                "not a listener ARN",
                "arn:<partition>:elasticloadbalancing:<region>:<account>:listener/app|net/<lb-name>/<lb-id>/<listener-id>",
            ));
        }
        Ok(Self {
            id: ResourceId::new(LISTENER_KIND, name),
            arn,
        })
    }

    /// The ARN output key (published for symmetry with managed listeners).
    pub fn arn(&self) -> OutputKey<String> {
        self.id.output("arn")
    }

    /// How rules and integrations refer to it.
    pub fn reference(&self) -> ListenerRef {
        ListenerRef {
            id: self.id.clone(),
            arn: Ref::Known(self.arn.clone()),
            lookup: None,
        }
    }
}

impl<C> Kind<C> for AdoptedListener
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    /// The listener's ARN, when it exists.
    type Observed = String;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<String>, Error>> {
        Box::pin(async move {
            let found = listener_exists(&clients.as_ref().elb, &self.id, &self.arn).await?;
            Ok(found.then(|| self.arn.clone()))
        })
    }

    fn diff(&self, observed: Option<&String>, _: &Resolved) -> Result<Change, Error> {
        match observed {
            Some(arn) => Ok(Change::Adopt {
                detail: arn.clone(),
            }),
            None => Err(Error::NotFound {
                resource: self.id.clone(),
                detail: format!("the listener to adopt ({}) does not exist", self.arn),
            }),
        }
    }

    fn destroy_change(&self, observed: Option<&String>) -> Change {
        // Never deleted: destroy still publishes its ARN for the rules on it.
        match observed {
            Some(arn) => Change::Adopt {
                detail: arn.clone(),
            },
            None => Change::NoOp,
        }
    }

    fn outputs(&self, observed: Option<&String>, _: &Change, _: &Resolved) -> PlanValues {
        match observed {
            Some(arn) => PlanValues::new().with(&self.arn(), arn),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(arn) = observed {
                ctx.set(&self.arn(), arn.clone());
            }
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a String,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Adopted: never deleted (destroy_change never plans a Delete).
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tg(name: &str) -> TargetGroupRef {
        TargetGroupRef {
            id: ResourceId::new("elbv2:target-group", name),
            arn: Ref::Known(format!("arn:tg/{name}")),
            name: fargate_core::ElbName::derive(&[name]),
        }
    }

    #[test]
    fn a_shifted_forward_is_any_weighting_of_its_two_groups() {
        let action = ListenerAction::ForwardShifted {
            production: tg("blue"),
            alternate: tg("green"),
        };
        let ours = action.value();
        let (blue, green) = (tg("blue").name, tg("green").name);
        let one = |n: &str| json!({"type": "forward", "target_group": n});
        let both = |a: u32, b: u32| {
            json!({"type": "forward", "target_groups": [
                {"target_group": green.as_str(), "weight": a},
                {"target_group": blue.as_str(), "weight": b},
            ]})
        };
        for observed in [
            one(blue.as_str()),
            one(green.as_str()),
            both(100, 0),
            both(25, 75),
        ] {
            assert_eq!(action.normalize_observed(observed), ours);
        }
        // Another group, or another action, is a change.
        for observed in [one("other"), ListenerAction::not_found().value()] {
            assert_ne!(
                action.normalize_observed(observed.clone()),
                ours,
                "{observed}"
            );
        }
        // A plain forward compares as before.
        let plain = ListenerAction::Forward(tg("blue"));
        assert_eq!(
            plain.normalize_observed(one(green.as_str())),
            one(green.as_str())
        );
    }

    #[test]
    fn a_listener_whose_load_balancer_is_replaced_is_planned_as_new() {
        let lb = crate::load_balancer::LoadBalancerRef {
            id: ResourceId::new("elbv2:load-balancer", "prod/alb"),
            arn: Ref::Output(OutputKey::new("elbv2:load-balancer/prod/alb#arn")),
            name: Some("prod-alb".parse().unwrap()),
        };
        let spec = ListenerSpec::http(
            lb.clone(),
            ListenerAction::not_found(),
            Ownership::new("prod".parse().unwrap()),
        )
        .unwrap();
        let fields = spec.desired_fields();
        let observed = ObservedListener {
            lb_arn: "arn:lb/old".into(),
            arn: "arn:listener/old".into(),
            fields,
        };
        let diff = |resolved: &Resolved| {
            let change = Kind::<NetClients>::diff(&spec, Some(&observed), resolved).unwrap();
            let outputs = Kind::<NetClients>::outputs(&spec, Some(&observed), &change, resolved);
            (change, outputs)
        };
        // Kept load balancer: the listener found is the one to keep, and its ARN is known.
        let (change, outputs) = diff(&Resolved::none());
        assert_eq!(change, Change::NoOp);
        assert_eq!(
            outputs,
            PlanValues::new().with(&spec.arn(), &"arn:listener/old".to_string())
        );
        // Replaced load balancer: the listener is created on the new one.
        let mut replaced = Resolved::none();
        let replace = Change::Replace {
            reason: "scheme".into(),
            diffs: Vec::new(),
        };
        replaced.insert(lb.id.clone(), replace, &PlanValues::new());
        let (change, outputs) = diff(&replaced);
        assert!(matches!(change, Change::Create { .. }), "{change:?}");
        assert!(outputs.is_empty());
    }

    #[test]
    fn what_a_dependent_knows_of_a_listener_at_plan_time() {
        let adopted = AdoptedListener::new(
            "prod/alb:adopted",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/1/2",
        )
        .unwrap();
        let unplanned = ListenerRef {
            arn: Ref::Output(adopted.arn()),
            ..adopted.reference()
        };
        let value = |a: AtPlan<String>| match a {
            AtPlan::Value(v) => format!("value {v}"),
            AtPlan::New => "new".into(),
            AtPlan::Unplanned => "unplanned".into(),
        };
        let none = Resolved::none();
        assert_eq!(
            value(unplanned.at_plan(Some("arn:l"), &none)),
            "value arn:l"
        );
        assert_eq!(value(unplanned.at_plan(None, &none)), "unplanned");
        let mut planned = Resolved::none();
        planned.insert(unplanned.id.clone(), Change::NoOp, &PlanValues::new());
        assert_eq!(value(unplanned.at_plan(None, &planned)), "new");
        let mut created = Resolved::none();
        let create = Change::Create { fields: Vec::new() };
        created.insert(unplanned.id.clone(), create, &PlanValues::new());
        assert_eq!(value(unplanned.at_plan(Some("arn:old"), &created)), "new");
    }

    #[test]
    fn certificate_arns_are_checked_for_shape() {
        for ok in [
            "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab",
            "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/abc",
            "arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc",
        ] {
            assert!(ok.parse::<CertificateArn>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "arn:aws:acm:us-east-1:12345678901:certificate/abc",
            "arn:aws:acm:us-east-1:123456789012:certificate/",
            "arn:aws:acm:us-east-1:123456789012:cert/abc",
            "arn:aws:iam::123456789012:server-certificate/abc",
            "arn:aws:acm::123456789012:certificate/abc",
            "arn:aws:acm:us-east-1:123456789012:certificate/a b",
        ] {
            let e = bad.parse::<CertificateArn>().unwrap_err();
            assert_eq!(e.field, "listener.certificate_arn", "{bad}");
        }
    }

    #[test]
    fn observed_redirect_with_api_defaults_equals_ours() {
        let aws = Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build();
        assert_eq!(
            actions_value(&[aws]),
            ListenerAction::redirect_to_https().value()
        );
    }

    #[test]
    fn observed_forward_is_compared_by_target_group_name() {
        let arn =
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-web-abc123/0123";
        let aws = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(arn)
            .build();
        let tg = TargetGroupRef {
            id: ResourceId::new("elbv2:target-group", "prod/web"),
            arn: Ref::Output(OutputKey::new("tg#arn")),
            name: "prod-web-abc123".parse().unwrap(),
        };
        assert_eq!(actions_value(&[aws]), ListenerAction::Forward(tg).value());
    }
}
