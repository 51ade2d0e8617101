//! Ownership tags in the shapes EC2 and ELB want, and the filters that find
//! what we own.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag as Ec2Tag, TagSpecification};
use aws_sdk_elasticloadbalancingv2::types::Tag as ElbTag;
use fargate_core::tags::{Ownership, OwnershipCheck};
use fargate_core::{Error, ResourceId, Tags};

/// All tags for a new resource: the user's, ours, and `Name`.
pub fn all_tags(owner: &Ownership, user: &Tags, name: &str) -> Vec<(String, String)> {
    let mut tags = owner.merged_with(user);
    tags.retain(|(k, _)| k != "Name");
    tags.push(("Name".to_string(), name.to_string()));
    tags
}

/// EC2 tag specification for a create call.
pub fn ec2_tag_spec(
    kind: ResourceType,
    owner: &Ownership,
    user: &Tags,
    name: &str,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            all_tags(owner, user, name)
                .into_iter()
                .map(|(k, v)| Ec2Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// ELB tags for a create call.
pub fn elb_tags(owner: &Ownership, user: &Tags, name: &str) -> Vec<ElbTag> {
    all_tags(owner, user, name)
        .into_iter()
        .map(|(k, v)| ElbTag::builder().key(k).value(v).build())
        .collect()
}

/// EC2 filters that match resources carrying this ownership (environment,
/// app when set, and component when set).
pub fn ec2_owner_filters(owner: &Ownership) -> Vec<Filter> {
    owner
        .tags()
        .into_iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
        .collect()
}

/// EC2 tags as key/value pairs.
pub fn ec2_tag_pairs(tags: &[Ec2Tag]) -> Vec<(&str, &str)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .collect()
}

/// Refuse to manage a resource that is not ours.
///
/// # Errors
/// [`Error::NotOwned`] when the found tags do not show this ownership.
pub fn ensure_owned<'a>(
    owner: &Ownership,
    id: &ResourceId,
    found_as: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), Error> {
    match owner.check(tags) {
        OwnershipCheck::Owned => Ok(()),
        OwnershipCheck::Foreign => Err(Error::NotOwned {
            resource: id.clone(),
            detail: format!("{found_as} has no fargate-rs ownership tags"),
        }),
        OwnershipCheck::OtherOwner { environment, app } => Err(Error::NotOwned {
            resource: id.clone(),
            detail: format!(
                "{found_as} belongs to environment {environment:?}{}",
                app.map(|a| format!(", app {a:?}")).unwrap_or_default()
            ),
        }),
    }
}
