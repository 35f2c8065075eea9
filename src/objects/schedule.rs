//! Schedule triggers in the workflow's object: one Durable Object alarm per workflow, armed at
//! the next fire instant (absolute). Each wake-up (the alarm, on time or late, a deploy, or the
//! reconciler) follows one plan (`ScheduleTrigger::wake`): run the due slot (dedup key = the
//! slot's UTC instant, so a slot never runs twice), count misfired slots, re-arm.
//!
//! A wake touches only the object's own storage until it has re-armed: the deployed trigger,
//! version, anchor and the newest slot dealt with live there (`schedule`), and the due slot is
//! written next to them as a *pending run* (`schedule-pending:<slot>`) in the same atomic write
//! as the new marks. The D1 work follows (in the background for an alarm, so that the next
//! alarm never waits on D1): insert the run (the insert itself checks that the workflow is
//! still deployed at this version), drop the pending entry, execute the run; record skipped
//! slots; refresh the `timers` row when it would go stale. A pending run whose insert failed
//! or was cut off (a crash) is retried by the next wake; the dedup key makes retries safe.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use futures_util::future::join3;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Env, ListOptions, Request, Response, Result, Storage};

use super::{Deployed, WorkflowObject, KEY_KIND, KEY_WORKFLOW};
use crate::domain::definition::Trigger;
use crate::domain::schedule::ScheduleTrigger;
use crate::domain::schedule_timer::{
    dedup_key, grace_from_config, interval_ms, run_input, timer_row_due,
};
use crate::domain::time::{from_millis, iso_millis};
use crate::engine;
use crate::platform::{env_string, now_ms};
use crate::store;
use crate::store::runs::Inserted;

/// Storage key of [`Armed`] (a JSON string).
pub const KEY_SCHEDULE: &str = "schedule";
/// Storage key prefix of [`Pending`] runs (JSON strings), followed by the slot's epoch ms.
pub const PENDING_PREFIX: &str = "schedule-pending:";
/// A pending run older than this (ms) is assumed lost (its task died) and is tried again.
const PENDING_STALE_MS: i64 = 5_000;
/// When D1 fails, the object wakes again this soon (ms) to retry (after the pending run has
/// become stale).
const RETRY_MS: i64 = PENDING_STALE_MS + 1_000;
/// A recorded pending run is dropped by the next wake's write if that comes this soon (ms).
const DEFER_DROP_WITHIN_MS: i64 = 10_000;

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

/// A slot whose run is decided but not yet recorded in D1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub version: i64,
    pub slot_ms: i64,
    pub fired_ms: i64,
    pub late: bool,
}

thread_local! {
    /// Objects (by workflow id) in this isolate with no pending run left behind: their alarms
    /// skip listing the pending entries. Empty after a restart, so each object looks once.
    static CLEAN: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    /// Pending entries (storage keys, by workflow id) whose runs are recorded in D1, to drop
    /// with the next wake's write. Lost on a restart: the next wake then finds them, finds
    /// their runs (dedup key) and drops them.
    static RECORDED: RefCell<HashMap<String, Vec<String>>> = RefCell::new(HashMap::new());
}

fn defer_recorded(workflow_id: &str, key: String) {
    RECORDED.with(|r| {
        r.borrow_mut()
            .entry(workflow_id.to_string())
            .or_default()
            .push(key)
    });
}

fn take_recorded(workflow_id: &str) -> Vec<String> {
    RECORDED.with(|r| r.borrow_mut().remove(workflow_id).unwrap_or_default())
}

fn is_clean(workflow_id: &str) -> bool {
    CLEAN.with(|c| c.borrow().contains(workflow_id))
}

fn mark_clean(workflow_id: &str, clean: bool) {
    CLEAN.with(|c| {
        let mut c = c.borrow_mut();
        if clean {
            c.insert(workflow_id.to_string());
        } else {
            c.remove(workflow_id);
        }
    });
}

fn pending_key(slot_ms: i64) -> String {
    format!("{PENDING_PREFIX}{slot_ms:016}")
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

async fn load(storage: &Storage) -> Result<Option<Armed>> {
    Ok(storage
        .get::<String>(KEY_SCHEDULE)
        .await?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

fn json_string<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// Arms the alarm at the next fire time of the deployed schedule. A deploy of a new version
/// starts over from its deploy instant; a reconcile of the armed version keeps the marks and
/// applies the misfire policy to slots missed while nothing was running.
pub async fn arm(obj: &WorkflowObject, deployed: &Deployed, reconcile: bool) -> Result<()> {
    let Trigger::Schedule(trigger) = &deployed.definition.trigger else {
        return Ok(());
    };
    let storage = obj.state().storage();
    let new_version = load(&storage)
        .await?
        .is_none_or(|a| a.version != deployed.version || a.timer_row_ms.is_none());
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
    // Read again after the D1 call (an alarm may have moved the marks meanwhile); from here
    // on only storage calls until the plan is written.
    let armed = match load(&storage).await? {
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
    let cause = if reconcile {
        Cause::Reconcile
    } else {
        Cause::Deploy
    };
    // A deploy or reconcile waits for its D1 work: its caller learns about failures.
    match wake(obj, &deployed.workflow_id, armed, cause, now_ms()).await? {
        Some(followup) => followup.run().await,
        None => Ok(()),
    }
}

/// The alarm fired: re-arm at once, then record and execute the slot's run in the background.
pub async fn on_alarm(obj: &WorkflowObject) -> Result<()> {
    // The fire instant, before anything else (`fired_at`).
    let now = now_ms();
    let stored = obj
        .state()
        .storage()
        .get_multiple(vec![KEY_WORKFLOW, KEY_SCHEDULE])
        .await?;
    let text = |key: &str| stored.get(&JsValue::from_str(key)).as_string();
    let (Some(workflow_id), Some(armed)) = (
        text(KEY_WORKFLOW),
        text(KEY_SCHEDULE).and_then(|s| serde_json::from_str::<Armed>(&s).ok()),
    ) else {
        return Ok(());
    };
    if let Some(followup) = wake(obj, &workflow_id, armed, Cause::Alarm, now).await? {
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = followup.run().await {
                worker::console_error!("schedule {workflow_id}: {e}");
            }
        });
    }
    Ok(())
}

/// Schedule-specific actions: `/schedule/state` answers the armed state (diagnostics).
pub async fn handle(obj: &WorkflowObject, req: Request) -> Result<Response> {
    match req.path().as_str() {
        "/schedule/state" => {
            let storage = obj.state().storage();
            let kind = storage.get::<String>(KEY_KIND).await?;
            let armed = load(&storage).await?;
            let alarm = storage.get_alarm().await?;
            let pending: Vec<Pending> = list_pending(&storage).await?;
            Response::from_json(&json!({
                "kind": kind, "armed": armed, "alarm_ms": alarm, "pending": pending,
            }))
        }
        _ => Response::error("unknown schedule action", 404),
    }
}

/// The pending runs in storage, oldest slot first.
async fn list_pending(storage: &Storage) -> Result<Vec<Pending>> {
    let map = storage
        .list_with_options(ListOptions::new().prefix(PENDING_PREFIX))
        .await?;
    let mut out = Vec::new();
    map.for_each(&mut |value, _key| {
        if let Some(p) = value
            .as_string()
            .and_then(|s| serde_json::from_str::<Pending>(&s).ok())
        {
            out.push(p);
        }
    });
    out.sort_by_key(|p| p.slot_ms);
    Ok(out)
}

/// One wake-up at `now`, up to re-arming: plan from the stored marks (`armed`, just read from
/// storage), re-arm, and write the new marks with the due slot's pending run (storage only, so
/// no other event interleaves and two wakes never plan from the same marks). The caller has
/// checked that the object is armed for a schedule (`kind`). Returns the D1 work left to do.
async fn wake(
    obj: &WorkflowObject,
    workflow_id: &str,
    mut armed: Armed,
    cause: Cause,
    now: i64,
) -> Result<Option<Followup>> {
    let storage = obj.state().storage();
    let Some(trigger) = ScheduleTrigger::from_json(&armed.trigger) else {
        worker::console_error!("schedule {workflow_id}: the stored trigger no longer parses");
        return Ok(None);
    };
    let grace =
        grace_from_config(env_string(obj.env(), "SCHEDULE_MISFIRE_GRACE_SECONDS").as_deref());
    let plan = trigger.wake(
        armed.handled_ms.map(from_millis),
        from_millis(now),
        from_millis(armed.anchor_ms),
        grace,
    );
    armed.handled_ms = plan.handled_through.map(|t| t.timestamp_millis());
    armed.next_ms = plan.next.map(|t| t.timestamp_millis());
    // The timers row: always after a deploy or reconcile, else only when it would go stale.
    let timer_next = armed
        .next_ms
        .filter(|n| cause != Cause::Alarm || timer_row_due(armed.timer_row_ms, *n));
    if timer_next.is_some() {
        armed.timer_row_ms = timer_next;
    }
    let pending = plan.run.map(|slot| Pending {
        version: armed.version,
        slot_ms: slot.timestamp_millis(),
        fired_ms: now,
        late: plan.late,
    });

    // One atomic write: the new marks and the pending run, and the alarm.
    let entries = js_sys::Object::new();
    js_sys::Reflect::set(
        &entries,
        &JsValue::from_str(KEY_SCHEDULE),
        &JsValue::from_str(&json_string(&armed)?),
    )?;
    if let Some(p) = &pending {
        js_sys::Reflect::set(
            &entries,
            &JsValue::from_str(&pending_key(p.slot_ms)),
            &JsValue::from_str(&json_string(p)?),
        )?;
    }
    let rearm = async {
        match plan.next {
            Some(next) => storage.set_alarm(next).await,
            None => storage.delete_alarm().await,
        }
    };
    // Pending runs recorded since the last wake are dropped in the same write.
    let recorded = take_recorded(workflow_id);
    let drop_recorded = async {
        if recorded.is_empty() {
            Ok(0)
        } else {
            storage.delete_multiple(recorded).await
        }
    };
    let (rearmed, written, dropped) =
        join3(rearm, storage.put_multiple_raw(entries), drop_recorded).await;
    rearmed?;
    written?;
    dropped?;

    // Runs left pending by an earlier wake whose D1 work failed or was cut off: looked for
    // once per isolate, and again after a failure (not on every alarm).
    let mut runs: Vec<Pending> = Vec::new();
    if cause != Cause::Alarm || !is_clean(workflow_id) {
        mark_clean(workflow_id, true);
        runs = list_pending(&storage)
            .await?
            .into_iter()
            .filter(|p| p.fired_ms < now - PENDING_STALE_MS)
            .collect();
    }
    runs.extend(pending);

    let misfire = (plan.skipped > 0 || plan.late).then(|| {
        let record = json!({
            "at": iso_millis(now),
            "cause": cause.as_str(),
            "policy": trigger.misfire.as_str(),
            "skipped": plan.skipped,
            "ran_slot": plan.run.filter(|_| plan.late).map(dedup_key),
        });
        (
            i64::try_from(plan.skipped).unwrap_or(i64::MAX),
            record.to_string(),
        )
    });
    if runs.is_empty() && misfire.is_none() && timer_next.is_none() {
        return Ok(None);
    }
    Ok(Some(Followup {
        env: obj.env().clone(),
        storage,
        workflow_id: workflow_id.to_string(),
        version: armed.version,
        runs,
        misfire,
        timer_next,
        now,
        // On the alarm path a recorded pending run is dropped by the next wake's write when
        // that is soon (one storage transaction per fire instead of two).
        defer_drop: cause == Cause::Alarm
            && armed
                .next_ms
                .is_some_and(|n| n - now <= DEFER_DROP_WITHIN_MS),
    }))
}

/// The D1 side of a wake.
struct Followup {
    env: Env,
    storage: Storage,
    workflow_id: String,
    version: i64,
    runs: Vec<Pending>,
    /// Skipped slots to add, and the `last_misfire` record.
    misfire: Option<(i64, String)>,
    /// The `next_at` to write to the `timers` row.
    timer_next: Option<i64>,
    now: i64,
    defer_drop: bool,
}

impl Followup {
    async fn run(self) -> Result<()> {
        let db = store::db(&self.env)?;
        for p in &self.runs {
            self.create_run(p).await;
        }
        if let Some((skipped, record)) = &self.misfire {
            if let Err(e) = store::schedules::record_misfire(
                &db,
                &self.workflow_id,
                *skipped,
                record,
                &iso_millis(self.now),
            )
            .await
            {
                worker::console_error!(
                    "schedule {}: recording skipped slots failed: {e}",
                    self.workflow_id
                );
            }
        }
        let Some(next) = self.timer_next else {
            return Ok(());
        };
        // Storage only: skip the write if an undeploy or redeploy came in meanwhile.
        if !self.still_armed().await? {
            return Ok(());
        }
        let written = store::timers::upsert(
            &db,
            &self.workflow_id,
            "schedule",
            self.version,
            next,
            &iso_millis(now_ms()),
        )
        .await;
        if written.is_err() {
            // Written again by the next wake.
            if let Some(mut a) = load(&self.storage)
                .await?
                .filter(|a| a.version == self.version)
            {
                a.timer_row_ms = None;
                self.storage.put(KEY_SCHEDULE, json_string(&a)?).await?;
            }
        }
        written
    }

    async fn still_armed(&self) -> Result<bool> {
        let kind = self.storage.get::<String>(KEY_KIND).await?;
        let armed = load(&self.storage).await?;
        Ok(kind.as_deref() == Some("schedule") && armed.is_some_and(|a| a.version == self.version))
    }

    /// Records a pending run in D1 (unless the workflow is no longer deployed at its version),
    /// drops it from storage, and executes it.
    async fn create_run(&self, p: &Pending) {
        let slot = from_millis(p.slot_ms);
        let input = run_input(slot, from_millis(p.fired_ms), p.late);
        let started = engine::start_claimed_run_if_live(
            &self.env,
            &self.workflow_id,
            p.version,
            "schedule",
            &dedup_key(slot),
            &input,
        )
        .await;
        match started {
            Ok(started) => {
                // Recorded (now or by an earlier try), or refused because the workflow was
                // undeployed or redeployed meanwhile: either way no longer pending.
                if self.defer_drop {
                    defer_recorded(&self.workflow_id, pending_key(p.slot_ms));
                } else if let Err(e) = self.storage.delete(&pending_key(p.slot_ms)).await {
                    worker::console_error!("schedule {}: {e}", self.workflow_id);
                }
                if let Inserted::Created(run) = started {
                    let env = self.env.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let run_id = run.id.clone();
                        if let Err(e) = engine::execute_claimed(&env, *run, None).await {
                            worker::console_error!("schedule run {run_id}: {e}");
                        }
                    });
                }
            }
            Err(e) => {
                mark_clean(&self.workflow_id, false);
                worker::console_error!(
                    "schedule {}: recording the run of {} failed, retrying: {e}",
                    self.workflow_id,
                    dedup_key(slot)
                );
                if let Err(e) = self.retry_soon().await {
                    worker::console_error!("schedule {}: {e}", self.workflow_id);
                }
            }
        }
    }

    /// Brings the alarm forward so that the pending run is tried again soon.
    async fn retry_soon(&self) -> Result<()> {
        if !self.still_armed().await? {
            return Ok(());
        }
        let at = now_ms() + RETRY_MS;
        if self
            .storage
            .get_alarm()
            .await?
            .is_none_or(|current| current > at)
        {
            self.storage.set_alarm(from_millis(at)).await?;
        }
        Ok(())
    }
}
