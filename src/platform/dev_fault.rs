//! Faults a local test can inject (never honoured in production): `TRIPLINE_DEV_FAULTS` is a
//! comma-separated list of fault names, and a fault applies only to a request made to the
//! Worker on a loopback host (`wrangler dev`), which a deployed Worker never serves.
//!
//! - `arm`: the workflow's object refuses the deploy or undeploy call of an API request
//!   (503), as when the object is unreachable, so the call lands in the arm outbox.
//! - `batch-v1-shard1`: shard object 1 refuses a batch of new runs of version 1 (503), as
//!   when one shard fails while the others take their part of a poll's batch.

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
