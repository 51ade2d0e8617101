//! # fargate-core
//!
//! The foundation of fargate-rs, with no AWS service clients in it:
//!
//! - validated value types ([`TaskSize`], [`ImageRef`], [`SecretRef`], [`ScheduleExpression`],
//!   [`Cidr`], [`Tags`], resource names, ports, environment variable names), each with
//!   `FromStr`, `Display`, serde and an [`InvalidValue`] error that names the field, the value
//!   and what is allowed;
//! - ownership tags ([`Ownership`]) that mark what fargate-rs owns;
//! - the plan model ([`Plan`], [`Change`], [`FieldDiff`]) with a `terraform plan`-like rendering;
//! - the graph executor ([`exec`]) that runs steps concurrently along their dependencies,
//!   passing typed outputs and emitting progress [`Event`]s;
//! - the resource contract ([`Kind`]: observe, diff, apply, destroy, outputs) every AWS
//!   resource kind implements, and the planner that runs it ([`Executable`]);
//! - the API-call recorder ([`CallRecorder`]), an SDK interceptor that counts calls,
//!   mutating calls and the critical path;
//! - idempotent creates and deletes ([`idempotent`]): a create retried into "already
//!   exists" continues with the resource when it is ours, a delete retried into "not found"
//!   is done, and client tokens for the APIs that take one.
//!
//! Most users start from `fargate-deploy`; this crate is what its types are made of.
#![deny(missing_docs)]
// Library code never panics on input or AWS data; tests may.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod advise;
pub mod batch;
pub mod calls;
pub mod cidr;
pub mod cost;
pub mod env_var;
pub mod error;
pub mod exec;
pub mod idempotent;
pub mod image;
pub mod limit;
pub mod names;
pub mod plan;
pub mod port;
pub mod redact;
pub mod resource;
pub mod schedule;
pub mod secret;
pub mod tags;
pub mod task_size;
mod validate;
pub mod wait;

pub use advise::{Advice, Recommendation, Workload, advise};
pub use calls::{CallRecord, CallRecorder, CallSummary};
pub use cidr::{Cidr, split_for_subnets};
pub use cost::{CostEstimate, CostInputs, PricingTable, TaskCost};
pub use env_var::EnvVarName;
pub use error::{AwsError, AwsResultExt, Error, InvalidValue, Result};
pub use exec::{
    Event, EventSink, Graph, GraphBuilder, OutputKey, Outputs, RunOptions, RunReport, StepContext,
};
pub use idempotent::{Created, client_token, create_or_existing, ok_unless};
pub use image::ImageRef;
pub use names::{EcrRepositoryName, EcsName, ElbName, IamRoleName, Ident, LogGroupName};
pub use plan::{Change, FieldDiff, Fields, Plan, PlannedChange, ResourceId};
pub use port::Port;
pub use resource::{
    Collect, Executable, Kind, Mode, Node, Observation, Observations, PlanValues, Ref, Resolved,
    Resource, Round,
};
pub use schedule::{At, Cron, Rate, RateUnit, ScheduleExpression, Timezone};
pub use secret::{SecretKind, SecretRef};
pub use tags::{Ownership, OwnershipCheck, Tags};
pub use task_size::{Architecture, TaskSize};
pub use validate::{is_account_id, is_partition, is_region};

/// The most used types, for `use fargate_core::prelude::*`.
pub mod prelude {
    pub use crate::{
        Change, Cidr, EnvVarName, Error, ImageRef, InvalidValue, Ownership, Plan, Port, ResourceId,
        ScheduleExpression, SecretRef, Tags, TaskSize,
    };
}

/// Build an SDK client from an `SdkConfig` with extra interceptors (for
/// example a [`CallRecorder`]) attached, and optionally the request limits of its service
/// ([`limit::RequestLimits`], by the SDK's service name).
///
/// ```ignore
/// let ecs = fargate_core::sdk_client!(aws_sdk_ecs, &sdk_config, &interceptors);
/// let limits = fargate_core::limit::RequestLimits::aws();
/// let ecs = fargate_core::sdk_client!(aws_sdk_ecs, &sdk_config, &interceptors, &limits, "ECS");
/// ```
#[macro_export]
macro_rules! sdk_client {
    ($krate:ident, $sdk:expr, $interceptors:expr, $limits:expr, $service:expr) => {{
        let sdk = $crate::limit::RequestLimits::sdk_config($sdk, &$limits.limiter($service));
        $crate::sdk_client!($krate, &sdk, $interceptors)
    }};
    ($krate:ident, $sdk:expr, $interceptors:expr) => {{
        let mut builder = $krate::config::Builder::from($sdk);
        for interceptor in $interceptors.iter() {
            builder.push_interceptor(interceptor.clone());
        }
        $krate::Client::from_conf(builder.build())
    }};
}
