//! VPC links (v2): API Gateway's way into the VPC, in given subnets with given
//! security groups. Found by name among the account's links (API Gateway
//! cannot look one up by name or tag; the list is short), then by ownership
//! tags. Creating waits until the link is `AVAILABLE`; deleting waits until it
//! is gone, since its network interfaces keep its security group in use.

use std::time::Duration;

use aws_sdk_apigatewayv2::Client as ApiGwClient;
use aws_sdk_apigatewayv2::types::{VpcLink, VpcLinkStatus};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until};
use fargate_core::{
    AwsResultExt, Change, EcsName, Error, Fields, Ident, Kind, Mode, OutputKey, PlanValues, Ref,
    Resolved, ResourceId, Round, StepContext, Tags,
};

use super::{ApiGatewayError, list_named, select_owned, tag_map};
use crate::NetClients;
use crate::elb::{defer_unknown, set_ref_list, sorted, unless_absent};

/// The resource kind of VPC links in plans.
pub const VPC_LINK_KIND: &str = "apigateway:vpc-link";

/// A VPC link takes from seconds to a few minutes: check after 2 s, 4 s, 8 s, then every 10 s.
const LINK_AVAILABLE_WAIT: Poll = Poll::new(Duration::from_secs(900), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));
const LINK_GONE_WAIT: Poll = Poll::new(Duration::from_secs(900), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));

/// How an API refers to its VPC link.
#[derive(Debug, Clone)]
pub struct VpcLinkRef {
    /// The VPC link resource (a dependency).
    pub id: ResourceId,
    /// The VPC link id.
    pub link_id: Ref<String>,
    /// Its name and ownership: after an API moves to a replacement link, the link it used
    /// before is deleted when it carries this name and ownership.
    pub name: String,
    /// Its ownership.
    pub owner: Ownership,
}

/// A VPC link (v2) fargate-rs creates and owns: API Gateway's way into the VPC.
///
/// Its subnets and security group cannot change in place: a change creates a new link
/// (the API moves to it, then the old one is deleted).
#[derive(Debug, Clone)]
pub struct VpcLinkSpec {
    id: ResourceId,
    name: String,
    subnets: Ref<Vec<String>>,
    security_groups: Ref<Vec<String>>,
    depends_on: Vec<ResourceId>,
    owner: Ownership,
    tags: Tags,
}

impl VpcLinkSpec {
    /// The VPC link `label` of an environment, in these subnets with these security groups
    /// (the groups the load balancer accepts traffic from).
    pub fn new(
        env: &Ident,
        label: &str,
        subnets: Ref<Vec<String>>,
        security_groups: Ref<Vec<String>>,
        owner: Ownership,
    ) -> Self {
        Self {
            id: ResourceId::new(VPC_LINK_KIND, format!("{env}/{label}")),
            name: EcsName::derive(&[env.as_str(), label]).to_string(),
            subnets,
            security_groups,
            depends_on: Vec::new(),
            owner,
            tags: Tags::new(),
        }
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// Resources that must exist first (subnets, security groups).
    #[must_use]
    pub fn after(mut self, ids: impl IntoIterator<Item = ResourceId>) -> Self {
        self.depends_on.extend(ids);
        self
    }

    /// The link's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The output key of the link id.
    pub fn link_id(&self) -> OutputKey<String> {
        self.id.output("vpc_link_id")
    }

    /// How an API refers to it.
    pub fn reference(&self) -> VpcLinkRef {
        VpcLinkRef {
            id: self.id.clone(),
            link_id: Ref::Output(self.link_id()),
            name: self.name.clone(),
            owner: self.owner.clone(),
        }
    }

    /// The managed fields as desired (pure).
    pub fn desired_fields(&self) -> Fields {
        let mut f = Fields::new();
        set_ref_list(&mut f, "subnets", &self.subnets);
        set_ref_list(&mut f, "security_groups", &self.security_groups);
        f
    }

    /// The change from `observed` (pure); subnets and security groups cannot change in place.
    pub fn diff(&self, observed: Option<&VpcLink>) -> Change {
        let observed = observed.map(|l| ObservedLink {
            id: l.vpc_link_id().unwrap_or_default().to_string(),
            subnets: sorted(l.subnet_ids()),
            security_groups: sorted(l.security_group_ids()),
        });
        self.diff_observed(observed.as_ref())
    }

    /// [`diff`](Self::diff) from a link as observed (pure).
    fn diff_observed(&self, observed: Option<&ObservedLink>) -> Change {
        let mut desired = self.desired_fields();
        let observed = observed.map(ObservedLink::fields);
        defer_unknown(
            &mut desired,
            observed.as_ref(),
            &["subnets", "security_groups"],
        );
        Change::compute(&desired, observed.as_ref(), &["subnets", "security_groups"])
    }
}

/// The managed fields of a VPC link as API Gateway reports it (pure).
pub fn vpc_link_fields(link: &VpcLink) -> Fields {
    Fields::new()
        .with("subnets", sorted(link.subnet_ids()))
        .with("security_groups", sorted(link.security_group_ids()))
}

/// A VPC link by id, `None` once it is gone.
#[tracing::instrument(skip_all, fields(resource = %id))]
pub(super) async fn get_vpc_link(
    apigw: &ApiGwClient,
    id: &ResourceId,
    link_id: &str,
) -> Result<Option<VpcLink>, Error> {
    let out = apigw.get_vpc_link().vpc_link_id(link_id).send().await;
    Ok(
        unless_absent(out, id, "GetVpcLink", |e| e.is_not_found_exception())?.map(|l| {
            VpcLink::builder()
                .set_name(l.name().map(str::to_string))
                .set_vpc_link_id(l.vpc_link_id().map(str::to_string))
                .set_vpc_link_status(l.vpc_link_status().cloned())
                .set_vpc_link_status_message(l.vpc_link_status_message().map(str::to_string))
                .set_subnet_ids(Some(l.subnet_ids().to_vec()))
                .set_security_group_ids(Some(l.security_group_ids().to_vec()))
                .set_tags(l.tags().cloned())
                .build()
        }),
    )
}

/// Deletes a VPC link and waits until it is gone (its network interfaces go with it, which
/// frees its security group).
#[tracing::instrument(skip_all, fields(resource = %id))]
pub(super) async fn delete_vpc_link_and_wait(
    apigw: &ApiGwClient,
    ctx: &StepContext,
    id: &ResourceId,
    link_id: &str,
) -> Result<(), Error> {
    let out = apigw.delete_vpc_link().vpc_link_id(link_id).send().await;
    if unless_absent(out, id, "DeleteVpcLink", |e| e.is_not_found_exception())?.is_none() {
        return Ok(());
    }
    poll_until(
        ctx,
        id,
        "VPC link to be deleted",
        LINK_GONE_WAIT,
        || async {
            Ok(get_vpc_link(apigw, id, link_id)
                .await?
                .is_none()
                .then_some(()))
        },
    )
    .await
}

impl VpcLinkSpec {
    /// Our links: those with our name and ownership (an earlier replacement may have left
    /// two). A link with our name but without our tags is refused.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe(&self, apigw: &ApiGwClient) -> Result<Vec<VpcLink>, Error> {
        let named = list_named(
            |token| async move {
                let page = apigw
                    .get_vpc_links()
                    .set_next_token(token)
                    .send()
                    .await
                    .context(&self.id, "GetVpcLinks")?;
                Ok((page.items().to_vec(), page.next_token().map(str::to_string)))
            },
            &self.name,
            VpcLink::name,
        )
        .await?;
        select_owned(&self.owner, &self.id, named, |l| {
            (l.vpc_link_id().unwrap_or_default(), l.tags())
        })
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn create(&self, apigw: &ApiGwClient, ctx: &StepContext) -> Result<(), Error> {
        let out = apigw
            .create_vpc_link()
            .name(&self.name)
            .set_subnet_ids(Some(self.subnets.resolve(ctx)?))
            .set_security_group_ids(Some(self.security_groups.resolve(ctx)?))
            .set_tags(Some(tag_map(&self.owner, &self.tags, &self.name)))
            .send()
            .await
            .context(&self.id, "CreateVpcLink")?;
        let link_id = out.vpc_link_id().unwrap_or_default().to_string();
        ctx.progress(format!("created VPC link {}", self.name));
        self.wait_available(apigw, ctx, &link_id).await?;
        ctx.set(&self.link_id(), link_id);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn wait_available(
        &self,
        apigw: &ApiGwClient,
        ctx: &StepContext,
        link_id: &str,
    ) -> Result<(), Error> {
        poll_until(
            ctx,
            &self.id,
            "VPC link to be available",
            LINK_AVAILABLE_WAIT,
            || async {
                let Some(link) = get_vpc_link(apigw, &self.id, link_id).await? else {
                    return Ok(None);
                };
                match link.vpc_link_status() {
                    Some(VpcLinkStatus::Available) => Ok(Some(())),
                    Some(
                        VpcLinkStatus::Failed | VpcLinkStatus::Inactive | VpcLinkStatus::Deleting,
                    ) => Err(Error::Failed {
                        resource: self.id.clone(),
                        source: Box::new(ApiGatewayError::VpcLinkFailed {
                            name: self.name.clone(),
                            message: link
                                .vpc_link_status_message()
                                .unwrap_or("no message")
                                .to_string(),
                        }),
                    }),
                    _ => Ok(None),
                }
            },
        )
        .await
    }
}

impl VpcLinkSpec {
    /// The spec with its references filled in where their values are known at plan time.
    fn at_plan(&self, resolved: &Resolved) -> Self {
        let mut spec = self.clone();
        spec.subnets = known_at_plan(&self.subnets, resolved);
        spec.security_groups = known_at_plan(&self.security_groups, resolved);
        spec
    }

    /// The link to keep among ours and the change from it: the one that already matches
    /// (after an interrupted replacement there may be two), else the first.
    fn choose<'a>(&self, ours: &'a [ObservedLink]) -> (Option<&'a ObservedLink>, Change) {
        let current = ours
            .iter()
            .find(|l| self.diff_observed(Some(l)) == Change::NoOp)
            .or(ours.first());
        (current, self.diff_observed(current))
    }
}

/// `r` as a known value when its producer published it at plan time (it exists and the
/// value will not change): an unchanged dependency then compares like a known value.
fn known_at_plan<T>(r: &Ref<T>, resolved: &Resolved) -> Ref<T>
where
    T: Clone + serde::de::DeserializeOwned,
{
    match r {
        Ref::Known(_) => r.clone(),
        Ref::Output(_) => resolved.get_ref(r).map_or_else(|| r.clone(), Ref::Known),
    }
}

impl<C> Kind<C> for VpcLinkSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedLinks;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.depends_on.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedLinks>, Error>> {
        Box::pin(async move {
            let links: Vec<ObservedLink> = self
                .observe(&clients.as_ref().apigw)
                .await?
                .iter()
                .filter_map(ObservedLink::from_sdk)
                .collect();
            Ok((!links.is_empty()).then_some(ObservedLinks { links }))
        })
    }

    fn diff(&self, observed: Option<&ObservedLinks>, resolved: &Resolved) -> Result<Change, Error> {
        let ours = observed.map_or(&[][..], |o| o.links.as_slice());
        Ok(self.at_plan(resolved).choose(ours).1)
    }

    fn outputs(
        &self,
        observed: Option<&ObservedLinks>,
        change: &Change,
        resolved: &Resolved,
    ) -> PlanValues {
        let ours = observed.map_or(&[][..], |o| o.links.as_slice());
        match self.at_plan(resolved).choose(ours) {
            (Some(kept), Change::NoOp) if *change == Change::NoOp => {
                PlanValues::new().with(&self.link_id(), &kept.id)
            }
            _ => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedLinks>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ours = observed.map_or(&[][..], |o| o.links.as_slice());
            // Values other steps produce are compared here, once resolved.
            let resolved = self.resolved(ctx)?;
            match resolved.choose(ours) {
                (Some(link), Change::NoOp) => {
                    ctx.set(&self.link_id(), link.id.clone());
                    Ok(())
                }
                // New, or subnets/security groups changed: a new link next to the old one.
                _ => self.create(&clients.as_ref().apigw, ctx).await,
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedLinks,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for link in &observed.links {
                delete_vpc_link_and_wait(&clients.as_ref().apigw, ctx, &self.id, &link.id).await?;
            }
            Ok(())
        })
    }
}

impl VpcLinkSpec {
    /// The spec with the subnets and security groups it resolves to now (apply time).
    fn resolved(&self, ctx: &StepContext) -> Result<Self, Error> {
        let mut spec = self.clone();
        spec.subnets = Ref::Known(self.subnets.resolve(ctx)?);
        spec.security_groups = Ref::Known(self.security_groups.resolve(ctx)?);
        Ok(spec)
    }
}

/// Our VPC links as observed (those with our name and ownership; an earlier replacement may
/// have left two).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedLinks {
    /// The links, in the order API Gateway lists them.
    pub links: Vec<ObservedLink>,
}

/// One VPC link as observed: its id, subnets and security groups (sorted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedLink {
    /// The VPC link id.
    pub id: String,
    /// Its subnets, sorted.
    pub subnets: Vec<String>,
    /// Its security groups, sorted.
    pub security_groups: Vec<String>,
}

impl ObservedLink {
    /// The link as plain data; `None` for a link without an id.
    fn from_sdk(link: &VpcLink) -> Option<Self> {
        Some(Self {
            id: link.vpc_link_id()?.to_string(),
            subnets: sorted(link.subnet_ids()),
            security_groups: sorted(link.security_group_ids()),
        })
    }

    fn fields(&self) -> Fields {
        Fields::new()
            .with("subnets", self.subnets.clone())
            .with("security_groups", self.security_groups.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str) -> Ident {
        s.parse().unwrap()
    }

    #[test]
    fn vpc_link_subnet_change_is_a_replace() {
        let link = VpcLinkSpec::new(
            &ident("prod"),
            "link",
            Ref::Known(vec!["subnet-a".into(), "subnet-b".into()]),
            Ref::Known(vec!["sg-1".into()]),
            Ownership::new(ident("prod")),
        );
        let same = VpcLink::builder()
            .subnet_ids("subnet-b")
            .subnet_ids("subnet-a")
            .security_group_ids("sg-1")
            .build();
        assert_eq!(link.diff(Some(&same)), Change::NoOp);
        let other = VpcLink::builder()
            .subnet_ids("subnet-a")
            .security_group_ids("sg-1")
            .build();
        assert!(matches!(link.diff(Some(&other)), Change::Replace { .. }));
    }
}
