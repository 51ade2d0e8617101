//! # fargate-deploy
//!
//! Deploy containers to AWS ECS on Fargate from code.
#![deny(missing_docs)]
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
