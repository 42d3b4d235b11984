"""The delivery worker: sends committed outbox rows to Discord exactly once each, in order.

Protocol per row: commit a claim, ask the `Sender`, commit `sent` with the message id. A row found
`claimed` at start-up may or may not have been posted before a crash, so `reconcile()` asks the
sender to look for its marker (or nonce) in the channel first: found -> sent, else pending again.
Transient failures (429, 5xx, network) are retried later with backoff; permanent refusals
(400/403/404) are never retried in a loop: the subscription is paused and moderators told once.
A row whose stored plan cannot be read is planned again from the archive, or retried later;
it is never failed for good (its article was meant to be announced).

Pacing (`bot.delivery.pacing`): each send is its own task, at most one in flight per channel, a
channel's next post no sooner than the per-channel interval after its last, and no more requests
in any second than the global budget; a channel that is slow (Discord holding its post) waits
alone instead of holding back the others.

Discord-free: the cog supplies a `Sender` and a `Notifier` built on discord.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.announce.plan import archived_announcement, subscription_view
from bot.announce.render import MessagePlan, render_plan
from bot.clock import Clock
from bot.config import Config
from bot.delivery import notices
from bot.delivery.pacing import Candidate, WindowBudget, plan_round, retry_delay
from bot.errors import DeliveryError, InvalidInput
from bot.metrics import Metrics
from bot.models import WHOLE_ARCHIVE
from bot.shards import ShardSet
from bot.storage import Delivery, Storage
from bot.tasks import WakeSignal

log = logging.getLogger(__name__)

IDLE_WAKE_SECONDS = 30.0
"""With nothing due, the worker still looks again this often (work may come from elsewhere)."""
MAX_PARALLEL_SENDS = 64
"""Sends in flight at once. Generous on purpose: after a channel's fifth post in Discord's 5-second
window, discord.py holds that send until the window resets (up to a second, posting nothing), and a
low cap would let such idle waits hold back the other channels."""
# Statuses that mean "this channel or subscription is unusable until a moderator acts".
CHANNEL_REFUSALS = frozenset({403, 404})


@dataclass(frozen=True)
class SentMessage:
    """Where Discord put an announcement: the message, and the thread it opened (forum/auto)."""

    message_id: int
    thread_id: int | None = None


@dataclass(frozen=True)
class Outgoing:
    """One announcement to send: the stored plan plus what is decided at send time."""

    outbox_id: int
    guild_id: int
    channel_id: int
    format: str
    plan: MessagePlan
    nonce: str
    categories: tuple[str, ...] = ()
    fallback_tag_id: int | None = None


class Sender(Protocol):
    """Posts announcements to Discord; raises `DeliveryError(message, permanent=, status=)`."""

    async def send(self, outgoing: Outgoing) -> SentMessage:
        """Post one announcement and return where it went."""
        ...

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        """Look for this announcement's marker/nonce among the channel's recent posts."""
        ...


class Notifier(Protocol):
    """Tells a guild's moderators something (log channel, else system channel, else nobody)."""

    async def tell_moderators(self, guild_id: int, text: str) -> None:
        """Deliver `text` to the guild's moderators, best effort."""
        ...


class NoticeSource(Protocol):
    """Where notices for moderators wait (the `DeliveryService`)."""

    def take_notices(self) -> list[notices.ModeratorNotice]:
        """The notices to post now; each is handed over once."""
        ...


class RetryLater(DeliveryError):
    """A transient refusal (429, 5xx) that says how long Discord asked us to wait."""

    def __init__(self, message: str, *, status: int | None, retry_after: float | None) -> None:
        super().__init__(message, permanent=False, status=status)
        self.retry_after = retry_after


def delivery_nonce(outbox_id: int) -> str:
    """The nonce of a text-channel post: derived from the row id, at most 25 characters."""
    return f"pb{outbox_id}"


class Outcome(StrEnum):
    """How one delivery attempt ended (also the metrics label)."""

    SENT = "sent"
    RETRY = "retry"  # rescheduled with backoff
    REFUSED = "refused"  # Discord refused for good
    SKIPPED = "skipped"  # no longer claimable: another round has it


class DeliveryWorker:
    """Delivers outbox rows; `run()` is the background loop, `wake()` says new work is committed."""

    def __init__(
        self,
        storage: Storage,
        sender: Sender,
        notifier: Notifier,
        config: Config,
        clock: Clock,
        *,
        notice_source: NoticeSource | None = None,
        metrics: Metrics | None = None,
        shards: ShardSet | None = None,
    ) -> None:
        self.storage = storage
        self.shards = shards
        """A sharded process delivers (and reconciles) only its own servers' rows: a channel's
        rows are only ever claimed by the one process serving its server, so stay in order."""
        self.metrics = metrics or Metrics()
        self.notice_source = notice_source
        self.sender = sender
        self.notifier = notifier
        self.settings = config.announcements
        self.clock = clock
        self._wake = WakeSignal()
        self._budget = WindowBudget(self.settings.global_rate_per_second)
        self._last_sent: dict[int, datetime] | None = None
        self._in_flight: dict[int, tuple[int, asyncio.Task[Outcome]]] = {}
        """Sends under way: outbox id -> (channel id, task)."""
        self._reserved: dict[int, datetime] = {}
        """When each send under way took its share of the global budget (moved to its start)."""
        self._needs_reconcile = True
        self._stopping = False
        self._parallel = asyncio.Semaphore(MAX_PARALLEL_SENDS)
        self.round_finished = asyncio.Event()
        """Set by `run()` whenever it has handled everything due and nothing is in flight;
        observers clear it, `wake()` the worker and wait (tests, diagnostics)."""

    def wake(self) -> None:
        """New work was committed (a poll, a new subscription, a resume): look now."""
        self._wake.set()

    def stop(self) -> None:
        """Ask `run()` to start no more sends and return once those in flight have settled."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Reconcile, then deliver continuously: each channel's next post starts as soon as its
        pace and the global budget allow, without waiting for slower channels.

        Returns once `stop()` was called and the sends in flight have settled; if cancelled,
        sends in flight are cancelled too (their rows stay claimed and are reconciled later).
        """
        try:
            while not self._stopping:
                self._wake.clear()
                delay = IDLE_WAKE_SECONDS
                try:
                    await self.tell_notices()
                    next_due = await self._dispatch()
                    if next_due is not None:
                        delay = (next_due - self.clock.now()).total_seconds()
                except Exception:
                    log.exception("A delivery pass failed; trying again shortly")
                    delay = 5.0
                # A wake during this pass may have brought work the pass did not see.
                if not self._in_flight and not self._wake.is_set():
                    self.round_finished.set()
                if self._stopping:
                    break
                delay = min(max(delay, 0.005), IDLE_WAKE_SECONDS)
                await self._wake.sleep(delay)
            await self._settle_in_flight()
            self.round_finished.set()
        finally:
            abandoned = [task for _, task in self._in_flight.values()]
            for task in abandoned:
                task.cancel()
            if abandoned:
                await asyncio.wait(abandoned)

    async def _settle_in_flight(self) -> None:
        """Wait for every send under way to finish (`_send_ended` logs any failure)."""
        while self._in_flight:
            await asyncio.wait([task for _, task in self._in_flight.values()])

    async def _dispatch(self) -> datetime | None:
        """One pass of `run()`: reconcile if needed, start the sends due now; returns when to look
        again (a finishing send also wakes the worker)."""
        if self._needs_reconcile:
            if self._in_flight:
                # Our own sends hold claims too: reconcile once they have settled.
                return None
            await self.reconcile()
        _, next_due = await self._start_due()
        return next_due

    async def tell_notices(self) -> int:
        """Post the waiting notices for moderators (best effort); returns how many were told."""
        if self.notice_source is None:
            return 0
        told = 0
        for notice in self.notice_source.take_notices():
            try:
                await self.notifier.tell_moderators(notice.guild_id, notice.text)
                told += 1
            except Exception:
                log.exception("Could not tell guild %s's moderators", notice.guild_id)
        return told

    # -- reconciliation -------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Settle rows left claimed by a crash; returns how many were settled.

        Found in the channel -> sent. Not found -> pending again. A lookup that fails
        transiently leaves the row claimed, and reconciliation runs again next round.
        """
        settled = 0
        retry_later = False
        for delivery in await self.storage.claimed_deliveries(shards=self.shards):
            outgoing = await self._prepare(delivery)
            if outgoing is None:
                settled += 1
                continue
            try:
                found = await self.sender.find_existing(outgoing)
            except DeliveryError as error:
                if error.permanent:
                    await self._refused(delivery, error)
                    settled += 1
                else:
                    log.info("Reconciling delivery %s must wait: %s", delivery.id, error)
                    retry_later = True
                continue
            if found is not None:
                await self.storage.mark_sent(
                    delivery.id,
                    message_id=found.message_id,
                    thread_id=found.thread_id,
                    now=self.clock.now(),
                )
                log.info("Delivery %s was already posted (message %s)", delivery.id, found)
            else:
                await self.storage.release_claim(delivery.id)
            settled += 1
        self._needs_reconcile = retry_later
        return settled

    # -- delivering -----------------------------------------------------------------------------

    async def _start_due(self) -> tuple[list[asyncio.Task[Outcome]], datetime | None]:
        """Start a send for every queue head due now; returns the sends and when to look again.

        A channel with a send in flight waits for it (its end wakes the worker), so posts in one
        channel never overlap and a subscription's rows go out in order.
        """
        if self._last_sent is None:
            self._last_sent = await self.storage.last_sent_by_channel()
        # Taken before reading the queue: a send that ends meanwhile may have settled a head
        # that the read still shows as pending.
        in_flight = set(self._in_flight)
        busy_channels = {channel for channel, _ in self._in_flight.values()}
        heads = await self.storage.next_deliveries(shards=self.shards)
        now = self.clock.now()
        pending = {d.id: d for d in heads if d.state == "pending" and d.id not in in_flight}
        plan = plan_round(
            [Candidate(d.id, d.channel_id, d.not_before) for d in pending.values()],
            last_sent=self._last_sent,
            busy_channels=busy_channels,
            now=now,
            per_channel_interval=self.settings.per_channel_interval_seconds,
            budget=self._budget.available(now),
        )
        self._budget.spend(len(plan.send_now), now)
        self._reserved.update(dict.fromkeys(plan.send_now, now))
        next_due = plan.next_due
        if next_due == now:  # something was due but the global budget is spent
            next_due = self._budget.next_token_at(now)
        return [self._spawn(pending[outbox_id]) for outbox_id in plan.send_now], next_due

    def _spawn(self, delivery: Delivery) -> asyncio.Task[Outcome]:
        task = asyncio.create_task(self._deliver_bounded(delivery), name=f"delivery {delivery.id}")
        self._in_flight[delivery.id] = (delivery.channel_id, task)
        task.add_done_callback(self._send_ended)
        return task

    def _send_ended(self, task: asyncio.Task[Outcome]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("A delivery failed; reconciling before the next", exc_info=error)
        self._wake.set()  # its channel may be free, or its queue has a next row

    async def _deliver_bounded(self, delivery: Delivery) -> Outcome:
        try:
            async with self._parallel:
                outcome = await self.deliver(delivery)
            self.metrics.observe_delivery(outcome)
            return outcome
        except Exception:
            # The row may have been posted but not recorded (say, the database was locked
            # just then): the next round reconciles first, finding the post, not repeating it.
            self._needs_reconcile = True
            raise
        finally:
            self._in_flight.pop(delivery.id, None)
            self._reserved.pop(delivery.id, None)

    async def deliver(self, delivery: Delivery) -> Outcome:
        """Claim, send and settle one row; returns how it ended."""
        outgoing = await self._prepare(delivery)
        if outgoing is None:
            return Outcome.RETRY  # its plan could not be read nor made again; rescheduled
        claimed_at = self.clock.now()
        if not await self.storage.claim_delivery(delivery.id, now=claimed_at):
            return Outcome.SKIPPED
        self._request_starts(delivery.id)
        try:
            found = None
            if delivery.attempts > 0:
                # Tried before: a timeout or 5xx may have hidden a post that did go out.
                found = await self.sender.find_existing(outgoing)
            sent = found or await self.sender.send(outgoing)
        except DeliveryError as error:
            if error.permanent:
                await self._refused(delivery, error)
                return Outcome.REFUSED
            retry_after = error.retry_after if isinstance(error, RetryLater) else None
            await self._retry(delivery, str(error), retry_after)
            return Outcome.RETRY
        except Exception as error:  # not cancellation: that leaves the row claimed for reconcile
            # An unexpected failure (network, a bug): treat as transient, never lose the row.
            log.exception("Delivery %s failed unexpectedly", delivery.id)
            await self._retry(delivery, f"unexpected error: {type(error).__name__}", None)
            return Outcome.RETRY
        now = self.clock.now()
        await self.storage.mark_sent(
            delivery.id, message_id=sent.message_id, thread_id=sent.thread_id, now=now
        )
        assert self._last_sent is not None
        # The channel's pace counts from when the post left, as Discord's bucket does; counting
        # from the answer would add the round trip to every gap.
        self._last_sent[delivery.channel_id] = claimed_at
        return Outcome.SENT

    def _request_starts(self, outbox_id: int) -> None:
        """The budget counts this send from now, when its request leaves, not from its plan."""
        reserved = self._reserved.pop(outbox_id, None)
        if reserved is not None:
            self._budget.postpone(reserved, self.clock.now())

    async def _prepare(self, delivery: Delivery) -> Outgoing | None:
        """The row's outgoing message, or None when it must wait (its plan could not be read
        nor made again: it is rescheduled, never failed, as its article is still due)."""
        try:
            plan = MessagePlan.from_json(delivery.payload)
        except InvalidInput as error:
            replanned = await self._plan_again(delivery, str(error))
            if replanned is None:
                return None
            plan = replanned
        return Outgoing(
            outbox_id=delivery.id,
            guild_id=delivery.guild_id,
            channel_id=delivery.channel_id,
            format=delivery.format,
            plan=plan,
            nonce=delivery_nonce(delivery.id),
            categories=delivery.categories,
            fallback_tag_id=delivery.fallback_tag_id,
        )

    async def _plan_again(self, delivery: Delivery, problem: str) -> MessagePlan | None:
        """Render an unreadable row's plan again from the archive and store it; if that is not
        possible now, reschedule the row with backoff and return None."""
        log.warning(
            "Delivery %s has no usable message plan (%s); planning it again", delivery.id, problem
        )
        try:
            plan = await self._render_from_archive(delivery)
        except Exception:
            log.exception("Delivery %s could not be planned again", delivery.id)
            plan = None
        if plan is None or not await self.storage.replace_plan(delivery.id, plan.to_json()):
            attempts = delivery.attempts + 1
            not_before = self.clock.now() + timedelta(seconds=retry_delay(attempts))
            reason = f"unreadable message plan: {problem}"
            await self.storage.reschedule_delivery(
                delivery.id, not_before=not_before, reason=reason, count_attempt=True
            )
            return None
        return plan

    async def _render_from_archive(self, delivery: Delivery) -> MessagePlan | None:
        """The plan the poller would have stored for this row, from what is archived now."""
        subscription = await self.storage.subscription(delivery.subscription_id)
        if subscription is None:
            return None
        guild = await self.storage.guild_settings(subscription.guild_id)
        archived = await self.storage.archived_articles(WHOLE_ARCHIVE, [delivery.article_id])
        if delivery.article_id not in archived:
            return None
        feed = await self.storage.feed(subscription.feed_id)
        article = archived_announcement(archived[delivery.article_id], feed)
        rules = await self.storage.mention_rules(subscription.id)
        view = subscription_view(subscription, timezone=guild.timezone, mention_rules=rules)
        return render_plan(article, view, outbox_id=delivery.id)

    async def _retry(self, delivery: Delivery, reason: str, retry_after: float | None) -> None:
        attempts = delivery.attempts + 1  # the claim counted this attempt
        delay = retry_delay(attempts, retry_after)
        not_before = self.clock.now() + timedelta(seconds=delay)
        log.info("Delivery %s failed (%s); retrying in %.0f s", delivery.id, reason, delay)
        await self.storage.reschedule_delivery(delivery.id, not_before=not_before, reason=reason)

    async def _refused(self, delivery: Delivery, error: DeliveryError) -> None:
        """Discord refused for good: pause (never a retry loop) and tell moderators once."""
        channel_wide = error.status in CHANNEL_REFUSALS
        # A missing channel or permission stops every subscription posting there, not just this.
        if channel_wide:
            subscription_ids = await self.storage.channel_subscription_ids(delivery.channel_id)
            if delivery.subscription_id not in subscription_ids:
                subscription_ids.append(delivery.subscription_id)
        else:
            subscription_ids = [delivery.subscription_id]
        reason = notices.pause_reason(error)
        paused = await self.storage.pause_for_refusal(
            delivery.id, subscription_ids, reason=reason, row_failed=not channel_wide
        )
        log.warning("Delivery %s refused (%s): paused subscriptions %s", delivery.id, error, paused)
        if paused:
            text = notices.paused_notice(delivery.channel_id, paused, reason)
            try:
                await self.notifier.tell_moderators(delivery.guild_id, text)
            except Exception:
                log.exception("Could not tell guild %s's moderators", delivery.guild_id)
