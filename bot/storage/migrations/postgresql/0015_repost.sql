-- Articles that change, third choice: `repost` (../0015_repost.sql says why). PostgreSQL changes
-- the constraints in place where SQLite rebuilds the tables.
ALTER TABLE subscription_rhythm DROP CONSTRAINT subscription_rhythm_on_change_check;
ALTER TABLE subscription_rhythm ADD CONSTRAINT subscription_rhythm_on_change_check
    CHECK (on_change IN ('ignore', 'edit', 'repost'));

-- '': the first announcement; a content hash: the repost of that version.
ALTER TABLE outbox ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox DROP CONSTRAINT outbox_subscription_id_article_id_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_subscription_id_article_id_version_key
    UNIQUE (subscription_id, article_id, version);
DROP INDEX outbox_once_per_channel;
CREATE UNIQUE INDEX outbox_once_per_channel ON outbox (channel_id, article_id, version)
    WHERE state IN ('pending', 'claimed', 'sent');

ALTER TABLE article_versions ADD COLUMN first_hash TEXT;
UPDATE article_versions SET first_hash = content_hash;
