//! What a network is asked to be: the egress modes, the spec of a new
//! network and of an adopted one, and their validation (no AWS calls).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use fargate_core::wait::Poll;
use fargate_core::{Cidr, Ident, InvalidValue, Tags};

/// How tasks reach the internet (to pull images, ship logs, read secrets).
///
/// Every mode produces tasks that can pull their image. The default is
/// [`Egress::PublicSubnets`], the cheapest.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Egress {
    /// **The default.** Tasks run in the public subnets with a public IP; their
    /// security group accepts traffic only from their load balancer's security
    /// group, so nothing on the internet reaches them directly. No NAT gateway:
    /// no fixed cost. This is what AWS Copilot does by default.
    #[default]
    PublicSubnets,
    /// Private subnets for tasks and one NAT gateway (with an Elastic IP) in the
    /// first availability zone, shared by all: about $32/month plus $0.045 per
    /// GB processed. If that zone fails, tasks in the others lose internet egress.
    SharedNat,
    /// Private subnets and one NAT gateway per availability zone, each zone
    /// routing through its own: highly available, about $32/month per zone plus
    /// data processing.
    NatPerAz,
    /// Private subnets with no internet egress at all: interface endpoints for
    /// ECR (api and dkr), CloudWatch Logs, Secrets Manager and SSM plus an S3
    /// gateway endpoint (about $7.30/month per interface endpoint per zone, so
    /// about $73/month with 2 zones: cheaper than NAT only with little traffic;
    /// tasks reach nothing on the internet, only these AWS services). The
    /// endpoints' security group accepts HTTPS from the VPC's CIDR.
    VpcEndpoints,
}

impl Egress {
    /// Whether the network has private subnets (tasks run in them).
    pub fn needs_private_subnets(self) -> bool {
        !matches!(self, Egress::PublicSubnets)
    }

    /// Whether tasks get a public IP (they run in public subnets).
    pub fn tasks_need_public_ip(self) -> bool {
        matches!(self, Egress::PublicSubnets)
    }

    /// How many NAT gateways the network has with `zones` availability zones.
    pub fn nat_gateways(self, zones: usize) -> usize {
        match self {
            Egress::SharedNat => 1,
            Egress::NatPerAz => zones,
            Egress::PublicSubnets | Egress::VpcEndpoints => 0,
        }
    }

    /// The mode's name: `public-subnets`, `shared-nat`, `nat-per-az`, `vpc-endpoints`.
    pub fn as_str(self) -> &'static str {
        match self {
            Egress::PublicSubnets => "public-subnets",
            Egress::SharedNat => "shared-nat",
            Egress::NatPerAz => "nat-per-az",
            Egress::VpcEndpoints => "vpc-endpoints",
        }
    }

    pub(super) fn explain(self, zones: usize) -> String {
        match self {
            Egress::PublicSubnets => {
                "egress: public subnets (the default): tasks run in the public subnets with \
                 public IPs and accept traffic only from their load balancer's security group; \
                 no NAT gateway cost"
                    .to_string()
            }
            Egress::SharedNat => {
                "egress: shared NAT gateway: tasks run in private subnets and reach the internet \
                 through one NAT gateway in the first availability zone (about $32/month plus \
                 $0.045/GB; tasks lose egress if that zone fails)"
                    .to_string()
            }
            Egress::NatPerAz => format!(
                "egress: NAT gateway per availability zone: tasks run in private subnets, each zone \
                 with its own NAT gateway ({zones} × about $32/month plus $0.045/GB; highly available)"
            ),
            Egress::VpcEndpoints => format!(
                "egress: VPC endpoints: tasks run in private subnets with no internet access, reaching ECR, S3, \
                 CloudWatch Logs, Secrets Manager and SSM through endpoints (5 interface endpoints × {zones} zones × \
                 about $7.30/month, plus $0.01/GB)"
            ),
        }
    }
}

impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(super) const EGRESS_ALLOWED: &str = "public-subnets, shared-nat, nat-per-az, vpc-endpoints";

impl FromStr for Egress {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public-subnets" => Ok(Egress::PublicSubnets),
            "shared-nat" => Ok(Egress::SharedNat),
            "nat-per-az" => Ok(Egress::NatPerAz),
            "vpc-endpoints" => Ok(Egress::VpcEndpoints),
            _ => Err(InvalidValue::new(
                "network.egress",
                s,
                "not an egress mode",
                EGRESS_ALLOWED,
            )),
        }
    }
}

/// Failures specific to the network, carried by [`fargate_core::Error::Failed`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A field AWS cannot change in place (a VPC's or subnet's CIDR, a subnet's
    /// zone) differs from what exists; the network never re-creates them by itself.
    #[error("{field} is {existing} and cannot change in place (wanted {desired}); {hint}")]
    ImmutableChanged {
        /// The field.
        field: String,
        /// What exists in AWS.
        existing: String,
        /// What was asked for.
        desired: String,
        /// What to do about it.
        hint: String,
    },
    /// A NAT gateway ended in state `failed`.
    #[error("NAT gateway {nat_gateway} failed: {code}: {message}")]
    NatGatewayFailed {
        /// The NAT gateway id.
        nat_gateway: String,
        /// AWS's failure code.
        code: String,
        /// AWS's failure message.
        message: String,
    },
    /// The environment's internet gateway is attached to another VPC.
    #[error(
        "internet gateway {gateway} is attached to {attached_to}, not to the environment's VPC {vpc}"
    )]
    GatewayAttachedElsewhere {
        /// The gateway id.
        gateway: String,
        /// The VPC it is attached to.
        attached_to: String,
        /// The environment's VPC.
        vpc: String,
    },
}

/// How long the network waits for AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// For a NAT gateway or VPC endpoint to become available after create, or
    /// deleted after delete. Default: 10 minutes, polling after 2 s, the interval
    /// doubling to at most 10 s (they take one to a few minutes; routes wait for them).
    pub provisioning: Poll,
    /// Re-trying a delete that fails with `DependencyViolation` while ENIs of
    /// stopped tasks or VPC links linger. Default: 20 minutes, after 10 s, the interval
    /// doubling to at most 40 s.
    pub dependencies: Poll,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            provisioning: Poll::new(Duration::from_secs(600), Duration::from_secs(2))
                .with_max_interval(Duration::from_secs(10)),
            dependencies: Poll::new(Duration::from_secs(1200), Duration::from_secs(10)),
        }
    }
}

/// The desired new network of an environment; see [`Network::create`](super::Network::create).
///
/// ```
/// use fargate_net::network::{Egress, Network, NetworkSpec};
/// let spec = NetworkSpec::new("prod".parse()?).egress(Egress::SharedNat);
/// let network = Network::create(spec)?;
/// assert!(!network.tasks_need_public_ip());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    pub(super) environment: Ident,
    pub(super) cidr: Option<Cidr>,
    pub(super) zone_count: usize,
    pub(super) zones: Option<Vec<String>>,
    pub(super) egress: Egress,
    pub(super) tags: Tags,
    pub(super) subnet_cidrs: Option<(Vec<Cidr>, Vec<Cidr>)>,
    pub(super) waits: Waits,
}

impl NetworkSpec {
    /// Defaults: VPC `10.0.0.0/16`, the first 2 availability zones of the region,
    /// [`Egress::PublicSubnets`], no user tags.
    pub fn new(environment: Ident) -> Self {
        Self {
            environment,
            cidr: None,
            zone_count: 2,
            zones: None,
            egress: Egress::default(),
            tags: Tags::new(),
            subnet_cidrs: None,
            waits: Waits::default(),
        }
    }

    /// The VPC's CIDR block (/16 to /28).
    #[must_use]
    pub fn cidr(mut self, cidr: Cidr) -> Self {
        self.cidr = Some(cidr);
        self
    }

    /// Use the first `count` availability zones of the region (in name order,
    /// from `DescribeAvailabilityZones`); at least 2.
    #[must_use]
    pub fn zone_count(mut self, count: usize) -> Self {
        self.zone_count = count;
        self.zones = None;
        self
    }

    /// Use these availability zones (no look-up); at least 2.
    #[must_use]
    pub fn zones<I, S>(mut self, zones: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let zones: Vec<String> = zones.into_iter().map(Into::into).collect();
        self.zone_count = zones.len();
        self.zones = Some(zones);
        self
    }

    /// How tasks reach the internet.
    #[must_use]
    pub fn egress(mut self, egress: Egress) -> Self {
        self.egress = egress;
        self
    }

    /// Tags for every network object (besides the ownership tags).
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// Explicit subnet CIDRs, one per zone and tier (private may be empty when
    /// the egress mode has no private subnets). By default the VPC is divided
    /// into 2 × zones equal subnets: public first, then private (space for the
    /// private ones is kept even when unused, so changing the egress mode never
    /// moves a public subnet).
    #[must_use]
    pub fn subnet_cidrs(mut self, public: Vec<Cidr>, private: Vec<Cidr>) -> Self {
        self.subnet_cidrs = Some((public, private));
        self
    }

    /// How long to wait for AWS.
    #[must_use]
    pub fn waits(mut self, waits: Waits) -> Self {
        self.waits = waits;
        self
    }
}

/// Which existing VPC to adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcSelector {
    /// By id, `vpc-…`.
    Id(String),
    /// The one VPC carrying all these tags (key, value).
    Tags(Vec<(String, String)>),
}

/// Which existing subnets to adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetSelector {
    /// By id, `subnet-…`.
    Ids(Vec<String>),
    /// All subnets of the VPC carrying all these tags (key, value).
    Tags(Vec<(String, String)>),
}

/// Where tasks run in an adopted network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskSubnets {
    /// In the public subnets, with a public IP.
    #[default]
    Public,
    /// In the private subnets, without a public IP. Their way out (a NAT
    /// gateway or VPC endpoints) is the existing network's; it is not verified.
    Private,
}

/// An existing VPC and subnets to use as they are; see [`Network::adopt`](super::Network::adopt).
///
/// ```
/// use fargate_net::network::{AdoptSpec, Network};
/// let spec = AdoptSpec::by_ids("prod".parse()?, "vpc-0abc", ["subnet-01", "subnet-02"])
///     .private_subnets(["subnet-03", "subnet-04"])
///     .tasks_in_private_subnets();
/// let network = Network::adopt(spec)?;
/// assert!(network.describe().contains("vpc-0abc"));
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdoptSpec {
    pub(super) environment: Ident,
    pub(super) vpc: VpcSelector,
    pub(super) public_subnets: SubnetSelector,
    pub(super) private_subnets: Option<SubnetSelector>,
    pub(super) tasks: TaskSubnets,
}

impl AdoptSpec {
    /// Adopt the VPC and public subnets chosen by these selectors; tasks run in
    /// the public subnets unless [`tasks_in_private_subnets`](Self::tasks_in_private_subnets).
    pub fn new(environment: Ident, vpc: VpcSelector, public_subnets: SubnetSelector) -> Self {
        Self {
            environment,
            vpc,
            public_subnets,
            private_subnets: None,
            tasks: TaskSubnets::Public,
        }
    }

    /// Adopt a VPC and its public subnets by id.
    pub fn by_ids<I, S>(environment: Ident, vpc_id: impl Into<String>, public_subnet_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(
            environment,
            VpcSelector::Id(vpc_id.into()),
            SubnetSelector::Ids(public_subnet_ids.into_iter().map(Into::into).collect()),
        )
    }

    /// Also adopt these private subnets (by id).
    #[must_use]
    pub fn private_subnets<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.private_subnets = Some(SubnetSelector::Ids(
            ids.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Also adopt the private subnets chosen by this selector.
    #[must_use]
    pub fn private_subnets_by(mut self, selector: SubnetSelector) -> Self {
        self.private_subnets = Some(selector);
        self
    }

    /// Run tasks in the private subnets, without public IPs.
    #[must_use]
    pub fn tasks_in_private_subnets(mut self) -> Self {
        self.tasks = TaskSubnets::Private;
        self
    }
}

pub(super) fn check_subnet_cidrs(
    vpc: &Cidr,
    zones: usize,
    egress: Egress,
    public: &[Cidr],
    private: &[Cidr],
) -> Result<(), InvalidValue> {
    let allowed = format!("one /16 to /28 block per zone inside {vpc}, none overlapping");
    let want_private = if egress.needs_private_subnets() {
        zones
    } else {
        0
    };
    for (field, list, want) in [
        ("network.public_subnet_cidrs", public, zones),
        ("network.private_subnet_cidrs", private, want_private),
    ] {
        if list.len() != want && !(want == 0 && list.is_empty()) {
            let shown = list
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(InvalidValue::new(
                field,
                shown,
                format!(
                    "{} given for {want} subnets ({zones} zones, egress {egress})",
                    list.len()
                ),
                allowed,
            ));
        }
        for c in list {
            if !vpc.contains(c) {
                return Err(InvalidValue::new(
                    field,
                    c.to_string(),
                    format!("not inside the VPC {vpc}"),
                    allowed,
                ));
            }
            if !(16..=28).contains(&c.prefix()) {
                return Err(InvalidValue::new(
                    field,
                    c.to_string(),
                    "a subnet must be /16 to /28",
                    allowed,
                ));
            }
        }
    }
    let all: Vec<&Cidr> = public.iter().chain(private).collect();
    for (i, a) in all.iter().enumerate() {
        if let Some(b) = all.iter().skip(i + 1).find(|b| a.overlaps(b)) {
            return Err(InvalidValue::new(
                "network.subnet_cidrs",
                format!("{a}, {b}"),
                "subnets overlap",
                allowed,
            ));
        }
    }
    Ok(())
}

pub(super) fn check_id(field: &str, id: &str, prefix: &str) -> Result<(), InvalidValue> {
    let ok = id
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            id,
            format!("not a {prefix}… id"),
            format!("an id such as {prefix}0123456789abcdef0"),
        ))
    }
}

pub(super) fn check_tag_selector(
    field: &str,
    tags: &[(String, String)],
) -> Result<(), InvalidValue> {
    if tags.is_empty() || tags.iter().any(|(k, _)| k.is_empty()) {
        return Err(InvalidValue::new(
            field,
            show_tags(tags),
            "a tag selector needs at least one tag, each with a non-empty key",
            "one or more (key, value) pairs",
        ));
    }
    Ok(())
}

pub(super) fn show_tags(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
