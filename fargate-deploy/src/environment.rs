//! An [`Environment`]: what several apps share — the network (a new VPC or an
//! adopted one), the ECS cluster (new or adopted), and shared load balancers
//! (new, or an adopted ALB ([`AdoptAlb`]) and NLB ([`AdoptNlb`])).

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::tags::Ownership;
use fargate_core::{
    Cidr, EcsName, Error, Ident, InvalidValue, Mode, Ref, Resource, ResourceId, Tags,
};
use fargate_net::network::{AdoptSpec, Egress, Network, NetworkSpec};
use typed_builder::TypedBuilder;

use crate::Clients;
use crate::cluster::{ClusterSpec, ContainerInsights, cluster_id};
use crate::deployer::App;
pub use crate::shared_lb::{AdoptAlb, AdoptNlb};
use crate::shared_lb::{SharedLb, SharedLbOptions};

/// An existing VPC and subnets to deploy into; never modified or deleted.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AdoptNetwork {
    /// The VPC id (`vpc-...`).
    pub vpc_id: String,
    /// Public subnets (at least two availability zones).
    pub public_subnet_ids: Vec<String>,
    /// Private subnets; when given, tasks run there (they need a NAT gateway
    /// or VPC endpoints to pull images).
    #[serde(default)]
    pub private_subnet_ids: Vec<String>,
}

/// The raw description of an environment, checked by `build()`.
///
/// ```
/// use fargate_deploy::Environment;
/// let env = Environment::builder().name("staging").build()?;
/// assert_eq!(env.name().as_str(), "staging");
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// It deserializes from JSON with the same field names and defaults (unknown fields are
/// refused), e.g. `{"name": "staging", "egress": "shared-nat"}`.
#[derive(Debug, Clone, TypedBuilder, serde::Deserialize, schemars::JsonSchema)]
#[builder(build_method(into = Result<Environment, Error>))]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// The environment's name: lowercase letters, digits and hyphens.
    #[builder(setter(into))]
    pub name: String,
    /// CIDR of a new VPC (default `10.0.0.0/16`).
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub vpc_cidr: Option<String>,
    /// How tasks reach the internet to pull images and ship logs (default:
    /// public subnets with public IPs, inbound only from the load balancer).
    #[builder(default)]
    #[serde(default)]
    pub egress: Egress,
    /// Use an existing VPC and subnets instead of creating a network.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub adopt_network: Option<AdoptNetwork>,
    /// Use an existing ECS cluster by name instead of creating one.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub adopt_cluster: Option<String>,
    /// CloudWatch Container Insights on the cluster (default on).
    #[builder(default = default_container_insights())]
    #[serde(default = "default_container_insights")]
    pub container_insights: bool,
    /// Tags added to everything the environment creates.
    #[builder(default)]
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// An ACM certificate for the shared ALB: its apps are then served on HTTPS
    /// 443 and HTTP 80 redirects there. With `adopt_alb` no listener is made:
    /// set it when the adopted listener is HTTPS, so the apps' URLs say `https`.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub https_certificate_arn: Option<String>,
    /// Networks allowed to reach the shared ALB (default: anywhere, `0.0.0.0/0`).
    #[builder(default)]
    #[serde(default)]
    pub alb_ingress_cidrs: Vec<String>,
    /// Put the FrontendApps' rules on an existing ALB and listener instead of
    /// creating a shared ALB.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub adopt_alb: Option<AdoptAlb>,
    /// Put the BackendApis' listeners on an existing NLB (and, optionally, reach it
    /// through an existing VPC link) instead of creating a shared NLB.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub adopt_nlb: Option<AdoptNlb>,
    /// A private DNS namespace (AWS Cloud Map) in the environment's VPC, e.g.
    /// `prod.internal`: an app with `discoverable` is then reachable from the other apps at
    /// `<app>.<namespace>` (one `A` record per running task, kept current by ECS).
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub private_namespace: Option<String>,
    /// A domain whose public Route 53 hosted zone you own, e.g. `example.com` (the zone is
    /// found by name, and never created, changed or deleted). Without
    /// `https_certificate_arn`, fargate-rs requests an ACM certificate for the domain and
    /// `*.<domain>` (DNS validation, records in the zone) and the shared ALB serves HTTPS
    /// with it (not with `adopt_alb`, whose listener is not ours: give
    /// `https_certificate_arn` there); a FrontendApp's `domain` (this one or a name under it)
    /// then gets an alias record to the ALB and the URL `https://<domain>`.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub domain: Option<String>,
    /// The id of the hosted zone of `domain` (`Z…`), when several public zones have its name.
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
}

/// Container Insights is on unless turned off.
fn default_container_insights() -> bool {
    true
}

/// A validated environment. Build it with [`Environment::builder`].
#[derive(Debug, Clone)]
pub struct Environment {
    name: Ident,
    network: Network,
    cluster: ClusterSpec,
    tags: Tags,
    shared_lb: SharedLb,
    namespace: Option<crate::discovery::NamespaceSpec>,
    domain: Option<DomainParts>,
    /// The apps registered with an EBS infrastructure role (from the app registry, for
    /// one plan; see [`crate::registry::Registration::volume_role`]).
    volume_roles: std::collections::BTreeSet<Ident>,
}

/// The resources of an environment's domain: the adopted zone, and the certificate with its
/// validation records when fargate-rs requests it.
#[derive(Debug, Clone)]
struct DomainParts {
    name: crate::discovery::DnsName,
    zone: crate::domain::HostedZoneSpec,
    certificate: Option<(
        crate::domain::CertificateSpec,
        crate::domain::ValidationRecordsSpec,
    )>,
}

impl From<EnvironmentSpec> for Result<Environment, Error> {
    fn from(spec: EnvironmentSpec) -> Self {
        Environment::new(spec)
    }
}

impl Environment {
    /// Start describing an environment.
    pub fn builder() -> EnvironmentSpecBuilder {
        EnvironmentSpec::builder()
    }

    /// Validate a spec (no AWS calls).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the bad field.
    pub fn new(spec: EnvironmentSpec) -> Result<Self, Error> {
        let name: Ident = spec
            .name
            .parse()
            .map_err(|e: InvalidValue| e.in_field("environment.name"))?;
        let tags =
            Tags::try_from_iter(spec.tags.clone()).map_err(|e| e.in_field("environment.tags"))?;
        let network = match &spec.adopt_network {
            Some(a) => {
                let mut adopt =
                    AdoptSpec::by_ids(name.clone(), a.vpc_id.clone(), a.public_subnet_ids.clone());
                if !a.private_subnet_ids.is_empty() {
                    adopt = adopt
                        .private_subnets(a.private_subnet_ids.clone())
                        .tasks_in_private_subnets();
                }
                Network::adopt(adopt)?
            }
            None => {
                let mut n = NetworkSpec::new(name.clone())
                    .egress(spec.egress)
                    .tags(tags.clone());
                if let Some(c) = &spec.vpc_cidr {
                    n = n.cidr(Cidr::vpc(c).map_err(|e| e.in_field("environment.vpc_cidr"))?);
                }
                Network::create(n)?
            }
        };
        let vpc_cidr = network.vpc_cidr();
        let owner = Ownership::new(name.clone()).with_component("cluster");
        let cluster = match &spec.adopt_cluster {
            Some(c) => ClusterSpec::adopt(
                EcsName::new(c.clone()).map_err(|e| e.in_field("environment.adopt_cluster"))?,
            ),
            None => ClusterSpec::for_environment(&name, owner)
                .container_insights(if spec.container_insights {
                    ContainerInsights::Enabled
                } else {
                    ContainerInsights::Disabled
                })
                .tags(tags.clone()),
        };
        let domain = match &spec.domain {
            Some(d) => {
                let d = crate::domain::parse_domain("environment.domain", d)?;
                let certificate =
                    (spec.https_certificate_arn.is_none() && spec.adopt_alb.is_none()).then(|| {
                        (
                            crate::domain::CertificateSpec::new(&name, d.clone(), tags.clone()),
                            crate::domain::ValidationRecordsSpec::new(d.clone()),
                        )
                    });
                Some(DomainParts {
                    zone: crate::domain::HostedZoneSpec::new(
                        d.clone(),
                        spec.hosted_zone_id.clone(),
                    ),
                    name: d,
                    certificate,
                })
            }
            None => {
                if let Some(z) = &spec.hosted_zone_id {
                    return Err(InvalidValue::new(
                        "environment.hosted_zone_id",
                        z,
                        "a hosted zone id is only used with environment.domain",
                        "environment.domain set too, or no hosted_zone_id",
                    )
                    .into());
                }
                None
            }
        };
        let managed_certificate = domain.as_ref().and_then(|d| {
            d.certificate.as_ref().map(|(_, v)| {
                (
                    Ref::Output(v.validated_arn()),
                    crate::domain::validation_resource(&d.name),
                )
            })
        });
        let shared_lb = SharedLb::new(
            &name,
            &network,
            &tags,
            SharedLbOptions {
                https_certificate_arn: spec.https_certificate_arn.as_deref(),
                managed_certificate,
                alb_ingress_cidrs: &spec.alb_ingress_cidrs,
                adopt_alb: spec.adopt_alb.as_ref(),
                adopt_nlb: spec.adopt_nlb.as_ref(),
                vpc_cidr,
            },
        )?;
        let namespace = match &spec.private_namespace {
            Some(n) => Some(crate::discovery::NamespaceSpec::new(
                &name,
                n.parse()
                    .map_err(|e: InvalidValue| e.in_field("environment.private_namespace"))?,
                network.vpc_ref(),
                Some(network.vpc_resource_id()),
                tags.clone(),
            )),
            None => None,
        };
        Ok(Self {
            name,
            network,
            cluster,
            tags,
            shared_lb,
            namespace,
            domain,
            volume_roles: std::collections::BTreeSet::new(),
        })
    }

    /// This environment as planned with the registry's apps that have an EBS
    /// infrastructure role.
    pub(crate) fn with_volume_roles(&self, apps: std::collections::BTreeSet<Ident>) -> Environment {
        let mut env = self.clone();
        env.volume_roles = apps;
        env
    }

    /// Whether the registry says `app` has (or had) an EBS infrastructure role.
    pub(crate) fn had_volume_role(&self, app: &Ident) -> bool {
        self.volume_roles.contains(app)
    }

    /// The environment's name.
    pub fn name(&self) -> &Ident {
        &self.name
    }

    /// The environment's private DNS namespace (Cloud Map), if it has one.
    pub fn private_namespace(&self) -> Option<&crate::discovery::DnsName> {
        self.namespace.as_ref().map(|n| n.name())
    }

    /// The environment's domain (its public hosted zone's name), if it has one.
    pub fn domain(&self) -> Option<&crate::discovery::DnsName> {
        self.domain.as_ref().map(|d| &d.name)
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The cluster's name.
    pub fn cluster_name(&self) -> &EcsName {
        self.cluster.name()
    }

    /// The cluster's resource id.
    pub fn cluster_id(&self) -> ResourceId {
        cluster_id(self.cluster.name())
    }

    /// The environment's user tags.
    pub fn tags(&self) -> &Tags {
        &self.tags
    }

    /// The subnets tasks run in (known after the network step).
    pub fn task_subnets(&self) -> Ref<Vec<String>> {
        Ref::Output(self.network.task_subnet_ids_key())
    }

    /// The VPC id (known after the network step).
    pub fn vpc_id(&self) -> Ref<String> {
        Ref::Output(self.network.vpc_id_key())
    }

    /// The resource every task-running resource waits for (tasks can reach the internet).
    pub fn egress_id(&self) -> ResourceId {
        self.network.egress_resource_id()
    }

    /// Notes for the plan (network layout and egress choice).
    pub fn notes(&self) -> Vec<String> {
        vec![self.network.describe()]
    }

    /// The shared load balancers (ALB, NLB, VPC link).
    pub(crate) fn shared_lb(&self) -> &SharedLb {
        &self.shared_lb
    }

    /// The same environment for one plan in which `rules` go on the shared load
    /// balancers' listeners: each app's rule then knows the others of its listener
    /// (see [`fargate_net::listener::ListenerRules`]).
    pub(crate) fn with_listener_rules(
        &self,
        rules: &[fargate_net::listener::ListenerRuleSpec],
    ) -> Environment {
        let mut env = self.clone();
        env.shared_lb = self.shared_lb.with_listener_rules(rules);
        env
    }

    /// The environment's own resources, for deploying these apps: the network,
    /// the cluster, and the shared ALB and NLB + VPC link when an app needs them.
    pub fn resources(&self, apps: &[&dyn App]) -> Vec<Arc<dyn Resource<Clients>>> {
        self.resources_for(apps, Mode::Apply)
    }

    /// Like [`resources`](Self::resources); for [`Mode::Destroy`] every shared
    /// load balancer fargate-rs may have made is included, whatever the apps.
    pub fn resources_for(&self, apps: &[&dyn App], mode: Mode) -> Vec<Arc<dyn Resource<Clients>>> {
        let needs: Vec<crate::Needs> = apps.iter().map(|a| a.needs()).collect();
        self.resources_for_needs(&needs, mode)
    }

    /// The environment's own resources for apps with these needs (the apps of
    /// one call and those the environment's registry lists, see [`crate::registry`]).
    pub fn resources_for_needs(
        &self,
        needs: &[crate::Needs],
        mode: Mode,
    ) -> Vec<Arc<dyn Resource<Clients>>> {
        let mut out = self.network.resources::<Clients>();
        out.push(fargate_core::resource::node(self.cluster.clone()));
        if let Some(ns) = &self.namespace {
            out.push(fargate_core::resource::node(ns.clone()));
        }
        out.extend(self.shared_lb.resources(needs, mode));
        // The zone, certificate and validation records serve the ALB's apps only.
        if let Some(d) = &self.domain
            && (mode == Mode::Destroy || needs.iter().any(|n| n.alb))
        {
            out.push(fargate_core::resource::node(d.zone.clone()));
            if let Some((cert, validation)) = &d.certificate {
                out.push(fargate_core::resource::node(cert.clone()));
                out.push(fargate_core::resource::node(validation.clone()));
            }
        }
        out
    }
}
