//! The Worker's side of the shard objects: create a run in its shard, read one run, list a
//! workflow's runs across its shards.

use serde::Deserialize;
use serde_json::Value;
use tripline_core::kernel::columns::{read_with, Columns};
use worker::{Env, Error, Result};

use super::handler::CreateRun;
use super::{shard_name, TIMER_SHARD};
use crate::objects::{Action, Answer};
use crate::platform::{now_ms, random_bytes};
use crate::store::runs::PriorRun;
use tripline_core::endpoint::runtime::input_and_pieces;
use tripline_core::kernel::ids::{new_run_id, WorkflowId};
use tripline_core::kernel::shard::shard_for;

/// What the shard object answered to a create.
pub struct Created {
    /// `false`: the dedup key had already made `run`.
    pub created: bool,
    pub run: PriorRun,
    /// The Response step's raw reply `{status, headers: [[k, v]], body}`, when waited for
    /// (`null` when missing).
    pub reply: Value,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for Created {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(Created {
                created: c.flag("created")?,
                run: c.with("run", |v| PriorRun::from_columns(Columns::of(v, "run")?))?,
                reply: c.value("reply").unwrap_or(Value::Null),
            })
        })
    }
}

/// Why a create did not happen.
pub enum CreateError {
    /// The shard object's storage is full (507).
    Full(String),
    /// The run is larger than one call to its shard object can carry (a message for a person).
    TooLarge(String),
    /// The workflow was deleted while the request waited for its run's reply (410).
    Deleted(String),
    Failed(worker::Error),
}

/// Most bytes of a run sent to its shard object: the platform refuses a call whose arguments
/// serialize to more than 32 MiB (some room is left for the rest of the call).
const CALL_MOST_BYTES: usize = 32 * 1024 * 1024 - 64 * 1024;

/// The bytes the platform serializes `text` into: one per character when every character is
/// Latin-1, else two per UTF-16 unit.
fn serialized_bytes(text: &str) -> usize {
    // Never more than two per UTF-8 byte: a short text needs no count.
    if text.len() <= CALL_MOST_BYTES / 2 {
        return text.len();
    }
    let units = text.encode_utf16().count();
    if text.chars().all(|c| u32::from(c) <= 0xff) {
        units
    } else {
        2 * units
    }
}

impl From<worker::Error> for CreateError {
    fn from(e: worker::Error) -> Self {
        CreateError::Failed(e)
    }
}

/// Creates a run for `dedup_key` in its shard (by `shards` for an endpoint or poll run, else in
/// shard 0: `spread_for`), its input redacted first (see
/// `engine::stored_input`). `secrets`, a JSON object laid over the input when the run executes
/// (e.g. a sign-in's access token), is kept sealed with the run until it ends (without the
/// encryption key it is dropped, and the run reads the connection instead).
#[allow(clippy::too_many_arguments)]
pub async fn start(
    env: &Env,
    workflow_id: &WorkflowId,
    shards: u8,
    version: i64,
    trigger: &str,
    dedup_key: &str,
    input: &Value,
    secrets: Option<&Value>,
) -> std::result::Result<Created, CreateError> {
    let (id, shard) = new_id(workflow_id, super::spread_for(trigger, shards), dedup_key)?;
    let secrets = secrets.and_then(|s| super::sealed::seal_secrets(env, &id, s));
    // A replayed request keeps a large body as the endpoint stored it: in pieces, whole.
    let stored = crate::engine::stored_input(input);
    let (input, pieces) = input_and_pieces(stored.to_string(), Some(stored));
    // A larger input would be stored cut (an input moved from an earlier release can be): a
    // run is never started on a cut input.
    if input.len() > super::limits::INPUT_CAP_BYTES {
        return Err(CreateError::TooLarge(format!(
            "the run's input is {} bytes as stored; a new run can store at most {}",
            input.len(),
            super::limits::INPUT_CAP_BYTES
        )));
    }
    let run = CreateRun {
        id,
        workflow_id: workflow_id.to_string(),
        version,
        trigger: trigger.to_string(),
        dedup_key: dedup_key.to_string(),
        input,
        fingerprint: None,
        finished: false,
        pieces,
        secrets,
        wait_ms: 0,
    };
    create(env, shard, &run).await
}

/// A fresh run id for `dedup_key`, and its shard.
pub fn new_id(workflow_id: &WorkflowId, shards: u8, dedup_key: &str) -> Result<(String, u8)> {
    let shard = shard_for(dedup_key, shards);
    Ok((id_in(workflow_id, shard)?, shard))
}

/// A fresh id for a run of `workflow_id` in `shard`.
pub fn id_in(workflow_id: &WorkflowId, shard: u8) -> Result<String> {
    Ok(new_run_id(
        now_ms() as u64,
        &random_bytes::<10>()?,
        workflow_id,
        shard,
    ))
}

/// Sends `action` to `workflow_id`'s shard object `shard`.
pub(super) async fn call(
    env: &Env,
    workflow_id: &str,
    shard: u8,
    action: Action,
    query: &str,
    body: Option<String>,
) -> Result<Answer> {
    let url = format!("{}{query}", action.url(workflow_id));
    crate::objects::ask(env, &shard_name(workflow_id, shard), &url, body).await
}

/// Creates `run` in its shard `shard` (one call to that object).
pub async fn create(
    env: &Env,
    shard: u8,
    run: &CreateRun,
) -> std::result::Result<Created, CreateError> {
    let body = serde_json::to_string(run).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let bytes = serialized_bytes(&body);
    if bytes > CALL_MOST_BYTES {
        return Err(CreateError::TooLarge(format!(
            "the run's input is {bytes} bytes as stored (its body written as JSON: control \
             characters and quotes are escaped); at most {CALL_MOST_BYTES} bytes can be stored"
        )));
    }
    let name = shard_name(&run.workflow_id, shard);
    let answer = crate::objects::ask_create(env, &name, &run.workflow_id, &body).await?;
    if answer.status == 507 {
        let problem: Value = answer.json().unwrap_or(Value::Null);
        let detail = problem["detail"].as_str().unwrap_or("run storage is full");
        return Err(CreateError::Full(detail.to_string()));
    }
    if answer.status == 410 {
        let problem: Value = answer.json().unwrap_or(Value::Null);
        let detail = problem["detail"]
            .as_str()
            .unwrap_or("the workflow was deleted");
        return Err(CreateError::Deleted(detail.to_string()));
    }
    if answer.status >= 400 {
        let text = answer.text;
        return Err(worker::Error::RustError(format!("creating a run failed: {text}")).into());
    }
    Ok(answer.json::<Created>()?)
}

/// The run `dedup_key` made in `workflow_id`'s shard `shard`, if any.
pub async fn find(
    env: &Env,
    workflow_id: &str,
    shard: u8,
    dedup_key: &str,
) -> Result<Option<PriorRun>> {
    let answer = call(
        env,
        workflow_id,
        shard,
        Action::RunFind,
        "",
        Some(dedup_key.to_string()),
    )
    .await?;
    answer.found("looking up a run by its key")
}

/// Dev only: a stale executor's writes of run `run_id` (see `runs::dev::stale_write`).
pub async fn dev_stale_write(
    env: &Env,
    workflow_id: &str,
    shard: u8,
    run_id: &str,
    attempts: Option<&str>,
) -> Result<(u16, String)> {
    let mut query = format!("&run={run_id}");
    if let Some(a) = attempts {
        query.push_str(&format!("&attempts={a}"));
    }
    let answer = call(env, workflow_id, shard, Action::DevStaleWrite, &query, None).await?;
    Ok((answer.status, answer.text))
}

/// Dev only: what `workflow_id`'s shard `shard` answers to a dev-only read (`DevPlans`: its
/// run table's query plans, see `runs::dev::plans`; `DevClaims`: its executor's claim count).
pub async fn dev_read(
    env: &Env,
    workflow_id: &str,
    shard: u8,
    action: Action,
) -> Result<(u16, String)> {
    let answer = call(env, workflow_id, shard, action, "", None).await?;
    Ok((answer.status, answer.text))
}

/// The whole record of run `run_id` kept in `workflow_id`'s shard `shard`.
pub async fn get(env: &Env, workflow_id: &str, shard: u8, run_id: &str) -> Result<Option<Value>> {
    let answer = call(
        env,
        workflow_id,
        shard,
        Action::RunGet,
        &format!("&run={run_id}"),
        None,
    )
    .await?;
    answer.found(&format!("reading run {run_id}"))
}

/// The most bytes of stored runs one listing reads whole: a page of large runs ends early
/// (with a cursor) rather than holding `limit` of them in memory at once.
pub const LIST_MOST_BYTES: i64 = 4 << 20;

/// A page of runs merged over a workflow's shards.
pub struct Listed {
    /// Whole records, newest first.
    pub runs: Vec<Value>,
    /// Set when the shards hold more runs below the page (beyond `limit`, or past
    /// [`LIST_MOST_BYTES`]): the id of the page's oldest run, where the next page starts.
    pub more_below: Option<String>,
}

/// Sends each `(shard, action, query, body)` to the workflow's shard object, all at once; the
/// answers in the same order.
async fn call_each(
    env: &Env,
    workflow_id: &str,
    calls: Vec<(u8, Action, String, Option<String>)>,
) -> Vec<Result<Answer>> {
    futures_util::future::join_all(
        calls
            .into_iter()
            .map(|(k, action, query, body)| async move {
                call(env, workflow_id, k, action, &query, body).await
            }),
    )
    .await
}

/// The `runs` array of each answer, each run marked with the shard (`shard`) it came from.
fn runs_of(shards: &[u8], answers: Vec<Result<Answer>>) -> Result<Vec<Value>> {
    let mut runs = Vec::new();
    for (&k, answer) in shards.iter().zip(answers) {
        let mut page: Value = answer?.json()?;
        if let Some(page) = page["runs"].as_array_mut() {
            for mut run in page.drain(..) {
                if let Some(fields) = run.as_object_mut() {
                    fields.insert("shard".into(), Value::from(k));
                    runs.push(run);
                }
            }
        }
    }
    Ok(runs)
}

/// Up to `limit` run summaries of the workflow across its `shards` (and its timer object),
/// newest first, ids below `before`, optionally of one status and one trigger kind (both plain
/// words, checked by the caller): `{id, status, created_at, finished_at, bytes, shard}`.
pub async fn summaries(
    env: &Env,
    workflow_id: &str,
    shards: u8,
    status: Option<&str>,
    trigger: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Value>> {
    let mut query = format!("&limit={limit}");
    if let Some(s) = status {
        query.push_str(&format!("&status={s}"));
    }
    if let Some(t) = trigger {
        query.push_str(&format!("&trigger={t}"));
    }
    if let Some(b) = before {
        // Any text is a position (see `api::runs::list`): sent encoded.
        query.push_str(&format!(
            "&before={}",
            tripline_core::kernel::percent::encode(b)
        ));
    }
    let holders: Vec<u8> = super::holders(shards).collect();
    let calls = holders
        .iter()
        .map(|&k| (k, Action::RunList, query.clone(), None))
        .collect();
    let mut runs = runs_of(&holders, call_each(env, workflow_id, calls).await)?;
    sort_newest_first(&mut runs);
    runs.truncate(limit as usize);
    Ok(runs)
}

/// Up to `limit` whole runs, as [`summaries`] chooses them: the summaries first (one more,
/// to know whether more follow), then the records of the runs on the page only, so a listing
/// over 64 shards reads at most `limit` records, not 65 times as many.
pub async fn list(
    env: &Env,
    workflow_id: &str,
    shards: u8,
    status: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Listed> {
    let mut chosen = summaries(env, workflow_id, shards, status, None, before, limit + 1).await?;
    let mut total = 0i64;
    let fit = chosen
        .iter()
        .position(|r| {
            total += r["bytes"].as_i64().unwrap_or(0);
            total > LIST_MOST_BYTES
        })
        .map_or(limit as usize, |at| at.min(limit as usize).max(1));
    let more_below = match fit < chosen.len() {
        true => {
            chosen.truncate(fit);
            chosen
                .last()
                .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        }
        false => None,
    };
    let mut asked = Vec::new();
    let mut calls = Vec::new();
    for k in super::holders(shards) {
        let ids: Vec<&Value> = chosen
            .iter()
            .filter(|r| r["shard"] == k)
            .map(|r| &r["id"])
            .collect();
        if !ids.is_empty() {
            asked.push(k);
            calls.push((
                k,
                Action::RunGetMany,
                String::new(),
                Some(Value::from(ids.into_iter().cloned().collect::<Vec<_>>()).to_string()),
            ));
        }
    }
    let mut runs = runs_of(&asked, call_each(env, workflow_id, calls).await)?;
    for run in &mut runs {
        if let Some(run) = run.as_object_mut() {
            run.remove("shard");
        }
    }
    sort_newest_first(&mut runs);
    Ok(Listed { runs, more_below })
}

/// Orders run records newest first (by id: ids start with their creation time).
pub fn sort_newest_first(runs: &mut [Value]) {
    runs.sort_by(|a, b| b["id"].as_str().cmp(&a["id"].as_str()));
}

/// Empties the workflow's timer object (its alarm, schedule or poll state and the runs it
/// keeps) before the workflow's catalog row is deleted: its alarm reads only its own storage,
/// so once the row (and any undeploy call waiting in the outbox) is gone, nothing else would
/// ever stop it. `Err` when the object did not answer that it did.
pub async fn stop_timer(env: &Env, workflow_id: &str) -> Result<()> {
    empty(env, workflow_id, TIMER_SHARD).await
}

/// Drops every run a workflow about to be deleted keeps in its shard objects: each one any
/// version used empties its storage (runs, alarm), all at once (the timer object is emptied
/// by [`stop_timer`]). `Err` naming the objects that did not answer that they did; the others
/// are empty.
pub async fn forget(env: &Env, workflow_id: &str, shards: u8) -> Result<()> {
    let calls = (0..shards.max(1))
        .map(|k| (k, Action::RunForget, format!("&shard={k}"), None))
        .collect();
    let answers = call_each(env, workflow_id, calls).await;
    let failed: Vec<String> = answers
        .into_iter()
        .zip(0..)
        .filter_map(|(answer, k)| emptied(workflow_id, k, answer).err().map(|e| e.to_string()))
        .collect();
    match failed.is_empty() {
        true => Ok(()),
        false => Err(Error::RustError(failed.join("; "))),
    }
}

/// Empties the storage of one of the workflow's objects; `Err` when it did not answer that it
/// did.
async fn empty(env: &Env, workflow_id: &str, shard: u8) -> Result<()> {
    let query = format!("&shard={shard}");
    let answer = call(env, workflow_id, shard, Action::RunForget, &query, None).await;
    emptied(workflow_id, shard, answer)
}

/// Whether an object's answer to `RunForget` says it emptied its storage.
fn emptied(workflow_id: &str, shard: u8, answer: Result<Answer>) -> Result<()> {
    let answer = answer?;
    if answer.status >= 400 {
        return Err(worker::Error::RustError(format!(
            "emptying object {} failed: {}",
            shard_name(workflow_id, shard),
            answer.text
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_bytes_count_as_the_platform_does() {
        let ascii = "a".repeat(CALL_MOST_BYTES / 2 + 1);
        assert_eq!(serialized_bytes(&ascii), ascii.len());
        // Latin-1 takes one byte a character (two in UTF-8).
        let latin1 = "\u{e9}".repeat(CALL_MOST_BYTES / 4 + 1);
        assert_eq!(serialized_bytes(&latin1), latin1.len() / 2);
        // One character past Latin-1 makes every character take two.
        let wide = format!("{ascii}\u{20ac}");
        assert_eq!(serialized_bytes(&wide), 2 * (ascii.len() + 1));
        assert!(serialized_bytes(&wide) > CALL_MOST_BYTES);
        // A short text counts its UTF-8 bytes: never fewer than the platform's.
        assert_eq!(serialized_bytes("\u{20ac}"), 3);
    }
}
