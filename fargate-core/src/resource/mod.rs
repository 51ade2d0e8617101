//! The contract every AWS resource kind implements, and the generic planner
//! that turns a set of resources into a [`Plan`] and an executable [`Graph`].
//!
//! A resource kind is one module (for example `fargate_deploy::cluster`) with:
//! a spec (the desired state, with every name resolved), a pure `diff`
//! function from desired and observed [`crate::Fields`] to a [`Change`], and
//! the idempotent steps that create, update or delete it. Implementing
//! [`Resource`] ties them together; the planner and executor do the rest.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::Error;
use crate::exec::{Graph, GraphBuilder, StepContext};
use crate::plan::{Change, Plan, PlannedChange, ResourceId};

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

/// One resource's planned change and the action that carries it out.
///
/// The action runs even for [`Change::NoOp`]: it then publishes the outputs
/// (ids, ARNs) that dependents read, without any mutating call.
pub struct Planned<C> {
    /// The change, as data.
    pub change: Change,
    /// What applying the change does.
    pub action: Action<C>,
    /// Facts observed at plan time that dependents may read while planning
    /// (for example `arn` of the latest task definition revision); see [`PlanBoard`].
    pub facts: BTreeMap<String, String>,
    /// What the resource observed, as data, for kinds that implement [`Kind`].
    pub observed: Option<serde_json::Value>,
}

impl<C> Planned<C> {
    /// A planned change with its action.
    pub fn new<F, Fut>(change: Change, action: F) -> Self
    where
        F: FnOnce(C, StepContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self {
            change,
            action: Box::new(move |c, ctx| Box::pin(action(c, ctx))),
            facts: BTreeMap::new(),
            observed: None,
        }
    }

    /// Publish, at plan time, the value an output will have (the resource
    /// exists and the value will not change), so dependents can diff against
    /// it (see [`PlanBoard::resolve`] and [`Ref::planned`]).
    #[must_use]
    pub fn with_output<T: serde::Serialize>(
        mut self,
        key: &crate::exec::OutputKey<T>,
        value: &T,
    ) -> Self {
        if let Ok(v) = serde_json::to_string(value) {
            self.facts.insert(key.name().to_string(), v);
        }
        self
    }

    /// Publish a plan-time fact for dependents (see [`PlanBoard::fact`]).
    #[must_use]
    pub fn with_fact(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.facts.insert(key.into(), value.into());
        self
    }

    /// A change with nothing to do (and no outputs to publish).
    pub fn nothing(change: Change) -> Self {
        Self::new(change, |_, _| async { Ok(()) })
    }
}

/// A desired resource: it knows its identity, what it depends on, and how to
/// observe AWS and plan its change. `C` is the set of SDK clients it needs.
pub trait Resource<C>: Send + Sync {
    /// The resource's identity.
    fn id(&self) -> ResourceId;

    /// The resources that must exist before this one (reversed for destroy).
    fn depends_on(&self) -> Vec<ResourceId> {
        Vec::new()
    }

    /// Observe AWS (read-only calls) and plan the change for `mode`.
    ///
    /// # Errors
    /// An AWS read failed, or the resource exists but is not owned by fargate-rs.
    fn plan<'a>(&'a self, clients: &'a C, mode: Mode) -> BoxFuture<'a, Result<Planned<C>, Error>>;

    /// Like [`Resource::plan`], with access to the plans of the resources this
    /// one depends on (their [`Change`] and facts), which are computed in the
    /// same concurrent round. Override only when the change depends on a
    /// dependency's plan (an ECS service follows its task definition).
    fn plan_with<'a>(
        &'a self,
        clients: &'a C,
        mode: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        let _ = board;
        self.plan(clients, mode)
    }
}

/// A planned change and its plan-time facts.
pub type BoardEntry = (Change, BTreeMap<String, String>);

/// What the resources of one plan have planned so far, so that a resource can
/// wait for a dependency's plan without a second observation round.
#[derive(Default)]
pub struct PlanBoard {
    entries: Mutex<HashMap<ResourceId, Option<BoardEntry>>>,
    members: Mutex<Vec<ResourceId>>,
    notify: tokio::sync::Notify,
    shared: Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
}

impl std::fmt::Debug for PlanBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanBoard")
            .field("entries", &self.entries)
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

/// One observation several resources of a plan share, made at most once per plan
/// ([`PlanBoard::observe_once`]).
pub type Shared<T> = tokio::sync::OnceCell<Result<Arc<T>, Arc<Error>>>;

impl PlanBoard {
    /// The value of type `T` every resource of this plan shares under `key`, made by `init`
    /// the first time it is asked for (for example a batch loader, or a cache of one
    /// listener's rules). A value of another type under the same key is replaced.
    pub fn shared<T: Send + Sync + 'static>(&self, key: &str, init: impl FnOnce() -> T) -> Arc<T> {
        let mut map = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = map
            .get(key)
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
        {
            return v;
        }
        let v = Arc::new(init());
        map.insert(key.to_string(), v.clone());
        v
    }

    /// Observe once per plan: the first resource that asks for `key` runs `observe`, every
    /// other one waits for and shares its answer (an error too, as [`Error::Shared`]).
    ///
    /// # Errors
    /// The observation's error, shared.
    pub async fn observe_once<T, F, Fut>(&self, key: &str, observe: F) -> Result<Arc<T>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let cell = self.shared::<Shared<T>>(key, Shared::new);
        cell.get_or_init(|| async move { observe().await.map(Arc::new).map_err(Arc::new) })
            .await
            .clone()
            .map_err(Error::Shared)
    }

    fn publish(&self, id: ResourceId, entry: Option<BoardEntry>) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry);
        self.notify.notify_waiters();
    }

    fn expect(&self, ids: &[ResourceId]) {
        *self.members.lock().unwrap_or_else(|p| p.into_inner()) = ids.to_vec();
    }

    /// Wait for `id`'s plan; `None` when it failed to plan or is not in this plan.
    ///
    /// Only wait for resources listed in your `depends_on` (the graph is
    /// acyclic, so this cannot deadlock).
    pub async fn plan_of(&self, id: &ResourceId) -> Option<BoardEntry> {
        if !self
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
        {
            return None;
        }
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(entry) = self
                .entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
            {
                return entry.clone();
            }
            notified.await;
        }
    }

    /// The value an output will have, when its producer published it at plan
    /// time with [`Planned::with_output`]. The producer is found from the key's
    /// name (`<kind>/<name>#<attribute>`, as [`ResourceId::output`] makes it).
    pub async fn resolve<T: serde::de::DeserializeOwned>(
        &self,
        key: &crate::exec::OutputKey<T>,
    ) -> Option<T> {
        let producer = producer_of(key.name())?;
        let fact = self.fact(&producer, key.name()).await?;
        serde_json::from_str(&fact).ok()
    }

    /// Wait for `id`'s plan and read one fact of it.
    pub async fn fact(&self, id: &ResourceId, key: &str) -> Option<String> {
        self.plan_of(id)
            .await
            .and_then(|(_, f)| f.get(key).cloned())
    }
}

/// A plan together with the graph that applies it.
pub struct Executable<C> {
    /// The plan, as data.
    pub plan: Plan,
    /// What each resource implementing [`Kind`] observed, as data.
    pub observations: BTreeMap<ResourceId, serde_json::Value>,
    actions: Vec<(ResourceId, Vec<ResourceId>, Action<C>)>,
}

impl<C> std::fmt::Debug for Executable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executable")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<C: Clone + Send + Sync + 'static> Executable<C> {
    /// Observe every resource in one concurrent round and plan each change.
    ///
    /// In [`Mode::Destroy`] dependencies are reversed: a resource is deleted
    /// only after everything that depends on it is gone.
    ///
    /// # Errors
    /// The first observation that failed (all observations still complete).
    pub async fn plan(
        clients: &C,
        resources: &[Arc<dyn Resource<C>>],
        mode: Mode,
    ) -> Result<Self, Error> {
        let ids: Vec<ResourceId> = resources.iter().map(|r| r.id()).collect();
        let board = PlanBoard::default();
        board.expect(&ids);
        let board = &board;
        let planned = futures_join_all(resources.iter().map(
            |r| -> BoxFuture<'_, Result<Planned<C>, Error>> {
                Box::pin(async move {
                    let result = r.plan_with(clients, mode, board).await;
                    board.publish(
                        r.id(),
                        result
                            .as_ref()
                            .ok()
                            .map(|p| (p.change.clone(), p.facts.clone())),
                    );
                    result
                })
            },
        ))
        .await;
        let known: std::collections::HashSet<&ResourceId> = ids.iter().collect();
        let mut deps: Vec<Vec<ResourceId>> = resources
            .iter()
            .map(|r| {
                r.depends_on()
                    .into_iter()
                    .filter(|d| known.contains(d))
                    .collect()
            })
            .collect();
        if mode == Mode::Destroy {
            let mut reversed: Vec<Vec<ResourceId>> = vec![Vec::new(); ids.len()];
            for (i, ds) in deps.iter().enumerate() {
                for d in ds {
                    if let Some(j) = ids.iter().position(|x| x == d) {
                        reversed[j].push(ids[i].clone());
                    }
                }
            }
            deps = reversed;
        }
        let mut changes = Vec::with_capacity(ids.len());
        let mut actions = Vec::with_capacity(ids.len());
        let mut skipped = Vec::new();
        let mut observations = BTreeMap::new();
        for ((id, ds), p) in ids.into_iter().zip(deps).zip(planned) {
            let p = match p {
                // Destroy removes what is ours and goes on: a same-named
                // resource someone else owns is left alone and reported.
                Err(Error::NotOwned { resource, detail }) if mode == Mode::Destroy => {
                    skipped.push(format!(
                        "skipped {resource}: it exists but is not owned by fargate-rs ({detail}); left untouched"
                    ));
                    Planned::nothing(Change::NoOp)
                }
                other => other?,
            };
            if let Some(o) = p.observed {
                observations.insert(id.clone(), o);
            }
            changes.push(PlannedChange {
                id: id.clone(),
                change: p.change,
                depends_on: ds.clone(),
            });
            actions.push((id, ds, p.action));
        }
        let mut plan = Plan::ordered(changes);
        for note in skipped {
            plan.note(note);
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
fn producer_of(key: &str) -> Option<ResourceId> {
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

    /// The value as far as it is known at plan time: known values, and
    /// outputs whose producer published them with [`Planned::with_output`].
    pub async fn planned(&self, board: &PlanBoard) -> Option<T>
    where
        T: serde::de::DeserializeOwned,
    {
        match self {
            Ref::Known(v) => Some(v.clone()),
            Ref::Output(k) => board.resolve(k).await,
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
