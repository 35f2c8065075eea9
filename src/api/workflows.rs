//! Management API for workflows: create, list, read, replace, delete, deploy, undeploy.

use crate::objects::{self, test_shelf, Action};
use crate::store::workflows::WorkflowStatus;
use serde_json::{json, Value};
use tripline_core::definition::TriggerKind;
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::json_parse;
use tripline_core::kernel::problem::Errors;
use tripline_core::kernel::revision;
use worker::{Env, Request, Response};

use super::catalog::{load, resource, resource_of_one};
use super::problem::{ApiError, ApiResult};
use super::reply::json_response;
use super::request::{origin, query_pairs, query_param, read_json};
use crate::api::paging::PageRequest;
use crate::platform::{now_ms, random_bytes};
use crate::store::{self, workflows::WorkflowRow};
use tripline_core::definition::{is_workflow_key, key_rule, Definition};
use tripline_core::kernel::ids::new_workflow_id;
use tripline_core::kernel::json_budget::stored_definition_too_large;
use tripline_core::kernel::time::iso_millis;

/// A 413 at `body` when `definition` is too large to keep (see
/// `tripline_core::kernel::json_budget::MAX_STORED_DEFINITION`).
pub(crate) fn fits_stored(definition: &Value) -> ApiResult<()> {
    if let Some(message) = stored_definition_too_large(&definition.to_string()) {
        let mut errors = Errors::new();
        errors.push("body", message.clone());
        return Err(ApiError::new(413, "Payload too large", message).with_errors(errors));
    }
    Ok(())
}

/// Parses and validates a definition body: 400 with every error.
fn validated(body: &Value) -> ApiResult<Definition> {
    fits_stored(body)?;
    Definition::parse(body).map_err(|errors| {
        let n = errors.len();
        ApiError::validation(
            format!(
                "the workflow definition has {n} error{}",
                if n == 1 { "" } else { "s" }
            ),
            errors,
        )
    })
}

/// A workflow answer carrying the revision tag of `draft` as `ETag` (`kernel::revision`).
fn tagged(mut resp: Response, draft: &str) -> ApiResult {
    resp.headers_mut()
        .set("etag", &revision::draft_tag(draft))?;
    Ok(resp)
}

/// What a request's `If-Match` asks of the draft, `row`'s as read: `412` when it names another
/// one (it was saved again since the client read it); `Some(draft)` when it names this one,
/// which must then still be the stored one when the request writes; `None` without `If-Match`,
/// or with `*` (any draft).
pub(crate) fn if_match<'a>(req: &Request, row: &'a WorkflowRow) -> ApiResult<Option<&'a str>> {
    let Some(expected) = req.headers().get("if-match")? else {
        return Ok(None);
    };
    if expected.trim() == "*" {
        return Ok(None);
    }
    if !revision::if_match_is_well_formed(&expected) {
        return Err(ApiError::field(
            "header.if-match",
            "is not an entity tag: send the workflow's ETag as it was read, with its quotes \
             (\"…\"), or `*`",
        ));
    }
    match revision::if_match_allows(&expected, &revision::draft_tag(&row.draft)) {
        true => Ok(Some(&row.draft)),
        false => Err(draft_changed_since(&row.id)),
    }
}

fn draft_changed_since(id: &str) -> ApiError {
    let message = "names another draft than the saved one: the draft was saved again since \
                   it was read; read it again (its ETag), then send the request again";
    let mut errors = Errors::new();
    errors.push("header.if-match", message);
    ApiError::new(
        412,
        "Precondition failed",
        format!("the draft of workflow {id} was saved again since it was read"),
    )
    .with_errors(errors)
}

/// Refuses to deploy an endpoint whose signing secret is a rotation list (one secret per line,
/// or `NAME` with `NAME_PREVIOUS`) holding a secret shorter than 16 bytes.
fn check_signing_secret(env: &Env, def: &Definition) -> ApiResult<()> {
    let Some(config) = def.endpoint().and_then(|e| e.verify.as_ref()) else {
        return Ok(());
    };
    let Some(secret) = crate::platform::signing_secret(env, &config.secret_env) else {
        return Ok(());
    };
    match tripline_core::endpoint::signature::rotation_problem(&secret) {
        None => Ok(()),
        Some(problem) => Err(ApiError::field(
            "trigger.verify.secret_env",
            format!(
                "`{}` (with `{}_PREVIOUS`): {problem}",
                config.secret_env, config.secret_env
            ),
        )),
    }
}

pub async fn create(mut req: Request, env: &Env) -> ApiResult {
    let body = read_json(&mut req).await?;
    let def = validated(&body)?;
    let now = iso_millis(now_ms());
    let db = store::db(env)?;
    key_is_free(&db, def.key.as_deref(), None).await?;
    let row = WorkflowRow {
        id: new_workflow_id(&random_bytes::<15>()?),
        key: def.key.clone(),
        name: def.name.clone(),
        trigger_type: def.trigger.kind(),
        live_kind: None,
        draft: body.to_string(),
        status: WorkflowStatus::Draft,
        deployed_version: None,
        latest_version: 0,
        deployed_at: None,
        created_at: now.clone(),
        updated_at: now,
        draft_changed: false,
    };
    if let Err(e) = store::workflows::insert(&db, &row).await {
        return Err(key_conflict(&db, e, def.key.as_deref()).await);
    }
    if row.trigger_type == TriggerKind::Endpoint {
        // Its test URL reads the draft from the workflow's object, not from D1. The workflow is
        // created either way: an object that was not told reads the draft from the catalog at
        // its first test request (a failed create would be sent again, making a second one).
        if let Err(e) = test_shelf::keep_draft(env, &row.id, &row).await {
            worker::console_error!("create {}: handing the draft to its object: {e}", row.id);
        }
    }
    let mut resp = json_response(201, &resource_of_one(env, &row, &origin(&req)))?;
    resp.headers_mut()
        .set("location", &format!("/api/workflows/{}", row.id))?;
    tagged(resp, &row.draft)
}

pub async fn list(req: Request, env: &Env) -> ApiResult {
    let q = query_pairs(&req);
    // Any position is a bound for the keyset: one without `|` sorts by its time alone.
    let paging = PageRequest::from_query(&q, 20, 100, |_| true)?;
    if let Some(key) = query_param(&q, "key") {
        return by_key(&req, env, key).await;
    }
    let after = paging
        .after
        .as_deref()
        .map(|p| p.split_once('|').unwrap_or((p, "")));
    let read = paging.rows_to_read();
    let rows = store::workflows::list(&store::db(env)?, read, after).await?;
    // Fewer rows than asked for, that hold the most a page may: ended by their drafts' bytes
    // (or the list ended there: the next page is then empty).
    let cut = rows.len() < read as usize
        && rows.iter().map(|r| r.draft.len()).sum::<usize>()
            >= store::workflows::LIST_MOST_DRAFT_BYTES;
    let (page, next) = paging.page_or_cut(&rows, cut, |r| format!("{}|{}", r.created_at, r.id));
    let workflows = with_last_runs(env, page, &origin(&req)).await?;
    json_response(200, &json!({ "workflows": workflows, "next_cursor": next }))
}

/// Workflows in the API's shape, each with its newest run as `last_run` (or null).
async fn with_last_runs(env: &Env, page: &[WorkflowRow], origin: &str) -> ApiResult<Vec<Value>> {
    let ids: Vec<&str> = page.iter().map(|r| r.id.as_str()).collect();
    let db = store::db(env)?;
    // Runs of earlier versions (D1), then each workflow's newest run in its shard objects
    // (a workflow never deployed has no version, so no shard to ask).
    let last_runs = store::last_runs::for_workflows(&db, &ids).await?;
    let shards = store::workflows::most_shards_of(&db, &ids).await?;
    let newest = futures_util::future::join_all(shards.iter().map(|(id, n)| async move {
        let runs = crate::objects::runs::client::summaries(env, id, *n, None, None, None, 1).await;
        (id.as_str(), runs.ok().and_then(|r| r.into_iter().next()))
    }))
    .await;
    Ok(page
        .iter()
        .map(|r| {
            let mut v = resource(r, origin);
            let legacy = last_runs
                .iter()
                .find(|l| l.workflow_id == r.id)
                .map(|l| l.to_json());
            let current = newest
                .iter()
                .find(|(id, _)| *id == r.id)
                .and_then(|(_, run)| run.as_ref())
                .map(|run| {
                    json!({
                        "id": run["id"],
                        "status": run["status"],
                        "created_at": run["created_at"],
                        "finished_at": run["finished_at"],
                    })
                });
            // Run ids sort by age, across both forms.
            v["last_run"] = match (current, legacy) {
                (Some(c), Some(l)) => {
                    if c["id"].as_str() >= l["id"].as_str() {
                        c
                    } else {
                        l
                    }
                }
                (c, l) => c.or(l).unwrap_or(Value::Null),
            };
            v
        })
        .collect())
}

/// `GET /api/workflows?key=K`: the one workflow with that key (or none), as a page.
async fn by_key(req: &Request, env: &Env, key: &str) -> ApiResult {
    if !is_workflow_key(key) {
        return Err(ApiError::field("query.key", key_rule(key)));
    }
    let row = store::workflows::get_by_key(&store::db(env)?, key).await?;
    let rows: Vec<WorkflowRow> = row.into_iter().collect();
    let workflows = with_last_runs(env, &rows, &origin(req)).await?;
    json_response(200, &json!({ "workflows": workflows, "next_cursor": null }))
}

/// 409 when another workflow (not `this`) already has `key`.
async fn key_is_free(
    db: &worker::D1Database,
    key: Option<&str>,
    this: Option<&str>,
) -> ApiResult<()> {
    let Some(key) = key else { return Ok(()) };
    match store::workflows::get_by_key(db, key).await? {
        Some(other) if Some(other.id.as_str()) != this => Err(key_taken(key, Some(&other.id))),
        _ => Ok(()),
    }
}

fn key_taken(key: &str, other: Option<&str>) -> ApiError {
    let other = other.map(|id| format!(" ({id})")).unwrap_or_default();
    ApiError::new(
        409,
        "Conflict",
        format!("another workflow{other} already has key `{key}`"),
    )
    .with_errors(tripline_core::kernel::problem::Errors(vec![
        tripline_core::kernel::problem::FieldError::new(
            "key",
            "is already used by another workflow",
        ),
    ]))
}

/// A write that lost a race for a key: 409 naming the workflow that won it, instead of a
/// storage error.
async fn key_conflict(db: &worker::D1Database, e: worker::Error, key: Option<&str>) -> ApiError {
    match key {
        Some(key) if e.to_string().contains("UNIQUE") => {
            match store::workflows::get_by_key(db, key).await {
                Ok(Some(other)) => key_taken(key, Some(&other.id)),
                _ => key_taken(key, None),
            }
        }
        _ => e.into(),
    }
}

pub async fn get(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = load(env, id).await?;
    let mut v = resource_of_one(env, &row, &origin(&req));
    v["deployed_definition"] = deployed_definition(env, &row).await?;
    // The live state of what runs: the deployed version's trigger, else the draft's.
    match row.shown_kind() {
        TriggerKind::Endpoint => {
            v["endpoint"] = super::endpoint::test_requests::stats(env, id).await?
        }
        TriggerKind::Schedule => super::schedule::add_status(env, &row, &mut v).await?,
        TriggerKind::Poll => {
            let mut poll = super::poll::status_json(env, id).await?;
            // An undeployed poll keeps its cursor and its last state, but polls no more.
            if row.status != WorkflowStatus::Deployed {
                poll["next_poll_at"] = Value::Null;
            }
            v["poll"] = poll;
        }
        TriggerKind::OAuth => {}
    }
    tagged(json_response(200, &v)?, &row.draft)
}

/// The definition of the deployed version (to compare the draft with), or null.
async fn deployed_definition(env: &Env, row: &WorkflowRow) -> ApiResult<Value> {
    if row.deployed_version.is_none() {
        return Ok(Value::Null);
    }
    let live = store::workflows::live_version(&store::db(env)?, &row.id).await?;
    Ok(live
        .and_then(|l| l.definition)
        .and_then(|d| json_parse::from_str(&d).ok())
        .unwrap_or(Value::Null))
}

pub async fn replace(mut req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let current = load(env, id).await?;
    // With `If-Match`, saved only over the draft it names, and only while it is still that one.
    let condition = if_match(&req, &current)?;
    let body = read_json(&mut req).await?;
    let def = validated(&body)?;
    let db = store::db(env)?;
    key_is_free(&db, def.key.as_deref(), Some(id.as_str())).await?;
    let now = iso_millis(now_ms());
    let text = body.to_string();
    let draft = store::workflows::Draft {
        key: def.key.as_deref(),
        name: &def.name,
        trigger_type: def.trigger.kind(),
        text: &text,
    };
    let only_over = match condition {
        Some(text) => store::workflows::Over::Draft(text),
        None => store::workflows::Over::Any,
    };
    let written = match store::workflows::update_draft_if(&db, id, &draft, &now, only_over).await {
        Ok(written) => written,
        Err(e) => return Err(key_conflict(&db, e, def.key.as_deref()).await),
    };
    if !written {
        load(env, id).await?;
        return Err(match condition {
            Some(_) => draft_changed_since(id.as_str()),
            None => ApiError::not_found(format!("no workflow with id {id}")),
        });
    }
    let row = load(env, id).await?;
    // The test URL follows the draft as the workflow's object holds it.
    test_shelf::keep_draft(env, id, &row)
        .await
        .map_err(|e| ApiError::object_unavailable_after_save(e, &text))?;
    // The tag of the draft this request stored (the row read back may hold a later save's).
    tagged(
        json_response(200, &resource_of_one(env, &row, &origin(&req)))?,
        &text,
    )
}

/// Deletes the workflow, its runs, connections and state; with `If-Match`, only while its
/// draft is the one named (checked when the delete starts).
pub async fn delete(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = load(env, id).await?;
    if_match(&req, &row)?;
    let db = store::db(env)?;
    if row.status == WorkflowStatus::Deployed {
        let now = now_ms();
        store::workflows::undeploy(&db, id, now, &iso_millis(now)).await?;
        if tell_object(env, None, id, Action::Undeploy).await? {
            settle(env, id, now).await;
        }
    }
    // The timer object is emptied before anything is deleted: its alarm reads only its own
    // storage, so once the row and any undeploy call waiting in the outbox are gone, nothing
    // else would stop it. When it cannot be told, the workflow stays (undeployed) for a retry.
    if let Err(e) = crate::objects::runs::client::stop_timer(env, id).await {
        worker::console_error!("delete {id}: {e}");
        return Err(ApiError::new(
            503,
            "Not deleted",
            "the workflow's object could not be reached to stop its timer: the workflow is \
             undeployed, nothing was deleted; retry the delete",
        ));
    }
    // The poll's cursor (which outlives an undeploy on purpose) went with the timer object.
    // Then every shard any version used is emptied, while the row still names them: when one
    // cannot be, the workflow stays for a retry rather than leave runs no listing reaches.
    let shards = store::workflows::most_shards(&db, id).await?;
    if let Err(e) = crate::objects::runs::client::forget(env, id, shards).await {
        worker::console_error!("delete {id}: {e}");
        return Err(ApiError::new(
            503,
            "Not deleted",
            "one of the workflow's shard objects could not be reached to delete its runs: the \
             workflow is undeployed and kept, its timer, poll cursor and test requests are \
             already cleared and its runs may be partly deleted; retry the delete",
        ));
    }
    store::connections::delete_for_workflow(&db, id).await?;
    let deleted_at = now_ms();
    store::workflows::delete(&db, id, deleted_at, &iso_millis(deleted_at)).await?;
    // A run accepted meanwhile (an isolate's cached version, a run moved from D1) went into an
    // emptied shard: those are emptied once more, as far as they answer.
    if let Err(e) = crate::objects::runs::client::forget(env, id, shards).await {
        worker::console_error!("delete {id}, after its row: {e}");
    }
    // This isolate's trigger URL stops at once (others within their cache's 2 s).
    super::endpoint::forget(id);
    // The test shelf, its draft copy and the endpoint counters live in the object; after the
    // row is gone, so that a capture in between cannot bring the draft back. This call also
    // empties the object once more (a deploy that read the row before it went may have armed
    // it). It waits in the arm outbox from the delete's own transaction, settled once the
    // object answered: should it fail, or the request end before it answered, the workflow
    // is deleted all the same and the Cron pass makes the call (the object, finding no such
    // workflow, empties itself).
    match test_shelf::forget(env, id).await {
        Ok(()) => settle(env, id, deleted_at).await,
        Err(e) => {
            worker::console_error!("delete {id}, its object's last call: {e}");
            let now = now_ms();
            // The workflow is deleted either way: a failure here is logged, not answered.
            let outbox = store::arm_outbox::record(
                &db,
                id,
                "undeploy",
                &e.to_string(),
                now,
                &iso_millis(now),
            )
            .await;
            if let Err(e) = outbox {
                worker::console_error!("delete {id}: recording the object's last call: {e}");
            }
        }
    }
    Ok(Response::empty()?.with_status(204))
}

pub async fn deploy(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = load(env, id).await?;
    // With `If-Match`, only the draft it names is deployed (the freeze below takes `row.draft`
    // only while it is still the stored draft).
    let conditional = if_match(&req, &row)?.is_some();
    // The draft was validated when saved; validate again in case the rules grew since.
    let draft: Value = json_parse::from_str(&row.draft).unwrap_or(Value::Null);
    let def = validated(&draft)?;
    check_signing_secret(env, &def)?;
    if crate::platform::dev_fault::on(env, &req, "deploy-late") {
        worker::Delay::from(std::time::Duration::from_secs(2)).await;
    }
    let db = store::db(env)?;
    let now = now_ms();
    let deployed = store::workflows::deploy(
        &db,
        id,
        &row.draft,
        def.trigger.kind(),
        now,
        &iso_millis(now),
    )
    .await?;
    if deployed.is_none() {
        load(env, id).await?;
        if conditional {
            return Err(draft_changed_since(id.as_str()));
        }
        return Err(ApiError::new(
            409,
            "Draft changed",
            format!(
                "the draft of workflow {id} was saved again while this deploy checked it; \
                 nothing was deployed: deploy again to deploy the draft as it is now"
            ),
        ));
    }
    told(req, env, id, Action::Deploy, now).await
}

pub async fn undeploy(req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    load(env, id).await?;
    let db = store::db(env)?;
    let now = now_ms();
    store::workflows::undeploy(&db, id, now, &iso_millis(now)).await?;
    told(req, env, id, Action::Undeploy, now).await
}

/// After the catalog changed at `now` (with the object's call in the outbox, see
/// `arm_outbox::pending`): tells the object, settles the outbox entry once it answered, and
/// answers with the workflow. This isolate's cached trigger goes before the call and again after
/// it (a webhook served meanwhile may have cached the old one).
async fn told(req: Request, env: &Env, id: &WorkflowId, action: Action, now: i64) -> ApiResult {
    super::endpoint::forget(id);
    if crate::platform::dev_fault::on(env, &req, "catalog-only") {
        return Err(ApiError::internal("injected fault catalog-only"));
    }
    if tell_object(env, Some(&req), id, action).await? {
        settle(env, id, now).await;
    }
    super::endpoint::forget(id);
    let row = load(env, id).await?;
    tagged(
        json_response(200, &resource_of_one(env, &row, &origin(&req)))?,
        &row.draft,
    )
}

/// Deletes the outbox entry of the object's call the catalog change at `now` wrote, now that the
/// object answered. Should that fail, the Cron pass makes the call once more: it changes nothing.
async fn settle(env: &Env, id: &WorkflowId, now: i64) {
    let settled = match store::db(env) {
        Ok(db) => store::arm_outbox::settled(&db, id, now).await,
        Err(e) => Err(e),
    };
    if let Err(e) = settled {
        worker::console_error!("{id}: settling the object's call in the outbox: {e}");
    }
}

/// Tells the workflow's object about a deploy or undeploy, already in the catalog: `true` when
/// it answered. When the call fails the change stands: the workflow goes to the arm outbox,
/// whose retry by the Cron pass arms or disarms the object to match the catalog. Only a failure
/// to record that is an error. `req`: the API request (for the local faults `arm` and
/// `undeploy-late`, see `platform::dev_fault`).
async fn tell_object(
    env: &Env,
    req: Option<&Request>,
    id: &WorkflowId,
    action: Action,
) -> ApiResult<bool> {
    let fault = req.is_some_and(|r| {
        crate::platform::dev_fault::on(env, r, "arm")
            || crate::platform::dev_fault::on(env, r, "undeploy-late")
    });
    let Err(e) = objects::notify_arm(env, id, action, fault).await else {
        return Ok(true);
    };
    let name = match action {
        Action::Undeploy => "undeploy",
        _ => "deploy",
    };
    worker::console_error!("{name} {id}: the workflow object failed, left to the outbox: {e}");
    let now = now_ms();
    store::arm_outbox::record(
        &store::db(env)?,
        id,
        name,
        &e.to_string(),
        now,
        &iso_millis(now),
    )
    .await?;
    Ok(false)
}
