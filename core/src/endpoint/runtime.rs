//! Pure helpers of the endpoint trigger's runtime shell (`api::hooks`, `api::test_shelf`):
//! the run's dedup key, the request fingerprint behind idempotent repeats, replaying a stored
//! Response-step reply, naming the step a run failed at, and what the test shelf keeps of a
//! request (redacted headers, the raw body).

use crate::kernel::json_parse;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::endpoint::signature::{Scheme, Verified};
use crate::kernel::redact::{is_sensitive_key, prefix_at_char_boundary, REDACTED};

/// Longest `Idempotency-Key` accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// Most raw body bytes the test shelf keeps (the parsed body is kept whole, up to
/// [`SHELF_MAX_BODY_JSON`]).
pub const SHELF_MAX_RAW_BYTES: usize = 256 * 1024;
/// Largest parsed body (compact JSON) the test shelf keeps.
pub const SHELF_MAX_BODY_JSON: usize = 1024 * 1024;
/// Most bytes of JSON a workflow's test shelf keeps in all: past it, the oldest requests are
/// dropped (the newest is always kept; one is at most about 1.9 MiB: its parsed body, its raw
/// text, which quotes can double, and its headers). Listing or detecting
/// from a shelf never holds more than this in memory at once.
pub const SHELF_MAX_BYTES: usize = 4 * 1024 * 1024;

/// A run input longer than this (bytes of JSON) keeps its request body out of the run row, in
/// pieces: the platform caps a row at 2 MB, and the row also gets the steps' results. A shard
/// object stores an input up to this size as it is (and truncates only a longer one).
pub const INLINE_INPUT_MAX: usize = 800 * 1024;
/// Largest piece of a body kept out of the run row.
pub const PIECE_BYTES: usize = 1_000_000;
/// The key that replaces `request.body` in a run input whose body is kept in pieces.
pub const BODY_PIECES_KEY: &str = "body_pieces";

/// Cuts `text` into pieces of at most `max` bytes (at least one character each), at character
/// boundaries; concatenated they give `text` back. An empty text is one empty piece.
pub fn split_pieces(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    loop {
        if rest.len() <= max {
            if !rest.is_empty() || pieces.is_empty() {
                pieces.push(rest);
            }
            return pieces;
        }
        let mut cut = max.max(1);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (head, tail) = rest.split_at(cut);
        pieces.push(head);
        rest = tail;
    }
}

/// Moves a run input's `request.body` into pieces of at most [`PIECE_BYTES`] (its compact JSON,
/// cut by [`split_pieces`]), leaving [`BODY_PIECES_KEY`] with their count in its place. `None`
/// (and the input unchanged) when the input has no request body.
pub fn body_into_pieces(input: &mut Value) -> Option<Vec<String>> {
    let request = input.get_mut("request")?.as_object_mut()?;
    let body = request.remove("body")?.to_string();
    let pieces: Vec<String> = split_pieces(&body, PIECE_BYTES)
        .into_iter()
        .map(str::to_string)
        .collect();
    request.insert(BODY_PIECES_KEY.into(), Value::from(pieces.len()));
    Some(pieces)
}

/// A run input's JSON text as a shard object stores it (`value`: the same input parsed, when at
/// hand): a request body that makes it longer than [`INLINE_INPUT_MAX`] goes in pieces
/// ([`body_into_pieces`]). The text to store, and the pieces.
pub fn input_and_pieces(text: String, value: Option<Value>) -> (String, Vec<String>) {
    if text.len() > INLINE_INPUT_MAX {
        if let Some(mut value) = value.or_else(|| json_parse::from_str(&text).ok()) {
            if let Some(pieces) = body_into_pieces(&mut value) {
                return (value.to_string(), pieces);
            }
        }
    }
    (text, Vec::new())
}

/// Where a run's dedup key came from: the header a problem about it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupKey {
    /// Stored in `runs.dedup_key`: `idempotency:<key>` or `webhook:<sender's message id>`.
    pub key: String,
    /// `header.idempotency-key`, `header.webhook-id`, …
    pub location: String,
}

/// The run's dedup key, by precedence:
/// 1. the sender's message id when the signature covers it (`webhook-id`/`svix-id` under
///    Standard Webhooks, the event `id` of a Stripe body, the `event_id` of a Slack Events API
///    body: Slack signs each retry again with a new timestamp, the event id stays);
/// 2. when the signature covers no id (`github`, `hmac-sha256`, a Slack form, a Stripe body
///    without a string `id`): the SHA-256 of the signed bytes (the body, and Slack's signed
///    timestamp), so an exact replay of a captured request is an idempotent repeat. No unsigned
///    header (`Idempotency-Key`, `X-GitHub-Delivery`) overrides it: a replay with a fresh header
///    is still a repeat;
/// 3. the `Idempotency-Key` header (1 to 255 visible ASCII characters, else `Err` with a message
///    for `header.idempotency-key`);
/// 4. none: every request is its own run.
pub fn dedup_key(
    headers: &Map<String, Value>,
    verified: Option<&Verified>,
    raw_body: &[u8],
) -> Result<Option<DedupKey>, String> {
    if let Some(v) = verified {
        if let (Scheme::StandardWebhooks | Scheme::Stripe | Scheme::Slack, Some(id)) =
            (v.scheme, &v.message_id)
        {
            let location = match v.scheme {
                Scheme::Stripe => "body.id".to_string(),
                Scheme::Slack => "body.event_id".to_string(),
                _ if headers.contains_key("webhook-id") || !headers.contains_key("svix-id") => {
                    "header.webhook-id".to_string()
                }
                _ => "header.svix-id".to_string(),
            };
            return Ok(Some(DedupKey {
                key: format!("webhook:{id}"),
                location,
            }));
        }
        if let Some(key) = signed_content_key(v, raw_body) {
            return Ok(Some(key));
        }
    }
    if let Some(raw) = headers.get("idempotency-key").and_then(Value::as_str) {
        let key = check_idempotency_key(raw)?;
        return Ok(Some(DedupKey {
            key: format!("idempotency:{key}"),
            location: "header.idempotency-key".to_string(),
        }));
    }
    Ok(None)
}

/// `signed:<scheme>:<SHA-256 of the signed bytes>` for a request whose signature covers no
/// message id; `None` for Standard Webhooks, whose signature always covers one. Stripe's key is
/// of the body alone, like GitHub's: a Stripe retry is signed again with a new timestamp.
fn signed_content_key(v: &Verified, raw_body: &[u8]) -> Option<DedupKey> {
    let mut h = Sha256::new();
    let location = match v.scheme {
        Scheme::Github => "header.x-hub-signature-256",
        Scheme::Stripe => "header.stripe-signature",
        Scheme::HmacSha256 => "body",
        Scheme::Slack => {
            h.update(b"v0:");
            h.update(v.timestamp.unwrap_or_default().to_string().as_bytes());
            h.update(b":");
            "header.x-slack-signature"
        }
        Scheme::StandardWebhooks => return None,
    };
    h.update(raw_body);
    Some(DedupKey {
        key: format!(
            "signed:{}:{}",
            v.scheme.as_str(),
            crate::kernel::hex::encode(&h.finalize())
        ),
        location: location.to_string(),
    })
}

/// An `Idempotency-Key` value, trimmed: 1 to 255 visible ASCII characters (spaces inside allowed).
pub fn check_idempotency_key(raw: &str) -> Result<&str, String> {
    let key = raw.trim();
    if key.is_empty() {
        return Err("is empty; send a unique value per operation, e.g. a UUID".into());
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(format!(
            "is {} bytes long; at most {MAX_IDEMPOTENCY_KEY_LEN} are allowed",
            key.len()
        ));
    }
    if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("must be visible ASCII characters (a UUID, for example)".into());
    }
    Ok(key)
}

/// What an idempotency key promises stays the same: SHA-256 (hex) over the method, the path
/// with its query string, and the raw body.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path_and_query.as_bytes());
    h.update([0]);
    h.update(body);
    crate::kernel::hex::encode(&h.finalize())
}

/// What a Standard Webhooks message id promises stays the same: SHA-256 (hex) over the body,
/// marked apart from a request's [`fingerprint`].
pub fn message_fingerprint(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"message\0");
    h.update(body);
    crate::kernel::hex::encode(&h.finalize())
}

/// A reply to send again: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Reads the Response step's reply as the engine stores it in `runs.response`
/// (`{"status", "headers": {name: value}, "body": JSON value or string}`, `"text": true` when
/// the body was kept as the text sent). A body is sent as JSON when the stored `content-type`
/// says JSON and it was not kept as text, else a string body is sent as is. `None` when the
/// stored value is not of that shape.
pub fn stored_reply(stored: &Value) -> Option<StoredReply> {
    let status = stored.get("status")?.as_u64()?;
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (200..=599).contains(s))?;
    // A header kept redacted (a `set-cookie`, a value that held a secret, whole or in part:
    // `https://app/x?t=[redacted]`) is left out: sent so, it would replace the real one.
    let headers: Vec<(String, String)> = stored
        .get("headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .filter(|(_, v)| !v.contains(crate::kernel::redact::REDACTED))
                .collect()
        })
        .unwrap_or_default();
    let is_json = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && v.to_ascii_lowercase().contains("json")
    });
    // `text: true`: the body was kept as the text sent (it was not JSON).
    let as_text = !is_json || stored["text"] == true;
    let body = match stored.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if as_text => Some(s.clone()),
        Some(v) => Some(v.to_string()),
    };
    Some(StoredReply {
        status,
        headers,
        body,
    })
}

/// The sandbox a Response step's reply gets: the reply shares the dashboard's origin, so a page
/// built from request data runs in an opaque origin (no access to the dashboard's storage, no
/// password-manager autofill there).
pub const REPLY_SANDBOX: &str = "sandbox allow-scripts allow-forms allow-popups allow-downloads";

/// The `Content-Security-Policy` a Response step's reply is sent with, given the one the step
/// set (`None`: keep it as set). The sandbox is added as a policy of its own, which the browser
/// enforces next to the step's, unless one of the step's policies already has a `sandbox`
/// directive: that is how a step chooses its own sandbox, or none
/// (`sandbox allow-same-origin allow-scripts`). A policy without one (`frame-ancestors 'none'`,
/// or a template that rendered empty) does not lift it.
pub fn reply_policy(declared: Option<&str>) -> Option<String> {
    let declared = declared.map(str::trim).unwrap_or_default();
    if declared.is_empty() {
        return Some(REPLY_SANDBOX.to_string());
    }
    (!declares_sandbox(declared)).then(|| format!("{declared}, {REPLY_SANDBOX}"))
}

/// Whether a `Content-Security-Policy` value (one policy or several, comma-separated) has a
/// `sandbox` directive.
pub fn declares_sandbox(policy: &str) -> bool {
    sandbox_directives(policy) > 0
}

/// How many `sandbox` directives a `Content-Security-Policy` value has, in all its policies.
pub fn sandbox_directives(policy: &str) -> usize {
    policy
        .split(',')
        .flat_map(|policy| policy.split(';'))
        .filter(|directive| {
            directive
                .split_ascii_whitespace()
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("sandbox"))
        })
        .count()
}

/// The name of the step a run failed at: the last step record with status `failed`.
pub fn failed_step(steps_json: &str) -> Option<String> {
    let steps: Vec<Value> = json_parse::from_str(steps_json).ok()?;
    steps
        .iter()
        .rev()
        .find(|s| s["status"] == "failed")
        .and_then(|s| s["name"].as_str())
        .map(str::to_string)
}

pub use crate::kernel::redact::looks_like_secret;

/// Headers or query parameters as the test shelf keeps them: values under credential names
/// (see `redact::is_sensitive_key`) and values that look like credentials become `[redacted]`.
pub fn redact_for_shelf(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(k, v)| {
            let secret = is_sensitive_key(k)
                || match v {
                    Value::String(s) => looks_like_secret(s),
                    Value::Array(items) => items
                        .iter()
                        .any(|i| i.as_str().is_some_and(looks_like_secret)),
                    _ => false,
                };
            let kept = if secret {
                Value::String(REDACTED.to_string())
            } else {
                v.clone()
            };
            (k.clone(), kept)
        })
        .collect()
}

/// The raw body as the shelf keeps it: `(text, encoding, truncated)`: UTF-8 text when it is
/// text, else base64; at most `cap` bytes of the body (cut at a character boundary). Text that
/// JSON would write larger than its base64 (control characters take six bytes each) is kept
/// as base64 too, so the stored record stays within its budget.
pub fn raw_body_record(raw: &[u8], cap: usize) -> (String, &'static str, bool) {
    let (text, encoding, truncated) = raw_body_as_text(raw, cap);
    if encoding == "utf-8" && json_string_len(&text) > text.len().div_ceil(3) * 4 {
        return (
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            "base64",
            truncated,
        );
    }
    (text, encoding, truncated)
}

/// The bytes `text` takes with its control characters as JSON writes them (`\n`, `\u0001`).
/// Quotes and backslashes, which JSON doubles too, are not counted: text quoting JSON stays
/// text, and it grows at most twofold.
fn json_string_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// [`raw_body_record`] before the choice by size: text whenever the kept bytes are UTF-8.
fn raw_body_as_text(raw: &[u8], cap: usize) -> (String, &'static str, bool) {
    let truncated = raw.len() > cap;
    match std::str::from_utf8(raw) {
        Ok(text) => (
            prefix_at_char_boundary(text, cap).to_string(),
            "utf-8",
            truncated,
        ),
        // A body cut mid-character is not UTF-8 either: only look at what is kept.
        Err(e) if truncated && e.valid_up_to() >= cap.saturating_sub(3) => {
            let text = std::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or_default();
            (
                prefix_at_char_boundary(text, cap).to_string(),
                "utf-8",
                truncated,
            )
        }
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len().min(cap)]),
            "base64",
            truncated,
        ),
    }
}

#[cfg(test)]
mod tests;
