//! A TCP/UDP port number ([`Port`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::parse_digits;

const FIELD: &str = "port";
const ALLOWED: &str = "a whole number from 1 to 65535";

/// A port number from 1 to 65535 (0, "any port", is rejected).
///
/// Serialized as a number. The AWS SDKs take ports as `i32`: use `i32::from(port)`.
///
/// ```rust
/// use fargate_core::Port;
///
/// let port: Port = "8080".parse()?;
/// assert_eq!(port.get(), 8080);
/// assert_eq!(i32::from(port), 8080);
/// assert!(Port::new(0).is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Port(u16);

impl Port {
    /// HTTP, 80.
    pub const HTTP: Port = Port(80);
    /// HTTPS, 443.
    pub const HTTPS: Port = Port(443);

    /// The port `port`.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `port` when `port` is 0.
    pub fn new(port: u16) -> Result<Self, InvalidValue> {
        if port == 0 {
            return Err(InvalidValue::new(
                FIELD,
                "0",
                "port 0 is not a usable port",
                ALLOWED,
            ));
        }
        Ok(Port(port))
    }

    /// The port number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Port {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = parse_digits(s)
            .ok_or_else(|| InvalidValue::new(FIELD, s, "not a whole number", ALLOWED))?;
        let port = u16::try_from(n)
            .map_err(|_| InvalidValue::new(FIELD, s, "greater than 65535", ALLOWED))?;
        Port::new(port)
    }
}

impl TryFrom<u16> for Port {
    type Error = InvalidValue;
    fn try_from(port: u16) -> Result<Self, Self::Error> {
        Port::new(port)
    }
}

impl TryFrom<i32> for Port {
    type Error = InvalidValue;
    /// Converts a port as the AWS SDKs return it.
    fn try_from(port: i32) -> Result<Self, Self::Error> {
        let port = u16::try_from(port).map_err(|_| {
            InvalidValue::new(FIELD, port.to_string(), "outside 1 to 65535", ALLOWED)
        })?;
        Port::new(port)
    }
}

impl TryFrom<String> for Port {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&str> for Port {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Port> for u16 {
    fn from(port: Port) -> Self {
        port.0
    }
}

impl From<Port> for i32 {
    fn from(port: Port) -> Self {
        i32::from(port.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_and_invalid() {
        assert_eq!("1".parse::<Port>().unwrap().get(), 1);
        assert_eq!("65535".parse::<Port>().unwrap().get(), 65535);
        for bad in ["0", "65536", "-1", "+80", " 80", "", "http", "99999999999"] {
            let e = bad.parse::<Port>().unwrap_err();
            assert_eq!(e.field, "port", "{bad}");
            assert_eq!(e.allowed, ALLOWED);
        }
        assert!(Port::try_from(-1i32).is_err());
        assert!(Port::try_from(70000i32).is_err());
        assert_eq!(Port::try_from(443i32).unwrap(), Port::HTTPS);
    }

    #[test]
    fn serde_as_number() {
        assert_eq!(serde_json::to_string(&Port::HTTP).unwrap(), "80");
        assert_eq!(serde_json::from_str::<Port>("443").unwrap(), Port::HTTPS);
        assert!(serde_json::from_str::<Port>("0").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = s.parse::<Port>();
        }

        #[test]
        fn round_trips(n in 1u16..) {
            let port = Port::new(n).unwrap();
            prop_assert_eq!(port.to_string().parse::<Port>().unwrap(), port);
        }
    }
}
