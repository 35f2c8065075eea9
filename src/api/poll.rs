//! Poll trigger management: `POST /api/workflows/{id}/poll/reset`, and the `poll` status block
//! of `GET /api/workflows/{id}` (kept by the workflow's object, updated after each poll).

use crate::objects::Action;
use crate::store::workflows::WorkflowStatus;
use serde_json::{json, Value};
use tripline_core::definition::TriggerKind;
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::problem::Errors;
use worker::{Env, Request};

use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::read_json;
use tripline_core::poll::state::parse_reset;
use tripline_core::poll::status::PollStatus;

/// The `poll` block of a workflow resource.
pub async fn status_json(env: &Env, workflow_id: &str) -> ApiResult<Value> {
    let status = crate::objects::status(env, workflow_id)
        .await
        .map_err(ApiError::object_unavailable)?;
    Ok(match &status["poll"] {
        Value::Null => PollStatus::default().to_json(),
        poll => poll.clone(),
    })
}

/// `POST /api/workflows/{id}/poll/reset` with `{"start": "now" | "beginning"}`.
pub async fn reset(mut req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = crate::api::catalog::load(env, id).await?;
    let body = read_json(&mut req).await?;
    parse_reset(&body)
        .map_err(|errors| ApiError::validation("the reset request is not valid", errors))?;
    // The deployed version's trigger is the one that polls (the draft's may differ).
    let kind = row.shown_kind();
    if kind != TriggerKind::Poll {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!("workflow {id} is not started by polling (its trigger is `{kind}`)"),
        ));
    }
    if row.status != WorkflowStatus::Deployed {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!("workflow {id} is not deployed; deploy it, then reset its poll (its cursor is kept while undeployed)"),
        ));
    }
    let reply = crate::objects::ask(env, id, &Action::PollReset.url(id), Some(body.to_string()))
        .await
        .map_err(ApiError::object_unavailable)?;
    let status = reply.status;
    let answer: Value = reply.json().unwrap_or(Value::Null);
    let message = answer["error"].as_str().unwrap_or("").to_string();
    match status {
        200 => json_response(
            200,
            &json!({
                "workflow_id": id,
                "start": answer["start"],
                "cursor": answer["cursor"],
                // The reset is done: a status that cannot be read now is left out (`null`)
                // rather than answered as a failure the client would retry.
                "poll": status_json(env, id).await.unwrap_or(Value::Null),
            }),
        ),
        502 => Err(ApiError::new(
            502,
            "Source unavailable",
            format!("the source could not be read, so the cursor was left as it was: {message}"),
        )),
        409 => {
            let mut conflict = ApiError::new(409, "Conflict", message.clone());
            // A secret or binding the source names is missing: say which field names it.
            if let Some(location) = answer["location"].as_str() {
                let mut errors = Errors::new();
                errors.push(location, message);
                conflict = conflict.with_errors(errors);
            }
            Err(conflict)
        }
        _ => Err(ApiError::internal(format!(
            "the workflow object could not reset the poll ({status})"
        ))),
    }
}
