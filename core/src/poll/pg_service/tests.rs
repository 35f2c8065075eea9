use super::*;

fn source(def: Value) -> PgSource {
    let mut errors = Errors::default();
    match parse_source(&def, "source", &mut errors) {
        Some(PollSource::Postgres(s)) => s,
        other => panic!("{other:?} {errors:?}"),
    }
}

fn full() -> PgSource {
    source(
        json!({"kind": "postgres", "connection_env": "PG_URL", "table": "app.orders",
        "cursor": "created_at", "tiebreak": "id", "columns": ["id", "total"], "batch_size": 7}),
    )
}

#[test]
fn a_source_survives_the_trip_through_its_definition() {
    for s in [
        full(),
        source(json!({"kind": "postgres", "hyperdrive": "HD", "table": "t", "cursor": "id"})),
        source(
            json!({"kind": "postgres", "hyperdrive": "HD", "table": "v", "cursor": "id",
                      "tiebreak": "id"}),
        ),
    ] {
        assert_eq!(source(source_definition(&s)), s);
    }
}

#[test]
fn a_batch_request_is_checked_and_read_back_whole() {
    let mut horizon = Horizon::default();
    let reading = super::super::horizon::Reading {
        snapshot: super::super::horizon::TxSnapshot { xmin: 5, xmax: 9 },
        db_ms: 1_700_000_000_000,
        latest: PgCursor::Beginning,
    };
    horizon.settle(&reading, 2_000, 1);
    let read = PgRead::SettledBatch {
        cursor: PgCursor::At {
            cursor: "2026-01-01 00:00:00+00".into(),
            tiebreak: Some("4".into()),
            tiebreak_column: Some("id".into()),
        },
        horizon,
        now_ms: 1_700_000_000_000,
    };
    let body = serde_json::to_string(&PgServiceRequest::new(
        &full(),
        Some("postgres://u:p@h/db".into()),
        read.clone(),
    ))
    .unwrap();
    let call = PgServiceRequest::check(&body).unwrap();
    assert_eq!(call.source, full());
    assert_eq!(
        call.target,
        PgTarget::Url {
            env: "PG_URL".into(),
            url: "postgres://u:p@h/db".into()
        }
    );
    assert_eq!(call.read, read);
}

#[test]
fn a_hyperdrive_source_is_sent_without_a_url() {
    let s = source(json!({"kind": "postgres", "hyperdrive": "HD", "table": "t", "cursor": "id"}));
    let body = serde_json::to_string(&PgServiceRequest::new(&s, None, PgRead::Latest)).unwrap();
    assert!(!body.contains("\"url\""), "{body}");
    let call = PgServiceRequest::check(&body).unwrap();
    assert_eq!(call.target, PgTarget::Hyperdrive("HD".into()));
    assert_eq!(call.read, PgRead::Latest);
}

#[test]
fn requests_the_definition_parser_would_refuse_are_refused() {
    let with = |source: Value, url: Option<&str>| {
        let mut v =
            json!({"version": PG_SERVICE_VERSION, "source": source, "read": {"op": "latest"}});
        if let Some(u) = url {
            v["url"] = json!(u);
        }
        PgServiceRequest::check(&v.to_string()).unwrap_err()
    };
    // A name that would not be a plain identifier never reaches the SQL builder.
    let e = with(
        json!({"kind": "postgres", "connection_env": "A", "table": "t\"; DROP", "cursor": "id"}),
        Some("postgres://h/db"),
    );
    assert!(e.contains("source.table"), "{e}");
    let e = with(
        json!({"kind": "http", "url": "https://example.com", "id": "/id"}),
        None,
    );
    assert!(e.contains("not a PostgreSQL source"), "{e}");
    let e = with(
        json!({"kind": "postgres", "connection_env": "A", "table": "t", "cursor": "id"}),
        None,
    );
    assert!(e.contains("no URL"), "{e}");
    let e = with(
        json!({"kind": "postgres", "hyperdrive": "HD", "table": "t", "cursor": "id"}),
        Some("postgres://h/db"),
    );
    assert!(e.contains("also a URL"), "{e}");
}

#[test]
fn another_version_or_shape_is_refused_with_what_to_do() {
    let e = PgServiceRequest::check(
        &json!({"version": 1, "source": {}, "read": {"op": "latest"}}).to_string(),
    )
    .unwrap_err();
    assert!(e.contains("deploy both Workers"), "{e}");
    let e = PgServiceRequest::check(
        &json!({"version": PG_SERVICE_VERSION, "source": {}, "read": {"op": "drop_table"}})
            .to_string(),
    )
    .unwrap_err();
    assert!(e.contains("could not read the request"), "{e}");
    let e =
        PgServiceReply::parse(200, r#"{"version":9,"outcome":"failed","error":"x"}"#).unwrap_err();
    assert!(e.contains("deploy both Workers"), "{e}");
    let e = PgServiceReply::parse(502, "Bad Gateway").unwrap_err();
    assert!(e.contains("HTTP 502") && e.contains("Bad Gateway"), "{e}");
    let e = PgServiceReply::parse(200, "[]").unwrap_err();
    assert!(e.contains("something else than a read's answer"), "{e}");
    let e = PgServiceReply::parse(
        200,
        &format!(r#"{{"version":{PG_SERVICE_VERSION},"outcome":{{"dropped":{{}}}}}}"#),
    )
    .unwrap_err();
    assert!(e.contains("something else than a read's answer"), "{e}");
}

#[test]
fn an_answer_names_its_outcome_by_its_one_key() {
    let body = serde_json::to_string(&PgServiceReply::new(PgOutcome::Failed {
        error: "x".into(),
    }))
    .unwrap();
    assert_eq!(
        body,
        format!(r#"{{"version":{PG_SERVICE_VERSION},"outcome":{{"failed":{{"error":"x"}}}}}}"#)
    );
}

#[test]
fn answers_read_back_as_sent() {
    for outcome in [
        PgOutcome::Latest {
            latest: PgCursor::Beginning,
        },
        PgOutcome::Batch {
            rows: vec![PgRow {
                record: Some(r#"{"id":1,"note":"a \"quoted\" word"}"#.into()),
                bytes: 0,
                cursor: Some("1".into()),
                tiebreak: None,
            }],
            horizon: Horizon::default(),
            cut: true,
        },
        PgOutcome::Failed {
            error: "PostgreSQL: relation \"t_nope\" does not exist".into(),
        },
    ] {
        let body = serde_json::to_string(&PgServiceReply::new(outcome.clone())).unwrap();
        assert_eq!(PgServiceReply::parse(200, &body).unwrap(), outcome);
    }
}

#[test]
fn an_answer_of_another_shape_is_refused() {
    let v = PG_SERVICE_VERSION;
    let row = r#"{"record":"{}","cursor":"1"}"#;
    let horizon = r#"{"marks":[]}"#;
    let batch = |row: &str| {
        format!(r#"{{"version":{v},"outcome":{{"batch":{{"rows":[{row}],"horizon":{horizon}}}}}}}"#)
    };
    match PgServiceReply::parse(200, &batch(row)).unwrap() {
        PgOutcome::Batch { rows, cut, .. } => {
            assert_eq!(
                (rows[0].bytes, rows[0].tiebreak.is_none(), cut),
                (0, true, false)
            )
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        batch(r#"{"record":"{}","cursor":"1","extra":1}"#),
        batch(r#"{"record":1,"cursor":"1"}"#),
        format!(r#"{{"version":{v},"outcome":{{"failed":{{"error":"x"}},"latest":{{}}}}}}"#),
        format!(r#"{{"version":{v},"outcome":{{"failed":{{}}}}}}"#),
        format!(r#"{{"version":{v}}}"#),
        r#"{"outcome":{"failed":{"error":"x"}}}"#.to_string(),
    ] {
        let e = PgServiceReply::parse(200, &bad).unwrap_err();
        assert!(
            e.contains("something else than a read's answer"),
            "{bad}: {e}"
        );
    }
}
