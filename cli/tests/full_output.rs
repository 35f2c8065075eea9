//! An output that cannot be written (a full disk) is said on standard error and fails a reading
//! command with exit 3; one that cannot take even that message is no panic either.

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
