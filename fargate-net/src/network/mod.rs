//! The network an environment runs in: a new VPC with subnets across
//! availability zones and a way out to the internet, or an existing VPC and
//! subnets adopted as they are.
//!
//! Start with [`NetworkSpec`] and [`Network::create`] (or [`AdoptSpec`] and
//! [`Network::adopt`]); both validate everything before any AWS call. Then
//! [`Network::resources`] gives the resources to plan, and the `*_key` methods
//! the outputs dependents read (VPC id, subnet ids, where tasks run).
//!
//! A new network is one resource per AWS object, each found by its ownership
//! tags (environment + a fixed component such as `subnet-public-a`), so
//! observing it is one tag-filtered describe per object:
//!
//! | resource id | AWS object | depends on |
//! | --- | --- | --- |
//! | `ec2:vpc <env>` | the VPC, DNS hostnames and support on | |
//! | `ec2:internet-gateway <env>` | internet gateway, attached to the VPC | VPC |
//! | `ec2:subnet <env>/public-a` … | one public subnet per AZ | VPC |
//! | `ec2:subnet <env>/private-a` … | one private subnet per AZ (when [`Egress`] needs them) | VPC |
//! | `ec2:route-table <env>/public` | `0.0.0.0/0 → internet gateway`, associated with the public subnets | VPC, gateway, subnets |
//! | `ec2:elastic-ip <env>/nat-a` … | the NAT gateways' addresses | |
//! | `ec2:nat-gateway <env>/a` … | NAT gateway in `public-a` | subnet, address, internet gateway |
//! | `ec2:route-table <env>/private` (or `private-a` … per AZ) | `0.0.0.0/0 → NAT gateway`, associated with the private subnets | VPC, NAT, subnets |
//! | `ec2:security-group <env>-vpc-endpoints` | HTTPS from the VPC CIDR (with [`Egress::VpcEndpoints`]) | VPC |
//! | `ec2:vpc-endpoint <env>/ecr.api` … | interface endpoints in the private subnets; `s3` a gateway endpoint on the private route table | subnets, group or route table |
//! | `fargate:network <env>/subnets` | (no AWS object) publishes the public and private subnet id lists | VPC, subnets |
//! | `fargate:network <env>/egress` | (no AWS object) publishes where tasks run, once their way out exists | everything |
//!
//! Objects that exist also publish their ids at plan time (their
//! [`Kind::outputs`](fargate_core::Kind::outputs)), so dependents diff against
//! them in the same planning round.
//!
//! Destroy runs in reverse (the planner reverses dependencies) and deletes only
//! what carries our ownership tags: route table associations before their
//! table, the NAT gateway (waiting until it is deleted) before its address is
//! released, the internet gateway detached then deleted, subnets, the VPC last.
//! A delete that fails with `DependencyViolation` (ENIs of stopped Fargate tasks
//! or VPC links linger for minutes) is retried for a bounded time ([`Waits`]).

mod adopt;
pub(crate) mod common;
mod endpoint;
mod gateway;
mod outputs;
mod route;
mod spec;
mod subnet;
mod vpc;

use std::collections::HashSet;
use std::sync::Arc;

use fargate_core::cidr::split_for_subnets;
use fargate_core::resource::node;
use fargate_core::{Cidr, Ident, InvalidValue, OutputKey, Ref, Resource, ResourceId, Tags};

use crate::NetClients;

pub(crate) use common::{DEPENDENCY_VIOLATION, delete_waiting, filter};
pub use spec::{
    AdoptSpec, Egress, NetworkError, NetworkSpec, SubnetSelector, TaskSubnets, VpcSelector, Waits,
};
use spec::{check_id, check_subnet_cidrs, check_tag_selector, show_tags};

/// The tier of a subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tier {
    Public,
    Private,
}

impl Tier {
    fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }
}

/// The letter naming the `index`th zone's objects: a, b, c, …
pub(crate) fn zone_letter(index: usize) -> char {
    (b'a'..=b'z').nth(index).map_or('z', char::from)
}

/// The logical name of a subnet, e.g. `public-a`.
pub(crate) fn subnet_name(tier: Tier, index: usize) -> String {
    format!("{}-{}", tier.as_str(), zone_letter(index))
}

/// The resource id of the environment's VPC (created or adopted): `ec2:vpc <env>`.
pub fn vpc_resource_id(environment: &Ident) -> ResourceId {
    ResourceId::new("ec2:vpc", environment.as_str())
}

/// The environment's VPC id, published by [`vpc_resource_id`].
pub fn vpc_id_key(environment: &Ident) -> OutputKey<String> {
    vpc_resource_id(environment).output("id")
}

/// The environment's VPC CIDR block, published by [`vpc_resource_id`].
pub fn vpc_cidr_key(environment: &Ident) -> OutputKey<Cidr> {
    vpc_resource_id(environment).output("cidr")
}

/// The resource that publishes the subnet id lists: `fargate:network <env>/subnets`.
pub fn subnets_resource_id(environment: &Ident) -> ResourceId {
    ResourceId::new("fargate:network", format!("{environment}/subnets"))
}

/// The public subnet ids (one per zone), published by [`subnets_resource_id`].
pub fn public_subnet_ids_key(environment: &Ident) -> OutputKey<Vec<String>> {
    subnets_resource_id(environment).output("public_subnet_ids")
}

/// The private subnet ids (empty when there are none), published by [`subnets_resource_id`].
pub fn private_subnet_ids_key(environment: &Ident) -> OutputKey<Vec<String>> {
    subnets_resource_id(environment).output("private_subnet_ids")
}

/// The resource that publishes where tasks run, once their way out exists:
/// `fargate:network <env>/egress`. ECS services depend on it.
pub fn egress_resource_id(environment: &Ident) -> ResourceId {
    ResourceId::new("fargate:network", format!("{environment}/egress"))
}

/// The subnets tasks run in, published by [`egress_resource_id`].
pub fn task_subnet_ids_key(environment: &Ident) -> OutputKey<Vec<String>> {
    egress_resource_id(environment).output("task_subnet_ids")
}

/// Whether tasks need a public IP (`assignPublicIp`), published by [`egress_resource_id`].
pub fn task_public_ip_key(environment: &Ident) -> OutputKey<bool> {
    egress_resource_id(environment).output("task_public_ip")
}

/// A new network's validated layout.
#[derive(Debug, Clone)]
struct Layout {
    cidr: Cidr,
    zones: Option<Vec<String>>,
    zone_count: usize,
    egress: Egress,
    public: Vec<Cidr>,
    private: Vec<Cidr>,
    tags: Tags,
}

/// An adopted network's validated selection.
#[derive(Debug, Clone)]
struct Adopted {
    vpc: VpcSelector,
    public: SubnetSelector,
    private: Option<SubnetSelector>,
    tasks: TaskSubnets,
}

#[derive(Debug, Clone)]
enum Kind {
    Create(Layout),
    Adopt(Adopted),
}

/// An environment's network, new or adopted, validated; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Network {
    environment: Ident,
    kind: Kind,
    waits: Waits,
}

const MAX_ZONES: usize = 8;

impl Network {
    /// A new VPC and everything in it, as `spec` describes.
    ///
    /// # Errors
    /// An [`InvalidValue`], before any AWS call, when the VPC CIDR is not usable
    /// (outside /16–/28 or reserved) or too small for 2 subnets per zone; when
    /// fewer than 2 (or more than 8) zones, or duplicate zones, are asked for;
    /// when explicit subnet CIDRs are outside the VPC, of an unusable size,
    /// overlapping or not one per zone.
    pub fn create(spec: NetworkSpec) -> Result<Self, InvalidValue> {
        let cidr = match spec.cidr {
            Some(c) => Cidr::vpc(&c.to_string()).map_err(|e| e.in_field("network.cidr"))?,
            None => Cidr::vpc("10.0.0.0/16")?,
        };
        let n = spec.zone_count;
        if let Some(zones) = &spec.zones {
            let distinct: HashSet<&String> = zones.iter().collect();
            if distinct.len() != zones.len() || zones.iter().any(String::is_empty) {
                return Err(InvalidValue::new(
                    "network.zones",
                    zones.join(", "),
                    "zones must be distinct, non-empty names",
                    "2 to 8 distinct availability zone names of the region, such as us-east-1a, us-east-1b",
                ));
            }
        }
        if !(2..=MAX_ZONES).contains(&n) {
            return Err(InvalidValue::new(
                if spec.zones.is_some() {
                    "network.zones"
                } else {
                    "network.zone_count"
                },
                n.to_string(),
                "a load balancer needs subnets in at least 2 availability zones",
                "2 to 8 availability zones",
            ));
        }
        let (public, private) = match spec.subnet_cidrs {
            Some((public, private)) => {
                check_subnet_cidrs(&cidr, n, spec.egress, &public, &private)?;
                (public, private)
            }
            None => {
                let all = split_for_subnets(&cidr, 2 * n).map_err(|e| {
                    InvalidValue::new(
                        "network.cidr",
                        cidr.to_string(),
                        format!("too small for {} subnets (2 per zone): {}", 2 * n, e.reason),
                        "a larger VPC CIDR (each subnet must be at least /28), or fewer zones",
                    )
                })?;
                let (public, private) = all.split_at(n.min(all.len()));
                let private = if spec.egress.needs_private_subnets() {
                    private.to_vec()
                } else {
                    Vec::new()
                };
                (public.to_vec(), private)
            }
        };
        Ok(Self {
            environment: spec.environment,
            kind: Kind::Create(Layout {
                cidr,
                zones: spec.zones,
                zone_count: n,
                egress: spec.egress,
                public,
                private,
                tags: spec.tags,
            }),
            waits: spec.waits,
        })
    }

    /// An existing VPC and subnets, used as they are and never modified or deleted.
    ///
    /// Planning verifies (read-only) that they exist, that the subnets are in the
    /// VPC and that the public subnets span at least 2 zones, and fails with
    /// [`fargate_core::Error::NotFound`] naming what is missing.
    ///
    /// # Errors
    /// An [`InvalidValue`], before any AWS call, for malformed ids, fewer than 2
    /// public subnet ids, a subnet listed twice, an empty tag selector, or tasks
    /// in private subnets without private subnets.
    pub fn adopt(spec: AdoptSpec) -> Result<Self, InvalidValue> {
        match &spec.vpc {
            VpcSelector::Id(id) => check_id("network.vpc", id, "vpc-")?,
            VpcSelector::Tags(tags) => check_tag_selector("network.vpc", tags)?,
        }
        let mut seen = HashSet::new();
        for (field, selector, min) in [
            ("network.public_subnets", Some(&spec.public_subnets), 2),
            ("network.private_subnets", spec.private_subnets.as_ref(), 1),
        ] {
            match selector {
                Some(SubnetSelector::Ids(ids)) => {
                    for id in ids {
                        check_id(field, id, "subnet-")?;
                        if !seen.insert(id.clone()) {
                            return Err(InvalidValue::new(
                                field,
                                id,
                                "subnet listed twice",
                                "each subnet once",
                            ));
                        }
                    }
                    if ids.len() < min {
                        return Err(InvalidValue::new(
                            field,
                            ids.join(", "),
                            format!("{} subnet(s) given", ids.len()),
                            if min == 2 {
                                "at least 2 subnets, in different availability zones (a load balancer needs 2 zones)"
                            } else {
                                "at least 1 subnet"
                            },
                        ));
                    }
                }
                Some(SubnetSelector::Tags(tags)) => check_tag_selector(field, tags)?,
                None => {}
            }
        }
        if spec.tasks == TaskSubnets::Private && spec.private_subnets.is_none() {
            return Err(InvalidValue::new(
                "network.tasks",
                "private",
                "tasks are to run in private subnets but no private subnets are adopted",
                "adopt private subnets (AdoptSpec::private_subnets), or run tasks in the public subnets",
            ));
        }
        Ok(Self {
            environment: spec.environment,
            kind: Kind::Adopt(Adopted {
                vpc: spec.vpc,
                public: spec.public_subnets,
                private: spec.private_subnets,
                tasks: spec.tasks,
            }),
            waits: Waits::default(),
        })
    }

    /// The same network with other waits (tests use short ones).
    #[must_use]
    pub fn with_waits(mut self, waits: Waits) -> Self {
        self.waits = waits;
        self
    }

    /// The environment the network belongs to.
    pub fn environment(&self) -> &Ident {
        &self.environment
    }

    /// The egress mode of a new network (`None` when adopted).
    pub fn egress(&self) -> Option<Egress> {
        match &self.kind {
            Kind::Create(l) => Some(l.egress),
            Kind::Adopt(_) => None,
        }
    }

    /// Whether tasks run in public subnets with a public IP.
    pub fn tasks_need_public_ip(&self) -> bool {
        match &self.kind {
            Kind::Create(l) => l.egress.tasks_need_public_ip(),
            Kind::Adopt(a) => a.tasks == TaskSubnets::Public,
        }
    }

    /// What the network is and how tasks reach the internet, for the plan's notes.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Create(l) => {
                let zones = match &l.zones {
                    Some(z) => z.join(", "),
                    None => format!("the first {} of the region", l.zone_count),
                };
                format!(
                    "network: new VPC {} with public{} subnets in {} availability zones ({zones}); {}",
                    l.cidr,
                    if l.private.is_empty() {
                        ""
                    } else {
                        " and private"
                    },
                    l.zone_count,
                    l.egress.explain(l.zone_count)
                )
            }
            Kind::Adopt(a) => {
                let vpc = match &a.vpc {
                    VpcSelector::Id(id) => id.clone(),
                    VpcSelector::Tags(t) => format!("tagged {}", show_tags(t)),
                };
                let tasks = match a.tasks {
                    TaskSubnets::Public => {
                        "tasks run in the public subnets with public IPs and accept traffic only \
                         from their load balancer's security group"
                            .to_string()
                    }
                    TaskSubnets::Private => {
                        "tasks run in the private subnets; their way out (NAT gateway or VPC \
                         endpoints) belongs to the existing network and is not verified"
                            .to_string()
                    }
                };
                format!(
                    "network: existing VPC {vpc} and its subnets, adopted (never modified or deleted); {tasks}"
                )
            }
        }
    }

    /// The resource id whose `id` output is the VPC id (created or adopted).
    pub fn vpc_resource_id(&self) -> ResourceId {
        vpc_resource_id(&self.environment)
    }

    /// The VPC id as a [`Ref`]: known now when an existing VPC is adopted by id
    /// (so security groups are looked up within it), else the VPC step's output.
    pub fn vpc_ref(&self) -> Ref<String> {
        match &self.kind {
            Kind::Adopt(Adopted {
                vpc: VpcSelector::Id(id),
                ..
            }) => Ref::Known(id.clone()),
            _ => Ref::Output(self.vpc_id_key()),
        }
    }

    /// The VPC id.
    pub fn vpc_id_key(&self) -> OutputKey<String> {
        vpc_id_key(&self.environment)
    }

    /// The CIDR of the VPC this network creates; `None` for an adopted VPC (its CIDR is
    /// known only once it is observed: [`vpc_cidr_key`](Self::vpc_cidr_key)).
    pub fn vpc_cidr(&self) -> Option<Cidr> {
        match &self.kind {
            Kind::Create(l) => Some(l.cidr),
            Kind::Adopt(_) => None,
        }
    }

    /// The VPC CIDR block.
    pub fn vpc_cidr_key(&self) -> OutputKey<Cidr> {
        vpc_cidr_key(&self.environment)
    }

    /// The resource publishing the subnet lists (depend on it to read them).
    pub fn subnets_resource_id(&self) -> ResourceId {
        subnets_resource_id(&self.environment)
    }

    /// The public subnet ids.
    pub fn public_subnet_ids_key(&self) -> OutputKey<Vec<String>> {
        public_subnet_ids_key(&self.environment)
    }

    /// The private subnet ids.
    pub fn private_subnet_ids_key(&self) -> OutputKey<Vec<String>> {
        private_subnet_ids_key(&self.environment)
    }

    /// The resource publishing where tasks run (depend on it to read it).
    pub fn egress_resource_id(&self) -> ResourceId {
        egress_resource_id(&self.environment)
    }

    /// The subnets tasks run in.
    pub fn task_subnet_ids_key(&self) -> OutputKey<Vec<String>> {
        task_subnet_ids_key(&self.environment)
    }

    /// Whether tasks need a public IP.
    pub fn task_public_ip_key(&self) -> OutputKey<bool> {
        task_public_ip_key(&self.environment)
    }

    /// The resources to plan, in dependency order.
    pub fn resources<C>(&self) -> Vec<Arc<dyn Resource<C>>>
    where
        C: AsRef<NetClients> + Clone + Send + Sync + 'static,
    {
        match &self.kind {
            Kind::Create(layout) => self.created_resources(layout),
            Kind::Adopt(adopted) => adopt::resources(&self.environment, adopted),
        }
    }

    fn created_resources<C>(&self, l: &Layout) -> Vec<Arc<dyn Resource<C>>>
    where
        C: AsRef<NetClients> + Clone + Send + Sync + 'static,
    {
        let env = &self.environment;
        let base = common::Base {
            env: env.clone(),
            tags: l.tags.clone(),
            waits: self.waits,
        };
        let zones = Arc::new(subnet::Zones::new(l.zones.clone(), l.zone_count));
        let mut out: Vec<Arc<dyn Resource<C>>> = Vec::new();
        out.push(node(vpc::VpcResource {
            base: base.clone(),
            cidr: l.cidr,
        }));
        out.push(node(gateway::InternetGateway { base: base.clone() }));
        let subnets = |tier: Tier, cidrs: &[Cidr]| -> Vec<subnet::SubnetResource> {
            cidrs
                .iter()
                .enumerate()
                .map(|(index, cidr)| subnet::SubnetResource {
                    base: base.clone(),
                    tier,
                    index,
                    cidr: *cidr,
                    zones: Arc::clone(&zones),
                })
                .collect()
        };
        let public = subnets(Tier::Public, &l.public);
        let private = subnets(Tier::Private, &l.private);
        let mut subnet_ids: Vec<ResourceId> = Vec::new();
        for s in public.iter().chain(&private) {
            subnet_ids.push(s.rid());
            out.push(node(s.clone()));
        }
        out.push(node(route::RouteTable {
            base: base.clone(),
            name: "public".into(),
            target: route::Target::InternetGateway,
            subnets: public.iter().map(subnet::SubnetResource::link).collect(),
        }));
        let nats = l.egress.nat_gateways(l.zone_count);
        for index in 0..nats {
            out.push(node(gateway::ElasticIp {
                base: base.clone(),
                index,
            }));
            out.push(node(gateway::NatGateway {
                base: base.clone(),
                index,
            }));
        }
        match l.egress {
            Egress::SharedNat => out.push(node(route::RouteTable {
                base: base.clone(),
                name: "private".into(),
                target: route::Target::NatGateway(0),
                subnets: private.iter().map(subnet::SubnetResource::link).collect(),
            })),
            Egress::NatPerAz => {
                for s in &private {
                    out.push(node(route::RouteTable {
                        base: base.clone(),
                        name: subnet_name(Tier::Private, s.index),
                        target: route::Target::NatGateway(s.index),
                        subnets: vec![s.link()],
                    }));
                }
            }
            Egress::VpcEndpoints => {
                let table = route::RouteTable {
                    base: base.clone(),
                    name: "private".into(),
                    target: route::Target::NoDefaultRoute,
                    subnets: private.iter().map(subnet::SubnetResource::link).collect(),
                };
                let group = endpoint_group(env, l.cidr);
                for service in endpoint::INTERFACE_SERVICES {
                    out.push(node(endpoint::Endpoint {
                        base: base.clone(),
                        service,
                        attachment: endpoint::Attachment::Interface {
                            subnets: private.iter().map(subnet::SubnetResource::link).collect(),
                            group: (group.resource_id(), group.group_id_key()),
                        },
                    }));
                }
                out.push(node(endpoint::Endpoint {
                    base: base.clone(),
                    service: "s3",
                    attachment: endpoint::Attachment::Gateway {
                        route_tables: vec![(table.rid(), table.id_key())],
                    },
                }));
                out.push(node(table));
                out.push(node(group));
            }
            Egress::PublicSubnets => {}
        }
        let mut subnets_deps = vec![vpc_resource_id(env)];
        subnets_deps.extend(subnet_ids);
        out.push(node(outputs::SubnetsOutputs {
            env: env.clone(),
            deps: subnets_deps,
            public: outputs::SubnetIds::Each(
                public.iter().map(subnet::SubnetResource::id_key).collect(),
            ),
            private: outputs::SubnetIds::Each(
                private.iter().map(subnet::SubnetResource::id_key).collect(),
            ),
        }));
        let egress_deps: Vec<ResourceId> = out.iter().map(|r| r.id()).collect();
        out.push(node(outputs::EgressOutputs {
            env: env.clone(),
            deps: egress_deps,
            tasks: if l.egress.tasks_need_public_ip() {
                TaskSubnets::Public
            } else {
                TaskSubnets::Private
            },
        }));
        out
    }
}

/// The security group of the interface endpoints: HTTPS from the VPC.
fn endpoint_group(env: &Ident, vpc_cidr: Cidr) -> crate::security_group::SecurityGroupSpec {
    use crate::security_group::{IngressRule, SecurityGroupSpec, Source};
    SecurityGroupSpec {
        name: format!("{env}-vpc-endpoints"),
        description: "fargate-rs VPC endpoints: tcp 443 from the VPC".to_string(),
        vpc: Ref::Output(vpc_id_key(env)),
        owner: fargate_core::Ownership::new(env.clone()).with_component("sg-vpc-endpoints"),
        tags: Tags::new(),
        ingress: vec![IngressRule::tcp(
            fargate_core::Port::HTTPS,
            Source::Cidr(vpc_cidr),
        )],
        depends_on: vec![vpc_resource_id(env)],
        delete_wait: Waits::default().dependencies,
    }
}

#[cfg(test)]
mod tests;
