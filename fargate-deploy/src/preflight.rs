//! Checks made before anything changes: the input ([`validate`], pure, before any AWS call)
//! and what the apps reference in AWS ([`check`], read-only, in the plan's observe round).
//!
//! - [`validate`] takes the environment and the apps as the [`crate::Deployer`] would plan
//!   them and checks, with no AWS call: app names (unique in the environment, none reserved:
//!   [`RESERVED_APP_NAMES`]), what apps ask of the shared load balancers (NLB ports, explicit
//!   ALB rule priorities, paths and hosts, at most 100 rules on the ALB), and that every app's
//!   resources can be described. Default rule priorities may coincide: the plan allocates free
//!   ones against the listener's rules. Call it before [`crate::Deployer::new`] (whose STS
//!   `GetCallerIdentity` is the first AWS call); [`crate::Deployer::plan`] calls it too.
//! - [`check`] looks, with read-only calls all made at once, for what a deploy needs but does
//!   not create: the image of an app deployed from its own ECR repository
//!   (`DescribeImages`), the Secrets Manager secrets (`DescribeSecret`) and SSM parameters
//!   (`DescribeParameters`, filtered by name) its containers reference. Only metadata is read,
//!   never a secret's value. What is missing is a [`PreflightError`]: the plan lists it in its
//!   notes and [`crate::Deployer::apply`] refuses the plan with it before any change. What
//!   could not be checked, or will be fine once applied (an app repository that this apply
//!   creates), is a note.
//!
//! The deployer's credentials need `ecr:DescribeImages`, `secretsmanager:DescribeSecret` and
//! `ssm:DescribeParameters` for these checks; without them a check is skipped with a note.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_ssm::types::ParameterStringFilter;
use fargate_core::resource::{BoxFuture, futures_join_all};
use fargate_core::{
    EcrRepositoryName, Error, Ident, InvalidValue, Mode, ResourceId, SecretRef,
    error::sdk_error_code, secret::SecretKind,
};

use crate::deployer::{App, ApplyError};
use crate::ecr::EcrError;
use crate::environment::Environment;
use crate::{AwsContext, Clients};

/// App names that are refused, each with the reason.
///
/// `then` separates the steps of one invocation of the `fargate` command-line tool
/// (`fargate -f app.json apply then status web then destroy`): an app called `then` could not
/// be named in its `status`, `run`, `logs` or `rollback` steps.
pub const RESERVED_APP_NAMES: [(&str, &str); 1] = [(
    "then",
    "is reserved: the fargate command line separates chained steps with `then` \
     (`fargate apply then status web`), so an app called `then` could not be named in a step",
)];

/// Refuse a reserved app name ([`RESERVED_APP_NAMES`]).
///
/// # Errors
/// An [`InvalidValue`] for field `name` saying why the name is reserved.
pub fn check_app_name(name: &Ident) -> Result<(), InvalidValue> {
    match RESERVED_APP_NAMES
        .iter()
        .find(|(reserved, _)| *reserved == name.as_str())
    {
        Some((_, why)) => Err(InvalidValue::new(
            "name",
            name.as_str(),
            *why,
            "any other app name (lowercase letters, digits and single hyphens)",
        )),
        None => Ok(()),
    }
}

/// The placeholder account the dry build of [`validate`] describes resources in: resource
/// shapes do not depend on the account or region, only ARNs do.
fn placeholder_aws() -> AwsContext {
    AwsContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
    }
}

/// Check the apps of `env` as a plan would use them, with no AWS call: app names are not
/// reserved and unique in the environment, apps sharing the environment's load balancers do
/// not clash (NLB listener ports, explicit ALB rule priorities, same paths and hosts, more
/// than the 100 rules an ALB takes), and every app's resources can be described (a dry build
/// in a placeholder account).
///
/// The builders already check their own input at `build()`; this checks what only shows with
/// all the apps together. Call it before [`crate::Deployer::new`], which makes the first AWS
/// call; [`crate::Deployer::plan`] calls it again.
///
/// ```
/// use fargate_deploy::{ContainerService, Environment, preflight::validate};
/// let env = Environment::builder().name("staging").build()?;
/// let a = ContainerService::builder().name("worker").image("busybox:1.36").build()?;
/// let b = ContainerService::builder().name("worker").image("busybox:1.37").build()?;
/// let err = validate(&env, &[&a, &b]).unwrap_err();
/// assert!(err.to_string().contains("two apps in one environment have this name"), "{err}");
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Invalid`] naming the app and the field, with what is allowed.
pub fn validate(env: &Environment, apps: &[&dyn App]) -> Result<(), Error> {
    let mut names = HashSet::new();
    for a in apps {
        check_app_name(a.name())?;
        if !names.insert(a.name().as_str()) {
            return Err(InvalidValue::new(
                "app name",
                a.name().as_str(),
                "two apps in one environment have this name",
                "a unique name per app",
            )
            .into());
        }
    }
    crate::shared_lb::check_apps(apps)?;
    let claims: Vec<_> = apps
        .iter()
        .flat_map(|a| a.service_connect_claims(env))
        .collect();
    crate::service_connect::check_claims(&claims)?;
    let aws = placeholder_aws();
    for a in apps {
        a.resources(env, &aws)?;
    }
    Ok(())
}

/// What an app needs to exist before it is deployed (see
/// [`crate::apps::AppSettings::preflight`]).
#[derive(Debug, Clone)]
pub struct Requirements {
    /// The app.
    pub app: Ident,
    /// Its image when it comes from the app's own ECR repository: the repository and the tag
    /// (or `sha256:` digest).
    pub ecr_image: Option<(EcrRepositoryName, String)>,
    /// The secrets its containers reference, by variable name (`<container>.<NAME>` for a
    /// sidecar's).
    pub secrets: Vec<(String, SecretRef)>,
}

/// Something a deploy needs that is missing: [`crate::Deployer::apply`] refuses the plan
/// with it (inside [`Error::Failed`]) before any change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PreflightError {
    /// The app's image is not in its ECR repository (the repository exists): its tasks could
    /// not pull it.
    #[error(
        "app {app}: image {image} is not in its ECR repository {repository}: push it first \
         (docker push {image}), then apply"
    )]
    ImageNotPushed {
        /// The app.
        app: String,
        /// The repository.
        repository: String,
        /// The full image reference.
        image: String,
    },
    /// A Secrets Manager secret an app's variable is set from does not exist (or is scheduled
    /// for deletion): its tasks could not start.
    #[error("app {app}: {env_var} is set from the Secrets Manager secret {secret}, which {reason}")]
    SecretNotFound {
        /// The app.
        app: String,
        /// The environment variable (`<container>.<NAME>` for a sidecar's).
        env_var: String,
        /// The secret reference as given.
        secret: String,
        /// `does not exist` or `is scheduled for deletion`.
        reason: String,
    },
    /// An SSM parameter an app's variable is set from does not exist: its tasks could not
    /// start.
    #[error("app {app}: {env_var} is set from the SSM parameter {parameter}, which does not exist")]
    ParameterNotFound {
        /// The app.
        app: String,
        /// The environment variable (`<container>.<NAME>` for a sidecar's).
        env_var: String,
        /// The parameter reference as given.
        parameter: String,
    },
}

impl PreflightError {
    /// The resource concerned, as plans and errors name it.
    pub fn resource(&self) -> ResourceId {
        match self {
            PreflightError::ImageNotPushed { image, .. } => ResourceId::new("ecr:image", image),
            PreflightError::SecretNotFound { secret, .. } => {
                ResourceId::new("secretsmanager:secret", secret)
            }
            PreflightError::ParameterNotFound { parameter, .. } => {
                ResourceId::new("ssm:parameter", parameter)
            }
        }
    }
}

/// What [`check`] found: what blocks an apply, and notes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Preflight {
    /// What is missing; apply refuses the plan.
    pub blockers: Vec<PreflightError>,
    /// What could not be checked, or will be fine once applied.
    pub notes: Vec<String>,
}

impl Preflight {
    /// Whether nothing blocks an apply.
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }

    /// The lines the plan shows: one per blocker (`error: ...`), then the notes.
    pub fn plan_notes(&self) -> Vec<String> {
        self.blockers
            .iter()
            .map(|b| format!("error: {b} (apply refuses this plan until it is fixed)"))
            .chain(self.notes.iter().cloned())
            .collect()
    }
}

/// Refuse to apply a plan whose pre-flight checks found something missing: the first
/// [`PreflightError`] as the error (inside [`Error::Failed`]), the others as
/// `other_failures`, nothing started.
///
/// # Errors
/// The [`ApplyError`] when there is a blocker.
// The error is the one `Deployer::apply` returns, as it is.
#[allow(clippy::result_large_err)]
pub(crate) fn refuse(
    preflight: &Preflight,
    calls: fargate_core::CallSummary,
) -> Result<(), ApplyError> {
    let Some(first) = preflight.blockers.first() else {
        return Ok(());
    };
    Err(ApplyError {
        failed_step: "preflight".into(),
        source: Error::Failed {
            resource: first.resource(),
            source: Box::new(first.clone()),
        },
        other_failures: preflight
            .blockers
            .iter()
            .skip(1)
            .map(|b| ("preflight".to_string(), b.to_string()))
            .collect(),
        finished: Vec::new(),
        not_started: Vec::new(),
        calls,
    })
}

/// One distinct look-up: the same secret referenced by several apps is described once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Lookup {
    Image(EcrRepositoryName, String),
    Secret(String),
    Parameter(Vec<String>),
}

/// What one look-up found.
enum Found {
    Yes,
    Missing(String),
    RepositoryMissing(String),
    NotChecked(String),
}

/// The pre-flight checks of `apps` in [`Mode::Apply`] (none in [`Mode::Destroy`]): every
/// look-up made at once, each distinct one once. Secrets and parameters of another region or
/// account than the clients' are not checked (a note says so).
///
/// # Errors
/// An AWS error other than "not found" or "access denied" (those are findings and notes).
pub async fn check(
    clients: &Clients,
    env: &Environment,
    apps: &[&dyn App],
    mode: Mode,
) -> Result<Preflight, Error> {
    let mut out = Preflight::default();
    if mode == Mode::Destroy {
        return Ok(out);
    }
    // Who needs each look-up: (app, variable or image, the reference as given).
    let mut users: BTreeMap<Lookup, Vec<(String, String, String)>> = BTreeMap::new();
    for req in apps.iter().filter_map(|a| a.preflight(env)) {
        let app = req.app.to_string();
        if let Some((repo, tag)) = &req.ecr_image {
            users
                .entry(Lookup::Image(repo.clone(), tag.clone()))
                .or_default()
                .push((app.clone(), String::new(), tag.clone()));
        }
        for (var, secret) in &req.secrets {
            let given = secret.value_from().to_string();
            if let Some((region, account)) = secret.region_and_account()
                && (region != clients.aws.region || account != clients.aws.account_id)
            {
                out.notes.push(format!(
                    "app {app}: {var} is set from {given}, in region {region} of account \
                     {account}; not checked (fargate-rs checks secrets of its own account and \
                     region, {} of {})",
                    clients.aws.region, clients.aws.account_id
                ));
                continue;
            }
            let lookup = match secret.kind() {
                SecretKind::SecretsManager => {
                    secret.secret_id().map(|id| Lookup::Secret(id.into()))
                }
                SecretKind::SsmParameter => Some(Lookup::Parameter(secret.parameter_names())),
            };
            if let Some(lookup) = lookup {
                users
                    .entry(lookup)
                    .or_default()
                    .push((app.clone(), var.clone(), given));
            }
        }
    }
    let lookups: Vec<Lookup> = users.keys().cloned().collect();
    let results = futures_join_all(
        lookups
            .iter()
            .map(|l| -> BoxFuture<'_, Result<Found, Error>> { Box::pin(look_up(clients, l)) }),
    )
    .await;
    for (lookup, result) in lookups.iter().zip(results) {
        let found = result?;
        for (app, var, given) in users.get(lookup).into_iter().flatten() {
            match (&found, lookup) {
                (Found::Yes, _) => {}
                (Found::NotChecked(why), _) => {
                    out.notes
                        .push(format!("app {app}: {given} not checked: {why}"));
                }
                (Found::RepositoryMissing(image), Lookup::Image(repo, _)) => {
                    out.notes.push(format!(
                        "app {app}: ECR repository {repo} does not exist yet; this apply creates \
                         it. Push {image} to it: until then the app's tasks cannot start"
                    ));
                }
                (Found::Missing(image), Lookup::Image(repo, _)) => {
                    out.blockers.push(PreflightError::ImageNotPushed {
                        app: app.clone(),
                        repository: repo.to_string(),
                        image: image.clone(),
                    });
                }
                (Found::Missing(reason), Lookup::Secret(_)) => {
                    out.blockers.push(PreflightError::SecretNotFound {
                        app: app.clone(),
                        env_var: var.clone(),
                        secret: given.clone(),
                        reason: reason.clone(),
                    });
                }
                (Found::Missing(_), Lookup::Parameter(_)) => {
                    out.blockers.push(PreflightError::ParameterNotFound {
                        app: app.clone(),
                        env_var: var.clone(),
                        parameter: given.clone(),
                    });
                }
                // Only image look-ups find a missing repository.
                (Found::RepositoryMissing(_), Lookup::Secret(_) | Lookup::Parameter(_)) => {}
            }
        }
    }
    Ok(out)
}

async fn look_up(clients: &Clients, lookup: &Lookup) -> Result<Found, Error> {
    match lookup {
        Lookup::Image(repo, tag) => image(clients, repo, tag).await,
        Lookup::Secret(id) => secret(clients, id).await,
        Lookup::Parameter(names) => parameter(clients, names).await,
    }
}

async fn image(clients: &Clients, repo: &EcrRepositoryName, tag: &str) -> Result<Found, Error> {
    match crate::ecr::ensure_image_exists(clients, repo, tag).await {
        Ok(()) => Ok(Found::Yes),
        Err(Error::Failed { source, resource }) => match source.downcast_ref::<EcrError>() {
            Some(EcrError::ImageNotFound { image, .. }) => Ok(Found::Missing(image.clone())),
            Some(EcrError::RepositoryNotFound { uri, .. }) => {
                let sep = if tag.starts_with("sha256:") { '@' } else { ':' };
                Ok(Found::RepositoryMissing(format!("{uri}{sep}{tag}")))
            }
            _ => Err(Error::Failed { source, resource }),
        },
        Err(e) if e.aws_code().is_some_and(is_access_denied) => Ok(Found::NotChecked(
            "no permission to call ecr:DescribeImages".into(),
        )),
        Err(e) => Err(e),
    }
}

fn is_access_denied(code: &str) -> bool {
    matches!(code, "AccessDeniedException" | "AccessDenied")
}

#[tracing::instrument(skip(clients))]
async fn secret(clients: &Clients, id: &str) -> Result<Found, Error> {
    let result = clients.secrets.describe_secret().secret_id(id).send().await;
    match result {
        Ok(out) if out.deleted_date().is_some() => {
            Ok(Found::Missing("is scheduled for deletion".into()))
        }
        Ok(_) => Ok(Found::Yes),
        Err(e) => match sdk_error_code(&e) {
            Some("ResourceNotFoundException") => Ok(Found::Missing("does not exist".into())),
            Some(code) if is_access_denied(code) => Ok(Found::NotChecked(
                "no permission to call secretsmanager:DescribeSecret".into(),
            )),
            _ => Err(Error::from_sdk(
                ResourceId::new("secretsmanager:secret", id),
                "DescribeSecret",
                e,
            )),
        },
    }
}

/// The most pages of `DescribeParameters` read for one name (it may answer a filtered query
/// with empty pages and a next token).
const MAX_PARAMETER_PAGES: usize = 20;

#[tracing::instrument(skip(clients))]
async fn parameter(clients: &Clients, names: &[String]) -> Result<Found, Error> {
    let shown = names.first().cloned().unwrap_or_default();
    let id = ResourceId::new("ssm:parameter", &shown);
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .set_values(Some(names.to_vec()))
        .build()
        .map_err(|e| Error::Unexpected {
            resource: id.clone(),
            operation: "DescribeParameters".into(),
            detail: format!("the name filter could not be built: {e}"),
        })?;
    let mut token: Option<String> = None;
    for _ in 0..MAX_PARAMETER_PAGES {
        let result = clients
            .ssm
            .describe_parameters()
            .parameter_filters(filter.clone())
            .set_next_token(token.take())
            .send()
            .await;
        let page = match result {
            Ok(page) => page,
            Err(e) => {
                return match sdk_error_code(&e) {
                    Some(code) if is_access_denied(code) => Ok(Found::NotChecked(
                        "no permission to call ssm:DescribeParameters".into(),
                    )),
                    _ => Err(Error::from_sdk(&id, "DescribeParameters", e)),
                };
            }
        };
        if page
            .parameters()
            .iter()
            .any(|p| p.name().is_some_and(|n| names.iter().any(|x| x == n)))
        {
            return Ok(Found::Yes);
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(Found::Missing("does not exist".into())),
        }
    }
    Ok(Found::NotChecked(format!(
        "DescribeParameters gave no answer in {MAX_PARAMETER_PAGES} pages"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn then_is_reserved_with_its_reason() {
        let e = check_app_name(&"then".parse().unwrap()).unwrap_err();
        assert_eq!(e.field, "name");
        assert_eq!(e.value, "then");
        assert!(e.reason.contains("separates chained steps"), "{e}");
        assert!(check_app_name(&"thenext".parse().unwrap()).is_ok());
        assert!(check_app_name(&"web".parse().unwrap()).is_ok());
    }

    #[test]
    fn refusal_carries_every_blocker() {
        let blocker = |app: &str| PreflightError::ParameterNotFound {
            app: app.into(),
            env_var: "TOKEN".into(),
            parameter: "/prod/token".into(),
        };
        let none = Preflight::default();
        assert!(refuse(&none, Default::default()).is_ok());
        let two = Preflight {
            blockers: vec![blocker("a"), blocker("b")],
            notes: vec!["note".into()],
        };
        let e = refuse(&two, Default::default()).unwrap_err();
        assert_eq!(e.failed_step, "preflight");
        match &e.source {
            Error::Failed { resource, source } => {
                assert_eq!(resource, &ResourceId::new("ssm:parameter", "/prod/token"));
                assert_eq!(source.downcast_ref::<PreflightError>(), Some(&blocker("a")));
            }
            other => panic!("{other}"),
        }
        assert_eq!(e.other_failures.len(), 1);
        let notes = two.plan_notes();
        assert!(notes[0].starts_with("error: app a: TOKEN is set from the SSM parameter /prod/token, which does not exist"), "{notes:?}");
        assert_eq!(notes[2], "note");
    }
}
