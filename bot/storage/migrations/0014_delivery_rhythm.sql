-- Delivery rhythm: when and how a subscription's announcements go out (quiet hours, a daily cap,
-- what to do when an article changes), publishing in Announcement channels, and edits.
-- A table of its own rather than columns on `subscriptions`, so a rebuild of that table by
-- another change cannot drop these settings; no row means the defaults.
CREATE TABLE subscription_rhythm (
    subscription_id  INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    quiet_start      TEXT,                       -- 'HH:MM' in the server's time zone, or NULL
    quiet_end        TEXT,                       -- 'HH:MM'; quiet from start until end
    daily_cap        INTEGER,                    -- posts per local day, NULL: no cap
    on_change        TEXT NOT NULL DEFAULT 'ignore' CHECK (on_change IN ('ignore', 'edit')),
    digest           TEXT CHECK (digest IN ('daily', 'weekly')),  -- NULL: instant posts
    digest_time      TEXT,                       -- 'HH:MM' local
    digest_day       INTEGER CHECK (digest_day BETWEEN 0 AND 6),  -- weekly: 0 = Monday
    digest_size      INTEGER NOT NULL DEFAULT 10 -- items per digest (the rest wait for the next)
);

-- Digests made: one per (subscription, scheduled moment), so a slot is never served twice.
CREATE TABLE digests (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    scheduled_for    TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (subscription_id, scheduled_for)
);

-- A digest's messages, sent in order like posts: claimed before Discord is asked, then sent.
CREATE TABLE digest_pages (
    id           INTEGER PRIMARY KEY,
    digest_id    INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    page         INTEGER NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'sent')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    message_id   INTEGER,
    sent_at      TEXT,
    UNIQUE (digest_id, page)
);
CREATE INDEX digest_pages_open ON digest_pages (id) WHERE state IN ('pending', 'claimed');
CREATE INDEX subscription_rhythm_digests ON subscription_rhythm (subscription_id)
    WHERE digest IS NOT NULL;

-- Which digest page lists an outbox row: the primary key means an item is in one digest only.
CREATE TABLE digest_items (
    outbox_id  INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    page_id    INTEGER NOT NULL REFERENCES digest_pages (id) ON DELETE CASCADE
);

-- Announcements waiting to be published (crossposted) from an Announcement channel. Discord
-- allows 10 publishes per channel per hour: beyond that they wait here, in order.
CREATE TABLE publishes (
    outbox_id     INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    message_id    INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'published', 'failed')),
    reason        TEXT NOT NULL DEFAULT '',
    not_before    TEXT NOT NULL,
    published_at  TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX publishes_open ON publishes (channel_id, outbox_id) WHERE state = 'pending';
CREATE INDEX publishes_done ON publishes (channel_id, published_at) WHERE state = 'published';

-- A channel whose publish queue is held by Discord's hourly limit, with moderators told once;
-- the row goes when the queue empties, so the next hold is told again.
CREATE TABLE publish_holds (
    channel_id  INTEGER PRIMARY KEY,
    since       TEXT NOT NULL
);

-- What an article looked like when Paperboy last saw it (hash of title, standfirst and image):
-- a different hash on a later poll means it changed.
CREATE TABLE article_versions (
    article_id    INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL
);

-- The outbox of edits: one row per (posted announcement, new version), so a
-- change is acted on exactly once. Claimed before Discord is asked, like posts.
CREATE TABLE outbox_edits (
    id            INTEGER PRIMARY KEY,
    outbox_id     INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL DEFAULT 'edit' CHECK (kind IN ('edit')),
    content_hash  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'claimed', 'sent', 'failed')),
    reason        TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    TEXT NOT NULL,
    claimed_at    TEXT,
    sent_at       TEXT,
    message_id    INTEGER,
    created_at    TEXT NOT NULL,
    UNIQUE (outbox_id, content_hash)
);
CREATE INDEX outbox_edits_open ON outbox_edits (state, not_before)
    WHERE state IN ('pending', 'claimed');
