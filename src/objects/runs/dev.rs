//! Dev-only shard object actions, served only when the Worker variable `TRIPLINE_DEV_ACTIONS`
//! is `1` (the e2e harness sets it for local `wrangler dev`; a deployment never does): they let
//! tests play a part the platform plays only on a crash, such as a stale executor, and read
//! what only the object's SQLite knows, such as its query plans.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Env, Response, Result, State};

use super::handler::sql;
use super::instance::RunsInstance;
use super::table::{planned_queries, Fence, Table};
use crate::platform::{env_string, now_ms};
use tripline_core::kernel::time::iso_millis;

/// Whether dev-only actions are served.
pub fn enabled(env: &Env) -> bool {
    env_string(env, "TRIPLINE_DEV_ACTIONS").as_deref() == Some("1")
}

/// Plays an executor whose claim `attempts` (default: one before the run's latest claim) is
/// stale: it tries a progress write and a `failed` finish of run `id`, as a stale executor
/// would, and reports whether either was written (`{"attempts", "claimed", "progress",
/// "finish"}`). Fencing must refuse both.
pub fn stale_write(
    state: &State,
    runs: &RunsInstance,
    id: &str,
    attempts: Option<i64>,
) -> Result<Response> {
    let sql = sql(state, runs)?;
    let table = Table { sql: &sql };
    let Some(run) = table.get(id)? else {
        return Response::error("no such run", 404);
    };
    let stale = attempts.unwrap_or(run.attempts - 1);
    let steps =
        json!([{ "name": "stale", "status": "succeeded", "output": "from a stale executor" }])
            .to_string();
    let fence = Fence {
        id,
        attempts: stale,
        input_bytes: run.input.len(),
    };
    let progress = table.progress(fence, &steps, now_ms() + 60_000, None, None)?;
    let error = json!({ "message": "written by a stale executor" }).to_string();
    let finish = table.finish(fence, "failed", &steps, Some(&error), &iso_millis(now_ms()))?;
    Response::from_json(&json!({
        "attempts": stale,
        "claimed": run.attempts,
        "progress": progress,
        "finish": finish,
    }))
}

/// The plan SQLite chose for each of the run table's queries in this object (`EXPLAIN QUERY
/// PLAN`, one detail line per step): `{"list": ["SEARCH runs USING INDEX …"], …}`. Tests check
/// that no query whose work must stay bounded sorts or scans every run.
pub fn plans(state: &State, runs: &RunsInstance) -> Result<Response> {
    #[derive(Deserialize)]
    struct Step {
        detail: String,
    }
    let sql = sql(state, runs)?;
    let mut out = Map::new();
    for (name, query) in planned_queries() {
        // Parameters only change what a plan reads, not which plan: nulls stand in for them.
        let params = vec![worker::SqlStorageValue::Null; query.matches('?').count()];
        let steps = sql
            .exec(&format!("EXPLAIN QUERY PLAN {query}"), params)?
            .to_array::<Step>()?;
        out.insert(
            name.into(),
            Value::Array(steps.into_iter().map(|s| Value::String(s.detail)).collect()),
        );
    }
    Response::from_json(&Value::Object(out))
}
