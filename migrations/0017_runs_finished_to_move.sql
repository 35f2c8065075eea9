-- Finished runs of earlier versions move into their workflow's shard objects too, so that a
-- repeat of their cause (an idempotency key, a webhook id) finds them there. The move passes
-- read them by `lease_until`: as the run left it (in the past) until tried, the time a refused
-- move may be tried again, or -1 for a run left where it is (its dedup key made another run in
-- the shard).
CREATE INDEX runs_finished_by_lease ON runs (lease_until) WHERE status IN ('succeeded', 'failed');
