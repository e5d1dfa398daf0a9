-- One row that /readyz rewrites after a failed commit, to learn when the store takes writes
-- again (src/server/history/commit_health.rs). `padding` makes the probe write about as much as
-- a commit does: a write of a few bytes can fit where a commit no longer does.
CREATE TABLE write_probe (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL,
    padding BLOB
);
INSERT INTO write_probe (id, at) VALUES (1, 0);
