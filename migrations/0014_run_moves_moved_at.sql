-- Notes of moved runs expire by when the run moved (`moved_at`), not by the run's own creation
-- time: a run left unfinished by an earlier version and older than the retention window stays
-- readable by its id while it executes in its shard, and until it can expire there. The table
-- is made again for the column's default (a column added by ALTER TABLE cannot default to the
-- time), so that a note written by any version gets it; notes written before this get the time
-- this migration runs.
CREATE TABLE run_moves_new (
  id          TEXT PRIMARY KEY,
  workflow_id TEXT NOT NULL,
  shard       INTEGER NOT NULL,
  created_at  TEXT NOT NULL,   -- the run's own creation time
  moved_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))   -- retention
);
INSERT INTO run_moves_new (id, workflow_id, shard, created_at)
  SELECT id, workflow_id, shard, created_at FROM run_moves;
DROP TABLE run_moves;
ALTER TABLE run_moves_new RENAME TO run_moves;
CREATE INDEX run_moves_by_moved ON run_moves (moved_at);
