"""The Fetcher: every download Paperboy makes, through one injected aiohttp session.

Conditional GET, manual redirects (each hop checked), size caps counted on decompressed bytes
while streaming, per-host concurrency, and every failure turned into a `FetchError` whose kind
is one of `bot.fetch.kinds` and whose message is a sentence a user can read.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver
from publicsuffixlist import PublicSuffixList
from yarl import URL

from bot.config import FetchConfig, LimitsConfig
from bot.errors import FetchError
from bot.fetch import kinds
from bot.fetch.guard import (
    GuardedConnector,
    PrivateDialRefused,
    check_feed_url,
    check_url,
    parse_ip_host,
    private_address_error,
)
from bot.fetch.hints import server_hint

FetchKind = Literal["feed", "page"]

# Only encodings whose decompression aiohttp 3.14 bounds while streaming (max_length per chunk
# plus back-pressure). br only when the Brotli package is there to decode it; zstd is left out.
ACCEPT_ENCODING = "gzip, deflate, br" if importlib.util.find_spec("brotli") else "gzip, deflate"
ACCEPT = {
    "feed": (
        "application/rss+xml, application/atom+xml, application/feed+json;q=0.9, "
        "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.5, */*;q=0.1"
    ),
    "page": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_SIZE = 64 * 1024
_POST_ANSWER_BYTES = 2048  # enough of a hub's answer to quote in an error, no more


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch. `body` is None when the server said 304 Not Modified."""

    url: str
    status: int
    body: bytes | None
    headers: dict[str, str]
    content_type: str | None
    charset: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    hint_seconds: float | None


def make_session(
    config: FetchConfig,
    user_agent: str,
    *,
    resolver: AbstractResolver | None = None,
    tls: ssl.SSLContext | None = None,
) -> aiohttp.ClientSession:
    """Create the one session all fetching goes through; the caller owns and closes it.

    `resolver` and `tls` replace name resolution and certificate trust: tests point real host
    names (www.youtube.com) at local stand-ins with them. The private-network guard still
    checks every address the resolver gives.
    """
    connector = GuardedConnector(
        allow_private=config.allow_private_addresses,
        limit=config.max_concurrency,
        limit_per_host=config.per_host_concurrency,
        resolver=resolver,
        ssl=tls if tls is not None else True,
    )
    timeout = aiohttp.ClientTimeout(
        total=config.total_timeout_seconds,
        sock_connect=config.connect_timeout_seconds,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        cookie_jar=aiohttp.DummyCookieJar(),  # no tracking state kept between publishers
        trust_env=False,  # a proxy from the environment would bypass the private-network guard
        auto_decompress=True,
    )


# Anything but tab and printable ASCII: a validator carrying it is not sent back.
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e]")


class SlotWaitExpired(Exception):
    """No slot of a `HostLimiter` came free within the wait allowed."""


class HostLimiter:
    """A semaphore per key (a site or an address), dropped when idle; waits can be bounded.

    Idle keys are forgotten, so thousands of sites or addresses cost nothing.
    """

    def __init__(
        self, limit: int, *, on_change: Callable[[str, int, int], None] | None = None
    ) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}
        self._on_change = on_change  # (key, active, waiting): for metrics and tests

    @property
    def limit(self) -> int:
        """Slots per key."""
        return self._limit

    def __len__(self) -> int:
        return len(self._slots)

    def _notify(self, host: str, counts: list[int]) -> None:
        if self._on_change is not None:
            self._on_change(host, counts[0], counts[1])

    def hold(
        self, host: str, *, wait: float | None = None, pause: asyncio.Timeout | None = None
    ) -> _Slot:
        """Hold one of the key's slots for the `async with` block; SlotWaitExpired after `wait`
        seconds. A `pause` deadline stands still while this waits for a slot: that wait is our
        own queueing, not the time a server takes."""
        return _Slot(self, host, wait, pause)

    async def _acquire(
        self, host: str, wait: float | None, pause: asyncio.Timeout | None
    ) -> tuple[asyncio.Semaphore, list[int]]:
        entry = self._slots.get(host)
        if entry is None:
            entry = self._slots[host] = (asyncio.Semaphore(self._limit), [0, 0])
        semaphore, counts = entry  # counts = [active, waiting]
        counts[1] += 1
        self._notify(host, counts)
        try:
            if semaphore.locked():
                await self._wait_for_slot(semaphore, wait, pause)
            else:  # a free slot is taken at once: no timer to arm (most fetches)
                await semaphore.acquire()
        except TimeoutError:
            counts[1] -= 1
            self._forget_if_idle(host, counts)
            raise SlotWaitExpired(host) from None
        except BaseException:
            counts[1] -= 1
            self._forget_if_idle(host, counts)
            raise
        counts[1] -= 1
        counts[0] += 1
        self._notify(host, counts)
        return entry

    @staticmethod
    async def _wait_for_slot(
        semaphore: asyncio.Semaphore, wait: float | None, pause: asyncio.Timeout | None
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = pause.when() if pause is not None else None
        if pause is not None:
            pause.reschedule(None)
        started = loop.time()
        try:
            async with asyncio.timeout(wait):
                await semaphore.acquire()
        finally:
            if pause is not None and deadline is not None:
                pause.reschedule(deadline + (loop.time() - started))

    def _release(self, host: str, semaphore: asyncio.Semaphore, counts: list[int]) -> None:
        semaphore.release()
        counts[0] -= 1
        self._notify(host, counts)
        self._forget_if_idle(host, counts)

    def _forget_if_idle(self, host: str, counts: list[int]) -> None:
        if counts == [0, 0]:
            self._slots.pop(host, None)


class _Slot:
    """`HostLimiter.hold`'s context manager (a class, not a generator: one per request)."""

    __slots__ = ("_entry", "_host", "_limiter", "_pause", "_wait")

    def __init__(
        self, limiter: HostLimiter, host: str, wait: float | None, pause: asyncio.Timeout | None
    ) -> None:
        self._limiter = limiter
        self._host = host
        self._wait = wait
        self._pause = pause
        self._entry: tuple[asyncio.Semaphore, list[int]] | None = None

    async def __aenter__(self) -> None:
        self._entry = await self._limiter._acquire(self._host, self._wait, self._pause)

    async def __aexit__(self, *exc: object) -> None:
        if self._entry is not None:
            semaphore, counts = self._entry
            self._entry = None
            self._limiter._release(self._host, semaphore, counts)


_SUFFIXES: PublicSuffixList | None = None


@functools.lru_cache(maxsize=16384)
def site_of(host: str) -> str:
    """The registrable domain a host belongs to (a1.example.co.uk -> example.co.uk).

    Per-site limits use it so that wildcard names (a1.example, a2.example ...) share one site's
    slots. IP literals and names that are themselves public suffixes stand for themselves. The
    public suffix list ships inside the `publicsuffixlist` package: nothing is downloaded.
    """
    global _SUFFIXES
    name = host.strip("[]").rstrip(".").lower()
    if not name or parse_ip_host(name) is not None:
        return name
    if _SUFFIXES is None:
        _SUFFIXES = PublicSuffixList()  # parsing the list is not free: once, on first use
    return _SUFFIXES.privatesuffix(name) or name


def redirect_target(current_url: str, location: str | None, *, allow_private: bool) -> str:
    """Where a redirect leads, checked like user input; refuses a missing target and https->http."""
    host = URL(current_url).host or "the server"
    if not location or not location.strip():
        raise FetchError(kinds.REDIRECTS, f"The server at {host} sent a redirect without a target.")
    try:
        target = URL(current_url).join(URL(location.strip()))
    except (ValueError, TypeError, UnicodeError):
        raise FetchError(
            kinds.REDIRECTS, f"The server at {host} redirected to an address that cannot be read."
        ) from None
    if URL(current_url).scheme == "https" and target.scheme == "http":
        raise FetchError(
            kinds.REDIRECTS,
            f"The server at {host} redirected from a secure (https) address to an insecure "
            "(http) one, which Paperboy does not follow.",
        )
    return check_url(str(target), allow_private=allow_private)


def _is_header_safe(value: str) -> bool:
    return len(value) <= 1024 and _HEADER_UNSAFE.search(value) is None


def _status_phrase(status: int) -> str:
    try:
        return f"{status} ({HTTPStatus(status).phrase})"
    except ValueError:
        return str(status)


def _plain_headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


REDDIT_RATE_LIMIT_WAIT = 600.0
"""Seconds to wait after Reddit's 429 when it says neither Retry-After nor its reset time."""
REDDIT_FORBIDDEN_WAIT = 3600.0
"""Seconds before asking again after Reddit's 403: a block or a private subreddit lasts."""


def is_reddit(host: str) -> bool:
    """Whether a host is Reddit's (reddit.com or a subdomain such as old.reddit.com)."""
    host = host.lower().rstrip(".")
    return host == "reddit.com" or host.endswith(".reddit.com")


def reddit_refusal(status: int, headers: dict[str, str], hint: float | None) -> FetchError:
    """Reddit's 429 and 403 in words, with how long to wait (its `x-ratelimit-reset` counts)."""
    if status == 429:
        wait = hint
        if wait is None:
            try:
                wait = float(headers.get("x-ratelimit-reset", ""))
            except ValueError:
                wait = None
        wait = min(max(wait or REDDIT_RATE_LIMIT_WAIT, 60.0), 6 * 3600.0)
        return FetchError(
            kinds.RATE_LIMITED,
            "Reddit answered 429 (Too Many Requests): it limits how often one address may read "
            f"it, so Paperboy will wait about {round(wait / 60)} minutes before "
            "asking again.",
            retry_after=wait,
        )
    return FetchError(
        kinds.HTTP_4XX,
        "Reddit answered 403 (Forbidden): the subreddit or user may be private, banned or "
        "quarantined, or Reddit is refusing requests from this server's address. Paperboy will "
        "ask again in an hour.",
        retry_after=REDDIT_FORBIDDEN_WAIT,
    )


class Fetcher:
    """Fetches feeds and pages safely through one shared session.

    Each request holds a slot of its site (registrable domain, `[fetch] per_host_concurrency`)
    and of the IP address it will dial (`[limits] per_ip_concurrency`), so neither wildcard
    names nor many names on one address multiply the load on one server. Waiting for a slot is
    bounded (`[limits] slot_wait_seconds`); past it the fetch fails with kind ``busy``.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: FetchConfig,
        *,
        host_limiter: HostLimiter | None = None,
        ip_limiter: HostLimiter | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        self._session = session
        self._config = config
        self._limits = limits if limits is not None else LimitsConfig()
        self.host_limiter = (
            host_limiter if host_limiter is not None else HostLimiter(config.per_host_concurrency)
        )
        self.ip_limiter = (
            ip_limiter if ip_limiter is not None else HostLimiter(self._limits.per_ip_concurrency)
        )
        # `fetch` bounds each hop with its own deadline: aiohttp's total timer would be a second
        # timer armed and cancelled per request for the same bound.
        self._hop_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout_seconds
        )

    async def fetch(
        self,
        url: str,
        *,
        kind: FetchKind,
        etag: str | None = None,
        last_modified: str | None = None,
        now: datetime,
        slot_wait: float | None = None,
    ) -> FetchResult:
        """GET a feed or page, following checked redirects; raises FetchError on any failure.

        `slot_wait` bounds the wait for a per-site or per-address slot (default
        `[limits] slot_wait_seconds`); members' fetches pass a shorter one.
        """
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        if kind not in ACCEPT:
            raise ValueError(f"unknown fetch kind {kind!r}")
        wait = self._limits.slot_wait_seconds if slot_wait is None else slot_wait
        allow_private = self._config.allow_private_addresses
        checked = check_feed_url if kind == "feed" else check_url
        current = checked(url, allow_private=allow_private)
        headers = {"Accept": ACCEPT[kind]}
        # Validators were once sent by a server; a damaged one is dropped, not sent on.
        if etag and _is_header_safe(etag):
            headers["If-None-Match"] = etag
        if last_modified and _is_header_safe(last_modified):
            headers["If-Modified-Since"] = last_modified
        cap = self._config.max_feed_bytes if kind == "feed" else self._config.max_page_bytes
        visited = {current}
        loop = asyncio.get_running_loop()
        # One budget for the whole fetch, redirects included; waiting for a slot is not
        # counted, since that is our own queueing and not the server being slow.
        budget = self._config.total_timeout_seconds
        for _hop in range(self._config.max_redirects + 1):
            # `current` is check_url's or redirect_target's output, already encoded: parsed once
            # here and handed to aiohttp as is, not parsed and quoted again at every step.
            target = URL(current, encoded=True)
            host = target.host or ""
            site = site_of(host)
            try:
                async with self.host_limiter.hold(site, wait=wait):
                    # One deadline for the address and the request; it stands still while the
                    # request waits for a slot of the address.
                    deadline = asyncio.timeout(budget)
                    try:
                        async with deadline:
                            address = await self._address_of(target, host)
                            async with self.ip_limiter.hold(address, wait=wait, pause=deadline):
                                outcome = await self._one_hop(target, host, headers, cap, now)
                    except TimeoutError:
                        raise self._timeout_error(host) from None
                    budget = (deadline.when() or loop.time()) - loop.time()
            except SlotWaitExpired as expired:
                raise self._busy_error(host, site, str(expired), wait) from None
            if isinstance(outcome, FetchResult):
                return outcome
            following = redirect_target(current, outcome, allow_private=allow_private)
            if following in visited:
                raise FetchError(
                    kinds.REDIRECTS, f"The server at {host} sent Paperboy round in a redirect loop."
                )
            visited.add(following)
            current = following
            if budget <= 0:
                raise self._timeout_error(host)
        raise FetchError(
            kinds.REDIRECTS,
            f"The address {URL(url).host} redirected more than {self._config.max_redirects} "
            "times, so Paperboy gave up.",
        )

    async def post_form(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        """POST a form (a WebSub hub request) through the guarded session: (status, start of
        the answer). No redirects are followed; raises FetchError when no answer came."""
        allow_private = self._config.allow_private_addresses
        current = check_url(url, allow_private=allow_private)
        host = URL(current).host or "the server"
        try:
            async with (
                asyncio.timeout(self._config.total_timeout_seconds),
                self._session.post(current, data=form, allow_redirects=False) as response,
            ):
                said = await response.content.read(_POST_ANSWER_BYTES)
                return response.status, said.decode("utf-8", "replace")
        except FetchError:
            raise
        except TimeoutError:
            raise self._timeout_error(host) from None
        except aiohttp.ClientError as error:
            raise self._translate(error, host) from None

    async def _address_of(self, url: URL, host: str) -> str:
        """The IP address the session will dial first for this URL's host.

        Asked of the session's own connector, so the private-network guard applies and the
        answer lands in its DNS cache: the connection that follows dials these same addresses.
        """
        connector = self._session.connector
        if not isinstance(connector, aiohttp.TCPConnector):
            return host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            results = await connector._resolve_host(host, port)
        except OSError:
            raise FetchError(
                kinds.DNS, f"The name {host} could not be found (DNS lookup failed)."
            ) from None
        if not results:
            raise FetchError(kinds.DNS, f"The name {host} could not be found (DNS lookup failed).")
        return str(results[0]["host"])

    def _busy_error(self, host: str, site: str, key: str, wait: float) -> FetchError:
        # Roughly one request's worth of time frees a slot; never promise less than a second.
        retry = max(1.0, min(self._config.total_timeout_seconds, 60.0))
        what = f"the site {site}" if key == site else f"the address of {host}"
        return FetchError(
            kinds.BUSY,
            f"Paperboy is already making as many requests to {what} as it allows, and none "
            f"finished within {wait:g} seconds; try again in {retry:.0f} seconds.",
            retry_after=retry,
        )

    def _timeout_error(self, host: str) -> FetchError:
        seconds = f"{self._config.total_timeout_seconds:g}"
        return FetchError(
            kinds.TIMEOUT, f"The server at {host} took longer than {seconds} seconds to answer."
        )

    async def _one_hop(
        self, url: URL, host: str, headers: dict[str, str], cap: int, now: datetime
    ) -> FetchResult | str | None:
        """One request: a FetchResult, or the Location of a redirect (possibly None)."""
        host = host or "the server"
        try:
            async with self._session.get(
                url,
                headers=headers,
                allow_redirects=False,
                max_redirects=0,
                timeout=self._hop_timeout,
            ) as response:
                if response.status in _REDIRECT_STATUSES:
                    return response.headers.get("Location")
                plain = _plain_headers(response)
                hint = server_hint(plain, now)
                if response.status == 304:
                    return self._result(response, plain, None, hint)
                self._raise_for_status(response, plain, host, hint)
                body = await self._read_capped(response, cap, host)
                return self._result(response, plain, body, hint)
        except FetchError:
            raise
        except aiohttp.ConnectionTimeoutError:
            seconds = f"{self._config.connect_timeout_seconds:g}"
            raise FetchError(
                kinds.TIMEOUT,
                f"The server at {host} could not be reached within {seconds} seconds.",
            ) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise self._timeout_error(host) from None
        except aiohttp.ClientError as error:
            raise self._translate(error, host) from None

    def _result(
        self,
        response: aiohttp.ClientResponse,
        plain: dict[str, str],
        body: bytes | None,
        hint: float | None,
    ) -> FetchResult:
        content_type = plain.get("content-type")
        return FetchResult(
            url=str(response.url),
            status=response.status,
            body=body,
            headers=plain,
            content_type=response.content_type if content_type else None,
            charset=response.charset,
            etag=plain.get("etag"),
            last_modified=plain.get("last-modified"),
            not_modified=response.status == 304,
            hint_seconds=hint,
        )

    @staticmethod
    def _raise_for_status(
        response: aiohttp.ClientResponse, plain: dict[str, str], host: str, hint: float | None
    ) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        said = _status_phrase(status)
        if status in (403, 429) and is_reddit(host):
            raise reddit_refusal(status, plain, hint)
        if status == 429:
            raise FetchError(
                kinds.RATE_LIMITED,
                f"The server at {host} asked Paperboy to slow down ({said}).",
                retry_after=hint,
            )
        if status == 403 and plain.get("cf-mitigated", "").strip().lower() == "challenge":
            raise FetchError(
                kinds.BLOCKED_BY_CHALLENGE,
                f"The server at {host} put up a bot-protection challenge instead of the page.",
            )
        if 400 <= status < 500:
            raise FetchError(kinds.HTTP_4XX, f"The server at {host} answered {said}.")
        if 500 <= status < 600:
            raise FetchError(
                kinds.HTTP_5XX, f"The server at {host} had an error ({said}).", retry_after=hint
            )
        raise FetchError(kinds.NETWORK, f"The server at {host} gave an unexpected answer ({said}).")

    @staticmethod
    async def _read_capped(response: aiohttp.ClientResponse, cap: int, host: str) -> bytes:
        """Stream the decompressed body, stopping as soon as it passes the cap."""

        def too_large() -> FetchError:
            return FetchError(
                kinds.TOO_LARGE,
                f"The document at {host} is larger than {cap // 1024} KiB, so Paperboy did not "
                "read it.",
            )

        declared = response.content_length
        if declared is not None and declared > cap:
            response.close()
            raise too_large()
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK_SIZE):
            body += chunk
            if len(body) > cap:
                response.close()  # drop the connection rather than drain a hostile body
                raise too_large()
        return bytes(body)

    @staticmethod
    def _translate(error: aiohttp.ClientError, host: str) -> FetchError:
        if isinstance(error, aiohttp.ClientConnectorDNSError):
            return FetchError(kinds.DNS, f"The name {host} could not be found (DNS lookup failed).")
        if isinstance(error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
            return FetchError(
                kinds.TLS,
                f"The secure connection to {host} failed (its certificate is not valid)."
                if isinstance(error, aiohttp.ClientConnectorCertificateError)
                else f"The secure connection to {host} failed.",
            )
        if isinstance(error, aiohttp.ClientConnectorError):
            os_error = error.os_error
            if isinstance(os_error, PrivateDialRefused):
                return private_address_error(os_error.shown)
            if isinstance(os_error, ssl.SSLError):
                return FetchError(kinds.TLS, f"The secure connection to {host} failed.")
            if isinstance(os_error, ConnectionRefusedError | ConnectionResetError):
                return FetchError(kinds.REFUSED, f"The server at {host} refused the connection.")
            return FetchError(kinds.NETWORK, f"Paperboy could not connect to {host}.")
        if isinstance(error, aiohttp.InvalidURL):
            return FetchError(kinds.INVALID_URL, f"The address for {host} could not be used.")
        if isinstance(error, aiohttp.ServerDisconnectedError):
            return FetchError(
                kinds.REFUSED, f"The server at {host} closed the connection without answering."
            )
        if isinstance(error, aiohttp.ClientPayloadError):
            return FetchError(
                kinds.NETWORK,
                f"The server at {host} broke off or damaged the document it was sending.",
            )
        if isinstance(error, aiohttp.ClientResponseError):
            return FetchError(
                kinds.NETWORK, f"The server at {host} sent an answer that is not valid HTTP."
            )
        return FetchError(
            kinds.NETWORK, f"The connection to {host} failed ({type(error).__name__})."
        )
