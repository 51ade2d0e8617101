//! A deterministic fault-injection layer between the SDK clients and moto: lost replies,
//! crashes and throttling, per operation and call, with counters of what it injected.
//!
//! Start with [`Faults::new`], then give a test context the faults with
//! [`TestContext::with_faults`](crate::TestContext::with_faults): every client made from that
//! context (and every client a library builds from its [`sdk_config`](crate::TestContext::sdk_config)
//! and [`interceptors`](crate::TestContext::interceptors)) goes through the layer.
//!
//! ```no_run
//! # async fn example() {
//! use fargate_testkit::Faults;
//! let faults = Faults::new()
//!     .lose_reply("EC2.CreateSubnet", 1) // the 1st CreateSubnet is applied, its reply lost
//!     .throttle_percent(30, 7); // 30 % of all attempts throttled, decided by seed 7
//! let ctx = fargate_testkit::context().await.with_faults(&faults);
//! // ... run an apply with ctx ...
//! assert_eq!(faults.counts().lost_replies, 1);
//! # }
//! ```
//!
//! How it works: an interceptor names every attempt (`Service.Operation`, the call's index
//! among the calls of that operation since the faults were made, from 1, and the attempt
//! number) in request headers; the HTTP client wrapper reads and removes them and decides:
//!
//! - **throttled** attempts are answered at once, without reaching moto, with the service's
//!   throttling error in its protocol's shape (`RequestLimitExceeded` for EC2, `Throttling`
//!   for the query protocols, `ThrottlingException` for JSON, `TooManyRequestsException` for
//!   API Gateway), which the SDK retries;
//! - a **lost reply** sends the request to moto (it is applied), then answers the SDK with a
//!   connection error, which the SDK retries;
//! - a **crash** sends the request to moto (it is applied), then answers a non-retryable
//!   error (`InjectedCrash`), as if the deploying process had died right after the call;
//! - **idempotency tokens are honoured as AWS does** (moto ignores them): when the request
//!   whose reply was lost carried a `ClientToken`/`clientToken`, a later request of the same
//!   operation with the same token gets the stored reply without reaching moto. A retry that
//!   sent another token (or none) is forwarded and meets whatever the first one did.
//!   Likewise for the creates AWS documents as idempotent for identical requests and moto
//!   does not ([`IDENTICAL_REQUEST_IDEMPOTENT`]): an identical retry gets the stored reply.
//!
//! Decisions depend only on the seed, the operation, the call index and the attempt, not on
//! timing, so a run is reproducible.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Operations that AWS answers with the existing resource when the same request is sent
/// again ("If you attempt to create multiple load balancers with the same name and
/// settings, each call succeeds"; the same for listeners, in the ELB API reference), which
/// moto instead creates twice.
pub const IDENTICAL_REQUEST_IDEMPOTENT: &[&str] = &[
    "ElasticLoadBalancingv2.CreateLoadBalancer",
    "ElasticLoadBalancingv2.CreateListener",
];

const OP_HEADER: &str = "x-fargate-fault-op";
const CALL_HEADER: &str = "x-fargate-fault-call";
const ATTEMPT_HEADER: &str = "x-fargate-fault-attempt";

/// What to do to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Forward the request (it is applied), then answer a connection error (the SDK retries).
    LoseReply,
    /// Forward the request (it is applied), then answer a non-retryable error.
    Crash,
}

/// One fault the layer injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// `Service.Operation`, e.g. `EC2.CreateSubnet`.
    pub operation: String,
    /// The call's index among the calls of that operation, from 1.
    pub call: usize,
    /// The attempt of that call, from 1.
    pub attempt: u32,
    /// What was done.
    pub what: Injection,
}

/// What the layer did to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Injection {
    /// Answered with a throttling error, not forwarded.
    Throttled,
    /// Forwarded, reply replaced by a connection error.
    LostReply,
    /// Forwarded, reply replaced by a non-retryable error.
    Crashed,
    /// Answered with the stored reply of an earlier request with the same idempotency token.
    Replayed,
}

/// How many faults of each kind were injected; see [`Faults::counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Attempts answered with a throttling error.
    pub throttled: usize,
    /// Calls whose reply was lost.
    pub lost_replies: usize,
    /// Calls answered with the injected crash.
    pub crashes: usize,
    /// Retries answered from an idempotency token's stored reply.
    pub replayed: usize,
}

/// A reply kept for an idempotency token.
#[derive(Clone)]
struct StoredReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Default)]
struct State {
    planned: HashMap<(String, usize), FaultKind>,
    fired: HashSet<(String, usize)>,
    throttle: Option<(u8, u64)>,
    calls: HashMap<String, usize>,
    injected: Vec<Injected>,
    replies: HashMap<(String, String), StoredReply>,
}

/// The fault plan and what was injected; see the [module docs](self). Cheap to clone (clones
/// share the plan and the counters).
#[derive(Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl Faults {
    /// No faults yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `call`th call (from 1) of `operation` (`Service.Operation`, as
    /// [`CallRecord::name`](fargate_core::CallRecord::name) writes it) is applied by moto but
    /// its reply is lost: the SDK sees a connection error and retries.
    #[must_use]
    pub fn lose_reply(self, operation: &str, call: usize) -> Self {
        self.plan(operation, call, FaultKind::LoseReply)
    }

    /// The `call`th call of `operation` is applied by moto, then answered with a
    /// non-retryable error: the apply stops there, as if the process died.
    #[must_use]
    pub fn crash(self, operation: &str, call: usize) -> Self {
        self.plan(operation, call, FaultKind::Crash)
    }

    /// Plan `kind` for the `call`th call of `operation`.
    #[must_use]
    pub fn plan(self, operation: &str, call: usize, kind: FaultKind) -> Self {
        self.state()
            .planned
            .insert((operation.to_string(), call), kind);
        self
    }

    /// Throttle `percent` % of all attempts (of every operation), chosen by `seed`.
    #[must_use]
    pub fn throttle_percent(self, percent: u8, seed: u64) -> Self {
        self.state().throttle = Some((percent.min(100), seed));
        self
    }

    /// Every fault injected so far, in order.
    pub fn injected(&self) -> Vec<Injected> {
        self.state().injected.clone()
    }

    /// How many faults of each kind were injected so far.
    pub fn counts(&self) -> FaultCounts {
        let mut c = FaultCounts::default();
        for i in &self.state().injected {
            match i.what {
                Injection::Throttled => c.throttled += 1,
                Injection::LostReply => c.lost_replies += 1,
                Injection::Crashed => c.crashes += 1,
                Injection::Replayed => c.replayed += 1,
            }
        }
        c
    }

    /// The interceptor that names each attempt for the layer; put it on every client (with
    /// [`Faults::http_client`] as the client's HTTP client).
    pub fn interceptor(&self) -> FaultTagger {
        FaultTagger {
            faults: self.clone(),
        }
    }

    /// A plain HTTP client (moto listens on loopback, without TLS) wrapped by the layer.
    pub fn http_client(&self) -> SharedHttpClient {
        self.wrap(aws_smithy_http_client::Builder::new().build_http())
    }

    /// `inner` wrapped by the layer.
    pub fn wrap(&self, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(FaultyClient {
            inner,
            faults: self.clone(),
        })
    }

    fn next_call(&self, operation: &str) -> usize {
        let mut state = self.state();
        let n = state.calls.entry(operation.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    fn record(&self, operation: &str, call: usize, attempt: u32, what: Injection) {
        tracing::info!(operation, call, attempt, ?what, "fault injected");
        self.state().injected.push(Injected {
            operation: operation.to_string(),
            call,
            attempt,
            what,
        });
    }

    fn throttled(&self, operation: &str, call: usize, attempt: u32) -> bool {
        let Some((percent, seed)) = self.state().throttle else {
            return false;
        };
        let mut h = Fnv::default();
        (seed, operation, call, attempt).hash(&mut h);
        splitmix(h.0) % 100 < u64::from(percent)
    }

    /// The planned fault of this call, once (its first forwarded attempt).
    fn take_planned(&self, operation: &str, call: usize) -> Option<FaultKind> {
        let mut state = self.state();
        let key = (operation.to_string(), call);
        let kind = *state.planned.get(&key)?;
        state.fired.insert(key).then_some(kind)
    }
}

/// FNV-1a, stable across runs and platforms (unlike `DefaultHasher`'s random keys).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The call index of one execution, kept across its attempts.
#[derive(Debug, Clone)]
struct CallIndex(usize);

impl Storable for CallIndex {
    type Storer = StoreReplace<Self>;
}

/// The interceptor half of the layer ([`Faults::interceptor`]).
#[derive(Debug, Clone)]
pub struct FaultTagger {
    faults: Faults,
}

impl Intercept for FaultTagger {
    fn name(&self) -> &'static str {
        "fargate_testkit::FaultTagger"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service().replace(' ', ""), m.name()),
            None => "unknown.unknown".to_string(),
        };
        let call = match cfg.load::<CallIndex>() {
            Some(CallIndex(n)) => *n,
            None => {
                let n = self.faults.next_call(&operation);
                cfg.interceptor_state().store_put(CallIndex(n));
                n
            }
        };
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let headers = context.request_mut().headers_mut();
        headers.insert(OP_HEADER, operation);
        headers.insert(CALL_HEADER, call.to_string());
        headers.insert(ATTEMPT_HEADER, attempt.to_string());
        Ok(())
    }
}

/// The HTTP client half of the layer ([`Faults::http_client`]).
#[derive(Debug)]
struct FaultyClient {
    inner: SharedHttpClient,
    faults: Faults,
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

/// Which wire protocol a service speaks, for error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Ec2,
    Query,
    Json,
    RestJson,
}

fn protocol(service: &str) -> Protocol {
    match service {
        "EC2" => Protocol::Ec2,
        "IAM" | "STS" | "ElasticLoadBalancingv2" => Protocol::Query,
        "Scheduler" | "ApiGatewayV2" => Protocol::RestJson,
        _ => Protocol::Json,
    }
}

fn throttling_code(service: &str) -> &'static str {
    match protocol(service) {
        Protocol::Ec2 => "RequestLimitExceeded",
        Protocol::Query => "Throttling",
        Protocol::Json => "ThrottlingException",
        Protocol::RestJson if service == "ApiGatewayV2" => "TooManyRequestsException",
        Protocol::RestJson => "ThrottlingException",
    }
}

/// An error answer of `service` in its protocol's shape.
fn error_response(service: &str, status: u16, code: &str, message: &str) -> HttpResponse {
    let (content_type, body) = match protocol(service) {
        Protocol::Ec2 => (
            "text/xml",
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>\
                 </Errors><RequestID>fargate-testkit-fault</RequestID></Response>"
            ),
        ),
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>fargate-testkit-fault</RequestId>\
                 </ErrorResponse>"
            ),
        ),
        Protocol::Json => (
            "application/x-amz-json-1.1",
            serde_json::json!({ "__type": code, "message": message }).to_string(),
        ),
        Protocol::RestJson => (
            "application/json",
            serde_json::json!({ "message": message }).to_string(),
        ),
    };
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap_or_else(|_| panic!("bad status {status}")),
        SdkBody::from(body),
    );
    response.headers_mut().insert("content-type", content_type);
    response
        .headers_mut()
        .insert("x-amzn-errortype", code.to_string());
    response
        .headers_mut()
        .insert("x-amzn-requestid", "fargate-testkit-fault");
    response
}

/// The idempotency token a request carries (`ClientToken=` in a form body, a
/// `clientToken`/`ClientToken` member of a JSON body).
fn client_token(request: &HttpRequest) -> Option<String> {
    let body = request.body().bytes()?;
    let text = std::str::from_utf8(body).ok()?;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        return map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("clienttoken"))
            .and_then(|(_, v)| v.as_str().map(str::to_string));
    }
    text.split('&')
        .find_map(|pair| pair.strip_prefix("ClientToken="))
        .map(str::to_string)
}

/// The key an identical request is known by: a hash of its body.
fn body_key(body: &[u8]) -> String {
    let mut h = Fnv::default();
    h.write(body);
    format!("body:{:016x}", h.finish())
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request.headers().get(name).map(str::to_string)
}

fn stored_response(reply: &StoredReply) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(reply.status).unwrap_or_else(|_| panic!("bad status")),
        SdkBody::from(reply.body.clone()),
    );
    for (k, v) in &reply.headers {
        response.headers_mut().append(k.clone(), v.clone());
    }
    response
}

async fn buffer(response: HttpResponse) -> Result<StoredReply, ConnectorError> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = ByteStream::new(response.into_body())
        .collect()
        .await
        .map_err(|e| ConnectorError::io(Box::new(e)))?
        .into_bytes()
        .to_vec();
    Ok(StoredReply {
        status,
        headers,
        body,
    })
}

impl HttpConnector for FaultyConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let operation = header(&request, OP_HEADER);
        let call: usize = header(&request, CALL_HEADER)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let attempt: u32 = header(&request, ATTEMPT_HEADER)
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        for name in [OP_HEADER, CALL_HEADER, ATTEMPT_HEADER] {
            request.headers_mut().remove(name);
        }
        let Some(operation) = operation else {
            return self.inner.call(request);
        };
        let service = operation.split('.').next().unwrap_or_default().to_string();
        let faults = self.faults.clone();
        if faults.throttled(&operation, call, attempt) {
            faults.record(&operation, call, attempt, Injection::Throttled);
            let status = if service == "ApiGatewayV2" { 429 } else { 400 };
            return HttpConnectorFuture::ready(Ok(error_response(
                &service,
                status,
                throttling_code(&service),
                "Rate exceeded (injected by fargate-testkit)",
            )));
        }
        let token = client_token(&request).or_else(|| {
            IDENTICAL_REQUEST_IDEMPOTENT
                .contains(&operation.as_str())
                .then(|| request.body().bytes().map(body_key))
                .flatten()
        });
        if let Some(token) = &token {
            let key = (operation.clone(), token.clone());
            let stored = faults.state().replies.get(&key).cloned();
            if let Some(reply) = stored {
                faults.record(&operation, call, attempt, Injection::Replayed);
                return HttpConnectorFuture::ready(Ok(stored_response(&reply)));
            }
        }
        let planned = faults.take_planned(&operation, call);
        let inner = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let response = inner.await?;
            match planned {
                None => Ok(response),
                Some(FaultKind::LoseReply) => {
                    let reply = buffer(response).await?;
                    if let Some(token) = token {
                        faults
                            .state()
                            .replies
                            .insert((operation.clone(), token), reply);
                    }
                    faults.record(&operation, call, attempt, Injection::LostReply);
                    Err(ConnectorError::io(
                        "injected by fargate-testkit: connection lost after the request was sent"
                            .into(),
                    ))
                }
                Some(FaultKind::Crash) => {
                    drop(buffer(response).await?);
                    faults.record(&operation, call, attempt, Injection::Crashed);
                    Ok(error_response(
                        &service,
                        400,
                        "InjectedCrash",
                        "the deploying process died right after this call (injected by fargate-testkit)",
                    ))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_decisions_are_deterministic_and_near_the_percentage() {
        let a = Faults::new().throttle_percent(30, 42);
        let b = Faults::new().throttle_percent(30, 42);
        let n = 10_000;
        let hits: Vec<bool> = (0..n)
            .map(|i| a.throttled("ECS.CreateService", i, 1))
            .collect();
        let again: Vec<bool> = (0..n)
            .map(|i| b.throttled("ECS.CreateService", i, 1))
            .collect();
        assert_eq!(hits, again);
        let share = hits.iter().filter(|h| **h).count() as f64 / n as f64;
        assert!((0.27..0.33).contains(&share), "{share}");
        assert!(!Faults::new().throttled("ECS.CreateService", 1, 1));
    }

    #[test]
    fn a_planned_fault_fires_once() {
        let f = Faults::new().lose_reply("EC2.CreateVpc", 1);
        assert_eq!(f.take_planned("EC2.CreateVpc", 2), None);
        assert_eq!(
            f.take_planned("EC2.CreateVpc", 1),
            Some(FaultKind::LoseReply)
        );
        assert_eq!(f.take_planned("EC2.CreateVpc", 1), None);
    }

    #[test]
    fn tokens_are_read_from_form_and_json_bodies() {
        let form = HttpRequest::new(SdkBody::from(
            "Action=CreateRouteTable&ClientToken=abc-1&VpcId=v",
        ));
        assert_eq!(client_token(&form).as_deref(), Some("abc-1"));
        let json = HttpRequest::new(SdkBody::from(r#"{"cluster":"c","clientToken":"t-2"}"#));
        assert_eq!(client_token(&json).as_deref(), Some("t-2"));
        let none = HttpRequest::new(SdkBody::from("Action=CreateVpc"));
        assert_eq!(client_token(&none), None);
    }
}
