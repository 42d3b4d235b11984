"""`paperboy db copy`: a SQLite database moved into an empty PostgreSQL one.

Both sides are migrated to the same schema version first, so their tables and columns are the
same (tests/unit/test_storage_postgres.py holds them equal). The source is read in one snapshot
(one read transaction), so a bot still running meanwhile cannot make the copy inconsistent. The
target is written in one transaction: COPY in batches, table by table, parents before children,
then identity sequences moved past the copied ids and every table's rows counted on both sides.
Any difference rolls the whole copy back, so a failed copy leaves the target empty to try again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.errors import StorageError
from bot.storage._base import Database
from bot.storage._postgres import PgConnection

SEEDED = {"related_index_stats": 1}
"""Rows a fresh migration writes, which an empty target may hold (and the copy replaces)."""

FILLED_BY_TRIGGERS = {"guild_articles": "outbox"}
"""Tables a trigger fills with ON CONFLICT DO NOTHING when the other table is written: copied
first, so the trigger then finds their rows already there."""

Progress = Callable[[str, int], None]
"""Told (table, rows just copied) after each batch."""


async def _tables_in_dependency_order(source: Database) -> list[str]:
    rows = await source.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'articles_fts%' ORDER BY name"
    )
    names = [str(row[0]) for row in rows]
    parents: dict[str, set[str]] = {}
    for name in names:
        keys = await source.fetch_all(f"PRAGMA foreign_key_list({name})")
        parents[name] = {str(key["table"]) for key in keys} - {name}
    for filled, writer in FILLED_BY_TRIGGERS.items():
        if filled in parents and writer in parents:
            parents[writer].add(filled)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise StorageError(f"Cannot order the tables by their references: {parents}")
        ordered.extend(ready)
    return ordered


async def row_counts(db: Database, tables: list[str]) -> dict[str, int]:
    """Rows in each table."""
    return {
        table: int(await db.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608 - schema names
        for table in tables
    }


async def copy_sqlite_to_postgres(
    source: Database,
    target: Database,
    *,
    batch_size: int = 2000,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Copy every row of `source` (SQLite) into `target` (PostgreSQL, empty, same schema
    version); returns the rows copied per table. Refuses a non-empty target."""
    if source.dialect != "sqlite" or target.dialect != "postgresql":
        raise StorageError("db copy moves a SQLite database into a PostgreSQL one.")
    versions = (await source.schema_version(), await target.schema_version())
    if versions[0] != versions[1]:
        raise StorageError(
            f"Schema versions differ (SQLite {versions[0]}, PostgreSQL {versions[1]})."
        )
    tables = await _tables_in_dependency_order(source)
    held = {
        table: count
        for table, count in (await row_counts(target, tables)).items()
        if count > SEEDED.get(table, 0)
    }
    if held:
        listed = ", ".join(f"{table} ({count} rows)" for table, count in sorted(held.items()))
        raise StorageError(
            f"The target database {target.path} is not empty: {listed}. Copy into a new, empty "
            "database (createdb), so nothing there is overwritten or mixed."
        )
    reader = source._reader or source._sqlite()
    copied: dict[str, int] = {}
    # One snapshot of the source for every table (WAL: writers carry on meanwhile).
    await reader.raw.execute("BEGIN")
    try:
        async with target.transaction() as conn:
            assert isinstance(conn, PgConnection)
            for table in SEEDED:
                await conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            for table in tables:
                copied[table] = await _copy_table(reader.raw, conn.raw, table, batch_size, progress)
            await _reset_identities(conn)
            expected = await row_counts(source, tables)
            # Counted inside the copy's own transaction (the helpers read on its connection).
            written = await row_counts(target, tables)
            if written != expected:
                differing = {
                    t: (expected[t], written[t]) for t in tables if expected[t] != written[t]
                }
                raise StorageError(
                    "The copy does not match the source (rows in SQLite, PostgreSQL): "
                    f"{differing}; nothing was kept."
                )
    finally:
        await reader.raw.execute("COMMIT")
    return copied


async def _copy_table(
    reader: Any, writer: Any, table: str, batch_size: int, progress: Progress | None
) -> int:
    async with reader.execute(f"PRAGMA table_info({table})") as cursor:
        columns = [str(row[1]) for row in await cursor.fetchall()]
    names = ", ".join(columns)
    total = 0
    async with reader.execute(f"SELECT {names} FROM {table}") as cursor:  # noqa: S608
        while batch := await cursor.fetchmany(batch_size):
            await writer.copy_records_to_table(
                table, records=[tuple(row) for row in batch], columns=columns
            )
            total += len(batch)
            if progress is not None:
                progress(table, len(batch))
    return total


async def _reset_identities(conn: PgConnection) -> None:
    """Move each identity sequence past the largest id copied, so new rows get fresh ids."""
    identities = await (
        await conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
    ).fetchall()
    for table, column in identities:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
            f"coalesce(max({column}), 1), max({column}) IS NOT NULL) FROM {table}"
        )


async def copy_source_rows(source: Database) -> dict[str, int]:
    """The rows `copy_sqlite_to_postgres` will copy, per table in copy order (for progress)."""
    return await row_counts(source, await _tables_in_dependency_order(source))
