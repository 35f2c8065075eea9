//! A real HTTP server on loopback that workflow steps call. It records every request and
//! behaves by path:
//! - `/echo…` answers 200 with a JSON echo of the request (`{"id": n, "method", "path", "headers", "body"}`),
//! - `/fail/{key}/{n}` answers 503 the first `n` times for `key`, then like `/echo`,
//! - `/slow/{ms}` waits `ms` milliseconds, then answers like `/echo`,
//! - `/status/{code}` answers with that status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
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
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind upstream"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failures: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let (rec, fails) = (received.clone(), failures.clone());
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let rec = rec.clone();
                let fails = fails.clone();
                std::thread::spawn(move || {
                    let mut body = String::new();
                    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
                    let headers: HashMap<String, String> = request
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.as_str().as_str().to_ascii_lowercase(),
                                h.value.as_str().to_string(),
                            )
                        })
                        .collect();
                    let path = request.url().to_string();
                    let n = {
                        let mut r = rec.lock().unwrap();
                        r.push(Received {
                            path: path.clone(),
                            headers: headers.clone(),
                            body: body.clone(),
                        });
                        r.len()
                    };
                    let parts: Vec<&str> =
                        path.split('?').next().unwrap_or("").split('/').collect();
                    let echo = json!({
                        "id": n,
                        "method": request.method().as_str(),
                        "path": path,
                        "headers": headers,
                        "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body.clone())),
                    });
                    let (status, payload) = match parts.get(1).copied() {
                        Some("fail") => {
                            let key = parts.get(2).unwrap_or(&"").to_string();
                            let times: u32 = parts.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
                            let mut f = fails.lock().unwrap();
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
                        Some("status") => {
                            let code: u16 =
                                parts.get(2).and_then(|s| s.parse().ok()).unwrap_or(500);
                            (code, json!({"status": code}))
                        }
                        _ => (200, echo),
                    };
                    let resp = tiny_http::Response::from_string(payload.to_string())
                        .with_status_code(status)
                        .with_header(
                            "content-type: application/json"
                                .parse::<tiny_http::Header>()
                                .unwrap(),
                        );
                    let _ = request.respond(resp);
                });
            }
        });
        Upstream {
            base: format!("http://127.0.0.1:{port}"),
            received,
        }
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
