//! The Cron Trigger's once-a-minute pass. It works by exception: it looks only at rows that
//! are overdue (an index range), in bounded batches, never at every workflow. Schedule and
//! poll alarms are durable and re-arm themselves in their objects; the pass asks only a small
//! sample of them each minute whether their alarm was lost (`check_alarms`).

use crate::objects::{self, Action};
use futures_util::future::join_all;
use worker::{Env, Result};

use crate::platform::now_ms;
use crate::store;
use crate::store::runs::LegacyRuns;
use tripline_core::kernel::ids::new_workflow_id;
use tripline_core::kernel::outbox::retry_delay_ms;
use tripline_core::kernel::time::iso_millis;

/// One pass of the Cron Trigger: retry failed deploy/undeploy calls (the arm outbox), set lost
/// schedule and poll alarms again (a sample), move runs of earlier versions from D1 into their
/// shard objects and delete old ones, refresh OAuth connections. Each part logs what it
/// did; a failure in one does not stop the next.
pub async fn run(env: &Env) {
    match retry_arm_outbox(env).await {
        Ok(r) => worker::console_log!(
            "arm outbox: {} objects armed, {} failed again",
            r.done,
            r.failed
        ),
        Err(e) => worker::console_error!("arm outbox failed: {e}"),
    }
    match check_alarms(env).await {
        Ok((checked, failed)) => worker::console_log!(
            "alarms: asked {checked} schedule and poll objects whether their alarm was lost, {failed} failed"
        ),
        Err(e) => worker::console_error!("checking alarms failed: {e}"),
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

/// One bounded batch of legacy runs moved into their shard objects; a failed move must not keep
/// retention from running: it is logged, and tried next pass.
async fn move_legacy(env: &Env, which: LegacyRuns<'_>) -> usize {
    objects::runs::legacy::move_legacy(env, which)
        .await
        .unwrap_or_else(|e| {
            worker::console_error!("moving runs of earlier versions failed: {e}");
            0
        })
}

/// Runs of earlier versions still in D1: moves the unfinished ones whose executor is gone into
/// their shard objects, deletes finished ones past retention, and moves the finished ones left
/// (bounded batches each, see `objects::runs::legacy`). Runs in shard objects expire there.
pub async fn reconcile_runs(env: &Env) -> Result<Report> {
    let db = store::db(env)?;
    let now = now_ms();
    let moved = move_legacy(env, LegacyRuns::Unfinished).await;
    let mut report = Report {
        moved,
        ..Report::default()
    };
    // Read as the shard objects read it, so that runs of either layout are kept as long.
    let cutoff = iso_millis(now - objects::runs::limits::retention_ms(env));
    // A failure here (a statement timed out) leaves the moves below to do.
    for _ in 0..RETENTION_ROUNDS {
        match store::runs::delete_older_than(&db, &cutoff, RETENTION_BATCH).await {
            Ok(n) => {
                report.deleted += n;
                if n < RETENTION_BATCH as usize {
                    break;
                }
            }
            Err(e) => {
                worker::console_error!("legacy run retention: {e}");
                break;
            }
        }
    }
    // Finished ones within retention follow, so that a repeat of their cause finds them.
    report.moved += move_legacy(env, LegacyRuns::Finished { cutoff: &cutoff }).await;
    // Notes of moved runs go by when their run moved, not by its creation: one moved in this
    // pass stays while its run executes. Its shard keeps it a retention from its end, later
    // than its move: the note stays as long (the slack the shards' own bound has).
    let notes_cutoff = iso_millis(
        now - objects::runs::limits::retention_ms(env) - objects::runs::EARLIER_SHARDS_SLACK_MS,
    );
    store::runs::delete_moves_older_than(&db, &notes_cutoff, RETENTION_BATCH).await?;
    Ok(report)
}

/// Outbox entries tried per pass; the rest wait for the next minute.
const OUTBOX_BATCH: u32 = 50;

/// What one retry pass over the arm outbox did.
#[derive(Debug, Default)]
pub struct OutboxReport {
    pub done: usize,
    pub failed: usize,
}

/// Tries the due entries of the arm outbox again: each object is armed or disarmed to match
/// the catalog ([`Action::Reconcile`], whichever call failed), its entry deleted on success
/// and put off with backoff on failure.
pub async fn retry_arm_outbox(env: &Env) -> Result<OutboxReport> {
    let db = store::db(env)?;
    let now = now_ms();
    let due = store::arm_outbox::due(&db, now, OUTBOX_BATCH).await?;
    let results = join_all(
        due.iter()
            .map(|e| objects::notify(env, &e.workflow_id, Action::Reconcile)),
    )
    .await;
    let mut report = OutboxReport::default();
    // Each entry's write-back stands alone: one that fails (it is tried again next pass) does
    // not leave the rest of the batch neither deleted nor put off.
    for (entry, result) in due.iter().zip(results) {
        let written = match result {
            Ok(()) => {
                report.done += 1;
                store::arm_outbox::delete(&db, entry).await
            }
            Err(e) => {
                worker::console_error!(
                    "arm outbox: {} {} failed again: {e}",
                    entry.action,
                    entry.workflow_id
                );
                report.failed += 1;
                let next = now + retry_delay_ms(entry.attempts.saturating_add(1));
                store::arm_outbox::retry_later(&db, entry, next, &e.to_string()).await
            }
        };
        if let Err(e) = written {
            worker::console_error!(
                "arm outbox: recording {} {} failed: {e}",
                entry.action,
                entry.workflow_id
            );
        }
    }
    Ok(report)
}

/// Objects asked per pass and trigger kind (schedule, poll) whether their alarm was lost.
const ALARM_CHECK_BATCH: u32 = 25;

/// Asks up to [`ALARM_CHECK_BATCH`] deployed schedule and as many poll workflows, from a random
/// id on, whether their object's alarm was lost (an alarm whose handler failed every retry, or
/// one the platform dropped); each that lost it is armed again from the catalog, and says so in
/// the log. Each such workflow is asked every `n / 25` minutes on average (`n`: deployed
/// workflows of its kind; a random start has no upper bound), and every read of its status
/// asks it too. How many were asked, and how many calls failed.
pub async fn check_alarms(env: &Env) -> Result<(usize, usize)> {
    let db = store::db(env)?;
    let from = new_workflow_id(&crate::platform::random_bytes::<15>()?);
    let ids = store::workflows::timers_from(&db, &from, ALARM_CHECK_BATCH).await?;
    let mut failed = 0;
    // One after the other: an object that is armed answers from its storage at once.
    for id in &ids {
        if let Err(e) = objects::notify(env, id, Action::CheckAlarm).await {
            worker::console_error!("alarms: {id} failed: {e}");
            failed += 1;
        }
    }
    Ok((ids.len(), failed))
}

/// Refreshes OAuth connections that expire within 10 minutes and drops expired sign-in states.
pub async fn reconcile_connections(env: &Env) -> Result<crate::engine::oauth::RefreshReport> {
    crate::engine::oauth::refresh_due(env).await
}
