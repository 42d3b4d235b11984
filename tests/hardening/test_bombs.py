"""Bombs: entity expansion, decompression bombs, lying lengths, huge feeds and pages.

Each is refused or bounded, and a ticker task proves the event loop is never held longer than
~100 ms while it is handled (`LoopWatch`). `PAPERBOY_SOAK=1` runs the full-size variants.
"""

from __future__ import annotations

import asyncio
import functools
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest
from aiohttp import web

from bot.articles.extract import extract_in_thread
from bot.clock import FakeClock
from bot.config import FetchConfig
from bot.errors import FeedError, FetchError, InvalidInput
from bot.feeds import parse_feed
from bot.fetch import Fetcher, make_session
from bot.ingest.poller import Poller
from bot.storage import Storage
from bot.workpool import WorkPool
from tests.conftest import make_config
from tests.hardening.support import NOW, SOAK, LoopWatch, many_items_feed, web_server

MIB = 1 << 20
LOCAL = FetchConfig(allow_private_addresses=True, total_timeout_seconds=30.0)


def rss_with_dtd(dtd: str, title: str) -> bytes:
    return (
        f"<?xml version='1.0'?><!DOCTYPE rss [{dtd}]><rss version='2.0'><channel>"
        f"<title>{title}</title><item><title>{title}</title><link>https://p.example/a</link>"
        "</item></channel></rss>"
    ).encode()


def billion_laughs() -> bytes:
    dtd = "<!ENTITY lol0 'lol'>" + "".join(
        f"<!ENTITY lol{n} '{f'&lol{n - 1};' * 10}'>" for n in range(1, 10)
    )
    return rss_with_dtd(dtd, "&lol9;")


def quadratic_blowup() -> bytes:
    # One big flat entity referenced many times: no nesting, yet 40 KB x 2,000 = 80 MB of text.
    return rss_with_dtd(f"<!ENTITY big '{'x' * 40_000}'>", "&big;" * 2_000)


def parameter_entity_laughs() -> bytes:
    dtd = "<!ENTITY % a 'aaaaaaaaaa'>" + "".join(
        f"<!ENTITY % p{n} '{f'%p{n - 1};' if n > 1 else '%a;' * 10}'>" for n in range(1, 8)
    )
    return rss_with_dtd(dtd + "%p7;", "t")


def external_entity() -> bytes:
    return rss_with_dtd("<!ENTITY secret SYSTEM 'file:///etc/passwd'>", "&secret;")


@pytest.mark.parametrize(
    "make", [billion_laughs, quadratic_blowup, parameter_entity_laughs, external_entity]
)
async def test_entity_bombs_are_refused_without_blocking_the_loop(
    make: Callable[[], bytes],
) -> None:
    body = make()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    async with (
        web_server({"/feed": serve}) as base,
        make_session(LOCAL, "t") as session,
        LoopWatch() as watch,
    ):
        result = await Fetcher(session, LOCAL).fetch(f"{base}/feed", kind="feed", now=NOW)
        assert result.body is not None
        outcome: object
        try:
            outcome = parse_feed(result.body, url=result.url, now=NOW)
        except FeedError as error:
            outcome = error
    watch.assert_responsive()
    if isinstance(outcome, FeedError):
        assert outcome.kind == "parse-error" and str(outcome).endswith(".")
    else:
        # Accepted only if nothing was expanded: no secret file, no megabytes of laughter.
        assert "root:" not in repr(outcome)
        assert len(repr(outcome)) < 100_000


def squeeze(total: int, compress: Callable[[bytes], bytes], finish: Callable[[], bytes]) -> bytes:
    block = bytes(MIB)
    return b"".join([*(compress(block) for _ in range(total // MIB)), finish()])


def gzip_bomb(total: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return squeeze(total, packer.compress, packer.flush)


def brotli_bomb(total: int) -> bytes:
    packer = brotli.Compressor(quality=5)
    return squeeze(total, packer.process, packer.finish)


BOMB_SIZE = (4096 if SOAK else 256) * MIB


@pytest.mark.parametrize(("encoding", "make"), [("gzip", gzip_bomb), ("br", brotli_bomb)])
@pytest.mark.parametrize("kind", ["feed", "page"])
async def test_decompression_bombs_are_too_large_and_the_loop_keeps_ticking(
    encoding: str, make: Callable[[int], bytes], kind: str
) -> None:
    body = make(BOMB_SIZE)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": encoding})

    async with (
        web_server({"/bomb": serve}) as base,
        make_session(LOCAL, "t") as session,
        LoopWatch() as watch,
    ):
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, LOCAL).fetch(f"{base}/bomb", kind=kind, now=NOW)  # type: ignore[arg-type]
    assert caught.value.kind == "too-large"
    watch.assert_responsive()


@pytest.mark.parametrize(
    ("declared", "actual", "expected"),
    [
        (100, 20 * MIB, "ok"),  # says small, sends a flood: only what it declared is read
        (20 * MIB, 100, "too-large"),  # says huge: refused before reading
        (4 * MIB, 100, "network"),  # says 4 MiB, closes after 100 bytes: a truncated body
    ],
)
async def test_a_lying_content_length_is_bounded(declared: int, actual: int, expected: str) -> None:
    async def serve(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(declared)})
        response.content_type = "application/rss+xml"
        await response.prepare(request)
        try:
            chunk = b"<" * (64 * 1024)
            for start in range(0, actual, len(chunk)):
                await response.write(chunk[: min(len(chunk), actual - start)])
        except (ConnectionError, RuntimeError):
            pass  # the client hung up once it had enough, as it should
        if request.transport is not None:
            request.transport.close()  # end the connection where the lie leaves it
        return response

    async with (
        web_server({"/feed": serve}) as base,
        make_session(LOCAL, "t") as session,
        LoopWatch() as watch,
    ):
        try:
            result = await Fetcher(session, LOCAL).fetch(f"{base}/feed", kind="feed", now=NOW)
            outcome, size = "ok", len(result.body or b"")
        except FetchError as error:
            outcome, size = error.kind, 0
    watch.assert_responsive()
    assert outcome == expected
    assert size <= declared


async def test_a_10_mb_page_is_refused_by_the_fetcher_and_by_the_extractor() -> None:
    paragraph = b"<p>Ten megabytes of words, every one of them ordinary and harmless.</p>\n"
    page = b"<html><body>" + paragraph * (10 * MIB // len(paragraph)) + b"</body></html>"

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html")

    async with (
        web_server({"/page": serve}) as base,
        make_session(LOCAL, "t") as session,
        LoopWatch() as watch,
    ):
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, LOCAL).fetch(f"{base}/page", kind="page", now=NOW)
        with pytest.raises(InvalidInput):
            await extract_in_thread(page, f"{base}/page")
    assert caught.value.kind == "too-large"
    watch.assert_responsive()


@pytest.mark.parametrize("tag", ["div", "b", "table"])
async def test_100000_nested_elements_in_a_page_are_bounded(tag: str) -> None:
    depth = 100_000
    page = (
        f"<html><head><title>Deep</title></head><body>{f'<{tag}>' * depth}"
        "<p>A sentence at the bottom of a very deep well.</p>"
        f"{f'</{tag}>' * depth}</body></html>"
    ).encode()
    async with LoopWatch() as watch:
        try:
            extracted = await extract_in_thread(page, "https://p.example/deep", timeout=20.0)
        except InvalidInput as error:
            assert str(error).endswith(".")
        else:
            assert len(extracted.text) < 10_000
    watch.assert_responsive()


ITEMS = 100_000 if SOAK else 10_000


async def test_a_feed_with_many_items_does_not_block_the_loop_in_the_poller(
    storage: Storage, tmp_path: Path
) -> None:
    body = many_items_feed(ITEMS)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    config = make_config(tmp_path)
    # Built as bot/app.py builds it: the document is parsed in a worker process. (Without a pool,
    # for tools, it is parsed in a thread, where lxml's parse of the whole document holds the
    # GIL and so the loop: tens of milliseconds, past the bound when the machine is slow.)
    pool = WorkPool(config.workers)
    try:
        await pool.run(functools.partial(len, b""), priority="system")  # workers up first
        async with (
            web_server({"/feed": serve}) as base,
            make_session(config.fetch, "t") as session,
        ):
            feed = await storage.add_feed(f"{base}/feed", now=NOW)
            poller = Poller(storage, Fetcher(session, config.fetch), config, FakeClock(NOW),
                            rng=random.Random(1), pool=pool)  # fmt: skip
            async with LoopWatch() as watch:
                outcome = await poller.poll_feed(feed.id)
    finally:
        await pool.close()
    assert outcome.ok and outcome.items == config.feeds.max_items
    watch.assert_responsive()


async def test_a_feed_with_many_items_is_cut_to_max_items() -> None:
    parsed = await asyncio.to_thread(
        parse_feed, many_items_feed(2_000), url="https://p.example/feed", now=NOW, max_items=200
    )
    assert len(parsed.items) == 200
