//! References to secrets kept in AWS Secrets Manager or SSM Parameter Store ([`SecretRef`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::{is_account_id, is_partition, is_region, string_conversions};

const FIELD: &str = "secret";
const ALLOWED: &str = "a Secrets Manager secret ARN \
     (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<version-stage>:<version-id>]), \
     an SSM parameter ARN (arn:<partition>:ssm:<region>:<account>:parameter/<name>) \
     or an SSM parameter name (name or /path/to/name: letters, digits, '_', '.', '-', '/')";

/// Where a [`SecretRef`] points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// An AWS Secrets Manager secret.
    SecretsManager,
    /// An AWS Systems Manager Parameter Store parameter (usually a `SecureString`).
    SsmParameter,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Parsed {
    /// `secret_arn` is the ARN up to and including the secret name.
    SecretsManager {
        secret_arn: String,
        complete: bool,
        json_key: Option<String>,
    },
    SsmArn,
    SsmName,
}

/// A reference to a secret: what goes in a container definition's `secrets[].valueFrom`.
///
/// One of:
/// - a Secrets Manager secret ARN, `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`,
///   optionally followed by `:<json-key>:<version-stage>:<version-id>` (each may be empty, as
///   ECS allows, for example `...:secret:db-AbCdEf:password::`);
/// - an SSM parameter ARN, `arn:<partition>:ssm:<region>:<account>:parameter/<name>`;
/// - a bare SSM parameter name, `name` or `/path/to/name` (a parameter in the task's region).
///
/// The partition is `aws`, `aws-cn` or `aws-us-gov`. This is a reference, never the secret
/// value: ECS fetches the value when the task starts, so the reference can be logged and shown
/// in plans.
///
/// ```rust
/// use fargate_core::SecretRef;
/// use fargate_core::secret::SecretKind;
///
/// let db: SecretRef = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password::"
///     .parse()?;
/// assert_eq!(db.kind(), SecretKind::SecretsManager);
/// assert_eq!(db.json_key(), Some("password"));
/// assert_eq!(
///     db.resource_arn("aws", "us-east-1", "123456789012"),
///     "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
/// );
///
/// let token: SecretRef = "/prod/api/token".parse()?;
/// assert_eq!(token.value_from(), "/prod/api/token");
/// assert_eq!(
///     token.resource_arn("aws", "eu-west-1", "123456789012"),
///     "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/api/token"
/// );
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretRef {
    text: String,
    parsed: Parsed,
}

fn bad(value: &str, reason: impl Into<String>) -> InvalidValue {
    InvalidValue::new(FIELD, value, reason, ALLOWED)
}

/// A Secrets Manager name with its random suffix: `[A-Za-z0-9/_+=.@-]`, at most 512 characters
/// plus the 7-character `-XXXXXX` suffix.
fn secret_name_ok(name: &str) -> bool {
    (1..=519).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

/// Whether a Secrets Manager name ends with the `-` + 6 alphanumerics AWS appends.
fn has_random_suffix(name: &str) -> bool {
    name.rsplit_once('-').is_some_and(|(head, tail)| {
        !head.is_empty() && tail.len() == 6 && tail.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// An SSM parameter name: `[a-zA-Z0-9_.-/]`, at most 2048 characters; a name with `/` must
/// start with `/` and have no empty path component.
fn parameter_name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 2048 {
        Some("an SSM parameter name has 1 to 2048 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
    {
        Some("an SSM parameter name may contain only letters, digits, '_', '.', '-' and '/'")
    } else if name.contains('/') && !name.starts_with('/') {
        Some("a hierarchical SSM parameter name must start with '/'")
    } else if name.contains("//") || name.ends_with('/') || name == "/" {
        Some("an SSM parameter name must not have an empty path component")
    } else {
        None
    }
}

fn parse_arn(s: &str) -> Result<Parsed, InvalidValue> {
    let fields: Vec<&str> = s.split(':').collect();
    let (partition, service, region, account) = match fields.as_slice() {
        ["arn", partition, service, region, account, ..] => {
            (*partition, *service, *region, *account)
        }
        _ => {
            return Err(bad(
                s,
                "an ARN has the form arn:<partition>:<service>:<region>:<account>:<resource>",
            ));
        }
    };
    if !is_partition(partition) {
        return Err(bad(
            s,
            format!("unknown partition {partition:?} (aws, aws-cn or aws-us-gov)"),
        ));
    }
    if !is_region(region) {
        return Err(bad(s, format!("{region:?} is not an AWS region code")));
    }
    if !is_account_id(account) {
        return Err(bad(s, format!("{account:?} is not a 12-digit account id")));
    }
    match (service, fields.get(5..).unwrap_or_default()) {
        ("secretsmanager", ["secret", name, rest @ ..]) => {
            if !secret_name_ok(name) {
                return Err(bad(
                    s,
                    "a secret name has 1 to 512 letters, digits and '/_+=.@-'",
                ));
            }
            let json_key = match rest {
                [] => None,
                [key, stage, version] => {
                    check_suffix(s, key, stage, version)?;
                    Some(key.to_string()).filter(|k| !k.is_empty())
                }
                _ => {
                    let reason = "after the secret name, give all three of \
                         :<json-key>:<version-stage>:<version-id> (each may be empty)";
                    return Err(bad(s, reason));
                }
            };
            let secret_arn =
                format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}");
            Ok(Parsed::SecretsManager {
                secret_arn,
                complete: has_random_suffix(name),
                json_key,
            })
        }
        ("secretsmanager", _) => Err(bad(s, "a Secrets Manager ARN's resource is secret:<name>")),
        ("ssm", [resource]) => match resource.strip_prefix("parameter/") {
            Some(name) => match parameter_name_error(&format!("/{name}")) {
                Some(reason) => Err(bad(s, reason)),
                None => Ok(Parsed::SsmArn),
            },
            None => Err(bad(s, "an SSM ARN's resource is parameter/<name>")),
        },
        ("ssm", _) => Err(bad(
            s,
            "an SSM parameter ARN has no ':' after parameter/<name>",
        )),
        _ => Err(bad(
            s,
            format!("service {service:?} does not hold secrets (secretsmanager or ssm)"),
        )),
    }
}

/// Checks the `:<json-key>:<version-stage>:<version-id>` suffix of a Secrets Manager ARN.
fn check_suffix(s: &str, key: &str, stage: &str, version: &str) -> Result<(), InvalidValue> {
    if key.chars().any(char::is_control) {
        return Err(bad(s, "the JSON key contains control characters"));
    }
    if stage.len() > 256 || stage.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(
            s,
            "the version stage has at most 256 characters and no spaces",
        ));
    }
    let version_ok = |v: &str| {
        (32..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !version.is_empty() && !version_ok(version) {
        return Err(bad(
            s,
            "the version id has 32 to 64 letters, digits and hyphens",
        ));
    }
    Ok(())
}

impl SecretRef {
    /// Where the secret is kept.
    pub fn kind(&self) -> SecretKind {
        match self.parsed {
            Parsed::SecretsManager { .. } => SecretKind::SecretsManager,
            Parsed::SsmArn | Parsed::SsmName => SecretKind::SsmParameter,
        }
    }

    /// The reference as given: the value of `valueFrom` in the ECS container definition.
    pub fn value_from(&self) -> &str {
        &self.text
    }

    /// The JSON key of a Secrets Manager reference, if one was given.
    pub fn json_key(&self) -> Option<&str> {
        match &self.parsed {
            Parsed::SecretsManager { json_key, .. } => json_key.as_deref(),
            _ => None,
        }
    }

    /// The ARN the task execution role's IAM policy must allow (`secretsmanager:GetSecretValue`
    /// or `ssm:GetParameters`).
    ///
    /// - Secrets Manager: the secret ARN without the JSON key/version suffix. A full ARN ends
    ///   with the `-` + 6 characters AWS appends to the name; a partial ARN (without them) gets
    ///   `-??????` appended, which matches exactly that secret's suffix (where a trailing `*`
    ///   would also match other secrets whose names start the same). The two cannot always be
    ///   told apart: a name such as `db-secret` looks like a full ARN, so prefer full ARNs.
    /// - SSM parameter ARN: the ARN as given.
    /// - SSM parameter name: `arn:<partition>:ssm:<region>:<account>:parameter/<name>`, built
    ///   from the arguments (the task's partition, region and account).
    pub fn resource_arn(&self, partition: &str, region: &str, account: &str) -> String {
        match &self.parsed {
            Parsed::SecretsManager {
                secret_arn,
                complete: true,
                ..
            } => secret_arn.clone(),
            Parsed::SecretsManager {
                secret_arn,
                complete: false,
                ..
            } => format!("{secret_arn}-??????"),
            Parsed::SsmArn => self.text.clone(),
            Parsed::SsmName => {
                let name = self.text.strip_prefix('/').unwrap_or(&self.text);
                format!("arn:{partition}:ssm:{region}:{account}:parameter/{name}")
            }
        }
    }
}

impl SecretRef {
    /// The region and account of an ARN reference, `None` for a bare SSM parameter name (a
    /// parameter of the task's own region and account).
    pub fn region_and_account(&self) -> Option<(&str, &str)> {
        if !self.text.starts_with("arn:") {
            return None;
        }
        let mut parts = self.text.split(':').skip(3);
        Some((parts.next()?, parts.next()?))
    }

    /// What `DescribeSecret` takes as `SecretId` for a Secrets Manager reference (in its own
    /// region and account): the secret's ARN when it is complete (ends with the random
    /// suffix), else the secret's name; without any JSON key or version. `None` for SSM.
    pub fn secret_id(&self) -> Option<&str> {
        match &self.parsed {
            Parsed::SecretsManager {
                secret_arn,
                complete: true,
                ..
            } => Some(secret_arn),
            Parsed::SecretsManager { secret_arn, .. } => {
                secret_arn.split_once(":secret:").map(|(_, name)| name)
            }
            Parsed::SsmArn | Parsed::SsmName => None,
        }
    }

    /// The names the SSM parameter may have, for `DescribeParameters`; empty for Secrets
    /// Manager. A bare name is the name; an ARN `...:parameter/a/b` is `/a/b`; an ARN
    /// `...:parameter/a` is `a` or `/a` (both have that ARN).
    pub fn parameter_names(&self) -> Vec<String> {
        match &self.parsed {
            Parsed::SsmName => vec![self.text.clone()],
            Parsed::SsmArn => match self.text.split_once(":parameter/") {
                Some((_, name)) if name.contains('/') => vec![format!("/{name}")],
                Some((_, name)) => vec![name.to_string(), format!("/{name}")],
                None => Vec::new(),
            },
            Parsed::SecretsManager { .. } => Vec::new(),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for SecretRef {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = if s.starts_with("arn:") {
            parse_arn(s)?
        } else {
            if let Some(reason) = parameter_name_error(s) {
                return Err(bad(s, reason));
            }
            Parsed::SsmName
        };
        Ok(SecretRef {
            text: s.to_string(),
            parsed,
        })
    }
}

string_conversions!(SecretRef);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SM: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:";

    fn secret(s: &str) -> SecretRef {
        s.parse().unwrap()
    }

    #[test]
    fn what_to_describe() {
        let full = secret(&format!("{SM}prod/db-AbC123:password::"));
        assert_eq!(full.secret_id(), Some(&*format!("{SM}prod/db-AbC123")));
        assert_eq!(
            full.region_and_account(),
            Some(("us-east-1", "123456789012"))
        );
        assert!(full.parameter_names().is_empty());
        let partial = secret(&format!("{SM}prod/db"));
        assert_eq!(partial.secret_id(), Some("prod/db"));
        let hier = secret("arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db/url");
        assert_eq!(hier.parameter_names(), vec!["/prod/db/url".to_string()]);
        assert_eq!(
            hier.region_and_account(),
            Some(("eu-west-1", "123456789012"))
        );
        assert_eq!(hier.secret_id(), None);
        let flat = secret("arn:aws:ssm:eu-west-1:123456789012:parameter/token");
        assert_eq!(
            flat.parameter_names(),
            vec!["token".to_string(), "/token".to_string()]
        );
        let name = secret("/prod/token");
        assert_eq!(name.parameter_names(), vec!["/prod/token".to_string()]);
        assert_eq!(name.region_and_account(), None);
    }

    #[test]
    fn secrets_manager() {
        let full = secret(&format!("{SM}prod/db-AbC123"));
        assert_eq!(full.kind(), SecretKind::SecretsManager);
        assert_eq!(full.json_key(), None);
        assert_eq!(
            full.resource_arn("x", "y", "z"),
            format!("{SM}prod/db-AbC123")
        );
        let partial = secret(&format!("{SM}prod/db"));
        assert_eq!(
            partial.resource_arn("aws", "us-east-1", "1"),
            format!("{SM}prod/db-??????")
        );
        let keyed = secret(&format!("{SM}db-AbC123:user:AWSPREVIOUS:"));
        assert_eq!(keyed.json_key(), Some("user"));
        assert_eq!(
            keyed.resource_arn("aws", "r", "a"),
            format!("{SM}db-AbC123")
        );
        assert_eq!(
            keyed.value_from(),
            format!("{SM}db-AbC123:user:AWSPREVIOUS:")
        );
        let version = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111";
        assert!(
            format!("{SM}db-AbC123:::{version}")
                .parse::<SecretRef>()
                .is_ok()
        );
        assert!(format!("{SM}db-AbC123:::").parse::<SecretRef>().is_ok());
        let gov = "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x";
        assert!(gov.parse::<SecretRef>().is_ok());
    }

    #[test]
    fn ssm() {
        let arn = "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/prod/token";
        let p = secret(arn);
        assert_eq!(p.kind(), SecretKind::SsmParameter);
        assert_eq!(p.resource_arn("aws", "us-east-1", "1"), arn);
        let bare = secret("token");
        assert_eq!(
            bare.resource_arn("aws", "us-east-1", "123456789012"),
            "arn:aws:ssm:us-east-1:123456789012:parameter/token"
        );
        assert!("/a/b.c_d-e".parse::<SecretRef>().is_ok());
    }

    #[test]
    fn rejects() {
        let cases = [
            (String::new(), "1 to 2048"),
            ("a/b".into(), "must start with '/'"),
            ("/a//b".into(), "empty path component"),
            ("/a/".into(), "empty path component"),
            ("my secret".into(), "may contain only"),
            ("arn:aws:s3:::bucket".into(), "region"),
            ("arn:aws".into(), "the form"),
            (
                "arn:aws-xx:ssm:us-east-1:123456789012:parameter/a".into(),
                "partition",
            ),
            ("arn:aws:ssm:us-east-1:1234:parameter/a".into(), "12-digit"),
            (
                "arn:aws:ssm:useast1:123456789012:parameter/a".into(),
                "region",
            ),
            (
                "arn:aws:ssm:us-east-1:123456789012:param/a".into(),
                "parameter/<name>",
            ),
            (
                "arn:aws:ssm:us-east-1:123456789012:parameter/a:b".into(),
                "no ':'",
            ),
            (
                "arn:aws:ssm:us-east-1:123456789012:parameter/a//b".into(),
                "empty path",
            ),
            (
                "arn:aws:sqs:us-east-1:123456789012:q".into(),
                "does not hold secrets",
            ),
            (format!("{SM}db:key"), "all three"),
            (format!("{SM}db:k:s:v:extra"), "all three"),
            (SM.to_string(), "secret name"),
            (format!("{SM}db#1"), "secret name"),
            (format!("{SM}db:::short"), "version id"),
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:key:db".into(),
                "secret:<name>",
            ),
        ];
        for (bad, why) in cases {
            let e = bad.parse::<SecretRef>().unwrap_err();
            assert_eq!(e.field, "secret", "{bad}");
            assert!(e.reason.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn serde() {
        let s = secret("/prod/token");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"/prod/token\"");
        assert_eq!(serde_json::from_str::<SecretRef>(&json).unwrap(), s);
        assert!(serde_json::from_str::<SecretRef>("\"a b\"").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = s.parse::<SecretRef>();
        }

        #[test]
        fn arn_like_strings_never_panic(s in "arn:[a-z:/-]{0,12}:[a-z0-9-]{0,12}:[0-9]{0,13}:[a-z/:]{0,20}") {
            let _ = s.parse::<SecretRef>();
        }

        #[test]
        fn round_trips(
            name in "[A-Za-z0-9_.-]{1,20}(/[A-Za-z0-9_.-]{1,20}){0,3}",
            suffix in prop::option::of("[a-z]{0,8}:[A-Z]{0,10}:"),
            arn in any::<bool>(),
        ) {
            let s = if arn {
                format!("{SM}{name}{}", suffix.map(|x| format!(":{x}")).unwrap_or_default())
            } else {
                format!("/{name}")
            };
            let secret: SecretRef = s.parse().unwrap();
            prop_assert_eq!(secret.to_string(), s.clone());
            prop_assert_eq!(secret.to_string().parse::<SecretRef>().unwrap(), secret);
        }
    }
}
