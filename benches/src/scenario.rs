//! The deployments the benchmarks make: the financial-dashboard demo (the
//! "seed" scenario) and a fleet of N apps sharing one environment, plus the
//! moto account set-up both need.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::time::{Duration, Instant};

use fargate_core::Error;
use fargate_deploy::{App, ContainerService, Environment, FrontendApp, ScheduledJob};
use fargate_testkit::TestContext;

/// The image of the first deploy.
pub const IMAGE_V1: &str = "public.ecr.aws/docker/library/python:3.12-alpine";
/// The image of the update.
pub const IMAGE_V2: &str = "public.ecr.aws/docker/library/python:3.13-alpine";

/// The financial-dashboard apps, as in `examples/src/bin/demo.rs`: an API
/// behind the shared ALB (2 tasks, env vars, a Secrets Manager reference) and
/// a nightly ETL job on EventBridge Scheduler, in environment `dash` (a new
/// VPC).
#[derive(Debug)]
pub struct Dashboard {
    /// The environment.
    pub env: Environment,
    /// The API.
    pub api: FrontendApp,
    /// The ETL job.
    pub etl: ScheduledJob,
}

impl Dashboard {
    /// The name of the environment.
    pub const ENV: &str = "dash";

    /// The apps with `image`, reading the database URL from the Secrets
    /// Manager secret `db_secret` (an ARN; see [`create_db_secret`]: the
    /// deployer's pre-flight check refuses a secret that does not exist).
    ///
    /// # Errors
    /// A spec the builders reject (a bug in this function).
    pub fn new(db_secret: &str, image: &str) -> Result<Self, Error> {
        let env_name = Self::ENV;
        let env = Environment::builder().name(env_name).build()?;
        let (api, etl) = fargate_examples::dashboard_apps(env_name, image, db_secret)?;
        Ok(Self { env, api, etl })
    }

    /// Both apps.
    pub fn apps(&self) -> [&dyn App; 2] {
        [&self.api, &self.etl]
    }
}

/// Create the dashboard's database URL secret in the context's account,
/// directly against moto (not through any proxy, not recorded by a deployer),
/// as the demo does on the emulator. Returns its ARN.
///
/// # Errors
/// When moto refuses.
pub async fn create_db_secret(ctx: &TestContext) -> Result<String, Box<dyn StdError>> {
    let secrets: fargate_testkit::aws_sdk_secretsmanager::Client = ctx.client();
    let created = secrets
        .create_secret()
        .name(format!("{}/dashboard/db-url", Dashboard::ENV))
        .secret_string("postgres://dashboard:bench@db.internal:5432/dashboard")
        .send()
        .await?;
    Ok(created
        .arn()
        .ok_or("moto's CreateSecret returned no ARN")?
        .to_string())
}

/// How the fleet's frontends get their listener-rule priorities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priorities {
    /// The library's default (`FrontendApp::builder()` without `.priority`).
    Default,
    /// `.priority(i)` for app `i`: all distinct.
    Explicit,
}

/// N apps in one environment (a new VPC, one shared ALB): apps `app-1` …
/// `app-N`, odd ones [`FrontendApp`]s on the ALB at `/app-<i>/*`, even ones
/// worker [`ContainerService`]s (no port). 2 tasks each (what moto reports
/// running), 0.25 vCPU / 512 MB.
#[derive(Debug)]
pub struct Fleet {
    /// The environment.
    pub env: Environment,
    /// The frontends (odd `i`).
    pub frontends: Vec<FrontendApp>,
    /// The workers (even `i`).
    pub workers: Vec<ContainerService>,
}

impl Fleet {
    /// `n` apps with `image` in environment `env_name`.
    ///
    /// # Errors
    /// A spec the builders reject (a bug in this function).
    pub fn new(
        env_name: &str,
        n: usize,
        image: &str,
        priorities: Priorities,
    ) -> Result<Self, Error> {
        let env = Environment::builder().name(env_name).build()?;
        let mut frontends = Vec::new();
        let mut workers = Vec::new();
        for i in 1..=n {
            let name = format!("app-{i}");
            let env_vars: BTreeMap<String, String> =
                [("APP_NAME".to_string(), name.clone())].into();
            if i % 2 == 1 {
                let service = ContainerService::builder()
                    .name(name.as_str())
                    .image(image)
                    .port(8080)
                    .desired_count(2)
                    .command(vec![
                        "python".into(),
                        "-m".into(),
                        "http.server".into(),
                        "8080".into(),
                    ])
                    .env(env_vars)
                    .build()?;
                let paths = vec![format!("/{name}/*")];
                let app = match priorities {
                    Priorities::Default => FrontendApp::builder()
                        .service(service)
                        .paths(paths)
                        .health_check_path("/")
                        .build()?,
                    Priorities::Explicit => FrontendApp::builder()
                        .service(service)
                        .paths(paths)
                        .health_check_path("/")
                        .priority(u32::try_from(i).unwrap_or(u32::MAX))
                        .build()?,
                };
                frontends.push(app);
            } else {
                workers.push(
                    ContainerService::builder()
                        .name(name.as_str())
                        .image(image)
                        .desired_count(2)
                        .command(vec![
                            "python".into(),
                            "-c".into(),
                            "import time; time.sleep(1e9)".into(),
                        ])
                        .env(env_vars)
                        .build()?,
                );
            }
        }
        Ok(Self {
            env,
            frontends,
            workers,
        })
    }

    /// All apps, frontends first.
    pub fn apps(&self) -> Vec<&dyn App> {
        let mut apps: Vec<&dyn App> = Vec::with_capacity(self.frontends.len() + self.workers.len());
        apps.extend(self.frontends.iter().map(|a| a as &dyn App));
        apps.extend(self.workers.iter().map(|a| a as &dyn App));
        apps
    }
}

/// moto creates an account's backends lazily on its first call to each
/// service (IAM loads every AWS-managed policy, EC2 creates the default VPC):
/// seconds real AWS never charges. Pay them before measuring, directly
/// against moto (not through a proxy, not recorded by a deployer). Returns
/// how long it took.
pub async fn warm_up_account(ctx: &TestContext) -> Duration {
    let start = Instant::now();
    let ssm: fargate_testkit::aws_sdk_ssm::Client = ctx.client();
    let secrets: fargate_testkit::aws_sdk_secretsmanager::Client = ctx.client();
    let (ec2, elb, ecs, iam, logs, scheduler, ecr) = (
        ctx.ec2(),
        ctx.elb(),
        ctx.ecs(),
        ctx.iam(),
        ctx.logs(),
        ctx.scheduler(),
        ctx.ecr(),
    );
    let _ = tokio::join!(
        ec2.describe_vpcs().send(),
        elb.describe_load_balancers().send(),
        ecs.list_clusters().send(),
        iam.list_roles().max_items(1).send(),
        logs.describe_log_groups().limit(1).send(),
        scheduler.list_schedules().send(),
        ecr.describe_repositories().send(),
        ssm.describe_parameters().max_results(1).send(),
        secrets.list_secrets().max_results(1).send(),
    );
    start.elapsed()
}
