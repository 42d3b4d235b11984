"""Backlog, age and flood decisions with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.announce.policy import NewItem, Verdict, decide_new_items

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


# Feed order: newest first, as feeds usually list items.
FEED = [NewItem(3, hours_ago(1)), NewItem(2, hours_ago(5)), NewItem(1, hours_ago(30))]


def test_later_polls_announce_everything_new_oldest_first() -> None:
    decision = decide_new_items(FEED, now=NOW, first_poll=False, feed_title="Weekly")
    assert decision.announce == (1, 2, 3)
    assert decision.verdicts == {3: Verdict.ANNOUNCE, 2: Verdict.ANNOUNCE, 1: Verdict.ANNOUNCE}
    assert decision.held_back_note is None


def test_first_poll_announces_only_the_newest_n() -> None:
    decision = decide_new_items(FEED, now=NOW, first_poll=True, feed_title="Weekly")
    assert decision.announce == (3,)
    assert decision.keys_with(Verdict.BACKLOG) == (2, 1)


def test_first_poll_with_a_larger_backlog_count_than_items() -> None:
    decision = decide_new_items(FEED, now=NOW, first_poll=True, feed_title="W", backlog_count=10)
    assert decision.announce == (1, 2, 3)


def test_first_poll_with_zero_backlog_announces_nothing() -> None:
    decision = decide_new_items(FEED, now=NOW, first_poll=True, feed_title="W", backlog_count=0)
    assert decision.announce == ()
    assert set(decision.verdicts.values()) == {Verdict.BACKLOG}


def test_old_items_are_too_old_but_undated_and_future_ones_are_not() -> None:
    items = [
        NewItem(1, hours_ago(24 * 4)),
        NewItem(2, None),
        NewItem(3, NOW + timedelta(hours=2)),
        NewItem(4, hours_ago(24 * 3 - 1)),
    ]
    decision = decide_new_items(items, now=NOW, first_poll=False, feed_title="W", max_age_days=3)
    assert decision.verdicts[1] is Verdict.TOO_OLD
    # Undated counts as seen now, so it sorts between the 71-hour-old item and the future one.
    assert decision.announce == (4, 2, 3)


def test_zero_max_age_disables_the_age_check() -> None:
    items = [NewItem(1, hours_ago(24 * 365))]
    decision = decide_new_items(items, now=NOW, first_poll=False, feed_title="W", max_age_days=0)
    assert decision.announce == (1,)


def test_first_poll_newest_item_can_still_be_too_old() -> None:
    items = [NewItem(1, hours_ago(24 * 10)), NewItem(2, hours_ago(24 * 20))]
    decision = decide_new_items(items, now=NOW, first_poll=True, feed_title="W")
    assert decision.verdicts == {1: Verdict.TOO_OLD, 2: Verdict.BACKLOG}
    assert decision.announce == ()


def test_a_flood_announces_the_newest_few_and_holds_back_the_rest() -> None:
    items = [NewItem(key, hours_ago(40 - key)) for key in range(1, 41)]  # key 40 is newest
    decision = decide_new_items(
        items, now=NOW, first_poll=False, feed_title="Weekly Worker", max_new_per_poll=5
    )
    assert decision.announce == (36, 37, 38, 39, 40)
    assert len(decision.keys_with(Verdict.HELD_BACK)) == 35
    assert decision.held_back_note == (
        "Held back 35 items from Weekly Worker, dated 08 March 2025 to 10 March 2025: 40 items "
        "appeared as new in one check, more than the limit of 5, which usually means the site "
        "rewrote its item ids (for example after a migration). The newest 5 were announced; "
        "the rest count as delivered."
    )


def test_too_old_items_do_not_count_towards_a_flood() -> None:
    items = [NewItem(key, hours_ago(24 * 30 + key)) for key in range(20)] + [NewItem(99, NOW)]
    decision = decide_new_items(items, now=NOW, first_poll=False, feed_title="W")
    assert decision.announce == (99,)
    assert decision.held_back_note is None


def test_equal_dates_keep_feed_order_with_the_top_item_newest() -> None:
    same = hours_ago(1)
    items = [NewItem(10, same), NewItem(11, same), NewItem(12, same)]
    decision = decide_new_items(items, now=NOW, first_poll=False, feed_title="W")
    assert decision.announce == (12, 11, 10)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_new_items(
            [NewItem(1, datetime(2025, 1, 1))],  # noqa: DTZ001 - the point of the test
            now=NOW,
            first_poll=False,
            feed_title="W",
        )
