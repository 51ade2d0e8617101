//! Container image references ([`ImageRef`]).

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::names::EcrRepositoryName;
use crate::validate::{is_account_id, is_region, parse_digits, string_conversions};

const FIELD: &str = "image";
const ALLOWED: &str = "[registry/]repository[:tag][@sha256:<64 hex digits>]: repository path \
     components of lowercase letters and digits separated by '.', '_', '__' or '-', a tag of up \
     to 128 letters, digits, '_', '.' and '-' not starting with '.' or '-'";

/// A container image reference, `[registry/]repository[:tag][@sha256:<digest>]`, parsed with
/// the Docker reference grammar.
///
/// The first path component is the registry when it contains `.` or `:`, is `localhost`, or
/// has uppercase letters (as Docker decides); otherwise the image is on Docker Hub and
/// [`registry`](Self::registry) is `None`. The reference is kept as given: `nginx` is not
/// expanded to `docker.io/library/nginx`, and `Display` shows it unchanged.
///
/// A reference with neither tag nor digest is accepted; ECS then pulls `:latest`, which can
/// change under a running service. [`is_pinned`](Self::is_pinned) tells whether a digest fixes
/// the exact image.
///
/// ```rust
/// use fargate_core::ImageRef;
///
/// let image: ImageRef = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web:v42".parse()?;
/// assert!(image.is_ecr());
/// assert_eq!(image.ecr_account(), Some("123456789012"));
/// assert_eq!(image.ecr_region(), Some("eu-west-1"));
/// assert_eq!(image.repository(), "prod/web");
/// assert_eq!(image.tag(), Some("v42"));
///
/// let hub: ImageRef = "nginx".parse()?;
/// assert_eq!((hub.registry(), hub.tag(), hub.is_pinned()), (None, None, false));
/// assert_eq!(hub.with_tag("1.27")?.to_string(), "nginx:1.27");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn bad(value: &str, reason: impl Into<String>) -> InvalidValue {
    InvalidValue::new(FIELD, value, reason, ALLOWED)
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn tag_error(tag: &str) -> Option<&'static str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if tag.is_empty() {
        Some("the tag after ':' is empty")
    } else if tag.len() > 128 {
        Some("the tag is longer than 128 characters")
    } else if !tag.starts_with(word) {
        Some("the tag must start with a letter, digit or '_'")
    } else if !tag.chars().all(|c| word(c) || c == '.' || c == '-') {
        Some("the tag may contain only letters, digits, '_', '.' and '-'")
    } else {
        None
    }
}

/// `sha256:` followed by 64 lowercase hex digits.
fn digest_error(digest: &str) -> Option<&'static str> {
    match digest.strip_prefix("sha256:") {
        None => Some("the digest must start with \"sha256:\""),
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            None
        }
        Some(_) => Some("the digest must be 64 lowercase hex digits after \"sha256:\""),
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`, components joined by `/`.
fn repository_error(repository: &str) -> Option<&'static str> {
    for component in repository.split('/') {
        if component.is_empty() {
            return Some("the repository has an empty path component");
        }
        if !component
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Some(
                "the repository may contain only lowercase letters, digits, '.', '_', '-' and '/'",
            );
        }
        let separators = component
            .split(|c: char| c.is_ascii_alphanumeric())
            .filter(|s| !s.is_empty());
        let edge = |c: char| !c.is_ascii_alphanumeric();
        if component.starts_with(edge) || component.ends_with(edge) {
            return Some(
                "each repository path component must start and end with a letter or digit",
            );
        }
        for sep in separators {
            if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-')) {
                return Some("separators in the repository must be '.', '_', '__' or hyphens");
            }
        }
    }
    None
}

/// `host[:port]`, host a domain name, an IPv4 address or a bracketed IPv6 address.
fn registry_error(registry: &str) -> Option<&'static str> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Some("the registry's IPv6 address is missing its ']'");
        };
        if ip.parse::<Ipv6Addr>().is_err() {
            return Some("the registry's IPv6 address is not valid");
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Some("unexpected characters after the registry's IPv6 address"),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(port) = port
        && parse_digits(port)
            .and_then(|p| u16::try_from(p).ok())
            .is_none()
    {
        return Some("the registry's port is not a number from 0 to 65535");
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    match host {
        Some(host) if !host.split('.').all(label_ok) => Some(
            "the registry host must be dot-separated labels of letters, digits and inner hyphens",
        ),
        _ => None,
    }
}

impl ImageRef {
    /// The image `repository:tag` in the ECR registry of `account` in `region`
    /// (`<account>.dkr.ecr.<region>.amazonaws.com`, `.amazonaws.com.cn` in China regions).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `account` (not 12 digits), `region`, `ECR repository name`
    /// or `image` (a bad tag).
    pub fn ecr(
        account: &str,
        region: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Self, InvalidValue> {
        if !is_account_id(account) {
            return Err(InvalidValue::new(
                "account",
                account,
                "not an AWS account id",
                "12 digits",
            ));
        }
        if !is_region(region) {
            return Err(InvalidValue::new(
                "region",
                region,
                "not an AWS region code",
                "a region code such as us-east-1",
            ));
        }
        let repository = EcrRepositoryName::new(repository)?;
        if let Some(reason) = tag_error(tag) {
            return Err(bad(tag, reason));
        }
        let suffix = if region.starts_with("cn-") { ".cn" } else { "" };
        Ok(ImageRef {
            registry: Some(format!("{account}.dkr.ecr.{region}.amazonaws.com{suffix}")),
            repository: repository.into(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// The registry host (and port), `None` for Docker Hub images given without one.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path, for example `library/nginx` or `prod/web`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:<64 hex>`), if one was given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether a digest fixes the exact image. A tag, even an ECR immutable one, names the
    /// image by a label; without tag or digest ECS pulls `:latest`.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }

    /// The registry and repository without tag or digest, as in `registry/repository`.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// `(account, region)` when the registry is an ECR private registry.
    fn ecr_parts(&self) -> Option<(&str, &str)> {
        let registry = self.registry.as_deref()?;
        let rest = registry
            .strip_suffix(".amazonaws.com")
            .or_else(|| registry.strip_suffix(".amazonaws.com.cn"))?;
        let (account, rest) = rest.split_once(".dkr.ecr.")?;
        (is_account_id(account) && is_region(rest)).then_some((account, rest))
    }

    /// Whether the image is in an ECR private registry
    /// (`<12 digits>.dkr.ecr.<region>.amazonaws.com[.cn]`).
    pub fn is_ecr(&self) -> bool {
        self.ecr_parts().is_some()
    }

    /// The account of the ECR registry, when [`is_ecr`](Self::is_ecr).
    pub fn ecr_account(&self) -> Option<&str> {
        self.ecr_parts().map(|(account, _)| account)
    }

    /// The region of the ECR registry, when [`is_ecr`](Self::is_ecr).
    pub fn ecr_region(&self) -> Option<&str> {
        self.ecr_parts().map(|(_, region)| region)
    }

    /// The same image with tag `tag` and no digest (a digest would pin another image than
    /// the one the new tag names).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `image` when `tag` is not a valid tag.
    pub fn with_tag(&self, tag: &str) -> Result<Self, InvalidValue> {
        if let Some(reason) = tag_error(tag) {
            return Err(bad(tag, reason));
        }
        Ok(ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same image pinned to `digest` (`sha256:<64 hex>`), keeping the tag for readers.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `image` when `digest` is not a sha256 digest.
    pub fn with_digest(&self, digest: &str) -> Result<Self, InvalidValue> {
        if let Some(reason) = digest_error(digest) {
            return Err(bad(digest, reason));
        }
        Ok(ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(bad(s, "must not be empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (s, None),
        };
        if let Some(reason) = digest.and_then(digest_error) {
            return Err(bad(s, reason));
        }
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
            _ => (rest, None),
        };
        if let Some(reason) = tag.and_then(tag_error) {
            return Err(bad(s, reason));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, repo))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (Some(first), repo)
            }
            _ => (None, name),
        };
        if let Some(reason) = registry.and_then(registry_error) {
            return Err(bad(s, reason));
        }
        if repository.is_empty() {
            return Err(bad(s, "the repository is empty"));
        }
        if let Some(reason) = repository_error(repository) {
            return Err(bad(s, reason));
        }
        if name.len() > 255 {
            return Err(bad(
                s,
                "the registry and repository are longer than 255 characters",
            ));
        }
        Ok(ImageRef {
            registry: registry.map(str::to_string),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }
}

string_conversions!(ImageRef);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(s: &str) -> (Option<String>, String, Option<String>, Option<String>) {
        let i: ImageRef = s.parse().unwrap();
        assert_eq!(i.to_string(), s);
        let own = |o: Option<&str>| o.map(str::to_string);
        (
            own(i.registry()),
            i.repository().to_string(),
            own(i.tag()),
            own(i.digest()),
        )
    }

    #[test]
    fn docker_grammar() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(parts("nginx"), (None, "nginx".into(), None, None));
        assert_eq!(
            parts("library/nginx:1.27"),
            (None, "library/nginx".into(), some("1.27"), None)
        );
        assert_eq!(
            parts("localhost:5000/app"),
            (some("localhost:5000"), "app".into(), None, None)
        );
        assert_eq!(
            parts("localhost/app:v1"),
            (some("localhost"), "app".into(), some("v1"), None)
        );
        assert_eq!(parts("ghcr.io/org/app_x__y--z.1:latest").0, some("ghcr.io"));
        assert_eq!(parts("[::1]:5000/app").0, some("[::1]:5000"));
        assert_eq!(parts("Registry/app").0, some("Registry"));
        let pinned = format!("public.ecr.aws/nginx/nginx:1.27@{DIGEST}");
        assert_eq!(parts(&pinned).3, some(DIGEST));
        assert!(pinned.parse::<ImageRef>().unwrap().is_pinned());
        assert_eq!(parts(&format!("app@{DIGEST}")).2, None);
        // "localhost:5000" alone is repository "localhost" with tag "5000", as in Docker.
        assert_eq!(
            parts("localhost:5000"),
            (None, "localhost".into(), some("5000"), None)
        );
    }

    #[test]
    fn rejects() {
        let cases = [
            ("", "empty"),
            ("Nginx", "lowercase"),
            ("nginx:", "tag after ':' is empty"),
            ("nginx:-x", "tag must start"),
            ("nginx:a+b", "tag may contain"),
            ("nginx@sha256:abc", "64 lowercase hex"),
            ("nginx@md5:abc", "sha256:"),
            ("a//b", "empty path component"),
            ("a/-b", "start and end"),
            ("a..b", "separators"),
            ("a___b", "separators"),
            ("bad_host.com:x/app", "port"),
            ("-bad.com/app", "registry host"),
            ("[::zz]/app", "IPv6"),
            ("ghcr.io/", "repository is empty"),
            ("a b", "lowercase"),
        ];
        for (bad, why) in cases {
            let e = bad.parse::<ImageRef>().unwrap_err();
            assert_eq!(e.field, "image", "{bad}");
            assert!(e.reason.contains(why), "{bad}: {e}");
        }
        let long = format!("{}:{}", "a".repeat(10), "t".repeat(129));
        assert!(long.parse::<ImageRef>().is_err());
        assert!("a".repeat(256).parse::<ImageRef>().is_err());
    }

    #[test]
    fn ecr() {
        let image = ImageRef::ecr("123456789012", "cn-north-1", "prod/web", "v1").unwrap();
        assert_eq!(
            image.to_string(),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/prod/web:v1"
        );
        assert_eq!(image.ecr_region(), Some("cn-north-1"));
        assert_eq!(image.ecr_account(), Some("123456789012"));
        assert!(!"ghcr.io/a/b".parse::<ImageRef>().unwrap().is_ecr());
        assert!(
            !"12345.dkr.ecr.us-east-1.amazonaws.com/a"
                .parse::<ImageRef>()
                .unwrap()
                .is_ecr()
        );
        assert_eq!(
            ImageRef::ecr("1234", "us-east-1", "a/b", "v1")
                .unwrap_err()
                .field,
            "account"
        );
        assert_eq!(
            ImageRef::ecr("123456789012", "moon", "ab", "v1")
                .unwrap_err()
                .field,
            "region"
        );
        let e = ImageRef::ecr("123456789012", "us-east-1", "Web", "v1").unwrap_err();
        assert_eq!(e.field, "ECR repository name");
        assert_eq!(
            ImageRef::ecr("123456789012", "us-east-1", "ab", ".x")
                .unwrap_err()
                .field,
            "image"
        );
    }

    #[test]
    fn with_tag_and_digest() {
        let image: ImageRef = format!("app:v1@{DIGEST}").parse().unwrap();
        assert_eq!(image.with_tag("v2").unwrap().to_string(), "app:v2");
        assert!(image.with_tag("bad tag").is_err());
        let pinned = "app:v1"
            .parse::<ImageRef>()
            .unwrap()
            .with_digest(DIGEST)
            .unwrap();
        assert_eq!(pinned, image);
        assert!(image.with_digest("sha256:xyz").is_err());
        let json = serde_json::to_string(&image).unwrap();
        assert_eq!(serde_json::from_str::<ImageRef>(&json).unwrap(), image);
        assert!(serde_json::from_str::<ImageRef>("\"Bad\"").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = s.parse::<ImageRef>();
        }

        #[test]
        fn reference_like_strings_never_panic(s in "[a-zA-Z0-9:/@._\\[\\]-]{0,40}") {
            if let Ok(image) = s.parse::<ImageRef>() {
                prop_assert_eq!(image.to_string(), s);
            }
        }

        #[test]
        fn round_trips(
            registry in prop::option::of("[a-z0-9]{1,8}\\.[a-z]{2,5}(:[0-9]{1,4})?"),
            // Without a registry, a first component with '.' would be read as a registry.
            repo in "[a-z0-9]{1,8}((__|_|-{1,2})[a-z0-9]{1,8}){0,2}(/[a-z0-9]{1,8}((__|[._]|-{1,2})[a-z0-9]{1,8}){0,2}){0,2}",
            tag in prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            digest in prop::option::of("[0-9a-f]{64}"),
        ) {
            let mut s = registry.map(|r| format!("{r}/")).unwrap_or_default();
            s.push_str(&repo);
            if let Some(t) = tag { s.push(':'); s.push_str(&t); }
            if let Some(d) = digest { s.push_str("@sha256:"); s.push_str(&d); }
            let image: ImageRef = s.parse().unwrap();
            prop_assert_eq!(image.to_string(), s.clone());
            prop_assert_eq!(image.to_string().parse::<ImageRef>().unwrap(), image);
        }
    }
}
