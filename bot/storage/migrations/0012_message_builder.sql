-- Announcements the way each community wants them (issue 16): the message builder.
--
-- 1. One feed may go to one channel several times, each subscription with its own filters,
--    mentions and message, told apart by a name the moderator gives (unique per channel and
--    feed, ignoring case). Existing subscriptions keep the empty name: the unnamed one.
-- 2. Each subscription's message builder settings, as one JSON object in `message_settings`
--    ('' or '{}': every default, which is the announcement Paperboy always posted). One column
--    rather than a table of its own: the settings are always read with their subscription and
--    written whole, they are exported and imported as one object, and the core checks every
--    value (`bot.announce.message.MessageSettings`), so a new setting needs no migration.
--
-- SQLite cannot drop a table constraint, so the table is rebuilt the way SQLite documents
-- (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema changes"): the
-- migration runner turns foreign keys off around migrations and checks them before committing,
-- so dropping the old table does not cascade to the outbox. The outbox's triggers that read
-- this table are dropped first and made again after, and so are its indexes.

DROP TRIGGER guild_articles_on_insert;
DROP TRIGGER guild_articles_on_sent;

CREATE TABLE subscriptions_rebuilt (
    id                  INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    feed_id             INTEGER NOT NULL REFERENCES feeds (id),
    name                TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    format              TEXT NOT NULL CHECK (format IN ('embed', 'text', 'forum', 'webhook')),
    mention_role_id     INTEGER,
    include_filter      TEXT NOT NULL DEFAULT '',
    exclude_filter      TEXT NOT NULL DEFAULT '',
    template            TEXT NOT NULL DEFAULT '',
    message_settings    TEXT NOT NULL DEFAULT '',
    auto_thread         INTEGER NOT NULL DEFAULT 0,
    fallback_tag_id     INTEGER,
    paused              INTEGER NOT NULL DEFAULT 0,
    pause_reason        TEXT NOT NULL DEFAULT '',
    active              INTEGER NOT NULL DEFAULT 1,   -- 0: guild left or channel deleted
    created_by          INTEGER,
    created_at          TEXT NOT NULL,
    paused_by_moderator INTEGER NOT NULL DEFAULT 0,
    interval_seconds    INTEGER,                      -- NULL: the configured default
    UNIQUE (feed_id, channel_id, name)
);
INSERT INTO subscriptions_rebuilt (
    id, guild_id, channel_id, feed_id, format, mention_role_id, include_filter, exclude_filter,
    template, auto_thread, fallback_tag_id, paused, pause_reason, active, created_by, created_at,
    paused_by_moderator, interval_seconds
)
SELECT
    id, guild_id, channel_id, feed_id, format, mention_role_id, include_filter, exclude_filter,
    template, auto_thread, fallback_tag_id, paused, pause_reason, active, created_by, created_at,
    paused_by_moderator, interval_seconds
FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_rebuilt RENAME TO subscriptions;

CREATE INDEX subscriptions_by_guild ON subscriptions (guild_id);
CREATE INDEX subscriptions_by_feed_guild ON subscriptions (feed_id, guild_id, active);

CREATE TRIGGER guild_articles_on_insert AFTER INSERT ON outbox WHEN new.state = 'sent' BEGIN
    INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT guild_id, new.article_id FROM subscriptions WHERE id = new.subscription_id;
END;
CREATE TRIGGER guild_articles_on_sent AFTER UPDATE OF state ON outbox
    WHEN new.state = 'sent' AND old.state != 'sent' BEGIN
    INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT guild_id, new.article_id FROM subscriptions WHERE id = new.subscription_id;
END;
