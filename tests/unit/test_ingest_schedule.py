"""Scheduling decisions: intervals, jitter, back-off, server hints, the failing threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import FeedsConfig
from bot.ingest import schedule
from bot.ingest.schedule import ScheduleSettings

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
SETTINGS = ScheduleSettings(
    default_interval_seconds=300,
    min_interval_seconds=60,
    max_backoff_seconds=86400,
    failing_threshold=5,
)
WEEK = 7 * 86400


def test_settings_come_from_the_feeds_section() -> None:
    settings = ScheduleSettings.from_config(
        FeedsConfig(default_interval_seconds=600, min_interval_seconds=120, failing_threshold=3)
    )
    assert settings.default_interval_seconds == 600
    assert settings.min_interval_seconds == 120
    assert settings.failing_threshold == 3


def test_a_feed_uses_its_own_interval_else_the_default_never_below_the_minimum() -> None:
    assert schedule.base_interval(None, SETTINGS) == 300
    assert schedule.base_interval(900, SETTINGS) == 900
    assert schedule.base_interval(10, SETTINGS) == 60
    assert schedule.base_interval(0, SETTINGS) == 300


def test_jitter_spreads_the_interval_by_ten_percent_either_way() -> None:
    assert schedule.wait_after_success(None, SETTINGS, jitter=0.0) == 300
    assert schedule.wait_after_success(None, SETTINGS, jitter=1.0) == pytest.approx(330)
    assert schedule.wait_after_success(None, SETTINGS, jitter=-1.0) == pytest.approx(270)
    # Out-of-range jitter is clamped rather than trusted.
    assert schedule.wait_after_success(None, SETTINGS, jitter=50.0) == pytest.approx(330)


def test_jitter_never_takes_a_wait_below_the_minimum() -> None:
    assert schedule.wait_after_success(60, SETTINGS, jitter=-1.0) == 60


def test_a_server_hint_longer_than_the_interval_is_respected() -> None:
    assert schedule.wait_after_success(None, SETTINGS, jitter=0.0, hint_seconds=3600) == 3600
    # A shorter hint never makes Paperboy poll faster than its own interval.
    assert schedule.wait_after_success(None, SETTINGS, jitter=0.0, hint_seconds=10) == 300


def test_a_server_hint_is_capped_at_a_week() -> None:
    assert schedule.wait_after_success(None, SETTINGS, jitter=0.0, hint_seconds=10**9) == WEEK
    retry = schedule.wait_after_failure(1, None, SETTINGS, jitter=0.0, retry_after=10**9)
    assert retry == WEEK


def test_backoff_doubles_per_failure_and_stops_at_the_cap() -> None:
    waits = [schedule.backoff_seconds(n, None, SETTINGS, jitter=0.0) for n in range(1, 12)]
    assert waits[:4] == [600, 1200, 2400, 4800]
    assert waits[-1] == 86400
    assert waits == sorted(waits)


def test_backoff_jitter_never_exceeds_the_cap() -> None:
    assert schedule.backoff_seconds(40, None, SETTINGS, jitter=1.0) == 86400
    assert schedule.backoff_seconds(40, None, SETTINGS, jitter=-1.0) == pytest.approx(77760)


def test_retry_after_on_failure_wins_when_later_than_the_backoff() -> None:
    assert schedule.wait_after_failure(1, None, SETTINGS, jitter=0.0, retry_after=7200) == 7200
    assert schedule.wait_after_failure(1, None, SETTINGS, jitter=0.0, retry_after=5) == 600


def test_next_check_moments_are_now_plus_the_wait() -> None:
    after_success = schedule.next_check_after_success(NOW, None, SETTINGS, jitter=0.0)
    assert after_success == NOW + timedelta(seconds=300)
    after_failure = schedule.next_check_after_failure(NOW, 2, None, SETTINGS, jitter=0.0)
    assert after_failure == NOW + timedelta(seconds=1200)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        schedule.next_check_after_success(datetime(2026, 1, 1), None, SETTINGS, jitter=0.0)  # noqa: DTZ001


def test_failing_threshold() -> None:
    assert not schedule.is_failing(4, SETTINGS)
    assert schedule.is_failing(5, SETTINGS)


@given(
    failures=st.integers(min_value=0, max_value=10_000),
    interval=st.one_of(st.none(), st.integers(min_value=-5, max_value=10 * WEEK)),
    jitter=st.floats(min_value=-5, max_value=5, allow_nan=False),
    retry_after=st.one_of(st.none(), st.floats(min_value=-1e12, max_value=1e12)),
)
def test_every_failure_wait_is_between_the_minimum_and_a_week(
    failures: int, interval: int | None, jitter: float, retry_after: float | None
) -> None:
    wait = schedule.wait_after_failure(
        failures, interval, SETTINGS, jitter=jitter, retry_after=retry_after
    )
    assert SETTINGS.min_interval_seconds <= wait <= WEEK
