"""What sources beyond plain feeds need from the database: which of a feed's items it has seen.

A sitemap lists thousands of pages; only those not seen yet have their pages read.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.storage._base import Database, chunks


class SourceStore(Database):
    """Verbs for sitemaps followed like feeds."""

    async def known_entry_keys(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """The subset of `keys` already recorded as items of the feed (index lookups)."""
        known: set[str] = set()
        for part in chunks(list(keys)):
            marks = ", ".join("?" * len(part))
            rows = await self.fetch_all(
                f"SELECT entry_key FROM feed_entries WHERE feed_id = ? AND entry_key IN ({marks})",  # noqa: S608
                (feed_id, *part),
            )
            known.update(str(row[0]) for row in rows)
        return known
