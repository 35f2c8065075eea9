//! Run history: a workflow's runs (newest first, paged) and one run with its steps.

use crate::platform::d1_stats::{rescope, Kind};
use serde_json::json;
use tripline_core::kernel::ids::WorkflowId;
use worker::{Env, Request};

use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::{query_pairs, query_param};
use crate::api::paging::PageRequest;
use crate::store::{self, runs::STATUSES};
use tripline_core::kernel::ids::is_run_id;

pub async fn list(req: Request, env: &Env, workflow_id: &WorkflowId) -> ApiResult {
    crate::api::catalog::load(env, workflow_id).await?;
    let q = query_pairs(&req);
    let paging = PageRequest::from_query(&q, 20, 100, |_| true)?;
    let status = query_param(&q, "status");
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(ApiError::field(
                "query.status",
                format!("must be one of: {}", STATUSES.join(", ")),
            ));
        }
    }
    let rows = store::runs::list(
        &store::db(env)?,
        workflow_id,
        status,
        paging.after.as_deref(),
        paging.rows_to_read(),
    )
    .await?;
    let (page, next) = paging.page(&rows, |r| r.id.clone());
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

/// `POST /api/runs/{run_id}/replay`: a new run with the same input on the deployed version.
pub async fn replay(env: &Env, ctx: &worker::Context, run_id: &str) -> ApiResult {
    let not_found = || ApiError::not_found(format!("no run with id {run_id}"));
    if !is_run_id(run_id) {
        return Err(not_found());
    }
    let db = store::db(env)?;
    let original = store::runs::get(&db, run_id).await?.ok_or_else(not_found)?;
    let workflow_id = WorkflowId::parse(&original.workflow_id).ok_or_else(not_found)?;
    let workflow = crate::api::catalog::load(env, &workflow_id).await?;
    let Some(version) = workflow.deployed_version else {
        return Err(ApiError::new(
            409,
            "Not deployed",
            format!(
                "workflow {} is not deployed: deploy it to replay runs",
                workflow.id
            ),
        ));
    };
    let input: serde_json::Value =
        serde_json::from_str(&original.input).unwrap_or(serde_json::Value::Null);
    let dedup = format!(
        "replay:{}:{}",
        original.id,
        tripline_core::kernel::ids::token(&crate::platform::random_bytes::<10>()?)
    );
    let cause = crate::engine::RunCause {
        workflow_id: &workflow.id,
        version,
        trigger_kind: "replay",
        dedup_key: &dedup,
    };
    let started = crate::engine::start_run(env, &cause, &input).await?;
    let env2 = env.clone();
    let id = started.run_id.clone();
    ctx.wait_until(rescope(Kind::Execute, async move {
        if let Err(e) = crate::engine::execute(&env2, &id, crate::engine::Claim::Fresh, None).await
        {
            worker::console_error!("replay {id}: {e}");
        }
    }));
    super::endpoint::accepted(&started.run_id, false)
}
