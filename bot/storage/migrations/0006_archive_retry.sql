-- Archiving: a page that failed for a passing reason (timeout, 5xx, 429, network) is tried again
-- later instead of being marked failed for good.
ALTER TABLE articles ADD COLUMN text_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN text_retry_at TEXT;
