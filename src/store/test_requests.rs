//! The `test_requests` table (a workflow's test shelf) and the `endpoint_stats` counters.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, Result};

use super::{num, opt_text, text};

/// How many captured requests a workflow keeps.
pub const SHELF_SIZE: u32 = 20;

/// One row of `test_requests`.
#[derive(Debug, Clone, Deserialize)]
pub struct TestRequestRow {
    pub id: String,
    pub workflow_id: String,
    pub received_at: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: String,
    pub content_type: Option<String>,
    pub body_kind: Option<String>,
    pub body: Option<String>,
    pub body_error: Option<String>,
    pub raw_body: String,
    pub raw_body_encoding: String,
    pub raw_body_bytes: i64,
    pub raw_body_truncated: i64,
    pub signature: Option<String>,
}

const COLUMNS: &str = "id, workflow_id, received_at, method, path, query, headers, content_type, body_kind, body, body_error, raw_body, raw_body_encoding, raw_body_bytes, raw_body_truncated, signature";

impl TestRequestRow {
    /// The API shape of a captured request.
    pub fn to_json(&self) -> Value {
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        json!({
            "id": self.id,
            "received_at": self.received_at,
            "method": self.method,
            "path": self.path,
            "query": parse(&self.query),
            "headers": parse(&self.headers),
            "content_type": self.content_type,
            "body_kind": self.body_kind,
            "body": self.body.as_deref().map(parse).unwrap_or(Value::Null),
            "body_error": self.body_error,
            "raw_body": self.raw_body,
            "raw_body_encoding": self.raw_body_encoding,
            "raw_body_bytes": self.raw_body_bytes,
            "raw_body_truncated": self.raw_body_truncated != 0,
            "signature": self.signature.as_deref().map(parse),
        })
    }
}

/// Puts a request on the shelf and drops all but the newest [`SHELF_SIZE`], in one batch.
pub async fn insert(db: &D1Database, row: &TestRequestRow) -> Result<()> {
    db.batch(vec![
        db.prepare(format!(
            "INSERT INTO test_requests ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ))
        .bind(&[
            text(&row.id),
            text(&row.workflow_id),
            text(&row.received_at),
            text(&row.method),
            text(&row.path),
            text(&row.query),
            text(&row.headers),
            opt_text(row.content_type.as_deref()),
            opt_text(row.body_kind.as_deref()),
            opt_text(row.body.as_deref()),
            opt_text(row.body_error.as_deref()),
            text(&row.raw_body),
            text(&row.raw_body_encoding),
            num(row.raw_body_bytes),
            num(row.raw_body_truncated),
            opt_text(row.signature.as_deref()),
        ])?,
        db.prepare(
            "DELETE FROM test_requests WHERE workflow_id = ?1 AND id NOT IN (
               SELECT id FROM test_requests WHERE workflow_id = ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(&[text(&row.workflow_id), num(SHELF_SIZE as i64)])?,
    ])
    .await?;
    Ok(())
}

/// The shelf, newest first. No LIMIT: `insert` keeps it at [`SHELF_SIZE`] (in one transaction).
pub async fn list(db: &D1Database, workflow_id: &str) -> Result<Vec<TestRequestRow>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM test_requests WHERE workflow_id = ?1 ORDER BY id DESC"
    ))
    .bind(&[text(workflow_id)])?
    .all()
    .await?
    .results::<TestRequestRow>()
}

/// One captured request of a workflow, or its newest when `id` is `None`.
pub async fn get(
    db: &D1Database,
    workflow_id: &str,
    id: Option<&str>,
) -> Result<Option<TestRequestRow>> {
    match id {
        Some(id) => {
            db.prepare(format!(
                "SELECT {COLUMNS} FROM test_requests WHERE workflow_id = ?1 AND id = ?2"
            ))
            .bind(&[text(workflow_id), text(id)])?
            .first::<TestRequestRow>(None)
            .await
        }
        None => {
            db.prepare(format!(
                "SELECT {COLUMNS} FROM test_requests WHERE workflow_id = ?1 ORDER BY id DESC LIMIT 1"
            ))
            .bind(&[text(workflow_id)])?
            .first::<TestRequestRow>(None)
            .await
        }
    }
}

/// The endpoint counters of a workflow.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndpointStats {
    pub signature_failures: i64,
    pub last_signature_failure_at: Option<String>,
}

/// Counts one rejected signature.
pub async fn count_signature_failure(db: &D1Database, workflow_id: &str, now: &str) -> Result<()> {
    db.prepare(
        "INSERT INTO endpoint_stats (workflow_id, signature_failures, last_signature_failure_at)
         VALUES (?1, 1, ?2)
         ON CONFLICT (workflow_id) DO UPDATE SET
           signature_failures = signature_failures + 1, last_signature_failure_at = ?2",
    )
    .bind(&[text(workflow_id), text(now)])?
    .run()
    .await?;
    Ok(())
}

pub async fn stats(db: &D1Database, workflow_id: &str) -> Result<EndpointStats> {
    Ok(db
        .prepare(
            "SELECT signature_failures, last_signature_failure_at FROM endpoint_stats
             WHERE workflow_id = ?1",
        )
        .bind(&[text(workflow_id)])?
        .first::<EndpointStats>(None)
        .await?
        .unwrap_or_default())
}
