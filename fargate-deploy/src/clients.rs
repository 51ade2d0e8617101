//! The SDK clients and account facts every resource uses.

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_types::SdkConfig;
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
    /// from STS `GetCallerIdentity` (one call).
    ///
    /// # Errors
    /// When the config has no region or STS cannot be reached.
    pub async fn connect(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
    ) -> Result<Self, Error> {
        let sts: aws_sdk_sts::Client = fargate_core::sdk_client!(aws_sdk_sts, sdk, interceptors);
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
        Ok(Self::with_context(
            sdk,
            interceptors,
            AwsContext {
                account_id,
                region,
                partition,
            },
        ))
    }

    /// Clients with known account facts (no call made).
    pub fn with_context(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
        aws: AwsContext,
    ) -> Self {
        Self {
            net: NetClients::new(sdk, interceptors),
            ecs: fargate_core::sdk_client!(aws_sdk_ecs, sdk, interceptors),
            ecr: fargate_core::sdk_client!(aws_sdk_ecr, sdk, interceptors),
            iam: fargate_core::sdk_client!(aws_sdk_iam, sdk, interceptors),
            logs: fargate_core::sdk_client!(aws_sdk_cloudwatchlogs, sdk, interceptors),
            scheduler: fargate_core::sdk_client!(aws_sdk_scheduler, sdk, interceptors),
            autoscaling: fargate_core::sdk_client!(
                aws_sdk_applicationautoscaling,
                sdk,
                interceptors
            ),
            ssm: fargate_core::sdk_client!(aws_sdk_ssm, sdk, interceptors),
            secrets: fargate_core::sdk_client!(aws_sdk_secretsmanager, sdk, interceptors),
            aws,
        }
    }
}
