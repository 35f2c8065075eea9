//! Schedule triggers: `{"type":"schedule","schedule":{…},"timezone":"…","misfire":"…"}`, and the
//! instants they fire at.
//!
//! Time rules:
//! - interval kinds (`seconds`, `minutes`) count elapsed time: slots are the multiples of the
//!   interval since the Unix epoch (every 2 s fires on even seconds, every 15 min at :00/:15/:30/:45
//!   UTC), whatever the zone;
//! - wall-clock kinds (`hourly`, `daily`, `weekly`, `cron`) follow local time in `timezone`: a local
//!   time that does not exist runs at the first instant after the DST gap; a repeated local time
//!   runs at its first occurrence, and again in the second pass for `hourly` and cron
//!   expressions with a `*` minute or hour field (as Vixie cron). See `zone`.
//!
//! Fire instants are whole seconds. `anchor` is the deploy instant; only `daily` with `every > 1`
//! uses it (its days are counted from the deploy date in the workflow's zone).

pub mod catch_up;
pub mod cron;
pub mod cron_pattern;
pub mod preview;
pub mod timer;
pub mod wall_clock;
pub mod zone;

mod properties;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc, Weekday};
use serde_json::Value;

use crate::kernel::problem::{index, Errors};
use crate::kernel::reader::{type_name, ObjectReader};
use crate::schedule::cron::CronSchedule;
use crate::schedule::wall_clock::{Days, TimesOfDay, WallClockPlan};
use crate::schedule::zone::{
    first_unreached_local, floor_second, local_time, resolve, second_pass_near, Resolved, Tz,
};

/// A parsed, valid schedule trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTrigger {
    pub schedule: Schedule,
    /// IANA zone the wall-clock kinds follow (default UTC).
    pub timezone: Tz,
    /// What to do with slots missed while nothing was running (default `Skip`).
    pub misfire: Misfire,
}

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `every` seconds (1–3600), on multiples of `every` since the Unix epoch.
    Seconds { every: u32 },
    /// Every `every` minutes (1–1440), on multiples of `every` minutes since the Unix epoch.
    Minutes { every: u32 },
    /// Every hour at `minute` (0–59) past the local hour.
    Hourly { minute: u32 },
    /// Every `every` days (1–365) at local time `at`; days counted from the deploy date.
    Daily { every: u32, at: NaiveTime },
    /// On each of `days` (sorted Monday first, no duplicates) at local time `at`.
    Weekly { days: Vec<Weekday>, at: NaiveTime },
    /// A 5-field cron expression in local time.
    Cron(CronSchedule),
}

/// What to do with slots that passed while the workflow's timer was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfire {
    /// Drop missed slots; continue with the next one.
    Skip,
    /// Run the newest missed slot once, drop the rest.
    RunOnce,
}

/// The days of the week, Monday first.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The `kind` values, in the order error messages list them.
pub const SCHEDULE_KINDS: [&str; 6] = ["seconds", "minutes", "hourly", "daily", "weekly", "cron"];

impl ScheduleTrigger {
    /// Reads a trigger object at `location` (e.g. `trigger`). The caller has dispatched on its
    /// `type`; every problem is pushed to `errors` with its location.
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<Self> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        if !r.is_object() {
            return None;
        }
        r.raw("type");
        let schedule = match r.required("schedule", errors) {
            Some(v) => Schedule::parse(v, &r.loc("schedule"), errors),
            None => None,
        };
        let timezone = match r.opt_str("timezone", errors) {
            Some(name) => parse_timezone(&name, &r.loc("timezone"), errors),
            None => Some(Tz::UTC),
        };
        let misfire = match r.opt_str("misfire", errors) {
            Some(text) => Misfire::parse(&text, &r.loc("misfire"), errors),
            None => Some(Misfire::Skip),
        };
        r.finish(errors);
        if errors.len() > before {
            return None;
        }
        Some(ScheduleTrigger {
            schedule: schedule?,
            timezone: timezone?,
            misfire: misfire?,
        })
    }

    /// The anchor (the instant `daily` with `every > 1` counts its days from) of a version
    /// deployed at `deployed_at` after `earlier` (the version before it, anchored at
    /// `earlier_anchor`): kept while the schedule and its zone stay the same (a redeploy for an
    /// edited step does not move an every-7-days cadence), else the new deploy instant.
    pub fn anchor_after(&self, earlier: Option<(&ScheduleTrigger, i64)>, deployed_at: i64) -> i64 {
        match earlier {
            Some((e, anchor)) if self.keeps_anchor_of(e) => anchor,
            _ => deployed_at,
        }
    }

    /// Whether this trigger, deployed after `earlier`, keeps its anchor: one that counts days
    /// from it (`daily` with `every > 1`; no other kind reads it), the same schedule in the same
    /// zone (the misfire policy is no part of when it fires).
    pub fn keeps_anchor_of(&self, earlier: &ScheduleTrigger) -> bool {
        self.counts_days() && self.schedule == earlier.schedule && self.timezone == earlier.timezone
    }

    /// Whether its slots depend on the anchor: `daily` with `every > 1`.
    pub fn counts_days(&self) -> bool {
        matches!(self.schedule, Schedule::Daily { every, .. } if every > 1)
    }

    /// The first fire instant strictly after `after`. `None` only when there is none (a cron
    /// date more than 50 years away, or the end of representable time).
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_slot(after, anchor).map(|s| s.at)
    }

    /// Like `next_after`, also telling whether the fire was moved out of a DST gap.
    pub(crate) fn next_slot(
        &self,
        after: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> Option<Resolved> {
        let after = floor_second(after);
        if let Some(step) = self.schedule.interval_seconds() {
            let slot = after
                .timestamp()
                .div_euclid(step)
                .checked_add(1)?
                .checked_mul(step)?;
            return Some(Resolved {
                at: DateTime::from_timestamp(slot, 0)?,
                moved_by_gap: false,
            });
        }
        let tz = self.timezone;
        let plan = self.plan(anchor)?;
        // Local times below `boundary` were already shown by the clock at or before `after`
        // (this skips the second pass of a repeated hour); the first planned one from there on.
        let boundary = first_unreached_local(tz, after)?;
        let first_pass = plan
            .first_at_or_after(boundary)
            .and_then(|local| resolve(tz, local))
            .filter(|slot| slot.at > after);
        // A plan that follows the clock also fires when the clock shows its times again. Only a
        // second pass within its own length of `after` can come first: a planned time in a
        // later one has its first occurrence, a slot of the first pass, before it.
        let second_pass = plan
            .both_passes
            .then(|| second_pass_near(tz, after))
            .flatten()
            .and_then(|pass| {
                let from = pass
                    .start
                    .max(after.checked_add_signed(TimeDelta::seconds(1))?);
                let local = plan.first_at_or_after(pass.local(from)?)?;
                pass.instant(local)
            });
        match (first_pass, second_pass) {
            (Some(slot), Some(at)) if slot.at <= at => Some(slot),
            (_, Some(at)) => Some(Resolved {
                at,
                moved_by_gap: false,
            }),
            (slot, None) => slot,
        }
    }

    /// The last fire instant at or before `at` (the newest slot that is due at `at`).
    pub fn last_at_or_before(
        &self,
        at: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let at = floor_second(at);
        if let Some(step) = self.schedule.interval_seconds() {
            let slot = at.timestamp().div_euclid(step).checked_mul(step)?;
            return DateTime::from_timestamp(slot, 0);
        }
        let tz = self.timezone;
        let plan = self.plan(anchor)?;
        let boundary = first_unreached_local(tz, at)?;
        let last_reached = boundary.checked_sub_signed(chrono::TimeDelta::seconds(1))?;
        let first_pass = plan
            .last_at_or_before(last_reached)
            .and_then(|local| resolve(tz, local))
            .map(|slot| slot.at)
            .filter(|slot| *slot <= at);
        // A second-pass slot newer than `first_pass` has its first occurrence at or before it:
        // the clock was set back within a day of `first_pass` (or of `at`, inside the span).
        let second_pass = |near: DateTime<Utc>| {
            let pass = second_pass_near(tz, near)?;
            let upto = at.min(pass.end()?.checked_sub_signed(TimeDelta::seconds(1))?);
            let local = plan.last_at_or_before(pass.local(upto)?)?;
            pass.instant(local)
        };
        if !plan.both_passes {
            return first_pass;
        }
        first_pass
            .max(second_pass(at))
            .max(first_pass.and_then(second_pass))
    }

    /// The fire instants strictly after `after`, in order, without end (until `next_after`
    /// gives `None`). Take as many as needed.
    pub fn upcoming(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Upcoming<'_> {
        Upcoming {
            trigger: self,
            anchor,
            cursor: Some(after),
        }
    }

    /// The local-time plan of a wall-clock kind (`None` for interval kinds).
    pub(crate) fn plan(&self, anchor: DateTime<Utc>) -> Option<WallClockPlan> {
        let plan = match &self.schedule {
            Schedule::Seconds { .. } | Schedule::Minutes { .. } => return None,
            Schedule::Hourly { minute } => WallClockPlan {
                days: Days::All,
                times: TimesOfDay::hourly(*minute),
                both_passes: true,
            },
            Schedule::Daily { every, at } => WallClockPlan {
                days: if *every <= 1 {
                    Days::All
                } else {
                    Days::EveryNth {
                        anchor: local_time(self.timezone, anchor)?.date(),
                        every: *every,
                    }
                },
                times: TimesOfDay::at(*at),
                both_passes: false,
            },
            Schedule::Weekly { days, at } => WallClockPlan {
                days: Days::Weekdays(
                    days.iter()
                        .fold(0u8, |mask, d| mask | (1 << d.num_days_from_monday())),
                ),
                times: TimesOfDay::at(*at),
                both_passes: false,
            },
            Schedule::Cron(cron) => cron.plan(),
        };
        Some(plan)
    }
}

/// Iterator over upcoming fire instants; see `ScheduleTrigger::upcoming`.
pub struct Upcoming<'a> {
    trigger: &'a ScheduleTrigger,
    anchor: DateTime<Utc>,
    cursor: Option<DateTime<Utc>>,
}

impl Iterator for Upcoming<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let next = self.trigger.next_after(self.cursor?, self.anchor);
        self.cursor = next;
        next
    }
}

impl Schedule {
    /// Reads a `schedule` object at `location` (e.g. `trigger.schedule`).
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<Self> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        if !r.is_object() {
            return None;
        }
        let kind = r.req_str("kind", errors)?;
        let schedule = match kind.as_str() {
            "seconds" => r
                .req_int("every", 1, 3600, errors)
                .and_then(to_u32)
                .map(|every| Schedule::Seconds { every }),
            "minutes" => r
                .req_int("every", 1, 1440, errors)
                .and_then(to_u32)
                .map(|every| Schedule::Minutes { every }),
            "hourly" => r
                .req_int("minute", 0, 59, errors)
                .and_then(to_u32)
                .map(|minute| Schedule::Hourly { minute }),
            "daily" => {
                // Absent means 1; a bad value is reported and fails the parse below.
                let every = r.opt_int("every", 1, 365, errors).and_then(to_u32);
                read_time_of_day(&mut r, errors).map(|at| Schedule::Daily {
                    every: every.unwrap_or(1),
                    at,
                })
            }
            "weekly" => {
                let days = read_weekdays(&mut r, errors);
                let at = read_time_of_day(&mut r, errors);
                days.zip(at).map(|(days, at)| Schedule::Weekly { days, at })
            }
            "cron" => {
                let loc = r.loc("expression");
                r.req_str("expression", errors)
                    .and_then(|text| match CronSchedule::parse(&text) {
                        Ok(cron) => Some(Schedule::Cron(cron)),
                        Err(problems) => {
                            for p in problems {
                                errors.push(loc.clone(), p);
                            }
                            None
                        }
                    })
            }
            other => {
                errors.push(
                    r.loc("kind"),
                    format!(
                        "unknown schedule kind `{other}`; expected one of: {}",
                        SCHEDULE_KINDS.join(", ")
                    ),
                );
                return None;
            }
        };
        r.finish(errors);
        if errors.len() > before {
            return None;
        }
        schedule
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Seconds { .. } => "seconds",
            Schedule::Minutes { .. } => "minutes",
            Schedule::Hourly { .. } => "hourly",
            Schedule::Daily { .. } => "daily",
            Schedule::Weekly { .. } => "weekly",
            Schedule::Cron(_) => "cron",
        }
    }

    /// The fixed spacing of interval kinds, in seconds; `None` for wall-clock kinds (and for a
    /// hand-built `every: 0`, which then never fires).
    pub fn interval_seconds(&self) -> Option<i64> {
        let seconds = match self {
            Schedule::Seconds { every } => i64::from(*every),
            Schedule::Minutes { every } => i64::from(*every) * 60,
            _ => return None,
        };
        (seconds > 0).then_some(seconds)
    }
}

impl Misfire {
    fn parse(text: &str, location: &str, errors: &mut Errors) -> Option<Self> {
        match text {
            "skip" => Some(Misfire::Skip),
            "run_once" => Some(Misfire::RunOnce),
            other => {
                errors.push(
                    location,
                    format!("must be `skip` or `run_once`, got `{other}`"),
                );
                None
            }
        }
    }

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Misfire::Skip => "skip",
            Misfire::RunOnce => "run_once",
        }
    }
}

fn to_u32(n: i64) -> Option<u32> {
    u32::try_from(n).ok()
}

/// An IANA zone name; an unknown one is an error that names it (and suggests the zone it
/// most likely meant, see [`closest_zone`]).
fn parse_timezone(name: &str, location: &str, errors: &mut Errors) -> Option<Tz> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    let hint = closest_zone(name)
        .map(|zone| format!("did you mean `{zone}`?"))
        .unwrap_or_else(|| match name.contains('/') {
            true => {
                "use an IANA time zone name such as `UTC`, `Europe/London` or `America/New_York`"
                    .to_string()
            }
            false => "use an IANA time zone name such as `UTC`, `Europe/London` or \
                      `America/New_York`; an abbreviation (`PST`, `IST`, `CEST`) or an offset \
                      (`GMT+5`) names no zone here: name the place, `America/Los_Angeles`"
                .to_string(),
        });
    errors.push(location, format!("unknown time zone `{name}`; {hint}"));
    None
}

/// The zone whose name is nearest `name` (ignoring case and surrounding spaces, a space read as
/// `_`) by edit distance, when at most two edits away and the edits are at most a third of
/// the name: `Europe/Berln` → `Europe/Berlin`. A name without `/` gets only the zone it spells
/// in other case (`utc` → `UTC`): near abbreviations are other zones hours apart (`PST` is two
/// edits from `EST`, `MSK` one from `MST`), which a suggestion would send the user to.
pub fn closest_zone(name: &str) -> Option<&'static str> {
    // No zone name is longer than 32 characters: a text over 34 is more than two edits from
    // every zone (and the length filter below keeps the work small for the rest).
    if name.trim().len() > 40 {
        return None;
    }
    let want: Vec<u8> = name
        .trim()
        .bytes()
        .map(|b| match b {
            b' ' => b'_',
            b => b.to_ascii_lowercase(),
        })
        .collect();
    let located = want.contains(&b'/');
    Tz::all()
        .filter(|tz| tz.name().len().abs_diff(want.len()) <= 2)
        .map(|tz| {
            let have: Vec<u8> = tz.name().bytes().map(|b| b.to_ascii_lowercase()).collect();
            (
                crate::kernel::spelling::edit_distance(&want, &have),
                tz.name(),
            )
        })
        .filter(|(d, _)| *d == 0 || (located && *d <= 2 && d * 3 <= want.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, zone)| zone)
}

/// The required `at` field: a local time of day `HH:MM` (24-hour).
fn read_time_of_day(r: &mut ObjectReader<'_>, errors: &mut Errors) -> Option<NaiveTime> {
    let text = r.req_str("at", errors)?;
    let time = parse_time_of_day(&text);
    if time.is_none() {
        errors.push(
            r.loc("at"),
            format!(
                "must be a time of day as `HH:MM` (24-hour clock, 00:00 to 23:59), got `{text}`"
            ),
        );
    }
    time
}

/// `"9:30"` or `"09:30"` → 09:30; anything else (seconds, `24:00`, `9.30`) → `None`.
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let (h, m) = text.split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// The required `day` field: one day name or a non-empty list of them.
fn read_weekdays(r: &mut ObjectReader<'_>, errors: &mut Errors) -> Option<Vec<Weekday>> {
    let loc = r.loc("day");
    let value = r.required("day", errors)?;
    let days = match value {
        Value::String(name) => vec![parse_weekday_at(name, &loc, errors)?],
        Value::Array(items) if items.is_empty() => {
            errors.push(loc, "must list at least one day");
            return None;
        }
        Value::Array(items) => {
            let before = errors.len();
            let mut days = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let item_loc = index(&loc, i);
                match item {
                    Value::String(name) => {
                        if let Some(d) = parse_weekday_at(name, &item_loc, errors) {
                            days.push(d);
                        }
                    }
                    other => errors.push(
                        item_loc,
                        format!("must be a day name, got {}", type_name(other)),
                    ),
                }
            }
            if errors.len() > before {
                return None;
            }
            days
        }
        other => {
            errors.push(
                loc,
                format!(
                    "must be a day name like `monday` or `mon`, or a list of them, got {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    // Monday first, each day once.
    Some(WEEK.into_iter().filter(|d| days.contains(d)).collect())
}

fn parse_weekday_at(name: &str, location: &str, errors: &mut Errors) -> Option<Weekday> {
    let day = parse_weekday(name);
    if day.is_none() {
        errors.push(
            location,
            format!("unknown day `{name}`; expected a day name like `monday` or `mon` (monday to sunday)"),
        );
    }
    day
}

/// A day name, any case: `monday`/`mon`, `tuesday`/`tue`/`tues`, …, `sunday`/`sun`.
pub fn parse_weekday(name: &str) -> Option<Weekday> {
    match name.trim().to_ascii_lowercase().as_str() {
        "monday" | "mon" => Some(Weekday::Mon),
        "tuesday" | "tue" | "tues" => Some(Weekday::Tue),
        "wednesday" | "wed" => Some(Weekday::Wed),
        "thursday" | "thu" | "thur" | "thurs" => Some(Weekday::Thu),
        "friday" | "fri" => Some(Weekday::Fri),
        "saturday" | "sat" => Some(Weekday::Sat),
        "sunday" | "sun" => Some(Weekday::Sun),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
