"""Quotas on the fetching members cause: a cooldown per member, a cap per server, failed URLs.

Every limiter here is pure bookkeeping driven by the `now` it is given (no clock, no sleeping,
no Discord), and its memory is bounded: idle entries are pruned and the oldest are evicted past
a fixed size, so a flood of members or URLs cannot grow it. A refusal is a `TryLater` whose
sentence says which limit was met and when to try again.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.config import LimitsConfig
from bot.errors import FetchError, TryLater
from bot.feeds import canonical_url
from bot.fetch import kinds

MAX_TRACKED_MEMBERS: Final = 10_000
"""Members whose recent fetches are remembered; past this the least recently active go."""
MAX_FAILED_URLS: Final = 1024
"""Failed URLs remembered; past this the oldest failures are forgotten first."""
SERVER_BUSY_RETRY_SECONDS: Final = 10.0
"""What a member is told to wait when their server's fetches are all in flight."""
NOT_REMEMBERED: Final = frozenset({kinds.BUSY, kinds.INVALID_URL, kinds.PRIVATE_ADDRESS})
"""Failures never cached: Paperboy's own queueing (not the page's fault), and refusals of the
address itself, which are repeated word for word each time anyway."""


@dataclass(frozen=True)
class Requester:
    """Who asked for a fetch: a member in a server (guild id 0 outside any server)."""

    guild_id: int
    member_id: int


def in_words(seconds: float) -> str:
    """A wait as a member reads it: '23 seconds', '1 minute', '4 minutes' (rounded up)."""
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(whole / 60)
    return f"{minutes} minutes"


class MemberCooldown:
    """At most `limit` fetches per member per server in any sliding window of `window` seconds."""

    def __init__(
        self, limit: int, window_seconds: float, *, max_members: int = MAX_TRACKED_MEMBERS
    ) -> None:
        if limit < 1 or window_seconds <= 0 or max_members < 1:
            raise ValueError("a cooldown needs a positive limit, window and size")
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self.max_members = max_members
        self._recent: OrderedDict[Requester, deque[datetime]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._recent)

    def _live(self, who: Requester, now: datetime) -> deque[datetime] | None:
        times = self._recent.get(who)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._recent[who]
            return None
        return times

    def check(self, who: Requester, now: datetime) -> None:
        """Raise TryLater if `who` has used up the window; charges nothing."""
        times = self._live(who, now)
        if times is not None and len(times) >= self.limit:
            wait = (times[0] + self.window - now).total_seconds()
            pages = "1 page" if self.limit == 1 else f"{self.limit} pages"
            raise TryLater(
                f"You can have {pages} fetched every {in_words(self.window_seconds)}; "
                f"try again in {in_words(wait)}.",
                retry_after=max(1.0, math.ceil(wait)),
            )

    @property
    def window_seconds(self) -> float:
        """The window's length in seconds."""
        return self.window.total_seconds()

    def charge(self, who: Requester, now: datetime) -> None:
        """Count one fetch for `who` at `now`."""
        times = self._live(who, now)
        if times is None:
            times = self._recent[who] = deque(maxlen=self.limit)
        times.append(now)
        self._recent.move_to_end(who)
        self._prune(now)

    def _prune(self, now: datetime) -> None:
        # The least recently active members come first: drop the idle ones, then, past the
        # size bound, the oldest active ones (they lose their history, nobody gains memory).
        while self._recent:
            oldest, times = next(iter(self._recent.items()))
            if len(self._recent) > self.max_members or times[-1] <= now - self.window:
                del self._recent[oldest]
            else:
                break


class ServerFetchCap:
    """At most `limit` member-caused fetches in flight per server; the rest are refused at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the cap must be at least 1")
        self.limit = limit
        self._active: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._active)

    def in_flight(self, guild_id: int) -> int:
        """Fetches now in flight for this server."""
        return self._active.get(guild_id, 0)

    def check(self, guild_id: int) -> None:
        """Raise TryLater if the server has no free slot; takes none."""
        if self._active.get(guild_id, 0) >= self.limit:
            pages = "a page" if self.limit == 1 else f"{self.limit} pages"
            raise TryLater(
                f"Paperboy is already fetching {pages} for this server; "
                f"try again in {in_words(SERVER_BUSY_RETRY_SECONDS)}.",
                retry_after=SERVER_BUSY_RETRY_SECONDS,
            )

    @contextmanager
    def hold(self, guild_id: int) -> Iterator[None]:
        """Hold one of the server's slots for the block, or raise TryLater if none is free."""
        self.check(guild_id)
        self._active[guild_id] = self._active.get(guild_id, 0) + 1
        try:
            yield
        finally:
            left = self._active[guild_id] - 1
            if left:
                self._active[guild_id] = left
            else:
                del self._active[guild_id]  # idle servers cost nothing


@dataclass(frozen=True)
class _Failure:
    message: str
    until: datetime


class FailedUrls:
    """A short negative cache: a page that failed is refused, unfetched, for `ttl` seconds."""

    def __init__(self, ttl_seconds: float, *, max_urls: int = MAX_FAILED_URLS) -> None:
        if ttl_seconds < 0 or max_urls < 1:
            raise ValueError("the time to live must be >= 0 and the size >= 1")
        self.ttl = timedelta(seconds=ttl_seconds)
        self.max_urls = max_urls
        self._failed: OrderedDict[str, _Failure] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failed)

    def remember(self, url: str, message: str, now: datetime) -> None:
        """Record that `url` failed at `now` with a user-facing `message`."""
        if self.ttl <= timedelta(0):
            return
        key = canonical_url(url)
        self._failed.pop(key, None)
        self._failed[key] = _Failure(message, now + self.ttl)
        # Entries go in expiry order (one ttl for all), so the front is always the oldest.
        while self._failed and (
            len(self._failed) > self.max_urls or next(iter(self._failed.values())).until <= now
        ):
            self._failed.popitem(last=False)

    def check(self, url: str, now: datetime) -> None:
        """Raise TryLater if `url` failed recently, repeating why and saying when to retry."""
        key = canonical_url(url)
        failure = self._failed.get(key)
        if failure is None:
            return
        if failure.until <= now:
            del self._failed[key]
            return
        wait = (failure.until - now).total_seconds()
        reason = failure.message.rstrip()
        if reason and not reason.endswith((".", "!", "?")):
            reason += "."
        raise TryLater(
            f"That page could not be fetched a moment ago: {reason} "
            f"Paperboy will try it again if you ask in {in_words(wait)}.",
            retry_after=max(1.0, math.ceil(wait)),
        )


class MemberQuotas:
    """Every quota on member-caused fetching, checked and charged in one place."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits
        self.cooldown = MemberCooldown(
            limits.member_fetches_per_window, limits.member_window_seconds
        )
        self.servers = ServerFetchCap(limits.server_concurrent_fetches)
        self.failed = FailedUrls(limits.failed_url_seconds)

    def check(self, url: str, who: Requester, now: datetime) -> None:
        """Raise the TryLater that `fetching` would raise now; charges and holds nothing.

        Lets a command refuse before it shows anything (a public "thinking..." reply would
        make the refusal public too).
        """
        self.failed.check(url, now)
        self.cooldown.check(who, now)
        self.servers.check(who.guild_id)

    @contextmanager
    def fetching(self, url: str, who: Requester | None, now: datetime) -> Iterator[None]:
        """Admit one fetch of `url` for `who` (None: an operator, not limited per member).

        Refusals come before anything is charged: a recent failure of the URL, the member's
        cooldown, then the server's cap. A fetch that fails is remembered for the URL, and a
        busy-slot failure from the fetcher becomes the member's TryLater.
        """
        self.failed.check(url, now)
        if who is None:
            with self._remembering_failures(url, now):
                yield
            return
        self.cooldown.check(who, now)
        with self.servers.hold(who.guild_id):
            self.cooldown.charge(who, now)
            with self._remembering_failures(url, now):
                yield

    @contextmanager
    def _remembering_failures(self, url: str, now: datetime) -> Iterator[None]:
        try:
            yield
        except FetchError as error:
            if error.kind == kinds.BUSY:
                raise TryLater(str(error), retry_after=error.retry_after or 1.0) from None
            if error.kind not in NOT_REMEMBERED:
                self.failed.remember(url, str(error), now)
            raise
