"""The private-network guard: `check_url` for user input, and the connector for every dial."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import FetchConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, check_url, make_session, non_public_reason, parse_ip_host
from bot.fetch.guard import PrivateDialRefused, guarded_socket_factory
from bot.fetch.http import redirect_target

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
GUARDED = FetchConfig(total_timeout_seconds=5.0, connect_timeout_seconds=2.0)

PRIVATE_SPELLINGS = [
    "http://127.0.0.1/",
    "http://127.0.0.1./",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://１２７.０.０.１/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1:8080/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",
    "http://[feff:ffff::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a00:1]/",
    "http://[2002:7f00:1::]/",
    "https://localhost/",
    "http://LOCALHOST./",
    "http://printer.localhost/",
]


@pytest.mark.parametrize("url", PRIVATE_SPELLINGS)
def test_check_url_refuses_private_addresses_in_any_spelling(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url)
    assert caught.value.kind == "private-address"
    assert "private network" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://[::1]/", "::1"),
    ],
)
def test_the_refusal_names_the_canonical_address(url: str, shown: str) -> None:
    with pytest.raises(FetchError, match=rf"\({shown}\)"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://example.org/feed/", "http://93.184.215.14/", "http://[2606:4700:4700::1111]/"],
)
def test_check_url_accepts_public_addresses(url: str) -> None:
    assert check_url(url) == url


def test_check_url_normalises() -> None:
    assert check_url("  HTTP://Example.ORG/a%20b?q=1#comments ") == "http://example.org/a%20b?q=1"
    assert check_url("http://bücher.example/") == "http://xn--bcher-kva.example/"


def test_allow_private_lets_local_addresses_through_in_canonical_form() -> None:
    assert check_url("http://127.1:8080/x", allow_private=True) == "http://127.0.0.1:8080/x"
    assert check_url("http://localhost/", allow_private=True) == "http://localhost/"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.org/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("example.org/feed", "scheme"),
        ("gopher://example.org/", "scheme"),
        ("http://user:pass@example.org/", "password"),
        ("http://user@example.org/", "password"),
        ("http:///path", "no host"),
        ("http://", "no host"),
        ("", "empty"),
        ("http://exa mple.org/", "spaces"),
        ("http://example.org/\x00", "control"),
        ("http://ex$ample.org/", "host name"),
        ("http://example.org:99999/", "could not be read"),
        ("http://example.org/" + "a" * 2100, "longer than 2048"),
    ],
)
def test_check_url_refuses_malformed_input_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url)
    assert caught.value.kind == "invalid-url"
    assert words in str(caught.value)


def test_parse_ip_host_reads_legacy_spellings_and_leaves_names_alone() -> None:
    assert parse_ip_host("0177.0.0.1") == ipaddress.IPv4Address("127.0.0.1")
    assert parse_ip_host("10.1") == ipaddress.IPv4Address("10.0.0.1")
    assert parse_ip_host("example.org") is None
    assert parse_ip_host("0xdeadbeef.example") is None


def test_public_addresses_have_no_reason_to_be_refused() -> None:
    assert non_public_reason(ipaddress.ip_address("8.8.8.8")) is None
    assert non_public_reason(ipaddress.ip_address("2606:4700:4700::1111")) is None
    assert non_public_reason(ipaddress.ip_address("::ffff:8.8.8.8")) is None
    assert non_public_reason(ipaddress.ip_address("100.64.0.1")) == "shared (carrier-grade NAT)"
    assert non_public_reason(ipaddress.ip_address("::ffff:127.0.0.1")) == "loopback"


def test_socket_factory_refuses_a_private_peer() -> None:
    with pytest.raises(PrivateDialRefused):
        guarded_socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    sock = guarded_socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80)))
    sock.close()


def test_redirect_to_loopback_is_refused_when_guarded() -> None:
    with pytest.raises(FetchError) as caught:
        redirect_target("https://example.org/feed", "http://127.0.0.1/", allow_private=False)
    assert caught.value.kind == "redirects"  # the downgrade is caught first
    with pytest.raises(FetchError) as caught:
        redirect_target("http://example.org/feed", "http://[::1]:8080/x", allow_private=False)
    assert caught.value.kind == "private-address"


class ScriptedResolver(AbstractResolver):
    """Answers each lookup with the next address of a script (the last one repeats)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


@asynccontextmanager
async def loopback_server() -> AsyncIterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every path it is asked for."""
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="secret intranet page")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: Any = runner.addresses[0][1]
    try:
        yield int(port), hits
    finally:
        await runner.cleanup()


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time() -> None:
    async with loopback_server() as (port, hits):
        resolver = ScriptedResolver("127.0.0.1")
        async with make_session(GUARDED, "test", resolver=resolver) as session:
            fetcher = Fetcher(session, GUARDED)
            url = f"http://intranet.example:{port}/"
            assert check_url(url) == url  # a name passes the early check ...
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(url, kind="page", now=NOW)
        assert caught.value.kind == "private-address"
        assert "(127.0.0.1)" in str(caught.value)
        assert resolver.calls == 1
        assert hits == []  # ... but nothing reached the server


async def test_dns_rebinding_is_caught_on_the_address_actually_dialled() -> None:
    async with loopback_server() as (port, hits):
        # A validator that resolves first sees a public address; the dial then gets loopback.
        resolver = ScriptedResolver("93.184.215.14", "127.0.0.1")
        assert (await resolver.resolve("rebind.example", port))[0]["host"] == "93.184.215.14"
        async with make_session(GUARDED, "test", resolver=resolver) as session:
            with pytest.raises(FetchError) as caught:
                await Fetcher(session, GUARDED).fetch(
                    f"http://rebind.example:{port}/", kind="feed", now=NOW
                )
        assert caught.value.kind == "private-address"
        assert hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]"])
async def test_ip_literals_are_refused_by_the_session_itself(host: str) -> None:
    # Even a caller that skips check_url and the Fetcher cannot reach loopback via the session.
    async with loopback_server() as (port, hits):
        async with make_session(GUARDED, "test") as session:
            with pytest.raises(FetchError) as caught:
                await session.get(f"http://{host}:{port}/")
        assert caught.value.kind == "private-address"
        assert hits == []


async def test_legacy_spellings_never_reach_the_server_through_the_session() -> None:
    async with loopback_server() as (port, hits):
        async with make_session(GUARDED, "test") as session:
            for host in ("2130706433", "0x7f.1", "127.1", "0177.0.0.1"):
                with pytest.raises((FetchError, aiohttp.ClientError)):
                    await session.get(f"http://{host}:{port}/")
        assert hits == []


async def test_allowing_private_addresses_lets_the_same_request_through() -> None:
    config = FetchConfig(allow_private_addresses=True, total_timeout_seconds=5.0)
    async with loopback_server() as (port, hits):
        resolver = ScriptedResolver("127.0.0.1")
        async with make_session(config, "test", resolver=resolver) as session:
            result = await Fetcher(session, config).fetch(
                f"http://intranet.example:{port}/wiki", kind="page", now=NOW
            )
        assert result.body == b"secret intranet page"
        assert hits == ["/wiki"]


class MixedResolver(ScriptedResolver):
    """Answers with a public and a private address at once."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        public = await super().resolve(host, port, family)
        return [*public, {**public[0], "host": "10.0.0.7"}]


async def test_an_answer_mixing_public_and_private_addresses_is_refused() -> None:
    async with make_session(GUARDED, "test", resolver=MixedResolver("93.184.215.14")) as session:
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, GUARDED).fetch("http://mixed.example/", kind="feed", now=NOW)
    assert caught.value.kind == "private-address"
    assert "(10.0.0.7)" in str(caught.value)


@pytest.mark.parametrize("address", ["fec0::1", "fec0:0:0:ffff::1", "feff:ffff::1"])
def test_site_local_ipv6_is_not_public(address: str) -> None:
    assert non_public_reason(ipaddress.IPv6Address(address)) == "site-local"


def test_a_feed_url_check_is_remembered_only_for_short_addresses_and_answers_as_check_url() -> None:
    from bot.fetch import guard

    short = "https://example.org/feed.xml#top"
    long = "https://example.org/" + "a" * 600
    before = guard._remembered_check.cache_info()
    assert guard.check_feed_url(short) == check_url(short) == "https://example.org/feed.xml"
    assert guard.check_feed_url(short) == check_url(short)
    assert guard.check_feed_url(long) == check_url(long)
    after = guard._remembered_check.cache_info()
    assert after.hits - before.hits >= 1  # the second short check was remembered
    assert after.currsize - before.currsize <= 1  # the long address never was
    # Refusals are never remembered: the private address is refused each time it is asked.
    for _ in range(2):
        with pytest.raises(FetchError):
            guard.check_feed_url("http://127.0.0.1/feed")
    assert guard.check_feed_url("http://127.0.0.1/feed", allow_private=True) == (
        "http://127.0.0.1/feed"
    )
