"""Fault injection for the REST side: 429s, 5xx (optionally after the effect), 403/404 channels."""

from __future__ import annotations

import asyncio
import fnmatch
from dataclasses import dataclass


@dataclass
class RestFault:
    """One planned failure for requests whose method and path match (fnmatch patterns)."""

    method: str
    path_pattern: str
    status: int
    times: int = 1
    retry_after: float = 0.05
    is_global: bool = False
    scope: str = "user"
    after_effect: bool = False
    code: int = 0
    message: str = ""
    hits: int = 0
    hang: bool = False
    """Hold the request unanswered until `Faults.release_hangs()` (a process killed meanwhile
    never hears back); with `after_effect`, Discord has done the work before it hangs."""

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (and still has uses left)."""
        if self.times >= 0 and self.hits >= self.times:
            return False
        return fnmatch.fnmatchcase(method, self.method) and fnmatch.fnmatchcase(
            path, self.path_pattern
        )


class Faults:
    """The set of active faults; paths are relative to the API base, e.g. /channels/1/messages."""

    def __init__(self) -> None:
        self.rest: list[RestFault] = []
        self.forbidden_channels: set[int] = set()
        self.missing_channels: set[int] = set()
        self.released = asyncio.Event()

    def rate_limit(
        self,
        method: str,
        path_pattern: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str | None = None,
    ) -> RestFault:
        """Answer the next `times` matching requests with a 429 (times=-1: forever)."""
        fault = RestFault(
            method,
            path_pattern,
            429,
            times=times,
            retry_after=retry_after,
            is_global=is_global,
            scope=scope or ("global" if is_global else "user"),
        )
        self.rest.append(fault)
        return fault

    def server_error(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 500,
        times: int = 1,
        after_effect: bool = False,
    ) -> RestFault:
        """Answer matching requests with a 5xx; after_effect=True performs the request first."""
        fault = RestFault(
            method, path_pattern, status, times=times, after_effect=after_effect, code=0
        )
        self.rest.append(fault)
        return fault

    def error(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        code: int,
        message: str,
        times: int = 1,
    ) -> RestFault:
        """Answer matching requests with an arbitrary Discord error."""
        fault = RestFault(method, path_pattern, status, times=times, code=code, message=message)
        self.rest.append(fault)
        return fault

    def hang(
        self, method: str, path_pattern: str, *, times: int = 1, after_effect: bool = False
    ) -> RestFault:
        """Hold the next `times` matching requests unanswered (before or after their effect)."""
        self.released.clear()
        fault = RestFault(
            method, path_pattern, 0, times=times, after_effect=after_effect, hang=True
        )
        self.rest.append(fault)
        return fault

    def release_hangs(self) -> None:
        """Answer the held requests (with a 500: whoever sent them has usually gone)."""
        self.released.set()

    def forbid_channel(self, channel_id: int) -> None:
        """Every request on this channel gets 403 Missing Permissions."""
        self.forbidden_channels.add(channel_id)

    def hide_channel(self, channel_id: int) -> None:
        """Every request on this channel gets 404 Unknown Channel."""
        self.missing_channels.add(channel_id)

    def clear(self) -> None:
        """Remove every fault (held requests are released)."""
        self.released.set()
        self.rest.clear()
        self.forbidden_channels.clear()
        self.missing_channels.clear()

    def take(self, method: str, path: str) -> RestFault | None:
        """The first matching fault, counting the hit."""
        for fault in self.rest:
            if fault.matches(method, path):
                fault.hits += 1
                return fault
        return None
