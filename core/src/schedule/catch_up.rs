//! What a schedule's timer does when it wakes: which slot to run, how many were missed, and the
//! next slot to arm. The same call serves an on-time alarm, a late one, and the reconciler after
//! long downtime, and its work is bounded whatever the gap.
//!
//! Rules:
//! - The slots *due* are those in `(lower, now]`, where `lower` is the last slot run, or the deploy
//!   instant (`anchor`) if none ran or if the last one is older than the deploy: slots from before
//!   a deploy are never run.
//! - The newest due slot is *on time* if `now - slot < grace + 1 s` (whole seconds of lateness;
//!   default `MISFIRE_GRACE_SECONDS`); it runs whatever the policy. A slot past its grace has *misfired*: `skip` drops it,
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
        // Slots are whole seconds and an alarm is never exactly on time: the grace counts whole
        // seconds of lateness, so a grace of 0 means "within the slot's own second".
        let on_time = now - newest < grace.max(TimeDelta::zero()) + TimeDelta::seconds(1);
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
mod tests;
