//! Listener rules: conditions → forward to an app's target group, with a
//! priority chosen at plan time by the pure function [`allocate_priorities`]
//! (its documentation states the rule) over the listener's real rules and
//! every other rule of the same plan on that listener ([`ListenerRules`]).
//!
//! "Our" rule on a listener is the one whose tags show the rule's ownership
//! (environment, app and component); every other rule's priority is taken.
//!
//! The listener's rules and their tags are read **once per plan** (shared
//! through [`fargate_core::Round::observe_once`], keyed by the listener ARN): one
//! DescribeRules per page of 400 rules, one DescribeTags per 20 rules, and,
//! for the load balancer's quota, one DescribeListeners per load balancer and
//! one DescribeRules per other listener. Apply reads them again only when a
//! retried CreateRule meets `PriorityInUse`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, HttpHeaderConditionConfig, PathPatternConditionConfig, Rule,
    RuleCondition, RulePriorityPair,
};
use fargate_core::resource::{BoxFuture, futures_join_all};
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, Error, FieldDiff, Fields, Ident, InvalidValue, Kind, Mode,
    OutputKey, PlanValues, Resolved, ResourceId, Round, StepContext, Tags, create_or_existing,
};

use super::priority::{
    MAX_PRIORITY, MAX_RULES_PER_LOAD_BALANCER, ObservedPriorities, PriorityError, RuleClaim,
    allocate_priorities,
};
use super::{ListenerAction, ListenerRef, actions_value, plan_listeners};
use crate::NetClients;
use crate::elb::{is_new, is_owned_by, tags_by_arn, unless_absent};
use crate::tagging::elb_tags;
use crate::target_group::TargetGroupRef;

/// The resource kind of listener rules in plans.
pub const RULE_KIND: &str = "elbv2:listener-rule";
/// At most this many condition values per rule (AWS's limit).
const MAX_CONDITION_VALUES: usize = 5;
/// DescribeRules returns at most this many per page (AWS's maximum).
const PAGE_SIZE: i32 = 400;

/// What a rule matches: path patterns and/or host headers, and optionally one HTTP header
/// (at least one path or host value, at most five values in all, AWS's limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConditions {
    path_patterns: Vec<String>,
    host_headers: Vec<String>,
    http_header: Option<(String, Vec<String>)>,
}

impl RuleConditions {
    /// Conditions on path patterns (like `/api/*`) and host headers (like `*.example.com`).
    ///
    /// # Errors
    /// [`InvalidValue`] when there is no value at all, more than five, or a value ELB refuses.
    pub fn new<P, H>(path_patterns: P, host_headers: H) -> Result<Self, InvalidValue>
    where
        P: IntoIterator,
        P::Item: Into<String>,
        H: IntoIterator,
        H::Item: Into<String>,
    {
        let mut path_patterns: Vec<String> = path_patterns.into_iter().map(Into::into).collect();
        let mut host_headers: Vec<String> = host_headers.into_iter().map(Into::into).collect();
        path_patterns.sort();
        path_patterns.dedup();
        host_headers.sort();
        host_headers.dedup();
        let count = path_patterns.len() + host_headers.len();
        if count == 0 {
            return Err(InvalidValue::new(
                "listener_rule.conditions",
                "",
                "a rule without conditions would match every request",
                "at least one path pattern or host header",
            ));
        }
        if count > MAX_CONDITION_VALUES {
            return Err(InvalidValue::new(
                "listener_rule.conditions",
                format!("{count} values"),
                "too many condition values",
                "at most 5 path patterns and host headers in all",
            ));
        }
        let path_char = |c: char| c.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?".contains(c);
        if let Some(bad) = path_patterns
            .iter()
            .find(|p| !p.starts_with('/') || p.len() > 128 || !p.chars().all(path_char))
        {
            return Err(InvalidValue::new(
                "listener_rule.path_pattern",
                bad,
                "not a path pattern ELB accepts",
                "a path starting with / of at most 128 characters: letters, digits, _-.$/~\"'@:+&, * and ?",
            ));
        }
        let host_char = |c: char| c.is_ascii_alphanumeric() || "-.*?".contains(c);
        if let Some(bad) = host_headers
            .iter()
            .find(|h| h.is_empty() || h.len() > 128 || !h.chars().all(host_char))
        {
            return Err(InvalidValue::new(
                "listener_rule.host_header",
                bad,
                "not a host name pattern ELB accepts",
                "at most 128 characters: letters, digits, - . and the wildcards * ?",
            ));
        }
        Ok(Self {
            path_patterns,
            host_headers,
            http_header: None,
        })
    }

    /// The same conditions, and the request must also carry the HTTP header `name` with one
    /// of `values` (wildcards `*` and `?` allowed; ELB compares names case-insensitively):
    /// for example the header that sends test traffic to a new revision.
    ///
    /// ```
    /// use fargate_net::listener::RuleConditions;
    /// let test = RuleConditions::paths(["/api/*"])?.with_http_header("x-fargate-test", ["1"])?;
    /// assert_eq!(test.describe(), "paths=/api/*;hosts=;header=x-fargate-test:1");
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    ///
    /// # Errors
    /// [`InvalidValue`] for a header name that is not 1 to 40 letters, digits, `-` or `_`,
    /// no value, a value of more than 128 characters, or more than five values in all.
    pub fn with_http_header<V>(
        mut self,
        name: impl Into<String>,
        values: V,
    ) -> Result<Self, InvalidValue>
    where
        V: IntoIterator,
        V::Item: Into<String>,
    {
        let name: String = name.into().to_ascii_lowercase();
        if name.is_empty()
            || name.len() > 40
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(InvalidValue::new(
                "listener_rule.http_header",
                name,
                "not an HTTP header name ELB accepts",
                "1 to 40 letters, digits, - and _",
            ));
        }
        let mut values: Vec<String> = values.into_iter().map(Into::into).collect();
        values.sort();
        values.dedup();
        if values.is_empty() || values.iter().any(|v| v.is_empty() || v.len() > 128) {
            return Err(InvalidValue::new(
                "listener_rule.http_header",
                values.join(","),
                "an HTTP header condition needs values of 1 to 128 characters",
                "one or more values, wildcards * and ? allowed",
            ));
        }
        let count = self.path_patterns.len() + self.host_headers.len() + values.len();
        if count > MAX_CONDITION_VALUES {
            return Err(InvalidValue::new(
                "listener_rule.conditions",
                format!("{count} values"),
                "too many condition values",
                "at most 5 path patterns, host headers and header values in all",
            ));
        }
        self.http_header = Some((name, values));
        Ok(self)
    }

    /// The conditions as one normalized string: `paths=…;hosts=…` (sorted, comma-separated)
    /// and `;header=<name>:<values>` when there is a header condition. Two rules with the
    /// same string match the same requests.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "paths={};hosts={}",
            self.path_patterns.join(","),
            self.host_headers.join(",")
        );
        if let Some(h) = self.header_value() {
            out.push_str(";header=");
            out.push_str(&h);
        }
        out
    }

    /// `<name>:<values>` of the header condition, as plans show it.
    fn header_value(&self) -> Option<String> {
        self.http_header
            .as_ref()
            .map(|(name, values)| format!("{name}:{}", values.join(",")))
    }

    /// Only path patterns.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn paths<P>(path_patterns: P) -> Result<Self, InvalidValue>
    where
        P: IntoIterator,
        P::Item: Into<String>,
    {
        Self::new(path_patterns, Vec::<String>::new())
    }

    /// Only host headers.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn hosts<H>(host_headers: H) -> Result<Self, InvalidValue>
    where
        H: IntoIterator,
        H::Item: Into<String>,
    {
        Self::new(Vec::<String>::new(), host_headers)
    }

    fn sdk(&self) -> Vec<RuleCondition> {
        let mut out = Vec::new();
        if !self.path_patterns.is_empty() {
            out.push(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        PathPatternConditionConfig::builder()
                            .set_values(Some(self.path_patterns.clone()))
                            .build(),
                    )
                    .build(),
            );
        }
        if !self.host_headers.is_empty() {
            out.push(
                RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        HostHeaderConditionConfig::builder()
                            .set_values(Some(self.host_headers.clone()))
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some((name, values)) = &self.http_header {
            out.push(
                RuleCondition::builder()
                    .field("http-header")
                    .http_header_config(
                        HttpHeaderConditionConfig::builder()
                            .http_header_name(name)
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .build(),
            );
        }
        out
    }
}

/// A listener rule fargate-rs creates and owns for one app: conditions → forward to the
/// app's target group.
///
/// Its priority is chosen at plan time: explicit ([`priority`](Self::priority)), or a
/// preferred one ([`prefer_priority`](Self::prefer_priority), by default a hash of its
/// identity) moved to the next free one when taken. When several rules go on one listener
/// in one plan, give each the same [`ListenerRules`] ([`ListenerRules::share`]) so their
/// priorities never collide.
///
/// ```
/// use fargate_core::{Ident, Ownership, Ref, ResourceId};
/// use fargate_net::listener::{AdoptedListener, ListenerRuleSpec, ListenerRules, RuleConditions};
/// use fargate_net::target_group::TargetGroupRef;
///
/// let env: Ident = "prod".parse()?;
/// let listener = AdoptedListener::new(
///     "prod/alb:80",
///     "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2",
/// )?;
/// let rule = |app: &str, path: &str| -> Result<ListenerRuleSpec, fargate_core::InvalidValue> {
///     let app: Ident = app.parse()?;
///     let tg = TargetGroupRef {
///         id: ResourceId::new("elbv2:target-group", format!("prod/{app}")),
///         arn: Ref::Known(format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-{app}/0123")),
///         name: format!("prod-{app}").parse()?,
///     };
///     let owner = Ownership::new(env.clone()).with_app(app.clone()).with_component("rule");
///     Ok(ListenerRuleSpec::new(&env, &app, listener.reference(), RuleConditions::paths([path])?, tg, owner)
///         .prefer_priority(4_001, 4_001..=4_500)?)
/// };
/// let rules = ListenerRules::share(vec![rule("api", "/api/*")?, rule("docs", "/docs/*")?]);
/// assert_eq!(rules.len(), 2);
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenerRuleSpec {
    id: ResourceId,
    listener: ListenerRef,
    conditions: RuleConditions,
    target_group: TargetGroupRef,
    claim: RuleClaim,
    owner: Ownership,
    tags: Tags,
    siblings: Option<Arc<ListenerRules>>,
    label: Option<String>,
    alternate: Option<TargetGroupRef>,
}

/// Every rule one plan puts on one listener: what each asks for ([`RuleClaim`]) and whose
/// it is. Each [`ListenerRuleSpec`] of the listener carries the same one, and computes the
/// whole allocation from it and the listener's rules, then takes its own priority: the
/// result does not depend on which rule is planned first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRules {
    listener: ResourceId,
    members: Vec<(RuleClaim, Ownership)>,
}

impl ListenerRules {
    /// The rules of each listener among `rules`, by listener.
    pub fn of<'a>(
        rules: impl IntoIterator<Item = &'a ListenerRuleSpec>,
    ) -> BTreeMap<ResourceId, Arc<ListenerRules>> {
        let mut by_listener: BTreeMap<ResourceId, ListenerRules> = BTreeMap::new();
        for r in rules {
            let entry = by_listener
                .entry(r.listener.id.clone())
                .or_insert_with(|| ListenerRules {
                    listener: r.listener.id.clone(),
                    members: Vec::new(),
                });
            if !entry
                .members
                .iter()
                .any(|(c, _)| c.seed() == r.claim.seed())
            {
                entry.members.push((r.claim.clone(), r.owner.clone()));
            }
        }
        by_listener
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect()
    }

    /// The same rules, each knowing the other rules of its listener.
    pub fn share(rules: Vec<ListenerRuleSpec>) -> Vec<ListenerRuleSpec> {
        let shared = Self::of(&rules);
        rules
            .into_iter()
            .map(|r| match shared.get(&r.listener.id) {
                Some(s) => r.with_siblings(s.clone()),
                None => r,
            })
            .collect()
    }

    /// The listener.
    pub fn listener(&self) -> &ResourceId {
        &self.listener
    }

    /// What each rule asks for.
    pub fn claims(&self) -> impl Iterator<Item = &RuleClaim> {
        self.members.iter().map(|(c, _)| c)
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl ListenerRuleSpec {
    /// The rule of `app` on `listener`. Its ownership must name the app (and a component when
    /// an app has several rules on one listener): that is how it is recognized.
    pub fn new(
        env: &Ident,
        app: &Ident,
        listener: ListenerRef,
        conditions: RuleConditions,
        target_group: TargetGroupRef,
        owner: Ownership,
    ) -> Self {
        let component = owner.component.clone().unwrap_or_default();
        let mut name = format!("{env}/{app}");
        if !component.is_empty() {
            name = format!("{name}/{component}");
        }
        let name = format!("{name}@{}", listener.id.name);
        Self {
            id: ResourceId::new(RULE_KIND, name.clone()),
            listener,
            conditions,
            target_group,
            claim: RuleClaim::new(name),
            owner,
            tags: Tags::new(),
            siblings: None,
            label: None,
            alternate: None,
        }
    }

    /// Forward to the target group with `alternate` beside it at weight 0, for an ECS
    /// blue/green, linear or canary deployment that moves traffic between the two (ECS then
    /// owns the weights: see [`ListenerAction::ForwardShifted`]).
    #[must_use]
    pub fn with_alternate_target_group(mut self, alternate: TargetGroupRef) -> Self {
        self.alternate = Some(alternate);
        self
    }

    /// What the rule does.
    fn action(&self) -> ListenerAction {
        match &self.alternate {
            Some(alternate) => ListenerAction::ForwardShifted {
                production: self.target_group.clone(),
                alternate: alternate.clone(),
            },
            None => ListenerAction::Forward(self.target_group.clone()),
        }
    }

    /// The managed fields of an observed rule, as this rule compares them (pure).
    fn observed_fields(&self, rule: &Rule) -> Fields {
        let mut f = rule_fields(rule);
        if let Some(v) = f.get("action").cloned() {
            f.set("action", self.action().normalize_observed(v));
        }
        f
    }

    /// A fixed priority (1 = evaluated first). Planning fails before any change if another
    /// rule on the listener holds it, or another rule of the plan asks for it too.
    ///
    /// # Errors
    /// [`InvalidValue`] outside 1..=50000.
    pub fn priority(mut self, priority: u32) -> Result<Self, InvalidValue> {
        self.claim = self
            .claim
            .clone()
            .explicit(priority)
            .map_err(|_| self.out_of_range(priority, "1 to 50000"))?;
        Ok(self)
    }

    /// Prefer `priority` and, when it is taken, the next free one inside `window` (then
    /// outside it only when the window is full). A rule we own keeps its priority while it
    /// is inside the window. Replaces an explicit [`priority`](Self::priority).
    ///
    /// # Errors
    /// [`InvalidValue`] when `window` is empty, leaves 1..=50000 or misses `priority`.
    pub fn prefer_priority(
        mut self,
        priority: u32,
        window: std::ops::RangeInclusive<u32>,
    ) -> Result<Self, InvalidValue> {
        let range = format!("{}..={}", window.start(), window.end());
        self.claim = RuleClaim::new(self.claim.seed())
            .prefer(priority, window)
            .map_err(|_| {
                self.out_of_range(priority, &format!("inside {range}, within 1 to 50000"))
            })?;
        Ok(self)
    }

    fn out_of_range(&self, priority: u32, expected: &str) -> InvalidValue {
        InvalidValue::new(
            self.field("priority"),
            priority.to_string(),
            "out of range",
            expected,
        )
    }

    /// The other rules of this plan on the same listener (see [`ListenerRules::share`]).
    #[must_use]
    pub fn with_siblings(mut self, siblings: Arc<ListenerRules>) -> Self {
        self.siblings = Some(siblings);
        self
    }

    /// Name errors after `label` (for example an app's name): `<label>.priority` for a
    /// priority, `<label>.listener_rule` for the load balancer's rule quota, instead of
    /// `listener_rule.priority` and `listener_rule`.
    #[must_use]
    pub fn reported_as(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    fn field(&self, what: &str) -> String {
        match (&self.label, what) {
            (Some(l), "") => format!("{l}.listener_rule"),
            (Some(l), w) => format!("{l}.{w}"),
            (None, "") => "listener_rule".into(),
            (None, w) => format!("listener_rule.{w}"),
        }
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The priority this rule asks for: the explicit one, or the preferred one it gets when
    /// it is new and that priority is free (by default [`preferred_priority`] of its
    /// identity).
    ///
    /// [`preferred_priority`]: super::preferred_priority
    pub fn preferred_priority(&self) -> u32 {
        self.claim.preferred_priority()
    }

    /// What the rule asks for, as the allocation sees it.
    pub fn claim(&self) -> &RuleClaim {
        &self.claim
    }

    /// The listener it goes on.
    pub fn listener(&self) -> &ListenerRef {
        &self.listener
    }

    /// The rule ARN output key.
    pub fn arn(&self) -> OutputKey<String> {
        self.id.output("arn")
    }

    /// The resource id.
    pub fn id(&self) -> &ResourceId {
        &self.id
    }

    /// The managed fields as desired with this priority (pure).
    pub fn desired_fields(&self, priority: u32) -> Fields {
        let mut f = Fields::new()
            .with("priority", priority)
            .with_set(
                "conditions.path_patterns",
                self.conditions.path_patterns.clone(),
            )
            .with_set(
                "conditions.host_headers",
                self.conditions.host_headers.clone(),
            )
            .with("action", self.action().value());
        // Only rules with a header condition have the field (the others' plans stay as
        // they were).
        if let Some(h) = self.conditions.header_value() {
            f.set("conditions.http_header", h);
        }
        f
    }

    fn is_ours(&self, tags: &[(String, String)]) -> bool {
        owns(&self.owner, tags)
    }

    /// Every rule of the plan on this listener, this one included (its own claim wins over
    /// a stale copy of it in the siblings).
    fn members(&self) -> Vec<(RuleClaim, Ownership)> {
        let mut out = vec![(self.claim.clone(), self.owner.clone())];
        if let Some(s) = &self.siblings {
            out.extend(
                s.members
                    .iter()
                    .filter(|(c, _)| c.seed() != self.claim.seed())
                    .cloned(),
            );
        }
        out
    }
}

/// Whether `tags` show exactly this ownership, component included.
fn owns(owner: &Ownership, tags: &[(String, String)]) -> bool {
    is_owned_by(owner, tags) && tag(tags, Ownership::COMPONENT_KEY) == owner.component.as_deref()
}

fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The managed fields of a rule as AWS reports it (pure).
pub fn rule_fields(rule: &Rule) -> Fields {
    let values = |field: &str| -> Vec<String> {
        rule.conditions()
            .iter()
            .filter(|c| c.field() == Some(field))
            .flat_map(|c| {
                let configured = match field {
                    "path-pattern" => c.path_pattern_config().map(|p| p.values().to_vec()),
                    _ => c.host_header_config().map(|h| h.values().to_vec()),
                };
                configured
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| c.values().to_vec())
            })
            .collect()
    };
    let mut f = Fields::new()
        .with(
            "priority",
            rule.priority().and_then(|p| p.parse::<u32>().ok()),
        )
        .with_set("conditions.path_patterns", values("path-pattern"))
        .with_set("conditions.host_headers", values("host-header"))
        .with("action", actions_value(rule.actions()));
    if let Some(h) = rule
        .conditions()
        .iter()
        .find(|c| c.field() == Some("http-header"))
        .and_then(|c| c.http_header_config())
    {
        let mut values = h.values().to_vec();
        values.sort();
        f.set(
            "conditions.http_header",
            format!(
                "{}:{}",
                h.http_header_name()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                values.join(",")
            ),
        );
    }
    f
}

fn priority_of(rule: &Rule) -> Option<u32> {
    rule.priority().and_then(|p| p.parse::<u32>().ok())
}

/// The load balancer ARN of a listener ARN (pure):
/// `...:listener/app/<lb>/<lb-id>/<id>` → `...:loadbalancer/app/<lb>/<lb-id>`.
fn load_balancer_of(listener_arn: &str) -> Option<String> {
    let (prefix, resource) = listener_arn.rsplit_once(':')?;
    let rest = resource.strip_prefix("listener/")?;
    let (lb, _id) = rest.rsplit_once('/')?;
    (lb.split('/').count() == 3).then(|| format!("{prefix}:loadbalancer/{lb}"))
}

/// The non-default rules of a listener, every page (`None`: the listener is gone).
#[tracing::instrument(skip_all, fields(resource = %id, listener = %listener_arn))]
async fn describe_rules_of(
    elb: &ElbClient,
    id: &ResourceId,
    listener_arn: &str,
) -> Result<Option<Vec<Rule>>, Error> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = elb
            .describe_rules()
            .listener_arn(listener_arn)
            .page_size(PAGE_SIZE)
            .set_marker(marker.take())
            .send()
            .await;
        let Some(out) = unless_absent(out, id, "DescribeRules", |e| {
            e.is_listener_not_found_exception()
        })?
        else {
            return Ok(None);
        };
        rules.extend(
            out.rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
                .cloned(),
        );
        match out.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    // Lowest priority first: which of two same-owned rules is ours never depends on order.
    rules.sort_by_key(|r| {
        (
            priority_of(r).unwrap_or(u32::MAX),
            r.rule_arn().map(str::to_string),
        )
    });
    Ok(Some(rules))
}

/// A listener's non-default rules as one plan shares them (`None`: the listener is gone).
type PlanRules = Arc<Option<Vec<Rule>>>;

/// A listener's non-default rules, read once per plan (shared by every rule planned on it).
async fn plan_rules(
    elb: &ElbClient,
    round: &Round<'_>,
    id: &ResourceId,
    listener_arn: &str,
) -> Result<PlanRules, Error> {
    round
        .observe_once(&format!("{RULE_KIND}:rules:{listener_arn}"), || {
            describe_rules_of(elb, id, listener_arn)
        })
        .await
}

/// The tags of a listener's rules, read once per plan (DescribeTags by 20 ARNs).
async fn plan_rule_tags(
    elb: &ElbClient,
    round: &Round<'_>,
    id: &ResourceId,
    listener_arn: &str,
    rules: &[Rule],
) -> Result<Arc<HashMap<String, Vec<(String, String)>>>, Error> {
    round
        .observe_once(&format!("{RULE_KIND}:tags:{listener_arn}"), || async {
            let arns: Vec<String> = rules
                .iter()
                .filter_map(|r| r.rule_arn().map(str::to_string))
                .collect();
            if arns.is_empty() {
                Ok(HashMap::new())
            } else {
                tags_by_arn(elb, id, &arns).await
            }
        })
        .await
}

/// How many rules the other listeners of `listener_arn`'s load balancer have (default
/// rules not counted), read once per plan.
async fn rules_elsewhere(
    elb: &ElbClient,
    round: &Round<'_>,
    id: &ResourceId,
    listener_arn: &str,
) -> Result<usize, Error> {
    let Some(lb_arn) = load_balancer_of(listener_arn) else {
        return Ok(0);
    };
    let listeners = plan_listeners(elb, round, id, &lb_arn).await?;
    let mut others: Vec<String> = Vec::new();
    for arn in listeners
        .as_ref()
        .iter()
        .flatten()
        .filter_map(|l| l.listener_arn())
    {
        if arn != listener_arn {
            others.push(arn.to_string());
        }
    }
    let mut reads: Vec<BoxFuture<'_, Result<PlanRules, Error>>> = Vec::new();
    for arn in &others {
        reads.push(Box::pin(plan_rules(elb, round, id, arn)));
    }
    let mut total = 0;
    for read in futures_join_all(reads).await {
        total += read?.as_ref().as_ref().map_or(0, Vec::len);
    }
    Ok(total)
}

/// What the rule plan found on the listener: its ARN, our rule on it (if any) and the
/// priorities in use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedRule {
    listener_arn: String,
    ours: Option<OurRule>,
    now: ObservedPriorities,
}

/// Our rule on the listener: its ARN and managed fields ([`ListenerRuleSpec`]'s view of
/// [`rule_fields`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct OurRule {
    arn: String,
    fields: Fields,
}

/// Sorts the listener's `rules` into each member's own rule (the first one its ownership
/// tags match, lowest priority first) and everybody else's (pure).
fn sort_rules(
    members: &[(RuleClaim, Ownership)],
    rules: &[Rule],
    tags: &HashMap<String, Vec<(String, String)>>,
) -> (BTreeMap<String, Rule>, BTreeSet<u32>) {
    // Members by (app, component) tag values: one look-up per rule, not one per member.
    let mut by_key: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, (_, owner)) in members.iter().enumerate() {
        let app = owner.app.as_ref().map_or("", |a| a.as_str());
        let component = owner.component.as_deref().unwrap_or("");
        by_key.entry((app, component)).or_default().push(i);
    }
    let mut ours: BTreeMap<String, Rule> = BTreeMap::new();
    let mut others = BTreeSet::new();
    for rule in rules {
        let rule_tags = rule
            .rule_arn()
            .and_then(|a| tags.get(a))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let key = (
            tag(rule_tags, Ownership::APP_KEY).unwrap_or(""),
            tag(rule_tags, Ownership::COMPONENT_KEY).unwrap_or(""),
        );
        let owner = by_key.get(&key).into_iter().flatten().find_map(|&i| {
            let (claim, owner) = members.get(i)?;
            (owns(owner, rule_tags) && !ours.contains_key(claim.seed())).then_some(claim)
        });
        match owner {
            Some(claim) => {
                ours.insert(claim.seed().to_string(), rule.clone());
            }
            None => {
                others.extend(priority_of(rule));
            }
        }
    }
    (ours, others)
}

impl ListenerRuleSpec {
    /// The listener's rules as this plan sees them (shared with the other rules of the
    /// plan on the listener). `None` when the listener does not exist yet.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_rules(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
        mode: Mode,
    ) -> Result<Option<ObservedRule>, Error> {
        let Some(listener_arn) = self.listener.observe_arn(elb, round).await? else {
            return Ok(None);
        };
        let snapshot = plan_rules(elb, round, &self.id, &listener_arn).await?;
        let Some(rules) = snapshot.as_ref() else {
            return Ok(None);
        };
        let tags = plan_rule_tags(elb, round, &self.id, &listener_arn, rules);
        let (tags, elsewhere) = if mode == Mode::Destroy {
            (tags.await?, 0)
        } else {
            let elsewhere = rules_elsewhere(elb, round, &self.id, &listener_arn);
            let (tags, elsewhere) = tokio::join!(tags, elsewhere);
            (tags?, elsewhere?)
        };
        let (mut ours, others) = sort_rules(&self.members(), rules, &tags);
        let now = ObservedPriorities {
            ours: ours
                .iter()
                .filter_map(|(seed, r)| Some((seed.clone(), priority_of(r)?)))
                .collect(),
            others,
            elsewhere,
        };
        let ours = ours.remove(self.claim.seed()).map(|r| OurRule {
            arn: r.rule_arn().unwrap_or_default().to_string(),
            fields: self.observed_fields(&r),
        });
        Ok(Some(ObservedRule {
            listener_arn,
            ours,
            now,
        }))
    }

    /// Our rule on the listener as AWS has it now (apply time: a retried create).
    async fn find_ours(&self, elb: &ElbClient, listener_arn: &str) -> Result<Option<Rule>, Error> {
        let Some(rules) = describe_rules_of(elb, &self.id, listener_arn).await? else {
            return Ok(None);
        };
        let arns: Vec<String> = rules
            .iter()
            .filter_map(|r| r.rule_arn().map(str::to_string))
            .collect();
        if arns.is_empty() {
            return Ok(None);
        }
        let tags = tags_by_arn(elb, &self.id, &arns).await?;
        Ok(rules.into_iter().find(|r| {
            r.rule_arn()
                .and_then(|a| tags.get(a))
                .is_some_and(|t| self.is_ours(t))
        }))
    }

    /// The priority for this plan, or the error that stops it before any call.
    fn choose_priority(&self, observed: Option<&ObservedRule>) -> Result<u32, Error> {
        let empty = ObservedPriorities::default();
        let now = observed.map_or(&empty, |o| &o.now);
        let claims: Vec<RuleClaim> = self.members().into_iter().map(|(c, _)| c).collect();
        let mut all = allocate_priorities(now, &claims);
        let mine = all
            .remove(self.claim.seed())
            .unwrap_or(Err(PriorityError::NoneFree));
        mine.map_err(|e| Error::Invalid(self.priority_error(&e, observed)))
    }

    fn priority_error(&self, e: &PriorityError, observed: Option<&ObservedRule>) -> InvalidValue {
        match e {
            PriorityError::QuotaExceeded {
                existing, planned, ..
            } => {
                let lb = observed
                    .and_then(|o| load_balancer_of(&o.listener_arn))
                    .unwrap_or_else(|| self.listener.id.name.clone());
                InvalidValue::new(
                    self.field(""),
                    format!("{} rules", existing + planned),
                    format!("{e} (load balancer {lb}; rule {})", self.id.name),
                    format!(
                        "at most {MAX_RULES_PER_LOAD_BALANCER} rules per Application Load \
                         Balancer: put some apps on another listener's load balancer or in \
                         another environment (another load balancer), or remove rules no \
                         longer used"
                    ),
                )
            }
            _ => InvalidValue::new(
                self.field("priority"),
                self.claim
                    .explicit_priority()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                format!("{e} ({})", self.id.name),
                format!(
                    "a priority from 1 to {MAX_PRIORITY} no other rule on the listener uses, or \
                     none to let fargate-rs choose"
                ),
            ),
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn create(
        &self,
        elb: &ElbClient,
        ctx: &StepContext,
        listener_arn: &str,
        priority: u32,
    ) -> Result<(), Error> {
        let out = elb
            .create_rule()
            .listener_arn(listener_arn)
            .priority(i32::try_from(priority).unwrap_or(i32::MAX))
            .set_conditions(Some(self.conditions.sdk()))
            .actions(self.action().sdk(ctx)?)
            .set_tags(Some(elb_tags(&self.owner, &self.tags, &self.id.name)))
            .send()
            .await;
        // A retried create whose first attempt was applied finds the priority taken by
        // its own rule (ours by its tags; a rule of anyone else is not taken over).
        let found = || self.find_ours(elb, listener_arn);
        let out = match create_or_existing(
            ctx,
            &self.id,
            "CreateRule",
            out,
            |e| e.is_priority_in_use_exception(),
            found,
        )
        .await?
        {
            Created::New(out) => out,
            Created::Existing(rule) => {
                let arn = rule.rule_arn().unwrap_or_default().to_string();
                ctx.set(&self.arn(), arn.clone());
                let diffs = self
                    .observed_fields(&rule)
                    .diff(&self.desired_fields(priority));
                return if diffs.is_empty() {
                    Ok(())
                } else {
                    self.update(elb, ctx, &arn, priority, &diffs).await
                };
            }
        };
        let arn = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .ok_or_else(|| Error::Unexpected {
                resource: self.id.clone(),
                operation: "CreateRule".into(),
                detail: "no rule ARN in the answer".into(),
            })?;
        ctx.set(&self.arn(), arn.to_string());
        Ok(())
    }

    /// ModifyRule when conditions or action changed, SetRulePriorities when the priority did.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn update(
        &self,
        elb: &ElbClient,
        ctx: &StepContext,
        arn: &str,
        priority: u32,
        diffs: &[FieldDiff],
    ) -> Result<(), Error> {
        let changed = |name: &str| diffs.iter().any(|d| d.field == name);
        if changed("conditions.path_patterns")
            || changed("conditions.host_headers")
            || changed("conditions.http_header")
            || changed("action")
        {
            elb.modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(self.conditions.sdk()))
                .actions(self.action().sdk(ctx)?)
                .send()
                .await
                .context(&self.id, "ModifyRule")?;
        }
        if changed("priority") {
            elb.set_rule_priorities()
                .rule_priorities(
                    RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(i32::try_from(priority).unwrap_or(i32::MAX))
                        .build(),
                )
                .send()
                .await
                .context(&self.id, "SetRulePriorities")?;
        }
        Ok(())
    }
}

/// Deletes a rule; gone already is fine.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn delete_rule(elb: &ElbClient, id: &ResourceId, arn: &str) -> Result<(), Error> {
    let out = elb.delete_rule().rule_arn(arn).send().await;
    unless_absent(out, id, "DeleteRule", |e| e.is_rule_not_found_exception()).map(|_| ())
}

impl<C> Kind<C> for ListenerRuleSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedRule;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut d = vec![self.listener.id.clone(), self.target_group.id.clone()];
        d.extend(self.alternate.as_ref().map(|a| a.id.clone()));
        d
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedRule>, Error>> {
        Box::pin(self.observe_rules(&clients.as_ref().elb, round, mode))
    }

    fn diff(&self, observed: Option<&ObservedRule>, resolved: &Resolved) -> Result<Change, Error> {
        let observed = self.kept(observed, resolved);
        let priority = self.choose_priority(observed)?;
        let ours = observed.and_then(|o| o.ours.as_ref());
        Ok(Change::compute(
            &self.desired_fields(priority),
            ours.map(|r| &r.fields),
            &[],
        ))
    }

    fn destroy_change(&self, observed: Option<&ObservedRule>) -> Change {
        if observed.is_some_and(|o| o.ours.is_some()) {
            Change::Delete
        } else {
            Change::NoOp
        }
    }

    fn outputs(
        &self,
        observed: Option<&ObservedRule>,
        _: &Change,
        resolved: &Resolved,
    ) -> PlanValues {
        match self.kept(observed, resolved).and_then(|o| o.ours.as_ref()) {
            Some(ours) => PlanValues::new().with(&self.arn(), &ours.arn),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedRule>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let elb = &clients.as_ref().elb;
            // The priority chosen at plan time (diff accepted it, so it is there).
            let priority = self
                .desired_priority(change)
                .map_or_else(|| self.choose_priority(observed), Ok)?;
            let listener_arn = self.listener.arn.resolve(ctx)?;
            let found = observed.and_then(|o| Some((&o.listener_arn, o.ours.as_ref()?)));
            match (change, found) {
                (Change::Create { .. }, _) => self.create(elb, ctx, &listener_arn, priority).await,
                (_, Some((observed_listener, ours))) if *observed_listener == listener_arn => {
                    ctx.set(&self.arn(), ours.arn.clone());
                    match change {
                        Change::Update { diffs } => {
                            self.update(elb, ctx, &ours.arn, priority, diffs).await
                        }
                        _ => Ok(()),
                    }
                }
                _ => self.create(elb, ctx, &listener_arn, priority).await,
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        _: &'a StepContext,
        observed: &'a ObservedRule,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match &observed.ours {
                Some(ours) => delete_rule(&clients.as_ref().elb, &self.id, &ours.arn).await,
                None => Ok(()),
            }
        })
    }
}

impl ListenerRuleSpec {
    /// The priority `change` gives the rule (pure): the one chosen at plan time, in a
    /// create's fields or an update's diffs (`None`: the priority does not change).
    fn desired_priority(&self, change: &Change) -> Option<u32> {
        let fields = match change {
            Change::Create { fields } => fields,
            Change::Update { diffs } => diffs,
            _ => return None,
        };
        fields
            .iter()
            .find(|f| f.field == "priority")
            .and_then(|f| f.new.as_ref())
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
    }

    /// What was observed on the listener, unless this apply creates its listener (then the
    /// rule is created on the new one, with a priority chosen as on an empty listener).
    fn kept<'o>(
        &self,
        observed: Option<&'o ObservedRule>,
        resolved: &Resolved,
    ) -> Option<&'o ObservedRule> {
        observed.filter(|_| !is_new(resolved, &self.listener.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::Rule;
    use fargate_core::Ref;

    #[test]
    fn rules_need_conditions_within_limits() {
        let e = RuleConditions::new(Vec::<String>::new(), Vec::<String>::new()).unwrap_err();
        assert_eq!(e.field, "listener_rule.conditions");
        assert!(RuleConditions::paths(["/a", "/b", "/c", "/d", "/e", "/f"]).is_err());
        assert_eq!(
            RuleConditions::paths(["api/*"]).unwrap_err().field,
            "listener_rule.path_pattern"
        );
        assert_eq!(
            RuleConditions::hosts(["bad host"]).unwrap_err().field,
            "listener_rule.host_header"
        );
        assert!(RuleConditions::new(["/api/*"], ["*.example.com"]).is_ok());
    }

    #[test]
    fn a_header_condition_counts_toward_the_limit_and_reads_back_as_planned() {
        let four = RuleConditions::paths(["/a", "/b", "/c", "/d"]).unwrap();
        assert_eq!(
            four.clone()
                .with_http_header("x-test", ["1", "2"])
                .unwrap_err()
                .field,
            "listener_rule.conditions"
        );
        assert_eq!(
            four.clone()
                .with_http_header("x test", ["1"])
                .unwrap_err()
                .field,
            "listener_rule.http_header"
        );
        assert!(
            four.clone()
                .with_http_header("x-test", Vec::<String>::new())
                .is_err()
        );
        let c = four.with_http_header("X-Test", ["1"]).unwrap();
        assert_eq!(c.header_value().as_deref(), Some("x-test:1"));
        // What AWS reports of the rule reads as the same field, the header name lower-cased.
        let rule = Rule::builder()
            .priority("7")
            .conditions(
                RuleCondition::builder()
                    .field("http-header")
                    .http_header_config(
                        HttpHeaderConditionConfig::builder()
                            .http_header_name("X-Test")
                            .values("1")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            rule_fields(&rule).get("conditions.http_header"),
            Some(&serde_json::json!("x-test:1"))
        );
        // A rule without a header condition has no such field, as before.
        let plain = Rule::builder().priority("7").build();
        assert_eq!(rule_fields(&plain).get("conditions.http_header"), None);
    }

    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";

    #[test]
    fn the_load_balancer_of_a_listener_is_read_from_its_arn() {
        assert_eq!(
            load_balancer_of(LISTENER).as_deref(),
            Some(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/prod-alb/50dc6c495c0c9188"
            )
        );
        assert_eq!(
            load_balancer_of("arn:aws:elasticloadbalancing:us-east-1:1:listener/x"),
            None
        );
        assert_eq!(load_balancer_of("not-an-arn"), None);
    }

    fn spec(app: &str) -> ListenerRuleSpec {
        let env: Ident = "prod".parse().unwrap();
        let app: Ident = app.parse().unwrap();
        let listener = ListenerRef {
            id: ResourceId::new(super::super::LISTENER_KIND, "prod/alb:80"),
            arn: Ref::Known(LISTENER.into()),
            lookup: None,
        };
        let tg = TargetGroupRef {
            id: ResourceId::new("elbv2:target-group", format!("prod/{app}")),
            arn: Ref::Known(format!("tg-{app}")),
            name: format!("prod-{app}").parse().unwrap(),
        };
        ListenerRuleSpec::new(
            &env,
            &app,
            listener,
            RuleConditions::paths([format!("/{app}/*")]).unwrap(),
            tg,
            Ownership::new(env.clone())
                .with_app(app.clone())
                .with_component("rule"),
        )
    }

    fn rule(n: u32) -> Rule {
        Rule::builder()
            .rule_arn(format!("{LISTENER}/r{n}"))
            .priority(n.to_string())
            .build()
    }

    fn owner_tags(app: &str, component: &str) -> Vec<(String, String)> {
        vec![
            (
                Ownership::MANAGED_BY_KEY.into(),
                Ownership::MANAGED_BY_VALUE.into(),
            ),
            (Ownership::ENVIRONMENT_KEY.into(), "prod".into()),
            (Ownership::APP_KEY.into(), app.into()),
            (Ownership::COMPONENT_KEY.into(), component.into()),
        ]
    }

    #[test]
    fn each_member_finds_its_own_rule_and_the_rest_is_taken() {
        let shared = ListenerRules::share(vec![spec("a"), spec("b")]);
        let members = shared[0].members();
        assert_eq!(members.len(), 2);
        let rules = [rule(3), rule(5), rule(7), rule(9)];
        let tags: HashMap<String, Vec<(String, String)>> = [
            (format!("{LISTENER}/r3"), owner_tags("b", "rule")),
            (format!("{LISTENER}/r5"), owner_tags("a", "rule")),
            // A second rule with a's tags: the first (lowest priority) is a's, this is taken.
            (format!("{LISTENER}/r7"), owner_tags("a", "rule")),
            // Another component of a: not its rule.
            (format!("{LISTENER}/r9"), owner_tags("a", "other")),
        ]
        .into();
        let (ours, others) = sort_rules(&members, &rules, &tags);
        let a = shared[0].claim.seed();
        let b = shared[1].claim.seed();
        assert_eq!(ours[a].priority(), Some("5"));
        assert_eq!(ours[b].priority(), Some("3"));
        assert_eq!(others, [7, 9].into());
    }

    #[test]
    fn siblings_share_one_allocation_and_each_takes_its_own() {
        // Same preferred priority: without siblings both would take it.
        let make = |app: &str| spec(app).prefer_priority(4_001, 4_001..=4_500).unwrap();
        let shared = ListenerRules::share(vec![make("a"), make("b")]);
        let got: Vec<u32> = shared
            .iter()
            .map(|s| s.choose_priority(None).unwrap())
            .collect();
        assert_eq!(got, [4_001, 4_002]);
        let alone: Vec<u32> = [make("a"), make("b")]
            .iter()
            .map(|s| s.choose_priority(None).unwrap())
            .collect();
        assert_eq!(alone, [4_001, 4_001], "the collision siblings prevent");
    }

    #[test]
    fn errors_name_the_label_field() {
        let explicit = |app: &str| spec(app).priority(10).unwrap().reported_as(app);
        let shared = ListenerRules::share(vec![explicit("a"), explicit("b")]);
        let Err(Error::Invalid(e)) = shared[1].choose_priority(None) else {
            panic!("b's explicit 10 collides with a's")
        };
        assert_eq!(e.field, "b.priority");
        assert_eq!(e.value, "10");
        assert!(
            e.reason.contains("asked for by prod/a/rule@prod/alb:80"),
            "{e}"
        );
        assert_eq!(
            spec("a").priority(0).unwrap_err().field,
            "listener_rule.priority"
        );
        assert!(spec("a").prefer_priority(10, 20..=30).is_err());
        let many: Vec<ListenerRuleSpec> = (0..101)
            .map(|i| spec(&format!("app-{i:03}")).reported_as(format!("app-{i:03}")))
            .collect();
        let shared = ListenerRules::share(many);
        let refused: Vec<InvalidValue> = shared
            .iter()
            .filter_map(|s| match s.choose_priority(None) {
                Err(Error::Invalid(e)) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "app-100.listener_rule");
        assert_eq!(refused[0].value, "101 rules");
        assert!(
            refused[0].reason.contains("100 AWS allows"),
            "{}",
            refused[0]
        );
        assert!(refused[0].allowed.contains("another environment"));
    }
}
