//! What a schedule's timer does when it wakes: which slot to run, how many were missed, and the
//! next slot to arm. The same call serves an on-time alarm, a late one, and the reconciler after
//! long downtime, and its work is bounded whatever the gap.
//!
//! Rules:
//! - The slots *due* are those in `(lower, now]`, where `lower` is the last slot run, or the deploy
//!   instant (`anchor`) if none ran or if the last one is older than the deploy: slots from before
//!   a deploy are never run.
//! - The newest due slot is *on time* if `now - slot <= grace` (default `MISFIRE_GRACE_SECONDS`);
//!   it runs whatever the policy. A slot past its grace has *misfired*: `skip` drops it,
//!   `run_once` runs it (only the newest one; all older due slots are dropped).
//! - At most one slot runs per call; `next` is the first slot after `max(now, lower)`.

use chrono::{DateTime, TimeDelta, Utc};

use crate::schedule::{Misfire, ScheduleTrigger};

/// How late (seconds after its slot) a fire still counts as on time.
pub const MISFIRE_GRACE_SECONDS: i64 = 60;

/// For wall-clock kinds due slots are counted one by one, up to this many (interval kinds are
/// counted arithmetically, exactly, however many).
pub const CATCH_UP_COUNT_LIMIT: u64 = 10_000;

/// The plan for one wake-up of a schedule's timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The slot to run now (its `schedule.scheduled_at` and dedup key), if any.
    pub run: Option<DateTime<Utc>>,
    /// `run` is a misfired slot run because of `run_once` (past its grace), not an on-time one.
    pub late: bool,
    /// Due slots that will not run.
    pub skipped: u64,
    /// False when counting stopped at `CATCH_UP_COUNT_LIMIT` (wall-clock kinds only): `skipped`
    /// is then a lower bound.
    pub skipped_exact: bool,
    /// The next slot to arm the timer for (strictly after `now` and after the last slot run).
    pub next: Option<DateTime<Utc>>,
}

impl ScheduleTrigger {
    /// Plans a wake-up at `now`, given the last slot that was run (`None` if none since deploy)
    /// and the deploy instant `anchor`, with the default grace.
    pub fn catch_up(
        &self,
        last_slot: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> CatchUp {
        self.catch_up_with_grace(
            last_slot,
            now,
            anchor,
            TimeDelta::seconds(MISFIRE_GRACE_SECONDS),
        )
    }

    /// `catch_up` with an explicit grace (negative is treated as zero).
    pub fn catch_up_with_grace(
        &self,
        last_slot: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        anchor: DateTime<Utc>,
        grace: TimeDelta,
    ) -> CatchUp {
        let lower = last_slot.map_or(anchor, |last| last.max(anchor));
        let next = self.next_after(now.max(lower), anchor);
        let newest = self
            .last_at_or_before(now, anchor)
            .filter(|slot| *slot > lower);
        let Some(newest) = newest else {
            return CatchUp {
                run: None,
                late: false,
                skipped: 0,
                skipped_exact: true,
                next,
            };
        };
        let (due, exact) = self.count_due(lower, newest, anchor);
        let on_time = now - newest <= grace.max(TimeDelta::zero());
        let run = (on_time || self.misfire == Misfire::RunOnce).then_some(newest);
        CatchUp {
            run,
            late: run.is_some() && !on_time,
            skipped: due.saturating_sub(u64::from(run.is_some())),
            skipped_exact: exact,
            next,
        }
    }

    /// How many slots lie in `(lower, newest]` (`newest` being a slot), and whether exactly.
    fn count_due(
        &self,
        lower: DateTime<Utc>,
        newest: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> (u64, bool) {
        if let Some(step) = self.schedule.interval_seconds() {
            let k_newest = newest.timestamp().div_euclid(step);
            let k_lower = lower.timestamp().div_euclid(step);
            let due = u64::try_from(k_newest.saturating_sub(k_lower)).unwrap_or(0);
            return (due, true);
        }
        let mut count = 0u64;
        let mut cursor = lower;
        while count < CATCH_UP_COUNT_LIMIT {
            match self.next_after(cursor, anchor) {
                Some(slot) if slot <= newest => {
                    count += 1;
                    cursor = slot;
                }
                _ => return (count, true),
            }
        }
        (count, cursor >= newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::problem::Errors;
    use serde_json::json;

    fn trigger(v: serde_json::Value) -> ScheduleTrigger {
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

    fn every_5s(misfire: &str) -> ScheduleTrigger {
        trigger(json!({"type": "schedule", "misfire": misfire,
            "schedule": {"kind": "seconds", "every": 5}}))
    }

    #[test]
    fn on_time_alarm_runs_its_slot() {
        let t = every_5s("skip");
        let anchor = utc("2026-01-01T00:00:00Z");
        let c = t.catch_up(
            Some(utc("2026-01-01T00:00:05Z")),
            utc("2026-01-01T00:00:10Z"),
            anchor,
        );
        assert_eq!(
            c,
            CatchUp {
                run: Some(utc("2026-01-01T00:00:10Z")),
                late: false,
                skipped: 0,
                skipped_exact: true,
                next: Some(utc("2026-01-01T00:00:15Z")),
            }
        );
    }

    #[test]
    fn double_alarm_runs_nothing_twice() {
        let t = every_5s("run_once");
        let anchor = utc("2026-01-01T00:00:00Z");
        let slot = utc("2026-01-01T00:00:10Z");
        let c = t.catch_up(Some(slot), utc("2026-01-01T00:00:10.300Z"), anchor);
        assert_eq!(c.run, None);
        assert_eq!(c.skipped, 0);
        assert_eq!(c.next, Some(utc("2026-01-01T00:00:15Z")));
    }

    #[test]
    fn first_wake_after_deploy_counts_from_the_deploy() {
        let t = every_5s("skip");
        let anchor = utc("2026-01-01T00:00:02Z");
        let c = t.catch_up(None, utc("2026-01-01T00:00:05Z"), anchor);
        assert_eq!(c.run, Some(utc("2026-01-01T00:00:05Z")));
        assert_eq!(c.skipped, 0);
        // A last slot from before a redeploy does not make old slots due.
        let c = t.catch_up(
            Some(utc("2025-12-01T00:00:00Z")),
            utc("2026-01-01T00:00:05Z"),
            anchor,
        );
        assert_eq!((c.run, c.skipped), (Some(utc("2026-01-01T00:00:05Z")), 0));
    }

    #[test]
    fn a_year_of_downtime_every_second_is_counted_exactly() {
        let anchor = utc("2026-01-01T00:00:00Z");
        let last = Some(anchor);
        let now = utc("2027-01-01T00:00:00.500Z"); // 365 days later
        let seconds = 365 * 86_400;
        let t = trigger(json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 1}}));
        let c = t.catch_up(last, now, anchor);
        // The newest slot (half a second ago) is on time and runs; all older ones are skipped.
        assert_eq!(c.run, Some(utc("2027-01-01T00:00:00Z")));
        assert!(!c.late);
        assert_eq!(c.skipped, seconds - 1);
        assert!(c.skipped_exact);
        assert_eq!(c.next, Some(utc("2027-01-01T00:00:01Z")));
    }

    #[test]
    fn skip_drops_a_misfired_slot_run_once_runs_the_newest() {
        let daily = |misfire: &str| {
            trigger(
                json!({"type": "schedule", "misfire": misfire, "timezone": "Europe/London",
                "schedule": {"kind": "daily", "at": "09:00"}}),
            )
        };
        let anchor = utc("2026-01-01T00:00:00Z");
        let last = Some(utc("2026-01-05T09:00:00Z"));
        let now = utc("2026-01-08T12:00:00Z"); // 06, 07, 08 at 09:00 were missed
        let skip = daily("skip").catch_up(last, now, anchor);
        assert_eq!(
            skip,
            CatchUp {
                run: None,
                late: false,
                skipped: 3,
                skipped_exact: true,
                next: Some(utc("2026-01-09T09:00:00Z")),
            }
        );
        let once = daily("run_once").catch_up(last, now, anchor);
        assert_eq!(
            once,
            CatchUp {
                run: Some(utc("2026-01-08T09:00:00Z")),
                late: true,
                skipped: 2,
                skipped_exact: true,
                next: Some(utc("2026-01-09T09:00:00Z")),
            }
        );
    }

    #[test]
    fn grace_decides_on_time() {
        let t = trigger(json!({"type": "schedule", "schedule": {"kind": "hourly", "minute": 0}}));
        let anchor = utc("2026-01-01T00:00:00Z");
        let last = Some(utc("2026-01-01T09:00:00Z"));
        let c = t.catch_up(last, utc("2026-01-01T10:01:00Z"), anchor);
        assert_eq!(
            (c.run, c.late, c.skipped),
            (Some(utc("2026-01-01T10:00:00Z")), false, 0)
        );
        let c = t.catch_up(last, utc("2026-01-01T10:01:01Z"), anchor);
        assert_eq!((c.run, c.skipped), (None, 1));
        let c = t.catch_up_with_grace(
            last,
            utc("2026-01-01T10:30:00Z"),
            anchor,
            TimeDelta::minutes(45),
        );
        assert_eq!(c.run, Some(utc("2026-01-01T10:00:00Z")));
    }

    #[test]
    fn wall_clock_counting_is_capped() {
        let t = trigger(json!({"type": "schedule", "misfire": "run_once",
            "schedule": {"kind": "cron", "expression": "* * * * *"}}));
        let anchor = utc("2026-01-01T00:00:00Z");
        let now = utc("2027-01-01T00:30:00Z");
        let c = t.catch_up(Some(anchor), now, anchor);
        assert_eq!(c.run, Some(utc("2027-01-01T00:30:00Z")));
        assert!(!c.late);
        assert!(!c.skipped_exact);
        assert_eq!(c.skipped, CATCH_UP_COUNT_LIMIT - 1);
        assert_eq!(c.next, Some(utc("2027-01-01T00:31:00Z")));
    }

    #[test]
    fn hourly_for_a_year_is_exact() {
        let t = trigger(json!({"type": "schedule", "timezone": "America/New_York",
            "schedule": {"kind": "hourly", "minute": 30}}));
        let anchor = utc("2026-01-01T00:00:00Z");
        let now = utc("2027-01-01T00:00:00Z");
        let c = t.catch_up(Some(anchor), now, anchor);
        assert!(c.skipped_exact);
        // The newest slot (18:30 EST) is 30 minutes old: misfired, skipped.
        assert_eq!(c.run, None);
        // 8760 UTC hours in 2026. Spring-forward day: 24 local slots in 23 hours (02:30 runs at
        // 03:00, then 03:30), one extra; fall-back day: 24 in 25 hours (01:30 once), one fewer.
        assert_eq!(c.skipped, 8760);
    }

    #[test]
    fn clock_behind_the_last_slot_arms_after_it() {
        let t = every_5s("skip");
        let anchor = utc("2026-01-01T00:00:00Z");
        let c = t.catch_up(
            Some(utc("2026-01-01T00:01:00Z")),
            utc("2026-01-01T00:00:30Z"),
            anchor,
        );
        assert_eq!(c.run, None);
        assert_eq!(c.next, Some(utc("2026-01-01T00:01:05Z")));
    }
}
