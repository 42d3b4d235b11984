-- Related articles and summaries (../0002_related.sql).

CREATE TABLE article_terms (
    article_id  BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    term        TEXT NOT NULL,
    display     TEXT NOT NULL,
    count       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (article_id, term)
);

CREATE TABLE term_frequencies (
    term        TEXT PRIMARY KEY,
    documents   BIGINT NOT NULL
);

CREATE TABLE summary_cache (
    article_id  BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    style       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sentences   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (article_id, style)
);

CREATE TABLE related_index_stats (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    documents   BIGINT NOT NULL
);
INSERT INTO related_index_stats (id, documents) VALUES (1, 0);
