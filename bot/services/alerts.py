"""Keyword alerts: members ask for a direct message when a new article matches a word or phrase.

Matching reuses the keyword rules (`bot.announce.keywords`): whole words and phrases,
case- and accent-insensitive, in the title, standfirst, excerpt and categories; `author:` and
`category:` rules work too. An alert belongs to the guild it was set in and only fires for feeds
that guild follows. A DM Discord refuses for good (closed DMs) switches the member's alerts off,
and they are told so the next time they use a command.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.announce import keywords
from bot.clock import Clock
from bot.errors import InvalidInput, NotFound
from bot.models import GuildScope
from bot.storage import Alert, AlertArticle, Storage

log = logging.getLogger(__name__)

MAX_ALERTS_PER_MEMBER: Final = 20
MAX_KEYWORD_CHARS: Final = keywords.MAX_TERM_CHARS
DMS_CLOSED_REASON: Final = "Discord would not let Paperboy send you a direct message"
# Discord's JSON error code for "Cannot send messages to this user" (closed DMs, blocked bot).
CANNOT_DM_CODE: Final = 50007


@dataclass(frozen=True)
class AlertList:
    """A member's alerts in one guild and whether they are switched off."""

    alerts: tuple[Alert, ...]
    disabled: bool
    reason: str


@dataclass(frozen=True)
class AlertDelivery:
    """One DM to send: the member, the new article, and which of their rules matched."""

    user_id: int
    article: AlertArticle
    terms: tuple[str, ...]


@dataclass(frozen=True)
class AddedAlert:
    """The alert added and whether that switched the member's alerts back on."""

    alert: Alert
    count: int
    re_enabled: bool


def parse_keyword(keyword: str) -> keywords.FilterTerm:
    """One alert rule from member text (a word, a phrase, author:..., category:...)."""
    try:
        spec = keywords.parse_keyword_list(keyword)
    except InvalidInput as error:
        raise InvalidInput(f"That keyword cannot be used: {error}") from None
    if not spec.terms:
        raise InvalidInput("Type a word or phrase to be alerted about.")
    if len(spec.terms) > 1:
        raise InvalidInput(
            "Add one keyword or phrase at a time; commas separate keywords, so use "
            "/alerts add once for each."
        )
    return spec.terms[0]


def folded_key(term: keywords.FilterTerm) -> str:
    """The form two rules share when they match the same thing (case, accents, spacing)."""
    words = " ".join(keywords.fold(term.value).split())
    return f"{term.kind}:{words}"


def alert_disabled_note(reason: str) -> str:
    """What a member is told once after their alerts were switched off."""
    return (
        f"Your keyword alerts are switched off: {reason.rstrip('.')}. Allow direct messages "
        "from members of this server (Privacy Settings), then use /alerts add to switch "
        "them on again."
    )


class AlertService:
    """Add, remove and list alerts; find who to DM for new articles; record failed DMs."""

    def __init__(
        self, storage: Storage, clock: Clock, *, max_alerts: int = MAX_ALERTS_PER_MEMBER
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.max_alerts = max_alerts

    async def add(self, user_id: int, guild_id: int, keyword: str) -> AddedAlert:
        """Add an alert; InvalidInput for bad text, duplicates or more than the limit."""
        term = parse_keyword(keyword)
        outcome, alert = await self.storage.add_alert(
            user_id,
            guild_id,
            term.to_text(),
            folded_key(term),
            now=self.clock.now(),
            max_alerts=self.max_alerts,
        )
        if outcome == "full":
            raise InvalidInput(
                f"You already have {self.max_alerts} alerts here, the most allowed; "
                "remove one with /alerts remove first."
            )
        assert alert is not None
        re_enabled = await self.storage.enable_alerts(user_id)
        if outcome == "duplicate" and not re_enabled:
            raise InvalidInput(f"You already have an alert for {alert.term}.")
        count = len(await self.storage.member_alerts(user_id, guild_id))
        return AddedAlert(alert, count, re_enabled)

    async def remove(self, user_id: int, guild_id: int, keyword: str) -> Alert:
        """Remove one of the member's alerts, named as they typed it (any case or accents)."""
        term = parse_keyword(keyword)
        removed = await self.storage.remove_alert(user_id, guild_id, folded_key(term))
        if removed is None:
            raise NotFound(f"You have no alert for {term.to_text()} here; /alerts list shows them.")
        return removed

    async def list_alerts(self, user_id: int, guild_id: int) -> AlertList:
        """The member's alerts in this guild and whether they are switched off."""
        alerts = await self.storage.member_alerts(user_id, guild_id)
        state = await self.storage.alert_member_state(user_id)
        return AlertList(tuple(alerts), state.disabled, state.reason)

    async def choices(self, user_id: int, guild_id: int, current: str) -> list[str]:
        """The member's alert terms containing what was typed (for /alerts remove)."""
        typed = keywords.fold(current.strip())
        terms = [a.term for a in await self.storage.member_alerts(user_id, guild_id)]
        return [term for term in terms if typed in keywords.fold(term)][:25]

    async def take_note(self, user_id: int) -> str | None:
        """A note to show once if the member's alerts were switched off since they last heard."""
        reason = await self.storage.take_alert_note(user_id)
        return None if reason is None else alert_disabled_note(reason)

    async def deliveries_for(self, feed_id: int, article_ids: Sequence[int]) -> list[AlertDelivery]:
        """Who to DM about these new articles of a feed: one DM per member and article.

        Each (member, article) is claimed in the database before it is returned, so a restart
        or the same article arriving through a second feed never sends it twice.
        """
        if not article_ids:
            return []
        subscriptions = await self.storage.feed_subscriptions(feed_id)
        guild_ids = sorted({s.guild_id for s in subscriptions})
        alerts = await self.storage.alerts_in_guilds(guild_ids)
        if not alerts:
            return []
        # An alert matches only articles its own server may read (the SQL checks the scope).
        by_guild: dict[int, list[tuple[Alert, keywords.FilterTerm | None]]] = {}
        for alert in alerts:
            by_guild.setdefault(alert.guild_id, []).append((alert, _rule(alert.term)))
        matched: dict[int, dict[int, list[str]]] = {}
        found: dict[int, AlertArticle] = {}
        for guild_id, rules in by_guild.items():
            for article in await self.storage.alert_articles(GuildScope(guild_id), article_ids):
                found[article.id] = article
                for alert, rule in rules:
                    if rule is not None and keywords.term_matches(rule, article):
                        terms = matched.setdefault(article.id, {}).setdefault(alert.user_id, [])
                        if alert.term not in terms:
                            terms.append(alert.term)
        deliveries: list[AlertDelivery] = []
        now = self.clock.now()
        for article_id in sorted(matched):
            for user_id, terms in matched[article_id].items():
                if await self.storage.claim_alert_delivery(user_id, article_id, now=now):
                    deliveries.append(AlertDelivery(user_id, found[article_id], tuple(terms)))
        return deliveries

    async def delivery_failed(self, user_id: int, *, permanent: bool, reason: str = "") -> None:
        """Record a DM that failed: a permanent refusal switches the member's alerts off."""
        if not permanent:
            log.info("An alert DM to user %s failed for now: %s", user_id, reason)
            return
        log.info("Switching off alerts of user %s: %s", user_id, reason or DMS_CLOSED_REASON)
        await self.storage.disable_alerts(
            user_id, reason or DMS_CLOSED_REASON, now=self.clock.now()
        )


def _rule(text: str) -> keywords.FilterTerm | None:
    """A stored rule read back; one that no longer parses is ignored rather than fatal."""
    try:
        return parse_keyword(text)
    except InvalidInput:
        log.warning("Ignoring an alert whose rule no longer parses: %r", text)
        return None
