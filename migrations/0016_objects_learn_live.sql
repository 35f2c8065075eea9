-- A workflow's object keeps its live version, which its trigger URL reads: an object that knows
-- nothing answers for a workflow that is not deployed, without a D1 read, while no deploy call
-- waits in the arm outbox. Objects of workflows deployed by releases before objects kept it do
-- not know theirs: each such workflow waits in the outbox as a failed deploy call, whose retry
-- by the Cron pass (50 a pass) teaches its object (and leaves its alarm as it is when armed).
INSERT INTO arm_outbox (workflow_id, action, attempts, next_try_at, last_error, created_at)
  SELECT id, 'deploy', 0, 0, 'an earlier release deployed it: its object learns its live version',
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM workflows WHERE status = 'deployed'
  ON CONFLICT (workflow_id) DO NOTHING;
