//! An existing VPC and subnets, adopted: verified read-only when planning
//! (they exist, the subnets are in the VPC, the public ones span 2 zones),
//! never modified or deleted, and their ids published like a new network's.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;
use fargate_core::resource::BoxFuture;
use fargate_core::{
    AwsResultExt, Change, Cidr, Error, Ident, Mode, OutputKey, Planned, Resource, ResourceId,
    StepContext,
};

use super::common::filter;
use super::outputs::{EgressOutputs, SubnetIds, SubnetsOutputs};
use super::{
    Adopted, SubnetSelector, Tier, VpcSelector, show_tags, vpc_cidr_key, vpc_id_key,
    vpc_resource_id,
};
use crate::NetClients;

fn tag_filters(tags: &[(String, String)]) -> Vec<Filter> {
    tags.iter()
        .map(|(k, v)| filter(&format!("tag:{k}"), [v.clone()]))
        .collect()
}

/// The resources of an adopted network.
pub(super) fn resources<C>(env: &Ident, adopted: &Adopted) -> Vec<Arc<dyn Resource<C>>>
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    let vpc = AdoptedVpc {
        env: env.clone(),
        selector: adopted.vpc.clone(),
    };
    let public = AdoptedSubnets {
        env: env.clone(),
        tier: Tier::Public,
        selector: adopted.public.clone(),
        vpc: adopted.vpc.clone(),
    };
    let private = adopted.private.clone().map(|selector| AdoptedSubnets {
        env: env.clone(),
        tier: Tier::Private,
        selector,
        vpc: adopted.vpc.clone(),
    });
    let mut deps = vec![vpc.id(), public.id()];
    let mut out: Vec<Arc<dyn Resource<C>>> = vec![Arc::new(vpc), Arc::new(public.clone())];
    let private_ids = match &private {
        Some(p) => {
            deps.push(p.id());
            out.push(Arc::new(p.clone()));
            SubnetIds::List(p.ids_key())
        }
        None => SubnetIds::None,
    };
    out.push(Arc::new(SubnetsOutputs {
        env: env.clone(),
        deps: deps.clone(),
        public: SubnetIds::List(public.ids_key()),
        private: private_ids,
    }));
    deps.push(super::subnets_resource_id(env));
    out.push(Arc::new(EgressOutputs {
        env: env.clone(),
        deps,
        tasks: adopted.tasks,
    }));
    out
}

/// The adopted VPC: `ec2:vpc <env>`, like a new one, so dependents do not care.
#[derive(Debug, Clone)]
pub(crate) struct AdoptedVpc {
    pub(crate) env: Ident,
    pub(crate) selector: VpcSelector,
}

impl AdoptedVpc {
    fn id(&self) -> ResourceId {
        vpc_resource_id(&self.env)
    }

    /// `DescribeVpcs` by id (as a filter, so a missing VPC is an empty answer) or by tags.
    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn verify(&self, ec2: &Client) -> Result<(String, Cidr), Error> {
        let rid = self.id();
        let filters = match &self.selector {
            VpcSelector::Id(id) => vec![filter("vpc-id", [id.clone()])],
            VpcSelector::Tags(tags) => tag_filters(tags),
        };
        let out = ec2
            .describe_vpcs()
            .set_filters(Some(filters))
            .send()
            .await
            .context(&rid, "DescribeVpcs")?;
        let found: Vec<(&str, &str)> = out
            .vpcs()
            .iter()
            .filter_map(|v| Some((v.vpc_id()?, v.cidr_block().unwrap_or_default())))
            .collect();
        let (id, cidr) = match (found.as_slice(), &self.selector) {
            ([one], _) => *one,
            ([], VpcSelector::Id(id)) => {
                return Err(Error::NotFound {
                    resource: rid,
                    detail: format!("VPC {id} to adopt does not exist in this account and region"),
                });
            }
            ([], VpcSelector::Tags(tags)) => {
                return Err(Error::NotFound {
                    resource: rid,
                    detail: format!("no VPC to adopt carries the tags {}", show_tags(tags)),
                });
            }
            (many, _) => {
                let ids: Vec<&str> = many.iter().map(|(id, _)| *id).collect();
                return Err(Error::NotFound {
                    resource: rid,
                    detail: format!(
                        "{} VPCs match ({}), exactly one is needed; adopt it by id",
                        ids.len(),
                        ids.join(", ")
                    ),
                });
            }
        };
        let cidr: Cidr =
            cidr.parse()
                .map_err(|e: fargate_core::InvalidValue| Error::Unexpected {
                    resource: rid.clone(),
                    operation: "DescribeVpcs".into(),
                    detail: format!("VPC {id} has no usable CIDR block: {e}"),
                })?;
        Ok((id.to_string(), cidr))
    }
}

impl<C> Resource<C> for AdoptedVpc
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    fn id(&self) -> ResourceId {
        AdoptedVpc::id(self)
    }

    fn plan<'a>(&'a self, clients: &'a C, mode: Mode) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        Box::pin(async move {
            if mode == Mode::Destroy {
                // Adopted: left in place, nothing to look at.
                return Ok(Planned::nothing(Change::NoOp));
            }
            let (id, cidr) = self.verify(&clients.as_ref().ec2).await?;
            let env = self.env.clone();
            let (id_key, cidr_key) = (vpc_id_key(&env), vpc_cidr_key(&env));
            let facts = (id.clone(), cidr);
            Ok(Planned::new(
                Change::Adopt { detail: id.clone() },
                move |_: C, ctx: StepContext| async move {
                    ctx.set(&vpc_id_key(&env), id);
                    ctx.set(&vpc_cidr_key(&env), cidr);
                    Ok(())
                },
            )
            .with_output(&id_key, &facts.0)
            .with_output(&cidr_key, &facts.1))
        })
    }
}

/// The adopted subnets of one tier: `ec2:subnets <env>/public` (or `private`).
#[derive(Debug, Clone)]
pub(crate) struct AdoptedSubnets {
    pub(crate) env: Ident,
    pub(crate) tier: Tier,
    pub(crate) selector: SubnetSelector,
    pub(crate) vpc: VpcSelector,
}

/// A subnet found for adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FoundSubnet {
    id: String,
    vpc: String,
    zone: String,
}

impl AdoptedSubnets {
    fn id(&self) -> ResourceId {
        ResourceId::new(
            "ec2:subnets",
            format!("{}/{}", self.env, self.tier.as_str()),
        )
    }

    fn ids_key(&self) -> OutputKey<Vec<String>> {
        self.id().output("ids")
    }

    /// `DescribeSubnets` by id (as a filter, so missing ones are named) or by tags.
    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn verify(&self, ec2: &Client) -> Result<Vec<FoundSubnet>, Error> {
        let rid = self.id();
        let filters = match (&self.selector, &self.vpc) {
            (SubnetSelector::Ids(ids), _) => vec![filter("subnet-id", ids.iter().cloned())],
            (SubnetSelector::Tags(tags), VpcSelector::Id(vpc)) => {
                let mut f = tag_filters(tags);
                f.push(filter("vpc-id", [vpc.clone()]));
                f
            }
            (SubnetSelector::Tags(tags), VpcSelector::Tags(_)) => tag_filters(tags),
        };
        let out = ec2
            .describe_subnets()
            .set_filters(Some(filters))
            .send()
            .await
            .context(&rid, "DescribeSubnets")?;
        let found: Vec<FoundSubnet> = out
            .subnets()
            .iter()
            .filter_map(|s| {
                Some(FoundSubnet {
                    id: s.subnet_id()?.to_string(),
                    vpc: s.vpc_id().unwrap_or_default().to_string(),
                    zone: s.availability_zone().unwrap_or_default().to_string(),
                })
            })
            .collect();
        let tier = self.tier.as_str();
        let not_found = |detail: String| Error::NotFound {
            resource: rid.clone(),
            detail,
        };
        // Keep the order the user gave.
        let found = match &self.selector {
            SubnetSelector::Ids(ids) => {
                let missing: Vec<&str> = ids
                    .iter()
                    .filter(|id| !found.iter().any(|f| f.id == **id))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(not_found(format!(
                        "{tier} subnet(s) {} to adopt do not exist in this account and region",
                        missing.join(", ")
                    )));
                }
                ids.iter()
                    .filter_map(|id| found.iter().find(|f| f.id == *id).cloned())
                    .collect()
            }
            SubnetSelector::Tags(tags) if found.is_empty() => {
                return Err(not_found(format!(
                    "no {tier} subnet to adopt carries the tags {}",
                    show_tags(tags)
                )));
            }
            SubnetSelector::Tags(_) => found,
        };
        let vpcs: BTreeSet<&str> = found.iter().map(|f| f.vpc.as_str()).collect();
        if let VpcSelector::Id(vpc) = &self.vpc
            && let Some(stray) = found.iter().find(|f| f.vpc != *vpc)
        {
            return Err(not_found(format!(
                "{tier} subnet {} is in {}, not in the adopted VPC {vpc}",
                stray.id, stray.vpc
            )));
        }
        if vpcs.len() > 1 {
            return Err(not_found(format!(
                "the {tier} subnets are in several VPCs ({})",
                vpcs.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        let zones: BTreeSet<&str> = found.iter().map(|f| f.zone.as_str()).collect();
        if self.tier == Tier::Public && zones.len() < 2 {
            return Err(not_found(format!(
                "public subnets {} are all in {}; a load balancer needs subnets in at least 2 availability zones",
                found
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                zones.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(found)
    }
}

impl<C> Resource<C> for AdoptedSubnets
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    fn id(&self) -> ResourceId {
        AdoptedSubnets::id(self)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![vpc_resource_id(&self.env)]
    }

    fn plan<'a>(&'a self, clients: &'a C, mode: Mode) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        Box::pin(async move {
            if mode == Mode::Destroy {
                return Ok(Planned::nothing(Change::NoOp));
            }
            let found = self.verify(&clients.as_ref().ec2).await?;
            let detail = found
                .iter()
                .map(|f| format!("{} ({})", f.id, f.zone))
                .collect::<Vec<_>>()
                .join(", ");
            let this = self.clone();
            let ids: Vec<String> = found.iter().map(|f| f.id.clone()).collect();
            let ids_key = self.ids_key();
            Ok(Planned::new(
                Change::Adopt { detail },
                move |_: C, ctx: StepContext| async move {
                    // With a VPC chosen by tags, the subnets' VPC is checked against it now.
                    let vpc = ctx.get(&vpc_id_key(&this.env))?;
                    if let Some(stray) = found.iter().find(|f| f.vpc != vpc) {
                        return Err(Error::NotFound {
                            resource: this.id(),
                            detail: format!(
                                "subnet {} is in {}, not in the adopted VPC {vpc}",
                                stray.id, stray.vpc
                            ),
                        });
                    }
                    ctx.set(
                        &this.ids_key(),
                        found.into_iter().map(|f| f.id).collect::<Vec<_>>(),
                    );
                    Ok(())
                },
            )
            .with_output(&ids_key, &ids))
        })
    }
}
