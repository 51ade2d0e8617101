//! IPv4 CIDR blocks ([`Cidr`]) and the subnet layout of a new VPC ([`split_for_subnets`]).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::{parse_digits, string_conversions};

const FIELD: &str = "cidr";
const ALLOWED: &str =
    "an IPv4 network in CIDR notation with the host bits zero, such as 10.0.0.0/16";
const VPC_FIELD: &str = "VPC CIDR";

/// The smallest and largest subnet or VPC AWS allows, as prefix lengths.
const LARGEST_PREFIX: u8 = 16;
const SMALLEST_PREFIX: u8 = 28;

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// An IPv4 network: an address whose host bits are zero and a prefix length (0 to 32).
///
/// ```rust
/// use fargate_core::Cidr;
///
/// let vpc = Cidr::vpc("10.0.0.0/16")?;
/// let subnets: Vec<Cidr> = vpc.subnets(18)?.collect();
/// assert_eq!(subnets.len(), 4);
/// assert_eq!(subnets[1].to_string(), "10.0.64.0/18");
/// assert!(vpc.contains(&subnets[3]));
///
/// let err = "10.0.0.1/16".parse::<Cidr>().unwrap_err();
/// assert!(err.reason.contains("10.0.0.0/16"));
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Cidr {
    /// The network `network/prefix`.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `cidr` when `prefix` is greater than 32 or `network` has
    /// host bits set (the error names the network address it should be).
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Self, InvalidValue> {
        let given = format!("{network}/{prefix}");
        if prefix > 32 {
            return Err(InvalidValue::new(
                FIELD,
                given,
                "the prefix length is greater than 32",
                ALLOWED,
            ));
        }
        let masked = Ipv4Addr::from(u32::from(network) & mask(prefix));
        if masked != network {
            let reason = format!("host bits are set; the network address is {masked}/{prefix}");
            return Err(InvalidValue::new(FIELD, given, reason, ALLOWED));
        }
        Ok(Cidr { network, prefix })
    }

    /// Parses a VPC CIDR block: a [`Cidr`] with a prefix from /16 to /28 (the sizes AWS
    /// allows), not in the ranges AWS refuses for VPCs (0.0.0.0/8, 127.0.0.0/8,
    /// 169.254.0.0/16, 224.0.0.0/4 and above). Private ranges (10.0.0.0/8, 172.16.0.0/12,
    /// 192.168.0.0/16) are recommended.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `cidr` when `s` is not a CIDR block, or for field
    /// `VPC CIDR` when it is not usable as a VPC.
    pub fn vpc(s: &str) -> Result<Self, InvalidValue> {
        let cidr: Cidr = s.parse()?;
        let allowed = "a CIDR block from /16 to /28, such as 10.0.0.0/16";
        if !(LARGEST_PREFIX..=SMALLEST_PREFIX).contains(&cidr.prefix) {
            let reason = "a VPC must be between /16 (65536 addresses) and /28 (16 addresses)";
            return Err(InvalidValue::new(VPC_FIELD, s, reason, allowed));
        }
        let reserved = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"];
        if let Some(range) = reserved
            .iter()
            .filter_map(|r| r.parse::<Cidr>().ok())
            .find(|r| r.overlaps(&cidr))
        {
            let reason = format!("AWS does not allow VPCs in {range}");
            return Err(InvalidValue::new(VPC_FIELD, s, reason, allowed));
        }
        Ok(cidr)
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network mask (`255.255.0.0` for a /16).
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    /// The last address of the network (its broadcast address).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    /// The number of addresses (AWS reserves 5 of each subnet).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether `addr` is in this network.
    pub fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == u32::from(self.network)
    }

    /// Whether `other` lies entirely within this network.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_addr(other.network)
    }

    /// Whether the two networks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The networks of prefix `new_prefix` this network divides into, in address order.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `prefix` when `new_prefix` is shorter than this network's
    /// prefix or longer than 32.
    pub fn subnets(&self, new_prefix: u8) -> Result<Subnets, InvalidValue> {
        if new_prefix < self.prefix || new_prefix > 32 {
            return Err(InvalidValue::new(
                "prefix",
                new_prefix.to_string(),
                format!("cannot divide {self} into /{new_prefix} networks"),
                format!("a prefix length from {} to 32", self.prefix),
            ));
        }
        let step = 1u64 << (32 - u32::from(new_prefix));
        let start = u64::from(u32::from(self.network));
        Ok(Subnets {
            next: start,
            end: start + self.size(),
            step,
            prefix: new_prefix,
        })
    }
}

/// The iterator returned by [`Cidr::subnets`].
#[derive(Clone, Debug)]
pub struct Subnets {
    next: u64,
    end: u64,
    step: u64,
    prefix: u8,
}

impl Iterator for Subnets {
    type Item = Cidr;

    fn next(&mut self) -> Option<Cidr> {
        if self.next >= self.end {
            return None;
        }
        let network = Ipv4Addr::from(u32::try_from(self.next).ok()?);
        self.next += self.step;
        Some(Cidr {
            network,
            prefix: self.prefix,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from((self.end.saturating_sub(self.next)) / self.step).ok();
        (n.unwrap_or(usize::MAX), n)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| InvalidValue::new(FIELD, s, reason, ALLOWED);
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| bad("missing the \"/<prefix length>\""))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix = parse_digits(prefix)
            .and_then(|p| u8::try_from(p).ok())
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad("the prefix length is not a number from 0 to 32"))?;
        Cidr::new(addr, prefix).map_err(|e| InvalidValue {
            value: s.to_string(),
            ..e
        })
    }
}

string_conversions!(Cidr);

/// Lays out `count` equal subnets in `vpc`, each as large as possible: the VPC is divided into
/// the next power of two at or above `count`, but no subnet is larger than /16 (the AWS
/// maximum); the first `count` are returned in address order. Used to place the public and
/// private subnets of a new VPC across availability zones (for example `count = 2 × AZs`).
///
/// ```rust
/// use fargate_core::cidr::{split_for_subnets, Cidr};
///
/// let vpc = Cidr::vpc("10.0.0.0/16")?;
/// let subnets = split_for_subnets(&vpc, 6)?; // 6 rounds up to 8: /19 each
/// assert_eq!(subnets.len(), 6);
/// assert_eq!(subnets[5].to_string(), "10.0.160.0/19");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
///
/// # Errors
/// An [`InvalidValue`] for field `subnet count` when `count` is 0 or the subnets would be
/// smaller than /28 (the AWS minimum).
pub fn split_for_subnets(vpc: &Cidr, count: usize) -> Result<Vec<Cidr>, InvalidValue> {
    const COUNT_FIELD: &str = "subnet count";
    let max = SMALLEST_PREFIX
        .checked_sub(vpc.prefix)
        .and_then(|bits| 1usize.checked_shl(u32::from(bits)))
        .unwrap_or(0);
    let allowed = if max == 0 {
        format!("no subnet fits in {vpc}: use a VPC of /28 or larger")
    } else {
        format!("1 to {max} subnets of at least /28 in {vpc}")
    };
    if count == 0 {
        return Err(InvalidValue::new(
            COUNT_FIELD,
            "0",
            "at least one subnet is needed",
            allowed,
        ));
    }
    let bits = count
        .checked_next_power_of_two()
        .map_or(u32::MAX, usize::trailing_zeros);
    let new_prefix = u32::from(vpc.prefix)
        .saturating_add(bits)
        .max(u32::from(LARGEST_PREFIX));
    match u8::try_from(new_prefix)
        .ok()
        .filter(|p| *p <= SMALLEST_PREFIX)
    {
        Some(prefix) => Ok(vpc.subnets(prefix)?.take(count).collect()),
        None => Err(InvalidValue::new(
            COUNT_FIELD,
            count.to_string(),
            format!("{vpc} is too small for {count} subnets of at least /28"),
            allowed,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(cidr("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(cidr("10.1.2.3/32").size(), 1);
        let e = "10.0.0.1/16".parse::<Cidr>().unwrap_err();
        assert_eq!(e.field, "cidr");
        assert_eq!(e.value, "10.0.0.1/16");
        assert!(e.reason.contains("network address is 10.0.0.0/16"), "{e}");
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/+8",
            "010.0.0.0/8",
            "",
            "/",
            "::/0",
        ] {
            assert_eq!(bad.parse::<Cidr>().unwrap_err().field, "cidr", "{bad}");
        }
        assert_eq!(cidr("10.0.0.0/16").netmask(), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(cidr("10.0.0.0/16").last(), Ipv4Addr::new(10, 0, 255, 255));
    }

    #[test]
    fn vpc_ranges() {
        assert!(Cidr::vpc("10.0.0.0/16").is_ok());
        assert!(Cidr::vpc("192.168.0.0/28").is_ok());
        assert_eq!(Cidr::vpc("10.0.0.0/8").unwrap_err().field, "VPC CIDR");
        assert_eq!(Cidr::vpc("10.0.0.0/29").unwrap_err().field, "VPC CIDR");
        assert!(
            Cidr::vpc("127.0.0.0/16")
                .unwrap_err()
                .reason
                .contains("127.0.0.0/8")
        );
        assert!(Cidr::vpc("169.254.0.0/16").is_err());
        assert!(Cidr::vpc("230.0.0.0/16").is_err());
        assert_eq!(Cidr::vpc("10.0.0.1/16").unwrap_err().field, "cidr");
    }

    #[test]
    fn containment() {
        let vpc = cidr("10.0.0.0/16");
        assert!(vpc.contains(&cidr("10.0.4.0/24")));
        assert!(!vpc.contains(&cidr("10.1.0.0/24")));
        assert!(!cidr("10.0.4.0/24").contains(&vpc));
        assert!(vpc.overlaps(&cidr("10.0.0.0/8")));
        assert!(!vpc.overlaps(&cidr("10.1.0.0/16")));
        assert!(cidr("0.0.0.0/0").contains(&vpc));
        assert!(vpc.subnets(15).is_err());
        assert!(vpc.subnets(33).is_err());
        assert_eq!(vpc.subnets(16).unwrap().collect::<Vec<_>>(), vec![vpc]);
        assert_eq!(
            cidr("0.0.0.0/0").subnets(32).unwrap().size_hint().1,
            Some(1 << 32)
        );
    }

    #[test]
    fn split() {
        let vpc = cidr("10.0.0.0/16");
        let two = split_for_subnets(&vpc, 2).unwrap();
        assert_eq!(two, vec![cidr("10.0.0.0/17"), cidr("10.0.128.0/17")]);
        assert_eq!(
            split_for_subnets(&vpc, 4).unwrap()[3],
            cidr("10.0.192.0/18")
        );
        // A large VPC still gets subnets of at most /16.
        assert_eq!(
            split_for_subnets(&cidr("10.0.0.0/8"), 2).unwrap()[1],
            cidr("10.1.0.0/16")
        );
        assert_eq!(split_for_subnets(&vpc, 4096).unwrap().len(), 4096);
        let e = split_for_subnets(&vpc, 4097).unwrap_err();
        assert_eq!(e.field, "subnet count");
        assert!(e.allowed.contains("1 to 4096"), "{e}");
        assert!(split_for_subnets(&vpc, 0).is_err());
        assert!(split_for_subnets(&vpc, usize::MAX).is_err());
        assert!(split_for_subnets(&cidr("10.0.0.0/30"), 1).is_err());
    }

    fn any_cidr() -> impl Strategy<Value = Cidr> {
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| Cidr {
            network: Ipv4Addr::from(a & mask(p)),
            prefix: p,
        })
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = s.parse::<Cidr>();
            let _ = Cidr::vpc(&s);
        }

        #[test]
        fn round_trips(c in any_cidr()) {
            prop_assert_eq!(c.to_string().parse::<Cidr>().unwrap(), c);
        }

        #[test]
        fn subnets_are_contained_and_disjoint(c in any_cidr(), extra in 0u8..=6) {
            let new_prefix = (c.prefix + extra).min(32);
            let subnets: Vec<Cidr> = c.subnets(new_prefix).unwrap().take(64).collect();
            prop_assert!(!subnets.is_empty());
            for (i, a) in subnets.iter().enumerate() {
                prop_assert!(c.contains(a));
                prop_assert_eq!(a.prefix(), new_prefix);
                for b in subnets.iter().skip(i + 1) {
                    prop_assert!(!a.overlaps(b), "{} overlaps {}", a, b);
                }
            }
        }

        #[test]
        fn split_is_contained_and_disjoint(p in 16u8..=28, count in 1usize..=64, a in any::<u32>()) {
            let vpc = Cidr { network: Ipv4Addr::from(a & mask(p)), prefix: p };
            match split_for_subnets(&vpc, count) {
                Ok(subnets) => {
                    prop_assert_eq!(subnets.len(), count);
                    for (i, s) in subnets.iter().enumerate() {
                        prop_assert!(vpc.contains(s));
                        prop_assert!((16..=28).contains(&s.prefix()));
                        for t in subnets.iter().skip(i + 1) {
                            prop_assert!(!s.overlaps(t));
                        }
                    }
                }
                Err(e) => prop_assert!(count > 1usize << (28 - p), "{}", e),
            }
        }
    }
}
