//! Cron expressions (5 fields: minute hour day-of-month month day-of-week).
//!
//! Each field is read as the `cron-parser` crate's `parse_field` reads it (a property test holds
//! the two equal), but here: that crate's day names go through `str::to_uppercase`, which links
//! `core`'s Unicode uppercase table (with the crate's code, 8.6 KiB of the Worker's gzip) for
//! three ASCII letters. Finding fire times is done here too, not by `cron_parser::parse`,
//! because that function does not follow Tripline's DST rules: it skips a local time that falls
//! in a spring-forward gap instead of running it at the end of the gap (see the test
//! `cron_parser_skips_the_gap`), and it only searches four years ahead.
//!
//! Semantics follow crontab(5) (Vixie cron), which is what users of other tools expect:
//! - when day-of-month and day-of-week are both restricted (neither starts with `*`), a day
//!   matches if EITHER matches; otherwise both must;
//! - day-of-week is 0–7 (0 and 7 are Sunday) or `sun`–`sat`; month is 1–12 or `jan`–`dec`;
//! - `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
//!
//! Not supported (rejected with a message): seconds fields, `?`, `L`, `W`, `#`.

use crate::schedule::wall_clock::{CronDays, Days, TimesOfDay, WallClockPlan};

/// A validated cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expression: String,
    times: TimesOfDay,
    days: CronDays,
    /// The minute or hour field starts with `*` (Vixie cron's "wildcard" job): it fires in
    /// both passes of a repeated (fall-back) hour.
    wildcard_time: bool,
}

/// One of the five fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
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
    pub(crate) fn range(self) -> (u32, u32) {
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

/// The fields in the order they are written.
pub(crate) const FIELDS: [Field; 5] = [
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
];

/// Month names (any case), `jan` = 1.
pub(crate) const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Day-of-week names (any case) as `cron_parser` reads them, `sun` = 0.
pub(crate) const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Days in each month in a leap year (index 0 = January), to reject dates that never occur.
pub(crate) const MAX_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

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
            wildcard_time: minute.starts_with('*') || hour.starts_with('*'),
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
            both_passes: self.wildcard_time,
        }
    }
}

/// One field to a bit set (bit `v` for value `v`).
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
    // One step an item: `*/*/5` is a mistake, not `*/5`.
    if text.split(',').any(|item| item.matches('/').count() > 1) {
        return Err(problem("has an item with more than one step `/`"));
    }
    let text_numeric = if field == Field::Month {
        replace_month_names(text).ok_or_else(|| {
            problem("has an unknown month name (a name is a whole value, never a step)")
        })?
    } else {
        text.to_string()
    };
    let values = field_values(&text_numeric, min, max).map_err(problem)?;
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

/// The values a field selects, in crontab's syntax: lists `a,b` of `*`, `n`, `a-b`, each with
/// an optional step `/s` (`n/s` runs from `n` to the field's end); day names `sun`–`sat` (any
/// case) are 0–6. Why not, when it cannot be read.
fn field_values(text: &str, min: u32, max: u32) -> Result<Vec<u32>, &'static str> {
    const OUT_OF_RANGE: &str = "has a value or step out of range";
    const BAD_RANGE: &str = "has a malformed range (write start-end with start <= end)";
    const NOT_A_NUMBER: &str = "is not a number, name or pattern";
    let value = |s: &str| -> Result<u32, &'static str> {
        if let Some(day) = DAY_NAMES.iter().position(|d| d.eq_ignore_ascii_case(s)) {
            return Ok(day as u32);
        }
        match s.parse::<u32>() {
            Ok(v) if v < min || v > max => Err(OUT_OF_RANGE),
            Ok(v) => Ok(v),
            Err(_) => Err(NOT_A_NUMBER),
        }
    };
    let mut values = Vec::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match step.parse::<u32>() {
                Ok(0) => return Err(OUT_OF_RANGE),
                Ok(s) if s > max => return Err(OUT_OF_RANGE),
                Ok(s) => (range, s),
                Err(_) => return Err(NOT_A_NUMBER),
            },
            None => (item, 1),
        };
        let (start, end) = match range.split_once('-') {
            _ if range == "*" => (min, max),
            Some((_, b)) if b.contains('-') => return Err(BAD_RANGE),
            Some((a, b)) => match (value(a)?, value(b)?) {
                (a, b) if a > b => return Err(BAD_RANGE),
                ends => ends,
            },
            None if item.contains('/') => (value(range)?, max),
            None => (value(range)?, value(range)?),
        };
        values.extend((start..=end).step_by(step as usize));
    }
    Ok(values)
}

/// `jan`..`dec` (any case) to `1`..`12` where a value is written; `None` for another word, a
/// name joined to digits (`jan1`) or a name as a step (`*/feb`).
fn replace_month_names(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut separator = None;
    loop {
        let end = rest.find([',', '-', '/']).unwrap_or(rest.len());
        let (token, tail) = rest.split_at(end);
        if token.chars().any(|c| c.is_ascii_alphabetic()) {
            if separator == Some('/') {
                return None;
            }
            let n = MONTH_NAMES
                .iter()
                .position(|m| m.eq_ignore_ascii_case(token))?;
            out.push_str(&(n + 1).to_string());
        } else {
            out.push_str(token);
        }
        let mut chars = tail.chars();
        separator = chars.next();
        match separator {
            Some(c) => out.push(c),
            None => return Some(out),
        }
        rest = chars.as_str();
    }
}

#[cfg(test)]
mod tests;
