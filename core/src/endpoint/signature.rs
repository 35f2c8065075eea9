//! Webhook signature verification for the endpoint trigger: checks that a request was sent
//! by the holder of a shared secret, exactly the way each sender signs.
//!
//! Configured in the trigger as
//! `"verify": {"scheme": "github", "secret_env": "GITHUB_WEBHOOK_SECRET", "tolerance_seconds": 300, "header": "x-signature"}`
//! (`tolerance_seconds` only for schemes with a signed timestamp, `header` only for `hmac-sha256`).
//!
//! | scheme | headers | signed bytes | encoding |
//! |---|---|---|---|
//! | `standard-webhooks` (Svix) | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …` | `{id}.{timestamp}.{body}` | base64 |
//! | `github` | `x-hub-signature-256: sha256=<hex>` | body | hex |
//! | `stripe` | `stripe-signature: t=<ts>,v1=<hex>,…` | `{t}.{body}` | hex |
//! | `slack` | `x-slack-request-timestamp`, `x-slack-signature: v0=<hex>` | `v0:{ts}:{body}` | hex |
//! | `hmac-sha256` | configurable (default `x-signature`): `[sha256=]<hex or base64>` | body | hex or base64 |
//!
//! All are HMAC-SHA256. The key is the secret's UTF-8 bytes, except for Standard Webhooks:
//! - `whsec_<base64>`: the base64-decoded part after the prefix (what Svix and the spec do);
//!   if that part is not valid base64, the whole secret's bytes.
//! - no prefix: both the base64 decoding (if it decodes) and the raw bytes are tried, since a
//!   plain password can also happen to be valid base64 — either matching is accepted.
//!
//! A secret is used whole: it is never split on spaces or commas (GitHub's documented example
//! secret has spaces, and no word of it is a key). Our own key rotation puts one secret per
//! line — the Worker joins `<secret_env>` and `<secret_env>_PREVIOUS` that way — and any line
//! matching is enough; in such a list every secret must be at least [`MIN_ROTATION_SECRET_BYTES`]
//! bytes long, or nothing is accepted. A sender may also send several signatures (its key
//! rotation): any one matching is enough. Comparisons are constant-time; errors never show
//! the expected signature. The signature is checked before the timestamp, so "outside
//! tolerance" is only ever said about a genuinely signed (late or replayed) request.

use crate::kernel::hex;
use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::kernel::names::is_env_name;
use crate::kernel::problem::Errors;
use crate::kernel::reader::ObjectReader;

type HmacSha256 = Hmac<Sha256>;

/// Default allowed difference between a signed timestamp and now.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;
/// Largest `tolerance_seconds` accepted (one day).
pub const MAX_TOLERANCE_SECONDS: i64 = 86_400;
/// Shortest secret accepted in a rotation list (one secret per line).
pub const MIN_ROTATION_SECRET_BYTES: usize = 16;
/// Default header of the `hmac-sha256` scheme.
pub const DEFAULT_HMAC_HEADER: &str = "x-signature";

/// Base64 decoding that accepts padded and unpadded input.
const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// Base64 encoding as Standard Webhooks senders write it (padded).
const BASE64_ENCODE: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new());

/// How a sender signs its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    StandardWebhooks,
    Github,
    Stripe,
    Slack,
    HmacSha256,
}

impl Scheme {
    pub const ALL: [Scheme; 5] = [
        Scheme::StandardWebhooks,
        Scheme::Github,
        Scheme::Stripe,
        Scheme::Slack,
        Scheme::HmacSha256,
    ];

    /// The name used in definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Github => "github",
            Scheme::Stripe => "stripe",
            Scheme::Slack => "slack",
            Scheme::HmacSha256 => "hmac-sha256",
        }
    }

    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the sender signs a timestamp (so `tolerance_seconds` applies).
    pub fn has_timestamp(self) -> bool {
        matches!(
            self,
            Scheme::StandardWebhooks | Scheme::Stripe | Scheme::Slack
        )
    }

    fn names() -> String {
        Scheme::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The `verify` object of an endpoint trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyConfig {
    pub scheme: Scheme,
    /// Name of the Worker secret holding the signing secret(s).
    pub secret_env: String,
    /// Allowed |now − signed timestamp|, for schemes with a timestamp.
    pub tolerance_seconds: i64,
    /// Lowercase header name carrying the signature; only set for `hmac-sha256`.
    pub header: Option<String>,
}

impl VerifyConfig {
    /// Reads a `verify` object at `location` (e.g. `trigger.verify`), reporting every problem.
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<VerifyConfig> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        if !r.is_object() {
            return None;
        }
        let present = |key: &str| value.get(key).is_some_and(|v| !v.is_null());

        let scheme = r
            .req_str("scheme", errors)
            .and_then(|name| match Scheme::from_name(&name) {
                Some(s) => Some(s),
                None => {
                    errors.push(
                        r.loc("scheme"),
                        format!("unknown scheme `{name}`; allowed: {}", Scheme::names()),
                    );
                    None
                }
            });

        let secret_env = r.req_str("secret_env", errors).and_then(|name| {
            if let Some(refusal) = crate::kernel::names::platform_secret_refusal(&name) {
                errors.push(r.loc("secret_env"), refusal);
                None
            } else if is_env_name(&name) {
                Some(name)
            } else {
                errors.push(
                    r.loc("secret_env"),
                    format!(
                        "must name a Worker secret: uppercase letters, digits and `_`, \
                         not starting with a digit (like `WEBHOOK_SECRET`), got `{name}`"
                    ),
                );
                None
            }
        });

        let tolerance = r.opt_int("tolerance_seconds", 1, MAX_TOLERANCE_SECONDS, errors);
        if let Some(s) = scheme {
            if present("tolerance_seconds") && !s.has_timestamp() {
                errors.push(
                    r.loc("tolerance_seconds"),
                    format!(
                        "does not apply: scheme `{}` signs no timestamp; it applies to \
                         standard-webhooks, stripe and slack",
                        s.as_str()
                    ),
                );
            }
        }

        let header = r.opt_str("header", errors).and_then(|name| {
            if is_token(&name) {
                Some(name.to_ascii_lowercase())
            } else {
                errors.push(
                    r.loc("header"),
                    format!("must be an HTTP header name (letters, digits, `-`), got `{name}`"),
                );
                None
            }
        });
        if let Some(s) = scheme {
            if present("header") && s != Scheme::HmacSha256 {
                errors.push(
                    r.loc("header"),
                    format!(
                        "does not apply: scheme `{}` always reads `{}`; `header` is only for \
                         scheme `hmac-sha256`",
                        s.as_str(),
                        fixed_signature_header(s)
                    ),
                );
            }
        }

        r.finish(errors);
        if errors.len() != before {
            return None;
        }
        let scheme = scheme?;
        Some(VerifyConfig {
            scheme,
            secret_env: secret_env?,
            tolerance_seconds: tolerance.unwrap_or(DEFAULT_TOLERANCE_SECONDS),
            header: (scheme == Scheme::HmacSha256)
                .then(|| header.unwrap_or_else(|| DEFAULT_HMAC_HEADER.to_string())),
        })
    }

    /// Sets the signature headers of `headers` (names in lower case, as a request's are read)
    /// to `[redacted]`: a run input never keeps a signature, which, over no timestamp, would
    /// sign the same request again once its run had expired.
    pub fn hide_signature(&self, headers: &mut Map<String, Value>) {
        let names: &[&str] = match self.scheme {
            Scheme::StandardWebhooks => &["webhook-signature", "svix-signature"],
            // GitHub also signs with SHA-1 (`sha1=…`), with the same secret.
            Scheme::Github => &["x-hub-signature-256", "x-hub-signature"],
            _ => &[self.signature_header()],
        };
        for name in names {
            if let Some(v) = headers.get_mut(&name.to_ascii_lowercase()) {
                *v = Value::String(crate::kernel::redact::REDACTED.to_string());
            }
        }
    }

    /// The header that carries the signature for this config.
    pub fn signature_header(&self) -> &str {
        match (&self.header, self.scheme) {
            (Some(h), Scheme::HmacSha256) => h,
            (_, s) => fixed_signature_header(s),
        }
    }
}

fn fixed_signature_header(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::StandardWebhooks => "webhook-signature",
        Scheme::Github => "x-hub-signature-256",
        Scheme::Stripe => "stripe-signature",
        Scheme::Slack => "x-slack-signature",
        Scheme::HmacSha256 => DEFAULT_HMAC_HEADER,
    }
}

/// RFC 9110 token (a valid header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub scheme: Scheme,
    /// The sender's id for this message, usable as the run's dedup key:
    /// `webhook-id` (standard-webhooks, signed), the event `id` from the body (stripe, signed),
    /// the `event_id` of a JSON body (slack, signed; `None` for its forms),
    /// `x-github-delivery` (github, NOT covered by the signature). `None` for hmac-sha256.
    pub message_id: Option<String>,
    /// The signed timestamp, for schemes that have one.
    pub timestamp: Option<i64>,
    /// Which of our secrets matched (0-based line of the rotation list): tells when an old
    /// secret can be retired.
    pub secret_index: usize,
}

/// Why a request's signature was not accepted. Every variant but `NoSecret` is the
/// sender's fault (a 401 naming the header); `NoSecret` is our configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// A header the scheme requires is absent.
    MissingHeader { header: String },
    /// A header is present but not in the scheme's format.
    MalformedHeader { header: String, problem: String },
    /// The signed timestamp is too far from now. `age_seconds` is now − timestamp
    /// (negative: in the future).
    TimestampOutsideTolerance {
        header: String,
        age_seconds: i64,
        tolerance_seconds: i64,
    },
    /// Well-formed, but no signature matches any of our secrets.
    NoSignatureMatched { header: String },
    /// The secret holds no secret at all (empty or only separators).
    NoSecret,
    /// A rotation list (one secret per line) has a secret shorter than
    /// [`MIN_ROTATION_SECRET_BYTES`]: our configuration, nothing is accepted.
    ShortRotationSecret { line: usize, bytes: usize },
}

impl SignatureError {
    /// The header at fault, lowercase.
    pub fn header(&self) -> Option<&str> {
        match self {
            SignatureError::MissingHeader { header }
            | SignatureError::MalformedHeader { header, .. }
            | SignatureError::TimestampOutsideTolerance { header, .. }
            | SignatureError::NoSignatureMatched { header } => Some(header),
            SignatureError::NoSecret | SignatureError::ShortRotationSecret { .. } => None,
        }
    }

    /// The problem+json location: `header.<name>`, or `trigger.verify.secret_env`.
    pub fn location(&self) -> String {
        match self.header() {
            Some(h) => format!("header.{h}"),
            None => "trigger.verify.secret_env".to_string(),
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::MissingHeader { header } => write!(
                f,
                "header `{header}` is missing; this endpoint only accepts signed requests"
            ),
            SignatureError::MalformedHeader { header, problem } => {
                write!(f, "header `{header}` is malformed: {problem}")
            }
            SignatureError::TimestampOutsideTolerance {
                header,
                age_seconds,
                tolerance_seconds,
            } => {
                let when = if *age_seconds >= 0 {
                    format!("{age_seconds} seconds old")
                } else {
                    format!("{} seconds in the future", age_seconds.unsigned_abs())
                };
                write!(
                    f,
                    "the timestamp in `{header}` is {when}; at most {tolerance_seconds} seconds \
                     either way are accepted (a replayed request, or the sender's clock is off)"
                )
            }
            SignatureError::NoSignatureMatched { header } => write!(
                f,
                "no signature in `{header}` matches this request; check the signing secret, \
                 and that the body is sent unchanged"
            ),
            SignatureError::NoSecret => f.write_str(
                "no signing secret is configured for this endpoint (the secret is empty)",
            ),
            SignatureError::ShortRotationSecret { line, bytes } => write!(
                f,
                "the signing secret holds several secrets (one per line) and secret {line} is \
                 {bytes} bytes long; each must be at least {MIN_ROTATION_SECRET_BYTES} bytes"
            ),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Checks a request against `config`. `secret` is the value of the `secret_env` Worker
/// secret (one secret, or several one per line while rotating); `headers` has lowercase
/// names and string values; `raw_body` is the body exactly as received; `now_unix` is the
/// current time in seconds.
pub fn verify(
    config: &VerifyConfig,
    secret: &str,
    headers: &Map<String, Value>,
    raw_body: &[u8],
    now_unix: i64,
) -> Result<Verified, SignatureError> {
    let secrets = our_secrets(secret)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    match config.scheme {
        Scheme::StandardWebhooks => {
            verify_standard_webhooks(config, &secrets, headers, raw_body, now_unix)
        }
        Scheme::Github => verify_github(&secrets, headers, raw_body),
        Scheme::Stripe => verify_stripe(config, &secrets, headers, raw_body, now_unix),
        Scheme::Slack => verify_slack(config, &secrets, headers, raw_body, now_unix),
        Scheme::HmacSha256 => verify_hmac_sha256(config, &secrets, headers, raw_body),
    }
}

/// The secrets a signing-secret value holds: one per non-empty line, each trimmed of the
/// whitespace around it (never split inside a line).
pub fn rotation_secrets(secret: &str) -> Vec<&str> {
    secret
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Why a signing-secret value cannot be used: a rotation list (several lines) with a secret
/// shorter than [`MIN_ROTATION_SECRET_BYTES`]. Checked at deploy and again at each request.
pub fn rotation_problem(secret: &str) -> Option<SignatureError> {
    let secrets = rotation_secrets(secret);
    if secrets.len() < 2 {
        return None;
    }
    secrets
        .iter()
        .enumerate()
        .find(|(_, s)| s.len() < MIN_ROTATION_SECRET_BYTES)
        .map(|(i, s)| SignatureError::ShortRotationSecret {
            line: i + 1,
            bytes: s.len(),
        })
}

/// Our candidate secrets with their index (0-based line).
fn our_secrets(secret: &str) -> Result<Vec<(usize, &str)>, SignatureError> {
    if let Some(problem) = rotation_problem(secret) {
        return Err(problem);
    }
    Ok(rotation_secrets(secret).into_iter().enumerate().collect())
}

// ---------------------------------------------------------------------------------------
// Schemes
// ---------------------------------------------------------------------------------------

fn verify_standard_webhooks(
    config: &VerifyConfig,
    secrets: &[(usize, &str)],
    headers: &Map<String, Value>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    // Svix itself sends `svix-*`; the spec's names win when both are present.
    let prefix = if headers.contains_key("webhook-id") || !headers.contains_key("svix-id") {
        "webhook"
    } else {
        "svix"
    };
    let id_header = format!("{prefix}-id");
    let ts_header = format!("{prefix}-timestamp");
    let sig_header = format!("{prefix}-signature");

    let id = header_value(headers, &id_header)?;
    let ts_text = header_value(headers, &ts_header)?;
    let signature = header_value(headers, &sig_header)?;
    let ts = parse_unix_seconds(ts_text)
        .ok_or_else(|| malformed(&ts_header, "must be a Unix timestamp in seconds"))?;

    let mut saw_v1 = false;
    let mut candidates = Vec::new();
    // Space-separated; a header sent twice arrives joined by `, ` (`v1,AAA=, v1,BBB=`), so an
    // entry's trailing comma (never one of base64's) is dropped.
    for entry in signature.split_whitespace() {
        let entry = entry.trim_end_matches(',');
        let Some((version, encoded)) = entry.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        saw_v1 = true;
        if let Some(bytes) = BASE64_STANDARD
            .decode(encoded)
            .ok()
            .filter(|b| b.len() == 32)
        {
            candidates.push(bytes);
        }
    }
    if candidates.is_empty() {
        let problem = if saw_v1 {
            "its `v1,` signatures are not base64 of an HMAC-SHA256"
        } else {
            "it has no `v1,<base64>` signature (space-separated entries)"
        };
        return Err(malformed(&sig_header, problem));
    }

    let keys: Vec<(usize, Vec<u8>)> = secrets
        .iter()
        .flat_map(|&(i, s)| standard_webhooks_keys(s).into_iter().map(move |k| (i, k)))
        .collect();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text.as_bytes(), b".", body];
    let secret_index = first_match(&keys, &parts, &candidates).ok_or_else(|| {
        SignatureError::NoSignatureMatched {
            header: sig_header.clone(),
        }
    })?;
    check_timestamp(&ts_header, ts, now, config.tolerance_seconds)?;
    Ok(Verified {
        scheme: Scheme::StandardWebhooks,
        message_id: Some(id.to_string()),
        timestamp: Some(ts),
        secret_index,
    })
}

fn verify_github(
    secrets: &[(usize, &str)],
    headers: &Map<String, Value>,
    body: &[u8],
) -> Result<Verified, SignatureError> {
    let header = "x-hub-signature-256";
    let value = header_value(headers, header)?;
    let signature = strip_prefix_ignore_case(value, "sha256=")
        .and_then(decode_hex_32)
        .ok_or_else(|| malformed(header, "must be `sha256=` followed by 64 hex digits"))?;
    let secret_index = first_match(&raw_keys(secrets), &[body], &[signature]).ok_or_else(|| {
        SignatureError::NoSignatureMatched {
            header: header.to_string(),
        }
    })?;
    let delivery = headers
        .get("x-github-delivery")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(Verified {
        scheme: Scheme::Github,
        message_id: delivery,
        timestamp: None,
        secret_index,
    })
}

fn verify_stripe(
    config: &VerifyConfig,
    secrets: &[(usize, &str)],
    headers: &Map<String, Value>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    let header = "stripe-signature";
    let value = header_value(headers, header)?;
    let mut timestamp: Option<&str> = None;
    let mut candidates = Vec::new();
    for item in value.split(',') {
        let Some((key, val)) = item.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" if timestamp.is_none() => timestamp = Some(val.trim()),
            "v1" => candidates.extend(decode_hex_32(val.trim())),
            _ => {}
        }
    }
    let ts_text = timestamp.ok_or_else(|| malformed(header, "it has no `t=<timestamp>`"))?;
    let ts = parse_unix_seconds(ts_text)
        .ok_or_else(|| malformed(header, "`t` must be a Unix timestamp in seconds"))?;
    if candidates.is_empty() {
        return Err(malformed(
            header,
            "it has no `v1=<64 hex digits>` signature",
        ));
    }
    let parts: [&[u8]; 3] = [ts_text.as_bytes(), b".", body];
    let secret_index = first_match(&raw_keys(secrets), &parts, &candidates).ok_or_else(|| {
        SignatureError::NoSignatureMatched {
            header: header.to_string(),
        }
    })?;
    check_timestamp(header, ts, now, config.tolerance_seconds)?;
    Ok(Verified {
        scheme: Scheme::Stripe,
        message_id: non_empty(SignedEventIds::read(body).id),
        timestamp: Some(ts),
        secret_index,
    })
}

/// The event id a signed JSON body carries, so that the id is signed too: Stripe's `id`
/// (`evt_…`), or the `event_id` of a Slack Events API callback (`Ev…`; Slack signs every retry
/// again with a new timestamp, but the event id stays). `None` for other bodies (Slack's slash
/// commands and interactions are forms).
#[derive(Deserialize, Default)]
struct SignedEventIds {
    // Read as any JSON, so that one field of another type does not hide the other.
    id: Option<Value>,
    event_id: Option<Value>,
}

impl SignedEventIds {
    fn read(body: &[u8]) -> SignedEventIds {
        // Read as the body is (half a surrogate pair is accepted there, as U+FFFD).
        let body = crate::kernel::lone_surrogates::replace_lone_surrogates(body);
        serde_json::from_slice(&body).unwrap_or_default()
    }
}

/// A non-empty string id.
fn non_empty(id: Option<Value>) -> Option<String> {
    match id {
        Some(Value::String(id)) if !id.is_empty() => Some(id),
        _ => None,
    }
}

fn verify_slack(
    config: &VerifyConfig,
    secrets: &[(usize, &str)],
    headers: &Map<String, Value>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    let ts_header = "x-slack-request-timestamp";
    let sig_header = "x-slack-signature";
    let ts_text = header_value(headers, ts_header)?;
    let value = header_value(headers, sig_header)?;
    let ts = parse_unix_seconds(ts_text)
        .ok_or_else(|| malformed(ts_header, "must be a Unix timestamp in seconds"))?;
    let signature = value
        .strip_prefix("v0=")
        .and_then(decode_hex_32)
        .ok_or_else(|| malformed(sig_header, "must be `v0=` followed by 64 hex digits"))?;
    let parts: [&[u8]; 4] = [b"v0:", ts_text.as_bytes(), b":", body];
    let secret_index = first_match(&raw_keys(secrets), &parts, &[signature]).ok_or_else(|| {
        SignatureError::NoSignatureMatched {
            header: sig_header.to_string(),
        }
    })?;
    check_timestamp(ts_header, ts, now, config.tolerance_seconds)?;
    Ok(Verified {
        scheme: Scheme::Slack,
        message_id: non_empty(SignedEventIds::read(body).event_id),
        timestamp: Some(ts),
        secret_index,
    })
}

fn verify_hmac_sha256(
    config: &VerifyConfig,
    secrets: &[(usize, &str)],
    headers: &Map<String, Value>,
    body: &[u8],
) -> Result<Verified, SignatureError> {
    let header = config.signature_header();
    let value = header_value(headers, header)?;
    let encoded = strip_prefix_ignore_case(value, "sha256=").unwrap_or(value);
    let signature = decode_hex_32(encoded)
        .or_else(|| decode_base64_32(encoded))
        .ok_or_else(|| {
            malformed(
                header,
                "must be the HMAC-SHA256 of the body as 64 hex digits or as base64, \
                 optionally prefixed `sha256=`",
            )
        })?;
    let secret_index = first_match(&raw_keys(secrets), &[body], &[signature]).ok_or_else(|| {
        SignatureError::NoSignatureMatched {
            header: header.to_string(),
        }
    })?;
    Ok(Verified {
        scheme: Scheme::HmacSha256,
        message_id: None,
        timestamp: None,
        secret_index,
    })
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

fn malformed(header: &str, problem: &str) -> SignatureError {
    SignatureError::MalformedHeader {
        header: header.to_string(),
        problem: problem.to_string(),
    }
}

/// A header's trimmed string value; absent or `null` is missing, empty is malformed.
fn header_value<'a>(
    headers: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, SignatureError> {
    match headers.get(name) {
        None | Some(Value::Null) => Err(SignatureError::MissingHeader {
            header: name.to_string(),
        }),
        Some(Value::String(s)) if s.trim().is_empty() => Err(malformed(name, "it is empty")),
        Some(Value::String(s)) => Ok(s.trim()),
        Some(_) => Err(malformed(name, "it must be a single string value")),
    }
}

/// Decimal seconds, digits only (no sign, no fraction).
fn parse_unix_seconds(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn check_timestamp(header: &str, ts: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let age = i128::from(now) - i128::from(ts);
    if age.unsigned_abs() > u128::from(tolerance.unsigned_abs()) {
        return Err(SignatureError::TimestampOutsideTolerance {
            header: header.to_string(),
            age_seconds: i64::try_from(age).unwrap_or(if age < 0 { i64::MIN } else { i64::MAX }),
            tolerance_seconds: tolerance,
        });
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

/// Our secrets as HMAC keys: their UTF-8 bytes (GitHub, Stripe, Slack, hmac-sha256).
fn raw_keys(secrets: &[(usize, &str)]) -> Vec<(usize, Vec<u8>)> {
    secrets
        .iter()
        .map(|&(i, s)| (i, s.as_bytes().to_vec()))
        .collect()
}

/// The HMAC keys a Standard Webhooks secret stands for (see the module docs).
fn standard_webhooks_keys(secret: &str) -> Vec<Vec<u8>> {
    let decoded = |b64: &str| BASE64_STANDARD.decode(b64).ok().filter(|k| !k.is_empty());
    match secret.strip_prefix("whsec_") {
        Some(rest) => vec![decoded(rest).unwrap_or_else(|| secret.as_bytes().to_vec())],
        None => decoded(secret)
            .into_iter()
            .chain(std::iter::once(secret.as_bytes().to_vec()))
            .collect(),
    }
}

/// HMAC-SHA256 of the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().into())
}

/// The index of the first secret whose MAC equals one of `candidates`, comparing every
/// pair in constant time (no early exit on a match).
fn first_match(
    keys: &[(usize, Vec<u8>)],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Option<usize> {
    let mut found = None;
    for (secret_index, key) in keys {
        let Some(expected) = hmac_sha256(key, parts) else {
            continue;
        };
        for candidate in candidates {
            let equal: bool = expected.as_slice().ct_eq(candidate.as_slice()).into();
            if equal && found.is_none() {
                found = Some(*secret_index);
            }
        }
    }
    found
}

fn decode_hex_32(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex::digit(*hi)? << 4 | hex::digit(*lo)?),
            _ => None,
        })
        .collect()
}

fn decode_base64_32(text: &str) -> Option<Vec<u8>> {
    BASE64_STANDARD
        .decode(text)
        .or_else(|_| BASE64_URL_SAFE.decode(text))
        .ok()
        .filter(|b| b.len() == 32)
}

// ---------------------------------------------------------------------------------------
// Signing, as each sender does (for tests, the harness, and "send a test webhook")
// ---------------------------------------------------------------------------------------

/// A sender holds one secret: the whole (trimmed) value.
fn first_secret(secret: &str) -> &str {
    secret.trim()
}

fn mac_or_zero(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    hmac_sha256(key, parts).unwrap_or([0; 32])
}

/// `webhook-signature` value `v1,<base64>` for a Standard Webhooks message. The signers take
/// one secret (the whole trimmed value); the key is derived as in [`verify`], decoded
/// `whsec_`/base64 first.
pub fn sign_standard_webhooks(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = standard_webhooks_keys(first_secret(secret))
        .into_iter()
        .next()
        .unwrap_or_default();
    let ts = ts.to_string();
    let mac = mac_or_zero(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", BASE64_ENCODE.encode(mac))
}

/// `x-hub-signature-256` value `sha256=<hex>`.
pub fn sign_github(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(&mac_or_zero(first_secret(secret).as_bytes(), &[body]))
    )
}

/// `stripe-signature` value `t=<ts>,v1=<hex>`.
pub fn sign_stripe(secret: &str, ts: i64, body: &[u8]) -> String {
    let t = ts.to_string();
    let mac = mac_or_zero(first_secret(secret).as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(&mac))
}

/// `x-slack-signature` value `v0=<hex>` (send `ts` as `x-slack-request-timestamp`).
pub fn sign_slack(secret: &str, ts: i64, body: &[u8]) -> String {
    let t = ts.to_string();
    let mac = mac_or_zero(
        first_secret(secret).as_bytes(),
        &[b"v0:", t.as_bytes(), b":", body],
    );
    format!("v0={}", hex::encode(&mac))
}

/// `hmac-sha256` scheme header value `sha256=<hex>`.
pub fn sign_hmac_sha256(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(&mac_or_zero(first_secret(secret).as_bytes(), &[body]))
    )
}

#[cfg(test)]
mod tests;
