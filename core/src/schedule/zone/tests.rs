use super::*;
use chrono::NaiveDate;
use chrono::{LocalResult, Offset, TimeZone};

const NEW_YORK: Tz = Tz::of(chrono_tz::America::New_York);
const LORD_HOWE: Tz = Tz::of(chrono_tz::Australia::Lord_Howe);
const LONDON: Tz = Tz::of(chrono_tz::Europe::London);

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
    let r = resolve(NEW_YORK, naive(2026, 6, 1, 9, 0)).expect("resolves");
    assert_eq!(r.at, utc("2026-06-01T13:00:00Z"));
    assert!(!r.moved_by_gap);
}

#[test]
fn gap_moves_to_end_of_gap() {
    // 2026-03-08 02:30 does not exist in New York: clocks jump 02:00 EST -> 03:00 EDT (07:00Z).
    let r = resolve(NEW_YORK, naive(2026, 3, 8, 2, 30)).expect("resolves");
    assert_eq!(r.at, utc("2026-03-08T07:00:00Z"));
    assert!(r.moved_by_gap);
    // London: 2026-03-29 01:00 GMT -> 02:00 BST (01:00Z).
    let r = resolve(LONDON, naive(2026, 3, 29, 1, 15)).expect("resolves");
    assert_eq!(r.at, utc("2026-03-29T01:00:00Z"));
    assert!(r.moved_by_gap);
}

#[test]
fn repeated_time_takes_first_occurrence() {
    // 2026-11-01 01:30 happens twice in New York; the first is EDT (05:30Z).
    let r = resolve(NEW_YORK, naive(2026, 11, 1, 1, 30)).expect("resolves");
    assert_eq!(r.at, utc("2026-11-01T05:30:00Z"));
    assert!(!r.moved_by_gap);
}

#[test]
fn lord_howe_half_hour_gap() {
    // 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (2026-10-03T15:30Z).
    let r = resolve(LORD_HOWE, naive(2026, 10, 4, 2, 15)).expect("resolves");
    assert_eq!(r.at, utc("2026-10-03T15:30:00Z"));
    assert!(r.moved_by_gap);
}

#[test]
fn first_unreached_outside_and_inside_a_repeat() {
    let after = utc("2026-06-01T13:00:00Z");
    assert_eq!(
        first_unreached_local(NEW_YORK, after),
        Some(naive(2026, 6, 1, 9, 0) + TimeDelta::seconds(1))
    );
    // 01:10 EST (06:10Z) is in the repeated hour: the clock already showed up to 01:59:59.
    let after = utc("2026-11-01T06:10:00Z");
    assert_eq!(
        first_unreached_local(NEW_YORK, after),
        Some(naive(2026, 11, 1, 2, 0))
    );
}

#[test]
fn local_time_and_offset() {
    let t = utc("2026-07-01T12:00:00Z");
    assert_eq!(local_time(LONDON, t), Some(naive(2026, 7, 1, 13, 0)));
    assert_eq!(offset_seconds(LONDON, t), Some(3600));
    assert_eq!(offset_seconds(NEW_YORK, t), Some(-4 * 3600));
}

#[test]
fn extreme_instants_do_not_panic() {
    assert_eq!(local_time(LORD_HOWE, DateTime::<Utc>::MAX_UTC), None);
    let _ = local_time(NEW_YORK, DateTime::<Utc>::MIN_UTC);
    let _ = resolve(NEW_YORK, NaiveDateTime::MAX);
    let _ = resolve(LORD_HOWE, NaiveDateTime::MIN);
    let _ = first_unreached_local(NEW_YORK, DateTime::<Utc>::MAX_UTC);
}

#[test]
fn names_are_chrono_tz_zones_in_the_same_order() {
    assert_eq!(names::COUNT, chrono_tz::TZ_VARIANTS.len());
    assert_eq!(names::names().len(), names::COUNT);
    for (i, tz) in chrono_tz::TZ_VARIANTS.iter().enumerate() {
        assert_eq!(names::names()[i], tz.name());
        assert_eq!(Tz::of(*tz).name(), tz.name());
        assert_eq!(Tz::from_name(tz.name()), Some(Tz::of(*tz)));
    }
    assert_eq!(Tz::UTC, Tz::of(chrono_tz::UTC));
    assert_eq!(Tz::UTC.name(), "UTC");
    assert_eq!(Tz::from_name("america/new_york"), None);
    assert_eq!("US/Eastern".parse::<Tz>().map(Tz::name), Ok("US/Eastern"));
}

/// chrono-tz's own local-to-UTC mapping, by the DST rules (first occurrence; end of the gap).
fn chrono_tz_resolve(tz: chrono_tz::Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => Some(
            chrono_tz::GapInfo::new(&local, &tz)?
                .end?
                .with_timezone(&Utc),
        ),
    }
}

/// Resolving from offsets alone gives what chrono-tz gives from its transition tables, for every
/// zone, at every quarter hour around each offset change and at a spread of ordinary times.
#[test]
fn offset_based_resolution_matches_chrono_tz_for_every_zone() {
    let start = naive(2024, 1, 1, 0, 0).and_utc();
    for ctz in chrono_tz::TZ_VARIANTS {
        let tz = Tz::of(ctz);
        let offset = |t: DateTime<Utc>| ctz.offset_from_utc_datetime(&t.naive_utc()).fix();
        // Offset changes in 2024..2028 (daily steps), and local times around each one.
        let mut locals = Vec::new();
        for day in 0..(4 * 366) {
            let a = start + TimeDelta::days(day);
            let b = a + TimeDelta::days(1);
            locals.push(a.naive_utc() + TimeDelta::minutes(day * 37 % 1440));
            if offset(a) != offset(b) {
                let local = b
                    .naive_utc()
                    .checked_add_offset(offset(b))
                    .expect("in range");
                for q in -12..=12 {
                    locals.push(local + TimeDelta::minutes(15 * q));
                }
                let local = a
                    .naive_utc()
                    .checked_add_offset(offset(a))
                    .expect("in range");
                for q in 0..=96 {
                    locals.push(local + TimeDelta::minutes(15 * q));
                }
            }
        }
        for local in locals {
            let ours = resolve(tz, local).map(|r| r.at);
            assert_eq!(
                ours,
                chrono_tz_resolve(ctz, local),
                "{} {local}",
                ctz.name()
            );
            let gap = matches!(ctz.from_local_datetime(&local), LocalResult::None);
            assert_eq!(resolve(tz, local).map(|r| r.moved_by_gap), Some(gap));
        }
    }
}

#[test]
fn apia_skipped_day_is_one_gap() {
    // 2011-12-30 did not happen in Apia: 23:59:59 -10:00 on the 29th was followed by 00:00 +14:00
    // on the 31st (2011-12-30T10:00Z).
    let apia = Tz::of(chrono_tz::Pacific::Apia);
    let r = resolve(apia, naive(2011, 12, 30, 12, 0)).expect("resolves");
    assert_eq!(r.at, utc("2011-12-30T10:00:00Z"));
    assert!(r.moved_by_gap);
}

#[test]
fn local_shows_the_offset() {
    let t = utc("2026-07-01T12:00:00Z");
    let local = LONDON.local(t).expect("in range");
    assert_eq!(local.to_rfc3339(), "2026-07-01T13:00:00+01:00");
}

#[test]
fn offset_changes_in_a_year() {
    let (offset, changes) = offset_changes(
        NEW_YORK,
        utc("2026-01-01T00:00:00Z"),
        utc("2027-01-01T00:00:00Z"),
    )
    .expect("in range");
    assert_eq!(offset, -5 * 3600);
    assert_eq!(
        changes,
        vec![
            OffsetChange {
                at: utc("2026-03-08T07:00:00Z"),
                offset: -4 * 3600
            },
            OffsetChange {
                at: utc("2026-11-01T06:00:00Z"),
                offset: -5 * 3600
            },
        ]
    );
    let (offset, changes) = offset_changes(
        Tz::of(chrono_tz::Asia::Kolkata),
        utc("2026-01-01T00:00:00Z"),
        utc("2036-01-01T00:00:00Z"),
    )
    .expect("in range");
    assert_eq!((offset, changes), (19_800, vec![]));
}
