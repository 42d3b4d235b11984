"""Safe fetching: one session, a private-network guard, size caps, per-site and per-address
limits, and readable errors."""

from bot.fetch import kinds
from bot.fetch.guard import GuardedConnector, check_url, non_public_reason, parse_ip_host
from bot.fetch.hints import MAX_HINT_SECONDS, parse_max_age, parse_retry_after, server_hint
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
    "MAX_HINT_SECONDS",
    "FetchKind",
    "FetchResult",
    "Fetcher",
    "GuardedConnector",
    "HostLimiter",
    "SlotWaitExpired",
    "check_url",
    "kinds",
    "make_session",
    "non_public_reason",
    "parse_ip_host",
    "parse_max_age",
    "parse_retry_after",
    "redirect_target",
    "server_hint",
    "site_of",
]
