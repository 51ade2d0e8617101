//! Building and validating a step graph.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use super::run::StepContext;

pub(crate) type StepFuture<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send>>;
pub(crate) type StepFn<E> = Box<dyn FnOnce(StepContext) -> StepFuture<E> + Send>;

pub(crate) struct StepDef<E> {
    pub(crate) id: String,
    pub(crate) deps: Vec<String>,
    pub(crate) action: StepFn<E>,
}

/// A graph that was found invalid by [`GraphBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Two steps have the same id.
    #[error("step {0:?} is defined twice")]
    DuplicateStep(String),
    /// A step depends on a step that does not exist.
    #[error("step {step:?} depends on unknown step {dependency:?}")]
    UnknownDependency {
        /// The step.
        step: String,
        /// The missing dependency.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error("steps form a dependency cycle: {}", steps.join(" -> "))]
    Cycle {
        /// The steps on the cycle, the first repeated at the end.
        steps: Vec<String>,
    },
}

/// Collects steps; [`GraphBuilder::build`] validates them into a [`Graph`].
///
/// The first problem found (duplicate id) is kept and returned by `build`, so
/// adding steps never fails halfway.
pub struct GraphBuilder<E> {
    steps: Vec<StepDef<E>>,
    ids: HashSet<String>,
    first_error: Option<GraphError>,
}

impl<E> Default for GraphBuilder<E> {
    fn default() -> Self {
        Self {
            steps: Vec::new(),
            ids: HashSet::new(),
            first_error: None,
        }
    }
}

impl<E: Send + 'static> GraphBuilder<E> {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a step that runs after all of `deps` finished successfully.
    pub fn step<F, Fut, D>(&mut self, id: impl Into<String>, deps: D, action: F) -> &mut Self
    where
        F: FnOnce(StepContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        D: IntoIterator,
        D::Item: Into<String>,
    {
        let id = id.into();
        if !self.ids.insert(id.clone()) && self.first_error.is_none() {
            self.first_error = Some(GraphError::DuplicateStep(id.clone()));
        }
        self.steps.push(StepDef {
            id,
            deps: deps.into_iter().map(Into::into).collect(),
            action: Box::new(move |ctx| Box::pin(action(ctx))),
        });
        self
    }

    /// Number of steps added.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step was added.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Validate and freeze the graph.
    ///
    /// # Errors
    /// The first [`GraphError`]: a duplicate id, an unknown dependency or a cycle.
    pub fn build(self) -> Result<Graph<E>, GraphError> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        let index: HashMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let mut d = Vec::with_capacity(s.deps.len());
            for dep in &s.deps {
                match index.get(dep.as_str()) {
                    Some(&i) => {
                        if !d.contains(&i) {
                            d.push(i);
                        }
                    }
                    None => {
                        return Err(GraphError::UnknownDependency {
                            step: s.id.clone(),
                            dependency: dep.clone(),
                        });
                    }
                }
            }
            deps.push(d);
        }
        if let Some(cycle) = find_cycle(&deps) {
            return Err(GraphError::Cycle {
                steps: cycle
                    .into_iter()
                    .map(|i| self.steps[i].id.clone())
                    .collect(),
            });
        }
        Ok(Graph {
            steps: self.steps,
            deps,
        })
    }
}

/// Depth-first search for a cycle; returns its nodes with the first repeated at the end.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut mark = vec![Mark::New; deps.len()];
    for root in 0..deps.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next dependency index to visit).
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::OnStack;
                        stack.push((dep, 0));
                    }
                    Mark::OnStack => {
                        let start = stack.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|&(n, _)| n).collect();
                        cycle.push(dep);
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// A validated step graph, ready to [`run`](Graph::run).
pub struct Graph<E> {
    pub(crate) steps: Vec<StepDef<E>>,
    /// For each step, the indices of the steps it depends on.
    pub(crate) deps: Vec<Vec<usize>>,
}

impl<E> Graph<E> {
    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the graph has no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The length of the longest dependency chain: the least number of
    /// sequential rounds needed to run the graph.
    pub fn depth(&self) -> usize {
        // Steps may be in any order; memoized longest path.
        let mut depth: Vec<Option<usize>> = vec![None; self.steps.len()];
        let mut best = 0;
        for i in 0..self.steps.len() {
            best = best.max(self.depth_of(i, &mut depth));
        }
        best
    }

    fn depth_of(&self, root: usize, memo: &mut [Option<usize>]) -> usize {
        // Iterative post-order to avoid deep recursion on long chains.
        let mut stack = vec![root];
        while let Some(&n) = stack.last() {
            if memo[n].is_some() {
                stack.pop();
                continue;
            }
            let pending: Vec<usize> = self.deps[n]
                .iter()
                .copied()
                .filter(|&d| memo[d].is_none())
                .collect();
            if pending.is_empty() {
                let d = self.deps[n]
                    .iter()
                    .filter_map(|&d| memo[d])
                    .max()
                    .unwrap_or(0)
                    + 1;
                memo[n] = Some(d);
                stack.pop();
            } else {
                stack.extend(pending);
            }
        }
        memo[root].unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn noop(g: &mut GraphBuilder<Error>, id: &str, deps: &[&str]) {
        g.step(
            id,
            deps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            |_| async { Ok(()) },
        );
    }

    #[test]
    fn rejects_duplicates_unknown_and_cycles() {
        let mut g = GraphBuilder::new();
        noop(&mut g, "a", &[]);
        noop(&mut g, "a", &[]);
        assert_eq!(g.build().err(), Some(GraphError::DuplicateStep("a".into())));

        let mut g = GraphBuilder::new();
        noop(&mut g, "a", &["zz"]);
        assert!(matches!(
            g.build().err(),
            Some(GraphError::UnknownDependency { .. })
        ));

        let mut g = GraphBuilder::new();
        noop(&mut g, "a", &["c"]);
        noop(&mut g, "b", &["a"]);
        noop(&mut g, "c", &["b"]);
        noop(&mut g, "d", &[]);
        match g.build().err() {
            Some(GraphError::Cycle { steps }) => {
                assert_eq!(steps.first(), steps.last());
                assert_eq!(steps.len(), 4, "{steps:?}");
            }
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    #[test]
    fn depth_is_longest_chain() {
        let mut g = GraphBuilder::new();
        noop(&mut g, "c", &["b"]);
        noop(&mut g, "b", &["a"]);
        noop(&mut g, "a", &[]);
        noop(&mut g, "x", &[]);
        assert_eq!(g.build().unwrap().depth(), 3);
    }
}
