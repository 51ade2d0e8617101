//! The two steps without an AWS object that gather the network's outputs:
//! the subnet lists (as soon as the subnets exist, for load balancers and VPC
//! links) and where tasks run (once their way out exists, for ECS services).

use fargate_core::resource::BoxFuture;
use fargate_core::{
    Change, Error, Kind, Mode, OutputKey, PlanValues, Resolved, ResourceId, Round, StepContext,
};

use super::{
    TaskSubnets, egress_resource_id, private_subnet_ids_key, public_subnet_ids_key,
    subnets_resource_id, task_public_ip_key, task_subnet_ids_key,
};
use crate::NetClients;

/// Where one tier's subnet ids come from.
#[derive(Debug, Clone)]
pub(crate) enum SubnetIds {
    /// One output per subnet (a new network).
    Each(Vec<OutputKey<String>>),
    /// One list output (adopted subnets).
    List(OutputKey<Vec<String>>),
    /// No subnets of this tier.
    None,
}

impl SubnetIds {
    /// The ids as far as the plan knows them (all subnets exist).
    fn planned(&self, resolved: &Resolved) -> Option<Vec<String>> {
        match self {
            SubnetIds::Each(keys) => keys.iter().map(|k| resolved.get(k)).collect(),
            SubnetIds::List(key) => resolved.get(key),
            SubnetIds::None => Some(Vec::new()),
        }
    }

    fn resolve(&self, ctx: &StepContext) -> Result<Vec<String>, Error> {
        match self {
            SubnetIds::Each(keys) => keys.iter().map(|k| ctx.get(k)).collect(),
            SubnetIds::List(key) => ctx.get(key),
            SubnetIds::None => Ok(Vec::new()),
        }
    }
}

/// `fargate:network <env>/subnets`: publishes the public and private subnet id lists.
#[derive(Debug, Clone)]
pub(crate) struct SubnetsOutputs {
    pub(crate) env: fargate_core::Ident,
    pub(crate) deps: Vec<ResourceId>,
    pub(crate) public: SubnetIds,
    pub(crate) private: SubnetIds,
}

impl<C> Kind<C> for SubnetsOutputs
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ();

    fn id(&self) -> ResourceId {
        subnets_resource_id(&self.env)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps.clone()
    }

    fn observe<'a>(
        &'a self,
        _: &'a C,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(None) })
    }

    fn diff(&self, _: Option<&()>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::NoOp)
    }

    fn outputs(&self, _: Option<&()>, _: &Change, resolved: &Resolved) -> PlanValues {
        let mut values = PlanValues::new();
        if let Some(ids) = self.public.planned(resolved) {
            values.set(&public_subnet_ids_key(&self.env), &ids);
        }
        if let Some(ids) = self.private.planned(resolved) {
            values.set(&private_subnet_ids_key(&self.env), &ids);
        }
        values
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            ctx.set(&public_subnet_ids_key(&self.env), self.public.resolve(ctx)?);
            ctx.set(
                &private_subnet_ids_key(&self.env),
                self.private.resolve(ctx)?,
            );
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a (),
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// `fargate:network <env>/egress`: publishes the subnets tasks run in and
/// whether they need a public IP, after every network object exists.
#[derive(Debug, Clone)]
pub(crate) struct EgressOutputs {
    pub(crate) env: fargate_core::Ident,
    pub(crate) deps: Vec<ResourceId>,
    pub(crate) tasks: TaskSubnets,
}

impl<C> Kind<C> for EgressOutputs
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ();

    fn id(&self) -> ResourceId {
        egress_resource_id(&self.env)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps.clone()
    }

    fn observe<'a>(
        &'a self,
        _: &'a C,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(None) })
    }

    fn diff(&self, _: Option<&()>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::NoOp)
    }

    fn outputs(&self, _: Option<&()>, _: &Change, resolved: &Resolved) -> PlanValues {
        let (key, public_ip) = self.source();
        let mut values = PlanValues::new().with(&task_public_ip_key(&self.env), &public_ip);
        if let Some(ids) = resolved.get(&key) {
            values.set(&task_subnet_ids_key(&self.env), &ids);
        }
        values
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let (key, public_ip) = self.source();
            ctx.set(&task_subnet_ids_key(&self.env), ctx.get(&key)?);
            ctx.set(&task_public_ip_key(&self.env), public_ip);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a (),
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

impl EgressOutputs {
    /// Where the task subnet ids come from, and whether tasks get a public IP.
    fn source(&self) -> (OutputKey<Vec<String>>, bool) {
        match self.tasks {
            TaskSubnets::Public => (public_subnet_ids_key(&self.env), true),
            TaskSubnets::Private => (private_subnet_ids_key(&self.env), false),
        }
    }
}
