"""Articles that change after they were announced: what a poll saw, and which of it changed.

The poller hands every item it read to `on_items_seen` hooks (`ItemsSeen`); `changed` compares
each item's fingerprint (title, standfirst, image) with the one stored last time;
`repost_action` decides what a subscription set to `repost` does with a change. Pure.

Reposts: a subscription announces each version of an article at most once. The first
announcement counts as the version Paperboy first saw; every repost as the version it announced.
So an article edited A -> B -> A posts A then "Updated: B", and nothing for the revert to A.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

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


UPDATED_PREFIX = "Updated: "
"""What a repost's title starts with, so readers see it is a new version of an earlier post."""

RepostAction = Literal["wait", "replace", "repost", "nothing"]


def repost_action(
    posts: Sequence[tuple[str, str]], new_hash: str, first_hash: str | None
) -> RepostAction:
    """What a subscription set to `repost` does when an article's fingerprint becomes
    `new_hash`. `posts`: (state, version) of the subscription's live announcements of the
    article ('pending', 'claimed' or 'sent'; version '' for the first, a hash for a repost).

    - 'wait': one is being sent right now; the next poll sees the change again.
    - 'replace': one is still waiting in the outbox; it goes out showing the new version
      (as `edit` does), nothing extra is posted.
    - 'repost': every one was posted and this version never was: post it anew.
    - 'nothing': never announced here (skipped, failed), or this version was announced already.
    """
    states = {state for state, _ in posts}
    if "claimed" in states:
        return "wait"
    if "pending" in states:
        return "replace"
    if not posts:
        return "nothing"
    announced = {version for _, version in posts if version}
    if first_hash is not None:
        announced.add(first_hash)
    return "nothing" if new_hash in announced else "repost"


def as_update(article: AnnouncementArticle) -> AnnouncementArticle:
    """The article as a repost shows it: its title starts with "Updated: "."""
    if article.title.startswith(UPDATED_PREFIX):
        return article
    return replace(article, title=UPDATED_PREFIX + article.title)
