//! The two steps without an AWS object that gather the network's outputs:
//! the subnet lists (as soon as the subnets exist, for load balancers and VPC
//! links) and where tasks run (once their way out exists, for ECS services).

use fargate_core::resource::BoxFuture;
use fargate_core::{
    Change, Error, Mode, OutputKey, PlanBoard, Planned, Resource, ResourceId, StepContext,
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
    async fn planned(&self, board: &PlanBoard) -> Option<Vec<String>> {
        match self {
            SubnetIds::Each(keys) => {
                let mut ids = Vec::with_capacity(keys.len());
                for key in keys {
                    ids.push(board.resolve(key).await?);
                }
                Some(ids)
            }
            SubnetIds::List(key) => board.resolve(key).await,
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

impl<C> Resource<C> for SubnetsOutputs
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    fn id(&self) -> ResourceId {
        subnets_resource_id(&self.env)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps.clone()
    }

    fn plan_with<'a>(
        &'a self,
        clients: &'a C,
        mode: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        Box::pin(async move {
            let mut planned = self.plan(clients, mode).await?;
            if mode == Mode::Apply {
                if let Some(ids) = self.public.planned(board).await {
                    planned = planned.with_output(&public_subnet_ids_key(&self.env), &ids);
                }
                if let Some(ids) = self.private.planned(board).await {
                    planned = planned.with_output(&private_subnet_ids_key(&self.env), &ids);
                }
            }
            Ok(planned)
        })
    }

    fn plan<'a>(&'a self, _clients: &'a C, mode: Mode) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        let this = self.clone();
        Box::pin(async move {
            if mode == Mode::Destroy {
                return Ok(Planned::nothing(Change::NoOp));
            }
            Ok(Planned::new(
                Change::NoOp,
                move |_: C, ctx: StepContext| async move {
                    ctx.set(
                        &public_subnet_ids_key(&this.env),
                        this.public.resolve(&ctx)?,
                    );
                    ctx.set(
                        &private_subnet_ids_key(&this.env),
                        this.private.resolve(&ctx)?,
                    );
                    Ok(())
                },
            ))
        })
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

impl<C> Resource<C> for EgressOutputs
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    fn id(&self) -> ResourceId {
        egress_resource_id(&self.env)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps.clone()
    }

    fn plan_with<'a>(
        &'a self,
        clients: &'a C,
        mode: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        Box::pin(async move {
            let mut planned = self.plan(clients, mode).await?;
            if mode == Mode::Apply {
                let (key, public_ip) = self.source();
                planned = planned.with_output(&task_public_ip_key(&self.env), &public_ip);
                if let Some(ids) = board.resolve(&key).await {
                    planned = planned.with_output(&task_subnet_ids_key(&self.env), &ids);
                }
            }
            Ok(planned)
        })
    }

    fn plan<'a>(&'a self, _clients: &'a C, mode: Mode) -> BoxFuture<'a, Result<Planned<C>, Error>> {
        let this = self.clone();
        Box::pin(async move {
            if mode == Mode::Destroy {
                return Ok(Planned::nothing(Change::NoOp));
            }
            Ok(Planned::new(
                Change::NoOp,
                move |_: C, ctx: StepContext| async move {
                    let (key, public_ip) = this.source();
                    ctx.set(&task_subnet_ids_key(&this.env), ctx.get(&key)?);
                    ctx.set(&task_public_ip_key(&this.env), public_ip);
                    Ok(())
                },
            ))
        })
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
