//! The contract every AWS resource kind implements ([`Kind`]), and the planner that turns a
//! set of resources into a [`Plan`] and an executable [`Graph`].
//!
//! Planning has three parts:
//!
//! 1. **Observe**: one concurrent round in which every resource reads AWS (read-only) and
//!    the answers are recorded as [`Observations`], plain serializable data;
//! 2. **Plan**: a synchronous, pure function of the resources and the observations
//!    ([`Executable::from_observations`]) that resolves plan-time values in dependency
//!    order and returns each change;
//! 3. **Apply**: each resource's change becomes a step of the graph ([`Executable::into_graph`]).
//!
//! A resource kind is one module (for example `fargate_deploy::cluster`) implementing
//! [`Kind`]; [`node`] registers it in a plan.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::exec::{Graph, GraphBuilder, StepContext};
use crate::plan::{Change, Plan, PlannedChange, ResourceId};

mod board;
mod kind;

pub use kind::{Kind, Node, PlanValues, Resolved, Round, node, plan_one};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The action that carries out one resource's change during apply or destroy.
pub type Action<C> =
    Box<dyn FnOnce(C, StepContext) -> BoxFuture<'static, Result<(), Error>> + Send>;

/// Whether a plan brings resources to their desired state or removes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Create or update what is desired.
    Apply,
    /// Delete what fargate-rs owns, in reverse dependency order.
    Destroy,
}

/// A resource of a plan, as the planner sees it: a [`Kind`] with its observation erased to
/// JSON. Implemented by [`Node`] only; build one with [`node`].
pub trait Resource<C>: Send + Sync {
    /// The resource's identity.
    fn id(&self) -> ResourceId;

    /// The resources that must exist before this one (reversed for destroy).
    fn depends_on(&self) -> Vec<ResourceId>;

    /// Observe AWS ([`Kind::observe`]), the answer as JSON (`null`: nothing found).
    ///
    /// # Errors
    /// What [`Kind::observe`] returns.
    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Value, Error>>;

    /// The change and plan-time values for a recorded observation (pure).
    ///
    /// # Errors
    /// What [`Kind::diff`] refuses, or an observation that is not this kind's.
    fn plan(
        &self,
        observed: &Value,
        mode: Mode,
        resolved: &Resolved,
    ) -> Result<(Change, PlanValues), Error>;

    /// The step that carries out `change` for this observation.
    ///
    /// # Errors
    /// An observation that is not this kind's.
    fn step(&self, observed: &Value, mode: Mode, change: &Change) -> Result<Action<C>, Error>;
}

/// What one observation round found, resource by resource: plain data (secrets only as
/// digests), so a plan can be recomputed from it ([`Executable::from_observations`]),
/// saved, and compared with a later observation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// Each resource's observation (`null`: nothing found), by resource.
    pub resources: Vec<Observation>,
    /// Resources skipped while observing for destroy: same-named objects someone else owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// One resource's observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The resource.
    pub id: ResourceId,
    /// What its kind observed (`null`: nothing found).
    pub observed: Value,
}

impl Observations {
    /// The observation of `id`, if recorded.
    pub fn get(&self, id: &ResourceId) -> Option<&Value> {
        self.resources
            .iter()
            .find(|o| &o.id == id)
            .map(|o| &o.observed)
    }

    /// The resources whose observation differs between `self` and `other` (missing on
    /// one side included), sorted.
    pub fn differing(&self, other: &Observations) -> Vec<ResourceId> {
        let mut ids: Vec<&ResourceId> = self
            .resources
            .iter()
            .chain(&other.resources)
            .map(|o| &o.id)
            .collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .filter(|id| self.get(id) != other.get(id))
            .cloned()
            .collect()
    }
}

/// A plan together with the steps that apply it.
pub struct Executable<C> {
    /// The plan, as data.
    pub plan: Plan,
    /// What the plan was computed from.
    pub observations: Observations,
    actions: Vec<(ResourceId, Vec<ResourceId>, Action<C>)>,
}

impl<C> std::fmt::Debug for Executable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executable")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// The dependencies of each resource among those of the plan, reversed for destroy (a
/// resource is deleted only after everything that depends on it is gone).
fn graph_dependencies<C>(
    resources: &[std::sync::Arc<dyn Resource<C>>],
    mode: Mode,
) -> Vec<Vec<ResourceId>> {
    let ids: Vec<ResourceId> = resources.iter().map(|r| r.id()).collect();
    let known: HashSet<&ResourceId> = ids.iter().collect();
    let deps: Vec<Vec<ResourceId>> = resources
        .iter()
        .map(|r| {
            r.depends_on()
                .into_iter()
                .filter(|d| known.contains(d))
                .collect()
        })
        .collect();
    if mode == Mode::Apply {
        return deps;
    }
    let index: BTreeMap<&ResourceId, usize> =
        ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut reversed: Vec<Vec<ResourceId>> = vec![Vec::new(); ids.len()];
    for (i, ds) in deps.iter().enumerate() {
        for d in ds {
            if let Some(&j) = index.get(d) {
                reversed[j].push(ids[i].clone());
            }
        }
    }
    reversed
}

/// The resources' indexes in an order where each comes after what it depends on (plan
/// values flow along `depends_on`, in apply and destroy alike); `None` for a cycle.
fn dependency_order<C>(resources: &[std::sync::Arc<dyn Resource<C>>]) -> Result<Vec<usize>, Error> {
    let deps = graph_dependencies(resources, Mode::Apply);
    let ids: Vec<ResourceId> = resources.iter().map(|r| r.id()).collect();
    let index: BTreeMap<&ResourceId, usize> =
        ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut order = Vec::with_capacity(ids.len());
    let mut state = vec![0u8; ids.len()]; // 0 new, 1 on the stack, 2 done
    for start in 0..ids.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some((i, next)) = stack.pop() {
            if let Some(d) = deps[i].get(next) {
                stack.push((i, next + 1));
                let Some(&j) = index.get(d) else {
                    continue;
                };
                match state[j] {
                    0 => {
                        state[j] = 1;
                        stack.push((j, 0));
                    }
                    1 => {
                        let mut steps: Vec<String> =
                            stack.iter().map(|(k, _)| ids[*k].to_string()).collect();
                        steps.push(ids[j].to_string());
                        return Err(Error::Failed {
                            resource: ResourceId::new("fargate:graph", "plan"),
                            source: Box::new(crate::exec::GraphError::Cycle { steps }),
                        });
                    }
                    _ => {}
                }
            } else {
                state[i] = 2;
                order.push(i);
            }
        }
    }
    Ok(order)
}

impl<C: Clone + Send + Sync + 'static> Executable<C> {
    /// Observe every resource in one concurrent round, then plan each change from the
    /// observations ([`Executable::from_observations`]).
    ///
    /// # Errors
    /// The first observation that failed (all observations still complete), or what
    /// planning refuses.
    pub async fn plan(
        clients: &C,
        resources: &[std::sync::Arc<dyn Resource<C>>],
        mode: Mode,
    ) -> Result<Self, Error> {
        let observations = Self::observe(clients, resources, mode).await?;
        Self::from_observations(resources, observations, mode)
    }

    /// The observation round alone: every resource observes concurrently; a resource that
    /// needs a dependency's plan-time value waits for that dependency (its plan is
    /// computed as soon as its observation is in).
    ///
    /// # Errors
    /// The first observation that failed.
    pub async fn observe(
        clients: &C,
        resources: &[std::sync::Arc<dyn Resource<C>>],
        mode: Mode,
    ) -> Result<Observations, Error> {
        let ids: Vec<ResourceId> = resources.iter().map(|r| r.id()).collect();
        let board = board::Board::new(ids.clone());
        let board = &board;
        let results = futures_join_all(resources.iter().map(
            |r| -> BoxFuture<'_, Result<Value, Error>> {
                Box::pin(async move {
                    let round = Round::new(board);
                    let observed = match r.observe(clients, &round, mode).await {
                        // Destroy removes what is ours and goes on: a same-named object
                        // someone else owns is left alone and reported.
                        Err(Error::NotOwned { resource, detail }) if mode == Mode::Destroy => {
                            board.publish(r.id(), Some((Change::NoOp, PlanValues::new())));
                            return Err(Error::NotOwned { resource, detail });
                        }
                        other => other,
                    };
                    let entry = match &observed {
                        Ok(v) => {
                            let resolved = round.resolved(&r.depends_on()).await;
                            r.plan(v, mode, &resolved).ok()
                        }
                        Err(_) => None,
                    };
                    board.publish(r.id(), entry);
                    observed
                })
            },
        ))
        .await;
        let mut out = Observations::default();
        let mut first_error = None;
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(observed) => out.resources.push(Observation { id, observed }),
                Err(Error::NotOwned { resource, detail }) if mode == Mode::Destroy => {
                    out.skipped.push(format!(
                        "skipped {resource}: it exists but is not owned by fargate-rs ({detail}); left untouched"
                    ));
                    out.resources.push(Observation {
                        id,
                        observed: Value::Null,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Plan from recorded observations (pure, no AWS call): each resource's change in
    /// dependency order, given its dependencies' changes and plan-time values, and the
    /// step that carries it out. The same resources and observations always give the
    /// same plan.
    ///
    /// # Errors
    /// What a kind's diff refuses, a resource without an observation, or a dependency cycle.
    pub fn from_observations(
        resources: &[std::sync::Arc<dyn Resource<C>>],
        observations: Observations,
        mode: Mode,
    ) -> Result<Self, Error> {
        let order = dependency_order(resources)?;
        let mut planned: BTreeMap<ResourceId, (Change, PlanValues)> = BTreeMap::new();
        for i in order {
            let r = &resources[i];
            let id = r.id();
            let observed = observations.get(&id).ok_or_else(|| Error::Unexpected {
                resource: id.clone(),
                operation: "plan".to_string(),
                detail: "no observation was recorded for this resource".to_string(),
            })?;
            let mut resolved = Resolved::none();
            for d in r.depends_on() {
                if let Some((change, values)) = planned.get(&d) {
                    resolved.insert(d, change.clone(), values);
                }
            }
            let entry = r.plan(observed, mode, &resolved)?;
            planned.insert(id, entry);
        }
        let deps = graph_dependencies(resources, mode);
        let mut changes = Vec::with_capacity(resources.len());
        let mut actions = Vec::with_capacity(resources.len());
        for (r, ds) in resources.iter().zip(deps) {
            let id = r.id();
            let change = planned.remove(&id).map(|(c, _)| c).unwrap_or(Change::NoOp);
            let observed = observations.get(&id).unwrap_or(&Value::Null);
            actions.push((id.clone(), ds.clone(), r.step(observed, mode, &change)?));
            changes.push(PlannedChange {
                id,
                change,
                depends_on: ds,
            });
        }
        let mut plan = Plan::ordered(changes);
        for note in &observations.skipped {
            plan.note(note.clone());
        }
        Ok(Self {
            plan,
            observations,
            actions,
        })
    }

    /// The graph that carries out the plan with these clients; step ids are the resource ids.
    ///
    /// # Errors
    /// A [`crate::exec::GraphError`] (as [`Error::Failed`]) if the resources' dependencies form a cycle.
    pub fn into_graph(self, clients: C) -> Result<(Plan, Graph<Error>), Error> {
        let mut g = GraphBuilder::new();
        for (id, deps, action) in self.actions {
            let c = clients.clone();
            g.step(
                id.to_string(),
                deps.iter().map(ToString::to_string).collect::<Vec<_>>(),
                move |ctx| action(c, ctx),
            );
        }
        let graph = g.build().map_err(|e| Error::Failed {
            resource: ResourceId::new("fargate:graph", "plan"),
            source: Box::new(e),
        })?;
        Ok((self.plan, graph))
    }
}

/// Await all futures concurrently, keeping their order.
pub async fn futures_join_all<'a, T: Send + 'a>(
    futs: impl IntoIterator<Item = BoxFuture<'a, T>>,
) -> Vec<T> {
    futures_util::future::join_all(futs).await
}

/// Run independent calls of one step concurrently, each to its end (one failing does not
/// cancel the others, so nothing is left half-sent). One error is returned as it is (its AWS
/// code intact); several become an [`Error::Failed`] of `resource` whose source,
/// [`crate::error::ConcurrentFailures`], lists them all.
///
/// # Errors
/// The calls' errors, as above.
pub async fn all_concurrently(
    resource: &ResourceId,
    calls: Vec<BoxFuture<'_, Result<(), Error>>>,
) -> Result<(), Error> {
    let mut errors: Vec<Error> = futures_join_all(calls)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Failed {
            resource: resource.clone(),
            source: Box::new(crate::error::ConcurrentFailures(errors)),
        }),
    }
}

/// The resource that produces an output key named `<kind>/<name>#<attribute>`.
pub(crate) fn producer_of(key: &str) -> Option<ResourceId> {
    let (id, _attr) = key.rsplit_once('#')?;
    let (kind, name) = id.split_once('/')?;
    Some(ResourceId::new(kind, name))
}

/// A value one resource needs from another: known at plan time (an adopted
/// resource's id, or one observed in AWS), or produced during apply by the
/// step that creates it.
#[derive(Debug, Clone)]
pub enum Ref<T> {
    /// Known now.
    Known(T),
    /// Produced by another step under this key.
    Output(crate::exec::OutputKey<T>),
}

impl<T: Clone + Send + Sync + 'static> Ref<T> {
    /// The value, reading the step output when needed.
    ///
    /// # Errors
    /// [`Error::MissingOutput`] when the producing step has not published it.
    pub fn resolve(&self, ctx: &StepContext) -> Result<T, Error> {
        match self {
            Ref::Known(v) => Ok(v.clone()),
            Ref::Output(k) => ctx.get(k),
        }
    }

    /// The value if known at plan time.
    pub fn known(&self) -> Option<&T> {
        match self {
            Ref::Known(v) => Some(v),
            Ref::Output(_) => None,
        }
    }
}

/// A list assembled from single values produced by other resources (for
/// example the ids of two security groups a load balancer needs as one list).
/// Makes no AWS call; publishes the list at plan time when every item is known.
#[derive(Debug, Clone)]
pub struct Collect {
    id: ResourceId,
    items: Vec<(ResourceId, Ref<String>)>,
}

impl Collect {
    /// Collect `items` (each with the resource that produces it) under `id`.
    pub fn new(id: ResourceId, items: Vec<(ResourceId, Ref<String>)>) -> Self {
        Self { id, items }
    }

    /// The key the list is published under.
    pub fn output(&self) -> crate::exec::OutputKey<Vec<String>> {
        self.id.output("items")
    }
}

impl<C: Send + Sync + 'static> Kind<C> for Collect {
    type Observed = ();

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.items.iter().map(|(id, _)| id.clone()).collect()
    }

    fn observe<'a>(
        &'a self,
        _: &'a C,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(None) })
    }

    fn diff(&self, _: Option<&()>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::NoOp)
    }

    fn outputs(&self, _: Option<&()>, _: &Change, resolved: &Resolved) -> PlanValues {
        let known: Option<Vec<String>> = self
            .items
            .iter()
            .map(|(_, r)| resolved.get_ref(r))
            .collect();
        match known {
            Some(list) => PlanValues::new().with(&self.output(), &list),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let values = self
                .items
                .iter()
                .map(|(_, r)| r.resolve(ctx))
                .collect::<Result<Vec<_>, _>>()?;
            ctx.set(&self.output(), values);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a (),
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}
