//! A malformed `--url` / `TRIPLINE_URL` is a usage error of the commands that contact the
//! server, before any request; the offline commands do not read it.

use std::process::Command;

fn tripline(url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .env("TRIPLINE_URL", url)
        .env("TRIPLINE_TOKEN", "t")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_malformed_url_is_exit_2_naming_the_option() {
    for url in ["localhost:8787", "", "http://"] {
        for args in [
            &["runs", "nightly"][..],
            &["apply", "../examples"],
            &["run", "run_x"],
        ] {
            let (code, stderr) = tripline(url, args);
            assert_eq!(code, 2, "{url:?} {args:?}: {stderr}");
            assert!(stderr.contains("--url / TRIPLINE_URL"), "{stderr}");
            assert!(!stderr.contains("cannot reach"), "{stderr}");
        }
    }
}

/// A user name or password in the URL is refused without being echoed (it would go to logs).
#[test]
fn a_url_with_credentials_is_exit_2_without_echoing_them() {
    for url in [
        "http://user:secretpw@127.0.0.1:1",
        "https://secretpw@tripline.example",
        // Not even a URL: still not echoed.
        "https://admin:secretpw@host:99999",
        // Read as an authority by the URL parser, without `://`.
        "https:/admin:secretpw@host",
        "https:admin:secretpw@host",
    ] {
        let (code, stderr) = tripline(url, &["runs", "nightly"]);
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(stderr.contains("holds a user name or password"), "{stderr}");
        assert!(!stderr.contains("secretpw"), "{stderr}");
    }
}

#[test]
fn offline_commands_do_not_read_the_url() {
    let (code, stderr) = tripline("localhost:8787", &["check", "../examples"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = tripline("localhost:8787", &["preview", "../examples/schedule.json"]);
    assert_eq!(code, 0, "{stderr}");
}
