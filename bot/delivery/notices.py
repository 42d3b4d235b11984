"""What moderators are told when delivery stops, in words they can act on."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import DeliveryError
from bot.models import Feed
from bot.textutil import clean_text

REASON_LIMIT = 300


def pause_reason(error: DeliveryError) -> str:
    """The pause reason stored on a subscription (shown by /feeds status)."""
    if error.status == 403:
        prefix = "Discord refused Paperboy's post (missing permission)"
    elif error.status == 404:
        prefix = "The channel or webhook no longer exists"
    elif error.status == 400:
        prefix = "Discord rejected an announcement as invalid"
    else:
        prefix = "Discord refused an announcement"
    detail = clean_text(str(error), single_line=True).strip()
    text = f"{prefix}: {detail}" if detail else prefix
    return text[:REASON_LIMIT]


def paused_notice(channel_id: int, subscription_ids: Sequence[int], reason: str) -> str:
    """The one message moderators get when subscriptions are paused after a refusal."""
    numbers = ", ".join(f"#{number}" for number in subscription_ids)
    noun = "subscription" if len(subscription_ids) == 1 else "subscriptions"
    return (
        f"Paperboy paused announcements in <#{channel_id}> ({noun} {numbers}). {reason}. "
        "Fix the channel or Paperboy's permissions there, then resume with /feeds resume."
    )


def failing_feed_notice(feed: Feed, channel_ids: Sequence[int]) -> str:
    """What moderators read once when a feed has failed `failing_threshold` times in a row."""
    channels = ", ".join(f"<#{channel_id}>" for channel_id in channel_ids)
    title = clean_text(feed.title or feed.url, single_line=True)[:100]
    error = clean_text(f"{feed.last_error_kind}: {feed.last_error_message}", single_line=True)[
        :REASON_LIMIT
    ]
    next_check = int(feed.next_check_at.timestamp())
    return (
        f"Paperboy cannot read the feed {title} ({feed.url}), announced in {channels}: it failed "
        f"{feed.consecutive_failures} times in a row. Last error: {error}. Paperboy keeps "
        f"trying, less often (next check <t:{next_check}:R>); nothing is deleted or switched off. "
        "/feeds status shows its health."
    )


@dataclass(frozen=True)
class ModeratorNotice:
    """A message for a guild's moderators, waiting for the delivery worker to post it."""

    guild_id: int
    text: str


def held_back_key(feed_id: int, article_ids: Sequence[int]) -> str:
    """The once-only key of one held-back event: the feed and exactly which items were held."""
    digest = hashlib.sha256(",".join(str(i) for i in sorted(article_ids)).encode()).hexdigest()
    return f"held-back:{feed_id}:{digest[:24]}"


def held_back_notice(feed_id: int, channel_ids: Sequence[int], note: str) -> str:
    """What moderators read when a poll held items back (the policy's note, with where)."""
    channels = ", ".join(f"<#{channel_id}>" for channel_id in channel_ids)
    return (
        f"Paperboy, feed #{feed_id} (announced in {channels}): {clean_text(note, single_line=True)}"
        " /feeds why shows each item's fate."
    )
