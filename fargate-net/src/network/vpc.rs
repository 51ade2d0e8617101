//! The VPC of a new network: its CIDR block, DNS hostnames and DNS support on.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use fargate_core::{AwsResultExt, Change, Cidr, Error, Fields, Mode, ResourceId, StepContext};

use super::common::{
    Base, DEPENDENCY_VIOLATION, Ec2Kind, all_concurrently, change_in_place, delete_lost_copies,
    delete_waiting, fact, keep_one, owned_copies, returned_id,
};
use super::{vpc_cidr_key, vpc_id_key, vpc_resource_id};
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Ec2Kind for VpcResource {
    type Observed = ObservedVpc;

    fn rid(&self) -> ResourceId {
        vpc_resource_id(&self.base.env)
    }

    fn deps(&self) -> Vec<ResourceId> {
        Vec::new()
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

    fn duplicates(observed: &ObservedVpc) -> Vec<(String, ObservedVpc)> {
        observed.duplicates.clone()
    }

    fn id_of(observed: &ObservedVpc) -> String {
        observed.id.clone()
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
                        Box::pin(delete_lost_copies(self, ec2, ctx, &id)),
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

    fn plan_outputs(&self, observed: &ObservedVpc) -> Vec<(String, String)> {
        [
            fact(&vpc_id_key(&self.base.env), &observed.id),
            fact(&vpc_cidr_key(&self.base.env), &self.cidr),
        ]
        .into_iter()
        .flatten()
        .collect()
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
