//! A workflow's test shelf, in its object's SQLite: the newest [`SHELF_SIZE`] requests sent to
//! its test URL (of them at most [`SHELF_FAILED_SIZE`] that failed the draft's signature
//! check), within [`SHELF_MAX_BYTES`] of stored JSON in all, and a copy of the draft whose
//! settings a capture follows (body limit, signature check). Records stay JSON text on the way
//! out: the list is joined, not parsed, and schema detection asks for the one record it reads,
//! so the memory a shelf takes is bounded whatever was captured. Unauthenticated traffic writes only here, never to D1; a capture makes no
//! D1 statement once the object holds the draft (the API hands it over on every create and
//! replace; an object that predates that reads it from D1 once).
//!
//! Shelved requests are short-lived samples: captures made before the shelf moved here are not
//! carried over.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response, Result, SqlStorage, SqlStorageValue, Url};

use super::{call, Action, WorkflowObject};
use crate::store;
use tripline_core::endpoint::runtime::SHELF_MAX_BYTES;

/// How many captured requests a workflow keeps.
pub const SHELF_SIZE: u32 = 20;
/// How many of them may have failed the draft's `verify`: anyone who knows the workflow's id
/// can send those, and a flood of them must not push out the signed samples.
pub const SHELF_FAILED_SIZE: u32 = 5;

/// A row of one JSON text (a shelved request, the draft copy).
#[derive(Deserialize)]
pub struct RecordRow {
    pub record: String,
}

fn open(obj: &WorkflowObject) -> Result<SqlStorage> {
    let sql = obj.state().storage().sql();
    sql.exec(
        "CREATE TABLE IF NOT EXISTS test_requests (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
        None,
    )?;
    sql.exec(
        "CREATE TABLE IF NOT EXISTS test_draft (one INTEGER PRIMARY KEY CHECK (one = 1),
           record TEXT NOT NULL)",
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

/// The draft copy: `{"trigger_type", "draft", "updated_at"}` as JSON text.
fn stored_draft(sql: &SqlStorage) -> Result<Option<String>> {
    Ok(sql
        .exec("SELECT record FROM test_draft", None)?
        .to_array::<RecordRow>()?
        .into_iter()
        .next()
        .map(|r| r.record))
}

fn store_draft(sql: &SqlStorage, record: &str) -> Result<()> {
    // Two saves may arrive out of order: the newer draft wins.
    sql.exec(
        "INSERT INTO test_draft (one, record) VALUES (1, ?) \
         ON CONFLICT (one) DO UPDATE SET record = excluded.record \
         WHERE json_extract(excluded.record, '$.updated_at') \
            >= json_extract(test_draft.record, '$.updated_at')",
        vec![SqlStorageValue::from(record)],
    )?;
    Ok(())
}

/// The draft copy of a deleted workflow: its `updated_at` sorts after every time, so
/// [`store_draft`] never replaces it.
const DELETED_DRAFT: &str = r#"{"deleted":true,"updated_at":"~"}"#;

/// The draft record of a workflow row.
fn draft_record(row: &store::workflows::WorkflowRow) -> String {
    json!({
        "trigger_type": row.trigger_type.as_str(),
        "draft": row.draft,
        "updated_at": row.updated_at,
    })
    .to_string()
}

/// The workflow is deleted: its draft copy becomes a mark no later save replaces (a save racing
/// the delete may arrive after it), so the test URL stores nothing again; the shelf and the
/// endpoint counters go.
pub fn mark_deleted(obj: &WorkflowObject) -> Result<()> {
    let sql = open(obj)?;
    sql.exec(
        "INSERT INTO test_draft (one, record) VALUES (1, ?) \
         ON CONFLICT (one) DO UPDATE SET record = excluded.record",
        vec![SqlStorageValue::from(DELETED_DRAFT)],
    )?;
    sql.exec("DELETE FROM test_requests", None)?;
    super::endpoint_stats::forget(obj)
}

/// Serves the shelf's actions in the object.
pub async fn handle(
    obj: &WorkflowObject,
    action: Action,
    url: &Url,
    mut req: Request,
) -> Result<Response> {
    // Only reads until the workflow is known: requests to a made-up id store nothing. The row
    // read here is the one an object from before drafts were handed over keeps (below).
    let mut known = None;
    if action == Action::TestDraftGet && !has_tables(obj)? {
        let id = param(url, "workflow");
        match store::workflows::get(&store::db(obj.env())?, &id).await? {
            Some(row) => known = Some(row),
            None => return Response::error("no such workflow", 404),
        }
    }
    let sql = open(obj)?;
    match action {
        Action::TestDraft => {
            store_draft(&sql, &req.text().await?)?;
            Response::ok("kept")
        }
        Action::TestDraftGet => {
            if let Some(d) = stored_draft(&sql)? {
                if d == DELETED_DRAFT {
                    return Response::error("no such workflow", 404);
                }
                return Response::ok(d);
            }
            // An object from before drafts were handed over: read it from D1 once.
            let row = match known {
                Some(row) => row,
                None => {
                    let id = param(url, "workflow");
                    match store::workflows::get(&store::db(obj.env())?, &id).await? {
                        Some(row) => row,
                        None => return Response::error("no such workflow", 404),
                    }
                }
            };
            let d = draft_record(&row);
            store_draft(&sql, &d)?;
            Response::ok(d)
        }
        Action::TestPut => {
            let id = param(url, "id");
            let record = req.text().await?;
            // Deleted while the request was read (a slow body): nothing is kept.
            if stored_draft(&sql)?.as_deref() == Some(DELETED_DRAFT) {
                return Response::error("no such workflow", 404);
            }
            sql.exec(
                "INSERT INTO test_requests (id, record) VALUES (?, ?)",
                vec![SqlStorageValue::from(id), SqlStorageValue::from(record)],
            )?;
            // At most SHELF_FAILED_SIZE that failed the signature check or a gate, the newest
            // kept.
            sql.exec(
                "DELETE FROM test_requests WHERE id IN ( \
                   SELECT id FROM ( \
                     SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) AS n FROM test_requests \
                     WHERE json_extract(record, '$.signature.valid') = 0 \
                        OR json_extract(record, '$.gate_error') IS NOT NULL) \
                   WHERE n > ?)",
                vec![SqlStorageValue::from(SHELF_FAILED_SIZE as i64)],
            )?;
            // The newest is always kept; older ones go past SHELF_SIZE or SHELF_MAX_BYTES.
            sql.exec(
                "DELETE FROM test_requests WHERE id IN ( \
                   SELECT id FROM ( \
                     SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) AS n, \
                            SUM(length(CAST(record AS BLOB))) OVER (ORDER BY id DESC) AS upto \
                     FROM test_requests) \
                   WHERE n > 1 AND (n > ? OR upto > ?))",
                vec![
                    SqlStorageValue::from(SHELF_SIZE as i64),
                    SqlStorageValue::from(SHELF_MAX_BYTES as i64),
                ],
            )?;
            Response::ok("kept")
        }
        Action::TestGet => {
            let id = param(url, "id");
            let rows = if id.is_empty() {
                // The newest capture that passed the draft's `verify` (`signed`: one is
                // required; else one that did not fail it): anyone may post to the test URL,
                // and what a stranger sends unsigned, or without a gate's secret, must not
                // become the schema. Nor one whose body or query could not be read, or sent
                // with a method the draft does not accept (a browser's GET, a link checker's
                // HEAD): it would propose no rules for them.
                let passed = match param(url, "signed") == "1" {
                    true => "json_extract(record, '$.signature.valid') = 1",
                    false => "json_extract(record, '$.signature.valid') IS NOT 0",
                };
                let methods = param(url, "methods");
                let methods: Vec<SqlStorageValue> = methods
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(|m| SqlStorageValue::from(m.to_string()))
                    .collect();
                let accepted = match methods.len() {
                    0 => String::new(),
                    n => format!(
                        "AND json_extract(record, '$.method') IN ({}) ",
                        vec!["?"; n].join(",")
                    ),
                };
                sql.exec(
                    &format!(
                        "SELECT record FROM test_requests WHERE {passed} \
                         AND json_extract(record, '$.gate_error') IS NULL \
                         AND json_extract(record, '$.body_error') IS NULL \
                         AND json_extract(record, '$.query_error') IS NULL {accepted}\
                         ORDER BY id DESC LIMIT 1"
                    ),
                    (!methods.is_empty()).then_some(methods),
                )?
            } else {
                sql.exec(
                    "SELECT record FROM test_requests WHERE id = ?",
                    vec![SqlStorageValue::from(id)],
                )?
            }
            .to_array::<RecordRow>()?;
            match rows.into_iter().next() {
                Some(row) => Response::ok(row.record),
                None => Response::error("no such test request", 404),
            }
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

/// The draft the test URL follows, `{"trigger_type", "draft", "updated_at"}`; `None` when there
/// is no such workflow.
pub async fn draft(env: &Env, workflow_id: &str) -> Result<Option<Value>> {
    let answer = call(env, workflow_id, Action::TestDraftGet, None).await?;
    if answer.status == 404 {
        return Ok(None);
    }
    Ok(Some(answer.json()?))
}

/// Hands a saved draft to the workflow's object.
pub async fn keep_draft(
    env: &Env,
    workflow_id: &str,
    row: &store::workflows::WorkflowRow,
) -> Result<()> {
    call(env, workflow_id, Action::TestDraft, Some(draft_record(row))).await?;
    Ok(())
}

/// Drops the shelf, the draft copy and the endpoint counters (the workflow is deleted).
pub async fn forget(env: &Env, workflow_id: &str) -> Result<()> {
    call(env, workflow_id, Action::TestForget, None).await?;
    Ok(())
}

/// Puts a captured request (`id`: `tr_…`, sorting by age; `record` in the API's shape) on the
/// shelf, keeping the newest [`SHELF_SIZE`] within [`SHELF_MAX_BYTES`] (the newest always);
/// false when the workflow was deleted meanwhile (nothing is kept).
pub async fn put(env: &Env, workflow_id: &str, id: &str, record: &Value) -> Result<bool> {
    let url = format!("{}&id={id}", Action::TestPut.url(workflow_id));
    let answer = super::call_url(env, workflow_id, &url, Some(record.to_string())).await?;
    Ok(answer.status != 404)
}

/// The shelf, newest first, in the API's shape: a JSON array as text (never parsed here).
pub async fn list(env: &Env, workflow_id: &str) -> Result<String> {
    Ok(call(env, workflow_id, Action::TestList, None).await?.text)
}

/// One shelved request in the API's shape: `id`, or the newest when `None`; `None` when the
/// shelf has no such request.
pub async fn get(
    env: &Env,
    workflow_id: &str,
    id: Option<&str>,
    signed: bool,
    methods: &[String],
) -> Result<Option<Value>> {
    let mut url = Action::TestGet.url(workflow_id);
    if let Some(id) = id {
        url.push_str("&id=");
        url.push_str(&tripline_core::kernel::percent::encode(id));
    }
    if signed {
        url.push_str("&signed=1");
    }
    if !methods.is_empty() {
        url.push_str("&methods=");
        url.push_str(&tripline_core::kernel::percent::encode(&methods.join(",")));
    }
    super::call_url(env, workflow_id, &url, None)
        .await?
        .found("reading the test shelf")
}
