//! Wall-clock time in a time zone, and Tripline's DST rules for turning a local time into an
//! instant (DESIGN.md, "Time"):
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
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::London;

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .expect("valid test date")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid test instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn ordinary_time_is_single() {
        let r = resolve(New_York, naive(2026, 6, 1, 9, 0)).expect("resolves");
        assert_eq!(r.at, utc("2026-06-01T13:00:00Z"));
        assert!(!r.moved_by_gap);
    }

    #[test]
    fn gap_moves_to_end_of_gap() {
        // 2026-03-08 02:30 does not exist in New York: clocks jump 02:00 EST -> 03:00 EDT (07:00Z).
        let r = resolve(New_York, naive(2026, 3, 8, 2, 30)).expect("resolves");
        assert_eq!(r.at, utc("2026-03-08T07:00:00Z"));
        assert!(r.moved_by_gap);
        // London: 2026-03-29 01:00 GMT -> 02:00 BST (01:00Z).
        let r = resolve(London, naive(2026, 3, 29, 1, 15)).expect("resolves");
        assert_eq!(r.at, utc("2026-03-29T01:00:00Z"));
        assert!(r.moved_by_gap);
    }

    #[test]
    fn repeated_time_takes_first_occurrence() {
        // 2026-11-01 01:30 happens twice in New York; the first is EDT (05:30Z).
        let r = resolve(New_York, naive(2026, 11, 1, 1, 30)).expect("resolves");
        assert_eq!(r.at, utc("2026-11-01T05:30:00Z"));
        assert!(!r.moved_by_gap);
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (2026-10-03T15:30Z).
        let r = resolve(Lord_Howe, naive(2026, 10, 4, 2, 15)).expect("resolves");
        assert_eq!(r.at, utc("2026-10-03T15:30:00Z"));
        assert!(r.moved_by_gap);
    }

    #[test]
    fn first_unreached_outside_and_inside_a_repeat() {
        let after = utc("2026-06-01T13:00:00Z");
        assert_eq!(
            first_unreached_local(New_York, after),
            Some(naive(2026, 6, 1, 9, 0) + TimeDelta::seconds(1))
        );
        // 01:10 EST (06:10Z) is in the repeated hour: the clock already showed up to 01:59:59.
        let after = utc("2026-11-01T06:10:00Z");
        assert_eq!(
            first_unreached_local(New_York, after),
            Some(naive(2026, 11, 1, 2, 0))
        );
    }

    #[test]
    fn local_time_and_offset() {
        let t = utc("2026-07-01T12:00:00Z");
        assert_eq!(local_time(London, t), Some(naive(2026, 7, 1, 13, 0)));
        assert_eq!(offset_seconds(London, t), 3600);
        assert_eq!(offset_seconds(New_York, t), -4 * 3600);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        assert_eq!(local_time(Lord_Howe, DateTime::<Utc>::MAX_UTC), None);
        let _ = local_time(New_York, DateTime::<Utc>::MIN_UTC);
        let _ = resolve(New_York, NaiveDateTime::MAX);
        let _ = resolve(Lord_Howe, NaiveDateTime::MIN);
        let _ = first_unreached_local(New_York, DateTime::<Utc>::MAX_UTC);
    }
}
