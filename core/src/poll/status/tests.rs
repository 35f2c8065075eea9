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
