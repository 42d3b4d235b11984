"""The rhythm of delivery, decided without I/O: quiet hours, daily caps, publish limits, changes.

Every function here is pure and takes `now` (aware UTC). Local times are read in the server's
time zone (IANA name, `zoneinfo`), so "quiet from 22:00 to 07:00" follows daylight saving.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import InvalidInput
from bot.models import DIGEST_CHOICES, ON_CHANGE_CHOICES, Rhythm

PUBLISHES_PER_HOUR = 10
"""Discord lets a channel publish (crosspost) this many messages per hour."""
PUBLISH_WINDOW = timedelta(hours=1)
MAX_DIGEST_SIZE = 50

QUIET_REASON = "quiet hours"
CAP_REASON = "daily cap"
DIGEST_REASON = "queued for the"
PUBLISH_LIMIT_REASON = "publish limit: Discord allows 10 per channel per hour"
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str) -> time:
    """'HH:MM' (24-hour) as a time; anything else is refused with a sentence."""
    match = _CLOCK.match(text.strip())
    if match is None:
        raise InvalidInput(f"{text[:20]!r} is not a time of day; write it as HH:MM, e.g. 22:30.")
    return time(int(match.group(1)), int(match.group(2)))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def _local_moment(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """`at` on the local date of `day`, as aware UTC (a time skipped by DST moves forward)."""
    local = datetime.combine(day.date(), at, tzinfo=zone)
    # Round-trip through UTC normalises a non-existent wall time (spring forward).
    return local.astimezone(UTC)


def quiet_until(now: datetime, rhythm: Rhythm, timezone: str) -> datetime | None:
    """When the quiet hours around `now` end (aware UTC), or None if `now` is not quiet.

    Quiet runs from `quiet_start` (included) to `quiet_end` (excluded); a start later than the
    end spans midnight (22:00 to 07:00). Equal times mean no quiet hours.
    """
    if rhythm.quiet_start is None or rhythm.quiet_end is None:
        return None
    start, end = parse_clock(rhythm.quiet_start), parse_clock(rhythm.quiet_end)
    if start == end:
        return None
    zone = _zone(timezone)
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= wall < end
        end_day = local
    else:
        quiet = wall >= start or wall < end
        end_day = local + timedelta(days=1) if wall >= start else local
    if not quiet:
        return None
    return _local_moment(end_day, end, zone)


def local_day_start(now: datetime, timezone: str) -> datetime:
    """The start of `now`'s local day in the server's time zone, as aware UTC."""
    zone = _zone(timezone)
    return _local_moment(now.astimezone(zone), time(0, 0), zone)


def next_local_day(now: datetime, timezone: str) -> datetime:
    """The start of the next local day, as aware UTC."""
    zone = _zone(timezone)
    return _local_moment(now.astimezone(zone) + timedelta(days=1), time(0, 0), zone)


@dataclass(frozen=True)
class Hold:
    """A post that must wait: until when, and why (the outbox reason `/feeds why` explains)."""

    until: datetime
    reason: str


def hold_for(now: datetime, rhythm: Rhythm, timezone: str, *, sent_today: int) -> Hold | None:
    """Whether a subscription's next post must wait now, and until when.

    Quiet hours come first; then the daily cap (`sent_today` posts since the local midnight):
    past it, the post waits for the next local day. None: send now.
    """
    end = quiet_until(now, rhythm, timezone)
    if end is not None:
        return Hold(end, f"{QUIET_REASON} until {hhmm(end, timezone)}")
    if rhythm.daily_cap is not None and sent_today >= rhythm.daily_cap:
        return Hold(next_local_day(now, timezone), f"{CAP_REASON} of {rhythm.daily_cap} reached")
    return None


def hhmm(moment: datetime, timezone: str) -> str:
    """A moment as local 'HH:MM' in the server's time zone."""
    return moment.astimezone(_zone(timezone)).strftime("%H:%M")


@dataclass(frozen=True)
class PublishAllowance:
    """How many publishes a channel may make now, and when the next slot frees if none."""

    allowed: int
    next_free_at: datetime | None


def publish_allowance(now: datetime, published_at: Sequence[datetime]) -> PublishAllowance:
    """Discord's 10-per-hour publish limit for one channel, from its recent publish times."""
    recent = sorted(moment for moment in published_at if moment > now - PUBLISH_WINDOW)
    allowed = max(0, PUBLISHES_PER_HOUR - len(recent))
    if allowed:
        return PublishAllowance(allowed, None)
    # The oldest publish in the window leaves it one hour after it was made.
    return PublishAllowance(0, recent[len(recent) - PUBLISHES_PER_HOUR] + PUBLISH_WINDOW)


def held_notice(channel_id: int, waiting: int, next_free_at: datetime) -> str:
    """What moderators read once when a channel's publish queue is held by the hourly limit."""
    noun = "announcement waits" if waiting == 1 else "announcements wait"
    return (
        f"Paperboy has published {PUBLISHES_PER_HOUR} announcements in <#{channel_id}> in the "
        f"last hour, Discord's limit for an Announcement channel. {waiting} {noun} to be "
        "published to following servers; they go out in order from "
        f"<t:{int(next_free_at.timestamp())}:t>. "
        "Nothing is lost; they are already posted in the channel itself."
    )


def validate_rhythm(rhythm: Rhythm) -> Rhythm:
    """Check a rhythm a moderator asked for; raises InvalidInput with a sentence."""
    if (rhythm.quiet_start is None) != (rhythm.quiet_end is None):
        raise InvalidInput("Quiet hours need both a start and an end (HH:MM), or neither.")
    if rhythm.quiet_start is not None and rhythm.quiet_end is not None:
        start, end = parse_clock(rhythm.quiet_start), parse_clock(rhythm.quiet_end)
        if start == end:
            raise InvalidInput("Quiet hours must start and end at different times.")
        rhythm = replace(
            rhythm, quiet_start=start.strftime("%H:%M"), quiet_end=end.strftime("%H:%M")
        )
    if rhythm.daily_cap is not None and not 1 <= rhythm.daily_cap <= 1000:
        raise InvalidInput("The daily cap must be between 1 and 1,000 posts.")
    if rhythm.digest is None:
        rhythm = replace(rhythm, digest_time=None, digest_day=None)
    else:
        if rhythm.digest not in DIGEST_CHOICES:
            raise InvalidInput("A digest is daily or weekly.")
        if rhythm.digest_time is None:
            raise InvalidInput("A digest needs its time of day (HH:MM, the server's time zone).")
        at = parse_clock(rhythm.digest_time).strftime("%H:%M")
        day = rhythm.digest_day
        if rhythm.digest == "weekly" and day is None:
            raise InvalidInput("A weekly digest needs its day of the week.")
        if day is not None and not 0 <= day <= 6:
            raise InvalidInput("The digest's day is one of Monday to Sunday.")
        rhythm = replace(
            rhythm, digest_time=at, digest_day=day if rhythm.digest == "weekly" else None
        )
    if not 1 <= rhythm.digest_size <= MAX_DIGEST_SIZE:
        raise InvalidInput(f"A digest lists between 1 and {MAX_DIGEST_SIZE} items.")
    if rhythm.on_change not in ON_CHANGE_CHOICES:
        raise InvalidInput(
            "When an article changes: ignore it, edit the posted message, or repost it."
        )
    return rhythm
