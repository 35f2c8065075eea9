//! The D1 statement counter of local mode (`GET /__dev/stats`): it counts exactly, per
//! invocation kind and workflow, including what the workflow's object does; it is admin-only,
//! and absent unless `TRIPLINE_DEV_STATS=1`.

use serde_json::json;

use crate::harness::{
    api, create, d1_statements, d1_statements_of, d1_writes, eventually, send, shared, Dev,
    ADMIN_TOKEN,
};

fn endpoint_draft() -> serde_json::Value {
    json!({"name": "counted", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "message": "hi"}]})
}

#[test]
fn counts_are_exact_per_kind_and_workflow() {
    let dev = shared();
    let id = create(dev, &endpoint_draft());
    // Creating is counted for no workflow (its URL names none yet).
    assert_eq!(d1_statements(dev, &id), Default::default());
    // A GET of an undeployed endpoint workflow: the workflow row and nothing else (its
    // endpoint counters live in its object).
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(d1_statements_of(dev, &id, "api"), GET_WORKFLOW);
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(d1_statements_of(dev, &id, "api"), 2 * GET_WORKFLOW);
    assert_eq!(d1_writes(dev, &id).get("api"), None, "a GET writes nothing");
    // Another workflow's traffic is not counted here.
    let other = create(dev, &endpoint_draft());
    api(dev, "GET", &format!("/api/workflows/{other}"), None);
    assert_eq!(d1_statements_of(dev, &id, "api"), 2 * GET_WORKFLOW);
    assert_eq!(d1_statements(dev, &id).get("ingest"), None);
}

/// What `GET /api/workflows/{id}` of an undeployed endpoint workflow costs.
const GET_WORKFLOW: u64 = 1;

/// Objects may run in the Worker's isolate or not: a schedule's alarm runs only in its
/// object, so its statements showing up under `fire` proves that object counts are read.
#[test]
fn what_the_object_does_is_counted_too() {
    let dev = shared();
    let id = create(
        dev,
        &json!({"name": "object", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 1}}, "steps": []}),
    );
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(60, "a fire's statements", || {
        d1_statements_of(dev, &id, "fire") > 0
    });
    // A fire records its run in D1 today: writes, counted as such.
    assert!(d1_writes(dev, &id)["fire"] > 0);
    let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
}

#[test]
fn the_route_needs_the_admin_token() {
    let dev = shared();
    let r = send("GET", &dev.url("/__dev/stats"), &[], None);
    assert_eq!(r.status, 401, "{}", r.text);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = send(
        "GET",
        &dev.url("/__dev/stats"),
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json().is_object(), "{}", r.text);
}

#[test]
fn the_route_is_absent_without_the_var() {
    let dev = Dev::start("dev-stats-off", &[("TRIPLINE_DEV_STATS", "0")]);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = send(
        "GET",
        &dev.url("/__dev/stats"),
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}
