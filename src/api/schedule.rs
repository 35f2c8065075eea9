//! Schedule workflows in the management API: the fire-time preview, and the schedule fields of
//! `GET /api/workflows/{id}` (`next_run_at`, `last_run_at`, `skipped_slots`, `last_misfire`).

use crate::store::workflows::WorkflowStatus;
use serde_json::{json, Map, Value};
use tripline_core::kernel::ids::WorkflowId;
use worker::{Env, Request};

use super::catalog::load;
use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::{query_pairs, query_param};
use crate::platform::now_ms;
use crate::store::{self, workflows::WorkflowRow};
use tripline_core::definition::{Definition, Trigger};
use tripline_core::kernel::time::{from_millis, iso_millis, parse_millis};
use tripline_core::schedule::preview::parse_preview_query;
use tripline_core::schedule::timer::projected_next;

/// `GET /api/workflows/{id}/schedule/preview?count=N[&after=…]`: the next N fire times of the
/// draft's schedule (the draft, so a change can be checked before it is deployed).
pub async fn preview(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = load(env, id).await?;
    let q = query_pairs(&req);
    let (count, after) = parse_preview_query(query_param(&q, "count"), query_param(&q, "after"))
        .map_err(|(location, message)| ApiError::field(location, message))?;
    let draft: Value = serde_json::from_str(&row.draft).unwrap_or(Value::Null);
    let definition = Definition::parse(&draft).map_err(|errors| {
        ApiError::new(
            409,
            "Conflict",
            "the workflow's draft no longer validates; fix it with PUT before previewing",
        )
        .with_errors(errors)
    })?;
    let Trigger::Schedule(trigger) = &definition.trigger else {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "workflow {id} has a `{}` trigger; only `schedule` workflows have fire times to preview",
                definition.trigger.kind()
            ),
        ));
    };
    let now = now_ms();
    // `daily` with `every > 1` counts days from the deploy date: the live one when deployed,
    // else today (a deploy now).
    let anchor = row
        .deployed_at
        .as_deref()
        .filter(|_| row.status == WorkflowStatus::Deployed)
        .and_then(parse_millis)
        .unwrap_or(now);
    let after = after.unwrap_or_else(|| from_millis(now));
    let fire_times = trigger.preview(after, from_millis(anchor), count);
    json_response(
        200,
        &json!({
            "timezone": trigger.timezone.name(),
            "after": iso_millis(after.timestamp_millis()),
            "fire_times": fire_times,
        }),
    )
}

/// Adds the schedule fields to a workflow resource (one indexed D1 read).
pub async fn add_status(env: &Env, row: &WorkflowRow, resource: &mut Value) -> ApiResult<()> {
    let status = store::schedules::status(&store::db(env)?, &row.id).await?;
    let Some(obj) = resource.as_object_mut() else {
        return Ok(());
    };
    let deployed = row.status == WorkflowStatus::Deployed;
    let mut fields = Map::new();
    let next = status.as_ref().and_then(|s| {
        let next_at = s.next_at? as i64;
        // Only a timer armed for the live version counts.
        (deployed && s.timer_version == row.deployed_version).then(|| {
            iso_millis(projected_next(
                next_at,
                s.interval_ms.map(|i| i as i64),
                now_ms(),
            ))
        })
    });
    fields.insert("next_run_at".into(), json!(next));
    fields.insert(
        "last_run_at".into(),
        json!(status.as_ref().and_then(|s| s.last_run_at.clone())),
    );
    fields.insert(
        "skipped_slots".into(),
        json!(status.as_ref().and_then(|s| s.skipped_slots).unwrap_or(0)),
    );
    fields.insert(
        "last_misfire".into(),
        status
            .as_ref()
            .and_then(|s| s.last_misfire.as_deref())
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
            .unwrap_or(Value::Null),
    );
    obj.extend(fields);
    Ok(())
}
