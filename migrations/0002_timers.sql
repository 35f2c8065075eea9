-- One row per deployed schedule or poll, written by the workflow's Durable Object when it
-- arms its alarm. The Cron reconciler reads only the overdue ones (an index range).
CREATE TABLE timers (
  workflow_id TEXT PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('schedule', 'poll')),
  version     INTEGER NOT NULL,   -- the deployed version the object armed
  next_at     INTEGER NOT NULL,   -- epoch ms of the armed alarm
  updated_at  TEXT NOT NULL
);
CREATE INDEX timers_by_next ON timers (next_at);
CREATE INDEX workflows_deployed_timers ON workflows (trigger_type, status);
