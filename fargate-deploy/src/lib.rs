//! # fargate-deploy
//!
//! Deploy containers to AWS ECS on Fargate from code.
#![deny(missing_docs)]
// Library code never panics on input or AWS data; tests may.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clients;

pub use clients::{AwsContext, Clients};
pub mod rollout;
pub mod service;
mod aws_util;
pub mod ecr;
pub mod logs;
pub mod cluster;
pub mod iam;
pub mod task_definition;
pub mod autoscaling;
mod deferred;
pub mod run_task;
pub mod schedule;
pub mod apps;
pub mod deployer;
pub mod environment;

pub use apps::{ContainerService, Image};
pub use deployer::{App, ApplyError, ApplyOptions, ApplyReport, DeployPlan, Deployer, ServiceStatus};
pub use environment::{AdoptNetwork, Environment};
