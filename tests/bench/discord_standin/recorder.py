"""What the stand-in saw: every request, unknown routes, rate-limited calls; waiting on changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class RecordedRequest:
    """One HTTP request the bot made."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0
    files: list[str] = field(default_factory=list)
    via: str = ""
    """The name in /via/<name>/... when the client's base URL had one (which process asked)."""


class Recorder:
    """Request log plus a change signal that every state change of the stand-in fires."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[RecordedRequest] = []
        self.rate_limited: list[RecordedRequest] = []
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        """Wake every waiter so it re-checks its condition."""
        for event in self._waiters:
            event.set()

    async def wait_for(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Wait until `check()` returns a truthy value and return it; AssertionError on timeout."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = check()
                    if result:
                        return result
                    # No await between the check and registering: a change cannot slip between.
                    event = asyncio.Event()
                    self._waiters.add(event)
                    try:
                        await event.wait()
                    finally:
                        self._waiters.discard(event)
        except TimeoutError:
            raise AssertionError(
                f"stand-in: timed out after {timeout} s waiting for {what}"
            ) from None

    def requests_to(self, method: str, path_contains: str = "") -> list[RecordedRequest]:
        """Recorded requests with this method whose path contains the given text."""
        return [r for r in self.requests if r.method == method and path_contains in r.path]
