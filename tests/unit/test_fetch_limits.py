"""Per-site and per-address fetch limits, and bounded slot waits, against real loopback servers.

Every name here resolves to 127.0.0.1 (a fake resolver in the session), the way wildcard DNS
would send a1.example, a2.example ... or many unrelated names to one server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.config import FetchConfig, LimitsConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, HostLimiter, SlotWaitExpired, kinds, make_session, site_of
from tests.unit.support import FETCH_NOW, LOCAL, LoopbackResolver

ROOMY = FetchConfig(
    allow_private_addresses=True,
    total_timeout_seconds=5.0,
    connect_timeout_seconds=2.0,
    per_host_concurrency=16,
)


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("a1.wildcard.example", "wildcard.example"),
        ("A2.Wildcard.Example.", "wildcard.example"),
        ("news.example.co.uk", "example.co.uk"),
        ("deep.er.news.example.co.uk", "example.co.uk"),
        ("someone.github.io", "someone.github.io"),  # a private suffix: each user is a site
        ("github.io", "github.io"),  # a public suffix itself stands for itself
        ("co.uk", "co.uk"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("example", "example"),
    ],
)
def test_a_host_is_limited_as_its_registrable_domain(host: str, site: str) -> None:
    assert site_of(host) == site


@dataclass
class GatedServer:
    """A loopback page that holds every request until `gate` opens, counting those inside."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    inside: int = 0
    most: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    too_many: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.inside += 1
        self.most = max(self.most, self.inside)
        if self.inside > self.expected:
            self.too_many.set()
        if self.inside == self.expected:
            self.reached.set()
        try:
            await self.gate.wait()
            return web.Response(text="<html><p>ok</p></html>", content_type="text/html")
        finally:
            self.inside -= 1


@asynccontextmanager
async def gated_port(server: GatedServer) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/page", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        yield runner.addresses[0][1]
    finally:
        server.gate.set()
        await runner.cleanup()


class QueueWatch:
    """An `on_change` observer: sets `queued` once `waiting` requests wait for one key."""

    def __init__(self, waiting: int) -> None:
        self.wanted = waiting
        self.queued = asyncio.Event()
        self.keys: set[str] = set()

    def __call__(self, key: str, active: int, waiting: int) -> None:
        self.keys.add(key)
        if waiting >= self.wanted:
            self.queued.set()


async def run_until_queued(
    fetcher: Fetcher, urls: list[str], server: GatedServer, watch: QueueWatch
) -> list[object]:
    """Start every fetch; once the limit is reached and the rest queue (or a request too many
    reached the server, which is the bug) open the gate and collect the outcomes."""
    tasks = [asyncio.create_task(fetcher.fetch(url, kind="page", now=FETCH_NOW)) for url in urls]
    settled = asyncio.ensure_future(asyncio.gather(server.reached.wait(), watch.queued.wait()))
    broken = asyncio.create_task(server.too_many.wait())
    await asyncio.wait([settled, broken], return_when=asyncio.FIRST_COMPLETED)
    for waiter in (settled, broken):
        waiter.cancel()
    await asyncio.gather(settled, broken, return_exceptions=True)
    server.gate.set()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def test_wildcard_names_of_one_site_share_its_slots() -> None:
    server = GatedServer(expected=2)
    watch = QueueWatch(waiting=4)
    config = FetchConfig(allow_private_addresses=True, per_host_concurrency=2)
    async with (
        gated_port(server) as port,
        make_session(config, "test", resolver=LoopbackResolver()) as session,
    ):
        fetcher = Fetcher(
            session,
            config,
            host_limiter=HostLimiter(2, on_change=watch),
            limits=LimitsConfig(per_ip_concurrency=64),
        )
        urls = [f"http://a{n}.wildcard.example:{port}/page" for n in range(6)]
        outcomes = await run_until_queued(fetcher, urls, server, watch)
    assert not server.too_many.is_set()
    assert server.most == 2
    assert watch.keys == {"wildcard.example"}
    assert all(getattr(outcome, "status", None) == 200 for outcome in outcomes), outcomes
    assert len(fetcher.host_limiter) == 0  # idle sites are forgotten


async def test_many_sites_on_one_address_share_the_address_slots() -> None:
    server = GatedServer(expected=3)
    watch = QueueWatch(waiting=3)
    async with (
        gated_port(server) as port,
        make_session(ROOMY, "test", resolver=LoopbackResolver()) as session,
    ):
        fetcher = Fetcher(
            session,
            ROOMY,
            ip_limiter=HostLimiter(3, on_change=watch),
            limits=LimitsConfig(per_ip_concurrency=3),
        )
        # Six different registrable domains, so only the address can hold them back.
        urls = [f"http://news.site{n}.example:{port}/page" for n in range(6)]
        assert len({site_of(f"news.site{n}.example") for n in range(6)}) == 6
        outcomes = await run_until_queued(fetcher, urls, server, watch)
    assert not server.too_many.is_set()
    assert server.most == 3
    assert watch.keys == {"127.0.0.1"}  # keyed by the resolved address, not by the names
    assert all(getattr(outcome, "status", None) == 200 for outcome in outcomes), outcomes
    assert len(fetcher.ip_limiter) == 0


async def test_the_per_address_limit_comes_from_the_limits_config() -> None:
    async with make_session(LOCAL, "test") as session:
        fetcher = Fetcher(session, LOCAL, limits=LimitsConfig(per_ip_concurrency=5))
    assert fetcher.ip_limiter.limit == 5
    assert fetcher.host_limiter.limit == LOCAL.per_host_concurrency


@pytest.mark.parametrize("full", ["site", "address"])
async def test_a_fetch_that_cannot_get_a_slot_in_time_fails_as_busy(full: str) -> None:
    server = GatedServer(expected=1)
    limits = LimitsConfig(per_ip_concurrency=1 if full == "address" else 64)
    config = FetchConfig(
        allow_private_addresses=True, per_host_concurrency=1 if full == "site" else 16
    )
    async with (
        gated_port(server) as port,
        make_session(config, "test", resolver=LoopbackResolver()) as session,
    ):
        fetcher = Fetcher(session, config, limits=limits)
        holder = asyncio.create_task(
            fetcher.fetch(f"http://one.first.example:{port}/page", kind="page", now=FETCH_NOW)
        )
        await server.reached.wait()
        second = "one.first.example" if full == "site" else "two.second.example"
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(
                f"http://{second}:{port}/page", kind="page", now=FETCH_NOW, slot_wait=0.05
            )
        server.gate.set()
        assert (await holder).status == 200
    assert caught.value.kind == kinds.BUSY
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    message = str(caught.value)
    assert "try again in" in message
    assert ("first.example" in message) == (full == "site")
    assert server.most == 1  # the refused fetch never reached the server
    assert len(fetcher.host_limiter) == 0
    assert len(fetcher.ip_limiter) == 0


async def test_a_zero_wait_still_takes_a_free_slot() -> None:
    limiter = HostLimiter(1)
    async with limiter.hold("example.org", wait=0):
        with pytest.raises(SlotWaitExpired):
            async with limiter.hold("example.org", wait=0):
                raise AssertionError("the only slot is taken")
    assert len(limiter) == 0


async def test_waiting_for_an_address_slot_does_not_use_up_the_fetch_time_limit() -> None:
    """The slot wait is our own queueing: a fetch that waits 0.6 s for the address and then
    gets its answer in 0.3 s fits a 0.8 s limit (it would not, counted together)."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="<html><p>ok</p></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/page", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    config = FetchConfig(allow_private_addresses=True, total_timeout_seconds=0.8)
    try:
        async with make_session(config, "test", resolver=LoopbackResolver()) as session:
            fetcher = Fetcher(session, config, limits=LimitsConfig(per_ip_concurrency=1))
            loop = asyncio.get_running_loop()
            async with fetcher.ip_limiter.hold("127.0.0.1"):
                started = loop.time()
                fetch = asyncio.create_task(
                    fetcher.fetch(f"http://news.example:{port}/page", kind="page", now=FETCH_NOW)
                )
                await asyncio.sleep(0.6)
            result = await fetch
            took = loop.time() - started
    finally:
        await runner.cleanup()
    assert result.status == 200
    assert took > config.total_timeout_seconds  # not vacuous: wait and answer exceed the limit
