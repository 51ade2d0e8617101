//! Where a program deploys: the local emulator, or the AWS config of the environment — and a
//! description of the endpoint it really talks to.

use std::fmt;

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_types::SdkConfig;

use crate::account::{LocalAccount, MotoAccount, account, sdk_config};
use crate::moto::{MOTO_VERSION, MotoError};

/// The SDK config to deploy with, the interceptors it needs, and what it talks to.
///
/// ```no_run
/// # async fn example() -> Result<(), fargate_local::MotoError> {
/// let target = fargate_local::Target::new(false).await?; // the local emulator
/// println!("deploying to {}", target.endpoint);
/// // fargate_deploy::Deployer::with_interceptors(&target.sdk, target.interceptors.clone())
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Target {
    /// The AWS config to use.
    pub sdk: SdkConfig,
    /// Interceptors to attach to every client (the emulator's account header; none for AWS).
    pub interceptors: Vec<SharedInterceptor>,
    /// What the config really talks to.
    pub endpoint: Endpoint,
}

/// What an SDK config talks to, for people: see [`Endpoint::of`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// This crate's local emulator (the moto server), one account of it.
    Emulator {
        /// `http://127.0.0.1:<port>`.
        url: String,
        /// The account's 12-digit id.
        account_id: String,
    },
    /// An endpoint override: the config's `endpoint_url` (from `AWS_ENDPOINT_URL` or the
    /// AWS config file) and/or per-service `AWS_ENDPOINT_URL_<SERVICE>` variables.
    Override {
        /// Each override: `(where it comes from, URL)`.
        urls: Vec<(String, String)>,
        /// The region, when set.
        region: Option<String>,
    },
    /// AWS itself, in this region (no endpoint override).
    Aws {
        /// The region, when set.
        region: Option<String>,
    },
}

impl Endpoint {
    /// What `sdk` talks to. `endpoint_url` set → [`Endpoint::Override`] (it says whether it came
    /// from `AWS_ENDPOINT_URL`); so do per-service `AWS_ENDPOINT_URL_<SERVICE>` variables, which
    /// the SDK applies to configs loaded by `aws_config` (unless
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`). Otherwise [`Endpoint::Aws`].
    pub fn of(sdk: &SdkConfig) -> Self {
        let region = sdk.region().map(|r| r.to_string());
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut urls = Vec::new();
        if let Some(url) = sdk.endpoint_url() {
            let source = if env("AWS_ENDPOINT_URL").as_deref() == Some(url) {
                "AWS_ENDPOINT_URL"
            } else {
                "endpoint_url of the SDK config"
            };
            urls.push((source.to_owned(), url.to_owned()));
        }
        let ignored = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !ignored {
            let mut per_service: Vec<(String, String)> = std::env::vars()
                .filter(|(k, v)| k.starts_with("AWS_ENDPOINT_URL_") && !v.is_empty())
                .collect();
            per_service.sort();
            urls.extend(per_service);
        }
        if urls.is_empty() {
            Endpoint::Aws { region }
        } else {
            Endpoint::Override { urls, region }
        }
    }

    /// Whether this is the local emulator.
    pub fn is_emulator(&self) -> bool {
        matches!(self, Endpoint::Emulator { .. })
    }

    /// Whether this is AWS itself (no emulator, no endpoint override).
    pub fn is_aws(&self) -> bool {
        matches!(self, Endpoint::Aws { .. })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let region = |r: &Option<String>| r.clone().unwrap_or_else(|| "(no region set)".into());
        match self {
            Endpoint::Emulator { url, account_id } => write!(
                f,
                "the local AWS emulator (moto {MOTO_VERSION}) at {url}, account {account_id}"
            ),
            Endpoint::Override { urls, region: r } => {
                let urls: Vec<String> = urls
                    .iter()
                    .map(|(source, url)| format!("{url} ({source})"))
                    .collect();
                write!(
                    f,
                    "the endpoint {}, region {}, with your default credentials",
                    urls.join(", "),
                    region(r)
                )
            }
            Endpoint::Aws { region: r } => write!(
                f,
                "AWS {} (REAL AWS, with your default credentials)",
                region(r)
            ),
        }
    }
}

impl Target {
    /// The local emulator (`aws == false`) or the AWS config of the environment (`aws == true`,
    /// see [`from_env`](Self::from_env)).
    ///
    /// # Errors
    /// When the emulator is asked for and moto cannot be installed or started.
    pub async fn new(aws: bool) -> Result<Self, MotoError> {
        if aws {
            Ok(Self::from_env().await)
        } else {
            Self::emulator().await
        }
    }

    /// A fresh account on the local emulator (the moto server, installed on first use).
    ///
    /// moto runs no containers, so a task it starts (run-now, a run-once job) is told to reach
    /// its last state at once (`ecs::task` transitions immediate): run-now answers after one
    /// `DescribeTasks`, instead of after moto's default of one state per describe call (four
    /// polls, 7 s at run-now's 1 s doubling interval), and no slower than it would on AWS.
    ///
    /// # Errors
    /// When moto cannot be installed or started.
    pub async fn emulator() -> Result<Self, MotoError> {
        let account = account().await?;
        account
            .server()
            .set_transition("ecs::task", crate::Transition::Immediate)
            .await?;
        Ok(Self::from_account(&account))
    }

    /// The emulator account `account`.
    pub fn from_account(account: &LocalAccount) -> Self {
        Target {
            sdk: account.sdk_config(),
            interceptors: account.interceptors(),
            endpoint: Endpoint::Emulator {
                url: account.url().to_owned(),
                account_id: account.account_id().to_owned(),
            },
        }
    }

    /// Account `account_id` of a moto server that is already running at `url` (started by
    /// someone else, e.g. a test harness; `FARGATE_MOTO_URL` of the `fargate` CLI): the same
    /// SDK config, account header and banner as [`emulator`](Self::emulator), without starting
    /// a server. `url` must be plain HTTP on loopback (`http://127.0.0.1:<port>`, `localhost`,
    /// `[::1]`), so the emulator's fake credentials go nowhere else, and moto must answer
    /// there (one `GET /moto-api/`).
    ///
    /// # Errors
    /// [`MotoError::NotLoopback`] for another URL, [`MotoError::NotRunning`] when nothing
    /// answers there as moto does.
    pub async fn running_emulator(
        url: &str,
        account_id: impl Into<String>,
    ) -> Result<Self, MotoError> {
        crate::moto::check_running(url).await?;
        let account = MotoAccount::new(account_id);
        Ok(Target {
            sdk: sdk_config(url),
            endpoint: Endpoint::Emulator {
                url: url.to_owned(),
                account_id: account.account_id().to_owned(),
            },
            interceptors: vec![SharedInterceptor::new(account)],
        })
    }

    /// The same target, with every request acting in account `account_id` of a moto server
    /// (the [`MotoAccount`] header added to [`interceptors`](Self::interceptors)): for an
    /// endpoint override that is a moto server. Real AWS does not know the header; do not use
    /// this with [`Endpoint::Aws`].
    #[must_use]
    pub fn with_moto_account(mut self, account_id: impl Into<String>) -> Self {
        self.interceptors
            .push(SharedInterceptor::new(MotoAccount::new(account_id)));
        self
    }

    /// Your default AWS config: the default credentials chain, `AWS_PROFILE`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` and the AWS config files.
    pub async fn from_env() -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::from_sdk_config(sdk)
    }

    /// A config you built; the endpoint is described with [`Endpoint::of`].
    pub fn from_sdk_config(sdk: SdkConfig) -> Self {
        Target {
            endpoint: Endpoint::of(&sdk),
            sdk,
            interceptors: Vec::new(),
        }
    }

    /// Whether this is the local emulator.
    pub fn is_emulator(&self) -> bool {
        self.endpoint.is_emulator()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_url_is_named_and_never_called_aws() {
        let sdk = SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .endpoint_url("http://localhost:4566")
            .build();
        let endpoint = Endpoint::of(&sdk);
        let text = endpoint.to_string();
        assert!(!endpoint.is_aws(), "{endpoint:?}");
        assert!(text.contains("http://localhost:4566"), "{text}");
        assert!(text.contains("eu-west-1"), "{text}");
        assert!(!text.contains("REAL AWS"), "{text}");
    }

    #[test]
    fn the_emulator_names_its_url_and_account() {
        let e = Endpoint::Emulator {
            url: "http://127.0.0.1:5000".into(),
            account_id: "111122223333".into(),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "the local AWS emulator (moto {MOTO_VERSION}) at http://127.0.0.1:5000, account 111122223333"
            )
        );
    }

    #[test]
    fn only_plain_http_on_loopback_is_a_running_emulator_url() {
        use crate::moto::loopback_address;
        for (url, address) in [
            ("http://127.0.0.1:5000", "127.0.0.1:5000"),
            ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
            ("http://127.1.2.3:1", "127.1.2.3:1"),
            ("http://localhost:5000", "127.0.0.1:5000"),
            ("http://localhost", "127.0.0.1:80"),
            ("http://[::1]:5000", "[::1]:5000"),
            ("http://[::1]", "[::1]:80"),
        ] {
            assert_eq!(
                loopback_address(url).map(|a| a.to_string()).as_deref(),
                Some(address),
                "{url}"
            );
        }
        for bad in [
            "https://127.0.0.1:5000",
            "127.0.0.1:5000",
            "http://10.0.0.1:5000",
            "http://example.com:5000",
            "http://127.0.0.1.example.com:5000",
            "http://localhost:5000@example.com",
            "http://user@127.0.0.1:5000",
            "http://127.0.0.1:5000/path",
            "http://127.0.0.1:port",
            "http://127.0.0.1:",
            "http://127.0.0.1:+5000",
            "http://127.0.0.1:99999",
            "http://[::2]:5000",
            "http://[::1]5000",
        ] {
            assert_eq!(loopback_address(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_running_emulator_must_be_on_loopback_and_answer() {
        let refused = Target::running_emulator("http://example.com:5000", "111122223333").await;
        assert!(
            matches!(refused, Err(MotoError::NotLoopback { .. })),
            "{refused:?}"
        );
        // A port nobody listens on (bound, then freed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let missing = Target::running_emulator(&url, "111122223333").await;
        assert!(
            matches!(&missing, Err(MotoError::NotRunning { url: u, .. }) if *u == url),
            "{missing:?}"
        );
    }

    #[test]
    fn a_moto_account_header_is_added_to_an_endpoint_override() {
        let sdk = SdkConfig::builder()
            .endpoint_url("http://localhost:4566")
            .build();
        let overridden = Target::from_sdk_config(sdk).with_moto_account("111122223333");
        assert_eq!(overridden.interceptors.len(), 1);
        assert!(!overridden.is_emulator());
    }

    #[test]
    fn aws_without_override_names_the_region() {
        let e = Endpoint::Aws {
            region: Some("us-west-2".into()),
        };
        assert!(e.to_string().starts_with("AWS us-west-2"), "{e}");
    }
}
