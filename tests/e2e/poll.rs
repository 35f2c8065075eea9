//! The event-based (poll) trigger end to end: a real `wrangler dev`, a real PostgreSQL cluster
//! started by the harness, and a real HTTP API served by the test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::harness::http_server::{Reply, Server};
use crate::harness::postgres::Postgres;
use crate::harness::*;
use serde_json::{json, Value};

const API_TOKEN: &str = "poll-api-token-42";

/// The shared fixtures: one cluster for most tests, a second one that a test stops and
/// restarts, an HTTP API, and one `wrangler dev` that knows all their URLs.
struct Env {
    dev: Dev,
    pg: Postgres,
    outage: Mutex<Postgres>,
    /// A cluster of its own for the tests that hold transactions open: an open transaction
    /// holds back every poll of its database, and the other tests should not wait for it.
    slow_writers: Postgres,
    api: FeedServer,
}

/// The tests on `slow_writers` take turns: each asserts which transaction holds its rows back.
fn slow_writers_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let pg = Postgres::start("shared");
        pg.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
        // A role whose sessions print dates and floats so that they do not read back as such.
        pg.sql("CREATE ROLE styled LOGIN PASSWORD 'pw'");
        pg.sql(
            "ALTER ROLE styled SET DateStyle = 'SQL, DMY'; \
             ALTER ROLE styled SET TimeZone = 'Asia/Kolkata'; \
             ALTER ROLE styled SET extra_float_digits = 0",
        );
        let outage = Postgres::start("outage");
        outage.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
        let slow_writers = Postgres::start("slow-writers");
        slow_writers.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
        let api = FeedServer::start();
        let dev = Dev::start(
            "poll",
            &[
                ("RUN_LEASE_SECONDS", "10"),
                ("PG_URL", &pg.url("reader")),
                ("PG_STYLED_URL", &pg.url("styled")),
                ("PG_OUTAGE_URL", &outage.url("reader")),
                ("PG_SLOW_URL", &slow_writers.url("reader")),
                ("PG_BAD_ROLE_URL", &pg.url("nobody_here")),
                // A password with an unencoded `@`: the URL's host then holds the rest of it.
                (
                    "PG_AT_URL",
                    &pg.url("reader")
                        .replace("reader:pw@", "reader:p@secret-tail@"),
                ),
                // One whose rest, after a `/`, would be read as the database name.
                (
                    "PG_SLASH_AT_URL",
                    &pg.url("reader")
                        .replace("reader:pw@", "reader:p@secret-tail/x@"),
                ),
                // A key=value string the parser cannot read: it would quote the option.
                (
                    "PG_KV_URL",
                    "host=127.0.0.1 user=reader password=ab secret-tail=ef",
                ),
                // Options a Worker cannot honour as written.
                (
                    "PG_VERIFY_URL",
                    &format!("{}?sslmode=verify-full", pg.url("reader")),
                ),
                (
                    "PG_BINDING_URL",
                    &format!(
                        "{}?sslmode=require&channel_binding=require",
                        pg.url("reader")
                    ),
                ),
                ("API_TOKEN", API_TOKEN),
            ],
        );
        Env {
            dev,
            pg,
            outage: Mutex::new(outage),
            slow_writers,
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
    let mut next_cron = Instant::now() + Duration::from_secs(15);
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
        // Once every ~15 s, as the platform's Cron Trigger would (once a minute): it resumes runs
        // whose executor failed (e.g. a local D1 "database is locked" while `wrangler d1
        // execute` holds the SQLite file), which is how such runs finish in production too.
        if Instant::now() >= next_cron {
            dev.fire_cron();
            next_cron = Instant::now() + Duration::from_secs(15);
        }
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

/// The record's own key in a run's dedup key (`src:<source>:<key>`: scoped to the source).
fn record_key(run: &Value) -> String {
    let key = run["dedup_key"].as_str().expect("dedup_key");
    let rest = key.strip_prefix("src:").expect("a source-scoped key");
    rest.split_once(':')
        .expect("src:<source>:<key>")
        .1
        .to_string()
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
    let denied =
        std::process::Command::new(format!("{}/psql", crate::harness::postgres::bin_dir()))
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
        assert_eq!(record_key(r), rec["id"].to_string());
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

#[test]
fn a_row_committed_after_a_later_row_still_runs_once() {
    let e = env();
    let _turn = slow_writers_turn();
    let pg = &e.slow_writers;
    table(pg, "t_late");
    let def = pg_def(
        "late commit",
        json!({"table": "t_late", "connection_env": "PG_SLOW_URL"}),
        "now",
        5,
    );
    let id = create_deployed(&e.dev, &def);
    // Writer A takes id 1 and keeps its transaction open; writer B inserts id 2 and commits.
    let mut a = pg.session();
    let xid =
        a.exec("BEGIN; INSERT INTO t_late (name, n) VALUES ('a', 1); SELECT pg_current_xact_id();");
    pg.sql("INSERT INTO t_late (name, n) VALUES ('b', 2)");
    wait_polls(&e.dev, &id, 2, 60);
    // Row 2 is visible, but taking it would move the cursor past row 1: it waits, and the
    // status names the transaction it waits for.
    assert_eq!(runs_of(&e.dev, &id), 0);
    let status = poll_status(&e.dev, &id);
    assert_eq!(
        status["waiting"]["transaction"],
        xid[0].as_str(),
        "{status}"
    );
    assert!(status["waiting"]["since"].is_string(), "{status}");
    a.exec("COMMIT;");
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(record_ids(&runs), vec![1, 2]);
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 2);
    assert_eq!(poll_status(&e.dev, &id)["waiting"], Value::Null);
}

#[test]
fn the_newest_open_transaction_holds_rows_back_though_the_snapshot_lists_none() {
    let e = env();
    let _turn = slow_writers_turn();
    let pg = &e.slow_writers;
    table(pg, "t_newest");
    table(pg, "t_elsewhere");
    let def = pg_def(
        "newest open",
        json!({"table": "t_newest", "connection_env": "PG_SLOW_URL"}),
        "now",
        5,
    );
    let id = create_deployed(&e.dev, &def);
    // Writer B gets its transaction id first, by writing to another table. Writer A then takes
    // id 1 and stays open; B inserts id 2 and commits. A's id is now above every ended one, so
    // PostgreSQL's snapshot lists no transaction in progress (`xmin = xmax`).
    let mut b = pg.session();
    b.exec("BEGIN; INSERT INTO t_elsewhere (name, n) VALUES ('b', 0);");
    let mut a = pg.session();
    let xid = a.exec(
        "BEGIN; INSERT INTO t_newest (name, n) VALUES ('a', 1); SELECT pg_current_xact_id();",
    );
    b.exec("INSERT INTO t_newest (name, n) VALUES ('b', 2); COMMIT;");
    let snapshot = pg.sql(
        "SELECT pg_snapshot_xmin(s)::text || ':' || pg_snapshot_xmax(s)::text \
         FROM pg_current_snapshot() s",
    );
    assert_eq!(
        snapshot.trim(),
        format!("{0}:{0}", xid[0]),
        "A's id is the snapshot's xmax"
    );
    wait_polls(&e.dev, &id, 3, 90);
    // Taking row 2 would move the cursor past row 1 for good.
    assert_eq!(runs_of(&e.dev, &id), 0);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["cursor"]["position"], "beginning", "{status}");
    assert_eq!(
        status["waiting"]["transaction"],
        xid[0].as_str(),
        "{status}"
    );
    a.exec("COMMIT;");
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(record_ids(&runs), vec![1, 2]);
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 2);
}

#[test]
fn a_transaction_open_across_polls_holds_rows_back_until_it_commits() {
    let e = env();
    let _turn = slow_writers_turn();
    let pg = &e.slow_writers;
    table(pg, "t_long");
    insert(pg, "t_long", 1, 5);
    let def = pg_def(
        "long transaction",
        json!({"table": "t_long", "connection_env": "PG_SLOW_URL"}),
        "beginning",
        5,
    );
    let id = create_deployed(&e.dev, &def);
    wait_runs(&e.dev, &id, 5, 60);
    // A slow writer inserts rows 6..8 and stays in its transaction; others commit 9..12.
    let mut writer = pg.session();
    let xid = writer.exec(
        "BEGIN; INSERT INTO t_long (name, n) SELECT 'slow', g FROM generate_series(1, 3) g; \
         SELECT pg_current_xact_id();",
    );
    insert(pg, "t_long", 9, 12);
    wait_polls(&e.dev, &id, 3, 90);
    assert_eq!(
        runs_of(&e.dev, &id),
        5,
        "rows after the open transaction must wait"
    );
    let status = poll_status(&e.dev, &id);
    assert_eq!(
        status["waiting"]["transaction"],
        xid[0].as_str(),
        "{status}"
    );
    assert_eq!(status["last_poll_error"], Value::Null);
    // Across later polls the same transaction is named since the same time, for longer.
    wait_polls(&e.dev, &id, 1, 60);
    let later = poll_status(&e.dev, &id);
    assert_eq!(later["waiting"]["transaction"], xid[0].as_str(), "{later}");
    assert_eq!(
        later["waiting"]["since"], status["waiting"]["since"],
        "{later}"
    );
    assert!(
        later["waiting"]["seconds"].as_i64() > status["waiting"]["seconds"].as_i64(),
        "{status} then {later}"
    );
    writer.exec("COMMIT;");
    let runs = wait_runs(&e.dev, &id, 12, 60);
    assert_eq!(record_ids(&runs), (1..=12).collect::<Vec<i64>>());
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(poll_status(&e.dev, &id)["waiting"], Value::Null);
}

#[test]
fn a_transaction_that_began_before_a_later_row_but_writes_after_a_poll_still_runs() {
    let e = env();
    let _turn = slow_writers_turn();
    let pg = &e.slow_writers;
    pg.sql(
        "CREATE TABLE t_begun (id serial PRIMARY KEY, \
         created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL)",
    );
    pg.sql("GRANT SELECT ON t_begun TO reader");
    let source = |settle: u32| {
        json!({"table": "t_begun", "connection_env": "PG_SLOW_URL", "cursor": "created_at",
               "tiebreak": "id", "settle_seconds": settle})
    };
    let settled = create_deployed(&e.dev, &pg_def("begun, settled", source(30), "now", 5));
    // The same table without settling, to show what it is for.
    let unsettled = create_deployed(&e.dev, &pg_def("begun, unsettled", source(0), "now", 5));
    // A begins: its row will carry this moment (`now()` is the transaction's start), but it has
    // no transaction id until it writes, so no snapshot shows it in progress.
    let mut a = pg.session();
    a.exec("BEGIN; SELECT now();");
    std::thread::sleep(Duration::from_millis(300));
    // B inserts a later row and commits; polls see it while nothing is in progress.
    pg.sql("INSERT INTO t_begun (name) VALUES ('b')");
    let taken = wait_runs(&e.dev, &unsettled, 1, 60);
    assert_eq!(taken[0]["input"]["event"]["record"]["name"], "b");
    wait_polls(&e.dev, &settled, 1, 60);
    assert_eq!(
        runs_of(&e.dev, &settled),
        0,
        "a row seen less than settle_seconds ago must wait"
    );
    // A writes now (well within 30 s of its start) and commits: its row is older than B's.
    a.exec("INSERT INTO t_begun (name) VALUES ('a'); COMMIT;");
    let runs = wait_runs(&e.dev, &settled, 2, 120);
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["input"]["event"]["record"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &settled, 1, 60);
    assert_eq!(runs_of(&e.dev, &settled), 2);
    // Without settling the cursor had passed A's row before it was committed: it never runs.
    wait_polls(&e.dev, &unsettled, 2, 60);
    assert_eq!(runs_of(&e.dev, &unsettled), 1);
}

#[test]
fn eight_concurrent_writers_with_random_commit_delays_miss_nothing() {
    const WRITERS: u64 = 8;
    const ROWS_EACH: u64 = 2_000;
    let e = env();
    let _turn = slow_writers_turn();
    let pg = &e.slow_writers;
    table(pg, "t_writers");
    let def = json!({
        "name": "eight writers",
        "trigger": {"type": "poll", "interval_seconds": 5, "start": "beginning",
                    "source": {"kind": "postgres", "connection_env": "PG_SLOW_URL",
                               "table": "t_writers", "cursor": "id"}},
        "steps": []
    });
    let id = create_deployed(&e.dev, &def);
    let writing = std::sync::atomic::AtomicUsize::new(WRITERS as usize);
    // Polls seen to end so far: the first writer, halfway, holds a transaction open until one
    // did (at most a minute), so that a poll always runs while a transaction is in flight,
    // however fast the machine writes.
    let polls_seen = std::sync::atomic::AtomicUsize::new(0);
    // Polls that ended while the writers wrote, and whether one was held back by a writer.
    let (polls_while_writing, waiting_seen) = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut last = poll_status(&e.dev, &id)["last_poll_at"].clone();
            let (mut polls, mut waiting) = (0, false);
            while writing.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                std::thread::sleep(Duration::from_millis(200));
                let status = poll_status(&e.dev, &id);
                if status["last_poll_at"] != last {
                    polls += 1;
                    polls_seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    last = status["last_poll_at"].clone();
                }
                waiting |= !status["waiting"].is_null();
            }
            (polls, waiting)
        });
        for w in 0..WRITERS {
            let writing = &writing;
            let polls_seen = &polls_seen;
            s.spawn(move || {
                let mut session = pg.session();
                // xorshift: a different, repeatable sequence per writer.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (w + 1);
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                let mut written = 0;
                let mut halfway = w != 0;
                while written < ROWS_EACH {
                    if !halfway && written >= ROWS_EACH / 2 {
                        // The first writer, halfway, keeps a transaction open until a poll ended.
                        halfway = true;
                        session.exec(&format!(
                            "BEGIN; INSERT INTO t_writers (name, n) VALUES ('writer {w}', 0);"
                        ));
                        let until = Instant::now() + Duration::from_secs(60);
                        while polls_seen.load(std::sync::atomic::Ordering::SeqCst) == 0
                            && Instant::now() < until
                        {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        session.exec("COMMIT;");
                        written += 1;
                        continue;
                    }
                    let rows = (1 + next() % 20).min(ROWS_EACH - written);
                    let delay_ms = next() % 40;
                    session.exec(&format!(
                        "BEGIN; INSERT INTO t_writers (name, n) \
                         SELECT 'writer {w}', g FROM generate_series(1, {rows}) g; \
                         SELECT pg_sleep({delay_ms} / 1000.0); COMMIT;"
                    ));
                    written += rows;
                }
                writing.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        watcher.join().expect("watcher")
    });
    assert!(
        polls_while_writing >= 1,
        "no poll ended while the writers wrote (the test would not show the rule at work)"
    );
    eprintln!("eight writers: {polls_while_writing} polls while writing, a writer waited for: {waiting_seen}");
    let total = WRITERS * ROWS_EACH;
    // The cursor reaches the last row once the poll has taken every row (its runs are created
    // before the cursor moves). `runs_created` is not waited for: a batch whose answer was lost
    // is sent again and finds its runs already there, which it does not count as new.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = poll_status(&e.dev, &id);
        assert!(
            status["runs_created"].as_u64().unwrap_or(0) <= total,
            "more runs than rows: {status}"
        );
        if status["cursor"]["cursor"]
            .as_str()
            .and_then(|c| c.parse().ok())
            == Some(total)
        {
            break;
        }
        assert!(Instant::now() < deadline, "timed out: {status}");
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_polls(&e.dev, &id, 1, 60);
    let all = runs(&e.dev, &id);
    let ids: BTreeSet<i64> = all
        .iter()
        .map(|r| r["input"]["event"]["record"]["id"].as_i64().expect("id"))
        .collect();
    let missing: Vec<i64> = (1..=total as i64).filter(|i| !ids.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{} rows without a run, e.g. {:?}; status: {}",
        missing.len(),
        &missing[..missing.len().min(20)],
        poll_status(&e.dev, &id)
    );
    assert_eq!(all.len() as u64, total);
    assert_unique_keys(&all);
}

#[test]
fn start_beginning_runs_every_existing_row_in_cursor_order() {
    let e = env();
    table(&e.pg, "t_begin");
    insert(&e.pg, "t_begin", 1, 1200);
    let id = create_deployed(
        &e.dev,
        &pg_def(
            "beginning",
            json!({"table": "public.t_begin"}),
            "beginning",
            5,
        ),
    );
    let runs = wait_runs(&e.dev, &id, 1200, 240);
    // Run ids sort by creation: the runs were created in cursor order, across 3 batches.
    assert_eq!(record_ids(&runs), (1..=1200).collect::<Vec<i64>>());
    assert_unique_keys(&runs);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"));
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 1200);
    assert_eq!(poll_status(&e.dev, &id)["runs_created"], 1200);
}

#[test]
fn rows_inserted_while_polling_with_cron_and_alarms_racing_run_once() {
    let e = env();
    table(&e.pg, "t_race");
    let id = create_deployed(
        &e.dev,
        &pg_def(
            "race",
            json!({"table": "t_race", "batch_size": 7}),
            "now",
            5,
        ),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The Cron Trigger fires and redeploys arm the poll at once, while alarms poll.
    let racer = {
        let stop = stop.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            let dev = &env().dev;
            let mut fired = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                dev.fire_cron();
                // A redeploy arms a poll at once, whether or not one is running.
                let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
                assert_eq!(r.status, 200, "{}", r.text);
                fired += 1;
                std::thread::sleep(Duration::from_millis(300));
            }
            fired
        })
    };
    // One writer, many small transactions, while polls (batches of 7) run.
    let mut inserted = 0;
    for round in 0..40 {
        let n = 1 + round % 5;
        insert(&e.pg, "t_race", inserted + 1, inserted + n);
        inserted += n;
        std::thread::sleep(Duration::from_millis(400));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let fired = racer.join().unwrap();
    assert!(fired >= 3, "the cron fired {fired} times");
    let runs = wait_runs(&e.dev, &id, inserted as usize, 180);
    assert_eq!(
        record_ids(&runs),
        (1..=inserted as i64).collect::<Vec<i64>>()
    );
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &id, 2, 60);
    assert_eq!(runs_of(&e.dev, &id), inserted as usize);
    // Rows were taken by several deployed versions (the redeploys raced the polls).
    assert!(runs.iter().any(|r| r["version"].as_i64() > Some(1)));
}

#[test]
fn timestamp_cursor_with_shared_timestamps_misses_nothing() {
    let e = env();
    e.pg.sql(
        "CREATE TABLE t_ts (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, label text)",
    );
    e.pg.sql("GRANT SELECT ON t_ts TO reader");
    // 50 rows before deploy (skipped: start now), then 350 rows sharing one timestamp and 30
    // more at a later one, read in batches of 100: the tie spans four batches.
    e.pg.sql(
        "INSERT INTO t_ts SELECT g, '2024-05-01 10:00:00+00', 'old' FROM generate_series(1, 50) g",
    );
    let def = pg_def(
        "ts",
        json!({"table": "t_ts", "cursor": "created_at", "tiebreak": "id", "batch_size": 100,
               "columns": ["id", "label"]}),
        "now",
        5,
    );
    let id = create_deployed(&e.dev, &def);
    assert_eq!(
        poll_status(&e.dev, &id)["cursor"],
        json!({"position": "at", "cursor": "2024-05-01 10:00:00+00", "tiebreak": "50",
               "tiebreak_column": "id"})
    );
    // Out of id order on purpose: the tiebreak orders them.
    e.pg.sql(
        "INSERT INTO t_ts SELECT g, '2024-05-02 00:00:00+00', 'same' FROM generate_series(400, 51, -1) g",
    );
    e.pg.sql(
        "INSERT INTO t_ts SELECT g, '2024-05-03 00:00:00+00', 'later' FROM generate_series(401, 430) g",
    );
    let runs = wait_runs(&e.dev, &id, 380, 180);
    assert_eq!(record_ids(&runs), (51..=430).collect::<Vec<i64>>());
    assert_unique_keys(&runs);
    for r in &runs {
        let rec = &r["input"]["event"]["record"];
        assert_eq!(
            record_key(r),
            rec["id"].to_string(),
            "the tiebreak is the dedup key"
        );
        // The listed columns, plus the cursor column.
        let keys: Vec<&str> = rec
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "label", "created_at"]);
    }
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 380);
}

/// A row whose JSON no run can hold (a `jsonb` nested 200 levels deep) never blocks the poll: it
/// is a failed run that says why, the rows around it run, and the cursor moves past it.
#[test]
fn an_unreadable_row_is_a_failed_run_and_the_poll_moves_on() {
    let e = env();
    e.pg.sql("CREATE TABLE t_deep (id serial PRIMARY KEY, doc jsonb NOT NULL)");
    e.pg.sql("GRANT SELECT ON t_deep TO reader");
    e.pg.sql(
        "INSERT INTO t_deep (doc) VALUES ('{\"n\": 1}'), \
         ((repeat('[', 200) || '1' || repeat(']', 200))::jsonb), ('{\"n\": 3}')",
    );
    let id = create_deployed(
        &e.dev,
        &pg_def("deep", json!({"table": "t_deep"}), "beginning", 5),
    );
    let runs = wait_runs(&e.dev, &id, 3, 90);
    let by_key = |runs: &[Value], k: &str| {
        runs.iter()
            .find(|r| record_key(r) == k)
            .unwrap_or_else(|| panic!("no run for {k}: {runs:?}"))
            .clone()
    };
    assert_eq!(by_key(&runs, "1")["status"], "succeeded");
    assert_eq!(by_key(&runs, "3")["status"], "succeeded");
    let failed = by_key(&runs, "2");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "record_unreadable", "{failed}");
    let message = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nested more than"), "{failed}");
    assert_eq!(failed["input"]["event"]["record"], Value::Null);
    assert_eq!(failed["input"]["event"]["record_key"], "2");
    // The cursor is past it: the next row runs, and the polls go on succeeding.
    e.pg.sql("INSERT INTO t_deep (doc) VALUES ('{\"n\": 4}')");
    let runs = wait_runs(&e.dev, &id, 4, 90);
    assert_eq!(by_key(&runs, "4")["status"], "succeeded");
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["cursor"], "4", "{status}");
}

/// A `json` column keeps a string cut inside an emoji as written (an unpaired surrogate escape,
/// which `jsonb` would refuse): the row runs, the half emoji read as U+FFFD.
#[test]
fn a_json_column_holding_half_an_emoji_runs() {
    let e = env();
    e.pg.sql("CREATE TABLE t_half (id serial PRIMARY KEY, doc json NOT NULL)");
    e.pg.sql("GRANT SELECT ON t_half TO reader");
    e.pg.sql(r#"INSERT INTO t_half (doc) VALUES ('{"t": "cut \ud83d"}')"#);
    let id = create_deployed(
        &e.dev,
        &pg_def("half emoji", json!({"table": "t_half"}), "beginning", 5),
    );
    let runs = wait_runs(&e.dev, &id, 1, 90);
    assert_eq!(runs[0]["status"], "succeeded", "{}", runs[0]);
    assert_eq!(
        runs[0]["input"]["event"]["record"]["doc"]["t"], "cut \u{FFFD}",
        "{}",
        runs[0]
    );
}

/// A row far over what a run may hold (30 MB of text, all columns) is never sent by the
/// PostgreSQL Worker: only its size is, and its run is a failed stub (`record_too_large`); the
/// rows around it run and the cursor moves past it.
#[test]
fn a_huge_row_is_a_failed_run_without_being_read() {
    let e = env();
    e.pg.sql("CREATE TABLE t_huge (id serial PRIMARY KEY, body text NOT NULL)");
    e.pg.sql("GRANT SELECT ON t_huge TO reader");
    e.pg.sql("INSERT INTO t_huge (body) VALUES ('one'), (repeat('x', 30000000)), ('three')");
    let id = create_deployed(
        &e.dev,
        &pg_def("huge", json!({"table": "t_huge"}), "beginning", 5),
    );
    let runs = wait_runs(&e.dev, &id, 3, 120);
    let by_key = |k: &str| {
        runs.iter()
            .find(|r| record_key(r) == k)
            .unwrap_or_else(|| panic!("no run for {k}: {runs:?}"))
            .clone()
    };
    assert_eq!(by_key("1")["status"], "succeeded");
    assert_eq!(by_key("3")["status"], "succeeded");
    let failed = by_key("2");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "record_too_large", "{failed}");
    assert!(failed["input"]["event"]["record_bytes"].as_u64().unwrap() > 30_000_000);
    assert_eq!(failed["input"]["event"]["record_key"], "2");
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["cursor"], "3", "{status}");
    stop(&e.dev, &id);
}

/// A role whose sessions print timestamps as `01/05/2024 10:00:01.50 IST` (Asia/Kolkata, which
/// PostgreSQL reads back as Israel's `IST`) and floats rounded to 15 digits: the cursor still
/// reads back as the value it was, one row a batch, so every row runs once.
#[test]
fn cursor_values_read_back_whatever_the_sessions_date_and_float_settings() {
    let e = env();
    e.pg.sql(
        "CREATE TABLE t_styled (id serial PRIMARY KEY, at timestamptz NOT NULL UNIQUE, \
         x float8 NOT NULL UNIQUE)",
    );
    e.pg.sql("GRANT SELECT ON t_styled TO styled");
    e.pg.sql(
        "INSERT INTO t_styled (at, x) SELECT timestamptz '2024-05-01 10:00:00.5+05:30' \
         + g * interval '1 second', 1 + g * 2.220446049250313e-16::float8 \
         FROM generate_series(1, 3) g",
    );
    for cursor in ["at", "x"] {
        let id = create_deployed(
            &e.dev,
            &pg_def(
                &format!("styled {cursor}"),
                json!({"connection_env": "PG_STYLED_URL", "table": "t_styled",
                       "cursor": cursor, "batch_size": 1}),
                "beginning",
                5,
            ),
        );
        let runs = wait_runs(&e.dev, &id, 3, 90);
        assert_eq!(record_ids(&runs), [1, 2, 3], "{cursor}");
        assert_unique_keys(&runs);
        wait_polls(&e.dev, &id, 1, 30);
        assert_eq!(runs_of(&e.dev, &id), 3, "{cursor}");
        stop(&e.dev, &id);
    }
}

/// Rows too large for the default 500 of them to fit one batch's byte budget (4 MiB of record
/// JSON): each batch ends at the budget, the next poll follows at once, and every row runs once.
#[test]
fn a_batch_ends_at_its_byte_budget_and_the_next_poll_goes_on() {
    const ROW_BYTES: usize = 600_000;
    let e = env();
    e.pg.sql("CREATE TABLE t_wide (id serial PRIMARY KEY, body text NOT NULL)");
    e.pg.sql("GRANT SELECT ON t_wide TO reader");
    // 14 rows: 6 fit in 4 MiB, so three batches at least.
    e.pg.sql(&format!(
        "INSERT INTO t_wide (body) SELECT repeat(chr(96 + g), {ROW_BYTES}) \
         FROM generate_series(1, 14) g"
    ));
    let id = create_deployed(
        &e.dev,
        &pg_def("wide", json!({"table": "t_wide"}), "beginning", 5),
    );
    let runs = wait_runs(&e.dev, &id, 14, 180);
    assert_eq!(record_ids(&runs), (1..=14).collect::<Vec<i64>>());
    assert_unique_keys(&runs);
    // The runs of one batch share their creation time.
    let mut batches: BTreeMap<String, usize> = BTreeMap::new();
    for r in &runs {
        assert_eq!(r["status"], "succeeded", "{}", r["id"]);
        let body = r["input"]["event"]["record"]["body"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(body.len(), ROW_BYTES, "{}", r["id"]);
        *batches
            .entry(r["created_at"].as_str().unwrap().to_string())
            .or_default() += body.len();
    }
    assert!(batches.len() >= 3, "{batches:?}");
    assert!(
        batches.values().all(|&bytes| bytes <= 4 * 1024 * 1024),
        "{batches:?}"
    );
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["cursor"], "14", "{status}");
}

/// Rows of many small values (`[0,0,…]`: 2 bytes of text each, tens once parsed) weigh in a
/// batch by their values, not their few bytes: 100 000 of them are one row a batch (six of
/// them were one 1.2 MB batch of 600 000 values). A row of more than 200 000 values is a failed
/// run that says so, never parsed.
#[test]
fn rows_of_many_small_values_are_batched_by_their_values() {
    let e = env();
    e.pg.sql("CREATE TABLE t_samples (id serial PRIMARY KEY, samples int[] NOT NULL)");
    e.pg.sql("GRANT SELECT ON t_samples TO reader");
    e.pg.sql(
        "INSERT INTO t_samples (samples) SELECT array_fill(0, ARRAY[100000]) \
         FROM generate_series(1, 6)",
    );
    e.pg.sql("INSERT INTO t_samples (samples) VALUES (array_fill(0, ARRAY[250000]))");
    let id = create_deployed(
        &e.dev,
        &pg_def("samples", json!({"table": "t_samples"}), "beginning", 5),
    );
    let runs = wait_runs(&e.dev, &id, 7, 180);
    let mut keys: Vec<String> = runs.iter().map(record_key).collect();
    keys.sort();
    assert_eq!(keys, ["1", "2", "3", "4", "5", "6", "7"]);
    assert_unique_keys(&runs);
    let mut created: Vec<&str> = Vec::new();
    for r in &runs {
        if record_key(r) == "7" {
            assert_eq!(r["status"], "failed", "{}", r["id"]);
            assert_eq!(r["error"]["code"], "record_unreadable", "{}", r["error"]);
            let message = r["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("more than 200000 values"), "{message}");
            continue;
        }
        assert_eq!(r["status"], "succeeded", "{}", r["id"]);
        let samples = r["input"]["event"]["record"]["samples"].as_array();
        assert_eq!(samples.map(Vec::len), Some(100_000), "{}", r["id"]);
        created.push(r["created_at"].as_str().unwrap());
    }
    // The runs of one batch share their creation time: one row a batch.
    created.sort();
    created.dedup();
    assert_eq!(created.len(), 6, "{created:?}");
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["cursor"], "7", "{status}");
    stop(&e.dev, &id);
}

/// A cursor whose values can repeat (`created_at DEFAULT now()`, shared by the rows of one
/// transaction) needs a tiebreak: without one every poll fails naming `trigger.source.tiebreak`
/// and reads nothing; with `tiebreak: "id"` the rows of one transaction each run once. A view
/// shows no index, so its cursor is unique only as the definition declares it (a tiebreak that
/// is the cursor itself).
#[test]
fn a_cursor_that_is_not_unique_needs_a_tiebreak() {
    let e = env();
    e.pg.sql(
        "CREATE TABLE t_shared (id serial PRIMARY KEY, \
         created_at timestamptz NOT NULL DEFAULT now(), n int NOT NULL)",
    );
    e.pg.sql("CREATE VIEW v_shared AS SELECT id, n FROM t_shared");
    e.pg.sql("GRANT SELECT ON t_shared, v_shared TO reader");
    // One statement, one transaction: the rows share `now()`.
    e.pg.sql("INSERT INTO t_shared (n) SELECT g FROM generate_series(1, 3) g");
    let def = |name: &str, source: Value| pg_def(name, source, "beginning", 5);
    let without = create_deployed(
        &e.dev,
        &def(
            "no tiebreak",
            json!({"table": "t_shared", "cursor": "created_at"}),
        ),
    );
    let view = create_deployed(&e.dev, &def("view", json!({"table": "v_shared"})));
    for (id, column) in [(&without, "created_at"), (&view, "id")] {
        let error = first_poll_error(&e.dev, id);
        assert!(
            error.contains(&format!("column \"{column}\" is not unique"))
                && error.contains("trigger.source.tiebreak"),
            "{error}"
        );
    }
    let with = create_deployed(
        &e.dev,
        &def(
            "tiebreak",
            json!({"table": "t_shared", "cursor": "created_at", "tiebreak": "id"}),
        ),
    );
    let declared = create_deployed(
        &e.dev,
        &def(
            "view, declared",
            json!({"table": "v_shared", "tiebreak": "id"}),
        ),
    );
    wait_runs(&e.dev, &with, 3, 90);
    wait_runs(&e.dev, &declared, 3, 90);
    e.pg.sql("INSERT INTO t_shared (n) SELECT g FROM generate_series(4, 6) g");
    for id in [&with, &declared] {
        let runs = wait_runs(&e.dev, id, 6, 90);
        assert_eq!(record_ids(&runs), (1..=6).collect::<Vec<i64>>());
        assert_unique_keys(&runs);
        for r in &runs {
            assert_eq!(
                record_key(r),
                r["input"]["event"]["record"]["id"].to_string()
            );
        }
    }
    // The polls without a tiebreak still read nothing.
    for id in [&without, &view] {
        assert_eq!(runs_of(&e.dev, id), 0);
        assert!(poll_status(&e.dev, id)["last_poll_error"].is_string());
        let r = api(
            &e.dev,
            "POST",
            &format!("/api/workflows/{id}/undeploy"),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

/// A record's key is its tiebreak value: a table's tiebreak with no unique index of its own
/// would merge rows that share it into one run, so each poll fails naming the field and reads
/// nothing.
#[test]
fn a_tiebreak_that_is_not_unique_is_refused() {
    let e = env();
    // Each poll of `table` with tiebreak `n` fails naming the field, and starts nothing.
    let refused = |name: &str, table: &str| {
        let id = create_deployed(
            &e.dev,
            &pg_def(
                name,
                json!({"table": table, "cursor": "created_at", "tiebreak": "n"}),
                "beginning",
                5,
            ),
        );
        let error = first_poll_error(&e.dev, &id);
        assert!(
            error.contains("column \"n\" is not unique")
                && error.contains("trigger.source.tiebreak"),
            "{error}"
        );
        assert_eq!(runs_of(&e.dev, &id), 0);
        stop(&e.dev, &id);
    };
    e.pg.sql(
        "CREATE TABLE t_tie_dup (id serial PRIMARY KEY, \
         created_at timestamptz NOT NULL DEFAULT clock_timestamp(), n int NOT NULL)",
    );
    e.pg.sql("GRANT SELECT ON t_tie_dup TO reader");
    e.pg.sql("INSERT INTO t_tie_dup (n) VALUES (1), (1), (2)");
    refused("tiebreak not unique", "t_tie_dup");

    // An index's INCLUDE column is stored in the index, not a key of it: refused.
    e.pg.sql(
        "CREATE TABLE t_tie_incl (id serial PRIMARY KEY, \
         created_at timestamptz NOT NULL DEFAULT clock_timestamp(), n int NOT NULL)",
    );
    e.pg.sql("CREATE UNIQUE INDEX t_tie_incl_at ON t_tie_incl (created_at) INCLUDE (n)");
    e.pg.sql("GRANT SELECT ON t_tie_incl TO reader");
    e.pg.sql("INSERT INTO t_tie_incl (n) VALUES (1), (1)");
    refused("tiebreak included", "t_tie_incl");

    // A partitioned table's primary key must include its partition key: a tiebreak that is one
    // key of it is taken.
    e.pg.sql(
        "CREATE TABLE t_tie_parted (id bigserial, \
         created_at timestamptz NOT NULL DEFAULT clock_timestamp(), n int NOT NULL, \
         PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)",
    );
    e.pg.sql(
        "CREATE TABLE t_tie_parted_all PARTITION OF t_tie_parted \
         FOR VALUES FROM ('2000-01-01') TO ('2100-01-01')",
    );
    e.pg.sql("GRANT SELECT ON t_tie_parted TO reader");
    e.pg.sql("INSERT INTO t_tie_parted (n) VALUES (1), (2), (3)");
    let id = create_deployed(
        &e.dev,
        &pg_def(
            "tiebreak in a partitioned key",
            json!({"table": "t_tie_parted", "cursor": "created_at", "tiebreak": "id"}),
            "beginning",
            5,
        ),
    );
    wait_runs(&e.dev, &id, 3, 90);
    stop(&e.dev, &id);
}

/// A redeploy onto a tiebreak whose values the old one's share (`id` → `seq`, both small
/// numbers) gives records keys of their own: a later row whose `seq` equals an earlier row's
/// `id` still runs, rather than being taken for that row, which ran.
#[test]
fn a_changed_tiebreak_sharing_values_with_the_old_one_misses_no_row() {
    let e = env();
    e.pg.sql(
        "CREATE TABLE t_retie_seq (id serial PRIMARY KEY, \
         created_at timestamptz NOT NULL DEFAULT now(), seq bigint NOT NULL UNIQUE)",
    );
    e.pg.sql("GRANT SELECT ON t_retie_seq TO reader");
    e.pg.sql("INSERT INTO t_retie_seq (seq) VALUES (101), (102), (103)");
    let def = |tiebreak: &str| {
        pg_def(
            "retie seq",
            json!({"table": "t_retie_seq", "cursor": "created_at", "tiebreak": tiebreak}),
            "beginning",
            5,
        )
    };
    let id = create_deployed(&e.dev, &def("id"));
    wait_runs(&e.dev, &id, 3, 90);
    redeploy(&e.dev, &id, &def("seq"));
    // The rows at the stored value run again under their new keys (see the test above).
    wait_runs(&e.dev, &id, 6, 90);
    e.pg.sql("INSERT INTO t_retie_seq (seq) VALUES (1), (2)");
    let runs = wait_runs(&e.dev, &id, 8, 90);
    let mut per_row: BTreeMap<i64, usize> = BTreeMap::new();
    for row in record_ids(&runs) {
        *per_row.entry(row).or_default() += 1;
    }
    assert_eq!(
        per_row,
        BTreeMap::from([(1, 2), (2, 2), (3, 2), (4, 1), (5, 1)]),
        "rows 4 and 5 (seq 1 and 2) run"
    );
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 8);
    stop(&e.dev, &id);
}

/// A redeploy onto another tiebreak (`id` → `uid`, a uuid) never casts the stored id to a uuid:
/// the polls go on. The cursor repeats, so the rows at its stored value are read again; their
/// dedup keys are new (uuids), so each of them runs once more, as documented, and later rows
/// run once.
#[test]
fn a_changed_tiebreak_reads_on_from_the_cursor_value() {
    let e = env();
    e.pg.sql(
        "CREATE TABLE t_retie (id serial PRIMARY KEY, \
         created_at timestamptz NOT NULL DEFAULT now(), \
         uid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(), n int NOT NULL)",
    );
    e.pg.sql("GRANT SELECT ON t_retie TO reader");
    e.pg.sql("INSERT INTO t_retie (n) SELECT g FROM generate_series(1, 3) g");
    let def = |tiebreak: &str| {
        pg_def(
            "retie",
            json!({"table": "t_retie", "cursor": "created_at", "tiebreak": tiebreak}),
            "beginning",
            5,
        )
    };
    let id = create_deployed(&e.dev, &def("id"));
    wait_runs(&e.dev, &id, 3, 90);
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["tiebreak_column"], "id");
    let r = api(
        &e.dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&def("uid")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(&e.dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    wait_runs(&e.dev, &id, 6, 90);
    e.pg.sql("INSERT INTO t_retie (n) SELECT g FROM generate_series(4, 5) g");
    let runs = wait_runs(&e.dev, &id, 8, 90);
    let mut per_row: BTreeMap<i64, usize> = BTreeMap::new();
    for row in record_ids(&runs) {
        *per_row.entry(row).or_default() += 1;
    }
    assert_eq!(
        per_row,
        BTreeMap::from([(1, 2), (2, 2), (3, 2), (4, 1), (5, 1)]),
        "rows at the stored value run again under their new keys, later rows once"
    );
    wait_polls(&e.dev, &id, 1, 60);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["tiebreak_column"], "uid", "{status}");
    assert_eq!(runs_of(&e.dev, &id), 8);
}

#[test]
fn database_outage_creates_no_runs_backs_off_and_recovers() {
    let e = env();
    let mut pg = e.outage.lock().unwrap();
    table(&pg, "t_out");
    insert(&pg, "t_out", 1, 3);
    let mut def = pg_def("outage", json!({"table": "t_out"}), "now", 5);
    def["trigger"]["source"]["connection_env"] = json!("PG_OUTAGE_URL");
    let id = create_deployed(&e.dev, &def);
    insert(&pg, "t_out", 4, 5);
    let before = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(record_ids(&before), [4, 5]);

    // Rows the poll has not seen yet, then the database goes away.
    insert(&pg, "t_out", 6, 8);
    pg.stop_server();
    let mut status = Value::Null;
    eventually(90, "two failed polls", || {
        status = poll_status(&e.dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 2
    });
    let error = status["last_poll_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("PostgreSQL") || error.contains("connect"),
        "{error}"
    );
    // Backing off: the next poll is 5 s doubled per failure away (capped at an hour).
    let failures = status["consecutive_failures"].as_u64().unwrap() as u32;
    let gap = millis(&status["next_poll_at"]) - millis(&status["last_poll_at"]);
    let expected = (5_000i64 << failures).min(3_600_000);
    assert!(
        (gap - expected).abs() < 1_000,
        "gap {gap} ms after {failures} failures: {status}"
    );
    // The cursor did not move and no run started while it was down (rows 6..8 may have run
    // if a poll saw them before the stop).
    let during = runs(&e.dev, &id).len();
    assert!(during <= 5, "{during}");

    pg.start_server();
    insert(&pg, "t_out", 9, 10);
    let after = wait_runs(&e.dev, &id, 7, 180);
    assert_eq!(record_ids(&after), (4..=10).collect::<Vec<i64>>());
    assert_unique_keys(&after);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["consecutive_failures"], 0);
    assert_eq!(status["last_poll_error"], Value::Null);
}

fn millis(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    tripline_core::kernel::time::parse_millis(s).unwrap_or_else(|| panic!("not a time: {s}"))
}

#[test]
fn failing_sources_show_their_error_and_start_nothing() {
    let e = env();
    table(&e.pg, "t_fail");
    let missing_table = create_deployed(
        &e.dev,
        &pg_def("no table", json!({"table": "t_nope"}), "beginning", 5),
    );
    let missing_column = create_deployed(
        &e.dev,
        &pg_def(
            "no column",
            json!({"table": "t_fail", "cursor": "nope"}),
            "beginning",
            5,
        ),
    );
    let mut bad_role = pg_def("bad role", json!({"table": "t_fail"}), "beginning", 5);
    bad_role["trigger"]["source"]["connection_env"] = json!("PG_BAD_ROLE_URL");
    let bad_role = create_deployed(&e.dev, &bad_role);
    let mut no_secret = pg_def("no secret", json!({"table": "t_fail"}), "beginning", 5);
    no_secret["trigger"]["source"]["connection_env"] = json!("NOT_SET_ANYWHERE");
    let no_secret = create_deployed(&e.dev, &no_secret);
    let mut at_sign = pg_def("at sign", json!({"table": "t_fail"}), "beginning", 5);
    at_sign["trigger"]["source"]["connection_env"] = json!("PG_AT_URL");
    let at_sign = create_deployed(&e.dev, &at_sign);
    let mut slash_at = pg_def("slash at", json!({"table": "t_fail"}), "beginning", 5);
    slash_at["trigger"]["source"]["connection_env"] = json!("PG_SLASH_AT_URL");
    let slash_at = create_deployed(&e.dev, &slash_at);
    let mut unreadable = pg_def("unreadable", json!({"table": "t_fail"}), "beginning", 5);
    unreadable["trigger"]["source"]["connection_env"] = json!("PG_KV_URL");
    let unreadable = create_deployed(&e.dev, &unreadable);
    let mut verify = pg_def("verify full", json!({"table": "t_fail"}), "beginning", 5);
    verify["trigger"]["source"]["connection_env"] = json!("PG_VERIFY_URL");
    let verify = create_deployed(&e.dev, &verify);
    let mut binding = pg_def(
        "channel binding",
        json!({"table": "t_fail"}),
        "beginning",
        5,
    );
    binding["trigger"]["source"]["connection_env"] = json!("PG_BINDING_URL");
    let binding = create_deployed(&e.dev, &binding);
    // Not granted to the reader: permission denied.
    e.pg.sql("CREATE TABLE t_private (id serial PRIMARY KEY)");
    e.pg.sql("INSERT INTO t_private DEFAULT VALUES");
    let private = create_deployed(
        &e.dev,
        &pg_def("private", json!({"table": "t_private"}), "beginning", 5),
    );
    insert(&e.pg, "t_fail", 1, 3);

    for (id, needle) in [
        (&missing_table, "\"t_nope\" does not exist"),
        (&missing_column, "column \"nope\" does not exist"),
        (&bad_role, "nobody_here"),
        (&no_secret, "NOT_SET_ANYWHERE"),
        (&private, "permission denied"),
        (&at_sign, "holds more than one `@`"),
        (&slash_at, "holds more than one `@`"),
        (&unreadable, "is not a valid PostgreSQL connection URL"),
        (&verify, "write `sslmode=require`"),
        (&binding, "leave it out, or write `channel_binding=prefer`"),
    ] {
        let mut status = Value::Null;
        eventually(60, &format!("an error for {needle}"), || {
            status = poll_status(&e.dev, id);
            status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
        });
        let error = status["last_poll_error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "wanted …{needle}…, got {status}");
        // No part of a password is quoted (the at-sign ones' host or database name held the
        // rest of it, the parser named the option it could not read).
        assert!(!error.contains("secret-tail"), "{status}");
        assert!(status["last_success_at"].is_null(), "{status}");
        assert_eq!(runs_of(&e.dev, id), 0, "{needle}");
    }

    // Granting access makes the private one recover: every row (start: beginning) runs once.
    e.pg.sql("GRANT SELECT ON t_private TO reader");
    let runs = wait_runs(&e.dev, &private, 1, 120);
    assert_eq!(record_ids(&runs), [1]);
}

/// A table with a column named `r` is read as any other: the row is built as `r.*`, not from a
/// bare `r`, which PostgreSQL takes for the column. (Every poll failed: `row_to_json(integer)`
/// does not exist.)
#[test]
fn a_column_named_r_is_read_as_a_column() {
    let e = env();
    e.pg
        .sql("CREATE TABLE t_col_r (id serial PRIMARY KEY, r int NOT NULL); GRANT SELECT ON t_col_r TO reader");
    e.pg.sql("INSERT INTO t_col_r (r) VALUES (7), (8)");
    let id = create_deployed(
        &e.dev,
        &pg_def("column r", json!({"table": "t_col_r"}), "beginning", 5),
    );
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(record_ids(&runs), [1, 2]);
    let rs: Vec<Value> = runs
        .iter()
        .map(|r| r["input"]["event"]["record"]["r"].clone())
        .collect();
    assert_eq!(rs, [json!(7), json!(8)], "{runs:?}");
    assert_eq!(poll_status(&e.dev, &id)["last_poll_error"], Value::Null);
}

/// A poll that waits for a lock on its table (a migration's) gives up on the server after
/// `lock_timeout` (10 s) and says so; once the lock goes, the next poll reads on. (The read
/// waited on in PostgreSQL after the Worker stopped waiting for it, holding a connection.)
#[test]
fn a_poll_waiting_for_a_lock_gives_up_on_the_server_and_says_so() {
    let e = env();
    let _turn = slow_writers_turn();
    let pg = &e.slow_writers;
    table(pg, "t_locked");
    let def = pg_def(
        "locked",
        json!({"table": "t_locked", "connection_env": "PG_SLOW_URL"}),
        "beginning",
        5,
    );
    let id = create_deployed(&e.dev, &def);
    wait_polls(&e.dev, &id, 1, 60);
    let mut migration = pg.session();
    migration.exec("BEGIN; LOCK TABLE t_locked IN ACCESS EXCLUSIVE MODE;");
    let mut status = Value::Null;
    eventually(60, "a poll that gave up on the lock", || {
        status = poll_status(&e.dev, &id);
        status["last_poll_error"]
            .as_str()
            .is_some_and(|m| m.contains("lock timeout"))
    });
    assert_eq!(runs_of(&e.dev, &id), 0);
    migration.exec("ROLLBACK;");
    insert(pg, "t_locked", 1, 2);
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(record_ids(&runs), [1, 2]);
}

/// PostgreSQL is read only through the PostgreSQL Worker: with the main Worker alone (its
/// binding `PG` leads nowhere, as when `pg/` was not deployed), a readable table with rows starts
/// nothing, and the poll status says which Worker is missing.
#[test]
fn without_the_postgresql_worker_a_poll_fails_saying_so() {
    let e = env();
    table(&e.pg, "t_no_pg_worker");
    insert(&e.pg, "t_no_pg_worker", 1, 3);
    let dev = Dev::start_without_pg_worker("poll-no-pg", &[("PG_URL", &e.pg.url("reader"))]);
    let id = create_deployed(
        &dev,
        &pg_def(
            "no pg worker",
            json!({"table": "t_no_pg_worker"}),
            "beginning",
            5,
        ),
    );
    let mut status = Value::Null;
    eventually(60, "a failed poll", || {
        status = poll_status(&dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    let error = status["last_poll_error"].as_str().unwrap_or_default();
    assert!(error.contains("PostgreSQL Worker"), "{status}");
    assert!(status["last_success_at"].is_null(), "{status}");
    assert_eq!(runs_of(&dev, &id), 0);
}

/// A `hyperdrive` source uses a Hyperdrive binding of the PostgreSQL Worker (`[[hyperdrive]]` in
/// `pg/wrangler.toml`; locally with a `localConnectionString`): its rows run once each.
#[test]
fn a_hyperdrive_source_is_read_through_the_postgresql_workers_binding() {
    let e = env();
    table(&e.pg, "t_hyperdrive");
    insert(&e.pg, "t_hyperdrive", 1, 3);
    let dir = root()
        .join("target/e2e")
        .join(format!("hyperdrive-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("config dir");
    let pg_config = std::fs::read_to_string(root().join("pg/wrangler.toml")).expect("pg config");
    let main = root().join("pg/build/index.js");
    let pg_config = pg_config.replace(
        "main = \"build/index.js\"",
        &format!("main = \"{}\"", main.display()),
    );
    assert!(pg_config.contains(&main.display().to_string()));
    let config = dir.join("wrangler.toml");
    std::fs::write(
        &config,
        format!(
            "{pg_config}\n[[hyperdrive]]\nbinding = \"HD\"\nid = \"0123456789abcdef0123456789abcdef\"\n\
             localConnectionString = \"{}?sslmode=disable\"\n",
            e.pg.url("reader")
        ),
    )
    .expect("write config");
    let dev = Dev::start_with_pg_config("poll-hyperdrive", &[], &config);
    let mut def = pg_def(
        "hyperdrive",
        json!({"table": "t_hyperdrive"}),
        "beginning",
        5,
    );
    let source = def["trigger"]["source"].as_object_mut().unwrap();
    source.remove("connection_env");
    source.insert("hyperdrive".into(), json!("HD"));
    let id = create_deployed(&dev, &def);
    let runs = wait_runs(&dev, &id, 3, 90);
    assert_eq!(record_ids(&runs), [1, 2, 3]);
    assert_unique_keys(&runs);
    assert_eq!(poll_status(&dev, &id)["last_poll_error"], Value::Null);
    // A reset to now reads the newest row through the same binding (the main Worker has none).
    insert(&e.pg, "t_hyperdrive", 4, 5);
    let path = format!("/api/workflows/{id}/poll/reset");
    let r = api(&dev, "POST", &path, Some(&json!({"start": "now"})));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["cursor"]["cursor"], "5", "{}", r.text);
    assert_eq!(runs_of(&dev, &id), 3);
}

#[test]
fn cursor_survives_undeploy_and_redeploy() {
    let e = env();
    table(&e.pg, "t_redeploy");
    let def = pg_def("redeploy", json!({"table": "t_redeploy"}), "now", 5);
    let id = create_deployed(&e.dev, &def);
    insert(&e.pg, "t_redeploy", 1, 3);
    wait_runs(&e.dev, &id, 3, 60);

    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{id}/undeploy"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    insert(&e.pg, "t_redeploy", 4, 8);
    // Undeployed: no poll, no run. (The shared instance's D1 is not read with `d1()` here: the
    // CLI locking the SQLite file makes the Worker's own writes fail with SQLITE_BUSY.)
    std::thread::sleep(Duration::from_secs(2));
    let polled = poll_status(&e.dev, &id)["last_poll_at"].clone();
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(runs_of(&e.dev, &id), 3);
    assert_eq!(poll_status(&e.dev, &id)["last_poll_at"], polled);

    let r = api(&e.dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let runs = wait_runs(&e.dev, &id, 8, 60);
    assert_eq!(record_ids(&runs), (1..=8).collect::<Vec<i64>>());
    assert_unique_keys(&runs);
    assert!(runs
        .iter()
        .all(|r| r["version"] == 2 || r["input"]["event"]["record"]["id"].as_i64() < Some(4)));
    // Deleting the workflow deletes its poll state with it.
    let r = api(&e.dev, "DELETE", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    let r = api(&e.dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.status, 404);
}

#[test]
fn cursor_survives_a_worker_restart() {
    let mut pg = Postgres::start("restart");
    pg.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
    table(&pg, "t_restart");
    let mut dev = Dev::start(
        "poll-restart",
        &[("PG_URL", &pg.url("reader")), ("RUN_LEASE_SECONDS", "5")],
    );
    let id = create_deployed(
        &dev,
        &pg_def("restart", json!({"table": "t_restart"}), "now", 5),
    );
    insert(&pg, "t_restart", 1, 4);
    wait_runs(&dev, &id, 4, 60);
    dev.kill();
    insert(&pg, "t_restart", 5, 9);
    dev.spawn();
    // The alarm survives the restart.
    let runs = wait_runs(&dev, &id, 9, 120);
    assert_eq!(record_ids(&runs), (1..=9).collect::<Vec<i64>>());
    assert_unique_keys(&runs);

    // The alarm keeps going by itself: nothing outside the object re-arms it.
    insert(&pg, "t_restart", 10, 11);
    let runs = wait_runs(&dev, &id, 11, 120);
    assert_eq!(record_ids(&runs), (1..=11).collect::<Vec<i64>>());
    pg.stop_server();
}

/// Adds (`later_field: true`) or takes away a field of the trigger in the definition a poll's
/// object stored, as a later release might have written it: while `wrangler dev` is stopped.
fn edit_stored_trigger(dev: &Dev, workflow_id: &str, later_field: bool) {
    let edit = r#"
    (value,) = db.execute("SELECT value FROM poll_state WHERE key = 'definition'").fetchone()
    stored = json.loads(value)
    definition = json.loads(stored["definition"])
    if args[0] == "add":
        definition["trigger"]["later_field"] = 1
    else:
        del definition["trigger"]["later_field"]
    stored["definition"] = json.dumps(definition)
    done += db.execute("UPDATE poll_state SET value = ? WHERE key = 'definition'",
                       (json.dumps(stored),)).rowcount"#;
    let mode = if later_field { "add" } else { "remove" };
    dev.edit_object_storage(workflow_id, edit, &[mode]);
}

/// A definition its object stored that this release cannot read (written by a later release,
/// before a rollback) fails each poll, tried again later: the poll is not disarmed for good.
/// Once the definition reads again (the later release is back), polls go on by themselves.
#[test]
fn a_stored_definition_this_release_cannot_read_is_retried_not_disarmed() {
    let e = env();
    let feed = "unreadable-definition";
    e.api.update(feed, |f| f.items = vec![item(1)]);
    // Its own instance: it is stopped and its objects' storage changed.
    let mut dev = Dev::start("poll-unreadable", &[("API_TOKEN", API_TOKEN)]);
    let id = create_deployed(
        &dev,
        &http_def(feed, json!({"url": e.api.url(feed)}), "beginning"),
    );
    assert_eq!(item_seqs(&wait_runs(&dev, &id, 1, 60)), [1]);
    dev.kill();
    edit_stored_trigger(&dev, &id, true);
    dev.spawn();
    eventually(60, "a poll meets the unreadable definition", || {
        dev.logs().contains("does not parse in this release")
    });
    // The API shows it as the poll's error.
    eventually(10, "the poll's error shown", || {
        poll_status(&dev, &id)["last_poll_error"]
            .as_str()
            .is_some_and(|e| e.contains("does not parse in this release"))
    });
    dev.kill();
    edit_stored_trigger(&dev, &id, false);
    e.api.update(feed, |f| f.items = vec![item(1), item(2)]);
    dev.spawn();
    // No deploy, no Cron pass: the object's own alarm polls again.
    assert_eq!(item_seqs(&wait_runs(&dev, &id, 2, 120)), [1, 2]);
}

/// Every run of a workflow, counted by status, read through the API (all pages).
fn statuses(dev: &Dev, id: &str) -> (Vec<Value>, usize) {
    let all = runs(dev, id);
    let done = all
        .iter()
        .filter(|r| r["status"] == "succeeded" || r["status"] == "failed")
        .count();
    (all, done)
}

#[test]
fn a_sigkill_during_a_drain_leaves_one_run_per_row_and_they_finish_at_pace() {
    const ROWS: u32 = 3000;
    let e = env();
    table(&e.pg, "t_drain_kill");
    insert(&e.pg, "t_drain_kill", 1, ROWS);
    let mut dev = Dev::start(
        "poll-drain-kill",
        &[("PG_URL", &e.pg.url("reader")), ("RUN_LEASE_SECONDS", "5")],
    );
    // Small batches: the drain takes many polls, so the kill lands in the middle of it.
    let id = create_deployed(
        &dev,
        &pg_def(
            "drain-kill",
            json!({"table": "t_drain_kill", "batch_size": 25}),
            "beginning",
            5,
        ),
    );
    eventually(120, "the drain to start", || !runs(&dev, &id).is_empty());
    let (before, done_before) = statuses(&dev, &id);
    dev.kill();
    println!(
        "killed with {} runs created, {done_before} finished",
        before.len()
    );
    dev.spawn();
    // No Cron pass here: the objects' own alarms finish the drain and the runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let all = loop {
        let (all, done) = statuses(&dev, &id);
        assert!(
            all.len() <= ROWS as usize,
            "{} runs for {ROWS} rows",
            all.len()
        );
        if all.len() == ROWS as usize && done == all.len() {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "after the restart: {} runs, {done} finished, within 120 s; poll: {}",
            all.len(),
            poll_status(&dev, &id)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut ids = record_ids(&all);
    ids.sort_unstable();
    assert_eq!(ids, (1..=i64::from(ROWS)).collect::<Vec<i64>>());
    assert_unique_keys(&all);
    for r in &all {
        assert_eq!(r["status"], "succeeded", "{r}");
    }
    // Each run's steps were recorded once.
    for r in all.iter().take(50) {
        let full = api(
            &dev,
            "GET",
            &format!("/api/runs/{}", r["id"].as_str().unwrap()),
            None,
        );
        assert_eq!(full.status, 200, "{}", full.text);
        assert_eq!(
            full.json()["steps"].as_array().map(Vec::len),
            Some(1),
            "{}",
            full.text
        );
    }
}

#[test]
fn reset_to_now_skips_and_reset_to_beginning_backfills_without_repeats() {
    let e = env();
    table(&e.pg, "t_reset");
    insert(&e.pg, "t_reset", 1, 4);
    // An hourly poll: it polls at deploy, then only when reset says so.
    let id = create_deployed(
        &e.dev,
        &pg_def("reset", json!({"table": "t_reset"}), "now", 3600),
    );
    insert(&e.pg, "t_reset", 5, 7);
    let path = format!("/api/workflows/{id}/poll/reset");

    let r = api(&e.dev, "POST", &path, Some(&json!({"start": "now"})));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["start"], "now");
    assert_eq!(r.json()["cursor"]["cursor"], "7");
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["cursor"], "7");
    assert_eq!(runs_of(&e.dev, &id), 0);

    let r = api(&e.dev, "POST", &path, Some(&json!({"start": "beginning"})));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["cursor"], json!({"position": "beginning"}));
    let runs = wait_runs(&e.dev, &id, 7, 60);
    assert_eq!(record_ids(&runs), (1..=7).collect::<Vec<i64>>());

    // Again from the beginning: every row already has its run, so nothing runs twice. (The
    // reset's poll may end before its answer: the last poll is compared with the one before.)
    let before = poll_status(&e.dev, &id)["last_poll_at"].clone();
    let r = api(&e.dev, "POST", &path, Some(&json!({"start": "beginning"})));
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(60, "the poll the reset started", || {
        poll_status(&e.dev, &id)["last_poll_at"] != before
    });
    assert_eq!(runs_of(&e.dev, &id), 7);
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["cursor"], "7");

    // Bad requests.
    for (body, loc) in [
        (json!({"start": "later"}), "body.start"),
        (json!({}), "body.start"),
        (json!({"start": "now", "extra": 1}), "body.extra"),
    ] {
        let r = api(&e.dev, "POST", &path, Some(&body));
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.locations(), [loc]);
    }
    let endpoint = create(
        &e.dev,
        &json!({"name": "e", "trigger": {"type": "endpoint"}, "steps": []}),
    );
    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{endpoint}/poll/reset"),
        Some(&json!({"start": "now"})),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{id}/undeploy"),
        None,
    );
    assert_eq!(r.status, 200);
    let r = api(&e.dev, "POST", &path, Some(&json!({"start": "now"})));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("not deployed"));
    let r = api(
        &e.dev,
        "POST",
        "/api/workflows/wf_000000000000000000000000/poll/reset",
        Some(&json!({"start": "now"})),
    );
    assert_eq!(r.status, 404);
}

/// A reset that was done answers 200 even when the poll's status cannot be read right after
/// (`poll: null`): a 503 there said "changed nothing", and a client retrying a `beginning`
/// reset read the whole source again. (`status-once`: the object refuses its first status
/// call.)
#[test]
fn a_reset_whose_status_cannot_be_read_after_it_still_answers_that_it_was_done() {
    let e = env();
    table(&e.pg, "t_reset_status");
    insert(&e.pg, "t_reset_status", 1, 3);
    let dev = Dev::start(
        "poll-status-refused",
        &[
            ("TRIPLINE_DEV_FAULTS", "status-once"),
            ("PG_URL", &e.pg.url("reader")),
        ],
    );
    let id = create_deployed(
        &dev,
        &pg_def(
            "reset status",
            json!({"table": "t_reset_status"}),
            "now",
            3600,
        ),
    );
    insert(&e.pg, "t_reset_status", 4, 5);
    let path = format!("/api/workflows/{id}/poll/reset");
    let r = api(&dev, "POST", &path, Some(&json!({"start": "beginning"})));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["start"], "beginning");
    assert_eq!(r.json()["cursor"], json!({"position": "beginning"}));
    assert_eq!(r.json()["poll"], Value::Null, "{}", r.text);
    // The reset was done once: every row runs once, and the status reads again.
    let runs = wait_runs(&dev, &id, 5, 60);
    assert_eq!(record_ids(&runs), (1..=5).collect::<Vec<i64>>());
    let status = poll_status(&dev, &id);
    assert_eq!(status["cursor"]["cursor"], "5", "{status}");
    assert_eq!(runs_of(&dev, &id), 5);
}

#[test]
fn injection_attempts_in_names_are_rejected_at_validation() {
    let e = env();
    let cases = [
        (
            json!({"table": "users; DROP TABLE t_now"}),
            "trigger.source.table",
        ),
        (
            json!({"table": "t\"; DROP TABLE t_now; --"}),
            "trigger.source.table",
        ),
        (json!({"table": "a.b.c"}), "trigger.source.table"),
        (
            json!({"table": "t_now", "cursor": "id) OR 1=1 --"}),
            "trigger.source.cursor",
        ),
        (
            json!({"table": "t_now", "tiebreak": "id'--"}),
            "trigger.source.tiebreak",
        ),
        (
            json!({"table": "t_now", "columns": ["name", "(SELECT 1)"]}),
            "trigger.source.columns[1]",
        ),
        (
            json!({"table": "t_now", "connection_env": "PG URL"}),
            "trigger.source.connection_env",
        ),
    ];
    for (source, location) in cases {
        let def = pg_def("bad", source.clone(), "now", 5);
        let r = api(&e.dev, "POST", "/api/workflows", Some(&def));
        assert_eq!(r.status, 400, "{source}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.locations().contains(&location.to_string()),
            "{source}: {:?}",
            r.locations()
        );
    }
    let def = pg_def("bad interval", json!({"table": "t_now"}), "now", 1);
    let r = api(&e.dev, "POST", "/api/workflows", Some(&def));
    assert_eq!(r.status, 400);
    assert_eq!(r.locations(), ["trigger.interval_seconds"]);
}

/// Calls and runs per wake made small: 6 outbound calls a poll alarm (`POLL_WAKE_CALLS`), 4 runs
/// a wake of an executor (`RUN_WAKE_RUNS`), and one attempt per run (a wake's end never costs
/// a run an attempt). A `wrangler dev` of its own, on the shared cluster.
fn bounded_wakes_dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        Dev::start(
            "poll-bounded-wakes",
            &[
                ("TRIPLINE_DEV_ACTIONS", "1"),
                ("POLL_WAKE_CALLS", "6"),
                ("RUN_WAKE_RUNS", "4"),
                ("RUN_MAX_ATTEMPTS", "1"),
                ("PG_URL", &env().pg.url("reader")),
                ("API_TOKEN", API_TOKEN),
            ],
        )
    })
}

/// A poll alarm makes at most `POLL_WAKE_CALLS` outbound calls (the platform counts an
/// invocation's subrequests): it stops before a batch that could pass them, keeps what it read
/// and goes on in a new wake at once. Here 6 calls a wake, batches of 3 rows over 2 shards (at
/// most 3 calls a batch): 30 rows take at least 5 wakes of at most 6 calls, and each row runs
/// once. (Without the bound one alarm reads all 10 batches: 30 calls.)
#[test]
fn a_poll_alarm_makes_at_most_its_outbound_calls_and_the_next_goes_on() {
    const ROWS: u32 = 30;
    let e = env();
    let dev = bounded_wakes_dev();
    table(&e.pg, "t_wake_calls");
    insert(&e.pg, "t_wake_calls", 1, ROWS);
    let mut def = pg_def(
        "wake calls",
        json!({"table": "t_wake_calls", "batch_size": 3}),
        "beginning",
        5,
    );
    def["shards"] = json!(2);
    let id = create_deployed(dev, &def);
    let all = wait_runs(dev, &id, ROWS as usize, 120);
    assert_unique_keys(&all);
    let mut ids = record_ids(&all);
    ids.sort();
    assert_eq!(ids, (1..=i64::from(ROWS)).collect::<Vec<i64>>());
    assert!(all.iter().all(|r| r["status"] == "succeeded"));
    // 10 full batches, at most 2 a wake.
    let path = format!("/api/dev/workflows/{id}/poll-calls");
    assert_wakes_bounded(dev, &path, "wake_calls_max", 2..=6, 5);
    // Every wake's runs are counted in the status.
    assert_eq!(poll_status(dev, &id)["runs_created"], ROWS);
}

/// The same bound over an HTTP source's pages: a walk stops before a page whose fetch, and the
/// calls to the 2 shards for the runs of the pages it read, could pass 6 calls; it keeps its
/// place, and the next poll goes on at once. 30 items on 10 pages of 3 take at least 3 wakes of
/// at most 6 calls, and each item runs once.
#[test]
fn an_http_poll_makes_at_most_its_outbound_calls_over_pages() {
    let e = env();
    let dev = bounded_wakes_dev();
    let feed = "wake-calls-pages";
    e.api.update(feed, |f| {
        f.items = (1..=30).map(item).collect();
        f.page_size = Some(3);
        f.paging = Paging::BodyNext;
    });
    let mut def = http_def(
        "wake calls pages",
        json!({"url": e.api.url(feed), "pagination": {"next_url": "/links/next", "max_pages": 20}}),
        "beginning",
    );
    def["shards"] = json!(2);
    let id = create_deployed(dev, &def);
    let all = wait_runs(dev, &id, 30, 120);
    assert_unique_keys(&all);
    let mut seqs = item_seqs(&all);
    seqs.sort();
    assert_eq!(seqs, (1..=30).collect::<Vec<u64>>());
    // 10 pages, at most 4 a wake.
    let path = format!("/api/dev/workflows/{id}/poll-calls");
    assert_wakes_bounded(dev, &path, "wake_calls_max", 2..=6, 3);
}

/// A wake of a shard object's executor starts at most `RUN_WAKE_RUNS` runs (the platform limits
/// an invocation's CPU time, and runs that never reach out, like these polled `log` runs, are
/// bounded by neither its calls nor its wall time): the next wake goes on at once. Here 4 runs
/// a wake for one batch of 20: each runs once, at its first attempt, and no wake started more
/// than 4, so there were at least 5. (Without the bound one wake starts all 20.)
#[test]
fn an_executor_wake_starts_at_most_its_runs_and_the_next_goes_on() {
    const ROWS: u32 = 20;
    let e = env();
    let dev = bounded_wakes_dev();
    table(&e.pg, "t_wake_runs");
    insert(&e.pg, "t_wake_runs", 1, ROWS);
    let def = pg_def("wake runs", json!({"table": "t_wake_runs"}), "beginning", 5);
    let id = create_deployed(dev, &def);
    let all = wait_runs(dev, &id, ROWS as usize, 120);
    assert_unique_keys(&all);
    for r in &all {
        assert_eq!(r["status"], "succeeded", "{r}");
        let run_id = r["id"].as_str().expect("id");
        let run = api(dev, "GET", &format!("/api/runs/{run_id}"), None).json();
        assert_eq!(run["attempts"], 1, "{run}");
        assert_eq!(run["steps"][0]["status"], "succeeded", "{run}");
    }
    let run_id = all[0]["id"].as_str().expect("id");
    let path = format!("/api/dev/runs/{run_id}/claims");
    assert_wakes_bounded(dev, &path, "wake_runs_max", 1..=4, 5);
}

/// A `wrangler dev` of its own, for HTTP sources, with the dev fault `fault` on.
fn dev_with_fault(name: &str, fault: &str) -> Dev {
    Dev::start(
        name,
        &[("TRIPLINE_DEV_FAULTS", fault), ("API_TOKEN", API_TOKEN)],
    )
}

fn http_def(name: &str, source: Value, start: &str) -> Value {
    let mut src = json!({"kind": "http", "items": "/data", "id": "/id",
        "headers": {"authorization": "Bearer {{secrets.API_TOKEN}}"}});
    for (k, v) in source.as_object().unwrap() {
        src[k] = v.clone();
    }
    json!({
        "name": name,
        "trigger": {"type": "poll", "interval_seconds": 5, "start": start, "source": src},
        "steps": [{"type": "log", "name": "seen", "message": "item {{event.record.id}}"}]
    })
}

fn item(id: u32) -> Value {
    json!({"id": format!("it-{id:03}"), "seq": id, "created_at": format!("2024-05-01T10:{:02}:{:02}Z", id / 60, id % 60)})
}

/// The `page` query parameter of each request the feed received, in order ("" for none).
fn pages_read(api: &FeedServer, feed: &str) -> Vec<String> {
    api.seen(feed)
        .iter()
        .map(|s| s.query.get("page").cloned().unwrap_or_default())
        .collect()
}

fn item_seqs(runs: &[Value]) -> Vec<u64> {
    runs.iter()
        .map(|r| r["input"]["event"]["record"]["seq"].as_u64().expect("seq"))
        .collect()
}

#[test]
fn http_unique_source_runs_new_items_once() {
    let e = env();
    let feed = "unique";
    e.api
        .update(feed, |f| f.items = (1..=3).map(item).collect());
    let id = create_deployed(
        &e.dev,
        &http_def("unique", json!({"url": e.api.url(feed)}), "now"),
    );
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["remembered_ids"], 3);
    // New items arrive; old ones scroll off the API's window.
    e.api
        .update(feed, |f| f.items = (2..=6).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 3, 60);
    assert_eq!(item_seqs(&runs), [4, 5, 6]);
    assert_eq!(record_key(&runs[0]), "it-004");
    e.api
        .update(feed, |f| f.items = (5..=8).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 5, 60);
    assert_eq!(item_seqs(&runs), [4, 5, 6, 7, 8]);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 5);
    // Each answer overlapped what was seen: nothing can have been missed.
    assert_eq!(poll_status(&e.dev, &id)["last_gap"], Value::Null);
    // An answer with only new items cannot prove that nothing came in between: the status says so.
    e.api
        .update(feed, |f| f.items = (20..=22).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 8, 60);
    assert_eq!(item_seqs(&runs), [4, 5, 6, 7, 8, 20, 21, 22]);
    let gap = poll_status(&e.dev, &id)["last_gap"].clone();
    assert_eq!(gap["items"], 3, "{gap}");
    assert_eq!(gap["pages"], 1, "{gap}");
    assert_eq!(gap["kind"], "all_new", "{gap}");
    assert!(gap["at"].is_string() && gap["reason"].is_string(), "{gap}");
    // The run history says so too: the oldest run after the gap carries it.
    assert_eq!(runs[5]["input"]["event"]["gap"], gap, "{}", runs[5]);
    assert!(runs[..5]
        .iter()
        .all(|r| r["input"]["event"].get("gap").is_none()));
}

/// A batch that one shard refused while another took its part is read again. When a redeploy
/// changed `shards` in between, each record whose run the other shard took is looked up there
/// and left out: every item runs once. A reset to the beginning afterwards runs nothing again.
#[test]
fn a_batch_read_again_after_a_redeploy_that_changed_shards_runs_each_item_once() {
    // A `wrangler dev` of its own: `batch-v1-shard1` makes shard 1 refuse version 1's runs.
    let feeds = FeedServer::start();
    let feed = "reshard";
    feeds.update(feed, |f| f.items = (1..=24).map(item).collect());
    let dev = dev_with_fault("poll-reshard", "batch-v1-shard1");
    let shard_of = |run: &Value| {
        let id = run["id"].as_str().expect("id");
        id[id.len() - 2..].to_string()
    };
    let mut def = http_def("reshard", json!({"url": feeds.url(feed)}), "beginning");
    def["shards"] = json!(2);
    let id = create_deployed(&dev, &def);
    let mut status = Value::Null;
    eventually(60, "a failed poll", || {
        status = poll_status(&dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    assert!(
        status["last_poll_error"]
            .as_str()
            .unwrap_or_default()
            .contains("recording the runs failed"),
        "{status}"
    );
    // Shard 0 took its part of the batch.
    let taken = runs(&dev, &id);
    assert!(!taken.is_empty() && taken.len() < 24, "{}", taken.len());
    assert!(taken.iter().all(|r| shard_of(r) == "00"), "{taken:?}");

    def["shards"] = json!(4);
    redeploy(&dev, &id, &def);
    let all = wait_runs(&dev, &id, 24, 120);
    assert_unique_keys(&all);
    let mut seqs = item_seqs(&all);
    seqs.sort();
    assert_eq!(seqs, (1..=24).collect::<Vec<u64>>());
    // The runs shard 0 took are the ones kept.
    for r in &taken {
        assert!(all.iter().any(|a| a["id"] == r["id"]), "{r}");
    }

    // New items: the batch is read with 4 shards.
    feeds.update(feed, |f| f.items = (1..=64).map(item).collect());
    let all = wait_runs(&dev, &id, 64, 120);
    assert_unique_keys(&all);
    let later: BTreeSet<String> = all
        .iter()
        .filter(|r| r["input"]["event"]["record"]["seq"].as_u64() > Some(24))
        .map(shard_of)
        .collect();
    assert!(later.contains("02") || later.contains("03"), "{later:?}");

    // From the beginning again: every item has its run, in one shard or another.
    let before = poll_status(&dev, &id)["last_poll_at"].clone();
    let path = format!("/api/workflows/{id}/poll/reset");
    let r = api(&dev, "POST", &path, Some(&json!({"start": "beginning"})));
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(60, "the poll the reset started", || {
        poll_status(&dev, &id)["last_poll_at"] != before
    });
    wait_polls(&dev, &id, 1, 60);
    assert_eq!(runs(&dev, &id).len(), 64);
}

/// A reset is how a fixed source is tried again: after a failed poll, a reset to `now` that
/// reads the source polls at once instead of waiting for the next try, and the failure clears.
#[test]
fn a_reset_after_a_failure_polls_at_once_and_clears_it() {
    let e = env();
    let feed = "reset-after-failures";
    // No such feed yet: every poll fails (404).
    let mut def = http_def("reset fixes", json!({"url": e.api.url(feed)}), "beginning");
    def["trigger"]["interval_seconds"] = json!(3600);
    let id = create_deployed(&e.dev, &def);
    eventually(90, "a failed poll", || {
        poll_status(&e.dev, &id)["consecutive_failures"] == 1
    });
    e.api
        .update(feed, |f| f.items = (1..=2).map(item).collect());
    let path = format!("/api/workflows/{id}/poll/reset");
    let r = api(&e.dev, "POST", &path, Some(&json!({"start": "now"})));
    assert_eq!(r.status, 200, "{}", r.text);
    // Before, the next poll stayed where the failure had put it: an answer of 404 is polled
    // again at the interval, an hour from then.
    eventually(60, "the failures cleared by the reset's poll", || {
        let s = poll_status(&e.dev, &id);
        s["consecutive_failures"] == 0 && s["last_poll_error"].is_null()
    });
    // From now: the two items there at the reset start no run.
    assert_eq!(runs_of(&e.dev, &id), 0);
}

/// A batch read again after one shard refused its part while another took it: the shard that
/// took its part, full by then, holds every key of it and answers rather than refusing with
/// 507; only the shard that refused holds the poll back.
#[test]
fn a_batch_read_again_is_not_refused_by_a_full_shard_that_holds_its_keys() {
    let feeds = FeedServer::start();
    let feed = "full-again";
    let pad = "x".repeat(30_000);
    feeds.update(feed, |f| {
        f.items = (1..=24)
            .map(|n| {
                let mut i = item(n);
                i["pad"] = json!(pad);
                i
            })
            .collect()
    });
    // Shard 1 refuses version 1's runs; shard 0 is full once it took its part (~360 KB).
    let dev = Dev::start(
        "poll-full-again",
        &[
            ("TRIPLINE_DEV_FAULTS", "batch-v1-shard1"),
            ("API_TOKEN", API_TOKEN),
            ("RUN_STORAGE_LIMIT_BYTES", "150000"),
        ],
    );
    let mut def = http_def("full again", json!({"url": feeds.url(feed)}), "beginning");
    def["shards"] = json!(2);
    let id = create_deployed(&dev, &def);
    let mut status = Value::Null;
    eventually(90, "two failed polls", || {
        status = poll_status(&dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 2
    });
    let taken = runs(&dev, &id);
    assert!(!taken.is_empty() && taken.len() < 24, "{}", taken.len());
    let error = status["last_poll_error"].as_str().unwrap_or_default();
    assert!(error.contains("batch-v1-shard1"), "{status}");
    assert!(!error.contains("storage is full"), "{status}");
}

/// A deploy that comes while a poll of the previous version is in progress waits for it to end
/// (polls never overlap), then arms the new version: its `start: "now"` source is read before
/// the deploy answers, and its interval applies from there. (Before, the deploy answered at
/// once and the old poll re-armed on the old version's hour-long interval.)
#[test]
fn a_deploy_during_a_poll_arms_the_new_version_when_the_poll_ends() {
    let e = env();
    e.api.update("slow-old", |f| {
        f.items = (1..=2).map(item).collect();
        f.delay_ms = 4000;
    });
    e.api
        .update("after-redeploy", |f| f.items = (1..=3).map(item).collect());
    let def = |feed: &str, start: &str, interval: u32| {
        let mut d = http_def(
            "redeploy during a poll",
            json!({"url": e.api.url(feed)}),
            start,
        );
        d["trigger"]["interval_seconds"] = json!(interval);
        d
    };
    let id = create_deployed(&e.dev, &def("slow-old", "beginning", 3600));
    eventually(60, "the first poll asked the slow feed", || {
        !e.api.seen("slow-old").is_empty()
    });
    let r = api(
        &e.dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&def("after-redeploy", "now", 5)),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(&e.dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    // The old poll ended first (polls do not overlap), then the new source was positioned.
    assert_eq!(e.api.seen("slow-old").len(), 1);
    assert_eq!(
        e.api.seen("after-redeploy").len(),
        1,
        "read before the deploy answered"
    );
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["cursor"]["remembered_ids"], 3, "{status}");
    // The new interval applies: new items are taken within seconds, not after an hour.
    e.api
        .update("after-redeploy", |f| f.items = (1..=5).map(item).collect());
    // (The old poll read the whole slow feed from the beginning: items 1 and 2.)
    let runs = wait_runs(&e.dev, &id, 4, 60);
    assert_eq!(item_seqs(&runs), [1, 2, 4, 5]);
    stop(&e.dev, &id);
}

/// An undeploy, or a delete, while a poll waits for its source: the answer comes once the poll
/// has ended, and that poll creates no run, so no step calls out after it.
#[test]
fn an_undeploy_or_delete_during_a_poll_starts_no_run() {
    let e = env();
    let up = crate::harness::upstream::Upstream::start();
    let def = |feed: &str| {
        let mut d = http_def(
            "stopped mid-poll",
            json!({"url": e.api.url(feed)}),
            "beginning",
        );
        d["steps"] = json!([{"type": "http", "name": "call", "method": "POST",
            "url": up.url(&format!("/echo/{feed}"))}]);
        d
    };
    for (feed, method, path) in [
        ("held-undeploy", "POST", "/undeploy"),
        ("held-delete", "DELETE", ""),
    ] {
        e.api.update(feed, |f| {
            f.items = (1..=2).map(item).collect();
            f.delay_ms = 4000;
        });
        let id = create_deployed(&e.dev, &def(feed));
        eventually(60, "the first poll asked the held feed", || {
            !e.api.seen(feed).is_empty()
        });
        let r = api(&e.dev, method, &format!("/api/workflows/{id}{path}"), None);
        assert!(r.status == 200 || r.status == 204, "{}", r.text);
        std::thread::sleep(Duration::from_secs(8));
        assert!(up.received(&format!("/echo/{feed}")).is_empty(), "{feed}");
        if method == "POST" {
            assert_eq!(runs_of(&e.dev, &id), 0);
        }
    }
}

#[test]
fn an_undeploy_whose_object_call_fails_stops_polling_once_the_cron_retries_it() {
    // A `wrangler dev` of its own: `arm` makes the object refuse the deploy and undeploy calls
    // of API requests (local only), so both land in the arm outbox.
    let feeds = FeedServer::start();
    let feed = "outbox";
    feeds.update(feed, |f| f.items = (1..=2).map(item).collect());
    let dev = dev_with_fault("poll-outbox", "arm");
    let outbox = |id: &str| {
        dev.d1(&format!(
            "SELECT action, attempts, last_error FROM arm_outbox WHERE workflow_id = '{id}'"
        ))
    };
    let id = create(
        &dev,
        &http_def("outbox", json!({"url": feeds.url(feed)}), "beginning"),
    );
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "deployed");
    let rows = outbox(&id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "deploy");
    assert!(
        rows[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("injected fault")),
        "{rows:?}"
    );
    // Not armed: the source is never read.
    std::thread::sleep(Duration::from_secs(3));
    assert!(feeds.seen(feed).is_empty());
    assert_eq!(poll_status(&dev, &id)["last_poll_at"], Value::Null);

    dev.fire_cron();
    assert!(outbox(&id).is_empty(), "the armed entry stays");
    let runs = wait_runs(&dev, &id, 2, 60);
    assert_eq!(item_seqs(&runs), [1, 2]);
    assert_eq!(poll_status(&dev, &id)["runs_created"], 2);

    // Undeploy: the object call fails, so the object goes on polling until the Cron pass
    // retries the call.
    let r = api(&dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "draft");
    let rows = outbox(&id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "undeploy");
    let polls = feeds.seen(feed).len();
    eventually(30, "a poll while the undeploy waits in the outbox", || {
        feeds.seen(feed).len() > polls
    });
    dev.fire_cron();
    assert!(outbox(&id).is_empty(), "the undeploy entry stays");
    std::thread::sleep(Duration::from_secs(1));
    let polls = feeds.seen(feed).len();
    // Two intervals (5 s each) without a poll.
    std::thread::sleep(Duration::from_secs(11));
    assert_eq!(feeds.seen(feed).len(), polls, "polled after the disarm");
}

#[test]
fn http_greatest_source_with_a_newest_first_api_runs_in_order() {
    let e = env();
    let feed = "greatest";
    e.api.update(feed, |f| {
        f.items = (1..=4).map(item).collect();
        f.newest_first = true;
    });
    let def = http_def(
        "greatest",
        json!({"url": e.api.url(feed), "dedupe": "greatest", "greatest": "/created_at"}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 4, 60);
    // Oldest first, although the API lists newest first.
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4]);
    assert_eq!(
        poll_status(&e.dev, &id)["cursor"]["mark"],
        "2024-05-01T10:00:04Z"
    );
    e.api
        .update(feed, |f| f.items = (3..=7).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 7, 60);
    assert_eq!(item_seqs(&runs), (1..=7).collect::<Vec<u64>>());
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 7);
}

/// A redeploy that moves the `greatest` pointer starts over as `start` says: the mark read at
/// the old pointer (a text id) says nothing about the new one (a number), and compared with it
/// every new item would count as seen.
#[test]
fn http_greatest_source_redeployed_with_another_pointer_starts_over() {
    let e = env();
    let feed = "greatest-moved";
    let entry = |seq: u32| json!({"id": format!("it-{}", 900 + seq), "seq": seq});
    e.api
        .update(feed, |f| f.items = (1..=2).map(entry).collect());
    let source = json!({"url": e.api.url(feed), "dedupe": "greatest"});
    let id = create_deployed(&e.dev, &http_def("greatest moved", source, "beginning"));
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(item_seqs(&runs), [1, 2]);
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["mark"], "it-902");

    let moved = json!({"url": e.api.url(feed), "dedupe": "greatest", "greatest": "/seq"});
    redeploy(&e.dev, &id, &http_def("greatest moved", moved, "now"));
    // Read before the deploy answered: the mark is now the newest `seq`.
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["mark"], 2);
    e.api
        .update(feed, |f| f.items = (1..=4).map(entry).collect());
    let runs = wait_runs(&e.dev, &id, 4, 60);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4]);
    wait_polls(&e.dev, &id, 2, 60);
    assert_eq!(runs_of(&e.dev, &id), 4);
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["mark"], 4);
}

#[test]
fn http_unique_source_with_newest_first_api_sorted_by_a_pointer() {
    let e = env();
    let feed = "unique-newest";
    e.api.update(feed, |f| {
        f.items = vec![item(1)];
        f.newest_first = true;
    });
    let def = http_def(
        "unique newest first",
        json!({"url": e.api.url(feed), "dedupe": "unique", "greatest": "/seq", "unique_capacity": 50}),
        "now",
    );
    let id = create_deployed(&e.dev, &def);
    e.api
        .update(feed, |f| f.items = (1..=5).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 4, 60);
    assert_eq!(item_seqs(&runs), [2, 3, 4, 5]);
}

/// One item without an id among readable ones is a failed run that says why, and the poll moves
/// on: it used to fail every poll at that page, for good. It makes no second run when read again.
#[test]
fn http_item_without_an_id_is_a_failed_run_and_the_poll_goes_on() {
    let e = env();
    let feed = "one-bad-item";
    e.api.update(feed, |f| {
        f.items = vec![
            item(1),
            json!({"seq": 2, "title": "no id"}),
            item(3),
            // An id too long to be a key (one of megabytes would fail every insert of the batch).
            json!({"seq": 5, "id": "x".repeat(5_000)}),
        ];
    });
    let id = create_deployed(
        &e.dev,
        &http_def("one bad item", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 4, 60);
    let failed: Vec<&Value> = runs.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 2, "{runs:?}");
    let mut messages: Vec<&str> = failed
        .iter()
        .map(|r| {
            assert_eq!(r["error"]["code"], "record_unreadable", "{r}");
            r["error"]["message"].as_str().unwrap_or_default()
        })
        .collect();
    messages.sort();
    assert!(
        messages[0].contains("item [1] at pointer \"/id\": has no id there"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("item [3] at pointer \"/id\": the id is 5000 bytes long"),
        "{messages:?}"
    );
    let succeeded: Vec<u64> = runs
        .iter()
        .filter(|r| r["status"] == "succeeded")
        .map(|r| r["input"]["event"]["record"]["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(succeeded.len(), 2, "{runs:?}");
    assert!(
        succeeded.contains(&1) && succeeded.contains(&3),
        "{succeeded:?}"
    );
    assert_eq!(poll_status(&e.dev, &id)["last_poll_error"], Value::Null);
    // Later items run; the bad one, read again, makes no second run.
    e.api.update(feed, |f| f.items.push(item(4)));
    let runs = wait_runs(&e.dev, &id, 5, 60);
    assert_eq!(runs.iter().filter(|r| r["status"] == "failed").count(), 2);
}

/// A page with a string cut inside an emoji (a surrogate escape without its pair, as JavaScript
/// writes one) is read, the character shown as U+FFFD: it used to make the page "not JSON" and
/// stop the poll at it for good. An id that is a whole number past 2^53 (digits lost in reading,
/// so neighbours would share a key and one record never run) stops the poll, saying so.
/// A page starting with a UTF-8 byte order mark (some .NET services send one) is read as the
/// JSON after it.
#[test]
fn http_page_with_a_byte_order_mark_runs() {
    let e = env();
    let feed = "byte-order-mark";
    e.api.update(feed, |f| {
        f.items = (1..=2).map(item).collect();
        f.rewrite = vec![("{\"data\"", "\u{feff}{\"data\"")];
    });
    let id = create_deployed(
        &e.dev,
        &http_def("bom", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(item_seqs(&runs), [1, 2]);
    assert_eq!(poll_status(&e.dev, &id)["last_poll_error"], Value::Null);
}

#[test]
fn http_page_with_a_cut_emoji_runs_and_ids_past_2_53_are_refused() {
    let e = env();
    let feed = "cut-emoji";
    e.api.update(feed, |f| {
        f.items = (1..=2).map(item).collect();
        f.items[1]["title"] = json!("cut LONE");
        f.rewrite = vec![("LONE", "\\ud83d")];
    });
    let id = create_deployed(
        &e.dev,
        &http_def("cut emoji", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(item_seqs(&runs), [1, 2]);
    assert_eq!(
        runs[1]["input"]["event"]["record"]["title"], "cut \u{fffd}",
        "{}",
        runs[1]
    );
    assert_eq!(poll_status(&e.dev, &id)["last_poll_error"], Value::Null);

    let feed = "big-ids";
    e.api.update(feed, |f| {
        f.items = vec![
            json!({"id": "BIG-A", "seq": 1}),
            json!({"id": "BIG-B", "seq": 2}),
        ];
        f.rewrite = vec![
            ("\"BIG-A\"", "12345678901234567890123"),
            ("\"BIG-B\"", "12345678901234567890124"),
        ];
    });
    let big = create_deployed(
        &e.dev,
        &http_def("big ids", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let mut status = Value::Null;
    eventually(60, "the id error", || {
        status = poll_status(&e.dev, &big);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    let error = status["last_poll_error"].as_str().unwrap_or_default();
    assert!(error.contains("item [0] at pointer \"/id\""), "{status}");
    assert!(error.contains("too large to read exactly"), "{status}");
    assert_eq!(runs_of(&e.dev, &big), 0);
}

#[test]
fn http_source_errors_start_nothing_and_recover() {
    let e = env();
    let feed = "broken";
    e.api.update(feed, |f| f.items = vec![item(1)]);
    let id = create_deployed(
        &e.dev,
        &http_def("broken", json!({"url": e.api.url(feed)}), "now"),
    );
    e.api.update(feed, |f| {
        f.items = (1..=3).map(item).collect();
        f.broken = Some("json");
    });
    let mut status = Value::Null;
    eventually(60, "a bad JSON error", || {
        status = poll_status(&e.dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    assert!(
        status["last_poll_error"]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "{status}"
    );
    e.api.update(feed, |f| f.broken = Some("500"));
    eventually(90, "an HTTP 500 error", || {
        status = poll_status(&e.dev, &id);
        status["last_poll_error"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 500")
    });
    assert_eq!(runs_of(&e.dev, &id), 0);
    e.api.update(feed, |f| f.broken = None);
    let runs = wait_runs(&e.dev, &id, 2, 120);
    assert_eq!(item_seqs(&runs), [2, 3]);

    // A 429 with `Retry-After: 600`: the next poll waits those 600 s, not the 10 s backoff.
    e.api.update(feed, |f| f.broken = Some("429"));
    eventually(60, "an HTTP 429 error", || {
        status = poll_status(&e.dev, &id);
        status["last_poll_error"]
            .as_str()
            .unwrap_or_default()
            .contains("answered HTTP 429 (retry after 600 s)")
    });
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(status[field].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    let waits = at("next_poll_at") - at("last_poll_at");
    assert!((595..=605).contains(&waits), "{waits} s: {status}");
    assert_eq!(runs_of(&e.dev, &id), 2);
    e.api.update(feed, |f| f.broken = None);

    // A wrong token is an auth error; items pointer at nothing is explained.
    let mut def = http_def("no token", json!({"url": e.api.url(feed)}), "beginning");
    def["trigger"]["source"]["headers"]["authorization"] = json!("Bearer wrong");
    let wrong = create_deployed(&e.dev, &def);
    let def = http_def(
        "bad pointer",
        json!({"url": e.api.url(feed), "items": "/items"}),
        "beginning",
    );
    let pointer = create_deployed(&e.dev, &def);
    for (id, needle) in [
        (&wrong, "HTTP 401"),
        (&pointer, "no array at items pointer \"/items\""),
    ] {
        eventually(60, needle, || {
            status = poll_status(&e.dev, id);
            status["last_poll_error"]
                .as_str()
                .unwrap_or_default()
                .contains(needle)
        });
        assert_eq!(runs_of(&e.dev, id), 0);
    }
}

/// An empty list written as `null`, a 204 and an empty 200 are answers with no items: the poll
/// succeeds (no error, no backoff), and the items listed later run.
#[test]
fn http_an_empty_list_written_as_null_or_an_empty_answer_is_no_items() {
    let e = env();
    let feeds = [
        ("null-list", None),
        ("no-content", Some(204)),
        ("empty-200", Some(200)),
    ];
    let mut ids = Vec::new();
    for (feed, empty) in feeds {
        e.api.update(feed, |f| match empty {
            None => f.rewrite = vec![("\"data\":[]", "\"data\":null")],
            Some(status) => f.empty_answer = Some(status),
        });
        let def = http_def(feed, json!({"url": e.api.url(feed)}), "beginning");
        ids.push(create_deployed(&e.dev, &def));
    }
    for id in &ids {
        wait_polls(&e.dev, id, 2, 60);
        let status = poll_status(&e.dev, id);
        assert_eq!(status["last_poll_error"], Value::Null, "{status}");
        assert_eq!(status["consecutive_failures"], 0, "{status}");
        assert_eq!(runs_of(&e.dev, id), 0);
    }
    for (feed, _) in feeds {
        e.api.update(feed, |f| {
            f.items = (1..=2).map(item).collect();
            f.empty_answer = None;
        });
    }
    for id in &ids {
        let runs = wait_runs(&e.dev, id, 2, 60);
        assert_eq!(item_seqs(&runs), [1, 2]);
        stop(&e.dev, id);
    }
}

/// A page after the first that fails does not hold back the pages read before it: their items
/// run, the error names the page, and the next polls read on from that page (not from the
/// first) until it answers; every item runs once.
#[test]
fn http_a_failing_later_page_runs_the_pages_before_it_and_reads_on_from_there() {
    let e = env();
    let feed = "fail-page-3";
    e.api.update(feed, |f| {
        f.items = (1..=10).map(item).collect();
        f.page_size = Some(2);
        f.fail_page = Some(3);
    });
    let id = create_deployed(
        &e.dev,
        &http_def(feed, json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 4, 60);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4]);
    let mut status = Value::Null;
    eventually(60, "the failed page", || {
        status = poll_status(&e.dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    let error = status["last_poll_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("HTTP 500") && error.contains("(page 3)"),
        "{status}"
    );
    assert!(
        error.contains("the next poll reads on from this page"),
        "{status}"
    );
    // The runs it started count, though the poll failed.
    assert_eq!(status["runs_created"], 4, "{status}");
    // The next poll reads the failing page again, not the first.
    let before = e.api.seen(feed).len();
    eventually(90, "a second failed poll", || {
        poll_status(&e.dev, &id)["consecutive_failures"]
            .as_i64()
            .unwrap_or(0)
            >= 2
    });
    let again = pages_read(&e.api, feed)[before..].to_vec();
    assert!(
        !again.is_empty() && again.iter().all(|p| p == "3"),
        "{again:?}"
    );
    assert_eq!(runs_of(&e.dev, &id), 4);
    e.api.update(feed, |f| f.fail_page = None);
    let runs = wait_runs(&e.dev, &id, 10, 120);
    assert_eq!(item_seqs(&runs), (1..=10).collect::<Vec<u64>>());
    assert_unique_keys(&runs);
    stop(&e.dev, &id);
}

/// A `unique` cursor remembering tens of thousands of long ids keeps them all (more than one
/// stored value may hold): positioned at deploy, it runs only the items listed after.
#[test]
fn http_unique_source_remembering_megabytes_of_ids_runs_only_new_items() {
    let e = env();
    let feed = "long-ids";
    let long = |n: u32| json!({"id": format!("{}-{n:05}", "i".repeat(200)), "seq": n});
    e.api
        .update(feed, |f| f.items = (1..=12_000).map(long).collect());
    let mut def = http_def(feed, json!({"url": e.api.url(feed)}), "now");
    def["trigger"]["source"]["unique_capacity"] = json!(100_000);
    let id = create_deployed(&e.dev, &def);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["cursor"]["remembered_ids"], 12_000, "{status}");
    e.api
        .update(feed, |f| f.items = (1..=12_002).map(long).collect());
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(item_seqs(&runs), [12_001, 12_002]);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 2);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["remembered_ids"], 12_002, "{status}");
    stop(&e.dev, &id);
}

/// Undeploys a workflow: the tests share one Worker, and a finished test should stop polling.
fn stop(dev: &Dev, id: &str) {
    let r = api(dev, "POST", &format!("/api/workflows/{id}/undeploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
}

/// GitHub's style: newest first, 10 a page, `Link: <…>; rel="next"` (relative here). 25 new items
/// on 3 pages between two polls: 25 runs, oldest first; the walk stops at the page that reaches
/// what was seen (page 3), and nothing suggests a gap.
#[test]
fn http_link_paginated_newest_first_api_runs_every_new_item_once() {
    let e = env();
    let feed = "link-newest";
    e.api.update(feed, |f| {
        f.items = (1..=30).map(item).collect();
        f.newest_first = true;
        f.page_size = Some(10);
        f.paging = Paging::LinkRelative;
    });
    let def = http_def(
        "link newest first",
        json!({"url": e.api.url(feed), "greatest": "/seq",
               "pagination": {"order": "newest_first"}}),
        "now",
    );
    let id = create_deployed(&e.dev, &def);
    // Positioning a newest-first list reads its first page only.
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["remembered_ids"], 10);
    let before = e.api.seen(feed).len();
    assert_eq!(before, 1, "{:?}", e.api.seen(feed));
    e.api
        .update(feed, |f| f.items = (1..=55).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 25, 90);
    assert_eq!(item_seqs(&runs), (31..=55).collect::<Vec<u64>>());
    assert_unique_keys(&runs);
    // The walk read pages 1, 2 and 3 and stopped there (page 3 holds items seen before).
    let pages: Vec<String> = e.api.seen(feed)[before..before + 3]
        .iter()
        .map(|s| s.query.get("page").cloned().unwrap_or_default())
        .collect();
    assert_eq!(pages, ["", "2", "3"]);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 25);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_gap"], Value::Null, "{status}");
    assert!(
        e.api
            .seen(feed)
            .iter()
            .all(|s| s.query.get("page").is_none_or(|p| p != "4")),
        "page 4 is older than what was seen and never read"
    );
    stop(&e.dev, &id);
}

/// A newest-first list asked for what is at or after the mark (`since`, inclusive), whose items
/// share the mark's time: the item taken before sits on the first page with a newer one, and
/// two more at the same time are on the second. The walk reads on past the seen tie and runs
/// all three new items.
#[test]
fn http_newest_first_walk_reads_past_a_tie_at_the_mark() {
    let e = env();
    let feed = "ties-newest";
    let at = |id: &str, seq: u64, second: u32| json!({"id": id, "seq": seq, "created_at": format!("2024-05-01T10:00:{second:02}Z")});
    e.api.update(feed, |f| {
        f.items = vec![at("a", 1, 0)];
        f.newest_first = true;
        f.page_size = Some(2);
        f.since = true;
        f.since_inclusive = true;
    });
    let def = http_def(
        "ties newest first",
        json!({"url": format!("{}?since={{{{cursor.greatest}}}}", e.api.url(feed)),
               "dedupe": "greatest", "greatest": "/created_at",
               "pagination": {"order": "newest_first"}}),
        "now",
    );
    let id = create_deployed(&e.dev, &def);
    assert_eq!(
        poll_status(&e.dev, &id)["cursor"]["mark"],
        "2024-05-01T10:00:00Z"
    );
    // Listed newest first: [x, a] on page 1, [c, b] on page 2.
    e.api.update(feed, |f| {
        f.items = vec![at("b", 2, 0), at("c", 3, 0), at("a", 1, 0), at("x", 4, 1)]
    });
    let runs = wait_runs(&e.dev, &id, 3, 90);
    let mut seqs = item_seqs(&runs);
    seqs.sort_unstable();
    assert_eq!(seqs, [2, 3, 4]);
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 3);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_gap"], Value::Null, "{status}");
    assert_eq!(status["cursor"]["mark"], "2024-05-01T10:00:01Z", "{status}");
    stop(&e.dev, &id);
}

/// Stripe's style: a token in the body (`meta.next_cursor`) sent back as `?after=`; the list is
/// oldest first, so every poll reads to its end.
#[test]
fn http_cursor_token_api_reads_every_page() {
    let e = env();
    let feed = "cursor-token";
    e.api.update(feed, |f| {
        f.items = (1..=10).map(item).collect();
        f.page_size = Some(4);
        f.paging = Paging::Cursor;
    });
    let def = http_def(
        "cursor token",
        json!({"url": format!("{}?limit=4", e.api.url(feed)),
               "pagination": {"cursor": "/meta/next_cursor", "param": "after"}}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 10, 90);
    assert_eq!(item_seqs(&runs), (1..=10).collect::<Vec<u64>>());
    let afters: Vec<Option<String>> = e.api.seen(feed)[..3]
        .iter()
        .map(|s| s.query.get("after").cloned())
        .collect();
    assert_eq!(
        afters,
        [None, Some("it-004".to_string()), Some("it-008".to_string())]
    );
    assert!(e.api.seen(feed)[1]
        .query
        .get("limit")
        .is_some_and(|l| l == "4"));
    e.api
        .update(feed, |f| f.items = (1..=13).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 13, 90);
    assert_eq!(item_seqs(&runs), (1..=13).collect::<Vec<u64>>());
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 13);
    assert_eq!(poll_status(&e.dev, &id)["last_gap"], Value::Null);
    stop(&e.dev, &id);
}

/// An API filtered by `since`: the request carries the cursor (`{{cursor.greatest}}`,
/// percent-encoded; empty before anything was taken), and an answer of only new items is no gap
/// (the API was asked for exactly what is new).
#[test]
fn http_since_filtered_api_is_asked_only_for_new_items() {
    let e = env();
    let feed = "since";
    e.api.update(feed, |f| {
        f.items = (1..=3).map(item).collect();
        f.since = true;
    });
    let def = http_def(
        "since",
        json!({"url": format!("{}?since={{{{cursor.greatest}}}}", e.api.url(feed)),
               "dedupe": "greatest", "greatest": "/created_at"}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 3, 90);
    assert_eq!(item_seqs(&runs), [1, 2, 3]);
    assert_eq!(e.api.seen(feed)[0].query["since"], "");
    e.api
        .update(feed, |f| f.items = (1..=6).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 6, 90);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4, 5, 6]);
    let sinces: BTreeSet<String> = e
        .api
        .seen(feed)
        .iter()
        .map(|s| s.query["since"].clone())
        .collect();
    assert!(
        sinces.contains("2024-05-01T10:00:03Z"),
        "the API was asked for what is after item 3: {sinces:?}"
    );
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 6);
    assert_eq!(
        e.api.seen(feed).last().unwrap().query["since"],
        "2024-05-01T10:00:06Z"
    );
    assert_eq!(poll_status(&e.dev, &id)["last_gap"], Value::Null);
    stop(&e.dev, &id);
}

/// An API asked only for what is new that lists it newest first and caps its answer (a
/// `limit` with no next page) leaves out the oldest new items: an answer that holds as many
/// items as the URL's `limit`, newest first, without the last item taken, is a gap, reported.
/// A shorter answer is whole, and so is one that reaches the last item taken (filtered
/// inclusively, `gte`): no gap.
#[test]
fn http_since_filtered_api_listing_newest_first_reports_a_capped_answer() {
    let e = env();
    for (feed, inclusive) in [("since-capped", false), ("since-capped-gte", true)] {
        e.api.update(feed, |f| {
            f.items = vec![item(1)];
            f.since = true;
            f.since_inclusive = inclusive;
            f.newest_first = true;
            f.cap = Some(3);
        });
        let def = http_def(
            feed,
            json!({"url": format!("{}?since={{{{cursor.greatest}}}}&limit=3", e.api.url(feed)),
                   "dedupe": "greatest", "greatest": "/created_at"}),
            "beginning",
        );
        let id = create_deployed(&e.dev, &def);
        assert_eq!(item_seqs(&wait_runs(&e.dev, &id, 1, 90)), [1]);
        let last_gap = || poll_status(&e.dev, &id)["last_gap"].clone();
        // Two new items, newest first: fewer than the limit (or, inclusively, the last item
        // taken too), a whole answer.
        e.api
            .update(feed, |f| f.items = (1..=3).map(item).collect());
        assert_eq!(item_seqs(&wait_runs(&e.dev, &id, 3, 90)), [1, 2, 3]);
        wait_polls(&e.dev, &id, 1, 60);
        assert_eq!(last_gap(), Value::Null, "{feed}");
        // Four new items, three listed: item 4 is left out, and the poll says so.
        e.api
            .update(feed, |f| f.items = (1..=7).map(item).collect());
        let runs = wait_runs(&e.dev, &id, 6, 90);
        assert_eq!(item_seqs(&runs), [1, 2, 3, 5, 6, 7], "{feed}");
        eventually(30, "the capped answer's gap", || last_gap()["new"] == 3);
        let gap = last_gap();
        assert_eq!(gap["kind"], "all_new", "{feed}: {gap}");
        assert!(gap["reason"].as_str().unwrap().contains("limit"), "{gap}");
        stop(&e.dev, &id);
    }
    // A URL without a limit: the API's own page size may have cut any such answer.
    let feed = "since-no-limit";
    e.api.update(feed, |f| {
        f.items = vec![item(1)];
        f.since = true;
        f.newest_first = true;
    });
    let def = http_def(
        feed,
        json!({"url": format!("{}?since={{{{cursor.greatest}}}}", e.api.url(feed)),
               "dedupe": "greatest", "greatest": "/created_at"}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    assert_eq!(item_seqs(&wait_runs(&e.dev, &id, 1, 90)), [1]);
    e.api
        .update(feed, |f| f.items = (1..=3).map(item).collect());
    assert_eq!(item_seqs(&wait_runs(&e.dev, &id, 3, 90)), [1, 2, 3]);
    eventually(30, "the gap of an answer without a limit", || {
        poll_status(&e.dev, &id)["last_gap"]["new"] == 2
    });
    stop(&e.dev, &id);
    // The same API giving next-page links: the list is read to its end, no gap.
    let feed = "since-linked";
    e.api.update(feed, |f| {
        f.items = vec![item(1)];
        f.since = true;
        f.newest_first = true;
        f.page_size = Some(2);
    });
    let def = http_def(
        feed,
        json!({"url": format!("{}?since={{{{cursor.greatest}}}}", e.api.url(feed)),
               "dedupe": "greatest", "greatest": "/created_at"}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    assert_eq!(item_seqs(&wait_runs(&e.dev, &id, 1, 90)), [1]);
    e.api
        .update(feed, |f| f.items = (1..=7).map(item).collect());
    assert_eq!(
        item_seqs(&wait_runs(&e.dev, &id, 7, 90)),
        (1..=7).collect::<Vec<u64>>()
    );
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(poll_status(&e.dev, &id)["last_gap"], Value::Null);
    stop(&e.dev, &id);
}

/// `start: "now"` on an oldest-first list longer than `max_pages`: the deploy reads to its end
/// before it answers, so an item added right after the deploy starts a run. (Bound by
/// `max_pages`, the rest of the walk was read by later polls, still positioning, and took items
/// added meanwhile as seen.)
#[test]
fn http_start_now_positions_over_every_page_of_an_oldest_first_list_before_the_deploy_answers() {
    let e = env();
    let feed = "position-long";
    e.api.update(feed, |f| {
        f.items = (1..=25).map(item).collect();
        f.page_size = Some(5);
        f.paging = Paging::BodyNext;
    });
    let def = http_def(
        "position long",
        json!({"url": e.api.url(feed), "pagination": {"next_url": "/links/next", "max_pages": 2}}),
        "now",
    );
    let id = create_deployed(&e.dev, &def);
    // Every page was read by the deploy: 25 items on 5 pages, the last one empty of a next link.
    assert_eq!(pages_read(&e.api, feed), ["", "2", "3", "4", "5"]);
    e.api
        .update(feed, |f| f.items = (1..=26).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 1, 60);
    assert_eq!(item_seqs(&runs), [26]);
    // Later polls walk the list by `max_pages` again, and start nothing more.
    wait_polls(&e.dev, &id, 3, 60);
    assert_eq!(runs_of(&e.dev, &id), 1);
    assert_eq!(poll_status(&e.dev, &id)["last_poll_error"], Value::Null);
}

/// `start: "now"` over an oldest-first list longer than a `unique` cursor remembers: the poll
/// fails saying so, rather than forgetting the oldest ids, which later polls would have taken
/// for new records (15 runs of items that were there before the deploy).
#[test]
fn http_start_now_over_a_list_longer_than_unique_capacity_says_so_and_runs_nothing() {
    let e = env();
    let feed = "position-over-capacity";
    e.api.update(feed, |f| {
        f.items = (1..=25).map(item).collect();
        f.page_size = Some(5);
        f.paging = Paging::BodyNext;
    });
    let mut def = http_def(
        "position over capacity",
        json!({"url": e.api.url(feed), "pagination": {"next_url": "/links/next"},
               "unique_capacity": 10}),
        "now",
    );
    def["trigger"]["interval_seconds"] = json!(5);
    let id = create(&e.dev, &def);
    api(&e.dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    let mut status = Value::Null;
    eventually(60, "the poll's error", || {
        status = poll_status(&e.dev, &id);
        status["last_poll_error"]
            .as_str()
            .is_some_and(|m| m.contains("unique_capacity` (10)"))
    });
    let failures = status["consecutive_failures"].as_i64().unwrap_or(0);
    e.api
        .update(feed, |f| f.items = (1..=26).map(item).collect());
    eventually(90, "another failed poll", || {
        status = poll_status(&e.dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) > failures
    });
    assert_eq!(runs_of(&e.dev, &id), 0, "{status}");
}

/// A list longer than the 100 pages a poll reads: the deploy's positioning and a reset to `now`
/// go on at once until the end of the list, before they answer.
#[test]
fn http_positioning_past_a_hundred_pages_ends_before_the_answer() {
    let e = env();
    let feed = "position-very-long";
    e.api.update(feed, |f| {
        f.items = (1..=120).map(item).collect();
        f.page_size = Some(1);
        f.paging = Paging::BodyNext;
    });
    let mut def = http_def(
        "position very long",
        json!({"url": e.api.url(feed), "pagination": {"next_url": "/links/next"}}),
        "now",
    );
    def["trigger"]["interval_seconds"] = json!(3600);
    let id = create_deployed(&e.dev, &def);
    assert_eq!(
        pages_read(&e.api, feed).len(),
        120,
        "the deploy read every page"
    );
    assert_eq!(poll_status(&e.dev, &id)["cursor"]["remembered_ids"], 120);

    e.api
        .update(feed, |f| f.items = (1..=121).map(item).collect());
    let path = format!("/api/workflows/{id}/poll/reset");
    let r = api(&e.dev, "POST", &path, Some(&json!({"start": "now"})));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        pages_read(&e.api, feed).len(),
        120 + 121,
        "the reset read every page"
    );
    assert_eq!(r.json()["cursor"]["remembered_ids"], 121, "{}", r.text);
    assert_eq!(runs_of(&e.dev, &id), 0);
}

/// A kept page the source now refuses (its page token expired) is tried by two polls, then the
/// walk starts again from the first page: the rest of the list still runs, nothing twice.
#[test]
fn http_kept_page_that_keeps_failing_starts_the_walk_again_from_the_first_page() {
    kept_page_gives_up("kept-page-expires", "token it-004");
}

/// The same with a page token that expires into a `200` without the list (an API that says
/// `{"ok": false, "error": "invalid_cursor"}`).
#[test]
fn http_kept_page_answered_without_its_list_starts_the_walk_again_too() {
    kept_page_gives_up("kept-page-200", "token200 it-004");
}

/// A walk over a 6-item list, 2 pages of 2 a poll: its kept page `after=it-004` then fails as
/// `broken` says, twice, and the walk starts again from the first page.
fn kept_page_gives_up(feed: &'static str, broken: &'static str) {
    let e = env();
    e.api.update(feed, |f| {
        f.items = (1..=6).map(item).collect();
        f.page_size = Some(2);
        f.paging = Paging::Cursor;
    });
    let def = http_def(
        feed,
        json!({"url": e.api.url(feed),
               "pagination": {"cursor": "/meta/next_cursor", "param": "after", "max_pages": 2}}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 4, 60);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4]);
    // The walk keeps `after=it-004`, which expires; the API now hands out pages of 3.
    e.api.update(feed, |f| {
        f.page_size = Some(3);
        f.broken = Some(broken);
    });
    eventually(60, "the kept page refused twice", || {
        poll_status(&e.dev, &id)["last_poll_error"]
            .as_str()
            .is_some_and(|m| m.contains("reads the list again from its first page"))
    });
    let runs = wait_runs(&e.dev, &id, 6, 120);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4, 5, 6]);
    assert_unique_keys(&runs);
    let afters = e
        .api
        .seen(feed)
        .iter()
        .filter(|s| s.query.get("after").is_some_and(|a| a == "it-004"))
        .count();
    assert_eq!(afters, 2, "two refusals, then never asked again");
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 6);
}

/// A walk over a newest-first list longer than `unique_capacity` remembers the newest ids it
/// took, so the next poll stops at the first page (all seen) instead of walking the list again.
#[test]
fn http_newest_first_walk_longer_than_the_capacity_remembers_the_newest_ids() {
    let e = env();
    let feed = "newest-first-long";
    e.api.update(feed, |f| {
        f.items = (1..=30).map(item).collect();
        f.newest_first = true;
        f.page_size = Some(5);
    });
    let def = http_def(
        "newest first long",
        json!({"url": e.api.url(feed), "unique_capacity": 10,
               "pagination": {"order": "newest_first"}}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 30, 120);
    assert_unique_keys(&runs);
    wait_polls(&e.dev, &id, 1, 60);
    let before = pages_read(&e.api, feed).len();
    wait_polls(&e.dev, &id, 2, 60);
    let after = pages_read(&e.api, feed);
    assert!(after.len() > before, "{after:?}");
    assert!(
        after[before..].iter().all(|p| p.is_empty()),
        "later polls read only the first page: {:?}",
        &after[before..]
    );
    let ids = poll_status(&e.dev, &id)["cursor"].clone();
    assert_eq!(runs_of(&e.dev, &id), 30, "{ids}");
    assert_eq!(poll_status(&e.dev, &id)["last_gap"], Value::Null);
    stop(&e.dev, &id);
}

/// `max_pages: 2` over a newest-first list of 5 a page: 17 new items need 4 pages. The first poll
/// runs the newest 10 and reports the gap; the next one goes on from page 3 and runs the other
/// 7: every item exactly once.
#[test]
fn http_page_bound_reports_a_gap_and_the_next_poll_catches_up() {
    let e = env();
    let feed = "page-bound";
    e.api.update(feed, |f| {
        f.items = (1..=3).map(item).collect();
        f.newest_first = true;
        f.page_size = Some(5);
        f.paging = Paging::BodyNext;
    });
    let def = http_def(
        "page bound",
        json!({"url": e.api.url(feed), "greatest": "/seq",
               "pagination": {"next_url": "/links/next", "order": "newest_first", "max_pages": 2}}),
        "now",
    );
    let id = create_deployed(&e.dev, &def);
    e.api
        .update(feed, |f| f.items = (1..=20).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 17, 120);
    let seqs = item_seqs(&runs);
    // One poll per walk step: the newest 10 first (oldest first among them), then the older 7.
    assert_eq!(&seqs[..10], (11..=20).collect::<Vec<u64>>());
    assert_eq!(&seqs[10..], (4..=10).collect::<Vec<u64>>());
    assert_unique_keys(&runs);
    let gap = poll_status(&e.dev, &id)["last_gap"].clone();
    assert_eq!(gap["kind"], "max_pages", "{gap}");
    assert_eq!(gap["pages"], 2, "{gap}");
    assert_eq!(gap["items"], 10, "{gap}");
    assert_eq!(gap["new"], 10, "{gap}");
    assert!(gap["at"].is_string() && gap["reason"].is_string(), "{gap}");
    // The poll that read pages 3 and 4 reached the end of the list: the gap is caught up.
    let caught_up = gap["caught_up_at"].as_str().expect("caught up");
    assert!(caught_up > gap["at"].as_str().unwrap(), "{gap}");
    // The oldest run of the poll that stopped at the bound carries the gap as it was then; the
    // runs of the poll that caught up do not.
    let mut then = gap.clone();
    then["caught_up_at"] = Value::Null;
    assert_eq!(runs[0]["input"]["event"]["gap"], then, "{}", runs[0]);
    assert!(runs[1..]
        .iter()
        .all(|r| r["input"]["event"].get("gap").is_none()));
    // The second poll read pages 3 and 4, by the link it had kept.
    let pages = pages_read(&e.api, feed);
    assert_eq!(&pages[1..5], ["", "2", "3", "4"], "{pages:?}");
    wait_polls(&e.dev, &id, 1, 60);
    assert_eq!(runs_of(&e.dev, &id), 17);
    stop(&e.dev, &id);
}

/// A reset to `now` that fails (the source answers 500: 502, "the cursor was left as it was")
/// leaves a positioning walk as it was too. Here the deploy's positioning over 150 pages of one
/// item failed at page 121 (it answers 400): the next poll goes on positioning from there,
/// and no item that was there runs. (The failed reset dropped the
/// walk before: the next poll read the list as new, and all 150 items ran.)
#[test]
fn a_failed_reset_to_now_keeps_a_positioning_walk() {
    let e = env();
    let feed = "positioning-failed-reset";
    e.api.update(feed, |f| {
        f.items = (1..=150).map(item).collect();
        f.page_size = Some(1);
        f.paging = Paging::Cursor;
        f.broken = Some("token it-120");
    });
    let def = http_def(
        "positioning, failed reset",
        json!({"url": e.api.url(feed),
               "pagination": {"cursor": "/meta/next_cursor", "param": "after"}}),
        "now",
    );
    let id = create_deployed(&e.dev, &def);
    assert!(
        poll_status(&e.dev, &id)["last_poll_error"].is_string(),
        "{}",
        poll_status(&e.dev, &id)
    );
    e.api.update(feed, |f| f.broken = Some("500"));
    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{id}/poll/reset"),
        Some(&json!({"start": "now"})),
    );
    assert_eq!(r.status, 502, "{}", r.text);
    e.api.update(feed, |f| f.broken = None);
    eventually(90, "the positioning walk ended", || {
        let status = poll_status(&e.dev, &id);
        status["last_poll_error"].is_null() && status["cursor"]["remembered_ids"] == 150
    });
    assert_eq!(runs_of(&e.dev, &id), 0);
    // Positioned: an item added now runs, alone (pages of 50, so that a poll's 10 pages reach
    // the end of the list).
    e.api.update(feed, |f| {
        f.items = (1..=151).map(item).collect();
        f.page_size = Some(50);
    });
    let runs = wait_runs(&e.dev, &id, 1, 60);
    assert_eq!(item_seqs(&runs), [151]);
    stop(&e.dev, &id);
}

/// A reset to `now` whose read fails on a later page (page 2 answers 500) answers 502 and
/// leaves the cursor as it was, though page 1 was read: the items listed after it still run.
/// (A later page's failure paused the reset's positioning walk there: the cursor was replaced,
/// and the next poll finished positioning over the new items.)
#[test]
fn a_reset_to_now_failing_on_a_later_page_leaves_the_cursor_as_it_was() {
    let e = env();
    let feed = "reset-fails-late";
    e.api.update(feed, |f| {
        f.items = (1..=4).map(item).collect();
        f.page_size = Some(2);
    });
    let id = create_deployed(
        &e.dev,
        &http_def(feed, json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 4, 60);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4]);
    e.api.update(feed, |f| f.fail_page = Some(2));
    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{id}/poll/reset"),
        Some(&json!({"start": "now"})),
    );
    assert_eq!(r.status, 502, "{}", r.text);
    e.api.update(feed, |f| {
        f.fail_page = None;
        f.items = (1..=6).map(item).collect();
    });
    let runs = wait_runs(&e.dev, &id, 6, 90);
    assert_eq!(item_seqs(&runs), [1, 2, 3, 4, 5, 6]);
    stop(&e.dev, &id);
}

/// Pages of large items: a poll stops reading once the new records it holds reach 4 MiB (here
/// after 4 pages of 1.2 MB), creates their runs and goes on at once from the next page, not
/// after the interval (an hour here) and not as a gap: 24 items, each run exactly once, the
/// pages read in order once each.
#[test]
fn http_walk_pauses_at_its_byte_bound_and_goes_on_at_once() {
    let e = env();
    let feed = "large-items";
    let large = |n: u32| {
        let mut it = item(n);
        it["pad"] = json!("x".repeat(400_000));
        it
    };
    e.api.update(feed, |f| {
        f.items = (1..=24).map(large).collect();
        f.page_size = Some(3);
        f.paging = Paging::BodyNext;
    });
    let mut def = http_def(
        "large items",
        json!({"url": e.api.url(feed), "greatest": "/seq",
               "pagination": {"next_url": "/links/next", "max_pages": 20}}),
        "beginning",
    );
    def["trigger"]["interval_seconds"] = json!(3600);
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 24, 120);
    assert_eq!(item_seqs(&runs), (1..=24).collect::<Vec<u64>>());
    assert_unique_keys(&runs);
    assert_eq!(poll_status(&e.dev, &id)["last_gap"], Value::Null);
    let pages = pages_read(&e.api, feed);
    assert_eq!(pages, ["", "2", "3", "4", "5", "6", "7", "8"], "{pages:?}");
    stop(&e.dev, &id);
}

/// A walk over slow pages stops when its poll has read for its time (2 s with the dev fault
/// `short-polls`), keeps what it read, and the next poll goes on from there at once: runs start
/// before the walk reaches its end (a poll that read to the end first would start none until
/// then, and an invocation cut short would lose the walk), every record runs once, and no page
/// is read twice.
#[test]
fn http_walk_over_slow_pages_keeps_its_progress_between_polls() {
    let e = env();
    let dev = dev_with_fault("poll-short", "short-polls");
    let feed = "slow-pages";
    e.api.update(feed, |f| {
        f.items = (1..=6).map(item).collect();
        f.page_size = Some(1);
        f.paging = Paging::BodyNext;
        f.delay_ms = 1_200;
    });
    let mut def = http_def(
        "slow pages",
        json!({"url": e.api.url(feed), "greatest": "/seq",
               "pagination": {"next_url": "/links/next", "max_pages": 20}}),
        "beginning",
    );
    def["trigger"]["interval_seconds"] = json!(3600);
    let id = create_deployed(&dev, &def);
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs_of(&dev, &id) == 0 {
        assert!(Instant::now() < deadline, "no run after 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pages_then = pages_read(&e.api, feed);
    assert!(
        pages_then.len() < 6,
        "the first runs waited for the whole walk: {pages_then:?}"
    );
    let runs = wait_runs(&dev, &id, 6, 60);
    assert_eq!(item_seqs(&runs), (1..=6).collect::<Vec<u64>>());
    assert_unique_keys(&runs);
    assert_eq!(pages_read(&e.api, feed), ["", "2", "3", "4", "5", "6"]);
    let status = poll_status(&dev, &id);
    assert_eq!(status["last_gap"], Value::Null, "{status}");
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    stop(&dev, &id);
}

/// A next link on another origin (here `localhost` instead of `127.0.0.1`: the same server) is
/// not followed: the poll fails with the origin named and starts nothing, and the other origin
/// never receives a request (nor the token).
#[test]
fn http_link_to_another_origin_is_not_followed() {
    let e = env();
    let feed = "foreign";
    e.api.update(feed, |f| {
        f.items = (1..=3).map(item).collect();
        f.page_size = Some(2);
        f.paging = Paging::ForeignLink;
    });
    let id = create_deployed(
        &e.dev,
        &http_def("foreign", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let error = first_poll_error(&e.dev, &id);
    assert!(
        error.contains("another origin (http://localhost:"),
        "{error}"
    );
    let seen = e.api.seen(feed);
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| s.host.starts_with("127.0.0.1")),
        "{seen:?}"
    );
    stop(&e.dev, &id);
}

/// A list whose last page links back to its first: the walk ends where it comes back (the
/// deploy's positioning, and every poll after it), so an item added later runs.
#[test]
fn http_walk_ends_where_the_links_come_back_to_a_page_read() {
    let e = env();
    let feed = "loop";
    e.api.update(feed, |f| {
        f.items = (1..=4).map(item).collect();
        f.page_size = Some(2);
        f.paging = Paging::LinkLoop;
    });
    let started = Instant::now();
    let id = create_deployed(
        &e.dev,
        &http_def("loop", json!({"url": e.api.url(feed)}), "now"),
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        e.api.seen(feed).len() <= 3,
        "{:?}",
        pages_read(&e.api, feed)
    );
    e.api
        .update(feed, |f| f.items = (1..=5).map(item).collect());
    let runs = wait_runs(&e.dev, &id, 1, 60);
    assert_eq!(item_seqs(&runs), [5]);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    stop(&e.dev, &id);
}

/// An API that echoes the request in its items (the URL with its key, the Authorization
/// header, the token alone): the run's stored input, and what its steps see, hold the
/// credential redacted.
#[test]
fn http_records_echoing_the_credential_are_stored_without_it() {
    let e = env();
    let feed = "echo-request";
    e.api.update(feed, |f| {
        f.items = (1..=2).map(item).collect();
        f.echo_request = true;
    });
    let def = http_def(
        "echo request",
        json!({"url": format!("{}?key={{{{secrets.API_TOKEN}}}}&v=3", e.api.url(feed))}),
        "beginning",
    );
    let id = create_deployed(&e.dev, &def);
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert_eq!(item_seqs(&runs), [1, 2]);
    for run in &runs {
        let request = &run["input"]["event"]["record"]["request"];
        assert_eq!(
            request["url"], "/feed/echo-request?key=[redacted]&v=3",
            "{run}"
        );
        assert_eq!(request["auth"], "[redacted]", "{run}");
        // The token alone, under a name that is no credential's.
        assert_eq!(request["seen"], "[redacted]", "{run}");
        let detail = api(
            &e.dev,
            "GET",
            &format!("/api/runs/{}", run["id"].as_str().unwrap()),
            None,
        );
        assert_eq!(detail.status, 200, "{}", detail.text);
        assert!(!detail.text.contains(API_TOKEN), "{}", detail.text);
        assert!(detail.text.contains("v=3"), "{}", detail.text);
    }
    stop(&e.dev, &id);
}

/// Waits for the workflow's first failed poll; its error, which never holds the token, after
/// which no run was made.
fn first_poll_error(dev: &Dev, id: &str) -> String {
    let mut status = Value::Null;
    eventually(60, "a failed poll", || {
        status = poll_status(dev, id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    let error = status["last_poll_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!error.contains(API_TOKEN), "{status}");
    assert_eq!(runs_of(dev, id), 0);
    error
}

/// An API that quotes the credential it refused: the poll's error shows it redacted (the status,
/// and the log line made of the same text).
#[test]
fn http_source_errors_never_quote_its_credential() {
    let e = env();
    let feed = "echo-token";
    e.api.update(feed, |f| {
        f.items = vec![item(1)];
        f.broken = Some("echo-token");
    });
    let id = create_deployed(
        &e.dev,
        &http_def("echo token", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let error = first_poll_error(&e.dev, &id);
    assert!(
        error.contains("answered HTTP 401: invalid key [redacted] ([redacted])"),
        "{error}"
    );
    stop(&e.dev, &id);

    // A later page that does not read, with a key written into the URL: the error names the
    // page by the URL as written, the key redacted.
    let feed = "listless-page-2";
    e.api.update(feed, |f| {
        f.items = (1..=4).map(item).collect();
        f.page_size = Some(2);
        f.listless_page = Some(2);
    });
    let url = format!("{}?api_key=sk_live_written_in_the_url", e.api.url(feed));
    let id = create_deployed(&e.dev, &http_def(feed, json!({ "url": url }), "beginning"));
    let mut status = Value::Null;
    eventually(60, "a failed poll", || {
        status = poll_status(&e.dev, &id);
        status["consecutive_failures"].as_i64().unwrap_or(0) >= 1
    });
    let error = status["last_poll_error"].as_str().unwrap_or_default();
    assert!(error.contains("(page 2)"), "{error}");
    assert!(error.contains("api_key=[redacted]"), "{error}");
    assert!(!error.contains("sk_live_written"), "{error}");
    stop(&e.dev, &id);
}

/// A source redirected within its own origin is followed there, its token along; one
/// redirected to another origin is not: the poll fails naming that origin, and it never
/// receives a request (nor the token).
#[test]
fn http_source_redirects_are_followed_only_within_its_origin() {
    let e = env();
    e.api
        .update("moved-target", |f| f.items = (1..=2).map(item).collect());
    e.api
        .update("moved", |f| f.moved_to = Some("/feed/moved-target".into()));
    let id = create_deployed(
        &e.dev,
        &http_def("moved", json!({"url": e.api.url("moved")}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 2, 60);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    assert!(!e.api.seen("moved-target").is_empty());
    stop(&e.dev, &id);

    let port = e.api.base.rsplit(':').next().unwrap().to_string();
    e.api
        .update("away-target", |f| f.items = (1..=2).map(item).collect());
    e.api.update("away", |f| {
        f.moved_to = Some(format!("http://localhost:{port}/feed/away-target"))
    });
    let id = create_deployed(
        &e.dev,
        &http_def("away", json!({"url": e.api.url("away")}), "beginning"),
    );
    let error = first_poll_error(&e.dev, &id);
    assert!(
        error.contains("redirected (HTTP 307) to another host, http://localhost:"),
        "{error}"
    );
    assert!(e.api.seen("away-target").is_empty());
    stop(&e.dev, &id);
}

/// A token written into the source itself (no secret) is a credential all the same: a redirect
/// to another origin fails the poll, and that origin never receives a request.
#[test]
fn http_source_with_a_literal_token_is_not_redirected_to_another_origin() {
    let e = env();
    let port = e.api.base.rsplit(':').next().unwrap().to_string();
    e.api
        .update("literal-target", |f| f.items = (1..=2).map(item).collect());
    e.api.update("literal-away", |f| {
        f.moved_to = Some(format!("http://localhost:{port}/feed/literal-target"))
    });
    let id = create_deployed(
        &e.dev,
        &http_def(
            "literal token",
            json!({"url": e.api.url("literal-away"),
                   "headers": {"authorization": format!("Bearer {API_TOKEN}")}}),
            "beginning",
        ),
    );
    let error = first_poll_error(&e.dev, &id);
    assert!(
        error.contains("redirected (HTTP 307) to another host, http://localhost:"),
        "{error}"
    );
    assert!(e.api.seen("literal-target").is_empty());
    stop(&e.dev, &id);
}

// ---------------------------------------------------------------------------------------------
// A small JSON API for the http source: `/feed/{name}` answers `{"data": [items…]}` for that
// feed (newest first when the feed is marked so), 401 without the right token, 500 or
// invalid JSON when told to. With a page size it answers one page at a time (`?page=N` with a
// `Link` header or a `links.next` URL in the body, or `?after=ID` with `meta.next_cursor`);
// with `since` it only lists items whose `created_at` is after `?since=` (when not empty).
// Every request is logged with its Host header and URL.

#[derive(Default, Clone, Copy, PartialEq)]
enum Paging {
    /// `Link: <http://127.0.0.1:PORT/feed/x?page=2>; rel="next"`.
    #[default]
    Link,
    /// `Link: <?page=2>; rel="next"` (relative to the page).
    LinkRelative,
    /// `{"links": {"next": "/feed/x?page=2"}}`.
    BodyNext,
    /// `{"meta": {"next_cursor": "<last id>"}}`, sent back as `?after=`.
    Cursor,
    /// `Link: <http://localhost:PORT/feed/x?page=2>; rel="next"`: another origin.
    ForeignLink,
    /// As `Link`, and the last page links back to the first.
    LinkLoop,
}

#[derive(Default, Clone)]
struct Feed {
    items: Vec<Value>,
    newest_first: bool,
    broken: Option<&'static str>,
    /// Answers every request with a 307 to this URL instead.
    moved_to: Option<String>,
    page_size: Option<usize>,
    paging: Paging,
    since: bool,
    /// `since` keeps the item at the value too (`gte` rather than `gt`).
    since_inclusive: bool,
    /// At most this many items, without a next page (an API's `limit` with only a `has_more`).
    cap: Option<usize>,
    /// Answers this many milliseconds late.
    delay_ms: u64,
    /// Text replaced in the answer's JSON (what a JSON value cannot hold, written raw).
    rewrite: Vec<(&'static str, &'static str)>,
    /// Answers with this status and no body at all.
    empty_answer: Option<u16>,
    /// This page (`?page=N`) answers 500.
    fail_page: Option<usize>,
    /// This page answers `200 {}` (no list).
    listless_page: Option<usize>,
    /// Each item gets `request`: the URL and `Authorization` header it was asked with (an API
    /// that echoes what it was sent).
    echo_request: bool,
}

/// A request the API received.
#[derive(Debug, Clone)]
struct Seen {
    host: String,
    query: HashMap<String, String>,
}

struct FeedServer {
    base: String,
    feeds: Arc<Mutex<HashMap<String, Feed>>>,
    log: Arc<Mutex<HashMap<String, Vec<Seen>>>>,
}

fn query_of(url: &str) -> (String, HashMap<String, String>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (upstream::percent_decode(k), upstream::percent_decode(v))
        })
        .collect();
    (path.to_string(), pairs)
}

/// The answer of a feed: status, body and an optional `Link` header.
fn answer(
    feed: &Feed,
    name: &str,
    query: &HashMap<String, String>,
    port: u16,
) -> (u16, String, Option<String>) {
    match feed.broken {
        Some("json") => return (200, "{\"data\": [".to_string(), None),
        // `token X`: the page token X expired (400); everything else is served.
        Some(b)
            if b.starts_with("token ")
                && query.get("after").map(String::as_str) == b.strip_prefix("token ") =>
        {
            return (400, "{\"error\": \"expired cursor\"}".to_string(), None);
        }
        Some(b) if b.starts_with("token ") => {}
        // `token200 X`: the page token X expired, told in a 200 without the list.
        Some(b)
            if b.starts_with("token200 ")
                && query.get("after").map(String::as_str) == b.strip_prefix("token200 ") =>
        {
            return (
                200,
                "{\"ok\": false, \"error\": \"invalid_cursor\"}".to_string(),
                None,
            );
        }
        Some(b) if b.starts_with("token200 ") => {}
        // Answered with `retry-after: 600` (see `FeedServer::start`).
        Some("429") => return (429, "{\"error\": \"slow down\"}".to_string(), None),
        Some(_) => return (500, "{\"error\": \"down\"}".to_string(), None),
        None => {}
    }
    if let Some(status) = feed.empty_answer {
        return (status, String::new(), None);
    }
    let mut items = feed.items.clone();
    if feed.newest_first {
        items.reverse();
    }
    if feed.since {
        if let Some(since) = query.get("since").filter(|s| !s.is_empty()) {
            items.retain(|i| {
                let at = i["created_at"].as_str().unwrap();
                at > since.as_str() || (feed.since_inclusive && at == since.as_str())
            });
        }
    }
    if let Some(cap) = feed.cap {
        items.truncate(cap);
    }
    let Some(size) = feed.page_size else {
        let mut text = json!({"data": items}).to_string();
        for (from, to) in &feed.rewrite {
            text = text.replace(from, to);
        }
        return (200, text, None);
    };
    let start = match feed.paging {
        Paging::Cursor => match query.get("after") {
            Some(after) => items
                .iter()
                .position(|i| i["id"] == after.as_str())
                .map_or(items.len(), |p| p + 1),
            None => 0,
        },
        _ => {
            (query
                .get("page")
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(1)
                - 1)
                * size
        }
    };
    let page: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let more = start + size < items.len();
    let page_no = start / size + 1;
    if feed.fail_page == Some(page_no) {
        return (500, "{\"error\": \"down\"}".to_string(), None);
    }
    if feed.listless_page == Some(page_no) {
        return (200, "{}".to_string(), None);
    }
    let path = format!("/feed/{name}");
    let mut body = json!({"data": page});
    let mut link = None;
    if more {
        let next = page_no + 1;
        match feed.paging {
            Paging::Link | Paging::LinkLoop => {
                link = Some(format!(
                    "<http://127.0.0.1:{port}{path}?page={next}>; rel=\"next\", <http://127.0.0.1:{port}{path}?page=1>; rel=\"first\""
                ))
            }
            Paging::LinkRelative => {
                link = Some(format!("</feed/x?page=1>; rel=\"first\", <?page={next}>; rel=\"next\""))
            }
            Paging::ForeignLink => {
                link = Some(format!("<http://localhost:{port}{path}?page={next}>; rel=\"next\""))
            }
            Paging::BodyNext => body["links"] = json!({"next": format!("{path}?page={next}")}),
            Paging::Cursor => {
                body["meta"] = json!({"next_cursor": page.last().map(|i| i["id"].clone())})
            }
        }
    }
    if !more && feed.paging == Paging::LinkLoop {
        link = Some(format!(
            "<http://127.0.0.1:{port}{path}?page=1>; rel=\"next\""
        ));
    }
    (200, body.to_string(), link)
}

impl FeedServer {
    fn start() -> FeedServer {
        let server = Server::bind();
        let port = server.port;
        let feeds: Arc<Mutex<HashMap<String, Feed>>> = Arc::default();
        let log: Arc<Mutex<HashMap<String, Vec<Seen>>>> = Arc::default();
        let (f, l) = (feeds.clone(), log.clone());
        server.serve(move |req| {
            let auth = req.header("authorization");
            let (path, query) = query_of(&req.url);
            let name = path.trim_start_matches("/feed/").to_string();
            l.lock()
                .unwrap()
                .entry(name.clone())
                .or_default()
                .push(Seen {
                    host: req.header("host").unwrap_or_default().to_string(),
                    query: query.clone(),
                });
            let feed = f.lock().unwrap().get(&name).cloned();
            if let Some(ms) = feed.as_ref().map(|f| f.delay_ms).filter(|ms| *ms > 0) {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            if let Some(to) = feed.as_ref().and_then(|f| f.moved_to.clone()) {
                return Reply::new(307, "text/plain", "").with_header("location", &to);
            }
            let (status, body, link) = match feed {
                _ if auth != Some(&format!("Bearer {API_TOKEN}")) => {
                    (401, json!({"error": "bad token"}).to_string(), None)
                }
                None => (404, "{}".to_string(), None),
                // An API that quotes the key it refuses.
                Some(feed) if feed.broken == Some("echo-token") => (
                    401,
                    format!("invalid key {API_TOKEN} (Bearer {API_TOKEN})"),
                    None,
                ),
                Some(feed) if feed.echo_request => {
                    let (status, body, link) = answer(&feed, &name, &query, port);
                    let mut body: Value = serde_json::from_str(&body).unwrap();
                    for item in body["data"].as_array_mut().into_iter().flatten() {
                        let bare = auth.and_then(|a| a.strip_prefix("Bearer "));
                        item["request"] = json!({"url": req.url, "auth": auth, "seen": bare});
                    }
                    (status, body.to_string(), link)
                }
                Some(feed) => answer(&feed, &name, &query, port),
            };
            let reply = Reply::json(status, body);
            let reply = match status {
                429 => reply.with_header("retry-after", "600"),
                _ => reply,
            };
            match link {
                Some(link) => reply.with_header("link", &link),
                None => reply,
            }
        });
        FeedServer {
            base: format!("http://127.0.0.1:{port}"),
            feeds,
            log,
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

    /// The requests a feed received so far.
    fn seen(&self, name: &str) -> Vec<Seen> {
        self.log
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Benchmark (`scripts/bench poll`): not part of the test suite.

/// Inserts 10 000 rows at once into a polled table (`start: now`, interval 5 s) and measures
/// the time from the insert to the 10 000th run created and finished, with duplicates and
/// missed rows counted from the stored runs.
#[test]
#[ignore = "benchmark: run with scripts/bench poll"]
fn bench_poll_10k_rows() {
    let rows: u32 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    // `wrangler dev` runs an inspector proxy that reports every subrequest of the Worker (each D1
    // query) to wrangler's Node process as four HTTP posts on fresh loopback connections. Under
    // the load of thousands of runs that costs more than D1 itself and can exhaust file
    // descriptors; production has no such proxy. Wrangler skips it inside a VS Code debug
    // terminal, which it detects by this variable (wrangler 4.86, `inspectorEnabled`).
    if std::env::var_os("BENCH_KEEP_INSPECTOR").is_none() {
        std::env::set_var("VSCODE_INSPECTOR_OPTIONS", "{}");
    }
    let pg = Postgres::start("bench");
    pg.sql("CREATE ROLE reader LOGIN PASSWORD 'pw'");
    table(&pg, "t_bench");
    let dev = Dev::start("poll-bench", &[("PG_URL", &pg.url("reader"))]);
    // `settle_seconds` delays the first run by that much (the drain is not slower): the product
    // default unless BENCH_SETTLE_SECONDS says otherwise.
    let settle: u32 = std::env::var("BENCH_SETTLE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(tripline_core::poll::DEFAULT_SETTLE_SECONDS);
    let id = create_deployed(
        &dev,
        &pg_def(
            "bench",
            json!({"table": "t_bench", "settle_seconds": settle}),
            "now",
            5,
        ),
    );
    // Warm up: a few polls, so the wasm is compiled and the object is running.
    wait_polls(&dev, &id, 2, 60);

    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let started = Instant::now();
    insert(&pg, "t_bench", 1, rows);
    let insert_ms = started.elapsed().as_millis();
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut created_at = None;
    let finished_at;
    loop {
        assert!(
            Instant::now() < deadline,
            "timed out: {}",
            poll_status(&dev, &id)
        );
        if created_at.is_none()
            && poll_status(&dev, &id)["runs_created"].as_u64().unwrap_or(0) >= u64::from(rows)
        {
            created_at = Some(started.elapsed());
        }
        if created_at.is_some() {
            let open = ["queued", "running"].iter().any(|s| {
                let r = api(
                    &dev,
                    "GET",
                    &format!("/api/workflows/{id}/runs?status={s}&limit=1"),
                    None,
                );
                !r.json()["runs"].as_array().unwrap().is_empty()
            });
            if !open {
                finished_at = started.elapsed();
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let created_at = created_at.unwrap();

    let all = runs(&dev, &id);
    let mut seen = std::collections::HashMap::<i64, usize>::new();
    for r in &all {
        *seen
            .entry(r["input"]["event"]["record"]["id"].as_i64().unwrap())
            .or_default() += 1;
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let missed = (1..=i64::from(rows))
        .filter(|i| !seen.contains_key(i))
        .count();
    let failed = all.iter().filter(|r| r["status"] != "succeeded").count();
    let stamp = |field: &str, max: bool| -> i64 {
        let it = all
            .iter()
            .filter_map(|r| r[field].as_str())
            .map(|s| tripline_core::kernel::time::parse_millis(s).unwrap());
        if max {
            it.max().unwrap()
        } else {
            it.min().unwrap()
        }
    };
    let first_created = stamp("created_at", false) - t0;
    let last_created = stamp("created_at", true) - t0;
    let last_finished = stamp("finished_at", true) - t0;
    let secs = |ms: i64| ms as f64 / 1000.0;
    let rate = |ms: i64| f64::from(rows) / secs(ms.max(1));
    println!();
    println!("| poll benchmark: {rows} rows inserted at once (`start: now`, interval 5 s, batch 500, settle {settle} s) | |");
    println!("|---|---|");
    println!("| INSERT of {rows} rows (psql) | {insert_ms} ms |");
    println!(
        "| insert → first run created (waiting for the next poll, then settling) | {:.2} s |",
        secs(first_created)
    );
    println!(
        "| insert → {rows}th run created | {:.2} s |",
        secs(last_created)
    );
    println!(
        "| rows/s, insert → last run created | {:.0} |",
        rate(last_created)
    );
    println!(
        "| rows/s, first → last run created (polling itself) | {:.0} |",
        rate(last_created - first_created)
    );
    println!(
        "| insert → {rows}th run finished (executed) | {:.2} s |",
        secs(last_finished)
    );
    println!(
        "| rows/s, insert → last run finished | {:.0} |",
        rate(last_finished)
    );
    println!(
        "| rows/s, first run created → last run finished (the drain) | {:.0} |",
        rate(last_finished - first_created)
    );
    println!(
        "| observed by the API: all created / all finished | {:.1} s / {:.1} s |",
        created_at.as_secs_f64(),
        finished_at.as_secs_f64()
    );
    println!("| runs | {} ({failed} not succeeded) |", all.len());
    println!("| duplicates | {duplicates} |");
    println!("| missed | {missed} |");
    assert_eq!(duplicates, 0);
    assert_eq!(missed, 0);
}

/// One record too large to store never blocks a poll: it is a failed run with its size, the
/// others run, and the poll goes on.
#[test]
fn an_oversized_record_is_a_failed_run_and_the_poll_moves_on() {
    let e = env();
    let feed = "oversized";
    let mut big = item(2);
    // Over the 796 KiB a record may have, and under what a row could hold.
    big["blob"] = Value::String("x".repeat(900_000));
    e.api
        .update(feed, |f| f.items = vec![item(1), big, item(3)]);
    let id = create_deployed(
        &e.dev,
        &http_def("oversized", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 3, 90);
    let by_key = |k: &str| {
        runs.iter()
            .find(|r| record_key(r) == k)
            .unwrap_or_else(|| panic!("no run for {k}: {runs:?}"))
            .clone()
    };
    assert_eq!(by_key("it-001")["status"], "succeeded");
    assert_eq!(by_key("it-003")["status"], "succeeded");
    let failed = by_key("it-002");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "record_too_large", "{failed}");
    assert!(failed["input"]["event"]["record_bytes"].as_u64().unwrap() > 900_000);
    assert_eq!(failed["error"]["limit"], 796 * 1024, "{failed}");
    // The poll goes on.
    e.api.update(feed, |f| f.items = vec![item(3), item(4)]);
    let runs = wait_runs(&e.dev, &id, 4, 90);
    assert!(runs.iter().any(|r| record_key(r) == "it-004"));
    // Stop polling: the other tests share this Worker.
    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{id}/undeploy"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// An item nested 70 levels deep (past the 64 levels a request may have) does not refuse its
/// page: it runs like the items around it, its record whole.
#[test]
fn an_item_nested_deep_runs_and_its_page_is_read() {
    let e = env();
    let feed = "deep-item";
    let mut deep = item(2);
    let mut nested = json!(1);
    for _ in 0..70 {
        nested = json!([nested]);
    }
    deep["deep"] = nested.clone();
    e.api
        .update(feed, |f| f.items = vec![item(1), deep, item(3)]);
    let id = create_deployed(
        &e.dev,
        &http_def("deep item", json!({"url": e.api.url(feed)}), "beginning"),
    );
    let runs = wait_runs(&e.dev, &id, 3, 90);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    assert_eq!(item_seqs(&runs), [1, 2, 3]);
    assert_eq!(runs[1]["input"]["event"]["record"]["deep"], nested);
    let status = poll_status(&e.dev, &id);
    assert_eq!(status["last_poll_error"], Value::Null, "{status}");
    stop(&e.dev, &id);
}

/// After a redeploy onto another URL with `start: beginning`, records whose ids were seen under
/// the old source are new records of the new source, not silently dropped.
#[test]
fn dedup_keys_are_scoped_to_the_source() {
    let e = env();
    e.api
        .update("scope-a", |f| f.items = (1..=3).map(item).collect());
    e.api
        .update("scope-b", |f| f.items = (1..=3).map(item).collect());
    let def = |feed: &str| http_def("scoped", json!({"url": e.api.url(feed)}), "beginning");
    let id = create_deployed(&e.dev, &def("scope-a"));
    wait_runs(&e.dev, &id, 3, 90);
    let r = api(
        &e.dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&def("scope-b")),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(&e.dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let runs = wait_runs(&e.dev, &id, 6, 90);
    let keys: BTreeSet<String> = runs
        .iter()
        .map(|r| r["dedup_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    let r = api(
        &e.dev,
        "POST",
        &format!("/api/workflows/{id}/undeploy"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A poll whose alarm the platform lost is armed again by the Cron pass, which asks a sample of
/// schedule and poll objects each minute; until then it does not poll.
#[test]
fn a_lost_poll_alarm_is_set_again_by_the_cron_pass() {
    let feeds = FeedServer::start();
    let feed = "lost-alarm";
    feeds.update(feed, |f| f.items = (1..=2).map(item).collect());
    let dev = Dev::start(
        "poll-lost-alarm",
        &[("TRIPLINE_DEV_ACTIONS", "1"), ("API_TOKEN", API_TOKEN)],
    );
    let id = create_deployed(
        &dev,
        &http_def("lost alarm", json!({"url": feeds.url(feed)}), "now"),
    );
    eventually(30, "two polls", || feeds.seen(feed).len() >= 2);
    lose_alarm(&dev, &id);
    // The object deleted the alarm after any poll under way (which re-arms) ended: none starts
    // (every 5 s before).
    std::thread::sleep(Duration::from_secs(3));
    let n = feeds.seen(feed).len();
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(feeds.seen(feed).len(), n, "no poll without an alarm");
    dev.fire_cron();
    eventually(30, "polls again after the Cron pass", || {
        feeds.seen(feed).len() >= n + 2
    });
    assert!(dev.logs().contains(&format!(
        "workflow {id}: its trigger's alarm was lost; armed again from the catalog"
    )));
}
