//! What the workflow's Durable Object needs to drive a schedule (pure; `objects::schedule` is
//! the shell): the plan for one wake-up of its alarm, the `next_run_at` shown by the API, and the trigger as JSON (the object keeps the deployed
//! trigger in its own storage so that an alarm never has to read D1 before it re-arms).

use chrono::{DateTime, NaiveTime, SecondsFormat, TimeDelta, Timelike, Utc, Weekday};
use serde_json::{json, Value};

use crate::kernel::problem::Errors;
use crate::schedule::catch_up::MISFIRE_GRACE_SECONDS;
use crate::schedule::{Schedule, ScheduleTrigger};

/// The plan for one wake-up (an alarm, on time or late, or a reconcile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// The slot to create a run for now, if any.
    pub run: Option<DateTime<Utc>>,
    /// `run` is a misfired slot that runs because of `run_once`.
    pub late: bool,
    /// Due slots that will not run (misfire), to add to the workflow's count.
    pub skipped: u64,
    /// Every slot at or before this one has been dealt with (run or skipped); the next wake
    /// counts due slots from here. Never goes backwards.
    pub handled_through: Option<DateTime<Utc>>,
    /// The slot to arm the alarm for; `None` when the schedule never fires again.
    pub next: Option<DateTime<Utc>>,
}

impl ScheduleTrigger {
    /// Plans a wake-up at `now`. `handled_through` is the newest slot already dealt with (kept
    /// in the object's storage; `None` before the first), `anchor` the deploy instant: slots at
    /// or before it are never due. `grace` is how late the newest due slot may be and still
    /// count as on time (`ScheduleTrigger::catch_up`); beyond it the `misfire` policy decides.
    pub fn wake(
        &self,
        handled_through: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        anchor: DateTime<Utc>,
        grace: TimeDelta,
    ) -> Wake {
        let c = self.catch_up_with_grace(handled_through, now, anchor, grace);
        let lower = handled_through.map_or(anchor, |h| h.max(anchor));
        let newest_due = self.last_at_or_before(now, anchor).filter(|s| *s > lower);
        Wake {
            run: c.run,
            late: c.late,
            skipped: c.skipped,
            handled_through: match (handled_through, newest_due) {
                (Some(h), Some(n)) => Some(h.max(n)),
                (h, n) => h.or(n),
            },
            next: c.next,
        }
    }

    /// The trigger object as a definition holds it (`parse(to_json(t)) == t`).
    pub fn to_json(&self) -> Value {
        let schedule = match &self.schedule {
            Schedule::Seconds { every } => json!({ "kind": "seconds", "every": every }),
            Schedule::Minutes { every } => json!({ "kind": "minutes", "every": every }),
            Schedule::Hourly { minute } => json!({ "kind": "hourly", "minute": minute }),
            Schedule::Daily { every, at } => {
                json!({ "kind": "daily", "every": every, "at": hh_mm(*at) })
            }
            Schedule::Weekly { days, at } => json!({
                "kind": "weekly",
                "day": days.iter().map(|d| weekday_name(*d)).collect::<Vec<_>>(),
                "at": hh_mm(*at),
            }),
            Schedule::Cron(cron) => json!({ "kind": "cron", "expression": cron.expression() }),
        };
        json!({
            "type": "schedule",
            "schedule": schedule,
            "timezone": self.timezone.name(),
            "misfire": self.misfire.as_str(),
        })
    }

    /// Reads back what `to_json` wrote (`None` if it no longer validates).
    pub fn from_json(value: &Value) -> Option<ScheduleTrigger> {
        let mut errors = Errors::new();
        ScheduleTrigger::parse(value, "trigger", &mut errors).filter(|_| errors.is_empty())
    }
}

/// A time of day as `HH:MM` (what chrono's `format("%H:%M")` prints, without its strftime engine).
fn hh_mm(at: NaiveTime) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// The `next_run_at` shown for a deployed schedule, from the slot its object armed
/// (`timer_next`) and, for interval kinds, their spacing: an alarm due but not fired yet is
/// moved forward by whole intervals to the first slot after `now`. A wall-clock slot in the
/// past (the alarm is overdue) is shown as it is.
pub fn projected_next(timer_next: i64, interval_ms: Option<i64>, now: i64) -> i64 {
    match interval_ms {
        Some(step) if step > 0 && timer_next <= now => {
            timer_next + ((now - timer_next) / step + 1) * step
        }
        _ => timer_next,
    }
}

/// The spacing of an interval kind in ms (`None` for wall-clock kinds).
pub fn interval_ms(t: &ScheduleTrigger) -> Option<i64> {
    t.schedule.interval_seconds().map(|s| s * 1000)
}

/// The misfire grace from a configured number of seconds (`SCHEDULE_MISFIRE_GRACE_SECONDS`):
/// 0 to 86400; absent or invalid → `MISFIRE_GRACE_SECONDS` (60).
pub fn grace_from_config(value: Option<&str>) -> TimeDelta {
    let seconds = value
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|s| (0..=86_400).contains(s))
        .unwrap_or(MISFIRE_GRACE_SECONDS);
    TimeDelta::seconds(seconds)
}

/// The run input of a schedule run: `{"schedule": {"scheduled_at", "fired_at", "late"}}`.
pub fn run_input(slot: DateTime<Utc>, fired_at: DateTime<Utc>, late: bool) -> Value {
    json!({ "schedule": {
        "scheduled_at": slot.to_rfc3339_opts(SecondsFormat::Millis, true),
        "fired_at": fired_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "late": late,
    }})
}

/// The dedup key of a slot's run: its UTC instant (`2026-11-27T09:00:02Z`).
pub fn dedup_key(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
