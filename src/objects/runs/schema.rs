//! The run tables of a shard object's SQLite, created on first use by each instance (a table
//! added later is created in existing objects the same way).

use worker::{Result, SqlStorage};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  dedup_key TEXT NOT NULL UNIQUE,
  workflow_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  steps TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  response TEXT,
  fingerprint TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  private TEXT,
  bytes INTEGER NOT NULL DEFAULT 0
);
-- Listing by status, newest first. (It replaces `runs_due (status, lease_until)`, which the
-- planner also took for the retention queries, sorting every finished run.)
DROP INDEX IF EXISTS runs_due;
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, id);
-- Open runs in claim order: the executor takes the next ones without sorting all queued runs.
CREATE INDEX IF NOT EXISTS runs_open ON runs (lease_until, id) WHERE status IN ('queued', 'running');
-- Finished runs in creation order, for retention: the oldest one and the next batch to delete
-- are the first entries, however many open runs are older. (It replaces `runs_created`.)
DROP INDEX IF EXISTS runs_created;
CREATE INDEX IF NOT EXISTS runs_finished ON runs (created_at) WHERE status IN ('succeeded', 'failed');
CREATE TABLE IF NOT EXISTS run_pieces (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS run_secrets (
  run_id TEXT PRIMARY KEY,
  sealed TEXT NOT NULL
);";

/// Creates the tables unless they exist.
pub fn ensure(sql: &SqlStorage) -> Result<()> {
    sql.exec(SCHEMA, None)?;
    Ok(())
}
