"""The alert DM sender: after each poll commits new articles, matching members get a direct message.

The poller calls `on_new_articles` after its commit (or, for a `paperboy worker`'s polls, the
App after taking the worker's hand-off); the hook only queues the event, so polling never waits
for Discord. One worker sends the DMs in order. A refusal that will not change
(closed DMs: 403 with code 50007; an unknown user) switches that member's alerts off, and
`cogs.members` tells them the next time they use a command.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.announce import limits
from bot.announce.limits import hostile_to_markdown, safe_url, truncate
from bot.ingest.poller import NewArticlesEvent
from bot.services.alerts import CANNOT_DM_CODE, DMS_CLOSED_REASON, AlertDelivery

if TYPE_CHECKING:
    from cogs.client import PaperboyBot

log = logging.getLogger(__name__)

EMBED_COLOR = 0xB3202A
EXCERPT_CHARS = 300
UNKNOWN_USER_CODE = 10013


def alert_embed(delivery: AlertDelivery) -> discord.Embed:
    """The DM: the article's linked title, a short excerpt and which alert matched."""
    article = delivery.article
    summary = article.standfirst or article.excerpt
    embed = discord.Embed(
        title=truncate(
            limits.hostile_to_plain(article.title) or "Untitled article", limits.EMBED_TITLE_LIMIT
        ),
        url=safe_url(article.url),
        description=truncate(hostile_to_markdown(summary), EXCERPT_CHARS) or None,
        color=EMBED_COLOR,
    )
    terms = ", ".join(limits.hostile_to_plain(term) for term in delivery.terms)
    embed.set_footer(text=truncate(f"Your alert: {terms} · /alerts remove to stop", 2048))
    return embed


def is_permanent_refusal(error: discord.HTTPException) -> bool:
    """Whether Discord will keep refusing DMs to this user (closed DMs, unknown user)."""
    if isinstance(error, discord.Forbidden):
        return error.code == CANNOT_DM_CODE or error.code == 0
    return isinstance(error, discord.NotFound) and error.code in (UNKNOWN_USER_CODE, 0)


class AlertSender(commands.Cog):
    """Sends keyword-alert DMs for new articles, one at a time, in the background."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot
        self.queue: asyncio.Queue[NewArticlesEvent] = asyncio.Queue()
        self.idle = asyncio.Event()  # set whenever the queue has been worked through
        self.idle.set()
        self._worker: asyncio.Task[Any] | None = None

    async def cog_load(self) -> None:
        """Hook into the poller and start the sending worker."""
        self.bot.app.poller.on_new_articles.append(self.on_new_articles)
        self.bot.app.on_handed_articles.append(self.on_new_articles)  # a worker's polls
        self._worker = self.bot.app.tasks.spawn(self._run(), name="alert-sender")

    async def cog_unload(self) -> None:
        """Unhook and stop the worker (queued alerts are dropped; their claims stay)."""
        for hooks in (self.bot.app.poller.on_new_articles, self.bot.app.on_handed_articles):
            if self.on_new_articles in hooks:
                hooks.remove(self.on_new_articles)
        if self._worker is not None:
            self._worker.cancel()

    async def on_new_articles(self, event: NewArticlesEvent) -> None:
        """Queue a poll's new articles; a feed's first poll only seeds, so it alerts nobody."""
        if event.seeded or not event.article_ids:
            return
        self.idle.clear()
        self.queue.put_nowait(event)

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while True:
            event = await self.queue.get()
            try:
                await self.deliver(event)
            except Exception:
                log.exception("Sending alerts for feed %s failed", event.feed_id)
            finally:
                self.queue.task_done()
                if self.queue.empty():
                    self.idle.set()

    async def deliver(self, event: NewArticlesEvent) -> int:
        """Send every DM this event calls for; returns how many were delivered."""
        service = self.bot.app.alerts
        sent = 0
        for delivery in await service.deliveries_for(event.feed_id, event.article_ids):
            if await self.send(delivery):
                sent += 1
        return sent

    async def send(self, delivery: AlertDelivery) -> bool:
        """One DM; a permanent refusal switches the member's alerts off."""
        service = self.bot.app.alerts
        try:
            channel = await self.bot.create_dm(discord.Object(id=delivery.user_id))
            await channel.send(
                embed=alert_embed(delivery), allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as error:
            permanent = is_permanent_refusal(error)
            reason = DMS_CLOSED_REASON if permanent else f"Discord said: {error.text or error}"
            await service.delivery_failed(delivery.user_id, permanent=permanent, reason=reason)
            return False
        return True


async def setup(bot: PaperboyBot) -> None:
    """Load the alert sender."""
    await bot.add_cog(AlertSender(bot))
