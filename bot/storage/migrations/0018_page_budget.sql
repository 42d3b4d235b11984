-- A poll's page budget ([limits] archive_pages_per_poll) in the database: the articles a poll
-- added past it get fetch_page = 0 in the poll's own transaction, and the archiver keeps the
-- feed's text for them instead of fetching their pages. It was remembered in memory by the
-- archiver, which is not always in the process that polled (`paperboy worker`), and forgot the
-- oldest of more than 10,000 (a large import).
ALTER TABLE articles ADD COLUMN fetch_page INTEGER NOT NULL DEFAULT 1;
