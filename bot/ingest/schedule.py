"""When to check a feed next: pure functions of the feed's state, the settings and `now`.

Randomness comes in as an argument (`jitter`, a number from -1 to 1) so every decision can be
replayed in tests; the poller draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import FeedsConfig
from bot.fetch.hints import MAX_HINT_SECONDS

JITTER_FRACTION = 0.10
"""Each wait is spread by up to this fraction either way, so feeds added together drift apart."""


@dataclass(frozen=True)
class ScheduleSettings:
    """The knobs of scheduling, taken from `[feeds]`."""

    default_interval_seconds: float = 300.0
    min_interval_seconds: float = 60.0
    max_backoff_seconds: float = 86400.0
    failing_threshold: int = 5

    @classmethod
    def from_config(cls, feeds: FeedsConfig) -> ScheduleSettings:
        """The settings of a `[feeds]` section."""
        return cls(
            default_interval_seconds=float(feeds.default_interval_seconds),
            min_interval_seconds=float(feeds.min_interval_seconds),
            max_backoff_seconds=float(feeds.max_backoff_seconds),
            failing_threshold=feeds.failing_threshold,
        )


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")


def _spread(seconds: float, jitter: float) -> float:
    """`seconds` moved by up to JITTER_FRACTION of itself; `jitter` is clamped to [-1, 1]."""
    return seconds * (1.0 + JITTER_FRACTION * max(-1.0, min(1.0, jitter)))


def _server_hint(hint_seconds: float | None) -> float:
    """The server's wish in seconds, capped at a week; 0 when it said nothing usable."""
    if hint_seconds is None or hint_seconds != hint_seconds:  # None or NaN
        return 0.0
    return min(max(hint_seconds, 0.0), MAX_HINT_SECONDS)


def base_interval(feed_interval_seconds: float | None, settings: ScheduleSettings) -> float:
    """The interval asked for, else the default; never below the minimum."""
    wanted = (
        float(feed_interval_seconds)
        if feed_interval_seconds is not None and feed_interval_seconds > 0
        else settings.default_interval_seconds
    )
    return max(wanted, settings.min_interval_seconds)


def feed_interval(
    subscription_intervals: Sequence[int | None], settings: ScheduleSettings
) -> float:
    """How often a feed is checked: the shortest interval any of its active subscriptions asked
    for (None asks for the default), so no server's choice ever delays another's articles; the
    default when it has none."""
    if not subscription_intervals:
        return base_interval(None, settings)
    return min(base_interval(interval, settings) for interval in subscription_intervals)


def wait_after_success(
    feed_interval_seconds: float | None,
    settings: ScheduleSettings,
    *,
    jitter: float,
    hint_seconds: float | None = None,
) -> float:
    """Seconds until the next check after a good one: the jittered interval, or longer if asked."""
    interval = base_interval(feed_interval_seconds, settings)
    wait = max(_spread(interval, jitter), settings.min_interval_seconds)
    return max(wait, _server_hint(hint_seconds))


def backoff_seconds(
    consecutive_failures: int,
    feed_interval_seconds: float | None,
    settings: ScheduleSettings,
    *,
    jitter: float,
) -> float:
    """Exponential back-off: the interval doubled per failure in a row, jittered, capped."""
    interval = base_interval(feed_interval_seconds, settings)
    cap = max(settings.max_backoff_seconds, settings.min_interval_seconds)
    exponent = min(max(consecutive_failures, 0), 60)  # 2**60 intervals exceed any cap already
    wait = min(interval * 2.0**exponent, cap)
    return min(max(_spread(wait, jitter), settings.min_interval_seconds), cap)


def wait_after_failure(
    consecutive_failures: int,
    feed_interval_seconds: float | None,
    settings: ScheduleSettings,
    *,
    jitter: float,
    retry_after: float | None = None,
) -> float:
    """Seconds until the next check after a failure; a server's Retry-After wins if later."""
    wait = backoff_seconds(consecutive_failures, feed_interval_seconds, settings, jitter=jitter)
    return max(wait, _server_hint(retry_after))


def next_check_after_success(
    now: datetime,
    feed_interval_seconds: float | None,
    settings: ScheduleSettings,
    *,
    jitter: float,
    hint_seconds: float | None = None,
) -> datetime:
    """The moment of the next check after a good one (see `wait_after_success`)."""
    _require_aware(now)
    wait = wait_after_success(
        feed_interval_seconds, settings, jitter=jitter, hint_seconds=hint_seconds
    )
    return now + timedelta(seconds=wait)


def next_check_after_failure(
    now: datetime,
    consecutive_failures: int,
    feed_interval_seconds: float | None,
    settings: ScheduleSettings,
    *,
    jitter: float,
    retry_after: float | None = None,
) -> datetime:
    """The moment of the next check after the `consecutive_failures`-th failure in a row."""
    _require_aware(now)
    wait = wait_after_failure(
        consecutive_failures,
        feed_interval_seconds,
        settings,
        jitter=jitter,
        retry_after=retry_after,
    )
    return now + timedelta(seconds=wait)


def is_failing(consecutive_failures: int, settings: ScheduleSettings) -> bool:
    """Whether a feed has failed often enough in a row that moderators should be told."""
    return consecutive_failures >= settings.failing_threshold
