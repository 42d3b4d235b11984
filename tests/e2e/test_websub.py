"""WebSub push end to end: the real bot, the Discord stand-in, the news site advertising the
local hub stand-in. Paperboy subscribes by itself; a publish reaches the channel through the
hub; a push and a poll of the same item give one announcement; a forged push posts nothing."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from bot.models import NewSubscription
from tests.bench.websub_hub import HubSubscription, WebSubHub, sign
from tests.e2e.conftest import Bench, BenchFactory
from tests.e2e.support import FAST, announced_title, announcements, delivery_settled, wait_for_count


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


@asynccontextmanager
async def push_bench(make_bench: BenchFactory) -> AsyncIterator[tuple[Bench, WebSubHub, int]]:
    """A bench with push on (the callback on the operator listener), following the site's
    feed in #general; yields once the hub has verified Paperboy's subscription."""
    port = free_port()
    async with (
        WebSubHub() as hub,
        make_bench(
            announcements=FAST,
            http={"listen": f"127.0.0.1:{port}"},
            websub={"public_url": f"http://127.0.0.1:{port}"},
        ) as bench,
    ):
        bench.site.hub_url = hub.url
        app = bench.app
        feed = await app.storage.add_feed(bench.site.feed_url, now=app.clock.now())
        await app.storage.add_subscription(
            NewSubscription(bench.seed.guild_id, bench.seed.general_id, feed.id, "embed"),
            now=app.clock.now(),
        )
        assert (await app.poller.poll_feed(feed.id)).seeded  # finds the hub, wakes the subscriber
        await hub.wait_for_subscriber(bench.site.feed_url)
        yield bench, hub, feed.id


async def test_publish_reaches_the_channel_through_the_hub(make_bench: BenchFactory) -> None:
    async with push_bench(make_bench) as (bench, hub, feed_id):
        state = await bench.app.storage.websub_subscription(feed_id)
        assert state is not None and state.state == "active"
        item = bench.site.publish_next()
        [delivery] = await hub.publish(bench.site.feed_url)
        assert delivery.status == 202
        await wait_for_count(bench, 1)
        assert announced_title(announcements(bench)[0]) == item.title
        # The status page shows push state, never the callback id or the secret.
        assert bench.app.ops is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{bench.app.ops.port}/") as response,
        ):
            page = await response.text()
        assert "WebSub push" in page and ">active<" in page
        assert state.secret not in page and state.callback_id not in page


async def test_a_push_and_a_poll_of_the_same_item_announce_it_once(
    make_bench: BenchFactory,
) -> None:
    async with push_bench(make_bench) as (bench, hub, feed_id):
        first = bench.site.publish_next()
        await hub.publish(bench.site.feed_url)  # push first, then the poll sees it too
        await wait_for_count(bench, 1)
        assert (await bench.app.poller.poll_feed(feed_id)).outbox_rows == 0
        second = bench.site.publish_next()
        polled = await bench.app.poller.poll_feed(feed_id)  # poll first, then the push
        assert polled.outbox_rows == 1
        await hub.publish(bench.site.feed_url)
        await wait_for_count(bench, 2)
        await delivery_settled(bench)
        titles = [announced_title(message) for message in announcements(bench)]
        assert sorted(titles) == sorted([first.title, second.title])


async def test_a_forged_push_is_refused_and_posts_nothing(make_bench: BenchFactory) -> None:
    async with push_bench(make_bench) as (bench, hub, _):
        subscribed: HubSubscription = await hub.wait_for_subscriber(bench.site.feed_url)
        bench.site.publish_next()
        async with (
            aiohttp.ClientSession() as session,
            session.get(bench.site.feed_url) as response,
        ):
            body = await response.read()
        forged = {"X-Hub-Signature-256": sign("guessed secret", body)}
        assert (await hub.deliver(subscribed.callback, body, forged)).status == 403
        assert (await hub.deliver(subscribed.callback, body, {})).status == 403
        await delivery_settled(bench)
        assert announcements(bench) == []
        assert bench.app.ops is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{bench.app.ops.port}/metrics") as response,
        ):
            metrics = await response.text()
        assert 'paperboy_websub_pushes_total{result="mismatch"} 1.0' in metrics
        assert 'paperboy_websub_pushes_total{result="missing"} 1.0' in metrics


async def test_push_latency_bench_smoke_announces_every_article_by_push() -> None:
    from bench import push_latency

    result = await push_latency.measure(3, pause=0.1)
    assert (result["articles"], result["pushes"], result["polls_during_run"]) == (3, 3, 0)
    assert push_latency.summary_rows(result)[1][3] == "<= 3.0 s"
