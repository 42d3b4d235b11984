"""The stable `FetchError.kind` values, in one place.

Callers branch on these strings (back-off policy, moderator messages, metrics), so they never
change meaning. Every `FetchError` raised by `bot.fetch` carries one of them.
"""

from __future__ import annotations

from typing import Final

TIMEOUT: Final = "timeout"
"""The server did not connect or answer within the configured time (slow-loris included)."""
DNS: Final = "dns"
"""The host name could not be resolved."""
TLS: Final = "tls"
"""The secure connection failed: bad, expired or self-signed certificate, or a TLS error."""
REFUSED: Final = "refused"
"""The connection was refused or reset before any answer arrived."""
HTTP_4XX: Final = "http-4xx"
"""The server answered with a client error (404, 410, 401, 403 ...)."""
HTTP_5XX: Final = "http-5xx"
"""The server answered with a server error (500, 502, 503 ...); `retry_after` may be set."""
RATE_LIMITED: Final = "rate-limited"
"""The server answered 429 Too Many Requests; `retry_after` holds its wish, if it said one."""
BLOCKED_BY_CHALLENGE: Final = "blocked-by-challenge"
"""A bot-protection challenge (403 with ``cf-mitigated: challenge``) stood in the way."""
TOO_LARGE: Final = "too-large"
"""The body, counted after decompression, exceeded the size cap for its kind."""
PRIVATE_ADDRESS: Final = "private-address"
"""The address is loopback, private, link-local or otherwise not on the public internet."""
REDIRECTS: Final = "redirects"
"""Too many redirects, a redirect loop, a redirect without a target, or an https->http downgrade."""
INVALID_URL: Final = "invalid-url"
"""The URL is malformed, too long, has credentials or a scheme other than http(s)."""
BUSY: Final = "busy"
"""Paperboy's own limit of simultaneous requests to the site or its address stayed full for
longer than the slot wait (`[limits] slot_wait_seconds`); `retry_after` says when to try again."""
NETWORK: Final = "network"
"""Any other transport failure: reset mid-body, truncated body, damaged compression, bad HTTP."""

ALL_KINDS: Final[frozenset[str]] = frozenset(
    {
        TIMEOUT,
        DNS,
        TLS,
        REFUSED,
        HTTP_4XX,
        HTTP_5XX,
        RATE_LIMITED,
        BLOCKED_BY_CHALLENGE,
        TOO_LARGE,
        PRIVATE_ADDRESS,
        REDIRECTS,
        INVALID_URL,
        BUSY,
        NETWORK,
    }
)
