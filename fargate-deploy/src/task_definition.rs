//! Task definitions: what runs (containers, size, roles, logging), registered as revisions of
//! a family.
//!
//! Start with [`TaskDefinitionSpec::builder`]: the family, the [`TaskSize`], the task execution
//! role and the main [`ContainerSpec`]; add sidecars, a task role, the log group, the CPU
//! architecture, ephemeral storage, bind mount volumes and EFS volumes on existing file
//! systems ([`EfsVolume`]); containers may set their own CPU
//! units and memory, Linux settings (init process, `SYS_PTRACE`, dropped capabilities,
//! ulimits) and mounts; [`build`](TaskDefinitionBuilder::build) validates everything before
//! any AWS call, with Fargate's rules. A task whose containers need no execution role (no
//! log group, no secrets, no private ECR image) may be built without one
//! ([`TaskDefinitionSpec::builder_without_execution_role`]).
//!
//! A new revision is registered only when the normalized content changed (API defaults filled
//! in, lists sorted), so re-applying an unchanged app registers nothing. Old revisions stay
//! registered for rollback; destroy deregisters (and deletes) every revision fargate-rs
//! registered.
//!
//! Outputs: [`task_definition_arn`] (with revision), [`task_definition_revision`], and
//! [`previous_task_definition_arn`].

mod container;
pub(crate) mod linux;
pub(crate) mod volume;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ecs::types::{
    Compatibility, CpuArchitecture, EphemeralStorage, NetworkMode, OsFamily, RuntimePlatform,
    SortOrder, Tag, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::{BoxFuture, futures_join_all};
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, retry_eventual};
use fargate_core::{
    Architecture, AwsResultExt, Change, EcsName, Error, Fields, InvalidValue, Kind, LogGroupName,
    Mode, PlanValues, Ref, Resolved, ResourceId, Round, StepContext, Tags, TaskSize,
};

use serde_json::Value;

pub use container::{ContainerSpec, DependencyCondition, HealthCheck, looks_sensitive};
use container::{ContainerView, LogView};
pub use linux::{CAPABILITIES, FARGATE_ADD_CAPABILITIES, FARGATE_MAX_NOFILE, ULIMIT_NAMES};
pub use volume::EfsVolume;

use crate::Clients;
use crate::aws_util::{absent_when, creation_tags, ensure_owned, ensure_owned_if_found, missing};
use crate::deferred::{KNOWN_AFTER_APPLY, ref_value};
use crate::iam::is_iam_propagation_error;

/// The resource kind of task definitions in plans.
pub const KIND: &str = "ecs:task-definition";

/// How long `RegisterTaskDefinition` (and RunTask, CreateSchedule) is retried while a
/// just-created role cannot be assumed yet: for 60 s, after 1 s, 2 s, 4 s, then every 5 s
/// (IAM usually propagates within seconds).
pub const IAM_PROPAGATION: Poll = Poll::new(Duration::from_secs(60), Duration::from_secs(1))
    .with_max_interval(Duration::from_secs(5));

/// The identity of the task definition family `family` in plans.
pub fn task_definition_id(family: &EcsName) -> ResourceId {
    ResourceId::new(KIND, family.as_str())
}

/// Output: the ARN of the revision to run, `...:task-definition/<family>:<revision>`.
pub fn task_definition_arn(family: &EcsName) -> OutputKey<String> {
    task_definition_id(family).output("arn")
}

/// Output: the revision number to run.
pub fn task_definition_revision(family: &EcsName) -> OutputKey<i32> {
    task_definition_id(family).output("revision")
}

/// Output: the revision that was the latest before this apply registered a new one (`None`
/// when nothing was registered, or the family had no revision). For rolling back a service,
/// prefer the task definition the service itself was running.
pub fn previous_task_definition_arn(family: &EcsName) -> OutputKey<Option<String>> {
    task_definition_id(family).output("previous_arn")
}

/// The desired state of a task definition family's latest revision. Built with
/// [`TaskDefinitionSpec::builder`].
#[derive(Debug, Clone)]
pub struct TaskDefinitionSpec {
    family: EcsName,
    ownership: Ownership,
    tags: Tags,
    size: TaskSize,
    architecture: Architecture,
    execution_role: Option<Ref<String>>,
    task_role: Option<Ref<String>>,
    containers: Vec<ContainerSpec>,
    logs: Option<(LogGroupName, String)>,
    ephemeral_storage_gib: Option<u32>,
    volumes: Vec<volume::TaskVolume>,
    depends_on: Vec<ResourceId>,
}

/// Builds a [`TaskDefinitionSpec`]; see [`TaskDefinitionSpec::builder`].
#[derive(Debug, Clone)]
pub struct TaskDefinitionBuilder {
    spec: TaskDefinitionSpec,
}

impl TaskDefinitionSpec {
    /// A task definition family `family` of size `size`, run with `execution_role` (an ARN, or
    /// the output of the role's step), whose main container is `main`.
    ///
    /// A role given as `Ref::Output` shows as "(known after apply)" when the family has no
    /// revision yet, and is taken as unchanged when the latest revision has a role (role ARNs
    /// are deterministic by name); pass `Ref::Known` ([`crate::iam::role_arn_in`]) to compare
    /// the exact ARN.
    ///
    /// ```
    /// use fargate_core::{Ownership, Ref, TaskSize};
    /// use fargate_deploy::task_definition::{ContainerSpec, TaskDefinitionSpec};
    ///
    /// let owner = Ownership::new("prod".parse()?).with_app("web".parse()?);
    /// let web = ContainerSpec::new("web", "nginx:1.27".parse()?).port("80".parse()?);
    /// let exec = Ref::Known("arn:aws:iam::123456789012:role/prod-web-exec".to_string());
    /// let td = TaskDefinitionSpec::builder("prod-web".parse()?, owner, TaskSize::new(256, 512)?, exec, web)
    ///     .logs("/ecs/prod/web".parse()?, "web")
    ///     .build()?;
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    pub fn builder(
        family: EcsName,
        ownership: Ownership,
        size: TaskSize,
        execution_role: Ref<String>,
        main: ContainerSpec,
    ) -> TaskDefinitionBuilder {
        let mut b = Self::builder_without_execution_role(family, ownership, size, main);
        b.spec.execution_role = Some(execution_role);
        b
    }

    /// A task definition registered without a task execution role: only for tasks whose
    /// containers need none, i.e. no [`logs`](TaskDefinitionBuilder::logs) (`awslogs`), no
    /// secrets and no private ECR image (public images, `public.ecr.aws` included, are pulled
    /// without one). [`build`](TaskDefinitionBuilder::build) names the container field that
    /// needs a role otherwise. The app builders always create and pass their own role.
    ///
    /// ```
    /// use fargate_core::{Ownership, TaskSize};
    /// use fargate_deploy::task_definition::{ContainerSpec, TaskDefinitionSpec};
    ///
    /// let owner = Ownership::new("prod".parse()?);
    /// let job = ContainerSpec::new("job", "public.ecr.aws/docker/library/busybox:1.36".parse()?);
    /// TaskDefinitionSpec::builder_without_execution_role("job".parse()?, owner.clone(), TaskSize::new(256, 512)?, job.clone())
    ///     .build()?;
    /// let err = TaskDefinitionSpec::builder_without_execution_role("job".parse()?, owner, TaskSize::new(256, 512)?, job)
    ///     .logs("/ecs/prod/job".parse()?, "job")
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.field, "execution_role");
    /// assert!(err.reason.contains("container.job.log"));
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    pub fn builder_without_execution_role(
        family: EcsName,
        ownership: Ownership,
        size: TaskSize,
        main: ContainerSpec,
    ) -> TaskDefinitionBuilder {
        TaskDefinitionBuilder {
            spec: TaskDefinitionSpec {
                family,
                ownership,
                tags: Tags::new(),
                size,
                architecture: Architecture::default(),
                execution_role: None,
                task_role: None,
                containers: vec![main],
                logs: None,
                ephemeral_storage_gib: None,
                volumes: Vec::new(),
                depends_on: Vec::new(),
            },
        }
    }

    /// The family name.
    pub fn family(&self) -> &EcsName {
        &self.family
    }

    /// The containers, main container first.
    pub fn containers(&self) -> &[ContainerSpec] {
        &self.containers
    }

    /// The managed fields of the desired revision (pure, given the region for the log
    /// configuration's default).
    pub fn desired_fields(&self, region: &str) -> Fields {
        let log = self.log_view(region);
        let mut fields = Fields::new()
            .with("cpu", self.size.cpu().to_string())
            .with("memory", self.size.memory_mib().to_string())
            .with("cpu_architecture", self.architecture.as_str())
            .with("operating_system_family", "LINUX")
            .with("network_mode", "awsvpc")
            .with_set("requires_compatibilities", ["FARGATE"])
            .with("ephemeral_storage_gib", self.ephemeral_storage_gib);
        fields.set(
            "execution_role_arn",
            self.execution_role.as_ref().map_or(Value::Null, ref_value),
        );
        fields.set(
            "task_role_arn",
            self.task_role.as_ref().map_or(Value::Null, ref_value),
        );
        // Only when set, so that plans of tasks without volumes read as before.
        if !self.volumes.is_empty() {
            fields = fields.with_set("volumes", self.volumes.iter().map(volume::TaskVolume::key));
        }
        for c in &self.containers {
            fields = c.view(log.as_ref()).add_to(fields);
        }
        fields
    }

    /// The managed fields of an observed revision (pure), API defaults filled in.
    pub fn observed_fields(td: &TaskDefinition) -> Fields {
        let platform = td.runtime_platform();
        let mut fields = Fields::new()
            .with("cpu", td.cpu())
            .with("memory", td.memory())
            .with(
                "cpu_architecture",
                platform
                    .and_then(|p| p.cpu_architecture())
                    .map_or("X86_64", |a| a.as_str()),
            )
            .with(
                "operating_system_family",
                platform
                    .and_then(|p| p.operating_system_family())
                    .map_or("LINUX", |o| o.as_str()),
            )
            .with(
                "network_mode",
                td.network_mode().map_or("bridge", |m| m.as_str()),
            )
            .with_set(
                "requires_compatibilities",
                td.requires_compatibilities().iter().map(|c| c.as_str()),
            )
            .with(
                "ephemeral_storage_gib",
                td.ephemeral_storage()
                    .map(|e| e.size_in_gib())
                    .filter(|gib| *gib > 20),
            );
        fields.set("execution_role_arn", td.execution_role_arn());
        fields.set("task_role_arn", td.task_role_arn());
        if !td.volumes().is_empty() {
            fields = fields.with_set("volumes", td.volumes().iter().map(volume::observed_volume));
        }
        for c in td.container_definitions() {
            fields = ContainerView::from_sdk(c).add_to(fields);
        }
        fields
    }

    fn log_view(&self, region: &str) -> Option<LogView> {
        self.logs
            .as_ref()
            .map(|(group, prefix)| LogView::awslogs(group.as_str(), region, prefix))
    }

    fn id(&self) -> ResourceId {
        task_definition_id(&self.family)
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn observe(&self, clients: &Clients) -> Result<Option<ObservedRevision>, Error> {
        let id = self.id();
        let out = clients
            .ecs
            .describe_task_definition()
            .task_definition(self.family.as_str())
            .include(TaskDefinitionField::Tags)
            .send()
            .await;
        let out = absent_when(
            out,
            is_unknown_task_definition,
            &id,
            "DescribeTaskDefinition",
        )?;
        let Some(out) = out else {
            return Ok(None);
        };
        let Some(td) = out.task_definition() else {
            return Ok(None);
        };
        // DescribeTaskDefinition(family) gives the latest ACTIVE revision; an emulator may
        // answer with a deregistered one, which counts as absent.
        if td
            .status()
            .is_some_and(|s| *s != TaskDefinitionStatus::Active)
        {
            return Ok(None);
        }
        let arn = td
            .task_definition_arn()
            .ok_or_else(|| missing(&id, "DescribeTaskDefinition", "taskDefinitionArn"))?
            .to_string();
        Ok(Some(ObservedRevision {
            arn,
            revision: td.revision(),
            tags: tag_pairs(out.tags()),
            fields: Self::observed_fields(td),
        }))
    }

    /// What observing found, refusing a latest revision with our family that is not ours.
    async fn observe_owned(&self, clients: &Clients) -> Result<ObservedFamily, Error> {
        let latest = self.observe(clients).await?;
        ensure_owned_if_found(
            &self.ownership,
            &self.id(),
            latest.as_ref().map(|o| (o.arn.as_str(), o.tags.as_slice())),
        )?;
        Ok(ObservedFamily {
            region: clients.aws.region.clone(),
            latest,
        })
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn apply(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        change: &Change,
        observed: Option<&ObservedRevision>,
    ) -> Result<(), Error> {
        match change {
            Change::Create { .. } | Change::Update { .. } | Change::Replace { .. } => {
                let (arn, revision) =
                    retry_eventual(ctx, IAM_PROPAGATION, is_iam_propagation_error, || {
                        self.register(clients, ctx)
                    })
                    .await?;
                ctx.progress(format!("registered {}:{revision}", self.family));
                self.publish(ctx, arn, revision, observed.map(|o| o.arn.clone()));
            }
            Change::Delete => self.deregister_all(clients, ctx).await?,
            _ => {
                if let Some(o) = observed {
                    self.publish(ctx, o.arn.clone(), o.revision, None);
                }
            }
        }
        Ok(())
    }

    fn publish(&self, ctx: &StepContext, arn: String, revision: i32, previous: Option<String>) {
        ctx.set(&task_definition_arn(&self.family), arn);
        ctx.set(&task_definition_revision(&self.family), revision);
        ctx.set(&previous_task_definition_arn(&self.family), previous);
    }

    async fn register(&self, clients: &Clients, ctx: &StepContext) -> Result<(String, i32), Error> {
        let id = self.id();
        let op = "RegisterTaskDefinition";
        let log = self.log_view(&clients.aws.region);
        let containers = self
            .containers
            .iter()
            .map(|c| c.to_sdk(log.as_ref(), &id))
            .collect::<Result<Vec<_>, _>>()?;
        let tags = creation_tags(&self.ownership, &self.tags, self.family.as_str())
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let architecture = match self.architecture {
            Architecture::X86_64 => CpuArchitecture::X8664,
            Architecture::Arm64 => CpuArchitecture::Arm64,
        };
        let task_role = match &self.task_role {
            Some(r) => Some(r.resolve(ctx)?),
            None => None,
        };
        let execution_role = match &self.execution_role {
            Some(r) => Some(r.resolve(ctx)?),
            None => None,
        };
        let volumes = if self.volumes.is_empty() {
            None
        } else {
            Some(
                self.volumes
                    .iter()
                    .map(|v| v.to_sdk(Some(ctx)))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        let out = clients
            .ecs
            .register_task_definition()
            .family(self.family.as_str())
            .cpu(self.size.cpu().to_string())
            .memory(self.size.memory_mib().to_string())
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(architecture)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .set_execution_role_arn(execution_role)
            .set_task_role_arn(task_role)
            .set_volumes(volumes)
            .set_ephemeral_storage(self.ephemeral_storage_gib.map(|gib| {
                EphemeralStorage::builder()
                    .size_in_gib(i32::try_from(gib).unwrap_or(i32::MAX))
                    .build()
            }))
            .set_container_definitions(Some(containers))
            .set_tags(Some(tags))
            .send()
            .await
            .context(&id, op)?;
        let td = out
            .task_definition()
            .ok_or_else(|| missing(&id, op, "taskDefinition"))?;
        let arn = td
            .task_definition_arn()
            .ok_or_else(|| missing(&id, op, "taskDefinitionArn"))?
            .to_string();
        Ok((arn, td.revision()))
    }

    /// Deregister every ACTIVE revision of the family that carries our ownership tags, then
    /// delete them.
    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn deregister_all(&self, clients: &Clients, ctx: &StepContext) -> Result<(), Error> {
        let id = self.id();
        let revisions = self.active_revisions(clients).await?;
        let tagged = futures_join_all(revisions.iter().map(
            |arn| -> BoxFuture<'_, Result<_, Error>> {
                let id = id.clone();
                Box::pin(async move {
                    let tags = clients
                        .ecs
                        .list_tags_for_resource()
                        .resource_arn(arn)
                        .send()
                        .await
                        .context(&id, "ListTagsForResource")?;
                    Ok((arn.clone(), tag_pairs(tags.tags())))
                })
            },
        ))
        .await;
        let mut owned = Vec::new();
        for result in tagged {
            let (arn, tags) = result?;
            if ensure_owned(
                &self.ownership,
                &id,
                &arn,
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .is_ok()
            {
                owned.push(arn);
            } else {
                tracing::warn!(%arn, "revision without fargate-rs ownership tags left registered");
            }
        }
        ctx.progress(format!(
            "deregistering {} revision(s) of {}",
            owned.len(),
            self.family
        ));
        let results =
            futures_join_all(owned.iter().map(|arn| -> BoxFuture<'_, Result<(), Error>> {
                let id = id.clone();
                Box::pin(async move {
                    clients
                        .ecs
                        .deregister_task_definition()
                        .task_definition(arn)
                        .send()
                        .await
                        .context(&id, "DeregisterTaskDefinition")?;
                    Ok(())
                })
            }))
            .await;
        results.into_iter().collect::<Result<Vec<()>, Error>>()?;
        for chunk in owned.chunks(10) {
            let result = clients
                .ecs
                .delete_task_definitions()
                .set_task_definitions(Some(chunk.to_vec()))
                .send()
                .await;
            match result {
                Ok(out) => {
                    for failure in out.failures() {
                        tracing::warn!(
                            arn = failure.arn().unwrap_or_default(),
                            reason = failure.reason().unwrap_or_default(),
                            "task definition not deleted"
                        );
                    }
                }
                Err(e) if is_unsupported(fargate_core::error::sdk_error_code(&e)) => {
                    tracing::debug!(
                        "DeleteTaskDefinitions is not supported here; revisions stay INACTIVE"
                    );
                    break;
                }
                Err(e) => return Err(Error::from_sdk(&id, "DeleteTaskDefinitions", e)),
            }
        }
        Ok(())
    }

    /// ARNs of the family's ACTIVE revisions (exact family, newest first).
    async fn active_revisions(&self, clients: &Clients) -> Result<Vec<String>, Error> {
        let id = self.id();
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = clients
                .ecs
                .list_task_definitions()
                .family_prefix(self.family.as_str())
                .status(TaskDefinitionStatus::Active)
                .sort(SortOrder::Desc)
                .set_next_token(token.take())
                .send()
                .await
                .context(&id, "ListTaskDefinitions")?;
            arns.extend(
                page.task_definition_arns()
                    .iter()
                    .filter(|arn| family_of(arn) == Some(self.family.as_str()))
                    .cloned(),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(arns),
            }
        }
    }
}

impl TaskDefinitionBuilder {
    /// Add a sidecar container (for example a log router or a proxy).
    #[must_use]
    pub fn sidecar(mut self, container: ContainerSpec) -> Self {
        self.spec.containers.push(container);
        self
    }

    /// The role the app's code runs with (an ARN, or the output of the role's step).
    #[must_use]
    pub fn task_role(mut self, role: Ref<String>) -> Self {
        self.spec.task_role = Some(role);
        self
    }

    /// The CPU architecture (default `X86_64`); the image must be built for it.
    #[must_use]
    pub fn architecture(mut self, architecture: Architecture) -> Self {
        self.spec.architecture = architecture;
        self
    }

    /// Send every container's output to the log group `group` (in the clients' region), in
    /// streams named `<stream_prefix>/<container>/<task id>`; use the app name as prefix.
    #[must_use]
    pub fn logs(mut self, group: LogGroupName, stream_prefix: impl Into<String>) -> Self {
        self.spec.logs = Some((group, stream_prefix.into()));
        self
    }

    /// Ephemeral storage in GiB, 21 to 200 (Fargate gives 20 GiB without it).
    #[must_use]
    pub fn ephemeral_storage_gib(mut self, gib: u32) -> Self {
        self.spec.ephemeral_storage_gib = Some(gib);
        self
    }

    /// A bind mount volume `name`: storage on the task's ephemeral storage that lives as long
    /// as the task, shared by the containers that [`mount`](ContainerSpec::mount) it (Fargate
    /// has no host paths; for EFS see [`efs_volume`](Self::efs_volume), EBS volumes are not
    /// supported yet). Adding a name again changes nothing.
    ///
    /// ```
    /// use fargate_core::{Ownership, Ref, TaskSize};
    /// use fargate_deploy::task_definition::{ContainerSpec, TaskDefinitionSpec};
    ///
    /// let app = ContainerSpec::new("app", "nginx:1.27".parse()?).mount("logs", "/var/log/nginx", false);
    /// let shipper = ContainerSpec::new("shipper", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0".parse()?)
    ///     .essential(false)
    ///     .volumes_from("app", true);
    /// let exec = Ref::Known("arn:aws:iam::123456789012:role/app-exec".to_string());
    /// let td = TaskDefinitionSpec::builder("app".parse()?, Ownership::new("prod".parse()?), TaskSize::new(512, 1024)?, exec, app)
    ///     .sidecar(shipper)
    ///     .volume("logs")
    ///     .build()?;
    /// assert_eq!(td.desired_fields("us-east-1").get("volumes"), Some(&serde_json::json!(["logs"])));
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    #[must_use]
    pub fn volume(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self
            .spec
            .volumes
            .iter()
            .any(|v| v.name == name && v.efs.is_none() && !v.at_launch)
        {
            self.spec.volumes.push(volume::TaskVolume {
                name,
                efs: None,
                created: None,
                created_access_point: None,
                at_launch: false,
            });
        }
        self
    }

    /// An EFS volume `name` on the existing file system of `efs`, mounted into the containers
    /// that [`mount`](ContainerSpec::mount) it. [`build`](Self::build) validates it (fields
    /// `volumes.<name>.efs.<field>`, see [`EfsVolume`]); a volume name is used once.
    ///
    /// ```
    /// use fargate_core::{Ownership, Ref, TaskSize};
    /// use fargate_deploy::task_definition::{ContainerSpec, EfsVolume, TaskDefinitionSpec};
    ///
    /// let app = ContainerSpec::new("app", "nginx:1.27".parse()?).mount("data", "/data", false);
    /// let exec = Ref::Known("arn:aws:iam::123456789012:role/app-exec".to_string());
    /// let td = TaskDefinitionSpec::builder("app".parse()?, Ownership::new("prod".parse()?), TaskSize::new(512, 1024)?, exec, app)
    ///     .efs_volume("data", EfsVolume::new("fs-0123abcd").access_point("fsap-0123456789abcdef0"))
    ///     .build()?;
    /// assert_eq!(
    ///     td.desired_fields("us-east-1").get("volumes"),
    ///     Some(&serde_json::json!([
    ///         "data (efs fs-0123abcd root=/ transit_encryption=ENABLED iam=DISABLED access_point=fsap-0123456789abcdef0)"
    ///     ]))
    /// );
    /// let bad = TaskDefinitionSpec::builder("app".parse()?, Ownership::new("prod".parse()?), TaskSize::new(512, 1024)?,
    ///         Ref::Known("arn:aws:iam::123456789012:role/app-exec".to_string()),
    ///         ContainerSpec::new("app", "nginx:1.27".parse()?))
    ///     .efs_volume("data", EfsVolume::new("fs-0123abcd").iam_authorization(true).transit_encryption(false))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(bad.field, "volumes.data.efs.transit_encryption");
    /// # Ok::<(), fargate_core::InvalidValue>(())
    /// ```
    #[must_use]
    pub fn efs_volume(mut self, name: impl Into<String>, efs: EfsVolume) -> Self {
        self.spec.volumes.push(volume::TaskVolume {
            name: name.into(),
            efs: Some(efs),
            created: None,
            created_access_point: None,
            at_launch: false,
        });
        self
    }

    /// An EFS volume `name` on a file system fargate-rs creates ([`crate::efs::FileSystemSpec`]):
    /// `file_system_id` (its output) replaces `efs`'s file system id, which is not used (give
    /// [`EfsVolume::created`]). Add the file system's resource with
    /// [`depends_on`](Self::depends_on), so that the plan knows its id; likewise
    /// `access_point_id` (an output of [`crate::efs::AccessPointSpec`]) replaces `efs`'s
    /// access point.
    #[must_use]
    pub fn created_efs_volume(
        mut self,
        name: impl Into<String>,
        file_system_id: Ref<String>,
        access_point_id: Option<Ref<String>>,
        efs: EfsVolume,
    ) -> Self {
        self.spec.volumes.push(volume::TaskVolume {
            name: name.into(),
            efs: Some(efs),
            created: Some(file_system_id),
            created_access_point: access_point_id,
            at_launch: false,
        });
        self
    }

    /// A volume `name` configured at launch (`configuredAtLaunch: true`): a managed EBS
    /// volume whose configuration the ECS service gives ([`crate::ebs`]).
    #[must_use]
    pub fn configured_at_launch_volume(mut self, name: impl Into<String>) -> Self {
        self.spec.volumes.push(volume::TaskVolume {
            name: name.into(),
            efs: None,
            created: None,
            created_access_point: None,
            at_launch: true,
        });
        self
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.spec.tags = tags;
        self
    }

    /// A resource that must exist before the task definition is registered (its roles and log group).
    #[must_use]
    pub fn depends_on(mut self, id: ResourceId) -> Self {
        self.spec.depends_on.push(id);
        self
    }

    /// The validated spec.
    ///
    /// # Errors
    /// An [`InvalidValue`] naming the field: an invalid container name or environment variable
    /// name, two containers with the same name, a name set both as environment variable and
    /// secret, no essential container, the same port in two containers, a dependency on an
    /// unknown container (or `HEALTHY` on one without health check), out-of-range health
    /// check, stop timeout or memory reservation, or ephemeral storage outside 21–200 GiB.
    /// Fargate's rules: the containers' CPU units add up to at most the task's, each
    /// container's memory is within the task's and at least its reservation, only
    /// `SYS_PTRACE` is added as capability, ulimits are ECS's names with soft <= hard
    /// (`nofile` at most 1048576). A mount of an undeclared volume, `volumes_from` an unknown
    /// container, and a missing execution role that a container needs (its logs, secrets or
    /// private ECR image) are refused too, and so are two volumes of one name and an invalid
    /// [`EfsVolume`] (`volumes.<name>.efs.<field>`: ids, root directory, and ECS's rules on
    /// access points and transit encryption).
    pub fn build(self) -> Result<TaskDefinitionSpec, InvalidValue> {
        let spec = self.spec;
        let memory = spec.size.memory_mib();
        let mut names = BTreeSet::new();
        let mut ports = BTreeSet::new();
        let mut volume_names = BTreeSet::new();
        for v in &spec.volumes {
            v.validate()?;
            if !volume_names.insert(v.name.as_str()) {
                return Err(InvalidValue::new(
                    "volumes.name",
                    &v.name,
                    "two volumes have this name",
                    "a different name for each volume of the task",
                ));
            }
        }
        for c in &spec.containers {
            c.validate(spec.size)?;
            if !names.insert(c.name()) {
                return Err(InvalidValue::new(
                    "container.name",
                    c.name(),
                    "two containers have this name",
                    "a different name for each container of the task",
                ));
            }
            for port in c.ports() {
                if !ports.insert(*port) {
                    return Err(InvalidValue::new(
                        format!("container.{}.ports", c.name()),
                        port.to_string(),
                        "two containers of the task listen on this port (they share one network interface)",
                        "each port in one container only",
                    ));
                }
            }
        }
        for c in &spec.containers {
            for (other, condition) in c.dependencies() {
                let target = spec.containers.iter().find(|t| t.name() == other);
                let reason = match target {
                    None => "no container of the task has this name",
                    Some(t)
                        if *condition == DependencyCondition::Healthy && !t.has_health_check() =>
                    {
                        "HEALTHY needs the other container to have a health check"
                    }
                    Some(_) => continue,
                };
                return Err(InvalidValue::new(
                    format!("container.{}.depends_on", c.name()),
                    other,
                    reason,
                    "the name of another container of the task",
                ));
            }
        }
        if !spec.containers.iter().any(ContainerSpec::is_essential) {
            return Err(InvalidValue::new(
                "container.essential",
                "false",
                "no container is essential",
                "at least one essential container (the main one, usually)",
            ));
        }
        for c in &spec.containers {
            if let Some(v) = c
                .mounted_volumes()
                .find(|v| !spec.volumes.iter().any(|d| d.name == *v))
            {
                return Err(InvalidValue::new(
                    format!("container.{}.mount_points", c.name()),
                    v,
                    "the task has no volume of this name",
                    "the name of a volume of the task (TaskDefinitionBuilder::volume)",
                ));
            }
            if let Some(other) = c
                .volume_sources()
                .find(|o| !spec.containers.iter().any(|t| t.name() == *o))
            {
                return Err(InvalidValue::new(
                    format!("container.{}.volumes_from", c.name()),
                    other,
                    "no container of the task has this name",
                    "the name of another container of the task",
                ));
            }
        }
        // ECS counts a container's reservation, else its hard limit, against the task memory.
        let reserved: u32 = spec
            .containers
            .iter()
            .filter_map(ContainerSpec::reserved_memory)
            .sum();
        if reserved > memory {
            return Err(InvalidValue::new(
                "container.memory_reservation",
                reserved.to_string(),
                "the containers reserve more memory than the task has (a container's \
                 reservation counts, else its memory)",
                format!("at most {memory} MiB in total"),
            ));
        }
        let cpu: u32 = spec.containers.iter().filter_map(ContainerSpec::cpu).sum();
        if cpu > spec.size.cpu() {
            return Err(InvalidValue::new(
                "container.cpu",
                cpu.to_string(),
                "Fargate rule: the containers' CPU units add up to more than the task's CPU",
                format!("at most {} CPU units in total", spec.size.cpu()),
            ));
        }
        if spec.execution_role.is_none() {
            let needs = spec.execution_role_needs();
            if !needs.is_empty() {
                return Err(missing_execution_role(
                    "execution_role",
                    "(none)",
                    &needs,
                    "an execution role (TaskDefinitionSpec::builder), or none of these",
                ));
            }
        }
        if let Some(gib) = spec.ephemeral_storage_gib
            && !(21..=200).contains(&gib)
        {
            return Err(InvalidValue::new(
                "ephemeral_storage_gib",
                gib.to_string(),
                "out of the range Fargate accepts",
                "21 to 200 GiB (omit it for the default 20 GiB)",
            ));
        }
        spec.check_size()?;
        Ok(spec)
    }
}

/// The most a task definition may weigh as JSON: ECS refuses a `RegisterTaskDefinition` whose
/// task definition is larger than 64 KiB.
pub const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

/// What the parts not known at `build()` (role ARNs, the region in the log options) may add
/// to the task definition's JSON.
const UNKNOWN_PARTS_ALLOWANCE: usize = 1024;

const SIZE_ALLOWED: &str = "a task definition of at most 64 KiB (65536 bytes) of JSON in all; \
     keep large configuration out of environment variables (in S3, or in SSM Parameter Store or \
     Secrets Manager, passed as secrets)";

impl TaskDefinitionSpec {
    /// The size of the task definition's JSON as `RegisterTaskDefinition` would send it,
    /// without what is not known before apply ([`UNKNOWN_PARTS_ALLOWANCE`] covers it).
    fn json_size(&self) -> usize {
        let log = self.log_view("");
        let known = |r: &Ref<String>| r.known().cloned().unwrap_or_default();
        let tags: Vec<Value> = creation_tags(&self.ownership, &self.tags, self.family.as_str())
            .into_iter()
            .map(|(k, v)| serde_json::json!({ "key": k, "value": v }))
            .collect();
        serde_json::json!({
            "family": self.family.as_str(),
            "cpu": self.size.cpu().to_string(),
            "memory": self.size.memory_mib().to_string(),
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "runtimePlatform": {
                "cpuArchitecture": self.architecture.as_str(),
                "operatingSystemFamily": "LINUX",
            },
            "executionRoleArn": self.execution_role.as_ref().map(known),
            "taskRoleArn": self.task_role.as_ref().map(known),
            "volumes": self.volumes.iter()
                .map(|v| match &v.efs {
                    None if !v.at_launch => serde_json::json!({ "name": v.name, "host": {} }),
                    None => v.cli_json(),
                    Some(_) => v.cli_json(),
                })
                .collect::<Vec<_>>(),
            "ephemeralStorage": self.ephemeral_storage_gib.map(|g| serde_json::json!({ "sizeInGiB": g })),
            "containerDefinitions": self.containers.iter()
                .map(|c| c.definition_json(log.as_ref()))
                .collect::<Vec<_>>(),
            "tags": tags,
        })
        .to_string()
        .len()
    }

    /// The task definition in the AWS CLI's `register-task-definition --cli-input-json` shape,
    /// the log configuration's region `region`; only the user tags (the import adds the
    /// ownership tags back). Exported through [`crate::cli_json::TaskDefinitionDocument::from_spec`].
    pub(crate) fn cli_json(&self, region: &str) -> Result<Value, InvalidValue> {
        let known = |field: &str, r: &Ref<String>| {
            r.known().cloned().ok_or_else(|| {
                InvalidValue::new(
                    field,
                    KNOWN_AFTER_APPLY,
                    "the role ARN is the output of the role's step, known only after apply",
                    "a role given as Ref::Known (see crate::iam::role_arn_in)",
                )
            })
        };
        let execution_role = match &self.execution_role {
            Some(r) => Some(known("execution_role", r)?),
            None => None,
        };
        let task_role = match &self.task_role {
            Some(r) => Some(known("task_role", r)?),
            None => None,
        };
        let log = self.log_view(region);
        let tags: Vec<Value> = self
            .tags
            .iter()
            .map(|(k, v)| serde_json::json!({ "key": k, "value": v }))
            .collect();
        Ok(serde_json::json!({
            "family": self.family.as_str(),
            "taskRoleArn": task_role,
            "executionRoleArn": execution_role,
            "networkMode": "awsvpc",
            "containerDefinitions": self.containers.iter()
                .map(|c| c.cli_json(log.as_ref()))
                .collect::<Vec<_>>(),
            "requiresCompatibilities": ["FARGATE"],
            "cpu": self.size.cpu().to_string(),
            "memory": self.size.memory_mib().to_string(),
            "runtimePlatform": {
                "cpuArchitecture": self.architecture.as_str(),
                "operatingSystemFamily": "LINUX",
            },
            "ephemeralStorage": self.ephemeral_storage_gib.map(|g| serde_json::json!({ "sizeInGiB": g })),
            "volumes": self.volumes.iter().map(volume::TaskVolume::cli_json).collect::<Vec<_>>(),
            "tags": tags,
        }))
    }

    /// Refuse a task definition ECS would refuse as too large, naming its largest value.
    fn check_size(&self) -> Result<(), InvalidValue> {
        let largest = self
            .containers
            .iter()
            .filter_map(ContainerSpec::largest_value)
            .max_by_key(|(_, n)| *n);
        // A single value past the limit: no need to serialize it to know.
        if let Some((field, n)) = &largest
            && *n > MAX_TASK_DEFINITION_BYTES
        {
            return Err(InvalidValue::new(
                field,
                format!("{n} bytes"),
                format!(
                    "this value alone is larger than the {MAX_TASK_DEFINITION_BYTES} bytes ECS \
                     accepts for a whole task definition"
                ),
                SIZE_ALLOWED,
            ));
        }
        let total = self.json_size() + UNKNOWN_PARTS_ALLOWANCE;
        if total <= MAX_TASK_DEFINITION_BYTES {
            return Ok(());
        }
        let (field, n) = largest.unwrap_or_else(|| ("container".to_string(), 0));
        Err(InvalidValue::new(
            field,
            format!("{n} bytes"),
            format!(
                "the task definition would be about {total} bytes of JSON, more than the \
                 {MAX_TASK_DEFINITION_BYTES} ECS accepts; this is its largest value"
            ),
            SIZE_ALLOWED,
        ))
    }
}

impl TaskDefinitionSpec {
    /// The container fields that need a task execution role: the log configuration (every
    /// container logs with `awslogs` when the task has a log group), secrets, private ECR
    /// images.
    fn execution_role_needs(&self) -> Vec<String> {
        let mut needs = Vec::new();
        for c in &self.containers {
            if self.logs.is_some() {
                needs.push(format!("container.{}.log (awslogs)", c.name()));
            }
            needs.extend(c.needs_execution_role());
        }
        needs
    }
}

/// The error of a task without an execution role whose `needs` (the fields that need one)
/// require it: ECS pulls private ECR images, sends awslogs logs and fetches secrets with the
/// task execution role.
pub(crate) fn missing_execution_role(
    field: &str,
    value: &str,
    needs: &[String],
    allowed: &str,
) -> InvalidValue {
    InvalidValue::new(
        field,
        value,
        format!(
            "missing, and {} need(s) it (ECS pulls private ECR images, sends awslogs logs \
             and fetches secrets with the task execution role)",
            needs.join(", ")
        ),
        allowed,
    )
}

impl Kind<Clients> for TaskDefinitionSpec {
    type Observed = ObservedFamily;

    fn id(&self) -> ResourceId {
        task_definition_id(&self.family)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.depends_on.clone()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedFamily>, Error>> {
        Box::pin(async move { self.observe_owned(clients).await.map(Some) })
    }

    fn diff(
        &self,
        observed: Option<&ObservedFamily>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        let Some(observed) = observed else {
            return Err(Error::Unexpected {
                resource: self.id(),
                operation: "plan".to_string(),
                detail: "the task definition family was not observed (its region is unknown)"
                    .to_string(),
            });
        };
        let latest = observed.latest.as_ref().map(|o| &o.fields);
        let mut desired = self.desired_fields(&observed.region);
        settle_unknown_roles(&mut desired, latest);
        if self.volumes.iter().any(|v| v.created.is_some()) {
            desired = desired.with_set(
                "volumes",
                self.volumes.iter().map(|v| v.key_with(Some(resolved))),
            );
        }
        Ok(Change::compute(&desired, latest, &[]))
    }

    fn destroy_change(&self, observed: Option<&ObservedFamily>) -> Change {
        if observed.is_some_and(|o| o.latest.is_some()) {
            Change::Delete
        } else {
            Change::NoOp
        }
    }

    /// The revision dependents will use when nothing changes, known now.
    fn outputs(
        &self,
        observed: Option<&ObservedFamily>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        match (change, observed.and_then(|o| o.latest.as_ref())) {
            (Change::NoOp, Some(o)) => {
                PlanValues::new().with(&task_definition_arn(&self.family), &o.arn)
            }
            _ => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedFamily>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let latest = observed.and_then(|o| o.latest.as_ref());
        Box::pin(self.apply(clients, ctx, change, latest))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedFamily,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, &Change::Delete, observed.latest.as_ref()))
    }
}

/// What observing a family found: its latest ACTIVE revision, if any, and the region the
/// desired revision's log configuration names (the diff needs it, and it is not part of the
/// spec).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObservedFamily {
    region: String,
    latest: Option<ObservedRevision>,
}

/// The latest ACTIVE revision as observed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObservedRevision {
    arn: String,
    revision: i32,
    tags: Vec<(String, String)>,
    fields: Fields,
}

/// A role given as the output of another step is not known at plan time (the plan shows
/// [`KNOWN_AFTER_APPLY`]). Role ARNs are deterministic by name, so when the revision already
/// runs with a role, the role is taken as unchanged; when it runs without one, adding it is a
/// change.
fn settle_unknown_roles(desired: &mut Fields, observed: Option<&Fields>) {
    for field in ["execution_role_arn", "task_role_arn"] {
        let unknown = desired.get(field) == Some(&Value::from(KNOWN_AFTER_APPLY));
        let current = observed
            .and_then(|o| o.get(field))
            .filter(|v| v.is_string())
            .cloned();
        if let (true, Some(current)) = (unknown, current) {
            desired.set(field, current);
        }
    }
}

fn tag_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// ECS's answer for a family with no ACTIVE revision: `ClientException: Unable to describe task definition.`
fn is_unknown_task_definition(code: &str, message: &str) -> bool {
    code == "ClientException"
        && message
            .to_ascii_lowercase()
            .contains("unable to describe task definition")
}

fn is_unsupported(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "UnsupportedFeatureException"
                | "InvalidAction"
                | "UnknownOperationException"
                | "NotImplemented"
        )
    )
}

/// The family of a task definition ARN, `...:task-definition/<family>:<revision>`.
fn family_of(arn: &str) -> Option<&str> {
    let (_, rest) = arn.rsplit_once("task-definition/")?;
    rest.rsplit_once(':').map(|(family, _)| family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_is_read_from_revision_arns() {
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/prod-web:12"),
            Some("prod-web")
        );
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/prod-web-2:1"),
            Some("prod-web-2")
        );
        assert_eq!(family_of("arn:aws:ecs:us-east-1:1:cluster/prod"), None);
    }

    #[test]
    fn only_the_documented_message_means_no_revision() {
        assert!(is_unknown_task_definition(
            "ClientException",
            "Unable to describe task definition."
        ));
        assert!(!is_unknown_task_definition(
            "ClientException",
            "Too many requests"
        ));
        assert!(!is_unknown_task_definition(
            "ServerException",
            "Unable to describe task definition."
        ));
    }

    #[test]
    fn roles_from_outputs_are_unchanged_only_when_a_role_is_set() {
        let unknown = Fields::new()
            .with("execution_role_arn", KNOWN_AFTER_APPLY)
            .with("task_role_arn", KNOWN_AFTER_APPLY);
        let observed = Fields::new()
            .with("execution_role_arn", "arn:aws:iam::1:role/exec")
            .with("task_role_arn", Value::Null);
        let mut desired = unknown.clone();
        settle_unknown_roles(&mut desired, Some(&observed));
        let diffs = observed.diff(&desired);
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(diffs[0].field, "task_role_arn");
        let mut created = unknown.clone();
        settle_unknown_roles(&mut created, None);
        assert_eq!(created, unknown);
    }

    const EXEC: &str = "arn:aws:iam::123456789012:role/app-exec";

    fn owner() -> Ownership {
        Ownership::new("prod".parse().unwrap())
    }

    /// An app with an OpenTelemetry collector and a log shipper: container CPU and memory,
    /// ulimits, the init process, capabilities, a bind volume shared by two containers.
    fn featured() -> TaskDefinitionBuilder {
        let app = ContainerSpec::new("app", "nginx:1.27".parse().unwrap())
            .port("8080".parse().unwrap())
            .cpu_units(512)
            .memory_mib(1536)
            .memory_reservation_mib(1024)
            .init_process_enabled(true)
            .add_capability("SYS_PTRACE")
            .drop_capability("NET_RAW")
            .ulimit("nofile", 65535, 65535)
            .mount("app-logs", "/var/log/app", false);
        let otel = ContainerSpec::new(
            "otel",
            "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
                .parse()
                .unwrap(),
        )
        .essential(false)
        .cpu_units(256)
        .memory_mib(256);
        let shipper = ContainerSpec::new(
            "shipper",
            "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0"
                .parse()
                .unwrap(),
        )
        .essential(false)
        .memory_reservation_mib(64)
        .volumes_from("app", true);
        TaskDefinitionSpec::builder(
            "app".parse().unwrap(),
            owner(),
            TaskSize::new(1024, 2048).unwrap(),
            Ref::Known(EXEC.to_string()),
            app,
        )
        .sidecar(otel)
        .sidecar(shipper)
        .volume("app-logs")
        .logs("/ecs/prod/app".parse().unwrap(), "app")
    }

    /// The revision ECS describes after registering `spec`: what was sent, with ECS's
    /// defaults (a container `cpu` of 0 when unset, `host: {}` volumes).
    fn registered(spec: &TaskDefinitionSpec) -> TaskDefinition {
        let id = spec.id();
        let log = spec.log_view("us-east-1");
        let containers = spec
            .containers
            .iter()
            .map(|c| c.to_sdk(log.as_ref(), &id).unwrap())
            .collect();
        TaskDefinition::builder()
            .family(spec.family.as_str())
            .cpu(spec.size.cpu().to_string())
            .memory(spec.size.memory_mib().to_string())
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .set_execution_role_arn(
                spec.execution_role
                    .as_ref()
                    .and_then(|r| r.known().cloned()),
            )
            .set_volumes(Some(
                spec.volumes
                    .iter()
                    .map(|v| v.to_sdk(None).unwrap())
                    .collect(),
            ))
            .set_container_definitions(Some(containers))
            .build()
    }

    #[test]
    fn the_kind_plans_from_the_observed_family_and_publishes_an_unchanged_arn() {
        let spec = featured().build().unwrap();
        let none = Resolved::none();
        let absent = ObservedFamily {
            region: "us-east-1".into(),
            latest: None,
        };
        assert!(matches!(
            spec.diff(Some(&absent), &none).unwrap(),
            Change::Create { .. }
        ));
        assert_eq!(Kind::destroy_change(&spec, Some(&absent)), Change::NoOp);
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/app:7";
        let latest = ObservedFamily {
            region: "us-east-1".into(),
            latest: Some(ObservedRevision {
                arn: arn.into(),
                revision: 7,
                tags: Vec::new(),
                fields: TaskDefinitionSpec::observed_fields(&registered(&spec)),
            }),
        };
        let change = spec.diff(Some(&latest), &none).unwrap();
        assert_eq!(change, Change::NoOp);
        // Dependents read the revision they will run at plan time.
        let mut resolved = Resolved::none();
        let values = spec.outputs(Some(&latest), &change, &none);
        resolved.insert(spec.id(), change, &values);
        assert_eq!(
            resolved.get(&task_definition_arn(spec.family())),
            Some(arn.to_string())
        );
        // A new revision's ARN is known only after apply.
        let moved = ObservedFamily {
            region: "eu-west-1".into(),
            ..latest.clone()
        };
        let change = spec.diff(Some(&moved), &none).unwrap();
        assert!(matches!(change, Change::Update { .. }), "{change:?}");
        assert!(spec.outputs(Some(&moved), &change, &none).is_empty());
        assert_eq!(Kind::destroy_change(&spec, Some(&latest)), Change::Delete);
        let json = serde_json::to_value(&latest).unwrap();
        let back: ObservedFamily = serde_json::from_value(json).unwrap();
        assert_eq!(back.latest.map(|l| l.arn), Some(arn.to_string()));
    }

    #[test]
    fn a_registered_revision_with_every_feature_reads_back_unchanged() {
        let spec = featured().build().unwrap();
        let td = registered(&spec);
        // What ECS reports for the shipper, which sets no CPU units.
        let shipper = &td.container_definitions()[2];
        assert_eq!(shipper.cpu(), 0);
        let desired = spec.desired_fields("us-east-1");
        let observed = TaskDefinitionSpec::observed_fields(&td);
        assert_eq!(observed.diff(&desired), vec![]);
        assert_eq!(
            desired.get("container.app.cpu"),
            Some(&serde_json::json!(512))
        );
        assert_eq!(desired.get("container.shipper.cpu"), None);
        assert_eq!(
            desired.get("container.app.ulimits"),
            Some(&serde_json::json!(["nofile=65535:65535"]))
        );
        assert_eq!(
            desired.get("container.shipper.volumes_from"),
            Some(&serde_json::json!(["app:ro"]))
        );
        assert_eq!(
            desired.get("volumes"),
            Some(&serde_json::json!(["app-logs"]))
        );
    }

    #[test]
    fn a_changed_limit_or_a_foreign_volume_kind_is_a_diff() {
        let spec = featured().build().unwrap();
        let mut td = registered(&spec);
        let efs = aws_sdk_ecs::types::Volume::builder()
            .name("app-logs")
            .efs_volume_configuration(
                aws_sdk_ecs::types::EfsVolumeConfiguration::builder()
                    .file_system_id("fs-0123abcd")
                    .build()
                    .unwrap(),
            )
            .build();
        td.volumes = Some(vec![efs]);
        let diffs =
            TaskDefinitionSpec::observed_fields(&td).diff(&spec.desired_fields("us-east-1"));
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["volumes"]);
        // The same task with the app's nofile limit raised: only that field differs.
        let raised = featured().build().unwrap();
        let mut raised = raised;
        raised.containers[0] = raised.containers[0]
            .clone()
            .ulimit("nofile", 65535, 1_048_576);
        let diffs = TaskDefinitionSpec::observed_fields(&registered(&spec))
            .diff(&raised.desired_fields("us-east-1"));
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["container.app.ulimits"]);
    }

    #[test]
    fn fargate_rules_on_container_cpu_memory_and_linux_settings_name_the_field() {
        let main = || ContainerSpec::new("app", "nginx:1.27".parse().unwrap());
        let build = |c: ContainerSpec, side: Option<ContainerSpec>| {
            let mut b = TaskDefinitionSpec::builder(
                "app".parse().unwrap(),
                owner(),
                TaskSize::new(512, 1024).unwrap(),
                Ref::Known(EXEC.to_string()),
                c,
            );
            if let Some(s) = side {
                b = b.sidecar(s);
            }
            b.build().unwrap_err()
        };
        let side = || ContainerSpec::new("side", "busybox:1.36".parse().unwrap()).essential(false);
        let e = build(main().cpu_units(384), Some(side().cpu_units(256)));
        assert_eq!(e.field, "container.cpu");
        assert!(e.reason.contains("Fargate rule"), "{e}");
        assert_eq!(
            build(main().memory_mib(2048), None).field,
            "container.app.memory"
        );
        let e = build(main().memory_mib(256).memory_reservation_mib(512), None);
        assert_eq!(e.field, "container.app.memory_reservation");
        let e = build(main().memory_mib(768), Some(side().memory_mib(512)));
        assert_eq!(e.field, "container.memory_reservation");
        let e = build(main().add_capability("NET_ADMIN"), None);
        assert_eq!(e.field, "container.app.linux_parameters.capabilities.add");
        assert!(e.reason.contains("SYS_PTRACE"), "{e}");
        let e = build(main().ulimit("nofile", 2048, 1024), None);
        assert_eq!(e.field, "container.app.ulimits.nofile");
        assert_eq!(
            build(main().ulimit("open_files", 1, 1), None).field,
            "container.app.ulimits"
        );
    }

    fn efs_task(efs: EfsVolume) -> TaskDefinitionBuilder {
        let app = ContainerSpec::new("app", "nginx:1.27".parse().unwrap())
            .mount("data", "/data", false)
            .mount("scratch", "/scratch", false);
        TaskDefinitionSpec::builder(
            "app".parse().unwrap(),
            owner(),
            TaskSize::new(512, 1024).unwrap(),
            Ref::Known(EXEC.to_string()),
            app,
        )
        .volume("scratch")
        .efs_volume("data", efs)
    }

    #[test]
    fn an_efs_task_described_by_ecs_with_defaults_filled_in_is_a_no_op() {
        use aws_sdk_ecs::types::{
            EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption,
            EfsVolumeConfiguration, HostVolumeProperties, Volume,
        };
        let fs = "fs-0123456789abcdef0";
        let ap = "fsap-0123456789abcdef0";
        let spec = efs_task(EfsVolume::new(fs).access_point(ap).iam_authorization(true))
            .build()
            .unwrap();
        let mut td = registered(&spec);
        // DescribeTaskDefinition: rootDirectory "/" filled in, the bind volume's `host: {}`,
        // the volumes in another order.
        td.volumes = Some(vec![
            Volume::builder()
                .name("scratch")
                .host(HostVolumeProperties::builder().build())
                .build(),
            Volume::builder()
                .name("data")
                .efs_volume_configuration(
                    EfsVolumeConfiguration::builder()
                        .file_system_id(fs)
                        .root_directory("/")
                        .transit_encryption(EfsTransitEncryption::Enabled)
                        .authorization_config(
                            EfsAuthorizationConfig::builder()
                                .access_point_id(ap)
                                .iam(EfsAuthorizationConfigIam::Enabled)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        ]);
        let desired = spec.desired_fields("us-east-1");
        assert_eq!(
            TaskDefinitionSpec::observed_fields(&td).diff(&desired),
            vec![]
        );
        assert_eq!(
            desired.get("volumes"),
            Some(&serde_json::json!([
                "data (efs fs-0123456789abcdef0 root=/ transit_encryption=ENABLED iam=ENABLED access_point=fsap-0123456789abcdef0)",
                "scratch"
            ]))
        );
        // A volume registered without transitEncryption (ECS: DISABLED) but desired with it
        // (the library's default) is a change of the volumes, shown in the plan.
        let plain = efs_task(EfsVolume::new(fs)).build().unwrap();
        let mut td = registered(&plain);
        td.volumes = Some(vec![
            volume::bind_volume("scratch"),
            Volume::builder()
                .name("data")
                .efs_volume_configuration(
                    EfsVolumeConfiguration::builder()
                        .file_system_id(fs)
                        .root_directory("/")
                        .transit_encryption(EfsTransitEncryption::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        ]);
        let diffs =
            TaskDefinitionSpec::observed_fields(&td).diff(&plain.desired_fields("us-east-1"));
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["volumes"]);
    }

    #[test]
    fn efs_volumes_are_validated_at_build_and_names_are_used_once() {
        let fs = "fs-0123abcd";
        let e = efs_task(EfsVolume::new("fs-bad")).build().unwrap_err();
        assert_eq!(e.field, "volumes.data.efs.file_system_id");
        let e = efs_task(
            EfsVolume::new(fs)
                .access_point("fsap-0123456789abcdef0")
                .root_directory("/app"),
        )
        .build()
        .unwrap_err();
        assert_eq!(e.field, "volumes.data.efs.root_directory");
        let e = efs_task(EfsVolume::new(fs))
            .volume("data")
            .build()
            .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("volumes.name", "data")
        );
        let e = efs_task(EfsVolume::new(fs))
            .efs_volume("bad/name", EfsVolume::new(fs))
            .build()
            .unwrap_err();
        assert_eq!(e.field, "volumes.name");
        assert!(efs_task(EfsVolume::new(fs)).build().is_ok());
    }

    #[test]
    fn mounts_name_declared_volumes_and_containers() {
        let main = || ContainerSpec::new("app", "nginx:1.27".parse().unwrap());
        let b = |c: ContainerSpec| {
            TaskDefinitionSpec::builder(
                "app".parse().unwrap(),
                owner(),
                TaskSize::new(512, 1024).unwrap(),
                Ref::Known(EXEC.to_string()),
                c,
            )
        };
        let e = b(main().mount("data", "/data", false)).build().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("container.app.mount_points", "data")
        );
        let e = b(main().mount("data", "data", false))
            .volume("data")
            .build()
            .unwrap_err();
        assert_eq!(e.field, "container.app.mount_points.data");
        let e = b(main().volumes_from("ghost", false)).build().unwrap_err();
        assert_eq!(e.field, "container.app.volumes_from");
        let e = b(main()).volume("no/slash").build().unwrap_err();
        assert_eq!(e.field, "volumes.name");
        assert!(
            b(main().mount("data", "/data", true))
                .volume("data")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn a_missing_execution_role_is_refused_only_when_a_container_needs_it() {
        let b = |c: ContainerSpec| {
            TaskDefinitionSpec::builder_without_execution_role(
                "app".parse().unwrap(),
                owner(),
                TaskSize::new(512, 1024).unwrap(),
                c,
            )
        };
        let public = ContainerSpec::new("app", "public.ecr.aws/nginx/nginx:1.27".parse().unwrap());
        let spec = b(public.clone()).build().unwrap();
        assert_eq!(
            spec.desired_fields("us-east-1").get("execution_role_arn"),
            Some(&Value::Null)
        );
        let secret = public.clone().secret(
            "DB",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
                .parse()
                .unwrap(),
        );
        let e = b(secret).build().unwrap_err();
        assert_eq!(e.field, "execution_role");
        assert!(e.reason.contains("container.app.secrets"), "{e}");
        let ecr = ContainerSpec::new(
            "app",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
                .parse()
                .unwrap(),
        );
        assert!(
            b(ecr)
                .build()
                .unwrap_err()
                .reason
                .contains("container.app.image")
        );
        let logs = b(public)
            .logs("/ecs/prod/app".parse().unwrap(), "app")
            .build();
        assert!(
            logs.unwrap_err()
                .reason
                .contains("container.app.log (awslogs)")
        );
    }

    #[test]
    fn the_cli_json_export_refuses_roles_known_only_after_apply() {
        let spec = featured().build().unwrap();
        assert!(spec.cli_json("us-east-1").is_ok());
        let key = crate::iam::role_arn(&"app-exec".parse().unwrap());
        let mut later = spec.clone();
        later.execution_role = Some(Ref::Output(key));
        assert_eq!(
            later.cli_json("us-east-1").unwrap_err().field,
            "execution_role"
        );
    }

    #[test]
    fn sensitive_names_are_recognized() {
        for name in ["API_TOKEN", "db_password", "SECRET", "AWS_ACCESS_KEY_ID"] {
            assert!(looks_sensitive(name), "{name}");
        }
        assert!(!looks_sensitive("RUST_LOG"));
    }
}
