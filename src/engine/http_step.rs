//! An `http` step's request on the wire: timeout per attempt, retries with exponential
//! backoff and jitter on network errors, timeouts, 429 and 5xx, honouring `Retry-After`
//! (with `allow_error` too, which applies to the final answer).

use std::time::Duration;

use serde_json::{json, Map, Value};
use worker::Delay;

use crate::platform::fetch::{send, send_within_origin, FetchFailure, Outbound, OutboundBody};
use crate::platform::{now_ms, random_unit};
use tripline_core::steps::http::PreparedRequest;
use tripline_core::steps::retry::{backoff_ms, is_retryable_status, retry_fits, MAX_STEP_MS};

/// What happened: the attempts made and the response (`{status, headers, body}`) or why not.
pub struct CallResult {
    pub attempts: u32,
    pub outcome: Result<Value, String>,
    /// The server's last answer when the step failed on it (a non-2xx without `allow_error`),
    /// kept in the step's record to show what the server said.
    pub failed_answer: Option<Value>,
}

enum Attempt {
    Response(Value, u16, Option<String>),
    Failed(String),
    /// Not to be tried again (a redirect a credential-carrying step must not follow, a body
    /// over the cap, a request that cannot be built).
    Refused(String),
}

/// Largest response body an `http` step reads (its stored output is cut to 32 KiB anyway).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

async fn attempt(req: &PreparedRequest) -> Attempt {
    let out = Outbound {
        method: &req.method,
        url: &req.url,
        headers: &req.headers,
        body: req.body.as_deref().map(OutboundBody::Text),
        manual_redirect: false,
    };
    let timeout = Duration::from_millis(u64::from(req.timeout_ms));
    // A step that carries a secret or token follows redirects only within its own origin (its
    // literal host, which its URL keeps once filled in).
    let sent = if req.pinned_origin.is_some() {
        send_within_origin(&out, timeout, MAX_RESPONSE_BYTES).await
    } else {
        send(&out, timeout, MAX_RESPONSE_BYTES).await
    };
    let resp = match sent {
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
        // Neither can succeed on another attempt.
        Err(FetchFailure::Header(k)) => {
            return Attempt::Refused(format!("header `{k}` is not a valid HTTP header"))
        }
        Err(FetchFailure::Invalid(e)) => {
            return Attempt::Refused(format!("the request could not be built: {e}"))
        }
        Err(FetchFailure::Network(e)) => return Attempt::Failed(format!("network error: {e}")),
        Err(FetchFailure::Redirected(m)) => return Attempt::Refused(m),
        Err(FetchFailure::TimedOut) => {
            return Attempt::Failed(format!("timed out after {} ms", req.timeout_ms))
        }
    };
    let status = resp.status;
    let retry_after = resp.header("retry-after").map(str::to_string);
    let is_json = resp
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    // JSON is parsed within a budget (depth, number of values); past it the text is kept.
    let within_budget = tripline_core::kernel::json_budget::check(&resp.body).is_ok();
    let mut header_map = Map::new();
    for (k, v) in resp.headers {
        match header_map.get_mut(&k) {
            None => {
                header_map.insert(k, Value::String(v));
            }
            // Repeated `set-cookie` headers (never combined into one) are a list of values; one
            // stays a string, as it always was.
            Some(Value::Array(values)) => values.push(Value::String(v)),
            Some(first) if k == "set-cookie" => *first = json!([first.take(), v]),
            Some(Value::String(first)) => {
                first.push_str(", ");
                first.push_str(&v);
            }
            Some(_) => {}
        }
    }
    // The body's bytes become its text without a copy when they are UTF-8.
    let text = String::from_utf8(resp.body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    // No body (HEAD, 204) is `null`, whatever the content type says; a UTF-8 byte order mark
    // before the document is no content.
    let json = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let body = if json.is_empty() {
        Value::Null
    } else if is_json && within_budget {
        // A string cut inside an emoji (`"\ud83d"`) reads as U+FFFD, not as text for the
        // whole body.
        let bytes =
            tripline_core::kernel::lone_surrogates::replace_lone_surrogates(json.as_bytes());
        let parsed = serde_json::from_slice::<Value>(&bytes).ok();
        parsed.unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    Attempt::Response(
        json!({ "status": status, "headers": header_map, "body": body }),
        status,
        retry_after,
    )
}

/// A final non-2xx answer: the step's result with `allow_error`, else its failure.
fn final_answer(attempts: u32, v: Value, status: u16, allow_error: bool) -> CallResult {
    if allow_error {
        CallResult {
            attempts,
            outcome: Ok(v),
            failed_answer: None,
        }
    } else {
        CallResult {
            attempts,
            outcome: Err(format!("the server answered HTTP {status}")),
            failed_answer: Some(v),
        }
    }
}

/// Sends the request, retrying up to `retries` times, within [`MAX_STEP_MS`] in all. A
/// retryable answer (429, 5xx) is retried with `allow_error` too; that option applies to the
/// final answer. `on_retry` is told before each attempt after the first.
pub async fn perform(
    req: &PreparedRequest,
    retries: u32,
    allow_error: bool,
    on_retry: &dyn Fn(),
) -> CallResult {
    let started = now_ms();
    let mut attempts = 0;
    loop {
        attempts += 1;
        if attempts > 1 {
            on_retry();
        }
        let (failure, retry_after, response) = match attempt(req).await {
            Attempt::Response(v, status, _) if (200..300).contains(&status) => {
                return CallResult {
                    attempts,
                    outcome: Ok(v),
                    failed_answer: None,
                }
            }
            Attempt::Response(v, status, retry_after) => {
                if !is_retryable_status(status) {
                    return final_answer(attempts, v, status, allow_error);
                }
                (format!("HTTP {status}"), retry_after, Some((v, status)))
            }
            Attempt::Failed(reason) => (reason, None, None),
            Attempt::Refused(reason) => {
                return CallResult {
                    attempts,
                    outcome: Err(reason),
                    failed_answer: None,
                }
            }
        };
        // With `allow_error`, the last answer is the step's result once no retry is left;
        // without it, the answer is kept beside the failure.
        let give_up = |response: Option<(Value, u16)>, reason: String| match response {
            Some((v, status)) if allow_error => final_answer(attempts, v, status, allow_error),
            response => CallResult {
                attempts,
                outcome: Err(reason),
                failed_answer: response.map(|(v, _)| v),
            },
        };
        if attempts > retries {
            return give_up(
                response,
                format!(
                    "{failure} (gave up after {attempts} attempt{})",
                    if attempts == 1 { "" } else { "s" }
                ),
            );
        }
        let wait = backoff_ms(
            attempts,
            random_unit(),
            retry_after.as_deref(),
            now_ms() / 1000,
        );
        let elapsed = u64::try_from(now_ms() - started).unwrap_or(0);
        if !retry_fits(elapsed, wait, req.timeout_ms) {
            return give_up(
                response,
                format!(
                    "{failure} (gave up after {attempts} attempt{}: a step takes at most {} \
                     minutes in all)",
                    if attempts == 1 { "" } else { "s" },
                    MAX_STEP_MS / 60_000
                ),
            );
        }
        Delay::from(Duration::from_millis(wait)).await;
    }
}
