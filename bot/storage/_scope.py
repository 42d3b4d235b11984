"""The SQL that keeps a read inside one server's view of the archive (`bot.models.GuildScope`).

A server sees the articles of the feeds it subscribes to (active subscriptions, paused ones
included) and every article already announced there (`guild_articles`, kept by triggers on the
outbox). Two shapes of the same rule, so each query stays index-driven:

- `visible_condition` is a correlated test on one article id, index lookups only
  (`feed_entries_by_article`, then `subscriptions_by_feed_guild`, or the `guild_articles` key):
  for point reads, and for FTS matches, which bm25 scores one by one anyway.
- `visible_ids` is the set of the server's article ids, for lists ordered by date, where
  walking the whole archive and testing each row would cost the archive's size, not the
  server's.
"""

from __future__ import annotations

from typing import Any

from bot.models import ArchiveScope, GuildScope
from bot.storage._connection import Dialect

# CROSS JOIN fixes SQLite's join order: the few feeds that showed this article first, then one
# probe of `subscriptions_by_feed_guild` each; the other way round costs a probe per subscription
# of the server for every FTS match. PostgreSQL has no CROSS JOIN ... ON and plans by statistics.
_SUBSCRIBED = (
    "SELECT 1 FROM feed_entries fe {join} subscriptions s ON s.feed_id = fe.feed_id "
    "WHERE fe.article_id = {column} AND s.guild_id = ? AND s.active = 1"
)
_ANNOUNCED = "SELECT 1 FROM guild_articles ga WHERE ga.guild_id = ? AND ga.article_id = {column}"


def visible_condition(
    scope: ArchiveScope, column: str, dialect: Dialect = "sqlite"
) -> tuple[str, list[Any]]:
    """A WHERE condition true when the article id in `column` is in `scope`, and its params."""
    if not isinstance(scope, GuildScope):
        return "1 = 1", []
    guild = int(scope.guild_id)
    join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"
    sql = (
        f"(EXISTS ({_SUBSCRIBED.format(column=column, join=join)}) "
        f"OR EXISTS ({_ANNOUNCED.format(column=column)}))"
    )
    return sql, [guild, guild]


def visible_ids(scope: ArchiveScope, *, feed_id: int | None = None) -> tuple[str, list[Any]]:
    """A subquery of the article ids in `scope` (only those of one feed, if given), and params.

    With `feed_id`, only what that feed showed through this server's subscriptions: a feed the
    server does not follow gives nothing.
    """
    if not isinstance(scope, GuildScope):
        if feed_id is not None:
            return "SELECT article_id FROM feed_entries WHERE feed_id = ?", [int(feed_id)]
        return "SELECT id FROM articles", []
    guild = int(scope.guild_id)
    subscribed = (
        "SELECT fe.article_id FROM subscriptions s JOIN feed_entries fe ON fe.feed_id = s.feed_id "
        "WHERE s.guild_id = ? AND s.active = 1"
    )
    if feed_id is not None:
        return f"{subscribed} AND s.feed_id = ?", [guild, int(feed_id)]
    announced = "SELECT article_id FROM guild_articles WHERE guild_id = ?"
    return f"{subscribed} UNION {announced}", [guild, guild]
