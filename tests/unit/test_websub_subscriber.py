"""The WebSub subscriber against the local hub stand-in, with real SQLite, real loopback HTTP
(news site, hub, the operator listener's /websub/ routes) and a fake clock for leases: it
subscribes, answers verification, slows polling while push works, renews before the lease
ends, falls back to polling on a lapse or a failing hub, unsubscribes, and takes only signed
pushes (bad ones refused and counted)."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import FakeClock
from bot.config import Config
from bot.doctor import Doctor
from bot.errors import FetchError
from bot.fetch import Fetcher, make_session
from bot.ingest.poller import Poller
from bot.ingest.subscriber import WebSubSubscriber
from bot.metrics import Metrics
from bot.models import NewSubscription
from bot.storage import Storage, WebSubSubscription
from bot.web import Health, OpsServer
from tests.bench.news_site import NewsSite
from tests.bench.websub_hub import WebSubHub, sign
from tests.conftest import make_config

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
LEASE = 86400
MARGIN = 3600
SLOW = 1800


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


@dataclass
class World:
    storage: Storage
    clock: FakeClock
    site: NewsSite
    hub: WebSubHub
    poller: Poller
    subscriber: WebSubSubscriber
    metrics: Metrics
    feed_id: int
    subscription_id: int
    config: Config

    async def websub(self) -> WebSubSubscription:
        sub = await self.storage.websub_subscription(self.feed_id)
        assert sub is not None
        return sub

    async def next_check_in(self) -> float:
        feed = await self.storage.feed(self.feed_id)
        assert feed is not None
        return (feed.next_check_at - self.clock.now()).total_seconds()

    def pushes(self, result: str) -> float:
        for family in text_string_to_metric_families(self.metrics.render().decode()):
            for sample in family.samples:
                pushes = sample.name == "paperboy_websub_pushes_total"
                if pushes and sample.labels.get("result") == result:
                    return sample.value
        return 0.0

    async def outbox(self) -> int:
        return int(await self.storage.scalar("SELECT count(*) FROM outbox"))

    async def subscribed(self) -> WebSubSubscription:
        """Run the subscriber's step and wait for the hub to have verified it."""
        await self.subscriber.maintain()
        await self.hub.wait_for_subscriber(self.site.feed_url)
        return await self.websub()


@pytest.fixture
async def world(storage: Storage, tmp_path: Path) -> AsyncIterator[World]:
    port = free_port()
    config = make_config(
        tmp_path,
        announcements={"max_age_days": 0.0},
        feeds={"default_interval_seconds": 300, "min_interval_seconds": 60},
        websub={
            "public_url": f"http://127.0.0.1:{port}",
            "lease_seconds": LEASE,
            "renew_margin_seconds": MARGIN,
            "poll_interval_seconds": SLOW,
        },
    )
    clock = FakeClock(START)
    metrics = Metrics()
    async with (
        NewsSite(clock=clock) as site,
        WebSubHub() as hub,
        make_session(config.fetch, "test") as session,
    ):
        site.hub_url = hub.url
        fetcher = Fetcher(session, config.fetch)
        poller = Poller(storage, fetcher, config, clock, rng=random.Random(1), metrics=metrics)
        subscriber = WebSubSubscriber(storage, fetcher, poller, config, clock, metrics=metrics)
        poller.push = subscriber
        ops = OpsServer(
            storage,
            metrics,
            Health(),
            clock,
            last_poll_round=lambda: None,
            stale_after=timedelta(hours=1),
            started_at=START,
            websub=subscriber,
        )
        await ops.start("127.0.0.1", port)
        try:
            feed = await storage.add_feed(site.feed_url, now=START)
            subscription = await storage.add_subscription(
                NewSubscription(guild_id=1, channel_id=100, feed_id=feed.id, format="embed"),
                now=START,
            )
            assert subscription is not None
            assert (await poller.poll_feed(feed.id)).seeded
            yield World(
                storage,
                clock,
                site,
                hub,
                poller,
                subscriber,
                metrics,
                feed.id,
                subscription.id,
                config,
            )
        finally:
            await ops.close()


async def test_a_poll_records_the_hub_and_the_topic(world: World) -> None:
    sub = await world.websub()
    assert sub.hub_url == world.hub.url and sub.topic_url == world.site.feed_url
    assert sub.state == "idle" and sub.wanted and len(sub.secret) == 64
    # Nothing changes on the next poll (no churn of secrets or state).
    world.clock.advance(600)
    await world.poller.poll_feed(world.feed_id)
    assert await world.websub() == sub


async def test_subscribe_verify_then_poll_slower(world: World) -> None:
    sub = await world.subscribed()
    [request] = world.hub.requests
    assert request.form["hub.mode"] == "subscribe"
    assert request.form["hub.topic"] == world.site.feed_url
    assert request.form["hub.callback"].endswith("/websub/" + sub.callback_id)
    assert request.form["hub.secret"] == sub.secret  # per subscription, from our database
    assert request.form["hub.lease_seconds"] == str(LEASE)
    assert sub.state == "active" and sub.lease_expires_at == START + timedelta(seconds=LEASE)
    world.clock.advance(400)
    await world.poller.poll_feed(world.feed_id)
    assert await world.next_check_in() >= SLOW * 0.9  # jittered slow interval, not 300 s


async def test_renewal_before_the_lease_ends(world: World) -> None:
    await world.subscribed()
    world.clock.advance(LEASE - MARGIN - 1)
    await world.subscriber.maintain()
    assert len(world.hub.requests) == 1  # not yet
    world.clock.advance(1)
    await world.subscriber.maintain()
    await world.hub.wait_for_requests(2)
    renewed = await world.websub()
    assert renewed.state == "active"
    assert renewed.lease_expires_at == world.clock.now() + timedelta(seconds=LEASE)


async def test_a_lapsed_lease_falls_back_to_polling_at_once(world: World) -> None:
    await world.subscribed()
    world.hub.verify = False  # the hub goes quiet: the renewal is never verified
    world.clock.advance(LEASE - MARGIN)
    await world.subscriber.maintain()
    world.clock.advance(MARGIN)
    await world.subscriber.maintain()
    sub = await world.websub()
    assert sub.state == "failed" and sub.failures == 1
    assert sub.last_error and ("verify" in sub.last_error or "lapsed" in sub.last_error)
    assert await world.next_check_in() <= 0  # polled now, at its own pace again
    await world.poller.poll_feed(world.feed_id)
    assert await world.next_check_in() <= 300 * 1.1


async def test_a_failing_hub_falls_back_and_is_retried_later(world: World) -> None:
    world.hub.fail_requests = 503
    await world.subscriber.maintain()
    sub = await world.websub()
    assert sub.state == "failed" and "503" in (sub.last_error or "")
    assert sub.retry_at == START + timedelta(seconds=60)
    await world.subscriber.maintain()
    assert len(world.hub.requests) == 1  # waits for retry_at
    world.hub.fail_requests = None
    world.clock.advance(60)
    sub = await world.subscribed()
    assert sub.state == "active" and sub.failures == 0


async def test_a_denial_falls_back(world: World) -> None:
    sub = await world.subscribed()
    callback = world.hub.requests[0].form["hub.callback"]
    assert await world.hub.deny(world.site.feed_url, callback, "publisher said no") == 200
    denied = await world.websub()
    assert denied.state == "failed" and "publisher said no" in (denied.last_error or "")
    assert sub.state == "active"


async def test_unsubscribe_when_no_subscription_follows_the_feed(world: World) -> None:
    await world.subscribed()
    await world.storage.remove_subscription(world.subscription_id)
    await world.subscriber.maintain()
    await world.hub.wait_for_requests(2)
    assert world.hub.requests[1].form["hub.mode"] == "unsubscribe"
    assert world.hub.subscriptions == {}
    assert (await world.websub()).state == "idle"


async def test_unknown_callbacks_and_unrequested_verifications_get_404(world: World) -> None:
    sub = await world.websub()
    base = world.subscriber.settings.public_url
    query = {"hub.mode": "subscribe", "hub.topic": world.site.feed_url, "hub.challenge": "x"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/websub/nope", params=query) as response:
            assert response.status == 404
        async with session.get(f"{base}/websub/{sub.callback_id}", params=query) as response:
            assert response.status == 404  # never requested
        async with session.post(f"{base}/websub/nope", data=b"x") as response:
            assert response.status == 404
    assert world.pushes("unknown") == 1


async def test_only_signed_pushes_are_ingested_and_once(world: World) -> None:
    sub = await world.subscribed()
    callback = world.hub.requests[0].form["hub.callback"]
    world.clock.advance(60)
    world.site.publish_next()
    async with aiohttp.ClientSession() as session, session.get(world.site.feed_url) as response:
        body = await response.read()
    rss = {"Content-Type": "application/rss+xml"}
    forged = [
        {},
        {"X-Hub-Signature-256": sign("wrong secret", body)},
        {"X-Hub-Signature": sign(sub.secret, body, "sha1")},
        {"X-Hub-Signature-256": "sha256=nothex"},
    ]
    for headers in forged:
        assert (await world.hub.deliver(callback, body, {**rss, **headers})).status == 403
    assert await world.outbox() == 0
    assert [world.pushes(r) for r in ("missing", "mismatch", "algorithm", "malformed")] == [1] * 4

    [delivery] = await world.hub.publish(world.site.feed_url)
    assert delivery.status == 202 and world.pushes("accepted") == 1
    assert await world.outbox() == 1
    assert (await world.websub()).pushes == 1
    # The same item pushed again and polled: nothing new.
    assert (await world.hub.publish(world.site.feed_url))[0].status == 202
    outcome = await world.poller.poll_feed(world.feed_id)
    assert outcome.ok and outcome.outbox_rows == 0
    assert await world.outbox() == 1


async def test_oversized_pushes_are_refused_unread(world: World) -> None:
    sub = await world.subscribed()
    callback = world.hub.requests[0].form["hub.callback"]
    huge = b"<rss>" + b" " * (world.subscriber.max_body_bytes + 1)
    delivery = await world.hub.deliver(
        callback, huge, {"X-Hub-Signature-256": sign(sub.secret, huge)}
    )
    assert delivery.status == 413 and world.pushes("too_large") == 1


async def test_a_hub_verifying_before_it_answers_is_handled(world: World) -> None:
    world.hub.verify_before_answer = True
    await world.subscriber.maintain()  # the verification arrives while our request is open
    [request] = world.hub.requests
    assert request.verified
    assert (await world.websub()).state == "active"


async def test_hubs_on_private_addresses_are_refused_like_any_fetch(
    storage: Storage, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fetch={"allow_private_addresses": False})
    async with WebSubHub() as hub, make_session(config.fetch, "test") as session:
        fetcher = Fetcher(session, config.fetch)
        with pytest.raises(FetchError) as refused:
            await fetcher.post_form(hub.url, {"hub.mode": "subscribe"})
        assert refused.value.kind == "private-address"
        assert hub.requests == []


async def test_doctor_names_push_that_fails_everywhere(world: World) -> None:
    async def websub_finding() -> tuple[bool, str, str]:
        async with aiohttp.ClientSession() as session:
            doctor = Doctor(world.config, world.storage, session, environ={}, now=world.clock.now())
            await doctor.check_websub()
        [finding] = doctor.findings
        return finding.ok, finding.detail, finding.fix

    world.hub.fail_requests = 500
    await world.subscriber.maintain()
    ok, detail, fix = await websub_finding()
    assert not ok and "0 of 1" in detail and "500" in detail and "/websub/" in fix
    world.hub.fail_requests = None
    world.clock.advance(60)
    await world.subscribed()
    ok, detail, _ = await websub_finding()
    assert ok and detail.startswith("1 of 1")


async def test_a_trickled_push_is_cut_off(world: World) -> None:
    sub = await world.subscribed()
    world.subscriber.read_timeout_seconds = 0.2
    never = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"<rss>"
        await never.wait()  # the sender never finishes its body

    callback = f"{world.subscriber.settings.public_url}/websub/{sub.callback_id}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(callback, data=trickle()) as response,
    ):
        assert response.status == 408
    assert await world.outbox() == 0


async def test_storage_keeps_secrets_and_restarts_on_a_new_hub(world: World) -> None:
    first = await world.subscribed()
    unchanged = await world.storage.websub_record_hub(
        world.feed_id,
        hub_url=first.hub_url,
        topic_url=first.topic_url,
        callback_id="other",
        secret="other",
        now=world.clock.now(),
    )
    assert not unchanged and await world.websub() == first
    moved = await world.storage.websub_record_hub(
        world.feed_id,
        hub_url="https://new-hub.example/",
        topic_url=first.topic_url,
        callback_id="other",
        secret="other",
        now=world.clock.now(),
    )
    again = await world.websub()
    assert moved and again.state == "idle" and again.lease_expires_at is None
    assert (again.secret, again.callback_id) == (first.secret, first.callback_id)
    assert first.secret not in repr(again)  # never in logs or tracebacks by accident


async def test_a_poll_finding_what_the_hub_did_not_push_falls_back(world: World) -> None:
    world.clock.advance(60)
    await world.subscribed()
    # Published after the last poll but before the hub verified: not the hub's to push.
    world.site.publish_next()
    world.clock.advance(60)
    assert (await world.poller.poll_feed(world.feed_id)).outbox_rows == 1
    assert (await world.websub()).state == "active"
    world.clock.advance(SLOW)
    world.site.publish_next()  # published, but the hub never pushes it
    outcome = await world.poller.poll_feed(world.feed_id)
    assert outcome.outbox_rows == 1  # the safety-net poll announces it anyway
    sub = await world.websub()
    assert sub.state == "failed" and "had not pushed" in (sub.last_error or "")
    assert await world.next_check_in() <= 0  # back to the normal pace at once
    # Items the hub did push first are no sign of failure.
    world.clock.advance(60)
    await world.subscriber.maintain()
    await world.hub.wait_for_requests(2)  # subscribed again (the hub kept the old one too)
    world.site.publish_next()
    await world.hub.publish(world.site.feed_url)
    assert (await world.poller.poll_feed(world.feed_id)).new_to_feed == ()
    assert (await world.websub()).state == "active"
