//! Faults a local test can inject: `TRIPLINE_DEV_FAULTS` is a comma-separated list of fault
//! names (a var for tests only). A fault of an incoming request applies only to a request made
//! to the Worker on a loopback host (`wrangler dev`), which a deployed Worker never serves.
//!
//! - `arm`: the workflow's object refuses the deploy or undeploy call of an API request
//!   (503), as when the object is unreachable, so the call lands in the arm outbox.
//! - `undeploy-late`: the workflow's object waits 2 s before it handles the undeploy call of
//!   an API request, as when that call is slow and a deploy sent after it arrives first.
//! - `catalog-only`: a deploy or undeploy of an API request stops right after its write to the
//!   catalog (500), before it calls the workflow's object, as when the Worker is stopped there;
//!   the call written to the arm outbox with the catalog's change is left to the Cron pass.
//! - `deploy-late`: a deploy of an API request waits 2 s after it checked the draft, before it
//!   freezes it, as when a save arrives while the draft is checked.
//! - `detect-late`: `detect-schema` with `apply` waits 2 s before it writes the draft, as when
//!   a save arrives while the schema is detected.
//! - `batch-v1-shard1`: shard object 1 refuses a batch of new runs of version 1 (503), as
//!   when one shard fails while the others take their part of a poll's batch. A call between
//!   objects has no host to check, so this one is honoured wherever the var is set: the var
//!   is for tests only.
//! - `move-v1`: a shard object refuses a batch of runs of version 1 moved from D1 by the Cron
//!   pass (503), as when a shard keeps failing the move of some runs. Honoured wherever the var
//!   is set, as the previous one.
//! - `forget-once`: a schedule's timer object refuses the first call that empties it (503),
//!   as when a delete cannot reach it; the next call empties it. Honoured wherever the var is
//!   set, as the previous one.
//! - `forget-shard-once`: each of a workflow's shard objects refuses the first call that
//!   empties it (503), as when a delete cannot reach one; the next call empties it.
//!   Honoured wherever the var is set.
//! - `test-forget-once`: a workflow's object refuses the first call that clears it after its
//!   row was deleted (503), as when a delete's last call cannot reach it. Honoured wherever the
//!   var is set.
//! - `status-once`: a workflow's object refuses the first call for its live state (a
//!   schedule's or poll's status, an endpoint's counters) (503), as when a workflow's `GET`
//!   cannot reach its object; the next call answers. Honoured wherever the var is set.
//! - `short-polls`: a poll (its batches, an HTTP source's pages) stops after 2 s instead of
//!   25 s and goes on at once, as a walk over pages slower than a poll may read. Honoured
//!   wherever the var is set.
//! - `short-wakes`: a shard object's executor claims runs for 3 s of a wake instead of 9
//!   minutes, and starts no step that could end more than 8 s after the wake began instead of
//!   14 minutes, so that runs stop at a wake's end and go on in the next. Honoured wherever
//!   the var is set.
//! - `oauth-run`: a sign-in's run is not started, as when its shard object does not answer
//!   (the callback asks twice, then answers that the run may not have started).
//! - `refresh-save-once`: the first attempt to store each refreshed connection's new tokens
//!   fails, as on a passing database error (the save is tried again). Honoured wherever the
//!   var is set.
//! - `signin-save-once`: the first attempt to store each sign-in's connection fails, as on a
//!   passing database error (the save is tried again). Honoured wherever the var is set.
//! - `connection-read-once`: the first read of an end user's OAuth connection by a run in an
//!   isolate fails, as on a passing database error (the run is tried again). Honoured
//!   wherever the var is set.

use worker::{Env, Request};

/// Whether the fault `name` is on for this request.
pub fn on(env: &Env, req: &Request, name: &str) -> bool {
    let local = req
        .url()
        .ok()
        .is_some_and(|u| matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")));
    local && listed(env, name)
}

/// Whether `TRIPLINE_DEV_FAULTS` names `name` (the object's half of the check: it serves no
/// outside request, so it trusts the Worker's loopback check).
pub fn listed(env: &Env, name: &str) -> bool {
    super::env_string(env, "TRIPLINE_DEV_FAULTS")
        .is_some_and(|v| v.split(',').any(|f| f.trim() == name))
}
