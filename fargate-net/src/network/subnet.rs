//! The subnets of a new network, one per availability zone and tier, and the
//! look-up of the region's availability zones they are placed in.

use std::sync::Arc;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::operation::create_subnet::CreateSubnetError;
use aws_sdk_ec2::types::ResourceType;
use fargate_core::resource::BoxFuture;
use fargate_core::{
    AwsResultExt, Change, Cidr, Created, Error, Fields, Kind, Mode, OutputKey, PlanValues,
    Resolved, ResourceId, Round, StepContext, create_or_existing,
};
use tokio::sync::OnceCell;

use super::common::{
    Base, DEPENDENCY_VIOLATION, change_in_place, delete_waiting, filter, returned_id, select_owned,
};
use super::{Tier, subnet_name, vpc_id_key, vpc_resource_id};
use crate::NetClients;
use crate::tagging::ec2_owner_filters;

const GONE: &[&str] = &["InvalidSubnetID.NotFound"];

/// `CreateSubnet`'s answer when the CIDR is taken (by our own subnet, when a
/// retried create meets its first attempt's work).
fn is_conflict(e: &CreateSubnetError) -> bool {
    e.code() == Some("InvalidSubnet.Conflict")
}
const HINT: &str = "a subnet cannot move: destroy the environment's network first, or keep the CIDR, \
     zone count and zones it was created with";

/// The availability zones of a new network: given, or the first `count` of the
/// region, looked up once per plan and shared by all its subnets.
#[derive(Debug)]
pub(crate) struct Zones {
    given: Option<Vec<String>>,
    count: usize,
    looked_up: OnceCell<Vec<String>>,
}

impl Zones {
    pub(crate) fn new(given: Option<Vec<String>>, count: usize) -> Self {
        Self {
            given,
            count,
            looked_up: OnceCell::new(),
        }
    }

    /// The zone of the `index`th subnet of a tier.
    pub(crate) async fn zone(
        &self,
        ec2: &Client,
        rid: &ResourceId,
        index: usize,
    ) -> Result<String, Error> {
        let zones = match &self.given {
            Some(given) => given,
            None => {
                self.looked_up
                    .get_or_try_init(|| self.look_up(ec2, rid))
                    .await?
            }
        };
        zones.get(index).cloned().ok_or_else(|| Error::NotFound {
            resource: rid.clone(),
            detail: format!(
                "no availability zone number {} among {}",
                index + 1,
                zones.join(", ")
            ),
        })
    }

    /// `DescribeAvailabilityZones`: the first `count` available zones (not local
    /// or wavelength zones), in name order.
    #[tracing::instrument(skip_all, fields(resource = %rid))]
    async fn look_up(&self, ec2: &Client, rid: &ResourceId) -> Result<Vec<String>, Error> {
        let out = ec2
            .describe_availability_zones()
            .filters(filter("state", ["available"]))
            .filters(filter("zone-type", ["availability-zone"]))
            .send()
            .await
            .context(rid, "DescribeAvailabilityZones")?;
        let mut names: Vec<String> = out
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        if names.len() < self.count {
            return Err(Error::NotFound {
                resource: rid.clone(),
                detail: format!(
                    "{} availability zones were asked for but the region has {} available ({})",
                    self.count,
                    names.len(),
                    names.join(", ")
                ),
            });
        }
        names.truncate(self.count);
        Ok(names)
    }
}

/// A subnet as a route table sees it: its logical name, id output and resource.
#[derive(Debug, Clone)]
pub(crate) struct SubnetLink {
    pub(crate) name: String,
    pub(crate) id: OutputKey<String>,
    pub(crate) resource: ResourceId,
    /// The id, when the subnet exists and its plan published it.
    pub(crate) known_id: Option<String>,
}

/// One subnet of a new network: `ec2:subnet <env>/<tier>-<letter>`.
#[derive(Debug, Clone)]
pub(crate) struct SubnetResource {
    pub(crate) base: Base,
    pub(crate) tier: Tier,
    pub(crate) index: usize,
    pub(crate) cidr: Cidr,
    pub(crate) zones: Arc<Zones>,
}

/// The subnet as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedSubnet {
    pub(crate) id: String,
    pub(crate) cidr: String,
    pub(crate) zone: String,
}

/// The managed fields of a subnet (desired or observed).
pub(crate) fn fields(cidr: &str, zone: &str) -> Fields {
    Fields::new()
        .with("cidr", cidr)
        .with("availability_zone", zone)
}

impl SubnetResource {
    /// The logical name, e.g. `public-a`.
    pub(crate) fn name(&self) -> String {
        subnet_name(self.tier, self.index)
    }

    fn component(&self) -> String {
        format!("subnet-{}", self.name())
    }

    /// The subnet id output.
    pub(crate) fn id_key(&self) -> OutputKey<String> {
        self.rid().output("id")
    }

    /// What a route table needs to know of this subnet.
    pub(crate) fn link(&self) -> SubnetLink {
        SubnetLink {
            name: self.name(),
            id: self.id_key(),
            resource: self.rid(),
            known_id: None,
        }
    }
}

/// The subnet if it exists, and the zone it should be in (in [`Mode::Apply`] the zone
/// is needed even when the subnet does not exist, to create it).
pub(crate) type SubnetObserved = (Option<ObservedSubnet>, String);

impl SubnetResource {
    pub(crate) fn rid(&self) -> ResourceId {
        ResourceId::new("ec2:subnet", format!("{}/{}", self.base.env, self.name()))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(&self, ec2: &Client, mode: Mode) -> Result<Option<SubnetObserved>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(&self.component());
        let describe = async {
            ec2.describe_subnets()
                .set_filters(Some(ec2_owner_filters(&owner)))
                .send()
                .await
                .context(&rid, "DescribeSubnets")
        };
        let (out, zone) = match mode {
            // Destroy needs no zone: don't look the zones up.
            Mode::Destroy => (describe.await?, String::new()),
            Mode::Apply => tokio::try_join!(describe, self.zones.zone(ec2, &rid, self.index))?,
        };
        let found = select_owned(
            &rid,
            &owner,
            "subnet",
            "DescribeSubnets",
            out.subnets(),
            |s| s.subnet_id(),
            |s| s.tags(),
        )?;
        let subnet = match found {
            Some(s) => Some(ObservedSubnet {
                id: returned_id(&rid, "DescribeSubnets", s.subnet_id())?,
                cidr: s.cidr_block().unwrap_or_default().to_string(),
                zone: s.availability_zone().unwrap_or_default().to_string(),
            }),
            None => None,
        };
        match (mode, subnet) {
            (Mode::Destroy, None) => Ok(None),
            // In apply the zone is needed even when the subnet does not exist (to
            // create it), so observing yields a value; "absent" is the inner `None`.
            (_, subnet) => Ok(Some((subnet, zone))),
        }
    }

    fn diff(&self, observed: Option<&SubnetObserved>) -> Result<Change, Error> {
        let zone = observed.map(|(_, z)| z.as_str()).unwrap_or_default();
        let found = observed
            .and_then(|(s, _)| s.as_ref())
            .map(|s| fields(&s.cidr, &s.zone));
        change_in_place(
            &self.rid(),
            &fields(&self.cidr.to_string(), zone),
            found.as_ref(),
            &["cidr", "availability_zone"],
            HINT,
        )
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&SubnetObserved>,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let id = match observed {
            Some((Some(found), _)) => found.id.clone(),
            Some((None, zone)) => {
                let vpc = ctx.get(&vpc_id_key(&self.base.env))?;
                let out = ec2
                    .create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(self.cidr.to_string())
                    .availability_zone(zone)
                    .tag_specifications(self.base.tag_spec(
                        ResourceType::Subnet,
                        &self.component(),
                        &self.name(),
                    ))
                    .send()
                    .await;
                // A retried create whose first attempt was applied meets its own subnet.
                let found = || async {
                    let found = self.observe(ec2, Mode::Destroy).await?;
                    Ok(found.and_then(|(s, _)| s).map(|s| s.id))
                };
                match create_or_existing(ctx, &rid, "CreateSubnet", out, is_conflict, found).await?
                {
                    Created::New(out) => {
                        let id = returned_id(
                            &rid,
                            "CreateSubnet",
                            out.subnet().and_then(|s| s.subnet_id()),
                        )?;
                        ctx.progress(format!("created subnet {id} ({}, {zone})", self.cidr));
                        id
                    }
                    Created::Existing(id) => id,
                }
            }
            None => {
                return Err(Error::MissingOutput {
                    key: format!("{rid} availability zone"),
                });
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
        observed: &SubnetObserved,
    ) -> Result<(), Error> {
        let Some(found) = &observed.0 else {
            return Ok(());
        };
        let rid = self.rid();
        let (rid_ref, id) = (&rid, found.id.as_str());
        delete_waiting(
            ctx,
            &rid,
            &format!("subnet {id}"),
            self.base.waits.dependencies,
            GONE,
            &[DEPENDENCY_VIOLATION],
            || async move {
                ec2.delete_subnet()
                    .subnet_id(id)
                    .send()
                    .await
                    .context(rid_ref, "DeleteSubnet")
                    .map(drop)
            },
        )
        .await?;
        ctx.progress(format!("deleted subnet {id}"));
        Ok(())
    }
}

impl<C> Kind<C> for SubnetResource
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = SubnetObserved;

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
    ) -> BoxFuture<'a, Result<Option<SubnetObserved>, Error>> {
        Box::pin(self.observe(&clients.as_ref().ec2, mode))
    }

    fn diff(&self, observed: Option<&SubnetObserved>, _: &Resolved) -> Result<Change, Error> {
        self.diff(observed)
    }

    fn outputs(
        &self,
        observed: Option<&SubnetObserved>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        match (change, observed) {
            (Change::NoOp | Change::Update { .. }, Some((Some(s), _))) => {
                PlanValues::new().with(&self.id_key(), &s.id)
            }
            _ => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a SubnetObserved>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(&clients.as_ref().ec2, ctx, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a SubnetObserved,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.destroy(&clients.as_ref().ec2, ctx, observed))
    }
}
