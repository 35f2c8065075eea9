//! The endpoint trigger's test URL (`<ANY> /hooks/{id}/test`), the test shelf it fills
//! (`GET /api/workflows/{id}/test-requests`) and schema detection from it
//! (`POST /api/workflows/{id}/detect-schema`).

use serde_json::{json, Map, Value};
use tripline_core::definition::TriggerKind;
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::json_parse;
use worker::{Env, Headers, Request, Response};

use super::{parsed_body, Incoming};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::reply::json_response;
use crate::api::request::{origin, read_optional_json};
use crate::objects::endpoint_stats;
use crate::objects::test_shelf;
use crate::platform::{now_ms, random_bytes};
use crate::store;
use tripline_core::definition::Definition;
use tripline_core::endpoint::detect;
use tripline_core::endpoint::runtime::{
    raw_body_record, redact_for_shelf, SHELF_MAX_BODY_JSON, SHELF_MAX_BYTES, SHELF_MAX_RAW_BYTES,
};
use tripline_core::endpoint::signature;
use tripline_core::endpoint::DEFAULT_MAX_BODY_BYTES;
use tripline_core::kernel::ids::new_legacy_run_id as new_run_id;
use tripline_core::kernel::problem::Errors;
use tripline_core::kernel::reader::ObjectReader;
use tripline_core::kernel::time::iso_millis;

/// Raw bytes kept of a test request that fails the draft's signature check.
const UNSIGNED_RAW_PREFIX: usize = 1024;
/// Bytes (as JSON) kept of its headers, and of its query.
const UNSIGNED_MAP_BYTES: usize = 8 * 1024;
/// Bytes kept of its `Content-Type` (a real one is a few dozen).
const UNSIGNED_CONTENT_TYPE_BYTES: usize = 256;

/// `map` with its entries kept in order while they fit in `max` bytes of JSON, and how many
/// were left out.
fn fit_map(map: Map<String, Value>, max: usize) -> (Map<String, Value>, usize) {
    let (mut kept, mut used, mut left_out) = (Map::new(), 2, 0);
    for (name, value) in map {
        let len = Value::String(name.clone()).to_string().len() + value.to_string().len() + 2;
        if used + len > max {
            left_out += 1;
            continue;
        }
        used += len;
        kept.insert(name, value);
    }
    (kept, left_out)
}

/// `<ANY> /hooks/{id}/test`: records the request on the workflow's test shelf (drafts and
/// deployed workflows alike) and runs nothing. A body that does not parse is still recorded,
/// with the reason.
pub async fn capture(mut req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let unknown = || ApiError::not_found(format!("no workflow with id {id}"));
    // The draft as the workflow's object holds it: a capture makes no D1 statement.
    let row = test_shelf::draft(env, id)
        .await
        .map_err(ApiError::object_unavailable)?
        .ok_or_else(unknown)?;
    let trigger_type = row["trigger_type"].as_str().unwrap_or_default();
    if trigger_type != TriggerKind::Endpoint.as_str() {
        return Err(ApiError::not_found(format!(
            "workflow {id}'s draft is not started by HTTP requests (its trigger is `{}`), so \
             it has no test URL (a test URL tries out the draft)",
            trigger_type
        )));
    }
    // The draft's settings: the test URL is where a draft is tried out.
    let draft = json_parse::from_str::<Value>(row["draft"].as_str().unwrap_or_default())
        .ok()
        .and_then(|v| Definition::parse_stored(&v).ok());
    let endpoint = draft.as_ref().and_then(|d| d.endpoint());
    let max_body = endpoint
        .map(|e| e.max_body_bytes)
        .unwrap_or(DEFAULT_MAX_BODY_BYTES) as usize;
    let incoming = Incoming::read(&mut req, max_body).await?;

    // Whether the request would pass the draft's `verify`, to debug a sender's signing.
    let signature = endpoint.and_then(|e| e.verify.as_ref()).map(|config| {
        let result = match crate::platform::signing_secret(env, &config.secret_env) {
            None => Err((
                "trigger.verify.secret_env".to_string(),
                format!("the Worker secret `{}` is not set", config.secret_env),
            )),
            Some(secret) => signature::verify(
                config,
                &secret,
                &incoming.headers,
                &incoming.raw_body,
                now_ms().div_euclid(1000),
            )
            .map_err(|e| (e.location(), e.to_string())),
        };
        match result {
            Ok(v) => {
                json!({"scheme": config.scheme.as_str(), "valid": true, "message_id": v.message_id})
            }
            Err((location, message)) => json!({
                "scheme": config.scheme.as_str(), "valid": false,
                "error": {"location": location, "message": message}
            }),
        }
    });

    // A request that fails the draft's `verify`, or its gates (`equals` on a query parameter
    // or header), is not parsed, and only a short raw prefix is kept: a sender without the
    // secret cannot make the Worker parse or store its payload.
    let gate = endpoint
        .and_then(|e| {
            e.request
                .gate_errors(&incoming.query, &incoming.headers)
                .0
                .pop()
        })
        .map(|e| e.location);
    let unsigned = gate.is_some()
        || signature
            .as_ref()
            .is_some_and(|s| s["valid"] == Value::Bool(false));
    let parsed = if unsigned {
        let why = match &gate {
            Some(at) => format!("the request does not meet the gate at {at}"),
            None => "the request's signature does not verify".into(),
        };
        Err(ApiError::field(
            "body",
            format!("not parsed: {why} (only the first {UNSIGNED_RAW_PREFIX} bytes are kept)"),
        ))
    } else {
        parsed_body(&incoming)
    };
    let (body_kind, body, body_error) = match parsed {
        Ok((kind, value)) => {
            let len = value.to_string().len();
            if len > SHELF_MAX_BODY_JSON {
                (
                    Some(kind.as_str()),
                    Value::Null,
                    Some(format!(
                        "the parsed body is {len} bytes as JSON; the test shelf keeps at most {SHELF_MAX_BODY_JSON}",
                    )),
                )
            } else {
                (Some(kind.as_str()), value, None)
            }
        }
        Err(e) => (None, Value::Null, Some(e.detail)),
    };
    let now = now_ms();
    let raw_cap = if unsigned {
        UNSIGNED_RAW_PREFIX
    } else {
        SHELF_MAX_RAW_BYTES
    };
    let (raw_body, encoding, truncated) = raw_body_record(&incoming.raw_body, raw_cap);
    let test_id = format!(
        "tr_{}",
        &new_run_id(now as u64, &random_bytes::<10>()?)[4..]
    );
    let mut query = redact_for_shelf(&incoming.query);
    let mut headers = redact_for_shelf(&incoming.headers);
    if let Some(e) = endpoint {
        e.request.hide_gates(&mut query, &mut headers);
    }
    // Nor its headers and query: as much of them is kept as of its body.
    let (mut query_left_out, mut headers_left_out) = (0, 0);
    if unsigned {
        (query, query_left_out) = fit_map(query, UNSIGNED_MAP_BYTES);
        (headers, headers_left_out) = fit_map(headers, UNSIGNED_MAP_BYTES);
    }
    // Kept whole from a signed sender; from any other, a prefix (its header is left out of
    // `headers` when too large, and this copy must not be the way around that).
    let content_type = incoming.header("content-type").map(|t| match unsigned {
        true => {
            tripline_core::kernel::redact::prefix_at_char_boundary(t, UNSIGNED_CONTENT_TYPE_BYTES)
        }
        false => t,
    });
    // Stored as the API shows it.
    let record = json!({
        "id": test_id,
        "received_at": iso_millis(now),
        "method": incoming.method,
        "path": incoming.path,
        "query": query,
        "headers": headers,
        "content_type": content_type,
        "body_kind": body_kind,
        "body": body,
        "body_error": body_error,
        // The live URL refuses such a query (400 at `query.{name}`).
        "query_error": incoming.query_error.as_ref().map(|name| format!("query.{name} is not valid UTF-8 once percent-decoded")),
        "raw_body": raw_body,
        "raw_body_encoding": encoding,
        "raw_body_bytes": incoming.raw_body.len(),
        "raw_body_truncated": truncated,
        "signature": signature,
        "gate_error": gate,
    });
    let mut record = record;
    for (field, n) in [
        ("query_left_out", query_left_out),
        ("headers_left_out", headers_left_out),
    ] {
        if n > 0 {
            record[field] = n.into();
        }
    }
    let kept = test_shelf::put(env, id, &test_id, &record)
        .await
        .map_err(|e| {
            worker::console_error!("test request {test_id}: {e}");
            ApiError::new(
                503,
                "Workflow object unavailable",
                "the workflow's object did not answer; the request may not have been recorded: \
                 send it again",
            )
            .with_header("retry-after", "1")
        })?;
    if !kept {
        return Err(unknown());
    }
    json_response(
        200,
        &json!({
            "captured": true,
            "id": test_id,
            "test_requests": format!("{}/api/workflows/{id}/test-requests", origin(&req)),
        }),
    )
}

/// `GET /api/workflows/{id}/test-requests`: the shelf, newest first. The records are JSON
/// text from the object and are passed through, not parsed (a full shelf holds up to
/// `SHELF_MAX_BYTES` of it; parsed, that could be many times more).
pub async fn list(env: &Env, id: &WorkflowId) -> ApiResult {
    crate::api::catalog::load(env, id).await?;
    let rows = test_shelf::list(env, id)
        .await
        .map_err(ApiError::object_unavailable)?;
    let body = format!("{{\"test_requests\":{rows}}}");
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// `POST /api/workflows/{id}/detect-schema` with an optional body
/// `{"test_request_id": "tr_…", "apply": false}`: the request schema the captured request
/// (by default the newest) suggests; with `apply`, also written into the draft as
/// `trigger.request` (with `If-Match`, only into the draft of that `ETag`: else `412`).
pub async fn detect(mut req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let row = crate::api::catalog::load(env, id).await?;
    // Only an endpoint trigger has a test URL to capture from and a request schema to write.
    if row.trigger_type != TriggerKind::Endpoint {
        return Err(ApiError::new(
            409,
            "Not an endpoint workflow",
            format!(
                "detect-schema applies to endpoint workflows only; workflow {id} is started by \
                 its `{}` trigger, which has no request schema",
                row.trigger_type.as_str()
            ),
        ));
    }
    // Read as every JSON body of the API is (its type, size, budget, keys written once).
    let options = read_optional_json(&mut req)
        .await?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut errors = Errors::new();
    let mut r = ObjectReader::new(&options, "body", &mut errors);
    let test_request_id = r.opt_str("test_request_id", &mut errors);
    // Left out, the newest capture is used; an empty id names none (the shelf would read it as
    // "the newest").
    if test_request_id
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        errors.push(
            "body.test_request_id",
            "must be a test request id (`tr_…`); leave it out to use the newest capture",
        );
    }
    let apply = r.opt_bool("apply", &mut errors).unwrap_or(false);
    r.finish(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation("the options are invalid", errors));
    }
    // Applied only to the draft the client read, when it names one (`If-Match`).
    if apply {
        crate::api::workflows::if_match(&req, &row)?;
    }
    // An id no capture can have (`tr_` and a few dozen letters and digits) names none: it is
    // not sent to the object, nor quoted back.
    if let Some(t) = test_request_id.as_deref().map(str::trim) {
        let well_formed = t.starts_with("tr_")
            && t.len() <= 64
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            let message = "is not the id of a test request (`tr_…`, as the shelf lists them)";
            let mut errors = Errors::new();
            errors.push("body.test_request_id", message);
            return Err(ApiError::not_found(message).with_errors(errors));
        }
    }

    let mut draft: Value = json_parse::from_str(&row.draft).unwrap_or(Value::Null);
    // Only the record detection reads is fetched and parsed.
    // With `verify` in the draft, only a capture that passed it (one sent before the draft had
    // `verify` was never checked). Read from the draft's JSON, so that a draft the rules no
    // longer accept still counts as signed.
    let signed = !draft["trigger"]["verify"].is_null();
    // The methods the draft accepts, as its trigger reads them: another capture is no sample
    // of it (a draft whose trigger does not read filters none).
    let methods = tripline_core::endpoint::EndpointTrigger::parse(
        &draft["trigger"],
        "trigger",
        &mut Errors::new(),
    )
    .map(|t| t.methods)
    .unwrap_or_default();
    let captured = test_shelf::get(env, id, test_request_id.as_deref(), signed, &methods)
        .await
        .map_err(ApiError::object_unavailable)?;
    let Some(captured) = captured else {
        return Err(match test_request_id {
            Some(t) => {
                let message = format!(
                    "no test request {t} on this workflow's shelf (it keeps the newest 20, \
                     within {} MiB)",
                    SHELF_MAX_BYTES / (1024 * 1024)
                );
                let mut errors = Errors::new();
                errors.push("body.test_request_id", message.clone());
                ApiError::not_found(message).with_errors(errors)
            }
            None => ApiError::new(
                409,
                "Nothing captured yet",
                format!(
                    "{}; send a sample request to {}/hooks/{id}/test, then detect again",
                    match signed {
                        true =>
                            "no request that passed the draft's signature check (`verify`) \
                             has been captured yet (a request is checked only while the draft \
                             is valid)",
                        false =>
                            "no request has been sent to the test URL yet (a request \
                             that fails one of the draft's gates, whose body or query could \
                             not be read, or sent with a method the draft does not accept, \
                             is not used)",
                    },
                    origin(&req)
                ),
            ),
        });
    };
    // A capture named by its id whose body or query could not be read would propose no rules
    // for them: applied, it would drop the draft's.
    for (part, error) in [("body", "body_error"), ("query", "query_error")] {
        if let Some(why) = captured[error].as_str() {
            let message = format!(
                "test request {} has no readable {part} ({why}); detect from a capture whose \
                 {part} could be read",
                captured["id"].as_str().unwrap_or("")
            );
            let mut errors = Errors::new();
            errors.push("body.test_request_id", message.clone());
            return Err(ApiError::new(422, "Capture not readable", message).with_errors(errors));
        }
    }
    let object = |v: &Value| v.as_object().cloned().unwrap_or_default();
    let mut schema = detect::detect(
        &object(&captured["query"]),
        &object(&captured["headers"]),
        &captured["body"],
    )
    .to_json();
    // The draft's `equals` gates stay: applying must not drop a shared-secret check.
    detect::keep_gates(&mut schema, &draft["trigger"]["request"]);

    if !apply {
        return json_response(
            200,
            &json!({"schema": schema, "test_request_id": captured["id"], "applied": false}),
        );
    }
    draft["trigger"]["request"] = schema.clone();
    crate::api::workflows::fits_stored(&draft)?;
    let def = Definition::parse(&draft).map_err(|errors| {
        ApiError::validation(
            "the draft with the detected schema does not validate; fix the draft first",
            errors,
        )
    })?;
    let db = store::db(env)?;
    let now = iso_millis(now_ms());
    let text = draft.to_string();
    let new_draft = store::workflows::Draft {
        key: def.key.as_deref(),
        name: &def.name,
        trigger_type: def.trigger.kind(),
        text: &text,
    };
    if crate::platform::dev_fault::on(env, &req, "detect-late") {
        worker::Delay::from(std::time::Duration::from_secs(2)).await;
    }
    // Written over the draft this read, only: a save made meanwhile is not overwritten.
    let written = store::workflows::update_draft_if(
        &db,
        id,
        &new_draft,
        &now,
        store::workflows::Over::UpdatedAt(&row.updated_at),
    )
    .await?;
    if !written {
        return Err(ApiError::new(
            409,
            "The draft changed",
            "the draft was saved (or the workflow deleted) while the schema was detected; \
             nothing was written: detect again to apply it to the current draft",
        ));
    }
    let row = crate::api::catalog::load(env, id).await?;
    test_shelf::keep_draft(env, id, &row)
        .await
        .map_err(|e| ApiError::object_unavailable_after_save(e, &text))?;
    let mut resp = json_response(
        200,
        &json!({
            "schema": schema,
            "test_request_id": captured["id"],
            "applied": true,
            "workflow": crate::api::catalog::resource(&row, &origin(&req)),
        }),
    )?;
    // The new draft's revision, as a workflow answer carries it (`If-Match` on the next save).
    resp.headers_mut().set(
        "etag",
        &tripline_core::kernel::revision::draft_tag(&row.draft),
    )?;
    Ok(resp)
}

/// The endpoint counters shown on `GET /api/workflows/{id}`.
pub async fn stats(env: &Env, id: &str) -> ApiResult<Value> {
    endpoint_stats::stats(env, id)
        .await
        .map_err(ApiError::object_unavailable)
}
