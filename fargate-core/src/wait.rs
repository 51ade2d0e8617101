//! Waiting for AWS to reach a state: polling with a deadline, and the one
//! sanctioned retry (eventual consistency right after a create).
//!
//! Throttling and transient errors are retried by the SDK's own retry
//! configuration, never here. These helpers only poll for a *state* (a load
//! balancer becoming active, network interfaces going away) and re-try an
//! operation on named error codes that AWS documents as eventual
//! consistency (for example IAM's "role cannot be assumed" right after the
//! role was created), for a bounded time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::exec::StepContext;
use crate::{Error, ResourceId};

/// How long and how often to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// Give up after this long.
    pub timeout: Duration,
    /// First interval between polls.
    pub interval: Duration,
    /// The interval grows by half each poll up to this.
    pub max_interval: Duration,
}

impl Poll {
    /// Poll every `interval` (growing to 4×) for at most `timeout`.
    pub const fn new(timeout: Duration, interval: Duration) -> Self {
        Self {
            timeout,
            interval,
            max_interval: Duration::from_nanos(interval.as_nanos() as u64 * 4),
        }
    }
}

/// Call `check` until it returns `Some`, sleeping between calls; cancellable
/// through the step context.
///
/// # Errors
/// [`Error::Timeout`] after `poll.timeout`, [`Error::Cancelled`], or the first
/// error `check` returns.
pub async fn poll_until<T, F, Fut>(
    ctx: &StepContext,
    resource: &ResourceId,
    waiting_for: &str,
    poll: Poll,
    mut check: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, Error>>,
{
    let start = Instant::now();
    let mut interval = poll.interval;
    let mut announced = false;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= poll.timeout {
            return Err(Error::Timeout {
                resource: resource.clone(),
                waiting_for: waiting_for.to_string(),
                after: start.elapsed(),
            });
        }
        if !announced {
            ctx.progress(format!("waiting for {waiting_for}"));
            announced = true;
        }
        ctx.sleep(interval).await?;
        interval = (interval + interval / 2).min(poll.max_interval.max(poll.interval));
    }
}

/// Run `op`, and while it fails with an error for which `is_eventual` is true
/// (and less than `poll.timeout` passed), wait and run it again.
///
/// Use only for errors AWS documents as eventual consistency right after a
/// create, such as IAM roles not yet assumable.
///
/// # Errors
/// The last error, when it is not an eventual-consistency error or time ran out.
pub async fn retry_eventual<T, F, Fut>(
    ctx: &StepContext,
    poll: Poll,
    is_eventual: impl Fn(&Error) -> bool,
    mut op: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    let mut interval = poll.interval;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if is_eventual(&e) && start.elapsed() < poll.timeout => {
                ctx.progress(format!("waiting for AWS to propagate: {e}"));
                ctx.sleep(interval).await?;
                interval = (interval + interval / 2).min(poll.max_interval.max(poll.interval));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{EventSink, Outputs};
    use tokio_util::sync::CancellationToken;

    fn ctx() -> StepContext {
        StepContext::detached(
            "t",
            Outputs::new(),
            EventSink::none(),
            CancellationToken::new(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn poll_until_times_out_with_typed_error() {
        let id = ResourceId::new("elbv2:load-balancer", "prod");
        let r: Result<(), _> = poll_until(
            &ctx(),
            &id,
            "active",
            Poll::new(Duration::from_secs(30), Duration::from_secs(2)),
            || async { Ok(None) },
        )
        .await;
        match r {
            Err(Error::Timeout {
                waiting_for, after, ..
            }) => {
                assert_eq!(waiting_for, "active");
                assert!(after >= Duration::from_secs(30) && after < Duration::from_secs(40));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_eventual_retries_only_matching_errors() {
        let mut n = 0;
        let v = retry_eventual(
            &ctx(),
            Poll::new(Duration::from_secs(60), Duration::from_secs(1)),
            |e| matches!(e, Error::Cancelled),
            || {
                n += 1;
                let attempt = n;
                async move {
                    if attempt < 3 {
                        Err(Error::Cancelled)
                    } else {
                        Ok(attempt)
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);

        let mut calls = 0;
        let r: Result<(), _> = retry_eventual(
            &ctx(),
            Poll::new(Duration::from_secs(60), Duration::from_secs(1)),
            |e| matches!(e, Error::Cancelled),
            || {
                calls += 1;
                async { Err(Error::MissingOutput { key: "x".into() }) }
            },
        )
        .await;
        assert!(matches!(r, Err(Error::MissingOutput { .. })));
        assert_eq!(calls, 1);
    }
}
