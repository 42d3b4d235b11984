"""Pure parsing of the server's wishes about when to come back: Retry-After and Cache-Control."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime

MAX_HINT_SECONDS = 7 * 86400.0
"""No server wish beyond a week is honoured: a hostile header cannot park a feed forever."""

_DIGITS = re.compile(r"[0-9]{1,20}")
_MAX_AGE = re.compile(r'max-age\s*=\s*"?([0-9]{1,20})"?\s*', re.IGNORECASE)


def _cap(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_HINT_SECONDS)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from Retry-After (delay-seconds or HTTP-date), capped; None if unusable."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DIGITS.fullmatch(text):
        return _cap(float(int(text)))
    if len(text) > 64:  # no real HTTP-date is this long; do not feed junk to the date parser
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about local time (RFC 5322)
        when = when.replace(tzinfo=UTC)
    return _cap((when - now).total_seconds())


def parse_max_age(cache_control: str | None, age: str | None = None) -> float | None:
    """Remaining freshness from `Cache-Control: max-age` minus `Age`, capped; None if absent."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        match = _MAX_AGE.fullmatch(directive.strip())
        if match:
            lifetime = float(int(match.group(1)))
            already = 0.0
            if age is not None and _DIGITS.fullmatch(age.strip()):
                already = float(int(age.strip()))
            return _cap(lifetime - already)
    return None


def server_hint(headers: Mapping[str, str], now: datetime) -> float | None:
    """The server's wish in seconds: Retry-After first, else Cache-Control max-age; None if neither.

    `headers` must have lowercase keys.
    """
    retry = parse_retry_after(headers.get("retry-after"), now)
    if retry is not None:
        return retry
    return parse_max_age(headers.get("cache-control"), headers.get("age"))
