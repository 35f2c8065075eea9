CREATE TABLE runs (
  id         TEXT PRIMARY KEY,
  input      TEXT NOT NULL,
  created_at TEXT NOT NULL
);
