"""Safe fetching: one session, a private-network guard, size caps, per-site and per-address
limits, and readable errors."""

from bot.fetch import kinds
from bot.fetch.guard import check_url, non_public_reason, parse_ip_host
from bot.fetch.http import (
    Fetcher,
    FetchKind,
    FetchResult,
    HostLimiter,
    SlotWaitExpired,
    make_session,
    redirect_target,
    site_of,
)

__all__ = [
    "FetchKind",
    "FetchResult",
    "Fetcher",
    "HostLimiter",
    "SlotWaitExpired",
    "check_url",
    "kinds",
    "make_session",
    "non_public_reason",
    "parse_ip_host",
    "redirect_target",
    "site_of",
]
