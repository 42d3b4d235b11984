"""Two `paperboy worker` processes poll one database together (issue #15), on SQLite and on
PostgreSQL: real subprocesses, a loopback feed farm that logs every request (which feed, when,
which worker's User-Agent).

Each due feed is fetched by one worker at a time: no feed is fetched twice within its interval
(a double poll), none waits much longer than its interval (a missed one), and both workers take
a share. Then one worker is killed (SIGKILL) while it holds claims: the other polls those feeds
once the claims expire, within the claim expiry plus one interval, and not before.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from bench.feedserver import render_feed
from bot.storage import Storage
from tests.conftest import storage_target

pytestmark = pytest.mark.timeout(240)

FEEDS = 60
INTERVAL = 3.0
CLAIM_SECONDS = 5.0
SLACK = 4.0
"""Room for a loaded two-core machine: loop pauses, startup, the 304 batch's delay."""
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Fetch:
    feed: int
    at: float  # time.time(), comparable with the database's claim expiry
    agent: str


class LoggingFarm:
    """Feed documents with ETags (then 304s), every request logged; `changed` wakes waiters."""

    def __init__(self) -> None:
        self.fetches: list[Fetch] = []
        self.changed = asyncio.Condition()
        self.port = 0

    async def feed(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        self.fetches.append(Fetch(index, time.time(), request.headers.get("User-Agent", "")))
        async with self.changed:
            self.changed.notify_all()
        await asyncio.sleep(0.05)  # a round trip: claims are held while requests are in flight
        etag = f'"{index}-0"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = render_feed(index, 0, host=request.host, epoch=EPOCH)
        return web.Response(
            body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml; charset=UTF-8"}
        )

    async def wait_until(self, done: object, timeout: float) -> None:
        assert callable(done)
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(done)

    def by_feed(self, agent: str | None = None) -> dict[int, list[float]]:
        times: dict[int, list[float]] = defaultdict(list)
        for fetch in self.fetches:
            if agent is None or fetch.agent == agent:
                times[fetch.feed].append(fetch.at)
        return times


@asynccontextmanager
async def logging_farm() -> AsyncIterator[LoggingFarm]:
    farm = LoggingFarm()
    app = web.Application()
    app.router.add_get("/feed/{index}.xml", farm.feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    farm.port = runner.addresses[0][1]
    try:
        yield farm
    finally:
        await runner.cleanup()


def write_config(tmp_path: Path, name: str, database_url: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path / "shared.db"}"\nurl = "{database_url}"\n'
        f'[fetch]\nallow_private_addresses = true\nuser_agent = "worker-{name}"\n'
        # Claim batches of 16 (2 per request slot) against 60 feeds: both workers get a share.
        "per_host_concurrency = 16\nmax_concurrency = 8\n"
        "[limits]\nper_ip_concurrency = 64\n"
        f"[feeds]\nmin_interval_seconds = 1\ndefault_interval_seconds = {int(INTERVAL)}\n"
        "fetch_full_text = false\n"
        f"[scale]\ncheck_seconds = 0.2\npoll_lease_seconds = 3\n"
        f"feed_claim_seconds = {CLAIM_SECONDS}\n",
        encoding="utf-8",
    )
    return path


async def start_worker(tmp_path: Path, name: str, database_url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    config = write_config(tmp_path, name, database_url)
    with (tmp_path / f"{name}.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot", "--config", str(config), "worker"),
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
        )


async def claims_of(storage: Storage, pid: int) -> dict[int, float]:
    """Feeds whose claim a process holds now, with the claim's expiry (time.time() scale)."""
    rows = await storage.fetch_all(
        "SELECT id, claim_expires_at FROM feeds WHERE claimed_by LIKE ?", (f"%/{pid}/%",)
    )
    # Feed ids run 1..N in the order the feeds were added: feed index = id - 1.
    return {int(i) - 1: datetime.fromisoformat(e).timestamp() for i, e in rows}


async def test_two_workers_share_the_feeds_and_a_killed_ones_are_taken_over(
    tmp_path: Path, bench_database: str
) -> None:
    async with logging_farm() as farm:
        storage = await Storage.open(storage_target(bench_database, tmp_path / "shared.db"))
        for index in range(FEEDS):
            url = f"http://127.0.0.1:{farm.port}/feed/{index}.xml"
            await storage.add_feed(url, now=datetime.now(UTC))
        workers = {name: await start_worker(tmp_path, name, bench_database) for name in ("a", "b")}
        try:
            # Three cycles at least: every feed fetched three times.
            await farm.wait_until(
                lambda: (
                    len(farm.by_feed()) == FEEDS
                    and min(len(t) for t in farm.by_feed().values()) >= 3
                ),
                timeout=90,
            )
            shares = {
                name: sum(len(t) for t in farm.by_feed(f"worker-{name}").values())
                for name in workers
            }
            assert all(shares.values()), shares  # both workers polled
            for index, times in farm.by_feed().items():
                gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
                # A double poll would be a second fetch right after the first.
                assert min(gaps) >= 0.5 * INTERVAL, (index, gaps)
                assert max(gaps) <= INTERVAL + SLACK, (index, gaps)  # none missed

            # Kill worker a while it holds claims (read from the database it writes).
            victim = workers.pop("a")
            async with asyncio.timeout(30):
                while not (held := await claims_of(storage, victim.pid)):  # noqa: ASYNC110
                    # The claims live in the child's database: nothing to wait on but the file.
                    await asyncio.sleep(0.02)
            victim.send_signal(signal.SIGKILL)
            killed_at = time.time()
            await victim.wait()
            held = await claims_of(storage, victim.pid) or held  # as they stand after its death

            def taken_over() -> bool:
                by_b = farm.by_feed("worker-b")
                return all(any(t > killed_at for t in by_b.get(i, [])) for i in held)

            await farm.wait_until(taken_over, timeout=CLAIM_SECONDS + INTERVAL + 30)
            by_b = farm.by_feed("worker-b")
            for index, expires in held.items():
                first = min(t for t in by_b[index] if t > killed_at)
                assert first >= expires - 0.2, (index, first - expires)  # the claim held
                assert first - killed_at <= CLAIM_SECONDS + INTERVAL + SLACK, index
            # The others' feeds went on as before, polled by b alone.
            assert not [f for f in farm.fetches if f.agent == "worker-a" and f.at > killed_at + 1]
        finally:
            for process in workers.values():
                process.send_signal(signal.SIGTERM)
            for process in workers.values():
                await asyncio.wait_for(process.wait(), 30)
            await storage.close()
        assert all(p.returncode == 0 for p in workers.values())
