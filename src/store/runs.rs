//! The `runs` table: one row per run, unique per (workflow, dedup key).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};
use tripline_core::kernel::json_parse;
use worker::{D1Database, Result};

use super::row::{read_with, Bad, Columns};
use super::{num, text};

/// One row of `runs` (read column by column, see [`row`](super::row)).
#[derive(Debug, Clone)]
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
    /// What an idempotency key promised (see `endpoint::runtime::fingerprint`).
    pub fingerprint: Option<String>,
}

impl<'de> Deserialize<'de> for RunRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::from_columns(Columns::read(d)?).map_err(Bad::into_error)
    }
}

impl RunRow {
    fn from_columns(mut c: Columns) -> std::result::Result<Self, Bad> {
        Ok(RunRow {
            id: c.text("id")?,
            workflow_id: c.text("workflow_id")?,
            version: c.int("version")?,
            trigger: c.text("trigger")?,
            dedup_key: c.text("dedup_key")?,
            status: c.text("status")?,
            input: c.text("input")?,
            steps: c.text("steps")?,
            error: c.opt_text("error")?,
            response: c.opt_text("response")?,
            attempts: c.int("attempts")?,
            lease_until: c.int("lease_until")?,
            created_at: c.text("created_at")?,
            started_at: c.opt_text("started_at")?,
            finished_at: c.opt_text("finished_at")?,
            fingerprint: c.opt_text("fingerprint")?,
        })
    }
}

const COLUMNS: &str = "id, workflow_id, version, trigger, dedup_key, status, input, steps, error, response, attempts, lease_until, created_at, started_at, finished_at, fingerprint";

/// Run statuses, as stored and as filtered on.
pub const STATUSES: &[&str] = &["queued", "running", "succeeded", "failed"];

impl RunRow {
    /// The API shape of a run.
    pub fn to_json(&self) -> Value {
        let parse = |s: &str| json_parse::from_str::<Value>(s).unwrap_or(Value::Null);
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

/// Deletes up to `limit` finished runs created and ended before `before_iso`; returns how
/// many. A run that ended since (an old unfinished one a move found superseded) is kept a
/// retention from its end, as the shard objects keep theirs.
pub async fn delete_older_than(db: &D1Database, before_iso: &str, limit: u32) -> Result<usize> {
    let res = db
        .prepare(
            "DELETE FROM runs WHERE id IN ( \
               SELECT id FROM runs WHERE created_at < ?1 AND status IN ('succeeded', 'failed') \
                 AND COALESCE(finished_at, created_at) < ?1 \
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

/// What a repeated trigger needs to know about the run its key already created (a row, or
/// part of a shard object's answer; read column by column, see [`row`](super::row)).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PriorRun {
    pub id: String,
    pub status: String,
    pub fingerprint: Option<String>,
    pub response: Option<String>,
    pub steps: String,
    pub error: Option<String>,
}

impl<'de> Deserialize<'de> for PriorRun {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::from_columns(Columns::read(d)?).map_err(Bad::into_error)
    }
}

impl PriorRun {
    pub fn from_columns(mut c: Columns) -> std::result::Result<Self, Bad> {
        Ok(PriorRun {
            id: c.text("id")?,
            status: c.text("status")?,
            fingerprint: c.opt_text("fingerprint")?,
            response: c.opt_text("response")?,
            steps: c.text("steps")?,
            error: c.opt_text("error")?,
        })
    }
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
    let Ok(mut input) = json_parse::from_str::<Value>(&row.input) else {
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
        json_parse::from_str(&text).unwrap_or(Value::Null),
    );
    row.input = input.to_string();
    Ok(Some(row))
}

/// Which legacy runs a move pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyRuns<'a> {
    /// Unfinished, whose executor is gone (lease expired).
    Unfinished,
    /// Finished, ended (or, without an end, created) at or after the retention cutoff (an ISO
    /// time), so not deleted by retention yet, not yet tried within
    /// the last retry wait, and not left where they are (a run of their key in the shard).
    Finished { cutoff: &'a str },
}

/// Runs of earlier versions to move, lowest `lease_until` first (oldest lease; finished ones
/// keep 0, or the time a refused move may be tried again): at most `limit`, while their stored
/// bytes (input, body pieces, step records, reply and error: earlier versions capped none of
/// them) add up to at most `budget`, the first one whatever its size. Each with its request
/// body put back (see `inflate`).
pub async fn legacy_to_move(
    db: &D1Database,
    which: LegacyRuns<'_>,
    now_ms: i64,
    limit: u32,
    budget: usize,
) -> Result<Vec<RunRow>> {
    let mut params = vec![num(now_ms), num(limit as i64), num(budget as i64)];
    let filter = match which {
        LegacyRuns::Unfinished => "status IN ('queued', 'running') AND lease_until < ?1",
        // `lease_until` −1: a run its shard did not take (its key made another run there).
        LegacyRuns::Finished { cutoff } => {
            params.push(text(cutoff));
            "status IN ('succeeded', 'failed') AND lease_until BETWEEN 0 AND ?1 \
             AND COALESCE(finished_at, created_at) >= ?4"
        }
    };
    // The running sum follows the inner query's order (see `objects::runs::table`'s claim).
    let rows = db
        .prepare(format!(
            "SELECT {COLUMNS} FROM runs WHERE id IN (SELECT id FROM ( \
               SELECT id, row_number() OVER w AS n, sum(bytes) OVER w AS total FROM ( \
                 SELECT id, length(CAST(input AS BLOB)) + length(CAST(steps AS BLOB)) \
                   + COALESCE(length(CAST(response AS BLOB)), 0) \
                   + COALESCE(length(CAST(error AS BLOB)), 0) \
                   + (SELECT COALESCE(sum(length(CAST(data AS BLOB))), 0) FROM run_payloads \
                     WHERE run_id = r.id) AS bytes \
                 FROM runs AS r WHERE {filter} \
                 ORDER BY lease_until LIMIT ?2) \
               WINDOW w AS (ROWS UNBOUNDED PRECEDING)) \
             WHERE n = 1 OR total <= ?3) \
             ORDER BY lease_until"
        ))
        .bind(&params)?
        .all()
        .await?
        .results::<RunRow>()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.extend(inflate(db, Some(row)).await?);
    }
    Ok(out)
}

/// Puts off the moves of runs their shard refused (or could not be reached for) until
/// `until_ms`: the passes before then take the runs behind them, which would otherwise wait
/// behind the same refused batch every pass.
pub async fn postpone_moves(db: &D1Database, ids: &[&str], until_ms: i64) -> Result<()> {
    let list = serde_json::to_string(ids).unwrap_or_default();
    db.prepare(
        "UPDATE runs SET lease_until = ?2 WHERE id IN (SELECT value FROM json_each(?1)) \
           AND lease_until >= 0",
    )
    .bind(&[text(&list), num(until_ms)])?
    .run()
    .await?;
    Ok(())
}

/// The shards earlier passes noted for these runs before moving them ([`note_moves`]).
pub async fn noted_shards(db: &D1Database, ids: &[&str]) -> Result<HashMap<String, u8>> {
    struct Note {
        id: String,
        shard: u8,
    }
    impl<'de> Deserialize<'de> for Note {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            read_with(d, |mut c| {
                Ok(Note {
                    id: c.text("id")?,
                    shard: c.uint("shard")?,
                })
            })
        }
    }
    let list = serde_json::to_string(ids).unwrap_or_default();
    let notes = db
        .prepare("SELECT id, shard FROM run_moves WHERE id IN (SELECT value FROM json_each(?1))")
        .bind(&[text(&list)])?
        .all()
        .await?
        .results::<Note>()?;
    Ok(notes.into_iter().map(|n| (n.id, n.shard)).collect())
}

/// Notes the shard runs are about to be moved into (`(id, created_at)`), before the call: a
/// pass that dies after the shard took them, before it forgot them here, leaves them where a
/// later pass sends them again, to the same shard (whose dedup key finds them), whatever the
/// workflow's shards are by then. A note already there is kept.
pub async fn note_moves(
    db: &D1Database,
    workflow_id: &str,
    shard: u8,
    runs: &[(&str, &str)],
) -> Result<()> {
    let list = serde_json::to_string(runs).unwrap_or_default();
    db.prepare(
        "INSERT OR IGNORE INTO run_moves (id, workflow_id, shard, created_at) \
         SELECT json_extract(value, '$[0]'), ?2, ?3, json_extract(value, '$[1]') \
         FROM json_each(?1)",
    )
    .bind(&[text(&list), text(workflow_id), num(i64::from(shard))])?
    .run()
    .await?;
    Ok(())
}

/// A run moved into shard `shard` of its workflow, or, with `holder`, one that shard did not
/// take: its dedup key had made the run `holder` there.
#[derive(serde::Serialize)]
pub struct Moved<'a> {
    pub id: &'a str,
    pub shard: u8,
    pub holder: Option<&'a str>,
}

/// Forgets runs now kept by their shard objects: each leaves `runs` (its body pieces with it)
/// and is noted in `run_moves`, so `GET /api/runs/{id}` still finds it. A run with a `holder`
/// stays, readable (an unfinished one ended `failed` naming that run), no pass picks it again
/// (`lease_until` −1), and it loses the note its move began with. One transaction.
pub async fn forget_moved(db: &D1Database, moved: &[Moved<'_>]) -> Result<()> {
    if moved.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(moved).unwrap_or_default();
    db.batch(vec![
        db.prepare(
            "INSERT OR REPLACE INTO run_moves (id, workflow_id, shard, created_at, moved_at) \
             SELECT r.id, r.workflow_id, json_extract(m.value, '$.shard'), r.created_at, \
               strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
             FROM json_each(?1) AS m JOIN runs AS r ON r.id = json_extract(m.value, '$.id') \
             WHERE json_extract(m.value, '$.holder') IS NULL",
        )
        .bind(&[text(&list)])?,
        db.prepare(
            "UPDATE runs SET status = 'failed', lease_until = 0, \
               finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
               error = json_object('message', 'superseded: its dedup key had already made run ' \
                 || json_extract(m.value, '$.holder')) \
             FROM json_each(?1) AS m WHERE runs.id = json_extract(m.value, '$.id') \
               AND json_extract(m.value, '$.holder') NOT NULL \
               AND runs.status IN ('queued', 'running')",
        )
        .bind(&[text(&list)])?,
        db.prepare(
            "DELETE FROM runs WHERE id IN (SELECT json_extract(value, '$.id') FROM json_each(?1) \
               WHERE json_extract(value, '$.holder') IS NULL)",
        )
        .bind(&[text(&list)])?,
        // Nor is it tried again: a finished one stays as it was, readable, until it expires.
        db.prepare(
            "UPDATE runs SET lease_until = -1 \
             FROM json_each(?1) AS m WHERE runs.id = json_extract(m.value, '$.id') \
               AND json_extract(m.value, '$.holder') NOT NULL",
        )
        .bind(&[text(&list)])?,
        // A run its shard did not take was not moved: the note made before the call goes.
        db.prepare(
            "DELETE FROM run_moves WHERE id IN (SELECT json_extract(value, '$.id') \
               FROM json_each(?1) WHERE json_extract(value, '$.holder') NOT NULL)",
        )
        .bind(&[text(&list)])?,
    ])
    .await?;
    Ok(())
}

/// Where a moved legacy run lives now: `(workflow id, shard)`.
pub async fn moved_to(db: &D1Database, id: &str) -> Result<Option<(String, u8)>> {
    struct Place {
        workflow_id: String,
        shard: u8,
    }
    impl<'de> Deserialize<'de> for Place {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            read_with(d, |mut c| {
                Ok(Place {
                    workflow_id: c.text("workflow_id")?,
                    shard: c.uint("shard")?,
                })
            })
        }
    }
    Ok(db
        .prepare("SELECT workflow_id, shard FROM run_moves WHERE id = ?1")
        .bind(&[text(id)])?
        .first::<Place>(None)
        .await?
        .map(|p| (p.workflow_id, p.shard)))
}

/// Deletes up to `limit` notes of runs moved before `before_iso`; returns how many. A note is
/// kept by when its run moved, not by the run's creation: a run older than the retention window
/// when it moved stays readable while it executes. With `before_iso` the retention cutoff, a
/// note goes once its run, created before it moved, can have expired in its object too.
pub async fn delete_moves_older_than(
    db: &D1Database,
    before_iso: &str,
    limit: u32,
) -> Result<usize> {
    let res = db
        .prepare(
            "DELETE FROM run_moves WHERE id IN ( \
               SELECT id FROM run_moves WHERE moved_at < ?1 ORDER BY moved_at LIMIT ?2)",
        )
        .bind(&[text(before_iso), num(limit as i64)])?
        .run()
        .await?;
    Ok(super::workflows::changes(&res))
}
