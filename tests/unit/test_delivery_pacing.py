"""Pure pacing decisions: one post per channel per interval, a global budget, retry backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.pacing import (
    MAX_RETRY_SECONDS,
    Candidate,
    TokenBucket,
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


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(2.0, NOW)
    assert bucket.available(NOW) == 2
    bucket.spend(2, NOW)
    assert bucket.available(NOW) == 0
    assert bucket.next_token_at(NOW) == at(0.5)
    assert bucket.available(at(0.5)) == 1
    assert bucket.available(at(60)) == 2  # never more than its capacity
    assert bucket.available(at(30)) == 2  # a clock going backwards changes nothing


def test_retry_delay_doubles_up_to_a_ceiling_and_honours_retry_after() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert retry_delay(50) == MAX_RETRY_SECONDS
    assert retry_delay(1, retry_after=42.0) == 42.0
    assert retry_delay(3, retry_after=1.0) == 20.0
    assert retry_delay(1, retry_after=1e9) == MAX_RETRY_SECONDS
