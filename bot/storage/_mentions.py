"""Mention rules: which roles a subscription pings, each with an optional filter."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.models import MentionRule
from bot.storage._base import Database
from bot.storage._connection import Row


def _rule(row: Row) -> MentionRule:
    return MentionRule(
        id=row["id"],
        subscription_id=row["subscription_id"],
        role_id=row["role_id"],
        filter=row["filter"],
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
    )


class MentionStore(Database):
    """Verbs for mention rules."""

    async def mention_rules(self, subscription_id: int) -> list[MentionRule]:
        """A subscription's rules, in the order they were added."""
        rows = await self.fetch_all(
            "SELECT * FROM mention_rules WHERE subscription_id = ? ORDER BY id",
            (subscription_id,),
        )
        return [_rule(row) for row in rows]

    async def mention_rules_of(
        self, subscription_ids: Iterable[int]
    ) -> dict[int, list[MentionRule]]:
        """The rules of several subscriptions, by subscription id (absent: no rules)."""
        wanted = sorted(set(subscription_ids))
        found: dict[int, list[MentionRule]] = {}
        if not wanted:
            return found
        marks = ", ".join("?" for _ in wanted)
        rows = await self.fetch_all(
            f"SELECT * FROM mention_rules WHERE subscription_id IN ({marks}) "  # noqa: S608
            "ORDER BY id",
            wanted,
        )
        for row in rows:
            found.setdefault(row["subscription_id"], []).append(_rule(row))
        return found

    async def set_mention_rule(
        self,
        subscription_id: int,
        role_id: int,
        filter_text: str,
        *,
        created_by: int | None,
        now: datetime,
        limit: int,
    ) -> MentionRule | None:
        """Add the role's rule, or replace its filter if the role has one already.

        None when the subscription already has `limit` rules and this role is not among them
        (counted inside the write, so concurrent adds cannot pass the limit together).
        """
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT count(*) FROM mention_rules WHERE subscription_id = ? AND role_id != ?",
                (subscription_id, role_id),
            ) as cursor:
                counted = await cursor.fetchone()
            if counted is not None and int(counted[0]) >= limit:
                return None
            await conn.execute(
                "INSERT INTO mention_rules (subscription_id, role_id, filter, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscription_id, role_id) "
                "DO UPDATE SET filter = excluded.filter",
                (subscription_id, role_id, filter_text, created_by, to_iso(now)),
            )
        rules = await self.mention_rules(subscription_id)
        return next(rule for rule in rules if rule.role_id == role_id)

    async def remove_mention_rule(self, subscription_id: int, role_id: int) -> bool:
        """Delete the role's rule; False if it had none."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM mention_rules WHERE subscription_id = ? AND role_id = ?",
                (subscription_id, role_id),
            )
            return cursor.rowcount > 0
