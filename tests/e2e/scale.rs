//! Runs in shard objects under stress: a 4-shard workflow across a SIGKILL of `wrangler dev`,
//! a resumed run that sees an earlier step's real output, fencing of a stale executor,
//! retention in batches, and redeploys that change `shards`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::upstream::Upstream;
use crate::harness::{
    api, assert_wakes_bounded, create, create_deployed, eventually, redeploy, runs, send, wait_run,
    Dev,
};

/// Dev-only actions on: the stale-executor action of the fencing test, the query plans, the
/// claim count.
const DEV_ACTIONS: (&str, &str) = ("TRIPLINE_DEV_ACTIONS", "1");

fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| Dev::start("scale", &[DEV_ACTIONS, ("RUN_LEASE_SECONDS", "3")]))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn endpoint(shards: u8, steps: Value) -> Value {
    json!({"name": "scale test", "shards": shards, "trigger": {"type": "endpoint"}, "steps": steps})
}

fn log_step() -> Value {
    json!([{"type": "log", "name": "note", "message": "got {{request.body.n}}"}])
}

fn post_keyed(dev: &Dev, id: &str, key: &str, body: &Value) -> (u16, Value, bool) {
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body.to_string().as_bytes()),
    );
    let replayed = r.header("idempotent-replayed") == Some("true");
    (r.status, r.json(), replayed)
}

/// Posts `n` requests keyed `{prefix}-{i}` (body `{"n": i}`) from 8 clients at once, each
/// answered 202; the run ids made.
fn post_burst(dev: &Dev, id: &str, prefix: &str, n: usize) -> Vec<String> {
    post_burst_of(dev, id, prefix, n, |i| json!({ "n": i }))
}

/// [`post_burst`] with each request's body made by `body`.
fn post_burst_of(
    dev: &Dev,
    id: &str,
    prefix: &str,
    n: usize,
    body: impl Fn(usize) -> Value + Sync,
) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let made = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let (status, answer, _) = post_keyed(dev, id, &format!("{prefix}-{i}"), &body(i));
                assert_eq!(status, 202, "{prefix}-{i}: {answer}");
                let run_id = answer["run_id"].as_str().expect("run_id").to_string();
                made.lock().unwrap().push(run_id);
            });
        }
    });
    made.into_inner().unwrap()
}

/// The executor counters of the object that holds `run_id` (dev-only): claim statements run,
/// and the most bytes of claimed runs held at once for a free slot.
fn executor_counts(dev: &Dev, run_id: &str) -> (u64, u64) {
    let v = executor_counters(dev, run_id);
    (
        v["claims"].as_u64().expect("claims"),
        v["held_bytes_max"].as_u64().expect("held_bytes_max"),
    )
}

/// Every executor counter of the object that holds `run_id` (dev-only), as JSON.
fn executor_counters(dev: &Dev, run_id: &str) -> Value {
    let r = api(dev, "GET", &format!("/api/dev/runs/{run_id}/claims"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// The claim statements run by the executor of the object that holds `run_id`.
fn claims(dev: &Dev, run_id: &str) -> u64 {
    executor_counts(dev, run_id).0
}

/// Waits up to `secs` until the workflow has exactly `n` runs, all `succeeded`.
fn wait_all_succeeded(dev: &Dev, id: &str, n: usize, secs: u64) {
    eventually(secs, "every run succeeded", || {
        let listed = runs(dev, id);
        listed.len() == n && listed.iter().all(|r| r["status"] == "succeeded")
    });
}

/// Asserts a listing has no duplicate and is newest first (ids descend), and returns its ids.
fn listed_ids(rows: &[Value]) -> Vec<String> {
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    for pair in ids.windows(2) {
        assert!(pair[0] > pair[1], "newest first, no duplicates: {pair:?}");
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Crash of the runtime under load

/// One request: `Some((status, body))` when an answer was read whole, `None` when the
/// connection failed or the answer was cut off (the crash).
fn post_once(base: &str, path: &str, key: &str, body: &str) -> Option<(u16, Value)> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let result = agent
        .post(&format!("{base}{path}"))
        .set("content-type", "application/json")
        .set("idempotency-key", key)
        .send_string(body);
    match result {
        Ok(r) => {
            let status = r.status();
            r.into_json::<Value>().ok().map(|b| (status, b))
        }
        Err(ureq::Error::Status(code, r)) if code < 500 => {
            Some((code, r.into_json().unwrap_or(Value::Null)))
        }
        Err(_) => None,
    }
}

#[test]
fn a_four_shard_workflow_keeps_exactly_one_run_per_key_across_a_crash() {
    const TOTAL: usize = 2000;
    const CLIENTS: usize = 16;
    let mut dev = Dev::start("scale-crash", &[("RUN_LEASE_SECONDS", "3")]);
    let id = create_deployed(&dev, &endpoint(4, log_step()));
    let path = format!("/hooks/{id}");
    let base = Arc::new(RwLock::new(dev.base.clone()));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let answers: Arc<Mutex<HashMap<usize, (u16, Value)>>> = Arc::default();
    let unanswered: Arc<Mutex<Vec<usize>>> = Arc::default();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, next, done, answers, unanswered, path) = (
                base.clone(),
                next.clone(),
                done.clone(),
                answers.clone(),
                unanswered.clone(),
                path.clone(),
            );
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TOTAL {
                    return;
                }
                let url = base.read().unwrap().clone();
                let body = json!({"n": i}).to_string();
                match post_once(&url, &path, &format!("scale-{i}"), &body) {
                    Some(answer) => {
                        answers.lock().unwrap().insert(i, answer);
                    }
                    None => unanswered.lock().unwrap().push(i),
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    // SIGKILL wrangler dev (the whole process group) midway; the clients' requests fail until
    // it is back (on a new port, the same state directory).
    eventually(600, "a third of the requests answered", || {
        done.load(Ordering::SeqCst) >= TOTAL / 3
    });
    dev.kill();
    let answered_before = answers.lock().unwrap().len();
    dev.spawn();
    *base.write().unwrap() = dev.base.clone();
    for c in clients {
        c.join().unwrap();
    }
    assert!(answered_before < TOTAL, "the crash happened midway");
    let resend: Vec<usize> = unanswered.lock().unwrap().clone();
    assert!(!resend.is_empty(), "some requests saw the crash");

    // Every request whose answer was not received is sent again with the same key.
    let mut answers = answers.lock().unwrap().clone();
    for i in &resend {
        let (status, body, _) = post_keyed(&dev, &id, &format!("scale-{i}"), &json!({"n": i}));
        answers.insert(*i, (status, body));
    }
    assert_eq!(answers.len(), TOTAL);
    let mut by_key = HashMap::new();
    for (i, (status, body)) in &answers {
        assert_eq!(*status, 202, "request {i}: {body}");
        by_key.insert(
            format!("idempotency:scale-{i}"),
            body["run_id"].as_str().expect("run_id").to_string(),
        );
    }

    // Runs cut off by the crash finish in their shard objects, without the cron.
    eventually(300, "every run finished", || {
        runs(&dev, &id).iter().all(|r| r["status"] == "succeeded")
    });
    let rows = runs(&dev, &id);
    let ids = listed_ids(&rows);
    assert_eq!(
        ids.len(),
        TOTAL,
        "one run per key, listed across the shards"
    );
    let mut keys = HashSet::new();
    let mut shards = HashSet::new();
    for row in &rows {
        let key = row["dedup_key"].as_str().expect("dedup_key");
        let run_id = row["id"].as_str().expect("id");
        assert_eq!(
            by_key.get(key).map(String::as_str),
            Some(run_id),
            "the run its request was answered with: {row}"
        );
        assert!(keys.insert(key.to_string()), "one run for {key}");
        shards.insert(run_id[run_id.len() - 2..].to_string());
    }
    assert_eq!(keys.len(), TOTAL);
    assert_eq!(shards.len(), 4, "runs spread over the 4 shards: {shards:?}");
    // Each step recorded once (a run resumed after the crash does not repeat its record).
    let resent = resend
        .iter()
        .filter_map(|i| by_key.get(&format!("idempotency:scale-{i}")));
    for run_id in ids.iter().step_by(40).chain(resent) {
        let r = api(&dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        let run = r.json();
        assert_eq!(run["status"], "succeeded", "{run}");
        let steps = run["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 1, "one record per step: {run}");
        assert_eq!(steps[0]["name"], "note");
    }
}

// ---------------------------------------------------------------------------------------------
// Faithful resume

#[test]
fn a_resumed_run_sends_the_earlier_steps_real_value_and_shows_it_redacted() {
    let up = Upstream::start();
    let mut dev = Dev::start("scale-resume", &[("RUN_LEASE_SECONDS", "2")]);
    let token = format!("tok-{}-live-secret-value", std::process::id());
    let id = create_deployed(
        &dev,
        &endpoint(
            1,
            json!([
                {"type": "http", "name": "login", "url": up.url(&format!("/token/{token}"))},
                {"type": "http", "name": "slow", "url": up.url("/slow/6000/resume"),
                 "timeout_ms": 8000, "retries": 0,
                 "headers": {"x-session": "{{steps.login.body.access_token}}"}}
            ]),
        ),
    );
    let (status, body, _) = post_keyed(&dev, &id, "resume-1", &json!({}));
    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().expect("run_id").to_string();
    eventually(60, "the slow step was sent", || {
        !up.received("/slow/6000/resume").is_empty()
    });
    // SIGKILL during step 2, then start again on the same state.
    dev.restart();
    let run = wait_run(&dev, &run_id, 120);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempts"], 2, "taken over once after the crash: {run}");

    // Step 1 ran once; step 2 ran again after the restart, with the real token.
    assert_eq!(up.received(&format!("/token/{token}")).len(), 1);
    let slow = up.received("/slow/6000/resume");
    assert_eq!(slow.len(), 2, "step 2 before and after the crash");
    for (n, r) in slow.iter().enumerate() {
        assert_eq!(
            r.headers.get("x-session").map(String::as_str),
            Some(token.as_str()),
            "request {n} of step 2 carries the login's real token"
        );
    }
    // The displayed record keeps it redacted.
    let steps = run["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{run}");
    assert_eq!(steps[0]["output"]["body"]["access_token"], "[redacted]");
    // (The token is part of step 1's URL in this test; what step 1 returned and what step 2
    // sent are shown without it.)
    assert!(!steps[0]["output"].to_string().contains(&token), "{run}");
    assert_eq!(steps[1]["request"]["headers"]["x-session"], "[redacted]");
    assert!(!steps[1].to_string().contains(&token), "{run}");
}

// ---------------------------------------------------------------------------------------------
// Fencing

#[test]
fn a_stale_executor_cannot_overwrite_a_newer_result() {
    let up = Upstream::start();
    let dev = dev();
    let id = create_deployed(
        dev,
        &endpoint(
            1,
            json!([{"type": "http", "name": "call", "url": up.url("/slow/3000/fence"), "retries": 0}]),
        ),
    );
    let (status, body, _) = post_keyed(dev, &id, "fence-1", &json!({}));
    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().expect("run_id").to_string();
    eventually(60, "the step was sent", || {
        !up.received("/slow/3000/fence").is_empty()
    });
    let stale = |attempts: Option<i64>| {
        let mut path = format!("/api/dev/runs/{run_id}/stale-write");
        if let Some(a) = attempts {
            path.push_str(&format!("?attempts={a}"));
        }
        let r = api(dev, "POST", &path, None);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    };
    // While attempt 1 runs, an executor of an older claim writes nothing.
    let during = stale(None);
    assert_eq!(during["claimed"], 1, "{during}");
    assert_eq!(during["attempts"], 0, "{during}");
    assert_eq!(during["progress"], false, "{during}");
    assert_eq!(during["finish"], false, "{during}");
    let running = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
    assert_eq!(running["status"], "running", "{running}");
    assert!(running["error"].is_null(), "{running}");

    let finished = wait_run(dev, &run_id, 60);
    assert_eq!(finished["status"], "succeeded", "{finished}");
    // After the result: neither the older claim nor the finished one can overwrite it.
    for attempts in [0, 1] {
        let after = stale(Some(attempts));
        assert_eq!(after["progress"], false, "{after}");
        assert_eq!(after["finish"], false, "{after}");
    }
    let again = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
    assert_eq!(again, finished, "the stored run is unchanged");
    assert_eq!(again["steps"][0]["name"], "call");

    // Without the admin token the dev route is refused.
    let r = send(
        "POST",
        &dev.url(&format!("/api/dev/runs/{run_id}/stale-write")),
        &[],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text);
}

// ---------------------------------------------------------------------------------------------
// Retention

#[test]
fn retention_deletes_only_old_finished_runs_in_batches() {
    const OLD: usize = 1200;
    let up = Upstream::start();
    // A day of retention; leases long enough that runs cut off by the stop stay unfinished.
    let mut dev = Dev::start(
        "scale-retention",
        &[("RUN_RETENTION_DAYS", "1"), ("RUN_LEASE_SECONDS", "900")],
    );
    // Version 1 has no steps: its runs are recorded finished at once.
    let def = endpoint(1, json!([]));
    let id = create_deployed(&dev, &def);
    let post = |dev: &Dev, key: String| {
        let (status, body, _) = post_keyed(dev, &id, &key, &json!({}));
        assert_eq!(status, 202, "{key}: {body}");
        body["run_id"].as_str().expect("run_id").to_string()
    };
    let old_finished = post_burst(&dev, &id, "old", OLD);
    let new_finished: Vec<String> = (0..5).map(|i| post(&dev, format!("new-{i}"))).collect();

    // Version 2 calls an upstream that takes its time: its runs are running at the stop.
    let mut slow = def.clone();
    slow["steps"] = json!([{"type": "http", "name": "call", "url": up.url("/slow/50000/retention"),
                            "timeout_ms": 55000, "retries": 0}]);
    let r = api(&dev, "PUT", &format!("/api/workflows/{id}"), Some(&slow));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    // The cached version may serve a request for up to 2 s after a deploy.
    std::thread::sleep(Duration::from_millis(2500));
    let old_unfinished: Vec<String> = (0..3).map(|i| post(&dev, format!("stuck-{i}"))).collect();
    eventually(60, "the slow runs started", || {
        up.received("/slow/50000/retention").len() >= 3
    });

    // Stop, and make every run but the new ones two days old (created, and ended if it did: a
    // run is kept a retention from its end too).
    dev.kill();
    let two_days_ago = "2000-01-01T00:00:00.000Z";
    let mut backdated = old_finished.clone();
    backdated.extend(old_unfinished.iter().cloned());
    let changed = dev.objects_exec(
        "UPDATE runs SET created_at = ?, finished_at = CASE WHEN finished_at IS NULL THEN NULL
           ELSE ? END WHERE id IN (SELECT value FROM json_each(?))",
        &[
            json!(two_days_ago),
            json!(two_days_ago),
            json!(json!(backdated).to_string()),
        ],
    );
    assert_eq!(changed, OLD + 3);
    dev.spawn();

    // A new run (version 3, one quick step) wakes the object; its alarm deletes the old runs.
    let mut quick = def.clone();
    quick["steps"] = log_step();
    let r = api(&dev, "PUT", &format!("/api/workflows/{id}"), Some(&quick));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let waker = post(&dev, "waker".into());
    let expected: HashSet<String> = new_finished
        .iter()
        .chain(old_unfinished.iter())
        .chain([&waker])
        .cloned()
        .collect();
    eventually(180, "only the new and the unfinished runs are left", || {
        let left: HashSet<String> = runs(&dev, &id)
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect();
        left == expected
    });
    for run_id in &old_unfinished {
        let r = api(&dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["status"], "running", "kept unfinished: {r}");
        assert_eq!(r["created_at"], two_days_ago);
    }
    for run_id in old_finished.iter().step_by(100) {
        let r = api(&dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 404, "{run_id} was deleted: {}", r.text);
    }
    // In bounded batches, one per alarm pass.
    let logs = dev.logs();
    let passes: Vec<usize> = logs
        .lines()
        .filter_map(|l| {
            let rest = l.split("runs retention: deleted ").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect();
    assert!(passes.len() >= 3, "passes: {passes:?}");
    assert!(passes.iter().all(|&n| n <= 500), "passes: {passes:?}");
    assert_eq!(passes.iter().sum::<usize>(), OLD, "passes: {passes:?}");
}

/// The run table's queries whose work must not grow with the runs kept read through their
/// index, with no sort of every run: retention (the oldest finished run, a batch to delete),
/// the executor's claim and wake-up time, and listing (with and without a status filter).
#[test]
fn run_queries_read_through_their_index_without_sorting_every_run() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint(1, json!([])));
    let (status, body, _) = post_keyed(dev, &id, "plans-1", &json!({}));
    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().expect("run_id");
    let r = api(dev, "GET", &format!("/api/dev/runs/{run_id}/plans"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let plans = r.json();
    let plan = |name: &str| -> String {
        let steps = plans[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {plans}"));
        assert!(!steps.is_empty(), "{name}: {plans}");
        steps
            .iter()
            .map(|s| s.as_str().expect("detail"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    for (name, index) in [
        ("oldest_finished", "runs_finished"),
        ("delete_older", "runs_finished"),
        ("claim", "runs_open"),
        ("next_due", "runs_open"),
        ("list_by_status", "runs_status"),
        ("list_by_status_and_trigger", "runs_status"),
        ("list", "sqlite_autoindex_runs_1"),
    ] {
        let p = plan(name);
        assert!(p.contains(index), "{name} reads through {index}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "{name} sorts no run: {p}");
    }
    // Without the admin token, the route is refused like every management route.
    let anonymous = send(
        "GET",
        &dev.url(&format!("/api/dev/runs/{run_id}/plans")),
        &[],
        None,
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
}

/// Runs that end at their create (no step reaches out) are never claimed: a burst of them costs
/// the shard's executor one pass (which tells retention of the finished runs), not a claim
/// statement each.
#[test]
fn runs_that_end_at_their_create_are_not_claimed_one_by_one() {
    const RUNS: usize = 120;
    let dev = dev();
    let id = create_deployed(dev, &endpoint(1, log_step()));
    let made = post_burst(dev, &id, "burst", RUNS);
    assert_eq!(made.len(), RUNS);
    for run_id in made.iter().step_by(10) {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(r["steps"].as_array().map(Vec::len), Some(1), "{r}");
    }
    // The executor lingers a second after its last news, then stops.
    std::thread::sleep(Duration::from_secs(3));
    let claims = claims(dev, &made[0]);
    assert!(
        (1..=2).contains(&claims),
        "claim statements for {RUNS} runs that ended at their create: {claims}"
    );
}

/// Deploys a one-shard workflow whose `http` step calls the upstream's `path` (a `/slow/…` path
/// answers late) with `timeout_ms`, posts a burst of `n` runs, waits until every one succeeded
/// and asserts the upstream got one call per run; answers the runs' ids.
fn slow_burst(dev: &Dev, up: &Upstream, path: &str, timeout_ms: u64, n: usize) -> Vec<String> {
    let steps = json!([{"type": "http", "name": "call", "method": "POST",
                        "url": up.url(path), "timeout_ms": timeout_ms, "retries": 0}]);
    let id = create_deployed(dev, &endpoint(1, steps));
    let prefix = path.rsplit('/').next().expect("a path");
    let made = post_burst(dev, &id, prefix, n);
    wait_all_succeeded(dev, &id, n, 180);
    assert_eq!(up.received(path).len(), n, "one call per run");
    made
}

/// Under a backlog (each run takes 300 ms, so 6 slots drain 20 runs a second, slower than a
/// burst arrives on any host) a claim takes a few runs beyond its free slots and holds them for
/// the next ones that free up: far fewer claim statements than runs, and every run still
/// executes once.
#[test]
fn a_backlog_is_claimed_several_runs_at_a_time_and_each_run_executes_once() {
    const RUNS: usize = 60;
    let up = Upstream::start();
    let dev = dev();
    let made = slow_burst(dev, &up, "/slow/300/backlog", 10000, RUNS);
    for run_id in made.iter().step_by(7) {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
    }
    let (claims, held_bytes) = executor_counts(dev, &made[0]);
    assert!(
        claims <= (RUNS / 3) as u64,
        "claim statements for a backlog of {RUNS} runs: {claims}"
    );
    assert!(held_bytes > 0, "runs were held for a free slot");
}

/// Runs held for a slot wait for slow steps: each run here takes 2 s and the shared
/// `wrangler dev` gives a lease of 3 s (6 s once a claim covers the 3-s step), so the runs held
/// 3 or 4 slots deep reach their slot after their lease passed. Such a run never started, and no
/// claim took it meanwhile: its lease is renewed and it executes once, as attempt 1 (a new claim
/// would have counted an attempt it never made).
#[test]
fn a_run_held_past_its_lease_is_renewed_and_executes_once_as_its_first_attempt() {
    const RUNS: usize = 36;
    let up = Upstream::start();
    let dev = dev();
    let made = slow_burst(dev, &up, "/slow/2000/held", 3000, RUNS);
    for run_id in &made {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
        assert_eq!(r["steps"].as_array().map(Vec::len), Some(1), "{r}");
    }
    let counters = executor_counters(dev, &made[0]);
    let renewals = counters["renewals"].as_u64().expect("renewals");
    assert!(
        renewals > 0,
        "held runs reached their slot past their lease: {counters}"
    );
}

/// A run whose executor died falls due when its lease runs out, and claims take due runs in
/// the order they fell due: runs queued after that wait behind it. Here run `a` is in flight
/// when `wrangler dev` is killed; after the restart a long backlog (`b`, handed to the executor
/// before `a`'s lease ran out) keeps every slot busy past it, and 60 runs (`c`) are queued
/// after it: none is handed over past `a`, and when the executor claims again, `a` comes first.
/// Were the expired run behind every queued one, or new runs handed over past it, dozens of
/// them would be sent before it.
#[test]
fn a_run_whose_lease_expired_is_claimed_before_runs_queued_after_it() {
    const LATER: usize = 60;
    let up = Upstream::start();
    let mut dev = Dev::start("scale-claim-order", &[("RUN_LEASE_SECONDS", "3")]);
    let steps = json!([{"type": "http", "name": "call", "method": "POST",
                        "url": up.url("/slow/{{request.body.ms}}/order/{{request.body.tag}}"),
                        "timeout_ms": 20000, "retries": 0}]);
    let id = create_deployed(&dev, &endpoint(1, steps));
    let (status, body, _) = post_keyed(&dev, &id, "a", &json!({"ms": 12000, "tag": "a"}));
    assert_eq!(status, 202, "{body}");
    let a = body["run_id"].as_str().expect("run_id").to_string();
    eventually(60, "run a's step was sent", || {
        !up.received("/slow/12000/order/a").is_empty()
    });
    dev.kill();
    let stored = dev.objects_query(&format!(
        "SELECT status, lease_until, attempts FROM runs WHERE id = '{a}'"
    ));
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0][0], "running", "{stored:?}");
    let expires = stored[0][1].as_i64().expect("lease_until");
    dev.spawn();
    // 30 runs of 8 s each: 6 slots and 24 held places, full for about half a minute.
    post_burst_of(
        &dev,
        &id,
        "b",
        30,
        |i| json!({"ms": 8000, "tag": format!("b-{i}")}),
    );
    let wait = expires + 500 - now_ms();
    std::thread::sleep(Duration::from_millis(wait.max(0) as u64));
    post_burst_of(
        &dev,
        &id,
        "c",
        LATER,
        |i| json!({"ms": 50, "tag": format!("c-{i}")}),
    );
    eventually(240, "every run finished", || {
        let listed = runs(&dev, &id);
        listed.len() == 1 + 30 + LATER && listed.iter().all(|r| r["status"] == "succeeded")
    });
    let sent: Vec<String> = up
        .received("/slow/")
        .into_iter()
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    let a_calls: Vec<usize> = (0..sent.len()).filter(|&i| sent[i] == "a").collect();
    assert_eq!(a_calls.len(), 2, "run a was sent again once: {sent:?}");
    let later_first = sent[..a_calls[1]]
        .iter()
        .filter(|t| t.starts_with("c-"))
        .count();
    // `a` is the first run of the claim that takes any of them: only runs sent in the same
    // instant (at most the 6 slots) may reach the upstream before it.
    assert!(
        later_first < 6,
        "{later_first} runs queued after run a's lease ran out were sent before it: {sent:?}"
    );
    for tag in (0..30)
        .map(|i| format!("b-{i}"))
        .chain((0..LATER).map(|i| format!("c-{i}")))
    {
        assert_eq!(
            sent.iter().filter(|t| **t == tag).count(),
            1,
            "{tag}: {sent:?}"
        );
    }
    let run = api(&dev, "GET", &format!("/api/runs/{a}"), None).json();
    assert_eq!(run["attempts"], 2, "{run}");
}

/// A run created while its shard's executor runs with room to spare is stored already claimed
/// and handed to the executor in memory: runs arriving one after another cost no claim
/// statement each (without the hand-over, one each), and each still executes once, in full.
#[test]
fn runs_created_while_the_executor_runs_are_handed_over_without_a_claim_each() {
    const RUNS: usize = 20;
    let up = Upstream::start();
    let dev = dev();
    let steps = json!([{"type": "http", "name": "call", "method": "POST",
                        "url": up.url("/echo/handed"), "json": {"n": "{{request.body.n}}"},
                        "timeout_ms": 10000, "retries": 0}]);
    let id = create_deployed(dev, &endpoint(1, steps));
    let mut made = Vec::new();
    for i in 0..RUNS {
        let (status, answer, _) = post_keyed(dev, &id, &format!("handed-{i}"), &json!({ "n": i }));
        assert_eq!(status, 202, "{answer}");
        made.push(answer["run_id"].as_str().expect("run_id").to_string());
        // Well within the second an idle executor waits for news.
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_all_succeeded(dev, &id, RUNS, 60);
    let calls = up.received("/echo/handed");
    assert_eq!(calls.len(), RUNS, "one call per run");
    let mut sent: Vec<i64> = calls
        .iter()
        .map(|c| {
            let n = &serde_json::from_str::<Value>(&c.body).expect("JSON")["n"];
            n.as_i64().or_else(|| n.as_str()?.parse().ok()).expect("n")
        })
        .collect();
    sent.sort_unstable();
    assert_eq!(
        sent,
        (0..RUNS as i64).collect::<Vec<_>>(),
        "each run's own input"
    );
    for run_id in &made {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
        assert_eq!(r["steps"][0]["status"], "succeeded", "{r}");
    }
    let counters = executor_counters(dev, &made[0]);
    let handed = counters["handed"].as_u64().expect("handed");
    let claims = counters["claims"].as_u64().expect("claims");
    assert!(handed >= (RUNS - 2) as u64, "runs handed over: {counters}");
    // The executor's first claim, and one a second for leases that may have expired.
    assert!(claims <= 6, "claim statements for {RUNS} runs: {counters}");
}

/// A wake of the executor makes at most `RUN_WAKE_CALLS` outbound calls (the platform counts an
/// alarm's subrequests): past them it starts no step that reaches out, and the next wake goes
/// on at once. Here 5 calls a wake for 20 runs of two `http` steps (41 calls with one retry):
/// every run succeeds with each step sent once, a run stopped between its steps goes on from
/// its second in a later wake without counting an attempt (`RUN_MAX_ATTEMPTS=1`), and no wake
/// made more calls than allowed (one retry of a step already started may pass it by one).
#[test]
fn a_wake_makes_at_most_its_outbound_calls_and_the_next_wake_goes_on() {
    const RUNS: usize = 20;
    const WAKE_CALLS: u64 = 5;
    let up = Upstream::start();
    let dev = Dev::start(
        "scale-wake-calls",
        &[
            DEV_ACTIONS,
            ("RUN_WAKE_CALLS", &WAKE_CALLS.to_string()),
            ("RUN_MAX_ATTEMPTS", "1"),
        ],
    );
    let steps = json!([
        {"type": "http", "name": "first", "method": "POST", "url": up.url("/echo/first"),
         "json": {"n": "{{request.body.n}}"}, "timeout_ms": 10000, "retries": 0},
        // Fails once in all, so one run's second step is retried.
        {"type": "http", "name": "second", "url": up.url("/fail/second/1"),
         "timeout_ms": 10000, "retries": 1},
    ]);
    let id = create_deployed(&dev, &endpoint(1, steps));
    let made = post_burst(&dev, &id, "wake", RUNS);
    wait_all_succeeded(&dev, &id, RUNS, 120);
    assert_eq!(
        up.received("/echo/first").len(),
        RUNS,
        "first step: one call per run"
    );
    assert_eq!(
        up.received("/fail/second").len(),
        RUNS + 1,
        "second step: one call per run, and the one retry"
    );
    for run_id in &made {
        let r = api(&dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
        let steps = r["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 2, "{r}");
        assert!(steps.iter().all(|s| s["status"] == "succeeded"), "{r}");
    }
    // 41 calls, at most 6 a wake.
    let claims = format!("/api/dev/runs/{}/claims", made[0]);
    assert_wakes_bounded(&dev, &claims, "wake_calls_max", 1..=WAKE_CALLS + 1, 7);
}

/// A wake of the executor starts at most `RUN_WAKE_RUNS` runs (the platform limits an alarm's
/// CPU time): runs created while it runs are handed to it only within what it may still start,
/// and the next wake goes on at once. Here 3 runs a wake for 20 runs of one `http` step, sent
/// in a burst: each runs once, at its first attempt (`RUN_MAX_ATTEMPTS=1`), and no wake
/// started more than 3. (Without the bound one wake starts them all.)
#[test]
fn a_wake_starts_at_most_its_runs_and_the_next_wake_goes_on() {
    const RUNS: usize = 20;
    const WAKE_RUNS: u64 = 3;
    let up = Upstream::start();
    let dev = Dev::start(
        "scale-wake-runs",
        &[
            DEV_ACTIONS,
            ("RUN_WAKE_RUNS", &WAKE_RUNS.to_string()),
            ("RUN_MAX_ATTEMPTS", "1"),
        ],
    );
    let steps = json!([
        {"type": "http", "name": "call", "method": "POST", "url": up.url("/echo/runs"),
         "json": {"n": "{{request.body.n}}"}, "timeout_ms": 10000, "retries": 0},
    ]);
    let id = create_deployed(&dev, &endpoint(1, steps));
    let made = post_burst(&dev, &id, "wake-runs", RUNS);
    wait_all_succeeded(&dev, &id, RUNS, 120);
    assert_eq!(up.received("/echo/runs").len(), RUNS, "one call per run");
    for run_id in &made {
        let r = api(&dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
    }
    let claims = format!("/api/dev/runs/{}/claims", made[0]);
    assert_wakes_bounded(&dev, &claims, "wake_runs_max", 1..=WAKE_RUNS, 7);
}

/// A deployed workflow whose `http` step sends the request body's `blob` to `path`, taking
/// bodies of up to `max_body` bytes.
fn blob_workflow(dev: &Dev, up: &Upstream, path: &str, max_body: usize) -> String {
    let mut def = endpoint(
        1,
        json!([{"type": "http", "name": "call", "method": "POST",
                "url": up.url(path), "json": {"blob": "{{request.body.blob}}"},
                "timeout_ms": 20000, "retries": 0}]),
    );
    def["trigger"]["max_body_bytes"] = json!(max_body);
    create_deployed(dev, &def)
}

/// Asserts `path` got one call per run, each carrying a whole blob of `len` bytes.
fn assert_each_call_sent_the_whole_blob(up: &Upstream, path: &str, runs: usize, len: usize) {
    let calls = up.received(path);
    assert_eq!(calls.len(), runs, "one call per run");
    for call in &calls {
        let sent: Value = serde_json::from_str(&call.body).expect("the step sent JSON");
        assert_eq!(
            sent["blob"].as_str().map(str::len),
            Some(len),
            "the whole input"
        );
    }
}

/// Held runs wait in memory, so a claim or a hand-over holds runs only up to a byte budget
/// (4 MiB): runs of 700 KB each, each executing for a second, build a backlog whatever the
/// host's speed; they still fill the slots the in-flight budget allows, all run once with their
/// whole input, and what was held at once never passed the budget (without it, a backlog of
/// them holds 6, 4.2 MB).
/// Runs executing are read and parsed in memory too: with `RUN_IN_FLIGHT_BYTES` at 3 MiB, runs
/// of 1.2 MiB execute at most 2 at a time, each once with its whole input (without that
/// budget, up to 6: 7.2 MiB). On a `wrangler dev` of its own: its 27 MB of requests would slow
/// the shared one's tests.
#[test]
fn large_runs_are_held_and_executed_within_byte_budgets_and_each_executes_once_with_its_input() {
    const RUNS: usize = 24;
    const BUDGET: u64 = 4 * 1024 * 1024;
    let up = Upstream::start();
    const FLIGHT_BUDGET: u64 = 3 * 1024 * 1024;
    let dev = &Dev::start(
        "scale-large",
        &[
            DEV_ACTIONS,
            ("RUN_IN_FLIGHT_BYTES", &FLIGHT_BUDGET.to_string()),
        ],
    );
    let id = blob_workflow(dev, &up, "/slow/1000/large", 1024 * 1024);
    let blob = "x".repeat(700 * 1024);
    let made = post_burst_of(dev, &id, "large", RUNS, |_| json!({ "blob": blob }));
    wait_all_succeeded(dev, &id, RUNS, 180);
    assert_each_call_sent_the_whole_blob(&up, "/slow/1000/large", RUNS, blob.len());
    // A page of 700 KB runs ends by its size (4 MiB of stored runs), with a cursor; the pages
    // hold every run once, whole.
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/runs?limit=100"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let first = r.json();
    let n = first["runs"].as_array().expect("runs").len();
    assert!((1..RUNS).contains(&n), "{n} runs of 700 KB on one page");
    assert!(first["next_cursor"].is_string(), "{}", first["next_cursor"]);
    let all = runs(dev, &id);
    let ids: HashSet<String> = listed_ids(&all).into_iter().collect();
    assert_eq!(ids, made.iter().cloned().collect::<HashSet<_>>());
    assert!(
        all.iter().all(|r| r["steps"][0]["name"].is_string()),
        "whole records"
    );
    for run_id in made.iter().step_by(5) {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
    }
    let (_, held_bytes) = executor_counts(dev, &made[0]);
    assert!(held_bytes > 0, "runs were held for a free slot");
    assert!(
        held_bytes <= BUDGET,
        "bytes held at once: {held_bytes} (budget {BUDGET})"
    );

    // Runs of 1.2 MiB, each executing for a second: no more than 3 MiB of them at once.
    const HUGE: usize = 8;
    let id = blob_workflow(dev, &up, "/slow/1000/huge", 2 * 1024 * 1024);
    let blob = "y".repeat(1200 * 1024);
    let made = post_burst_of(dev, &id, "huge", HUGE, |_| json!({ "blob": blob }));
    eventually(240, "every huge run succeeded", || {
        let listed = runs(dev, &id);
        listed.len() == HUGE && listed.iter().all(|r| r["status"] == "succeeded")
    });
    assert_each_call_sent_the_whole_blob(&up, "/slow/1000/huge", HUGE, blob.len());
    for run_id in &made {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(r["attempts"], 1, "{r}");
    }
    let counters = executor_counters(dev, &made[0]);
    let flight_bytes = counters["flight_bytes_max"]
        .as_u64()
        .expect("flight_bytes_max");
    assert!(
        flight_bytes >= blob.len() as u64,
        "at least one run executed: {counters}"
    );
    assert!(
        flight_bytes <= FLIGHT_BUDGET,
        "bytes executing at once: {flight_bytes} (budget {FLIGHT_BUDGET}): {counters}"
    );
}

// ---------------------------------------------------------------------------------------------
// Changing `shards` by a redeploy

#[test]
fn redeploys_that_change_shards_neither_lose_nor_duplicate_runs() {
    let dev = dev();
    let def = endpoint(1, json!([]));
    let id = create(dev, &def);
    let deploy = |shards: Value| {
        let mut d = def.clone();
        d["shards"] = shards;
        let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&d));
        assert_eq!(r.status, 200, "{}", r.text);
        let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        // Another isolate may serve the previous version from its cache for up to 2 s.
        std::thread::sleep(Duration::from_millis(2500));
    };
    let mut runs_by_key: HashMap<String, String> = HashMap::new();
    let create_keys = |prefix: &str, n: usize, runs_by_key: &mut HashMap<String, String>| {
        for i in 0..n {
            let key = format!("{prefix}-{i}");
            let (status, body, replayed) = post_keyed(dev, &id, &key, &json!({}));
            assert_eq!(status, 202, "{key}: {body}");
            assert!(!replayed, "{key} is new");
            runs_by_key.insert(key, body["run_id"].as_str().unwrap().to_string());
        }
    };
    let repeat_all = |runs_by_key: &HashMap<String, String>| {
        for (key, run_id) in runs_by_key {
            let (status, body, replayed) = post_keyed(dev, &id, key, &json!({}));
            assert_eq!(status, 202, "{key}: {body}");
            assert!(replayed, "{key} is a repeat: {body}");
            assert_eq!(body["run_id"].as_str(), Some(run_id.as_str()), "{key}");
        }
    };

    // Written `1.0`, as a definition may: the later versions still find the runs it made.
    deploy(json!(1.0));
    create_keys("one", 40, &mut runs_by_key);
    deploy(json!(4));
    let deployed = std::time::Instant::now();
    // Until the change settled (10 s), a new key's run is created where the 1-shard version
    // an isolate may still hold would create it: shard 0, whose dedup index keeps one run.
    create_keys("early", 6, &mut runs_by_key);
    assert!(
        deployed.elapsed() < Duration::from_secs(7),
        "the keys were sent within the settling window"
    );
    for (key, run_id) in runs_by_key.iter().filter(|(k, _)| k.starts_with("early-")) {
        assert!(run_id.ends_with("00"), "{key}: {run_id} is in shard 0");
    }
    repeat_all(&runs_by_key);
    std::thread::sleep(Duration::from_secs(10).saturating_sub(deployed.elapsed()));
    // Settled: the earlier keys are found, the new ones spread over the 4 shards.
    repeat_all(&runs_by_key);
    create_keys("four", 40, &mut runs_by_key);
    deploy(json!(2));
    repeat_all(&runs_by_key);
    create_keys("two", 20, &mut runs_by_key);
    std::thread::sleep(Duration::from_secs(8));
    repeat_all(&runs_by_key);

    let rows = runs(dev, &id);
    let ids = listed_ids(&rows);
    assert_eq!(ids.len(), 106, "every run listed once");
    let listed: HashSet<&str> = ids.iter().map(String::as_str).collect();
    for (key, run_id) in &runs_by_key {
        assert!(listed.contains(run_id.as_str()), "{key}'s run {run_id}");
    }
    // The 4-shard runs did spread over shards the 2-shard version no longer uses.
    let shards: HashSet<&str> = runs_by_key
        .iter()
        .filter(|(k, _)| k.starts_with("four-"))
        .map(|(_, r)| &r[r.len() - 2..])
        .collect();
    assert!(shards.len() >= 3, "{shards:?}");
}

/// A deploy of the same shard count within the settling window of a change (a retried deploy, a
/// quick fix) goes on settling from the count before the change: isolates still holding that
/// version create a new key's run in its shard, so the new version does too until the window
/// ends (it created them in their 4-shard shard at once, and one key could make two runs).
#[test]
fn a_redeploy_of_the_same_count_while_shards_settle_goes_on_settling() {
    let dev = dev();
    let def = endpoint(1, json!([]));
    let id = create(dev, &def);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    std::thread::sleep(Duration::from_millis(2500));
    let mut four = def.clone();
    four["shards"] = json!(4);
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&four));
    assert_eq!(r.status, 200, "{}", r.text);
    let deployed = std::time::Instant::now();
    for _ in 0..2 {
        let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let mut run_ids = Vec::new();
    for i in 0..8 {
        let (status, body, replayed) = post_keyed(dev, &id, &format!("again-{i}"), &json!({}));
        assert_eq!((status, replayed), (202, false), "{body}");
        run_ids.push(body["run_id"].as_str().unwrap().to_string());
    }
    assert!(
        deployed.elapsed() < Duration::from_secs(7),
        "the keys were sent within the settling window"
    );
    for run_id in &run_ids {
        assert!(run_id.ends_with("00"), "{run_id} is in shard 0");
    }
}

// ---------------------------------------------------------------------------------------------
// Storage limit

/// A shard object past `RUN_STORAGE_LIMIT_BYTES` refuses new runs with a 507 problem; every run
/// accepted before stays and finishes, and a repeat of an accepted request still gets its run.
#[test]
fn a_full_shard_refuses_new_runs_with_507_and_keeps_every_accepted_one() {
    // A fresh object's SQLite is a few pages; 8 KB inputs pass 300 KB after a few dozen runs.
    let dev = Dev::start("scale-full", &[("RUN_STORAGE_LIMIT_BYTES", "300000")]);
    let id = create_deployed(&dev, &endpoint(1, log_step()));
    let body = json!({"n": 1, "pad": "x".repeat(8_000)});
    let mut accepted: Vec<(String, String)> = Vec::new();
    let mut refused = None;
    for i in 0..400 {
        let key = format!("full-{i}");
        let (status, answer, _) = post_keyed(&dev, &id, &key, &body);
        match status {
            202 => accepted.push((key, answer["run_id"].as_str().expect("run_id").to_string())),
            507 => {
                refused = Some((key, answer));
                break;
            }
            other => panic!("{key}: {other} {answer}"),
        }
    }
    let (refused_key, problem) = refused.expect("no 507 after 400 runs of 8 KB");
    assert!(
        accepted.len() >= 10,
        "refused too early: {}",
        accepted.len()
    );
    assert_eq!(problem["status"], 507, "{problem}");
    assert_eq!(problem["title"], "Insufficient storage", "{problem}");
    assert_eq!(
        problem["type"], "urn:tripline:problem:insufficient-storage",
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no run was created"),
        "{problem}"
    );
    // Still refused: nothing was stored for it.
    let (status, _, _) = post_keyed(&dev, &id, &refused_key, &body);
    assert_eq!(status, 507);
    // A repeat of an accepted request is answered with its run, not refused.
    let (first_key, first_run) = &accepted[0];
    let (status, answer, replayed) = post_keyed(&dev, &id, first_key, &body);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["run_id"], first_run.as_str());
    assert!(replayed);
    // Every accepted run is there, once, and finished; no other run.
    let listed = runs(&dev, &id);
    let mut ids: Vec<String> = listed_ids(&listed);
    ids.sort();
    let mut want: Vec<String> = accepted.iter().map(|(_, r)| r.clone()).collect();
    want.sort();
    assert_eq!(ids, want);
    for r in &listed {
        assert_eq!(r["status"], "succeeded", "{r}");
    }
    assert_eq!(send("GET", &dev.url("/healthz"), &[], None).status, 200);
}

/// A request whose body took longer than the settling of a change of `shards` to arrive is
/// placed by the version live when it has arrived, not when it began: a repeat of its key sent
/// meanwhile, after the change settled, made its run where the new count puts the key, and the
/// slow request finds it there instead of making a second run in the old count's shard.
#[test]
fn a_body_slower_than_a_change_of_shards_settling_makes_no_second_run() {
    use std::io::{Read as _, Write as _};
    let dev = dev();
    let def = endpoint(1, json!([]));
    let id = create_deployed(dev, &def);
    // A key the 4-shard version puts in another shard than 0.
    let key = (0..)
        .map(|i| format!("slow-{i}"))
        .find(|k| tripline_core::kernel::shard::shard_for(&format!("idempotency:{k}"), 4) != 0)
        .expect("a key");
    let body = json!({"slow": true}).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", dev.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "POST /hooks/{id} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json\r\n\
         idempotency-key: {key}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        dev.port,
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(4);
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(first).expect("write");
    stream.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(1500));
    // Redeployed with 4 shards while the body is on its way; the change settles in 10 s.
    let mut four = def.clone();
    four["shards"] = json!(4);
    redeploy(dev, &id, &four);
    std::thread::sleep(Duration::from_millis(12_000));
    let (status, fast, replayed) =
        post_keyed(dev, &id, &key, &serde_json::from_str(&body).expect("body"));
    assert_eq!(status, 202, "{fast}");
    assert!(!replayed, "{fast}");
    stream.write_all(rest).expect("write");
    stream.flush().expect("flush");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("idempotent-replayed: true"),
        "the slow request made a second run: {answer}"
    );
    let slow: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(slow["run_id"], fast["run_id"], "{answer}");
}

/// A var written unquoted in `wrangler.toml` (a TOML number, which reaches the Worker as a
/// number) is read like a quoted one: a storage limit of 1 byte refuses the first run. (It was
/// taken for unset: the default limit let every run in.)
#[test]
fn a_var_written_as_a_toml_number_is_read() {
    let dev = Dev::start_with_toml_vars("toml-number-var", "RUN_STORAGE_LIMIT_BYTES = 1");
    let id = create_deployed(
        &dev,
        &json!({"name": "full at once", "trigger": {"type": "endpoint"},
                "steps": [{"type": "log", "name": "a", "message": "x"}]}),
    );
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[("content-type", "application/json")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 507, "{}", r.text);
    assert_eq!(r.json()["title"], "Insufficient storage", "{}", r.text);
}
