"""The search and related-articles index: per-article terms, document frequencies, FTS5."""

from __future__ import annotations

import itertools
import math
import re
import sqlite3
from collections.abc import Iterable, Sequence

from bot.models import ArchiveScope
from bot.storage._articles import _ref
from bot.storage._base import CHUNK, Database, chunks
from bot.storage._scope import visible_condition
from bot.storage.records import ArticleRef, SearchHit

_QUERY_TOKEN = re.compile(r"\w+")
MAX_QUERY_TOKENS = 16
# bm25 column weights for (title, text): a title match counts as much as several body matches.
TITLE_BM25_WEIGHT = 4.0
BODY_BM25_WEIGHT = 1.0


def _query_tokens(text: str) -> list[str]:
    # The first tokens only, found lazily: a long text costs no list of all its words.
    matched = itertools.islice(_QUERY_TOKEN.finditer(text), MAX_QUERY_TOKENS)
    return [match.group() for match in matched]


def fts_query(text: str, *, operator: str = "AND") -> str:
    """An FTS5 MATCH expression from any user text: each word quoted, so no syntax survives."""
    # \w+ never holds a double quote; doubling any anyway keeps the quoting obviously safe.
    quoted = ['"' + token.replace('"', '""') + '"' for token in _query_tokens(text)]
    return f" {operator} ".join(quoted)


def ts_query(text: str, *, operator: str = "AND") -> str:
    """The same words as a PostgreSQL `to_tsquery` text: each word single-quoted (a lexeme, no
    operator inside it), joined with & or |, so no syntax from the user survives."""
    joiner = " & " if operator == "AND" else " | "
    # \w+ never holds a quote or a backslash; escaping them anyway keeps the quoting safe.
    quoted = [
        "'" + token.replace("\\", "\\\\").replace("'", "''") + "'" for token in _query_tokens(text)
    ]
    return joiner.join(quoted)


# PostgreSQL's full-text search (migrations/postgresql/0001): one tsvector per article, the title
# weighted A and the body D, so ts_rank's weights {D, C, B, A} give the title FTS5's 4:1 bm25
# weight. Normalisation 1 divides by 1 + log(length), as bm25 discounts long articles.
_PG_CONFIG = "'english'::regconfig"
_PG_RANK = f"ts_rank('{{{BODY_BM25_WEIGHT / TITLE_BM25_WEIGHT}, 0, 0, 1.0}}', fts.document, q, 1)"
_PG_QUERY = f"to_tsquery({_PG_CONFIG}, ?)"


# The TF-IDF weight of a stored term t (joined with its frequency row f) among `?` indexed
# articles: exactly `terms.tf_weight(count) * terms.idf(documents, n)` (a unit test holds the two
# equal), so vector lengths can be summed where the rows are.
_SQL_WEIGHT = (
    "(CASE WHEN t.count > 0 THEN 1.0 + ln(t.count) ELSE 0.0 END)"
    " * (ln((? + 1.0) / (f.documents + 1.0)) + 1.0)"
)


def sqlite_ln(value: float | None) -> float | None:
    """SQLite's ln() for builds without math functions: NULL where the logarithm is undefined."""
    if value is None or value <= 0:
        return None
    return math.log(value)


class SearchStore(Database):
    """Verbs of the term index behind /related and of full-text search."""

    _ln_ready = False

    async def save_terms_batch(
        self, batch: Sequence[tuple[int, Sequence[tuple[str, str, float]]]]
    ) -> None:
        """Store articles' (term, display word, count) rows in one transaction, replacing any
        earlier ones."""
        async with self.transaction() as conn:
            for article_id, terms in batch:
                async with conn.execute(
                    "SELECT term FROM article_terms WHERE article_id = ?", (article_id,)
                ) as cursor:
                    old = [row[0] for row in await cursor.fetchall()]
                if old:
                    await conn.executemany(
                        "UPDATE term_frequencies SET documents = documents - 1 WHERE term = ?",
                        [(term,) for term in old],
                    )
                    await conn.execute(
                        "DELETE FROM article_terms WHERE article_id = ?", (article_id,)
                    )
                await conn.executemany(
                    "INSERT INTO article_terms (article_id, term, display, count) "
                    "VALUES (?, ?, ?, ?)",
                    [(article_id, term, display, count) for term, display, count in terms],
                )
                await conn.executemany(
                    "INSERT INTO term_frequencies (term, documents) VALUES (?, 1) "
                    "ON CONFLICT (term) DO UPDATE SET documents = term_frequencies.documents + 1",
                    [(term,) for term, _, _ in terms],
                )
                change = (1 if terms else 0) - (1 if old else 0)
                if change:
                    await conn.execute(
                        "UPDATE related_index_stats SET documents = documents + ? WHERE id = 1",
                        (change,),
                    )

    async def indexed_article_count(self) -> int:
        """How many articles have stored terms."""
        return int(await self.scalar("SELECT documents FROM related_index_stats WHERE id = 1"))

    async def article_terms(self, ids: Sequence[int]) -> dict[int, dict[str, tuple[str, float]]]:
        """Stored terms of each article: {article id: {term: (display word, count)}}."""
        found: dict[int, dict[str, tuple[str, float]]] = {}
        for chunk in chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                "SELECT article_id, term, display, count FROM article_terms "  # noqa: S608
                f"WHERE article_id IN ({marks})",
                list(chunk),
            )
            for article_id, term, display, count in rows:
                found.setdefault(int(article_id), {})[term] = (display, float(count))
        return found

    async def vector_norms(self, ids: Sequence[int], documents: int) -> dict[int, float]:
        """Length of each indexed article's TF-IDF vector over its stored terms, as of now;
        summed inside SQLite, so the terms' rows never come to Python (BENCHMARKS.md)."""
        await self._ensure_ln()
        found: dict[int, float] = {}
        for chunk in chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                f"SELECT t.article_id, sum(({_SQL_WEIGHT}) * ({_SQL_WEIGHT})) "  # noqa: S608
                "FROM article_terms t JOIN term_frequencies f ON f.term = t.term "
                f"WHERE t.article_id IN ({marks}) GROUP BY t.article_id",
                [documents, documents, *chunk],
            )
            found.update((int(row[0]), math.sqrt(float(row[1]))) for row in rows)
        return found

    async def term_counts_among(
        self, ids: Sequence[int], terms: Iterable[str]
    ) -> dict[int, dict[str, tuple[float, int]]]:
        """For each article, the stored count and document count of those of `terms` it has."""
        wanted = sorted(set(terms))
        found: dict[int, dict[str, tuple[float, int]]] = {}
        if not wanted:
            return found
        half = CHUNK // 2
        for chunk in chunks(list(ids), half):
            for term_chunk in chunks(wanted, half):
                marks = ",".join("?" * len(chunk))
                term_marks = ",".join("?" * len(term_chunk))
                rows = await self.fetch_all(
                    "SELECT t.article_id, t.term, t.count, f.documents "  # noqa: S608
                    "FROM article_terms t JOIN term_frequencies f ON f.term = t.term "
                    f"WHERE t.article_id IN ({marks}) AND t.term IN ({term_marks})",
                    [*chunk, *term_chunk],
                )
                for article_id, term, count, documents in rows:
                    found.setdefault(int(article_id), {})[term] = (float(count), int(documents))
        return found

    async def _ensure_ln(self) -> None:
        # SQLite has ln() only when built with its math functions (most builds since 3.35).
        if self._ln_ready or self.dialect != "sqlite":
            return
        try:
            await self.scalar("SELECT ln(1.0)")
        except sqlite3.OperationalError:
            await self.register_function("ln", 1, sqlite_ln, deterministic=True)
        self._ln_ready = True

    async def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """In how many indexed articles each term appears (terms never seen are left out)."""
        found: dict[str, int] = {}
        for chunk in chunks(sorted(set(terms))):
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                f"SELECT term, documents FROM term_frequencies WHERE term IN ({marks})",  # noqa: S608
                list(chunk),
            )
            found.update((row[0], int(row[1])) for row in rows)
        return found

    async def related_candidate_refs(
        self,
        scope: ArchiveScope,
        query_words: Sequence[str],
        limit: int,
        exclude_ids: Sequence[int] = (),
    ) -> list[ArticleRef]:
        """Articles in `scope` matching any of the words, best bm25 first (title heavier)."""
        if self.dialect == "postgresql":
            return await self._pg_related_candidates(scope, query_words, limit, exclude_ids)
        expression = fts_query(" ".join(query_words), operator="OR")
        if not expression:
            return []
        # The scope test runs per FTS match, which bm25 scores anyway: the cost follows the
        # matches (bounded by the engine's postings budget), not the size of the scope.
        visible, params = visible_condition(scope, "articles_fts.rowid")
        rows = await self.fetch_all(
            "SELECT a.id, a.title, a.url, a.published_at FROM ("  # noqa: S608
            "SELECT rowid AS id, bm25(articles_fts, ?, ?) AS score FROM articles_fts "
            f"WHERE articles_fts MATCH ? AND {visible} ORDER BY score LIMIT ?"
            ") AS best JOIN articles a ON a.id = best.id ORDER BY best.score",
            (
                TITLE_BM25_WEIGHT,
                BODY_BM25_WEIGHT,
                expression,
                *params,
                limit + len(exclude_ids),
            ),
        )
        excluded = set(exclude_ids)
        return [_ref(row) for row in rows if int(row["id"]) not in excluded][:limit]

    async def _pg_related_candidates(
        self,
        scope: ArchiveScope,
        query_words: Sequence[str],
        limit: int,
        exclude_ids: Sequence[int],
    ) -> list[ArticleRef]:
        expression = ts_query(" ".join(query_words), operator="OR")
        if not expression:
            return []
        visible, params = visible_condition(scope, "fts.article_id", self.dialect)
        rows = await self.fetch_all(
            "SELECT a.id, a.title, a.url, a.published_at FROM ("  # noqa: S608
            f"SELECT fts.article_id AS id, {_PG_RANK} AS score FROM articles_fts fts, "
            f"{_PG_QUERY} q WHERE fts.document @@ q AND {visible} "
            "ORDER BY score DESC, fts.article_id LIMIT ?"
            ") AS best JOIN articles a ON a.id = best.id ORDER BY best.score DESC, a.id",
            (expression, *params, limit + len(exclude_ids)),
        )
        excluded = set(exclude_ids)
        return [_ref(row) for row in rows if int(row["id"]) not in excluded][:limit]

    async def search_articles(
        self, scope: ArchiveScope, query: str, limit: int = 10, offset: int = 0
    ) -> list[SearchHit]:
        """Full-text search of `scope`, safe for any user text: all words first, else any word."""
        limit = max(1, min(int(limit), 100))
        offset = max(0, int(offset))
        if self.dialect == "postgresql":
            return await self._pg_search(scope, query, limit, offset)
        visible, params = visible_condition(scope, "a.id", self.dialect)
        for operator in ("AND", "OR"):
            expression = fts_query(query, operator=operator)
            if not expression:
                return []
            rows = await self.fetch_all(
                "SELECT a.id, a.title, a.url, a.published_at, "  # noqa: S608
                "highlight(articles_fts, 0, '**', '**') AS title_hl, "
                "snippet(articles_fts, 1, '**', '**', '…', 24) AS snip, "
                "bm25(articles_fts, ?, ?) AS score "
                "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
                f"WHERE articles_fts MATCH ? AND {visible} ORDER BY score LIMIT ? OFFSET ?",
                (TITLE_BM25_WEIGHT, BODY_BM25_WEIGHT, expression, *params, limit, offset),
            )
            if rows or operator == "OR":
                return [
                    SearchHit(_ref(row), row["title_hl"], row["snip"], -float(row["score"]))
                    for row in rows
                ]
        return []

    async def _pg_search(
        self, scope: ArchiveScope, query: str, limit: int, offset: int
    ) -> list[SearchHit]:
        """`search_articles` on PostgreSQL: the same words, the same all-then-any rule."""
        visible, params = visible_condition(scope, "fts.article_id", self.dialect)
        for operator in ("AND", "OR"):
            expression = ts_query(query, operator=operator)
            if not expression:
                return []
            # Rank and cut first; headlines (which re-read the text) only for the page shown.
            rows = await self.fetch_all(
                "SELECT a.id, a.title, a.url, a.published_at, best.score, "  # noqa: S608
                f"ts_headline({_PG_CONFIG}, a.title, best.q, {_PG_TITLE_HEADLINE}) AS title_hl, "
                f"ts_headline({_PG_CONFIG}, a.text, best.q, {_PG_SNIPPET}) AS snip FROM ("
                f"SELECT fts.article_id AS id, q, {_PG_RANK} AS score FROM articles_fts fts, "
                f"{_PG_QUERY} q WHERE fts.document @@ q AND {visible} "
                "ORDER BY score DESC, fts.article_id LIMIT ? OFFSET ?"
                ") AS best JOIN articles a ON a.id = best.id ORDER BY best.score DESC, a.id",
                (expression, *params, limit, offset),
            )
            if rows or operator == "OR":
                return [
                    SearchHit(
                        _ref(row), row["title_hl"], _ellipsis(row["snip"]), float(row["score"])
                    )
                    for row in rows
                ]
        return []


# ts_headline's options: the title whole with its matches marked, as FTS5's highlight(); from the
# body a fragment of at most 24 words around the matches, as FTS5's snippet(..., 24).
_PG_TITLE_HEADLINE = "'StartSel=**, StopSel=**, HighlightAll=true'"
_PG_SNIPPET = "'StartSel=**, StopSel=**, MaxWords=24, MinWords=12, MaxFragments=1'"


def _ellipsis(fragment: str | None) -> str:
    """FTS5's snippet marks a cut text with …; ts_headline does not, so mark it here."""
    text = (fragment or "").strip()
    return f"…{text}…" if text else ""
