//! ECS Service Connect: apps of an environment reach each other through the Service
//! Connect proxy ECS adds to their tasks, by client alias (`http://api.prod.internal:8080`),
//! in the environment's Cloud Map namespace (its `private_namespace`).
//!
//! [`ServiceConnect`] is what an app asks for: in *server* mode (the default) its port gets
//! a port-mapping name in the task definition and is published under a discovery name with
//! one client alias; in *client-only* mode its tasks only resolve the others. The ECS
//! service's `serviceConnectConfiguration` is built from the resolved
//! [`ServiceConnectSpec`]; removing `service_connect` from an app sends `enabled: false`.
//!
//! ECS reports the configuration on the service's deployments, not on the service: the
//! observation reads the PRIMARY deployment's `serviceConnectConfiguration`.

use aws_sdk_ecs::types::{
    LogConfiguration, LogDriver, ServiceConnectClientAlias, ServiceConnectConfiguration,
    ServiceConnectService,
};
use fargate_core::exec::StepContext;
use fargate_core::{Error, Fields, Ident, InvalidValue, Port, Ref, ResourceId};

use crate::discovery::DnsName;

/// The log stream prefix of the Service Connect proxy's logs in the app's log group.
pub const LOG_STREAM_PREFIX: &str = "service-connect";

/// The application protocol of a published port (`appProtocol` of the port mapping): with
/// one, the proxy reports protocol-level metrics and retries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AppProtocol {
    /// HTTP/1.1.
    Http,
    /// HTTP/2.
    Http2,
    /// gRPC.
    Grpc,
}

impl AppProtocol {
    /// The ECS value (`http`, `http2`, `grpc`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Http2 => "http2",
            Self::Grpc => "grpc",
        }
    }

    /// The protocol of an ECS value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "http2" => Some(Self::Http2),
            "grpc" => Some(Self::Grpc),
            _ => None,
        }
    }
}

/// An app's Service Connect settings (needs the environment's `private_namespace`).
///
/// In JSON: `{}` (server mode, every default), `{"app_protocol": "http", "client_alias_port":
/// 80}`, or `{"client_only": true}`.
///
/// ```
/// use fargate_deploy::service_connect::{AppProtocol, ServiceConnect};
/// let sc: ServiceConnect = serde_json::from_str(r#"{"app_protocol": "grpc"}"#)?;
/// assert_eq!(sc, ServiceConnect { app_protocol: Some(AppProtocol::Grpc), ..ServiceConnect::server() });
/// assert!(ServiceConnect::client_only().client_only);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ServiceConnect {
    /// Only resolve the other apps' aliases, publish nothing (then no other field is given).
    #[serde(default)]
    pub client_only: bool,
    /// The name of the app's port mapping (default the app's name).
    #[serde(default)]
    pub port_name: Option<String>,
    /// The application protocol of the port (`http`, `http2` or `grpc`; default none: TCP).
    #[serde(default)]
    pub app_protocol: Option<AppProtocol>,
    /// The name the app is published under in the namespace (default the app's name).
    #[serde(default)]
    pub discovery_name: Option<String>,
    /// The port clients connect to (default the app's port).
    #[serde(default)]
    pub client_alias_port: Option<u16>,
    /// The name clients connect to (default `<app>.<namespace>`).
    #[serde(default)]
    pub dns_name: Option<String>,
}

impl ServiceConnect {
    /// Server mode with every default: the app's port, published as `<app>.<namespace>`.
    pub fn server() -> Self {
        Self::default()
    }

    /// Client-only mode: the tasks reach the other apps' aliases, publish nothing.
    pub fn client_only() -> Self {
        Self {
            client_only: true,
            ..Self::default()
        }
    }

    /// Check the settings of app `app` listening on `port` (no environment, no AWS).
    ///
    /// # Errors
    /// [`InvalidValue`] naming `<app>.service_connect[.<field>]` and what is allowed.
    pub fn validate(&self, app: &Ident, port: Option<Port>) -> Result<(), InvalidValue> {
        let field = format!("{app}.service_connect");
        if self.client_only {
            let extra = [
                ("port_name", self.port_name.is_some()),
                ("app_protocol", self.app_protocol.is_some()),
                ("discovery_name", self.discovery_name.is_some()),
                ("client_alias_port", self.client_alias_port.is_some()),
                ("dns_name", self.dns_name.is_some()),
            ];
            if let Some((name, _)) = extra.iter().find(|(_, set)| *set) {
                return Err(InvalidValue::new(
                    format!("{field}.{name}"),
                    "set",
                    "a client-only app publishes no port",
                    "client_only: true alone, or server mode (client_only: false) with the port settings",
                ));
            }
            return Ok(());
        }
        if port.is_none() {
            return Err(InvalidValue::new(
                field,
                "server mode",
                "the app has no port to publish",
                "set the app's port, or service_connect {\"client_only\": true}",
            ));
        }
        if let Some(n) = &self.port_name {
            check_ecs_name(&format!("{field}.port_name"), n)?;
        }
        if let Some(n) = &self.discovery_name {
            check_ecs_name(&format!("{field}.discovery_name"), n)?;
        }
        if self.client_alias_port == Some(0) {
            return Err(InvalidValue::new(
                format!("{field}.client_alias_port"),
                "0",
                "not a port",
                "1 to 65535",
            ));
        }
        if let Some(d) = &self.dns_name {
            d.parse::<DnsName>()
                .map_err(|e| e.in_field(format!("{field}.dns_name")))?;
        }
        Ok(())
    }

    /// The port mapping name of the app's port (server mode).
    pub fn port_name_of(&self, app: &Ident) -> Option<String> {
        (!self.client_only).then(|| self.port_name.clone().unwrap_or_else(|| app.to_string()))
    }

    /// What app `app` on `port` publishes in namespace `namespace` (none in client-only
    /// mode or without a port).
    pub fn published(
        &self,
        app: &Ident,
        port: Option<Port>,
        namespace: &DnsName,
    ) -> Option<ConnectService> {
        let port = port?;
        let port_name = self.port_name_of(app)?;
        Some(ConnectService {
            port_name,
            discovery_name: self
                .discovery_name
                .clone()
                .unwrap_or_else(|| app.to_string()),
            port: self.client_alias_port.unwrap_or(u16::from(port)),
            dns_name: self
                .dns_name
                .clone()
                .unwrap_or_else(|| format!("{app}.{namespace}")),
        })
    }
}

/// A port mapping name or discovery name: 1 to 64 characters, lower-case letters, digits,
/// `_` and `-`, not starting with `-` (ECS's rule for port mapping names).
fn check_ecs_name(field: &str, s: &str) -> Result<(), InvalidValue> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            s,
            "not a valid Service Connect name",
            "1 to 64 characters of a-z, 0-9, '_' and '-', not starting with '-'",
        ))
    }
}

/// One published port: `services[]` of the `serviceConnectConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectService {
    /// The task definition's port mapping name.
    pub port_name: String,
    /// The Cloud Map service name ECS creates for it.
    pub discovery_name: String,
    /// The client alias's port.
    pub port: u16,
    /// The client alias's DNS name.
    pub dns_name: String,
}

impl ConnectService {
    /// As compared in plans: `<port name> discovery=<name> alias=<dns>:<port>`.
    fn describe(&self) -> String {
        describe_service(
            &self.port_name,
            &self.discovery_name,
            &self.dns_name,
            self.port,
        )
    }
}

fn describe_service(
    port_name: &str,
    discovery: &str,
    dns: &str,
    port: impl std::fmt::Display,
) -> String {
    format!("{port_name} discovery={discovery} alias={dns}:{port}")
}

/// A Cloud Map service name (and client alias) an app claims in its environment's
/// namespace, checked across apps before any AWS call: two apps may not publish one
/// discovery name (a Service Connect discovery name, or a `discoverable` app's own name)
/// or one client alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The field that makes the claim (`<app>.service_connect.discovery_name`,
    /// `<app>.discoverable`).
    pub field: String,
    /// The app.
    pub app: Ident,
    /// The Cloud Map service name.
    pub discovery_name: String,
    /// The client alias (`dns`, port), for Service Connect.
    pub alias: Option<(String, u16)>,
}

impl Claim {
    /// What a Service Connect app publishes.
    pub fn published(app: &Ident, service: &ConnectService) -> Self {
        Self {
            field: format!("{app}.service_connect.discovery_name"),
            app: app.clone(),
            discovery_name: service.discovery_name.clone(),
            alias: Some((service.dns_name.clone(), service.port)),
        }
    }

    /// A discoverable app's Cloud Map service (named after the app).
    pub fn discoverable(app: &Ident) -> Self {
        Self {
            field: format!("{app}.discoverable"),
            app: app.clone(),
            discovery_name: app.to_string(),
            alias: None,
        }
    }
}

/// Refuse two claims of one discovery name or one client alias (`dns:port`).
///
/// # Errors
/// [`InvalidValue`] naming the second claim's field (`<app>.service_connect.dns_name` for
/// an alias).
pub fn check_claims(claims: &[Claim]) -> Result<(), InvalidValue> {
    for (i, b) in claims.iter().enumerate() {
        for a in &claims[..i] {
            if a.discovery_name == b.discovery_name {
                return Err(InvalidValue::new(
                    &b.field,
                    &b.discovery_name,
                    format!(
                        "{} also names the Cloud Map service {} in the namespace",
                        a.field, a.discovery_name
                    ),
                    "a discovery name no other app (or discoverable app) of the environment uses",
                ));
            }
            if let (Some((dns_a, port_a)), Some((dns_b, port_b))) = (&a.alias, &b.alias)
                && dns_a == dns_b
                && port_a == port_b
            {
                return Err(InvalidValue::new(
                    format!("{}.service_connect.dns_name", b.app),
                    format!("{dns_b}:{port_b}"),
                    format!("app {} has the same client alias", a.app),
                    "another dns_name or client_alias_port",
                ));
            }
        }
    }
    Ok(())
}

/// The ECS service's Service Connect configuration, resolved for one app in one environment.
#[derive(Debug, Clone)]
pub struct ServiceConnectSpec {
    /// The namespace ARN (the namespace's output).
    pub namespace_arn: Ref<String>,
    /// The namespace's resource (a dependency).
    pub namespace_id: ResourceId,
    /// The published ports (empty: client-only).
    pub services: Vec<ConnectService>,
    /// The proxy's log group (the app's).
    pub log_group: String,
    /// The log group's region.
    pub region: String,
}

impl ServiceConnectSpec {
    /// The plan's fields of this configuration, the namespace ARN as the plan knows it.
    pub(crate) fn fields(&self, namespace: &str) -> Fields {
        Fields::new()
            .with("service_connect.enabled", true)
            .with("service_connect.namespace", namespace)
            .with_set(
                "service_connect.services",
                self.services.iter().map(ConnectService::describe),
            )
            .with(
                "service_connect.logs",
                logs_value("awslogs", &self.log_group, &self.region, LOG_STREAM_PREFIX),
            )
    }

    /// The request's configuration, read at apply time.
    pub(crate) fn to_sdk(
        &self,
        ctx: &StepContext,
        resource: &ResourceId,
        operation: &str,
    ) -> Result<ServiceConnectConfiguration, Error> {
        let bad = |e: aws_sdk_ecs::error::BuildError| {
            crate::aws_util::bad_request(resource, operation, e)
        };
        let services = self
            .services
            .iter()
            .map(|s| {
                let alias = ServiceConnectClientAlias::builder()
                    .port(i32::from(s.port))
                    .dns_name(&s.dns_name)
                    .build()
                    .map_err(bad)?;
                ServiceConnectService::builder()
                    .port_name(&s.port_name)
                    .discovery_name(&s.discovery_name)
                    .client_aliases(alias)
                    .build()
                    .map_err(bad)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let logs = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", &self.log_group)
            .options("awslogs-region", &self.region)
            .options("awslogs-stream-prefix", LOG_STREAM_PREFIX)
            .build()
            .map_err(bad)?;
        Ok(ServiceConnectConfiguration::builder()
            .enabled(true)
            .namespace(self.namespace_arn.resolve(ctx)?)
            .set_services((!services.is_empty()).then_some(services))
            .log_configuration(logs)
            .build())
    }
}

/// The configuration that turns Service Connect off.
pub(crate) fn off() -> ServiceConnectConfiguration {
    ServiceConnectConfiguration::builder()
        .enabled(false)
        .build()
}

fn logs_value(driver: &str, group: &str, region: &str, prefix: &str) -> String {
    format!("{driver} group={group} region={region} prefix={prefix}")
}

/// The plan's fields of an observed configuration (pure): the four fields when it is
/// enabled, none when it is disabled (what an app without `service_connect` wants).
pub(crate) fn observed_fields(c: &ServiceConnectConfiguration) -> Fields {
    if !c.enabled() {
        return Fields::new();
    }
    let services = c.services().iter().flat_map(|s| {
        let discovery = s.discovery_name().unwrap_or(s.port_name());
        let aliases = s.client_aliases();
        let port_name = s.port_name();
        // A published port without an alias is reachable by its discovery name only.
        let none = (aliases.is_empty()).then(|| describe_service(port_name, discovery, "", ""));
        aliases
            .iter()
            .map(move |a| {
                describe_service(
                    port_name,
                    discovery,
                    a.dns_name().unwrap_or_default(),
                    a.port(),
                )
            })
            .chain(none)
    });
    let logs = c.log_configuration().map(|l| {
        let opt = |k: &str| {
            l.options()
                .and_then(|o| o.get(k))
                .cloned()
                .unwrap_or_default()
        };
        logs_value(
            l.log_driver().as_str(),
            &opt("awslogs-group"),
            &opt("awslogs-region"),
            &opt("awslogs-stream-prefix"),
        )
    });
    Fields::new()
        .with("service_connect.enabled", true)
        .with(
            "service_connect.namespace",
            c.namespace().unwrap_or_default(),
        )
        .with_set("service_connect.services", services)
        .with(
            "service_connect.logs",
            logs.unwrap_or_else(|| "none".to_string()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(s: &str) -> Ident {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_follow_the_app_and_the_namespace() {
        let ns: DnsName = "prod.internal".parse().unwrap();
        let port = Port::new(8080).ok();
        let s = ServiceConnect::server()
            .published(&app("api"), port, &ns)
            .unwrap();
        assert_eq!(
            s,
            ConnectService {
                port_name: "api".into(),
                discovery_name: "api".into(),
                port: 8080,
                dns_name: "api.prod.internal".into(),
            }
        );
        assert!(
            ServiceConnect::client_only()
                .published(&app("api"), port, &ns)
                .is_none()
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let port = Port::new(8080).ok();
        let e = ServiceConnect::server()
            .validate(&app("w"), None)
            .unwrap_err();
        assert_eq!(e.field, "w.service_connect");
        let bad_name = ServiceConnect {
            port_name: Some("Web".into()),
            ..ServiceConnect::server()
        };
        assert_eq!(
            bad_name.validate(&app("w"), port).unwrap_err().field,
            "w.service_connect.port_name"
        );
        let client = ServiceConnect {
            dns_name: Some("x.internal".into()),
            ..ServiceConnect::client_only()
        };
        assert_eq!(
            client.validate(&app("w"), None).unwrap_err().field,
            "w.service_connect.dns_name"
        );
        let alias = ServiceConnect {
            dns_name: Some("X..internal".into()),
            ..ServiceConnect::server()
        };
        assert_eq!(
            alias.validate(&app("w"), port).unwrap_err().field,
            "w.service_connect.dns_name"
        );
    }

    #[test]
    fn two_apps_may_not_claim_one_name_or_alias() {
        let svc = |d: &str, dns: &str, port| ConnectService {
            port_name: "p".into(),
            discovery_name: d.into(),
            port,
            dns_name: dns.into(),
        };
        let claim = |a: &str, s: ConnectService| Claim::published(&app(a), &s);
        let claims = [
            claim("a", svc("a", "a.ns", 80)),
            claim("b", svc("a", "b.ns", 80)),
        ];
        assert_eq!(
            check_claims(&claims).unwrap_err().field,
            "b.service_connect.discovery_name"
        );
        let claims = [
            claim("a", svc("a", "x.ns", 80)),
            claim("b", svc("b", "x.ns", 80)),
        ];
        assert_eq!(
            check_claims(&claims).unwrap_err().field,
            "b.service_connect.dns_name"
        );
        let claims = [
            claim("a", svc("a", "x.ns", 80)),
            claim("b", svc("b", "x.ns", 81)),
        ];
        assert!(check_claims(&claims).is_ok());
        // A discoverable app's Cloud Map service has the app's name.
        let claims = [
            Claim::discoverable(&app("a")),
            claim("b", svc("a", "b.ns", 80)),
        ];
        assert_eq!(
            check_claims(&claims).unwrap_err().field,
            "b.service_connect.discovery_name"
        );
    }

    #[test]
    fn an_observed_configuration_compares_equal_to_the_desired_one() {
        let spec = ServiceConnectSpec {
            namespace_arn: Ref::Known("arn:ns".into()),
            namespace_id: ResourceId::new("servicediscovery:namespace", "prod.internal"),
            services: vec![ConnectService {
                port_name: "api".into(),
                discovery_name: "api".into(),
                port: 8080,
                dns_name: "api.prod.internal".into(),
            }],
            log_group: "/ecs/prod/api".into(),
            region: "us-east-1".into(),
        };
        let sent = ServiceConnectConfiguration::builder()
            .enabled(true)
            .namespace("arn:ns")
            .services(
                ServiceConnectService::builder()
                    .port_name("api")
                    .discovery_name("api")
                    .client_aliases(
                        ServiceConnectClientAlias::builder()
                            .port(8080)
                            .dns_name("api.prod.internal")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", "/ecs/prod/api")
                    .options("awslogs-region", "us-east-1")
                    .options("awslogs-stream-prefix", "service-connect")
                    .build()
                    .unwrap(),
            )
            .build();
        assert!(
            observed_fields(&sent)
                .diff(&spec.fields("arn:ns"))
                .is_empty()
        );
        assert!(observed_fields(&off()).is_empty());
    }
}
