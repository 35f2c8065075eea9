//! A shard object's run actions: create (insert under the dedup key, wake the executor, wait
//! for a reply when asked), get one run, list a page of runs.

use std::time::Duration;
use tripline_core::kernel::columns::{self, read_with};
use tripline_core::kernel::json_parse;

use futures_util::future::{select, Either};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Delay, Env, Request, Response, Result, SqlStorage, State};

use super::executor::{execute_before_insert, Executed};
use super::instance::RunsInstance;
use super::limits;
use super::table::{Claimed, Ended, NewRow, Table};
use crate::objects::Answer;
use crate::platform::now_ms;
use crate::store::runs::{PriorRun, RunRow};
use tripline_core::kernel::time::iso_millis;

/// The body of a create action.
#[derive(serde::Serialize)]
pub struct CreateRun {
    pub id: String,
    pub workflow_id: String,
    pub version: i64,
    pub trigger: String,
    pub dedup_key: String,
    /// The input JSON, as text (already redacted).
    pub input: String,
    pub fingerprint: Option<String>,
    pub finished: bool,
    pub pieces: Vec<String>,
    /// The run's secrets, already sealed for its id (`sealed::seal_secrets`).
    pub secrets: Option<String>,
    /// How long to wait for the run's reply (or end) before answering; 0: answer at once.
    pub wait_ms: u32,
}

/// Read field by field (see [`Columns`]); the fields after `input` may be missing.
impl<'de> Deserialize<'de> for CreateRun {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(CreateRun {
                id: c.text("id")?,
                workflow_id: c.text("workflow_id")?,
                version: c.int("version")?,
                trigger: c.text("trigger")?,
                dedup_key: c.text("dedup_key")?,
                input: c.text("input")?,
                fingerprint: c.opt_text("fingerprint")?,
                finished: c.flag_or_false("finished")?,
                pieces: c.list("pieces", true, columns::string)?,
                secrets: c.opt_text("secrets")?,
                wait_ms: c.uint_or_zero("wait_ms")?,
            })
        })
    }
}

/// The object's tables, created once per instance.
pub fn sql(state: &State, runs: &RunsInstance) -> Result<SqlStorage> {
    let sql = state.storage().sql();
    if !runs.ready.get() {
        super::schema::ensure(&sql)?;
        runs.ready.set(true);
    }
    Ok(sql)
}

fn json_reply(status: u16, value: &Value) -> Result<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

/// A JSON answer as the create's RPC returns it, with no `Response` built.
fn json_answer(status: u16, value: &Value) -> Answer {
    Answer {
        status,
        text: value.to_string(),
    }
}

/// Inserts the run (or finds the one its dedup key made) and answers
/// `{"created", "run": {id, status, fingerprint, response, steps, error}, "reply"}`.
pub async fn create(
    state: &State,
    env: &Env,
    runs: &RunsInstance,
    mut run: CreateRun,
) -> Result<Answer> {
    let sql = sql(state, runs)?;
    let table = Table { sql: &sql };
    let generation = runs.emptied.get();
    let input = limits::fit_text(std::mem::take(&mut run.input), limits::INPUT_CAP_BYTES);
    let pieces = &run.pieces;
    let now = now_ms();
    let created_at = iso_millis(now);
    let here = !run.finished
        && pieces.is_empty()
        && run.secrets.is_none()
        && executes_here(&run.trigger, &run.workflow_id, run.version);
    // A run executed here adds its step records too: counted as much again as its input.
    let incoming = input.len() * 2 + pieces.iter().map(|p| p.len()).sum::<usize>();
    if runs.storage_full(&sql, limits::storage_limit(env), incoming) {
        // Full: a repeat still gets its run; a new run is refused, nothing accepted is dropped.
        if table.prior_by_key(&run.dedup_key)?.is_none() {
            return Ok(json_answer(
                507,
                &json!({
                    "type": "about:blank",
                    "title": "Insufficient storage",
                    "status": 507,
                    "detail": "this workflow's run storage is full; no run was created (finished runs are deleted as they expire, or spread the workflow over more shards)",
                }),
            ));
        }
    }
    // A run that never leaves the object is executed first and stored as it ended: one
    // statement for its whole life. Until that insert nothing is accepted; a repeat of its key
    // finds the run already there, and this execution is dropped.
    let executed = if here {
        execute(env, &run, &input, &created_at).await
    } else {
        None
    };
    let ended = executed.as_ref().map(Executed::ended);
    // A run for the executor goes straight to it when it runs here and has room: stored
    // already claimed, it executes without a claim statement reading it back.
    let hand = !here
        && !run.finished
        && pieces.is_empty()
        && run.secrets.is_none()
        && runs.has_room(input.len() as i64, now);
    let row_bytes = input.len() as i64;
    let mut row = new_row(&run, &input, pieces, (&created_at, now), ended.as_ref());
    if hand {
        let lease = crate::engine::lease_ms(env);
        row.claimed_until = Some(now + lease + runs.step_lease(lease));
    }
    let claimed_until = row.claimed_until;
    let prior = table.insert(&row)?;
    let created = prior.is_none();
    let mut reply = Value::Null;
    let mut current = match prior {
        Some(p) => p,
        // Just inserted: what the row holds is known.
        None => match executed {
            Some(e) => {
                reply = e.reply;
                PriorRun {
                    id: run.id.clone(),
                    status: e.status,
                    fingerprint: run.fingerprint.clone(),
                    response: e.response,
                    steps: e.steps,
                    error: e.error,
                }
            }
            None => PriorRun {
                id: run.id.clone(),
                status: match (run.finished, claimed_until) {
                    (true, _) => "succeeded",
                    (false, Some(_)) => "running",
                    (false, None) => "queued",
                }
                .to_string(),
                fingerprint: run.fingerprint.clone(),
                response: None,
                steps: "[]".to_string(),
                error: None,
            },
        },
    };
    let ended_here = current.status == "succeeded" || current.status == "failed";
    let done =
        |p: &PriorRun| p.response.is_some() || p.status == "succeeded" || p.status == "failed";
    // A repeat of the key with another request is refused by the caller (422): no reason to
    // wait for a reply that is not its own.
    let same_request = match (&current.fingerprint, &run.fingerprint) {
        (Some(was), Some(now)) => was == now,
        _ => true,
    };
    // Listening before the executor may take the run: a reply it sends while this create
    // still sets its alarm would otherwise find no one waiting.
    let news = (run.wait_ms > 0 && !done(&current) && (created || same_request))
        .then(|| runs.wait_for(&current.id));
    if let (true, Some(lease_until)) = (created, claimed_until) {
        runs.hand_over(Claimed {
            row: first_attempt(&run, input, &created_at, lease_until),
            private: None,
            secrets: None,
            bytes: row_bytes,
            unreadable: None,
        });
    } else if !ended_here && (created || current.status == "queued") {
        // A new run for the executor, or a repeat of one still queued (the alarm of its create
        // may have failed to be set: the repeat sets it).
        runs.start_executor(state).await?;
    } else if created && runs.retention_due.get().is_none() {
        // A run that ended at its create never passes through the executor and needs no claim;
        // an executor runs here once anyway, so that retention learns of finished runs and
        // keeps an alarm for them. An alarm not set only delays retention to the next create:
        // the run is stored and done, and a failed create would be sent again (a second run).
        runs.start_for_retention(state).await.ok();
    }
    if let Some(news) = news {
        let timeout = Delay::from(Duration::from_millis(u64::from(run.wait_ms)));
        if let Either::Left((Ok(Some(r)), _)) = select(news, timeout).await {
            reply = r;
        }
        runs.prune(&current.id);
        // The workflow was deleted while this request waited: its run went with it.
        if runs.emptied.get() != generation {
            return Ok(json_answer(
                410,
                &json!({
                    "type": "about:blank",
                    "title": "Workflow deleted",
                    "status": 410,
                    "detail": "the workflow was deleted while this request waited for its run's reply; the run was deleted with it",
                }),
            ));
        }
        if let Some(p) = table.prior(&current.id)? {
            current = p;
        }
    }
    Ok(json_answer(
        200,
        &json!({ "created": created, "run": current, "reply": reply }),
    ))
}

/// Creates a run in this object and executes it in place, for a run created by the object
/// itself (a schedule's run in its timer object): stored once, as it ended, in the caller's
/// storage transaction when nothing in between awaits storage. `Some(created)` (`false`: its
/// dedup key had already made a run); `None` when it cannot end here (a step reaches out, the
/// definition is not at hand, its execution did not end) or the storage is full: then nothing
/// was written, and the caller creates it in its shard object instead.
pub async fn create_here(
    state: &State,
    env: &Env,
    runs: &RunsInstance,
    run: &CreateRun,
) -> Result<Option<bool>> {
    if run.finished
        || !run.pieces.is_empty()
        || run.secrets.is_some()
        || !executes_here(&run.trigger, &run.workflow_id, run.version)
    {
        return Ok(None);
    }
    let sql = sql(state, runs)?;
    let input = limits::fit_text(run.input.clone(), limits::INPUT_CAP_BYTES);
    if runs.storage_full(&sql, limits::storage_limit(env), input.len() * 2) {
        return Ok(None);
    }
    let now = now_ms();
    let created_at = iso_millis(now);
    let Some(executed) = execute(env, run, &input, &created_at).await else {
        return Ok(None);
    };
    let ended = executed.ended();
    let prior = (Table { sql: &sql }).insert(&new_row(
        run,
        &input,
        &[],
        (&created_at, now),
        Some(&ended),
    ))?;
    Ok(Some(prior.is_none()))
}

/// Executes a new run before its insert (see `executor::execute_before_insert`).
async fn execute(
    env: &Env,
    run: &CreateRun,
    input: &str,
    created_at: &str,
) -> Option<super::executor::Executed> {
    let row = first_attempt(run, input.to_string(), created_at, 0);
    execute_before_insert(env, &row).await
}

/// A new run as its first execution sees it: `running`, attempt 1, until `lease_until`.
fn first_attempt(run: &CreateRun, input: String, created_at: &str, lease_until: i64) -> RunRow {
    RunRow {
        id: run.id.clone(),
        workflow_id: run.workflow_id.clone(),
        version: run.version,
        trigger: run.trigger.clone(),
        dedup_key: run.dedup_key.clone(),
        status: "running".into(),
        input,
        steps: "[]".into(),
        error: None,
        response: None,
        attempts: 1,
        lease_until,
        created_at: created_at.to_string(),
        started_at: Some(created_at.to_string()),
        finished_at: None,
        fingerprint: None,
    }
}

/// The row a create inserts.
fn new_row<'a>(
    run: &'a CreateRun,
    input: &'a str,
    pieces: &'a [String],
    (created_at, now): (&'a str, i64),
    ended: Option<&'a Ended<'a>>,
) -> NewRow<'a> {
    NewRow {
        id: &run.id,
        workflow_id: &run.workflow_id,
        version: run.version,
        trigger: &run.trigger,
        dedup_key: &run.dedup_key,
        input,
        fingerprint: run.fingerprint.as_deref(),
        created_at,
        finished: run.finished,
        pieces,
        ended,
        secrets: run.secrets.as_deref(),
        claimed_until: None,
        due_at: now,
    }
}

/// Whether a new run executes within its create call: its version's definition is at hand
/// and none of its steps leaves the object (no `http` step, no OAuth token to look up), so it
/// ends without waiting for anything; an alarm and a claim would cost more than the run.
pub fn executes_here(trigger: &str, workflow_id: &str, version: i64) -> bool {
    trigger != "oauth"
        && crate::engine::cached(workflow_id, version)
            .is_some_and(|d| !d.steps.iter().any(|s| s.reaches_out()))
}

/// Whether this object's run table holds a run with `dedup_key`.
pub fn holds_key(state: &State, runs: &RunsInstance, dedup_key: &str) -> Result<bool> {
    let sql = sql(state, runs)?;
    Ok((Table { sql: &sql }).prior_by_key(dedup_key)?.is_some())
}

/// The run made by the dedup key in the body (`404` when this object has none).
pub async fn find(state: &State, runs: &RunsInstance, mut req: Request) -> Result<Response> {
    let key = req.text().await?;
    let sql = sql(state, runs)?;
    match (Table { sql: &sql }).prior_by_key(&key)? {
        Some(prior) => json_reply(200, &serde_json::to_value(prior)?),
        None => Response::error("no run with that key", 404),
    }
}

/// One whole run (`404` when this object has none with that id).
pub fn get(state: &State, runs: &RunsInstance, id: &str) -> Result<Response> {
    let sql = sql(state, runs)?;
    match (Table { sql: &sql }).get(id)? {
        Some(row) => json_reply(200, &row.to_json()),
        None => Response::error("no such run", 404),
    }
}

/// `{"runs": [...]}`: the records of the runs named in `body` (a JSON array of ids) that this
/// object holds, newest first.
pub fn get_many(state: &State, runs: &RunsInstance, body: &str) -> Result<Response> {
    let ids: Vec<String> =
        json_parse::from_str(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let sql = sql(state, runs)?;
    let rows = (Table { sql: &sql }).get_many(&ids)?;
    json_reply(
        200,
        &json!({ "runs": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>() }),
    )
}

/// `{"runs": [...]}`: run summaries (`{id, status, created_at, finished_at, bytes}`), newest first, after the
/// cursor, optionally of one status and trigger.
pub fn list(
    state: &State,
    runs: &RunsInstance,
    status: Option<&str>,
    trigger: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Response> {
    let sql = sql(state, runs)?;
    let rows = (Table { sql: &sql }).list(status, trigger, before, limit.clamp(1, 101))?;
    json_reply(200, &json!({ "runs": rows }))
}
