-- The recent-entries index (../0013_recent_entries.sql).
CREATE INDEX feed_entries_recent ON feed_entries (feed_id, first_seen_at);
