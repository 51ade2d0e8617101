//! The ways out of a new network: the internet gateway (and its attachment to
//! the VPC), NAT gateways and the Elastic IPs they use.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{ConnectivityType, DomainType, NatGatewayState, ResourceType};
use fargate_core::resource::BoxFuture;
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Kind, Mode, OutputKey, PlanValues, Resolved, ResourceId,
    Round, StepContext, client_token, ok_unless,
};

use super::common::{
    AvailableOrGone, Base, DEPENDENCY_VIOLATION, all_concurrently, delete_duplicates,
    delete_lost_copies, delete_waiting, duplicate_ids, filter, keep_one, owned_copies, returned_id,
    select_owned, with_duplicates,
};
use super::{NetworkError, Tier, subnet_name, vpc_id_key, vpc_resource_id, zone_letter};
use crate::NetClients;
use crate::tagging::ec2_owner_filters;

/// The internet gateway's resource id: `ec2:internet-gateway <env>`.
pub(crate) fn igw_resource_id(base: &Base) -> ResourceId {
    ResourceId::new("ec2:internet-gateway", base.env.as_str())
}

/// The internet gateway id.
pub(crate) fn igw_id_key(base: &Base) -> OutputKey<String> {
    igw_resource_id(base).output("id")
}

/// The NAT gateway of zone `index`: `ec2:nat-gateway <env>/a`.
pub(crate) fn nat_resource_id(base: &Base, index: usize) -> ResourceId {
    ResourceId::new(
        "ec2:nat-gateway",
        format!("{}/{}", base.env, zone_letter(index)),
    )
}

/// The NAT gateway id of zone `index`.
pub(crate) fn nat_id_key(base: &Base, index: usize) -> OutputKey<String> {
    nat_resource_id(base, index).output("id")
}

/// The environment's internet gateway, attached to its VPC.
#[derive(Debug, Clone)]
pub(crate) struct InternetGateway {
    pub(crate) base: Base,
}

/// The internet gateway as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedGateway {
    pub(crate) id: String,
    /// The VPCs it is attached to (at most one).
    pub(crate) attached_to: Vec<String>,
    /// Other owned copies (see [`super::common::keep_one`]).
    pub(crate) duplicates: Vec<(String, ObservedGateway)>,
}

/// The managed fields of an internet gateway.
pub(crate) fn gateway_fields(attached: bool) -> Fields {
    Fields::new().with("attached_to_vpc", attached)
}

const IGW_COMPONENT: &str = "igw";
const IGW_GONE: &[&str] = &["InvalidInternetGatewayID.NotFound"];
/// EC2's answer to an attachment or association that exists already.
pub(crate) const ALREADY_ASSOCIATED: &str = "Resource.AlreadyAssociated";

impl InternetGateway {
    async fn attach(&self, ec2: &Client, ctx: &StepContext, igw: &str) -> Result<(), Error> {
        let vpc = ctx.get(&vpc_id_key(&self.base.env))?;
        let out = ec2
            .attach_internet_gateway()
            .internet_gateway_id(igw)
            .vpc_id(&vpc)
            .send()
            .await;
        // A retry whose first attempt was applied finds it attached already.
        ok_unless(out, self.rid(), "AttachInternetGateway", |e| {
            e.code() == Some(ALREADY_ASSOCIATED)
        })?;
        ctx.progress(format!("attached internet gateway {igw} to {vpc}"));
        Ok(())
    }
}

impl InternetGateway {
    fn rid(&self) -> ResourceId {
        igw_resource_id(&self.base)
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(&self, ec2: &Client, _mode: Mode) -> Result<Option<ObservedGateway>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(IGW_COMPONENT);
        let out = ec2
            .describe_internet_gateways()
            .set_filters(Some(ec2_owner_filters(&owner)))
            .send()
            .await
            .context(&rid, "DescribeInternetGateways")?;
        let copies = owned_copies(
            &rid,
            &owner,
            "internet gateway",
            out.internet_gateways(),
            |g| g.internet_gateway_id(),
            |g| g.tags(),
        )?;
        let seen = |g: &aws_sdk_ec2::types::InternetGateway| -> Result<ObservedGateway, Error> {
            Ok(ObservedGateway {
                id: returned_id(&rid, "DescribeInternetGateways", g.internet_gateway_id())?,
                attached_to: g
                    .attachments()
                    .iter()
                    // AWS reports an attached gateway as "available".
                    .filter(|a| {
                        a.state().is_some_and(|s| {
                            matches!(s.as_str(), "available" | "attached" | "attaching")
                        })
                    })
                    .filter_map(|a| a.vpc_id().map(str::to_string))
                    .collect(),
                duplicates: Vec::new(),
            })
        };
        // Keep the attached copy: the one the routes use.
        let (found, extras) = keep_one(copies, |g| g.attachments().len());
        let Some(igw) = found else { return Ok(None) };
        let mut kept = seen(igw)?;
        for g in extras {
            let copy = seen(g)?;
            kept.duplicates.push((copy.id.clone(), copy));
        }
        Ok(Some(kept))
    }

    fn diff(&self, observed: Option<&ObservedGateway>) -> Result<Change, Error> {
        let observed = observed.map(|g| gateway_fields(!g.attached_to.is_empty()));
        Ok(Change::compute(
            &gateway_fields(true),
            observed.as_ref(),
            &[],
        ))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&ObservedGateway>,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = match observed {
            None => {
                let out = ec2
                    .create_internet_gateway()
                    .tag_specifications(self.base.tag_spec(
                        ResourceType::InternetGateway,
                        IGW_COMPONENT,
                        "igw",
                    ))
                    .send()
                    .await
                    .context(&rid, "CreateInternetGateway")?;
                let id = returned_id(
                    &rid,
                    "CreateInternetGateway",
                    out.internet_gateway().and_then(|g| g.internet_gateway_id()),
                )?;
                ctx.progress(format!("created internet gateway {id}"));
                // Looking for (and deleting) copies a retried create left concerns other
                // gateways than the one attached: one round.
                all_concurrently(
                    &rid,
                    vec![
                        Box::pin(self.delete_lost_copies(ec2, ctx, &id)),
                        Box::pin(self.attach(ec2, ctx, &id)),
                    ],
                )
                .await?;
                id
            }
            Some(found) if found.attached_to.is_empty() => {
                self.attach(ec2, ctx, &found.id).await?;
                found.id.clone()
            }
            Some(found) => {
                let vpc = ctx.get(&vpc_id_key(&self.base.env))?;
                if let Some(other) = found.attached_to.iter().find(|v| **v != vpc) {
                    return Err(Error::Failed {
                        resource: rid,
                        source: Box::new(NetworkError::GatewayAttachedElsewhere {
                            gateway: found.id.clone(),
                            attached_to: other.clone(),
                            vpc,
                        }),
                    });
                }
                found.id.clone()
            }
        };
        ctx.set(&igw_id_key(&self.base), id);
        Ok(())
    }

    /// Delete the owned copies a retried CreateInternetGateway may have made besides
    /// `created`.
    async fn delete_lost_copies(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        created: &str,
    ) -> Result<(), Error> {
        let Some(mut found) = self.observe(ec2, Mode::Destroy).await? else {
            return Ok(());
        };
        let mut copies = std::mem::take(&mut found.duplicates);
        copies.push((found.id.clone(), found));
        delete_lost_copies(ctx, created, copies, |copy| async move {
            self.destroy(ec2, ctx, &copy).await
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn destroy(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: &ObservedGateway,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let (rid_ref, id) = (&rid, observed.id.as_str());
        let busy = [DEPENDENCY_VIOLATION];
        for vpc in &observed.attached_to {
            // Fails with DependencyViolation while public addresses are still mapped in the VPC.
            let gone = [IGW_GONE[0], "Gateway.NotAttached"];
            delete_waiting(
                ctx,
                &rid,
                &format!("internet gateway {id}"),
                self.base.waits.dependencies,
                &gone,
                &busy,
                || async move {
                    ec2.detach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc)
                        .send()
                        .await
                        .context(rid_ref, "DetachInternetGateway")
                        .map(drop)
                },
            )
            .await?;
            ctx.progress(format!("detached internet gateway {id} from {vpc}"));
        }
        delete_waiting(
            ctx,
            &rid,
            &format!("internet gateway {id}"),
            self.base.waits.dependencies,
            IGW_GONE,
            &busy,
            || async move {
                ec2.delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await
                    .context(rid_ref, "DeleteInternetGateway")
                    .map(drop)
            },
        )
        .await?;
        ctx.progress(format!("deleted internet gateway {id}"));
        Ok(())
    }
}

/// The Elastic IP of the NAT gateway of zone `index`: `ec2:elastic-ip <env>/nat-a`.
#[derive(Debug, Clone)]
pub(crate) struct ElasticIp {
    pub(crate) base: Base,
    pub(crate) index: usize,
}

impl ElasticIp {
    fn suffix(&self) -> String {
        format!("nat-{}", zone_letter(self.index))
    }

    fn component(&self) -> String {
        format!("eip-{}", self.suffix())
    }

    /// The allocation id output.
    pub(crate) fn allocation_key(base: &Base, index: usize) -> OutputKey<String> {
        ElasticIp {
            base: base.clone(),
            index,
        }
        .rid()
        .output("allocation_id")
    }
}

/// The Elastic IP as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedAddress {
    pub(crate) allocation_id: String,
    pub(crate) domain: String,
    /// Other owned copies (see [`super::common::keep_one`]).
    pub(crate) duplicates: Vec<(String, ObservedAddress)>,
}

const EIP_GONE: &[&str] = &["InvalidAllocationID.NotFound"];

impl ElasticIp {
    fn rid(&self) -> ResourceId {
        ResourceId::new(
            "ec2:elastic-ip",
            format!("{}/{}", self.base.env, self.suffix()),
        )
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(&self, ec2: &Client, _mode: Mode) -> Result<Option<ObservedAddress>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(&self.component());
        let out = ec2
            .describe_addresses()
            .set_filters(Some(ec2_owner_filters(&owner)))
            .send()
            .await
            .context(&rid, "DescribeAddresses")?;
        let copies = owned_copies(
            &rid,
            &owner,
            "Elastic IP",
            out.addresses(),
            |a| a.allocation_id(),
            |a| a.tags(),
        )?;
        let seen = |a: &aws_sdk_ec2::types::Address| -> Result<ObservedAddress, Error> {
            Ok(ObservedAddress {
                allocation_id: returned_id(&rid, "DescribeAddresses", a.allocation_id())?,
                domain: a
                    .domain()
                    .map(|d| d.as_str().to_string())
                    .unwrap_or_default(),
                duplicates: Vec::new(),
            })
        };
        // Keep the copy a NAT gateway uses.
        let (found, extras) = keep_one(copies, |a| usize::from(a.association_id().is_some()));
        let Some(address) = found else {
            return Ok(None);
        };
        let mut kept = seen(address)?;
        for a in extras {
            let copy = seen(a)?;
            kept.duplicates.push((copy.allocation_id.clone(), copy));
        }
        Ok(Some(kept))
    }

    fn diff(&self, observed: Option<&ObservedAddress>) -> Result<Change, Error> {
        let observed = observed.map(|a| Fields::new().with("domain", a.domain.clone()));
        Ok(Change::compute(
            &Fields::new().with("domain", "vpc"),
            observed.as_ref(),
            &["domain"],
        ))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&ObservedAddress>,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = match observed {
            Some(found) => found.allocation_id.clone(),
            None => {
                let out = ec2
                    .allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(self.base.tag_spec(
                        ResourceType::ElasticIp,
                        &self.component(),
                        &self.suffix(),
                    ))
                    .send()
                    .await
                    .context(&rid, "AllocateAddress")?;
                let id = returned_id(&rid, "AllocateAddress", out.allocation_id())?;
                ctx.progress(format!(
                    "allocated Elastic IP {id} ({})",
                    out.public_ip().unwrap_or("?")
                ));
                self.delete_lost_copies(ec2, ctx, &id).await?;
                id
            }
        };
        ctx.set(&Self::allocation_key(&self.base, self.index), id);
        Ok(())
    }

    /// Delete the owned copies a retried AllocateAddress may have made besides `created`.
    async fn delete_lost_copies(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        created: &str,
    ) -> Result<(), Error> {
        let Some(mut found) = self.observe(ec2, Mode::Destroy).await? else {
            return Ok(());
        };
        let mut copies = std::mem::take(&mut found.duplicates);
        copies.push((found.allocation_id.clone(), found));
        delete_lost_copies(ctx, created, copies, |copy| async move {
            self.destroy(ec2, ctx, &copy).await
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn destroy(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: &ObservedAddress,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let (rid_ref, id) = (&rid, observed.allocation_id.as_str());
        // The NAT gateway using it was deleted (and waited for) before this step;
        // the address may still show as in use for a moment.
        delete_waiting(
            ctx,
            &rid,
            &format!("Elastic IP {id}"),
            self.base.waits.dependencies,
            EIP_GONE,
            &["InvalidIPAddress.InUse"],
            || async move {
                ec2.release_address()
                    .allocation_id(id)
                    .send()
                    .await
                    .context(rid_ref, "ReleaseAddress")
                    .map(drop)
            },
        )
        .await?;
        ctx.progress(format!("released Elastic IP {id}"));
        Ok(())
    }
}

/// The NAT gateway of zone `index`, in that zone's public subnet.
#[derive(Debug, Clone)]
pub(crate) struct NatGateway {
    pub(crate) base: Base,
    pub(crate) index: usize,
}

/// The NAT gateway as found in AWS (pending or available).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedNat {
    pub(crate) id: String,
    pub(crate) connectivity: String,
    pub(crate) available: bool,
}

const NAT_GONE: &[&str] = &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"];

impl NatGateway {
    fn component(&self) -> String {
        format!("nat-{}", zone_letter(self.index))
    }

    fn public_subnet(&self) -> ResourceId {
        ResourceId::new(
            "ec2:subnet",
            format!(
                "{}/{}",
                self.base.env,
                subnet_name(Tier::Public, self.index)
            ),
        )
    }

    /// Poll until the NAT gateway is available (`want_deleted` false) or deleted.
    async fn wait(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        id: &str,
        want_deleted: bool,
    ) -> Result<(), Error> {
        let rid = self.rid();
        AvailableOrGone {
            rid: &rid,
            what: format!("NAT gateway {id}"),
            want_deleted,
            poll: self.base.waits.provisioning,
            gone_codes: NAT_GONE,
        }
        .wait(
            ctx,
            || async {
                let out = ec2
                    .describe_nat_gateways()
                    .nat_gateway_ids(id)
                    .send()
                    .await
                    .context(&rid, "DescribeNatGateways")?;
                Ok(out.nat_gateways().first().cloned())
            },
            |nat| match (nat.state(), want_deleted) {
                (Some(NatGatewayState::Deleted), true)
                | (Some(NatGatewayState::Available), false) => Ok(true),
                (Some(NatGatewayState::Failed), false) => Err(Error::Failed {
                    resource: rid.clone(),
                    source: Box::new(NetworkError::NatGatewayFailed {
                        nat_gateway: id.to_string(),
                        code: nat.failure_code().unwrap_or("unknown").to_string(),
                        message: nat.failure_message().unwrap_or_default().to_string(),
                    }),
                }),
                _ => Ok(false),
            },
        )
        .await
    }
}

impl NatGateway {
    fn rid(&self) -> ResourceId {
        nat_resource_id(&self.base, self.index)
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(&self, ec2: &Client, _mode: Mode) -> Result<Option<ObservedNat>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(&self.component());
        let mut filters = ec2_owner_filters(&owner);
        // Deleted NAT gateways stay visible for an hour; failed ones are gone.
        filters.push(filter("state", ["pending", "available"]));
        let out = ec2
            .describe_nat_gateways()
            .set_filter(Some(filters))
            .send()
            .await
            .context(&rid, "DescribeNatGateways")?;
        let live: Vec<_> = out
            .nat_gateways()
            .iter()
            .filter(|n| {
                matches!(
                    n.state(),
                    Some(NatGatewayState::Pending | NatGatewayState::Available)
                )
            })
            .cloned()
            .collect();
        let found = select_owned(
            &rid,
            &owner,
            "NAT gateway",
            "DescribeNatGateways",
            &live,
            |n| n.nat_gateway_id(),
            |n| n.tags(),
        )?;
        let Some(nat) = found else { return Ok(None) };
        Ok(Some(ObservedNat {
            id: returned_id(&rid, "DescribeNatGateways", nat.nat_gateway_id())?,
            connectivity: nat
                .connectivity_type()
                .map_or("public", |c| c.as_str())
                .to_string(),
            available: nat.state() == Some(&NatGatewayState::Available),
        }))
    }

    fn diff(&self, observed: Option<&ObservedNat>) -> Result<Change, Error> {
        let observed = observed.map(|n| Fields::new().with("connectivity", n.connectivity.clone()));
        Ok(Change::compute(
            &Fields::new().with("connectivity", "public"),
            observed.as_ref(),
            &["connectivity"],
        ))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&ObservedNat>,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = match observed {
            Some(found) => {
                if !found.available {
                    self.wait(ec2, ctx, &found.id, false).await?;
                }
                found.id.clone()
            }
            None => {
                let subnet = ctx.get(&self.public_subnet().output::<String>("id"))?;
                let allocation = ctx.get(&ElasticIp::allocation_key(&self.base, self.index))?;
                let out = ec2
                    .create_nat_gateway()
                    .subnet_id(subnet)
                    .allocation_id(allocation)
                    .connectivity_type(ConnectivityType::Public)
                    // Stable across the SDK's retries of this call, new for every apply.
                    .client_token(client_token())
                    .tag_specifications(self.base.tag_spec(
                        ResourceType::Natgateway,
                        &self.component(),
                        &self.component(),
                    ))
                    .send()
                    .await
                    .context(&rid, "CreateNatGateway")?;
                let id = returned_id(
                    &rid,
                    "CreateNatGateway",
                    out.nat_gateway().and_then(|n| n.nat_gateway_id()),
                )?;
                ctx.progress(format!("created NAT gateway {id}"));
                self.wait(ec2, ctx, &id, false).await?;
                id
            }
        };
        ctx.set(&nat_id_key(&self.base, self.index), id);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn destroy(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: &ObservedNat,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = observed.id.as_str();
        let deleted = ec2
            .delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
            .context(&rid, "DeleteNatGateway");
        match deleted {
            Err(e) if e.aws_code().is_some_and(|c| NAT_GONE.contains(&c)) => return Ok(()),
            other => other?,
        };
        ctx.progress(format!("deleting NAT gateway {id}"));
        // Its Elastic IP can be released only once it is gone.
        self.wait(ec2, ctx, id, true).await?;
        ctx.progress(format!("deleted NAT gateway {id}"));
        Ok(())
    }
}

impl<C> Kind<C> for InternetGateway
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedGateway;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![vpc_resource_id(&self.base.env)]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedGateway>, Error>> {
        Box::pin(self.observe(&clients.as_ref().ec2, mode))
    }

    fn diff(&self, observed: Option<&ObservedGateway>, _: &Resolved) -> Result<Change, Error> {
        let duplicates = observed.map(|o| duplicate_ids(&o.duplicates));
        Ok(with_duplicates(
            self.diff(observed)?,
            duplicates.unwrap_or_default(),
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedGateway>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(&igw_id_key(&self.base), &o.id)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedGateway>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ec2 = &clients.as_ref().ec2;
            self.apply(ec2, ctx, observed).await?;
            let duplicates = observed.map_or(&[][..], |o| &o.duplicates);
            delete_duplicates(ctx, duplicates, |copy| self.destroy(ec2, ctx, copy)).await
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedGateway,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ec2 = &clients.as_ref().ec2;
            delete_duplicates(ctx, &observed.duplicates, |copy| {
                self.destroy(ec2, ctx, copy)
            })
            .await?;
            self.destroy(ec2, ctx, observed).await
        })
    }
}

impl<C> Kind<C> for ElasticIp
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedAddress;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedAddress>, Error>> {
        Box::pin(self.observe(&clients.as_ref().ec2, mode))
    }

    fn diff(&self, observed: Option<&ObservedAddress>, _: &Resolved) -> Result<Change, Error> {
        let duplicates = observed.map(|o| duplicate_ids(&o.duplicates));
        Ok(with_duplicates(
            self.diff(observed)?,
            duplicates.unwrap_or_default(),
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedAddress>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(
                &Self::allocation_key(&self.base, self.index),
                &o.allocation_id,
            )
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedAddress>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ec2 = &clients.as_ref().ec2;
            self.apply(ec2, ctx, observed).await?;
            let duplicates = observed.map_or(&[][..], |o| &o.duplicates);
            delete_duplicates(ctx, duplicates, |copy| self.destroy(ec2, ctx, copy)).await
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedAddress,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ec2 = &clients.as_ref().ec2;
            delete_duplicates(ctx, &observed.duplicates, |copy| {
                self.destroy(ec2, ctx, copy)
            })
            .await?;
            self.destroy(ec2, ctx, observed).await
        })
    }
}

impl<C> Kind<C> for NatGateway
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedNat;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![
            self.public_subnet(),
            ElasticIp {
                base: self.base.clone(),
                index: self.index,
            }
            .rid(),
            // AWS refuses a public NAT gateway in a VPC without an internet gateway.
            igw_resource_id(&self.base),
        ]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedNat>, Error>> {
        Box::pin(self.observe(&clients.as_ref().ec2, mode))
    }

    fn diff(&self, observed: Option<&ObservedNat>, _: &Resolved) -> Result<Change, Error> {
        self.diff(observed)
    }

    fn outputs(&self, observed: Option<&ObservedNat>, change: &Change, _: &Resolved) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(&nat_id_key(&self.base, self.index), &o.id)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedNat>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(&clients.as_ref().ec2, ctx, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedNat,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.destroy(&clients.as_ref().ec2, ctx, observed))
    }
}
