-- Who paused a subscription (../0007_moderator_pause.sql).
ALTER TABLE subscriptions ADD COLUMN paused_by_moderator BIGINT NOT NULL DEFAULT 0;
UPDATE subscriptions SET paused_by_moderator = 1
    WHERE paused = 1 AND pause_reason = 'paused by a moderator';
