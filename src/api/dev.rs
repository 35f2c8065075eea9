//! Dev-only routes (`/api/dev/…`), served only when `TRIPLINE_DEV_ACTIONS` is `1` (local
//! `wrangler dev` under the e2e harness) and with the admin token; otherwise they do not exist.
//!
//! `POST /api/dev/runs/{run_id}/stale-write[?attempts=N]`: a stale executor's writes of the
//! run, refused by fencing (see `objects::runs::dev`).

use worker::{Env, Request, Response};

use super::auth;
use super::problem::{ApiError, ApiResult};
use super::request::{query_pairs, query_param};
use crate::objects::runs;
use tripline_core::kernel::ids::RunId;

/// The response to a dev route, or `None` when `path` is not one (or dev routes are off).
pub async fn route(req: &Request, env: &Env, path: &str) -> Option<ApiResult> {
    let run_id = path
        .strip_prefix("/api/dev/runs/")?
        .strip_suffix("/stale-write")?;
    if !runs::dev::enabled(env) {
        return None;
    }
    Some(stale_write(req, env, run_id).await)
}

async fn stale_write(req: &Request, env: &Env, run_id: &str) -> ApiResult {
    auth::require_admin(req, env)?;
    let place = RunId::parse(run_id)
        .and_then(|p| p.workflow_id.map(|w| (w, p.shard)))
        .ok_or_else(|| ApiError::not_found(format!("no run with id {run_id}")))?;
    let q = query_pairs(req);
    let (status, body) =
        runs::client::dev_stale_write(env, &place.0, place.1, run_id, query_param(&q, "attempts"))
            .await?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(worker::Headers::from_iter([(
            "content-type",
            "application/json",
        )])))
}
