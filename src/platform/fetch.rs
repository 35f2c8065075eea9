//! Outbound HTTP with a deadline: the one place a request leaves the Worker, for `http` steps,
//! polled HTTP sources and OAuth token and userinfo calls. The request is aborted when the
//! deadline passes, so a slow upstream never holds the isolate.

use std::future::Future;
use std::time::Duration;
use tripline_core::kernel::json_parse;

use futures_util::future::{select, Either};
use wasm_bindgen::prelude::*;
use worker::Delay;

#[wasm_bindgen(module = "/src/platform/fetch.js")]
extern "C" {
    #[wasm_bindgen(js_name = send)]
    fn send_js(
        url: &str,
        method: &str,
        headers: &str,
        body: &JsValue,
        manual: bool,
        timeout_ms: f64,
        max_body: f64,
    ) -> js_sys::Promise;
}

/// A request to send.
pub struct Outbound<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: Option<OutboundBody<'a>>,
    /// Redirects are answered, not followed (the caller follows them itself, or not at all).
    pub manual_redirect: bool,
}

/// A request's body.
#[derive(Clone, Copy)]
pub enum OutboundBody<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// An answer, its body read up to a cap.
pub struct Fetched {
    pub status: u16,
    /// Names in lower case, in the platform's order.
    pub headers: Vec<(String, String)>,
    /// At most the cap's bytes of the body.
    pub body: Vec<u8>,
    /// Set when the body was larger than the cap: reading stopped there (or, when
    /// `content-length` already said so, never started) and the request was aborted.
    pub truncated: Option<Truncated>,
}

impl Fetched {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A body cut at the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// The cap, in bytes.
    pub limit: usize,
    /// The length the answer declared (`content-length`), when it did.
    pub declared: Option<u64>,
}

impl Truncated {
    /// For a person: how large the answer was and what was kept.
    pub fn describe(&self) -> String {
        match self.declared {
            Some(n) => format!(
                "the response is {n} bytes (content-length); at most {} are read",
                self.limit
            ),
            None => format!(
                "the response is larger than {} bytes; reading stopped there",
                self.limit
            ),
        }
    }
}

/// Why no answer came.
pub enum FetchFailure {
    /// A header the platform refuses (its name).
    Header(String),
    /// The request could not be built (the URL or the method).
    Invalid(String),
    /// The request could not be sent or its body could not be read.
    Network(String),
    /// No full answer within the deadline (the request was aborted).
    TimedOut,
    /// Redirected to another origin, which [`send_within_origin`] does not follow (a message
    /// for a person).
    Redirected(String),
}

/// Most redirects [`send_within_origin`] follows.
const MAX_REDIRECTS: u32 = 5;

/// Sends `out` as [`send`] does, but follows redirects itself and only within the URL's own
/// origin, or to the same host over https (at most [`MAX_REDIRECTS`]): a request that carries a secret, a code or a token is
/// never sent on to another host because its server answered with a redirect. A `303` (to a
/// method other than `GET` and `HEAD`), or a `301`/`302` to a `POST`, continues as a `GET`
/// without the body and its `Content-*` headers. `timeout` covers the whole
/// chain, not each hop: a caller's lease counts one timeout per attempt.
pub async fn send_within_origin(
    out: &Outbound<'_>,
    timeout: Duration,
    max_body: usize,
) -> Result<Fetched, FetchFailure> {
    let origin = |u: &worker::Url| u.origin().ascii_serialization().to_ascii_lowercase();
    // Not a URL it can follow: never sent (sent as is, the platform would follow redirects).
    let mut url = worker::Url::parse(out.url)
        .map_err(|e| FetchFailure::Invalid(format!("the URL is not valid: {e}")))?;
    let pinned = origin(&url);
    let mut method = out.method.to_string();
    let mut body = out.body;
    let without_type: Vec<(String, String)> = out
        .headers
        .iter()
        .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("content-"))
        .cloned()
        .collect();
    let mut headers = out.headers;
    let mut hops = 0;
    let deadline = crate::platform::now_ms() + timeout.as_millis() as i64;
    loop {
        let left = deadline - crate::platform::now_ms();
        if left <= 0 {
            return Err(FetchFailure::TimedOut);
        }
        let timeout = Duration::from_millis(left as u64);
        let url_text = url.to_string();
        let hop = Outbound {
            method: &method,
            url: &url_text,
            headers,
            body,
            manual_redirect: true,
        };
        let resp = send(&hop, timeout, max_body).await?;
        if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            return Ok(resp);
        }
        let Some(next) = resp.header("location").and_then(|l| url.join(l).ok()) else {
            return Ok(resp);
        };
        let to = origin(&next);
        // The same host moving to https is no other host.
        let upgrade = pinned
            .strip_prefix("http://")
            .is_some_and(|host| to.strip_prefix("https://") == Some(host));
        if to != pinned && !upgrade {
            return Err(FetchFailure::Redirected(format!(
                "the server redirected (HTTP {}) to another host, {to}; this request carries \
                 credentials, so redirects are followed only within {pinned}",
                resp.status
            )));
        }
        hops += 1;
        if hops > MAX_REDIRECTS {
            return Err(FetchFailure::Redirected(format!(
                "more than {MAX_REDIRECTS} redirects; the last one was HTTP {}",
                resp.status
            )));
        }
        let keeps_method = matches!(method.as_str(), "GET" | "HEAD");
        if (resp.status == 303 && !keeps_method)
            || (matches!(resp.status, 301 | 302) && method == "POST")
        {
            method = "GET".to_string();
            body = None;
            headers = &without_type;
        }
        url = next;
    }
}

/// Runs `fut` until `limit` passes: `None` when time ran out first.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let fut = std::pin::pin!(fut);
    let delay = std::pin::pin!(Delay::from(limit));
    match select(fut, delay).await {
        Either::Left((r, _)) => Some(r),
        Either::Right(_) => None,
    }
}

/// Sends `out` and reads the answer's body up to `max_body` bytes, aborting the request after
/// `timeout`. A `content-length` above the cap is refused before any byte is read (an answer
/// without a body, to HEAD or a 204/304, is not refused for the length it declares); a body
/// without one is streamed and cut at the cap. Either way the request is aborted (the rest is
/// never buffered) and [`Fetched::truncated`] says so. The request is built, sent and read by
/// the platform in one call (`fetch.js`): one crossing into JavaScript and one back.
pub async fn send(
    out: &Outbound<'_>,
    timeout: Duration,
    max_body: usize,
) -> Result<Fetched, FetchFailure> {
    let headers = serde_json::to_string(out.headers).unwrap_or_else(|_| "[]".into());
    let body = match out.body {
        None => JsValue::UNDEFINED,
        Some(OutboundBody::Text(t)) => JsValue::from_str(t),
        Some(OutboundBody::Bytes(b)) => js_sys::Uint8Array::from(b).into(),
    };
    let promise = send_js(
        out.url,
        out.method,
        &headers,
        &body,
        out.manual_redirect,
        timeout.as_millis() as f64,
        max_body as f64,
    );
    let answer: js_sys::Array = match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(v) => v.into(),
        Err(e) => {
            let message = js_sys::Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string());
            return Err(FetchFailure::Network(
                message.unwrap_or_else(|| "the request failed".into()),
            ));
        }
    };
    let text = |i: u32| answer.get(i).as_string().unwrap_or_default();
    match text(0).as_str() {
        "ok" => {
            let declared = answer
                .get(5)
                .as_f64()
                .filter(|n| *n >= 0.0)
                .map(|n| n as u64);
            let headers = json_parse::from_str(&text(2)).unwrap_or_default();
            let body = answer
                .get(3)
                .unchecked_into::<js_sys::Uint8Array>()
                .to_vec();
            Ok(Fetched {
                status: answer.get(1).as_f64().unwrap_or(0.0) as u16,
                headers,
                body,
                truncated: answer.get(4).is_truthy().then_some(Truncated {
                    limit: max_body,
                    declared,
                }),
            })
        }
        "header" => Err(FetchFailure::Header(text(1))),
        "invalid" => Err(FetchFailure::Invalid(text(1))),
        "timeout" => Err(FetchFailure::TimedOut),
        _ => Err(FetchFailure::Network(text(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A URL that does not parse is refused before anything is sent (nothing here can send:
    /// outside wasm, reaching the platform would panic).
    #[test]
    fn an_unparsable_url_is_refused_without_sending() {
        let out = Outbound {
            method: "GET",
            url: "http://a b/x",
            headers: &[],
            body: None,
            manual_redirect: false,
        };
        let fut = std::pin::pin!(send_within_origin(&out, Duration::from_secs(1), 1024));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.poll(&mut cx) {
            std::task::Poll::Ready(Err(FetchFailure::Invalid(m))) => {
                assert!(m.contains("not valid"), "{m}")
            }
            _ => panic!("not refused as invalid"),
        }
    }
}
