//! Run engine end to end: steps call a real HTTP server on loopback; retries, timeouts,
//! redaction, replay, and runs surviving a SIGKILL of the runtime.

use std::sync::OnceLock;

use crate::harness::upstream::Upstream;
use crate::harness::*;
use serde_json::{json, Value};

const SECRET: &str = "sk_live_very_secret_value_42";
/// A secret JSON writes escaped (a quote, a line break).
/// A secret that looks like no credential: only knowing it finds it.
const PLAIN_SECRET: &str = "plainkey0123456789";
const QUOTED_SECRET: &str = "sk_quoted\"part\nline_secret_77";
/// A secret a query writes percent-encoded.
const QUERY_SECRET: &str = "qk_secret a+b/c=d&e_99";

fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        Dev::start(
            "engine",
            &[
                ("RUN_LEASE_SECONDS", "3"),
                ("API_TOKEN", SECRET),
                ("QUOTED_TOKEN", QUOTED_SECRET),
                ("QUERY_TOKEN", QUERY_SECRET),
                ("PLAIN_KEY", PLAIN_SECRET),
            ],
        )
    })
}

fn upstream() -> &'static Upstream {
    static UP: OnceLock<Upstream> = OnceLock::new();
    UP.get_or_init(Upstream::start)
}

fn hook(dev: &Dev, id: &str, body: &Value) -> String {
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer caller-credential"),
        ],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    r.json()["run_id"].as_str().unwrap().to_string()
}

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The upstream the steps call answers a burst of new keep-alive connections at once: each
/// connection is served while the others stay open (a pooled server left some of them waiting
/// until their step timed out, and the runs failed).
#[test]
fn the_test_upstream_answers_every_connection_of_a_burst_while_the_others_stay_open() {
    use std::io::{Read, Write};
    const CONNECTIONS: usize = 12;
    // A fresh server each round, idle before its burst, as before a workflow's first runs.
    for _ in 0..3 {
        let up = Upstream::start();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let address = up.base.trim_start_matches("http://").to_string();
        let (start, done) = (
            std::sync::Barrier::new(CONNECTIONS),
            std::sync::Barrier::new(CONNECTIONS),
        );
        let answered: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CONNECTIONS)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let mut conn = std::net::TcpStream::connect(&address).expect("connect");
                        conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                            .unwrap();
                        conn.write_all(
                            b"POST /slow/300/burst HTTP/1.1\r\nhost: up\r\ncontent-length: 0\r\n\r\n",
                        )
                        .unwrap();
                        let mut head = [0u8; 12];
                        let ok = conn.read_exact(&mut head).is_ok() && &head == b"HTTP/1.1 200";
                        // Every connection stays open until each has its answer or gave up,
                        // as the Worker keeps its connections.
                        done.wait();
                        ok
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            answered,
            vec![true; CONNECTIONS],
            "each connection answered"
        );
        assert_eq!(up.received("/slow/300/burst").len(), CONNECTIONS);
    }
}

/// A workflow deleted while its shard's executor is still running (it waits a second for more
/// runs after its last one) ends quietly: the executor finds the storage emptied and stops, rather
/// than failing the alarm on a table that is gone.
#[test]
fn a_workflow_deleted_while_its_executor_runs_stops_it_quietly() {
    let (dev, up) = (dev(), upstream());
    let missing_table = |logs: &str| logs.matches("no such table").count();
    let before = missing_table(&dev.logs());
    for n in 0..3 {
        let path = format!("/echo/{}", unique("deleted"));
        let id = create_deployed(
            dev,
            &json!({
                "name": format!("deleted while running {n}"),
                "trigger": {"type": "endpoint"},
                "steps": [{"type": "http", "name": "call", "url": up.url(&path)}]
            }),
        );
        let run_id = hook(dev, &id, &json!({}));
        // The run ends; the executor then waits a second for more runs.
        assert_eq!(wait_run(dev, &run_id, 30)["status"], "succeeded");
        assert_eq!(up.received(&path).len(), 1);
        let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
        assert_eq!(r.status, 204, "{}", r.text);
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 404, "{}", r.text);
    }
    // Past the executor's wait.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(missing_table(&dev.logs()), before, "{}", dev.logs());
}

#[test]
fn templated_request_arrives_and_types_are_kept() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/echo/{}", unique("tpl"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "templated",
            "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "call", "method": "POST", "url": up.url(&path),
                 "headers": {"x-run": "{{run.id}}", "x-workflow": "{{workflow.id}}"},
                 "query": {"source": "{{request.body.source}}"},
                 "json": {"email": "{{request.body.email}}", "n": "{{request.body.n}}", "tags": "{{request.body.tags}}",
                          "text": "n={{request.body.n}}"}},
                {"type": "log", "name": "after", "message": "upstream said {{steps.call.body.id}} with {{steps.call.status}}"}
            ]
        }),
    );
    let run_id = hook(
        dev,
        &id,
        &json!({"email": "a@b.example", "n": 5, "tags": ["x", "y"], "source": "web"}),
    );
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let got = up.received(&path);
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(
        body,
        json!({"email": "a@b.example", "n": 5, "tags": ["x", "y"], "text": "n=5"})
    );
    assert_eq!(got[0].headers["x-run"], run_id);
    assert_eq!(got[0].headers["x-workflow"], id);
    assert!(got[0].path.ends_with("?source=web"), "{}", got[0].path);
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["status"], "succeeded");
    assert_eq!(steps[0]["attempts"], 1);
    assert_eq!(steps[0]["output"]["status"], 200);
    assert!(steps[0]["started_at"].is_string() && steps[0]["finished_at"].is_string());
    let upstream_id = steps[0]["output"]["body"]["id"].as_i64().unwrap();
    assert_eq!(
        steps[1]["output"]["message"],
        format!("upstream said {upstream_id} with 200")
    );
    assert_eq!(run["input"]["request"]["body"]["n"], 5);
    assert_eq!(run["version"], 1);
    assert_eq!(run["trigger"], "endpoint");
}

#[test]
fn a_step_that_fails_twice_with_503_succeeds_on_the_third_attempt() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/fail/{}/2", unique("flaky"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "flaky", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "url": up.url(&path)}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["attempts"], 3);
    assert_eq!(up.received(&path).len(), 3);
}

/// A JSON answer with a string cut inside an emoji is still JSON to the steps after it.
#[test]
fn a_json_answer_with_an_unpaired_surrogate_is_read_as_json() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({
            "name": "surrogate", "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "call", "url": up.url("/surrogate")},
                {"type": "log", "name": "id", "message": "id {{steps.call.body.id}}"}
            ]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["steps"][0]["output"]["body"]["text"], "cut \u{fffd}",
        "{run}"
    );
    assert_eq!(run["steps"][1]["output"]["message"], "id 7", "{run}");
}

/// A JSON answer starting with a UTF-8 byte order mark is JSON to the steps after it.
#[test]
fn a_json_answer_after_a_byte_order_mark_is_read_as_json() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({
            "name": "bom", "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "call", "url": up.url("/bom")},
                {"type": "log", "name": "id", "message": "id {{steps.call.body.id}}"}
            ]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["output"]["body"], json!({"id": 8}), "{run}");
    assert_eq!(run["steps"][1]["output"]["message"], "id 8", "{run}");
}

/// Each of an answer's `set-cookie` headers reaches the steps after it.
#[test]
fn repeated_set_cookie_headers_are_a_list() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/echo/{}", unique("cookies"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "cookies", "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "login", "url": up.url("/cookies")},
                {"type": "http", "name": "use", "url": up.url(&path),
                 "headers": {"cookie": "{{steps.login.headers.set-cookie.0}}; {{steps.login.headers.set-cookie.1}}"}}
            ]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let got = up.received(&path);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["cookie"], "a=1; b=2; Path=/");
    // Stored redacted, as a credential.
    assert_eq!(
        run["steps"][0]["output"]["headers"]["set-cookie"], "[redacted]",
        "{run}"
    );
}

#[test]
fn retries_exhausted_fail_the_run_with_the_step_and_reason() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/fail/{}/10", unique("down"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "down", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "url": up.url(&path), "retries": 2},
                      {"type": "log", "name": "never", "message": "unreachable"}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(up.received(&path).len(), 3);
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "the step after the failure does not run");
    assert_eq!(steps[0]["status"], "failed");
    assert_eq!(steps[0]["attempts"], 3);
    assert!(steps[0]["error"].as_str().unwrap().contains("503"), "{run}");
    // The last answer is kept with the failure.
    assert_eq!(steps[0]["output"]["status"], 503, "{run}");
    assert_eq!(
        steps[0]["output"]["body"],
        json!({"error": "unavailable"}),
        "{run}"
    );
    let message = run["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("call") && message.contains("503"),
        "{message}"
    );
}

#[test]
fn a_non_2xx_fails_unless_allowed_and_4xx_is_not_retried() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("status");
    let id = create_deployed(
        dev,
        &json!({
            "name": "status", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "allowed", "url": up.url(&format!("/status/404/{tag}a")), "allow_error": true},
                      {"type": "http", "name": "strict", "url": up.url(&format!("/status/404/{tag}b"))}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "failed");
    assert_eq!(run["steps"][0]["status"], "succeeded");
    assert_eq!(run["steps"][0]["output"]["status"], 404);
    assert_eq!(run["steps"][1]["status"], "failed");
    assert_eq!(run["steps"][1]["attempts"], 1);
    assert_eq!(run["steps"][1]["error"], "the server answered HTTP 404");
    assert_eq!(up.received(&format!("/status/404/{tag}b")).len(), 1);
}

/// A step that fails on the server's answer keeps that answer in its record, as its output
/// would be shown: what the server said, with the secrets the request sent redacted.
#[test]
fn a_failed_step_keeps_the_answer_it_failed_on_redacted() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/refuse/422/{}", unique("refused"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "refused", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "method": "POST", "url": up.url(&path),
                       "headers": {"x-api-key": "{{secrets.API_TOKEN}}"},
                       "json": {"email": "{{request.body.email}}", "note": "key {{secrets.API_TOKEN}}"}}]
        }),
    );
    let run_id = hook(dev, &id, &json!({"email": "not-an-address"}));
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "failed", "{run}");
    let step = &run["steps"][0];
    assert_eq!(step["status"], "failed", "{run}");
    assert_eq!(step["error"], "the server answered HTTP 422", "{run}");
    assert_eq!(step["attempts"], 1, "a 422 is not retried: {run}");
    assert_eq!(step["output"]["status"], 422, "{run}");
    // The server's body (here, the request as it got it), its secrets hidden.
    let body = &step["output"]["body"];
    assert_eq!(body["method"], "POST", "{run}");
    assert_eq!(body["body"]["email"], "not-an-address", "{run}");
    assert_eq!(body["body"]["note"], "key [redacted]", "{run}");
    assert_eq!(body["headers"]["x-api-key"], "[redacted]", "{run}");
    assert_eq!(up.received(&path)[0].headers["x-api-key"], SECRET);
    let stored = api(dev, "GET", &format!("/api/runs/{run_id}"), None).text;
    assert!(!stored.contains(SECRET), "the secret leaked: {stored}");
    assert!(!state_contains(dev, SECRET));
}

/// With `allow_error`, a retryable answer (5xx, 429) is still retried; the answer the step keeps
/// is the last one, whatever its status.
#[test]
fn allow_error_still_retries_and_keeps_the_final_answer() {
    let (dev, up) = (dev(), upstream());
    let flaky = format!("/fail/{}/1", unique("allowflaky"));
    let down = format!("/status/503/{}", unique("allowdown"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "allow error retries", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "flaky", "url": up.url(&flaky), "allow_error": true, "retries": 2},
                      {"type": "http", "name": "down", "url": up.url(&down), "allow_error": true, "retries": 1}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["output"]["status"], 200, "{run}");
    assert_eq!(run["steps"][0]["attempts"], 2, "{run}");
    assert_eq!(up.received(&flaky).len(), 2);
    assert_eq!(run["steps"][1]["output"]["status"], 503, "{run}");
    assert_eq!(run["steps"][1]["attempts"], 2, "{run}");
    assert_eq!(up.received(&down).len(), 2);
}

/// A request that cannot be built (a host with a space) is not retried: it would fail again.
#[test]
fn a_request_that_cannot_be_built_is_not_retried() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &json!({
            "name": "unbuildable", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "url": "http://{{request.body.host}}/x", "retries": 2}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({"host": "a b"})), 60);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["steps"][0]["attempts"], 1, "{run}");
    let error = run["steps"][0]["error"].as_str().unwrap();
    assert!(error.contains("could not be built"), "{error}");
}

/// An answer without a body (HEAD) is not refused for the length it declares.
#[test]
fn a_head_of_a_large_resource_succeeds() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/big/20000000/{}", unique("head"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "head", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "head", "method": "HEAD", "url": up.url(&path), "retries": 0}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let output = &run["steps"][0]["output"];
    assert_eq!(output["status"], 200, "{output}");
    assert_eq!(output["headers"]["content-length"], "20000000", "{output}");
    assert_eq!(output["body"], Value::Null, "{output}");
}

/// A JSON answer is recognised by its content type in any letter case.
#[test]
fn a_json_answer_is_parsed_whatever_the_case_of_its_content_type() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({
            "name": "typed", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call",
                       "url": up.url("/typed/Application%2FJSON%3B%20charset%3DUTF-8"), "retries": 0},
                      {"type": "log", "name": "read", "message": "typed={{steps.call.body.typed}}"}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["output"]["body"], json!({"typed": true}));
    assert_eq!(run["steps"][1]["output"]["message"], "typed=true");
}

/// A token answered as text (form-encoded, as GitHub's token endpoint answers by default, or
/// JSON sent as `text/plain`) is hidden in the stored record, as a JSON answer's is; the next
/// step reads the real answer.
#[test]
fn a_token_answered_as_text_is_hidden_in_the_record() {
    let (dev, up) = (dev(), upstream());
    for kind in ["form", "json"] {
        let token = unique(&format!("gho{kind}"));
        let id = create_deployed(
            dev,
            &json!({
                "name": "text token", "trigger": {"type": "endpoint"},
                "steps": [{"type": "http", "name": "login", "retries": 0,
                           "url": up.url(&format!("/texttoken/{kind}/{token}"))},
                          {"type": "http", "name": "use", "retries": 0, "method": "POST",
                           "url": up.url(&format!("/echo/texttoken-{kind}")),
                           "json": {"answer": "{{steps.login.body}}"}}]
            }),
        );
        let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
        assert_eq!(run["status"], "succeeded", "{run}");
        let body = run["steps"][0]["output"]["body"]
            .as_str()
            .expect("a text body");
        assert!(!body.contains(&token), "{kind}: {body}");
        assert!(body.contains("[redacted]"), "{kind}: {body}");
        assert!(body.contains("repo"), "{kind}: the rest is kept: {body}");
        // The next step sent the real answer.
        let sent = up.received(&format!("/echo/texttoken-{kind}"));
        assert_eq!(sent.len(), 1);
        assert!(sent[0].body.contains(&token), "{kind}: {}", sent[0].body);
    }
}

/// Three steps that each answer close to the 8 MiB cap: the run succeeds at its first attempt
/// (the outputs, far past what is kept sealed, are not sealed before each step).
#[test]
fn a_run_of_three_answers_near_the_cap_succeeds() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("three");
    let big = |i: u32| up.url(&format!("/big/8000000/{tag}{i}"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "three big", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "a", "url": big(1), "retries": 0},
                      {"type": "http", "name": "b", "url": big(2), "retries": 0},
                      {"type": "http", "name": "c", "url": big(3), "retries": 0},
                      {"type": "log", "name": "after", "message": "{{steps.a.status}} {{steps.c.status}}"}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 120);
    assert_eq!(run["status"], "succeeded", "{}", run["error"]);
    assert_eq!(run["attempts"], 1, "{}", run["attempts"]);
    assert_eq!(run["steps"][3]["output"]["message"], "200 200");
    for i in 1..=3 {
        assert_eq!(up.received(&format!("/big/8000000/{tag}{i}")).len(), 1);
    }
}

#[test]
fn a_timeout_is_recorded_as_such() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({
            "name": "slow", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "url": up.url(&format!("/slow/3000/{}", unique("t"))), "timeout_ms": 300, "retries": 0}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "failed", "{run}");
    let err = run["steps"][0]["error"].as_str().unwrap();
    assert!(err.contains("timed out after 300 ms"), "{err}");
}

#[test]
fn secrets_and_credentials_are_redacted_in_the_stored_run() {
    let (dev, up) = (dev(), upstream());
    let path = format!("/echo/{}", unique("redact"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "redact", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "method": "POST", "url": up.url(&path),
                       "headers": {"authorization": "Bearer {{secrets.API_TOKEN}}"},
                       "json": {"note": "key={{secrets.API_TOKEN}}", "password": "hunter2"}},
                      {"type": "log", "name": "say", "message": "using {{secrets.API_TOKEN}}"},
                      // JSON sent as text keeps the secret escaped in the request record; the
                      // query sends it percent-encoded, and the echo answers the path with it.
                      {"type": "http", "name": "escaped", "method": "POST", "url": up.url(&path),
                       "headers": {"content-type": "text/plain"},
                       "query": {"q": "{{secrets.QUERY_TOKEN}}"},
                       "json": {"k": "{{secrets.QUOTED_TOKEN}}"}}]
        }),
    );
    let run_id = hook(
        dev,
        &id,
        &json!({"user": "u1", "api_token": "caller-secret-123", "nested": {"password": "p4ss"}}),
    );
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    // The upstream got the real values…
    let got = &up.received(&path)[0];
    assert_eq!(got.headers["authorization"], format!("Bearer {SECRET}"));
    assert!(got.body.contains(SECRET));
    // …the stored run has none of them.
    let stored = api(dev, "GET", &format!("/api/runs/{run_id}"), None).text;
    for needle in [
        SECRET,
        "caller-credential",
        "caller-secret-123",
        "p4ss",
        "hunter2",
    ] {
        assert!(
            !stored.contains(needle),
            "{needle} leaked into the run: {stored}"
        );
    }
    assert_eq!(
        run["input"]["request"]["headers"]["authorization"],
        "[redacted]"
    );
    assert_eq!(run["input"]["request"]["body"]["api_token"], "[redacted]");
    assert_eq!(run["input"]["request"]["body"]["user"], "u1");
    assert!(stored.contains("[redacted]"));
    // And in storage itself (D1 and the objects' SQLite).
    assert!(!state_contains(dev, SECRET) && !state_contains(dev, "caller-credential"));
    // Neither as written, nor as JSON writes it, nor percent-encoded.
    assert_eq!(up.received(&path).len(), 2);
    let forms = secret_forms(&[QUOTED_SECRET, QUERY_SECRET]);
    let run = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
    let mut texts = Vec::new();
    strings(&run, &mut texts);
    for form in &forms {
        for text in &texts {
            assert!(!text.contains(form.as_str()), "{form:?} leaked: {text}");
        }
        // Stored as JSON text: a leaked value is written escaped.
        assert!(
            !state_contains(dev, &json_inner(form)),
            "{form:?} is stored"
        );
    }
}

/// A token an upstream answers under a name that says nothing (`jwt`) is not shown in the run,
/// while a later step reads its real value; a sentence that only begins like a credential
/// ("Token expired, …") is shown.
#[test]
fn a_token_an_upstream_answers_is_hidden_in_the_run_and_read_by_later_steps() {
    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let (dev, up) = (dev(), upstream());
    let login = format!("/echo/{}", unique("login"));
    let next = format!("/echo/{}", unique("next"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "answered token", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "login", "method": "POST", "url": up.url(&login),
                       "json": {"jwt": JWT, "note": "Token expired, please sign in"}},
                      {"type": "http", "name": "use", "method": "POST", "url": up.url(&next),
                       "json": {"got": "{{steps.login.body.body.jwt}}"}}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(up.received(&next)[0].body, json!({"got": JWT}).to_string());
    let answered = &run["steps"][0]["output"]["body"]["body"];
    assert_eq!(answered["jwt"], "[redacted]", "{run}");
    assert_eq!(answered["note"], "Token expired, please sign in", "{run}");
    // (The first step's request shows it: the definition wrote it there.)
    for i in 0..2 {
        let output = run["steps"][i]["output"].to_string();
        assert!(!output.contains(JWT), "step {i}: {output}");
    }
}

/// `s` as JSON writes it inside a string (without the quotes).
fn json_inner(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Each secret as written, as JSON writes it and percent-encoded.
fn secret_forms(secrets: &[&str]) -> Vec<String> {
    let mut forms = Vec::new();
    for s in secrets {
        forms.push(s.to_string());
        forms.push(json_inner(s));
        forms.push(tripline_core::kernel::percent::encode(s));
    }
    forms
}

/// Every string in `v`, object keys included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// A step that reads tens of thousands of credential-looking values from an earlier step's
/// answer keeps every one out of its record, in about the time the values take to read: each
/// value is noted once and each position of the text looked up, not tried against every value.
/// (Noting and scrubbing them took time that grew with their count squared: the run did not
/// end.)
#[test]
fn a_step_reading_tens_of_thousands_of_credential_look_alikes_ends_with_them_hidden() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &json!({
            "name": "look-alikes", "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "fetch", "method": "GET",
                 "url": upstream().url("/lookalikes/80000"), "retries": 0},
                {"type": "log", "name": "say", "message": "{{steps.fetch.body.tokens}}"}
            ]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 120);
    assert_eq!(run["status"], "succeeded", "{}", run["error"]);
    let text = run["steps"].to_string();
    assert!(!text.contains("Bearer t0"), "a look-alike was kept");
    assert!(
        text.contains("[redacted]"),
        "{}",
        &text[..text.len().min(2000)]
    );
}

#[test]
fn replay_creates_a_new_run_with_the_same_input() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &json!({
            "name": "replay", "trigger": {"type": "endpoint"},
            "steps": [{"type": "log", "name": "say", "message": "hello {{request.body.who}}"}]
        }),
    );
    let first = wait_run(dev, &hook(dev, &id, &json!({"who": "ada"})), 60);
    let r = api(
        dev,
        "POST",
        &format!("/api/runs/{}/replay", first["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let second_id = r.json()["run_id"].as_str().unwrap().to_string();
    assert_ne!(second_id, first["id"].as_str().unwrap());
    let second = wait_run(dev, &second_id, 60);
    assert_eq!(second["status"], "succeeded");
    assert_eq!(second["input"], first["input"]);
    assert_eq!(second["trigger"], "replay");
    assert!(second["dedup_key"]
        .as_str()
        .unwrap()
        .starts_with(&format!("replay:{}", first["id"].as_str().unwrap())));
    assert_eq!(second["steps"][0]["output"]["message"], "hello ada");
    assert_eq!(runs(dev, &id).len(), 2);

    // With an `Idempotency-Key`, a replay sent again makes no second run; another key does.
    let replay_keyed = |key: &str| {
        send(
            "POST",
            &dev.url(&format!(
                "/api/runs/{}/replay",
                first["id"].as_str().unwrap()
            )),
            &[
                ("authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("idempotency-key", key),
            ],
            None,
        )
    };
    let keyed = replay_keyed("replay-once");
    assert_eq!(keyed.status, 202, "{}", keyed.text);
    assert_eq!(keyed.header("idempotent-replayed"), None);
    let again = replay_keyed("replay-once");
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json()["run_id"], keyed.json()["run_id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = replay_keyed("replay-twice");
    assert_eq!(other.status, 202, "{}", other.text);
    assert_ne!(other.json()["run_id"], keyed.json()["run_id"]);
    let bad = replay_keyed("  ");
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.locations(), ["header.idempotency-key"]);
    assert_eq!(runs(dev, &id).len(), 4);
    assert_eq!(
        api(
            dev,
            "POST",
            "/api/runs/run_00000000000000000000000000/replay",
            None
        )
        .status,
        404
    );

    // Deployed with another trigger, the workflow's steps read what the run's input never
    // held: refused, nothing made.
    let schedule = json!({
        "name": "replay", "trigger": {"type": "schedule", "schedule": {"kind": "daily", "at": "03:00"}},
        "steps": [{"type": "log", "name": "say", "message": "fired {{schedule.fired_at}}"}]
    });
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&schedule));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(
        dev,
        "POST",
        &format!("/api/runs/{}/replay", first["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["title"], "Trigger changed", "{}", r.text);
    assert_eq!(r.locations(), ["input"], "{}", r.text);
    assert_eq!(
        r.json()["detail"],
        format!(
            "input of run {} holds no `schedule`, which the steps of the deployed version (v2, \
             whose trigger is `schedule`) read: a replay takes runs of the deployed version's \
             trigger",
            first["id"].as_str().unwrap()
        ),
        "{}",
        r.text
    );
    assert_eq!(runs(dev, &id).len(), 4);
    api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
}

#[test]
fn runs_in_flight_when_the_runtime_is_killed_finish_after_a_restart() {
    let up = upstream();
    let mut dev = Dev::start("engine-kill", &[("RUN_LEASE_SECONDS", "2")]);
    let tag = unique("kill");
    let id = create_deployed(
        &dev,
        &json!({
            "name": "kill", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "slow", "url": up.url(&format!("/slow/1500/{tag}")), "timeout_ms": 10000, "retries": 0},
                      {"type": "log", "name": "done", "message": "done"}]
        }),
    );
    let ids: Vec<String> = (0..12).map(|i| hook(&dev, &id, &json!({"i": i}))).collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    dev.restart();
    let unfinished = runs(&dev, &id)
        .iter()
        .filter(|r| r["status"] == "queued" || r["status"] == "running")
        .count();
    assert!(unfinished > 0, "the kill should have left runs unfinished");
    // The lease (2 s + the step's timeout) must expire before the reconciler takes over.
    eventually(120, "every run reaches a final status", || {
        dev.fire_cron();
        let done = runs(&dev, &id)
            .iter()
            .filter(|r| r["status"] == "succeeded" || r["status"] == "failed")
            .count();
        done == ids.len()
    });
    let mut succeeded = 0;
    for run_id in &ids {
        let run = wait_run(&dev, run_id, 5);
        let names: Vec<&str> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        if run["status"] == "succeeded" {
            succeeded += 1;
            assert_eq!(names, ["slow", "done"], "each step recorded once: {run}");
        } else {
            // At least once: a resumed step may fail on its own (a timeout on this busy
            // machine), but it is recorded once and the run is final.
            assert_eq!(names, ["slow"], "{run}");
        }
        assert!(run["attempts"].as_i64().unwrap() >= 1);
    }
    assert!(succeeded > 0, "no run finished its steps after the restart");
}

#[test]
fn restarting_keeps_workflows_and_runs() {
    let mut dev = Dev::start("engine-restart", &[]);
    let id = create_deployed(
        &dev,
        &json!({"name": "keep", "trigger": {"type": "endpoint"},
        "steps": [{"type": "log", "name": "l", "message": "m"}]}),
    );
    let run_id = hook(&dev, &id, &json!({}));
    wait_run(&dev, &run_id, 60);
    dev.restart();
    let w = api(&dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(w.status, 200);
    assert_eq!(w.json()["status"], "deployed");
    let runs = runs(&dev, &id);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "succeeded");
}

#[test]
fn run_history_pages_and_filters_by_status() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({"name": "hist", "trigger": {"type": "endpoint"},
        "steps": [{"type": "http", "name": "c", "url": up.url(&format!("/status/{{{{request.body.code}}}}/{}", unique("h"))), "retries": 0}]}),
    );
    let mut ids = Vec::new();
    for code in [200, 500, 200, 200, 500] {
        let run_id = hook(dev, &id, &json!({"code": code}));
        wait_run(dev, &run_id, 60);
        ids.push(run_id);
    }
    ids.reverse();
    let all = runs(dev, &id);
    let got: Vec<&str> = all.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "newest first"
    );
    let page = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?limit=2"),
        None,
    )
    .json();
    assert_eq!(page["runs"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?limit=2&cursor={next}"),
        None,
    )
    .json();
    assert_eq!(page2["runs"][0]["id"], ids[2].as_str());
    let failed = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?status=failed"),
        None,
    )
    .json();
    assert_eq!(failed["runs"].as_array().unwrap().len(), 2);
    let bad = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?status=done"),
        None,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.locations(), ["query.status"]);
}

/// A step that carries a secret must name its host literally (refused at save, with the
/// location), and it does not follow a redirect to another host: the secret never leaves.
#[test]
fn secrets_only_go_to_the_literal_host() {
    let (dev, up) = (dev(), upstream());
    // A secret read by a template, or a credential written into the step, with a host from the
    // request: refused when saved.
    for headers in [
        json!({"x-api-key": "{{secrets.API_TOKEN}}"}),
        json!({"authorization": "Bearer sk_live_0123456789abcdef"}),
    ] {
        let r = api(
            dev,
            "POST",
            "/api/workflows",
            Some(&json!({
                "name": "host from the request",
                "trigger": {"type": "endpoint"},
                "steps": [{"type": "http", "name": "leak", "url": "https://api.example.com{{request.query.p}}",
                           "headers": headers}]
            })),
        );
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.json()["errors"][0]["location"],
            "steps[0].url",
            "{}",
            r.text
        );
    }

    let elsewhere = Upstream::start();
    let tag = unique("redir");
    let target = elsewhere.url(&format!("/echo/{tag}"));
    let encoded = target.replace(':', "%3A").replace('/', "%2F");
    let id = create_deployed(
        dev,
        &json!({
            "name": "redirected",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "retries": 0,
                       "url": up.url(&format!("/redirect/{tag}?to={encoded}")),
                       "headers": {"x-api-key": "{{secrets.API_TOKEN}}"}}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["steps"][0]["error"].to_string();
    assert!(error.contains("another host"), "{run}");
    assert!(
        elsewhere.received("/").is_empty(),
        "the other host got the secret: {:?}",
        elsewhere.received("/")
    );
    assert_eq!(up.received(&format!("/redirect/{tag}")).len(), 1);
}

/// A `303` to a `HEAD` that carries a secret (followed hop by hop, within its origin) stays a
/// `HEAD`, as a browser's would: no body is asked for, and its output's body is null.
#[test]
fn a_head_step_redirected_with_303_stays_a_head() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("seeother");
    let target = up.url(&format!("/echo/{tag}/there"));
    let encoded = target.replace(':', "%3A").replace('/', "%2F");
    let id = create_deployed(
        dev,
        &json!({
            "name": "head redirected",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "check", "method": "HEAD", "retries": 0,
                       "url": up.url(&format!("/seeother/{tag}?to={encoded}")),
                       "headers": {"x-api-key": "{{secrets.API_TOKEN}}"}}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["output"]["status"], 200, "{run}");
    assert_eq!(run["steps"][0]["output"]["body"], Value::Null, "{run}");
    let there = up.received(&format!("/echo/{tag}/there"));
    assert_eq!(there.len(), 1, "{there:?}");
    assert_eq!(there[0].method, "HEAD");
    assert_eq!(up.received(&format!("/seeother/{tag}"))[0].method, "HEAD");
}

/// An answer with more values than are parsed (`[0,0,…]` as text: tens of MB once parsed) is
/// never parsed for the record: the run ends, its record says the answer is not shown.
#[test]
fn an_answer_over_the_parse_budget_is_not_parsed_for_the_record() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("zeros");
    let id = create_deployed(
        dev,
        &json!({
            "name": "many values",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "list", "retries": 0,
                       "url": up.url(&format!("/zeros/300000?{tag}"))}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let size = 2 * 300_000 + 1;
    assert_eq!(
        run["steps"][0]["output"]["body"],
        format!("[not shown: {size} bytes of JSON, more values or depth than a record reads]"),
        "{}",
        &run.to_string()[..2000.min(run.to_string().len())]
    );
}

/// A step's timeout covers its whole redirect chain: a step that carries a secret follows
/// redirects itself, hop by hop, and two slow hops within its origin add up past the timeout
/// (each alone is within it). The lease that keeps a second executor away counts one timeout
/// per attempt.
#[test]
fn a_timeout_covers_every_redirect_of_a_step() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("slowhops");
    let encode = |u: &str| {
        u.replace('%', "%25")
            .replace(':', "%3A")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('=', "%3D")
            .replace('&', "%26")
    };
    let last = up.url(&format!("/echo/{tag}"));
    let second = up.url(&format!("/redirect/{tag}/2?wait=700&to={}", encode(&last)));
    let first = up.url(&format!(
        "/redirect/{tag}/1?wait=700&to={}",
        encode(&second)
    ));
    let id = create_deployed(
        dev,
        &json!({
            "name": "slow redirects",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "call", "retries": 0, "timeout_ms": 1000,
                       "url": first, "headers": {"x-api-key": "{{secrets.API_TOKEN}}"}}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 60);
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["steps"][0]["error"].to_string();
    assert!(error.contains("timed out after 1000 ms"), "{run}");
    assert_eq!(up.received(&format!("/redirect/{tag}/1")).len(), 1);
    assert!(up.received(&format!("/echo/{tag}")).is_empty());
}

/// A response larger than the cap is never buffered: with a Content-Length it is refused before
/// reading, without one (or with a compressed one: gzip that expands past the cap) reading stops
/// at the cap; the step fails saying so, without retrying.
#[test]
fn oversized_responses_are_cut_at_the_cap_and_recorded() {
    let (dev, up) = (dev(), upstream());
    for path in ["/big/20000000", "/bigchunked/20000000", "/biggzip/20000000"] {
        let id = create_deployed(
            dev,
            &json!({
                "name": "big answer",
                "trigger": {"type": "endpoint"},
                "steps": [{"type": "http", "name": "big", "url": up.url(path), "retries": 2}]
            }),
        );
        let run = wait_run(dev, &hook(dev, &id, &json!({})), 120);
        assert_eq!(run["status"], "failed", "{path}: {run}");
        let step = &run["steps"][0];
        assert_eq!(step["attempts"], 1, "{path}: not retried: {step}");
        let error = step["error"].to_string();
        assert!(error.contains("8388608"), "{path}: {error}");
    }
    assert_eq!(send("GET", &dev.url("/healthz"), &[], None).status, 200);
}

/// Runs left in D1 by an earlier version stay readable; a Cron pass moves them into their
/// workflow's shard object: unfinished ones finish there, after the steps they had already
/// done; finished ones are kept as they ended, so that a repeat of their cause (an idempotency
/// key) is answered with them, not run again. One whose cause has made a run in the shard since
/// stays readable in D1 (an unfinished one ended) and is not moved.
#[test]
fn runs_of_an_earlier_version_stay_readable_and_move_into_their_shard() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    // Its own instance: the rows are written into D1 while no other test's request uses it.
    let dev = &Dev::start("engine-legacy", &[("RUN_LEASE_SECONDS", "3")]);
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy",
            "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "log", "name": "a", "message": "a ran again"},
                {"type": "log", "name": "b", "message": "b ran"}
            ]
        }),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let tag = unique("legacy");
    let legacy_id = |ms: u64, n: u8| new_legacy_run_id(ms, &[n, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
    let finished = legacy_id(now - 3_000, 1);
    let unfinished = legacy_id(now - 2_000, 2);
    let expired = legacy_id(1_600_000_000_000, 3);
    let insert =
        |run_id: &str, key: &str, status: &str, steps: &Value, created: u64| {
            let done = matches!(status, "succeeded" | "failed");
            let at = iso_millis(created as i64);
            dev.d1_write(&format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
               attempts, lease_until, created_at, started_at, finished_at)
             VALUES ('{run_id}', '{id}', 1, 'endpoint', '{key}', '{status}',
               '{{\"request\": {{\"body\": {{\"n\": 1}}}}}}', '{}', 1, 0, '{at}', '{at}', {})",
            steps.to_string().replace('\'', "''"),
            if done { format!("'{at}'") } else { "NULL".into() }
        ));
        };
    let record = |name: &str, message: &str| {
        json!({"name": name, "type": "log", "status": "succeeded", "attempts": 1,
               "started_at": "2026-01-01T00:00:00.000Z", "finished_at": "2026-01-01T00:00:00.001Z",
               "output": {"message": message}, "error": null})
    };
    insert(
        &finished,
        &format!("idempotency:{tag}-f"),
        "succeeded",
        &json!([record("a", "old a"), record("b", "old b")]),
        now - 3_000,
    );
    // What its key promised, as earlier versions stored it.
    let body = br#"{"n": 1}"#;
    let promised =
        tripline_core::endpoint::runtime::fingerprint("POST", &format!("/hooks/{id}"), body);
    dev.d1_write(&format!(
        "UPDATE runs SET fingerprint = '{promised}' WHERE id = '{finished}'"
    ));
    // Died after its first step, in the old layout.
    insert(
        &unfinished,
        &format!("{tag}-u"),
        "running",
        &json!([record("a", "kept from before")]),
        now - 2_000,
    );
    insert(
        &expired,
        &format!("{tag}-e"),
        "succeeded",
        &json!([]),
        1_600_000_000_000,
    );

    // Its cause came again after the upgrade: its key made a run in the shard.
    let other = create_deployed(
        dev,
        &json!({"name": "legacy taken", "trigger": {"type": "endpoint"},
                "steps": [{"type": "log", "name": "a", "message": "a ran"}]}),
    );
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{other}")),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", &format!("{tag}-t")),
        ],
        Some(b"{}"),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let holder = r.json()["run_id"].as_str().unwrap().to_string();
    let taken = legacy_id(now - 1_000, 4);
    let at = iso_millis(now as i64 - 1_000);
    dev.d1_write(&format!(
        "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
           attempts, lease_until, created_at)
         VALUES ('{taken}', '{other}', 1, 'endpoint', 'idempotency:{tag}-t', 'queued',
           '{{\"request\": {{\"body\": {{}}}}}}', '[]', 0, 0, '{at}')"
    ));
    // A finished one whose cause came again too: it stays as it ended.
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{other}")),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", &format!("{tag}-t2")),
        ],
        Some(b"{}"),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let second_holder = r.json()["run_id"].as_str().unwrap().to_string();
    let taken_done = legacy_id(now - 500, 5);
    dev.d1_write(&format!(
        "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
           attempts, lease_until, created_at, started_at, finished_at)
         VALUES ('{taken_done}', '{other}', 1, 'endpoint', 'idempotency:{tag}-t2', 'succeeded',
           '{{\"request\": {{\"body\": {{}}}}}}', '[]', 1, 0, '{at}', '{at}', '{at}')"
    ));

    // Readable before any Cron pass, one by one and in the list.
    let r = api(dev, "GET", &format!("/api/runs/{finished}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "succeeded");
    assert_eq!(r.json()["steps"][1]["output"]["message"], "old b");
    let listed: Vec<String> = runs(dev, &id)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        listed.contains(&finished) && listed.contains(&unfinished),
        "{listed:?}"
    );

    dev.fire_cron();
    // Moved: gone from D1's runs, noted where they went; the expired one is deleted.
    let left = dev.d1(&format!(
        "SELECT id FROM runs WHERE id IN ('{finished}', '{unfinished}', '{expired}')"
    ));
    assert_eq!(left, Vec::<Value>::new(), "{left:?}");
    for moved_id in [&unfinished, &finished] {
        let moved = dev.d1(&format!(
            "SELECT workflow_id, shard FROM run_moves WHERE id = '{moved_id}'"
        ));
        assert_eq!(moved, vec![json!({"workflow_id": id, "shard": 0})]);
    }
    // The finished one reads as it ended, from its shard.
    let r = api(dev, "GET", &format!("/api/runs/{finished}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "succeeded", "{}", r.text);
    assert_eq!(r.json()["steps"][1]["output"]["message"], "old b");
    assert_eq!(r.json()["finished_at"], iso_millis(now as i64 - 3_000));
    // Its cause again: the same request is answered with it; another with its key is refused.
    let hook = dev.url(&format!("/hooks/{id}"));
    let key = format!("{tag}-f");
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", key.as_str()),
    ];
    let again = send("POST", &hook, &headers, Some(body));
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json()["run_id"], finished.as_str(), "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other_body = send("POST", &hook, &headers, Some(br#"{"n": 2}"#));
    assert_eq!(other_body.status, 422, "{}", other_body.text);
    assert_eq!(
        other_body.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(runs(dev, &id).len(), 2, "no run made by either");

    // It finishes in its object after the step it had done (not run again), and keeps its id.
    let run = wait_run(dev, &unfinished, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["id"], unfinished.as_str());
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{run}");
    assert_eq!(steps[0]["output"]["message"], "kept from before");
    assert_eq!(steps[1]["output"]["message"], "b ran");
    assert_eq!(run["dedup_key"], format!("{tag}-u"));

    // The list shows each run once; the expired one is gone.
    let listed: Vec<String> = runs(dev, &id)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, vec![unfinished.clone(), finished.clone()]);
    let r = api(dev, "GET", &format!("/api/runs/{expired}"), None);
    assert_eq!(r.status, 404, "{}", r.text);

    // Not moved: it stays in D1, ended, naming the run that holds its key; that one is untouched.
    let taken_run = || {
        let r = api(dev, "GET", &format!("/api/runs/{taken}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    let ended = taken_run();
    assert_eq!(ended["status"], "failed", "{ended}");
    let message = ended["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&holder), "{ended}");
    assert!(ended["finished_at"].is_string(), "{ended}");
    let none = dev.d1(&format!("SELECT id FROM run_moves WHERE id = '{taken}'"));
    assert!(none.is_empty(), "{none:?}");
    // The finished one stays as it ended, and no pass tries it again.
    let kept = dev.d1(&format!(
        "SELECT status, error, lease_until FROM runs WHERE id = '{taken_done}'"
    ));
    assert_eq!(
        kept,
        vec![json!({"status": "succeeded", "error": null, "lease_until": -1})]
    );
    let listed: Vec<String> = runs(dev, &other)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        vec![
            second_holder.clone(),
            holder.clone(),
            taken_done.clone(),
            taken.clone()
        ]
    );

    // A pass that died after the shard took a run and before D1 forgot it left the row; the
    // next one finds the run already there under its own id, and forgets the row.
    insert(
        &unfinished,
        &format!("{tag}-u"),
        "running",
        &json!([record("a", "kept from before")]),
        now - 2_000,
    );
    // Until then the run reads as its shard holds it, one by one as in the list (a read of the
    // run answered the stale D1 row before).
    let run = api(dev, "GET", &format!("/api/runs/{unfinished}"), None);
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json()["status"], "succeeded", "{}", run.text);
    assert_eq!(run.json()["steps"][1]["output"]["message"], "b ran");

    // A second pass moves nothing again and leaves the finished one readable.
    dev.fire_cron();
    let r = api(dev, "GET", &format!("/api/runs/{finished}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(runs(dev, &id).len(), 2);
    let left = dev.d1(&format!(
        "SELECT id FROM runs WHERE id IN ('{finished}', '{unfinished}')"
    ));
    assert_eq!(left, Vec::<Value>::new(), "{left:?}");
    let run = wait_run(dev, &unfinished, 10);
    assert_eq!(run["steps"][1]["output"]["message"], "b ran", "{run}");
    // The ended one is left as it was, and not moved.
    assert_eq!(taken_run(), ended);
    let none = dev.d1(&format!("SELECT id FROM run_moves WHERE id = '{taken}'"));
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(runs(dev, &other).len(), 4);
}

/// Large request bodies of runs left unfinished in D1 by an earlier version (which kept up to
/// 1 000 000 bytes of input in the row and a larger body, up to 10 MiB, in `run_payloads`)
/// move whole, and each Cron pass moves runs within its byte budget (8 MiB): one too large for
/// it moves alone, and the next ones wait for the next pass.
#[test]
fn large_bodies_of_unfinished_runs_of_an_earlier_version_move_whole_within_a_budget() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start(
        "engine-legacy-large",
        &[("RUN_LEASE_SECONDS", "3"), ("TRIPLINE_DEV_ACTIONS", "1")],
    );
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy large",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "log", "name": "tail", "message": "tail {{request.body.tail}}"}]
        }),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let tag = unique("large");
    const MIB: usize = 1024 * 1024;
    // (tail, characters of padding, kept in pieces), in the order of their leases.
    let runs: Vec<(&str, usize, bool)> = vec![
        ("huge", 9 * MIB, true),
        ("inline", 900_000, false),
        ("a", 2 * MIB, true),
        ("b", 2 * MIB, true),
        ("c", 2 * MIB, true),
        ("d", 2 * MIB, true),
    ];
    let ids: Vec<String> = (0..runs.len())
        .map(|n| {
            new_legacy_run_id(
                now - 2_000 + n as u64,
                &[n as u8, 9, 9, 9, 9, 9, 9, 9, 9, 9],
            )
        })
        .collect();
    let at = iso_millis(now as i64 - 2_000);
    for (n, (tail, pad, in_pieces)) in runs.iter().enumerate() {
        let run_id = &ids[n];
        // The body's JSON text, built by SQLite (a statement's text cannot be megabytes).
        let body =
            format!("'{{\"pad\":\"' || replace(hex(zeroblob({pad})), '00', 'x') || '\",\"tail\":\"{tail}\"}}'");
        let input = if *in_pieces {
            let pieces = (pad + 20 + tail.len()).div_ceil(1_000_000);
            dev.d1_write(&format!(
                "WITH body(t) AS (SELECT {body}),
                   seq(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM seq, body
                              WHERE (k + 1) * 1000000 < length(t))
                 INSERT INTO run_payloads (run_id, seq, data)
                 SELECT '{run_id}', k, substr(t, k * 1000000 + 1, 1000000) FROM seq, body"
            ));
            format!("'{{\"request\": {{\"method\": \"POST\", \"body_pieces\": {pieces}}}}}'")
        } else {
            format!("'{{\"request\": {{\"method\": \"POST\", \"body\": ' || {body} || '}}}}'")
        };
        dev.d1_write(&format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
               attempts, lease_until, created_at)
             VALUES ('{run_id}', '{id}', 1, 'endpoint', '{tag}-{tail}', 'queued', {input}, '[]',
               0, {lease}, '{at}')",
            lease = n + 1
        ));
    }
    let left = || -> Vec<String> {
        dev.d1(&format!(
            "SELECT id FROM runs WHERE workflow_id = '{id}' ORDER BY lease_until"
        ))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
    };
    assert_eq!(left(), ids);

    // The first run is over the budget: it moves alone.
    dev.fire_cron();
    assert_eq!(
        left(),
        ids[1..].to_vec(),
        "the first pass moves the huge run alone"
    );
    // Then as many as fit: 0.9 MB + 3 × 2 MiB; a fourth 2 MiB would pass 8 MiB.
    dev.fire_cron();
    assert_eq!(
        left(),
        ids[5..].to_vec(),
        "the second pass stops at the budget"
    );
    dev.fire_cron();
    assert!(left().is_empty());

    // Each executed with its whole body, and shows it whole.
    for (n, (tail, pad, _)) in runs.iter().enumerate() {
        let run = wait_run(dev, &ids[n], 120);
        assert_eq!(run["status"], "succeeded", "{tail}: {}", run["error"]);
        assert_eq!(run["steps"][0]["output"]["message"], format!("tail {tail}"));
        let body = &run["input"]["request"]["body"];
        assert_eq!(body["tail"], *tail);
        assert_eq!(body["pad"].as_str().map(str::len), Some(*pad), "{tail}");
    }
    // The shard counted the moved bodies in their stored size: the huge one executed with at
    // least its body's bytes in flight.
    let fresh = hook(dev, &id, &json!({"tail": "new"}));
    let counters = api(dev, "GET", &format!("/api/dev/runs/{fresh}/claims"), None).json();
    let flight = counters["flight_bytes_max"].as_u64().unwrap_or(0) as usize;
    assert!(flight >= 9 * MIB, "{counters}");
}

/// A finished run of an earlier version whose request body was kept in `run_payloads` moves
/// with its whole body (kept in pieces in its shard), so it still reads whole and replays.
#[test]
fn a_finished_run_of_an_earlier_version_moves_with_its_whole_body() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start("engine-legacy-finished-large", &[]);
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy finished large",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "log", "name": "tail", "message": "tail {{request.body.tail}}"}]
        }),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let run_id = new_legacy_run_id(now - 2_000, &[4, 2, 4, 2, 4, 2, 4, 2, 4, 2]);
    let pad: usize = 2 * 1024 * 1024;
    let body = format!(
        "'{{\"pad\":\"' || replace(hex(zeroblob({pad})), '00', 'x') || '\",\"tail\":\"end\"}}'"
    );
    let pieces = (pad + 23).div_ceil(1_000_000);
    dev.d1_write(&format!(
        "WITH body(t) AS (SELECT {body}),
           seq(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM seq, body
                      WHERE (k + 1) * 1000000 < length(t))
         INSERT INTO run_payloads (run_id, seq, data)
         SELECT '{run_id}', k, substr(t, k * 1000000 + 1, 1000000) FROM seq, body"
    ));
    let at = iso_millis(now as i64 - 2_000);
    dev.d1_write(&format!(
        "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
           attempts, lease_until, created_at, started_at, finished_at)
         VALUES ('{run_id}', '{id}', 1, 'endpoint', 'finished-large', 'succeeded',
           '{{\"request\": {{\"method\": \"POST\", \"body_pieces\": {pieces}}}}}', '[]',
           1, 0, '{at}', '{at}', '{at}')"
    ));
    dev.fire_cron();
    assert!(dev
        .d1(&format!("SELECT id FROM runs WHERE id = '{run_id}'"))
        .is_empty());
    let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let run = r.json();
    assert_eq!(run["status"], "succeeded");
    assert_eq!(
        run["input"]["request"]["body"]["tail"],
        "end",
        "{}",
        &r.text[..300.min(r.text.len())]
    );
    assert_eq!(
        run["input"]["request"]["body"]["pad"]
            .as_str()
            .map(str::len),
        Some(pad)
    );
    // Whole, so it replays (a cut input is refused with 409).
    let r = api(dev, "POST", &format!("/api/runs/{run_id}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let replayed = wait_run(dev, r.json()["run_id"].as_str().unwrap(), 60);
    assert_eq!(
        replayed["steps"][0]["output"]["message"], "tail end",
        "{replayed}"
    );
}

/// The milliseconds since the epoch, now.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A run left `running` in D1 by an earlier version, whose step records are over the size a
/// shard stores as is (400 KiB: D1 kept them uncapped, and an http step's record holds its whole
/// request body): once moved, its records are cut but stay records, so it resumes after the
/// step it had done without sending that step's request again.
#[test]
fn an_unfinished_run_of_an_earlier_version_with_large_step_records_moves_and_resumes() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let up = upstream();
    let dev = &Dev::start("engine-legacy-steps", &[("RUN_LEASE_SECONDS", "3")]);
    let tag = unique("steps");
    let (first, second) = (format!("/echo/{tag}/first"), format!("/echo/{tag}/second"));
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy steps",
            "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "first", "method": "POST", "url": up.url(&first),
                 "json": {"pad": "{{request.body.pad}}"}},
                {"type": "http", "name": "second", "url": up.url(&second)}
            ]
        }),
    );
    let now = now_ms();
    let run_id = new_legacy_run_id(now - 2_000, &[5, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    let at = iso_millis(now as i64 - 2_000);
    // The first step succeeded with a ~450 KB request body (the text built by SQLite).
    let steps = format!(
        "'[{{\"name\":\"first\",\"type\":\"http\",\"status\":\"succeeded\",\"attempts\":1,
           \"started_at\":\"{at}\",\"finished_at\":\"{at}\",
           \"request\":{{\"method\":\"POST\",\"url\":\"{url}\",\"body\":{{\"pad\":\"'
           || replace(hex(zeroblob(450000)), '00', 'x')
           || '\"}}}},\"output\":{{\"status\":200,\"body\":{{\"id\":7}}}},\"error\":null}}]'",
        url = up.url(&first)
    );
    dev.d1_write(&format!(
        "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
           attempts, lease_until, created_at, started_at)
         VALUES ('{run_id}', '{id}', 1, 'endpoint', '{tag}', 'running',
           '{{\"request\": {{\"body\": {{\"pad\": \"p\"}}}}}}', {steps}, 1, 0, '{at}', '{at}')"
    ));
    let size = dev.d1(&format!(
        "SELECT length(steps) AS n FROM runs WHERE id = '{run_id}'"
    ));
    assert!(size[0]["n"].as_u64().unwrap() > 450_000, "{size:?}");

    dev.fire_cron();
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    // The step it had done is not sent again; the next one is.
    assert_eq!(up.received(&first).len(), 0, "the first step ran again");
    assert_eq!(up.received(&second).len(), 1);
    let steps = run["steps"].as_array().expect("the steps are an array");
    assert_eq!(steps.len(), 2, "{run}");
    assert_eq!(steps[0]["name"], "first");
    assert_eq!(steps[0]["status"], "succeeded");
    assert_eq!(steps[0]["output"]["body"]["id"], 7);
    assert_eq!(steps[0]["request"]["truncated"], true, "{}", steps[0]);
    assert_eq!(steps[1]["name"], "second");
    assert_eq!(steps[1]["status"], "succeeded");
}

/// Runs left queued in D1 by an earlier version whose input is larger than a new run's may be
/// (D1 kept a polled record's input up to 1 000 000 bytes; a shard takes 800 KiB for a new one):
/// one that still fits the row with its steps, reply and error at their caps moves whole and
/// runs on its whole input; a larger one moves as a failed run saying so, never runs cut.
#[test]
fn large_inputs_of_queued_runs_of_an_earlier_version_run_whole_or_fail_saying_so() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start("engine-legacy-input", &[("RUN_LEASE_SECONDS", "3")]);
    // A poll workflow, as the runs' trigger (a replay takes runs of the deployed trigger); its
    // source answers nothing, so it makes no run of its own.
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy input",
            "trigger": {"type": "poll", "interval_seconds": 3600, "start": "beginning",
                        "source": {"kind": "http", "url": "http://127.0.0.1:9/items", "items": "/data", "id": "/id"}},
            "steps": [{"type": "log", "name": "a", "message": "ran"}]
        }),
    );
    let now = now_ms();
    let tag = unique("input");
    let at = iso_millis(now as i64 - 2_000);
    let insert = |n: u8, pad: usize| {
        let run_id = new_legacy_run_id(now - 2_000 + n as u64, &[n, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
        dev.d1_write(&format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
               attempts, lease_until, created_at)
             VALUES ('{run_id}', '{id}', 1, 'poll', '{tag}-{n}', 'queued',
               '{{\"event\":{{\"record\":{{\"pad\":\"' || replace(hex(zeroblob({pad})), '00', 'x')
                 || '\",\"tail\":\"end\"}}}}}}', '[]', 0, 0, '{at}')"
        ));
        run_id
    };
    let whole = insert(1, 900_000);
    let over = insert(2, 1_200_000);

    dev.fire_cron();
    let run = wait_run(dev, &whole, 60);
    assert_eq!(run["status"], "succeeded", "{}", run["error"]);
    let record = &run["input"]["event"]["record"];
    assert_eq!(record["pad"].as_str().map(str::len), Some(900_000));
    assert_eq!(record["tail"], "end");

    let run = wait_run(dev, &over, 60);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "input_too_large", "{}", run["error"]);
    let bytes = run["error"]["bytes"].as_u64().unwrap();
    assert!(bytes > 1_200_000, "{}", run["error"]);
    let message = run["error"]["message"].as_str().unwrap();
    assert!(message.contains(&bytes.to_string()), "{message}");
    assert_eq!(run["input"]["truncated"], true, "{}", run["input"]);
    assert_eq!(run["steps"], json!([]));

    // Neither is replayed on a cut input: the one too large for a new run is a 413, the one
    // stored cut a 409, each at `input`, and no run is made.
    for (run_id, status, says) in [
        (&whole, 413, "a new run can store at most"),
        (&over, 409, "was cut when it was stored"),
    ] {
        let r = api(dev, "POST", &format!("/api/runs/{run_id}/replay"), None);
        assert_eq!(r.status, status, "{}", r.text);
        let problem = r.json();
        assert_eq!(problem["errors"][0]["location"], "input", "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    assert_eq!(runs(dev, &id).len(), 2);
}

/// Unfinished runs of an earlier version move to the shard a new run of their trigger and key
/// goes to: an endpoint run by the deployed `shards`, a schedule, OAuth or replay run to shard 0
/// (where a retried slot or callback looks for it).
#[test]
fn unfinished_runs_of_an_earlier_version_move_to_the_shard_of_their_trigger() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::shard::shard_for;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start("engine-legacy-shards", &[("RUN_LEASE_SECONDS", "3")]);
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy shards",
            "trigger": {"type": "endpoint"},
            "shards": 4,
            "steps": [{"type": "log", "name": "a", "message": "ran"}]
        }),
    );
    let tag = unique("spread");
    let triggers = ["endpoint", "schedule", "oauth", "replay"];
    // A key whose runs 4 shards would put outside shard 0, whatever their trigger.
    let key = (0..)
        .map(|n| format!("{tag}-{n}"))
        .find(|k| {
            triggers
                .iter()
                .all(|t| shard_for(&format!("{t}:{k}"), 4) != 0)
        })
        .unwrap();
    let now = now_ms();
    let at = iso_millis(now as i64 - 2_000);
    let mut expected = Vec::new();
    for (n, trigger) in ["endpoint", "schedule", "oauth", "replay"]
        .iter()
        .enumerate()
    {
        let run_id = new_legacy_run_id(
            now - 2_000 + n as u64,
            &[n as u8, 4, 4, 4, 4, 4, 4, 4, 4, 4],
        );
        let dedup = format!("{trigger}:{key}");
        dev.d1_write(&format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
               attempts, lease_until, created_at)
             VALUES ('{run_id}', '{id}', 1, '{trigger}', '{dedup}', 'queued',
               '{{\"request\": {{\"body\": {{}}}}}}', '[]', 0, 0, '{at}')"
        ));
        let shard = match *trigger {
            "endpoint" => shard_for(&dedup, 4),
            _ => 0,
        };
        expected.push((run_id, shard));
    }
    dev.fire_cron();
    for (run_id, shard) in &expected {
        let moved = dev.d1(&format!(
            "SELECT shard FROM run_moves WHERE id = '{run_id}'"
        ));
        assert_eq!(moved.len(), 1, "{run_id} moved: {moved:?}");
        assert_eq!(
            moved[0]["shard"].as_u64(),
            Some(u64::from(*shard)),
            "{run_id}"
        );
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["id"], run_id.as_str());
    }
}

/// A legacy run noted in `run_moves` by a pass that began to move it (and died before it
/// forgot the run in D1) goes to the noted shard again, not to the one the workflow's
/// `shards` name now: the shard that may already hold it finds it by its dedup key.
#[test]
fn a_legacy_run_an_earlier_pass_began_to_move_goes_to_the_noted_shard() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::shard::shard_for;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start("engine-legacy-noted", &[("RUN_LEASE_SECONDS", "3")]);
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy noted",
            "trigger": {"type": "endpoint"},
            "shards": 4,
            "steps": [{"type": "log", "name": "a", "message": "ran"}]
        }),
    );
    let key = unique("noted");
    let now_shard = shard_for(&key, 4);
    let noted = (now_shard + 1) % 4;
    let now = now_ms();
    let at = iso_millis(now as i64 - 2_000);
    let run_id = new_legacy_run_id(now - 2_000, &[7, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    dev.d1_write(&format!(
        "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
           attempts, lease_until, created_at)
         VALUES ('{run_id}', '{id}', 1, 'endpoint', '{key}', 'queued',
           '{{\"request\": {{\"body\": {{}}}}}}', '[]', 0, 0, '{at}')"
    ));
    dev.d1_write(&format!(
        "INSERT INTO run_moves (id, workflow_id, shard, created_at)
         VALUES ('{run_id}', '{id}', {noted}, '{at}')"
    ));
    dev.fire_cron();
    let moved = dev.d1(&format!(
        "SELECT shard FROM run_moves WHERE id = '{run_id}'"
    ));
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        moved[0]["shard"].as_u64(),
        Some(u64::from(noted)),
        "{moved:?}"
    );
    assert!(dev
        .d1(&format!("SELECT id FROM runs WHERE id = '{run_id}'"))
        .is_empty());
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
}

/// Runs of an earlier version whose shard refuses their move wait a few minutes before the
/// passes try them again: the runs behind them move meanwhile, instead of waiting behind the
/// same refused batch every pass.
#[test]
fn legacy_runs_a_shard_refuses_do_not_hold_up_the_runs_behind_them() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start(
        "engine-legacy-refused",
        &[
            ("RUN_LEASE_SECONDS", "3"),
            ("TRIPLINE_DEV_FAULTS", "move-v1"),
        ],
    );
    let def = |name: &str| {
        json!({
            "name": name,
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "log", "name": "a", "message": "ran"}]
        })
    };
    let id = create_deployed(dev, &def("legacy refused"));
    redeploy(dev, &id, &def("legacy refused, version 2"));
    let tag = unique("refused");
    let now = now_ms();
    let at = iso_millis(now as i64 - 2_000);
    // A full pass (50) of version 1 runs, which the shard refuses, then one of version 2.
    let run_id = |n: usize| {
        new_legacy_run_id(
            now - 2_000 + n as u64,
            &[n as u8, 6, 6, 6, 6, 6, 6, 6, 6, 6],
        )
    };
    let values: Vec<String> = (0..=50)
        .map(|n| {
            format!(
                "('{}', '{id}', {version}, 'endpoint', '{tag}-{n}', 'queued',
                  '{{\"request\": {{\"body\": {{}}}}}}', '[]', 0, {lease}, '{at}')",
                run_id(n),
                version = if n < 50 { 1 } else { 2 },
                lease = n + 1
            )
        })
        .collect();
    dev.d1_write(&format!(
        "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
           attempts, lease_until, created_at) VALUES {}",
        values.join(", ")
    ));
    let in_d1 = |version: u8| {
        dev.d1(&format!(
            "SELECT id FROM runs WHERE workflow_id = '{id}' AND version = {version}"
        ))
        .len()
    };
    dev.fire_cron();
    assert_eq!(in_d1(1), 50, "refused");
    assert_eq!(in_d1(2), 1, "behind the refused ones");
    // They wait out their retry: the next pass moves the run behind them.
    let waiting = dev.d1(&format!(
        "SELECT count(*) AS n FROM runs WHERE workflow_id = '{id}' AND version = 1
           AND lease_until > {now}"
    ));
    assert_eq!(waiting[0]["n"], 50, "{waiting:?}");
    dev.fire_cron();
    assert_eq!(in_d1(2), 0, "moved");
    assert_eq!(in_d1(1), 50);
    let run = wait_run(dev, &run_id(50), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["version"], 2, "{run}");
}

/// The step records of unfinished runs of an earlier version (which it stored uncapped) count
/// in a pass's 8 MiB with their inputs: a pass moves the runs that fit, the next the rest.
#[test]
fn large_step_records_of_legacy_runs_count_in_a_pass_budget() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let dev = &Dev::start("engine-legacy-records", &[("RUN_LEASE_SECONDS", "3")]);
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy records",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "log", "name": "a", "message": "ran"}]
        }),
    );
    let tag = unique("records");
    let now = now_ms();
    let at = iso_millis(now as i64 - 2_000);
    // Eight runs with 1.2 MB of step records each (built by SQLite), whose step succeeded.
    let ids: Vec<String> = (0..8)
        .map(|n| {
            new_legacy_run_id(
                now - 2_000 + n as u64,
                &[n as u8, 8, 8, 8, 8, 8, 8, 8, 8, 8],
            )
        })
        .collect();
    for (n, run_id) in ids.iter().enumerate() {
        dev.d1_write(&format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
               attempts, lease_until, created_at, started_at)
             VALUES ('{run_id}', '{id}', 1, 'endpoint', '{tag}-{n}', 'running',
               '{{\"request\": {{\"body\": {{}}}}}}',
               '[{{\"name\":\"a\",\"type\":\"log\",\"status\":\"succeeded\",\"attempts\":1,
                  \"started_at\":\"{at}\",\"finished_at\":\"{at}\",\"output\":{{\"message\":\"'
               || replace(hex(zeroblob(1200000)), '00', 'x') || '\"}},\"error\":null}}]',
               1, {lease}, '{at}', '{at}')",
            lease = n + 1
        ));
    }
    let left = || -> Vec<String> {
        dev.d1(&format!(
            "SELECT id FROM runs WHERE workflow_id = '{id}' ORDER BY lease_until"
        ))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
    };
    // Six fit 8 MiB (7.2 MB); a seventh would pass it.
    dev.fire_cron();
    assert_eq!(
        left(),
        ids[6..].to_vec(),
        "the first pass stops at the budget"
    );
    dev.fire_cron();
    assert!(left().is_empty());
    for run_id in &ids {
        let run = wait_run(dev, run_id, 60);
        assert_eq!(run["status"], "succeeded", "{run_id}: {}", run["error"]);
        assert_eq!(run["steps"].as_array().map(Vec::len), Some(1), "{run_id}");
    }
}

/// An unfinished run of an earlier version older than the retention window stays readable by
/// its id once a Cron pass has moved it: the pass that moves it does not forget where it went.
/// Once it ended it is kept a retention from its end, so a pass that moved it again (its D1 row
/// was kept: the pass before could not forget it) finds it there and it is not executed twice.
#[test]
fn a_moved_run_of_an_earlier_version_older_than_retention_stays_readable() {
    use tripline_core::kernel::ids::new_legacy_run_id;
    use tripline_core::kernel::time::iso_millis;
    let up = upstream();
    let dev = &Dev::start(
        "engine-legacy-old",
        &[("RUN_LEASE_SECONDS", "3"), ("RUN_RETENTION_DAYS", "1")],
    );
    let tag = unique("old");
    let id = create_deployed(
        dev,
        &json!({
            "name": "legacy old",
            "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "slow", "url": up.url(&format!("/slow/4000/{tag}"))}]
        }),
    );
    let created = now_ms() - 2 * 86_400_000;
    let run_id = new_legacy_run_id(created, &[6, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    let at = iso_millis(created as i64);
    let insert = || {
        dev.d1_write(&format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps,
               attempts, lease_until, created_at)
             VALUES ('{run_id}', '{id}', 1, 'endpoint', '{tag}', 'queued',
               '{{\"request\": {{\"body\": {{}}}}}}', '[]', 0, 0, '{at}')"
        ))
    };
    insert();

    dev.fire_cron();
    let left = dev.d1(&format!("SELECT id FROM runs WHERE id = '{run_id}'"));
    assert!(left.is_empty(), "not moved: {left:?}");
    // Executing in its shard (its step takes 4 s), and found by its id.
    let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["id"], run_id.as_str());

    // Ended, it stays: retention counts from its end, not from its creation two days ago.
    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let path = format!("/slow/4000/{tag}");
    assert_eq!(up.received(&path).len(), 1);
    // As if the pass that moved it had not forgotten it in D1: the next pass moves it again.
    dev.d1_write(&format!("DELETE FROM run_moves WHERE id = '{run_id}'"));
    insert();
    dev.fire_cron();
    let left = dev.d1(&format!("SELECT id FROM runs WHERE id = '{run_id}'"));
    assert!(left.is_empty(), "the shard holds it: {left:?}");
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(up.received(&path).len(), 1, "executed once");
    let run = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempts"], 1, "{run}");
}

#[test]
fn a_run_whose_http_step_takes_40_seconds_completes() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("forty");
    let id = create_deployed(
        dev,
        &json!({
            "name": "forty seconds", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "slow", "url": up.url(&format!("/slow/40000/{tag}")),
                       "timeout_ms": 55000, "retries": 0},
                      {"type": "log", "name": "after", "message": "got {{steps.slow.status}}"}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 180);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][1]["output"]["message"], "got 200", "{run}");
    assert_eq!(run["attempts"], 1, "executed once: {run}");
    let calls = up.received(&format!("/slow/40000/{tag}")).len();
    assert_eq!(calls, 1, "the slow endpoint was called once");
}

#[test]
fn a_step_output_over_the_cap_is_stored_truncated_with_its_size() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({
            "name": "big output", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "big", "url": up.url("/big/300000"), "retries": 0}]
        }),
    );
    let run = wait_run(dev, &hook(dev, &id, &json!({})), 120);
    assert_eq!(run["status"], "succeeded", "{run}");
    let output = &run["steps"][0]["output"];
    assert_eq!(output["truncated"], true, "{output}");
    let size = output["size"].as_u64().unwrap();
    assert!(size > 300_000, "the full size is noted: {size}");
    assert!(output.to_string().len() < 40_000, "stored cut short");
}

/// A run whose values together pass the platform's 2 MB row: a 780 KB input, a step whose raw
/// answer (kept sealed for a resume) takes about 1 MB, and a 380 KB reply. Its progress is
/// saved without the sealed outputs instead of failing: the run succeeds at its first attempt,
/// its step called once.
#[test]
fn a_run_whose_values_pass_the_row_limit_is_saved_without_its_sealed_outputs() {
    let (dev, up) = (dev(), upstream());
    let id = create_deployed(
        dev,
        &json!({
            "name": "wide row", "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "big", "url": up.url("/big/734567"), "retries": 0},
                {"type": "response", "status": 200, "headers": {"x-run": "{{run.id}}"},
                 "body": "{{request.body.b}}"},
                {"type": "log", "name": "after", "message": "done"}
            ]
        }),
    );
    let body = json!({"a": "x".repeat(400_000), "b": "y".repeat(380_000)});
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(300)]);
    assert_eq!(r.text.len(), 380_000);
    let run_id = r.header("x-run").expect("x-run").to_string();
    let run = wait_run(dev, &run_id, 120);
    assert_eq!(run["status"], "succeeded", "{}", run["error"]);
    assert_eq!(run["attempts"], 1, "saved at its first attempt");
    assert_eq!(run["steps"].as_array().unwrap().len(), 3);
    assert_eq!(up.received("/big/734567").len(), 1, "the step ran once");
}

#[test]
fn a_run_past_its_attempts_fails_saying_so() {
    let up = upstream();
    let mut dev = Dev::start(
        "engine-attempts",
        &[("RUN_LEASE_SECONDS", "1"), ("RUN_MAX_ATTEMPTS", "1")],
    );
    let tag = unique("attempts");
    let id = create_deployed(
        &dev,
        &json!({
            "name": "attempts", "trigger": {"type": "endpoint"},
            "steps": [{"type": "http", "name": "slow", "url": up.url(&format!("/slow/20000/{tag}")),
                       "timeout_ms": 1000, "retries": 0}]
        }),
    );
    let run_id = hook(&dev, &id, &json!({}));
    // The first attempt is cut off while its step waits; the next claim is past the cap.
    let path = format!("/slow/20000/{tag}");
    eventually(60, "the step was dispatched", || {
        !up.received(&path).is_empty()
    });
    dev.restart();
    let run = wait_run(&dev, &run_id, 120);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["message"], "gave up after 1 attempts", "{run}");
    assert_eq!(run["attempts"], 2, "{run}");
    assert_eq!(
        up.received(&path).len(),
        1,
        "not executed again past the cap"
    );
}

/// A run that stops before a step because its wake's time is up goes on in the next wake, and
/// that stop is no attempt: with `RUN_MAX_ATTEMPTS=1`, a run that takes several wakes still
/// succeeds, each step sent once. (It failed "gave up after 1 attempts" at its second wake.)
#[test]
fn a_run_longer_than_a_wake_goes_on_in_the_next_without_counting_an_attempt() {
    let up = upstream();
    // `short-wakes`: a wake starts no step that could end 8 s after it began.
    let dev = Dev::start(
        "engine-short-wakes",
        &[
            ("RUN_MAX_ATTEMPTS", "1"),
            ("TRIPLINE_DEV_FAULTS", "short-wakes"),
        ],
    );
    let tag = unique("wakes");
    let step = |i: usize| {
        json!({"type": "http", "name": format!("s{i}"),
               "url": up.url(&format!("/slow/2000/{tag}/{i}")), "timeout_ms": 4000, "retries": 0})
    };
    let id = create_deployed(
        &dev,
        &json!({"name": "several wakes", "trigger": {"type": "endpoint"},
                "steps": (1..=5).map(step).collect::<Vec<_>>()}),
    );
    let run = wait_run(&dev, &hook(&dev, &id, &json!({})), 120);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempts"], 1, "{run}");
    assert_eq!(run["steps"].as_array().map(Vec::len), Some(5), "{run}");
    for i in 1..=5 {
        let path = format!("/slow/2000/{tag}/{i}");
        assert_eq!(up.received(&path).len(), 1, "step {i} sent once");
    }
}

/// An upstream that quotes the key it was sent (`"invalid key …"`) hands it to the steps after
/// it: hidden from their records too, and sent to no host a webhook sender chose.
#[test]
fn a_secret_an_upstream_echoed_stays_hidden_and_goes_to_no_other_host() {
    let (dev, up) = (dev(), upstream());
    let elsewhere = Upstream::start();
    let tag = unique("echoed");
    let steps = |notify_url: &str| {
        json!([
            {"type": "http", "name": "call", "retries": 0,
             "url": up.url(&format!("/echo/{tag}?k={{{{secrets.PLAIN_KEY}}}}"))},
            {"type": "log", "name": "said", "message": "upstream said {{steps.call.body.path}}"},
            {"type": "http", "name": "notify", "retries": 0, "method": "POST",
             "url": notify_url, "json": {"said": "{{steps.call.body.path}}"}}
        ])
    };
    let chosen = create_deployed(
        dev,
        &json!({"name": "echo to a chosen host", "trigger": {"type": "endpoint"},
                "steps": steps("{{request.body.callback}}")}),
    );
    let callback = elsewhere.url("/attacker");
    let run = wait_run(dev, &hook(dev, &chosen, &json!({"callback": callback})), 60);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["steps"][2]["name"], "notify", "{run}");
    let error = run["steps"][2]["error"].as_str().unwrap();
    assert!(error.contains("literal scheme and host"), "{run}");
    assert!(
        elsewhere.received("/").is_empty(),
        "{:?}",
        elsewhere.received("/")
    );
    // The log step read the echo: its record hides the key.
    assert_eq!(
        run["steps"][1]["output"]["message"],
        format!("upstream said /echo/{tag}?k=[redacted]"),
        "{run}"
    );
    assert!(!run.to_string().contains(PLAIN_SECRET), "{run}");

    // Sent to the step's literal host, as the author wrote: its record hides the key too.
    let literal = create_deployed(
        dev,
        &json!({"name": "echo to a literal host", "trigger": {"type": "endpoint"},
                "steps": steps(&up.url(&format!("/echo/{tag}/notes")))}),
    );
    let run = wait_run(dev, &hook(dev, &literal, &json!({})), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let notes = up.received(&format!("/echo/{tag}/notes"));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].body.contains(PLAIN_SECRET), "{notes:?}");
    assert!(!run.to_string().contains(PLAIN_SECRET), "{run}");
    assert!(
        !state_contains(dev, PLAIN_SECRET),
        "the key is stored in plain text"
    );
}

/// A value a webhook sends into a URL's path fills its place and goes no further: it cannot end
/// the path, climb out of it or add a query parameter to a step that sends a secret.
#[test]
fn a_value_filled_into_a_url_stays_in_its_place() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("pathdata");
    let id = create_deployed(
        dev,
        &json!({"name": "path from data", "trigger": {"type": "endpoint"},
                "steps": [{"type": "http", "name": "comment", "retries": 0, "method": "POST",
                           "url": up.url(&format!(
                               "/echo/{tag}/repos/{{{{request.body.n}}}}/comments?scope=limited&q={{{{request.body.q}}}}")),
                           "headers": {"x-api-key": "{{secrets.API_TOKEN}}"},
                           "json": {"body": "hi"}}]}),
    );
    let send_n = |n: &str, q: &str| wait_run(dev, &hook(dev, &id, &json!({"n": n, "q": q})), 60);
    let run = send_n("../../../../user/repos#", "x");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("`..` segment"),
        "{run}"
    );
    assert!(
        up.received("/user").is_empty(),
        "{:?}",
        up.received("/user")
    );
    let run = send_n("a?b#c%2e", "x&scope=all");
    assert_eq!(run["status"], "succeeded", "{run}");
    let run = send_n("org/repo", "y");
    assert_eq!(run["status"], "succeeded", "{run}");
    let got: Vec<String> = up
        .received(&format!("/echo/{tag}/"))
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        got,
        vec![
            format!("/echo/{tag}/repos/a%3Fb%23c%252e/comments?scope=limited&q=x%26scope=all"),
            format!("/echo/{tag}/repos/org/repo/comments?scope=limited&q=y"),
        ]
    );
}

/// A reply built from an upstream's answer (`{{steps.call.body}}`) that quotes the key it was
/// sent does not hand the key to the webhook's caller; a secret the reply names itself is sent.
#[test]
fn a_reply_does_not_return_a_secret_an_upstream_echoed() {
    let (dev, up) = (dev(), upstream());
    let tag = unique("replyecho");
    let id = create_deployed(
        dev,
        &json!({
            "name": "reply with an echo", "trigger": {"type": "endpoint"},
            "steps": [
                {"type": "http", "name": "call", "retries": 0,
                 "url": up.url(&format!("/echo/{tag}?k={{{{secrets.PLAIN_KEY}}}}"))},
                {"type": "response", "status": 200, "headers": {"x-run": "{{run.id}}"},
                 "json": {"upstream": "{{steps.call.body}}", "named": "{{secrets.API_TOKEN}}"}}
            ]
        }),
    );
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[("content-type", "application/json")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let reply = r.json();
    assert_eq!(
        reply["upstream"]["path"],
        format!("/echo/{tag}?k=[redacted]"),
        "{reply}"
    );
    assert!(!r.text.contains(PLAIN_SECRET), "{}", r.text);
    assert_eq!(reply["named"], SECRET, "{reply}");
    let run = wait_run(dev, r.header("x-run").unwrap(), 60);
    assert!(!run.to_string().contains(PLAIN_SECRET), "{run}");
}

/// A workflow deleted while its runs wait for a free slot (six execute at once per shard)
/// sends nothing more: the runs executing finish the call they made, and those held go with
/// the workflow.
#[test]
fn a_deleted_workflows_waiting_runs_make_no_more_calls() {
    use crate::harness::http_server::{Reply, Server};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let dev = dev();
    let calls = Arc::new(AtomicUsize::new(0));
    // Each call is answered once the test lets the calls go, after the delete (at most 30 s):
    // no slot frees before it, however long the delete takes on a busy machine.
    let released = Arc::new(AtomicBool::new(false));
    let server = Server::bind();
    let url = format!("{}/held", server.base());
    let (counted, release) = (calls.clone(), released.clone());
    server.serve(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !release.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Reply::json(200, json!({"ok": true}))
    });
    let id = create_deployed(
        dev,
        &json!({"name": "Held", "trigger": {"type": "endpoint", "method": "POST"},
                "steps": [{"type": "http", "name": "call", "method": "POST", "url": url,
                           "json": {"n": "{{request.body.n}}"}, "retries": 0}]}),
    );
    for n in 0..20 {
        hook(dev, &id, &json!({ "n": n }));
    }
    // The first six calls are out; the other runs wait for their slots.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while calls.load(Ordering::SeqCst) < 6 {
        assert!(std::time::Instant::now() < deadline, "no calls yet");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    let at_delete = calls.load(Ordering::SeqCst);
    released.store(true, Ordering::SeqCst);
    assert!(
        at_delete < 20,
        "{at_delete} calls: the runs ended before the delete"
    );
    // Long enough for the other waves had the runs gone on.
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        at_delete,
        "calls after the delete"
    );
}

/// A request waiting for a Response step's reply whose workflow is deleted meanwhile is told
/// so (404), rather than waiting out its timeout for a 503.
#[test]
fn a_reply_awaited_from_a_deleted_workflow_is_a_404() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &json!({"name": "Awaited", "trigger": {"type": "endpoint", "method": "POST",
                "response_timeout_ms": 20000},
                "steps": [{"type": "http", "name": "slow", "method": "GET",
                           "url": upstream().url("/slow/5000"), "retries": 0},
                          {"type": "response", "status": 200, "json": {"ok": true}}]}),
    );
    let url = dev.url(&format!("/hooks/{id}"));
    let waiting = std::thread::spawn(move || {
        send(
            "POST",
            &url,
            &[("content-type", "application/json")],
            Some(b"{}"),
        )
    });
    // Its run is stored and executing (its step takes 5 s) before the delete.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let runs = api(dev, "GET", &format!("/api/workflows/{id}/runs"), None).json();
        if runs["runs"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no run: {runs}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = api(dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    let answer = waiting.join().expect("the request");
    assert_eq!(answer.status, 404, "{}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{}",
        answer.text
    );
    assert!(answer.text.contains("deleted"), "{}", answer.text);
}
