-- When each session was last used (unix ms), refreshed at most hourly: guest sessions idle
-- past --guest-idle-days stop working and are deleted (src/server/auth/sessions.rs).
ALTER TABLE sessions ADD COLUMN seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET seen_at = created_at;
CREATE INDEX sessions_idle ON sessions (kind, seen_at);
