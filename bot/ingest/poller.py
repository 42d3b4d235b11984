"""The poll service: check due feeds, record what is new, create delivery work, reschedule.

One poll of one feed reads (fetch, parse, subscriptions), plans (pure `plan_outbox`), then writes
everything in one `poll_transaction`. Feeds are isolated: whatever goes wrong with one is recorded
on that feed and never stops the others.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.announce.changes import ItemsSeen
from bot.announce.plan import (
    HeldBack,
    HeldBackEvent,
    announcement_article,
    article_of,
    held_back_events,
    plan_outbox,
    render_payload,
    subscription_view,
)
from bot.announce.render import SubscriptionView
from bot.clock import Clock
from bot.config import Config
from bot.errors import FeedError, FetchError, NotFound
from bot.feeds import ParsedFeed, parse_feed_off_loop
from bot.fetch import Fetcher, FetchResult, kinds
from bot.ingest import schedule
from bot.ingest.sitemaps import MAX_PAGE_READS_PER_POLL, read_document
from bot.lease import holder_gone, make_holder
from bot.metrics import Metrics
from bot.models import Feed, Subscription
from bot.storage import (
    ClaimLost,
    FeedReader,
    NewEntry,
    NotModifiedCheck,
    PollTransaction,
    Storage,
)
from bot.tasks import WakeSignal, run_hooks
from bot.workpool import WorkPool

log = logging.getLogger(__name__)

INTERNAL_KIND = "internal"
INTERNAL_MESSAGE = (
    "Something went wrong inside Paperboy while checking this feed; the operator's log has the "
    "details, and the feed will be checked again later."
)
IDLE_WAKE_SECONDS = 300.0
"""With no feeds at all, the loop still looks again this often (or when woken)."""
MIN_LOOP_PAUSE_SECONDS = 0.5
"""The loop never spins faster than this, even when a feed is due again at once."""
NOT_MODIFIED_BATCH = 500
"""Unchanged feeds' bookkeeping is written this many feeds at a time (or at a round's end)."""
NOT_MODIFIED_MAX_DELAY_SECONDS = 0.5
"""... or once the oldest unwritten check is this old, whichever comes first."""
CLAIM_BATCH_PER_SLOT = 2
"""A round claims due feeds this many per request slot at a time: enough to keep every slot
busy, few enough that a claimed feed waits for its turn far less than the claim lasts."""
MIN_CLAIM_BATCH = 16
CLAIM_LOST_KIND = "claim_lost"
"""The outcome of a poll whose result was dropped: another process took the feed over."""
CLAIMED_KIND = "claimed"
"""The outcome of a one-off check of a feed another process is polling right now."""


@dataclass(frozen=True)
class NewArticlesEvent:
    """What the poller tells `on_new_articles` hooks after a commit.

    `article_ids` are articles this poll added to the archive. `seeded` is True on a feed's first
    poll, whose items are recorded as already seen: alerts should ignore those, the archiver not.
    """

    feed_id: int
    article_ids: tuple[int, ...]
    seeded: bool


NewArticlesHook = Callable[[NewArticlesEvent], Awaitable[None]]


class PushSource(Protocol):
    """What push delivery (WebSub, `bot.ingest.subscriber`) asks of each poll."""

    async def feed_fetched(self, feed: Feed, result: FetchResult, now: datetime) -> None:
        """A poll fetched the feed: note the hub it advertises."""

    async def polling_interval(self, feed_id: int, interval: float, now: datetime) -> float:
        """The interval to poll at: `interval`, or longer while push works for the feed."""

    async def poll_found_new(
        self, feed_id: int, count: int, *, since: datetime | None, now: datetime
    ) -> None:
        """A poll found items new to the feed since the previous good poll (`since`): if push
        was meant to bring them, it failed."""


HeldBackHook = Callable[[HeldBackEvent], Awaitable[object]]
FailingHook = Callable[[int], Awaitable[object]]
"""Called with a feed's id when it has just failed `failing_threshold` times in a row."""


@dataclass(frozen=True)
class FeedPollOutcome:
    """The result of one poll of one feed."""

    feed_id: int
    ok: bool
    not_modified: bool = False
    seeded: bool = False
    items: int = 0
    new_articles: tuple[int, ...] = ()
    new_to_feed: tuple[int, ...] = ()
    outbox_rows: int = 0
    error_kind: str | None = None
    error_message: str | None = None
    consecutive_failures: int = 0


@dataclass
class PollReport:
    """What one `poll_due` round did."""

    outcomes: list[FeedPollOutcome] = field(default_factory=list)

    @property
    def polled(self) -> int:
        """Feeds checked."""
        return len(self.outcomes)

    @property
    def failed(self) -> list[FeedPollOutcome]:
        """The checks that failed."""
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def new_articles(self) -> int:
        """Articles added to the archive."""
        return sum(len(outcome.new_articles) for outcome in self.outcomes)

    @property
    def outbox_rows(self) -> int:
        """Delivery rows created."""
        return sum(outcome.outbox_rows for outcome in self.outcomes)


# -- the service --------------------------------------------------------------------------------


class Poller:
    """Polls due feeds; `run()` is the background loop, `wake()` makes it look again at once."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        config: Config,
        clock: Clock,
        *,
        concurrency: int = 8,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        pool: WorkPool | None = None,
        holder: str | None = None,
    ) -> None:
        self.storage = storage
        self.holder = holder or make_holder()
        """Whose name this process claims feeds in (its lease holder name, `bot.lease`)."""
        self.claim_seconds = config.scale.feed_claim_seconds
        self.metrics = metrics or Metrics()
        self.last_round_at: datetime | None = None
        """When `poll_due()` last finished a round (operator health)."""
        self.pool = pool  # where feeds are parsed; None: in threads (tools and tests)
        self.fetcher = fetcher
        self.config = config
        self.clock = clock
        self.settings = schedule.ScheduleSettings.from_config(config.feeds)
        self.on_new_articles: list[NewArticlesHook] = []
        self.on_held_back: list[HeldBackHook] = []
        """Called after a poll that held items back, once per guild (moderators are told)."""
        self.on_items_seen: list[Callable[[ItemsSeen], Awaitable[object]]] = []
        """Told every item of each successful poll (changed articles: `bot.delivery.changes`)."""
        self.on_failing: list[FailingHook] = []
        """Called when a feed crosses the failing threshold and its moderators were not told."""
        self.push: PushSource | None = None
        """WebSub push, when configured: told of each fetch, asked for the polling interval."""
        self._concurrency = max(1, concurrency)
        self._limit = asyncio.Semaphore(self._concurrency)
        self._rng = rng or random.Random()  # jitter, not security
        self._wake = WakeSignal()
        self.first_round_done = asyncio.Event()
        """Set once `run()` has finished its first round (tests start from a quiet poller)."""
        self._in_flight: set[int] = set()
        # Checks that changed only validators and schedule, not yet written (see _note_unchanged).
        self._unchanged: list[NotModifiedCheck] = []
        self._unchanged_since = 0.0
        self._flushing = asyncio.Lock()

    @property
    def _known_keys_limit(self) -> int:
        # Twice the items a feed may show: a feed's current window, with room for reordering.
        return 2 * max(1, self.config.feeds.max_items)

    def _jitter(self) -> float:
        return self._rng.uniform(-1.0, 1.0)

    def wake(self) -> None:
        """Make `run()` check for due feeds now (a feed was added, an operator asked)."""
        self._wake.set()

    async def poll_due(self) -> PollReport:
        """Poll every due feed, a bounded number at a time; one feed's failure stays its own.

        Due feeds are claimed in small batches as request slots free up, so processes sharing the
        database each poll their own (a feed has one claim holder at a time), and a claimed feed
        waits for its turn far less than `[scale] feed_claim_seconds`. Each poll's write clears
        its feed's claim; claims not used (shutdown, no request slot) are given back.
        """
        batch = max(MIN_CLAIM_BATCH, CLAIM_BATCH_PER_SLOT * self._concurrency)
        waiting: deque[Feed] = deque()
        running: dict[asyncio.Task[FeedPollOutcome], int] = {}
        outcomes: list[FeedPollOutcome] = []
        exhausted = False
        try:
            while True:
                if not exhausted and len(waiting) < self._concurrency:
                    # Rows as of the claim: a poll that overlaps (an operator's check) at worst
                    # sends an older validator, which costs a full read and announces nothing twice.
                    now = self.clock.now()
                    claimed = await self.storage.claim_due_feeds(
                        now,
                        holder=self.holder,
                        expires_at=now + timedelta(seconds=self.claim_seconds),
                        limit=batch,
                    )
                    exhausted = len(claimed) < batch
                    waiting.extend(feed for feed in claimed if feed.id not in self._in_flight)
                while waiting and len(running) < self._concurrency:
                    feed = waiting.popleft()
                    running[asyncio.create_task(self._poll_claimed(feed))] = feed.id
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    del running[task]
                    outcomes.append(task.result())
        finally:
            # Also when cancelled (shutdown): what is written need not be checked again, and
            # feeds claimed but not polled go back to the other processes at once.
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await self.flush_unchanged()
            # Only rows still claimed by us are cleared: a poll that committed cleared its own.
            await self._release([feed.id for feed in waiting] + list(running.values()))
        self.last_round_at = self.clock.now()
        return PollReport(outcomes)

    async def _poll_claimed(self, feed: Feed) -> FeedPollOutcome:
        async with self._limit:
            outcome = await self._poll_feed(feed.id, feed)
        if outcome.error_kind == kinds.BUSY:
            await self._release([feed.id])  # nothing was written: it stays due for anyone
        return outcome

    async def _release(self, feed_ids: list[int]) -> None:
        if not feed_ids:
            return
        try:
            await asyncio.shield(self.storage.release_claims(feed_ids, holder=self.holder))
        except Exception:
            # The claims then simply expire and the feeds are taken again after that.
            log.exception("Giving back %d feed claims failed", len(feed_ids))

    async def poll_feed(self, feed_id: int) -> FeedPollOutcome:
        """Check one feed now, whatever its schedule; never raises for the feed's own faults.

        Another process polling the feed right now (its claim) is left to it: the outcome then
        says `claimed` and nothing is written."""
        now = self.clock.now()
        claimed = await self.storage.claim_feed(
            feed_id,
            holder=self.holder,
            now=now,
            expires_at=now + timedelta(seconds=self.claim_seconds),
        )
        if not claimed:
            return FeedPollOutcome(feed_id, ok=False, error_kind=CLAIMED_KIND)
        try:
            return await self._poll_feed(feed_id)
        finally:
            await self.flush_unchanged()

    async def flush_unchanged(self) -> None:
        """Write the unchanged feeds' bookkeeping collected so far, in one transaction.

        Losing it (a crash before this) is harmless: those feeds stay due with their old
        validators and are simply checked again; nothing is announced twice or missed.
        """
        async with self._flushing:
            batch, self._unchanged = self._unchanged, []
            if not batch:
                return
            try:
                await self.storage.record_not_modified(batch, holder=self.holder)
            except Exception:
                # Not the fault of the feed whose poll filled the batch, nor a reason to stop
                # the round: those feeds stay due and are checked again, like after a crash.
                log.exception(
                    "Recording %d unchanged feeds failed; they are checked again", len(batch)
                )
                await self._release([check.feed_id for check in batch])

    async def _note_unchanged(self, check: NotModifiedCheck) -> None:
        # A 304 changes only validators and schedule: no transaction of its own, but a place in
        # the next batch, so a cycle of thousands of 304s costs a handful of commits.
        if not self._unchanged:
            self._unchanged_since = time.monotonic()
        self._unchanged.append(check)
        if (
            len(self._unchanged) >= NOT_MODIFIED_BATCH
            or time.monotonic() - self._unchanged_since >= NOT_MODIFIED_MAX_DELAY_SECONDS
        ):
            await self.flush_unchanged()

    async def _poll_feed(self, feed_id: int, feed: Feed | None = None) -> FeedPollOutcome:
        if feed is None:
            feed = await self.storage.feed(feed_id)
        if feed is None:
            raise NotFound(f"There is no feed number {feed_id}.")
        self._in_flight.add(feed_id)
        started = time.perf_counter()
        try:
            outcome = await self._poll(feed)
        except (FetchError, FeedError) as error:
            if error.kind == kinds.BUSY:
                # Our own request slots stayed full for the whole bounded wait: the site was never
                # asked, so this is no failure of the feed's. It stays due and is tried next round.
                log.info("Feed %s (%s) waits for a request slot: %s", feed.id, feed.url, error)
                outcome = FeedPollOutcome(feed.id, ok=False, error_kind=kinds.BUSY)
            else:
                outcome = await self._record_failure(feed, error.kind, str(error), error)
        except ClaimLost:
            outcome = self._claim_lost(feed)
        except Exception:
            log.exception("Polling feed %s (%s) failed unexpectedly", feed.id, feed.url)
            outcome = await self._record_failure(feed, INTERNAL_KIND, INTERNAL_MESSAGE, None)
        finally:
            self._in_flight.discard(feed_id)
        self.metrics.observe_poll(
            ok=outcome.ok,
            not_modified=outcome.not_modified,
            error_kind=outcome.error_kind,
            new=len(outcome.new_to_feed),
            seconds=time.perf_counter() - started,
            deferred=outcome.error_kind in (kinds.BUSY, CLAIM_LOST_KIND),
        )
        return outcome

    @staticmethod
    def _claim_lost(feed: Feed) -> FeedPollOutcome:
        # Our claim expired (a stalled process) and another process took the feed over: its
        # result stands, ours is dropped whole, so the feed is neither wound back nor announced
        # twice.
        log.warning(
            "Feed %s (%s): dropped a late poll result; another process polled it", feed.id, feed.url
        )
        return FeedPollOutcome(feed.id, ok=False, error_kind=CLAIM_LOST_KIND)

    async def _record_failure(
        self, feed: Feed, kind: str, message: str, error: Exception | None
    ) -> FeedPollOutcome:
        now = self.clock.now()
        failures = feed.consecutive_failures + 1
        retry_after = error.retry_after if isinstance(error, FetchError) else None
        next_check = schedule.next_check_after_failure(
            now,
            failures,
            schedule.feed_interval(feed.subscription_intervals, self.settings),
            self.settings,
            jitter=self._jitter(),
            retry_after=retry_after,
        )
        try:
            failures = await self.storage.record_poll_failure(
                feed.id,
                kind=kind,
                message=message,
                now=now,
                next_check_at=next_check,
                holder=self.holder,
            )
        except ClaimLost:
            return self._claim_lost(feed)
        log.info("Feed %s (%s) failed (%s): %s", feed.id, feed.url, kind, message)
        if schedule.is_failing(failures, self.settings) and not (feed.failing_notified):
            await run_hooks(self.on_failing, feed.id, what=f"on_failing for feed {feed.id}")
        return FeedPollOutcome(
            feed.id,
            ok=False,
            error_kind=kind,
            error_message=message,
            consecutive_failures=failures,
        )

    async def _poll(self, feed: Feed) -> FeedPollOutcome:
        now = self.clock.now()
        result = await self.fetcher.fetch(
            feed.url, kind="feed", etag=feed.etag, last_modified=feed.last_modified, now=now
        )
        interval = schedule.feed_interval(feed.subscription_intervals, self.settings)
        if self.push is not None:
            await self.push.feed_fetched(feed, result, now)
            interval = await self.push.polling_interval(feed.id, interval, now)
        next_check = schedule.next_check_after_success(
            now,
            interval,
            self.settings,
            jitter=self._jitter(),
            hint_seconds=result.hint_seconds,
        )
        if result.not_modified or result.body is None:
            await self._note_unchanged(
                NotModifiedCheck(
                    feed_id=feed.id,
                    etag=result.etag or feed.etag,
                    last_modified=result.last_modified or feed.last_modified,
                    checked_at=now,
                    next_check_at=next_check,
                )
            )
            return FeedPollOutcome(feed.id, ok=True, not_modified=True)

        seeding = feed.last_success_at is None
        readers = await self.storage.feed_readers(feed.id)
        # Items the feed already has are skipped before they are normalised, in the worker;
        # not when a subscription edits or reposts changed articles: `on_items_seen` must see
        # every item to notice one that changed.
        known_keys = (
            []
            if seeding or any(reader.tracks_changes for reader in readers)
            else await self.storage.recent_entry_keys(feed.id, limit=self._known_keys_limit)
        )
        read = await read_document(
            self.fetcher,
            result,
            now=now,
            max_items=self.config.feeds.max_items,
            pool=self.pool,
            priority="system",
            known=functools.partial(self.storage.known_entry_keys, feed.id),
            known_keys=known_keys,
            seeding=seeding,
            # A first read only records what exists: its backlog's pages are all it reads.
            page_reads=self.config.announcements.backlog_count
            if seeding
            else MAX_PAGE_READS_PER_POLL,
        )

        parsed = read.feed

        async def finish(tx: PollTransaction) -> None:
            # Items left for later must be read next time: no validators, no 304 hiding them.
            await tx.finish_success(
                etag=None if read.deferred else result.etag,
                last_modified=None if read.deferred else result.last_modified,
                next_check_at=next_check,
                title=parsed.title or None,
                site_url=parsed.site_url,
                icon_url=parsed.icon_url,
            )

        outcome = await self._ingest(feed, parsed, now, finish, readers=readers)
        if self.push is not None and outcome.new_to_feed and not outcome.seeded:
            await self.push.poll_found_new(
                feed.id, len(outcome.new_to_feed), since=feed.last_success_at, now=now
            )
        return outcome

    async def ingest_pushed(
        self, feed_id: int, body: bytes, *, url: str, headers: dict[str, str]
    ) -> FeedPollOutcome:
        """Content a WebSub hub pushed for a feed, through the same parse, dedupe and outbox as a
        poll's: an item seen by both is announced once. The feed's validators, schedule and
        health are a poll's business and stay as they are. Raises FeedError if unreadable."""
        feed = await self.storage.feed(feed_id)
        if feed is None:
            raise NotFound(f"There is no feed number {feed_id}.")
        now = self.clock.now()
        parsed = await parse_feed_off_loop(
            body,
            url=url,
            headers=headers,
            now=now,
            max_items=self.config.feeds.max_items,
            pool=self.pool,
            priority="system",
        )

        async def finish(tx: PollTransaction) -> None:
            return None

        return await self._ingest(feed, parsed, now, finish, claimed=False)

    async def _ingest(
        self,
        feed: Feed,
        parsed: ParsedFeed,
        now: datetime,
        finish: Callable[[PollTransaction], Awaitable[None]],
        *,
        claimed: bool = True,
        readers: list[FeedReader] | None = None,
    ) -> FeedPollOutcome:
        """Record a parsed document's items and plan their delivery, in one transaction that
        `finish` completes (a poll records its validators and next check there). `readers`:
        the feed's subscriptions as the poll read them before parsing (read here otherwise)."""
        subscriptions = await self._subscription_views(feed.id, readers)
        # Oldest first, so article ids grow with publication and ties keep feed order reversed.
        linked = [(item, article_of(item)) for item in reversed(parsed.items)]
        usable = [(item, article) for item, article in linked if article is not None]
        notes: list[HeldBack] = []
        # A poll's result is guarded by the feed's claim; pushed content has no claim and needs
        # none (it leaves the feed's row alone; entries and deliveries are unique).
        holder = self.holder if claimed else None
        async with self.storage.poll_transaction(feed.id, now=now, holder=holder) as tx:
            seeded = tx.first_poll
            ids = await tx.upsert_articles([article for _, article in usable])
            new_to_feed = await tx.insert_entries(
                [
                    NewEntry(item.key, article_id, item.published)
                    for (item, _), article_id in zip(usable, ids, strict=True)
                ]
            )
            # At most `archive_pages_per_poll` pages fetched per poll, its newest articles' (ids
            # grow with publication): the rest keep the feed's text. Decided here, in the poll's
            # transaction, as the archiver may run in another process.
            budget = self.config.limits.archive_pages_per_poll
            if len(tx.inserted_article_ids) > budget:
                await tx.skip_pages(sorted(tx.inserted_article_ids, reverse=True)[budget:])
            created = 0
            if new_to_feed and not seeded and subscriptions:
                items_by_id = {
                    article_id: item for (item, _), article_id in zip(usable, ids, strict=True)
                }
                # The feed lists newest first; the policy breaks date ties by that order.
                fresh = sorted(new_to_feed, key=lambda i: ids.index(i), reverse=True)
                articles = [announcement_article(i, items_by_id[i], parsed) for i in fresh]
                planned, notes = plan_outbox(
                    articles,
                    subscriptions,
                    now=now,
                    feed_title=parsed.title or feed.title,
                    settings=self.config.announcements,
                )
                by_row = {id(plan.row): plan for plan in planned}
                inserted = await tx.add_outbox([plan.row for plan in planned])
                for row, outbox_id in inserted:
                    payload = render_payload(by_row[id(row)], outbox_id)
                    if payload:
                        await tx.set_outbox_payload(outbox_id, payload)
                created = len(inserted)
            await finish(tx)
            inserted_articles = tuple(tx.inserted_article_ids)
        for note in notes:
            log.warning("Feed %s, subscription %s: %s", feed.id, note.subscription.id, note.note)
        if inserted_articles:
            event = NewArticlesEvent(feed.id, inserted_articles, seeded)
            await run_hooks(self.on_new_articles, event, what=f"on_new_articles for feed {feed.id}")
        for held in held_back_events(feed.id, notes):
            await run_hooks(self.on_held_back, held, what=f"on_held_back for feed {feed.id}")
        if self.on_items_seen and usable:
            seen = ItemsSeen(
                feed.id,
                tuple(
                    announcement_article(article_id, item, parsed)
                    for (item, _), article_id in zip(usable, ids, strict=True)
                ),
            )
            await run_hooks(self.on_items_seen, seen, what=f"on_items_seen for feed {feed.id}")
        return FeedPollOutcome(
            feed.id,
            ok=True,
            seeded=seeded,
            items=len(parsed.items) + parsed.known_items,
            new_articles=inserted_articles,
            new_to_feed=tuple(new_to_feed),
            outbox_rows=created,
        )

    async def _subscription_views(
        self, feed_id: int, readers: list[FeedReader] | None = None
    ) -> list[tuple[Subscription, SubscriptionView]]:
        # Paused ones too: a pause after a refusal keeps new articles waiting for the resume.
        if readers is None:
            readers = await self.storage.feed_readers(feed_id)
        with_rules = [r.subscription.id for r in readers if r.has_mention_rules]
        rules = await self.storage.mention_rules_of(with_rules) if with_rules else {}
        return [
            (
                reader.subscription,
                subscription_view(
                    reader.subscription,
                    timezone=reader.timezone,
                    mention_rules=rules.get(reader.subscription.id, ()),
                ),
            )
            for reader in readers
        ]

    async def take_back_dead_claims(self) -> None:
        """Clear the claims of processes on this machine that no longer run (this process's own
        earlier life, after a crash), so their feeds are polled now rather than after the claims'
        expiry. Claims of other machines' processes wait for their expiry."""
        for holder in await self.storage.claim_holders():
            if holder != self.holder and holder_gone(holder, self.holder):
                count = await self.storage.release_holder_claims(holder)
                log.info("Took back %d feed claims of %s, which no longer runs", count, holder)

    async def run(self) -> None:
        """Poll due feeds, then sleep until the next is due or `wake()`; runs until cancelled."""
        try:
            await self.take_back_dead_claims()
        except Exception:
            log.exception("Could not look for dead processes' feed claims; they expire instead")
        while True:
            self._wake.clear()
            try:
                await self.poll_due()
            except Exception:
                log.exception("A polling round failed; the next round retries")
            self.first_round_done.set()
            await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        await self._wake.sleep(await self.seconds_until_due())

    async def seconds_until_due(self) -> float:
        """How long `run()` sleeps after a round, unless woken: until a feed this process may
        claim falls due. Due feeds another process holds count from their claim's expiry, not
        at once (looking every 0.5 s would only find them still held); when that process polls
        them or gives them back, the shared-database wake (`[scale] check_seconds`) looks."""
        now = self.clock.now()
        next_due = await self.storage.next_claimable_at(now, holder=self.holder)
        if next_due is None:
            return IDLE_WAKE_SECONDS
        delay = (next_due - now).total_seconds()
        return min(max(delay, MIN_LOOP_PAUSE_SECONDS), IDLE_WAKE_SECONDS)
