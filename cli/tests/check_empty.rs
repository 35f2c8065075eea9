//! `check`, `diff` or `apply` of a folder that holds no workflow file is a usage error (exit
//! 2): a mistyped or emptied folder in a CI step does not pass with nothing done.

use std::process::Command;

#[test]
fn a_folder_without_workflow_files_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("tripline-cli-check-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a workflow").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds no workflow file"), "{stderr}");
    assert!(out.stdout.is_empty(), "{out:?}");
    // `diff` and `apply` alike, before any request (no server is listening at this URL).
    for command in ["diff", "apply"] {
        let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args([command, dir.to_str().unwrap()])
            .env("TRIPLINE_URL", "http://127.0.0.1:9")
            .env("TRIPLINE_TOKEN", "t")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("holds no workflow file") && stderr.contains("nothing was sent"),
            "{command}: {stderr}"
        );
    }
    // With a workflow file in it, the folder is checked.
    std::fs::write(
        dir.join("a.json"),
        r#"{"name": "a", "trigger": {"type": "endpoint"}, "steps": []}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 1 workflow file valid\n"
    );
}
