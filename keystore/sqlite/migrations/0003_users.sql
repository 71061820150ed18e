-- Users, their workspace memberships and refresh tokens, the keys that
-- sign access tokens, and the user an audit event is about. Conventions
-- as in 0001_init.sql.

-- Users are global. email is normalized by the server (NormalizeEmail) and
-- unique here, so two users can never share one even under concurrent
-- writes. password_hash is a PHC string. disabled is 0 or 1. version
-- increases with every change that must end the user's sessions.
CREATE TABLE users (
    id              TEXT    NOT NULL PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    disabled        INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    version         INTEGER NOT NULL,
    create_time     INTEGER,
    update_time     INTEGER,
    last_login_time INTEGER
) STRICT;

-- A user's role (the wire enum's value) in one workspace. The primary key
-- serves a user's memberships by workspace id, the index a workspace's
-- members by user id. DeleteUser and DeleteWorkspace delete the rows
-- themselves; the foreign keys only keep orphans out.
CREATE TABLE memberships (
    user_id      TEXT    NOT NULL REFERENCES users (id),
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id),
    role         INTEGER NOT NULL,
    create_time  INTEGER,
    update_time  INTEGER,
    PRIMARY KEY (user_id, workspace_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX memberships_by_workspace ON memberships (workspace_id, user_id);

-- Single-use refresh tokens; only the secret's hash is kept (NULL when
-- unset, never matched; unique otherwise). family_id is shared by every
-- token exchanged from one login. spent_time is set by the exchange,
-- revoke_time when the family or all of the user's tokens are revoked;
-- both NULL until then.
CREATE TABLE refresh_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id),
    family_id   TEXT    NOT NULL,
    hash        BLOB    UNIQUE,
    create_time INTEGER,
    expire_time INTEGER,
    spent_time  INTEGER,
    revoke_time INTEGER
) STRICT;

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (user_id, family_id);
-- For DeleteExpiredRefreshTokens; tokens without expiry are left out.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expire_time) WHERE expire_time IS NOT NULL;

-- Keys that sign access tokens, shared by every node. algorithm is the JWT
-- alg. The keys are BLOBs in the algorithm's own encoding, NULL when empty.
CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB,
    public_key  BLOB,
    create_time INTEGER
) STRICT;

-- The user a user event is about; '' for events about other records and
-- for those written before this column.
ALTER TABLE events ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
