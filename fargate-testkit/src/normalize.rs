//! Making rendered plans and outputs comparable across runs, for snapshot tests: what moto (or
//! AWS) generates differently each time becomes a stable placeholder.
//!
//! - the literal strings you name ([`Normalizer::replace`]), for example the test's random
//!   account id ([`Normalizer::account`]) or a secret's ARN with its random suffix;
//! - generated EC2 and API ids (`vpc-0abc…`, `subnet-…`, `sg-…`, `igw-…`, `rtb-…`, `nat-…`,
//!   `eipalloc-…`, `eni-…`, `vpce-…`, `acl-…`): `vpc-<1>`, `subnet-<2>`, … numbered by first
//!   appearance, so that the same id keeps the same placeholder and different ids stay apart;
//! - the random hex parts of ARNs (an ALB's `/app/<name>/<16 hex>`, a listener's), 16 hex
//!   digits or more after a `/`: `<hex-1>`, …;
//! - timestamps (`2026-01-02T03:04:05…`): `<time>`.
//!
//! ```
//! use fargate_testkit::Normalizer;
//! let n = Normalizer::new().account("987654321098");
//! let text = "arn:aws:iam::987654321098:role/x vpc-1a2b3c4d subnet-0f0f0f0f vpc-1a2b3c4d";
//! assert_eq!(
//!     n.normalize(text),
//!     "arn:aws:iam::<account>:role/x vpc-<1> subnet-<2> vpc-<1>"
//! );
//! ```

use std::collections::HashMap;

/// The id prefixes of generated AWS ids ([`Normalizer`]).
pub const GENERATED_ID_PREFIXES: &[&str] = &[
    "vpc", "subnet", "sg", "igw", "rtb", "nat", "eipalloc", "eni", "vpce", "acl", "rtbassoc",
];

/// Replaces what differs from run to run by stable placeholders; see [the module](self).
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    literals: Vec<(String, String)>,
}

impl Normalizer {
    /// A normalizer of generated ids, ARN hex parts and timestamps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also replace the 12-digit account `id` by `<account>`.
    #[must_use]
    pub fn account(self, id: &str) -> Self {
        self.replace(id, "<account>")
    }

    /// Also replace every `literal` by `with` (done first, longest literal first).
    #[must_use]
    pub fn replace(mut self, literal: &str, with: &str) -> Self {
        if !literal.is_empty() {
            self.literals.push((literal.to_string(), with.to_string()));
            self.literals
                .sort_by_key(|(l, _)| std::cmp::Reverse(l.len()));
        }
        self
    }

    /// `text` with every run-specific part replaced.
    pub fn normalize(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (literal, with) in &self.literals {
            s = s.replace(literal, with);
        }
        let mut numbers: HashMap<String, usize> = HashMap::new();
        let mut number = |kind: &str, value: &str| -> String {
            let next = numbers.len() + 1;
            let n = *numbers.entry(format!("{kind}:{value}")).or_insert(next);
            n.to_string()
        };
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < chars.len() {
            let boundary = i == 0 || !(is_word(chars[i - 1]) || chars[i - 1] == '-');
            if boundary && let Some((prefix, end)) = generated_id(&chars, i) {
                let value: String = chars[i..end].iter().collect();
                out.push_str(&format!("{prefix}-<{}>", number("id", &value)));
                i = end;
                continue;
            }
            if chars[i] == '/' {
                let end = hex_run(&chars, i + 1);
                if end - (i + 1) >= 16 && (end == chars.len() || !is_word(chars[end])) {
                    let value: String = chars[i + 1..end].iter().collect();
                    out.push_str(&format!("/<hex-{}>", number("hex", &value)));
                    i = end;
                    continue;
                }
            }
            if boundary && let Some(end) = timestamp(&chars, i) {
                out.push_str("<time>");
                i = end;
                continue;
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn hex_run(chars: &[char], from: usize) -> usize {
    let mut j = from;
    while j < chars.len() && chars[j].is_ascii_hexdigit() && !chars[j].is_ascii_uppercase() {
        j += 1;
    }
    j
}

/// `<prefix>-<8 to 17 lowercase hex digits>` at `i`, not followed by a word character.
fn generated_id(chars: &[char], i: usize) -> Option<(&'static str, usize)> {
    for prefix in GENERATED_ID_PREFIXES {
        let p: Vec<char> = prefix.chars().collect();
        let dash = i + p.len();
        if chars.len() > dash && chars[i..dash] == p[..] && chars[dash] == '-' {
            let end = hex_run(chars, dash + 1);
            let n = end - (dash + 1);
            if (8..=17).contains(&n) && (end == chars.len() || !is_word(chars[end])) {
                return Some((prefix, end));
            }
        }
    }
    None
}

/// `YYYY-MM-DDTHH:MM:SS` and what follows of it (fraction, offset, `Z`) at `i`.
fn timestamp(chars: &[char], i: usize) -> Option<usize> {
    let pattern = "dddd-dd-ddTdd:dd:dd";
    let p: Vec<char> = pattern.chars().collect();
    if chars.len() < i + p.len() {
        return None;
    }
    for (k, pc) in p.iter().enumerate() {
        let c = chars[i + k];
        let ok = if *pc == 'd' {
            c.is_ascii_digit()
        } else {
            c == *pc
        };
        if !ok {
            return None;
        }
    }
    let mut end = i + p.len();
    while end < chars.len()
        && (chars[end].is_ascii_digit() || matches!(chars[end], '.' | ':' | '+' | '-' | 'Z'))
    {
        end += 1;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_hex_arn_parts_and_timestamps_become_placeholders() {
        let n = Normalizer::new()
            .account("111122223333")
            .replace("secret:db-AbCdEf", "secret:db-<suffix>");
        let text = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/e-alb/50dc6c495c0c9188 \
                    listener/app/e-alb/50dc6c495c0c9188/f2f7dc8efc522ab2 sg-0123456789abcdef0 sg-0123456789abcdef0 \
                    at 2026-12-02T15:04:05.123Z arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
        assert_eq!(
            n.normalize(text),
            "arn:aws:elasticloadbalancing:us-east-1:<account>:loadbalancer/app/e-alb/<hex-1> \
             listener/app/e-alb/<hex-1>/<hex-2> sg-<3> sg-<3> \
             at <time> arn:aws:secretsmanager:us-east-1:<account>:secret:db-<suffix>"
        );
    }

    #[test]
    fn words_that_only_look_like_ids_are_kept() {
        let n = Normalizer::new();
        for text in [
            "ec2:security-group e/web-sg",
            "my-vpc-1a2b3c4d",
            "vpc-123",
            "vpc-1a2b3c4dzz",
            "task-definition/e-web:1",
            "/short0123",
            "2026-12-02",
        ] {
            assert_eq!(n.normalize(text), text);
        }
    }
}
