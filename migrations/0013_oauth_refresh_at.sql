-- When the Cron pass refreshes a connection (epoch ms): 10 minutes before its token expires,
-- or halfway through the token's lifetime when that comes later, so that short-lived tokens
-- are not refreshed on every pass. NULL (a row written before this column) reads as 10 minutes
-- before `expires_at`. The pass still reads the `oauth_connections_due` range (expiring within
-- 10 minutes) and filters it by this column, so no index is needed.
ALTER TABLE oauth_connections ADD COLUMN refresh_at INTEGER;
