//! Rule priorities, allocated at plan time by one pure function,
//! [`allocate_priorities`], over what is on the listener now and every rule the plan wants
//! on it; each rule of the plan then takes its own answer. Same inputs, same answer: the
//! result does not depend on the order in which rules are planned.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crate::elb::stable_hash;

/// The highest rule priority AWS accepts.
pub const MAX_PRIORITY: u32 = 50_000;
/// The rules AWS allows per Application Load Balancer, default rules not counted.
pub const MAX_RULES_PER_LOAD_BALANCER: usize = 100;

/// Why a rule of the plan gets no priority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriorityError {
    /// The explicit priority is held by another rule on the listener now.
    #[error("priority {priority} is taken by another rule on this listener")]
    Taken {
        /// The priority asked for.
        priority: u32,
    },
    /// Another rule of the same plan asks for the same explicit priority.
    #[error("priority {priority} is asked for by {other} too")]
    TakenInPlan {
        /// The priority asked for.
        priority: u32,
        /// The other rule (its seed).
        other: String,
    },
    /// The priority is outside 1..=50000, or a window is empty or outside it.
    #[error("priority {priority} is out of range")]
    OutOfRange {
        /// The priority asked for.
        priority: u32,
    },
    /// Every priority is taken.
    #[error("every priority from 1 to 50000 is taken")]
    NoneFree,
    /// The load balancer would have more rules than AWS allows.
    #[error(
        "the load balancer would have {} listener rules ({existing} not of this plan, \
         {planned} of this plan), more than the {limit} AWS allows per Application Load \
         Balancer (default rules not counted)",
        existing + planned
    )]
    QuotaExceeded {
        /// Rules on the load balancer's listeners that are not this plan's.
        existing: usize,
        /// This plan's rules on the listener.
        planned: usize,
        /// The limit ([`MAX_RULES_PER_LOAD_BALANCER`]).
        limit: usize,
    },
}

/// The priority a rule prefers when nothing else is said: a stable hash of `seed` (its
/// identity) in 1..=50000.
///
/// ```
/// use fargate_net::listener::preferred_priority;
/// let p = preferred_priority("prod/web@prod/alb:80");
/// assert!((1..=50_000).contains(&p));
/// assert_eq!(p, preferred_priority("prod/web@prod/alb:80"));
/// ```
pub fn preferred_priority(seed: &str) -> u32 {
    // The remainder is below 50 000, so it always fits.
    u32::try_from(stable_hash(seed) % u64::from(MAX_PRIORITY)).unwrap_or(0) + 1
}

/// What one rule of a plan asks of its listener: an explicit priority, or a preferred one
/// inside a window. Identified by its seed (unique per rule and listener).
///
/// ```
/// use fargate_net::listener::RuleClaim;
/// let api = RuleClaim::new("prod/api").prefer(4_001, 4_001..=4_500)?;
/// let admin = RuleClaim::new("prod/admin").explicit(7)?;
/// assert_eq!(api.seed(), "prod/api");
/// # Ok::<(), fargate_net::listener::PriorityError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleClaim {
    seed: String,
    explicit: Option<u32>,
    preferred: u32,
    window: RangeInclusive<u32>,
}

impl RuleClaim {
    /// A claim preferring [`preferred_priority`]`(seed)`, anywhere in 1..=50000.
    pub fn new(seed: impl Into<String>) -> Self {
        let seed = seed.into();
        Self {
            preferred: preferred_priority(&seed),
            seed,
            explicit: None,
            window: 1..=MAX_PRIORITY,
        }
    }

    /// Ask for exactly `priority`; refused at plan time when another rule holds it.
    ///
    /// # Errors
    /// [`PriorityError::OutOfRange`] outside 1..=50000.
    pub fn explicit(mut self, priority: u32) -> Result<Self, PriorityError> {
        if !(1..=MAX_PRIORITY).contains(&priority) {
            return Err(PriorityError::OutOfRange { priority });
        }
        self.explicit = Some(priority);
        Ok(self)
    }

    /// Prefer `priority`, and any free priority of `window` after it (then before it).
    ///
    /// # Errors
    /// [`PriorityError::OutOfRange`] when the window is empty or leaves 1..=50000, or does
    /// not contain `priority`.
    pub fn prefer(
        mut self,
        priority: u32,
        window: RangeInclusive<u32>,
    ) -> Result<Self, PriorityError> {
        let (lo, hi) = (*window.start(), *window.end());
        if lo == 0 || hi > MAX_PRIORITY || lo > hi || !window.contains(&priority) {
            return Err(PriorityError::OutOfRange { priority });
        }
        self.preferred = priority;
        self.window = window;
        Ok(self)
    }

    /// The rule's identity.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// The explicit priority, if any.
    pub fn explicit_priority(&self) -> Option<u32> {
        self.explicit
    }

    /// The preferred priority (the explicit one when given).
    pub fn preferred_priority(&self) -> u32 {
        self.explicit.unwrap_or(self.preferred)
    }
}

/// What is on a listener now, as the allocation sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedPriorities {
    /// The current priority of each claim's own rule, by seed.
    pub ours: BTreeMap<String, u32>,
    /// The priorities of every other rule on the listener (of other apps, tools or people).
    pub others: BTreeSet<u32>,
    /// The number of rules on the load balancer's other listeners (default rules not counted).
    pub elsewhere: usize,
}

/// The priority of every claim (by seed), or why it gets none. Pure and deterministic: the
/// order of `claims` does not matter; a second claim with the seed of an earlier one is
/// ignored.
///
/// # The allocation rule
///
/// A rule of the plan ([`RuleClaim`]) asks either for an **explicit** priority or for a
/// **preferred** one inside a **window** (a frontend's window is its specificity band, so
/// that more specific conditions are evaluated first). Then, with *held* = the priorities of
/// every rule on the listener now (ours and anyone else's):
///
/// 1. **Explicit** claims (in seed order): the priority must not be held by another rule
///    now, nor asked for by an earlier explicit claim; otherwise it is refused
///    ([`PriorityError::Taken`], [`PriorityError::TakenInPlan`]). No rule is given a
///    priority that another rule holds before apply, so the rules of one plan never meet
///    `PriorityInUse` whatever order apply runs them in.
/// 2. **Kept**: a rule we own keeps its current priority when that priority is inside its
///    window (stable across re-applies).
/// 3. **New** rules and rules **outside their window** (their conditions changed), in order
///    of (preferred, seed): the first priority from the preferred one to the end of the
///    window, then from the start of the window, that is neither held nor given to another
///    claim of this plan. When the window is full, a rule we own keeps its priority; a new
///    one takes the first free priority above the window, then below it
///    ([`PriorityError::NoneFree`] when none is left).
///
/// # The quota
///
/// AWS allows [`MAX_RULES_PER_LOAD_BALANCER`] rules per Application Load Balancer, default
/// rules not counted, across all its listeners. The count is per load balancer: every rule
/// on the listener now that is not one of the plan's ([`ObservedPriorities::others`]), the
/// rules on the load balancer's other listeners ([`ObservedPriorities::elsewhere`]), and
/// every claim of the plan. When it is over the limit, the new claims beyond what fits (in
/// seed order) are refused with [`PriorityError::QuotaExceeded`]; rules that exist already
/// are never refused.
///
/// ```
/// use std::collections::BTreeSet;
/// use fargate_net::listener::{ObservedPriorities, RuleClaim, allocate_priorities};
/// let now = ObservedPriorities { others: BTreeSet::from([4_001]), ..Default::default() };
/// let claims = [
///    RuleClaim::new("a").prefer(4_001, 4_001..=4_500)?,
///    RuleClaim::new("b").prefer(4_001, 4_001..=4_500)?,
/// ];
/// let got = allocate_priorities(&now, &claims);
/// assert_eq!(got["a"], Ok(4_002));
/// assert_eq!(got["b"], Ok(4_003));
/// # Ok::<(), fargate_net::listener::PriorityError>(())
/// ```
pub fn allocate_priorities(
    now: &ObservedPriorities,
    claims: &[RuleClaim],
) -> BTreeMap<String, Result<u32, PriorityError>> {
    allocate_with_limit(now, claims, MAX_RULES_PER_LOAD_BALANCER)
}

/// [`allocate_priorities`] with `limit` rules per load balancer.
fn allocate_with_limit(
    now: &ObservedPriorities,
    claims: &[RuleClaim],
    limit: usize,
) -> BTreeMap<String, Result<u32, PriorityError>> {
    let mut unique: BTreeMap<&str, &RuleClaim> = BTreeMap::new();
    for c in claims {
        unique.entry(c.seed.as_str()).or_insert(c);
    }
    let current = |seed: &str| now.ours.get(seed).copied();
    // Every priority a rule holds now: nothing moves onto one of them during this plan.
    let mut held: BTreeSet<u32> = now.others.clone();
    held.extend(now.ours.values().copied());
    // `ours` entries of no claim are rules like any other.
    let stray = now
        .ours
        .keys()
        .filter(|s| !unique.contains_key(s.as_str()))
        .count();
    let mut out: BTreeMap<String, Result<u32, PriorityError>> = BTreeMap::new();
    let mut given: BTreeMap<u32, &str> = BTreeMap::new();

    // The quota: new rules beyond what fits on the load balancer are refused.
    let existing = now.others.len() + stray + now.elsewhere;
    let planned = unique.len();
    if existing.saturating_add(planned) > limit {
        let present = unique.keys().filter(|s| current(s).is_some()).count();
        let room = limit.saturating_sub(existing + present);
        for seed in unique.keys().filter(|s| current(s).is_none()).skip(room) {
            let refused = PriorityError::QuotaExceeded {
                existing,
                planned,
                limit,
            };
            out.insert((*seed).to_string(), Err(refused));
        }
    }
    let todo: Vec<&RuleClaim> = unique
        .values()
        .copied()
        .filter(|c| !out.contains_key(&c.seed))
        .collect();

    // 1. Explicit priorities, in seed order.
    for c in todo.iter().filter(|c| c.explicit.is_some()) {
        let p = c.explicit.unwrap_or_default();
        let result = if !(1..=MAX_PRIORITY).contains(&p) {
            Err(PriorityError::OutOfRange { priority: p })
        } else if held.contains(&p) && current(&c.seed) != Some(p) {
            Err(PriorityError::Taken { priority: p })
        } else if let Some(other) = given.get(&p) {
            Err(PriorityError::TakenInPlan {
                priority: p,
                other: (*other).to_string(),
            })
        } else {
            given.insert(p, &c.seed);
            Ok(p)
        };
        out.insert(c.seed.clone(), result);
    }

    // 2. Rules we own keep their priority inside their window.
    let mut rest: Vec<&RuleClaim> = Vec::new();
    for c in todo.iter().filter(|c| c.explicit.is_none()) {
        match current(&c.seed).filter(|p| c.window.contains(p)) {
            Some(p) => {
                given.insert(p, &c.seed);
                out.insert(c.seed.clone(), Ok(p));
            }
            None => rest.push(c),
        }
    }

    // 3. New rules, and ours outside their window, by (preferred, seed).
    rest.sort_by(|a, b| (a.preferred, &a.seed).cmp(&(b.preferred, &b.seed)));
    for c in rest {
        let free = |p: &u32| !held.contains(p) && !given.contains_key(p);
        let (lo, hi) = (*c.window.start(), *c.window.end());
        let start = c.preferred.clamp(lo, hi);
        let chosen = (start..=hi)
            .chain(lo..start)
            .find(free)
            .or_else(|| current(&c.seed))
            .or_else(|| {
                (hi.saturating_add(1)..=MAX_PRIORITY)
                    .chain(1..lo)
                    .find(free)
            });
        let result = chosen.ok_or(PriorityError::NoneFree);
        if let Ok(p) = result {
            given.insert(p, &c.seed);
        }
        out.insert(c.seed.clone(), result);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn band(b: u32) -> RangeInclusive<u32> {
        b * 500 + 1..=b * 500 + 500
    }

    fn claim(seed: &str, preferred: u32, window: RangeInclusive<u32>) -> RuleClaim {
        RuleClaim::new(seed).prefer(preferred, window).unwrap()
    }

    fn ok(r: &BTreeMap<String, Result<u32, PriorityError>>, seed: &str) -> u32 {
        r[seed].clone().unwrap_or_else(|e| panic!("{seed}: {e}"))
    }

    #[test]
    fn a_rule_we_own_keeps_its_priority() {
        let now = ObservedPriorities {
            ours: [("web".to_string(), 10)].into(),
            others: [1, 2, 3].into(),
            elsewhere: 0,
        };
        assert_eq!(
            allocate_priorities(&now, &[RuleClaim::new("web")])["web"],
            Ok(10)
        );
    }

    #[test]
    fn a_new_rule_takes_its_preferred_priority_or_the_next_free_one() {
        let c = RuleClaim::new("prod/web");
        let p = c.preferred_priority();
        let got = allocate_priorities(&ObservedPriorities::default(), std::slice::from_ref(&c));
        assert_eq!(got["prod/web"], Ok(p));
        let now = ObservedPriorities {
            others: (p..p.saturating_add(3).min(MAX_PRIORITY)).collect(),
            ..Default::default()
        };
        let chosen = ok(&allocate_priorities(&now, &[c]), "prod/web");
        assert!(!now.others.contains(&chosen));
    }

    #[test]
    fn same_preferred_priority_in_one_plan_gives_distinct_priorities() {
        let claims = [claim("b", 4_001, band(8)), claim("a", 4_001, band(8))];
        let got = allocate_priorities(&ObservedPriorities::default(), &claims);
        assert_eq!(ok(&got, "a"), 4_001, "seed order breaks the tie");
        assert_eq!(ok(&got, "b"), 4_002);
        let reversed = [claims[1].clone(), claims[0].clone()];
        assert_eq!(
            allocate_priorities(&ObservedPriorities::default(), &reversed),
            got
        );
    }

    #[test]
    fn search_wraps_inside_the_window_then_leaves_it_only_when_full() {
        let now = ObservedPriorities {
            others: (4_490..=4_500).collect(),
            ..Default::default()
        };
        let got = allocate_priorities(&now, &[claim("x", 4_495, band(8))]);
        assert_eq!(ok(&got, "x"), 4_001, "wraps to the start of its band");
        let full = ObservedPriorities {
            others: band(8).collect(),
            ..Default::default()
        };
        // (500 rules: over one load balancer's quota; the search itself is checked here.)
        let got = allocate_priorities_unlimited(&full, &[claim("x", 4_495, band(8))]);
        assert_eq!(ok(&got, "x"), 4_501, "first free above the band");
    }

    #[test]
    fn a_rule_outside_its_window_moves_into_it_or_stays_when_it_is_full() {
        // Its conditions changed: band 8 now, at 40 before.
        let now = ObservedPriorities {
            ours: [("x".to_string(), 40)].into(),
            ..Default::default()
        };
        let got = allocate_priorities(&now, &[claim("x", 4_010, band(8))]);
        assert_eq!(ok(&got, "x"), 4_010);
        let full = ObservedPriorities {
            ours: [("x".to_string(), 40)].into(),
            others: band(8).collect(),
            elsewhere: 0,
        };
        let got = allocate_priorities(&full, &[claim("x", 4_010, band(8))]);
        assert_eq!(ok(&got, "x"), 40);
    }

    #[test]
    fn explicit_priorities_are_refused_when_held_or_asked_twice() {
        let now = ObservedPriorities {
            ours: [("mine".to_string(), 6)].into(),
            others: [5].into(),
            elsewhere: 0,
        };
        let taken = RuleClaim::new("x").explicit(5).unwrap();
        assert_eq!(
            allocate_priorities(&now, &[taken])["x"],
            Err(PriorityError::Taken { priority: 5 })
        );
        // Held by a sibling that keeps it: refused too (it does not move before apply).
        let claims = [
            RuleClaim::new("x").explicit(6).unwrap(),
            RuleClaim::new("mine"),
        ];
        let got = allocate_priorities(&now, &claims);
        assert_eq!(got["x"], Err(PriorityError::Taken { priority: 6 }));
        assert_eq!(got["mine"], Ok(6));
        let claims = [
            RuleClaim::new("b").explicit(9).unwrap(),
            RuleClaim::new("a").explicit(9).unwrap(),
        ];
        let got = allocate_priorities(&ObservedPriorities::default(), &claims);
        assert_eq!(got["a"], Ok(9));
        assert_eq!(
            got["b"],
            Err(PriorityError::TakenInPlan {
                priority: 9,
                other: "a".into()
            })
        );
        // An explicit priority wins over a sibling's preferred one.
        let claims = [
            claim("pref", 9, 1..=MAX_PRIORITY),
            RuleClaim::new("exp").explicit(9).unwrap(),
        ];
        let got = allocate_priorities(&ObservedPriorities::default(), &claims);
        assert_eq!(got["exp"], Ok(9));
        assert_eq!(got["pref"], Ok(10));
        assert!(RuleClaim::new("x").explicit(0).is_err());
        assert!(RuleClaim::new("x").explicit(50_001).is_err());
        assert!(RuleClaim::new("x").prefer(10, 20..=30).is_err());
        assert!(RuleClaim::new("x").prefer(10, 0..=30).is_err());
    }

    #[test]
    fn every_priority_taken_is_none_free() {
        let all = ObservedPriorities {
            others: (1..=MAX_PRIORITY).collect(),
            ..Default::default()
        };
        let got = allocate_priorities_unlimited(&all, &[RuleClaim::new("x")]);
        assert_eq!(got["x"], Err(PriorityError::NoneFree));
    }

    #[test]
    fn the_rule_beyond_the_quota_is_refused_and_existing_ones_never_are() {
        let now = ObservedPriorities {
            ours: [("kept".to_string(), 7)].into(),
            others: (100..160).collect(),
            elsewhere: 30,
        };
        // 60 + 30 + kept = 91: nine new ones fit, the tenth does not.
        let mut claims = vec![RuleClaim::new("kept")];
        claims.extend((0..10).map(|i| RuleClaim::new(format!("new-{i:02}"))));
        let got = allocate_priorities(&now, &claims);
        assert_eq!(got["kept"], Ok(7));
        for i in 0..9 {
            assert!(got[&format!("new-{i:02}")].is_ok());
        }
        assert_eq!(
            got["new-09"],
            Err(PriorityError::QuotaExceeded {
                existing: 90,
                planned: 11,
                limit: 100
            })
        );
        assert!(
            got["new-09"]
                .clone()
                .unwrap_err()
                .to_string()
                .contains("101")
        );
        claims.pop();
        assert!(
            allocate_priorities(&now, &claims)
                .values()
                .all(Result::is_ok)
        );
    }

    /// A random claim: an explicit priority, or a preferred one in one of 91 bands of 500.
    fn claims_strategy(n: usize) -> impl Strategy<Value = Vec<RuleClaim>> {
        prop::collection::vec(
            (
                0u32..91,
                0u32..500,
                prop::option::weighted(0.1, 1u32..=MAX_PRIORITY),
            ),
            n,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (b, spread, explicit))| {
                    let c = RuleClaim::new(format!("rule-{i:03}"));
                    match explicit {
                        Some(p) => c.explicit(p).unwrap_or_else(|e| panic!("{e}")),
                        None => c
                            .prefer(b * 500 + 1 + spread, band(b))
                            .unwrap_or_else(|e| panic!("{e}")),
                    }
                })
                .collect()
        })
    }

    /// Checks the allocation's invariants and returns the successful results.
    fn check(
        now: &ObservedPriorities,
        claims: &[RuleClaim],
        got: &BTreeMap<String, Result<u32, PriorityError>>,
    ) -> Result<BTreeMap<String, u32>, TestCaseError> {
        let mut seen = BTreeSet::new();
        let mut okay = BTreeMap::new();
        for c in claims {
            let r = &got[c.seed()];
            if let Ok(p) = r {
                prop_assert!((1..=MAX_PRIORITY).contains(p));
                prop_assert!(seen.insert(*p), "{p} given twice");
                prop_assert!(!now.others.contains(p), "{p} is someone else's");
                // A priority another rule of ours holds now is not moved onto.
                for (seed, q) in &now.ours {
                    prop_assert!(seed == c.seed() || q != p);
                }
                okay.insert(c.seed().to_string(), *p);
            }
            match (c.explicit_priority(), r) {
                (Some(e), Ok(p)) => prop_assert_eq!(e, *p),
                (Some(_), Err(err)) => prop_assert!(
                    matches!(
                        err,
                        PriorityError::Taken { .. } | PriorityError::TakenInPlan { .. }
                    ),
                    "{err}"
                ),
                (None, Err(err)) => prop_assert!(false, "preferred claim refused: {err}"),
                (None, Ok(_)) => {}
            }
        }
        Ok(okay)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn no_collision_among_150_random_rules_stable_and_ordered(
            claims in claims_strategy(150),
            others in prop::collection::btree_set(1u32..=MAX_PRIORITY, 0..200),
        ) {
            // 150 rules are over the quota of one load balancer; the allocator itself is
            // checked here on a listener of its own (quota aside).
            let now = ObservedPriorities { others, ..Default::default() };
            let got = allocate_priorities_unlimited(&now, &claims);
            let first = check(&now, &claims, &got)?;

            // Deterministic, whatever the order of the claims.
            let mut reversed = claims.clone();
            reversed.reverse();
            prop_assert_eq!(&allocate_priorities_unlimited(&now, &reversed), &got);

            // Stable: with the result as ours, nothing changes.
            let again = ObservedPriorities { ours: first.clone(), ..now.clone() };
            let second = check(&again, &claims, &allocate_priorities_unlimited(&again, &claims))?;
            prop_assert_eq!(&second, &first);

            // Specificity: a preferred claim lands in its band when the band has room
            // (a band of 500 never fills with 150 rules and 200 others here), so a claim of
            // a lower band is always evaluated first.
            for c in claims.iter().filter(|c| c.explicit_priority().is_none()) {
                let p = first[c.seed()];
                let b = (c.preferred_priority() - 1) / 500;
                prop_assert!(band(b).contains(&p), "{} at {p}, band {b}", c.seed());
            }
        }

        #[test]
        fn an_existing_state_is_respected(
            claims in claims_strategy(60),
            mine in prop::collection::btree_map(0usize..60, 1u32..=MAX_PRIORITY, 0..40),
            others in prop::collection::btree_set(1u32..=MAX_PRIORITY, 0..30),
        ) {
            let mut ours = BTreeMap::new();
            let mut used: BTreeSet<u32> = others.clone();
            for (i, p) in mine {
                if used.insert(p) {
                    ours.insert(format!("rule-{i:03}"), p);
                }
            }
            let now = ObservedPriorities { ours: ours.clone(), others, elsewhere: 0 };
            let got = allocate_priorities(&now, &claims);
            check(&now, &claims, &got)?;
            // A preferred rule we own inside its window keeps its priority.
            for c in claims.iter().filter(|c| c.explicit_priority().is_none()) {
                if let Some(p) = ours.get(c.seed())
                    && band((c.preferred_priority() - 1) / 500).contains(p)
                {
                    prop_assert_eq!(&got[c.seed()], &Ok(*p));
                }
            }
        }

        #[test]
        fn the_quota_refuses_exactly_the_rules_beyond_it(
            n in 1usize..130,
            others in 0usize..60,
            elsewhere in 0usize..30,
        ) {
            let now = ObservedPriorities {
                others: (1..=u32::try_from(others).unwrap_or(0)).collect(),
                elsewhere,
                ..Default::default()
            };
            let claims: Vec<RuleClaim> = (0..n).map(|i| RuleClaim::new(format!("r{i:03}"))).collect();
            let got = allocate_priorities(&now, &claims);
            let refused = got.values().filter(|r| matches!(r, Err(PriorityError::QuotaExceeded { .. }))).count();
            let room = MAX_RULES_PER_LOAD_BALANCER.saturating_sub(others + elsewhere);
            prop_assert_eq!(refused, n.saturating_sub(room));
        }
    }

    /// [`allocate_priorities`] without the quota, for the collision properties of more
    /// rules than one load balancer takes.
    fn allocate_priorities_unlimited(
        now: &ObservedPriorities,
        claims: &[RuleClaim],
    ) -> BTreeMap<String, Result<u32, PriorityError>> {
        allocate_with_limit(now, claims, usize::MAX)
    }
}
