-- Deploy and undeploy call the workflow's Durable Object, whose alarm then keeps itself armed;
-- only a call that failed leaves a row here, and the Cron pass tries the due rows again (an
-- index range, a bounded batch, with backoff), deleting each once the object has answered.
CREATE TABLE arm_outbox (
  workflow_id  TEXT PRIMARY KEY,
  action       TEXT NOT NULL CHECK (action IN ('deploy', 'undeploy')),  -- the call that failed
  attempts     INTEGER NOT NULL DEFAULT 0,   -- failed tries by the Cron pass
  next_try_at  INTEGER NOT NULL,             -- epoch ms
  last_error   TEXT,
  created_at   TEXT NOT NULL
);
CREATE INDEX arm_outbox_by_next_try ON arm_outbox (next_try_at);

-- The objects keep their schedule and poll status in their own storage now: nothing sweeps
-- timers any more, and a schedule fire or an idle poll writes nothing to D1.
DROP TRIGGER IF EXISTS schedules_follow_workflow_delete;
DROP TABLE IF EXISTS timers;
DROP TABLE IF EXISTS schedules;
DROP TABLE IF EXISTS poll_status;
DROP INDEX IF EXISTS workflows_deployed_timers;
