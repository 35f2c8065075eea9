//! One workflow from the catalog as the management API sees it: loaded by id (404 when there is
//! none), and its resource JSON with absolute trigger URLs. Every handler that names a workflow
//! starts here.

use serde_json::{json, Value};
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::json_parse;
use worker::Env;

use super::problem::{ApiError, ApiResult};
use crate::store::workflows::WorkflowRow;
use crate::store::{self};
use tripline_core::definition::secrets::each_secret_read;
use tripline_core::definition::TriggerKind;

/// Loads a workflow or answers 404.
pub async fn load(env: &Env, id: &WorkflowId) -> ApiResult<WorkflowRow> {
    let not_found = || ApiError::not_found(format!("no workflow with id {id}"));
    store::workflows::get(&store::db(env)?, id)
        .await?
        .ok_or_else(not_found)
}

/// The API shape of a workflow, with its absolute trigger URLs.
pub fn resource(row: &WorkflowRow, origin: &str) -> Value {
    let draft: Value = json_parse::from_str(&row.draft).unwrap_or(Value::Null);
    let base = format!("{origin}/hooks/{}", row.id);
    // The URLs of the trigger that runs (the deployed version's, else the draft's), and the
    // test URL of a draft endpoint, which the test URL follows.
    let mut urls = match row.shown_kind() {
        TriggerKind::Endpoint => json!({ "endpoint": base }),
        TriggerKind::OAuth => json!({
            "signin": format!("{origin}/oauth/{}/signin", row.id),
            "redirect": format!("{origin}/oauth/{}/callback", row.id),
        }),
        TriggerKind::Schedule | TriggerKind::Poll => json!({}),
    };
    if row.trigger_type == TriggerKind::Endpoint {
        urls["test"] = json!(format!("{base}/test"));
    }
    // Whether a deploy would change the live version (read with the row).
    let draft_changed = row.draft_changed;
    json!({
        "id": row.id,
        "key": row.key,
        "name": row.name,
        "trigger_type": row.trigger_type,
        // The kind that runs: the deployed version's (null while not deployed).
        "live_trigger_type": row.live(),
        "draft": draft,
        "status": row.status,
        "deployed_version": row.deployed_version,
        "latest_version": row.latest_version,
        "deployed_at": row.deployed_at,
        "draft_changed": draft_changed,
        "urls": urls,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}

/// [`resource`] of one workflow, with `missing_secrets`: the Worker secrets and vars its draft
/// reads that this Worker lacks (`[{name, location}]`): until they are set, its runs (or its
/// signature checks, sign-ins, polls) fail.
pub fn resource_of_one(env: &Env, row: &WorkflowRow, origin: &str) -> Value {
    let mut v = resource(row, origin);
    let mut missing = Vec::new();
    each_secret_read(&v["draft"], &mut |location, name, signing| {
        let set = match signing {
            true => crate::platform::signing_secret(env, name),
            false => crate::platform::env_string(env, name),
        };
        if set.is_none() {
            missing.push(json!({"name": name, "location": location}));
        }
    });
    v["missing_secrets"] = Value::Array(missing);
    v
}
