"""Delivery under Discord's limits: drain 1,000 pending announcements across 50 channels.

    .venv/bin/python -m bench.delivery              # 1,000 announcements, 50 channels
    .venv/bin/python -m bench.delivery --repeat 3   # each configuration 3 times, the median
    .venv/bin/python -m bench.delivery --smoke      # 20 announcements, 4 channels, short windows

The Discord stand-in enforces Discord's published limits (`rate_limits.enable`): per-route
buckets of 5 message posts per 5 s per channel, and 50 requests per second globally. The real
`PaperboyBot` runs in this process with its announcer cog (the `DeliveryWorker` with the
discord.py `DiscordSender`); the outbox is filled through its storage while it idles, then the
worker is woken and the clock starts. We report the drain time, the 429s the bot provoked
(`recorder.rate_limited`), and the ratio to the fastest drain the limits allow: the slower of
the per-channel bound and the global bound.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.polling import cpu_seconds
from bot.announce.plan import PlannedDelivery, render_payload, subscription_view
from bot.announce.render import AnnouncementArticle
from bot.config import Config, from_mapping
from bot.models import NewSubscription
from bot.storage import NewArticle, NewEntry, OutboxRow, Storage

PER_ROUTE, PER_SECONDS, GLOBAL_PER_SECOND = 5, 5.0, 50
"""Discord's limits for posting messages: 5 per 5 s per channel, 50 requests/s overall."""


@dataclass(frozen=True)
class Limits:
    """The limits the stand-in enforces."""

    per_route: int = PER_ROUTE
    per_seconds: float = PER_SECONDS
    global_per_second: int = GLOBAL_PER_SECOND


def channel_gaps(channels: list[list[dict[str, Any]]]) -> list[float]:
    """Seconds between consecutive posts in the same channel (from the messages' timestamps)."""
    gaps = []
    for messages in channels:
        moments = sorted(datetime.fromisoformat(m["timestamp"]) for m in messages)
        gaps += [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    return gaps


def fastest_drain_seconds(per_channel: int, channels: int, limits: Limits) -> float:
    """A lower bound on draining: the slower of the per-channel and the global windows.

    Both are fixed windows starting with the first post, so the last post can go no earlier than
    the start of the window that holds it.
    """
    channel_bound = (math.ceil(per_channel / limits.per_route) - 1) * limits.per_seconds
    global_bound = math.ceil(per_channel * channels / limits.global_per_second) - 1.0
    return max(channel_bound, global_bound)


def bot_config(folder: Path, **sections: dict[str, Any]) -> Config:
    """A config for the in-process bot: database in `folder`, loopback allowed, fast start."""
    raw: dict[str, dict[str, Any]] = {
        "database": {"path": str(folder / "bench.db")},
        "fetch": {"allow_private_addresses": True},
        "bot": {"guild_ready_timeout_seconds": 0.05, "reidentify_delay_seconds": 0.0},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return from_mapping(raw, source="(bench)")


@asynccontextmanager
async def running_bot(standin: Any, config: Config) -> AsyncIterator[Any]:
    """The real PaperboyBot, in this process, connected to the stand-in and delivering."""
    from cogs.client import PaperboyBot
    from tests.bench.discord_standin.harness import running_client

    bot = PaperboyBot(config)
    async with running_client(standin, bot):
        yield bot


async def fill_outbox(
    storage: Storage, channels: list[tuple[int, int]], per_channel: int, now: datetime
) -> int:
    """One feed, a subscription per channel, `per_channel` pending announcements for each."""
    feed = await storage.add_feed("https://paper.example/feed/", now=now)
    subscriptions = []
    for guild_id, channel_id in channels:
        sub = await storage.add_subscription(
            NewSubscription(guild_id, channel_id, feed.id, "embed"), now=now
        )
        assert sub is not None
        subscriptions.append(sub)
    created = 0
    async with storage.poll_transaction(feed.id, now=now) as tx:
        articles = [
            NewArticle(
                canonical_url=f"https://paper.example/story-{n}/",
                url=f"https://paper.example/story-{n}/",
                title=f"Story number {n} of the delivery benchmark",
                published=now - timedelta(minutes=per_channel - n),
            )
            for n in range(per_channel)
        ]
        ids = await tx.upsert_articles(articles)
        await tx.insert_entries(
            [NewEntry(f"story-{i}", i, a.published) for i, a in zip(ids, articles, strict=True)]
        )
        for sub in subscriptions:
            view = subscription_view(sub, timezone="UTC")
            rows = [OutboxRow(sub.id, i, sub.channel_id, "pending") for i in ids]
            for row, outbox_id in await tx.add_outbox(rows):
                article = articles[ids.index(row.article_id)]
                shown = AnnouncementArticle(
                    id=row.article_id, title=article.title, url=article.url, feed_title="Bench"
                )
                payload = render_payload(PlannedDelivery(row, shown, view), outbox_id)
                await tx.set_outbox_payload(outbox_id, payload)
                created += 1
        await tx.finish_success(etag=None, last_modified=None, next_check_at=now)
    return created


async def measure(
    channels_count: int, per_channel: int, limits: Limits, announcements: dict[str, float]
) -> dict[str, Any]:
    """Drain the outbox once through the stand-in; returns time, 429s and the ratio."""
    from tests.bench.discord_standin import DiscordStandIn

    async with DiscordStandIn() as standin:
        guild = standin.add_guild("Delivery bench")
        channels = [
            (guild.id, standin.add_channel(guild.id, f"news-{n}").id) for n in range(channels_count)
        ]
        with tempfile.TemporaryDirectory(prefix="paperboy-delivery-") as name:
            config = bot_config(Path(name), announcements=announcements)
            async with running_bot(standin, config) as bot:
                standin.rate_limits.enable(
                    per_route=limits.per_route,
                    per_seconds=limits.per_seconds,
                    global_per_second=limits.global_per_second,
                )
                before = len(standin.recorder.rate_limited)
                app = bot.app
                total = await fill_outbox(app.storage, channels, per_channel, app.clock.now())

                def posted() -> int:
                    return sum(len(standin.messages_in(c)) for _, c in channels)

                started, cpu = time.perf_counter(), cpu_seconds()
                app.delivery.wake()
                await standin.wait_until(lambda: posted() >= total, timeout=600)
                drain, drain_cpu = time.perf_counter() - started, cpu_seconds() - cpu
                provoked = len(standin.recorder.rate_limited) - before
                standin.rate_limits.disable()
                messages = posted()
                gaps = channel_gaps([standin.messages_in(c) for _, c in channels])
    fastest = fastest_drain_seconds(per_channel, channels_count, limits)
    return {
        "announcements": total,
        "channels": channels_count,
        "config": announcements or "defaults",
        "drain_s": round(drain, 2),
        "drain_cpu_s": round(drain_cpu, 2),
        "fastest_s": fastest,
        "ratio": round(drain / fastest, 2) if fastest > 0 else None,
        "provoked_429": provoked,
        "messages": messages,
        "channel_gap_median_s": round(statistics.median(gaps), 2) if gaps else None,
    }


async def measure_median(
    repeat: int,
    channels_count: int,
    per_channel: int,
    limits: Limits,
    announcements: dict[str, float],
) -> dict[str, Any]:
    """`measure` `repeat` times: the run with the median drain time, every run's drain time,
    and the 429s provoked over all runs (any one is a failure)."""
    runs = [
        await measure(channels_count, per_channel, limits, announcements) for _ in range(repeat)
    ]
    runs.sort(key=lambda r: r["drain_s"])
    median = dict(runs[(len(runs) - 1) // 2])
    median["runs"] = len(runs)
    median["drain_runs_s"] = [r["drain_s"] for r in runs]
    median["provoked_429"] = sum(r["provoked_429"] for r in runs)
    return median


async def run(smoke: bool, repeat: int = 1) -> list[dict[str, Any]]:
    """The default config (45/s), a more cautious global budget (40/s, to show what it costs),
    and no per-channel spacing (to show that the spacing costs nothing)."""
    if smoke:
        limits = Limits(per_route=5, per_seconds=0.5, global_per_second=50)
        return [
            await measure_median(repeat, 4, 10, limits, {"per_channel_interval_seconds": 0.1}),
        ]
    limits = Limits()
    return [
        await measure_median(repeat, 50, 20, limits, {}),
        await measure_median(repeat, 50, 20, limits, {"global_rate_per_second": 40.0}),
        # Diagnostic: without our own per-channel spacing, only the global budget paces.
        await measure_median(repeat, 50, 20, limits, {"per_channel_interval_seconds": 0.0}),
    ]


def summary_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    rows = []
    for result in results:
        config = result["config"]
        label = (
            "defaults" if config == "defaults" else ", ".join(f"{k}={v}" for k, v in config.items())
        )
        name = f"delivery {result['announcements']:,} / {result['channels']} ch ({label})"
        runs = result.get("runs", 1)
        drain = f"{result['drain_s']} s ({result['fastest_s']} s) = {result['ratio']}x"
        if runs > 1:
            every = ", ".join(str(d) for d in result["drain_runs_s"])
            drain = f"median of {runs}: {drain}; runs {every} s"
        rows += [
            (name, "drain time (fastest allowed)", drain, "<= 1.3x"),
            (
                name,
                f"429s provoked ({runs} run{'s' if runs > 1 else ''})",
                str(result["provoked_429"]),
                "0",
            ),
            (name, "CPU while draining (bot + stand-in)", f"{result['drain_cpu_s']} s", ""),
            (
                name,
                "median gap between posts in a channel",
                f"{result['channel_gap_median_s']} s",
                "",
            ),
        ]
    return rows


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="20 announcements, short windows")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (median)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    results = asyncio.run(run(args.smoke, max(1, args.repeat)))
    print_report(summary_rows(results), results, args.json)


if __name__ == "__main__":
    main()
