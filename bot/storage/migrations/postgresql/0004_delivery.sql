-- Delivery (../0004_delivery.sql).
ALTER TABLE outbox ADD COLUMN thread_id BIGINT;

CREATE INDEX outbox_open_by_subscription ON outbox (subscription_id, id)
    WHERE state IN ('pending', 'claimed');
CREATE INDEX outbox_sent_by_channel ON outbox (channel_id, sent_at) WHERE state = 'sent';

CREATE TABLE channel_webhooks (
    channel_id  BIGINT PRIMARY KEY,
    webhook_id  BIGINT NOT NULL,
    token       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE notices_sent (
    guild_id    BIGINT NOT NULL,
    notice_key  TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (guild_id, notice_key)
);
