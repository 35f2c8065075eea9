-- One row per workflow with a poll trigger, written by its Durable Object after each poll, so
-- that GET /api/workflows/{id} shows the poll's health with one cheap read (no call to the object).
CREATE TABLE poll_status (
  workflow_id          TEXT PRIMARY KEY,
  last_poll_at         TEXT,                         -- when the last poll (successful or not) ended
  last_success_at      TEXT,
  last_poll_error      TEXT,                         -- NULL after a successful poll
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  next_poll_at         TEXT,
  runs_created         INTEGER NOT NULL DEFAULT 0,   -- runs started by this poll trigger, in total
  cursor               TEXT,                         -- where the source was read up to (for people)
  updated_at           TEXT NOT NULL
);
