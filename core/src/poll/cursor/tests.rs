use super::*;
use crate::kernel::problem::Errors;
use crate::poll::PollSource;
use crate::poll::PollTrigger;
use serde_json::json;

fn source(extra: Value) -> HttpSource {
    let mut s = json!({"kind": "http", "url": "https://api.example.com/items"});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    let mut errors = Errors::new();
    match PollTrigger::parse(
        &json!({"type": "poll", "source": s}),
        "trigger",
        &mut errors,
    ) {
        Some(PollTrigger {
            source: PollSource::Http(s),
            ..
        }) => s,
        other => panic!("{other:?} {errors:?}"),
    }
}

fn keys(records: &[NewRecord]) -> Vec<&str> {
    records.iter().map(|r| r.dedup_key.as_str()).collect()
}

#[test]
fn pg_cursor_round_trips_through_json() {
    let at = PgCursor::At {
        cursor: "2024-05-01 10:00:00+00".into(),
        tiebreak: Some("7".into()),
        tiebreak_column: Some("id".into()),
    };
    let text = serde_json::to_string(&at).unwrap();
    assert_eq!(
        text,
        r#"{"position":"at","cursor":"2024-05-01 10:00:00+00","tiebreak":"7","tiebreak_column":"id"}"#
    );
    assert_eq!(serde_json::from_str::<PgCursor>(&text).unwrap(), at);
    // A position without a tiebreak is stored as before.
    let plain = PgCursor::At {
        cursor: "5".into(),
        tiebreak: None,
        tiebreak_column: None,
    };
    assert_eq!(
        serde_json::to_string(&plain).unwrap(),
        r#"{"position":"at","cursor":"5","tiebreak":null}"#
    );
    // One stored before the column was kept reads back without it.
    assert_eq!(
        serde_json::from_str::<PgCursor>(r#"{"position":"at","cursor":"5","tiebreak":"7"}"#)
            .unwrap(),
        PgCursor::At {
            cursor: "5".into(),
            tiebreak: Some("7".into()),
            tiebreak_column: None,
        }
    );
    let b = serde_json::to_string(&PgCursor::Beginning).unwrap();
    assert_eq!(b, r#"{"position":"beginning"}"#);
    assert_eq!(
        serde_json::from_str::<PgCursor>(&b).unwrap(),
        PgCursor::Beginning
    );
    assert_eq!(
        serde_json::from_str::<PgCursor>(r#"{"position":"at","cursor":"5","tiebreak":null}"#)
            .unwrap(),
        plain
    );
}

#[test]
fn pg_dedup_key_prefers_tiebreak() {
    assert_eq!(dedup_key("2024-05-01 10:00:00+00", Some("17")), "17");
    assert_eq!(dedup_key("42", None), "42");
}

#[test]
fn recent_ids_evict_oldest() {
    let mut r = RecentIds::new(3);
    for id in ["a", "b", "c", "b", "d"] {
        r.insert(id.to_string());
    }
    assert_eq!(r.iter().collect::<Vec<_>>(), ["b", "c", "d"]);
    assert!(!r.contains("a"));
    assert!(r.contains("d"));
    r.set_capacity(1);
    assert_eq!(r.iter().collect::<Vec<_>>(), ["d"]);
    assert_eq!(r.len(), 1);
    assert_eq!(RecentIds::new(0).capacity(), 1);
}

#[test]
fn recent_ids_round_trip_and_cap_on_load() {
    let mut r = RecentIds::new(2);
    r.insert("x".into());
    r.insert("y".into());
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(text, r#"{"capacity":2,"ids":["x","y"]}"#);
    assert_eq!(serde_json::from_str::<RecentIds>(&text).unwrap(), r);
    let loaded: RecentIds =
        serde_json::from_str(r#"{"capacity":2,"ids":["a","b","a","c"]}"#).unwrap();
    assert_eq!(loaded.iter().collect::<Vec<_>>(), ["b", "c"]);
    assert!(!loaded.contains("a"));
}

#[test]
fn unique_selects_unseen_ids_in_api_order() {
    let src = source(json!({"items": "/data", "unique_capacity": 3}));
    let (mut cur, first) = HttpCursor::resume(None, &src);
    assert!(first);
    let body = json!({"data": [{"id": 1}, {"id": "b"}, {"id": 1}, {"id": 3}]});
    let new = src.select_new(&cur, &body).unwrap();
    assert_eq!(keys(&new), ["1", "b", "3"]);
    assert_eq!(new[1].record, json!({"id": "b"}));
    cur.advance(&new);
    assert!(src.select_new(&cur, &body).unwrap().is_empty());

    let body = json!({"data": [{"id": 4}, {"id": 3}, {"id": "b"}]});
    let new = src.select_new(&cur, &body).unwrap();
    assert_eq!(keys(&new), ["4"]);
    cur.advance(&new);
    // Capacity 3: "1" was evicted, so it is new again if the API shows it.
    let new = src
        .select_new(&cur, &json!({"data": [{"id": 1}, {"id": 4}]}))
        .unwrap();
    assert_eq!(keys(&new), ["1"]);
}

#[test]
fn unique_with_order_pointer_yields_oldest_first() {
    let src = source(json!({"greatest": "/created"}));
    let cur = HttpCursor::for_source(&src);
    let body = json!([
        {"id": "c", "created": "2024-05-03T00:00:00Z"},
        {"id": "b", "created": "2024-05-02T00:00:00Z"},
        {"id": "a", "created": "2024-05-01T00:00:00Z"}
    ]);
    assert_eq!(keys(&src.select_new(&cur, &body).unwrap()), ["a", "b", "c"]);
}

#[test]
fn unique_cursor_round_trips_through_json() {
    let src = source(json!({"unique_capacity": 5}));
    let mut cur = HttpCursor::for_source(&src);
    let new = cur
        .select_new(&[json!({"id": 1}), json!({"id": "two"})], "/id", None)
        .unwrap();
    cur.advance(&new);
    let text = serde_json::to_string(&cur).unwrap();
    assert_eq!(text, r#"{"mode":"unique","capacity":5,"ids":["1","two"]}"#);
    assert_eq!(serde_json::from_str::<HttpCursor>(&text).unwrap(), cur);
}

#[test]
fn greatest_with_numbers() {
    let src = source(json!({"dedupe": "greatest"}));
    let (mut cur, _) = HttpCursor::resume(None, &src);
    let new = src
        .select_new(&cur, &json!([{"id": 9}, {"id": 10}, {"id": 2}]))
        .unwrap();
    assert_eq!(keys(&new), ["2", "9", "10"]);
    cur.advance(&new);
    assert_eq!(
        cur,
        HttpCursor::Greatest {
            mark: Some(json!(10)),
            at_mark: {
                let mut r = RecentIds::new(AT_MARK_CAPACITY);
                r.insert("10".into());
                r
            },
            by: Some("/id".into()),
        }
    );
    // Numeric comparison, not text: 9 < 10 < "11" < 100; string ids of digits count as numbers.
    let new = src
        .select_new(
            &cur,
            &json!([{"id": 100}, {"id": 9}, {"id": 10}, {"id": "11"}]),
        )
        .unwrap();
    assert_eq!(keys(&new), ["11", "100"]);
    cur.advance(&new);
    let text = serde_json::to_string(&cur).unwrap();
    assert_eq!(
        text,
        r#"{"mode":"greatest","mark":100,"at_mark":{"capacity":10000,"ids":["100"]},"by":"/id"}"#
    );
    assert_eq!(serde_json::from_str::<HttpCursor>(&text).unwrap(), cur);
}

#[test]
fn greatest_with_timestamps_newest_first_and_ties() {
    let src = source(json!({"items": "/events", "dedupe": "greatest", "greatest": "/updated_at"}));
    let (mut cur, _) = HttpCursor::resume(None, &src);
    // Newest first, mixed offsets: compared as instants, yielded oldest first.
    let body = json!({"events": [
        {"id": "e3", "updated_at": "2024-05-01T12:00:00+02:00"},
        {"id": "e2", "updated_at": "2024-05-01T09:30:00Z"},
        {"id": "e1", "updated_at": "2024-05-01T11:00:00+03:00"}
    ]});
    let new = src.select_new(&cur, &body).unwrap();
    assert_eq!(keys(&new), ["e1", "e2", "e3"]);
    cur.advance(&new);
    // Another record at exactly the mark (written differently) is new; the one taken is not.
    let body = json!({"events": [
        {"id": "e4", "updated_at": "2024-05-01T10:00:00Z"},
        {"id": "e3", "updated_at": "2024-05-01T10:00:00.000Z"},
        {"id": "e0", "updated_at": "2024-05-01T08:00:00Z"}
    ]});
    let new = src.select_new(&cur, &body).unwrap();
    assert_eq!(keys(&new), ["e4"]);
    cur.advance(&new);
    let HttpCursor::Greatest { mark, at_mark, .. } = &cur else {
        panic!()
    };
    assert_eq!(mark, &Some(json!("2024-05-01T12:00:00+02:00")));
    assert_eq!(at_mark.iter().collect::<Vec<_>>(), ["e3", "e4"]);
    // A later record moves the mark and forgets the ties.
    let new = src
        .select_new(
            &cur,
            &json!({"events": [{"id": "e5", "updated_at": "2024-05-01 10:00:01+00"}]}),
        )
        .unwrap();
    assert_eq!(keys(&new), ["e5"]);
    cur.advance(&new);
    let HttpCursor::Greatest { at_mark, .. } = &cur else {
        panic!()
    };
    assert_eq!(at_mark.iter().collect::<Vec<_>>(), ["e5"]);
}

#[test]
fn greatest_advances_only_over_what_was_taken() {
    let src = source(json!({"dedupe": "greatest"}));
    let mut cur = HttpCursor::for_source(&src);
    let new = src
        .select_new(&cur, &json!([{"id": 3}, {"id": 1}, {"id": 2}]))
        .unwrap();
    cur.advance(&new[..2]); // only 1 and 2 committed
    assert_eq!(
        keys(
            &src.select_new(&cur, &json!([{"id": 3}, {"id": 2}]))
                .unwrap()
        ),
        ["3"]
    );
}

#[test]
fn an_item_without_id_among_readable_ones_is_a_failed_record_and_the_poll_moves_on() {
    let src = source(json!({"id": "/meta/id"}));
    let mut cur = HttpCursor::for_source(&src);
    let page = json!([{"meta": {"id": 1}}, {"meta": {}, "n": 2}, {"meta": {"id": 3}}]);
    let new = src.select_new(&cur, &page).unwrap();
    assert_eq!(new.len(), 3);
    assert_eq!(new[0].unreadable, None);
    assert_eq!(
        new[1].unreadable.as_deref(),
        Some("item [1] at pointer \"/meta/id\": has no id there")
    );
    assert!(
        new[1].dedup_key.starts_with("unreadable:"),
        "{}",
        new[1].dedup_key
    );
    assert_eq!(new[1].record, json!({"meta": {}, "n": 2}));
    // An id too long to be a key is such an item too, keyed by a digest of the item.
    let long = "x".repeat(MAX_ID_BYTES + 1);
    let with_long = json!([{"meta": {"id": 1}}, {"meta": {"id": long}}]);
    let read = src.select_new(&cur, &with_long).unwrap();
    assert_eq!(
        read[1].unreadable.as_deref(),
        Some("item [1] at pointer \"/meta/id\": the id is 4097 bytes long, more than 4096")
    );
    assert!(read[1].dedup_key.len() < 100, "{}", read[1].dedup_key);
    // The same item read again has the same key; once taken, it is not new again.
    let again = src.select_new(&cur, &page).unwrap();
    assert_eq!(again[1].dedup_key, new[1].dedup_key);
    cur.advance(&new);
    assert!(src.select_new(&cur, &page).unwrap().is_empty());
    // With `greatest`, an item without a value to order by is failed the same way; it moves
    // no mark.
    let g = source(json!({"dedupe": "greatest", "greatest": "/ts"}));
    let mut gc = HttpCursor::for_source(&g);
    let new = g
        .select_new(&gc, &json!([{"id": 1, "ts": 5}, {"id": 2, "ts": null}]))
        .unwrap();
    assert_eq!(new.len(), 2);
    assert!(
        new[0].dedup_key.starts_with("unreadable:"),
        "{:?}",
        keys(&new)
    );
    assert_eq!(new[1].dedup_key, "1");
    assert!(new[0]
        .unreadable
        .as_deref()
        .unwrap()
        .contains("no value to order by"));
    // Keyed by its id, not its content: edited while it has no value, it keeps its key (a
    // second failed run each edit before).
    assert!(
        new[0].dedup_key.starts_with("unreadable:id:"),
        "{}",
        new[0].dedup_key
    );
    let edited = g
        .select_new(
            &gc,
            &json!([{"id": 1, "ts": 5}, {"id": 2, "ts": null, "title": "edited"}]),
        )
        .unwrap();
    assert_eq!(edited[0].dedup_key, new[0].dedup_key);
    let other = g
        .select_new(&gc, &json!([{"id": 1, "ts": 5}, {"id": 3, "ts": null}]))
        .unwrap();
    assert_ne!(other[0].dedup_key, new[0].dedup_key);
    // So is one whose value could not be sent back in a header (a line break) or kept.
    for (ts, why) in [
        (json!("2024-05-01\n"), "holds a line break or a NUL"),
        (
            json!("9".repeat(MAX_ID_BYTES + 1)),
            "bytes long, more than 4096",
        ),
    ] {
        let odd = g
            .select_new(&gc, &json!([{"id": 1, "ts": 5}, {"id": 4, "ts": ts}]))
            .unwrap();
        let unreadable = odd[0].unreadable.as_deref().unwrap_or_default();
        assert!(unreadable.contains(why), "{unreadable}");
        // A `unique` cursor only sorts by it: the item reads.
        let u = source(json!({"greatest": "/ts"}));
        let sorted = u
            .select_new(
                &HttpCursor::for_source(&u),
                &json!([{"id": 4, "ts": ts.clone()}]),
            )
            .unwrap();
        assert_eq!(sorted[0].unreadable, None, "{why}");
    }
    gc.advance(&new);
    assert_eq!(gc.mark(), Some(&json!(5)));
    // Once its value is filled in, the item is new under its id: it was not taken for good.
    let filled = g
        .select_new(&gc, &json!([{"id": 1, "ts": 5}, {"id": 2, "ts": 6}]))
        .unwrap();
    assert_eq!(keys(&filled), ["2"]);
    let u = source(json!({"dedupe": "unique", "greatest": "/ts"}));
    let mut uc = HttpCursor::for_source(&u);
    let new = u
        .select_new(&uc, &json!([{"id": 1, "ts": 5}, {"id": 2, "ts": null}]))
        .unwrap();
    uc.advance(&new);
    let filled = u
        .select_new(&uc, &json!([{"id": 1, "ts": 5}, {"id": 2, "ts": 6}]))
        .unwrap();
    assert_eq!(keys(&filled), ["2"]);
}

#[test]
fn a_page_of_which_no_item_has_an_id_fails_with_index_and_pointer() {
    let src = source(json!({"id": "/meta/id"}));
    let cur = HttpCursor::for_source(&src);
    let err = src
        .select_new(&cur, &json!([{"meta": {}}, {"meta": {"id": null}}]))
        .unwrap_err();
    assert_eq!(
        err,
        PollError::BadItem {
            index: 0,
            pointer: "/meta/id".into(),
            problem: "has no id there".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "item [0] at pointer \"/meta/id\": has no id there"
    );
    let err = src
        .select_new(&cur, &json!([{"meta": {"id": {"x": 1}}}]))
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("must be a string or a number, got object"));
    let err = src
        .select_new(&cur, &json!([{"meta": {"id": ""}}]))
        .unwrap_err();
    assert!(err.to_string().contains("empty string"));
    let g = source(json!({"dedupe": "greatest", "greatest": "/ts"}));
    let err = g
        .select_new(&HttpCursor::for_source(&g), &json!([{"id": 1, "ts": true}]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "item [0] at pointer \"/ts\": the value to order by must be a string or a number, got boolean"
    );
}

#[test]
fn whole_number_ids_past_2_53_read_as_floats_are_refused() {
    let src = source(json!({"id": "/id"}));
    let cur = HttpCursor::for_source(&src);
    let page: serde_json::Value = serde_json::from_str(
        r#"[{"id": 12345678901234567890123}, {"id": 12345678901234567890124}]"#,
    )
    .unwrap();
    let err = src.select_new(&cur, &page).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "item [0] at pointer \"/id\": the id 1.2345678901234568e+22 is a whole number too large"
        ),
        "{err}"
    );
    // 64-bit integers are exact, and so are fractions and smaller whole numbers.
    let page: serde_json::Value = serde_json::from_str(
        r#"[{"id": 18446744073709551615}, {"id": -9223372036854775808}, {"id": 123.0}, {"id": 1.5}]"#,
    )
    .unwrap();
    let new = src.select_new(&cur, &page).unwrap();
    assert_eq!(
        keys(&new),
        [
            "18446744073709551615",
            "-9223372036854775808",
            "123.0",
            "1.5"
        ]
    );
}

#[test]
fn scalar_items_are_their_own_id() {
    let src = source(json!({"id": ""}));
    let cur = HttpCursor::for_source(&src);
    let new = src.select_new(&cur, &json!(["a", 2, "a"])).unwrap();
    assert_eq!(keys(&new), ["a", "2"]);
}

#[test]
fn start_now_records_without_running() {
    let src = source(json!({}));
    let body = json!([{"id": 1}, {"id": 2}]);
    let (mut cur, first) = HttpCursor::resume(None, &src);
    assert!(first);
    let seen = src.select_new(&cur, &body).unwrap();
    cur.advance(&seen); // start: now → no runs for these
    let stored: HttpCursor = serde_json::from_str(&serde_json::to_string(&cur).unwrap()).unwrap();
    let (cur, first) = HttpCursor::resume(Some(stored), &src);
    assert!(!first);
    let new = src
        .select_new(&cur, &json!([{"id": 3}, {"id": 2}, {"id": 1}]))
        .unwrap();
    assert_eq!(keys(&new), ["3"]);
}

#[test]
fn resume_adapts_to_a_changed_definition() {
    let unique = source(json!({"unique_capacity": 2}));
    let greatest = source(json!({"dedupe": "greatest"}));
    let mut ids = RecentIds::new(10);
    for id in ["a", "b", "c"] {
        ids.insert(id.into());
    }
    let (cur, first) = HttpCursor::resume(Some(HttpCursor::Unique(ids.clone())), &unique);
    assert!(!first);
    let HttpCursor::Unique(r) = &cur else {
        panic!()
    };
    assert_eq!(r.iter().collect::<Vec<_>>(), ["b", "c"]);
    let (cur, first) = HttpCursor::resume(Some(HttpCursor::Unique(ids)), &greatest);
    assert!(first);
    assert_eq!(cur, HttpCursor::for_source(&greatest));
}

#[test]
fn compares_values() {
    use Ordering::*;
    let cmp = |a: Value, b: Value| compare_values(&a, &b);
    assert_eq!(cmp(json!(9), json!(10)), Less);
    assert_eq!(cmp(json!(1.5), json!(1)), Greater);
    assert_eq!(cmp(json!("9"), json!(10)), Less);
    assert_eq!(cmp(json!("-3"), json!("-20")), Greater);
    assert_eq!(cmp(json!("007"), json!(7)), Equal);
    // Beyond f64 precision, integers still compare exactly.
    assert_eq!(
        cmp(json!(9007199254740993u64), json!(9007199254740992u64)),
        Greater
    );
    assert_eq!(
        cmp(
            json!("123456789012345678901234567891"),
            json!("123456789012345678901234567890")
        ),
        Greater
    );
    assert_eq!(
        cmp(
            json!("2024-05-01T10:00:00+02:00"),
            json!("2024-05-01T09:00:00Z")
        ),
        Less
    );
    assert_eq!(
        cmp(json!("2024-05-02"), json!("2024-05-01T23:59:59Z")),
        Greater
    );
    assert_eq!(
        cmp(
            json!("2024-05-01 10:00:00.5+00"),
            json!("2024-05-01T10:00:00Z")
        ),
        Greater
    );
    // Otherwise as text.
    assert_eq!(cmp(json!("b"), json!("a")), Greater);
    assert_eq!(cmp(json!("abc"), json!(5)), Greater);
    assert_eq!(
        cmp(json!("2024-05-01T10:00:00Z"), json!(1714557600)),
        Greater
    );
}

#[test]
fn parses_instants() {
    let want = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    for s in [
        "2024-05-01T10:00:00Z",
        "2024-05-01t10:00:00z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01 10:00:00+00",
        "2024-05-01 12:00:00+0200",
        "2024-05-01T10:00:00",
        "2024-05-01 10:00:00.000",
        "2024-05-01T10:00",
        "2024-05-01 10:00:00.000000-00",
        "2024-05-01T05:30:00-0430",
        "Wed, 01 May 2024 10:00:00 +0000",
    ] {
        assert_eq!(parse_instant(s), Some(want), "{s}");
    }
    assert_eq!(
        parse_instant("2024-05-01"),
        Some(want - chrono::Duration::hours(10))
    );
    assert_eq!(
        parse_instant("2024-05-01 10:00:00.25+00"),
        Some(want + chrono::Duration::milliseconds(250))
    );
    for s in [
        "yesterday",
        "2024-13-01",
        "10:00",
        "1714557600",
        "",
        "2024-05-01T10:00:00+2",
        "2024-05-01T10:00:00+02:0x",
        "2024-05-01T10:00:00 UTC",
        "2024-05-01T25:00",
        "2024-05-01Té0:00:00",
    ] {
        assert_eq!(parse_instant(s), None, "{s}");
    }
}

#[test]
fn mixed_kinds_sort_without_panicking() {
    let src = source(json!({"greatest": "/k"}));
    let cur = HttpCursor::for_source(&src);
    let items: Vec<Value> = (0..40)
        .map(|i| match i % 4 {
            0 => json!({"id": i, "k": i}),
            1 => json!({"id": i, "k": format!("2024-05-{:02}", i % 28 + 1)}),
            2 => json!({"id": i, "k": format!("w{i}")}),
            _ => json!({"id": i, "k": i as f64 / 3.0}),
        })
        .collect();
    let new = cur.select_new(&items, "/id", Some("/k")).unwrap();
    assert_eq!(new.len(), 40);
    // Numbers, then times, then text.
    assert_eq!(new[0].record["k"], json!(0));
    assert_eq!(new[39].record["k"], json!("w6")); // text order
}

/// The reading before it was rewritten as RFC 3339 (chrono's strftime parser): the reference
/// for the differential test below.
fn parse_instant_with_strftime(s: &str) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDate, NaiveDateTime};
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

proptest::proptest! {
    /// Every form a source writes a time in (fields zero-padded or not, with or without seconds
    /// and fraction, `T`/`t`/space, each offset form or none, after a space or not, a bare
    /// date) reads as the strftime reading did. With a few odd characters after it, the new
    /// reading may decline what the strftime one took (`+00:`), never read it differently.
    #[test]
    fn instants_read_as_with_chrono_s_strftime_parser(
        y in 1900i32..2200, mo in 1u32..=12, d in 1u32..=31, h in 0u32..24, mi in 0u32..60,
        sec in 0u32..60, frac in proptest::option::of("[0-9]{1,9}"),
        sep in proptest::sample::select(vec!["T", "t", " "]),
        form in 0usize..4,
        padded in proptest::bool::ANY,
        offset in proptest::sample::select(vec![
            "", "Z", "z", "+00", "-00", "+02", "-0530", "+0200", "+02:00", "-11:30", "+14",
            " +0200", " Z", " -05",
        ]),
        noise in proptest::option::of("[ 0-9:+\\-.TZ]{1,3}"),
    ) {
        let two = |n: u32| if padded { format!("{n:02}") } else { n.to_string() };
        let date = format!("{y:04}-{}-{}", two(mo), two(d));
        let (h, mi, sec) = (two(h), two(mi), two(sec));
        let text = match form {
            0 => date,
            1 => format!("{date}{sep}{h}:{mi}{offset}"),
            2 => format!("{date}{sep}{h}:{mi}:{sec}{offset}"),
            _ => format!(
                "{date}{sep}{h}:{mi}:{sec}.{}{offset}",
                frac.unwrap_or_else(|| "0".into())
            ),
        };
        let text = match &noise {
            Some(n) => format!("{text}{n}"),
            None => text,
        };
        let (new, old) = (parse_instant(&text), parse_instant_with_strftime(&text));
        if noise.is_none() || new.is_some() {
            proptest::prop_assert_eq!(new, old, "{}", text);
        }
    }
}

fn taken(pairs: &[(&str, Option<Value>)]) -> Vec<Taken> {
    pairs
        .iter()
        .map(|(k, g)| Taken {
            key: k.to_string(),
            greatest: g.clone(),
        })
        .collect()
}

fn advanced(mut cursor: HttpCursor, taken: &[Taken]) -> HttpCursor {
    cursor.advance_over(taken.iter().map(|t| (t.key.as_str(), t.greatest.as_ref())));
    cursor
}

#[test]
fn a_compacted_walk_advances_a_greatest_cursor_as_the_whole_walk_would() {
    let start = advanced(
        HttpCursor::Greatest {
            mark: None,
            at_mark: RecentIds::new(AT_MARK_CAPACITY),
            by: None,
        },
        &taken(&[("a", Some(json!(5)))]),
    );
    // 50 000 records, the greatest value (60 000) shared by three; some without a value.
    let mut walk: Vec<(String, Option<Value>)> = (0..50_000)
        .map(|i| (format!("r{i}"), Some(json!(i + 1))))
        .collect();
    walk.push(("none".into(), None));
    for k in ["t1", "t2", "t3"] {
        walk.insert(20_000, (k.into(), Some(json!(60_000))));
    }
    let walk: Vec<Taken> = walk
        .into_iter()
        .map(|(key, greatest)| Taken { key, greatest })
        .collect();
    let mut kept = walk.clone();
    start.compact_taken(&mut kept);
    assert_eq!(kept.len(), 3);
    assert_eq!(
        advanced(start.clone(), &kept),
        advanced(start.clone(), &walk)
    );
    // Fewer records than the mark remembers, but long ids: compacted too, by their size.
    let long: Vec<Taken> = (0..5_000)
        .map(|i| Taken {
            key: format!("https://api.example.com/v1/resources/{i:0>120}"),
            greatest: Some(json!(format!("2024-05-01T00:{:02}:00Z", i % 60))),
        })
        .collect();
    let mut kept = long.clone();
    start.compact_taken(&mut kept);
    assert_eq!(kept.len(), 5_000 / 60, "the records at the greatest value");
    assert_eq!(
        advanced(start.clone(), &kept),
        advanced(start.clone(), &long)
    );
    let short = long[..100].to_vec();
    let mut kept = short.clone();
    start.compact_taken(&mut kept);
    assert_eq!(kept, short, "a short, small walk is kept whole");
    // Below the cursor's mark: nothing to keep that would move it.
    let low = taken(&[("x", Some(json!(1))), ("y", Some(json!(2)))]);
    let mut kept = low.clone();
    start.compact_taken(&mut kept);
    assert_eq!(advanced(start.clone(), &kept), advanced(start, &low));
}

#[test]
fn a_compacted_walk_advances_a_unique_cursor_as_the_whole_walk_would() {
    let mut ids = RecentIds::new(100);
    for i in 0..100 {
        ids.insert(format!("old{i}"));
    }
    let start = HttpCursor::Unique(ids);
    let walk: Vec<Taken> = (0..5_000)
        .map(|i| Taken {
            key: format!("n{i}"),
            greatest: None,
        })
        .collect();
    let mut kept = walk.clone();
    start.compact_taken(&mut kept);
    assert_eq!(kept.len(), 100);
    assert_eq!(kept[0].key, "n4900");
    assert_eq!(
        advanced(start.clone(), &kept),
        advanced(start.clone(), &walk)
    );
    // A short walk is kept whole.
    let short = walk[..10].to_vec();
    let mut kept = short.clone();
    start.compact_taken(&mut kept);
    assert_eq!(kept, short);
}

#[test]
fn a_mark_read_at_another_greatest_pointer_starts_over() {
    let by_id = source(json!({"dedupe": "greatest"}));
    let (mut cur, first) = HttpCursor::resume(None, &by_id);
    assert!(first);
    cur.advance(
        &by_id
            .select_new(&cur, &json!([{"id": 98765, "seq": 1}]))
            .unwrap(),
    );
    // Kept while the pointer stays, and through the stored form.
    let (header, ids) = crate::poll::state::split_http(&cur);
    let stored = crate::poll::state::join_http(&header, ids).unwrap();
    assert_eq!(stored, cur);
    let (kept, first) = HttpCursor::resume(Some(stored.clone()), &by_id);
    assert!(!first);
    assert_eq!(kept, cur);
    // Another pointer: the mark 98765 says nothing about `/seq`, so the cursor starts over.
    let by_seq = source(json!({"dedupe": "greatest", "greatest": "/seq"}));
    let (fresh, first) = HttpCursor::resume(Some(stored), &by_seq);
    assert!(first);
    assert_eq!(fresh.mark(), None);
    let new = by_seq
        .select_new(&fresh, &json!([{"id": 98766, "seq": 100}]))
        .unwrap();
    assert_eq!(keys(&new), ["98766"]);
    // A cursor stored before the pointer was kept is resumed, and keeps the pointer from then.
    let old: HttpCursor = serde_json::from_value(
        json!({"mode": "greatest", "mark": 5, "at_mark": {"capacity": 10, "ids": ["5"]}}),
    )
    .unwrap();
    let (resumed, first) = HttpCursor::resume(Some(old), &by_seq);
    assert!(!first);
    assert!(matches!(resumed, HttpCursor::Greatest { by: Some(ref b), .. } if b == "/seq"));
}

/// A PostgreSQL position reads back as written, with or without its tiebreak (and from
/// positions stored before the tiebreak's column was kept); anything else is refused.
#[test]
fn a_pg_position_reads_back_as_it_was_kept() {
    for p in [
        PgCursor::Beginning,
        PgCursor::At {
            cursor: "42".into(),
            tiebreak: None,
            tiebreak_column: None,
        },
        PgCursor::At {
            cursor: "2024-05-01 10:00:00+00".into(),
            tiebreak: Some("7".into()),
            tiebreak_column: Some("id".into()),
        },
    ] {
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            serde_json::from_str::<PgCursor>(&text).unwrap(),
            p,
            "{text}"
        );
    }
    assert_eq!(
        serde_json::from_str::<PgCursor>(r#"{"position":"at","cursor":"9","tiebreak":"3"}"#)
            .unwrap(),
        PgCursor::At {
            cursor: "9".into(),
            tiebreak: Some("3".into()),
            tiebreak_column: None,
        }
    );
    for bad in [
        r#"{"position":"at"}"#,
        r#"{"position":"at","cursor":9}"#,
        r#"{"position":"at","cursor":"9","tiebreak":3}"#,
        r#"{"position":"end"}"#,
        r#"{"cursor":"9"}"#,
    ] {
        assert!(serde_json::from_str::<PgCursor>(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_page_lists_newest_first_when_its_first_ordering_value_is_the_greatest() {
    let page = |values: Vec<Value>| -> Vec<Value> {
        values.into_iter().map(|v| json!({"at": v})).collect()
    };
    let yes = |values: Vec<Value>| lists_newest_first(&page(values), "/at");
    assert!(yes(vec![json!("2024-05-03"), json!("2024-05-01")]));
    assert!(yes(vec![json!(10), json!(9), json!(2)]));
    assert!(!yes(vec![json!("2024-05-01"), json!("2024-05-03")]));
    // One item, equal values, or an item without one tell nothing.
    assert!(!yes(vec![json!("2024-05-03")]));
    assert!(!yes(vec![json!("2024-05-03"), json!("2024-05-03")]));
    assert!(!yes(vec![Value::Null, json!("2024-05-01")]));
    assert!(!lists_newest_first(&[json!({}), json!({"at": 1})], "/at"));
    assert!(!lists_newest_first(&[], "/at"));
}

#[test]
fn the_limit_a_request_asks_for_is_read_from_its_query() {
    let limit = |u: &str| asked_limit(u);
    assert_eq!(
        limit("https://a.example/e?since=x&limit=100"),
        Some(Some(100))
    );
    assert_eq!(limit("https://a.example/e?per_page=50"), Some(Some(50)));
    assert_eq!(
        limit("https://a.example/e?pageSize=25&page_size=9"),
        Some(Some(25))
    );
    assert_eq!(limit("https://a.example/e?hitsPerPage=10"), Some(Some(10)));
    assert_eq!(limit("https://a.example/e?%24top=5"), Some(Some(5)));
    assert_eq!(limit("https://a.example/e?since=x"), None);
    assert_eq!(limit("https://a.example/e?limit=all"), Some(None));
    assert_eq!(limit("not a url"), None);
}

#[test]
fn records_sort_oldest_first_with_unreadable_ones_first() {
    let rec = |key: &str, greatest: Option<Value>| NewRecord {
        dedup_key: key.to_string(),
        record: json!({}),
        greatest,
        unreadable: None,
        withheld: None,
    };
    let mut records = vec![
        rec("c", Some(json!(3))),
        rec("bad", None),
        rec("a", Some(json!(1))),
    ];
    sort_oldest_first(&mut records);
    assert_eq!(keys(&records), ["bad", "a", "c"]);
    // None has a value: the order is kept.
    let mut records = vec![rec("b", None), rec("a", None)];
    sort_oldest_first(&mut records);
    assert_eq!(keys(&records), ["b", "a"]);
}
