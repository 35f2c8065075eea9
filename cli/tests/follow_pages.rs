//! `runs --follow` starts from the newest runs across pages: a page of large runs ends early
//! with a cursor, and the runs past it are printed (up to `--limit`) and followed too: an
//! unfinished one there is looked up by its id, and its new status printed.

mod stub;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use stub::Stub;

const WF: &str = "wf_aaaaaaaaaaaaaaaaaaaaaaaa";

fn run(n: u32, status: &str) -> Value {
    json!({"id": format!("run_{n:02}"), "status": status, "trigger": "endpoint", "version": 1,
           "created_at": format!("2026-12-07T00:00:{n:02}.000Z")})
}

/// Two pages, newest first: runs 6 and 5 (then a cursor), runs 4 to 1 (the end).
fn server() -> Stub {
    Stub::start(|request| {
        let page = |runs: Vec<Value>, next: Option<&str>| {
            (200, json!({"runs": runs, "next_cursor": next}).to_string())
        };
        match request {
            r if r.starts_with("GET /api/workflows?key=") => (
                200,
                json!({"workflows": [{"id": WF, "key": "k"}], "next_cursor": null}).to_string(),
            ),
            // Run 3 has finished since the listing, which no longer reaches it.
            "GET /api/runs/run_03" => (200, run(3, "succeeded").to_string()),
            r if r.starts_with(&format!("GET /api/workflows/{WF}/runs")) => {
                let failed = r.contains("status=failed");
                let keep = |runs: Vec<Value>| -> Vec<Value> {
                    runs.into_iter()
                        .filter(|r| !failed || r["status"] == "failed")
                        .collect()
                };
                if r.contains("cursor=c1") {
                    page(
                        keep(vec![
                            run(4, "failed"),
                            run(3, "running"),
                            run(2, "failed"),
                            run(1, "succeeded"),
                        ]),
                        None,
                    )
                } else {
                    page(
                        keep(vec![run(6, "succeeded"), run(5, "queued")]),
                        Some("c1"),
                    )
                }
            }
            _ => (404, r#"{"detail":"not in the stub"}"#.into()),
        }
    })
}

/// `tripline ARGS…` against `stub`, its standard output piped to the test.
fn follow(stub: &Stub, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .env("TRIPLINE_URL", &stub.url)
        .env("TRIPLINE_TOKEN", "t")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The runs (`id status`) `tripline runs k --follow --json ARGS…` prints in its first seconds.
fn printed(stub: &Stub, args: &[&str]) -> Vec<String> {
    let mut child = follow(
        stub,
        &[&["--json", "runs", "k", "--follow"][..], args].concat(),
    );
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut ids = Vec::new();
    // The first listing is printed at once; later polls (one a second) print nothing new.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(3)) {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        ids.push(format!(
            "{} {}",
            v["id"].as_str().unwrap(),
            v["status"].as_str().unwrap()
        ));
    }
    let _ = child.kill();
    let _ = child.wait();
    ids
}

#[test]
fn follow_prints_the_newest_runs_past_a_short_first_page() {
    let stub = server();
    assert_eq!(
        printed(&stub, &["--limit", "4"]),
        [
            "run_03 running",
            "run_04 failed",
            "run_05 queued",
            "run_06 succeeded",
            // Past the first page and unfinished: followed by its id.
            "run_03 succeeded"
        ]
    );
    let first_listing: Vec<String> = stub
        .requests()
        .into_iter()
        .take_while(|r| !r.contains("cursor=c1"))
        .collect();
    assert!(
        first_listing.iter().any(|r| r.contains("limit=100")),
        "{first_listing:?}"
    );
    assert!(
        stub.requests().iter().any(|r| r.contains("cursor=c1")),
        "{:?}",
        stub.requests()
    );
}

#[test]
fn follow_with_a_status_prints_the_newest_of_that_status_past_a_short_first_page() {
    let stub = server();
    assert_eq!(
        printed(&stub, &["--status", "failed", "--limit", "5"]),
        ["run_02 failed", "run_04 failed"]
    );
}

/// `runs --follow | head -1`: once the reader is gone, following ends (exit 0) within a poll or
/// two, though no new run comes to be printed (before, it went on until the next run).
#[test]
fn follow_ends_when_its_reader_goes_away_without_new_runs() {
    // Two finished runs, and nothing new ever.
    let stub = Stub::start(|request| match request {
        r if r.starts_with("GET /api/workflows?key=") => (
            200,
            json!({"workflows": [{"id": WF, "key": "k"}], "next_cursor": null}).to_string(),
        ),
        r if r.starts_with(&format!("GET /api/workflows/{WF}/runs")) => (
            200,
            json!({"runs": [run(2, "succeeded"), run(1, "failed")], "next_cursor": null})
                .to_string(),
        ),
        _ => (404, r#"{"detail":"not in the stub"}"#.into()),
    });
    let mut child = follow(&stub, &["runs", "k", "--follow", "--limit", "2"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("run_"), "{first}");
    drop(out);
    // Generous: it checks once a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.and_then(|s| s.code()), Some(0), "still following");
}
