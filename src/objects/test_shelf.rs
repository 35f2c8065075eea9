//! A workflow's test shelf, in its object's SQLite: the newest [`SHELF_SIZE`] requests sent to
//! its test URL, and a copy of the draft whose settings a capture follows (body limit,
//! signature check). Unauthenticated traffic writes only here, never to D1; a capture makes no
//! D1 statement once the object holds the draft (the API hands it over on every create and
//! replace; an object that predates that reads it from D1 once).
//!
//! Shelved requests are short-lived samples: captures made before the shelf moved here are not
//! carried over.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{Env, Request, Response, Result, SqlStorage, SqlStorageValue, Url};

use super::{call, Action, WorkflowObject};
use crate::store;

/// How many captured requests a workflow keeps.
pub const SHELF_SIZE: u32 = 20;

/// The draft as the object holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub trigger_type: String,
    pub draft: String,
    pub updated_at: String,
}

impl Draft {
    /// The draft of a workflow row.
    pub fn of(row: &store::workflows::WorkflowRow) -> Draft {
        Draft {
            trigger_type: row.trigger_type.as_str().to_string(),
            draft: row.draft.clone(),
            updated_at: row.updated_at.clone(),
        }
    }
}

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

fn open(obj: &WorkflowObject) -> Result<SqlStorage> {
    let sql = obj.state().storage().sql();
    sql.exec(
        "CREATE TABLE IF NOT EXISTS test_requests (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
        None,
    )?;
    sql.exec(
        "CREATE TABLE IF NOT EXISTS test_draft (one INTEGER PRIMARY KEY CHECK (one = 1),
           trigger_type TEXT NOT NULL, draft TEXT NOT NULL, updated_at TEXT NOT NULL)",
        None,
    )?;
    Ok(sql)
}

/// Whether this object has made its shelf tables yet.
fn has_tables(obj: &WorkflowObject) -> Result<bool> {
    #[derive(Deserialize)]
    struct Name {
        #[allow(dead_code)]
        name: String,
    }
    let found = obj
        .state()
        .storage()
        .sql()
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'test_draft'",
            None,
        )?
        .to_array::<Name>()?;
    Ok(!found.is_empty())
}

fn stored_draft(sql: &SqlStorage) -> Result<Option<Draft>> {
    Ok(sql
        .exec(
            "SELECT trigger_type, draft, updated_at FROM test_draft",
            None,
        )?
        .to_array::<Draft>()?
        .into_iter()
        .next())
}

fn store_draft(sql: &SqlStorage, d: &Draft) -> Result<()> {
    // Two saves may arrive out of order: the newer draft wins.
    sql.exec(
        "INSERT INTO test_draft (one, trigger_type, draft, updated_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (one) DO UPDATE SET trigger_type = excluded.trigger_type,
           draft = excluded.draft, updated_at = excluded.updated_at
         WHERE excluded.updated_at >= test_draft.updated_at",
        vec![
            SqlStorageValue::from(d.trigger_type.as_str()),
            SqlStorageValue::from(d.draft.as_str()),
            SqlStorageValue::from(d.updated_at.as_str()),
        ],
    )?;
    Ok(())
}

/// Serves the shelf's actions in the object.
pub async fn handle(
    obj: &WorkflowObject,
    action: Action,
    url: &Url,
    mut req: Request,
) -> Result<Response> {
    if action == Action::TestDraftGet && !has_tables(obj)? {
        // Only reads until the workflow is known: requests to a made-up id store nothing.
        let id = param(url, "workflow");
        if store::workflows::get(&store::db(obj.env())?, &id)
            .await?
            .is_none()
        {
            return Response::error("no such workflow", 404);
        }
    }
    let sql = open(obj)?;
    match action {
        Action::TestDraft => {
            let d: Draft = req.json().await?;
            store_draft(&sql, &d)?;
            Response::ok("kept")
        }
        Action::TestForget => {
            sql.exec("DELETE FROM test_draft", None)?;
            sql.exec("DELETE FROM test_requests", None)?;
            super::endpoint_stats::forget(obj)?;
            Response::ok("forgotten")
        }
        Action::TestDraftGet => {
            if let Some(d) = stored_draft(&sql)? {
                return Response::from_json(&d);
            }
            // An object from before drafts were handed over: read it from D1 once.
            let id = param(url, "workflow");
            let Some(row) = store::workflows::get(&store::db(obj.env())?, &id).await? else {
                return Response::error("no such workflow", 404);
            };
            let d = Draft::of(&row);
            store_draft(&sql, &d)?;
            Response::from_json(&d)
        }
        Action::TestPut => {
            let id = param(url, "id");
            let record = req.text().await?;
            sql.exec(
                "INSERT INTO test_requests (id, record) VALUES (?, ?)",
                vec![SqlStorageValue::from(id), SqlStorageValue::from(record)],
            )?;
            sql.exec(
                "DELETE FROM test_requests WHERE id NOT IN (
                   SELECT id FROM test_requests ORDER BY id DESC LIMIT ?)",
                vec![SqlStorageValue::from(SHELF_SIZE as i64)],
            )?;
            Response::ok("kept")
        }
        Action::TestList => {
            let rows = sql
                .exec("SELECT record FROM test_requests ORDER BY id DESC", None)?
                .to_array::<RecordRow>()?;
            // The records are JSON already: joined, not parsed.
            let list: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
            Response::ok(format!("[{}]", list.join(",")))
        }
        _ => Response::error("not a test shelf action", 404),
    }
}

fn param(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

// The Worker's side.

/// The draft the test URL follows; `None` when there is no such workflow.
pub async fn draft(env: &Env, workflow_id: &str) -> Result<Option<Draft>> {
    let mut resp = call(env, workflow_id, Action::TestDraftGet, None).await?;
    if resp.status_code() == 404 {
        return Ok(None);
    }
    Ok(Some(resp.json().await?))
}

/// Hands a saved draft to the workflow's object.
pub async fn keep_draft(env: &Env, workflow_id: &str, d: &Draft) -> Result<()> {
    call(
        env,
        workflow_id,
        Action::TestDraft,
        Some(serde_json::to_string(d)?),
    )
    .await?;
    Ok(())
}

/// Drops the shelf, the draft copy and the endpoint counters (the workflow is deleted).
pub async fn forget(env: &Env, workflow_id: &str) -> Result<()> {
    call(env, workflow_id, Action::TestForget, None).await?;
    Ok(())
}

/// Puts a captured request (`id`: `tr_…`, sorting by age; `record` in the API's shape) on the
/// shelf, keeping the newest [`SHELF_SIZE`].
pub async fn put(env: &Env, workflow_id: &str, id: &str, record: &Value) -> Result<()> {
    let url = format!("{}&id={id}", Action::TestPut.url(workflow_id));
    super::call_url(env, workflow_id, &url, Some(record.to_string())).await?;
    Ok(())
}

/// The shelf, newest first, in the API's shape.
pub async fn list(env: &Env, workflow_id: &str) -> Result<Vec<Value>> {
    call(env, workflow_id, Action::TestList, None)
        .await?
        .json()
        .await
}
