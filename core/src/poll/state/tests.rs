use super::*;
use crate::poll::PollTrigger;

fn empty_greatest() -> HttpCursor {
    HttpCursor::Greatest {
        mark: None,
        at_mark: RecentIds::new(DEFAULT_UNIQUE_CAPACITY),
        by: None,
    }
}

fn source(v: Value) -> PollSource {
    let mut errors = Errors::new();
    PollTrigger::parse(
        &json!({"type": "poll", "source": v}),
        "trigger",
        &mut errors,
    )
    .unwrap_or_else(|| panic!("{errors:?}"))
    .source
}

fn rec(id: &str, greatest: Option<Value>) -> NewRecord {
    NewRecord {
        dedup_key: id.to_string(),
        record: json!({"id": id}),
        greatest,
        unreadable: None,
        withheld: None,
    }
}

#[test]
fn fingerprint_follows_the_source_not_the_tuning() {
    let a =
        source(json!({"kind": "postgres", "connection_env": "PG", "table": "t", "cursor": "id"}));
    let b = source(
        json!({"kind": "postgres", "connection_env": "OTHER", "table": "t", "cursor": "id",
        "batch_size": 10, "columns": ["x"], "tiebreak": "y"}),
    );
    let c = source(
        json!({"kind": "postgres", "connection_env": "PG", "table": "public.t", "cursor": "id"}),
    );
    let d =
        source(json!({"kind": "postgres", "connection_env": "PG", "table": "t", "cursor": "ts"}));
    assert_eq!(source_fingerprint(&a), source_fingerprint(&b));
    assert_ne!(source_fingerprint(&a), source_fingerprint(&c));
    assert_ne!(source_fingerprint(&a), source_fingerprint(&d));
    let h1 = source(json!({"kind": "http", "url": "https://x/a", "items": "/data"}));
    let h2 = source(
        json!({"kind": "http", "url": "https://x/a", "items": "/data",
        "headers": {"x-k": "v"}, "dedupe": "greatest"}),
    );
    let h3 = source(json!({"kind": "http", "url": "https://x/b", "items": "/data"}));
    assert_eq!(source_fingerprint(&h1), source_fingerprint(&h2));
    assert_ne!(source_fingerprint(&h1), source_fingerprint(&h3));
}

/// Transaction marks follow the connection too: another cluster's transaction ids are not
/// compared with marks read from the first.
#[test]
fn transaction_marks_belong_to_their_connection() {
    let pg = |connection: Value| {
        let mut v = json!({"kind": "postgres", "table": "t", "cursor": "id", "batch_size": 10});
        for (k, x) in connection.as_object().unwrap() {
            v[k] = x.clone();
        }
        source(v)
    };
    let a = pg(json!({"connection_env": "PG"}));
    let tuned = pg(json!({"connection_env": "PG", "columns": ["x"]}));
    let other = pg(json!({"connection_env": "PG_NEW"}));
    let pooled = pg(json!({"hyperdrive": "PG"}));
    let at = |s: &PollSource| horizon_fingerprint(&source_fingerprint(s), s);
    assert_eq!(source_fingerprint(&a), source_fingerprint(&other));
    assert_eq!(at(&a), at(&tuned));
    assert_ne!(at(&a), at(&other));
    assert_ne!(at(&a), at(&pooled));
}

#[test]
fn http_cursor_splits_and_joins() {
    let mut c = HttpCursor::Unique(RecentIds::new(3));
    c.advance(&[
        rec("a", None),
        rec("b", None),
        rec("c", None),
        rec("d", None),
    ]);
    let (header, ids) = split_http(&c);
    assert_eq!(header, json!({"mode": "unique", "capacity": 3}));
    assert_eq!(ids, ["b", "c", "d"]);
    assert_eq!(join_http(&header, ids).unwrap(), c);
    assert_eq!(
        http_summary(&c),
        json!({"mode": "unique", "capacity": 3, "remembered_ids": 3})
    );

    let mut g = empty_greatest();
    g.advance(&[
        rec("1", Some(json!(5))),
        rec("2", Some(json!(7))),
        rec("3", Some(json!(7))),
    ]);
    let (header, ids) = split_http(&g);
    assert_eq!(header, json!({"mode": "greatest", "mark": 7}));
    assert_eq!(ids, ["2", "3"]);
    assert_eq!(join_http(&header, ids).unwrap(), g);
    assert_eq!(
        http_summary(&g),
        json!({"mode": "greatest", "mark": 7, "ids_at_mark": 2})
    );
    assert!(join_http(&json!({"mode": "other"}), vec![]).is_none());
    assert!(join_http(&json!(null), vec![]).is_none());
}

#[test]
fn empty_cursor_takes_everything() {
    let items = vec![json!({"id": 1}), json!({"id": 2})];
    let c = HttpCursor::Unique(RecentIds::new(10));
    assert_eq!(c.select_new(&items, "/id", None).unwrap().len(), 2);
    let g = empty_greatest();
    assert_eq!(g.select_new(&items, "/id", None).unwrap().len(), 2);
}

#[test]
fn batch_run_ids_sort_in_sequence() {
    use crate::kernel::ids::new_legacy_run_id as new_run_id;
    let ids: Vec<String> = [0u32, 1, 2, 255, 256, 4999, 70_000]
        .iter()
        .map(|&s| {
            new_run_id(
                1_700_000_000_000,
                &batch_run_random(s, [0xff - (s % 7) as u8; 7]),
            )
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(ids.iter().all(|i| crate::kernel::ids::is_run_id(i)));
}

#[test]
fn run_input_wraps_the_record() {
    assert_eq!(
        run_input(&rec("7", None)),
        json!({"event": {"record": {"id": "7"}}})
    );
}

#[test]
fn examples_are_valid_poll_workflows() {
    use crate::definition::{Definition, Trigger};
    for text in [
        include_str!("../../../../examples/poll.json"),
        include_str!("../../../../examples/poll-http.json"),
    ] {
        let v: Value = serde_json::from_str(text).unwrap();
        let def = Definition::parse(&v).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(def.trigger, Trigger::Poll(_)));
    }
}

#[test]
fn reset_body() {
    assert_eq!(parse_reset(&json!({"start": "now"})), Ok(PollStart::Now));
    assert_eq!(
        parse_reset(&json!({"start": "beginning"})),
        Ok(PollStart::Beginning)
    );
    let locs = |v: Value| -> Vec<String> {
        parse_reset(&v)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.location)
            .collect()
    };
    assert_eq!(locs(json!({})), ["body.start"]);
    assert_eq!(locs(json!({"start": "later"})), ["body.start"]);
    assert_eq!(locs(json!({"start": 1})), ["body.start"]);
    assert_eq!(locs(json!({"start": "now", "x": 1})), ["body.x"]);
    assert_eq!(locs(json!([])), ["body"]);
}

/// A polled record is stored redacted, like a request: credential names and credential-looking
/// values.
#[test]
fn run_input_redacts_credentials_of_the_record() {
    let mut r = rec("8", None);
    r.record = json!({"id": "8", "api_key": "k-123456", "password": "hunter22",
                      "note": "Bearer abc.def", "github": "ghp_0123456789abcdef", "name": "Ann"});
    let input = run_input(&r);
    let rec = &input["event"]["record"];
    for key in ["api_key", "password", "note", "github"] {
        assert_eq!(rec[key], "[redacted]", "{key}: {input}");
    }
    assert_eq!(rec["name"], "Ann");
    assert_eq!(rec["id"], "8");
}

/// One oversized record becomes a failed stub with its size; the others are stored as runs.
#[test]
fn an_oversized_record_is_a_failed_stub_not_a_blocker() {
    let small = rec("1", None);
    let mut big = rec("2", None);
    big.record = json!({"id": "2", "blob": "x".repeat(5_000)});
    assert!(matches!(stored_record(&small, 1_000), StoredRecord::Run(_)));
    match stored_record(&big, 1_000) {
        StoredRecord::Failed { input, error } => {
            assert!(input.len() < 1_000, "{input}");
            let input: Value = serde_json::from_str(&input).unwrap();
            assert_eq!(input["event"]["record_key"], "2");
            assert!(input["event"]["record_bytes"].as_u64().unwrap() > 5_000);
            let error: Value = serde_json::from_str(&error).unwrap();
            assert_eq!(error["code"], "record_too_large");
            assert!(error["message"].as_str().unwrap().contains("bytes"));
        }
        other => panic!("{other:?}"),
    }
}

/// An unreadable record becomes a failed stub that says why, under its own dedup key.
#[test]
fn an_unreadable_record_is_a_failed_stub_that_says_why() {
    let mut bad = rec("2", None);
    bad.record = Value::Null;
    bad.unreadable = Some("the record cannot be read: its JSON is nested too deep".into());
    match stored_record(&bad, 1_000) {
        StoredRecord::Failed { input, error } => {
            let input: Value = serde_json::from_str(&input).unwrap();
            assert_eq!(input, json!({"event": {"record": null, "record_key": "2"}}));
            let error: Value = serde_json::from_str(&error).unwrap();
            assert_eq!(error["code"], "record_unreadable");
            assert_eq!(
                error["message"],
                "the record cannot be read: its JSON is nested too deep"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A record the read left out for its size (only its bytes sent) is a failed stub with them.
#[test]
fn a_withheld_record_is_a_failed_stub_with_its_size() {
    let mut big = rec("7", None);
    big.record = Value::Null;
    big.withheld = Some(30_000_000);
    match stored_record(&big, 1_000) {
        StoredRecord::Failed { input, error } => {
            let input: Value = serde_json::from_str(&input).unwrap();
            let bytes = 30_000_000 + r#"{"event":{"record":}}"#.len();
            assert_eq!(
                input,
                json!({"event": {"record": null, "record_key": "7", "record_bytes": bytes}})
            );
            let error: Value = serde_json::from_str(&error).unwrap();
            assert_eq!(error["code"], "record_too_large");
            assert_eq!(error["bytes"], bytes);
        }
        other => panic!("{other:?}"),
    }
}

/// The oldest run after a gap carries it in its input, next to the record.
#[test]
fn a_gap_is_marked_on_the_run_that_follows_it() {
    let gap = json!({"kind": "all_new", "pages": 1});
    let mut stored = stored_record(&rec("3", None), 1_000);
    mark_gap(&mut stored, &gap);
    let StoredRecord::Run(input) = stored else {
        panic!("a run")
    };
    let input: Value = serde_json::from_str(&input).unwrap();
    assert_eq!(input["event"]["gap"], gap);
    assert_eq!(input["event"]["record"], rec("3", None).record);
}

/// Dedup keys are scoped to the source: the same record id under another table, cursor column
/// or URL is a new record.
#[test]
fn dedup_keys_are_scoped_to_the_source() {
    let def = |url: &str| {
        serde_json::json!({"name": "p", "trigger": {"type": "poll", "interval_seconds": 60,
            "source": {"kind": "http", "url": url, "items": "/items", "id": "/id"}}, "steps": []})
    };
    let fp = |url: &str| {
        let d = crate::definition::Definition::parse(&def(url)).unwrap();
        match d.trigger {
            crate::definition::Trigger::Poll(p) => source_fingerprint(&p.source),
            _ => unreachable!(),
        }
    };
    let (a, b) = (fp("https://a.example/items"), fp("https://b.example/items"));
    assert_ne!(scoped_dedup_key(&a, "42"), scoped_dedup_key(&b, "42"));
    assert_eq!(scoped_dedup_key(&a, "42"), scoped_dedup_key(&a, "42"));
    assert!(scoped_dedup_key(&a, "42").ends_with(":42"));
}

#[test]
fn dedup_keys_are_scoped_to_the_key_column_once_it_changes() {
    let fp = source_fingerprint(&source(
        json!({"kind": "postgres", "connection_env": "PG_URL",
        "table": "events", "cursor": "created_at", "tiebreak": "id"}),
    ));
    // The first key column: the keys runs already have.
    assert_eq!(dedup_scope(&fp, "id", "id"), fp);
    assert_eq!(
        scoped_dedup_key(&dedup_scope(&fp, "id", "id"), "1234"),
        scoped_dedup_key(&fp, "1234")
    );
    // Another key column with the same values: other keys, one per column.
    let seq = scoped_dedup_key(&dedup_scope(&fp, "id", "seq"), "1234");
    assert_ne!(seq, scoped_dedup_key(&fp, "1234"));
    assert_ne!(seq, scoped_dedup_key(&dedup_scope(&fp, "id", "n"), "1234"));
    assert!(seq.starts_with("src:"), "{seq}");
}
