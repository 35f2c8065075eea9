//! Pure helpers of the endpoint trigger's runtime shell (`api::hooks`, `api::test_shelf`):
//! the run's dedup key, the request fingerprint behind idempotent repeats, replaying a stored
//! Response-step reply, naming the step a run failed at, and what the test shelf keeps of a
//! request (redacted headers, the raw body).

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

/// A run input longer than this (bytes of JSON) keeps its request body out of the run row, in
/// pieces: Cloudflare D1 caps a row at 2 MB, and the row also gets the steps' results.
pub const INLINE_INPUT_MAX: usize = 1_000_000;
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
///    Standard Webhooks, the event `id` of a Stripe body);
/// 2. the `Idempotency-Key` header (1 to 255 visible ASCII characters, else `Err` with a message
///    for `header.idempotency-key`);
/// 3. GitHub's `X-GitHub-Delivery` (stable across GitHub's redeliveries);
/// 4. none: every request is its own run.
pub fn dedup_key(
    headers: &Map<String, Value>,
    verified: Option<&Verified>,
) -> Result<Option<DedupKey>, String> {
    if let Some(v) = verified {
        if let (Scheme::StandardWebhooks | Scheme::Stripe, Some(id)) = (v.scheme, &v.message_id) {
            let location = match v.scheme {
                Scheme::Stripe => "body.id".to_string(),
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
    }
    if let Some(raw) = headers.get("idempotency-key").and_then(Value::as_str) {
        let key = check_idempotency_key(raw)?;
        return Ok(Some(DedupKey {
            key: format!("idempotency:{key}"),
            location: "header.idempotency-key".to_string(),
        }));
    }
    if let Some(v) = verified {
        if let (Scheme::Github, Some(id)) = (v.scheme, &v.message_id) {
            return Ok(Some(DedupKey {
                key: format!("webhook:{id}"),
                location: "header.x-github-delivery".to_string(),
            }));
        }
    }
    Ok(None)
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
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// A reply to send again: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Reads the Response step's reply as the engine stores it in `runs.response`
/// (`{"status", "headers": {name: value}, "body": JSON value or string}`). A body is sent as
/// JSON when the stored `content-type` says JSON, else a string body is sent as is. `None` when
/// the stored value is not of that shape.
pub fn stored_reply(stored: &Value) -> Option<StoredReply> {
    let status = stored.get("status")?.as_u64()?;
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (200..=599).contains(s))?;
    let headers: Vec<(String, String)> = stored
        .get("headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let is_json = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && v.to_ascii_lowercase().contains("json")
    });
    let body = match stored.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !is_json => Some(s.clone()),
        Some(v) => Some(v.to_string()),
    };
    Some(StoredReply {
        status,
        headers,
        body,
    })
}

/// The name of the step a run failed at: the last step record with status `failed`.
pub fn failed_step(steps_json: &str) -> Option<String> {
    let steps: Vec<Value> = serde_json::from_str(steps_json).ok()?;
    steps
        .iter()
        .rev()
        .find(|s| s["status"] == "failed")
        .and_then(|s| s["name"].as_str())
        .map(str::to_string)
}

/// Whether a header or query value looks like a credential whatever its name: an HTTP
/// authentication scheme (`Bearer …`, `Basic …`), a JWT, or a well-known token prefix
/// (Stripe, GitHub, Slack, AWS, Standard Webhooks secrets).
pub fn looks_like_secret(value: &str) -> bool {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    const SCHEMES: [&str; 5] = ["bearer ", "basic ", "token ", "digest ", "negotiate "];
    const PREFIXES: [&str; 14] = [
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
        "whsec_",
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "akia",
    ];
    if SCHEMES.iter().any(|s| lower.starts_with(s)) {
        return true;
    }
    if PREFIXES.iter().any(|p| lower.starts_with(p)) && v.len() >= 12 {
        return true;
    }
    // A JWT: three base64url parts, the first a JSON object (`eyJ`).
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && v.starts_with("eyJ")
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

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
/// text, else base64; at most `cap` bytes of the body (cut at a character boundary).
pub fn raw_body_record(raw: &[u8], cap: usize) -> (String, &'static str, bool) {
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
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn verified(scheme: Scheme, id: Option<&str>) -> Verified {
        Verified {
            scheme,
            message_id: id.map(str::to_string),
            timestamp: None,
            secret_index: 0,
        }
    }

    #[test]
    fn dedup_key_precedence() {
        let h = headers(json!({"idempotency-key": " k1 ", "webhook-id": "msg_1"}));
        assert_eq!(dedup_key(&h, None).unwrap().unwrap().key, "idempotency:k1");
        let sw = verified(Scheme::StandardWebhooks, Some("msg_1"));
        assert_eq!(
            dedup_key(&h, Some(&sw)).unwrap(),
            Some(DedupKey {
                key: "webhook:msg_1".into(),
                location: "header.webhook-id".into()
            })
        );
        let svix = headers(json!({"svix-id": "msg_2"}));
        let sv = verified(Scheme::StandardWebhooks, Some("msg_2"));
        assert_eq!(
            dedup_key(&svix, Some(&sv)).unwrap().unwrap().location,
            "header.svix-id"
        );
        let st = verified(Scheme::Stripe, Some("evt_1"));
        assert_eq!(
            dedup_key(&h, Some(&st)).unwrap().unwrap().key,
            "webhook:evt_1"
        );
        // GitHub's delivery id is not signed: an explicit Idempotency-Key wins.
        let gh = verified(Scheme::Github, Some("d-1"));
        assert_eq!(
            dedup_key(&h, Some(&gh)).unwrap().unwrap().key,
            "idempotency:k1"
        );
        assert_eq!(
            dedup_key(&Map::new(), Some(&gh)).unwrap().unwrap().key,
            "webhook:d-1"
        );
        assert_eq!(
            dedup_key(&Map::new(), Some(&verified(Scheme::Slack, None))).unwrap(),
            None
        );
        assert_eq!(dedup_key(&Map::new(), None).unwrap(), None);
    }

    #[test]
    fn idempotency_key_rules() {
        assert_eq!(check_idempotency_key(" a b "), Ok("a b"));
        assert!(check_idempotency_key("  ").is_err());
        assert!(check_idempotency_key(&"x".repeat(256)).is_err());
        assert!(check_idempotency_key(&"x".repeat(255)).is_ok());
        assert!(check_idempotency_key("é").is_err());
        let h = headers(json!({"idempotency-key": ""}));
        assert!(dedup_key(&h, None).is_err());
    }

    #[test]
    fn fingerprints_differ_by_part() {
        let a = fingerprint("POST", "/hooks/x?a=1", b"{}");
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint("POST", "/hooks/x?a=1", b"{}"));
        assert_ne!(a, fingerprint("PUT", "/hooks/x?a=1", b"{}"));
        assert_ne!(a, fingerprint("POST", "/hooks/x?a=2", b"{}"));
        assert_ne!(a, fingerprint("POST", "/hooks/x?a=1", b"{ }"));
        // The separators keep parts from running into each other.
        assert_ne!(
            fingerprint("POST", "/a", b"b"),
            fingerprint("POST", "/ab", b"")
        );
    }

    #[test]
    fn stored_replies() {
        let r = stored_reply(&json!({"status": 201, "headers": {"content-type": "application/json", "x-a": "1"}, "body": {"ok": true}})).unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.body.as_deref(), Some(r#"{"ok":true}"#));
        assert_eq!(r.headers.len(), 2);
        let r = stored_reply(&json!({"status": 200, "headers": {"content-type": "text/plain; charset=utf-8"}, "body": "hi"})).unwrap();
        assert_eq!(r.body.as_deref(), Some("hi"));
        let r = stored_reply(
            &json!({"status": 200, "headers": {"content-type": "application/json"}, "body": "hi"}),
        )
        .unwrap();
        assert_eq!(r.body.as_deref(), Some("\"hi\""));
        let r = stored_reply(&json!({"status": 204, "headers": {}, "body": null})).unwrap();
        assert_eq!(r.body, None);
        assert_eq!(stored_reply(&json!({"status": 99})), None);
        assert_eq!(stored_reply(&json!("x")), None);
    }

    #[test]
    fn failed_step_is_the_last_failure() {
        let steps =
            json!([{"name": "a", "status": "succeeded"}, {"name": "b", "status": "failed"}]);
        assert_eq!(failed_step(&steps.to_string()).as_deref(), Some("b"));
        assert_eq!(failed_step("[]"), None);
        assert_eq!(failed_step("nope"), None);
    }

    #[test]
    fn secret_looking_values() {
        for s in [
            "Bearer abc",
            "basic dXNlcjpwdw==",
            "sk_live_0123456789",
            "ghp_0123456789abcdef",
            "xoxb-1234-5678-abcd",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature",
        ] {
            assert!(looks_like_secret(s), "{s}");
        }
        for s in ["application/json", "hello", "1.2.3", "sk_", "eyJ.x"] {
            assert!(!looks_like_secret(s), "{s}");
        }
        let m = redact_for_shelf(&headers(json!({
            "authorization": "x", "x-api-key": "k", "x-custom": "Bearer t", "x-list": ["a", "ghp_0123456789abcdef"],
            "content-type": "application/json", "x-count": "3"
        })));
        assert_eq!(
            Value::Object(m),
            json!({"authorization": REDACTED, "x-api-key": REDACTED, "x-custom": REDACTED, "x-list": REDACTED,
                   "content-type": "application/json", "x-count": "3"})
        );
    }

    #[test]
    fn pieces_rejoin_at_char_boundaries() {
        assert_eq!(split_pieces("", 3), [""]);
        assert_eq!(split_pieces("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(split_pieces("abc", 3), ["abc"]);
        let text = "aé€😀".repeat(50);
        for max in 1..12 {
            let pieces = split_pieces(&text, max);
            assert_eq!(pieces.concat(), text, "{max}");
            assert!(pieces.iter().all(|p| !p.is_empty()));
            assert!(pieces.iter().all(|p| p.len() <= max.max(4)), "{max}");
        }
    }

    #[test]
    fn raw_bodies() {
        assert_eq!(
            raw_body_record(b"hello", 10),
            ("hello".to_string(), "utf-8", false)
        );
        assert_eq!(
            raw_body_record(b"hello", 3),
            ("hel".to_string(), "utf-8", true)
        );
        assert_eq!(
            raw_body_record(&[0xff, 0x00, 0x01], 10),
            ("/wAB".to_string(), "base64", false)
        );
        // Cut inside a multi-byte character: still text, cut before it.
        let text = "aé".repeat(4);
        let (kept, enc, cut) = raw_body_record(text.as_bytes(), 5);
        assert_eq!((kept.as_str(), enc, cut), ("aéa", "utf-8", true));
        let (kept, enc, cut) = raw_body_record(&[0xff; 10], 4);
        assert_eq!((kept.as_str(), enc, cut), ("/////w==", "base64", true));
    }
}
