-- WebSub push (bot/ingest/websub.py): the hub a feed advertises and Paperboy's subscription
-- there, one row per feed that advertised a hub. `callback_id` is the opaque last part of the
-- callback address (/websub/<callback_id>); `secret` is the subscription's own HMAC key, which
-- every push must be signed with. Neither is ever shown.
CREATE TABLE websub_subscriptions (
    feed_id          INTEGER PRIMARY KEY REFERENCES feeds (id) ON DELETE CASCADE,
    hub_url          TEXT NOT NULL,          -- '' once the feed stops advertising a hub
    topic_url        TEXT NOT NULL,          -- the feed's rel="self", else its address
    callback_id      TEXT NOT NULL UNIQUE,
    secret           TEXT NOT NULL,
    -- idle: not subscribed; active: verified, lease running; failed: waiting for retry_at
    state            TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'active', 'failed')),
    -- a request the hub has not verified yet (a renewal keeps the state 'active' meanwhile)
    pending_mode     TEXT CHECK (pending_mode IN ('subscribe', 'unsubscribe')),
    requested_at     TEXT,
    lease_seconds    INTEGER,
    lease_expires_at TEXT,
    failures         INTEGER NOT NULL DEFAULT 0,
    retry_at         TEXT,
    last_error       TEXT,
    last_push_at     TEXT,
    pushes           INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL
);
