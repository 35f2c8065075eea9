//! Cron expressions (5 fields: minute hour day-of-month month day-of-week).
//!
//! Each field is parsed by the `cron-parser` crate (`parse_field`). Finding fire times is done
//! here, not by `cron_parser::parse`, because that function does not follow Tripline's DST rules:
//! it skips a local time that falls in a spring-forward gap instead of running it at the end of
//! the gap (see the test `cron_parser_skips_the_gap`), and it only searches four years ahead.
//!
//! Semantics follow crontab(5) (Vixie cron), which is what users of other tools expect:
//! - when day-of-month and day-of-week are both restricted (neither starts with `*`), a day
//!   matches if EITHER matches; otherwise both must;
//! - day-of-week is 0–7 (0 and 7 are Sunday) or `sun`–`sat`; month is 1–12 or `jan`–`dec`;
//! - `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
//!
//! Not supported (rejected with a message): seconds fields, `?`, `L`, `W`, `#`.

use cron_parser::ParseError;

use crate::schedule::wall_clock::{CronDays, Days, TimesOfDay, WallClockPlan};

/// A validated cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expression: String,
    times: TimesOfDay,
    days: CronDays,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// Inclusive range accepted in the text (day-of-week 7 is Sunday again).
    fn range(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Field::Minute => "0-59",
            Field::Hour => "0-23",
            Field::DayOfMonth => "1-31",
            Field::Month => "1-12 or jan-dec",
            Field::DayOfWeek => "0-7 (0 and 7 are Sunday) or sun-sat",
        }
    }
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days in each month in a leap year (index 0 = January), to reject dates that never occur.
const MAX_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl CronSchedule {
    /// Parses and validates `expression`. On failure returns every problem found, each a
    /// sentence for a person (the caller adds the location).
    pub fn parse(expression: &str) -> Result<CronSchedule, Vec<String>> {
        let trimmed = expression.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => {
                return Err(vec![format!(
                    "unknown cron macro `{trimmed}`; expected one of: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
                )])
            }
            _ => trimmed,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(vec![format!(
                "must have 5 fields (minute hour day-of-month month day-of-week), got {}: `{}`",
                fields.len(),
                trimmed
            )]);
        };
        let mut problems = Vec::new();
        let mut field = |f: Field, text: &str| match parse_field(f, text) {
            Ok(bits) => bits,
            Err(message) => {
                problems.push(message);
                0
            }
        };
        let minutes = field(Field::Minute, minute);
        let hours = field(Field::Hour, hour);
        let days_of_month = field(Field::DayOfMonth, dom);
        let months = field(Field::Month, month);
        let days_of_week = field(Field::DayOfWeek, dow);
        if !problems.is_empty() {
            return Err(problems);
        }
        let days = CronDays {
            months: u16::try_from(months).unwrap_or(0),
            days_of_month: u32::try_from(days_of_month).unwrap_or(0),
            days_of_week: u8::try_from(days_of_week).unwrap_or(0),
            dom_star: dom.starts_with('*'),
            dow_star: dow.starts_with('*'),
        };
        // With the AND rule a day-of-month that no chosen month has never fires (e.g. `31 4`).
        if days.dom_star || days.dow_star {
            let possible = (1..=12u32).any(|m| {
                days.months & (1 << m) != 0
                    && MAX_DAYS
                        .get(m as usize - 1)
                        .is_some_and(|&max| (1..=max).any(|d| days.days_of_month & (1 << d) != 0))
            });
            if !possible {
                return Err(vec![format!(
                    "`{trimmed}` never fires: none of its months has any of its days of the month"
                )]);
            }
        }
        Ok(CronSchedule {
            expression: trimmed.to_string(),
            times: TimesOfDay {
                hours: u32::try_from(hours).unwrap_or(0),
                minutes,
            },
            days,
        })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The local date-times this expression fires at.
    pub fn plan(&self) -> WallClockPlan {
        WallClockPlan {
            days: Days::Cron(self.days),
            times: self.times,
        }
    }
}

/// One field to a bit set (bit `v` for value `v`), via `cron_parser::parse_field`.
fn parse_field(field: Field, text: &str) -> Result<u64, String> {
    let (min, max) = field.range();
    let problem = |why: &str| {
        format!(
            "{} field `{}` {}; allowed: {}, `*`, lists `a,b`, ranges `a-b`, steps `*/n` or `a-b/n`",
            field.name(),
            text,
            why,
            field.allowed()
        )
    };
    let names_allowed = matches!(field, Field::Month | Field::DayOfWeek);
    if let Some(bad) = text.chars().find(|c| {
        !(c.is_ascii_digit()
            || matches!(c, '*' | ',' | '-' | '/')
            || (names_allowed && c.is_ascii_alphabetic()))
    }) {
        return Err(problem(&format!("has `{bad}`, which is not supported")));
    }
    let text_numeric = if field == Field::Month {
        replace_month_names(text).ok_or_else(|| problem("has an unknown month name"))?
    } else {
        text.to_string()
    };
    let values = cron_parser::parse_field(&text_numeric, min, max).map_err(|e| {
        problem(match e {
            ParseError::InvalidValue => "has a value or step out of range",
            ParseError::InvalidRange => "has a malformed range (write start-end with start <= end)",
            ParseError::ParseIntError(_) => "is not a number, name or pattern",
            _ => "is not understood",
        })
    })?;
    let mut bits = 0u64;
    for v in values {
        if v < min || v > max {
            return Err(problem("has a value out of range"));
        }
        let v = if field == Field::DayOfWeek && v == 7 {
            0
        } else {
            v
        };
        bits |= 1u64.checked_shl(v).unwrap_or(0);
    }
    if bits == 0 {
        return Err(problem("selects nothing"));
    }
    Ok(bits)
}

/// `jan`..`dec` (any case) to `1`..`12`; `None` if another word is left.
fn replace_month_names(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| -> Option<()> {
        if !word.is_empty() {
            let lower = word.to_ascii_lowercase();
            let n = MONTH_NAMES.iter().position(|m| *m == lower)?;
            out.push_str(&(n + 1).to_string());
            word.clear();
        }
        Some(())
    };
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out)?;
            out.push(c);
        }
    }
    flush(&mut word, &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
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
}
