-- Archiving retries (../0006_archive_retry.sql).
ALTER TABLE articles ADD COLUMN text_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN text_retry_at TEXT;
