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
///
/// The schedule: check at once, then sleep `interval`, and double the sleep after every
/// check that did not see the wanted state, up to `max_interval`. With
/// `Poll::new(timeout, 1 s).with_max_interval(5 s)` the sleeps are 1, 2, 4, 5, 5, … s, so
/// the checks run at 0, 1, 3, 7, 12, 17, … s: a state reached soon is seen soon, and a long
/// wait costs one call per `max_interval`.
///
/// ```
/// use std::time::Duration;
/// use fargate_core::wait::Poll;
///
/// let poll = Poll::new(Duration::from_secs(60), Duration::from_secs(1))
///     .with_max_interval(Duration::from_secs(5));
/// let sleeps: Vec<u64> = poll.intervals().take(6).map(|d| d.as_secs()).collect();
/// assert_eq!(sleeps, [1, 2, 4, 5, 5, 5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// Give up after this long.
    pub timeout: Duration,
    /// First interval between polls.
    pub interval: Duration,
    /// The interval doubles each poll up to this (a value below `interval` means polling
    /// every `interval`).
    pub max_interval: Duration,
}

impl Poll {
    /// Poll first after `interval`, doubling the interval up to 4× `interval`, for at most
    /// `timeout`; [`with_max_interval`](Self::with_max_interval) sets another cap.
    pub const fn new(timeout: Duration, interval: Duration) -> Self {
        Self {
            timeout,
            interval,
            max_interval: interval.saturating_mul(4),
        }
    }

    /// The same, with the interval growing to at most `max_interval`.
    #[must_use]
    pub const fn with_max_interval(mut self, max_interval: Duration) -> Self {
        self.max_interval = max_interval;
        self
    }

    /// The interval to sleep after sleeping `current`: doubled, at most the cap (and never
    /// below the first interval).
    pub fn next_interval(&self, current: Duration) -> Duration {
        current
            .saturating_mul(2)
            .min(self.max_interval.max(self.interval))
    }

    /// The sleeps between checks, in order (an endless iterator): `interval`, then doubling
    /// up to the cap.
    pub fn intervals(&self) -> impl Iterator<Item = Duration> + use<> {
        let poll = *self;
        std::iter::successors(Some(poll.interval), move |d| Some(poll.next_interval(*d)))
    }
}

/// Call `check` until it returns `Some`, sleeping between calls on the schedule of
/// [`Poll`] (at once, then after `interval`, doubling up to `max_interval`); returns at the
/// first `Some`. Cancellable through the step context.
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
        interval = poll.next_interval(interval);
    }
}

/// Run `op`, and while it fails with an error for which `is_eventual` is true
/// (and less than `poll.timeout` passed), wait and run it again, on the schedule of [`Poll`].
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
                interval = poll.next_interval(interval);
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

    /// The times (since the start, in ms) at which `poll_until` called `check`, until it
    /// returned `Some` at the `stop_after`-th call.
    async fn check_times(poll: Poll, stop_after: usize) -> Vec<u128> {
        let start = Instant::now();
        let mut times = Vec::new();
        let id = ResourceId::new("test:thing", "x");
        poll_until(&ctx(), &id, "done", poll, || {
            times.push(start.elapsed().as_millis());
            let done = times.len() >= stop_after;
            async move { Ok(done.then_some(())) }
        })
        .await
        .unwrap();
        times
    }

    #[test]
    fn intervals_double_up_to_the_cap() {
        let poll = Poll::new(Duration::from_secs(60), Duration::from_secs(1))
            .with_max_interval(Duration::from_secs(5));
        let sleeps: Vec<u64> = poll.intervals().take(7).map(|d| d.as_secs()).collect();
        assert_eq!(sleeps, [1, 2, 4, 5, 5, 5, 5]);
        // `new` caps at 4x the first interval.
        let default_cap: Vec<u64> = Poll::new(Duration::from_secs(60), Duration::from_secs(2))
            .intervals()
            .take(5)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(default_cap, [2, 4, 8, 8, 8]);
        // A cap below the first interval polls at the first interval.
        let flat = Poll::new(Duration::from_secs(60), Duration::from_secs(3))
            .with_max_interval(Duration::from_secs(1));
        assert!(
            flat.intervals()
                .take(4)
                .all(|d| d == Duration::from_secs(3))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poll_until_sleeps_1_2_4_5_5_and_stops_at_the_first_some() {
        let poll = Poll::new(Duration::from_secs(60), Duration::from_secs(1))
            .with_max_interval(Duration::from_secs(5));
        // Sleeps 1, 2, 4, 5, 5 s between the checks; the 6th check sees the state and is the last.
        assert_eq!(
            check_times(poll, 6).await,
            [0, 1_000, 3_000, 7_000, 12_000, 17_000]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poll_until_honours_the_cap() {
        let poll = Poll::new(Duration::from_secs(600), Duration::from_millis(100))
            .with_max_interval(Duration::from_millis(250));
        let times = check_times(poll, 8).await;
        let gaps: Vec<u128> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, [100, 200, 250, 250, 250, 250, 250]);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_eventual_waits_on_the_same_schedule() {
        let start = Instant::now();
        let mut times = Vec::new();
        let v = retry_eventual(
            &ctx(),
            Poll::new(Duration::from_secs(60), Duration::from_secs(1))
                .with_max_interval(Duration::from_secs(5)),
            |e| matches!(e, Error::Cancelled),
            || {
                times.push(start.elapsed().as_millis());
                let attempt = times.len();
                async move {
                    if attempt < 5 {
                        Err(Error::Cancelled)
                    } else {
                        Ok(attempt)
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 5);
        assert_eq!(times, [0, 1_000, 3_000, 7_000, 12_000]);
    }
}
