//! An endpoint workflow's counters (signature failures), in its object's SQLite: written by
//! unauthenticated requests, so never in D1.

use worker::{Env, Response, Result, SqlStorage, SqlStorageValue};

use super::test_shelf::RecordRow;
use super::{call, Action, WorkflowObject};

fn open(obj: &WorkflowObject) -> Result<SqlStorage> {
    let sql = obj.state().storage().sql();
    sql.exec(
        "CREATE TABLE IF NOT EXISTS endpoint_stats (one INTEGER PRIMARY KEY CHECK (one = 1),
           signature_failures INTEGER NOT NULL, last_signature_failure_at TEXT)",
        None,
    )?;
    Ok(sql)
}

/// Serves the counters' actions in the object (`at`: the body of a `SignatureFailure`).
pub fn handle(obj: &WorkflowObject, action: Action, at: String) -> Result<Response> {
    let sql = open(obj)?;
    match action {
        Action::SignatureFailure => {
            sql.exec(
                "INSERT INTO endpoint_stats (one, signature_failures, last_signature_failure_at) \
                 VALUES (1, 1, ?) \
                 ON CONFLICT (one) DO UPDATE SET \
                   signature_failures = signature_failures + 1, \
                   last_signature_failure_at = excluded.last_signature_failure_at",
                vec![SqlStorageValue::from(at)],
            )?;
            Response::ok("counted")
        }
        _ => {
            // `{"signature_failures", "last_signature_failure_at"}`, zero before any.
            let stats = sql
                .exec(
                    "SELECT json_object('signature_failures', IFNULL(MAX(signature_failures), 0), \
                       'last_signature_failure_at', MAX(last_signature_failure_at)) AS record \
                     FROM endpoint_stats",
                    None,
                )?
                .to_array::<RecordRow>()?;
            Response::ok(
                stats
                    .into_iter()
                    .next()
                    .map(|r| r.record)
                    .unwrap_or_default(),
            )
        }
    }
}

/// Drops the counters (the workflow is deleted).
pub fn forget(obj: &WorkflowObject) -> Result<()> {
    open(obj)?.exec("DELETE FROM endpoint_stats", None)?;
    Ok(())
}

// The Worker's side.

/// Counts one rejected signature at `at` (ISO time).
pub async fn count_signature_failure(env: &Env, workflow_id: &str, at: &str) -> Result<()> {
    call(
        env,
        workflow_id,
        Action::SignatureFailure,
        Some(at.to_string()),
    )
    .await?;
    Ok(())
}

/// The counters of a workflow: `{"signature_failures", "last_signature_failure_at"}`.
pub async fn stats(env: &Env, workflow_id: &str) -> Result<serde_json::Value> {
    call(env, workflow_id, Action::EndpointStats, None)
        .await?
        .json()
}
