-- Every message ever accepted, one row each. (room, seq) is the order people see.
CREATE TABLE messages (
    room        TEXT    NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq > 0),
    id          TEXT    NOT NULL UNIQUE,
    client_id   TEXT    NOT NULL,
    author_id   TEXT    NOT NULL,
    author_name TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;

-- A retried send (same author, same client_id) must find the first copy instead of storing
-- a second one.
CREATE UNIQUE INDEX messages_author_client_id ON messages (author_id, client_id);
