//! Amazon EBS volumes that ECS creates for each task of a service and deletes with it
//! (`managedEBSVolume`, "configured at launch").
//!
//! The task definition only names the volume (`configuredAtLaunch: true`); the service
//! carries its configuration (`volumeConfigurations`): size, type, IOPS, throughput, file
//! system, snapshot, encryption and the tags of the volumes, and the ECS infrastructure
//! role that ECS assumes to create and attach them (trusted by `ecs.amazonaws.com`, managed
//! policy `AmazonECSInfrastructureRolePolicyForVolumes`; one per app, see
//! [`crate::iam::IamRoleSpec::volume_role`]).
//!
//! An app with the role is registered with it ([`crate::registry::Registration::volume_role`],
//! kept from then on). When its volume is removed, the plan reads the role (one `GetRole`,
//! only for such apps: the plans of apps that never had an EBS volume are unchanged) and
//! deletes it after the service's update, if it is ours; a role of that name without our
//! tags is left alone. Destroy deletes it the same way.
//!
//! An app's EBS volume is an [`crate::AppVolume`] with `ebs` ([`crate::AppVolume::ebs`]).
//! A Fargate task takes at most one. A [`crate::ScheduledJob`] cannot have one: the ECS
//! target of EventBridge Scheduler (`EcsParameters`) has no `volumeConfigurations`.
//!
//! The plan compares the service's volume configuration with the `volumeConfigurations` of
//! its PRIMARY deployment (the ones its tasks get). A primary deployment without any is
//! taken to have what was asked for: AWS echoes the configuration of every deployment that
//! has one, and a volume that is added always changes the task definition too (a new
//! `configuredAtLaunch` volume), whose update carries the configuration; endpoints that do
//! not keep it (moto 5.2) would otherwise plan an update on every apply. A different
//! configuration is a change (UpdateService with the new `volumeConfigurations`, a new
//! deployment), and so is one that is observed when none is wanted (sent as an empty list).

use aws_sdk_ecs::types::{
    EbsResourceType, EbsTagSpecification, PropagateTags, ServiceManagedEbsVolumeConfiguration,
    ServiceVolumeConfiguration, Tag, TaskFilesystemType,
};
use fargate_core::{Error, InvalidValue, Ref, ResourceId, StepContext, Tags};

/// The infrastructure role of an app whose EBS volume was removed: deleted, after the
/// service `service` (which no longer uses it), when it exists and is ours.
pub(crate) fn withdrawn_volume_role(
    role: crate::iam::IamRoleSpec,
    service: ResourceId,
) -> std::sync::Arc<dyn fargate_core::Resource<crate::Clients>> {
    crate::registry::After::wrap(
        fargate_core::resource::node(crate::apps::scheduled_job::Withdrawn(role)),
        vec![service],
    )
}

/// Whether `resources` hold `app`'s EBS infrastructure role in `env`, in use or withdrawn
/// (what its registration records).
pub(crate) fn has_volume_role(
    env: &crate::Environment,
    app: &fargate_core::Ident,
    resources: &[std::sync::Arc<dyn fargate_core::Resource<crate::Clients>>],
) -> bool {
    let owner = fargate_core::tags::Ownership::new(env.name().clone());
    let Ok(spec) = crate::iam::IamRoleSpec::volume_role(env.name(), app, owner, "aws") else {
        return false;
    };
    let role = crate::iam::role_id(spec.name());
    let withdrawn = ResourceId::new("fargate:retired", role.to_string());
    resources.iter().any(|r| {
        let id = r.id();
        id == role || id == withdrawn
    })
}

/// The volume types ECS accepts for a managed EBS volume.
pub const VOLUME_TYPES: [&str; 7] = ["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"];
/// The Linux file systems ECS formats a managed EBS volume with.
pub const FILESYSTEM_TYPES: [&str; 3] = ["ext3", "ext4", "xfs"];

/// gp3's baseline IOPS and throughput (MiB/s), which AWS uses when none is given.
const GP3_DEFAULT_IOPS: u32 = 3000;
const GP3_DEFAULT_THROUGHPUT: u32 = 125;

/// A managed EBS volume: ECS creates one for each task from these settings and deletes it
/// when the task stops (the data does not outlive the task; start from `snapshot_id` to
/// seed it).
///
/// In JSON: `{"size_gib": 20}`, with the optional `volume_type` (default `gp3`), `iops`,
/// `throughput`, `filesystem_type` (default `xfs`), `snapshot_id`, `encrypted` (default
/// true) and `kms_key_id`.
///
/// ```
/// use fargate_deploy::ebs::EbsVolume;
/// let v = EbsVolume::new(100).volume_type("io2").iops(4000);
/// assert_eq!(v.filesystem_type, "xfs");
/// assert!(v.encrypted);
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct EbsVolume {
    /// Size in GiB: gp2 and gp3 1 to 16384, io1 and io2 4 to 16384, st1 and sc1 125 to
    /// 16384. May be left out with `snapshot_id` (the snapshot's size), else at least it.
    #[serde(default)]
    pub size_gib: Option<u32>,
    /// `gp3` (default), `gp2`, `io1`, `io2`, `st1`, `sc1` (`standard`, magnetic, is not
    /// supported on Fargate).
    #[serde(default = "default_volume_type")]
    pub volume_type: String,
    /// Provisioned IOPS: gp3 3000 to 16000 (default 3000), io1 100 to 64000, io2 100 to
    /// 256000 (required for io1 and io2); not for the other types.
    #[serde(default)]
    pub iops: Option<u32>,
    /// Throughput in MiB/s, gp3 only: 125 to 1000 (default 125).
    #[serde(default)]
    pub throughput: Option<u32>,
    /// `xfs` (default), `ext4` or `ext3`; a volume from a snapshot needs the snapshot's.
    #[serde(default = "default_filesystem_type")]
    pub filesystem_type: String,
    /// Create each volume from this snapshot (`snap-…`).
    #[serde(default)]
    pub snapshot_id: Option<String>,
    /// Encrypt the volumes (default true).
    #[serde(default = "default_encrypted")]
    pub encrypted: bool,
    /// The KMS key that encrypts them (key id, alias or ARN; default: the account's EBS key).
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

fn default_volume_type() -> String {
    "gp3".to_string()
}

fn default_filesystem_type() -> String {
    "xfs".to_string()
}

fn default_encrypted() -> bool {
    true
}

impl EbsVolume {
    /// A gp3 volume of `size_gib` GiB, xfs, encrypted with the account's EBS key.
    pub fn new(size_gib: u32) -> Self {
        Self {
            size_gib: Some(size_gib),
            volume_type: default_volume_type(),
            iops: None,
            throughput: None,
            filesystem_type: default_filesystem_type(),
            snapshot_id: None,
            encrypted: true,
            kms_key_id: None,
        }
    }

    /// Another volume type (`gp3`, `gp2`, `io1`, `io2`, `st1`, `sc1`).
    #[must_use]
    pub fn volume_type(mut self, t: impl Into<String>) -> Self {
        self.volume_type = t.into();
        self
    }

    /// Provisioned IOPS (gp3, io1, io2).
    #[must_use]
    pub fn iops(mut self, iops: u32) -> Self {
        self.iops = Some(iops);
        self
    }

    /// Throughput in MiB/s (gp3).
    #[must_use]
    pub fn throughput(mut self, mibps: u32) -> Self {
        self.throughput = Some(mibps);
        self
    }

    /// The file system (`xfs`, `ext4`, `ext3`).
    #[must_use]
    pub fn filesystem_type(mut self, fs: impl Into<String>) -> Self {
        self.filesystem_type = fs.into();
        self
    }

    /// Create each volume from the snapshot `snapshot_id`.
    #[must_use]
    pub fn snapshot(mut self, snapshot_id: impl Into<String>) -> Self {
        self.snapshot_id = Some(snapshot_id.into());
        self
    }

    /// Encrypt with the KMS key `key` (id, alias or ARN).
    #[must_use]
    pub fn kms_key(mut self, key: impl Into<String>) -> Self {
        self.kms_key_id = Some(key.into());
        self
    }

    /// Turn encryption on or off (on by default).
    #[must_use]
    pub fn encrypted(mut self, on: bool) -> Self {
        self.encrypted = on;
        self
    }

    /// The checks with the AWS limits, fields `<prefix>.<field>` (no AWS call).
    ///
    /// # Errors
    /// The first invalid field, with what is allowed.
    pub fn validate(&self, prefix: &str) -> Result<(), InvalidValue> {
        let field = |f: &str| format!("{prefix}.{f}");
        let t = self.volume_type.as_str();
        let sizes = match t {
            "gp2" | "gp3" => (1, 16384),
            "io1" | "io2" => (4, 16384),
            "st1" | "sc1" => (125, 16384),
            "standard" => {
                return Err(InvalidValue::new(
                    field("volume_type"),
                    t,
                    "the magnetic volume type is not supported on Fargate",
                    "gp3, gp2, io1, io2, st1 or sc1",
                ));
            }
            _ => {
                return Err(InvalidValue::new(
                    field("volume_type"),
                    t,
                    "not an EBS volume type ECS accepts",
                    "gp3 (default), gp2, io1, io2, st1 or sc1",
                ));
            }
        };
        match self.size_gib {
            Some(s) if s < sizes.0 || s > sizes.1 => {
                return Err(InvalidValue::new(
                    field("size_gib"),
                    s.to_string(),
                    format!("out of the sizes of a {t} volume"),
                    format!("{} to {} GiB for {t}", sizes.0, sizes.1),
                ));
            }
            None if self.snapshot_id.is_none() => {
                return Err(InvalidValue::new(
                    field("size_gib"),
                    "none",
                    "the volume has neither a size nor a snapshot",
                    format!(
                        "size_gib ({} to {} for {t}), or a snapshot_id",
                        sizes.0, sizes.1
                    ),
                ));
            }
            _ => {}
        }
        let iops_range = match t {
            "gp3" => Some((3000, 16000)),
            "io1" => Some((100, 64000)),
            "io2" => Some((100, 256_000)),
            _ => None,
        };
        match (self.iops, iops_range) {
            (Some(i), None) => {
                return Err(InvalidValue::new(
                    field("iops"),
                    i.to_string(),
                    format!("a {t} volume takes no provisioned IOPS"),
                    "no iops, or volume_type gp3, io1 or io2",
                ));
            }
            (Some(i), Some((lo, hi))) if i < lo || i > hi => {
                return Err(InvalidValue::new(
                    field("iops"),
                    i.to_string(),
                    format!("out of the IOPS of a {t} volume"),
                    format!("{lo} to {hi} for {t}"),
                ));
            }
            (None, Some((lo, hi))) if t != "gp3" => {
                return Err(InvalidValue::new(
                    field("iops"),
                    "none",
                    format!("a {t} volume needs its provisioned IOPS"),
                    format!("{lo} to {hi} for {t}"),
                ));
            }
            _ => {}
        }
        if let Some(tp) = self.throughput {
            if t != "gp3" {
                return Err(InvalidValue::new(
                    field("throughput"),
                    tp.to_string(),
                    format!("only gp3 volumes take a throughput, not {t}"),
                    "no throughput, or volume_type gp3",
                ));
            }
            if !(GP3_DEFAULT_THROUGHPUT..=1000).contains(&tp) {
                return Err(InvalidValue::new(
                    field("throughput"),
                    tp.to_string(),
                    "out of the throughput of a gp3 volume",
                    "125 to 1000 MiB/s",
                ));
            }
        }
        if !FILESYSTEM_TYPES.contains(&self.filesystem_type.as_str()) {
            return Err(InvalidValue::new(
                field("filesystem_type"),
                &self.filesystem_type,
                "not a Linux file system ECS formats EBS volumes with",
                "xfs (default), ext4 or ext3",
            ));
        }
        if let Some(snap) = &self.snapshot_id {
            let hex = snap.strip_prefix("snap-").unwrap_or_default();
            let ok = matches!(hex.len(), 8 | 17)
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if !ok {
                return Err(InvalidValue::new(
                    field("snapshot_id"),
                    snap,
                    "not an EBS snapshot id",
                    "snap- and 8 or 17 lower-case hex digits, for example snap-0123456789abcdef0",
                ));
            }
        }
        if let Some(key) = &self.kms_key_id {
            if !self.encrypted {
                return Err(InvalidValue::new(
                    field("kms_key_id"),
                    key,
                    "a KMS key encrypts; the volume is not encrypted",
                    "encrypted: true (the default), or no kms_key_id",
                ));
            }
            let ok = !key.is_empty()
                && key.len() <= 2048
                && !key.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(InvalidValue::new(
                    field("kms_key_id"),
                    key,
                    "not a KMS key id, alias or ARN",
                    "a key id, alias/<name> or a key ARN, without spaces",
                ));
            }
        }
        Ok(())
    }

    /// The normalized description the plan compares: every setting, AWS's defaults filled
    /// in (gp3 3000 IOPS and 125 MiB/s).
    fn describe(&self, role: &str) -> String {
        describe(
            self.size_gib.map(i64::from),
            &self.volume_type,
            self.iops.map(i64::from),
            self.throughput.map(i64::from),
            &self.filesystem_type,
            self.snapshot_id.as_deref(),
            self.encrypted,
            self.kms_key_id.as_deref(),
            role,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn describe(
    size: Option<i64>,
    volume_type: &str,
    iops: Option<i64>,
    throughput: Option<i64>,
    filesystem: &str,
    snapshot: Option<&str>,
    encrypted: bool,
    kms: Option<&str>,
    role: &str,
) -> String {
    let gp3 = volume_type == "gp3";
    let iops = iops.or_else(|| gp3.then_some(i64::from(GP3_DEFAULT_IOPS)));
    let throughput = throughput.or_else(|| gp3.then_some(i64::from(GP3_DEFAULT_THROUGHPUT)));
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    format!(
        "size_gib={} type={volume_type} iops={} throughput={} filesystem={filesystem} \
         snapshot={} encrypted={encrypted} kms_key={} role={role} tags=propagate:SERVICE",
        size.map(|s| s.to_string())
            .unwrap_or_else(|| "snapshot".into()),
        opt(iops),
        opt(throughput),
        snapshot.unwrap_or("-"),
        kms.unwrap_or("default"),
    )
}

/// A service's managed EBS volume: the task definition's volume `name`, its settings, and
/// the ECS infrastructure role that manages it.
#[derive(Debug, Clone)]
pub struct ServiceEbsVolume {
    /// The task definition's volume (configured at launch).
    pub name: String,
    /// The volume's settings.
    pub ebs: EbsVolume,
    /// The infrastructure role's ARN (read at apply).
    pub role_arn: Ref<String>,
    /// Its name (plans compare the role by name).
    pub role_name: String,
    /// Its resource id (a dependency of the service).
    pub role_id: ResourceId,
}

impl ServiceEbsVolume {
    /// The plan's value, `<name>: size_gib=… type=… … role=<role name>`.
    pub(crate) fn describe(&self) -> String {
        format!("{}: {}", self.name, self.ebs.describe(&self.role_name))
    }

    /// The `volumeConfigurations` item of CreateService and UpdateService, its volumes
    /// tagged with `tags` (and the service's tags propagated).
    pub(crate) fn to_sdk(
        &self,
        ctx: &StepContext,
        tags: &[(String, String)],
        resource: &ResourceId,
        operation: &str,
    ) -> Result<ServiceVolumeConfiguration, Error> {
        let bad = |e: aws_sdk_ecs::error::BuildError| Error::Unexpected {
            resource: resource.clone(),
            operation: operation.into(),
            detail: format!("the volume configuration could not be built: {e}"),
        };
        let e = &self.ebs;
        let tag_spec = EbsTagSpecification::builder()
            .resource_type(EbsResourceType::Volume)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .propagate_tags(PropagateTags::Service)
            .build()
            .map_err(bad)?;
        let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let managed = ServiceManagedEbsVolumeConfiguration::builder()
            .role_arn(self.role_arn.resolve(ctx)?)
            .set_size_in_gib(e.size_gib.map(int))
            .volume_type(&e.volume_type)
            .set_iops(e.iops.map(int))
            .set_throughput(e.throughput.map(int))
            .filesystem_type(TaskFilesystemType::from(e.filesystem_type.as_str()))
            .set_snapshot_id(e.snapshot_id.clone())
            .encrypted(e.encrypted)
            .set_kms_key_id(e.kms_key_id.clone())
            .tag_specifications(tag_spec)
            .build()
            .map_err(bad)?;
        ServiceVolumeConfiguration::builder()
            .name(&self.name)
            .managed_ebs_volume(managed)
            .build()
            .map_err(bad)
    }
}

/// The plan's values of observed `volumeConfigurations` (as [`ServiceEbsVolume::describe`];
/// ECS's defaults filled in, the role by its name).
pub(crate) fn observed(configs: &[ServiceVolumeConfiguration]) -> Vec<String> {
    configs
        .iter()
        .map(|c| match c.managed_ebs_volume() {
            Some(m) => {
                let role = m.role_arn().rsplit('/').next().unwrap_or_default();
                let d = describe(
                    m.size_in_gib().map(i64::from),
                    m.volume_type().unwrap_or("gp3"),
                    m.iops().map(i64::from),
                    m.throughput().map(i64::from),
                    m.filesystem_type().map(|f| f.as_str()).unwrap_or("xfs"),
                    m.snapshot_id(),
                    m.encrypted().unwrap_or(false),
                    m.kms_key_id(),
                    role,
                );
                format!("{}: {d}", c.name())
            }
            None => format!("{}: (not a managed EBS volume)", c.name()),
        })
        .collect()
}

/// The ownership and user tags of the volumes, sorted.
pub(crate) fn volume_tags(
    owner: &fargate_core::tags::Ownership,
    tags: &Tags,
) -> Vec<(String, String)> {
    owner.merged_with(tags).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &EbsVolume) -> String {
        v.validate("web.volumes[0].ebs").unwrap_err().field
    }

    #[test]
    fn ebs_limits_per_volume_type_name_the_field() {
        assert!(EbsVolume::new(20).validate("p").is_ok());
        assert!(
            EbsVolume::new(16384)
                .volume_type("gp2")
                .validate("p")
                .is_ok()
        );
        assert!(
            EbsVolume::new(4)
                .volume_type("io2")
                .iops(256_000)
                .validate("p")
                .is_ok()
        );
        assert!(EbsVolume::new(125).volume_type("st1").validate("p").is_ok());
        assert!(
            EbsVolume::new(20)
                .iops(16000)
                .throughput(1000)
                .filesystem_type("ext4")
                .snapshot("snap-0123456789abcdef0")
                .kms_key("alias/app")
                .validate("p")
                .is_ok()
        );
        let p = "web.volumes[0].ebs";
        for (v, f) in [
            (EbsVolume::new(0), "size_gib"),
            (EbsVolume::new(16385), "size_gib"),
            (EbsVolume::new(3).volume_type("io1").iops(100), "size_gib"),
            (EbsVolume::new(124).volume_type("sc1"), "size_gib"),
            (EbsVolume::new(10).volume_type("gp4"), "volume_type"),
            (EbsVolume::new(10).volume_type("standard"), "volume_type"),
            (EbsVolume::new(10).iops(2999), "iops"),
            (EbsVolume::new(10).iops(16001), "iops"),
            (EbsVolume::new(10).volume_type("gp2").iops(3000), "iops"),
            (EbsVolume::new(10).volume_type("io1"), "iops"),
            (EbsVolume::new(10).volume_type("io1").iops(64001), "iops"),
            (EbsVolume::new(125).volume_type("st1").iops(500), "iops"),
            (EbsVolume::new(10).throughput(124), "throughput"),
            (EbsVolume::new(10).throughput(1001), "throughput"),
            (
                EbsVolume::new(10).volume_type("gp2").throughput(200),
                "throughput",
            ),
            (
                EbsVolume::new(10).filesystem_type("ntfs"),
                "filesystem_type",
            ),
            (EbsVolume::new(10).snapshot("snap-xyz"), "snapshot_id"),
            (
                EbsVolume::new(10).encrypted(false).kms_key("k"),
                "kms_key_id",
            ),
            (EbsVolume::new(10).kms_key("a b"), "kms_key_id"),
        ] {
            assert_eq!(field(&v), format!("{p}.{f}"), "{v:?}");
        }
        let mut no_size = EbsVolume::new(1);
        no_size.size_gib = None;
        assert_eq!(field(&no_size), format!("{p}.size_gib"));
        assert!(no_size.snapshot("snap-0123abcd").validate("p").is_ok());
        let e = EbsVolume::new(10)
            .volume_type("io1")
            .validate(p)
            .unwrap_err();
        assert!(e.to_string().contains("100 to 64000"), "{e}");
    }

    #[test]
    fn an_echoed_configuration_reads_as_desired() {
        let v = ServiceEbsVolume {
            name: "data".into(),
            ebs: EbsVolume::new(20),
            role_arn: Ref::Known("arn:aws:iam::123456789012:role/prod-web-ecs-ebs".into()),
            role_name: "prod-web-ecs-ebs".into(),
            role_id: ResourceId::new("iam:role", "prod-web-ecs-ebs"),
        };
        // AWS echoes gp3's default IOPS and throughput.
        let echoed = ServiceVolumeConfiguration::builder()
            .name("data")
            .managed_ebs_volume(
                ServiceManagedEbsVolumeConfiguration::builder()
                    .role_arn("arn:aws:iam::123456789012:role/prod-web-ecs-ebs")
                    .size_in_gib(20)
                    .volume_type("gp3")
                    .iops(3000)
                    .throughput(125)
                    .filesystem_type(TaskFilesystemType::Xfs)
                    .encrypted(true)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(observed(std::slice::from_ref(&echoed)), [v.describe()]);
        let mut bigger = v.clone();
        bigger.ebs.size_gib = Some(30);
        assert_ne!(observed(&[echoed]), [bigger.describe()]);
    }
}
