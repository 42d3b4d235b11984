"""The Discord side of the core's protocols: `Sender`, `Notifier` and `ChangeLog`.

The client builds these once after login and hands them to `App.attach_discord`. Thin: the worker
(`bot.delivery.worker`) decides what goes out and when; `DiscordSender` turns a stored
`MessagePlan` into discord.py objects, posts it (text channel, forum post or webhook), looks for a
post after a crash, and maps Discord's answers onto `DeliveryError`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.announce.render import marker_of_custom_id
from bot.announce.tags import ForumTag, choose_tags
from bot.delivery.worker import Outgoing, RetryLater, SentMessage
from bot.errors import DeliveryError
from bot.services.admin import Change, shown
from bot.storage import ChannelWebhook
from cogs._render import allowed_mentions_of, embed_of, view_of

if TYPE_CHECKING:  # the client imports this module to build these after login
    from cogs.client import PaperboyBot

log = logging.getLogger(__name__)

HISTORY_LOOKBACK = 50
"""Recent messages searched for a marker after a crash (posts are paced, so this is minutes)."""
THREAD_LOOKBACK = 25
"""Most recent active forum posts searched for a marker after a crash."""
UNKNOWN_WEBHOOK = 10015
WEBHOOK_NAME = "Paperboy"


def _marker_pattern(marker: str) -> re.Pattern[str]:
    # A whole token: pb-o1 must not match inside pb-o12 (nor pb-o1 inside xpb-o1).
    return re.compile(rf"(?<![\w-]){re.escape(marker)}(?![\w-])")


def posted_by_paperboy(
    message: discord.Message, *, bot_user_id: int, webhook_id: int | None
) -> bool:
    """Whether Paperboy itself posted this message as an announcement: the bot user (not as an
    interaction reply), or the channel's own announcement webhook. Members, other bots and
    other webhooks can write anything, a marker included, so their messages never count."""
    if message.webhook_id is not None:
        # Interaction replies come from the application's webhook, never ours.
        return webhook_id is not None and message.webhook_id == webhook_id
    return message.author.id == bot_user_id and message.interaction_metadata is None


def _custom_ids(components: list[discord.Component]) -> list[str]:
    found: list[str] = []
    for component in components:
        if isinstance(component, discord.ActionRow):
            found.extend(_custom_ids(list(component.children)))
        else:
            custom_id = getattr(component, "custom_id", None)
            if isinstance(custom_id, str):
                found.append(custom_id)
    return found


def carries_marker(
    message: discord.Message, marker: str, *, bot_user_id: int, webhook_id: int | None = None
) -> bool:
    """Whether a message is Paperboy's announcement with this marker: posted by Paperboy
    (`posted_by_paperboy`) and carrying the marker in one of its buttons' custom ids, which
    members never read. Posts made before the marker moved there carry it as a whole token at
    the end of the content or an embed footer; they are still recognised."""
    if not marker or not posted_by_paperboy(
        message, bot_user_id=bot_user_id, webhook_id=webhook_id
    ):
        return False
    if any(marker_of_custom_id(c) == marker for c in _custom_ids(list(message.components))):
        return True
    pattern = _marker_pattern(marker)
    if pattern.search(message.content or ""):
        return True
    return any(pattern.search(embed.footer.text or "") for embed in message.embeds)


def delivery_error(error: Exception) -> DeliveryError:
    """Discord's answer in the worker's terms: 429/5xx/network are transient, 4xx permanent."""
    if isinstance(error, discord.RateLimited):
        return RetryLater(
            "Discord asked Paperboy to slow down.", status=429, retry_after=error.retry_after
        )
    if isinstance(error, discord.HTTPException):
        status = error.status
        detail = error.text or error.response.reason or "no detail"
        if status == 429 or status >= 500:
            return RetryLater(
                f"Discord answered {status}: {detail}", status=status, retry_after=None
            )
        return DeliveryError(f"Discord answered {status}: {detail}", permanent=True, status=status)
    if isinstance(error, discord.InvalidData | discord.ClientException):
        # The library refused before sending (e.g. a channel of the wrong kind): never retried.
        return DeliveryError(str(error) or type(error).__name__, permanent=True, status=400)
    return RetryLater(
        f"Could not reach Discord ({type(error).__name__}).", status=None, retry_after=None
    )


TRANSIENT_ERRORS = (discord.HTTPException, aiohttp.ClientError, OSError, asyncio.TimeoutError)


class DiscordSender:
    """Posts announcements with discord.py: text/embed, forum post or webhook."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot

    async def _channel(self, channel_id: int) -> discord.abc.GuildChannel | discord.Thread:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            channel = await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            raise DeliveryError(
                "That channel cannot take announcements.", permanent=True, status=400
            )
        return channel

    async def send(self, outgoing: Outgoing) -> SentMessage:
        """Post one announcement; raises DeliveryError."""
        try:
            channel = await self._channel(outgoing.channel_id)
            if isinstance(channel, discord.ForumChannel):
                return await self._send_forum(channel, outgoing)
            if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
                raise DeliveryError(
                    "That channel cannot take announcements.", permanent=True, status=400
                )
            if outgoing.format == "webhook" and isinstance(channel, discord.TextChannel):
                return await self._send_webhook(channel, outgoing)
            return await self._send_text(channel, outgoing)
        except DeliveryError:
            raise
        except (*TRANSIENT_ERRORS, discord.ClientException) as error:
            raise delivery_error(error) from error

    async def _send_text(
        self, channel: discord.TextChannel | discord.Thread | discord.VoiceChannel, out: Outgoing
    ) -> SentMessage:
        plan = out.plan
        message = await channel.send(
            content=plan.content or None,
            embeds=[embed_of(e) for e in plan.embeds],
            view=view_of(plan) or discord.utils.MISSING,
            allowed_mentions=allowed_mentions_of(plan),
            nonce=out.nonce,  # discord.py sets enforce_nonce: a repeat within minutes is merged
        )
        thread_id = None
        if plan.thread_name and isinstance(channel, discord.TextChannel):
            try:
                thread = await message.create_thread(name=plan.thread_name)
                thread_id = thread.id
            except discord.HTTPException as error:
                # The announcement is out; a missing discussion thread must not repeat it.
                log.warning("Could not open a thread on message %s: %s", message.id, error)
        return SentMessage(message.id, thread_id)

    async def _send_forum(self, forum: discord.ForumChannel, out: Outgoing) -> SentMessage:
        plan = out.plan
        me = forum.guild.me
        can_moderate = me is not None and forum.permissions_for(me).manage_threads
        tags = tuple(ForumTag(tag.id, tag.name, tag.moderated) for tag in forum.available_tags)
        chosen = choose_tags(
            out.categories,
            tags,
            requires_tag=forum.flags.require_tag,
            fallback_tag_id=out.fallback_tag_id,
            can_apply_moderated=can_moderate,
        )
        applied = [tag for tag in forum.available_tags if tag.id in chosen]
        created = await forum.create_thread(
            name=plan.thread_name or "Article",
            content=plan.content or None,
            embeds=[embed_of(e) for e in plan.embeds],
            view=view_of(plan) or discord.utils.MISSING,
            allowed_mentions=allowed_mentions_of(plan),
            applied_tags=applied,
        )
        return SentMessage(created.message.id, created.thread.id)

    async def _webhook(self, channel: discord.TextChannel) -> discord.Webhook:
        stored = await self.bot.app.storage.channel_webhook(channel.id)
        if stored is not None:
            return discord.Webhook.partial(stored.webhook_id, stored.token, client=self.bot)
        webhook = await channel.create_webhook(name=WEBHOOK_NAME, reason="Paperboy announcements")
        assert webhook.token is not None
        await self.bot.app.storage.save_channel_webhook(
            ChannelWebhook(channel.id, webhook.id, webhook.token), now=self.bot.app.clock.now()
        )
        return webhook

    async def _send_webhook(self, channel: discord.TextChannel, out: Outgoing) -> SentMessage:
        plan = out.plan
        for _ in range(2):
            webhook = await self._webhook(channel)
            try:
                message = await webhook.send(
                    content=plan.content or discord.utils.MISSING,
                    embeds=[embed_of(e) for e in plan.embeds],
                    username=plan.username or discord.utils.MISSING,
                    avatar_url=plan.avatar_url or discord.utils.MISSING,
                    view=view_of(plan) or discord.utils.MISSING,
                    allowed_mentions=allowed_mentions_of(plan),
                    wait=True,
                )
            except discord.NotFound as error:
                if error.code != UNKNOWN_WEBHOOK:
                    raise
                # Deleted by someone: never used again; make a fresh one and try once more.
                await self.bot.app.storage.forget_channel_webhook(channel.id, webhook.id)
                continue
            return SentMessage(message.id)
        raise DeliveryError("The channel's webhook keeps disappearing.", permanent=True, status=404)

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        """Look for the marker among recent messages (or recent forum posts) that Paperboy
        itself posted; a member quoting a marker must not make a lost post count as sent."""
        marker = outgoing.plan.marker
        try:
            channel = await self._channel(outgoing.channel_id)
            if isinstance(channel, discord.ForumChannel):
                return await self._find_in_forum(channel, marker)
            if not isinstance(channel, discord.abc.Messageable):
                return None
            stored = await self.bot.app.storage.channel_webhook(outgoing.channel_id)
            webhook_id = stored.webhook_id if stored is not None else None
            async for message in channel.history(limit=HISTORY_LOOKBACK):
                if carries_marker(
                    message, marker, bot_user_id=self._bot_user_id(), webhook_id=webhook_id
                ):
                    thread = message.thread
                    return SentMessage(message.id, thread.id if thread else None)
            return None
        except DeliveryError:
            raise
        except TRANSIENT_ERRORS as error:
            raise delivery_error(error) from error

    def _bot_user_id(self) -> int:
        user = self.bot.user
        if user is None:  # not logged in: nothing can be recognised as ours
            raise RetryLater("Not connected to Discord yet.", status=None, retry_after=None)
        return user.id

    async def _find_in_forum(self, forum: discord.ForumChannel, marker: str) -> SentMessage | None:
        threads = [t for t in await forum.guild.active_threads() if t.parent_id == forum.id]
        threads.sort(key=lambda t: t.id, reverse=True)
        # A post made just before a crash is normally active; after a long outage it may have
        # been archived already, so those are searched too.
        archived = [t async for t in forum.archived_threads(limit=THREAD_LOOKBACK)]
        bot_user_id = self._bot_user_id()
        for thread in [*threads[:THREAD_LOOKBACK], *archived]:
            try:
                starter = await thread.fetch_message(thread.id)
            except discord.NotFound:
                continue
            if carries_marker(starter, marker, bot_user_id=bot_user_id):
                return SentMessage(starter.id, thread.id)
        return None


class DiscordNotifier:
    """Tells moderators in the guild's log channel, else its system channel, else nobody."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot

    async def tell_moderators(self, guild_id: int, text: str) -> None:
        """Post `text` where moderators read; nobody is pinged."""
        settings = await self.bot.app.storage.guild_settings(guild_id)
        guild = self.bot.get_guild(guild_id)
        channel: discord.abc.Messageable | None = None
        if settings.log_channel_id is not None:
            found = self.bot.get_channel(settings.log_channel_id)
            channel = found if isinstance(found, discord.abc.Messageable) else None
        if channel is None and guild is not None:
            channel = guild.system_channel
        if channel is None:
            log.info("Guild %s has no log or system channel; not told: %s", guild_id, text)
            return
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as error:
            log.warning("Could not tell guild %s's moderators: %s", guild_id, error)


class DiscordChangeLog:
    """Posts configuration changes (from `FeedAdmin`) in the guild's log channel, if it has one."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot

    async def post_change(self, change: Change) -> None:
        """Tell the guild's log channel about a configuration change."""
        if change.log_channel_id is None:
            return
        channel = self.bot.get_channel(change.log_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        who = f"<@{change.user_id}>" if change.user_id else "Paperboy"
        try:
            await channel.send(
                f"{who}: `{change.action}` {shown(change.detail, 1500)}",
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.warning("Could not post to log channel %s: %s", change.log_channel_id, error)
