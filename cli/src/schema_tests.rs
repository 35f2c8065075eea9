//! The JSON Schema generated from `tripline_core::schema` and the parser agree; the copy the
//! Worker serves is the generated one.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tripline_core::definition::Definition;
use tripline_core::schema::{definition_schema, definition_schema_json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&definition_schema()).expect("the schema compiles")
}

fn schema_ok(v: &Value) -> bool {
    validator().is_valid(v)
}

fn parser_ok(v: &Value) -> bool {
    Definition::parse(v).is_ok()
}

/// The file the Worker serves at /api/definition.schema.json (include_str!). Regenerate with
/// `TRIPLINE_BLESS=1 cargo test -p tripline-cli schema`.
#[test]
fn the_served_schema_file_is_fresh() {
    let path = repo().join("src/api/definition.schema.json");
    let generated = definition_schema_json();
    if std::env::var_os("TRIPLINE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `TRIPLINE_BLESS=1 cargo test -p tripline-cli schema` and commit it",
        path.display()
    );
}

#[test]
fn has_one_branch_per_trigger_and_step_kind() {
    let s = definition_schema();
    let text = s.to_string();
    let defs = &s["$defs"];
    let consts = |def: &str, tag: &str| -> Vec<String> {
        defs[def]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{def} has a oneOf: {}", defs[def]))
            .iter()
            .map(|b| b["properties"][tag]["const"].as_str().unwrap().to_string())
            .collect()
    };
    let kinds: Vec<&str> = tripline_core::definition::TriggerKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(consts("TriggerSchema", "type"), kinds);
    let mut steps = consts("StepSchema", "type");
    let mut expected = tripline_core::steps::STEP_TYPES.to_vec();
    steps.sort();
    expected.sort();
    assert_eq!(steps, expected);
    assert_eq!(
        consts("ScheduleSchema", "kind"),
        tripline_core::schedule::SCHEDULE_KINDS
    );
    assert_eq!(consts("PollSourceSchema", "kind"), ["postgres", "http"]);
    // A request field rule has one branch per type the parser knows, whose `equals`/`enum`
    // values have that type.
    let type_names = |def: &str| -> Vec<String> {
        defs[def]["anyOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{def} has an anyOf: {}", defs[def]))
            .iter()
            .map(|b| {
                let branch = b["$ref"].as_str().unwrap().trim_start_matches("#/$defs/");
                let name = &defs[branch]["properties"]["type"];
                let name = name["$ref"]
                    .as_str()
                    .map(|r| &defs[r.trim_start_matches("#/$defs/")])
                    .or_else(|| {
                        name["anyOf"].as_array().map(|a| {
                            let r = a[0]["$ref"].as_str().unwrap();
                            &defs[r.trim_start_matches("#/$defs/")]
                        })
                    })
                    .unwrap_or_else(|| panic!("{branch}: {name}"));
                name["enum"][0].as_str().unwrap().to_string()
            })
            .collect()
    };
    use tripline_core::endpoint::request_schema::FieldType;
    let mut query = type_names("QueryParamSchema");
    let mut expected: Vec<String> = FieldType::QUERY.iter().map(|t| t.name().into()).collect();
    query.sort();
    expected.sort();
    assert_eq!(query, expected);
    let mut body = type_names("BodyFieldSchema");
    let mut expected: Vec<String> = FieldType::ALL.iter().map(|t| t.name().into()).collect();
    body.sort();
    expected.sort();
    assert_eq!(body, expected);
    // Required fields and enums are there.
    assert_eq!(s["required"], json!(["name", "trigger"]));
    assert!(text.contains("\"run_once\""), "misfire enum");
    assert!(text.contains("\"Europe/Berlin\""), "time zones");
    use tripline_core::endpoint::signature::Scheme;
    let schemes = consts("VerifySchema", "scheme");
    let expected: Vec<&str> = Scheme::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(schemes, expected);
    // `tolerance_seconds` is a number exactly for the schemes that sign a timestamp.
    for (branch, scheme) in defs["VerifySchema"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .zip(Scheme::ALL)
    {
        let def = branch["$ref"]
            .as_str()
            .map_or(branch, |r| &defs[r.trim_start_matches("#/$defs/")]);
        let tolerance = def["properties"]["tolerance_seconds"].to_string();
        assert_eq!(
            tolerance.contains("integer"),
            scheme.has_timestamp(),
            "{branch}"
        );
    }
    assert!(defs["TimeZone"]["enum"].as_array().unwrap().len() > 400);
}

#[test]
fn every_example_is_valid_for_both() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(parser_ok(&v), "{}", path.display());
            let errors: Vec<String> = validator()
                .iter_errors(&v)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            n += 1;
        }
    }
    assert!(n >= 7);
}

fn base() -> Value {
    json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "message": "hi"}]})
}

fn with(pointer: &str, value: Value) -> Value {
    let mut v = base();
    let mut parts: Vec<&str> = pointer.split('/').skip(1).collect();
    let last = parts.pop().unwrap();
    let mut at = &mut v;
    for p in parts {
        at = match p.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[p],
        };
    }
    match (at, last.parse::<usize>()) {
        (Value::Array(a), Ok(i)) => a[i] = value,
        (at, _) => {
            at[last] = value;
        }
    }
    v
}

fn without(pointer_parent: &str, key: &str, v: Value) -> Value {
    let mut v = v;
    v.pointer_mut(pointer_parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    v
}

fn schedule(s: Value) -> Value {
    with("/trigger", json!({"type": "schedule", "schedule": s}))
}

#[test]
fn both_reject_the_same_invalid_definitions() {
    let poll_pg = json!({"kind": "postgres", "connection_env": "PG", "table": "t", "cursor": "id"});
    let cases: Vec<(&str, Value)> = vec![
        ("not an object", json!([])),
        ("no name", without("", "name", base())),
        ("blank name", with("/name", json!("  "))),
        ("long name", with("/name", json!("n".repeat(201)))),
        ("no trigger", without("", "trigger", base())),
        (
            "cursor template with a unique cursor",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x/?since={{ cursor.greatest }}", "dedupe": null}}),
            ),
        ),
        (
            "cursor template in a header with a unique cursor",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x/", "dedupe": "unique", "headers": {"x-since": "{{cursor.greatest}}"}}}),
            ),
        ),
        ("unknown field", with("/extra", json!(1))),
        ("bad key", with("/key", json!("Not A Key"))),
        ("no shards", with("/shards", json!(0))),
        ("too many shards", with("/shards", json!(65))),
        ("fractional shards", with("/shards", json!(2.5))),
        ("shards as text", with("/shards", json!("4"))),
        (
            "unknown trigger",
            with("/trigger", json!({"type": "webhook"})),
        ),
        (
            "trigger without type",
            with("/trigger", json!({"method": "POST"})),
        ),
        ("unknown trigger field", with("/trigger/typo", json!(true))),
        ("bad method", with("/trigger/method", json!("FETCH"))),
        ("empty method list", with("/trigger/method", json!([]))),
        (
            "big body limit",
            with("/trigger/max_body_bytes", json!(100_000_000)),
        ),
        (
            "query type",
            with(
                "/trigger/request",
                json!({"query": [{"name": "a", "type": "object"}]}),
            ),
        ),
        (
            "header name",
            with("/trigger/request", json!({"headers": [{"name": "a b"}]})),
        ),
        (
            "query equals of another type than the default string",
            with(
                "/trigger/request",
                json!({"query": [{"name": "a", "equals": {}}]}),
            ),
        ),
        (
            "query boolean with a text equals",
            with(
                "/trigger/request",
                json!({"query": [{"name": "a", "type": "boolean", "equals": "true"}]}),
            ),
        ),
        (
            "body integer with a text enum value",
            with(
                "/trigger/request",
                json!({"body": [{"name": "a", "type": "integer", "enum": [1, "2"]}]}),
            ),
        ),
        (
            "body null with a value",
            with(
                "/trigger/request",
                json!({"body": [{"name": "a", "type": "null", "equals": 0}]}),
            ),
        ),
        (
            "body path with an empty name",
            with("/trigger/request", json!({"body": [{"name": "a..b"}]})),
        ),
        (
            "body path with an index",
            with("/trigger/request", json!({"body": [{"name": "a[0]"}]})),
        ),
        (
            "body path too deep",
            with(
                "/trigger/request",
                json!({"body": [{"name": vec!["a"; 33].join(".")}]}),
            ),
        ),
        (
            "a platform secret in a step URL",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x/{{secrets.admin_token}}"}),
            ),
        ),
        (
            "a platform secret in a source URL",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x/{{secrets.TRIPLINE_KEY}}"}}),
            ),
        ),
        (
            "a secret path with more than a name",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x/{{secrets.A.b}}"}),
            ),
        ),
        (
            "a field the request does not have",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x/{{request.params.id}}"}),
            ),
        ),
        (
            "an index too large for the Worker",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x/{{request.body[0].a[12345678901]}}"}),
            ),
        ),
        (
            "a signature header for a scheme with its own",
            with(
                "/trigger/verify",
                json!({"scheme": "slack", "secret_env": "S", "header": "x-sig"}),
            ),
        ),
        (
            "a tolerance for a scheme without a timestamp",
            with(
                "/trigger/verify",
                json!({"scheme": "hmac-sha256", "secret_env": "S", "tolerance_seconds": 60}),
            ),
        ),
        (
            "a signature header that is no header name",
            with(
                "/trigger/verify",
                json!({"scheme": "hmac-sha256", "secret_env": "S", "header": ""}),
            ),
        ),
        (
            "an empty column list",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "postgres", "connection_env": "A", "table": "t", "cursor": "id", "columns": []}}),
            ),
        ),
        (
            "a unique-id capacity with greatest-value dedupe",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "dedupe": "greatest", "unique_capacity": 5}}),
            ),
        ),
        (
            "a secret in a URL whose host is a placeholder",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://{{request.body.host}}/x?k={{secrets.K}}"}),
            ),
        ),
        (
            "a credential header as a URL's host",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://{{request.headers.Authorization}}/x"}),
            ),
        ),
        (
            "a token-like key right after the scheme",
            with(
                "/steps/0",
                json!({"type": "http", "url": "http://{{request.body.my_Token}}"}),
            ),
        ),
        (
            "a column listed twice",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "postgres", "connection_env": "A", "table": "t", "cursor": "id", "columns": ["a", "a"]}}),
            ),
        ),
        (
            "a step header value with a line break",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "headers": {"a": "b\nc"}}),
            ),
        ),
        (
            "a cron field with other characters",
            schedule(json!({"kind": "cron", "expression": "\u{a3}0 * * * *"})),
        ),
        (
            "a cron expression split by a character Rust does not count as space",
            schedule(json!({"kind": "cron", "expression": "0\u{1c}0 * * * *"})),
        ),
        (
            "a GET step with a body",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "method": "get", "json": {}}),
            ),
        ),
        (
            "body field without name",
            with("/trigger/request", json!({"body": [{"type": "string"}]})),
        ),
        (
            "verify scheme",
            with(
                "/trigger/verify",
                json!({"scheme": "md5", "secret_env": "S"}),
            ),
        ),
        (
            "verify secret name",
            with(
                "/trigger/verify",
                json!({"scheme": "github", "secret_env": "no-dash"}),
            ),
        ),
        (
            "seconds 0",
            schedule(json!({"kind": "seconds", "every": 0})),
        ),
        (
            "minutes too many",
            schedule(json!({"kind": "minutes", "every": 1441})),
        ),
        (
            "hourly minute 60",
            schedule(json!({"kind": "hourly", "minute": 60})),
        ),
        (
            "daily at 24:00",
            schedule(json!({"kind": "daily", "at": "24:00"})),
        ),
        ("daily without at", schedule(json!({"kind": "daily"}))),
        (
            "weekly bad day",
            schedule(json!({"kind": "weekly", "day": "someday", "at": "09:00"})),
        ),
        (
            "weekly no days",
            schedule(json!({"kind": "weekly", "day": [], "at": "09:00"})),
        ),
        ("unknown kind", schedule(json!({"kind": "yearly"}))),
        (
            "cron with 3 fields",
            schedule(json!({"kind": "cron", "expression": "* * *"})),
        ),
        (
            "schedule extra field",
            schedule(json!({"kind": "seconds", "every": 5, "at": "09:00"})),
        ),
        (
            "bad zone",
            with(
                "/trigger",
                json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 5}, "timezone": "Mars/Olympus"}),
            ),
        ),
        (
            "bad misfire",
            with(
                "/trigger",
                json!({"type": "schedule", "schedule": {"kind": "seconds", "every": 5}, "misfire": "always"}),
            ),
        ),
        (
            "poll without source",
            with("/trigger", json!({"type": "poll"})),
        ),
        (
            "poll interval 1",
            with(
                "/trigger",
                json!({"type": "poll", "interval_seconds": 1, "source": poll_pg}),
            ),
        ),
        (
            "poll start",
            with(
                "/trigger",
                json!({"type": "poll", "start": "yesterday", "source": poll_pg}),
            ),
        ),
        (
            "http source URL with a space in a placeholder",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://{{ secrets.A }}"}}),
            ),
        ),
        (
            "http step header name with a space",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "headers": {"a b": "c"}}),
            ),
        ),
        (
            "http source header name with a tab",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "headers": {"\t": "v"}}}),
            ),
        ),
        (
            "poll kind",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "mysql"}}),
            ),
        ),
        (
            "postgres without connection",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "postgres", "table": "t", "cursor": "id"}}),
            ),
        ),
        (
            "postgres with both connections",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "postgres", "connection_env": "A", "hyperdrive": "B", "table": "t", "cursor": "id"}}),
            ),
        ),
        (
            "http source without url",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http"}}),
            ),
        ),
        (
            "http source ftp url",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "ftp://x"}}),
            ),
        ),
        (
            "http source dedupe",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "dedupe": "latest"}}),
            ),
        ),
        (
            "http source pagination: both next_url and cursor",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"next_url": "/n", "cursor": "/c", "param": "p"}}}),
            ),
        ),
        (
            "http source pagination: cursor without param",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"cursor": "/c"}}}),
            ),
        ),
        (
            "http source pagination: param without cursor",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"param": "p"}}}),
            ),
        ),
        (
            "http source pagination: order",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"order": "random"}}}),
            ),
        ),
        (
            "http source pagination: max_pages",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"max_pages": 101}}}),
            ),
        ),
        (
            "http source pagination: whole body as next_url",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"next_url": ""}}}),
            ),
        ),
        (
            "http source pagination: unknown field",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "pagination": {"follow": true}}}),
            ),
        ),
        (
            "http source URL reads an unknown cursor field",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x/{{cursor.newest}}", "dedupe": "greatest"}}),
            ),
        ),
        (
            "oauth without urls",
            with(
                "/trigger",
                json!({"type": "oauth", "client_id": "c", "client_secret_env": "S"}),
            ),
        ),
        (
            "oauth reserved param",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://a", "token_url": "https://t", "client_id": "c", "client_secret_env": "S", "success_url": "https://s", "extra_authorize_params": {"state": "x"}}),
            ),
        ),
        (
            "oauth scope with a next-line character (Unicode White_Space)",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://a", "token_url": "https://t", "client_id": "c", "client_secret_env": "S", "success_url": "https://s", "scopes": ["read", "a\u{85}b"]}),
            ),
        ),
        (
            "oauth blank client id",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://a", "token_url": "https://t", "client_id": " ", "client_secret_env": "S", "success_url": "https://s"}),
            ),
        ),
        (
            "oauth URL with a password",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://u:p@a.example/x", "token_url": "https://t", "client_id": "c", "client_secret_env": "S", "success_url": "https://s"}),
            ),
        ),
        (
            "oauth extra parameter without a name",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://a", "token_url": "https://t", "client_id": "c", "client_secret_env": "S", "success_url": "https://s", "extra_authorize_params": {"": "x"}}),
            ),
        ),
        (
            "oauth token auth",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://a", "token_url": "https://t", "client_id": "c", "client_secret_env": "S", "success_url": "https://s", "token_auth_method": "jwt"}),
            ),
        ),
        ("steps not a list", with("/steps", json!({}))),
        (
            "too many steps",
            with(
                "/steps",
                json!(vec![json!({"type": "log", "message": "m"}); 26]),
            ),
        ),
        (
            "step without type",
            with("/steps/0", json!({"message": "hi"})),
        ),
        ("unknown step", with("/steps/0", json!({"type": "email"}))),
        (
            "log without message",
            with("/steps/0", json!({"type": "log"})),
        ),
        (
            "bad step name",
            with(
                "/steps/0",
                json!({"type": "log", "name": "1st", "message": "m"}),
            ),
        ),
        (
            "http without url",
            with("/steps/0", json!({"type": "http"})),
        ),
        (
            "http bad method",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "method": "FETCH"}),
            ),
        ),
        (
            "http timeout",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "timeout_ms": 99}),
            ),
        ),
        (
            "http retries",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "retries": 11}),
            ),
        ),
        (
            "http json and body",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "method": "POST", "json": {}, "body": "b"}),
            ),
        ),
        (
            "http text body not a string",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x", "method": "POST", "body": 5}),
            ),
        ),
        (
            "response status",
            with("/steps/0", json!({"type": "response", "status": 700})),
        ),
        (
            "a 204 response with a body",
            with(
                "/steps/0",
                json!({"type": "response", "status": 204, "json": {}}),
            ),
        ),
        (
            "a 304 response (as text) with a body",
            with(
                "/steps/0",
                json!({"type": "response", "status": " 304", "body": "x"}),
            ),
        ),
        (
            "a 204 response (as text with a leading zero) with a body",
            with(
                "/steps/0",
                json!({"type": "response", "status": "0204", "json": {}}),
            ),
        ),
        (
            "a 205 response (as a whole float) with a body",
            with(
                "/steps/0",
                json!({"type": "response", "status": 205.0, "json": null, "body": "x"}),
            ),
        ),
        (
            "response status text",
            with("/steps/0", json!({"type": "response", "status": "ok"})),
        ),
    ];
    let mut disagreements = Vec::new();
    for (what, v) in &cases {
        let (schema, parser) = (schema_ok(v), parser_ok(v));
        if schema || parser {
            disagreements.push(format!(
                "{what}: schema valid {schema}, parser valid {parser}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// What only the parser can check: the schema admits these, the parser rejects them. Listed
/// so that the gap is known and does not grow by accident.
#[test]
fn rules_only_the_parser_checks() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "template to an unknown root",
            with("/steps/0/message", json!("{{nope.x}}")),
        ),
        (
            "template to a later step",
            with(
                "/steps",
                json!([{"type": "log", "message": "{{steps.b.body}}"}, {"type": "log", "name": "b", "message": "m"}]),
            ),
        ),
        (
            "a step that sends a secret to a host from a placeholder",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://{{request.body.host}}/x", "headers": {"authorization": "Bearer {{secrets.T}}"}}),
            ),
        ),
        (
            "a literal step URL that does not parse (a port past 65535)",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x.example:99999/"}),
            ),
        ),
        (
            "a literal poll source URL that does not parse (a port past 65535)",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://x.example:99999/"}}),
            ),
        ),
        (
            "an oauth authorize_url whose query sets what Tripline sets (`state`)",
            with(
                "/trigger",
                json!({"type": "oauth", "authorize_url": "https://a.example/auth?state=fixed", "token_url": "https://t", "client_id": "c", "client_secret_env": "S", "success_url": "https://s"}),
            ),
        ),
        (
            "a poll source URL with user information (never sent)",
            with(
                "/trigger",
                json!({"type": "poll", "source": {"kind": "http", "url": "https://u:p@x.example/"}}),
            ),
        ),
        (
            "a literal header value past U+00FF (a header carries bytes)",
            with(
                "/steps/0",
                json!({"type": "http", "url": "https://x.example/", "headers": {"x-n": "\u{20ac}"}}),
            ),
        ),
        (
            "duplicate step names",
            with(
                "/steps",
                json!([{"type": "log", "name": "a", "message": "m"}, {"type": "log", "name": "a", "message": "m"}]),
            ),
        ),
        (
            "a name with a control character",
            with("/name", json!("a\u{0}b")),
        ),
        (
            "an endpoint method listed twice (in any letter case)",
            with("/trigger/method", json!(["POST", "post"])),
        ),
    ];
    for (what, v) in &cases {
        assert!(schema_ok(v), "{what}: the schema should admit it");
        assert!(!parser_ok(v), "{what}: the parser should reject it");
    }
}

#[test]
fn accepted_variants_are_valid_for_both() {
    let cases: Vec<Value> = vec![
        with(
            "/steps/0",
            json!({"type": "http", "url": "https://x.example/", "json": null, "body": null}),
        ),
        with(
            "/steps/0",
            json!({"type": "http", "url": "https://x.example/", "json": null, "body": "x"}),
        ),
        with(
            "/steps/0",
            json!({"type": "http", "url": "https://x.example/", "json": 1, "body": null}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://x/", "pagination": {"cursor": null, "next_url": null, "param": null}}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://x/", "pagination": {"cursor": "/c", "next_url": null, "param": "after"}}}),
        ),
        with("/trigger/method", json!(["get", "Post"])),
        with(
            "/$schema",
            json!("https://example.com/api/definition.schema.json"),
        ),
        with("/key", json!("lead-created_2")),
        with("/shards", json!(1)),
        with("/shards", json!(64)),
        with("/shards", json!(16.0)),
        with(
            "/steps/0",
            json!({"type": "response", "status": 200.0, "json": {"ok": true}}),
        ),
        with(
            "/steps/0",
            json!({"type": "response", "status": 204, "json": null}),
        ),
        with("/steps/0", json!({"type": "response", "status": "204"})),
        schedule(json!({"kind": "cron", "expression": " @Daily "})),
        schedule(json!({"kind": "cron", "expression": "\t*/5 1-3 1,15 jan-mar MON-fri"})),
        with(
            "/steps/0",
            json!({"type": "http", "url": "https://{{request.body.host}}/x?q={{request.query.cookies}}"}),
        ),
        with(
            "/steps/0",
            json!({"type": "http", "url": " \u{b}hTtPs://api.example.com?k={{secrets.K}}&a={{request.headers.authorization}}"}),
        ),
        with(
            "/steps/0",
            json!({"type": "http", "url": "\t{{request.body.callback_url}}"}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "postgres", "connection_env": "A", "table": "t", "cursor": "id", "tiebreak": "id", "columns": ["id", "b"]}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "dedupe": "unique", "unique_capacity": 5}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "unique_capacity": 5, "greatest": "/n"}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://x", "dedupe": "greatest", "unique_capacity": null}}),
        ),
        with(
            "/trigger/verify",
            json!({"scheme": "stripe", "secret_env": "S", "tolerance_seconds": 60, "header": null}),
        ),
        with(
            "/trigger/verify",
            json!({"scheme": "hmac-sha256", "secret_env": "S", "header": "X-Sig", "tolerance_seconds": null}),
        ),
        with(
            "/trigger/verify",
            json!({"scheme": "github", "secret_env": "S"}),
        ),
        with(
            "/steps/0",
            json!({"type": "http", "url": "https://x/{{\u{2003}request.body.items[0][1].id\t}}?k={{secrets.ADMIN_TOKENS}}&r={{run.id}}"}),
        ),
        with(
            "/trigger/request",
            json!({"query": [
                {"name": "a", "equals": "x", "enum": ["x", "y"]},
                {"name": "b", "type": "integer", "equals": 3.0, "enum": [1, 2]},
                {"name": "c", "type": "number", "enum": [1.5]},
                {"name": "d", "type": "boolean", "equals": true, "type": "boolean"},
                {"name": "\u{1F600}".repeat(256), "type": null, "equals": null}
            ]}),
        ),
        with(
            "/trigger/request",
            json!({"body": [
                {"name": "any", "equals": {"x": [1]}},
                {"name": "s", "type": "string", "enum": ["a"]},
                {"name": "o", "type": "object", "equals": {}},
                {"name": "l[]", "type": "array", "enum": [[1], []]},
                {"name": "n", "type": "null", "equals": null, "enum": [null]},
                {"name": "items[][].sku", "type": "any", "enum": [1, "a", null]},
                {"name": vec!["k"; 32].join("."), "required": true}
            ]}),
        ),
        with("/steps", json!(null)),
        schedule(json!({"kind": "weekly", "day": ["Mon", "friday"], "at": "9:05"})),
        schedule(json!({"kind": "daily", "every": 2, "at": "23:59"})),
        schedule(json!({"kind": "cron", "expression": "30 2 * * 0"})),
        with(
            "/steps/0",
            json!({"type": "http", "url": "https://x/{{request.body.id}}", "method": "put", "json": {"a": 1}, "retries": 0}),
        ),
        with(
            "/steps/0",
            json!({"type": "response", "status": "201", "json": {"ok": true}}),
        ),
        with(
            "/steps/0",
            json!({"type": "response", "status": "{{request.body.code}}"}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "postgres", "hyperdrive": "HD", "table": "public.users", "cursor": "id"}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "postgres", "connection_env": "A", "hyperdrive": null, "table": "t", "cursor": "id"}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://{{secrets.HOST}}/x?k={{secrets.K}}"}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://api.example.com/items", "items": "/data", "dedupe": "greatest", "greatest": "/n"}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://api.example.com/items?since={{cursor.greatest}}", "dedupe": "greatest", "greatest": "/created_at",
                "pagination": {"order": "newest_first", "max_pages": 100}}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://api.example.com/items",
                "pagination": {"next_url": "/links/next", "order": "oldest_first"}}}),
        ),
        with(
            "/trigger",
            json!({"type": "poll", "source": {"kind": "http", "url": "https://api.example.com/items",
                "pagination": {"cursor": "/meta/next", "param": "page[after]", "max_pages": 1}}}),
        ),
    ];
    for v in &cases {
        let errors: Vec<String> = validator().iter_errors(v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{v}: {errors:#?}");
        assert!(parser_ok(v), "{v}: {:?}", Definition::parse(v).err());
    }
}

/// The schema of a cron expression alone: the subschema whose pattern names `@daily`.
fn cron_validator() -> jsonschema::Validator {
    fn find(v: &Value) -> Option<&Value> {
        match v {
            Value::Object(map) => {
                if map
                    .get("pattern")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.contains("[Dd][Aa][Ii][Ll][Yy]"))
                {
                    return Some(v);
                }
                map.values().find_map(find)
            }
            Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    let schema = definition_schema();
    let cron = find(&schema).expect("the cron expression's schema").clone();
    jsonschema::validator_for(&cron).expect("the cron schema compiles")
}

fn cron_parses(expression: &str) -> bool {
    tripline_core::schedule::cron::CronSchedule::parse(expression).is_ok()
}

/// Tricky expressions, each with the answer both must give.
#[test]
fn cron_schema_and_parser_agree_on_tricky_expressions() {
    let validator = cron_validator();
    let cases: &[(&str, bool)] = &[
        ("8050114*,3-", false),
        ("8050114*,3- * * * *", false),
        ("0 0 * * *", true),
        ("59 23 31 12 7", true),
        ("60 * * * *", false),
        ("* 24 * * *", false),
        ("* * 0 * *", false),
        ("* * 32 * *", false),
        ("* * * 0 *", false),
        ("* * * 13 *", false),
        ("* * * * 8", false),
        ("007 09 * * *", true),
        ("0000000000000005 * * * *", true),
        ("*/59 * * * *", true),
        ("*/60 * * * *", false),
        ("*/0 * * * *", false),
        ("*/*/5 * * * *", false),
        ("5/5/5 * * * *", false),
        ("*-5 * * * *", false),
        ("-5 * * * *", false),
        ("5- * * * *", false),
        ("5-3 * * * *", false),
        ("3-5/2 * * * *", true),
        ("3-3 * * * *", true),
        ("1,,2 * * * *", true),
        (",5, * * * *", true),
        (", * * * *", false),
        ("** * * * *", false),
        ("*5 * * * *", false),
        ("5* * * * *", false),
        ("* * * jan-dec *", true),
        ("* * * JAN,Mar *", true),
        ("* * * dec-jan *", false),
        ("* * * jan1 *", false),
        ("* * * 1jan *", false),
        ("* * * */feb *", false),
        ("* * * feb/3 *", true),
        ("* * * sun *", false),
        ("* * * * sun-sat", true),
        ("* * * * SAT-sun", false),
        ("* * * * mon-7", true),
        ("* * * * 7-sun", false),
        ("* * * * */7", true),
        ("* * * * */8", false),
        ("* * * * */mon", false),
        ("* * * * mon1", false),
        ("* * * * jan", false),
        ("mon * * * *", false),
        ("0 0 31 2 *", false),
        ("0 0 30 2 *", false),
        ("0 0 29 2 *", true),
        ("0 0 31 4,6,9,11 *", false),
        ("0 0 31 apr-apr,feb/7 *", false),
        ("0 0 31 2-4 *", true),
        ("0 0 31 2 1", true),
        ("0 0 31 2 ,*", true),
        ("0 0 31 2 */2", false),
        ("0 0 30,31 feb *", false),
        ("0 0 30-31/1 2 *", false),
        ("0 0 31 4 *", false),
        ("0 0 31 4/1 *", true),
        ("0 0 31 9/2 *", false),
        ("0 0 */31 2 *", true),
        ("@daily", true),
        (" @Hourly ", true),
        ("@reboot", false),
        ("* * * * * *", false),
        ("* * * *", false),
        ("\u{2003}0\u{3000}0 * * *\n", true),
    ];
    for (expression, valid) in cases {
        assert_eq!(cron_parses(expression), *valid, "parser on `{expression}`");
        assert_eq!(
            validator.is_valid(&json!(expression)),
            *valid,
            "schema on `{expression}`"
        );
    }
}

/// Many field texts built from values at and past each field's edges, names, `*`, ranges,
/// steps and lists, in every position: the schema admits exactly what the parser accepts.
#[test]
fn cron_schema_and_parser_agree_on_every_field() {
    let validator = cron_validator();
    let atoms = [
        "", "*", "0", "00", "1", "2", "4", "6", "7", "8", "9", "11", "12", "13", "23", "24", "29",
        "30", "31", "32", "59", "60", "99", "jan", "Feb", "APR", "dec", "sun", "Mon", "sat", "x",
    ];
    // A small fixed generator (xorshift), so a failure reproduces.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut valid = 0;
    for _ in 0..20_000 {
        let item = |next: &mut dyn FnMut(usize) -> usize| {
            let a = atoms[next(atoms.len())];
            match next(4) {
                0 => a.to_string(),
                1 => format!("{a}-{}", atoms[next(atoms.len())]),
                2 => format!("{a}/{}", atoms[next(atoms.len())]),
                _ => format!(
                    "{a}-{}/{}",
                    atoms[next(atoms.len())],
                    atoms[next(atoms.len())]
                ),
            }
        };
        let mut field = item(&mut next);
        while next(3) == 0 {
            field = format!("{field},{}", item(&mut next));
        }
        let mut fields = ["0", "0", "*", "*", "*"];
        let position = next(5);
        fields[position] = &field;
        // Day-of-month and month together (the "never fires" rule), day-of-week `*` or not.
        let second = item(&mut next);
        if position == 2 {
            fields[3] = &second;
            fields[4] = if next(2) == 0 { "*" } else { "1" };
        }
        let expression = fields.join(" ");
        let parses = cron_parses(&expression);
        assert_eq!(
            validator.is_valid(&json!(expression)),
            parses,
            "schema and parser disagree on `{expression}`"
        );
        valid += usize::from(parses);
    }
    eprintln!("{valid} of 20 000 generated expressions are valid");
    // Both answers are well represented, so the comparison means something.
    assert!((1_000..=19_000).contains(&valid), "{valid} valid");
}
