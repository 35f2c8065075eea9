-- The Cron pass checks a few deployed schedule and poll workflows each minute for a lost alarm,
-- from a random id on: an index range in id order per trigger type.

CREATE INDEX workflows_by_kind ON workflows (trigger_type, status, id);
