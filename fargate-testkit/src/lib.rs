//! # fargate-testkit
//!
//! Test support for fargate-rs — tests only; library code never depends on it.
//!
//! Two kinds of AWS for tests:
//!
//! - **moto**, a real AWS-compatible endpoint: [`context()`] gives each test its own account on
//!   one shared moto server per test binary (installed and started on first use by
//!   [`fargate_local`], see [`moto`](mod@moto); here it panics loudly when it cannot start),
//!   with ready-made SDK clients and a [`CallRecorder`]:
//!
//!   ```no_run
//!   # async fn example() {
//!   // in a #[tokio::test]:
//!   let ctx = fargate_testkit::context().await;
//!   ctx.ecs().create_cluster().cluster_name("web").send().await.unwrap();
//!   assert_eq!(ctx.recorder().mutating_calls(), ["ECS.CreateCluster"]);
//!   // Any supported client; library code gets ctx.sdk_config() and ctx.interceptors().
//!   let iam: fargate_testkit::aws_sdk_iam::Client = ctx.client();
//!   # }
//!   ```
//!
//! - **aws-smithy-mocks** on the real SDK clients, for exact call sequences, error paths and
//!   retries: [`mock_sdk_client!`], [`fast_retry`], [`aws_error_meta`]; see [`mocks`].
//!
//! - **snapshots** of rendered plans: [`Normalizer`] makes what moto generates differently each
//!   run (accounts, ids, ARN suffixes, timestamps) stable, [`snapshot::assert_text_snapshot`]
//!   compares with a snapshot kept in the repository ([`insta`]).
//!
//! The SDK crates and `aws_smithy_mocks` are re-exported, so a crate's tests need only this
//! crate as a dev-dependency.
#![deny(missing_docs)]

mod context;
pub mod faults;
pub mod mocks;
pub mod moto;
pub mod normalize;
pub mod snapshot;

pub use context::{MotoAccount, SdkClient, TestContext, context};
pub use fargate_core::{CallRecord, CallRecorder, CallSummary};
pub use faults::{FaultCounts, FaultKind, Faults, Injected, Injection};
pub use mocks::{aws_error_meta, fast_retry};
pub use moto::{MOTO_VERSION, MotoError, MotoServer, Transition, extra_moto, moto};
pub use normalize::Normalizer;

pub use aws_sdk_acm;
pub use aws_sdk_apigatewayv2;
pub use aws_sdk_applicationautoscaling;
pub use aws_sdk_cloudwatchlogs;
pub use aws_sdk_ec2;
pub use aws_sdk_ecr;
pub use aws_sdk_ecs;
pub use aws_sdk_efs;
pub use aws_sdk_elasticloadbalancingv2;
pub use aws_sdk_iam;
pub use aws_sdk_route53;
pub use aws_sdk_scheduler;
pub use aws_sdk_secretsmanager;
pub use aws_sdk_servicediscovery;
pub use aws_sdk_sqs;
pub use aws_sdk_ssm;
pub use aws_sdk_sts;
pub use aws_smithy_mocks;
pub use aws_types;
