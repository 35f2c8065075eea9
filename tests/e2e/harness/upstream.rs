//! A real HTTP server on loopback that workflow steps call. It records every request and
//! behaves by path:
//! - `/echo…` answers 200 with a JSON echo of the request (`{"id": n, "method", "path", "headers", "body"}`),
//! - `/fail/{key}/{n}` answers 503 the first `n` times for `key`, then like `/echo`,
//! - `/slow/{ms}` waits `ms` milliseconds, then answers like `/echo`,
//! - `/status/{code}` answers with that status,
//! - `/refuse/{code}` answers with that status and the echo `/echo` would answer (an API that
//!   quotes the request in its error),
//! - `/token/{value}` answers 200 `{"access_token": value, "token_type": "bearer"}`,
//! - `/redirect?to=<url>` answers 302 to `<url>` (percent-encoded; `?wait=<ms>&to=…` first
//!   waits that long); `/seeother?to=<url>` the same with 303,
//! - `/zeros/{n}` answers 200 `[0,0,…]` (`n` values) as `text/plain`,
//! - `/big/{bytes}` answers that many bytes of JSON with a Content-Length,
//! - `/bigchunked/{bytes}` the same without a Content-Length (chunked),
//! - `/typed/{content-type}` answers 200 `{"typed": true}` with that (percent-encoded)
//!   content type,
//! - `/lookalikes/{n}` answers 200 `{"tokens": ["Bearer t000000", …]}`: `n` values that look
//!   like credentials,
//! - `/surrogate` answers 200 `{"text": "cut \ud83d", "id": 7}`: JSON whose string was cut
//!   inside an emoji (an unpaired surrogate escape),
//! - `/bom` answers 200 `{"id": 8}` after a UTF-8 byte order mark,
//! - `/cookies` answers 200 with two `set-cookie` headers, `a=1` and `b=2; Path=/`.
//!
//! A HEAD gets the headers a GET would, its content-length too, and no body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::http_server::{Reply, Request, Server};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

pub struct Upstream {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let server = Server::bind();
        let base = server.base();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failures: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let rec = received.clone();
        server.serve(move |request| answer(request, &rec, &failures));
        Upstream { base, received }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Requests received whose path starts with `prefix`.
    pub fn received(&self, prefix: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// Records `request` and answers it as its path says (see the module's list).
fn answer(
    request: Request,
    received: &Mutex<Vec<Received>>,
    failures: &Mutex<HashMap<String, u32>>,
) -> Reply {
    let body = request.text();
    let headers: HashMap<String, String> = request.headers.iter().cloned().collect();
    let path = request.url.clone();
    let n = {
        let mut r = received.lock().unwrap();
        r.push(Received {
            method: request.method.to_string(),
            path: path.clone(),
            headers: headers.clone(),
            body: body.clone(),
        });
        r.len()
    };
    let parts: Vec<&str> = path.split('?').next().unwrap_or("").split('/').collect();
    let echo = json!({
        "id": n,
        "method": request.method,
        "path": path,
        "headers": headers,
        "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body.clone())),
    });
    let bytes_of = |i: usize| -> usize { parts.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
    match parts.get(1).copied() {
        Some("cookies") => {
            return Reply::new(200, "application/json", "{}")
                .with_header("set-cookie", "a=1")
                .with_header("set-cookie", "b=2; Path=/");
        }
        Some("surrogate") => {
            return Reply::new(
                200,
                "application/json",
                r#"{"text": "cut \ud83d", "id": 7}"#,
            );
        }
        Some("bom") => {
            return Reply::new(200, "application/json", "\u{feff}{\"id\": 8}");
        }
        Some("typed") => {
            let content_type = percent_decode(parts.get(2).copied().unwrap_or(""));
            return Reply::new(200, &content_type, r#"{"typed": true}"#);
        }
        // A token answered as text: form-encoded (as GitHub's token endpoint answers by
        // default) or JSON sent as `text/plain`.
        Some("texttoken") => {
            let token = parts.get(3).copied().unwrap_or("");
            return match parts.get(2).copied() {
                Some("form") => Reply::new(
                    200,
                    "application/x-www-form-urlencoded",
                    format!("access_token={token}&scope=repo"),
                ),
                _ => Reply::new(
                    200,
                    "text/plain",
                    format!(r#"{{"access_token":"{token}","scope":"repo"}}"#),
                ),
            };
        }
        Some("zeros") => {
            let n = bytes_of(2).max(1);
            return Reply::new(200, "text/plain", format!("[{}0]", "0,".repeat(n - 1)));
        }
        Some(kind @ ("redirect" | "seeother")) => {
            let query = path.split_once('?').map_or("", |(_, q)| q);
            if let Some(ms) = query
                .strip_prefix("wait=")
                .and_then(|w| w.split('&').next())
                .and_then(|w| w.parse().ok())
            {
                std::thread::sleep(Duration::from_millis(ms));
            }
            let to = path
                .split_once("to=")
                .map(|(_, t)| percent_decode(t))
                .unwrap_or_default();
            return match kind {
                "seeother" => Reply::new(303, "text/plain", "").with_header("location", &to),
                _ => Reply::redirect(&to),
            };
        }
        Some(kind @ ("big" | "bigchunked" | "biggzip")) => {
            let n = bytes_of(2).max(2);
            let mut data = vec![b' '; n];
            data[0] = b'"';
            data[n - 1] = b'"';
            if kind == "biggzip" {
                // Its content-length is the compressed size, far below the cap.
                use std::io::Write;
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&data).unwrap();
                return Reply::new(200, "application/json", gz.finish().unwrap())
                    .with_header("content-encoding", "gzip");
            }
            let reply = Reply::new(200, "application/json", data);
            return if kind == "bigchunked" {
                reply.chunked()
            } else {
                reply
            };
        }
        _ => {}
    }
    let (status, payload) = match parts.get(1).copied() {
        Some("fail") => {
            let key = parts.get(2).unwrap_or(&"").to_string();
            let times: u32 = parts.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
            let mut f = failures.lock().unwrap();
            let seen = f.entry(key).or_insert(0);
            *seen += 1;
            if *seen <= times {
                (503, json!({"error": "unavailable"}))
            } else {
                (200, echo)
            }
        }
        Some("slow") => {
            let ms: u64 = parts.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            std::thread::sleep(Duration::from_millis(ms));
            (200, echo)
        }
        Some("token") => (
            200,
            json!({"access_token": parts.get(2).copied().unwrap_or(""), "token_type": "bearer"}),
        ),
        Some("status") => {
            let code: u16 = parts.get(2).and_then(|s| s.parse().ok()).unwrap_or(500);
            (code, json!({"status": code}))
        }
        Some("refuse") => (
            parts.get(2).and_then(|s| s.parse().ok()).unwrap_or(422),
            echo,
        ),
        Some("lookalikes") => {
            let tokens: Vec<String> = (0..bytes_of(2))
                .map(|i| format!("Bearer t{i:06}"))
                .collect();
            (200, json!({ "tokens": tokens }))
        }
        _ => (200, echo),
    };
    Reply::json(status, payload)
}

/// `%XX` decoded, `+` left alone (the Worker encodes spaces as `%20`).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
