//! What the EC2 resource kinds of the network and the security groups share:
//! picking the object we own out of a describe answer, refusing changes AWS
//! cannot make in place, deleting while dependents (ENIs) linger, and waiting
//! for an object to become available or to be gone.

use std::future::Future;

use aws_sdk_ec2::types::{Filter, Tag};
pub(crate) use fargate_core::resource::all_concurrently;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until, retry_eventual};
use fargate_core::{Change, Error, FieldDiff, Fields, ResourceId, StepContext};

use super::NetworkError;
use crate::tagging::{ec2_tag_pairs, ensure_owned};

/// The EC2 error code for "something still uses this object".
pub(crate) const DEPENDENCY_VIOLATION: &str = "DependencyViolation";

/// A wait for an EC2 object to become available or, when `want_deleted`, to
/// be deleted or gone ([`AvailableOrGone::wait`]).
pub(crate) struct AvailableOrGone<'a> {
    /// The resource the wait belongs to (for progress and errors).
    pub(crate) rid: &'a ResourceId,
    /// The object, as progress and timeouts name it (e.g. "NAT gateway nat-0abc").
    pub(crate) what: String,
    /// Wait for deletion instead of availability.
    pub(crate) want_deleted: bool,
    /// How often and how long to poll.
    pub(crate) poll: Poll,
    /// Error codes of the describe call that mean the object is gone.
    pub(crate) gone_codes: &'a [&'a str],
}

impl AvailableOrGone<'_> {
    /// Polls until the object is in the wanted state.
    ///
    /// `describe` makes one describe call by id (with its error context) and
    /// returns the object when listed. When waiting for deletion, an error
    /// whose code is in `gone_codes`, or an empty answer, means it is gone.
    /// For a listed object, `reached` says whether it is in the wanted state,
    /// or fails on a state it will never leave.
    ///
    /// # Errors
    /// What `describe` or `reached` return, or [`Error::Timeout`] after `poll`.
    pub(crate) async fn wait<T, D, Fut, R>(
        self,
        ctx: &StepContext,
        describe: D,
        reached: R,
    ) -> Result<(), Error>
    where
        D: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
        R: Fn(&T) -> Result<bool, Error>,
    {
        let want_deleted = self.want_deleted;
        let waiting_for = format!(
            "{} to be {}",
            self.what,
            if want_deleted { "deleted" } else { "available" }
        );
        poll_until(ctx, self.rid, &waiting_for, self.poll, || async {
            let found = match describe().await {
                Err(e)
                    if want_deleted
                        && e.aws_code().is_some_and(|c| self.gone_codes.contains(&c)) =>
                {
                    return Ok(Some(()));
                }
                other => other?,
            };
            match found {
                None => Ok(want_deleted.then_some(())),
                Some(object) => Ok(reached(&object)?.then_some(())),
            }
        })
        .await
    }
}

/// An EC2 filter with one or more values.
pub(crate) fn filter<I, S>(name: &str, values: I) -> Filter
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

/// The value of tag `key`.
pub(crate) fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(Tag::value)
}

/// Every object we own among those a describe with our ownership filters
/// returned, sorted by id.
///
/// Everything the API returned must carry our ownership (anything else is refused
/// with [`Error::NotOwned`], never touched); among those, the ones whose component
/// tag is `owner.component` are ours (emulators ignore some tag filters).
pub(crate) fn owned_copies<'a, T>(
    rid: &ResourceId,
    owner: &Ownership,
    kind: &str,
    items: &'a [T],
    id_of: impl Fn(&T) -> Option<&str>,
    tags_of: impl Fn(&T) -> &[Tag],
) -> Result<Vec<&'a T>, Error> {
    let mut mine: Vec<&'a T> = Vec::new();
    for item in items {
        let found_as = format!("{kind} {}", id_of(item).unwrap_or("(no id)"));
        ensure_owned(owner, rid, &found_as, ec2_tag_pairs(tags_of(item)))?;
        let component = tag_value(tags_of(item), Ownership::COMPONENT_KEY);
        if owner.component.is_none() || component == owner.component.as_deref() {
            mine.push(item);
        }
    }
    mine.sort_by(|a, b| id_of(a).cmp(&id_of(b)));
    Ok(mine)
}

/// The copy to keep among owned copies of one object, and the others.
///
/// Copies appear when a create without an idempotency token (CreateVpc,
/// CreateInternetGateway, AllocateAddress, ...) was applied but its reply was
/// lost and the SDK retried, or when two applies ran before the environment
/// lock existed. The rule is deterministic: the copy with the highest `score`
/// (the one the rest of the stack uses: attached, associated, holding
/// subnets) is kept, ties going to the smallest id; the others are deleted by
/// the next apply (and all of them by destroy).
pub(crate) fn keep_one<T>(copies: Vec<&T>, score: impl Fn(&T) -> usize) -> (Option<&T>, Vec<&T>) {
    let best = copies
        .iter()
        .enumerate()
        // Highest score; among equal scores the first (smallest id).
        .max_by(|(i, a), (j, b)| score(a).cmp(&score(b)).then(j.cmp(i)))
        .map(|(i, _)| i);
    match best {
        None => (None, Vec::new()),
        Some(i) => {
            let mut rest = copies;
            let keep = rest.remove(i);
            (Some(keep), rest)
        }
    }
}

/// The one object we own among those a describe with our ownership filters
/// returned, for kinds AWS keeps unique by name or content (a second copy
/// cannot be created). Two objects with the same ownership are ambiguous: an
/// [`Error::Unexpected`].
pub(crate) fn select_owned<'a, T>(
    rid: &ResourceId,
    owner: &Ownership,
    kind: &str,
    operation: &str,
    items: &'a [T],
    id_of: impl Fn(&T) -> Option<&str>,
    tags_of: impl Fn(&T) -> &[Tag],
) -> Result<Option<&'a T>, Error> {
    let mine = owned_copies(rid, owner, kind, items, &id_of, tags_of)?;
    match mine.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => Err(Error::Unexpected {
            resource: rid.clone(),
            operation: operation.to_string(),
            detail: format!(
                "{} {kind}s carry the same ownership tags ({}); delete the extra ones",
                many.len(),
                many.iter()
                    .filter_map(|i| id_of(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// The plan's view of duplicates: `change` plus a `duplicates` field going
/// from the extra copies' ids to none.
pub(crate) fn with_duplicates(change: Change, duplicates: Vec<String>) -> Change {
    if duplicates.is_empty() {
        return change;
    }
    let diff = FieldDiff {
        field: "duplicates".to_string(),
        old: Some(serde_json::json!(duplicates)),
        new: Some(serde_json::json!([])),
        sensitive: false,
        digest: None,
    };
    match change {
        Change::NoOp => Change::Update { diffs: vec![diff] },
        Change::Update { mut diffs } => {
            diffs.push(diff);
            Change::Update { diffs }
        }
        Change::Replace { reason, mut diffs } => {
            diffs.push(diff);
            Change::Replace { reason, diffs }
        }
        other => other,
    }
}

/// [`Change::compute`], refusing (at plan time) a change of an `immutable` field:
/// the network never deletes and re-creates a VPC or subnet on its own.
pub(crate) fn change_in_place(
    rid: &ResourceId,
    desired: &Fields,
    observed: Option<&Fields>,
    immutable: &[&str],
    hint: &str,
) -> Result<Change, Error> {
    let change = Change::compute(desired, observed, immutable);
    if let Change::Replace { diffs, .. } = &change
        && let Some(d) = diffs.iter().find(|d| immutable.contains(&d.field.as_str()))
    {
        let show =
            |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string).unwrap_or_default();
        return Err(Error::Failed {
            resource: rid.clone(),
            source: Box::new(NetworkError::ImmutableChanged {
                field: d.field.clone(),
                existing: show(&d.old),
                desired: show(&d.new),
                hint: hint.to_string(),
            }),
        });
    }
    Ok(change)
}

/// Run a delete `op`; while it fails with one of `busy` (for example
/// `DependencyViolation`: ENIs of stopped Fargate tasks or of a VPC link linger
/// for minutes) wait and run it again, for at most `poll.timeout`.
///
/// An error code in `gone` means it is already deleted (success). When the time
/// runs out: [`Error::Timeout`] naming `what`.
pub(crate) async fn delete_waiting<F, Fut>(
    ctx: &StepContext,
    rid: &ResourceId,
    what: &str,
    poll: Poll,
    gone: &[&str],
    busy: &[&str],
    op: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let is_busy = |e: &Error| e.aws_code().is_some_and(|c| busy.contains(&c));
    match retry_eventual(ctx, poll, is_busy, op).await {
        Ok(()) => Ok(()),
        Err(e) if e.aws_code().is_some_and(|c| gone.contains(&c)) => Ok(()),
        Err(e) if is_busy(&e) => Err(Error::Timeout {
            resource: rid.clone(),
            waiting_for: format!("{what} to be free of dependent objects (last error: {e})"),
            after: poll.timeout,
        }),
        Err(e) => Err(e),
    }
}

/// The id an EC2 create call returned, or [`Error::Unexpected`].
pub(crate) fn returned_id(
    rid: &ResourceId,
    operation: &str,
    id: Option<&str>,
) -> Result<String, Error> {
    id.map(str::to_string).ok_or_else(|| Error::Unexpected {
        resource: rid.clone(),
        operation: operation.to_string(),
        detail: "the response has no id".to_string(),
    })
}

/// What every object of a new network shares: its environment, the user's
/// tags and the waits.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) env: fargate_core::Ident,
    pub(crate) tags: fargate_core::Tags,
    pub(crate) waits: super::Waits,
}

impl Base {
    /// The ownership of the object with this component (e.g. `subnet-public-a`).
    pub(crate) fn owner(&self, component: &str) -> Ownership {
        Ownership::new(self.env.clone()).with_component(component)
    }

    /// The `Name` tag of an object: `<env>-<suffix>`.
    pub(crate) fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.env)
    }

    /// The tag specification of a create call.
    pub(crate) fn tag_spec(
        &self,
        kind: aws_sdk_ec2::types::ResourceType,
        component: &str,
        name_suffix: &str,
    ) -> aws_sdk_ec2::types::TagSpecification {
        crate::tagging::ec2_tag_spec(
            kind,
            &self.owner(component),
            &self.tags,
            &self.name(name_suffix),
        )
    }
}

/// The change a kind's apply carries out: the planned change without the
/// `duplicates` field [`with_duplicates`] shows (the duplicates are deleted after it).
pub(crate) fn without_duplicates(change: &Change) -> Change {
    let strip = |diffs: &[FieldDiff]| -> Vec<FieldDiff> {
        diffs
            .iter()
            .filter(|d| d.field != "duplicates")
            .cloned()
            .collect()
    };
    match change {
        Change::Update { diffs } => {
            let diffs = strip(diffs);
            if diffs.is_empty() {
                Change::NoOp
            } else {
                Change::Update { diffs }
            }
        }
        Change::Replace { reason, diffs } => Change::Replace {
            reason: reason.clone(),
            diffs: strip(diffs),
        },
        other => other.clone(),
    }
}

/// The ids of the extra owned copies observing found (see [`keep_one`]).
pub(crate) fn duplicate_ids<O>(duplicates: &[(String, O)]) -> Vec<String> {
    duplicates.iter().map(|(id, _)| id.clone()).collect()
}

/// Delete the duplicate copies of an object (apply deletes them after carrying out
/// the change of the kept one, destroy before deleting it), one after the other.
pub(crate) async fn delete_duplicates<'d, O, F, Fut>(
    ctx: &StepContext,
    duplicates: &'d [(String, O)],
    mut destroy: F,
) -> Result<(), Error>
where
    F: FnMut(&'d O) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    for (id, copy) in duplicates {
        ctx.progress(format!("deleting duplicate {id}"));
        destroy(copy).await?;
    }
    Ok(())
}

/// Right after creating an object whose create call has no idempotency token
/// (CreateVpc, CreateInternetGateway, AllocateAddress), delete the other owned
/// copies a lost reply and the SDK's retry may have made, keeping `created`.
/// `copies` are every owned copy one describe call found (the kept one and its
/// duplicates); the next plan converges what it could not see yet.
pub(crate) async fn delete_lost_copies<O, F, Fut>(
    ctx: &StepContext,
    created: &str,
    copies: Vec<(String, O)>,
    mut destroy: F,
) -> Result<(), Error>
where
    F: FnMut(O) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    for (id, copy) in copies {
        if id != created {
            ctx.progress(format!(
                "deleting {id}, a second copy left by a retried create"
            ));
            destroy(copy).await?;
        }
    }
    Ok(())
}
