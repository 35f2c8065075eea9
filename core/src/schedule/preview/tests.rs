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

fn rows(p: &[FireTime]) -> Vec<(&str, &str, bool)> {
    p.iter()
        .map(|f| (f.at.as_str(), f.utc.as_str(), f.dst_shifted))
        .collect()
}

#[test]
fn design_example_berlin_spring_forward_2027() {
    // Daily at 02:30 in Berlin: on 2027-03-28 02:30 does not exist (02:00 CET → 03:00 CEST).
    let t = trigger(json!({"type": "schedule", "timezone": "Europe/Berlin",
        "schedule": {"kind": "daily", "at": "02:30"}}));
    let after = utc("2027-03-26T12:00:00Z");
    let p = t.preview(after, after, 4);
    assert_eq!(
        rows(&p),
        [
            ("2027-03-27T02:30:00+01:00", "2027-03-27T01:30:00Z", false),
            ("2027-03-28T03:00:00+02:00", "2027-03-28T01:00:00Z", true),
            ("2027-03-29T02:30:00+02:00", "2027-03-29T00:30:00Z", false),
            ("2027-03-30T02:30:00+02:00", "2027-03-30T00:30:00Z", false),
        ]
    );
    let json = serde_json::to_value(&p[1]).expect("serializes");
    assert_eq!(
        json,
        json!({"at": "2027-03-28T03:00:00+02:00", "utc": "2027-03-28T01:00:00Z", "dst_shifted": true})
    );
}

#[test]
fn offset_change_marks_the_first_fire_after_it() {
    // Daily 09:00 New York across the 2026-11-01 fall-back: 09:00 EST is 14:00Z, not 13:00Z.
    let t = trigger(json!({"type": "schedule", "timezone": "America/New_York",
        "schedule": {"kind": "daily", "at": "09:00"}}));
    let after = utc("2026-10-31T00:00:00Z");
    let p = t.preview(after, after, 3);
    assert_eq!(
        rows(&p),
        [
            ("2026-10-31T09:00:00-04:00", "2026-10-31T13:00:00Z", false),
            ("2026-11-01T09:00:00-05:00", "2026-11-01T14:00:00Z", true),
            ("2026-11-02T09:00:00-05:00", "2026-11-02T14:00:00Z", false),
        ]
    );
}

#[test]
fn utc_zone_and_interval_kinds() {
    let t = trigger(json!({"type": "schedule", "schedule": {"kind": "minutes", "every": 15}}));
    let after = utc("2026-12-31T23:40:00Z");
    let p = t.preview(after, after, 2);
    assert_eq!(
        rows(&p),
        [
            ("2026-12-31T23:45:00+00:00", "2026-12-31T23:45:00Z", false),
            ("2027-01-01T00:00:00+00:00", "2027-01-01T00:00:00Z", false),
        ]
    );
}

#[test]
fn interval_across_london_spring_forward() {
    // Every 30 minutes in London; at 01:00Z on 2026-03-29 clocks go 01:00 GMT → 02:00 BST.
    let t = trigger(json!({"type": "schedule", "timezone": "Europe/London",
        "schedule": {"kind": "minutes", "every": 30}}));
    let after = utc("2026-03-29T00:15:00Z");
    let p = t.preview(after, after, 3);
    assert_eq!(
        rows(&p),
        [
            ("2026-03-29T00:30:00+00:00", "2026-03-29T00:30:00Z", false),
            ("2026-03-29T02:00:00+01:00", "2026-03-29T01:00:00Z", true),
            ("2026-03-29T02:30:00+01:00", "2026-03-29T01:30:00Z", false),
        ]
    );
}

#[test]
fn count_is_clamped_and_zero_is_empty() {
    let t = trigger(json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 1}}));
    let after = utc("2026-01-01T00:00:00Z");
    assert!(t.preview(after, after, 0).is_empty());
    assert_eq!(t.preview(after, after, usize::MAX).len(), PREVIEW_MAX);
}

#[test]
fn preview_query_is_checked() {
    assert_eq!(parse_preview_query(None, None), Ok((10, None)));
    assert_eq!(parse_preview_query(Some("100"), None), Ok((100, None)));
    assert_eq!(
        parse_preview_query(Some("1"), Some("2027-03-01T00:00:00-05:00")),
        Ok((1, Some(utc("2027-03-01T05:00:00Z"))))
    );
    for bad in ["0", "101", "-3", "ten", "", "1.5"] {
        let err = parse_preview_query(Some(bad), None).expect_err(bad);
        assert_eq!(err.0, "query.count");
        assert!(err.1.contains("1 to 100"), "{}", err.1);
    }
    let err = parse_preview_query(None, Some("yesterday")).expect_err("bad after");
    assert_eq!(err.0, "query.after");
    // Instants RFC 3339 cannot write in UTC (an answer would give them back as `+10000-…`).
    for far in ["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+01:00"] {
        let err = parse_preview_query(None, Some(far)).expect_err(far);
        assert_eq!(err.0, "query.after");
        assert!(err.1.contains("0000 to 9999"), "{}", err.1);
    }
    assert!(parse_preview_query(None, Some("9999-12-31T23:59:59Z")).is_ok());
    assert!(parse_preview_query(None, Some("0000-01-01T00:00:00Z")).is_ok());
}

#[test]
fn new_york_spring_forward_daily_0230() {
    // 2027-03-14: 02:00 EST → 03:00 EDT; 02:30 does not exist and runs at 03:00.
    let t = trigger(json!({"type": "schedule", "timezone": "America/New_York",
        "schedule": {"kind": "daily", "at": "02:30"}}));
    let after = utc("2027-03-12T12:00:00Z");
    let p = t.preview(after, after, 4);
    assert_eq!(
        rows(&p),
        [
            ("2027-03-13T02:30:00-05:00", "2027-03-13T07:30:00Z", false),
            ("2027-03-14T03:00:00-04:00", "2027-03-14T07:00:00Z", true),
            ("2027-03-15T02:30:00-04:00", "2027-03-15T06:30:00Z", false),
            ("2027-03-16T02:30:00-04:00", "2027-03-16T06:30:00Z", false),
        ]
    );
}

#[test]
fn end_of_time_is_not_a_panic() {
    let t = trigger(json!({"type": "schedule", "timezone": "Pacific/Kiritimati",
        "schedule": {"kind": "seconds", "every": 3600}}));
    let end = DateTime::<Utc>::MAX_UTC - chrono::TimeDelta::hours(3);
    assert!(t.preview(end, end, 10).len() < 10);
}

#[test]
fn stops_at_the_last_year_rfc_3339_can_write() {
    // Every fire time it gives can be sent back as `after`: none in year 10000, in UTC or in the
    // zone (Kiritimati is 14 hours ahead).
    let t = trigger(json!({"type": "schedule", "timezone": "Pacific/Kiritimati",
        "schedule": {"kind": "hourly", "minute": 0}}));
    let p = t.preview(
        utc("9999-12-31T05:30:00Z"),
        utc("2026-01-01T00:00:00Z"),
        100,
    );
    assert_eq!(p.len(), 4, "{p:?}");
    assert_eq!(p[3].at, "9999-12-31T23:00:00+14:00");
    let t = trigger(json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 30}}));
    let p = t.preview(
        utc("9999-12-31T23:58:00Z"),
        utc("2026-01-01T00:00:00Z"),
        100,
    );
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!(p[2].utc, "9999-12-31T23:59:30Z");
    for fire in &p {
        assert!(DateTime::parse_from_rfc3339(&fire.utc).is_ok(), "{fire:?}");
    }
}
