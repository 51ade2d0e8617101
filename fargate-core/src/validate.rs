//! Small validation helpers shared by the value-type modules.
//!
//! Every check returns an [`InvalidValue`] naming the field, the value, the reason and what is
//! allowed, so the modules only describe their rules.

use sha2::{Digest, Sha256};

use crate::error::InvalidValue;

/// Checks that `value` has between `min` and `max` characters (Unicode scalar values).
pub(crate) fn check_len(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    allowed: &str,
) -> Result<(), InvalidValue> {
    let n = value.chars().count();
    if n == 0 && min > 0 {
        return Err(InvalidValue::new(
            field,
            value,
            "must not be empty",
            allowed,
        ));
    }
    if n < min {
        let reason = format!("is {n} characters long, the minimum is {min}");
        return Err(InvalidValue::new(field, value, reason, allowed));
    }
    if n > max {
        let reason = format!("is {n} characters long, the maximum is {max}");
        return Err(InvalidValue::new(field, value, reason, allowed));
    }
    Ok(())
}

/// Checks that every character of `value` satisfies `ok`, naming the first one that does not.
pub(crate) fn check_chars(
    field: &str,
    value: &str,
    ok: impl Fn(char) -> bool,
    allowed: &str,
) -> Result<(), InvalidValue> {
    match value.chars().enumerate().find(|&(_, c)| !ok(c)) {
        Some((i, c)) => {
            let reason = format!("character {c:?} at position {} is not allowed", i + 1);
            Err(InvalidValue::new(field, value, reason, allowed))
        }
        None => Ok(()),
    }
}

/// Parses a non-empty string of ASCII digits (no sign, no spaces) that fits in a `u32`.
pub(crate) fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The first 8 lowercase hex characters of the SHA-256 of `s`.
pub(crate) fn short_hash(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `s` is a 12-digit AWS account id.
///
/// ```
/// assert!(fargate_core::is_account_id("123456789012"));
/// assert!(!fargate_core::is_account_id("<account-id>"));
/// ```
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` looks like an AWS region code (`us-east-1`, `us-gov-west-1`, `eusc-de-east-1`):
/// at least three hyphen-separated parts, lowercase letters except the last, which is a number.
///
/// ```
/// assert!(fargate_core::is_region("eu-west-1"));
/// assert!(!fargate_core::is_region("..."));
/// ```
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    match parts.split_last() {
        Some((last, init)) => {
            init.len() >= 2
                && init
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
                && parse_digits(last).is_some()
                && last.len() <= 2
        }
        None => false,
    }
}

/// The AWS partitions fargate-rs supports in ARNs.
pub(crate) const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];

/// Whether `s` is an AWS partition fargate-rs supports in ARNs: `aws`, `aws-cn`, `aws-us-gov`.
///
/// ```
/// assert!(fargate_core::is_partition("aws-cn"));
/// assert!(!fargate_core::is_partition("azure"));
/// ```
pub fn is_partition(s: &str) -> bool {
    PARTITIONS.contains(&s)
}

/// `s` without `prefix`, compared ASCII-case-insensitively.
pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .and_then(|_| s.get(prefix.len()..))
}

/// Implements the string conversions of a validated string newtype `struct T(String)`:
/// `new`, `as_str`, `FromStr`, `TryFrom<String>`, `TryFrom<&str>`, `Display`, `AsRef<str>`
/// and `From<T> for String`, all going through `$validate: fn(&str) -> Result<(), InvalidValue>`.
macro_rules! string_newtype {
    ($ty:ident, $validate:path) => {
        impl $ty {
            /// Validates `value` and wraps it.
            ///
            /// # Errors
            /// Returns an [`InvalidValue`](crate::InvalidValue) naming the rule `value` breaks.
            pub fn new(
                value: impl Into<::std::string::String>,
            ) -> ::std::result::Result<Self, $crate::error::InvalidValue> {
                let value = value.into();
                $validate(&value)?;
                Ok(Self(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::InvalidValue;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl ::std::convert::TryFrom<::std::string::String> for $ty {
            type Error = $crate::error::InvalidValue;
            fn try_from(s: ::std::string::String) -> ::std::result::Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl ::std::convert::TryFrom<&str> for $ty {
            type Error = $crate::error::InvalidValue;
            fn try_from(s: &str) -> ::std::result::Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::convert::AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::convert::From<$ty> for ::std::string::String {
            fn from(v: $ty) -> Self {
                v.0
            }
        }
    };
}
pub(crate) use string_newtype;

/// Implements `TryFrom<String>`, `TryFrom<&str>` and `From<T> for String` for a type that
/// already has `FromStr<Err = InvalidValue>` and `Display`.
macro_rules! string_conversions {
    ($ty:ty) => {
        impl ::std::convert::TryFrom<::std::string::String> for $ty {
            type Error = $crate::error::InvalidValue;
            fn try_from(s: ::std::string::String) -> ::std::result::Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::convert::TryFrom<&str> for $ty {
            type Error = $crate::error::InvalidValue;
            fn try_from(s: &str) -> ::std::result::Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::convert::From<$ty> for ::std::string::String {
            fn from(v: $ty) -> Self {
                v.to_string()
            }
        }
    };
}
pub(crate) use string_conversions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_chars() {
        assert!(check_len("f", "abc", 1, 3, "x").is_ok());
        let e = check_len("f", "", 1, 3, "x").unwrap_err();
        assert_eq!(e.reason, "must not be empty");
        assert!(
            check_len("f", "abcd", 1, 3, "x")
                .unwrap_err()
                .reason
                .contains("maximum is 3")
        );
        let e = check_chars("f", "ab_c", |c| c.is_ascii_lowercase(), "x").unwrap_err();
        assert!(e.reason.contains("'_' at position 3"), "{e}");
    }

    #[test]
    fn digits_regions_accounts() {
        assert_eq!(parse_digits("042"), Some(42));
        assert_eq!(parse_digits("+1"), None);
        assert_eq!(parse_digits(""), None);
        assert_eq!(parse_digits("99999999999"), None);
        for r in [
            "us-east-1",
            "us-gov-west-1",
            "cn-northwest-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region(r), "{r}");
        }
        for r in [
            "us-east",
            "useast1",
            "US-EAST-1",
            "us--1",
            "-east-1",
            "us-east-123",
        ] {
            assert!(!is_region(r), "{r}");
        }
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901"));
        assert_eq!(short_hash("x").len(), 8);
        assert_eq!(
            strip_prefix_ignore_case("Internal-x", "internal-"),
            Some("x")
        );
        assert_eq!(strip_prefix_ignore_case("intern", "internal-"), None);
    }
}
