"""Pure pacing decisions: one post per channel per interval, a global budget, retry backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.pacing import (
    MAX_RETRY_SECONDS,
    Candidate,
    WindowBudget,
    plan_round,
    retry_delay,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_one_per_channel_earliest_first() -> None:
    candidates = [Candidate(3, 10, at(-1)), Candidate(1, 10, at(-5)), Candidate(2, 20, at(-2))]
    plan = plan_round(candidates, last_sent={}, now=NOW, per_channel_interval=1.0, budget=10)
    assert plan.send_now == (1, 2)
    assert plan.next_due == at(1)


def test_recent_post_makes_the_channel_wait() -> None:
    plan = plan_round(
        [Candidate(1, 10, at(-5))],
        last_sent={10: at(-0.25)},
        now=NOW,
        per_channel_interval=1.0,
        budget=10,
    )
    assert plan.send_now == ()
    assert plan.next_due == at(0.75)


def test_future_rows_wait_and_nothing_means_no_wake() -> None:
    plan = plan_round(
        [Candidate(1, 10, at(30))], last_sent={}, now=NOW, per_channel_interval=1.0, budget=10
    )
    assert plan.send_now == ()
    assert plan.next_due == at(30)
    empty = plan_round([], last_sent={}, now=NOW, per_channel_interval=1.0, budget=10)
    assert empty.send_now == () and empty.next_due is None


def test_exhausted_budget_leaves_the_rest_due_now() -> None:
    candidates = [Candidate(n, 100 + n, at(-1)) for n in range(5)]
    plan = plan_round(candidates, last_sent={}, now=NOW, per_channel_interval=1.0, budget=2)
    assert plan.send_now == (0, 1)
    assert plan.next_due == NOW


def test_short_budget_serves_the_channel_waiting_longest_not_the_one_just_served() -> None:
    # Channel 10 posted a second ago and may post again; channel 20 has never had its turn.
    candidates = [Candidate(1, 10, at(-30)), Candidate(2, 20, at(-30))]
    plan = plan_round(
        candidates, last_sent={10: at(-1)}, now=NOW, per_channel_interval=1.0, budget=1
    )
    assert plan.send_now == (2,)
    # Both ready, both served before: the one whose turn came earlier goes first.
    plan = plan_round(
        candidates,
        last_sent={10: at(-3), 20: at(-2)},
        now=NOW,
        per_channel_interval=1.0,
        budget=1,
    )
    assert plan.send_now == (1,)


def test_busy_channel_is_skipped_without_a_wake() -> None:
    plan = plan_round(
        [Candidate(1, 10, at(-1))],
        last_sent={},
        busy_channels={10},
        now=NOW,
        per_channel_interval=1.0,
        budget=5,
    )
    assert plan.send_now == () and plan.next_due is None


@given(
    st.lists(st.tuples(st.integers(1, 5), st.floats(-100, 100), st.booleans()), max_size=30),
    st.integers(0, 10),
    st.floats(0, 5),
)
def test_round_never_breaks_its_rules(
    rows: list[tuple[int, float, bool]], budget: int, interval: float
) -> None:
    candidates = [Candidate(i, ch, at(offset)) for i, (ch, offset, _) in enumerate(rows)]
    last_sent = {ch: at(-interval / 2) for ch, _, recent in rows if recent}
    plan = plan_round(
        candidates, last_sent=last_sent, now=NOW, per_channel_interval=interval, budget=budget
    )
    chosen = [c for c in candidates if c.outbox_id in plan.send_now]
    assert len(chosen) <= budget
    assert len({c.channel_id for c in chosen}) == len(chosen)
    for c in chosen:
        assert c.not_before <= NOW
        if c.channel_id in last_sent:
            assert last_sent[c.channel_id] + timedelta(seconds=interval) <= NOW
    if len(chosen) < len(candidates):
        assert plan.next_due is not None and plan.next_due >= NOW


def test_window_budget_frees_a_slot_a_window_after_it_was_used() -> None:
    budget = WindowBudget(2.0)
    assert budget.available(NOW) == 2
    budget.spend(1, NOW)
    budget.spend(1, at(0.25))
    assert budget.available(at(0.5)) == 0
    assert budget.next_token_at(at(0.5)) == at(1.0)
    assert budget.available(at(1.0)) == 1
    assert budget.next_token_at(at(1.0)) == at(1.0)
    assert budget.available(at(60)) == 2  # never more than its limit


def test_window_budget_counts_a_late_request_from_when_it_left() -> None:
    budget = WindowBudget(2.0)
    budget.spend(2, NOW)
    budget.postpone(NOW, at(0.4))  # one request started 0.4 s after it was planned
    assert budget.available(at(1.0)) == 1
    assert budget.next_token_at(at(1.0)) == at(1.0)
    budget.spend(1, at(1.0))
    assert budget.next_token_at(at(1.0)) == at(1.4)
    budget.postpone(at(7), at(8))  # nothing reserved then: nothing changes
    assert budget.available(at(1.4)) == 1


def test_window_budget_below_one_per_second_spaces_single_requests() -> None:
    budget = WindowBudget(0.5)
    assert (budget.limit, budget.window) == (1, timedelta(seconds=2))
    budget.spend(1, NOW)
    assert budget.next_token_at(NOW) == at(2)


@given(
    st.floats(0.5, 60, allow_nan=False),
    st.lists(st.floats(0, 0.5, allow_nan=False), min_size=1, max_size=200),
    st.integers(0, 100),
)
def test_window_budget_never_lets_a_one_second_window_hold_more_than_its_rate(
    rate: float, steps: list[float], window_start_ms: int
) -> None:
    """Greedy use at irregular moments; any fixed 1-second window (Discord's global limit is
    counted in such windows, starting anywhere) holds at most the rate, rounded down."""
    budget = WindowBudget(rate)
    moment, sent = NOW, []
    for step in steps:
        moment += timedelta(seconds=step)
        count = budget.available(moment)
        budget.spend(count, moment)
        sent += [moment] * count
    start = NOW + timedelta(milliseconds=window_start_ms * 10)
    for edge in [start, *sent]:
        inside = [m for m in sent if edge <= m < edge + timedelta(seconds=1)]
        assert len(inside) <= max(1, int(rate))


def test_retry_delay_doubles_up_to_a_ceiling_and_honours_retry_after() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert retry_delay(50) == MAX_RETRY_SECONDS
    assert retry_delay(1, retry_after=42.0) == 42.0
    assert retry_delay(3, retry_after=1.0) == 20.0
    assert retry_delay(1, retry_after=1e9) == MAX_RETRY_SECONDS
