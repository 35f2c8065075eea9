//! Dev-only routes (`/api/dev/…`), served only when `TRIPLINE_DEV_ACTIONS` is `1` (local
//! `wrangler dev` under the e2e harness) and with the admin token; otherwise they do not exist.
//!
//! `POST /api/dev/runs/{run_id}/stale-write[?attempts=N]`: a stale executor's writes of the
//! run, refused by fencing (see `objects::runs::dev`).
//!
//! `GET /api/dev/runs/{run_id}/plans`: the query plans of the run table in the object that
//! holds the run.
//!
//! `POST /api/dev/workflows/{workflow_id}/lose-alarm`: the workflow's object deletes its alarm,
//! as a platform that gave up an alarm would (the Cron pass and status reads set it again).
//!
//! `GET /api/dev/workflows/{workflow_id}/poll-calls`: `{"wakes": w, "wake_calls_max": c}`, the
//! poll's wakes (alarms, and deploys and resets that poll) in its object's isolate and the most
//! outbound calls (source reads, calls to shards) one made.
//!
//! `GET /api/dev/runs/{run_id}/claims`: `{"claims": n, "held_bytes_max": b,
//! "flight_bytes_max": f, "handed": h, "renewals": r, "wakes": w, "wake_calls_max": c,
//! "wake_runs_max": s}`, the claim statements the executor of the object that holds the run ran
//! since that object started, the most bytes of runs it held at once for a free slot, the most
//! bytes of runs it executed at once, the runs handed to it at their create (no claim read
//! them), the held runs whose lease it renewed when their slot came, its wakes, the most
//! outbound calls one wake made and the most runs one wake started.

use worker::{Env, Request, Response};

use super::auth;
use super::problem::{ApiError, ApiResult};
use super::request::{query_pairs, query_param};
use crate::objects::{runs, Action};
use tripline_core::kernel::ids::{RunId, WorkflowId};

/// The response to a dev route, or `None` when `path` is not one (or dev routes are off).
pub async fn route(req: &Request, env: &Env, method: &str, path: &str) -> Option<ApiResult> {
    if let Some(rest) = path.strip_prefix("/api/dev/workflows/") {
        let (workflow_id, what) = rest.split_once('/')?;
        if !runs::dev::enabled(env) {
            return None;
        }
        return match (method, what) {
            ("POST", "lose-alarm") => Some(lose_alarm(req, env, workflow_id).await),
            ("GET", "poll-calls") => Some(poll_calls(req, env, workflow_id).await),
            _ => None,
        };
    }
    let rest = path.strip_prefix("/api/dev/runs/")?;
    let (run_id, what) = rest.split_once('/')?;
    if !matches!(
        (method, what),
        ("POST", "stale-write") | ("GET", "plans") | ("GET", "claims")
    ) || !runs::dev::enabled(env)
    {
        return None;
    }
    Some(match what {
        "plans" => read(req, env, run_id, Action::DevPlans).await,
        "claims" => read(req, env, run_id, Action::DevClaims).await,
        _ => stale_write(req, env, run_id).await,
    })
}

/// The workflow and shard object that hold run `run_id`.
fn place(run_id: &str) -> Result<(WorkflowId, u8), ApiError> {
    RunId::parse(run_id)
        .and_then(|p| p.workflow_id.map(|w| (w, p.shard)))
        .ok_or_else(|| ApiError::not_found(format!("no run with id {run_id}")))
}

fn json_reply(status: u16, body: String) -> ApiResult {
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(worker::Headers::from_iter([(
            "content-type",
            "application/json",
        )])))
}

/// What the object that holds run `run_id` answers to a dev-only read.
async fn read(req: &Request, env: &Env, run_id: &str, action: Action) -> ApiResult {
    auth::require_admin(req, env)?;
    let (workflow_id, shard) = place(run_id)?;
    let (status, body) = runs::client::dev_read(env, &workflow_id, shard, action).await?;
    json_reply(status, body)
}

async fn stale_write(req: &Request, env: &Env, run_id: &str) -> ApiResult {
    auth::require_admin(req, env)?;
    let (workflow_id, shard) = place(run_id)?;
    let q = query_pairs(req);
    let (status, body) = runs::client::dev_stale_write(
        env,
        &workflow_id,
        shard,
        run_id,
        query_param(&q, "attempts"),
    )
    .await?;
    json_reply(status, body)
}

/// The poll's wakes in the workflow object's isolate and the most outbound calls one made
/// (`{"wakes", "wake_calls_max"}`).
async fn poll_calls(req: &Request, env: &Env, workflow_id: &str) -> ApiResult {
    auth::require_admin(req, env)?;
    let id = WorkflowId::parse(workflow_id)
        .ok_or_else(|| ApiError::not_found(format!("no workflow with id {workflow_id}")))?;
    let answer = crate::objects::call(env, id.as_str(), Action::DevPollCalls, None).await?;
    json_reply(answer.status, answer.text)
}

async fn lose_alarm(req: &Request, env: &Env, workflow_id: &str) -> ApiResult {
    auth::require_admin(req, env)?;
    let id = WorkflowId::parse(workflow_id)
        .ok_or_else(|| ApiError::not_found(format!("no workflow with id {workflow_id}")))?;
    let answer = crate::objects::call(env, id.as_str(), Action::DevLoseAlarm, None).await?;
    json_reply(
        answer.status,
        serde_json::json!({ "answer": answer.text }).to_string(),
    )
}
