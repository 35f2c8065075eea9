//! `apply` stops at the first request that fails and exits with its code (3 for a server
//! error, 1 for a request refused as invalid); before that it says what it had done and which
//! action failed: in `--json`, as JSON on standard output; in text, under the action's line.

mod stub;

use serde_json::Value;
use stub::{folder, Stub};

const DEF: &str = r#"{"name": "A", "trigger": {"type": "endpoint"}, "steps": []}"#;

/// No workflows on the server; the first create succeeds, the second answers `status`.
fn server(status: u16) -> Stub {
    let mut creates = 0;
    Stub::start(move |request| match request {
        r if r.starts_with("GET /api/workflows") => {
            (200, r#"{"workflows":[],"next_cursor":null}"#.into())
        }
        "POST /api/workflows" => {
            creates += 1;
            if creates == 1 {
                (
                    201,
                    r#"{"id":"wf_aaaaaaaaaaaaaaaaaaaaaaaa","status":"draft"}"#.into(),
                )
            } else {
                (status, r#"{"detail":"the stub refuses b"}"#.into())
            }
        }
        _ => (404, r#"{"detail":"not in the stub"}"#.into()),
    })
}

fn workflows(name: &str) -> std::path::PathBuf {
    let dir = folder(name);
    for file in ["a.json", "b.json", "c.json"] {
        std::fs::write(dir.join(file), DEF).unwrap();
    }
    dir
}

#[test]
fn apply_json_prints_what_was_done_and_the_failed_action_before_it_exits() {
    let dir = workflows("json");
    for (status, code) in [(500, 3), (409, 1)] {
        let stub = server(status);
        let out = stub.tripline(&dir, &["--json", "apply", "."]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{status}: {stderr}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{status}: {e}: {:?}", String::from_utf8_lossy(&out.stdout))
        });
        assert_eq!(v["applied"], false, "{v}");
        assert_eq!(v["changes"], 1, "{v}");
        assert_eq!(v["planned"], 3, "{v}");
        assert_eq!(
            v["actions"],
            serde_json::json!([{"action": "create", "key": "a", "file": "./a.json",
                                "id": "wf_aaaaaaaaaaaaaaaaaaaaaaaa"}]),
            "{v}"
        );
        assert_eq!(v["failed"]["action"], "create", "{v}");
        assert_eq!(v["failed"]["key"], "b", "{v}");
        assert_eq!(v["failed"]["file"], "./b.json", "{v}");
        let error = v["failed"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(&format!("{status}")) && error.contains("the stub refuses b"),
            "{v}"
        );
        assert!(stderr.starts_with("error: ./b.json: "), "{stderr}");
        // Listed, created a, failed on b; c was never sent.
        assert_eq!(
            stub.requests(),
            [
                "GET /api/workflows?limit=100",
                "POST /api/workflows",
                "POST /api/workflows"
            ]
        );
    }
}

#[test]
fn apply_says_under_the_action_that_failed_that_it_failed() {
    let dir = workflows("text");
    for (status, code) in [(500, 3), (409, 1)] {
        let stub = server(status);
        let out = stub.tripline(&dir, &["apply", "."]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{status}: {stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{stdout}");
        assert_eq!(lines[0], "+ create a  ./a.json");
        assert_eq!(lines[1], "+ create b  ./b.json");
        assert!(
            lines[2].starts_with("    failed: ") && lines[2].contains("the stub refuses b"),
            "{stdout}"
        );
    }
}

#[test]
fn apply_json_says_why_when_the_workflows_cannot_be_listed() {
    let dir = workflows("json-list");
    for (status, code) in [(401, 3), (503, 3)] {
        let stub = Stub::start(move |request| match request {
            r if r.starts_with("GET /api/workflows") => {
                (status, r#"{"detail":"the stub refuses the list"}"#.into())
            }
            _ => (404, r#"{"detail":"not in the stub"}"#.into()),
        });
        let out = stub.tripline(&dir, &["--json", "apply", "."]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{status}: {stderr}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{status}: {e}: {:?}", String::from_utf8_lossy(&out.stdout))
        });
        assert_eq!(v["applied"], false, "{v}");
        assert_eq!(v["changes"], 0, "{v}");
        let error = v["error"].as_str().unwrap();
        assert!(error.contains("the stub refuses the list"), "{v}");
    }
}
