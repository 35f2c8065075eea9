//! The `runs` table: one row per run, unique per (workflow, dedup key).

use serde::Deserialize;
use serde_json::{json, Value};
use tripline_core::kernel::chunks;
use worker::{D1Database, Result};

use super::{num, text};

/// One row of `runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunRow {
    pub id: String,
    pub workflow_id: String,
    pub version: i64,
    pub trigger: String,
    pub dedup_key: String,
    pub status: String,
    pub input: String,
    pub steps: String,
    pub error: Option<String>,
    pub response: Option<String>,
    pub attempts: i64,
    pub lease_until: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

const COLUMNS: &str = "id, workflow_id, version, trigger, dedup_key, status, input, steps, error, response, attempts, lease_until, created_at, started_at, finished_at";

/// Run statuses, as stored and as filtered on.
pub const STATUSES: &[&str] = &["queued", "running", "succeeded", "failed"];

impl RunRow {
    /// The API shape of a run.
    pub fn to_json(&self) -> Value {
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        json!({
            "id": self.id,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "trigger": self.trigger,
            "dedup_key": self.dedup_key,
            "status": self.status,
            "input": parse(&self.input),
            "steps": parse(&self.steps),
            "error": self.error.as_deref().map(parse),
            "response": self.response.as_deref().map(parse),
            "attempts": self.attempts,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        })
    }
}

/// A run to insert.
pub struct NewRun<'a> {
    pub id: &'a str,
    pub workflow_id: &'a str,
    pub version: i64,
    pub trigger: &'a str,
    pub dedup_key: &'a str,
    pub input: &'a str,
    pub created_at: &'a str,
    /// Until when the creator owns execution; the reconciler takes over after that.
    pub lease_until: i64,
}

/// Inserts a run unless one with the same dedup key exists for the workflow.
/// Returns `(run id, created)`: on a duplicate, the existing run's id and `false`.
pub async fn insert_dedup(db: &D1Database, run: &NewRun<'_>) -> Result<(String, bool)> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let inserted = db
        .prepare(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, created_at, lease_until)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8)
             ON CONFLICT (workflow_id, dedup_key) DO NOTHING RETURNING id",
        )
        .bind(&[
            text(run.id),
            text(run.workflow_id),
            num(run.version),
            text(run.trigger),
            text(run.dedup_key),
            text(run.input),
            text(run.created_at),
            num(run.lease_until),
        ])?
        .first::<Id>(None)
        .await?;
    if let Some(row) = inserted {
        return Ok((row.id, true));
    }
    let existing = db
        .prepare("SELECT id FROM runs WHERE workflow_id = ?1 AND dedup_key = ?2")
        .bind(&[text(run.workflow_id), text(run.dedup_key)])?
        .first::<Id>(None)
        .await?;
    match existing {
        Some(row) => Ok((row.id, false)),
        None => Err(worker::Error::RustError(
            "run insert conflicted but no existing run was found".into(),
        )),
    }
}

/// What `insert_claimed_if_live` did.
#[derive(Debug)]
pub enum Inserted {
    /// Created, claimed by the caller: execute it with `engine::execute_claimed`.
    Created(Box<RunRow>),
    /// A run with this dedup key exists (its id); nothing was written.
    Exists(String),
    /// The workflow is not deployed at this version (undeployed or redeployed meanwhile).
    NotLive,
}

/// Inserts a run already claimed (`running`, attempt 1, started now, leased until
/// `run.lease_until`) unless the workflow has a run with the same dedup key, and only while
/// the workflow is deployed at `run.version` — all checked in the one statement.
pub async fn insert_claimed_if_live(db: &D1Database, run: &NewRun<'_>) -> Result<Inserted> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let inserted = db
        .prepare(format!(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, created_at,
                               started_at, attempts, lease_until)
             SELECT ?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?7, 1, ?8 FROM workflows
             WHERE id = ?2 AND status = 'deployed' AND deployed_version = ?3
             ON CONFLICT (workflow_id, dedup_key) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(&[
            text(run.id),
            text(run.workflow_id),
            num(run.version),
            text(run.trigger),
            text(run.dedup_key),
            text(run.input),
            text(run.created_at),
            num(run.lease_until),
        ])?
        .first::<RunRow>(None)
        .await?;
    if let Some(row) = inserted {
        return Ok(Inserted::Created(Box::new(row)));
    }
    let existing = db
        .prepare("SELECT id FROM runs WHERE workflow_id = ?1 AND dedup_key = ?2")
        .bind(&[text(run.workflow_id), text(run.dedup_key)])?
        .first::<Id>(None)
        .await?;
    Ok(existing.map_or(Inserted::NotLive, |row| Inserted::Exists(row.id)))
}

pub async fn get(db: &D1Database, id: &str) -> Result<Option<RunRow>> {
    let row = db
        .prepare(format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))
        .bind(&[text(id)])?
        .first::<RunRow>(None)
        .await?;
    inflate(db, row).await
}

/// Newest first, `limit` rows after the run id `before` (exclusive), optionally of one status.
pub async fn list(
    db: &D1Database,
    workflow_id: &str,
    status: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<RunRow>> {
    // Built per shape so each query can walk an index in id order.
    let mut sql = format!("SELECT {COLUMNS} FROM runs WHERE workflow_id = ?1");
    let mut params = vec![text(workflow_id)];
    if let Some(status) = status {
        params.push(text(status));
        sql.push_str(&format!(" AND status = ?{}", params.len()));
    }
    if let Some(before) = before {
        params.push(text(before));
        sql.push_str(&format!(" AND id < ?{}", params.len()));
    }
    params.push(num(limit as i64));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", params.len()));
    db.prepare(sql)
        .bind(&params)?
        .all()
        .await?
        .results::<RunRow>()
}

/// Takes a run for execution: a queued run (`only_queued`), or any unfinished run whose lease
/// has expired (the reconciler). Returns the claimed row, or `None` if someone else has it.
pub async fn claim(
    db: &D1Database,
    id: &str,
    now_ms: i64,
    lease_ms: i64,
    now_iso: &str,
    only_queued: bool,
) -> Result<Option<RunRow>> {
    let condition = if only_queued {
        "status = 'queued'"
    } else {
        "status IN ('queued', 'running') AND lease_until < ?2"
    };
    let row = db
        .prepare(format!(
            "UPDATE runs SET status = 'running', attempts = attempts + 1, lease_until = ?2 + ?3,
           started_at = COALESCE(started_at, ?4)
         WHERE id = ?1 AND {condition} RETURNING {COLUMNS}"
        ))
        .bind(&[text(id), num(now_ms), num(lease_ms), text(now_iso)])?
        .first::<RunRow>(None)
        .await?;
    inflate(db, row).await
}

/// Records the steps so far and extends the lease while the run goes on.
pub async fn save_progress(
    db: &D1Database,
    id: &str,
    steps: &str,
    lease_until: i64,
    response: Option<&str>,
) -> Result<()> {
    db.prepare(
        "UPDATE runs SET steps = ?2, lease_until = ?3, response = COALESCE(?4, response)
         WHERE id = ?1 AND status = 'running'",
    )
    .bind(&[
        text(id),
        text(steps),
        num(lease_until),
        super::opt_text(response),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Marks a run finished (`succeeded` or `failed`).
pub async fn finish(
    db: &D1Database,
    id: &str,
    status: &str,
    steps: &str,
    error: Option<&str>,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "UPDATE runs SET status = ?2, steps = ?3, error = ?4, finished_at = ?5, lease_until = 0
         WHERE id = ?1",
    )
    .bind(&[
        text(id),
        text(status),
        text(steps),
        super::opt_text(error),
        text(now_iso),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Unfinished runs whose lease has expired, oldest first, at most `limit`.
/// Returns `(run id, workflow id)` pairs.
pub async fn stale(db: &D1Database, now_ms: i64, limit: u32) -> Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
        workflow_id: String,
    }
    let rows = db
        .prepare(
            "SELECT id, workflow_id FROM runs WHERE status IN ('queued', 'running') AND lease_until < ?1
             ORDER BY lease_until LIMIT ?2",
        )
        .bind(&[num(now_ms), num(limit as i64)])?
        .all()
        .await?
        .results::<Id>()?;
    Ok(rows.into_iter().map(|r| (r.id, r.workflow_id)).collect())
}

/// Deletes up to `limit` finished runs created before `before_iso`; returns how many.
pub async fn delete_older_than(db: &D1Database, before_iso: &str, limit: u32) -> Result<usize> {
    let res = db
        .prepare(
            "DELETE FROM runs WHERE id IN (
               SELECT id FROM runs WHERE created_at < ?1 AND status IN ('succeeded', 'failed')
               ORDER BY created_at LIMIT ?2)",
        )
        .bind(&[text(before_iso), num(limit as i64)])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res))
}

/// The definition JSON of one deployed version (`engine::version` keeps the parsed form).
pub async fn version_definition(
    db: &D1Database,
    workflow_id: &str,
    version: i64,
) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct D {
        definition: String,
    }
    Ok(db
        .prepare("SELECT definition FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2")
        .bind(&[text(workflow_id), num(version)])?
        .first::<D>(None)
        .await?
        .map(|d| d.definition))
}

/// What a repeated trigger needs to know about the run its key already created.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct PriorRun {
    pub id: String,
    pub status: String,
    pub fingerprint: Option<String>,
    pub response: Option<String>,
    pub steps: String,
    pub error: Option<String>,
}

const PRIOR_COLUMNS: &str = "id, status, fingerprint, response, steps, error";

/// Inserts an endpoint run in one statement: `queued`, or already `succeeded` when `finished`
/// (a workflow with no steps has nothing to execute). With `fingerprint` kept for idempotent
/// repeats. `None` when created; on a duplicate dedup key, the run that is already there.
/// `body_pieces` (when the input's request body is kept out of the row, see
/// `tripline_core::endpoint::runtime::INLINE_INPUT_MAX`) are written in the same transaction, only if the run is.
pub async fn insert_endpoint(
    db: &D1Database,
    run: &NewRun<'_>,
    fingerprint: Option<&str>,
    finished: bool,
    body_pieces: &[&str],
) -> Result<Option<PriorRun>> {
    #[derive(Deserialize)]
    struct Id {
        #[allow(dead_code)]
        id: String,
    }
    let (status, attempts, lease, done) = if finished {
        ("succeeded", 1, 0, Some(run.created_at))
    } else {
        ("queued", 0, run.lease_until, None)
    };
    let insert = db
        .prepare(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, created_at,
               lease_until, fingerprint, attempts, started_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
             ON CONFLICT (workflow_id, dedup_key) DO NOTHING RETURNING id",
        )
        .bind(&[
            text(run.id),
            text(run.workflow_id),
            num(run.version),
            text(run.trigger),
            text(run.dedup_key),
            text(status),
            text(run.input),
            text(run.created_at),
            num(lease),
            super::opt_text(fingerprint),
            num(attempts),
            super::opt_text(done),
        ])?;
    let created = if body_pieces.is_empty() {
        insert.first::<Id>(None).await?.is_some()
    } else {
        let mut statements = vec![insert];
        for (seq, piece) in body_pieces.iter().enumerate() {
            statements.push(
                db.prepare(
                    "INSERT INTO run_payloads (run_id, seq, data)
                     SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                )
                .bind(&[text(run.id), num(seq as i64), text(piece)])?,
            );
        }
        let results = db.batch(statements).await?;
        match results.first() {
            Some(r) => !r.results::<Id>()?.is_empty(),
            None => false,
        }
    };
    if created {
        return Ok(None);
    }
    let existing = db
        .prepare(format!(
            "SELECT {PRIOR_COLUMNS} FROM runs WHERE workflow_id = ?1 AND dedup_key = ?2"
        ))
        .bind(&[text(run.workflow_id), text(run.dedup_key)])?
        .first::<PriorRun>(None)
        .await?;
    existing.map(Some).ok_or_else(|| {
        worker::Error::RustError("run insert conflicted but no existing run was found".into())
    })
}

/// The parts of a run an idempotent repeat answers from.
pub async fn prior(db: &D1Database, id: &str) -> Result<Option<PriorRun>> {
    db.prepare(format!("SELECT {PRIOR_COLUMNS} FROM runs WHERE id = ?1"))
        .bind(&[text(id)])?
        .first::<PriorRun>(None)
        .await
}

/// Puts a request body kept in pieces (`run_payloads`) back into a run's input.
async fn inflate(db: &D1Database, row: Option<RunRow>) -> Result<Option<RunRow>> {
    use tripline_core::endpoint::runtime::BODY_PIECES_KEY;
    let Some(mut row) = row else {
        return Ok(None);
    };
    if !row.input.contains(BODY_PIECES_KEY) {
        return Ok(Some(row));
    }
    let Ok(mut input) = serde_json::from_str::<Value>(&row.input) else {
        return Ok(Some(row));
    };
    let Some(request) = input.get_mut("request").and_then(Value::as_object_mut) else {
        return Ok(Some(row));
    };
    if !request.get(BODY_PIECES_KEY).is_some_and(Value::is_u64) {
        return Ok(Some(row));
    }
    #[derive(Deserialize)]
    struct Piece {
        data: String,
    }
    let text: String = db
        .prepare("SELECT data FROM run_payloads WHERE run_id = ?1 ORDER BY seq")
        .bind(&[super::text(&row.id)])?
        .all()
        .await?
        .results::<Piece>()?
        .into_iter()
        .map(|p| p.data)
        .collect();
    request.remove(BODY_PIECES_KEY);
    request.insert(
        "body".into(),
        serde_json::from_str(&text).unwrap_or(Value::Null),
    );
    row.input = input.to_string();
    Ok(Some(row))
}

/// One run of a batch to insert (the rest is shared, see [`insert_dedup_many`]).
#[derive(serde::Serialize)]
pub struct BatchRun<'a> {
    pub id: &'a str,
    pub dedup_key: &'a str,
    /// The input JSON, as text.
    pub input: &'a str,
    /// When set (JSON text), the run is recorded `failed` with this error and is never executed
    /// (a polled record too large to store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

/// Largest total input size sent in one statement (D1 caps a bound value at 2 MB).
const BATCH_BYTES: usize = 1_000_000;

/// Inserts many runs of one workflow and trigger, skipping those whose dedup key exists.
/// The rows travel as one JSON parameter (`json_each`), so a statement has 6 bound values
/// whatever the batch size (D1 allows 100); batches larger than ~1 MB of input are split into
/// several statements sent in one `batch` call (one round trip, one transaction).
/// Returns the ids of the runs created (duplicates are left out).
pub async fn insert_dedup_many(
    db: &D1Database,
    workflow_id: &str,
    version: i64,
    trigger: &str,
    created_at: &str,
    lease_until: i64,
    runs: &[BatchRun<'_>],
) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let chunks = chunks::by_bytes(runs, BATCH_BYTES, |r| {
        r.input.len() + r.dedup_key.len() + 64
    });
    let mut statements = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let rows = serde_json::to_string(chunk)
            .map_err(|e| worker::Error::RustError(format!("encoding runs: {e}")))?;
        statements.push(
            db.prepare(
                "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, error, created_at, finished_at, lease_until)
                 SELECT json_extract(value, '$.id'), ?1, ?2, ?3, json_extract(value, '$.dedup_key'),
                        CASE WHEN json_extract(value, '$.error') IS NULL THEN 'queued' ELSE 'failed' END,
                        json_extract(value, '$.input'), json_extract(value, '$.error'), ?4,
                        CASE WHEN json_extract(value, '$.error') IS NULL THEN NULL ELSE ?4 END,
                        CASE WHEN json_extract(value, '$.error') IS NULL THEN ?5 ELSE 0 END
                 FROM json_each(?6) WHERE true
                 ON CONFLICT (workflow_id, dedup_key) DO NOTHING RETURNING id",
            )
            .bind(&[
                text(workflow_id),
                num(version),
                text(trigger),
                text(created_at),
                num(lease_until),
                text(&rows),
            ])?,
        );
    }
    let mut created = Vec::new();
    for result in db.batch(statements).await? {
        created.extend(result.results::<Id>()?.into_iter().map(|r| r.id));
    }
    Ok(created)
}

/// A run taken by [`claim_many`].
#[derive(Debug, Clone, Deserialize)]
pub struct ClaimedRun {
    pub id: String,
    pub workflow_id: String,
    pub version: i64,
    pub input: String,
}

/// Takes the `queued` runs among `ids` for execution in one statement (see `claim`).
pub async fn claim_many(
    db: &D1Database,
    ids: &[String],
    lease_until: i64,
    now_iso: &str,
) -> Result<Vec<ClaimedRun>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    db.prepare(
        "UPDATE runs SET status = 'running', attempts = attempts + 1, lease_until = ?2,
           started_at = COALESCE(started_at, ?3)
         WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'queued'
         RETURNING id, workflow_id, version, input",
    )
    .bind(&[text(&list), num(lease_until), text(now_iso)])?
    .all()
    .await?
    .results::<ClaimedRun>()
}

/// Moves the lease of running runs (their steps may take long).
pub async fn extend_leases(db: &D1Database, ids: &[String], lease_until: i64) -> Result<()> {
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    db.prepare(
        "UPDATE runs SET lease_until = ?2
         WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'running'",
    )
    .bind(&[text(&list), num(lease_until)])?
    .run()
    .await?;
    Ok(())
}

/// The result of one run, for [`finish_many`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct FinishedRun {
    pub id: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// The step records, JSON text.
    pub steps: String,
    /// `{"message": …}` JSON text.
    pub error: Option<String>,
    pub finished_at: String,
}

/// Marks many runs finished (see `finish`): one statement per ~1 MB of results, all sent in
/// one `batch` call.
pub async fn finish_many(db: &D1Database, runs: &[FinishedRun]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let chunks = chunks::by_bytes(runs, BATCH_BYTES, |r| {
        r.steps.len() + r.error.as_ref().map_or(0, String::len) + 128
    });
    let mut statements = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let rows = serde_json::to_string(chunk)
            .map_err(|e| worker::Error::RustError(format!("encoding results: {e}")))?;
        statements.push(
            db.prepare(
                "UPDATE runs SET status = u.status, steps = u.steps, error = u.error,
                   finished_at = u.finished_at, lease_until = 0
                 FROM (SELECT json_extract(value, '$.id') AS id,
                              json_extract(value, '$.status') AS status,
                              json_extract(value, '$.steps') AS steps,
                              json_extract(value, '$.error') AS error,
                              json_extract(value, '$.finished_at') AS finished_at
                       FROM json_each(?1)) AS u
                 WHERE runs.id = u.id",
            )
            .bind(&[text(&rows)])?,
        );
    }
    db.batch(statements).await?;
    Ok(())
}
