//! The graph executor: run steps along their dependencies, independent steps
//! concurrently, passing typed outputs from a step to its dependents and
//! reporting progress as [`Event`]s.
//!
//! Build a graph with [`GraphBuilder`] (cycles, unknown dependencies and
//! duplicate ids are rejected by [`GraphBuilder::build`]), then [`Graph::run`]
//! it. On the first failure no new step starts; steps already running finish;
//! the [`RunReport`] says which steps finished, failed and never started.
//!
//! ```
//! use fargate_core::exec::{GraphBuilder, OutputKey, RunOptions};
//!
//! # tokio_test_block_on(async {
//! let vpc_id: OutputKey<String> = OutputKey::new("vpc#id");
//! let mut g = GraphBuilder::<fargate_core::Error>::new();
//! let k = vpc_id.clone();
//! g.step("vpc", [] as [&str; 0], move |ctx| async move {
//!     ctx.set(&k, "vpc-123".to_string());
//!     Ok(())
//! });
//! let k = vpc_id.clone();
//! g.step("subnet", ["vpc"], move |ctx| async move {
//!     assert_eq!(ctx.get(&k)?, "vpc-123");
//!     Ok(())
//! });
//! let report = g.build().unwrap().run(RunOptions::default()).await;
//! assert!(report.is_success());
//! assert_eq!(report.finished, vec!["vpc", "subnet"]);
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

mod events;
mod graph;
mod outputs;
mod run;

pub use events::{Event, EventSink};
pub use graph::{Graph, GraphBuilder, GraphError};
pub use outputs::{OutputKey, Outputs};
pub use run::{ExecError, Failure, RunOptions, RunReport, StepContext, StepTiming};
pub use tokio_util::sync::CancellationToken;
