"""All SQL lives in this package; `Storage` joins the `_` modules' verbs (README, Architecture).

The schema is the numbered `migrations/*.sql` files, tracked in `PRAGMA user_version`; on
PostgreSQL their twins in `migrations/postgresql/`, tracked in the `schema_version` table.
"""

from __future__ import annotations

from bot.storage import records
from bot.storage._alerts import AlertStore
from bot.storage._articles import ArticleStore
from bot.storage._base import (
    Database,
    backup_database,
    latest_version,
    migrations,
    split_statements,
)
from bot.storage._copy import copy_source_rows, copy_sqlite_to_postgres
from bot.storage._feeds import ClaimLost, FeedStore, PollTransaction
from bot.storage._handoffs import HANDOFF_RETENTION, HandoffStore
from bot.storage._leases import LeaseStore
from bot.storage._mentions import MentionStore
from bot.storage._ops import OpsStore
from bot.storage._outbox import OutboxStore
from bot.storage._rhythm import RhythmStore
from bot.storage._search import SearchStore, fts_query, sqlite_ln
from bot.storage._sources import SourceStore
from bot.storage._subscriptions import SubscriptionLimitReached, SubscriptionStore
from bot.storage._websub import WebSubStore
from bot.storage.records import *  # noqa: F403


class Storage(
    FeedStore,
    ArticleStore,
    SubscriptionStore,
    MentionStore,
    OutboxStore,
    RhythmStore,
    AlertStore,
    SearchStore,
    OpsStore,
    LeaseStore,
    WebSubStore,
    SourceStore,
    HandoffStore,
):
    """The database with every table's verbs."""


__all__ = [
    "HANDOFF_RETENTION",
    "ClaimLost",
    "Database",
    "PollTransaction",
    "Storage",
    "SubscriptionLimitReached",
    "backup_database",
    "copy_source_rows",
    "copy_sqlite_to_postgres",
    "fts_query",
    "latest_version",
    "migrations",
    "split_statements",
    "sqlite_ln",
]
__all__ += records.__all__
