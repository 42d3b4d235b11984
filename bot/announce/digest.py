"""Digests: one scheduled message listing a subscription's new items. Pure.

`last_slot` says when the latest scheduled digest fell (daily at a local time, or weekly on a day
at that time, in the server's time zone); `digest_pages` renders up to N items (title, link and
a one-line summary) as embeds, paged across messages when one would exceed Discord's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.announce.limits import hostile_to_markdown, safe_url, truncate
from bot.announce.message import DEFAULT_COLOR
from bot.announce.render import EmbedPlan, MessagePlan

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PAGE_ITEMS = 10
"""Items per digest message: a page stays short enough to read."""
PAGE_CHARS = 3800
"""Characters of one page's list (Discord allows 4,096 in an embed description)."""
TITLE_CHARS = 200
SUMMARY_CHARS = 160


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest: an article's title, link and one-line summary (raw, from feeds)."""

    outbox_id: int
    title: str
    url: str
    summary: str


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def last_slot(now: datetime, *, at: time, weekday: int | None, timezone: str) -> datetime:
    """The latest scheduled digest moment at or before `now` (aware UTC).

    Daily (`weekday` None) at local time `at`, or weekly on `weekday` (0 = Monday) at `at`.
    """
    zone = _zone(timezone)
    local_today = now.astimezone(zone).date()
    for back in range(8):
        day = local_today - timedelta(days=back)
        if weekday is not None and day.weekday() != weekday:
            continue
        moment = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if moment <= now:
            return moment
    raise AssertionError("a daily or weekly slot always falls within eight days")


def next_slot(now: datetime, *, at: time, weekday: int | None, timezone: str) -> datetime:
    """The first scheduled digest moment after `now` (aware UTC)."""
    zone = _zone(timezone)
    local_today = now.astimezone(zone).date()
    for ahead in range(9):
        day = local_today + timedelta(days=ahead)
        if weekday is not None and day.weekday() != weekday:
            continue
        moment = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if moment > now:
            return moment
    raise AssertionError("a daily or weekly slot always falls within nine days")


def _line(item: DigestItem) -> str:
    title = truncate(hostile_to_markdown(item.title or item.url, single_line=True), TITLE_CHARS)
    url = safe_url(item.url)
    heading = f"**[{title}]({url})**" if url else f"**{title}**"
    summary = truncate(hostile_to_markdown(item.summary, single_line=True), SUMMARY_CHARS)
    return f"{heading}\n{summary}" if summary else heading


def digest_pages(
    items: Sequence[DigestItem], *, heading: str, feed_title: str
) -> list[tuple[MessagePlan, tuple[int, ...]]]:
    """The digest's messages, in order, each with the outbox ids of the items it lists."""
    pages: list[list[tuple[int, str]]] = [[]]
    size = 0
    for item in items:
        line = _line(item)
        if pages[-1] and (len(pages[-1]) >= PAGE_ITEMS or size + len(line) + 2 > PAGE_CHARS):
            pages.append([])
            size = 0
        pages[-1].append((item.outbox_id, line))
        size += len(line) + 2
    if not pages[-1]:
        return []
    result = []
    for number, page in enumerate(pages, start=1):
        title = heading if len(pages) == 1 else f"{heading} ({number}/{len(pages)})"
        embed = EmbedPlan(
            title=truncate(title, 256),
            url=None,
            description="\n\n".join(line for _, line in page),
            footer_text=truncate(feed_title, 200) if feed_title else "",
            color=DEFAULT_COLOR,
        )
        plan = MessagePlan(
            content="",
            embeds=(embed,),
            allowed_role_ids=(),
            thread_name=None,
            applied_tag_ids=(),
            username=None,
            avatar_url=None,
            buttons=(),
            marker="",
        )
        result.append((plan, tuple(outbox_id for outbox_id, _ in page)))
    return result


def digest_heading(kind: str, slot: datetime, timezone: str) -> str:
    """'Daily digest, 7 December 2026' in the server's time zone."""
    local = slot.astimezone(_zone(timezone))
    name = "Weekly digest" if kind == "weekly" else "Daily digest"
    return f"{name}, {local.day} {local.strftime('%B %Y')}"
