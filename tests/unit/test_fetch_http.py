"""The Fetcher against real aiohttp and raw asyncio servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import FetchConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, FetchResult, HostLimiter, kinds, make_session
from tests.unit.support import FETCH_NOW, LOCAL, LoopbackResolver

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Weekly</title></channel></rss>"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def web_server(routes: dict[str, Handler]) -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1 serving `routes`; yields its base URL."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[str]:
    """A bare TCP server for misbehaviour aiohttp's server would not commit; yields its base URL."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        await handler(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:  # Python 3.11 leaves accepted connections open on close()
            writer.transport.abort()
        await server.wait_closed()


@asynccontextmanager
async def fetcher_for(
    config: FetchConfig = LOCAL, *, resolver: AbstractResolver | None = None
) -> AsyncIterator[Fetcher]:
    async with make_session(config, "Paperboy/test (+https://example.org)", resolver=resolver) as s:
        yield Fetcher(s, config)


async def fetch_error(fetcher: Fetcher, url: str, kind: str = "feed") -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url, kind=kind, now=FETCH_NOW)  # type: ignore[arg-type]
    assert caught.value.kind in kinds.ALL_KINDS
    return caught.value


async def test_a_plain_200_returns_body_and_metadata_and_sends_our_headers() -> None:
    seen: dict[str, str] = {}

    async def feed(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.Response(
            body=FEED,
            content_type="application/rss+xml",
            charset="utf-8",
            headers={"ETag": '"v1"', "Last-Modified": "Fri, 14 Mar 2025 10:00:00 GMT"},
        )

    async with web_server({"/feed": feed}) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(f"{base}/feed", kind="feed", now=FETCH_NOW)
    assert result == FetchResult(
        url=f"{base}/feed",
        status=200,
        body=FEED,
        headers=result.headers,
        content_type="application/rss+xml",
        charset="utf-8",
        etag='"v1"',
        last_modified="Fri, 14 Mar 2025 10:00:00 GMT",
        not_modified=False,
        hint_seconds=None,
    )
    assert result.headers["etag"] == '"v1"'
    assert all(key == key.lower() for key in result.headers)
    assert seen["User-Agent"] == "Paperboy/test (+https://example.org)"
    assert seen["Accept"].startswith("application/rss+xml")
    assert seen["Accept-Encoding"] == "gzip, deflate, br"
    assert "If-None-Match" not in seen


async def test_pages_ask_for_html() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=request.headers["Accept"], content_type="text/html")

    async with web_server({"/a": page}) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(f"{base}/a", kind="page", now=FETCH_NOW)
    assert result.body is not None and result.body.startswith(b"text/html")
    assert result.content_type == "text/html"


async def test_conditional_get_sends_validators_and_304_has_no_body() -> None:
    async def feed(request: web.Request) -> web.Response:
        if (
            request.headers.get("If-None-Match") == '"v1"'
            and request.headers.get("If-Modified-Since") == "Fri, 14 Mar 2025 10:00:00 GMT"
        ):
            return web.Response(status=304, headers={"ETag": '"v1"', "Cache-Control": "max-age=90"})
        return web.Response(body=FEED)

    async with web_server({"/feed": feed}) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(
            f"{base}/feed",
            kind="feed",
            etag='"v1"',
            last_modified="Fri, 14 Mar 2025 10:00:00 GMT",
            now=FETCH_NOW,
        )
    assert result.not_modified and result.status == 304
    assert result.body is None
    assert result.etag == '"v1"'
    assert result.hint_seconds == 90.0


@pytest.mark.parametrize(
    ("headers", "hint"),
    [
        ({"Cache-Control": "public, max-age=600"}, 600.0),
        ({"Cache-Control": "max-age=600", "Age": "100"}, 500.0),
        ({"Cache-Control": "max-age=99999999"}, 7 * 86400.0),
        ({"Retry-After": "45", "Cache-Control": "max-age=600"}, 45.0),
    ],
)
async def test_hint_comes_from_cache_control_and_retry_after(
    headers: dict[str, str], hint: float
) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=FEED, headers=headers)

    async with web_server({"/feed": feed}) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(f"{base}/feed", kind="feed", now=FETCH_NOW)
    assert result.hint_seconds == hint


async def test_429_is_rate_limited_with_retry_after_in_seconds() -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    async with web_server({"/feed": busy}) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "rate-limited"
    assert error.retry_after == 120.0
    assert "127.0.0.1" in str(error) and "slow down" in str(error)


async def test_429_with_an_http_date_is_relative_to_now_and_capped() -> None:
    dates = {"soon": "Fri, 14 Mar 2025 12:10:00 GMT", "never": "Fri, 01 Jan 2100 00:00:00 GMT"}

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": dates[request.match_info["n"]]})

    async with web_server({"/{n}": busy}) as base, fetcher_for() as fetcher:
        soon = await fetch_error(fetcher, f"{base}/soon")
        never = await fetch_error(fetcher, f"{base}/never")
    assert soon.retry_after == 600.0
    assert never.retry_after == 7 * 86400.0


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after", "words"),
    [
        (404, {}, "http-4xx", None, "404 (Not Found)"),
        (410, {}, "http-4xx", None, "410 (Gone)"),
        (403, {}, "http-4xx", None, "403 (Forbidden)"),
        (403, {"cf-mitigated": "challenge"}, "blocked-by-challenge", None, "challenge"),
        (500, {}, "http-5xx", None, "500 (Internal Server Error)"),
        (503, {"Retry-After": "30"}, "http-5xx", 30.0, "503 (Service Unavailable)"),
    ],
)
async def test_http_errors_have_stable_kinds(
    status: int, headers: dict[str, str], kind: str, retry_after: float | None, words: str
) -> None:
    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=status, headers=headers, text="nope")

    async with web_server({"/x": failing}) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/x")
    assert error.kind == kind
    assert error.retry_after == retry_after
    assert words in str(error)


def redirecting(target: Callable[[web.Request], str], status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": target(request)})

    return handler


async def feed_ok(request: web.Request) -> web.Response:
    return web.Response(body=FEED, content_type="application/rss+xml")


async def test_redirects_are_followed_and_the_final_url_reported() -> None:
    routes: dict[str, Handler] = {
        "/old": redirecting(lambda r: "/older", 301),
        "/older": redirecting(lambda r: f"http://{r.host}/feed", 308),
        "/feed": feed_ok,
    }
    async with web_server(routes) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(f"{base}/old", kind="feed", now=FETCH_NOW)
    assert result.url == f"{base}/feed"
    assert result.body == FEED


async def test_more_than_max_redirects_is_refused() -> None:
    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(status=302, headers={"Location": f"/hop/{n + 1}"})

    async def counted_feed(request: web.Request) -> web.Response:
        return web.Response(body=FEED)

    async with web_server({"/hop/{n}": hop}) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/hop/0")
    assert error.kind == "redirects"
    assert "more than 5 times" in str(error)

    # Exactly max_redirects hops is still fine.
    async def five(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        location = "/feed" if n == 4 else f"/five/{n + 1}"
        return web.Response(status=302, headers={"Location": location})

    routes: dict[str, Handler] = {"/five/{n}": five, "/feed": counted_feed}
    async with web_server(routes) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(f"{base}/five/0", kind="feed", now=FETCH_NOW)
    assert result.url == f"{base}/feed"


async def test_a_redirect_loop_is_named_as_such() -> None:
    routes: dict[str, Handler] = {
        "/a": redirecting(lambda r: "/b"),
        "/b": redirecting(lambda r: "/a"),
    }
    async with web_server(routes) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/a")
    assert error.kind == "redirects"
    assert "loop" in str(error)


async def test_a_redirect_without_location_is_an_error() -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=302)

    async with web_server({"/a": broken}) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/a")
    assert error.kind == "redirects"
    assert "without a target" in str(error)


async def test_redirects_to_non_http_schemes_are_refused() -> None:
    routes: dict[str, Handler] = {"/a": redirecting(lambda r: "file:///etc/passwd")}
    async with web_server(routes) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/a")
    assert error.kind == "invalid-url"


async def test_https_to_http_downgrade_is_refused() -> None:
    from bot.fetch import redirect_target

    with pytest.raises(FetchError) as caught:
        redirect_target("https://example.org/feed", "http://example.org/feed", allow_private=False)
    assert caught.value.kind == "redirects"
    assert "insecure" in str(caught.value)
    assert (
        redirect_target("http://example.org/feed", "https://example.org/f", allow_private=False)
        == "https://example.org/f"
    )


async def test_a_redirect_to_loopback_is_refused_when_the_guard_is_on() -> None:
    # The session may reach the test server under a public-looking name, but the Fetcher's
    # policy is the production one, so the redirect target is judged like user input.
    guarded = FetchConfig(total_timeout_seconds=5.0)
    routes: dict[str, Handler] = {"/a": redirecting(lambda r: "http://2130706433:9/admin")}
    async with web_server(routes) as base:
        port = base.rsplit(":", 1)[1]
        async with make_session(LOCAL, "test", resolver=LoopbackResolver()) as session:
            error = await fetch_error(Fetcher(session, guarded), f"http://news.example:{port}/a")
    assert error.kind == "private-address"
    assert "(127.0.0.1)" in str(error)


async def test_a_server_that_never_answers_times_out() -> None:
    never = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await never.wait()

    config = FetchConfig(allow_private_addresses=True, total_timeout_seconds=0.3)
    async with raw_server(silent) as base, fetcher_for(config) as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "timeout"
    assert str(error) == "The server at 127.0.0.1 took longer than 0.3 seconds to answer."


async def test_a_slow_loris_is_bounded_by_the_total_timeout() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100000):
            writer.write(b"x")
            await writer.drain()
            # The trickle is the behaviour under test, not synchronisation.
            await asyncio.sleep(0.01)

    config = FetchConfig(allow_private_addresses=True, total_timeout_seconds=0.5)
    async with raw_server(trickle) as base, fetcher_for(config) as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "timeout"


async def test_a_closed_port_is_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"http://127.0.0.1:{port}/feed")
    assert error.kind == "refused"
    assert "127.0.0.1" in str(error)


class FailingResolver(AbstractResolver):
    """A resolver for which every name is unknown."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(socket.EAI_NONAME, f"unknown host {host}")

    async def close(self) -> None:
        return None


async def test_an_unknown_name_is_a_dns_error() -> None:
    async with fetcher_for(resolver=FailingResolver()) as fetcher:
        error = await fetch_error(fetcher, "http://no-such-host.example/feed")
    assert error.kind == "dns"
    assert "no-such-host.example" in str(error)


async def test_a_connection_reset_mid_body_is_a_network_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)
        await writer.drain()
        writer.transport.abort()

    async with raw_server(reset) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "network"
    assert "broke off" in str(error)


async def test_a_truncated_chunked_body_is_a_network_error() -> None:
    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        writer.close()

    async with raw_server(truncated) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "network"


async def test_a_reset_before_any_answer_is_refused() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with raw_server(hang_up) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "refused"


async def test_damaged_compression_is_a_network_error() -> None:
    async def bad_gzip(request: web.Request) -> web.Response:
        return web.Response(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip"})

    async with web_server({"/feed": bad_gzip}) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "network"


async def test_gzip_bodies_are_decompressed() -> None:
    async def gzipped(request: web.Request) -> web.Response:
        body = zlib.compress(FEED, wbits=31)
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    async with web_server({"/feed": gzipped}) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(f"{base}/feed", kind="feed", now=FETCH_NOW)
    assert result.body == FEED


SMALL = FetchConfig(
    allow_private_addresses=True, max_feed_bytes=4096, max_page_bytes=2048, total_timeout_seconds=5
)


async def test_too_large_with_content_length() -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    async def fits(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 4096)

    async with web_server({"/big": big, "/fits": fits}) as base, fetcher_for(SMALL) as fetcher:
        error = await fetch_error(fetcher, f"{base}/big")
        result = await fetcher.fetch(f"{base}/fits", kind="feed", now=FETCH_NOW)
        page_error = await fetch_error(fetcher, f"{base}/fits", kind="page")
    assert error.kind == "too-large"
    assert "larger than 4 KiB" in str(error)
    assert result.body == b"x" * 4096
    assert page_error.kind == "too-large"  # pages have their own, smaller cap


async def test_too_large_streamed_without_content_length() -> None:
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10_000):
            await response.write(b"y" * 1024)
            sent += 1024
        await response.write_eof()
        return response

    async with web_server({"/feed": endless}) as base, fetcher_for(SMALL) as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "too-large"


async def test_a_lying_content_length_does_not_matter() -> None:
    # Content-Length counts the ~2 KiB of gzip; the body decompresses to 1 MiB.
    bomb = zlib.compress(b"z" * (1 << 20), level=9, wbits=31)

    async def lying(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    async with web_server({"/feed": lying}) as base, fetcher_for(SMALL) as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "too-large"


async def test_a_content_length_shorter_than_the_body_only_yields_what_it_declared() -> None:
    async def liar(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"q" * 100_000)
        await writer.drain()

    async with raw_server(liar) as base, fetcher_for(SMALL) as fetcher:
        try:
            result = await fetcher.fetch(f"{base}/feed", kind="feed", now=FETCH_NOW)
        except FetchError as error:
            # aiohttp may notice the stray bytes while the body is still being read.
            assert error.kind == "network"
        else:
            assert result.body == b"q" * 10


async def test_host_slots_bound_concurrency_per_host_and_are_forgotten_when_idle() -> None:
    active = 0
    most = 0
    too_many = asyncio.Event()
    gate = asyncio.Event()
    three_queued = asyncio.Event()
    two_active = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        nonlocal active, most
        active += 1
        most = max(most, active)
        if active == 2:
            two_active.set()
        if active > 2:
            too_many.set()
        await gate.wait()
        active -= 1
        return web.Response(body=FEED)

    def observe(host: str, running: int, waiting: int) -> None:
        if waiting >= 3:
            three_queued.set()

    limiter = HostLimiter(2, on_change=observe)
    async with web_server({"/feed": held}) as base, make_session(LOCAL, "test") as session:
        fetcher = Fetcher(session, LOCAL, host_limiter=limiter)
        tasks = [
            asyncio.create_task(fetcher.fetch(f"{base}/feed", kind="feed", now=FETCH_NOW))
            for _ in range(5)
        ]
        # Hold the gate until two requests are at the server and three wait in our queue
        # (or a third reached the server, which would be the bug).
        both = asyncio.gather(two_active.wait(), three_queued.wait())
        waiters = [asyncio.ensure_future(both), asyncio.create_task(too_many.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        gate.set()
        results = await asyncio.gather(*tasks)
    assert not too_many.is_set()
    assert most == 2
    assert [r.status for r in results] == [200] * 5
    assert len(limiter) == 0


async def test_the_session_carries_the_configured_limits() -> None:
    config = FetchConfig(max_concurrency=7, per_host_concurrency=3, total_timeout_seconds=9.0)
    async with make_session(config, "ua") as session:
        assert session.connector is not None
        assert session.connector.limit == 7
        assert session.connector.limit_per_host == 3
        assert session.timeout.total == 9.0
        assert session.timeout.sock_connect == 10.0


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Junk: " + b"j" * 20_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
    ],
)
async def test_a_response_that_is_not_http_is_a_network_error(answer: bytes) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        writer.close()

    async with raw_server(garbage) as base, fetcher_for() as fetcher:
        error = await fetch_error(fetcher, f"{base}/feed")
    assert error.kind == "network"


async def test_a_cancelled_waiter_leaves_no_slot_behind() -> None:
    holding = asyncio.Event()
    release = asyncio.Event()
    queued = asyncio.Event()
    limiter = HostLimiter(1, on_change=lambda host, running, waiting: waiting and queued.set())

    async def hold_one() -> None:
        async with limiter.hold("example.org"):
            holding.set()
            await release.wait()

    async def wait_for_slot() -> None:
        async with limiter.hold("example.org"):
            raise AssertionError("the slot is taken; this waiter must never get it")

    holder = asyncio.create_task(hold_one())
    await holding.wait()
    waiter = asyncio.create_task(wait_for_slot())
    await queued.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert len(limiter) == 0


async def test_damaged_validators_are_not_sent_on() -> None:
    seen: dict[str, str] = {}

    async def feed(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.Response(body=FEED)

    async with web_server({"/feed": feed}) as base, fetcher_for() as fetcher:
        result = await fetcher.fetch(
            f"{base}/feed",
            kind="feed",
            etag='"v1"\r\nX-Evil: 1',
            last_modified="\x00",
            now=FETCH_NOW,
        )
    assert result.status == 200
    assert "If-None-Match" not in seen and "X-Evil" not in seen
    assert "If-Modified-Since" not in seen
