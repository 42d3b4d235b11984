"""Publish-to-announcement latency: the real bot, the news site, articles at random moments.

    .venv/bin/python -m bench.latency            # feed interval 5 s, 24 articles
    .venv/bin/python -m bench.latency --smoke    # interval 1 s, 3 articles

The real `PaperboyBot` runs in this process against the Discord stand-in, subscribed (through
its storage) to the news site's feed with the feed interval I. After the first poll has seeded
the feed, each round waits a random time in [0, I) (so publication falls at a random phase of
the polling cycle), publishes the next sample article, and times until the announcement
message exists in the stand-in. Target: p99 <= I + 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.delivery import bot_config, running_bot
from bot.clock import SystemClock
from bot.ingest.poller import NewArticlesEvent
from bot.models import NewSubscription


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(interval: int, articles: int, seed: int = 1) -> dict[str, Any]:
    """Publish `articles` articles at random moments; returns the delays in seconds."""
    from tests.bench.discord_standin import DiscordStandIn
    from tests.bench.news_site import NewsSite

    rng = random.Random(seed)
    delays: list[float] = []
    async with (
        DiscordStandIn() as standin,
        NewsSite(initially_published=30 - articles, clock=SystemClock()) as site,
    ):
        seed_world = standin.populate_default()
        channel_id = seed_world.news_id
        with tempfile.TemporaryDirectory(prefix="paperboy-latency-") as name:
            config = bot_config(
                Path(name),
                feeds={"default_interval_seconds": interval, "min_interval_seconds": 1},
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
                for _ in range(articles):
                    # The random pause is the experiment (a random phase), not synchronisation.
                    await asyncio.sleep(rng.uniform(0, interval))
                    waiter = asyncio.create_task(
                        standin.next_message(channel_id, timeout=interval * 3 + 10)
                    )
                    await asyncio.sleep(0)  # let the waiter register before publishing
                    published = time.perf_counter()
                    site.publish_next()
                    await waiter
                    delays.append(time.perf_counter() - published)
    return {
        "interval_s": interval,
        "articles": len(delays),
        "p50_s": round(statistics.median(delays), 2),
        "p99_s": round(_percentile(delays, 0.99), 2),
        "max_s": round(max(delays), 2),
        "target_s": interval + 2,
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    name = f"latency, interval {result['interval_s']} s ({result['articles']} articles)"
    return [
        (name, "publish to message p50", f"{result['p50_s']} s", ""),
        (name, "publish to message p99", f"{result['p99_s']} s", f"<= {result['target_s']} s"),
    ]


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="interval 1 s, 3 articles")
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    interval, articles = (1, 3) if args.smoke else (args.interval, args.articles)
    result = asyncio.run(measure(interval, articles))
    print_report(summary_rows(result), result, args.json)


if __name__ == "__main__":
    main()
