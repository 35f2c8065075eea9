//! A malformed `send` option is a usage error (exit 2) found before the server is asked
//! anything: the same answer whether or not the server knows the key, or answers at all.

use std::net::TcpListener;
use std::process::Command;

#[test]
fn a_malformed_header_or_query_is_exit_2_even_with_no_server() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (args, message) in [
        (&["-H", "X Key: 1"][..], "is not a header name"),
        (&["-H", "no colon"], "write `Name: value`"),
        (&["-q", "source"], "write name=value"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args(["send", "no-such-key"])
            .args(args)
            .env("TRIPLINE_URL", format!("http://127.0.0.1:{port}"))
            .env("TRIPLINE_TOKEN", "t")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
