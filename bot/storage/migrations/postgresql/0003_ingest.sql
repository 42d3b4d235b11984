-- Ingestion (../0003_ingest.sql).
ALTER TABLE articles ADD COLUMN feed_content_html TEXT NOT NULL DEFAULT '';
CREATE INDEX articles_by_text_status ON articles (text_status) WHERE text_status = 'pending';
