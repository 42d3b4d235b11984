"""One statement interface over both engines, so the storage verbs are written once.

The verbs write SQL in a portable subset (`?` placeholders, `ON CONFLICT ... DO NOTHING/UPDATE`,
`RETURNING`, plain joins and aggregates) and run it through a `Connection`: `SqliteConnection`
passes it to aiosqlite unchanged, `PgConnection` (bot/storage/_postgres.py) numbers the
placeholders for PostgreSQL. Where the two SQL dialects must differ (full-text search, JSON), a
verb asks `conn.dialect` or `Database.dialect` and picks its variant.

PostgreSQL is stricter than SQLite in a few ways portable SQL respects: a condition is a boolean
(`active = 1`, `1 = 1`, never a bare integer); a parameter whose type nothing in the statement
fixes needs a cast (`CAST(? AS TEXT) IS NULL`); a column in `ON CONFLICT ... DO UPDATE SET` is
qualified by its table (`documents = term_frequencies.documents + 1`); `INSERT OR IGNORE` and
`UPDATE OR IGNORE` are spelled `ON CONFLICT DO NOTHING` and `NOT EXISTS`; ids come back by
RETURNING.
"""

from __future__ import annotations

import re
import sqlite3
import typing
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import aiosqlite

from bot.shards import ShardSet

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | dict[str, Any]


class Row(Protocol):
    """A result row, by column position or name (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


# A statement gives rows when it is a query or says RETURNING; anything else reports a count.
_ROWS_FIRST_WORD = re.compile(r"\s*(?:--[^\n]*\n\s*)*(select|with|values|pragma|explain)\b", re.I)
_RETURNING = re.compile(r"\breturning\b", re.I)


def returns_rows(sql: str) -> bool:
    """Whether `sql` produces result rows (a query, or a write with RETURNING)."""
    return bool(_ROWS_FIRST_WORD.match(sql) or _RETURNING.search(sql))


def shard_condition(shards: ShardSet | None, column: str = "s.guild_id") -> tuple[str, list[int]]:
    """The condition (and its parameters) that keeps a process to its own servers' rows:
    Discord's own rule, `(guild_id >> 22) % shard_count`, which PostgreSQL computes the same.
    Empty without shards (one process serves every server)."""
    if shards is None:
        return "", []
    marks = ", ".join("?" * len(shards.ids))
    return f" AND (({column} >> 22) % ?) IN ({marks})", [shards.count, *shards.ordered]


def json_values(dialect: Dialect, cast: str = "") -> str:
    """A subquery over the values of one JSON array parameter (`... IN (json_values(...))`): one
    parameter for any number of values. `cast` ("bigint") types PostgreSQL's text values."""
    if dialect == "sqlite":
        return "SELECT value FROM json_each(?)"
    value = f"value::{cast}" if cast else "value"
    return f"SELECT {value} FROM json_array_elements_text(?::json)"  # noqa: S608 - constants


@dataclass
class Cursor:
    """A finished statement: its rows (all fetched) and the rows it changed. `lastrowid` is
    SQLite's only (None on PostgreSQL): portable code asks for ids with RETURNING."""

    rows: list[Row] = field(default_factory=list)
    rowcount: int = -1
    lastrowid: int | None = None

    async def fetchone(self) -> Row | None:
        """The first row, or None."""
        return self.rows[0] if self.rows else None

    async def fetchall(self) -> list[Row]:
        """Every row."""
        return self.rows


class Statement:
    """What `Connection.execute` returns: await it, or use it as `async with ... as cursor`."""

    def __init__(self, running: Awaitable[Cursor]) -> None:
        self._running = running

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._running.__await__()

    async def __aenter__(self) -> Cursor:
        return await self._running

    async def __aexit__(self, *exc: object) -> None:
        return None


class Connection(ABC):
    """One engine's connection, as the storage verbs use it."""

    dialect: ClassVar[Dialect]

    def execute(self, sql: str, params: Params = ()) -> Statement:
        """Run one statement; the cursor holds all its rows."""
        return Statement(self._execute(sql, params))

    @abstractmethod
    async def _execute(self, sql: str, params: Params) -> Cursor: ...

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one write statement once per parameter row."""


def _run_statement(conn: sqlite3.Connection, sql: str, params: Params, wants_rows: bool) -> Cursor:
    """One statement on SQLite's own thread, its rows fetched there (only if it has any)."""
    cursor = conn.execute(sql, params)
    try:
        rows: list[Row] = list(cursor.fetchall()) if wants_rows else []
        return Cursor(rows, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class SqliteConnection(Connection):
    """An aiosqlite connection; the SQL goes to SQLite as written."""

    dialect: ClassVar[Dialect] = "sqlite"

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def _execute(self, sql: str, params: Params) -> Cursor:
        # Statement and fetch in one trip to aiosqlite's thread: each trip costs the event loop
        # about 30 us of CPU (a queue put, a wake-up and a callback), and a poll makes a dozen.
        # aiosqlite has no public call for "run this function in your thread".
        raw = self.raw
        done = await raw._execute(  # type: ignore[no-untyped-call]
            _run_statement, raw._conn, sql, params, returns_rows(sql)
        )
        return typing.cast(Cursor, done)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one write statement once per parameter row."""
        await self.raw.executemany(sql, rows)
