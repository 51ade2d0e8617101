//! What the resources of one observation round have planned so far, so that a resource can
//! wait for a dependency's plan-time values while it observes, and the reads several
//! resources share are made once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::kind::PlanValues;
use crate::{Change, Error, ResourceId};

/// A resource's planned change and its plan-time values.
pub(crate) type Entry = (Change, PlanValues);

/// One observation several resources of a plan share, made at most once per plan.
type Shared<T> = tokio::sync::OnceCell<Result<Arc<T>, Arc<Error>>>;

/// The board of one observation round (internal to the planner; resources see it as a
/// [`super::Round`]).
#[derive(Default)]
pub(crate) struct Board {
    entries: Mutex<HashMap<ResourceId, Option<Entry>>>,
    members: Vec<ResourceId>,
    notify: tokio::sync::Notify,
    shared: Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
}

impl Board {
    /// A board for a round of these resources.
    pub(crate) fn new(members: Vec<ResourceId>) -> Self {
        Self {
            members,
            ..Self::default()
        }
    }

    pub(crate) fn shared<T: Send + Sync + 'static>(
        &self,
        key: &str,
        init: impl FnOnce() -> T,
    ) -> Arc<T> {
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

    pub(crate) async fn observe_once<T, F, Fut>(
        &self,
        key: &str,
        observe: F,
    ) -> Result<Arc<T>, Error>
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

    /// Publish `id`'s plan (`None`: it failed to observe or plan).
    pub(crate) fn publish(&self, id: ResourceId, entry: Option<Entry>) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry);
        self.notify.notify_waiters();
    }

    /// Wait for `id`'s plan; `None` when it failed or is not in this round. Resources wait
    /// only for their dependencies (the graph is acyclic, so this cannot deadlock).
    pub(crate) async fn entry(&self, id: &ResourceId) -> Option<Entry> {
        if !self.members.contains(id) {
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
}
