-- Users, their workspace memberships and refresh tokens, the keys that
-- sign access tokens, and the user an audit event is about. Conventions
-- as in 0001_init.sql.

-- Users are global. email is normalized by the server (NormalizeEmail) and
-- unique here, so two users can never share one even under concurrent
-- writes. password_hash is a PHC string. version increases with every
-- change that must end the user's sessions.
CREATE TABLE users (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    email           text COLLATE "C" NOT NULL UNIQUE,
    display_name    text             NOT NULL,
    password_hash   text             NOT NULL,
    disabled        boolean          NOT NULL,
    version         bigint           NOT NULL,
    create_time     timestamptz,
    update_time     timestamptz,
    last_login_time timestamptz
);

-- A user's role (the wire enum's value) in one workspace. The primary key
-- serves a user's memberships by workspace id, the index a workspace's
-- members by user id (and the workspace foreign key). DeleteUser and
-- DeleteWorkspace delete the rows themselves; the foreign keys only keep
-- orphans out.
CREATE TABLE memberships (
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id),
    workspace_id text COLLATE "C" NOT NULL REFERENCES workspaces (id),
    role         bigint           NOT NULL,
    create_time  timestamptz,
    update_time  timestamptz,
    PRIMARY KEY (user_id, workspace_id)
);

CREATE INDEX memberships_by_workspace ON memberships (workspace_id, user_id);

-- Single-use refresh tokens; only the secret's hash is kept (NULL when
-- unset, never matched; unique otherwise). family_id is shared by every
-- token exchanged from one login. spent_time is set by the exchange,
-- revoke_time when the family or all of the user's tokens are revoked;
-- both NULL until then.
CREATE TABLE refresh_tokens (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    user_id     text COLLATE "C" NOT NULL REFERENCES users (id),
    family_id   text COLLATE "C" NOT NULL,
    hash        bytea            UNIQUE,
    create_time timestamptz,
    expire_time timestamptz,
    spent_time  timestamptz,
    revoke_time timestamptz
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (user_id, family_id);
-- For DeleteExpiredRefreshTokens; tokens without expiry are left out.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expire_time) WHERE expire_time IS NOT NULL;

-- Keys that sign access tokens, shared by every node. algorithm is the JWT
-- alg. The keys are bytea in the algorithm's own encoding, NULL when empty.
CREATE TABLE signing_keys (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm   text             NOT NULL,
    private_key bytea,
    public_key  bytea,
    create_time timestamptz
);

-- The user a user event is about; '' for events about other records and
-- for those written before this column. The default fills existing rows
-- without rewriting the table.
ALTER TABLE events ADD COLUMN user_id text COLLATE "C" NOT NULL DEFAULT '';
