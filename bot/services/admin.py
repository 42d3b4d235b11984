"""Moderator configuration: feed subscriptions and guild settings, validated and explained.

Discord-free. The cog describes the target channel as a `ChannelInfo` (its kind and the bot's
permissions there) and the invoker as a user id; everything else is decided here, with
`PaperboyError`s whose messages say exactly what is wrong. Every change is recorded in the audit
log and handed to the `on_change` hooks (the Discord layer's `ChangeLog` posts it to the guild's
log channel).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal, Protocol
from zoneinfo import available_timezones

from bot.announce import filters
from bot.announce.filters import FilterError, parse_filter
from bot.announce.limits import escape_markdown, neutralise_mentions
from bot.announce.mentions import MAX_RULES_PER_SUBSCRIPTION
from bot.announce.message import MessageSettings
from bot.announce.plan import announcement_article, archived_announcement, subscription_view
from bot.announce.render import AnnouncementArticle, MessagePlan, render_plan
from bot.announce.template import validate_template, validate_timezone
from bot.clock import Clock
from bot.config import Config
from bot.errors import InvalidInput, NotFound
from bot.feeds import ParsedFeed, parse_feed_off_loop
from bot.fetch import Fetcher, check_url
from bot.ingest import schedule
from bot.ingest.discovery import resolve_source
from bot.ingest.schedule import ScheduleSettings
from bot.models import (
    FORMATS,
    MODERATOR_PAUSE_REASON,
    Feed,
    Format,
    GuildScope,
    GuildSettings,
    MentionRule,
    NewSubscription,
    Subscription,
)
from bot.storage import Storage, SubscriptionLimitReached
from bot.tasks import run_hooks
from bot.textutil import clean_text
from bot.workpool import WorkPool

log = logging.getLogger(__name__)

MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 40
MAX_INTERVAL_SECONDS = 7 * 86400
PREVIEW_OUTBOX_ID = 0
"""Previews are never stored, so their delivery marker uses no real outbox id."""
FILTER_TEST_ITEMS = 20
"""/feeds test-filter looks at this many of the feed's newest items."""

ChannelKind = Literal["text", "news", "forum", "thread", "other"]
ChangeHook = Callable[["Change"], Awaitable[None]]
FeedHook = Callable[[int], Awaitable[object]]

# Permission names as discord.py spells them, and how Discord's client labels them.
PERMISSION_LABELS: dict[str, str] = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
    "manage_webhooks": "Manage Webhooks",
}
_FORMAT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "text": ("send_messages",),
    "embed": ("send_messages", "embed_links"),
    # Creating a forum post is Discord's "Send Messages" (shown as "Create Posts" in forums).
    "forum": ("send_messages", "send_messages_in_threads", "embed_links"),
    "webhook": ("manage_webhooks",),
}
_ALWAYS_NEEDED = ("view_channel", "read_message_history")


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as the Discord layer sees it: kind, name and the bot's permissions there."""

    id: int
    name: str
    kind: ChannelKind
    bot_permissions: frozenset[str]


@dataclass(frozen=True)
class Change:
    """One recorded configuration change, for the guild's log channel."""

    guild_id: int
    user_id: int | None
    action: str
    detail: str
    log_channel_id: int | None


class ChangeLog(Protocol):
    """Posts configuration changes where the guild's moderators read (the Discord layer)."""

    async def post_change(self, change: Change) -> None:
        """Tell the guild's log channel about `change`, if it has one (best effort)."""
        ...


@dataclass(frozen=True)
class SubscriptionOptions:
    """What a moderator may set on a subscription; None means "leave as it is" when editing."""

    format: str | None = None
    mention_role_id: int | None = None
    include: str | None = None
    exclude: str | None = None
    template: str | None = None
    interval_seconds: int | None = None
    auto_thread: bool | None = None
    clear_mention: bool = False
    name: str | None = None


@dataclass(frozen=True)
class AddResult:
    """What `/feeds add` found and created."""

    subscription: Subscription
    feed: Feed
    item_count: int
    preview: MessagePlan | None
    recognised: str = ""
    """What the address was taken for and what is followed: "YouTube channel Example (videos
    without Shorts)", "subreddit r/python", "feed Example News"."""


@dataclass(frozen=True)
class SubscriptionSummary:
    """One line of `/feeds list`."""

    subscription: Subscription
    feed: Feed
    mention_rules: tuple[MentionRule, ...] = ()


@dataclass(frozen=True)
class CheckedItem:
    """One feed item under /feeds test-filter: whether it would be announced, and why."""

    title: str
    url: str
    verdict: filters.Verdict
    excluded: filters.Verdict | None = None
    """The subscription's exclude filter's verdict, when it would keep the item out anyway."""

    @property
    def announced(self) -> bool:
        """Whether the item passes the tested filter and the stored exclude filter."""
        return self.verdict.ok and self.excluded is None


@dataclass(frozen=True)
class FilterTest:
    """What /feeds test-filter found: the filter as parsed and each of the newest items."""

    subscription: Subscription
    feed: Feed
    filter_text: str
    exclude_text: str
    items: tuple[CheckedItem, ...]


@dataclass(frozen=True)
class Health:
    """`/feeds status` for one subscription."""

    subscription: Subscription
    feed: Feed
    pending: int
    failed: int
    sent: int
    last_delivery_error: str | None


def shown(text: str, limit: int = 200) -> str:
    """User or feed text made safe to show in a reply: verbatim, but no pings or markdown."""
    cleaned = clean_text(text, single_line=True)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return escape_markdown(neutralise_mentions(cleaned))


def may_moderate(
    *, has_manage_guild: bool, role_ids: Iterable[int], settings: GuildSettings
) -> bool:
    """Manage Server, or the guild's configured moderator role, may use moderator commands."""
    if has_manage_guild:
        return True
    return settings.moderator_role_id is not None and settings.moderator_role_id in set(role_ids)


def check_channel_fit(format_name: str, channel: ChannelInfo, *, auto_thread: bool = False) -> None:
    """Raise InvalidInput unless the bot can post `format_name` announcements in `channel`."""
    where = f"#{shown(channel.name, 100)}"
    if channel.kind == "forum" and format_name not in ("forum", "webhook"):
        raise InvalidInput(
            f"{where} is a forum channel, which takes only the forum or webhook format "
            f"(not {format_name})."
        )
    if format_name == "forum" and channel.kind != "forum":
        raise InvalidInput(
            f"The forum format posts each article as a forum post, so it needs a forum channel; "
            f"{where} is not one. Choose embed, text or webhook, or a forum channel."
        )
    if channel.kind == "thread" and format_name == "webhook":
        raise InvalidInput(f"{where} is a thread; webhooks belong to channels, not threads.")
    if channel.kind == "other":
        raise InvalidInput("Paperboy can only post in text, announcement and forum channels.")
    needed = list(_ALWAYS_NEEDED) + list(_FORMAT_PERMISSIONS[format_name])
    if auto_thread and format_name != "forum":
        needed += ["create_public_threads", "send_messages_in_threads"]
    if channel.kind == "thread":
        needed.append("send_messages_in_threads")
    missing = [name for name in dict.fromkeys(needed) if name not in channel.bot_permissions]
    if missing:
        labels = ", ".join(PERMISSION_LABELS.get(name, name) for name in missing)
        raise InvalidInput(
            f"Paperboy lacks permission in {where} to post {format_name} announcements: it needs "
            f"{labels}. Give Paperboy's role these permissions there, then try again."
        )


def validate_format(value: str) -> Format:
    """The format name, or InvalidInput listing the formats."""
    name = value.strip().lower()
    for known in FORMATS:
        if known == name:
            return known
    raise InvalidInput(f"Unknown format {shown(value, 40)!r}; use {', '.join(FORMATS)}.")


def validate_feed_url(url: str, *, allow_private: bool) -> str:
    """Check a web address typed by a moderator (length, scheme, private addresses)."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"That address is {len(url):,} characters; at most {MAX_URL_CHARS:,}.")
    return check_url(url, allow_private=allow_private)


def validate_filter(text: str, what: str) -> str:
    """The filter text as the moderator wrote it (cleaned), once it is known to parse.

    The `FilterError` raised keeps its class and position, with the filter named in front.
    """
    cleaned = clean_text(text, single_line=True).strip()
    try:
        parse_filter(cleaned)
    except FilterError as error:
        raise type(error)(f"The {what} filter is not valid: {error}", error.position) from None
    return cleaned


def validate_interval(seconds: int | None, config: Config) -> int | None:
    """A subscription's polling interval within the configured bounds (None: the default)."""
    if seconds is None:
        return None
    low = config.feeds.min_interval_seconds
    if not low <= seconds <= MAX_INTERVAL_SECONDS:
        raise InvalidInput(
            f"The interval must be from {low} to {MAX_INTERVAL_SECONDS} seconds (7 days); "
            f"{seconds} is outside that."
        )
    return seconds


def validate_subscription_name(text: str) -> str:
    """A subscription's name as it will be shown: one line, 1-40 characters, with a letter (so
    it is never mistaken for a subscription number)."""
    name = " ".join(clean_text(text, single_line=True).split())
    if not name:
        raise InvalidInput("The name is empty; give a short name such as Strikes or Housing.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"The name is {len(name)} characters long; the most allowed is {MAX_NAME_CHARS}."
        )
    if not any(c.isalpha() for c in name):
        raise InvalidInput("A subscription's name needs at least one letter, such as Strikes.")
    if name != neutralise_mentions(name) or any(c in name for c in "<>`*_~|"):
        raise InvalidInput("A subscription's name cannot contain mentions or markdown (<>`*_~|).")
    return name


def subscription_label(subscription: Subscription, feed: Feed) -> str:
    """How a subscription is named in lists and answers: number, feed, then its own name."""
    label = f"#{subscription.id} {feed.display_name}"
    return f"{label} · {subscription.name}" if subscription.name else label


def validate_template_text(text: str) -> str:
    """The template as written, once it is known to be usable."""
    validate_template(text)
    return text


def timezone_choices(current: str, *, limit: int = 25) -> list[str]:
    """IANA time zone names containing `current` (case-insensitive), best matches first."""
    needle = current.strip().lower()
    names = sorted(available_timezones() | {"UTC"})
    if not needle:
        preferred = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York"]
        return [name for name in preferred if name in names][:limit]
    starts = [n for n in names if n.lower().startswith(needle)]
    contains = [n for n in names if needle in n.lower() and n not in starts]
    return (starts + contains)[:limit]


class FeedAdmin:
    """The moderator commands' service: subscriptions, health, previews and settings."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        config: Config,
        clock: Clock,
        *,
        wake_poller: Callable[[], None] | None = None,
        poll_feed: FeedHook | None = None,
        seed_subscription: FeedHook | None = None,
        wake_delivery: Callable[[], None] | None = None,
        pool: WorkPool | None = None,
    ) -> None:
        self.storage = storage
        self.fetcher = fetcher
        self.config = config
        self.clock = clock
        self.on_change: list[ChangeHook] = []
        # Collaborators from the wiring point (`bot.app`); None leaves that step out. `poll_feed`
        # is a new feed's first check, so its items are known before `seed_subscription` runs.
        self.wake_poller = wake_poller
        self.poll_feed = poll_feed
        self.seed_subscription = seed_subscription
        self.wake_delivery = wake_delivery
        self.pool = pool  # where pages and feeds are read (None: in threads)

    # -- helpers --------------------------------------------------------------------------------

    async def record(self, guild_id: int, user_id: int | None, action: str, detail: str) -> None:
        """Remember a change and tell the hooks (a failing hook is logged, never raised)."""
        await self.storage.record_change(guild_id, user_id, action, detail, now=self.clock.now())
        settings = await self.storage.guild_settings(guild_id)
        change = Change(guild_id, user_id, action, detail, settings.log_channel_id)
        await run_hooks(self.on_change, change, what=f"change {action} in guild {guild_id}")

    async def _own(self, guild_id: int, subscription_id: int) -> tuple[Subscription, Feed]:
        subscription = await self.storage.subscription(subscription_id, guild_id=guild_id)
        if subscription is None:
            raise NotFound(
                f"There is no subscription number {subscription_id} in this server; "
                "/feeds list shows them."
            )
        feed = await self.storage.feed(subscription.feed_id)
        assert feed is not None, "subscriptions reference existing feeds"
        return subscription, feed

    def wake(self) -> None:
        """Ask the poller to look for due feeds now (a feed was added or resumed)."""
        if self.wake_poller is not None:
            self.wake_poller()

    async def check_within(self, feed_id: int, interval_seconds: int | None) -> None:
        """Bring the feed's next check within this subscription's interval from now: another
        server's longer interval, scheduled earlier, never delays this one's articles."""
        wait = schedule.base_interval(
            interval_seconds, ScheduleSettings.from_config(self.config.feeds)
        )
        await self.storage.check_feed_by(feed_id, self.clock.now() + timedelta(seconds=wait))

    async def _timezone(self, guild_id: int) -> str:
        return (await self.storage.guild_settings(guild_id)).timezone

    # -- /feeds add -----------------------------------------------------------------------------

    async def add(
        self,
        guild_id: int,
        user_id: int,
        url: str,
        channel: ChannelInfo,
        options: SubscriptionOptions,
        *,
        youtube_shorts: bool = True,
    ) -> AddResult:
        """Find the feed behind `url`, check everything, subscribe `channel` and preview it.

        `youtube_shorts=False` follows a YouTube channel's videos without its Shorts.
        """
        checked_url = validate_feed_url(
            url, allow_private=self.config.fetch.allow_private_addresses
        )
        format_name = validate_format(
            options.format or ("forum" if channel.kind == "forum" else "embed")
        )
        include = validate_filter(options.include or "", "include")
        exclude = validate_filter(options.exclude or "", "exclude")
        template = validate_template_text(options.template) if options.template else ""
        name = validate_subscription_name(options.name) if options.name else ""
        interval = validate_interval(options.interval_seconds, self.config)
        check_channel_fit(format_name, channel, auto_thread=bool(options.auto_thread))
        limit = self.config.moderation.max_subscriptions_per_guild
        if await self.storage.count_guild_subscriptions(guild_id) >= limit:
            raise SubscriptionLimitReached(limit)
        now = self.clock.now()
        found = await resolve_source(
            self.fetcher,
            checked_url,
            now,
            max_items=self.config.feeds.max_items,
            pool=self.pool,
            priority="member",
            youtube_shorts=youtube_shorts,
        )
        feed_url, parsed = found.feed_url, found.parsed
        if not parsed.items:
            log.info("Feed %s has no items yet", feed_url)
        existing = await self.storage.feed_by_url(feed_url)
        if existing is not None:
            for other in await self.storage.feed_subscriptions(existing.id, active_only=False):
                if other.channel_id == channel.id and other.name.casefold() == name.casefold():
                    raise InvalidInput(self._duplicate_message(other, existing, channel))
        feed = await self.storage.add_feed(
            feed_url,
            now=now,
            title=parsed.title,
            site_url=parsed.site_url or "",
            icon_url=parsed.icon_url or "",
        )
        new = NewSubscription(
            guild_id=guild_id,
            channel_id=channel.id,
            feed_id=feed.id,
            format=format_name,
            mention_role_id=options.mention_role_id,
            include_filter=include,
            exclude_filter=exclude,
            template=template,
            auto_thread=bool(options.auto_thread),
            created_by=user_id,
            interval_seconds=interval,
            name=name,
        )
        # Counted again inside the insert's transaction: concurrent adds all passed the check
        # above before their fetches.
        subscription = await self.storage.add_subscription(new, now=now, limit=limit)
        if subscription is None:  # another moderator added the same one a moment ago
            raise InvalidInput(self._duplicate_message(None, feed, channel))
        await self.check_within(feed.id, interval)
        await self.record(
            guild_id,
            user_id,
            "feed.add",
            f"subscription {subscription.id}: {feed_url} → #{channel.name} ({format_name})"
            + (f" named {name!r}" if name else ""),
        )
        if feed.last_success_at is None and self.poll_feed is not None:
            await self.poll_feed(feed.id)
        if self.seed_subscription is not None:
            await self.seed_subscription(subscription.id)
        self.wake()
        preview = None
        if parsed.items:
            tz = await self._timezone(guild_id)
            article = announcement_article(PREVIEW_OUTBOX_ID, parsed.items[0], parsed)
            preview = render_plan(
                article, subscription_view(subscription, timezone=tz), outbox_id=PREVIEW_OUTBOX_ID
            )
        feed = await self.storage.feed(feed.id) or feed
        return AddResult(subscription, feed, len(parsed.items), preview, found.description)

    @staticmethod
    def _duplicate_message(other: Subscription | None, feed: Feed, channel: ChannelInfo) -> str:
        number = f" (subscription {other.id})" if other is not None else ""
        named = f" under the name {shown(other.name, 60)!r}" if other and other.name else ""
        return (
            f"{shown(feed.display_name)} already goes to #{shown(channel.name, 100)}{number}"
            f"{named}; nothing was added. Use /feeds edit to change it, or give this one a "
            "different name with the name option to announce the feed there a second way."
        )

    # -- list, remove, edit, pause, resume ------------------------------------------------------

    async def subscriptions(self, guild_id: int) -> list[SubscriptionSummary]:
        """This guild's subscriptions with their feeds, oldest first."""
        result = []
        subscriptions = await self.storage.guild_subscriptions(guild_id)
        rules = await self.storage.mention_rules_of(s.id for s in subscriptions)
        for subscription in subscriptions:
            feed = await self.storage.feed(subscription.feed_id)
            assert feed is not None
            mine = tuple(rules.get(subscription.id, ()))
            result.append(SubscriptionSummary(subscription, feed, mine))
        return result

    async def choices(
        self, guild_id: int, current: str, *, limit: int = 25
    ) -> list[tuple[str, int]]:
        """Autocomplete: (label, id) of this guild's subscriptions matching `current`."""
        needle = current.strip().lower()
        found = []
        for item in await self.subscriptions(guild_id):
            label = subscription_label(item.subscription, item.feed)
            if needle and needle not in label.lower():
                continue
            found.append((clean_text(label, single_line=True)[:100], item.subscription.id))
        return found[:limit]

    async def resolve(self, guild_id: int, text: str) -> int:
        """The id of the subscription a moderator picked or typed: its number (12 or #12), or
        its name (ignoring case). NotFound or InvalidInput say what to do otherwise."""
        cleaned = text.strip().removeprefix("#").strip()
        if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 19:
            return int(cleaned)
        wanted = cleaned.casefold()
        matches = [
            s
            for s in await self.storage.guild_subscriptions(guild_id)
            if s.name and s.name.casefold() == wanted
        ]
        if len(matches) == 1:
            return matches[0].id
        if not matches:
            raise NotFound(
                f"No subscription in this server is called {shown(text, 60)!r}; pick one from "
                "the list, or see /feeds list."
            )
        numbers = ", ".join(f"#{s.id}" for s in matches)
        raise InvalidInput(
            f"{len(matches)} subscriptions are called {shown(text, 60)!r} ({numbers}, in "
            "different channels); pick one from the list or give its number."
        )

    async def remove(
        self, guild_id: int, user_id: int, subscription_id: int
    ) -> SubscriptionSummary:
        """Delete one of this guild's subscriptions (its pending deliveries go with it)."""
        subscription, feed = await self._own(guild_id, subscription_id)
        await self.storage.remove_subscription(subscription.id)
        await self.record(
            guild_id, user_id, "feed.remove", f"subscription {subscription.id}: {feed.url}"
        )
        return SubscriptionSummary(subscription, feed)

    async def edit(
        self,
        guild_id: int,
        user_id: int,
        subscription_id: int,
        options: SubscriptionOptions,
        channel: ChannelInfo | None = None,
    ) -> SubscriptionSummary:
        """Change a subscription's format, mention, filters, template, thread or interval.

        `channel` describes the subscription's channel, to check a new format fits it.
        """
        subscription, feed = await self._own(guild_id, subscription_id)
        changes: dict[str, object] = {}
        if options.format is not None:
            changes["format"] = validate_format(options.format)
        if options.include is not None:
            changes["include_filter"] = validate_filter(options.include, "include")
        if options.exclude is not None:
            changes["exclude_filter"] = validate_filter(options.exclude, "exclude")
        if options.template is not None:
            changes["template"] = (
                validate_template_text(options.template) if options.template.strip() else ""
            )
        if options.mention_role_id is not None:
            changes["mention_role_id"] = options.mention_role_id
        elif options.clear_mention:
            changes["mention_role_id"] = None
        if options.auto_thread is not None:
            changes["auto_thread"] = options.auto_thread
        if options.name is not None:
            name = validate_subscription_name(options.name) if options.name.strip() else ""
            for other in await self.storage.feed_subscriptions(feed.id, active_only=False):
                same_place = other.channel_id == subscription.channel_id
                if (
                    other.id != subscription.id
                    and same_place
                    and other.name.casefold() == (name.casefold())
                ):
                    taken = f"the name {shown(name, 60)!r}" if name else "no name"
                    raise InvalidInput(
                        f"Subscription {other.id} already announces this feed in that channel "
                        f"with {taken}; choose another name."
                    )
            changes["name"] = name
        interval = validate_interval(options.interval_seconds, self.config)
        if not changes and interval is None:
            raise InvalidInput("Nothing to change: give at least one option to /feeds edit.")
        if channel is not None and ("format" in changes or "auto_thread" in changes):
            check_channel_fit(
                str(changes.get("format", subscription.format)),
                channel,
                auto_thread=bool(changes.get("auto_thread", subscription.auto_thread)),
            )
        await self.storage.update_subscription(subscription.id, **changes)
        if interval is not None:
            await self.storage.set_subscription_interval(subscription.id, interval)
            await self.check_within(feed.id, interval)
        described = ", ".join(f"{name}={value!r}" for name, value in changes.items())
        if interval is not None:
            described = ", ".join(filter(None, [described, f"interval={interval}"]))
        await self.record(
            guild_id, user_id, "feed.edit", f"subscription {subscription.id}: {described}"
        )
        updated, feed = await self._own(guild_id, subscription.id)
        return SubscriptionSummary(updated, feed)

    async def pause(self, guild_id: int, user_id: int, subscription_id: int) -> SubscriptionSummary:
        """Stop announcing a subscription until it is resumed."""
        subscription, feed = await self._own(guild_id, subscription_id)
        if subscription.paused:
            raise InvalidInput(f"Subscription {subscription.id} is already paused.")
        await self.storage.set_paused(
            subscription.id, True, MODERATOR_PAUSE_REASON, by_moderator=True
        )
        await self.record(guild_id, user_id, "feed.pause", f"subscription {subscription.id}")
        updated, feed = await self._own(guild_id, subscription.id)
        return SubscriptionSummary(updated, feed)

    async def resume(
        self, guild_id: int, user_id: int, subscription_id: int
    ) -> tuple[SubscriptionSummary, int]:
        """Resume (also after a failure pause): check the feed now, retry failed deliveries.

        Returns the subscription and how many failed deliveries will be tried again.
        """
        subscription, feed = await self._own(guild_id, subscription_id)
        await self.storage.set_paused(subscription.id, False)
        retried = await self.storage.retry_now(subscription.id, feed.id, now=self.clock.now())
        await self.record(
            guild_id,
            user_id,
            "feed.resume",
            f"subscription {subscription.id} (retrying {retried} failed deliveries)",
        )
        self.wake()
        if self.wake_delivery is not None:
            self.wake_delivery()
        updated, feed = await self._own(guild_id, subscription.id)
        return SubscriptionSummary(updated, feed), retried

    # -- preview and status ---------------------------------------------------------------------

    async def preview(self, guild_id: int, subscription_id: int) -> MessagePlan:
        """The feed's newest item rendered exactly as this subscription would post it."""
        subscription, feed = await self._own(guild_id, subscription_id)
        view = subscription_view(
            subscription,
            timezone=await self._timezone(guild_id),
            mention_rules=await self.storage.mention_rules(subscription.id),
        )
        article = await self.newest_article(guild_id, feed)
        return render_plan(article, view, outbox_id=PREVIEW_OUTBOX_ID)

    async def newest_article(self, guild_id: int, feed: Feed) -> AnnouncementArticle:
        """The feed's newest item as an announcement shows it: from the archive, else read
        live; NotFound when the feed has no items."""
        article_id = await self.storage.newest_feed_article_id(feed.id)
        archived = None
        if article_id is not None:
            # An inactive subscription's feed is outside the server's scope: read it live.
            archived = await self.storage.archived_article(
                GuildScope(guild_id), article_id=article_id
            )
        if archived is not None:
            return archived_announcement(archived, feed)
        parsed = await self._fetch_live(feed)
        if not parsed.items:
            raise NotFound(
                f"{shown(feed.display_name)} has no items yet, so there is nothing to preview."
            )
        return announcement_article(PREVIEW_OUTBOX_ID, parsed.items[0], parsed)

    async def subscription_and_feed(
        self, guild_id: int, subscription_id: int
    ) -> tuple[Subscription, Feed]:
        """One of this guild's subscriptions with its feed; NotFound for any other id."""
        return await self._own(guild_id, subscription_id)

    async def save_message_settings(
        self, guild_id: int, user_id: int, subscription_id: int, settings: MessageSettings
    ) -> SubscriptionSummary:
        """Store the message builder's choices for one subscription (used from the next post)."""
        subscription, _ = await self._own(guild_id, subscription_id)
        stored = "" if settings == MessageSettings() else settings.to_json()
        await self.storage.update_subscription(subscription.id, message_settings=stored)
        await self.record(
            guild_id,
            user_id,
            "feed.message",
            f"subscription {subscription.id}: {shown(settings.to_json(), 1200)}",
        )
        updated, feed = await self._own(guild_id, subscription.id)
        return SubscriptionSummary(updated, feed)

    # -- /feeds test-filter ---------------------------------------------------------------------

    async def test_filter(self, guild_id: int, subscription_id: int, text: str) -> FilterTest:
        """Run a filter over the feed's newest items as the subscription's include filter.

        Nothing is saved. The feed is read live, so items not announced yet are in the test;
        the decision is the one polling makes (`filters.matches`, with the stored exclude).
        """
        subscription, feed = await self._own(guild_id, subscription_id)
        cleaned = validate_filter(text, "tested")
        include = parse_filter(cleaned)
        if not include:
            raise InvalidInput('Give a filter to test, such as housing OR "rent strike".')
        try:
            exclude = filters.parse_stored(subscription.exclude_filter)
        except InvalidInput:
            exclude = filters.Filter()  # polling ignores a stored filter that no longer parses
        parsed = await self._fetch_live(feed)
        tested = []
        for item in parsed.items[:FILTER_TEST_ITEMS]:
            article = announcement_article(PREVIEW_OUTBOX_ID, item, parsed)
            check = filters.evaluator(article)
            excluded = check(exclude) if exclude else None
            tested.append(
                CheckedItem(
                    title=item.title,
                    url=item.url or "",
                    verdict=check(include),
                    excluded=excluded if excluded is not None and excluded.ok else None,
                )
            )
        return FilterTest(subscription, feed, include.to_text(), exclude.to_text(), tuple(tested))

    # -- mention rules --------------------------------------------------------------------------

    async def mention_rules(
        self, guild_id: int, subscription_id: int
    ) -> tuple[SubscriptionSummary, list[MentionRule]]:
        """A subscription and its mention rules, in the order they were added."""
        subscription, feed = await self._own(guild_id, subscription_id)
        rules = await self.storage.mention_rules(subscription.id)
        return SubscriptionSummary(subscription, feed, tuple(rules)), rules

    async def add_mention_rule(
        self, guild_id: int, user_id: int, subscription_id: int, role_id: int, text: str = ""
    ) -> MentionRule:
        """Ping `role_id` with the subscription's announcements that match `text` (empty: all).

        Adding a role that has a rule already replaces its filter.
        """
        subscription, _ = await self._own(guild_id, subscription_id)
        if role_id == guild_id:
            raise InvalidInput(
                "Paperboy never pings @everyone; choose a role members can opt into."
            )
        cleaned = validate_filter(text, "mention rule's") if text.strip() else ""
        if role_id == subscription.mention_role_id:
            # That role is pinged with every announcement, so a rule could never narrow it.
            raise InvalidInput(
                f"That role is already pinged with every announcement of subscription "
                f"{subscription.id} (its mention role); clear it with /feeds edit "
                "no_mention:True first, then add the rule."
            )
        rule = await self.storage.set_mention_rule(
            subscription.id,
            role_id,
            cleaned,
            created_by=user_id,
            now=self.clock.now(),
            limit=MAX_RULES_PER_SUBSCRIPTION,
        )
        if rule is None:
            raise InvalidInput(
                f"Subscription {subscription.id} already has {MAX_RULES_PER_SUBSCRIPTION} "
                "mention rules, the most allowed; remove one with /feeds mention remove first."
            )
        await self.record(
            guild_id,
            user_id,
            "feed.mention-add",
            f"subscription {subscription.id}: role {role_id} when {cleaned or 'always'!r}",
        )
        return rule

    async def remove_mention_rule(
        self, guild_id: int, user_id: int, subscription_id: int, role_id: int
    ) -> None:
        """Stop pinging `role_id` through a rule of this subscription."""
        subscription, _ = await self._own(guild_id, subscription_id)
        if not await self.storage.remove_mention_rule(subscription.id, role_id):
            raise NotFound(
                f"Subscription {subscription.id} has no mention rule for that role; "
                "/feeds mention list shows its rules."
            )
        await self.record(
            guild_id,
            user_id,
            "feed.mention-remove",
            f"subscription {subscription.id}: role {role_id}",
        )

    async def _fetch_live(self, feed: Feed) -> ParsedFeed:
        now = self.clock.now()
        result = await self.fetcher.fetch(feed.url, kind="feed", now=now)
        return await parse_feed_off_loop(
            result.body or b"",
            url=result.url,
            headers=result.headers,
            now=now,
            max_items=self.config.feeds.max_items,
            pool=self.pool,
            priority="member",
        )

    async def status(self, guild_id: int, subscription_id: int | None = None) -> list[Health]:
        """Health of one subscription, or of all of this guild's."""
        if subscription_id is not None:
            pairs = [await self._own(guild_id, subscription_id)]
        else:
            pairs = [(s.subscription, s.feed) for s in await self.subscriptions(guild_id)]
        counts = await self.storage.delivery_counts(guild_id)
        health = []
        for subscription, feed in pairs:
            mine = counts.get(subscription.id, {})
            error = None
            if mine.get("failed"):
                error = await self.storage.last_delivery_error(subscription.id)
            health.append(
                Health(
                    subscription,
                    feed,
                    pending=mine.get("pending", 0) + mine.get("claimed", 0),
                    failed=mine.get("failed", 0),
                    sent=mine.get("sent", 0),
                    last_delivery_error=error,
                )
            )
        return health

    # -- settings -------------------------------------------------------------------------------

    async def settings(self, guild_id: int) -> GuildSettings:
        """The guild's settings."""
        return await self.storage.guild_settings(guild_id)

    async def set_log_channel(
        self, guild_id: int, user_id: int, channel_id: int | None
    ) -> GuildSettings:
        """Where configuration changes and feed alerts are posted (None: nowhere)."""
        return await self._update(
            guild_id, user_id, "settings.log-channel", log_channel_id=channel_id
        )

    async def set_timezone(self, guild_id: int, user_id: int, name: str) -> GuildSettings:
        """The time zone dates are shown in; InvalidInput unless it is an IANA name."""
        name = name.strip()
        validate_timezone(name)
        return await self._update(guild_id, user_id, "settings.timezone", timezone=name)

    async def set_moderator_role(
        self, guild_id: int, user_id: int, role_id: int | None
    ) -> GuildSettings:
        """A role that may use moderator commands besides Manage Server (None: only them)."""
        return await self._update(
            guild_id, user_id, "settings.moderator-role", moderator_role_id=role_id
        )

    async def _update(
        self, guild_id: int, user_id: int, action: str, **changes: object
    ) -> GuildSettings:
        current = await self.storage.guild_settings(guild_id)
        updated = replace(current, **changes)  # type: ignore[arg-type]
        await self.storage.update_guild_settings(updated, now=self.clock.now())
        described = ", ".join(f"{key}={value!r}" for key, value in changes.items())
        await self.record(guild_id, user_id, action, described)
        return updated


__all__ = [
    "AddResult",
    "Change",
    "ChannelInfo",
    "CheckedItem",
    "FeedAdmin",
    "FilterTest",
    "Health",
    "SubscriptionOptions",
    "SubscriptionSummary",
    "check_channel_fit",
    "may_moderate",
    "shown",
    "subscription_label",
    "timezone_choices",
    "validate_subscription_name",
]
