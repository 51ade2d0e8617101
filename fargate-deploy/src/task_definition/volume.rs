//! Task volumes that containers of the task share through `mountPoints` and `volumesFrom`:
//! bind mount volumes (task storage on the task's ephemeral storage; Fargate has no host
//! paths, so such a volume is a name only) and EFS volumes on an existing file system
//! ([`EfsVolume`]), and volumes configured at launch (a managed EBS volume whose
//! configuration the service gives, [`crate::ebs`]). FSx volumes are not supported yet.

use aws_sdk_ecs::error::BuildError;
use aws_sdk_ecs::types::{
    EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption,
    EfsVolumeConfiguration, HostVolumeProperties, MountPoint as SdkMountPoint, Volume,
    VolumeFrom as SdkVolumeFrom,
};
use fargate_core::{InvalidValue, Ref, Resolved, ResourceId, StepContext};
use serde_json::{Map, Value};

/// An EFS volume on an existing (adopted) file system: ECS mounts it into the containers that
/// [`mount`](super::ContainerSpec::mount) it. fargate-rs does not create or change the file
/// system, its mount targets or its access points; the task's subnets need a mount target
/// and its security groups access to port 2049. (A file system that fargate-rs creates for
/// an app's volume, with its mount targets and access point, is [`crate::AppVolume`] with
/// `create`; its task volume is [`EfsVolume::created`].)
///
/// Registered as the volume's `efsVolumeConfiguration`. [`EfsVolume::new`] gives the
/// defaults: the file system's root (`/`), no access point, transit encryption on, no IAM
/// authorization. Validated by [`TaskDefinitionBuilder::build`](super::TaskDefinitionBuilder::build)
/// (fields `volumes.<name>.efs.<field>`): `file_system_id` is `fs-` and 8 or 17 lower-case
/// hex digits, `access_point_id` is `fsap-` and 17, `root_directory` is an absolute path;
/// ECS's rules: with an access point the root directory is absent or `/` (the access point
/// sets it), and an access point or IAM authorization needs transit encryption.
///
/// ```
/// use fargate_deploy::task_definition::EfsVolume;
///
/// let efs = EfsVolume::new("fs-0123456789abcdef0")
///     .access_point("fsap-0123456789abcdef0")
///     .iam_authorization(true);
/// assert!(efs.transit_encryption);
/// assert_eq!(efs.root_directory, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfsVolume {
    /// The file system's id, `fs-0123abcd` or `fs-0123456789abcdef0`.
    pub file_system_id: String,
    /// The directory of the file system mounted as the volume's root (absolute; `None` is
    /// `/`). Absent or `/` with an access point.
    pub root_directory: Option<String>,
    /// The access point to mount through, `fsap-0123456789abcdef0`.
    pub access_point_id: Option<String>,
    /// Encrypt the NFS traffic in transit (TLS); required with an access point or IAM
    /// authorization.
    pub transit_encryption: bool,
    /// Mount with the task role's IAM identity (the file system policy decides access).
    pub iam_authorization: bool,
}

impl EfsVolume {
    /// The file system `file_system_id` with the defaults: its root, no access point,
    /// transit encryption on, no IAM authorization.
    pub fn new(file_system_id: impl Into<String>) -> Self {
        Self {
            file_system_id: file_system_id.into(),
            root_directory: None,
            access_point_id: None,
            transit_encryption: true,
            iam_authorization: false,
        }
    }

    /// A volume on the file system fargate-rs creates for it: the file system id is set when
    /// the task definition is registered (see
    /// [`TaskDefinitionBuilder::created_efs_volume`](super::TaskDefinitionBuilder::created_efs_volume)).
    /// Transit encryption and IAM authorization are on: the task role is allowed to mount.
    pub fn created() -> Self {
        Self::new(CREATED_FS_PLACEHOLDER).iam_authorization(true)
    }

    /// Mount the directory `path` (absolute) of the file system as the volume's root.
    #[must_use]
    pub fn root_directory(mut self, path: impl Into<String>) -> Self {
        self.root_directory = Some(path.into());
        self
    }

    /// Mount through the access point `access_point_id` (`fsap-…`).
    #[must_use]
    pub fn access_point(mut self, access_point_id: impl Into<String>) -> Self {
        self.access_point_id = Some(access_point_id.into());
        self
    }

    /// Turn transit encryption on or off (on by default).
    #[must_use]
    pub fn transit_encryption(mut self, on: bool) -> Self {
        self.transit_encryption = on;
        self
    }

    /// Turn IAM authorization on or off (off by default).
    #[must_use]
    pub fn iam_authorization(mut self, on: bool) -> Self {
        self.iam_authorization = on;
        self
    }

    /// The checks of the volume `volume`, fields `volumes.<volume>.efs.<field>`.
    pub(crate) fn validate(&self, volume: &str) -> Result<(), InvalidValue> {
        let field = |f: &str| format!("volumes.{volume}.efs.{f}");
        let fs_hex = self.file_system_id.strip_prefix("fs-").unwrap_or_default();
        if !(matches!(fs_hex.len(), 8 | 17) && is_lower_hex(fs_hex)) {
            return Err(InvalidValue::new(
                field("file_system_id"),
                &self.file_system_id,
                "not an EFS file system id",
                "fs- and 8 or 17 lower-case hex digits, for example fs-0123456789abcdef0",
            ));
        }
        if let Some(ap) = &self.access_point_id {
            let hex = ap.strip_prefix("fsap-").unwrap_or_default();
            if !(hex.len() == 17 && is_lower_hex(hex)) {
                return Err(InvalidValue::new(
                    field("access_point_id"),
                    ap,
                    "not an EFS access point id",
                    "fsap- and 17 lower-case hex digits, for example fsap-0123456789abcdef0",
                ));
            }
        }
        if let Some(root) = &self.root_directory {
            let valid = root.starts_with('/')
                && !root.split('/').any(|s| s == "..")
                && !root.chars().any(char::is_control);
            if !valid {
                return Err(InvalidValue::new(
                    field("root_directory"),
                    root,
                    "not an absolute path",
                    "a path starting with / without .. segments or control characters",
                ));
            }
            if self.access_point_id.is_some() && root != "/" {
                return Err(InvalidValue::new(
                    field("root_directory"),
                    root,
                    "ECS rule: with an access point, the access point sets the root directory",
                    "no root directory, or /",
                ));
            }
        }
        if !self.transit_encryption {
            let needs = if self.access_point_id.is_some() {
                Some("an access point")
            } else if self.iam_authorization {
                Some("IAM authorization")
            } else {
                None
            };
            if let Some(needs) = needs {
                return Err(InvalidValue::new(
                    field("transit_encryption"),
                    "false",
                    format!("ECS rule: {needs} needs transit encryption"),
                    "true (the default)",
                ));
            }
        }
        Ok(())
    }

    /// The normalized key: `fs-… root=/ transit_encryption=ENABLED iam=DISABLED`, and
    /// `access_point=fsap-…` when set.
    pub(crate) fn key(&self) -> String {
        efs_key(
            &self.file_system_id,
            self.root_directory.as_deref(),
            self.access_point_id.as_deref(),
            self.transit_encryption,
            self.iam_authorization,
            None,
        )
    }

    pub(crate) fn to_sdk(&self) -> Result<EfsVolumeConfiguration, BuildError> {
        let auth = (self.access_point_id.is_some() || self.iam_authorization).then(|| {
            EfsAuthorizationConfig::builder()
                .set_access_point_id(self.access_point_id.clone())
                .iam(if self.iam_authorization {
                    EfsAuthorizationConfigIam::Enabled
                } else {
                    EfsAuthorizationConfigIam::Disabled
                })
                .build()
        });
        EfsVolumeConfiguration::builder()
            .file_system_id(&self.file_system_id)
            .set_root_directory(self.root_directory.clone())
            .transit_encryption(if self.transit_encryption {
                EfsTransitEncryption::Enabled
            } else {
                EfsTransitEncryption::Disabled
            })
            .set_authorization_config(auth)
            .build()
    }

    /// The `efsVolumeConfiguration` of the AWS CLI JSON, normalized: `rootDirectory` and
    /// `transitEncryption` always, `authorizationConfig` with an access point or IAM.
    pub(crate) fn cli_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("fileSystemId".into(), self.file_system_id.clone().into());
        m.insert(
            "rootDirectory".into(),
            self.root_directory.as_deref().unwrap_or("/").into(),
        );
        m.insert(
            "transitEncryption".into(),
            enabled(self.transit_encryption).into(),
        );
        if self.access_point_id.is_some() || self.iam_authorization {
            let mut auth = Map::new();
            if let Some(ap) = &self.access_point_id {
                auth.insert("accessPointId".into(), ap.clone().into());
            }
            auth.insert("iam".into(), enabled(self.iam_authorization).into());
            m.insert("authorizationConfig".into(), Value::Object(auth));
        }
        Value::Object(m)
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn enabled(on: bool) -> &'static str {
    if on { "ENABLED" } else { "DISABLED" }
}

fn efs_key(
    file_system_id: &str,
    root: Option<&str>,
    access_point: Option<&str>,
    transit: bool,
    iam: bool,
    port: Option<i32>,
) -> String {
    let root = root.filter(|r| !r.is_empty()).unwrap_or("/");
    let mut key = format!(
        "{file_system_id} root={root} transit_encryption={} iam={}",
        enabled(transit),
        enabled(iam)
    );
    if let Some(ap) = access_point {
        key.push_str(&format!(" access_point={ap}"));
    }
    if let Some(port) = port {
        key.push_str(&format!(" transit_encryption_port={port}"));
    }
    key
}

/// The normalized key of an observed EFS configuration, ECS's defaults filled in (root `/`,
/// transit encryption and IAM `DISABLED`).
fn observed_efs(c: &EfsVolumeConfiguration) -> String {
    let auth = c.authorization_config();
    efs_key(
        c.file_system_id(),
        c.root_directory(),
        auth.and_then(|a| a.access_point_id()),
        c.transit_encryption() == Some(&EfsTransitEncryption::Enabled),
        auth.and_then(|a| a.iam()) == Some(&EfsAuthorizationConfigIam::Enabled),
        c.transit_encryption_port(),
    )
}

/// A volume of the task: a bind mount volume, or an EFS volume.
#[derive(Debug, Clone)]
pub(crate) struct TaskVolume {
    pub(crate) name: String,
    pub(crate) efs: Option<EfsVolume>,
    /// The file system id when fargate-rs creates the file system (an output of
    /// [`crate::efs::FileSystemSpec`]): it replaces `efs.file_system_id`.
    pub(crate) created: Option<Ref<String>>,
    /// The access point id when fargate-rs creates it (an output of
    /// [`crate::efs::AccessPointSpec`]): it replaces `efs.access_point_id`.
    pub(crate) created_access_point: Option<Ref<String>>,
    /// Configured at launch (`configuredAtLaunch: true`): a managed EBS volume whose
    /// configuration the service gives ([`crate::ebs`]).
    pub(crate) at_launch: bool,
}

/// A placeholder file system id, valid for the checks, of a volume whose file system is created.
pub(crate) const CREATED_FS_PLACEHOLDER: &str = "fs-00000000";
/// A placeholder access point id, valid for the checks, of a created access point.
pub(crate) const CREATED_AP_PLACEHOLDER: &str = "fsap-00000000000000000";

impl TaskVolume {
    /// The normalized key: the name of a bind mount volume, `name (efs …)` of an EFS one.
    pub(crate) fn key(&self) -> String {
        self.key_with(None)
    }

    /// [`Self::key`], the id of a created file system taken from `resolved` (known after
    /// apply when it is not known yet).
    pub(crate) fn key_with(&self, resolved: Option<&Resolved>) -> String {
        match &self.efs {
            None if self.at_launch => format!("{} (configured at launch)", self.name),
            None => self.name.clone(),
            Some(efs) => {
                let efs = match &self.created {
                    None => efs.clone(),
                    Some(r) => {
                        let mut e = efs.clone();
                        let known = |r: &Ref<String>| {
                            resolved
                                .and_then(|res| res.get_ref(r))
                                .unwrap_or_else(|| crate::deferred::KNOWN_AFTER_APPLY.to_string())
                        };
                        e.file_system_id = known(r);
                        if let Some(ap) = &self.created_access_point {
                            e.access_point_id = Some(known(ap));
                        }
                        e
                    }
                };
                format!("{} (efs {})", self.name, efs.key())
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), InvalidValue> {
        validate_volume_name(&self.name)?;
        match &self.efs {
            Some(efs) => efs.validate(&self.name),
            None => Ok(()),
        }
    }

    pub(crate) fn to_sdk(&self, ctx: Option<&StepContext>) -> Result<Volume, fargate_core::Error> {
        let bad = |e: BuildError| fargate_core::Error::Unexpected {
            resource: ResourceId::new("ecs:task-definition", &self.name),
            operation: "RegisterTaskDefinition".into(),
            detail: format!("the volume could not be built: {e}"),
        };
        Ok(match &self.efs {
            None if self.at_launch => Volume::builder()
                .name(&self.name)
                .configured_at_launch(true)
                .build(),
            None => bind_volume(&self.name),
            Some(efs) => {
                let mut efs = efs.clone();
                if let (Some(r), Some(ctx)) = (&self.created, ctx) {
                    efs.file_system_id = r.resolve(ctx)?;
                }
                if let (Some(r), Some(ctx)) = (&self.created_access_point, ctx) {
                    efs.access_point_id = Some(r.resolve(ctx)?);
                }
                Volume::builder()
                    .name(&self.name)
                    .efs_volume_configuration(efs.to_sdk().map_err(bad)?)
                    .build()
            }
        })
    }

    /// The volume in the AWS CLI JSON, `{"name": …}` (with `efsVolumeConfiguration`).
    pub(crate) fn cli_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        if let Some(efs) = &self.efs {
            m.insert("efsVolumeConfiguration".into(), efs.cli_json());
        }
        if self.at_launch {
            m.insert("configuredAtLaunch".into(), true.into());
        }
        Value::Object(m)
    }
}

/// A task volume mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountPoint {
    pub(crate) source_volume: String,
    pub(crate) container_path: String,
    pub(crate) read_only: bool,
}

impl MountPoint {
    /// The normalized key, `volume:/path` (`:ro` when read-only).
    pub(crate) fn key(&self) -> String {
        mount_key(&self.source_volume, &self.container_path, self.read_only)
    }

    pub(crate) fn to_sdk(&self) -> SdkMountPoint {
        SdkMountPoint::builder()
            .source_volume(&self.source_volume)
            .container_path(&self.container_path)
            .read_only(self.read_only)
            .build()
    }
}

/// Every volume of another container of the task, mounted at the same paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolumesFrom {
    pub(crate) source_container: String,
    pub(crate) read_only: bool,
}

impl VolumesFrom {
    /// The normalized key, `container` (`:ro` when read-only).
    pub(crate) fn key(&self) -> String {
        from_key(&self.source_container, self.read_only)
    }

    pub(crate) fn to_sdk(&self) -> SdkVolumeFrom {
        SdkVolumeFrom::builder()
            .source_container(&self.source_container)
            .read_only(self.read_only)
            .build()
    }
}

fn mount_key(volume: &str, path: &str, read_only: bool) -> String {
    format!("{volume}:{path}{}", if read_only { ":ro" } else { "" })
}

fn from_key(container: &str, read_only: bool) -> String {
    format!("{container}{}", if read_only { ":ro" } else { "" })
}

/// The sorted keys of observed mount points (`readOnly` defaults to false).
pub(crate) fn observed_mounts(mounts: &[SdkMountPoint]) -> Vec<String> {
    let mut keys: Vec<String> = mounts
        .iter()
        .map(|m| {
            mount_key(
                m.source_volume().unwrap_or_default(),
                m.container_path().unwrap_or_default(),
                m.read_only().unwrap_or(false),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The sorted keys of observed `volumesFrom` (`readOnly` defaults to false).
pub(crate) fn observed_volumes_from(from: &[SdkVolumeFrom]) -> Vec<String> {
    let mut keys: Vec<String> = from
        .iter()
        .map(|v| {
            from_key(
                v.source_container().unwrap_or_default(),
                v.read_only().unwrap_or(false),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The normalized key of an observed task volume: its name for a bind mount (no `host`, or
/// `host` without `sourcePath`), `name (efs …)` for an EFS volume (as [`TaskVolume::key`]);
/// any other kind is marked, so that it reads as a change.
pub(crate) fn observed_volume(v: &Volume) -> String {
    let name = v.name().unwrap_or_default();
    let kind = if let Some(efs) = v.efs_volume_configuration() {
        Some(format!("efs {}", observed_efs(efs)))
    } else if v.configured_at_launch() == Some(true) {
        Some("configured at launch".to_string())
    } else if v.docker_volume_configuration().is_some() {
        Some("docker".to_string())
    } else if v.fsx_windows_file_server_volume_configuration().is_some() {
        Some("fsx".to_string())
    } else if v.s3files_volume_configuration().is_some() {
        Some("s3files".to_string())
    } else {
        v.host()
            .and_then(|h| h.source_path())
            .map(|p| format!("host {p}"))
    };
    match kind {
        Some(kind) => format!("{name} ({kind})"),
        None => name.to_string(),
    }
}

/// The ECS bind mount volume `name`.
pub(crate) fn bind_volume(name: &str) -> Volume {
    Volume::builder()
        .name(name)
        .host(HostVolumeProperties::builder().build())
        .build()
}

/// A volume name as ECS accepts it: 1 to 255 letters, digits, hyphens and underscores.
pub(crate) fn validate_volume_name(name: &str) -> Result<(), InvalidValue> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(InvalidValue::new(
            "volumes.name",
            name,
            "not a volume name ECS accepts",
            "1 to 255 letters, digits, hyphens and underscores",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_volume_reads_as_its_name_and_other_kinds_as_changes() {
        assert_eq!(observed_volume(&bind_volume("data")), "data");
        let bare = Volume::builder().name("data").build();
        assert_eq!(observed_volume(&bare), "data");
        let host = Volume::builder()
            .name("data")
            .host(HostVolumeProperties::builder().source_path("/srv").build())
            .build();
        assert_eq!(observed_volume(&host), "data (host /srv)");
    }

    #[test]
    fn observed_mounts_default_to_read_write_and_sort() {
        let mounts = [
            SdkMountPoint::builder()
                .source_volume("b")
                .container_path("/b")
                .build(),
            SdkMountPoint::builder()
                .source_volume("a")
                .container_path("/a")
                .read_only(true)
                .build(),
        ];
        assert_eq!(observed_mounts(&mounts), ["a:/a:ro", "b:/b"]);
        assert!(validate_volume_name("shared_tmp-1").is_ok());
        assert!(validate_volume_name("bad/name").is_err());
    }

    const FS: &str = "fs-0123456789abcdef0";
    const AP: &str = "fsap-0123456789abcdef0";

    fn err(efs: &EfsVolume) -> (String, String) {
        let e = efs.validate("data").unwrap_err();
        (e.field, e.value)
    }

    #[test]
    fn efs_ids_and_root_directory_are_validated_naming_the_field() {
        assert!(EfsVolume::new("fs-0123abcd").validate("data").is_ok());
        assert!(
            EfsVolume::new(FS)
                .root_directory("/srv/app")
                .validate("data")
                .is_ok()
        );
        for bad in [
            "fs-0123abc",
            "fs-0123ABCD",
            "0123abcd",
            "fs-0123456789abcdef",
            "fs-xyz12345",
        ] {
            assert_eq!(
                err(&EfsVolume::new(bad)),
                (
                    "volumes.data.efs.file_system_id".to_string(),
                    bad.to_string()
                ),
                "{bad}"
            );
        }
        for bad in [
            "fsap-0123abcd",
            "fs-0123456789abcdef0",
            "fsap-0123456789ABCDEF0",
        ] {
            assert_eq!(
                err(&EfsVolume::new(FS).access_point(bad)).0,
                "volumes.data.efs.access_point_id",
                "{bad}"
            );
        }
        for bad in ["srv", "", "/srv/../etc", "/a\nb"] {
            assert_eq!(
                err(&EfsVolume::new(FS).root_directory(bad)).0,
                "volumes.data.efs.root_directory",
                "{bad:?}"
            );
        }
        let e = EfsVolume::new("fs-1").validate("data").unwrap_err();
        assert!(e.to_string().contains("fs- and 8 or 17"), "{e}");
    }

    #[test]
    fn efs_access_point_and_iam_follow_the_ecs_rules() {
        let ap = EfsVolume::new(FS).access_point(AP);
        assert!(ap.validate("data").is_ok());
        assert!(ap.clone().root_directory("/").validate("data").is_ok());
        assert!(ap.clone().iam_authorization(true).validate("data").is_ok());
        assert_eq!(
            err(&ap.clone().root_directory("/app")),
            (
                "volumes.data.efs.root_directory".to_string(),
                "/app".to_string()
            )
        );
        assert_eq!(
            err(&ap.transit_encryption(false)).0,
            "volumes.data.efs.transit_encryption"
        );
        let iam = EfsVolume::new(FS)
            .iam_authorization(true)
            .transit_encryption(false);
        let e = iam.validate("data").unwrap_err();
        assert_eq!(e.field, "volumes.data.efs.transit_encryption");
        assert!(e.to_string().contains("IAM authorization"), "{e}");
        // Without access point or IAM, transit encryption may be off.
        assert!(
            EfsVolume::new(FS)
                .transit_encryption(false)
                .validate("data")
                .is_ok()
        );
    }

    /// What ECS describes: the request with its defaults filled in (root `/`, transit
    /// encryption `DISABLED`, `iam` `DISABLED`).
    fn described(efs: &EfsVolume) -> Volume {
        let sent = efs.to_sdk().unwrap();
        let auth = sent.authorization_config().map(|a| {
            EfsAuthorizationConfig::builder()
                .set_access_point_id(a.access_point_id().map(str::to_string))
                .iam(
                    a.iam()
                        .cloned()
                        .unwrap_or(EfsAuthorizationConfigIam::Disabled),
                )
                .build()
        });
        let config = EfsVolumeConfiguration::builder()
            .file_system_id(sent.file_system_id())
            .root_directory(sent.root_directory().unwrap_or("/"))
            .transit_encryption(
                sent.transit_encryption()
                    .cloned()
                    .unwrap_or(EfsTransitEncryption::Disabled),
            )
            .set_authorization_config(auth)
            .build()
            .unwrap();
        Volume::builder()
            .name("data")
            .efs_volume_configuration(config)
            .build()
    }

    #[test]
    fn an_efs_volume_described_with_ecs_defaults_reads_as_desired() {
        for efs in [
            EfsVolume::new(FS),
            EfsVolume::new(FS).transit_encryption(false),
            EfsVolume::new(FS).root_directory("/srv"),
            EfsVolume::new(FS).access_point(AP).iam_authorization(true),
            EfsVolume::new(FS).access_point(AP).root_directory("/"),
            EfsVolume::new(FS).iam_authorization(true),
        ] {
            let desired = TaskVolume {
                name: "data".to_string(),
                efs: Some(efs.clone()),
                created: None,
                created_access_point: None,
                at_launch: false,
            };
            assert_eq!(observed_volume(&described(&efs)), desired.key(), "{efs:?}");
        }
        // A bare configuration as a CLI user may have registered it reads with the defaults.
        let bare = Volume::builder()
            .name("data")
            .efs_volume_configuration(
                EfsVolumeConfiguration::builder()
                    .file_system_id(FS)
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(
            observed_volume(&bare),
            format!("data (efs {FS} root=/ transit_encryption=DISABLED iam=DISABLED)")
        );
        // What differs reads as a change: another access point, IAM off, a port.
        let desired = TaskVolume {
            name: "data".to_string(),
            efs: Some(EfsVolume::new(FS).access_point(AP).iam_authorization(true)),
            created: None,
            created_access_point: None,
            at_launch: false,
        };
        let other_ap = described(
            &EfsVolume::new(FS)
                .access_point("fsap-0123456789abcdef1")
                .iam_authorization(true),
        );
        assert_ne!(observed_volume(&other_ap), desired.key());
        let no_iam = described(&EfsVolume::new(FS).access_point(AP));
        assert_ne!(observed_volume(&no_iam), desired.key());
    }

    #[test]
    fn an_efs_volume_is_sent_with_enabled_strings_and_its_authorization_config() {
        let v = TaskVolume {
            name: "data".to_string(),
            efs: Some(EfsVolume::new(FS).access_point(AP).iam_authorization(true)),
            created: None,
            created_access_point: None,
            at_launch: false,
        }
        .to_sdk(None)
        .unwrap();
        let c = v.efs_volume_configuration().unwrap();
        assert_eq!(c.file_system_id(), FS);
        assert_eq!(c.root_directory(), None);
        assert_eq!(c.transit_encryption(), Some(&EfsTransitEncryption::Enabled));
        let auth = c.authorization_config().unwrap();
        assert_eq!(auth.access_point_id(), Some(AP));
        assert_eq!(auth.iam(), Some(&EfsAuthorizationConfigIam::Enabled));
        assert!(v.host().is_none());
        // Neither access point nor IAM: no authorizationConfig.
        let plain = EfsVolume::new(FS)
            .transit_encryption(false)
            .to_sdk()
            .unwrap();
        assert!(plain.authorization_config().is_none());
        assert_eq!(
            plain.transit_encryption(),
            Some(&EfsTransitEncryption::Disabled)
        );
        assert_eq!(
            EfsVolume::new(FS).access_point(AP).cli_json(),
            serde_json::json!({
                "fileSystemId": FS, "rootDirectory": "/", "transitEncryption": "ENABLED",
                "authorizationConfig": { "accessPointId": AP, "iam": "DISABLED" }
            })
        );
    }
}
