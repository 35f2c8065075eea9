//! The `schedules` table: per scheduled workflow, what the API shows besides the `timers` row
//! (the interval for projecting `next_run_at`, and the misfire record).

use serde::Deserialize;
use worker::{D1Database, Result};

use wasm_bindgen::JsValue;

use super::{num, text};

/// An optional numeric parameter (`NULL` when `None`).
fn opt_num(n: Option<i64>) -> JsValue {
    n.map(|n| JsValue::from_f64(n as f64))
        .unwrap_or(JsValue::NULL)
}

/// Records the version the object armed (and its spacing), keeping the misfire record.
pub async fn upsert_armed(
    db: &D1Database,
    workflow_id: &str,
    version: i64,
    interval_ms: Option<i64>,
    misfire: &str,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "INSERT INTO schedules (workflow_id, version, interval_ms, misfire, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workflow_id) DO UPDATE SET version = ?2, interval_ms = ?3, misfire = ?4, updated_at = ?5",
    )
    .bind(&[
        text(workflow_id),
        num(version),
        opt_num(interval_ms),
        text(misfire),
        text(now_iso),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Adds `skipped` to the workflow's count and records the wake that missed slots.
pub async fn record_misfire(
    db: &D1Database,
    workflow_id: &str,
    skipped: i64,
    last_misfire_json: &str,
    now_iso: &str,
) -> Result<()> {
    db.prepare(
        "UPDATE schedules SET skipped_slots = skipped_slots + ?2, last_misfire = ?3, updated_at = ?4
         WHERE workflow_id = ?1",
    )
    .bind(&[
        text(workflow_id),
        num(skipped),
        text(last_misfire_json),
        text(now_iso),
    ])?
    .run()
    .await?;
    Ok(())
}

/// What `GET /api/workflows/{id}` shows for a scheduled workflow, in one read.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// The armed alarm (epoch ms) from `timers`, when the schedule is armed.
    pub next_at: Option<f64>,
    pub timer_version: Option<i64>,
    pub interval_ms: Option<f64>,
    pub skipped_slots: Option<i64>,
    pub last_misfire: Option<String>,
    /// When the newest schedule run was created.
    pub last_run_at: Option<String>,
}

pub async fn status(db: &D1Database, workflow_id: &str) -> Result<Option<Status>> {
    db.prepare(
        "SELECT t.next_at AS next_at, t.version AS timer_version, s.interval_ms AS interval_ms,
                s.skipped_slots AS skipped_slots, s.last_misfire AS last_misfire,
                (SELECT r.created_at FROM runs r WHERE r.workflow_id = ?1 AND r.trigger = 'schedule'
                 ORDER BY r.id DESC LIMIT 1) AS last_run_at
         FROM (SELECT ?1 AS id) w
         LEFT JOIN timers t ON t.workflow_id = w.id AND t.kind = 'schedule'
         LEFT JOIN schedules s ON s.workflow_id = w.id",
    )
    .bind(&[text(workflow_id)])?
    .first::<Status>(None)
    .await
}
