//! VPC endpoints of a network without internet egress ([`super::Egress::VpcEndpoints`]):
//! interface endpoints for ECR (api, dkr), CloudWatch Logs, Secrets Manager
//! and SSM in the private subnets, and an S3 gateway endpoint on the private
//! route table (ECR image layers are served from S3).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use fargate_core::resource::BoxFuture;
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Kind, Mode, OutputKey, PlanValues, Resolved, ResourceId,
    Round, StepContext, client_token,
};

use super::common::{AvailableOrGone, Base, returned_id, select_owned};
use super::subnet::SubnetLink;
use super::{vpc_id_key, vpc_resource_id};
use crate::NetClients;
use crate::tagging::ec2_owner_filters;

/// The services reached through interface endpoints (`com.amazonaws.<region>.<service>`).
pub(crate) const INTERFACE_SERVICES: [&str; 5] =
    ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm"];

const GONE: &[&str] = &[
    "InvalidVpcEndpointId.NotFound",
    "InvalidVpcEndpoint.NotFound",
];

/// How an endpoint attaches to the network.
#[derive(Debug, Clone)]
pub(crate) enum Attachment {
    /// An interface endpoint: ENIs in these subnets, behind this security group.
    Interface {
        subnets: Vec<SubnetLink>,
        group: (ResourceId, OutputKey<String>),
    },
    /// A gateway endpoint (S3): routes in these route tables.
    Gateway {
        route_tables: Vec<(ResourceId, OutputKey<String>)>,
    },
}

/// One endpoint: `ec2:vpc-endpoint <env>/<service>`.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) base: Base,
    pub(crate) service: &'static str,
    pub(crate) attachment: Attachment,
}

/// The endpoint as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObservedEndpoint {
    pub(crate) id: String,
    /// The service without `com.amazonaws.<region>.`.
    pub(crate) service: String,
    pub(crate) kind: String,
    pub(crate) available: bool,
}

/// The managed fields of an endpoint.
pub(crate) fn fields(service: &str, kind: &str) -> Fields {
    Fields::new().with("service", service).with("type", kind)
}

/// `com.amazonaws.us-east-1.ecr.api` → `ecr.api`.
pub(crate) fn short_service(name: &str) -> &str {
    name.splitn(4, '.').nth(3).unwrap_or(name)
}

fn state_is(endpoint: &aws_sdk_ec2::types::VpcEndpoint, states: &[&str]) -> bool {
    endpoint
        .state()
        .is_some_and(|s| states.iter().any(|w| s.as_str().eq_ignore_ascii_case(w)))
}

impl Endpoint {
    fn component(&self) -> String {
        format!("vpce-{}", self.service)
    }

    fn kind(&self) -> VpcEndpointType {
        match self.attachment {
            Attachment::Interface { .. } => VpcEndpointType::Interface,
            Attachment::Gateway { .. } => VpcEndpointType::Gateway,
        }
    }

    /// Poll until the endpoint is available (or, `want_deleted`, gone).
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
            what: format!("VPC endpoint {id}"),
            want_deleted,
            poll: self.base.waits.provisioning,
            gone_codes: GONE,
        }
        .wait(
            ctx,
            || async {
                let out = ec2
                    .describe_vpc_endpoints()
                    .vpc_endpoint_ids(id)
                    .send()
                    .await
                    .context(&rid, "DescribeVpcEndpoints")?;
                Ok(out.vpc_endpoints().first().cloned())
            },
            |e| {
                if want_deleted {
                    return Ok(state_is(e, &["deleted"]));
                }
                if state_is(e, &["failed", "rejected", "expired"]) {
                    return Err(Error::Unexpected {
                        resource: rid.clone(),
                        operation: "DescribeVpcEndpoints".into(),
                        detail: format!(
                            "VPC endpoint {id} is {}: {}",
                            e.state().map(|s| s.as_str()).unwrap_or("?"),
                            e.failure_reason().unwrap_or("no reason given")
                        ),
                    });
                }
                Ok(state_is(e, &["available"]))
            },
        )
        .await
    }
}

impl Endpoint {
    fn rid(&self) -> ResourceId {
        ResourceId::new(
            "ec2:vpc-endpoint",
            format!("{}/{}", self.base.env, self.service),
        )
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn observe(&self, ec2: &Client, _mode: Mode) -> Result<Option<ObservedEndpoint>, Error> {
        let rid = self.rid();
        let owner = self.base.owner(&self.component());
        let out = ec2
            .describe_vpc_endpoints()
            .set_filters(Some(ec2_owner_filters(&owner)))
            .send()
            .await
            .context(&rid, "DescribeVpcEndpoints")?;
        let live: Vec<_> = out
            .vpc_endpoints()
            .iter()
            .filter(|e| !state_is(e, &["deleted", "deleting", "failed", "rejected", "expired"]))
            .cloned()
            .collect();
        let found = select_owned(
            &rid,
            &owner,
            "VPC endpoint",
            "DescribeVpcEndpoints",
            &live,
            |e| e.vpc_endpoint_id(),
            |e| e.tags(),
        )?;
        let Some(e) = found else { return Ok(None) };
        Ok(Some(ObservedEndpoint {
            id: returned_id(&rid, "DescribeVpcEndpoints", e.vpc_endpoint_id())?,
            service: short_service(e.service_name().unwrap_or_default()).to_string(),
            kind: e
                .vpc_endpoint_type()
                .map(|t| t.as_str().to_ascii_lowercase())
                .unwrap_or_default(),
            available: state_is(e, &["available"]),
        }))
    }

    fn diff(&self, observed: Option<&ObservedEndpoint>) -> Result<Change, Error> {
        let kind = self.kind().as_str().to_ascii_lowercase();
        let observed = observed.map(|e| fields(&e.service, &e.kind));
        Ok(Change::compute(
            &fields(self.service, &kind),
            observed.as_ref(),
            &["service", "type"],
        ))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&ObservedEndpoint>,
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
                let region = ec2
                    .config()
                    .region()
                    .map(ToString::to_string)
                    .ok_or_else(|| Error::Unexpected {
                        resource: rid.clone(),
                        operation: "CreateVpcEndpoint".into(),
                        detail: "the EC2 client has no region".into(),
                    })?;
                let call = ec2
                    .create_vpc_endpoint()
                    .vpc_id(ctx.get(&vpc_id_key(&self.base.env))?)
                    .service_name(format!("com.amazonaws.{region}.{}", self.service))
                    .vpc_endpoint_type(self.kind())
                    // Stable across the SDK's retries of this call, new for every apply.
                    .client_token(client_token())
                    .tag_specifications(self.base.tag_spec(
                        ResourceType::VpcEndpoint,
                        &self.component(),
                        &self.component(),
                    ));
                let call = match &self.attachment {
                    Attachment::Interface { subnets, group } => {
                        let ids = subnets
                            .iter()
                            .map(|s| ctx.get(&s.id))
                            .collect::<Result<Vec<_>, _>>()?;
                        call.set_subnet_ids(Some(ids))
                            .security_group_ids(ctx.get(&group.1)?)
                            .private_dns_enabled(true)
                    }
                    Attachment::Gateway { route_tables } => {
                        let ids = route_tables
                            .iter()
                            .map(|(_, k)| ctx.get(k))
                            .collect::<Result<Vec<_>, _>>()?;
                        call.set_route_table_ids(Some(ids))
                    }
                };
                let out = call.send().await.context(&rid, "CreateVpcEndpoint")?;
                let id = returned_id(
                    &rid,
                    "CreateVpcEndpoint",
                    out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()),
                )?;
                ctx.progress(format!("created VPC endpoint {id} for {}", self.service));
                self.wait(ec2, ctx, &id, false).await?;
                id
            }
        };
        ctx.set(&self.rid().output::<String>("id"), id);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.rid()))]
    async fn destroy(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: &ObservedEndpoint,
    ) -> Result<(), Error> {
        let rid = self.rid();
        let out = ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&observed.id)
            .send()
            .await
            .context(&rid, "DeleteVpcEndpoints")?;
        if let Some(failed) = out.unsuccessful().first() {
            let (code, message) = failed
                .error()
                .map(|e| {
                    (
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default(),
                    )
                })
                .unwrap_or_default();
            if !GONE.contains(&code) {
                return Err(Error::Unexpected {
                    resource: rid,
                    operation: "DeleteVpcEndpoints".into(),
                    detail: format!(
                        "VPC endpoint {} was not deleted: {code}: {message}",
                        observed.id
                    ),
                });
            }
        }
        // Its network interfaces go with it; subnets and the security group wait for that.
        self.wait(ec2, ctx, &observed.id, true).await?;
        ctx.progress(format!("deleted VPC endpoint {}", observed.id));
        Ok(())
    }
}

impl<C> Kind<C> for Endpoint
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedEndpoint;

    fn id(&self) -> ResourceId {
        self.rid()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut deps = vec![vpc_resource_id(&self.base.env)];
        match &self.attachment {
            Attachment::Interface { subnets, group } => {
                deps.extend(subnets.iter().map(|s| s.resource.clone()));
                deps.push(group.0.clone());
            }
            Attachment::Gateway { route_tables } => {
                deps.extend(route_tables.iter().map(|(r, _)| r.clone()))
            }
        }
        deps
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedEndpoint>, Error>> {
        Box::pin(self.observe(&clients.as_ref().ec2, mode))
    }

    fn diff(&self, observed: Option<&ObservedEndpoint>, _: &Resolved) -> Result<Change, Error> {
        self.diff(observed)
    }

    fn outputs(
        &self,
        observed: Option<&ObservedEndpoint>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(&self.rid().output::<String>("id"), &o.id)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedEndpoint>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(&clients.as_ref().ec2, ctx, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedEndpoint,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.destroy(&clients.as_ref().ec2, ctx, observed))
    }
}
