//! An HTTP source: one GET per page (secrets and the cursor filled into the URL and headers by
//! `tripline_core::poll::HttpSource::page_request`), the JSON body parsed and the `Link` header
//! kept; picking the new items and the next page is `tripline_core::poll`'s job.

use std::time::Duration;

use serde_json::Value;
use worker::Env;

use crate::platform::fetch::{send, send_within_origin, FetchFailure, Outbound};

use super::SourceError;
use crate::platform::env_string;
use tripline_core::poll::{retry_after_seconds, HttpPollRequest};

/// Longest wait for the response, body included.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest body read (a poll keeps the whole response in memory).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Deepest nesting of a page (the JSON parser reads up to 128 levels; a run's input holds an
/// item two levels down, and PostgreSQL records run up to 125 levels deep).
const PAGE_MAX_DEPTH: usize = 120;

/// A page of the source: its JSON body and its `Link` header.
pub struct FetchedPage {
    pub body: Value,
    pub link: Option<String>,
}

/// The value of a Worker secret or variable, for `{{secrets.NAME}}`.
pub fn secret(env: &Env, name: &str) -> Option<String> {
    env_string(env, name)
}

/// Whether `e` is the source refusing the request, as [`fetch`] words it: an HTTP 4xx other
/// than 408 and 429 (a page token that expired, a URL whose secret was rotated), not a source
/// that is down, slow or asking to wait.
pub fn is_refusal(e: &SourceError) -> bool {
    e.0.split_once(" answered HTTP ")
        .is_some_and(|(_, status)| {
            status.starts_with('4') && !status.starts_with("408") && !status.starts_with("429")
        })
}

/// The wait a failed poll's source asked for (`Retry-After` on a 429 or 503, as [`fetch`]
/// writes it into its error), in seconds.
pub fn asked_wait_seconds(e: &SourceError) -> Option<u32> {
    // Only a page's answer (`GET …`): another source's error may quote a record's text.
    if !e.0.starts_with("GET ") {
        return None;
    }
    let (_, after) = e.0.split_once(" answered HTTP ")?;
    let (head, _) = after.split_once(": ")?;
    let (_, rest) = head.split_once(" (retry after ")?;
    rest.strip_suffix(" s)")?.parse().ok()
}

/// GETs a page and returns its JSON body and `Link` header. A non-2xx status, a body that is not
/// JSON, a network error or a timeout is an error (and the poll creates no runs). `shown` names
/// the page in errors (the URL template, never the URL with its secrets); an error never quotes
/// what the request sent as a credential (an API that echoes the key it refused).
pub async fn fetch(
    prepared: &HttpPollRequest,
    shown: &str,
    carries_secret: bool,
) -> Result<FetchedPage, SourceError> {
    fetch_page(prepared, shown, carries_secret)
        .await
        .map_err(|SourceError(e)| SourceError(prepared.scrub(&e)))
}

async fn fetch_page(
    prepared: &HttpPollRequest,
    shown: &str,
    carries_secret: bool,
) -> Result<FetchedPage, SourceError> {
    // The source's own headers replace these defaults.
    let mut headers: Vec<(String, String)> = [
        ("accept", "application/json"),
        ("user-agent", "tripline-poll"),
    ]
    .into_iter()
    .filter(|(d, _)| {
        !prepared
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(d))
    })
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    headers.extend(prepared.headers.iter().cloned());
    let out = Outbound {
        method: "GET",
        url: &prepared.url,
        headers: &headers,
        body: None,
        manual_redirect: false,
    };
    // A source that sends a secret never has it redirected to another host.
    let sent = if carries_secret {
        send_within_origin(&out, TIMEOUT, MAX_BODY_BYTES).await
    } else {
        send(&out, TIMEOUT, MAX_BODY_BYTES).await
    };
    let (status, bytes, link, retry_after) = match sent {
        Ok(r) => match r.truncated {
            Some(cut) => return Err(SourceError(format!("GET {shown}: {}", cut.describe()))),
            None => {
                let link = r.header("link").map(str::to_string);
                let retry_after = r.header("retry-after").map(str::to_string);
                (r.status, r.body, link, retry_after)
            }
        },
        Err(FetchFailure::Header(k)) => {
            return Err(SourceError(format!(
                "header `{k}` is not a valid HTTP header"
            )))
        }
        Err(FetchFailure::Invalid(e)) => {
            return Err(SourceError(format!(
                "the URL {shown} is not usable: {}",
                hide_url(&e, &prepared.url, shown)
            )))
        }
        Err(FetchFailure::Network(e)) => {
            return Err(SourceError(format!(
                "GET {shown} failed: {}",
                hide_url(&e, &prepared.url, shown)
            )))
        }
        Err(FetchFailure::Redirected(m)) => return Err(SourceError(format!("GET {shown}: {m}"))),
        Err(FetchFailure::TimedOut) => {
            return Err(SourceError(format!(
                "GET {shown} timed out after {} s",
                TIMEOUT.as_secs()
            )))
        }
    };
    if !(200..300).contains(&status) {
        let snippet = prepared.quote_answer(&bytes);
        // A wait the source asks for is honoured (see `asked_wait_seconds`).
        let asked = match status {
            429 | 503 => retry_after
                .as_deref()
                .and_then(|v| retry_after_seconds(v, crate::platform::now_ms())),
            _ => None,
        };
        let asked = asked.map_or(String::new(), |s| format!(" (retry after {s} s)"));
        return Err(SourceError(format!(
            "GET {shown} answered HTTP {status}{asked}: {snippet}"
        )));
    }
    // Parsed within a budget: a long array of small values would take far more memory as a
    // parsed document than as text. A page may nest deeper than a request may: its items are
    // run as deep as a PostgreSQL record may be, within what the parser reads.
    // An empty answer (a 204, or nothing but white space) lists no items. A UTF-8 byte order
    // mark (some .NET services send one) is no content.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(FetchedPage {
            body: serde_json::Value::Null,
            link,
        });
    }
    use tripline_core::kernel::json_budget::{check_with, MAX_VALUES};
    check_with(bytes, PAGE_MAX_DEPTH, MAX_VALUES)
        .map_err(|e| SourceError(format!("GET {shown}: {e}")))?;
    // A string cut inside an emoji by the API would stop the poll at this page for good.
    let bytes = tripline_core::kernel::lone_surrogates::replace_lone_surrogates(bytes);
    let body = serde_json::from_slice(&bytes)
        .map_err(|e| SourceError(format!("GET {shown}: the response is not JSON ({e})")))?;
    Ok(FetchedPage { body, link })
}

/// The platform's error with the URL it names (secrets filled in) replaced by the template.
fn hide_url(error: &str, url: &str, shown: &str) -> String {
    if url.is_empty() {
        return error.to_string();
    }
    error.replace(url, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_a_source_asked_for_is_read_back() {
        let e = |text: &str| SourceError(text.to_string());
        assert_eq!(
            asked_wait_seconds(&e(
                "GET https://x/ answered HTTP 429 (retry after 600 s): {\"error\": \"slow down\"}"
            )),
            Some(600)
        );
        // Only where `fetch` writes it, not in the answer it quotes.
        assert_eq!(
            asked_wait_seconds(&e("GET https://x/ answered HTTP 500: (retry after 600 s)")),
            None
        );
        assert_eq!(
            asked_wait_seconds(&e("GET https://x/ timed out after 30 s")),
            None
        );
        assert_eq!(
            asked_wait_seconds(&e(
                "PostgreSQL: bad value `x answered HTTP 429 (retry after 86400 s): y`"
            )),
            None
        );
        assert!(!is_refusal(&e(
            "GET https://x/ answered HTTP 429 (retry after 5 s): x"
        )));
    }

    #[test]
    fn a_refusal_is_a_4xx_other_than_429() {
        let answered =
            |status: &str| SourceError(format!("GET https://x/{{p}} answered HTTP {status}: …"));
        for refused in ["400", "401", "403", "404", "410", "422"] {
            assert!(is_refusal(&answered(refused)), "{refused}");
        }
        for other in ["408", "429", "500", "503"] {
            assert!(!is_refusal(&answered(other)), "{other}");
        }
        assert!(!is_refusal(&SourceError(
            "GET https://x/ timed out after 30 s".into()
        )));
    }
}
