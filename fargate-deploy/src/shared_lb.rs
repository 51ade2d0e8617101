//! The load balancers an [`Environment`](crate::Environment) shares among its
//! apps, and what each app asks of them ([`Needs`]).
//!
//! - **The public ALB** (for [`crate::FrontendApp`]s): its security group
//!   (80, and 443 with a certificate, from `alb_ingress_cidrs`), the
//!   internet-facing ALB in the public subnets, and its listeners: HTTP 80
//!   answering 404 to what no rule matches; or, with a certificate, HTTPS 443
//!   (404 by default) and HTTP 80 redirecting to it. Each app adds its own
//!   target group and listener rule. An existing ALB and listener can be
//!   adopted instead ([`AdoptAlb`]): rules are added to that listener, nothing
//!   else of it is touched.
//! - **The internal NLB and the VPC link** (for [`crate::BackendApi`]s): the
//!   VPC link's security group, the NLB's security group accepting every
//!   BackendApi's listener port from the VPC link's group only, the NLB and
//!   the VPC link in the task subnets. Each app adds its target group, a TCP
//!   listener on its own port and its HTTP API. An existing NLB (and VPC link)
//!   can be adopted instead ([`AdoptNlb`]): the apps' listeners and target
//!   groups are added to it, nothing else of it is touched.
//!
//! An environment plans these only when one of its apps needs them (destroy
//! plans the managed ones always, so nothing is left behind).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_apigatewayv2::Client as ApiGwClient;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    Change, Cidr, Collect, Error, Ident, InvalidValue, Kind, Mode, OutputKey, Port, Ref, Resolved,
    Resource, ResourceId, Round, StepContext, Tags, ok_unless,
};
use fargate_net::NetClients;
use fargate_net::api_gateway::{VPC_LINK_KIND, VpcLinkRef, VpcLinkSpec};
use fargate_net::listener::{
    AdoptedListener, CertificateArn, ListenerAction, ListenerRef, ListenerRuleSpec, ListenerRules,
    ListenerSpec, MAX_RULES_PER_LOAD_BALANCER,
};
use fargate_net::load_balancer::{
    AdoptedLoadBalancer, LoadBalancerKind, LoadBalancerRef, LoadBalancerSpec, Scheme,
};
use fargate_net::network::Network;
use fargate_net::security_group::{
    GroupRef, SecurityGroupSpec, Source, load_balancer_sg, nlb_sg, vpc_link_sg,
};
use fargate_net::target_group::{HealthCheck, TargetGroupSpec, TargetProtocol};

use crate::Clients;
use crate::deployer::App;

/// The label of the environment's public ALB (`<env>-alb`).
const ALB: &str = "alb";
/// The label of the environment's internal NLB (`<env>-nlb`).
const NLB: &str = "nlb";

/// An existing Application Load Balancer and listener to put the
/// environment's [`crate::FrontendApp`] rules on. Neither is modified or
/// deleted; only the apps' rules and target groups are added (and removed by
/// destroy).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AdoptAlb {
    /// The ALB's ARN (`arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>`).
    pub load_balancer_arn: String,
    /// The ARN of its listener that gets the rules.
    pub listener_arn: String,
    /// The ALB's security group (`sg-...`): tasks accept traffic only from it.
    pub security_group_id: String,
}

/// An existing Network Load Balancer to put the environment's
/// [`crate::BackendApi`] listeners on, and optionally an existing VPC link (v2)
/// to reach it. Neither, nor the NLB's security groups, is modified or deleted;
/// only the apps' TCP listeners and target groups are added (and removed by
/// destroy).
///
/// The NLB must be internal, in the environment's VPC, and reachable from the
/// VPC link: when the NLB has security groups, they must already accept the
/// apps' listener ports from the VPC link (from its security group or the
/// VPC's CIDR; fargate-rs adds no rule to them). Without `vpc_link_id`, a VPC
/// link and its security group are created in the task subnets as for a
/// managed NLB (and deleted by destroy). Tasks accept the container port from
/// the NLB's security groups, or, for an NLB without security groups, from the
/// VPC's CIDR (known before the plan only for a network fargate-rs creates:
/// with an adopted network, give the NLB's security groups). A shared NLB
/// fargate-rs made before the environment adopted one is not deleted.
///
/// ```
/// use fargate_deploy::Environment;
/// use fargate_deploy::environment::AdoptNlb;
///
/// let env = Environment::builder()
///     .name("prod")
///     .adopt_nlb(AdoptNlb {
///         load_balancer_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:\
///                             loadbalancer/net/shared/50dc6c495c0c9188"
///             .into(),
///         security_group_ids: vec!["sg-0123456789abcdef0".into()],
///         vpc_link_id: Some("abc123".into()),
///     })
///     .build()?;
/// assert_eq!(env.name().as_str(), "prod");
///
/// let by_name = Environment::builder()
///     .name("prod")
///     .adopt_nlb(AdoptNlb {
///         load_balancer_arn: "shared".into(),
///         security_group_ids: Vec::new(),
///         vpc_link_id: None,
///     })
///     .build();
/// let err = by_name.unwrap_err().to_string();
/// assert!(err.contains("environment.adopt_nlb.load_balancer_arn"), "{err}");
/// # Ok::<(), fargate_core::Error>(())
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AdoptNlb {
    /// The NLB's ARN (`arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/net/<name>/<id>`);
    /// the plan refuses a load balancer of another type.
    pub load_balancer_arn: String,
    /// The NLB's security groups (`sg-...`), none for an NLB without security groups:
    /// tasks accept traffic from them (without any, from the VPC's CIDR).
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// An existing VPC link (v2) id to the NLB's VPC; without it one is created.
    #[serde(default)]
    pub vpc_link_id: Option<String>,
}

/// What an app needs of its environment's shared load balancers; see
/// [`App::needs`]. The environment plans the ALB, the NLB and the VPC link
/// only when some app needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Needs {
    /// The shared public ALB.
    pub alb: bool,
    /// The app's rules on the ALB's listener (priorities and conditions must
    /// differ from every other app's).
    pub alb_rules: Vec<RuleNeed>,
    /// The app's listener ports on the shared internal NLB (each port belongs
    /// to one app; the NLB's security group accepts them from the VPC link).
    pub nlb_listener_ports: Vec<Port>,
}

impl Needs {
    /// Needs the ALB, with one rule.
    pub fn alb_rule(rule: RuleNeed) -> Self {
        Self {
            alb: true,
            alb_rules: vec![rule],
            nlb_listener_ports: Vec::new(),
        }
    }

    /// Needs a listener on the NLB on `port`.
    pub fn nlb_listener(port: Port) -> Self {
        Self {
            alb: false,
            alb_rules: Vec::new(),
            nlb_listener_ports: vec![port],
        }
    }
}

/// One listener rule an app puts on the shared ALB.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleNeed {
    /// Its priority: the one the app asks for when `explicit`, otherwise the preferred
    /// position the plan starts from (a free priority near it is allocated at plan time).
    pub priority: u32,
    /// Whether `priority` was given explicitly: two apps asking for the same explicit
    /// priority are refused; preferred positions may coincide.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explicit: bool,
    /// Its conditions, normalized (sorted), e.g. `paths=/api/*;hosts=`.
    pub conditions: String,
}

/// A stable 64-bit FNV-1a hash, for defaults derived from names (ports,
/// priorities) that must not change between runs or Rust versions.
pub(crate) fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The environment's shared load balancers, validated at `Environment::build()`.
#[derive(Debug, Clone)]
pub(crate) struct SharedLb {
    env: Ident,
    tags: Tags,
    vpc: Ref<String>,
    https: bool,
    alb: Alb,
    nlb: Nlb,
    /// The rules one plan puts on each listener (empty outside a plan).
    listener_rules: BTreeMap<ResourceId, Arc<ListenerRules>>,
}

#[derive(Debug, Clone)]
enum Alb {
    Managed(Box<ManagedAlb>),
    Adopted(Box<AdoptedParts>),
}

#[derive(Debug, Clone)]
struct AdoptedParts {
    lb: AdoptedLoadBalancer,
    listener: AdoptedListener,
    source: GroupRef,
}

#[derive(Debug, Clone)]
struct ManagedAlb {
    sg: SecurityGroupSpec,
    sgs: Collect,
    lb: LoadBalancerSpec,
    listeners: Vec<ListenerSpec>,
    rules_on: ListenerRef,
}

#[derive(Debug, Clone)]
enum Nlb {
    Managed(Box<ManagedNlb>),
    Adopted(Box<AdoptedNlb>),
}

#[derive(Debug, Clone)]
struct ManagedNlb {
    link: ManagedLink,
    nlb_sgs: Collect,
    lb: LoadBalancerSpec,
}

#[derive(Debug, Clone)]
struct AdoptedNlb {
    lb: AdoptedLoadBalancer,
    link: Link,
    /// What tasks accept traffic from: the NLB's groups, or the VPC's CIDR.
    sources: Vec<Source>,
}

/// The VPC link the BackendApis' HTTP APIs use.
#[derive(Debug, Clone)]
enum Link {
    Managed(Box<ManagedLink>),
    Adopted(AdoptedVpcLink),
}

/// A VPC link fargate-rs creates, with its security group.
#[derive(Debug, Clone)]
struct ManagedLink {
    sg: SecurityGroupSpec,
    sgs: Collect,
    link: VpcLinkSpec,
}

/// The settings the environment builder takes for its shared load balancers.
pub(crate) struct SharedLbOptions<'a> {
    pub https_certificate_arn: Option<&'a str>,
    /// A certificate fargate-rs requests (the environment's domain): its ARN once issued
    /// and the resource that publishes it. Used when no `https_certificate_arn` is given.
    pub managed_certificate: Option<(Ref<String>, ResourceId)>,
    pub alb_ingress_cidrs: &'a [String],
    pub adopt_alb: Option<&'a AdoptAlb>,
    pub adopt_nlb: Option<&'a AdoptNlb>,
    /// The VPC's CIDR when it is known before any AWS call (a network fargate-rs creates).
    pub vpc_cidr: Option<Cidr>,
}

fn collect_id(env: &Ident, what: &str) -> ResourceId {
    ResourceId::new("fargate:collect", format!("{env}/{what}"))
}

/// Lists the id of `sg` as one list for a load balancer or VPC link.
fn collect_one(env: &Ident, what: &str, sg: &SecurityGroupSpec) -> Collect {
    Collect::new(
        collect_id(env, what),
        vec![(sg.resource_id(), Ref::Output(sg.group_id_key()))],
    )
}

impl SharedLb {
    /// Validate the options and describe the load balancers (no AWS calls).
    pub(crate) fn new(
        env: &Ident,
        network: &Network,
        tags: &Tags,
        options: SharedLbOptions<'_>,
    ) -> Result<Self, InvalidValue> {
        let certificate = options
            .https_certificate_arn
            .map(|c| {
                c.parse::<CertificateArn>()
                    .map_err(|e| e.in_field("environment.https_certificate_arn"))
            })
            .transpose()?;
        let managed_certificate = match (&certificate, options.adopt_alb) {
            (None, None) => options.managed_certificate.clone(),
            _ => None,
        };
        let https = certificate.is_some() || managed_certificate.is_some();
        let cidrs = options
            .alb_ingress_cidrs
            .iter()
            .map(|c| {
                c.parse::<Cidr>()
                    .map_err(|e| e.in_field("environment.alb_ingress_cidrs"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let vpc = network.vpc_ref();
        let owner = |component: &str| Ownership::new(env.clone()).with_component(component);
        let alb = match options.adopt_alb {
            Some(a) => adopted_alb(env, a)?,
            None => {
                let ports: Vec<Port> = if https {
                    vec![Port::HTTP, Port::HTTPS]
                } else {
                    vec![Port::HTTP]
                };
                let sg = load_balancer_sg(env, ALB, &ports, &cidrs)
                    .with_vpc(vpc.clone())
                    .with_tags(tags.clone());
                let sgs = collect_one(env, "alb-security-groups", &sg);
                let lb = LoadBalancerSpec::application(
                    env,
                    Scheme::InternetFacing,
                    Ref::Output(network.public_subnet_ids_key()),
                    Ref::Output(sgs.output()),
                    owner(ALB),
                )?
                .tags(tags.clone())
                .after([
                    network.subnets_resource_id(),
                    sg.resource_id(),
                    collect_id(env, "alb-security-groups"),
                ]);
                let secure = match (&certificate, &managed_certificate) {
                    (Some(cert), _) => Some(ListenerSpec::https(
                        lb.reference(),
                        cert.as_str(),
                        ListenerAction::not_found(),
                        owner(ALB),
                    )?),
                    (None, Some((arn, producer))) => Some(ListenerSpec::https_from(
                        lb.reference(),
                        arn.clone(),
                        producer.clone(),
                        ListenerAction::not_found(),
                        owner(ALB),
                    )?),
                    (None, None) => None,
                };
                let (listeners, rules_on) = match secure {
                    Some(secure) => {
                        let secure = secure.tags(tags.clone());
                        let redirect = ListenerSpec::http(
                            lb.reference(),
                            ListenerAction::redirect_to_https(),
                            owner(ALB),
                        )?
                        .tags(tags.clone());
                        let rules_on = secure.reference();
                        (vec![secure, redirect], rules_on)
                    }
                    None => {
                        let http = ListenerSpec::http(
                            lb.reference(),
                            ListenerAction::not_found(),
                            owner(ALB),
                        )?
                        .tags(tags.clone());
                        let rules_on = http.reference();
                        (vec![http], rules_on)
                    }
                };
                Alb::Managed(Box::new(ManagedAlb {
                    sg,
                    sgs,
                    lb,
                    listeners,
                    rules_on,
                }))
            }
        };
        let managed_link = || {
            let sg = vpc_link_sg(env)
                .with_vpc(vpc.clone())
                .with_tags(tags.clone());
            let sgs = collect_one(env, "vpc-link-security-groups", &sg);
            let link = VpcLinkSpec::new(
                env,
                "vpc-link",
                Ref::Output(network.task_subnet_ids_key()),
                Ref::Output(sgs.output()),
                owner("vpc-link"),
            )
            .tags(tags.clone())
            .after([
                network.egress_resource_id(),
                sg.resource_id(),
                collect_id(env, "vpc-link-security-groups"),
            ]);
            ManagedLink { sg, sgs, link }
        };
        let nlb = match options.adopt_nlb {
            Some(a) => Nlb::Adopted(Box::new(adopted_nlb(
                env,
                a,
                options.vpc_cidr,
                managed_link,
            )?)),
            None => {
                let link = managed_link();
                let nlb_group = nlb_sg(env, NLB, &[], &link.sg.as_source());
                let nlb_sgs = collect_one(env, "nlb-security-groups", &nlb_group);
                let lb = LoadBalancerSpec::internal_network(
                    env,
                    Ref::Output(network.task_subnet_ids_key()),
                    Ref::Output(nlb_sgs.output()),
                    owner(NLB),
                )?
                .tags(tags.clone())
                .after([
                    network.egress_resource_id(),
                    nlb_group.resource_id(),
                    collect_id(env, "nlb-security-groups"),
                ]);
                Nlb::Managed(Box::new(ManagedNlb { link, nlb_sgs, lb }))
            }
        };
        Ok(Self {
            env: env.clone(),
            tags: tags.clone(),
            vpc,
            https,
            alb,
            nlb,
            listener_rules: BTreeMap::new(),
        })
    }

    /// The same load balancers, for a plan that puts `rules` on their listeners.
    pub(crate) fn with_listener_rules(&self, rules: &[ListenerRuleSpec]) -> Self {
        Self {
            listener_rules: ListenerRules::of(rules),
            ..self.clone()
        }
    }

    /// Every rule of this plan on `listener` (none outside a plan).
    pub(crate) fn rules_on(&self, listener: &ResourceId) -> Option<Arc<ListenerRules>> {
        self.listener_rules.get(listener).cloned()
    }

    /// Whether the NLB is an adopted one (its cost is not the environment's).
    pub(crate) fn nlb_adopted(&self) -> bool {
        matches!(self.nlb, Nlb::Adopted(_))
    }

    /// The ALB rules' listener.
    pub(crate) fn alb_listener(&self) -> ListenerRef {
        match &self.alb {
            Alb::Managed(m) => m.rules_on.clone(),
            Alb::Adopted(a) => a.listener.reference(),
        }
    }

    /// The ALB, as target group clean-up finds it.
    pub(crate) fn alb_load_balancer(&self) -> LoadBalancerRef {
        match &self.alb {
            Alb::Managed(m) => m.lb.reference(),
            Alb::Adopted(a) => a.lb.reference(),
        }
    }

    /// The ALB's security group, the source tasks accept traffic from, and the
    /// resource that creates it (none when adopted).
    pub(crate) fn alb_source(&self) -> (GroupRef, Option<ResourceId>) {
        match &self.alb {
            Alb::Managed(m) => (m.sg.as_source(), Some(m.sg.resource_id())),
            Alb::Adopted(a) => (a.source.clone(), None),
        }
    }

    /// The ALB's DNS name output.
    pub(crate) fn alb_dns_name(&self) -> OutputKey<String> {
        let outputs = match &self.alb {
            Alb::Managed(m) => m.lb.outputs(),
            Alb::Adopted(a) => a.lb.outputs(),
        };
        outputs.dns_name
    }

    /// The ALB's resource, DNS name and canonical hosted zone id (what an alias record
    /// points at).
    pub(crate) fn alb_alias_target(&self) -> (ResourceId, Ref<String>, Ref<String>) {
        let (id, outputs) = match &self.alb {
            Alb::Managed(m) => (m.lb.reference().id, m.lb.outputs()),
            Alb::Adopted(a) => (a.lb.reference().id, a.lb.outputs()),
        };
        (
            id,
            Ref::Output(outputs.dns_name),
            Ref::Output(outputs.canonical_hosted_zone_id),
        )
    }

    /// Whether the ALB serves the apps over HTTPS.
    pub(crate) fn alb_https(&self) -> bool {
        self.https
    }

    /// The internal NLB (managed or adopted).
    pub(crate) fn nlb_load_balancer(&self) -> LoadBalancerRef {
        match &self.nlb {
            Nlb::Managed(m) => m.lb.reference(),
            Nlb::Adopted(a) => a.lb.reference(),
        }
    }

    /// What tasks behind the NLB accept traffic from, and the resources that create those
    /// sources (the task group waits for them): the managed NLB's security group; or the
    /// adopted NLB's groups, or the VPC's CIDR for an adopted NLB without groups.
    pub(crate) fn nlb_sources(&self) -> (Vec<Source>, Vec<ResourceId>) {
        match &self.nlb {
            Nlb::Managed(m) => {
                let sg = self.nlb_security_group(&m.link, &[]);
                (vec![Source::Group(sg.as_source())], vec![sg.resource_id()])
            }
            Nlb::Adopted(a) => (a.sources.clone(), Vec::new()),
        }
    }

    /// The VPC link (managed or adopted).
    pub(crate) fn vpc_link(&self) -> VpcLinkRef {
        match self.nlb.link() {
            LinkOf::Managed(m) => m.link.reference(),
            LinkOf::Adopted(a) => a.reference(&self.env),
        }
    }

    fn nlb_security_group(&self, link: &ManagedLink, ports: &[Port]) -> SecurityGroupSpec {
        nlb_sg(&self.env, NLB, ports, &link.sg.as_source())
            .with_vpc(self.vpc.clone())
            .with_tags(self.tags.clone())
    }

    /// The shared resources that apps with these `needs` use (in
    /// `Mode::Destroy`: every managed one, so an environment destroyed without
    /// its apps leaves nothing behind).
    pub(crate) fn resources(&self, needs: &[Needs], mode: Mode) -> Vec<Arc<dyn Resource<Clients>>> {
        let destroy = mode == Mode::Destroy;
        let mut out: Vec<Arc<dyn Resource<Clients>>> = Vec::new();
        let alb_needed = needs.iter().any(|n| n.alb);
        if destroy || alb_needed {
            match &self.alb {
                Alb::Managed(m) => {
                    out.push(m.sg.clone().into_resource());
                    out.push(fargate_core::resource::node(m.sgs.clone()));
                    out.push(fargate_core::resource::node(m.lb.clone()));
                    out.extend(
                        m.listeners
                            .iter()
                            .map(|l| fargate_core::resource::node(l.clone())),
                    );
                }
                // Adopted ones are never deleted: planned only for the apps' rules.
                Alb::Adopted(a) if alb_needed => {
                    out.push(fargate_core::resource::node(a.lb.clone()));
                    out.push(fargate_core::resource::node(a.listener.clone()));
                }
                Alb::Adopted(_) => {}
            }
        }
        let ports: BTreeSet<Port> = needs
            .iter()
            .flat_map(|n| n.nlb_listener_ports.iter().copied())
            .collect();
        let nlb_needed = !ports.is_empty();
        if destroy || nlb_needed {
            let ports: Vec<Port> = ports.into_iter().collect();
            match self.nlb.link() {
                LinkOf::Managed(link) => {
                    out.push(link.sg.clone().into_resource());
                    out.push(fargate_core::resource::node(link.sgs.clone()));
                    out.push(fargate_core::resource::node(link.link.clone()));
                }
                // Adopted ones are never deleted: planned only for the apps' APIs.
                LinkOf::Adopted(link) if nlb_needed => {
                    out.push(fargate_core::resource::node(link.clone()));
                }
                LinkOf::Adopted(_) => {}
            }
            match &self.nlb {
                Nlb::Managed(m) => {
                    out.push(self.nlb_security_group(&m.link, &ports).into_resource());
                    out.push(fargate_core::resource::node(m.nlb_sgs.clone()));
                    out.push(fargate_core::resource::node(m.lb.clone()));
                }
                // The adopted NLB and its groups are never modified: planned only for the
                // apps' listeners.
                Nlb::Adopted(a) if nlb_needed => {
                    out.push(fargate_core::resource::node(a.lb.clone()))
                }
                Nlb::Adopted(_) => {}
            }
        }
        out
    }
}

/// The VPC link of an NLB, managed or adopted, borrowed.
#[derive(Clone, Copy)]
enum LinkOf<'a> {
    Managed(&'a ManagedLink),
    Adopted(&'a AdoptedVpcLink),
}

impl Nlb {
    fn link(&self) -> LinkOf<'_> {
        match self {
            Nlb::Managed(m) => LinkOf::Managed(&m.link),
            Nlb::Adopted(a) => match &a.link {
                Link::Managed(l) => LinkOf::Managed(l),
                Link::Adopted(l) => LinkOf::Adopted(l),
            },
        }
    }
}

fn adopted_alb(env: &Ident, a: &AdoptAlb) -> Result<Alb, InvalidValue> {
    let field = |f: &str| format!("environment.adopt_alb.{f}");
    let lb = AdoptedLoadBalancer::by_arn(env, ALB, a.load_balancer_arn.clone())
        .map_err(|e| e.in_field(field("load_balancer_arn")))?;
    if !a.load_balancer_arn.contains(":loadbalancer/app/") {
        return Err(InvalidValue::new(
            field("load_balancer_arn"),
            &a.load_balancer_arn,
            "not an Application Load Balancer",
            "the ARN of an Application Load Balancer (loadbalancer/app/...)",
        ));
    }
    let listener = AdoptedListener::new(format!("{env}/{ALB}:adopted"), a.listener_arn.clone())
        .map_err(|e| e.in_field(field("listener_arn")))?;
    let prefix = format!(
        "{}/",
        a.load_balancer_arn
            .replacen(":loadbalancer/", ":listener/", 1)
    );
    if !a.listener_arn.starts_with(&prefix) {
        return Err(InvalidValue::new(
            field("listener_arn"),
            &a.listener_arn,
            "not a listener of the adopted load balancer",
            format!("a listener ARN starting with {prefix}"),
        ));
    }
    let id = a.security_group_id.as_str();
    check_group_id(field("security_group_id"), id)?;
    Ok(Alb::Adopted(Box::new(AdoptedParts {
        lb,
        listener,
        source: GroupRef::existing(format!("{env}-alb-adopted"), id),
    })))
}

/// Checks that `id` has the shape of a security group id (`sg-` and 8 or 17 hex digits).
fn check_group_id(field: String, id: &str) -> Result<(), InvalidValue> {
    let hex = id.strip_prefix("sg-").unwrap_or_default();
    if !matches!(hex.len(), 8 | 17) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InvalidValue::new(
            field,
            id,
            "not a security group id",
            "sg- followed by 8 or 17 hexadecimal digits",
        ));
    }
    Ok(())
}

/// The adopted NLB of `a`, validated (no AWS calls); `managed_link` makes the VPC link
/// when none is adopted.
fn adopted_nlb(
    env: &Ident,
    a: &AdoptNlb,
    vpc_cidr: Option<Cidr>,
    managed_link: impl FnOnce() -> ManagedLink,
) -> Result<AdoptedNlb, InvalidValue> {
    let field = |f: &str| format!("environment.adopt_nlb.{f}");
    // The shape is checked here; the type when the plan reads the NLB (the ARN says
    // `net/`, but moto names every load balancer `app/`).
    let lb = AdoptedLoadBalancer::by_arn(env, NLB, a.load_balancer_arn.clone())
        .map_err(|e| e.in_field(field("load_balancer_arn")))?
        .of_kind(LoadBalancerKind::Network, field("load_balancer_arn"));
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    for id in &a.security_group_ids {
        check_group_id(field("security_group_ids"), id)?;
        ids.insert(id.as_str());
    }
    let sources: Vec<Source> = if ids.is_empty() {
        let cidr = vpc_cidr.ok_or_else(|| {
            InvalidValue::new(
                field("security_group_ids"),
                "",
                "an NLB without security groups passes traffic from the VPC, and the CIDR \
                 of an adopted network is not known before the plan reads it",
                "the NLB's security group ids (sg-...), or an NLB in a network fargate-rs \
                 creates (tasks then accept the VPC's CIDR)",
            )
        })?;
        vec![Source::Cidr(cidr)]
    } else {
        ids.into_iter()
            .map(|id| Source::Group(GroupRef::existing(format!("{env}-nlb-adopted-{id}"), id)))
            .collect()
    };
    let link = match &a.vpc_link_id {
        Some(id) => Link::Adopted(
            AdoptedVpcLink::new(env, id).map_err(|e| e.in_field(field("vpc_link_id")))?,
        ),
        None => Link::Managed(Box::new(managed_link())),
    };
    Ok(AdoptedNlb { lb, link, sources })
}

/// An existing VPC link (v2) used as it is: found by id, never modified or deleted (not
/// even by destroy). Planned as adopted; its id is known, so it publishes nothing.
#[derive(Debug, Clone)]
struct AdoptedVpcLink {
    id: ResourceId,
    link_id: String,
}

impl AdoptedVpcLink {
    /// The VPC link `link_id` (lowercase letters and digits, as API Gateway makes them).
    fn new(env: &Ident, link_id: &str) -> Result<Self, InvalidValue> {
        let ok = (1..=32).contains(&link_id.len())
            && link_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(InvalidValue::new(
                "vpc_link_id",
                link_id,
                "not a VPC link id",
                "the id of a VPC link (v2) as GetVpcLinks lists it: 1 to 32 lowercase \
                 letters and digits, such as abc123",
            ));
        }
        Ok(Self {
            id: ResourceId::new(VPC_LINK_KIND, format!("{env}/vpc-link:adopted")),
            link_id: link_id.to_string(),
        })
    }

    /// How the apps' HTTP APIs refer to it. The name and ownership are those of the link
    /// fargate-rs would create: an API moving from that link to this one deletes it, and
    /// this one, not ours, is never deleted.
    fn reference(&self, env: &Ident) -> VpcLinkRef {
        VpcLinkRef {
            id: self.id.clone(),
            link_id: Ref::Known(self.link_id.clone()),
            name: format!("{env}-vpc-link"),
            owner: Ownership::new(env.clone()).with_component("vpc-link"),
        }
    }

    /// Whether the link exists (read-only).
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn exists(&self, apigw: &ApiGwClient) -> Result<bool, Error> {
        let out = apigw.get_vpc_link().vpc_link_id(&self.link_id).send().await;
        Ok(ok_unless(out, &self.id, "GetVpcLink", |e| e.is_not_found_exception())?.is_some())
    }
}

impl<C> Kind<C> for AdoptedVpcLink
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    /// The link id, when the link exists.
    type Observed = String;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<String>, Error>> {
        Box::pin(async move {
            Ok(self
                .exists(&clients.as_ref().apigw)
                .await?
                .then(|| self.link_id.clone()))
        })
    }

    fn diff(&self, observed: Option<&String>, _: &Resolved) -> Result<Change, Error> {
        match observed {
            Some(link_id) => Ok(Change::Adopt {
                detail: link_id.clone(),
            }),
            None => Err(Error::NotFound {
                resource: self.id.clone(),
                detail: format!("the VPC link to adopt ({}) does not exist", self.link_id),
            }),
        }
    }

    fn destroy_change(&self, observed: Option<&String>) -> Change {
        match observed {
            Some(link_id) => Change::Adopt {
                detail: link_id.clone(),
            },
            None => Change::NoOp,
        }
    }

    fn apply<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a Change,
        _: Option<&'a String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    /// Never deleted: destroy plans it as adopted.
    fn destroy<'a>(
        &'a self,
        _: &'a C,
        _: &'a StepContext,
        _: &'a String,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// Check, before any AWS call, that the apps' needs of the shared load balancers
/// do not collide: one NLB listener port per app, distinct explicit ALB rule
/// priorities (preferred positions may coincide: the plan allocates free
/// priorities near them), distinct conditions, and at most
/// [`MAX_RULES_PER_LOAD_BALANCER`] rules on the ALB.
///
/// # Errors
/// [`Error::Invalid`] naming the app's field (`<app>.nlb_listener_port`,
/// `<app>.priority`, `<app>.paths`, `<app>.listener_rule`) and the app it collides with.
pub(crate) fn check_apps(apps: &[&dyn App]) -> Result<(), Error> {
    let needs: Vec<(String, Needs)> = apps
        .iter()
        .map(|a| (a.name().to_string(), a.needs()))
        .collect();
    check_needs(&needs, &[])
}

/// [`check_apps`] over named needs: `mine`, the apps of this call, and `others`, those
/// deployed into the environment from elsewhere (as the registry lists them). The rule
/// quota counts the others' rules first, so the app named is one of this call's.
///
/// # Errors
/// As [`check_apps`].
pub(crate) fn check_needs(
    mine: &[(String, Needs)],
    others: &[(String, Needs)],
) -> Result<(), Error> {
    let mut ports: BTreeMap<Port, String> = BTreeMap::new();
    let mut priorities: BTreeMap<u32, String> = BTreeMap::new();
    let mut conditions: BTreeMap<String, String> = BTreeMap::new();
    for (name, needs) in mine.iter().chain(others) {
        for p in &needs.nlb_listener_ports {
            if let Some(other) = ports.insert(*p, name.clone()) {
                return Err(InvalidValue::new(
                    format!("{name}.nlb_listener_port"),
                    p.to_string(),
                    format!("{other} listens on this port of the environment's NLB too"),
                    "a port no other BackendApi of the environment uses (set nlb_listener_port)",
                )
                .into());
            }
        }
        for r in &needs.alb_rules {
            if r.explicit
                && let Some(other) = priorities.insert(r.priority, name.clone())
            {
                return Err(InvalidValue::new(
                    format!("{name}.priority"),
                    r.priority.to_string(),
                    format!("{other} has a listener rule with this priority too"),
                    "a priority no other FrontendApp of the environment asks for, or none \
                         (fargate-rs then allocates a free one)",
                )
                .into());
            }
            if let Some(other) = conditions.insert(r.conditions.clone(), name.clone()) {
                return Err(InvalidValue::new(
                    format!("{name}.paths"),
                    &r.conditions,
                    format!(
                        "{other} routes the same paths and hosts; one of them would get no traffic"
                    ),
                    "paths and hosts that differ from every other FrontendApp's",
                )
                .into());
            }
        }
    }
    let total: usize = mine
        .iter()
        .chain(others)
        .map(|(_, n)| n.alb_rules.len())
        .sum();
    let mut count: usize = others.iter().map(|(_, n)| n.alb_rules.len()).sum();
    for (name, needs) in mine {
        count += needs.alb_rules.len();
        if count > MAX_RULES_PER_LOAD_BALANCER {
            return Err(InvalidValue::new(
                format!("{name}.listener_rule"),
                format!("{total} rules"),
                format!(
                    "the environment's apps would put {total} listener rules on its shared \
                     ALB ({} deployed from elsewhere), more than the \
                     {MAX_RULES_PER_LOAD_BALANCER} AWS allows per Application Load Balancer \
                     (default rules not counted)",
                    total - mine.iter().map(|(_, n)| n.alb_rules.len()).sum::<usize>()
                ),
                format!(
                    "at most {MAX_RULES_PER_LOAD_BALANCER} rules per load balancer: deploy some \
                     apps into another environment (its own ALB), or remove apps no longer used"
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// How an app's load balancer target group is set up: protocol, health check,
/// deregistration delay. Checked once at `build()` with placeholder names.
#[derive(Debug, Clone)]
pub(crate) struct TargetSettings {
    pub protocol: TargetProtocol,
    pub health_check: HealthCheck,
    pub deregistration_delay: u32,
}

impl TargetSettings {
    /// The app's target group in `env`'s VPC.
    pub(crate) fn target_group(
        &self,
        env: &Ident,
        app: &Ident,
        port: Port,
        vpc: Ref<String>,
        vpc_id: ResourceId,
        tags: &Tags,
    ) -> Result<TargetGroupSpec, InvalidValue> {
        self.target_group_as("target-group", env, app, port, vpc, vpc_id, tags)
    }

    /// The app's target group with ownership component `component` (`target-group`, or
    /// `target-group-alt` for the alternate group of a blue/green deployment): same port,
    /// protocol, health check and deregistration delay.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn target_group_as(
        &self,
        component: &str,
        env: &Ident,
        app: &Ident,
        port: Port,
        vpc: Ref<String>,
        vpc_id: ResourceId,
        tags: &Tags,
    ) -> Result<TargetGroupSpec, InvalidValue> {
        let owner = Ownership::new(env.clone())
            .with_app(app.clone())
            .with_component(component);
        Ok(
            TargetGroupSpec::new(env, app, port, self.protocol, vpc, owner)
                .health_check(self.health_check.clone())?
                .deregistration_delay(self.deregistration_delay)?
                .tags(tags.clone())
                .after([vpc_id]),
        )
    }

    /// Validate with a placeholder environment (no AWS calls).
    pub(crate) fn validate(&self, app: &Ident, port: Port) -> Result<(), InvalidValue> {
        let placeholder: Ident = "validate".parse()?;
        self.target_group(
            &placeholder,
            app,
            port,
            Ref::Known("vpc-00000000".into()),
            ResourceId::new("ec2:vpc", "validate"),
            &Tags::new(),
        )
        .map(|_| ())
        .map_err(|e| {
            let field = e.field.replace("target_group.", "");
            e.in_field(format!("{app}.{field}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, priority: u32, explicit: bool) -> (String, Needs) {
        (
            name.to_string(),
            Needs::alb_rule(RuleNeed {
                priority,
                explicit,
                conditions: format!("paths=/{name}/*;hosts="),
            }),
        )
    }

    fn field(e: Error) -> String {
        match e {
            Error::Invalid(v) => v.field,
            other => panic!("not an invalid value: {other}"),
        }
    }

    #[test]
    fn only_explicit_priorities_must_differ() {
        // Two preferred positions that coincide: the plan allocates around them.
        assert!(check_needs(&[rule("a", 4_001, false), rule("b", 4_001, false)], &[]).is_ok());
        // An explicit priority on a preferred position: the preferred one moves.
        assert!(check_needs(&[rule("a", 4_001, false), rule("b", 4_001, true)], &[]).is_ok());
        let twice = check_needs(&[rule("a", 10, true)], &[rule("b", 10, true)]).unwrap_err();
        assert_eq!(field(twice), "b.priority");
    }

    #[test]
    fn the_rule_beyond_the_albs_quota_names_an_app_of_this_call() {
        let others: Vec<(String, Needs)> = (0..60)
            .map(|i| rule(&format!("old-{i}"), 1, false))
            .collect();
        let mine: Vec<(String, Needs)> = (0..40)
            .map(|i| rule(&format!("new-{i}"), 1, false))
            .collect();
        assert!(check_needs(&mine, &others).is_ok(), "100 rules fit");
        let mut more = mine.clone();
        more.push(rule("new-40", 1, false));
        let Err(Error::Invalid(e)) = check_needs(&more, &others) else {
            panic!("the 101st rule is refused")
        };
        assert_eq!(e.field, "new-40.listener_rule");
        assert_eq!(e.value, "101 rules");
        assert!(e.reason.contains("60 deployed from elsewhere"), "{e}");
        assert!(e.allowed.contains("another environment"), "{e}");
    }

    const NLB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/shared/50dc6c495c0c9188";

    fn adopting(
        sgs: &[&str],
        link: Option<&str>,
        network: Option<crate::AdoptNetwork>,
    ) -> Result<crate::Environment, Error> {
        let spec = crate::environment::EnvironmentSpec::builder()
            .name("e")
            .adopt_nlb(AdoptNlb {
                load_balancer_arn: NLB_ARN.into(),
                security_group_ids: sgs.iter().map(|s| s.to_string()).collect(),
                vpc_link_id: link.map(str::to_string),
            });
        match network {
            Some(n) => spec.adopt_network(n).build(),
            None => spec.build(),
        }
    }

    fn kinds(env: &crate::Environment, needs: &[Needs], mode: Mode) -> Vec<String> {
        env.shared_lb()
            .resources(needs, mode)
            .iter()
            .map(|r| r.id().to_string())
            .filter(|id| !id.starts_with("fargate:collect"))
            .collect()
    }

    #[test]
    fn an_adopted_nlb_plans_no_nlb_or_nlb_group_and_destroy_keeps_it() {
        let env = adopting(&["sg-0123456789abcdef0"], None, None).unwrap();
        let needs = [Needs::nlb_listener(Port::new(10080).unwrap())];
        let apply = kinds(&env, &needs, Mode::Apply);
        assert!(apply.iter().any(|id| id.ends_with("e/nlb")), "{apply:?}");
        assert!(
            !apply.iter().any(|id| id.contains("e-nlb-nlb")),
            "{apply:?}"
        );
        assert!(
            apply.iter().any(|id| id.contains("e/vpc-link")),
            "{apply:?}"
        );
        // Destroy without apps: the VPC link fargate-rs made, not the adopted NLB.
        let destroy = kinds(&env, &[], Mode::Destroy);
        assert!(
            !destroy.iter().any(|id| id.ends_with("e/nlb")),
            "{destroy:?}"
        );
        assert!(
            destroy.iter().any(|id| id.contains("e/vpc-link")),
            "{destroy:?}"
        );
        assert_eq!(
            env.shared_lb()
                .nlb_load_balancer()
                .arn
                .known()
                .map(String::as_str),
            Some(NLB_ARN)
        );
    }

    #[test]
    fn an_adopted_vpc_link_is_referred_to_and_never_destroyed() {
        let env = adopting(&["sg-0123456789abcdef0"], Some("abc123"), None).unwrap();
        let link = env.shared_lb().vpc_link();
        assert_eq!(link.link_id.known().map(String::as_str), Some("abc123"));
        let needs = [Needs::nlb_listener(Port::new(10080).unwrap())];
        let apply = kinds(&env, &needs, Mode::Apply);
        assert!(apply.contains(&link.id.to_string()), "{apply:?}");
        assert!(
            !apply.iter().any(|id| id.contains("security-group")),
            "{apply:?}"
        );
        let destroy = kinds(&env, &[], Mode::Destroy);
        assert!(
            !destroy
                .iter()
                .any(|id| id.contains("vpc-link") || id.ends_with("e/nlb") || id.contains("e-nlb")),
            "{destroy:?}"
        );
    }

    #[test]
    fn tasks_accept_the_adopted_nlbs_groups_or_else_the_vpc_cidr() {
        let two = adopting(&["sg-0123456789abcdef0", "sg-01234567"], None, None).unwrap();
        let (sources, after) = two.shared_lb().nlb_sources();
        let ids: Vec<String> = sources
            .iter()
            .map(|s| match s {
                Source::Group(g) => g.id.known().cloned().unwrap_or_default(),
                Source::Cidr(c) => c.to_string(),
            })
            .collect();
        assert_eq!(ids, ["sg-01234567", "sg-0123456789abcdef0"]);
        assert!(
            after.is_empty(),
            "adopted groups are not created: {after:?}"
        );
        let none = adopting(&[], None, None).unwrap();
        let (sources, _) = none.shared_lb().nlb_sources();
        assert!(
            matches!(sources.as_slice(), [Source::Cidr(c)] if c.to_string() == "10.0.0.0/16"),
            "{sources:?}"
        );
        let adopted_network = crate::AdoptNetwork {
            vpc_id: "vpc-0123456789abcdef0".into(),
            public_subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            private_subnet_ids: Vec::new(),
        };
        let err = adopting(&[], None, Some(adopted_network)).unwrap_err();
        assert_eq!(field(err), "environment.adopt_nlb.security_group_ids");
    }

    #[test]
    fn stable_hash_is_fnv1a() {
        // Known FNV-1a 64 values: the defaults derived from names never move.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
