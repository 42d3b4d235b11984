"""Delivery under Discord's limits: drain 1,000 pending announcements across 50 channels.

    .venv/bin/python -m bench.delivery            # 1,000 announcements, 50 channels
    .venv/bin/python -m bench.delivery --smoke    # 20 announcements, 4 channels, short windows

The Discord stand-in enforces Discord's published limits (`rate_limits.enable`): per-route
buckets of 5 message posts per 5 s per channel, and 50 requests per second globally. The real
`DeliveryWorker` (pacing, global budget, claim/send/settle on a real database) drains the outbox
through `BenchSender`, a thin sender on discord.py's `channel.send` (the Discord layer's own
sender is not wired into the bot yet; discord.py's own bucket handling is part of what is
measured). We report the drain time, the 429s the bot provoked (`recorder.rate_limited`), and
the ratio to the fastest drain the limits allow: max(per-channel bound, global bound).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord

from bot.announce.render import AnnouncementArticle, MessagePlan
from bot.clock import SystemClock
from bot.config import Config, from_mapping
from bot.delivery.worker import DeliveryWorker, Outgoing, RetryLater, SentMessage
from bot.errors import DeliveryError
from bot.ingest.poller import PlannedDelivery, render_payload, subscription_view
from bot.models import NewSubscription
from bot.storage import Storage
from bot.storage._feeds import NewArticle, NewEntry, OutboxRow

PER_ROUTE, PER_SECONDS, GLOBAL_PER_SECOND = 5, 5.0, 50
"""Discord's limits for posting messages: 5 per 5 s per channel, 50 requests/s overall."""


@dataclass(frozen=True)
class Limits:
    """The limits the stand-in enforces."""

    per_route: int = PER_ROUTE
    per_seconds: float = PER_SECONDS
    global_per_second: int = GLOBAL_PER_SECOND


def fastest_drain_seconds(per_channel: int, channels: int, limits: Limits) -> float:
    """A lower bound on draining: the slower of the per-channel and the global windows.

    Both are fixed windows starting with the first post, so the last post can go no earlier than
    the start of the window that holds it.
    """
    channel_bound = (math.ceil(per_channel / limits.per_route) - 1) * limits.per_seconds
    global_bound = math.ceil(per_channel * channels / limits.global_per_second) - 1.0
    return max(channel_bound, global_bound)


class BenchSender:
    """Posts an outgoing plan with discord.py's `channel.send` (embeds and content only)."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    @staticmethod
    def _embeds(plan: MessagePlan) -> list[discord.Embed]:
        return [
            discord.Embed(
                title=embed.title or None,
                url=embed.url,
                description=embed.description or None,
                color=embed.color,
            )
            for embed in plan.embeds
        ]

    async def send(self, outgoing: Outgoing) -> SentMessage:
        """Post one announcement; discord.py waits out its buckets and retries 429s itself."""
        channel = self.client.get_channel(outgoing.channel_id)
        if not isinstance(channel, discord.TextChannel):
            raise DeliveryError("The channel is gone.", permanent=True, status=404)
        try:
            message = await channel.send(
                content=outgoing.plan.content or None,
                embeds=self._embeds(outgoing.plan),
                nonce=outgoing.nonce,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.RateLimited as error:
            raise RetryLater(str(error), status=429, retry_after=error.retry_after) from None
        except discord.HTTPException as error:
            permanent = 400 <= error.status < 500 and error.status != 429
            raise DeliveryError(str(error), permanent=permanent, status=error.status) from None
        return SentMessage(message.id)

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        """Nothing is ever half-sent in this benchmark."""
        return None


class QuietNotifier:
    """Moderator notices are not part of this benchmark; it fails if one is ever needed."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    async def tell_moderators(self, guild_id: int, text: str) -> None:
        """Remember the notice (a refusal during the benchmark shows up in the result)."""
        self.notices.append(text)


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


def bench_config(folder: Path, **announcements: float) -> Config:
    """A config with the database in `folder` and the given `[announcements]` overrides."""
    return from_mapping(
        {"database": {"path": str(folder / "delivery.db")}, "announcements": dict(announcements)}
    )


async def measure(
    channels_count: int, per_channel: int, limits: Limits, announcements: dict[str, float]
) -> dict[str, Any]:
    """Drain the outbox once through the stand-in; returns time, 429s and the ratio."""
    from tests.bench.discord_standin import DiscordStandIn
    from tests.bench.discord_standin.harness import running_client

    async with DiscordStandIn() as standin:
        guild = standin.add_guild("Delivery bench")
        channels = [
            (guild.id, standin.add_channel(guild.id, f"news-{n}").id) for n in range(channels_count)
        ]
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        with tempfile.TemporaryDirectory(prefix="paperboy-delivery-") as name:
            config = bench_config(Path(name), **announcements)
            storage = await Storage.open(config.database.path)
            try:
                total = await fill_outbox(storage, channels, per_channel, datetime.now(UTC))
                async with running_client(standin, client):
                    standin.rate_limits.enable(
                        per_route=limits.per_route,
                        per_seconds=limits.per_seconds,
                        global_per_second=limits.global_per_second,
                    )
                    notifier = QuietNotifier()
                    worker = DeliveryWorker(
                        storage, BenchSender(client), notifier, config, SystemClock()
                    )

                    def posted() -> int:
                        return sum(len(standin.messages_in(c)) for _, c in channels)

                    started = time.perf_counter()
                    task = asyncio.create_task(worker.run(), name="bench-delivery")
                    try:
                        await standin.wait_until(lambda: posted() >= total, timeout=600)
                    finally:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                    drain = time.perf_counter() - started
                    provoked = len(standin.recorder.rate_limited)
                    standin.rate_limits.disable()
            finally:
                await storage.close()
    fastest = fastest_drain_seconds(per_channel, channels_count, limits)
    return {
        "announcements": total,
        "channels": channels_count,
        "config": announcements or "defaults",
        "drain_s": round(drain, 2),
        "fastest_s": fastest,
        "ratio": round(drain / fastest, 2) if fastest > 0 else None,
        "provoked_429": provoked,
        "refusals": len(notifier.notices),
    }


async def run(smoke: bool) -> list[dict[str, Any]]:
    """The default config, then one with the global budget raised to Discord's own pace."""
    if smoke:
        limits = Limits(per_route=5, per_seconds=0.5, global_per_second=50)
        return [
            await measure(4, 10, limits, {"per_channel_interval_seconds": 0.1}),
        ]
    limits = Limits()
    return [
        await measure(50, 20, limits, {}),
        await measure(50, 20, limits, {"global_rate_per_second": 45.0}),
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
        rows += [
            (
                name,
                "drain time (fastest allowed)",
                f"{result['drain_s']} s ({result['fastest_s']} s) = {result['ratio']}x",
                "<= 1.3x",
            ),
            (name, "429s provoked", str(result["provoked_429"]), "0"),
        ]
    return rows


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="20 announcements, short windows")
    args = parser.parse_args()
    results = asyncio.run(run(args.smoke))
    for row in summary_rows(results):
        print(" | ".join(row))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
