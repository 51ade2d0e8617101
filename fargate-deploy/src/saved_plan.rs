//! Saved plans: a plan written to a file, reviewed, and applied later — only if AWS and the
//! input still give exactly that plan.
//!
//! [`crate::DeployPlan::to_saved`] turns a plan into a [`SavedPlan`]: plain data (JSON with
//! [`SavedPlan::to_json`]) that holds the environment, the [`PlanMode`], the environment's
//! generation the plan was made at (see [`crate::lock`]), a digest of the input it was made
//! from and the [`Plan`] as shown (secrets redacted; a redacted field carries a short digest
//! of its values, [`fargate_core::FieldDiff::digest`], so a changed secret still changes the
//! plan). Nothing executable is saved: [`crate::Deployer::apply_saved`] observes AWS again,
//! and applies the fresh plan only when it is exactly the saved one — same environment, mode,
//! generation and input, the same entries in the same order with the same changes and field
//! diffs. Otherwise it refuses with [`SavedPlanError::Stale`], naming each [`Difference`],
//! before any mutating call.
//!
//! ```no_run
//! # async fn demo(env: fargate_deploy::Environment, app: fargate_deploy::ContainerService) -> Result<(), Box<dyn std::error::Error>> {
//! use fargate_deploy::{ApplyOptions, Deployer, SavedPlan};
//! let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let deployer = Deployer::new(&sdk).await?;
//! let plan = deployer.plan(&env, &[&app]).await?;
//! std::fs::write("plan.json", plan.to_saved().to_json()?)?;
//! // ... reviewed, later, maybe in another process:
//! let saved = SavedPlan::from_json(&std::fs::read_to_string("plan.json")?)?;
//! deployer.apply_saved(&env, &[&app], &saved, ApplyOptions::default()).await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use fargate_core::{
    Change, FieldDiff, Mode, Observations, Plan, PlannedChange, Resource, ResourceId,
};
use serde::{Deserialize, Serialize};

use crate::Clients;
use crate::deployer::App;
use crate::environment::Environment;

/// The saved-plan format this version writes and reads.
pub const FORMAT: u32 = 2;

/// How many differing resources a [`SavedPlanError::Stale`] message lists (all are in its data).
const LISTED: usize = 12;

/// What a plan does: apply, destroy everything, or destroy only the apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    /// Create or update ([`crate::Deployer::plan`]).
    Apply,
    /// Remove the apps and the environment ([`crate::Deployer::plan_destroy`]).
    Destroy,
    /// Remove only the apps ([`crate::Deployer::plan_destroy_apps`]).
    DestroyApps,
}

impl PlanMode {
    pub(crate) fn of(mode: Mode, with_env: bool) -> Self {
        match (mode, with_env) {
            (Mode::Apply, _) => PlanMode::Apply,
            (Mode::Destroy, true) => PlanMode::Destroy,
            (Mode::Destroy, false) => PlanMode::DestroyApps,
        }
    }

    /// The planner's mode and whether the environment's own resources are in the plan.
    pub(crate) fn parts(self) -> (Mode, bool) {
        match self {
            PlanMode::Apply => (Mode::Apply, true),
            PlanMode::Destroy => (Mode::Destroy, true),
            PlanMode::DestroyApps => (Mode::Destroy, false),
        }
    }
}

impl fmt::Display for PlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlanMode::Apply => "apply",
            PlanMode::Destroy => "destroy",
            PlanMode::DestroyApps => "destroy-apps",
        })
    }
}

/// A plan as data, to be written to a file, reviewed and applied later with
/// [`crate::Deployer::apply_saved`]; made by [`crate::DeployPlan::to_saved`].
///
/// # Format
///
/// JSON: `{"format": 2, "environment", "mode": "apply" | "destroy" | "destroy-apps",
/// "generation": <version of the environment's applied parameter, or null>,
/// "input_digest": "sha256:…", "plan": <the Plan>, "observations": <what every resource
/// observed, the plan's source (secrets only as digests)>}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    format: u32,
    environment: String,
    mode: PlanMode,
    generation: Option<i64>,
    input_digest: String,
    plan: Plan,
    observations: Observations,
}

impl SavedPlan {
    pub(crate) fn new(
        environment: String,
        mode: PlanMode,
        generation: Option<i64>,
        input_digest: String,
        plan: Plan,
        observations: Observations,
    ) -> Self {
        Self {
            format: FORMAT,
            environment,
            mode,
            generation,
            input_digest,
            plan,
            observations,
        }
    }

    /// What AWS looked like when the plan was made (the plan follows from these and the
    /// input: [`crate::DeployPlan::plan_from`]).
    pub fn observations(&self) -> &Observations {
        &self.observations
    }

    /// The environment the plan changes.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// Apply, destroy or destroy only the apps.
    pub fn mode(&self) -> PlanMode {
        self.mode
    }

    /// The environment's generation the plan was made at (`None`: never applied).
    pub fn generation(&self) -> Option<i64> {
        self.generation
    }

    /// The digest of the environment and apps the plan was made from.
    pub fn input_digest(&self) -> &str {
        &self.input_digest
    }

    /// The plan as it was shown (render it with `Display`).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Pretty JSON, the file format (secrets already redacted).
    ///
    /// # Errors
    /// Only if serialization fails, which does not happen for plans made by this library.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Read a saved plan written by [`SavedPlan::to_json`].
    ///
    /// # Errors
    /// [`SavedPlanError::Format`] for another format version (or none);
    /// [`SavedPlanError::Malformed`] for anything that is not a saved plan.
    pub fn from_json(json: &str) -> Result<Self, SavedPlanError> {
        let malformed = |e: serde_json::Error| SavedPlanError::Malformed {
            detail: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(json).map_err(malformed)?;
        match value.get("format") {
            Some(v) if v.as_u64() == Some(u64::from(FORMAT)) => {}
            found => {
                return Err(SavedPlanError::Format {
                    found: found.map_or_else(|| "none".to_string(), ToString::to_string),
                    supported: FORMAT,
                });
            }
        }
        serde_json::from_value(value).map_err(malformed)
    }

    /// What differs from `now` (a fresh plan of the same input, saved), empty when nothing
    /// does. `now_by` says who applied the fresh plan's generation.
    pub(crate) fn differences(&self, now: &SavedPlan, now_by: &str) -> Vec<Difference> {
        if self.environment != now.environment {
            return vec![Difference::Environment {
                saved: self.environment.clone(),
                now: now.environment.clone(),
            }];
        }
        if self.mode != now.mode {
            return vec![Difference::Mode {
                saved: self.mode,
                now: now.mode,
            }];
        }
        let mut out = Vec::new();
        if self.generation != now.generation {
            out.push(Difference::Generation {
                saved: self.generation,
                now: now.generation,
                by: now_by.to_string(),
            });
        }
        if self.input_digest != now.input_digest {
            out.push(Difference::Input);
        }
        let saved: BTreeMap<&ResourceId, &PlannedChange> =
            self.plan.changes.iter().map(|c| (&c.id, c)).collect();
        let fresh: BTreeMap<&ResourceId, &PlannedChange> =
            now.plan.changes.iter().map(|c| (&c.id, c)).collect();
        let mut seen = BTreeSet::new();
        let mut resources = Vec::new();
        for c in self.plan.changes.iter().chain(&now.plan.changes) {
            if !seen.insert(&c.id) {
                continue;
            }
            let (s, n) = (saved.get(&c.id).copied(), fresh.get(&c.id).copied());
            if s != n {
                resources.push(Difference::Resource {
                    id: c.id.clone(),
                    saved: s.cloned().map(Box::new),
                    now: n.cloned().map(Box::new),
                });
            }
        }
        if resources.is_empty() && self.plan.changes != now.plan.changes {
            resources.push(Difference::Order);
        }
        out.extend(resources);
        out
    }
}

/// Why a saved plan was not read or not applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SavedPlanError {
    /// The fresh plan is not the saved one: nothing was applied.
    #[error(
        "the saved plan for environment {environment} is stale, nothing was applied:{}\n  plan again and review the new plan",
        list(differences)
    )]
    Stale {
        /// The environment.
        environment: String,
        /// What differs, saved vs now.
        differences: Vec<Difference>,
    },
    /// The file is a saved plan of another format version.
    #[error("saved plan format {found} is not supported (allowed: {supported})")]
    Format {
        /// The `format` the file has (`none` when it has none).
        found: String,
        /// The format this version reads.
        supported: u32,
    },
    /// The file is not a saved plan.
    #[error("not a valid saved plan: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
}

fn list(differences: &[Difference]) -> String {
    let mut s = String::new();
    for d in differences.iter().take(LISTED) {
        let _ = write!(s, "\n  - {d}");
    }
    if differences.len() > LISTED {
        let _ = write!(s, "\n  - and {} more", differences.len() - LISTED);
    }
    s
}

/// One thing that differs between a saved plan and the fresh plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Difference {
    /// The plan was made for another environment.
    Environment {
        /// The saved plan's.
        saved: String,
        /// The one given now.
        now: String,
    },
    /// The plan was made for another mode.
    Mode {
        /// The saved plan's.
        saved: PlanMode,
        /// The one given now.
        now: PlanMode,
    },
    /// Another apply changed the environment since the plan was made.
    Generation {
        /// The generation the plan was made at.
        saved: Option<i64>,
        /// The generation now.
        now: Option<i64>,
        /// Who applied last, and when.
        by: String,
    },
    /// The environment or apps given now are not those the plan was made from.
    Input,
    /// One resource's entry differs (`None`: not in that plan).
    Resource {
        /// The resource.
        id: ResourceId,
        /// Its entry in the saved plan.
        saved: Option<Box<PlannedChange>>,
        /// Its entry in the fresh plan.
        now: Option<Box<PlannedChange>>,
    },
    /// The same entries, in another order.
    Order,
    /// The saved entries are not what the saved observations give (the file was edited,
    /// or written by another version).
    Recorded,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = |g: &Option<i64>| g.map_or_else(|| "none".to_string(), |v| v.to_string());
        match self {
            Difference::Environment { saved, now } => {
                write!(f, "the plan was made for environment {saved}, not {now}")
            }
            Difference::Mode { saved, now } => {
                write!(f, "the plan is a {saved} plan, not {now}")
            }
            Difference::Generation { saved, now, by } => {
                write!(
                    f,
                    "another apply ran since (generation {} → {})",
                    generation(saved),
                    generation(now)
                )?;
                if !by.is_empty() {
                    write!(f, ": {by}")?;
                }
                Ok(())
            }
            Difference::Input => f.write_str(
                "the plan was made for other input (the environment or apps given now differ)",
            ),
            Difference::Resource { id, saved, now } => {
                write!(f, "{id}: ")?;
                resource_difference(f, saved.as_deref(), now.as_deref())
            }
            Difference::Order => f.write_str("the same entries in another order"),
            Difference::Recorded => f.write_str(
                "the saved entries are not what its recorded observations give (edited, or written by another version)",
            ),
        }
    }
}

fn action(c: Option<&PlannedChange>) -> String {
    let Some(c) = c else {
        return "not in the plan".to_string();
    };
    let fields = |d: &[FieldDiff]| {
        d.iter()
            .map(|d| d.field.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &c.change {
        Change::Create { .. } => "create".to_string(),
        Change::Update { diffs } => format!("update ({})", fields(diffs)),
        Change::Replace { diffs, .. } => format!("replace ({})", fields(diffs)),
        Change::Delete => "delete".to_string(),
        Change::Adopt { detail } => format!("adopt ({detail})"),
        Change::NoOp => "no change".to_string(),
        _ => "another change".to_string(),
    }
}

fn diffs(c: &Change) -> Option<&[FieldDiff]> {
    match c {
        Change::Create { fields } => Some(fields),
        Change::Update { diffs } | Change::Replace { diffs, .. } => Some(diffs),
        _ => None,
    }
}

fn shown(d: Option<&FieldDiff>) -> String {
    let value = |v: &Option<serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "(none)".to_string(),
        Some(v) => v.to_string(),
    };
    match d {
        None => "unchanged".to_string(),
        Some(d) if d.sensitive => "(sensitive)".to_string(),
        Some(d) if d.old.is_none() => format!("= {}", value(&d.new)),
        Some(d) => format!("{} -> {}", value(&d.old), value(&d.new)),
    }
}

/// `saved <what>, now <what>`: the actions when they differ, else the fields that differ.
fn resource_difference(
    f: &mut fmt::Formatter<'_>,
    saved: Option<&PlannedChange>,
    now: Option<&PlannedChange>,
) -> fmt::Result {
    let (a, b) = (action(saved), action(now));
    let (Some(s), Some(n)) = (saved, now) else {
        return write!(f, "saved {a}, now {b}");
    };
    if std::mem::discriminant(&s.change) != std::mem::discriminant(&n.change) {
        return write!(f, "saved {a}, now {b}");
    }
    if let (Some(sd), Some(nd)) = (diffs(&s.change), diffs(&n.change)) {
        let names: BTreeSet<&str> = sd.iter().chain(nd).map(|d| d.field.as_str()).collect();
        let mut parts = Vec::new();
        for name in names {
            let (x, y) = (
                sd.iter().find(|d| d.field == name),
                nd.iter().find(|d| d.field == name),
            );
            if x != y {
                let (xs, ys) = (shown(x), shown(y));
                if xs == ys {
                    parts.push(format!("{name}: a different value than saved"));
                } else {
                    parts.push(format!("{name}: saved {xs}, now {ys}"));
                }
            }
        }
        if !parts.is_empty() {
            return write!(f, "{}", parts.join("; "));
        }
    }
    if s.change != n.change {
        return write!(f, "saved {a}, now {b} (its details differ)");
    }
    f.write_str("its dependencies differ")
}

/// A digest of what a plan is made from: the environment, each app's name and what the
/// deployer reads of it (its service, task, load balancer needs and rules, pre-flight
/// requirements and task sizes), and every resource of the graph with its dependencies. What
/// it does not cover (an app's every field) still shows in the plan itself, which a saved plan
/// is compared with entry by entry.
pub(crate) fn input_digest(
    env: &Environment,
    apps: &[&dyn App],
    resources: &[Arc<dyn Resource<Clients>>],
) -> String {
    use sha2::{Digest, Sha256};
    let mut text = format!("{env:?}\n");
    for a in apps {
        let _ = writeln!(
            text,
            "app {}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            a.name(),
            a.needs(),
            a.listener_rules(env),
            a.service(env),
            a.task(env),
            a.preflight(env),
            a.cost_inputs(env),
        );
    }
    for r in resources {
        let _ = writeln!(text, "{} <- {:?}", r.id(), r.depends_on());
    }
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fargate_core::Fields;

    fn entry(name: &str, change: Change) -> PlannedChange {
        PlannedChange {
            id: ResourceId::new("ecs:task-definition", name),
            change,
            depends_on: Vec::new(),
        }
    }

    fn saved(generation: Option<i64>, changes: Vec<PlannedChange>) -> SavedPlan {
        SavedPlan::new(
            "prod".into(),
            PlanMode::Apply,
            generation,
            "sha256:x".into(),
            Plan::new(changes),
            Observations::default(),
        )
    }

    fn update(image: &str) -> Change {
        Change::compute(
            &Fields::new().with("image", image),
            Some(&Fields::new().with("image", "nginx:1")),
            &[],
        )
    }

    #[test]
    fn json_round_trips() {
        let s = saved(Some(3), vec![entry("web", update("nginx:2"))]);
        let back = SavedPlan::from_json(&s.to_json().unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(s.differences(&back, "").is_empty());
    }

    #[test]
    fn another_format_or_a_malformed_file_is_a_typed_error() {
        let json = saved(None, Vec::new()).to_json().unwrap();
        let v1 = json.replace("\"format\": 2", "\"format\": 1");
        assert_eq!(
            SavedPlan::from_json(&v1).unwrap_err(),
            SavedPlanError::Format {
                found: "1".into(),
                supported: FORMAT
            },
            "a format 1 plan (no observations) is refused, not guessed"
        );
        assert!(matches!(
            SavedPlan::from_json("{}").unwrap_err(),
            SavedPlanError::Format { ref found, .. } if found == "none"
        ));
        for bad in ["not json", "{\"format\": 2}", "[1]"] {
            let e = SavedPlan::from_json(bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    SavedPlanError::Malformed { .. } | SavedPlanError::Format { .. }
                ),
                "{bad}: {e:?}"
            );
        }
        let e = SavedPlan::from_json("{\"format\": 2}").unwrap_err();
        assert!(e.to_string().contains("missing field"), "{e}");
    }

    #[test]
    fn differences_name_the_generation_and_each_resource() {
        let a = saved(
            Some(3),
            vec![entry("web", update("nginx:2")), entry("db", Change::NoOp)],
        );
        let b = saved(
            Some(4),
            vec![entry("web", update("nginx:3")), entry("db", Change::NoOp)],
        );
        let d = a.differences(&b, "ci (apply) at now");
        assert_eq!(d.len(), 2, "{d:?}");
        let shown = list(&d);
        assert!(
            shown.contains("another apply ran since (generation 3 → 4): ci (apply) at now"),
            "{shown}"
        );
        assert!(
            shown.contains(
                "ecs:task-definition web: image: saved \"nginx:1\" -> \"nginx:2\", now \"nginx:1\" -> \"nginx:3\""
            ),
            "{shown}"
        );
        let c = saved(
            Some(3),
            vec![entry("web", Change::NoOp), entry("db", Change::NoOp)],
        );
        let shown = list(&a.differences(&c, ""));
        assert!(
            shown.contains("ecs:task-definition web: saved update (image), now no change"),
            "{shown}"
        );
        let reordered = saved(
            Some(3),
            vec![entry("db", Change::NoOp), entry("web", update("nginx:2"))],
        );
        assert_eq!(a.differences(&reordered, ""), vec![Difference::Order]);
    }

    #[test]
    fn a_changed_secret_is_a_difference_that_shows_no_value() {
        let observed = Fields::new().with_sensitive("env.TOKEN", "old");
        let to = |v: &str| {
            saved(
                None,
                vec![entry(
                    "web",
                    Change::compute(
                        &Fields::new().with_sensitive("env.TOKEN", v),
                        Some(&observed),
                        &[],
                    ),
                )],
            )
        };
        let d = to("new-1").differences(&to("new-2"), "");
        let shown = list(&d);
        assert_eq!(d.len(), 1, "{shown}");
        assert!(
            shown.contains("env.TOKEN: a different value than saved"),
            "{shown}"
        );
        assert!(
            !shown.contains("new-1") && !shown.contains("new-2"),
            "{shown}"
        );
    }
}
