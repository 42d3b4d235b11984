"""`paperboy db copy --to postgresql://...`: a working SQLite database moves over whole, keeps
working there (search, new ids, guild scope), and a non-empty target is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.models import WHOLE_ARCHIVE, GuildScope, NewSubscription
from bot.storage import OutboxRow, Storage, copy_source_rows, copy_sqlite_to_postgres
from tests.bench.news_site import NewsSite
from tests.builders import NOW, READER_NOW, build_archive
from tests.pgcluster import Cluster
from tests.unit.support import paperboy


async def fill(path: Path) -> dict[str, int]:
    """A database with articles, terms, subscriptions, sent and pending deliveries, alerts."""
    storage = await Storage.open(path)
    try:
        async with NewsSite() as site:
            feed_id, articles = await build_archive(storage, site)
        sub = await storage.add_subscription(
            NewSubscription(guild_id=5, channel_id=50, feed_id=feed_id, format="embed"), now=NOW
        )
        assert sub is not None
        ids = sorted(articles.values())
        async with storage.poll_transaction(feed_id, now=READER_NOW) as tx:
            created = await tx.add_outbox(
                [OutboxRow(sub.id, article_id, 50, "pending") for article_id in ids[:3]]
            )
        first = created[0][1]
        assert await storage.claim_delivery(first, now=READER_NOW)
        await storage.mark_sent(first, message_id=9001, thread_id=None, now=READER_NOW)
        await storage.add_alert(3, 5, "strike", "strike", now=NOW, max_alerts=5)
    finally:
        await storage.close()
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'articles_fts%'"
            )
        ]
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


async def test_db_copy_moves_everything_and_refuses_a_non_empty_target(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    source = tmp_path / "bot.db"
    counts = await fill(source)
    assert counts["articles"] > 5 and counts["article_terms"] > 0 and counts["guild_articles"] == 1
    (tmp_path / "config.toml").write_text(f'[database]\npath = "{source}"\n')
    url = await pg_cluster.new_database(migrated=False)

    done = paperboy("db", "copy", "--to", url, "--batch", "7", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Copied {sum(counts.values())} rows in {len(counts)} tables" in done.stderr
    assert "row counts verified" in done.stderr

    copied = await Storage.open(url)
    try:
        for table, count in counts.items():
            assert await copied.scalar(f"SELECT count(*) FROM {table}") == count, table
        # Searching works on the copy (the full-text index was built as rows arrived), and a
        # server still sees exactly what it saw before.
        lite = await Storage.open(source)
        try:
            for scope in (WHOLE_ARCHIVE, GuildScope(5), GuildScope(6)):
                before = [hit.article.id for hit in await lite.search_articles(scope, "strike")]
                after = [hit.article.id for hit in await copied.search_articles(scope, "strike")]
                assert sorted(after) == sorted(before)
            assert before == [] and after == []  # GuildScope(6) sees nothing
        finally:
            await lite.close()
        # New rows get ids after the copied ones (the sequences were moved on).
        feed = await copied.add_feed("https://new.example/feed", now=NOW)
        assert feed.id == counts["feeds"] + 1
        pending = await copied.next_deliveries()
        assert [d.article_id for d in pending] and all(d.channel_id == 50 for d in pending)
    finally:
        await copied.close()

    again = paperboy("db", "copy", "--to", url, cwd=tmp_path)
    assert again.returncode == 1
    assert "is not empty" in again.stderr and "feeds (2 rows)" in again.stderr
    assert "createdb" in again.stderr


async def test_db_copy_reports_progress_in_batches_of_every_table(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    counts = await fill(tmp_path / "bot.db")
    source = await Storage.open(tmp_path / "bot.db")
    target = await Storage.open(await pg_cluster.new_database())
    reported: list[tuple[str, int]] = []
    try:
        planned = await copy_source_rows(source)
        copied = await copy_sqlite_to_postgres(
            source,
            target,
            batch_size=5,
            progress=lambda table, rows: reported.append((table, rows)),
        )
    finally:
        await source.close()
        await target.close()
    assert planned == counts == copied
    # Parents before children: an article before the entries and deliveries that name it.
    order = list(planned)
    assert order.index("feeds") < order.index("feed_entries") > order.index("articles")
    assert order.index("guild_articles") < order.index("outbox")
    assert all(0 < rows <= 5 for _, rows in reported)
    for table, count in counts.items():
        assert sum(rows for name, rows in reported if name == table) == count


def test_db_backup_on_postgresql_points_at_pg_dump_without_the_password(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "postgresql://bot:s3cret@db.example/paper"\n'
    )
    done = paperboy("db", "backup", "x.db", cwd=tmp_path)
    assert done.returncode == 1
    assert "pg_dump postgresql://bot:***@db.example/paper" in done.stderr
    assert "s3cret" not in done.stderr


def test_db_copy_refuses_a_target_that_is_not_postgresql(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(f'[database]\npath = "{tmp_path / "bot.db"}"\n')
    done = paperboy("db", "copy", "--to", "mysql://x@y/z", cwd=tmp_path)
    assert done.returncode == 1 and "must be a postgresql:// URL" in done.stderr
    missing = paperboy("db", "copy", "--to", "postgresql://x@127.0.0.1:1/z", cwd=tmp_path)
    assert missing.returncode == 1 and "There is no SQLite database at" in missing.stderr
