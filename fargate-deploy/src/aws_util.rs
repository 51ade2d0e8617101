//! Small helpers shared by the resource modules of the common layer (ECR, logs, IAM, cluster,
//! task definition): reading an optional resource, deciding a change, ownership tags.

use std::fmt;

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use fargate_core::tags::Ownership;
use fargate_core::{Change, Error, ResourceId, Tags};

/// The result of a read call in which some errors mean "the resource does not exist":
/// `Ok(None)` when `absent(code, message)` is true for the service error, the value otherwise.
///
/// # Errors
/// Any other failure, as [`Error::Aws`] naming `resource` and `operation`.
pub(crate) fn absent_when<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    absent: impl Fn(&str, &str) -> bool,
    resource: &ResourceId,
    operation: &str,
) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    fargate_core::ok_unless(result, resource, operation, |e| {
        absent(
            e.code().unwrap_or_default(),
            e.message().unwrap_or_default(),
        )
    })
}

/// [`absent_when`] for a fixed set of error codes.
///
/// # Errors
/// See [`absent_when`].
pub(crate) fn absent_on<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    codes: &[&str],
    resource: &ResourceId,
    operation: &str,
) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    absent_when(result, |code, _| codes.contains(&code), resource, operation)
}

/// The change of a kind fargate-rs either owns (`owned`: its field diff) or adopts as it is
/// (`owned` is `None`): an adopted object must exist (`missing` otherwise) and is shown by
/// `detail`.
///
/// # Errors
/// `missing()` for an adopted object that does not exist; what `diff` returns.
pub(crate) fn adopted_or_diffed<O>(
    owned: bool,
    observed: Option<&O>,
    detail: impl Fn(&O) -> String,
    missing: impl FnOnce() -> Error,
    diff: impl FnOnce(Option<&O>) -> Result<Change, Error>,
) -> Result<Change, Error> {
    match (owned, observed) {
        (false, Some(o)) => Ok(Change::Adopt { detail: detail(o) }),
        (false, None) => Err(missing()),
        (true, observed) => diff(observed),
    }
}

/// In destroy: delete what is ours and exists, leave an adopted object as it is.
pub(crate) fn adopted_or_deleted<O>(
    owned: bool,
    observed: Option<&O>,
    detail: impl Fn(&O) -> String,
) -> Change {
    match (owned, observed) {
        (_, None) => Change::NoOp,
        (false, Some(o)) => Change::Adopt { detail: detail(o) },
        (true, Some(_)) => Change::Delete,
    }
}

/// Every tag a new resource gets: the user's, the ownership tags and `Name`.
pub(crate) fn creation_tags(owner: &Ownership, user: &Tags, name: &str) -> Vec<(String, String)> {
    fargate_net::tagging::all_tags(owner, user, name)
}

/// Refuse to manage a resource whose tags do not show this ownership.
///
/// # Errors
/// [`Error::NotOwned`] naming the resource and what was found.
pub(crate) fn ensure_owned<'a>(
    owner: &Ownership,
    id: &ResourceId,
    found_as: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), Error> {
    fargate_net::tagging::ensure_owned(owner, id, found_as, tags)
}

/// [`ensure_owned`] for what an observation found: its ARN (or name) and its tags, or
/// `None` when nothing exists with our name (then there is nothing to refuse).
///
/// # Errors
/// [`Error::NotOwned`] when the resource exists without this ownership.
pub(crate) fn ensure_owned_if_found(
    owner: &Ownership,
    id: &ResourceId,
    found: Option<(&str, &[(String, String)])>,
) -> Result<(), Error> {
    match found {
        None => Ok(()),
        Some((found_as, tags)) => ensure_owned(
            owner,
            id,
            found_as,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
    }
}

/// An [`Error::Unexpected`] for a response that lacks a field the library needs.
pub(crate) fn missing(resource: &ResourceId, operation: &str, what: &str) -> Error {
    Error::Unexpected {
        resource: resource.clone(),
        operation: operation.to_string(),
        detail: format!("the response has no {what}"),
    }
}

/// An [`Error::Unexpected`] for a request the SDK refused to build (a bug in fargate-rs).
pub(crate) fn bad_request(resource: &ResourceId, operation: &str, e: impl fmt::Display) -> Error {
    Error::Unexpected {
        resource: resource.clone(),
        operation: operation.to_string(),
        detail: format!("the request could not be built: {e}"),
    }
}

/// The ARN of an ECR repository in this partition, region and account.
pub(crate) fn ecr_repository_arn(
    partition: &str,
    region: &str,
    account: &str,
    repository: &str,
) -> String {
    format!("arn:{partition}:ecr:{region}:{account}:repository/{repository}")
}

/// The URI of an ECR repository, `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<name>`.
pub(crate) fn ecr_repository_uri(region: &str, account: &str, repository: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{account}.dkr.ecr.{region}.{domain}/{repository}")
}

/// The ARN of a CloudWatch Logs log group, without the trailing `:*` some APIs add.
pub(crate) fn log_group_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{name}")
}

/// The ARN of an IAM role (IAM ARNs have no region; roles created by fargate-rs use path `/`).
pub(crate) fn role_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{name}")
}
