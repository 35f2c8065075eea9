//! What the command line gives never reaches another route of the API: a run id is checked
//! for the shape of one before any request (exit 2 otherwise), ids the server gives are sent as
//! one path segment each, and `--after` as one query value.

mod stub;

use stub::{folder, Stub};

/// A run id of the current form (a legacy one is the first 30 characters).
const RUN_ID: &str = "run_01k2v6x7aaaaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaa01";

#[test]
fn a_malformed_run_id_is_exit_2_before_any_request() {
    let stub = Stub::start(|_| (404, r#"{"detail":"no such run"}"#.into()));
    let dir = folder("run-ids");
    for command in ["run", "replay"] {
        for bad in [
            "../workflows/wf_aaaaaaaaaaaaaaaaaaaaaaaa/undeploy?",
            "run_nope",
            "run_01k2v6x7aaaaaaaaaaaaaaaaaa/../x",
            "",
        ] {
            let out = stub.tripline(&dir, &[command, bad]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {bad:?}: {stderr}");
            assert!(stderr.contains("is not a run id"), "{stderr}");
        }
    }
    assert_eq!(stub.requests(), Vec::<String>::new());
    // Well-formed ones, of both forms, are asked for (and unknown here: exit 1).
    for id in [RUN_ID, &RUN_ID[..30]] {
        let out = stub.tripline(&dir, &["run", id]);
        assert_eq!(out.status.code(), Some(1), "{id}: {out:?}");
        let out = stub.tripline(&dir, &["replay", id]);
        assert_eq!(out.status.code(), Some(1), "{id}: {out:?}");
    }
    assert_eq!(
        stub.requests(),
        [
            format!("GET /api/runs/{RUN_ID}"),
            format!("POST /api/runs/{RUN_ID}/replay"),
            format!("GET /api/runs/{}", &RUN_ID[..30]),
            format!("POST /api/runs/{}/replay", &RUN_ID[..30]),
        ]
    );
}

/// A workflow whose id (never of this shape from a real server) holds a path and a query.
fn odd_id_server() -> Stub {
    Stub::start(|request| match request {
        r if r.starts_with("GET /api/workflows?key=") => (
            200,
            r#"{"workflows":[{"id":"wf_a/../../runs/x?y=1#z","key":"nightly"}]}"#.into(),
        ),
        r if r.contains("/schedule/preview?") => (200, r#"{"fire_times":[]}"#.into()),
        r if r.contains("/runs?") => (200, r#"{"runs":[]}"#.into()),
        _ => (404, r#"{"detail":"not in the stub"}"#.into()),
    })
}

const ODD_ID: &str = "wf_a%2F..%2F..%2Fruns%2Fx%3Fy%3D1%23z";

#[test]
fn an_id_from_the_server_is_sent_as_one_path_segment() {
    let stub = odd_id_server();
    let out = stub.tripline(&folder("segment"), &["runs", "nightly"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stub.requests(),
        [
            "GET /api/workflows?key=nightly".to_string(),
            format!("GET /api/workflows/{ODD_ID}/runs?limit=20"),
        ]
    );
}

#[test]
fn after_is_sent_as_one_query_value() {
    // Refused before any request: not an instant (the same usage error as for a file).
    let stub = odd_id_server();
    let out = stub.tripline(
        &folder("after-bad"),
        &[
            "preview",
            "nightly",
            "--after",
            "2027-03-13T12:00:00+01:00&count=100 #x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--after"),
        "{out:?}"
    );
    assert_eq!(stub.requests(), Vec::<String>::new());
    let stub = odd_id_server();
    let after = "2027-03-13T12:00:00+01:00";
    let out = stub.tripline(
        &folder("after"),
        &["preview", "nightly", "--count", "2", "--after", after],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stub.requests(),
        [
            "GET /api/workflows?key=nightly".to_string(),
            format!(
                "GET /api/workflows/{ODD_ID}/schedule/preview?count=2\
                 &after=2027-03-13T12%3A00%3A00%2B01%3A00"
            ),
        ]
    );
}
