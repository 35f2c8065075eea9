//! The D1 statement counter of local mode (`GET /__dev/stats`): it counts exactly, per
//! invocation kind and workflow, including what the workflow's object does; it is admin-only,
//! and absent unless `TRIPLINE_DEV_STATS=1`.

use serde_json::json;

use crate::harness::{
    api, create, create_deployed, d1_statements, d1_statements_of, d1_writes, eventually, send,
    shared, Dev, ADMIN_TOKEN,
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

/// Runs of every kind so far in the workflow's list (status, count).
fn finished_runs(dev: &Dev, id: &str) -> usize {
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?limit=100"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|run| run["status"] == "succeeded")
        .count()
}

/// The hot paths stay off D1: accepting a webhook, a schedule's fire and executing the runs
/// make no D1 statement. (Locally the objects share the Worker's isolate, so what they do is
/// counted here too: see `counts_are_exact_per_kind_and_workflow` for a non-zero count.)
/// An OAuth sign-in's run needs the real OAuth server: see
/// `oauth::a_sign_in_run_executes_with_its_carried_token_and_no_d1_statement`.
#[test]
fn ingest_fire_and_execution_make_no_d1_statement() {
    let dev = shared();
    let hook = create_deployed(
        dev,
        &json!({"name": "hot", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "message": "got {{request.body.n}}"}]}),
    );
    for n in 0..5 {
        let body = json!({ "n": n }).to_string();
        let r = send(
            "POST",
            &dev.url(&format!("/hooks/{hook}")),
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 202, "{}", r.text);
    }
    eventually(60, "5 endpoint runs succeeded", || {
        finished_runs(dev, &hook) == 5
    });
    let counts = d1_statements(dev, &hook);
    for kind in ["ingest", "execute", "untagged"] {
        assert_eq!(counts.get(kind), None, "{kind}: {counts:?}");
    }

    let timer = create_deployed(
        dev,
        &json!({"name": "ticks", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 1}},
                "steps": [{"type": "log", "message": "tick"}]}),
    );
    eventually(60, "3 schedule runs succeeded", || {
        finished_runs(dev, &timer) >= 3
    });
    let counts = d1_statements(dev, &timer);
    for kind in ["fire", "execute", "ingest", "untagged"] {
        assert_eq!(counts.get(kind), None, "{kind}: {counts:?}");
    }
    let r = api(dev, "DELETE", &format!("/api/workflows/{timer}"), None);
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
