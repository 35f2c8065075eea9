-- The trigger kind of the deployed version, NULL while a workflow is not deployed. A saved
-- draft may change `trigger_type` until it is deployed; what runs (the Cron pass's check for
-- lost alarms, a workflow's status, a poll reset) follows the live version's kind.
ALTER TABLE workflows ADD COLUMN live_kind TEXT;

UPDATE workflows SET live_kind = (
  SELECT CASE WHEN json_valid(v.definition) THEN json_extract(v.definition, '$.trigger.type') END
  FROM workflow_versions v
  WHERE v.workflow_id = workflows.id AND v.version = workflows.deployed_version
) WHERE status = 'deployed';

-- The alarm check's index range per kind, over deployed workflows only.
CREATE INDEX workflows_by_live_kind ON workflows (live_kind, id) WHERE live_kind IS NOT NULL;
DROP INDEX IF EXISTS workflows_by_kind;
