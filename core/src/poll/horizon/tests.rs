use super::*;

fn at(v: &str) -> PgCursor {
    PgCursor::At {
        cursor: v.to_string(),
        tiebreak: None,
        tiebreak_column: None,
    }
}

fn snap(xmin: u64, xmax: u64) -> TxSnapshot {
    TxSnapshot { xmin, xmax }
}

/// One poll at `db_ms` (database clock) seeing `latest` greatest, with no settling.
fn poll(h: &mut Horizon, s: TxSnapshot, latest: &str, db_ms: i64) -> Bound {
    poll_settling(h, s, latest, db_ms, 0)
}

fn poll_settling(h: &mut Horizon, s: TxSnapshot, latest: &str, db_ms: i64, settle: i64) -> Bound {
    let reading = Reading {
        snapshot: s,
        db_ms,
        latest: at(latest),
    };
    h.settle(&reading, settle, db_ms)
}

#[test]
fn nothing_in_progress_means_every_visible_row_is_final() {
    let mut h = Horizon::default();
    assert_eq!(poll(&mut h, snap(100, 100), "40", 1), Bound::All);
    assert_eq!(h.waiting(), None);
    assert!(!h.held_back());
}

#[test]
fn a_late_commit_below_the_greatest_row_is_waited_for() {
    // Poll 1: quiet, greatest id 40. Then A (xid 100) takes 41 and stays open;
    // B (xid 101) inserts 42 and commits.
    let mut h = Horizon::default();
    assert_eq!(poll(&mut h, snap(100, 100), "40", 1), Bound::All);
    // Poll 2 sees 42 with A in progress: only rows up to what poll 1 saw are final. A was not
    // in progress at poll 1, so it is not reported as blocking yet.
    assert_eq!(
        poll(&mut h, snap(100, 102), "42", 1_000),
        Bound::UpTo(at("40"))
    );
    assert!(h.held_back());
    assert_eq!(h.waiting(), None);
    // Poll 3: A still open, across two polls now: reported, then the same "since".
    assert_eq!(
        poll(&mut h, snap(100, 103), "42", 2_000),
        Bound::UpTo(at("40"))
    );
    let w = h.waiting().expect("held back").clone();
    assert_eq!((w.xid, w.since_ms), (100, 2_000));
    assert_eq!(
        poll(&mut h, snap(100, 103), "42", 3_000),
        Bound::UpTo(at("40"))
    );
    assert_eq!(h.waiting().map(|w| w.since_ms), Some(2_000));
    // A commits: everything is final again.
    assert_eq!(poll(&mut h, snap(103, 103), "42", 4_000), Bound::All);
    assert_eq!(h.waiting(), None);
}

#[test]
fn an_older_transaction_committing_a_larger_value_does_not_carry_the_cursor_past_an_open_one() {
    // T_a got xid 100 first, T_b (xid 101) inserted 41 and stays open, T_a then inserted 43 and
    // committed. A rule on each row's own xmin would take 43 (xmin 100 < 101) and lose 41.
    let mut h = Horizon::default();
    assert_eq!(poll(&mut h, snap(100, 100), "40", 1), Bound::All);
    assert_eq!(poll(&mut h, snap(101, 102), "43", 2), Bound::UpTo(at("40")));
}

#[test]
fn under_constant_writes_each_poll_takes_what_the_previous_one_saw() {
    let mut h = Horizon::default();
    // First poll ever, a writer mid-transaction: nothing is known final yet.
    assert_eq!(
        poll(&mut h, snap(10, 12), "5", 1),
        Bound::UpTo(PgCursor::Beginning)
    );
    // Next poll: the writers of the first poll have ended (xmin 12 ≥ its xmax 12).
    assert_eq!(poll(&mut h, snap(12, 15), "9", 2), Bound::UpTo(at("5")));
    assert_eq!(poll(&mut h, snap(15, 19), "14", 3), Bound::UpTo(at("9")));
    // Short transactions: none is open across two polls, none is reported.
    assert_eq!(h.waiting(), None);
    // A long transaction (xid 19) starts: the bound stays at the last poll before it.
    assert_eq!(poll(&mut h, snap(19, 25), "20", 4), Bound::UpTo(at("14")));
    assert_eq!(poll(&mut h, snap(19, 30), "26", 5), Bound::UpTo(at("14")));
    assert_eq!(h.waiting().map(|w| (w.xid, w.since_ms)), Some((19, 5)));
}

#[test]
fn rows_become_final_only_once_a_view_of_them_is_settle_old() {
    let mut h = Horizon::default();
    assert_eq!(
        poll_settling(&mut h, snap(50, 50), "10", 1_000, 2_000),
        Bound::UpTo(PgCursor::Beginning)
    );
    // Quiet, but the first view is younger than 2 s: nothing final yet.
    assert_eq!(
        poll_settling(&mut h, snap(50, 50), "10", 2_000, 2_000),
        Bound::UpTo(PgCursor::Beginning)
    );
    assert!(h.held_back());
    // 2 s after that view: rows up to 10 are final.
    assert_eq!(
        poll_settling(&mut h, snap(50, 50), "10", 3_000, 2_000),
        Bound::All
    );
    // New rows (xmax moved): seen at 10 s, final from 12 s.
    assert_eq!(
        poll_settling(&mut h, snap(60, 60), "20", 10_000, 2_000),
        Bound::UpTo(at("10"))
    );
    assert_eq!(
        poll_settling(&mut h, snap(60, 60), "20", 11_999, 2_000),
        Bound::UpTo(at("10"))
    );
    assert_eq!(
        poll_settling(&mut h, snap(60, 60), "20", 12_000, 2_000),
        Bound::All
    );
    assert_eq!(h.waiting(), None, "settling is no blocking transaction");
}

#[test]
fn a_transaction_that_begins_before_a_later_row_and_writes_after_a_poll_is_not_passed() {
    // Timestamp cursor with a `now()` default. At 20 s T begins (no id yet: it has not
    // written); its row will carry 20 s. At 21 s another session commits a row at 21 s (xid 70).
    // At 21.5 s a poll sees it; nothing is in progress (T has no id).
    let mut h = Horizon::default();
    let settle = 2_000;
    assert_eq!(
        poll_settling(&mut h, snap(70, 70), "t-10", 10_000, settle),
        Bound::UpTo(PgCursor::Beginning)
    );
    assert_eq!(
        poll_settling(&mut h, snap(70, 70), "t-10", 125_000, settle),
        Bound::All
    );
    assert_eq!(
        poll_settling(&mut h, snap(71, 71), "t1", 21_500, settle),
        Bound::UpTo(at("t-10")),
        "the row at 21 s is seen, not final"
    );
    // At 22 s T inserts (row at 20 s), getting xid 71, and stays open. Without settling, the poll
    // at 1.5 s (quiet) would have made "t1" final and T's row would be lost.
    assert_eq!(
        poll_settling(&mut h, snap(71, 72), "t1", 24_000, settle),
        Bound::UpTo(at("t-10")),
        "T is in progress: the view at 21.5 s came before it got its id, but is not 2 s older \
         than any view read before T"
    );
    // T commits; the next poll (25 s) is quiet, sees T's row below "t1", and confirms the view
    // at 1.5 s by the one at 4 s (read after T had its id): every row is final.
    assert_eq!(
        poll_settling(&mut h, snap(72, 72), "t1", 25_000, settle),
        Bound::All
    );
}

#[test]
fn a_serial_value_taken_before_the_transaction_id_is_not_passed() {
    // `nextval` gives 41 to T (no id yet; a BEFORE trigger runs), then another session inserts
    // 42 and commits (xid 80). A poll at 10 s sees 42, quiet. T gets xid 81 at 10.2 s.
    let mut h = Horizon::default();
    let settle = 1_000;
    poll_settling(&mut h, snap(80, 80), "40", 5_000, settle);
    assert_eq!(
        poll_settling(&mut h, snap(80, 80), "40", 6_000, settle),
        Bound::All
    );
    assert_eq!(
        poll_settling(&mut h, snap(81, 81), "42", 10_000, settle),
        Bound::UpTo(at("40"))
    );
    // T in progress (xid 81 ≥ the 10 s poll's xmax): the 10 s view cannot be confirmed.
    assert_eq!(
        poll_settling(&mut h, snap(81, 82), "42", 11_500, settle),
        Bound::UpTo(at("40"))
    );
    // T committed: 41 is visible now, and 42's view gets confirmed.
    assert_eq!(
        poll_settling(&mut h, snap(82, 82), "42", 13_000, settle),
        Bound::All
    );
}

#[test]
fn marks_stay_bounded_and_what_was_final_stays_final() {
    let mut h = Horizon::default();
    assert_eq!(poll(&mut h, snap(1, 1), "0", 1), Bound::All);
    // A transaction open for many polls: every poll adds a mark, none is released.
    for i in 0..200u64 {
        poll(&mut h, snap(1, 2 + i), &(i + 1).to_string(), 2 + i as i64);
    }
    assert!(h.marks.len() <= MAX_MARKS);
    assert_eq!(poll(&mut h, snap(1, 500), "999", 999), Bound::UpTo(at("0")));
    // It ends: the newest view is final at once (no settling here).
    assert_eq!(poll(&mut h, snap(500, 500), "999", 1_000), Bound::All);
}

/// Long positions (a long tiebreak text) keep the marks within their bytes, so that a read's
/// request stays within what the PostgreSQL Worker takes.
#[test]
fn marks_stay_within_their_bytes() {
    let mut h = Horizon::default();
    poll(&mut h, snap(1, 1), "0", 1);
    for i in 0..60u64 {
        let long = format!("{i:05}{}", "x".repeat(10_000));
        poll(&mut h, snap(1, 2 + i), &long, 2 + i as i64);
    }
    assert!(
        h.marks.len() >= 2 && h.marks.len() < 10,
        "{}",
        h.marks.len()
    );
    assert!(serde_json::to_string(&h).unwrap().len() < 100_000);
    // What was final stays final.
    assert_eq!(poll(&mut h, snap(1, 99), "zz", 99), Bound::UpTo(at("0")));
    // Marks kept before they were bounded by bytes are bounded by the next poll.
    let mut kept = h.clone();
    kept.marks = (0..60).map(|_| h.marks[1].clone()).collect();
    kept.bound();
    assert!(kept.marks.len() < 10, "{}", kept.marks.len());
}

#[test]
fn marks_stored_without_a_time_are_dropped() {
    let stored = r#"{"marks":[{"xmax":5,"latest":{"position":"at","cursor":"9","tiebreak":null}}],"waiting":null}"#;
    let mut h: Horizon = serde_json::from_str(stored).unwrap();
    // The undated mark could not confirm anything; this poll's own view is younger than 1 s.
    assert_eq!(
        poll_settling(&mut h, snap(5, 5), "9", 10_000, 1_000),
        Bound::UpTo(PgCursor::Beginning)
    );
    assert_eq!(
        poll_settling(&mut h, snap(5, 5), "9", 11_000, 1_000),
        Bound::All
    );
}

#[test]
fn snapshot_text_parses_and_rejects_nonsense() {
    assert_eq!(TxSnapshot::parse("5", "9"), Some(snap(5, 9)));
    assert_eq!(TxSnapshot::parse("9", "5"), None);
    assert_eq!(TxSnapshot::parse("x", "5"), None);
}

#[test]
fn the_state_round_trips_through_storage() {
    let mut h = Horizon::default();
    poll(&mut h, snap(100, 100), "40", 1);
    poll(&mut h, snap(100, 102), "42", 7);
    poll(&mut h, snap(100, 103), "42", 9);
    let text = serde_json::to_string(&h).unwrap();
    let back: Horizon = serde_json::from_str(&text).unwrap();
    assert_eq!(back, h);
}
