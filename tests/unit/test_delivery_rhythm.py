"""The pure rhythm decisions: quiet hours (across midnight and daylight saving), daily caps,
Discord's publish limit, rhythm changes asked by moderators, and what counts as a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.announce.changes import changed, content_hash
from bot.announce.render import AnnouncementArticle
from bot.delivery.rhythm import (
    hold_for,
    local_day_start,
    parse_clock,
    publish_allowance,
    quiet_until,
)
from bot.errors import InvalidInput
from bot.models import Rhythm
from bot.services.rhythm import RhythmChange, apply_change, describe

NIGHT = Rhythm(quiet_start="22:00", quiet_end="07:00")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2026, 12, 7, 20, 59), None),  # 21:59 in Berlin: not yet
        (utc(2026, 12, 7, 21, 0), utc(2026, 12, 8, 6, 0)),  # 22:00: quiet until 07:00 next day
        (utc(2026, 12, 8, 2, 0), utc(2026, 12, 8, 6, 0)),  # 03:00, after midnight
        (utc(2026, 12, 8, 6, 0), None),  # 07:00: released
    ],
)
def test_quiet_hours_span_midnight_in_the_servers_time_zone(
    now: datetime, until: datetime | None
) -> None:
    assert quiet_until(now, NIGHT, "Europe/Berlin") == until


def test_quiet_hours_follow_daylight_saving() -> None:
    # The night the clocks go forward (29 March 2026): 07:00 local is 05:00 UTC, not 06:00.
    assert quiet_until(utc(2026, 3, 28, 23, 0), NIGHT, "Europe/Berlin") == utc(2026, 3, 29, 5, 0)


def test_daytime_quiet_hours_and_none() -> None:
    lunch = Rhythm(quiet_start="12:00", quiet_end="13:30")
    assert quiet_until(utc(2026, 12, 7, 12, 15), lunch, "UTC") == utc(2026, 12, 7, 13, 30)
    assert quiet_until(utc(2026, 12, 7, 13, 30), lunch, "UTC") is None
    assert quiet_until(utc(2026, 12, 7, 12, 15), Rhythm(), "UTC") is None


def test_a_daily_cap_waits_for_the_next_local_day_and_quiet_hours_come_first() -> None:
    capped = Rhythm(daily_cap=3)
    now = utc(2026, 12, 7, 15, 0)
    assert hold_for(now, capped, "America/New_York", sent_today=2) is None
    hold = hold_for(now, capped, "America/New_York", sent_today=3)
    assert hold is not None
    assert hold.until == utc(2026, 12, 8, 5, 0)  # midnight in New York
    assert "daily cap of 3" in hold.reason
    both = Rhythm("22:00", "07:00", daily_cap=1)
    quiet = hold_for(utc(2026, 12, 7, 23, 0), both, "UTC", sent_today=5)
    assert quiet is not None and quiet.reason == "quiet hours until 07:00"
    assert local_day_start(now, "America/New_York") == utc(2026, 12, 7, 5, 0)


def test_ten_publishes_per_hour_then_the_oldest_frees_a_slot() -> None:
    now = utc(2026, 12, 7, 12, 0)
    nine = [now - timedelta(minutes=m) for m in range(9)]
    assert publish_allowance(now, nine).allowed == 1
    ten = [*nine, now - timedelta(minutes=50)]
    full = publish_allowance(now, ten)
    assert full.allowed == 0
    assert full.next_free_at == now + timedelta(minutes=10)
    old = [now - timedelta(hours=1, seconds=1)] * 30
    assert publish_allowance(now, old).allowed == 10


def test_clock_times_are_checked() -> None:
    assert parse_clock("7:05").hour == 7
    for bad in ("24:00", "12:60", "noon", "1200", ""):
        with pytest.raises(InvalidInput):
            parse_clock(bad)


def test_rhythm_changes_are_validated_and_described() -> None:
    quiet = apply_change(Rhythm(), RhythmChange(quiet_start="22:00", quiet_end="7:00"))
    assert quiet == Rhythm("22:00", "07:00")
    assert describe(quiet).startswith("instant posts, quiet 22:00–07:00")
    assert apply_change(quiet, RhythmChange(clear_quiet=True)) == Rhythm()
    capped = apply_change(quiet, RhythmChange(daily_cap=5, on_change="edit"))
    assert capped == Rhythm("22:00", "07:00", 5, "edit")
    weekly = apply_change(
        Rhythm(), RhythmChange(digest="weekly", digest_time="8:30", digest_day=4, digest_size=5)
    )
    assert weekly == Rhythm(digest="weekly", digest_time="08:30", digest_day=4, digest_size=5)
    assert describe(weekly).startswith("a weekly digest on Friday at 08:30 (up to 5 items)")
    assert apply_change(weekly, RhythmChange(digest="off")) == Rhythm(digest_size=5)
    assert apply_change(capped, RhythmChange(clear_cap=True)).daily_cap is None
    for wrong in (
        RhythmChange(quiet_start="22:00"),  # no end
        RhythmChange(quiet_start="08:00", quiet_end="08:00"),
        RhythmChange(on_change="shout"),
        RhythmChange(daily_cap=5, clear_cap=True),
        RhythmChange(quiet_start="22:00", quiet_end="07:00", clear_quiet=True),
        RhythmChange(digest="daily"),  # no time
        RhythmChange(digest="weekly", digest_time="08:00"),  # no day
        RhythmChange(digest="hourly", digest_time="08:00"),
        RhythmChange(digest="daily", digest_time="08:00", digest_size=51),
    ):
        with pytest.raises(InvalidInput):
            apply_change(Rhythm(), wrong)


def article(
    article_id: int, title: str, summary: str = "", image: str | None = None
) -> AnnouncementArticle:
    return AnnouncementArticle(
        article_id, title, f"https://e.org/{article_id}", excerpt=summary, image_url=image
    )


def test_a_change_is_title_standfirst_or_image_and_first_sightings_are_marked() -> None:
    first = article(1, "Strike called", "Workers walk out.")
    stored = {1: content_hash(first)}
    assert changed([first], stored) == []
    for different in (
        article(1, "Strike called off", "Workers walk out."),
        article(1, "Strike called", "Workers return."),
        article(1, "Strike called", "Workers walk out.", "https://e.org/photo.jpg"),
    ):
        [change] = changed([different], stored)
        assert not change.first_sight
        assert change.content_hash != stored[1]
    [new] = changed([article(2, "New")], stored)
    assert new.first_sight
