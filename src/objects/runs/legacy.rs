//! Runs of earlier versions, kept in D1's `runs` table, are moved into their workflow's shard
//! object, bounded batches per cron pass (by count and by bytes): noted in `run_moves` with the
//! shard chosen, inserted there under the same id and dedup key, then deleted from D1.
//!
//! - Unfinished ones whose executor is gone come with the steps done so far and the whole
//!   request body (which the shard keeps in pieces as a new run's); the shard executes them
//!   like its own.
//! - Finished ones within retention come as they ended, never executed: in the shard, a repeat
//!   of their cause (an idempotency key, a webhook's id or signed body, a polled record) finds
//!   its run, as it found it in D1 before the upgrade. Ingest reads no D1, so until a finished
//!   run has moved a repeat of its cause is not recognised.
//!
//! A pass that dies half way repeats harmlessly: the note sends the run to the same shard again
//! (even after a redeploy changed the workflow's shards), whose dedup key keeps it from taking
//! the run twice. A run whose key has made another run there since is not moved: it stays in
//! D1, readable (an unfinished one ended, naming that run). Runs a shard refuses wait
//! [`MOVE_RETRY_MS`], so that they never hold up the runs behind them.

use std::collections::{BTreeMap, HashMap};

use worker::{Env, Result};

use super::batch::{self, BatchRun, Ended, Moved};
use crate::platform::now_ms;
use crate::store;
use crate::store::runs::LegacyRuns;
use tripline_core::endpoint::runtime::INLINE_INPUT_MAX;
use tripline_core::kernel::shard::shard_for;

/// Unfinished runs moved per pass; the rest wait for the next one.
pub const MOVE_BATCH: u32 = 50;
/// Finished runs moved per pass (they are inserted, not executed).
pub const MOVE_FINISHED_BATCH: u32 = 500;
/// Most shard calls one batch makes (one per workflow and shard, and one per run whose body
/// the shard keeps in pieces); the runs of further calls wait for the next pass.
pub const MOVE_CALLS: usize = 50;
/// Most bytes of runs (inputs with their bodies, step records, replies and errors, as D1 keeps
/// them) one pass reads and sends: a body may be up to 10 MiB, and each is held in memory. A
/// larger run moves alone.
pub const MOVE_BUDGET_BYTES: usize = 8 * 1024 * 1024;
/// How long runs whose shard refused their move (or could not be reached) wait before they are
/// tried again, while the passes move the runs behind them.
pub const MOVE_RETRY_MS: i64 = 5 * 60_000;

/// How many shards `workflow_id`'s deployed version has (the default when it has none).
async fn shards_of_workflow(db: &worker::D1Database, workflow_id: &str) -> Result<u8> {
    let Some(row) = store::workflows::get(db, workflow_id).await? else {
        return Ok(super::DEFAULT_SHARDS);
    };
    Ok(match row.deployed_version {
        Some(v) => match crate::engine::version(db, workflow_id, v).await? {
            Ok(def) => super::shards_of(&def),
            Err(_) => super::DEFAULT_SHARDS,
        },
        None => super::DEFAULT_SHARDS,
    })
}

/// Moves up to [`MOVE_BATCH`] unfinished (or [`MOVE_FINISHED_BATCH`] finished) legacy runs
/// into their shards, within [`MOVE_BUDGET_BYTES`]; how many moved.
pub async fn move_legacy(env: &Env, which: LegacyRuns<'_>) -> Result<usize> {
    let db = store::db(env)?;
    let limit = match which {
        LegacyRuns::Unfinished => MOVE_BATCH,
        LegacyRuns::Finished { .. } => MOVE_FINISHED_BATCH,
    };
    let rows = store::runs::legacy_to_move(&db, which, now_ms(), limit, MOVE_BUDGET_BYTES).await?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let noted = store::runs::noted_shards(&db, &ids).await?;
    let mut shards: HashMap<String, u8> = HashMap::new();
    // By workflow and shard; a run whose body the shard keeps in pieces is moved in a call of
    // its own.
    let mut groups: BTreeMap<(String, u8, String), Vec<BatchRun>> = BTreeMap::new();
    for row in rows {
        let count = match shards.get(&row.workflow_id) {
            Some(n) => *n,
            None => {
                let n = shards_of_workflow(&db, &row.workflow_id).await?;
                shards.insert(row.workflow_id.clone(), n);
                n
            }
        };
        // Where an earlier pass began to move it, else where a run of its trigger is created
        // now (schedule, OAuth and replay runs: shard 0).
        let shard = match noted.get(&row.id) {
            Some(&shard) => shard,
            None => shard_for(&row.dedup_key, super::spread_for(&row.trigger, count)),
        };
        let alone = match row.input.len() > INLINE_INPUT_MAX {
            true => row.id.clone(),
            false => String::new(),
        };
        // A finished one keeps how it ended (an unfinished one resumes in its shard).
        let ended = match row.status.as_str() {
            "succeeded" | "failed" => Some(Ended {
                finished_at: row
                    .finished_at
                    .clone()
                    .unwrap_or_else(|| row.created_at.clone()),
                status: row.status.clone(),
                error: row.error.clone(),
            }),
            _ => None,
        };
        groups
            .entry((row.workflow_id.clone(), shard, alone))
            .or_default()
            .push(BatchRun {
                id: row.id,
                workflow_id: row.workflow_id,
                version: row.version,
                trigger: row.trigger,
                dedup_key: row.dedup_key,
                input: row.input,
                created_at: row.created_at,
                error: None,
                moved: Some(Moved {
                    ended,
                    steps: row.steps,
                    attempts: row.attempts,
                    started_at: row.started_at,
                    response: row.response,
                    fingerprint: row.fingerprint,
                }),
            });
    }
    let mut moved = 0;
    // The rest wait for the next pass, untouched.
    for ((workflow_id, shard, _), runs) in groups.into_iter().take(MOVE_CALLS) {
        let places: Vec<(&str, &str)> = runs
            .iter()
            .map(|r| (r.id.as_str(), r.created_at.as_str()))
            .collect();
        store::runs::note_moves(&db, &workflow_id, shard, &places).await?;
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let answer = match batch::create(env, &workflow_id, shard, runs).await {
            Ok(answer) => answer,
            Err(e) => {
                worker::console_error!(
                    "moving runs of {workflow_id} into shard {shard} failed, tried again in \
                     {} minutes: {e}",
                    MOVE_RETRY_MS / 60_000
                );
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                store::runs::postpone_moves(&db, &ids, now_ms() + MOVE_RETRY_MS).await?;
                continue;
            }
        };
        // Created or already there (an earlier pass died before forgetting it): the object has
        // it. Taken: the run its cause made there since holds its key; this one ends here, kept
        // readable, and is not moved again.
        let created = answer.created.iter().map(|id| (id, None));
        let taken = answer.taken.iter().map(|(id, by)| (id, Some(by.as_str())));
        let notes: Vec<store::runs::Moved<'_>> = created
            .chain(taken)
            .map(|(id, holder)| store::runs::Moved { id, shard, holder })
            .collect();
        store::runs::forget_moved(&db, &notes).await?;
        moved += answer.created.len();
    }
    Ok(moved)
}
