//! EFS file systems that fargate-rs creates for an app's volume (issue #12): the encrypted
//! file system `<env>-<app>-<volume>` ([`FileSystemSpec`]) and its mount targets, one in
//! each of the environment's task subnets, behind a security group that allows NFS from the
//! app's tasks ([`MountTargetsSpec`]).
//!
//! The file system is found by its creation token (derived from its name, so a retried
//! create is idempotent: EFS answers `FileSystemAlreadyExists` and the existing one is used)
//! and owned through tags: a file system with our creation token but without our tags is
//! refused ([`Error::NotOwned`]), never changed or deleted. Mount targets belong to the
//! file system (they carry no tags of their own).
//!
//! Outputs: [`file_system_id`], [`file_system_arn`].

use std::time::Duration;

use aws_sdk_efs::types::{FileSystemDescription, LifeCycleState, MountTargetDescription, Tag};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::wait::{Poll, poll_until, retry_eventual};
use fargate_core::{
    AwsResultExt, Change, Error, Fields, Kind, Mode, PlanValues, Ref, Resolved, ResourceId, Round,
    StepContext, Tags,
};

use crate::Clients;
use crate::aws_util::{creation_tags, ensure_owned, missing};

/// The resource kind of EFS file systems in plans.
pub const FILE_SYSTEM_KIND: &str = "efs:file-system";
/// The resource kind of a file system's access point in plans.
pub const ACCESS_POINT_KIND: &str = "efs:access-point";
/// The resource kind of a file system's mount targets in plans.
pub const MOUNT_TARGETS_KIND: &str = "efs:mount-targets";

/// How long a file system or its mount targets are waited for (available, deleted).
const STATE_POLL: Poll = Poll::new(Duration::from_secs(600), Duration::from_secs(2))
    .with_max_interval(Duration::from_secs(10));
/// How long a file system delete waits while its mount targets are still being deleted.
const IN_USE_POLL: Poll = Poll::new(Duration::from_secs(300), Duration::from_secs(5))
    .with_max_interval(Duration::from_secs(20));

/// The identity of the file system `name` in plans.
pub fn file_system_resource(name: &str) -> ResourceId {
    ResourceId::new(FILE_SYSTEM_KIND, name)
}

/// Output: the file system id (`fs-…`).
pub fn file_system_id(name: &str) -> OutputKey<String> {
    file_system_resource(name).output("id")
}

/// Output: the file system ARN.
pub fn file_system_arn(name: &str) -> OutputKey<String> {
    file_system_resource(name).output("arn")
}

/// The identity of the access point of the file system `name` in plans.
pub fn access_point_resource(name: &str) -> ResourceId {
    ResourceId::new(ACCESS_POINT_KIND, name)
}

/// Output: the access point id (`fsap-…`).
pub fn access_point_id(name: &str) -> OutputKey<String> {
    access_point_resource(name).output("id")
}

/// The identity of the mount targets of the file system `name` in plans.
pub fn mount_targets_resource(name: &str) -> ResourceId {
    ResourceId::new(MOUNT_TARGETS_KIND, name)
}

/// The creation token of the file system `name`: the name itself when it fits EFS's 64
/// characters, else its first 47 characters, `-` and a 16-digit hex digest of the whole.
pub fn creation_token(name: &str) -> String {
    if name.len() <= 64 {
        return name.to_string();
    }
    // FNV-1a: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let head: String = name.chars().take(47).collect();
    format!("{head}-{h:016x}")
}

fn sdk_tags(id: &ResourceId, tags: Vec<(String, String)>) -> Result<Vec<Tag>, Error> {
    tags.into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| crate::aws_util::bad_request(id, "CreateFileSystem", e))
        })
        .collect()
}

/// An encrypted EFS file system of an app's volume.
#[derive(Debug, Clone)]
pub struct FileSystemSpec {
    name: String,
    ownership: Ownership,
    tags: Tags,
}

impl FileSystemSpec {
    /// The file system `name` (`<env>-<app>-<volume>`), owned as `ownership`.
    pub fn new(name: impl Into<String>, ownership: Ownership, tags: Tags) -> Self {
        Self {
            name: name.into(),
            ownership,
            tags,
        }
    }

    /// The file system's name (its `Name` tag).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn desired_fields() -> Fields {
        Fields::new().with("encrypted", true)
    }

    /// The file system with our creation token, ownership checked; `None` when there is
    /// none (or it is being deleted).
    #[tracing::instrument(skip_all, fields(resource = %file_system_resource(&self.name)))]
    async fn find(&self, c: &Clients) -> Result<Option<ObservedFileSystem>, Error> {
        let id = file_system_resource(&self.name);
        let out = c
            .efs
            .describe_file_systems()
            .creation_token(creation_token(&self.name))
            .send()
            .await
            .context(&id, "DescribeFileSystems")?;
        let Some(fs) = out.file_systems().iter().find(|fs| {
            !matches!(
                fs.life_cycle_state(),
                LifeCycleState::Deleted | LifeCycleState::Deleting
            )
        }) else {
            return Ok(None);
        };
        ensure_owned(
            &self.ownership,
            &id,
            fs.file_system_id(),
            fs.tags().iter().map(|t| (t.key(), t.value())),
        )?;
        observed(&id, fs).map(Some)
    }

    #[tracing::instrument(skip_all, fields(resource = %file_system_resource(&self.name)))]
    async fn create(&self, c: &Clients, ctx: &StepContext) -> Result<ObservedFileSystem, Error> {
        let id = file_system_resource(&self.name);
        let tags = sdk_tags(&id, creation_tags(&self.ownership, &self.tags, &self.name))?;
        let sent = c
            .efs
            .create_file_system()
            .creation_token(creation_token(&self.name))
            .encrypted(true)
            .set_tags(Some(tags))
            .send()
            .await;
        match sent {
            Ok(_) => {}
            // A retried create: the file system of this token exists (found again below,
            // ownership checked).
            Err(e)
                if fargate_core::error::sdk_error_code(&e) == Some("FileSystemAlreadyExists") => {}
            Err(e) => return Err(Error::from_sdk(&id, "CreateFileSystem", e)),
        }
        poll_until(
            ctx,
            &id,
            "the file system to be available",
            STATE_POLL,
            || async {
                match self.find(c).await? {
                    Some(fs) if fs.state == LifeCycleState::Available.as_str() => Ok(Some(fs)),
                    Some(fs) if fs.state == LifeCycleState::Error.as_str() => {
                        Err(Error::Unexpected {
                            resource: id.clone(),
                            operation: "DescribeFileSystems".into(),
                            detail: format!("the file system {} is in state error", fs.id),
                        })
                    }
                    _ => Ok(None),
                }
            },
        )
        .await
    }
}

fn observed(id: &ResourceId, fs: &FileSystemDescription) -> Result<ObservedFileSystem, Error> {
    let arn = fs
        .file_system_arn()
        .ok_or_else(|| missing(id, "DescribeFileSystems", "FileSystemArn"))?;
    Ok(ObservedFileSystem {
        id: fs.file_system_id().to_string(),
        arn: arn.to_string(),
        state: fs.life_cycle_state().as_str().to_string(),
        fields: Fields::new().with("encrypted", fs.encrypted().unwrap_or(false)),
    })
}

/// A file system as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedFileSystem {
    id: String,
    arn: String,
    state: String,
    fields: Fields,
}

impl Kind<Clients> for FileSystemSpec {
    type Observed = ObservedFileSystem;

    fn id(&self) -> ResourceId {
        file_system_resource(&self.name)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedFileSystem>, Error>> {
        Box::pin(self.find(clients))
    }

    fn diff(&self, observed: Option<&ObservedFileSystem>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &Self::desired_fields(),
            observed.map(|o| &o.fields),
            &["encrypted"],
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedFileSystem>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new()
                .with(&file_system_id(&self.name), &o.id)
                .with(&file_system_arn(&self.name), &o.arn)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedFileSystem>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let fs = match (change, observed) {
                (Change::NoOp | Change::Update { .. }, Some(o)) => o.clone(),
                (Change::Replace { reason, .. }, Some(_)) => {
                    return Err(Error::Unexpected {
                        resource: file_system_resource(&self.name),
                        operation: "apply".into(),
                        detail: format!(
                            "the file system would have to be replaced ({reason}); fargate-rs \
                             does not delete a file system's data on its own"
                        ),
                    });
                }
                _ => self.create(clients, ctx).await?,
            };
            ctx.set(&file_system_id(&self.name), fs.id.clone());
            ctx.set(&file_system_arn(&self.name), fs.arn.clone());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedFileSystem,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = file_system_resource(&self.name);
            let in_use = |e: &Error| e.aws_code() == Some("FileSystemInUse");
            retry_eventual(ctx, IN_USE_POLL, in_use, || async {
                let out = clients
                    .efs
                    .delete_file_system()
                    .file_system_id(&observed.id)
                    .send()
                    .await;
                match out {
                    Ok(_) => Ok(()),
                    Err(e)
                        if fargate_core::error::sdk_error_code(&e)
                            == Some("FileSystemNotFound") =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(Error::from_sdk(&id, "DeleteFileSystem", e)),
                }
            })
            .await?;
            poll_until(
                ctx,
                &id,
                "the file system to be deleted",
                STATE_POLL,
                || async { Ok(self.find(clients).await?.is_none().then_some(())) },
            )
            .await
        })
    }
}

/// The mount targets of a created file system: one in each of `subnets`, with the security
/// group `security_group` (NFS from the app's tasks).
#[derive(Debug, Clone)]
pub struct MountTargetsSpec {
    name: String,
    subnets: Ref<Vec<String>>,
    security_group: Ref<String>,
    depends_on: Vec<ResourceId>,
}

impl MountTargetsSpec {
    /// The mount targets of the file system `name` ([`FileSystemSpec`]) in `subnets`, with
    /// `security_group`; `depends_on` lists the producers of the subnets and the group (the
    /// file system is added).
    pub fn new(
        name: impl Into<String>,
        subnets: Ref<Vec<String>>,
        security_group: Ref<String>,
        depends_on: Vec<ResourceId>,
    ) -> Self {
        Self {
            name: name.into(),
            subnets,
            security_group,
            depends_on,
        }
    }

    fn resource(&self) -> ResourceId {
        mount_targets_resource(&self.name)
    }

    fn desired_fields(&self, resolved: &Resolved) -> Fields {
        match resolved.get_ref(&self.subnets) {
            Some(mut s) => {
                s.sort();
                s.dedup();
                Fields::new().with_set("subnets", s)
            }
            None => Fields::new().with("subnets", crate::deferred::KNOWN_AFTER_APPLY),
        }
    }

    #[tracing::instrument(skip_all, fields(resource = %mount_targets_resource(&self.name)))]
    async fn list(&self, c: &Clients, fs: &str) -> Result<Vec<MountTargetDescription>, Error> {
        let id = self.resource();
        let mut targets = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = c
                .efs
                .describe_mount_targets()
                .file_system_id(fs)
                .set_marker(marker.clone())
                .send()
                .await;
            let out = match out {
                Ok(o) => o,
                Err(e) if fargate_core::error::sdk_error_code(&e) == Some("FileSystemNotFound") => {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(Error::from_sdk(&id, "DescribeMountTargets", e)),
            };
            targets.extend(out.mount_targets().iter().cloned());
            match out.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        targets.retain(|t| {
            !matches!(
                t.life_cycle_state(),
                LifeCycleState::Deleted | LifeCycleState::Deleting
            )
        });
        Ok(targets)
    }

    async fn observed(&self, c: &Clients, fs: &str) -> Result<ObservedMountTargets, Error> {
        let targets = self.list(c, fs).await?;
        let mut subnets: Vec<String> = targets.iter().map(|t| t.subnet_id().to_string()).collect();
        subnets.sort();
        Ok(ObservedMountTargets {
            file_system_id: fs.to_string(),
            targets: targets
                .iter()
                .map(|t| ObservedMountTarget {
                    id: t.mount_target_id().to_string(),
                    subnet: t.subnet_id().to_string(),
                    state: t.life_cycle_state().as_str().to_string(),
                })
                .collect(),
            fields: Fields::new().with_set("subnets", subnets),
        })
    }

    /// Wait until every mount target of `fs` is available (or, `gone`, until none is left).
    async fn wait(
        &self,
        c: &Clients,
        ctx: &StepContext,
        fs: &str,
        gone: bool,
    ) -> Result<(), Error> {
        let what = if gone {
            "the mount targets to be deleted"
        } else {
            "the mount targets to be available"
        };
        poll_until(ctx, &self.resource(), what, STATE_POLL, || async {
            let targets = self.list(c, fs).await?;
            let done = if gone {
                targets.is_empty()
            } else {
                targets
                    .iter()
                    .all(|t| *t.life_cycle_state() == LifeCycleState::Available)
            };
            Ok(done.then_some(()))
        })
        .await
    }
}

/// One mount target as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedMountTarget {
    id: String,
    subnet: String,
    state: String,
}

/// A file system's mount targets as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedMountTargets {
    file_system_id: String,
    targets: Vec<ObservedMountTarget>,
    fields: Fields,
}

impl Kind<Clients> for MountTargetsSpec {
    type Observed = ObservedMountTargets;

    fn id(&self) -> ResourceId {
        mount_targets_resource(&self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut deps = vec![file_system_resource(&self.name)];
        deps.extend(self.depends_on.iter().cloned());
        deps
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedMountTargets>, Error>> {
        Box::pin(async move {
            let Some(fs) = round.output(&file_system_id(&self.name)).await else {
                return Ok(None);
            };
            let o = self.observed(clients, &fs).await?;
            Ok((!o.targets.is_empty()).then_some(o))
        })
    }

    fn diff(
        &self,
        observed: Option<&ObservedMountTargets>,
        resolved: &Resolved,
    ) -> Result<Change, Error> {
        Ok(Change::compute(
            &self.desired_fields(resolved),
            observed.map(|o| &o.fields),
            &[],
        ))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        _: Option<&'a ObservedMountTargets>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if matches!(change, Change::NoOp | Change::Adopt { .. }) {
                return Ok(());
            }
            let id = self.resource();
            let fs = ctx.get(&file_system_id(&self.name))?;
            let subnets = self.subnets.resolve(ctx)?;
            let sg = self.security_group.resolve(ctx)?;
            let existing = self.list(clients, &fs).await?;
            for subnet in &subnets {
                if existing.iter().any(|t| t.subnet_id() == subnet) {
                    continue;
                }
                let sent = clients
                    .efs
                    .create_mount_target()
                    .file_system_id(&fs)
                    .subnet_id(subnet)
                    .security_groups(&sg)
                    .send()
                    .await;
                match sent {
                    Ok(_) => {}
                    // A retried create: the subnet (its availability zone) has one already.
                    Err(e)
                        if fargate_core::error::sdk_error_code(&e)
                            == Some("MountTargetConflict") => {}
                    Err(e) => return Err(Error::from_sdk(&id, "CreateMountTarget", e)),
                }
            }
            for t in existing
                .iter()
                .filter(|t| !subnets.iter().any(|s| s == t.subnet_id()))
            {
                delete_mount_target(clients, &id, t.mount_target_id()).await?;
            }
            self.wait(clients, ctx, &fs, false).await
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedMountTargets,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = self.resource();
            for t in &observed.targets {
                delete_mount_target(clients, &id, &t.id).await?;
            }
            self.wait(clients, ctx, &observed.file_system_id, true)
                .await
        })
    }
}

#[tracing::instrument(skip(c))]
async fn delete_mount_target(c: &Clients, id: &ResourceId, target: &str) -> Result<(), Error> {
    match c
        .efs
        .delete_mount_target()
        .mount_target_id(target)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if fargate_core::error::sdk_error_code(&e) == Some("MountTargetNotFound") => Ok(()),
        Err(e) => Err(Error::from_sdk(id, "DeleteMountTarget", e)),
    }
}

/// The access point of a created file system: every client acts as the POSIX user
/// `uid:gid` and sees the directory `path` as its root (created, owned by that user, mode
/// 0755, when it does not exist). Found by its `Name` tag (the file system's name), owned by
/// tags; created with the creation token as client token.
#[derive(Debug, Clone)]
pub struct AccessPointSpec {
    name: String,
    uid: u32,
    gid: u32,
    path: String,
    ownership: Ownership,
    tags: Tags,
}

impl AccessPointSpec {
    /// The access point of the file system `name` for `uid:gid` at `path` (absolute).
    pub fn new(
        name: impl Into<String>,
        (uid, gid): (u32, u32),
        path: impl Into<String>,
        ownership: Ownership,
        tags: Tags,
    ) -> Self {
        Self {
            name: name.into(),
            uid,
            gid,
            path: path.into(),
            ownership,
            tags,
        }
    }

    fn desired_fields(&self) -> Fields {
        Fields::new()
            .with("posix_user", format!("{}:{}", self.uid, self.gid))
            .with("root_directory", self.path.as_str())
    }

    #[tracing::instrument(skip_all, fields(resource = %access_point_resource(&self.name)))]
    async fn find(&self, c: &Clients, fs: &str) -> Result<Option<ObservedAccessPoint>, Error> {
        let id = access_point_resource(&self.name);
        let out = c
            .efs
            .describe_access_points()
            .file_system_id(fs)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) if fargate_core::error::sdk_error_code(&e) == Some("FileSystemNotFound") => {
                return Ok(None);
            }
            Err(e) => return Err(Error::from_sdk(&id, "DescribeAccessPoints", e)),
        };
        let ours = out.access_points().iter().find(|ap| {
            ap.tags()
                .iter()
                .any(|t| t.key() == "Name" && t.value() == self.name)
                && !matches!(
                    ap.life_cycle_state(),
                    Some(LifeCycleState::Deleted | LifeCycleState::Deleting)
                )
        });
        let Some(ap) = ours else {
            return Ok(None);
        };
        let ap_id = ap
            .access_point_id()
            .ok_or_else(|| missing(&id, "DescribeAccessPoints", "AccessPointId"))?;
        ensure_owned(
            &self.ownership,
            &id,
            ap_id,
            ap.tags().iter().map(|t| (t.key(), t.value())),
        )?;
        let user = ap
            .posix_user()
            .map(|u| format!("{}:{}", u.uid(), u.gid()))
            .unwrap_or_default();
        let root = ap
            .root_directory()
            .and_then(|r| r.path())
            .unwrap_or("/")
            .to_string();
        Ok(Some(ObservedAccessPoint {
            id: ap_id.to_string(),
            state: ap
                .life_cycle_state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            fields: Fields::new()
                .with("posix_user", user)
                .with("root_directory", root),
        }))
    }

    #[tracing::instrument(skip_all, fields(resource = %access_point_resource(&self.name)))]
    async fn create(
        &self,
        c: &Clients,
        ctx: &StepContext,
        fs: &str,
    ) -> Result<ObservedAccessPoint, Error> {
        let id = access_point_resource(&self.name);
        let op = "CreateAccessPoint";
        let tags = sdk_tags(&id, creation_tags(&self.ownership, &self.tags, &self.name))?;
        let user = aws_sdk_efs::types::PosixUser::builder()
            .uid(i64::from(self.uid))
            .gid(i64::from(self.gid))
            .build()
            .map_err(|e| crate::aws_util::bad_request(&id, op, e))?;
        let info = aws_sdk_efs::types::CreationInfo::builder()
            .owner_uid(i64::from(self.uid))
            .owner_gid(i64::from(self.gid))
            .permissions("0755")
            .build()
            .map_err(|e| crate::aws_util::bad_request(&id, op, e))?;
        c.efs
            .create_access_point()
            .client_token(creation_token(&self.name))
            .file_system_id(fs)
            .posix_user(user)
            .root_directory(
                aws_sdk_efs::types::RootDirectory::builder()
                    .path(&self.path)
                    .creation_info(info)
                    .build(),
            )
            .set_tags(Some(tags))
            .send()
            .await
            .context(&id, op)?;
        poll_until(
            ctx,
            &id,
            "the access point to be available",
            STATE_POLL,
            || async {
                Ok(self
                    .find(c, fs)
                    .await?
                    .filter(|ap| ap.state == LifeCycleState::Available.as_str()))
            },
        )
        .await
    }

    async fn delete(&self, c: &Clients, ap: &str) -> Result<(), Error> {
        let id = access_point_resource(&self.name);
        match c.efs.delete_access_point().access_point_id(ap).send().await {
            Ok(_) => Ok(()),
            Err(e) if fargate_core::error::sdk_error_code(&e) == Some("AccessPointNotFound") => {
                Ok(())
            }
            Err(e) => Err(Error::from_sdk(&id, "DeleteAccessPoint", e)),
        }
    }
}

/// An access point as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedAccessPoint {
    id: String,
    state: String,
    fields: Fields,
}

impl Kind<Clients> for AccessPointSpec {
    type Observed = ObservedAccessPoint;

    fn id(&self) -> ResourceId {
        access_point_resource(&self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![file_system_resource(&self.name)]
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedAccessPoint>, Error>> {
        Box::pin(async move {
            match round.output(&file_system_id(&self.name)).await {
                Some(fs) => self.find(clients, &fs).await,
                None => Ok(None),
            }
        })
    }

    fn diff(&self, observed: Option<&ObservedAccessPoint>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &self.desired_fields(),
            observed.map(|o| &o.fields),
            &["posix_user", "root_directory"],
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedAccessPoint>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        match (observed, change) {
            (Some(o), Change::NoOp) => PlanValues::new().with(&access_point_id(&self.name), &o.id),
            _ => PlanValues::new(),
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedAccessPoint>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let ap = match (change, observed) {
                (Change::NoOp, Some(o)) => o.id.clone(),
                (_, old) => {
                    // Another user or root directory: a new access point (it holds no data).
                    if let Some(old) = old {
                        self.delete(clients, &old.id).await?;
                    }
                    let fs = ctx.get(&file_system_id(&self.name))?;
                    self.create(clients, ctx, &fs).await?.id
                }
            };
            ctx.set(&access_point_id(&self.name), ap);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a StepContext,
        observed: &'a ObservedAccessPoint,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.delete(clients, &observed.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creation_token_is_the_name_or_a_stable_digest_of_a_long_one() {
        assert_eq!(creation_token("prod-api-data"), "prod-api-data");
        let long = "x".repeat(80);
        let t = creation_token(&long);
        assert_eq!(t.len(), 64);
        assert_eq!(t, creation_token(&long));
        assert_ne!(t, creation_token(&"x".repeat(81)));
    }
}
