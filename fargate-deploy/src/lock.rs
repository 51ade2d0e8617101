//! The environment lock: a lease one deployer holds on an environment while it
//! mutates it, so two applies (or an apply and a destroy) of the same
//! environment never run at once.
//!
//! # The primitive: an SSM parameter created with `Overwrite = false`
//!
//! The lease is the SSM parameter `/fargate-rs/<environment>/lock`, a JSON
//! [`Lease`] (holder, token, operation, acquired, expires). SSM `PutParameter`
//! without overwrite is atomic: of two deployers that try at once exactly one
//! succeeds, the other gets `ParameterAlreadyExists`. SSM was chosen because it
//! is regional, needs no table or bucket to exist first (nothing to bootstrap
//! or clean up), costs nothing for standard parameters, and is readable with
//! one `GetParameter`. (DynamoDB conditional writes would be the other classic
//! choice, but need a table created and owned before the first apply.)
//!
//! - **Acquire**: create the parameter. If it exists and its lease is live, wait
//!   (polling, up to [`LockOptions::wait`]) or fail at once with
//!   [`LockError::Held`] naming the holder, when it started and when it expires.
//! - **Expiry**: a holder renews its lease every third of [`LockOptions::ttl`];
//!   a holder that died (`kill -9`, a lost machine) stops renewing and its
//!   lease expires after at most `ttl`. An expired lease is taken over with an
//!   overwrite, and the parameter's version history decides the winner when
//!   two deployers take over at once: the first version written after the
//!   expired one wins, the other backs off and waits.
//! - **Release**: the holder deletes the parameter (only if it still holds it).
//! - [`force_unlock`] deletes the parameter whoever holds it (the CLI's
//!   `--force-unlock`), for a holder known to be gone.
//!
//! A holder whose renewal finds another token in the parameter has lost the
//! lease (it stalled for longer than the ttl): it stops starting new steps and
//! the apply fails with [`LockError::Lost`]; re-running apply converges.
//!
//! Expiry compares the local clock with the parameter's server-side
//! `LastModifiedDate`; deployers' clocks must agree to within a small part of
//! the ttl (any NTP-synchronized machine does).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ssm::types::ParameterType;
use fargate_core::exec::CancellationToken;
use fargate_core::{AwsResultExt, Error, Ident, ResourceId};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::Clients;

/// How the environment lock behaves.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// How long a lease lives without renewal (default 2 minutes). A crashed
    /// holder's lease is free after at most this long.
    pub ttl: Duration,
    /// How long to wait for another holder to finish (default 0: fail at once
    /// with [`LockError::Held`]).
    pub wait: Duration,
    /// Who holds the lease, as other deployers see it (default
    /// `user@host pid N`).
    pub holder: String,
    /// Take no lock at all (default false). Only for embedders that serialize
    /// deploys themselves.
    pub disabled: bool,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(120),
            wait: Duration::ZERO,
            holder: default_holder(),
            disabled: false,
        }
    }
}

/// The lease as stored in the lock parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it (for people).
    pub holder: String,
    /// A random token that tells holders apart (two processes of one user on one host).
    pub token: String,
    /// What the holder is doing (`apply`, `destroy`, `rollback`).
    pub operation: String,
    /// When the lease was first taken, seconds since the Unix epoch.
    pub acquired: u64,
    /// The lease's time to live after each renewal, in seconds.
    pub ttl_secs: u64,
    /// When it was last written (server time, seconds since the Unix epoch);
    /// not stored, filled from the parameter's `LastModifiedDate`.
    #[serde(skip)]
    pub renewed: u64,
}

impl Lease {
    /// When the lease expires unless renewed, seconds since the Unix epoch.
    pub fn expires(&self) -> u64 {
        self.renewed.saturating_add(self.ttl_secs)
    }

    /// Whether the lease has expired at `now` (seconds since the Unix epoch).
    pub fn expired_at(&self, now: u64) -> bool {
        now >= self.expires()
    }
}

impl std::fmt::Display for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) since {}, expires {}",
            self.holder,
            self.operation,
            timestamp(self.acquired),
            timestamp(self.expires())
        )
    }
}

/// Why the environment lock could not be taken or was lost.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another deployer holds the environment.
    #[error(
        "environment {environment} is locked by {lease}; wait for it, or if that holder is gone run with --force-unlock (the lease expires by itself at the time shown)"
    )]
    Held {
        /// The environment.
        environment: String,
        /// The live lease.
        lease: Box<Lease>,
    },
    /// This deployer's lease was taken over (it stalled for longer than the ttl).
    #[error(
        "the lock on environment {environment} was taken over by {by} while this deployer held it; no new steps were started, run apply again"
    )]
    Lost {
        /// The environment.
        environment: String,
        /// Who holds it now.
        by: String,
    },
    /// The environment was changed by another deployer after the plan was made.
    #[error(
        "environment {environment} changed after this plan was made ({by}); plan again and review the new plan"
    )]
    Stale {
        /// The environment.
        environment: String,
        /// Who applied since, and when.
        by: String,
    },
    /// The lock parameter holds something that is not a lease.
    #[error("the lock parameter {parameter} does not hold a fargate-rs lease: {detail}")]
    Corrupt {
        /// The parameter name.
        parameter: String,
        /// What is wrong.
        detail: String,
    },
}

/// The SSM parameter whose version counts the applies of `environment` that
/// changed something (see [`generation`]).
pub fn applied_parameter_name(environment: &Ident) -> String {
    format!("/fargate-rs/{environment}/applied")
}

/// Which change of the environment a plan was made against: the version of
/// the `applied` parameter (SSM counts versions), and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Generation {
    /// The parameter's version; `None` before the first apply.
    pub version: Option<i64>,
    /// Who applied last, what and when (for the stale-plan error).
    pub last: String,
}

/// The environment's current [`Generation`] (one `GetParameter`).
///
/// # Errors
/// AWS errors.
pub async fn generation(clients: &Clients, environment: &Ident) -> Result<Generation, Error> {
    match clients
        .ssm
        .get_parameter()
        .name(applied_parameter_name(environment))
        .send()
        .await
    {
        Ok(out) => Ok(Generation {
            version: out.parameter().map(|p| p.version()),
            last: out
                .parameter()
                .and_then(|p| p.value())
                .unwrap_or_default()
                .to_string(),
        }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_not_found()) =>
        {
            Ok(Generation::default())
        }
        Err(e) => Err(Error::from_sdk(lock_id(environment), "GetParameter", e)),
    }
}

/// Record that the holder of `lease` changed the environment (a new generation).
///
/// # Errors
/// AWS errors.
pub(crate) async fn bump(
    clients: &Clients,
    environment: &Ident,
    lease: &Lease,
) -> Result<(), Error> {
    let value = format!(
        "{} ({}) at {}",
        lease.holder,
        lease.operation,
        timestamp(now_secs())
    );
    clients
        .ssm
        .put_parameter()
        .name(applied_parameter_name(environment))
        .value(value)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .context(lock_id(environment), "PutParameter")?;
    Ok(())
}

/// Refuse a plan made against an older generation of the environment.
///
/// # Errors
/// [`LockError::Stale`] (as [`Error::Failed`]); AWS errors.
pub(crate) async fn ensure_current(
    clients: &Clients,
    environment: &Ident,
    planned: &Generation,
) -> Result<(), Error> {
    let now = generation(clients, environment).await?;
    if now.version == planned.version {
        return Ok(());
    }
    Err(failed(
        environment,
        LockError::Stale {
            environment: environment.to_string(),
            by: if now.last.is_empty() {
                "its state was reset".to_string()
            } else {
                format!("applied by {}", now.last)
            },
        },
    ))
}

/// The SSM parameter that holds `environment`'s lease.
pub fn parameter_name(environment: &Ident) -> String {
    format!("/fargate-rs/{environment}/lock")
}

fn lock_id(environment: &Ident) -> ResourceId {
    ResourceId::new("ssm:lock", environment.to_string())
}

fn failed(environment: &Ident, e: LockError) -> Error {
    Error::Failed {
        resource: lock_id(environment),
        source: Box::new(e),
    }
}

/// A held lease: renewed in the background until [`LockGuard::release`].
/// Dropping the guard without releasing stops renewal (the lease then expires).
#[derive(Debug)]
pub struct LockGuard {
    clients: Clients,
    environment: Ident,
    lease: Lease,
    stop: CancellationToken,
    lost: Arc<std::sync::Mutex<Option<String>>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl LockGuard {
    /// The environment locked.
    pub fn environment(&self) -> &Ident {
        &self.environment
    }

    /// The lease held.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Whether the lease was lost, and to whom.
    pub fn lost_to(&self) -> Option<String> {
        self.lost
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Stop renewing and delete the lease if this deployer still holds it.
    ///
    /// # Errors
    /// AWS errors reading or deleting the parameter.
    pub async fn release(self) -> Result<(), Error> {
        self.release_after(async {}).await.1
    }

    /// Run `last` (the holder's last write, such as recording the environment's new
    /// generation) while checking that the lease is still held, then release it: the
    /// check's `GetParameter` overlaps `last`, and the lease is deleted only after `last`
    /// finished, so nobody can take the lock before it is done.
    pub(crate) async fn release_after<T>(
        mut self,
        last: impl Future<Output = T>,
    ) -> (T, Result<(), Error>) {
        self.stop.cancel();
        let renewer = self.renewer.take();
        let check = async {
            if let Some(r) = renewer {
                let _ = r.await;
            }
            read(&self.clients, &self.environment).await
        };
        let (done, current) = tokio::join!(last, check);
        let released = match current {
            Ok(current)
                if current
                    .as_ref()
                    .is_some_and(|l| l.token == self.lease.token) =>
            {
                delete(&self.clients, &self.environment).await
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        (done, released)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Take the environment lock for `operation`, waiting up to `options.wait`
/// for another holder. `on_lost` is cancelled when the lease is lost.
///
/// # Errors
/// [`LockError::Held`] (as [`Error::Failed`]) when another deployer holds a
/// live lease after the wait; AWS errors.
pub async fn acquire(
    clients: &Clients,
    environment: &Ident,
    operation: &str,
    options: &LockOptions,
    on_lost: CancellationToken,
) -> Result<LockGuard, Error> {
    let span = tracing::info_span!("lock.acquire", environment = %environment, operation);
    async {
        let ttl_secs = options.ttl.as_secs().max(1);
        let lease = Lease {
            holder: options.holder.clone(),
            token: new_token(),
            operation: operation.to_string(),
            acquired: now_secs(),
            ttl_secs,
            renewed: 0,
        };
        let deadline = tokio::time::Instant::now() + options.wait;
        let mut pause = Duration::from_millis(250);
        loop {
            match try_take(clients, environment, &lease).await? {
                None => break,
                Some(other) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(failed(
                            environment,
                            LockError::Held {
                                environment: environment.to_string(),
                                lease: Box::new(other),
                            },
                        ));
                    }
                    tracing::info!(holder = %other, "environment is locked; waiting");
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
        let stop = CancellationToken::new();
        let lost = Arc::new(std::sync::Mutex::new(None));
        let renewer = tokio::spawn(renew_loop(
            clients.clone(),
            environment.clone(),
            lease.clone(),
            Duration::from_secs(ttl_secs).div_f64(3.0),
            stop.clone(),
            lost.clone(),
            on_lost,
        ));
        Ok(LockGuard {
            clients: clients.clone(),
            environment: environment.clone(),
            lease,
            stop,
            lost,
            renewer: Some(renewer),
        })
    }
    .instrument(span)
    .await
}

/// One attempt: `None` when `lease` is now held, or the live lease of another holder.
async fn try_take(
    clients: &Clients,
    environment: &Ident,
    lease: &Lease,
) -> Result<Option<Lease>, Error> {
    let name = parameter_name(environment);
    let value = encode(lease)?;
    let put = clients
        .ssm
        .put_parameter()
        .name(&name)
        .value(&value)
        .r#type(ParameterType::String)
        .description("fargate-rs environment lock (see fargate_deploy::lock)")
        .overwrite(false)
        .send()
        .await;
    match put {
        Ok(_) => return Ok(None),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_already_exists()) => {}
        Err(e) => return Err(Error::from_sdk(lock_id(environment), "PutParameter", e)),
    }
    let Some((current, version)) = read_versioned(clients, environment).await? else {
        // Released between our put and our read: try again at once.
        return Box::pin(try_take(clients, environment, lease)).await;
    };
    if current.token == lease.token {
        // Our own create whose reply was lost and retried.
        return Ok(None);
    }
    if !current.expired_at(now_secs()) {
        return Ok(Some(current));
    }
    // The holder stopped renewing: take over, and let the version history
    // decide between takers.
    tracing::warn!(expired = %current, "taking over an expired environment lease");
    clients
        .ssm
        .put_parameter()
        .name(&name)
        .value(&value)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .context(lock_id(environment), "PutParameter")?;
    let history = clients
        .ssm
        .get_parameter_history()
        .name(&name)
        .send()
        .await
        .context(lock_id(environment), "GetParameterHistory")?;
    let first_after = history
        .parameters()
        .iter()
        .filter(|p| p.version() > version)
        .min_by_key(|p| p.version());
    match first_after.and_then(|p| p.value()).map(decode) {
        Some(Ok(winner)) if winner.token == lease.token => Ok(None),
        Some(Ok(winner)) => Ok(Some(Lease {
            renewed: now_secs(),
            ..winner
        })),
        _ => Ok(Some(current)),
    }
}

async fn renew_loop(
    clients: Clients,
    environment: Ident,
    lease: Lease,
    every: Duration,
    stop: CancellationToken,
    lost: Arc<std::sync::Mutex<Option<String>>>,
    on_lost: CancellationToken,
) {
    let value = match encode(&lease) {
        Ok(v) => v,
        Err(_) => return,
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let span = tracing::debug_span!("lock.renew", environment = %environment);
        let outcome = async {
            match read(&clients, &environment).await {
                Ok(Some(current)) if current.token != lease.token => Err(current.holder),
                Ok(_) => {
                    let r = clients
                        .ssm
                        .put_parameter()
                        .name(parameter_name(&environment))
                        .value(&value)
                        .r#type(ParameterType::String)
                        .overwrite(true)
                        .send()
                        .await;
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "could not renew the environment lease; retrying");
                    }
                    Ok(())
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the environment lease; retrying");
                    Ok(())
                }
            }
        }
        .instrument(span)
        .await;
        if let Err(by) = outcome {
            tracing::error!(by = %by, "the environment lease was taken over");
            if let Ok(mut g) = lost.lock() {
                *g = Some(by);
            }
            on_lost.cancel();
            return;
        }
    }
}

/// The current lease of `environment`, if any.
///
/// # Errors
/// AWS errors; [`LockError::Corrupt`] when the parameter holds no lease.
pub async fn read(clients: &Clients, environment: &Ident) -> Result<Option<Lease>, Error> {
    Ok(read_versioned(clients, environment).await?.map(|(l, _)| l))
}

async fn read_versioned(
    clients: &Clients,
    environment: &Ident,
) -> Result<Option<(Lease, i64)>, Error> {
    let out = clients
        .ssm
        .get_parameter()
        .name(parameter_name(environment))
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_not_found()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::from_sdk(lock_id(environment), "GetParameter", e)),
    };
    let Some(p) = out.parameter() else {
        return Ok(None);
    };
    let mut lease = decode(p.value().unwrap_or_default()).map_err(|detail| {
        failed(
            environment,
            LockError::Corrupt {
                parameter: parameter_name(environment),
                detail,
            },
        )
    })?;
    lease.renewed = p
        .last_modified_date()
        .and_then(|d| u64::try_from(d.secs()).ok())
        .unwrap_or_else(now_secs);
    Ok(Some((lease, p.version())))
}

async fn delete(clients: &Clients, environment: &Ident) -> Result<(), Error> {
    delete_parameter(clients, &lock_id(environment), &parameter_name(environment)).await
}

/// Delete the SSM parameter `name`; one that is already gone (a retried delete
/// whose first attempt was applied) is done.
pub(crate) async fn delete_parameter(
    clients: &Clients,
    id: &ResourceId,
    name: &str,
) -> Result<(), Error> {
    let out = clients.ssm.delete_parameter().name(name).send().await;
    fargate_core::ok_unless(out, id, "DeleteParameter", |e| e.is_parameter_not_found()).map(drop)
}

/// Remove `environment`'s generation marker (destroying the whole environment
/// ends its history).
pub(crate) async fn forget(clients: &Clients, environment: &Ident) -> Result<(), Error> {
    delete_parameter(
        clients,
        &lock_id(environment),
        &applied_parameter_name(environment),
    )
    .await
}

/// Remove `environment`'s lease whoever holds it, and return it. Use only when
/// the holder is known to be gone.
///
/// # Errors
/// AWS errors.
pub async fn force_unlock(clients: &Clients, environment: &Ident) -> Result<Option<Lease>, Error> {
    let span = tracing::warn_span!("lock.force_unlock", environment = %environment);
    async {
        let current = read(clients, environment).await.unwrap_or(None);
        delete(clients, environment).await?;
        Ok(current)
    }
    .instrument(span)
    .await
}

fn encode(lease: &Lease) -> Result<String, Error> {
    serde_json::to_string(lease).map_err(|e| Error::Unexpected {
        resource: ResourceId::new("ssm:lock", lease.holder.clone()),
        operation: "encode lease".into(),
        detail: e.to_string(),
    })
}

fn decode(value: &str) -> Result<Lease, String> {
    serde_json::from_str(value).map_err(|e| e.to_string())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn timestamp(secs: u64) -> String {
    let t = aws_smithy_types::DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX));
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

fn new_token() -> String {
    use sha2::Digest;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!(
        "{}:{}:{}:{}",
        default_holder(),
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn default_holder() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host} pid {}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_round_trips_and_expires_after_ttl() {
        let lease = Lease {
            holder: "ci@runner pid 7".into(),
            token: new_token(),
            operation: "apply".into(),
            acquired: 1_000,
            ttl_secs: 120,
            renewed: 1_060,
        };
        let back = decode(&encode(&lease).unwrap()).unwrap();
        assert_eq!(back.token, lease.token);
        assert_eq!(
            back.renewed, 0,
            "renewal time comes from the server, not the value"
        );
        assert!(!lease.expired_at(1_179));
        assert!(lease.expired_at(1_180));
        let shown = lease.to_string();
        assert!(shown.contains("ci@runner pid 7 (apply)"), "{shown}");
        assert!(shown.contains("1970-01-01T00:19:40Z"), "{shown}");
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(new_token(), new_token());
    }
}
