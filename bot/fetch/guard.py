"""The private-network guard: early URL checks for users, and a connector that checks each dial.

`check_url` is the friendly early check (schemes, credentials, length, literal private IPs in
any spelling). It cannot see what a name resolves to, so `GuardedConnector` checks the address
actually dialled, after resolution and for IP literals alike, on every connection aiohttp opens
(every redirect hop included). That also defeats DNS rebinding: whatever a name resolved to at
an earlier check, only the address being connected to counts.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.tracing import Trace
from yarl import URL

from bot.errors import FetchError
from bot.fetch import kinds

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Legacy IPv4 spellings that inet_aton accepts: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)
_HOST_NAME = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?"
)
_NAT64_PREFIXES = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


# `\s` on a str pattern is exactly str.isspace(); one regex scan is far cheaper than a
# Python-level loop over every character, and every poll checks its URL.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def parse_ip_host(host: str) -> IPAddress | None:
    """The IP address a URL host spells, legacy IPv4 forms included; None for a name."""
    text = host.strip("[]")
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    if not _LEGACY_IPV4.fullmatch(text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in a mapped, 6to4, Teredo or NAT64 IPv6 address, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    for prefix in _NAT64_PREFIXES:
        if address in prefix:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def non_public_reason(address: IPAddress) -> str | None:
    """Why an address is not public ("loopback", "private" ...), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(address.compressed.split("%")[0])
        inner = _embedded_ipv4(address)
        if inner is not None:
            # These prefixes only carry IPv4 traffic; what matters is where it ends up.
            return non_public_reason(inner)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        # Deprecated site-local IPv6 (fec0::/10): still routed inside some networks, and
        # neither `is_private` nor `is_reserved` covers it.
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("multicast", address.is_multicast),
        (
            "shared (carrier-grade NAT)",
            isinstance(address, ipaddress.IPv4Address) and address in _CGNAT,
        ),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for reason, hit in checks:
        if hit:
            return reason
    if not address.is_global:
        return "reserved"
    return None


def private_address_error(shown: str) -> FetchError:
    """The user-facing refusal for a non-public address."""
    return FetchError(
        kinds.PRIVATE_ADDRESS,
        f"That address points into a private network ({shown}), which Paperboy does not fetch.",
    )


def ensure_public(address: IPAddress) -> None:
    """Raise a `private-address` FetchError unless the address is on the public internet."""
    if non_public_reason(address) is not None:
        raise private_address_error(str(address))


def _invalid(message: str) -> FetchError:
    return FetchError(kinds.INVALID_URL, message)


def check_url(url: str, *, allow_private: bool = False) -> str:
    """Validate a URL from outside and return it normalised; raises FetchError otherwise.

    Kinds raised: ``invalid-url`` and ``private-address`` (literal IPs only; names are checked
    when dialled).
    """
    return _check(url, allow_private)


def check_feed_url(url: str, *, allow_private: bool = False) -> str:
    """`check_url` for feed fetches (polls, moderators' checks, a feed's sitemaps), which ask
    again for the same addresses: answers for addresses of up to 512 characters are remembered,
    16,384 of them, at most about 20 MB whoever fills it. Members' page addresses go through
    `check_url` and are never remembered."""
    if len(url) > _REMEMBERED_URL_CHARS:
        return _check(url, allow_private)
    return _remembered_check(url, allow_private)


def _check(url: str, allow_private: bool) -> str:
    text = url.strip()
    if not text:
        raise _invalid("That is not a web address: it is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise _invalid(f"That web address is longer than {MAX_URL_LENGTH} characters.")
    if _SPACE_OR_CONTROL.search(text):
        raise _invalid("That web address contains spaces or control characters.")
    try:
        parsed = URL(text)
        scheme = parsed.scheme.lower()
        host = parsed.host
        raw_host = parsed.raw_host
        has_credentials = parsed.raw_user is not None or parsed.raw_password is not None
        port = parsed.explicit_port
    except (ValueError, TypeError, UnicodeError):
        raise _invalid("That web address could not be read.") from None
    if scheme not in ("http", "https"):
        shown = f"'{scheme}:'" if scheme else "none"
        raise _invalid(
            f"Only http and https addresses can be fetched (this one's scheme is {shown})."
        )
    if has_credentials:
        raise _invalid("Web addresses with a user name or password in them are not accepted.")
    if not host or not raw_host:
        raise _invalid("That web address has no host name.")
    if port == 0:
        raise _invalid("That web address has an invalid port number.")
    address = parse_ip_host(host)
    if address is not None:
        if not allow_private and non_public_reason(address) is not None:
            raise private_address_error(str(address))
        if isinstance(address, ipaddress.IPv4Address):
            parsed = parsed.with_host(str(address))  # canonical dotted form; aiohttp refuses others
    else:
        if not _HOST_NAME.fullmatch(raw_host) or len(raw_host) > 253:
            raise _invalid(f"That web address has an invalid host name ({host[:80]}).")
        name = raw_host.rstrip(".")
        if not allow_private and (name == "localhost" or name.endswith(".localhost")):
            raise private_address_error(name)
    normalised = str(parsed.with_fragment(None))
    if len(normalised) > MAX_URL_LENGTH:
        raise _invalid(f"That web address is longer than {MAX_URL_LENGTH} characters.")
    return normalised


_REMEMBERED_URL_CHARS = 512
# `_check` is a pure function of its arguments; a refusal raises and so is never remembered.
_remembered_check = functools.lru_cache(maxsize=16_384)(_check)


class PrivateDialRefused(OSError):
    """Raised from the socket factory when a dial to a non-public address is attempted."""

    def __init__(self, shown: str) -> None:
        super().__init__(f"refusing to connect to non-public address {shown}")
        self.shown = shown


def guarded_socket_factory(addr_info: tuple[Any, ...]) -> socket.socket:
    """Create the socket for one dial attempt, refusing non-public peers (defence in depth)."""
    family, type_, proto, _canon, sockaddr = addr_info
    address = ipaddress.ip_address(sockaddr[0])
    if non_public_reason(address) is not None:
        raise PrivateDialRefused(str(address))
    return socket.socket(family=family, type=type_, proto=proto)


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses to connect to non-public addresses unless allowed.

    `_resolve_host` is the one step that sees the final IP for names and IP literals alike
    (aiohttp 3.14 returns literals from it unresolved), so the check sits there and names the
    address in a friendly error; the socket factory checks again on the very address dialled.
    """

    def __init__(self, *, allow_private: bool, **kwargs: Any) -> None:
        if not allow_private:
            kwargs["socket_factory"] = guarded_socket_factory
        super().__init__(**kwargs)
        self.allow_private = allow_private

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces=traces)
        if not self.allow_private:
            for result in results:
                try:
                    address = ipaddress.ip_address(result["host"])
                except ValueError:
                    raise private_address_error(result["host"]) from None
                ensure_public(address)
        return results
