//! The `timers` table: when each deployed schedule/poll expects its next alarm, so the
//! reconciler can find the overdue ones without sweeping every workflow.

use serde::Deserialize;
use worker::{D1Database, Result};

use super::{num, text};

/// Records (or moves) a workflow's armed alarm.
pub async fn upsert(
    db: &D1Database,
    workflow_id: &str,
    kind: &str,
    version: i64,
    next_at: i64,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "INSERT INTO timers (workflow_id, kind, version, next_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workflow_id) DO UPDATE SET kind = ?2, version = ?3, next_at = ?4, updated_at = ?5",
    )
    .bind(&[text(workflow_id), text(kind), num(version), num(next_at), text(now_iso)])?
    .run()
    .await?;
    Ok(())
}

pub async fn delete(db: &D1Database, workflow_id: &str) -> Result<()> {
    db.prepare("DELETE FROM timers WHERE workflow_id = ?1")
        .bind(&[text(workflow_id)])?
        .run()
        .await?;
    Ok(())
}

/// Workflows whose timer needs re-arming: overdue by more than `grace_ms`, armed for an
/// older version, or deployed with no timer at all. At most `limit`.
pub async fn needing_rearm(
    db: &D1Database,
    now_ms: i64,
    grace_ms: i64,
    limit: u32,
) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Id {
        workflow_id: String,
    }
    let rows = db
        .prepare("SELECT workflow_id FROM timers WHERE next_at < ?1 LIMIT ?2")
        .bind(&[num(now_ms - grace_ms), num(limit as i64)])?
        .all()
        .await?
        .results::<Id>()?;
    let mut ids: Vec<String> = rows.into_iter().map(|r| r.workflow_id).collect();
    let missing = db
        .prepare(
            "SELECT w.id AS workflow_id FROM workflows w LEFT JOIN timers t ON t.workflow_id = w.id
             WHERE w.trigger_type IN ('schedule', 'poll') AND w.status = 'deployed'
               AND (t.workflow_id IS NULL OR t.version != w.deployed_version)
             LIMIT ?1",
        )
        .bind(&[num(limit as i64)])?
        .all()
        .await?
        .results::<Id>()?;
    for r in missing {
        if !ids.contains(&r.workflow_id) {
            ids.push(r.workflow_id);
        }
    }
    Ok(ids)
}
