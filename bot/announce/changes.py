"""Articles that change after they were announced: what a poll saw, and which of it changed.

The poller hands every item it read to `on_items_seen` hooks (`ItemsSeen`); `changed` compares
each item's fingerprint (title, standfirst, image) with the one stored last time. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.announce.render import AnnouncementArticle


@dataclass(frozen=True)
class ItemsSeen:
    """Every item of one successful poll of a feed, as announcements would show them."""

    feed_id: int
    articles: tuple[AnnouncementArticle, ...]


def content_hash(article: AnnouncementArticle) -> str:
    """The fingerprint of what a reader sees change: title, standfirst and image."""
    digest = hashlib.sha256()
    for part in (article.title, article.standfirst or article.excerpt, article.image_url or ""):
        digest.update(part.strip().encode("utf-8", "replace"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Change:
    """An article whose fingerprint differs from the last one stored (or was never stored)."""

    article: AnnouncementArticle
    content_hash: str
    first_sight: bool


def changed(articles: Sequence[AnnouncementArticle], stored: Mapping[int, str]) -> list[Change]:
    """The articles whose fingerprint is new: first sightings (to remember, not to act on) and
    real changes. An article listed twice counts once."""
    result: dict[int, Change] = {}
    for article in articles:
        fingerprint = content_hash(article)
        previous = stored.get(article.id)
        if previous != fingerprint:
            result[article.id] = Change(article, fingerprint, first_sight=previous is None)
    return list(result.values())
