"""Delivery rhythm: per-subscription rhythm settings, the publish queue of Announcement channels,
article versions and the outbox of edits.

Edits follow the posts' protocol: a row per (posted announcement, new version) made at most once
(a unique constraint), claimed in a committed transaction before Discord is asked, then `sent`.
A row left `claimed` by a crash is reconciled by looking at the message itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.models import DEFAULT_RHYTHM, Rhythm
from bot.shards import ShardSet
from bot.storage._articles import _when
from bot.storage._base import Database, chunks
from bot.storage._connection import Row, shard_condition
from bot.storage.records import (
    ChangedPost,
    DigestCandidate,
    DigestPage,
    EditRow,
    PublishRow,
    Repost,
    RhythmFacts,
)


def _rhythm(row: Row) -> Rhythm:
    cap, day = row["daily_cap"], row["digest_day"]
    return Rhythm(
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        daily_cap=None if cap is None else int(cap),
        on_change=row["on_change"],
        digest=row["digest"],
        digest_time=row["digest_time"],
        digest_day=None if day is None else int(day),
        digest_size=int(row["digest_size"]),
    )


_EDIT_COLUMNS = (
    "e.id, e.outbox_id, s.guild_id, o.channel_id, o.message_id, o.thread_id, s.format, "
    "e.payload, e.state, e.attempts, e.not_before"
)


def _edit(row: Row) -> EditRow:
    return EditRow(
        id=int(row["id"]),
        outbox_id=int(row["outbox_id"]),
        guild_id=int(row["guild_id"]),
        channel_id=int(row["channel_id"]),
        message_id=int(row["message_id"]),
        thread_id=row["thread_id"],
        format=row["format"],
        payload=row["payload"],
        state=row["state"],
        attempts=int(row["attempts"]),
        not_before=from_iso(row["not_before"]),
    )


class RhythmStore(Database):
    """Verbs for quiet hours and caps, publishing, and edits."""

    async def rhythm_work(self) -> tuple[bool, bool, bool]:
        """Whether there may be (digest, edit, publish) work: one cheap read per delivery pass,
        so passes without any of it cost no more than before."""
        row = await self.fetch_one(
            "SELECT EXISTS (SELECT 1 FROM subscription_rhythm WHERE digest IS NOT NULL) "
            "OR EXISTS (SELECT 1 FROM digest_pages WHERE state IN ('pending', 'claimed')) "
            "AS digests, EXISTS (SELECT 1 FROM outbox_edits WHERE state IN ('pending', "
            "'claimed')) AS edits, EXISTS (SELECT 1 FROM publishes WHERE state = 'pending') "
            "OR EXISTS (SELECT 1 FROM publish_holds) AS publishes"
        )
        assert row is not None
        return bool(row["digests"]), bool(row["edits"]), bool(row["publishes"])

    # -- settings -------------------------------------------------------------------------------

    async def subscription_rhythm(self, subscription_id: int) -> Rhythm:
        """A subscription's rhythm (the defaults if none was set)."""
        row = await self.fetch_one(
            "SELECT * FROM subscription_rhythm WHERE subscription_id = ?", (subscription_id,)
        )
        return DEFAULT_RHYTHM if row is None else _rhythm(row)

    async def rhythms(self, subscription_ids: Sequence[int]) -> dict[int, Rhythm]:
        """The rhythms set for these subscriptions (those with none set are left out)."""
        found: dict[int, Rhythm] = {}
        for part in chunks(list(subscription_ids)):
            marks = ",".join("?" * len(part))
            rows = await self.fetch_all(
                f"SELECT * FROM subscription_rhythm WHERE subscription_id IN ({marks})",  # noqa: S608
                part,
            )
            found.update({int(row["subscription_id"]): _rhythm(row) for row in rows})
        return found

    async def set_rhythm(self, subscription_id: int, rhythm: Rhythm) -> None:
        """Store a subscription's rhythm (the defaults remove the row)."""
        if rhythm.is_default:
            await self.execute(
                "DELETE FROM subscription_rhythm WHERE subscription_id = ?", (subscription_id,)
            )
            return
        await self.execute(
            "INSERT INTO subscription_rhythm (subscription_id, quiet_start, quiet_end, "
            "daily_cap, on_change, digest, digest_time, digest_day, digest_size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subscription_id) DO UPDATE "
            "SET quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, "
            "daily_cap = excluded.daily_cap, on_change = excluded.on_change, "
            "digest = excluded.digest, digest_time = excluded.digest_time, "
            "digest_day = excluded.digest_day, digest_size = excluded.digest_size",
            (
                subscription_id,
                rhythm.quiet_start,
                rhythm.quiet_end,
                rhythm.daily_cap,
                rhythm.on_change,
                rhythm.digest,
                rhythm.digest_time,
                rhythm.digest_day,
                rhythm.digest_size,
            ),
        )

    async def sent_since(self, subscription_id: int, since: datetime) -> int:
        """Posts a subscription made on their own since `since` (for the daily cap; items
        sent in a digest do not count)."""
        value = await self.scalar(
            "SELECT count(*) FROM outbox WHERE subscription_id = ? AND state = 'sent' "
            "AND sent_at >= ? AND id NOT IN (SELECT outbox_id FROM digest_items)",
            (subscription_id, to_iso(since)),
        )
        return int(value or 0)

    # -- publishing -----------------------------------------------------------------------------

    async def open_publishes(self, *, shards: ShardSet | None = None) -> list[PublishRow]:
        """Announcements waiting to be published, oldest first per channel (with `shards`,
        only those of the shards' servers)."""
        condition, params = shard_condition(shards, "guild_id")
        rows = await self.fetch_all(
            "SELECT outbox_id, guild_id, channel_id, message_id, not_before FROM publishes "  # noqa: S608
            f"WHERE state = 'pending'{condition} ORDER BY channel_id, outbox_id",
            params,
        )
        return [
            PublishRow(
                int(r["outbox_id"]),
                int(r["guild_id"]),
                int(r["channel_id"]),
                int(r["message_id"]),
                from_iso(r["not_before"]),
            )
            for r in rows
        ]

    async def publish_times(self, channel_id: int, since: datetime) -> list[datetime]:
        """When the channel's announcements were published since `since`."""
        rows = await self.fetch_all(
            "SELECT published_at FROM publishes WHERE channel_id = ? AND state = 'published' "
            "AND published_at > ? ORDER BY published_at",
            (channel_id, to_iso(since)),
        )
        return [from_iso(r["published_at"]) for r in rows]

    async def mark_published(self, outbox_id: int, *, now: datetime) -> None:
        """Discord published it (or had already): done for good."""
        await self.execute(
            "UPDATE publishes SET state = 'published', published_at = ?, reason = '' "
            "WHERE outbox_id = ? AND state = 'pending'",
            (to_iso(now), outbox_id),
        )

    async def delay_publish(self, outbox_id: int, *, not_before: datetime, reason: str) -> None:
        """Try publishing again later (Discord's limit, or a transient failure)."""
        await self.execute(
            "UPDATE publishes SET not_before = ?, reason = ? WHERE outbox_id = ? "
            "AND state = 'pending'",
            (to_iso(not_before), reason, outbox_id),
        )

    async def fail_publish(self, outbox_id: int, reason: str) -> None:
        """Discord refused to publish for good (the post itself stays in the channel)."""
        await self.execute(
            "UPDATE publishes SET state = 'failed', reason = ? WHERE outbox_id = ? "
            "AND state = 'pending'",
            (reason, outbox_id),
        )

    async def hold_publishes(self, channel_id: int, *, now: datetime) -> bool:
        """Record that a channel's queue is held; True only the first time (tell once)."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO publish_holds (channel_id, since) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                (channel_id, to_iso(now)),
            )
            return cursor.rowcount == 1

    async def end_publish_holds(self) -> None:
        """Forget holds of channels whose queue has emptied (a later hold is told again)."""
        ended = "channel_id NOT IN (SELECT channel_id FROM publishes WHERE state = 'pending')"
        # Read first: this runs on every delivery pass, and most passes have nothing to end.
        if await self.scalar(f"SELECT 1 FROM publish_holds WHERE {ended} LIMIT 1") is None:  # noqa: S608
            return
        await self.execute(f"DELETE FROM publish_holds WHERE {ended}")  # noqa: S608

    # -- article versions and edits -------------------------------------------------------------

    async def article_hashes(self, article_ids: Sequence[int]) -> dict[int, str]:
        """The last content hash seen of each article (articles never hashed are left out)."""
        found: dict[int, str] = {}
        for part in chunks(list(article_ids)):
            marks = ",".join("?" * len(part))
            rows = await self.fetch_all(
                "SELECT article_id, content_hash FROM article_versions "  # noqa: S608
                f"WHERE article_id IN ({marks})",
                part,
            )
            found.update({int(r["article_id"]): r["content_hash"] for r in rows})
        return found

    async def remember_versions(self, versions: Sequence[tuple[int, str]]) -> None:
        """Store first-seen fingerprints (article id, hash) in one transaction."""
        if not versions:
            return
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT INTO article_versions (article_id, content_hash, first_hash) "
                "VALUES (?, ?, ?) ON CONFLICT (article_id) DO NOTHING",
                [(article_id, content_hash, content_hash) for article_id, content_hash in versions],
            )

    async def first_hash(self, article_id: int) -> str | None:
        """The fingerprint the article had when Paperboy first saw it (what its first
        announcement showed), or None if never fingerprinted."""
        value = await self.scalar(
            "SELECT first_hash FROM article_versions WHERE article_id = ?", (article_id,)
        )
        return None if value is None else str(value)

    async def changed_posts(self, article_id: int) -> list[ChangedPost]:
        """The article's announcements, posted or waiting, in subscriptions that edit or repost
        on change (a waiting one is posted with the new version instead), oldest first."""
        rows = await self.fetch_all(
            "SELECT o.id, o.subscription_id, s.guild_id, o.channel_id, o.message_id, s.format, "
            "o.state, r.on_change, o.version FROM outbox o "
            "JOIN subscriptions s ON s.id = o.subscription_id "
            "JOIN subscription_rhythm r ON r.subscription_id = s.id "
            "WHERE o.article_id = ? AND o.state IN ('pending', 'claimed', 'sent') "
            "AND (o.state != 'sent' OR o.message_id IS NOT NULL) "
            "AND r.on_change IN ('edit', 'repost') AND s.active = 1 ORDER BY o.id",
            (article_id,),
        )
        return [
            ChangedPost(
                int(r["id"]),
                int(r["subscription_id"]),
                int(r["guild_id"]),
                int(r["channel_id"]),
                r["message_id"],
                r["format"],
                r["state"],
                r["on_change"],
                r["version"],
            )
            for r in rows
        ]

    async def record_version(
        self,
        article_id: int,
        content_hash: str,
        plans: Sequence[tuple[ChangedPost, str]],
        *,
        now: datetime,
        reposts: Sequence[Repost] = (),
        seen: Sequence[ChangedPost] = (),
    ) -> int | None:
        """Remember an article's new version, in one transaction with what it changes: each
        posted announcement in `plans` gets an edit queued (once per version), each waiting one
        its plan replaced, and each of `reposts` a new outbox row announcing this version (at
        most once per subscription and version: the outbox's uniqueness). Returns how many edits
        and reposts were queued, or None (nothing done: try again on the next poll) when a post
        was in flight or changed state since `plans` were made (`seen`: the announcements the
        decisions were made from, checked the same way)."""
        queued = 0
        async with self.transaction() as conn:
            for post in [*seen, *(post for post, _ in plans)]:
                async with conn.execute(
                    "SELECT state FROM outbox WHERE id = ?", (post.outbox_id,)
                ) as cursor:
                    row = await cursor.fetchone()
                if row is None or row[0] != post.state or post.state == "claimed":
                    return None
            await conn.execute(
                "INSERT INTO article_versions (article_id, content_hash, first_hash) "
                "VALUES (?, ?, ?) ON CONFLICT (article_id) "
                "DO UPDATE SET content_hash = excluded.content_hash",
                (article_id, content_hash, content_hash),
            )
            for post, payload in plans:
                if post.state == "pending":
                    await conn.execute(
                        "UPDATE outbox SET payload = ? WHERE id = ? AND state = 'pending'",
                        (payload, post.outbox_id),
                    )
                    continue
                cursor = await conn.execute(
                    "INSERT INTO outbox_edits (outbox_id, content_hash, payload, not_before, "
                    "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (post.outbox_id, content_hash, payload, to_iso(now), to_iso(now)),
                )
                queued += cursor.rowcount
            for repost in reposts:
                async with conn.execute(
                    "INSERT INTO outbox (subscription_id, article_id, channel_id, state, "
                    "not_before, created_at, version) VALUES (?, ?, ?, 'pending', ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING id",
                    (
                        repost.subscription_id,
                        article_id,
                        repost.channel_id,
                        to_iso(now),
                        to_iso(now),
                        content_hash,
                    ),
                ) as cursor:
                    inserted = await cursor.fetchone()
                if inserted is None:
                    continue  # this version was announced in this subscription already
                outbox_id = int(inserted[0])
                await conn.execute(
                    "UPDATE outbox SET payload = ? WHERE id = ?",
                    (repost.render(outbox_id), outbox_id),
                )
                queued += 1
        return queued

    async def next_edits(self, *, limit: int = 50, shards: ShardSet | None = None) -> list[EditRow]:
        """Open edits, oldest first; at most one per posted message (the oldest)."""
        condition, params = shard_condition(shards)
        rows = await self.fetch_all(
            f"SELECT {_EDIT_COLUMNS} FROM outbox_edits e "  # noqa: S608 - fixed column list
            "JOIN outbox o ON o.id = e.outbox_id JOIN subscriptions s ON s.id = o.subscription_id "
            "WHERE e.id IN (SELECT min(id) FROM outbox_edits WHERE state IN ('pending', 'claimed') "
            f"GROUP BY outbox_id) AND s.active = 1 AND s.paused = 0{condition} "
            "ORDER BY e.not_before, e.id LIMIT ?",
            [*params, limit],
        )
        return [_edit(row) for row in rows]

    async def claimed_edits(self, *, shards: ShardSet | None = None) -> list[EditRow]:
        """Edits left claimed (after a crash, these may or may not have reached Discord)."""
        condition, params = shard_condition(shards)
        rows = await self.fetch_all(
            f"SELECT {_EDIT_COLUMNS} FROM outbox_edits e "  # noqa: S608 - fixed column list
            "JOIN outbox o ON o.id = e.outbox_id JOIN subscriptions s ON s.id = o.subscription_id "
            f"WHERE e.state = 'claimed'{condition} ORDER BY e.id",
            params,
        )
        return [_edit(row) for row in rows]

    async def claim_edit(self, edit_id: int, *, now: datetime) -> bool:
        """Commit the claim before editing; False if it is no longer pending."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox_edits SET state = 'claimed', claimed_at = ?, "
                "attempts = attempts + 1 WHERE id = ? AND state = 'pending'",
                (to_iso(now), edit_id),
            )
            return cursor.rowcount == 1

    async def settle_edit(self, edit_id: int, *, state: str, reason: str, now: datetime) -> None:
        """An edit's end: `sent` or `failed` (with why)."""
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE outbox_edits SET state = ?, reason = ?, sent_at = ?, claimed_at = NULL "
                "WHERE id = ? AND state IN ('pending', 'claimed')",
                (state, reason, to_iso(now), edit_id),
            )

    async def reschedule_edit(self, edit_id: int, *, not_before: datetime, reason: str) -> None:
        """Back to pending, not before `not_before` (a transient failure, or a released claim)."""
        await self.execute(
            "UPDATE outbox_edits SET state = 'pending', not_before = ?, reason = ?, "
            "claimed_at = NULL WHERE id = ? AND state IN ('pending', 'claimed')",
            (to_iso(not_before), reason, edit_id),
        )

    # -- digests --------------------------------------------------------------------------------

    async def digest_rhythms(self, *, shards: ShardSet | None = None) -> dict[int, Rhythm]:
        """The rhythms of active, unpaused subscriptions in digest mode."""
        condition, params = shard_condition(shards)
        rows = await self.fetch_all(
            "SELECT r.* FROM subscription_rhythm r JOIN subscriptions s "  # noqa: S608
            "ON s.id = r.subscription_id WHERE r.digest IS NOT NULL AND s.active = 1 "
            f"AND s.paused = 0{condition} ORDER BY r.subscription_id",
            params,
        )
        return {int(row["subscription_id"]): _rhythm(row) for row in rows}

    async def last_digest_slot(self, subscription_id: int) -> datetime | None:
        """The scheduled moment of the subscription's latest digest, if any."""
        value = await self.scalar(
            "SELECT max(scheduled_for) FROM digests WHERE subscription_id = ?", (subscription_id,)
        )
        return None if value is None else from_iso(str(value))

    async def undigested(self, subscription_id: int, *, limit: int) -> list[DigestCandidate]:
        """Open rows of the subscription in no digest yet, oldest first."""
        rows = await self.fetch_all(
            "SELECT o.id, o.article_id FROM outbox o WHERE o.subscription_id = ? "
            "AND o.state = 'pending' AND o.id NOT IN (SELECT outbox_id FROM digest_items) "
            "ORDER BY o.id LIMIT ?",
            (subscription_id, limit),
        )
        return [DigestCandidate(int(r["id"]), int(r["article_id"])) for r in rows]

    async def digested(self, outbox_ids: Sequence[int]) -> set[int]:
        """Which of these outbox rows a digest lists already (they go out with its page)."""
        found: set[int] = set()
        for part in chunks(list(outbox_ids)):
            marks = ",".join("?" * len(part))
            rows = await self.fetch_all(
                f"SELECT outbox_id FROM digest_items WHERE outbox_id IN ({marks})",  # noqa: S608
                part,
            )
            found.update(int(row["outbox_id"]) for row in rows)
        return found

    async def unqueue_from_digest(self, subscription_id: int, *, now: datetime) -> None:
        """Digests turned off: rows waiting for the next digest (and in none yet) are due now."""
        await self.execute(
            "UPDATE outbox SET not_before = ?, reason = '' WHERE subscription_id = ? "
            "AND state = 'pending' AND reason LIKE 'queued for the %' "
            "AND id NOT IN (SELECT outbox_id FROM digest_items)",
            (to_iso(now), subscription_id),
        )

    async def queue_for_digest(
        self, subscription_id: int, *, next_at: datetime, reason: str
    ) -> None:
        """Open rows wait for the next digest (the reason is what `/feeds why` shows)."""
        stale = await self.scalar(
            "SELECT 1 FROM outbox WHERE subscription_id = ? AND state = 'pending' "
            "AND (not_before != ? OR reason != ?) LIMIT 1",
            (subscription_id, to_iso(next_at), reason),
        )
        if stale is None:  # runs on every delivery pass: write only when something changes
            return
        await self.execute(
            "UPDATE outbox SET not_before = ?, reason = ? WHERE subscription_id = ? "
            "AND state = 'pending' AND (not_before != ? OR reason != ?)",
            (to_iso(next_at), reason, subscription_id, to_iso(next_at), reason),
        )

    async def form_digest(
        self,
        subscription_id: int,
        slot: datetime,
        pages: Sequence[tuple[str, Sequence[int]]],
        *,
        now: datetime,
    ) -> int | None:
        """Record the digest of `slot` with its pages and items, in one transaction; None if
        that slot has one already. An item already in a digest makes the whole call fail."""
        async with self.transaction() as conn:
            async with conn.execute(
                "INSERT INTO digests (subscription_id, scheduled_for, created_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (subscription_id, to_iso(slot), to_iso(now)),
            ) as cursor:
                inserted = await cursor.fetchone()
            if inserted is None:
                return None
            digest_id = int(inserted[0])
            for number, (payload, outbox_ids) in enumerate(pages, start=1):
                async with conn.execute(
                    "INSERT INTO digest_pages (digest_id, page, payload, not_before) "
                    "VALUES (?, ?, ?, ?) RETURNING id",
                    (digest_id, number, payload, to_iso(now)),
                ) as cursor:
                    page_row = await cursor.fetchone()
                assert page_row is not None
                await conn.executemany(
                    "INSERT INTO digest_items (outbox_id, page_id) VALUES (?, ?)",
                    [(outbox_id, int(page_row[0])) for outbox_id in outbox_ids],
                )
            return digest_id

    async def open_digest_pages(self, *, shards: ShardSet | None = None) -> list[DigestPage]:
        """The next page of each subscription's oldest unfinished digest (pages go in order)."""
        condition, params = shard_condition(shards)
        return await self._digest_pages(
            "p.id IN (SELECT min(p2.id) FROM digest_pages p2 JOIN digests d2 "  # noqa: S608
            "ON d2.id = p2.digest_id WHERE p2.state IN ('pending', 'claimed') "
            "GROUP BY d2.subscription_id) AND s.active = 1 AND s.paused = 0" + condition,
            params,
        )

    async def claimed_digest_pages(self, *, shards: ShardSet | None = None) -> list[DigestPage]:
        """Pages left claimed (after a crash, these may or may not have been posted)."""
        condition, params = shard_condition(shards)
        return await self._digest_pages("p.state = 'claimed'" + condition, params)

    async def _digest_pages(self, where: str, params: list[int]) -> list[DigestPage]:
        # `where` is made of the fixed conditions above, never input.
        sql = (
            "SELECT p.id, p.digest_id, p.page, d.subscription_id, s.guild_id, s.channel_id, "  # noqa: S608
            "s.format, p.payload, p.state, p.attempts, p.not_before FROM digest_pages p "
            "JOIN digests d ON d.id = p.digest_id JOIN subscriptions s "
            "ON s.id = d.subscription_id WHERE " + where + " ORDER BY p.id"
        )
        rows = await self.fetch_all(sql, params)
        return [
            DigestPage(
                id=int(r["id"]),
                digest_id=int(r["digest_id"]),
                page=int(r["page"]),
                subscription_id=int(r["subscription_id"]),
                guild_id=int(r["guild_id"]),
                channel_id=int(r["channel_id"]),
                format=r["format"],
                payload=r["payload"],
                state=r["state"],
                attempts=int(r["attempts"]),
                not_before=from_iso(r["not_before"]),
            )
            for r in rows
        ]

    async def claim_digest_page(self, page_id: int, *, now: datetime) -> bool:
        """Commit the claim before posting a digest page; False if no longer pending."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE digest_pages SET state = 'claimed', attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending'",
                (page_id,),
            )
            return cursor.rowcount == 1

    async def digest_page_sent(self, page_id: int, *, message_id: int, now: datetime) -> None:
        """Discord has the page: it and the items it lists are sent, in one transaction."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE digest_pages SET state = 'sent', message_id = ?, sent_at = ?, reason = '' "
                "WHERE id = ? AND state IN ('pending', 'claimed')",
                (message_id, to_iso(now), page_id),
            )
            if cursor.rowcount == 1:
                await conn.execute(
                    "UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ?, reason = '' "
                    "WHERE id IN (SELECT outbox_id FROM digest_items WHERE page_id = ?) "
                    "AND state IN ('pending', 'claimed')",
                    (to_iso(now), message_id, page_id),
                )

    async def release_digest_page(self, page_id: int, *, not_before: datetime, reason: str) -> None:
        """Back to pending (not posted after all, or a failure to retry later)."""
        await self.execute(
            "UPDATE digest_pages SET state = 'pending', not_before = ?, reason = ? "
            "WHERE id = ? AND state IN ('pending', 'claimed')",
            (to_iso(not_before), reason, page_id),
        )

    # -- /feeds why -----------------------------------------------------------------------------

    async def queue_head_reasons(self, subscription_ids: Sequence[int]) -> dict[int, str]:
        """Why the oldest open row of each subscription waits (rows behind it wait too)."""
        found: dict[int, str] = {}
        for part in chunks(list(subscription_ids)):
            marks = ",".join("?" * len(part))
            rows = await self.fetch_all(
                "SELECT subscription_id, reason FROM outbox WHERE id IN (SELECT min(id) "  # noqa: S608
                "FROM outbox WHERE state IN ('pending', 'claimed') AND subscription_id IN "
                f"({marks}) GROUP BY subscription_id)",
                part,
            )
            found.update({int(r["subscription_id"]): r["reason"] for r in rows})
        return found

    async def rhythm_facts(self, article_id: int, guild_id: int) -> dict[int, RhythmFacts]:
        """Per subscription of the guild: the article's publish state, edits and reposts (of
        its first announcement; reposts are the subscription's later rows of the article)."""
        reposts = (
            "FROM outbox r WHERE r.subscription_id = o.subscription_id "
            "AND r.article_id = o.article_id AND r.version != ''"
        )
        rows = await self.fetch_all(
            "SELECT o.id, o.subscription_id, p.state AS publish_state, p.reason AS publish_reason, "  # noqa: S608
            "(SELECT count(*) FROM outbox_edits e WHERE e.outbox_id = o.id AND e.state = 'sent') "
            "AS edits_sent, (SELECT count(*) FROM outbox_edits e WHERE e.outbox_id = o.id "
            "AND e.state IN ('pending', 'claimed')) AS edits_open, (SELECT max(sent_at) FROM "
            "outbox_edits e WHERE e.outbox_id = o.id AND e.state = 'sent') AS last_edit_at, "
            f"(SELECT count(*) {reposts} AND r.state = 'sent') AS reposts_sent, "
            f"(SELECT count(*) {reposts} AND r.state IN ('pending', 'claimed')) AS reposts_open, "
            f"(SELECT r.message_id {reposts} AND r.state = 'sent' ORDER BY r.id DESC LIMIT 1) "
            "AS last_repost_message_id "
            "FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id "
            "LEFT JOIN publishes p ON p.outbox_id = o.id "
            "WHERE o.article_id = ? AND s.guild_id = ? AND o.version = ''",
            (article_id, guild_id),
        )
        return {
            int(r["subscription_id"]): RhythmFacts(
                outbox_id=int(r["id"]),
                publish_state=r["publish_state"],
                publish_reason=r["publish_reason"] or "",
                edits_sent=int(r["edits_sent"]),
                edits_open=int(r["edits_open"]),
                last_edit_at=_when(r["last_edit_at"]),
                reposts_sent=int(r["reposts_sent"]),
                reposts_open=int(r["reposts_open"]),
                last_repost_message_id=r["last_repost_message_id"],
            )
            for r in rows
        }
