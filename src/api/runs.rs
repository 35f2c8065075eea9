//! Run history: a workflow's runs (newest first, paged) and one run with its steps.

use serde_json::{json, Value};
use tripline_core::kernel::ids::WorkflowId;
use worker::{Env, Request};

use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::{query_pairs, query_param};
use crate::api::paging::PageRequest;
use crate::objects::runs;
use crate::store::{self, runs::STATUSES};
use tripline_core::kernel::ids::RunId;

pub async fn list(req: Request, env: &Env, workflow_id: &WorkflowId) -> ApiResult {
    crate::api::catalog::load(env, workflow_id).await?;
    let q = query_pairs(&req);
    // Any position is a bound: runs sort by id (which starts with the run's time), and a page
    // holds those whose id sorts before it, as every cursor the document admits must be.
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
    let db = store::db(env)?;
    // Every shard any version used: a redeploy that lowered `shards` leaves runs in the others.
    let shards = store::workflows::most_shards(&db, workflow_id).await?;
    let before = paging.after.as_deref();
    let listed = runs::client::list(env, workflow_id, shards, status, before, paging.limit)
        .await
        .map_err(ApiError::object_unavailable)?;
    let mut rows = listed.runs;
    // Runs of earlier versions stay in D1 until they expire.
    let legacy = store::runs::list(&db, workflow_id, status, before, paging.rows_to_read()).await?;
    rows.extend(legacy.iter().map(|r| r.to_json()));
    runs::client::sort_newest_first(&mut rows);
    // A run moved from D1 into its shard is in both until the move deletes its D1 row: the
    // shard's copy (listed first, and kept first by the stable sort) is the one shown.
    rows.dedup_by(|later, earlier| later["id"] == earlier["id"]);
    // The shards hold more runs below the page's last: none older than it is shown yet.
    if let Some(bound) = &listed.more_below {
        rows.retain(|r| r["id"].as_str().unwrap_or_default() >= bound.as_str());
    }
    let position = |r: &Value| r["id"].as_str().unwrap_or_default().to_string();
    let (page, next) = paging.page(&rows, position);
    let next = next.or_else(|| {
        listed
            .more_below
            .as_ref()
            .and_then(|_| page.last())
            .map(|r| crate::api::paging::encode_cursor(&position(r)))
    });
    json_response(200, &json!({ "runs": page, "next_cursor": next }))
}

/// A run's whole record: from its shard object, or from D1 for a run of an earlier version.
async fn record(env: &Env, run_id: &str) -> ApiResult<Value> {
    let not_found = || ApiError::not_found_id("run", run_id);
    let place = RunId::parse(run_id).ok_or_else(not_found)?;
    let found = match place.workflow_id {
        Some(wf) => runs::client::get(env, &wf, place.shard, run_id)
            .await
            .map_err(ApiError::object_unavailable)?,
        None => {
            // A run of an earlier version: moved into its shard object since, or in D1. A
            // moved run's D1 row may outlive the move (a pass that died before deleting it):
            // the shard's copy is the one shown, as the list does. A run noted as moving that
            // its shard does not hold yet is still D1's.
            let db = store::db(env)?;
            let moved = match store::runs::moved_to(&db, run_id).await? {
                Some((wf, shard)) => runs::client::get(env, &wf, shard, run_id)
                    .await
                    .map_err(ApiError::object_unavailable)?,
                None => None,
            };
            match moved {
                Some(run) => Some(run),
                None => store::runs::get(&db, run_id).await?.map(|r| r.to_json()),
            }
        }
    };
    found.ok_or_else(not_found)
}

pub async fn get(env: &Env, run_id: &str) -> ApiResult {
    json_response(200, &record(env, run_id).await?)
}

/// A problem with the replayed run's input, located at `input`.
fn at_input(status: u16, title: &'static str, message: String) -> ApiError {
    let mut errors = tripline_core::kernel::problem::Errors::new();
    errors.push("input", message.clone());
    ApiError::new(status, title, format!("input {message}")).with_errors(errors)
}

/// `POST /api/runs/{run_id}/replay`: a new run with the same input on the deployed version.
pub async fn replay(req: Request, env: &Env, run_id: &str) -> ApiResult {
    let not_found = || ApiError::not_found_id("run", run_id);
    // With an `Idempotency-Key`, a replay sent again (after a 503, an answer lost) makes no
    // second run: the same key for the same run names the replay it made.
    let key = match req.headers().get("idempotency-key")? {
        Some(raw) => Some(
            tripline_core::endpoint::runtime::check_idempotency_key(&raw)
                .map_err(|m| ApiError::field("header.idempotency-key", m))?
                .to_string(),
        ),
        None => None,
    };
    let original = record(env, run_id).await?;
    let workflow_id = original["workflow_id"]
        .as_str()
        .and_then(WorkflowId::parse)
        .ok_or_else(not_found)?;
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
    // An input stored cut (a truncation mark with a preview) would replay as its preview.
    let input = &original["input"];
    // A run of another trigger than the deployed version's holds none of what its steps read
    // (`schedule` for a schedule's, `request` for an endpoint's).
    if let Some(kind) = workflow.live() {
        let root = tripline_core::template::roots_for_trigger(Some(kind))[0];
        if input.get(root).is_none() && input["truncated"] != true {
            return Err(at_input(
                409,
                "Trigger changed",
                format!(
                    "of run {run_id} holds no `{root}`, which the steps of the deployed version \
                     (v{version}, whose trigger is `{}`) read: a replay takes runs of the \
                     deployed version's trigger",
                    kind.as_str()
                ),
            )
            .with_field("run_id", run_id.to_string()));
        }
    }
    if input["truncated"] == true && input.get("preview").is_some() {
        return Err(at_input(
            409,
            "Input not kept whole",
            format!(
                "of run {run_id} was cut when it was stored ({} bytes); a replay would run on \
                 its preview, so it is not replayed",
                input["size"]
            ),
        ));
    }
    let dedup = match key {
        Some(key) => format!("replay:{run_id}:key:{key}"),
        None => format!(
            "replay:{run_id}:{}",
            tripline_core::kernel::ids::token(&crate::platform::random_bytes::<10>()?)
        ),
    };
    let created = runs::client::start(
        env,
        &workflow_id,
        runs::DEFAULT_SHARDS,
        version,
        "replay",
        &dedup,
        input,
        // A replay carries no secrets: an OAuth replay reads the connection's current token.
        None,
    )
    .await
    .map_err(|e| match e {
        runs::client::CreateError::TooLarge(message) => at_input(413, "Payload too large", message),
        e => e.into(),
    })?;
    super::endpoint::accepted(&created.run.id, !created.created)
}
