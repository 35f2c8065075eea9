//! An `http` step's request on the wire: timeout per attempt, retries with exponential
//! backoff and jitter on network errors, timeouts, 429 and 5xx, honouring `Retry-After`.

use std::time::Duration;

use serde_json::{json, Map, Value};
use worker::Delay;

use crate::platform::fetch::{send, FetchFailure, Outbound, OutboundBody};
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
    /// Not to be tried again (a redirect a credential-carrying step must not follow).
    Refused(String),
}

/// Largest response body an `http` step reads (its stored output is cut to 32 KiB anyway).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Most redirects a credential-carrying step follows (within its own origin).
const MAX_PINNED_REDIRECTS: u32 = 5;

async fn attempt(req: &PreparedRequest) -> Attempt {
    let mut url = req.url.clone();
    let mut method_name = req.method.clone();
    let mut body = req.body.clone();
    // Set when a redirect turned the request into a GET without its body.
    let mut dropped_body = false;
    let mut hops = 0;
    let resp = loop {
        // A redirect that turned the request into a GET drops its body's content type too.
        let dropped;
        let headers = if dropped_body {
            dropped = req
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
                .cloned()
                .collect::<Vec<_>>();
            &dropped[..]
        } else {
            &req.headers[..]
        };
        let out = Outbound {
            method: &method_name,
            url: &url,
            headers,
            body: body.as_deref().map(OutboundBody::Text),
            // A step that carries a secret or token follows redirects itself, and only within
            // its own origin.
            manual_redirect: req.pinned_origin.is_some(),
        };
        let timeout = Duration::from_millis(u64::from(req.timeout_ms));
        let resp = match send(&out, timeout, MAX_RESPONSE_BYTES).await {
            Ok(resp) => match resp.truncated {
                // Never buffered past the cap; not retried (it would be as large again).
                Some(cut) => {
                    return Attempt::Refused(format!(
                        "HTTP {}: {}; the step fails rather than use a partial body",
                        resp.status,
                        cut.describe()
                    ))
                }
                None => resp,
            },
            Err(FetchFailure::Header(k)) => {
                return Attempt::Failed(format!("header `{k}` is not a valid HTTP header"))
            }
            Err(FetchFailure::Invalid(e)) => {
                return Attempt::Failed(format!("the request could not be built: {e}"))
            }
            Err(FetchFailure::Network(e)) => return Attempt::Failed(format!("network error: {e}")),
            Err(FetchFailure::TimedOut) => {
                return Attempt::Failed(format!("timed out after {} ms", req.timeout_ms))
            }
        };
        let Some(pinned) = &req.pinned_origin else {
            break resp;
        };
        if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            break resp;
        }
        let Some(next) = resp
            .header("location")
            .and_then(|loc| worker::Url::parse(&url).ok()?.join(loc).ok())
        else {
            break resp;
        };
        let next_origin = next.origin().ascii_serialization().to_ascii_lowercase();
        if &next_origin != pinned {
            return Attempt::Refused(format!(
                "the server redirected (HTTP {}) to another host, {next_origin}; this step sends \
                 a secret or token, so it only follows redirects within {pinned}",
                resp.status
            ));
        }
        hops += 1;
        if hops > MAX_PINNED_REDIRECTS {
            return Attempt::Failed(format!(
                "more than {MAX_PINNED_REDIRECTS} redirects; the last one was HTTP {}",
                resp.status
            ));
        }
        if resp.status == 303 || (matches!(resp.status, 301 | 302) && method_name == "POST") {
            method_name = "GET".to_string();
            body = None;
            dropped_body = true;
        }
        url = next.to_string();
    };
    let status = resp.status;
    let retry_after = resp.header("retry-after").map(str::to_string);
    let is_json = resp
        .header("content-type")
        .is_some_and(|ct| ct.contains("json"));
    let mut header_map = Map::new();
    for (k, v) in resp.headers {
        header_map.insert(k, Value::String(v));
    }
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    // JSON is parsed within a budget (depth, number of values); past it the text is kept.
    let within_budget = tripline_core::kernel::json_budget::check(&resp.body).is_ok();
    let body = if is_json && within_budget {
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
            Attempt::Refused(reason) => {
                return CallResult {
                    attempts,
                    outcome: Err(reason),
                }
            }
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
