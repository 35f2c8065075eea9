//! `apply --deploy` deploys the file's draft only: the one it saved (by the save's `ETag`, sent
//! back as `If-Match`), or the server's once read to be the file's. A draft saved elsewhere
//! meanwhile (the dashboard, another apply) is not deployed: exit 1, and nothing is deployed.

mod stub;

use stub::{folder, Stub};

const ID: &str = "wf_aaaaaaaaaaaaaaaaaaaaaaaa";

/// The server's list: workflow `a`, deployed, with `draft` as its draft (`changed`: not the
/// live version's).
fn listed(draft: &str, changed: bool) -> String {
    format!(
        r#"{{"workflows":[{{"id":"{ID}","key":"a","status":"deployed","draft_changed":{changed},"draft":{draft}}}],"next_cursor":null}}"#
    )
}

const FILE: &str = r#"{"name": "A", "trigger": {"type": "endpoint"}, "steps": []}"#;
const FILE_DRAFT: &str = r#"{"key":"a","name":"A","trigger":{"type":"endpoint"},"steps":[]}"#;
const OTHER_DRAFT: &str = r#"{"key":"a","name":"B","trigger":{"type":"endpoint"},"steps":[]}"#;

fn workflows(name: &str) -> std::path::PathBuf {
    let dir = folder(name);
    std::fs::write(dir.join("a.json"), FILE).unwrap();
    dir
}

#[test]
fn an_updated_draft_is_deployed_by_the_tag_its_save_answered() {
    for (deploy_status, code) in [(200, 0), (412, 1)] {
        let stub = Stub::start_tagged(move |request, if_match| match request {
            r if r.starts_with("GET /api/workflows?") => (200, listed(OTHER_DRAFT, false), None),
            r if r.starts_with("PUT ") => (
                200,
                format!(r#"{{"id":"{ID}","draft":{FILE_DRAFT}}}"#),
                Some("\"saved1\"".into()),
            ),
            r if r.ends_with("/deploy") => match (deploy_status, if_match) {
                (200, Some("\"saved1\"")) => (
                    200,
                    format!(r#"{{"id":"{ID}","deployed_version":2}}"#),
                    None,
                ),
                (200, _) => (500, r#"{"detail":"no If-Match"}"#.into(), None),
                _ => (
                    412,
                    r#"{"detail":"The draft was changed since it was read"}"#.into(),
                    None,
                ),
            },
            _ => (404, r#"{"detail":"not in the stub"}"#.into(), None),
        });
        let out = stub.tripline(&workflows("updated"), &["apply", ".", "--deploy"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{deploy_status}: {stderr}");
        assert_eq!(
            stub.requests(),
            [
                "GET /api/workflows?limit=100".to_string(),
                format!("PUT /api/workflows/{ID}"),
                format!("POST /api/workflows/{ID}/deploy"),
            ]
        );
        assert_eq!(stub.if_matches()[2].as_deref(), Some("\"saved1\""));
        if code == 1 {
            assert!(
                stderr.contains("./a.json: not deployed: the draft of a on the server was changed"),
                "{stderr}"
            );
        }
    }
}

#[test]
fn a_draft_only_deployed_is_read_first_and_deployed_by_its_tag() {
    // The server's draft read before the deploy: the file's (deployed by its tag, or refused
    // when saved again in between), or another saved since the list (not deployed at all).
    for (read, deploy_status, code) in [
        (FILE_DRAFT, 200, 0),
        (FILE_DRAFT, 412, 1),
        (OTHER_DRAFT, 200, 1),
    ] {
        let stub = Stub::start_tagged(move |request, if_match| match request {
            r if r.starts_with("GET /api/workflows?") => (200, listed(FILE_DRAFT, true), None),
            r if r == format!("GET /api/workflows/{ID}") => (
                200,
                format!(r#"{{"id":"{ID}","draft":{read}}}"#),
                Some("\"read1\"".into()),
            ),
            r if r.ends_with("/deploy")
                && deploy_status == 200
                && if_match == Some("\"read1\"") =>
            {
                (
                    200,
                    format!(r#"{{"id":"{ID}","deployed_version":2}}"#),
                    None,
                )
            }
            r if r.ends_with("/deploy") => (
                412,
                r#"{"detail":"The draft was changed since it was read"}"#.into(),
                None,
            ),
            _ => (404, r#"{"detail":"not in the stub"}"#.into(), None),
        });
        let out = stub.tripline(&workflows("deploy-only"), &["apply", ".", "--deploy"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{read} {deploy_status}: {stderr}"
        );
        let mut expected = vec![
            "GET /api/workflows?limit=100".to_string(),
            format!("GET /api/workflows/{ID}"),
        ];
        if read == FILE_DRAFT {
            expected.push(format!("POST /api/workflows/{ID}/deploy"));
            assert_eq!(stub.if_matches()[2].as_deref(), Some("\"read1\""));
        }
        assert_eq!(stub.requests(), expected);
        if code == 1 {
            assert!(stderr.contains("not deployed"), "{stderr}");
        }
    }
}

#[test]
fn a_created_workflow_is_deployed_by_the_tag_its_create_answered() {
    let stub = Stub::start_tagged(move |request, if_match| match request {
        r if r.starts_with("GET /api/workflows?") => {
            (200, r#"{"workflows":[],"next_cursor":null}"#.into(), None)
        }
        "POST /api/workflows" => (
            201,
            format!(r#"{{"id":"{ID}","draft":{FILE_DRAFT}}}"#),
            Some("\"created1\"".into()),
        ),
        r if r.ends_with("/deploy") && if_match == Some("\"created1\"") => (
            200,
            format!(r#"{{"id":"{ID}","deployed_version":1}}"#),
            None,
        ),
        _ => (404, r#"{"detail":"not in the stub"}"#.into(), None),
    });
    let out = stub.tripline(&workflows("created"), &["apply", ".", "--deploy"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stub.requests(),
        [
            "GET /api/workflows?limit=100".to_string(),
            "POST /api/workflows".to_string(),
            format!("POST /api/workflows/{ID}/deploy"),
        ]
    );
}

#[test]
fn without_a_tag_from_its_save_the_draft_is_read_and_compared_before_the_deploy() {
    // A server (or a proxy) that sends no `ETag`: the saved draft is read back and compared.
    for (read, code) in [(FILE_DRAFT, 0), (OTHER_DRAFT, 1)] {
        let stub = Stub::start_tagged(move |request, _| match request {
            r if r.starts_with("GET /api/workflows?") => (200, listed(OTHER_DRAFT, false), None),
            r if r.starts_with("PUT ") => (
                200,
                format!(r#"{{"id":"{ID}","draft":{FILE_DRAFT}}}"#),
                None,
            ),
            r if r == format!("GET /api/workflows/{ID}") => {
                (200, format!(r#"{{"id":"{ID}","draft":{read}}}"#), None)
            }
            r if r.ends_with("/deploy") => (
                200,
                format!(r#"{{"id":"{ID}","deployed_version":2}}"#),
                None,
            ),
            _ => (404, r#"{"detail":"not in the stub"}"#.into(), None),
        });
        let out = stub.tripline(&workflows("untagged"), &["apply", ".", "--deploy"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{read}: {stderr}");
        let requests = stub.requests();
        assert_eq!(
            requests[2],
            format!("GET /api/workflows/{ID}"),
            "{requests:?}"
        );
        assert_eq!(
            requests.iter().any(|r| r.ends_with("/deploy")),
            code == 0,
            "{requests:?}"
        );
    }
}
