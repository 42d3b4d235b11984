"""Feeds, articles, feed entries and the poll unit of work.

A poll of one feed is one transaction (`poll_transaction`): articles, entries, delivery work and
the feed's new validators and next check are written together or not at all, so a crash half-way
leaves no trace and the next poll simply does the work again. Uniqueness (one article per
canonical URL, one entry per feed and key, one delivery per channel and article) is enforced by
the schema; the verbs insert with ON CONFLICT DO NOTHING and act only on rows really inserted.

Several processes may poll one database: a round claims its due feeds (`claim_due_feeds`), and
every write of a poll's result clears the claim and is guarded by it, so a feed is polled by one
process at a time and a late result of a process whose claim was taken over changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.errors import NotFound
from bot.models import Feed
from bot.storage._articles import _archive_articles, _when
from bot.storage._base import Database
from bot.storage._connection import Connection, Dialect, Row, json_values
from bot.storage.records import FeedItemRef, NewArticle, NewEntry, NotModifiedCheck, OutboxRow

# Every feed read carries the intervals its active, unpaused subscriptions asked for (NULL: the
# default), as a JSON array, so the scheduler can take the shortest without another query.
_INTERVALS = (
    "(SELECT {aggregate}(s.interval_seconds) FROM subscriptions s "
    "WHERE s.feed_id = feeds.id AND s.active = 1 AND s.paused = 0) AS subscription_intervals"
)
_FEED_SELECT = f"SELECT feeds.*, {_INTERVALS.format(aggregate='json_group_array')} FROM feeds"  # noqa: S608 - constants
_FEED_SELECT_PG = f"SELECT feeds.*, {_INTERVALS.format(aggregate='json_agg')} FROM feeds"  # noqa: S608 - constants


def feed_select(dialect: Dialect) -> str:
    """The select every feed read uses, in `dialect`."""
    return _FEED_SELECT if dialect == "sqlite" else _FEED_SELECT_PG


# A poll's result is written only while the poll may still speak for the feed: the claim is its
# own (or nobody's: a one-off check, a single process) and no later check was recorded since.
_CLAIM_GUARD = (
    "(claimed_by IS NULL OR claimed_by = ?) AND (last_checked_at IS NULL OR last_checked_at <= ?)"
)
_CLEAR_CLAIM = "claimed_by = NULL, claim_expires_at = NULL"


class ClaimLost(Exception):
    """A poll's result arrived after another process took the feed's claim over (this one's had
    expired) or recorded a later check: it is dropped, and nothing of it is written."""


def _intervals(raw: str | None) -> tuple[int | None, ...]:
    values = json.loads(raw or "[]")
    return tuple(None if value is None else int(value) for value in values)


def _feed(row: Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        site_url=row["site_url"],
        icon_url=row["icon_url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        next_check_at=from_iso(row["next_check_at"]),
        last_checked_at=_when(row["last_checked_at"]),
        last_success_at=_when(row["last_success_at"]),
        last_error_kind=row["last_error_kind"],
        last_error_message=row["last_error_message"],
        consecutive_failures=row["consecutive_failures"],
        failing_notified=bool(row["failing_notified"]),
        created_at=from_iso(row["created_at"]),
        subscription_intervals=_intervals(row["subscription_intervals"]),
    )


def _may_record(row: Row, holder: str, now: datetime) -> bool:
    # _CLAIM_GUARD, for a row already read inside the transaction.
    claimed_by, last_checked = row["claimed_by"], _when(row["last_checked_at"])
    return claimed_by in (None, holder) and (last_checked is None or last_checked <= now)


class PollTransaction:
    """The domain verbs of one poll of one feed, all inside one write transaction."""

    def __init__(self, conn: Connection, feed_id: int, *, first_poll: bool, now: datetime) -> None:
        self._conn = conn
        self.feed_id = feed_id
        self._first_poll = first_poll
        self.now = now
        self.inserted_article_ids: list[int] = []

    @property
    def first_poll(self) -> bool:
        """True until the feed has been read successfully once: its items are then only seeded."""
        return self._first_poll

    async def upsert_articles(self, articles: Sequence[NewArticle]) -> list[int]:
        """The article id of each input, in order, creating the rows that do not exist yet.

        Articles are keyed by canonical URL; an existing row is left as it is (an edited feed item
        does not rewrite the archive). Ids of rows created here collect in `inserted_article_ids`.
        """
        archived = await _archive_articles(self._conn, articles, self.now)
        self.inserted_article_ids += [article_id for article_id, created in archived if created]
        return [article_id for article_id, _ in archived]

    async def insert_entries(self, entries: Sequence[NewEntry]) -> list[int]:
        """Record the feed's items; return the articles that are new to this feed, in input order.

        An entry whose key was seen before is not new. Nor is a new key for an article this feed
        already showed (a guid rewritten by the publisher): the article is not new to its readers.
        Three statements for the whole batch, with the result of recording them one by one.
        """
        if not entries:
            return []
        feed_id = self.feed_id
        keys = [entry.entry_key for entry in entries]
        article_ids = [entry.article_id for entry in entries]
        # One read for both questions, each half through its own index (an OR would scan the
        # feed's whole history): which keys are recorded, which articles the feed already shows.
        dialect = self._conn.dialect
        async with self._conn.execute(
            "SELECT 0, entry_key FROM feed_entries WHERE feed_id = ? "  # noqa: S608 - constants
            f"AND entry_key IN ({json_values(dialect)}) "
            "UNION ALL SELECT 1, CAST(article_id AS TEXT) FROM feed_entries WHERE feed_id = ? "
            f"AND article_id IN ({json_values(dialect, 'bigint')})",
            (feed_id, json.dumps(keys), feed_id, json.dumps(article_ids)),
        ) as cursor:
            rows = await cursor.fetchall()
        recorded = {str(value) for which, value in rows if which == 0}
        shown = {int(value) for which, value in rows if which == 1}
        await self._conn.executemany(
            "INSERT INTO feed_entries (feed_id, entry_key, article_id, published_at, "
            "first_seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (feed_id, entry_key) DO NOTHING",
            [
                (
                    feed_id,
                    entry.entry_key,
                    entry.article_id,
                    to_iso(entry.published) if entry.published else None,
                    to_iso(self.now),
                )
                for entry in entries
            ],
        )
        new_articles: list[int] = []
        for entry in entries:
            if entry.entry_key in recorded:
                continue  # known before, or a repeat of a key earlier in this batch
            recorded.add(entry.entry_key)
            if entry.article_id not in shown:
                new_articles.append(entry.article_id)
            shown.add(entry.article_id)
        return new_articles

    async def skip_pages(self, article_ids: Sequence[int]) -> None:
        """Past the poll's page budget: the archiver keeps these articles' feed text and fetches
        no page for them (whichever process archives)."""
        if not article_ids:
            return
        await self._conn.execute(
            "UPDATE articles SET fetch_page = 0 "  # noqa: S608 - constants
            f"WHERE id IN ({json_values(self._conn.dialect, 'bigint')})",
            (json.dumps(list(article_ids)),),
        )

    async def add_outbox(self, rows: Sequence[OutboxRow]) -> list[tuple[OutboxRow, int]]:
        """Create delivery rows; return (row, outbox id) for those really inserted.

        A row is dropped when the subscription already has this article, or when the article is
        already pending or sent in the same channel through another feed.
        """
        created: list[tuple[OutboxRow, int]] = []
        for row in rows:
            if row.state not in ("pending", "skipped"):
                raise ValueError(f"new outbox rows are pending or skipped, not {row.state!r}")
            async with self._conn.execute(
                "INSERT INTO outbox (subscription_id, article_id, channel_id, state, reason, "
                "payload, not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (
                    row.subscription_id,
                    row.article_id,
                    row.channel_id,
                    row.state,
                    row.reason,
                    row.payload,
                    to_iso(self.now),
                    to_iso(self.now),
                ),
            ) as cursor:
                inserted = await cursor.fetchone()
            if inserted is not None:
                created.append((row, int(inserted[0])))
        return created

    async def set_outbox_payload(self, outbox_id: int, payload: str) -> None:
        """Store the rendered message plan of a row created in this transaction."""
        await self._conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (payload, outbox_id))

    async def finish_success(
        self,
        *,
        etag: str | None,
        last_modified: str | None,
        next_check_at: datetime,
        title: str | None = None,
        site_url: str | None = None,
        icon_url: str | None = None,
    ) -> None:
        """Mark the poll a success: new validators and next check, failures and warning reset."""
        await self._conn.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, next_check_at = ?, last_checked_at = ?,"  # noqa: S608 - fixed SQL fragments
            " last_success_at = ?, last_error_kind = NULL, last_error_message = NULL, "
            "consecutive_failures = 0, failing_notified = 0, title = coalesce(?, title), "
            "site_url = coalesce(?, site_url), icon_url = coalesce(?, icon_url), "
            f"{_CLEAR_CLAIM} WHERE id = ?",
            (
                etag,
                last_modified,
                to_iso(next_check_at),
                to_iso(self.now),
                to_iso(self.now),
                title,
                site_url,
                icon_url,
                self.feed_id,
            ),
        )


class FeedStore(Database):
    """Verbs for feeds, the article archive and feed entries."""

    # -- feeds ----------------------------------------------------------------------------------

    async def add_feed(
        self,
        url: str,
        *,
        now: datetime,
        title: str = "",
        site_url: str = "",
        icon_url: str = "",
    ) -> Feed:
        """The feed at `url`, created (due at once) if it is not known yet."""
        await self.execute(
            "INSERT INTO feeds (url, title, site_url, icon_url, next_check_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
            (url, title, site_url, icon_url, to_iso(now), to_iso(now)),
        )
        feed = await self.feed_by_url(url)
        assert feed is not None
        return feed

    async def feed(self, feed_id: int) -> Feed | None:
        """One feed, or None."""
        row = await self.fetch_one(f"{feed_select(self.dialect)} WHERE id = ?", (feed_id,))
        return None if row is None else _feed(row)

    async def feed_by_url(self, url: str) -> Feed | None:
        """The feed whose document is at `url`, or None."""
        row = await self.fetch_one(f"{feed_select(self.dialect)} WHERE url = ?", (url,))
        return None if row is None else _feed(row)

    async def check_feed_by(self, feed_id: int, moment: datetime) -> None:
        """Bring the feed's next check forward to `moment` if it was later (never pushes it back).

        A subscription created or given a shorter interval gets its articles within its own
        interval, whatever another server's longer one scheduled.
        """
        await self.execute(
            "UPDATE feeds SET next_check_at = ? WHERE id = ? AND next_check_at > ?",
            (to_iso(moment), feed_id, to_iso(moment)),
        )

    async def due_feed_ids(self, now: datetime, *, limit: int = 1000) -> list[int]:
        """Feeds whose next check is due, the longest-waiting first."""
        rows = await self.fetch_all(
            "SELECT id FROM feeds WHERE next_check_at <= ? ORDER BY next_check_at, id LIMIT ?",
            (to_iso(now), limit),
        )
        return [int(row[0]) for row in rows]

    async def due_feeds(self, now: datetime, *, limit: int = 1000) -> list[Feed]:
        """The feeds `due_feed_ids` names, read in the same single query (a round's poller
        needs every row, and one read per feed costs more than the check of an unchanged one)."""
        rows = await self.fetch_all(
            f"{feed_select(self.dialect)} WHERE next_check_at <= ? ORDER BY next_check_at, id "
            "LIMIT ?",
            (to_iso(now), limit),
        )
        return [_feed(row) for row in rows]

    async def next_check_at(self) -> datetime | None:
        """When the next feed falls due, or None when there are no feeds."""
        return _when(await self.scalar("SELECT min(next_check_at) FROM feeds"))

    async def next_claimable_at(self, now: datetime, *, holder: str) -> datetime | None:
        """When `holder` may next claim a feed: the next check of a feed nobody else holds, or
        the expiry of another holder's claim on a due one; None when there are no feeds.

        Another holder's claim ends sooner when it polls the feed or gives the claim back; the
        processes sharing the database look again every `[scale] check_seconds` for that."""
        earliest = _when(await self.scalar("SELECT min(next_check_at) FROM feeds"))
        if earliest is None or earliest > now:
            return earliest  # nothing is due, so nothing due is held (claims are of due feeds)
        at = to_iso(now)
        free = _when(
            await self.scalar(
                "SELECT min(next_check_at) FROM feeds WHERE claimed_by IS NULL "
                "OR claimed_by = ? OR claim_expires_at <= ?",
                (holder, at),
            )
        )
        expiry = _when(
            await self.scalar(
                "SELECT min(claim_expires_at) FROM feeds WHERE next_check_at <= ? "
                "AND claimed_by <> ? AND claim_expires_at > ?",
                (at, holder, at),
            )
        )
        return min((when for when in (free, expiry) if when is not None), default=None)

    async def claim_due_feeds(
        self, now: datetime, *, holder: str, expires_at: datetime, limit: int
    ) -> list[Feed]:
        """Claim up to `limit` due feeds nobody holds (or whose claim expired) for `holder`,
        the longest-waiting first, and return them; feeds `holder` already holds are left out.

        One statement: on SQLite writers are serialised (BEGIN IMMEDIATE), so two processes never
        claim one feed; PostgreSQL runs it with `FOR UPDATE SKIP LOCKED` in the sub-select.
        """
        # PostgreSQL's writers are serialised too (the advisory lock), so SKIP LOCKED only
        # matters for rows a future concurrent writer holds; it never waits on one.
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        async with self.transaction() as conn:
            async with conn.execute(
                "UPDATE feeds SET claimed_by = ?, claim_expires_at = ? WHERE id IN ("  # noqa: S608 - constants
                "SELECT id FROM feeds WHERE next_check_at <= ? "
                "AND (claim_expires_at IS NULL OR claim_expires_at <= ?) "
                f"ORDER BY next_check_at, id LIMIT ?{skip_locked}) RETURNING id",
                (holder, to_iso(expires_at), to_iso(now), to_iso(now), limit),
            ) as cursor:
                ids = [int(row[0]) for row in await cursor.fetchall()]
            if not ids:
                return []
            async with conn.execute(
                f"{feed_select(conn.dialect)} WHERE id IN ({json_values(conn.dialect, 'bigint')}) "
                "ORDER BY next_check_at, id",
                (json.dumps(ids),),
            ) as cursor:
                return [_feed(row) for row in await cursor.fetchall()]

    async def claim_feed(
        self, feed_id: int, *, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Claim one feed whatever its schedule (an operator's check): True unless another
        holder's claim on it is still running. Raises NotFound for an unknown feed."""
        async with self.transaction() as conn:
            async with conn.execute(
                "UPDATE feeds SET claimed_by = ?, claim_expires_at = ? WHERE id = ? AND "
                "(claimed_by IS NULL OR claimed_by = ? OR claim_expires_at <= ?) RETURNING id",
                (holder, to_iso(expires_at), feed_id, holder, to_iso(now)),
            ) as cursor:
                if await cursor.fetchone() is not None:
                    return True
            async with conn.execute("SELECT 1 FROM feeds WHERE id = ?", (feed_id,)) as cursor:
                if await cursor.fetchone() is None:
                    raise NotFound(f"There is no feed number {feed_id}.")
            return False

    async def release_claims(self, feed_ids: Sequence[int], *, holder: str) -> None:
        """Give up claims of feeds `holder` did not poll after all (shutdown, no request slot):
        another process may take them at once instead of after the expiry."""
        if not feed_ids:
            return
        await self.execute(
            f"UPDATE feeds SET {_CLEAR_CLAIM} WHERE claimed_by = ? "  # noqa: S608 - fixed SQL fragments
            f"AND id IN ({json_values(self.dialect, 'bigint')})",
            (holder, json.dumps(list(feed_ids))),
        )

    async def claim_holders(self) -> list[str]:
        """Every holder that has feeds claimed now (expired or not)."""
        rows = await self.fetch_all(
            "SELECT DISTINCT claimed_by FROM feeds WHERE claimed_by IS NOT NULL ORDER BY 1"
        )
        return [str(row[0]) for row in rows]

    async def release_holder_claims(self, holder: str) -> int:
        """Clear every claim of `holder` (a process known to be dead); returns how many."""
        async with (
            self.transaction() as conn,
            conn.execute(
                f"UPDATE feeds SET {_CLEAR_CLAIM} WHERE claimed_by = ? RETURNING id",  # noqa: S608 - fixed SQL fragments
                (holder,),
            ) as cursor,
        ):
            return len(list(await cursor.fetchall()))

    async def feed_claim(self, feed_id: int) -> tuple[str | None, datetime | None]:
        """Who holds the feed's claim and until when (None, None: nobody); for tools and tests."""
        row = await self.fetch_one(
            "SELECT claimed_by, claim_expires_at FROM feeds WHERE id = ?", (feed_id,)
        )
        if row is None:
            raise NotFound(f"There is no feed number {feed_id}.")
        return row["claimed_by"], _when(row["claim_expires_at"])

    @asynccontextmanager
    async def poll_transaction(
        self, feed_id: int, *, now: datetime, holder: str | None = None
    ) -> AsyncIterator[PollTransaction]:
        """One poll's writes as a unit of work: committed together, or rolled back on any error.

        With `holder` (a poll's result), raises `ClaimLost` before writing anything if another
        process holds the feed's claim or recorded a check later than `now`.
        """
        async with self.transaction() as conn:
            # Only what the claim guard and the seeding rule read (the full feed select also
            # gathers its subscriptions' intervals, a poll's most costly read of this row).
            async with conn.execute(
                "SELECT claimed_by, last_checked_at, last_success_at FROM feeds WHERE id = ?",
                (feed_id,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"There is no feed number {feed_id}.")
            if holder is not None and not _may_record(row, holder, now):
                raise ClaimLost(f"feed {feed_id}: another process holds or polled it since")
            first_poll = row["last_success_at"] is None
            yield PollTransaction(conn, feed_id, first_poll=first_poll, now=now)

    async def record_not_modified(
        self, checks: Sequence[NotModifiedCheck], *, holder: str | None = None
    ) -> None:
        """Record many feeds' successful checks that changed nothing else, in one transaction.

        What `finish_success` records, without title or icon. A check older than the feed's last
        recorded one (another poll of it committed in the meantime), or of a feed another process
        holds the claim of, is left out, so a late batch never winds a feed back. The claims of
        the feeds recorded are cleared.
        Losing a batch (a crash) only leaves those feeds due, with their
        old validators: they are checked again, which announces nothing twice.
        """
        if not checks:
            return
        async with self.transaction() as conn:
            await conn.executemany(
                "UPDATE feeds SET etag = ?, last_modified = ?, next_check_at = ?, "  # noqa: S608 - fixed SQL fragments
                "last_checked_at = ?, last_success_at = ?, last_error_kind = NULL, "
                "last_error_message = NULL, consecutive_failures = 0, failing_notified = 0, "
                f"{_CLEAR_CLAIM} WHERE id = ? AND {_CLAIM_GUARD}",
                [
                    (
                        check.etag,
                        check.last_modified,
                        to_iso(check.next_check_at),
                        to_iso(check.checked_at),
                        to_iso(check.checked_at),
                        check.feed_id,
                        holder or "",
                        to_iso(check.checked_at),
                    )
                    for check in checks
                ],
            )

    async def recent_entry_keys(self, feed_id: int, limit: int) -> list[str]:
        """The keys of the feed's `limit` most recently first-seen items.

        A poll hands them to the parser so that items it already has are never normalised; an
        older item coming back is simply normalised and found known by `insert_entries`.
        """
        rows = await self.fetch_all(
            "SELECT entry_key FROM feed_entries WHERE feed_id = ? "
            "ORDER BY first_seen_at DESC LIMIT ?",
            (feed_id, limit),
        )
        return [str(row[0]) for row in rows]

    async def record_poll_failure(
        self,
        feed_id: int,
        *,
        kind: str,
        message: str,
        now: datetime,
        next_check_at: datetime,
        holder: str | None = None,
    ) -> int:
        """Remember a failed check (the feed is never removed) and clear its claim; returns the
        consecutive failures. With `holder`, raises `ClaimLost` (writing nothing) if another
        process holds the feed's claim or recorded a later check."""
        guard = f" AND {_CLAIM_GUARD}" if holder is not None else ""
        guard_args = (holder, to_iso(now)) if holder is not None else ()
        async with self.transaction() as conn:
            async with conn.execute(
                "UPDATE feeds SET last_checked_at = ?, last_error_kind = ?, last_error_message = ?,"  # noqa: S608 - fixed SQL fragments
                " consecutive_failures = consecutive_failures + 1, next_check_at = ?, "
                f"{_CLEAR_CLAIM} WHERE id = ?{guard} RETURNING consecutive_failures",
                (to_iso(now), kind, message, to_iso(next_check_at), feed_id, *guard_args),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                async with conn.execute("SELECT 1 FROM feeds WHERE id = ?", (feed_id,)) as cursor:
                    exists = await cursor.fetchone() is not None
                if exists:
                    raise ClaimLost(f"feed {feed_id}: another process holds or polled it since")
                raise NotFound(f"There is no feed number {feed_id}.")
        return int(row[0])

    async def feeds_to_report_failing(self, threshold: int) -> list[Feed]:
        """Feeds failing `threshold` times in a row whose moderators were not told yet."""
        rows = await self.fetch_all(
            f"{feed_select(self.dialect)} WHERE consecutive_failures >= ? "
            "AND failing_notified = 0 ORDER BY id",
            (threshold,),
        )
        return [_feed(row) for row in rows]

    async def mark_failing_notified(self, feed_id: int) -> None:
        """Moderators were told the feed is failing; not again until it recovers and fails anew."""
        await self.execute("UPDATE feeds SET failing_notified = 1 WHERE id = ?", (feed_id,))

    # -- feed items -----------------------------------------------------------------------------

    async def feed_items(self, feed_id: int, limit: int = 10) -> list[FeedItemRef]:
        """The feed's items with their article ids, newest first (for a new subscription's backlog).

        Newest is by the item's date; undated items count as dated when they were first seen.
        """
        rows = await self.fetch_all(
            "SELECT e.article_id, e.entry_key, e.published_at, e.first_seen_at, a.title, a.url "
            "FROM feed_entries e JOIN articles a ON a.id = e.article_id WHERE e.feed_id = ? "
            "ORDER BY coalesce(e.published_at, e.first_seen_at) DESC, e.article_id DESC LIMIT ?",
            (feed_id, limit),
        )
        return [
            FeedItemRef(
                article_id=int(row["article_id"]),
                entry_key=row["entry_key"],
                title=row["title"],
                url=row["url"],
                published=_when(row["published_at"]),
                first_seen=from_iso(row["first_seen_at"]),
            )
            for row in rows
        ]

    async def newest_feed_article_id(self, feed_id: int) -> int | None:
        """The article behind the feed's newest item (by date, else first seen), or None."""
        value = await self.scalar(
            "SELECT article_id FROM feed_entries WHERE feed_id = ? "
            "ORDER BY coalesce(published_at, first_seen_at) DESC, article_id DESC LIMIT 1",
            (feed_id,),
        )
        return None if value is None else int(value)
