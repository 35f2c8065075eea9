-- One row per workflow whose schedule has been armed, written by its Durable Object: what the
-- API shows next to the workflow (`next_run_at` is projected from `timers` with
-- `interval_ms`; `skipped_slots` and `last_misfire` record the misfire policy at work).
CREATE TABLE schedules (
  workflow_id    TEXT PRIMARY KEY,
  version        INTEGER NOT NULL,             -- the deployed version last armed
  interval_ms    INTEGER,                      -- spacing of `seconds`/`minutes` kinds; NULL for wall-clock kinds
  misfire        TEXT NOT NULL,                -- `skip` | `run_once`, of that version
  skipped_slots  INTEGER NOT NULL DEFAULT 0,   -- slots never run because they misfired (all versions)
  last_misfire   TEXT,                         -- JSON {at, policy, skipped, ran_slot} of the last wake that skipped or ran late
  updated_at     TEXT NOT NULL
);

-- A deleted workflow takes its row with it.
CREATE TRIGGER schedules_follow_workflow_delete AFTER DELETE ON workflows
BEGIN
  DELETE FROM schedules WHERE workflow_id = OLD.id;
END;
