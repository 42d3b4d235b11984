"""Several processes on one SQLite file (shard processes and a worker on one machine)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from bot.errors import StorageError
from bot.storage import Storage


class _SawLine(logging.Handler):
    """Sets `seen` when a log line containing `text` is emitted (on the event loop's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_processes_starting_together_migrate_a_new_file_once(tmp_path: Path) -> None:
    """Shard processes and a worker start at once on a new file: one migrates, the others wait
    for its lock and then find the schema current (no "table already exists")."""
    path = tmp_path / "fresh.db"
    handles = await asyncio.gather(*(Storage.open(path) for _ in range(4)))
    try:
        for storage in handles:
            assert await storage.lease("poller") is None  # the newest table exists for all
    finally:
        for storage in handles:
            await storage.close()


async def test_a_new_file_another_process_holds_locked_is_opened_once_the_lock_goes(
    tmp_path: Path,
) -> None:
    """SQLite refuses a new file's switch to WAL at once, without its busy handler, while another
    connection holds a write lock on it (seen as "database is locked" when processes opened a new
    file together): opening waits for the lock and then succeeds."""
    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    waiting = _SawLine("locked by another process")
    logger = logging.getLogger("bot.storage._base")
    logger.addHandler(waiting)
    logger.setLevel(logging.INFO)
    try:
        opening = asyncio.create_task(Storage.open(path))
        await asyncio.wait_for(waiting.seen.wait(), 10)
        assert not opening.done()
        other.execute("COMMIT")
        storage = await asyncio.wait_for(opening, 10)
        try:
            assert await storage.scalar("PRAGMA journal_mode") == "wal"
            assert await storage.lease("poller") is None  # migrated
        finally:
            await storage.close()
    finally:
        logger.removeHandler(waiting)
        logger.setLevel(logging.NOTSET)
        other.close()


async def test_a_file_that_stays_locked_gets_a_sentence_not_a_sqlite_error(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(
            StorageError, match=r"stayed locked by another process for 0\.2 seconds"
        ):
            await Storage.open(path, busy_timeout_ms=200)
    finally:
        other.execute("COMMIT")
        other.close()
