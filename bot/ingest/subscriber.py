"""The WebSub subscriber: subscribes at the hubs feeds advertise, keeps leases up, takes pushes.

Decisions are `bot.ingest.websub`'s pure functions; this service does the I/O around them:
hub requests through the guarded session, the hub's verification and push calls (routed here by
`bot.web`), and the background loop that renews and falls back. Pushed documents go through
`Poller.ingest_pushed`, the poll's own parse, dedupe and outbox path.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter

from bot.clock import Clock
from bot.config import Config
from bot.errors import FeedError, FetchError, NotFound
from bot.feeds.hubs import find_hub_links
from bot.fetch import Fetcher, FetchResult
from bot.ingest.poller import Poller
from bot.ingest.websub import (
    SignatureCheck,
    Step,
    VerificationAnswer,
    WebSubSettings,
    answer_verification,
    check_signature,
    decide,
    polling_interval,
    push_works,
    retry_delay,
)
from bot.metrics import Metrics
from bot.models import Feed
from bot.storage import Storage, WebSubSubscription
from bot.tasks import WakeSignal

log = logging.getLogger(__name__)

IDLE_WAKE_SECONDS = 300.0
"""The loop looks at every subscription at least this often (a subscription added or removed
is noticed within this time; a hub found by a poll wakes it at once)."""
HUB_REQUESTS_AT_ONCE = 8
PUSHES_AT_ONCE = 4
"""Pushes processed at the same time; more are answered 503 and the hub retries."""


def _push_worked_at(sub: WebSubSubscription, moment: datetime | None) -> bool:
    """Whether the current lease had already started at `moment`."""
    if moment is None or sub.lease_expires_at is None or sub.lease_seconds is None:
        return False
    return sub.lease_expires_at - timedelta(seconds=sub.lease_seconds) <= moment


@dataclass(frozen=True)
class PushAnswer:
    """The HTTP answer to a push: 202 accepted, 403 bad signature, 404 unknown, 413, 503."""

    status: int
    text: str


class WebSubSubscriber:
    """Subscribes, renews, unsubscribes and falls back; `run()` is its background loop."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        poller: Poller,
        config: Config,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.storage = storage
        self.fetcher = fetcher
        self.poller = poller
        self.clock = clock
        self.settings = WebSubSettings.from_config(config.websub)
        self.max_body_bytes = config.fetch.max_feed_bytes
        self.read_timeout_seconds = config.fetch.total_timeout_seconds  # a push's body, as a fetch
        self.metrics = metrics or Metrics()
        registry = self.metrics.registry
        self.pushes = Counter(
            "paperboy_websub_pushes",
            "WebSub pushes received, by result (accepted, missing, algorithm, malformed, "
            "mismatch, too_large, unknown, busy, unreadable).",
            ["result"],
            registry=registry,
        )
        self.verifications = Counter(
            "paperboy_websub_verifications",
            "Hub verification calls, by answer (subscribe, unsubscribe, denied, refused).",
            ["result"],
            registry=registry,
        )
        self.hub_requests = Counter(
            "paperboy_websub_hub_requests",
            "Requests to hubs, by mode and result (accepted, failed).",
            ["mode", "result"],
            registry=registry,
        )
        self._wake = WakeSignal()
        self._push_slots = asyncio.Semaphore(PUSHES_AT_ONCE)
        self._hub_slots = asyncio.Semaphore(HUB_REQUESTS_AT_ONCE)

    def wake(self) -> None:
        """Look at every subscription now."""
        self._wake.set()

    # -- what polls tell us (bot.ingest.poller.PushSource) -----------------------------------

    async def feed_fetched(self, feed: Feed, result: FetchResult, now: datetime) -> None:
        """Record the hub and topic the fetched feed advertises (a 304 only through headers).

        Push is an extra: a fault here is logged and never fails the poll."""
        try:
            await self._record_hub(feed, result, now)
        except Exception:
            log.exception("Recording the WebSub hub of feed %s failed", feed.id)

    async def _record_hub(self, feed: Feed, result: FetchResult, now: datetime) -> None:
        links = find_hub_links(result.body, result.headers, base_url=result.url)
        if result.body is None and links.hub is None:
            return  # Not Modified: the document, and its hub links, are as they were
        changed = await self.storage.websub_record_hub(
            feed.id,
            hub_url=links.hub or "",
            topic_url=links.self_url or result.url,
            callback_id=secrets.token_urlsafe(24),
            secret=secrets.token_hex(32),
            now=now,
        )
        if changed:
            self.wake()

    async def polling_interval(self, feed_id: int, interval: float, now: datetime) -> float:
        """The feed's interval, or the slower safety-net one while push works (the feed's own
        on any fault here: push never costs a poll)."""
        try:
            sub = await self.storage.websub_subscription(feed_id)
        except Exception:
            log.exception("Reading the WebSub state of feed %s failed", feed_id)
            return interval
        if sub is not None:
            # Every poll double-checks: a subscription added or removed since is acted on now.
            decision = decide(sub, enabled=self.settings.enabled, now=now, settings=self.settings)
            if decision.step is not Step.WAIT:
                self.wake()
        return polling_interval(interval, sub, now, self.settings)

    async def poll_found_new(
        self, feed_id: int, count: int, *, since: datetime | None, now: datetime
    ) -> None:
        """A poll found new items while push was working: the hub is not delivering (a hub
        that went quiet keeps its lease), so poll at the normal pace and subscribe again.

        Only when push already worked at the previous poll (`since`): items published before
        the hub verified the subscription were never the hub's to push."""
        try:
            sub = await self.storage.websub_subscription(feed_id)
            if sub is not None and push_works(sub, now) and _push_worked_at(sub, since):
                reason = f"a poll found {count} new item(s) the hub had not pushed"
                await self._fall_back(sub, reason, now)
        except Exception:
            log.exception("Checking WebSub delivery of feed %s failed", feed_id)

    # -- the background loop -----------------------------------------------------------------

    async def run(self) -> None:
        """Keep every subscription as it should be, then sleep until the next step; forever."""
        while True:
            self._wake.clear()
            try:
                next_at = await self.maintain()
            except Exception:
                log.exception("Keeping WebSub subscriptions up failed; retrying later")
                next_at = None
            delay = IDLE_WAKE_SECONDS
            if next_at is not None:
                delay = (next_at - self.clock.now()).total_seconds()
            await self._wake.sleep(min(max(delay, 1.0), IDLE_WAKE_SECONDS))

    async def maintain(self) -> datetime | None:
        """Take each subscription's due step; returns when the next one falls due (or None)."""
        subs = await self.storage.websub_subscriptions()
        wakes: list[datetime] = []

        async def one(sub: WebSubSubscription) -> None:
            async with self._hub_slots:
                at = await self._step(sub)
            if at is not None:
                wakes.append(at)

        await asyncio.gather(*(one(sub) for sub in subs))
        return min(wakes, default=None)

    async def _step(self, sub: WebSubSubscription) -> datetime | None:
        now = self.clock.now()
        decision = decide(sub, enabled=self.settings.enabled, now=now, settings=self.settings)
        if decision.step is Step.WAIT:
            return decision.at
        log.info("WebSub for feed %s: %s (%s)", sub.feed_id, decision.step.value, decision.reason)
        if decision.step in (Step.SUBSCRIBE, Step.RENEW):
            await self._request(sub, "subscribe", now)
        elif decision.step is Step.UNSUBSCRIBE:
            await self._request(sub, "unsubscribe", now)
        elif decision.step is Step.FALL_BACK:
            await self._fall_back(sub, decision.reason, now)
        elif decision.step is Step.STOP:
            await self.storage.websub_stopped(sub.feed_id, now=now)
        return None if decision.step is Step.STOP else now

    async def _request(self, sub: WebSubSubscription, mode: str, now: datetime) -> None:
        form = {
            "hub.mode": mode,
            "hub.topic": sub.topic_url,
            "hub.callback": self.settings.callback_url(sub.callback_id),
        }
        if mode == "subscribe":
            form["hub.secret"] = sub.secret
            form["hub.lease_seconds"] = str(self.settings.lease_seconds)
        # Recorded first: many hubs verify before they even answer this request.
        await self.storage.websub_requested(sub.feed_id, mode=mode, now=now)
        try:
            status, said = await self.fetcher.post_form(sub.hub_url, form)
            # The hub's own words, on one line and short: they end up in logs and on the page.
            words = "".join(ch if ch.isprintable() else " " for ch in said[:200])
            problem = None if 200 <= status < 300 else f"the hub answered {status}: {words}"
        except FetchError as error:
            problem = str(error)
        self.hub_requests.labels(mode, "failed" if problem else "accepted").inc()
        if problem is None:
            return
        if mode == "unsubscribe":
            # Nothing more to try: the hub's lease simply runs out.
            log.info("WebSub unsubscribe for feed %s failed: %s", sub.feed_id, problem)
            await self.storage.websub_stopped(sub.feed_id, now=now)
            return
        await self._fall_back(sub, problem, now)

    async def _fall_back(self, sub: WebSubSubscription, reason: str, now: datetime) -> None:
        """Push does not work: poll the feed now and at its normal pace, retry the hub later."""
        retry = now + timedelta(seconds=retry_delay(sub.failures + 1))
        log.warning("WebSub for feed %s fell back to polling: %s", sub.feed_id, reason)
        await self.storage.websub_failed(sub.feed_id, error=reason, retry_at=retry, now=now)
        await self.storage.check_feed_by(sub.feed_id, now)
        self.poller.wake()

    # -- the hub's calls (routed by bot.web) --------------------------------------------------

    async def verify(self, callback_id: str, params: Mapping[str, str]) -> VerificationAnswer:
        """Answer a hub's verification of intent, or record its denial."""
        sub = await self.storage.websub_by_callback(callback_id)
        answer = answer_verification(sub, dict(params), settings=self.settings)
        if answer.status != 200 or sub is None:
            self.verifications.labels("refused").inc()
            return answer
        now = self.clock.now()
        self.verifications.labels(answer.mode).inc()
        if answer.mode == "denied":
            await self._fall_back(
                sub, f"the hub denied the subscription: {answer.denied_reason}", now
            )
        else:
            await self.storage.websub_verified(
                sub.feed_id, mode=answer.mode, lease_seconds=answer.lease_seconds, now=now
            )
        self.wake()  # the next renewal time changed
        return answer

    async def push(self, callback_id: str, body: bytes, headers: Mapping[str, str]) -> PushAnswer:
        """Take pushed content: only with a valid signature, then as a poll would."""
        sub = await self.storage.websub_by_callback(callback_id)
        if sub is None:
            self.pushes.labels("unknown").inc()
            return PushAnswer(404, "unknown subscription")
        check = check_signature(
            sub.secret,
            body,
            signature_256=headers.get("x-hub-signature-256"),
            signature=headers.get("x-hub-signature"),
        )
        if check is not SignatureCheck.OK:
            self.pushes.labels(check.value).inc()
            log.info("WebSub push for feed %s refused: signature %s", sub.feed_id, check.value)
            return PushAnswer(403, f"signature {check.value}")
        if self._push_slots.locked():
            self.pushes.labels("busy").inc()
            return PushAnswer(503, "busy, try again")
        async with self._push_slots:
            await self.storage.websub_pushed(sub.feed_id, now=self.clock.now())
            content_type = headers.get("content-type", "")
            try:
                outcome = await self.poller.ingest_pushed(
                    sub.feed_id,
                    body,
                    url=sub.topic_url,
                    headers={"content-type": content_type} if content_type else {},
                )
            except (FeedError, NotFound) as error:
                # Signed by the hub, so accepted; the next poll reads the feed itself.
                self.pushes.labels("unreadable").inc()
                log.info("WebSub push for feed %s unreadable: %s", sub.feed_id, error)
                return PushAnswer(202, "accepted, unreadable")
        if outcome.new_to_feed:
            self.metrics.new_articles.inc(len(outcome.new_to_feed))
        self.pushes.labels("accepted").inc()
        return PushAnswer(202, "accepted")

    def refuse_too_large(self) -> PushAnswer:
        """Count and answer a push whose body is over the feed size cap."""
        self.pushes.labels("too_large").inc()
        return PushAnswer(413, "too large")
