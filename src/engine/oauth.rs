//! The OAuth trigger at run time: the `oauth2` crate's token requests sent with the
//! platform's `fetch`, the userinfo call, supplying the real access token to a run's steps,
//! and the Cron pass that refreshes connections before they expire.

use std::cell::{Cell, RefCell};
use std::time::Duration;
use tripline_core::kernel::json_parse;

use futures_util::stream::{self, StreamExt};
use oauth2::{AuthorizationCode, PkceCodeVerifier, RefreshToken};
use serde_json::{json, Value};
use worker::Env;

use crate::platform::fetch::{self, FetchFailure, Fetched, Outbound, OutboundBody};

use crate::platform::{env_string, now_ms, random_bytes};
use crate::store::{self, connections};
use tripline_core::kernel::crypto::{self, KeyError, SealKey};
use tripline_core::kernel::time::{iso_millis, parse_millis};
use tripline_core::oauth::expires_in::readable_token_response;
use tripline_core::oauth::flow::{
    classify, client, token_set, userinfo_refused, TokenFailure, TokenSet,
};
use tripline_core::oauth::refresh::{
    oauth_trigger_of, refresh_at, refresh_config, refreshed_expiry, retry_at, retry_delay_ms,
    FIRST_RETRY_MS,
};
use tripline_core::oauth::{run_token, OAuthTrigger};

/// Each call to the provider gives up after this long.
const PROVIDER_TIMEOUT_MS: u64 = 15_000;
/// A refresh holds its connection for at most this long.
const REFRESH_LEASE_MS: i64 = 60_000;
/// The longest lease a refresh takes: [`REFRESH_LEASE_MS`] and a jitter of up to 255 ms.
pub const MAX_REFRESH_LEASE_MS: i64 = REFRESH_LEASE_MS + 256;
/// Connections refreshed at once by the Cron pass (`OAUTH_REFRESH_BATCH`, 1–200).
const REFRESH_BATCH: u32 = 50;
/// Token calls the Cron pass has in flight at once: the connections the platform opens at once
/// per invocation (it holds further calls back, their deadlines already running).
const REFRESH_CONCURRENCY: usize = 6;
/// A Cron pass takes batch after batch while connections are due, up to this many refreshes
/// (each is a few subrequests: the claim, the token call, the save)…
const REFRESH_PASS_MAX: usize = 1_000;
/// … and stops starting batches after this long (a pass runs once a minute).
const REFRESH_PASS_MS: i64 = 40_000;

/// The batch size: `OAUTH_REFRESH_BATCH` when set to 1–200, else [`REFRESH_BATCH`].
fn refresh_batch(env: &Env) -> u32 {
    env_string(env, "OAUTH_REFRESH_BATCH")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| (1..=200).contains(n))
        .unwrap_or(REFRESH_BATCH)
}

/// The `TRIPLINE_ENCRYPTION_KEY` secret, parsed.
pub fn seal_key(env: &Env) -> Result<SealKey, KeyError> {
    crypto::parse_key(env_string(env, "TRIPLINE_ENCRYPTION_KEY").as_deref())
}

/// Associated data for a connection's tokens (`which` = `access` | `refresh`).
pub fn token_aad(which: &str, workflow_id: &str, user_id: &str) -> String {
    format!("conn:{which}:{workflow_id}:{user_id}")
}

/// Encrypts with a fresh random nonce.
pub fn seal(key: &SealKey, aad: &str, plaintext: &str) -> worker::Result<String> {
    Ok(crypto::seal(key, random_bytes::<12>()?, aad, plaintext))
}

/// Why the HTTP call to the provider failed.
#[derive(Debug)]
pub struct FetchError(String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FetchError {}

/// Largest token or userinfo answer read from a provider.
const MAX_PROVIDER_BODY: usize = 1024 * 1024;

/// Sends one request with a timeout; the body is read up to [`MAX_PROVIDER_BODY`]. A request to
/// the provider carries a code, a secret or a token: redirects are followed only within the
/// endpoint's own origin.
async fn send(out: &Outbound<'_>, timeout_ms: u64) -> Result<Fetched, FetchError> {
    match fetch::send_within_origin(out, Duration::from_millis(timeout_ms), MAX_PROVIDER_BODY).await
    {
        Ok(r) => match r.truncated {
            Some(cut) => Err(FetchError(format!(
                "the provider's answer is too large: {}",
                cut.describe()
            ))),
            None => Ok(r),
        },
        Err(FetchFailure::Header(k)) => Err(FetchError(format!("header {k} is not valid"))),
        Err(FetchFailure::Invalid(e)) => {
            Err(FetchError(format!("the request could not be built: {e}")))
        }
        Err(FetchFailure::Network(e)) => Err(FetchError(format!("network error: {e}"))),
        Err(FetchFailure::TimedOut) => Err(FetchError(format!("no answer within {timeout_ms} ms"))),
        Err(FetchFailure::Redirected(m)) => Err(FetchError(m)),
    }
}

/// The `oauth2` crate's async HTTP client, on the platform's `fetch` (used for the token
/// endpoint only).
pub async fn fetch_http(req: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, FetchError> {
    let (parts, body) = req.into_parts();
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (k, v) in &parts.headers {
        let v = v
            .to_str()
            .map_err(|_| FetchError(format!("header {k} is not text")))?;
        headers.push((k.as_str().to_string(), v.to_string()));
    }
    let url = parts.uri.to_string();
    let out = Outbound {
        method: parts.method.as_str(),
        url: &url,
        headers: &headers,
        body: (!body.is_empty()).then_some(OutboundBody::Bytes(&body)),
        manual_redirect: true,
    };
    let resp = send(&out, PROVIDER_TIMEOUT_MS).await?;
    // A success whose body is a JSON object is read as JSON whatever type it was sent as (some
    // providers say `text/html` or `text/javascript`): refused, a rotated refresh token in it
    // would be lost.
    let json_success = (200..300).contains(&resp.status)
        && resp.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // The crate reads one header of the answer, its type: only that one is handed on. (Every
    // other name would go through `http`'s parser of header names, 13 KB of wasm, and a name
    // it refused would fail the exchange.)
    let content_type = match json_success {
        true => Some("application/json"),
        false => resp
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str()),
    };
    // Such an answer goes on as a `200`: the crate reads any other status, a `201` too, as an
    // error, and a rotated refresh token in it would be lost.
    let status = if json_success { 200 } else { resp.status };
    let mut builder = oauth2::http::Response::builder().status(status);
    if let Some(t) = content_type {
        builder = builder.header(oauth2::http::header::CONTENT_TYPE, t);
    }
    // A numeric-string `expires_in` ("3600") is read as the number the crate expects, and a
    // missing `token_type` as `Bearer`.
    let body = readable_token_response(&resp.body).unwrap_or(resp.body);
    builder.body(body).map_err(|e| FetchError(e.to_string()))
}

/// [`fetch_http`], remembering the HTTP status (for error messages).
async fn recording(
    req: oauth2::HttpRequest,
    status: &Cell<Option<u16>>,
) -> Result<oauth2::HttpResponse, FetchError> {
    let resp = fetch_http(req).await?;
    status.set(Some(resp.status().as_u16()));
    Ok(resp)
}

/// Exchanges an authorization code (with the PKCE verifier when there is one).
pub async fn exchange_code(
    trigger: &OAuthTrigger,
    secret: &str,
    redirect_uri: &str,
    code: &str,
    verifier: Option<String>,
) -> Result<TokenSet, TokenFailure> {
    let client = client(trigger, secret, Some(redirect_uri)).map_err(config_failure)?;
    // What the request sends, scrubbed from any error text the provider answers.
    let mut sent = vec![code.to_string(), secret.to_string()];
    sent.extend(verifier.clone());
    let mut req = client.exchange_code(AuthorizationCode::new(code.to_string()));
    if let Some(v) = verifier {
        req = req.set_pkce_verifier(PkceCodeVerifier::new(v));
    }
    let status = Cell::new(None);
    let http = |r| recording(r, &status);
    match req.request_async(&http).await {
        Ok(resp) => match token_set(&resp, &trigger.scopes, now_ms()) {
            // Nothing to call an API with: no connection is made of it.
            set if set.access_token.trim().is_empty() => Err(config_failure(
                "the token endpoint answered an empty `access_token`".into(),
            )),
            set => Ok(set),
        },
        Err(e) => Err(classify(&e, status.get(), &sent)),
    }
}

fn config_failure(message: String) -> TokenFailure {
    TokenFailure {
        invalid_grant: false,
        code: None,
        message,
    }
}

/// Calls `userinfo_url` with the access token; the answer must be a JSON object. A passing
/// failure (unreachable, a timeout, a 5xx or 429) is tried once more: a sign-in that fails
/// here sends the end user to its `failure_url` and starts no run; the refresh token the code
/// exchange returned may be kept (`api::oauth::keep_consent`).
pub async fn userinfo(url: &str, tokens: &TokenSet) -> Result<Value, String> {
    match userinfo_once(url, tokens).await {
        Err((_, true)) => userinfo_once(url, tokens).await,
        other => other,
    }
    .map_err(|(why, _)| why)
}

/// One call of [`userinfo`]; an error says why, and whether it may pass.
async fn userinfo_once(url: &str, tokens: &TokenSet) -> Result<Value, (String, bool)> {
    let headers = [
        (
            "authorization".to_string(),
            format!("Bearer {}", tokens.access_token),
        ),
        ("accept".to_string(), "application/json".to_string()),
    ];
    let out = Outbound {
        method: "GET",
        url,
        headers: &headers,
        body: None,
        manual_redirect: true,
    };
    let Fetched { status, body, .. } = send(&out, PROVIDER_TIMEOUT_MS).await.map_err(|e| {
        (
            format!("the userinfo endpoint could not be reached: {e}"),
            true,
        )
    })?;
    if !(200..300).contains(&status) {
        let passing = status >= 500 || status == 429;
        return Err((
            userinfo_refused(status, &body, &tokens.access_token),
            passing,
        ));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        // Not quoted: a 2xx answer may hold personal data or tokens.
        _ => Err((
            format!(
                "the userinfo endpoint's answer is not a JSON object ({} bytes, not shown)",
                body.len()
            ),
            false,
        )),
    }
}

thread_local! {
    /// Whether the fault `connection-read-once` has failed a read in this isolate.
    static CONNECTION_READ_FAILED: Cell<bool> = const { Cell::new(false) };
}

/// Gives a run's steps the real access token. The stored run input holds `oauth` with
/// `access_token: "[redacted]"`; a run started by a sign-in carries that sign-in's token
/// sealed (put back into `oauth` before this is called), used as is while it is valid beyond
/// the refresh window (`run_token::carried_token_usable`): no connection is read. Otherwise
/// (a replay, a run created by an earlier version, a token due for refresh) the token and its
/// current expiry are read from the end user's connection and decrypted, so steps get the
/// freshest token. Fails when that connection is gone, needs a new sign-in, holds a token past
/// its expiry whose refreshes fail (either way the token is dead: the run would only collect
/// the provider's 401s) or cannot be decrypted: `Ok(Err(why))`. A failed read of the
/// connection is an `Err`, so that the run is tried again rather than failed for good.
pub async fn hydrate(
    env: &Env,
    workflow_id: &str,
    oauth: &mut Value,
    now_ms: i64,
) -> worker::Result<Result<(), String>> {
    if run_token::carried_token_usable(oauth, now_ms) {
        return Ok(Ok(()));
    }
    let Some(user_id) = oauth
        .get("user_id")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(Ok(()));
    };
    if crate::platform::dev_fault::listed(env, "connection-read-once")
        && !CONNECTION_READ_FAILED.replace(true)
    {
        return Err(worker::Error::RustError(
            "injected fault connection-read-once".into(),
        ));
    }
    let Some(conn) = connections::get(&store::db(env)?, workflow_id, &user_id).await? else {
        return Ok(Err(format!(
            "the OAuth connection of user `{user_id}` no longer exists (it was deleted); the end user must sign in again"
        )));
    };
    if conn.status == "needs_reauth" {
        return Ok(Err(needs_sign_in(&user_id, &conn)));
    }
    // An access token past its expiry whose refreshes fail is dead too: the run says why
    // instead of collecting the provider's 401s.
    if let (Some(expired_at), Some(error)) = (conn.expires_at, conn.last_refresh_error.as_deref()) {
        if expired_at <= now_ms {
            return Ok(Err(expired_and_failing(&user_id, expired_at, error)));
        }
    }
    let token = seal_key(env).map_err(|e| e.to_string()).and_then(|key| {
        crypto::open(
            &key,
            &token_aad("access", workflow_id, &user_id),
            &conn.access_token,
        )
        .map_err(|e| e.to_string())
    });
    let token = match token {
        Ok(token) => token,
        Err(e) => return Ok(Err(format!("cannot read the access token: {e}"))),
    };
    oauth["access_token"] = Value::String(token);
    oauth["expires_at"] = json!(conn.expires_at.map(iso_millis));
    // A refresh may have narrowed the scopes the sign-in granted: the token's are the ones.
    if let Ok(scopes) = json_parse::from_str::<Value>(&conn.scopes) {
        if scopes.is_array() {
            oauth["scopes"] = scopes;
        }
    }
    Ok(Ok(()))
}

/// Why a connection whose refresh token the current key cannot decrypt does not refresh.
fn unreadable_refresh_token(error: &str) -> String {
    format!(
        "the refresh token cannot be read ({error}; was TRIPLINE_ENCRYPTION_KEY changed?): \
         tried again with the backoff; if the key changed for good, the end user must sign in again"
    )
}

/// Why a run fails on a connection whose access token expired while its refreshes fail.
fn expired_and_failing(user_id: &str, expired_at: i64, error: &str) -> String {
    format!(
        "the access token of user `{user_id}` expired at {} and refreshing it fails ({error}); \
         the refresh is tried again with the backoff",
        iso_millis(expired_at)
    )
}

/// Why a run on a `needs_reauth` connection fails: since when, and the provider's reason.
fn needs_sign_in(user_id: &str, conn: &connections::ConnectionRow) -> String {
    format!(
        "the OAuth connection of user `{user_id}` needs a new sign-in (since {}): {}",
        conn.needs_reauth_at.as_deref().unwrap_or("an unknown time"),
        conn.needs_reauth_reason
            .as_deref()
            .unwrap_or("no reason was recorded")
    )
}

/// What one refresh pass did.
#[derive(Debug, Default)]
pub struct RefreshReport {
    pub refreshed: usize,
    pub needs_reauth: usize,
    pub failed: usize,
    pub states_deleted: usize,
}

/// The Cron pass: refreshes connections expiring within 10 minutes (bounded batch, soonest
/// first, each failing one waiting out its backoff), marks `needs_reauth` the expired ones that
/// hold no refresh token, and deletes expired sign-in states.
pub async fn refresh_due(env: &Env) -> worker::Result<RefreshReport> {
    let db = store::db(env)?;
    let now = now_ms();
    // Housekeeping that fails (a passing database error) is logged and left to the next pass:
    // it never keeps the connections from being refreshed.
    let housekeeping = |what: &str, e: worker::Error| {
        worker::console_error!("oauth: {what} failed ({e}); the next pass tries again");
        0
    };
    let states = connections::delete_expired_states(&db, now)
        .await
        .unwrap_or_else(|e| housekeeping("deleting expired sign-in states", e));
    let links = connections::delete_expired_links(&db, now)
        .await
        .unwrap_or_else(|e| housekeeping("deleting expired sign-in links", e));
    let mut report = RefreshReport {
        states_deleted: states + links,
        ..Default::default()
    };
    let expired = connections::expire_unrefreshable(&db, now, &iso_millis(now), 500)
        .await
        .unwrap_or_else(|e| housekeeping("marking expired connections", e));
    if expired > 0 {
        worker::console_log!(
            "oauth: {expired} expired connection(s) without a refresh token need re-auth"
        );
    }
    report.needs_reauth += expired;
    let batch = refresh_batch(env);
    let mut key: Option<SealKey> = None;
    let mut taken = 0usize;
    let triggers = Triggers::default();
    // Batch after batch while connections are due: each refreshed, refused or failed one is no
    // longer due (a new `refresh_at`, `needs_reauth`, or its backoff), so every batch is new.
    while taken < REFRESH_PASS_MAX && now_ms() - now < REFRESH_PASS_MS {
        let due = connections::due(&db, now_ms(), batch, &iso_millis(now)).await?;
        if due.is_empty() {
            break;
        }
        let key = match &key {
            Some(k) => k,
            None => match seal_key(env) {
                Ok(k) => key.insert(k),
                Err(e) => {
                    worker::console_error!("oauth refresh skipped: {e}");
                    return Ok(report);
                }
            },
        };
        taken += due.len();
        // The configuration of a workflow with several connections in the batch read once,
        // before the refreshes that run at once (one with a single connection reads its own,
        // among them; a read that fails is made again by the refreshes).
        for (wf, _, version) in &due {
            let many = due
                .iter()
                .filter(|(w, _, v)| w == wf && v == version)
                .count()
                > 1;
            if many {
                let _ = trigger_kept(&db, &triggers, wf, *version).await;
            }
        }
        // A few at a time: each call's deadline starts when it is made, and the platform holds
        // calls past its open connections back, so a batch sent at once would let the last
        // ones time out unsent (and wait out a backoff they did not earn).
        let results: Vec<_> = stream::iter(
            due.iter()
                .map(|(wf, user, _)| refresh_one(env, key, &triggers, wf, user, now)),
        )
        .buffer_unordered(REFRESH_CONCURRENCY)
        .collect()
        .await;
        let mut moved = false;
        for r in results {
            match r {
                Ok(Outcome::Refreshed) => report.refreshed += 1,
                Ok(Outcome::NeedsReauth) => report.needs_reauth += 1,
                Ok(Outcome::Failed) => report.failed += 1,
                Ok(Outcome::Skipped) => {}
                Err(e) => {
                    report.failed += 1;
                    worker::console_error!("oauth refresh: {e}");
                    continue;
                }
            }
            moved = true;
        }
        // Only errors (D1 unavailable): the same connections would come back; the next pass
        // tries again.
        if !moved || due.len() < batch as usize {
            break;
        }
    }
    Ok(report)
}

enum Outcome {
    Refreshed,
    NeedsReauth,
    Failed,
    Skipped,
}

/// The trigger config a connection refreshes with (`oauth::refresh::refresh_config`): the
/// deployed version's while it is an OAuth trigger of the same provider and client (token URL
/// and client id) as the version the connection was made with, else that version's.
/// `None` when that version is gone, no longer validates or is not OAuth: its provider is
/// unknown, so the refresh token is sent nowhere; the refresh fails and is retried with the
/// usual backoff until a new sign-in moves the connection onto a version that validates.
async fn trigger_for(
    db: &worker::D1Database,
    workflow_id: &str,
    version: i64,
) -> worker::Result<Option<OAuthTrigger>> {
    let live = store::workflows::live_version(db, workflow_id).await?;
    let live_trigger = live
        .as_ref()
        .and_then(|l| l.definition.as_deref())
        .and_then(oauth_trigger_of);
    let own = match live {
        // The connection was made with the deployed version: one read.
        Some(l) if l.version == Some(version) && live_trigger.is_some() => live_trigger.clone(),
        _ => store::runs::version_definition(db, workflow_id, version)
            .await?
            .as_deref()
            .and_then(oauth_trigger_of),
    };
    Ok(refresh_config(live_trigger, own))
}

/// How much earlier than its wait a failing connection is due again: the Cron pass runs once a
/// minute, a few seconds either way, so a connection due exactly a minute after this pass began
/// could miss the next pass and wait a minute more.
const PASS_SLACK_MS: i64 = 10_000;

/// When a connection whose refresh failed in the pass that began at `pass_began` is tried
/// again: `wait` later, by the pass that comes then.
fn next_attempt_at(pass_began: i64, wait: i64) -> i64 {
    pass_began + wait - PASS_SLACK_MS
}

/// The trigger configs a Cron pass has read, by workflow and version ([`trigger_for`]): the
/// many connections of one workflow cost its reads once per pass. A redeploy during the pass
/// (under a minute) reaches the connections it refreshes from the next pass on.
type Triggers = RefCell<Vec<((String, i64), Option<OAuthTrigger>)>>;

/// [`trigger_for`], read once per pass and kept in `triggers`.
async fn trigger_kept(
    db: &worker::D1Database,
    triggers: &Triggers,
    workflow_id: &str,
    version: i64,
) -> worker::Result<Option<OAuthTrigger>> {
    let known = triggers
        .borrow()
        .iter()
        .find(|((w, v), _)| w == workflow_id && *v == version)
        .map(|(_, t)| t.clone());
    if let Some(t) = known {
        return Ok(t);
    }
    let t = trigger_for(db, workflow_id, version).await?;
    let key = (workflow_id.to_string(), version);
    triggers.borrow_mut().push((key, t.clone()));
    Ok(t)
}

/// Refreshes one due connection, in the Cron pass that began at `pass_began`.
async fn refresh_one(
    env: &Env,
    key: &SealKey,
    triggers: &Triggers,
    workflow_id: &str,
    user_id: &str,
    pass_began: i64,
) -> worker::Result<Outcome> {
    let db = store::db(env)?;
    let now = now_ms();
    // The lease value fences the writes below: a refresher whose lease was taken over
    // (it ran longer than the lease) writes nothing.
    let lease = now + REFRESH_LEASE_MS + (random_bytes::<2>()?[0] as i64);
    let Some(conn) = connections::claim_refresh(&db, workflow_id, user_id, now, lease).await?
    else {
        return Ok(Outcome::Skipped);
    };
    // A failed refresh (not a dead grant) waits 1 minute, doubling to an hour, before the next,
    // but comes back before the token expires while it can.
    let retry_in = retry_delay_ms(conn.refresh_failures + 1);
    let next_attempt = retry_at(
        next_attempt_at(pass_began, retry_in),
        next_attempt_at(pass_began, FIRST_RETRY_MS),
        conn.expires_at,
    );
    let failed = |message: String| {
        let db = store::db(env);
        async move {
            worker::console_error!("oauth refresh {workflow_id}/{user_id}: {message}");
            connections::refresh_failed(
                &db?,
                workflow_id,
                user_id,
                lease,
                &message,
                // Never already due: a failure late in a long pass still waits for the next.
                next_attempt.max(now_ms() + PASS_SLACK_MS),
                &iso_millis(now_ms()),
            )
            .await
            .map(|_| Outcome::Failed)
        }
    };
    let Some(trigger) = trigger_kept(&db, triggers, workflow_id, conn.version).await? else {
        return failed(format!(
            "the OAuth configuration of version {}, which this connection was made with, \
             cannot be read (it is gone or no longer validates): the end user must sign in \
             again",
            conn.version
        ))
        .await;
    };
    let Some(secret) = env_string(env, &trigger.client_secret_env) else {
        return failed(format!(
            "the Worker secret {} (client_secret_env) is not set",
            trigger.client_secret_env
        ))
        .await;
    };
    let refresh_token = match conn
        .refresh_token
        .as_deref()
        .map(|rt| crypto::open(key, &token_aad("refresh", workflow_id, user_id), rt))
    {
        Some(Ok(rt)) => rt,
        // Tried again with the backoff, without calling the provider: a key deployed by
        // mistake and put back must not end every connection that fell due meanwhile. The
        // error says that a key changed for good needs a new sign-in.
        Some(Err(e)) => return failed(unreadable_refresh_token(&e)).await,
        None => return Ok(Outcome::Skipped),
    };
    let client = match client(&trigger, &secret, None) {
        Ok(c) => c,
        Err(e) => return failed(e).await,
    };
    let sent = [refresh_token.clone(), secret.clone()];
    let rt = RefreshToken::new(refresh_token);
    let status = Cell::new(None);
    let http = |r| recording(r, &status);
    let result = client
        .exchange_refresh_token(&rt)
        .request_async(&http)
        .await;
    let now_iso = iso_millis(now_ms());
    match result {
        Ok(resp) => {
            let current: Vec<String> = json_parse::from_str(&conn.scopes).unwrap_or_default();
            let now = now_ms();
            let mut set = token_set(&resp, &current, now);
            // Nothing to call an API with: the refresh failed (tried again, as a passing
            // failure), and the stored token stays.
            if set.access_token.trim().is_empty() {
                return failed("the token endpoint answered an empty `access_token`".into()).await;
            }
            // The current token was obtained when the row last changed, unless a failed
            // refresh changed it since.
            let obtained = (conn.refresh_failures == 0)
                .then(|| parse_millis(&conn.updated_at))
                .flatten();
            set.expires_at_ms = refreshed_expiry(set.expires_at_ms, conn.expires_at, obtained, now);
            set.refresh_at_ms = refresh_at(now, set.expires_at_ms);
            let access = seal(
                key,
                &token_aad("access", workflow_id, user_id),
                &set.access_token,
            )?;
            let refresh = set
                .refresh_token
                .as_deref()
                .map(|r| seal(key, &token_aad("refresh", workflow_id, user_id), r))
                .transpose()?;
            let scopes = json!(set.scopes).to_string();
            let saved = save_refresh_retrying(
                env,
                &db,
                workflow_id,
                user_id,
                lease,
                &connections::Refreshed {
                    access_token: &access,
                    refresh_token: refresh.as_deref(),
                    expires_at: set.expires_at_ms,
                    refresh_at: set.refresh_at_ms,
                    scopes: &scopes,
                    token_type: &set.token_type,
                },
                &now_iso,
            )
            .await?;
            Ok(if saved {
                Outcome::Refreshed
            } else {
                Outcome::Skipped
            })
        }
        Err(e) => {
            let f = classify(&e, status.get(), &sent);
            if f.invalid_grant {
                connections::mark_needs_reauth(
                    &db,
                    workflow_id,
                    user_id,
                    lease,
                    &f.message,
                    &now_iso,
                )
                .await?;
                Ok(Outcome::NeedsReauth)
            } else {
                failed(f.message).await
            }
        }
    }
}

/// Stores a refresh's tokens, up to [`SAVE_ATTEMPTS`] times, a little longer apart each time,
/// after failed attempts (a passing database error): a rotating provider has already spent the
/// old refresh token, so losing the new one would leave the connection with a dead grant. The
/// update is idempotent and fenced on the lease: when an attempt did land, the next finds the
/// lease released and writes nothing. The pauses (3.5 s in all) end well within the lease.
/// (The fault `refresh-save-once` of `TRIPLINE_DEV_FAULTS` fails each first attempt.)
async fn save_refresh_retrying(
    env: &Env,
    db: &worker::D1Database,
    workflow_id: &str,
    user_id: &str,
    lease: i64,
    tokens: &connections::Refreshed<'_>,
    now_iso: &str,
) -> worker::Result<bool> {
    let mut pause_ms = 500;
    for attempt in 1..=SAVE_ATTEMPTS {
        let result = if attempt == 1 && crate::platform::dev_fault::listed(env, "refresh-save-once")
        {
            Err(worker::Error::RustError(
                "injected fault refresh-save-once".into(),
            ))
        } else {
            connections::save_refresh(db, workflow_id, user_id, lease, tokens, now_iso).await
        };
        match result {
            Ok(saved) => return Ok(saved),
            Err(e) if attempt < SAVE_ATTEMPTS => {
                worker::console_error!(
                    "oauth refresh {workflow_id}/{user_id}: saving the new tokens failed ({e}); \
                     trying again in {pause_ms} ms"
                );
                worker::Delay::from(std::time::Duration::from_millis(pause_ms)).await;
                pause_ms *= 2;
            }
            Err(e) => {
                worker::console_error!(
                    "oauth refresh {workflow_id}/{user_id}: saving the new tokens failed \
                     {SAVE_ATTEMPTS} times ({e}); they are lost: a provider that rotates refresh \
                     tokens has spent the stored one, and the user must sign in again"
                );
                return Err(e);
            }
        }
    }
    Ok(false)
}

/// How many times a refresh's new tokens are written before they are given up.
const SAVE_ATTEMPTS: u32 = 4;
