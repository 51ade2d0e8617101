//! Creates and deletes that converge when AWS applied a call twice.
//!
//! The SDK retries a call whose answer was lost (a dropped connection, a
//! timeout, a 5xx after the request was applied). The retry then meets the
//! work of the first attempt: a create answers "already exists"
//! (`ResourceAlreadyExistsException`, `EntityAlreadyExists`,
//! `DuplicateTargetGroupName`, `InvalidGroup.Duplicate`, `ConflictException`,
//! …) and a delete answers "not found". Neither is a failure of the step:
//!
//! - a create retried into "already exists" looks the resource up again
//!   ([`create_or_existing`]) and carries on with it when it is ours (the
//!   look-up checks the ownership tags and fails with
//!   [`Error::NotOwned`] otherwise);
//! - a delete (or any call) retried into "not found" is done
//!   ([`ok_unless`]).
//!
//! Errors are recognized on the SDK's typed operation error (`is_*()`, or
//! `code()` for EC2, whose errors are only codes), never by matching text.
//!
//! Where the API takes an idempotency token, the create sets one made by
//! [`client_token`], once per step execution: stable across the SDK's retries
//! of that call (they re-send the same request), never reused by a later
//! apply (EC2 remembers tokens and would answer with a resource deleted since).

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::exec::StepContext;
use crate::{Error, ResourceId};

/// The answer of a call, or `None` when the service answered the error that
/// `expected` recognizes: absent, on a read or a delete (a delete retried into
/// "not found" is done); already there, on an add whose retry met the first
/// attempt's work.
///
/// ```ignore
/// let out = elb.delete_rule().rule_arn(arn).send().await;
/// ok_unless(out, &id, "DeleteRule", |e| e.is_rule_not_found_exception())?;
/// ```
///
/// # Errors
/// Any other failure, as [`Error::Aws`] naming `resource` and `operation`.
pub fn ok_unless<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    resource: impl fmt::Display,
    operation: &str,
    expected: impl FnOnce(&E) -> bool,
) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().is_some_and(expected) => {
            tracing::debug!(%resource, operation, code = e.as_service_error().and_then(|s| s.code()).unwrap_or(""), "already done");
            Ok(None)
        }
        Err(e) => Err(Error::from_sdk(resource, operation, e)),
    }
}

/// What a create call led to; see [`create_or_existing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T, X> {
    /// The call created the resource: its answer.
    New(T),
    /// The resource already existed and is ours (typically made by an earlier
    /// attempt of the same call whose answer was lost): what looking it up
    /// again found.
    Existing(X),
}

/// Finish a create call: its answer, or, when the service says the resource
/// already exists (`exists` recognizes that error), the resource as `observe`
/// finds it again.
///
/// `observe` must check the ownership tags and fail with [`Error::NotOwned`]
/// for a resource that is not ours: a create never takes over someone else's
/// resource. When it finds nothing (the "already exists" was about something
/// else), the original error is returned.
///
/// ```ignore
/// let out = logs.create_log_group().log_group_name(name).send().await;
/// match create_or_existing(ctx, &id, "CreateLogGroup", out,
///     |e| e.is_resource_already_exists_exception(),
///     || self.observe_owned(clients)).await?
/// {
///     Created::New(_) => { /* follow-up calls for a new one */ }
///     Created::Existing(found) => { /* converge `found` */ }
/// }
/// ```
///
/// # Errors
/// The create's error (as [`Error::Aws`]) when it is not "already exists" or
/// nothing was found; what `observe` returns ([`Error::NotOwned`] for a
/// resource that is not ours).
pub async fn create_or_existing<T, X, E, R, F, Fut>(
    ctx: &StepContext,
    resource: &ResourceId,
    operation: &str,
    result: Result<T, SdkError<E, R>>,
    exists: impl FnOnce(&E) -> bool,
    observe: F,
) -> Result<Created<T, X>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<X>, Error>>,
{
    let err = match result {
        Ok(v) => return Ok(Created::New(v)),
        Err(e) => e,
    };
    if !err.as_service_error().is_some_and(exists) {
        return Err(Error::from_sdk(resource, operation, err));
    }
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or("already exists")
        .to_string();
    match observe().await? {
        Some(found) => {
            ctx.progress(format!(
                "{operation} answered {code}: it already exists and is ours (an earlier attempt \
                 made it); continuing with it"
            ));
            Ok(Created::Existing(found))
        }
        None => Err(Error::from_sdk(resource, operation, err)),
    }
}

/// A new idempotency token (a random UUID-shaped string, 36 characters of
/// `0-9a-f` and `-`, which every API fargate-rs calls accepts: EC2
/// `ClientToken`, ECS `clientToken`, Scheduler `ClientToken`).
///
/// Make one per execution of a create step and set it on the request: the
/// SDK's retries re-send that same request (and so the same token), while the
/// next apply makes a new one.
pub fn client_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        // `RandomState` is seeded from the OS once per process and varies per instance.
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.finish()
    };
    let (hi, lo) = (half(1), half(2));
    // Version 4, variant 10 bits, as a UUID v4 has them.
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{EventSink, Outputs};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use tokio_util::sync::CancellationToken;

    #[derive(Debug)]
    struct ServiceErr(ErrorMetadata);

    impl fmt::Display for ServiceErr {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:?}", self.0.code())
        }
    }

    impl std::error::Error for ServiceErr {}

    impl ProvideErrorMetadata for ServiceErr {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    fn service_error(code: &str) -> SdkError<ServiceErr, HttpResponse> {
        let raw = HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            SdkBody::empty(),
        );
        SdkError::service_error(ServiceErr(ErrorMetadata::builder().code(code).build()), raw)
    }

    fn ctx() -> StepContext {
        StepContext::detached(
            "t",
            Outputs::new(),
            EventSink::none(),
            CancellationToken::new(),
        )
    }

    fn id() -> ResourceId {
        ResourceId::new("logs:log-group", "/ecs/prod/web")
    }

    fn is(code: &'static str) -> impl Fn(&ServiceErr) -> bool {
        move |e| e.code() == Some(code)
    }

    #[test]
    fn ok_unless_turns_only_the_expected_error_into_none() {
        let ok: Result<u8, SdkError<ServiceErr, HttpResponse>> = Ok(1);
        assert_eq!(
            ok_unless(ok, id(), "DeleteLogGroup", is("NotFound")).unwrap(),
            Some(1)
        );
        let gone: Result<u8, _> = Err(service_error("NotFound"));
        assert_eq!(
            ok_unless(gone, id(), "DeleteLogGroup", is("NotFound")).unwrap(),
            None
        );
        let other: Result<u8, _> = Err(service_error("AccessDenied"));
        let e = ok_unless(other, id(), "DeleteLogGroup", is("NotFound")).unwrap_err();
        assert_eq!(e.aws_code(), Some("AccessDenied"));
    }

    #[tokio::test]
    async fn an_existing_resource_that_is_ours_is_continued_with() {
        let out: Result<u8, _> = Err(service_error("AlreadyExists"));
        let r = create_or_existing(
            &ctx(),
            &id(),
            "Create",
            out,
            is("AlreadyExists"),
            || async { Ok(Some("found")) },
        )
        .await
        .unwrap();
        assert_eq!(r, Created::Existing("found"));
        let out: Result<u8, SdkError<ServiceErr, HttpResponse>> = Ok(7);
        let r = create_or_existing(
            &ctx(),
            &id(),
            "Create",
            out,
            is("AlreadyExists"),
            || async { Ok(Some("never looked up")) },
        )
        .await
        .unwrap();
        assert_eq!(r, Created::New(7));
    }

    #[tokio::test]
    async fn an_existing_resource_that_is_not_ours_or_not_found_fails() {
        let out: Result<u8, _> = Err(service_error("AlreadyExists"));
        let r: Result<Created<u8, ()>, _> = create_or_existing(
            &ctx(),
            &id(),
            "Create",
            out,
            is("AlreadyExists"),
            || async {
                Err(Error::NotOwned {
                    resource: id(),
                    detail: "foreign".into(),
                })
            },
        )
        .await;
        assert!(matches!(r, Err(Error::NotOwned { .. })), "{r:?}");
        let out: Result<u8, _> = Err(service_error("AlreadyExists"));
        let r: Result<Created<u8, ()>, _> = create_or_existing(
            &ctx(),
            &id(),
            "Create",
            out,
            is("AlreadyExists"),
            || async { Ok(None) },
        )
        .await;
        assert_eq!(r.unwrap_err().aws_code(), Some("AlreadyExists"));
        // Another error is not looked into.
        let out: Result<u8, _> = Err(service_error("LimitExceeded"));
        let r: Result<Created<u8, ()>, _> = create_or_existing(
            &ctx(),
            &id(),
            "Create",
            out,
            is("AlreadyExists"),
            || async { panic!("must not observe") },
        )
        .await;
        assert_eq!(r.unwrap_err().aws_code(), Some("LimitExceeded"));
    }

    #[test]
    fn client_tokens_are_uuid_shaped_and_unique() {
        let tokens: std::collections::BTreeSet<String> =
            (0..2000).map(|_| client_token()).collect();
        assert_eq!(tokens.len(), 2000);
        for t in &tokens {
            assert_eq!(t.len(), 36, "{t}");
            assert!(t.chars().all(|c| c.is_ascii_hexdigit() || c == '-'), "{t}");
            assert_eq!(t.as_bytes()[14], b'4', "{t}");
        }
    }
}
