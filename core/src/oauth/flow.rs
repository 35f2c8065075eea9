//! The pure parts of the OAuth trigger's flow: state and PKCE values, the authorize URL, the
//! client used for the token endpoint, turning a token response into what a connection
//! stores, classifying token endpoint failures, and the small URL helpers the routes need.
//! Randomness and the clock are passed in; the HTTP exchange itself is in `engine::oauth`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use sha2::{Digest, Sha256};

use crate::kernel::crypto::SealKey;
use crate::kernel::redact::scrub_secrets;
use crate::oauth::{url_origin, OAuthTrigger};

/// Default lifetime of a sign-in state: 10 minutes.
pub const DEFAULT_STATE_TTL_SECONDS: i64 = 600;

/// The Cron pass refreshes a connection this long before its token expires (sooner for a
/// token that lives less than twice as long: `refresh::refresh_at`).
pub const REFRESH_WINDOW_MS: i64 = 10 * 60_000;

/// The state TTL from the `OAUTH_STATE_TTL_SECONDS` var (1..=3600), else the default; in ms.
pub fn state_ttl_ms(var: Option<&str>) -> i64 {
    var.and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|s| (1..=3600).contains(s))
        .unwrap_or(DEFAULT_STATE_TTL_SECONDS)
        * 1000
}

/// A state value: 256 random bits, base64url without padding (43 characters).
pub fn new_state(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// Whether `s` could be a state we issued (43 base64url characters); anything else is
/// rejected before touching storage.
pub fn is_state_shaped(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What D1 stores for a state: its SHA-256 (hex), so a database reader cannot complete a
/// sign-in with a pending state.
pub fn state_hash(state: &str) -> String {
    crate::kernel::hex::encode(&Sha256::digest(state.as_bytes()))
}

/// The name of the cookie that ties a sign-in to the browser that started it: one per state, so
/// that sign-ins in several tabs each keep their own.
fn browser_cookie_name(state: &str) -> String {
    format!("tripline_signin_{}", &state_hash(state)[..16])
}

/// The cookie's value: a MAC of the state under the deployment's key, so that knowing a state
/// is not enough to make its cookie (a cookie set from a sibling subdomain, say).
fn browser_cookie_value(key: &SealKey, state: &str) -> String {
    key.mac("signin-browser", state)
}

/// How long an expired state is kept (its callback then hears that its sign-in expired,
/// rather than that its state is unknown); its cookie lives as long.
pub const EXPIRED_STATE_KEPT_MS: i64 = 3_600_000;

/// The `Set-Cookie` value the Sign-in URL answers with: sent back only under `path` (the
/// callbacks), never to scripts, for [`EXPIRED_STATE_KEPT_MS`] longer than the state lives (so
/// that a late callback hears that its sign-in expired, not that it came from another browser). Without
/// it the callback refuses the state, so a sign-in started by one person cannot be finished in
/// another's browser (whose provider account would then be connected to the first person's
/// user id).
pub fn browser_cookie(key: &SealKey, state: &str, path: &str, ttl_ms: i64, secure: bool) -> String {
    format!(
        "{}={}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{}",
        browser_cookie_name(state),
        browser_cookie_value(key, state),
        (ttl_ms + EXPIRED_STATE_KEPT_MS) / 1000,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes a sign-in's cookie once its callback has spent the
/// state: retried sign-ins do not pile up cookies on every later `/oauth/` request.
pub fn spent_browser_cookie(state: &str, path: &str, secure: bool) -> String {
    format!(
        "{}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        browser_cookie_name(state),
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a request's `Cookie` header carries the sign-in's cookie (see [`browser_cookie`]),
/// its value compared in constant time.
pub fn started_in_this_browser(key: &SealKey, cookie_header: Option<&str>, state: &str) -> bool {
    use subtle::ConstantTimeEq;
    let name = browser_cookie_name(state);
    let want = browser_cookie_value(key, state);
    cookie_header.is_some_and(|h| {
        h.split(';').any(|c| {
            c.trim()
                .strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix('='))
                .is_some_and(|v| bool::from(v.as_bytes().ct_eq(want.as_bytes())))
        })
    })
}

/// A PKCE pair from 32 random bytes: the verifier (43 characters) and its S256 challenge.
pub fn pkce_pair(random: &[u8; 32]) -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(random);
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
    (verifier, challenge.as_str().to_string())
}

/// Longest end-user id, in characters (up to 4 bytes each in UTF-8).
pub const MAX_USER_ID_CHARS: usize = 256;

/// Checks the `user_id` given to the Sign-in URL: 1 to 256 characters, no control characters,
/// not `.` or `..`. (Its connection is addressed by a URL path segment, and a client or proxy
/// removes a dot segment even when percent-encoded: `DELETE …/connections/%2E%2E` would reach
/// the Worker as `DELETE /api/workflows/{id}/`.)
pub fn check_user_id(user_id: Option<&str>) -> Result<String, String> {
    let Some(u) = user_id else {
        return Err("is required: the id of the end user in your app, e.g. ?user_id=42".into());
    };
    if u.is_empty() || u.chars().count() > MAX_USER_ID_CHARS {
        return Err(format!("must be 1 to {MAX_USER_ID_CHARS} characters"));
    }
    if u.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if u == "." || u == ".." {
        return Err("must not be `.` or `..` (a URL path segment of its own)".into());
    }
    Ok(u.to_string())
}

/// Checks the optional `redirect` of the Sign-in URL: an absolute URL on the same origin as
/// the workflow's `success_url` (so the Worker cannot be used as an open redirector).
pub fn check_redirect(redirect: &str, success_url: &str) -> Result<(), String> {
    crate::oauth::check_url(redirect)?;
    let want = url_origin(success_url);
    if url_origin(redirect) != want || want.is_none() {
        return Err(format!(
            "must be on the same origin as the workflow's success_url ({})",
            want.unwrap_or_default()
        ));
    }
    Ok(())
}

/// The client for the token endpoint.
pub type Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Builds the oauth2 client for a trigger: its endpoints, credentials, how it authenticates
/// at the token endpoint, and the Redirect URL (sent with the authorize and code requests,
/// not with refreshes).
pub fn client(
    trigger: &OAuthTrigger,
    secret: &str,
    redirect_uri: Option<&str>,
) -> Result<Client, String> {
    let auth =
        AuthUrl::new(trigger.authorize_url.clone()).map_err(|e| format!("authorize_url: {e}"))?;
    let token = TokenUrl::new(trigger.token_url.clone()).map_err(|e| format!("token_url: {e}"))?;
    let mut c = BasicClient::new(ClientId::new(trigger.client_id.clone()))
        .set_client_secret(ClientSecret::new(secret.to_string()))
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_auth_type(if trigger.token_auth_method == "client_secret_post" {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        });
    if let Some(r) = redirect_uri {
        let redirect = RedirectUrl::new(r.to_string()).map_err(|e| format!("redirect URL: {e}"))?;
        c = c.set_redirect_uri(redirect);
    }
    Ok(c)
}

/// The provider's authorize URL for one sign-in: `response_type=code`, the client id, the
/// Redirect URL, the scopes, the state, the S256 challenge of `verifier` (when PKCE is on)
/// and the trigger's `extra_authorize_params`.
pub fn authorize_url(
    trigger: &OAuthTrigger,
    redirect_uri: &str,
    state: &str,
    verifier: Option<&str>,
) -> Result<String, String> {
    // The secret is not sent to the authorize endpoint; a placeholder keeps one builder.
    let client = client(trigger, "", Some(redirect_uri))?;
    let state = state.to_string();
    let mut req = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(trigger.scopes.iter().cloned().map(Scope::new));
    for (k, v) in &trigger.extra_authorize_params {
        req = req.add_extra_param(k.clone(), v.clone());
    }
    if let Some(v) = verifier {
        if !(43..=128).contains(&v.len()) {
            return Err("a PKCE verifier must be 43 to 128 characters".into());
        }
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(v.to_string()));
        req = req.set_pkce_challenge(challenge);
    }
    Ok(req.url().0.to_string())
}

/// What a token response gives a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub token_type: String,
    /// `None` when the provider did not return one (then keep any earlier refresh token).
    pub refresh_token: Option<String>,
    /// Epoch ms; `None` when the provider gave no `expires_in`, or one beyond
    /// [`MAX_EXPIRES_IN_SECONDS`] (the token does not expire as far as we know, and is never
    /// refreshed ahead of time).
    pub expires_at_ms: Option<i64>,
    /// When the Cron pass refreshes this token (`refresh::refresh_at`); `None` with no expiry.
    pub refresh_at_ms: Option<i64>,
    pub scopes: Vec<String>,
}

/// The longest `expires_in` read as a lifetime: 100 years. Some providers send a huge value
/// (`9007199254740991`, `10000000000000`) to mean "never"; a longer one is read as no
/// `expires_in` at all, so the token never expires, and every stored epoch-ms value stays far
/// below 2^53 (D1 receives numbers as doubles).
pub const MAX_EXPIRES_IN_SECONDS: u64 = 100 * 366 * 24 * 3600;

/// Reads a token response: the granted scopes are the response's `scope` when it names any
/// (separated by spaces or commas), else the ones requested (RFC 6749 §5.1); `expires_at = now + expires_in`, none when
/// `expires_in` is missing or longer than [`MAX_EXPIRES_IN_SECONDS`].
pub fn token_set(resp: &BasicTokenResponse, requested: &[String], now_ms: i64) -> TokenSet {
    // Space-delimited by the standard; GitHub separates with commas, and answers `""` for a
    // token of a GitHub App.
    let granted: Vec<String> = resp
        .scopes()
        .into_iter()
        .flatten()
        .flat_map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()))
        .map(str::to_string)
        .collect();
    let scopes = match granted.is_empty() {
        true => requested.to_vec(),
        false => granted,
    };
    let expires_at_ms = resp
        .expires_in()
        .filter(|d| d.as_secs() <= MAX_EXPIRES_IN_SECONDS)
        .map(|d| now_ms.saturating_add(d.as_millis() as i64));
    TokenSet {
        access_token: resp.access_token().secret().clone(),
        token_type: resp.token_type().as_ref().to_string(),
        // An empty one is none (it would replace a working one with nothing to refresh with).
        refresh_token: resp
            .refresh_token()
            .map(|r| r.secret().clone())
            .filter(|r| !r.trim().is_empty()),
        expires_at_ms,
        refresh_at_ms: super::refresh::refresh_at(now_ms, expires_at_ms),
        scopes,
    }
}

/// Parses a token endpoint's JSON body (for tests and for callers with raw bytes).
pub fn parse_token_response(body: &[u8]) -> Result<BasicTokenResponse, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a token response: {e}"))
}

/// Why a token request failed, for a person; a dead grant is singled out because the end
/// user must then sign in again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// The provider said the grant (code or refresh token) is dead: `invalid_grant`, or
    /// GitHub's `bad_refresh_token` (see [`grant_is_dead`]). Never retried.
    pub invalid_grant: bool,
    /// The provider's error code when it sent one (`invalid_grant`, `invalid_client`, …).
    pub code: Option<String>,
    pub message: String,
}

/// Whether a token endpoint's error code says the grant is dead for good: `invalid_grant`
/// (RFC 6749 §5.2), or `bad_refresh_token`, which GitHub answers for an expired or revoked
/// refresh token.
pub fn grant_is_dead(code: &str) -> bool {
    matches!(code, "invalid_grant" | "bad_refresh_token")
}

/// Classifies an oauth2 token request error; `status` is the HTTP status the token
/// endpoint answered, when it answered; `sent` are the credentials the request carried (the
/// code or refresh token, the PKCE verifier, the client secret). The provider's `error` and
/// `error_description`, and any other text that may quote the provider, have those scrubbed
/// (as sent and form-encoded: a provider may echo them) and are then reduced to printable
/// ASCII and 300 characters ([`sanitize_error`]).
///
/// An error response is read the same whatever its status: some providers (GitHub) answer
/// `200 OK` with `{"error": "bad_refresh_token", "error_description": …}`, which is an error
/// response when it carries an `error` and no `access_token`.
///
/// The answer's body is never quoted: a 2xx body may hold tokens, and these messages reach the
/// browser's URL, logs and the connections API. Only the `error` and `error_description` of an
/// error response are quoted.
pub fn classify<RE: std::error::Error + 'static>(
    err: &RequestTokenError<RE, BasicErrorResponse>,
    status: Option<u16>,
    sent: &[String],
) -> TokenFailure {
    let sent = with_form_encoded(sent);
    let clean = |s: &str, n: usize| printable(&scrub_secrets(s, &sent), n);
    let http = match status {
        Some(s) if s != 200 => format!(" (HTTP {s})"),
        _ => String::new(),
    };
    let plain = |message: String| TokenFailure {
        invalid_grant: false,
        code: None,
        message,
    };
    match err {
        RequestTokenError::ServerResponse(e) => {
            let code = clean(e.error().as_ref(), 300);
            let mut message = format!("the token endpoint answered `{code}`{http}");
            if let Some(d) = e.error_description() {
                message.push_str(&format!(": {}", clean(d, 300)));
            }
            TokenFailure {
                invalid_grant: grant_is_dead(&code),
                code: Some(code),
                message,
            }
        }
        RequestTokenError::Request(e) => plain(format!(
            "the token endpoint could not be reached: {}",
            clean(&e.to_string(), 300)
        )),
        RequestTokenError::Parse(_, body)
            if status.is_some_and(|s| !(200..300).contains(&s)) || is_error_response(body) =>
        {
            match error_fields(body, &clean) {
                Some((code, description)) => {
                    // A 2xx error response names its status too: it is not what RFC 6749 asks.
                    let http = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
                    let mut message = format!("the token endpoint answered `{code}`{http}");
                    if let Some(d) = description {
                        message.push_str(&format!(": {d}"));
                    }
                    TokenFailure {
                        invalid_grant: grant_is_dead(&code),
                        code: Some(code),
                        message,
                    }
                }
                None => plain(format!(
                    "the token endpoint failed{http}; its answer ({} bytes) is not an OAuth error \
                     response and is not shown",
                    body.len()
                )),
            }
        }
        RequestTokenError::Parse(e, body) => plain(format!(
            "the token endpoint's answer{http} is not a valid token response ({}; {} bytes, not \
             shown: it may hold tokens)",
            parse_problem(e),
            body.len()
        )),
        RequestTokenError::Other(m) => plain(format!(
            "the token endpoint's answer is unusable{http}: {}",
            clean(m, 300)
        )),
    }
}

/// Whether a body that is not a token response is an OAuth error response: a JSON object
/// with a string `error` and no `access_token` (whatever the HTTP status).
fn is_error_response(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
        v.get("error").is_some_and(serde_json::Value::is_string) && v.get("access_token").is_none()
    })
}

/// `error` and `error_description` of an OAuth error response body (RFC 6749 §5.2), each
/// passed through `clean` (at most 300 characters).
fn error_fields(
    body: &[u8],
    clean: &impl Fn(&str, usize) -> String,
) -> Option<(String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error")?.as_str()?;
    let description = v
        .get("error_description")
        .and_then(serde_json::Value::as_str)
        .map(|d| clean(d, 300));
    Some((clean(code, 300), description))
}

/// The credentials a token request sent, as written and form-encoded (the body's encoding,
/// which a provider may quote back).
fn with_form_encoded(sent: &[String]) -> Vec<String> {
    let encoded = sent
        .iter()
        .map(|s| oauth2::url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>());
    let mut all: Vec<String> = sent.iter().cloned().chain(encoded).collect();
    all.dedup();
    all
}

/// What is wrong with a token response, without any of its values: the JSON path at fault
/// and the kind of problem (never the parser's message, which can quote a value).
fn parse_problem<E: std::fmt::Display>(e: &E) -> String {
    let text = e.to_string();
    let kind = if text.contains("missing field") {
        "a required field is missing"
    } else if text.contains("invalid type") || text.contains("invalid value") {
        "a field has the wrong type"
    } else if text.contains("expected") || text.contains("EOF") {
        "it is not JSON"
    } else {
        "it cannot be read"
    };
    // Field names are quoted by the parser as `name`; keep the first such name only.
    match text.split('`').nth(1) {
        Some(field)
            if field.len() <= 40
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            format!("{kind}: `{field}`")
        }
        _ => kind.to_string(),
    }
}

/// Keeps an OAuth error code or description within RFC 6749's allowed characters
/// (printable ASCII without `"` and `\`) and 300 characters.
pub fn sanitize_error(s: &str) -> String {
    printable(s, 300)
}

/// At most `n` characters of `s` that RFC 6749 allows in an error description (printable
/// ASCII without `"` and `\`); a longer text ends with `...`. Provider text passed on in a
/// URL, a message or a log line is reduced so, leaving no line breaks or look-alike
/// characters in it.
fn printable(s: &str, n: usize) -> String {
    let mut clean: String = s
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .take(n + 1)
        .collect();
    if clean.len() > n {
        clean.truncate(n.saturating_sub(3));
        clean.push_str("...");
    }
    clean
}

/// Why a sign-in fails when `userinfo_url` answered a non-2xx `status`: the status and the start
/// of the answer, without the access token, reduced like a provider's error description
/// (printable ASCII, at most 200 characters).
pub fn userinfo_refused(status: u16, body: &[u8], access_token: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let scrubbed = scrub_secrets(&text, &[access_token.to_string()]);
    format!(
        "the userinfo endpoint answered {status}: {}",
        printable(&scrubbed, 200)
    )
}

/// `url` with `pairs` appended to its query (before any `#fragment`), form-encoded.
pub fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return url.to_string();
    }
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let extra = oauth2::url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut out = format!("{base}{sep}{extra}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Decodes `%XX` escapes of a path segment; `None` when malformed or not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
