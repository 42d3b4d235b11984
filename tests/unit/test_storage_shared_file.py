"""Several processes on one SQLite file (shard processes and a worker on one machine)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.storage import Storage


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
