//! The name of a container environment variable ([`EnvVarName`]).

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::{check_chars, check_len, string_newtype};

const FIELD: &str = "environment variable name";
const ALLOWED: &str =
    "1 to 255 characters: letters, digits and underscores, not starting with a digit";

fn validate(s: &str) -> Result<(), InvalidValue> {
    check_len(FIELD, s, 1, 255, ALLOWED)?;
    check_chars(FIELD, s, |c| c.is_ascii_alphanumeric() || c == '_', ALLOWED)?;
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InvalidValue::new(
            FIELD,
            s,
            "must not start with a digit",
            ALLOWED,
        ));
    }
    Ok(())
}

/// The name of an environment variable (or secret) in a container definition:
/// `[A-Za-z_][A-Za-z0-9_]*`, 1 to 255 characters.
///
/// ECS itself accepts almost any name, but a shell or a program could not read most of
/// them, so fargate-rs accepts only portable names. ECS reserves no names, but names such as
/// `AWS_REGION` or `ECS_CONTAINER_METADATA_URI_V4` are set by Fargate; choose others.
///
/// ```rust
/// use fargate_core::EnvVarName;
///
/// let name: EnvVarName = "DATABASE_URL".parse()?;
/// assert_eq!(name.as_str(), "DATABASE_URL");
/// assert!("2FA-KEY".parse::<EnvVarName>().is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvVarName(String);

string_newtype!(EnvVarName, validate);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_and_invalid() {
        for ok in [
            "A",
            "_",
            "_x1",
            "database_url",
            "RUST_LOG",
            &"A".repeat(255),
        ] {
            assert!(ok.parse::<EnvVarName>().is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "must not be empty"),
            ("1A", "must not start with a digit"),
            ("A-B", "'-' at position 2"),
            ("A B", "' ' at position 2"),
            ("É", "'É' at position 1"),
        ] {
            let e = bad.parse::<EnvVarName>().unwrap_err();
            assert_eq!(e.field, FIELD);
            assert!(e.reason.contains(why), "{bad}: {e}");
        }
        assert!("A".repeat(256).parse::<EnvVarName>().is_err());
        assert!(serde_json::from_str::<EnvVarName>("\"a-b\"").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = s.parse::<EnvVarName>();
        }

        #[test]
        fn round_trips(s in "[A-Za-z_][A-Za-z0-9_]{0,254}") {
            let name = s.parse::<EnvVarName>().unwrap();
            prop_assert_eq!(name.to_string().parse::<EnvVarName>().unwrap(), name);
        }
    }
}
