use super::*;
use chrono::SecondsFormat;
use serde_json::json;

fn parse(v: Value) -> Result<ScheduleTrigger, Errors> {
    let mut errors = Errors::new();
    let t = ScheduleTrigger::parse(&v, "trigger", &mut errors);
    match t {
        Some(t) if errors.is_empty() => Ok(t),
        None if !errors.is_empty() => Err(errors),
        _ => panic!("parse result and errors disagree: {errors:?}"),
    }
}

fn trigger(tz: &str, schedule: Value) -> ScheduleTrigger {
    parse(json!({"type": "schedule", "timezone": tz, "schedule": schedule})).expect("valid")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid test instant")
        .with_timezone(&Utc)
}

/// The next `n` fire times after `after`, as local RFC 3339 strings.
fn fires(t: &ScheduleTrigger, after: &str, anchor: &str, n: usize) -> Vec<String> {
    t.upcoming(utc(after), utc(anchor))
        .take(n)
        .map(|at| {
            t.timezone
                .local(at)
                .expect("in range")
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        })
        .collect()
}

/// `(location, message)` pairs.
fn errors_of(v: Value) -> Vec<(String, String)> {
    parse(v)
        .expect_err("should be invalid")
        .0
        .into_iter()
        .map(|e| (e.location, e.message))
        .collect()
}

fn one_error(v: Value) -> (String, String) {
    let errors = errors_of(v);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().expect("one error")
}

fn sched(schedule: Value) -> Value {
    json!({"type": "schedule", "schedule": schedule})
}

// ---- parsing ----

#[test]
fn parses_the_issue_example_with_defaults() {
    let t = parse(json!({"type":"schedule","schedule":{"kind":"seconds","every":5},"timezone":"UTC","misfire":"skip"}))
        .expect("valid");
    assert_eq!(t.schedule, Schedule::Seconds { every: 5 });
    assert_eq!(t.timezone, Tz::UTC);
    assert_eq!(t.misfire, Misfire::Skip);
    let t = parse(sched(json!({"kind": "minutes", "every": 15}))).expect("valid");
    assert_eq!(t.timezone, Tz::UTC);
    assert_eq!(t.misfire, Misfire::Skip);
    assert_eq!(t.schedule.interval_seconds(), Some(900));
    let t = parse(
        json!({"type": "schedule", "misfire": "run_once", "timezone": null,
        "schedule": {"kind": "hourly", "minute": 59}}),
    )
    .expect("valid");
    assert_eq!((t.misfire, t.timezone), (Misfire::RunOnce, Tz::UTC));
    assert_eq!(t.schedule, Schedule::Hourly { minute: 59 });
}

#[test]
fn parses_every_kind() {
    let nine = NaiveTime::from_hms_opt(9, 0, 0).expect("valid");
    let t = trigger("Asia/Kolkata", json!({"kind": "daily", "at": "9:00"}));
    assert_eq!(t.schedule, Schedule::Daily { every: 1, at: nine });
    assert_eq!(t.timezone.name(), "Asia/Kolkata");
    let t = trigger("UTC", json!({"kind": "daily", "every": 3, "at": "09:00"}));
    assert_eq!(t.schedule, Schedule::Daily { every: 3, at: nine });
    let t = trigger(
        "UTC",
        json!({"kind": "weekly", "day": ["FRIDAY", "mon", "Wed", "mon"], "at": "09:00"}),
    );
    assert_eq!(
        t.schedule,
        Schedule::Weekly {
            days: vec![Weekday::Mon, Weekday::Wed, Weekday::Fri],
            at: nine
        }
    );
    let t = trigger(
        "UTC",
        json!({"kind": "weekly", "day": "Sun", "at": "23:59"}),
    );
    assert_eq!(t.schedule.kind(), "weekly");
    let t = trigger("UTC", json!({"kind": "cron", "expression": "0 9 * * 1-5"}));
    match &t.schedule {
        Schedule::Cron(c) => assert_eq!(c.expression(), "0 9 * * 1-5"),
        other => panic!("expected cron, got {other:?}"),
    }
    assert_eq!(
        trigger("UTC", json!({"kind": "seconds", "every": 3600}))
            .schedule
            .interval_seconds(),
        Some(3600)
    );
    assert_eq!(
        trigger("UTC", json!({"kind": "minutes", "every": 1440}))
            .schedule
            .interval_seconds(),
        Some(86_400)
    );
}

#[test]
fn interval_bounds() {
    for (kind, bad, max) in [
        ("seconds", 0, 3600),
        ("seconds", 3601, 3600),
        ("minutes", 0, 1440),
        ("minutes", 1441, 1440),
    ] {
        let (loc, msg) = one_error(sched(json!({"kind": kind, "every": bad})));
        assert_eq!(loc, "trigger.schedule.every");
        assert_eq!(msg, format!("must be between 1 and {max}, got {bad}"));
    }
    let (loc, msg) = one_error(sched(json!({"kind": "seconds", "every": "5"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.every", "must be an integer, got string")
    );
    let (loc, msg) = one_error(sched(json!({"kind": "seconds", "every": 1.5})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.every", "must be an integer, got number")
    );
    let (loc, msg) = one_error(sched(json!({"kind": "minutes"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.every", "is required")
    );
}

#[test]
fn hourly_minute_errors() {
    let (loc, msg) = one_error(sched(json!({"kind": "hourly", "minute": 60})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        (
            "trigger.schedule.minute",
            "must be between 0 and 59, got 60"
        )
    );
    let (loc, msg) = one_error(sched(json!({"kind": "hourly"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.minute", "is required")
    );
}

#[test]
fn time_of_day_errors() {
    for bad in [
        "25:00", "24:00", "9:5", "09:60", "09:30:00", "0930", "", "9.30", "-1:00", "+9:00", "٩:٣٠",
    ] {
        let (loc, msg) = one_error(sched(json!({"kind": "daily", "at": bad})));
        assert_eq!(loc, "trigger.schedule.at", "{bad}");
        assert!(msg.starts_with("must be a time of day as `HH:MM`"), "{msg}");
        assert!(msg.ends_with(&format!("got `{bad}`")), "{msg}");
    }
    assert_eq!(parse_time_of_day("00:00"), NaiveTime::from_hms_opt(0, 0, 0));
    assert_eq!(
        parse_time_of_day("23:59"),
        NaiveTime::from_hms_opt(23, 59, 0)
    );
    let (loc, msg) = one_error(sched(json!({"kind": "weekly", "day": "mon", "at": 900})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.at", "must be a string, got integer")
    );
    let (loc, msg) = one_error(sched(json!({"kind": "daily"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.at", "is required")
    );
}

#[test]
fn daily_every_errors() {
    let (loc, msg) = one_error(sched(json!({"kind": "daily", "every": 366, "at": "09:00"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        (
            "trigger.schedule.every",
            "must be between 1 and 365, got 366"
        )
    );
    let (loc, _) = one_error(sched(json!({"kind": "daily", "every": 0, "at": "09:00"})));
    assert_eq!(loc, "trigger.schedule.every");
}

#[test]
fn weekday_errors() {
    let (loc, msg) = one_error(sched(
        json!({"kind": "weekly", "day": "funday", "at": "09:00"}),
    ));
    assert_eq!(loc, "trigger.schedule.day");
    assert!(msg.starts_with("unknown day `funday`"), "{msg}");
    let errors = errors_of(sched(
        json!({"kind": "weekly", "day": ["mon", "xyz", 3], "at": "09:00"}),
    ));
    let locs: Vec<_> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(locs, ["trigger.schedule.day[1]", "trigger.schedule.day[2]"]);
    assert_eq!(errors[1].1, "must be a day name, got integer");
    let (loc, msg) = one_error(sched(json!({"kind": "weekly", "day": [], "at": "09:00"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.day", "must list at least one day")
    );
    let (loc, msg) = one_error(sched(json!({"kind": "weekly", "day": 1, "at": "09:00"})));
    assert_eq!(loc, "trigger.schedule.day");
    assert!(msg.ends_with("got integer"), "{msg}");
    let (loc, msg) = one_error(sched(json!({"kind": "weekly", "at": "09:00"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.day", "is required")
    );
    assert_eq!(parse_weekday("THURS"), Some(Weekday::Thu));
    assert_eq!(parse_weekday("m"), None);
}

#[test]
fn cron_errors_are_at_expression() {
    let (loc, msg) = one_error(sched(json!({"kind": "cron", "expression": "61 * * * *"})));
    assert_eq!(loc, "trigger.schedule.expression");
    assert!(msg.starts_with("minute field `61`"), "{msg}");
    let errors = errors_of(sched(json!({"kind": "cron", "expression": "* 25 * * 9"})));
    assert_eq!(errors.len(), 2);
    assert!(errors
        .iter()
        .all(|(l, _)| l == "trigger.schedule.expression"));
    let (loc, msg) = one_error(sched(json!({"kind": "cron", "expression": "0 0 * *"})));
    assert_eq!(loc, "trigger.schedule.expression");
    assert!(msg.contains("must have 5 fields"), "{msg}");
    let (loc, msg) = one_error(sched(json!({"kind": "cron"})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.expression", "is required")
    );
}

#[test]
fn kind_errors_list_the_allowed_kinds() {
    let (loc, msg) = one_error(sched(json!({"kind": "yearly"})));
    assert_eq!(loc, "trigger.schedule.kind");
    assert_eq!(
        msg,
        "unknown schedule kind `yearly`; expected one of: seconds, minutes, hourly, daily, weekly, cron"
    );
    let (loc, msg) = one_error(sched(json!({"every": 5})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.kind", "is required")
    );
    let (loc, msg) = one_error(sched(json!({"kind": 5})));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule.kind", "must be a string, got integer")
    );
    let (loc, msg) = one_error(sched(json!("every 5 seconds")));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule", "must be an object, got string")
    );
    let (loc, msg) = one_error(json!({"type": "schedule"}));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.schedule", "is required")
    );
    let (loc, msg) = one_error(json!([]));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger", "must be an object, got array")
    );
}

#[test]
fn timezone_errors_name_the_zone() {
    let (loc, msg) = one_error(json!({"type": "schedule", "timezone": "Mars/Olympus",
        "schedule": {"kind": "seconds", "every": 5}}));
    assert_eq!(loc, "trigger.timezone");
    assert!(
        msg.starts_with("unknown time zone `Mars/Olympus`; use an IANA"),
        "{msg}"
    );
    let (_, msg) = one_error(json!({"type": "schedule", "timezone": "america/new_york",
        "schedule": {"kind": "seconds", "every": 5}}));
    assert_eq!(
        msg,
        "unknown time zone `america/new_york`; did you mean `America/New_York`?"
    );
    // A typo, a space for `_`: the nearest zone within two edits.
    for (typo, meant) in [
        ("Europe/Berln", "Europe/Berlin"),
        ("America/New York", "America/New_York"),
        (" asia/tokyo ", "Asia/Tokyo"),
        ("Amercia/Chicago", "America/Chicago"),
    ] {
        assert_eq!(crate::schedule::closest_zone(typo), Some(meant), "{typo}");
    }
    let long = "x".repeat(900_000);
    for far in ["Mars/Olympus", "Berlin", "", "Europe/Bxxxxx", long.as_str()] {
        assert_eq!(crate::schedule::closest_zone(far), None, "{far}");
    }
    // Abbreviations and offsets are near other zones hours apart: none is suggested (only a
    // zone spelled in other case is).
    for abbreviation in ["PST", "EDT", "CDT", "IST", "MSK", "HKT", "GMT+5", "Jpan"] {
        assert_eq!(
            crate::schedule::closest_zone(abbreviation),
            None,
            "{abbreviation}"
        );
    }
    assert_eq!(crate::schedule::closest_zone("utc"), Some("UTC"));
    let (_, msg) = one_error(json!({"type": "schedule", "timezone": "PST",
        "schedule": {"kind": "seconds", "every": 5}}));
    assert!(msg.contains("an abbreviation (`PST`"), "{msg}");
    let (loc, msg) = one_error(json!({"type": "schedule", "timezone": 2,
        "schedule": {"kind": "seconds", "every": 5}}));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        ("trigger.timezone", "must be a string, got integer")
    );
    // Any IANA name, including legacy links.
    assert!(parse(json!({"type": "schedule", "timezone": "US/Eastern", "schedule": {"kind": "seconds", "every": 5}})).is_ok());
    assert!(parse(json!({"type": "schedule", "timezone": "Australia/Lord_Howe", "schedule": {"kind": "seconds", "every": 5}})).is_ok());
}

#[test]
fn misfire_errors() {
    let (loc, msg) = one_error(json!({"type": "schedule", "misfire": "catch_up",
        "schedule": {"kind": "seconds", "every": 5}}));
    assert_eq!(
        (loc.as_str(), msg.as_str()),
        (
            "trigger.misfire",
            "must be `skip` or `run_once`, got `catch_up`"
        )
    );
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let (loc, msg) = one_error(sched(json!({"kind": "seconds", "every": 5, "at": "09:00"})));
    assert_eq!(loc, "trigger.schedule.at");
    assert_eq!(msg, "unknown field `at`; expected one of: kind, every");
    let (loc, msg) = one_error(json!({"type": "schedule", "tz": "UTC",
        "schedule": {"kind": "seconds", "every": 5}}));
    assert_eq!(loc, "trigger.tz");
    assert_eq!(
        msg,
        "unknown field `tz`; expected one of: type, schedule, timezone, misfire"
    );
    let (loc, _) = one_error(sched(
        json!({"kind": "weekly", "days": ["mon"], "day": "mon", "at": "09:00"}),
    ));
    assert_eq!(loc, "trigger.schedule.days");
    let errors = errors_of(sched(
        json!({"kind": "weekly", "day": "x", "at": "9", "typo": 1}),
    ));
    let locs: Vec<_> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locs,
        [
            "trigger.schedule.day",
            "trigger.schedule.at",
            "trigger.schedule.typo"
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = errors_of(
        json!({"type": "schedule", "timezone": "Nowhere", "misfire": "never",
        "extra": 1, "schedule": {"kind": "daily", "every": 0, "at": "25:00", "typo": true}}),
    );
    let locs: Vec<_> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locs,
        [
            "trigger.schedule.every",
            "trigger.schedule.at",
            "trigger.schedule.typo",
            "trigger.timezone",
            "trigger.misfire",
            "trigger.extra"
        ]
    );
}

// ---- interval kinds ----

#[test]
fn seconds_are_aligned_to_the_epoch() {
    let t = trigger("UTC", json!({"kind": "seconds", "every": 2}));
    let a = "2026-01-01T00:00:00Z";
    assert_eq!(
        fires(&t, "2026-05-05T10:00:01.700Z", a, 3),
        [
            "2026-05-05T10:00:02+00:00",
            "2026-05-05T10:00:04+00:00",
            "2026-05-05T10:00:06+00:00"
        ]
    );
    let t = trigger("UTC", json!({"kind": "seconds", "every": 5}));
    assert_eq!(
        t.next_after(utc("2026-05-05T10:00:04.999Z"), utc(a)),
        Some(utc("2026-05-05T10:00:05Z"))
    );
    assert_eq!(
        t.next_after(utc("2026-05-05T10:00:05Z"), utc(a)),
        Some(utc("2026-05-05T10:00:10Z"))
    );
    assert_eq!(
        t.next_after(utc("2026-05-05T10:00:05.001Z"), utc(a)),
        Some(utc("2026-05-05T10:00:10Z"))
    );
    // Before the epoch too (div_euclid, not truncation).
    assert_eq!(
        t.next_after(utc("1969-12-31T23:59:57Z"), utc(a)),
        Some(utc("1970-01-01T00:00:00Z"))
    );
}

#[test]
fn minutes_are_utc_quarters_whatever_the_zone() {
    // Kolkata is +05:30: quarter hours in UTC are quarter hours locally too, just shifted.
    let t = trigger("Asia/Kolkata", json!({"kind": "minutes", "every": 15}));
    let a = "2026-01-01T00:00:00Z";
    assert_eq!(
        fires(&t, "2026-01-01T00:07:00Z", a, 2),
        ["2026-01-01T05:45:00+05:30", "2026-01-01T06:00:00+05:30"]
    );
    // Every 7 minutes: multiples of 420 s since the epoch.
    let t = trigger("UTC", json!({"kind": "minutes", "every": 7}));
    let next = t
        .next_after(utc("2026-01-01T00:00:00Z"), utc(a))
        .expect("fires");
    assert_eq!(next.timestamp() % 420, 0);
    assert!(next.timestamp() - utc("2026-01-01T00:00:00Z").timestamp() <= 420);
}

#[test]
fn interval_kinds_count_elapsed_time_across_dst() {
    // Every 60 minutes in New York across the fall-back: 01:00 EDT, 01:00 EST, 02:00 EST.
    let t = trigger("America/New_York", json!({"kind": "minutes", "every": 60}));
    assert_eq!(
        fires(&t, "2026-11-01T04:30:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T02:00:00-05:00"
        ]
    );
    // Lord Howe: 30-minute shift; hours in UTC are :30 then :00 local.
    let t = trigger(
        "Australia/Lord_Howe",
        json!({"kind": "minutes", "every": 60}),
    );
    assert_eq!(
        fires(&t, "2026-10-03T14:30:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-10-04T01:30:00+10:30",
            "2026-10-04T03:00:00+11:00",
            "2026-10-04T04:00:00+11:00"
        ]
    );
}

// ---- wall-clock kinds ----

#[test]
fn hourly_in_a_half_hour_zone() {
    let t = trigger("Asia/Kolkata", json!({"kind": "hourly", "minute": 0}));
    let next = t.next_after(utc("2026-06-01T10:10:00Z"), utc("2026-01-01T00:00:00Z"));
    assert_eq!(next, Some(utc("2026-06-01T10:30:00Z"))); // 16:00 IST
}

#[test]
fn hourly_new_york_spring_forward_runs_at_end_of_gap() {
    // 2026-03-08: 02:00 EST → 03:00 EDT.
    let t = trigger("America/New_York", json!({"kind": "hourly", "minute": 30}));
    assert_eq!(
        fires(&t, "2026-03-08T06:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:30:00-04:00"
        ]
    );
}

#[test]
fn hourly_new_york_fall_back_runs_the_repeated_hour_in_both_passes() {
    // 2026-11-01: 02:00 EDT → 01:00 EST; 01:30 happens twice and runs twice, an hour apart.
    let t = trigger("America/New_York", json!({"kind": "hourly", "minute": 30}));
    assert_eq!(
        fires(&t, "2026-11-01T04:00:00Z", "2026-01-01T00:00:00Z", 4),
        [
            "2026-11-01T00:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:30:00-05:00"
        ]
    );
    let anchor = utc("2026-01-01T00:00:00Z");
    // Asked from inside the repeated hour (01:10 EST), the next is 01:30 EST.
    let next = t.next_after(utc("2026-11-01T06:10:00Z"), anchor);
    assert_eq!(next, Some(utc("2026-11-01T06:30:00Z")));
    // And from after it (01:40 EST), 02:30 EST.
    let next = t.next_after(utc("2026-11-01T06:40:00Z"), anchor);
    assert_eq!(next, Some(utc("2026-11-01T07:30:00Z")));
    // The last one due at 01:10 EST is 01:30 EDT; at 01:45 EST it is 01:30 EST.
    let last = t.last_at_or_before(utc("2026-11-01T06:10:00Z"), anchor);
    assert_eq!(last, Some(utc("2026-11-01T05:30:00Z")));
    let last = t.last_at_or_before(utc("2026-11-01T06:45:00Z"), anchor);
    assert_eq!(last, Some(utc("2026-11-01T06:30:00Z")));
    // `daily` at a repeated time keeps firing once, at its first occurrence.
    let t = trigger("America/New_York", json!({"kind": "daily", "at": "01:30"}));
    assert_eq!(
        t.next_after(utc("2026-11-01T05:30:00Z"), anchor),
        Some(utc("2026-11-02T06:30:00Z"))
    );
}

#[test]
fn the_newest_slot_is_found_in_a_second_pass_days_back() {
    // Sundays 01:00–01:45 in both passes; 2026-11-01 is a Sunday and a fall-back day. Asked
    // days later, the newest slot is 01:45 EST (06:45Z), not 01:45 EDT.
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "*/15 1 * * 0"}),
    );
    let anchor = utc("2026-01-01T00:00:00Z");
    for at in [
        "2026-11-01T06:50:00Z",
        "2026-11-02T12:00:00Z",
        "2026-11-08T05:59:59Z",
    ] {
        assert_eq!(
            t.last_at_or_before(utc(at), anchor),
            Some(utc("2026-11-01T06:45:00Z")),
            "{at}"
        );
    }
    assert_eq!(
        t.next_after(utc("2026-11-01T06:45:00Z"), anchor),
        Some(utc("2026-11-08T06:00:00Z"))
    );
}

#[test]
fn daily_new_york_dst_both_ways() {
    let t = trigger("America/New_York", json!({"kind": "daily", "at": "02:30"}));
    assert_eq!(
        fires(&t, "2026-03-07T00:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-03-07T02:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00"
        ]
    );
    let t = trigger("America/New_York", json!({"kind": "daily", "at": "01:30"}));
    assert_eq!(
        fires(&t, "2026-10-31T00:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-10-31T01:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:30:00-05:00"
        ]
    );
    // From between the two 01:30s on the fall-back night: tomorrow, not the second 01:30.
    let next = t.next_after(utc("2026-11-01T05:45:00Z"), utc("2026-01-01T00:00:00Z"));
    assert_eq!(next, Some(utc("2026-11-02T06:30:00Z")));
}

#[test]
fn daily_london_dst_both_ways() {
    // 2026-03-29 01:00 GMT → 02:00 BST; 2026-10-25 02:00 BST → 01:00 GMT.
    let t = trigger("Europe/London", json!({"kind": "daily", "at": "01:30"}));
    assert_eq!(
        fires(&t, "2026-03-28T00:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-03-28T01:30:00+00:00",
            "2026-03-29T02:00:00+01:00",
            "2026-03-30T01:30:00+01:00"
        ]
    );
    assert_eq!(
        fires(&t, "2026-10-24T00:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-10-24T01:30:00+01:00",
            "2026-10-25T01:30:00+01:00",
            "2026-10-26T01:30:00+00:00"
        ]
    );
}

#[test]
fn lord_howe_thirty_minute_shift() {
    // 2026-10-04 02:00 +10:30 → 02:30 +11:00; 2026-04-05 02:00 +11:00 → 01:30 +10:30.
    let t = trigger(
        "Australia/Lord_Howe",
        json!({"kind": "daily", "at": "02:15"}),
    );
    assert_eq!(
        fires(&t, "2026-10-02T00:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-10-03T02:15:00+10:30",
            "2026-10-04T02:30:00+11:00",
            "2026-10-05T02:15:00+11:00"
        ]
    );
    let t = trigger(
        "Australia/Lord_Howe",
        json!({"kind": "hourly", "minute": 45}),
    );
    assert_eq!(
        fires(&t, "2026-04-04T13:00:00Z", "2026-01-01T00:00:00Z", 4),
        [
            "2026-04-05T00:45:00+11:00",
            "2026-04-05T01:45:00+11:00",
            "2026-04-05T01:45:00+10:30",
            "2026-04-05T02:45:00+10:30"
        ]
    );
}

#[test]
fn kolkata_daily() {
    let t = trigger("Asia/Kolkata", json!({"kind": "daily", "at": "09:00"}));
    assert_eq!(
        t.next_after(utc("2026-06-01T00:00:00Z"), utc("2026-01-01T00:00:00Z")),
        Some(utc("2026-06-01T03:30:00Z"))
    );
}

#[test]
fn month_and_year_ends() {
    let t = trigger("Europe/London", json!({"kind": "daily", "at": "23:59"}));
    assert_eq!(
        fires(&t, "2026-01-31T00:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2026-01-31T23:59:00+00:00", "2026-02-01T23:59:00+00:00"]
    );
    let t = trigger("America/New_York", json!({"kind": "daily", "at": "23:30"}));
    // Local Dec 31 23:30 is already Jan 1 in UTC.
    assert_eq!(
        t.upcoming(utc("2026-12-31T12:00:00Z"), utc("2026-01-01T00:00:00Z"))
            .take(2)
            .collect::<Vec<_>>(),
        [utc("2027-01-01T04:30:00Z"), utc("2027-01-02T04:30:00Z")]
    );
    let t = trigger(
        "UTC",
        json!({"kind": "weekly", "day": "thursday", "at": "12:00"}),
    );
    assert_eq!(
        fires(&t, "2026-12-31T12:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2027-01-07T12:00:00+00:00", "2027-01-14T12:00:00+00:00"]
    );
    let t = trigger("UTC", json!({"kind": "cron", "expression": "0 0 31 * *"}));
    assert_eq!(
        fires(&t, "2026-03-31T00:00:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-05-31T00:00:00+00:00",
            "2026-07-31T00:00:00+00:00",
            "2026-08-31T00:00:00+00:00"
        ]
    );
}

#[test]
fn leap_day() {
    let t = trigger("UTC", json!({"kind": "daily", "at": "12:00"}));
    assert_eq!(
        fires(&t, "2028-02-28T12:00:00Z", "2028-01-01T00:00:00Z", 2),
        ["2028-02-29T12:00:00+00:00", "2028-03-01T12:00:00+00:00"]
    );
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "0 9 29 2 *"}),
    );
    assert_eq!(
        fires(&t, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2028-02-29T09:00:00-05:00", "2032-02-29T09:00:00-05:00"]
    );
    // Every 2 days anchored on Feb 27 2028: 27, 29, Mar 2.
    let t = trigger("UTC", json!({"kind": "daily", "every": 2, "at": "06:00"}));
    assert_eq!(
        fires(&t, "2028-02-27T07:00:00Z", "2028-02-27T05:00:00Z", 2),
        ["2028-02-29T06:00:00+00:00", "2028-03-02T06:00:00+00:00"]
    );
}

#[test]
fn daily_every_three_days_anchored_to_the_deploy_date() {
    let t = trigger(
        "America/New_York",
        json!({"kind": "daily", "every": 3, "at": "09:00"}),
    );
    // Deployed 2026-03-10 15:00 EDT; 09:00 has passed that day, so the first run is 03-13.
    let anchor = "2026-03-10T19:00:00Z";
    assert_eq!(
        fires(&t, anchor, anchor, 3),
        [
            "2026-03-13T09:00:00-04:00",
            "2026-03-16T09:00:00-04:00",
            "2026-03-19T09:00:00-04:00"
        ]
    );
    // Deployed 08:00 local: 09:00 the same day counts.
    let anchor = "2026-03-10T12:00:00Z";
    assert_eq!(
        fires(&t, anchor, anchor, 2),
        ["2026-03-10T09:00:00-04:00", "2026-03-13T09:00:00-04:00"]
    );
    // The deploy date is the LOCAL date: 2026-03-11T02:00Z is still 03-10 in New York.
    let anchor = "2026-03-11T02:00:00Z";
    assert_eq!(fires(&t, anchor, anchor, 1), ["2026-03-13T09:00:00-04:00"]);
    // Days keep counting from the anchor whatever `after` is (also before the deploy).
    assert_eq!(
        fires(&t, "2026-04-01T00:00:00Z", anchor, 2),
        ["2026-04-03T09:00:00-04:00", "2026-04-06T09:00:00-04:00"]
    );
    assert_eq!(
        fires(&t, "2026-03-01T00:00:00Z", anchor, 1),
        ["2026-03-01T09:00:00-05:00"]
    );
    // Every 3 days across the spring-forward gap at 02:30: the third day runs at 03:00.
    let t = trigger(
        "America/New_York",
        json!({"kind": "daily", "every": 3, "at": "02:30"}),
    );
    let anchor = "2026-03-02T17:00:00Z";
    assert_eq!(
        fires(&t, anchor, anchor, 3),
        [
            "2026-03-05T02:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-11T02:30:00-04:00"
        ]
    );
}

#[test]
fn weekly_several_days() {
    // 2026-01-05 is a Monday.
    let t = trigger(
        "Europe/London",
        json!({"kind": "weekly", "day": ["fri", "Monday", "wed"], "at": "08:00"}),
    );
    assert_eq!(
        fires(&t, "2026-01-05T08:00:00Z", "2026-01-01T00:00:00Z", 5),
        [
            "2026-01-07T08:00:00+00:00",
            "2026-01-09T08:00:00+00:00",
            "2026-01-12T08:00:00+00:00",
            "2026-01-14T08:00:00+00:00",
            "2026-01-16T08:00:00+00:00"
        ]
    );
    // Sunday 01:30 in London on the spring-forward Sunday (2026-03-29) → 02:00 BST.
    let t = trigger(
        "Europe/London",
        json!({"kind": "weekly", "day": "sun", "at": "01:30"}),
    );
    assert_eq!(
        fires(&t, "2026-03-23T00:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2026-03-29T02:00:00+01:00", "2026-04-05T01:30:00+01:00"]
    );
}

#[test]
fn cron_new_york_spring_forward() {
    // 02:30 does not exist on 2026-03-08: runs at 03:00 EDT (cron-parser would skip the day).
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "30 2 * * *"}),
    );
    assert_eq!(
        fires(&t, "2026-03-07T12:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
    // Several times in the gap run once, at its end.
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "*/30 * * * *"}),
    );
    assert_eq!(
        fires(&t, "2026-03-08T05:50:00Z", "2026-01-01T00:00:00Z", 4),
        [
            "2026-03-08T01:00:00-05:00",
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:30:00-04:00"
        ]
    );
}

#[test]
fn cron_new_york_fall_back() {
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "30 1 * * *"}),
    );
    assert_eq!(
        fires(&t, "2026-10-31T12:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "0,30 * * * *"}),
    );
    assert_eq!(
        fires(&t, "2026-11-01T04:10:00Z", "2026-01-01T00:00:00Z", 7),
        [
            "2026-11-01T00:30:00-04:00",
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T02:30:00-05:00"
        ]
    );
    // From inside the repeated hour (01:10 EST): 01:30 EST.
    let next = t.next_after(utc("2026-11-01T06:10:00Z"), utc("2026-01-01T00:00:00Z"));
    assert_eq!(next, Some(utc("2026-11-01T06:30:00Z")));
    // Every 15 minutes goes on through both passes; an hour range written without `*` fires
    // once, as Vixie cron runs it.
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "*/15 * * * *"}),
    );
    let fired = fires(&t, "2026-11-01T05:40:00Z", "2026-01-01T00:00:00Z", 6);
    assert_eq!(
        fired,
        [
            "2026-11-01T01:45:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:15:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T01:45:00-05:00",
            "2026-11-01T02:00:00-05:00"
        ]
    );
    let t = trigger(
        "America/New_York",
        json!({"kind": "cron", "expression": "0,30 0-23 * * *"}),
    );
    assert_eq!(
        fires(&t, "2026-11-01T05:10:00Z", "2026-01-01T00:00:00Z", 3),
        [
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T02:30:00-05:00"
        ]
    );
}

#[test]
fn cron_london_and_sunday_seven() {
    // Sundays at 01:30 (7 = Sunday) across London's spring-forward Sunday.
    let t = trigger(
        "Europe/London",
        json!({"kind": "cron", "expression": "30 1 * * 7"}),
    );
    assert_eq!(
        fires(&t, "2026-03-23T00:00:00Z", "2026-01-01T00:00:00Z", 2),
        ["2026-03-29T02:00:00+01:00", "2026-04-05T01:30:00+01:00"]
    );
}

#[test]
fn anchor_only_matters_for_daily_every_n() {
    let t = trigger("UTC", json!({"kind": "cron", "expression": "0 12 * * *"}));
    let after = utc("2026-06-01T00:00:00Z");
    assert_eq!(
        t.next_after(after, utc("2020-01-01T00:00:00Z")),
        t.next_after(after, utc("2030-01-01T00:00:00Z"))
    );
}

#[test]
fn last_at_or_before() {
    let anchor = utc("2026-01-01T00:00:00Z");
    let t = trigger("UTC", json!({"kind": "seconds", "every": 5}));
    assert_eq!(
        t.last_at_or_before(utc("2026-05-05T10:00:04.9Z"), anchor),
        Some(utc("2026-05-05T10:00:00Z"))
    );
    assert_eq!(
        t.last_at_or_before(utc("2026-05-05T10:00:05Z"), anchor),
        Some(utc("2026-05-05T10:00:05Z"))
    );
    let t = trigger("America/New_York", json!({"kind": "daily", "at": "02:30"}));
    // On the spring-forward day the slot is 03:00 EDT (07:00Z).
    assert_eq!(
        t.last_at_or_before(utc("2026-03-08T07:00:00Z"), anchor),
        Some(utc("2026-03-08T07:00:00Z"))
    );
    assert_eq!(
        t.last_at_or_before(utc("2026-03-08T06:59:59Z"), anchor),
        Some(utc("2026-03-07T07:30:00Z"))
    );
}

#[test]
fn hand_built_out_of_range_values_never_fire_and_never_panic() {
    let anchor = utc("2026-01-01T00:00:00Z");
    for schedule in [
        Schedule::Seconds { every: 0 },
        Schedule::Minutes { every: 0 },
        Schedule::Hourly { minute: 60 },
        Schedule::Weekly {
            days: vec![],
            at: NaiveTime::MIN,
        },
    ] {
        let t = ScheduleTrigger {
            schedule,
            timezone: Tz::UTC,
            misfire: Misfire::RunOnce,
        };
        assert_eq!(t.next_after(anchor, anchor), None);
        assert_eq!(t.last_at_or_before(anchor, anchor), None);
        assert!(t.preview(anchor, anchor, 5).is_empty());
        assert_eq!(
            t.catch_up(None, anchor + chrono::TimeDelta::days(1), anchor)
                .run,
            None
        );
    }
    // `every: 0` days is treated as every day.
    let t = ScheduleTrigger {
        schedule: Schedule::Daily {
            every: 0,
            at: NaiveTime::MIN,
        },
        timezone: Tz::UTC,
        misfire: Misfire::Skip,
    };
    assert_eq!(
        t.next_after(anchor, anchor),
        Some(utc("2026-01-02T00:00:00Z"))
    );
}

#[test]
fn far_dates_do_not_panic() {
    let kinds = [
        json!({"kind": "seconds", "every": 7}),
        json!({"kind": "hourly", "minute": 5}),
        json!({"kind": "daily", "every": 365, "at": "00:00"}),
        json!({"kind": "weekly", "day": "mon", "at": "23:59"}),
        json!({"kind": "cron", "expression": "0 0 29 2 1"}),
    ];
    for k in kinds {
        let t = trigger("Pacific/Kiritimati", k);
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = t.next_after(at, at);
            let _ = t.last_at_or_before(at, at);
            let _ = t.preview(at, at, 3);
            let _ = t.catch_up(Some(at), at, at);
            let _ = t.catch_up(None, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC);
        }
    }
}

/// A redeploy keeps the days an every-7-days schedule fires on while its schedule and zone
/// stay the same (an edited step); a changed schedule or zone counts from the new deploy.
#[test]
fn a_redeploy_keeps_the_anchor_of_an_unchanged_schedule() {
    let weekly = trigger("UTC", json!({"kind": "daily", "every": 7, "at": "09:00"}));
    let monday = utc("2026-01-05T10:00:00Z").timestamp_millis();
    let wednesday = utc("2026-01-14T12:05:00Z").timestamp_millis();
    let kept = weekly.anchor_after(Some((&weekly, monday)), wednesday);
    assert_eq!(kept, monday);
    assert_eq!(
        fires(&weekly, "2026-01-14T12:05:00Z", "2026-01-05T10:00:00Z", 1),
        ["2026-01-19T09:00:00+00:00"]
    );
    for other in [
        trigger("UTC", json!({"kind": "daily", "every": 7, "at": "10:00"})),
        trigger(
            "Europe/Berlin",
            json!({"kind": "daily", "every": 7, "at": "09:00"}),
        ),
    ] {
        assert_eq!(
            other.anchor_after(Some((&weekly, monday)), wednesday),
            wednesday
        );
    }
    assert_eq!(weekly.anchor_after(None, wednesday), wednesday);
    // No other kind counts from its anchor: each starts from its deploy, as before.
    let hourly = trigger("UTC", json!({"kind": "hourly", "minute": 5}));
    assert_eq!(
        hourly.anchor_after(Some((&hourly, monday)), wednesday),
        wednesday
    );
    let daily = trigger("UTC", json!({"kind": "daily", "at": "09:00"}));
    assert_eq!(
        daily.anchor_after(Some((&daily, monday)), wednesday),
        wednesday
    );
    // The misfire policy is no part of when it fires.
    let mut caught_up = weekly.clone();
    caught_up.misfire = Misfire::RunOnce;
    assert_eq!(
        caught_up.anchor_after(Some((&weekly, monday)), wednesday),
        monday
    );
}
