//! `pull` never rewrites a file through a link, nor one another workflow file links to: either
//! would change what another name holds.

mod stub;

#[cfg(unix)]
#[test]
fn pull_keeps_a_file_that_a_link_shares() {
    let server = stub::Stub::start(|request| match request {
        r if r.starts_with("GET /api/workflows") => (
            200,
            r#"{"workflows":[
                {"id":"wf_aaaaaaaaaaaaaaaaaaaaaaaa","key":"a","status":"draft",
                 "draft":{"key":"a","name":"A, edited","trigger":{"type":"endpoint"},"steps":[]}},
                {"id":"wf_bbbbbbbbbbbbbbbbbbbbbbbb","key":"b","status":"draft",
                 "draft":{"key":"b","name":"B, edited","trigger":{"type":"endpoint"},"steps":[]}}],
               "next_cursor":null}"#
                .into(),
        ),
        _ => (404, r#"{"detail":"not in the stub"}"#.into()),
    });
    let dir = stub::folder("pull-links");
    let wf = dir.join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    let text = r#"{"name": "A", "trigger": {"type": "endpoint"}, "steps": []}"#;
    std::fs::write(wf.join("a.json"), text).unwrap();
    std::os::unix::fs::symlink("a.json", wf.join("b.json")).unwrap();
    let out = server.tripline(&dir, &["--json", "pull", "wf"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{v}");
    for (action, key, why) in [
        (&actions[0], "a", "wf/b.json is a link to it"),
        (&actions[1], "b", "the file is a link"),
    ] {
        assert_eq!(action["key"], key, "{v}");
        assert_eq!(action["action"], "kept", "{v}");
        assert!(action["reason"].as_str().unwrap().starts_with(why), "{v}");
    }
    assert_eq!(std::fs::read_to_string(wf.join("a.json")).unwrap(), text);
    assert!(std::fs::symlink_metadata(wf.join("b.json"))
        .unwrap()
        .file_type()
        .is_symlink());
}
