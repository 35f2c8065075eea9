//! Tripline: workflow triggers at the edge. Entry points only; see `api`, `engine`, `objects`.

pub mod api;
pub mod engine;
pub mod objects;
pub mod platform;
pub mod sources;
pub mod store;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

pub use objects::WorkflowObject;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    Ok(api::handle(req, env, ctx).await)
}

/// The Cron Trigger (every minute): the reconciler.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match engine::reconcile::reconcile_timers(&env).await {
        Ok(n) => worker::console_log!("reconcile: re-armed {n} timers"),
        Err(e) => worker::console_error!("reconcile timers failed: {e}"),
    }
    match engine::reconcile::reconcile_runs(&env).await {
        Ok(r) => worker::console_log!(
            "reconcile: resumed {} runs, deleted {} old runs",
            r.resumed,
            r.deleted
        ),
        Err(e) => worker::console_error!("reconcile failed: {e}"),
    }
    match engine::reconcile::reconcile_connections(&env).await {
        Ok(r) => worker::console_log!(
            "reconcile: refreshed {} OAuth connections, {} need re-auth, {} failed, {} expired states dropped",
            r.refreshed,
            r.needs_reauth,
            r.failed,
            r.states_deleted
        ),
        Err(e) => worker::console_error!("reconcile connections failed: {e}"),
    }
}
