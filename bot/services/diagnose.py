"""`/feeds why`: the fate of one article in one guild, in words.

The outbox keeps one row per (subscription, article) with its `state` and `reason`; feed entries
say when a feed first showed the article. `explain` turns those facts into sentences (pure);
`Diagnoser.why` gathers them for a guild, never looking at other guilds' subscriptions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.announce.mentions import RuleOutcome, rule_outcomes
from bot.announce.plan import archived_announcement, subscription_view
from bot.announce.template import format_date
from bot.clock import Clock
from bot.config import Config
from bot.delivery.rhythm import CAP_REASON, DIGEST_REASON, QUIET_REASON
from bot.errors import InvalidInput
from bot.feeds import canonical_url
from bot.models import MODERATOR_PAUSE_REASON, Feed, GuildScope, Subscription
from bot.services.admin import MAX_URL_CHARS, shown
from bot.storage import ArchivedArticle, DeliveryRecord, RhythmFacts, Sighting, Storage

DATE_FORMAT = "%d %B %Y %H:%M %Z"


@dataclass(frozen=True)
class Explanation:
    """The answer to /feeds why: a verdict per subscription, most decisive first."""

    url: str
    title: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The whole answer as one message body."""
        return "\n".join(self.lines)


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    """The web link to a Discord message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _skip_reason(reason: str, config: Config) -> str:
    """What a skipped row's stored reason means, as a sentence fragment."""
    if reason.startswith("filtered:"):
        rule = reason.removeprefix("filtered:").strip()
        return f"was filtered out by the subscription's filters ({shown(rule)})"
    if reason == "too-old":
        days = f"{config.announcements.max_age_days:g}"
        return f"was too old to announce (published more than {days} days before it was seen)"
    if reason == "held-back":
        return (
            "was held back by the backlog policy: the feed showed more new items at once than "
            f"the {config.announcements.max_new_per_poll} announced per check"
        )
    if reason == "backlog":
        return "was part of the feed's backlog when the subscription started, so it was not posted"
    if reason == MODERATOR_PAUSE_REASON:
        return "was published while a moderator had paused the subscription, so it was not posted"
    return f"was skipped ({shown(reason)})"


def explain(
    *,
    guild_id: int,
    url: str,
    article: ArchivedArticle | None,
    sightings: Sequence[Sighting],
    deliveries: Sequence[DeliveryRecord],
    subscriptions: Sequence[tuple[Subscription, Feed]],
    timezone: str,
    config: Config,
    rhythm_facts: Mapping[int, RhythmFacts] | None = None,
    head_reasons: Mapping[int, str] | None = None,
    mentions: Mapping[int, Sequence[RuleOutcome]] | None = None,
) -> Explanation:
    """The fate of one article for a guild, from its sightings and delivery rows. Pure.

    Per subscription id: `rhythm_facts` holds its publish and edits; `head_reasons` why the head
    of its queue waits (which holds every row behind it too); `mentions` its mention rules'
    outcomes on the article, named after a delivery that was (or will be) posted.
    """
    mentions = mentions or {}

    def when(moment: datetime) -> str:
        return format_date(moment, timezone, DATE_FORMAT)

    shown_url = shown(url, 300)
    if article is None or (not sightings and not deliveries):
        return Explanation(
            url,
            "",
            (
                f"This server never received {shown_url}: Paperboy has not seen it in any feed "
                "this server subscribes to. Check that the article's feed is subscribed "
                "(/feeds list) and that the article is in it.",
            ),
        )
    title = shown(article.title or article.url)
    lines: list[str] = []
    for sighting in sightings:
        lines.append(
            f"Seen in the feed {shown(sighting.feed_title or sighting.feed_url)} "
            f"on {when(sighting.first_seen)}."
        )
    by_subscription = {record.subscription_id: record for record in deliveries}
    sent_channels = {r.channel_id: r for r in deliveries if r.state == "sent"}
    seen_feeds = {s.feed_id: s for s in sightings}
    for subscription, feed in subscriptions:
        record = by_subscription.get(subscription.id)
        named = f" {shown(subscription.name, 40)!r}" if subscription.name else ""
        where = f"<#{subscription.channel_id}> (subscription {subscription.id}{named})"
        if record is None:
            seen = seen_feeds.get(feed.id)
            if seen is None:
                continue
            other = sent_channels.get(subscription.channel_id)
            if other is not None:
                lines.append(
                    f"In {where}: not posted again, because it was already posted in that "
                    f"channel through subscription {other.subscription_id}."
                )
            elif subscription.created_at >= seen.first_seen:
                lines.append(
                    f"In {where}: it was already in the feed when the subscription was created "
                    f"on {when(subscription.created_at)}, so it counted as backlog."
                )
            else:
                lines.append(
                    f"In {where}: no delivery was planned; it was seen on the feed's first "
                    "check (which only records what is already there), or while the "
                    "subscription was inactive."
                )
            continue
        if record.state == "sent":
            moment = when(record.sent_at) if record.sent_at else "an unrecorded time"
            link = (
                f": {message_link(guild_id, record.channel_id, record.message_id)}"
                if record.message_id
                else "."
            )
            lines.append(f"Delivered to {where} on {moment}{link}")
            facts = (rhythm_facts or {}).get(subscription.id)
            if facts is not None:
                repost_link = (
                    message_link(guild_id, record.channel_id, facts.last_repost_message_id)
                    if facts.last_repost_message_id
                    else None
                )
                lines.extend(
                    rhythm_lines(facts, link.removeprefix(": "), when, repost_link=repost_link)
                )
        elif record.state == "failed":
            attempts = f"{record.attempts} attempt{'s' if record.attempts != 1 else ''}"
            lines.append(
                f"Failed in {where} after {attempts}: {shown(record.reason or 'no reason kept')}. "
                "/feeds resume retries it."
            )
        elif (
            record.state == "pending"
            and not record.reason
            and (
                (head_reasons or {})
                .get(subscription.id, "")
                .startswith((QUIET_REASON, CAP_REASON, DIGEST_REASON))
            )
        ):
            reason = (head_reasons or {})[subscription.id]
            lines.append(
                f"Waiting in {where} behind earlier articles, which wait for this reason: "
                f"{shown(reason)}; they go out in order."
            )
        elif record.state == "pending" and record.reason.startswith(QUIET_REASON):
            lines.append(
                f"Waiting for quiet hours to end in {where} ({shown(record.reason)}); held posts "
                "go out in order."
            )
        elif record.state == "pending" and record.reason.startswith(CAP_REASON):
            lines.append(
                f"Held in {where}: the subscription's {shown(record.reason)} today; it goes out "
                "at the start of the next day."
            )
        elif record.state == "pending" and record.reason.startswith(DIGEST_REASON):
            lines.append(f"In {where}: {shown(record.reason)} (not posted on its own).")
        elif record.state in ("pending", "claimed"):
            lines.append(f"Waiting to be posted in {where} (queued on {when(record.created_at)}).")
        else:
            lines.append(f"In {where}: it {_skip_reason(record.reason, config)}.")
            continue
        if record.pinged_role_ids:
            roles = ", ".join(f"<@&{role}>" for role in record.pinged_role_ids)
            lines.append(f"Its announcement pings {roles}.")
        outcomes = mentions.get(subscription.id, ())
        if outcomes:
            described = "; ".join(outcome.describe() for outcome in outcomes)
            lines.append(
                f"Mention rules of subscription {subscription.id} on this article: {described}."
            )
    return Explanation(url, title, tuple(lines))


def rhythm_lines(
    facts: RhythmFacts,
    link: str,
    when: Callable[[datetime], str],
    *,
    repost_link: str | None = None,
) -> list[str]:
    """What happened to a delivered post since: published to followers (or held), edited,
    reposted (`repost_link`: the latest repost's message)."""
    lines = []
    if facts.publish_state == "published":
        lines.append("Published to the servers following the Announcement channel.")
    elif facts.publish_state == "pending":
        why = f" ({shown(facts.publish_reason)})" if facts.publish_reason else ""
        lines.append(f"Waiting to be published to following servers{why}.")
    elif facts.publish_state == "failed":
        lines.append(f"Could not be published to following servers: {shown(facts.publish_reason)}.")
    if facts.edits_sent:
        moment = when(facts.last_edit_at) if facts.last_edit_at else "an unrecorded time"
        times = "once" if facts.edits_sent == 1 else f"{facts.edits_sent} times"
        lines.append(f"Edited {times} since, as the article changed (last on {moment}): {link}")
    if facts.edits_open:
        lines.append("The article changed again; the post is waiting to be edited.")
    if facts.reposts_sent:
        times = "once" if facts.reposts_sent == 1 else f"{facts.reposts_sent} times"
        latest = f": {repost_link}" if repost_link else "."
        lines.append(
            f"Reposted {times} since, as a new announcement of each new version (latest){latest}"
        )
    if facts.reposts_open:
        lines.append("The article changed; its new version is waiting to be reposted.")
    return lines


class Diagnoser:
    """Answers /feeds why from the archive and the outbox."""

    def __init__(self, storage: Storage, config: Config, clock: Clock) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock

    async def why(self, guild_id: int, url: str) -> Explanation:
        """Explain what happened to the article at `url` in this guild."""
        url = url.strip()
        if not url:
            raise InvalidInput("Give the address of an article.")
        if len(url) > MAX_URL_CHARS:
            raise InvalidInput(
                f"That address is {len(url):,} characters; at most {MAX_URL_CHARS:,}."
            )
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInput("Give the full address of an article, starting with https://.")
        key = canonical_url(url)
        # Only what this server may read: another server's article is "never received" here.
        scope = GuildScope(guild_id)
        article = await self.storage.archived_article(scope, url=key)
        if article is None and key != url:
            article = await self.storage.archived_article(scope, url=url)
        sightings: list[Sighting] = []
        deliveries: list[DeliveryRecord] = []
        facts: dict[int, RhythmFacts] = {}
        heads: dict[int, str] = {}
        pairs: list[tuple[Subscription, Feed]] = []
        if article is not None:
            sightings = await self.storage.article_sightings(article.id, guild_id)
            deliveries = await self.storage.article_deliveries(article.id, guild_id)
            facts = await self.storage.rhythm_facts(article.id, guild_id)
            heads = await self.storage.queue_head_reasons(
                [d.subscription_id for d in deliveries if d.state == "pending"]
            )
            for subscription in await self.storage.guild_subscriptions(guild_id):
                feed = await self.storage.feed(subscription.feed_id)
                assert feed is not None
                pairs.append((subscription, feed))
        settings = await self.storage.guild_settings(guild_id)
        mentions: dict[int, list[RuleOutcome]] = {}
        if article is not None and deliveries:
            rules = await self.storage.mention_rules_of(s.id for s, _ in pairs)
            for subscription, feed in pairs:
                # The same view rendering builds, so a rule is judged as the announcement was.
                view = subscription_view(
                    subscription,
                    timezone=settings.timezone,
                    mention_rules=rules.get(subscription.id, ()),
                )
                if view.mention_role_id is not None or view.mention_rules:
                    mentions[subscription.id] = rule_outcomes(
                        archived_announcement(article, feed),
                        view.mention_role_id,
                        view.mention_rules,
                    )
        return explain(
            guild_id=guild_id,
            url=url,
            article=article,
            sightings=sightings,
            deliveries=deliveries,
            subscriptions=pairs,
            timezone=settings.timezone,
            config=self.config,
            rhythm_facts=facts,
            head_reasons=heads,
            mentions=mentions,
        )
