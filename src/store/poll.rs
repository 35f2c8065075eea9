//! The `poll_status` table: each poll trigger's health, written by its Durable Object after a
//! poll and read by `GET /api/workflows/{id}`.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, D1PreparedStatement, Result};

use super::{num, opt_text, text};

/// One row of `poll_status`.
#[derive(Debug, Clone, Deserialize)]
pub struct PollStatusRow {
    pub last_poll_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_poll_error: Option<String>,
    pub consecutive_failures: i64,
    pub next_poll_at: Option<String>,
    pub runs_created: i64,
    pub cursor: Option<String>,
    pub waiting: Option<String>,
    pub last_gap: Option<String>,
}

impl PollStatusRow {
    /// The API shape (`poll` in a workflow resource).
    pub fn to_json(&self) -> Value {
        json!({
            "last_poll_at": self.last_poll_at,
            "last_success_at": self.last_success_at,
            "last_poll_error": self.last_poll_error,
            "consecutive_failures": self.consecutive_failures,
            "next_poll_at": self.next_poll_at,
            "runs_created": self.runs_created,
            "cursor": json_text(self.cursor.as_deref()),
            "waiting": json_text(self.waiting.as_deref()),
            "last_gap": json_text(self.last_gap.as_deref()),
        })
    }

    /// What a poll workflow shows before its first poll.
    pub fn empty_json() -> Value {
        PollStatusRow {
            last_poll_at: None,
            last_success_at: None,
            last_poll_error: None,
            consecutive_failures: 0,
            next_poll_at: None,
            runs_created: 0,
            cursor: None,
            waiting: None,
            last_gap: None,
        }
        .to_json()
    }
}

fn json_text(text: Option<&str>) -> Value {
    text.and_then(|c| serde_json::from_str::<Value>(c).ok())
        .unwrap_or(Value::Null)
}

/// What one poll (or a series of batches polled in one go) reports.
pub struct PollReport<'a> {
    pub workflow_id: &'a str,
    pub at: &'a str,
    /// `None` = success.
    pub error: Option<&'a str>,
    pub consecutive_failures: u32,
    pub next_poll_at: &'a str,
    pub runs_created: usize,
    /// `None` = unchanged.
    pub cursor: Option<&'a str>,
    /// The transaction holding rows back (JSON), `None` when nothing is held back (a failed
    /// poll keeps what was shown).
    pub waiting: Option<&'a str>,
    /// A gap this poll could not rule out (JSON), `None` = the last one stays shown.
    pub gap: Option<&'a str>,
}

/// The upsert for a poll's report (to batch with the timer row).
pub fn report_statement(db: &D1Database, r: &PollReport<'_>) -> Result<D1PreparedStatement> {
    db.prepare(
        "INSERT INTO poll_status (workflow_id, last_poll_at, last_success_at, last_poll_error,
           consecutive_failures, next_poll_at, runs_created, cursor, waiting, last_gap, updated_at)
         VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?2)
         ON CONFLICT (workflow_id) DO UPDATE SET
           last_poll_at = ?2,
           last_success_at = CASE WHEN ?3 IS NULL THEN ?2 ELSE last_success_at END,
           last_poll_error = ?3,
           consecutive_failures = ?4,
           next_poll_at = ?5,
           runs_created = runs_created + ?6,
           cursor = COALESCE(?7, cursor),
           waiting = CASE WHEN ?3 IS NULL THEN ?8 ELSE waiting END,
           last_gap = COALESCE(?9, last_gap),
           updated_at = ?2",
    )
    .bind(&[
        text(r.workflow_id),
        text(r.at),
        opt_text(r.error),
        num(i64::from(r.consecutive_failures)),
        text(r.next_poll_at),
        num(r.runs_created as i64),
        opt_text(r.cursor),
        opt_text(r.waiting),
        opt_text(r.gap),
    ])
}

/// Sets the shown cursor (after a reset).
pub async fn set_cursor(db: &D1Database, workflow_id: &str, cursor: &str, now: &str) -> Result<()> {
    db.prepare(
        "INSERT INTO poll_status (workflow_id, cursor, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (workflow_id) DO UPDATE SET cursor = ?2, updated_at = ?3",
    )
    .bind(&[text(workflow_id), text(cursor), text(now)])?
    .run()
    .await?;
    Ok(())
}

pub async fn get(db: &D1Database, workflow_id: &str) -> Result<Option<PollStatusRow>> {
    db.prepare(
        "SELECT last_poll_at, last_success_at, last_poll_error, consecutive_failures, next_poll_at,
           runs_created, cursor, waiting, last_gap FROM poll_status WHERE workflow_id = ?1",
    )
    .bind(&[text(workflow_id)])?
    .first::<PollStatusRow>(None)
    .await
}

pub async fn delete(db: &D1Database, workflow_id: &str) -> Result<()> {
    db.prepare("DELETE FROM poll_status WHERE workflow_id = ?1")
        .bind(&[text(workflow_id)])?
        .run()
        .await?;
    Ok(())
}
