"""Keyword alerts: members' alerts, their on/off state and the DM bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from bot.clock import from_iso, to_iso
from bot.storage._base import Database, chunks
from bot.storage._connection import Connection, Row
from bot.storage.records import Alert, AlertMemberState

AddOutcome = Literal["added", "duplicate", "full"]


def _alert(row: Row) -> Alert:
    return Alert(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        guild_id=int(row["guild_id"]),
        term=str(row["term"]),
        created_at=from_iso(row["created_at"]),
    )


async def _alert_row(conn: Connection, user_id: int, guild_id: int, folded: str) -> Row | None:
    """The member's alert with this folded term in the guild, read inside a transaction."""
    async with conn.execute(
        "SELECT id, user_id, guild_id, term, created_at FROM alerts "
        "WHERE user_id = ? AND guild_id = ? AND folded = ?",
        (user_id, guild_id, folded),
    ) as cursor:
        row: Row | None = await cursor.fetchone()
    return row


class AlertStore(Database):
    """Verbs of the alerts, alert_members and alert_deliveries tables."""

    # -- alerts ---------------------------------------------------------------------------------

    async def add_alert(
        self,
        user_id: int,
        guild_id: int,
        term: str,
        folded: str,
        *,
        now: datetime,
        max_alerts: int,
    ) -> tuple[AddOutcome, Alert | None]:
        """Add an alert unless the member has it already or has `max_alerts` in this guild."""
        async with self.transaction() as conn:
            existing = await _alert_row(conn, user_id, guild_id, folded)
            if existing is not None:
                return "duplicate", _alert(existing)
            async with conn.execute(
                "SELECT count(*) FROM alerts WHERE user_id = ? AND guild_id = ?",
                (user_id, guild_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and int(row[0]) >= max_alerts:
                return "full", None
            async with conn.execute(
                "INSERT INTO alerts (user_id, guild_id, term, folded, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (user_id, guild_id, term, folded, to_iso(now)),
            ) as cursor:
                inserted = await cursor.fetchone()
            assert inserted is not None
            alert_id = int(inserted[0])
        return "added", Alert(alert_id, user_id, guild_id, term, from_iso(to_iso(now)))

    async def member_alerts(self, user_id: int, guild_id: int) -> list[Alert]:
        """A member's alerts in one guild, oldest first."""
        rows = await self.fetch_all(
            "SELECT id, user_id, guild_id, term, created_at FROM alerts "
            "WHERE user_id = ? AND guild_id = ? ORDER BY id",
            (user_id, guild_id),
        )
        return [_alert(row) for row in rows]

    async def remove_alert(self, user_id: int, guild_id: int, folded: str) -> Alert | None:
        """Remove the member's alert with this folded term; returns it, or None if absent."""
        async with self.transaction() as conn:
            row = await _alert_row(conn, user_id, guild_id, folded)
            if row is None:
                return None
            await conn.execute("DELETE FROM alerts WHERE id = ?", (row["id"],))
        return _alert(row)

    async def has_alerts(self) -> bool:
        """Whether any member of any guild has set an alert."""
        return await self.scalar("SELECT 1 FROM alerts LIMIT 1") is not None

    async def alerts_in_guilds(self, guild_ids: Sequence[int]) -> list[Alert]:
        """Every alert set in these guilds by members whose alerts are switched on."""
        found: list[Alert] = []
        ids = sorted(set(guild_ids))
        for chunk in chunks(ids):
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                "SELECT a.id, a.user_id, a.guild_id, a.term, a.created_at FROM alerts a "  # noqa: S608
                "LEFT JOIN alert_members m ON m.user_id = a.user_id "
                f"WHERE a.guild_id IN ({marks}) AND coalesce(m.disabled, 0) = 0 "
                "ORDER BY a.user_id, a.id",
                chunk,
            )
            found.extend(_alert(row) for row in rows)
        return found

    async def alert_member_state(self, user_id: int) -> AlertMemberState:
        """Whether the member's alerts are switched off (members never disabled are on)."""
        row = await self.fetch_one(
            "SELECT disabled, reason, note_pending FROM alert_members WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return AlertMemberState(user_id, disabled=False, reason="", note_pending=False)
        return AlertMemberState(
            user_id, bool(row["disabled"]), str(row["reason"]), bool(row["note_pending"])
        )

    async def disable_alerts(self, user_id: int, reason: str, *, now: datetime) -> None:
        """Switch off every alert of a member and leave them a note to read once."""
        await self.execute(
            "INSERT INTO alert_members (user_id, disabled, reason, disabled_at, note_pending) "
            "VALUES (?, 1, ?, ?, 1) ON CONFLICT (user_id) DO UPDATE SET disabled = 1, "
            "reason = excluded.reason, disabled_at = excluded.disabled_at, note_pending = 1",
            (user_id, reason, to_iso(now)),
        )

    async def enable_alerts(self, user_id: int) -> bool:
        """Switch a member's alerts back on; True if they had been switched off."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM alert_members WHERE user_id = ? AND disabled = 1", (user_id,)
            )
            return cursor.rowcount > 0

    async def take_alert_note(self, user_id: int) -> str | None:
        """The reason alerts were switched off, once: the note is cleared as it is read."""
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT reason FROM alert_members WHERE user_id = ? AND note_pending = 1",
                (user_id,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await conn.execute(
                "UPDATE alert_members SET note_pending = 0 WHERE user_id = ?", (user_id,)
            )
        return str(row[0])

    async def claim_alert_delivery(self, user_id: int, article_id: int, *, now: datetime) -> bool:
        """Record that a member is being sent an article; False if they were sent it before."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO alert_deliveries (user_id, article_id, sent_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (user_id, article_id, to_iso(now)),
            )
            return cursor.rowcount > 0
