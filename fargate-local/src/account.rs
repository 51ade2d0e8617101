//! One AWS account on the moto server: moto keeps separate state per account, chosen per request
//! by the `x-moto-account-id` header ([`MotoAccount`]).

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

use crate::moto::{MotoError, MotoServer, moto};

/// The region the emulator's SDK config uses.
pub const REGION: &str = "us-east-1";

/// A fresh [`LocalAccount`] on the shared moto server (started on first use).
///
/// ```no_run
/// # async fn example() -> Result<(), fargate_local::MotoError> {
/// let account = fargate_local::account().await?;
/// let sdk = account.sdk_config();
/// // Attach account.interceptors() to every client or Deployer::with_interceptors.
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// When moto cannot be installed or started; see [`moto()`].
pub async fn account() -> Result<LocalAccount, MotoError> {
    Ok(LocalAccount::new(moto().await?))
}

/// An AWS account of its own on a moto server: its id, the server and the SDK config to reach it.
///
/// `SdkConfig` cannot carry interceptors: a client built from [`sdk_config`](Self::sdk_config)
/// alone acts in moto's *default* account `123456789012`. Attach
/// [`interceptors`](Self::interceptors) (the [`MotoAccount`] header) to every client, for
/// example with `fargate_deploy::Deployer::with_interceptors`.
#[derive(Clone, Debug)]
pub struct LocalAccount {
    server: &'static MotoServer,
    account: MotoAccount,
    config: SdkConfig,
}

impl LocalAccount {
    /// A new random account on `server`.
    pub fn new(server: &'static MotoServer) -> Self {
        Self::with_account_id(server, random_account_id())
    }

    /// The account `account_id` (12 digits) on `server`.
    pub fn with_account_id(server: &'static MotoServer, account_id: impl Into<String>) -> Self {
        LocalAccount {
            config: sdk_config(server.url()),
            server,
            account: MotoAccount::new(account_id),
        }
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        self.account.account_id()
    }

    /// moto's endpoint URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The server.
    pub fn server(&self) -> &'static MotoServer {
        self.server
    }

    /// The SDK config for the server; see [`sdk_config`].
    pub fn sdk_config(&self) -> SdkConfig {
        self.config.clone()
    }

    /// The account header interceptor.
    pub fn account(&self) -> &MotoAccount {
        &self.account
    }

    /// The interceptors every client needs: the account header.
    pub fn interceptors(&self) -> Vec<SharedInterceptor> {
        vec![SharedInterceptor::new(self.account.clone())]
    }
}

/// SDK config for the moto server at `url`: static fake credentials, region `us-east-1`, the
/// server's endpoint URL, standard retries (3 attempts, 1 ms initial backoff), latest behavior
/// version. It reads nothing from the environment (no `AWS_*` variable, no profile), so it can
/// never reach real AWS.
pub fn sdk_config(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIAFARGATELOCAL0000",
            "fargate-local-secret",
            None,
            None,
            "fargate-local",
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
pub fn random_account_id() -> String {
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
        "fargate_local::MotoAccount"
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

    #[test]
    fn the_emulator_config_points_at_the_server_only() {
        let config = sdk_config("http://127.0.0.1:5");
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5"));
        assert_eq!(config.region().map(|r| r.as_ref()), Some(REGION));
    }
}
