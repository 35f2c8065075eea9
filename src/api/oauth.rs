//! The OAuth trigger's public URLs and the connections API:
//! - `GET /oauth/{id}/signin?user_id=…&expires=…&signature=…[&redirect=…]` (the Sign-in URL): a
//!   link the app's backend signed (`oauth::signin_link`); records a single-use state with its
//!   PKCE verifier (replacing the user's earlier pending one) and sends the end user on;
//! - `GET /oauth/{id}/callback` (the Redirect URL): consumes the state, exchanges the code,
//!   stores the connection (tokens encrypted), starts a run, sends the end user on;
//! - `POST /api/workflows/{id}/signin-links`: a one-time Sign-in link (`?link=`) for a user;
//! - `GET /api/workflows/{id}/connections`, `DELETE /api/workflows/{id}/connections/{user_id}`.

use serde_json::{json, Value};
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::json_parse;
use tripline_core::kernel::percent::encode_non_ascii;
use worker::{Env, Request, Response};

use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::{exact_query_pairs, origin, query_pairs, query_param};
use crate::api::paging::PageRequest;
use crate::engine::oauth as flow;
use crate::platform::{env_string, now_ms, random_bytes};
use crate::store::{self, connections};
use tripline_core::definition::TriggerKind;
use tripline_core::definition::{Definition, Trigger};
use tripline_core::kernel::crypto::{self, KeyError, SealKey};
use tripline_core::kernel::problem::Errors;
use tripline_core::kernel::redact::REDACTED;
use tripline_core::kernel::time::iso_millis;
use tripline_core::oauth::flow::{
    authorize_url, browser_cookie, check_redirect, check_user_id, is_state_shaped, new_state,
    percent_decode, pkce_pair, sanitize_error, spent_browser_cookie, started_in_this_browser,
    state_hash, state_ttl_ms, with_query, TokenSet,
};
use tripline_core::oauth::refresh::{
    is_same_named_account, keeps_earlier_refresh_token, may_be_same_account, oauth_trigger_of,
};
use tripline_core::oauth::signin_link;
use tripline_core::oauth::OAuthTrigger;

/// The deployed OAuth trigger of a workflow: 404 when unknown, not deployed, or not OAuth.
/// Read from the workflow's object, which keeps the live version: an id no deployed workflow
/// has costs no D1 statement (anyone can send random ids).
async fn live(env: &Env, id: &WorkflowId) -> ApiResult<(i64, OAuthTrigger)> {
    let not_deployed = |what: &str| {
        ApiError::not_found(format!(
            "{what}: deploy it before sending end users to its Sign-in URL"
        ))
    };
    let live = crate::objects::live(env, id)
        .await?
        .filter(|live| live["deleted"] != true)
        .ok_or_else(|| not_deployed(&format!("no deployed workflow with id {id}")))?;
    let (Some(version), Some(def)) = (live["version"].as_i64(), live["definition"].as_str()) else {
        return Err(not_deployed(&format!("workflow {id} is not deployed")));
    };
    let def = parse_definition(def)?;
    match def.trigger {
        Trigger::OAuth(t) => Ok((version, *t)),
        other => Err(ApiError::not_found(format!(
            "workflow {id} is not started by OAuth sign-ins (its trigger is `{}`)",
            other.kind()
        ))),
    }
}

fn parse_definition(def: &str) -> ApiResult<Definition> {
    json_parse::from_str::<Value>(def)
        .ok()
        .and_then(|v| Definition::parse_stored(&v).ok())
        .ok_or_else(|| ApiError::internal("the deployed definition no longer validates"))
}

/// The encryption key, or 503 saying how to set it.
fn key(env: &Env) -> ApiResult<SealKey> {
    flow::seal_key(env).map_err(|e| {
        let why = match e {
            KeyError::Missing => "the TRIPLINE_ENCRYPTION_KEY secret is not set".to_string(),
            KeyError::Invalid(m) => format!("the TRIPLINE_ENCRYPTION_KEY secret {m}"),
        };
        ApiError::new(
            503,
            "Encryption key not configured",
            format!(
                "{why}. OAuth tokens are stored encrypted: set it to the base64 of 32 random bytes, \
                 e.g. `openssl rand -base64 32 | wrangler secret put TRIPLINE_ENCRYPTION_KEY` \
                 (locally: a TRIPLINE_ENCRYPTION_KEY=… line in .dev.vars, then restart \
                 `wrangler dev`)"
            ),
        )
    })
}

/// The client secret named by `client_secret_env`, or 503 saying how to set it.
fn client_secret(env: &Env, trigger: &OAuthTrigger) -> ApiResult<String> {
    let name = &trigger.client_secret_env;
    env_string(env, name).ok_or_else(|| {
        ApiError::new(
            503,
            "Client secret not configured",
            format!(
                "the workflow's client_secret_env names the Worker secret {name}, which is not set: \
                 `wrangler secret put {name}` (locally: a {name}=… line in .dev.vars, then restart \
                 `wrangler dev`)"
            ),
        )
    })
}

/// What a caller who may be anyone (a `?link=` holder, the browser at the callback) is told of a
/// missing or unusable secret: that it is missing, not its name or anything of its value. The
/// Worker's log has the whole problem, once a minute at most.
fn logged(id: &WorkflowId, what: &str, e: ApiError) -> ApiError {
    crate::platform::config_errors::log_config_error(&format!("workflow {id}: {}", e.detail));
    ApiError::new(
        503,
        e.title,
        format!("{what}; the Worker's log says what to set. The sign-in can go on once it is set"),
    )
}

/// What [`logged`] says of a missing or unusable `TRIPLINE_ENCRYPTION_KEY`.
const KEY_MISSING: &str = "the key this Worker encrypts OAuth tokens with is not set or not usable";
/// What [`logged`] says of a missing client secret.
const SECRET_MISSING: &str = "this Sign-in URL's OAuth client secret is not set on the Worker";

/// A 302 that is never cached and leaks nothing through the Referer.
fn redirect(location: &str) -> ApiResult {
    let mut resp = Response::empty()?.with_status(302);
    let h = resp.headers_mut();
    // A URL written with Unicode characters (a `redirect` or `success_url` may be) goes out
    // percent-encoded: a header value carries only bytes.
    h.set("location", &encode_non_ascii(location))?;
    h.set("cache-control", "no-store")?;
    h.set("referrer-policy", "no-referrer")?;
    Ok(resp)
}

/// What every `/oauth/` answer carries: end users' browsers open these URLs (on the
/// dashboard's origin), and their problems quote request text; none is to be cached, framed,
/// sniffed as another type or leak the URL (which may hold an unused code) through `Referer`.
pub fn harden(resp: &mut Response) {
    let h = resp.headers_mut();
    for (name, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ] {
        // A response whose headers are immutable (none is made so here) keeps its own.
        let _ = h.set(name, value);
    }
}

/// 401 located at `query.link`.
fn bad_link(message: &str) -> ApiError {
    let mut errors = Errors::new();
    errors.push("query.link", message);
    ApiError::new(
        401,
        "Sign-in link required",
        format!("query.link {message}"),
    )
    .with_errors(errors)
}

/// Consumes a one-time link of this workflow (it works once): the user it was issued for.
async fn take_one_time_link(env: &Env, id: &WorkflowId, token: &str) -> ApiResult<String> {
    if !is_state_shaped(token) {
        return Err(bad_link("is not a Sign-in link token"));
    }
    let row = connections::take_link(&store::db(env)?, &state_hash(token), id)
        .await?
        .ok_or_else(|| {
            bad_link("is unknown or was already used; ask the app for a new Sign-in link")
        })?;
    if row.expires_at <= now_ms() {
        return Err(bad_link("has expired; ask the app for a new Sign-in link"));
    }
    Ok(row.user_id)
}

/// Default and longest lifetime of a one-time Sign-in link.
const LINK_TTL_DEFAULT_SECONDS: i64 = 600;

/// `POST /api/workflows/{id}/signin-links` with `{"user_id": "42", "ttl_seconds": 600}`: a
/// one-time Sign-in link for that end user (201 `{url, user_id, expires_at}`). Only a SHA-256 of
/// its token is stored; the link works once, within `ttl_seconds` (60 to 3600).
pub async fn create_link(mut req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = crate::api::catalog::load(env, id).await?;
    // The deployed version's trigger is the one signed in to (the draft's may differ).
    let kind = row.shown_kind();
    if kind != TriggerKind::OAuth {
        // The workflow exists; its trigger kind has no Sign-in links (as a poll reset on a
        // workflow that does not poll).
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "workflow {id} is not started by OAuth sign-ins (its trigger is `{kind}`), so it has no Sign-in links"
            ),
        ));
    }
    // Its Sign-in URL answers 404 until it is deployed: a link would fail for its user.
    if row.status != crate::store::workflows::WorkflowStatus::Deployed {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "workflow {id} is not deployed: its Sign-in URL answers 404, so a link would not \
                 work; deploy it first"
            ),
        ));
    }
    let body = crate::api::request::read_json(&mut req).await?;
    let mut errors = Errors::new();
    let mut r = tripline_core::kernel::reader::ObjectReader::new(&body, "body", &mut errors);
    let user_id = r.req_str("user_id", &mut errors);
    let ttl = r
        .opt_int(
            "ttl_seconds",
            60,
            signin_link::MAX_LINK_LIFETIME_SECONDS,
            &mut errors,
        )
        .unwrap_or(LINK_TTL_DEFAULT_SECONDS);
    r.finish(&mut errors);
    if let Some(u) = &user_id {
        if let Err(m) = check_user_id(Some(u)) {
            errors.push("body.user_id", m);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(
            "the Sign-in link request is invalid".to_string(),
            errors,
        ));
    }
    let Some(user_id) = user_id else {
        return Err(ApiError::field("body.user_id", "is required"));
    };
    let token = new_state(&random_bytes::<32>()?);
    let now = now_ms();
    let expires_at = now + ttl * 1000;
    connections::insert_link(
        &store::db(env)?,
        &state_hash(&token),
        id,
        &user_id,
        expires_at,
        &iso_millis(now),
    )
    .await?;
    json_response(
        201,
        &json!({
            "url": format!("{}/oauth/{id}/signin?link={token}", origin(&req)),
            "user_id": user_id,
            "expires_at": iso_millis(expires_at),
        }),
    )
}

/// Checks the link's `expires` and `signature` against `TRIPLINE_SIGNIN_KEY`: 401 located at
/// the parameter at fault; 503 when the key is not set (or too short).
fn check_signin_link(
    env: &Env,
    id: &WorkflowId,
    user_id: &str,
    q: &[(String, String)],
) -> ApiResult<()> {
    let name = signin_link::SIGNIN_KEY_ENV;
    let unusable = |why: String| {
        ApiError::new(
            503,
            "Sign-in links not configured",
            format!(
                "{why}. The Sign-in URL only accepts links the app's backend signs with it: \
                 `openssl rand -hex 32 | wrangler secret put {name}` (locally: a {name}=… line \
                 in .dev.vars, then restart `wrangler dev`)"
            ),
        )
    };
    let Some(secret) = env_string(env, name) else {
        return Err(unusable(format!("the {name} secret is not set")));
    };
    if let Some(problem) = signin_link::key_problem(&secret) {
        return Err(unusable(problem));
    }
    signin_link::verify(
        secret.as_bytes(),
        id,
        user_id,
        query_param(q, "expires"),
        query_param(q, "signature"),
        now_ms().div_euclid(1000),
    )
    .map_err(|e| {
        let mut errors = Errors::new();
        errors.push(e.location, e.message.clone());
        ApiError::new(
            401,
            "Sign-in link required",
            format!("{} {}", e.location, e.message),
        )
        .with_errors(errors)
    })
}

/// `GET /oauth/{id}/signin?user_id=…&expires=…&signature=…[&redirect=…]`.
pub async fn signin(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let (version, trigger) = live(env, id).await?;
    let q = exact_query_pairs(&req)?;
    let return_to = match query_param(&q, "redirect") {
        Some(r) => {
            check_redirect(r, &trigger.success_url)
                .map_err(|m| ApiError::field("query.redirect", m))?;
            Some(r.to_string())
        }
        None => None,
    };
    // Only a link the app minted for this workflow and user starts a sign-in: a one-time
    // `?link=` from the management API, or a `user_id` the app's backend signed. An anonymous
    // `?user_id=` is a 401 and creates nothing.
    let (user_id, key) = match query_param(&q, "link") {
        Some(token) => {
            // Checked before the link is taken (a missing secret does not use it up), so the
            // caller is anyone holding a `?link=`: the 503 does not name the secret; the
            // Worker's log does.
            if !is_state_shaped(token) {
                return Err(bad_link("is not a Sign-in link token"));
            }
            let key = key(env).map_err(|e| logged(id, KEY_MISSING, e))?;
            client_secret(env, &trigger).map_err(|e| logged(id, SECRET_MISSING, e))?;
            (take_one_time_link(env, id, token).await?, key)
        }
        None => {
            let user_id = check_user_id(query_param(&q, "user_id"))
                .map_err(|m| ApiError::field("query.user_id", m))?;
            check_signin_link(env, id, &user_id, &q)?;
            // Checked now so that a missing secret is found before the end user signs in.
            let key = key(env)?;
            client_secret(env, &trigger)?;
            (user_id, key)
        }
    };

    let state = new_state(&random_bytes::<32>()?);
    let hash = state_hash(&state);
    let verifier = match trigger.pkce {
        true => Some(pkce_pair(&random_bytes::<32>()?).0),
        false => None,
    };
    let redirect_uri = format!("{}/oauth/{id}/callback", origin(&req));
    let url = authorize_url(&trigger, &redirect_uri, &state, verifier.as_deref())
        .map_err(ApiError::internal)?;
    let sealed = verifier
        .as_deref()
        .map(|v| flow::seal(&key, &format!("state:{hash}"), v))
        .transpose()?;
    let now = now_ms();
    let ttl = state_ttl_ms(env_string(env, "OAUTH_STATE_TTL_SECONDS").as_deref());
    connections::insert_state(
        &store::db(env)?,
        &connections::NewState {
            state_hash: &hash,
            workflow_id: id,
            version,
            user_id: &user_id,
            verifier: sealed.as_deref(),
            redirect_uri: &redirect_uri,
            return_to: return_to.as_deref(),
            expires_at: now + ttl,
            created_at: &iso_millis(now),
        },
    )
    .await?;
    let mut resp = redirect(&url)?;
    let secure = redirect_uri.starts_with("https://");
    let cookie = browser_cookie(&key, &state, "/oauth/", ttl, secure);
    resp.headers_mut().set("set-cookie", &cookie)?;
    Ok(resp)
}

/// The OAuth trigger of the version a sign-in started on; `None` when that version is gone,
/// no longer validates or is not OAuth.
async fn signin_trigger(
    db: &worker::D1Database,
    id: &WorkflowId,
    version: i64,
) -> ApiResult<Option<OAuthTrigger>> {
    Ok(store::runs::version_definition(db, id, version)
        .await?
        .as_deref()
        .and_then(oauth_trigger_of))
}

/// A sign-in whose version can no longer finish it: a 302 to the deployed version's
/// `failure_url` (`error=signin_outdated`), or a 409 located at `query.state`.
fn outdated(live: &OAuthTrigger, user_id: &str, version: i64) -> ApiResult {
    let description = format!(
        "this sign-in started on version {version} of the workflow, which can no longer be read: \
         start again at the Sign-in URL"
    );
    if live.failure_url.is_some() {
        return failed(
            live,
            user_id,
            "signin_outdated",
            &description,
            409,
            "Sign-in outdated",
        );
    }
    let mut errors = Errors::new();
    errors.push("query.state", description.clone());
    Err(ApiError::new(409, "Sign-in outdated", description).with_errors(errors))
}

/// Where a failed sign-in goes: a 302 to `failure_url` with `error` and
/// `error_description`, or (without a failure_url) a problem with `status`.
fn failed(
    trigger: &OAuthTrigger,
    user_id: &str,
    error: &str,
    description: &str,
    status: u16,
    title: &'static str,
) -> ApiResult {
    match &trigger.failure_url {
        Some(url) => redirect(&with_query(
            url,
            &[
                ("error", error),
                ("error_description", description),
                ("user_id", user_id),
            ],
        )),
        None => Err(ApiError::new(
            status,
            title,
            format!("{error}: {description}"),
        )),
    }
}

/// `GET /oauth/{id}/callback?state=…&code=…` (or `?state=…&error=…`). Once its state is
/// spent, whatever the answer, the sign-in's browser cookie is removed with it.
pub async fn callback(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let spent_cookie = std::cell::Cell::new(None);
    let answer = finish_signin(req, env, id, &spent_cookie).await;
    let Some(cookie) = spent_cookie.take() else {
        return answer;
    };
    let mut resp = answer.unwrap_or_else(ApiError::into_response);
    resp.headers_mut().append("set-cookie", &cookie)?;
    Ok(resp)
}

/// The callback's work; sets `spent_cookie` to the `Set-Cookie` value that removes the
/// sign-in's cookie once its state is taken.
async fn finish_signin(
    req: Request,
    env: &Env,
    id: &WorkflowId,
    spent_cookie: &std::cell::Cell<Option<String>>,
) -> ApiResult {
    let (_, live_trigger) = live(env, id).await?;
    // Read leniently: the provider's error text is reduced to printable ASCII anyway, and a
    // state or code that is not ASCII is refused or fails its exchange, with a clear answer.
    let q = query_pairs(&req);
    let state = query_param(&q, "state").ok_or_else(|| {
        ApiError::field(
            "query.state",
            "is required: the provider sends it back; start at the workflow's Sign-in URL",
        )
    })?;
    if !is_state_shaped(state) {
        return Err(ApiError::field(
            "query.state",
            "is not a state issued by this workflow's Sign-in URL",
        ));
    }
    let db = store::db(env)?;
    let hash = state_hash(state);
    // Only the browser that opened the Sign-in URL may finish it. Another one is refused
    // without consuming the state, so that the right browser still can (a state no one was
    // given is reported as unknown, after one read and no write).
    // Without the key no sign-in can finish: it stops here, before its state is used up, so
    // that the same sign-in finishes once the key is set.
    // The caller may be anyone holding a state-shaped value: the 503 names no secret.
    let key = key(env).map_err(|e| logged(id, KEY_MISSING, e))?;
    // Nor without the deployed version's client secret (a sign-in started on an earlier version
    // that names another is checked below, once its state is taken).
    client_secret(env, &live_trigger).map_err(|e| logged(id, SECRET_MISSING, e))?;
    let from_here = started_in_this_browser(&key, req.headers().get("cookie")?.as_deref(), state);
    let unknown = "is unknown or was already used: start again at the workflow's Sign-in URL";
    if !from_here {
        if !connections::state_exists(&db, &hash).await? {
            // Nothing to take: no write for a callback no browser of ours started.
            return Err(ApiError::field("query.state", unknown));
        }
        let mut errors = Errors::new();
        errors.push(
            "header.cookie",
            "lacks this sign-in's cookie: it was started in another browser, or cookies are blocked",
        );
        return Err(ApiError::new(
            403,
            "Sign-in started elsewhere",
            "this sign-in was started in another browser: start again at the workflow's Sign-in URL",
        )
        .with_errors(errors));
    }
    let Some(pending) = connections::take_state(&db, &hash, id).await? else {
        let message = if connections::state_exists(&db, &hash).await? {
            "belongs to a sign-in of another workflow"
        } else {
            unknown
        };
        return Err(ApiError::field("query.state", message));
    };
    spent_cookie.set(Some(spent_browser_cookie(
        state,
        "/oauth/",
        pending.redirect_uri.starts_with("https://"),
    )));
    if pending.expires_at < now_ms() {
        return Err(ApiError::field(
            "query.state",
            "has expired (sign-ins must finish within the state TTL): start again at the Sign-in URL",
        ));
    }
    // The sign-in finishes on the version it started on.
    let user_id = pending.user_id.clone();
    let Some(trigger) = signin_trigger(&db, id, pending.version).await? else {
        // A release that validates more strictly cannot read the version this sign-in started
        // on: the end user starts again, on the deployed version.
        return outdated(&live_trigger, &user_id, pending.version);
    };

    // An empty `error` beside a code is no refusal (the code is exchanged); an empty one
    // alone still is, named so that the app can tell it apart.
    let code_sent = query_param(&q, "code").is_some_and(|c| !c.is_empty());
    if let Some(error) = query_param(&q, "error").filter(|e| !(code_sent && e.trim().is_empty())) {
        let error = match sanitize_error(error) {
            e if e.is_empty() => "unknown_error".to_string(),
            e => e,
        };
        let description = query_param(&q, "error_description")
            .map(sanitize_error)
            .unwrap_or_else(|| "the provider gave no description".into());
        if trigger.failure_url.is_some() {
            return failed(
                &trigger,
                &user_id,
                &error,
                &description,
                400,
                "Sign-in refused",
            );
        }
        let mut errors = tripline_core::kernel::problem::Errors::new();
        errors.push("query.error", format!("{error}: {description}"));
        return Err(ApiError::new(
            400,
            "Sign-in refused",
            format!("the provider refused the sign-in ({error}: {description}); no failure_url is configured"),
        )
        .with_errors(errors));
    }
    let code = query_param(&q, "code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::field(
                "query.code",
                "is required: the provider must send back an authorization code (or an error)",
            )
        })?;

    let secret = client_secret(env, &trigger).map_err(|e| logged(id, SECRET_MISSING, e))?;
    let verifier = match pending.verifier.as_deref() {
        Some(v) => Some(
            crypto::open(&key, &format!("state:{hash}"), v)
                .map_err(|e| ApiError::new(503, "Encryption key changed", e))?,
        ),
        None => None,
    };
    let tokens =
        match flow::exchange_code(&trigger, &secret, &pending.redirect_uri, code, verifier).await {
            Ok(t) => t,
            Err(f) => {
                worker::console_error!("oauth {id}: code exchange failed: {}", f.message);
                return failed(
                    &trigger,
                    &user_id,
                    "token_exchange_failed",
                    &f.message,
                    502,
                    "Token exchange failed",
                );
            }
        };
    let signed_in = SignedIn {
        id,
        user_id: &user_id,
        version: pending.version,
        trigger: &trigger,
        tokens: &tokens,
    };
    let userinfo = match &trigger.userinfo_url {
        Some(url) => match flow::userinfo(url, &tokens).await {
            Ok(v) => Some(v),
            Err(m) => {
                // The failure is answered either way: a storage error here only keeps nothing.
                let kept = keep_consent(env, &db, &key, &signed_in)
                    .await
                    .unwrap_or_else(|e| {
                        worker::console_error!("oauth {id}: keeping the consent failed: {e:?}");
                        false
                    });
                let m = match kept {
                    true => format!("{m}; the consent is kept: signing in again finishes it"),
                    false => m,
                };
                return failed(
                    &trigger,
                    &user_id,
                    "userinfo_failed",
                    &m,
                    502,
                    "Userinfo failed",
                );
            }
        },
        None => None,
    };

    // A failed read of the earlier connection stores nothing: saved without it, the
    // connection would lose the refresh token it holds (the provider sent none this time).
    let keep_refresh_token = match tokens.refresh_token.is_none() {
        false => Ok(false),
        true => may_keep_refresh_token(&db, &key, &signed_in, userinfo.as_ref()).await,
    };
    let userinfo_text = userinfo.as_ref().map(Value::to_string);
    let saved = match keep_refresh_token {
        Ok(keep) => {
            save_connection(env, &db, &key, &signed_in, userinfo_text.as_deref(), keep).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(true) => {}
        // Undeployed or deleted while the sign-in finished: nothing kept, no run.
        Ok(false) => {
            return failed(
                &trigger,
                &user_id,
                "workflow_not_deployed",
                "the workflow was undeployed or deleted while the sign-in finished: nothing was \
                 kept and no run started",
                409,
                "Workflow not deployed",
            )
        }
        Err(e) => {
            worker::console_error!(
                "oauth {id}: the connection of {user_id} could not be saved ({e:?}); nothing is \
                 stored (its tokens are lost) and no run started"
            );
            return failed(
                &trigger,
                &user_id,
                "connection_not_saved",
                "the connection could not be saved (storage failed): sign in again",
                503,
                "Connection not saved",
            );
        }
    }

    // The stored input never holds the token: the run carries it sealed (its secrets), so
    // executing it reads no connection (engine::oauth::hydrate reads one only when the run
    // carries none, or once it is due for refresh).
    let input = json!({
        "oauth": {
            "user_id": user_id,
            "scopes": tokens.scopes,
            "expires_at": tokens.expires_at_ms.map(iso_millis),
            "access_token": REDACTED,
            "userinfo": userinfo,
        }
    });
    let dedup_key = format!("oauth:{hash}");
    let secrets = json!({
        "oauth": {
            "access_token": tokens.access_token,
            "expires_at": tokens.expires_at_ms.map(iso_millis),
        }
    });
    // A shard that did not answer is asked twice (the dedup key makes a second start
    // harmless): the state is spent, so the end user cannot send this callback again.
    use crate::objects::runs::client::CreateError;
    let mut started = Ok(());
    for _ in 0..2 {
        started = match crate::platform::dev_fault::on(env, &req, "oauth-run") {
            true => Err(CreateError::Failed(worker::Error::RustError(
                "injected fault `oauth-run`".into(),
            ))),
            false => crate::objects::runs::client::start(
                env,
                id,
                crate::objects::runs::DEFAULT_SHARDS,
                pending.version,
                TriggerKind::OAuth.as_str(),
                &dedup_key,
                &input,
                Some(&secrets),
            )
            .await
            .map(|_| ()),
        };
        if !matches!(started, Err(CreateError::Failed(_))) {
            break;
        }
    }
    if let Err(e) = started {
        let description = match &e {
            CreateError::Failed(_) => {
                "the sign-in was kept (the connection is stored), but the workflow's run may not \
                 have started: its shard did not answer"
            }
            CreateError::Full(_) => {
                "the sign-in was kept (the connection is stored), but the workflow's run was not \
                 started: its storage is full"
            }
            CreateError::TooLarge(_) => {
                "the sign-in was kept (the connection is stored), but the workflow's run was not \
                 started: its input (the provider's userinfo answer) is too large for a run"
            }
            CreateError::Deleted(_) => {
                "the workflow was deleted while its run started: the run was deleted with it"
            }
        };
        let e = ApiError::from(e);
        worker::console_error!("oauth {id}: the sign-in's run did not start: {}", e.detail);
        return failed(
            &trigger,
            &user_id,
            "run_not_started",
            description,
            e.status,
            e.title,
        );
    }
    redirect(pending.return_to.as_deref().unwrap_or(&trigger.success_url))
}

/// A sign-in whose code was exchanged: the end user's tokens, from the version it started on.
struct SignedIn<'a> {
    id: &'a WorkflowId,
    user_id: &'a str,
    version: i64,
    trigger: &'a OAuthTrigger,
    tokens: &'a TokenSet,
}

/// Stores the end user's connection (tokens sealed), replacing an earlier one; its refresh
/// token stays when this sign-in got none and `keep_refresh_token`. `Ok(false)`: the workflow
/// is no longer deployed, and nothing is stored. The code is spent by now, so a failing write
/// is tried again, 0.5, 1 and 2 s apart, before its error is returned (the tokens are then
/// lost). (The fault `signin-save-once` of `TRIPLINE_DEV_FAULTS` fails each first attempt.)
async fn save_connection(
    env: &Env,
    db: &worker::D1Database,
    key: &SealKey,
    s: &SignedIn<'_>,
    userinfo: Option<&str>,
    keep_refresh_token: bool,
) -> Result<bool, ApiError> {
    let (id, user_id, tokens) = (s.id, s.user_id, s.tokens);
    let access = flow::seal(
        key,
        &flow::token_aad("access", id, user_id),
        &tokens.access_token,
    )?;
    let refresh = tokens
        .refresh_token
        .as_deref()
        .map(|r| flow::seal(key, &flow::token_aad("refresh", id, user_id), r))
        .transpose()?;
    let scopes = json!(tokens.scopes).to_string();
    let mut pause_ms = 500;
    for attempt in 1..=SAVE_ATTEMPTS {
        let result = if attempt == 1 && crate::platform::dev_fault::listed(env, "signin-save-once")
        {
            Err(worker::Error::RustError(
                "injected fault signin-save-once".into(),
            ))
        } else {
            connections::upsert(
                db,
                &connections::NewConnection {
                    workflow_id: id,
                    user_id,
                    version: s.version,
                    scopes: &scopes,
                    token_type: &tokens.token_type,
                    access_token: &access,
                    refresh_token: refresh.as_deref(),
                    keep_refresh_token,
                    expires_at: tokens.expires_at_ms,
                    refresh_at: tokens.refresh_at_ms,
                    userinfo,
                    now_iso: &iso_millis(now_ms()),
                    running_lease_before: now_ms() + flow::MAX_REFRESH_LEASE_MS,
                },
            )
            .await
        };
        match result {
            Ok(saved) => return Ok(saved),
            Err(e) if attempt < SAVE_ATTEMPTS => {
                worker::console_error!(
                    "oauth {id}: saving the connection of {user_id} failed ({e}); trying again \
                     in {pause_ms} ms"
                );
                worker::Delay::from(std::time::Duration::from_millis(pause_ms)).await;
                pause_ms *= 2;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

/// How many times a sign-in's connection is written before it is given up.
const SAVE_ATTEMPTS: u32 = 4;

/// A sign-in whose userinfo call failed after its code was exchanged keeps the refresh token
/// it got, in the end user's connection (without userinfo; no run starts): a provider that
/// sends one only at the first consent (Google) sends none when the user signs in again, and
/// the connection would need a new consent once its access token expired. Nothing is stored
/// when the sign-in got no refresh token, or when the user's connection already holds one a
/// sign-in of this provider would keep: a failed sign-in then changes nothing. A later sign-in
/// keeps this refresh token only for the account it was issued to ([`may_keep_refresh_token`]
/// asks the provider). `true` when it was kept.
async fn keep_consent(
    env: &Env,
    db: &worker::D1Database,
    key: &SealKey,
    s: &SignedIn<'_>,
) -> Result<bool, ApiError> {
    if s.tokens.refresh_token.is_none() {
        return Ok(false);
    }
    if let Some(earlier) = connections::get(db, s.id, s.user_id).await? {
        if keeps_earlier(db, key, s, &earlier).await? {
            return Ok(false);
        }
    }
    save_connection(env, db, key, s, None, false).await
}

/// Whether the user's earlier connection holds a refresh token a sign-in of `s`'s provider
/// would keep (`oauth::refresh::keeps_earlier_refresh_token`): the provider has not refused it
/// (the connection is `active`), the current key decrypts it (after a change of
/// `TRIPLINE_ENCRYPTION_KEY` it never will again), and it was made with the same provider and
/// client as `s`'s version. An earlier version that no longer validates counts as another
/// provider.
async fn keeps_earlier(
    db: &worker::D1Database,
    key: &SealKey,
    s: &SignedIn<'_>,
    earlier: &connections::ConnectionRow,
) -> Result<bool, ApiError> {
    if !refresh_token_readable(key, s.id, s.user_id, earlier) {
        return Ok(false);
    }
    let read;
    let earlier_trigger = if earlier.version == s.version {
        Some(s.trigger)
    } else {
        read = store::runs::version_definition(db, s.id, earlier.version)
            .await?
            .as_deref()
            .and_then(oauth_trigger_of);
        read.as_ref()
    };
    Ok(keeps_earlier_refresh_token(
        &earlier.status,
        earlier_trigger,
        s.trigger,
    ))
}

/// Whether a connection holds a refresh token the current key decrypts.
fn refresh_token_readable(
    key: &SealKey,
    id: &WorkflowId,
    user_id: &str,
    c: &connections::ConnectionRow,
) -> bool {
    c.refresh_token
        .as_deref()
        .is_some_and(|rt| crypto::open(key, &flow::token_aad("refresh", id, user_id), rt).is_ok())
}

/// What the provider's `userinfo_url` answers for an earlier connection stored without
/// userinfo, asked with that connection's own access token. `None` when it cannot be asked
/// (the token is expired or unreadable) or the call fails.
async fn earlier_account(
    key: &SealKey,
    s: &SignedIn<'_>,
    earlier: &connections::ConnectionRow,
    userinfo_url: &str,
) -> Option<Value> {
    if earlier.expires_at.is_some_and(|at| at <= now_ms()) {
        return None;
    }
    let access_token = crypto::open(
        key,
        &flow::token_aad("access", s.id, s.user_id),
        &earlier.access_token,
    )
    .ok()?;
    let tokens = TokenSet {
        access_token,
        token_type: earlier.token_type.clone(),
        refresh_token: None,
        expires_at_ms: earlier.expires_at,
        refresh_at_ms: None,
        scopes: Vec::new(),
    };
    flow::userinfo(userinfo_url, &tokens).await.ok()
}

/// Whether a sign-in that got no refresh token may keep the user's earlier one: a sign-in of
/// this provider would keep it ([`keeps_earlier`]), and the userinfo answers do not tell the
/// accounts apart (`oauth::refresh::may_be_same_account`). An earlier connection stored without
/// userinfo is asked about once its provider is known to be this one, and keeps its refresh
/// token only when its answer names the same account. The code is already exchanged: a
/// refresh token not kept lets the sign-in go on without one, rather than fail.
async fn may_keep_refresh_token(
    db: &worker::D1Database,
    key: &SealKey,
    s: &SignedIn<'_>,
    userinfo: Option<&Value>,
) -> Result<bool, ApiError> {
    let Some(earlier) = connections::get(db, s.id, s.user_id).await? else {
        return Ok(false);
    };
    // First the provider: the earlier connection's access token is sent to this version's
    // `userinfo_url` below only when both are the same provider and client.
    if !keeps_earlier(db, key, s, &earlier).await? {
        return Ok(false);
    }
    let known = earlier
        .userinfo
        .as_deref()
        .and_then(|u| json_parse::from_str::<Value>(u).ok());
    Ok(match (known, &s.trigger.userinfo_url, userinfo) {
        (Some(known), _, _) => may_be_same_account(Some(&known), userinfo),
        // Stored without userinfo (by a sign-in whose userinfo call failed, or a version
        // without a `userinfo_url`): its account is asked now.
        (None, Some(url), Some(userinfo)) => earlier_account(key, s, &earlier, url)
            .await
            .is_some_and(|asked| is_same_named_account(&asked, userinfo)),
        // Nothing tells the accounts apart.
        (None, _, _) => true,
    })
}

/// `GET /api/workflows/{id}/connections?limit=&cursor=`: by user id, without tokens.
pub async fn list(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    crate::api::catalog::load(env, id).await?;
    let q = query_pairs(&req);
    let paging = PageRequest::from_query(&q, 50, 100, |_| true)?;
    let rows = connections::list(
        &store::db(env)?,
        id,
        paging.after.as_deref(),
        paging.rows_to_read(),
    )
    .await?;
    let (page, next) = paging.page(&rows, |r| r.user_id.clone());
    json_response(
        200,
        &json!({
            "connections": page.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
            "next_cursor": next,
        }),
    )
}

/// `DELETE /api/workflows/{id}/connections/{user_id}` (user id percent-encoded): 204 or 404.
pub async fn delete(env: &Env, id: &WorkflowId, user_id: &str) -> ApiResult {
    crate::api::catalog::load(env, id).await?;
    let user_id = percent_decode(user_id)
        .ok_or_else(|| ApiError::field("path.user_id", "is not valid percent-encoded UTF-8"))?;
    if !connections::delete(&store::db(env)?, id, &user_id).await? {
        return Err(ApiError::not_found(format!(
            "workflow {id} has no connection for user `{}`",
            super::problem::echoed(&user_id)
        )));
    }
    Ok(Response::empty()?.with_status(204))
}
