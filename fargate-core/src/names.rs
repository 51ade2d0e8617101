//! Validated names: the logical names users choose ([`Ident`]) and the AWS resource names
//! derived from them ([`EcsName`], [`ElbName`], [`EcrRepositoryName`], [`LogGroupName`],
//! [`IamRoleName`]).
//!
//! Resource names are deterministic: `derive(&[environment, app, component])` always gives the
//! same name, so observing a resource is a direct look-up by name. When the joined name is too
//! long for the AWS limit it is truncated and suffixed with `-` and 8 hex characters of the
//! SHA-256 of the full logical name, so different logical names stay different.

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::{
    check_chars, check_len, short_hash, string_newtype, strip_prefix_ignore_case,
};

/// How a resource name type is derived from logical parts.
struct Rules {
    /// Minimum and maximum length in characters.
    min: usize,
    max: usize,
    /// Put between parts.
    separator: char,
    /// Put before the whole name (for example `/` for log groups).
    prefix: &'static str,
    /// Lowercase ASCII letters before checking `allowed`.
    lowercase: bool,
    /// The characters the name may contain (all ASCII). Non-alphanumeric allowed characters
    /// are treated as separators: never doubled, never at the start or end of a part.
    allowed: fn(char) -> bool,
    /// A prefix the name must not start with (ASCII case-insensitive); its last character is
    /// dropped when a derived name would start with it.
    forbidden_prefix: Option<&'static str>,
}

fn is_separator(c: char) -> bool {
    !c.is_ascii_alphanumeric()
}

/// Keeps the allowed characters of `part`, replacing the others with `-`, collapsing runs of
/// separators to their first character and trimming separators at both ends.
fn sanitize_part(rules: &Rules, part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        let c = if rules.lowercase {
            c.to_ascii_lowercase()
        } else {
            c
        };
        let c = if (rules.allowed)(c) { c } else { '-' };
        if is_separator(c) && (out.is_empty() || out.ends_with(is_separator)) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with(is_separator) {
        out.pop();
    }
    out
}

/// The one shortening helper behind every `derive`: sanitize and join the parts; when the
/// result is empty, too short or too long, keep what fits and append `-` + a hash of the
/// full logical name.
fn derive_name(rules: &Rules, parts: &[&str]) -> String {
    let logical = parts.join(&rules.separator.to_string());
    let mut body = String::new();
    for clean in parts.iter().map(|p| sanitize_part(rules, p)) {
        if clean.is_empty() {
            continue;
        }
        if !body.is_empty() {
            body.push(rules.separator);
        }
        body.push_str(&clean);
    }
    let budget = rules.max.saturating_sub(rules.prefix.chars().count());
    let len = body.chars().count() + rules.prefix.chars().count();
    if body.is_empty() || len < rules.min || len > rules.max {
        let hash = short_hash(&logical);
        let mut head: String = body
            .chars()
            .take(budget.saturating_sub(hash.len() + 1))
            .collect();
        while head.ends_with(is_separator) {
            head.pop();
        }
        body = if head.is_empty() {
            hash
        } else {
            format!("{head}-{hash}")
        };
    }
    let name = format!("{}{body}", rules.prefix);
    match rules.forbidden_prefix {
        Some(forbidden) => match strip_prefix_ignore_case(&name, forbidden) {
            Some(rest) => {
                let kept = name
                    .get(..forbidden.len().saturating_sub(1))
                    .unwrap_or_default();
                format!("{kept}{rest}")
            }
            None => name,
        },
        None => name,
    }
}

/// Declares a derivable resource name type: the struct, its string conversions and `derive`.
macro_rules! resource_name {
    ($(#[$doc:meta])* $ty:ident, $rules:expr, $validate:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        string_newtype!($ty, $validate);

        impl $ty {
            /// Derives a valid name from logical parts (for example environment, app and
            /// component), deterministically: the same parts always give the same name.
            ///
            /// Characters the name cannot contain become `-`; when the result is too long (or
            /// too short) it is truncated and `-` + 8 hex characters of the SHA-256 of the full
            /// logical name are appended.
            pub fn derive(parts: &[&str]) -> Self {
                Self(derive_name(&$rules, parts))
            }
        }
    };
}

const IDENT_ALLOWED: &str = "1 to 40 characters: lowercase letters a-z, digits and single hyphens, \
     starting with a letter and not ending with a hyphen";

fn validate_ident(s: &str) -> Result<(), InvalidValue> {
    const FIELD: &str = "name";
    check_len(FIELD, s, 1, 40, IDENT_ALLOWED)?;
    check_chars(
        FIELD,
        s,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        IDENT_ALLOWED,
    )?;
    let reason = if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase letter"
    } else if s.ends_with('-') {
        "must not end with a hyphen"
    } else if s.contains("--") {
        "must not contain two hyphens in a row"
    } else {
        return Ok(());
    };
    Err(InvalidValue::new(FIELD, s, reason, IDENT_ALLOWED))
}

/// The name of an environment, app or component, chosen by the user.
///
/// `[a-z][a-z0-9-]*`, at most 40 characters, no trailing hyphen and no `--`: short and plain
/// enough to be part of every AWS resource name derived from it.
///
/// ```rust
/// use fargate_core::Ident;
///
/// let app: Ident = "web-api".parse()?;
/// assert_eq!(app.as_str(), "web-api");
/// assert!("Web_API".parse::<Ident>().is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ident(String);

string_newtype!(Ident, validate_ident);

fn is_ecs_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

const ECS_ALLOWED: &str = "1 to 255 letters, digits, hyphens and underscores";
const ECS_RULES: Rules = Rules {
    min: 1,
    max: 255,
    separator: '-',
    prefix: "",
    lowercase: false,
    allowed: is_ecs_char,
    forbidden_prefix: None,
};

fn validate_ecs(s: &str) -> Result<(), InvalidValue> {
    check_len("ECS name", s, 1, 255, ECS_ALLOWED)?;
    check_chars("ECS name", s, is_ecs_char, ECS_ALLOWED)
}

resource_name!(
    /// The name of an ECS cluster, service or task definition family:
    /// 1–255 letters, digits, hyphens and underscores.
    ///
    /// ```rust
    /// use fargate_core::EcsName;
    ///
    /// assert_eq!(EcsName::derive(&["prod", "web"]).as_str(), "prod-web");
    /// assert!("my service".parse::<EcsName>().is_err());
    /// ```
    EcsName,
    ECS_RULES,
    validate_ecs
);

fn is_elb_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

const ELB_FIELD: &str = "load balancer name";
const ELB_ALLOWED: &str = "1 to 32 letters, digits and hyphens, not starting or ending with a \
     hyphen and not starting with \"internal-\"";
const ELB_RULES: Rules = Rules {
    min: 1,
    max: 32,
    separator: '-',
    prefix: "",
    lowercase: false,
    allowed: is_elb_char,
    forbidden_prefix: Some("internal-"),
};

fn validate_elb(s: &str) -> Result<(), InvalidValue> {
    check_len(ELB_FIELD, s, 1, 32, ELB_ALLOWED)?;
    check_chars(ELB_FIELD, s, is_elb_char, ELB_ALLOWED)?;
    let reason = if s.starts_with('-') || s.ends_with('-') {
        "must not start or end with a hyphen"
    } else if strip_prefix_ignore_case(s, "internal-").is_some() {
        "must not start with \"internal-\""
    } else {
        return Ok(());
    };
    Err(InvalidValue::new(ELB_FIELD, s, reason, ELB_ALLOWED))
}

resource_name!(
    /// The name of a load balancer or target group: 1–32 letters, digits and hyphens, not
    /// starting or ending with a hyphen, not starting with `internal-`.
    ///
    /// ```rust
    /// use fargate_core::ElbName;
    ///
    /// let name = ElbName::derive(&["production", "customer-portal", "public"]);
    /// assert!(name.as_str().len() <= 32); // shortened with a hash
    /// assert_eq!(name, ElbName::derive(&["production", "customer-portal", "public"]));
    /// ```
    ElbName,
    ELB_RULES,
    validate_elb
);

fn is_ecr_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
}

const ECR_FIELD: &str = "ECR repository name";
const ECR_ALLOWED: &str = "2 to 256 characters: lowercase letters and digits, optionally separated \
     by single '.', '_' or '-', in '/'-separated components";
const ECR_RULES: Rules = Rules {
    min: 2,
    max: 256,
    separator: '/',
    prefix: "",
    lowercase: true,
    allowed: is_ecr_char,
    forbidden_prefix: None,
};

/// Why one `/`-separated component of an ECR repository name is invalid, if it is.
fn ecr_component_error(component: &str) -> Option<&'static str> {
    if component.is_empty() {
        return Some("has an empty path component");
    }
    if component.starts_with(is_separator) || component.ends_with(is_separator) {
        return Some("each path component must start and end with a letter or digit");
    }
    let mut previous_separator = false;
    for c in component.chars() {
        let separator = is_separator(c);
        if separator && previous_separator {
            return Some("separators '.', '_' and '-' must not be repeated");
        }
        previous_separator = separator;
    }
    None
}

fn validate_ecr(s: &str) -> Result<(), InvalidValue> {
    check_len(ECR_FIELD, s, 2, 256, ECR_ALLOWED)?;
    check_chars(ECR_FIELD, s, is_ecr_char, ECR_ALLOWED)?;
    match s.split('/').find_map(ecr_component_error) {
        Some(reason) => Err(InvalidValue::new(ECR_FIELD, s, reason, ECR_ALLOWED)),
        None => Ok(()),
    }
}

resource_name!(
    /// The name of an ECR repository: 2–256 lowercase characters matching AWS's
    /// `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
    /// `derive` joins the parts with `/` (a namespace per environment).
    ///
    /// ```rust
    /// use fargate_core::EcrRepositoryName;
    ///
    /// assert_eq!(EcrRepositoryName::derive(&["prod", "Web"]).as_str(), "prod/web");
    /// assert!("team//app".parse::<EcrRepositoryName>().is_err());
    /// ```
    EcrRepositoryName,
    ECR_RULES,
    validate_ecr
);

fn is_log_group_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#')
}

const LOG_FIELD: &str = "log group name";
const LOG_ALLOWED: &str = "1 to 512 letters, digits and the characters . - _ / #";
const LOG_RULES: Rules = Rules {
    min: 1,
    max: 512,
    separator: '/',
    prefix: "/",
    lowercase: false,
    allowed: is_log_group_char,
    forbidden_prefix: None,
};

fn validate_log_group(s: &str) -> Result<(), InvalidValue> {
    check_len(LOG_FIELD, s, 1, 512, LOG_ALLOWED)?;
    check_chars(LOG_FIELD, s, is_log_group_char, LOG_ALLOWED)
}

resource_name!(
    /// The name of a CloudWatch Logs log group: 1–512 of `[.-_/#A-Za-z0-9]`.
    /// `derive` joins the parts with `/` after a leading `/`.
    ///
    /// ```rust
    /// use fargate_core::LogGroupName;
    ///
    /// assert_eq!(LogGroupName::derive(&["fargate", "prod", "web"]).as_str(), "/fargate/prod/web");
    /// ```
    LogGroupName,
    LOG_RULES,
    validate_log_group
);

fn is_iam_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

const IAM_FIELD: &str = "IAM role name";
const IAM_ALLOWED: &str = "1 to 64 letters, digits and the characters _ + = , . @ -";
const IAM_RULES: Rules = Rules {
    min: 1,
    max: 64,
    separator: '-',
    prefix: "",
    lowercase: false,
    allowed: is_iam_char,
    forbidden_prefix: None,
};

fn validate_iam(s: &str) -> Result<(), InvalidValue> {
    check_len(IAM_FIELD, s, 1, 64, IAM_ALLOWED)?;
    check_chars(IAM_FIELD, s, is_iam_char, IAM_ALLOWED)
}

resource_name!(
    /// The name of an IAM role: 1–64 of `[A-Za-z0-9_+=,.@-]`.
    ///
    /// ```rust
    /// use fargate_core::IamRoleName;
    ///
    /// let role = IamRoleName::derive(&["prod", "web", "execution"]);
    /// assert_eq!(role.to_string(), "prod-web-execution");
    /// ```
    IamRoleName,
    IAM_RULES,
    validate_iam
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn idents() {
        for ok in ["a", "prod", "web-api", "a1-b2", &"a".repeat(40)] {
            assert!(ok.parse::<Ident>().is_ok(), "{ok}");
        }
        let cases = [
            ("", "must not be empty"),
            ("1abc", "must start with a lowercase letter"),
            ("abc-", "must not end with a hyphen"),
            ("a--b", "two hyphens"),
            ("Abc", "'A' at position 1"),
            ("a_b", "'_' at position 2"),
        ];
        for (bad, why) in cases {
            let e = bad.parse::<Ident>().unwrap_err();
            assert_eq!(e.field, "name");
            assert!(e.reason.contains(why), "{bad}: {e}");
            assert_eq!(e.allowed, IDENT_ALLOWED);
        }
        assert!(
            "a".repeat(41)
                .parse::<Ident>()
                .unwrap_err()
                .reason
                .contains("maximum is 40")
        );
    }

    #[test]
    fn resource_names_validate() {
        assert!("my_cluster-1".parse::<EcsName>().is_ok());
        assert!("a b".parse::<EcsName>().is_err());
        assert!("x".repeat(256).parse::<EcsName>().is_err());
        assert!("web-1".parse::<ElbName>().is_ok());
        for bad in [
            "-web",
            "web-",
            "internal-web",
            "INTERNAL-web",
            "a_b",
            &"a".repeat(33),
        ] {
            let e = bad.parse::<ElbName>().unwrap_err();
            assert_eq!(e.field, "load balancer name", "{bad}");
        }
        assert!("internalweb".parse::<ElbName>().is_ok());
        for ok in ["ab", "team/app", "a.b_c-d/e1", "nginx"] {
            assert!(ok.parse::<EcrRepositoryName>().is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "A1",
            "team//app",
            "/app",
            "app/",
            "a..b",
            "a-_b",
            "-ab",
            "ab-",
        ] {
            assert!(bad.parse::<EcrRepositoryName>().is_err(), "{bad}");
        }
        assert!("/ecs/prod#1".parse::<LogGroupName>().is_ok());
        assert!("/ecs/prod web".parse::<LogGroupName>().is_err());
        assert!("prod-web+exec@x=1,y.z".parse::<IamRoleName>().is_ok());
        assert!("prod/web".parse::<IamRoleName>().is_err());
    }

    #[test]
    fn derive_joins_and_shortens() {
        assert_eq!(EcsName::derive(&["prod", "web"]).as_str(), "prod-web");
        assert_eq!(
            EcrRepositoryName::derive(&["prod", "web"]).as_str(),
            "prod/web"
        );
        assert_eq!(LogGroupName::derive(&["ecs", "prod"]).as_str(), "/ecs/prod");
        let long = ElbName::derive(&["production", "customer-portal-frontend", "public"]);
        assert_eq!(long.as_str().len(), 32);
        let hash = short_hash("production-customer-portal-frontend-public");
        assert!(long.as_str().ends_with(&format!("-{hash}")), "{long}");
        assert!(long.as_str().starts_with("production-customer-p"), "{long}");
        // Truncation never leaves a hyphen before the hash.
        let n = ElbName::derive(&["abcdefghijklmnopqrstuv", "wxyz"]);
        assert!(!n.as_str().contains("--"), "{n}");
        // Disallowed characters are replaced, forbidden prefixes defused, short names padded.
        assert_eq!(ElbName::derive(&["my_app", "v2"]).as_str(), "my-app-v2");
        assert_eq!(
            ElbName::derive(&["internal", "api"]).as_str(),
            "internalapi"
        );
        assert_eq!(
            EcrRepositoryName::derive(&["a"]).as_str(),
            format!("a-{}", short_hash("a"))
        );
        assert_eq!(EcsName::derive(&[]).as_str(), short_hash(""));
        assert_eq!(
            IamRoleName::derive(&["prod", "web app"]).as_str(),
            "prod-web-app"
        );
    }

    #[test]
    fn serde_round_trip() {
        let name: ElbName = serde_json::from_str("\"prod-web\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"prod-web\"");
        assert!(serde_json::from_str::<ElbName>("\"-bad\"").is_err());
        assert!(serde_json::from_str::<Ident>("\"Bad\"").is_err());
    }

    fn check_derived(parts: &[String]) {
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let ecs = EcsName::derive(&parts);
        assert!(ecs.as_str().parse::<EcsName>().is_ok(), "{ecs}");
        assert_eq!(ecs, EcsName::derive(&parts));
        let elb = ElbName::derive(&parts);
        assert!(elb.as_str().parse::<ElbName>().is_ok(), "{elb}");
        assert_eq!(elb, ElbName::derive(&parts));
        let ecr = EcrRepositoryName::derive(&parts);
        assert!(ecr.as_str().parse::<EcrRepositoryName>().is_ok(), "{ecr}");
        assert_eq!(ecr, EcrRepositoryName::derive(&parts));
        let log = LogGroupName::derive(&parts);
        assert!(log.as_str().parse::<LogGroupName>().is_ok(), "{log}");
        assert_eq!(log, LogGroupName::derive(&parts));
        let iam = IamRoleName::derive(&parts);
        assert!(iam.as_str().parse::<IamRoleName>().is_ok(), "{iam}");
        assert_eq!(iam, IamRoleName::derive(&parts));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_strings_never_panics(s in any::<String>()) {
            let _ = s.parse::<Ident>();
            let _ = s.parse::<EcsName>();
            let _ = s.parse::<ElbName>();
            let _ = s.parse::<EcrRepositoryName>();
            let _ = s.parse::<LogGroupName>();
            let _ = s.parse::<IamRoleName>();
        }

        #[test]
        fn derived_names_are_valid_and_deterministic(parts in prop::collection::vec(any::<String>(), 0..5)) {
            check_derived(&parts);
        }

        #[test]
        fn derived_names_from_name_like_parts(
            parts in prop::collection::vec("[a-zA-Z0-9_./#@ -]{0,120}", 0..6)
        ) {
            check_derived(&parts);
        }

        #[test]
        fn ident_round_trips(s in "[a-z]([a-z0-9]{1,5}-?){0,6}[a-z0-9]") {
            let id = s.parse::<Ident>().unwrap();
            prop_assert_eq!(id.to_string().parse::<Ident>().unwrap(), id);
        }
    }
}
