//! API Gateway HTTP APIs in front of a private load balancer: the VPC link
//! ([`VpcLinkSpec`], in the `vpc_link` submodule) and the API with its
//! integration, routes, `$default` stage and optional JWT authorizer
//! ([`HttpApiSpec`]).
//!
//! Both are found by name among the account's VPC links and APIs (API Gateway
//! has no look-up by name or tag; the lists are short) and their ownership
//! tags are verified. The integration is `HTTP_PROXY` over the VPC link to the
//! load balancer's listener ARN, payload format 1.0. Routes are compared as a
//! set: applying adds and removes exactly the routes that changed; stage
//! throttling changes with UpdateStage. Destroy deletes the API (routes,
//! integration, authorizer and stage go with it), then the VPC link, and waits
//! for the link to be gone: its network interfaces keep its security group in
//! use until then.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_apigatewayv2::Client as ApiGwClient;
use aws_sdk_apigatewayv2::types::{
    Api, AuthorizationType, AuthorizerType, ConnectionType, Integration, IntegrationType,
    JwtConfiguration, ProtocolType, Route, RouteSettings,
};
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, EcsName, Error, Fields, Ident, InvalidValue, Kind, Mode, OutputKey,
    PlanValues, Ref, Resolved, ResourceId, Round, StepContext, Tags,
};
use serde_json::{Value, json};

use crate::NetClients;
use crate::elb::{
    KNOWN_AFTER_APPLY, defer_unknown, is_owned_by, set_ref_string, sorted, unless_absent,
};
use crate::listener::ListenerRef;
use crate::tagging::{all_tags, ensure_owned};

mod vpc_link;

pub use vpc_link::{
    ObservedLink, ObservedLinks, VPC_LINK_KIND, VpcLinkRef, VpcLinkSpec, vpc_link_fields,
};
use vpc_link::{delete_vpc_link_and_wait, get_vpc_link};

/// The resource kind of HTTP APIs in plans.
pub const API_KIND: &str = "apigateway:http-api";
/// The stage every HTTP API gets.
pub const DEFAULT_STAGE: &str = "$default";
/// The catch-all route.
pub const DEFAULT_ROUTE: &str = "$default";

/// What went wrong with API Gateway resources, beyond a failed API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiGatewayError {
    /// The VPC link could not be made available.
    #[error("VPC link {name} failed: {message}")]
    VpcLinkFailed {
        /// The link's name.
        name: String,
        /// API Gateway's status message.
        message: String,
    },
}

/// Tags as API Gateway carries them.
type TagMap = HashMap<String, String>;

fn tag_map(owner: &Ownership, user: &Tags, name: &str) -> HashMap<String, String> {
    all_tags(owner, user, name).into_iter().collect()
}

fn tag_pairs(tags: Option<&HashMap<String, String>>) -> Vec<(String, String)> {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The items of a paginated API Gateway list (VPC links, APIs) named `name`: API Gateway
/// can filter neither by name nor by tag, so every page is read (the lists are short).
async fn list_named<T, F, Fut>(
    mut page: F,
    name: &str,
    name_of: fn(&T) -> Option<&str>,
) -> Result<Vec<T>, Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), Error>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = page(token.take()).await?;
        out.extend(items.into_iter().filter(|i| name_of(i) == Some(name)));
        match next {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// Those of `named` that carry `owner`'s tags. When some have our name but none is ours,
/// [`Error::NotOwned`]: a resource with our name is never taken over.
fn select_owned<T>(
    owner: &Ownership,
    id: &ResourceId,
    named: Vec<T>,
    view: fn(&T) -> (&str, Option<&TagMap>),
) -> Result<Vec<T>, Error> {
    let (ours, foreign): (Vec<T>, Vec<T>) = named
        .into_iter()
        .partition(|x| is_owned_by(owner, &tag_pairs(view(x).1)));
    if let (true, Some(first)) = (ours.is_empty(), foreign.first()) {
        let (found_as, tags) = view(first);
        let tags = tag_pairs(tags);
        ensure_owned(
            owner,
            id,
            found_as,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
    }
    Ok(ours)
}

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

/// A route key: `$default` or `METHOD /path` (for example `GET /items/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey(String);

impl RouteKey {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RouteKey {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const METHODS: [&str; 8] = [
            "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
        ];
        if s == DEFAULT_ROUTE {
            return Ok(Self(s.to_string()));
        }
        let invalid = |reason: &str| {
            InvalidValue::new(
                "api.route",
                s,
                reason,
                "$default, or METHOD /path with METHOD one of ANY GET POST PUT PATCH DELETE HEAD OPTIONS \
                 and path segments of letters, digits, . _ ~ - or {param} ({proxy+} last)",
            )
        };
        let (method, path) = s
            .split_once(' ')
            .ok_or_else(|| invalid("missing the method or the path"))?;
        if !METHODS.contains(&method) {
            return Err(invalid("unknown method"));
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| invalid("the path must start with /"))?;
        if rest.is_empty() {
            return Ok(Self(s.to_string()));
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let last = segments.len().saturating_sub(1);
        for (i, seg) in segments.iter().enumerate() {
            let ok = if let Some(inner) = seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                let (name, greedy) = inner
                    .strip_suffix('+')
                    .map_or((inner, false), |n| (n, true));
                !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && (!greedy || i == last)
            } else {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c))
            };
            if !ok {
                return Err(invalid("invalid path segment"));
            }
        }
        Ok(Self(s.to_string()))
    }
}

/// Stage throttling for every route: steady-state requests per second and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttling {
    /// Burst limit (requests).
    pub burst_limit: u32,
    /// Steady rate (requests per second).
    pub rate_limit: f64,
}

impl Default for Throttling {
    /// API Gateway's account-level defaults: 5000 burst, 10000 requests per second.
    fn default() -> Self {
        Self {
            burst_limit: 5000,
            rate_limit: 10000.0,
        }
    }
}

/// A JWT authorizer: tokens in the `Authorization` header, from this issuer, for these audiences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizer {
    issuer: String,
    audience: Vec<String>,
}

impl JwtAuthorizer {
    /// A JWT authorizer.
    ///
    /// # Errors
    /// [`InvalidValue`] when the issuer is not an `https://` URL or no audience is given.
    pub fn new<A>(issuer: &str, audience: A) -> Result<Self, InvalidValue>
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        let host = issuer.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.starts_with('/') || issuer.chars().any(char::is_whitespace) {
            return Err(InvalidValue::new(
                "api.jwt.issuer",
                issuer,
                "not an https URL",
                "https://issuer.example.com/...",
            ));
        }
        let audience: Vec<String> =
            sorted(&audience.into_iter().map(Into::into).collect::<Vec<_>>());
        if audience.is_empty() || audience.iter().any(String::is_empty) {
            return Err(InvalidValue::new(
                "api.jwt.audience",
                audience.join(","),
                "no audience",
                "one or more non-empty audiences",
            ));
        }
        Ok(Self {
            issuer: issuer.to_string(),
            audience,
        })
    }
}

/// An HTTP API fargate-rs creates and owns: integration over the VPC link to a listener,
/// routes, `$default` stage (auto-deploy, throttling) and an optional JWT authorizer on
/// every route.
///
/// ```
/// use fargate_core::{Ident, Ownership, Ref, ResourceId};
/// use fargate_net::api_gateway::{HttpApiSpec, VpcLinkSpec};
/// use fargate_net::listener::ListenerRef;
///
/// let env: Ident = "prod".parse()?;
/// let app: Ident = "orders".parse()?;
/// let link = VpcLinkSpec::new(&env, "link", Ref::Known(vec!["subnet-a".into()]),
///     Ref::Known(vec!["sg-link".into()]), Ownership::new(env.clone()));
/// let listener = ListenerRef {
///     id: ResourceId::new("elbv2:listener", "prod/nlb:80"),
///     arn: Ref::Known("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/prod-nlb/1/2".into()),
///     lookup: None,
/// };
/// let api = HttpApiSpec::new(&env, &app, link.reference(), listener,
///     Ownership::new(env.clone()).with_app(app.clone()))
///     .routes(["GET /orders", "POST /orders"])?
///     .jwt_authorizer("https://auth.example.com/", ["orders-api"])?;
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpApiSpec {
    id: ResourceId,
    name: String,
    vpc_link: VpcLinkRef,
    listener: ListenerRef,
    routes: BTreeSet<RouteKey>,
    throttling: Throttling,
    jwt: Option<JwtAuthorizer>,
    owner: Ownership,
    tags: Tags,
}

impl HttpApiSpec {
    /// The HTTP API of `app`, named `<env>-<app>`, with the `$default` route.
    pub fn new(
        env: &Ident,
        app: &Ident,
        vpc_link: VpcLinkRef,
        listener: ListenerRef,
        owner: Ownership,
    ) -> Self {
        Self {
            id: ResourceId::new(API_KIND, format!("{env}/{app}")),
            name: EcsName::derive(&[env.as_str(), app.as_str()]).to_string(),
            vpc_link,
            listener,
            routes: [RouteKey(DEFAULT_ROUTE.into())].into(),
            throttling: Throttling::default(),
            jwt: None,
            owner,
            tags: Tags::new(),
        }
    }

    /// The routes (replacing `$default`), each `$default` or `METHOD /path`.
    ///
    /// # Errors
    /// [`InvalidValue`] for a malformed route key or no route at all.
    pub fn routes<I>(mut self, keys: I) -> Result<Self, InvalidValue>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let routes = keys
            .into_iter()
            .map(|k| k.as_ref().parse::<RouteKey>())
            .collect::<Result<BTreeSet<_>, _>>()?;
        if routes.is_empty() {
            return Err(InvalidValue::new(
                "api.routes",
                "",
                "an API without routes serves nothing",
                "at least one route",
            ));
        }
        self.routes = routes;
        Ok(self)
    }

    /// Stage throttling for every route.
    ///
    /// # Errors
    /// [`InvalidValue`] for a negative, non-finite or zero rate, or a zero burst.
    pub fn throttling(mut self, burst_limit: u32, rate_limit: f64) -> Result<Self, InvalidValue> {
        if burst_limit == 0 || !rate_limit.is_finite() || rate_limit <= 0.0 {
            return Err(InvalidValue::new(
                "api.throttling",
                format!("burst {burst_limit}, rate {rate_limit}"),
                "throttling this tight rejects every request",
                "a burst of at least 1 and a positive rate",
            ));
        }
        self.throttling = Throttling {
            burst_limit,
            rate_limit,
        };
        Ok(self)
    }

    /// Require a JWT from `issuer` for one of `audience` on every route.
    ///
    /// # Errors
    /// As [`JwtAuthorizer::new`].
    pub fn jwt_authorizer<A>(mut self, issuer: &str, audience: A) -> Result<Self, InvalidValue>
    where
        A: IntoIterator,
        A::Item: Into<String>,
    {
        self.jwt = Some(JwtAuthorizer::new(issuer, audience)?);
        Ok(self)
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The API's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The output key of the API id.
    pub fn api_id(&self) -> OutputKey<String> {
        self.id.output("api_id")
    }

    /// The output key of the invoke URL, `https://{api_id}.execute-api.{region}.amazonaws.com`.
    pub fn invoke_url(&self) -> OutputKey<String> {
        self.id.output("invoke_url")
    }

    fn authorization(&self) -> &'static str {
        if self.jwt.is_some() { "JWT" } else { "NONE" }
    }

    fn authorizer_name(&self) -> String {
        format!("{}-jwt", self.name)
    }

    /// The managed fields as desired (pure). `listener_arn` is the listener's ARN as
    /// observed at plan time (`None` when it does not exist yet); `integration_id` the id of
    /// the existing integration routes must target.
    pub fn desired_fields(
        &self,
        listener_arn: Option<&str>,
        integration_id: Option<&str>,
    ) -> Fields {
        let mut f = Fields::new()
            .with("protocol", "HTTP")
            .with("integration.type", "HTTP_PROXY")
            .with("integration.connection_type", "VPC_LINK")
            .with("integration.method", "ANY")
            .with("integration.payload_format_version", "1.0")
            .with("integration.uri", listener_arn.unwrap_or(KNOWN_AFTER_APPLY))
            .with_set("routes", self.routes.iter().map(|r| r.as_str().to_string()))
            .with("routes.authorization", self.authorization())
            .with(
                "routes.target",
                integration_id.map_or(KNOWN_AFTER_APPLY.to_string(), |i| {
                    format!("integrations/{i}")
                }),
            )
            .with("stage.auto_deploy", true)
            .with("stage.throttling_burst_limit", self.throttling.burst_limit)
            .with("stage.throttling_rate_limit", self.throttling.rate_limit);
        set_ref_string(&mut f, "integration.connection_id", &self.vpc_link.link_id);
        match &self.jwt {
            Some(j) => {
                f.set("authorizer.issuer", j.issuer.clone());
                f.set("authorizer.audience", j.audience.clone());
            }
            None => {
                f.set("authorizer.issuer", Value::Null);
                f.set("authorizer.audience", Value::Null);
            }
        }
        f
    }

    /// The change from `observed` (pure); see [`desired_fields`](Self::desired_fields). When
    /// the listener reference cannot be looked up at plan time (no load balancer and port
    /// given), its ARN is compared when the step runs instead.
    pub fn diff(&self, observed: Option<&ObservedApi>, listener_arn: Option<&str>) -> Change {
        let defer_listener = self.listener.arn.known().is_none() && self.listener.lookup.is_none();
        self.diff_with(observed, listener_arn, defer_listener)
    }

    /// [`diff`](Self::diff), saying whether a missing listener ARN is only unknown until
    /// apply (`defer_listener`) rather than a listener still to be created.
    fn diff_with(
        &self,
        observed: Option<&ObservedApi>,
        listener_arn: Option<&str>,
        defer_listener: bool,
    ) -> Change {
        let integration_id = observed
            .and_then(|o| o.integration.as_ref())
            .and_then(|i| i.id.as_deref());
        let mut desired = self.desired_fields(listener_arn, integration_id);
        let observed = observed.map(ObservedApi::fields);
        defer_unknown(
            &mut desired,
            observed.as_ref(),
            &["integration.connection_id"],
        );
        if defer_listener {
            defer_unknown(&mut desired, observed.as_ref(), &["integration.uri"]);
        }
        Change::compute(&desired, observed.as_ref(), &["protocol"])
    }
}

/// An HTTP API and its parts as API Gateway reports them, as plain data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedApi {
    /// The API id.
    pub api_id: String,
    /// Its protocol (`HTTP`, `WEBSOCKET`).
    pub protocol: Option<String>,
    /// Its invoke URL (its endpoint, or the regional URL of its id).
    pub invoke_url: String,
    /// Its integration (the first HTTP_PROXY one), if any.
    pub integration: Option<ObservedIntegration>,
    /// Its routes by key.
    pub routes: BTreeMap<String, ObservedRoute>,
    /// The JWT authorizer its routes use, if any.
    pub authorizer: Option<ObservedAuthorizer>,
    /// Its `$default` stage, if any.
    pub stage: Option<ObservedStage>,
    /// Other APIs with our name and tags (a CreateApi whose reply was lost and
    /// was retried): deleted by apply and by destroy.
    pub duplicates: Vec<String>,
}

/// An API's integration as observed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ObservedIntegration {
    /// The integration id.
    pub id: Option<String>,
    /// `HTTP_PROXY`, ...
    pub integration_type: Option<String>,
    /// `VPC_LINK` or `INTERNET`.
    pub connection_type: Option<String>,
    /// The VPC link id.
    pub connection_id: Option<String>,
    /// The HTTP method.
    pub method: Option<String>,
    /// The listener ARN.
    pub uri: Option<String>,
    /// The payload format version.
    pub payload_format_version: Option<String>,
}

/// A route as observed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ObservedRoute {
    /// The route id.
    pub id: String,
    /// Its target (`integrations/<id>`).
    pub target: Option<String>,
    /// Its authorization type (`NONE`, `JWT`, ...).
    pub authorization_type: Option<String>,
    /// The authorizer it uses.
    pub authorizer_id: Option<String>,
}

/// A JWT authorizer as observed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ObservedAuthorizer {
    /// The authorizer id.
    pub id: Option<String>,
    /// Its JWT configuration: the issuer, if set, and the audiences (sorted).
    pub jwt: Option<(Option<String>, Vec<String>)>,
}

/// The `$default` stage as observed: auto-deploy and default route throttling.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ObservedStage {
    /// Whether changes deploy automatically.
    pub auto_deploy: bool,
    /// The default route settings' burst limit.
    pub throttling_burst_limit: Option<i32>,
    /// The default route settings' rate limit.
    pub throttling_rate_limit: Option<f64>,
}

impl ObservedIntegration {
    fn from_sdk(i: &Integration) -> Self {
        Self {
            id: i.integration_id().map(str::to_string),
            integration_type: i.integration_type().map(|t| t.as_str().to_string()),
            connection_type: i.connection_type().map(|t| t.as_str().to_string()),
            connection_id: i.connection_id().map(str::to_string),
            method: i.integration_method().map(str::to_string),
            uri: i.integration_uri().map(str::to_string),
            payload_format_version: i.payload_format_version().map(str::to_string),
        }
    }
}

impl ObservedRoute {
    fn from_sdk(r: &Route) -> Self {
        Self {
            id: r.route_id().unwrap_or_default().to_string(),
            target: r.target().map(str::to_string),
            authorization_type: r.authorization_type().map(|a| a.as_str().to_string()),
            authorizer_id: r.authorizer_id().map(str::to_string),
        }
    }
}

impl ObservedApi {
    /// The managed fields (pure), with API defaults filled in.
    pub fn fields(&self) -> Fields {
        let i = self.integration.as_ref();
        let auths: BTreeSet<&str> = self
            .routes
            .values()
            .map(|r| r.authorization_type.as_deref().unwrap_or("NONE"))
            .collect();
        let targets: BTreeSet<&str> = self
            .routes
            .values()
            .map(|r| r.target.as_deref().unwrap_or_default())
            .collect();
        let one = |set: BTreeSet<&str>| -> Value {
            match set.len() {
                0 => Value::Null,
                1 => json!(set.into_iter().next()),
                _ => json!("(mixed)"),
            }
        };
        let stage = self.stage.as_ref();
        let mut f = Fields::new()
            .with("protocol", self.protocol.clone())
            .with(
                "integration.type",
                i.and_then(|i| i.integration_type.clone()),
            )
            .with(
                "integration.connection_type",
                i.and_then(|i| i.connection_type.clone()),
            )
            .with("integration.method", i.and_then(|i| i.method.clone()))
            .with(
                "integration.payload_format_version",
                i.and_then(|i| i.payload_format_version.clone()),
            )
            .with("integration.uri", i.and_then(|i| i.uri.clone()))
            .with(
                "integration.connection_id",
                i.and_then(|i| i.connection_id.clone()),
            )
            .with_set("routes", self.routes.keys().cloned())
            .with("routes.authorization", one(auths))
            .with("routes.target", one(targets))
            .with("stage.auto_deploy", stage.map(|s| s.auto_deploy))
            .with(
                "stage.throttling_burst_limit",
                stage.and_then(|s| s.throttling_burst_limit),
            )
            .with(
                "stage.throttling_rate_limit",
                stage.and_then(|s| s.throttling_rate_limit),
            );
        let jwt = self.authorizer.as_ref().and_then(|a| a.jwt.as_ref());
        f.set("authorizer.issuer", jwt.and_then(|(i, _)| i.clone()));
        f.set("authorizer.audience", jwt.map(|(_, a)| a.clone()));
        f
    }
}

impl HttpApiSpec {
    /// Finds our API by name and tags, and reads its parts concurrently.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn observe_api(&self, apigw: &ApiGwClient) -> Result<Option<ObservedApi>, Error> {
        let named = list_named(
            |token| async move {
                let page = apigw
                    .get_apis()
                    .set_next_token(token)
                    .send()
                    .await
                    .context(&self.id, "GetApis")?;
                Ok((page.items().to_vec(), page.next_token().map(str::to_string)))
            },
            &self.name,
            Api::name,
        )
        .await?;
        let mut owned = select_owned(&self.owner, &self.id, named, |a| {
            (a.api_id().unwrap_or_default(), a.tags())
        })?;
        owned.sort_by(|a, b| a.api_id().cmp(&b.api_id()));
        // Copies: keep the one with the most routes (the one the stack was
        // built on), ties to the smallest id; the others go.
        let mut routes_per_api = BTreeMap::new();
        if owned.len() > 1 {
            for a in &owned {
                let id = a.api_id().unwrap_or_default();
                let n = apigw
                    .get_routes()
                    .api_id(id)
                    .send()
                    .await
                    .context(&self.id, "GetRoutes")?
                    .items()
                    .len();
                routes_per_api.insert(id.to_string(), n);
            }
        }
        let (kept, extras) = crate::network::common::keep_one(owned.iter().collect(), |a| {
            routes_per_api
                .get(a.api_id().unwrap_or_default())
                .copied()
                .unwrap_or(0)
        });
        let duplicates: Vec<String> = extras
            .iter()
            .filter_map(|a| a.api_id().map(str::to_string))
            .collect();
        let Some(api) = kept.cloned() else {
            return Ok(None);
        };
        let api_id = api.api_id().unwrap_or_default().to_string();
        let (integrations, routes, stage) = tokio::join!(
            apigw.get_integrations().api_id(&api_id).send(),
            apigw.get_routes().api_id(&api_id).send(),
            apigw
                .get_stage()
                .api_id(&api_id)
                .stage_name(DEFAULT_STAGE)
                .send(),
        );
        let integrations = integrations.context(&self.id, "GetIntegrations")?;
        let routes: BTreeMap<String, ObservedRoute> = routes
            .context(&self.id, "GetRoutes")?
            .items()
            .iter()
            .filter_map(|r| Some((r.route_key()?.to_string(), ObservedRoute::from_sdk(r))))
            .collect();
        let stage = unless_absent(stage, &self.id, "GetStage", |e| e.is_not_found_exception())?
            .map(|s| {
                let settings = s.default_route_settings();
                ObservedStage {
                    auto_deploy: s.auto_deploy().unwrap_or(false),
                    throttling_burst_limit: settings.and_then(|r| r.throttling_burst_limit()),
                    throttling_rate_limit: settings.and_then(|r| r.throttling_rate_limit()),
                }
            });
        // The authorizer is the one the routes use (an authorizer no route uses is not
        // managed; it goes with the API).
        let authorizer = match routes.values().find_map(|r| r.authorizer_id.as_deref()) {
            None => None,
            Some(authorizer_id) => {
                let out = apigw
                    .get_authorizer()
                    .api_id(&api_id)
                    .authorizer_id(authorizer_id)
                    .send()
                    .await;
                unless_absent(out, &self.id, "GetAuthorizer", |e| {
                    e.is_not_found_exception()
                })?
                .map(|a| ObservedAuthorizer {
                    id: a.authorizer_id().map(str::to_string),
                    jwt: a
                        .jwt_configuration()
                        .map(|j| (j.issuer().map(str::to_string), sorted(j.audience()))),
                })
            }
        };
        let integration = integrations
            .items()
            .iter()
            .find(|i| i.integration_type() == Some(&IntegrationType::HttpProxy))
            .or(integrations.items().first())
            .map(ObservedIntegration::from_sdk);
        Ok(Some(ObservedApi {
            invoke_url: invoke_url_for(apigw, api.api_endpoint(), &api_id),
            api_id,
            protocol: api.protocol_type().map(|p| p.as_str().to_string()),
            integration,
            routes,
            authorizer,
            stage,
            duplicates,
        }))
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn create(&self, apigw: &ApiGwClient, ctx: &StepContext) -> Result<(), Error> {
        let out = apigw
            .create_api()
            .name(&self.name)
            .protocol_type(ProtocolType::Http)
            .set_tags(Some(tag_map(&self.owner, &self.tags, &self.name)))
            .send()
            .await
            .context(&self.id, "CreateApi")?;
        let api_id = out.api_id().unwrap_or_default().to_string();
        ctx.progress(format!("created HTTP API {}", self.name));
        let observed = ObservedApi {
            invoke_url: invoke_url_for(apigw, out.api_endpoint(), &api_id),
            api_id,
            protocol: out.protocol_type().map(|p| p.as_str().to_string()),
            integration: None,
            routes: BTreeMap::new(),
            authorizer: None,
            stage: None,
            duplicates: Vec::new(),
        };
        self.converge(apigw, ctx, &observed).await
    }

    /// Brings an existing API's parts to the spec with only the calls that differ, then
    /// publishes the API id and invoke URL. With nothing different it makes no call.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn converge(
        &self,
        apigw: &ApiGwClient,
        ctx: &StepContext,
        observed: &ObservedApi,
    ) -> Result<(), Error> {
        let api_id = observed.api_id.clone();
        let listener_arn = self.listener.arn.resolve(ctx)?;
        let link_id = self.vpc_link.link_id.resolve(ctx)?;

        // Integration.
        let integration_id = match &observed.integration {
            None => apigw
                .create_integration()
                .api_id(&api_id)
                .integration_type(IntegrationType::HttpProxy)
                .connection_type(ConnectionType::VpcLink)
                .connection_id(&link_id)
                .integration_method("ANY")
                .integration_uri(&listener_arn)
                .payload_format_version("1.0")
                .send()
                .await
                .context(&self.id, "CreateIntegration")?
                .integration_id()
                .unwrap_or_default()
                .to_string(),
            Some(i) => {
                let id = i.id.clone().unwrap_or_default();
                let same = i.integration_type.as_deref()
                    == Some(IntegrationType::HttpProxy.as_str())
                    && i.connection_type.as_deref() == Some(ConnectionType::VpcLink.as_str())
                    && i.connection_id.as_deref() == Some(link_id.as_str())
                    && i.method.as_deref() == Some("ANY")
                    && i.uri.as_deref() == Some(listener_arn.as_str())
                    && i.payload_format_version.as_deref() == Some("1.0");
                if !same {
                    apigw
                        .update_integration()
                        .api_id(&api_id)
                        .integration_id(&id)
                        .integration_type(IntegrationType::HttpProxy)
                        .connection_type(ConnectionType::VpcLink)
                        .connection_id(&link_id)
                        .integration_method("ANY")
                        .integration_uri(&listener_arn)
                        .payload_format_version("1.0")
                        .send()
                        .await
                        .context(&self.id, "UpdateIntegration")?;
                    if let Some(old) = i.connection_id.as_deref().filter(|old| *old != link_id) {
                        self.delete_replaced_link(apigw, ctx, old).await?;
                    }
                }
                id
            }
        };
        let target = format!("integrations/{integration_id}");

        // Authorizer (before routes that use it).
        let authorizer_id = self
            .converge_authorizer(apigw, &api_id, observed.authorizer.as_ref())
            .await?;
        let authorization = if authorizer_id.is_some() {
            AuthorizationType::Jwt
        } else {
            AuthorizationType::None
        };

        // Routes, as a set.
        let desired: BTreeSet<&str> = self.routes.iter().map(RouteKey::as_str).collect();
        for (key, route) in &observed.routes {
            let route_id = route.id.as_str();
            if !desired.contains(key.as_str()) {
                let out = apigw
                    .delete_route()
                    .api_id(&api_id)
                    .route_id(route_id)
                    .send()
                    .await;
                // A retry whose first attempt was applied finds it gone.
                unless_absent(out, &self.id, "DeleteRoute", |e| e.is_not_found_exception())?;
                continue;
            }
            let same = route.target.as_deref() == Some(target.as_str())
                && route
                    .authorization_type
                    .as_deref()
                    .unwrap_or(AuthorizationType::None.as_str())
                    == authorization.as_str()
                && route.authorizer_id.as_deref() == authorizer_id.as_deref();
            if !same {
                apigw
                    .update_route()
                    .api_id(&api_id)
                    .route_id(route_id)
                    .target(&target)
                    .authorization_type(authorization.clone())
                    .set_authorizer_id(authorizer_id.clone())
                    .send()
                    .await
                    .context(&self.id, "UpdateRoute")?;
            }
        }
        for key in desired
            .iter()
            .filter(|k| !observed.routes.contains_key(**k))
        {
            let out = apigw
                .create_route()
                .api_id(&api_id)
                .route_key(*key)
                .target(&target)
                .authorization_type(authorization.clone())
                .set_authorizer_id(authorizer_id.clone())
                .send()
                .await;
            // A retry whose first attempt was applied finds the route key taken by it.
            unless_absent(out, &self.id, "CreateRoute", |e| e.is_conflict_exception())?;
        }
        // An authorizer no longer wanted goes once no route uses it.
        if let (None, Some(old)) = (
            &authorizer_id,
            observed.authorizer.as_ref().and_then(|a| a.id.as_deref()),
        ) {
            let out = apigw
                .delete_authorizer()
                .api_id(&api_id)
                .authorizer_id(old)
                .send()
                .await;
            unless_absent(out, &self.id, "DeleteAuthorizer", |e| {
                e.is_not_found_exception()
            })?;
        }

        // Stage.
        let settings = RouteSettings::builder()
            .throttling_burst_limit(i32::try_from(self.throttling.burst_limit).unwrap_or(i32::MAX))
            .throttling_rate_limit(self.throttling.rate_limit)
            .build();
        match &observed.stage {
            None => {
                let out = apigw
                    .create_stage()
                    .api_id(&api_id)
                    .stage_name(DEFAULT_STAGE)
                    .auto_deploy(true)
                    .default_route_settings(settings)
                    .send()
                    .await;
                // A retry whose first attempt was applied finds the stage there.
                unless_absent(out, &self.id, "CreateStage", |e| e.is_conflict_exception())?;
            }
            Some(current) => {
                let same_throttle = current.throttling_burst_limit
                    == settings.throttling_burst_limit()
                    && current.throttling_rate_limit == settings.throttling_rate_limit();
                if !current.auto_deploy || !same_throttle {
                    apigw
                        .update_stage()
                        .api_id(&api_id)
                        .stage_name(DEFAULT_STAGE)
                        .auto_deploy(true)
                        .default_route_settings(settings)
                        .send()
                        .await
                        .context(&self.id, "UpdateStage")?;
                }
            }
        }

        ctx.set(&self.invoke_url(), observed.invoke_url.clone());
        ctx.set(&self.api_id(), api_id);
        Ok(())
    }

    /// Creates, updates or keeps the JWT authorizer; its id, or `None` when none is wanted.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn converge_authorizer(
        &self,
        apigw: &ApiGwClient,
        api_id: &str,
        observed: Option<&ObservedAuthorizer>,
    ) -> Result<Option<String>, Error> {
        let Some(jwt) = &self.jwt else {
            return Ok(None);
        };
        let config = JwtConfiguration::builder()
            .issuer(&jwt.issuer)
            .set_audience(Some(jwt.audience.clone()))
            .build();
        match observed {
            None => Ok(apigw
                .create_authorizer()
                .api_id(api_id)
                .authorizer_type(AuthorizerType::Jwt)
                .name(self.authorizer_name())
                .identity_source("$request.header.Authorization")
                .jwt_configuration(config)
                .send()
                .await
                .context(&self.id, "CreateAuthorizer")?
                .authorizer_id()
                .map(str::to_string)),
            Some(a) => {
                let id = a.id.clone().unwrap_or_default();
                let current = a.jwt.as_ref();
                let same = current.and_then(|(i, _)| i.as_deref()) == Some(jwt.issuer.as_str())
                    && current.map(|(_, a)| a) == Some(&jwt.audience);
                if !same {
                    apigw
                        .update_authorizer()
                        .api_id(api_id)
                        .authorizer_id(&id)
                        .jwt_configuration(config)
                        .send()
                        .await
                        .context(&self.id, "UpdateAuthorizer")?;
                }
                Ok(Some(id))
            }
        }
    }

    /// After the integration moved to a new VPC link, deletes the one it used before if it
    /// is ours (same name and ownership).
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn delete_replaced_link(
        &self,
        apigw: &ApiGwClient,
        ctx: &StepContext,
        old: &str,
    ) -> Result<(), Error> {
        let Some(link) = get_vpc_link(apigw, &self.vpc_link.id, old).await? else {
            return Ok(());
        };
        if link.name() == Some(self.vpc_link.name.as_str())
            && is_owned_by(&self.vpc_link.owner, &tag_pairs(link.tags()))
        {
            ctx.progress(format!("deleting replaced VPC link {old}"));
            delete_vpc_link_and_wait(apigw, ctx, &self.vpc_link.id, old).await?;
        }
        Ok(())
    }
}

/// Deletes an API with its routes, integrations, authorizers and stages; gone already is fine.
#[tracing::instrument(skip_all, fields(resource = %id))]
async fn delete_api(apigw: &ApiGwClient, id: &ResourceId, api_id: &str) -> Result<(), Error> {
    let out = apigw.delete_api().api_id(api_id).send().await;
    unless_absent(out, id, "DeleteApi", |e| e.is_not_found_exception()).map(|_| ())
}

/// The URL an API is invoked at: its endpoint, or the regional URL of its id.
fn invoke_url_for(apigw: &ApiGwClient, endpoint: Option<&str>, api_id: &str) -> String {
    match endpoint {
        Some(e) if !e.is_empty() => e.to_string(),
        _ => {
            let region = apigw
                .config()
                .region()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("https://{api_id}.execute-api.{region}.amazonaws.com")
        }
    }
}

/// What planning an HTTP API observed: the API, if it exists, and the listener's ARN as
/// looked up on its load balancer (read when the listener did not publish its ARN at plan
/// time; used when the listener is not in the plan).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HttpApiObservation {
    /// Our API and its parts.
    pub api: Option<ObservedApi>,
    /// The listener's ARN, looked up by its load balancer and port.
    pub listener_arn: Option<String>,
}

impl HttpApiSpec {
    /// The listener's ARN as observed now when no plan-time value is known: looked up on its
    /// load balancer by port (read-only). `None` without a way to look it up, or when the
    /// load balancer or the listener does not exist.
    #[tracing::instrument(skip_all, fields(resource = %self.id))]
    async fn look_up_listener(
        &self,
        elb: &ElbClient,
        round: &Round<'_>,
    ) -> Result<Option<String>, Error> {
        if round.get_ref(&self.listener.arn).await.is_some() {
            return Ok(None);
        }
        let Some((lb, port)) = &self.listener.lookup else {
            return Ok(None);
        };
        let lb_arn = match round.get_ref(&lb.arn).await {
            Some(arn) => arn,
            None => {
                let Some(name) = &lb.name else {
                    return Ok(None);
                };
                match crate::load_balancer::describe_by_name(elb, &lb.id, name.as_str())
                    .await?
                    .and_then(|l| l.load_balancer_arn().map(str::to_string))
                {
                    Some(arn) => arn,
                    None => return Ok(None),
                }
            }
        };
        let listeners = round
            .observe_once(&format!("{API_KIND}:listeners-of:{lb_arn}"), || {
                listener_arns_by_port(elb, &self.listener.id, &lb_arn)
            })
            .await?;
        Ok(listeners.get(&i32::from(*port)).cloned())
    }

    /// The listener's ARN at plan time, and whether a missing one is only unknown until
    /// apply (rather than a listener still to be created): known, or published by the
    /// listener resource in this plan (absent: it is new), or else, when it is not in this
    /// plan, looked up (`looked_up`) on its load balancer.
    fn listener_at_plan(
        &self,
        looked_up: Option<&str>,
        resolved: &Resolved,
    ) -> (Option<String>, bool) {
        match &self.listener.arn {
            Ref::Known(arn) => (Some(arn.clone()), false),
            Ref::Output(key) if resolved.change_of(&self.listener.id).is_some() => {
                (resolved.get(key), false)
            }
            Ref::Output(_) if self.listener.lookup.is_some() => {
                (looked_up.map(str::to_string), false)
            }
            Ref::Output(_) => (None, true),
        }
    }
}

/// The listeners of the load balancer `lb_arn` by port (every page; none when it is gone).
#[tracing::instrument(skip_all, fields(resource = %id, load_balancer = %lb_arn))]
async fn listener_arns_by_port(
    elb: &ElbClient,
    id: &ResourceId,
    lb_arn: &str,
) -> Result<BTreeMap<i32, String>, Error> {
    let mut by_port = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let out = elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .set_marker(marker.take())
            .send()
            .await;
        let Some(out) = unless_absent(out, id, "DescribeListeners", |e| {
            e.is_load_balancer_not_found_exception()
        })?
        else {
            return Ok(by_port);
        };
        for l in out.listeners() {
            if let (Some(port), Some(arn)) = (l.port(), l.listener_arn()) {
                by_port.entry(port).or_insert_with(|| arn.to_string());
            }
        }
        match out.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(by_port),
        }
    }
}

impl<C> Kind<C> for HttpApiSpec
where
    C: AsRef<NetClients> + Clone + Send + Sync + 'static,
{
    type Observed = HttpApiObservation;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.vpc_link.id.clone(), self.listener.id.clone()]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a C,
        round: &'a Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Option<HttpApiObservation>, Error>> {
        Box::pin(async move {
            let net = clients.as_ref();
            let api = self.observe_api(&net.apigw).await?;
            let listener_arn = match mode {
                Mode::Apply => self.look_up_listener(&net.elb, round).await?,
                Mode::Destroy => None,
            };
            Ok((api.is_some() || listener_arn.is_some())
                .then_some(HttpApiObservation { api, listener_arn }))
        })
    }

    fn diff(
        &self,
        observed: Option<&HttpApiObservation>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        let mut spec = self.clone();
        if let Some(link_id) = resolved.get_ref(&self.vpc_link.link_id) {
            spec.vpc_link.link_id = Ref::Known(link_id);
        }
        let (listener_arn, defer_listener) =
            self.listener_at_plan(observed.and_then(|o| o.listener_arn.as_deref()), resolved);
        let api = observed.and_then(|o| o.api.as_ref());
        let change = spec.diff_with(api, listener_arn.as_deref(), defer_listener);
        if matches!(change, Change::Replace { .. }) {
            // Only the protocol is immutable, and an API with our name and tags of another
            // protocol was not made by this spec: refuse rather than delete it.
            return Err(Error::Unexpected {
                resource: self.id.clone(),
                operation: "GetApis".into(),
                detail: format!("API {} exists with another protocol than HTTP", self.name),
            });
        }
        let duplicates = api.map(|a| a.duplicates.clone()).unwrap_or_default();
        Ok(crate::network::common::with_duplicates(change, duplicates))
    }

    fn destroy_change(&self, observed: Option<&HttpApiObservation>) -> Change {
        match observed.and_then(|o| o.api.as_ref()) {
            Some(_) => Change::Delete,
            None => Change::NoOp,
        }
    }

    fn outputs(
        &self,
        observed: Option<&HttpApiObservation>,
        _: &Change,
        _: &Resolved,
    ) -> PlanValues {
        match observed.and_then(|o| o.api.as_ref()) {
            Some(api) => PlanValues::new()
                .with(&self.api_id(), &api.api_id)
                .with(&self.invoke_url(), &api.invoke_url),
            None => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a C,
        ctx: &'a StepContext,
        _: &'a Change,
        observed: Option<&'a HttpApiObservation>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let apigw = &clients.as_ref().apigw;
            let api = observed.and_then(|o| o.api.as_ref());
            match api {
                Some(observed) => self.converge(apigw, ctx, observed).await?,
                None => self.create(apigw, ctx).await?,
            }
            for copy in api.map_or(&[][..], |a| a.duplicates.as_slice()) {
                ctx.progress(format!(
                    "deleting HTTP API {copy}, a second copy left by a retried create"
                ));
                delete_api(apigw, &self.id, copy).await?;
            }
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a C,
        _: &'a StepContext,
        observed: &'a HttpApiObservation,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let apigw = &clients.as_ref().apigw;
            let Some(api) = &observed.api else {
                return Ok(());
            };
            for copy in &api.duplicates {
                delete_api(apigw, &self.id, copy).await?;
            }
            delete_api(apigw, &self.id, &api.api_id).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_apigatewayv2::types::Route as SdkRoute;
    use fargate_core::Ref;

    fn ident(s: &str) -> Ident {
        s.parse().unwrap()
    }

    const LISTENER: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/prod-nlb/1/2";

    fn spec() -> HttpApiSpec {
        let link = VpcLinkSpec::new(
            &ident("prod"),
            "link",
            Ref::Known(vec!["subnet-a".into()]),
            Ref::Known(vec!["sg-1".into()]),
            Ownership::new(ident("prod")),
        );
        let lb = crate::load_balancer::LoadBalancerRef {
            id: ResourceId::new("elbv2:load-balancer", "prod/nlb"),
            arn: Ref::Output(OutputKey::new("nlb#arn")),
            name: Some("prod-nlb".parse().unwrap()),
        };
        let listener = ListenerRef {
            id: ResourceId::new("elbv2:listener", "prod/nlb:80"),
            arn: Ref::Output(OutputKey::new("listener#arn")),
            lookup: Some((lb, fargate_core::Port::HTTP)),
        };
        HttpApiSpec::new(
            &ident("prod"),
            &ident("orders"),
            link.reference(),
            listener,
            Ownership::new(ident("prod")).with_app(ident("orders")),
        )
    }

    fn observed(routes: &[&str]) -> ObservedApi {
        ObservedApi {
            api_id: "a1".into(),
            protocol: Some(ProtocolType::Http.as_str().into()),
            invoke_url: "https://a1.execute-api.us-east-1.amazonaws.com".into(),
            integration: Some(ObservedIntegration::from_sdk(
                &Integration::builder()
                    .integration_id("i1")
                    .integration_type(IntegrationType::HttpProxy)
                    .connection_type(ConnectionType::VpcLink)
                    .connection_id("vl-1")
                    .integration_method("ANY")
                    .integration_uri(LISTENER)
                    .payload_format_version("1.0")
                    .build(),
            )),
            routes: routes
                .iter()
                .map(|k| {
                    (
                        k.to_string(),
                        ObservedRoute::from_sdk(
                            &SdkRoute::builder()
                                .route_key(*k)
                                .route_id(format!("r-{k}"))
                                .target("integrations/i1")
                                .authorization_type(AuthorizationType::None)
                                .build(),
                        ),
                    )
                })
                .collect(),
            authorizer: None,
            stage: Some(ObservedStage {
                auto_deploy: true,
                throttling_burst_limit: Some(5000),
                throttling_rate_limit: Some(10000.0),
            }),
            duplicates: Vec::new(),
        }
    }

    #[test]
    fn unchanged_api_is_a_noop() {
        assert_eq!(
            spec().diff(Some(&observed(&["$default"])), Some(LISTENER)),
            Change::NoOp
        );
    }

    #[test]
    fn routes_are_compared_as_a_set() {
        let s = spec().routes(["POST /orders", "GET /orders"]).unwrap();
        assert_eq!(
            s.diff(
                Some(&observed(&["GET /orders", "POST /orders"])),
                Some(LISTENER)
            ),
            Change::NoOp
        );
        let Change::Update { diffs } = s.diff(Some(&observed(&["GET /orders"])), Some(LISTENER))
        else {
            panic!()
        };
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].field, "routes");
    }

    #[test]
    fn a_new_listener_changes_the_integration() {
        let Change::Update { diffs } = spec().diff(Some(&observed(&["$default"])), None) else {
            panic!()
        };
        assert_eq!(
            diffs.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
            ["integration.uri"]
        );
    }

    #[test]
    fn throttling_and_authorizer_changes_show_their_fields() {
        let s = spec()
            .throttling(100, 50.0)
            .unwrap()
            .jwt_authorizer("https://issuer.example.com", ["aud"])
            .unwrap();
        let Change::Update { diffs } = s.diff(Some(&observed(&["$default"])), Some(LISTENER))
        else {
            panic!()
        };
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "authorizer.audience",
                "authorizer.issuer",
                "routes.authorization",
                "stage.throttling_burst_limit",
                "stage.throttling_rate_limit"
            ]
        );
    }

    #[test]
    fn route_keys_are_validated() {
        for ok in [
            "$default",
            "GET /",
            "ANY /{proxy+}",
            "POST /orders/{id}/items",
            "DELETE /a.b_c~d-e",
        ] {
            assert!(ok.parse::<RouteKey>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "GET",
            "get /x",
            "GET x",
            "GET /{proxy+}/x",
            "GET /a//b",
            "GET /{}",
            "FETCH /x",
            "GET /a b",
        ] {
            assert_eq!(
                bad.parse::<RouteKey>().unwrap_err().field,
                "api.route",
                "{bad}"
            );
        }
        assert!(spec().routes(Vec::<String>::new()).is_err());
        assert!(spec().throttling(0, 1.0).is_err());
        assert!(spec().throttling(1, f64::NAN).is_err());
        assert!(JwtAuthorizer::new("http://issuer", ["a"]).is_err());
        assert!(JwtAuthorizer::new("https://issuer", Vec::<String>::new()).is_err());
    }
}
