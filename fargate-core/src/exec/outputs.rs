//! Typed outputs passed from steps to their dependents.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::Error;

/// The name and type of one output, e.g. the id of a VPC (`OutputKey<String>`).
///
/// Keys are compared by name, so the producer and the consumer can build the
/// same key independently (see [`crate::ResourceId::output`]).
pub struct OutputKey<T> {
    name: Arc<str>,
    _type: PhantomData<fn() -> T>,
}

impl<T> OutputKey<T> {
    /// A key with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: Arc::from(name.into()),
            _type: PhantomData,
        }
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T> Clone for OutputKey<T> {
    fn clone(&self) -> Self {
        Self {
            name: Arc::clone(&self.name),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for OutputKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OutputKey({})", self.name)
    }
}

type Slot = Arc<dyn Any + Send + Sync>;

/// The outputs produced so far in one run. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Outputs {
    inner: Arc<Mutex<HashMap<Arc<str>, Slot>>>,
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self.lock().keys().map(|k| k.to_string()).collect();
        keys.sort();
        f.debug_struct("Outputs").field("keys", &keys).finish()
    }
}

impl Outputs {
    /// An empty set of outputs.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Slot>> {
        // A poisoned lock only means a step panicked while holding it; the map is still valid.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store an output, replacing any earlier value.
    pub fn set<T: Send + Sync + 'static>(&self, key: &OutputKey<T>, value: T) {
        self.lock().insert(Arc::clone(&key.name), Arc::new(value));
    }

    /// Read an output.
    ///
    /// # Errors
    /// [`Error::MissingOutput`] when no step has produced it (or produced another type).
    pub fn get<T: Clone + Send + Sync + 'static>(&self, key: &OutputKey<T>) -> Result<T, Error> {
        self.try_get(key).ok_or_else(|| Error::MissingOutput {
            key: key.name.to_string(),
        })
    }

    /// Read an output if it was produced.
    pub fn try_get<T: Clone + Send + Sync + 'static>(&self, key: &OutputKey<T>) -> Option<T> {
        self.lock()
            .get(&key.name)
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no output was produced.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_round_trip_and_missing() {
        let o = Outputs::new();
        let k: OutputKey<Vec<String>> = OutputKey::new("subnets");
        assert!(matches!(o.get(&k), Err(Error::MissingOutput { .. })));
        o.set(&k, vec!["a".into()]);
        assert_eq!(o.get(&k).unwrap(), vec!["a".to_string()]);
        // Same name, other type: not silently reinterpreted.
        let wrong: OutputKey<String> = OutputKey::new("subnets");
        assert!(o.try_get(&wrong).is_none());
    }
}
