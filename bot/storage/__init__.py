"""All SQL lives in this package. `Storage` is the one handle the rest of Paperboy uses.

Each domain keeps its verbs in its own module (`_feeds`, `_articles`, ...); `Storage` joins them.
The schema is the numbered `migrations/*.sql` files, tracked in `PRAGMA user_version`.
"""

from __future__ import annotations

from bot.storage._admin import AdminStore
from bot.storage._alerts import AlertStore
from bot.storage._base import Database, backup_database, latest_version, migrations
from bot.storage._feeds import FeedStore
from bot.storage._guilds import GuildStore
from bot.storage._ops import FeedHealth, OpsStore, RecentDelivery
from bot.storage._outbox import OutboxStore
from bot.storage._related import RelatedStore


class Storage(AdminStore, AlertStore, FeedStore, RelatedStore, GuildStore, OutboxStore, OpsStore):
    """The database with every domain's verbs."""


__all__ = [
    "Database",
    "FeedHealth",
    "RecentDelivery",
    "Storage",
    "backup_database",
    "latest_version",
    "migrations",
]
