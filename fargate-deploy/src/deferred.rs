//! Values only known once apply has run, in plans and steps: the shared helpers of
//! [`fargate_net::deferred`], re-exported for this crate's resources.

pub(crate) use fargate_net::deferred::{
    KNOWN_AFTER_APPLY, defer_unknown, ref_set, ref_value, sorted,
};
