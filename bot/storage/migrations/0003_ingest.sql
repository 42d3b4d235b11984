-- Ingestion: the feed's own content of an article, kept until the archiver has read it, so
-- polling never waits for text extraction and a feed with full content saves a page fetch.
ALTER TABLE articles ADD COLUMN feed_content_html TEXT NOT NULL DEFAULT '';
CREATE INDEX articles_by_text_status ON articles (text_status) WHERE text_status = 'pending';
