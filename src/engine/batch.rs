//! Executing many fresh runs at once: the fast path for runs a poll created together. One D1
//! statement claims them, their steps run concurrently in memory, one statement records their
//! results: two writes per batch instead of three or more per run (`execute`).
//!
//! The steps run exactly as in [`super::execute`] (the same [`super::run_step`]: preparation,
//! HTTP calls, retries, redaction and output caps); what differs is that progress is not saved
//! before each step.
//! If the executor dies mid-batch, the claimed runs stay `running` until their lease ends and
//! the reconciler executes them again from their first step: at least once, as everywhere.

use std::collections::HashMap;
use std::rc::Rc;

use futures_util::future::join_all;
use serde_json::{json, Map, Value};
use worker::{Env, Result};

use crate::platform::now_ms;
use crate::store::{self, runs::ClaimedRun, runs::FinishedRun};
use tripline_core::definition::Definition;
use tripline_core::kernel::time::iso_millis;
use tripline_core::steps::Step;

/// How long the steps of one run may take beyond the lease: the HTTP steps' timeouts and
/// retries (as `execute` budgets them, but for all steps at once).
fn steps_budget_ms(definition: &Definition) -> i64 {
    definition
        .steps
        .iter()
        .map(|s| match s {
            Step::Http(h) => i64::from(h.timeout_ms) * (i64::from(h.retries) + 1) + 60_000,
            _ => 0,
        })
        .sum()
}

/// Claims the `queued` runs among `run_ids`, executes them concurrently and records the
/// results. Returns how many it executed (runs someone else had taken are skipped).
pub async fn execute_fresh(env: &Env, run_ids: &[String]) -> Result<usize> {
    let db = store::db(env)?;
    let lease = super::lease_ms(env);
    let now = now_ms();
    let claimed = store::runs::claim_many(&db, run_ids, now + lease, &iso_millis(now)).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut definitions: HashMap<(String, i64), Option<Rc<Definition>>> = HashMap::new();
    for run in &claimed {
        let key = (run.workflow_id.clone(), run.version);
        if definitions.contains_key(&key) {
            continue;
        }
        let def = super::version(&db, &run.workflow_id, run.version).await?;
        definitions.insert(key, def.ok());
    }
    let budget = definitions
        .values()
        .flatten()
        .map(|d| steps_budget_ms(d))
        .max()
        .unwrap_or(0);
    if budget > 0 {
        let ids: Vec<String> = claimed.iter().map(|r| r.id.clone()).collect();
        store::runs::extend_leases(&db, &ids, now_ms() + lease + budget).await?;
    }
    let finished = join_all(claimed.iter().map(|run| {
        let def = definitions
            .get(&(run.workflow_id.clone(), run.version))
            .and_then(|d| d.as_deref());
        run_steps(env, run, def)
    }))
    .await;
    store::runs::finish_many(&db, &finished).await?;
    Ok(finished.len())
}

/// Runs the steps of one run; never fails (a failing step fails the run).
async fn run_steps(env: &Env, run: &ClaimedRun, definition: Option<&Definition>) -> FinishedRun {
    let finished = |status: &str, records: Vec<Value>, error: Option<String>| FinishedRun {
        id: run.id.clone(),
        status: status.to_string(),
        steps: Value::Array(records).to_string(),
        error: error.map(|m| json!({ "message": m }).to_string()),
        finished_at: iso_millis(now_ms()),
    };
    let Some(definition) = definition else {
        return finished(
            "failed",
            Vec::new(),
            Some(format!(
                "version {} of the workflow no longer exists or no longer validates",
                run.version
            )),
        );
    };
    let mut context = super::run_context(&run.input, &run.workflow_id, run.version, &run.id);
    let mut step_results = Map::new();
    let mut records: Vec<Value> = Vec::new();
    for step in &definition.steps {
        context.insert("steps".into(), Value::Object(step_results.clone()));
        let ctx = Value::Object(context.clone());
        let mut record = super::step_record(step, now_ms());
        let outcome = super::run_step(env, step, &ctx, &mut step_results, &mut record)
            .await
            .unwrap_or_else(|| {
                Err("a response step only answers HTTP requests (endpoint triggers)".into())
            });
        let (record, result) = super::close_record(step, record, outcome);
        records.push(record);
        if let Err(reason) = result {
            return finished("failed", records, Some(reason));
        }
    }
    finished("succeeded", records, None)
}
