-- The runs list, a workflow's answer and its object's catalog read take the most shards any
-- version of a workflow used (or the set of them), which read `shards` out of every version's
-- definition: a workflow deployed hundreds of times had all its definitions read by each list
-- of its runs (the dashboard reads one every 1.5 s while the list is open). This index holds
-- each version's shard count beside its workflow, so those statements read only the index.
-- The expression is written as the statements write it (`SHARDS_SQL` in
-- src/store/workflows.rs, without the table alias): only the same expression is read from here.
CREATE INDEX workflow_versions_shards ON workflow_versions
  (workflow_id, CAST(COALESCE(json_extract(definition, '$.shards'), 1) AS INTEGER));
