use super::*;
use chrono::{NaiveDate, NaiveDateTime};

fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_opt(h, mi, 0))
        .expect("valid test date")
}

fn next(expr: &str, after: NaiveDateTime) -> Option<NaiveDateTime> {
    CronSchedule::parse(expr)
        .expect("valid")
        .plan()
        .next_after(after)
}

fn err(expr: &str) -> String {
    CronSchedule::parse(expr).expect_err("invalid").join(" | ")
}

#[test]
fn every_five_minutes() {
    assert_eq!(
        next("*/5 * * * *", dt(2026, 1, 1, 10, 2)),
        Some(dt(2026, 1, 1, 10, 5))
    );
    assert_eq!(
        next("*/5 * * * *", dt(2026, 1, 1, 10, 5)),
        Some(dt(2026, 1, 1, 10, 10))
    );
    assert_eq!(
        next("*/5 * * * *", dt(2026, 12, 31, 23, 58)),
        Some(dt(2027, 1, 1, 0, 0))
    );
}

#[test]
fn weekdays_at_nine_with_names() {
    // 2026-01-02 is a Friday; next weekday 09:00 after Fri 10:00 is Mon 01-05.
    assert_eq!(
        next("0 9 * * mon-fri", dt(2026, 1, 2, 10, 0)),
        Some(dt(2026, 1, 5, 9, 0))
    );
    assert_eq!(
        next("0 9 * * 1-5", dt(2026, 1, 2, 8, 0)),
        Some(dt(2026, 1, 2, 9, 0))
    );
}

#[test]
fn sunday_is_zero_or_seven() {
    // 2026-01-04 is a Sunday.
    assert_eq!(
        next("0 0 * * 7", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 1, 4, 0, 0))
    );
    assert_eq!(
        next("0 0 * * 0", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 1, 4, 0, 0))
    );
    assert_eq!(
        next("0 0 * * SUN", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 1, 4, 0, 0))
    );
}

#[test]
fn month_names_and_last_day_of_month() {
    assert_eq!(
        next("30 12 31 dec *", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 12, 31, 12, 30))
    );
    assert_eq!(
        next("0 0 31 * *", dt(2026, 4, 1, 0, 0)),
        Some(dt(2026, 5, 31, 0, 0))
    );
    assert_eq!(
        next("0 0 1 Jan-Mar/2 *", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 3, 1, 0, 0))
    );
}

#[test]
fn leap_day_every_four_years_and_across_2100() {
    assert_eq!(
        next("0 0 29 2 *", dt(2026, 1, 1, 0, 0)),
        Some(dt(2028, 2, 29, 0, 0))
    );
    assert_eq!(
        next("0 0 29 2 *", dt(2096, 2, 29, 0, 0)),
        Some(dt(2104, 2, 29, 0, 0))
    );
}

#[test]
fn dom_and_dow_both_restricted_is_or() {
    // The 13th OR a Friday: after Thu 2026-02-12 comes Fri 02-13 (both), then Fri 02-20.
    let after = dt(2026, 2, 13, 0, 0);
    assert_eq!(next("0 0 13 * 5", after), Some(dt(2026, 2, 20, 0, 0)));
    // 2026-01-13 is a Tuesday, before Friday 01-16.
    assert_eq!(
        next("0 0 13 * 5", dt(2026, 1, 10, 0, 0)),
        Some(dt(2026, 1, 13, 0, 0))
    );
    // `*/2` counts as star (Vixie): odd days AND Mondays.
    assert_eq!(
        next("0 0 */2 * 1", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 1, 5, 0, 0))
    );
}

#[test]
fn rare_and_combined_fields() {
    // With `*/1` for day-of-month (a star) the AND rule applies: Mondays in February.
    assert_eq!(
        next("0 0 */1 2 1", dt(2026, 1, 1, 0, 0)),
        Some(dt(2026, 2, 2, 0, 0))
    );
    assert_eq!(
        next("15,45 8-10/2 * * *", dt(2026, 1, 1, 8, 45)),
        Some(dt(2026, 1, 1, 10, 15))
    );
}

#[test]
fn macros() {
    assert_eq!(
        next("@hourly", dt(2026, 1, 1, 8, 45)),
        Some(dt(2026, 1, 1, 9, 0))
    );
    assert_eq!(
        next("@monthly", dt(2026, 1, 1, 8, 45)),
        Some(dt(2026, 2, 1, 0, 0))
    );
    assert_eq!(
        next(" @Daily ", dt(2026, 1, 1, 8, 45)),
        Some(dt(2026, 1, 2, 0, 0))
    );
    assert!(err("@reboot").contains("unknown cron macro"));
}

#[test]
fn field_errors_name_the_field() {
    assert!(err("* * *").contains("must have 5 fields"));
    assert!(err("* * * * * *").contains("got 6"));
    assert!(err("61 * * * *").starts_with("minute field `61`"));
    assert!(err("* 24 * * *").starts_with("hour field `24`"));
    assert!(err("* * 0 * *").starts_with("day-of-month field `0`"));
    assert!(err("* * * 13 *").starts_with("month field `13`"));
    assert!(err("* * * foo *").contains("unknown month name"));
    assert!(err("* * * * 8").starts_with("day-of-week field `8`"));
    assert!(err("* * * * mon-funday").starts_with("day-of-week field"));
    assert!(err("*/0 * * * *").contains("out of range"));
    assert!(err("5-1 * * * *").contains("malformed range"));
    assert!(err("? * * * *").contains("`?`"));
    assert!(err("* * L * *").contains("`L`"));
    assert!(err("+5 * * * *").contains("`+`"));
    assert!(err(", * * * *").contains("selects nothing"));
    // Names of weekdays are not numbers elsewhere (cron-parser would read `sun` as 0).
    assert!(err("sun * * * *").starts_with("minute field"));
    // Two bad fields: both reported.
    assert_eq!(
        CronSchedule::parse("99 99 * * *")
            .expect_err("invalid")
            .len(),
        2
    );
}

#[test]
fn impossible_dates_are_rejected() {
    assert!(err("0 0 31 4,6,9,11 *").contains("never fires"));
    assert!(err("0 0 30 feb *").contains("never fires"));
    assert!(CronSchedule::parse("0 0 29 2 *").is_ok());
    // With both day fields restricted the weekday still fires.
    assert!(CronSchedule::parse("0 0 31 4 1").is_ok());
}

#[test]
fn previous_fire_time() {
    let plan = CronSchedule::parse("0 9 * * 1-5").expect("valid").plan();
    // Sunday 2026-01-04 → previous is Friday 01-02 09:00.
    assert_eq!(
        plan.last_at_or_before(dt(2026, 1, 4, 12, 0)),
        Some(dt(2026, 1, 2, 9, 0))
    );
}

/// Documents why `cron_parser::parse` is not used for fire times: in a spring-forward gap it
/// skips the day (Tripline runs at the end of the gap instead; see `schedule` tests).
#[test]
fn cron_parser_skips_the_gap() {
    use chrono::{TimeZone, Utc};
    use chrono_tz::America::New_York;
    let before = New_York
        .with_ymd_and_hms(2026, 3, 7, 12, 0, 0)
        .single()
        .expect("valid");
    let next = cron_parser::parse("30 2 * * *", &before).expect("parses");
    assert_eq!(
        next.with_timezone(&Utc),
        Utc.with_ymd_and_hms(2026, 3, 9, 6, 30, 0)
            .single()
            .expect("valid")
    );
}

/// A month name is a whole value: not joined to digits (`jan1` was read as `11`), not a step.
#[test]
fn month_names_are_whole_values() {
    assert!(CronSchedule::parse("0 0 1 jan,Mar-may *").is_ok());
    assert!(CronSchedule::parse("0 0 1 feb/3 *").is_ok());
    for bad in ["jan1", "1jan", "*/feb", "1-12/feb", "janfeb"] {
        let problems = CronSchedule::parse(&format!("0 0 1 {bad} *")).expect_err(bad);
        assert!(problems[0].contains("month field"), "{bad}: {problems:?}");
    }
}

/// `cron_parser` strips every leading `*/`; an item has at most one step.
#[test]
fn an_item_has_one_step() {
    assert!(CronSchedule::parse("*/5 * * * *").is_ok());
    for bad in ["*/*/5", "1/2/3", "*/5/5"] {
        let problems = CronSchedule::parse(&format!("{bad} * * * *")).expect_err(bad);
        assert!(
            problems[0].contains("more than one step"),
            "{bad}: {problems:?}"
        );
    }
}

/// The reading `cron_parser::parse_field` gives, as `field_values` words its errors.
fn cron_parser_reading(text: &str, min: u32, max: u32) -> Result<Vec<u32>, &'static str> {
    use cron_parser::ParseError;
    cron_parser::parse_field(text, min, max)
        .map(|set| set.into_iter().collect())
        .map_err(|e| match e {
            ParseError::InvalidValue => "has a value or step out of range",
            ParseError::InvalidRange => "has a malformed range (write start-end with start <= end)",
            _ => "is not a number, name or pattern",
        })
}

proptest::proptest! {
    /// Fields as the caller passes them (an item has at most one `/`): the same values, or the
    /// same problem, as `cron_parser::parse_field`.
    #[test]
    fn fields_read_as_cron_parser_reads_them(
        items in proptest::collection::vec(
            "(\\*|[0-9]{0,2}|mon|SUN|Fri|x)(-(\\*|[0-9]{0,2}|tue|SaT)){0,2}(/[0-9]{0,2}|/\\*)?",
            1..4,
        ),
        range in proptest::sample::select(vec![(0u32, 59u32), (0, 23), (1, 31), (1, 12), (0, 7)]),
    ) {
        let text = items.join(",");
        let (min, max) = range;
        let mut ours = field_values(&text, min, max);
        if let Ok(values) = &mut ours {
            values.sort_unstable();
            values.dedup();
        }
        proptest::prop_assert_eq!(ours, cron_parser_reading(&text, min, max), "{}", text);
    }
}

#[test]
fn fields_read_as_cron_parser_reads_them_at_the_edges() {
    for text in [
        "*", "*/5", "*/0", "*/60", "5/15", "1-5", "5-1", "1-2-3", "-5", "5-", "", ",", "1,,2",
        "mon-fri", "MON", "sun/2", "*-5", "1-5/2", "1-5/0", "7", "60", "/5", "5/", "x",
    ] {
        for (min, max) in [(0, 59), (0, 7), (1, 12), (1, 31)] {
            let mut ours = field_values(text, min, max);
            if let Ok(v) = &mut ours {
                v.sort_unstable();
                v.dedup();
            }
            assert_eq!(
                ours,
                cron_parser_reading(text, min, max),
                "{text} in {min}-{max}"
            );
        }
    }
}

#[test]
fn field_values_of_each_form() {
    assert_eq!(field_values("1-5/2", 0, 59), Ok(vec![1, 3, 5]));
    assert_eq!(field_values("50/4", 0, 59), Ok(vec![50, 54, 58]));
    assert_eq!(field_values("*/6", 0, 23), Ok(vec![0, 6, 12, 18]));
    assert_eq!(field_values("Mon-wed,SUN", 0, 7), Ok(vec![1, 2, 3, 0]));
    assert_eq!(field_values("3,1", 1, 12), Ok(vec![3, 1]));
    assert_eq!(
        field_values("13", 1, 12),
        Err("has a value or step out of range")
    );
    assert_eq!(
        field_values("5-1", 0, 59),
        Err("has a malformed range (write start-end with start <= end)")
    );
    assert_eq!(
        field_values("1-x", 0, 59),
        Err("is not a number, name or pattern")
    );
}
