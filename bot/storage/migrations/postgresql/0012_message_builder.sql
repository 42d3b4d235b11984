-- The message builder (../0012_message_builder.sql): several subscriptions of one feed in one
-- channel, told apart by a name unique per channel and feed ignoring case, and each
-- subscription's message settings. PostgreSQL changes the table in place (SQLite has to rebuild
-- it), so its triggers and indexes stay as they are; the new columns come last.
--
-- SQLite's COLLATE NOCASE becomes a case-insensitive ICU collation, so the unique constraint,
-- `ON CONFLICT (feed_id, channel_id, name)` and `name = ?` ignore case on both engines.
CREATE COLLATION paperboy_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

ALTER TABLE subscriptions ADD COLUMN name TEXT NOT NULL DEFAULT '' COLLATE paperboy_nocase;
ALTER TABLE subscriptions ADD COLUMN message_settings TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_feed_id_channel_id_key;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_feed_id_channel_id_name_key
    UNIQUE (feed_id, channel_id, name);
