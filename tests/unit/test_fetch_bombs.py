"""Decompression bombs: memory stays bounded whatever the compressed body expands to."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import brotli
import pytest
from aiohttp import web

from bot.config import FetchConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, make_session

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
LOCAL = FetchConfig(allow_private_addresses=True, total_timeout_seconds=30.0)
MIB = 1 << 20
MEMORY_BOUND = 20 * MIB


def squeeze(total: int, compressor: Callable[[bytes], bytes], finish: Callable[[], bytes]) -> bytes:
    """Compress `total` zero bytes in 1 MiB steps, never holding them all at once."""
    block = bytes(MIB)
    parts = [compressor(block) for _ in range(total // MIB)]
    parts.append(finish())
    return b"".join(parts)


def gzip_bomb(total: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return squeeze(total, packer.compress, packer.flush)


def deflate_bomb(total: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 15)
    return squeeze(total, packer.compress, packer.flush)


def brotli_bomb(total: int) -> bytes:
    packer = brotli.Compressor(quality=5)
    return squeeze(total, packer.process, packer.finish)


@asynccontextmanager
async def bomb_server(body: bytes, encoding: str, *, chunked: bool) -> AsyncIterator[str]:
    async def serve(request: web.Request) -> web.StreamResponse:
        if not chunked:  # Content-Length states the small compressed size
            return web.Response(body=body, headers={"Content-Encoding": encoding})
        response = web.StreamResponse(headers={"Content-Encoding": encoding})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 16 * 1024):
            await response.write(body[start : start + 16 * 1024])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/feed", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/feed"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("encoding", "make", "size", "chunked"),
    [
        ("gzip", gzip_bomb, 256 * MIB, False),
        ("gzip", gzip_bomb, 256 * MIB, True),
        ("deflate", deflate_bomb, 64 * MIB, False),
        ("br", brotli_bomb, 1024 * MIB, False),
    ],
)
async def test_a_decompression_bomb_is_too_large_and_memory_stays_bounded(
    encoding: str, make: Callable[[int], bytes], size: int, chunked: bool
) -> None:
    body = make(size)
    assert len(body) < size // 200  # it really is a bomb
    async with bomb_server(body, encoding, chunked=chunked) as url, make_session(LOCAL, "t") as s:
        fetcher = Fetcher(s, LOCAL)
        tracemalloc.start()
        try:
            baseline, _ = tracemalloc.get_traced_memory()
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(url, kind="feed", now=NOW)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.kind == "too-large"
    # The feed cap (5 MiB) is held once, plus aiohttp's bounded buffers; never the expansion.
    assert peak - baseline < MEMORY_BOUND, f"peak grew by {(peak - baseline) / MIB:.1f} MiB"
