//! # fargate-deploy
//!
//! Deploy containers to AWS ECS on Fargate from code: describe apps with typed
//! builders, plan, apply, watch the rollout, roll back, destroy.
//!
//! Where to start:
//! - [`Environment`]: the network (new VPC or adopted), the ECS cluster and the
//!   shared load balancers several apps use.
//! - The builders, validated at `build()` with no AWS call:
//!   [`ContainerService`] (worker or internal service), [`FrontendApp`] (behind a
//!   public ALB), [`BackendApi`] (behind API Gateway + VPC link + internal NLB),
//!   [`ScheduledJob`] (EventBridge Scheduler, and run-now),
//!   [`ExpressApp`] (ECS Express Mode: AWS manages its HTTPS load balancer and
//!   scaling; module [`express`]).
//! - [`Deployer`]: built from your `aws_config::SdkConfig`; `plan`, `apply`,
//!   `destroy`, `status`, `run`, `rollback`.
//!
//! ```no_run
//! use fargate_deploy::{ContainerService, Deployer, Environment};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let env = Environment::builder().name("staging").build()?;
//! let worker = ContainerService::builder().name("worker").image("busybox:1.36").build()?;
//! let deployer = Deployer::new(&sdk).await?;
//! let plan = deployer.plan(&env, &[&worker]).await?;
//! println!("{plan}");
//! deployer.apply(plan).await?;
//! # Ok(()) }
//! ```
//!
//! One module per AWS resource kind ([`ecr`], [`logs`], [`iam`], [`cluster`],
//! [`task_definition`], [`service`], [`autoscaling`], [`schedule`],
//! [`run_task`]); rollout watching and diagnosis in [`rollout`].
#![deny(missing_docs)]
// Library code never panics on input or AWS data; tests may.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clients;

pub use clients::{AwsContext, Clients, DeployerOptions, default_retry_config};
pub mod apps;
pub mod autoscaling;
mod aws_util;
pub mod cli_json;
pub mod cluster;
mod deferred;
pub mod deployer;
pub mod deployment;
pub mod discovery;
pub mod domain;
pub mod ebs;
pub mod ecr;
pub mod efs;
pub mod environment;
pub mod estimate;
pub mod exec;
pub mod express;
pub mod iam;
pub mod lock;
pub mod logs;
pub mod preflight;
pub mod queue;
pub mod registry;
pub mod rollout;
pub mod run_task;
pub mod saved_plan;
pub mod schedule;
pub mod service;
pub mod service_connect;
mod shared_lb;
pub mod task_definition;

pub use apps::{
    AccessPointSettings, AppVolume, BackendApi, BackendApiSpec, ContainerService, FrontendApp,
    FrontendAppSpec, Image, Jwt, ScheduledJob, Throttling,
};
pub use apps::{ExpressApp, ExpressAppSpec};
pub use deployer::{
    App, ApplyError, ApplyOptions, ApplyReport, DeployPlan, Deployer, ServiceStatus,
};
pub use deployment::Deployment;
pub use environment::{AdoptNetwork, Environment};
pub use lock::{LockError, LockGuard, LockOptions};
pub use preflight::{Preflight, PreflightError, validate};
pub use saved_plan::{PlanMode, SavedPlan, SavedPlanError};
pub use shared_lb::{AdoptAlb, AdoptNlb, Needs, RuleNeed};

/// The README's code examples, compiled as doctests so they cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
