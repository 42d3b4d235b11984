-- Delivery: the thread a sent post opened, webhooks Paperboy made, and notices already given.
ALTER TABLE outbox ADD COLUMN thread_id INTEGER;

-- Open work per subscription, oldest first: the worker sends only the head of each queue.
CREATE INDEX outbox_open_by_subscription ON outbox (subscription_id, id)
    WHERE state IN ('pending', 'claimed');
-- When each channel last received a post, for pacing after a restart.
CREATE INDEX outbox_sent_by_channel ON outbox (channel_id, sent_at) WHERE state = 'sent';

-- One webhook per channel, created once and reused until Discord says it is gone.
CREATE TABLE channel_webhooks (
    channel_id  INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL,
    token       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Messages to moderators that must be given once only (keyed per guild).
CREATE TABLE notices_sent (
    guild_id    INTEGER NOT NULL,
    notice_key  TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (guild_id, notice_key)
) WITHOUT ROWID;
