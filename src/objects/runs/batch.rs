//! Creating many runs in one shard with one call: the runs a poll read together, or runs of an
//! earlier version moved out of D1 (a large body kept in pieces, as `handler::create` keeps a
//! new run's). All are inserted under the unique dedup index in one synchronous pass (no await
//! in between, so the object commits them together); the answer says which were created. The
//! shard's executor runs them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tripline_core::kernel::columns::{self, read_with, Bad, Columns};
use tripline_core::kernel::json_parse;
use worker::{Env, Request, Response, Result, SqlStorageValue as V, State};

use super::client::call;
use super::instance::RunsInstance;
use super::limits::{self, ERROR_CAP_BYTES, VALUE_CAP_BYTES};
use super::table::Table;
use crate::objects::Action;
use tripline_core::endpoint::runtime::input_and_pieces;
use tripline_core::kernel::step_records::fit_step_records;
use tripline_core::kernel::time::iso_millis;

/// One run of a batch.
#[derive(Serialize)]
pub struct BatchRun {
    pub id: String,
    pub workflow_id: String,
    pub version: i64,
    pub trigger: String,
    pub dedup_key: String,
    /// The input JSON, as text (already redacted).
    pub input: String,
    /// ISO time the run was created (a moved run keeps its own).
    pub created_at: String,
    /// JSON `{"message", …}`: the run is recorded `failed` at once and never executed (a polled
    /// record that cannot be run: unreadable, or too large to store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A run moved from D1: what it had done so far (it resumes after its last finished step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<Moved>,
}

/// The progress a moved run brings along.
#[derive(Serialize)]
pub struct Moved {
    pub steps: String,
    pub attempts: i64,
    pub started_at: Option<String>,
    pub response: Option<String>,
    /// A finished run's end (`succeeded` or `failed`): it is kept as it ended, never executed,
    /// so that a repeat of its cause finds it here. `None`: unfinished, it resumes here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// What its idempotency key promised (a reused key with another request is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// How a moved finished run ended.
#[derive(Serialize)]
pub struct Ended {
    pub status: String,
    pub error: Option<String>,
    pub finished_at: String,
}

#[derive(Serialize)]
struct Batch {
    runs: Vec<BatchRun>,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            let runs = c.list("runs", false, |v| {
                BatchRun::from_columns(Columns::of(v, "runs")?)
            })?;
            Ok(Batch { runs })
        })
    }
}

impl BatchRun {
    fn from_columns(mut c: Columns) -> std::result::Result<Self, Bad> {
        Ok(BatchRun {
            id: c.text("id")?,
            workflow_id: c.text("workflow_id")?,
            version: c.int("version")?,
            trigger: c.text("trigger")?,
            dedup_key: c.text("dedup_key")?,
            input: c.text("input")?,
            created_at: c.text("created_at")?,
            error: c.opt_text("error")?,
            moved: c.opt("moved", |v| {
                let mut m = Columns::of(v, "moved")?;
                Ok(Moved {
                    steps: m.text("steps")?,
                    attempts: m.int("attempts")?,
                    started_at: m.opt_text("started_at")?,
                    response: m.opt_text("response")?,
                    ended: m.opt("ended", |v| {
                        let mut e = Columns::of(v, "ended")?;
                        let status = e.text("status")?;
                        if !matches!(status.as_str(), "succeeded" | "failed") {
                            return Err(Bad("ended.status", "succeeded or failed"));
                        }
                        Ok(Ended {
                            status,
                            error: e.opt_text("error")?,
                            finished_at: e.text("finished_at")?,
                        })
                    })?,
                    fingerprint: m.opt_text("fingerprint")?,
                })
            })?,
        })
    }
}

/// The answer: the ids of the runs created (those whose dedup key was new). A moved run whose
/// key was there is listed there too when the run holding the key is itself (an earlier pass
/// moved it), else in `taken` with the id of the run that holds the key.
#[derive(Serialize)]
pub struct BatchCreated {
    pub created: Vec<String>,
    pub taken: Vec<(String, String)>,
}

/// Read field by field (see [`Columns`]); `taken` may be missing.
impl<'de> Deserialize<'de> for BatchCreated {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(BatchCreated {
                created: c.list("created", false, columns::string)?,
                taken: c.list("taken", true, |v| match v {
                    Value::Array(pair) => match <[Value; 2]>::try_from(pair) {
                        Ok([a, b]) => Ok((columns::string(a)?, columns::string(b)?)),
                        Err(_) => Err(Bad("taken", "pairs")),
                    },
                    _ => Err(Bad("taken", "pairs")),
                })?,
            })
        })
    }
}

fn text(s: &str) -> V {
    V::String(s.to_string())
}

fn opt(s: Option<&str>) -> V {
    s.map_or(V::Null, text)
}

/// The dev faults `batch-v1-shard1` (shard 1 refuses new runs of version 1) and `move-v1` (a
/// shard refuses moved runs of version 1).
fn refused_by_dev_fault(env: &Env, batch: &Batch) -> bool {
    use tripline_core::kernel::ids::RunId;
    let Some(r) = batch.runs.first().filter(|r| r.version == 1) else {
        return false;
    };
    let fault = match r.moved {
        None if RunId::parse(&r.id).is_some_and(|id| id.shard == 1) => "batch-v1-shard1",
        None => return false,
        Some(_) => "move-v1",
    };
    crate::platform::dev_fault::listed(env, fault)
}

/// The error of a moved run whose input (as stored, a body kept in pieces left out) is over
/// [`limits::MOVED_INPUT_MAX`] bytes: it is recorded `failed`, never run on a cut input.
fn moved_input_too_large(bytes: usize) -> Option<String> {
    let max = limits::MOVED_INPUT_MAX;
    (bytes > max).then(|| {
        let message = format!(
            "this run's input is {bytes} bytes as JSON; a run moved from an earlier version keeps \
             at most {max} bytes of input, so this run was not run"
        );
        json!({"message": message, "code": "input_too_large", "bytes": bytes, "limit": max})
            .to_string()
    })
}

/// Inserts the runs of the body, skipping dedup keys already present, and wakes the executor.
/// When the object is over its storage limit, a batch with a new polled run is refused (507,
/// nothing inserted); moved runs were accepted long ago and are always taken.
pub async fn create_many(
    state: &State,
    env: &Env,
    runs: &RunsInstance,
    req: Request,
) -> Result<Response> {
    let batch: Batch = crate::platform::body::request_json(&req).await?;
    if refused_by_dev_fault(env, &batch) {
        return Response::error("refused by the dev fault batch-v1-shard1", 503);
    }
    let sql = super::handler::sql(state, runs)?;
    let any_new = batch.runs.iter().any(|r| r.moved.is_none());
    let incoming = batch.runs.iter().map(|r| r.input.len()).sum();
    // A batch sent again whose runs are all here already is answered, full or not.
    if any_new
        && runs.storage_full(&sql, limits::storage_limit(env), incoming)
        && has_new_key(&sql, &batch)?
    {
        return Ok(Response::from_json(&json!({
            "type": "about:blank",
            "title": "Insufficient storage",
            "status": 507,
            "detail": "this workflow's run storage is full; no run was created (finished runs are deleted as they expire, or spread the workflow over more shards)",
        }))?
        .with_status(507));
    }
    let table = Table { sql: &sql };
    let now = crate::platform::now_ms();
    let (mut created, mut taken) = (Vec::new(), Vec::new());
    let mut to_execute = false;
    let now_iso = iso_millis(now);
    for run in &batch.runs {
        // A moved run's large body goes in pieces, as a new run's does (an earlier version kept
        // up to 1 000 000 bytes of input in the row, and a body up to 10 MiB beside it).
        let (input, pieces) = input_and_pieces(run.input.clone(), None);
        // A moved run's other input is kept whole while the row holds it beside its steps,
        // reply and error at their caps; a larger one fails the run, which never runs cut. One
        // that had ended is not run again: past that, its input is cut (a replay refuses it).
        let ended = run.moved.as_ref().and_then(|m| m.ended.as_ref());
        let too_large = match run.moved {
            Some(_) if run.error.is_none() && ended.is_none() => moved_input_too_large(input.len()),
            _ => None,
        };
        let input = match (&run.moved, &too_large) {
            (Some(_), None) if input.len() <= limits::MOVED_INPUT_MAX => input,
            _ => limits::fit_text(input, limits::INPUT_CAP_BYTES),
        };
        let error = match ended {
            Some(e) => e.error.as_ref(),
            None => run.error.as_ref().or(too_large.as_ref()),
        };
        let (status, steps, attempts, started, finished, response) = match (error, &run.moved) {
            (_, Some(m)) if ended.is_some() => (
                ended.map_or("failed", |e| e.status.as_str()),
                m.steps.as_str(),
                m.attempts,
                m.started_at.as_deref(),
                ended.map(|e| e.finished_at.as_str()),
                m.response.as_deref(),
            ),
            (Some(_), Some(m)) => (
                "failed",
                m.steps.as_str(),
                m.attempts,
                m.started_at.as_deref(),
                Some(now_iso.as_str()),
                m.response.as_deref(),
            ),
            (Some(_), None) => ("failed", "[]", 0, None, Some(run.created_at.as_str()), None),
            (None, Some(m)) => (
                "queued",
                m.steps.as_str(),
                m.attempts,
                m.started_at.as_deref(),
                None,
                m.response.as_deref(),
            ),
            (None, None) => ("queued", "[]", 0, None, None, None),
        };
        // Earlier versions stored step records and replies uncapped: cut as the executor cuts
        // them, the records still records (a resume skips the steps that succeeded).
        let steps = fit_step_records(steps, VALUE_CAP_BYTES);
        let response = response.map(|r| limits::fit_text(r.to_string(), VALUE_CAP_BYTES));
        let error = error.map(|e| limits::fit_error(e.clone(), ERROR_CAP_BYTES));
        let bytes = input.len()
            + pieces.iter().map(String::len).sum::<usize>()
            + steps.len()
            + error.as_ref().map_or(0, String::len)
            + response.as_ref().map_or(0, String::len);
        let cursor = sql.exec(
            "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, steps, \
                   error, response, attempts, created_at, started_at, finished_at, bytes, \
                   lease_until, fingerprint) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            vec![
                text(&run.id),
                text(&run.workflow_id),
                V::Integer(run.version),
                text(&run.trigger),
                text(&run.dedup_key),
                text(status),
                text(&input),
                text(&steps),
                opt(error.as_deref()),
                opt(response.as_deref()),
                V::Integer(attempts),
                text(&run.created_at),
                opt(started),
                opt(finished),
                V::Integer(bytes as i64),
                // A new queued run is due from now, a moved one at once (it waited long).
                V::Integer(match (status, &run.moved) {
                    ("queued", None) => now,
                    _ => 0,
                }),
                opt(run.moved.as_ref().and_then(|m| m.fingerprint.as_deref())),
            ],
        )?;
        // Nothing written: the dedup key was there (no statement per row reads it back).
        if cursor.rows_written() > 0 {
            table.insert_pieces(&run.id, &pieces)?;
            to_execute |= status == "queued";
            created.push(run.id.clone());
            // A finished run moved here ended long ago: it may expire before the runs that
            // finished here, so when retention is next due is looked up again.
            if run.moved.is_some() && finished.is_some() {
                runs.retention_due.set(None);
            }
        } else if run.moved.is_none() {
            // A batch sent again (its first answer was lost): its runs may still wait for an
            // executor whose alarm could not be set then.
            to_execute = true;
        } else if let Some(holder) = table.prior_by_key(&run.dedup_key)? {
            match holder.id == run.id {
                true => {
                    // Moved by an earlier pass that could not wake the executor: woken now.
                    to_execute |= matches!(holder.status.as_str(), "queued" | "running");
                    created.push(holder.id)
                }
                false => taken.push((run.id.clone(), holder.id)),
            }
        }
    }
    // Runs to execute, or finished ones that retention must learn of.
    if to_execute || (!created.is_empty() && runs.retention_due.get().is_none()) {
        runs.start_executor(state).await?;
    }
    Response::from_json(&BatchCreated { created, taken })
}

/// Whether the dedup key of a new (not moved) run of `batch` has no run here yet.
fn has_new_key(sql: &worker::SqlStorage, batch: &Batch) -> Result<bool> {
    let keys: Vec<String> = batch
        .runs
        .iter()
        .filter(|r| r.moved.is_none())
        .map(|r| r.dedup_key.clone())
        .collect();
    let held = held_in(sql, &keys)?;
    Ok(keys.iter().any(|k| !held.contains(k)))
}

/// How many keys one statement looks up (its JSON text stays far below a value's 2 MB).
const HELD_KEYS_PER_STATEMENT: usize = 500;

/// Which of the dedup keys of the body (a JSON array) this shard holds a run of, as a JSON
/// array, looked up through its unique dedup index.
pub async fn held_keys(state: &State, runs: &RunsInstance, mut req: Request) -> Result<Response> {
    let keys: Vec<String> = json_parse::from_str(&req.text().await?)
        .map_err(|e| worker::Error::RustError(format!("the keys to look up: {e}")))?;
    Response::from_json(&held_in(&super::handler::sql(state, runs)?, &keys)?)
}

/// Which of `keys` this shard holds a run of.
fn held_in(sql: &worker::SqlStorage, keys: &[String]) -> Result<Vec<String>> {
    let mut held: Vec<String> = Vec::new();
    for chunk in keys.chunks(HELD_KEYS_PER_STATEMENT) {
        let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
        let found = sql
            .exec(
                "SELECT json_group_array(dedup_key) AS value FROM runs \
                 WHERE dedup_key IN (SELECT value FROM json_each(?))",
                vec![V::String(list)],
            )?
            .to_array::<crate::objects::ValueRow>()?;
        for row in found {
            held.extend(json_parse::from_str::<Vec<String>>(&row.value).unwrap_or_default());
        }
    }
    Ok(held)
}

/// Which of `keys` shard `shard` of `workflow_id` holds a run of.
pub async fn held(env: &Env, workflow_id: &str, shard: u8, keys: &[String]) -> Result<Vec<String>> {
    let body = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    let answer = call(env, workflow_id, shard, Action::RunHeldKeys, "", Some(body)).await?;
    if answer.status >= 400 {
        return Err(worker::Error::RustError(format!(
            "looking up dedup keys failed ({}): {}",
            answer.status, answer.text
        )));
    }
    json_parse::from_str(&answer.text)
        .map_err(|e| worker::Error::RustError(format!("a shard's held keys: {e}")))
}

/// Why a batch was not created.
pub enum BatchError {
    /// The shard's storage is full (507): its detail.
    Full(String),
    Failed(worker::Error),
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Full(d) => f.write_str(d),
            BatchError::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// Creates `runs` (all of `workflow_id`, all belonging to shard `shard`) in one call to that
/// shard; which were created.
pub async fn create(
    env: &Env,
    workflow_id: &str,
    shard: u8,
    runs: Vec<BatchRun>,
) -> std::result::Result<BatchCreated, BatchError> {
    // Ended runs travel under a path of their own (see `Action::RunMoveEnded`).
    let ended = runs
        .iter()
        .any(|r| r.moved.as_ref().is_some_and(|m| m.ended.is_some()));
    let action = match ended {
        true => Action::RunMoveEnded,
        false => Action::RunCreateMany,
    };
    let body = serde_json::to_string(&Batch { runs })
        .map_err(|e| BatchError::Failed(worker::Error::RustError(e.to_string())))?;
    let answer = call(env, workflow_id, shard, action, "", Some(body))
        .await
        .map_err(BatchError::Failed)?;
    match answer.status {
        507 => {
            let problem: serde_json::Value = answer.json().unwrap_or(serde_json::Value::Null);
            let detail = problem["detail"].as_str().unwrap_or("run storage is full");
            Err(BatchError::Full(detail.to_string()))
        }
        s if s >= 400 => Err(BatchError::Failed(worker::Error::RustError(format!(
            "creating runs failed ({s}): {}",
            answer.text
        )))),
        _ => answer.json().map_err(BatchError::Failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_and_its_answer_read_back_as_written() {
        let run = |moved: Option<Moved>| BatchRun {
            id: "r".into(),
            workflow_id: "w".into(),
            version: 2,
            trigger: "poll".into(),
            dedup_key: "k".into(),
            input: "{}".into(),
            created_at: "c".into(),
            error: None,
            moved,
        };
        let moved = |ended: Option<Ended>| Moved {
            steps: "[]".into(),
            attempts: 1,
            started_at: None,
            response: Some("x".into()),
            fingerprint: ended.as_ref().map(|_| "f".into()),
            ended,
        };
        let ended = Ended {
            status: "failed".into(),
            error: Some("{}".into()),
            finished_at: "t".into(),
        };
        let text = serde_json::to_string(&Batch {
            runs: vec![
                run(None),
                run(Some(moved(None))),
                run(Some(moved(Some(ended)))),
            ],
        })
        .unwrap();
        let back: Batch = json_parse::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert!(json_parse::from_str::<Batch>(r#"{"runs":[{"id":"r"}]}"#).is_err());
        // A moved run ends only as a run ends.
        let odd = text.replace(r#""status":"failed""#, r#""status":"queued""#);
        assert_ne!(odd, text);
        assert!(json_parse::from_str::<Batch>(&odd).is_err());

        let created: BatchCreated = json_parse::from_str(r#"{"created":["a"]}"#).unwrap();
        assert!(created.taken.is_empty());
        let text = r#"{"created":["a"],"taken":[["k","b"]]}"#;
        let created: BatchCreated = json_parse::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&created).unwrap(), text);
        assert!(json_parse::from_str::<BatchCreated>(r#"{"created":[],"taken":[["k"]]}"#).is_err());
    }
}
