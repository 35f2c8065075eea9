//! The per-workflow Durable Object, in two roles told apart by its name: the timer object (named
//! by the workflow id) owns the workflow's timers (schedule alarms, polls) and cursors; the
//! shard objects (`{workflow_id}/{k}`, see `runs`) hold and execute its runs. One alarm per
//! object; what it does depends on the armed trigger, or, in a shard, on its runs.
//!
//! The Worker talks to it with [`Action`]s (see `action.rs`).

pub mod action;
pub mod poll;
pub mod runs;
pub mod schedule;
pub mod sync_kv;

use std::cell::RefCell;

use worker::*;

pub use action::Action;

use crate::platform::now_ms;
use crate::store;
use crate::store::workflows::WorkflowStatus;
use tripline_core::definition::TriggerKind;
use tripline_core::kernel::time::iso_millis;

/// Storage key: the workflow id this object belongs to.
pub const KEY_WORKFLOW: &str = "workflow_id";
/// Storage key: the trigger kind armed (`schedule` | `poll`), absent when disarmed.
pub const KEY_KIND: &str = "kind";

/// One object per workflow, addressed by the workflow id.
#[durable_object]
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
    /// A shard object's runs in memory (waiters, executor state).
    runs: runs::instance::RunsInstance,
}

/// Storage key: set in a shard object once it holds runs (its alarm runs the executor).
const KEY_RUNS: &str = "runs";

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

    /// This instance's copy of the schedule record (`None`: read it from storage).
    pub fn schedule_record(&self) -> &RefCell<Option<schedule::Armed>> {
        &self.schedule
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
        let Ok(definition) = crate::engine::version(&db, workflow_id, version).await? else {
            return Ok(None);
        };
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

    /// Records the armed alarm in D1 for the reconciler.
    pub async fn record_timer(&self, kind: TriggerKind, version: i64, next_at: i64) -> Result<()> {
        let Some(id) = self.workflow_id().await else {
            return Ok(());
        };
        store::timers::upsert(
            &store::db(&self.env)?,
            &id,
            kind.as_str(),
            version,
            next_at,
            &iso_millis(now_ms()),
        )
        .await
    }

    /// Clears the alarm and the timer row; the trigger's own state (cursors) is kept.
    pub async fn disarm(&self) -> Result<()> {
        self.state.storage().delete_alarm().await?;
        self.set_kind(None).await?;
        if let Some(id) = self.workflow_id().await {
            store::timers::delete(&store::db(&self.env)?, &id).await?;
        }
        Ok(())
    }

    /// Arms from the deployed version (deploy and reconcile share this).
    async fn arm(&self, workflow_id: &str, reconcile: bool) -> Result<Response> {
        self.state
            .storage()
            .put(KEY_WORKFLOW, workflow_id.to_string())
            .await?;
        let Some(deployed) = self.deployed(workflow_id).await? else {
            self.disarm().await?;
            return Response::ok("not deployed");
        };
        match deployed.definition.trigger.kind() {
            TriggerKind::Schedule => {
                self.set_kind(Some(TriggerKind::Schedule)).await?;
                schedule::arm(self, &deployed, reconcile).await?;
            }
            TriggerKind::Poll => {
                self.set_kind(Some(TriggerKind::Poll)).await?;
                poll::arm(self, &deployed, reconcile).await?;
            }
            _ => self.disarm().await?,
        }
        Response::ok("armed")
    }
}

impl DurableObject for WorkflowObject {
    fn new(state: State, env: Env) -> Self {
        crate::platform::zone::install();
        Self {
            state,
            env,
            kind: RefCell::new(None),
            workflow: RefCell::new(None),
            schedule: RefCell::new(None),
            runs: Default::default(),
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
        match action {
            Action::Deploy => self.arm(&workflow_id, false).await,
            Action::Reconcile => self.arm(&workflow_id, true).await,
            Action::Undeploy => {
                self.state
                    .storage()
                    .put(KEY_WORKFLOW, workflow_id.clone())
                    .await?;
                self.disarm().await?;
                Response::ok("disarmed")
            }
            Action::PollReset | Action::PollForget => poll::handle(self, action, req).await,
            Action::ScheduleState => schedule::state(self).await,
            Action::RunCreate | Action::RunCreateMany => {
                if !self.runs.marked.get() {
                    sync_kv::SyncKv::new(&self.state.storage())?.put_string(KEY_RUNS, "1")?;
                    self.runs.marked.set(true);
                }
                if action == Action::RunCreate {
                    runs::handler::create(&self.state, &self.env, &self.runs, req).await
                } else {
                    runs::batch::create_many(&self.state, &self.env, &self.runs, req).await
                }
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

    async fn alarm(&self) -> Result<Response> {
        // When the alarm started, before any await (a schedule run's `fired_at`).
        let started = now_ms();
        let kv = sync_kv::SyncKv::new(&self.state.storage())?;
        match self.kind_now(&kv)? {
            Some(TriggerKind::Schedule) => {
                let workflow_id = self.workflow_id_now(&kv)?;
                schedule::on_alarm(self, &kv, started, workflow_id).await?
            }
            Some(TriggerKind::Poll) => poll::on_alarm(self).await?,
            _ if kv.get_string(KEY_RUNS)?.is_some() => {
                let sql = runs::handler::sql(&self.state, &self.runs)?;
                let storage = self.state.storage();
                // A watchdog: if this instance dies while executing, the alarm comes back
                // once the runs' leases have expired.
                storage
                    .set_alarm(crate::engine::lease_ms(&self.env))
                    .await?;
                match runs::executor::run(&self.env, &sql, &self.runs).await? {
                    Some(at) => storage.set_alarm((at - now_ms()).max(0)).await?,
                    None => storage.delete_alarm().await?,
                }
            }
            _ => {}
        }
        Response::ok("ok")
    }
}

/// Sends an action (without a body) to a workflow's object.
pub async fn notify(env: &Env, workflow_id: &str, action: Action) -> Result<()> {
    let stub = env.durable_object("WORKFLOW")?.get_by_name(workflow_id)?;
    let req = Request::new(&action.url(workflow_id), Method::Post)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() >= 400 {
        let body = resp.text().await.unwrap_or_default();
        return Err(Error::RustError(format!(
            "{} failed in the workflow object: {body}",
            action.path()
        )));
    }
    Ok(())
}
