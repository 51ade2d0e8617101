//! Listener rules: conditions → forward to an app's target group, with a
//! priority chosen at plan time by the pure function [`allocate_priority`]: a
//! rule we own keeps its priority; a new rule gets a deterministic preferred
//! priority derived from its identity, or the next free one when that is
//! taken by a rule of another app or tool; an explicit priority that another
//! rule holds is refused before any mutating call.
//!
//! "Our" rule on a listener is the one whose tags show the rule's ownership
//! (environment, app and component); every other rule's priority is taken.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, PathPatternConditionConfig, Rule, RuleCondition, RulePriorityPair,
};
use fargate_core::resource::{BoxFuture, PlanBoard};
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, Error, FieldDiff, Fields, Ident, InvalidValue, Mode, OutputKey,
    Planned, Resource, ResourceId, StepContext, Tags, create_or_existing,
};

use super::{ListenerAction, ListenerRef, actions_value};
use crate::NetClients;
use crate::elb::{is_owned_by, stable_hash, tags_by_arn, unless_absent};
use crate::tagging::elb_tags;
use crate::target_group::TargetGroupRef;

/// The resource kind of listener rules in plans.
pub const RULE_KIND: &str = "elbv2:listener-rule";
/// The highest rule priority AWS accepts.
pub const MAX_PRIORITY: u32 = 50_000;
/// At most this many condition values per rule (AWS's limit).
const MAX_CONDITION_VALUES: usize = 5;

/// Why no priority could be given to a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriorityError {
    /// The explicit priority is held by a rule fargate-rs does not own for this app.
    #[error("priority {priority} is taken by another rule on this listener")]
    Taken {
        /// The priority asked for.
        priority: u32,
    },
    /// The explicit priority is outside 1..=50000.
    #[error("priority {priority} is out of range")]
    OutOfRange {
        /// The priority asked for.
        priority: u32,
    },
    /// Every priority is taken.
    #[error("every priority from 1 to 50000 is taken")]
    NoneFree,
}

/// The priority a new rule prefers: a stable hash of `seed` (its identity) in 1..=50000.
pub fn preferred_priority(seed: &str) -> u32 {
    // The remainder is below 50 000, so it always fits.
    u32::try_from(stable_hash(seed) % u64::from(MAX_PRIORITY)).unwrap_or(0) + 1
}

/// Chooses a rule's priority (pure and deterministic).
///
/// - `explicit`: the user's priority; it must not be in `taken`.
/// - otherwise `current`, the priority of the rule we already own (kept across applies),
///   unless it is in `taken`;
/// - otherwise [`preferred_priority`]`(seed)`, or the next free priority after it
///   (wrapping from 50000 to 1).
///
/// `taken` holds the priorities of every rule on the listener that is not this rule.
///
/// ```
/// use std::collections::BTreeSet;
/// use fargate_net::listener::{allocate_priority, preferred_priority};
/// let p = preferred_priority("prod/web");
/// let taken: BTreeSet<u32> = [p].into();
/// let chosen = allocate_priority("prod/web", None, None, &taken)?;
/// assert_ne!(chosen, p);
/// assert_eq!(allocate_priority("prod/web", None, Some(7), &taken)?, 7);
/// # Ok::<(), fargate_net::listener::PriorityError>(())
/// ```
///
/// # Errors
/// [`PriorityError`] when the explicit priority is out of range or taken, or none is free.
pub fn allocate_priority(
    seed: &str,
    explicit: Option<u32>,
    current: Option<u32>,
    taken: &BTreeSet<u32>,
) -> Result<u32, PriorityError> {
    if let Some(p) = explicit {
        if !(1..=MAX_PRIORITY).contains(&p) {
            return Err(PriorityError::OutOfRange { priority: p });
        }
        if taken.contains(&p) {
            return Err(PriorityError::Taken { priority: p });
        }
        return Ok(p);
    }
    if let Some(p) = current.filter(|p| (1..=MAX_PRIORITY).contains(p) && !taken.contains(p)) {
        return Ok(p);
    }
    let start = preferred_priority(seed);
    (start..=MAX_PRIORITY)
        .chain(1..start)
        .find(|p| !taken.contains(p))
        .ok_or(PriorityError::NoneFree)
}

/// What a rule matches: path patterns and/or host headers (at least one value, at most
/// five in all, AWS's limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConditions {
    path_patterns: Vec<String>,
    host_headers: Vec<String>,
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
        })
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
        out
    }
}

/// A listener rule fargate-rs creates and owns for one app: conditions → forward to the
/// app's target group.
#[derive(Debug, Clone)]
pub struct ListenerRuleSpec {
    id: ResourceId,
    listener: ListenerRef,
    conditions: RuleConditions,
    target_group: TargetGroupRef,
    priority: Option<u32>,
    seed: String,
    owner: Ownership,
    tags: Tags,
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
            priority: None,
            seed: name,
            owner,
            tags: Tags::new(),
        }
    }

    /// A fixed priority (1 = evaluated first). Applying fails before any change if another
    /// rule on the listener holds it.
    ///
    /// # Errors
    /// [`InvalidValue`] outside 1..=50000.
    pub fn priority(mut self, priority: u32) -> Result<Self, InvalidValue> {
        if !(1..=MAX_PRIORITY).contains(&priority) {
            return Err(InvalidValue::new(
                "listener_rule.priority",
                priority.to_string(),
                "out of range",
                "1 to 50000",
            ));
        }
        self.priority = Some(priority);
        Ok(self)
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The priority this rule gets when it is new and that priority is free
    /// ([`preferred_priority`] of its identity).
    pub fn preferred_priority(&self) -> u32 {
        preferred_priority(&self.seed)
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
        Fields::new()
            .with("priority", priority)
            .with_set(
                "conditions.path_patterns",
                self.conditions.path_patterns.clone(),
            )
            .with_set(
                "conditions.host_headers",
                self.conditions.host_headers.clone(),
            )
            .with(
                "action",
                ListenerAction::Forward(self.target_group.clone()).value(),
            )
    }

    fn is_ours(&self, tags: &[(String, String)]) -> bool {
        is_owned_by(&self.owner, tags)
            && tags
                .iter()
                .find(|(k, _)| k == Ownership::COMPONENT_KEY)
                .map(|(_, v)| v.as_str())
                == self.owner.component.as_deref()
    }
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
    Fields::new()
        .with(
            "priority",
            rule.priority().and_then(|p| p.parse::<u32>().ok()),
        )
        .with_set("conditions.path_patterns", values("path-pattern"))
        .with_set("conditions.host_headers", values("host-header"))
        .with("action", actions_value(rule.actions()))
}

/// What the rule plan found on the listener.
#[derive(Debug, Clone)]
struct ObservedRule {
    listener_arn: String,
    ours: Option<Rule>,
    taken: BTreeSet<u32>,
}

impl ListenerRuleSpec {
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe(
        &self,
        elb: &ElbClient,
        board: &PlanBoard,
    ) -> Result<Option<ObservedRule>, Error> {
        let Some(listener_arn) = self.listener.observe_arn(elb, board).await? else {
            return Ok(None);
        };
        self.observe_on(elb, listener_arn).await
    }

    /// The rules of the listener `listener_arn`: ours (by its tags) and the priorities
    /// the others hold.
    async fn observe_on(
        &self,
        elb: &ElbClient,
        listener_arn: String,
    ) -> Result<Option<ObservedRule>, Error> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = elb
                .describe_rules()
                .listener_arn(&listener_arn)
                .set_marker(marker.take())
                .send()
                .await;
            let Some(out) = unless_absent(out, &self.id, "DescribeRules", |e| {
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
        let arns: Vec<String> = rules
            .iter()
            .filter_map(|r| r.rule_arn().map(str::to_string))
            .collect();
        let tags = if arns.is_empty() {
            Default::default()
        } else {
            tags_by_arn(elb, &self.id, &arns).await?
        };
        let mut ours = None;
        let mut taken = BTreeSet::new();
        for rule in rules {
            let rule_tags = rule
                .rule_arn()
                .and_then(|a| tags.get(a))
                .map(Vec::as_slice)
                .unwrap_or_default();
            if ours.is_none() && self.is_ours(rule_tags) {
                ours = Some(rule);
            } else if let Some(p) = rule.priority().and_then(|p| p.parse::<u32>().ok()) {
                taken.insert(p);
            }
        }
        Ok(Some(ObservedRule {
            listener_arn,
            ours,
            taken,
        }))
    }

    /// The priority for this plan, or the error that stops it before any call.
    fn choose_priority(&self, observed: Option<&ObservedRule>) -> Result<u32, Error> {
        let empty = BTreeSet::new();
        let taken = observed.map_or(&empty, |o| &o.taken);
        let current = observed
            .and_then(|o| o.ours.as_ref())
            .and_then(|r| r.priority())
            .and_then(|p| p.parse().ok());
        allocate_priority(&self.seed, self.priority, current, taken).map_err(|e| {
            Error::Invalid(InvalidValue::new(
                "listener_rule.priority",
                self.priority.map(|p| p.to_string()).unwrap_or_default(),
                format!("{e} ({})", self.id.name),
                "a priority no other rule on the listener uses, or none to let fargate-rs choose",
            ))
        })
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
            .actions(ListenerAction::Forward(self.target_group.clone()).sdk(ctx)?)
            .set_tags(Some(elb_tags(&self.owner, &self.tags, &self.id.name)))
            .send()
            .await;
        // A retried create whose first attempt was applied finds the priority taken by
        // its own rule (ours by its tags; a rule of anyone else is not taken over).
        let found = || async {
            let observed = self.observe_on(elb, listener_arn.to_string()).await?;
            Ok(observed.and_then(|o| o.ours))
        };
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
                let diffs = rule_fields(&rule).diff(&self.desired_fields(priority));
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
            || changed("action")
        {
            elb.modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(self.conditions.sdk()))
                .actions(ListenerAction::Forward(self.target_group.clone()).sdk(ctx)?)
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

impl<C> Resource<C> for ListenerRuleSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.listener.id.clone(), self.target_group.id.clone()]
    }

    plan_via_plan_with!();

    fn plan_with<'a>(
        &'a self,
        clients: &'a C,
        mode: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        Box::pin(async move {
            let observed = self.observe(&clients.as_ref().elb, board).await?;
            let spec = self.clone();
            let key = self.arn();
            if mode == Mode::Destroy {
                let Some(arn) = observed
                    .and_then(|o| o.ours)
                    .and_then(|r| r.rule_arn().map(str::to_string))
                else {
                    return Ok(Planned::nothing(Change::NoOp));
                };
                let delete = arn.clone();
                let planned = Planned::new(Change::Delete, move |c: C, _ctx| async move {
                    delete_rule(&c.as_ref().elb, &spec.id, &delete).await
                });
                return Ok(planned.with_output(&key, &arn));
            }
            let priority = self.choose_priority(observed.as_ref())?;
            let ours = observed.as_ref().and_then(|o| o.ours.as_ref());
            let change = Change::compute(
                &self.desired_fields(priority),
                ours.map(rule_fields).as_ref(),
                &[],
            );
            let diffs = match &change {
                Change::Update { diffs } => diffs.clone(),
                _ => Vec::new(),
            };
            let found = observed.and_then(|o| {
                let arn = o.ours.as_ref()?.rule_arn()?.to_string();
                Some((o.listener_arn, arn))
            });
            let existing = found.as_ref().map(|(_, arn)| arn.clone());
            let planned = Planned::new(change, move |c: C, ctx| async move {
                let elb = &c.as_ref().elb;
                let listener_arn = spec.listener.arn.resolve(&ctx)?;
                match found {
                    Some((observed_listener, arn)) if observed_listener == listener_arn => {
                        ctx.set(&spec.arn(), arn.clone());
                        if diffs.is_empty() {
                            Ok(())
                        } else {
                            spec.update(elb, &ctx, &arn, priority, &diffs).await
                        }
                    }
                    _ => spec.create(elb, &ctx, &listener_arn, priority).await,
                }
            });
            Ok(match existing {
                Some(arn) => planned.with_output(&key, &arn),
                None => planned,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn a_rule_we_own_keeps_its_priority() {
        let taken: BTreeSet<u32> = [1, 2, 3].into();
        assert_eq!(
            allocate_priority("prod/web", None, Some(10), &taken),
            Ok(10)
        );
    }

    #[test]
    fn a_new_rule_takes_its_preferred_priority_or_the_next_free_one() {
        let p = preferred_priority("prod/web");
        assert!((1..=MAX_PRIORITY).contains(&p));
        assert_eq!(
            allocate_priority("prod/web", None, None, &BTreeSet::new()),
            Ok(p)
        );
        let taken: BTreeSet<u32> = (p..p.saturating_add(3).min(MAX_PRIORITY)).collect();
        let chosen = allocate_priority("prod/web", None, None, &taken).unwrap();
        assert!(!taken.contains(&chosen));
    }

    #[test]
    fn allocation_wraps_around_after_the_last_priority() {
        let seed = (0..10_000)
            .map(|i| format!("seed-{i}"))
            .find(|s| preferred_priority(s) > MAX_PRIORITY - 100)
            .unwrap();
        let taken: BTreeSet<u32> = (preferred_priority(&seed)..=MAX_PRIORITY).collect();
        assert_eq!(allocate_priority(&seed, None, None, &taken), Ok(1));
    }

    #[test]
    fn explicit_priorities_are_refused_when_taken() {
        let taken: BTreeSet<u32> = [5].into();
        assert_eq!(
            allocate_priority("x", Some(5), None, &taken),
            Err(PriorityError::Taken { priority: 5 })
        );
        assert_eq!(allocate_priority("x", Some(6), Some(5), &taken), Ok(6));
        assert_eq!(
            allocate_priority("x", Some(0), None, &taken),
            Err(PriorityError::OutOfRange { priority: 0 })
        );
        let all: BTreeSet<u32> = (1..=MAX_PRIORITY).collect();
        assert_eq!(
            allocate_priority("x", None, None, &all),
            Err(PriorityError::NoneFree)
        );
    }

    proptest! {
        #[test]
        fn allocation_never_returns_a_taken_priority_and_is_deterministic(
            seed in "[a-z/]{0,20}",
            taken in prop::collection::btree_set(1u32..=MAX_PRIORITY, 0..200),
            near in prop::collection::btree_set(0u32..300, 0..300),
            current in prop::option::of(1u32..=MAX_PRIORITY),
        ) {
            // Crowd the preferred priority so the search has to move on.
            let start = preferred_priority(&seed);
            let mut taken = taken;
            taken.extend(near.iter().map(|d| (start + d - 1) % MAX_PRIORITY + 1));
            let chosen = allocate_priority(&seed, None, current, &taken).unwrap();
            prop_assert!(!taken.contains(&chosen));
            prop_assert!((1..=MAX_PRIORITY).contains(&chosen));
            prop_assert_eq!(allocate_priority(&seed, None, current, &taken).unwrap(), chosen);
            if let Some(c) = current.filter(|c| !taken.contains(c)) {
                prop_assert_eq!(chosen, c);
            }
        }

        #[test]
        fn explicit_priority_is_used_exactly_or_refused(
            p in 1u32..=MAX_PRIORITY,
            taken in prop::collection::btree_set(1u32..=MAX_PRIORITY, 0..50),
        ) {
            match allocate_priority("s", Some(p), None, &taken) {
                Ok(chosen) => { prop_assert_eq!(chosen, p); prop_assert!(!taken.contains(&p)); }
                Err(PriorityError::Taken { priority }) => { prop_assert_eq!(priority, p); prop_assert!(taken.contains(&p)); }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
