-- OAuth trigger: pending sign-ins (state + PKCE verifier, single use, short TTL) and the
-- resulting connections (tokens encrypted with AES-GCM under TRIPLINE_ENCRYPTION_KEY).

CREATE TABLE oauth_states (
  state_hash   TEXT PRIMARY KEY,   -- SHA-256 (hex) of the state sent to the provider
  workflow_id  TEXT NOT NULL,
  version      INTEGER NOT NULL,   -- the deployed version the sign-in started on
  user_id      TEXT NOT NULL,
  verifier     TEXT,               -- PKCE verifier, encrypted; NULL when PKCE is off
  redirect_uri TEXT NOT NULL,      -- the Redirect URL sent to the provider (repeated at the token endpoint)
  return_to    TEXT,               -- the `redirect` given to the Sign-in URL, if any
  expires_at   INTEGER NOT NULL,   -- epoch ms
  created_at   TEXT NOT NULL
);
CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);

CREATE TABLE oauth_connections (
  workflow_id         TEXT NOT NULL,
  user_id             TEXT NOT NULL,
  version             INTEGER NOT NULL,          -- the version the connection was made with
  scopes              TEXT NOT NULL,             -- JSON array of granted scopes
  token_type          TEXT NOT NULL,
  access_token        TEXT NOT NULL,             -- encrypted envelope
  refresh_token       TEXT,                      -- encrypted envelope, NULL when none was issued
  expires_at          INTEGER,                   -- epoch ms; NULL when the provider gave no expires_in
  userinfo            TEXT,                      -- JSON from userinfo_url, when configured
  status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reauth')),
  needs_reauth_at     TEXT,
  needs_reauth_reason TEXT,
  refresh_lease_until INTEGER NOT NULL DEFAULT 0, -- epoch ms; a refresh in progress holds it
  refreshed_at        TEXT,
  last_refresh_error  TEXT,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  PRIMARY KEY (workflow_id, user_id)
);
-- The Cron pass reads only connections that can be refreshed, by expiry (an index range).
CREATE INDEX oauth_connections_due ON oauth_connections (expires_at)
  WHERE status = 'active' AND refresh_token IS NOT NULL;
