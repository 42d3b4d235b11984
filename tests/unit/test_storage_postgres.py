"""The PostgreSQL engine: placeholder translation, migrations kept in step with SQLite's, the same
schema on both engines, serialised writers across handles, and FTS semantics members rely on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.config import redact_url
from bot.errors import StorageError
from bot.models import WHOLE_ARCHIVE, GuildScope
from bot.storage import NewArticle, NewEntry, SearchHit, Storage, migrations
from bot.storage._connection import returns_rows
from bot.storage._postgres import numbered_placeholders
from bot.storage._search import ts_query
from tests.builders import NOW
from tests.pgcluster import Cluster

MIGRATIONS = Path(__file__).resolve().parents[2] / "bot" / "storage" / "migrations"


# -- the SQL that is written once --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ? , ?", "SELECT $1 , $2"),
        (
            "UPDATE t SET a = ? WHERE b = '?' AND c = ?",
            "UPDATE t SET a = $1 WHERE b = '?' AND c = $2",
        ),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"),
        ('SELECT "odd ? name" FROM t WHERE x = ?', 'SELECT "odd ? name" FROM t WHERE x = $1'),
        ("SELECT ? -- a comment?\n, ?", "SELECT $1 -- a comment?\n, $2"),
        ("SELECT /* what? */ ?", "SELECT /* what? */ $1"),
        ("SELECT $$body ? here$$, ?", "SELECT $$body ? here$$, $1"),
        ("SELECT $tag$ ? $tag$, ?", "SELECT $tag$ ? $tag$, $1"),
        ("SELECT 'unterminated ?", "SELECT 'unterminated ?"),
        ("", ""),
    ],
)
def test_placeholders_are_numbered_outside_literals_names_and_comments(
    sql: str, expected: str
) -> None:
    assert numbered_placeholders(sql) == expected


def test_statements_with_rows_are_told_from_writes() -> None:
    assert returns_rows("SELECT 1")
    assert returns_rows("  with x AS (SELECT 1) SELECT * FROM x")
    assert returns_rows("INSERT INTO t VALUES (?) ON CONFLICT DO NOTHING RETURNING id")
    assert returns_rows("-- why\nSELECT 1")
    assert not returns_rows("UPDATE t SET returned = 1")
    assert not returns_rows("DELETE FROM t WHERE id = ?")


def test_user_words_become_a_tsquery_without_any_syntax() -> None:
    assert ts_query("rent strike") == "'rent' & 'strike'"
    assert ts_query("rent strike", operator="OR") == "'rent' | 'strike'"
    # Operators, quotes and prefixes a member types are not words, so they vanish.
    assert ts_query("rent' | !(strike:*)") == "'rent' & 'strike'"
    assert ts_query("!!! ???") == ""


def test_a_database_url_is_shown_without_its_password() -> None:
    assert redact_url("postgresql://bot:s3cret@db.example:5433/paper") == (
        "postgresql://bot:***@db.example:5433/paper"
    )
    assert redact_url("postgresql://bot@db/paper") == "postgresql://bot@db/paper"


# -- migrations for both engines ----------------------------------------------------------------


def test_every_sqlite_migration_has_a_postgresql_counterpart() -> None:
    """A migration added for SQLite alone fails here: write its PostgreSQL twin in
    bot/storage/migrations/postgresql/ under the same file name."""
    sqlite_names = sorted(p.name for p in MIGRATIONS.glob("*.sql"))
    postgres_names = sorted(p.name for p in (MIGRATIONS / "postgresql").glob("*.sql"))
    missing = sorted(set(sqlite_names) - set(postgres_names))
    extra = sorted(set(postgres_names) - set(sqlite_names))
    assert not missing, f"SQLite migrations without a PostgreSQL counterpart: {missing}"
    assert not extra, f"PostgreSQL migrations without a SQLite original: {extra}"
    assert [v for v, _, _ in migrations("postgresql")] == [v for v, _, _ in migrations("sqlite")]


def _sqlite_columns(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'articles_fts%'"
            )
        ]
        return {t: [row[1] for row in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


async def _postgres_columns(storage: Storage) -> dict[str, list[str]]:
    rows = await storage.fetch_all(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name NOT IN "
        "('schema_version', 'articles_fts') ORDER BY table_name, ordinal_position"
    )
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


@pytest.mark.parametrize("version", [1, 8, 11, None])
async def test_both_engines_have_the_same_tables_and_columns_at_each_version(
    pg_cluster: Cluster, tmp_path: Path, version: int | None
) -> None:
    lite = await Storage.open(tmp_path / "lite.db", migrate=False)
    await lite.migrate(target=version)
    await lite.close()
    pg = await Storage.open(await pg_cluster.new_database(migrated=False), migrate=False)
    try:
        await pg.migrate(target=version)
        assert await pg.schema_version() == (version or len(migrations()))
        expected = _sqlite_columns(tmp_path / "lite.db")
        # The same columns; their order may differ where SQLite rebuilt a table that PostgreSQL
        # altered in place (every verb names its columns).
        found = await _postgres_columns(pg)
        assert {t: sorted(c) for t, c in found.items()} == {
            t: sorted(expected[t]) for t in sorted(expected)
        }
    finally:
        await pg.close()


async def test_upgrading_a_postgresql_database_step_by_step_reaches_the_latest(
    pg_cluster: Cluster,
) -> None:
    url = await pg_cluster.new_database(migrated=False)
    for target in range(1, len(migrations()) + 1):
        db = await Storage.open(url, migrate=False)
        assert await db.migrate(target=target) == target
        await db.close()
    db = await Storage.open(url)
    try:
        assert await db.schema_version() == len(migrations())
    finally:
        await db.close()


async def test_a_foreign_postgresql_database_is_refused(pg_cluster: Cluster) -> None:
    url = await pg_cluster.new_database(migrated=False)
    db = await Storage.open(url, migrate=False)
    await db.execute("CREATE TABLE someone_elses (x INTEGER)")
    await db.close()
    with pytest.raises(StorageError, match="did not create \\(someone_elses\\)"):
        await Storage.open(url)


async def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="Cannot open the database postgresql://x:\\*\\*\\*@"):
        await Storage.open("postgresql://x:secret@127.0.0.1:1/none")


# -- transactions across handles (two processes) -------------------------------------------------


async def test_read_then_write_transactions_of_two_handles_never_interleave(
    pg_cluster: Cluster,
) -> None:
    """Two processes' read-then-write work (simulated by two handles, each with its own pool)
    is serialised by the advisory lock: no increment is lost, as with SQLite's one writer."""
    url = await pg_cluster.new_database()
    first, second = await Storage.open(url), await Storage.open(url)
    try:

        async def bump(db: Storage) -> None:
            async with db.transaction() as conn:
                async with conn.execute(
                    "SELECT documents FROM related_index_stats WHERE id = 1"
                ) as cursor:
                    row = await cursor.fetchone()
                assert row is not None
                await asyncio.sleep(0)  # let the other handle try to get in between
                await conn.execute(
                    "UPDATE related_index_stats SET documents = ? WHERE id = 1", (row[0] + 1,)
                )

        await asyncio.gather(*(bump(db) for _ in range(20) for db in (first, second)))
        assert await first.indexed_article_count() == 40
    finally:
        await first.close()
        await second.close()


async def test_the_write_probe_reports_a_writable_postgresql_database(pg_cluster: Cluster) -> None:
    db = await Storage.open(await pg_cluster.new_database())
    try:
        assert await db.write_problem() is None
        name = db.path.rsplit("/", 1)[1]
        await db.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    finally:
        await db.close()
    db = await Storage.open(pg_cluster.url(name), migrate=False)
    try:
        problem = await db.write_problem()
        assert problem is not None and "not writable" in problem and "read-only" in problem
    finally:
        await db.close()


# -- full-text search as members see it ----------------------------------------------------------


async def test_search_words_stemming_ranking_and_fallback_agree_on_both_engines(
    storage: Storage,
) -> None:
    """What a member sees from /search and /related is the same on both engines."""
    feed = await storage.add_feed("https://paper.example/feed/", now=NOW)
    texts = [
        ("Rent strike grows", "Tenants joined the strike across the city."),
        ("City budget", "The council discussed rent and housing at length, then parks."),
        ("Parks news", "A new park opens; nothing about housing."),
        ("Striking workers", "Dock workers are striking over pay."),
    ]
    articles = [
        NewArticle(
            canonical_url=f"https://paper.example/{i}",
            url=f"https://paper.example/{i}",
            title=title,
            text=text,
            text_status="done",
        )
        for i, (title, text) in enumerate(texts)
    ]
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries([NewEntry(f"k{i}", a, None) for i, a in enumerate(ids)])

    def titles(hits: list[SearchHit]) -> list[str]:
        return [hit.article.title for hit in hits]

    # Every word must match when some article has them all.
    hits = await storage.search_articles(WHOLE_ARCHIVE, "rent strike")
    assert titles(hits) == ["Rent strike grows"]
    assert hits[0].title_highlighted == "**Rent** **strike** grows"
    assert "**strike**" in hits[0].snippet
    # Stemming: "strikes" finds strike and striking, as FTS5's porter tokenizer does; the
    # title match ranks first.
    assert titles(await storage.search_articles(WHOLE_ARCHIVE, "strikes")) == [
        "Striking workers",
        "Rent strike grows",
    ] or titles(await storage.search_articles(WHOLE_ARCHIVE, "strikes")) == [
        "Rent strike grows",
        "Striking workers",
    ]
    # No article has both words: any word instead.
    fallback = titles(await storage.search_articles(WHOLE_ARCHIVE, "housing workers"))
    assert sorted(fallback) == ["City budget", "Parks news", "Striking workers"]
    assert fallback[0] == "Striking workers"  # the only title match
    # Syntax typed by a member is only words; a server sees only its own feeds' articles.
    assert titles(await storage.search_articles(WHOLE_ARCHIVE, 'parks* OR "')) == [
        "Parks news",
        "City budget",
    ]
    assert await storage.search_articles(GuildScope(guild_id=99), "parks") == []
    # Related candidates: any of the words, title matches first.
    refs = await storage.related_candidate_refs(WHOLE_ARCHIVE, ["rent", "housing"], 10)
    assert {ref.title for ref in refs} == {"Rent strike grows", "City budget", "Parks news"}
    assert refs[0].title in ("Rent strike grows", "City budget")
    assert await storage.related_candidate_refs(WHOLE_ARCHIVE, ["rent"], 10, [ids[0]]) == [
        ref for ref in refs if ref.title == "City budget"
    ]
