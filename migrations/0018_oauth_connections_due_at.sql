-- The Cron pass reads the connections due for a refresh by when they are next due: the token's
-- `refresh_at` (or the 10 minutes before it expires) and, after failed refreshes, the backoff
-- held in `refresh_lease_until`. Read by expiry, connections that stay expired and failing
-- (a client secret rotated at the provider) were read again by every pass; this index range
-- holds only the due ones. 600000 is the refresh window (`REFRESH_WINDOW_MS`), written as the
-- statement that reads the index writes it.
CREATE INDEX oauth_connections_due_at ON oauth_connections
  (MAX(COALESCE(refresh_at, expires_at - 600000), refresh_lease_until + 1))
  WHERE status = 'active' AND refresh_token IS NOT NULL;
DROP INDEX IF EXISTS oauth_connections_due;
