//! fargate-core's integration tests: cost estimates, the graph executor, the planner.
//!
//! All integration tests of the crate are modules of this one binary (`tests/it/`), so they
//! are linked once. Add a test file here as a module, not as a new `tests/*.rs`.

mod cost;
mod executor;
mod planner;
