//! The per-workflow Durable Object, in two roles told apart by its name: the timer object (named
//! by the workflow id) owns the workflow's timers (schedule alarms, polls) and cursors; the
//! shard objects (`{workflow_id}/{k}`, see `runs`) hold and execute its runs. One alarm per
//! object; what it does depends on the armed trigger, or, in a shard, on its runs. A timer
//! object may hold runs too: the schedule's runs it executed in place (see `schedule`).
//!
//! The Worker talks to it with [`Action`]s (see `action.rs`).

pub mod action;
pub mod endpoint_stats;
pub mod poll;
pub mod runs;
pub mod schedule;
pub mod sync_kv;
pub mod test_shelf;

use std::cell::RefCell;
use tripline_core::kernel::json_parse;

use worker::*;

pub use action::Action;

use crate::platform::d1_stats::{self, Kind};
use crate::platform::now_ms;
use crate::store;
use crate::store::workflows::WorkflowStatus;
use tripline_core::definition::TriggerKind;

/// Storage key: the workflow id this object belongs to.
pub const KEY_WORKFLOW: &str = "workflow_id";
/// Storage key: the live version and definition (see [`WorkflowObject::remember_live`]).
pub const KEY_LIVE: &str = "live";
/// What `KEY_LIVE` holds once the workflow is deleted: its trigger URL answers 404 from the
/// object, without reading D1 again for every request a sender keeps making.
pub const LIVE_DELETED: &str = r#"{"version":null,"deleted":true}"#;
/// Storage key: the trigger kind armed (`schedule` | `poll`), absent when disarmed.
pub const KEY_KIND: &str = "kind";

/// One object per workflow, addressed by the workflow id. The `worker` crate exports its
/// constructor and `fetch`; its `alarm` is exported below.
#[durable_object(fetch)]
pub struct WorkflowObject {
    state: State,
    env: Env,
    /// What storage holds under `KEY_KIND` (`None`: not read yet). Every write of the kind goes
    /// through [`WorkflowObject::set_kind`], so this instance's copy stays exact; an alarm then
    /// reads only its trigger's own record.
    kind: RefCell<Option<Option<TriggerKind>>>,
    /// `KEY_WORKFLOW` once known (the object is named by it, so it never changes).
    workflow: RefCell<Option<String>>,
    /// The schedule record as this instance last wrote it (see `schedule::on_alarm`).
    schedule: RefCell<Option<schedule::Armed>>,
    /// The slot whose run this instance is creating in place (`schedule::Followup`): no other
    /// wake sends it to its shard meanwhile.
    schedule_in_place: std::cell::Cell<Option<i64>>,
    /// The alarm the schedule last set in this instance (epoch ms): during an alarm, the one
    /// running, if this instance set it (see `schedule::wake`).
    schedule_alarm: std::cell::Cell<Option<i64>>,
    /// A shard object's runs in memory (waiters, executor state).
    runs: runs::instance::RunsInstance,
    /// Counts the deploy, reconcile and undeploy calls this instance began: one that sees the
    /// count move while it awaited D1 arms again from what D1 says then.
    arm_calls: std::cell::Cell<u64>,
    /// The synchronous storage API, looked up once per instance.
    kv: std::cell::OnceCell<sync_kv::SyncKv>,
}

/// Storage key: set in a shard object once it holds runs (its alarm runs the executor).
const KEY_RUNS: &str = "runs";
/// The delay of an alarm wanted at once. Not zero: an object's clock can still read the time of
/// the alarm running, and an alarm set to that time is taken as unchanged, then dropped when the
/// running one ends (locally it never fires; on Cloudflare it may wait until the object is next
/// disturbed). One millisecond later is always a change.
pub const AT_ONCE: std::time::Duration = std::time::Duration::from_millis(1);
/// Storage key: the dev fault `forget-once` refused this object's emptying once.
const KEY_FORGET_REFUSED: &str = "fault_forget_refused";
/// Storage key: the dev fault `test-forget-once` refused this object's last call of a delete
/// once (emptying the object forgets it).
const KEY_TEST_FORGET_REFUSED: &str = "fault_test_forget_refused";
/// Storage key: the dev fault `status-once` refused this object's status call once.
const KEY_STATUS_REFUSED: &str = "fault_status_refused";

/// The deployed version as the object sees it.
pub struct Deployed {
    pub workflow_id: String,
    pub version: i64,
    pub definition: std::rc::Rc<tripline_core::definition::Definition>,
    pub deployed_at_ms: i64,
}

impl WorkflowObject {
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The object's synchronous storage API.
    pub fn kv(&self) -> Result<&sync_kv::SyncKv> {
        if let Some(kv) = self.kv.get() {
            return Ok(kv);
        }
        let kv = sync_kv::SyncKv::new(&self.state.storage())?;
        Ok(self.kv.get_or_init(|| kv))
    }

    /// This instance's copy of the schedule record (`None`: read it from storage).
    pub fn schedule_record(&self) -> &RefCell<Option<schedule::Armed>> {
        &self.schedule
    }

    /// The slot whose run this instance is creating in place, if any (see `schedule`).
    pub fn schedule_in_place(&self) -> &std::cell::Cell<Option<i64>> {
        &self.schedule_in_place
    }

    /// The alarm the schedule last set in this instance, if any (see `schedule`).
    pub fn schedule_alarm(&self) -> &std::cell::Cell<Option<i64>> {
        &self.schedule_alarm
    }

    /// The workflow's deployed version from D1, `None` when not deployed.
    pub async fn deployed(&self, workflow_id: &str) -> Result<Option<Deployed>> {
        let db = store::db(&self.env)?;
        let Some(row) = store::workflows::get(&db, workflow_id).await? else {
            return Ok(None);
        };
        let (Some(version), WorkflowStatus::Deployed) = (row.deployed_version, row.status) else {
            return Ok(None);
        };
        // A deployed version this release cannot read (a rollback to a release older than one
        // of its fields) is an error, not "not deployed": the call is tried again and says why,
        // and the trigger goes on by itself once the version reads again, instead of being
        // disarmed while the catalog calls it deployed.
        let definition = crate::engine::version(&db, workflow_id, version)
            .await?
            .map_err(|why| Error::RustError(format!("workflow {workflow_id}: {why}")))?;
        let deployed_at_ms = row
            .deployed_at
            .as_deref()
            .and_then(tripline_core::kernel::time::parse_millis)
            .unwrap_or_else(now_ms);
        Ok(Some(Deployed {
            workflow_id: workflow_id.to_string(),
            version,
            definition,
            deployed_at_ms,
        }))
    }

    /// The workflow id this object serves (remembered on first contact).
    pub async fn workflow_id(&self) -> Option<String> {
        self.state
            .storage()
            .get::<String>(KEY_WORKFLOW)
            .await
            .ok()
            .flatten()
    }

    /// Writes the armed trigger kind (`None`: disarmed), in storage and in this instance.
    async fn set_kind(&self, kind: Option<TriggerKind>) -> Result<()> {
        // Unknown while the write is in flight (a failed write leaves it to be read again).
        self.kind.replace(None);
        match kind {
            Some(k) => self.state.storage().put(KEY_KIND, k.as_str()).await?,
            None => self.state.storage().delete(KEY_KIND).await.map(|_| ())?,
        }
        self.kind.replace(Some(kind));
        Ok(())
    }

    /// The armed trigger kind, read synchronously (from this instance once known).
    fn kind_now(&self, kv: &sync_kv::SyncKv) -> Result<Option<TriggerKind>> {
        if let Some(kind) = *self.kind.borrow() {
            return Ok(kind);
        }
        let kind = kv
            .get_string(KEY_KIND)?
            .as_deref()
            .and_then(TriggerKind::parse);
        self.kind.replace(Some(kind));
        Ok(kind)
    }

    /// The workflow id, read synchronously (from this instance once known).
    fn workflow_id_now(&self, kv: &sync_kv::SyncKv) -> Result<Option<String>> {
        if let Some(id) = self.workflow.borrow().clone() {
            return Ok(Some(id));
        }
        let id = kv.get_string(KEY_WORKFLOW)?;
        self.workflow.replace(id.clone());
        Ok(id)
    }

    /// Arms the trigger again from the catalog when its alarm is lost (see
    /// [`Action::CheckAlarm`]): an alarm whose handler failed every retry, or one the platform
    /// dropped, would otherwise leave a deployed schedule or poll silent for good. `deployed`:
    /// the catalog has this workflow deployed with a schedule or a poll (the Cron pass asks
    /// only those): then an object armed for no trigger missed its deploy (its call failed, and
    /// so did the write that would have retried it), and is armed from the catalog too.
    /// Whether it was lost.
    async fn keep_alarm(&self, deployed: Option<&str>) -> Result<bool> {
        let kv = self.kv()?;
        let Some(workflow_id) = self
            .workflow_id_now(kv)?
            .or_else(|| deployed.map(str::to_string))
        else {
            return Ok(false);
        };
        let lost = match self.kind_now(kv)? {
            // An armed schedule always has an alarm: its next slot, a retry, or a look again.
            Some(TriggerKind::Schedule) => self.state.storage().get_alarm().await?.is_none(),
            Some(TriggerKind::Poll) => poll::alarm_lost(self, &workflow_id).await?,
            None => deployed.is_some(),
            _ => false,
        };
        if lost {
            worker::console_error!(
                "workflow {workflow_id}: its trigger's alarm was lost; armed again from the catalog"
            );
            self.arm(&workflow_id, true).await?;
        }
        Ok(lost)
    }

    /// Clears the alarm; the trigger's own state (cursors, status) is kept. An object that holds
    /// runs keeps an alarm for their retention (its executor's, which re-arms for it).
    pub async fn disarm(&self) -> Result<()> {
        // The kind first: an alarm that fires from here on serves no trigger.
        self.set_kind(None).await?;
        let storage = self.state.storage();
        if self.holds_runs(self.kv()?)? {
            storage.set_alarm(AT_ONCE).await
        } else {
            storage.delete_alarm().await
        }
    }

    /// Whether this object holds runs (its storage has the mark; read once per instance).
    pub fn holds_runs(&self, kv: &sync_kv::SyncKv) -> Result<bool> {
        if let Some(holds) = self.runs.holds.get() {
            return Ok(holds);
        }
        let holds = kv.get_string(KEY_RUNS)?.is_some();
        self.runs.holds.set(Some(holds));
        Ok(holds)
    }

    /// Marks this object as holding runs of `workflow_id` (its alarm then keeps them: executor
    /// and retention), before its first run is stored.
    pub fn mark_runs(&self, kv: &sync_kv::SyncKv, workflow_id: &str) -> Result<()> {
        if self.runs.holds.get() != Some(true) {
            kv.put_string(KEY_RUNS, "1")?;
            // The alarm's work is counted for the workflow (`platform::d1_stats`).
            kv.put_string(KEY_WORKFLOW, workflow_id)?;
            self.runs.holds.set(Some(true));
        }
        Ok(())
    }

    /// The runs this object holds, with their tables (created once per instance).
    pub fn runs(&self) -> &runs::instance::RunsInstance {
        &self.runs
    }

    /// Deletes a bounded batch of expired runs held here, when due: a timer object's alarm
    /// serves its trigger first, and keeps the runs it holds this way.
    fn retention_if_due(&self, kv: &sync_kv::SyncKv) -> Result<()> {
        if !self.holds_runs(kv)? {
            return Ok(());
        }
        let now = now_ms();
        if self.runs.retention_due.get().is_some_and(|at| at > now) {
            return Ok(());
        }
        let sql = runs::handler::sql(&self.state, &self.runs)?;
        let due = runs::executor::retention(&runs::table::Table { sql: &sql }, &self.env, now)?;
        // No finished run now: none can expire before a full retention window from now.
        let due = due.unwrap_or(now + runs::limits::retention_ms(&self.env));
        self.runs.retention_due.set(Some(due));
        Ok(())
    }

    /// Arms from the deployed version (deploy and reconcile share this). A deploy and an
    /// undeploy sent at nearly the same time may reach the object in the other order than they
    /// reached D1, or overlap while one awaits D1: when another of these calls began meanwhile,
    /// this one arms again from what D1 says now, so the last to end matches the catalog.
    async fn arm(&self, workflow_id: &str, reconcile: bool) -> Result<Response> {
        let mut seen = self.begin_arm_call();
        let (mut answer, mut deleted) = self.arm_once(workflow_id, reconcile).await?;
        for _ in 0..ARM_AGAIN_MAX {
            let now = self.arm_calls.get();
            // Emptied for a deleted workflow: that emptying was the call seen, and any other
            // call that arms from the catalog finds the workflow deleted too.
            if now == seen || deleted {
                break;
            }
            seen = now;
            (answer, deleted) = self.arm_once(workflow_id, reconcile).await?;
        }
        Ok(answer)
    }

    /// Drops everything the object keeps (alarm, schedule or poll state, runs, test shelf). A
    /// deploy or reconcile still arming from what it read of D1 before reads it again after
    /// this.
    async fn empty(&self, workflow_id: &str) -> Result<()> {
        self.begin_arm_call();
        // Disarmed, a poll in progress starts no run; it ends before the storage goes.
        self.set_kind(None).await?;
        let _lock = poll::wait_for_lock(workflow_id).await;
        let storage = self.state.storage();
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        self.runs.reset();
        self.kind.replace(None);
        self.schedule.replace(None);
        Ok(())
    }

    /// A dev fault that refuses its call once per object (`TRIPLINE_DEV_FAULTS`): the 503 to
    /// answer the first time, kept in storage under `key` so that later calls go through.
    async fn refuse_once(&self, fault: &str, key: &str) -> Result<Option<Response>> {
        if !crate::platform::dev_fault::listed(&self.env, fault) {
            return Ok(None);
        }
        let storage = self.state.storage();
        if storage.get::<bool>(key).await?.is_some() {
            return Ok(None);
        }
        storage.put(key, true).await?;
        Response::error(
            format!("injected fault `{fault}` (TRIPLINE_DEV_FAULTS)"),
            503,
        )
        .map(Some)
    }

    /// Counts a deploy, reconcile or undeploy call beginning; the count after it.
    fn begin_arm_call(&self) -> u64 {
        let n = self.arm_calls.get() + 1;
        self.arm_calls.set(n);
        n
    }

    /// Arms from the catalog; with the answer, whether the catalog has no such workflow (the
    /// object was then emptied).
    async fn arm_once(&self, workflow_id: &str, reconcile: bool) -> Result<(Response, bool)> {
        self.state
            .storage()
            .put(KEY_WORKFLOW, workflow_id.to_string())
            .await?;
        // A workflow the catalog no longer has (a delete whose last call here failed, and the
        // Cron pass retries it; a deploy call that arrives after the delete): emptied, and
        // marked so that its URLs answer 404 and store nothing.
        if !self.remember_live(workflow_id).await? {
            self.forget_deleted(workflow_id).await?;
            return Ok((Response::ok("deleted")?, true));
        }
        let Some(deployed) = self.deployed(workflow_id).await? else {
            self.disarm().await?;
            return Ok((Response::ok("not deployed")?, false));
        };
        match deployed.definition.trigger.kind() {
            TriggerKind::Schedule => {
                // Whether an alarm of the schedule was armed until now (a redeploy may overtake
                // it, see `schedule::arm`).
                let was_armed = self.kind_now(self.kv()?)? == Some(TriggerKind::Schedule);
                self.set_kind(Some(TriggerKind::Schedule)).await?;
                schedule::arm(self, &deployed, reconcile, was_armed).await?;
            }
            TriggerKind::Poll => {
                self.set_kind(Some(TriggerKind::Poll)).await?;
                poll::arm(self, &deployed, reconcile).await?;
            }
            _ => self.disarm().await?,
        }
        Ok((Response::ok("armed")?, false))
    }
}

impl DurableObject for WorkflowObject {
    fn new(state: State, env: Env) -> Self {
        crate::platform::zone::install();
        d1_stats::enabled(&env);
        Self {
            state,
            env,
            kind: RefCell::new(None),
            workflow: RefCell::new(None),
            schedule: RefCell::new(None),
            schedule_in_place: Default::default(),
            schedule_alarm: Default::default(),
            runs: Default::default(),
            arm_calls: Default::default(),
            kv: std::cell::OnceCell::new(),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        let workflow_id = url
            .query_pairs()
            .find(|(k, _)| k == "workflow")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let Some(action) = Action::parse(url.path()) else {
            return Response::error("unknown object action", 404);
        };
        if matches!(action, Action::Status | Action::EndpointStats) {
            if let Some(refused) = self.refuse_once("status-once", KEY_STATUS_REFUSED).await? {
                return Ok(refused);
            }
        }
        if fault_asked(&url)
            && matches!(action, Action::Deploy | Action::Undeploy)
            && crate::platform::dev_fault::listed(&self.env, "arm")
        {
            return Response::error("injected fault `arm` (TRIPLINE_DEV_FAULTS)", 503);
        }
        // Local mode counts D1 statements by what asked for the action (`platform::d1_stats`).
        let kind = match action {
            Action::Reconcile | Action::CheckAlarm => Kind::Cron,
            Action::TestDraftGet | Action::TestPut => Kind::TestIngest,
            Action::SignatureFailure => Kind::Ingest,
            _ => Kind::Api,
        };
        let act = self.act(action, &workflow_id, &url, req);
        d1_stats::scope(kind, Some(&workflow_id), act).await
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl WorkflowObject {
    /// Creates a run in this shard object (see `runs::handler::create`): an RPC method,
    /// `createRun(workflowId, run)`, answering `[status, body]`. Every single run is created
    /// this way (a webhook's, a sign-in's, a schedule fire's sent to a shard, a replay); a poll's
    /// runs go in batches (`Action::RunCreateMany`). A method call builds no request or response
    /// on either side, which a `fetch` action does (`src/entry.js` exposes it to the Worker).
    #[wasm_bindgen(js_name = createRun)]
    pub fn create_run_entry(&self, workflow_id: String, run: String) -> wasm_bindgen::JsValue {
        // SAFETY: as for `alarm_entry`: the platform keeps the instance alive while the call
        // is unsettled, and the promise below (if any) settles before it can go.
        let this: &'static Self = unsafe { &*(self as *const Self) };
        settle_or_promise(Box::pin(async move {
            let create = async {
                let run: runs::handler::CreateRun = json_parse::from_str(&run)
                    .map_err(|e| Error::RustError(format!("a run to create: {e}")))?;
                this.mark_runs(this.kv()?, &workflow_id)?;
                runs::handler::create(&this.state, &this.env, &this.runs, run).await
            };
            // Creating a run, whatever the trigger: it must cost no D1.
            let answer = d1_stats::scope(Kind::Ingest, Some(&workflow_id), create).await?;
            Ok(js_sys::Array::of2(&answer.status.into(), &answer.text.into()).into())
        }))
    }

    /// The platform's alarm entry. An alarm that needs no event-loop turn (a schedule's wake
    /// that leaves no run to create: synchronous storage only) ends within this call and returns `undefined`, with no
    /// promise, task or microtask made for it; otherwise a promise of the rest. The platform
    /// ignores what an alarm resolves to.
    #[wasm_bindgen(js_name = alarm)]
    pub fn alarm_entry(&self) -> wasm_bindgen::JsValue {
        // SAFETY: the platform keeps a Durable Object's instance, and so this value, alive
        // while one of its events is unsettled: the promise below settles before it can go.
        // (An async export would hold a counted reference instead; a synchronous one cannot.)
        let this: &'static Self = unsafe { &*(self as *const Self) };
        settle_or_promise(Box::pin(async move {
            this.on_alarm()
                .await
                .map(|()| wasm_bindgen::JsValue::UNDEFINED)
                .map_err(wasm_bindgen::JsValue::from)
        }))
    }
}

/// Polls `fut` once: its value when it ended without waiting (a create that wrote and woke
/// synchronously, a schedule's fire), with no promise, task or microtask made for it;
/// otherwise a promise of the rest. Every poll, the first one included, gets the same waker,
/// which wakes the promise's task once there is one: a future that keeps only the first waker
/// it was given (a timer) still wakes the task that polls it later.
fn settle_or_promise(
    mut fut: futures_util::future::LocalBoxFuture<
        'static,
        std::result::Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>,
    >,
) -> wasm_bindgen::JsValue {
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    let forward = Arc::new(ForwardWaker::default());
    let waker = Waker::from(forward.clone());
    match fut.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(Ok(value)) => value,
        Poll::Ready(Err(e)) => js_sys::Promise::reject(&e).into(),
        Poll::Pending => wasm_bindgen_futures::future_to_promise(async move {
            let done = std::future::poll_fn(|cx| {
                forward.0.register(cx.waker());
                fut.as_mut().poll(&mut Context::from_waker(&waker))
            });
            std::panic::AssertUnwindSafe(done).await
        })
        .into(),
    }
}

/// A waker that wakes whichever task last registered with it (see `alarm_entry`); before any
/// did, a wake is dropped: the task polls once when it starts anyway.
#[derive(Default)]
struct ForwardWaker(futures_util::task::AtomicWaker);

impl std::task::Wake for ForwardWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.wake();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.wake();
    }
}

impl WorkflowObject {
    /// What the alarm does: serve the armed trigger, or the runs this object holds.
    async fn on_alarm(&self) -> Result<()> {
        // When the alarm started, before any await (a schedule run's `fired_at`).
        let started = now_ms();
        let kv = self.kv()?;
        let kind = self.kind_now(kv)?;
        let workflow_id = self.workflow_id_now(kv)?;
        let wf = workflow_id.clone();
        match kind {
            Some(TriggerKind::Schedule) => {
                let fire = schedule::on_alarm(self, kv, started, workflow_id);
                d1_stats::scope(Kind::Fire, wf.as_deref(), fire).await?;
                self.retention_if_due(kv)?;
            }
            Some(TriggerKind::Poll) => {
                d1_stats::scope(Kind::Poll, wf.as_deref(), poll::on_alarm(self)).await?;
                self.retention_if_due(kv)?;
            }
            _ if self.holds_runs(kv)? => {
                d1_stats::scope(Kind::Execute, wf.as_deref(), self.execute_runs()).await?
            }
            _ => {}
        }
        Ok(())
    }
}

impl WorkflowObject {
    /// A shard object's alarm: executes its due runs, then re-arms for the next deadline.
    async fn execute_runs(&self) -> Result<()> {
        let sql = runs::handler::sql(&self.state, &self.runs)?;
        let storage = self.state.storage();
        self.runs.alarm_due.set(None);
        // A watchdog: if this instance dies while executing, the alarm comes back
        // once the runs' leases have expired.
        storage
            .set_alarm(crate::engine::lease_ms(&self.env))
            .await?;
        let next = runs::executor::run(&self.env, &sql, &self.runs).await?;
        // A deploy while the executor ran armed a trigger, which set its own alarm (after the
        // watchdog's): that alarm stays, and the trigger's handler keeps retention going.
        if self.kind_now(self.kv()?)?.is_some() {
            return Ok(());
        }
        // A run created after the executor stopped claiming asked for an alarm: keep it.
        let next = match self.runs.alarm_due.get() {
            Some(_) => Some(now_ms()),
            None => next,
        };
        match next {
            Some(at) => storage.set_alarm((at - now_ms()).max(1)).await?,
            None => storage.delete_alarm().await?,
        }
        Ok(())
    }

    /// Keeps the live version and its definition (`{"version", "definition", "earlier_shards",
    /// "earlier_until_ms", "previous_shards", "live_since_ms"}`, `version` null when not deployed) for the trigger
    /// URL: a cache miss there asks this object, not D1. `false` when the catalog has no such
    /// workflow (nothing is kept then: see [`Self::forget_deleted`]).
    async fn remember_live(&self, workflow_id: &str) -> Result<bool> {
        let live = self.live_in_catalog(workflow_id).await?;
        if live == LIVE_DELETED {
            return Ok(false);
        }
        self.state.storage().put(KEY_LIVE, live).await?;
        Ok(true)
    }

    /// The workflow is deleted: empties this object (alarm, schedule, poll state, runs) and
    /// keeps only the marks that it was, so that its URLs answer 404 and its test URL stores
    /// nothing again.
    async fn forget_deleted(&self, workflow_id: &str) -> Result<()> {
        self.empty(workflow_id).await?;
        self.state.storage().put(KEY_LIVE, LIVE_DELETED).await?;
        test_shelf::mark_deleted(self)
    }

    /// What [`Self::remember_live`] keeps, as the catalog has it now.
    async fn live_in_catalog(&self, workflow_id: &str) -> Result<String> {
        // Earlier versions' shard counts, while retention keeps their runs (the trigger URL
        // asks those shards for a repeated key).
        // (Runs are kept a retention from their end, which comes after their version was
        // replaced: the same slack as `earlier_until_ms` below.)
        let runs_since = tripline_core::kernel::time::iso_millis(
            now_ms() - runs::limits::retention_ms(&self.env) - runs::EARLIER_SHARDS_SLACK_MS,
        );
        let db = store::db(&self.env)?;
        let served = self
            .state
            .storage()
            .get::<String>(KEY_LIVE)
            .await?
            .and_then(|t| json_parse::from_str::<serde_json::Value>(&t).ok());
        let now = now_ms();
        let live =
            match store::workflows::live_version_since(&db, workflow_id, &runs_since, "").await? {
                // Deleted: D1 answers that it does not exist.
                None => return Ok(LIVE_DELETED.to_string()),
                Some(r) if r.version.is_some() && r.definition.is_some() => {
                    // An isolate that read the version this object served keeps it for a few
                    // seconds after this object answers with the new one: a changed `shards`
                    // settles from now (`runs::placement`, `runs::settling`).
                    let shards = r
                        .definition
                        .as_deref()
                        .and_then(|t| json_parse::from_str::<serde_json::Value>(t).ok())
                        .map_or(1.0, |d| runs::shards_in(&d));
                    let (previous, since) = runs::settling(
                        served.as_ref(),
                        r.version.unwrap_or_default(),
                        shards,
                        r.previous_shards,
                        now,
                    );
                    serde_json::json!({
                        "version": r.version,
                        "definition": r.definition,
                        "earlier_shards": r.earlier_shards,
                        // The earlier versions' runs are past retention by then.
                        "earlier_until_ms": now + runs::limits::retention_ms(&self.env)
                            + runs::EARLIER_SHARDS_SLACK_MS,
                        "previous_shards": previous,
                        "live_since_ms": since,
                    })
                }
                Some(_) => serde_json::json!({ "version": null }),
            };
        Ok(live.to_string())
    }

    /// Does what an action asks.
    async fn act(
        &self,
        action: Action,
        workflow_id: &str,
        url: &Url,
        req: Request,
    ) -> Result<Response> {
        let workflow_id = workflow_id.to_string();
        match action {
            Action::Deploy => self.arm(&workflow_id, false).await,
            Action::Reconcile => self.arm(&workflow_id, true).await,
            Action::Undeploy => {
                self.begin_arm_call();
                if fault_asked(url)
                    && crate::platform::dev_fault::listed(&self.env, "undeploy-late")
                {
                    worker::Delay::from(std::time::Duration::from_secs(2)).await;
                }
                // Stop at once, then match the catalog: a deploy that reached D1 after this
                // undeploy, but this object before it, arms again.
                self.state
                    .storage()
                    .put(KEY_WORKFLOW, workflow_id.clone())
                    .await?;
                self.disarm().await?;
                // A poll in progress ends first: disarmed, it starts no run after this answers.
                drop(poll::wait_for_lock(&workflow_id).await);
                self.arm(&workflow_id, false).await
            }
            Action::PollReset => poll::handle(self, action, req).await,
            Action::ScheduleState => schedule::state(self).await,
            Action::CheckAlarm => match self.keep_alarm(Some(&workflow_id)).await? {
                true => Response::ok("set again"),
                false => Response::ok("ok"),
            },
            Action::DevLoseAlarm if runs::dev::enabled(&self.env) => {
                // After a poll under way, which re-arms when it ends.
                let _lock = poll::wait_for_lock(&workflow_id).await;
                self.state.storage().delete_alarm().await?;
                Response::ok("alarm deleted")
            }
            Action::DevPollCalls if runs::dev::enabled(&self.env) => {
                Response::from_json(&poll::wake_calls_seen(&workflow_id))
            }
            Action::DevLoseAlarm | Action::DevPollCalls => {
                Response::error("unknown object action", 404)
            }
            Action::RunForget => {
                let storage = self.state.storage();
                let shard_object = url
                    .query_pairs()
                    .any(|(k, v)| k == "shard" && v != runs::TIMER_SHARD.to_string());
                let fault = match shard_object {
                    true => "forget-shard-once",
                    false => "forget-once",
                };
                if crate::platform::dev_fault::listed(&self.env, fault)
                    && (shard_object
                        || storage.get::<String>(KEY_KIND).await?.as_deref() == Some("schedule"))
                {
                    if let Some(refused) = self.refuse_once(fault, KEY_FORGET_REFUSED).await? {
                        return Ok(refused);
                    }
                }
                self.empty(&workflow_id).await?;
                Response::ok("forgotten")
            }
            Action::Live => {
                let storage = self.state.storage();
                let mut live = storage.get::<String>(KEY_LIVE).await?;
                // Armed by a release before objects kept their live version: learnt once. An
                // object never armed (a workflow never deployed, an id no workflow has) knows
                // nothing and reads nothing.
                if live.is_none() && storage.get::<String>(KEY_WORKFLOW).await?.is_some() {
                    // Kept only if no deploy, undeploy or delete reached the object during the
                    // read (it would have kept a newer answer, or emptied the object).
                    let calls = self.arm_calls.get();
                    let learnt = self.live_in_catalog(&workflow_id).await?;
                    live = storage.get::<String>(KEY_LIVE).await?;
                    if live.is_none() && self.arm_calls.get() == calls {
                        storage.put(KEY_LIVE, learnt.clone()).await?;
                        live = Some(learnt);
                    }
                }
                match live {
                    Some(live) => Response::ok(live),
                    None => Response::error("unknown", 404),
                }
            }
            Action::Status => {
                // Reading the status finds a lost alarm too (and sets it again).
                if let Err(e) = self.keep_alarm(None).await {
                    worker::console_error!("workflow {workflow_id}: checking the alarm: {e}");
                }
                Response::from_json(&serde_json::json!({
                    "schedule": schedule::status(self).await?,
                    "poll": poll::status(self)?,
                }))
            }
            Action::TestForget => {
                if let Some(refused) = self
                    .refuse_once("test-forget-once", KEY_TEST_FORGET_REFUSED)
                    .await?
                {
                    return Ok(refused);
                }
                // The workflow's row is gone. Its object was emptied before, but a deploy
                // that read D1 in between may have armed it again: emptied once more, then
                // marked deleted.
                self.forget_deleted(&workflow_id).await?;
                Response::ok("forgotten")
            }
            Action::TestDraft
            | Action::TestDraftGet
            | Action::TestPut
            | Action::TestList
            | Action::TestGet => test_shelf::handle(self, action, url, req).await,
            Action::SignatureFailure | Action::EndpointStats => {
                let mut req = req;
                endpoint_stats::handle(self, action, req.text().await?)
            }
            Action::RunCreateMany | Action::RunMoveEnded => {
                self.mark_runs(self.kv()?, &workflow_id)?;
                runs::batch::create_many(&self.state, &self.env, &self.runs, req).await
            }
            // An object that never held runs answers without creating their tables.
            Action::RunFind | Action::RunGet if !self.holds_runs(self.kv()?)? => {
                Response::error("no such run", 404)
            }
            Action::RunList | Action::RunGetMany if !self.holds_runs(self.kv()?)? => {
                Response::from_json(&serde_json::json!({ "runs": [] }))
            }
            Action::RunHeldKeys if !self.holds_runs(self.kv()?)? => Response::ok("[]"),
            Action::RunFind => runs::handler::find(&self.state, &self.runs, req).await,
            Action::RunGetMany => {
                let mut req = req;
                runs::handler::get_many(&self.state, &self.runs, &req.text().await?)
            }
            Action::RunHeldKeys => runs::batch::held_keys(&self.state, &self.runs, req).await,
            Action::DevStaleWrite if runs::dev::enabled(&self.env) => {
                let q = |name: &str| {
                    url.query_pairs()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                };
                runs::dev::stale_write(
                    &self.state,
                    &self.runs,
                    &q("run").unwrap_or_default(),
                    q("attempts").and_then(|a| a.parse().ok()),
                )
            }
            Action::DevPlans if runs::dev::enabled(&self.env) => {
                runs::dev::plans(&self.state, &self.runs)
            }
            Action::DevClaims if runs::dev::enabled(&self.env) => {
                Response::from_json(&serde_json::json!({
                    "claims": self.runs.claims.get(),
                    "held_bytes_max": self.runs.held_bytes_max.get(),
                    "flight_bytes_max": self.runs.flight_bytes_max.get(),
                    "handed": self.runs.handed_total.get(),
                    "renewals": self.runs.renewals.get(),
                    "wakes": self.runs.wakes.get(),
                    "wake_calls_max": self.runs.wake_calls_max.get(),
                    "wake_runs_max": self.runs.wake_runs_max.get(),
                }))
            }
            Action::DevStaleWrite | Action::DevPlans | Action::DevClaims => {
                Response::error("unknown object action", 404)
            }
            Action::RunGet | Action::RunList => {
                let q = |name: &str| {
                    url.query_pairs()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                };
                if action == Action::RunGet {
                    runs::handler::get(&self.state, &self.runs, &q("run").unwrap_or_default())
                } else {
                    let limit = q("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
                    runs::handler::list(
                        &self.state,
                        &self.runs,
                        q("status").as_deref(),
                        q("trigger").as_deref(),
                        q("before").as_deref(),
                        limit,
                    )
                }
            }
        }
    }
}

/// Sends an action (without a body) to a workflow's object.
pub async fn notify(env: &Env, workflow_id: &str, action: Action) -> Result<()> {
    send(env, workflow_id, &action.url(workflow_id), action)
        .await
        .map(|_| ())
}

/// Sends a deploy or undeploy; `fault`: with the local fault `arm` on, the object refuses it
/// (see `platform::dev_fault`).
pub async fn notify_arm(env: &Env, workflow_id: &str, action: Action, fault: bool) -> Result<()> {
    let url = match fault {
        true => format!("{}&fault=1", action.url(workflow_id)),
        false => action.url(workflow_id),
    };
    send(env, workflow_id, &url, action).await.map(|_| ())
}

/// What the object keeps of its trigger's status: `{"schedule": …, "poll": …}` (each `null`
/// when the object never ran that trigger).
pub async fn status(env: &Env, workflow_id: &str) -> Result<serde_json::Value> {
    let text = send(
        env,
        workflow_id,
        &Action::Status.url(workflow_id),
        Action::Status,
    )
    .await?;
    json_parse::from_str(&text).map_err(|e| Error::RustError(format!("object status: {e}")))
}

/// Whether the Worker asked for its dev faults on this call (`fault=1`, see `notify_arm`).
fn fault_asked(url: &Url) -> bool {
    url.query_pairs().any(|(k, v)| k == "fault" && v == "1")
}

/// How many times a deploy, reconcile or undeploy call arms again when others overlap it.
const ARM_AGAIN_MAX: usize = 4;

/// A one-column row named `value`.
#[derive(serde::Deserialize)]
pub(crate) struct ValueRow {
    pub value: String,
}

/// An object's answer, its body read whole (see `platform::binding`).
pub struct Answer {
    pub status: u16,
    pub text: String,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        json_parse::from_str(&self.text)
            .map_err(|e| Error::RustError(format!("an object's answer: {e}")))
    }

    /// The answer's JSON, `None` for a 404; an error naming `what` failed for another 4xx/5xx.
    pub fn found<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<Option<T>> {
        match self.status {
            404 => Ok(None),
            s if s >= 400 => Err(Error::RustError(format!("{what} failed: {}", self.text))),
            _ => Ok(Some(self.json()?)),
        }
    }
}

/// An object's stub as the platform has it: its `createRun` method, and its `fetch` called as a
/// `platform::binding::Binding`.
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    type RawStub;
    /// The object's `createRun` method: a promise of `[status, body]`.
    #[wasm_bindgen(method, catch, js_name = createRun)]
    fn create_run(
        this: &RawStub,
        workflow_id: &str,
        run: &str,
    ) -> std::result::Result<js_sys::Promise, wasm_bindgen::JsValue>;
}

/// The stub of the object named `name`.
fn raw_stub(env: &Env, name: &str) -> Result<RawStub> {
    Ok(env
        .durable_object("WORKFLOW")?
        .get_by_name(name)?
        .into_rpc())
}

/// POSTs `url` (with an optional body) to the object named `name`.
pub async fn ask(env: &Env, name: &str, url: &str, body: Option<String>) -> Result<Answer> {
    use wasm_bindgen::JsCast;
    let stub = raw_stub(env, name)?;
    let (status, text) = crate::platform::binding::post(stub.unchecked_ref(), url, body).await?;
    Ok(Answer { status, text })
}

/// Creates a run in the object named `name` through its `createRun` method (see
/// [`WorkflowObject::create_run_entry`]); `run` is the run's JSON.
pub async fn ask_create(env: &Env, name: &str, workflow_id: &str, run: &str) -> Result<Answer> {
    let answer =
        wasm_bindgen_futures::JsFuture::from(raw_stub(env, name)?.create_run(workflow_id, run)?)
            .await?;
    let answer: js_sys::Array = answer.into();
    Ok(Answer {
        status: answer.get(0).as_f64().unwrap_or(0.0) as u16,
        text: answer.get(1).as_string().unwrap_or_default(),
    })
}

/// POSTs `url` to the workflow's object; its answer's body, or an error for a 4xx/5xx.
async fn send(env: &Env, workflow_id: &str, url: &str, action: Action) -> Result<String> {
    let answer = ask(env, workflow_id, url, None).await?;
    if answer.status >= 400 {
        return Err(Error::RustError(format!(
            "{} failed in the workflow object: {}",
            action.path(),
            answer.text
        )));
    }
    Ok(answer.text)
}

/// Sends an action (with an optional body) to a workflow's object and returns its answer; an
/// answer of 400 or more other than 404 is an error.
pub async fn call(
    env: &Env,
    workflow_id: &str,
    action: Action,
    body: Option<String>,
) -> Result<Answer> {
    call_url(env, workflow_id, &action.url(workflow_id), body).await
}

/// [`call`] with the action's URL given (an action with more parameters).
pub async fn call_url(
    env: &Env,
    workflow_id: &str,
    url: &str,
    body: Option<String>,
) -> Result<Answer> {
    let answer = ask(env, workflow_id, url, body).await?;
    if answer.status >= 400 && answer.status != 404 {
        return Err(Error::RustError(format!(
            "{url} failed in the workflow object ({}): {}",
            answer.status, answer.text
        )));
    }
    Ok(answer)
}

/// The live version as the workflow's object last learnt it at a deploy or undeploy:
/// `Some({"version": n | null, "definition": text})`, `None` when the object was never armed (a
/// workflow never deployed, or no workflow at all). An object armed before objects kept it
/// learns it from D1 at the first ask.
pub async fn live(env: &Env, workflow_id: &str) -> Result<Option<serde_json::Value>> {
    let answer = call(env, workflow_id, Action::Live, None).await?;
    if answer.status == 404 {
        return Ok(None);
    }
    Ok(json_parse::from_str(&answer.text).ok())
}
