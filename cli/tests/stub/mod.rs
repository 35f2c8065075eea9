//! A stub of the management API on loopback for the binary's tests: each request line
//! (`METHOD /path?query`) is recorded and answered by the test's own function.

// Each test file uses the part it needs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

pub struct Stub {
    pub url: String,
    /// Every request as `METHOD /path?query`, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Each request's `If-Match` header, in the same order.
    pub if_matches: Arc<Mutex<Vec<Option<String>>>>,
}

impl Stub {
    /// Answers each request with what `answer` gives for its `METHOD /path?query`: a status and
    /// a JSON body.
    pub fn start(mut answer: impl FnMut(&str) -> (u16, String) + Send + 'static) -> Stub {
        Stub::start_tagged(move |request, _| {
            let (status, body) = answer(request);
            (status, body, None)
        })
    }

    /// As [`Stub::start`], the function also given the request's `If-Match` and answering an
    /// `ETag` when it gives one.
    pub fn start_tagged(
        mut answer: impl FnMut(&str, Option<&str>) -> (u16, String, Option<String>) + Send + 'static,
    ) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let if_matches = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let seen_if_matches = if_matches.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                if reader.read_line(&mut head).is_err() {
                    continue;
                }
                let mut length = 0;
                let mut if_match = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    let lower = header.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if lower.starts_with("if-match:") {
                        if_match = Some(header["if-match:".len()..].trim().to_string());
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let request = head.split(' ').take(2).collect::<Vec<_>>().join(" ");
                seen.lock().unwrap().push(request.clone());
                seen_if_matches.lock().unwrap().push(if_match.clone());
                let (status, body, etag) = answer(&request, if_match.as_deref());
                let etag = etag.map(|t| format!("etag: {t}\r\n")).unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{etag}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Stub {
            url,
            requests,
            if_matches,
        }
    }

    /// Runs `tripline ARGS…` in `dir` against this stub.
    pub fn tripline(&self, dir: &std::path::Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args(args)
            .current_dir(dir)
            .env("TRIPLINE_URL", &self.url)
            .env("TRIPLINE_TOKEN", "t")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    pub fn if_matches(&self) -> Vec<Option<String>> {
        self.if_matches.lock().unwrap().clone()
    }
}

/// A new empty folder under the temporary directory.
pub fn folder(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-stub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
