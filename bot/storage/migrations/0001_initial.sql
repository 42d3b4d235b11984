-- Paperboy schema, version 1. Timestamps are UTC ISO-8601 text; ids of Discord objects are integers.

CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT NOT NULL UNIQUE,   -- the feed document's URL (after discovery)
    title                TEXT NOT NULL DEFAULT '',
    site_url             TEXT NOT NULL DEFAULT '',
    icon_url             TEXT NOT NULL DEFAULT '',
    interval_seconds     INTEGER,                -- NULL: the configured default
    etag                 TEXT,
    last_modified        TEXT,
    next_check_at        TEXT NOT NULL,
    last_checked_at      TEXT,
    last_success_at      TEXT,
    last_error_kind      TEXT,
    last_error_message   TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_notified     INTEGER NOT NULL DEFAULT 0,  -- moderators were told it is failing
    created_at           TEXT NOT NULL
);
CREATE INDEX feeds_by_next_check ON feeds (next_check_at);

CREATE TABLE articles (
    id             INTEGER PRIMARY KEY,
    canonical_url  TEXT NOT NULL UNIQUE,
    url            TEXT NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    author         TEXT NOT NULL DEFAULT '',
    published_at   TEXT,
    categories     TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    excerpt        TEXT NOT NULL DEFAULT '',     -- the feed's summary, as plain text
    description    TEXT NOT NULL DEFAULT '',     -- the publisher's own (og:/meta/JSON-LD)
    image_url      TEXT NOT NULL DEFAULT '',
    site_name      TEXT NOT NULL DEFAULT '',
    text           TEXT NOT NULL DEFAULT '',     -- extracted full text
    text_status    TEXT NOT NULL DEFAULT 'pending'
                   CHECK (text_status IN ('pending', 'done', 'failed', 'skipped')),
    first_seen_at  TEXT NOT NULL
);
CREATE INDEX articles_by_published ON articles (published_at);

-- Full-text index over title and body; external content kept in sync by triggers.
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;

-- Which items each feed has shown; the key never depends on dates, so edits are not new items.
CREATE TABLE feed_entries (
    feed_id        INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key      TEXT NOT NULL,
    article_id     INTEGER NOT NULL REFERENCES articles (id),
    published_at   TEXT,
    first_seen_at  TEXT NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
) WITHOUT ROWID;
CREATE INDEX feed_entries_by_article ON feed_entries (article_id);

CREATE TABLE guilds (
    id                 INTEGER PRIMARY KEY,      -- Discord guild id
    log_channel_id     INTEGER,
    timezone           TEXT NOT NULL DEFAULT 'UTC',
    moderator_role_id  INTEGER,
    active             INTEGER NOT NULL DEFAULT 1,   -- 0 once the bot was removed
    updated_at         TEXT NOT NULL
);

CREATE TABLE subscriptions (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    channel_id         INTEGER NOT NULL,
    feed_id            INTEGER NOT NULL REFERENCES feeds (id),
    format             TEXT NOT NULL CHECK (format IN ('embed', 'text', 'forum', 'webhook')),
    mention_role_id    INTEGER,
    include_filter     TEXT NOT NULL DEFAULT '',
    exclude_filter     TEXT NOT NULL DEFAULT '',
    template           TEXT NOT NULL DEFAULT '',
    auto_thread        INTEGER NOT NULL DEFAULT 0,
    fallback_tag_id    INTEGER,
    paused             INTEGER NOT NULL DEFAULT 0,
    pause_reason       TEXT NOT NULL DEFAULT '',
    active             INTEGER NOT NULL DEFAULT 1,   -- 0: guild left or channel deleted
    created_by         INTEGER,
    created_at         TEXT NOT NULL,
    UNIQUE (feed_id, channel_id)
);
CREATE INDEX subscriptions_by_guild ON subscriptions (guild_id);

-- One row per (subscription, article): the delivery work and its fate.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    article_id       INTEGER NOT NULL REFERENCES articles (id),
    channel_id       INTEGER NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('pending', 'claimed', 'sent', 'failed', 'skipped')),
    reason           TEXT NOT NULL DEFAULT '',   -- why skipped or failed, in words
    payload          TEXT NOT NULL DEFAULT '',   -- the rendered message plan, JSON
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before       TEXT NOT NULL,
    claimed_at       TEXT,
    sent_at          TEXT,
    message_id       INTEGER,
    created_at       TEXT NOT NULL,
    UNIQUE (subscription_id, article_id)
);
CREATE INDEX outbox_by_state ON outbox (state, not_before);
-- The same article never goes to one channel twice, whichever feed brought it.
CREATE UNIQUE INDEX outbox_once_per_channel ON outbox (channel_id, article_id)
    WHERE state IN ('pending', 'claimed', 'sent');

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX audit_log_by_guild ON audit_log (guild_id, created_at);
