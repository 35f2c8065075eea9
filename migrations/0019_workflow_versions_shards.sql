-- The runs list, a workflow's answer and its object's catalog read take the most shards any
-- version of a workflow used (or those of the versions replaced since a time), which read
-- `shards` out of every version's definition, and the time each was replaced (`created_at`,
-- stored after the definition: a read of it walks the definition's pages too). A workflow
-- deployed hundreds of times had all its definitions read by each of those (the dashboard
-- reads the runs list every 1.5 s while it is open). This index holds what they read beside
-- each version, so those statements read only the index. The expression is written as the
-- statements write it (`SHARDS_SQL` in src/store/workflows.rs, without the table alias): only
-- the same expression is read from here.
CREATE INDEX workflow_versions_shards ON workflow_versions
  (workflow_id, version, created_at, CAST(COALESCE(json_extract(definition, '$.shards'), 1) AS INTEGER));
