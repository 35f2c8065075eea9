//! A wall-clock schedule as a plan of local date-times: which days, and which times on those
//! days. `hourly`, `daily`, `weekly` and `cron` all become a `WallClockPlan`; the plan only knows
//! local (naive) time, and `zone` turns its times into instants.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Times of day at whole minutes: a set of hours and a set of minutes (every combination).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimesOfDay {
    /// Bit `h` set for hour `h` (0..=23).
    pub hours: u32,
    /// Bit `m` set for minute `m` (0..=59).
    pub minutes: u64,
}

const ALL_HOURS: u32 = (1 << 24) - 1;

impl TimesOfDay {
    /// One time per day.
    pub fn at(time: NaiveTime) -> Self {
        TimesOfDay {
            hours: 1 << time.hour(),
            minutes: 1 << time.minute(),
        }
    }

    /// Every hour at `minute` (a minute past 59 gives no times at all).
    pub fn hourly(minute: u32) -> Self {
        TimesOfDay {
            hours: ALL_HOURS,
            minutes: if minute < 60 { 1 << minute } else { 0 },
        }
    }

    /// Whether `t` is one of these times (whole minutes only).
    pub fn contains(&self, t: NaiveTime) -> bool {
        t.second() == 0
            && t.nanosecond() == 0
            && self.has_hour(t.hour())
            && self.minutes & (1 << t.minute()) != 0
    }

    fn has_hour(&self, h: u32) -> bool {
        h < 24 && self.hours & (1 << h) != 0
    }

    fn first_minute_from(&self, m: u32) -> Option<u32> {
        (m..60).find(|m| self.minutes & (1 << m) != 0)
    }

    fn last_minute_upto(&self, m: u32) -> Option<u32> {
        (0..=m.min(59)).rev().find(|m| self.minutes & (1 << m) != 0)
    }

    /// The first time strictly after `t`, or the first of the day when `t` is `None`.
    pub fn first_after(&self, t: Option<NaiveTime>) -> Option<NaiveTime> {
        let (start_hour, first_minute) = match t {
            None => (0, 0),
            // Strictly after h:m:s means minute m+1 or later in hour h (a time at h:m:00 with
            // s > 0 is already past; with s == 0 it equals t, also not strictly after).
            Some(t) => (t.hour(), t.minute() + 1),
        };
        for h in start_hour..24 {
            if !self.has_hour(h) {
                continue;
            }
            let from = if h == start_hour { first_minute } else { 0 };
            if let Some(m) = self.first_minute_from(from) {
                return NaiveTime::from_hms_opt(h, m, 0);
            }
        }
        None
    }

    /// The last time at or before `t`, or the last of the day when `t` is `None`.
    pub fn last_at_or_before(&self, t: Option<NaiveTime>) -> Option<NaiveTime> {
        let (start_hour, last_minute) = match t {
            None => (23, 59),
            Some(t) => (t.hour(), t.minute()),
        };
        for h in (0..=start_hour.min(23)).rev() {
            if !self.has_hour(h) {
                continue;
            }
            let upto = if h == start_hour { last_minute } else { 59 };
            if let Some(m) = self.last_minute_upto(upto) {
                return NaiveTime::from_hms_opt(h, m, 0);
            }
        }
        None
    }
}

/// Which days of the calendar (in local time) a plan runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    /// Every day.
    All,
    /// Every `every` days, counting from `anchor` (day 0).
    EveryNth { anchor: NaiveDate, every: u32 },
    /// On these weekdays: bit `n` for `n = num_days_from_monday()`.
    Weekdays(u8),
    /// Cron's month / day-of-month / day-of-week rule.
    Cron(CronDays),
}

/// The date part of a cron expression, with Vixie cron's rule: when both day-of-month and
/// day-of-week are restricted (neither starts with `*`), a day matches if EITHER matches;
/// otherwise both must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronDays {
    /// Bit `m` for month `m` (1..=12).
    pub months: u16,
    /// Bit `d` for day of month `d` (1..=31).
    pub days_of_month: u32,
    /// Bit `n` for `n = num_days_from_sunday()` (0 = Sunday).
    pub days_of_week: u8,
    /// Day-of-month field started with `*`.
    pub dom_star: bool,
    /// Day-of-week field started with `*`.
    pub dow_star: bool,
}

impl CronDays {
    fn has_month(&self, month: u32) -> bool {
        month <= 12 && self.months & (1 << month) != 0
    }

    pub fn matches(&self, d: NaiveDate) -> bool {
        if !self.has_month(d.month()) {
            return false;
        }
        let dom = self.days_of_month & (1 << d.day()) != 0;
        let dow = self.days_of_week & (1 << d.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }
}

/// How far a day search may go before giving up. Cron's rarest dates (Feb 29 on a given
/// weekday) can be 40 years apart; everything else repeats within a year.
const MAX_SEARCH_YEARS: i32 = 50;

impl Days {
    pub fn matches(&self, d: NaiveDate) -> bool {
        match *self {
            Days::All => true,
            Days::EveryNth { anchor, every } => {
                (d - anchor).num_days().rem_euclid(i64::from(every.max(1))) == 0
            }
            Days::Weekdays(mask) => mask & (1 << d.weekday().num_days_from_monday()) != 0,
            Days::Cron(c) => c.matches(d),
        }
    }

    /// The first matching day on or after `d`.
    pub fn first_on_or_after(&self, d: NaiveDate) -> Option<NaiveDate> {
        if let Days::EveryNth { anchor, every } = *self {
            let every = i64::from(every.max(1));
            let off = (d - anchor).num_days().rem_euclid(every);
            let add = if off == 0 { 0 } else { every - off };
            return d.checked_add_days(chrono::Days::new(u64::try_from(add).ok()?));
        }
        let limit = d.year().checked_add(MAX_SEARCH_YEARS)?;
        let mut day = d;
        while day.year() <= limit {
            if self.matches(day) {
                return Some(day);
            }
            day = match *self {
                // Skip whole months a cron expression excludes.
                Days::Cron(c) if !c.has_month(day.month()) => first_of_next_month(day)?,
                _ => day.succ_opt()?,
            };
        }
        None
    }

    /// The last matching day on or before `d`.
    pub fn last_on_or_before(&self, d: NaiveDate) -> Option<NaiveDate> {
        if let Days::EveryNth { anchor, every } = *self {
            let every = i64::from(every.max(1));
            let off = (d - anchor).num_days().rem_euclid(every);
            return d.checked_sub_days(chrono::Days::new(u64::try_from(off).ok()?));
        }
        let limit = d.year().checked_sub(MAX_SEARCH_YEARS)?;
        let mut day = d;
        while day.year() >= limit {
            if self.matches(day) {
                return Some(day);
            }
            day = match *self {
                Days::Cron(c) if !c.has_month(day.month()) => {
                    NaiveDate::from_ymd_opt(day.year(), day.month(), 1)?.pred_opt()?
                }
                _ => day.pred_opt()?,
            };
        }
        None
    }
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year().checked_add(1)?, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

/// The local date-times a wall-clock schedule runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClockPlan {
    pub days: Days,
    pub times: TimesOfDay,
    /// Whether it follows the clock through a repeated (fall-back) hour, firing in both passes:
    /// `hourly`, and cron expressions whose minute or hour field starts with `*` (Vixie cron's
    /// "wildcard" jobs). Other plans fire once, at a repeated time's first occurrence.
    pub both_passes: bool,
}

impl WallClockPlan {
    /// Whether `t` is a planned local time.
    pub fn contains(&self, t: NaiveDateTime) -> bool {
        self.days.matches(t.date()) && self.times.contains(t.time())
    }

    /// The first planned local time strictly after `t`.
    pub fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let date = t.date();
        if self.days.matches(date) {
            if let Some(time) = self.times.first_after(Some(t.time())) {
                return Some(date.and_time(time));
            }
        }
        let day = self.days.first_on_or_after(date.succ_opt()?)?;
        Some(day.and_time(self.times.first_after(None)?))
    }

    /// The first planned local time at or after `t`.
    pub fn first_at_or_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        match self.last_at_or_before(t) {
            Some(found) if found == t => Some(t),
            _ => self.next_after(t),
        }
    }

    /// The last planned local time at or before `t`.
    pub fn last_at_or_before(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let date = t.date();
        if self.days.matches(date) {
            if let Some(time) = self.times.last_at_or_before(Some(t.time())) {
                return Some(date.and_time(time));
            }
        }
        let day = self.days.last_on_or_before(date.pred_opt()?)?;
        Some(day.and_time(self.times.last_at_or_before(None)?))
    }
}

#[cfg(test)]
mod tests;
