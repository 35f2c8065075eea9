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
}

impl Stub {
    /// Answers each request with what `answer` gives for its `METHOD /path?query`: a status and
    /// a JSON body.
    pub fn start(mut answer: impl FnMut(&str) -> (u16, String) + Send + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                if reader.read_line(&mut head).is_err() {
                    continue;
                }
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    let lower = header.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let request = head.split(' ').take(2).collect::<Vec<_>>().join(" ");
                seen.lock().unwrap().push(request.clone());
                let (status, body) = answer(&request);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Stub { url, requests }
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
}

/// A new empty folder under the temporary directory.
pub fn folder(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-stub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
