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
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
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
    /// | CloudWatchLogs | 10, 10 | 5, 5 | CloudWatch Logs quotas: DescribeLogGroups 10 TPS, CreateLogGroup and PutRetentionPolicy 5 TPS |
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
        Self {
            services,
            fallback: s((50, 20.0), (20, 10.0)),
        }
    }

    /// No limits: every request goes out at once (the SDK's own behaviour).
    pub fn unlimited() -> Self {
        Self {
            services: BTreeMap::new(),
            fallback: ServiceLimits::unlimited(),
        }
    }

    /// For a local emulator: no rate limits, at most `in_flight` requests in flight per
    /// service.
    pub fn emulator(in_flight: usize) -> Self {
        Self {
            services: BTreeMap::new(),
            fallback: ServiceLimits::in_flight_only(in_flight),
        }
    }

    /// These limits for `service` (the SDK's service name, e.g. `ECS`).
    #[must_use]
    pub fn service(mut self, service: impl Into<String>, limits: ServiceLimits) -> Self {
        self.services.insert(service.into(), limits);
        self
    }

    /// The limits `service` gets.
    pub fn limits_of(&self, service: &str) -> ServiceLimits {
        self.services.get(service).copied().unwrap_or(self.fallback)
    }

    /// The limiter of `service`: share it between every client of that service that should
    /// count against the same quota.
    pub fn limiter(&self, service: &str) -> Arc<Limiter> {
        Arc::new(Limiter::new(service, self.limits_of(service)))
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
}

/// The limits of one service in force: a semaphore for requests in flight and two token
/// buckets. Made by [`RequestLimits::limiter`].
pub struct Limiter {
    service: String,
    in_flight: Option<Arc<Semaphore>>,
    read: Option<Bucket>,
    write: Option<Bucket>,
    requests: AtomicU64,
    waited: AtomicU64,
    wait_nanos: AtomicU64,
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
            requests: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
        }
    }

    fn is_unlimited(&self) -> bool {
        self.in_flight.is_none() && self.read.is_none() && self.write.is_none()
    }

    /// What this limiter did so far.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            requests: self.requests.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            wait_time: Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Wait for a token of the read or write bucket, then for a free slot.
    pub async fn acquire(&self, mutating: bool) -> Permit {
        let start = Instant::now();
        let bucket = if mutating { &self.write } else { &self.read };
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

/// A token bucket on tokio's clock.
#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new((f64::from(limit.burst), Instant::now())),
        }
    }

    /// Take one token, waiting for it when the bucket is empty; whether it waited.
    ///
    /// The token is taken at once (the balance may go below zero) and the caller sleeps
    /// until the bucket would have held it, so waiters queue in order instead of all
    /// waking for the same token.
    async fn take(&self) -> bool {
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let (tokens, last) = *state;
            let tokens = (tokens
                + now.saturating_duration_since(last).as_secs_f64() * self.limit.per_second)
                .min(f64::from(self.limit.burst));
            *state = (tokens - 1.0, now);
            (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.limit.per_second))
        };
        match wait {
            None => false,
            Some(d) => {
                tokio::time::sleep(d).await;
                true
            }
        }
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
        let mutating = request_is_mutating(&request);
        HttpConnectorFuture::new(async move {
            let _permit = limiter.acquire(mutating).await;
            inner.call(request).await
        })
    }
}

/// Whether a request's operation changes anything (see the [module docs](self)).
fn request_is_mutating(request: &HttpRequest) -> bool {
    if let Some(target) = request.headers().get("x-amz-target") {
        let op = target.rsplit('.').next().unwrap_or(target);
        return crate::calls::is_mutating(op);
    }
    if let Some(op) = request.body().bytes().and_then(query_action) {
        return crate::calls::is_mutating(op);
    }
    !matches!(request.method(), "GET" | "HEAD")
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
        assert!(!request_is_mutating(&json("DescribeServices")));
        assert!(request_is_mutating(&json("CreateService")));
        assert!(!request_is_mutating(&req(
            "POST",
            None,
            "Action=DescribeVpcs&Version=2016-11-15"
        )));
        assert!(request_is_mutating(&req(
            "POST",
            None,
            "Version=2016-11-15&Action=CreateVpc"
        )));
        assert!(!request_is_mutating(&req("GET", None, "")));
        assert!(request_is_mutating(&req("PUT", None, "{}")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_lets_the_burst_through_then_paces_to_its_rate() {
        let limiter = Limiter::new(
            "ECS",
            ServiceLimits::new(100, RateLimit::new(5, 10.0), RateLimit::new(1, 1.0)),
        );
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire(false).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the burst goes out at once"
        );
        for _ in 0..10 {
            limiter.acquire(false).await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(990) && elapsed <= Duration::from_millis(1010),
            "10 more reads at 10/s take 1 s, took {elapsed:?}"
        );
        // Writes have their own bucket: one token, then one per second.
        let before = Instant::now();
        limiter.acquire(true).await;
        limiter.acquire(true).await;
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
                let _p = l.acquire(true).await;
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
                let _permit = l.acquire(false).await;
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
