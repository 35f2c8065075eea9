-- A workflow's stable key: the name a workflows-as-code client (the `tripline` CLI) finds it by,
-- from any clone, without local state. Optional (workflows made by hand have none); unique when set.
ALTER TABLE workflows ADD COLUMN key TEXT;
CREATE UNIQUE INDEX workflows_by_key ON workflows (key) WHERE key IS NOT NULL;
