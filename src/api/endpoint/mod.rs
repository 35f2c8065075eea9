//! The API Endpoint trigger: `<METHOD> /hooks/{workflow_id}`. The hot path: the deployed
//! version (cached per isolate for up to 2 s, read from the workflow's object, no D1) and one
//! call to the run's shard object, which records the run and executes it.

pub mod test_requests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::json_parse;
use tripline_core::kernel::percent;

use serde::Serialize;
use serde_json::{json, Map, Value};
use worker::{Env, Headers, Request, Response};

use crate::api::problem::{ApiError, ApiResult};
use crate::api::reply::json_response;
use crate::api::request::{origin, read_body};
use crate::objects::runs::{self, handler::CreateRun};
use crate::platform::{now_ms, random_bytes, signing_secret};
use crate::store::runs::PriorRun;
use tripline_core::definition::Definition;
use tripline_core::definition::TriggerKind;
use tripline_core::endpoint::body::{parse_body, refuse_encoded, BodyKind};
use tripline_core::endpoint::runtime;
use tripline_core::endpoint::signature::{self, SignatureError, Verified, VerifyConfig};
use tripline_core::endpoint::EndpointTrigger;
use tripline_core::kernel::ids::token;
use tripline_core::kernel::problem::Errors;
use tripline_core::kernel::time::iso_millis;
use tripline_core::steps::Step;

/// How long an isolate may reuse a deployed version it read.
const CACHE_MS: i64 = 2_000;
/// How long past `CACHE_MS` other requests keep using a version while one request reads it
/// again; after that each request waits for a read of its own.
const STALE_MS: i64 = 1_000;
/// How long after its read a version is still used while its object cannot be read (a
/// `503`: overloaded, or restarting), so that such a moment does not fail every request.
const STALE_ON_ERROR_MS: i64 = 60_000;
/// After a read that failed so, how long the version is used before it is read again.
const ERROR_RETRY_MS: i64 = 1_000;

/// A deployed version, parsed once.
pub struct Live {
    pub version: i64,
    /// Parsed once per isolate and version (`engine::remember`).
    pub definition: Rc<Definition>,
    /// Shard counts of earlier versions whose runs may still exist (a redeploy changed
    /// `shards` within the retention window): a repeat asks its shard under them first.
    pub earlier_shards: Vec<u8>,
    /// The `shards` of the version before, and since when this one is live (epoch ms): a
    /// changed count settles for `runs::SHARDS_SETTLE_MS` (`runs::placement`).
    pub previous_shards: Option<u8>,
    pub live_since_ms: i64,
    /// When the workflow's object answered with it (epoch ms).
    pub read_ms: i64,
}

/// Whether `live` may place a keyed run at `now`: read at most `SHARDS_SETTLE_MS` ago. One used
/// longer while its object did not answer may predate a change of `shards` whose settling
/// window has closed, and place the key where a repeat of it no longer looks.
fn places_keyed_runs(live: &Live, now: i64) -> bool {
    now - live.read_ms <= runs::SHARDS_SETTLE_MS
}

/// A cached version: when it was read, whether a request is reading it again, the version.
struct Cached {
    read_at: i64,
    refreshing: bool,
    live: Rc<Live>,
    /// Until when it may be used while reads of it fail (`STALE_ON_ERROR_MS` after its read).
    usable_until: i64,
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// Forgets a workflow's cached version (on deploy/undeploy in this isolate).
pub fn forget(workflow_id: &str) {
    CACHE.with(|c| c.borrow_mut().remove(workflow_id));
}

/// The version to use for `id` at `now`; `None`: a read is due, and this request makes it.
/// Only one request at a time reads an expired entry again; the others use it meanwhile, for
/// at most `STALE_MS`, so a busy endpoint does not send every request of that moment to the
/// object at once.
fn cached(id: &str, now: i64) -> Option<Rc<Live>> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let entry = c.get_mut(id)?;
        let age = now - entry.read_at;
        if age <= CACHE_MS || (entry.refreshing && age <= CACHE_MS + STALE_MS) {
            return Some(entry.live.clone());
        }
        entry.refreshing = true;
        None
    })
}

/// After a read of `id` failed with the object unavailable at `now`: the cached version, if it
/// was read at most `STALE_ON_ERROR_MS` ago, used for `ERROR_RETRY_MS` before the next read;
/// else nothing (and it is forgotten).
fn used_on_error(id: &str, now: i64) -> Option<Rc<Live>> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let entry = c.get_mut(id)?;
        if now > entry.usable_until {
            c.remove(id);
            return None;
        }
        entry.read_at = now - CACHE_MS + ERROR_RETRY_MS;
        entry.refreshing = false;
        Some(entry.live.clone())
    })
}

/// The deployed version of an endpoint workflow: 404 when unknown, 404 naming the test URL
/// when not deployed. Only positive answers are cached, so a fresh deploy is never a 404.
/// `origin` (for the test URL in that message) is only computed on that path.
pub async fn live(env: &Env, id: &str, origin: impl FnOnce() -> String) -> ApiResult<Rc<Live>> {
    let now = now_ms();
    if let Some(hit) = cached(id, now) {
        return Ok(hit);
    }
    let read = read_live(env, id, origin).await;
    if let Err(e) = &read {
        if e.status == 503 {
            if let Some(stale) = used_on_error(id, now_ms()) {
                return Ok(stale);
            }
        }
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match &read {
            Ok(live) => {
                c.insert(
                    id.to_string(),
                    Cached {
                        read_at: now,
                        refreshing: false,
                        live: live.clone(),
                        usable_until: now + STALE_ON_ERROR_MS,
                    },
                );
            }
            // Not deployed any more, or the read failed: the next request reads again.
            Err(_) => {
                c.remove(id);
            }
        }
    });
    read
}

/// Reads the deployed version from the workflow's object, never D1; a version already parsed in
/// this isolate is not parsed again (versions never change).
async fn read_live(env: &Env, id: &str, origin: impl FnOnce() -> String) -> ApiResult<Rc<Live>> {
    let unknown = || ApiError::not_found(format!("no workflow with id {id}"));
    // The workflow's object keeps the live version (no D1 on the hot path).
    let (version, def, earlier, earlier_until, previous, since) = match crate::objects::live(
        env, id,
    )
    .await
    .map_err(ApiError::object_unavailable)?
    {
        Some(live) if live["deleted"] == true => return Err(unknown()),
        Some(live) => (
            live["version"].as_i64(),
            live["definition"].as_str().map(str::to_string),
            live["earlier_shards"].as_str().map(str::to_string),
            live["earlier_until_ms"].as_i64().unwrap_or(i64::MAX),
            live["previous_shards"].as_f64(),
            live["live_since_ms"].as_i64().unwrap_or(0),
        ),
        // An object that never learnt a live version was never armed: the workflow is not
        // deployed or does not exist. No D1 read (anyone can send requests for random ids).
        None => {
            let origin = origin();
            return Err(ApiError::not_found(format!(
                "no deployed workflow with id {id}; a workflow that is not deployed yet takes requests at its test URL {origin}/hooks/{id}/test"
            )));
        }
    };
    let (Some(version), Some(def)) = (version, def) else {
        let origin = origin();
        return Err(ApiError::not_found(format!(
            "workflow {id} is not deployed; deploy it, or send requests to its test URL {origin}/hooks/{id}/test"
        )));
    };
    let definition = crate::engine::cached(id, version)
        .or_else(|| crate::engine::remember(id, version, &def))
        .ok_or_else(|| ApiError::internal("the deployed definition no longer validates"))?;
    let shards = runs::shards_of(&definition);
    let earlier_shards =
        runs::earlier_in_force(earlier.as_deref(), shards, earlier_until, now_ms());
    Ok(Rc::new(Live {
        version,
        definition,
        earlier_shards,
        previous_shards: previous.map(|n| n.clamp(1.0, 64.0) as u8),
        live_since_ms: since,
        read_ms: now_ms(),
    }))
}

/// The parts of a request a run records: method, path, query, headers, parsed body.
pub struct Incoming {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub raw_query: String,
    pub query: Map<String, Value>,
    /// The first query parameter whose name or value is not UTF-8 once percent-decoded (it
    /// is in `query` with U+FFFD in place of those bytes).
    pub query_error: Option<String>,
    pub headers: Map<String, Value>,
    pub raw_body: Vec<u8>,
}

impl Incoming {
    /// Reads a request (body capped at `max_body` bytes → 413).
    pub async fn read(req: &mut Request, max_body: usize) -> ApiResult<Incoming> {
        let mut query = Map::new();
        // The platform hands over the URL already parsed and serialized: its query string is
        // cut out rather than parsed again.
        let raw_query = raw_query_of(&req.inner().url()).to_string();
        let path = req.path();
        let (pairs, query_error) = match percent::decode_query(&raw_query) {
            Ok(pairs) => (pairs, None),
            Err(name) => {
                let lenient = url::form_urlencoded::parse(raw_query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()));
                (lenient.collect(), Some(name))
            }
        };
        for (k, v) in pairs {
            let v = Value::String(v);
            match query.get_mut(&k) {
                None => {
                    query.insert(k, v);
                }
                Some(Value::Array(a)) => a.push(v),
                Some(first) => *first = Value::Array(vec![first.clone(), v]),
            }
        }
        let mut headers = Map::new();
        for (k, v) in req.headers().entries() {
            headers.insert(k.to_ascii_lowercase(), Value::String(v));
        }
        let raw_body = read_body(req, max_body).await?;
        Ok(Incoming {
            // As sent: `worker::Method` folds methods it does not know into GET.
            method: req.inner().method().to_ascii_uppercase(),
            path,
            raw_query,
            query,
            query_error,
            headers,
            raw_body,
        })
    }

    /// The path with its query string, as the request had it.
    pub fn path_and_query(&self) -> String {
        if self.raw_query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.raw_query)
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

/// The query string of a serialized URL, without `?` (empty when there is none).
fn raw_query_of(url: &str) -> &str {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    url.split_once('?').map_or("", |(_, q)| q)
}

/// Parses the body by its content type: 415 for one we do not read, 400 when malformed.
pub fn parsed_body(incoming: &Incoming) -> ApiResult<(BodyKind, Value)> {
    let parsed = refuse_encoded(incoming.header("content-encoding"), &incoming.raw_body)
        .and_then(|()| parse_body(incoming.header("content-type"), &incoming.raw_body))
        .map_err(|e| {
            if e.is_unsupported() || e.status() == 413 {
                let mut errors = Errors::new();
                errors.push(e.location(), e.to_string());
                let title = if e.is_unsupported() {
                    "Unsupported media type"
                } else {
                    "Payload too large"
                };
                ApiError::new(e.status(), title, e.to_string()).with_errors(errors)
            } else {
                ApiError::field(e.location(), e.to_string())
            }
        })?;
    Ok((parsed.kind, parsed.value))
}

/// How long a request's body may take to arrive before its run is placed by the version live
/// when it has arrived (see [`trigger`]): well within `runs::SHARDS_SETTLE_MS` less the 3 s an
/// isolate may keep a version.
const PLACE_AGAIN_AFTER_MS: i64 = 1_000;

/// `POST /hooks/{id}` (or the workflow's methods): check the method, the size, the signature
/// and the schema; record the run (once per dedup key); answer 202, or the Response step's reply.
pub async fn trigger(mut req: Request, env: &Env, id: &WorkflowId) -> ApiResult {
    let live = live(env, id, || origin(&req)).await?;
    let Some(endpoint) = live.definition.endpoint() else {
        return Err(ApiError::not_found(format!(
            "workflow {id} is not started by HTTP requests (its trigger is `{}`)",
            live.definition.trigger.kind()
        )));
    };
    // As sent (see `Incoming::read`): a method the workflow does not list is refused, however
    // the platform crate would name it.
    let method = req.inner().method().to_ascii_uppercase();
    if !endpoint.accepts(&method) {
        let allow: Vec<&str> = endpoint.methods.iter().map(String::as_str).collect();
        return Err(ApiError::method_not_allowed(&allow));
    }
    let read_from = now_ms();
    let incoming = Incoming::read(&mut req, endpoint.max_body_bytes as usize).await?;
    // The signature comes before the schema: an unsigned sender learns nothing about it.
    let verified = match &endpoint.verify {
        None => None,
        Some(config) => Some(check_signature(env, id, config, &incoming).await?),
    };
    // A query that a lenient decoder would change (U+FFFD) is refused, as a form body is.
    if let Some(name) = &incoming.query_error {
        return Err(ApiError::field(
            &format!("query.{name}"),
            "is not valid UTF-8 once percent-decoded",
        ));
    }
    let (kind, mut body) = parsed_body(&incoming)?;
    validate(endpoint, &incoming, &body, kind)?;
    // As for every run input (engine::start_run): credentials never reach storage.
    tripline_core::kernel::redact::redact(&mut body, &[]);

    let key = runtime::dedup_key(&incoming.headers, verified.as_ref(), &incoming.raw_body)
        .map_err(|m| ApiError::field("header.idempotency-key", m))?;
    // What an `Idempotency-Key` is compared by, to refuse its reuse for another request. A
    // message id or bytes the signature covers name the delivery themselves: a retry sent to
    // an edited URL (`?source=…` added at the sender) is still that delivery. A Standard
    // Webhooks message id is compared by the body it came with: a sender resends a message as
    // it was, so an id used again for another body (a resource's id taken for a message id)
    // is refused rather than its message dropped.
    let standard_webhooks = verified
        .as_ref()
        .is_some_and(|v| v.scheme == signature::Scheme::StandardWebhooks);
    let fingerprint = key.as_ref().and_then(|k| {
        if k.key.starts_with("idempotency:") {
            Some(runtime::fingerprint(
                &incoming.method,
                &incoming.path_and_query(),
                &incoming.raw_body,
            ))
        } else if standard_webhooks && k.key.starts_with("webhook:") {
            Some(runtime::message_fingerprint(&incoming.raw_body))
        } else {
            None
        }
    });
    // The query string is a request field like the headers: `?api_key=…`, `?token=…`,
    // credential-looking values and the values the schema gates with `equals` are never stored.
    let mut headers = runtime::redact_for_shelf(&incoming.headers);
    let mut query = runtime::redact_for_shelf(&incoming.query);
    endpoint.request.hide_gates(&mut query, &mut headers);
    if let Some(config) = &endpoint.verify {
        config.hide_signature(&mut headers);
    }
    let input = serde_json::to_string(&Input {
        request: RequestRecord {
            method: &incoming.method,
            path: &incoming.path,
            query: &query,
            headers: &headers,
            body: &body,
        },
    })
    .map_err(|e| ApiError::internal(e.to_string()))?;

    // A body that took a while to arrive: a redeploy meanwhile may have changed `shards`, and
    // a repeat of the key sent after that change settled made its run where the new count
    // puts it. The run is placed by the version live now (it still runs the version it was
    // validated by; should the version not be read now, it is placed as before, but for a
    // keyed run by a version too old to place it, which is refused: `places_keyed_runs`).
    let placed_by = match now_ms() - read_from > PLACE_AGAIN_AFTER_MS {
        true => self::live(env, id, || origin(&req))
            .await
            .unwrap_or_else(|_| live.clone()),
        false => live.clone(),
    };
    if key.is_some() && !places_keyed_runs(&placed_by, now_ms()) {
        return Err(ApiError::new(
            503,
            "Workflow object unavailable",
            "the workflow's deployed version could not be read again (its object did not answer, \
             or the workflow changed meanwhile); the request changed nothing and may be retried",
        )
        .with_header("retry-after", "1"));
    }
    let shards = runs::shards_of(&placed_by.definition);
    // After a redeploy changed `shards`, the key's run may be in another shard than the one it
    // is created in: those are asked first.
    let (shard, ask_first) = match &key {
        Some(k) => runs::placement(
            &k.key,
            shards,
            &placed_by.earlier_shards,
            placed_by.previous_shards,
            placed_by.live_since_ms,
            now_ms(),
        ),
        // No key: the run's own id is its cause (any shard will do: the id names it).
        None => (
            tripline_core::kernel::shard::shard_for(&token(&random_bytes::<10>()?), shards),
            Vec::new(),
        ),
    };
    let run_id = runs::client::id_in(id, shard)?;
    let dedup_key = match &key {
        Some(k) => k.key.clone(),
        None => format!("run:{run_id}"),
    };
    // A large body stays out of the run row (the platform caps a row at 2 MB), in pieces
    // written with it.
    let (input, pieces) = if input.len() > runtime::INLINE_INPUT_MAX {
        drop(input);
        let mut small = serde_json::to_value(Input {
            request: RequestRecord {
                method: &incoming.method,
                path: &incoming.path,
                query: &query,
                headers: &headers,
                body: &Value::Null,
            },
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
        // Moved, not copied: a body near the 10 MiB limit is held several times already.
        small["request"]["body"] = std::mem::take(&mut body);
        let pieces = runtime::body_into_pieces(&mut small).unwrap_or_default();
        (small.to_string(), pieces)
    } else {
        (input, Vec::new())
    };
    if let Some(k) = &key {
        for earlier in ask_first {
            if let Some(prior) = runs::client::find(env, id, earlier, &k.key)
                .await
                .map_err(ApiError::object_unavailable)?
            {
                return repeat(&live, prior, None, fingerprint.as_deref(), &k.location);
            }
        }
    }
    let steps = &live.definition.steps;
    // A workflow without steps has nothing to execute: its run is recorded finished, in the
    // same single write.
    let finished = steps.is_empty();
    let sync = has_response_step(&live);
    let answer = runs::client::create(
        env,
        shard,
        &CreateRun {
            id: run_id.clone(),
            workflow_id: id.to_string(),
            version: live.version,
            trigger: TriggerKind::Endpoint.as_str().to_string(),
            dedup_key,
            input,
            fingerprint: fingerprint.clone(),
            finished,
            pieces,
            secrets: None,
            // The object answers when the Response step has replied (or the run ended).
            wait_ms: if sync {
                endpoint.response_timeout_ms
            } else {
                0
            },
        },
    )
    .await?;
    if !answer.created {
        let location = key.map(|k| k.location).unwrap_or_default();
        let handed = raw_reply(&answer.reply);
        return repeat(&live, answer.run, handed, fingerprint.as_deref(), &location);
    }
    if !sync {
        return accepted(&run_id, false);
    }
    if let Some(reply) = raw_reply(&answer.reply) {
        return reply_response(reply.status, &reply.headers, reply.body);
    }
    // The reply as stored, when its news did not reach this wait (written as it timed out).
    if let Some(reply) = stored_reply_of(&answer.run) {
        return reply;
    }
    // The run ended without reaching its Response step, or the timeout passed.
    if answer.run.status == "failed" {
        return Err(run_failed(&answer.run));
    }
    accepted(&run_id, false)
}

/// The raw reply the executor handed over: `{status, headers: [[k, v]], body}`.
fn raw_reply(reply: &Value) -> Option<runtime::StoredReply> {
    // A status the platform's `Response` refuses is never answered (a Response step's is 200–599).
    let status = u16::try_from(reply.get("status")?.as_u64()?)
        .ok()
        .filter(|s| (200..=599).contains(s))?;
    let headers = reply
        .get("headers")
        .and_then(Value::as_array)
        .map(|hs| {
            hs.iter()
                .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let body = reply
        .get("body")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(runtime::StoredReply {
        status,
        headers,
        body,
    })
}

/// The run's input as stored: `{"request": {method, path, query, headers, body}}`.
#[derive(Serialize)]
struct Input<'a> {
    request: RequestRecord<'a>,
}

#[derive(Serialize)]
struct RequestRecord<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a Map<String, Value>,
    headers: &'a Map<String, Value>,
    body: &'a Value,
}

fn has_response_step(live: &Live) -> bool {
    live.definition
        .steps
        .iter()
        .any(|s| matches!(s, Step::Response(_)))
}

/// Checks the request's signature: 503 when the secret is not set or unusable, 401 (counted)
/// when the signature does not hold. The caller is anyone: a 503 does not name the secret nor
/// say anything of its value; the Worker's log does, for its administrator (once a minute).
async fn check_signature(
    env: &Env,
    workflow_id: &str,
    config: &VerifyConfig,
    incoming: &Incoming,
) -> ApiResult<Verified> {
    let unusable = |why: String| {
        crate::platform::config_errors::log_config_error(&format!("workflow {workflow_id}: {why}"));
        ApiError::new(
            503,
            "Signing secret not configured",
            format!(
                "this endpoint verifies `{}` signatures but its signing secret is not set on the \
                 Worker, or is unusable; the Worker's log says which secret and why",
                config.scheme.as_str()
            ),
        )
    };
    let not_set = || {
        unusable(format!(
            "the Worker secret `{0}` is not set; set it with `wrangler secret put {0}`",
            config.secret_env
        ))
    };
    let Some(secret) = signing_secret(env, &config.secret_env) else {
        return Err(not_set());
    };
    match signature::verify(
        config,
        &secret,
        &incoming.headers,
        &incoming.raw_body,
        now_ms().div_euclid(1000),
    ) {
        Ok(v) => Ok(v),
        Err(SignatureError::NoSecret) => Err(not_set()),
        Err(e @ SignatureError::ShortRotationSecret { .. }) => Err(unusable(format!(
            "the Worker secret `{}`: {e}",
            config.secret_env
        ))),
        Err(e) => {
            // Counted in the workflow's object: unauthenticated traffic never writes to D1.
            if let Err(err) = crate::objects::endpoint_stats::count_signature_failure(
                env,
                workflow_id,
                &iso_millis(now_ms()),
            )
            .await
            {
                worker::console_error!("counting a signature failure: {err}");
            }
            let mut errors = Errors::new();
            errors.push(e.location(), e.to_string());
            Err(ApiError::new(401, "Invalid signature", e.to_string())
                .with_errors(errors)
                .with_header(
                    "www-authenticate",
                    format!("Signature scheme=\"{}\"", config.scheme.as_str()),
                ))
        }
    }
}

/// The answer to a request whose dedup key already made a run: that run's answer again, with
/// `Idempotent-Replayed: true`. For a Response-step workflow that is the stored reply (the
/// shard object waited for it, up to the response timeout, while the first request was still
/// running); a reused key with a different request is 422.
fn repeat(
    live: &Live,
    prior: PriorRun,
    handed: Option<runtime::StoredReply>,
    fingerprint: Option<&str>,
    location: &str,
) -> ApiResult {
    if let (Some(was), Some(now)) = (prior.fingerprint.as_deref(), fingerprint) {
        if was != now {
            let name = location.strip_prefix("header.").unwrap_or(location);
            let mut errors = Errors::new();
            let problem = if location == "header.idempotency-key" {
                errors.push(
                    location,
                    format!("was already used for a different request (run {}); use a new key for a new request", prior.id),
                );
                ApiError::new(
                    422,
                    "Idempotency key reused",
                    format!("`{name}` was already used with a different method, URL or body"),
                )
            } else {
                errors.push(
                    location,
                    format!("was already used for a message with a different body (run {}); give each message its own id", prior.id),
                );
                ApiError::new(
                    422,
                    "Message id reused",
                    format!("`{name}` was already used for a message with a different body"),
                )
            };
            return Err(problem
                .with_errors(errors)
                .with_field("run_id", prior.id.clone()));
        }
    }
    // A repeat that waited for the run's reply (it came while the first request still waited)
    // is answered with it as sent, like the first request; else with the reply as kept.
    let reply = match handed {
        Some(r) => Some(reply_response(r.status, &r.headers, r.body)),
        None => stored_reply_of(&prior),
    };
    if let Some(reply) = reply {
        let mut resp = reply?;
        resp.headers_mut().set("idempotent-replayed", "true")?;
        return Ok(resp);
    }
    let stored = stored_response(&prior);
    if stored["truncated"] == true {
        // Replied, but too large to keep: neither "accepted" nor "failed" would be true.
        return Err(ApiError::new(
            409,
            "Reply not kept",
            format!(
                "run {} replied, but its reply took {} bytes as kept, more than a repeat is \
                 answered with (400 KiB); the run's record is at /api/runs/{}",
                prior.id, stored["size"], prior.id
            ),
        )
        .with_field("run_id", prior.id.clone())
        .with_header("idempotent-replayed", "true"));
    }
    if has_response_step(live) && prior.status == "failed" {
        return Err(run_failed(&prior).with_header("idempotent-replayed", "true"));
    }
    accepted(&prior.id, true)
}

/// A run's stored Response-step reply as a response, when it has one.
#[inline(never)]
fn stored_reply_of(run: &PriorRun) -> Option<ApiResult> {
    let reply = runtime::stored_reply(&stored_response(run))?;
    Some(reply_response(reply.status, &reply.headers, reply.body))
}

/// A run's Response-step reply as stored (`null` when it has none).
fn stored_response(run: &PriorRun) -> Value {
    run.response
        .as_deref()
        .and_then(|r| json_parse::from_str::<Value>(r).ok())
        .unwrap_or(Value::Null)
}

/// 502 for a Response-step workflow whose run failed before replying: names the step.
fn run_failed(run: &PriorRun) -> ApiError {
    let step = runtime::failed_step(&run.steps);
    let detail = match &step {
        Some(s) => format!(
            "run {} failed at step `{s}` before it could reply; the run's record has the error",
            run.id
        ),
        None => format!(
            "run {} failed before it could reply; the run's record has the error",
            run.id
        ),
    };
    let mut e = ApiError::new(502, "Run failed", detail)
        .with_field("run_id", run.id.clone())
        .with_field("failed_step", step.clone())
        .with_header("location", format!("/api/runs/{}", run.id));
    if let Some(s) = step {
        let mut errors = Errors::new();
        errors.push(format!("steps.{s}"), "failed");
        e = e.with_errors(errors);
    }
    e
}

/// A Response step's reply, sandboxed from the dashboard, which shares its origin
/// (`runtime::reply_policy`), and never sniffed.
fn reply_response(status: u16, headers: &[(String, String)], body: Option<String>) -> ApiResult {
    let h = Headers::new();
    for (k, v) in headers {
        if let Err(e) = h.append(k, v) {
            worker::console_error!("response header {k} skipped: {e}");
        }
    }
    // Read back from what was set: a header the platform refused is not there.
    let declared = h.get("content-security-policy")?;
    if let Some(policy) = runtime::reply_policy(declared.as_deref()) {
        h.set("content-security-policy", &policy)?;
    }
    if !h.has("x-content-type-options")? {
        h.set("x-content-type-options", "nosniff")?;
    }
    let resp = match body {
        Some(b) => Response::from_bytes(b.into_bytes())?,
        None => Response::empty()?,
    };
    Ok(resp.with_status(status).with_headers(h))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_is_what_a_url_parser_finds() {
        for url in [
            "https://example.com/hooks/wf_1",
            "https://example.com/hooks/wf_1?",
            "https://example.com/hooks/wf_1?a=1&b=%20x",
            "https://example.com/hooks/wf_1?a=1#frag?x",
            "https://example.com/hooks/wf_1#frag?x",
            "https://example.com:8787/h?x=/y?z",
        ] {
            let parsed = worker::Url::parse(url).expect("a URL");
            assert_eq!(raw_query_of(url), parsed.query().unwrap_or(""), "{url}");
        }
    }

    fn put(id: &str, read_at: i64, version: i64) {
        let definition = Definition::parse(&json!({
            "name": "hook",
            "trigger": {"type": "endpoint"},
            "steps": [],
        }))
        .expect("a valid definition");
        CACHE.with(|c| {
            c.borrow_mut().insert(
                id.to_string(),
                Cached {
                    read_at,
                    refreshing: false,
                    usable_until: read_at + STALE_ON_ERROR_MS,
                    live: Rc::new(Live {
                        version,
                        definition: Rc::new(definition),
                        earlier_shards: Vec::new(),
                        previous_shards: None,
                        live_since_ms: 0,
                        read_ms: read_at,
                    }),
                },
            )
        });
    }

    /// Whether the cache answered, and with which version.
    fn version(answer: &Option<Rc<Live>>) -> (bool, Option<i64>) {
        (answer.is_some(), answer.as_ref().map(|l| l.version))
    }

    #[test]
    fn one_request_reads_an_expired_version_while_the_others_use_it_briefly() {
        assert_eq!(version(&cached("wf_unknown", 0)), (false, None));
        put("wf_a", 10_000, 3);
        // Fresh: used by everyone.
        assert_eq!(version(&cached("wf_a", 10_000 + CACHE_MS)), (true, Some(3)));
        // Expired: the first request reads it again...
        let first = 10_000 + CACHE_MS + 1;
        assert_eq!(version(&cached("wf_a", first)), (false, None));
        // ...while the next ones keep using it, for at most STALE_MS...
        assert_eq!(version(&cached("wf_a", first)), (true, Some(3)));
        assert_eq!(
            version(&cached("wf_a", 10_000 + CACHE_MS + STALE_MS)),
            (true, Some(3))
        );
        // ...after which each request reads it itself.
        let late = 10_000 + CACHE_MS + STALE_MS + 1;
        assert_eq!(version(&cached("wf_a", late)), (false, None));
        assert_eq!(version(&cached("wf_a", late)), (false, None));
        // A deploy in this isolate forgets it at once.
        forget("wf_a");
        assert_eq!(version(&cached("wf_a", late)), (false, None));
    }

    #[test]
    fn a_version_is_used_for_a_minute_while_its_object_cannot_be_read() {
        put("wf_b", 10_000, 4);
        let first = 10_000 + CACHE_MS + 1;
        assert_eq!(version(&cached("wf_b", first)), (false, None));
        // The read failed (503): the version answers, and is read again a second later.
        assert_eq!(version(&used_on_error("wf_b", first)), (true, Some(4)));
        assert_eq!(
            version(&cached("wf_b", first + ERROR_RETRY_MS)),
            (true, Some(4))
        );
        let again = first + ERROR_RETRY_MS + 1;
        assert_eq!(version(&cached("wf_b", again)), (false, None));
        assert_eq!(version(&cached("wf_b", again)), (true, Some(4)));
        // Failing for longer than a minute after its read: forgotten.
        let late = 10_000 + STALE_ON_ERROR_MS + 1;
        assert_eq!(version(&used_on_error("wf_b", late)), (false, None));
        assert_eq!(version(&cached("wf_b", late)), (false, None));
        assert_eq!(version(&used_on_error("wf_unknown", late)), (false, None));
    }

    #[test]
    fn a_version_used_while_its_object_cannot_be_read_places_keyed_runs_only_while_shards_settle() {
        let settle = crate::objects::runs::SHARDS_SETTLE_MS;
        put("wf_c", 10_000, 5);
        let fresh = cached("wf_c", 10_000).expect("cached");
        assert!(places_keyed_runs(&fresh, 10_000 + settle));
        // Used while reads fail, past the window: not for a keyed run (nor is the same version
        // a request kept while the cache moved on).
        let late = 10_000 + settle + 1;
        let stale = used_on_error("wf_c", late).expect("used on error");
        assert_eq!(stale.version, 5);
        assert!(!places_keyed_runs(&stale, late));
        assert!(!places_keyed_runs(&fresh, late));
        // Read again: placed by it at once.
        put("wf_c", late, 5);
        assert!(places_keyed_runs(
            &cached("wf_c", late).expect("cached"),
            late
        ));
    }
}
