//! Time zones, and Tripline's DST rules for turning a local time into an instant:
//! - a local time that does not exist (spring-forward gap) runs at the first instant after the gap;
//! - a local time that happens twice (fall-back) runs at its first occurrence; a plan that
//!   follows the clock (`WallClockPlan::both_passes`) runs in the second pass too
//!   ([`second_pass_near`]).
//!
//! A zone is one of the IANA names in [`names`]; its rules (the UTC offset at an instant) come
//! from a [`ZoneSource`]. Natively that is the tz database compiled in by chrono-tz (cargo
//! feature `chrono-tz`, on by default); the Worker installs one backed by the platform's
//! `Intl.DateTimeFormat` instead, which keeps ~1 MB of tables out of the wasm (docs/size.md).
//! Everything here asks the source only for offsets at UTC instants, so the same DST logic runs
//! on either source, and agreement of the offsets is all that has to be proven between them.
//!
//! Everything is checked: instants at the edge of the representable range give `None`, never a
//! panic.

mod names;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, Utc};

/// An IANA time zone (or link) name Tripline accepts, e.g. `Europe/London`, `US/Eastern`, `UTC`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tz(u16);

impl Tz {
    /// `UTC`.
    pub const UTC: Tz = Tz(592);

    /// The zone's name, as the tz database spells it.
    pub fn name(self) -> &'static str {
        names::names()
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("UTC")
    }

    /// The zone named exactly `name` (case matters, as in the tz database).
    pub fn from_name(name: &str) -> Option<Tz> {
        let i = names::names().binary_search(&name).ok()?;
        u16::try_from(i).ok().map(Tz)
    }

    /// Every zone, in name order.
    pub fn all() -> impl Iterator<Item = Tz> {
        (0..names::COUNT).filter_map(|i| u16::try_from(i).ok().map(Tz))
    }

    /// The zone's offset from UTC at `at`, from the installed [`ZoneSource`].
    pub fn offset_at(self, at: DateTime<Utc>) -> Option<FixedOffset> {
        FixedOffset::east_opt(offset_at(self, at.timestamp())?)
    }

    /// `at` as a local date-time with the zone's offset (for display).
    pub fn local(self, at: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        Some(at.with_timezone(&self.offset_at(at)?))
    }

    /// The same zone as chrono-tz's `tz` (both list the zones in name order).
    #[cfg(any(feature = "chrono-tz", test))]
    pub const fn of(tz: chrono_tz::Tz) -> Tz {
        Tz(tz as u16)
    }
}

impl fmt::Debug for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tz {
    type Err = ();
    fn from_str(s: &str) -> Result<Tz, ()> {
        Tz::from_name(s).ok_or(())
    }
}

/// Where the rules of the zones come from.
pub trait ZoneSource: Sync {
    /// The UTC offset of `zone` at the instant `unix_seconds`, in seconds east of UTC; `None`
    /// when the source cannot tell (unknown zone, instant out of its range).
    fn offset_at(&self, zone: Tz, unix_seconds: i64) -> Option<i32>;
}

static SOURCE: OnceLock<&'static dyn ZoneSource> = OnceLock::new();

/// Makes `source` the rules for every zone, for the life of the process. The first call wins;
/// `false` when a source was already installed. Without one, the compiled-in tz database is
/// used when the `chrono-tz` feature is on, else every zone lookup gives `None`.
pub fn install_source(source: &'static dyn ZoneSource) -> bool {
    SOURCE.set(source).is_ok()
}

fn offset_at(zone: Tz, unix_seconds: i64) -> Option<i32> {
    if let Some(source) = SOURCE.get() {
        return source.offset_at(zone, unix_seconds);
    }
    #[cfg(any(feature = "chrono-tz", test))]
    {
        Bundled.offset_at(zone, unix_seconds)
    }
    #[cfg(not(any(feature = "chrono-tz", test)))]
    {
        None
    }
}

/// The tz database compiled in by chrono-tz.
#[cfg(any(feature = "chrono-tz", test))]
pub struct Bundled;

#[cfg(any(feature = "chrono-tz", test))]
impl ZoneSource for Bundled {
    fn offset_at(&self, zone: Tz, unix_seconds: i64) -> Option<i32> {
        use chrono::{Offset, TimeZone};
        let tz = *chrono_tz::TZ_VARIANTS.get(usize::from(zone.0))?;
        let at = DateTime::from_timestamp(unix_seconds, 0)?;
        Some(
            tz.offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    }
}

/// Where a planned local time lands on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The instant it runs at.
    pub at: DateTime<Utc>,
    /// True when the local time did not exist (DST gap) and was moved to the end of the gap.
    pub moved_by_gap: bool,
}

const DAY: i64 = 86_400;

/// The instant a local wall-clock time runs at, by the DST rules above.
/// `None` only outside the range chrono and the zone source can represent.
///
/// From offsets alone: a local time `L` happens at `L - o` for each offset `o` the zone has around
/// it (the offsets a day before and a day after cover every real zone, whose offset changes at
/// most once in two days) for which the zone really has offset `o` at `L - o`. With no such
/// instant, `L` is in a gap, which ends at the offset change, found by bisection.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> Option<Resolved> {
    let wall = local.and_utc();
    let l = wall.timestamp();
    let nanos = wall.timestamp_subsec_nanos();
    let before = offset_at(tz, l.checked_sub(DAY)?)?;
    let after = offset_at(tz, l.checked_add(DAY)?)?;
    let mut first: Option<i64> = None;
    for o in [before, after] {
        let u = l.checked_sub(i64::from(o))?;
        if offset_at(tz, u)? == o {
            first = Some(first.map_or(u, |f| f.min(u)));
        }
    }
    if let Some(u) = first {
        return Some(Resolved {
            at: DateTime::from_timestamp(u, nanos)?,
            moved_by_gap: false,
        });
    }
    // A gap: the clock jumped from `before` to `after` somewhere in (L - after, L - before].
    if after <= before {
        return None;
    }
    let hi = first_change(tz, l - i64::from(after), l - i64::from(before), before)?;
    Some(Resolved {
        at: DateTime::from_timestamp(hi, 0)?,
        moved_by_gap: true,
    })
}

/// The first second in `(lo, hi]` at which `tz` no longer has `offset`, found by bisection:
/// the zone has `offset` at `lo` and another at `hi` (one change between them).
fn first_change(tz: Tz, mut lo: i64, mut hi: i64, offset: i32) -> Option<i64> {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(tz, mid)? == offset {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// The wall-clock time in `tz` at instant `at` (checked; `None` past the representable range).
pub fn local_time(tz: Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
    at.naive_utc().checked_add_offset(tz.offset_at(at)?)
}

/// The zone's UTC offset at `at`, in seconds east of UTC.
pub fn offset_seconds(tz: Tz, at: DateTime<Utc>) -> Option<i32> {
    offset_at(tz, at.timestamp())
}

/// A change of a zone's UTC offset: from `at` on, the zone is `offset` seconds east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetChange {
    pub at: DateTime<Utc>,
    pub offset: i32,
}

/// How far apart [`offset_changes`] samples the offset: changes less than this apart (none in
/// the tz database since 2000) would be missed.
pub const OFFSET_SAMPLE: TimeDelta = TimeDelta::hours(6);

/// The zone's offset at `from`, and every change of it in `(from, to]`, each to the second:
/// the offset is sampled every [`OFFSET_SAMPLE`] and each change found is bisected.
/// `None` when the source cannot tell an offset in the window.
pub fn offset_changes(
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<(i32, Vec<OffsetChange>)> {
    let (from, to) = (from.timestamp(), to.timestamp());
    let step = OFFSET_SAMPLE.num_seconds();
    let first = offset_at(tz, from)?;
    let (mut t, mut offset) = (from, first);
    let mut changes = Vec::new();
    while t < to {
        let next = t.saturating_add(step).min(to);
        let o = offset_at(tz, next)?;
        if o != offset {
            let hi = first_change(tz, t, next, offset)?;
            let now = offset_at(tz, hi)?;
            changes.push(OffsetChange {
                at: DateTime::from_timestamp(hi, 0)?,
                offset: now,
            });
            (t, offset) = (hi, now);
            continue;
        }
        t = next;
    }
    Some((first, changes))
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

/// A span of instants whose local times the clock already showed once: at `start` the zone set
/// its clock back from offset `from` to `to` (`from > to`), so the instants in
/// `[start, start + (from - to))` read the local times `[start + to, start + from)` a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondPass {
    pub start: DateTime<Utc>,
    pub from: i32,
    pub to: i32,
}

impl SecondPass {
    /// The first instant after the span.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.start
            .checked_add_signed(TimeDelta::seconds(i64::from(self.from - self.to)))
    }

    /// The local time the clock shows at `at` during the span.
    pub fn local(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        at.naive_utc()
            .checked_add_signed(TimeDelta::seconds(i64::from(self.to)))
    }

    /// The instant in the span at which the clock shows `local` (`None` when it shows it
    /// outside the span).
    pub fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let at = local
            .checked_sub_signed(TimeDelta::seconds(i64::from(self.to)))?
            .and_utc();
        (at >= self.start && at < self.end()?).then_some(at)
    }
}

/// The second pass of a clock set back within a day of `at`, if the zone set one there (real
/// zones change their offset at most once in two days, as `resolve` assumes).
pub fn second_pass_near(tz: Tz, at: DateTime<Utc>) -> Option<SecondPass> {
    let t = at.timestamp();
    let (lo, hi) = (t.checked_sub(DAY)?, t.checked_add(DAY)?);
    let (from, to) = (offset_at(tz, lo)?, offset_at(tz, hi)?);
    if from <= to {
        return None;
    }
    let hi = first_change(tz, lo, hi, from)?;
    let to = offset_at(tz, hi)?;
    (to < from).then_some(SecondPass {
        start: DateTime::from_timestamp(hi, 0)?,
        from,
        to,
    })
}

/// `t` with its sub-second part dropped (fire instants are whole seconds).
pub fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests;
