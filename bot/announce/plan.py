"""Announcement planning: which new articles each subscription announces, and the mappers.

One decision (`decide`) serves polling (`plan_outbox`) and seeding (`seed_rows`), and one place
builds `AnnouncementArticle`, from a feed item or an archived record. Pure: times come as `now`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.announce import filters, policy
from bot.announce.mentions import MentionRuleView
from bot.announce.message import MessageSettings
from bot.announce.render import AnnouncementArticle, SubscriptionView, render_plan
from bot.announce.template import DEFAULT_TEMPLATE
from bot.config import AnnouncementsConfig
from bot.errors import InvalidInput
from bot.feeds import ParsedFeed, ParsedItem, canonical_url
from bot.models import MODERATOR_PAUSE_REASON, Feed, MentionRule, Subscription
from bot.storage import ArchivedArticle, NewArticle, OutboxRow, SeedRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeldBack:
    """Items one subscription did not announce because one poll brought too many (pure result)."""

    subscription: Subscription
    article_ids: tuple[int, ...]
    note: str


@dataclass(frozen=True)
class HeldBackEvent:
    """What the poller tells `on_held_back` hooks after a commit: one per guild and feed.

    `note` says what happened in words moderators can act on; `article_ids` are every item held
    back in the guild's subscriptions to this feed in this poll (they identify the event).
    """

    feed_id: int
    guild_id: int
    channel_ids: tuple[int, ...]
    article_ids: tuple[int, ...]
    note: str


@dataclass(frozen=True)
class PlannedDelivery:
    """One outbox row to create, with what is needed to render it once it has an id."""

    row: OutboxRow
    article: AnnouncementArticle | None = None
    view: SubscriptionView | None = None


def subscription_view(
    subscription: Subscription,
    *,
    timezone: str,
    mention_rules: Sequence[MentionRule] = (),
) -> SubscriptionView:
    """How a stored subscription shapes announcements; a filter that no longer parses is void
    (a mention rule whose filter no longer parses pings nobody).

    Forum tags are not known in the core: the sender chooses them at send time.
    """

    def spec(text: str, what: str) -> filters.Filter | None:
        try:
            return filters.parse_stored(text)
        except InvalidInput as error:
            log.warning("Subscription %s: ignoring its %s filter: %s", subscription.id, what, error)
            return None

    rules = []
    for rule in mention_rules:
        parsed = spec(rule.filter, f"mention rule {rule.id}")
        if parsed is not None:
            rules.append(MentionRuleView(rule.role_id, parsed))
    return SubscriptionView(
        id=subscription.id,
        format=subscription.format,
        mention_role_id=subscription.mention_role_id,
        template=subscription.template or DEFAULT_TEMPLATE,
        include=spec(subscription.include_filter, "include") or filters.Filter(),
        exclude=spec(subscription.exclude_filter, "exclude") or filters.Filter(),
        mention_rules=tuple(rules),
        auto_thread=subscription.auto_thread,
        timezone=timezone,
        fallback_tag_id=subscription.fallback_tag_id,
        message=MessageSettings.from_json(subscription.message_settings),
        name=subscription.name,
    )


@dataclass(frozen=True)
class Decision:
    """What one subscription does with a batch of articles (pure result of `decide`)."""

    skipped: list[tuple[int, str]]
    """(article id, reason in words): filtered ones first, then the policy's, in input order."""
    announce: list[int]
    """The articles to announce, oldest first (the order they should go out)."""
    held_back: tuple[int, ...] = ()
    held_back_note: str | None = None


def decide(
    candidates: Sequence[tuple[AnnouncementArticle, datetime | None]],
    view: SubscriptionView,
    *,
    now: datetime,
    first_poll: bool,
    feed_title: str,
    settings: AnnouncementsConfig,
) -> Decision:
    """The one announce-or-skip decision: the subscription's filters, then the new-items policy.

    `candidates` are (article, the date the policy goes by), newest first as the feed lists them
    (the policy breaks date ties by that order). `first_poll` is True when seeding a new
    subscription's backlog. Pure.
    """
    skipped: list[tuple[int, str]] = []
    passing: list[policy.NewItem] = []
    for article, published in candidates:
        verdict = filters.matches(article, view.include, view.exclude)
        if verdict.ok:
            passing.append(policy.NewItem(article.id, published))
        else:
            skipped.append((article.id, f"filtered: {verdict.rule}"))
    if not passing:
        return Decision(skipped, [])
    verdicts = policy.decide_new_items(
        passing,
        now=now,
        first_poll=first_poll,
        feed_title=feed_title,
        backlog_count=settings.backlog_count,
        max_age_days=settings.max_age_days,
        max_new_per_poll=settings.max_new_per_poll,
    )
    skipped.extend(
        (key, str(verdict))
        for key, verdict in verdicts.verdicts.items()
        if verdict is not policy.Verdict.ANNOUNCE
    )
    held = tuple(
        key for key, verdict in verdicts.verdicts.items() if verdict is policy.Verdict.HELD_BACK
    )
    return Decision(skipped, list(verdicts.announce), held, verdicts.held_back_note)


def seed_rows(decision: Decision) -> list[SeedRow]:
    """A new subscription's backlog rows: skipped ones first, then pending ones oldest first,
    so outbox ids follow the sending order."""
    rows = [SeedRow(key, "skipped", reason) for key, reason in decision.skipped]
    rows.extend(SeedRow(key, "pending") for key in decision.announce)
    return rows


def plan_outbox(
    articles: Sequence[AnnouncementArticle],
    subscriptions: Sequence[tuple[Subscription, SubscriptionView]],
    *,
    now: datetime,
    feed_title: str,
    settings: AnnouncementsConfig,
) -> tuple[list[PlannedDelivery], list[HeldBack]]:
    """Delivery rows for articles new to a feed, per subscription, and what was held back.

    Each (subscription, article) gets a row: pending when it is to be announced, else skipped
    with the reason in words ("filtered: excluded by keyword 'sport'", "too-old", "held-back",
    "paused by a moderator"). Pending rows come oldest first, the order they should go out. A
    subscription paused after Discord refused a post plans as usual: its rows wait for the
    resume. Pure.
    """
    planned: list[PlannedDelivery] = []
    notes: list[HeldBack] = []
    by_id = {article.id: article for article in articles}
    for subscription, view in subscriptions:
        if subscription.paused and subscription.paused_by_moderator:
            planned.extend(_skipped(subscription, a.id, MODERATOR_PAUSE_REASON) for a in articles)
            continue
        decision = decide(
            [(article, article.published) for article in articles],
            view,
            now=now,
            first_poll=False,
            feed_title=feed_title,
            settings=settings,
        )
        if decision.held_back_note:
            notes.append(HeldBack(subscription, decision.held_back, decision.held_back_note))
        planned.extend(_skipped(subscription, key, reason) for key, reason in decision.skipped)
        for article_id in decision.announce:
            row = OutboxRow(subscription.id, article_id, subscription.channel_id, "pending")
            planned.append(PlannedDelivery(row, by_id[article_id], view))
    return planned, notes


def held_back_events(feed_id: int, held: Sequence[HeldBack]) -> list[HeldBackEvent]:
    """One event per guild: its channels, every item held back there, and the fullest note."""
    by_guild: dict[int, list[HeldBack]] = {}
    for entry in held:
        by_guild.setdefault(entry.subscription.guild_id, []).append(entry)
    events = []
    for guild_id, entries in by_guild.items():
        channels = sorted({entry.subscription.channel_id for entry in entries})
        articles = sorted({key for entry in entries for key in entry.article_ids})
        fullest = max(entries, key=lambda entry: len(entry.article_ids))
        events.append(
            HeldBackEvent(feed_id, guild_id, tuple(channels), tuple(articles), fullest.note)
        )
    return events


def _skipped(subscription: Subscription, article_id: int, reason: str) -> PlannedDelivery:
    return PlannedDelivery(
        OutboxRow(subscription.id, article_id, subscription.channel_id, "skipped", reason)
    )


def render_payload(planned: PlannedDelivery, outbox_id: int) -> str:
    """The stored message plan of a pending row (empty for skipped ones). Pure."""
    if planned.article is None or planned.view is None:
        return ""
    return render_plan(planned.article, planned.view, outbox_id=outbox_id).to_json()


def announcement_article(
    article_id: int, item: ParsedItem, feed: ParsedFeed, *, site_name: str = ""
) -> AnnouncementArticle:
    """What an announcement may show of a feed item, before its page is archived."""
    return AnnouncementArticle(
        id=article_id,
        title=item.title,
        url=item.url or "",
        author=item.author or "",
        published=item.published,
        categories=item.categories,
        excerpt=item.summary,
        image_url=item.image_url,
        site_name=site_name,
        feed_title=feed.title,
        feed_icon_url=feed.icon_url,
        feed_url=feed.feed_url,
    )


def archived_announcement(article: ArchivedArticle, feed: Feed | None) -> AnnouncementArticle:
    """What an announcement may show of an archived article, with its feed's name and icon."""
    return AnnouncementArticle(
        id=article.id,
        title=article.title,
        url=article.url,
        author=article.author,
        published=article.published,
        categories=article.categories,
        standfirst=article.description,
        excerpt=article.excerpt,
        text=article.text,
        image_url=article.image_url or None,
        site_name=article.site_name,
        feed_title=feed.title if feed else "",
        feed_icon_url=(feed.icon_url or None) if feed else None,
        feed_url=feed.url if feed else "",
    )


def article_of(item: ParsedItem, *, site_name: str = "") -> NewArticle | None:
    """The archive row of a feed item; None when the item has no link to its article."""
    if not item.url:
        return None
    return NewArticle(
        canonical_url=canonical_url(item.url),
        url=item.url,
        title=item.title,
        author=item.author or "",
        published=item.published,
        categories=item.categories,
        excerpt=item.summary,
        image_url=item.image_url or "",
        site_name=site_name,
        feed_content_html=item.content_html,
    )
