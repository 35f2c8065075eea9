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
