//! A small but real OAuth 2.0 authorization server on loopback (RFC 6749 authorization code
//! grant with refresh tokens, RFC 7636 PKCE with S256, RFC 7009 revocation, a userinfo
//! endpoint), with an HTML login page a person (or headless Chromium) fills in.
//!
//! It is strict where a client could get things wrong: codes are single use and expire after
//! 60 s, the redirect_uri must repeat the authorize request's, a code issued with a PKCE
//! challenge needs the matching verifier, the client must authenticate (HTTP Basic or form
//! body), refresh tokens rotate (the old one dies at each use) and can be revoked, and, as
//! GitHub's API, its token, userinfo and revocation endpoints refuse a call without a
//! User-Agent (403).
//!
//! Test controls: [`Provider::fail_token_endpoint`] (500 or a non-JSON answer),
//! [`Provider::fail_refresh_for`] (one user's refreshes), [`Provider::grant_refresh_tokens`]
//! (always, at the first consent only as Google does, or never), [`Provider::revoke_user`],
//! and what it saw: [`Provider::authorize_requests`],
//! [`Provider::pkce_checks`], [`Provider::token_requests`], [`Provider::issued_tokens`],
//! [`Provider::app_hits`] (its `/app/…` pages stand in for the app's success/failure pages).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use oauth2::url::form_urlencoded;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::http_server::{Reply, Server};

pub const CLIENT_ID: &str = "tripline-test-client";
pub const CLIENT_SECRET: &str = "test/client+secret with spaces";
/// Every username signs in with this password.
pub const PASSWORD: &str = "correct horse";

/// How the token endpoint misbehaves when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    /// 500 with a plain-text body.
    Status500,
    /// 200 with an HTML body.
    Garbage,
    /// 200 with JSON that holds tokens but is not a valid token response (its `access_token`
    /// is not a string, and it has no `token_type`).
    UntypedTokens,
    /// 200 with an error response, as GitHub answers a dead refresh token:
    /// `{"error": "bad_refresh_token", "error_description": …}`.
    BadRefreshToken200,
    /// 400 `invalid_grant` whose description quotes what the request sent: the code or refresh
    /// token, the PKCE verifier and a client secret sent in the body (as some providers echo
    /// a refused grant).
    QuotesRequest,
}

/// When the token endpoint grants a refresh token with a code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshTokens {
    #[default]
    Always,
    /// Only at a user's first consent (Google without `prompt=consent`): signing in again
    /// gets an access token and no refresh token.
    FirstConsentOnly,
    Never,
}

/// The tokens [`TokenFailure::UntypedTokens`] answers with: they must never be quoted.
pub const UNTYPED_ACCESS_TOKEN: &str = "at-must-never-be-quoted-7d1f";

/// One PKCE verification at the token endpoint.
#[derive(Debug, Clone)]
pub struct PkceCheck {
    pub challenge: String,
    pub method: String,
    pub verifier: Option<String>,
    pub matched: bool,
}

/// One token endpoint request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub grant_type: String,
    /// The user the request was for, when the provider knows it (empty otherwise).
    pub username: String,
    pub client_auth: &'static str,
    /// The error answered, `None` on success.
    pub error: Option<String>,
}

struct Code {
    redirect_uri: String,
    challenge: Option<(String, String)>,
    username: String,
    scope: String,
    issued: Instant,
}

struct Grant {
    username: String,
    scope: String,
}

struct AccessToken {
    username: String,
    expires: Instant,
}

#[derive(Default)]
struct State {
    access_ttl: u64,
    redirect_prefix: String,
    codes: HashMap<String, Code>,
    refresh: HashMap<String, Grant>,
    access: HashMap<String, AccessToken>,
    failure: Option<TokenFailure>,
    refresh_failures: HashMap<String, TokenFailure>,
    refresh_tokens_when: RefreshTokens,
    /// `expires_in` as a numeric string (`"3600"`), as Azure AD v1 and ADFS send it.
    expires_in_as_text: bool,
    /// `scope` as a list of texts (`["read", "write"]`), as Twitch sends it, granting one more
    /// than was asked for (`granted-extra`), so that the list is seen to be read.
    scope_as_list: bool,
    /// Refreshes answer without `expires_in` (the standard only recommends it).
    refreshes_without_expires_in: bool,
    /// Refreshes answer without `token_type`, as `text/html` (as some providers do).
    refreshes_untyped_as_html: bool,
    /// Token answers send `expires_in` with a fraction (`120.0`) and `token_type: null`.
    fractional_expiry_null_type: bool,
    /// Refreshes answer with this status instead of 200 (a 201).
    refresh_status: Option<u16>,
    /// The userinfo endpoint answers 503 this many more times.
    userinfo_failures: usize,
    /// Calls of the userinfo endpoint.
    userinfo_calls: usize,
    /// The token endpoint answers this many milliseconds late.
    token_delay_ms: u64,
    consented: HashSet<String>,
    authorize_requests: Vec<HashMap<String, String>>,
    pkce: Vec<PkceCheck>,
    token_requests: Vec<TokenRequest>,
    issued: Vec<String>,
    app_hits: Vec<String>,
}

pub struct Provider {
    pub base: String,
    state: Arc<Mutex<State>>,
}

/// The provider's error answer (RFC 6749, section 5.2).
impl Reply {
    fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": error, "error_description": description}),
        )
    }
}

fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 24];
    getrandom::getrandom(&mut b).expect("random");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

fn parse_form(s: &str) -> HashMap<String, String> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn with_params(url: &str, pairs: &[(&str, &str)]) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{q}")
}

impl Provider {
    /// Starts the server. Redirect URIs must start with `redirect_prefix` (the Worker's base),
    /// access tokens live `access_ttl` seconds.
    pub fn start(redirect_prefix: &str, access_ttl: u64) -> Provider {
        let server = Server::bind();
        let base = server.base();
        let state = Arc::new(Mutex::new(State {
            access_ttl,
            redirect_prefix: redirect_prefix.to_string(),
            ..Default::default()
        }));
        let st = state.clone();
        server.serve(move |request| {
            // As GitHub's API does: a call without a User-Agent is refused.
            let api = ["/token", "/userinfo", "/revoke"]
                .iter()
                .any(|p| request.url.split('?').next() == Some(p));
            if api && request.header("user-agent").is_none_or(str::is_empty) {
                return Reply::html(
                    403,
                    "Request forbidden by administrative rules. Please make sure your request \
                     has a User-Agent header"
                        .into(),
                );
            }
            if request.url.split('?').next() == Some("/token") {
                let delay = st.lock().unwrap().token_delay_ms;
                std::thread::sleep(std::time::Duration::from_millis(delay));
            }
            handle(
                &st,
                &request.method,
                &request.url,
                request.header("authorization"),
                &request.text(),
            )
            .with_header("cache-control", "no-store")
        });
        Provider { base, state }
    }

    /// The trigger fields pointing at this provider.
    pub fn trigger(&self, secret_env: &str, scopes: &[&str]) -> Value {
        json!({
            "type": "oauth",
            "authorize_url": format!("{}/authorize", self.base),
            "token_url": format!("{}/token", self.base),
            "client_id": CLIENT_ID,
            "client_secret_env": secret_env,
            "scopes": scopes,
            "success_url": format!("{}/app/done", self.base),
            "failure_url": format!("{}/app/failed", self.base),
            "userinfo_url": format!("{}/userinfo", self.base),
        })
    }

    pub fn fail_token_endpoint(&self, f: Option<TokenFailure>) {
        self.state.lock().unwrap().failure = f;
    }

    /// Makes the refreshes of one user's tokens fail (`None`: work again); the refresh token
    /// stays valid.
    pub fn fail_refresh_for(&self, username: &str, f: Option<TokenFailure>) {
        let mut s = self.state.lock().unwrap();
        match f {
            Some(f) => s.refresh_failures.insert(username.to_string(), f),
            None => s.refresh_failures.remove(username),
        };
    }

    /// Token answers send `expires_in` as a numeric string (`"3600"`) instead of a number.
    pub fn send_expires_in_as_text(&self, on: bool) {
        self.state.lock().unwrap().expires_in_as_text = on;
    }

    /// Token answers send `scope` as a list of texts instead of one space-separated text.
    pub fn send_scope_as_list(&self, on: bool) {
        self.state.lock().unwrap().scope_as_list = on;
    }

    /// The token endpoint answers `ms` milliseconds late (0: at once).
    pub fn delay_token_endpoint(&self, ms: u64) {
        self.state.lock().unwrap().token_delay_ms = ms;
    }

    /// The userinfo endpoint answers 503 to the next `times` calls.
    pub fn fail_userinfo(&self, times: usize) {
        self.state.lock().unwrap().userinfo_failures = times;
    }

    /// How many times the userinfo endpoint was called.
    pub fn userinfo_calls(&self) -> usize {
        self.state.lock().unwrap().userinfo_calls
    }

    /// Token answers send `expires_in` with a fraction (`120.0`) and `"token_type": null`.
    pub fn send_fractional_expiry_and_null_type(&self, on: bool) {
        self.state.lock().unwrap().fractional_expiry_null_type = on;
    }

    /// Refreshes answer without `expires_in`; sign-ins still send it.
    pub fn refresh_without_expires_in(&self, on: bool) {
        self.state.lock().unwrap().refreshes_without_expires_in = on;
    }

    /// Refreshes answer without `token_type`, sent as `text/html`; sign-ins are as usual.
    pub fn refresh_untyped_as_html(&self, on: bool) {
        self.state.lock().unwrap().refreshes_untyped_as_html = on;
    }

    /// Refreshes succeed with this status instead of 200 (`None`: 200).
    pub fn refresh_with_status(&self, status: Option<u16>) {
        self.state.lock().unwrap().refresh_status = status;
    }

    pub fn grant_refresh_tokens(&self, when: RefreshTokens) {
        self.state.lock().unwrap().refresh_tokens_when = when;
    }

    /// Revokes every refresh token of a user (as the user would from the provider's
    /// "connected apps" page).
    pub fn revoke_user(&self, username: &str) {
        self.state
            .lock()
            .unwrap()
            .refresh
            .retain(|_, g| g.username != username);
    }

    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.state.lock().unwrap().authorize_requests.clone()
    }
    pub fn pkce_checks(&self) -> Vec<PkceCheck> {
        self.state.lock().unwrap().pkce.clone()
    }
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.lock().unwrap().token_requests.clone()
    }
    /// Every access and refresh token ever issued.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }
    pub fn app_hits(&self) -> Vec<String> {
        self.state.lock().unwrap().app_hits.clone()
    }
}

fn handle(st: &Mutex<State>, method: &str, url: &str, auth: Option<&str>, body: &str) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let q = parse_form(query);
    match (method, path) {
        ("GET", "/authorize") => authorize_page(st, &q),
        ("POST", "/authorize") => authorize_submit(st, &parse_form(body)),
        ("POST", "/token") => token(st, auth, &parse_form(body)),
        ("POST", "/revoke") => {
            let form = parse_form(body);
            if client_auth(auth, &form).is_none() {
                return Reply::oauth_error(401, "invalid_client", "client authentication failed");
            }
            if let Some(t) = form.get("token") {
                st.lock().unwrap().refresh.remove(t);
            }
            Reply::json(200, json!({}))
        }
        ("GET", "/userinfo") => {
            let token = auth.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
            let mut s = st.lock().unwrap();
            s.userinfo_calls += 1;
            if s.userinfo_failures > 0 {
                s.userinfo_failures -= 1;
                return Reply::oauth_error(503, "temporarily_unavailable", "try again later");
            }
            match s.access.get(token) {
                Some(a) if a.expires > Instant::now() => Reply::json(
                    200,
                    json!({"sub": a.username, "name": format!("User {}", a.username),
                           "email": format!("{}@example.test", a.username),
                           // A provider's own credential in its answer (never shown).
                           "session_token": format!("st-{}-0123456789", a.username)}),
                ),
                _ => Reply::oauth_error(401, "invalid_token", "unknown or expired access token"),
            }
        }
        ("GET", p) if p.starts_with("/app/") => {
            st.lock().unwrap().app_hits.push(url.to_string());
            let title = if p == "/app/done" {
                "Connected"
            } else {
                "Connection failed"
            };
            Reply::html(
                200,
                format!("<!doctype html><title>{title}</title><h1 id=\"result\">{title}</h1>"),
            )
        }
        _ => Reply::html(404, "not found".into()),
    }
}

/// Checks an authorize request. `Err` is either a page (no redirect: the client or its
/// redirect_uri cannot be trusted) or an error redirect to the client.
fn check_authorize(st: &Mutex<State>, q: &HashMap<String, String>) -> Result<(), Reply> {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return Err(Reply::html(400, "<h1>Unknown client</h1>".into()));
    }
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !redirect.starts_with(&st.lock().unwrap().redirect_prefix) {
        return Err(Reply::html(
            400,
            "<h1>redirect_uri not registered</h1>".into(),
        ));
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let error = |e: &str, d: &str| {
        Reply::redirect(&with_params(
            &redirect,
            &[("error", e), ("error_description", d), ("state", &state)],
        ))
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err(error("unsupported_response_type", "only code is supported"));
    }
    match (q.get("code_challenge"), q.get("code_challenge_method")) {
        (Some(_), Some(m)) if m == "S256" => {}
        (Some(_), _) => {
            return Err(error(
                "invalid_request",
                "only S256 challenges are accepted",
            ))
        }
        (None, Some(_)) => return Err(error("invalid_request", "method without challenge")),
        (None, None) => {}
    }
    Ok(())
}

fn authorize_page(st: &Mutex<State>, q: &HashMap<String, String>) -> Reply {
    st.lock().unwrap().authorize_requests.push(q.clone());
    if let Err(r) = check_authorize(st, q) {
        return r;
    }
    login_form(q, None)
}

fn login_form(q: &HashMap<String, String>, error: Option<&str>) -> Reply {
    let mut hidden = String::new();
    let mut keys: Vec<_> = q.keys().collect();
    keys.sort();
    for k in keys {
        if ["username", "password", "decision"].contains(&k.as_str()) {
            continue;
        }
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            html_escape(k),
            html_escape(&q[k])
        ));
    }
    let scope = q.get("scope").cloned().unwrap_or_default();
    let error = error
        .map(|e| format!("<p id=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    Reply::html(
        200,
        format!(
            "<!doctype html><html><head><title>Sign in to Test Provider</title></head><body>
<h1>Sign in to Test Provider</h1>
<p>An app asks for access to: <b>{}</b></p>{error}
<form method=\"post\" action=\"/authorize\">
{hidden}<label>Username <input id=\"username\" name=\"username\" autocomplete=\"username\"></label>
<label>Password <input id=\"password\" name=\"password\" type=\"password\"></label>
<button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>
<button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>
</form></body></html>",
            html_escape(&scope)
        ),
    )
}

fn authorize_submit(st: &Mutex<State>, form: &HashMap<String, String>) -> Reply {
    if let Err(r) = check_authorize(st, form) {
        return r;
    }
    let redirect = form["redirect_uri"].clone();
    let state = form.get("state").cloned().unwrap_or_default();
    if form.get("decision").map(String::as_str) == Some("deny") {
        return Reply::redirect(&with_params(
            &redirect,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied access"),
                ("state", &state),
            ],
        ));
    }
    let username = form.get("username").cloned().unwrap_or_default();
    if username.is_empty() || form.get("password").map(String::as_str) != Some(PASSWORD) {
        return login_form(form, Some("Wrong username or password"));
    }
    let code = random_token("code_");
    let challenge = form.get("code_challenge").map(|c| {
        (
            c.clone(),
            form.get("code_challenge_method")
                .cloned()
                .unwrap_or_default(),
        )
    });
    st.lock().unwrap().codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect.clone(),
            challenge,
            username,
            scope: form.get("scope").cloned().unwrap_or_default(),
            issued: Instant::now(),
        },
    );
    Reply::redirect(&with_params(
        &redirect,
        &[("code", &code), ("state", &state)],
    ))
}

/// The authenticated client: HTTP Basic (id and secret form-urlencoded, RFC 6749 §2.3.1)
/// or `client_id` + `client_secret` in the body.
fn client_auth(auth: Option<&str>, form: &HashMap<String, String>) -> Option<&'static str> {
    if let Some(b) = auth.and_then(|a| a.strip_prefix("Basic ")) {
        let decoded = String::from_utf8(STANDARD.decode(b.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let dec = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return (dec(id)?.as_str() == CLIENT_ID && dec(secret)?.as_str() == CLIENT_SECRET)
            .then_some("client_secret_basic");
    }
    (form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET))
    .then_some("client_secret_post")
}

fn token(st: &Mutex<State>, auth: Option<&str>, form: &HashMap<String, String>) -> Reply {
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let (failure, refresh_user) = {
        let s = st.lock().unwrap();
        let user = (grant_type == "refresh_token")
            .then(|| form.get("refresh_token").and_then(|t| s.refresh.get(t)))
            .flatten()
            .map(|g| g.username.clone())
            .unwrap_or_default();
        let failure = s
            .failure
            .or_else(|| client_auth(auth, form).and(s.refresh_failures.get(&user).copied()));
        (failure, user)
    };
    let record = |client_auth: &'static str, error: Option<&str>| {
        st.lock().unwrap().token_requests.push(TokenRequest {
            grant_type: grant_type.clone(),
            username: refresh_user.clone(),
            client_auth,
            error: error.map(str::to_string),
        });
    };
    match failure {
        Some(TokenFailure::BadRefreshToken200) => {
            record("", Some("bad_refresh_token"));
            return Reply::oauth_error(
                200,
                "bad_refresh_token",
                "The refresh token passed is incorrect or expired.",
            );
        }
        Some(TokenFailure::QuotesRequest) => {
            record("", Some("invalid_grant"));
            let quoted: Vec<&str> = ["code", "refresh_token", "code_verifier", "client_secret"]
                .iter()
                .filter_map(|k| form.get(*k).map(String::as_str))
                .collect();
            return Reply::oauth_error(
                400,
                "invalid_grant",
                &format!("Invalid grant: {}", quoted.join(" ")),
            );
        }
        Some(TokenFailure::Status500) => {
            record("", Some("http_500"));
            return Reply::new(500, "text/plain", "internal server error");
        }
        Some(TokenFailure::Garbage) => {
            record("", Some("garbage"));
            return Reply::html(200, "<html><body>Maintenance</body></html>".into());
        }
        Some(TokenFailure::UntypedTokens) => {
            record("", Some("untyped"));
            return Reply::json(
                200,
                format!(
                    "{{\"access_token\":[\"{UNTYPED_ACCESS_TOKEN}\"],\"refresh_token\":\"rt-{UNTYPED_ACCESS_TOKEN}\"}}"
                ),
            );
        }
        None => {}
    }
    let Some(client) = client_auth(auth, form) else {
        record("", Some("invalid_client"));
        return Reply::oauth_error(401, "invalid_client", "client authentication failed");
    };
    let fail = |e: &str, d: &str| {
        record(client, Some(e));
        Reply::oauth_error(400, e, d)
    };
    let (username, scope) = match grant_type.as_str() {
        "authorization_code" => {
            let Some(code) = form
                .get("code")
                .and_then(|c| st.lock().unwrap().codes.remove(c))
            else {
                return fail("invalid_grant", "unknown or already used code");
            };
            if code.issued.elapsed() > Duration::from_secs(60) {
                return fail("invalid_grant", "the code has expired");
            }
            if form.get("redirect_uri") != Some(&code.redirect_uri) {
                return fail("invalid_grant", "redirect_uri does not match");
            }
            if let Some((challenge, method)) = &code.challenge {
                let verifier = form.get("code_verifier").cloned();
                let matched = verifier.as_ref().is_some_and(|v| {
                    (43..=128).contains(&v.len())
                        && URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *challenge
                });
                st.lock().unwrap().pkce.push(PkceCheck {
                    challenge: challenge.clone(),
                    method: method.clone(),
                    verifier,
                    matched,
                });
                if !matched {
                    return fail("invalid_grant", "PKCE verification failed");
                }
            }
            (code.username, code.scope)
        }
        "refresh_token" => {
            // Rotation: the presented refresh token dies now, a new one is issued.
            let Some(grant) = form
                .get("refresh_token")
                .and_then(|t| st.lock().unwrap().refresh.remove(t))
            else {
                return fail("invalid_grant", "the refresh token is invalid or revoked");
            };
            (grant.username, grant.scope)
        }
        _ => {
            return fail(
                "unsupported_grant_type",
                "use authorization_code or refresh_token",
            )
        }
    };
    let access = random_token("at_");
    let mut s = st.lock().unwrap();
    let with_refresh = grant_type == "refresh_token"
        || match s.refresh_tokens_when {
            RefreshTokens::Always => true,
            RefreshTokens::FirstConsentOnly => !s.consented.contains(&username),
            RefreshTokens::Never => false,
        };
    s.consented.insert(username.clone());
    let refresh = with_refresh.then(|| random_token("rt_"));
    let ttl = s.access_ttl;
    s.access.insert(
        access.clone(),
        AccessToken {
            username: username.clone(),
            expires: Instant::now() + Duration::from_secs(ttl),
        },
    );
    s.issued.push(access.clone());
    if let Some(refresh) = &refresh {
        s.refresh.insert(
            refresh.clone(),
            Grant {
                username: username.clone(),
                scope: scope.clone(),
            },
        );
        s.issued.push(refresh.clone());
    }
    s.token_requests.push(TokenRequest {
        grant_type: grant_type.clone(),
        username,
        client_auth: client,
        error: None,
    });
    let expires_in = match s.expires_in_as_text {
        true => json!(ttl.to_string()),
        false => json!(ttl),
    };
    let scope = match s.scope_as_list {
        true => json!(scope
            .split_whitespace()
            .chain(["granted-extra"])
            .collect::<Vec<_>>()),
        false => json!(scope),
    };
    let mut answer = json!({"access_token": access, "token_type": "Bearer",
                            "expires_in": expires_in, "scope": scope});
    if let Some(refresh) = refresh {
        answer["refresh_token"] = json!(refresh);
    }
    if s.fractional_expiry_null_type {
        answer["expires_in"] = json!(ttl as f64);
        answer["token_type"] = Value::Null;
    }
    if grant_type == "refresh_token" && s.refreshes_without_expires_in {
        answer.as_object_mut().unwrap().remove("expires_in");
    }
    if grant_type == "refresh_token" && s.refreshes_untyped_as_html {
        answer.as_object_mut().unwrap().remove("token_type");
        return Reply::new(200, "text/html", answer.to_string());
    }
    match s.refresh_status.filter(|_| grant_type == "refresh_token") {
        Some(status) => Reply::json(status, answer),
        None => Reply::json(200, answer),
    }
}
