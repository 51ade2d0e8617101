//! Container Linux settings Fargate accepts: the init process, kernel capabilities (Fargate
//! adds only `SYS_PTRACE`) and ulimits, with their validation and normalized views.

use std::collections::BTreeSet;

use aws_sdk_ecs::types::{KernelCapabilities, LinuxParameters, Ulimit as SdkUlimit, UlimitName};
use fargate_core::InvalidValue;
use serde_json::{Value, json};

/// The kernel capabilities ECS knows (`KernelCapabilities.add`/`drop`).
pub const CAPABILITIES: [&str; 38] = [
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "SYSLOG",
    "WAKE_ALARM",
];

/// The only capability Fargate lets a container add.
pub const FARGATE_ADD_CAPABILITIES: [&str; 1] = ["SYS_PTRACE"];

/// The ulimit names ECS accepts (`Ulimit.name`).
pub const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// The highest `nofile` limit (soft or hard) Fargate accepts.
pub const FARGATE_MAX_NOFILE: u32 = 1_048_576;

/// The container's `linuxParameters` that Fargate supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LinuxSettings {
    pub(crate) init_process_enabled: bool,
    pub(crate) add: BTreeSet<String>,
    pub(crate) drop: BTreeSet<String>,
}

impl LinuxSettings {
    /// Whether nothing differs from ECS's defaults (no `linuxParameters` sent).
    pub(crate) fn is_default(&self) -> bool {
        !self.init_process_enabled && self.add.is_empty() && self.drop.is_empty()
    }

    /// Fargate's rules: every capability is one ECS knows, and only `SYS_PTRACE` is added.
    pub(crate) fn validate(&self, field: &str) -> Result<(), InvalidValue> {
        for cap in &self.add {
            check_capability(&format!("{field}.capabilities.add"), true, cap)?;
        }
        for cap in &self.drop {
            check_capability(&format!("{field}.capabilities.drop"), false, cap)?;
        }
        Ok(())
    }

    /// The normalized view (`None` when default).
    pub(crate) fn view(&self) -> Option<Value> {
        (!self.is_default()).then(|| {
            json!({
                "init_process_enabled": self.init_process_enabled,
                "capabilities_add": self.add,
                "capabilities_drop": self.drop,
            })
        })
    }

    /// The ECS `linuxParameters` (`None` when default).
    pub(crate) fn to_sdk(&self) -> Option<LinuxParameters> {
        if self.is_default() {
            return None;
        }
        let caps = (!self.add.is_empty() || !self.drop.is_empty()).then(|| {
            KernelCapabilities::builder()
                .set_add(Some(self.add.iter().cloned().collect()))
                .set_drop(Some(self.drop.iter().cloned().collect()))
                .build()
        });
        Some(
            LinuxParameters::builder()
                .set_init_process_enabled(self.init_process_enabled.then_some(true))
                .set_capabilities(caps)
                .build(),
        )
    }
}

/// One capability given in `field`, added (`add`) or dropped: one ECS knows, and when added,
/// `SYS_PTRACE` (a Fargate rule).
pub(crate) fn check_capability(field: &str, add: bool, cap: &str) -> Result<(), InvalidValue> {
    if !CAPABILITIES.contains(&cap) {
        return Err(InvalidValue::new(
            field,
            cap,
            "not a kernel capability ECS knows",
            format!("one of {}", CAPABILITIES.join(", ")),
        ));
    }
    if add && !FARGATE_ADD_CAPABILITIES.contains(&cap) {
        return Err(InvalidValue::new(
            field,
            cap,
            "Fargate rule: a container on Fargate may add only SYS_PTRACE",
            "SYS_PTRACE (any capability may be dropped)",
        ));
    }
    Ok(())
}

/// The normalized view of an observed `linuxParameters`: what Fargate refuses (devices, tmpfs,
/// shared memory, swap) is listed under `unmanaged`, so a revision carrying it is replaced.
pub(crate) fn observed_view(p: Option<&LinuxParameters>) -> Option<Value> {
    let p = p?;
    let caps = p.capabilities();
    let set = |l: &[String]| l.iter().cloned().collect::<BTreeSet<String>>();
    let settings = LinuxSettings {
        init_process_enabled: p.init_process_enabled().unwrap_or(false),
        add: caps.map(|c| set(c.add())).unwrap_or_default(),
        drop: caps.map(|c| set(c.drop())).unwrap_or_default(),
    };
    let unmanaged: Vec<&str> = [
        ("devices", !p.devices().is_empty()),
        ("tmpfs", !p.tmpfs().is_empty()),
        ("sharedMemorySize", p.shared_memory_size().is_some()),
        ("maxSwap", p.max_swap().is_some()),
        ("swappiness", p.swappiness().is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if unmanaged.is_empty() {
        return settings.view();
    }
    Some(json!({
        "init_process_enabled": settings.init_process_enabled,
        "capabilities_add": settings.add,
        "capabilities_drop": settings.drop,
        "unmanaged": unmanaged,
    }))
}

/// One resource limit of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ulimit {
    pub(crate) name: String,
    pub(crate) soft: u32,
    pub(crate) hard: u32,
}

impl Ulimit {
    /// The normalized key, `name=soft:hard`.
    pub(crate) fn key(&self) -> String {
        format!("{}={}:{}", self.name, self.soft, self.hard)
    }

    /// The ECS ulimit.
    pub(crate) fn to_sdk(&self) -> Result<SdkUlimit, aws_sdk_ecs::error::BuildError> {
        SdkUlimit::builder()
            .name(UlimitName::from(self.name.as_str()))
            .soft_limit(i32::try_from(self.soft).unwrap_or(i32::MAX))
            .hard_limit(i32::try_from(self.hard).unwrap_or(i32::MAX))
            .build()
    }
}

/// ECS's list of names, soft <= hard, each name once, and Fargate's `nofile` ceiling; the
/// fields are `<field>.ulimits.<name>`.
pub(crate) fn validate_ulimits(field: &str, ulimits: &[Ulimit]) -> Result<(), InvalidValue> {
    let mut seen = BTreeSet::new();
    for u in ulimits {
        let f = format!("{field}.ulimits.{}", u.name);
        check_ulimit(&format!("{field}.ulimits"), &f, u)?;
        if !seen.insert(u.name.as_str()) {
            return Err(InvalidValue::new(
                f,
                &u.name,
                "this ulimit is set twice",
                "each ulimit name once",
            ));
        }
    }
    Ok(())
}

/// One ulimit: its name (reported in `name_field`) is ECS's, and (reported in `field`) soft
/// <= hard, both within ECS's range and, for `nofile`, Fargate's ceiling.
pub(crate) fn check_ulimit(name_field: &str, field: &str, u: &Ulimit) -> Result<(), InvalidValue> {
    if !ULIMIT_NAMES.contains(&u.name.as_str()) {
        return Err(InvalidValue::new(
            name_field,
            &u.name,
            "not a ulimit name ECS knows",
            format!("one of {}", ULIMIT_NAMES.join(", ")),
        ));
    }
    if u.soft > u.hard {
        return Err(InvalidValue::new(
            field,
            format!("soft {} > hard {}", u.soft, u.hard),
            "the soft limit is above the hard limit",
            "softLimit <= hardLimit",
        ));
    }
    if i32::try_from(u.hard).is_err() {
        return Err(InvalidValue::new(
            field,
            u.hard.to_string(),
            "larger than ECS accepts",
            format!("at most {}", i32::MAX),
        ));
    }
    if u.name == "nofile" && u.hard > FARGATE_MAX_NOFILE {
        return Err(InvalidValue::new(
            field,
            u.hard.to_string(),
            "Fargate rule: the nofile limits are at most 1048576 on Fargate",
            format!("softLimit <= hardLimit <= {FARGATE_MAX_NOFILE}"),
        ));
    }
    Ok(())
}

/// The normalized, sorted keys of observed ulimits.
pub(crate) fn observed_ulimits(ulimits: &[SdkUlimit]) -> Vec<String> {
    let mut keys: Vec<String> = ulimits
        .iter()
        .map(|u| {
            format!(
                "{}={}:{}",
                u.name().as_str(),
                u.soft_limit(),
                u.hard_limit()
            )
        })
        .collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(add: &[&str], drop: &[&str]) -> LinuxSettings {
        LinuxSettings {
            init_process_enabled: false,
            add: add.iter().map(|s| s.to_string()).collect(),
            drop: drop.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn fargate_adds_only_sys_ptrace_and_drops_any_known_capability() {
        assert!(
            caps(&["SYS_PTRACE"], &["ALL", "NET_RAW"])
                .validate("c")
                .is_ok()
        );
        let e = caps(&["NET_ADMIN"], &[]).validate("c").unwrap_err();
        assert_eq!(e.field, "c.capabilities.add");
        assert!(e.reason.contains("Fargate rule"), "{e}");
        let e = caps(&[], &["NOT_A_CAP"]).validate("c").unwrap_err();
        assert_eq!(e.field, "c.capabilities.drop");
    }

    #[test]
    fn ulimits_are_checked_by_name_order_and_fargate_ceiling() {
        let u = |name: &str, soft, hard| Ulimit {
            name: name.to_string(),
            soft,
            hard,
        };
        assert!(validate_ulimits("c", &[u("nofile", 65535, 1_048_576), u("core", 0, 0)]).is_ok());
        let e = validate_ulimits("c", &[u("files", 1, 1)]).unwrap_err();
        assert!(e.allowed.contains("nofile"), "{e}");
        let e = validate_ulimits("c", &[u("nofile", 10, 5)]).unwrap_err();
        assert_eq!(e.field, "c.ulimits.nofile");
        let e = validate_ulimits("c", &[u("nofile", 1, 2_000_000)]).unwrap_err();
        assert!(e.reason.contains("Fargate rule"), "{e}");
        let e = validate_ulimits("c", &[u("core", 0, 0), u("core", 0, 0)]).unwrap_err();
        assert!(e.reason.contains("twice"), "{e}");
    }

    #[test]
    fn an_observed_default_linux_parameters_is_no_setting() {
        let p = LinuxParameters::builder()
            .init_process_enabled(false)
            .capabilities(KernelCapabilities::builder().build())
            .build();
        assert_eq!(observed_view(Some(&p)), None);
        let shm = LinuxParameters::builder().shared_memory_size(64).build();
        let v = observed_view(Some(&shm)).unwrap();
        assert_eq!(v["unmanaged"], json!(["sharedMemorySize"]));
    }
}
