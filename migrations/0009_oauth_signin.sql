-- Sign-in links. Pending sign-ins are bounded per (workflow, end user): a new sign-in replaces
-- the previous pending one, found through this index.
CREATE INDEX oauth_states_by_user ON oauth_states (workflow_id, user_id);

-- One-time Sign-in links issued by the management API (POST /api/workflows/{id}/signin-links):
-- only a SHA-256 of the link's token is kept; using the link deletes the row.
CREATE TABLE oauth_signin_links (
  token_hash   TEXT PRIMARY KEY,   -- SHA-256 (hex) of the token in the link
  workflow_id  TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  expires_at   INTEGER NOT NULL,   -- epoch ms
  created_at   TEXT NOT NULL
);
CREATE INDEX oauth_signin_links_by_expiry ON oauth_signin_links (expires_at);
