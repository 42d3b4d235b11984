"""PostgreSQL through asyncpg: the placeholder translation and the connection adapter.

The storage verbs write `?` placeholders, which SQLite takes as they are; PostgreSQL numbers
them (`$1`, `$2`, ...). `numbered_placeholders` rewrites a statement once (then cached), skipping
string literals, quoted identifiers and comments, so a `?` inside text is never touched.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from bot.storage._connection import Connection, Cursor, Dialect, Params, Row, returns_rows

WRITE_LOCK_KEY = 0x7061706572626F79  # "paperboy" in ASCII: the advisory lock every writer takes


@functools.lru_cache(maxsize=1024)
def numbered_placeholders(sql: str) -> str:
    """`sql` with each `?` outside literals, quoted names and comments replaced by `$n`."""
    out: list[str] = []
    number = 0
    i, end = 0, len(sql)
    while i < end:
        char = sql[i]
        if char in ("'", '"'):
            # A quoted literal or name runs to the next lone quote ('' or "" is an escaped one).
            j = i + 1
            while j < end:
                if sql[j] == char:
                    if j + 1 < end and sql[j + 1] == char:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = end if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = end if j < 0 else j + 2
            out.append(sql[i:j])
            i = j
        elif char == "$":
            # A dollar-quoted body ($$...$$ or $tag$...$tag$) is text too.
            j = i + 1
            while j < end and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            if j < end and sql[j] == "$" and not sql[i + 1 : j].isdigit():
                tag = sql[i : j + 1]
                close = sql.find(tag, j + 1)
                close = end if close < 0 else close + len(tag)
                out.append(sql[i:close])
                i = close
            else:
                out.append(sql[i:j])
                i = j
        elif char == "?":
            number += 1
            out.append(f"${number}")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _arguments(params: Params) -> list[Any]:
    if isinstance(params, dict):
        raise TypeError("named parameters are not portable; use ? placeholders")
    # SQLite stores booleans as 0/1 and so does the schema on PostgreSQL (INTEGER columns).
    return [int(value) if isinstance(value, bool) else value for value in params]


def _changed(status: str) -> int:
    """The row count in a command tag such as "UPDATE 3" or "INSERT 0 1"; -1 when there is none."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgConnection(Connection):
    """An asyncpg connection taking the storage verbs' portable SQL."""

    dialect: ClassVar[Dialect] = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        """The asyncpg.Connection."""

    async def _execute(self, sql: str, params: Params) -> Cursor:
        query = numbered_placeholders(sql)
        arguments = _arguments(params)
        if returns_rows(sql):
            rows: list[Row] = await self.raw.fetch(query, *arguments)
            return Cursor(rows, len(rows))
        return Cursor([], _changed(await self.raw.execute(query, *arguments)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one write statement once per parameter row (pipelined by asyncpg)."""
        batch = [_arguments(row) for row in rows]
        if batch:
            await self.raw.executemany(numbered_placeholders(sql), batch)


def is_postgres_url(target: object) -> bool:
    """Whether a database target names a PostgreSQL server rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))
