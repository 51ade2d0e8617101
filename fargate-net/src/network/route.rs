//! Route tables of a new network: the default route (`0.0.0.0/0` to the
//! internet gateway or a NAT gateway) and the subnets associated with it.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{ResourceType, RouteState, RouteTable as Ec2RouteTable};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::{Ownership, OwnershipCheck};
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Kind, Mode, PlanValues, Resolved, ResourceId, Round,
    StepContext, client_token, ok_unless,
};

use super::common::{
    Base, DEPENDENCY_VIOLATION, all_concurrently, delete_waiting, filter, returned_id,
    select_owned, tag_value,
};
use super::gateway::{
    ALREADY_ASSOCIATED, igw_id_key, igw_resource_id, nat_id_key, nat_resource_id,
};
use super::subnet::SubnetLink;
use super::{vpc_id_key, vpc_resource_id};
use crate::NetClients;
use crate::tagging::{ec2_owner_filters, ec2_tag_pairs};

const DEFAULT_ROUTE: &str = "0.0.0.0/0";
const GONE: &[&str] = &["InvalidRouteTableID.NotFound"];

/// Where a route table's default route goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The environment's internet gateway.
    InternetGateway,
    /// The NAT gateway of zone `index`.
    NatGateway(usize),
    /// No default route (VPC endpoints only); one found is deleted.
    NoDefaultRoute,
}

impl Target {
    /// The normalized form of the target, as [`normalize_route`] gives it.
    fn kind(self) -> Option<&'static str> {
        match self {
            Target::InternetGateway => Some("internet-gateway"),
            Target::NatGateway(_) => Some("nat-gateway"),
            Target::NoDefaultRoute => None,
        }
    }
}

/// A route table: `ec2:route-table <env>/<name>`.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    pub(crate) base: Base,
    pub(crate) name: String,
    pub(crate) target: Target,
    pub(crate) subnets: Vec<SubnetLink>,
}

/// One subnet association of a route table as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Association {
    pub(crate) id: String,
    pub(crate) subnet_id: String,
    /// The logical name when the subnet is one of the environment's (e.g. `public-a`).
    pub(crate) name: Option<String>,
}

/// The route table as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedRouteTable {
    pub(crate) id: String,
    /// The default route's target, normalized; `None` when there is no default route.
    pub(crate) default_route: Option<String>,
    pub(crate) associations: Vec<Association>,
}

/// A route's target in normalized form: `internet-gateway`, `nat-gateway` or
/// `other <id>`, with ` (blackhole)` when the target is gone.
pub(crate) fn normalize_route(route: &aws_sdk_ec2::types::Route) -> String {
    let target = if route.nat_gateway_id().is_some() {
        "nat-gateway".to_string()
    } else if route.gateway_id().is_some_and(|g| g.starts_with("igw-")) {
        "internet-gateway".to_string()
    } else {
        let other = route
            .gateway_id()
            .or(route.network_interface_id())
            .or(route.transit_gateway_id())
            .or(route.vpc_peering_connection_id())
            .unwrap_or("unknown");
        format!("other {other}")
    };
    if route.state() == Some(&RouteState::Blackhole) {
        format!("{target} (blackhole)")
    } else {
        target
    }
}

/// The managed fields of a route table: its default route and the environment
/// subnets associated with it (other subnets are left alone).
pub(crate) fn fields<'a>(
    default_route: Option<&str>,
    subnets: impl IntoIterator<Item = &'a str>,
) -> Fields {
    Fields::new()
        .with("default_route", default_route.map(str::to_string))
        .with_set("subnets", subnets)
}

impl RouteTable {
    fn component(&self) -> String {
        format!("rt-{}", self.name)
    }

    /// The route table id output.
    pub(crate) fn id_key(&self) -> fargate_core::OutputKey<String> {
        self.rid().output("id")
    }

    fn target_id(&self, ctx: &StepContext) -> Result<Option<String>, Error> {
        match self.target {
            Target::InternetGateway => ctx.get(&igw_id_key(&self.base)).map(Some),
            Target::NatGateway(index) => ctx.get(&nat_id_key(&self.base, index)).map(Some),
            Target::NoDefaultRoute => Ok(None),
        }
    }

    /// `CreateRoute` (or `ReplaceRoute` when a default route exists) to the
    /// target, or `DeleteRoute` when the table should have no default route.
    async fn set_default_route(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        table: &str,
        replace: bool,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let Some(target) = self.target_id(ctx)? else {
            if replace {
                let out = ec2
                    .delete_route()
                    .route_table_id(table)
                    .destination_cidr_block(DEFAULT_ROUTE)
                    .send()
                    .await;
                // A retry whose first attempt was applied finds it gone.
                ok_unless(out, &rid, "DeleteRoute", |e| {
                    e.code() == Some("InvalidRoute.NotFound")
                })?;
                ctx.progress(format!("deleted route {DEFAULT_ROUTE} in {table}"));
            }
            return Ok(());
        };
        if replace {
            let call = ec2
                .replace_route()
                .route_table_id(table)
                .destination_cidr_block(DEFAULT_ROUTE);
            let call = match self.target {
                Target::NatGateway(_) => call.nat_gateway_id(&target),
                Target::InternetGateway | Target::NoDefaultRoute => call.gateway_id(&target),
            };
            call.send().await.context(&rid, "ReplaceRoute")?;
        } else {
            let call = ec2
                .create_route()
                .route_table_id(table)
                .destination_cidr_block(DEFAULT_ROUTE);
            let call = match self.target {
                Target::NatGateway(_) => call.nat_gateway_id(&target),
                Target::InternetGateway | Target::NoDefaultRoute => call.gateway_id(&target),
            };
            let out = call.send().await;
            // A retry whose first attempt was applied finds the route there: make sure it
            // goes to our target.
            if ok_unless(out, &rid, "CreateRoute", |e| {
                e.code() == Some("RouteAlreadyExists")
            })?
            .is_none()
            {
                return Box::pin(self.set_default_route(ec2, ctx, table, true)).await;
            }
        }
        ctx.progress(format!("route {DEFAULT_ROUTE} → {target} in {table}"));
        Ok(())
    }

    async fn associate(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        table: &str,
        subnet: &SubnetLink,
    ) -> Result<(), Error> {
        let subnet_id = ctx.get(&subnet.id)?;
        let out = ec2
            .associate_route_table()
            .route_table_id(table)
            .subnet_id(&subnet_id)
            .send()
            .await;
        // A retry whose first attempt was applied finds the association there.
        ok_unless(out, self.rid(), "AssociateRouteTable", |e| {
            e.code() == Some(ALREADY_ASSOCIATED)
        })?;
        ctx.progress(format!(
            "associated {subnet_id} ({}) with {table}",
            subnet.name
        ));
        Ok(())
    }

    async fn disassociate(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        association: &Association,
    ) -> Result<(), Error> {
        let done = ec2
            .disassociate_route_table()
            .association_id(&association.id)
            .send()
            .await
            .context(self.rid(), "DisassociateRouteTable");
        match done {
            Err(e) if e.aws_code() == Some("InvalidAssociationID.NotFound") => {}
            other => {
                other?;
            }
        }
        ctx.progress(format!(
            "disassociated {} from the route table",
            association.subnet_id
        ));
        Ok(())
    }

    /// The logical names of the environment's subnets among `subnet_ids` (one
    /// `DescribeSubnets`, only when the table has associations).
    async fn subnet_names(
        &self,
        ec2: &Client,
        subnet_ids: &[String],
    ) -> Result<Vec<(String, String)>, Error> {
        if subnet_ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = ec2
            .describe_subnets()
            .filters(filter("subnet-id", subnet_ids.iter().cloned()))
            .send()
            .await
            .context(self.rid(), "DescribeSubnets")?;
        let env_owner = Ownership::new(self.base.env.clone());
        Ok(out
            .subnets()
            .iter()
            .filter(|s| env_owner.check(ec2_tag_pairs(s.tags())) == OwnershipCheck::Owned)
            .filter_map(|s| {
                let name =
                    tag_value(s.tags(), Ownership::COMPONENT_KEY)?.strip_prefix("subnet-")?;
                Some((s.subnet_id()?.to_string(), name.to_string()))
            })
            .collect())
    }

    async fn observed(
        &self,
        ec2: &Client,
        table: &Ec2RouteTable,
    ) -> Result<ObservedRouteTable, Error> {
        let rid = self.rid();
        let subnet_ids: Vec<String> = table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .filter_map(|a| a.subnet_id().map(str::to_string))
            .collect();
        // The environment's subnets whose ids the plan already knows need no look-up.
        let mut names: Vec<(String, String)> = self
            .subnets
            .iter()
            .filter_map(|s| Some((s.known_id.clone()?, s.name.clone())))
            .collect();
        let unknown: Vec<String> = subnet_ids
            .into_iter()
            .filter(|id| !names.iter().any(|(known, _)| known == id))
            .collect();
        names.extend(self.subnet_names(ec2, &unknown).await?);
        let associations = table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .filter_map(|a| {
                let subnet_id = a.subnet_id()?.to_string();
                Some(Association {
                    id: a.route_table_association_id()?.to_string(),
                    name: names
                        .iter()
                        .find(|(id, _)| *id == subnet_id)
                        .map(|(_, n)| n.clone()),
                    subnet_id,
                })
            })
            .collect();
        Ok(ObservedRouteTable {
            id: returned_id(&rid, "DescribeRouteTables", table.route_table_id())?,
            default_route: table
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE))
                .map(normalize_route),
            associations,
        })
    }
}

impl RouteTable {
    pub(crate) fn rid(&self) -> ResourceId {
        ResourceId::new(
            "ec2:route-table",
            format!("{}/{}", self.base.env, self.name),
        )
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(
        &self,
        ec2: &Client,
        _mode: Mode,
    ) -> Result<Option<ObservedRouteTable>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(&self.component());
        let out = ec2
            .describe_route_tables()
            .set_filters(Some(ec2_owner_filters(&owner)))
            .send()
            .await
            .context(&rid, "DescribeRouteTables")?;
        let found = select_owned(
            &rid,
            &owner,
            "route table",
            "DescribeRouteTables",
            out.route_tables(),
            |t| t.route_table_id(),
            |t| t.tags(),
        )?;
        match found {
            Some(table) => Ok(Some(self.observed(ec2, table).await?)),
            None => Ok(None),
        }
    }

    fn diff(&self, observed: Option<&ObservedRouteTable>) -> Result<Change, Error> {
        let desired = fields(
            self.target.kind(),
            self.subnets.iter().map(|s| s.name.as_str()),
        );
        let observed = observed.map(|t| {
            fields(
                t.default_route.as_deref(),
                t.associations.iter().filter_map(|a| a.name.as_deref()),
            )
        });
        Ok(Change::compute(&desired, observed.as_ref(), &[]))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&ObservedRouteTable>,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = match observed {
            None => {
                let vpc = ctx.get(&vpc_id_key(&self.base.env))?;
                let out = ec2
                    .create_route_table()
                    .vpc_id(vpc)
                    // Stable across the SDK's retries of this call, new for every apply.
                    .client_token(client_token())
                    .tag_specifications(self.base.tag_spec(
                        ResourceType::RouteTable,
                        &self.component(),
                        &self.component(),
                    ))
                    .send()
                    .await
                    .context(&rid, "CreateRouteTable")?;
                let id = returned_id(
                    &rid,
                    "CreateRouteTable",
                    out.route_table().and_then(|t| t.route_table_id()),
                )?;
                ctx.progress(format!("created route table {id}"));
                // The default route and the associations are independent: one round.
                let mut calls: Vec<BoxFuture<'_, Result<(), Error>>> = Vec::new();
                if self.target.kind().is_some() {
                    calls.push(Box::pin(self.set_default_route(ec2, ctx, &id, false)));
                }
                for subnet in &self.subnets {
                    calls.push(Box::pin(self.associate(ec2, ctx, &id, subnet)));
                }
                all_concurrently(&rid, calls).await?;
                id
            }
            Some(found) => {
                // The default route, the new associations and the stale ones concern
                // different objects (a subnet is either to associate or to disassociate):
                // one round.
                let mut calls: Vec<BoxFuture<'_, Result<(), Error>>> = Vec::new();
                if found.default_route.as_deref() != self.target.kind() {
                    calls.push(Box::pin(self.set_default_route(
                        ec2,
                        ctx,
                        &found.id,
                        found.default_route.is_some(),
                    )));
                }
                let associated = |name: &str| {
                    found
                        .associations
                        .iter()
                        .any(|a| a.name.as_deref() == Some(name))
                };
                for subnet in self.subnets.iter().filter(|s| !associated(&s.name)) {
                    calls.push(Box::pin(self.associate(ec2, ctx, &found.id, subnet)));
                }
                let wanted = |name: &str| self.subnets.iter().any(|s| s.name == name);
                for a in found
                    .associations
                    .iter()
                    .filter(|a| a.name.as_deref().is_some_and(|n| !wanted(n)))
                {
                    calls.push(Box::pin(self.disassociate(ec2, ctx, a)));
                }
                all_concurrently(&rid, calls).await?;
                found.id.clone()
            }
        };
        ctx.set(&self.id_key(), id);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn destroy(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: &ObservedRouteTable,
    ) -> Result<(), Error> {
        let rid = self.rid();
        // The associations are independent of each other; the table goes once all are gone.
        let calls: Vec<BoxFuture<'_, Result<(), Error>>> = observed
            .associations
            .iter()
            .map(|a| -> BoxFuture<'_, Result<(), Error>> {
                Box::pin(self.disassociate(ec2, ctx, a))
            })
            .collect();
        all_concurrently(&rid, calls).await?;
        let (rid_ref, id) = (&rid, observed.id.as_str());
        delete_waiting(
            ctx,
            &rid,
            &format!("route table {id}"),
            self.base.waits.dependencies,
            GONE,
            &[DEPENDENCY_VIOLATION],
            || async move {
                ec2.delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .context(rid_ref, "DeleteRouteTable")
                    .map(drop)
            },
        )
        .await?;
        ctx.progress(format!("deleted route table {id}"));
        Ok(())
    }
}

impl<C> Kind<C> for RouteTable
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedRouteTable;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut deps = vec![vpc_resource_id(&self.base.env)];
        match self.target {
            Target::InternetGateway => deps.push(igw_resource_id(&self.base)),
            Target::NatGateway(index) => deps.push(nat_resource_id(&self.base, index)),
            Target::NoDefaultRoute => {}
        }
        deps.extend(self.subnets.iter().map(|s| s.resource.clone()));
        deps
    }

    /// The ids of the environment's subnets that exist are known from their plans: the
    /// associations are named without looking those subnets up.
    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedRouteTable>, Error>> {
        Box::pin(async move {
            let mut resolved = self.clone();
            for link in &mut resolved.subnets {
                link.known_id = round.output(&link.id).await;
            }
            resolved.observe(&clients.as_ref().ec2, mode).await
        })
    }

    fn diff(&self, observed: Option<&ObservedRouteTable>, _: &Resolved) -> Result<Change, Error> {
        self.diff(observed)
    }

    fn outputs(
        &self,
        observed: Option<&ObservedRouteTable>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(&self.id_key(), &o.id)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedRouteTable>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(&clients.as_ref().ec2, ctx, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedRouteTable,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.destroy(&clients.as_ref().ec2, ctx, observed))
    }
}
