//! Running a workflow's steps in order, recording each step's result through the store that
//! holds the run (its shard object). Execution is at least once: a run whose executor died is
//! taken over when its lease expires, and resumes after its last recorded step.

pub mod http_step;
pub mod oauth;
pub mod outputs;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use tripline_core::kernel::json_parse;

use futures_util::future::LocalBoxFuture;
use serde_json::{json, Map, Value};
use worker::{Env, Result};

use crate::platform::{env_string, now_ms};
use crate::store;
use outputs::{RawOutputs, RunContext};
use tripline_core::definition::Definition;
use tripline_core::kernel::redact::{
    hidden_in_every_step, redact, redact_credential_values, redact_url, scrub_secrets,
    scrub_strings, truncate_output, OUTPUT_CAP_BYTES,
};
use tripline_core::kernel::time::iso_millis;
use tripline_core::oauth::run_token;
use tripline_core::steps::response::PreparedResponse;
use tripline_core::steps::retry::step_worst_case_ms;
use tripline_core::steps::Step;

/// How long an executor owns a run before another claim may take it over (plus the
/// running step's own timeout). `RUN_LEASE_SECONDS` overrides it (tests use a short one).
const DEFAULT_LEASE_MS: i64 = 60_000;
/// How long an OAuth token must still be valid after a step's worst case for the step to be
/// sent with it rather than with the connection's current one.
const TOKEN_MARGIN_MS: i64 = 60_000;

pub fn lease_ms(env: &Env) -> i64 {
    let Some(text) = env_string(env, "RUN_LEASE_SECONDS") else {
        return DEFAULT_LEASE_MS;
    };
    match text.trim().parse::<i64>() {
        Ok(s) if (1..=3600).contains(&s) => s * 1000,
        _ => {
            crate::platform::config_errors::log_config_error(&format!(
                "RUN_LEASE_SECONDS is `{text}`, not a whole number of seconds from 1 to 3600: \
                 its default is used"
            ));
            DEFAULT_LEASE_MS
        }
    }
}

/// What starts a run: the workflow's deployed version, the trigger kind and the dedup key.
pub struct RunCause<'a> {
    pub workflow_id: &'a str,
    pub version: i64,
    pub trigger_kind: &'a str,
    pub dedup_key: &'a str,
}

/// A run's input as stored: credentials never reach storage. Headers like `authorization` and
/// fields named like *token*, *secret*, *password* are stored (and so seen by steps) as
/// "[redacted]".
pub fn stored_input(input: &Value) -> Value {
    let mut input = input.clone();
    redact(&mut input, &[]);
    input
}

/// Where an executor records a run it has claimed. Every write is fenced by the claim:
/// `Ok(false)` means a newer claim owns the run, and the executor stops.
/// (Boxed futures: one copy of the executor serves every store.)
pub trait RunWriter {
    /// The steps so far (and the Response step's stored reply, the raw outputs for a resume);
    /// the lease moves to `lease_until`.
    fn progress<'a>(
        &'a self,
        steps: &'a str,
        lease_until: i64,
        response: Option<&'a str>,
        raw: RawOutputs<'a>,
    ) -> LocalBoxFuture<'a, Result<bool>>;
    /// The run's end: `succeeded` or `failed` with its error (`{"message": …}` JSON).
    fn finish<'a>(
        &'a self,
        status: &'a str,
        steps: &'a str,
        error: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<bool>>;
    /// The Response step's reply, for a request still waiting for it.
    fn reply(&self, _reply: &PreparedResponse) {}
    /// A step that reaches out may take `worst_case_ms` (every attempt timing out, every wait
    /// as long as allowed): later claims may grant that much at once (see `execute_claimed`).
    /// `false`: this execution has too little of its time left for it (an alarm's wall time) or
    /// has made all the outbound calls it may, and the run stops before the step, to be taken
    /// up by the next one.
    fn reaches_out(&self, _worst_case_ms: i64) -> bool {
        true
    }
    /// A step already started makes another attempt (a retry): one more outbound call.
    fn retrying(&self) {}
    /// The run stops before a step because this execution has too little time or too few
    /// outbound calls left (see [`RunWriter::reaches_out`]): the steps so far are kept and the
    /// run is due at once for the next execution. That stop is no failed attempt: an attempt
    /// counts a crash, not a wait.
    fn stop_for_next_wake<'a>(
        &'a self,
        steps: &'a str,
        raw: RawOutputs<'a>,
    ) -> LocalBoxFuture<'a, Result<bool>> {
        self.progress(steps, now_ms(), None, raw)
    }
}

thread_local! {
    /// Parsed definitions of deployed versions. A version never changes once frozen, so this
    /// needs no expiry; it is emptied when it grows past a bound.
    static DEFINITIONS: RefCell<HashMap<(String, i64), Rc<Definition>>> = RefCell::new(HashMap::new());
}
const DEFINITION_CACHE_MAX: usize = 256;

/// The parsed definition of a version, parsed once per isolate; `Err` says why there is none
/// (the run fails with it).
pub(crate) async fn version(
    db: &worker::D1Database,
    workflow_id: &str,
    version: i64,
) -> Result<std::result::Result<Rc<Definition>, String>> {
    let key = (workflow_id.to_string(), version);
    if let Some(hit) = DEFINITIONS.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(Ok(hit));
    }
    let Some(text) = store::runs::version_definition(db, workflow_id, version).await? else {
        return Ok(Err(format!(
            "version {version} of the workflow no longer exists"
        )));
    };
    match remember(workflow_id, version, &text) {
        Some(parsed) => Ok(Ok(parsed)),
        None => Ok(Err("the deployed definition no longer validates".into())),
    }
}

/// Whether the parsed definition of this version is at hand (no read needed).
pub fn is_cached(workflow_id: &str, version: i64) -> bool {
    cached(workflow_id, version).is_some()
}

/// The parsed definition of this version, when at hand.
pub fn cached(workflow_id: &str, version: i64) -> Option<Rc<Definition>> {
    DEFINITIONS.with(|c| c.borrow().get(&(workflow_id.to_string(), version)).cloned())
}

/// Parses a version's definition text and keeps it for [`version`]; `None` if it does not
/// validate.
pub fn remember(workflow_id: &str, version: i64, text: &str) -> Option<Rc<Definition>> {
    let parsed = json_parse::from_str::<Value>(text)
        .ok()
        .and_then(|v| Definition::parse_stored(&v).ok())
        .map(Rc::new)?;
    DEFINITIONS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= DEFINITION_CACHE_MAX {
            c.clear();
        }
        c.insert((workflow_id.to_string(), version), parsed.clone());
    });
    Some(parsed)
}

/// What a run's templates read before its first step: the trigger's input (stored JSON),
/// plus `workflow` and `run`.
pub(crate) fn run_context(
    input: &str,
    workflow_id: &str,
    version: i64,
    run_id: &str,
) -> Map<String, Value> {
    let mut context = match json_parse::from_str::<Value>(input) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    context.insert(
        "workflow".into(),
        json!({ "id": workflow_id, "version": version }),
    );
    context.insert("run".into(), json!({ "id": run_id }));
    context
}

/// The start of a step's record (`name`, `type`, `started_at`, `attempts`).
pub(crate) fn step_record(step: &Step, started: i64) -> Value {
    json!({
        "name": step.name(),
        "type": step.kind(),
        "started_at": iso_millis(started),
        "attempts": 1,
    })
}

/// Runs an `http` or `log` step against the run's template context: its output as stored
/// (redacted) or why it failed. The raw output goes into the context for later steps; the
/// attempts and the (redacted) request go into `record`. `None` for a `response` step, which
/// each executor handles itself.
pub(crate) async fn run_step(
    env: &Env,
    step: &Step,
    run: &mut RunContext,
    record: &mut Value,
    on_retry: &dyn Fn(),
    run_secrets: &[String],
) -> Option<std::result::Result<Value, String>> {
    let secrets = |name: &str| env_string(env, name);
    // The workflow's secrets and the run's token, hidden from every step's record: an upstream
    // may echo one to a step that never read it ("invalid key sk_…").
    let mut hidden = run_secrets.to_vec();
    hidden.extend(run.access_token());
    Some(match step {
        Step::Http(h) => match h.prepare(run.value(), &secrets, &hidden) {
            Err(e) => Err(e.to_string()),
            Ok(req) => {
                let result = http_step::perform(&req, h.retries, h.allow_error, on_retry).await;
                record["attempts"] = json!(result.attempts);
                hidden.extend(req.secrets_used.iter().cloned());
                record["request"] = req.to_record();
                redact(&mut record["request"], &hidden);
                // The answer a failed step got is shown with it, as its output would be.
                if let Some(mut answer) = result.failed_answer {
                    redact_answer(&mut answer, &hidden);
                    record["output"] = answer;
                }
                result
                    .outcome
                    .map(|mut out| {
                        run.add(step.name(), out.clone());
                        redact_answer(&mut out, &hidden);
                        out
                    })
                    // The platform's error text may quote the URL, secrets and all: it is shown
                    // as the record shows it.
                    .map_err(|e| {
                        let e = e.replace(&req.url, &redact_url(&req.url, &req.secrets_used));
                        scrub_secrets(&e, &hidden)
                    })
            }
        },
        Step::Log(l) => l
            .prepare(run.value(), &secrets)
            .map_err(|e| e.to_string())
            .map(|m| {
                let mut out = json!({ "message": m });
                redact(&mut out, &hidden);
                run.add(step.name(), out.clone());
                out
            }),
        Step::Response(_) => return None,
    })
}

/// Hides in an `http` step's answer what the record must not show: the secrets the request
/// used, and a token the upstream answered under any name (`{"jwt": "eyJ…"}`) or in a body
/// kept as text (JSON sent as `text/plain`, a form-encoded token answer). Later steps read the
/// real value.
fn redact_answer(answer: &mut Value, secrets_used: &[String]) {
    redact(answer, secrets_used);
    redact_credential_values(answer);
    if let Some(Value::String(text)) = answer.get_mut("body") {
        *text = tripline_core::kernel::redact::redact_answer_text(text, secrets_used);
    }
}

/// Completes a step's record with its outcome; `Err` carries the run's failure reason (an
/// `http` step's record keeps the answer it failed on as its output).
pub(crate) fn close_record(
    step: &Step,
    mut record: Value,
    outcome: std::result::Result<Value, String>,
) -> (Value, std::result::Result<(), String>) {
    record["finished_at"] = json!(iso_millis(now_ms()));
    match outcome {
        Ok(out) => {
            record["status"] = json!("succeeded");
            record["output"] = truncate_output(out, OUTPUT_CAP_BYTES);
            record["error"] = Value::Null;
            (record, Ok(()))
        }
        Err(reason) => {
            record["status"] = json!("failed");
            record["output"] = truncate_output(record["output"].take(), OUTPUT_CAP_BYTES);
            record["error"] = json!(reason);
            let reason = format!("step `{}` failed: {reason}", step.name());
            (record, Err(reason))
        }
    }
}

/// Lays a run's secrets (a JSON object kept sealed with the run) over its template context:
/// objects are merged key by key, any other value replaces what the stored input holds
/// (there, "[redacted]").
pub(crate) fn put_back_secrets(context: &mut Map<String, Value>, secrets: Value) {
    let Value::Object(secrets) = secrets else {
        return;
    };
    for (k, v) in secrets {
        match (context.get_mut(&k), v) {
            (Some(Value::Object(have)), Value::Object(v)) => {
                put_back_secrets(have, Value::Object(v));
            }
            (_, v) => {
                context.insert(k, v);
            }
        }
    }
}

/// Executes a run its caller has claimed, recording through `writer`, until it ends or a
/// newer claim takes it over. `secrets` are what the run carries sealed besides its stored
/// input (an OAuth run: its sign-in's access token). `raw` holds the real outputs of steps
/// finished in earlier attempts (the stored records are redacted); without them the stored
/// outputs are used.
pub async fn execute_claimed(
    env: &Env,
    run: &store::runs::RunRow,
    secrets: Option<Value>,
    mut step_results: Map<String, Value>,
    writer: &dyn RunWriter,
) -> Result<()> {
    let lease = lease_ms(env);
    let fail = |reason: String, steps: &[Value]| {
        let steps = Value::Array(steps.to_vec()).to_string();
        async move {
            let error = json!({ "message": reason }).to_string();
            writer.finish("failed", &steps, Some(&error)).await
        }
    };
    // D1 is reached only when the definition is not at hand in this isolate.
    let definition = match cached(&run.workflow_id, run.version) {
        Some(d) => Ok(d),
        None => version(&store::db(env)?, &run.workflow_id, run.version).await?,
    };
    let definition = match definition {
        Ok(d) => d,
        Err(reason) => {
            fail(reason, &[]).await?;
            return Ok(());
        }
    };
    let mut context = run_context(&run.input, &run.workflow_id, run.version, &run.id);
    if let Some(secrets) = secrets {
        put_back_secrets(&mut context, secrets);
    }

    // Resume: steps that already succeeded in an earlier attempt are not run again.
    let mut records: Vec<Value> = json_parse::from_str::<Vec<Value>>(&run.steps)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["status"] == "succeeded")
        .collect();
    for r in &records {
        if let Some(name) = r["name"].as_str() {
            if !step_results.contains_key(name) {
                step_results.insert(name.to_string(), r["output"].clone());
            }
        }
    }
    // OAuth runs: the real access token is the one the run carries (never the stored input's);
    // without one, or once it is due for refresh, the connection's current one.
    if let Some(oauth) = context.get_mut("oauth") {
        // A failed read of the connection is returned: the run is tried again.
        if let Err(reason) = oauth::hydrate(env, &run.workflow_id, oauth, now_ms()).await? {
            fail(reason, &records).await?;
            return Ok(());
        }
    }

    let secrets = |name: &str| env_string(env, name);
    let mut run_secrets = Vec::new();
    for name in &definition.secrets_read {
        let value = secrets(name).filter(|v| hidden_in_every_step(v));
        if let Some(value) = value {
            tripline_core::template::push_forms(&value, &mut run_secrets);
        }
    }
    // The template context, built once: each step sees the outputs of the steps before it,
    // added as they finish.
    let mut run_ctx = RunContext::new(context, step_results);
    for step in &definition.steps {
        if records.iter().any(|r| r["name"] == step.name()) {
            continue;
        }
        let started = now_ms();
        if step.reaches_out() {
            // The lease covers the step's worst case: every attempt timing out, every wait as
            // long as a capped Retry-After. Past it, the run may be taken over.
            let timeout = match step {
                Step::Http(h) => step_worst_case_ms(h.timeout_ms, h.retries) as i64,
                _ => 0,
            };
            if !writer.reaches_out(timeout) {
                // Recorded so far, and due at once: the next execution takes the run up here.
                let steps = Value::Array(records.clone()).to_string();
                writer.stop_for_next_wake(&steps, run_ctx.outputs()).await?;
                return Ok(());
            }
            // A run's first execution, before it recorded anything, whose claim already covers
            // the step's worst case with time to spare, has nothing to save and cannot have been
            // taken over (its claim is too recent): the write is skipped.
            let covered = run.attempts == 1
                && run.steps == "[]"
                && records.is_empty()
                && run.lease_until >= started + timeout + lease / 2;
            if !covered {
                let steps = Value::Array(records.clone()).to_string();
                if !writer
                    .progress(&steps, started + lease + timeout, None, run_ctx.outputs())
                    .await?
                {
                    return Ok(());
                }
            }
            // A run can outlive the token it started with (a step may take 5 minutes, an
            // execution 14): a token that may expire before the step's worst case ends is
            // replaced by the connection's current one (the Cron pass refreshes it). After the
            // steps so far are saved: a failed read leaves the run to be tried again from here.
            let expiring = run_ctx
                .oauth_mut()
                .filter(|o| !run_token::lasts_through(o, started, timeout + TOKEN_MARGIN_MS));
            if let Some(oauth) = expiring {
                if let Err(reason) = oauth::hydrate(env, &run.workflow_id, oauth, started).await? {
                    fail(reason, &records).await?;
                    return Ok(());
                }
            }
        }
        let mut record = step_record(step, started);
        let on_retry = || writer.retrying();
        let outcome = match run_step(
            env,
            step,
            &mut run_ctx,
            &mut record,
            &on_retry,
            &run_secrets,
        )
        .await
        {
            Some(outcome) => outcome,
            None => {
                let Step::Response(r) = step else {
                    unreachable!("run_step handles every other kind")
                };
                // The secrets the reply names itself (`{{secrets.NAME}}`), in their forms.
                let named = RefCell::new(Vec::new());
                let naming = |name: &str| {
                    let value = secrets(name);
                    if let Some(v) = &value {
                        tripline_core::template::push_forms(v, &mut named.borrow_mut());
                    }
                    value
                };
                match r.prepare(run_ctx.value(), &naming) {
                    Err(e) => Err(e.to_string()),
                    Ok(mut resp) => {
                        // A secret an upstream echoed into an answer the reply is built from
                        // (`{{steps.call.body}}`) does not go back to the caller: only those
                        // the reply names do.
                        let named = named.take();
                        let echoed: Vec<String> = run_secrets
                            .iter()
                            .filter(|s| !named.contains(s))
                            .cloned()
                            .collect();
                        if let Some(body) = &mut resp.body {
                            // JSON as JSON: only its strings (a key or a number is no echo).
                            if echoed.iter().any(|e| body.contains(e.as_str())) {
                                *body = match json_parse::within_budget::<Value>(body) {
                                    Some(mut json) => {
                                        scrub_strings(&mut json, &echoed);
                                        json.to_string()
                                    }
                                    None => scrub_secrets(body, &echoed),
                                };
                            }
                        }
                        for (_, value) in &mut resp.headers {
                            *value = scrub_secrets(value, &echoed);
                        }
                        let headers: Map<String, Value> = resp
                            .headers
                            .iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect();
                        let body = resp.body.as_deref().map(|b| {
                            json_parse::within_budget::<Value>(b)
                                .unwrap_or_else(|| Value::String(b.into()))
                        });
                        let out =
                            json!({ "status": resp.status, "headers": headers, "body": body });
                        run_ctx.add(step.name(), out.clone());
                        let mut stored = out.clone();
                        let mut hidden = resp.secrets_used.clone();
                        hidden.extend(run_secrets.iter().cloned());
                        hidden.extend(run_ctx.access_token());
                        redact(&mut stored, &hidden);
                        // Kept so that a repeated (idempotent) request gets the same reply: a
                        // body sent as anything but JSON (a text `null`, NDJSON) as its text,
                        // marked so (`runtime::stored_reply`).
                        let json_reply = resp
                            .content_type
                            .as_deref()
                            .is_some_and(|c| c.to_ascii_lowercase().contains("json"));
                        let mut reply = stored.clone();
                        if let Some(b) = resp.body.as_deref() {
                            if !json_reply || json_parse::within_budget::<Value>(b).is_none() {
                                reply["body"] = Value::String(
                                    tripline_core::kernel::redact::redact_text(b, &hidden),
                                );
                                reply["text"] = Value::Bool(true);
                            }
                        }
                        let steps = Value::Array(records.clone()).to_string();
                        let kept = writer
                            .progress(
                                &steps,
                                now_ms() + lease,
                                Some(&reply.to_string()),
                                run_ctx.outputs(),
                            )
                            .await?;
                        // A newer claim owns the run: its execution replies, not this one.
                        if !kept {
                            return Ok(());
                        }
                        writer.reply(&resp);
                        Ok(stored)
                    }
                }
            }
        };
        let (record, result) = close_record(step, record, outcome);
        records.push(record);
        if let Err(reason) = result {
            fail(reason, &records).await?;
            return Ok(());
        }
    }
    writer
        .finish("succeeded", &Value::Array(records).to_string(), None)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_replace_the_redacted_values_and_keep_the_rest() {
        let mut context = run_context(
            r#"{"oauth": {"user_id": "42", "access_token": "[redacted]", "scopes": ["read"]}}"#,
            "wf_1",
            3,
            "run_1",
        );
        put_back_secrets(
            &mut context,
            json!({"oauth": {"access_token": "at_real", "expires_at": null}}),
        );
        assert_eq!(
            Value::Object(context.clone())["oauth"],
            json!({"user_id": "42", "access_token": "at_real", "scopes": ["read"], "expires_at": null})
        );
        assert_eq!(context["workflow"], json!({"id": "wf_1", "version": 3}));
        // Anything but an object lays nothing over the context.
        let before = context.clone();
        put_back_secrets(&mut context, json!("at_real"));
        assert_eq!(context, before);
    }
}
