//! ECS clusters: one per environment, shared by its apps.
//!
//! Start with [`ClusterSpec::for_environment`] (a cluster named after the environment, with
//! Container Insights on and the `FARGATE` and `FARGATE_SPOT` capacity providers, `FARGATE`
//! by default) or [`ClusterSpec::adopt`] (an existing cluster used as it is).
//!
//! Outputs: [`cluster_arn`] and [`cluster_name`].

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster, ClusterField, ClusterSetting, ClusterSettingName, Tag,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, EcsName, Error, Fields, Ident, InvalidValue, Kind, Mode, Resolved,
    ResourceId, Round, StepContext, Tags, ok_unless,
};

use crate::Clients;
use crate::aws_util::{
    adopted_or_deleted, adopted_or_diffed, bad_request, creation_tags, ensure_owned_if_found,
    missing,
};

/// The resource kind of ECS clusters in plans.
pub const KIND: &str = "ecs:cluster";

/// The identity of the cluster `name` in plans.
pub fn cluster_id(name: &EcsName) -> ResourceId {
    ResourceId::new(KIND, name.as_str())
}

/// Output: the cluster ARN.
pub fn cluster_arn(name: &EcsName) -> OutputKey<String> {
    cluster_id(name).output("arn")
}

/// Output: the cluster name.
pub fn cluster_name(name: &EcsName) -> OutputKey<String> {
    cluster_id(name).output("name")
}

/// CloudWatch Container Insights for the cluster.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ContainerInsights {
    /// Task- and service-level metrics (the default).
    #[default]
    Enabled,
    /// Container-level metrics as well (costs more).
    Enhanced,
    /// No Container Insights metrics.
    Disabled,
}

impl ContainerInsights {
    /// The ECS API value: `enabled`, `enhanced` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerInsights::Enabled => "enabled",
            ContainerInsights::Enhanced => "enhanced",
            ContainerInsights::Disabled => "disabled",
        }
    }
}

/// A Fargate capacity provider.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum CapacityProvider {
    /// On-demand Fargate capacity.
    Fargate,
    /// Fargate Spot: up to 70 % cheaper, tasks can be stopped with a two-minute warning.
    FargateSpot,
}

impl CapacityProvider {
    /// The ECS name, `FARGATE` or `FARGATE_SPOT`.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityProvider::Fargate => "FARGATE",
            CapacityProvider::FargateSpot => "FARGATE_SPOT",
        }
    }
}

/// One entry of a capacity provider strategy: `weight` is the relative share of tasks, `base`
/// the number of tasks placed on this provider first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct StrategyItem {
    /// The capacity provider.
    pub provider: CapacityProvider,
    /// Relative share of tasks, 0 to 1000.
    pub weight: u32,
    /// Tasks placed here first, 0 to 100000 (at most one item may have a base).
    pub base: u32,
}

impl StrategyItem {
    /// `weight` for `provider`, no base.
    pub fn new(provider: CapacityProvider, weight: u32) -> Self {
        Self {
            provider,
            weight,
            base: 0,
        }
    }

    /// The same item with a base.
    #[must_use]
    pub fn with_base(mut self, base: u32) -> Self {
        self.base = base;
        self
    }

    fn field(provider: &str, weight: i32, base: i32) -> String {
        format!("{provider} weight={weight} base={base}")
    }
}

/// The desired state of an ECS cluster.
///
/// ```
/// use fargate_core::Ownership;
/// use fargate_deploy::cluster::{ClusterSpec, ContainerInsights};
///
/// let env = "prod".parse()?;
/// let cluster = ClusterSpec::for_environment(&env, Ownership::new(env.clone()))
///     .container_insights(ContainerInsights::Disabled);
/// assert_eq!(cluster.name().as_str(), "prod");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    name: EcsName,
    /// `None` when adopted.
    ownership: Option<Ownership>,
    tags: Tags,
    insights: ContainerInsights,
    strategy: Vec<StrategyItem>,
}

impl ClusterSpec {
    /// The cluster of environment `env`, named after it.
    pub fn for_environment(env: &Ident, ownership: Ownership) -> Self {
        Self::new(EcsName::derive(&[env.as_str()]), ownership)
    }

    /// A cluster named `name`, owned by fargate-rs.
    pub fn new(name: EcsName, ownership: Ownership) -> Self {
        Self {
            ownership: Some(ownership),
            ..Self::adopt(name)
        }
    }

    /// An existing cluster used as it is: it must exist, and is never modified or deleted.
    pub fn adopt(name: EcsName) -> Self {
        Self {
            name,
            ownership: None,
            tags: Tags::new(),
            insights: ContainerInsights::Enabled,
            strategy: vec![StrategyItem::new(CapacityProvider::Fargate, 1)],
        }
    }

    /// Container Insights (default [`ContainerInsights::Enabled`]).
    #[must_use]
    pub fn container_insights(mut self, insights: ContainerInsights) -> Self {
        self.insights = insights;
        self
    }

    /// The default capacity provider strategy for services that do not set one (default:
    /// `FARGATE` weight 1).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `default_capacity_provider_strategy` when it is empty,
    /// names a provider twice, has no positive weight, a weight over 1000, a base over 100000,
    /// or more than one base.
    pub fn default_strategy(mut self, strategy: Vec<StrategyItem>) -> Result<Self, InvalidValue> {
        validate_strategy(&strategy)?;
        self.strategy = strategy;
        Ok(self)
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The cluster name.
    pub fn name(&self) -> &EcsName {
        &self.name
    }

    /// The managed fields of the desired cluster (pure).
    pub fn desired_fields(&self) -> Fields {
        Fields::new()
            .with("container_insights", self.insights.as_str())
            .with_set(
                "capacity_providers",
                [
                    CapacityProvider::Fargate.as_str(),
                    CapacityProvider::FargateSpot.as_str(),
                ],
            )
            .with_set(
                "default_capacity_provider_strategy",
                self.strategy.iter().map(|s| {
                    StrategyItem::field(
                        s.provider.as_str(),
                        i32::try_from(s.weight).unwrap_or(i32::MAX),
                        i32::try_from(s.base).unwrap_or(i32::MAX),
                    )
                }),
            )
    }

    /// The managed fields of a cluster as ECS reports it (pure); a missing Container
    /// Insights setting means `disabled`, a missing base means 0.
    pub fn observed_fields(cluster: &Cluster) -> Fields {
        let insights = cluster
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .unwrap_or("disabled")
            .to_ascii_lowercase();
        Fields::new()
            .with("container_insights", insights)
            .with_set(
                "capacity_providers",
                cluster.capacity_providers().iter().map(String::as_str),
            )
            .with_set(
                "default_capacity_provider_strategy",
                cluster
                    .default_capacity_provider_strategy()
                    .iter()
                    .map(|s| StrategyItem::field(s.capacity_provider(), s.weight(), s.base())),
            )
    }

    #[tracing::instrument(skip_all, fields(resource = %cluster_id(&self.name)))]
    async fn observe(&self, clients: &Clients) -> Result<Option<Cluster>, Error> {
        let id = cluster_id(&self.name);
        let out = clients
            .ecs
            .describe_clusters()
            .clusters(self.name.as_str())
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .context(&id, "DescribeClusters")?;
        Ok(out
            .clusters()
            .iter()
            .find(|c| {
                c.cluster_name() == Some(self.name.as_str()) && c.status() != Some("INACTIVE")
            })
            .cloned())
    }

    /// What observing found, refusing a cluster with our name that is not ours.
    async fn observe_owned(&self, clients: &Clients) -> Result<Option<ObservedCluster>, Error> {
        let id = cluster_id(&self.name);
        let observed = match self.observe(clients).await? {
            Some(c) => Some(ObservedCluster::from_sdk(&c, &id)?),
            None => None,
        };
        if let Some(owner) = &self.ownership {
            ensure_owned_if_found(
                owner,
                &id,
                observed
                    .as_ref()
                    .map(|o| (o.arn.as_str(), o.tags.as_slice())),
            )?;
        }
        Ok(observed)
    }

    #[tracing::instrument(skip_all, fields(resource = %cluster_id(&self.name)))]
    async fn apply(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        change: &Change,
        observed: Option<&ObservedCluster>,
    ) -> Result<(), Error> {
        let id = cluster_id(&self.name);
        match (change, observed) {
            (Change::Create { .. }, _) => {
                let created = self.create(clients, &id).await?;
                created.publish(ctx, &self.name);
            }
            (Change::Update { diffs }, Some(observed)) => {
                let changed = |f: &str| diffs.iter().any(|d| d.field == f);
                if changed("container_insights") {
                    // UpdateCluster sets the same `settings` as UpdateClusterSettings, and is
                    // also what emulators implement.
                    clients
                        .ecs
                        .update_cluster()
                        .cluster(self.name.as_str())
                        .settings(self.insights_setting())
                        .send()
                        .await
                        .context(&id, "UpdateCluster")?;
                }
                if changed("capacity_providers") || changed("default_capacity_provider_strategy") {
                    clients
                        .ecs
                        .put_cluster_capacity_providers()
                        .cluster(self.name.as_str())
                        .set_capacity_providers(Some(all_providers()))
                        .set_default_capacity_provider_strategy(Some(self.sdk_strategy(&id)?))
                        .send()
                        .await
                        .context(&id, "PutClusterCapacityProviders")?;
                }
                observed.publish(ctx, &self.name);
            }
            (Change::Delete, Some(_)) => {
                let out = clients
                    .ecs
                    .delete_cluster()
                    .cluster(self.name.as_str())
                    .send()
                    .await;
                // A retry whose first attempt was applied finds it gone. (CreateCluster
                // needs no such care: it answers with the cluster that exists.)
                ok_unless(out, &id, "DeleteCluster", |e| {
                    e.is_cluster_not_found_exception()
                })?;
            }
            (_, Some(observed)) => observed.publish(ctx, &self.name),
            (_, None) => {}
        }
        Ok(())
    }

    async fn create(&self, clients: &Clients, id: &ResourceId) -> Result<ObservedCluster, Error> {
        let Some(owner) = &self.ownership else {
            return Err(missing(
                id,
                "CreateCluster",
                "ownership for an adopted cluster",
            ));
        };
        let tags = creation_tags(owner, &self.tags, self.name.as_str())
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let out = clients
            .ecs
            .create_cluster()
            .cluster_name(self.name.as_str())
            .settings(self.insights_setting())
            .set_capacity_providers(Some(all_providers()))
            .set_default_capacity_provider_strategy(Some(self.sdk_strategy(id)?))
            .set_tags(Some(tags))
            .send()
            .await
            .context(id, "CreateCluster")?;
        let cluster = out
            .cluster()
            .ok_or_else(|| missing(id, "CreateCluster", "cluster"))?;
        ObservedCluster::from_sdk(cluster, id)
    }

    fn insights_setting(&self) -> ClusterSetting {
        ClusterSetting::builder()
            .name(ClusterSettingName::ContainerInsights)
            .value(self.insights.as_str())
            .build()
    }

    fn sdk_strategy(&self, id: &ResourceId) -> Result<Vec<CapacityProviderStrategyItem>, Error> {
        self.strategy
            .iter()
            .map(|s| {
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(s.provider.as_str())
                    .weight(i32::try_from(s.weight).unwrap_or(i32::MAX))
                    .base(i32::try_from(s.base).unwrap_or(i32::MAX))
                    .build()
                    .map_err(|e| bad_request(id, "PutClusterCapacityProviders", e))
            })
            .collect()
    }
}

impl Kind<Clients> for ClusterSpec {
    type Observed = ObservedCluster;

    fn id(&self) -> ResourceId {
        cluster_id(&self.name)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedCluster>, Error>> {
        Box::pin(self.observe_owned(clients))
    }

    fn diff(&self, observed: Option<&ObservedCluster>, _: &Resolved) -> Result<Change, Error> {
        adopted_or_diffed(
            self.ownership.is_some(),
            observed,
            |o| o.arn.clone(),
            || Error::NotFound {
                resource: cluster_id(&self.name),
                detail: format!(
                    "the ECS cluster {} to adopt does not exist (or is INACTIVE)",
                    self.name
                ),
            },
            |observed| {
                Ok(Change::compute(
                    &self.desired_fields(),
                    observed.map(|o| &o.fields),
                    &[],
                ))
            },
        )
    }

    fn destroy_change(&self, observed: Option<&ObservedCluster>) -> Change {
        adopted_or_deleted(self.ownership.is_some(), observed, |o| o.arn.clone())
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedCluster>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, change, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedCluster,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, &Change::Delete, Some(observed)))
    }
}

fn all_providers() -> Vec<String> {
    vec![
        CapacityProvider::Fargate.as_str().to_string(),
        CapacityProvider::FargateSpot.as_str().to_string(),
    ]
}

fn validate_strategy(strategy: &[StrategyItem]) -> Result<(), InvalidValue> {
    const FIELD: &str = "default_capacity_provider_strategy";
    const ALLOWED: &str = "FARGATE and/or FARGATE_SPOT, each at most once, weights 0 to 1000 with at least one \
                           above 0, a base (0 to 100000) on at most one provider";
    let shown = format!("{strategy:?}");
    let bad = |reason: &str| Err(InvalidValue::new(FIELD, shown.clone(), reason, ALLOWED));
    if strategy.is_empty() {
        return bad("the strategy is empty");
    }
    let mut seen = Vec::with_capacity(strategy.len());
    for item in strategy {
        if seen.contains(&item.provider) {
            return bad("a capacity provider appears more than once");
        }
        seen.push(item.provider);
    }
    if strategy.iter().all(|s| s.weight == 0) {
        return bad("no capacity provider has a weight above 0");
    }
    if strategy.iter().any(|s| s.weight > 1000) {
        return bad("a weight is above 1000");
    }
    if strategy.iter().any(|s| s.base > 100_000) {
        return bad("a base is above 100000");
    }
    if strategy.iter().filter(|s| s.base > 0).count() > 1 {
        return bad("more than one capacity provider has a base");
    }
    Ok(())
}

/// A cluster as observed: its ARN, tags and managed fields.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedCluster {
    arn: String,
    tags: Vec<(String, String)>,
    fields: Fields,
}

impl ObservedCluster {
    fn from_sdk(cluster: &Cluster, id: &ResourceId) -> Result<Self, Error> {
        Ok(Self {
            arn: cluster
                .cluster_arn()
                .ok_or_else(|| missing(id, "DescribeClusters", "clusterArn"))?
                .to_string(),
            tags: cluster
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            fields: ClusterSpec::observed_fields(cluster),
        })
    }

    fn publish(&self, ctx: &StepContext, name: &EcsName) {
        ctx.set(&cluster_arn(name), self.arn.clone());
        ctx.set(&cluster_name(name), name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_are_validated() {
        let ok = vec![
            StrategyItem::new(CapacityProvider::Fargate, 1).with_base(2),
            StrategyItem::new(CapacityProvider::FargateSpot, 3),
        ];
        assert!(validate_strategy(&ok).is_ok());
        let twice = vec![
            StrategyItem::new(CapacityProvider::Fargate, 1),
            StrategyItem::new(CapacityProvider::Fargate, 2),
        ];
        for bad in [
            vec![],
            twice,
            vec![StrategyItem::new(CapacityProvider::Fargate, 0)],
            vec![StrategyItem::new(CapacityProvider::Fargate, 1001)],
            vec![
                StrategyItem::new(CapacityProvider::Fargate, 1).with_base(1),
                StrategyItem::new(CapacityProvider::FargateSpot, 1).with_base(1),
            ],
        ] {
            assert_eq!(
                validate_strategy(&bad).unwrap_err().field,
                "default_capacity_provider_strategy"
            );
        }
    }

    #[test]
    fn missing_insights_setting_means_disabled() {
        let cluster = Cluster::builder().cluster_name("prod").build();
        let fields = ClusterSpec::observed_fields(&cluster);
        assert_eq!(
            fields.get("container_insights"),
            Some(&serde_json::Value::from("disabled"))
        );
    }
}
