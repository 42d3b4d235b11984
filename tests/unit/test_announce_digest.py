"""Digest schedules and pages (pure): slots in the server's time zone, pages within Discord's
limits, hostile feed text kept inert."""

from __future__ import annotations

from datetime import UTC, datetime, time

from bot.announce.digest import DigestItem, digest_heading, digest_pages, last_slot, next_slot
from bot.announce.render import plan_violations


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_daily_and_weekly_slots_follow_the_servers_clock() -> None:
    now = utc(2026, 12, 9, 12, 0)  # a Wednesday
    eight = time(8, 0)
    assert last_slot(now, at=eight, weekday=None, timezone="UTC") == utc(2026, 12, 9, 8, 0)
    assert next_slot(now, at=eight, weekday=None, timezone="UTC") == utc(2026, 12, 10, 8, 0)
    # Weekly on Monday at 08:00 in New York (UTC-5 in December).
    assert last_slot(now, at=eight, weekday=0, timezone="America/New_York") == utc(
        2026, 12, 7, 13, 0
    )
    assert next_slot(now, at=eight, weekday=0, timezone="America/New_York") == utc(
        2026, 12, 14, 13, 0
    )
    # A slot exactly now is the last one, not the next.
    assert last_slot(utc(2026, 12, 9, 8, 0), at=eight, weekday=None, timezone="UTC") == utc(
        2026, 12, 9, 8, 0
    )
    # Across the spring change in Berlin, 08:00 local moves from 07:00 to 06:00 UTC.
    assert next_slot(utc(2026, 3, 28, 12, 0), at=eight, weekday=None, timezone="Europe/Berlin") == (
        utc(2026, 3, 29, 6, 0)
    )


def item(number: int, title: str = "", summary: str = "A one-line summary.") -> DigestItem:
    return DigestItem(number, title or f"Article {number}", f"https://e.org/{number}", summary)


def test_ten_items_a_page_in_order_with_their_outbox_ids() -> None:
    pages = digest_pages([item(n) for n in range(1, 24)], heading="Daily digest", feed_title="W")
    assert [ids for _, ids in pages] == [
        tuple(range(1, 11)),
        tuple(range(11, 21)),
        tuple(range(21, 24)),
    ]
    assert [plan.embeds[0].title for plan, _ in pages] == [
        "Daily digest (1/3)",
        "Daily digest (2/3)",
        "Daily digest (3/3)",
    ]
    assert all(plan_violations(plan) == [] for plan, _ in pages)
    assert digest_pages([], heading="Daily digest", feed_title="W") == []


def test_long_items_page_early_and_stay_within_limits() -> None:
    long_items = [item(n, "T" * 5000, "S" * 5000) for n in range(1, 40)]
    pages = digest_pages(long_items, heading="Weekly digest", feed_title="W" * 500)
    assert sum(len(ids) for _, ids in pages) == 39
    for plan, _ in pages:
        assert len(plan.embeds[0].description) <= 4096
        assert plan_violations(plan) == []


def test_hostile_titles_cannot_ping_or_break_the_markup() -> None:
    [(plan, _)] = digest_pages(
        [item(1, "@everyone [click](https://evil.example) **now**", "<@&42> hello")],
        heading="Daily digest",
        feed_title="W",
    )
    text = plan.embeds[0].description
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@&42>" not in text
    assert "**now**" not in text
    assert plan.allowed_role_ids == ()


def test_the_heading_names_the_local_day() -> None:
    late = utc(2026, 12, 7, 23, 30)
    assert digest_heading("daily", late, "Europe/Berlin") == "Daily digest, 8 December 2026"
    assert digest_heading("weekly", late, "UTC") == "Weekly digest, 7 December 2026"
