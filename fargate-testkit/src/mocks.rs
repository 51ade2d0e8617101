//! Helpers for [`aws_smithy_mocks`] 0.3 on the real SDK clients.
//!
//! Start with [`mock_sdk_client!`](crate::mock_sdk_client): like
//! `aws_smithy_mocks::mock_client!`, but the client retries with [`fast_retry`] (the SDK's
//! standard retry, 3 attempts, 1 ms backoff), so retry paths are exercised without real sleeps,
//! and the SDK crate is taken from the testkit's re-exports.
//!
//! ```no_run
//! use fargate_testkit::aws_sdk_ecs::{self, operation::list_clusters::*};
//! use fargate_testkit::aws_smithy_mocks::{RuleMode, mock};
//! use fargate_testkit::{CallRecorder, aws_error_meta, mock_sdk_client};
//!
//! # async fn example() {
//! let list = mock!(aws_sdk_ecs::Client::list_clusters)
//!     .sequence()
//!     .error(|| ListClustersError::generic(aws_error_meta("ThrottlingException", "slow down")))
//!     .output(|| ListClustersOutput::builder().cluster_arns("arn:...").build())
//!     .build();
//! let ecs = mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list]);
//! ecs.list_clusters().send().await.unwrap();
//! assert_eq!(list.num_calls(), 2); // throttled once, retried by the SDK
//!
//! // With a call recorder (or any other config change):
//! let recorder = CallRecorder::new();
//! let ecs = mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list], |c| c
//!     .interceptor(recorder.clone()));
//! # }
//! ```
//!
//! Facts worth knowing (measured, see `TESTING.md`): all retries of one call are answered by one
//! rule's sequence; a mocked error has no `code()` unless built with [`aws_error_meta`];
//! `RuleMode::Sequential` panics when a call is not the next rule's.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;

/// The SDK's standard retry with 3 attempts and 1 ms initial backoff (10 ms at most).
pub fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(10))
}

/// Error metadata with an AWS error `code` and `message`, for mocked errors:
/// `CreateServiceError::generic(aws_error_meta("ThrottlingException", "Rate exceeded"))`, or
/// `.meta(aws_error_meta(..))` on a modeled error's builder.
pub fn aws_error_meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// A mocked SDK client with [`fast_retry`]: `mock_sdk_client!(sdk_crate, rule_mode, rules)` or
/// `mock_sdk_client!(sdk_crate, rule_mode, rules, |config_builder| config_builder...)`.
///
/// `sdk_crate` is one of the crates re-exported by the testkit (`aws_sdk_ecs`, `aws_sdk_ec2`,
/// …); `rules` is anything iterable over `&aws_smithy_mocks::Rule`, e.g. `[&r1, &r2]`. The
/// optional closure changes the config builder last (add an interceptor, another retry
/// config, …). See the [module docs](crate::mocks).
#[macro_export]
macro_rules! mock_sdk_client {
    ($sdk:ident, $rule_mode:expr, $rules:expr $(,)?) => {
        $crate::mock_sdk_client!($sdk, $rule_mode, $rules, |config| config)
    };
    ($sdk:ident, $rule_mode:expr, $rules:expr, $configure:expr $(,)?) => {{
        let mut interceptor =
            $crate::aws_smithy_mocks::MockResponseInterceptor::new().rule_mode($rule_mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        fn coerce<F>(f: F) -> F
        where
            F: Fn($crate::$sdk::config::Builder) -> $crate::$sdk::config::Builder,
        {
            f
        }
        $crate::$sdk::Client::from_conf(
            coerce($configure)(
                $crate::$sdk::config::Config::builder()
                    .with_test_defaults_v2()
                    .http_client($crate::aws_smithy_mocks::create_mock_http_client())
                    .retry_config($crate::mocks::fast_retry())
                    .interceptor(interceptor),
            )
            .build(),
        )
    }};
}

/// The mock HTTP client of [`aws_smithy_mocks`], answering every attempt only after `latency`
/// (a tokio sleep): with it, concurrent calls overlap in time the way real ones do, so a
/// [`CallRecorder`](crate::CallRecorder)'s critical path and maximum concurrency say which
/// calls ran together (with the instant mock client, a call may finish before the next one
/// starts even when both were issued together).
///
/// ```no_run
/// use std::time::Duration;
/// use fargate_testkit::aws_sdk_ec2;
/// use fargate_testkit::aws_smithy_mocks::RuleMode;
/// use fargate_testkit::{CallRecorder, mock_sdk_client, mocks::delayed_mock_http_client};
///
/// let recorder = CallRecorder::new();
/// let rules: Vec<&fargate_testkit::aws_smithy_mocks::Rule> = Vec::new();
/// let ec2 = mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, rules, |c| c
///     .http_client(delayed_mock_http_client(Duration::from_millis(20)))
///     .interceptor(recorder.clone()));
/// ```
pub fn delayed_mock_http_client(latency: Duration) -> SharedHttpClient {
    SharedHttpClient::new(DelayedClient {
        inner: aws_smithy_mocks::create_mock_http_client(),
        latency,
    })
}

#[derive(Debug)]
struct DelayedClient {
    inner: SharedHttpClient,
    latency: Duration,
}

impl HttpClient for DelayedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(DelayedConnector {
            inner: self.inner.http_connector(settings, components),
            latency: self.latency,
        })
    }
}

#[derive(Debug)]
struct DelayedConnector {
    inner: SharedHttpConnector,
    latency: Duration,
}

impl HttpConnector for DelayedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let latency = self.latency;
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(latency).await;
            inner.call(request).await
        })
    }
}
