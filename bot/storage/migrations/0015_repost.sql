-- Articles that change, third choice: `repost` (issue 17). A subscription set to repost posts
-- a NEW announcement of each new version of an article it already posted, through the outbox
-- like any post (exactly once, in order, paced, quiet hours and caps, crash recovery).
--
-- 1. `subscription_rhythm.on_change` accepts 'repost'.
-- 2. The outbox allowed one row per (subscription, article); a repost is a second row of the
--    same pair, told apart by `version`: '' for the first announcement, the content hash
--    (bot.announce.changes.content_hash) of the version a repost announces. The uniqueness on
--    (subscription, article, version) makes each version's repost at most once; the "once per
--    channel" index gains the version too, so an article still reaches a channel once per
--    version whichever feed brought it.
-- 3. `article_versions.first_hash`: the version Paperboy first saw (what the first
--    announcement showed), so a revert to it is not reposted.
--
-- SQLite cannot change a CHECK or a table constraint in place, so both tables are rebuilt the
-- way SQLite documents (https://www.sqlite.org/lang_altertable.html, "other kinds of table
-- schema changes"), as 0012 did: the migration runner turns foreign keys off around migrations
-- and checks every reference before committing, so dropping the old outbox does not cascade to
-- the tables that refer to it (edits, publishes, digest items; their references name `outbox`
-- and find the rebuilt table). The outbox's triggers and indexes are made again.

CREATE TABLE subscription_rhythm_rebuilt (
    subscription_id  INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    quiet_start      TEXT,
    quiet_end        TEXT,
    daily_cap        INTEGER,
    on_change        TEXT NOT NULL DEFAULT 'ignore'
                     CHECK (on_change IN ('ignore', 'edit', 'repost')),
    digest           TEXT CHECK (digest IN ('daily', 'weekly')),
    digest_time      TEXT,
    digest_day       INTEGER CHECK (digest_day BETWEEN 0 AND 6),
    digest_size      INTEGER NOT NULL DEFAULT 10
);
INSERT INTO subscription_rhythm_rebuilt (
    subscription_id, quiet_start, quiet_end, daily_cap, on_change, digest, digest_time,
    digest_day, digest_size
)
SELECT
    subscription_id, quiet_start, quiet_end, daily_cap, on_change, digest, digest_time,
    digest_day, digest_size
FROM subscription_rhythm;
DROP TABLE subscription_rhythm;
ALTER TABLE subscription_rhythm_rebuilt RENAME TO subscription_rhythm;
CREATE INDEX subscription_rhythm_digests ON subscription_rhythm (subscription_id)
    WHERE digest IS NOT NULL;

DROP TRIGGER guild_articles_on_insert;
DROP TRIGGER guild_articles_on_sent;

CREATE TABLE outbox_rebuilt (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    article_id       INTEGER NOT NULL REFERENCES articles (id),
    channel_id       INTEGER NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('pending', 'claimed', 'sent', 'failed', 'skipped')),
    reason           TEXT NOT NULL DEFAULT '',
    payload          TEXT NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before       TEXT NOT NULL,
    claimed_at       TEXT,
    sent_at          TEXT,
    message_id       INTEGER,
    created_at       TEXT NOT NULL,
    thread_id        INTEGER,
    version          TEXT NOT NULL DEFAULT '',   -- '': the first announcement; a hash: a repost
    UNIQUE (subscription_id, article_id, version)
);
INSERT INTO outbox_rebuilt (
    id, subscription_id, article_id, channel_id, state, reason, payload, attempts, not_before,
    claimed_at, sent_at, message_id, created_at, thread_id
)
SELECT
    id, subscription_id, article_id, channel_id, state, reason, payload, attempts, not_before,
    claimed_at, sent_at, message_id, created_at, thread_id
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;

CREATE INDEX outbox_by_state ON outbox (state, not_before);
CREATE UNIQUE INDEX outbox_once_per_channel ON outbox (channel_id, article_id, version)
    WHERE state IN ('pending', 'claimed', 'sent');
CREATE INDEX outbox_open_by_subscription ON outbox (subscription_id, id)
    WHERE state IN ('pending', 'claimed');
CREATE INDEX outbox_sent_by_channel ON outbox (channel_id, sent_at) WHERE state = 'sent';

CREATE TRIGGER guild_articles_on_insert AFTER INSERT ON outbox WHEN new.state = 'sent' BEGIN
    INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT guild_id, new.article_id FROM subscriptions WHERE id = new.subscription_id;
END;
CREATE TRIGGER guild_articles_on_sent AFTER UPDATE OF state ON outbox
    WHEN new.state = 'sent' AND old.state != 'sent' BEGIN
    INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT guild_id, new.article_id FROM subscriptions WHERE id = new.subscription_id;
END;

ALTER TABLE article_versions ADD COLUMN first_hash TEXT;
UPDATE article_versions SET first_hash = content_hash;
