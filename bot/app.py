"""The one wiring point: builds every core component from the config, and closes them.

Discord-free: what talks to Discord comes once through `App.attach_discord` (README, Architecture).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiohttp.abc import AbstractResolver

from bot.articles.llm import LlmBackend
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.delivery.changes import ChangeTracker
from bot.delivery.notices import ModeratorNotice
from bot.delivery.service import DeliveryService
from bot.delivery.worker import DeliveryWorker, Notifier, Sender
from bot.fetch import Fetcher, make_session
from bot.ingest.archiver import Archiver
from bot.ingest.poller import IDLE_WAKE_SECONDS, NewArticlesEvent, NewArticlesHook, Poller
from bot.ingest.subscriber import WebSubSubscriber
from bot.ingest.websub import check_public_url
from bot.lease import LeaseKeeper
from bot.metrics import EVENT_LOOP_STALLS, POOL_JOBS_KILLED, Metrics
from bot.services.admin import ChangeLog, FeedAdmin
from bot.services.alerts import AlertService
from bot.services.builder import MessageBuilder
from bot.services.diagnose import Diagnoser
from bot.services.portability import Portability
from bot.services.quotas import MemberQuotas
from bot.services.reader import ReaderService
from bot.shards import ShardSet, per_process_rate
from bot.storage import Storage
from bot.tasks import TaskOwner, run_hooks
from bot.watchdog import LoopWatchdog
from bot.web import Health, OpsServer, parse_listen
from bot.workpool import WorkPool

log = logging.getLogger(__name__)


@dataclass
class App:
    """Every long-lived resource, created once and injected where needed."""

    config: Config
    clock: Clock
    storage: Storage
    http: aiohttp.ClientSession
    fetcher: Fetcher
    poller: Poller
    archiver: Archiver
    reader: ReaderService  # member commands: /summary, /related, /search, /latest
    alerts: AlertService  # member keyword alerts
    delivery: DeliveryService  # announcements: backlog seeding; wakes the delivery worker
    admin: FeedAdmin  # moderator commands: /feeds and /settings share this one
    diagnoser: Diagnoser  # /feeds why
    portability: Portability  # /feeds export and import
    builder: MessageBuilder  # /feeds message: the message builder's drafts
    pool: WorkPool  # worker processes for untrusted CPU work (parsing, extraction, summaries)
    watchdog: LoopWatchdog  # counts event-loop stalls (shown in /feeds status)
    llm: LlmBackend | None = None  # optional summaries; its own session, only to its server
    tasks: TaskOwner = field(default_factory=TaskOwner)
    metrics: Metrics = field(default_factory=Metrics)  # /metrics; counted by poller and worker
    health: Health = field(default_factory=Health)  # the Discord layer reports the gateway here
    ops: OpsServer | None = None  # the operator endpoint, when [http] listen is set
    websub: WebSubSubscriber | None = None  # WebSub push, when [websub] public_url is set
    poll_lease: LeaseKeeper | None = None  # held while this process archives (start_background)
    on_handed_articles: list[NewArticlesHook] = field(default_factory=list)
    """Alert senders: new articles a process without Discord polled and handed over."""
    _worker: DeliveryWorker | None = field(default=None, init=False, repr=False)  # attach_discord
    _hands_over: bool = field(default=False, init=False, repr=False)  # hand_over_to_bot_processes

    def attach_discord(
        self,
        *,
        sender: Sender,
        notifier: Notifier,
        change_log: ChangeLog,
        shards: ShardSet | None = None,
    ) -> None:
        """Connect the Discord-facing pieces, once, after login: the delivery worker is built
        around `sender` and `notifier`, and every configuration change goes to `change_log`.

        With `shards`, the worker delivers only those shards' servers' rows; every bot process
        sends at most its share of the global budget (`[scale] bot_processes`)."""
        if self._worker is not None:
            raise RuntimeError("Discord is already attached to this App")
        announcements = self.config.announcements
        share = per_process_rate(
            announcements.global_rate_per_second, self.config.scale.bot_processes
        )
        worker_config = dataclasses.replace(
            self.config,
            announcements=dataclasses.replace(announcements, global_rate_per_second=share),
        )
        self._worker = DeliveryWorker(
            self.storage,
            sender,
            notifier,
            worker_config,
            self.clock,
            notice_source=self.delivery,
            metrics=self.metrics,
            shards=shards,
        )
        self.delivery.on_work(self._worker.wake)
        self.admin.on_change.append(change_log.post_change)

    @property
    def worker(self) -> DeliveryWorker:
        """The delivery worker (exists once `attach_discord` was called)."""
        if self._worker is None:
            raise RuntimeError("attach_discord() must be called before the worker is used")
        return self._worker

    def start_background(self, *, poll: bool = True, shared: bool = False) -> None:
        """Start polling and archiving; `close()` stops them.

        Every polling process polls its share of the due feeds (per-feed claims, in the name of
        its lease holder); archiving and WebSub renewals run under the poll lease, so one process
        does them however many run. `poll=False`: this process leaves polling to
        `paperboy worker`. `shared`: other processes use the database too, so look for the work
        they commit every `[scale] check_seconds` (feeds to poll, announcements to deliver)."""
        self.watchdog.start()
        if poll:
            lease = LeaseKeeper(
                self.storage,
                self.clock,
                seconds=self.config.scale.poll_lease_seconds,
                holder=self.poller.holder,
            )
            self.poll_lease = lease
            self.tasks.spawn(self.poller.run(), name="poller")
            self.tasks.spawn(lease.run(self._leased_work), name="poll lease")
        else:
            self.health.polls = lambda: False
        if shared:
            self.tasks.spawn(self._look_for_others_work(), name="shared work")

    async def _leased_work(self) -> None:
        """Archive and keep WebSub subscriptions until cancelled (while the poll lease is held:
        one process fetches the pages and subscribes to hubs, however many poll)."""
        work = [self.archiver.run()]
        if self.websub is not None:
            work.append(self.websub.run())
        await asyncio.gather(*work)

    async def _look_for_others_work(self) -> None:
        """Wake the poller and the delivery worker now and then: rows committed by another
        process (a feed added through a shard process, announcements a worker polled) carry no
        in-process wake. A wake when nothing waits costs one query each. With Discord here,
        also take what a process without it handed over (`hand_over_to_bot_processes`)."""
        while True:
            await asyncio.sleep(self.config.scale.check_seconds)
            self.poller.wake()
            self.delivery.wake()
            if self._worker is not None:
                try:
                    await self.take_handoffs()
                except Exception:
                    log.exception("Taking the work other processes handed over failed")

    async def take_handoffs(self) -> None:
        """Queue the notices handed over for this process's servers, and give the new articles
        handed over to the alert senders (each hand-off is taken by one process only)."""
        shards = self.worker.shards
        handed = await self.storage.take_handed_notices(shards=shards)
        self.delivery.queue_notices([ModeratorNotice(guild, text) for guild, text in handed])
        for feed_id, article_ids in await self.storage.take_handed_alerts():
            event = NewArticlesEvent(feed_id, article_ids, seeded=False)
            await run_hooks(self.on_handed_articles, event, what=f"handed alerts, feed {feed_id}")

    def hand_over_to_bot_processes(self) -> None:
        """Without Discord here (`paperboy worker`): leave moderators' notices and new articles
        for keyword alerts in the database, for the bot processes to post and send."""
        self._hands_over = True
        self.poller.on_new_articles.append(self._hand_over_alerts)
        self.tasks.spawn(self._hand_over_notices(), name="hand over notices")

    async def _hand_over_alerts(self, event: NewArticlesEvent) -> None:
        # A feed's first poll only seeds: nobody is alerted of it. No alerts anywhere: no row.
        if event.seeded or not event.article_ids or not await self.storage.has_alerts():
            return
        dropped = await self.storage.hand_over_alerts(
            event.feed_id, event.article_ids, now=self.clock.now()
        )
        _warn_untaken(dropped, "new articles for keyword alerts")

    async def _hand_over_notices(self) -> None:
        while True:
            await asyncio.sleep(self.config.scale.check_seconds)
            await self._hand_over_waiting_notices()

    async def _hand_over_waiting_notices(self) -> None:
        taken = self.delivery.take_notices()
        if not taken:
            return
        try:
            dropped = await self.storage.hand_over_notices(
                [(notice.guild_id, notice.text) for notice in taken], now=self.clock.now()
            )
            _warn_untaken(dropped, "moderators' notices")
        except Exception:
            # Told at most once: a notice that cannot be handed over is logged instead.
            log.exception("Could not hand %d moderators' notices over", len(taken))
            for notice in taken:
                log.warning("Not told to guild %s: %s", notice.guild_id, notice.text)

    async def close(self) -> None:
        """Stop background work, then release the HTTP session and the database."""
        await self.tasks.close()
        if self._hands_over:
            await self._hand_over_waiting_notices()  # a clean stop hands over what waits too
        if self.ops is not None:
            await self.ops.close()
        self.watchdog.stop()
        await self.pool.close()
        await self.http.close()
        if self.llm is not None:
            await self.llm.close()
        await self.storage.close()


def _warn_untaken(dropped: int, what: str) -> None:
    if dropped:
        log.warning(
            "Dropped %d hand-offs of %s that no bot process took within a day: is a "
            "`paperboy run` process using this database?",
            dropped,
            what,
        )


async def open_app(
    config: Config,
    *,
    clock: Clock | None = None,
    resolver: AbstractResolver | None = None,
    tls: ssl.SSLContext | None = None,
) -> App:
    """Build everything; if anything fails half-way, close what was opened.

    `resolver` and `tls` go to the fetching session (tests map real host names to stand-ins).
    """
    clock = clock or SystemClock()
    listen = parse_listen(config.http)  # a public address is refused before anything opens
    check_public_url(config.websub.public_url, listening=listen is not None)
    opened = AsyncExitStack()  # what to close, newest first, if wiring fails half-way
    try:
        storage = await Storage.open(
            config.database.target(), busy_timeout_ms=config.database.busy_timeout_ms
        )
        opened.push_async_callback(storage.close)
        http = make_session(config.fetch, config.user_agent(), resolver=resolver, tls=tls)
        opened.push_async_callback(http.close)
        llm = LlmBackend.open(config.summaries, config.user_agent())
        if llm is not None:
            opened.push_async_callback(llm.close)
        app = _build(config, clock, storage, http, llm, with_ops=listen is not None)
        if app.ops is not None and listen is not None:
            await app.ops.start(*listen)
    except BaseException:
        await opened.aclose()
        raise
    return app  # from now on `App.close()` releases what was opened


def _build(
    config: Config,
    clock: Clock,
    storage: Storage,
    http: aiohttp.ClientSession,
    llm: LlmBackend | None,
    *,
    with_ops: bool,
) -> App:
    """Everything that opens nothing: the services and their collaborators, wired together."""
    fetcher = Fetcher(http, config.fetch, limits=config.limits)
    metrics = Metrics()
    metrics.outbox_source(storage.outbox_depth)
    # Workers start on first use, so building the pool costs nothing until a feed arrives.
    pool = WorkPool(config.workers)
    watchdog = LoopWatchdog(config.workers.loop_stall_ms / 1000)
    metrics.bind_counter(
        EVENT_LOOP_STALLS,
        "Times the event loop was blocked longer than [workers] loop_stall_ms.",
        lambda: watchdog.stalls,
    )
    metrics.bind_counter(
        POOL_JOBS_KILLED,
        "Worker-pool jobs stopped at their deadline or memory cap (their worker killed).",
        lambda: pool.killed,
    )
    # As many feeds in flight as the HTTP session allows: polling waits on the network, not CPU.
    poller = Poller(
        storage,
        fetcher,
        config,
        clock,
        concurrency=config.fetch.max_concurrency,
        metrics=metrics,
        pool=pool,
    )
    archiver = Archiver(storage, fetcher, config, clock, pool=pool)

    async def wake_archiver(event: NewArticlesEvent) -> None:
        archiver.wake()

    poller.on_new_articles.append(wake_archiver)
    delivery = DeliveryService(storage, config, clock)

    async def wake_delivery(event: NewArticlesEvent) -> None:
        delivery.wake()

    poller.on_new_articles.append(wake_delivery)
    poller.on_held_back.append(delivery.report_held_back)  # moderators hear of held-back items
    # Articles that change: edits queued for subscriptions that ask for them.
    poller.on_items_seen.append(ChangeTracker(storage, clock, wake=delivery.wake).on_items_seen)
    poller.on_failing.append(delivery.report_failing_feed)  # ... and of a feed failing for long
    admin = FeedAdmin(
        storage,
        fetcher,
        config,
        clock,
        wake_poller=poller.wake,
        poll_feed=poller.poll_feed,
        seed_subscription=delivery.seed_new_subscription,
        wake_delivery=delivery.wake,
        pool=pool,
    )
    websub = None
    if config.websub.public_url.strip():
        websub = WebSubSubscriber(storage, fetcher, poller, config, clock, metrics=metrics)
        poller.push = websub  # polls record hubs and slow down while push works
    health = Health()
    ops = None
    if with_ops:
        ops = OpsServer(
            storage,
            metrics,
            health,
            clock,
            last_poll_round=lambda: poller.last_round_at,
            # A round starts at least every IDLE_WAKE_SECONDS; one poll may take a request's time.
            stale_after=timedelta(
                seconds=2 * IDLE_WAKE_SECONDS + config.fetch.total_timeout_seconds
            ),
            started_at=clock.now(),
            websub=websub,
        )
    return App(
        config=config,
        clock=clock,
        storage=storage,
        http=http,
        fetcher=fetcher,
        poller=poller,
        archiver=archiver,
        reader=ReaderService(
            storage,
            fetcher,
            clock,
            config.summaries,
            llm,
            quotas=MemberQuotas(config.limits),
            pool=pool,
        ),
        alerts=AlertService(storage, clock),
        delivery=delivery,
        admin=admin,
        diagnoser=Diagnoser(storage, config, clock),
        portability=Portability(storage, config, clock, admin),
        builder=MessageBuilder(admin),
        pool=pool,
        watchdog=watchdog,
        llm=llm,
        metrics=metrics,
        health=health,
        ops=ops,
        websub=websub,
    )
