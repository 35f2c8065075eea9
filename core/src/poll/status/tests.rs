use super::*;

fn report(at: &str, error: Option<&str>, created: usize) -> PollReport {
    PollReport {
        at: at.into(),
        error: error.map(String::from),
        consecutive_failures: u32::from(error.is_some()),
        next_poll_at: format!("{at}+next"),
        runs_created: created,
        ..PollReport::default()
    }
}

#[test]
fn a_fresh_status_shows_nothing_polled() {
    let v = PollStatus::default().to_json();
    assert_eq!(v["last_poll_at"], Value::Null);
    assert_eq!(v["consecutive_failures"], 0);
    assert_eq!(v["runs_created"], 0);
    assert_eq!(v["cursor"], Value::Null);
    assert_eq!(v.as_object().map(|o| o.len()), Some(9));
}

#[test]
fn reports_add_runs_keep_the_cursor_and_gap_and_clear_waiting_only_on_success() {
    let mut s = PollStatus::default();
    s.apply(PollReport {
        cursor: Some(json!({"cursor": "7"})),
        waiting: Some(json!({"transaction": "9"})),
        gap: Some(json!({"kind": "max_pages"})),
        ..report("t1", None, 3)
    });
    assert_eq!(s.last_success_at.as_deref(), Some("t1"));
    assert_eq!(s.runs_created, 3);
    // A failure: the error shows, the success time, cursor, waiting and gap stay.
    s.apply(report("t2", Some("boom"), 0));
    assert_eq!(s.last_poll_at.as_deref(), Some("t2"));
    assert_eq!(s.last_success_at.as_deref(), Some("t1"));
    assert_eq!(s.last_poll_error.as_deref(), Some("boom"));
    assert_eq!(s.consecutive_failures, 1);
    assert_eq!(s.cursor, Some(json!({"cursor": "7"})));
    assert_eq!(s.waiting, Some(json!({"transaction": "9"})));
    // A success with nothing held back clears `waiting` and the error; the gap stays shown.
    s.apply(report("t3", None, 2));
    assert_eq!(s.last_poll_error, None);
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.waiting, None);
    assert_eq!(s.last_gap, Some(json!({"kind": "max_pages"})));
    assert_eq!(s.runs_created, 5);
    assert_eq!(s.next_poll_at.as_deref(), Some("t3+next"));
    // Stored and read back unchanged.
    let back: PollStatus = serde_json::from_value(s.to_json()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn a_max_pages_gap_is_caught_up_once_a_walk_reaches_its_end() {
    let mut s = PollStatus::default();
    s.apply(PollReport {
        gap: Some(json!({"kind": "max_pages", "caught_up_at": null})),
        ..report("t1", None, 10)
    });
    // A poll that stops at the bound again: not caught up.
    s.apply(report("t2", None, 10));
    assert_eq!(s.last_gap.as_ref().unwrap()["caught_up_at"], Value::Null);
    // A failed poll never catches up.
    s.apply(PollReport {
        walk_ended: true,
        ..report("t3", Some("boom"), 0)
    });
    assert_eq!(s.last_gap.as_ref().unwrap()["caught_up_at"], Value::Null);
    s.apply(PollReport {
        walk_ended: true,
        ..report("t4", None, 7)
    });
    assert_eq!(s.last_gap.as_ref().unwrap()["caught_up_at"], "t4");
    // Later walks keep the first time.
    s.apply(PollReport {
        walk_ended: true,
        ..report("t5", None, 0)
    });
    assert_eq!(s.last_gap.as_ref().unwrap()["caught_up_at"], "t4");
    // An `all_new` gap is never marked caught up.
    s.apply(PollReport {
        gap: Some(json!({"kind": "all_new", "caught_up_at": null})),
        ..report("t6", None, 3)
    });
    s.apply(PollReport {
        walk_ended: true,
        ..report("t7", None, 0)
    });
    assert_eq!(s.last_gap.as_ref().unwrap()["caught_up_at"], Value::Null);
}

#[test]
fn a_status_stored_without_its_counts_reads_them_as_zero() {
    let s: PollStatus = serde_json::from_str(r#"{"last_poll_at":"t","cursor":null}"#).unwrap();
    assert_eq!(
        (
            s.last_poll_at.as_deref(),
            s.consecutive_failures,
            s.runs_created,
            s.cursor
        ),
        (Some("t"), 0, 0, None)
    );
    assert!(serde_json::from_str::<PollStatus>(r#"{"runs_created":null}"#).is_err());
}
