//! Keeping credentials and oversized payloads out of stored run records.
//!
//! Two independent mechanisms, both applied before a run's input or a step's output is stored:
//! - **by key**: a value stored under a key that names a credential (`authorization`, `cookie`,
//!   `x-api-key`, `client_secret`, `access_token`, …) is replaced by `"[redacted]"`;
//! - **by value**: any string that contains a secret value used during the run (a Worker secret
//!   read through `{{secrets.NAME}}`, an OAuth access token, …) has that value cut out.
//!
//! `truncate_output` then bounds the size of what is stored.

use serde_json::{json, Value};

/// What a redacted value is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Secret values shorter than this are not scrubbed from strings: replacing every `"a"` or `"on"`
/// in a run record would destroy it and hide nothing worth hiding.
pub const MIN_SECRET_LEN: usize = 4;

/// Default cap on the stored size of one step's output (compact JSON bytes).
///
/// 32 KiB: a run row in D1 holds the trigger input plus every step's output, and a D1 row/value is
/// limited to about 2 MB. With `steps::MAX_STEPS` (25) outputs of at most 32 KiB each that is
/// ≤ 800 KiB, which leaves room for a request body of up to 1 MiB (the endpoint's body cap).
pub const OUTPUT_CAP_BYTES: usize = 32 * 1024;

/// Largest preview kept from a truncated output, in bytes (before JSON escaping).
pub const PREVIEW_MAX_BYTES: usize = 2 * 1024;

/// Key names that are credentials whatever they hold (compared lower-case).
const EXACT_KEYS: [&str; 4] = [
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// Substrings that make a key a credential, whatever its value's type.
const CONTAINED_KEYS: [&str; 10] = [
    "secret",
    "password",
    "passwd",
    "api-key",
    "api_key",
    "apikey",
    "private-key",
    "private_key",
    "privatekey",
    "credential",
];

/// Whether a key (header name, JSON field, query parameter) names a credential:
/// `authorization`, `cookie`, `set-cookie`, `proxy-authorization` exactly, or anything containing
/// `token`, `secret`, `password`, `api-key`/`api_key`/`apikey` (case-insensitive).
pub fn is_sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    EXACT_KEYS.contains(&k.as_str())
        || k.contains("token")
        || CONTAINED_KEYS.iter().any(|needle| k.contains(needle))
}

/// Replaces credentials in `value`, recursively:
/// - under a sensitive key (see [`is_sensitive_key`]) the value becomes `"[redacted]"`. Two
///   exceptions keep records useful without revealing anything: `null` and booleans are kept
///   (`"password_set": true`), and under keys that match only because they contain `token`,
///   numbers are kept too (`"total_tokens": 42`, `"token_expires_in": 3600`);
/// - in every other string, each occurrence of one of `secret_values` (ignoring values shorter
///   than [`MIN_SECRET_LEN`]) becomes `[redacted]`.
///
/// Object keys themselves are left as they are.
pub fn redact(value: &mut Value, secret_values: &[String]) {
    let secrets = usable_secrets(secret_values);
    redact_inner(value, &secrets);
}

fn redact_inner(value: &mut Value, secrets: &[&str]) {
    match value {
        Value::String(s) => {
            if let Some(scrubbed) = scrub_with(s, secrets) {
                *s = scrubbed;
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_inner(item, secrets);
            }
        }
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_sensitive_key(key) && must_hide(key, v) {
                    *v = Value::String(REDACTED.to_string());
                } else {
                    redact_inner(v, secrets);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether the value under a sensitive key must be hidden (see [`redact`] for the exceptions).
fn must_hide(key: &str, v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => false,
        Value::Number(_) => {
            let k = key.to_ascii_lowercase();
            EXACT_KEYS.contains(&k.as_str()) || CONTAINED_KEYS.iter().any(|n| k.contains(n))
        }
        _ => true,
    }
}

/// `s` with every occurrence of a secret value (of at least [`MIN_SECRET_LEN`] bytes) replaced by
/// `[redacted]`; the longest secret wins where two overlap.
pub fn scrub_secrets(s: &str, secret_values: &[String]) -> String {
    let secrets = usable_secrets(secret_values);
    scrub_with(s, &secrets).unwrap_or_else(|| s.to_string())
}

/// Secrets long enough to scrub, longest first, without duplicates.
fn usable_secrets(secret_values: &[String]) -> Vec<&str> {
    let mut secrets: Vec<&str> = secret_values
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    secrets.dedup();
    secrets
}

/// One left-to-right pass so a replacement is never matched again. `None` when nothing matched.
fn scrub_with(s: &str, secrets: &[&str]) -> Option<String> {
    if secrets.is_empty() || !secrets.iter().any(|secret| s.contains(secret)) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(secret) = secrets.iter().find(|secret| rest.starts_with(**secret)) {
            out.push_str(REDACTED);
            rest = rest.get(secret.len()..).unwrap_or("");
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
    }
    Some(out)
}

/// A URL fit for a run record: the values of query parameters with sensitive names
/// (`?access_token=…`, `?api_key=…`) and any `user:password@` part are redacted, then secret
/// values are scrubbed. Works on the text; it does not need the URL to be valid.
pub fn redact_url(url: &str, secret_values: &[String]) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let (base, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
        None => (before_fragment, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_sensitive_key(&decode_lossy(name)) => {
                    format!("{name}={REDACTED}")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out.push_str(fragment);
    scrub_secrets(&out, secret_values)
}

/// `https://user:pass@host/…` → `https://user:[redacted]@host/…`.
fn redact_userinfo(base: &str) -> String {
    let Some(scheme_end) = base.find("://") else {
        return base.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &base[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let password = if userinfo.contains(':') {
                format!(":{REDACTED}")
            } else {
                String::new()
            };
            format!(
                "{}{user}{password}{}{}",
                &base[..authority_start],
                &authority[at..],
                &rest[authority_end..]
            )
        }
        None => base.to_string(),
    }
}

/// Percent-decodes a query parameter name well enough to recognise it (`api%5Fkey`).
fn decode_lossy(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Keeps `value` when its compact JSON is at most `cap_bytes`; otherwise replaces it by
/// `{"truncated": true, "size": N, "preview": "…"}` where `N` is the full size in bytes and the
/// preview is the start of the value (of the string itself when it is a string, else of its
/// compact JSON), cut at a character boundary to at most `min(PREVIEW_MAX_BYTES, cap_bytes / 8)`
/// bytes — small enough that even a fully escaped preview keeps the replacement under the cap
/// (for caps of 512 bytes and more).
pub fn truncate_output(value: Value, cap_bytes: usize) -> Value {
    let serialized = match serde_json::to_string(&value) {
        Ok(s) => s,
        Err(_) => return json!({ "truncated": true, "size": 0, "preview": "" }),
    };
    if serialized.len() <= cap_bytes {
        return value;
    }
    let preview_limit = PREVIEW_MAX_BYTES.min(cap_bytes / 8);
    let source = match &value {
        Value::String(s) => s.as_str(),
        _ => serialized.as_str(),
    };
    json!({
        "truncated": true,
        "size": serialized.len(),
        "preview": prefix_at_char_boundary(source, preview_limit),
    })
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a character boundary.
pub fn prefix_at_char_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sensitive_keys() {
        for key in [
            "Authorization",
            "COOKIE",
            "set-cookie",
            "Proxy-Authorization",
            "access_token",
            "refreshToken",
            "client_secret",
            "Password",
            "x-api-key",
            "api_key",
            "ApiKey",
        ] {
            assert!(is_sensitive_key(key), "{key} should be sensitive");
        }
        for key in [
            "email",
            "authorized",
            "cookies_accepted_at",
            "content-type",
            "id",
        ] {
            assert!(!is_sensitive_key(key), "{key} should not be sensitive");
        }
    }

    #[test]
    fn redacts_by_key_recursively() {
        let mut v = json!({
            "headers": {"Authorization": "Bearer abc", "Content-Type": "application/json",
                        "Set-Cookie": ["a=1", "b=2"]},
            "body": {"user": {"password": "hunter22", "name": "ann"},
                     "items": [{"api_key": "k1", "sku": "x"}],
                     "credentials": {"user": "u", "pass": "p"}},
            "usage": {"total_tokens": 42, "access_token": 12345},
            "flags": {"password_set": true, "secret": null, "api_key": 99}
        });
        redact(&mut v, &[]);
        assert_eq!(
            v,
            json!({
                "headers": {"Authorization": "[redacted]", "Content-Type": "application/json",
                            "Set-Cookie": "[redacted]"},
                "body": {"user": {"password": "[redacted]", "name": "ann"},
                         "items": [{"api_key": "[redacted]", "sku": "x"}],
                         "credentials": "[redacted]"},
                "usage": {"total_tokens": 42, "access_token": 12345},
                "flags": {"password_set": true, "secret": null, "api_key": "[redacted]"}
            })
        );
    }

    #[test]
    fn scrubs_secret_values_in_any_string() {
        let mut v = json!({
            "url": "https://api.example.com/?key=sk_live_123456",
            "list": ["prefix sk_live_123456 suffix", "nothing here"],
            "short": "abc is too short to scrub",
            "n": 5
        });
        redact(&mut v, &secrets(&["sk_live_123456", "abc", ""]));
        assert_eq!(
            v,
            json!({
                "url": "https://api.example.com/?key=[redacted]",
                "list": ["prefix [redacted] suffix", "nothing here"],
                "short": "abc is too short to scrub",
                "n": 5
            })
        );
    }

    #[test]
    fn longest_secret_wins_and_replacements_are_not_rescanned() {
        let s = scrub_secrets("x-abcdefgh-y", &secrets(&["abcd", "abcdefgh", "dact"]));
        assert_eq!(s, "x-[redacted]-y");
        let s = scrub_secrets("é😀secret😀é", &secrets(&["secret"]));
        assert_eq!(s, "é😀[redacted]😀é");
    }

    #[test]
    fn redacts_urls() {
        assert_eq!(
            redact_url(
                "https://u:pw@api.example.com/v1?access_token=abc&page=2&api%5Fkey=z#frag",
                &[]
            ),
            "https://u:[redacted]@api.example.com/v1?access_token=[redacted]&page=2&api%5Fkey=[redacted]#frag"
        );
        assert_eq!(
            redact_url(
                "https://example.com/hooks/SECRETPATH",
                &secrets(&["SECRETPATH"])
            ),
            "https://example.com/hooks/[redacted]"
        );
        assert_eq!(redact_url("not a url %", &[]), "not a url %");
    }

    #[test]
    fn truncate_keeps_small_values() {
        let v = json!({"a": [1, 2, 3]});
        assert_eq!(truncate_output(v.clone(), 1024), v);
        // exactly at the cap is kept
        let s = Value::String("x".repeat(8));
        assert_eq!(truncate_output(s.clone(), 10), s);
    }

    #[test]
    fn truncate_replaces_large_values_at_char_boundaries() {
        // 3-byte characters: a cut at 128 bytes would fall inside one
        let text = "€".repeat(1000);
        let out = truncate_output(Value::String(text.clone()), 1024);
        assert_eq!(out["truncated"], json!(true));
        assert_eq!(out["size"], json!(3002));
        let preview = out["preview"].as_str().unwrap_or_default();
        assert_eq!(preview, "€".repeat(42)); // 126 bytes ≤ 1024 / 8
        assert!(serde_json::to_string(&out).unwrap_or_default().len() <= 1024);

        let big = json!({"rows": vec!["\u{0001}😀"; 5000]});
        let out = truncate_output(big, OUTPUT_CAP_BYTES);
        assert_eq!(out["truncated"], json!(true));
        let preview = out["preview"].as_str().unwrap_or_default();
        assert!(preview.starts_with("{\"rows\":[\""));
        assert!(preview.len() <= PREVIEW_MAX_BYTES);
        assert!(serde_json::to_string(&out).unwrap_or_default().len() <= OUTPUT_CAP_BYTES);
    }

    proptest::proptest! {
        #[test]
        fn truncated_output_fits_the_cap(s in "\\PC{0,3000}", cap in 512usize..4096) {
            let out = truncate_output(Value::String(s), cap);
            let len = serde_json::to_string(&out).unwrap_or_default().len();
            proptest::prop_assert!(len <= cap, "{} > {}", len, cap);
        }

        #[test]
        fn scrubbing_removes_every_secret(a in "\\PC{0,20}", b in "\\PC{0,20}", secret in "[0-9A-Z]{4,12}") {
            let s = format!("{a}{secret}{b}");
            let out = scrub_secrets(&s, std::slice::from_ref(&secret));
            proptest::prop_assert!(!out.contains(&secret));
        }
    }

    #[test]
    fn prefix_never_splits_a_character() {
        let s = "a😀b";
        assert_eq!(prefix_at_char_boundary(s, 0), "");
        assert_eq!(prefix_at_char_boundary(s, 1), "a");
        assert_eq!(prefix_at_char_boundary(s, 2), "a");
        assert_eq!(prefix_at_char_boundary(s, 4), "a");
        assert_eq!(prefix_at_char_boundary(s, 5), "a😀");
        assert_eq!(prefix_at_char_boundary(s, 99), s);
    }
}
