//! Run history: a workflow's runs (newest first, paged) and one run with its steps.

use serde_json::json;
use worker::{Env, Request};

use super::http::{json_response, query_pairs, query_param};
use super::problem::{ApiError, ApiResult};
use crate::domain::ids::is_run_id;
use crate::domain::paging::{decode_cursor, encode_cursor, parse_limit};
use crate::store::{self, runs::STATUSES};

pub async fn list(req: Request, env: &Env, workflow_id: &str) -> ApiResult {
    super::workflows::load(env, workflow_id).await?;
    let q = query_pairs(&req);
    let limit = parse_limit(query_param(&q, "limit"), 20, 100)
        .map_err(|m| ApiError::field("query.limit", m))?;
    let status = query_param(&q, "status");
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(ApiError::field(
                "query.status",
                format!("must be one of: {}", STATUSES.join(", ")),
            ));
        }
    }
    let before = match query_param(&q, "cursor") {
        None => None,
        Some(c) => Some(
            decode_cursor(c)
                .filter(|p| is_run_id(p))
                .ok_or_else(|| ApiError::field("query.cursor", "is not a cursor from this API"))?,
        ),
    };
    let rows = store::runs::list(
        &store::db(env)?,
        workflow_id,
        status,
        before.as_deref(),
        limit + 1,
    )
    .await?;
    let more = rows.len() > limit as usize;
    let page = &rows[..rows.len().min(limit as usize)];
    let next = more
        .then(|| page.last())
        .flatten()
        .map(|r| encode_cursor(&r.id));
    json_response(
        200,
        &json!({
            "runs": page.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
            "next_cursor": next,
        }),
    )
}

pub async fn get(env: &Env, run_id: &str) -> ApiResult {
    let not_found = || ApiError::not_found(format!("no run with id {run_id}"));
    if !is_run_id(run_id) {
        return Err(not_found());
    }
    let row = store::runs::get(&store::db(env)?, run_id)
        .await?
        .ok_or_else(not_found)?;
    json_response(200, &row.to_json())
}
