-- WebSub push (../0010_websub.sql).
CREATE TABLE websub_subscriptions (
    feed_id          BIGINT PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    hub_url          TEXT NOT NULL,
    topic_url        TEXT NOT NULL,
    callback_id      TEXT NOT NULL UNIQUE,
    secret           TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'active', 'failed')),
    pending_mode     TEXT CHECK (pending_mode IN ('subscribe', 'unsubscribe')),
    requested_at     TEXT,
    lease_seconds    BIGINT,
    lease_expires_at TEXT,
    failures         BIGINT NOT NULL DEFAULT 0,
    retry_at         TEXT,
    last_error       TEXT,
    last_push_at     TEXT,
    pushes           BIGINT NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL
);
