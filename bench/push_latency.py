"""Publish-to-announcement latency with WebSub push: the real bot, the news site, the local hub.

    .venv/bin/python -m bench.push_latency            # 24 articles
    .venv/bin/python -m bench.push_latency --smoke    # 3 articles

The machinery of `bench.latency` (the real `PaperboyBot` in this process against the Discord
stand-in, the news site, articles at random moments), with push on: the site advertises the
hub stand-in (tests/bench/websub_hub.py), Paperboy subscribes by itself, and each publication
is followed by the publisher's ping to the hub (`hub.mode=publish`), which fetches the feed and
POSTs it signed to Paperboy's callback. Polling stays on at its slow push-time interval (30
min), so every announcement measured came by push. Timed from publication to the announcement
message existing in the stand-in. Target: p99 <= 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench._common import print_report
from bench.delivery import bot_config, running_bot
from bench.latency import _percentile
from bot.clock import SystemClock
from bot.ingest.poller import NewArticlesEvent
from bot.models import NewSubscription

TARGET_P99_SECONDS = 3.0


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


async def measure(articles: int, *, pause: float = 2.0, seed: int = 1) -> dict[str, Any]:
    """Publish `articles` articles at random moments, each pinged to the hub; the delays."""
    from tests.bench.discord_standin import DiscordStandIn
    from tests.bench.news_site import NewsSite
    from tests.bench.websub_hub import WebSubHub

    rng = random.Random(seed)
    delays: list[float] = []
    port = _free_port()
    async with (
        DiscordStandIn() as standin,
        NewsSite(initially_published=30 - articles, clock=SystemClock()) as site,
        WebSubHub() as hub,
        aiohttp.ClientSession() as publisher,
    ):
        site.hub_url = hub.url
        seed_world = standin.populate_default()
        channel_id = seed_world.news_id
        with tempfile.TemporaryDirectory(prefix="paperboy-push-latency-") as name:
            config = bot_config(
                Path(name),
                http={"listen": f"127.0.0.1:{port}"},
                websub={"public_url": f"http://127.0.0.1:{port}", "poll_interval_seconds": 1800},
                feeds={"default_interval_seconds": 1800, "min_interval_seconds": 60},
            )
            async with running_bot(standin, config) as bot:
                app = bot.app
                seeded = asyncio.Event()

                async def on_new(event: NewArticlesEvent) -> None:
                    if event.seeded:
                        seeded.set()

                app.poller.on_new_articles.append(on_new)
                feed = await app.storage.add_feed(site.feed_url, now=app.clock.now())
                await app.storage.add_subscription(
                    NewSubscription(seed_world.guild_id, channel_id, feed.id, "embed"),
                    now=app.clock.now(),
                )
                app.poller.wake()
                await asyncio.wait_for(seeded.wait(), 30)
                await hub.wait_for_subscriber(site.feed_url, timeout=30)
                polls_before = len(site.requests_to("/feed/"))
                for _ in range(articles):
                    # The random pause is the experiment (a random moment), not synchronisation.
                    await asyncio.sleep(rng.uniform(0, pause))
                    waiter = asyncio.create_task(standin.next_message(channel_id, timeout=30))
                    await asyncio.sleep(0)  # let the waiter register before publishing
                    published = time.perf_counter()
                    site.publish_next()
                    ping = {"hub.mode": "publish", "hub.url": site.feed_url}
                    async with publisher.post(hub.url, data=ping) as response:
                        response.raise_for_status()
                    await waiter
                    delays.append(time.perf_counter() - published)
                # The hub's fetches of the topic are not Paperboy's polls; count only ours.
                hub_fetches = len(hub.deliveries)
                polls = len(site.requests_to("/feed/")) - polls_before - hub_fetches
    return {
        "articles": len(delays),
        "p50_s": round(statistics.median(delays), 2),
        "p99_s": round(_percentile(delays, 0.99), 2),
        "max_s": round(max(delays), 2),
        "polls_during_run": polls,
        "pushes": hub_fetches,
        "target_s": TARGET_P99_SECONDS,
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    name = f"latency, WebSub push ({result['articles']} articles)"
    return [
        (name, "publish to message p50", f"{result['p50_s']} s", ""),
        (name, "publish to message p99", f"{result['p99_s']} s", f"<= {result['target_s']} s"),
    ]


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3 articles")
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    articles = 3 if args.smoke else args.articles
    result = asyncio.run(measure(articles))
    print_report(summary_rows(result), result, args.json)


if __name__ == "__main__":
    main()
