-- Workflows, their frozen versions, and run history.

CREATE TABLE workflows (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  trigger_type     TEXT NOT NULL,
  draft            TEXT NOT NULL,                -- the definition JSON being edited
  status           TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'deployed')),
  deployed_version INTEGER,                      -- NULL when not deployed
  latest_version   INTEGER NOT NULL DEFAULT 0,   -- the last version number handed out
  deployed_at      TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX workflows_by_created ON workflows (created_at DESC, id DESC);

-- Immutable: one row per deploy.
CREATE TABLE workflow_versions (
  workflow_id TEXT NOT NULL,
  version     INTEGER NOT NULL,
  definition  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (workflow_id, version)
);

-- Run ids start with their creation time, so ORDER BY id is ORDER BY age.
CREATE TABLE runs (
  id           TEXT PRIMARY KEY,
  workflow_id  TEXT NOT NULL,
  version      INTEGER NOT NULL,
  trigger      TEXT NOT NULL,
  dedup_key    TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  input        TEXT NOT NULL,
  steps        TEXT NOT NULL DEFAULT '[]',
  error        TEXT,
  response     TEXT,                             -- the Response step's reply, when there is one
  attempts     INTEGER NOT NULL DEFAULT 0,       -- how many times execution started
  lease_until  INTEGER NOT NULL DEFAULT 0,       -- epoch ms; a queued/running run past it is picked up again
  created_at   TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT,
  UNIQUE (workflow_id, dedup_key)
);
CREATE INDEX runs_by_workflow ON runs (workflow_id, id DESC);
CREATE INDEX runs_by_workflow_status ON runs (workflow_id, status, id DESC);
CREATE INDEX runs_unfinished ON runs (lease_until) WHERE status IN ('queued', 'running');
CREATE INDEX runs_by_created ON runs (created_at);
