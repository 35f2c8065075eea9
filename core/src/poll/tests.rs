use super::postgres::{MAX_RECORD_DEPTH, NESTED_TOO_DEEP};
use super::*;
use serde_json::json;

fn parse(v: Value) -> (Option<PollTrigger>, Errors) {
    let mut errors = Errors::new();
    let t = PollTrigger::parse(&v, "trigger", &mut errors);
    (t, errors)
}

/// The errors as (location, message) pairs; asserts parsing failed.
fn errs(v: Value) -> Vec<(String, String)> {
    let (t, e) = parse(v);
    assert!(t.is_none(), "expected errors, parsed {t:?}");
    e.0.into_iter().map(|e| (e.location, e.message)).collect()
}

fn pg(source: Value) -> Value {
    let mut s =
        json!({"kind": "postgres", "connection_env": "PG_URL", "table": "users", "cursor": "id"});
    for (k, v) in source.as_object().unwrap() {
        s[k] = v.clone();
    }
    json!({"type": "poll", "source": s})
}

fn pg_source(source: Value) -> PgSource {
    match parse(pg(source)) {
        (
            Some(PollTrigger {
                source: PollSource::Postgres(s),
                ..
            }),
            _,
        ) => s,
        other => panic!("not a postgres source: {other:?}"),
    }
}

fn http_source(source: Value) -> HttpSource {
    let mut s = json!({"kind": "http", "url": "https://api.example.com/items"});
    for (k, v) in source.as_object().unwrap() {
        s[k] = v.clone();
    }
    match parse(json!({"type": "poll", "source": s})) {
        (
            Some(PollTrigger {
                source: PollSource::Http(s),
                ..
            }),
            _,
        ) => s,
        other => panic!("not an http source: {other:?}"),
    }
}

fn types(cursor: &str, tiebreak: Option<&str>) -> PgColumnTypes {
    PgColumnTypes {
        cursor: PgType::parse(cursor).unwrap(),
        tiebreak: tiebreak.map(|t| PgType::parse(t).unwrap()),
        cursor_unique: tiebreak.is_none(),
    }
}

#[test]
fn parses_postgres_with_defaults() {
    let (t, e) = parse(pg(json!({})));
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(
        t.unwrap(),
        PollTrigger {
            interval_seconds: 60,
            start: PollStart::Now,
            source: PollSource::Postgres(PgSource {
                connection: PgConnection::Env("PG_URL".into()),
                schema: None,
                table: "users".into(),
                cursor: "id".into(),
                tiebreak: None,
                cursor_unique: false,
                columns: None,
                batch_size: 500,
                settle_seconds: 2,
            }),
        }
    );
}

#[test]
fn parses_postgres_full() {
    let v = json!({"type": "poll", "interval_seconds": 5, "start": "beginning",
        "source": {"kind": "postgres", "hyperdrive": "HYPERDRIVE", "table": "app.Orders",
                   "cursor": "updated_at", "tiebreak": "id", "columns": ["id", "total$"],
                   "batch_size": 5000, "settle_seconds": 0}});
    let (t, e) = parse(v);
    assert!(e.is_empty(), "{e:?}");
    let t = t.unwrap();
    assert_eq!(t.interval_seconds, 5);
    assert_eq!(t.start, PollStart::Beginning);
    let PollSource::Postgres(s) = t.source else {
        panic!()
    };
    assert_eq!(s.connection, PgConnection::Hyperdrive("HYPERDRIVE".into()));
    assert_eq!(s.schema.as_deref(), Some("app"));
    assert_eq!(s.table, "Orders");
    assert_eq!(s.tiebreak.as_deref(), Some("id"));
    assert_eq!(
        s.columns,
        Some(vec!["id".to_string(), "total$".to_string()])
    );
    assert_eq!(s.batch_size, 5000);
    assert_eq!(s.settle_seconds, 0);
    assert_eq!(s.relation(), "\"app\".\"Orders\"");
}

#[test]
fn parses_http_with_defaults() {
    let s = http_source(json!({}));
    assert_eq!(
        s,
        HttpSource {
            url: "https://api.example.com/items".into(),
            headers: vec![],
            items: "".into(),
            id: "/id".into(),
            dedupe: Dedupe::Unique { capacity: 10_000 },
            greatest: None,
            pagination: crate::poll::pages::Pagination::default(),
        }
    );
    assert_eq!(s.greatest_pointer(), None);
}

#[test]
fn parses_http_greatest() {
    let s = http_source(
        json!({"items": "/data/items", "id": "/key", "dedupe": "greatest",
        "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}", "accept": "application/json"}}),
    );
    assert_eq!(s.dedupe, Dedupe::Greatest);
    assert_eq!(s.greatest_pointer(), Some("/key"));
    assert_eq!(s.items, "/data/items");
    let s = http_source(json!({"dedupe": "greatest", "greatest": "/updated_at"}));
    assert_eq!(s.greatest_pointer(), Some("/updated_at"));
    let s = http_source(json!({"unique_capacity": 3, "greatest": "/created"}));
    assert_eq!(s.dedupe, Dedupe::Unique { capacity: 3 });
    assert_eq!(s.greatest_pointer(), Some("/created"));
}

#[test]
fn a_first_poll_from_now_overflows_only_a_unique_cursor_it_outgrows() {
    use crate::poll::cursor::HttpCursor;
    let unique = HttpCursor::for_source(&http_source(json!({"unique_capacity": 3})));
    assert_eq!(unique.overflowed_from_now(3), None);
    assert_eq!(unique.overflowed_from_now(4), Some(3));
    let greatest = HttpCursor::for_source(&http_source(
        json!({"dedupe": "greatest", "greatest": "/created"}),
    ));
    assert_eq!(greatest.overflowed_from_now(1_000_000), None);
}

#[test]
fn rejects_injection_in_identifiers() {
    let e = errs(pg(json!({"table": "users; DROP TABLE x"})));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, "trigger.source.table");
    assert!(e[0].1.contains("contains `;`"), "{}", e[0].1);

    let e = errs(pg(json!({"table": "my table"})));
    assert!(e[0].1.contains("contains a space"), "{}", e[0].1);

    let e = errs(pg(json!({"cursor": "a\"b"})));
    assert_eq!(e[0].0, "trigger.source.cursor");
    assert!(e[0].1.contains("contains `\"`"), "{}", e[0].1);

    let e = errs(pg(json!({"tiebreak": "id--"})));
    assert_eq!(e[0].0, "trigger.source.tiebreak");
    assert!(e[0].1.contains("contains `-`"), "{}", e[0].1);

    let e = errs(pg(json!({"columns": ["id", "email) FROM x --"]})));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, "trigger.source.columns[1]");

    let e = errs(pg(json!({"table": "public.users/*", "cursor": "1id"})));
    let locs: Vec<_> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(locs, ["trigger.source.table", "trigger.source.cursor"]);
    assert!(e[1].1.contains("must start with a letter or `_`"));

    let long = "a".repeat(64);
    let e = errs(pg(json!({ "cursor": long })));
    assert!(e[0].1.contains("63-byte"), "{}", e[0].1);
}

#[test]
fn rejects_bad_postgres_definitions_with_locations() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            pg(json!({"hyperdrive": "HD"})),
            "trigger.source.hyperdrive",
            "not both",
        ),
        (
            json!({"type": "poll", "source": {"kind": "postgres", "table": "t", "cursor": "id"}}),
            "trigger.source.connection_env",
            "is required",
        ),
        (
            pg(json!({"connection_env": "pg-url"})),
            "trigger.source.connection_env",
            "not a secret/binding name",
        ),
        (
            pg(json!({"table": "a.b.c"})),
            "trigger.source.table",
            "`table` or `schema.table`",
        ),
        (
            pg(json!({"table": ""})),
            "trigger.source.table",
            "must not be empty",
        ),
        (
            pg(json!({"columns": []})),
            "trigger.source.columns",
            "at least one column",
        ),
        (
            pg(json!({"columns": ["id", "id"]})),
            "trigger.source.columns[1]",
            "listed twice",
        ),
        (
            pg(json!({"columns": "id,email"})),
            "trigger.source.columns",
            "array of strings",
        ),
        (
            pg(json!({"batch_size": 0})),
            "trigger.source.batch_size",
            "between 1 and 5000",
        ),
        (
            pg(json!({"batch_size": 5001})),
            "trigger.source.batch_size",
            "between 1 and 5000",
        ),
        (
            pg(json!({"settle_seconds": 301})),
            "trigger.source.settle_seconds",
            "between 0 and 300",
        ),
        (
            pg(json!({"tabel": "users"})),
            "trigger.source.tabel",
            "unknown field `tabel`",
        ),
        (
            pg(json!({"cursor": 5})),
            "trigger.source.cursor",
            "must be a string",
        ),
        (
            pg(json!({"kind": "mysql"})),
            "trigger.source.kind",
            "\"postgres\" or \"http\"",
        ),
        (json!({"type": "poll"}), "trigger.source", "is required"),
        (
            json!({"type": "poll", "source": "users"}),
            "trigger.source",
            "must be an object",
        ),
        (
            json!({"type": "poll", "interval_seconds": 4, "source": {}}),
            "trigger.interval_seconds",
            "between 5 and 86400",
        ),
        (
            json!({"type": "poll", "interval_seconds": 86401}),
            "trigger.interval_seconds",
            "between 5 and 86400",
        ),
        (
            json!({"type": "poll", "start": "later"}),
            "trigger.start",
            "\"now\" or \"beginning\"",
        ),
        (
            json!({"type": "poll", "every": 5}),
            "trigger.every",
            "unknown field `every`",
        ),
    ];
    for (v, loc, msg) in cases {
        let e = errs(v.clone());
        assert!(
            e.iter().any(|(l, m)| l == loc && m.contains(msg)),
            "{v}: wanted {loc}: …{msg}…, got {e:?}"
        );
    }
}

#[test]
fn reports_every_error_at_once() {
    let e = errs(
        json!({"type": "poll", "interval_seconds": 1, "start": "soon",
        "source": {"kind": "postgres", "table": "a b", "cursor": "c;", "batch_size": -1, "x": 1}}),
    );
    let locs: Vec<_> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        locs,
        [
            "trigger.interval_seconds",
            "trigger.start",
            "trigger.source.connection_env",
            "trigger.source.table",
            "trigger.source.cursor",
            "trigger.source.batch_size",
            "trigger.source.x",
        ]
    );
}

#[test]
fn rejects_bad_http_definitions_with_locations() {
    let http = |extra: Value| {
        let mut s = json!({"kind": "http", "url": "https://api.example.com/x"});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"type": "poll", "source": s})
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            http(json!({"url": "ftp://x"})),
            "trigger.source.url",
            "https://",
        ),
        (
            http(json!({"url": "https:///path"})),
            "trigger.source.url",
            "host",
        ),
        (
            http(json!({"url": "https://x/a b"})),
            "trigger.source.url",
            "spaces",
        ),
        (
            json!({"type": "poll", "source": {"kind": "http"}}),
            "trigger.source.url",
            "is required",
        ),
        (
            http(json!({"items": "data"})),
            "trigger.source.items",
            "must start with `/`",
        ),
        (http(json!({"id": "/a~2b"})), "trigger.source.id", "`~0`"),
        (
            http(json!({"greatest": "/t~"})),
            "trigger.source.greatest",
            "`~0`",
        ),
        (
            http(json!({"dedupe": "newest"})),
            "trigger.source.dedupe",
            "\"unique\" or \"greatest\"",
        ),
        (
            http(json!({"dedupe": "greatest", "unique_capacity": 5})),
            "trigger.source.unique_capacity",
            "only applies",
        ),
        (
            http(json!({"unique_capacity": 0})),
            "trigger.source.unique_capacity",
            "between 1 and 100000",
        ),
        (
            http(json!({"headers": ["a"]})),
            "trigger.source.headers",
            "must be an object",
        ),
        (
            http(json!({"headers": {"x-n": 5}})),
            "trigger.source.headers.x-n",
            "must be a string",
        ),
        (
            http(json!({"headers": {"bad name": "v"}})),
            "trigger.source.headers.bad name",
            "not a valid header name",
        ),
        (
            http(json!({"headers": {"x": "a\r\nEvil: 1"}})),
            "trigger.source.headers.x",
            "line breaks",
        ),
        (
            http(json!({"headers": {"a": "1", "A": "2"}})),
            "trigger.source.headers.A",
            "given twice",
        ),
        (
            http(json!({"headers": {"authorization": "Bearer {{secrets.api-token}}"}})),
            "trigger.source.headers.authorization",
            "secrets are read as `{{secrets.NAME}}`",
        ),
        (
            http(json!({"headers": {"authorization": "Bearer {{request.body}}"}})),
            "trigger.source.headers.authorization",
            "`request` is not available",
        ),
        (
            http(json!({"url": "https://x/?k={{secrets.K"})),
            "trigger.source.url",
            "unclosed `{{`",
        ),
        (
            http(json!({"cursor": "id"})),
            "trigger.source.cursor",
            "unknown field `cursor`",
        ),
    ];
    for (v, loc, msg) in cases {
        let e = errs(v.clone());
        assert!(
            e.iter().any(|(l, m)| l == loc && m.contains(msg)),
            "{v}: wanted {loc}: …{msg}…, got {e:?}"
        );
    }
}

#[test]
fn json_pointer_syntax() {
    for ok in ["", "/", "/data", "/a~0b/~1c/0", "/with space"] {
        assert_eq!(check_json_pointer(ok), Ok(()), "{ok}");
    }
    for bad in ["data", "~", "/a~", "/a~2", "#/data"] {
        assert!(check_json_pointer(bad).is_err(), "{bad}");
    }
}

#[test]
fn column_type_query() {
    let s = pg_source(
        json!({"table": "public.users", "cursor": "created_at", "tiebreak": "id",
        "columns": ["email", "id"]}),
    );
    assert_eq!(
        PgSource::column_type_sql(),
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
         CASE WHEN c.relkind = 'p' OR (c.relkind IN ('r', 'm') AND NOT c.relhassubclass) THEN \
         CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
         WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL \
         AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum) THEN true \
         WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
         WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL \
         AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) THEN NULL ELSE false END END, \
         pg_catalog.clock_timestamp() \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         WHERE a.attrelid = $1::text::regclass \
         AND a.attnum > 0 AND NOT a.attisdropped \
         AND a.attname::text = ANY (pg_catalog.string_to_array($2::text, ','))"
    );
    assert_eq!(
        s.column_type_params(),
        ["\"public\".\"users\"", "created_at,id,email"]
    );
    let rows = vec![
        ("id".to_string(), "bigint".to_string(), Some(true)),
        (
            "created_at".to_string(),
            "timestamp with time zone".to_string(),
            Some(false),
        ),
        ("email".to_string(), "text".to_string(), Some(false)),
    ];
    assert_eq!(
        s.column_types(&rows).unwrap(),
        types("timestamp with time zone", Some("bigint"))
    );
    let missing = s.column_types(&rows[..2]).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "column \"email\" does not exist in \"public\".\"users\""
    );
    let unsafe_rows = vec![
        ("id".to_string(), "bigint".to_string(), Some(true)),
        (
            "created_at".to_string(),
            "int; DROP TABLE x".to_string(),
            Some(false),
        ),
        ("email".to_string(), "text".to_string(), Some(false)),
    ];
    assert!(matches!(
        s.column_types(&unsafe_rows),
        Err(PollError::UnsafeType { .. })
    ));
}

#[test]
fn select_sql_stops_at_the_final_position() {
    let s = pg_source(json!({"batch_size": 100}));
    let at = |c: &str, t: Option<&str>| PgCursor::At {
        cursor: c.into(),
        tiebreak: t.map(str::to_string),
        tiebreak_column: t.map(|_| "id".to_string()),
    };
    let (sql, params) = s.select_sql(
        &at("41", None),
        &types("integer", None),
        Some(&at("90", None)),
    );
    assert!(
        sql.contains("WHERE \"id\" > $1::text::integer AND \"id\" <= $2::text::integer ORDER BY"),
        "{sql}"
    );
    assert_eq!(params, ["41", "90"]);
    let s = pg_source(json!({"cursor": "created_at", "tiebreak": "id"}));
    let t = types("timestamp with time zone", Some("bigint"));
    let (sql, params) = s.select_sql(&PgCursor::Beginning, &t, Some(&at("2026-01-01", Some("7"))));
    assert!(
        sql.contains(
            "AND (\"created_at\", \"id\") <= ($1::text::timestamp with time zone, $2::text::bigint)"
        ),
        "{sql}"
    );
    assert_eq!(params, ["2026-01-01", "7"]);
    assert!(PgSource::snapshot_sql().contains("pg_current_snapshot()"));
    // Every read carries a volatile call, so a caching pool (Hyperdrive) never answers it.
    assert!(PgSource::snapshot_sql().contains("clock_timestamp()"));
    assert!(sql.contains("clock_timestamp()"));
    assert!(s.latest_sql().contains("clock_timestamp()"));
}

#[test]
fn select_sql_without_tiebreak() {
    let s = pg_source(json!({"batch_size": 100}));
    let t = types("integer", None);
    assert_eq!(
        s.select_sql(&PgCursor::Beginning, &t, None),
        (
            "SELECT CASE WHEN octet_length(j.t) <= 815104 THEN j.t END, octet_length(j.t), r.\"id\"::text, pg_catalog.clock_timestamp() FROM (SELECT * FROM \"users\" \
             WHERE \"id\" IS NOT NULL ORDER BY \"id\" LIMIT 100) r CROSS JOIN LATERAL (SELECT row_to_json(r.*)::text AS t OFFSET 0) j ORDER BY r.\"id\""
                .to_string(),
            vec![]
        )
    );
    let at = PgCursor::At {
        cursor: "41".into(),
        tiebreak: None,
        tiebreak_column: None,
    };
    assert_eq!(
        s.select_sql(&at, &t, None),
        (
            "SELECT CASE WHEN octet_length(j.t) <= 815104 THEN j.t END, octet_length(j.t), r.\"id\"::text, pg_catalog.clock_timestamp() FROM (SELECT * FROM \"users\" \
             WHERE \"id\" > $1::text::integer ORDER BY \"id\" LIMIT 100) r CROSS JOIN LATERAL (SELECT row_to_json(r.*)::text AS t OFFSET 0) j ORDER BY r.\"id\""
                .to_string(),
            vec!["41".to_string()]
        )
    );
}

#[test]
fn select_sql_with_tiebreak_and_columns() {
    let s = pg_source(
        json!({"table": "app.events", "cursor": "created_at", "tiebreak": "id",
        "columns": ["kind", "payload"]}),
    );
    let t = types("timestamp(3) with time zone", Some("uuid"));
    assert_eq!(
        s.select_sql(&PgCursor::Beginning, &t, None),
        (
            "SELECT CASE WHEN octet_length(j.t) <= 815104 THEN j.t END, octet_length(j.t), r.\"created_at\"::text, r.\"id\"::text, \
             pg_catalog.clock_timestamp() FROM \
             (SELECT \"kind\", \"payload\", \"created_at\", \"id\" FROM \"app\".\"events\" \
             WHERE \"created_at\" IS NOT NULL AND \"id\" IS NOT NULL \
             ORDER BY \"created_at\", \"id\" LIMIT 500) r CROSS JOIN LATERAL (SELECT row_to_json(r.*)::text AS t OFFSET 0) j ORDER BY r.\"created_at\", r.\"id\""
                .to_string(),
            vec![]
        )
    );
    let at = PgCursor::At {
        cursor: "2024-05-01 10:00:00+00".into(),
        tiebreak: Some("7d0c5a1e-0000-4000-8000-000000000000".into()),
        tiebreak_column: Some("id".into()),
    };
    assert_eq!(
        s.select_sql(&at, &t, None),
        (
            "SELECT CASE WHEN octet_length(j.t) <= 815104 THEN j.t END, octet_length(j.t), r.\"created_at\"::text, r.\"id\"::text, \
             pg_catalog.clock_timestamp() FROM \
             (SELECT \"kind\", \"payload\", \"created_at\", \"id\" FROM \"app\".\"events\" \
             WHERE (\"created_at\", \"id\") > ($1::text::timestamp(3) with time zone, $2::text::uuid) \
             AND \"id\" IS NOT NULL \
             ORDER BY \"created_at\", \"id\" LIMIT 500) r CROSS JOIN LATERAL (SELECT row_to_json(r.*)::text AS t OFFSET 0) j ORDER BY r.\"created_at\", r.\"id\""
                .to_string(),
            vec![
                "2024-05-01 10:00:00+00".to_string(),
                "7d0c5a1e-0000-4000-8000-000000000000".to_string()
            ]
        )
    );
    // A cursor stored before the tiebreak was added: re-read the rows at that value.
    let old = PgCursor::At {
        cursor: "2024-05-01 10:00:00+00".into(),
        tiebreak: None,
        tiebreak_column: None,
    };
    let (sql, params) = s.select_sql(&old, &t, None);
    assert!(sql.contains(
        "WHERE \"created_at\" >= $1::text::timestamp(3) with time zone AND \"id\" IS NOT NULL ORDER BY"
    ));
    assert_eq!(params, ["2024-05-01 10:00:00+00"]);
}

/// After a redeploy that adds, changes or removes the tiebreak, the stored position (and a
/// transaction mark bounding the read) keeps only what still applies: a tiebreak value is
/// bound only to the column it was read from, never cast to another column's type.
#[test]
fn select_sql_after_the_tiebreak_changed() {
    let at = |t: Option<&str>, column: Option<&str>| PgCursor::At {
        cursor: "2024-05-01 10:00:00+00".into(),
        tiebreak: t.map(str::to_string),
        tiebreak_column: column.map(str::to_string),
    };
    let where_of = |s: &PgSource, position: &PgCursor, types: &PgColumnTypes| {
        let (sql, params) = s.select_sql(position, types, None);
        let start = sql.find("WHERE ").unwrap() + 6;
        let end = sql.find(" ORDER BY").unwrap();
        (sql[start..end].to_string(), params)
    };
    let by_uuid = pg_source(json!({"cursor": "created_at", "tiebreak": "uuid"}));
    let repeats = PgColumnTypes {
        cursor: PgType::parse("timestamp with time zone").unwrap(),
        tiebreak: Some(PgType::parse("uuid").unwrap()),
        cursor_unique: false,
    };
    let unique = PgColumnTypes {
        cursor_unique: true,
        ..repeats.clone()
    };
    let after_value = |op: &str| {
        (
            format!(
                "\"created_at\" {op} $1::text::timestamp with time zone AND \"uuid\" IS NOT NULL"
            ),
            vec!["2024-05-01 10:00:00+00".to_string()],
        )
    };
    // The same tiebreak: after (cursor, tiebreak).
    let (condition, params) = where_of(&by_uuid, &at(Some("9f"), Some("uuid")), &repeats);
    assert!(
        condition.starts_with("(\"created_at\", \"uuid\") > ($1"),
        "{condition}"
    );
    assert_eq!(params.len(), 2);
    // Changed (`id` → `uuid`), added (none → `uuid`), or stored before the column was kept: the
    // id is never bound as a uuid. A cursor that repeats reads the rows at its value again; a
    // unique one had only the row taken there.
    for position in [
        at(Some("41"), Some("id")),
        at(None, None),
        at(Some("41"), None),
    ] {
        assert_eq!(where_of(&by_uuid, &position, &repeats), after_value(">="));
        assert_eq!(where_of(&by_uuid, &position, &unique), after_value(">"));
    }
    // Removed: the cursor is unique (or the read fails before), so rows after its value.
    let plain = pg_source(json!({"cursor": "created_at"}));
    let types = PgColumnTypes {
        cursor: PgType::parse("timestamp with time zone").unwrap(),
        tiebreak: None,
        cursor_unique: true,
    };
    assert_eq!(
        where_of(&plain, &at(Some("41"), Some("id")), &types),
        (
            "\"created_at\" > $1::text::timestamp with time zone".to_string(),
            vec!["2024-05-01 10:00:00+00".to_string()]
        )
    );
    // A transaction mark of the old tiebreak bounds by the cursor value alone: the rows at it
    // wait while the cursor repeats (they may not all be final), and are taken when it is unique.
    let bound = at(Some("41"), Some("id"));
    let (sql, params) = by_uuid.select_sql(&PgCursor::Beginning, &repeats, Some(&bound));
    assert!(
        sql.contains("AND \"created_at\" < $1::text::timestamp with time zone ORDER BY"),
        "{sql}"
    );
    assert_eq!(params, ["2024-05-01 10:00:00+00"]);
    let (sql, _) = by_uuid.select_sql(&PgCursor::Beginning, &unique, Some(&bound));
    assert!(
        sql.contains("AND \"created_at\" <= $1::text::timestamp with time zone ORDER BY"),
        "{sql}"
    );
    // Positions a read takes name their tiebreak column.
    let row = by_uuid
        .read_row("{}", Some("2024-05-01 10:00:00+00"), Some("9f"))
        .unwrap();
    assert_eq!(row.position, at(Some("9f"), Some("uuid")));
    assert_eq!(
        by_uuid.position(Some("2024-05-01 10:00:00+00".into()), Some("9f".into())),
        at(Some("9f"), Some("uuid"))
    );
    assert_eq!(
        plain.position(Some("2024-05-01 10:00:00+00".into()), None),
        at(None, None)
    );
    assert_eq!(plain.position(None, None), PgCursor::Beginning);
}

#[test]
fn select_sql_keeps_listed_cursor_once() {
    let s = pg_source(json!({"cursor": "id", "columns": ["email", "id"]}));
    let (sql, _) = s.select_sql(&PgCursor::Beginning, &types("bigint", None), None);
    assert!(
        sql.contains("(SELECT \"email\", \"id\" FROM \"users\""),
        "{sql}"
    );
}

#[test]
fn latest_sql_shapes() {
    let s = pg_source(json!({}));
    assert_eq!(
        s.latest_sql(),
        "SELECT r.\"id\"::text, pg_catalog.clock_timestamp() FROM \"users\" r WHERE r.\"id\" IS NOT NULL \
         ORDER BY r.\"id\" DESC LIMIT 1"
    );
    let s = pg_source(json!({"table": "s.t", "cursor": "ts", "tiebreak": "id"}));
    assert_eq!(
        s.latest_sql(),
        "SELECT r.\"ts\"::text, r.\"id\"::text, pg_catalog.clock_timestamp() FROM \"s\".\"t\" r \
         WHERE r.\"ts\" IS NOT NULL AND r.\"id\" IS NOT NULL \
         ORDER BY r.\"ts\" DESC, r.\"id\" DESC LIMIT 1"
    );
}

#[test]
fn pg_type_names() {
    for ok in [
        "integer",
        "bigint",
        "text",
        "uuid",
        "numeric(10,2)",
        "character varying(255)",
        "timestamp with time zone",
        "timestamp(3) without time zone",
        "time(6) with time zone",
        "double precision",
        "bit varying(8)",
        "interval day to second(3)",
        "integer[]",
        "timestamp with time zone[]",
        "\"MyType\"",
        "\"weird \"\" name; DROP\"",
        "ext.citext",
        "\"My Schema\".\"My Type\"[]",
    ] {
        assert_eq!(validate_pg_type(ok), Ok(ok), "{ok}");
    }
    for bad in [
        "",
        "int; DROP TABLE x",
        "int UNION SELECT 1",
        "int) UNION SELECT (1",
        "int--",
        "int/*",
        "text'",
        "numeric(10,x)",
        "numeric(",
        "int[",
        "\"unterminated",
        "\"\"",
        "a..b",
        "int.",
        " int",
        "int ",
        "int\n",
        "timestamp with time zone; select",
    ] {
        assert!(validate_pg_type(bad).is_err(), "{bad:?} accepted");
    }
    let long = "a".repeat(201);
    assert!(validate_pg_type(&long).is_err());
}

#[test]
fn reads_rows_into_records() {
    let s = pg_source(json!({"cursor": "created_at", "tiebreak": "id"}));
    let row = s
        .read_row(
            r#"{"id":7,"created_at":"2024-05-01T10:00:00+00:00"}"#,
            Some("2024-05-01 10:00:00+00"),
            Some("7"),
        )
        .unwrap();
    assert_eq!(row.new.dedup_key, "7");
    assert_eq!(
        row.new.record,
        json!({"id": 7, "created_at": "2024-05-01T10:00:00+00:00"})
    );
    assert_eq!(
        row.position,
        PgCursor::At {
            cursor: "2024-05-01 10:00:00+00".into(),
            tiebreak: Some("7".into()),
            tiebreak_column: Some("id".into()),
        }
    );
    assert_eq!(row.new.unreadable, None);
    assert!(matches!(
        s.read_row("{}", Some("x"), None),
        Err(PollError::BadRow { .. })
    ));
    let plain = pg_source(json!({}));
    let row = plain.read_row(r#"{"id":42}"#, Some("42"), None).unwrap();
    assert_eq!(row.new.dedup_key, "42");
    assert_eq!(
        row.position,
        PgCursor::At {
            cursor: "42".into(),
            tiebreak: None,
            tiebreak_column: None,
        }
    );
    assert!(plain.read_row("{}", None, None).is_err());
}

/// A `json` column holding a string cut inside an emoji (PostgreSQL's `json` keeps an unpaired
/// surrogate escape as given) is read, the half emoji as U+FFFD, as an HTTP page's is.
#[test]
fn a_record_with_a_half_emoji_is_read() {
    let plain = pg_source(json!({}));
    let row = plain
        .read_row(r#"{"id":1,"j":{"t":"cut \ud83d"}}"#, Some("1"), None)
        .unwrap();
    assert_eq!(row.new.unreadable, None);
    assert_eq!(row.new.record, json!({"id": 1, "j": {"t": "cut \u{FFFD}"}}));
}

/// A record no run can hold keeps its place in the order: it is read as unreadable, with its
/// dedup key and position, instead of failing the batch.
#[test]
fn an_unreadable_record_keeps_its_key_and_position() {
    let s = pg_source(json!({}));
    let nested = |depth: usize| {
        format!(
            r#"{{"id":2,"doc":{}1{}}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    assert!(NESTED_TOO_DEEP.contains(&format!("more than {MAX_RECORD_DEPTH} levels")));
    // The deepest record readable: its run's input still reads back.
    let deepest = s
        .read_row(&nested(MAX_RECORD_DEPTH), Some("2"), None)
        .unwrap();
    assert_eq!(deepest.new.unreadable, None);
    let input = crate::poll::state::run_input(&deepest.new).to_string();
    assert!(serde_json::from_str::<Value>(&input).is_ok());
    for (text, why) in [
        (
            nested(MAX_RECORD_DEPTH + 1),
            "nested more than 125 levels deep",
        ),
        (nested(200), "nested more than 125 levels deep"),
        ("not json".to_string(), "does not parse"),
        (
            format!(r#"{{"id":2,"samples":[{}0]}}"#, "0,".repeat(200_000)),
            "holds more than 200000 values",
        ),
    ] {
        let row = s.read_row(&text, Some("2"), None).unwrap();
        assert_eq!(row.new.dedup_key, "2");
        assert_eq!(row.new.record, Value::Null);
        assert!(
            row.new.unreadable.as_deref().unwrap().contains(why),
            "{row:?}"
        );
        assert_eq!(
            row.position,
            PgCursor::At {
                cursor: "2".into(),
                tiebreak: None,
                tiebreak_column: None,
            }
        );
    }
}

/// A source sends a credential when it reads a secret, or when one is written into it: such a
/// source is redirected only within its origin.
#[test]
fn a_credential_written_into_a_source_counts_as_one() {
    let carries = |source: Value| http_source(source).carries_credentials();
    assert!(!carries(json!({})));
    assert!(!carries(json!({"url": "https://a.example/items?page=2",
        "headers": {"accept": "application/json"}})));
    assert!(carries(json!({"headers": {"authorization": "Bearer abc"}})));
    assert!(carries(json!({"headers": {"x-api-key": "abc"}})));
    assert!(carries(
        json!({"headers": {"x-anything": "Bearer abcdefghijklmnop"}})
    ));
    assert!(carries(
        json!({"url": "https://a.example/items?k={{secrets.KEY}}"})
    ));
}

#[test]
fn renders_http_request_with_secrets() {
    let s = http_source(
        json!({"url": "https://api.example.com/items?key={{secrets.KEY}}",
        "headers": {"authorization": "Bearer {{ secrets.API_TOKEN }}", "accept": "application/json"}}),
    );
    assert_eq!(s.secret_names(), ["KEY", "API_TOKEN"]);
    let secret = |n: &str| match n {
        "KEY" => Some("k1".to_string()),
        "API_TOKEN" => Some("t0k".to_string()),
        _ => None,
    };
    let request = s.request(secret).unwrap();
    assert_eq!(request.url, "https://api.example.com/items?key=k1");
    assert_eq!(
        request.headers,
        [
            ("authorization".to_string(), "Bearer t0k".to_string()),
            ("accept".to_string(), "application/json".to_string())
        ]
    );
    let err = s.request(|_| None).unwrap_err();
    assert_eq!(err, PollError::MissingSecret { name: "KEY".into() });
    assert!(err.to_string().contains("wrangler secret put KEY"));
}

/// An error about a request never quotes what it sent as a credential: its secrets (raw,
/// JSON-escaped, percent-encoded), a literal credential header (whole and without its scheme),
/// a literal credential query parameter; other text stays.
#[test]
fn a_request_scrubs_its_credentials_from_an_error() {
    let s = http_source(
        json!({"url": "https://api.example.com/items?api_key=lit%2Fkey1&page=2&q={{secrets.Q}}",
        "headers": {"authorization": "Bearer abc.def-123", "x-custom": "{{secrets.C}}",
                    "accept": "application/json"}}),
    );
    let secret = |n: &str| match n {
        "Q" => Some("q sec\ret".to_string()),
        "C" => Some("custom-secret-9".to_string()),
        _ => None,
    };
    let request = s.request(secret).unwrap();
    let answer = r#"invalid key lit/key1 or lit%2Fkey1; token abc.def-123 (Bearer abc.def-123); q=q%20sec%5Cret or q%20sec\ret "q sec\ret" custom-secret-9; page 2 of application/json"#;
    let scrubbed = request.scrub(answer);
    for leaked in [
        "lit/key1",
        "lit%2Fkey1",
        "abc.def-123",
        "q%20sec",
        "sec\\ret",
        "custom-secret-9",
    ] {
        assert!(!scrubbed.contains(leaked), "{leaked} in {scrubbed}");
    }
    assert!(
        scrubbed.starts_with("invalid key [redacted] or [redacted]"),
        "{scrubbed}"
    );
    assert!(
        scrubbed.ends_with("page 2 of application/json"),
        "{scrubbed}"
    );
    // A JSON answer is redacted by key too.
    let json = request.scrub(r#"{"error": "bad", "api_key": "other-value-77"}"#);
    assert!(!json.contains("other-value-77"), "{json}");
    assert!(json.contains("bad"), "{json}");
}

/// An API that echoes the request in its items (its URL, a header) gets the credentials it
/// was sent replaced in the records that run; the rest of each record, and its key, stay.
#[test]
fn records_echoing_the_request_lose_its_credentials() {
    let s = http_source(
        json!({"url": "https://api.example.com/items?api_key={{secrets.K}}&v=3",
        "headers": {"authorization": "Bearer {{secrets.T}}"}}),
    );
    let request = s
        .request(|n| Some(format!("{}-value-0123456789", n.to_lowercase())))
        .unwrap();
    let items = json!([{"id": 7, "url": "/items?api_key=k-value-0123456789&v=3",
                        "echo": {"auth": ["Bearer t-value-0123456789"]}, "n": 1}]);
    let cursor = crate::poll::cursor::HttpCursor::for_source(&s);
    let mut new = s.select_new(&cursor, &items).unwrap();
    request.scrub_records(&mut new);
    assert_eq!(new[0].dedup_key, "7");
    assert_eq!(
        new[0].record,
        json!({"id": 7, "url": "/items?api_key=[redacted]&v=3", "echo": {"auth": ["[redacted]"]},
               "n": 1})
    );
    // Nothing sent as a credential: the records are as read.
    let plain = http_source(json!({"url": "https://api.example.com/items"}))
        .request(|_| None)
        .unwrap();
    let mut kept = s.select_new(&cursor, &items).unwrap();
    plain.scrub_records(&mut kept);
    assert_eq!(kept[0].record, items[0]);
    // A secret that cannot be a key (a word, a short id) is ordinary data in a record; a
    // record's key and ordering value are read before the scrub.
    let s = http_source(
        json!({"url": "https://{{secrets.HOST}}/v1/{{secrets.ACCOUNT}}/items?key={{secrets.K}}",
        "dedupe": "greatest", "greatest": "/at"}),
    );
    let request = s
        .request(|n| {
            Some(
                match n {
                    "HOST" => "api.example.com",
                    "ACCOUNT" => "acct_12",
                    _ => "k-value-0123456789",
                }
                .to_string(),
            )
        })
        .unwrap();
    let items = json!([{"id": "k-value-0123456789", "at": "k-value-0123456789",
                        "self": "https://api.example.com/v1/acct_12/items?key=k-value-0123456789"}]);
    let cursor = crate::poll::cursor::HttpCursor::for_source(&s);
    let mut new = s.select_new(&cursor, &items).unwrap();
    request.scrub_records(&mut new);
    assert_eq!(new[0].dedup_key, "k-value-0123456789");
    assert_eq!(new[0].greatest, Some(json!("k-value-0123456789")));
    assert_eq!(
        new[0].record,
        json!({"id": "[redacted]", "at": "[redacted]",
               "self": "https://api.example.com/v1/acct_12/items?key=[redacted]"})
    );
}

/// A refused answer is quoted up to 200 characters, scrubbed before the cut: a credential
/// that straddles the cut leaves no part of it; a pagination token is no credential.
#[test]
fn a_refused_answer_is_scrubbed_before_it_is_cut() {
    let s = http_source(json!({"url": "https://api.example.com/items?page_size=5",
        "headers": {"x-api-key": "{{secrets.K}}"},
        "pagination": {"cursor": "/next", "param": "page_token"}}));
    let key = "k".repeat(30) + "-the-key";
    let request = s
        .page_request(
            Some(&crate::poll::pages::NextRequest::Token {
                token: "tok-1000".into(),
            }),
            None,
            |_| Some(key.clone()),
        )
        .unwrap();
    assert!(
        request.url.ends_with("page_token=tok-1000"),
        "{}",
        request.url
    );
    let answer = format!("{}{key} is refused; token tok-1000 stays", "x".repeat(190));
    let quoted = request.quote_answer(answer.as_bytes());
    assert_eq!(quoted.chars().count(), http::ANSWER_QUOTED_CHARS);
    assert!(!quoted.contains("kkkk"), "{quoted}");
    assert!(quoted.ends_with("xx[redacted]"), "{quoted}");
    let short = request.quote_answer(format!("{key} is refused; token tok-1000 stays").as_bytes());
    assert_eq!(short, "[redacted] is refused; token tok-1000 stays");
}

/// A page reached by a link the API wrote is scrubbed of the credentials in that link's query
/// too, not only of those in the source's URL.
#[test]
fn a_credential_in_a_linked_page_url_is_never_quoted() {
    let s = http_source(json!({"url": "https://api.example.com/items?page_size=5"}));
    let request = s
        .page_request(
            Some(&crate::poll::pages::NextRequest::Url {
                url: "https://api.example.com/items?page=2&access_token=linked-cred-9".into(),
            }),
            None,
            |_| None,
        )
        .unwrap();
    assert!(request.url.contains("access_token=linked-cred-9"));
    let quoted = request.quote_answer(b"token linked-cred-9 expired; page=2 stays");
    assert_eq!(quoted, "token [redacted] expired; page=2 stays");
}

#[test]
fn items_pointer() {
    let s = http_source(json!({"items": "/data"}));
    let body = json!({"data": [{"id": 1}]});
    assert_eq!(s.items_of(&body).unwrap(), &[json!({"id": 1})]);
    let err = s.items_of(&json!({"data": {"id": 1}})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the response has no array at items pointer \"/data\" (found object)"
    );
    assert_eq!(
        items_at(&json!({}), "/data").unwrap_err().to_string(),
        "the response has no array at items pointer \"/data\" (found nothing)"
    );
    assert_eq!(items_at(&json!([1, 2]), "").unwrap().len(), 2);
    // An empty list written as null, and an empty answer, are no items.
    assert!(items_at(&json!({"data": null}), "/data")
        .unwrap()
        .is_empty());
    assert!(items_at(&Value::Null, "/data").unwrap().is_empty());
    assert!(items_at(&Value::Null, "").unwrap().is_empty());
}

#[test]
fn backoff_doubles_and_caps() {
    let seq: Vec<u32> = (0..9).map(|n| next_poll_delay_seconds(60, n)).collect();
    assert_eq!(seq, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    assert_eq!(next_poll_delay_seconds(5, 1), 10);
    assert_eq!(next_poll_delay_seconds(5, 100), 3600);
    assert_eq!(next_poll_delay_seconds(u32::MAX, 40), u32::MAX);
    // An interval longer than the cap is never shortened.
    assert_eq!(next_poll_delay_seconds(7200, 0), 7200);
    assert_eq!(next_poll_delay_seconds(7200, 3), 7200);
    assert_eq!(next_poll_delay_seconds(86_400, 5), 86_400);
}

#[test]
fn a_retry_after_lengthens_the_backoff_only() {
    // 2015-10-21T07:28:00Z, less 90 s.
    let now = 1_445_412_480_000 - 90_000;
    assert_eq!(retry_after_seconds(" 600 ", now), Some(600));
    assert_eq!(
        retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(90)
    );
    assert_eq!(
        retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now + 200_000),
        Some(0)
    );
    assert_eq!(
        retry_after_seconds("99999999999", now),
        Some(MAX_RETRY_AFTER_SECONDS)
    );
    assert_eq!(
        retry_after_seconds("99999999999999999999999", now),
        Some(MAX_RETRY_AFTER_SECONDS)
    );
    assert_eq!(retry_after_seconds("soon", now), None);
    assert_eq!(retry_after_seconds("-5", now), None);
    assert_eq!(failed_poll_delay_seconds(5, 1, Some(600)), 600);
    assert_eq!(failed_poll_delay_seconds(5, 3, Some(7)), 40);
    assert_eq!(failed_poll_delay_seconds(5, 1, None), 10);
}

#[test]
fn names_the_missing_configuration_and_its_field() {
    let http = PollSource::Http(http_source(json!({
        "url": "https://api.example.com/items?key={{secrets.KEY}}",
        "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}})));
    let all = |_: &str| true;
    assert_eq!(http.missing_configuration(all, all), None);
    let missing = http.missing_configuration(|n| n != "TOKEN", all).unwrap();
    assert_eq!(missing.location, "trigger.source.headers.authorization");
    assert!(
        missing.message.contains("secret `TOKEN` is not set"),
        "{missing:?}"
    );
    let missing = http.missing_configuration(|_| false, all).unwrap();
    assert_eq!(missing.location, "trigger.source.url");

    let env = PollSource::Postgres(pg_source(json!({"connection_env": "PG_URL"})));
    let missing = env.missing_configuration(|_| false, all).unwrap();
    assert_eq!(missing.location, "trigger.source.connection_env");
    assert!(
        missing.message.contains("wrangler secret put PG_URL"),
        "{missing:?}"
    );
    assert_eq!(env.missing_configuration(all, |_| false), None);

    let hd = PollSource::Postgres(pg_source(
        json!({"connection_env": null, "hyperdrive": "HD"}),
    ));
    let missing = hd.missing_configuration(all, |_| false).unwrap();
    assert_eq!(missing.location, "trigger.source.hyperdrive");
    assert!(
        missing.message.contains("Hyperdrive binding `HD`"),
        "{missing:?}"
    );
}

#[test]
fn a_tiebreak_that_is_the_cursor_declares_it_unique() {
    let s = pg_source(json!({"cursor": "id", "tiebreak": "id"}));
    assert_eq!((s.tiebreak, s.cursor_unique), (None, true));
    let s = pg_source(json!({"cursor": "created_at", "tiebreak": "id"}));
    assert_eq!(
        (s.tiebreak.as_deref(), s.cursor_unique),
        (Some("id"), false)
    );
    let s = pg_source(json!({"cursor": "id"}));
    assert_eq!((s.tiebreak, s.cursor_unique), (None, false));
}

/// Without a tiebreak, a cursor no unique index shows unique fails the read before any row is
/// read, naming the field that fixes it; a unique one, or one the definition declares unique,
/// is read.
#[test]
fn a_cursor_without_a_tiebreak_must_be_unique() {
    let row = |unique: bool| {
        let unique = Some(unique);
        vec![(
            "created_at".to_string(),
            "timestamp with time zone".to_string(),
            unique,
        )]
    };
    let s = pg_source(json!({"table": "events", "cursor": "created_at"}));
    let e = s.column_types(&row(false)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column \"created_at\" is not unique in \"events\" (no primary key or unique index on \
         it alone): rows sharing a value would be missed; set `trigger.source.tiebreak` to a \
         unique column such as the primary key (or to \"created_at\" itself if its values never \
         repeat)"
    );
    assert!(s.column_types(&row(true)).unwrap().cursor_unique);
    let declared =
        pg_source(json!({"table": "events", "cursor": "created_at", "tiebreak": "created_at"}));
    assert!(declared.column_types(&row(false)).unwrap().cursor_unique);
    // With a tiebreak the cursor may repeat.
    let tied = pg_source(json!({"table": "events", "cursor": "created_at", "tiebreak": "id"}));
    let mut rows = row(false);
    rows.push(("id".to_string(), "bigint".to_string(), Some(true)));
    assert!(!tied.column_types(&rows).unwrap().cursor_unique);
    // A record's key is its tiebreak value: on a table it must be a key of a unique index
    // (NULL: one key of several, as in a partitioned table's primary key, is taken).
    rows[1].2 = None;
    assert!(tied.column_types(&rows).is_ok());
    rows[1].2 = Some(false);
    let e = tied.column_types(&rows).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column \"id\" is not unique in \"events\" (no primary key or unique index has \
         it as a key): rows sharing a value would share one run (a record's key is its tiebreak \
         value); set `trigger.source.tiebreak` to a unique column such as the primary key"
    );
    // A view (or a table whose inheritance children an index cannot cover) shows nothing:
    // its tiebreak is taken as declared.
    rows[0].2 = None;
    rows[1].2 = None;
    assert!(tied.column_types(&rows).is_ok());
}

/// `{{cursor.latest}}` under `unique` is one problem (the field is unknown), not also a
/// `{{cursor.greatest}}` one; `{{cursor.greatest}}` itself needs `greatest`.
#[test]
fn a_cursor_field_is_refused_once() {
    let with = |header: &str| {
        json!({"type": "poll", "source": {"kind": "http", "url": "https://api.example.com/x",
               "headers": {"y": header}}})
    };
    let e = errs(with("{{cursor.latest}}"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(!e[0].1.contains("cursor.greatest"), "{e:?}");
    for t in ["{{cursor.greatest}}", "{{cursor}}", "{{cursor[0]}}"] {
        let e = errs(with(t));
        assert!(
            e.iter()
                .any(|(_, m)| m.contains("needs `\"dedupe\": \"greatest\"`")),
            "{t}: {e:?}"
        );
    }
}
