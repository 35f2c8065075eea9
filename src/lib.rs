//! Tripline: workflow triggers at the edge. Entry points only; ARCHITECTURE.md maps the layers:
//! `lib → api / cron → objects → engine → store / sources → platform, tripline_core`.

pub mod api;
pub mod cron;
pub mod engine;
pub mod objects;
pub mod platform;
pub mod sources;
pub mod store;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

pub use objects::WorkflowObject;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    platform::zone::install();
    Ok(api::handle(req, env, ctx).await)
}

/// The Cron Trigger (every minute): bounded reconciling work, see `cron`.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    platform::zone::install();
    platform::d1_stats::enabled(&env);
    platform::d1_stats::scope(platform::d1_stats::Kind::Cron, None, cron::run(&env)).await;
}
