//! An `http` step's request on the wire: timeout per attempt, retries with exponential
//! backoff and jitter on network errors, timeouts, 429 and 5xx, honouring `Retry-After`.

use std::time::Duration;

use serde_json::{json, Map, Value};
use worker::{Delay, Headers, Method, Request, RequestInit};

use crate::platform::fetch::{send, FetchFailure};
use crate::platform::{now_ms, random_unit};
use tripline_core::steps::http::PreparedRequest;
use tripline_core::steps::retry::{backoff_ms, is_retryable_status};

/// What happened: the attempts made and the response (`{status, headers, body}`) or why not.
pub struct CallResult {
    pub attempts: u32,
    pub outcome: Result<Value, String>,
}

enum Attempt {
    Response(Value, u16, Option<String>),
    Failed(String),
}

fn method(m: &str) -> Method {
    Method::from(m.to_string())
}

async fn attempt(req: &PreparedRequest) -> Attempt {
    let headers = Headers::new();
    for (k, v) in &req.headers {
        if headers.append(k, v).is_err() {
            return Attempt::Failed(format!("header `{k}` is not a valid HTTP header"));
        }
    }
    let mut init = RequestInit::new();
    init.with_method(method(&req.method)).with_headers(headers);
    if let Some(b) = &req.body {
        init.with_body(Some(b.as_str().into()));
    }
    let request = match Request::new_with_init(&req.url, &init) {
        Ok(r) => r,
        Err(e) => return Attempt::Failed(format!("the request could not be built: {e}")),
    };
    let resp = match send(request, Duration::from_millis(u64::from(req.timeout_ms))).await {
        Ok(resp) => resp,
        Err(FetchFailure::Network(e)) => return Attempt::Failed(format!("network error: {e}")),
        Err(FetchFailure::TimedOut) => {
            return Attempt::Failed(format!("timed out after {} ms", req.timeout_ms))
        }
    };
    let status = resp.status;
    let mut header_map = Map::new();
    for (k, v) in resp.headers.entries() {
        header_map.insert(k, Value::String(v));
    }
    let retry_after = resp.headers.get("retry-after").ok().flatten();
    let is_json = resp
        .headers
        .get("content-type")
        .ok()
        .flatten()
        .map(|ct| ct.contains("json"))
        .unwrap_or(false);
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    let body = if is_json {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else if text.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    Attempt::Response(
        json!({ "status": status, "headers": header_map, "body": body }),
        status,
        retry_after,
    )
}

/// Sends the request, retrying up to `retries` times.
pub async fn perform(req: &PreparedRequest, retries: u32, allow_error: bool) -> CallResult {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (failure, retry_after, response) = match attempt(req).await {
            Attempt::Response(v, status, _) if (200..300).contains(&status) => {
                return CallResult {
                    attempts,
                    outcome: Ok(v),
                }
            }
            Attempt::Response(v, status, retry_after) => {
                if allow_error || !is_retryable_status(status) {
                    return CallResult {
                        attempts,
                        outcome: if allow_error {
                            Ok(v)
                        } else {
                            Err(format!("the server answered HTTP {status}"))
                        },
                    };
                }
                (format!("HTTP {status}"), retry_after, Some(v))
            }
            Attempt::Failed(reason) => (reason, None, None),
        };
        if attempts > retries {
            let _ = response;
            return CallResult {
                attempts,
                outcome: Err(format!(
                    "{failure} (gave up after {attempts} attempt{})",
                    if attempts == 1 { "" } else { "s" }
                )),
            };
        }
        let wait = backoff_ms(
            attempts,
            random_unit(),
            retry_after.as_deref(),
            now_ms() / 1000,
        );
        Delay::from(Duration::from_millis(wait)).await;
    }
}
