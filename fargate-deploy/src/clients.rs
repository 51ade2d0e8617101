//! The SDK clients and account facts every resource uses, and how a
//! [`crate::Deployer`] configures them ([`DeployerOptions`]: interceptors and
//! the SDK retry configuration, [`default_retry_config`] unless told otherwise).

use std::time::Duration;

use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;
use fargate_core::limit::RequestLimits;
use fargate_core::{AwsResultExt, Error};
use fargate_net::NetClients;

/// Where the resources live: account, region and partition (for ARNs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AwsContext {
    /// The 12-digit account id.
    pub account_id: String,
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The partition, e.g. `aws`.
    pub partition: String,
}

impl AwsContext {
    /// An ARN in this account and region: `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account_id
        )
    }

    /// A global (region-less) ARN, as IAM uses: `arn:<partition>:<service>::<account>:<resource>`.
    pub fn global_arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}::{}:{resource}",
            self.partition, self.account_id
        )
    }
}

/// The SDK retry configuration a [`crate::Deployer`] gives every client unless
/// [`DeployerOptions::retry_config`] says otherwise: **standard** mode, **10 attempts**,
/// exponential backoff with full jitter from 1 s, capped at **20 s** per wait.
///
/// The SDK's own default (3 attempts) fails a deploy of a hundred calls under moderate
/// throttling (at 30 % of requests throttled, some call fails all 3 attempts in nearly
/// every deploy); with 10 attempts one call fails with probability 0.3¹⁰ ≈ 6·10⁻⁶, and
/// the SDK still retries only what is retryable (throttling, transient and 5xx errors).
/// Standard rather than adaptive mode: the SDK's adaptive client-side rate limiter is
/// shared per service and region by the whole process and, after one throttling answer,
/// paces every later request of that service — slowing the concurrent steps of a deploy
/// and every other client of the process — where jittered backoff of the throttled call
/// is enough for a deploy's bursts. Choose adaptive with
/// `DeployerOptions::default().retry_config(RetryConfig::adaptive().with_max_attempts(10))`.
pub fn default_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_secs(1))
        .with_max_backoff(Duration::from_secs(20))
}

/// How a [`crate::Deployer`] builds its SDK clients from your `SdkConfig`
/// ([`crate::Deployer::with_options`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), fargate_core::Error> {
/// use aws_smithy_types::retry::RetryConfig;
/// use fargate_deploy::{Deployer, DeployerOptions};
///
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// // Adaptive retries with 12 attempts instead of the default.
/// let options = DeployerOptions::default()
///     .retry_config(RetryConfig::adaptive().with_max_attempts(12));
/// let deployer = Deployer::with_options(&sdk, options).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeployerOptions {
    /// Extra SDK interceptors put on every client (a call recorder is always added).
    pub interceptors: Vec<SharedInterceptor>,
    /// The retry configuration of every client; replaces the `SdkConfig`'s (which
    /// `aws_config` always fills with the SDK default of 3 attempts). Default:
    /// [`default_retry_config`].
    pub retry_config: RetryConfig,
    /// How many requests each AWS service gets in flight and per second. Default:
    /// [`RequestLimits::aws`], AWS's documented default quotas.
    pub request_limits: RequestLimits,
}

impl Default for DeployerOptions {
    fn default() -> Self {
        Self {
            interceptors: Vec::new(),
            retry_config: default_retry_config(),
            request_limits: RequestLimits::aws(),
        }
    }
}

impl DeployerOptions {
    /// Also put `interceptor` on every client.
    #[must_use]
    pub fn interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.interceptors.push(SharedInterceptor::new(interceptor));
        self
    }

    /// Also put these interceptors on every client.
    #[must_use]
    pub fn interceptors(
        mut self,
        interceptors: impl IntoIterator<Item = SharedInterceptor>,
    ) -> Self {
        self.interceptors.extend(interceptors);
        self
    }

    /// Use this retry configuration on every client instead of [`default_retry_config`]
    /// (for example adaptive mode, more attempts, or short backoffs in tests).
    #[must_use]
    pub fn retry_config(mut self, retry_config: RetryConfig) -> Self {
        self.retry_config = retry_config;
        self
    }

    /// Pace every client's requests with these limits instead of [`RequestLimits::aws`]
    /// (for example raised quotas, or [`RequestLimits::emulator`] for a local emulator).
    #[must_use]
    pub fn request_limits(mut self, limits: RequestLimits) -> Self {
        self.request_limits = limits;
        self
    }

    /// `sdk` with this retry configuration.
    pub(crate) fn sdk_config(&self, sdk: &SdkConfig) -> SdkConfig {
        sdk.to_builder()
            .retry_config(self.retry_config.clone())
            .build()
    }
}

/// Every SDK client fargate-rs uses, plus the account facts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Clients {
    /// EC2, ELB and API Gateway.
    pub net: NetClients,
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// EventBridge Scheduler.
    pub scheduler: aws_sdk_scheduler::Client,
    /// Application Auto Scaling.
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// SSM (parameters: the environment lock, secret references).
    pub ssm: aws_sdk_ssm::Client,
    /// Secrets Manager (secret metadata checks; values are never read).
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Cloud Map (service discovery).
    pub discovery: aws_sdk_servicediscovery::Client,
    /// SQS (queue workers).
    pub sqs: aws_sdk_sqs::Client,
    /// EFS (file systems of apps' created volumes).
    pub efs: aws_sdk_efs::Client,
    /// Route 53 (records in the hosted zone of an environment's domain).
    pub route53: aws_sdk_route53::Client,
    /// ACM (the certificate of an environment's domain).
    pub acm: aws_sdk_acm::Client,
    /// Account, region, partition.
    pub aws: AwsContext,
}

impl AsRef<NetClients> for Clients {
    fn as_ref(&self) -> &NetClients {
        &self.net
    }
}

impl Clients {
    /// Clients for this config with these interceptors, and the account id
    /// from STS `GetCallerIdentity` (one call). The clients use the config's retry
    /// configuration as it is; a [`crate::Deployer`] replaces it with
    /// [`DeployerOptions::retry_config`].
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn connect(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
    ) -> Result<Self, Error> {
        Self::connect_with_limits(sdk, interceptors, &RequestLimits::aws()).await
    }

    /// Like [`Clients::connect`], every client paced by `limits`.
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn connect_with_limits(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
        limits: &RequestLimits,
    ) -> Result<Self, Error> {
        let sts: aws_sdk_sts::Client =
            fargate_core::sdk_client!(aws_sdk_sts, sdk, interceptors, limits, "STS");
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| Error::Invalid(fargate_core::InvalidValue::new(
                "region",
                "",
                "the SdkConfig has no region",
                "an AWS region such as us-east-1 (set AWS_REGION or use aws_config::from_env().region(..))",
            )))?;
        let me = sts
            .get_caller_identity()
            .send()
            .await
            .context("sts caller identity", "GetCallerIdentity")?;
        let account_id = me.account().unwrap_or_default().to_string();
        let partition = me
            .arn()
            .and_then(|a| a.split(':').nth(1))
            .unwrap_or("aws")
            .to_string();
        Ok(Self::with_limits(
            sdk,
            interceptors,
            limits,
            AwsContext {
                account_id,
                region,
                partition,
            },
        ))
    }

    /// Clients with known account facts (no call made), paced by AWS's default request
    /// limits ([`RequestLimits::aws`]).
    pub fn with_context(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
        aws: AwsContext,
    ) -> Self {
        Self::with_limits(sdk, interceptors, &RequestLimits::aws(), aws)
    }

    /// Like [`Clients::with_context`], every client paced by `limits` (one limiter per AWS
    /// service, shared by the clones of these clients).
    pub fn with_limits(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
        limits: &RequestLimits,
        aws: AwsContext,
    ) -> Self {
        let i = interceptors;
        Self {
            net: NetClients::with_limits(sdk, i, limits),
            ecs: fargate_core::sdk_client!(aws_sdk_ecs, sdk, i, limits, "ECS"),
            ecr: fargate_core::sdk_client!(aws_sdk_ecr, sdk, i, limits, "ECR"),
            iam: fargate_core::sdk_client!(aws_sdk_iam, sdk, i, limits, "IAM"),
            logs: fargate_core::sdk_client!(
                aws_sdk_cloudwatchlogs,
                sdk,
                i,
                limits,
                "CloudWatchLogs"
            ),
            scheduler: fargate_core::sdk_client!(aws_sdk_scheduler, sdk, i, limits, "Scheduler"),
            autoscaling: fargate_core::sdk_client!(
                aws_sdk_applicationautoscaling,
                sdk,
                i,
                limits,
                "ApplicationAutoScaling"
            ),
            ssm: fargate_core::sdk_client!(aws_sdk_ssm, sdk, i, limits, "SSM"),
            secrets: fargate_core::sdk_client!(
                aws_sdk_secretsmanager,
                sdk,
                i,
                limits,
                "SecretsManager"
            ),
            discovery: fargate_core::sdk_client!(
                aws_sdk_servicediscovery,
                sdk,
                i,
                limits,
                "ServiceDiscovery"
            ),
            sqs: fargate_core::sdk_client!(aws_sdk_sqs, sdk, i, limits, "SQS"),
            efs: fargate_core::sdk_client!(aws_sdk_efs, sdk, i, limits, "EFS"),
            route53: fargate_core::sdk_client!(aws_sdk_route53, sdk, i, limits, "Route53"),
            acm: fargate_core::sdk_client!(aws_sdk_acm, sdk, i, limits, "ACM"),
            aws,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::retry::RetryMode;

    #[test]
    fn deployers_retry_ten_times_with_bounded_backoff_unless_told_otherwise() {
        let r = DeployerOptions::default().retry_config;
        assert_eq!(r.mode(), RetryMode::Standard);
        assert_eq!(r.max_attempts(), 10);
        assert_eq!(r.max_backoff(), Duration::from_secs(20));
        let sdk = SdkConfig::builder()
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .build();
        let options = DeployerOptions::default();
        assert_eq!(
            options
                .sdk_config(&sdk)
                .retry_config()
                .map(RetryConfig::max_attempts),
            Some(10),
            "the deployer's retry configuration replaces the SdkConfig's"
        );
        let adaptive = DeployerOptions::default().retry_config(RetryConfig::adaptive());
        assert_eq!(
            adaptive
                .sdk_config(&sdk)
                .retry_config()
                .map(RetryConfig::mode),
            Some(RetryMode::Adaptive)
        );
    }
}
