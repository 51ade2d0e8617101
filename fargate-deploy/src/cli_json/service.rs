//! `create-service --cli-input-json` ↔ [`ImportedService`].

use std::collections::BTreeMap;

use fargate_core::{EcsName, InvalidValue, Tags};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CliJsonError, ImportReport, Shape, checked_value, non_negative};
use crate::service::Capacity;

const DOCUMENT: &str = "create-service";

const LB: Shape = Shape::Obj(&[
    ("targetGroupArn", Shape::Leaf),
    ("containerName", Shape::Leaf),
    ("containerPort", Shape::Leaf),
]);
const REGISTRY: Shape = Shape::Obj(&[
    ("registryArn", Shape::Leaf),
    ("containerName", Shape::Leaf),
    ("containerPort", Shape::Leaf),
]);
const STRATEGY: Shape = Shape::Obj(&[
    ("capacityProvider", Shape::Leaf),
    ("weight", Shape::Leaf),
    ("base", Shape::Leaf),
]);
const TAG: Shape = Shape::Obj(&[("key", Shape::Leaf), ("value", Shape::Leaf)]);
const CLIENT_ALIAS: Shape = Shape::Obj(&[("port", Shape::Leaf), ("dnsName", Shape::Leaf)]);
const CONNECT_SERVICE: Shape = Shape::Obj(&[
    ("portName", Shape::Leaf),
    ("discoveryName", Shape::Leaf),
    ("clientAliases", Shape::List(&CLIENT_ALIAS)),
]);
const CONNECT: Shape = Shape::Obj(&[
    ("enabled", Shape::Leaf),
    ("namespace", Shape::Leaf),
    ("services", Shape::List(&CONNECT_SERVICE)),
    (
        "logConfiguration",
        Shape::Obj(&[("logDriver", Shape::Leaf), ("options", Shape::Map)]),
    ),
]);
/// A `volumeConfigurations` entry: the managed EBS volume fields the library has
/// ([`crate::ebs::EbsVolume`]) and `roleArn`; `tagSpecifications` and
/// `volumeInitializationRate` are refused (see [`EBS_REASONS`]).
const VOLUME_CONFIGURATION: Shape = Shape::Obj(&[
    ("name", Shape::Leaf),
    (
        "managedEBSVolume",
        Shape::Obj(&[
            ("roleArn", Shape::Leaf),
            ("volumeType", Shape::Leaf),
            ("sizeInGiB", Shape::Leaf),
            ("iops", Shape::Leaf),
            ("throughput", Shape::Leaf),
            ("filesystemType", Shape::Leaf),
            ("snapshotId", Shape::Leaf),
            ("encrypted", Shape::Leaf),
            ("kmsKeyId", Shape::Leaf),
        ]),
    ),
]);
/// Why the `managedEBSVolume` fields the library lacks are refused.
const EBS_REASONS: [(&str, &str); 2] = [
    (
        "tagSpecifications",
        "not supported: the volumes get the app's tags (its ownership and user tags, \
         fargate_deploy::ebs), not tags of their own",
    ),
    (
        "volumeInitializationRate",
        "not supported yet: the initialization rate of a volume created from a snapshot",
    ),
];
const SERVICE: Shape = Shape::Obj(&[
    ("cluster", Shape::Leaf),
    ("serviceName", Shape::Leaf),
    ("taskDefinition", Shape::Leaf),
    ("desiredCount", Shape::Leaf),
    ("launchType", Shape::Leaf),
    ("capacityProviderStrategy", Shape::List(&STRATEGY)),
    ("platformVersion", Shape::Leaf),
    (
        "networkConfiguration",
        Shape::Obj(&[(
            "awsvpcConfiguration",
            Shape::Obj(&[
                ("subnets", Shape::Leaf),
                ("securityGroups", Shape::Leaf),
                ("assignPublicIp", Shape::Leaf),
            ]),
        )]),
    ),
    ("loadBalancers", Shape::List(&LB)),
    ("serviceRegistries", Shape::List(&REGISTRY)),
    ("serviceConnectConfiguration", CONNECT),
    ("healthCheckGracePeriodSeconds", Shape::Leaf),
    (
        "deploymentConfiguration",
        Shape::Obj(&[
            ("minimumHealthyPercent", Shape::Leaf),
            ("maximumPercent", Shape::Leaf),
            (
                "deploymentCircuitBreaker",
                Shape::Obj(&[("enable", Shape::Leaf), ("rollback", Shape::Leaf)]),
            ),
        ]),
    ),
    ("enableECSManagedTags", Shape::Leaf),
    ("propagateTags", Shape::Leaf),
    ("enableExecuteCommand", Shape::Leaf),
    ("tags", Shape::List(&TAG)),
    ("volumeConfigurations", Shape::List(&VOLUME_CONFIGURATION)),
]);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServiceJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
    service_name: String,
    task_definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    desired_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    launch_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    capacity_provider_strategy: Vec<StrategyJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform_version: Option<String>,
    network_configuration: NetworkJson,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    load_balancers: Vec<LbJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    service_registries: Vec<RegistryJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_connect_configuration: Option<ConnectJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_check_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deployment_configuration: Option<DeploymentJson>,
    #[serde(
        default,
        rename = "enableECSManagedTags",
        skip_serializing_if = "std::ops::Not::not"
    )]
    enable_ecs_managed_tags: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    propagate_tags: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    enable_execute_command: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    volume_configurations: Vec<VolumeConfigurationJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VolumeConfigurationJson {
    name: String,
    #[serde(rename = "managedEBSVolume")]
    managed_ebs_volume: ManagedEbsJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ManagedEbsJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    volume_type: Option<String>,
    #[serde(default, rename = "sizeInGiB", skip_serializing_if = "Option::is_none")]
    size_in_gib: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iops: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    throughput: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filesystem_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
}

/// A managed EBS volume of the service's tasks (`volumeConfigurations[].managedEBSVolume`),
/// for the task definition's volume `name` configured at launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedEbsVolume {
    /// The task definition volume it configures (`configuredAtLaunch: true`).
    pub name: String,
    /// Its settings in the library's terms (an app's `AppVolume::ebs`).
    pub ebs: crate::ebs::EbsVolume,
    /// The document's `roleArn`, kept for the export: a deployed app uses its own
    /// infrastructure role instead (`<env>-<app>-ecs-ebs`, see [`crate::ebs`]).
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StrategyJson {
    capacity_provider: String,
    #[serde(default)]
    weight: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NetworkJson {
    awsvpc_configuration: AwsvpcJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AwsvpcJson {
    subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    security_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assign_public_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LbJson {
    target_group_arn: String,
    container_name: String,
    container_port: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegistryJson {
    registry_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_port: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectJson {
    enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    services: Vec<ConnectServiceJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_configuration: Option<ConnectLogJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectServiceJson {
    port_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    discovery_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    client_aliases: Vec<ClientAliasJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientAliasJson {
    port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dns_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectLogJson {
    log_driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeploymentJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minimum_healthy_percent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    maximum_percent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deployment_circuit_breaker: Option<CircuitBreaker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagJson {
    key: String,
    value: String,
}

/// A load balancer target group the service's tasks register in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedLoadBalancer {
    /// The target group ARN.
    pub target_group_arn: String,
    /// The container that receives traffic.
    pub container_name: String,
    /// Its port.
    pub container_port: u16,
}

/// A Cloud Map service the service's tasks register in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedServiceRegistry {
    /// The Cloud Map service ARN.
    pub registry_arn: String,
    /// The container to register (SRV records).
    pub container_name: Option<String>,
    /// Its port (SRV records).
    pub container_port: Option<u16>,
}

/// The `serviceConnectConfiguration`, as far as an app can express it: on or off, the
/// namespace, at most one published port with at most one client alias, and the proxy's
/// awslogs configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedServiceConnect {
    /// `enabled`.
    pub enabled: bool,
    /// The namespace (name or ARN), if given (an app uses its environment's).
    pub namespace: Option<String>,
    /// The published port (none: client only).
    pub service: Option<ImportedConnectService>,
    /// The proxy's awslogs options, if given (an app's proxy logs to the app's log group).
    pub log_options: Option<BTreeMap<String, String>>,
}

/// One published port of Service Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedConnectService {
    /// The task definition's port mapping name.
    pub port_name: String,
    /// The discovery name, if given (ECS's default: the port name).
    pub discovery_name: Option<String>,
    /// The client alias (port, DNS name), if given.
    pub client_alias: Option<(u16, Option<String>)>,
}

impl ImportedServiceConnect {
    /// The app's [`ServiceConnect`](crate::service_connect::ServiceConnect) (`None` when
    /// disabled): the published port's names and alias, or client-only.
    pub fn to_app(&self) -> Option<crate::service_connect::ServiceConnect> {
        if !self.enabled {
            return None;
        }
        Some(match &self.service {
            None => crate::service_connect::ServiceConnect::client_only(),
            Some(s) => crate::service_connect::ServiceConnect {
                port_name: Some(s.port_name.clone()),
                discovery_name: s.discovery_name.clone(),
                client_alias_port: s.client_alias.as_ref().map(|(p, _)| *p),
                dns_name: s.client_alias.as_ref().and_then(|(_, d)| d.clone()),
                ..crate::service_connect::ServiceConnect::server()
            },
        })
    }
}

/// The deployment circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Whether a deployment that cannot reach steady state is stopped.
    pub enable: bool,
    /// Whether it is then rolled back to the last completed deployment.
    pub rollback: bool,
}

/// A `create-service --cli-input-json` document mapped to the library's types, from which a
/// tool builds a [`crate::service::ServiceSpec`] (field names match it).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedService {
    /// The cluster (name or ARN), if given.
    pub cluster: Option<String>,
    /// The service name.
    pub name: EcsName,
    /// The task definition (family, `family:revision` or ARN).
    pub task_definition: String,
    /// Desired task count (`None`: not given, ECS's default of 0 or autoscaling).
    pub desired_count: Option<u32>,
    /// Subnets for the tasks.
    pub subnets: Vec<String>,
    /// Security groups for the tasks.
    pub security_groups: Vec<String>,
    /// Whether tasks get a public IP.
    pub assign_public_ip: bool,
    /// Load balancer attachments.
    pub load_balancers: Vec<ImportedLoadBalancer>,
    /// Cloud Map registries.
    pub service_registries: Vec<ImportedServiceRegistry>,
    /// ECS Service Connect, if configured.
    pub service_connect: Option<ImportedServiceConnect>,
    /// Seconds ECS ignores failing LB health checks after a task starts.
    pub health_check_grace_period: Option<u32>,
    /// Minimum healthy percent during a deployment (default 100).
    pub minimum_healthy_percent: u32,
    /// Maximum percent during a deployment (default 200).
    pub maximum_percent: u32,
    /// The deployment circuit breaker, if configured.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Fargate / Fargate Spot split.
    pub capacity: Capacity,
    /// The Fargate platform version, if pinned.
    pub platform_version: Option<String>,
    /// `enableECSManagedTags`.
    pub enable_ecs_managed_tags: bool,
    /// `propagateTags` (`SERVICE`, `TASK_DEFINITION` or `NONE`), if given.
    pub propagate_tags: Option<String>,
    /// ECS Exec.
    pub enable_execute_command: bool,
    /// User tags.
    pub tags: Tags,
    /// Managed EBS volumes (`volumeConfigurations`, at most one on Fargate).
    pub ebs_volumes: Vec<ImportedEbsVolume>,
}

impl ImportedService {
    /// Parse and check a `create-service --cli-input-json` document.
    ///
    /// # Errors
    /// [`CliJsonError::Unsupported`] listing every unsupported or unknown field path (for
    /// example `placementConstraints`, `launchType=EC2`, a capacity provider other than
    /// `FARGATE`/`FARGATE_SPOT`, a base on `FARGATE_SPOT`), [`CliJsonError::Json`] for malformed
    /// JSON or a missing `serviceName`/`taskDefinition`/`networkConfiguration`,
    /// [`CliJsonError::Invalid`] for an invalid name, port, count, tag, or both `launchType`
    /// and `capacityProviderStrategy`.
    pub fn from_json(json: &str) -> Result<Self, CliJsonError> {
        Self::from_json_with_report(json).map(|(service, _)| service)
    }

    /// As [`from_json`](Self::from_json), and what the import accepted without using it or
    /// read differently: a `describe-services` output of one service is unwrapped, empty and
    /// `null` fields and read-only fields are ignored, and so are `schedulingStrategy: REPLICA`
    /// and `deploymentController: {type: ECS}` (ECS's own defaults for a Fargate service),
    /// each with a note.
    ///
    /// ```
    /// use fargate_deploy::cli_json::ImportedService;
    /// let json = r#"{ "serviceName": "web", "taskDefinition": "web:3", "desiredCount": 2,
    ///   "schedulingStrategy": "REPLICA", "deploymentController": { "type": "ECS" },
    ///   "networkConfiguration": { "awsvpcConfiguration": { "subnets": ["subnet-0123456789abcdef0"] } } }"#;
    /// let (service, report) = ImportedService::from_json_with_report(json)?;
    /// assert_eq!(service.desired_count, Some(2));
    /// assert_eq!(report.notes.len(), 2);
    /// # Ok::<(), fargate_deploy::cli_json::CliJsonError>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json).
    pub fn from_json_with_report(json: &str) -> Result<(Self, ImportReport), CliJsonError> {
        let mut report = ImportReport::default();
        let value = super::lenient::prepare_service(serde_json::from_str(json)?, &mut report);
        let value =
            checked_value(value, DOCUMENT, &SERVICE, unsupported_values).map_err(with_reasons)?;
        let service = Self::from_checked(value)?;
        for (i, v) in service.ebs_volumes.iter().enumerate() {
            let at = format!("volumeConfigurations[{i}].managedEBSVolume");
            if let Some(role) = &v.role_arn {
                report.notes.push(format!(
                    "{at}.roleArn: {role} is kept in the exported document, but a deployed \
                     app's volumes use the app's own ECS infrastructure role \
                     (<env>-<app>-ecs-ebs, fargate_deploy::ebs) instead"
                ));
            }
        }
        for (i, v) in value_volumes(json).iter().enumerate() {
            if v.pointer("/managedEBSVolume/encrypted").is_none() {
                report.notes.push(format!(
                    "volumeConfigurations[{i}].managedEBSVolume.encrypted: absent, read as true \
                     (the library encrypts volumes unless told not to; ECS's default is the \
                     account's EBS encryption setting)"
                ));
            }
        }
        Ok((service, report))
    }

    fn from_checked(value: Value) -> Result<Self, CliJsonError> {
        let d: ServiceJson = super::typed(value, DOCUMENT)?;
        if d.launch_type.is_some() && !d.capacity_provider_strategy.is_empty() {
            return Err(InvalidValue::new(
                "launchType",
                "FARGATE",
                "given together with capacityProviderStrategy",
                "either launchType or capacityProviderStrategy",
            )
            .into());
        }
        let mut capacity = Capacity::default();
        if !d.capacity_provider_strategy.is_empty() {
            capacity.on_demand_weight = 0;
        }
        for s in &d.capacity_provider_strategy {
            let weight = non_negative("capacityProviderStrategy.weight", s.weight)?;
            match s.capacity_provider.as_str() {
                "FARGATE" => {
                    capacity.on_demand_weight = weight;
                    capacity.on_demand_base =
                        non_negative("capacityProviderStrategy.base", s.base.unwrap_or(0))?;
                }
                _ => capacity.spot_weight = weight,
            }
        }
        let vpc = &d.network_configuration.awsvpc_configuration;
        // Ids and ARNs that cannot be real (placeholders), every one in one round.
        let at = "networkConfiguration.awsvpcConfiguration";
        let mut errors: Vec<InvalidValue> = Vec::new();
        errors.extend(vpc.subnets.iter().enumerate().filter_map(|(i, id)| {
            super::ec2_id(&format!("{at}.subnets[{i}]"), id, "subnet").err()
        }));
        errors.extend(
            vpc.security_groups
                .iter()
                .enumerate()
                .filter_map(|(i, id)| {
                    super::ec2_id(&format!("{at}.securityGroups[{i}]"), id, "sg").err()
                }),
        );
        errors.extend(d.load_balancers.iter().enumerate().filter_map(|(i, lb)| {
            super::target_group_arn(
                &format!("loadBalancers[{i}].targetGroupArn"),
                &lb.target_group_arn,
            )
            .err()
        }));
        let service_connect = d
            .service_connect_configuration
            .as_ref()
            .map(|c| imported_connect(c, &mut errors));
        let ebs_volumes: Vec<ImportedEbsVolume> = d
            .volume_configurations
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match ebs_volume(i, v) {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            })
            .collect();
        if ebs_volumes.len() > 1 {
            errors.push(InvalidValue::new(
                "volumeConfigurations[1]",
                &ebs_volumes[1].name,
                "a Fargate task takes at most one managed EBS volume",
                "one volume configuration; more storage as EFS volumes",
            ));
        }
        if !errors.is_empty() {
            return Err(CliJsonError::from_invalid(errors));
        }
        let deployment = d.deployment_configuration.as_ref();
        let percent = |field: &str, v: Option<i64>, default: u32| match v {
            Some(n) => non_negative(field, n),
            None => Ok(default),
        };
        Ok(Self {
            cluster: d.cluster.clone(),
            name: d
                .service_name
                .parse()
                .map_err(|e: InvalidValue| e.in_field("serviceName"))?,
            task_definition: d.task_definition.clone(),
            desired_count: d
                .desired_count
                .map(|n| non_negative("desiredCount", n))
                .transpose()?,
            subnets: vpc.subnets.clone(),
            security_groups: vpc.security_groups.clone(),
            assign_public_ip: vpc.assign_public_ip.as_deref() == Some("ENABLED"),
            load_balancers: d
                .load_balancers
                .iter()
                .map(|lb| {
                    Ok(ImportedLoadBalancer {
                        target_group_arn: lb.target_group_arn.clone(),
                        container_name: lb.container_name.clone(),
                        container_port: port("loadBalancers.containerPort", lb.container_port)?,
                    })
                })
                .collect::<Result<_, InvalidValue>>()?,
            service_registries: d
                .service_registries
                .iter()
                .map(|r| {
                    Ok(ImportedServiceRegistry {
                        registry_arn: r.registry_arn.clone(),
                        container_name: r.container_name.clone(),
                        container_port: r
                            .container_port
                            .map(|p| port("serviceRegistries.containerPort", p))
                            .transpose()?,
                    })
                })
                .collect::<Result<_, InvalidValue>>()?,
            service_connect,
            health_check_grace_period: d
                .health_check_grace_period_seconds
                .map(|n| non_negative("healthCheckGracePeriodSeconds", n))
                .transpose()?,
            minimum_healthy_percent: percent(
                "deploymentConfiguration.minimumHealthyPercent",
                deployment.and_then(|c| c.minimum_healthy_percent),
                100,
            )?,
            maximum_percent: percent(
                "deploymentConfiguration.maximumPercent",
                deployment.and_then(|c| c.maximum_percent),
                200,
            )?,
            circuit_breaker: deployment.and_then(|c| c.deployment_circuit_breaker),
            capacity,
            platform_version: d.platform_version.clone(),
            enable_ecs_managed_tags: d.enable_ecs_managed_tags,
            propagate_tags: d.propagate_tags.clone(),
            enable_execute_command: d.enable_execute_command,
            tags: Tags::try_from_iter(d.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
                .map_err(|e| e.in_field("tags"))?,
            ebs_volumes,
        })
    }

    /// The service as a normalized `create-service --cli-input-json` document (see the
    /// [module documentation](super)).
    pub fn to_json(&self) -> Value {
        let (launch_type, strategy) = if self.capacity == Capacity::default() {
            (Some("FARGATE".to_string()), Vec::new())
        } else {
            let mut s = vec![StrategyJson {
                capacity_provider: "FARGATE".to_string(),
                weight: i64::from(self.capacity.on_demand_weight),
                base: (self.capacity.on_demand_base > 0)
                    .then_some(i64::from(self.capacity.on_demand_base)),
            }];
            if self.capacity.spot_weight > 0 {
                s.push(StrategyJson {
                    capacity_provider: "FARGATE_SPOT".to_string(),
                    weight: i64::from(self.capacity.spot_weight),
                    base: None,
                });
            }
            (None, s)
        };
        let doc = ServiceJson {
            cluster: self.cluster.clone(),
            service_name: self.name.as_str().to_string(),
            task_definition: self.task_definition.clone(),
            desired_count: self.desired_count.map(i64::from),
            launch_type,
            capacity_provider_strategy: strategy,
            platform_version: self.platform_version.clone(),
            network_configuration: NetworkJson {
                awsvpc_configuration: AwsvpcJson {
                    subnets: self.subnets.clone(),
                    security_groups: self.security_groups.clone(),
                    assign_public_ip: Some(
                        if self.assign_public_ip {
                            "ENABLED"
                        } else {
                            "DISABLED"
                        }
                        .to_string(),
                    ),
                },
            },
            load_balancers: self
                .load_balancers
                .iter()
                .map(|lb| LbJson {
                    target_group_arn: lb.target_group_arn.clone(),
                    container_name: lb.container_name.clone(),
                    container_port: i64::from(lb.container_port),
                })
                .collect(),
            service_registries: self
                .service_registries
                .iter()
                .map(|r| RegistryJson {
                    registry_arn: r.registry_arn.clone(),
                    container_name: r.container_name.clone(),
                    container_port: r.container_port.map(i64::from),
                })
                .collect(),
            service_connect_configuration: self.service_connect.as_ref().map(|c| ConnectJson {
                enabled: c.enabled,
                namespace: c.namespace.clone(),
                services: c
                    .service
                    .iter()
                    .map(|s| ConnectServiceJson {
                        port_name: s.port_name.clone(),
                        discovery_name: s.discovery_name.clone(),
                        client_aliases: s
                            .client_alias
                            .iter()
                            .map(|(port, dns)| ClientAliasJson {
                                port: i64::from(*port),
                                dns_name: dns.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                log_configuration: c.log_options.as_ref().map(|o| ConnectLogJson {
                    log_driver: "awslogs".to_string(),
                    options: o.clone(),
                }),
            }),
            health_check_grace_period_seconds: self.health_check_grace_period.map(i64::from),
            deployment_configuration: Some(DeploymentJson {
                minimum_healthy_percent: Some(i64::from(self.minimum_healthy_percent)),
                maximum_percent: Some(i64::from(self.maximum_percent)),
                deployment_circuit_breaker: self.circuit_breaker,
            }),
            enable_ecs_managed_tags: self.enable_ecs_managed_tags,
            propagate_tags: self.propagate_tags.clone(),
            enable_execute_command: self.enable_execute_command,
            tags: self
                .tags
                .iter()
                .map(|(k, v)| TagJson {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            volume_configurations: self
                .ebs_volumes
                .iter()
                .map(|v| VolumeConfigurationJson {
                    name: v.name.clone(),
                    managed_ebs_volume: ManagedEbsJson {
                        role_arn: v.role_arn.clone(),
                        volume_type: Some(v.ebs.volume_type.clone()),
                        size_in_gib: v.ebs.size_gib.map(i64::from),
                        iops: v.ebs.iops.map(i64::from),
                        throughput: v.ebs.throughput.map(i64::from),
                        filesystem_type: Some(v.ebs.filesystem_type.clone()),
                        snapshot_id: v.ebs.snapshot_id.clone(),
                        encrypted: Some(v.ebs.encrypted),
                        kms_key_id: v.ebs.kms_key_id.clone(),
                    },
                })
                .collect(),
        };
        serde_json::to_value(doc).unwrap_or(Value::Null)
    }
}

/// The document's `volumeConfigurations` as given (for the notes), none when it does not parse.
fn value_volumes(json: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| {
            // A describe-services output of one service: its service.
            let v = v.pointer("/services/0").cloned().unwrap_or(v);
            v.get("volumeConfigurations")
                .and_then(Value::as_array)
                .cloned()
        })
        .unwrap_or_default()
}

/// The library's names of [`crate::ebs::EbsVolume`]'s fields, in the document's terms.
const EBS_FIELDS: [(&str, &str); 7] = [
    ("size_gib", "sizeInGiB"),
    ("volume_type", "volumeType"),
    ("iops", "iops"),
    ("throughput", "throughput"),
    ("filesystem_type", "filesystemType"),
    ("snapshot_id", "snapshotId"),
    ("kms_key_id", "kmsKeyId"),
];

/// `volumeConfigurations[i]` as a managed EBS volume, checked with the library's rules
/// ([`crate::ebs::EbsVolume::validate`]), every invalid field named by its document path.
fn ebs_volume(
    i: usize,
    v: &VolumeConfigurationJson,
) -> Result<ImportedEbsVolume, Vec<InvalidValue>> {
    let at = format!("volumeConfigurations[{i}].managedEBSVolume");
    let m = &v.managed_ebs_volume;
    let mut errors = Vec::new();
    if let Err(e) = crate::task_definition::volume::validate_volume_name(&v.name) {
        errors.push(e.in_field(format!("volumeConfigurations[{i}].name")));
    }
    if let Some(role) = &m.role_arn
        && let Err(e) = super::role_arn(&format!("{at}.roleArn"), role)
    {
        errors.push(e);
    }
    let mut number = |field: &str, n: Option<i64>| {
        n.and_then(|n| match non_negative(&format!("{at}.{field}"), n) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(e);
                None
            }
        })
    };
    let size_gib = number("sizeInGiB", m.size_in_gib);
    let iops = number("iops", m.iops);
    let throughput = number("throughput", m.throughput);
    let mut ebs = crate::ebs::EbsVolume::new(0);
    ebs.size_gib = size_gib;
    ebs.iops = iops;
    ebs.throughput = throughput;
    if let Some(t) = &m.volume_type {
        ebs.volume_type = t.clone();
    }
    if let Some(fs) = &m.filesystem_type {
        ebs.filesystem_type = fs.clone();
    }
    ebs.snapshot_id = m.snapshot_id.clone();
    ebs.encrypted = m.encrypted.unwrap_or(true);
    ebs.kms_key_id = m.kms_key_id.clone();
    if errors.is_empty()
        && let Err(mut e) = ebs.validate("")
    {
        let name = e.field.trim_start_matches('.').to_string();
        let doc = EBS_FIELDS
            .iter()
            .find(|(lib, _)| *lib == name)
            .map_or(name.as_str(), |(_, doc)| doc);
        e.field = format!("{at}.{doc}");
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(ImportedEbsVolume {
            name: v.name.clone(),
            ebs,
            role_arn: m.role_arn.clone(),
        })
    } else {
        Err(errors)
    }
}

fn port(field: &str, n: i64) -> Result<u16, InvalidValue> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| InvalidValue::new(field, n.to_string(), "not a port", "1 to 65535"))
}

/// The Service Connect configuration of a checked document (one service, one alias and
/// the awslogs driver are checked by [`unsupported_values`]); invalid values are added to
/// `errors`, with the document's others.
fn imported_connect(c: &ConnectJson, errors: &mut Vec<InvalidValue>) -> ImportedServiceConnect {
    let at = "serviceConnectConfiguration.services[0]";
    let service = c.services.first().map(|s| {
        let client_alias = s.client_aliases.first().and_then(|a| {
            match port(&format!("{at}.clientAliases[0].port"), a.port) {
                Ok(p) => Some((p, a.dns_name.clone())),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        });
        ImportedConnectService {
            port_name: s.port_name.clone(),
            discovery_name: s.discovery_name.clone(),
            client_alias,
        }
    });
    // What the app would be: the names checked as the library checks them.
    let imported = ImportedServiceConnect {
        enabled: c.enabled,
        namespace: c.namespace.clone(),
        service,
        log_options: c.log_configuration.as_ref().map(|l| l.options.clone()),
    };
    if let Some(sc) = imported.to_app()
        && let Ok(app) = "app".parse::<fargate_core::Ident>()
        && let Ok(p) = fargate_core::Port::new(1)
        && let Err(e) = sc.validate(&app, Some(p))
    {
        let field = e.field.replacen("app.service_connect", at, 1);
        let field = match field.rsplit_once('.') {
            Some((head, "port_name")) => format!("{head}.portName"),
            Some((head, "discovery_name")) => format!("{head}.discoveryName"),
            Some((head, "dns_name")) => format!("{head}.clientAliases[0].dnsName"),
            _ => field,
        };
        errors.push(InvalidValue::new(field, e.value, e.reason, e.allowed));
    }
    imported
}

/// Why each unsupported Service Connect, Cloud Map or `managedEBSVolume` field is refused,
/// as hints.
fn with_reasons(e: CliJsonError) -> CliJsonError {
    let CliJsonError::Unsupported {
        document,
        fields,
        mut hints,
    } = e
    else {
        return e;
    };
    for f in &fields {
        let connect_item =
            f.starts_with("serviceConnectConfiguration.services[") && f.ends_with(']');
        let ebs = EBS_REASONS.iter().find(|(name, _)| {
            f.starts_with("volumeConfigurations[")
                && f.ends_with(&format!(".managedEBSVolume.{name}"))
        });
        let why = if let Some((_, why)) = ebs {
            why
        } else if connect_item && f.contains(".clientAliases[") {
            "an app's published port has one client alias (client_alias_port, dns_name)"
        } else if connect_item {
            "an app publishes one port with Service Connect (its `port`): at most one service"
        } else if f.starts_with("serviceConnectConfiguration.logConfiguration.logDriver=") {
            "the Service Connect proxy logs with awslogs to the app's log group"
        } else if f.starts_with("serviceConnectConfiguration.") {
            "not supported yet: Service Connect takes portName, discoveryName, one client alias (port, dnsName) and awslogs logs"
        } else if f.starts_with("serviceRegistries[") && f.ends_with(']') {
            "an app registers in one Cloud Map service (`discoverable`)"
        } else {
            continue;
        };
        hints.push(format!("{f}: {why}"));
    }
    hints.sort();
    CliJsonError::Unsupported {
        document,
        fields,
        hints,
    }
}

fn unsupported_values(v: &Value, out: &mut Vec<String>) {
    if let Some(sc) = v.get("serviceConnectConfiguration") {
        let services = sc
            .get("services")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for i in 1..services.len() {
            out.push(format!("serviceConnectConfiguration.services[{i}]"));
        }
        for (i, s) in services.iter().enumerate() {
            let aliases = s
                .get("clientAliases")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for j in 1..aliases {
                out.push(format!(
                    "serviceConnectConfiguration.services[{i}].clientAliases[{j}]"
                ));
            }
        }
        if let Some(driver) = sc
            .pointer("/logConfiguration/logDriver")
            .and_then(Value::as_str)
            && driver != "awslogs"
        {
            out.push(format!(
                "serviceConnectConfiguration.logConfiguration.logDriver={driver}"
            ));
        }
    }
    let registries = v
        .get("serviceRegistries")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 1..registries {
        out.push(format!("serviceRegistries[{i}]"));
    }
    // A base on FARGATE_SPOT: `Capacity` has a base for FARGATE only.
    super::non_fargate_launch(v, out, |i, s, out| {
        if s.get("base")
            .and_then(Value::as_i64)
            .is_some_and(|b| b != 0)
        {
            out.push(format!("capacityProviderStrategy[{i}].base"));
        }
    });
    if let Some(p) = v.get("propagateTags").and_then(Value::as_str)
        && !matches!(p, "SERVICE" | "TASK_DEFINITION" | "NONE")
    {
        out.push(format!("propagateTags={p}"));
    }
}
