//! Security groups: a group per load balancer, per app's tasks and per VPC
//! link, with ingress rules managed one by one.
//!
//! Start with the factory functions — [`load_balancer_sg`], [`task_sg`],
//! [`vpc_link_sg`], [`nlb_sg`], or [`api_gateway_path`] for the whole API
//! Gateway → VPC link → NLB → task chain — or build a [`SecurityGroupSpec`].
//!
//! - **Ingress** is managed at rule level. Each rule is normalized to a string
//!   such as `tcp:443 from 0.0.0.0/0` or `tcp:8080 from sg:prod-shared-lb` (a
//!   source group is named by its logical name, mapped from the group id AWS
//!   reports), so the plan shows exactly which rules come and go. Adding rules
//!   is one `AuthorizeSecurityGroupIngress`, removing rules one
//!   `RevokeSecurityGroupIngress`; a group is never deleted and re-created to
//!   change its rules. Rules added by hand are removed on the next apply.
//! - **Egress is not managed**: a new group keeps the AWS default rule that
//!   allows all outbound traffic (tasks must reach ECR, CloudWatch Logs, Secrets
//!   Manager…), and egress rules are neither compared nor changed.
//! - **Found by name within the VPC** (group names are unique per VPC), then the
//!   ownership tags are checked: a group with our name but without our tags is
//!   an [`Error::NotOwned`] and is never touched.
//! - **Destroy** deletes only our group. While ENIs (of stopped Fargate tasks, of
//!   a VPC link) still use it, AWS answers `DependencyViolation`: the delete is
//!   re-tried for a bounded time, then fails with an [`Error::Timeout`] naming
//!   the group.
//! - Output: the group id ([`SecurityGroupSpec::group_id_key`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupError;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::Poll;
use fargate_core::{
    AwsResultExt, Change, Cidr, Created, EcsName, Error, Fields, Ident, InvalidValue, Kind, Mode,
    OutputKey, PlanValues, Port, Ref, Resolved, Resource, ResourceId, Round, StepContext, Tags,
    create_or_existing, ok_unless,
};

use crate::NetClients;
use crate::network::common::returned_id;
use crate::network::{
    DEPENDENCY_VIOLATION, Waits, delete_waiting, filter, vpc_id_key, vpc_resource_id,
};
use crate::tagging::{ec2_owner_filters, ec2_tag_pairs, ec2_tag_spec, ensure_owned};

/// The transport protocol of a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (everything fargate-rs routes is TCP).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`, as EC2 names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A port or an inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    from: Port,
    to: Port,
}

impl PortRange {
    /// Ports `from` to `to`, inclusive.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `port range` when `from` is greater than `to`.
    pub fn new(from: Port, to: Port) -> Result<Self, InvalidValue> {
        if from > to {
            return Err(InvalidValue::new(
                "port range",
                format!("{from}-{to}"),
                "the first port is greater than the last",
                "from ≤ to, such as 8000-8100",
            ));
        }
        Ok(Self { from, to })
    }

    /// One port.
    pub fn single(port: Port) -> Self {
        Self {
            from: port,
            to: port,
        }
    }

    /// The first port.
    pub fn from(self) -> Port {
        self.from
    }

    /// The last port.
    pub fn to(self) -> Port {
        self.to
    }
}

impl From<Port> for PortRange {
    fn from(port: Port) -> Self {
        Self::single(port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// Another security group as the source of a rule: its id (known, or the output
/// of the step that creates it) and the logical name shown in plans.
///
/// For a group created in the same plan (`id` is an output), `name` must be its
/// group name ([`SecurityGroupSpec::as_source`] does this): observing maps the
/// ids AWS reports back to names through it.
#[derive(Debug, Clone)]
pub struct GroupRef {
    /// The logical name, shown as `sg:<name>`.
    pub name: String,
    /// The group id.
    pub id: Ref<String>,
    /// The resource that creates the group, when it is created in the same plan.
    pub resource: Option<ResourceId>,
}

impl GroupRef {
    /// An existing group, by id, shown as `sg:<name>`.
    pub fn existing(name: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            id: Ref::Known(id.into()),
            resource: None,
        }
    }
}

/// Where a rule accepts traffic from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An IPv4 network.
    Cidr(Cidr),
    /// Members of another security group.
    Group(GroupRef),
}

/// One ingress rule: a protocol, a port (range) and a source.
#[derive(Debug, Clone)]
pub struct IngressRule {
    /// The protocol.
    pub protocol: Protocol,
    /// The port or ports.
    pub ports: PortRange,
    /// Who may connect.
    pub source: Source,
}

impl IngressRule {
    /// TCP on `ports` from `source`.
    pub fn tcp(ports: impl Into<PortRange>, source: Source) -> Self {
        Self {
            protocol: Protocol::Tcp,
            ports: ports.into(),
            source,
        }
    }

    /// The normalized form the diff compares, e.g. `tcp:443 from 0.0.0.0/0` or
    /// `tcp:8080 from sg:prod-shared-lb`.
    pub fn normalized(&self) -> String {
        let source = match &self.source {
            Source::Cidr(c) => c.to_string(),
            Source::Group(g) => format!("sg:{}", g.name),
        };
        format!("{}:{} from {source}", self.protocol.as_str(), self.ports)
    }

    /// The EC2 permission, with source group ids resolved.
    fn permission(&self, ctx: &StepContext) -> Result<IpPermission, Error> {
        let p = IpPermission::builder()
            .ip_protocol(self.protocol.as_str())
            .from_port(i32::from(self.ports.from.get()))
            .to_port(i32::from(self.ports.to.get()));
        Ok(match &self.source {
            Source::Cidr(c) => p.ip_ranges(IpRange::builder().cidr_ip(c.to_string()).build()),
            Source::Group(g) => p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g.id.resolve(ctx)?)
                    .build(),
            ),
        }
        .build())
    }
}

const NAME_ALLOWED: &str =
    "1 to 255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, not starting with sg-";
const DESCRIPTION_ALLOWED: &str = "0 to 255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*";

fn sg_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)
}

/// The desired state of one security group; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SecurityGroupSpec {
    /// The group name, unique in its VPC.
    pub name: String,
    /// The description (set at creation; AWS cannot change it, so it is not diffed).
    pub description: String,
    /// The VPC id.
    pub vpc: Ref<String>,
    /// Who owns the group.
    pub owner: Ownership,
    /// User tags.
    pub tags: Tags,
    /// The ingress rules (the complete set: others are revoked).
    pub ingress: Vec<IngressRule>,
    /// Resources that must exist first besides the source groups (e.g. the VPC).
    pub depends_on: Vec<ResourceId>,
    /// How long a delete is re-tried while the group is still in use. Default: 20 minutes.
    pub delete_wait: Poll,
}

impl SecurityGroupSpec {
    /// A group with no ingress rules yet.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `security group name` or `security group
    /// description` when either breaks AWS's rules.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        vpc: Ref<String>,
        owner: Ownership,
    ) -> Result<Self, InvalidValue> {
        let (name, description) = (name.into(), description.into());
        let bad_name = if name.is_empty() || name.len() > 255 {
            Some("must be 1 to 255 characters")
        } else if !name.chars().all(sg_char) {
            Some("contains a character AWS does not allow")
        } else if name.to_ascii_lowercase().starts_with("sg-") {
            Some("must not start with sg-")
        } else {
            None
        };
        if let Some(reason) = bad_name {
            return Err(InvalidValue::new(
                "security group name",
                name,
                reason,
                NAME_ALLOWED,
            ));
        }
        if description.len() > 255 || !description.chars().all(sg_char) {
            return Err(InvalidValue::new(
                "security group description",
                description,
                "too long or contains a character AWS does not allow",
                DESCRIPTION_ALLOWED,
            ));
        }
        Ok(Self {
            name,
            description,
            vpc,
            owner,
            tags: Tags::new(),
            ingress: Vec::new(),
            depends_on: Vec::new(),
            delete_wait: Waits::default().dependencies,
        })
    }

    /// A group of `environment`'s VPC (created or adopted by its network).
    fn in_environment(name: &str, description: String, owner: Ownership) -> Self {
        let env = owner.environment.clone();
        Self {
            name: name.to_string(),
            description,
            vpc: Ref::Output(vpc_id_key(&env)),
            owner,
            tags: Tags::new(),
            ingress: Vec::new(),
            depends_on: vec![vpc_resource_id(&env)],
            delete_wait: Waits::default().dependencies,
        }
    }

    /// Also accept `rule`.
    #[must_use]
    pub fn allow(mut self, rule: IngressRule) -> Self {
        self.ingress.push(rule);
        self
    }

    /// In this VPC (for example [`Network::vpc_ref`](crate::network::Network::vpc_ref),
    /// known at plan time for an adopted VPC).
    #[must_use]
    pub fn with_vpc(mut self, vpc: Ref<String>) -> Self {
        self.vpc = vpc;
        self
    }

    /// With these user tags.
    #[must_use]
    pub fn with_tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// With another delete wait (tests use short ones).
    #[must_use]
    pub fn with_delete_wait(mut self, poll: Poll) -> Self {
        self.delete_wait = poll;
        self
    }

    /// The resource id: `ec2:security-group <name>`.
    pub fn resource_id(&self) -> ResourceId {
        ResourceId::new("ec2:security-group", self.name.as_str())
    }

    /// The group id output.
    pub fn group_id_key(&self) -> OutputKey<String> {
        self.resource_id().output("id")
    }

    /// This group as the source of another group's rule.
    pub fn as_source(&self) -> GroupRef {
        GroupRef {
            name: self.name.clone(),
            id: Ref::Output(self.group_id_key()),
            resource: Some(self.resource_id()),
        }
    }

    /// The rules' normalized forms, sorted, without duplicates.
    pub fn normalized_rules(&self) -> Vec<String> {
        self.ingress
            .iter()
            .map(IngressRule::normalized)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// This group as a planned resource.
    pub fn into_resource<C>(self) -> Arc<dyn Resource<C>>
    where
        C: AsRef<NetClients> + Clone + Send + Sync + 'static,
    {
        fargate_core::resource::node(self)
    }
}

/// `80,443`.
fn ports_of(ports: &[Port]) -> String {
    ports
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The default ports of a public load balancer: 80 and 443.
pub const DEFAULT_LB_PORTS: [Port; 2] = [Port::HTTP, Port::HTTPS];

/// `0.0.0.0/0`, the default source of a public load balancer.
pub fn anywhere() -> Vec<Cidr> {
    Cidr::new(Ipv4Addr::UNSPECIFIED, 0).into_iter().collect()
}

/// The group of load balancer `lb` of `environment`: TCP `ports` (usually
/// [`DEFAULT_LB_PORTS`]) from `from` (empty means [`anywhere`]). Named
/// `<env>-<lb>-lb`.
pub fn load_balancer_sg(
    environment: &Ident,
    lb: &str,
    ports: &[Port],
    from: &[Cidr],
) -> SecurityGroupSpec {
    let name = EcsName::derive(&[environment.as_str(), lb, "lb"]);
    let owner = Ownership::new(environment.clone()).with_component(format!("sg-lb-{lb}"));
    let sources = if from.is_empty() {
        anywhere()
    } else {
        from.to_vec()
    };
    let mut sg = SecurityGroupSpec::in_environment(
        name.as_str(),
        format!(
            "fargate-rs load balancer {lb}: tcp {} from clients",
            ports_of(ports)
        ),
        owner,
    );
    for port in ports {
        for cidr in &sources {
            sg = sg.allow(IngressRule::tcp(*port, Source::Cidr(*cidr)));
        }
    }
    sg
}

/// The group of `app`'s tasks: TCP `container_port` from the load balancer's
/// group `from` only, nothing from the internet. Named `<env>-<app>-task`.
pub fn task_sg(
    environment: &Ident,
    app: &Ident,
    container_port: Port,
    from: &GroupRef,
) -> SecurityGroupSpec {
    let name = EcsName::derive(&[environment.as_str(), app.as_str(), "task"]);
    let owner = Ownership::new(environment.clone())
        .with_app(app.clone())
        .with_component("sg-task");
    SecurityGroupSpec::in_environment(
        name.as_str(),
        format!("fargate-rs tasks of {app}: tcp {container_port} from their load balancer"),
        owner,
    )
    .allow(IngressRule::tcp(
        container_port,
        Source::Group(from.clone()),
    ))
}

/// The group of `environment`'s API Gateway VPC link. It needs no ingress (API
/// Gateway opens the connections) and keeps the default allow-all egress to
/// reach the NLB. Named `<env>-vpc-link`.
pub fn vpc_link_sg(environment: &Ident) -> SecurityGroupSpec {
    let name = EcsName::derive(&[environment.as_str(), "vpc-link"]);
    let owner = Ownership::new(environment.clone()).with_component("sg-vpc-link");
    SecurityGroupSpec::in_environment(
        name.as_str(),
        "fargate-rs API Gateway VPC link".to_string(),
        owner,
    )
}

/// The group of internal network load balancer `lb`: TCP `ports` from the VPC
/// link's group `from` (an NLB with a security group filters what reaches it;
/// its health checks and forwarded traffic then come from this group, which the
/// task group must accept). Named `<env>-<lb>-nlb`.
pub fn nlb_sg(environment: &Ident, lb: &str, ports: &[Port], from: &GroupRef) -> SecurityGroupSpec {
    let name = EcsName::derive(&[environment.as_str(), lb, "nlb"]);
    let owner = Ownership::new(environment.clone()).with_component(format!("sg-nlb-{lb}"));
    let mut sg = SecurityGroupSpec::in_environment(
        name.as_str(),
        format!(
            "fargate-rs network load balancer {lb}: tcp {} from the VPC link",
            ports_of(ports)
        ),
        owner,
    );
    for port in ports {
        sg = sg.allow(IngressRule::tcp(*port, Source::Group(from.clone())));
    }
    sg
}

/// The three groups an API Gateway → VPC link → NLB → task path needs, wired so
/// that traffic flows with the defaults.
#[derive(Debug, Clone)]
pub struct ApiPath {
    /// The VPC link's group (no ingress).
    pub vpc_link: SecurityGroupSpec,
    /// The NLB's group: its listener ports from the VPC link's group.
    pub nlb: SecurityGroupSpec,
    /// The tasks' group: the container port from the NLB's group.
    pub task: SecurityGroupSpec,
}

impl ApiPath {
    /// The three groups, VPC link first.
    pub fn into_vec(self) -> Vec<SecurityGroupSpec> {
        vec![self.vpc_link, self.nlb, self.task]
    }
}

/// The groups of `app`'s API path in `environment`: the VPC link, an NLB named
/// after the app listening on `nlb_ports`, and the tasks on `container_port`.
pub fn api_gateway_path(
    environment: &Ident,
    app: &Ident,
    nlb_ports: &[Port],
    container_port: Port,
) -> ApiPath {
    let vpc_link = vpc_link_sg(environment);
    let nlb = nlb_sg(environment, app.as_str(), nlb_ports, &vpc_link.as_source());
    let task = task_sg(environment, app, container_port, &nlb.as_source());
    ApiPath {
        vpc_link,
        nlb,
        task,
    }
}

/// The one source of an observed rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RuleSource {
    /// An IPv4 network.
    Ipv4(String),
    /// An IPv6 network.
    Ipv6(String),
    /// A security group, by id.
    Group(String),
    /// A managed prefix list, by id.
    PrefixList(String),
}

/// One ingress rule as found in AWS: its normalized form and what its single-source
/// permission (the one that revokes exactly this rule) is made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedRule {
    pub(crate) text: String,
    /// The protocol as AWS reports it (`tcp`, `6`, `-1`, ...).
    pub(crate) protocol: Option<String>,
    pub(crate) from_port: Option<i32>,
    pub(crate) to_port: Option<i32>,
    pub(crate) source: RuleSource,
}

impl ObservedRule {
    /// The single-source permission that revokes exactly this rule.
    pub(crate) fn permission(&self) -> IpPermission {
        let p = IpPermission::builder()
            .set_ip_protocol(self.protocol.clone())
            .set_from_port(self.from_port)
            .set_to_port(self.to_port);
        match &self.source {
            RuleSource::Ipv4(cidr) => p.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
            RuleSource::Ipv6(cidr) => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()),
            RuleSource::Group(id) => {
                p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            }
            RuleSource::PrefixList(id) => {
                p.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
            }
        }
        .build()
    }
}

/// The group as found in AWS: its id and ingress rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedGroup {
    pub(crate) id: String,
    pub(crate) rules: Vec<ObservedRule>,
}

/// A permission's protocol and ports, normalized: `tcp:443`, `tcp:80-90`, `all`.
fn protocol_and_ports(p: &IpPermission) -> String {
    let protocol = match p.ip_protocol().unwrap_or("-1") {
        "6" | "tcp" => "tcp",
        "17" | "udp" => "udp",
        "1" | "icmp" => "icmp",
        "-1" | "all" => return "all".to_string(),
        other => other,
    };
    match (p.from_port(), p.to_port()) {
        (Some(from), Some(to)) if from == to => format!("{protocol}:{from}"),
        (Some(from), Some(to)) => format!("{protocol}:{from}-{to}"),
        _ => protocol.to_string(),
    }
}

/// Split AWS's permissions into single-source rules, naming source groups by
/// `names` (group id → logical name; unknown ids are shown as `sg:<id>`).
pub(crate) fn observed_rules(
    permissions: &[IpPermission],
    names: &BTreeMap<String, String>,
) -> Vec<ObservedRule> {
    let mut rules = Vec::new();
    for p in permissions {
        let head = protocol_and_ports(p);
        let rule = |text: String, source: RuleSource| ObservedRule {
            text,
            protocol: p.ip_protocol().map(str::to_string),
            from_port: p.from_port(),
            to_port: p.to_port(),
            source,
        };
        for r in p.ip_ranges() {
            let cidr = r.cidr_ip().unwrap_or_default();
            rules.push(rule(
                format!("{head} from {cidr}"),
                RuleSource::Ipv4(cidr.to_string()),
            ));
        }
        for r in p.ipv6_ranges() {
            let cidr = r.cidr_ipv6().unwrap_or_default();
            rules.push(rule(
                format!("{head} from {cidr}"),
                RuleSource::Ipv6(cidr.to_string()),
            ));
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap_or_default();
            let name = names.get(id).map_or(id, String::as_str);
            rules.push(rule(
                format!("{head} from sg:{name}"),
                RuleSource::Group(id.to_string()),
            ));
        }
        for l in p.prefix_list_ids() {
            let id = l.prefix_list_id().unwrap_or_default();
            rules.push(rule(
                format!("{head} from pl:{id}"),
                RuleSource::PrefixList(id.to_string()),
            ));
        }
    }
    rules
}

/// The managed fields of a group: the set of normalized ingress rules.
pub(crate) fn fields<I, S>(rules: I) -> Fields
where
    I: IntoIterator<Item = S>,
    S: Into<serde_json::Value>,
{
    Fields::new().with_set("ingress", rules)
}

const GONE: &[&str] = &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"];

impl SecurityGroupSpec {
    /// The rules to add and to remove to go from `observed` to the desired set.
    fn rule_changes<'a>(
        &'a self,
        observed: &'a ObservedGroup,
    ) -> (Vec<&'a IngressRule>, Vec<&'a ObservedRule>) {
        let have: BTreeSet<&str> = observed.rules.iter().map(|r| r.text.as_str()).collect();
        let want = self.normalized_rules();
        let mut seen = BTreeSet::new();
        let add = self
            .ingress
            .iter()
            .filter(|r| {
                let text = r.normalized();
                !have.contains(text.as_str()) && seen.insert(text)
            })
            .collect();
        let remove = observed
            .rules
            .iter()
            .filter(|r| !want.contains(&r.text))
            .collect();
        (add, remove)
    }

    async fn authorize(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        id: &str,
        rules: &[&IngressRule],
    ) -> Result<(), Error> {
        if rules.is_empty() {
            return Ok(());
        }
        let permissions = rules
            .iter()
            .map(|r| r.permission(ctx))
            .collect::<Result<Vec<_>, _>>()?;
        let out = ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await;
        // A retry whose first attempt was applied finds the rules there.
        ok_unless(
            out,
            self.resource_id(),
            "AuthorizeSecurityGroupIngress",
            |e| e.code() == Some("InvalidPermission.Duplicate"),
        )?;
        let texts: Vec<String> = rules.iter().map(|r| r.normalized()).collect();
        ctx.progress(format!("allowed {} in {id}", texts.join("; ")));
        Ok(())
    }

    /// Brings the rules of an existing group to the desired set: adds first (so traffic
    /// moving to a new port is never cut), then revokes. Returns the group id.
    async fn converge(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        found: &ObservedGroup,
    ) -> Result<String, Error> {
        let (add, remove) = self.rule_changes(found);
        self.authorize(ec2, ctx, &found.id, &add).await?;
        if !remove.is_empty() {
            let out = ec2
                .revoke_security_group_ingress()
                .group_id(&found.id)
                .set_ip_permissions(Some(remove.iter().map(|r| r.permission()).collect()))
                .send()
                .await;
            // A retry whose first attempt was applied finds the rules gone.
            ok_unless(out, self.resource_id(), "RevokeSecurityGroupIngress", |e| {
                e.code() == Some("InvalidPermission.NotFound")
            })?;
            let texts: Vec<&str> = remove.iter().map(|r| r.text.as_str()).collect();
            ctx.progress(format!("revoked {} in {}", texts.join("; "), found.id));
        }
        Ok(found.id.clone())
    }
}

impl SecurityGroupSpec {
    /// The resources this group needs: [`SecurityGroupSpec::depends_on`] and the source
    /// groups created in the same plan.
    pub(crate) fn deps(&self) -> Vec<ResourceId> {
        let mut deps = self.depends_on.clone();
        for rule in &self.ingress {
            if let Source::Group(GroupRef {
                resource: Some(r), ..
            }) = &rule.source
                && !deps.contains(r)
                && *r != self.resource_id()
            {
                deps.push(r.clone());
            }
        }
        deps
    }

    /// One `DescribeSecurityGroups`: this group and the source groups created in
    /// the same plan, by name within the VPC (or, while the VPC id is not known
    /// yet, among the environment's groups).
    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn observe(&self, ec2: &Client, _mode: Mode) -> Result<Option<ObservedGroup>, Error> {
        let rid = self.resource_id();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut lookup: BTreeSet<String> = BTreeSet::from([self.name.clone()]);
        for rule in &self.ingress {
            if let Source::Group(g) = &rule.source {
                match &g.id {
                    Ref::Known(id) => {
                        names.insert(id.clone(), g.name.clone());
                    }
                    Ref::Output(_) => {
                        lookup.insert(g.name.clone());
                    }
                }
            }
        }
        let mut filters = vec![filter("group-name", lookup)];
        match self.vpc.known() {
            Some(vpc) => filters.push(filter("vpc-id", [vpc.clone()])),
            None => filters.extend(ec2_owner_filters(&Ownership::new(
                self.owner.environment.clone(),
            ))),
        }
        let out = ec2
            .describe_security_groups()
            .set_filters(Some(filters))
            .send()
            .await
            .context(&rid, "DescribeSecurityGroups")?;
        let groups = out.security_groups();
        for g in groups {
            if let (Some(id), Some(name)) = (g.group_id(), g.group_name())
                && name != self.name
            {
                names.insert(id.to_string(), name.to_string());
            }
        }
        let mine: Vec<_> = groups
            .iter()
            .filter(|g| g.group_name() == Some(self.name.as_str()))
            .collect();
        let group = match mine.as_slice() {
            [] => return Ok(None),
            [one] => *one,
            many => {
                return Err(Error::Unexpected {
                    resource: rid,
                    operation: "DescribeSecurityGroups".into(),
                    detail: format!(
                        "{} security groups are named {} ({}); delete the extra ones",
                        many.len(),
                        self.name,
                        many.iter()
                            .filter_map(|g| g.group_id())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        };
        let id = returned_id(&rid, "DescribeSecurityGroups", group.group_id())?;
        ensure_owned(
            &self.owner,
            &rid,
            &format!("security group {id} ({})", self.name),
            ec2_tag_pairs(group.tags()),
        )?;
        Ok(Some(ObservedGroup {
            rules: observed_rules(group.ip_permissions(), &names),
            id,
        }))
    }

    fn diff(&self, observed: Option<&ObservedGroup>) -> Result<Change, Error> {
        let observed = observed.map(|g| fields(g.rules.iter().map(|r| r.text.clone())));
        Ok(Change::compute(
            &fields(self.normalized_rules()),
            observed.as_ref(),
            &[],
        ))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn apply(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: Option<&ObservedGroup>,
    ) -> Result<(), Error> {
        let rid = self.resource_id();
        let id = match observed {
            None => {
                let vpc = self.vpc.resolve(ctx)?;
                let out = ec2
                    .create_security_group()
                    .group_name(&self.name)
                    .description(&self.description)
                    .vpc_id(&vpc)
                    .tag_specifications(ec2_tag_spec(
                        ResourceType::SecurityGroup,
                        &self.owner,
                        &self.tags,
                        &self.name,
                    ))
                    .send()
                    .await;
                // A retried create whose first attempt was applied meets its own group
                // (looked up in its VPC, ownership checked).
                let mut in_vpc = self.clone();
                in_vpc.vpc = Ref::Known(vpc.clone());
                let found = || in_vpc.observe(ec2, Mode::Apply);
                let is_duplicate =
                    |e: &CreateSecurityGroupError| e.code() == Some("InvalidGroup.Duplicate");
                match create_or_existing(ctx, &rid, "CreateSecurityGroup", out, is_duplicate, found)
                    .await?
                {
                    Created::New(out) => {
                        let id = returned_id(&rid, "CreateSecurityGroup", out.group_id())?;
                        ctx.progress(format!(
                            "created security group {id} ({}) in {vpc}",
                            self.name
                        ));
                        let empty = ObservedGroup {
                            id: id.clone(),
                            rules: Vec::new(),
                        };
                        let (add, _) = self.rule_changes(&empty);
                        self.authorize(ec2, ctx, &id, &add).await?;
                        id
                    }
                    Created::Existing(found) => self.converge(ec2, ctx, &found).await?,
                }
            }
            Some(found) => self.converge(ec2, ctx, found).await?,
        };
        ctx.set(&self.group_id_key(), id);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.resource_id()))]
    async fn destroy(
        &self,
        ec2: &Client,
        ctx: &StepContext,
        observed: &ObservedGroup,
    ) -> Result<(), Error> {
        let rid = self.resource_id();
        let (rid_ref, id) = (&rid, observed.id.as_str());
        delete_waiting(
            ctx,
            &rid,
            &format!("security group {} ({id})", self.name),
            self.delete_wait,
            GONE,
            &[DEPENDENCY_VIOLATION],
            || async move {
                ec2.delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .context(rid_ref, "DeleteSecurityGroup")
                    .map(drop)
            },
        )
        .await?;
        ctx.progress(format!("deleted security group {} ({id})", self.name));
        Ok(())
    }
}

impl<C> Kind<C> for SecurityGroupSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = ObservedGroup;

    fn id(&self) -> ResourceId {
        self.resource_id()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps()
    }

    /// The VPC id, when the VPC's plan knows it (it exists): the group is then
    /// looked up within its VPC. (Source groups are not waited for: two groups
    /// whose rules name each other would wait for each other; they are looked
    /// up by name in the same call instead.)
    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedGroup>, Error>> {
        Box::pin(async move {
            let mut resolved = self.clone();
            if let Some(vpc) = round.get_ref(&self.vpc).await {
                resolved.vpc = Ref::Known(vpc);
            }
            resolved.observe(&clients.as_ref().ec2, mode).await
        })
    }

    fn diff(&self, observed: Option<&ObservedGroup>, _: &Resolved) -> Result<Change, Error> {
        self.diff(observed)
    }

    fn outputs(
        &self,
        observed: Option<&ObservedGroup>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new().with(&self.group_id_key(), &o.id)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a ObservedGroup>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(&clients.as_ref().ec2, ctx, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        observed: &'a ObservedGroup,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.destroy(&clients.as_ref().ec2, ctx, observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Ident {
        "prod".parse().unwrap()
    }

    fn port(p: u16) -> Port {
        Port::new(p).unwrap()
    }

    #[test]
    fn rules_normalize_to_protocol_port_and_source() {
        let lb = load_balancer_sg(&env(), "shared", &DEFAULT_LB_PORTS, &[]);
        assert_eq!(lb.name, "prod-shared-lb");
        assert_eq!(
            lb.normalized_rules(),
            ["tcp:443 from 0.0.0.0/0", "tcp:80 from 0.0.0.0/0"]
        );
        let range = IngressRule::tcp(
            PortRange::new(port(8000), port(8100)).unwrap(),
            Source::Cidr("10.0.0.0/16".parse().unwrap()),
        );
        assert_eq!(range.normalized(), "tcp:8000-8100 from 10.0.0.0/16");
        assert!(PortRange::new(port(2), port(1)).is_err());
    }

    #[test]
    fn the_task_group_accepts_only_its_load_balancer_on_the_container_port() {
        let lb = load_balancer_sg(&env(), "shared", &DEFAULT_LB_PORTS, &[]);
        let task = task_sg(&env(), &"web".parse().unwrap(), port(8080), &lb.as_source());
        assert_eq!(task.normalized_rules(), ["tcp:8080 from sg:prod-shared-lb"]);
        assert_eq!(task.owner.app.as_ref().map(Ident::as_str), Some("web"));
        let deps: Vec<String> = task.deps().iter().map(ToString::to_string).collect();
        assert_eq!(deps, ["ec2:vpc prod", "ec2:security-group prod-shared-lb"]);
    }

    #[test]
    fn the_api_gateway_path_chains_vpc_link_to_nlb_to_tasks() {
        let path = api_gateway_path(&env(), &"api".parse().unwrap(), &[port(80)], port(3000));
        assert!(path.vpc_link.ingress.is_empty());
        assert_eq!(
            path.nlb.normalized_rules(),
            ["tcp:80 from sg:prod-vpc-link"]
        );
        assert_eq!(
            path.task.normalized_rules(),
            ["tcp:3000 from sg:prod-api-nlb"]
        );
        assert!(path.task.deps().contains(&path.nlb.resource_id()));
        assert!(path.nlb.deps().contains(&path.vpc_link.resource_id()));
    }

    #[test]
    fn observed_permissions_split_into_named_single_source_rules() {
        let p = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-2").build())
            .build();
        let all = IpPermission::builder().ip_protocol("-1").build();
        let names = BTreeMap::from([("sg-1".to_string(), "prod-shared-lb".to_string())]);
        let rules = observed_rules(&[p, all], &names);
        let texts: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "tcp:443 from 0.0.0.0/0",
                "tcp:443 from sg:prod-shared-lb",
                "tcp:443 from sg:sg-2"
            ]
        );
        // Each observed rule revokes exactly its own source.
        assert_eq!(rules[1].permission().user_id_group_pairs().len(), 1);
        assert!(rules[1].permission().ip_ranges().is_empty());
    }

    #[test]
    fn names_and_descriptions_are_validated_before_any_aws_call() {
        let vpc = || Ref::Known("vpc-1".to_string());
        let owner = || Ownership::new(env());
        assert_eq!(
            SecurityGroupSpec::new("sg-web", "d", vpc(), owner())
                .unwrap_err()
                .field,
            "security group name"
        );
        assert_eq!(
            SecurityGroupSpec::new("", "d", vpc(), owner())
                .unwrap_err()
                .field,
            "security group name"
        );
        assert_eq!(
            SecurityGroupSpec::new("a", "é", vpc(), owner())
                .unwrap_err()
                .field,
            "security group description"
        );
        assert!(SecurityGroupSpec::new("prod-web", "web tasks (8080)", vpc(), owner()).is_ok());
    }
}
