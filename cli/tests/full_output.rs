//! An output that cannot be written (a full disk) is said on standard error and fails a reading
//! command with exit 3, and a command that changes something with exit 3 once its work is
//! done; one that cannot take even that message is no panic either.

mod stub;

use std::fs::OpenOptions;
use std::process::{Command, Stdio};

fn full() -> Stdio {
    OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
        .into()
}

#[test]
fn a_full_standard_output_is_exit_3_with_the_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["schema"])
        .stdout(full())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("error: writing to standard output: No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_full_standard_error_keeps_the_exit_code() {
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["check", "no-such-folder-here"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_command_that_writes_files_finishes_then_is_exit_3() {
    let server = stub::Stub::start(|request| match request {
        r if r.starts_with("GET /api/workflows") => (
            200,
            r#"{"workflows":[{"id":"wf_aaaaaaaaaaaaaaaaaaaaaaaa","key":"a","status":"draft",
                "draft":{"key":"a","name":"A","trigger":{"type":"endpoint"},"steps":[]}}],
                "next_cursor":null}"#
                .into(),
        ),
        _ => (404, r#"{"detail":"not in the stub"}"#.into()),
    });
    let dir = stub::folder("full-pull");
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["pull", "wf"])
        .current_dir(&dir)
        .env("TRIPLINE_URL", &server.url)
        .env("TRIPLINE_TOKEN", "t")
        .stdout(full())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the rest of it is dropped"), "{stderr}");
    let written = std::fs::read_to_string(dir.join("wf/a.json")).unwrap();
    assert!(written.contains("\"name\": \"A\""), "{written}");
}
