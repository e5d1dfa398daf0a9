-- People with a password. Names are unique regardless of case, so "Ada" and "ada" cannot
-- both exist and impersonate each other.
CREATE TABLE accounts (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,   -- argon2id, PHC string format
    created_at    INTEGER NOT NULL
);

-- Browser sessions, guests' and accounts'. The cookie carries the id, signed; logging out
-- deletes the row, so a copied cookie stops working.
CREATE TABLE sessions (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('guest', 'account')),
    created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Tokens for backends and bots. Only a hash is kept: the token is shown once, at creation.
CREATE TABLE api_tokens (
    name       TEXT    NOT NULL PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Secrets the server generates for itself (the cookie signing key).
CREATE TABLE server_secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
);

-- Every room with a kind. Public rooms are created by joining them; a DM by opening it.
CREATE TABLE rooms (
    name       TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('public', 'dm')),
    created_at INTEGER NOT NULL
);

-- Who has a room in their list, and how far they have read it. For a DM, its two rows are
-- also who may read and write it.
CREATE TABLE room_members (
    room      TEXT    NOT NULL REFERENCES rooms (name),
    user_id   TEXT    NOT NULL,
    user_name TEXT    NOT NULL,
    last_read INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
CREATE INDEX room_members_user ON room_members (user_id);
