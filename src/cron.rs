//! The Cron Trigger's once-a-minute pass. It works by exception: it looks only at rows that
//! are overdue (an index range), in bounded batches, never at every workflow.

use crate::objects::{self, Action};
use futures_util::future::join_all;
use worker::{Env, Result};

use crate::platform::{env_string, now_ms};
use crate::store;
use tripline_core::kernel::time::iso_millis;

/// One pass of the Cron Trigger: re-arm timers, move unfinished runs of earlier versions from D1
/// into their shard objects, delete old ones,
/// refresh OAuth connections. Each part logs what it did; a failure in one does not stop the next.
pub async fn run(env: &Env) {
    match reconcile_timers(env).await {
        Ok(n) => worker::console_log!("reconcile: re-armed {n} timers"),
        Err(e) => worker::console_error!("reconcile timers failed: {e}"),
    }
    match reconcile_runs(env).await {
        Ok(r) => worker::console_log!(
            "reconcile: moved {} runs of earlier versions into their objects, deleted {} old ones",
            r.moved,
            r.deleted
        ),
        Err(e) => worker::console_error!("reconcile failed: {e}"),
    }
    match reconcile_connections(env).await {
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

/// Old runs deleted per statement, and statements per pass.
const RETENTION_BATCH: u32 = 500;
const RETENTION_ROUNDS: u32 = 10;

/// What one pass did with the runs of earlier versions (logged).
#[derive(Debug, Default)]
pub struct Report {
    pub moved: usize,
    pub deleted: usize,
}

/// Runs of earlier versions still in D1: moves the unfinished ones whose executor is gone into
/// their shard objects (a bounded batch, see `objects::runs::legacy`) and deletes finished ones
/// past retention (bounded batches). Runs in shard objects expire there.
pub async fn reconcile_runs(env: &Env) -> Result<Report> {
    let db = store::db(env)?;
    let now = now_ms();
    let mut report = Report {
        moved: objects::runs::legacy::move_unfinished(env).await?,
        ..Report::default()
    };
    let days = env_string(env, "RUN_RETENTION_DAYS")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|d| *d >= 1)
        .unwrap_or(30);
    let cutoff = iso_millis(now - days * 86_400_000);
    for _ in 0..RETENTION_ROUNDS {
        let n = store::runs::delete_older_than(&db, &cutoff, RETENTION_BATCH).await?;
        report.deleted += n;
        if n < RETENTION_BATCH as usize {
            break;
        }
    }
    store::runs::delete_moves_older_than(&db, &cutoff, RETENTION_BATCH).await?;
    Ok(report)
}

/// Objects whose timers look lost are told to re-arm, at most this many per pass.
const REARM_BATCH: u32 = 100;
/// An alarm this late is considered lost (alarms are normally milliseconds late).
const REARM_GRACE_MS: i64 = 30_000;

/// Re-arms schedule and poll objects whose alarm is overdue, missing or for an older version.
pub async fn reconcile_timers(env: &Env) -> Result<usize> {
    let db = store::db(env)?;
    let ids = store::timers::needing_rearm(&db, now_ms(), REARM_GRACE_MS, REARM_BATCH).await?;
    let results = join_all(
        ids.iter()
            .map(|id| objects::notify(env, id, Action::Reconcile)),
    )
    .await;
    let mut n = 0;
    for r in results {
        match r {
            Ok(()) => n += 1,
            Err(e) => worker::console_error!("reconcile: re-arming failed: {e}"),
        }
    }
    Ok(n)
}

/// Refreshes OAuth connections that expire within 10 minutes and drops expired sign-in states.
pub async fn reconcile_connections(env: &Env) -> Result<crate::engine::oauth::RefreshReport> {
    crate::engine::oauth::refresh_due(env).await
}
