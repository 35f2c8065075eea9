//! The event-based (poll) trigger end to end: a real `wrangler dev`, a real PostgreSQL 15 cluster
//! started by the harness, and a real HTTP API served by the test.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::postgres::Postgres;
use common::*;
use serde_json::{json, Value};

const API_TOKEN: &str = "poll-api-token-42";

/// The shared fixtures: one cluster for most tests, a second one that a test stops and
/// restarts, an HTTP API, and one `wrangler dev` that knows all their URLs.
struct Env {
    dev: Dev,
    pg: Postgres,
    outage: Mutex<Postgres>,
    api: FeedServer,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let pg = Postgres::start("shared");
        pg.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
        let outage = Postgres::start("outage");
        outage.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
        let api = FeedServer::start();
        let dev = Dev::start(
            "poll",
            &[
                ("RUN_LEASE_SECONDS", "10"),
                ("PG_URL", &pg.url("reader")),
                ("PG_OUTAGE_URL", &outage.url("reader")),
                ("PG_BAD_ROLE_URL", &pg.url("nobody_here")),
                ("API_TOKEN", API_TOKEN),
            ],
        );
        Env {
            dev,
            pg,
            outage: Mutex::new(outage),
            api,
        }
    })
}

/// A poll workflow definition over a PostgreSQL table, with one log step.
fn pg_def(name: &str, source: Value, start: &str, interval: u32) -> Value {
    let mut src = json!({"kind": "postgres", "connection_env": "PG_URL", "cursor": "id"});
    for (k, v) in source.as_object().unwrap() {
        src[k] = v.clone();
    }
    json!({
        "name": name,
        "trigger": {"type": "poll", "interval_seconds": interval, "start": start, "source": src},
        "steps": [{"type": "log", "name": "seen", "message": "record {{event.record.id}}"}]
    })
}

/// A table `name (id serial, name text, n int)` that `reader` may only SELECT.
fn table(pg: &Postgres, name: &str) {
    pg.sql(&format!(
        "CREATE TABLE {name} (id serial PRIMARY KEY, name text NOT NULL, n int NOT NULL)"
    ));
    pg.sql(&format!("GRANT SELECT ON {name} TO reader"));
}

fn insert(pg: &Postgres, table: &str, from: u32, to: u32) {
    pg.sql(&format!(
        "INSERT INTO {table} (name, n) SELECT 'row ' || g, g FROM generate_series({from}, {to}) g"
    ));
}

/// The poll block of a workflow.
fn poll_status(dev: &Dev, id: &str) -> Value {
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["poll"].clone()
}

/// Waits until the workflow has exactly `n` runs, all finished; returns them oldest first.
fn wait_runs(dev: &Dev, id: &str, n: usize, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let mut all = runs(dev, id);
        let done = all
            .iter()
            .filter(|r| r["status"] == "succeeded" || r["status"] == "failed")
            .count();
        assert!(
            all.len() <= n,
            "expected {n} runs, got {} (status: {})",
            all.len(),
            poll_status(dev, id)
        );
        if all.len() == n && done == n {
            all.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} finished runs: have {} ({done} finished); poll: {}",
            all.len(),
            poll_status(dev, id)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until `polls` more polls have ended (by `last_poll_at`), so that anything they would
/// have started is visible.
fn wait_polls(dev: &Dev, id: &str, polls: usize, secs: u64) {
    let mut last = poll_status(dev, id)["last_poll_at"].clone();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(secs);
    while seen < polls {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {polls} polls of {id}: {}",
            poll_status(dev, id)
        );
        std::thread::sleep(Duration::from_millis(300));
        let now = poll_status(dev, id)["last_poll_at"].clone();
        if now != last {
            seen += 1;
            last = now;
        }
    }
}

fn record_ids(runs: &[Value]) -> Vec<i64> {
    runs.iter()
        .map(|r| {
            r["input"]["event"]["record"]["id"]
                .as_i64()
                .expect("record id")
        })
        .collect()
}

fn assert_unique_keys(runs: &[Value]) {
    let keys: BTreeSet<&str> = runs
        .iter()
        .map(|r| r["dedup_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), runs.len(), "duplicate dedup keys");
}

#[test]
fn start_now_runs_each_row_inserted_after_deploy_once() {
    let e = env();
    table(&e.pg, "t_now");
    insert(&e.pg, "t_now", 1, 10);
    // The role the Worker uses can read but not write.
    let denied = std::process::Command::new(format!("{}/psql", common::postgres::BIN))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &e.pg.port.to_string(),
            "-U",
            "reader",
            "-d",
            "postgres",
        ])
        .args(["-c", "INSERT INTO t_now (name, n) VALUES ('x', 0)"])
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("permission denied"));

    let id = create_deployed(&e.dev, &pg_def("now", json!({"table": "t_now"}), "now", 5));
    let status = poll_status(&e.dev, &id);
    assert_eq!(
        status["cursor"],
        json!({"position": "at", "cursor": "10", "tiebreak": null})
    );
    assert_eq!(status["consecutive_failures"], 0);

    // Values that look like SQL are only data.
    e.pg.sql("INSERT INTO t_now (name, n) VALUES ('x''); DROP TABLE t_now; --', 0)");
    insert(&e.pg, "t_now", 2, 50);
    let runs = wait_runs(&e.dev, &id, 50, 120);
    assert_eq!(record_ids(&runs), (11..=60).collect::<Vec<i64>>());
    assert_unique_keys(&runs);
    for r in &runs {
        let rec = &r["input"]["event"]["record"];
        assert_eq!(r["trigger"], "poll");
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(r["dedup_key"], rec["id"].to_string());
        assert_eq!(
            r["steps"][0]["output"]["message"],
            format!("record {}", rec["id"])
        );
        let n = rec["n"].as_i64().unwrap();
        if rec["id"] == 11 {
            assert_eq!(rec["name"], "x'); DROP TABLE t_now; --");
        } else {
            assert_eq!(rec["name"], format!("row {n}"));
        }
    }
    wait_polls(&e.dev, &id, 2, 60);
    assert_eq!(runs_of(&e.dev, &id), 50);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["runs_created"], 50);
    assert_eq!(status["last_poll_error"], Value::Null);
    assert_eq!(status["cursor"]["cursor"], "60");
}

fn runs_of(dev: &Dev, id: &str) -> usize {
    runs(dev, id).len()
}

// ---------------------------------------------------------------------------------------------
// A small JSON API for the http source: `/feed/{name}` answers `{"data": [items…]}` for that
// feed (newest first when the feed is marked so), 401 without the right token, 500 or
// invalid JSON when told to.

#[derive(Default, Clone)]
struct Feed {
    items: Vec<Value>,
    newest_first: bool,
    broken: Option<&'static str>,
}

struct FeedServer {
    base: String,
    feeds: Arc<Mutex<HashMap<String, Feed>>>,
}

impl FeedServer {
    fn start() -> FeedServer {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind feed server");
        let port = server.server_addr().to_ip().unwrap().port();
        let feeds: Arc<Mutex<HashMap<String, Feed>>> = Arc::default();
        let f = feeds.clone();
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                let auth = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("authorization"))
                    .map(|h| h.value.as_str().to_string());
                let name = req.url().trim_start_matches("/feed/").to_string();
                let feed = f.lock().unwrap().get(&name).cloned();
                let (status, body) = match feed {
                    _ if auth.as_deref() != Some(&format!("Bearer {API_TOKEN}")) => {
                        (401, json!({"error": "bad token"}).to_string())
                    }
                    None => (404, "{}".to_string()),
                    Some(Feed {
                        broken: Some("json"),
                        ..
                    }) => (200, "{\"data\": [".to_string()),
                    Some(Feed {
                        broken: Some(_), ..
                    }) => (500, "{\"error\": \"down\"}".to_string()),
                    Some(feed) => {
                        let mut items = feed.items.clone();
                        if feed.newest_first {
                            items.reverse();
                        }
                        (200, json!({"data": items}).to_string())
                    }
                };
                let resp = tiny_http::Response::from_string(body)
                    .with_status_code(status)
                    .with_header(
                        "content-type: application/json"
                            .parse::<tiny_http::Header>()
                            .unwrap(),
                    );
                let _ = req.respond(resp);
            }
        });
        FeedServer {
            base: format!("http://127.0.0.1:{port}"),
            feeds,
        }
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut Feed)) {
        f(self
            .feeds
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default());
    }

    fn url(&self, name: &str) -> String {
        format!("{}/feed/{name}", self.base)
    }
}
