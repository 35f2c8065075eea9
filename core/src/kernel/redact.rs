//! Keeping credentials and oversized payloads out of stored run records.
//!
//! Two independent mechanisms, both applied before a run's input or a step's output is stored:
//! - **by key**: a value stored under a key that names a credential (`authorization`, `cookie`,
//!   `x-api-key`, `client_secret`, `access_token`, …) is replaced by `"[redacted]"`;
//! - **by value**: any string that contains a secret value used during the run (a Worker secret
//!   read through `{{secrets.NAME}}`, an OAuth access token, …) has that value cut out.
//!
//! `truncate_output` then bounds the size of what is stored.

use crate::kernel::json_parse;
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
pub const EXACT_KEYS: [&str; 4] = [
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// Substrings that make a key a credential, whatever its value's type.
pub const CONTAINED_KEYS: [&str; 10] = [
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
        || contains_short(&k, "token")
        || CONTAINED_KEYS
            .iter()
            .any(|needle| contains_short(&k, needle))
}

/// Whether `needle` occurs in `haystack`, both short: a plain window scan, which for a key of a
/// few dozen bytes costs less than setting up `str::contains`'s searcher for every needle.
fn contains_short(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && h.windows(n.len()).any(|w| w == n)
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
    redact_inner(value, &secrets, true);
}

/// Only the second half of [`redact`]: each occurrence of one of `secret_values` in the strings
/// of `value` becomes `[redacted]`; what sensitive keys hold is kept.
pub fn scrub_strings(value: &mut Value, secret_values: &[String]) {
    let secrets = usable_secrets(secret_values);
    redact_inner(value, &secrets, false);
}

fn redact_inner(value: &mut Value, secrets: &[&str], by_key: bool) {
    match value {
        Value::String(s) => {
            if let Some(scrubbed) = scrub_with(s, secrets) {
                *s = scrubbed;
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_inner(item, secrets, by_key);
            }
        }
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if by_key && is_sensitive_key(key) && must_hide(key, v) {
                    *v = Value::String(REDACTED.to_string());
                } else {
                    redact_inner(v, secrets, by_key);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether the value under a sensitive key must be hidden (see [`redact`] for the exceptions).
pub fn must_hide(key: &str, v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => false,
        Value::Number(_) => {
            let k = key.to_ascii_lowercase();
            EXACT_KEYS.contains(&k.as_str()) || CONTAINED_KEYS.iter().any(|n| k.contains(n))
        }
        _ => true,
    }
}

/// Replaces every string that looks like a credential whatever its key (see
/// [`looks_like_secret`]) by `"[redacted]"`, recursively.
pub fn redact_credential_values(value: &mut Value) {
    match value {
        Value::String(s) if looks_like_secret(s) => *s = REDACTED.to_string(),
        Value::Array(items) => items.iter_mut().for_each(redact_credential_values),
        Value::Object(map) => map.values_mut().for_each(redact_credential_values),
        _ => {}
    }
}

/// Whether a Worker secret's value is hidden from every step of a run and looked for in every
/// request it sends, not only in the step that reads it: a value that can be a key (8 bytes or
/// more, with letters and digits, or 20 bytes or more). A var read with `{{secrets.NAME}}` that
/// holds a word or a number (`production`, `1000`) would otherwise hide ordinary data and hold
/// ordinary calls to a literal host.
pub fn hidden_in_every_step(value: &str) -> bool {
    let v = value.trim();
    let has = |f: fn(&u8) -> bool| v.as_bytes().iter().any(f);
    v.len() >= 20 || (v.len() >= 8 && has(u8::is_ascii_digit) && has(u8::is_ascii_alphabetic))
}

/// Whether a header or query value looks like a credential whatever its name: an HTTP
/// authentication scheme (`Bearer …`, `Basic …`), a JWT, or a well-known token prefix
/// (Stripe, GitHub, Slack, AWS, Standard Webhooks secrets).
pub fn looks_like_secret(value: &str) -> bool {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    const SCHEMES: [&str; 5] = ["bearer ", "basic ", "token ", "digest ", "negotiate "];
    const PREFIXES: [&str; 13] = [
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
    ];
    // A scheme and its credential (`Bearer abc123`); a sentence that begins with the word
    // (`Token expired, sign in again`) is no credential. Digest's credential is a list of
    // `name=value` pairs (`Digest username="a", response="…"`), not a phrase (`Digest of …`).
    if let Some(scheme) = SCHEMES.iter().find(|s| lower.starts_with(*s)) {
        let credential = v[scheme.len()..].trim();
        // A template's placeholder (`Bearer {{ steps.login.body.session }}`) is one credential,
        // whatever spaces it is written with.
        return !credential.is_empty()
            && (credential.contains("{{")
                || (*scheme == "digest " && credential.contains('='))
                || !credential.contains(char::is_whitespace));
    }
    if PREFIXES.iter().any(|p| lower.starts_with(p)) && v.len() >= 12 {
        return true;
    }
    // An AWS access key id: `AKIA` and 16 capitals or digits (not any word that starts so).
    if v.len() == 20
        && v.starts_with("AKIA")
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return true;
    }
    // A JWT: three base64url parts, the first a JSON object (`eyJ`).
    if !v.starts_with("eyJ") {
        return false;
    }
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// `s` with every occurrence of a secret value (of at least [`MIN_SECRET_LEN`] bytes) replaced by
/// `[redacted]`; the longest secret wins where two overlap.
pub fn scrub_secrets(s: &str, secret_values: &[String]) -> String {
    let secrets = usable_secrets(secret_values);
    scrub_with(s, &secrets).unwrap_or_else(|| s.to_string())
}

/// A text kept as sent (a reply body that is not JSON to its reader), with nothing kept that a
/// JSON value would have hidden: text that reads as JSON is redacted as JSON (by key and by
/// value) and, when that hid something, kept as the redacted JSON's text; secret values are
/// scrubbed as written and as JSON writes them (escaped).
pub fn redact_text(text: &str, secret_values: &[String]) -> String {
    if let Some(mut v) = json_parse::within_budget::<Value>(text) {
        let before = v.clone();
        redact(&mut v, secret_values);
        if v != before {
            return v.to_string();
        }
    }
    let escaped = secret_values
        .iter()
        .filter_map(|s| serde_json::to_string(s).ok())
        .map(|q| q[1..q.len() - 1].to_string());
    let both: Vec<String> = secret_values.iter().cloned().chain(escaped).collect();
    scrub_secrets(text, &both)
}

/// What a record shows instead of `text` when it is one JSON document with more values, or
/// deeper ones, than are parsed ([`super::json_budget`]): what it would hide by name could not
/// be found. `None` for any other text (checked without building its values).
pub fn not_shown(text: &str) -> Option<String> {
    super::json_budget::check(text.as_bytes()).err()?;
    serde_json::from_slice::<serde::de::IgnoredAny>(text.as_bytes()).ok()?;
    Some(format!(
        "[not shown: {} bytes of JSON, more values or depth than a record reads]",
        text.len()
    ))
}

/// A text answer fit for a run record (an `http` step's body that is not read as JSON: sent as
/// `text/plain`, form-encoded, too deep): read as JSON when it parses (credential names and
/// credential-looking values hidden, as a JSON answer's are), else as a form when it reads as
/// one (`access_token=…&scope=…`: the values of credential-named pairs hidden), with the
/// secrets a step used scrubbed either way. JSON too large to parse is [`not_shown`].
pub fn redact_answer_text(text: &str, secret_values: &[String]) -> String {
    if let Some(note) = not_shown(text) {
        return note;
    }
    if let Ok(mut v) = json_parse::from_str::<Value>(text) {
        if v.is_object() || v.is_array() {
            let before = v.clone();
            redact(&mut v, secret_values);
            redact_credential_values(&mut v);
            if v != before {
                return v.to_string();
            }
        }
    }
    let form = text.trim();
    let looks_like_form = !form.is_empty()
        && !form.contains(char::is_whitespace)
        && form.split('&').all(|pair| pair.contains('='));
    if looks_like_form {
        let hidden = hide_credential_pairs(form);
        if hidden != form {
            return redact_text(&hidden, secret_values);
        }
    }
    redact_text(text, secret_values)
}

/// Whether any of the values a rendering used is a credential: not one already redacted (a
/// stored input's `[redacted]`), and long enough to be one.
pub fn carries_credentials(used: &[String]) -> bool {
    used.iter()
        .any(|s| s != REDACTED && s.len() >= MIN_SECRET_LEN)
}

/// Secrets long enough to scrub, in byte order, without duplicates (the list may repeat one:
/// a rendering notes each value it reads, without checking the list for it).
fn usable_secrets(secret_values: &[String]) -> Vec<&str> {
    let mut secrets: Vec<&str> = secret_values
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    // A total order (so unstable is the same): the values come from a request's data, and
    // their count is the sender's.
    secrets.sort_unstable();
    secrets.dedup();
    secrets
}

/// Past this many secrets, [`scrub_with`] looks each position up in them sorted instead of
/// trying each one there.
const SCRUB_LOOKUP_FROM: usize = 16;

/// One left-to-right pass so a replacement is never matched again, the longest secret first
/// where several start. `secrets`: in byte order ([`usable_secrets`]). `None` when nothing
/// matched.
fn scrub_with(s: &str, secrets: &[&str]) -> Option<String> {
    if secrets.len() > SCRUB_LOOKUP_FROM {
        return scrub_sorted(s, secrets);
    }
    if secrets.is_empty() || !secrets.iter().any(|secret| s.contains(secret)) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let longest = secrets
            .iter()
            .filter(|secret| rest.starts_with(**secret))
            .max_by_key(|secret| secret.len());
        if let Some(secret) = longest {
            out.push_str(REDACTED);
            rest = rest.get(secret.len()..).unwrap_or("");
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
    }
    Some(out)
}

/// [`scrub_with`] for many secrets: at each position the longest secret that starts there is
/// found by binary search over them in byte order, so the cost grows with the text's length
/// and the logarithm of the secrets' count, not their product.
fn scrub_sorted(s: &str, sorted: &[&str]) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match longest_secret_at(sorted, &bytes[i..]) {
            Some(len) if s.is_char_boundary(i + len) => {
                out.push_str(&s[copied..i]);
                out.push_str(REDACTED);
                i += len;
                copied = i;
            }
            _ => {
                i += 1;
                while i < bytes.len() && !s.is_char_boundary(i) {
                    i += 1;
                }
            }
        }
    }
    if copied == 0 && out.is_empty() {
        return None;
    }
    out.push_str(&s[copied..]);
    Some(out)
}

/// The length of the longest of `sorted` (in byte order) that `text` starts with. Every secret
/// `text` starts with sorts at or before `text`, and between any such secret and `text` only
/// values that start with it sort: so the greatest value not after `text` is the answer, or
/// else the answer starts both, and the search goes on within their common prefix.
fn longest_secret_at(sorted: &[&str], text: &[u8]) -> Option<usize> {
    let mut hay = text;
    loop {
        let at = sorted.partition_point(|x| x.as_bytes() <= hay);
        let candidate = sorted.get(at.checked_sub(1)?)?.as_bytes();
        if hay.starts_with(candidate) {
            return Some(candidate.len());
        }
        let common = candidate
            .iter()
            .zip(hay)
            .take_while(|(a, b)| a == b)
            .count();
        if common < MIN_SECRET_LEN {
            return None;
        }
        hay = &hay[..common];
    }
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
        out.push_str(&hide_credential_pairs(query));
    }
    out.push_str(fragment);
    // A secret sent in a query parameter is in the URL percent-encoded (`abc+d=` as
    // `abc%2Bd%3D`): that form is scrubbed too.
    let mut all = secret_values.to_vec();
    all.extend(
        secret_values
            .iter()
            .map(|s| crate::kernel::percent::encode(s))
            .filter(|e| !secret_values.contains(e)),
    );
    scrub_secrets(&out, &all)
}

/// A query string or form body (`a=1&access_token=…`) with the values of its pairs under
/// credential names redacted.
fn hide_credential_pairs(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_sensitive_key(&decode_lossy(name)) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
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
pub fn decode_lossy(s: &str) -> String {
    String::from_utf8_lossy(&super::percent::decode_form(s.as_bytes())).into_owned()
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
mod tests;
