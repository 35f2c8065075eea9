use super::*;

fn trigger(v: Value) -> ScheduleTrigger {
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

fn every(seconds: u32, misfire: &str) -> ScheduleTrigger {
    trigger(json!({"type": "schedule", "misfire": misfire,
        "schedule": {"kind": "seconds", "every": seconds}}))
}

const GRACE: TimeDelta = TimeDelta::seconds(60);

#[test]
fn an_on_time_alarm_runs_its_slot_and_arms_the_next() {
    let t = every(2, "skip");
    let anchor = utc("2026-01-01T00:00:00.400Z");
    let w = t.wake(None, utc("2026-01-01T00:00:02.003Z"), anchor, GRACE);
    assert_eq!(
        w,
        Wake {
            run: Some(utc("2026-01-01T00:00:02Z")),
            late: false,
            skipped: 0,
            handled_through: Some(utc("2026-01-01T00:00:02Z")),
            next: Some(utc("2026-01-01T00:00:04Z")),
        }
    );
    // The same alarm delivered twice plans nothing new.
    let again = t.wake(
        w.handled_through,
        utc("2026-01-01T00:00:02.500Z"),
        anchor,
        GRACE,
    );
    assert_eq!(again.run, None);
    assert_eq!(again.skipped, 0);
    assert_eq!(again.next, Some(utc("2026-01-01T00:00:04Z")));
    assert_eq!(again.handled_through, w.handled_through);
}

#[test]
fn a_deploy_wake_before_the_first_slot_only_arms() {
    let t = every(5, "skip");
    let anchor = utc("2026-01-01T00:00:01Z");
    let w = t.wake(None, utc("2026-01-01T00:00:01.020Z"), anchor, GRACE);
    assert_eq!(w.run, None);
    assert_eq!(w.handled_through, None);
    assert_eq!(w.next, Some(utc("2026-01-01T00:00:05Z")));
}

#[test]
fn skip_after_downtime_counts_once_and_moves_on() {
    let t = every(5, "skip");
    let anchor = utc("2026-01-01T00:00:00Z");
    let last = Some(utc("2026-01-01T00:00:10Z"));
    // Down from 00:12 to 00:31: 15, 20, 25, 30 were missed; 30 is 1 s late.
    let grace = TimeDelta::seconds(0);
    let w = t.wake(last, utc("2026-01-01T00:00:31Z"), anchor, grace);
    assert_eq!((w.run, w.skipped), (None, 4));
    assert_eq!(w.handled_through, Some(utc("2026-01-01T00:00:30Z")));
    assert_eq!(w.next, Some(utc("2026-01-01T00:00:35Z")));
    // A second wake (the reconciler racing the alarm) does not count them again.
    let w2 = t.wake(
        w.handled_through,
        utc("2026-01-01T00:00:32Z"),
        anchor,
        grace,
    );
    assert_eq!((w2.run, w2.skipped), (None, 0));
    // With the default grace the newest missed slot is still on time and runs.
    let w = t.wake(last, utc("2026-01-01T00:00:31Z"), anchor, GRACE);
    assert_eq!(
        (w.run, w.late, w.skipped),
        (Some(utc("2026-01-01T00:00:30Z")), false, 3)
    );
}

#[test]
fn run_once_after_downtime_runs_the_newest_missed_slot() {
    let t = every(5, "run_once");
    let anchor = utc("2026-01-01T00:00:00Z");
    let last = Some(utc("2026-01-01T00:00:10Z"));
    let w = t.wake(
        last,
        utc("2026-01-01T00:00:33Z"),
        anchor,
        TimeDelta::seconds(1),
    );
    assert_eq!(w.run, Some(utc("2026-01-01T00:00:30Z")));
    assert!(w.late);
    assert_eq!(w.skipped, 3);
    assert_eq!(w.handled_through, Some(utc("2026-01-01T00:00:30Z")));
    assert_eq!(w.next, Some(utc("2026-01-01T00:00:35Z")));
}

#[test]
fn a_redeploy_does_not_make_old_slots_due() {
    let t = every(5, "run_once");
    let last = Some(utc("2026-01-01T00:00:10Z"));
    let anchor = utc("2026-01-01T00:10:02Z"); // redeployed ten minutes later
    let w = t.wake(last, utc("2026-01-01T00:10:02.010Z"), anchor, GRACE);
    assert_eq!((w.run, w.skipped), (None, 0));
    assert_eq!(w.handled_through, last);
    assert_eq!(w.next, Some(utc("2026-01-01T00:10:05Z")));
}

#[test]
fn handled_through_never_goes_backwards() {
    let t = every(5, "skip");
    let anchor = utc("2026-01-01T00:00:00Z");
    let last = Some(utc("2026-01-01T00:01:00Z"));
    // An early (or clock-skewed) wake sees no due slot and keeps the mark.
    let w = t.wake(last, utc("2026-01-01T00:00:59Z"), anchor, GRACE);
    assert_eq!(w.handled_through, last);
    assert_eq!(w.run, None);
    assert_eq!(w.next, Some(utc("2026-01-01T00:01:05Z")));
}

#[test]
fn trigger_json_round_trips() {
    for v in [
        json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 2}}),
        json!({"type": "schedule", "schedule": {"kind": "minutes", "every": 90}, "timezone": "Asia/Kolkata"}),
        json!({"type": "schedule", "schedule": {"kind": "hourly", "minute": 7}, "misfire": "run_once"}),
        json!({"type": "schedule", "schedule": {"kind": "daily", "every": 3, "at": "02:30"}, "timezone": "America/New_York"}),
        json!({"type": "schedule", "schedule": {"kind": "weekly", "day": ["fri", "mon"], "at": "9:05"}}),
        json!({"type": "schedule", "schedule": {"kind": "cron", "expression": "*/15 9-17 * * 1-5"}, "timezone": "Europe/Berlin"}),
    ] {
        let t = trigger(v);
        let back = ScheduleTrigger::from_json(&t.to_json()).expect("round trip parses");
        assert_eq!(back, t);
    }
    assert_eq!(
        ScheduleTrigger::from_json(&json!({"type": "schedule"})),
        None
    );
    // Times of day are written zero-padded.
    let t = trigger(
        json!({"type": "schedule", "schedule": {"kind": "weekly", "day": "mon", "at": "9:05"}}),
    );
    assert_eq!(t.to_json()["schedule"]["at"], "09:05");
    let t = trigger(json!({"type": "schedule", "schedule": {"kind": "daily", "at": "23:59"}}));
    assert_eq!(t.to_json()["schedule"]["at"], "23:59");
}

#[test]
fn next_run_at_is_projected_over_an_alarm_not_fired_yet() {
    assert_eq!(projected_next(10_000, Some(1_000), 5_000), 10_000);
    assert_eq!(projected_next(10_000, Some(1_000), 10_000), 11_000);
    assert_eq!(projected_next(10_000, Some(1_000), 14_500), 15_000);
    assert_eq!(projected_next(10_000, Some(5_000), 14_999), 15_000);
    assert_eq!(projected_next(10_000, None, 14_500), 10_000);
}

#[test]
fn grace_comes_from_config_or_defaults_to_a_minute() {
    assert_eq!(grace_from_config(None), TimeDelta::seconds(60));
    assert_eq!(grace_from_config(Some("2")), TimeDelta::seconds(2));
    assert_eq!(grace_from_config(Some("0")), TimeDelta::zero());
    assert_eq!(grace_from_config(Some("-1")), TimeDelta::seconds(60));
    assert_eq!(grace_from_config(Some("soon")), TimeDelta::seconds(60));
}

#[test]
fn input_and_dedup_key_name_the_slot() {
    let slot = utc("2026-11-27T09:00:02Z");
    let fired = utc("2026-11-27T09:00:02.013Z");
    assert_eq!(dedup_key(slot), "2026-11-27T09:00:02Z");
    assert_eq!(
        run_input(slot, fired, false),
        json!({"schedule": {"scheduled_at": "2026-11-27T09:00:02.000Z",
            "fired_at": "2026-11-27T09:00:02.013Z", "late": false}})
    );
}
