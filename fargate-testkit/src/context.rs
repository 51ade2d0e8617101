//! Per-test isolation on the shared moto server: one fresh AWS account per [`TestContext`].

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_types::SdkConfig;
use fargate_core::CallRecorder;
pub use fargate_local::MotoAccount;
use fargate_local::{random_account_id, sdk_config};

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
    /// The fault-injection layer, when [`TestContext::with_faults`] added one.
    faults: Option<crate::faults::Faults>,
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
            faults: None,
        }
    }

    /// The same account, recorder and config, with every request going through the fault
    /// layer `faults` (see [`crate::faults`]): its HTTP client in [`sdk_config`](Self::sdk_config)
    /// and its interceptor in [`interceptors`](Self::interceptors).
    pub fn with_faults(&self, faults: &crate::faults::Faults) -> Self {
        let mut ctx = self.clone();
        ctx.config = self
            .config
            .to_builder()
            .http_client(faults.http_client())
            .build();
        ctx.faults = Some(faults.clone());
        ctx
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

    /// The interceptors to attach to each service config: the account header, then the recorder
    /// (and the fault layer's, with [`with_faults`](Self::with_faults)).
    pub fn interceptors(&self) -> Vec<SharedInterceptor> {
        let mut all = vec![
            SharedInterceptor::new(self.account.clone()),
            SharedInterceptor::new(self.recorder.clone()),
        ];
        if let Some(faults) = &self.faults {
            all.push(SharedInterceptor::new(faults.interceptor()));
        }
        all
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
    aws_sdk_ssm,
    aws_sdk_secretsmanager,
    aws_sdk_servicediscovery,
    aws_sdk_sqs,
    aws_sdk_efs,
    aws_sdk_route53,
    aws_sdk_acm,
);
