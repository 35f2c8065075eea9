-- OAuth refresh backoff: a connection whose refreshes keep failing (not a dead grant) waits
-- 1 minute, then 2, 4, … up to an hour between attempts (`refresh_lease_until` holds the next
-- attempt's time), so that failing connections cannot take every slot of the Cron pass.
ALTER TABLE oauth_connections ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0; -- failed refreshes in a row

-- A connection without a refresh token whose access token has expired can only be repaired by
-- a new sign-in: the Cron pass marks it `needs_reauth`, reading this index range.
CREATE INDEX oauth_connections_unrefreshable ON oauth_connections (expires_at)
  WHERE status = 'active' AND refresh_token IS NULL;
