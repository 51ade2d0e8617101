//! The builders: [`ContainerService`], [`FrontendApp`], [`BackendApi`] and
//! [`ScheduledJob`]. Each is thin: it validates its input at `build()` (no AWS
//! calls) and composes the common layer ([`common`]) and network resources
//! into the resource graph; planning, applying, rollout watching and destroy
//! are shared.

pub mod backend_api;
pub mod common;
pub mod container_service;
pub mod express_app;
pub mod frontend_app;
pub mod scheduled_job;

pub use backend_api::{BackendApi, BackendApiSpec, Jwt, Throttling};
pub use common::{AccessPointSettings, AppSettings, AppVolume, Image};
pub use container_service::{ContainerService, ContainerServiceSpec};
pub use express_app::{ExpressApp, ExpressAppSpec};
pub use frontend_app::{FrontendApp, FrontendAppSpec};
pub use scheduled_job::{ScheduledJob, ScheduledJobSpec};
