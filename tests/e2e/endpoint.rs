//! The API Endpoint trigger end to end against `wrangler dev`: production URL (methods, 404s,
//! schema validation, content types, limits), signatures, idempotency, Response steps, the test
//! URL with schema detection, and crash safety under load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::upstream::Upstream;
use crate::harness::*;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const GH_SECRET: &str = "It's a Secret to Everybody";
const SW_KEY: &[u8] = b"standard-webhooks-key-0123456789";
const STRIPE_SECRET: &str = "whsec_stripe_test_secret";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const HMAC_SECRET: &str = "plain-hmac-secret";

fn sw_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SW_KEY)
    )
}

/// One `wrangler dev` for this file, with the signing secrets set (as vars, which the Worker
/// reads like secrets). The rotated ones hold the new secret, and the old one in `…_PREVIOUS`.
fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        let sw = sw_secret();
        let sw_previous = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(b"the-old-standard-webhooks-key")
        );
        Dev::start(
            "endpoint",
            &[
                ("RUN_LEASE_SECONDS", "3"),
                ("GH_SECRET", GH_SECRET),
                ("SW_SECRET", &sw),
                ("SW_ROTATED", &sw),
                ("SW_ROTATED_PREVIOUS", &sw_previous),
                ("STRIPE_SECRET", STRIPE_SECRET),
                ("SLACK_SECRET", SLACK_SECRET),
                ("HMAC_SECRET", HMAC_SECRET),
                ("HMAC_ROTATED", "new-hmac-secret-0123"),
                ("HMAC_ROTATED_PREVIOUS", "old-hmac-secret-0123"),
                ("SHORT_ROTATED", "long-enough-secret-0123"),
                ("SHORT_ROTATED_PREVIOUS", "short"),
            ],
        )
    })
}

/// The requests on workflow `id`'s test shelf, newest first.
fn test_shelf(dev: &Dev, id: &str) -> Vec<Value> {
    let shelf = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    );
    assert_eq!(shelf.status, 200, "{}", shelf.text);
    shelf.json()["test_requests"]
        .as_array()
        .expect("test_requests")
        .clone()
}

/// The newest request on workflow `id`'s test shelf (`Null` when the shelf is empty).
fn newest_test_request(dev: &Dev, id: &str) -> Value {
    test_shelf(dev, id)
        .into_iter()
        .next()
        .unwrap_or(Value::Null)
}

fn hook(id: &str) -> String {
    dev().url(&format!("/hooks/{id}"))
}

fn endpoint(trigger: Value, steps: Value) -> Value {
    let mut t = json!({"type": "endpoint"});
    for (k, v) in trigger.as_object().unwrap() {
        t[k] = v.clone();
    }
    json!({"name": "endpoint test", "trigger": t, "steps": steps})
}

fn log_step() -> Value {
    json!([{"type": "log", "name": "note", "message": "got {{request.body}}"}])
}

fn post_json(url: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    send("POST", url, &h, Some(body.to_string().as_bytes()))
}

fn run_of(r: &Resp) -> String {
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json()["run_id"].as_str().expect("run_id").to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/runs/{id}").as_str())
    );
    id
}

/// How many runs a workflow has (every page of its run history). The shared instance is never
/// read with `wrangler d1 execute` while tests run: a second process on the SQLite file makes
/// the Worker's own writes fail with SQLITE_BUSY.
fn run_count(workflow_id: &str) -> usize {
    runs(dev(), workflow_id).len()
}

fn get_run(run_id: &str) -> Value {
    let r = api(dev(), "GET", &format!("/api/runs/{run_id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn assert_problem(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{}",
        r.text
    );
    let v = r.json();
    assert_eq!(v["status"], status);
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// Production URL: methods and 404s

#[test]
fn unknown_undeployed_and_other_workflows_are_404() {
    let dev = dev();
    let r = send("POST", &hook("wf_000000000000000000000000"), &[], None);
    assert_problem(&r, 404);
    let r = send("POST", &hook("nope"), &[], None);
    assert_problem(&r, 404);

    let id = create(dev, &endpoint(json!({}), log_step()));
    let r = send("POST", &hook(&id), &[], None);
    assert_problem(&r, 404);
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("not deployed"), "{detail}");
    assert!(
        detail.contains(&format!("/hooks/{id}/test")),
        "names the test URL: {detail}"
    );

    // Deployed: accepted. Undeployed again: 404 (at most the 2 s cache later).
    api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    run_of(&send("POST", &hook(&id), &[], None));
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    eventually(10, "undeploy reaches the endpoint", || {
        send("POST", &hook(&id), &[], None).status == 404
    });

    let sched = create_deployed(
        dev,
        &json!({"name": "s", "trigger": {"type": "schedule", "schedule": {"kind": "minutes", "every": 60}}}),
    );
    let r = send("POST", &hook(&sched), &[], None);
    assert_problem(&r, 404);
    assert!(r.json()["detail"].as_str().unwrap().contains("schedule"));
    assert_eq!(run_count(&sched), 0);
}

/// A well-formed workflow id no workflow has (random, so that no object knows it).
fn unknown_workflow_id() -> String {
    use sha2::Digest;
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let seed = format!(
        "{:?} {} {}",
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = Sha256::digest(seed.as_bytes());
    let mut random = [0u8; 15];
    random.copy_from_slice(&digest[..15]);
    tripline_core::kernel::ids::new_workflow_id(&random)
}

/// Requests for workflow ids that do not exist (anyone can send them, with random ids) cost no
/// D1 statement: every deployed workflow's object keeps its live version, so an object that was
/// never armed answers for a workflow that is not deployed. An object armed by a release before
/// objects kept their live version learns it from the catalog at the first request, once.
#[test]
fn unknown_workflow_ids_read_no_d1_and_an_earlier_release_s_object_learns_its_version_once() {
    // Its own instance: an object's storage is changed under it, and it is restarted.
    let mut dev = Dev::start("endpoint-live", &[]);
    let hook = |dev: &Dev, id: &str| dev.url(&format!("/hooks/{id}"));
    for _ in 0..3 {
        let unknown = unknown_workflow_id();
        let r = send("POST", &hook(&dev, &unknown), &[], None);
        assert_problem(&r, 404);
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains("no deployed workflow with id"), "{detail}");
        assert!(
            detail.contains(&format!("/hooks/{unknown}/test")),
            "{detail}"
        );
        assert_eq!(d1_statements_of(&dev, &unknown, "ingest"), 0);
        assert_eq!(d1_statements(&dev, &unknown), Default::default());
    }
    // A draft's object was never armed either: the same 404, naming its test URL.
    let draft = create(&dev, &endpoint(json!({}), log_step()));
    let r = send("POST", &hook(&dev, &draft), &[], None);
    assert_problem(&r, 404);
    assert!(
        r.text.contains(&format!("/hooks/{draft}/test")),
        "{}",
        r.text
    );
    assert_eq!(d1_statements(&dev, &draft).get("ingest"), None);

    // An object as an earlier release left it: armed (it knows its workflow), no live version.
    let id = create_deployed(&dev, &endpoint(json!({}), log_step()));
    run_of(&send("POST", &hook(&dev, &id), &[], None));
    dev.kill();
    dev.edit_object_storage(
        &id,
        "    done += db.execute(\"DELETE FROM _cf_KV WHERE key = 'live'\").rowcount",
        &[],
    );
    dev.spawn();
    let dev = &dev;
    // Its webhooks are accepted: the object reads its version from the catalog once (counted
    // for the workflow's API work), then answers from its storage.
    for _ in 0..3 {
        run_of(&send("POST", &hook(dev, &id), &[], None));
    }
    assert_eq!(d1_statements_of(dev, &id, "ingest"), 0);
    let learnt = d1_statements_of(dev, &id, "api");
    assert!(learnt >= 1, "{:?}", d1_statements(dev, &id));
    std::thread::sleep(Duration::from_millis(3_500));
    for _ in 0..3 {
        run_of(&send("POST", &hook(dev, &id), &[], None));
    }
    assert_eq!(d1_statements_of(dev, &id, "api"), learnt);
    assert_eq!(d1_statements_of(dev, &id, "ingest"), 0);
}

/// The test URL follows the draft as the workflow's object holds it, the copy with the newest
/// `updated_at`. So that two saves end with the same draft in D1 and in the object whatever
/// their clocks say, a save's `updated_at` is later than the one before it, even when that one
/// was stamped by a clock ahead of this one; an undeploy never moves it back. Whether a deploy
/// would change anything (`draft_changed`) compares the draft with the live version, so a stamp
/// ahead of the deploy's clock does not count as an edit.
#[test]
fn a_save_after_one_stamped_by_a_clock_ahead_is_still_newer() {
    // Its own instance: D1 is written under it.
    let dev = &Dev::start("endpoint-saves", &[("GH_SECRET", GH_SECRET)]);
    let plain = endpoint(json!({}), log_step());
    let id = create(dev, &plain);
    let ms = |v: &Value| {
        tripline_core::kernel::time::parse_millis(v.as_str().expect("updated_at")).unwrap()
    };
    // A save stamped by a clock two minutes ahead.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ahead = tripline_core::kernel::time::iso_millis(now + 120_000);
    dev.d1_write(&format!(
        "UPDATE workflows SET updated_at = '{ahead}' WHERE id = '{id}'"
    ));
    let signed = endpoint(
        json!({"verify": {"scheme": "github", "secret_env": "GH_SECRET"}}),
        log_step(),
    );
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&signed));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        ms(&r.json()["updated_at"]),
        ms(&json!(ahead)) + 1,
        "{}",
        r.text
    );
    // The object took that save: its test URL checks the signature the new draft asks for.
    let r = send("POST", &dev.url(&format!("/hooks/{id}/test")), &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    let got = &newest_test_request(dev, &id);
    assert_eq!(got["signature"]["valid"], false, "{got}");

    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&signed));
    assert_eq!(
        ms(&r.json()["updated_at"]),
        ms(&json!(ahead)) + 2,
        "{}",
        r.text
    );
    assert_eq!(r.json()["draft_changed"], false, "not deployed: {}", r.text);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    // Deployed before the stamp's time, and nothing to change.
    assert_eq!(r.json()["draft_changed"], false, "{}", r.text);
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&signed));
    assert_eq!(
        r.json()["draft_changed"],
        false,
        "the same draft: {}",
        r.text
    );
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&plain));
    assert_eq!(r.json()["draft_changed"], true, "{}", r.text);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.json()["status"], "draft", "{}", r.text);
    assert_eq!(r.json()["draft_changed"], false, "{}", r.text);
    assert_eq!(
        ms(&r.json()["updated_at"]),
        ms(&json!(ahead)) + 4,
        "{}",
        r.text
    );
}

#[test]
fn methods_default_to_post_and_others_get_405_with_allow() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    for m in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let r = send(m, &hook(&id), &[], None);
        assert_problem(&r, 405);
        assert_eq!(r.header("allow"), Some("POST"), "{m}");
    }
    run_of(&send("POST", &hook(&id), &[], None));

    let id = create_deployed(dev, &endpoint(json!({"method": ["get", "PUT"]}), json!([])));
    // Methods the platform's Rust crate does not know (it reads them as GET) are refused too.
    for m in ["POST", "OPTIONS", "PROPFIND", "QUERY"] {
        let r = send(m, &hook(&id), &[], None);
        assert_problem(&r, 405);
        assert_eq!(r.header("allow"), Some("GET, PUT"), "{m}");
    }
    let a = run_of(&send("GET", &hook(&id), &[], None));
    let b = run_of(&send("PUT", &hook(&id), &[], Some(b"x")));
    assert_eq!(get_run(&a)["input"]["request"]["method"], "GET");
    assert_eq!(get_run(&b)["input"]["request"]["method"], "PUT");
    assert_eq!(run_count(&id), 2);
    // The test URL takes every method but OPTIONS and the unknown, and says so.
    for m in ["OPTIONS", "QUERY"] {
        let r = send(m, &format!("{}/test", hook(&id)), &[], None);
        assert_problem(&r, 405);
        assert_eq!(
            r.header("allow"),
            Some("GET, POST, PUT, PATCH, DELETE, HEAD"),
            "{m}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Accepted runs

#[test]
fn a_valid_request_is_recorded_and_executed() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), log_step()));
    let r = post_json(
        &format!("{}?source=web&tag=a&tag=b", hook(&id)),
        &json!({"email": "a@b.c"}),
        &[("authorization", "Bearer top-secret"), ("x-tenant", "acme")],
    );
    let run_id = run_of(&r);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The run is there as soon as the 202 is.
    let listed = runs(dev, &id);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], run_id.as_str());
    assert_eq!(listed[0]["version"], 1);
    assert_eq!(listed[0]["trigger"], "endpoint");
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let req = &run["input"]["request"];
    assert_eq!(req["method"], "POST");
    assert_eq!(req["path"], format!("/hooks/{id}"));
    assert_eq!(req["query"], json!({"source": "web", "tag": ["a", "b"]}));
    assert_eq!(req["headers"]["x-tenant"], "acme");
    assert_eq!(req["headers"]["authorization"], "[redacted]");
    assert_eq!(req["body"], json!({"email": "a@b.c"}));
    assert_eq!(run["steps"][0]["name"], "note");
    assert_eq!(run["steps"][0]["status"], "succeeded");
}

#[test]
fn a_workflow_without_steps_is_recorded_finished() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    let run_id = run_of(&post_json(&hook(&id), &json!({"a": 1}), &[]));
    let run = get_run(&run_id);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["steps"], json!([]));
    assert!(run["finished_at"].is_string());
    assert_eq!(run["input"]["request"]["body"], json!({"a": 1}));
}

// ---------------------------------------------------------------------------------------------
// Validation: every rule, all violations at once

#[test]
fn query_rules() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"request": {"query": [
                {"name": "source", "required": true, "enum": ["web", "partner"]},
                {"name": "count", "type": "integer"},
                {"name": "ratio", "type": "number"},
                {"name": "dry", "type": "boolean"},
                {"name": "token", "equals": "q-secret-value"}
            ]}}),
            json!([]),
        ),
    );
    let ok = send(
        "POST",
        &format!(
            "{}?source=web&count=3&ratio=-1.5&dry=true&token=q-secret-value",
            hook(&id)
        ),
        &[],
        None,
    );
    // A gate's value (`equals`) is a shared secret: the run keeps `[redacted]`.
    let run = api(dev, "GET", &format!("/api/runs/{}", run_of(&ok)), None).json();
    let query = &run["input"]["request"]["query"];
    assert_eq!(query["token"], "[redacted]", "{run}");
    assert_eq!(query["source"], "web", "{run}");
    assert!(!run.to_string().contains("q-secret-value"), "{run}");
    let bad = send(
        "POST",
        &format!(
            "{}?source=mail&count=3.5&ratio=x&dry=maybe&token=q-secret-value",
            hook(&id)
        ),
        &[],
        None,
    );
    assert_problem(&bad, 400);
    assert_eq!(
        sorted(bad.locations()),
        sorted(vec![
            "query.source".into(),
            "query.count".into(),
            "query.ratio".into(),
            "query.dry".into(),
        ])
    );
    assert!(
        !bad.text.contains("q-secret-value"),
        "equals values are never echoed"
    );
    assert_eq!(bad.json()["type"], "urn:tripline:problem:validation");
    // A request that fails the gate (`equals`) is told only that: nothing of the other rules.
    let gated = send(
        "POST",
        &format!(
            "{}?source=mail&count=3.5&ratio=x&dry=maybe&token=wrong",
            hook(&id)
        ),
        &[],
        None,
    );
    assert_problem(&gated, 400);
    assert_eq!(gated.locations(), ["query.token"]);
    assert!(!gated.text.contains("web"), "{}", gated.text);
    // `token` has `equals`, so it is required too, and its absence is told like a wrong value.
    let missing = send("POST", &hook(&id), &[], None);
    assert_problem(&missing, 400);
    assert_eq!(missing.locations(), ["query.token"]);
    assert_eq!(
        missing.json()["errors"][0]["message"],
        "must equal the configured value"
    );
    // A value that is not UTF-8 once percent-decoded (a Latin-1 client's `é`) is refused
    // rather than stored changed (U+FFFD), as in a form body.
    let latin1 = send(
        "POST",
        &format!("{}?source=Jos%E9&token=q-secret-value", hook(&id)),
        &[],
        None,
    );
    assert_problem(&latin1, 400);
    assert_eq!(latin1.locations(), ["query.source"]);
    assert_eq!(
        latin1.json()["errors"][0]["message"],
        "is not valid UTF-8 once percent-decoded"
    );
    assert_eq!(run_count(&id), 1, "rejected requests create no run");
}

#[test]
fn header_rules_ignore_case() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"request": {"headers": [
                {"name": "X-Api-Key", "equals": "h-secret-value"},
                {"name": "x-tenant", "required": true}
            ]}}),
            json!([]),
        ),
    );
    let run = run_of(&send(
        "POST",
        &hook(&id),
        &[("x-api-key", "h-secret-value"), ("X-TENANT", "acme")],
        None,
    ));
    // A gate's value is kept neither in the run nor on the test shelf.
    let run = api(dev, "GET", &format!("/api/runs/{run}"), None).json();
    let headers = &run["input"]["request"]["headers"];
    assert_eq!(headers["x-api-key"], "[redacted]", "{run}");
    assert_eq!(headers["x-tenant"], "acme", "{run}");
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}/test")),
        &[("x-api-key", "h-secret-value"), ("x-tenant", "acme")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let shelf = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    );
    assert!(!shelf.text.contains("h-secret-value"), "{}", shelf.text);
    assert!(shelf.text.contains("acme"), "{}", shelf.text);
    // `equals` makes a header required (the rule is a gate): leaving it out is answered
    // exactly like a wrong value, so the answer does not tell the two apart.
    let absent = send("POST", &hook(&id), &[("x-tenant", "acme")], None);
    assert_problem(&absent, 400);
    assert_eq!(absent.locations(), ["header.x-api-key"]);
    let wrong = send(
        "POST",
        &hook(&id),
        &[("x-api-key", "nope"), ("x-tenant", "acme")],
        None,
    );
    assert_problem(&wrong, 400);
    assert_eq!(absent.json()["errors"], wrong.json()["errors"]);
    assert_eq!(
        absent.json()["errors"][0]["message"],
        "must equal the configured value"
    );
    // Failing the gate, a request is told nothing of the other rules (`x-tenant` is required);
    // passing it, it is.
    let bad = send("POST", &hook(&id), &[("X-API-KEY", "nope")], None);
    assert_problem(&bad, 400);
    assert_eq!(bad.locations(), ["header.x-api-key"]);
    let untenanted = send("POST", &hook(&id), &[("X-API-KEY", "h-secret-value")], None);
    assert_problem(&untenanted, 400);
    assert_eq!(untenanted.locations(), ["header.x-tenant"]);
    for r in [&absent, &wrong, &bad] {
        assert!(!r.text.contains("h-secret-value"));
    }
    assert_eq!(run_count(&id), 1, "rejected requests create no run");
}

#[test]
fn body_rules_with_paths_and_arrays() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"request": {"body": [
                {"name": "email", "type": "string", "required": true},
                {"name": "age", "type": "integer"},
                {"name": "kind", "enum": ["lead", "customer"]},
                {"name": "vip", "type": "boolean"},
                {"name": "address.city", "type": "string", "required": true},
                {"name": "items", "type": "array", "required": true},
                {"name": "items[].sku", "type": "string", "required": true},
                {"name": "items[].qty", "type": "integer"},
                {"name": "meta", "type": "object"}
            ]}}),
            json!([]),
        ),
    );
    let good = json!({"email": "a@b.c", "age": 30, "kind": "lead", "vip": false,
        "address": {"city": "Paris"}, "items": [{"sku": "A", "qty": 1}, {"sku": "B"}], "meta": {}});
    run_of(&post_json(&hook(&id), &good, &[]));
    let bad = json!({"age": "thirty", "kind": "other", "vip": "yes", "address": {},
        "items": [{"sku": "A", "qty": 1}, {"qty": 1.5}, {"sku": 3}], "meta": []});
    let r = post_json(&hook(&id), &bad, &[]);
    assert_problem(&r, 400);
    assert_eq!(
        sorted(r.locations()),
        sorted(
            [
                "body.email",
                "body.age",
                "body.kind",
                "body.vip",
                "body.address.city",
                "body.items[1].sku",
                "body.items[1].qty",
                "body.items[2].sku",
                "body.meta"
            ]
            .map(String::from)
            .to_vec()
        ),
        "{}",
        r.text
    );
    for e in r.json()["errors"].as_array().unwrap() {
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    // A body that is not an object fails the required fields.
    let r = post_json(&hook(&id), &json!([1, 2]), &[]);
    assert_problem(&r, 400);
    assert!(r.locations().iter().all(|l| l.starts_with("body")));
    assert_eq!(run_count(&id), 1);
}

#[test]
fn random_bodies_are_accepted_or_rejected_with_locations() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"request": {"body": [
                {"name": "a", "type": "integer", "required": true},
                {"name": "b.c", "type": "string"},
                {"name": "items[].x", "enum": [1, "one", true]},
                {"name": "m[][]", "type": "number"}
            ]}}),
            json!([]),
        ),
    );
    // A small deterministic generator: no dependency, same cases every run.
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    fn value(next: &mut dyn FnMut() -> u64, depth: u32) -> Value {
        let keys = ["a", "b", "c", "items", "m", "x"];
        match next() % if depth > 3 { 5 } else { 7 } {
            0 => Value::Null,
            1 => json!(next().is_multiple_of(2)),
            2 => json!((next() % 200) as i64 - 100),
            3 => json!((next() % 1000) as f64 / 7.0),
            4 => json!(["one", "x", "1"][(next() % 3) as usize]),
            5 => Value::Array((0..next() % 4).map(|_| value(next, depth + 1)).collect()),
            _ => Value::Object(
                (0..next() % 5)
                    .map(|_| {
                        (
                            keys[(next() % keys.len() as u64) as usize].to_string(),
                            value(next, depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }
    let (mut accepted, mut rejected) = (0, 0);
    for _ in 0..60 {
        let body = value(&mut next, 0);
        let r = post_json(&hook(&id), &body, &[]);
        match r.status {
            202 => accepted += 1,
            400 => {
                rejected += 1;
                let locs = r.locations();
                assert!(!locs.is_empty(), "{body} → {}", r.text);
                assert!(
                    locs.iter().all(|l| l.starts_with("body")),
                    "{body} → {locs:?}"
                );
            }
            other => panic!("{body} → {other} {}", r.text),
        }
    }
    assert!(rejected > 0, "the generator should produce invalid bodies");
    assert_eq!(run_count(&id), accepted);
}

// ---------------------------------------------------------------------------------------------
// Content types and limits

#[test]
fn urlencoded_bodies() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"request": {"body": [
                {"name": "email", "type": "string", "required": true},
                {"name": "age", "type": "integer"}
            ]}}),
            json!([]),
        ),
    );
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let r = send(
        "POST",
        &hook(&id),
        &ct,
        Some(b"email=a%40b.c&age=42&tag=x&tag=y&name=J+D"),
    );
    let run = get_run(&run_of(&r));
    assert_eq!(
        run["input"]["request"]["body"],
        json!({"email": "a@b.c", "age": "42", "tag": ["x", "y"], "name": "J D"})
    );
    let r = send("POST", &hook(&id), &ct, Some(b"age=old"));
    assert_problem(&r, 400);
    assert_eq!(
        sorted(r.locations()),
        vec!["body.age".to_string(), "body.email".to_string()]
    );
}

#[test]
fn multipart_bodies_record_files_without_content() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"request": {"body": [
                {"name": "title", "type": "string", "required": true},
                {"name": "count", "type": "integer", "required": true},
                {"name": "upload", "type": "object", "required": true}
            ]}}),
            json!([]),
        ),
    );
    let file = "FILE-CONTENT-MUST-NOT-BE-STORED ".repeat(10);
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nReport\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\n7\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n\
         --XyZ--\r\n"
    );
    let ct = [("content-type", "multipart/form-data; boundary=XyZ")];
    let r = send("POST", &hook(&id), &ct, Some(body.as_bytes()));
    let run_id = run_of(&r);
    let run = get_run(&run_id);
    let b = &run["input"]["request"]["body"];
    assert_eq!(b["title"], "Report");
    assert_eq!(b["count"], "7");
    assert_eq!(b["upload"]["filename"], "r.csv");
    assert_eq!(b["upload"]["content_type"], "text/csv");
    assert_eq!(b["upload"]["size"], file.len());
    let stored = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
    assert!(!stored.text.contains("FILE-CONTENT"));

    let missing =
        "--XyZ\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\nseven\r\n--XyZ--\r\n";
    let r = send("POST", &hook(&id), &ct, Some(missing.as_bytes()));
    assert_problem(&r, 400);
    assert_eq!(
        sorted(r.locations()),
        sorted(vec![
            "body.title".into(),
            "body.count".into(),
            "body.upload".into()
        ])
    );
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "multipart/form-data")],
        Some(b"x"),
    );
    assert_problem(&r, 400);
    assert_eq!(r.locations(), ["body"]);
}

/// A multipart form is held to the JSON value budget: a file part counts four values (its
/// object and three members), so 50 001 empty file parts are a 413, not 200 004 values.
#[test]
fn multipart_parts_count_against_the_value_budget() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(json!({"max_body_bytes": 10 * 1024 * 1024}), json!([])),
    );
    let part = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n\r\n";
    let ct = [("content-type", "multipart/form-data; boundary=XyZ")];
    let body = |parts: usize| format!("{}--XyZ--\r\n", part.repeat(parts));
    let r = send("POST", &hook(&id), &ct, Some(body(50_001).as_bytes()));
    assert_problem(&r, 413);
    assert_eq!(r.locations(), ["body"]);
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("more than 200000 values"), "{detail}");
    assert_eq!(run_count(&id), 0);
    // At the limit it is read.
    run_of(&send(
        "POST",
        &hook(&id),
        &ct,
        Some(body(50_000).as_bytes()),
    ));
}

#[test]
fn text_json_and_unsupported_bodies() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "text/plain; charset=utf-8")],
        Some("héllo".as_bytes()),
    );
    assert_eq!(
        get_run(&run_of(&r))["input"]["request"]["body"],
        json!("héllo")
    );
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "application/vnd.api+json")],
        Some(br#"{"data": {"id": "1"}}"#),
    );
    assert_eq!(
        get_run(&run_of(&r))["input"]["request"]["body"],
        json!({"data": {"id": "1"}})
    );
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "application/json")],
        Some(b"{\"a\": \n  nope}"),
    );
    assert_problem(&r, 400);
    assert_eq!(r.locations(), ["body"]);
    assert!(r.text.contains("line 2"), "{}", r.text);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("body: invalid JSON at line 2"),
        "{}",
        r.text
    );
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "application/octet-stream")],
        Some(&[0, 1, 2]),
    );
    assert_problem(&r, 415);
    assert_eq!(r.locations(), ["header.content-type"]);
    // A compressed body is not decoded: said at its encoding, not as invalid JSON; nor is
    // one marked compressed that is not taken as it stands.
    let before = run_count(&id);
    for (encoding, body) in [
        ("gzip", &[0x1f_u8, 0x8b, 8, 0, 0, 0, 0, 0][..]),
        ("br", &b"{\"a\": 1}"[..]),
    ] {
        let r = send(
            "POST",
            &hook(&id),
            &[
                ("content-type", "application/json"),
                ("content-encoding", encoding),
            ],
            Some(body),
        );
        assert_problem(&r, 415);
        assert_eq!(r.locations(), ["header.content-encoding"], "{}", r.text);
        assert!(
            r.text.contains(&format!("`{encoding}` is not decoded")),
            "{}",
            r.text
        );
    }
    assert_eq!(run_count(&id), before);
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "text/plain")],
        Some(&[0xff, 0xfe]),
    );
    assert_problem(&r, 400);
    // A string cut inside an emoji by the sender (JavaScript writes half a pair as `\ud83d`) is
    // accepted, the half character shown as U+FFFD, with a Content-Type and without one.
    for ct in [Some("application/json"), None] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
        let r = send(
            "POST",
            &hook(&id),
            &headers,
            Some(br#"{"text": "hi \ud83d", "whole": "\ud83d\ude00"}"#),
        );
        assert_eq!(r.status, 202, "{ct:?}: {}", r.text);
        assert_eq!(
            get_run(&run_of(&r))["input"]["request"]["body"],
            json!({"text": "hi \u{FFFD}", "whole": "\u{1F600}"})
        );
    }
    assert_eq!(run_count(&id), 4);
}

#[test]
fn bodies_over_the_cap_are_413() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    let ct = [("content-type", "text/plain")];
    let big = vec![b'a'; 1024 * 1024 + 1];
    assert_problem(&send("POST", &hook(&id), &ct, Some(&big)), 413);
    run_of(&send("POST", &hook(&id), &ct, Some(&big[..1024 * 1024])));

    let small = create_deployed(dev, &endpoint(json!({"max_body_bytes": 100}), json!([])));
    let r = send("POST", &hook(&small), &ct, Some(&[b'a'; 101]));
    assert_problem(&r, 413);
    assert!(r.json()["detail"].as_str().unwrap().contains("100"));
    assert_eq!(r.locations(), ["body"], "{}", r.text);
    run_of(&send("POST", &hook(&small), &ct, Some(&[b'a'; 100])));

    // Without a Content-Length (chunked), the cap holds while reading.
    let chunked = |url: &str, len: usize| -> u16 {
        let body = vec![b'a'; len];
        // A fresh connection each time: after an early 413 the connection is not reused.
        match ureq::AgentBuilder::new()
            .build()
            .post(url)
            .set("content-type", "text/plain")
            .send(std::io::Cursor::new(body))
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(chunked(&hook(&small), 101), 413);
    assert_eq!(chunked(&hook(&small), 100), 202);
    assert_eq!(chunked(&hook(&id), 1024 * 1024 + 1), 413);

    let large = create_deployed(
        dev,
        &endpoint(json!({"max_body_bytes": 3 * 1024 * 1024}), json!([])),
    );
    run_of(&send(
        "POST",
        &hook(&large),
        &ct,
        Some(&vec![b'a'; 2 * 1024 * 1024]),
    ));
    assert_eq!(run_count(&id) + run_count(&small) + run_count(&large), 4);
}

#[test]
fn large_bodies_are_kept_out_of_the_run_row_and_put_back() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"max_body_bytes": 5 * 1024 * 1024}),
            json!([{"type": "log", "name": "peek", "message": "k={{request.body.k}}"}]),
        ),
    );
    let pad = "é".repeat(1024 * 1024); // 2 MiB of UTF-8: 3 pieces of at most 1 MB
    let body = json!({"k": "v", "pad": pad});
    let r = post_json(&hook(&id), &body, &[("idempotency-key", "big-1")]);
    let run_id = run_of(&r);
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["output"]["message"], "k=v");
    assert_eq!(run["input"]["request"]["body"], body);
    assert_eq!(run["input"]["request"].get("body_pieces"), None);
    // The history list shows where the body went instead of carrying megabytes per run.
    let listed = runs(dev, &id);
    assert_eq!(listed[0]["input"]["request"]["body_pieces"], 3);
    // A repeat writes nothing.
    let again = post_json(&hook(&id), &body, &[("idempotency-key", "big-1")]);
    assert_eq!(run_of(&again), run_id);
    assert_eq!(run_count(&id), 1);
    assert_eq!(get_run(&run_id)["input"]["request"]["body"], body);

    // A replay of the run keeps the body whole too (it is stored in pieces the same way).
    let r = api(dev, "POST", &format!("/api/runs/{run_id}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let replay = wait_run(dev, &run_of(&r), 60);
    assert_eq!(replay["status"], "succeeded", "{replay}");
    assert_eq!(replay["steps"][0]["output"]["message"], "k=v");
    assert_eq!(replay["input"]["request"]["body"], body);

    // A body just under the limit for keeping it in the row is kept whole as well, whichever
    // side of that limit its input falls: none of an accepted request is cut.
    for size in [780 * 1024, 900 * 1024] {
        let body = json!({"k": "w", "pad": "a".repeat(size)});
        let run_id = run_of(&post_json(&hook(&id), &body, &[]));
        let run = wait_run(dev, &run_id, 60);
        assert_eq!(run["status"], "succeeded", "{size}: {run}");
        assert_eq!(run["steps"][0]["output"]["message"], "k=w");
        assert_eq!(run["input"]["request"]["body"], body, "{size}");
    }

    // A body whose JSON form is too large (each control character is written as six bytes,
    // `\u0001`: 12 MiB at most, whose copies while the run is recorded fit the isolate's memory)
    // is refused with a 413 at `body` before a run is built, and no run is made.
    let before = run_count(&id);
    for size in [5 * 1024 * 1024 - 1024, 2_200_000] {
        let r = send(
            "POST",
            &hook(&id),
            &[("content-type", "text/plain")],
            Some(&vec![1u8; size]),
        );
        assert_problem(&r, 413);
        assert_eq!(r.locations(), ["body"], "{}", r.text);
        assert!(r.text.contains("written as JSON"), "{}", r.text);
    }
    assert_eq!(run_count(&id), before);
    // Under the bound it is taken, and kept whole.
    let r = send(
        "POST",
        &hook(&id),
        &[("content-type", "text/plain")],
        Some(&vec![1u8; 2_000_000]),
    );
    let run = wait_run(dev, &run_of(&r), 60);
    assert_eq!(
        run["input"]["request"]["body"].as_str().map(str::len),
        Some(2_000_000)
    );
}

// ---------------------------------------------------------------------------------------------
// Signatures

fn hmac_bytes(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signature_failures(id: &str) -> u64 {
    let r = api(dev(), "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["endpoint"]["signature_failures"].as_u64().unwrap()
}

/// Signs `body` the way `scheme`'s senders do; returns the headers to send.
fn sign(scheme: &str, key: &[u8], body: &[u8], ts: i64, msg_id: &str) -> Vec<(String, String)> {
    let t = ts.to_string();
    let h = |k: &str, v: String| (k.to_string(), v);
    match scheme {
        "standard-webhooks" => {
            let mac = hmac_bytes(key, &[msg_id.as_bytes(), b".", t.as_bytes(), b".", body]);
            vec![
                h("webhook-id", msg_id.to_string()),
                h("webhook-timestamp", t),
                h(
                    "webhook-signature",
                    format!(
                        "v1,{}",
                        base64::engine::general_purpose::STANDARD.encode(mac)
                    ),
                ),
            ]
        }
        "github" => vec![
            h(
                "x-hub-signature-256",
                format!("sha256={}", hex(&hmac_bytes(key, &[body]))),
            ),
            h("x-github-delivery", msg_id.to_string()),
            // GitHub's SHA-1 signature, sent alongside: not checked (its value here is not
            // one), but a run keeps it no more than the other.
            h(
                "x-hub-signature",
                format!("sha1={}", &hex(&hmac_bytes(key, &[body]))[..40]),
            ),
        ],
        "stripe" => vec![h(
            "stripe-signature",
            format!(
                "t={t},v1={}",
                hex(&hmac_bytes(key, &[t.as_bytes(), b".", body]))
            ),
        )],
        "slack" => vec![
            h("x-slack-request-timestamp", t.clone()),
            h(
                "x-slack-signature",
                format!(
                    "v0={}",
                    hex(&hmac_bytes(key, &[b"v0:", t.as_bytes(), b":", body]))
                ),
            ),
        ],
        "hmac-sha256" => vec![h("x-signature", hex(&hmac_bytes(key, &[body])))],
        other => panic!("{other}"),
    }
}

fn send_signed(url: &str, headers: &[(String, String)], body: &[u8]) -> Resp {
    let mut h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.push(("content-type", "application/json"));
    send("POST", url, &h, Some(body))
}

#[test]
fn every_signature_scheme_accepts_valid_and_rejects_the_rest() {
    let dev = dev();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "standard-webhooks",
            "SW_SECRET",
            SW_KEY.to_vec(),
            "header.webhook-signature",
        ),
        (
            "github",
            "GH_SECRET",
            GH_SECRET.as_bytes().to_vec(),
            "header.x-hub-signature-256",
        ),
        (
            "stripe",
            "STRIPE_SECRET",
            STRIPE_SECRET.as_bytes().to_vec(),
            "header.stripe-signature",
        ),
        (
            "slack",
            "SLACK_SECRET",
            SLACK_SECRET.as_bytes().to_vec(),
            "header.x-slack-signature",
        ),
        (
            "hmac-sha256",
            "HMAC_SECRET",
            HMAC_SECRET.as_bytes().to_vec(),
            "header.x-signature",
        ),
    ];
    for (scheme, env, key, sig_location) in cases {
        let id = create_deployed(
            dev,
            &endpoint(
                json!({"verify": {"scheme": scheme, "secret_env": env},
                       "request": {"body": [{"name": "amount", "type": "integer", "required": true}]}}),
                json!([]),
            ),
        );
        let url = hook(&id);
        let mut n = 0;
        let mut body_for = |amount: i64| {
            n += 1;
            json!({"id": format!("evt_{scheme}_{n}"), "amount": amount})
                .to_string()
                .into_bytes()
        };

        // Valid.
        let body = body_for(5);
        let ok = send_signed(
            &url,
            &sign(scheme, &key, &body, now_unix(), &format!("msg_{scheme}_1")),
            &body,
        );
        let run_id = run_of(&ok);
        // The signature is checked before the schema, and a signed request still must fit it.
        let body = body_for(-1);
        let unfit = json!({"id": "evt_unfit", "amount": "x"})
            .to_string()
            .into_bytes();
        let r = send_signed(
            &url,
            &sign(scheme, &key, &unfit, now_unix(), "msg_unfit"),
            &unfit,
        );
        assert_problem(&r, 400);
        assert_eq!(r.locations(), ["body.amount"], "{scheme}");

        // Tampered body: signed one thing, sent another.
        let tampered = body_for(500);
        let r = send_signed(
            &url,
            &sign(scheme, &key, &body, now_unix(), "msg_t"),
            &tampered,
        );
        assert_problem(&r, 401);
        assert_eq!(r.locations(), [sig_location], "{scheme}: {}", r.text);
        assert!(r.header("www-authenticate").is_some());

        // Wrong secret.
        let body = body_for(6);
        let r = send_signed(
            &url,
            &sign(scheme, b"not-the-secret", &body, now_unix(), "msg_w"),
            &body,
        );
        assert_problem(&r, 401);
        assert_eq!(r.locations(), [sig_location], "{scheme}");

        // Missing signature.
        let r = send_signed(&url, &[], &body);
        assert_problem(&r, 401);

        // Stale (and future) timestamps, for the schemes that sign one.
        let mut failures = 3;
        if ["standard-webhooks", "stripe", "slack"].contains(&scheme) {
            for ts in [now_unix() - 3600, now_unix() + 3600] {
                let r = send_signed(&url, &sign(scheme, &key, &body, ts, "msg_s"), &body);
                assert_problem(&r, 401);
                assert!(
                    r.json()["detail"].as_str().unwrap().contains("seconds"),
                    "{scheme}: {}",
                    r.text
                );
                failures += 1;
            }
        }
        assert_eq!(
            run_count(&id),
            1,
            "{scheme}: only the valid request made a run"
        );
        assert_eq!(signature_failures(&id), failures, "{scheme}");
        let run = get_run(&run_id);
        assert_eq!(run["status"], "succeeded");
        // The run keeps no signature: with the body, one over no timestamp would be a valid
        // request again once the run had expired.
        let stored = &run["input"]["request"]["headers"];
        let signature = sig_location.trim_start_matches("header.");
        assert_eq!(stored[signature], "[redacted]", "{scheme}: {stored}");
        if scheme == "github" {
            assert_eq!(stored["x-hub-signature"], "[redacted]", "{stored}");
        }
        assert_eq!(stored["content-type"], "application/json", "{scheme}");
    }
}

#[test]
fn rotated_secrets_accept_old_and_new_keys() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "hmac-sha256", "secret_env": "HMAC_ROTATED"}}),
            json!([]),
        ),
    );
    for (i, key) in ["old-hmac-secret-0123", "new-hmac-secret-0123"]
        .iter()
        .enumerate()
    {
        let body = format!("{{\"n\": {i}}}").into_bytes();
        run_of(&send_signed(
            &hook(&id),
            &sign("hmac-sha256", key.as_bytes(), &body, 0, ""),
            &body,
        ));
    }
    let body = b"{}".to_vec();
    let r = send_signed(
        &hook(&id),
        &sign("hmac-sha256", b"older-hmac-secret-0123", &body, 0, ""),
        &body,
    );
    assert_problem(&r, 401);

    // Standard Webhooks: our two secrets, and a sender sending two signatures while rotating.
    let sw = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "standard-webhooks", "secret_env": "SW_ROTATED"}}),
            json!([]),
        ),
    );
    let body = b"{\"k\": 1}".to_vec();
    let old = sign(
        "standard-webhooks",
        b"the-old-standard-webhooks-key",
        &body,
        now_unix(),
        "msg_old",
    );
    run_of(&send_signed(&hook(&sw), &old, &body));
    let new = sign("standard-webhooks", SW_KEY, &body, now_unix(), "msg_new");
    run_of(&send_signed(&hook(&sw), &new, &body));
    let mut both = sign(
        "standard-webhooks",
        b"unknown-key",
        &body,
        now_unix(),
        "msg_both",
    );
    let good = sign("standard-webhooks", SW_KEY, &body, now_unix(), "msg_both");
    both[2].1 = format!("{} {}", both[2].1, good[2].1);
    run_of(&send_signed(&hook(&sw), &both, &body));
    assert_eq!(run_count(&id), 2);
    assert_eq!(run_count(&sw), 3);
}

/// A secret is used whole: a word of GitHub's example secret is not a key; and a rotation with a
/// secret under 16 bytes is refused at deploy, naming the secret.
#[test]
fn secrets_are_never_split_and_short_rotations_are_refused_at_deploy() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "github", "secret_env": "GH_SECRET"}}),
            json!([]),
        ),
    );
    let body = b"{\"hello\": 1}".to_vec();
    for word in ["a", "Secret", "Everybody"] {
        let r = send_signed(
            &hook(&id),
            &sign("github", word.as_bytes(), &body, 0, "d-word"),
            &body,
        );
        assert_problem(&r, 401);
    }
    run_of(&send_signed(
        &hook(&id),
        &sign("github", GH_SECRET.as_bytes(), &body, 0, "d-whole"),
        &body,
    ));
    assert_eq!(run_count(&id), 1);

    let short = create(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "hmac-sha256", "secret_env": "SHORT_ROTATED"}}),
            json!([]),
        ),
    );
    let r = api(dev, "POST", &format!("/api/workflows/{short}/deploy"), None);
    assert_problem(&r, 400);
    let errors = r.json()["errors"].clone();
    assert_eq!(
        errors[0]["location"], "trigger.verify.secret_env",
        "{errors}"
    );
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("SHORT_ROTATED"));
}

/// For schemes whose signature covers no message id (github, hmac-sha256, slack), an exact
/// replay of a captured request with a fresh delivery id or Idempotency-Key is the same run.
#[test]
fn replays_with_fresh_unsigned_headers_make_no_second_run() {
    let dev = dev();
    for (scheme, env, key) in [
        ("github", "GH_SECRET", GH_SECRET.as_bytes()),
        ("hmac-sha256", "HMAC_SECRET", HMAC_SECRET.as_bytes()),
        ("slack", "SLACK_SECRET", SLACK_SECRET.as_bytes()),
    ] {
        let id = create_deployed(
            dev,
            &endpoint(
                json!({"verify": {"scheme": scheme, "secret_env": env}}),
                json!([]),
            ),
        );
        let body = format!("{{\"replay\": \"{scheme}\"}}").into_bytes();
        let captured = sign(scheme, key, &body, now_unix(), "delivery-1");
        let first = run_of(&send_signed(&hook(&id), &captured, &body));
        for fresh in ["delivery-2", "delivery-3"] {
            let mut replay = captured.clone();
            for (k, v) in replay.iter_mut() {
                if k == "x-github-delivery" {
                    *v = fresh.to_string();
                }
            }
            replay.push(("idempotency-key".to_string(), fresh.to_string()));
            let r = send_signed(&hook(&id), &replay, &body);
            assert_eq!(run_of(&r), first, "{scheme}: a replay is the same run");
            assert_eq!(r.header("idempotent-replayed"), Some("true"), "{scheme}");
        }
        assert_eq!(run_count(&id), 1, "{scheme}");
    }
}

/// Slack signs each retry of an Events API callback again, with a new timestamp (and an
/// `X-Slack-Retry-Num`): its signed `event_id` makes the retry a repeat of the first run.
#[test]
fn a_slack_event_retry_signed_again_is_the_same_run() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "slack", "secret_env": "SLACK_SECRET"}}),
            json!([]),
        ),
    );
    let body =
        br#"{"type":"event_callback","event_id":"Ev0RETRY1","event":{"type":"app_mention"}}"#;
    let now = now_unix();
    let first = run_of(&send_signed(
        &hook(&id),
        &sign("slack", SLACK_SECRET.as_bytes(), body, now - 60, ""),
        body,
    ));
    let mut retry = sign("slack", SLACK_SECRET.as_bytes(), body, now, "");
    retry.push(("x-slack-retry-num".into(), "1".into()));
    let r = send_signed(&hook(&id), &retry, body);
    assert_eq!(run_of(&r), first);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(run_count(&id), 1);
}

/// A missing signing secret is a 503 that does not name it to the caller (anyone); the
/// Worker's log names it.
#[test]
fn a_missing_signing_secret_is_503_without_naming_it() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "github", "secret_env": "NOT_SET_ANYWHERE"}}),
            json!([]),
        ),
    );
    let body = b"{}".to_vec();
    let r = send_signed(&hook(&id), &sign("github", b"x", &body, 0, "d"), &body);
    assert_problem(&r, 503);
    assert_eq!(r.json()["title"], "Signing secret not configured");
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("verifies `github` signatures"));
    assert!(!r.text.contains("NOT_SET_ANYWHERE"), "{}", r.text);
    assert_eq!(r.json()["secret_env"], Value::Null);
    // The log names the secret for the administrator, once however many requests meet it.
    for _ in 0..4 {
        let r = send_signed(&hook(&id), &sign("github", b"x", &body, 0, "d"), &body);
        assert_problem(&r, 503);
    }
    let line = format!("workflow {id}: ");
    eventually(20, "the log names the missing secret", || {
        dev.logs()
            .lines()
            .any(|l| l.contains(&line) && l.contains("NOT_SET_ANYWHERE"))
    });
    let logged = dev.logs().lines().filter(|l| l.contains(&line)).count();
    assert_eq!(logged, 1, "{}", dev.logs());
    assert_eq!(run_count(&id), 0);
}

// ---------------------------------------------------------------------------------------------
// Idempotency

#[test]
fn a_repeated_idempotency_key_returns_the_original_run() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), log_step()));
    let body = json!({"order": 1});
    let first = post_json(&hook(&id), &body, &[("idempotency-key", "order-1")]);
    let run_id = run_of(&first);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post_json(&hook(&id), &body, &[("Idempotency-Key", "order-1")]);
    assert_eq!(run_of(&again), run_id);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = post_json(&hook(&id), &body, &[("idempotency-key", "order-2")]);
    assert_ne!(run_of(&other), run_id);
    assert_eq!(run_count(&id), 2);
    assert_eq!(get_run(&run_id)["dedup_key"], "idempotency:order-1");

    // The same key with a different request: 422, no run.
    let r = post_json(
        &hook(&id),
        &json!({"order": 2}),
        &[("idempotency-key", "order-1")],
    );
    assert_problem(&r, 422);
    assert_eq!(r.locations(), ["header.idempotency-key"]);
    assert_eq!(r.json()["run_id"], run_id);
    // A malformed key: 400.
    let long = "k".repeat(300);
    let r = post_json(&hook(&id), &body, &[("idempotency-key", &long)]);
    assert_problem(&r, 400);
    assert_eq!(r.locations(), ["header.idempotency-key"]);
    assert_eq!(run_count(&id), 2);
}

/// A key reused with another request while the first one still waits for its Response step is
/// refused at once, not after waiting out `response_timeout_ms` for a reply it would not get.
#[test]
fn a_reused_key_is_refused_without_waiting_for_the_first_request_s_reply() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/slow/8000/reused-{}", std::process::id());
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"response_timeout_ms": 30000}),
            json!([{"type": "http", "name": "slow", "url": up.url(&path), "timeout_ms": 20000},
                   {"type": "response", "status": 200, "body": "done"}]),
        ),
    );
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            post_json(
                &hook(&id),
                &json!({"n": 1}),
                &[("idempotency-key", "slow-1")],
            )
        });
        eventually(30, "the first request's step was sent", || {
            !up.received(&path).is_empty()
        });
        let other = post_json(
            &hook(&id),
            &json!({"n": 2}),
            &[("idempotency-key", "slow-1")],
        );
        assert_problem(&other, 422);
        // Answered while the first request still waits for its reply.
        assert!(!first.is_finished(), "the reuse waited for the first reply");
        let first = first.join().expect("first");
        assert_eq!(first.status, 200, "{}", first.text);
        assert_eq!(first.text, "done");
    });
}

#[test]
fn concurrent_duplicates_make_one_run() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), log_step()));
    for round in 0..3 {
        let key = format!("concurrent-{round}");
        let url = hook(&id);
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (url, key) = (url.clone(), key.clone());
                std::thread::spawn(move || {
                    let r = post_json(&url, &json!({"round": 1}), &[("idempotency-key", &key)]);
                    (
                        r.status,
                        r.json()["run_id"].as_str().map(String::from),
                        r.header("idempotent-replayed").is_some(),
                    )
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(results.iter().all(|(s, _, _)| *s == 202), "{results:?}");
        let first = results[0].1.clone();
        assert!(results.iter().all(|(_, r, _)| *r == first), "{results:?}");
        assert_eq!(
            results.iter().filter(|(_, _, replayed)| !replayed).count(),
            1,
            "exactly one request created the run: {results:?}"
        );
    }
    assert_eq!(run_count(&id), 3);
}

#[test]
fn standard_webhooks_ids_deduplicate() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "standard-webhooks", "secret_env": "SW_SECRET"}}),
            json!([]),
        ),
    );
    let body = b"{\"type\": \"invoice.paid\"}".to_vec();
    let first = sign("standard-webhooks", SW_KEY, &body, now_unix(), "msg_dup_1");
    let run_id = run_of(&send_signed(&hook(&id), &first, &body));
    // The sender retries later: new timestamp and signature, same message id.
    let retry = sign(
        "standard-webhooks",
        SW_KEY,
        &body,
        now_unix() + 1,
        "msg_dup_1",
    );
    let r = send_signed(&hook(&id), &retry, &body);
    assert_eq!(run_of(&r), run_id);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(get_run(&run_id)["dedup_key"], "webhook:msg_dup_1");
    // Retried to the workflow's URL edited at the sender (a query added): the signed id names
    // the delivery, so it is the same run, not a reused key (422).
    let r = send_signed(&format!("{}?source=edited", hook(&id)), &retry, &body);
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(run_of(&r), run_id);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    let other = sign("standard-webhooks", SW_KEY, &body, now_unix(), "msg_dup_2");
    assert_ne!(run_of(&send_signed(&hook(&id), &other, &body)), run_id);
    assert_eq!(run_count(&id), 2);
    // The same id for another message (a resource's id taken for the message id) is refused,
    // not answered as a repeat while its message is dropped.
    let refunded = b"{\"type\": \"invoice.refunded\"}".to_vec();
    let reused = sign(
        "standard-webhooks",
        SW_KEY,
        &refunded,
        now_unix(),
        "msg_dup_1",
    );
    let r = send_signed(&hook(&id), &reused, &refunded);
    assert_problem(&r, 422);
    assert_eq!(r.locations(), ["header.webhook-id"], "{}", r.text);
    assert_eq!(r.json()["run_id"], run_id.as_str(), "{}", r.text);
    assert_eq!(r.json()["title"], "Message id reused", "{}", r.text);
    assert_eq!(run_count(&id), 2);
}

// ---------------------------------------------------------------------------------------------
// Response step

fn upstream() -> &'static Upstream {
    static UP: OnceLock<Upstream> = OnceLock::new();
    UP.get_or_init(Upstream::start)
}

/// A reply too large to keep for repeats (over 400 KiB) is sent once; a repeat is told so (409,
/// with the run), neither "accepted" (202) nor "failed" (502) — even when a later step failed.
#[test]
fn a_repeat_of_a_request_whose_reply_was_too_large_to_keep_is_told_so() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([
                {"type": "response", "status": 200, "json": {"echo": "{{request.body.pad}}"}},
                {"type": "http", "name": "after", "url": upstream().url("/status/500"), "retries": 0}
            ]),
        ),
    );
    let body = json!({"pad": "p".repeat(500_000)});
    let r = post_json(&hook(&id), &body, &[("idempotency-key", "large-reply")]);
    assert_eq!(r.status, 200, "{}", &r.text[..200.min(r.text.len())]);
    assert_eq!(r.json()["echo"].as_str().map(str::len), Some(500_000));
    let again = post_json(&hook(&id), &body, &[("idempotency-key", "large-reply")]);
    assert_problem(&again, 409);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let run_id = again.json()["run_id"].as_str().expect("run_id").to_string();
    assert!(
        again.json()["detail"].as_str().unwrap().contains("400 KiB"),
        "{}",
        again.text
    );
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["response"]["truncated"], true, "{run}");
    assert_eq!(run_count(&id), 1);
}

/// A repeat that arrives while the first request still waits for the Response step (a sender
/// retrying after 3 s, as Slack does) is answered with the reply as sent, like the first: a
/// reply too large to keep and one with a field under a credential's name come back whole.
/// (Such repeats were answered from the reply as kept: 409 "Reply not kept", or `[redacted]`.)
#[test]
fn a_repeat_arriving_while_the_first_request_waits_gets_the_reply_as_sent() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([
                {"type": "http", "name": "slow", "url": upstream().url("/slow/3000"), "retries": 0},
                {"type": "response", "status": 200, "body": "{{request.body.t}}"}
            ]),
        ),
    );
    let large = "p".repeat(500_000);
    for (i, t) in [large.as_str(), "{\"password\": \"hunter2-hunter2\"}"]
        .into_iter()
        .enumerate()
    {
        let key = format!("waiting-repeat-{i}");
        let body = json!({ "t": t });
        let (url, b, k) = (hook(&id), body.clone(), key.clone());
        let first = std::thread::spawn(move || post_json(&url, &b, &[("idempotency-key", &k)]));
        std::thread::sleep(Duration::from_millis(1000));
        let again = post_json(&hook(&id), &body, &[("idempotency-key", &key)]);
        let first = first.join().unwrap();
        // Whichever reached the object first made the run (the other one normally: it was
        // sent a second later); the other is the repeat.
        let replayed = |r: &Resp| r.header("idempotent-replayed") == Some("true");
        assert!(
            replayed(&first) != replayed(&again),
            "one of them is the repeat"
        );
        for r in [&first, &again] {
            assert_eq!(r.status, 200, "{}", &r.text[..200.min(r.text.len())]);
            assert!(r.text == t, "{}", &r.text[..200.min(r.text.len())]);
        }
    }
    assert_eq!(run_count(&id), 2);
    assert_eq!(upstream().received("/slow/3000").len(), 2);
}

/// Deploys an endpoint workflow whose one step is `response`; returns its id.
fn replying(dev: &Dev, response: Value) -> String {
    create_deployed(dev, &endpoint(json!({}), json!([response])))
}

/// Sends `body` twice with the idempotency key `key`: the original's answer and the repeat's.
fn sent_twice(id: &str, body: &Value, key: &str) -> (Resp, Resp) {
    let first = post_json(&hook(id), body, &[("idempotency-key", key)]);
    let again = post_json(&hook(id), body, &[("idempotency-key", key)]);
    (first, again)
}

#[test]
fn a_response_step_replies_with_its_status_headers_and_body() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([
                {"type": "http", "name": "lookup", "method": "POST", "url": upstream().url("/echo/lookup"),
                 "json": {"email": "{{request.body.email}}"}, "retries": 0},
                {"type": "response", "status": 201, "headers": {"x-run": "{{run.id}}"},
                 "json": {"ok": true, "email": "{{request.body.email}}", "upstream": "{{steps.lookup.body.method}}"}},
                {"type": "log", "name": "after", "message": "done"}
            ]),
        ),
    );
    let body = json!({"email": "x@y.z"});
    let r = post_json(&hook(&id), &body, &[("idempotency-key", "sync-1")]);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"ok": true, "email": "x@y.z", "upstream": "POST"})
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let run_id = r.header("x-run").expect("x-run").to_string();
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["response"]["status"], 201);
    assert_eq!(run["steps"].as_array().unwrap().len(), 3);

    // A repeat gets the stored reply, not a second run.
    let again = post_json(&hook(&id), &body, &[("idempotency-key", "sync-1")]);
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json(), r.json());
    assert_eq!(again.header("x-run"), Some(run_id.as_str()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(run_count(&id), 1);
    assert_eq!(upstream().received("/echo/lookup").len(), 1);

    // A text reply.
    let text = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([{"type": "response", "status": 200, "body": "hello {{request.query.name}}"}]),
        ),
    );
    let r = send("POST", &format!("{}?name=ann", hook(&text)), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "hello ann");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    // The reply shares the dashboard's origin: it is sandboxed and never sniffed as HTML.
    assert_eq!(
        r.header("content-security-policy"),
        Some("sandbox allow-scripts allow-forms allow-popups allow-downloads")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // A policy of the step's own keeps the sandbox unless its definition writes a `sandbox`
    // directive: a `frame-ancestors` policy, one a template left empty, or one whose `sandbox`
    // came from the request, is sent with the sandbox next to it.
    let policies = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([{"type": "response", "status": 200,
                    "headers": {"content-type": "text/html", "content-security-policy": "{{request.query.csp}}"},
                    "body": "<p>{{request.query.q}}</p>"}]),
        ),
    );
    let sandbox = "sandbox allow-scripts allow-forms allow-popups allow-downloads";
    for (csp, sent) in [
        (
            "frame-ancestors 'none'",
            format!("frame-ancestors 'none', {sandbox}"),
        ),
        ("", sandbox.to_string()),
        (
            "sandbox allow-scripts allow-same-origin",
            format!("sandbox allow-scripts allow-same-origin, {sandbox}"),
        ),
    ] {
        let url = format!(
            "{}?q=%3Cscript%3E&csp={}",
            hook(&policies),
            oauth2::url::form_urlencoded::byte_serialize(csp.as_bytes()).collect::<String>()
        );
        let r = send("POST", &url, &[], None);
        assert_eq!(
            (r.status, r.text.as_str()),
            (200, "<p><script></p>"),
            "{csp}"
        );
        assert_eq!(
            r.header("content-security-policy"),
            Some(sent.as_str()),
            "the policy {csp:?}"
        );
    }
    // A sandbox the definition writes is the reply's, whatever a template adds.
    let own = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([{"type": "response", "status": 200,
                    "headers": {"content-type": "text/html",
                                "content-security-policy": "sandbox allow-scripts allow-same-origin; frame-ancestors {{request.query.from}}"},
                    "body": "<p>hi</p>"}]),
        ),
    );
    let r = send(
        "POST",
        &format!("{}?from=%27none%27", hook(&own)),
        &[],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-security-policy"),
        Some("sandbox allow-scripts allow-same-origin; frame-ancestors 'none'")
    );
    // A written sandbox after a template: one the request adds before it would be the one the
    // browser keeps (the first of a policy's two), so the reply's sandbox goes next to them.
    let after = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([{"type": "response", "status": 200,
                    "headers": {"content-type": "text/html",
                                "content-security-policy": "frame-ancestors {{request.query.from}}; sandbox allow-scripts"},
                    "body": "<p>hi</p>"}]),
        ),
    );
    for (from, sent) in [
        ("%27none%27", "frame-ancestors 'none'; sandbox allow-scripts".to_string()),
        (
            "x%3B%20sandbox%20allow-scripts%20allow-same-origin",
            format!(
                "frame-ancestors x; sandbox allow-scripts allow-same-origin; sandbox allow-scripts, {sandbox}"
            ),
        ),
    ] {
        let r = send("POST", &format!("{}?from={from}", hook(&after)), &[], None);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.header("content-security-policy"),
            Some(sent.as_str()),
            "from={from}"
        );
    }

    // A repeat sends a text reply back as it was, even one that reads as JSON.
    let echo = replying(
        dev,
        json!({"type": "response", "status": 200, "body": "{{request.body.t}}"}),
    );
    for (i, t) in ["null", "\"hi\"", "{\"a\": 1}", "7"]
        .into_iter()
        .enumerate()
    {
        let (first, again) = sent_twice(&echo, &json!({"t": t}), &format!("text-{i}"));
        assert_eq!((first.status, first.text.as_str()), (200, t));
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(
            (again.status, again.text.as_str()),
            (200, t),
            "the repeat of {t}"
        );
        assert_eq!(again.header("content-type"), first.header("content-type"));
    }
    // Text that reads as JSON is still redacted as JSON where it must be: the run never keeps
    // a field under a credential's name, so neither does a repeat.
    let t = "{\"password\": \"hunter2-hunter2\"}";
    let (first, again) = sent_twice(&echo, &json!({"t": t}), "text-password");
    assert_eq!((first.status, first.text.as_str()), (200, t));
    assert_eq!(again.text, "{\"password\":\"[redacted]\"}");
    let list = api(dev, "GET", &format!("/api/workflows/{echo}/runs"), None).json();
    for summary in list["runs"].as_array().expect("runs") {
        let run = wait_run(dev, summary["id"].as_str().expect("id"), 60);
        let response = run["response"].to_string();
        assert!(!response.contains("hunter2"), "{response}");
    }

    // A body that a JSON type announces but that is not JSON (NDJSON) is sent back as it was.
    let lines = replying(
        dev,
        json!({"type": "response", "status": 200, "body": "{{request.body.t}}",
               "headers": {"content-type": "application/x-ndjson"}}),
    );
    let t = "{\"a\":1}\n{\"b\":2}";
    let (first, again) = sent_twice(&lines, &json!({"t": t}), "ndjson-1");
    assert_eq!((first.status, first.text.as_str()), (200, t));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!((again.status, again.text.as_str()), (200, t));

    // A cookie is kept redacted: a repeat leaves it out rather than send `[redacted]`.
    let cookie = replying(
        dev,
        json!({"type": "response", "status": 200, "body": "in",
               "headers": {"set-cookie": "session={{run.id}}", "x-kept": "yes"}}),
    );
    let (first, again) = sent_twice(&cookie, &json!({}), "cookie-1");
    assert!(first
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("session=run_")));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!((again.status, again.text.as_str()), (200, "in"));
    assert_eq!(again.header("set-cookie"), None);
    assert_eq!(again.header("x-kept"), Some("yes"));

    // A page the workflow builds keeps the policy it sets, and the sandbox next to it.
    let page = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([{"type": "response", "status": 200,
                    "headers": {"content-type": "text/html", "Content-Security-Policy": "default-src 'none'"},
                    "body": "<p>{{request.query.name}}</p>"}]),
        ),
    );
    let r = send("POST", &format!("{}?name=ann", hook(&page)), &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'none', sandbox allow-scripts allow-forms allow-popups allow-downloads")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

/// A run of `log` and `response` steps only is executed inside its create call and stored as
/// it ended: the reply comes from that execution, the record is whole (one attempt, every step,
/// the stored reply, its times), and a repeat of its key answers from the stored run.
#[test]
fn a_run_of_log_and_response_steps_is_stored_once_as_it_ended() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([
                {"type": "log", "name": "note", "message": "lead {{request.body.email}}"},
                {"type": "response", "status": 201, "headers": {"x-run": "{{run.id}}"},
                 "json": {"email": "{{request.body.email}}", "said": "{{steps.note.message}}", "run": "{{run.id}}"}},
                {"type": "log", "name": "after", "message": "replied"}
            ]),
        ),
    );
    let body = json!({"email": "in@line.io"});
    let r = post_json(&hook(&id), &body, &[("idempotency-key", "inline-1")]);
    assert_eq!(r.status, 201, "{}", r.text);
    let run_id = r.header("x-run").expect("x-run").to_string();
    assert_eq!(
        r.json(),
        json!({"email": "in@line.io", "said": "lead in@line.io", "run": run_id})
    );
    // Already final when the reply came: no waiting.
    let run = get_run(&run_id);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempts"], 1, "{run}");
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["response"]["status"], 201, "{run}");
    let steps = run["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["note", "response_1", "after"], "{run}");
    assert!(steps.iter().all(|s| s["status"] == "succeeded"), "{run}");
    assert_eq!(steps[0]["output"]["message"], "lead in@line.io");
    let (created, started, finished) = (
        run["created_at"].as_str().expect("created_at"),
        run["started_at"].as_str().expect("started_at"),
        run["finished_at"].as_str().expect("finished_at"),
    );
    assert!(created <= started && started <= finished, "{run}");

    // A repeat is answered from the stored run: same reply, no second run.
    let again = post_json(&hook(&id), &body, &[("idempotency-key", "inline-1")]);
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json(), r.json());
    assert_eq!(again.header("x-run"), Some(run_id.as_str()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(run_count(&id), 1);
    assert_eq!(get_run(&run_id)["finished_at"], run["finished_at"]);
}

#[test]
fn a_slow_run_falls_back_to_202_and_goes_on() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"response_timeout_ms": 1000}),
            json!([
                {"type": "http", "name": "slow", "url": upstream().url("/slow/4000"), "timeout_ms": 20000, "retries": 0},
                {"type": "response", "status": 200, "json": {"late": true}}
            ]),
        ),
    );
    let r = post_json(&hook(&id), &json!({}), &[("idempotency-key", "slow-1")]);
    let run_id = run_of(&r);
    let run = wait_run(dev, &run_id, 90);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["response"]["body"], json!({"late": true}));
    // Once the reply exists, a repeat gets it.
    let again = post_json(&hook(&id), &json!({}), &[("idempotency-key", "slow-1")]);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json(), json!({"late": true}));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(run_count(&id), 1);
}

#[test]
fn a_run_failing_before_its_response_step_is_502_naming_the_step() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({}),
            json!([
                {"type": "http", "name": "charge", "url": upstream().url("/status/500"), "retries": 0},
                {"type": "response", "status": 200, "json": {"ok": true}}
            ]),
        ),
    );
    let r = post_json(&hook(&id), &json!({}), &[("idempotency-key", "fail-1")]);
    assert_problem(&r, 502);
    let v = r.json();
    assert_eq!(v["failed_step"], "charge");
    assert_eq!(v["type"], "urn:tripline:problem:run-failed");
    assert_eq!(r.locations(), ["steps.charge"]);
    assert!(v["detail"].as_str().unwrap().contains("`charge`"));
    let run_id = v["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/runs/{run_id}").as_str())
    );
    assert_eq!(get_run(&run_id)["status"], "failed");
    let again = post_json(&hook(&id), &json!({}), &[("idempotency-key", "fail-1")]);
    assert_problem(&again, 502);
    assert_eq!(again.json()["run_id"], run_id.as_str());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(run_count(&id), 1);
}

/// Headers too large to deliver: written so, the definition is refused at the header; filled in
/// so by a request, the run fails at the response step with a 502 naming the header (the reply
/// broke its connection with a 503 "worker restarted", and the run counted as a success).
#[test]
fn a_reply_header_too_large_to_deliver_is_refused_at_that_header() {
    let dev = dev();
    let r = api(
        dev,
        "POST",
        "/api/workflows",
        Some(&endpoint(
            json!({}),
            json!([{"type": "response", "name": "reply",
                    "headers": {"x-small": "ok", "x-big": "a".repeat(40_000)}}]),
        )),
    );
    assert_problem(&r, 400);
    assert_eq!(r.locations(), ["steps[0].headers.x-big"]);
    assert!(r.text.contains("32768 bytes"), "{}", r.text);

    let id = replying(
        dev,
        json!({"type": "response", "name": "reply", "headers": {"x-echo": "{{request.body.s}}"},
               "body": "ok"}),
    );
    let fits = post_json(&hook(&id), &json!({"s": "a".repeat(30_000)}), &[]);
    assert_eq!(fits.status, 200, "{}", fits.text);
    assert_eq!(fits.header("x-echo").map(str::len), Some(30_000));
    let r = post_json(&hook(&id), &json!({"s": "a".repeat(140_000)}), &[]);
    assert_problem(&r, 502);
    assert_eq!(r.json()["failed_step"], "reply", "{}", r.text);
    let run_id = r.json()["run_id"].as_str().unwrap().to_string();
    let run = get_run(&run_id);
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run.to_string().contains("headers.x-echo"), "{run}");
    assert_eq!(run_count(&id), 2);
}

// ---------------------------------------------------------------------------------------------
// Test URL and schema detection

/// Applying a detected schema to a draft already near the stored size limit is refused with the
/// same 413 at `body` as saving it would be, and the draft stays as it was (it stays deployable).
#[test]
fn detect_schema_does_not_apply_a_schema_that_makes_the_draft_too_large_to_keep() {
    let dev = dev();
    let with_pad = |n: usize| {
        endpoint(
            json!({}),
            json!([{"type": "http", "name": "call", "url": "https://x.example",
                    "json": {"pad": "x".repeat(n)}}]),
        )
    };
    let stored = |v: &Value| Value::String(v.to_string()).to_string().len();
    // 60 bytes under the limit as stored.
    let pad = 1_000_000 - 60 - stored(&with_pad(0));
    let def = with_pad(pad);
    assert_eq!(stored(&def), 1_000_000 - 60);
    let id = create(dev, &def);
    let r = post_json(
        &dev.url(&format!("/hooks/{id}/test")),
        &json!({"email": "a@b.c", "age": 30, "city": "Paris"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({"apply": true})),
    );
    assert_problem(&r, 413);
    assert_eq!(r.locations(), ["body"], "{}", r.text);
    assert!(r.text.contains("as stored"), "{}", r.text);
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["draft"], def, "the draft is unchanged");
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn test_url_detect_schema_deploy_then_validate() {
    let dev = dev();
    let id = create(dev, &endpoint(json!({}), log_step()));
    let test_url = dev.url(&format!("/hooks/{id}/test"));

    // Nothing captured yet.
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        None,
    );
    assert_problem(&r, 409);
    assert!(r.json()["detail"].as_str().unwrap().contains("/test"));
    // Its options are read as every JSON body of the API: the type, and keys written once.
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let detect_url = dev.url(&format!("/api/workflows/{id}/detect-schema"));
    let r = send(
        "POST",
        &detect_url,
        &[("authorization", &auth), ("content-type", "text/plain")],
        Some(br#"{"apply": true}"#),
    );
    assert_problem(&r, 415);
    let r = send(
        "POST",
        &detect_url,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(br#"{"apply": true, "apply": false}"#),
    );
    assert_problem(&r, 400);
    assert_eq!(r.locations(), ["body"], "{}", r.text);
    assert!(r.text.contains("twice"), "{}", r.text);

    // A workflow of another trigger kind has no test URL: the answer says so, not "send a sample".
    let sched = create(
        dev,
        &json!({"name": "s", "trigger": {"type": "schedule", "schedule": {"kind": "minutes", "every": 60}}}),
    );
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{sched}/detect-schema"),
        None,
    );
    assert_problem(&r, 409);
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("endpoint workflows only") && !detail.contains("/test"),
        "{detail}"
    );

    let sample = json!({"email": "a@b.c", "age": 30, "address": {"city": "Paris"},
                        "items": [{"sku": "A", "qty": 1}], "tags": ["x"]});
    let r = post_json(
        &format!("{test_url}?source=web"),
        &sample,
        &[
            ("x-tenant", "acme"),
            ("authorization", "Bearer very-secret-token"),
            ("x-custom-auth", "sk_live_0123456789abcdef"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["captured"], true);
    let captured_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(run_count(&id), 0, "the test URL runs nothing");
    // The production URL still says "not deployed".
    assert_problem(&post_json(&hook(&id), &sample, &[]), 404);

    let shelf = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    );
    assert_eq!(shelf.status, 200, "{}", shelf.text);
    let list = shelf.json()["test_requests"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    let t = &list[0];
    assert_eq!(t["id"], captured_id.as_str());
    assert_eq!(t["method"], "POST");
    assert_eq!(t["path"], format!("/hooks/{id}/test"));
    assert_eq!(t["query"], json!({"source": "web"}));
    assert_eq!(t["headers"]["x-tenant"], "acme");
    assert_eq!(t["headers"]["authorization"], "[redacted]");
    assert_eq!(t["headers"]["x-custom-auth"], "[redacted]");
    assert!(!shelf.text.contains("very-secret-token") && !shelf.text.contains("sk_live_0123"));
    assert_eq!(t["body"], sample);
    assert_eq!(t["body_kind"], "json");
    assert_eq!(
        serde_json::from_str::<Value>(t["raw_body"].as_str().unwrap()).unwrap(),
        sample
    );
    assert!(t["received_at"].is_string());

    // Detect without applying: the draft is unchanged.
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let schema = r.json()["schema"].clone();
    assert_eq!(r.json()["applied"], false);
    assert_eq!(r.json()["test_request_id"], captured_id.as_str());
    assert_eq!(
        schema["query"],
        json!([{"name": "source", "type": "string", "required": true}])
    );
    let header_names: Vec<&str> = schema["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(header_names.contains(&"x-tenant"), "{header_names:?}");
    let body_names: Vec<&str> = schema["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for n in [
        "email",
        "age",
        "address",
        "address.city",
        "items",
        "items[].sku",
        "items[].qty",
        "tags",
    ] {
        assert!(body_names.contains(&n), "{n} missing from {body_names:?}");
    }
    let draft = api(dev, "GET", &format!("/api/workflows/{id}"), None).json()["draft"].clone();
    assert_eq!(draft["trigger"].get("request"), None);

    // Applied only into the draft the client read: a stale `If-Match` is a 412, nothing written.
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let stale = send(
        "POST",
        &dev.url(&format!("/api/workflows/{id}/detect-schema")),
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("if-match", "\"not-the-draft\""),
        ],
        Some(br#"{"apply": true}"#),
    );
    assert_eq!(stale.status, 412, "{}", stale.text);
    assert_eq!(stale.locations(), ["header.if-match"]);
    let unchanged = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(unchanged["draft"]["trigger"].get("request"), None);

    // Apply (choosing the request explicitly), deploy, and the schema is live.
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({"test_request_id": captured_id, "apply": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["applied"], true);
    assert_eq!(r.json()["workflow"]["draft"]["trigger"]["request"], schema);
    api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);

    let fits = json!({"email": "z@y.x", "age": 41, "address": {"city": "Oslo"},
                      "items": [{"sku": "B", "qty": 2}, {"sku": "C", "qty": 3}], "tags": ["y", "z"]});
    let ok = post_json(
        &format!("{}?source=partner", hook(&id)),
        &fits,
        &[
            ("x-tenant", "other"),
            ("authorization", "Bearer x"),
            ("x-custom-auth", "y"),
        ],
    );
    let run_id = run_of(&ok);
    let unfit = json!({"email": 5, "address": {}, "items": [{"qty": "many"}], "tags": ["y"]});
    let r = post_json(
        &hook(&id),
        &unfit,
        &[("authorization", "Bearer x"), ("x-custom-auth", "y")],
    );
    assert_problem(&r, 400);
    let locs = r.locations();
    for l in [
        "query.source",
        "header.x-tenant",
        "body.email",
        "body.age",
        "body.address.city",
        "body.items[0].sku",
        "body.items[0].qty",
    ] {
        assert!(locs.iter().any(|x| x == l), "{l} missing from {locs:?}");
    }
    assert_eq!(run_count(&id), 1);
    assert_eq!(wait_run(dev, &run_id, 60)["status"], "succeeded");

    // Unknown test request id; an empty one names none (it read as "the newest" before).
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({"test_request_id": "tr_nope"})),
    );
    assert_problem(&r, 404);
    assert_eq!(r.locations(), ["body.test_request_id"]);
    // An id no capture can have is not looked up, nor quoted back.
    let long = format!("tr_{}", "x".repeat(100_000));
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({ "test_request_id": long })),
    );
    assert_problem(&r, 404);
    assert_eq!(r.locations(), ["body.test_request_id"]);
    assert!(r.text.len() < 2_000, "{}", &r.text[..300.min(r.text.len())]);
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({"test_request_id": ""})),
    );
    assert_problem(&r, 400);
    assert_eq!(r.locations(), ["body.test_request_id"]);
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{id}/detect-schema"),
        Some(&json!({"apply": "yes", "extra": 1})),
    );
    assert_problem(&r, 400);
    assert_eq!(
        sorted(r.locations()),
        vec!["body.apply".to_string(), "body.extra".to_string()]
    );
}

#[test]
fn the_test_shelf_takes_any_method_any_body_and_keeps_20() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "github", "secret_env": "GH_SECRET"}, "request": {"query": [{"name": "q", "required": true}]}}),
            json!([]),
        ),
    );
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    // Works on a deployed workflow, for any method, whatever the schema and signature say.
    for m in ["GET", "PUT", "PATCH", "DELETE"] {
        let r = send(m, &test_url, &[], None);
        assert_eq!(r.status, 200, "{m}: {}", r.text);
    }
    let r = send(
        "POST",
        &test_url,
        &[("content-type", "application/json")],
        Some(b"{broken"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        "POST",
        &format!("{test_url}?n=%FF"),
        &[("content-type", "application/octet-stream")],
        Some(&[0xff, 0, 1]),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let body = b"{\"signed\": true}".to_vec();
    let r = send_signed(
        &test_url,
        &sign("github", GH_SECRET.as_bytes(), &body, 0, "d1"),
        &body,
    );
    assert_eq!(r.status, 200);
    let shelf = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    )
    .json();
    let list = shelf["test_requests"].as_array().unwrap();
    // Six failed the signature check: the newest five of them are kept.
    assert_eq!(list.len(), 6);
    assert_eq!(list[0]["signature"]["valid"], true, "{}", list[0]);
    assert_eq!(list[1]["raw_body_encoding"], "base64");
    assert_eq!(list[1]["raw_body"], "/wAB");
    // A query the live URL would refuse is captured, with why.
    assert_eq!(
        list[1]["query_error"], "query.n is not valid UTF-8 once percent-decoded",
        "{}",
        list[1]
    );
    assert_eq!(list[1]["query"]["n"], "\u{FFFD}", "{}", list[1]);
    assert_eq!(list[0]["query_error"], Value::Null, "{}", list[0]);
    assert_eq!(list[1]["signature"]["valid"], false);
    assert!(list[1]["body_error"].is_string());
    assert_eq!(list[2]["body"], Value::Null);
    // Unsigned: not parsed at all (the signature is checked first).
    assert!(
        list[2]["body_error"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{}",
        list[2]
    );
    assert_eq!(list[2]["raw_body"], "{broken");
    assert_eq!(list[5]["method"], "PUT");
    assert_eq!(run_count(&id), 0);

    let shelf_of = || {
        api(
            dev,
            "GET",
            &format!("/api/workflows/{id}/test-requests"),
            None,
        )
        .json()["test_requests"]
            .as_array()
            .unwrap()
            .clone()
    };
    let failed = |list: &[Value]| {
        list.iter()
            .filter(|r| r["signature"]["valid"] == false)
            .count()
    };
    for i in 0..18 {
        let r = send_signed(
            &format!("{test_url}?i={i}"),
            &sign("github", GH_SECRET.as_bytes(), &body, 0, "d2"),
            &body,
        );
        assert_eq!(r.status, 200);
    }
    let list = shelf_of();
    assert_eq!(list.len(), 20);
    assert_eq!(list[0]["query"], json!({"i": "17"}));
    assert_eq!(failed(&list), 1);
    // A flood of requests that fail the signature check takes five places, no more: the
    // newest signed samples stay.
    for i in 0..25 {
        let r = send("POST", &format!("{test_url}?forged={i}"), &[], None);
        assert_eq!(r.status, 200);
    }
    let list = shelf_of();
    assert_eq!(list.len(), 20);
    assert_eq!(failed(&list), 5);
    assert_eq!(list[0]["query"], json!({"forged": "24"}));
    assert!(
        list.iter().any(|r| r["query"] == json!({"i": "17"})),
        "{list:?}"
    );
    // Its headers and query are kept no more than its body: about 8 KiB each.
    let padding = "p".repeat(3000);
    let many: Vec<(String, String)> = (0..6)
        .map(|i| (format!("x-pad-{i}"), padding.clone()))
        .collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let q: String = (0..6).map(|i| format!("&q{i}={padding}")).collect();
    let r = send("POST", &format!("{test_url}?forged=big{q}"), &headers, None);
    assert_eq!(r.status, 200, "{}", r.text);
    let newest = &shelf_of()[0];
    assert_eq!(newest["query"]["forged"], "big", "{newest}");
    assert_eq!(newest["query_left_out"], 4, "{newest}");
    assert_eq!(newest["query"].as_object().unwrap().len(), 3, "{newest}");
    assert!(
        newest["headers_left_out"].as_u64().unwrap() >= 4,
        "{newest}"
    );
    assert!(newest["headers"].to_string().len() <= 8 * 1024, "{newest}");

    // Too large for the workflow's cap: 413, nothing captured.
    let big = vec![b'a'; 1024 * 1024 + 1];
    assert_problem(
        &send(
            "POST",
            &test_url,
            &[("content-type", "text/plain")],
            Some(&big),
        ),
        413,
    );
    // Unknown workflows have no test URL; deleting a workflow empties its shelf.
    assert_problem(
        &send(
            "POST",
            &dev.url("/hooks/wf_000000000000000000000000/test"),
            &[],
            None,
        ),
        404,
    );
    assert_eq!(
        api(dev, "DELETE", &format!("/api/workflows/{id}"), None).status,
        204
    );
    assert_problem(
        &api(
            dev,
            "GET",
            &format!("/api/workflows/{id}/test-requests"),
            None,
        ),
        404,
    );
}

/// A shelf of large samples stays within its byte cap (the oldest go first, the newest is
/// kept), and listing it and detecting from it still answer: the list is passed through as
/// text and detection reads one record, so no call holds a whole shelf of parsed bodies.
#[test]
fn a_shelf_of_large_samples_keeps_within_its_byte_cap() {
    const SHELF_MAX_BYTES: usize = 4 * 1024 * 1024;
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    // A 0.76 MB JSON array of 190 000 short strings: about 1.1 MB as a shelf record (its parsed
    // body and 256 KiB of raw text), and many times that once parsed.
    let sample = format!("[{}\"a\"]", "\"a\",".repeat(189_999));
    let mut ids = Vec::new();
    for i in 0..20 {
        let r = send(
            "POST",
            &format!("{test_url}?i={i}"),
            &[("content-type", "application/json")],
            Some(sample.as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let shelf = r.json();
    let list = shelf["test_requests"].as_array().unwrap();
    let stored: usize = list.iter().map(|t| t.to_string().len()).sum();
    assert!(stored <= SHELF_MAX_BYTES, "{stored} bytes kept");
    assert!((2..20).contains(&list.len()), "{} records kept", list.len());
    // The newest, newest first; each complete.
    let kept: Vec<&str> = list.iter().map(|t| t["id"].as_str().unwrap()).collect();
    let newest: Vec<&str> = ids
        .iter()
        .rev()
        .take(list.len())
        .map(String::as_str)
        .collect();
    assert_eq!(kept, newest);
    assert_eq!(list[0]["query"], json!({"i": "19"}));
    assert_eq!(list[0]["body"].as_array().map(Vec::len), Some(190_000));
    assert_eq!(list[0]["raw_body_truncated"], true);

    let detect = |body: Value| {
        api(
            dev,
            "POST",
            &format!("/api/workflows/{id}/detect-schema"),
            Some(&body),
        )
    };
    let r = detect(json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["test_request_id"], ids[19].as_str());
    let oldest_kept = kept[kept.len() - 1];
    let r = detect(json!({"test_request_id": oldest_kept}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["test_request_id"], oldest_kept);
    // A dropped one is gone, like one past the newest 20.
    let r = detect(json!({"test_request_id": ids[0]}));
    assert_problem(&r, 404);
    assert_eq!(r.locations(), ["body.test_request_id"]);
}

// ---------------------------------------------------------------------------------------------
// Crash safety

/// A sender that retries on network errors (as webhook senders do), against whatever port the
/// restarted server listens on.
fn post_until_answered(
    base: &RwLock<String>,
    path: &str,
    key: &str,
    body: &str,
    errors: &AtomicUsize,
) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(600);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    loop {
        let url = format!("{}{}", base.read().unwrap(), path);
        let result = agent
            .post(&url)
            .set("content-type", "application/json")
            .set("idempotency-key", key)
            .send_string(body);
        match result {
            Ok(r) => {
                let status = r.status();
                // A reply cut off by the crash after its status line is no answer: the
                // client retries with the same key, as a real sender would.
                match r.into_json::<Value>() {
                    Ok(body) => return (status, body),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
                assert!(Instant::now() < deadline, "no answer for {key}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(ureq::Error::Status(code, r)) if code < 500 => {
                return (code, r.into_json().unwrap_or(Value::Null));
            }
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
                assert!(Instant::now() < deadline, "no answer for {key}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[test]
fn every_accepted_request_has_exactly_one_run_across_a_crash() {
    const TOTAL: usize = 2000;
    const CLIENTS: usize = 16;
    let mut dev = Dev::start("endpoint-crash", &[("RUN_LEASE_SECONDS", "3")]);
    let id = create_deployed(
        &dev,
        &endpoint(
            json!({"request": {"body": [{"name": "n", "type": "integer", "required": true}]}}),
            log_step(),
        ),
    );
    let base = Arc::new(RwLock::new(dev.base.clone()));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let results: Arc<Mutex<Vec<(usize, u16, Value)>>> = Arc::default();
    let path = format!("/hooks/{id}");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, next, done, errors, results, path) = (
                base.clone(),
                next.clone(),
                done.clone(),
                errors.clone(),
                results.clone(),
                path.clone(),
            );
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TOTAL {
                    return;
                }
                let (status, body) = post_until_answered(
                    &base,
                    &path,
                    &format!("crash-{i}"),
                    &json!({"n": i}).to_string(),
                    &errors,
                );
                results.lock().unwrap().push((i, status, body));
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    // Kill wrangler dev (SIGKILL, the whole process group) midway, restart on the same state.
    eventually(600, "a third of the requests answered", || {
        done.load(Ordering::SeqCst) >= TOTAL / 3
    });
    let answered_before = done.load(Ordering::SeqCst);
    dev.restart();
    *base.write().unwrap() = dev.base.clone();
    for c in clients {
        c.join().unwrap();
    }
    assert!(answered_before < TOTAL, "the crash happened midway");
    assert!(
        errors.load(Ordering::Relaxed) > 0,
        "some requests saw the crash"
    );

    let results = results.lock().unwrap().clone();
    assert_eq!(results.len(), TOTAL);
    let mut by_key = std::collections::HashMap::new();
    for (i, status, body) in &results {
        assert_eq!(*status, 202, "request {i}: {body}");
        by_key.insert(
            format!("idempotency:crash-{i}"),
            body["run_id"].as_str().unwrap().to_string(),
        );
    }
    // Runs cut off by the crash are picked up by the reconciler.
    eventually(600, "every run finished", || {
        dev.fire_cron();
        runs(&dev, &id).iter().all(|r| r["status"] == "succeeded")
    });

    // Every 2xx has exactly one run, by run id and by counting the listed runs.
    let rows = runs(&dev, &id);
    assert_eq!(rows.len(), TOTAL, "one run per request, no duplicates");
    let mut seen = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for row in &rows {
        let key = row["dedup_key"].as_str().unwrap();
        let run_id = row["id"].as_str().unwrap();
        assert_eq!(by_key.get(key).map(String::as_str), Some(run_id), "{row}");
        assert_eq!(
            format!("idempotency:crash-{}", row["input"]["request"]["body"]["n"]),
            key
        );
        assert!(seen.insert(run_id.to_string()));
        assert!(keys.insert(key.to_string()));
    }
    assert_eq!(seen.len(), TOTAL);
    assert_eq!(keys.len(), TOTAL);
}

/// A body that stops before its Content-Length is never a run with an empty body: a 400 from
/// the Worker on the platform; locally the proxy answers it itself (a 503), and no run is made.
#[test]
fn a_body_cut_short_is_400_and_makes_no_run() {
    use std::io::{Read as _, Write as _};
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", dev.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "POST /hooks/{id} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n0123456789",
        dev.port
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.flush().expect("flush");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    if let Some(status) = answer.split_whitespace().nth(1) {
        assert_ne!(status, "202", "a cut body was accepted: {answer}");
        assert_ne!(status, "500", "{answer}");
    }
    // The Worker has seen the request end; nothing was recorded for it.
    let r = post_json(&hook(&id), &json!({"after": true}), &[]);
    run_of(&r);
    let all = runs(dev, &id);
    assert_eq!(
        all.len(),
        1,
        "only the complete request made a run: {all:?}"
    );
}

/// A chunked body the sender broke off is never taken for the whole body (the `worker` crate's
/// body stream ends quietly when the runtime reports the abort): the Worker's body reader, under
/// node's test runner (`src/platform/test/`). Locally this cannot be shown over HTTP: wrangler's
/// proxy ends a body its client broke off as if it were complete.
#[test]
fn the_body_reader_never_takes_a_broken_off_body_for_the_whole() {
    let stdout = node_tests(&["src/platform/test/body.test.mjs"]);
    for name in [
        "a whole chunked body is read in one piece",
        "no body is an empty one",
        "a body its sender broke off is a failure, not the part that arrived",
        "over the cap is too large, whatever comes after",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ok ") && l.ends_with(&format!(" - {name}"))),
            "{name}: {stdout}"
        );
    }
}

/// A run stores the request's query string and headers redacted, as the test shelf does:
/// credential names (`?api_key=`, `?token=`) and credential-looking values.
#[test]
fn credentials_in_the_query_and_headers_are_never_stored() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(json!({}), json!([])));
    let r = post_json(
        &format!(
            "{}?api_key=k-live-123456&token=tok-98765&page=2&q=Bearer%20abc123",
            hook(&id)
        ),
        &json!({}),
        &[
            ("x-forward", "Bearer caller-credential-xyz"),
            ("x-plain", "hello"),
        ],
    );
    let run = get_run(&run_of(&r));
    let request = &run["input"]["request"];
    assert_eq!(request["query"]["api_key"], "[redacted]", "{request}");
    assert_eq!(request["query"]["token"], "[redacted]", "{request}");
    assert_eq!(request["query"]["q"], "[redacted]", "{request}");
    assert_eq!(request["query"]["page"], "2");
    assert_eq!(request["headers"]["x-forward"], "[redacted]", "{request}");
    assert_eq!(request["headers"]["x-plain"], "hello");
    let text = run.to_string();
    for leaked in ["k-live-123456", "tok-98765", "caller-credential-xyz"] {
        assert!(!text.contains(leaked), "{leaked} stored: {text}");
    }
}

/// On the test URL of a workflow with `verify`, the signature is checked first: a request that
/// fails it is not parsed and only a short raw prefix is kept. A JSON body over the parsing
/// budget is a 413 on the trigger URL, never parsed.
#[test]
fn unsigned_test_requests_are_not_parsed_and_json_has_a_budget() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "github", "secret_env": "GH_SECRET"}, "max_body_bytes": 10485760}),
            json!([]),
        ),
    );
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    // Sends an unsigned capture; the newest capture on the shelf.
    let captured = |content_type: &str, body: &[u8]| -> Value {
        let r = send(
            "POST",
            &test_url,
            &[("content-type", content_type)],
            Some(body),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        newest_test_request(dev, &id)
    };
    let unsigned = format!("[{}1]", "1,".repeat(5_000));
    let got = &captured("application/json", unsigned.as_bytes());
    assert_eq!(got["signature"]["valid"], false, "{got}");
    assert_eq!(got["body"], Value::Null, "{got}");
    assert_eq!(got["raw_body"].as_str().unwrap().len(), 1024, "{got}");
    assert_eq!(got["raw_body_truncated"], true, "{got}");
    // Its headers are kept to a budget, its Content-Type too (not only in `headers`).
    let long_type = format!("application/json; x={}", "a".repeat(20_000));
    let got = &captured(&long_type, b"{}");
    assert_eq!(got["signature"]["valid"], false, "{got}");
    assert_eq!(got["headers_left_out"], 1, "{got}");
    assert_eq!(got["content_type"], long_type[..256], "{got}");
    assert!(got.to_string().len() < 4_000, "{}", got.to_string().len());

    // Schema detection never takes a stranger's unsigned capture: with only those, nothing is
    // captured yet; a signed one is used though unsigned ones with other fields came after it.
    let detect = || {
        api(
            dev,
            "POST",
            &format!("/api/workflows/{id}/detect-schema"),
            None,
        )
    };
    let stranger = |query: &str| {
        let r = send(
            "POST",
            &format!("{test_url}?{query}=1"),
            &[("content-type", "application/json"), ("x-zz", "1")],
            Some(b"{}"),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    };
    stranger("zz");
    let r = detect();
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("signature"),
        "{}",
        r.text
    );
    let body = br#"{"order": 7}"#;
    let mut headers: Vec<(String, String)> =
        sign("github", GH_SECRET.as_bytes(), body, 0, "d-detect");
    headers.push(("content-type".into(), "application/json".into()));
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let r = send(
        "POST",
        &format!("{test_url}?signed=1"),
        &headers,
        Some(body),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    stranger("zz2");
    let r = detect();
    assert_eq!(r.status, 200, "{}", r.text);
    let schema = r.json()["schema"].to_string();
    assert!(
        schema.contains("signed") && schema.contains("order"),
        "{schema}"
    );
    assert!(
        !schema.contains("zz") && !schema.contains("x-zz"),
        "{schema}"
    );
    // A capture sent before the draft had `verify` was never checked: not used once it has.
    let late = create(dev, &endpoint(json!({}), json!([])));
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{late}/test?pre=1")),
        &[("content-type", "application/json")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(
        dev,
        "PUT",
        &format!("/api/workflows/{late}"),
        Some(&endpoint(
            json!({"verify": {"scheme": "github", "secret_env": "GH_SECRET"}}),
            json!([]),
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{late}/detect-schema"),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("signature check"), "{}", r.text);

    // 10 MiB of small numbers: refused with 413 before parsing, on a signed request too.
    let open = create_deployed(
        dev,
        &endpoint(json!({"max_body_bytes": 10485760}), json!([])),
    );
    let mut big = b"[".to_vec();
    big.extend(std::iter::repeat_n(&b"1,"[..], 5 * 1024 * 1024 - 2).flatten());
    big.extend_from_slice(b"1]");
    let r = send(
        "POST",
        &hook(&open),
        &[("content-type", "application/json")],
        Some(&big),
    );
    assert_problem(&r, 413);
    assert_eq!(r.locations(), ["body"], "{}", r.text);
    assert_eq!(run_count(&open), 0);
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let r = send(
        "POST",
        &hook(&open),
        &[("content-type", "application/json")],
        Some(deep.as_bytes()),
    );
    assert_problem(&r, 400);
}

/// On the test URL of a workflow gated by a header (`equals`), a request without the right
/// value is kept as a stranger's unsigned one: not parsed, a short raw prefix, `gate_error`
/// naming the gate, and never the source of a detected schema.
#[test]
fn test_requests_that_fail_a_gate_are_not_parsed_nor_detected_from() {
    let dev = dev();
    let gate =
        json!({"request": {"headers": [{"name": "x-api-key", "equals": "k-gate-secret-1"}]}});
    let id = create(dev, &endpoint(gate, json!([])));
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    let newest = || newest_test_request(dev, &id);
    let detect = || {
        api(
            dev,
            "POST",
            &format!("/api/workflows/{id}/detect-schema"),
            None,
        )
    };
    let body = format!(r#"{{"stranger": "{}"}}"#, "s".repeat(2_000));
    for key in [None, Some("wrong")] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(key.map(|k| ("x-api-key", k)));
        let r = send("POST", &test_url, &headers, Some(body.as_bytes()));
        assert_eq!(r.status, 200, "{}", r.text);
        let got = newest();
        assert_eq!(got["gate_error"], "header.x-api-key", "{got}");
        assert_eq!(got["body"], Value::Null, "{got}");
        assert!(
            got["body_error"]
                .as_str()
                .unwrap()
                .contains("gate at header.x-api-key"),
            "{got}"
        );
        assert_eq!(got["raw_body"].as_str().unwrap().len(), 1024, "{got}");
        assert_eq!(got["raw_body_truncated"], true, "{got}");
        // Only strangers' captures so far: nothing to detect from.
        let r = detect();
        assert_eq!(r.status, 409, "{}", r.text);
        assert!(r.text.contains("gates"), "{}", r.text);
    }
    let r = send(
        "POST",
        &test_url,
        &[
            ("content-type", "application/json"),
            ("x-api-key", "k-gate-secret-1"),
        ],
        Some(br#"{"order": 7}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let got = newest();
    assert_eq!(got["gate_error"], Value::Null, "{got}");
    assert_eq!(got["body"], json!({"order": 7}), "{got}");
    // A stranger's capture after it is not the one detected from.
    let r = send(
        "POST",
        &test_url,
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = detect();
    assert_eq!(r.status, 200, "{}", r.text);
    let schema = r.json()["schema"].to_string();
    assert!(
        schema.contains("order") && !schema.contains("stranger"),
        "{schema}"
    );
}

/// A capture whose body could not be read proposes no body rules: detection passes over it for
/// the newest readable one, and named by its id it is a 422 saying why, so applying never
/// drops the draft's body rules.
#[test]
fn detection_passes_over_a_capture_whose_body_could_not_be_read() {
    let dev = dev();
    let rules =
        json!({"request": {"body": [{"name": "email", "type": "string", "required": true}]}});
    let id = create(dev, &endpoint(rules, json!([])));
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    let capture = |body: &[u8]| {
        let r = send(
            "POST",
            &test_url,
            &[("content-type", "application/json")],
            Some(body),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["id"].as_str().unwrap().to_string()
    };
    let readable = capture(br#"{"email": "a@b.c", "plan": "pro"}"#);
    let malformed = capture(br#"{"email": "a@b.c","#);
    let got = newest_test_request(dev, &id);
    assert_eq!(got["id"], malformed.as_str(), "{got}");
    assert!(got["body_error"].is_string(), "{got}");

    let detect = |body: Value| {
        api(
            dev,
            "POST",
            &format!("/api/workflows/{id}/detect-schema"),
            Some(&body),
        )
    };
    let r = detect(json!({"test_request_id": malformed}));
    assert_problem(&r, 422);
    assert_eq!(r.locations(), ["body.test_request_id"], "{}", r.text);
    assert!(r.text.contains("invalid JSON"), "{}", r.text);
    let r = detect(json!({"apply": true}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["test_request_id"], readable.as_str(), "{}", r.text);
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    let names: Vec<&str> = wf["draft"]["trigger"]["request"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["email", "plan"], "{wf}");

    // With only unreadable captures, nothing is captured yet.
    let other = create(dev, &endpoint(json!({}), json!([])));
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{other}/test")),
        &[("content-type", "application/json")],
        Some(b"not json"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{other}/detect-schema"),
        None,
    );
    assert_problem(&r, 409);
    assert!(r.text.contains("could not be read"), "{}", r.text);
}

/// A browser opening the test URL (`GET`) or a link checker (`HEAD`) leaves a capture with no
/// body: detection passes over captures sent with a method the draft does not accept, so
/// applying it keeps the body rules; a draft that accepts `GET` detects from its `GET`.
#[test]
fn detection_passes_over_a_capture_sent_with_a_method_the_draft_does_not_accept() {
    let dev = dev();
    let id = create(dev, &endpoint(json!({}), json!([])));
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    let r = send(
        "POST",
        &test_url,
        &[("content-type", "application/json")],
        Some(br#"{"email": "a@b.c"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let posted = r.json()["id"].as_str().unwrap().to_string();
    for method in ["GET", "HEAD"] {
        let r = send(method, &format!("{test_url}?visit=1"), &[], None);
        assert_eq!(r.status, 200, "{method}: {}", r.text);
    }
    assert_eq!(newest_test_request(dev, &id)["method"], "HEAD");
    let detect = |id: &str| {
        api(
            dev,
            "POST",
            &format!("/api/workflows/{id}/detect-schema"),
            Some(&json!({"apply": true})),
        )
    };
    let r = detect(&id);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["test_request_id"], posted.as_str(), "{}", r.text);
    assert_eq!(r.json()["schema"]["body"][0]["name"], "email", "{}", r.text);

    // A draft that accepts GET: its GET is the sample.
    let gets = create(
        dev,
        &endpoint(json!({"method": ["get", "POST"]}), json!([])),
    );
    let gets_url = dev.url(&format!("/hooks/{gets}/test"));
    let r = send("GET", &format!("{gets_url}?visit=1"), &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    let got = r.json()["id"].as_str().unwrap().to_string();
    let r = send("HEAD", &gets_url, &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = detect(&gets);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["test_request_id"], got.as_str(), "{}", r.text);
    assert_eq!(
        r.json()["schema"]["query"][0]["name"],
        "visit",
        "{}",
        r.text
    );

    // Only captures of other methods: nothing captured yet, and the answer says why.
    let other = create(dev, &endpoint(json!({}), json!([])));
    let r = send("GET", &dev.url(&format!("/hooks/{other}/test")), &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = detect(&other);
    assert_problem(&r, 409);
    assert!(
        r.text.contains("method the draft does not accept"),
        "{}",
        r.text
    );
}

/// Unauthenticated traffic writes nothing to D1: a capture on the test URL makes no D1
/// statement at all (the draft and the shelf are in the workflow's object), and a rejected
/// signature is counted in the object; only the deployed version may be read (cached).
#[test]
fn test_captures_and_signature_failures_make_no_d1_writes() {
    let dev = dev();
    let id = create(
        dev,
        &endpoint(
            json!({"verify": {"scheme": "hmac-sha256", "secret_env": "HMAC_SECRET"}}),
            json!([]),
        ),
    );
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    for i in 0..3 {
        let r = post_json(&test_url, &json!({"n": i}), &[]);
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(test_shelf(dev, &id).len(), 3);
    assert_eq!(d1_statements(dev, &id).get("test_ingest"), None);

    // After a redeploy-free draft change, the test URL follows the new draft, still without D1.
    let r = api(
        dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&endpoint(
            json!({"verify": {"scheme": "hmac-sha256", "secret_env": "HMAC_SECRET"}, "max_body_bytes": 10}),
            json!([]),
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post_json(&test_url, &json!({"a long body": "over ten bytes"}), &[]);
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(d1_statements(dev, &id).get("test_ingest"), None);

    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    for _ in 0..4 {
        let r = send_signed(
            &hook(&id),
            &[("x-signature".into(), "sha256=00".into())],
            b"{}",
        );
        assert_problem(&r, 401);
    }
    assert_eq!(signature_failures(&id), 4);
    assert_eq!(d1_writes(dev, &id).get("ingest"), None);
    // At most the deployed version read per request (the isolate caches it).
    let reads = d1_statements(dev, &id).get("ingest").copied().unwrap_or(0);
    assert!(reads <= 4, "{reads}");

    // A deleted workflow's test URL is gone with it.
    let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    let r = post_json(&test_url, &json!({}), &[]);
    assert_eq!(r.status, 404, "{}", r.text);
    // A sender that keeps calling the deleted workflow's URL costs no D1 read: its object
    // says the workflow is gone.
    let before = d1_statements(dev, &id).get("ingest").copied().unwrap_or(0);
    for _ in 0..3 {
        let r = post_json(&hook(&id), &json!({}), &[]);
        assert_problem(&r, 404);
        assert!(r.text.contains("no workflow with id"), "{}", r.text);
    }
    assert_eq!(
        d1_statements(dev, &id).get("ingest").copied().unwrap_or(0),
        before
    );
}

/// A deploy freezes only the draft it checked: a save that lands while it checks answers the
/// deploy 409 and deploys nothing; deployed again, the saved draft goes live. (The deploy
/// froze the newer draft, which it had never checked.)
#[test]
fn a_deploy_during_a_save_deploys_nothing() {
    // `deploy-late`: the deploy waits 2 s after it checked the draft.
    let dev = Dev::start(
        "endpoint-deploy-late",
        &[("TRIPLINE_DEV_FAULTS", "deploy-late")],
    );
    let dev = &dev;
    let id = create(dev, &endpoint(json!({}), log_step()));
    let path = format!("/api/workflows/{id}/deploy");
    let deployed = std::thread::scope(|s| {
        let deploy = s.spawn(|| api(dev, "POST", &path, None));
        std::thread::sleep(Duration::from_millis(700));
        let mut saved = endpoint(json!({}), log_step());
        saved["name"] = json!("saved during the deploy");
        let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&saved));
        assert_eq!(r.status, 200, "{}", r.text);
        deploy.join().expect("deploy")
    });
    assert_problem(&deployed, 409);
    assert!(deployed.text.contains("deploy again"), "{}", deployed.text);
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["status"], "draft", "{wf}");
    assert_eq!(wf["latest_version"], 0, "{wf}");
    assert!(dev
        .d1(&format!(
            "SELECT version FROM workflow_versions WHERE workflow_id = '{id}'"
        ))
        .is_empty());
    let r = api(dev, "POST", &path, None);
    assert_eq!(r.status, 200, "{}", r.text);
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["deployed_version"], 1, "{wf}");
    assert_eq!(wf["deployed_definition"]["name"], "saved during the deploy");
}

/// A detected schema applied while the draft is saved by someone else does not overwrite that
/// save: it answers 409, and the draft is the save's.
#[test]
fn a_detected_schema_applied_during_a_save_does_not_overwrite_it() {
    // `detect-late`: the apply waits 2 s before it writes the draft.
    let dev = Dev::start(
        "endpoint-detect-late",
        &[("TRIPLINE_DEV_FAULTS", "detect-late")],
    );
    let dev = &dev;
    let id = create(dev, &endpoint(json!({}), log_step()));
    let r = post_json(
        &dev.url(&format!("/hooks/{id}/test")),
        &json!({"email": "a@b.c"}),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let path = format!("/api/workflows/{id}/detect-schema");
    let applied = std::thread::scope(|s| {
        let detect = s.spawn(|| api(dev, "POST", &path, Some(&json!({"apply": true}))));
        std::thread::sleep(Duration::from_millis(700));
        let mut saved = endpoint(json!({}), log_step());
        saved["name"] = json!("saved during the detection");
        let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&saved));
        assert_eq!(r.status, 200, "{}", r.text);
        detect.join().expect("detect")
    });
    assert_problem(&applied, 409);
    assert!(applied.text.contains("detect again"), "{}", applied.text);
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["draft"]["name"], "saved during the detection", "{wf}");
    assert!(wf["draft"]["trigger"]["request"].is_null(), "{wf}");
    // Detected again, it applies to the current draft.
    let r = api(dev, "POST", &path, Some(&json!({"apply": true})));
    assert_eq!(r.status, 200, "{}", r.text);
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["draft"]["name"], "saved during the detection", "{wf}");
    assert!(wf["draft"]["trigger"]["request"]["body"].is_array(), "{wf}");
}
