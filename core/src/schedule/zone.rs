//! Wall-clock time in a time zone, and Tripline's DST rules for turning a local time into an
//! instant:
//! - a local time that does not exist (spring-forward gap) runs at the first instant after the gap;
//! - a local time that happens twice (fall-back) runs once, at its first occurrence.
//!
//! Everything is checked: instants at the edge of chrono's range give `None`, never a panic.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

/// Where a planned local time lands on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The instant it runs at.
    pub at: DateTime<Utc>,
    /// True when the local time did not exist (DST gap) and was moved to the end of the gap.
    pub moved_by_gap: bool,
}

/// The instant a local wall-clock time runs at, by the DST rules above.
/// `None` only outside the range chrono and the zone data can represent.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> Option<Resolved> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(Resolved {
            at: t.with_timezone(&Utc),
            moved_by_gap: false,
        }),
        LocalResult::Ambiguous(a, b) => Some(Resolved {
            at: a.min(b).with_timezone(&Utc),
            moved_by_gap: false,
        }),
        LocalResult::None => {
            let end = GapInfo::new(&local, &tz)?.end?;
            Some(Resolved {
                at: end.with_timezone(&Utc),
                moved_by_gap: true,
            })
        }
    }
}

/// The wall-clock time in `tz` at instant `at` (checked; `None` past chrono's range).
pub fn local_time(tz: Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc().checked_add_offset(offset)
}

/// The zone's UTC offset at `at`, in seconds east of UTC.
pub fn offset_seconds(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The smallest local time that has not yet been shown by the clock at or before `after`:
/// every local time below it resolves to an instant `<= after`, it and everything above it to an
/// instant `> after`. Usually `local_time(after) + 1s`; inside a repeated (fall-back) span it is
/// the end of the span. Found by bisection, since `resolve` is monotone in the local time.
/// `after` must be a whole second.
pub fn first_unreached_local(tz: Tz, after: DateTime<Utc>) -> Option<NaiveDateTime> {
    let reached = |x: NaiveDateTime| resolve(tz, x).map(|r| r.at <= after);
    let lo_start = local_time(tz, after)?;
    let mut lo = lo_start; // reached
    let mut hi = lo.checked_add_signed(TimeDelta::seconds(1))?;
    if !reached(hi)? {
        return Some(hi);
    }
    // Widen until the clock has certainly not reached `hi` (repeats are at most a day or so).
    let mut width = TimeDelta::hours(1);
    loop {
        lo = hi;
        hi = lo_start.checked_add_signed(width)?;
        if !reached(hi)? {
            break;
        }
        if width > TimeDelta::days(8) {
            return None;
        }
        width = width.checked_mul(2)?;
    }
    // Invariant: reached(lo), !reached(hi), whole seconds apart.
    while (hi - lo) > TimeDelta::seconds(1) {
        let half = TimeDelta::seconds((hi - lo).num_seconds() / 2);
        let mid = lo.checked_add_signed(half)?;
        if reached(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// `t` with its sub-second part dropped (fire instants are whole seconds).
pub fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests;
