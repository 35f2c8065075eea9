//! The admin token sent over plain http to another machine is worth a warning (on standard
//! error, once); to this machine, or over https, it is not.

use std::process::Command;

/// `tripline --url URL run not-a-run-id`: the client is made (and the warning given) before
/// the run id is refused, so nothing is sent anywhere.
fn stderr_of(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["--url", url, "--token", "t", "run", "not-a-run-id"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn plain_http_off_this_machine_is_warned_about() {
    let stderr = stderr_of("http://tripline.example.com:8787");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: the admin token goes to tripline.example.com over plain http, readable by \
          anyone on the way; use an https:// --url for a Tripline not on this machine"
        ],
        "{stderr}"
    );
    assert!(stderr.contains("is not a run id"), "{stderr}");
    for quiet in [
        "http://localhost:8787",
        "http://127.0.0.1:8787",
        "https://tripline.example.com",
    ] {
        let stderr = stderr_of(quiet);
        assert!(!stderr.contains("warning"), "{quiet}: {stderr}");
    }
}
