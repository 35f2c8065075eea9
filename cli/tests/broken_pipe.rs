//! The `tripline` binary with a reader that went away: `apply` still finishes its work and exits
//! with its own code, `diff` stops quietly. The server is a small fake of the management API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// A fake management API on loopback: no workflows, creates answer an id (and, as every
/// answer, an `ETag`), a deploy answers `deploy_status`. Requests wait until `go` is sent, so the reader is gone before any output.
struct Fake {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    go: mpsc::Sender<()>,
}

fn fake(deploy_status: u16) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (go, wait) = mpsc::channel::<()>();
    let seen = requests.clone();
    std::thread::spawn(move || {
        let _ = wait.recv();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            reader.read_line(&mut head).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                let lower = header.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            reader.read_exact(&mut vec![0; length]).unwrap();
            let request: String = head.split(' ').take(2).collect::<Vec<_>>().join(" ");
            let (status, body) = match request.as_str() {
                r if r.starts_with("GET /api/workflows") => {
                    (200, r#"{"workflows":[],"next_cursor":null}"#.to_string())
                }
                "POST /api/workflows" => (201, r#"{"id":"wf_a","status":"draft"}"#.to_string()),
                r if r.ends_with("/deploy") && deploy_status == 200 => {
                    (200, r#"{"id":"wf_a","deployed_version":1}"#.to_string())
                }
                _ => (deploy_status, r#"{"detail":"no"}"#.to_string()),
            };
            seen.lock().unwrap().push(request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\netag: \"t1\"\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Fake { url, requests, go }
}

fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-pipe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let def = r#"{"name": "A", "trigger": {"type": "endpoint"}, "steps": []}"#;
    std::fs::write(d.join("a.json"), def).unwrap();
    d
}

/// Runs `tripline ARGS… DIR` against `server` with its standard output's reader closed at once;
/// returns the exit code and what it wrote to standard error.
fn run_unread(server: &Fake, args: &[&str], dir: &PathBuf) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .arg(dir)
        .args(["--url", &server.url, "--token", "t"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    server.go.send(()).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code().unwrap_or(-1), stderr)
}

#[test]
fn apply_finishes_its_work_when_the_reader_goes_away() {
    let server = fake(200);
    let (code, stderr) = run_unread(&server, &["apply", "--deploy"], &folder("ok"));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        *server.requests.lock().unwrap(),
        [
            "GET /api/workflows?limit=100",
            "POST /api/workflows",
            "POST /api/workflows/wf_a/deploy"
        ]
    );
}

#[test]
fn apply_exits_with_its_own_code_when_the_reader_goes_away() {
    let server = fake(503);
    let (code, stderr) = run_unread(&server, &["apply", "--deploy"], &folder("fails"));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
}

#[test]
fn diff_stops_quietly_when_the_reader_goes_away() {
    let server = fake(200);
    let (code, stderr) = run_unread(&server, &["diff", "--deploy"], &folder("diff"));
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        *server.requests.lock().unwrap(),
        ["GET /api/workflows?limit=100"]
    );
}

/// A folder of files with over 64 KiB of problems between them, more than a pipe holds: the
/// reader is gone before they are all written whenever it goes away.
fn invalid_folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-pipe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for i in 0..1000 {
        std::fs::write(d.join(format!("bad-{i:04}.json")), "{}").unwrap();
    }
    d
}

#[test]
fn check_diff_and_preview_still_exit_1_for_problems_when_the_reader_goes_away() {
    let server = fake(200);
    for args in [
        &["check"][..],
        &["check", "--json"],
        &["diff"],
        &["diff", "--json"],
    ] {
        let (code, stderr) = run_unread(&server, args, &invalid_folder("problems"));
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // `preview FILE` with a file of 3000 unknown fields, one problem each.
    let members: String = (0..3000).map(|i| format!("\"unknown_{i}\": 1, ")).collect();
    let file = invalid_folder("preview").join("many.json");
    std::fs::write(&file, format!("{{{members}\"name\": \"x\"}}")).unwrap();
    let (code, stderr) = run_unread(&server, &["preview"], &file);
    assert_eq!(code, 1, "{stderr}");
    // Nothing was asked of the server: the files were refused first.
    assert!(server.requests.lock().unwrap().is_empty());
}
