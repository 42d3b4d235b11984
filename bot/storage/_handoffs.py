"""Hand-offs: work a process without Discord (`paperboy worker`) leaves for the bot processes.

Moderators' notices raised while polling go to the process serving the notice's server; new
articles to match against keyword alerts go to whichever bot process looks first. A row is
deleted in the statement that takes it, so two processes never both take it and it is told at
most once. Takers read first and write only when there is something to take: bot processes
look every `[scale] check_seconds`, and an empty look must not take SQLite's write lock.

What no bot process takes within `HANDOFF_RETENTION` (none runs) is dropped by the next hand-over,
so the tables stay small; the writer says how many rows it dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from bot.clock import to_iso
from bot.shards import ShardSet
from bot.storage._base import Database
from bot.storage._connection import shard_condition

HANDOFF_RETENTION: Final = timedelta(days=1)
"""A notice or an alert no bot process took in this long is dropped (stale, and unbounded)."""


class HandoffStore(Database):
    """Verbs for the hand-off tables (migration 0017)."""

    async def hand_over_notices(self, notices: Sequence[tuple[int, str]], *, now: datetime) -> int:
        """Leave (guild id, text) notices for the bot process serving each guild; returns how
        many notices older than `HANDOFF_RETENTION` were dropped, untaken."""
        if not notices:
            return 0
        async with self.transaction() as conn:
            dropped = await conn.execute(
                "DELETE FROM handed_notices WHERE created_at < ?",
                (to_iso(now - HANDOFF_RETENTION),),
            )
            await conn.executemany(
                "INSERT INTO handed_notices (guild_id, text, created_at) VALUES (?, ?, ?)",
                [(guild_id, text, to_iso(now)) for guild_id, text in notices],
            )
            return max(dropped.rowcount, 0)

    async def take_handed_notices(
        self, *, shards: ShardSet | None, limit: int = 50
    ) -> list[tuple[int, str]]:
        """Take the oldest notices for servers on `shards` (all: None), oldest first."""
        condition, params = shard_condition(shards, column="guild_id")
        found = await self.scalar(
            f"SELECT 1 FROM handed_notices WHERE 1 = 1{condition} LIMIT 1",  # noqa: S608
            params,
        )
        if found is None:
            return []
        async with (
            self.transaction() as conn,
            conn.execute(
                "DELETE FROM handed_notices WHERE id IN (SELECT id FROM handed_notices "  # noqa: S608
                f"WHERE 1 = 1{condition} ORDER BY id LIMIT ?) RETURNING id, guild_id, text",
                (*params, limit),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [(int(row[1]), str(row[2])) for row in sorted(rows, key=lambda row: int(row[0]))]

    async def hand_over_alerts(
        self, feed_id: int, article_ids: Sequence[int], *, now: datetime
    ) -> int:
        """Leave a poll's new articles of `feed_id` for a bot process to match against alerts;
        returns how many hand-offs older than `HANDOFF_RETENTION` were dropped, untaken."""
        if not article_ids:
            return 0
        async with self.transaction() as conn:
            dropped = await conn.execute(
                "DELETE FROM handed_alerts WHERE created_at < ?", (to_iso(now - HANDOFF_RETENTION),)
            )
            await conn.execute(
                "INSERT INTO handed_alerts (feed_id, article_ids, created_at) VALUES (?, ?, ?)",
                (feed_id, ",".join(str(int(i)) for i in article_ids), to_iso(now)),
            )
            return max(dropped.rowcount, 0)

    async def take_handed_alerts(self, *, limit: int = 20) -> list[tuple[int, tuple[int, ...]]]:
        """Take the oldest (feed id, article ids) hand-offs, oldest first."""
        if await self.scalar("SELECT 1 FROM handed_alerts LIMIT 1") is None:
            return []
        async with (
            self.transaction() as conn,
            conn.execute(
                "DELETE FROM handed_alerts WHERE id IN (SELECT id FROM handed_alerts "
                "ORDER BY id LIMIT ?) RETURNING id, feed_id, article_ids",
                (limit,),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [
            (int(row[1]), tuple(int(i) for i in str(row[2]).split(",") if i))
            for row in sorted(rows, key=lambda row: int(row[0]))
        ]
