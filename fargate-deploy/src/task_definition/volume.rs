//! Bind mount volumes: task storage (on the task's ephemeral storage) that containers of the
//! task share through `mountPoints` and `volumesFrom`. Fargate has no host paths, so a volume
//! is a name only; EFS and EBS volumes are not supported yet.

use aws_sdk_ecs::types::{
    HostVolumeProperties, MountPoint as SdkMountPoint, Volume, VolumeFrom as SdkVolumeFrom,
};
use fargate_core::InvalidValue;

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
/// `host` without `sourcePath`); any other kind is marked, so that it reads as a change.
pub(crate) fn observed_volume(v: &Volume) -> String {
    let name = v.name().unwrap_or_default();
    let kind = if v.efs_volume_configuration().is_some() {
        Some("efs".to_string())
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
}
