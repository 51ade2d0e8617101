//! Per-test isolation on the shared moto server: one fresh AWS account per [`TestContext`].

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use fargate_core::CallRecorder;

use crate::moto::{MotoServer, moto};

/// A fresh [`TestContext`] on the shared moto server (started on first use).
///
/// # Panics
///
/// When moto cannot be installed or started; see [`moto()`](crate::moto::moto).
pub async fn context() -> TestContext {
    TestContext::new(moto().await)
}

/// One test's view of moto: its own random AWS account, SDK config, clients and call recorder.
///
/// moto keeps separate state per account, so tests sharing the server do not see each other's
/// resources. Every client made here sends `x-moto-account-id: <account>` ([`MotoAccount`]) and
/// records its calls in [`recorder`](Self::recorder).
///
/// ```no_run
/// # async fn example() {
/// let ctx = fargate_testkit::context().await;
/// let mark = ctx.recorder().mark();
/// ctx.ecs().create_cluster().cluster_name("c").send().await.unwrap();
/// assert_eq!(ctx.recorder().mutating_calls_since(mark), ["ECS.CreateCluster"]);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TestContext {
    server: &'static MotoServer,
    account: MotoAccount,
    recorder: CallRecorder,
    config: SdkConfig,
}

impl TestContext {
    /// A context with a new random account on `server`.
    pub fn new(server: &'static MotoServer) -> Self {
        let account = MotoAccount::new(random_account_id());
        TestContext {
            config: sdk_config(server.url()),
            server,
            account,
            recorder: CallRecorder::new(),
        }
    }

    /// The 12-digit account id of this context.
    pub fn account_id(&self) -> &str {
        self.account.account_id()
    }

    /// moto's endpoint URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The shared server.
    pub fn server(&self) -> &'static MotoServer {
        self.server
    }

    /// SDK config for moto: static fake credentials, `us-east-1`, the server's endpoint URL,
    /// standard retries (3 attempts, 1 ms initial backoff), latest behavior version.
    ///
    /// `SdkConfig` cannot carry interceptors: a client built from it alone talks to the
    /// *default* account `123456789012`, shared by all tests. Attach
    /// [`interceptors`](Self::interceptors) to every service config, or use
    /// [`client`](Self::client).
    pub fn sdk_config(&self) -> SdkConfig {
        self.config.clone()
    }

    /// The recorder of every call made by this context's clients.
    pub fn recorder(&self) -> CallRecorder {
        self.recorder.clone()
    }

    /// The interceptors to attach to each service config: the account header, then the recorder.
    pub fn interceptors(&self) -> Vec<SharedInterceptor> {
        vec![
            SharedInterceptor::new(self.account.clone()),
            SharedInterceptor::new(self.recorder.clone()),
        ]
    }

    /// A client of any supported service, with this context's config and interceptors:
    /// `let ecs: aws_sdk_ecs::Client = ctx.client();`.
    pub fn client<C: SdkClient>(&self) -> C {
        C::from_sdk_config(&self.config, &self.interceptors())
    }

    /// ECS client.
    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        self.client()
    }

    /// ECR client.
    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        self.client()
    }

    /// EC2 client.
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        self.client()
    }

    /// Elastic Load Balancing v2 client.
    pub fn elb(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        self.client()
    }

    /// IAM client.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.client()
    }

    /// CloudWatch Logs client.
    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        self.client()
    }

    /// EventBridge Scheduler client.
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        self.client()
    }

    /// API Gateway v2 client.
    pub fn apigw(&self) -> aws_sdk_apigatewayv2::Client {
        self.client()
    }

    /// Application Auto Scaling client.
    pub fn autoscaling(&self) -> aws_sdk_applicationautoscaling::Client {
        self.client()
    }

    /// STS client.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        self.client()
    }
}

/// The SDK config every context uses, pointing at `url`.
fn sdk_config(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIAFARGATETESTKIT00",
            "fargate-testkit-secret",
            None,
            None,
            "fargate-testkit",
        )))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        )
        .build()
}

/// A random 12-digit account id, never moto's default `123456789012`.
fn random_account_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        let id = 100_000_000_000 + hasher.finish() % 900_000_000_000;
        if id != 123_456_789_012 {
            return id.to_string();
        }
    }
}

/// Interceptor that makes moto serve a request from the given account's state, by setting the
/// `x-moto-account-id` header on every request.
#[derive(Clone, Debug)]
pub struct MotoAccount {
    account_id: String,
}

impl MotoAccount {
    /// Requests will act in account `account_id` (12 digits).
    pub fn new(account_id: impl Into<String>) -> Self {
        MotoAccount {
            account_id: account_id.into(),
        }
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "fargate_testkit::MotoAccount"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.account_id.clone());
        Ok(())
    }
}

/// An SDK client that can be built from an [`SdkConfig`] plus interceptors; implemented for the
/// client of every service fargate-rs uses. See [`TestContext::client`].
pub trait SdkClient: Sized {
    /// `Client::from_conf(Builder::from(config)` with each interceptor pushed `)`.
    fn from_sdk_config(config: &SdkConfig, interceptors: &[SharedInterceptor]) -> Self;
}

macro_rules! impl_sdk_client {
    ($($sdk:ident),+ $(,)?) => {$(
        impl SdkClient for $sdk::Client {
            fn from_sdk_config(config: &SdkConfig, interceptors: &[SharedInterceptor]) -> Self {
                let mut builder = $sdk::config::Builder::from(config);
                for interceptor in interceptors {
                    builder.push_interceptor(interceptor.clone());
                }
                $sdk::Client::from_conf(builder.build())
            }
        }
    )+};
}

impl_sdk_client!(
    aws_sdk_ecs,
    aws_sdk_ecr,
    aws_sdk_ec2,
    aws_sdk_elasticloadbalancingv2,
    aws_sdk_iam,
    aws_sdk_cloudwatchlogs,
    aws_sdk_scheduler,
    aws_sdk_apigatewayv2,
    aws_sdk_applicationautoscaling,
    aws_sdk_sts,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_12_digits_and_differ() {
        let ids: std::collections::BTreeSet<String> =
            (0..1000).map(|_| random_account_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.len(), 12, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        }
    }
}
