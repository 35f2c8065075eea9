//! Foundation: the management API end to end against `wrangler dev`.

use crate::harness::*;
use serde_json::{json, Value};
use tripline::api::routes::ROUTES;

/// The ids of a page of `GET /api/workflows`, in order.
fn workflow_ids(page: &Value) -> Vec<&str> {
    page["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect()
}

fn endpoint_def(name: &str) -> Value {
    json!({"name": name, "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "name": "hello", "message": "hi"}]})
}

#[test]
fn healthz_needs_no_token() {
    let dev = shared();
    let r = send("GET", &dev.url("/healthz"), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ok"], true);
}

#[test]
fn unknown_methods_are_405_with_allow() {
    let dev = shared();
    // The runtime would fold a method it does not know into GET; the router reads it as sent.
    let r = send("QUERY", &dev.url("/healthz"), &[], None);
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

#[test]
fn definition_schema_is_served_to_any_origin() {
    let dev = shared();
    let r = send("GET", &dev.url("/api/definition.schema.json"), &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/schema+json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let schema = r.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "Tripline workflow definition");
    assert_eq!(
        schema["properties"]["trigger"]["$ref"],
        "#/$defs/TriggerSchema"
    );
    // One branch per trigger kind, each naming its `type`.
    let triggers = schema["$defs"]["TriggerSchema"]["oneOf"]
        .as_array()
        .unwrap();
    let kinds: Vec<&str> = triggers
        .iter()
        .filter_map(|b| b["properties"]["type"]["const"].as_str())
        .collect();
    for kind in ["endpoint", "schedule", "poll", "oauth"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let steps = schema["$defs"]["StepSchema"]["oneOf"].as_array().unwrap();
    assert!(steps.len() > 1, "{steps:?}");
    // The same document the Worker was built with.
    let built: Value =
        serde_json::from_str(include_str!("../../src/api/definition.schema.json")).unwrap();
    assert_eq!(schema, built);
}

#[test]
fn a_runs_cursor_is_any_position() {
    let dev = shared();
    let id = create(dev, &endpoint_def("runs cursor"));
    // Base64url text of positions that are no run id (one with `&`, `#` and `?` in it): each is
    // a bound the page starts after, as the document admits.
    for cursor in ["DI50S-4Sr7E4tL0ThkSWWe_i2s0g", "JiM_", "fn5-"] {
        let r = api(
            dev,
            "GET",
            &format!("/api/workflows/{id}/runs?cursor={cursor}&status=queued&limit=33"),
            None,
        );
        assert_eq!(r.status, 200, "{cursor}: {}", r.text);
        assert_eq!(r.json()["runs"], json!([]), "{cursor}");
    }
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?cursor=!!!"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.locations(), ["query.cursor"]);
}

#[test]
fn crud_round_trip() {
    let dev = shared();
    let def = serde_json::from_str::<Value>(include_str!("../../examples/endpoint.json")).unwrap();
    let r = api(dev, "POST", "/api/workflows", Some(&def));
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("wf_") && id.len() == 27, "{id}");
    assert_eq!(
        r.header("location"),
        Some(format!("/api/workflows/{id}").as_str())
    );
    assert_eq!(created["status"], "draft");
    assert_eq!(created["draft"], def);
    assert_eq!(created["deployed_version"], Value::Null);
    assert_eq!(
        created["urls"]["endpoint"],
        dev.url(&format!("/hooks/{id}"))
    );
    assert_eq!(
        created["urls"]["test"],
        dev.url(&format!("/hooks/{id}/test"))
    );

    let got = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["name"], "Lead created");
    // An admin's answer is kept by no cache.
    assert_eq!(got.header("cache-control"), Some("no-store"));

    let mut changed = def.clone();
    changed["name"] = json!("Lead created v2");
    let put = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&changed));
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json()["name"], "Lead created v2");
    assert_eq!(put.json()["draft"]["name"], "Lead created v2");

    let del = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(del.status, 204);
    // The delete's last object call, recorded in the arm outbox with the delete, was settled
    // when the object answered.
    let outbox = dev.d1(&format!(
        "SELECT action FROM arm_outbox WHERE workflow_id = '{id}'"
    ));
    assert_eq!(outbox, Vec::<Value>::new());
    let gone = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.header("content-type"),
        Some("application/problem+json")
    );
    let again = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(again.status, 404);
}

#[test]
fn list_pages_with_a_cursor() {
    let dev = Dev::start("paging", &[]);
    let mut ids: Vec<String> = (0..5)
        .map(|i| create(&dev, &endpoint_def(&format!("p{i}"))))
        .collect();
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/api/workflows?limit=2".to_string(),
            Some(c) => format!("/api/workflows?limit=2&cursor={c}"),
        };
        let r = api(&dev, "GET", &path, None);
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        let page = v["workflows"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|w| w["id"].as_str().unwrap().to_string()));
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    // An empty cursor is the first page.
    let first = api(&dev, "GET", "/api/workflows?limit=2", None);
    let empty = api(&dev, "GET", "/api/workflows?limit=2&cursor=", None);
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json(), first.json());
    let empty = api(&dev, "GET", "/api/workflows?cursor=", None);
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json()["workflows"].as_array().unwrap().len(), 5);

    let bad = api(&dev, "GET", "/api/workflows?cursor=!!!", None);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.locations(), ["query.cursor"]);
    let bad = api(&dev, "GET", "/api/workflows?limit=1000", None);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.locations(), ["query.limit"]);

    // Six drafts of 900 KB: a page ends after the draft that passes 4 MiB (the fifth), and the
    // next goes on from it; every workflow is listed once, newest first.
    let mut big: Vec<String> = (0..6)
        .map(|i| {
            let mut def = endpoint_def(&format!("big{i}"));
            def["steps"] = json!([{"type": "log", "name": "pad", "message": "x".repeat(900_000)}]);
            create(&dev, &def)
        })
        .collect();
    big.reverse();
    let first = api(&dev, "GET", "/api/workflows?limit=100", None);
    assert_eq!(first.status, 200);
    let first = first.json();
    let page = workflow_ids(&first);
    assert_eq!(
        page,
        big[..5].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a cursor after a page cut by size");
    let rest = api(
        &dev,
        "GET",
        &format!("/api/workflows?limit=100&cursor={cursor}"),
        None,
    )
    .json();
    let rest = workflow_ids(&rest);
    let mut expected: Vec<&str> = vec![big[5].as_str()];
    expected.extend(ids.iter().map(String::as_str));
    assert_eq!(rest, expected);

    // A list that ends with more than 4 MiB of drafts on its last page: every workflow once, and
    // the cursor after them (the page could have been cut there) leads to an empty last page.
    for id in &ids {
        assert_eq!(
            api(&dev, "DELETE", &format!("/api/workflows/{id}"), None).status,
            204
        );
    }
    let one = api(&dev, "GET", "/api/workflows?limit=1", None).json();
    let after_newest = one["next_cursor"].as_str().expect("a cursor after one");
    let last = api(
        &dev,
        "GET",
        &format!("/api/workflows?limit=100&cursor={after_newest}"),
        None,
    )
    .json();
    let listed = workflow_ids(&last);
    assert_eq!(
        listed,
        big[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    if let Some(c) = last["next_cursor"].as_str() {
        let empty = api(
            &dev,
            "GET",
            &format!("/api/workflows?limit=100&cursor={c}"),
            None,
        )
        .json();
        assert_eq!(empty["workflows"], json!([]), "{empty}");
        assert_eq!(empty["next_cursor"], Value::Null, "{empty}");
    }
}

#[test]
fn every_api_route_rejects_missing_and_wrong_tokens() {
    let dev = shared();
    let mut checked = 0;
    for route in ROUTES.iter().filter(|r| r.admin) {
        let path = route
            .path
            .replace("{id}", "wf_000000000000000000000000")
            .replace("{run_id}", "run_00000000000000000000000000")
            .replace("{user_id}", "u1");
        let method = if route.method == "*" {
            "GET"
        } else {
            route.method
        };
        let missing = send(method, &dev.url(&path), &[], Some(b"{}"));
        assert_eq!(
            missing.status, 401,
            "{method} {path} without a token: {}",
            missing.text
        );
        assert!(missing
            .header("www-authenticate")
            .unwrap_or("")
            .starts_with("Bearer"));
        assert_eq!(
            missing.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(missing.header("cache-control"), Some("no-store"));
        let wrong = send(
            method,
            &dev.url(&path),
            &[("authorization", "Bearer nope")],
            Some(b"{}"),
        );
        assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
        let almost = format!("Bearer {}x", ADMIN_TOKEN);
        let wrong = send(
            method,
            &dev.url(&path),
            &[("authorization", &almost)],
            Some(b"{}"),
        );
        assert_eq!(wrong.status, 401, "{method} {path} with a longer token");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} admin routes");
    // The scheme's name in any case; another scheme, or the token alone, is refused.
    for (given, status) in [
        (format!("BEARER {ADMIN_TOKEN}"), 200),
        (format!("bearer  {ADMIN_TOKEN}"), 200),
        (format!("Basic {ADMIN_TOKEN}"), 401),
        (ADMIN_TOKEN.to_string(), 401),
        (format!("Bearer{ADMIN_TOKEN}"), 401),
    ] {
        let r = send(
            "GET",
            &dev.url("/api/workflows"),
            &[("authorization", &given)],
            None,
        );
        assert_eq!(r.status, status, "{given}: {}", r.text);
    }
}

#[test]
fn invalid_definitions_list_every_error_with_its_location() {
    let dev = shared();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"trigger": {"type": "endpoint"}}), "name"),
        (json!({"name": "x"}), "trigger"),
        (
            json!({"name": "x", "trigger": {"type": "webhook"}}),
            "trigger.type",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint", "method": "FETCH"}}),
            "trigger.method",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint", "mehtod": "POST"}}),
            "trigger.mehtod",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "stepz": []}),
            "stepz",
        ),
        (json!({"name": 5, "trigger": {"type": "endpoint"}}), "name"),
        (
            json!({"name": "x", "trigger": {"type": "endpoint", "request": {"body": [{"name": "a", "type": "strin"}]}}}),
            "trigger.request.body[0].type",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "name": "a", "message": "m"}, {"type": "log", "name": "a", "message": "m"}]}),
            "steps[1].name",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "name": "a", "message": "{{nope.x}}"}]}),
            "steps[0].message",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "teleport", "name": "a"}]}),
            "steps[0].type",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "http", "name": "a", "url": "ftp://x"}]}),
            "steps[0].url",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "http", "name": "a", "url": "https://a.example", "timeout_ms": 99999999}]}),
            "steps[0].timeout_ms",
        ),
        (
            json!({"name": "x", "trigger": {"type": "schedule", "schedule": {"kind": "daily", "at": "25:00"}}}),
            "trigger.schedule.at",
        ),
        (
            json!({"name": "x", "trigger": {"type": "schedule", "schedule": {"kind": "cron", "expression": "61 * * * *"}}}),
            "trigger.schedule.expression",
        ),
        (
            json!({"name": "x", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 5}, "timezone": "Mars/Olympus"}}),
            "trigger.timezone",
        ),
        (
            json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "postgres", "connection_env": "PG", "table": "users; DROP TABLE users", "cursor": "id"}}}),
            "trigger.source.table",
        ),
        (
            json!({"name": "x", "trigger": {"type": "oauth", "authorize_url": "https://p.example/a", "token_url": "https://p.example/t", "client_id": "c", "client_secret_env": "lower case", "success_url": "https://app.example/"}}),
            "trigger.client_secret_env",
        ),
    ];
    for (def, location) in &cases {
        let r = api(dev, "POST", "/api/workflows", Some(def));
        assert_eq!(r.status, 400, "{def}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let v = r.json();
        assert_eq!(v["status"], 400);
        assert!(v["title"].is_string() && v["detail"].is_string() && v["type"].is_string());
        let locs = r.locations();
        assert!(
            locs.iter().any(|l| l == location),
            "{def}: wanted {location}, got {locs:?}"
        );
    }
    // Several mistakes at once are all listed.
    let r = api(
        dev,
        "POST",
        "/api/workflows",
        Some(
            &json!({"name": "", "trigger": {"type": "endpoint", "method": "NOPE", "typo": 1}, "extra": true}),
        ),
    );
    assert_eq!(r.status, 400);
    let locs = r.locations();
    for l in ["name", "trigger.method", "trigger.typo", "extra"] {
        assert!(locs.iter().any(|x| x == l), "{l} missing in {locs:?}");
    }
    // PUT validates the same way and keeps the old draft.
    let id = create(dev, &endpoint_def("keep me"));
    let r = api(
        dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&json!({"name": "x"})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        api(dev, "GET", &format!("/api/workflows/{id}"), None).json()["name"],
        "keep me"
    );
}

#[test]
fn a_json_body_may_start_with_a_byte_order_mark() {
    let dev = shared();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    // Notepad and PowerShell's `Out-File -Encoding utf8` write one before the text.
    let with_mark = |def: &Value| {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(def.to_string().into_bytes());
        bytes
    };
    let r = send(
        "POST",
        &dev.url("/api/workflows"),
        &h,
        Some(&with_mark(&endpoint_def("marked"))),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["name"], "marked");
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = send(
        "PUT",
        &dev.url(&format!("/api/workflows/{id}")),
        &h,
        Some(&with_mark(&endpoint_def("marked again"))),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        api(dev, "GET", &format!("/api/workflows/{id}"), None).json()["name"],
        "marked again"
    );
    // Only one, and only first: a mark inside the text is no JSON.
    let mut twice = b"\xEF\xBB\xBF".to_vec();
    twice.extend(with_mark(&endpoint_def("twice")));
    let r = send("POST", &dev.url("/api/workflows"), &h, Some(&twice));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.locations(), ["body"]);
}

#[test]
fn a_not_found_detail_cuts_a_long_id() {
    let dev = shared();
    let long = "a".repeat(5000);
    let id = create(dev, &endpoint_def("long ids"));
    for (method, path) in [
        ("GET", format!("/api/runs/run_{long}")),
        ("POST", format!("/api/runs/run_{long}/replay")),
        ("GET", format!("/api/workflows/wf_{long}")),
        ("POST", format!("/hooks/{long}")),
        ("GET", format!("/{long}")),
        ("DELETE", format!("/api/workflows/{id}/connections/{long}")),
    ] {
        let r = if path.starts_with("/api/") {
            api(dev, method, &path, None)
        } else {
            send(method, &dev.url(&path), &[], None)
        };
        assert_eq!(r.status, 404, "{method} {}: {}", &path[..40], r.text);
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(
            detail.chars().count() < 200 && detail.contains(&format!("{}…", &long[..90])),
            "{method} {}: {detail}",
            &path[..40]
        );
    }
    // A short one is echoed whole.
    let r = api(dev, "GET", "/api/runs/run_abc", None);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json()["detail"], "no run with id run_abc");
}

#[test]
fn http_errors_are_problem_json() {
    let dev = shared();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let r = send("GET", &dev.url("/nope"), &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let r = send("PATCH", &dev.url("/api/workflows"), &h, Some(b"{}"));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = send(
        "POST",
        &dev.url("/api/workflows"),
        &h,
        Some(b"{\"name\": \"x\",\n \"trigger\": }"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.locations(), ["body"]);
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{}",
        r.text
    );
    // Half of a surrogate pair is no text: refused, saying so.
    for half in [r#"{"name": "\ud83d"}"#, r#"{"name": "a\udfffb"}"#] {
        let r = send(
            "POST",
            &dev.url("/api/workflows"),
            &h,
            Some(half.as_bytes()),
        );
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.locations(), ["body"], "{}", r.text);
        assert!(r.text.contains("halves of a surrogate pair"), "{}", r.text);
    }
    // A key written twice would keep only the last: refused, at `body`.
    for twice in [
        r#"{"name": "first", "trigger": {"type": "endpoint"}, "name": "second"}"#,
        r#"{"name": "x", "trigger": {"type": "endpoint", "type": "schedule"}}"#,
    ] {
        let r = send(
            "POST",
            &dev.url("/api/workflows"),
            &h,
            Some(twice.as_bytes()),
        );
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.locations(), ["body"], "{}", r.text);
        assert!(r.text.contains("writes a key twice"), "{}", r.text);
    }
    let r = send(
        "POST",
        &dev.url("/api/workflows"),
        &[("authorization", &auth), ("content-type", "text/plain")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.locations(), ["header.content-type"], "{}", r.text);
    let big = vec![b' '; 1024 * 1024 + 10];
    let r = send("POST", &dev.url("/api/workflows"), &h, Some(&big));
    assert_eq!(r.status, 413);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    // Under the body limit as sent, over what can be stored: `1e15` is kept as
    // `1000000000000000.0`. Refused at `body`, before anything is stored.
    let numbers = vec!["1e15"; 120_000].join(",");
    let grows = format!(
        r#"{{"name": "grows", "trigger": {{"type": "endpoint"}}, "steps": [{{"type": "http", "name": "call", "url": "https://x.example", "json": [{numbers}]}}]}}"#
    );
    assert!(grows.len() < 1024 * 1024);
    let r = send(
        "POST",
        &dev.url("/api/workflows"),
        &h,
        Some(grows.as_bytes()),
    );
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.locations(), ["body"], "{}", r.text);
    assert!(r.text.contains("as stored"), "{}", r.text);
    let r = api(dev, "GET", "/api/runs/run_nope", None);
    assert_eq!(r.status, 404);
    let r = api(
        dev,
        "GET",
        "/api/workflows/wf_000000000000000000000000/runs",
        None,
    );
    assert_eq!(r.status, 404);
}

#[test]
fn deploy_freezes_versions() {
    let dev = shared();
    let id = create(dev, &endpoint_def("v1 name"));
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let w = r.json();
    assert_eq!(w["status"], "deployed");
    assert_eq!(w["deployed_version"], 1);
    assert!(w["deployed_at"].is_string());

    let put = api(
        dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&endpoint_def("v2 name")),
    );
    assert_eq!(put.status, 200);
    let w = put.json();
    assert_eq!(
        w["deployed_version"], 1,
        "editing the draft changes nothing live"
    );
    assert_eq!(w["draft"]["name"], "v2 name");
    let rows = dev.d1(&format!("SELECT version, json_extract(definition, '$.name') AS name FROM workflow_versions WHERE workflow_id = '{id}' ORDER BY version"));
    assert_eq!(rows, vec![json!({"version": 1, "name": "v1 name"})]);

    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.json()["deployed_version"], 2);
    let rows = dev.d1(&format!("SELECT version, json_extract(definition, '$.name') AS name FROM workflow_versions WHERE workflow_id = '{id}' ORDER BY version"));
    assert_eq!(
        rows,
        vec![
            json!({"version": 1, "name": "v1 name"}),
            json!({"version": 2, "name": "v2 name"})
        ]
    );

    let r = api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "draft");
    assert_eq!(r.json()["deployed_version"], Value::Null);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.json()["deployed_version"], 3);
}

fn assert_problem(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["status"], status, "{}", r.text);
}

/// A call with the admin token and an `If-Match`.
fn api_if_match(dev: &Dev, method: &str, path: &str, tag: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let bytes = body.map(|b| b.to_string().into_bytes());
    send(
        method,
        &dev.url(path),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("if-match", tag),
        ],
        bytes.as_deref(),
    )
}

/// A workflow answer's `ETag` names its draft: a save or deploy with it as `If-Match` happens
/// only while the saved draft is still that one. A save made elsewhere meanwhile makes both
/// a `412` at `header.if-match` that changes nothing; without `If-Match`, or with `*`, they
/// go ahead as before.
#[test]
fn if_match_saves_and_deploys_only_the_draft_that_was_read() {
    let dev = shared();
    let id = create(dev, &endpoint_def("read here"));
    let path = format!("/api/workflows/{id}");
    let read = api(dev, "GET", &path, None);
    let tag = read.header("etag").expect("an ETag").to_string();
    assert!(tag.starts_with('"') && tag.len() > 2, "{tag}");

    // Saved elsewhere meanwhile (no `If-Match`): a new tag.
    let theirs = api(dev, "PUT", &path, Some(&endpoint_def("saved elsewhere")));
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    let their_tag = theirs.header("etag").expect("an ETag").to_string();
    assert_ne!(their_tag, tag);
    assert_eq!(
        api(dev, "GET", &path, None).header("etag"),
        Some(their_tag.as_str())
    );

    // A save and a deploy of what was read first change nothing.
    let r = api_if_match(dev, "PUT", &path, &tag, Some(&endpoint_def("mine")));
    assert_problem(&r, 412);
    assert_eq!(r.locations(), ["header.if-match"], "{}", r.text);
    let r = api_if_match(dev, "POST", &format!("{path}/deploy"), &tag, None);
    assert_problem(&r, 412);
    assert_eq!(r.locations(), ["header.if-match"], "{}", r.text);
    let w = api(dev, "GET", &path, None).json();
    assert_eq!(w["draft"]["name"], "saved elsewhere");
    assert_eq!(w["status"], "draft", "{w}");
    let versions = dev.d1(&format!(
        "SELECT COUNT(*) AS n FROM workflow_versions WHERE workflow_id = '{id}'"
    ));
    assert_eq!(versions, vec![json!({"n": 0})]);

    // With the current tag (or a list naming it, or `*`) both go ahead.
    let r = api_if_match(
        dev,
        "PUT",
        &path,
        &format!("\"0\", {their_tag}"),
        Some(&endpoint_def("mine")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let my_tag = r.header("etag").expect("an ETag").to_string();
    let r = api_if_match(dev, "POST", &format!("{path}/deploy"), &my_tag, None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["deployed_version"], 1);
    assert_eq!(
        r.header("etag"),
        Some(my_tag.as_str()),
        "deploying keeps the draft"
    );
    let r = api_if_match(dev, "PUT", &path, "*", Some(&endpoint_def("any")));
    assert_eq!(r.status, 200, "{}", r.text);
    // The tag made weak (as Cloudflare makes it when it compresses an answer) names the same
    // draft; a weak tag of another draft does not.
    let any_tag = r.header("etag").expect("an ETag").to_string();
    let r = api_if_match(
        dev,
        "PUT",
        &path,
        &format!("W/{tag}"),
        Some(&endpoint_def("weak and old")),
    );
    assert_problem(&r, 412);
    let r = api_if_match(
        dev,
        "PUT",
        &path,
        &format!("W/{any_tag}"),
        Some(&endpoint_def("weak")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api(dev, "GET", &path, None).json()["draft"]["name"], "weak");
    let weak_tag = r.header("etag").expect("an ETag").to_string();

    // A tag without its quotes names no draft: a 400 that says so, nothing changed.
    for method in ["PUT", "DELETE"] {
        let bare = weak_tag.trim_matches('"');
        let r = api_if_match(dev, method, &path, bare, Some(&endpoint_def("bare")));
        assert_problem(&r, 400);
        assert_eq!(r.locations(), ["header.if-match"], "{}", r.text);
        assert!(r.text.contains("with its quotes"), "{}", r.text);
    }
    assert_eq!(api(dev, "GET", &path, None).json()["draft"]["name"], "weak");

    // A delete with `If-Match` happens only while the draft is the one named.
    let r = api_if_match(dev, "DELETE", &path, &tag, None);
    assert_problem(&r, 412);
    assert_eq!(r.locations(), ["header.if-match"], "{}", r.text);
    assert_eq!(api(dev, "GET", &path, None).status, 200);
    let r = api_if_match(dev, "DELETE", &path, &weak_tag, None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(api(dev, "GET", &path, None).status, 404);
}

#[test]
fn openapi_document_is_served_and_lists_the_routes() {
    let dev = shared();
    let r = api(dev, "GET", "/api/openapi.json", None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for route in ROUTES {
        let item = paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} missing", route.path));
        if route.method != "*" {
            assert!(
                item.get(route.method.to_lowercase()).is_some(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}

#[test]
fn without_an_admin_secret_the_api_says_how_to_set_it() {
    let dev = Dev::start("no-token", &[("ADMIN_TOKEN", "")]);
    let r = send(
        "GET",
        &dev.url("/api/workflows"),
        &[("authorization", "Bearer x")],
        None,
    );
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().contains("ADMIN_TOKEN"));
    assert_eq!(send("GET", &dev.url("/healthz"), &[], None).status, 200);
}

/// A token short enough to guess keeps the API closed, even to a caller who sends it, and says
/// how long one must be.
#[test]
fn a_short_admin_secret_keeps_the_api_closed_and_says_so() {
    let token = "fifteen-chars-x";
    let dev = Dev::start("short-token", &[("ADMIN_TOKEN", token)]);
    let r = send(
        "GET",
        &dev.url("/api/workflows"),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("ADMIN_TOKEN has 15 characters; use at least 16"),
        "{detail}"
    );
    assert_eq!(send("GET", &dev.url("/healthz"), &[], None).status, 200);
}

#[test]
fn poll_reset_names_a_secret_the_worker_lacks() {
    let dev = shared();
    // A source that names a secret this Worker does not have: reading it is a configuration
    // problem to fix (409 naming the field), not an unreachable upstream (502).
    let sources = [
        (
            json!({"kind": "http", "url": "http://127.0.0.1:9/items?key={{secrets.NO_SUCH_KEY}}"}),
            "trigger.source.url",
            "NO_SUCH_KEY",
        ),
        (
            json!({"kind": "postgres", "connection_env": "NO_SUCH_PG", "table": "t", "cursor": "id"}),
            "trigger.source.connection_env",
            "NO_SUCH_PG",
        ),
    ];
    for (source, location, secret) in sources {
        let def = json!({"name": "needs a secret", "trigger": {"type": "poll", "interval_seconds": 3600, "source": source},
            "steps": [{"type": "log", "message": "{{event.record}}"}]});
        let id = create(dev, &def);
        let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        let reset = format!("/api/workflows/{id}/poll/reset");
        let r = api(dev, "POST", &reset, Some(&json!({"start": "now"})));
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.json()["type"], "urn:tripline:problem:conflict");
        assert_eq!(r.locations(), [location]);
        let message = r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.contains(&format!("secret `{secret}` is not set")),
            "{message}"
        );
        // Starting from the beginning reads nothing now, so it is accepted.
        let r = api(dev, "POST", &reset, Some(&json!({"start": "beginning"})));
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["start"], "beginning");
        api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    }
}

/// A workflow's answer lists the secrets and vars its draft reads that the Worker lacks, with
/// where: a webhook signing secret, `{{secrets.NAME}}` in any step (a var that is set is not
/// listed). The list of workflows does not carry it.
#[test]
fn a_workflow_names_the_secrets_its_draft_reads_that_are_not_set() {
    let dev = shared();
    let def = |message: &str| {
        json!({"name": "Needs secrets",
               "trigger": {"type": "endpoint",
                           "verify": {"scheme": "github", "secret_env": "UNSET_HOOK_SECRET"}},
               "steps": [{"type": "log", "name": "note", "message": message},
                         {"type": "http", "name": "call", "url": "https://api.example.test/x",
                          "headers": {"authorization": "Bearer {{secrets.UNSET_API_TOKEN}}"}}]})
    };
    let r = api(
        dev,
        "POST",
        "/api/workflows",
        Some(&def(
            "{{secrets.RUN_LEASE_SECONDS}} and {{secrets.UNSET_API_TOKEN}}",
        )),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let expected = json!([
        {"name": "UNSET_HOOK_SECRET", "location": "trigger.verify.secret_env"},
        {"name": "UNSET_API_TOKEN", "location": "steps[0].message"},
        {"name": "UNSET_API_TOKEN", "location": "steps[1].headers.authorization"}
    ]);
    assert_eq!(r.json()["missing_secrets"], expected, "{}", r.text);
    let id = r.json()["id"].as_str().expect("id").to_string();
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.json()["missing_secrets"], expected, "{}", r.text);
    // Newest first: it is on the first page.
    let r = api(dev, "GET", "/api/workflows?limit=100", None);
    let items = r.json()["workflows"].as_array().expect("workflows").clone();
    let listed = items
        .iter()
        .find(|w| w["id"] == id.as_str())
        .expect("listed");
    assert!(listed.get("missing_secrets").is_none(), "{listed}");
    // The deploy's answer says it too; a draft that reads only a set var lists none.
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["missing_secrets"], expected, "{}", r.text);
    let mut fixed = def("{{secrets.RUN_LEASE_SECONDS}}");
    fixed["trigger"] = json!({"type": "endpoint"});
    fixed["steps"][1]["headers"] = json!({});
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&fixed));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["missing_secrets"], json!([]), "{}", r.text);
}

#[test]
fn numbers_are_kept_to_their_last_digit() {
    let dev = shared();
    // Each as JSON writes it (its shortest form); read only to within a unit in the last place,
    // such numbers came back one digit off.
    let numbers = [
        "9.571162814602269e-296",
        "2.54458609934608e+252",
        "3.7052266664574674e-271",
        "0.30000000000000004",
    ];
    let list = numbers.join(",");
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let definition = format!(
        r#"{{"name": "numbers", "trigger": {{"type": "endpoint"}}, "steps": [
            {{"type": "http", "name": "h", "method": "POST", "url": "https://example.com/x",
              "json": {{"values": [{list}]}}}}]}}"#
    );
    let r = send(
        "POST",
        &dev.url("/api/workflows"),
        &headers,
        Some(definition.as_bytes()),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let got = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    for n in numbers {
        assert!(r.text.contains(n), "{n}: {}", r.text);
        assert!(got.text.contains(n), "{n}: {}", got.text);
    }
    // What a webhook sends is kept as sent in its run's input, and given to steps so.
    let id = create_deployed(
        dev,
        &json!({"name": "numbers sent", "trigger": {"type": "endpoint"},
                "steps": [{"type": "log", "name": "said", "message": "{{request.body.values}}"}]}),
    );
    let body = format!(r#"{{"values": [{list}]}}"#);
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let run = wait_run(dev, &run_id, 30);
    let text = api(dev, "GET", &format!("/api/runs/{run_id}"), None).text;
    let said = run["steps"][0]["output"]["message"].as_str().unwrap();
    for n in numbers {
        assert!(
            text.contains(&format!("{n},")) || text.contains(&format!("{n}]")),
            "{n}: {text}"
        );
        assert!(said.contains(n), "{n}: {said}");
    }
}

#[test]
fn a_compressed_or_malformed_management_body_says_what_is_wrong() {
    let dev = shared();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        let mut all = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        all.extend_from_slice(headers);
        send("POST", &dev.url("/api/workflows"), &all, Some(body))
    };
    // Not decoded: a compressed body is refused at its header, not read as broken JSON.
    let r = post(
        &[("content-encoding", "gzip")],
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
    );
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.json()["errors"][0]["location"],
        "header.content-encoding",
        "{}",
        r.text
    );
    // A syntax error names its line and column once.
    let r = post(&[], b"{1: 2}");
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["errors"][0]["location"], "body", "{}", r.text);
    assert_eq!(
        r.json()["errors"][0]["message"],
        "is not valid JSON: key must be a string at line 1 column 2",
        "{}",
        r.text
    );
}

/// A key belongs to one workflow: of creates racing for it, one wins, and every other is a
/// `409` at `key` that names the workflow holding it.
#[test]
fn creates_racing_for_a_key_name_the_winner() {
    let dev = shared();
    let key = format!("race-{}", std::process::id());
    let def = |n: usize| {
        let mut d = endpoint_def(&format!("racer {n}"));
        d["key"] = json!(key);
        d
    };
    let answers: Vec<Resp> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..8)
            .map(|n| {
                let body = def(n);
                s.spawn(move || api(dev, "POST", "/api/workflows", Some(&body)))
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    let won: Vec<&Resp> = answers.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let winner = won[0].json()["id"].as_str().expect("id").to_string();
    for r in answers.iter().filter(|r| r.status != 201) {
        assert_problem(r, 409);
        assert_eq!(r.locations(), ["key"], "{}", r.text);
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("({winner})")),
            "{}",
            r.text
        );
    }
    let listed = api(dev, "GET", &format!("/api/workflows?key={key}"), None).json();
    assert_eq!(listed["workflows"][0]["id"], winner.as_str(), "{listed}");
}
