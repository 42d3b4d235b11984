"""Isolation between coroutines sharing one Database: reads see only committed data.

The interleaving that lost a delivery in the crash test: the poller's transaction inserts an
outbox row, then (a separate await later) stores its payload; the delivery worker reading in
between must not see the half-built row. Each test holds a transaction open at a chosen point
with events and reads from another coroutine, so the interleaving is the same on every run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Storage
from bot.storage._connection import Connection
from tests.builders import NOW, outbox_setup

PLAN = '{"content": "the finished plan"}'

Read = Callable[[Storage], Awaitable[Any]]
# Every read verb of the base class, and the delivery worker's own query.
READS: dict[str, Read] = {
    "fetch_all": lambda s: s.fetch_all("SELECT id, payload FROM outbox"),
    "fetch_one": lambda s: s.fetch_one("SELECT id, payload FROM outbox"),
    "scalar": lambda s: s.scalar("SELECT count(*) FROM outbox"),
    "next_deliveries": lambda s: s.next_deliveries(),
}
NOTHING: dict[str, Any] = {"fetch_all": [], "fetch_one": None, "scalar": 0, "next_deliveries": []}


async def insert_half_built_row(conn: Connection, sub: int, article: int) -> int:
    """The poller's first step: the row exists, its payload is not stored yet."""
    async with conn.execute(
        "INSERT INTO outbox (subscription_id, article_id, channel_id, state, reason, payload, "
        "not_before, created_at) VALUES (?, ?, 10, 'pending', '', '', ?, ?) RETURNING id",
        (sub, article, NOW.isoformat(), NOW.isoformat()),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


HELD_WRITERS: list[asyncio.Task[None]] = []
"""Every writer started, so a failing test cannot leave one holding the database."""


class HeldTransaction:
    """A writer coroutine whose transaction stays open between `opened` and `finish`."""

    def __init__(self, storage: Storage, sub: int, article: int) -> None:
        self.storage, self.sub, self.article = storage, sub, article
        self.opened = asyncio.Event()
        self.finish = asyncio.Event()
        self.outbox_id = 0
        self.task = asyncio.create_task(self._write())
        HELD_WRITERS.append(self.task)

    async def _write(self) -> None:
        async with self.storage.transaction() as conn:
            self.outbox_id = await insert_half_built_row(conn, self.sub, self.article)
            self.opened.set()
            await self.finish.wait()
            await conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (PLAN, self.outbox_id))

    async def commit(self) -> None:
        self.finish.set()
        await self.task


@pytest.fixture
async def prepared(storage: Storage) -> AsyncIterator[tuple[Storage, int, int]]:
    articles, [sub] = await outbox_setup(storage)
    yield storage, sub, articles[0]
    await release_writers()


async def release_writers() -> None:
    """Roll back any writer a failed test left open (else closing the database would wait)."""
    while HELD_WRITERS:
        task = HELD_WRITERS.pop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("verb", sorted(READS))
async def test_a_read_during_another_coroutines_transaction_sees_only_committed_rows(
    prepared: tuple[Storage, int, int], verb: str
) -> None:
    storage, sub, article = prepared
    writer = HeldTransaction(storage, sub, article)
    await writer.opened.wait()
    # The transaction is open and its row half-built: a read from here must not see it, and
    # must not wait for the writer either (the writer waits on us, so waiting would hang).
    seen = await READS[verb](storage)
    assert (seen if verb != "fetch_all" else list(seen)) == NOTHING[verb]
    await writer.commit()
    # Read after write: once committed, the next read sees the finished row.
    [delivery] = await storage.next_deliveries()
    assert (delivery.id, delivery.payload) == (writer.outbox_id, PLAN)
    assert await storage.scalar("SELECT payload FROM outbox") == PLAN


async def test_reads_inside_a_transaction_see_its_own_writes(
    prepared: tuple[Storage, int, int],
) -> None:
    storage, sub, article = prepared
    async with storage.transaction() as conn:
        outbox_id = await insert_half_built_row(conn, sub, article)
        # A store verb may read through the helpers inside its own transaction.
        assert await storage.scalar("SELECT id FROM outbox") == outbox_id
        assert [row["id"] for row in await storage.fetch_all("SELECT id FROM outbox")] == [
            outbox_id
        ]


async def test_a_rolled_back_row_is_never_seen(prepared: tuple[Storage, int, int]) -> None:
    storage, sub, article = prepared
    writer = HeldTransaction(storage, sub, article)
    await writer.opened.wait()
    assert await storage.fetch_all("SELECT id FROM outbox") == []
    writer.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer.task
    assert await storage.fetch_all("SELECT id FROM outbox") == []


async def test_reads_while_a_writer_waits_in_its_transaction_do_not_queue_behind_it(
    prepared: tuple[Storage, int, int],
) -> None:
    """Many readers during one long transaction all answer from the committed snapshot."""
    storage, sub, article = prepared
    writer = HeldTransaction(storage, sub, article)
    await writer.opened.wait()
    counts = await asyncio.gather(
        *(storage.scalar("SELECT count(*) FROM outbox") for _ in range(8))
    )
    assert counts == [0] * 8
    await writer.commit()
    assert await storage.scalar("SELECT count(*) FROM outbox") == 1


async def test_an_in_memory_database_reads_after_the_writer_commits() -> None:
    """Without a file there is no second connection: reads wait for the writer instead."""
    storage = await Storage.open(":memory:")
    try:
        _, [sub] = await outbox_setup(storage)
        article = int(await storage.scalar("SELECT min(id) FROM articles"))
        writer = HeldTransaction(storage, sub, article)
        await writer.opened.wait()
        # Created before the writer is let go, so the loop runs the reader's first step (its
        # query) before the writer's next statement.
        reader = asyncio.create_task(storage.fetch_all("SELECT payload FROM outbox"))
        await writer.commit()
        assert [row["payload"] for row in await reader] == [PLAN]
    finally:
        await release_writers()
        await storage.close()


async def test_a_read_started_after_a_commit_sees_it_while_another_read_is_open(
    prepared: tuple[Storage, int, int],
) -> None:
    """Read after write holds even when another task's read is between its steps: a statement
    left open on the read connection keeps its snapshot, which must not serve the next read."""
    storage, sub, article = prepared
    opened, finish = asyncio.Event(), asyncio.Event()

    async def slow_read() -> list[Any]:
        # Another task's fetch_all between its execute and its fetch (aiosqlite runs them as two
        # steps, and other tasks' reads may be queued between them).
        # Many rows, so the statement is still open after its first step.
        sql = (
            "SELECT name FROM sqlite_master"
            if storage.dialect == "sqlite"
            else "SELECT tablename FROM pg_tables"
        )
        async with storage._reading() as conn, conn.execute(sql) as cursor:
            opened.set()
            await finish.wait()
            return list(await cursor.fetchall())

    reader = asyncio.create_task(slow_read())
    await opened.wait()
    writer = HeldTransaction(storage, sub, article)
    await writer.opened.wait()
    await writer.commit()
    late = asyncio.create_task(storage.scalar("SELECT payload FROM outbox"))
    await asyncio.sleep(0)  # let the late read start (and queue) before the first one ends
    finish.set()
    assert len(await reader) > 1
    assert await late == PLAN


async def test_a_transaction_cancelled_at_begin_leaves_none_open(tmp_path: Path) -> None:
    # SQLite's: aiosqlite runs statements in order in one thread, where BEGIN can be queued.
    storage = await Storage.open(str(tmp_path / "cancel.db"))
    try:
        await _cancel_at_begin(storage)
    finally:
        await storage.close()


async def _cancel_at_begin(storage: Storage) -> None:
    # A slow statement keeps aiosqlite's thread busy, so the transaction's BEGIN is still queued
    # when its task is cancelled (shutdown cancelling the poller just as a batch is written).
    slow = asyncio.create_task(
        storage._sqlite().raw.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
            "SELECT count(*) FROM n"
        )
    )

    async def write() -> None:
        async with storage.transaction() as conn:
            await conn.execute("UPDATE related_index_stats SET documents = documents")

    writer = asyncio.create_task(write())
    # Until it holds the lock and waits for its BEGIN; no event reports the lock's owner.
    while storage._writer_task is not writer:  # noqa: ASYNC110
        await asyncio.sleep(0)
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    await slow

    # Without the clean-up the next transaction fails: "cannot start a transaction within a
    # transaction".
    async with storage.transaction() as conn:
        await conn.execute("UPDATE related_index_stats SET documents = documents")
    assert not storage._sqlite().raw.in_transaction
