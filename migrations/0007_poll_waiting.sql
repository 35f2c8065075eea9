-- What a poll could not yet take, for people: `waiting` is the PostgreSQL transaction that holds
-- rows back (JSON {"transaction", "since"}, NULL when none), `last_gap` the last time an HTTP
-- source could not prove that it saw every item (JSON {"at", "pages", "items", "reason"}).
ALTER TABLE poll_status ADD COLUMN waiting TEXT;
ALTER TABLE poll_status ADD COLUMN last_gap TEXT;
