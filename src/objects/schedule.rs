//! Schedule triggers in the workflow's object: one Durable Object alarm per workflow, armed at
//! the next fire instant (absolute). Each wake-up (the alarm, on time or late, a deploy, or the
//! reconciler) follows one plan (`ScheduleTrigger::wake`): create the run of the due slot (dedup
//! key = the slot's UTC instant, so a slot never runs twice), count misfired slots, re-arm.
//!
//! The object keeps everything an alarm needs in its own storage (`schedule`: the deployed
//! trigger, version, anchor, the newest slot dealt with), so an alarm re-arms without reading
//! D1. Order in a wake: plan and re-arm (storage only, so no other event can interleave), then
//! create the run (one D1 insert that also checks the workflow is still deployed at this
//! version), then execute it in the background, then refresh the `timers` row if it would go
//! stale.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Request, Response, Result};

use super::{Deployed, WorkflowObject, KEY_KIND};
use crate::domain::definition::Trigger;
use crate::domain::schedule::ScheduleTrigger;
use crate::domain::schedule_timer::{
    dedup_key, grace_from_config, interval_ms, run_input, timer_row_due, Wake,
};
use crate::domain::time::{from_millis, iso_millis};
use crate::engine::{self, Claim};
use crate::platform::{env_string, now_ms};
use crate::store;

/// Storage key of [`Armed`].
pub const KEY_SCHEDULE: &str = "schedule";

/// When a run could not be recorded (D1 error), the slot is retried this soon (ms).
const RETRY_MS: i64 = 1_000;

/// The armed schedule, in the object's storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Armed {
    /// The deployed version this was armed from.
    pub version: i64,
    /// The deploy instant (epoch ms): slots at or before it never run; `daily` counts from it.
    pub anchor_ms: i64,
    /// The deployed trigger (`ScheduleTrigger::to_json`).
    pub trigger: Value,
    /// Every slot at or before this (epoch ms) was run or skipped.
    pub handled_ms: Option<i64>,
    /// The slot the alarm is armed for.
    pub next_ms: Option<i64>,
    /// The `next_at` the `timers` row holds for this version (`None`: not written yet).
    pub timer_row_ms: Option<i64>,
}

/// Why the object woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Deploy,
    Reconcile,
    Alarm,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Deploy => "deploy",
            Cause::Reconcile => "reconcile",
            Cause::Alarm => "alarm",
        }
    }
}

async fn load(obj: &WorkflowObject) -> Result<Option<Armed>> {
    obj.state().storage().get::<Armed>(KEY_SCHEDULE).await
}

/// Arms the alarm at the next fire time of the deployed schedule. A deploy of a new version
/// starts over from its deploy instant; a reconcile of the armed version keeps the marks and
/// applies the misfire policy to slots missed while nothing was running.
pub async fn arm(obj: &WorkflowObject, deployed: &Deployed, reconcile: bool) -> Result<()> {
    let Trigger::Schedule(trigger) = &deployed.definition.trigger else {
        return Ok(());
    };
    let old = load(obj).await?;
    let armed = match old {
        Some(a) if a.version == deployed.version => Armed {
            trigger: trigger.to_json(),
            ..a
        },
        old => Armed {
            version: deployed.version,
            anchor_ms: deployed.deployed_at_ms,
            trigger: trigger.to_json(),
            // Kept across versions: slots already run are never due again.
            handled_ms: old.and_then(|a| a.handled_ms),
            next_ms: None,
            timer_row_ms: None,
        },
    };
    let new_version = armed.timer_row_ms.is_none();
    obj.state().storage().put(KEY_SCHEDULE, &armed).await?;
    if new_version {
        store::schedules::upsert_armed(
            &store::db(obj.env())?,
            &deployed.workflow_id,
            deployed.version,
            interval_ms(trigger),
            trigger.misfire.as_str(),
            &iso_millis(now_ms()),
        )
        .await?;
    }
    let cause = if reconcile {
        Cause::Reconcile
    } else {
        Cause::Deploy
    };
    wake(obj, &deployed.workflow_id, cause).await
}

/// The alarm fired: create the slot's run, re-arm.
pub async fn on_alarm(obj: &WorkflowObject) -> Result<()> {
    let Some(workflow_id) = obj.workflow_id().await else {
        return Ok(());
    };
    wake(obj, &workflow_id, Cause::Alarm).await
}

/// Schedule-specific actions: `GET /schedule/state` answers the armed state (diagnostics).
pub async fn handle(obj: &WorkflowObject, req: Request) -> Result<Response> {
    match req.path().as_str() {
        "/schedule/state" => {
            let kind = obj.state().storage().get::<String>(KEY_KIND).await?;
            let armed = load(obj).await?;
            let alarm = obj.state().storage().get_alarm().await?;
            Response::from_json(&json!({ "kind": kind, "armed": armed, "alarm_ms": alarm }))
        }
        _ => Response::error("unknown schedule action", 404),
    }
}

/// Whether the object is still armed for `version` (not undeployed, not redeployed).
async fn still_armed(obj: &WorkflowObject, version: i64) -> Result<Option<Armed>> {
    let kind = obj.state().storage().get::<String>(KEY_KIND).await?;
    if kind.as_deref() != Some("schedule") {
        return Ok(None);
    }
    Ok(load(obj).await?.filter(|a| a.version == version))
}

/// One wake-up: plan, re-arm, create the due run, execute it in the background, refresh the
/// `timers` row and the misfire record.
async fn wake(obj: &WorkflowObject, workflow_id: &str, cause: Cause) -> Result<()> {
    let storage = obj.state().storage();
    // Plan and re-arm. Only storage calls until the put: no other event runs in between, so
    // two wakes never plan from the same marks.
    let kind = storage.get::<String>(KEY_KIND).await?;
    let Some(mut armed) = load(obj).await? else {
        return Ok(());
    };
    if kind.as_deref() != Some("schedule") {
        return Ok(());
    }
    let Some(trigger) = ScheduleTrigger::from_json(&armed.trigger) else {
        worker::console_error!("schedule {workflow_id}: the stored trigger no longer parses");
        return Ok(());
    };
    let now = now_ms();
    let grace =
        grace_from_config(env_string(obj.env(), "SCHEDULE_MISFIRE_GRACE_SECONDS").as_deref());
    let previous_handled = armed.handled_ms;
    let plan: Wake = trigger.wake(
        armed.handled_ms.map(from_millis),
        from_millis(now),
        from_millis(armed.anchor_ms),
        grace,
    );
    armed.handled_ms = plan.handled_through.map(|t| t.timestamp_millis());
    armed.next_ms = plan.next.map(|t| t.timestamp_millis());
    match plan.next {
        Some(next) => storage.set_alarm(next).await?,
        None => storage.delete_alarm().await?,
    }
    storage.put(KEY_SCHEDULE, &armed).await?;
    let version = armed.version;

    // Create the due slot's run; the insert itself refuses if the workflow is no longer
    // deployed at this version (an undeploy or redeploy that raced this wake).
    if let Some(slot) = plan.run {
        let input = run_input(slot, from_millis(now), plan.late);
        match engine::start_run_if_live(
            obj.env(),
            workflow_id,
            version,
            "schedule",
            &dedup_key(slot),
            &input,
        )
        .await
        {
            Ok(Some(started)) => {
                if started.created {
                    let env = obj.env().clone();
                    let run_id = started.run_id;
                    obj.state().wait_until(async move {
                        if let Err(e) = engine::execute(&env, &run_id, Claim::Fresh, None).await {
                            worker::console_error!("schedule run {run_id}: {e}");
                        }
                    });
                }
            }
            // Not live at this version any more: whoever changed that re-arms (or disarmed).
            Ok(None) => return Ok(()),
            Err(e) => {
                worker::console_error!(
                    "schedule {workflow_id}: recording the run of {} failed, retrying: {e}",
                    dedup_key(slot)
                );
                retry_slot(obj, version, slot, previous_handled, now).await?;
                return Ok(());
            }
        }
    }

    let misfired = plan.skipped > 0 || plan.late;
    if misfired {
        let record = json!({
            "at": iso_millis(now),
            "cause": cause.as_str(),
            "policy": trigger.misfire.as_str(),
            "skipped": plan.skipped,
            "ran_slot": plan.run.filter(|_| plan.late).map(dedup_key),
        });
        if let Err(e) = store::schedules::record_misfire(
            &store::db(obj.env())?,
            workflow_id,
            i64::try_from(plan.skipped).unwrap_or(i64::MAX),
            &record.to_string(),
            &iso_millis(now),
        )
        .await
        {
            worker::console_error!("schedule {workflow_id}: recording skipped slots failed: {e}");
        }
    }

    // Keep the reconciler's row fresh (rewritten only when it would go stale).
    let Some(next) = armed.next_ms else {
        return Ok(());
    };
    // Storage only again: re-check we are still armed for this version before writing.
    let Some(mut current) = still_armed(obj, version).await? else {
        return Ok(());
    };
    if !timer_row_due(current.timer_row_ms, next) && cause == Cause::Alarm {
        return Ok(());
    }
    current.timer_row_ms = Some(next);
    storage.put(KEY_SCHEDULE, &current).await?;
    if let Err(e) = obj.record_timer("schedule", version, next).await {
        worker::console_error!("schedule {workflow_id}: writing the timer row failed: {e}");
        if let Some(mut a) = still_armed(obj, version).await? {
            a.timer_row_ms = None;
            storage.put(KEY_SCHEDULE, &a).await?;
        }
        if cause != Cause::Alarm {
            return Err(e);
        }
    }
    Ok(())
}

/// The run of `slot` could not be recorded: put the mark back (if no other wake moved it) and
/// wake again soon, so the slot is tried again (it runs if still on time or `run_once`).
async fn retry_slot(
    obj: &WorkflowObject,
    version: i64,
    slot: DateTime<Utc>,
    previous_handled: Option<i64>,
    now: i64,
) -> Result<()> {
    let Some(mut a) = still_armed(obj, version).await? else {
        return Ok(());
    };
    if a.handled_ms == Some(slot.timestamp_millis()) {
        a.handled_ms = previous_handled;
        let retry_at = now + RETRY_MS;
        if a.next_ms.is_none_or(|n| n > retry_at) {
            a.next_ms = Some(retry_at);
            obj.state()
                .storage()
                .set_alarm(from_millis(retry_at))
                .await?;
        }
        obj.state().storage().put(KEY_SCHEDULE, &a).await?;
    }
    Ok(())
}
