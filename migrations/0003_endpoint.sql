-- The API Endpoint trigger: the test shelf, signature-failure counters, and the request
-- fingerprint that lets an idempotent repeat be told apart from a reused key.

-- Requests sent to /hooks/{id}/test; the newest 20 per workflow are kept.
CREATE TABLE test_requests (
  id                 TEXT PRIMARY KEY,            -- tr_ + creation time + random: ORDER BY id is by age
  workflow_id        TEXT NOT NULL,
  received_at        TEXT NOT NULL,
  method             TEXT NOT NULL,
  path               TEXT NOT NULL,
  query              TEXT NOT NULL,               -- JSON object (sensitive names redacted)
  headers            TEXT NOT NULL,               -- JSON object, lowercase names (credentials redacted)
  content_type       TEXT,
  body_kind          TEXT,                        -- json | form | multipart | text | empty; NULL when unreadable
  body               TEXT,                        -- the parsed body as JSON; NULL when unreadable or too large
  body_error         TEXT,                        -- why the body could not be read
  raw_body           TEXT NOT NULL DEFAULT '',    -- as received: UTF-8 text, or base64 (raw_body_encoding)
  raw_body_encoding  TEXT NOT NULL DEFAULT 'utf-8' CHECK (raw_body_encoding IN ('utf-8', 'base64')),
  raw_body_bytes     INTEGER NOT NULL DEFAULT 0,  -- size received
  raw_body_truncated INTEGER NOT NULL DEFAULT 0,  -- 1 when raw_body holds only the first bytes
  signature          TEXT                         -- JSON: whether the request would pass `verify`
);
CREATE INDEX test_requests_by_workflow ON test_requests (workflow_id, id DESC);

-- Per-workflow counters of the endpoint trigger. Rejected signatures store nothing else.
CREATE TABLE endpoint_stats (
  workflow_id               TEXT PRIMARY KEY,
  signature_failures        INTEGER NOT NULL DEFAULT 0,
  last_signature_failure_at TEXT
);

-- SHA-256 of what an idempotency key promised (method, path, query, body); NULL without a key.
ALTER TABLE runs ADD COLUMN fingerprint TEXT;

-- Request bodies too large for one D1 row (Cloudflare caps a row at 2 MB; an endpoint may
-- accept up to 10 MiB), stored as ordered pieces of the body's JSON text. The run's input then
-- says `"body_pieces": n` instead of holding the body; readers put it back together.
CREATE TABLE run_payloads (
  run_id TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  data   TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TRIGGER runs_delete_payloads AFTER DELETE ON runs
BEGIN
  DELETE FROM run_payloads WHERE run_id = OLD.id;
END;
