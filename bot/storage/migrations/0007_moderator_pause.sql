-- Who paused a subscription decides what happens to articles published meanwhile: a moderator's
-- pause skips them (they asked for silence); a pause after Discord refused a post keeps them
-- waiting, so nothing is lost once the moderators fix the channel and resume.
ALTER TABLE subscriptions ADD COLUMN paused_by_moderator INTEGER NOT NULL DEFAULT 0;
UPDATE subscriptions SET paused_by_moderator = 1
    WHERE paused = 1 AND pause_reason = 'paused by a moderator';
