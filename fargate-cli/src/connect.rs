//! Where an invocation deploys: the local emulator (one `fargate` starts, or a moto server that
//! is already running, `FARGATE_MOTO_URL`) or your AWS config (`--aws`), and the moto account
//! to act in (`FARGATE_MOTO_ACCOUNT`). Everything here is decided before any AWS call.

use fargate_local::{Endpoint, LocalAccount, Target, random_account_id};

use crate::exit::Failure;

/// A moto server that is already running, used as the local emulator instead of starting one.
pub const MOTO_URL: &str = "FARGATE_MOTO_URL";
/// The moto account to act in (12 digits), on the emulator or on an endpoint override.
pub const MOTO_ACCOUNT: &str = "FARGATE_MOTO_ACCOUNT";

/// The target of an invocation and what to say about it.
pub struct Connection {
    pub target: Target,
    /// Notes for stderr (variables that are set but not used).
    pub notes: Vec<String>,
    /// With `--aws` on an endpoint override: the moto account `FARGATE_MOTO_ACCOUNT` selects.
    pub override_account: Option<String>,
    /// The emulator is a server named by `FARGATE_MOTO_URL`, not one this process started.
    pub running_emulator: bool,
    /// With `--aws`: `AWS_MAX_ATTEMPTS`, the attempts per AWS call instead of fargate-rs's
    /// default for real accounts (10).
    pub max_attempts: Option<u32>,
}

/// `AWS_MAX_ATTEMPTS`, checked: a whole number, at least 1.
fn max_attempts_var() -> Result<Option<u32>, Failure> {
    let Some(value) = var("AWS_MAX_ATTEMPTS") else {
        return Ok(None);
    };
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(Failure::setup(format!(
            "AWS_MAX_ATTEMPTS={value} is not a number of attempts (1 or more)"
        ))),
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `FARGATE_MOTO_ACCOUNT`, checked: 12 ASCII digits.
fn account_var() -> Result<Option<String>, Failure> {
    let Some(id) = var(MOTO_ACCOUNT) else {
        return Ok(None);
    };
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(id))
    } else {
        Err(Failure::setup(format!(
            "{MOTO_ACCOUNT}={id} is not an AWS account id (12 digits)"
        )))
    }
}

/// Chooses the target: `--aws` (your AWS config, and `AWS_MAX_ATTEMPTS`), a running moto
/// server (`FARGATE_MOTO_URL`), or a local emulator started now. `FARGATE_MOTO_ACCOUNT` picks the account on the emulator
/// (default: a new one) and, with `--aws`, on an endpoint override; with `--aws` on AWS itself
/// it is refused.
///
/// # Errors
/// A setup failure: a bad variable, or an emulator that cannot start.
pub async fn connect(aws: bool) -> Result<Connection, Failure> {
    let account = account_var()?;
    let url = var(MOTO_URL);
    if aws {
        let mut notes = Vec::new();
        if let Some(url) = &url {
            notes.push(format!(
                "{MOTO_URL}={url} is ignored: with --aws, fargate uses your AWS config \
                 (AWS_ENDPOINT_URL sets an endpoint)"
            ));
        }
        let max_attempts = max_attempts_var()?;
        let mut target = Target::from_env().await;
        if let Some(id) = &account {
            if !matches!(target.endpoint, Endpoint::Override { .. }) {
                return Err(Failure::setup(format!(
                    "{MOTO_ACCOUNT}={id} selects an account of a moto server, but --aws talks \
                     to {}: unset {MOTO_ACCOUNT}, or set AWS_ENDPOINT_URL to the moto server",
                    target.endpoint
                )));
            }
            target = target.with_moto_account(id.clone());
        }
        return Ok(Connection {
            target,
            notes,
            override_account: account,
            running_emulator: false,
            max_attempts,
        });
    }
    let running_emulator = url.is_some();
    let target = match url {
        Some(url) => Target::running_emulator(&url, account.unwrap_or_else(random_account_id))
            .await
            .map_err(|e| Failure::setup(format!("{MOTO_URL}: {e}{}", crate::exit::causes(&e))))?,
        None => {
            let started = match account {
                Some(id) => fargate_local::moto()
                    .await
                    .map(|server| Target::from_account(&LocalAccount::with_account_id(server, id))),
                None => Target::emulator().await,
            };
            started.map_err(|e| {
                Failure::setup(format!(
                    "the local AWS emulator cannot start: {e}{}",
                    crate::exit::causes(&e)
                ))
            })?
        }
    };
    Ok(Connection {
        target,
        notes: Vec::new(),
        override_account: None,
        running_emulator,
        max_attempts: None,
    })
}
