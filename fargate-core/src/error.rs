//! The error types shared by every fargate-rs crate.
//!
//! Two families:
//! - [`InvalidValue`]: bad input, found before any AWS call. It names the
//!   field, the value that was given and what is allowed.
//! - [`Error`]: everything that can go wrong while planning, applying or
//!   destroying, with the resource and operation it concerns.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

use crate::plan::ResourceId;

/// A value that failed validation, found before any AWS call.
///
/// `Display` reads like `invalid cpu "300": not a Fargate CPU value; allowed: 256, 512, ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("invalid {field} {value:?}: {reason}; allowed: {allowed}")]
pub struct InvalidValue {
    /// The field that was given the value (for example `cpu` or `service.web.port`).
    pub field: String,
    /// The value as given (redacted for sensitive fields).
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
    /// What would be accepted.
    pub allowed: String,
}

impl InvalidValue {
    /// A new validation error.
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            reason: reason.into(),
            allowed: allowed.into(),
        }
    }

    /// The same error, reported against a more precise field path
    /// (for example `app.web.cpu` instead of `cpu`).
    #[must_use]
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

/// An AWS API call that failed, with the context needed to act on it.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {resource} failed: {code}: {message}")]
pub struct AwsError {
    /// The resource the call was about.
    pub resource: String,
    /// The API operation, for example `CreateService`.
    pub operation: String,
    /// The AWS error code, or a description of the transport failure.
    pub code: String,
    /// The AWS error message.
    pub message: String,
    /// Whether trying again later might succeed (throttling, timeouts, 5xx).
    pub retryable: bool,
    /// The underlying SDK error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Everything that can fail in fargate-rs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, found before any AWS call.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// An AWS API call failed.
    #[error(transparent)]
    Aws(Box<AwsError>),
    /// A resource with the expected name exists but does not carry our
    /// ownership tags: it is never modified or deleted.
    #[error(
        "{resource} exists but is not owned by fargate-rs ({detail}); adopt it explicitly or choose another name"
    )]
    NotOwned {
        /// The resource that was found.
        resource: ResourceId,
        /// What was found (for example its tags or ARN).
        detail: String,
    },
    /// A resource that was to be adopted, or that something depends on, does not exist
    /// or does not have the required shape.
    #[error("{resource}: {detail}")]
    NotFound {
        /// The resource that was looked for.
        resource: ResourceId,
        /// What is missing.
        detail: String,
    },
    /// The app is not deployed (never applied, or destroyed): its environment's cluster or its
    /// service does not exist, so there is nothing to report on or roll back.
    #[error("app {app} is not deployed in environment {environment}: {missing} does not exist")]
    NotDeployed {
        /// The environment's name.
        environment: String,
        /// The app's name.
        app: String,
        /// What was looked for and is missing (the ECS cluster or the app's service).
        missing: ResourceId,
    },
    /// Waiting for AWS to reach a state took longer than allowed.
    #[error("{resource}: timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        /// The resource being waited for.
        resource: ResourceId,
        /// The state that was awaited.
        waiting_for: String,
        /// How long it waited.
        after: Duration,
    },
    /// AWS answered with something the library cannot use.
    #[error("{resource}: unexpected response to {operation}: {detail}")]
    Unexpected {
        /// The resource concerned.
        resource: ResourceId,
        /// The API operation.
        operation: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// A step read an output that no step produced (a bug in how the graph was built).
    #[error("output {key} was not produced by any finished step")]
    MissingOutput {
        /// The output key.
        key: String,
    },
    /// The work was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A domain failure reported by a higher layer (for example a failed rollout),
    /// with its own typed error as the source.
    #[error("{resource}: {source}")]
    Failed {
        /// The resource concerned.
        resource: ResourceId,
        /// The typed failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// One failure several resources share: an observation made once per plan for all of
    /// them (for example the rules of a listener) failed. Displays as the original.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
}

impl Error {
    /// The error itself, looking through [`Error::Shared`].
    pub fn original(&self) -> &Error {
        match self {
            Error::Shared(e) => e.original(),
            e => e,
        }
    }

    /// The AWS error code, when this is an AWS API error.
    pub fn aws_code(&self) -> Option<&str> {
        match self.original() {
            Error::Aws(e) => Some(e.code.as_str()),
            _ => None,
        }
    }

    /// Whether trying again later might succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.original(), Error::Aws(e) if e.retryable)
    }

    /// Build an [`Error::Aws`] from any SDK error.
    pub fn from_sdk<E, R>(resource: impl fmt::Display, operation: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let (code, message, retryable) = match &err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = e.message().unwrap_or_default().to_string();
                let retryable = is_retryable_code(&code);
                (code, message, retryable)
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into(), true),
            SdkError::DispatchFailure(d) => (
                "DispatchFailure".into(),
                format!("the request could not be sent: {d:?}"),
                d.is_io() || d.is_timeout(),
            ),
            SdkError::ResponseError(_) => (
                "ResponseError".into(),
                "the response could not be read".into(),
                true,
            ),
            SdkError::ConstructionFailure(_) => (
                "ConstructionFailure".into(),
                "the request could not be built".into(),
                false,
            ),
            _ => ("Unknown".into(), err.to_string(), false),
        };
        Error::Aws(Box::new(AwsError {
            resource: resource.to_string(),
            operation: operation.to_string(),
            code,
            message,
            retryable,
            source: Some(Box::new(err)),
        }))
    }
}

fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalError"
            | "InternalFailure"
            | "ServerException"
    )
}

/// Attach resource and operation context to an SDK result.
///
/// ```ignore
/// client.create_cluster().cluster_name(n).send().await.context(&id, "CreateCluster")?;
/// ```
pub trait AwsResultExt<T> {
    /// Turn an SDK error into an [`Error::Aws`] naming the resource and operation.
    ///
    /// # Errors
    /// Returns the converted error when the call failed.
    fn context(self, resource: impl fmt::Display, operation: &str) -> Result<T, Error>;
}

impl<T, E, R> AwsResultExt<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    fn context(self, resource: impl fmt::Display, operation: &str) -> Result<T, Error> {
        self.map_err(|e| Error::from_sdk(resource, operation, e))
    }
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn sdk_error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(ctx) => ctx.err().code(),
        _ => None,
    }
}

/// Shorthand for results in fargate-rs.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Several independent calls of one step ran concurrently and more than one failed: every
/// error, in the order the calls were listed (each names its resource and operation). The
/// source of the [`Error::Failed`] that [`crate::resource::all_concurrently`] returns.
#[derive(Debug)]
pub struct ConcurrentFailures(pub Vec<Error>);

impl fmt::Display for ConcurrentFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} concurrent calls failed", self.0.len())?;
        for (i, e) in self.0.iter().enumerate() {
            write!(f, "{} {e}", if i == 0 { ":" } else { ";" })?;
        }
        Ok(())
    }
}

impl std::error::Error for ConcurrentFailures {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .first()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
