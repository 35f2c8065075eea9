//! Property tests for schedules: the invariants hold for every kind, in zones with odd DST rules,
//! and wall-clock fire times equal a brute-force oracle (every planned local minute, resolved by
//! the DST rules, shown twice in a repeated hour for plans that follow the clock, deduplicated),
//! also right around offset changes.
#![cfg(test)]

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday};
use proptest::prelude::*;

use crate::schedule::catch_up::{CatchUp, CATCH_UP_COUNT_LIMIT};
use crate::schedule::cron::CronSchedule;
use crate::schedule::wall_clock::WallClockPlan;
use crate::schedule::zone::{local_time, offset_seconds, resolve, Tz};
use crate::schedule::{Misfire, Schedule, ScheduleTrigger, WEEK};

const ZONES: [Tz; 15] = [
    Tz::UTC,
    Tz::of(chrono_tz::America::New_York),
    Tz::of(chrono_tz::Europe::London),
    Tz::of(chrono_tz::Australia::Lord_Howe),
    Tz::of(chrono_tz::Asia::Kolkata),
    Tz::of(chrono_tz::America::Sao_Paulo), // DST used to start at midnight
    Tz::of(chrono_tz::America::Havana),    // DST gap at 00:00
    Tz::of(chrono_tz::Pacific::Chatham),   // +12:45 / +13:45
    Tz::of(chrono_tz::America::St_Johns),  // -03:30 / -02:30
    Tz::of(chrono_tz::Asia::Kathmandu),    // +05:45
    Tz::of(chrono_tz::Africa::Casablanca), // DST suspended during Ramadan
    Tz::of(chrono_tz::Europe::Dublin),     // "negative" DST in the tz data
    Tz::of(chrono_tz::Pacific::Apia),      // skipped 2011-12-30 entirely
    Tz::of(chrono_tz::America::Santiago),
    Tz::of(chrono_tz::Asia::Tehran),
];

const CRONS: [&str; 11] = [
    "* * * * *",
    "*/15 1 * * 0",
    "*/7 * * * *",
    "30 2 * * *",
    "0 0 * * *",
    "15,45 1-3 * * 0",
    "0 9 13 * 5",
    "0 0 29 2 *",
    "59 23 31 12 *",
    "0 */5 * jan,jul mon-fri",
    "@weekly",
];

fn schedule() -> impl Strategy<Value = Schedule> {
    let at = (0u32..24, 0u32..60)
        .prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN));
    prop_oneof![
        (1u32..=3600).prop_map(|every| Schedule::Seconds { every }),
        (1u32..=1440).prop_map(|every| Schedule::Minutes { every }),
        (0u32..60).prop_map(|minute| Schedule::Hourly { minute }),
        (1u32..=365, at.clone()).prop_map(|(every, at)| Schedule::Daily { every, at }),
        (1u8..128, at).prop_map(|(mask, at)| Schedule::Weekly {
            days: WEEK
                .into_iter()
                .filter(|d| mask & (1 << d.num_days_from_monday()) != 0)
                .collect(),
            at,
        }),
        prop::sample::select(CRONS.to_vec()).prop_map(|e| Schedule::Cron(
            CronSchedule::parse(e).unwrap_or_else(|p| panic!("{p:?}"))
        )),
    ]
}

fn trigger() -> impl Strategy<Value = ScheduleTrigger> {
    (
        schedule(),
        prop::sample::select(ZONES.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(schedule, timezone, once)| ScheduleTrigger {
            schedule,
            timezone,
            misfire: if once {
                Misfire::RunOnce
            } else {
                Misfire::Skip
            },
        })
}

/// An instant between 2000 and 2100, with a sub-second part.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or_default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn upcoming_is_strictly_increasing_whole_seconds(t in trigger(), after in instant(), anchor in instant()) {
        let times: Vec<_> = t.upcoming(after, anchor).take(25).collect();
        prop_assert_eq!(times.len(), 25);
        let mut previous = after;
        for at in times {
            prop_assert!(at > previous, "{} !> {}", at, previous);
            prop_assert_eq!(at.timestamp_subsec_nanos(), 0);
            previous = at;
        }
    }

    #[test]
    fn next_after_is_after_and_last_at_or_before_agrees(t in trigger(), at in instant(), anchor in instant()) {
        let next = t.next_after(at, anchor).expect("fires within 50 years");
        prop_assert!(next > at);
        prop_assert_eq!(t.last_at_or_before(next, anchor), Some(next));
        let last = t.last_at_or_before(at, anchor).expect("fired within 50 years");
        prop_assert!(last <= at);
        prop_assert!(last < next);
        // Nothing fires in (last, next): the next after `last` is `next`.
        prop_assert_eq!(t.next_after(last, anchor), Some(next));
        prop_assert_eq!(t.next_after(next - TimeDelta::seconds(1), anchor), Some(next));
    }

    #[test]
    fn interval_spacing_is_exact_and_epoch_aligned(every in 1i64..=3600, minutes in any::<bool>(), tz in prop::sample::select(ZONES.to_vec()), after in instant()) {
        let every = u32::try_from(every).unwrap_or(1);
        let (schedule, step) = if minutes {
            (Schedule::Minutes { every: every.min(1440) }, i64::from(every.min(1440)) * 60)
        } else {
            (Schedule::Seconds { every }, i64::from(every))
        };
        let t = ScheduleTrigger { schedule, timezone: tz, misfire: Misfire::Skip };
        let times: Vec<_> = t.upcoming(after, after).take(10).collect();
        prop_assert!(times[0] > after);
        prop_assert!(times[0] - after <= TimeDelta::seconds(step));
        for pair in times.windows(2) {
            prop_assert_eq!((pair[1] - pair[0]).num_seconds(), step);
        }
        for at in times {
            prop_assert_eq!(at.timestamp().rem_euclid(step), 0);
        }
    }

    #[test]
    fn daily_runs_every_local_day_at_its_time_or_the_end_of_a_gap(h in 0u32..24, m in 0u32..60, tz in prop::sample::select(ZONES.to_vec()), after in instant()) {
        let at = NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        let t = ScheduleTrigger { schedule: Schedule::Daily { every: 1, at }, timezone: tz, misfire: Misfire::Skip };
        let after = after.max(DateTime::from_timestamp(1_356_998_400, 0).unwrap_or_default()); // 2013+: no skipped days
        let mut previous_date = None;
        for fire in t.upcoming(after, after).take(40) {
            let local = local_time(tz, fire).expect("in range");
            // The fire is the first occurrence of its intended local time, or the end of the gap it fell in.
            let intended = resolve(tz, local.date().and_time(at)).expect("resolves");
            prop_assert_eq!(intended.at, fire);
            prop_assert!(intended.moved_by_gap || local.time() == at);
            if let Some(previous) = previous_date {
                prop_assert_eq!(local.date(), chrono::NaiveDate::succ_opt(&previous).expect("date"));
            }
            previous_date = Some(local.date());
        }
    }

    #[test]
    fn weekly_fires_only_on_its_days(mask in 1u8..128, h in 0u32..24, m in 0u32..60, tz in prop::sample::select(ZONES.to_vec()), after in instant()) {
        let days: Vec<Weekday> = WEEK
            .into_iter().filter(|d| mask & (1 << d.num_days_from_monday()) != 0).collect();
        let at = NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        let t = ScheduleTrigger { schedule: Schedule::Weekly { days: days.clone(), at }, timezone: tz, misfire: Misfire::Skip };
        let after = after.max(DateTime::from_timestamp(1_356_998_400, 0).unwrap_or_default());
        let fires: Vec<_> = t.upcoming(after, after).take(15).collect();
        for fire in &fires {
            let local = local_time(tz, *fire).expect("in range");
            // A fire moved out of a gap can land on the next day only if the gap spans midnight.
            let intended_day = if local.time() >= at { local.date() } else { local.date().pred_opt().expect("date") };
            prop_assert!(days.contains(&intended_day.weekday()), "{} fired on {}", local, intended_day.weekday());
        }
        // One fire per chosen day per week.
        let weeks = (fires[fires.len() - 1] - fires[0]).num_days() / 7;
        prop_assert!(fires.len() as i64 >= weeks * days.len() as i64);
    }

    #[test]
    fn catch_up_accounts_for_every_due_slot(t in trigger(), anchor in instant(), last_gap in 0i64..200_000, down in 0i64..60_000, grace in 0i64..7200) {
        let last = anchor + TimeDelta::seconds(last_gap % 50_000);
        let now = last + TimeDelta::seconds(down) + TimeDelta::milliseconds(250);
        let last_slot = if last_gap >= 100_000 { None } else { Some(last) };
        let lower = last_slot.unwrap_or(anchor).max(anchor);
        let c: CatchUp = t.catch_up_with_grace(last_slot, now, anchor, TimeDelta::seconds(grace));
        // Brute force: every slot in (lower, now].
        let due: Vec<_> = t.upcoming(lower, anchor).take_while(|s| *s <= now).collect();
        prop_assert!(c.skipped_exact || due.len() as u64 >= CATCH_UP_COUNT_LIMIT);
        if c.skipped_exact {
            prop_assert_eq!(c.skipped + u64::from(c.run.is_some()), due.len() as u64);
        }
        match due.last() {
            None => prop_assert_eq!(c.run, None),
            Some(newest) => {
                // Whole seconds of lateness: within `grace` seconds and the fraction after.
                let on_time = now - *newest < TimeDelta::seconds(grace + 1);
                let expected = if on_time || t.misfire == Misfire::RunOnce { Some(*newest) } else { None };
                prop_assert_eq!(c.run, expected);
                prop_assert_eq!(c.late, expected.is_some() && !on_time);
            }
        }
        prop_assert_eq!(c.next, t.next_after(now.max(lower), anchor));
        if let Some(next) = c.next {
            prop_assert!(next > now && next > lower);
        }
    }
}

/// The oracle's instants for a planned local time `n`: where the DST rules put it and, for a
/// plan that follows the clock, every instant at which the clock shows it (both passes of a
/// repeated hour). Occurrences are found by trying the zone's offsets a day either side.
fn fire_instants(tz: Tz, plan: &WallClockPlan, n: NaiveDateTime) -> Vec<DateTime<Utc>> {
    let mut out: Vec<_> = resolve(tz, n).map(|r| r.at).into_iter().collect();
    if plan.both_passes {
        let wall = n.and_utc();
        for around in [wall - TimeDelta::days(1), wall + TimeDelta::days(1)] {
            let Some(o) = offset_seconds(tz, around) else {
                continue;
            };
            let at = wall - TimeDelta::seconds(i64::from(o));
            if local_time(tz, at) == Some(n) {
                out.push(at);
            }
        }
    }
    out
}

/// The instants in `year` at which `tz` changes its UTC offset (to the second).
fn transitions(tz: Tz, year: i32) -> Vec<DateTime<Utc>> {
    let start = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or_default();
    let mut out = Vec::new();
    for day in 0..366 {
        let (mut lo, mut hi) = (
            start + TimeDelta::days(day),
            start + TimeDelta::days(day + 1),
        );
        if offset_seconds(tz, lo) == offset_seconds(tz, hi) {
            continue;
        }
        let before = offset_seconds(tz, lo);
        while hi - lo > TimeDelta::seconds(1) {
            let mid = lo + TimeDelta::seconds((hi - lo).num_seconds() / 2);
            if offset_seconds(tz, mid) == before {
                lo = mid
            } else {
                hi = mid
            }
        }
        out.push(hi);
    }
    out
}

/// An instant within three hours of a DST (or other offset) change, when the zone has one.
fn near_transition() -> impl Strategy<Value = (Tz, DateTime<Utc>)> {
    (
        prop::sample::select(ZONES.to_vec()),
        2013i32..2099,
        any::<prop::sample::Index>(),
        -3 * 3600i64..3 * 3600,
        0u32..1_000_000_000,
    )
        .prop_map(|(tz, year, i, delta, nanos)| {
            let ts = transitions(tz, year);
            let base = if ts.is_empty() {
                chrono::NaiveDate::from_ymd_opt(year, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
                    .unwrap_or_default()
            } else {
                ts[i.index(ts.len())]
            };
            (
                tz,
                base + TimeDelta::seconds(delta) + TimeDelta::nanoseconds(i64::from(nanos)),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The oracle again, right around offset changes.
    #[test]
    fn wall_clock_matches_brute_force_near_transitions(t in trigger(), (tz, after) in near_transition(), anchor in instant()) {
        let t = ScheduleTrigger { timezone: tz, ..t };
        let Some(plan) = t.plan(anchor) else { return Ok(()) };
        let cutoff = after + TimeDelta::days(2);
        let start = local_time(tz, after).expect("in range") - TimeDelta::days(2);
        let start = start.date().and_time(NaiveTime::MIN);
        let mut oracle: Vec<DateTime<Utc>> = (0..6 * 1440)
            .map(|i| start + TimeDelta::minutes(i))
            .filter(|n| plan.contains(*n))
            .flat_map(|n| fire_instants(tz, &plan, n))
            .filter(|at| *at > after && *at <= cutoff)
            .collect();
        oracle.sort();
        oracle.dedup();
        let actual: Vec<_> = t.upcoming(after, anchor).take_while(|at| *at <= cutoff).collect();
        prop_assert_eq!(&actual, &oracle);
        // And the newest slot at `after` is the oracle's newest at or before it.
        let mut earlier: Vec<DateTime<Utc>> = (0..6 * 1440)
            .map(|i| start + TimeDelta::minutes(i))
            .filter(|n| plan.contains(*n))
            .flat_map(|n| fire_instants(tz, &plan, n))
            .filter(|at| *at <= after)
            .collect();
        earlier.sort();
        if let Some(newest) = earlier.last() {
            if *newest > after - TimeDelta::days(1) {
                prop_assert_eq!(t.last_at_or_before(after, anchor), Some(*newest));
            }
        }
    }

    #[test]
    fn upcoming_increases_near_transitions(t in trigger(), (tz, after) in near_transition(), anchor in instant()) {
        let t = ScheduleTrigger { timezone: tz, ..t };
        let mut previous = after;
        for at in t.upcoming(after, anchor).take(30) {
            prop_assert!(at > previous);
            prop_assert_eq!(t.last_at_or_before(at, anchor), Some(at));
            previous = at;
        }
        let p = t.preview(after, anchor, 30);
        prop_assert_eq!(p.len(), 30);
    }

    /// Checks `next_after` against a brute-force oracle: every local minute in a window that
    /// the plan contains, resolved by the DST rules, deduplicated.
    #[test]
    fn wall_clock_matches_brute_force(t in trigger(), after in instant(), anchor in instant()) {
        let Some(plan) = t.plan(anchor) else { return Ok(()) }; // interval kinds
        let tz = t.timezone;
        let after = after.max(DateTime::from_timestamp(1_356_998_400, 0).unwrap_or_default());
        let cutoff = after + TimeDelta::days(7);
        let start = local_time(tz, after).expect("in range") - TimeDelta::days(2);
        let start = start.date().and_time(NaiveTime::MIN);
        let mut oracle: Vec<DateTime<Utc>> = (0..11 * 1440)
            .map(|i| start + TimeDelta::minutes(i))
            .filter(|n| plan.contains(*n))
            .flat_map(|n| fire_instants(tz, &plan, n))
            .filter(|at| *at > after && *at <= cutoff)
            .collect();
        oracle.sort();
        oracle.dedup();
        let actual: Vec<_> = t.upcoming(after, anchor).take_while(|at| *at <= cutoff).collect();
        prop_assert_eq!(actual, oracle);
    }
}

#[test]
fn transitions_helper_finds_new_york_2026() {
    let utc = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    };
    assert_eq!(
        transitions(Tz::of(chrono_tz::America::New_York), 2026),
        [utc("2026-03-08T07:00:00Z"), utc("2026-11-01T06:00:00Z")]
    );
    assert!(transitions(Tz::of(chrono_tz::Asia::Kolkata), 2026).is_empty());
}

#[test]
fn dst_rules_continue_in_the_far_future() {
    // The zone data must still know DST decades ahead (2090-03-12 is a spring-forward day
    // in New York under the current rules).
    let t = ScheduleTrigger {
        schedule: Schedule::Daily {
            every: 1,
            at: NaiveTime::from_hms_opt(2, 30, 0).unwrap_or(NaiveTime::MIN),
        },
        timezone: Tz::of(chrono_tz::America::New_York),
        misfire: Misfire::Skip,
    };
    let after = DateTime::parse_from_rfc3339("2090-03-11T12:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default();
    let p = t.preview(after, after, 1);
    assert_eq!(p[0].at, "2090-03-12T03:00:00-04:00");
    assert!(p[0].dst_shifted);
}
