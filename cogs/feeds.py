"""/feeds: moderators manage subscriptions. Thin: read input, call `FeedAdmin`, render the reply."""

from __future__ import annotations

import io
import logging
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.announce.digest import DAYS
from bot.announce.filters import display_text
from bot.announce.render import MessagePlan
from bot.announce.template import format_date
from bot.errors import InvalidInput
from bot.models import DIGEST_CHOICES, FORMATS, ON_CHANGE_CHOICES, MentionRule
from bot.services.admin import (
    ChannelInfo,
    FilterTest,
    Health,
    SubscriptionOptions,
    SubscriptionSummary,
    shown,
)
from bot.services.portability import MAX_IMPORT_BYTES, GuildDirectory
from bot.services.rhythm import RhythmChange, change_rhythm
from bot.services.rhythm import describe as describe_rhythm
from cogs._checks import channel_info, is_moderator, require_moderator
from cogs._render import allowed_mentions_of, embed_of, view_of
from cogs.builder import OpenBuilders, answer_closed_builder, open_builder
from cogs.client import PaperboyBot

log = logging.getLogger(__name__)

PAGE_SIZE = 10
DATE_FORMAT = "%d %b %Y %H:%M %Z"
FORMAT_CHOICES = [app_commands.Choice(name=name, value=name) for name in FORMATS]
NO_MENTIONS = discord.AllowedMentions.none()
ON_CHANGE_OPTIONS = [app_commands.Choice(name=name, value=name) for name in ON_CHANGE_CHOICES]
DIGEST_OPTIONS = [app_commands.Choice(name=name, value=name) for name in (*DIGEST_CHOICES, "off")]
DAY_OPTIONS = [
    app_commands.Choice(name=day.title(), value=number) for number, day in enumerate(DAYS)
]


def _when(moment: datetime | None, timezone: str) -> str:
    return format_date(moment, timezone, DATE_FORMAT) if moment else "never"


def _interval(seconds: int | None) -> str:
    return f"every {seconds:,} seconds" if seconds else "the default"


def summary_line(item: SubscriptionSummary) -> str:
    """One subscription in a list: id, feed title, channel, format, state."""
    sub = item.subscription
    state = sub.state + (
        f" ({shown(sub.pause_reason, 80)})" if sub.paused and sub.pause_reason else ""
    )
    named = f" “{shown(sub.name, 40)}”" if sub.name else ""
    return (
        f"`#{sub.id}` **{shown(item.feed.display_name, 80)}**{named} → <#{sub.channel_id}> · "
        f"{sub.format} · {state}"
    )


def mentions_text(
    default_role_id: int | None, rules: tuple[MentionRule, ...] | list[MentionRule]
) -> str:
    """Who a subscription pings: its default role, then each rule with its filter."""
    parts = [f"<@&{default_role_id}> always"] if default_role_id is not None else []
    for rule in rules:
        condition = f"if `{shown(display_text(rule.filter), 80)}`" if rule.filter else "always"
        parts.append(f"<@&{rule.role_id}> {condition}")
    return ", ".join(parts) if parts else "nobody"


PAGE_CHARS = 1900
"""A /feeds list page stays under Discord's 2,000 characters with its page footer."""
LISTED_FILTER_CHARS = 60


def listing_line(item: SubscriptionSummary) -> str:
    """A /feeds list line: the summary, its filters and who it pings (filters shortened)."""
    sub = item.subscription
    parts = [summary_line(item)]
    for what, stored in (("include", sub.include_filter), ("exclude", sub.exclude_filter)):
        if stored:
            parts.append(f"{what} `{shown(display_text(stored), LISTED_FILTER_CHARS)}`")
    if sub.mention_role_id is not None or item.mention_rules:
        pings = [f"<@&{sub.mention_role_id}>"] if sub.mention_role_id is not None else []
        pings += [
            f"<@&{rule.role_id}>" + (" (filtered)" if rule.filter else "")
            for rule in item.mention_rules
        ]
        parts.append("pings " + " ".join(pings))
    line = " · ".join(parts)
    return line if len(line) <= PAGE_CHARS else line[: PAGE_CHARS - 1] + "…"


def paged(lines: list[str]) -> list[str]:
    """Lines grouped into pages of at most PAGE_SIZE lines and PAGE_CHARS characters."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        current = pages[-1]
        if current and (len(current) >= PAGE_SIZE or size + 1 + len(line) > PAGE_CHARS):
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += len(line) + 1
    return ["\n".join(page) for page in pages]


def filter_test_text(result: FilterTest) -> str:
    """The /feeds test-filter reply: each of the newest items, passing or not, and why."""
    passing = sum(1 for item in result.items if item.announced)
    lines = [
        f"Filter `{shown(result.filter_text, 300)}` on the {len(result.items)} newest items of "
        f"**{shown(result.feed.display_name, 80)}**: {passing} would be announced. "
        "Nothing was saved."
    ]
    if result.exclude_text:
        lines.append(f"The exclude filter `{shown(result.exclude_text, 200)}` applies too.")
    for item in result.items:
        title = shown(item.title or item.url or "Untitled", 90)
        if item.excluded is not None:
            lines.append(f"❌ {title}: excluded ({shown(item.excluded.why(3), 150)})")
        elif item.verdict.ok:
            lines.append(f"✅ {title}: passes ({shown(item.verdict.why(3), 150)})")
        else:
            lines.append(f"❌ {title}: filtered out ({shown(item.verdict.why(3), 150)})")
    text = "\n".join(lines)
    return text if len(text) <= 2000 else text[:1990] + "\n…"


def stalls_text(stalls: int, threshold_seconds: float) -> str:
    """The bot's own health line: how often its event loop was blocked since it started."""
    return f"Event loop blocked over {threshold_seconds * 1000:.0f} ms since start: {stalls} times"


def health_text(health: Health, timezone: str) -> str:
    """The health block of one subscription."""
    feed, sub = health.feed, health.subscription
    lines = [
        f"`#{sub.id}` **{shown(feed.display_name, 80)}** → <#{sub.channel_id}> ({sub.state})",
        f"Last successful check: {_when(feed.last_success_at, timezone)}",
        f"Next check: {_when(feed.next_check_at, timezone)}",
        # This server's own setting: the feed is checked at least this often, whatever others ask.
        f"Interval: {_interval(sub.interval_seconds)}",
        f"Consecutive failures: {feed.consecutive_failures}",
    ]
    if feed.last_error_kind:
        lines.append(
            f"Last error: {shown(feed.last_error_kind, 40)}: {shown(feed.last_error_message or '')}"
        )
    lines.append(
        f"Deliveries: {health.pending} pending, {health.failed} failed, {health.sent} sent"
    )
    if health.last_delivery_error:
        lines.append(f"Last delivery failure: {shown(health.last_delivery_error)}")
    if sub.paused and sub.pause_reason:
        lines.append(f"Paused: {shown(sub.pause_reason)}")
    return "\n".join(lines)


class ListView(discord.ui.View):
    """Pages of `/feeds list` with Previous/Next buttons, usable only by whoever asked."""

    def __init__(self, pages: list[str], owner_id: int) -> None:
        super().__init__(timeout=600)
        self.pages = pages
        self.owner_id = owner_id
        self.index = 0
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    def content(self) -> str:
        """The current page with its position."""
        return f"{self.pages[self.index]}\n-# Page {self.index + 1} of {len(self.pages)}"

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Only the moderator who listed may turn the pages."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "These buttons belong to whoever ran /feeds list.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        """Show the previous page."""
        self.index = max(0, self.index - 1)
        self._sync()
        await interaction.response.edit_message(content=self.content(), view=self)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        """Show the next page."""
        self.index = min(len(self.pages) - 1, self.index + 1)
        self._sync()
        await interaction.response.edit_message(content=self.content(), view=self)


def _guild_id(interaction: discord.Interaction[Any]) -> int:
    assert interaction.guild_id is not None  # guild_only, and require_moderator checked it
    return interaction.guild_id


def _resolve_channel(interaction: discord.Interaction[Any], channel_id: int) -> ChannelInfo:
    guild = interaction.guild
    found = guild.get_channel_or_thread(channel_id) if guild is not None else None
    if found is None:
        raise InvalidInput("Paperboy cannot see that channel; check it can View Channel there.")
    return channel_info(found)


def directory_of(guild: discord.Guild) -> GuildDirectory:
    """The guild's channels (with the bot's permissions) and roles, for export and import."""
    channels = {
        channel.id: channel_info(channel)
        for channel in guild.channels
        if not isinstance(channel, discord.CategoryChannel)
    }
    roles = {role.id: role.name for role in guild.roles if not role.is_default()}
    managed = frozenset(role.id for role in guild.roles if role.managed)
    return GuildDirectory(channels, roles, managed)


async def send_preview(
    interaction: discord.Interaction[Any], intro: str, plan: MessagePlan | None
) -> None:
    """A private reply with the plan rendered as it will be posted (buttons that link only)."""
    if plan is None:
        await interaction.followup.send(intro, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    body = f"{intro}\n\n{plan.content}" if plan.content else intro
    kwargs: dict[str, Any] = {"embeds": [embed_of(embed) for embed in plan.embeds]}
    view = view_of(plan, with_custom_ids=False)
    if view is not None:
        kwargs["view"] = view
    # A preview never pings: the moderator sees the mention, nobody is notified.
    mentions = allowed_mentions_of(plan)
    mentions.roles = False
    await interaction.followup.send(
        body[:2000], ephemeral=True, allowed_mentions=mentions, **kwargs
    )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Feeds(commands.GroupCog, group_name="feeds", group_description="Manage news feeds"):
    """The /feeds command group."""

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot
        self.admin = bot.app.admin
        self.diagnoser = bot.app.diagnoser
        self.portability = bot.app.portability
        self.watchdog = bot.app.watchdog
        self.open_builders = OpenBuilders()
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Moderators only, checked by the bot whatever Discord showed."""
        return await require_moderator(interaction)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """A click on a message builder that is closed is told so (no view answers it)."""
        await answer_closed_builder(interaction, self.open_builders)

    async def _timezone(self, guild_id: int) -> str:
        return (await self.admin.settings(guild_id)).timezone

    async def subscription_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """This guild's subscriptions only (named ones with their name), only for moderators."""
        if interaction.guild_id is None or not await is_moderator(interaction):
            return []
        return [
            app_commands.Choice(name=label, value=str(sub_id))
            for label, sub_id in await self.admin.choices(interaction.guild_id, current)
        ]

    async def _subscription_id(self, interaction: discord.Interaction[Any], text: str) -> int:
        """The subscription picked from the list, or typed as its number or name."""
        return await self.admin.resolve(_guild_id(interaction), text)

    # -- commands -------------------------------------------------------------------------------

    @app_commands.command(name="add")
    @app_commands.describe(
        url="The feed's address, or the site's home page (Paperboy finds the feed)",
        channel="Where new articles are announced: a channel, a thread or a forum post",
        format="embed (default), text, forum (forum channels) or webhook",
        mention="A role to ping with each announcement",
        include='Only announce matching articles, e.g. housing OR title:"rent strike"',
        exclude="Never announce matching articles, e.g. category:Sport OR NOT author:Reuters",
        template="Text format, e.g. **{title}** {url}",
        interval="Seconds between checks of this feed for this server",
        thread="Open a discussion thread under each announcement",
        shorts="YouTube channels: include Shorts (default yes; no follows videos only)",
        name="A name telling apart several subscriptions of one feed in one channel",
    )
    @app_commands.choices(format=FORMAT_CHOICES)
    async def add(
        self,
        interaction: discord.Interaction[Any],
        url: app_commands.Range[str, 1, 2048],
        channel: discord.TextChannel | discord.ForumChannel | discord.Thread,
        format: str | None = None,
        mention: discord.Role | None = None,
        # Past the filter limit (1,000), so the bot's own message names the limit and the place.
        include: app_commands.Range[str, 1, 2000] | None = None,
        exclude: app_commands.Range[str, 1, 2000] | None = None,
        template: app_commands.Range[str, 1, 1500] | None = None,
        interval: app_commands.Range[int, 1, 604800] | None = None,
        thread: bool | None = None,
        shorts: bool | None = None,
        name: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Announce a feed's new articles in a channel."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = _guild_id(interaction)
        target = _resolve_channel(interaction, channel.id)
        options = SubscriptionOptions(
            format=format,
            mention_role_id=mention.id if mention else None,
            include=include,
            exclude=exclude,
            template=template,
            interval_seconds=interval,
            auto_thread=thread,
            name=name,
        )
        result = await self.admin.add(
            guild_id, interaction.user.id, url, target, options, youtube_shorts=shorts is not False
        )
        named = f" “{shown(result.subscription.name, 40)}”" if result.subscription.name else ""
        intro = (
            f"Added `#{result.subscription.id}`{named}: "
            f"**{shown(result.feed.display_name, 100)}** "
            f"({result.feed.url}) → <#{target.id}> as {result.subscription.format}. "
            f"Recognised: {shown(result.recognised, 200)}. "
            f"The feed has {result.item_count} items."
        )
        if result.preview is not None:
            intro += " Its newest item will look like this:"
        await send_preview(interaction, intro, result.preview)

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """List this server's feed subscriptions."""
        items = await self.admin.subscriptions(_guild_id(interaction))
        if not items:
            await interaction.response.send_message(
                "This server has no subscriptions yet; add one with /feeds add.", ephemeral=True
            )
            return
        pages = paged([listing_line(item) for item in items])
        view = ListView(pages, interaction.user.id)
        await interaction.response.send_message(
            view.content(), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="remove")
    @app_commands.describe(subscription="The subscription to remove")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], subscription: str) -> None:
        """Stop announcing a feed in a channel."""
        sub_id = await self._subscription_id(interaction, subscription)
        gone = await self.admin.remove(_guild_id(interaction), interaction.user.id, sub_id)
        await interaction.response.send_message(
            f"Removed {summary_line(gone)}", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="edit")
    @app_commands.describe(
        subscription="The subscription to change",
        format="embed, text, forum or webhook",
        mention="A role to ping with every announcement (/feeds mention adds conditional ones)",
        no_mention="Stop pinging that role",
        include="Only announce matching articles (a filter; '-' clears)",
        exclude="Never announce matching articles ('-' clears)",
        template="Text format ('-' goes back to the default)",
        interval="Seconds between checks of this feed for this server",
        thread="Open a discussion thread under each announcement",
        name="Its name among subscriptions of this feed in this channel ('-' removes it)",
    )
    @app_commands.choices(format=FORMAT_CHOICES)
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction[Any],
        subscription: str,
        format: str | None = None,
        mention: discord.Role | None = None,
        no_mention: bool = False,
        include: app_commands.Range[str, 1, 2000] | None = None,
        exclude: app_commands.Range[str, 1, 2000] | None = None,
        template: app_commands.Range[str, 1, 1500] | None = None,
        interval: app_commands.Range[int, 1, 604800] | None = None,
        thread: bool | None = None,
        name: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Change how a subscription announces."""
        guild_id = _guild_id(interaction)

        def cleared(value: str | None) -> str | None:
            return "" if value is not None and value.strip() == "-" else value

        sub_id = await self._subscription_id(interaction, subscription)
        current = await self.admin.storage.subscription(sub_id, guild_id=guild_id)
        target = (
            _resolve_channel(interaction, current.channel_id)
            if current is not None
            and interaction.guild is not None
            and interaction.guild.get_channel_or_thread(current.channel_id) is not None
            else None
        )
        updated = await self.admin.edit(
            guild_id,
            interaction.user.id,
            sub_id,
            SubscriptionOptions(
                format=format,
                mention_role_id=mention.id if mention else None,
                clear_mention=no_mention,
                include=cleared(include),
                exclude=cleared(exclude),
                template=cleared(template),
                interval_seconds=interval,
                auto_thread=thread,
                name=cleared(name),
            ),
            target,
        )
        await interaction.response.send_message(
            f"Updated {summary_line(updated)}", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="rhythm")
    @app_commands.describe(
        subscription="The subscription to pace",
        quiet_start="Hold posts from this local time (HH:MM, the server's time zone)",
        quiet_end="... until this local time (HH:MM); held posts then go out in order",
        no_quiet="Remove the quiet hours",
        daily_cap="At most this many posts per local day; the rest wait for the next day",
        no_cap="Remove the daily cap",
        on_change="When a posted article's title, standfirst or image changes",
        digest="Post new items as one scheduled digest instead of one by one (off: instant)",
        digest_time="The digest's local time (HH:MM, the server's time zone)",
        digest_day="A weekly digest's day",
        digest_size="Items per digest (the rest wait for the next one)",
    )
    @app_commands.choices(on_change=ON_CHANGE_OPTIONS, digest=DIGEST_OPTIONS)
    @app_commands.choices(digest_day=DAY_OPTIONS)
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def rhythm(
        self,
        interaction: discord.Interaction[Any],
        subscription: str,
        quiet_start: app_commands.Range[str, 1, 5] | None = None,
        quiet_end: app_commands.Range[str, 1, 5] | None = None,
        no_quiet: bool = False,
        daily_cap: app_commands.Range[int, 1, 1000] | None = None,
        no_cap: bool = False,
        on_change: str | None = None,
        digest: str | None = None,
        digest_time: app_commands.Range[str, 1, 5] | None = None,
        digest_day: int | None = None,
        digest_size: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        """Quiet hours, a daily cap, digests, edits of changed articles (no options: show them)."""
        change = RhythmChange(
            quiet_start,
            quiet_end,
            no_quiet,
            daily_cap,
            no_cap,
            on_change,
            digest,
            digest_time,
            digest_day,
            digest_size,
        )
        sub_id = await self._subscription_id(interaction, subscription)
        item, rhythm = await change_rhythm(
            self.admin, _guild_id(interaction), interaction.user.id, sub_id, change
        )
        verb = "Rhythm of" if change.empty else "Updated the rhythm of"
        await interaction.response.send_message(
            f"{verb} `#{item.id}` → <#{item.channel_id}>: {describe_rhythm(rhythm)}.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="pause")
    @app_commands.describe(subscription="The subscription to pause")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def pause(self, interaction: discord.Interaction[Any], subscription: str) -> None:
        """Stop announcing a subscription for now."""
        sub_id = await self._subscription_id(interaction, subscription)
        item = await self.admin.pause(_guild_id(interaction), interaction.user.id, sub_id)
        await interaction.response.send_message(
            f"Paused {summary_line(item)}", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="resume")
    @app_commands.describe(subscription="The subscription to resume")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def resume(self, interaction: discord.Interaction[Any], subscription: str) -> None:
        """Resume a paused subscription; the feed is checked now and failed posts retried."""
        sub_id = await self._subscription_id(interaction, subscription)
        item, retried = await self.admin.resume(_guild_id(interaction), interaction.user.id, sub_id)
        extra = f" {retried} failed deliveries will be tried again." if retried else ""
        await interaction.response.send_message(
            f"Resumed {summary_line(item)}. The feed will be checked now.{extra}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="preview")
    @app_commands.describe(subscription="The subscription to preview")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def preview(self, interaction: discord.Interaction[Any], subscription: str) -> None:
        """Show privately how the feed's newest item would be posted."""
        sub_id = await self._subscription_id(interaction, subscription)
        await interaction.response.defer(ephemeral=True, thinking=True)
        plan = await self.admin.preview(_guild_id(interaction), sub_id)
        await send_preview(interaction, f"Preview of subscription `#{sub_id}`:", plan)

    @app_commands.command(name="message")
    @app_commands.describe(subscription="The subscription whose announcements to design")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def message(self, interaction: discord.Interaction[Any], subscription: str) -> None:
        """Design how a subscription's announcements look, with a live private preview."""
        sub_id = await self._subscription_id(interaction, subscription)
        await open_builder(interaction, self.bot.app.builder, sub_id, self.open_builders)

    @app_commands.command(name="test-filter")
    @app_commands.describe(
        subscription="The subscription whose feed to test on",
        filter='The filter to try, e.g. housing OR title:"rent strike" AND NOT category:Sport',
    )
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def test_filter(
        self,
        interaction: discord.Interaction[Any],
        subscription: str,
        filter: app_commands.Range[str, 1, 2000],
    ) -> None:
        """Try a filter on the feed's 20 newest items, privately; nothing is saved."""
        sub_id = await self._subscription_id(interaction, subscription)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.admin.test_filter(_guild_id(interaction), sub_id, filter)
        await interaction.followup.send(
            filter_test_text(result), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    mention = app_commands.Group(
        name="mention", description="Roles pinged with a subscription's announcements"
    )

    @mention.command(name="add")
    @app_commands.describe(
        subscription="The subscription whose announcements ping the role",
        role="The role to ping",
        filter='Ping only for matching articles, e.g. title:"rent strike" (default: every one)',
    )
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def mention_add(
        self,
        interaction: discord.Interaction[Any],
        subscription: str,
        role: discord.Role,
        filter: app_commands.Range[str, 1, 2000] | None = None,
    ) -> None:
        """Ping a role with a subscription's announcements, optionally only matching ones."""
        sub_id = await self._subscription_id(interaction, subscription)
        rule = await self.admin.add_mention_rule(
            _guild_id(interaction), interaction.user.id, sub_id, role.id, filter or ""
        )
        condition = (
            f"when an article matches `{shown(rule.filter, 300)}`"
            if rule.filter
            else "with every announcement"
        )
        await interaction.response.send_message(
            f"Subscription `#{sub_id}` now pings <@&{role.id}> {condition}.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @mention.command(name="remove")
    @app_commands.describe(
        subscription="The subscription whose rule to remove", role="The role to stop pinging"
    )
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def mention_remove(
        self, interaction: discord.Interaction[Any], subscription: str, role: discord.Role
    ) -> None:
        """Stop pinging a role through a subscription's mention rule."""
        sub_id = await self._subscription_id(interaction, subscription)
        await self.admin.remove_mention_rule(
            _guild_id(interaction), interaction.user.id, sub_id, role.id
        )
        await interaction.response.send_message(
            f"Subscription `#{sub_id}` no longer pings <@&{role.id}> through a rule.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @mention.command(name="list")
    @app_commands.describe(subscription="The subscription whose mention rules to show")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def mention_list(self, interaction: discord.Interaction[Any], subscription: str) -> None:
        """Show which roles a subscription pings, and when."""
        sub_id = await self._subscription_id(interaction, subscription)
        summary, rules = await self.admin.mention_rules(_guild_id(interaction), sub_id)
        text = (
            f"{summary_line(summary)}\nPings: "
            f"{mentions_text(summary.subscription.mention_role_id, rules)}"
        )
        await interaction.response.send_message(
            text[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="status")
    @app_commands.describe(subscription="One subscription (default: all of them)")
    @app_commands.autocomplete(subscription=subscription_autocomplete)
    async def status(
        self, interaction: discord.Interaction[Any], subscription: str | None = None
    ) -> None:
        """Show feed health: last check, errors, next check, pending and failed posts."""
        guild_id = _guild_id(interaction)
        timezone = await self._timezone(guild_id)
        sub_id = (
            await self._subscription_id(interaction, subscription)
            if subscription is not None
            else None
        )
        report = await self.admin.status(guild_id, sub_id)
        if not report:
            text = "This server has no subscriptions yet; add one with /feeds add."
        else:
            text = "\n\n".join(health_text(h, timezone) for h in report)
        text += f"\n\n{stalls_text(self.watchdog.stalls, self.watchdog.threshold)}"
        if len(text) > 2000:
            text = text[:1990] + "\n…"
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="why")
    @app_commands.describe(url="The article's address")
    async def why(
        self, interaction: discord.Interaction[Any], url: app_commands.Range[str, 1, 2048]
    ) -> None:
        """Explain what happened to one article in this server."""
        explanation = await self.diagnoser.why(_guild_id(interaction), url)
        heading = f"**{explanation.title}**\n" if explanation.title else ""
        text = (heading + explanation.text)[:2000]
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="export")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        """Download this server's subscriptions and settings as a JSON file."""
        guild = interaction.guild
        assert guild is not None
        data = await self.portability.export(guild.id, directory_of(guild))
        file = discord.File(io.BytesIO(data), filename=f"paperboy-{guild.id}.json")
        await interaction.response.send_message(
            "This server's Paperboy configuration; /feeds import reads it back.",
            file=file,
            ephemeral=True,
        )

    @app_commands.command(name="import")
    @app_commands.describe(
        file="A /feeds export JSON file, or an OPML list of feeds",
        channel="For OPML: the channel its feeds go to",
    )
    async def import_(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        """Add subscriptions (and settings) from an export or an OPML file."""
        if file.size > MAX_IMPORT_BYTES:
            raise InvalidInput(
                f"The file is {file.size:,} bytes; "
                f"the most accepted is {MAX_IMPORT_BYTES:,} (1 MiB)."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = interaction.guild
        assert guild is not None
        data = await file.read()
        default = _resolve_channel(interaction, channel.id) if channel is not None else None
        report = await self.portability.import_file(
            guild.id,
            interaction.user.id,
            data,
            directory_of(guild),
            default_channel=default,
            may_change_moderator_role=interaction.permissions.manage_guild,
        )
        lines = [f"Imported: {len(report.added)} added, {len(report.skipped)} skipped."]
        lines += [f"+ {line}" for line in report.added[:15]]
        lines += [f"= {line}" for line in report.skipped[:15]]
        if report.settings_changed:
            lines.append("Settings were replaced by the file's.")
        lines += report.notes
        await interaction.followup.send(
            "\n".join(lines)[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: PaperboyBot) -> None:
    """Load the /feeds commands."""
    await bot.add_cog(Feeds(bot))
