"""Leases: work that one process at a time may do (polling on SQLite), with an expiry.

A lease is taken by a compare-and-set `UPDATE ... WHERE holder = ? AND expires_at = ?` on the row
just read, so of two processes deciding at once only one wins; PostgreSQL runs the same SQL.
Whether a lease may be taken is decided by `bot.lease.may_take`, a pure function.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.storage._base import Database
from bot.storage.records import Lease


class LeaseStore(Database):
    """Verbs for leases: read, take (or renew), release."""

    async def lease(self, name: str) -> Lease | None:
        """The lease called `name`, or None if nobody ever took it."""
        row = await self.fetch_one(
            "SELECT name, holder, expires_at FROM leases WHERE name = ?", (name,)
        )
        if row is None:
            return None
        return Lease(row["name"], row["holder"], from_iso(row["expires_at"]))

    async def take_lease(
        self,
        name: str,
        holder: str,
        *,
        expires_at: datetime,
        may_take: Callable[[Lease], bool],
    ) -> bool:
        """Hold `name` until `expires_at` if nobody does, or if `may_take(current)` allows it
        (expired, ours already, or its holder is known dead); True if `holder` now holds it."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, holder, to_iso(expires_at)),
            )
            if cursor.rowcount == 1:
                return True
            current = await self.lease(name)  # inside the transaction: its own connection
            if current is None or not may_take(current):
                return False
            cursor = await conn.execute(
                "UPDATE leases SET holder = ?, expires_at = ? "
                "WHERE name = ? AND holder = ? AND expires_at = ?",
                (holder, to_iso(expires_at), name, current.holder, to_iso(current.expires_at)),
            )
            return cursor.rowcount == 1

    async def release_lease(self, name: str, holder: str, *, now: datetime) -> None:
        """Give the lease up (a clean stop): it expires now, so the next process takes it at
        once instead of waiting for the expiry."""
        await self.execute(
            "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
            (to_iso(now), name, holder),
        )
