//! The CPU and memory of a Fargate task ([`TaskSize`]) and its CPU architecture
//! ([`Architecture`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::string_conversions;

/// The CPU values Fargate accepts, in CPU units (1024 units = 1 vCPU).
const CPUS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// The memory sizes (MiB) Fargate accepts with `cpu` units, empty when `cpu` is not valid.
fn memories(cpu: u32) -> Vec<u32> {
    match cpu {
        256 => vec![512, 1024, 2048],
        512 => (1024..=4096).step_by(1024).collect(),
        1024 => (2048..=8192).step_by(1024).collect(),
        2048 => (4096..=16384).step_by(1024).collect(),
        4096 => (8192..=30720).step_by(1024).collect(),
        8192 => (16384..=61440).step_by(4096).collect(),
        16384 => (32768..=122880).step_by(8192).collect(),
        _ => Vec::new(),
    }
}

fn list(values: &[u32]) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

const FORMS: &str = "\"<cpu>/<memory>\" such as \"256/512\", \"0.25 vCPU / 0.5 GB\" or \
     \"1024 CPU / 2048 MiB\" (CPU in units or vCPU, memory in MiB or GB)";

/// The CPU and memory of a Fargate task, always one of the combinations Fargate accepts.
///
/// CPU is in CPU units (1024 = 1 vCPU) and memory in MiB, as in the ECS API:
///
/// | CPU | memory (MiB) |
/// | --- | --- |
/// | 256 | 512, 1024, 2048 |
/// | 512 | 1024 to 4096 in steps of 1024 |
/// | 1024 | 2048 to 8192 in steps of 1024 |
/// | 2048 | 4096 to 16384 in steps of 1024 |
/// | 4096 | 8192 to 30720 in steps of 1024 |
/// | 8192 | 16384 to 61440 in steps of 4096 |
/// | 16384 | 32768 to 122880 in steps of 8192 |
///
/// 8192 and 16384 CPU need Linux platform version 1.4.0 or later. The default is the
/// smallest size, 256 CPU / 512 MiB. Serialized as `{"cpu": 256, "memory": 512}`.
///
/// ```rust
/// use fargate_core::TaskSize;
///
/// let size: TaskSize = "0.5 vCPU / 1 GB".parse()?;
/// assert_eq!((size.cpu(), size.memory_mib()), (512, 1024));
/// assert_eq!(size.to_string(), "512 CPU / 1024 MiB");
/// assert_eq!(size, TaskSize::new(512, 1024)?);
///
/// let err = TaskSize::new(256, 4096).unwrap_err();
/// assert_eq!(err.field, "memory");
/// assert_eq!(err.allowed, "512, 1024, 2048 (MiB)");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "TaskSizeFields", into = "TaskSizeFields")]
pub struct TaskSize {
    cpu: u32,
    memory_mib: u32,
}

/// The serialized form of a [`TaskSize`], validated on deserialization.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSizeFields {
    cpu: u32,
    memory: u32,
}

impl TryFrom<TaskSizeFields> for TaskSize {
    type Error = InvalidValue;
    fn try_from(f: TaskSizeFields) -> Result<Self, Self::Error> {
        TaskSize::new(f.cpu, f.memory)
    }
}

impl From<TaskSize> for TaskSizeFields {
    fn from(t: TaskSize) -> Self {
        TaskSizeFields {
            cpu: t.cpu,
            memory: t.memory_mib,
        }
    }
}

impl TaskSize {
    /// A task size of `cpu` units and `memory_mib` MiB.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `cpu` listing the valid CPU values when `cpu` is not one,
    /// or for field `memory` listing the memory sizes valid with that CPU.
    pub fn new(cpu: u32, memory_mib: u32) -> Result<Self, InvalidValue> {
        let valid = memories(cpu);
        if valid.is_empty() {
            return Err(InvalidValue::new(
                "cpu",
                cpu.to_string(),
                "not a Fargate CPU value",
                format!("{} (CPU units, 1024 = 1 vCPU)", list(&CPUS)),
            ));
        }
        if !valid.contains(&memory_mib) {
            return Err(InvalidValue::new(
                "memory",
                memory_mib.to_string(),
                format!("not a valid memory size with {cpu} CPU units"),
                format!("{} (MiB)", list(&valid)),
            ));
        }
        Ok(TaskSize { cpu, memory_mib })
    }

    /// CPU units (1024 = 1 vCPU).
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// Memory in MiB.
    pub fn memory_mib(&self) -> u32 {
        self.memory_mib
    }

    /// CPU in vCPUs (`0.25` for 256 units).
    pub fn vcpu(&self) -> f64 {
        f64::from(self.cpu) / 1024.0
    }

    /// Memory in GiB (`0.5` for 512 MiB).
    pub fn memory_gib(&self) -> f64 {
        f64::from(self.memory_mib) / 1024.0
    }

    /// Every valid combination, by CPU then memory.
    pub fn all() -> impl Iterator<Item = TaskSize> {
        CPUS.into_iter().flat_map(|cpu| {
            memories(cpu)
                .into_iter()
                .map(move |memory_mib| TaskSize { cpu, memory_mib })
        })
    }

    /// The valid CPU values, in CPU units.
    pub fn valid_cpus() -> &'static [u32] {
        &CPUS
    }

    /// The memory sizes (MiB) valid with `cpu` units; empty when `cpu` is not a valid value.
    pub fn valid_memories(cpu: u32) -> Vec<u32> {
        memories(cpu)
    }
}

impl Default for TaskSize {
    fn default() -> Self {
        TaskSize {
            cpu: 256,
            memory_mib: 512,
        }
    }
}

impl fmt::Display for TaskSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} CPU / {} MiB", self.cpu, self.memory_mib)
    }
}

/// Splits `"0.25 vCPU"` into `(25, 100, "vcpu")`: a decimal number as numerator and
/// denominator, and the lowercased unit with spaces removed.
fn split_quantity(s: &str) -> Option<(u64, u64, String)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (s.get(..end)?, s.get(end..)?);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.len() + frac.len() == 0 || int.len() > 9 || frac.len() > 6 || frac.contains('.') {
        return None;
    }
    let digits = format!("{int}{frac}");
    let numerator: u64 = digits.parse().ok()?;
    let denominator = 10u64.pow(u32::try_from(frac.len()).ok()?);
    let unit = unit
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    Some((numerator, denominator, unit))
}

/// Parses one side of a task size into whole base units, with `units` mapping a unit
/// suffix to its multiplier.
fn parse_side(
    field: &str,
    text: &str,
    units: fn(&str) -> Option<u64>,
    whole: &str,
) -> Result<u32, InvalidValue> {
    let bad = |reason: &str| InvalidValue::new(field, text.trim(), reason, FORMS);
    let (numerator, denominator, unit) = split_quantity(text)
        .ok_or_else(|| bad("not a number with at most 9 digits and 6 decimals"))?;
    let multiplier = units(&unit).ok_or_else(|| bad("unknown unit"))?;
    let scaled = numerator
        .checked_mul(multiplier)
        .ok_or_else(|| bad("too large"))?;
    if scaled % denominator != 0 {
        return Err(bad(whole));
    }
    u32::try_from(scaled / denominator).map_err(|_| bad("too large"))
}

fn cpu_unit(unit: &str) -> Option<u64> {
    match unit {
        "" | "cpu" | "cpus" | "units" | "cpuunits" | "cpuunit" => Some(1),
        "vcpu" | "vcpus" => Some(1024),
        _ => None,
    }
}

fn memory_unit(unit: &str) -> Option<u64> {
    match unit {
        "" | "mib" | "mb" | "m" => Some(1),
        "gib" | "gb" | "g" => Some(1024),
        _ => None,
    }
}

impl FromStr for TaskSize {
    type Err = InvalidValue;

    /// Parses `"<cpu>/<memory>"`: CPU as units (`256`, `256 CPU`) or vCPU (`0.25 vCPU`),
    /// memory as MiB (`512`, `512 MiB`, `512 MB`) or GiB (`0.5 GB`, `0.5 GiB`);
    /// case and spaces do not matter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (cpu, memory) = match s.split_once('/') {
            Some((c, m)) if !m.contains('/') => (c, m),
            _ => {
                let reason = "expected CPU and memory separated by one '/'";
                return Err(InvalidValue::new("task size", s, reason, FORMS));
            }
        };
        let cpu = parse_side("cpu", cpu, cpu_unit, "not a whole number of CPU units")?;
        let memory = parse_side("memory", memory, memory_unit, "not a whole number of MiB")?;
        TaskSize::new(cpu, memory)
    }
}

impl TryFrom<String> for TaskSize {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&str> for TaskSize {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The CPU architecture of a task's containers (the task definition's `runtimePlatform`).
///
/// Parses `X86_64`, `x86_64`, `x86-64`, `amd64` and `ARM64`, `arm64`, `aarch64` (any case);
/// displays the ECS API spelling. ARM64 (Graviton) tasks cost about 20 % less; the image
/// must be built for that architecture. The default is `X86_64`.
///
/// ```rust
/// use fargate_core::Architecture;
///
/// let arch: Architecture = "aarch64".parse()?;
/// assert_eq!(arch, Architecture::Arm64);
/// assert_eq!(arch.to_string(), "ARM64");
/// assert_eq!(arch.docker_platform(), "linux/arm64");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Architecture {
    /// 64-bit x86 (Intel/AMD).
    #[default]
    X86_64,
    /// 64-bit ARM (AWS Graviton).
    Arm64,
}

impl Architecture {
    /// The ECS API spelling: `X86_64` or `ARM64`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::X86_64 => "X86_64",
            Architecture::Arm64 => "ARM64",
        }
    }

    /// The Docker platform to build images for: `linux/amd64` or `linux/arm64`.
    pub fn docker_platform(&self) -> &'static str {
        match self {
            Architecture::X86_64 => "linux/amd64",
            Architecture::Arm64 => "linux/arm64",
        }
    }
}

/// The JSON spellings [`Architecture::from_str`] accepts (it ignores case).
impl schemars::JsonSchema for Architecture {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Architecture".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The CPU architecture: X86_64 (also x86_64, x86-64, amd64) or ARM64 (also arm64, aarch64; about 20 % cheaper). Default X86_64.",
            "type": "string",
            "enum": ["X86_64", "ARM64", "x86_64", "x86-64", "amd64", "arm64", "aarch64"]
        })
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Architecture {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "amd64" => Ok(Architecture::X86_64),
            "arm64" | "aarch64" => Ok(Architecture::Arm64),
            _ => Err(InvalidValue::new(
                "architecture",
                s,
                "not a Fargate CPU architecture",
                "X86_64 (also x86_64, amd64) or ARM64 (also arm64, aarch64)",
            )),
        }
    }
}

string_conversions!(Architecture);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        assert_eq!(TaskSize::all().count(), 3 + 4 + 7 + 13 + 23 + 12 + 12);
        assert!(TaskSize::new(16384, 122880).is_ok());
        assert!(TaskSize::new(8192, 20480).is_ok());
        assert!(TaskSize::new(8192, 17408).is_err());
        assert!(TaskSize::new(256, 1536).is_err());
        let e = TaskSize::new(300, 512).unwrap_err();
        assert_eq!(e.field, "cpu");
        assert_eq!(e.value, "300");
        assert!(
            e.allowed
                .starts_with("256, 512, 1024, 2048, 4096, 8192, 16384"),
            "{e}"
        );
        let e = TaskSize::new(512, 512).unwrap_err();
        assert_eq!(e.field, "memory");
        assert_eq!(e.allowed, "1024, 2048, 3072, 4096 (MiB)");
        assert!(e.reason.contains("512 CPU"), "{e}");
    }

    #[test]
    fn parse_forms() {
        let cases = [
            ("256/512", (256, 512)),
            ("0.25vCPU/0.5GB", (256, 512)),
            ("1 vCPU / 2 GB", (1024, 2048)),
            ("2 vcpu / 4096 MiB", (2048, 4096)),
            ("4096 CPU / 30 GiB", (4096, 30720)),
            (".5 vCPU/1GB", (512, 1024)),
            ("16 vCPU / 120 GB", (16384, 122880)),
        ];
        for (text, (cpu, memory)) in cases {
            let size: TaskSize = text.parse().unwrap();
            assert_eq!((size.cpu(), size.memory_mib()), (cpu, memory), "{text}");
        }
        for (bad, field) in [
            ("256", "task size"),
            ("256/512/1", "task size"),
            ("abc/512", "cpu"),
            ("0.1 vCPU/512", "cpu"),
            ("256 cores/512", "cpu"),
            ("256/0.3GB", "memory"),
            ("256/4096", "memory"),
            ("99999999999999/1", "cpu"),
            ("1..5 vCPU/1GB", "cpu"),
        ] {
            assert_eq!(bad.parse::<TaskSize>().unwrap_err().field, field, "{bad}");
        }
    }

    #[test]
    fn helpers_and_serde() {
        let size = TaskSize::new(256, 512).unwrap();
        assert_eq!(size, TaskSize::default());
        assert!((size.vcpu() - 0.25).abs() < f64::EPSILON);
        assert!((size.memory_gib() - 0.5).abs() < f64::EPSILON);
        let json = serde_json::to_string(&size).unwrap();
        assert_eq!(json, r#"{"cpu":256,"memory":512}"#);
        assert_eq!(serde_json::from_str::<TaskSize>(&json).unwrap(), size);
        assert!(serde_json::from_str::<TaskSize>(r#"{"cpu":256,"memory":4096}"#).is_err());
        assert!(serde_json::from_str::<TaskSize>(r#"{"cpu":256,"memory_mib":512}"#).is_err());
        assert_eq!(TaskSize::valid_memories(333), Vec::<u32>::new());
    }

    #[test]
    fn architectures() {
        for (s, a) in [
            ("X86_64", Architecture::X86_64),
            ("amd64", Architecture::X86_64),
            ("ARM64", Architecture::Arm64),
            ("aarch64", Architecture::Arm64),
        ] {
            assert_eq!(s.parse::<Architecture>().unwrap(), a);
            assert_eq!(a.to_string().parse::<Architecture>().unwrap(), a);
        }
        assert_eq!(
            "i386".parse::<Architecture>().unwrap_err().field,
            "architecture"
        );
        assert_eq!(
            serde_json::to_string(&Architecture::Arm64).unwrap(),
            "\"ARM64\""
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = s.parse::<TaskSize>();
            let _ = s.parse::<Architecture>();
        }

        #[test]
        fn number_like_strings_never_panic(s in "[0-9. ]{0,30}(vcpu|cpu|)/[0-9. ]{0,30}(gb|mib|)") {
            let _ = s.parse::<TaskSize>();
        }

        #[test]
        fn arbitrary_pairs_validate_consistently(cpu in any::<u32>(), memory in any::<u32>()) {
            let ok = TaskSize::new(cpu, memory).is_ok();
            prop_assert_eq!(ok, TaskSize::all().any(|t| t.cpu() == cpu && t.memory_mib() == memory));
        }
    }

    #[test]
    fn every_size_validates_and_round_trips() {
        for size in TaskSize::all() {
            assert_eq!(TaskSize::new(size.cpu(), size.memory_mib()).unwrap(), size);
            assert_eq!(size.to_string().parse::<TaskSize>().unwrap(), size);
            let vcpu = format!("{} vCPU / {} GB", size.vcpu(), size.memory_gib());
            assert_eq!(vcpu.parse::<TaskSize>().unwrap(), size, "{vcpu}");
        }
    }
}
