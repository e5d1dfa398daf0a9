-- Huddle's schema on PostgreSQL: the same tables as SQLite's (migrations/sqlite/), plus one
-- counter row per room, which is what makes seqs safe with several nodes writing.

-- Every message ever accepted, one row each. (room, seq) is the order people see.
CREATE TABLE messages (
    room        TEXT   NOT NULL,
    seq         BIGINT NOT NULL CHECK (seq > 0),
    id          TEXT   NOT NULL UNIQUE,
    client_id   TEXT   NOT NULL,
    author_id   TEXT   NOT NULL,
    author_name TEXT   NOT NULL,
    text        TEXT   NOT NULL,
    ts          BIGINT NOT NULL,
    PRIMARY KEY (room, seq)
);

-- A retried send (same author, same client_id) must find the first copy instead of storing a
-- second one, whichever node it reaches.
CREATE UNIQUE INDEX messages_author_client_id ON messages (author_id, client_id);

-- The last seq given in each room. A committing transaction raises it by the messages it
-- stores; the row stays locked until COMMIT, so a concurrent writer of the same room (another
-- node) waits and continues from the committed value. A rolled-back batch takes no seqs.
CREATE TABLE room_heads (
    room TEXT   NOT NULL PRIMARY KEY,
    head BIGINT NOT NULL CHECK (head >= 0)
);

-- People with a password. Names are unique regardless of case, so "Ada" and "ada" cannot both
-- exist and impersonate each other.
CREATE TABLE accounts (
    id            TEXT   NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,   -- argon2id, PHC string format
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_name ON accounts (lower(name));

-- Browser sessions, guests' and accounts'. The cookie carries the id, signed; logging out
-- deletes the row, so a copied cookie stops working.
CREATE TABLE sessions (
    id         TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT   NOT NULL,
    user_name  TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('guest', 'account')),
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Tokens for backends and bots. Only a hash is kept: the token is shown once, at creation.
CREATE TABLE api_tokens (
    name       TEXT   NOT NULL PRIMARY KEY,
    token_hash TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Secrets the server generates for itself (the cookie signing key), shared by every node.
CREATE TABLE server_secrets (
    name  TEXT  NOT NULL PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Every room with a kind. Public rooms are created by joining them; a DM by opening it.
CREATE TABLE rooms (
    name       TEXT   NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('public', 'dm')),
    created_at BIGINT NOT NULL
);

-- Who has a room in their list, and how far they have read it. For a DM, its two rows are
-- also who may read and write it.
CREATE TABLE room_members (
    room      TEXT   NOT NULL REFERENCES rooms (name),
    user_id   TEXT   NOT NULL,
    user_name TEXT   NOT NULL,
    last_read BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (room, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);
