"""Network faults through the poller, against the news-site stand-in and raw misbehaving servers.

Each fault is recorded on its feed with the right class, pushes the next check back (honouring a
server's Retry-After), and never touches the other feeds polled in the same round.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.clock import FakeClock
from bot.config import Config
from bot.fetch import Fetcher, make_session
from bot.ingest.poller import Poller
from bot.models import Feed
from bot.storage import Storage
from tests.bench.news_site import (
    Malformed,
    NewsSite,
    RateLimited,
    ServerError,
    Trickle,
)
from tests.conftest import make_config
from tests.hardening.support import NOW, text_problems

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[str]:
    """A bare TCP server for misbehaviour a real HTTP server would not commit."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        await handler(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
    writer.write(b"Content-Length: 5000\r\n\r\n<rss version='2.0'><channel><title>Cut")
    await writer.drain()
    writer.transport.abort()  # RST with 4,960 bytes still owed


async def truncated_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
    writer.write(b"Transfer-Encoding: chunked\r\n\r\n20\r\n<rss version='2.0'><channel>")
    await writer.drain()
    writer.close()  # a clean close in the middle of a chunk, with no terminating chunk


class FailingResolver(AbstractResolver):
    """Every name is unknown to DNS."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(socket.EAI_NONAME, f"unknown host {host}")

    async def close(self) -> None:
        return None


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()  # nothing listens there now
    return port


@dataclass
class Rig:
    storage: Storage
    config: Config
    clock: FakeClock
    site: NewsSite
    poller: Poller

    async def feed(self, feed_id: int) -> Feed:
        found = await self.storage.feed(feed_id)
        assert found is not None
        return found

    async def add(self, url: str) -> int:
        return (await self.storage.add_feed(url, now=self.clock.now())).id


@asynccontextmanager
async def rig(
    storage: Storage, tmp_path: Path, resolver: AbstractResolver | None = None, **fetch: Any
) -> AsyncIterator[Rig]:
    config = make_config(
        tmp_path,
        fetch={"total_timeout_seconds": 1.0, "connect_timeout_seconds": 1.0, **fetch},
        feeds={"default_interval_seconds": 300, "min_interval_seconds": 60},
    )
    clock = FakeClock(NOW)
    async with (
        NewsSite(clock=clock) as site,
        make_session(config.fetch, "t", resolver=resolver) as session,
    ):
        poller = Poller(storage, Fetcher(session, config.fetch), config, clock,
                        rng=random.Random(5))  # fmt: skip
        yield Rig(storage, config, clock, site, poller)


async def poll_with_a_healthy_neighbour(r: Rig, broken_url: str) -> tuple[Feed, Feed]:
    """Poll a broken feed and a healthy one in one round; return both feeds afterwards."""
    healthy = await r.add(r.site.category_feed_url("Housing"))
    broken = await r.add(broken_url)
    report = await r.poller.poll_due()
    assert report.polled == 2
    return await r.feed(broken), await r.feed(healthy)


def assert_recorded(broken: Feed, healthy: Feed, kind: str) -> None:
    assert broken.last_error_kind == kind
    assert broken.last_error_message and broken.last_error_message.endswith(".")
    assert "Traceback" not in broken.last_error_message
    assert broken.consecutive_failures == 1
    assert broken.next_check_at >= NOW + timedelta(seconds=60)
    assert healthy.last_success_at == NOW and healthy.consecutive_failures == 0


async def test_connection_refused(storage: Storage, tmp_path: Path) -> None:
    async with rig(storage, tmp_path) as r:
        broken, healthy = await poll_with_a_healthy_neighbour(
            r, f"http://127.0.0.1:{closed_port()}/feed/"
        )
    assert_recorded(broken, healthy, "refused")


@pytest.mark.parametrize(("handler", "kind"), [(reset_mid_body, "network"),
                                               (truncated_chunks, "network")])  # fmt: skip
async def test_a_body_broken_off_in_the_middle(
    storage: Storage, tmp_path: Path, handler: RawHandler, kind: str
) -> None:
    async with rig(storage, tmp_path) as r, raw_server(handler) as base:
        broken, healthy = await poll_with_a_healthy_neighbour(r, f"{base}/feed/")
    assert_recorded(broken, healthy, kind)


async def test_a_slow_loris_is_cut_off_by_the_total_timeout(
    storage: Storage, tmp_path: Path
) -> None:
    async with rig(storage, tmp_path) as r:
        r.site.gzip_responses = False
        r.site.set_fault("/feed/", Trickle(chunk_size=8, interval=0.05))
        broken, healthy = await poll_with_a_healthy_neighbour(r, r.site.feed_url)
    assert_recorded(broken, healthy, "timeout")


async def test_tls_to_a_server_that_does_not_speak_it(storage: Storage, tmp_path: Path) -> None:
    async with rig(storage, tmp_path) as r:
        https = r.site.feed_url.replace("http://", "https://")
        broken, healthy = await poll_with_a_healthy_neighbour(r, https)
    assert_recorded(broken, healthy, "tls")


async def test_dns_failure(storage: Storage, tmp_path: Path) -> None:
    async with rig(storage, tmp_path, resolver=FailingResolver()) as r:
        broken = await r.add("http://no-such-paper.example/feed/")
        outcome = await r.poller.poll_feed(broken)
        assert outcome.error_kind == "dns"
        assert (await r.feed(broken)).last_error_kind == "dns"


async def test_a_redirect_loop(storage: Storage, tmp_path: Path) -> None:
    async with rig(storage, tmp_path) as r:
        r.site.redirect_loop("/feed/", "/feed/atom/")
        broken, healthy = await poll_with_a_healthy_neighbour(r, r.site.feed_url)
    assert_recorded(broken, healthy, "redirects")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("garbage", "not-a-feed"), ("html", "not-a-feed"), ("empty", "not-a-feed")],
)
async def test_malformed_bodies_are_feed_errors(
    storage: Storage, tmp_path: Path, kind: Any, expected: str
) -> None:
    async with rig(storage, tmp_path) as r:
        r.site.set_fault("/feed/", Malformed(kind))
        broken, healthy = await poll_with_a_healthy_neighbour(r, r.site.feed_url)
    assert_recorded(broken, healthy, expected)


@pytest.mark.parametrize("kind", ["truncated", "wrong-encoding", "mislabelled-latin1"])
async def test_damaged_but_readable_feeds_give_clean_items(
    storage: Storage, tmp_path: Path, kind: Any
) -> None:
    # A feed cut off mid-document still names its first items; mislabelled text is decoded as
    # well as it can be. Either way what is stored is clean text, never a crash.
    async with rig(storage, tmp_path) as r:
        r.site.set_fault("/feed/", Malformed(kind))
        feed_id = await r.add(r.site.feed_url)
        outcome = await r.poller.poll_feed(feed_id)
        assert outcome.ok and outcome.items > 0
        titles = await r.storage.fetch_all("SELECT title FROM articles")
    assert titles and all(not text_problems(row["title"]) for row in titles)


async def test_a_500_429_200_304_sequence_backs_off_honours_retry_after_and_recovers(
    storage: Storage, tmp_path: Path
) -> None:
    async with rig(storage, tmp_path) as r:
        r.site.add_fault("/feed/", ServerError(status=503, times=1))
        r.site.add_fault("/feed/", ServerError(status=500, times=1))
        r.site.add_fault("/feed/", RateLimited(retry_after="7200", times=1))
        feed_id = await r.add(r.site.feed_url)
        waits = []
        for expected_kind, failures in (("http-5xx", 1), ("http-5xx", 2), ("rate-limited", 3)):
            outcome = await r.poller.poll_feed(feed_id)
            feed = await r.feed(feed_id)
            assert (outcome.error_kind, feed.last_error_kind) == (expected_kind, expected_kind)
            assert feed.consecutive_failures == failures
            waits.append(feed.next_check_at - r.clock.now())
            r.clock.advance((feed.next_check_at - r.clock.now()).total_seconds())
        assert waits[1] > waits[0]  # backoff grows
        assert waits[2] >= timedelta(seconds=7200)  # the server's Retry-After is honoured
        recovered = await r.poller.poll_feed(feed_id)
        assert recovered.ok and not recovered.not_modified
        feed = await r.feed(feed_id)
        assert feed.consecutive_failures == 0 and feed.last_success_at == r.clock.now()
        r.site.clear_faults()
        again = await r.poller.poll_feed(feed_id)
        assert again.ok and again.not_modified
        conditional = r.site.requests_to("/feed/")[-1]
        assert conditional.if_none_match is not None
