//! What the workflow's Durable Object needs to drive a schedule (pure; `objects::schedule` is
//! the shell): the plan for one wake-up of its alarm, when to rewrite the `timers` row, the
//! `next_run_at` shown by the API, and the trigger as JSON (the object keeps the deployed
//! trigger in its own storage so that an alarm never has to read D1 before it re-arms).

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc, Weekday};
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
                json!({ "kind": "daily", "every": every, "at": at.format("%H:%M").to_string() })
            }
            Schedule::Weekly { days, at } => json!({
                "kind": "weekly",
                "day": days.iter().map(|d| weekday_name(*d)).collect::<Vec<_>>(),
                "at": at.format("%H:%M").to_string(),
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

/// How stale the `timers` row may get (ms) before the object rewrites it, at least; each
/// workflow adds its own share of `TIMER_ROW_SPREAD_MS` ([`timer_row_spread`]) so that
/// workflows deployed together do not all write in the same second. The sum must stay well
/// under the reconciler's grace (`engine::reconcile`, 30 s) so a healthy object is never
/// re-armed; schedules that fire less often than this rewrite it on every fire.
pub const TIMER_ROW_REFRESH_MS: i64 = 10_000;
pub const TIMER_ROW_SPREAD_MS: i64 = 10_000;

/// A workflow's fixed share of `TIMER_ROW_SPREAD_MS` (FNV-1a of its id).
pub fn timer_row_spread(workflow_id: &str) -> i64 {
    let hash = workflow_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % TIMER_ROW_SPREAD_MS as u64) as i64
}

/// Whether the `timers` row (which says `recorded`) must be rewritten now that the alarm is
/// armed for `next`: when there is none yet, when it lags `next` by more than
/// `TIMER_ROW_REFRESH_MS + spread`, or when it is later than `next` (a redeploy to a sooner
/// slot). A schedule every second thus writes the row every 10–20 s, not every second.
pub fn timer_row_due(recorded: Option<i64>, next: i64, spread: i64) -> bool {
    match recorded {
        None => true,
        Some(r) => next > r + TIMER_ROW_REFRESH_MS + spread || next < r,
    }
}

/// The `next_run_at` shown for a deployed schedule, from the `timers` row (`timer_next`) and,
/// for interval kinds, their spacing: the row may lag the alarm by up to
/// `TIMER_ROW_REFRESH_MS + TIMER_ROW_SPREAD_MS`, so a past value is moved forward by whole intervals to the first
/// one after `now`. A wall-clock row is exact (rewritten on every fire); if it is in the past
/// the alarm is overdue and the past instant is shown as it is.
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
mod tests {
    use super::*;

    fn trigger(v: Value) -> ScheduleTrigger {
        let mut errors = Errors::new();
        let t = ScheduleTrigger::parse(&v, "trigger", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        t.expect("parsed")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid test instant")
            .with_timezone(&Utc)
    }

    fn every(seconds: u32, misfire: &str) -> ScheduleTrigger {
        trigger(json!({"type": "schedule", "misfire": misfire,
            "schedule": {"kind": "seconds", "every": seconds}}))
    }

    const GRACE: TimeDelta = TimeDelta::seconds(60);

    #[test]
    fn an_on_time_alarm_runs_its_slot_and_arms_the_next() {
        let t = every(2, "skip");
        let anchor = utc("2026-01-01T00:00:00.400Z");
        let w = t.wake(None, utc("2026-01-01T00:00:02.003Z"), anchor, GRACE);
        assert_eq!(
            w,
            Wake {
                run: Some(utc("2026-01-01T00:00:02Z")),
                late: false,
                skipped: 0,
                handled_through: Some(utc("2026-01-01T00:00:02Z")),
                next: Some(utc("2026-01-01T00:00:04Z")),
            }
        );
        // The same alarm delivered twice plans nothing new.
        let again = t.wake(
            w.handled_through,
            utc("2026-01-01T00:00:02.500Z"),
            anchor,
            GRACE,
        );
        assert_eq!(again.run, None);
        assert_eq!(again.skipped, 0);
        assert_eq!(again.next, Some(utc("2026-01-01T00:00:04Z")));
        assert_eq!(again.handled_through, w.handled_through);
    }

    #[test]
    fn a_deploy_wake_before_the_first_slot_only_arms() {
        let t = every(5, "skip");
        let anchor = utc("2026-01-01T00:00:01Z");
        let w = t.wake(None, utc("2026-01-01T00:00:01.020Z"), anchor, GRACE);
        assert_eq!(w.run, None);
        assert_eq!(w.handled_through, None);
        assert_eq!(w.next, Some(utc("2026-01-01T00:00:05Z")));
    }

    #[test]
    fn skip_after_downtime_counts_once_and_moves_on() {
        let t = every(5, "skip");
        let anchor = utc("2026-01-01T00:00:00Z");
        let last = Some(utc("2026-01-01T00:00:10Z"));
        // Down from 00:12 to 00:31: 15, 20, 25, 30 were missed; 30 is 1 s late.
        let grace = TimeDelta::seconds(0);
        let w = t.wake(last, utc("2026-01-01T00:00:31Z"), anchor, grace);
        assert_eq!((w.run, w.skipped), (None, 4));
        assert_eq!(w.handled_through, Some(utc("2026-01-01T00:00:30Z")));
        assert_eq!(w.next, Some(utc("2026-01-01T00:00:35Z")));
        // A second wake (the reconciler racing the alarm) does not count them again.
        let w2 = t.wake(
            w.handled_through,
            utc("2026-01-01T00:00:32Z"),
            anchor,
            grace,
        );
        assert_eq!((w2.run, w2.skipped), (None, 0));
        // With the default grace the newest missed slot is still on time and runs.
        let w = t.wake(last, utc("2026-01-01T00:00:31Z"), anchor, GRACE);
        assert_eq!(
            (w.run, w.late, w.skipped),
            (Some(utc("2026-01-01T00:00:30Z")), false, 3)
        );
    }

    #[test]
    fn run_once_after_downtime_runs_the_newest_missed_slot() {
        let t = every(5, "run_once");
        let anchor = utc("2026-01-01T00:00:00Z");
        let last = Some(utc("2026-01-01T00:00:10Z"));
        let w = t.wake(
            last,
            utc("2026-01-01T00:00:33Z"),
            anchor,
            TimeDelta::seconds(1),
        );
        assert_eq!(w.run, Some(utc("2026-01-01T00:00:30Z")));
        assert!(w.late);
        assert_eq!(w.skipped, 3);
        assert_eq!(w.handled_through, Some(utc("2026-01-01T00:00:30Z")));
        assert_eq!(w.next, Some(utc("2026-01-01T00:00:35Z")));
    }

    #[test]
    fn a_redeploy_does_not_make_old_slots_due() {
        let t = every(5, "run_once");
        let last = Some(utc("2026-01-01T00:00:10Z"));
        let anchor = utc("2026-01-01T00:10:02Z"); // redeployed ten minutes later
        let w = t.wake(last, utc("2026-01-01T00:10:02.010Z"), anchor, GRACE);
        assert_eq!((w.run, w.skipped), (None, 0));
        assert_eq!(w.handled_through, last);
        assert_eq!(w.next, Some(utc("2026-01-01T00:10:05Z")));
    }

    #[test]
    fn handled_through_never_goes_backwards() {
        let t = every(5, "skip");
        let anchor = utc("2026-01-01T00:00:00Z");
        let last = Some(utc("2026-01-01T00:01:00Z"));
        // An early (or clock-skewed) wake sees no due slot and keeps the mark.
        let w = t.wake(last, utc("2026-01-01T00:00:59Z"), anchor, GRACE);
        assert_eq!(w.handled_through, last);
        assert_eq!(w.run, None);
        assert_eq!(w.next, Some(utc("2026-01-01T00:01:05Z")));
    }

    #[test]
    fn trigger_json_round_trips() {
        for v in [
            json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 2}}),
            json!({"type": "schedule", "schedule": {"kind": "minutes", "every": 90}, "timezone": "Asia/Kolkata"}),
            json!({"type": "schedule", "schedule": {"kind": "hourly", "minute": 7}, "misfire": "run_once"}),
            json!({"type": "schedule", "schedule": {"kind": "daily", "every": 3, "at": "02:30"}, "timezone": "America/New_York"}),
            json!({"type": "schedule", "schedule": {"kind": "weekly", "day": ["fri", "mon"], "at": "9:05"}}),
            json!({"type": "schedule", "schedule": {"kind": "cron", "expression": "*/15 9-17 * * 1-5"}, "timezone": "Europe/Berlin"}),
        ] {
            let t = trigger(v);
            let back = ScheduleTrigger::from_json(&t.to_json()).expect("round trip parses");
            assert_eq!(back, t);
        }
        assert_eq!(
            ScheduleTrigger::from_json(&json!({"type": "schedule"})),
            None
        );
    }

    #[test]
    fn the_timer_row_is_rewritten_only_when_it_would_go_stale() {
        assert!(timer_row_due(None, 1_000, 0));
        // Every second: rewritten once the armed slot is more than 10 s (+ spread) past the row.
        assert!(!timer_row_due(Some(1_000), 2_000, 0));
        assert!(!timer_row_due(Some(1_000), 11_000, 0));
        assert!(timer_row_due(Some(1_000), 11_001, 0));
        assert!(!timer_row_due(Some(1_000), 11_001, 2_000));
        assert!(timer_row_due(Some(1_000), 13_001, 2_000));
        // Every minute: every fire, whatever the spread.
        assert!(timer_row_due(
            Some(60_000),
            120_000,
            TIMER_ROW_SPREAD_MS - 1
        ));
        // A redeploy to a sooner slot.
        assert!(timer_row_due(Some(60_000), 30_000, 0));
        // Spreads are fixed per workflow, within bounds, and differ between workflows.
        let a = timer_row_spread("wf_aaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(a, timer_row_spread("wf_aaaaaaaaaaaaaaaaaaaaaaaa"));
        let spreads: std::collections::BTreeSet<i64> = (0..50)
            .map(|i| timer_row_spread(&format!("wf_{i:024}")))
            .collect();
        assert!(spreads.iter().all(|s| (0..TIMER_ROW_SPREAD_MS).contains(s)));
        assert!(spreads.len() > 40, "{spreads:?}");
    }

    #[test]
    fn next_run_at_is_projected_over_a_lagging_row() {
        assert_eq!(projected_next(10_000, Some(1_000), 5_000), 10_000);
        assert_eq!(projected_next(10_000, Some(1_000), 10_000), 11_000);
        assert_eq!(projected_next(10_000, Some(1_000), 14_500), 15_000);
        assert_eq!(projected_next(10_000, Some(5_000), 14_999), 15_000);
        assert_eq!(projected_next(10_000, None, 14_500), 10_000);
    }

    #[test]
    fn grace_comes_from_config_or_defaults_to_a_minute() {
        assert_eq!(grace_from_config(None), TimeDelta::seconds(60));
        assert_eq!(grace_from_config(Some("2")), TimeDelta::seconds(2));
        assert_eq!(grace_from_config(Some("0")), TimeDelta::zero());
        assert_eq!(grace_from_config(Some("-1")), TimeDelta::seconds(60));
        assert_eq!(grace_from_config(Some("soon")), TimeDelta::seconds(60));
    }

    #[test]
    fn input_and_dedup_key_name_the_slot() {
        let slot = utc("2026-11-27T09:00:02Z");
        let fired = utc("2026-11-27T09:00:02.013Z");
        assert_eq!(dedup_key(slot), "2026-11-27T09:00:02Z");
        assert_eq!(
            run_input(slot, fired, false),
            json!({"schedule": {"scheduled_at": "2026-11-27T09:00:02.000Z",
                "fired_at": "2026-11-27T09:00:02.013Z", "late": false}})
        );
    }
}
