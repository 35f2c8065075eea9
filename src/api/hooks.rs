//! The API Endpoint trigger: `<METHOD> /hooks/{workflow_id}`. The hot path: at most one D1
//! read (the deployed version, cached per isolate for up to 2 s) and one D1 write (the run).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{json, Map, Value};
use worker::{Context, Env, Request};

use super::http::{json_response, origin, read_body};
use super::problem::{ApiError, ApiResult};
use crate::domain::body::{parse_body, BodyKind};
use crate::domain::definition::Definition;
use crate::domain::endpoint::EndpointTrigger;
use crate::domain::ids::is_workflow_id;
use crate::domain::problem::Errors;
use crate::engine::{self, Claim};
use crate::platform::now_ms;
use crate::store;

/// How long an isolate may reuse a deployed version it read.
const CACHE_MS: i64 = 2_000;

/// A deployed version, parsed once.
pub struct Live {
    pub version: i64,
    pub definition: Definition,
}

thread_local! {
    static CACHE: RefCell<HashMap<String, (i64, Rc<Live>)>> = RefCell::new(HashMap::new());
}

/// Forgets a workflow's cached version (on deploy/undeploy in this isolate).
pub fn forget(workflow_id: &str) {
    CACHE.with(|c| c.borrow_mut().remove(workflow_id));
}

/// The deployed version of an endpoint workflow: 404 when unknown, 404 naming the test URL
/// when not deployed. Only positive answers are cached, so a fresh deploy is never a 404.
pub async fn live(env: &Env, id: &str, origin: &str) -> ApiResult<Rc<Live>> {
    let now = now_ms();
    if let Some(hit) = CACHE.with(|c| {
        c.borrow()
            .get(id)
            .filter(|(at, _)| now - at <= CACHE_MS)
            .map(|(_, l)| l.clone())
    }) {
        return Ok(hit);
    }
    let unknown = || ApiError::not_found(format!("no workflow with id {id}"));
    if !is_workflow_id(id) {
        return Err(unknown());
    }
    let row = store::workflows::live_version(&store::db(env)?, id)
        .await?
        .ok_or_else(unknown)?;
    let (Some(version), Some(def)) = (row.version, row.definition) else {
        return Err(ApiError::not_found(format!(
            "workflow {id} is not deployed; deploy it, or send requests to its test URL {origin}/hooks/{id}/test"
        )));
    };
    let definition = serde_json::from_str::<Value>(&def)
        .ok()
        .and_then(|v| Definition::parse(&v).ok())
        .ok_or_else(|| ApiError::internal("the deployed definition no longer validates"))?;
    let live = Rc::new(Live {
        version,
        definition,
    });
    CACHE.with(|c| c.borrow_mut().insert(id.to_string(), (now, live.clone())));
    Ok(live)
}

/// The parts of a request a run records: method, path, query, headers, parsed body.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: Map<String, Value>,
    pub headers: Map<String, Value>,
    pub raw_body: Vec<u8>,
}

impl Incoming {
    /// Reads a request (body capped at `max_body` bytes → 413).
    pub async fn read(req: &mut Request, max_body: usize) -> ApiResult<Incoming> {
        let mut query = Map::new();
        if let Ok(url) = req.url() {
            for (k, v) in url.query_pairs() {
                let v = Value::String(v.into_owned());
                match query.get_mut(k.as_ref()) {
                    None => {
                        query.insert(k.into_owned(), v);
                    }
                    Some(Value::Array(a)) => a.push(v),
                    Some(first) => *first = Value::Array(vec![first.clone(), v]),
                }
            }
        }
        let mut headers = Map::new();
        for (k, v) in req.headers().entries() {
            headers.insert(k.to_ascii_lowercase(), Value::String(v));
        }
        let raw_body = read_body(req, max_body).await?;
        Ok(Incoming {
            method: req.method().to_string(),
            path: req.path(),
            query,
            headers,
            raw_body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

/// Parses the body by its content type: 415 for one we do not read, 400 when malformed.
pub fn parsed_body(incoming: &Incoming) -> ApiResult<(BodyKind, Value)> {
    let parsed = parse_body(incoming.header("content-type"), &incoming.raw_body).map_err(|e| {
        if e.is_unsupported() {
            ApiError::new(415, "Unsupported media type", e.to_string())
        } else {
            ApiError::field(e.location(), e.to_string())
        }
    })?;
    Ok((parsed.kind, parsed.value))
}

/// `POST /hooks/{id}` (or the workflow's methods): validate, record the run, answer 202.
pub async fn trigger(mut req: Request, env: &Env, ctx: &Context, id: &str) -> ApiResult {
    let origin = origin(&req);
    let live = live(env, id, &origin).await?;
    let Some(endpoint) = live.definition.endpoint() else {
        return Err(ApiError::not_found(format!(
            "workflow {id} is not started by HTTP requests (its trigger is `{}`)",
            live.definition.trigger.kind()
        )));
    };
    let method = req.method().to_string();
    if !endpoint.accepts(&method) {
        let allow: Vec<&str> = endpoint.methods.iter().map(String::as_str).collect();
        return Err(ApiError::method_not_allowed(&allow));
    }
    let incoming = Incoming::read(&mut req, endpoint.max_body_bytes as usize).await?;
    let (kind, body) = parsed_body(&incoming)?;
    validate(endpoint, &incoming, &body, kind)?;

    let idempotency_key = incoming.header("idempotency-key").map(str::to_string);
    let input = json!({
        "request": {
            "method": incoming.method,
            "path": incoming.path,
            "query": incoming.query,
            "headers": incoming.headers,
            "body": body,
        }
    });
    let dedup_key = match &idempotency_key {
        Some(k) => format!("idempotency:{k}"),
        None => format!(
            "request:{}",
            crate::domain::ids::token(&crate::platform::random_bytes::<16>())
        ),
    };
    let started = engine::start_run(env, id, live.version, "endpoint", &dedup_key, &input).await?;
    if started.created {
        let env2 = env.clone();
        let run_id = started.run_id.clone();
        ctx.wait_until(async move {
            if let Err(e) = engine::execute(&env2, &run_id, Claim::Fresh, None).await {
                worker::console_error!("run {run_id}: {e}");
            }
        });
    }
    accepted(&started.run_id, !started.created)
}

/// 202 with the run id and where to read it.
pub fn accepted(run_id: &str, replayed: bool) -> ApiResult {
    let mut resp = json_response(202, &json!({ "run_id": run_id }))?;
    resp.headers_mut()
        .set("location", &format!("/api/runs/{run_id}"))?;
    if replayed {
        resp.headers_mut().set("idempotent-replayed", "true")?;
    }
    Ok(resp)
}

/// Checks the request against the deployed schema: 400 listing every violation.
pub fn validate(
    endpoint: &EndpointTrigger,
    incoming: &Incoming,
    body: &Value,
    kind: BodyKind,
) -> ApiResult<()> {
    let errors: Errors = endpoint.request.validate(
        &incoming.query,
        &incoming.headers,
        body,
        matches!(kind, BodyKind::Form | BodyKind::Multipart),
    );
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    Err(ApiError::validation(
        format!(
            "the request does not match the workflow's schema ({n} problem{})",
            if n == 1 { "" } else { "s" }
        ),
        errors,
    ))
}
