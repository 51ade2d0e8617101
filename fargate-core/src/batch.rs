//! Coalescing look-ups: many resources asking for one item each within a few milliseconds
//! become one call per batch (ECS `DescribeServices` takes 10 names, ELB `DescribeTags`
//! 20 ARNs). Nothing is cached: a look-up sees AWS as it is when its batch is sent.
//!
//! ```
//! # async fn demo() -> Result<(), fargate_core::Error> {
//! use std::collections::HashMap;
//! use fargate_core::batch::Batcher;
//! let batcher: Batcher<String, String, u32> = Batcher::new(10);
//! // Every caller passes the same fetch; the first of a batch runs it for all.
//! let fetch = |group: String, keys: Vec<String>| async move {
//!     Ok(keys.iter().map(|k| (k.clone(), k.len() as u32)).collect::<HashMap<_, _>>())
//! };
//! let (a, b) = tokio::join!(
//!     batcher.load("cluster".into(), "web".into(), fetch),
//!     batcher.load("cluster".into(), "worker".into(), fetch),
//! );
//! assert_eq!((a?, b?), (Some(3), Some(6)));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::Error;

/// How long the first look-up of a batch waits for others to join it.
pub const WINDOW: Duration = Duration::from_millis(3);

type Reply<V> = oneshot::Sender<Result<Option<V>, Arc<Error>>>;

/// The look-ups waiting for their group's next call.
type Pending<G, K, V> = HashMap<G, Vec<(K, Reply<V>)>>;

/// Coalesces look-ups of keys `K` in groups `G` (one call never mixes groups, e.g. two ECS
/// clusters) into calls of at most `max` keys, answering `V` per key.
pub struct Batcher<G, K, V> {
    max: usize,
    pending: Mutex<Pending<G, K, V>>,
}

impl<G, K, V> std::fmt::Debug for Batcher<G, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl<G, K, V> Batcher<G, K, V>
where
    G: Eq + Hash + Clone + Send,
    K: Eq + Hash + Clone + Send,
    V: Clone + Send,
{
    /// A batcher whose calls take at most `max` keys (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Look up `key` in `group`: joins the batch being collected, or starts one and, after
    /// [`WINDOW`], calls `fetch(group, keys)` for every `max` keys of it (concurrently).
    /// `fetch` answers the keys it found; a key it does not answer is `None`.
    ///
    /// # Errors
    /// The error of the call that held `key` (shared with the other keys of that call, as
    /// [`Error::Shared`]).
    pub async fn load<F, Fut>(&self, group: G, key: K, fetch: F) -> Result<Option<V>, Error>
    where
        F: Fn(G, Vec<K>) -> Fut,
        Fut: Future<Output = Result<HashMap<K, V>, Error>>,
    {
        let (tx, rx) = oneshot::channel();
        let leader = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let queue = pending.entry(group.clone()).or_default();
            queue.push((key.clone(), tx));
            queue.len() == 1
        };
        if leader {
            tokio::time::sleep(WINDOW).await;
            let batch = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&group)
                .unwrap_or_default();
            let mut chunks: Vec<Vec<(K, Reply<V>)>> = Vec::new();
            for item in batch {
                match chunks.last_mut() {
                    Some(c) if c.len() < self.max => c.push(item),
                    _ => chunks.push(vec![item]),
                }
            }
            let calls = chunks.into_iter().map(|chunk| {
                let keys: Vec<K> = chunk.iter().map(|(k, _)| k.clone()).collect();
                let call = fetch(group.clone(), keys);
                async move {
                    match call.await {
                        Ok(mut found) => {
                            for (k, reply) in chunk {
                                let _ = reply.send(Ok(found.remove(&k)));
                            }
                        }
                        Err(e) => {
                            let e = Arc::new(e);
                            for (_, reply) in chunk {
                                let _ = reply.send(Err(Arc::clone(&e)));
                            }
                        }
                    }
                }
            });
            futures_util::future::join_all(calls).await;
        }
        match rx.await {
            Ok(answer) => answer.map_err(Error::Shared),
            // The look-up that led the batch was cancelled before it answered: ask alone.
            Err(_) => fetch(group, vec![key.clone()])
                .await
                .map(|mut found| found.remove(&key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn concurrent_lookups_become_one_call_per_max_keys_and_group() {
        let batcher: Arc<Batcher<u8, u32, u32>> = Arc::new(Batcher::new(10));
        let calls = Arc::new(Mutex::new(Vec::<(u8, usize)>::new()));
        let mut handles = Vec::new();
        for i in 0..25u32 {
            let (b, c) = (Arc::clone(&batcher), Arc::clone(&calls));
            let group = if i < 23 { 1 } else { 2 };
            handles.push(tokio::spawn(async move {
                b.load(group, i, |g, keys: Vec<u32>| {
                    let c = Arc::clone(&c);
                    async move {
                        c.lock().unwrap().push((g, keys.len()));
                        Ok(keys
                            .into_iter()
                            .filter(|k| !k.is_multiple_of(5))
                            .map(|k| (k, k * 2))
                            .collect())
                    }
                })
                .await
            }));
        }
        for (i, h) in handles.into_iter().enumerate() {
            let got = h.await.unwrap().unwrap();
            let i = i as u32;
            assert_eq!(got, (!i.is_multiple_of(5)).then_some(i * 2), "key {i}");
        }
        let mut calls = calls.lock().unwrap().clone();
        calls.sort();
        assert_eq!(calls, vec![(1, 3), (1, 10), (1, 10), (2, 2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_fails_its_keys_only_and_a_lone_lookup_is_one_call() {
        let batcher: Batcher<(), u32, u32> = Batcher::new(2);
        let fetch = |_: (), keys: Vec<u32>| async move {
            if keys.contains(&1) {
                Err(Error::Cancelled)
            } else {
                Ok(keys.into_iter().map(|k| (k, k)).collect())
            }
        };
        let (a, b, c) = tokio::join!(
            batcher.load((), 1, fetch),
            batcher.load((), 2, fetch),
            batcher.load((), 3, fetch),
        );
        assert!(matches!(a.unwrap_err().original(), Error::Cancelled));
        assert!(matches!(b.unwrap_err().original(), Error::Cancelled));
        assert_eq!(c.unwrap(), Some(3));
        let n = AtomicUsize::new(0);
        let alone = batcher
            .load((), 7, |_, keys: Vec<u32>| {
                n.fetch_add(1, Ordering::SeqCst);
                async move { Ok(keys.into_iter().map(|k| (k, k + 1)).collect()) }
            })
            .await;
        assert_eq!(alone.unwrap(), Some(8));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
