//! [`BackendApi`]: an API behind API Gateway — a [`ContainerService`] plus its
//! target group and TCP listener on the environment's internal NLB, and an
//! HTTP API (VPC link, `HTTP_PROXY` integration to the listener, routes,
//! `$default` stage, optional JWT authorizer).

use std::sync::Arc;

use fargate_core::exec::OutputKey;
use fargate_core::tags::Ownership;
use fargate_core::{Error, Ident, InvalidValue, Port, Ref, Resource, ResourceId, Tags};
use fargate_net::api_gateway::{DEFAULT_ROUTE, HttpApiSpec, VPC_LINK_KIND, VpcLinkRef};
use fargate_net::listener::{LISTENER_KIND, ListenerRef, ListenerSpec};
use fargate_net::security_group::IngressRule;
use fargate_net::target_group::{HealthCheck, TargetGroupSpec, TargetProtocol};
use typed_builder::TypedBuilder;

use super::common::ShiftParts;
use super::common::defaults;
use super::container_service::{ContainerService, ContainerServiceSpec, Exposure};
use crate::deployer::App;
use crate::deployment::Deployment;
use crate::environment::Environment;
use crate::service::{LbAttachment, ServiceSpec};
use crate::shared_lb::{Needs, TargetSettings, stable_hash};
use crate::{AwsContext, Clients};

/// The NLB listener ports chosen by default: `10000 + hash(app name) % 10000`.
pub const DEFAULT_NLB_PORTS: std::ops::RangeInclusive<u16> = 10000..=19999;

/// API Gateway stage throttling: a burst and a steady rate of requests per second.
#[derive(
    Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Throttling {
    /// Requests allowed at once.
    pub burst_limit: u32,
    /// Requests per second on average.
    pub rate_limit: f64,
}

impl Throttling {
    /// A burst of `burst_limit` requests, `rate_limit` per second on average.
    pub fn new(burst_limit: u32, rate_limit: f64) -> Self {
        Self {
            burst_limit,
            rate_limit,
        }
    }
}

/// A JWT authorizer: the issuer URL and the audiences a token may name.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// The issuer URL (`https://...`).
    pub issuer: String,
    /// The accepted audiences (at least one).
    pub audiences: Vec<String>,
}

impl Jwt {
    /// Tokens issued by `issuer` for one of `audiences`.
    pub fn new<A: Into<String>>(
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = A>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
        }
    }
}

/// What a backend API is, as given; [`BackendApi::builder`] checks it at
/// `build()` (no AWS calls).
///
/// ```
/// use fargate_deploy::{BackendApi, ContainerService, Jwt, Throttling};
/// let api = BackendApi::builder()
///     .service(
///         ContainerService::builder()
///             .name("orders")
///             .image("public.ecr.aws/nginx/nginx:1.27")
///             .port(8080)
///             .build()?,
///     )
///     .routes(vec!["GET /orders".into(), "POST /orders".into()])
///     .throttling(Throttling::new(100, 50.0))
///     .jwt(Jwt::new("https://auth.example.com/", ["orders"]))
///     .build()?;
/// assert!((10000..=19999).contains(&api.nlb_listener_port().get()));
///
/// let bad = BackendApi::builder()
///     .service(ContainerService::builder().name("orders").image("nginx").port(8080).build()?)
///     .routes(vec!["FETCH /orders".into()])
///     .build();
/// assert!(bad.unwrap_err().to_string().contains("orders.routes"));
/// # Ok::<(), fargate_core::Error>(())
/// ```
///
/// It deserializes from JSON: the service's fields ([`ContainerServiceSpec`]) and these, in one
/// object (unknown fields are refused), with the same defaults.
#[derive(Debug, Clone, TypedBuilder, serde::Deserialize, schemars::JsonSchema)]
#[builder(build_method(into = Result<BackendApi, Error>))]
#[serde(deny_unknown_fields)]
pub struct BackendApiSpec {
    /// The service; its `port` is where the NLB sends traffic (required).
    #[serde(flatten)]
    #[schemars(with = "ContainerServiceSpec")]
    pub service: ContainerService,
    /// Route keys: `$default` (the default: everything) or `METHOD /path`,
    /// like `GET /orders/{id}` or `ANY /orders/{proxy+}`.
    #[builder(default = default_routes())]
    #[serde(default = "default_routes")]
    pub routes: Vec<String>,
    /// Stage throttling for every route (default: API Gateway's account limits, 5000
    /// and 10000).
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub throttling: Option<Throttling>,
    /// Require a JWT on every route.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub jwt: Option<Jwt>,
    /// The app's listener port on the environment's NLB (default: derived
    /// from the app's name in 10000–19999). Each BackendApi of an environment
    /// needs its own.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub nlb_listener_port: Option<u16>,
    /// An HTTP health check of this path (default: a TCP connection check).
    #[builder(default, setter(strip_option, into))]
    #[serde(default)]
    pub health_check_path: Option<String>,
    /// Seconds a task drains before it is deregistered (default 30; AWS's own is 300).
    #[builder(default = defaults::deregistration_delay())]
    #[serde(default = "defaults::deregistration_delay")]
    pub deregistration_delay: u32,
    /// Seconds after a task starts during which failing load balancer health
    /// checks do not stop it (default 60).
    #[builder(default = defaults::health_check_grace_period())]
    #[serde(default = "defaults::health_check_grace_period")]
    pub health_check_grace_period: u32,
    /// How a new revision rolls out: [`Deployment::blue_green`], [`Deployment::linear`],
    /// [`Deployment::canary`] or [`Deployment::rolling`] (default: the service's own, rolling).
    /// Blue/green, linear and canary add the app's alternate target group (same health
    /// check), forward the NLB listener to both groups (ECS then owns the weights) and
    /// create the role ECS uses to move the traffic.
    #[builder(default, setter(strip_option))]
    #[serde(default)]
    pub deployment: Option<Deployment>,
}

/// Everything: `$default`.
fn default_routes() -> Vec<String> {
    vec![DEFAULT_ROUTE.to_string()]
}

/// An API behind API Gateway: HTTP API → VPC link → the environment's internal
/// NLB → the tasks. Build with [`BackendApi::builder`] and deploy with
/// [`crate::Deployer`]; the report's `<app>.url` is the invoke URL.
///
/// Every security group on the way carries the rule it needs: the NLB's group
/// accepts the app's listener port from the VPC link's group, the tasks' group
/// the container port from the NLB's group only. With an adopted NLB
/// ([`crate::environment::AdoptNlb`]) the listener goes on it, and the tasks
/// accept the container port from its security groups (or, without any, from
/// the VPC's CIDR); the NLB and its groups are left as they are.
#[derive(Debug, Clone)]
pub struct BackendApi {
    service: ContainerService,
    port: Port,
    listener_port: Port,
    routes: Vec<String>,
    throttling: Option<Throttling>,
    jwt: Option<Jwt>,
    target: TargetSettings,
    grace_period: u32,
    deployment: Deployment,
}

impl From<BackendApiSpec> for Result<BackendApi, Error> {
    fn from(spec: BackendApiSpec) -> Self {
        BackendApi::new(spec)
    }
}

/// The app's load balancer and API parts in an environment.
struct Parts {
    shift: Option<ShiftParts>,
    target_group: TargetGroupSpec,
    listener: ListenerSpec,
    api: HttpApiSpec,
    exposure: Exposure,
}

/// The default NLB listener port of `app`.
fn default_listener_port(app: &Ident) -> u16 {
    let span = u64::from(DEFAULT_NLB_PORTS.end() - DEFAULT_NLB_PORTS.start()) + 1;
    let offset = u16::try_from(stable_hash(app.as_str()) % span).unwrap_or(0);
    DEFAULT_NLB_PORTS.start() + offset
}

impl BackendApi {
    /// Start describing a backend API.
    pub fn builder() -> BackendApiSpecBuilder {
        BackendApiSpec::builder()
    }

    /// Validate a spec (no AWS calls).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field: `<app>.port` (missing),
    /// `<app>.routes`, `<app>.throttling`, `<app>.jwt.issuer`,
    /// `<app>.jwt.audience`, `<app>.nlb_listener_port`,
    /// `<app>.health_check_path`, `<app>.deregistration_delay`.
    pub fn new(spec: BackendApiSpec) -> Result<Self, Error> {
        let name = spec.service.name().clone();
        let port = spec.service.port().ok_or_else(|| {
            InvalidValue::new(
                format!("{name}.port"),
                "",
                "a BackendApi needs the port its container listens on (the load balancer sends traffic there)",
                "a port from 1 to 65535",
            )
        })?;
        let listener_port = Port::new(
            spec.nlb_listener_port
                .unwrap_or_else(|| default_listener_port(&name)),
        )
        .map_err(|e| e.in_field(format!("{name}.nlb_listener_port")))?;
        let health_check = match &spec.health_check_path {
            Some(path) => HealthCheck::http(path)
                .map_err(|e| e.in_field(format!("{name}.health_check_path")))?,
            None => HealthCheck::tcp(),
        };
        let target = TargetSettings {
            protocol: TargetProtocol::Tcp,
            health_check,
            deregistration_delay: spec.deregistration_delay,
        };
        target.validate(&name, port)?;
        let deployment = spec
            .deployment
            .unwrap_or_else(|| spec.service.deployment().clone());
        crate::deployment::validate_for_app(&deployment, name.as_str(), true)?;
        let app = Self {
            service: spec.service,
            port,
            listener_port,
            routes: spec.routes,
            throttling: spec.throttling,
            jwt: spec.jwt,
            target,
            grace_period: spec.health_check_grace_period,
            deployment,
        };
        app.validate_api()?;
        Ok(app)
    }

    /// Build the HTTP API once with placeholder references.
    fn validate_api(&self) -> Result<(), InvalidValue> {
        let env: Ident = "validate".parse()?;
        let link = VpcLinkRef {
            id: ResourceId::new(VPC_LINK_KIND, "validate/vpc-link"),
            link_id: Ref::Known("validate".into()),
            name: "validate".into(),
            owner: Ownership::new(env.clone()),
        };
        let listener = ListenerRef {
            id: ResourceId::new(LISTENER_KIND, "validate/nlb"),
            arn: Ref::Known("validate".into()),
            lookup: None,
        };
        self.api(
            &env,
            link,
            listener,
            Ownership::new(env.clone()),
            &Tags::new(),
        )
        .map(|_| ())
    }

    /// The HTTP API; its errors name this app's fields.
    fn api(
        &self,
        env: &Ident,
        link: VpcLinkRef,
        listener: ListenerRef,
        owner: Ownership,
        tags: &Tags,
    ) -> Result<HttpApiSpec, InvalidValue> {
        let name = self.name();
        let in_app = |e: InvalidValue| {
            let field = match e.field.strip_prefix("api.") {
                Some("route") | Some("routes") => "routes".to_string(),
                Some(rest) => rest.to_string(),
                None => e.field.clone(),
            };
            e.in_field(format!("{name}.{field}"))
        };
        let mut api = HttpApiSpec::new(env, name, link, listener, owner)
            .routes(&self.routes)
            .map_err(in_app)?;
        if let Some(Throttling {
            burst_limit,
            rate_limit,
        }) = self.throttling
        {
            api = api.throttling(burst_limit, rate_limit).map_err(in_app)?;
        }
        if let Some(Jwt {
            issuer,
            audiences: audience,
        }) = &self.jwt
        {
            api = api
                .jwt_authorizer(issuer, audience.clone())
                .map_err(in_app)?;
        }
        Ok(api.tags(tags.clone()))
    }

    /// The app's name.
    pub fn name(&self) -> &Ident {
        self.service.name()
    }

    /// The container service inside.
    pub fn container_service(&self) -> &ContainerService {
        &self.service
    }

    /// The app's listener port on the environment's NLB (given, or the default).
    pub fn nlb_listener_port(&self) -> Port {
        self.listener_port
    }

    fn parts(&self, env: &Environment) -> Result<Parts, Error> {
        let shared = env.shared_lb();
        let name = self.name();
        let tags = &self.service.settings().tags;
        let target_group = self.target.target_group(
            env.name(),
            name,
            self.port,
            env.vpc_id(),
            env.network().vpc_resource_id(),
            tags,
        )?;
        let listener = ListenerSpec::tcp(
            shared.nlb_load_balancer(),
            self.listener_port,
            target_group.reference(),
            self.service.settings().ownership(env, "nlb-listener"),
        )
        .tags(tags.clone());
        let production = (Ref::Output(listener.arn()), listener.reference().id);
        let shift = self.service.settings().traffic_shift_for(
            &self.deployment,
            env,
            &self.target,
            self.port,
            production,
        )?;
        let listener = match &shift {
            Some(s) => listener.with_alternate_target_group(s.alternate.reference()),
            None => listener,
        };
        let api = self.api(
            env.name(),
            shared.vpc_link(),
            listener.reference(),
            self.service.settings().ownership(env, "api"),
            tags,
        )?;
        let (sources, sources_after) = shared.nlb_sources();
        let exposure = Exposure {
            ingress: sources
                .into_iter()
                .map(|source| IngressRule::tcp(self.port, source))
                .collect(),
            sg_after: sources_after,
            load_balancers: vec![LbAttachment {
                target_group: Ref::Output(target_group.arn()),
                target_group_id: target_group.id().clone(),
                container_name: name.to_string(),
                container_port: self.port.get(),
            }],
            grace_period: Some(self.grace_period),
            // ECS refuses a target group no listener uses yet.
            after: vec![listener.reference().id],
            deployment: Some(self.deployment.clone()),
            traffic_shift: shift.as_ref().map(|s| s.shift.clone()),
        };
        Ok(Parts {
            shift,
            target_group,
            listener,
            api,
            exposure,
        })
    }
}

impl App for BackendApi {
    fn name(&self) -> &Ident {
        self.service.name()
    }

    fn task(&self, env: &Environment) -> Option<crate::deployer::TaskInfo> {
        App::task(&self.service, env)
    }

    fn preflight(&self, env: &Environment) -> Option<crate::preflight::Requirements> {
        App::preflight(&self.service, env)
    }

    fn service_connect_claims(&self, env: &Environment) -> Vec<crate::service_connect::Claim> {
        self.service.connect_claims(env)
    }

    fn cost_inputs(&self, env: &Environment) -> Vec<fargate_core::cost::TaskCost> {
        App::cost_inputs(&self.service, env)
    }

    fn resources(
        &self,
        env: &Environment,
        aws: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        let Parts {
            shift,
            target_group,
            listener,
            api,
            exposure,
        } = self.parts(env)?;
        let service_id = self
            .service
            .service_spec(env, None, &exposure)
            .resource_id();
        let orphans = target_group.orphans(
            env.shared_lb().nlb_load_balancer(),
            [listener.reference().id, service_id],
        );
        let settings = self.service.settings();
        let production = (Ref::Output(listener.arn()), listener.reference().id);
        let deployment = settings.deployment_resources(env, aws, shift, || {
            settings.traffic_shift(env, &self.target, self.port, production)
        })?;
        let mut out = self.service.resources_with(env, aws, exposure)?;
        out.push(fargate_core::resource::node(target_group));
        out.push(fargate_core::resource::node(listener));
        out.extend(deployment);
        out.push(fargate_core::resource::node(api));
        out.push(fargate_core::resource::node(orphans));
        Ok(out)
    }

    fn service(&self, env: &Environment) -> Option<ServiceSpec> {
        match self.parts(env) {
            Ok(p) => Some(self.service.service_spec(env, None, &p.exposure)),
            Err(_) => App::service(&self.service, env),
        }
    }

    fn output_keys(&self, env: &Environment) -> Vec<(String, OutputKey<String>, String)> {
        let mut keys = App::output_keys(&self.service, env);
        if let Ok(p) = self.parts(env) {
            keys.push((
                format!("{}.url", self.name()),
                p.api.invoke_url(),
                "{}".to_string(),
            ));
        }
        keys
    }

    fn needs(&self) -> Needs {
        Needs::nlb_listener(self.listener_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_stable_and_in_range() {
        for name in ["a", "orders", "payments-api", "x-1"] {
            let app: Ident = name.parse().unwrap();
            let p = default_listener_port(&app);
            assert!(DEFAULT_NLB_PORTS.contains(&p), "{name}: {p}");
            assert_eq!(p, default_listener_port(&app));
        }
    }
}
