//! # fargate-deploy
//!
//! Deploy containers to AWS ECS on Fargate from code.
#![deny(missing_docs)]
// Library code never panics on input or AWS data; tests may.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clients;

pub use clients::{AwsContext, Clients};
pub mod apps;
pub mod autoscaling;
mod aws_util;
pub mod cluster;
mod deferred;
pub mod deployer;
pub mod ecr;
pub mod environment;
pub mod estimate;
pub mod iam;
pub mod logs;
pub mod rollout;
pub mod run_task;
pub mod schedule;
pub mod service;
mod shared_lb;
pub mod task_definition;

pub use apps::{
    BackendApi, BackendApiSpec, ContainerService, FrontendApp, FrontendAppSpec, Image, ScheduledJob,
};
pub use deployer::{
    App, ApplyError, ApplyOptions, ApplyReport, DeployPlan, Deployer, ServiceStatus,
};
pub use environment::{AdoptNetwork, Environment};
pub use shared_lb::{AdoptAlb, Needs, RuleNeed};
