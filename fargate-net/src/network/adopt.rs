//! An existing VPC and subnets, adopted: verified read-only when planning
//! (they exist, the subnets are in the VPC, the public ones span 2 zones),
//! never modified or deleted, and their ids published like a new network's.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;
use fargate_core::resource::{BoxFuture, node};
use fargate_core::{
    AwsResultExt, Change, Cidr, Error, Ident, Kind, Mode, OutputKey, PlanValues, Resolved,
    Resource, ResourceId, Round, StepContext,
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
    let mut out: Vec<Arc<dyn Resource<C>>> = vec![node(vpc), node(public.clone())];
    let private_ids = match &private {
        Some(p) => {
            deps.push(p.id());
            out.push(node(p.clone()));
            SubnetIds::List(p.ids_key())
        }
        None => SubnetIds::None,
    };
    out.push(node(SubnetsOutputs {
        env: env.clone(),
        deps: deps.clone(),
        public: SubnetIds::List(public.ids_key()),
        private: private_ids,
    }));
    deps.push(super::subnets_resource_id(env));
    out.push(node(EgressOutputs {
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
    async fn verify(&self, ec2: &Client) -> Result<FoundVpc, Error> {
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
        Ok(FoundVpc {
            id: id.to_string(),
            cidr,
        })
    }
}

/// The VPC found for adoption.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FoundVpc {
    id: String,
    cidr: Cidr,
}

impl<C> Kind<C> for AdoptedVpc
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = FoundVpc;

    fn id(&self) -> ResourceId {
        AdoptedVpc::id(self)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<FoundVpc>, Error>> {
        Box::pin(async move {
            match mode {
                // Adopted: left in place, nothing to look at.
                Mode::Destroy => Ok(None),
                Mode::Apply => self.verify(&clients.as_ref().ec2).await.map(Some),
            }
        })
    }

    fn diff(&self, observed: Option<&FoundVpc>, _: &Resolved) -> Result<Change, Error> {
        match observed {
            Some(found) => Ok(Change::Adopt {
                detail: found.id.clone(),
            }),
            None => Err(Error::NotFound {
                resource: AdoptedVpc::id(self),
                detail: "the VPC to adopt was not found".to_string(),
            }),
        }
    }

    fn destroy_change(&self, _: Option<&FoundVpc>) -> Change {
        Change::NoOp
    }

    fn outputs(&self, observed: Option<&FoundVpc>, _: &Change, _: &Resolved) -> PlanValues {
        match observed {
            Some(found) => PlanValues::new()
                .with(&vpc_id_key(&self.env), &found.id)
                .with(&vpc_cidr_key(&self.env), &found.cidr),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a FoundVpc>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(found) = observed {
                ctx.set(&vpc_id_key(&self.env), found.id.clone());
                ctx.set(&vpc_cidr_key(&self.env), found.cidr);
            }
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a FoundVpc,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Adopted: never deleted.
        Box::pin(async { Ok(()) })
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FoundSubnet {
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

impl<C> Kind<C> for AdoptedSubnets
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = Vec<FoundSubnet>;

    fn id(&self) -> ResourceId {
        AdoptedSubnets::id(self)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![vpc_resource_id(&self.env)]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<Vec<FoundSubnet>>, Error>> {
        Box::pin(async move {
            match mode {
                // Adopted: left in place, nothing to look at.
                Mode::Destroy => Ok(None),
                Mode::Apply => self.verify(&clients.as_ref().ec2).await.map(Some),
            }
        })
    }

    fn diff(&self, observed: Option<&Vec<FoundSubnet>>, _: &Resolved) -> Result<Change, Error> {
        let Some(found) = observed else {
            return Err(Error::NotFound {
                resource: AdoptedSubnets::id(self),
                detail: format!("the {} subnets to adopt were not found", self.tier.as_str()),
            });
        };
        let detail = found
            .iter()
            .map(|f| format!("{} ({})", f.id, f.zone))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Change::Adopt { detail })
    }

    fn destroy_change(&self, _: Option<&Vec<FoundSubnet>>) -> Change {
        Change::NoOp
    }

    fn outputs(&self, observed: Option<&Vec<FoundSubnet>>, _: &Change, _: &Resolved) -> PlanValues {
        match observed {
            Some(found) => {
                let ids: Vec<String> = found.iter().map(|f| f.id.clone()).collect();
                PlanValues::new().with(&self.ids_key(), &ids)
            }
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a Vec<FoundSubnet>>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(found) = observed else {
                return Ok(());
            };
            // With a VPC chosen by tags, the subnets' VPC is checked against it now.
            let vpc = ctx.get(&vpc_id_key(&self.env))?;
            if let Some(stray) = found.iter().find(|f| f.vpc != vpc) {
                return Err(Error::NotFound {
                    resource: AdoptedSubnets::id(self),
                    detail: format!(
                        "subnet {} is in {}, not in the adopted VPC {vpc}",
                        stray.id, stray.vpc
                    ),
                });
            }
            ctx.set(
                &self.ids_key(),
                found.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
            );
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a Vec<FoundSubnet>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Adopted: never deleted.
        Box::pin(async { Ok(()) })
    }
}
