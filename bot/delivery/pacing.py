"""Pure pacing decisions: which deliveries may go out now, and how long to back off after a failure.

Everything here is a function of its inputs and `now`; the worker holds the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.announce.policy import next_send_time

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 15 * 60.0
"""A transient failure is retried after 5 s, 10 s, 20 s, ... at most every 15 minutes."""


@dataclass(frozen=True)
class Candidate:
    """A queue head the worker may send: its row, channel and earliest time."""

    outbox_id: int
    channel_id: int
    not_before: datetime


@dataclass(frozen=True)
class RoundPlan:
    """What to send in this round (at most one per channel), and when to look again."""

    send_now: tuple[int, ...]
    next_due: datetime | None


class TokenBucket:
    """A global request budget: `rate` tokens per second, holding at most `capacity`."""

    def __init__(self, rate_per_second: float, now: datetime, *, capacity: float | None = None):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self.capacity = capacity if capacity is not None else max(1.0, rate_per_second)
        self._tokens = self.capacity
        self._updated = now

    def available(self, now: datetime) -> int:
        """Whole requests that may be made at `now`."""
        self._refill(now)
        return int(self._tokens)

    def spend(self, count: int, now: datetime) -> None:
        """Use `count` requests' worth of budget."""
        self._refill(now)
        self._tokens -= count

    def next_token_at(self, now: datetime) -> datetime:
        """When at least one whole request will be available."""
        self._refill(now)
        if self._tokens >= 1:
            return now
        return now + timedelta(seconds=(1 - self._tokens) / self.rate)

    def _refill(self, now: datetime) -> None:
        elapsed = (now - self._updated).total_seconds()
        if elapsed > 0:  # a clock that goes backwards is ignored
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now


def plan_round(
    candidates: Sequence[Candidate],
    *,
    last_sent: Mapping[int, datetime],
    busy_channels: frozenset[int] | set[int] = frozenset(),
    now: datetime,
    per_channel_interval: float,
    budget: int,
) -> RoundPlan:
    """Choose the deliveries due at `now`: longest waiting first, one per channel, at most
    `budget`.

    A channel is ready when its last post is `per_channel_interval` old and nothing is in flight
    there. `next_due` is the earliest moment something not chosen could go (None: nothing waits).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    chosen: list[int] = []
    taken_channels: set[int] = set(busy_channels)
    next_due: datetime | None = None

    def later(moment: datetime) -> None:
        nonlocal next_due
        next_due = moment if next_due is None else min(next_due, moment)

    def due_at(candidate: Candidate) -> datetime:
        ready = next_send_time(last_sent.get(candidate.channel_id), now, per_channel_interval)
        return max(candidate.not_before, ready)

    # The longest-waiting channel goes first, so when the global budget is short no channel
    # falls behind the others and leaves a slow tail of its own at the end.
    for candidate in sorted(candidates, key=lambda c: (due_at(c), c.outbox_id)):
        due = due_at(candidate)
        if candidate.channel_id in taken_channels:
            if candidate.channel_id not in busy_channels:
                later(max(due, now + timedelta(seconds=per_channel_interval)))
            continue
        if due > now:
            later(due)
            continue
        if len(chosen) >= budget:
            later(now)
            continue
        chosen.append(candidate.outbox_id)
        taken_channels.add(candidate.channel_id)
    return RoundPlan(tuple(chosen), next_due)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before trying a delivery again after its `attempts`-th transient failure."""
    exponent = max(0, attempts - 1)
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * float(2 ** min(exponent, 20)))
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, MAX_RETRY_SECONDS)
    return delay
