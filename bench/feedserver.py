"""The feed farm: one local aiohttp server that serves N RSS feeds for the polling benchmarks.

    .venv/bin/python -m bench.feedserver --feeds 10000     # prints {"port": P} and serves

Feed `i` lives at `/feed/{i}.xml` and holds 20 items of about 2 KB each (about 40 KB). The farm
moves in cycles (`POST /_control/cycle?n=C`): in each cycle exactly one feed in ten gains a new
item, and every feed answers a matching `If-None-Match` with 304. `GET /_control/stats` counts
the answers, so a benchmark can check that the bot was served what it thinks it was.

Hostnames are ignored, so a client may spread feeds over many names that all resolve to
127.0.0.1 (see `FarmResolver`), the way real feeds live on many hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

ITEMS_PER_FEED = 20
CHANGED_EVERY = 10
"""One feed in this many gains an item per cycle (10%)."""
ITEM_SPACING = timedelta(minutes=7)

# Words for the sample text (written for this benchmark; any words would do).
_WORDS = [
    "council",
    "tenants",
    "rent",
    "strike",
    "union",
    "branch",
    "ballot",
    "workers",
    "wages",
    "hospital",
    "ward",
    "nurses",
    "staffing",
    "transport",
    "fares",
    "station",
    "cleaners",
    "contract",
    "living",
    "wage",
    "housing",
    "repairs",
    "mould",
    "estate",
    "campaign",
    "meeting",
    "petition",
    "solidarity",
    "picket",
    "line",
    "dockers",
    "port",
    "warehouse",
    "shift",
    "climate",
    "energy",
    "bills",
    "public",
    "ownership",
    "offshore",
    "wind",
    "jobs",
    "valley",
    "flooding",
    "heat",
    "pumps",
    "community",
    "organisers",
    "report",
    "evidence",
    "minister",
    "budget",
    "cuts",
    "services",
    "schools",
    "teachers",
    "parents",
    "pupils",
    "buses",
    "franchising",
    "routes",
    "tram",
    "extension",
    "cycle",
    "lanes",
    "safety",
    "residents",
]


def changed_in_cycle(feed_index: int, cycle: int) -> bool:
    """Whether feed `feed_index` gains a new item in `cycle` (exactly 1 in 10 per cycle)."""
    return cycle > 0 and (feed_index + 3 * cycle) % CHANGED_EVERY == 0


def version_at(feed_index: int, cycle: int) -> int:
    """How many items the feed has gained by the end of `cycle`."""
    return sum(changed_in_cycle(feed_index, c) for c in range(1, cycle + 1))


def _paragraph(seed: int, words: int) -> str:
    count = len(_WORDS)
    picked = [_WORDS[(seed * 31 + k * 17 + (k * k) % 13) % count] for k in range(words)]
    return " ".join(picked).capitalize() + "."


def render_feed(feed_index: int, version: int, *, host: str, epoch: datetime) -> bytes:
    """RSS 2.0 of one feed at one version: the 20 newest items, newest first, about 40 KB."""
    newest = version + ITEMS_PER_FEED - 1
    items = []
    for number in range(newest, newest - ITEMS_PER_FEED, -1):
        published = epoch + (number - ITEMS_PER_FEED) * ITEM_SPACING
        link = f"http://{host}/{feed_index}/story-{number}/"
        body = "".join(
            f"&lt;p&gt;{_paragraph(feed_index * 1000 + number * 7 + p, 45)}&lt;/p&gt;"
            for p in range(4)
        )
        items.append(
            "<item>"
            f"<title>{escape(_paragraph(feed_index + number, 8))}</title>"
            f"<link>{link}</link>"
            f'<guid isPermaLink="false">{link}</guid>'
            f"<pubDate>{format_datetime(published)}</pubDate>"
            "<dc:creator>Farm Reporter</dc:creator>"
            "<category>News</category>"
            f"<description>{escape(_paragraph(number, 40))}</description>"
            f"<content:encoded>{body}</content:encoded>"
            "</item>"
        )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Farm feed {feed_index}</title><link>http://{host}/</link>"
        "<description>A feed of the benchmark farm</description>"
        + "".join(items)
        + "</channel></rss>"
    )
    return document.encode("utf-8")


class FeedFarm:
    """The farm's state and its aiohttp application."""

    def __init__(
        self, feeds: int, *, epoch: datetime | None = None, latency_ms: float = 0.0
    ) -> None:
        self.feeds = feeds
        self.latency = latency_ms / 1000
        self.cycle = 0
        self.epoch = epoch or datetime.now(UTC).replace(microsecond=0)
        self.answers: Counter[str] = Counter()
        self.per_feed: Counter[int] = Counter()
        """Requests per feed since the last cycle change (double polls, missed feeds)."""
        self._answered = asyncio.Condition()

    async def wait_for_answers(self, status: str, count: int) -> None:
        """Wait (in the farm's own process) until `count` answers with `status` were given."""
        async with self._answered:
            await self._answered.wait_for(lambda: self.answers[status] >= count)

    async def _count(self, status: str) -> None:
        self.answers[status] += 1
        async with self._answered:
            self._answered.notify_all()

    def etag(self, feed_index: int) -> str:
        """The current validator of a feed."""
        return f'"{feed_index}-{version_at(feed_index, self.cycle)}"'

    async def feed(self, request: web.Request) -> web.StreamResponse:
        """One feed document, or 304 when the client already has this version."""
        if self.latency:
            await asyncio.sleep(self.latency)  # stands in for the internet's round trip
        try:
            index = int(request.match_info["index"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if not 0 <= index < self.feeds:
            await self._count("404")
            raise web.HTTPNotFound()
        self.per_feed[index] += 1
        etag = self.etag(index)
        if request.headers.get("If-None-Match") == etag:
            await self._count("304")
            return web.Response(status=304, headers={"ETag": etag})
        await self._count("200")
        body = render_feed(
            index, version_at(index, self.cycle), host=request.host, epoch=self.epoch
        )
        return web.Response(
            body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml; charset=UTF-8"}
        )

    async def set_cycle(self, request: web.Request) -> web.Response:
        """Move the farm to cycle `n` (new items appear) and reset the answer counts."""
        self.cycle = int(request.query["n"])
        self.answers.clear()
        self.per_feed.clear()
        return web.json_response({"cycle": self.cycle})

    async def stats(self, request: web.Request) -> web.Response:
        """Answers given since the last cycle change."""
        return web.json_response({"cycle": self.cycle, **self.answers})

    async def requests(self, request: web.Request) -> web.Response:
        """Per-feed request counts since the last cycle change, summed up: feeds asked for
        once, more than once (double polls, with the extra requests), and never (missed)."""
        return web.json_response(
            {
                "cycle": self.cycle,
                "polled_once": sum(1 for n in self.per_feed.values() if n == 1),
                "double_polled": sum(1 for n in self.per_feed.values() if n > 1),
                "extra_requests": sum(n - 1 for n in self.per_feed.values() if n > 1),
                "missed": self.feeds - len(self.per_feed),
            }
        )

    def app(self) -> web.Application:
        """The aiohttp application serving the farm."""
        app = web.Application()
        app.router.add_get("/feed/{index}.xml", self.feed)
        app.router.add_post("/_control/cycle", self.set_cycle)
        app.router.add_get("/_control/stats", self.stats)
        app.router.add_get("/_control/requests", self.requests)
        return app


@asynccontextmanager
async def running_farm(farm: FeedFarm) -> AsyncIterator[int]:
    """Serve `farm` in this process on 127.0.0.1; yields the port."""
    runner = web.AppRunner(farm.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None)  # an asyncio.Server's, which aiohttp types loosely
    assert sockets
    port = int(sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        await runner.cleanup()


@asynccontextmanager
async def farm_process(feeds: int, *, latency_ms: float = 0.0) -> AsyncIterator[int]:
    """Run the farm in its own process (so its CPU is not counted as the bot's); yields the port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.feedserver",
        "--feeds",
        str(feeds),
        "--latency-ms",
        str(latency_ms),
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the feed farm did not start")
        yield int(json.loads(line)["port"])
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the farm stops when its stdin ends
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)


class FarmResolver(AbstractResolver):
    """Resolves every `*.test` name to 127.0.0.1, so feeds can sit on many sites."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """127.0.0.1 for farm names; anything else is unknown."""
        if not (host.endswith(".test") or host == "127.0.0.1"):
            raise OSError(f"{host} is not a farm host")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        """Nothing to release."""


def feed_url(port: int, index: int, *, hosts: int) -> str:
    """The address of feed `index` when the farm's feeds are spread over `hosts` sites.

    Each site is its own registrable domain (feeds.site7.test), as real publishers' are, so
    Paperboy's per-site limit applies per site and not to the whole farm.
    """
    return f"http://feeds.site{index % hosts}.test:{port}/feed/{index}.xml"


async def control(port: int, path: str, **query: Any) -> dict[str, Any]:
    """Call one of the farm's control endpoints (a plain session: this is the bench's side)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        method = session.post if path == "cycle" else session.get
        async with method(
            f"http://127.0.0.1:{port}/_control/{path}", params={k: str(v) for k, v in query.items()}
        ) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result


async def _serve(feeds: int, latency_ms: float) -> None:
    async with running_farm(FeedFarm(feeds, latency_ms=latency_ms)) as port:
        print(json.dumps({"port": port}), flush=True)
        # Serve until the parent closes our stdin (or terminates us), so no farm outlives a bench.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Serve the benchmark feed farm on 127.0.0.1.")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering")
    args = parser.parse_args()
    asyncio.run(_serve(args.feeds, args.latency_ms))


if __name__ == "__main__":
    main()
