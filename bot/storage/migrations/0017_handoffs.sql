-- Work a process without Discord (`paperboy worker`) hands to the bot processes, which post it:
-- moderators' notices raised while polling (held-back items, a failing feed), taken by the
-- process serving the notice's server, and new articles to match against members' keyword
-- alerts, taken by any bot process. Each row is deleted as it is taken, so it is told at most
-- once (a crash in between loses it, as a notice in memory would be lost).
CREATE TABLE handed_notices (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE handed_alerts (
    id           INTEGER PRIMARY KEY,
    feed_id      INTEGER NOT NULL,
    article_ids  TEXT NOT NULL,  -- comma-separated, in the order the poll recorded them
    created_at   TEXT NOT NULL
);
