//! The VPC of a new network: its CIDR block, DNS hostnames and DNS support on.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use fargate_core::resource::BoxFuture;
use fargate_core::{
    AwsResultExt, Change, Cidr, Error, Fields, Kind, Mode, PlanValues, Resolved, ResourceId, Round,
    StepContext,
};

use super::common::{
    Base, DEPENDENCY_VIOLATION, all_concurrently, change_in_place, delete_duplicates,
    delete_lost_copies, delete_waiting, duplicate_ids, keep_one, owned_copies, returned_id,
    with_duplicates, without_duplicates,
};
use super::{vpc_cidr_key, vpc_id_key, vpc_resource_id};
use crate::NetClients;
use crate::tagging::ec2_owner_filters;

const COMPONENT: &str = "vpc";
const GONE: &[&str] = &["InvalidVpcID.NotFound"];
const CIDR_HINT: &str =
    "destroy the environment's network first, or keep the CIDR it was created with";

/// The environment's new VPC.
#[derive(Debug, Clone)]
pub(crate) struct VpcResource {
    pub(crate) base: Base,
    pub(crate) cidr: Cidr,
}

/// The VPC as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedVpc {
    pub(crate) id: String,
    pub(crate) cidr: String,
    pub(crate) dns_hostnames: bool,
    pub(crate) dns_support: bool,
    /// Other owned copies (see [`super::common::keep_one`]).
    pub(crate) duplicates: Vec<(String, ObservedVpc)>,
}

/// The managed fields of the desired VPC.
pub(crate) fn desired_fields(cidr: &Cidr) -> Fields {
    Fields::new()
        .with("cidr", cidr.to_string())
        .with("dns_hostnames", true)
        .with("dns_support", true)
}

/// The managed fields of the VPC found in AWS.
pub(crate) fn observed_fields(vpc: &ObservedVpc) -> Fields {
    Fields::new()
        .with("cidr", vpc.cidr.clone())
        .with("dns_hostnames", vpc.dns_hostnames)
        .with("dns_support", vpc.dns_support)
}

impl VpcResource {
    /// `ModifyVpcAttribute` for one attribute (the API takes one per call).
    async fn enable(
        &self,
        ec2: &Client,
        vpc_id: &str,
        attribute: VpcAttributeName,
    ) -> Result<(), Error> {
        let on = AttributeBooleanValue::builder().value(true).build();
        let call = ec2.modify_vpc_attribute().vpc_id(vpc_id);
        let call = match attribute {
            VpcAttributeName::EnableDnsSupport => call.enable_dns_support(on),
            _ => call.enable_dns_hostnames(on),
        };
        call.send()
            .await
            .context(self.rid(), "ModifyVpcAttribute")?;
        Ok(())
    }

    async fn attribute(
        &self,
        ec2: &Client,
        vpc_id: &str,
        attribute: VpcAttributeName,
    ) -> Result<bool, Error> {
        let out = ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .context(self.rid(), "DescribeVpcAttribute")?;
        let value = match attribute {
            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
            _ => out.enable_dns_hostnames(),
        };
        Ok(value
            .and_then(AttributeBooleanValue::value)
            .unwrap_or(false))
    }
}

impl VpcResource {
    /// How many subnets each VPC holds (one DescribeSubnets), to pick among copies.
    async fn subnet_counts(
        &self,
        ec2: &Client,
        vpcs: &[&aws_sdk_ec2::types::Vpc],
    ) -> Result<std::collections::BTreeMap<String, usize>, Error> {
        let ids: Vec<&str> = vpcs.iter().filter_map(|v| v.vpc_id()).collect();
        let out = ec2
            .describe_subnets()
            .filters(super::common::filter("vpc-id", ids))
            .send()
            .await
            .context(self.rid(), "DescribeSubnets")?;
        let mut counts = std::collections::BTreeMap::new();
        for s in out.subnets() {
            if let Some(v) = s.vpc_id() {
                *counts.entry(v.to_string()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }
}

impl VpcResource {
    pub(crate) fn rid(&self) -> ResourceId {
        vpc_resource_id(&self.base.env)
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(&self, ec2: &Client, mode: Mode) -> Result<Option<ObservedVpc>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(COMPONENT);
        let out = ec2
            .describe_vpcs()
            .set_filters(Some(ec2_owner_filters(&owner)))
            .send()
            .await
            .context(&rid, "DescribeVpcs")?;
        let copies = owned_copies(
            &rid,
            &owner,
            "VPC",
            out.vpcs(),
            |v| v.vpc_id(),
            |v| v.tags(),
        )?;
        // Keep the copy holding the most subnets: the one the stack was built in.
        let subnets = if copies.len() > 1 {
            self.subnet_counts(ec2, &copies).await?
        } else {
            std::collections::BTreeMap::new()
        };
        let (found, extras) = keep_one(copies, |v| {
            v.vpc_id()
                .and_then(|id| subnets.get(id))
                .copied()
                .unwrap_or(0)
        });
        let duplicates = extras
            .iter()
            .filter_map(|v| {
                let id = v.vpc_id()?.to_string();
                Some((
                    id.clone(),
                    ObservedVpc {
                        cidr: v.cidr_block().unwrap_or_default().to_string(),
                        id,
                        dns_hostnames: false,
                        dns_support: false,
                        duplicates: Vec::new(),
                    },
                ))
            })
            .collect();
        let Some(vpc) = found else { return Ok(None) };
        let id = returned_id(&rid, "DescribeVpcs", vpc.vpc_id())?;
        let (dns_hostnames, dns_support) = match mode {
            // Deleting it: its attributes do not matter.
            Mode::Destroy => (false, false),
            Mode::Apply => tokio::try_join!(
                self.attribute(ec2, &id, VpcAttributeName::EnableDnsHostnames),
                self.attribute(ec2, &id, VpcAttributeName::EnableDnsSupport),
            )?,
        };
        Ok(Some(ObservedVpc {
            cidr: vpc.cidr_block().unwrap_or_default().to_string(),
            id,
            dns_hostnames,
            dns_support,
            duplicates,
        }))
    }

    fn diff(&self, observed: Option<&ObservedVpc>) -> Result<Change, Error> {
        let observed = observed.map(observed_fields);
        change_in_place(
            &self.rid(),
            &desired_fields(&self.cidr),
            observed.as_ref(),
            &["cidr"],
            CIDR_HINT,
        )
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        change: &Change,
        observed: Option<&ObservedVpc>,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = match observed {
            None => {
                let out = ec2
                    .create_vpc()
                    .cidr_block(self.cidr.to_string())
                    .tag_specifications(self.base.tag_spec(ResourceType::Vpc, COMPONENT, "vpc"))
                    .send()
                    .await
                    .context(&rid, "CreateVpc")?;
                let id = returned_id(&rid, "CreateVpc", out.vpc().and_then(|v| v.vpc_id()))?;
                ctx.progress(format!("created VPC {id} ({})", self.cidr));
                // A new VPC has DNS support on and DNS hostnames off. Looking for (and
                // deleting) copies a retried create left concerns other VPCs: one round.
                all_concurrently(
                    &rid,
                    vec![
                        Box::pin(self.delete_lost_copies(ec2, ctx, &id)),
                        Box::pin(self.enable(ec2, &id, VpcAttributeName::EnableDnsHostnames)),
                    ],
                )
                .await?;
                id
            }
            Some(found) => {
                if matches!(change, Change::Update { .. }) {
                    // Support before hostnames: hostnames need support.
                    if !found.dns_support {
                        self.enable(ec2, &found.id, VpcAttributeName::EnableDnsSupport)
                            .await?;
                    }
                    if !found.dns_hostnames {
                        self.enable(ec2, &found.id, VpcAttributeName::EnableDnsHostnames)
                            .await?;
                    }
                }
                found.id.clone()
            }
        };
        ctx.set(&vpc_id_key(&self.base.env), id);
        ctx.set(&vpc_cidr_key(&self.base.env), self.cidr);
        Ok(())
    }

    /// Delete the owned copies a retried CreateVpc may have made besides `created`.
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
        observed: &ObservedVpc,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let (rid_ref, id) = (&rid, observed.id.as_str());
        delete_waiting(
            ctx,
            &rid,
            &format!("VPC {id}"),
            self.base.waits.dependencies,
            GONE,
            &[DEPENDENCY_VIOLATION],
            || async move {
                ec2.delete_vpc()
                    .vpc_id(id)
                    .send()
                    .await
                    .context(rid_ref, "DeleteVpc")
                    .map(drop)
            },
        )
        .await?;
        ctx.progress(format!("deleted VPC {id}"));
        Ok(())
    }
}

impl<C> Kind<C> for VpcResource
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedVpc;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedVpc>, Error>> {
        Box::pin(self.observe(&clients.as_ref().ec2, mode))
    }

    fn diff(&self, observed: Option<&ObservedVpc>, _: &Resolved) -> Result<Change, Error> {
        let duplicates = observed.map(|o| duplicate_ids(&o.duplicates));
        Ok(with_duplicates(
            self.diff(observed)?,
            duplicates.unwrap_or_default(),
        ))
    }

    fn outputs(&self, observed: Option<&ObservedVpc>, change: &Change, _: &Resolved) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new()
                .with(&vpc_id_key(&self.base.env), &o.id)
                .with(&vpc_cidr_key(&self.base.env), &self.cidr)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedVpc>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ec2 = &clients.as_ref().ec2;
            self.apply(ec2, ctx, &without_duplicates(change), observed)
                .await?;
            let duplicates = observed.map_or(&[][..], |o| &o.duplicates);
            delete_duplicates(ctx, duplicates, |copy| self.destroy(ec2, ctx, copy)).await
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedVpc,
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
