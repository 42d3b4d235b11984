"""Pure pacing decisions: which deliveries may go out now, and how long to back off after a failure.

Everything here is a function of its inputs and `now`; the worker holds the state.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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


class WindowBudget:
    """A global request budget: at most `limit` requests in any span of `window` seconds.

    Discord counts its global limit in fixed one-second windows that may start at any moment, so
    a token bucket (a full bucket plus a second's refill) could put twice its rate into one of
    them; a sliding window never puts more than `limit` into any span of `window` seconds.
    """

    def __init__(self, rate_per_second: float) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        # 45/s is 45 in any second, 2.5/s rounds down to 2, and 0.1/s is 1 in any 10 s: no
        # one-second window ever holds more than the rate.
        self.limit = max(1, int(rate_per_second))
        self.window = timedelta(seconds=max(1.0, 1.0 / rate_per_second))
        self._used: list[datetime] = []  # sorted; at most about `limit` long

    def available(self, now: datetime) -> int:
        """Whole requests that may be made at `now`."""
        self._forget(now)
        return max(0, self.limit - len(self._used))

    def spend(self, count: int, now: datetime) -> None:
        """Reserve `count` requests at `now`."""
        for _ in range(count):
            insort(self._used, now)

    def postpone(self, reserved_at: datetime, used_at: datetime) -> None:
        """A request reserved at `reserved_at` actually left at `used_at`: count it from then.

        Requests start a little after they are planned (a database write comes first, more on a
        busy machine); counting from the plan would let two seconds' requests crowd one window.
        """
        index = bisect_left(self._used, reserved_at)
        if index < len(self._used) and self._used[index] == reserved_at and used_at > reserved_at:
            del self._used[index]
            insort(self._used, used_at)

    def next_token_at(self, now: datetime) -> datetime:
        """When at least one more request may be made."""
        self._forget(now)
        if len(self._used) < self.limit:
            return now
        # The request that leaves the window first frees the next slot.
        return self._used[len(self._used) - self.limit] + self.window

    def _forget(self, now: datetime) -> None:
        expired = bisect_right(self._used, now - self.window)
        del self._used[:expired]


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
        # Not clamped to `now`: how long a row has been sendable decides who goes first.
        last = last_sent.get(candidate.channel_id)
        if last is None:
            return candidate.not_before
        return max(candidate.not_before, last + timedelta(seconds=per_channel_interval))

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
