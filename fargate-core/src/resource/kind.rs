//! The resource contract: observe (read-only), diff (pure), apply, destroy, outputs.
//!
//! A resource kind implements [`Kind`]; [`Node`] makes it a graph node of a plan. The
//! planner, not the kind, handles the mode: in [`Mode::Destroy`] a kind that exists is
//! deleted and one that does not is a no-op ([`Kind::destroy_change`]), in
//! [`Mode::Apply`] the change is [`Kind::diff`] of the desired spec and what was
//! observed, given what the kind's dependencies will be after apply ([`Resolved`]).
//!
//! What a kind observes is its own serializable type ([`Kind::Observed`]): the plan's
//! observations are data (see [`crate::Executable::observations`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::board::Board;
use super::{Action, BoxFuture, Mode, Ref, Resource, producer_of};
use crate::exec::{OutputKey, StepContext};
use crate::{Change, Error, ResourceId};

/// One resource kind: its desired state (`self`), how to read it from AWS, how to
/// compute its change, and how to carry the change out. `C` is the set of SDK clients.
///
/// Only [`Kind::observe`], [`Kind::apply`] and [`Kind::destroy`] make AWS calls;
/// [`Kind::diff`] and [`Kind::outputs`] are pure, so a plan can be recomputed from
/// recorded observations.
pub trait Kind<C>: Clone + Send + Sync + 'static {
    /// What observing found: plain, serializable data (ids, normalized fields).
    type Observed: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// The resource's identity.
    fn id(&self) -> ResourceId;

    /// The resources that must exist before this one (reversed for destroy).
    fn depends_on(&self) -> Vec<ResourceId> {
        Vec::new()
    }

    /// Read AWS (read-only calls only): the object if it exists. A kind may wait, through
    /// `round`, for a dependency's plan-time outputs (an id it observes by) and share
    /// batched reads with the other resources of the plan.
    ///
    /// # Errors
    /// An AWS read failed, or the object exists but is not owned by fargate-rs
    /// ([`Error::NotOwned`]).
    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<Self::Observed>, Error>>;

    /// The change that brings the observed object to `self` (pure).
    ///
    /// # Errors
    /// The change is refused (for example a field AWS cannot change in place and
    /// fargate-rs will not replace on its own).
    fn diff(&self, observed: Option<&Self::Observed>, resolved: &Resolved)
    -> Result<Change, Error>;

    /// The change in [`Mode::Destroy`]: delete what exists (default), leave an adopted
    /// object alone (then return [`Change::Adopt`] or [`Change::NoOp`]).
    fn destroy_change(&self, observed: Option<&Self::Observed>) -> Change {
        if observed.is_some() {
            Change::Delete
        } else {
            Change::NoOp
        }
    }

    /// The outputs whose value after apply is known at plan time (an existing object
    /// that is kept), for the diffs of dependents ([`Resolved::get`]). Pure. In
    /// [`Mode::Destroy`] it is asked with [`Change::NoOp`]: an object is deleted only after
    /// its dependents, so they observe it as it is.
    fn outputs(
        &self,
        observed: Option<&Self::Observed>,
        change: &Change,
        resolved: &Resolved,
    ) -> PlanValues {
        let _ = (observed, change, resolved);
        PlanValues::default()
    }

    /// Carry out `change` (also run for [`Change::NoOp`] and [`Change::Adopt`], to
    /// publish the outputs dependents read at apply time).
    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a Self::Observed>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Delete the observed object (it is ours: observing refused what is not).
    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a Self::Observed,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

/// Plan-time output values of one resource, by output key ([`Kind::outputs`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PlanValues(pub(crate) BTreeMap<String, Value>);

impl PlanValues {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the value `key` will have.
    #[must_use]
    pub fn with<T: Serialize>(mut self, key: &OutputKey<T>, value: &T) -> Self {
        self.set(key, value);
        self
    }

    /// Set the value `key` will have.
    pub fn set<T: Serialize>(&mut self, key: &OutputKey<T>, value: &T) {
        if let Ok(v) = serde_json::to_value(value) {
            self.0.insert(key.name().to_string(), v);
        }
    }

    /// The values `f` gives of an existing object that `change` keeps (a no-op, an in-place
    /// update or an adoption), none otherwise: what most kinds' [`Kind::outputs`] are.
    pub fn kept<O>(change: &Change, observed: Option<&O>, f: impl FnOnce(&O) -> Self) -> Self {
        match (change, observed) {
            (Change::NoOp | Change::Update { .. } | Change::Adopt { .. }, Some(o)) => f(o),
            _ => Self::default(),
        }
    }

    /// The values, by key name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a resource's dependencies will be after apply, as far as plan time knows:
/// their changes and their [`PlanValues`]. Built by the planner for [`Kind::diff`].
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    changes: BTreeMap<ResourceId, Change>,
    values: BTreeMap<String, Value>,
}

impl Resolved {
    /// Nothing known (a resource without dependencies, or a test).
    pub fn none() -> Self {
        Self::default()
    }

    /// Record a dependency's change and values.
    pub fn insert(&mut self, id: ResourceId, change: Change, values: &PlanValues) {
        self.changes.insert(id, change);
        for (k, v) in values.iter() {
            self.values.insert(k.to_string(), v.clone());
        }
    }

    /// The value `key` will have after apply, when its producer is a dependency whose
    /// value is known at plan time.
    pub fn get<T: DeserializeOwned>(&self, key: &OutputKey<T>) -> Option<T> {
        self.values
            .get(key.name())
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// The value of `r` at plan time: a known value, or a resolved output.
    pub fn get_ref<T: DeserializeOwned + Clone>(&self, r: &Ref<T>) -> Option<T> {
        match r {
            Ref::Known(v) => Some(v.clone()),
            Ref::Output(k) => self.get(k),
        }
    }

    /// A dependency's planned change.
    pub fn change_of(&self, id: &ResourceId) -> Option<&Change> {
        self.changes.get(id)
    }
}

/// What a resource can use of the plan while it observes: the plan-time outputs of its
/// dependencies (waiting for them) and the reads it shares with the other resources.
pub struct Round<'a> {
    board: &'a Board,
}

impl std::fmt::Debug for Round<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Round").finish_non_exhaustive()
    }
}

impl<'a> Round<'a> {
    pub(crate) fn new(board: &'a Board) -> Self {
        Self { board }
    }

    /// Wait for a dependency's plan and read the value `key` will have, when known at
    /// plan time. The producer is found from the key's name (`<kind>/<name>#<attribute>`,
    /// as [`ResourceId::output`] makes it). Only wait for outputs of resources in your
    /// [`Kind::depends_on`].
    pub async fn output<T: DeserializeOwned>(&self, key: &OutputKey<T>) -> Option<T> {
        let producer = producer_of(key.name())?;
        let (_, values) = self.board.entry(&producer).await?;
        values
            .0
            .get(key.name())
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// [`Round::output`] for a [`Ref`]: its known value, or the output's.
    pub async fn get_ref<T: DeserializeOwned + Clone>(&self, r: &Ref<T>) -> Option<T> {
        match r {
            Ref::Known(v) => Some(v.clone()),
            Ref::Output(k) => self.output(k).await,
        }
    }

    /// The value of type `T` every resource of this plan shares under `key` (a batch
    /// loader, a cache), made by `init` the first time it is asked for.
    pub fn shared<T: Send + Sync + 'static>(&self, key: &str, init: impl FnOnce() -> T) -> Arc<T> {
        self.board.shared(key, init)
    }

    /// Observe once per plan: the first resource asking for `key` runs `observe`, the
    /// others share its answer (an error too, as [`Error::Shared`]).
    ///
    /// # Errors
    /// The observation's error, shared.
    pub async fn observe_once<T, F, Fut>(&self, key: &str, observe: F) -> Result<Arc<T>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        self.board.observe_once(key, observe).await
    }

    /// What `deps` will be after apply, once their plans are in.
    pub(crate) async fn resolved(&self, deps: &[ResourceId]) -> Resolved {
        let mut r = Resolved::default();
        for d in deps {
            if let Some((change, values)) = self.board.entry(d).await {
                r.insert(d.clone(), change, &values);
            }
        }
        r
    }
}

/// A kind as a resource of a plan: what a builder pushes into its list of resources.
pub fn node<C, K>(kind: K) -> Arc<dyn Resource<C>>
where
    C: Clone + Send + Sync + 'static,
    K: Kind<C>,
{
    Arc::new(Node(kind))
}

/// A [`Kind`] as a resource of a plan (see [`node`]).
#[derive(Debug, Clone)]
pub struct Node<K>(pub K);

impl<K> Node<K> {
    fn read<C>(&self, observed: &Value) -> Result<Option<K::Observed>, Error>
    where
        K: Kind<C>,
    {
        serde_json::from_value(observed.clone()).map_err(|e| Error::Unexpected {
            resource: self.0.id(),
            operation: "plan".to_string(),
            detail: format!("the recorded observation does not fit this kind: {e}"),
        })
    }
}

impl<C, K> Resource<C> for Node<K>
where
    C: Clone + Send + Sync + 'static,
    K: Kind<C>,
{
    fn id(&self) -> ResourceId {
        self.0.id()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.0.depends_on()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Value, Error>> {
        Box::pin(async move {
            let observed = self.0.observe(clients, round, mode).await?;
            serde_json::to_value(&observed).map_err(|e| Error::Unexpected {
                resource: self.0.id(),
                operation: "observe".to_string(),
                detail: format!("the observation cannot be recorded: {e}"),
            })
        })
    }

    fn plan(
        &self,
        observed: &Value,
        mode: Mode,
        resolved: &Resolved,
    ) -> Result<(Change, PlanValues), Error> {
        let observed = self.read(observed)?;
        plan_one(&self.0, mode, observed.as_ref(), resolved)
    }

    fn step(&self, observed: &Value, mode: Mode, change: &Change) -> Result<Action<C>, Error> {
        let observed = self.read(observed)?;
        let kind = self.0.clone();
        let change = change.clone();
        Ok(Box::new(move |clients: C, ctx: StepContext| {
            Box::pin(async move {
                run_step(&kind, &clients, &ctx, mode, &change, observed.as_ref()).await
            })
        }))
    }
}

/// The change of one kind and its plan-time values, given what was observed (pure).
///
/// # Errors
/// What [`Kind::diff`] refuses.
pub fn plan_one<C, K: Kind<C>>(
    kind: &K,
    mode: Mode,
    observed: Option<&K::Observed>,
    resolved: &Resolved,
) -> Result<(Change, PlanValues), Error> {
    match mode {
        // What exists stays until everything that depends on it is deleted: while they are
        // planned and deleted, its values are those of the object as it is.
        Mode::Destroy => Ok((
            kind.destroy_change(observed),
            kind.outputs(observed, &Change::NoOp, resolved),
        )),
        Mode::Apply => {
            let change = kind.diff(observed, resolved)?;
            let values = kind.outputs(observed, &change, resolved);
            Ok((change, values))
        }
    }
}

/// Carry out one kind's planned change.
async fn run_step<C, K: Kind<C>>(
    kind: &K,
    clients: &C,
    ctx: &StepContext,
    mode: Mode,
    change: &Change,
    observed: Option<&K::Observed>,
) -> Result<(), Error> {
    match (mode, change, observed) {
        (Mode::Destroy, Change::Delete, Some(o)) => kind.destroy(clients, ctx, o).await,
        (Mode::Destroy, Change::NoOp, _) => Ok(()),
        _ => kind.apply(clients, ctx, change, observed).await,
    }
}
