//! Which configuration values are secrets, and how they are hidden.
//!
//! fargate-rs shows environment variables in plans, diffs, `Debug` output, progress events
//! and logs. A value is treated as a secret — shown as [`REDACTED`] everywhere, while the real
//! value is still sent to AWS and still compared, so a change is still detected — when
//! [`is_sensitive`] says so:
//!
//! - its **name** looks like a credential ([`is_sensitive_name`]): it contains `TOKEN`,
//!   `PASSWORD`, `PASSWD`, `PASSPHRASE`, `SECRET`, `KEY`, `CREDENTIAL` or `PRIVATE`, in any
//!   case (`API_TOKEN`, `db_password`, `AWS_SECRET_ACCESS_KEY`, `SIGNING_KEY`);
//! - or its **value** carries one ([`is_sensitive_value`]): a URL with a password in it
//!   (`postgresql://user:pass@host/db`, `redis://:pass@cache:6379`) or a PEM private key.
//!
//! Redaction is a safety net, not a way to keep secrets: plain environment variables are stored
//! in clear text in ECS (task definitions, schedule targets). Keep credentials in Secrets
//! Manager or SSM and pass them as secrets by reference.
//!
//! ```
//! use fargate_core::redact::{is_sensitive, redacted};
//!
//! assert!(is_sensitive("API_TOKEN", "abc123"));
//! assert!(is_sensitive("DATABASE_URL", "postgresql://u:p@db.internal/app"));
//! assert!(!is_sensitive("DATABASE_URL", "postgresql://db.internal/app"));
//! assert!(!is_sensitive("RUST_LOG", "info"));
//! assert_eq!(redacted("API_TOKEN", "abc123"), "(sensitive)");
//! assert_eq!(redacted("RUST_LOG", "info"), "info");
//! ```

use std::collections::BTreeMap;
use std::fmt;

pub use crate::plan::REDACTED;

/// The words that make a variable name look like a credential (matched anywhere in the name,
/// ignoring case).
pub const SENSITIVE_NAME_WORDS: [&str; 8] = [
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "KEY",
    "CREDENTIAL",
    "PRIVATE",
];

/// Whether an environment variable's name suggests a credential: it contains one of
/// [`SENSITIVE_NAME_WORDS`], in any case.
pub fn is_sensitive_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SENSITIVE_NAME_WORDS.iter().any(|w| upper.contains(w))
}

/// Whether a value carries a credential: a URL with a password in its user information
/// (`scheme://user:password@host`, `scheme://:password@host`), or a PEM private key.
pub fn is_sensitive_value(value: &str) -> bool {
    has_url_password(value) || (value.contains("-----BEGIN") && value.contains("PRIVATE KEY"))
}

/// Whether the variable `name` with this `value` is a secret: [`is_sensitive_name`] or
/// [`is_sensitive_value`].
pub fn is_sensitive(name: &str, value: &str) -> bool {
    is_sensitive_name(name) || is_sensitive_value(value)
}

/// The value as it may be shown: [`REDACTED`] when [`is_sensitive`], else the value itself.
pub fn redacted<'a>(name: &str, value: &'a str) -> &'a str {
    if is_sensitive(name, value) {
        REDACTED
    } else {
        value
    }
}

/// Whether some `scheme://userinfo@host` in `value` has a password (`user:password`).
fn has_url_password(value: &str) -> bool {
    let mut rest = value;
    while let Some(i) = rest.find("://") {
        let after = rest.get(i + 3..).unwrap_or_default();
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = after.get(..end).unwrap_or_default();
        if let Some((userinfo, _host)) = authority.rsplit_once('@')
            && userinfo
                .split_once(':')
                .is_some_and(|(_, password)| !password.is_empty())
        {
            return true;
        }
        rest = after;
    }
    false
}

/// `Debug` for a map of environment variables, with the secret values redacted.
///
/// ```
/// use std::collections::BTreeMap;
/// use fargate_core::redact::DebugEnv;
///
/// let env = BTreeMap::from([("API_TOKEN".to_string(), "abc123".to_string())]);
/// assert_eq!(format!("{:?}", DebugEnv(&env)), r#"{"API_TOKEN": "(sensitive)"}"#);
/// ```
pub struct DebugEnv<'a, K>(pub &'a BTreeMap<K, String>);

impl<K: AsRef<str>> fmt::Debug for DebugEnv<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(k, v)| (k.as_ref(), redacted(k.as_ref(), v))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        for name in [
            "API_TOKEN",
            "db_password",
            "SECRET",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "STRIPE_KEY",
            "GPG_PASSPHRASE",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "PRIVATE_PEM",
            "MYSQL_PASSWD",
        ] {
            assert!(is_sensitive_name(name), "{name}");
        }
        for name in ["RUST_LOG", "ETL_JOB", "PORT", "DATABASE_URL", "MODE"] {
            assert!(!is_sensitive_name(name), "{name}");
        }
    }

    #[test]
    fn values() {
        for value in [
            "postgresql://u:p@h/db",
            "postgres://app:s3cr%40t@db.internal:5432/app?sslmode=require",
            "redis://:hunter2@cache:6379/0",
            "amqp://guest:guest@rabbit",
            "primary=mysql://root:pw@a,replica=mysql://b",
            "https://user:token@github.com/acme/repo.git",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
        ] {
            assert!(is_sensitive_value(value), "{value}");
        }
        for value in [
            "postgresql://h/db",
            "postgresql://user@h/db",
            "postgresql://user:@h/db",
            "https://example.com/a:b@c",
            "https://example.com/?q=a:b@c",
            "import",
            "mailto:someone@example.com",
            "",
            "://",
            "a://@",
        ] {
            assert!(!is_sensitive_value(value), "{value}");
        }
    }

    #[test]
    fn debug_env_redacts_only_secrets() {
        let env = BTreeMap::from([
            ("API_TOKEN".to_string(), "abc123".to_string()),
            ("DB".to_string(), "postgresql://u:p@h/db".to_string()),
            ("MODE".to_string(), "full".to_string()),
        ]);
        let shown = format!("{:?}", DebugEnv(&env));
        assert!(
            !shown.contains("abc123") && !shown.contains("u:p@"),
            "{shown}"
        );
        assert!(shown.contains("\"MODE\": \"full\""), "{shown}");
    }

    proptest! {
        #[test]
        fn never_panics(name in any::<String>(), value in any::<String>()) {
            let _ = is_sensitive(&name, &value);
        }

        #[test]
        fn url_passwords_are_always_found(
            scheme in "[a-z][a-z0-9+]{0,10}",
            user in "[a-z0-9]{0,8}",
            password in "[A-Za-z0-9!$%&*+=~]{1,16}",
            host in "[a-z0-9.-]{1,20}",
            path in "(/[a-z0-9]{0,8}){0,3}",
        ) {
            let url = format!("{scheme}://{user}:{password}@{host}{path}");
            prop_assert!(is_sensitive_value(&url), "{}", url);
            prop_assert_eq!(redacted("URL", &url), REDACTED);
        }
    }
}
