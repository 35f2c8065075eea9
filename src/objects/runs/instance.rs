//! What a shard object keeps in memory between events: whether its tables exist, how to wake
//! its running executor, and the requests waiting for a run (a Response step's reply, a run's
//! end). The executor hands replies over here, never through storage polling.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

use futures_channel::oneshot;
use serde_json::Value;

use super::table::Claimed;

/// How often the storage size is read at most, while far from the limit.
const SIZE_READ_MS: i64 = 30_000;
/// Bytes of storage counted per byte of a run's values, between two reads of the size.
const SIZE_GROWTH: f64 = 3.0;
/// How long an alarm set to start an executor may stay unfired before a new run sets it again:
/// an alarm whose handler failed every retry never comes, and runs must not wait for it.
const ALARM_LATE_MS: i64 = 60_000;

#[derive(Default)]
pub struct RunsInstance {
    /// The tables were created by this instance.
    pub ready: Cell<bool>,
    /// How often this instance's storage was emptied (the workflow was deleted, see
    /// [`Self::reset`]): an execution begun before then starts no step and writes nothing.
    pub emptied: Cell<u64>,
    /// Whether the object holds runs (its storage's mark, see `WorkflowObject::holds_runs`):
    /// `None` until this instance read or wrote the mark.
    pub holds: Cell<Option<bool>>,
    /// When an alarm was set to start the executor, while it has not fired yet.
    pub alarm_due: Cell<Option<i64>>,
    /// When the running executor's wake began (its steps must end within the alarm's wall
    /// time, see `executor::WALL_MS`).
    pub wake_started: Cell<i64>,
    /// Outbound calls the running wake made, and how many it may make (see
    /// `limits::wake_calls`).
    wake_calls: Cell<(u64, u64)>,
    /// Runs the running wake started, and how many it may start (see `limits::wake_runs`).
    wake_runs: Cell<(u64, u64)>,
    /// Wakes of the executor in this instance, and the most outbound calls and runs one of
    /// them made and started (read by a dev-only action).
    pub wakes: Cell<u64>,
    pub wake_calls_max: Cell<u64>,
    pub wake_runs_max: Cell<u64>,
    /// When retention must next delete runs, as last looked up (`None`: not known, or no
    /// finished run then). A run finishing later expires after every run already finished, so
    /// it cannot make that time earlier; a finished run moved here from D1 can, and forgets it.
    pub retention_due: Cell<Option<i64>>,
    /// The storage size last read, when, and the bytes of runs offered since (see
    /// `storage_full`).
    size_seen: Cell<Option<(i64, f64, f64)>>,
    /// Wakes the running executor: a run was created.
    wake: RefCell<Option<oneshot::Sender<()>>>,
    /// Whether the running executor could act on a new run now (it has a free slot): when
    /// not, it is not woken, and looks when one of its runs ends.
    wake_wanted: Cell<bool>,
    /// Runs were created since the executor last claimed (see `take_created`).
    created: Cell<bool>,
    /// The longest worst case of a step that reaches out seen in this object's runs.
    slowest_step: Cell<i64>,
    /// Requests waiting for a run, by run id: sent the raw reply (JSON `{status, headers, body}`)
    /// or `None` when the run ended without one.
    waiting: RefCell<HashMap<String, Vec<oneshot::Sender<Option<Value>>>>>,
    /// Claim statements the executor ran in this instance (read by a dev-only action).
    pub claims: Cell<u64>,
    /// The most bytes of claimed runs held at once for a free slot (read by the same action).
    pub held_bytes_max: Cell<i64>,
    /// The most bytes of runs executing at once (read by the same action).
    pub flight_bytes_max: Cell<i64>,
    /// Runs handed to the running executor at their create (read by the same action).
    pub handed_total: Cell<u64>,
    /// Held runs whose lease was renewed when their slot came (read by the same action).
    pub renewals: Cell<u64>,
    /// New runs stored already claimed and handed to the executor in memory, oldest first.
    handed: RefCell<VecDeque<Claimed>>,
    /// How many more runs, and how many bytes of them, the running executor takes by hand
    /// (see [`Self::hand_over`]), and until when: none while no executor runs, and none while a
    /// stored run is due (a run stored queued waits for a claim, and a newer run must not pass
    /// it), nor from the instant a stored lease runs out (that run falls due then).
    room: Cell<(usize, i64, i64)>,
}

/// Whether a new run must set the alarm that starts an executor, given when one was set
/// (`due_since`) and not fired yet: when none was, or it is [`ALARM_LATE_MS`] late.
fn alarm_wanted(due_since: Option<i64>, now_ms: i64) -> bool {
    due_since.is_none_or(|at| now_ms - at >= ALARM_LATE_MS)
}

impl RunsInstance {
    /// A receiver that fires when a run is created while the executor runs, and it has a free
    /// slot (`wanted`); without one, news waits until one of its runs ends.
    pub fn wake_receiver(&self, wanted: bool) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.wake.replace(Some(tx));
        self.wake_wanted.set(wanted);
        rx
    }

    /// Whether runs were created since the last call: the executor claims again only then, when
    /// its last claim filled every free slot, or when a lease may have expired.
    pub fn take_created(&self) -> bool {
        self.created.replace(false)
    }

    /// Notes that a step of this object's runs may take `worst_case_ms`.
    pub fn reaches_out(&self, worst_case_ms: i64) {
        self.slowest_step
            .set(self.slowest_step.get().max(worst_case_ms));
    }

    /// A wake of the executor begins: it may make `calls` outbound calls and start `runs` runs.
    pub fn begin_wake(&self, calls: u64, runs: u64) {
        self.wake_calls.set((0, calls));
        self.wake_runs.set((0, runs));
        self.wakes.set(self.wakes.get() + 1);
    }

    /// How many more runs the running wake may start.
    pub fn runs_left(&self) -> u64 {
        let (started, budget) = self.wake_runs.get();
        budget.saturating_sub(started)
    }

    /// Counts a run the wake starts.
    pub fn count_run(&self) {
        let (started, budget) = self.wake_runs.get();
        self.wake_runs.set((started + 1, budget));
        self.wake_runs_max
            .set(self.wake_runs_max.get().max(started + 1));
    }

    /// Whether the running wake has made its calls or started its runs: it takes no more runs,
    /// hands back those it holds, and ends once its runs in flight have.
    pub fn spent(&self) -> bool {
        !self.calls_left() || self.runs_left() == 0
    }

    /// Whether the running wake may still make an outbound call.
    pub fn calls_left(&self) -> bool {
        let (made, budget) = self.wake_calls.get();
        made < budget
    }

    /// Takes one of the wake's outbound calls for a step about to reach out: `false` when none
    /// is left (the run stops before the step, for the next wake).
    pub fn take_call(&self) -> bool {
        if !self.calls_left() {
            return false;
        }
        self.count_call();
        true
    }

    /// Counts an outbound call the wake makes anyway: a retry of a step already started.
    pub fn count_call(&self) {
        let (made, budget) = self.wake_calls.get();
        self.wake_calls.set((made + 1, budget));
        self.wake_calls_max
            .set(self.wake_calls_max.get().max(made + 1));
    }

    /// What a claim adds to the lease so that a run's first step that reaches out needs no
    /// lease extension: the slowest such step seen here, unless it is longer than `4 × lease`
    /// (a claim's lease also bounds how long a run waits after a crash before it resumes).
    pub fn step_lease(&self, lease: i64) -> i64 {
        match self.slowest_step.get() {
            s if s <= 4 * lease => s,
            _ => 0,
        }
    }

    /// Wakes the executor if it is waiting in this instance; `false` when none heard it (then
    /// the alarm must start one).
    fn wake(&self) -> bool {
        let mut slot = self.wake.borrow_mut();
        if !self.wake_wanted.get() && slot.as_ref().is_some_and(|tx| !tx.is_canceled()) {
            // Every slot is busy: it looks at news when a run ends.
            return true;
        }
        slot.take().is_some_and(|tx| tx.send(()).is_ok())
    }

    /// Hands new runs to the executor: wakes the one running here, or sets the alarm that
    /// starts one (once: until it fires, later runs wait for the same alarm).
    pub async fn start_executor(&self, state: &worker::State) -> worker::Result<()> {
        self.created.set(true);
        // A run stored `queued` waits for a claim: no newer run is handed over before it.
        self.room.set((0, 0, 0));
        if !self.wake() {
            self.arm(state).await?;
        }
        Ok(())
    }

    /// Sets the alarm that starts an executor, unless one is due. Marked due only once set: a
    /// `set_alarm` that failed leaves the next create to try again, instead of waiting for an
    /// alarm that was never set; nor is an alarm waited for that is late (see
    /// [`alarm_wanted`]).
    async fn arm(&self, state: &worker::State) -> worker::Result<()> {
        let now = crate::platform::now_ms();
        if alarm_wanted(self.alarm_due.get(), now) {
            state.storage().set_alarm(crate::objects::AT_ONCE).await?;
            self.alarm_due.set(Some(now));
        }
        Ok(())
    }

    /// Whether the running executor takes a new run of `bytes` by hand at `now_ms`.
    pub fn has_room(&self, bytes: i64, now_ms: i64) -> bool {
        let (runs, free, until) = self.room.get();
        runs > 0 && bytes <= free && now_ms < until
    }

    /// What the executor takes by hand, before `until`, until it says otherwise (`(0, 0, 0)`:
    /// nothing).
    pub fn set_room(&self, runs: usize, bytes: i64, until: i64) {
        self.room.set((runs, bytes, until));
    }

    /// Hands a new run, stored already claimed, to the running executor (after
    /// [`Self::has_room`] said it takes it): it executes without a claim statement reading it
    /// back. Should this instance die first, its lease expires and a claim takes it.
    pub fn hand_over(&self, claimed: Claimed) {
        let (runs, free, until) = self.room.get();
        self.room
            .set((runs.saturating_sub(1), free - claimed.bytes, until));
        self.handed.borrow_mut().push_back(claimed);
        self.handed_total.set(self.handed_total.get() + 1);
        // `false`: the executor was already woken and has not looked yet; it takes this one too.
        self.wake();
    }

    /// The runs handed over since the last call, oldest first.
    pub fn take_handed(&self) -> VecDeque<Claimed> {
        std::mem::take(&mut *self.handed.borrow_mut())
    }

    /// Makes sure an executor passes here once, for a run that ended at its create: retention
    /// looks at finished runs when an executor stops. Nothing to do while one runs here; else
    /// the alarm starts one (once). Unlike [`Self::start_executor`], no claim is asked for:
    /// under a stream of such runs a lingering executor would otherwise run a claim statement,
    /// which finds nothing, for every one of them.
    pub async fn start_for_retention(&self, state: &worker::State) -> worker::Result<()> {
        let running = self
            .wake
            .borrow()
            .as_ref()
            .is_some_and(|tx| !tx.is_canceled());
        if !running {
            self.arm(state).await?;
        }
        Ok(())
    }

    /// Forgets what this instance knew of its storage (the storage was emptied): the runs
    /// handed over are dropped, and every request waiting for a run is told it ended.
    pub fn reset(&self) {
        self.emptied.set(self.emptied.get() + 1);
        self.handed.borrow_mut().clear();
        let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
        for tx in waiting.into_values().flatten() {
            let _ = tx.send(None);
        }
        self.ready.set(false);
        self.holds.set(None);
        self.alarm_due.set(None);
        self.retention_due.set(None);
        self.size_seen.set(None);
        self.room.set((0, 0, 0));
    }

    /// Whether the object's storage is above `limit` bytes, about to take `incoming` more. The
    /// size is read again at most every [`SIZE_READ_MS`], unless what was written since (new
    /// runs and executions' records, each byte counted [`SIZE_GROWTH`] times for its row and
    /// indexes) could have reached the limit: then at every call, so the boundary is exact where it matters. Reading the
    /// size costs as much as a run's insert.
    pub fn storage_full(&self, sql: &worker::SqlStorage, limit: f64, incoming: usize) -> bool {
        let now = crate::platform::now_ms();
        let incoming = incoming as f64 * SIZE_GROWTH;
        let size = match self.size_seen.get() {
            Some((at, size, added))
                if now - at < SIZE_READ_MS && size + added + incoming <= limit =>
            {
                self.size_seen.set(Some((at, size, added + incoming)));
                size + added
            }
            _ => {
                let size = super::limits::database_size(sql);
                self.size_seen.set(Some((now, size, incoming)));
                size
            }
        };
        size > limit
    }

    /// Counts `bytes` written by an execution (step records, a reply) towards the size
    /// estimate of `storage_full`.
    pub fn grew(&self, bytes: usize) {
        if let Some((at, size, added)) = self.size_seen.get() {
            self.size_seen
                .set(Some((at, size, added + bytes as f64 * SIZE_GROWTH)));
        }
    }

    /// Waits for news of `run_id` (see `notify`).
    pub fn wait_for(&self, run_id: &str) -> oneshot::Receiver<Option<Value>> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .borrow_mut()
            .entry(run_id.to_string())
            .or_default()
            .push(tx);
        rx
    }

    /// Hands `reply` (or the run's end, `None`) to every request waiting for `run_id`.
    pub fn notify(&self, run_id: &str, reply: Option<Value>) {
        let waiting = self.waiting.borrow_mut().remove(run_id);
        for tx in waiting.into_iter().flatten() {
            let _ = tx.send(reply.clone());
        }
    }

    /// Forgets waiters that gave up (their receivers were dropped).
    pub fn prune(&self, run_id: &str) {
        let mut waiting = self.waiting.borrow_mut();
        if let Some(list) = waiting.get_mut(run_id) {
            list.retain(|tx| !tx.is_canceled());
            if list.is_empty() {
                waiting.remove(run_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_is_set_when_none_is_due_or_the_due_one_is_late() {
        assert!(alarm_wanted(None, 5_000));
        assert!(!alarm_wanted(Some(5_000), 5_000));
        assert!(!alarm_wanted(Some(5_000), 5_000 + ALARM_LATE_MS - 1));
        assert!(alarm_wanted(Some(5_000), 5_000 + ALARM_LATE_MS));
    }
}
