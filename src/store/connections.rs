//! The OAuth tables: `oauth_states` (pending sign-ins, single use) and `oauth_connections`
//! (one per workflow and end user; tokens are stored only as encrypted envelopes).

use serde::Deserialize;
use serde_json::{json, Value};
use tripline_core::kernel::json_parse;
use worker::{D1Database, Result};

use super::row::{read_with, Bad, Columns};
use super::{num, opt_text, text};
use tripline_core::kernel::time::iso_millis;
use tripline_core::oauth::flow::REFRESH_WINDOW_MS;

/// A pending sign-in to record.
pub struct NewState<'a> {
    pub state_hash: &'a str,
    pub workflow_id: &'a str,
    pub version: i64,
    pub user_id: &'a str,
    pub verifier: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub return_to: Option<&'a str>,
    pub expires_at: i64,
    pub created_at: &'a str,
}

/// A pending sign-in, as taken back at the callback.
#[derive(Debug, Clone)]
pub struct StateRow {
    pub workflow_id: String,
    pub version: i64,
    pub user_id: String,
    pub verifier: Option<String>,
    pub redirect_uri: String,
    pub return_to: Option<String>,
    pub expires_at: i64,
}

/// Read column by column (see [`row`](super::row)).
impl<'de> Deserialize<'de> for StateRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(StateRow {
                workflow_id: c.text("workflow_id")?,
                version: c.int("version")?,
                user_id: c.text("user_id")?,
                verifier: c.opt_text("verifier")?,
                redirect_uri: c.text("redirect_uri")?,
                return_to: c.opt_text("return_to")?,
                expires_at: c.int("expires_at")?,
            })
        })
    }
}

/// Records a pending sign-in, replacing any earlier pending one of the same (workflow, user):
/// one user has at most one pending state per workflow. One batch (one transaction).
pub async fn insert_state(db: &D1Database, s: &NewState<'_>) -> Result<()> {
    let replace = db
        .prepare("DELETE FROM oauth_states WHERE workflow_id = ?1 AND user_id = ?2")
        .bind(&[text(s.workflow_id), text(s.user_id)])?;
    let insert = db.prepare(
        "INSERT INTO oauth_states (state_hash, workflow_id, version, user_id, verifier, redirect_uri, return_to, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(&[
        text(s.state_hash),
        text(s.workflow_id),
        num(s.version),
        text(s.user_id),
        opt_text(s.verifier),
        text(s.redirect_uri),
        opt_text(s.return_to),
        num(s.expires_at),
        text(s.created_at),
    ])?;
    db.batch(vec![replace, insert]).await?;
    Ok(())
}

/// Consumes a state of this workflow in one statement: the row is deleted and returned, so a
/// second callback with the same state finds nothing. Expiry is checked by the caller (an
/// expired state is consumed too).
pub async fn take_state(
    db: &D1Database,
    state_hash: &str,
    workflow_id: &str,
) -> Result<Option<StateRow>> {
    db.prepare(
        "DELETE FROM oauth_states WHERE state_hash = ?1 AND workflow_id = ?2 \
         RETURNING workflow_id, version, user_id, verifier, redirect_uri, return_to, expires_at",
    )
    .bind(&[text(state_hash), text(workflow_id)])?
    .first::<StateRow>(None)
    .await
}

/// Whether a state exists at all (for another workflow): only to word the error.
pub async fn state_exists(db: &D1Database, state_hash: &str) -> Result<bool> {
    #[derive(Deserialize)]
    struct One {
        #[allow(dead_code)]
        n: i64,
    }
    Ok(db
        .prepare("SELECT 1 AS n FROM oauth_states WHERE state_hash = ?1")
        .bind(&[text(state_hash)])?
        .first::<One>(None)
        .await?
        .is_some())
}

/// Deletes every state expired for longer than `flow::EXPIRED_STATE_KEPT_MS` (one statement
/// over the expiry index, no cap: pending states exist only for signed links, at most one per
/// workflow and user); returns how many.
pub async fn delete_expired_states(db: &D1Database, now_ms: i64) -> Result<usize> {
    let before = now_ms - tripline_core::oauth::flow::EXPIRED_STATE_KEPT_MS;
    let res = db
        .prepare("DELETE FROM oauth_states WHERE expires_at < ?1")
        .bind(&[num(before)])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res))
}

/// Records a one-time Sign-in link (only the SHA-256 of its token).
pub async fn insert_link(
    db: &D1Database,
    token_hash: &str,
    workflow_id: &str,
    user_id: &str,
    expires_at: i64,
    created_at: &str,
) -> Result<()> {
    db.prepare(
        "INSERT INTO oauth_signin_links (token_hash, workflow_id, user_id, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&[
        text(token_hash),
        text(workflow_id),
        text(user_id),
        num(expires_at),
        text(created_at),
    ])?
    .run()
    .await?;
    Ok(())
}

/// A one-time link taken for use: its user and expiry.
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub user_id: String,
    pub expires_at: i64,
}

/// Read column by column (see [`row`](super::row)).
impl<'de> Deserialize<'de> for LinkRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(LinkRow {
                user_id: c.text("user_id")?,
                expires_at: c.int("expires_at")?,
            })
        })
    }
}

/// Consumes a one-time link of this workflow in one statement (deleted and returned, so it
/// works once).
pub async fn take_link(
    db: &D1Database,
    token_hash: &str,
    workflow_id: &str,
) -> Result<Option<LinkRow>> {
    db.prepare(
        "DELETE FROM oauth_signin_links WHERE token_hash = ?1 AND workflow_id = ?2 \
         RETURNING user_id, expires_at",
    )
    .bind(&[text(token_hash), text(workflow_id)])?
    .first::<LinkRow>(None)
    .await
}

/// Deletes every expired one-time link; returns how many.
pub async fn delete_expired_links(db: &D1Database, now_ms: i64) -> Result<usize> {
    let res = db
        .prepare("DELETE FROM oauth_signin_links WHERE expires_at < ?1")
        .bind(&[num(now_ms)])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res))
}

/// One row of `oauth_connections` (read column by column, see [`row`](super::row)).
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub workflow_id: String,
    pub user_id: String,
    pub version: i64,
    pub scopes: String,
    pub token_type: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// An expiry in epoch ms, read as a number: one past 2^53 (stored by earlier versions for
    /// a provider's "never expires") reads as none, instead of making the whole row unreadable.
    pub expires_at: Option<i64>,
    pub userinfo: Option<String>,
    pub status: String,
    pub needs_reauth_at: Option<String>,
    pub needs_reauth_reason: Option<String>,
    pub refresh_lease_until: i64,
    /// Failed refreshes in a row (not a dead grant); reset by a refresh or a sign-in.
    pub refresh_failures: i64,
    pub refreshed_at: Option<String>,
    pub last_refresh_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl<'de> Deserialize<'de> for ConnectionRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::from_columns(Columns::read(d)?).map_err(Bad::into_error)
    }
}

impl ConnectionRow {
    fn from_columns(mut c: Columns) -> std::result::Result<Self, Bad> {
        Ok(ConnectionRow {
            workflow_id: c.text("workflow_id")?,
            user_id: c.text("user_id")?,
            version: c.int("version")?,
            scopes: c.text("scopes")?,
            token_type: c.text("token_type")?,
            access_token: c.text("access_token")?,
            refresh_token: c.opt_text("refresh_token")?,
            expires_at: c
                .opt_number("expires_at")?
                .filter(|ms| ms.is_finite() && ms.abs() < 9_007_199_254_740_992.0)
                .map(|ms| ms as i64),
            userinfo: c.opt_text("userinfo")?,
            status: c.text("status")?,
            needs_reauth_at: c.opt_text("needs_reauth_at")?,
            needs_reauth_reason: c.opt_text("needs_reauth_reason")?,
            refresh_lease_until: c.int("refresh_lease_until")?,
            refresh_failures: c.int("refresh_failures")?,
            refreshed_at: c.opt_text("refreshed_at")?,
            last_refresh_error: c.opt_text("last_refresh_error")?,
            created_at: c.text("created_at")?,
            updated_at: c.text("updated_at")?,
        })
    }
}

const COLUMNS: &str = "workflow_id, user_id, version, scopes, token_type, access_token, refresh_token, expires_at, userinfo, status, needs_reauth_at, needs_reauth_reason, refresh_lease_until, refresh_failures, refreshed_at, last_refresh_error, created_at, updated_at";

impl ConnectionRow {
    /// The API shape: everything but the tokens (only whether a refresh token is held).
    pub fn to_json(&self) -> Value {
        let parse = |s: &str| json_parse::from_str::<Value>(s).unwrap_or(Value::Null);
        json!({
            "workflow_id": self.workflow_id,
            "user_id": self.user_id,
            "version": self.version,
            "status": self.status,
            "scopes": parse(&self.scopes),
            "token_type": self.token_type,
            "expires_at": self.expires_at.map(iso_millis),
            "has_refresh_token": self.refresh_token.is_some(),
            // Shown as a run's input shows it: fields under credential names hidden.
            "userinfo": self.userinfo.as_deref().map(|text| {
                let mut userinfo = parse(text);
                tripline_core::kernel::redact::redact(&mut userinfo, &[]);
                userinfo
            }),
            "needs_reauth": self.needs_reauth_at.as_ref().map(|at| json!({
                "at": at,
                "reason": self.needs_reauth_reason,
            })),
            "refreshed_at": self.refreshed_at,
            "last_refresh_error": self.last_refresh_error,
            // Failed refreshes in a row, and when the next one is tried (their backoff).
            "refresh_failures": self.refresh_failures,
            "next_refresh_attempt_at": (self.refresh_failures > 0 && self.status == "active")
                .then(|| iso_millis(self.refresh_lease_until)),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// A connection to store after a sign-in (tokens already sealed).
pub struct NewConnection<'a> {
    pub workflow_id: &'a str,
    pub user_id: &'a str,
    pub version: i64,
    pub scopes: &'a str,
    pub token_type: &'a str,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    /// Without a new refresh token, keep the stored one (see `api::oauth`: only when the
    /// stored one was issued by the same provider and client).
    pub keep_refresh_token: bool,
    pub expires_at: Option<i64>,
    /// When the Cron pass refreshes it (`oauth::refresh::refresh_at`).
    pub refresh_at: Option<i64>,
    pub userinfo: Option<&'a str>,
    pub now_iso: &'a str,
    /// A refresh running now holds a lease that ends before this (epoch ms): now plus the
    /// longest lease.
    pub running_lease_before: i64,
}

fn opt_num(n: Option<i64>) -> wasm_bindgen::JsValue {
    n.map(num).unwrap_or(wasm_bindgen::JsValue::NULL)
}

/// Stores a connection; signing in again replaces the tokens and clears `needs_reauth` and the
/// refresh backoff. A sign-in that got no refresh token keeps the earlier one when
/// `keep_refresh_token` (Google, for one, returns a refresh token only at the user's first
/// consent).
///
/// The refresh lease is released, except when the stored refresh token is kept: a refresh of
/// it may be running, and its save is fenced on the lease; were the lease cleared, the
/// refresh token a rotating provider returns would be dropped, while the kept one is spent.
/// Only a running refresh's lease stays: a longer backoff is cut to that length.
///
/// Only while the workflow is deployed (`false`: nothing written): a sign-in finishing while it
/// is undeployed or deleted keeps no connection. A delete undeploys first, so a connection
/// written before that is deleted with the workflow, and none can be written after it.
pub async fn upsert(db: &D1Database, c: &NewConnection<'_>) -> Result<bool> {
    let res = db.prepare(
        "INSERT INTO oauth_connections (workflow_id, user_id, version, scopes, token_type, access_token, \
           refresh_token, expires_at, refresh_at, userinfo, status, created_at, updated_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?13, ?9, 'active', ?10, ?10 \
         WHERE EXISTS (SELECT 1 FROM workflows WHERE id = ?1 AND status = 'deployed') \
         ON CONFLICT (workflow_id, user_id) DO UPDATE SET version = ?3, scopes = ?4, token_type = ?5, \
           access_token = ?6, refresh_token = CASE WHEN ?11 = 1 THEN COALESCE(?7, refresh_token) ELSE ?7 END, expires_at = ?8, \
           refresh_at = ?13, \
           userinfo = ?9, status = 'active', needs_reauth_at = NULL, needs_reauth_reason = NULL, \
           refresh_lease_until = CASE WHEN ?11 = 1 AND ?7 IS NULL AND refresh_token IS NOT NULL \
             THEN MIN(refresh_lease_until, ?12) ELSE 0 END, \
           refresh_failures = 0, last_refresh_error = NULL, updated_at = ?10",
    )
    .bind(&[
        text(c.workflow_id),
        text(c.user_id),
        num(c.version),
        text(c.scopes),
        text(c.token_type),
        text(c.access_token),
        opt_text(c.refresh_token),
        opt_num(c.expires_at),
        opt_text(c.userinfo),
        text(c.now_iso),
        num(c.keep_refresh_token as i64),
        num(c.running_lease_before),
        opt_num(c.refresh_at),
    ])?
    .run()
    .await?;
    Ok(super::workflows::changes(&res) > 0)
}

pub async fn get(
    db: &D1Database,
    workflow_id: &str,
    user_id: &str,
) -> Result<Option<ConnectionRow>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM oauth_connections WHERE workflow_id = ?1 AND user_id = ?2"
    ))
    .bind(&[text(workflow_id), text(user_id)])?
    .first::<ConnectionRow>(None)
    .await
}

/// A workflow's connections by user id, `limit` after `after` (exclusive).
pub async fn list(
    db: &D1Database,
    workflow_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<ConnectionRow>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM oauth_connections WHERE workflow_id = ?1 AND user_id > ?2 \
         ORDER BY user_id LIMIT ?3"
    ))
    .bind(&[
        text(workflow_id),
        text(after.unwrap_or("")),
        num(limit as i64),
    ])?
    .all()
    .await?
    .results::<ConnectionRow>()
}

pub async fn delete(db: &D1Database, workflow_id: &str, user_id: &str) -> Result<bool> {
    let res = db
        .prepare("DELETE FROM oauth_connections WHERE workflow_id = ?1 AND user_id = ?2")
        .bind(&[text(workflow_id), text(user_id)])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res) > 0)
}

/// Deletes every connection and pending sign-in of a workflow (the workflow is deleted).
pub async fn delete_for_workflow(db: &D1Database, workflow_id: &str) -> Result<()> {
    db.batch(vec![
        db.prepare("DELETE FROM oauth_connections WHERE workflow_id = ?1")
            .bind(&[text(workflow_id)])?,
        db.prepare("DELETE FROM oauth_signin_links WHERE workflow_id = ?1")
            .bind(&[text(workflow_id)])?,
        db.prepare("DELETE FROM oauth_states WHERE workflow_id = ?1")
            .bind(&[text(workflow_id)])?,
    ])
    .await?;
    Ok(())
}

// The index `oauth_connections_due_at` (migration 0018) and `due`'s statement write the window.
const _: () = assert!(REFRESH_WINDOW_MS == 600_000);

/// Connections whose refresh is due (`refresh_at`, within the 10 minutes before expiry) and
/// can be refreshed now (no refresh in progress,
/// and not waiting out the backoff of earlier failures: `refresh_lease_until` holds the next
/// attempt's time), the longest due first (an index range, read no further than `limit`):
/// workflow, user and the version the connection was made with.
///
/// A connection refreshed at or after `pass_began` (ISO time) is left to the next pass: a token
/// that lives 90 seconds or less is due again as soon as it is stored.
pub async fn due(
    db: &D1Database,
    now_ms: i64,
    limit: u32,
    pass_began: &str,
) -> Result<Vec<(String, String, i64)>> {
    #[derive(Deserialize)]
    struct Key {
        workflow_id: String,
        user_id: String,
        version: i64,
    }
    let rows = db
        .prepare(
            "SELECT workflow_id, user_id, version FROM oauth_connections \
             WHERE status = 'active' AND refresh_token IS NOT NULL AND expires_at <= ?1 + ?3 \
               AND MAX(COALESCE(refresh_at, expires_at - 600000), refresh_lease_until + 1) <= ?1 \
               AND (refreshed_at IS NULL OR refreshed_at < ?4) \
             ORDER BY MAX(COALESCE(refresh_at, expires_at - 600000), refresh_lease_until + 1) \
             LIMIT ?2",
        )
        .bind(&[
            num(now_ms),
            num(limit as i64),
            num(REFRESH_WINDOW_MS),
            text(pass_began),
        ])?
        .all()
        .await?
        .results::<Key>()?;
    Ok(rows
        .into_iter()
        .map(|k| (k.workflow_id, k.user_id, k.version))
        .collect())
}

/// Takes the refresh lease of one connection (only one refresh at a time): succeeds only
/// when the connection is still active, still due and nobody holds an unexpired lease.
/// `lease_until` then fences the writes that follow.
pub async fn claim_refresh(
    db: &D1Database,
    workflow_id: &str,
    user_id: &str,
    now_ms: i64,
    lease_until: i64,
) -> Result<Option<ConnectionRow>> {
    db.prepare(format!(
        "UPDATE oauth_connections SET refresh_lease_until = ?5 \
         WHERE workflow_id = ?1 AND user_id = ?2 AND status = 'active' AND refresh_token IS NOT NULL \
           AND COALESCE(refresh_at, expires_at - ?4) <= ?3 AND refresh_lease_until < ?3 \
         RETURNING {COLUMNS}"
    ))
    .bind(&[
        text(workflow_id),
        text(user_id),
        num(now_ms),
        num(REFRESH_WINDOW_MS),
        num(lease_until),
    ])?
    .first::<ConnectionRow>(None)
    .await
}

/// New tokens after a refresh (sealed).
pub struct Refreshed<'a> {
    pub access_token: &'a str,
    /// `None`: keep the current refresh token (the provider did not rotate it).
    pub refresh_token: Option<&'a str>,
    pub expires_at: Option<i64>,
    /// When the Cron pass refreshes it next (`oauth::refresh::refresh_at`).
    pub refresh_at: Option<i64>,
    pub scopes: &'a str,
    pub token_type: &'a str,
}

/// Stores refreshed tokens and releases the lease, if the lease is still ours.
pub async fn save_refresh(
    db: &D1Database,
    workflow_id: &str,
    user_id: &str,
    lease_until: i64,
    r: &Refreshed<'_>,
    now_iso: &str,
) -> Result<bool> {
    let res = db
        .prepare(
            "UPDATE oauth_connections SET access_token = ?4, refresh_token = COALESCE(?5, refresh_token), \
               expires_at = ?6, refresh_at = ?10, scopes = ?7, token_type = ?8, refreshed_at = ?9, updated_at = ?9, \
               last_refresh_error = NULL, refresh_lease_until = 0, refresh_failures = 0 \
             WHERE workflow_id = ?1 AND user_id = ?2 AND refresh_lease_until = ?3",
        )
        .bind(&[
            text(workflow_id),
            text(user_id),
            num(lease_until),
            text(r.access_token),
            opt_text(r.refresh_token),
            opt_num(r.expires_at),
            text(r.scopes),
            text(r.token_type),
            text(now_iso),
            opt_num(r.refresh_at),
        ])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res) > 0)
}

/// The provider refused the refresh token (`invalid_grant`): the end user must sign in again.
pub async fn mark_needs_reauth(
    db: &D1Database,
    workflow_id: &str,
    user_id: &str,
    lease_until: i64,
    reason: &str,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "UPDATE oauth_connections SET status = 'needs_reauth', needs_reauth_at = ?4, \
           needs_reauth_reason = ?5, last_refresh_error = ?5, refresh_lease_until = 0, \
           refresh_failures = 0, updated_at = ?4 \
         WHERE workflow_id = ?1 AND user_id = ?2 AND refresh_lease_until = ?3",
    )
    .bind(&[
        text(workflow_id),
        text(user_id),
        num(lease_until),
        text(now_iso),
        text(reason),
    ])?
    .run()
    .await?;
    Ok(())
}

/// A refresh failed for a passing reason: record it, count it, and keep the lease until
/// `retry_at` (the backoff), so the connection is not due before then.
pub async fn refresh_failed(
    db: &D1Database,
    workflow_id: &str,
    user_id: &str,
    lease_until: i64,
    error: &str,
    retry_at: i64,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "UPDATE oauth_connections SET last_refresh_error = ?4, refresh_lease_until = ?5, updated_at = ?6, \
           refresh_failures = refresh_failures + 1 \
         WHERE workflow_id = ?1 AND user_id = ?2 AND refresh_lease_until = ?3",
    )
    .bind(&[
        text(workflow_id),
        text(user_id),
        num(lease_until),
        text(error),
        num(retry_at),
        text(now_iso),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Marks `needs_reauth` every active connection without a refresh token whose access token
/// expired before `now_ms` (at most `limit` per call, over the index of such connections):
/// nothing but a new sign-in gives it a working token. Returns how many.
pub async fn expire_unrefreshable(
    db: &D1Database,
    now_ms: i64,
    now_iso: &str,
    limit: u32,
) -> Result<usize> {
    let res = db
        .prepare(
            "UPDATE oauth_connections SET status = 'needs_reauth', needs_reauth_at = ?2, \
               needs_reauth_reason = ?3, updated_at = ?2 \
             WHERE rowid IN (SELECT rowid FROM oauth_connections \
                             WHERE status = 'active' AND refresh_token IS NULL AND expires_at < ?1 \
                             LIMIT ?4)",
        )
        .bind(&[
            num(now_ms),
            text(now_iso),
            text(UNREFRESHABLE_REASON),
            num(limit as i64),
        ])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res))
}

/// Why [`expire_unrefreshable`] marked a connection.
pub const UNREFRESHABLE_REASON: &str = "the access token has expired and the provider issued no \
     refresh token: the end user must sign in again";
