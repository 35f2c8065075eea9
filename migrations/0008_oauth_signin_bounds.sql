-- Pending sign-ins are bounded per (workflow, end user): a new sign-in replaces the previous
-- pending one, found through this index.
CREATE INDEX oauth_states_by_user ON oauth_states (workflow_id, user_id);
