-- Keyword alerts: a member is sent a direct message when a new article matches one of their terms.

-- One row per alert. An alert belongs to the guild it was set in, and only articles of feeds
-- that guild subscribes to can trigger it, so one server never learns another's feeds.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER NOT NULL,
    term        TEXT NOT NULL,   -- the rule as `filters.FilterTerm.to_text()` writes it
    folded      TEXT NOT NULL,   -- case- and accent-folded term, so duplicates are refused
    created_at  TEXT NOT NULL,
    UNIQUE (user_id, guild_id, folded)
);
CREATE INDEX alerts_by_guild ON alerts (guild_id);

-- Members whose alerts are switched off because a direct message failed for good.
CREATE TABLE alert_members (
    user_id        INTEGER PRIMARY KEY,
    disabled       INTEGER NOT NULL DEFAULT 0,
    reason         TEXT NOT NULL DEFAULT '',
    disabled_at    TEXT,
    note_pending   INTEGER NOT NULL DEFAULT 0   -- tell them once, the next time they use a command
);

-- Which articles a member was already sent, so a restart or a second feed never repeats a DM.
CREATE TABLE alert_deliveries (
    user_id     INTEGER NOT NULL,
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, article_id)
) WITHOUT ROWID;
