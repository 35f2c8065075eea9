//! The D1 statement counter of local mode (`GET /__dev/stats`): it counts exactly, per
//! invocation kind and workflow, including what the workflow's object does; it is admin-only,
//! and absent unless `TRIPLINE_DEV_STATS=1`.

use serde_json::json;

use crate::harness::{
    api, create, d1_statements, d1_statements_of, d1_writes, send, shared, Dev, ADMIN_TOKEN,
};

fn endpoint_draft() -> serde_json::Value {
    json!({"name": "counted", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "message": "hi"}]})
}

#[test]
fn counts_are_exact_per_kind_and_workflow() {
    let dev = shared();
    let id = create(dev, &endpoint_draft());
    // Creating without a key: one insert (no key to check; the object keeps the draft).
    let created = 1;
    assert_eq!(
        d1_statements(dev, &id),
        [("api".to_string(), created)].into()
    );
    assert_eq!(d1_writes(dev, &id), [("api".to_string(), created)].into());
    // A GET of an undeployed endpoint workflow: the workflow row and nothing else (its
    // endpoint counters live in its object).
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(d1_statements_of(dev, &id, "api"), created + GET_WORKFLOW);
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        d1_statements_of(dev, &id, "api"),
        created + 2 * GET_WORKFLOW
    );
    assert_eq!(d1_writes(dev, &id)["api"], created, "a GET writes nothing");
    // Another workflow's traffic is not counted here.
    let other = create(dev, &endpoint_draft());
    api(dev, "GET", &format!("/api/workflows/{other}"), None);
    assert_eq!(
        d1_statements_of(dev, &id, "api"),
        created + 2 * GET_WORKFLOW
    );
    assert_eq!(d1_statements(dev, &id).get("ingest"), None);
}

/// What `GET /api/workflows/{id}` of an undeployed endpoint workflow costs.
const GET_WORKFLOW: u64 = 1;

#[test]
fn what_the_object_does_is_counted_too() {
    let dev = shared();
    let id = create(
        dev,
        &json!({"name": "object", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 3600}}, "steps": []}),
    );
    let before = d1_statements_of(dev, &id, "api");
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let deployed = d1_statements_of(dev, &id, "api") - before;
    // The deploy in the Worker, then the object reading the workflow and its version and
    // recording its timer: more than the Worker's part alone.
    assert!(deployed > DEPLOY_IN_OBJECT, "{deployed}");
}

/// What the object's deploy action reads and writes in D1: the workflow row, its deployed
/// version, the timer row.
const DEPLOY_IN_OBJECT: u64 = 3;

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
