//! What a shard object keeps in memory between events: whether its tables exist, how to wake
//! its running executor, and the requests waiting for a run (a Response step's reply, a run's
//! end). The executor hands replies over here, never through storage polling.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use futures_channel::oneshot;
use serde_json::Value;

#[derive(Default)]
pub struct RunsInstance {
    /// The tables were created by this instance.
    pub ready: Cell<bool>,
    /// This instance has marked the object as holding runs (its alarm runs the executor).
    pub marked: Cell<bool>,
    /// Wakes the running executor: a run was created.
    wake: RefCell<Option<oneshot::Sender<()>>>,
    /// Requests waiting for a run, by run id: sent the raw reply (JSON `{status, headers, body}`)
    /// or `None` when the run ended without one.
    waiting: RefCell<HashMap<String, Vec<oneshot::Sender<Option<Value>>>>>,
}

impl RunsInstance {
    /// A receiver that fires when a run is created while the executor runs.
    pub fn wake_receiver(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.wake.replace(Some(tx));
        rx
    }

    /// Wakes the executor if it is waiting in this instance; `false` when none heard it (then
    /// the alarm must start one).
    pub fn wake(&self) -> bool {
        let tx = self.wake.borrow_mut().take();
        tx.is_some_and(|tx| tx.send(()).is_ok())
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
