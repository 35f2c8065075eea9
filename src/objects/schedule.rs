//! Schedule triggers in the workflow's object: one Durable Object alarm per workflow, armed at
//! the next fire instant (absolute). Each wake-up (the alarm, on time or late, a deploy, or the
//! reconciler) follows one plan (`ScheduleTrigger::wake`): run the due slot (dedup key = the
//! slot's UTC instant, so a slot never runs twice), count misfired slots, re-arm.
//!
//! A wake touches only the object's own storage until it has re-armed. The marks live there
//! (`schedule`: version, anchor, the newest slot dealt with, the armed slot, and what the API
//! shows: skipped slots, the last misfire, the last fire), and so does the due slot, as a
//! *pending run* inside the same record, written in the same storage write as the alarm. The
//! alarm is durable and re-arms itself, so nothing outside the object watches it.
//!
//! The fire itself is that write: the slot's run is created after it. A run whose steps all
//! end inside the object (no `http` step) is created and executed here, once the other events
//! due at the same instant have started (on one thread, other schedules' alarms: the fire of
//! each stays on time), and stored in this object's own run table in one storage transaction
//! with its pending entry's removal. Its id names this object (`TIMER_SHARD`). Any other run is
//! created in the workflow's shard object (one call, no D1; only while this object is still
//! armed at the run's version), which executes it. A pending run leaves the record as soon as
//! it is stored; one whose create failed or was cut off (a crash) is tried again by a later
//! wake, always in shard 0, and the dedup key makes that safe for as long as the run is kept:
//! a pending run is given up (logged) after [`PENDING_GIVE_UP_MS`], far within retention.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use tripline_core::kernel::columns::{read_with, Columns};
use tripline_core::kernel::json_parse;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Env, Response, Result, Storage};

use super::runs;
use super::sync_kv::SyncKv;
use super::{Deployed, WorkflowObject, KEY_KIND};
use crate::platform::{env_string, now_ms};
use tripline_core::definition::Trigger;
use tripline_core::definition::TriggerKind;
use tripline_core::kernel::ids::{new_run_id, WorkflowId};
use tripline_core::kernel::time::{from_millis, iso_millis};
use tripline_core::schedule::timer::{dedup_key, grace_from_config, interval_ms, run_input};
use tripline_core::schedule::{Misfire, ScheduleTrigger};

/// When a wake at `now` sets the alarm: the next slot, or sooner while runs are pending. A
/// pending run's shard call may be cut off with the object (a code deploy resets objects), and
/// then nothing reports the failure: the wake it needs must not wait for the next slot, which
/// may be a day away, past [`PENDING_GIVE_UP_MS`]. Once the run is recorded, the alarm goes
/// back to the next slot (`forget_pending`).
fn alarm_at(next_ms: Option<i64>, pending: bool, now: i64) -> Option<i64> {
    match (next_ms, pending) {
        (next, false) => next,
        (Some(next), true) => Some(next.min(now + RETRY_MS)),
        (None, true) => Some(now + RETRY_MS),
    }
}

/// Storage key of [`Armed`] (a JSON string).
pub const KEY_SCHEDULE: &str = "schedule";
/// Storage key of the armed version's trigger ([`StoredTrigger`], JSON), read only when the
/// isolate has not parsed it yet.
pub const KEY_TRIGGER: &str = "schedule-trigger";
/// Storage key: when the schedule last created a run (epoch ms, shown as `last_run_at`).
pub const KEY_LAST_RUN: &str = "schedule-last-run";
/// A pending run older than this (ms) that no wake has seen recorded is tried again.
const PENDING_STALE_MS: i64 = 5_000;
/// When creating a run fails, the object wakes again this soon (ms) to retry (once the run is
/// stale).
const RETRY_MS: i64 = PENDING_STALE_MS + 1_000;
/// At most this many pending runs are kept (the oldest are dropped, with an error logged).
const PENDING_MAX: usize = 100;
/// A pending run still not recorded this long (ms) after its fire is given up, with an error
/// logged: retried later, it could find its slot's run deleted by retention and run it again.
pub const PENDING_GIVE_UP_MS: i64 = 3_600_000;

/// The armed schedule, in the object's storage.
#[derive(Debug, Clone, Serialize)]
pub struct Armed {
    /// The deployed version this was armed from.
    pub version: i64,
    /// The deploy instant (epoch ms): slots at or before it never run; `daily` counts from it.
    pub anchor_ms: i64,
    /// Every slot at or before this (epoch ms) was run or skipped.
    pub handled_ms: Option<i64>,
    /// The slot the alarm is armed for.
    pub next_ms: Option<i64>,
    /// Runs decided but not yet known to be recorded (may be missing).
    pub pending: Vec<Pending>,
    /// Slots never run because they misfired (all versions; may be missing).
    pub skipped_slots: i64,
    /// The last wake that skipped slots or ran one late: `{at, cause, policy, skipped, ran_slot}`.
    pub last_misfire: Option<Value>,
    /// When the schedule last created a run in this object (epoch ms; `last_run_at`, with
    /// [`KEY_LAST_RUN`] for runs created in a shard object).
    pub last_run_ms: Option<i64>,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for Armed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(Armed {
                version: c.int("version")?,
                anchor_ms: c.int("anchor_ms")?,
                handled_ms: c.opt_int("handled_ms")?,
                next_ms: c.opt_int("next_ms")?,
                pending: c.list("pending", true, |v| {
                    let mut p = Columns::of(v, "pending")?;
                    Ok(Pending {
                        version: p.int("version")?,
                        slot_ms: p.int("slot_ms")?,
                        fired_ms: p.int("fired_ms")?,
                        late: p.flag("late")?,
                    })
                })?,
                skipped_slots: c.int_or_zero("skipped_slots")?,
                last_misfire: c.opt_value("last_misfire"),
                last_run_ms: c.opt_int("last_run_ms")?,
            })
        })
    }
}

/// A slot whose run is decided but not yet known to be recorded in its shard object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub version: i64,
    pub slot_ms: i64,
    pub fired_ms: i64,
    pub late: bool,
}

/// A pending run is a retry of an on-time fire for this long after its slot (or the misfire
/// grace, if longer); after that its slot has misfired like any other.
const PENDING_ON_TIME_MS: i64 = 60_000;

/// Applies the misfire policy to the pending runs whose slot passed more than `late_after_ms`
/// before `now` (their shard was unreachable or full meanwhile): `skip` gives them up,
/// `run_once` keeps the newest, marked late, unless the wake runs a newer missed slot late
/// (`late_slot`): that one is then the newest. Returns how many were given up.
fn misfire_pending(
    pending: &mut Vec<Pending>,
    policy: Misfire,
    now: i64,
    late_after_ms: i64,
    late_slot: Option<i64>,
) -> usize {
    let overdue = |p: &Pending| now - p.slot_ms > late_after_ms;
    let keep = match policy {
        Misfire::Skip => None,
        Misfire::RunOnce => pending
            .iter()
            .filter(|p| overdue(p))
            .map(|p| p.slot_ms)
            .max()
            .filter(|&slot| late_slot.is_none_or(|late| slot > late)),
    };
    let before = pending.len();
    pending.retain_mut(|p| {
        if !overdue(p) {
            return true;
        }
        if Some(p.slot_ms) == keep {
            p.late = true;
            return true;
        }
        false
    });
    before - pending.len()
}

impl Armed {
    /// What a deploy of `version` (of `trigger`, at `deployed_at`) keeps of the record armed
    /// for an earlier one, whose trigger `earlier` stored: the slots already run are never due
    /// again, runs of the old version still pending are tried (and refused, as not live), and
    /// the status counts every version. An unchanged schedule that counts days keeps counting
    /// them from where it did (`earlier` must be the armed version's: one written by an arm cut
    /// short is not it); slots at or before the deploy instant never run, so with such an
    /// earlier anchor they count as dealt with (the anchor is the floor otherwise). But the
    /// slot the earlier version's alarm was armed for, due at or before the deploy and not run
    /// yet (its alarm not delivered: a redeploy a few milliseconds after 09:00), still runs,
    /// with this version, when the schedule and zone are the same: a redeploy must not drop it.
    /// Only while that alarm was still armed (`overtaken_within`: the object served the
    /// schedule until this deploy, not undeployed or serving another trigger) and the slot is at
    /// most that many milliseconds (the misfire grace) before the deploy.
    fn for_version(
        self,
        version: i64,
        deployed_at: i64,
        trigger: &ScheduleTrigger,
        earlier: Option<&StoredTrigger>,
        overtaken_within: Option<i64>,
    ) -> Armed {
        let earlier = earlier
            .filter(|s| s.version == self.version)
            .and_then(|s| ScheduleTrigger::from_json(&s.trigger));
        let same_slots = earlier
            .as_ref()
            .is_some_and(|e| e.schedule == trigger.schedule && e.timezone == trigger.timezone);
        let unrun = self.next_ms.filter(|&n| {
            same_slots
                && n <= deployed_at
                && overtaken_within.is_some_and(|within| deployed_at - n <= within)
                && self.handled_ms.is_none_or(|h| n > h)
        });
        // Slots at or before this never run.
        let floor = unrun.map_or(deployed_at, |n| n - 1);
        let anchor_ms = trigger.anchor_after(earlier.as_ref().map(|e| (e, self.anchor_ms)), floor);
        let handled_ms = match anchor_ms < floor {
            true => Some(self.handled_ms.map_or(floor, |h| h.max(floor))),
            false => self.handled_ms,
        };
        Armed {
            version,
            anchor_ms,
            handled_ms,
            next_ms: None,
            ..self
        }
    }
}

/// The armed version's trigger, as stored with it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTrigger {
    pub version: i64,
    pub trigger: Value,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for StoredTrigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(StoredTrigger {
                version: c.int("version")?,
                trigger: c.value("trigger")?,
            })
        })
    }
}

thread_local! {
    /// Parsed triggers by (workflow id, version): a version never changes, so an alarm parses
    /// its trigger once per isolate.
    static TRIGGERS: RefCell<HashMap<(String, i64), Rc<ScheduleTrigger>>> =
        RefCell::new(HashMap::new());
    /// `SCHEDULE_MISFIRE_GRACE_SECONDS` (vars are fixed for an isolate's life).
    static GRACE: Cell<Option<TimeDelta>> = const { Cell::new(None) };
}

fn remember_trigger(
    workflow_id: &str,
    version: i64,
    trigger: ScheduleTrigger,
) -> Rc<ScheduleTrigger> {
    let trigger = Rc::new(trigger);
    TRIGGERS.with(|c| {
        c.borrow_mut()
            .insert((workflow_id.to_string(), version), trigger.clone())
    });
    trigger
}

/// The trigger of `version`: parsed once per isolate, from storage.
async fn armed_trigger(
    storage: &Storage,
    workflow_id: &str,
    version: i64,
) -> Result<Option<Rc<ScheduleTrigger>>> {
    let key = (workflow_id.to_string(), version);
    if let Some(t) = TRIGGERS.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(Some(t));
    }
    let stored = storage
        .get::<String>(KEY_TRIGGER)
        .await?
        .and_then(|s| json_parse::from_str::<StoredTrigger>(&s).ok())
        .filter(|s| s.version == version)
        .and_then(|s| ScheduleTrigger::from_json(&s.trigger));
    Ok(stored.map(|t| remember_trigger(workflow_id, version, t)))
}

fn misfire_grace(env: &Env) -> TimeDelta {
    if let Some(grace) = GRACE.with(Cell::get) {
        return grace;
    }
    let grace = grace_from_config(env_string(env, "SCHEDULE_MISFIRE_GRACE_SECONDS").as_deref());
    GRACE.with(|g| g.set(Some(grace)));
    grace
}

/// Drops a pending run from the stored record once its shard answered (or it was refused):
/// at once, in storage, so that no later wake, in this isolate or another, sends it again.
/// Synchronous: no other event interleaves between the read and the write.
/// `given_up`: the run was not recorded (its version is no longer armed), and its slot counts
/// as skipped.
fn forget_pending(
    obj: &WorkflowObject,
    kv: &SyncKv,
    version: i64,
    slot_ms: i64,
    given_up: bool,
    created_here_at: Option<i64>,
) -> Result<()> {
    let Some(mut armed) = record_now(obj, kv)? else {
        return Ok(());
    };
    let before = armed.pending.len();
    armed
        .pending
        .retain(|p| !(p.slot_ms == slot_ms && p.version == version));
    if armed.pending.len() == before {
        return Ok(());
    }
    // A run created in this object: when, in the same write (the API shows it).
    if created_here_at.is_some() {
        armed.last_run_ms = created_here_at;
    }
    if given_up {
        let workflow_id = obj.workflow_id_now(kv)?.unwrap_or_default();
        let policy = TRIGGERS.with(|c| {
            c.borrow()
                .get(&(workflow_id, version))
                .map(|t| t.misfire.as_str())
        });
        not_recorded(&mut armed, policy, 1, now_ms());
    }
    obj.schedule_record().replace(None);
    kv.put_string(KEY_SCHEDULE, &json_string(&armed)?)?;
    // Nothing left to retry: the alarm goes back to the next slot, if the object is still
    // armed for this schedule (an undeploy or another trigger's deploy may have come meanwhile,
    // and set an alarm of its own); not before an alarm set past the slot on purpose (after an
    // early alarm: the slot itself may be the alarm running).
    let armed_here = obj.kind_now(kv)? == Some(TriggerKind::Schedule) && armed.version == version;
    if armed.pending.is_empty() && armed_here {
        if let Some(next) = armed.next_ms {
            let at = obj.schedule_alarm().get().map_or(next, |set| set.max(next));
            kv.set_alarm(at)?;
            obj.schedule_alarm().set(Some(at));
        }
    }
    obj.schedule_record().replace(Some(armed));
    Ok(())
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
        .and_then(|s| json_parse::from_str(&s).ok()))
}

fn json_string<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// Arms the alarm at the next fire time of the deployed schedule. A deploy of a new version
/// starts over from its deploy instant (its anchor too, unless its schedule and zone are the
/// earlier version's: `ScheduleTrigger::anchor_after`); a reconcile of the armed version keeps the marks and
/// applies the misfire policy to slots missed while nothing was running.
///
/// `was_armed`: the object served a schedule until this call (see [`Armed::for_version`]).
pub async fn arm(
    obj: &WorkflowObject,
    deployed: &Deployed,
    reconcile: bool,
    was_armed: bool,
) -> Result<()> {
    let Trigger::Schedule(trigger) = &deployed.definition.trigger else {
        return Ok(());
    };
    let storage = obj.state().storage();
    // From here on only storage calls until the plan is written.
    let earlier_trigger = storage
        .get::<String>(KEY_TRIGGER)
        .await?
        .and_then(|s| json_parse::from_str::<StoredTrigger>(&s).ok());
    let armed = match load(&storage).await? {
        Some(a) if a.version == deployed.version => a,
        Some(old) => old.for_version(
            deployed.version,
            deployed.deployed_at_ms,
            trigger,
            earlier_trigger.as_ref(),
            was_armed.then(|| misfire_grace(obj.env()).num_milliseconds()),
        ),
        // Never armed, or a record that no longer reads: then its slots up to now were run or
        // skipped, and none of them is due again (a slot whose run retention deleted would run
        // twice).
        None => Armed {
            version: deployed.version,
            anchor_ms: deployed.deployed_at_ms,
            handled_ms: storage.get::<String>(KEY_SCHEDULE).await?.map(|_| now_ms()),
            next_ms: None,
            pending: Vec::new(),
            skipped_slots: 0,
            last_misfire: None,
            last_run_ms: None,
        },
    };
    let stored = StoredTrigger {
        version: deployed.version,
        trigger: trigger.to_json(),
    };
    storage.put(KEY_TRIGGER, json_string(&stored)?).await?;
    remember_trigger(&deployed.workflow_id, deployed.version, (**trigger).clone());
    let cause = if reconcile {
        Cause::Reconcile
    } else {
        Cause::Deploy
    };
    // A deploy or reconcile waits for its D1 work: its caller learns about failures.
    let kv = obj.kv()?;
    match wake(obj, kv, &deployed.workflow_id, armed, cause, now_ms()).await? {
        Some(followup) => followup.run().await,
        None => Ok(()),
    }
}

/// The armed record: the copy this instance wrote last (every write goes through `wake`),
/// else the one in storage.
fn record_now(obj: &WorkflowObject, kv: &SyncKv) -> Result<Option<Armed>> {
    if let Some(armed) = obj.schedule_record().borrow().clone() {
        return Ok(Some(armed));
    }
    Ok(kv
        .get_string(KEY_SCHEDULE)?
        .and_then(|s| json_parse::from_str(&s).ok()))
}

/// The alarm fired at `now`: re-arm at once, then create the slot's run (here or in shard 0).
pub async fn on_alarm(
    obj: &WorkflowObject,
    kv: &SyncKv,
    now: i64,
    workflow_id: Option<String>,
) -> Result<()> {
    let Some(workflow_id) = workflow_id else {
        return Ok(());
    };
    // A record or trigger that no longer reads would leave the schedule without an alarm: it
    // is armed again from the catalog instead.
    let readable = match record_now(obj, kv)? {
        Some(armed) => armed_trigger(&obj.state().storage(), &workflow_id, armed.version)
            .await?
            .map(|_| armed),
        None => None,
    };
    let Some(armed) = readable else {
        worker::console_error!(
            "schedule {workflow_id}: its stored state does not read; armed again"
        );
        return obj.arm(&workflow_id, true).await.map(|_| ());
    };
    if let Some(followup) = wake(obj, kv, &workflow_id, armed, Cause::Alarm, now).await? {
        // The run is created inside the alarm (here, or by one call to shard 0): work left
        // to the background after the event may be cut off with it.
        if let Err(e) = followup.run().await {
            worker::console_error!("schedule {workflow_id}: {e}");
        }
    }
    Ok(())
}

/// The armed state (diagnostics): kind, armed record, stored trigger and alarm time.
pub async fn state(obj: &WorkflowObject) -> Result<Response> {
    let storage = obj.state().storage();
    let kind = storage.get::<String>(KEY_KIND).await?;
    let armed = load(&storage).await?;
    let trigger = storage
        .get::<String>(KEY_TRIGGER)
        .await?
        .and_then(|s| json_parse::from_str::<StoredTrigger>(&s).ok());
    let alarm = storage.get_alarm().await?;
    Response::from_json(&json!({
        "kind": kind, "armed": armed, "trigger": trigger, "alarm_ms": alarm,
    }))
}

/// What the API shows of the schedule (`null` when never armed): the armed version and slot
/// (`next_ms`, only while armed for a schedule), the spacing of interval kinds, skipped slots,
/// the last misfire and the last fire.
pub async fn status(obj: &WorkflowObject) -> Result<Value> {
    let storage = obj.state().storage();
    let Some(armed) = load(&storage).await? else {
        return Ok(Value::Null);
    };
    let armed_now =
        storage.get::<String>(KEY_KIND).await?.as_deref() == Some(TriggerKind::Schedule.as_str());
    let interval = storage
        .get::<String>(KEY_TRIGGER)
        .await?
        .and_then(|s| json_parse::from_str::<StoredTrigger>(&s).ok())
        .filter(|s| s.version == armed.version)
        .and_then(|s| ScheduleTrigger::from_json(&s.trigger))
        .and_then(|t| interval_ms(&t));
    Ok(json!({
        "version": armed.version,
        "anchor_ms": armed.anchor_ms,
        "next_ms": armed.next_ms.filter(|_| armed_now),
        "interval_ms": interval,
        "skipped_slots": armed.skipped_slots,
        "last_misfire": armed.last_misfire,
        "last_run_at": storage
            .get::<i64>(KEY_LAST_RUN)
            .await?
            .max(armed.last_run_ms)
            .map(iso_millis),
    }))
}

/// One wake-up at `now`, up to re-arming: plan from the stored marks (`armed`, just read from
/// storage), re-arm, and write the new marks with the due slot's pending run (storage only, so
/// no other event interleaves and two wakes never plan from the same marks). The caller has
/// checked that the object is armed for a schedule (`kind`). Returns the runs left to create.
async fn wake<'a>(
    obj: &'a WorkflowObject,
    kv: &SyncKv,
    workflow_id: &str,
    mut armed: Armed,
    cause: Cause,
    now: i64,
) -> Result<Option<Followup<'a>>> {
    let storage = obj.state().storage();
    let Some(trigger) = armed_trigger(&storage, workflow_id, armed.version).await? else {
        worker::console_error!("schedule {workflow_id}: the stored trigger no longer parses");
        return Ok(None);
    };
    let plan = trigger.wake(
        armed.handled_ms.map(from_millis),
        from_millis(now),
        from_millis(armed.anchor_ms),
        misfire_grace(obj.env()),
    );
    armed.handled_ms = plan.handled_through.map(|t| t.timestamp_millis());
    armed.next_ms = plan.next.map(|t| t.timestamp_millis());
    // The status the API shows, in the same write as the marks.
    if plan.skipped > 0 || plan.late {
        armed.skipped_slots = armed
            .skipped_slots
            .saturating_add(i64::try_from(plan.skipped).unwrap_or(i64::MAX));
        armed.last_misfire = Some(json!({
            "at": iso_millis(now),
            "cause": cause.as_str(),
            "policy": trigger.misfire.as_str(),
            "skipped": plan.skipped,
            "ran_slot": plan.run.filter(|_| plan.late).map(dedup_key),
        }));
    }

    if armed.next_ms.is_none() {
        worker::console_error!(
            "schedule {workflow_id}: no slot found after now; looking again in a day"
        );
    }

    // Pending runs: give up those too old, try again those left behind, add the new one.
    let before = armed.pending.len();
    armed.pending.retain(|p| {
        let keep = p.fired_ms >= now - PENDING_GIVE_UP_MS;
        if !keep {
            worker::console_error!(
                "schedule {workflow_id}: giving up the run of {}, not recorded within an hour",
                dedup_key(from_millis(p.slot_ms))
            );
        }
        keep
    });
    let mut given_up = before - armed.pending.len();
    let late_after = misfire_grace(obj.env())
        .num_milliseconds()
        .max(PENDING_ON_TIME_MS);
    let late_slot = plan.run.filter(|_| plan.late).map(|t| t.timestamp_millis());
    given_up += misfire_pending(
        &mut armed.pending,
        trigger.misfire,
        now,
        late_after,
        late_slot,
    );
    not_recorded(&mut armed, Some(trigger.misfire.as_str()), given_up, now);
    // Not the slot whose run is being created in place (its zero timer outlasted the wait for
    // a retry): sent to its shard too, it would run twice.
    let in_place = obj.schedule_in_place().get();
    let mut runs: Vec<Pending> = armed
        .pending
        .iter()
        .filter(|p| p.fired_ms < now - PENDING_STALE_MS && Some(p.slot_ms) != in_place)
        .cloned()
        .collect();
    let mut here = None;
    if let Some(slot) = plan.run {
        let p = Pending {
            version: armed.version,
            slot_ms: slot.timestamp_millis(),
            fired_ms: now,
            late: plan.late,
        };
        armed.pending.push(p.clone());
        runs.push(p.clone());
        here = Some(p);
    }
    if armed.pending.len() > PENDING_MAX {
        let dropped = armed.pending.len() - PENDING_MAX;
        worker::console_error!(
            "schedule {workflow_id}: dropping {dropped} runs never recorded (kept {PENDING_MAX})"
        );
        armed.pending.drain(..dropped);
        runs.retain(|r| armed.pending.contains(r));
        not_recorded(&mut armed, Some(trigger.misfire.as_str()), dropped, now);
    }

    // One storage transaction: the record (marks and pending runs), written synchronously,
    // and the alarm.
    obj.schedule_record().replace(None);
    kv.put_string(KEY_SCHEDULE, &json_string(&armed)?)?;
    obj.schedule_record().replace(Some(armed.clone()));
    let running = obj.schedule_alarm().get().filter(|_| cause == Cause::Alarm);
    let at = match alarm_at(armed.next_ms, !armed.pending.is_empty(), now) {
        // An alarm delivered before its slot (the object's clock behind) finds nothing due:
        // set again to its own time, it would be taken as unchanged and dropped when it ends.
        // As far past the slot as the clock was behind: a clock that stays behind by as much
        // finds the slot due then.
        Some(at) if Some(at) == running => at + (at - now).max(1),
        Some(at) => at,
        // No slot found (a zone the runtime cannot read): looked for again in a day, never
        // left without an alarm.
        None => now + 86_400_000,
    };
    kv.set_alarm(at)?;
    obj.schedule_alarm().set(Some(at));

    if runs.is_empty() {
        return Ok(None);
    }
    Ok(Some(Followup {
        obj,
        workflow_id: workflow_id.to_string(),
        version: armed.version,
        runs,
        here,
    }))
}

/// Counts `dropped` slots whose run was given up before its shard recorded it (that shard was
/// unreachable or full for an hour, or too many waited) as skipped, and says so in
/// `last_misfire` (cause `not_recorded`): a schedule whose runs stop being created shows it.
fn not_recorded(armed: &mut Armed, policy: Option<&str>, dropped: usize, now: i64) {
    if dropped == 0 {
        return;
    }
    armed.skipped_slots = armed
        .skipped_slots
        .saturating_add(i64::try_from(dropped).unwrap_or(i64::MAX));
    armed.last_misfire = Some(json!({
        "at": iso_millis(now),
        "cause": "not_recorded",
        "policy": policy,
        "skipped": dropped,
        "ran_slot": null,
    }));
}

/// Creates the slot's run in this object and executes it in place, when its steps all end
/// here: `Some(created)`, written with no storage await in between, so in the caller's storage
/// transaction. `None`: it is created in its shard object.
async fn create_here(
    obj: &WorkflowObject,
    kv: &SyncKv,
    workflow_id: &str,
    p: &Pending,
) -> Option<bool> {
    let wf = WorkflowId::parse(workflow_id)?;
    let trigger = TriggerKind::Schedule.as_str();
    if !definition_at_hand(kv, workflow_id, p.version)
        || !runs::handler::executes_here(trigger, workflow_id, p.version)
    {
        return None;
    }
    // Marked before the insert: a run is never stored where listing would not look.
    if let Err(e) = obj.mark_runs(kv, workflow_id) {
        worker::console_error!("schedule {workflow_id}: marking the object failed: {e}");
        return None;
    }
    let slot = from_millis(p.slot_ms);
    let input = run_input(slot, from_millis(p.fired_ms), p.late);
    let random = crate::platform::random_bytes::<10>().ok()?;
    let run = runs::handler::CreateRun {
        id: new_run_id(now_ms() as u64, &random, &wf, runs::TIMER_SHARD),
        workflow_id: workflow_id.to_string(),
        version: p.version,
        trigger: trigger.to_string(),
        dedup_key: dedup_key(slot),
        // Made here of instants and a flag: nothing in it to redact.
        input: input.to_string(),
        fingerprint: None,
        finished: false,
        pieces: Vec::new(),
        secrets: None,
        wait_ms: 0,
    };
    match runs::handler::create_here(obj.state(), obj.env(), obj.runs(), &run).await {
        Ok(created) => created,
        Err(e) => {
            worker::console_error!("schedule {workflow_id}: creating the run here failed: {e}");
            None
        }
    }
}

/// Whether the definition of `version` is parsed in this isolate, or can be from the live
/// definition this object keeps (after a restart; never from D1).
fn definition_at_hand(kv: &SyncKv, workflow_id: &str, version: i64) -> bool {
    if crate::engine::cached(workflow_id, version).is_some() {
        return true;
    }
    let Ok(Some(text)) = kv.get_string(super::KEY_LIVE) else {
        return false;
    };
    let live: Value = json_parse::from_str(&text).unwrap_or(Value::Null);
    live["version"].as_i64() == Some(version)
        && live["definition"]
            .as_str()
            .and_then(|d| crate::engine::remember(workflow_id, version, d))
            .is_some()
}

/// The runs a wake decided, to create right after it re-armed.
struct Followup<'a> {
    obj: &'a WorkflowObject,
    workflow_id: String,
    /// The version the wake was armed at.
    version: i64,
    runs: Vec<Pending>,
    /// The slot this wake fired, which may be created and executed in this object.
    here: Option<Pending>,
}

impl Followup<'_> {
    /// Creates the pending runs (each is then no longer pending): the slot just fired in this
    /// object when its steps all end here, after the other events due now have started (on a
    /// shared thread, the alarms of other schedules due at the same instant); the others, and
    /// that one when it cannot, in their shard objects.
    async fn run(self) -> Result<()> {
        let kv = self.obj.kv()?;
        // The slot just fired first: older pending runs wait on shard calls that may be slow.
        // A few shard calls per wake, and none after a failure: a shard that refuses is not
        // sent every pending run on every wake (those of an earlier version are still given up).
        let mut calls = 5;
        let older = self.runs.iter().filter(|p| Some(*p) != self.here.as_ref());
        for p in self.here.iter().chain(older) {
            if Some(p) == self.here.as_ref() && self.created_here(kv, p).await {
                continue;
            }
            match self.create_run(kv, p, calls > 0).await {
                Some(true) => calls -= 1,
                Some(false) => calls = 0,
                None => {}
            }
        }
        Ok(())
    }

    /// Creates and executes `p`'s run in this object and forgets it as pending, in one storage
    /// transaction; false when it is to be created in its shard. Meanwhile no other wake of this
    /// instance sends it to its shard.
    async fn created_here(&self, kv: &SyncKv, p: &Pending) -> bool {
        let marker = self.obj.schedule_in_place();
        marker.set(Some(p.slot_ms));
        let done = self.create_here_marked(kv, p).await;
        marker.set(None);
        done
    }

    async fn create_here_marked(&self, kv: &SyncKv, p: &Pending) -> bool {
        if !definition_at_hand(kv, &self.workflow_id, p.version)
            || !runs::handler::executes_here(
                TriggerKind::Schedule.as_str(),
                &self.workflow_id,
                p.version,
            )
        {
            return false;
        }
        worker::Delay::from(std::time::Duration::ZERO).await;
        // Events may have come in meanwhile. A wake that took the slot over (it is no longer
        // pending: tried elsewhere, or given up) has it; a redeploy does not undo a slot that
        // fired (it stays pending), an undeploy does (`create_run` gives it up).
        match record_now(self.obj, kv) {
            Ok(Some(armed)) if armed.pending.contains(p) => {}
            Ok(_) => return true,
            Err(e) => {
                worker::console_error!("schedule {}: {e}", self.workflow_id);
                return true;
            }
        }
        if self.obj.kind_now(kv).ok().flatten() != Some(TriggerKind::Schedule) {
            return false;
        }
        let Some(created) = create_here(self.obj, kv, &self.workflow_id, p).await else {
            return false;
        };
        let at = created.then(now_ms);
        if let Err(e) = forget_pending(self.obj, kv, p.version, p.slot_ms, false, at) {
            worker::console_error!("schedule {}: {e}", self.workflow_id);
        }
        true
    }

    /// Creates a pending run in its shard object, unless this object is no longer armed at
    /// the run's version (an undeploy or redeploy came in meanwhile); the shard executes it.
    /// Whether the shard recorded it (`false`: it stays pending, retried soon); `None` when no
    /// call was made (none needed, or `call` is false).
    async fn create_run(&self, kv: &SyncKv, p: &Pending, call: bool) -> Option<bool> {
        let slot = from_millis(p.slot_ms);
        let input = run_input(slot, from_millis(p.fired_ms), p.late);
        let key = dedup_key(slot);
        let live = match self.armed_at(kv, p.version) {
            Ok(live) => live,
            Err(e) => {
                worker::console_error!("schedule {}: {e}", self.workflow_id);
                false
            }
        };
        let Some(workflow_id) = WorkflowId::parse(&self.workflow_id).filter(|_| live) else {
            // Undeployed or redeployed meanwhile: the slot is given up, and counted so.
            self.forget(kv, p, true);
            return None;
        };
        // Created here already (its pending entry outlived the insert): nothing to send.
        if self.created_here_before(kv, &key) {
            self.forget(kv, p, false);
            return None;
        }
        if !call {
            return None;
        }
        let started = runs::client::start(
            self.obj.env(),
            &workflow_id,
            runs::DEFAULT_SHARDS,
            p.version,
            TriggerKind::Schedule.as_str(),
            &key,
            &input,
            None,
        )
        .await;
        let recorded = started.is_ok();
        match started {
            // Recorded (now or by an earlier try): no longer pending.
            Ok(started) => {
                self.forget(kv, p, false);
                if started.created {
                    // When the schedule last created a run (the API shows it).
                    if let Err(e) = kv.put_number(KEY_LAST_RUN, now_ms() as f64) {
                        worker::console_error!("schedule {}: {e}", self.workflow_id);
                    }
                }
            }
            Err(e) => {
                let e = match e {
                    runs::client::CreateError::Full(d)
                    | runs::client::CreateError::TooLarge(d)
                    | runs::client::CreateError::Deleted(d) => d,
                    runs::client::CreateError::Failed(e) => e.to_string(),
                };
                worker::console_error!(
                    "schedule {}: recording the run of {} failed, retrying: {e}",
                    self.workflow_id,
                    dedup_key(slot)
                );
                if let Err(e) = self.retry_soon(kv).await {
                    worker::console_error!("schedule {}: {e}", self.workflow_id);
                }
            }
        }
        Some(recorded)
    }

    /// Whether this object's own run table holds the run of `key` (only an object that holds
    /// runs is asked).
    fn created_here_before(&self, kv: &SyncKv, key: &str) -> bool {
        let obj = self.obj;
        let found = obj.holds_runs(kv).and_then(|holds| match holds {
            true => runs::handler::holds_key(obj.state(), obj.runs(), key),
            false => Ok(false),
        });
        found.unwrap_or_else(|e| {
            worker::console_error!("schedule {}: {e}", self.workflow_id);
            false
        })
    }

    /// Drops `p` from the stored pending runs, counted as skipped when `given_up` (errors are
    /// logged: a later wake then sends it again and its dedup key finds the run).
    fn forget(&self, kv: &SyncKv, p: &Pending, given_up: bool) {
        if let Err(e) = forget_pending(self.obj, kv, p.version, p.slot_ms, given_up, None) {
            worker::console_error!("schedule {}: {e}", self.workflow_id);
        }
    }

    /// Whether this object is still armed for the schedule at `version` (from the instance's
    /// copies of what it wrote last, else from storage).
    fn armed_at(&self, kv: &SyncKv, version: i64) -> Result<bool> {
        if self.obj.kind_now(kv)? != Some(TriggerKind::Schedule) {
            return Ok(false);
        }
        Ok(record_now(self.obj, kv)?.is_some_and(|a| a.version == version))
    }

    /// Brings the alarm forward so that the pending run is tried again soon (unless the object
    /// was disarmed or redeployed meanwhile).
    async fn retry_soon(&self, kv: &SyncKv) -> Result<()> {
        if !self.armed_at(kv, self.version)? {
            return Ok(());
        }
        let storage = self.obj.state().storage();
        let at = now_ms() + RETRY_MS;
        if storage
            .get_alarm()
            .await?
            .is_none_or(|current| current > at)
        {
            storage.set_alarm(from_millis(at)).await?;
            self.obj.schedule_alarm().set(Some(at));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_run_brings_the_alarm_forward_to_its_retry() {
        let now = 1_800_000_000_000;
        let day = 86_400_000;
        assert_eq!(alarm_at(Some(now + day), false, now), Some(now + day));
        assert_eq!(alarm_at(Some(now + day), true, now), Some(now + RETRY_MS));
        // A slot sooner than the retry stays first.
        assert_eq!(alarm_at(Some(now + 1_000), true, now), Some(now + 1_000));
        // No next slot (a schedule that ended): the retry alone, or no alarm.
        assert_eq!(alarm_at(None, true, now), Some(now + RETRY_MS));
        assert_eq!(alarm_at(None, false, now), None);
    }

    #[test]
    fn pending_runs_past_their_slot_follow_the_misfire_policy() {
        let now = 1_800_000_000_000;
        let pending = |ages: &[i64]| -> Vec<Pending> {
            ages.iter()
                .map(|age| Pending {
                    version: 1,
                    slot_ms: now - age,
                    fired_ms: now - age,
                    late: false,
                })
                .collect()
        };
        // 50 minutes of a shard that refused every create, and one fire 10 s ago.
        let ages: Vec<i64> = (0..100)
            .map(|i| 3_000_000 - i * 30_000)
            .chain([10_000])
            .collect();
        let mut skip = pending(&ages);
        assert_eq!(
            misfire_pending(&mut skip, Misfire::Skip, now, 60_000, None),
            98
        );
        assert_eq!(skip, pending(&[60_000, 30_000, 10_000]));
        let mut once = pending(&ages);
        assert_eq!(
            misfire_pending(&mut once, Misfire::RunOnce, now, 60_000, None),
            97
        );
        let newest_late = Pending {
            late: true,
            ..pending(&[60_000 + 30_000])[0].clone()
        };
        assert_eq!(
            once,
            [vec![newest_late], pending(&[60_000, 30_000, 10_000])].concat()
        );
        // Within the window: retries of on-time fires, whatever the policy.
        let mut fresh = pending(&[59_000, 5_000]);
        assert_eq!(
            misfire_pending(&mut fresh, Misfire::Skip, now, 60_000, None),
            0
        );
        assert_eq!(fresh, pending(&[59_000, 5_000]));
        // A wake that runs a newer missed slot late: under `run_once` that one is the newest
        // missed slot, and no older pending run is kept beside it.
        let mut once = pending(&ages);
        assert_eq!(
            misfire_pending(&mut once, Misfire::RunOnce, now, 60_000, Some(now - 61_000)),
            98
        );
        assert_eq!(once, pending(&[60_000, 30_000, 10_000]));
        // An older one runs late: the newest pending one stays.
        let mut once = pending(&ages);
        assert_eq!(
            misfire_pending(
                &mut once,
                Misfire::RunOnce,
                now,
                60_000,
                Some(now - 4_000_000)
            ),
            97
        );
    }

    #[test]
    fn the_armed_marks_and_trigger_read_back_as_written() {
        let armed = Armed {
            version: 3,
            anchor_ms: 5,
            handled_ms: Some(7),
            next_ms: None,
            pending: vec![Pending {
                version: 3,
                slot_ms: 9,
                fired_ms: 10,
                late: true,
            }],
            skipped_slots: 2,
            last_misfire: Some(json!({"at": "t"})),
            last_run_ms: Some(11),
        };
        let text = serde_json::to_string(&armed).unwrap();
        let back: Armed = json_parse::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        // Marks written before the later fields existed.
        let old: Armed = json_parse::from_str(r#"{"version":1,"anchor_ms":5}"#).unwrap();
        assert!(old.pending.is_empty() && old.skipped_slots == 0 && old.last_misfire.is_none());
        assert!(json_parse::from_str::<Armed>(r#"{"version":1}"#).is_err());
        assert!(
            json_parse::from_str::<Armed>(r#"{"version":1,"anchor_ms":5,"pending":[{}]}"#).is_err()
        );

        let t: StoredTrigger = json_parse::from_str(r#"{"version":2,"trigger":{"a":1}}"#).unwrap();
        assert_eq!((t.version, t.trigger), (2, json!({"a": 1})));
        assert!(json_parse::from_str::<StoredTrigger>(r#"{"version":2}"#).is_err());
    }

    /// A redeploy keeps the anchor of an unchanged every-N-days schedule (only the armed
    /// version's trigger counts), and then counts the slots before the deploy as dealt with;
    /// any other redeploy starts from its deploy instant, as before.
    #[test]
    fn a_redeploy_keeps_the_days_of_an_unchanged_schedule_and_runs_nothing_before_it() {
        let trigger = |schedule: Value| {
            ScheduleTrigger::from_json(&json!({"type": "schedule", "schedule": schedule}))
                .expect("a trigger")
        };
        let every_7 = json!({"kind": "daily", "every": 7, "at": "09:00"});
        let stored = |version: i64, schedule: &Value| StoredTrigger {
            version,
            trigger: trigger(schedule.clone()).to_json(),
        };
        let old = Armed {
            version: 1,
            anchor_ms: 1_000,
            handled_ms: Some(5_000),
            next_ms: Some(29_000),
            pending: Vec::new(),
            skipped_slots: 3,
            last_misfire: None,
            last_run_ms: Some(5_000),
        };
        let deployed_at = 20_000;
        let weekly = trigger(every_7.clone());
        let kept = old.clone().for_version(
            2,
            deployed_at,
            &weekly,
            Some(&stored(1, &every_7)),
            Some(60_000),
        );
        assert_eq!((kept.version, kept.anchor_ms), (2, 1_000));
        assert_eq!(kept.handled_ms, Some(deployed_at));
        assert_eq!((kept.next_ms, kept.skipped_slots), (None, 3));
        // The stored trigger of another version (an arm cut short wrote it): from the deploy.
        let other = old.clone().for_version(
            2,
            deployed_at,
            &weekly,
            Some(&stored(2, &every_7)),
            Some(60_000),
        );
        assert_eq!(
            (other.anchor_ms, other.handled_ms),
            (deployed_at, Some(5_000))
        );
        // Another schedule, or one that counts no days: from the deploy, marks as they were.
        let every_2 = json!({"kind": "daily", "every": 2, "at": "09:00"});
        let hourly = json!({"kind": "hourly", "minute": 5});
        for (schedule, earlier) in [(every_2, &every_7), (hourly.clone(), &hourly)] {
            let moved = old.clone().for_version(
                2,
                deployed_at,
                &trigger(schedule),
                Some(&stored(1, earlier)),
                Some(60_000),
            );
            assert_eq!(
                (moved.anchor_ms, moved.handled_ms),
                (deployed_at, Some(5_000))
            );
        }
    }

    /// The slot the earlier version's alarm was armed for, due before the deploy but not run
    /// (its alarm came after the deploy), runs after a redeploy of the same schedule and zone:
    /// the floor is just below it. Of another schedule, it is left, as before.
    #[test]
    fn a_redeploy_runs_the_slot_whose_alarm_it_overtook() {
        let trigger = |schedule: Value, zone: &str| {
            ScheduleTrigger::from_json(
                &json!({"type": "schedule", "schedule": schedule, "timezone": zone}),
            )
            .expect("a trigger")
        };
        let seconds = json!({"kind": "seconds", "every": 1});
        let every_7 = json!({"kind": "daily", "every": 7, "at": "09:00"});
        let stored = |t: &ScheduleTrigger| StoredTrigger {
            version: 1,
            trigger: t.to_json(),
        };
        let old = |next_ms: i64| Armed {
            version: 1,
            anchor_ms: 1_000,
            handled_ms: Some(18_000),
            next_ms: Some(next_ms),
            pending: Vec::new(),
            skipped_slots: 0,
            last_misfire: None,
            last_run_ms: Some(18_000),
        };
        let deployed_at = 19_003;
        let each_second = trigger(seconds.clone(), "UTC");
        let again = old(19_000).for_version(
            2,
            deployed_at,
            &each_second,
            Some(&stored(&each_second)),
            Some(60_000),
        );
        assert_eq!((again.anchor_ms, again.handled_ms), (18_999, Some(18_000)));
        let plan = each_second.wake(
            again.handled_ms.map(from_millis),
            from_millis(deployed_at),
            from_millis(again.anchor_ms),
            TimeDelta::seconds(60),
        );
        assert_eq!(plan.run, Some(from_millis(19_000)));
        // Every 7 days, unchanged: its days are kept, the slot still due.
        let weekly = trigger(every_7.clone(), "UTC");
        let kept = old(19_000).for_version(
            2,
            deployed_at,
            &weekly,
            Some(&stored(&weekly)),
            Some(60_000),
        );
        assert_eq!((kept.anchor_ms, kept.handled_ms), (1_000, Some(18_999)));
        // Its slot not due yet, or already run: nothing before the deploy.
        let later = old(20_000).for_version(
            2,
            deployed_at,
            &each_second,
            Some(&stored(&each_second)),
            Some(60_000),
        );
        assert_eq!(
            (later.anchor_ms, later.handled_ms),
            (deployed_at, Some(18_000))
        );
        let mut handled = old(19_000);
        handled.handled_ms = Some(19_000);
        let run = handled.for_version(
            2,
            deployed_at,
            &each_second,
            Some(&stored(&each_second)),
            Some(60_000),
        );
        assert_eq!(run.anchor_ms, deployed_at);
        // Another zone or schedule: from the deploy.
        let berlin = trigger(seconds, "Europe/Berlin");
        let moved = old(19_000).for_version(
            2,
            deployed_at,
            &berlin,
            Some(&stored(&each_second)),
            Some(60_000),
        );
        assert_eq!(
            (moved.anchor_ms, moved.handled_ms),
            (deployed_at, Some(18_000))
        );
        let daily = trigger(every_7, "UTC");
        let moved = old(19_000).for_version(
            2,
            deployed_at,
            &daily,
            Some(&stored(&each_second)),
            Some(60_000),
        );
        assert_eq!(moved.anchor_ms, deployed_at);
        // Not armed until the deploy (undeployed, or serving another trigger), or the slot
        // older than the grace: its alarm was not overtaken, and the slot stays dropped.
        let off = old(19_000).for_version(
            2,
            deployed_at,
            &each_second,
            Some(&stored(&each_second)),
            None,
        );
        assert_eq!((off.anchor_ms, off.handled_ms), (deployed_at, Some(18_000)));
        let within = old(19_000).for_version(
            2,
            deployed_at,
            &each_second,
            Some(&stored(&each_second)),
            Some(3),
        );
        assert_eq!(within.anchor_ms, 18_999);
        let too_old = old(19_000).for_version(
            2,
            deployed_at,
            &each_second,
            Some(&stored(&each_second)),
            Some(2),
        );
        assert_eq!(too_old.anchor_ms, deployed_at);
    }
}
