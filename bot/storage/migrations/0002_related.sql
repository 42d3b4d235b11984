-- Related articles and summaries: per-article term counts, document frequencies, summary cache.

-- The stems of each archived article (its heaviest ones), with a surface word for display.
CREATE TABLE article_terms (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    term        TEXT NOT NULL,
    display     TEXT NOT NULL,
    count       REAL NOT NULL,
    PRIMARY KEY (article_id, term)
) WITHOUT ROWID;

-- In how many indexed articles each stem appears; kept in step by save_article_terms.
CREATE TABLE term_frequencies (
    term        TEXT PRIMARY KEY,
    documents   INTEGER NOT NULL
) WITHOUT ROWID;

-- Summaries already made, one per article and style.
CREATE TABLE summary_cache (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    style       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sentences   TEXT NOT NULL,   -- JSON array of strings
    created_at  TEXT NOT NULL,
    PRIMARY KEY (article_id, style)
) WITHOUT ROWID;

-- How many articles have terms stored (the N of IDF); one row.
CREATE TABLE related_index_stats (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    documents   INTEGER NOT NULL
);
INSERT INTO related_index_stats (id, documents) VALUES (1, 0);
