"""Which newly seen items to announce. Pure: `now` is passed in.

Decisions for one poll of one subscription's feed, in this order:

1. ``too-old``: published more than `max_age_days` before `now` (0 disables the check).
   Undated items are never too old; items dated in the future are not either.
2. On the first poll of a new subscription, the feed's current items are a ``backlog`` (counted
   as delivered) except the newest `backlog_count`, which are announced.
3. On later polls, when more than `max_new_per_poll` items are new at once (typically a site
   migration that rewrote every guid), the newest `max_new_per_poll` are announced and the rest
   are ``held-back``, with a summary for moderators.

Announcements go out oldest first. "Newest" is by publication date; undated items count as
published `now` (they were just seen) and ties keep the feed's order, where earlier is newer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.announce.template import format_date


class Verdict(StrEnum):
    """What happens to one newly seen item."""

    ANNOUNCE = "announce"
    BACKLOG = "backlog"
    TOO_OLD = "too-old"
    HELD_BACK = "held-back"


@dataclass(frozen=True)
class NewItem:
    """An item seen for the first time by a subscription; `key` is the article id."""

    key: int
    published: datetime | None


@dataclass(frozen=True)
class PollDecision:
    """Per-item verdicts, the announce order (oldest first), and a note for moderators if any."""

    verdicts: dict[int, Verdict]
    announce: tuple[int, ...]
    held_back_note: str | None = None

    def keys_with(self, verdict: Verdict) -> tuple[int, ...]:
        """The keys that received `verdict`, in input order."""
        return tuple(key for key, given in self.verdicts.items() if given is verdict)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def decide_new_items(
    items: Sequence[NewItem],
    *,
    now: datetime,
    first_poll: bool,
    feed_title: str,
    backlog_count: int = 1,
    max_age_days: float = 3.0,
    max_new_per_poll: int = 5,
) -> PollDecision:
    """Decide announce/backlog/too-old/held-back for each new item of one poll (see module doc)."""
    _require_aware(now, "now")
    for item in items:
        if item.published is not None:
            _require_aware(item.published, "published")
    # Position 0 is the top of the feed, normally the newest; it breaks ties between equal dates.
    position = {item.key: index for index, item in enumerate(items)}
    chronological = sorted(items, key=lambda item: (item.published or now, -position[item.key]))
    verdicts: dict[int, Verdict] = {item.key: Verdict.ANNOUNCE for item in items}
    oldest_allowed = now - timedelta(days=max_age_days) if max_age_days > 0 else None

    if first_poll:
        first_kept = max(0, len(chronological) - backlog_count) if backlog_count else len(items)
        newest = chronological[first_kept:]
        newest_keys = {item.key for item in newest}
        for item in chronological:
            if item.key not in newest_keys:
                verdicts[item.key] = Verdict.BACKLOG
    candidates: list[NewItem] = []
    for item in chronological:
        if verdicts[item.key] is not Verdict.ANNOUNCE:
            continue
        dated = item.published
        if oldest_allowed is not None and dated is not None and dated < oldest_allowed:
            verdicts[item.key] = Verdict.TOO_OLD
        else:
            candidates.append(item)

    note = None
    if not first_poll and len(candidates) > max_new_per_poll:
        held = candidates[: len(candidates) - max_new_per_poll]
        candidates = candidates[len(candidates) - max_new_per_poll :]
        for item in held:
            verdicts[item.key] = Verdict.HELD_BACK
        note = _held_back_note(feed_title, held, len(held) + len(candidates), max_new_per_poll)
    ordered = {item.key: verdicts[item.key] for item in items}
    return PollDecision(ordered, tuple(item.key for item in candidates), note)


def _held_back_note(feed_title: str, held: list[NewItem], new_count: int, limit: int) -> str:
    dates = [item.published for item in held if item.published is not None]
    span = ""
    if dates:
        first = format_date(min(dates), "UTC", "%d %B %Y")
        last = format_date(max(dates), "UTC", "%d %B %Y")
        span = f", dated {first}" if first == last else f", dated {first} to {last}"
    noun = "item" if len(held) == 1 else "items"
    return (
        f"Held back {len(held)} {noun} from {feed_title or 'a feed'}{span}: {new_count} items "
        f"appeared as new in one check, more than the limit of {limit}, which usually means the "
        f"site rewrote its item ids (for example after a migration). The newest {limit} were "
        "announced; the rest count as delivered."
    )
