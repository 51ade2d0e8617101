//! The environment's app registry: which apps are deployed in an environment
//! and what each needs of the environment's shared resources.
//!
//! Every app applied into an environment registers itself as the SSM
//! parameter `/fargate-rs/<environment>/apps/<app>` (a JSON [`Registration`]:
//! the app's kind and its [`Needs`] of the shared load balancers). Planning
//! reads the whole registry with one `GetParametersByPath`, so that:
//!
//! - the shared security-group rules, ALB and NLB are computed from **every**
//!   app of the environment, not only the apps passed to one call (two app
//!   files deployed separately into one environment don't undo each other);
//! - collisions with apps deployed from another file (an NLB port, a rule
//!   priority or path) are refused at plan time, naming the other app;
//! - destroying some apps never removes environment resources (network,
//!   cluster, load balancers) that other registered apps still use: the plan
//!   says which apps keep them.
//!
//! A registration is a resource like any other (created, updated when the
//! app's needs change, a no-op otherwise) and is deleted last when its app is
//! destroyed, so a destroy that stops halfway leaves the app registered and
//! the environment kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ssm::types::{ParameterType, Tag};
use fargate_core::exec::StepContext;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Ident, Kind, Mode, Resolved, Resource, ResourceId, Round,
};
use serde::{Deserialize, Serialize};

use crate::Clients;
use crate::aws_util::creation_tags;
use crate::shared_lb::Needs;

/// The resource kind of app registrations in plans.
pub const KIND: &str = "ssm:app-registration";

/// What the registry records of one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Always `fargate-rs`: tells a registration from a foreign parameter.
    pub managed_by: String,
    /// The app's name.
    pub app: Ident,
    /// What it needs of the environment's shared load balancers.
    pub needs: Needs,
    /// The app has (or had) an ECS infrastructure role for EBS volumes
    /// (`<env>-<app>-ecs-ebs`, [`crate::ebs`]): an app whose volume is removed plans the
    /// role's deletion from this. Left out of the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub volume_role: bool,
}

impl Registration {
    /// The registration of `app` with `needs`.
    pub fn new(app: Ident, needs: Needs) -> Self {
        Self {
            managed_by: Ownership::MANAGED_BY_VALUE.to_string(),
            app,
            needs,
            volume_role: false,
        }
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn decode(value: &str) -> Option<Self> {
        serde_json::from_str::<Self>(value)
            .ok()
            .filter(|r| r.managed_by == Ownership::MANAGED_BY_VALUE)
    }
}

/// The registry's path for `env`: `/fargate-rs/<env>/apps/`.
pub fn path(env: &Ident) -> String {
    format!("/fargate-rs/{env}/apps/")
}

/// The identity of `app`'s registration in `env`.
pub fn registration_id(env: &Ident, app: &Ident) -> ResourceId {
    ResourceId::new(KIND, format!("{env}/{app}"))
}

/// Every app registered in `env`, by name (one paginated `GetParametersByPath`).
/// Parameters under the path that are not registrations are skipped.
///
/// # Errors
/// AWS errors.
pub async fn registered(clients: &Clients, env: &Ident) -> Result<BTreeMap<Ident, Needs>, Error> {
    Ok(registrations(clients, env)
        .await?
        .into_iter()
        .map(|(app, r)| (app, r.needs))
        .collect())
}

/// Every registration in `env`, by app name (one paginated `GetParametersByPath`).
///
/// # Errors
/// AWS errors.
#[tracing::instrument(skip_all, fields(environment = %env))]
pub async fn registrations(
    clients: &Clients,
    env: &Ident,
) -> Result<BTreeMap<Ident, Registration>, Error> {
    let id = ResourceId::new(KIND, env.to_string());
    let mut out = BTreeMap::new();
    let mut pages = clients
        .ssm
        .get_parameters_by_path()
        .path(path(env))
        .recursive(false)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context(&id, "GetParametersByPath")?;
        for p in page.parameters() {
            match p.value().and_then(Registration::decode) {
                Some(r) => {
                    out.insert(r.app.clone(), r);
                }
                None => tracing::warn!(
                    parameter = p.name().unwrap_or_default(),
                    "not a fargate-rs app registration; ignored"
                ),
            }
        }
    }
    Ok(out)
}

/// The registration of one app, as a resource.
#[derive(Debug, Clone)]
pub(crate) struct AppRegistration {
    env: Ident,
    registration: Registration,
}

impl AppRegistration {
    pub(crate) fn new(env: &Ident, app: &Ident, needs: Needs) -> Self {
        Self {
            env: env.clone(),
            registration: Registration::new(app.clone(), needs),
        }
    }

    /// Record that the app has (or had) its EBS infrastructure role.
    pub(crate) fn with_volume_role(mut self, on: bool) -> Self {
        self.registration.volume_role = on;
        self
    }

    fn id(&self) -> ResourceId {
        registration_id(&self.env, &self.registration.app)
    }

    fn name(&self) -> String {
        format!("{}{}", path(&self.env), self.registration.app)
    }

    fn fields(r: &Registration) -> Fields {
        let mut rules: Vec<String> = r
            .needs
            .alb_rules
            .iter()
            // A preferred position reads as before explicit priorities were told apart, so
            // registrations made then stay unchanged.
            .map(|n| {
                let explicit = if n.explicit { " (explicit)" } else { "" };
                format!("{} {}{explicit}", n.priority, n.conditions)
            })
            .collect();
        rules.sort();
        let fields = Fields::new()
            .with("alb", r.needs.alb)
            .with_set("alb_rules", rules)
            .with_set(
                "nlb_listener_ports",
                r.needs.nlb_listener_ports.iter().map(ToString::to_string),
            );
        // Only apps that have or had an EBS volume show it: other registrations read as
        // before it existed.
        if r.volume_role {
            fields.with("volume_role", true)
        } else {
            fields
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn observe(&self, clients: &Clients) -> Result<Option<Registration>, Error> {
        let id = self.id();
        match clients.ssm.get_parameter().name(self.name()).send().await {
            Ok(out) => {
                let value = out.parameter().and_then(|p| p.value()).unwrap_or_default();
                Registration::decode(value)
                    .map(Some)
                    .ok_or_else(|| Error::NotOwned {
                        resource: id,
                        detail: format!(
                            "SSM parameter {} holds no fargate-rs registration",
                            self.name()
                        ),
                    })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::from_sdk(id, "GetParameter", e)),
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn apply(&self, clients: &Clients, change: &Change) -> Result<(), Error> {
        let id = self.id();
        match change {
            Change::Create { .. } => {
                let owner =
                    Ownership::new(self.env.clone()).with_app(self.registration.app.clone());
                let tags: Vec<Tag> =
                    creation_tags(&owner, &fargate_core::Tags::new(), &self.name())
                        .into_iter()
                        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                        .collect();
                let out = clients
                    .ssm
                    .put_parameter()
                    .name(self.name())
                    .value(self.registration.encode())
                    .r#type(ParameterType::String)
                    .description("fargate-rs app registration (see fargate_deploy::registry)")
                    .set_tags(Some(tags))
                    .overwrite(false)
                    .send()
                    .await;
                match out {
                    Ok(_) => Ok(()),
                    // A retry of a create whose reply was lost, or a concurrent
                    // registration of the same app: write our value.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_parameter_already_exists()) =>
                    {
                        self.overwrite(clients, &id).await
                    }
                    Err(e) => Err(Error::from_sdk(id, "PutParameter", e)),
                }
            }
            Change::Update { .. } | Change::Replace { .. } => self.overwrite(clients, &id).await,
            Change::Delete => crate::lock::delete_parameter(clients, &id, &self.name()).await,
            _ => Ok(()),
        }
    }

    async fn overwrite(&self, clients: &Clients, id: &ResourceId) -> Result<(), Error> {
        clients
            .ssm
            .put_parameter()
            .name(self.name())
            .value(self.registration.encode())
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .context(id, "PutParameter")?;
        Ok(())
    }
}

impl Kind<Clients> for AppRegistration {
    type Observed = Registration;

    fn id(&self) -> ResourceId {
        AppRegistration::id(self)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<Registration>, Error>> {
        Box::pin(AppRegistration::observe(self, clients))
    }

    fn diff(&self, observed: Option<&Registration>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &Self::fields(&self.registration),
            observed.map(Self::fields).as_ref(),
            &[],
        ))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a StepContext,
        change: &'a Change,
        _: Option<&'a Registration>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(AppRegistration::apply(self, clients, change))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a StepContext,
        _: &'a Registration,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(AppRegistration::apply(self, clients, &Change::Delete))
    }
}

/// A resource with extra dependencies: an app's resources come after its
/// registration (so the registration is created first and deleted last).
pub(crate) struct After {
    inner: Arc<dyn Resource<Clients>>,
    extra: Vec<ResourceId>,
}

impl After {
    pub(crate) fn wrap(inner: Arc<dyn Resource<Clients>>, extra: Vec<ResourceId>) -> Arc<Self> {
        Arc::new(Self { inner, extra })
    }
}

impl Resource<Clients> for After {
    fn id(&self) -> ResourceId {
        self.inner.id()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut deps = self.inner.depends_on();
        deps.extend(self.extra.iter().cloned());
        deps
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a fargate_core::Round<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Result<serde_json::Value, Error>> {
        self.inner.observe(clients, round, mode)
    }

    fn plan(
        &self,
        observed: &serde_json::Value,
        mode: Mode,
        resolved: &Resolved,
    ) -> Result<(Change, fargate_core::PlanValues), Error> {
        self.inner.plan(observed, mode, resolved)
    }

    fn step(
        &self,
        observed: &serde_json::Value,
        mode: Mode,
        change: &Change,
    ) -> Result<fargate_core::resource::Action<Clients>, Error> {
        self.inner.step(observed, mode, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_lb::RuleNeed;

    #[test]
    fn registration_round_trips_and_refuses_foreign_values() {
        let needs = Needs {
            alb: true,
            alb_rules: vec![RuleNeed {
                priority: 120,
                explicit: false,
                conditions: "paths=/api/*;hosts=".into(),
            }],
            nlb_listener_ports: Vec::new(),
        };
        let r = Registration::new("web".parse().unwrap(), needs);
        assert_eq!(Registration::decode(&r.encode()), Some(r.clone()));
        // A preferred position is stored as registrations always were; an explicit
        // priority says so, and registrations without the flag read as preferred.
        assert!(!r.encode().contains("explicit"), "{}", r.encode());
        let mut explicit = r.clone();
        explicit.needs.alb_rules[0].explicit = true;
        assert!(explicit.encode().contains("\"explicit\":true"));
        assert_eq!(
            Registration::decode(&explicit.encode()),
            Some(explicit.clone())
        );
        assert_ne!(
            AppRegistration::fields(&explicit),
            AppRegistration::fields(&r)
        );
        assert_eq!(Registration::decode("{\"some\":\"thing\"}"), None);
        let foreign = r.encode().replace("fargate-rs", "someone-else");
        assert_eq!(Registration::decode(&foreign), None);
    }
}
