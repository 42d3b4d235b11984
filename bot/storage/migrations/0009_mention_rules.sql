-- Mention rules (#16): roles pinged with a subscription's announcements, each only when the
-- article matches the rule's filter (empty: every article). Keyed by subscription id, so the
-- subscriptions table keeps its shape; its mention_role_id stays the role pinged every time.
CREATE TABLE mention_rules (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    role_id          INTEGER NOT NULL,
    filter           TEXT NOT NULL DEFAULT '',   -- bot.announce.filters language
    created_by       INTEGER,
    created_at       TEXT NOT NULL,
    UNIQUE (subscription_id, role_id)
);

-- Filters written so far are comma-separated keyword lists ("housing, rent strike" meant
-- housing OR "rent strike"). Filters are now a boolean language in which that text means
-- something else, so the old ones are marked and keep their meaning (filters.parse_stored).
UPDATE subscriptions SET include_filter = 'legacy-list:' || include_filter
    WHERE include_filter != '';
UPDATE subscriptions SET exclude_filter = 'legacy-list:' || exclude_filter
    WHERE exclude_filter != '';
