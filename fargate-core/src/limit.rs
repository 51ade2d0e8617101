//! Client-side request limits per AWS service: a bound on the requests in flight and token
//! buckets (burst, refill per second) for reads and for writes, so that an environment of
//! hundreds of apps observes and applies without a storm of throttling answers and retries.
//!
//! AWS throttles each account per region with token buckets: a request takes a token, the
//! bucket refills at a steady rate, and a request that finds it empty gets a
//! `ThrottlingException`. Sending what the bucket allows instead of everything at once costs
//! nothing when there is little to do (the burst covers it) and avoids the retries (and their
//! backoff) when there is much. [`RequestLimits::aws`] holds the defaults; every number says
//! where it comes from.
//!
//! The buckets adapt: when AWS still throttles (its real quota is lower, or another tool
//! spends the same account's tokens), the answer halves that bucket's refill rate, and each
//! answer that is not a throttle gives back a tenth of the configured rate. Throttled
//! requests are retried by the SDK's own retry strategy, as every other transient error.
//!
//! The limits sit in the HTTP layer of each SDK client ([`RequestLimits::sdk_config`] wraps the
//! config's HTTP client), so every request of every call counts, retries included, whatever
//! code makes it. A request is a *read* when its operation is read-only
//! ([`crate::calls::is_mutating`]): the operation is taken from the `X-Amz-Target` header
//! (JSON protocols), the `Action=` form field (query protocols) or, for REST protocols, the
//! HTTP method (`GET`/`HEAD` read).
//!
//! ```
//! use fargate_core::limit::{RateLimit, RequestLimits, ServiceLimits};
//! // AWS's defaults, with SSM writes allowed at 10 per second (a raised quota).
//! let limits = RequestLimits::aws().service(
//!     "SSM",
//!     ServiceLimits::new(16, RateLimit::new(40, 40.0), RateLimit::new(10, 10.0)),
//! );
//! assert_eq!(limits.limits_of("SSM").write, Some(RateLimit::new(10, 10.0)));
//! // No limits at all (a local emulator that answers as fast as it can).
//! let none = RequestLimits::unlimited();
//! assert_eq!(none.limits_of("ECS").in_flight, None);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_types::SdkConfig;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// A token bucket: up to `burst` requests at once, then `per_second` on average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// The bucket's size: how many requests may go out back to back.
    pub burst: u32,
    /// How many tokens the bucket gains per second.
    pub per_second: f64,
}

impl RateLimit {
    /// A bucket of `burst` tokens refilled at `per_second` (both at least 1 and 0.1).
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self {
            burst: burst.max(1),
            per_second: if per_second.is_finite() {
                per_second.max(0.1)
            } else {
                f64::MAX
            },
        }
    }
}

/// The limits of one AWS service's requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceLimits {
    /// At most this many requests in flight at once (`None`: no bound).
    pub in_flight: Option<usize>,
    /// The bucket read-only requests take from (`None`: no rate limit).
    pub read: Option<RateLimit>,
    /// The bucket every other request takes from (`None`: no rate limit).
    pub write: Option<RateLimit>,
}

impl ServiceLimits {
    /// `in_flight` requests at most, reads and writes paced by their buckets.
    pub fn new(in_flight: usize, read: RateLimit, write: RateLimit) -> Self {
        Self {
            in_flight: Some(in_flight.max(1)),
            read: Some(read),
            write: Some(write),
        }
    }

    /// No limit of any kind.
    pub const fn unlimited() -> Self {
        Self {
            in_flight: None,
            read: None,
            write: None,
        }
    }

    /// Only a bound on the requests in flight, no rate limit (for an emulator).
    pub fn in_flight_only(in_flight: usize) -> Self {
        Self {
            in_flight: Some(in_flight.max(1)),
            read: None,
            write: None,
        }
    }
}

/// The request limits of every AWS service, by the service name the SDK gives it (as in
/// [`crate::CallRecord::service`]: `ECS`, `EC2`, `ElasticLoadBalancingv2`, `IAM`,
/// `CloudWatchLogs`, `Scheduler`, `ApplicationAutoScaling`, `SSM`, `SecretsManager`, `ECR`,
/// `ApiGatewayV2`, `STS`). See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLimits {
    services: BTreeMap<String, ServiceLimits>,
    fallback: ServiceLimits,
    /// Operations with a quota of their own, by service and operation name: their requests
    /// take from this bucket instead of the service's read or write bucket.
    operations: BTreeMap<(String, String), RateLimit>,
}

/// Requests in flight per service by default: the SDK's HTTP client keeps a connection per
/// request in flight, and more than a few dozen connections to one endpoint buy nothing
/// (measured: a moto server resets connections with 700-900 requests in flight).
pub const DEFAULT_IN_FLIGHT: usize = 16;

impl Default for RequestLimits {
    fn default() -> Self {
        Self::aws()
    }
}

impl RequestLimits {
    /// AWS's default quotas per account and region (what a [`crate`] user gets unless told
    /// otherwise), at most [`DEFAULT_IN_FLIGHT`] requests in flight per service:
    ///
    /// | service | reads (burst, per s) | writes (burst, per s) | source |
    /// |---|---|---|---|
    /// | ECS | 50, 20 | 50, 20 | ECS API reference "Request throttling": cluster read actions bucket 50, refill 20 (the other categories are at least as large; writes assumed alike) |
    /// | EC2 | 100, 20 | 200, 5 | EC2 API reference "Request throttling": non-mutating 100/20, mutating 200/5 |
    /// | CloudWatchLogs | 10, 10 | 5, 5 | CloudWatch Logs quotas: DescribeLogGroups 10 TPS; CreateLogGroup and PutRetentionPolicy 5 TPS each, so each of those two has a bucket of its own (5, 5) |
    /// | SSM | 40, 40 | 3, 3 | SSM quotas: GetParameter 40 TPS, PutParameter 3 TPS (default throughput) |
    /// | ElasticLoadBalancingv2 | 40, 20 | 20, 10 | not published by AWS; conservative |
    /// | IAM | 20, 10 | 20, 10 | not published per action; conservative |
    /// | ApiGatewayV2 | 10, 10 | 10, 5 | API Gateway control-plane quotas (low, per account) |
    /// | others | 50, 20 | 20, 10 | conservative |
    ///
    /// These pace the requests the library sends; AWS may still throttle when other tools of
    /// the account use the same quota, and then the SDK's retry configuration applies.
    pub fn aws() -> Self {
        let s = |reads: (u32, f64), writes: (u32, f64)| {
            ServiceLimits::new(
                DEFAULT_IN_FLIGHT,
                RateLimit::new(reads.0, reads.1),
                RateLimit::new(writes.0, writes.1),
            )
        };
        let services = [
            ("ECS", s((50, 20.0), (50, 20.0))),
            ("EC2", s((100, 20.0), (200, 5.0))),
            ("CloudWatchLogs", s((10, 10.0), (5, 5.0))),
            ("SSM", s((40, 40.0), (3, 3.0))),
            ("ElasticLoadBalancingv2", s((40, 20.0), (20, 10.0))),
            ("IAM", s((20, 10.0), (20, 10.0))),
            ("ApiGatewayV2", s((10, 10.0), (10, 5.0))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let operations = [
            ("CloudWatchLogs", "CreateLogGroup", RateLimit::new(5, 5.0)),
            (
                "CloudWatchLogs",
                "PutRetentionPolicy",
                RateLimit::new(5, 5.0),
            ),
        ]
        .into_iter()
        .map(|(service, op, limit)| ((service.to_string(), op.to_string()), limit))
        .collect();
        Self {
            services,
            fallback: s((50, 20.0), (20, 10.0)),
            operations,
        }
    }

    /// No limits: every request goes out at once (the SDK's own behaviour).
    pub fn unlimited() -> Self {
        Self {
            services: BTreeMap::new(),
            fallback: ServiceLimits::unlimited(),
            operations: BTreeMap::new(),
        }
    }

    /// For a local emulator: no rate limits, at most `in_flight` requests in flight per
    /// service.
    pub fn emulator(in_flight: usize) -> Self {
        Self {
            services: BTreeMap::new(),
            fallback: ServiceLimits::in_flight_only(in_flight),
            operations: BTreeMap::new(),
        }
    }

    /// These limits for `service` (the SDK's service name, e.g. `ECS`), replacing its
    /// defaults, the buckets of its single operations included.
    #[must_use]
    pub fn service(mut self, service: impl Into<String>, limits: ServiceLimits) -> Self {
        let service = service.into();
        self.operations.retain(|(s, _), _| *s != service);
        self.services.insert(service, limits);
        self
    }

    /// A bucket of its own for one operation of `service` (AWS quotas some operations
    /// separately, e.g. CloudWatch Logs' `CreateLogGroup`): its requests take from it
    /// instead of the service's read or write bucket; the in-flight bound still applies.
    ///
    /// ```
    /// use fargate_core::limit::{RateLimit, RequestLimits};
    /// let limits = RequestLimits::aws().operation("SSM", "GetParametersByPath", RateLimit::new(20, 20.0));
    /// assert_eq!(limits.limit_of_operation("SSM", "GetParametersByPath"), Some(RateLimit::new(20, 20.0)));
    /// assert_eq!(limits.limit_of_operation("CloudWatchLogs", "CreateLogGroup"), Some(RateLimit::new(5, 5.0)));
    /// ```
    #[must_use]
    pub fn operation(
        mut self,
        service: impl Into<String>,
        operation: impl Into<String>,
        limit: RateLimit,
    ) -> Self {
        self.operations
            .insert((service.into(), operation.into()), limit);
        self
    }

    /// Every bucket's burst and rate multiplied by `factor` (the in-flight bounds unchanged):
    /// an account whose quotas were raised alike, or a test that wants AWS's shape at a faster
    /// pace. A factor that is not a positive finite number leaves the limits as they are.
    ///
    /// ```
    /// use fargate_core::limit::{RateLimit, RequestLimits};
    /// let limits = RequestLimits::aws().scaled(2.0);
    /// assert_eq!(limits.limits_of("SSM").write, Some(RateLimit::new(6, 6.0)));
    /// assert_eq!(limits.limit_of_operation("CloudWatchLogs", "CreateLogGroup"), Some(RateLimit::new(10, 10.0)));
    /// ```
    #[must_use]
    pub fn scaled(mut self, factor: f64) -> Self {
        if !(factor.is_finite() && factor > 0.0) {
            return self;
        }
        let scale = |r: RateLimit| {
            // Bursts are whole requests: rounded, at least 1 (RateLimit::new's floor).
            let burst = (f64::from(r.burst) * factor)
                .round()
                .min(f64::from(u32::MAX));
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            RateLimit::new(burst as u32, r.per_second * factor)
        };
        let scale_service = |l: ServiceLimits| ServiceLimits {
            in_flight: l.in_flight,
            read: l.read.map(scale),
            write: l.write.map(scale),
        };
        for limits in self.services.values_mut() {
            *limits = scale_service(*limits);
        }
        self.fallback = scale_service(self.fallback);
        for limit in self.operations.values_mut() {
            *limit = scale(*limit);
        }
        self
    }

    /// The bucket of one operation, when it has one of its own.
    pub fn limit_of_operation(&self, service: &str, operation: &str) -> Option<RateLimit> {
        self.operations
            .get(&(service.to_string(), operation.to_string()))
            .copied()
    }

    /// The limits `service` gets.
    pub fn limits_of(&self, service: &str) -> ServiceLimits {
        self.services.get(service).copied().unwrap_or(self.fallback)
    }

    /// The limiter of `service`: share it between every client of that service that should
    /// count against the same quota.
    pub fn limiter(&self, service: &str) -> Arc<Limiter> {
        let operations = self
            .operations
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|((_, op), limit)| (op.clone(), *limit));
        Arc::new(Limiter::new(service, self.limits_of(service)).with_operations(operations))
    }

    /// `sdk` with its HTTP client wrapped in `limiter` (the config's own client, or the SDK's
    /// default HTTPS client when it has none). Build the service client from the result.
    pub fn sdk_config(sdk: &SdkConfig, limiter: &Arc<Limiter>) -> SdkConfig {
        if limiter.is_unlimited() {
            return sdk.clone();
        }
        let inner = sdk.http_client().unwrap_or_else(default_https_client);
        // The SDK times a request's upload around the HTTP client's call, so a request
        // waiting here for its permit would count as a stalled upload: upload stall
        // protection is off for limited clients (download protection stays on).
        let stall = aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
            .upload_enabled(false)
            .build();
        sdk.to_builder()
            .stalled_stream_protection(stall)
            .http_client(LimitedHttpClient {
                inner,
                limiter: Arc::clone(limiter),
            })
            .build()
    }
}

/// The HTTPS client the SDK builds when a config has none: hyper 1 with rustls on aws-lc,
/// proxies from the environment (`HTTPS_PROXY`, `NO_PROXY`).
fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

/// What a [`Limiter`] did: how many requests waited and for how long in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Requests that went through.
    pub requests: u64,
    /// Requests that had to wait for a token or a free slot.
    pub waited: u64,
    /// The time they waited, summed.
    pub wait_time: Duration,
    /// Answers that were AWS throttling a request (each one slowed its bucket down).
    pub throttled: u64,
}

/// The limits of one service in force: a semaphore for requests in flight and two token
/// buckets. Made by [`RequestLimits::limiter`].
pub struct Limiter {
    service: String,
    in_flight: Option<Arc<Semaphore>>,
    read: Option<Bucket>,
    write: Option<Bucket>,
    /// Operations with a bucket of their own.
    operations: BTreeMap<String, Bucket>,
    requests: AtomicU64,
    waited: AtomicU64,
    wait_nanos: AtomicU64,
    throttled: AtomicU64,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("service", &self.service)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A permit to send one request; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Limiter {
    /// A limiter of `service` with these limits.
    pub fn new(service: &str, limits: ServiceLimits) -> Self {
        Self {
            service: service.to_string(),
            in_flight: limits.in_flight.map(|n| Arc::new(Semaphore::new(n))),
            read: limits.read.map(Bucket::new),
            write: limits.write.map(Bucket::new),
            operations: BTreeMap::new(),
            requests: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// These operations take from buckets of their own.
    #[must_use]
    pub fn with_operations(
        mut self,
        operations: impl IntoIterator<Item = (String, RateLimit)>,
    ) -> Self {
        self.operations.extend(
            operations
                .into_iter()
                .map(|(op, limit)| (op, Bucket::new(limit))),
        );
        self
    }

    fn is_unlimited(&self) -> bool {
        self.in_flight.is_none()
            && self.read.is_none()
            && self.write.is_none()
            && self.operations.is_empty()
    }

    /// The bucket a request of `operation` takes from.
    fn bucket(&self, operation: Option<&str>, mutating: bool) -> Option<&Bucket> {
        if let Some(b) = operation.and_then(|op| self.operations.get(op)) {
            return Some(b);
        }
        if mutating {
            self.write.as_ref()
        } else {
            self.read.as_ref()
        }
    }

    /// What this limiter did so far.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            requests: self.requests.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            wait_time: Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }

    /// Feed back AWS's answer to a request: a throttling answer slows the request's bucket
    /// down, any other answer lets it recover toward its configured rate (see the module
    /// docs). The HTTP layer calls it for every answer; call it yourself only to test.
    pub fn answered(&self, operation: Option<&str>, mutating: bool, throttled: bool) {
        let bucket = self.bucket(operation, mutating);
        if throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                target: "fargate_core::limit",
                service = %self.service,
                mutating,
                "throttled by AWS: slowing down"
            );
        }
        if let Some(bucket) = bucket {
            if throttled {
                bucket.throttled();
            } else {
                bucket.answered();
            }
        }
    }

    /// The refill rates in force now (reads, writes), per second; `None` where unlimited.
    pub fn rates(&self) -> (Option<f64>, Option<f64>) {
        (
            self.read.as_ref().map(Bucket::rate),
            self.write.as_ref().map(Bucket::rate),
        )
    }

    /// Wait for a token (of the operation's own bucket, else of the read or write bucket),
    /// then for a free slot.
    pub async fn acquire(&self, operation: Option<&str>, mutating: bool) -> Permit {
        let start = Instant::now();
        let bucket = self.bucket(operation, mutating);
        let mut waited = false;
        if let Some(bucket) = bucket {
            waited |= bucket.take().await;
        }
        let slot = match &self.in_flight {
            Some(sem) => match Arc::clone(sem).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    waited = true;
                    Arc::clone(sem).acquire_owned().await.ok()
                }
            },
            None => None,
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        if waited {
            let waited_for = start.elapsed();
            self.waited.fetch_add(1, Ordering::Relaxed);
            self.wait_nanos.fetch_add(
                u64::try_from(waited_for.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            tracing::trace!(
                target: "fargate_core::limit",
                service = %self.service,
                mutating,
                waited_ms = waited_for.as_millis() as u64,
                "request paced"
            );
        }
        Permit { _slot: slot }
    }
}

/// A token bucket on tokio's clock whose refill rate adapts: a throttling answer halves it
/// (down to a sixteenth of the configured rate) and empties the bucket, and every answer
/// that is not a throttle adds back a tenth of the configured rate, up to the configured rate
/// (additive increase, multiplicative decrease). So when AWS's real quota is lower than the
/// configured one (another tool shares the account), the library slows down to what AWS
/// lets through instead of spending its retries.
#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    state: Mutex<BucketState>,
}

#[derive(Debug, Clone, Copy)]
struct BucketState {
    tokens: f64,
    last: Instant,
    /// The refill rate in force (at most `limit.per_second`).
    rate: f64,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(BucketState {
                tokens: f64::from(limit.burst),
                last: Instant::now(),
                rate: limit.per_second,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the balance up to now at the rate in force.
    fn refill(&self, state: &mut BucketState, now: Instant) {
        state.tokens = (state.tokens
            + now.saturating_duration_since(state.last).as_secs_f64() * state.rate)
            .min(f64::from(self.limit.burst));
        state.last = now;
    }

    /// Take one token, waiting for it when the bucket is empty; whether it waited.
    ///
    /// The token is taken at once (the balance may go below zero) and the caller sleeps
    /// until the bucket would have held it, so waiters queue in order instead of all
    /// waking for the same token.
    async fn take(&self) -> bool {
        let wait = {
            let mut state = self.lock();
            self.refill(&mut state, Instant::now());
            let tokens = state.tokens;
            state.tokens -= 1.0;
            (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / state.rate))
        };
        match wait {
            None => false,
            Some(d) => {
                tokio::time::sleep(d).await;
                true
            }
        }
    }

    /// AWS answered a request of this bucket with a throttling error.
    fn throttled(&self) {
        let mut state = self.lock();
        self.refill(&mut state, Instant::now());
        state.rate = (state.rate / 2.0).max(self.limit.per_second / 16.0);
        state.tokens = state.tokens.min(0.0);
    }

    /// AWS answered a request of this bucket without throttling it.
    fn answered(&self) {
        let mut state = self.lock();
        if state.rate < self.limit.per_second {
            self.refill(&mut state, Instant::now());
            state.rate = (state.rate + self.limit.per_second / 10.0).min(self.limit.per_second);
        }
    }

    /// The refill rate in force.
    fn rate(&self) -> f64 {
        self.lock().rate
    }
}

/// Whether an HTTP answer is AWS throttling the caller: 429, 503 (EC2's
/// `RequestLimitExceeded`, S3's `SlowDown`), or an error type header naming a throttling
/// code (JSON protocols send `x-amzn-ErrorType`, for example `ThrottlingException`).
fn is_throttling(response: &HttpResponse) -> bool {
    const CODES: [&str; 10] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    ];
    match response.status().as_u16() {
        429 | 503 => true,
        400 => response
            .headers()
            .get("x-amzn-errortype")
            .map(|t| t.split(':').next().unwrap_or(t).trim())
            .is_some_and(|code| CODES.contains(&code)),
        _ => false,
    }
}

/// An HTTP client whose requests go through a [`Limiter`].
#[derive(Debug)]
struct LimitedHttpClient {
    inner: SharedHttpClient,
    limiter: Arc<Limiter>,
}

impl HttpClient for LimitedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: Arc::clone(&self.limiter),
        }
        .into_shared()
    }

    fn validate_base_client_config(
        &self,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limiter = Arc::clone(&self.limiter);
        let operation = request_operation(&request).map(str::to_string);
        let mutating = request_is_mutating(&request, operation.as_deref());
        HttpConnectorFuture::new(async move {
            let op = operation.as_deref();
            let _permit = limiter.acquire(op, mutating).await;
            let result = inner.call(request).await;
            if let Ok(response) = &result {
                limiter.answered(op, mutating, is_throttling(response));
            }
            result
        })
    }
}

/// A request's operation: from the `X-Amz-Target` header (JSON protocols) or the `Action=`
/// field (query protocols); `None` for REST protocols.
fn request_operation(request: &HttpRequest) -> Option<&str> {
    if let Some(target) = request.headers().get("x-amz-target") {
        return Some(target.rsplit('.').next().unwrap_or(target));
    }
    request.body().bytes().and_then(query_action)
}

/// Whether a request of `operation` (its [`request_operation`]) changes anything (see the
/// [module docs](self)): by the operation's name, else by the HTTP method (REST protocols).
fn request_is_mutating(request: &HttpRequest, operation: Option<&str>) -> bool {
    match operation {
        Some(op) => crate::calls::is_mutating(op),
        None => !matches!(request.method(), "GET" | "HEAD"),
    }
}

/// The `Action=` field of a query-protocol (form-encoded) body.
fn query_action(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|op| !op.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_classified_from_target_header_action_field_or_method() {
        let mutating = |r: &HttpRequest| request_is_mutating(r, request_operation(r));
        let req = |method: &str, target: Option<&str>, body: &'static str| {
            let mut r = HttpRequest::new(aws_smithy_types::body::SdkBody::from(body));
            r.set_method(method).ok();
            if let Some(t) = target {
                r.headers_mut().insert("x-amz-target", t.to_string());
            }
            r
        };
        let json = |op: &str| {
            req(
                "POST",
                Some(&format!("AmazonEC2ContainerServiceV20141113.{op}")),
                "{}",
            )
        };
        assert!(!mutating(&json("DescribeServices")));
        assert!(mutating(&json("CreateService")));
        assert!(!mutating(&req(
            "POST",
            None,
            "Action=DescribeVpcs&Version=2016-11-15"
        )));
        assert!(mutating(&req(
            "POST",
            None,
            "Version=2016-11-15&Action=CreateVpc"
        )));
        assert!(!mutating(&req("GET", None, "")));
        assert!(mutating(&req("PUT", None, "{}")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_lets_the_burst_through_then_paces_to_its_rate() {
        let limiter = Limiter::new(
            "ECS",
            ServiceLimits::new(100, RateLimit::new(5, 10.0), RateLimit::new(1, 1.0)),
        );
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire(None, false).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the burst goes out at once"
        );
        for _ in 0..10 {
            limiter.acquire(None, false).await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(990) && elapsed <= Duration::from_millis(1010),
            "10 more reads at 10/s take 1 s, took {elapsed:?}"
        );
        // Writes have their own bucket: one token, then one per second.
        let before = Instant::now();
        limiter.acquire(None, true).await;
        limiter.acquire(None, true).await;
        let w = before.elapsed();
        assert!(
            w >= Duration::from_millis(990) && w <= Duration::from_millis(1010),
            "{w:?}"
        );
        let stats = limiter.stats();
        assert_eq!(stats.requests, 17);
        assert_eq!(stats.waited, 11);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_paced_not_released_together() {
        let limiter = Arc::new(Limiter::new(
            "SSM",
            ServiceLimits::new(100, RateLimit::new(1, 1.0), RateLimit::new(1, 4.0)),
        ));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..9 {
            let l = Arc::clone(&limiter);
            handles.push(tokio::spawn(async move {
                let _p = l.acquire(None, true).await;
                start.elapsed()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap_or_default());
        }
        times.sort();
        // 1 token at once, then 4 per second: the ninth goes at 2 s.
        assert_eq!(times[0], Duration::ZERO);
        let last = times[8];
        assert!(
            last >= Duration::from_millis(1990) && last <= Duration::from_millis(2010),
            "{times:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_are_bounded() {
        let limiter = Arc::new(Limiter::new("EC2", ServiceLimits::in_flight_only(3)));
        let running = Arc::new(AtomicU64::new(0));
        let peak = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for _ in 0..20 {
            let (l, r, p) = (
                Arc::clone(&limiter),
                Arc::clone(&running),
                Arc::clone(&peak),
            );
            handles.push(tokio::spawn(async move {
                let _permit = l.acquire(None, false).await;
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                r.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for h in handles {
            h.await.ok();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttling_answer_halves_the_rate_and_answers_recover_it() {
        let limiter = Limiter::new(
            "ECS",
            ServiceLimits::new(100, RateLimit::new(1, 8.0), RateLimit::new(1, 8.0)),
        );
        limiter.answered(None, false, true);
        assert_eq!(limiter.rates(), (Some(4.0), Some(8.0)), "only reads slowed");
        // The bucket was emptied: the next read waits a whole token at 4 per s.
        let start = Instant::now();
        limiter.acquire(None, false).await;
        limiter.acquire(None, false).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(490) && waited <= Duration::from_millis(510),
            "two reads at 4/s from an empty bucket take 0.5 s, took {waited:?}"
        );
        for _ in 0..10 {
            limiter.answered(None, false, true);
        }
        assert_eq!(limiter.rates().0, Some(0.5), "never below a sixteenth");
        for _ in 0..100 {
            limiter.answered(None, false, false);
        }
        assert_eq!(
            limiter.rates().0,
            Some(8.0),
            "recovered, never above the limit"
        );
        assert_eq!(limiter.stats().throttled, 11);
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_with_its_own_quota_has_its_own_bucket() {
        let limits = RequestLimits::aws();
        let logs = limits.limiter("CloudWatchLogs");
        let start = Instant::now();
        // CreateLogGroup and PutRetentionPolicy: 5 each at once, not 5 in all.
        for _ in 0..5 {
            logs.acquire(Some("CreateLogGroup"), true).await;
            logs.acquire(Some("PutRetentionPolicy"), true).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The sixth CreateLogGroup waits a fifth of a second; other writes did not spend it.
        logs.acquire(Some("CreateLogGroup"), true).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(190) && waited <= Duration::from_millis(210),
            "{waited:?}"
        );
        let before = Instant::now();
        for _ in 0..5 {
            logs.acquire(Some("DeleteLogGroup"), true).await;
        }
        assert_eq!(
            before.elapsed(),
            Duration::ZERO,
            "the service's write bucket is untouched"
        );
        // Replacing a service's limits drops its operation buckets.
        let replaced = RequestLimits::aws().service("CloudWatchLogs", ServiceLimits::unlimited());
        assert_eq!(
            replaced.limit_of_operation("CloudWatchLogs", "CreateLogGroup"),
            None
        );
        assert!(replaced.limiter("CloudWatchLogs").is_unlimited());
    }

    #[test]
    fn throttling_answers_are_told_from_other_errors() {
        let answer = |status: u16, error_type: Option<&str>| {
            let mut r = HttpResponse::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            );
            if let Some(t) = error_type {
                r.headers_mut().insert("x-amzn-errortype", t.to_string());
            }
            r
        };
        assert!(is_throttling(&answer(429, None)));
        assert!(is_throttling(&answer(503, None)));
        assert!(is_throttling(&answer(400, Some("ThrottlingException"))));
        assert!(is_throttling(&answer(
            400,
            Some(
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
            )
        )));
        assert!(!is_throttling(&answer(
            400,
            Some("ClusterNotFoundException")
        )));
        assert!(!is_throttling(&answer(400, Some("LimitExceededException"))));
        assert!(!is_throttling(&answer(400, None)));
        assert!(!is_throttling(&answer(200, None)));
        assert!(!is_throttling(&answer(500, None)));
    }

    #[test]
    fn unlimited_limits_leave_the_config_alone_and_defaults_name_their_services() {
        let sdk = SdkConfig::builder().build();
        let limiter = RequestLimits::unlimited().limiter("ECS");
        let same = RequestLimits::sdk_config(&sdk, &limiter);
        assert!(same.http_client().is_none());
        let limited = RequestLimits::sdk_config(&sdk, &RequestLimits::aws().limiter("ECS"));
        assert!(limited.http_client().is_some());
        let aws = RequestLimits::aws();
        assert_eq!(aws.limits_of("SSM").write, Some(RateLimit::new(3, 3.0)));
        assert_eq!(aws.limits_of("ECS").read, Some(RateLimit::new(50, 20.0)));
        assert_eq!(aws.limits_of("Unknown").in_flight, Some(DEFAULT_IN_FLIGHT));
    }
}
