-- Runs of earlier versions moved out of `runs` into their workflow's shard object (they keep
-- their id): where a legacy run id is found now. Deleted with the run, past retention.
CREATE TABLE run_moves (
  id          TEXT PRIMARY KEY,
  workflow_id TEXT NOT NULL,
  shard       INTEGER NOT NULL,
  created_at  TEXT NOT NULL   -- the run's own creation time (retention)
);
CREATE INDEX run_moves_by_created ON run_moves (created_at);
