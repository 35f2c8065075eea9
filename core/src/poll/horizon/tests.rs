use super::*;

fn at(v: &str) -> PgCursor {
    PgCursor::At {
        cursor: v.to_string(),
        tiebreak: None,
    }
}

fn snap(xmin: u64, xmax: u64) -> TxSnapshot {
    TxSnapshot { xmin, xmax }
}

#[test]
fn nothing_in_progress_means_every_visible_row_is_final() {
    let mut h = Horizon::default();
    assert_eq!(h.settle(snap(100, 100), &at("40"), 0), Bound::All);
    assert_eq!(h.waiting(), None);
}

#[test]
fn a_late_commit_below_the_greatest_row_is_waited_for() {
    // Poll 1: quiet, greatest id 40. Then A (xid 100) takes 41 and stays open;
    // B (xid 101) inserts 42 and commits.
    let mut h = Horizon::default();
    assert_eq!(h.settle(snap(100, 100), &at("40"), 0), Bound::All);
    // Poll 2 sees 42 with A in progress: only rows up to what poll 1 saw are final.
    assert_eq!(
        h.settle(snap(100, 102), &at("42"), 1_000),
        Bound::UpTo(at("40"))
    );
    let w = h.waiting().expect("held back").clone();
    assert_eq!((w.xid, w.since_ms), (100, 1_000));
    // Poll 3: A still open; the same transaction, the same "since".
    assert_eq!(
        h.settle(snap(100, 103), &at("42"), 2_000),
        Bound::UpTo(at("40"))
    );
    assert_eq!(h.waiting().map(|w| w.since_ms), Some(1_000));
    // A commits: everything is final again.
    assert_eq!(h.settle(snap(103, 103), &at("42"), 3_000), Bound::All);
    assert_eq!(h.waiting(), None);
}

#[test]
fn an_older_transaction_committing_a_larger_value_does_not_carry_the_cursor_past_an_open_one() {
    // T_a got xid 100 first, T_b (xid 101) inserted 41 and stays open, T_a then inserted 43 and
    // committed. A rule on each row's own xmin would take 43 (xmin 100 < 101) and lose 41.
    let mut h = Horizon::default();
    assert_eq!(h.settle(snap(100, 100), &at("40"), 0), Bound::All);
    assert_eq!(
        h.settle(snap(101, 102), &at("43"), 1),
        Bound::UpTo(at("40"))
    );
}

#[test]
fn under_constant_writes_each_poll_takes_what_the_previous_one_saw() {
    let mut h = Horizon::default();
    // First poll ever, a writer mid-transaction: nothing is known final yet.
    assert_eq!(
        h.settle(snap(10, 12), &at("5"), 0),
        Bound::UpTo(PgCursor::Beginning)
    );
    // Next poll: the writers of the first poll have ended (xmin 12 ≥ its xmax 12).
    assert_eq!(h.settle(snap(12, 15), &at("9"), 1), Bound::UpTo(at("5")));
    assert_eq!(h.settle(snap(15, 19), &at("14"), 2), Bound::UpTo(at("9")));
    // A long transaction (xid 19) starts: the bound stays at the last poll before it.
    assert_eq!(h.settle(snap(19, 25), &at("20"), 3), Bound::UpTo(at("14")));
    assert_eq!(h.settle(snap(19, 30), &at("26"), 4), Bound::UpTo(at("14")));
    assert_eq!(h.waiting().map(|w| (w.xid, w.since_ms)), Some((19, 3)));
}

#[test]
fn marks_stay_bounded_and_dropping_them_only_holds_back_more() {
    let mut h = Horizon::default();
    // A transaction open for many polls: every poll adds a mark, none is released.
    for i in 0..200u64 {
        h.settle(snap(1, 2 + i), &at(&i.to_string()), i as i64);
    }
    assert!(h.marks.len() <= MAX_MARKS);
    // The oldest marks are gone, so the bound is the beginning: cautious, never past a row.
    assert_eq!(
        h.settle(snap(1, 500), &at("999"), 999),
        Bound::UpTo(PgCursor::Beginning)
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
    h.settle(snap(100, 100), &at("40"), 0);
    h.settle(snap(100, 102), &at("42"), 7);
    let text = serde_json::to_string(&h).unwrap();
    let back: Horizon = serde_json::from_str(&text).unwrap();
    assert_eq!(back, h);
}
