//! The plan model: what will change, resource by resource, as data.
//!
//! A [`Plan`] is computed by comparing desired resources with what AWS has
//! (see [`crate::Resource`]). It is plain data: serde-serializable for
//! embedders, and rendered for people by its `Display` impl, like
//! `terraform plan` (`+` create, `~` update, `-/+` replace, `-` delete).
//! Sensitive values never appear in either form.

mod diff;
mod render;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use diff::{FieldDiff, FieldValue, Fields, REDACTED};

/// The identity of one resource: its kind (for example `ecs:service`) and its
/// logical name (for example `prod/web`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceId {
    /// The resource kind, `service:type`, e.g. `ec2:vpc`, `ecs:service`.
    pub kind: String,
    /// The resource's name, unique within its kind in one plan.
    pub name: String,
}

/// Kinds of planner values that are not AWS resources: lists assembled from other
/// resources' outputs, the network's published ids, the check for target groups left by an
/// earlier apply. They are part of the executable graph but not entries of a [`Plan`],
/// unless they change something (the orphan check deleting an old target group).
pub const INTERNAL_KINDS: &[&str] = &[
    "fargate:collect",
    "fargate:list",
    "fargate:network",
    "elbv2:orphaned-target-groups",
    "fargate:retired",
    "route53:stale-alias-records",
];

impl ResourceId {
    /// Whether this is a planner value rather than an AWS resource (see [`INTERNAL_KINDS`]).
    ///
    /// ```
    /// use fargate_core::ResourceId;
    /// assert!(ResourceId::new("fargate:collect", "x").is_internal());
    /// assert!(!ResourceId::new("ecs:service", "prod/web").is_internal());
    /// ```
    pub fn is_internal(&self) -> bool {
        INTERNAL_KINDS.contains(&self.kind.as_str())
    }

    /// A resource identity.
    ///
    /// ```
    /// use fargate_core::ResourceId;
    /// let id = ResourceId::new("ecs:service", "prod/web");
    /// assert_eq!(id.to_string(), "ecs:service prod/web");
    /// ```
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// The typed output key `attribute` of this resource, e.g. its `arn`.
    pub fn output<T>(&self, attribute: &str) -> crate::exec::OutputKey<T> {
        crate::exec::OutputKey::new(format!("{}/{}#{attribute}", self.kind, self.name))
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// What will happen to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// The resource does not exist and will be created with these fields.
    Create {
        /// The managed fields it will have.
        fields: Vec<FieldDiff>,
    },
    /// The resource exists and will be changed in place.
    Update {
        /// The fields that change, old → new.
        diffs: Vec<FieldDiff>,
    },
    /// The resource must be replaced (a field that cannot change in place
    /// changed). The new one is created before the old one is removed where
    /// AWS allows it.
    Replace {
        /// Why it is replaced.
        reason: String,
        /// The fields that change, old → new.
        diffs: Vec<FieldDiff>,
    },
    /// The resource exists, is owned by fargate-rs, and will be deleted.
    Delete,
    /// The resource exists and is used as it is; it is not owned and never changed.
    Adopt {
        /// What was adopted (for example `vpc-0abc`).
        detail: String,
    },
    /// Nothing to do.
    NoOp,
}

impl Change {
    /// Whether applying this change makes any mutating call.
    pub fn is_change(&self) -> bool {
        !matches!(self, Change::NoOp | Change::Adopt { .. })
    }

    /// The one-letter-ish symbol used when rendering.
    pub fn symbol(&self) -> &'static str {
        match self {
            Change::Create { .. } => "+",
            Change::Update { .. } => "~",
            Change::Replace { .. } => "-/+",
            Change::Delete => "-",
            Change::Adopt { .. } => "<=",
            Change::NoOp => " ",
        }
    }

    /// A change computed from a desired field set and, when the resource
    /// exists, its observed field set: `Create` when it does not exist,
    /// `NoOp` when equal, `Replace` when any of `immutable` differs, else `Update`.
    ///
    /// ```
    /// use fargate_core::{Change, Fields};
    /// let desired = Fields::new().with("port", 80).with("path", "/health");
    /// let observed = Fields::new().with("port", 80).with("path", "/");
    /// let change = Change::compute(&desired, Some(&observed), &["port"]);
    /// assert!(matches!(change, Change::Update { ref diffs } if diffs.len() == 1));
    /// ```
    pub fn compute(desired: &Fields, observed: Option<&Fields>, immutable: &[&str]) -> Change {
        let Some(observed) = observed else {
            return Change::Create {
                fields: desired.as_created(),
            };
        };
        let diffs = observed.diff(desired);
        if diffs.is_empty() {
            return Change::NoOp;
        }
        let changed_immutable: Vec<&str> = diffs
            .iter()
            .filter(|d| immutable.contains(&d.field.as_str()))
            .map(|d| d.field.as_str())
            .collect();
        if changed_immutable.is_empty() {
            Change::Update { diffs }
        } else {
            Change::Replace {
                reason: format!("{} cannot change in place", changed_immutable.join(", ")),
                diffs,
            }
        }
    }
}

/// One resource's entry in a [`Plan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// Which resource.
    pub id: ResourceId,
    /// What happens to it.
    pub change: Change,
    /// The resources that are handled before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ResourceId>,
}

/// Counts of a plan's changes, by kind of change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update in place.
    pub update: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Resources to delete.
    pub delete: usize,
    /// Resources adopted as they are.
    pub adopt: usize,
    /// Resources unchanged.
    pub unchanged: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} to replace, {} to destroy, {} unchanged",
            self.create, self.update, self.replace, self.delete, self.unchanged
        )?;
        if self.adopt > 0 {
            write!(f, ", {} adopted", self.adopt)?;
        }
        Ok(())
    }
}

/// What an apply or destroy will do: every resource with its [`Change`], in
/// dependency order, plus notes (for example which network egress mode was chosen).
///
/// ```
/// use fargate_core::{Change, Plan, PlannedChange, ResourceId};
/// let plan = Plan::new(vec![PlannedChange {
///     id: ResourceId::new("ecs:cluster", "prod"),
///     change: Change::NoOp,
///     depends_on: vec![],
/// }]);
/// assert!(!plan.has_changes());
/// assert_eq!(plan.summary().unchanged, 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The changes, in dependency order.
    pub changes: Vec<PlannedChange>,
    /// Notes for the reader (defaults chosen, costs, warnings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// A plan of these changes.
    pub fn new(changes: Vec<PlannedChange>) -> Self {
        Self {
            changes,
            notes: Vec::new(),
        }
    }

    /// A plan of these changes as a reader sees it: in dependency order (a resource after
    /// everything it depends on; otherwise in the given order), without the planner's
    /// internal values that change nothing ([`ResourceId::is_internal`]); a dependency on
    /// one of those becomes a dependency on what it depended on.
    pub fn ordered(changes: Vec<PlannedChange>) -> Self {
        use std::collections::{BTreeSet, HashMap};
        let hidden: HashMap<ResourceId, Vec<ResourceId>> = changes
            .iter()
            .filter(|c| c.id.is_internal() && !c.change.is_change())
            .map(|c| (c.id.clone(), c.depends_on.clone()))
            .collect();
        // Dependencies through hidden entries, transitively (the graph is acyclic; a
        // visited set guards against a malformed one).
        let resolve = |deps: &[ResourceId]| -> Vec<ResourceId> {
            let mut out: Vec<ResourceId> = Vec::new();
            let mut stack: Vec<ResourceId> = deps.iter().rev().cloned().collect();
            let mut seen: BTreeSet<ResourceId> = BTreeSet::new();
            while let Some(d) = stack.pop() {
                if !seen.insert(d.clone()) {
                    continue;
                }
                match hidden.get(&d) {
                    Some(through) => stack.extend(through.iter().rev().cloned()),
                    None => {
                        if !out.contains(&d) {
                            out.push(d);
                        }
                    }
                }
            }
            out
        };
        let visible: Vec<PlannedChange> = changes
            .iter()
            .filter(|c| !hidden.contains_key(&c.id))
            .map(|c| PlannedChange {
                id: c.id.clone(),
                change: c.change.clone(),
                depends_on: resolve(&c.depends_on),
            })
            .collect();
        // Stable topological order: repeatedly take the first entry whose dependencies
        // in the plan are all placed.
        let present: BTreeSet<ResourceId> = visible.iter().map(|c| c.id.clone()).collect();
        let mut placed: BTreeSet<ResourceId> = BTreeSet::new();
        let mut rest = visible;
        let mut ordered = Vec::with_capacity(rest.len());
        while !rest.is_empty() {
            let next = rest
                .iter()
                .position(|c| {
                    c.depends_on
                        .iter()
                        .all(|d| placed.contains(d) || !present.contains(d))
                })
                // A cycle (not built by this library): keep the given order.
                .unwrap_or(0);
            let c = rest.remove(next);
            placed.insert(c.id.clone());
            ordered.push(c);
        }
        Self::new(ordered)
    }

    /// Add a note shown under the plan.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Whether applying would make any mutating call.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.change.is_change())
    }

    /// The entry for one resource.
    pub fn get(&self, id: &ResourceId) -> Option<&PlannedChange> {
        self.changes.iter().find(|c| &c.id == id)
    }

    /// Counts by kind of change.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.change {
                Change::Create { .. } => s.create += 1,
                Change::Update { .. } => s.update += 1,
                Change::Replace { .. } => s.replace += 1,
                Change::Delete => s.delete += 1,
                Change::Adopt { .. } => s.adopt += 1,
                Change::NoOp => s.unchanged += 1,
            }
        }
        s
    }

    /// The plan as pretty JSON (secrets already redacted).
    ///
    /// # Errors
    /// Only if serialization fails, which does not happen for plans built by this library.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

#[cfg(test)]
mod ordered_tests {
    use super::*;

    fn entry(kind: &str, name: &str, change: Change, deps: &[(&str, &str)]) -> PlannedChange {
        PlannedChange {
            id: ResourceId::new(kind, name),
            change,
            depends_on: deps.iter().map(|(k, n)| ResourceId::new(*k, *n)).collect(),
        }
    }

    fn create() -> Change {
        Change::Create { fields: Vec::new() }
    }

    #[test]
    fn entries_come_in_dependency_order_without_internal_values_that_change_nothing() {
        let plan = Plan::ordered(vec![
            entry(
                "ecs:service",
                "web",
                create(),
                &[("elbv2:target-group", "web"), ("fargate:collect", "sgs")],
            ),
            entry(
                "fargate:collect",
                "sgs",
                Change::NoOp,
                &[("ec2:security-group", "web")],
            ),
            entry("elbv2:target-group", "web", create(), &[("ec2:vpc", "env")]),
            entry("ec2:security-group", "web", create(), &[("ec2:vpc", "env")]),
            entry("ec2:vpc", "env", create(), &[]),
            entry("elbv2:orphaned-target-groups", "web", Change::Delete, &[]),
        ]);
        let ids: Vec<String> = plan.changes.iter().map(|c| c.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "ec2:vpc env",
                "elbv2:target-group web",
                "ec2:security-group web",
                "ecs:service web",
                "elbv2:orphaned-target-groups web",
            ]
        );
        let service = plan.get(&ResourceId::new("ecs:service", "web")).unwrap();
        assert_eq!(
            service.depends_on,
            [
                ResourceId::new("elbv2:target-group", "web"),
                ResourceId::new("ec2:security-group", "web")
            ],
            "the dependency through the hidden list points at what the list was made of"
        );
        assert_eq!(plan.summary().create, 4);
        assert_eq!(
            plan.summary().unchanged,
            0,
            "internal values are not counted"
        );
    }
}
