"""Migrations: fresh, upgrade from every earlier version, newer and foreign databases refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.errors import StorageError
from bot.storage import Storage, backup_database, latest_version, migrations, split_statements


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()
    return [(t, n, " ".join(sql.split())) for t, n, sql in rows]


async def test_fresh_database_gets_latest_schema_and_pragmas(tmp_path: Path) -> None:
    db = await Storage.open(tmp_path / "fresh.db")
    try:
        assert await db.scalar("PRAGMA user_version") == latest_version()
        assert await db.scalar("PRAGMA journal_mode") == "wal"
        # Reads outside a transaction use the read connection, which refuses to write.
        assert await db.scalar("PRAGMA query_only") == 1
        assert await db.scalar("PRAGMA busy_timeout") == 5000
        async with db.transaction():  # reads inside one use the write connection
            assert await db.scalar("PRAGMA query_only") == 0
            assert await db.scalar("PRAGMA foreign_keys") == 1
            assert await db.scalar("PRAGMA synchronous") == 2  # FULL
            assert await db.scalar("PRAGMA busy_timeout") == 5000
    finally:
        await db.close()


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [version for version, _, _ in migrations()]
    assert versions == list(range(1, latest_version() + 1))
    for _, _, sql in migrations():
        assert split_statements(sql), "a migration must contain statements"


@pytest.mark.parametrize("start", range(latest_version()))
async def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    old = tmp_path / "old.db"
    db = await Storage.open(old, migrate=False)
    await db.migrate(target=start)
    assert await db.scalar("PRAGMA user_version") == start
    await db.close()

    upgraded = await Storage.open(old)
    assert await upgraded.scalar("PRAGMA user_version") == latest_version()
    await upgraded.close()

    fresh = await Storage.open(tmp_path / "fresh.db")
    await fresh.close()
    assert schema_of(old) == schema_of(tmp_path / "fresh.db")


async def test_failed_migration_leaves_database_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broken.db"
    db = await Storage.open(path)
    await db.close()
    before = schema_of(path)
    real = migrations()
    broken = (len(real) + 1, "broken", "CREATE TABLE half_done (x);\nSELECT no_such_function();\n")
    monkeypatch.setattr("bot.storage._base.migrations", lambda dialect="sqlite": [*real, broken])
    with pytest.raises(sqlite3.OperationalError, match="no_such_function"):
        await Storage.open(path)
    assert schema_of(path) == before  # the half-applied step was rolled back
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(real)
    conn.close()


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    db = await Storage.open(path)
    await db.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer than this Paperboy"):
        await Storage.open(path)


async def test_unversioned_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="customers"):
        await Storage.open(path)


async def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is a text file, not SQLite" * 100)
    with pytest.raises(StorageError, match="not a usable SQLite database"):
        await Storage.open(path)


async def test_transaction_rolls_back_on_error(storage: Storage) -> None:
    with pytest.raises(RuntimeError):
        async with storage.transaction() as conn:
            await conn.execute(
                "INSERT INTO audit_log (guild_id, action, created_at) VALUES (1, 'x', 'now')"
            )
            raise RuntimeError("boom")
    assert await storage.scalar("SELECT count(*) FROM audit_log") == 0


async def test_backup_while_a_writer_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    db = await Storage.open(path)
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO audit_log (guild_id, action, created_at) VALUES (1, 'committed', 't')"
        )
    writer_inside = asyncio.Event()
    backup_done = asyncio.Event()

    async def busy_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO audit_log (guild_id, action, created_at) VALUES (1, 'pending', 't')"
            )
            writer_inside.set()
            await backup_done.wait()  # hold the write transaction open during the backup

    writer = asyncio.create_task(busy_writer())
    await writer_inside.wait()
    copy = tmp_path / "copy.db"
    await asyncio.to_thread(backup_database, path, copy)
    backup_done.set()
    await writer
    await db.close()

    conn = sqlite3.connect(copy)
    actions = [row[0] for row in conn.execute("SELECT action FROM audit_log")]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    conn.close()
    assert actions == ["committed"]  # a consistent snapshot: the open transaction is not in it


def test_backup_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "exists.db").write_bytes(b"")
    sqlite3.connect(tmp_path / "src.db").close()
    with pytest.raises(StorageError, match="already exists"):
        backup_database(tmp_path / "src.db", tmp_path / "exists.db")
    with pytest.raises(StorageError, match="no database"):
        backup_database(tmp_path / "absent.db", tmp_path / "new.db")
