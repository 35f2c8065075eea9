//! The `arm_outbox` table: workflows whose deploy or undeploy call to their object failed or
//! has not answered yet, for the Cron pass to make again (see `cron::retry_arm_outbox`).

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement, Result};

use super::row::read_with;

use super::{num, text};

/// A failed call to retry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub workflow_id: String,
    pub action: String,
    pub attempts: u32,
    /// Fences the delete after a retry: a failure recorded meanwhile moves it.
    pub next_try_at: f64,
}

/// Read column by column (see [`row`](super::row)).
impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(Entry {
                workflow_id: c.text("workflow_id")?,
                action: c.text("action")?,
                attempts: c.uint("attempts")?,
                next_try_at: c.number("next_try_at")?,
            })
        })
    }
}

/// Records that `action` (`deploy` | `undeploy`) failed for a workflow, due at once; replaces
/// an older entry of the workflow (the retry arms the object from the catalog as it is then).
pub async fn record(
    db: &D1Database,
    workflow_id: &str,
    action: &str,
    error: &str,
    now_ms: i64,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "INSERT INTO arm_outbox (workflow_id, action, attempts, next_try_at, last_error, created_at) \
         VALUES (?1, ?2, 0, ?3, ?4, ?5) \
         ON CONFLICT (workflow_id) DO UPDATE SET action = ?2, attempts = 0, next_try_at = ?3, \
           last_error = ?4, created_at = ?5",
    )
    .bind(&[
        text(workflow_id),
        text(action),
        num(now_ms),
        text(error),
        text(now_iso),
    ])?
    .run()
    .await?;
    Ok(())
}

/// How long a deploy's or undeploy's own call to the object has before the Cron pass makes it
/// instead (see [`pending`]).
pub const PENDING_MS: i64 = 15_000;

/// The object's call a deploy or undeploy is about to make, recorded in the catalog's own
/// transaction and due [`PENDING_MS`] later: should the API request end before the object
/// answered (its Worker stopped there), the Cron pass makes the call. Deleted by [`settled`]
/// once the object has answered; a failure replaces it with one due at once ([`record`]).
/// Written only while the workflow exists (and, for a deploy, its draft is still `draft`).
pub fn pending(
    db: &D1Database,
    workflow_id: &str,
    action: &str,
    draft: Option<&str>,
    now_ms: i64,
    now_iso: &str,
) -> Result<D1PreparedStatement> {
    db.prepare(
        "INSERT INTO arm_outbox (workflow_id, action, attempts, next_try_at, last_error, created_at) \
         SELECT ?1, ?2, 0, ?3, 'the call to the object had not answered', ?4 FROM workflows \
         WHERE id = ?1 AND (?5 IS NULL OR draft = ?5) \
         ON CONFLICT (workflow_id) DO UPDATE SET action = ?2, attempts = 0, next_try_at = ?3, \
           last_error = excluded.last_error, created_at = ?4",
    )
    .bind(&[
        text(workflow_id),
        text(action),
        num(now_ms + PENDING_MS),
        text(now_iso),
        super::opt_text(draft),
    ])
}

/// The last call of a delete (the object emptied once more, should a deploy that read the row
/// before it went have armed it), recorded in the delete's own transaction as [`pending`]
/// records a deploy's, but whether or not the row is still there: should the request end
/// before the object answered, the Cron pass makes the call (the object, finding no such
/// workflow, empties itself). [`settled`] once the object has answered.
pub fn deleted_call(
    db: &D1Database,
    workflow_id: &str,
    now_ms: i64,
    now_iso: &str,
) -> Result<D1PreparedStatement> {
    db.prepare(
        "INSERT INTO arm_outbox (workflow_id, action, attempts, next_try_at, last_error, created_at) \
         VALUES (?1, 'undeploy', 0, ?2, 'the call to the object had not answered', ?3) \
         ON CONFLICT (workflow_id) DO UPDATE SET action = 'undeploy', attempts = 0, \
           next_try_at = ?2, last_error = 'the call to the object had not answered', \
           created_at = ?3",
    )
    .bind(&[
        text(workflow_id),
        num(now_ms + PENDING_MS),
        text(now_iso),
    ])
}

/// Deletes the entry [`pending`] wrote at `now_ms`, now that the object has answered (unless a
/// later deploy, undeploy or failure replaced it).
pub async fn settled(db: &D1Database, workflow_id: &str, now_ms: i64) -> Result<()> {
    db.prepare("DELETE FROM arm_outbox WHERE workflow_id = ?1 AND next_try_at = ?2")
        .bind(&[text(workflow_id), num(now_ms + PENDING_MS)])?
        .run()
        .await?;
    Ok(())
}

/// The entries due at `now_ms`, oldest due first, at most `limit` (an index range).
pub async fn due(db: &D1Database, now_ms: i64, limit: u32) -> Result<Vec<Entry>> {
    db.prepare(
        "SELECT workflow_id, action, attempts, next_try_at FROM arm_outbox \
         WHERE next_try_at <= ?1 ORDER BY next_try_at LIMIT ?2",
    )
    .bind(&[num(now_ms), num(i64::from(limit))])?
    .all()
    .await?
    .results::<Entry>()
}

/// Deletes an entry the object has now handled, unless a newer failure replaced it.
pub async fn delete(db: &D1Database, entry: &Entry) -> Result<()> {
    db.prepare("DELETE FROM arm_outbox WHERE workflow_id = ?1 AND next_try_at = ?2")
        .bind(&[text(&entry.workflow_id), num(entry.next_try_at as i64)])?
        .run()
        .await?;
    Ok(())
}

/// Counts a failed retry and puts the next one off until `next_try_at`.
pub async fn retry_later(
    db: &D1Database,
    entry: &Entry,
    next_try_at: i64,
    error: &str,
) -> Result<()> {
    db.prepare(
        "UPDATE arm_outbox SET attempts = attempts + 1, next_try_at = ?3, last_error = ?4 \
         WHERE workflow_id = ?1 AND next_try_at = ?2",
    )
    .bind(&[
        text(&entry.workflow_id),
        num(entry.next_try_at as i64),
        num(next_try_at),
        text(error),
    ])?
    .run()
    .await?;
    Ok(())
}
