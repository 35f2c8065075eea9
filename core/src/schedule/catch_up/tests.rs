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
fn a_grace_of_zero_keeps_a_slot_on_time_within_its_second() {
    let t = trigger(json!({"type": "schedule", "schedule": {"kind": "daily", "at": "09:00"}}));
    let anchor = utc("2026-01-01T00:00:00Z");
    let last = Some(utc("2026-01-01T09:00:00Z"));
    let slot = utc("2026-01-02T09:00:00Z");
    for late_ms in [0, 1, 25, 999] {
        let now = slot + TimeDelta::milliseconds(late_ms);
        let c = t.catch_up_with_grace(last, now, anchor, TimeDelta::zero());
        assert_eq!(
            (c.run, c.late, c.skipped),
            (Some(slot), false, 0),
            "{late_ms} ms"
        );
    }
    let c = t.catch_up_with_grace(
        last,
        slot + TimeDelta::seconds(1),
        anchor,
        TimeDelta::zero(),
    );
    assert_eq!((c.run, c.skipped), (None, 1));
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
    // 03:00, then 03:30), one extra; fall-back day: 25 in 25 hours (01:30 in both passes).
    assert_eq!(c.skipped, 8761);
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
