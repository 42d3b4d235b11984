"""Polling throughput: one full cycle over N feeds, Paperboy's poller against lemon24/reader
and the naive loop, on the same farm in the same run.

    .venv/bin/python -m bench.polling --feeds 2000 10000 --naive-sample 200   # full
    .venv/bin/python -m bench.polling --feeds 100000 --no-reader --no-naive --cycles 2
    .venv/bin/python -m bench.polling --smoke                                 # seconds

The feed farm (`bench.feedserver`) runs in its own process. Paperboy runs in another, built as
bot/app.py builds it: a real database file, the real Fetcher (one session, conditional GET,
per-host limits), the worker pool (`[workers] processes`, 2) and the real Poller with one
subscription per feed. Its CPU is its own process's plus its workers' (read from /proc: they
are the fork server's children, so RUSAGE_CHILDREN would miss them), and so is its peak RSS.
Its first cycle seeds every feed (all 200s, 20 items each); then each measured cycle has 10% of
feeds with a new item and 90% answering 304, and a last cycle has every feed answering 304,
which gives the CPU of a 304; a changed feed's is the rest of a cycle's CPU over the changed
feeds. Feeds are spread over N/10 sites (all 127.0.0.1, with the per-address limit raised to
stand for many addresses), since real feeds live on many sites.

lemon24/reader, a mature feed library, runs next in its own process on the same farm: its own
SQLite file, `update_feeds(workers=16, scheduled=False)` per cycle (conditional GET on, like
Paperboy), measured like Paperboy (seed, cycles, an all-304 cycle; wall and CPU of its process,
all threads). It is a benchmark-only package, installed with `make bench-deps`
(`pip install reader==3.26`); without it the row says "skipped". The ratios say how many times
faster Paperboy is (reader / Paperboy).

The naive baseline is the loop many bots use: fetch every feed in turn without validators and
parse it in full with feedparser each time. It runs last on a subset and is extrapolated
linearly to N (it is strictly sequential, so time scales with the number of feeds).

The machine's load averages before and after are recorded with each size: on a shared machine
the contenders are only comparable within one run.

`--processes N` measures sharing instead (issue #15): N polling processes, each built like
`paperboy worker` (its own database handle on the one file, its own session, worker pool and
holder name), poll one farm together, claiming feeds per feed. The bench process seeds the
database, then starts every cycle in all of them at once (one fake time, moved 400 s a cycle)
and takes the cycle's wall time until the last one has nothing left to claim; CPU and peak RSS
are the sums over the processes and their pool workers. The farm counts requests per feed, so
each cycle says how many feeds were asked for twice (double polls) and never (missed).

    .venv/bin/python -m bench.polling --feeds 10000 --processes 2 --cycles 3
    .venv/bin/python -m bench.polling --feeds 100000 --processes 2,1,1c256 --cycles 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.feedserver import FarmResolver, changed_in_cycle, control, farm_process, feed_url

REPO_ROOT = Path(__file__).resolve().parents[1]
HOSTS_PER_FEED = 0.1
CYCLE_ADVANCE_SECONDS = 400.0
"""The fake clock moves this far between cycles: past the 300 s interval plus its 10% jitter."""


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def reset_peak_rss() -> None:
    """Start a new VmHWM window (Linux: writing 5 to clear_refs resets the peak)."""
    # Not Linux, or not allowed: the peak then covers the whole process.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


SERVER_PID = 0
"""A PostgreSQL server's postmaster (bench.pg_cost): its CPU counts as the bot's, since the
database's work is part of a cycle's cost (SQLite's runs in this process's threads anyway)."""


def cpu_seconds() -> float:
    """User plus system CPU of this process, all threads (aiosqlite's included), plus the
    PostgreSQL server's processes when SERVER_PID is set."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    return own + server_cpu_seconds(SERVER_PID) if SERVER_PID else own


def server_cpu_seconds(postmaster: int) -> float:
    """CPU of a PostgreSQL server: the postmaster, its live children, and the children it has
    already reaped (the postmaster's cutime and cstime)."""
    tick = float(os.sysconf("SC_CLK_TCK"))
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
        elif ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def host_count(feeds: int) -> int:
    """How many host names the feeds are spread over."""
    return max(1, int(feeds * HOSTS_PER_FEED))


# ---------------------------------------------------------------- Paperboy's side
async def _poll_cycle(poller: Any) -> tuple[int, int]:
    """Poll until nothing is due (poll_due takes at most 1,000 feeds a round); (polled, errors)."""
    polled = errors = 0
    while True:
        report = await poller.poll_due()
        if report.polled == 0:
            return polled, errors
        polled += report.polled
        errors += len(report.failed)


PROFILE_VARIABLE = "PAPERBOY_BENCH_PROFILE"


@contextlib.contextmanager
def _profiled(name: str) -> Any:
    """With PAPERBOY_BENCH_PROFILE=folder, profile the bot's event loop thread over a cycle
    (cProfile, written to folder/name.prof); a developer's tool, off in every reported run.

    The clock is the loop thread's CPU time, so waiting (for the farm, the workers or SQLite's
    thread) costs nothing in the profile and its totals add up to the loop's own CPU."""
    folder = os.environ.get(PROFILE_VARIABLE)
    if not folder:
        yield
        return
    import cProfile

    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        Path(folder).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(Path(folder) / f"{name}.prof"))


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of another live process (a pool worker), from /proc; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of another live process in MB; 0 if gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PaperboyCpu:
    """CPU of the bot's process plus its parsing workers (`RUSAGE_SELF` misses the workers:
    they are the fork server's children, not ours)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def __call__(self) -> float:
        return cpu_seconds() + self.workers()

    def workers(self) -> float:
        """The workers' part alone."""
        return sum(process_cpu_seconds(pid) for pid in self.pool.pids)

    def peak_rss_mb(self) -> float:
        """Peak RSS of the bot's process plus that of each worker."""
        workers = sum(process_peak_rss_mb(pid) for pid in self.pool.pids)
        return round(peak_rss_mb() + workers, 1)


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (it is shared: say how busy it was)."""
    return [round(value, 2) for value in os.getloadavg()]


def _bench_config(folder: Path, database_url: str = "") -> Any:
    from bot.config import from_mapping

    return from_mapping(
        {
            "database": {"path": str(folder / "poll.db"), "url": database_url},
            "fetch": {"allow_private_addresses": True},
            # Real sites live on many addresses; the farm's all share 127.0.0.1, so the
            # per-address limit is raised to what many addresses would allow together.
            "limits": {"per_ip_concurrency": 256},
        }
    )


async def _set_cache_size(storage: Any, cache_mb: int) -> None:
    """`PRAGMA cache_size` on both of the handle's connections (a bench-only experiment)."""
    for conn in (storage._conn, storage._reader):  # an experiment, not the bot
        if conn is not None:
            await conn.raw.execute(f"PRAGMA cache_size = {-1024 * cache_mb}")


async def shared_worker(port: int, folder: Path, start: float, cache_mb: int) -> None:
    """One of `--processes N`: a poller like `paperboy worker`'s on the shared database; polls a
    whole cycle each time the bench writes `cycle K` on stdin, answers one JSON line."""
    from bot.clock import FakeClock

    clock = FakeClock(datetime.fromtimestamp(start, UTC))
    loop = asyncio.get_running_loop()
    async with bench_paperboy(_bench_config(folder), clock, cache_mb=cache_mb) as paperboy:
        poller, cpu_of = paperboy.poller, paperboy.cpu
        print(json.dumps({"ready": True, "holder": poller.holder}), flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            cycle = int(line.split()[1])
            target = datetime.fromtimestamp(start + cycle * CYCLE_ADVANCE_SECONDS, UTC)
            clock.advance((target - clock.now()).total_seconds())
            reset_peak_rss()
            cpu, wall, workers = cpu_of(), time.perf_counter(), cpu_of.workers()
            polled, errors = await _poll_cycle(poller)
            print(
                json.dumps(
                    {
                        "wall_s": time.perf_counter() - wall,
                        "cpu_s": cpu_of() - cpu,
                        "workers_cpu_s": cpu_of.workers() - workers,
                        "polled": polled,
                        "errors": errors,
                        "peak_rss_mb": cpu_of.peak_rss_mb(),
                    }
                ),
                flush=True,
            )


@dataclass
class BenchPaperboy:
    """A bench's Paperboy: its storage, fetcher, worker pool and poller, and their CPU meter."""

    storage: Any
    fetcher: Any
    pool: Any
    poller: Any
    cpu: PaperboyCpu


@contextlib.asynccontextmanager
async def bench_paperboy(
    config: Any, clock: Any, *, concurrency: int = 0, cache_mb: int = 0
) -> AsyncIterator[BenchPaperboy]:
    """Paperboy's polling parts, built as bot/app.py builds them (the farm's names resolved to
    loopback), closed on the way out. `concurrency` 0: the config's."""
    from bot.fetch import Fetcher, make_session
    from bot.ingest.poller import Poller
    from bot.storage import Storage
    from bot.workpool import WorkPool

    storage = await Storage.open(config.database.target())
    session = make_session(config.fetch, "Paperboy-bench", resolver=FarmResolver())
    pool = WorkPool(config.workers)
    try:
        if cache_mb:
            await _set_cache_size(storage, cache_mb)
        fetcher = Fetcher(session, config.fetch, limits=config.limits)
        poller = Poller(
            storage, fetcher, config, clock,
            concurrency=concurrency or config.fetch.max_concurrency, pool=pool,
        )  # fmt: skip
        yield BenchPaperboy(storage, fetcher, pool, poller, PaperboyCpu(pool))
    finally:
        await pool.close()
        await session.close()
        await storage.close()


async def add_farm_feeds(storage: Any, feeds: int, port: int, now: datetime) -> list[int]:
    """The farm's first `feeds` feeds, each with one subscription (100 feeds a server, 10 a
    channel), added to `storage`; their ids, in farm order."""
    from bot.models import NewSubscription

    hosts = host_count(feeds)
    ids = []
    for index in range(feeds):
        feed = await storage.add_feed(feed_url(port, index, hosts=hosts), now=now)
        await storage.add_subscription(
            NewSubscription(
                guild_id=1000 + index // 100,
                channel_id=5000 + index // 10,
                feed_id=feed.id,
                format="embed",
            ),
            now=now,
        )
        ids.append(feed.id)
    return ids


async def _seed_database(feeds: int, port: int, folder: Path, start: float) -> float:
    """The shared database: N feeds with one subscription each (as `paperboy_worker` makes)."""
    from bot.storage import Storage

    config = _bench_config(folder)
    now = datetime.fromtimestamp(start, UTC)
    storage = await Storage.open(config.database.path)
    started = time.perf_counter()
    try:
        await add_farm_feeds(storage, feeds, port, now)
    finally:
        await storage.close()
    return time.perf_counter() - started


def parse_phases(text: str) -> list[tuple[int, int]]:
    """`2,1,1c256`: cycles with 2 processes, then with 1, then with 1 at a 256 MB page cache
    (each phase starts its own processes on the same, already seeded, database)."""
    phases = []
    for part in text.split(","):
        count, _, cache = part.partition("c")
        phases.append((int(count), int(cache or 0)))
    return phases


async def _start_pollers(port: int, folder: str, start: float, count: int, cache_mb: int) -> Any:
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bench.polling", "--worker", "shared", "--port", str(port)),
            *("--folder", folder, "--start", str(start), "--cache-mb", str(cache_mb)),
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    for child in children:
        assert child.stdout is not None
        json.loads(await asyncio.wait_for(child.stdout.readline(), 120))
    return children


async def _stop_pollers(children: list[Any]) -> None:
    for child in children:
        if child.stdin is not None:
            child.stdin.close()
    for child in children:
        try:
            await asyncio.wait_for(child.wait(), 60)
        except TimeoutError:
            child.kill()
            await child.wait()


async def _shared_cycle(port: int, children: list[Any], cycle: int) -> dict[str, Any]:
    """Start cycle `cycle` in every process at once; the farm's and the processes' account."""
    await control(port, "cycle", n=cycle)
    wall = time.perf_counter()
    for child in children:
        child.stdin.write(f"cycle {cycle}\n".encode())
        await child.stdin.drain()
    answers = [json.loads(await child.stdout.readline()) for child in children]
    wall_s = time.perf_counter() - wall
    counted = await control(port, "requests")
    served = await control(port, "stats")
    result = {
        "cycle": cycle,
        "processes": len(children),
        "wall_s": round(wall_s, 2),
        "cpu_s": round(sum(a["cpu_s"] for a in answers), 2),
        "workers_cpu_s": round(sum(a["workers_cpu_s"] for a in answers), 2),
        "per_process_wall_s": [round(a["wall_s"], 2) for a in answers],
        "per_process_polled": [a["polled"] for a in answers],
        "errors": sum(a["errors"] for a in answers),
        "changed": int(served.get("200", 0)),
        "not_modified": int(served.get("304", 0)),
        "double_polled": counted["double_polled"],
        "extra_requests": counted["extra_requests"],
        "missed": counted["missed"],
        "peak_rss_mb_sum": round(sum(a["peak_rss_mb"] for a in answers), 1),
        "load_average": load_average(),
    }
    print(json.dumps(result), file=sys.stderr, flush=True)  # progress: a long run's cycles
    return result


async def measure_shared(
    feeds: int, *, phases: list[tuple[int, int]], cycles: int, latency_ms: float = 0.0
) -> dict[str, Any]:
    """Polling processes on one database and one farm: the first phase's processes seed it, then
    each phase runs `cycles` cycles; per cycle, wall time until the last process is done, their
    summed CPU and peak RSS, and the farm's double polls and missed feeds."""
    load_before = load_average()
    start = float(int(time.time()))
    cycle = 0
    results = []
    async with farm_process(feeds, latency_ms=latency_ms) as port:
        with tempfile.TemporaryDirectory(prefix="paperboy-bench-shared-") as folder:
            setup_s = await _seed_database(feeds, port, Path(folder), start)
            print(json.dumps({"setup_s": setup_s}), file=sys.stderr, flush=True)
            seed: dict[str, Any] = {}
            for count, cache_mb in phases:
                children = await _start_pollers(port, folder, start, count, cache_mb)
                try:
                    if not seed:
                        seed = await _shared_cycle(port, children, cycle)
                    runs = []
                    for _ in range(cycles):
                        cycle += 1
                        runs.append(await _shared_cycle(port, children, cycle))
                finally:
                    await _stop_pollers(children)
                results.append(
                    {
                        "processes": count,
                        "cache_mb": cache_mb,
                        "cycles": runs,
                        "wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
                        "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
                        "double_polled": sum(r["double_polled"] for r in runs),
                        "missed": sum(r["missed"] for r in runs),
                        "peak_rss_mb_sum": max(r["peak_rss_mb_sum"] for r in runs),
                    }
                )
    return {
        "feeds": feeds,
        "latency_ms": latency_ms,
        "setup_s": round(setup_s, 1),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "seed": seed,
        "phases": results,
    }


async def paperboy_worker(
    feeds: int, port: int, cycles: int, folder: Path, *, database_url: str = ""
) -> dict[str, Any]:
    """Seed N feeds, then measure `cycles` cycles; runs in its own process."""
    from bot.clock import FakeClock

    clock = FakeClock(datetime.now(UTC))
    async with bench_paperboy(_bench_config(folder, database_url), clock) as paperboy:
        storage, pool, poller = paperboy.storage, paperboy.pool, paperboy.poller
        paperboy_cpu = paperboy.cpu
        hosts = host_count(feeds)
        started = time.perf_counter()
        feed_ids = await add_farm_feeds(storage, feeds, port, clock.now())
        setup_seconds = time.perf_counter() - started
        await control(port, "cycle", n=0)
        cpu, wall = paperboy_cpu(), time.perf_counter()
        seeded, seed_errors = await _poll_cycle(poller)
        seed = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(paperboy_cpu() - cpu, 2),
            "polled": seeded,
            "errors": seed_errors,
            "peak_rss_mb": paperboy_cpu.peak_rss_mb(),
        }
        runs = []
        for cycle in range(1, cycles + 1):
            await control(port, "cycle", n=cycle)
            clock.advance(CYCLE_ADVANCE_SECONDS)
            reset_peak_rss()
            cpu, wall, workers = paperboy_cpu(), time.perf_counter(), paperboy_cpu.workers()
            with _profiled(f"cycle{cycle}"):
                polled, errors = await _poll_cycle(poller)
            wall_s, cpu_s = time.perf_counter() - wall, paperboy_cpu() - cpu
            workers_s = paperboy_cpu.workers() - workers
            served = await control(port, "stats")
            changed = int(served.get("200", 0))
            runs.append(
                {
                    "wall_s": wall_s,
                    "cpu_s": cpu_s,
                    "workers_cpu_s": workers_s,
                    "polled": polled,
                    "errors": errors,
                    "changed": changed,
                    "not_modified": int(served.get("304", 0)),
                    "cpu_ms_per_changed": 1000 * cpu_s / max(1, changed),
                    "peak_rss_mb": paperboy_cpu.peak_rss_mb(),
                }
            )
        # One more cycle at the same farm state: every feed answers 304, which isolates the cost
        # of an unchanged feed from that of a changed one.
        await control(port, "cycle", n=cycles)
        clock.advance(CYCLE_ADVANCE_SECONDS)
        cpu, wall = paperboy_cpu(), time.perf_counter()
        with _profiled("all304"):
            unchanged_polled, unchanged_errors = await _poll_cycle(poller)
        unchanged = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(paperboy_cpu() - cpu, 2),
            "polled": unchanged_polled,
            "errors": unchanged_errors,
            "not_modified": int((await control(port, "stats")).get("304", 0)),
        }
        changed_only = await _changed_only_cycle(
            poller, storage, paperboy_cpu, clock, port=port, feed_ids=feed_ids, cycle=cycles + 1
        )
        per_304_ms = 1000 * unchanged["cpu_s"] / max(1, unchanged_polled)
        cycle_cpu = statistics.median(r["cpu_s"] for r in runs)
        changed_count = statistics.median(r["changed"] for r in runs)
        unchanged_count = feeds - changed_count
        return {
            "all_304_cycle": unchanged,
            "changed_only_cycle": changed_only,
            "cpu_ms_per_304": round(per_304_ms, 2),
            "cpu_ms_per_changed_net": round(
                (1000 * cycle_cpu - per_304_ms * unchanged_count) / max(1, changed_count), 2
            ),
            "feeds": feeds,
            "hosts": hosts,
            "workers": pool.processes,
            "load_average_after": load_average(),
            "setup_s": round(setup_seconds, 1),
            "seed": seed,
            "cycles": runs,
            "wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
            "cpu_ms_per_changed": round(
                statistics.median(r["cpu_ms_per_changed"] for r in runs), 2
            ),
            "errors": sum(r["errors"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "peak_rss_with_seed_mb": max(seed["peak_rss_mb"], *(r["peak_rss_mb"] for r in runs)),
        }


async def _changed_only_cycle(
    poller: Any,
    storage: Any,
    paperboy_cpu: PaperboyCpu,
    clock: Any,
    *,
    port: int,
    feed_ids: list[int],
    cycle: int,
) -> dict[str, Any]:
    """A cycle that polls only the feeds gaining an item in `cycle` (`feed_ids` in farm order):
    the CPU of a changed feed measured directly, not as a cycle's CPU less its 304s."""
    await control(port, "cycle", n=cycle)
    clock.advance(1.0)  # less than any feed's interval: none falls due by itself
    changed = [feed_id for index, feed_id in enumerate(feed_ids) if changed_in_cycle(index, cycle)]
    for feed_id in changed:
        await storage.check_feed_by(feed_id, clock.now())
    cpu, wall, workers = paperboy_cpu(), time.perf_counter(), paperboy_cpu.workers()
    with _profiled("changed_only"):
        polled, errors = await _poll_cycle(poller)
    cpu_s, workers_s = paperboy_cpu() - cpu, paperboy_cpu.workers() - workers
    answered = int((await control(port, "stats")).get("200", 0))
    if polled != len(changed) or answered != len(changed):
        raise RuntimeError(f"the changed-only cycle polled {polled} feeds, not {len(changed)}")
    return {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(cpu_s, 2),
        "workers_cpu_s": round(workers_s, 2),
        "polled": polled,
        "changed": answered,
        "errors": errors,
        "cpu_ms_per_changed": round(1000 * cpu_s / max(1, answered), 2),
    }


# ---------------------------------------------------------------- the pool's own cost
POOL_JOBS = 2000


async def pool_overhead(jobs: int = POOL_JOBS) -> dict[str, Any]:
    """What one worker-pool job costs besides its work: a job carrying a farm feed's body
    (about 42 KB, what a poll sends) that does nothing with it, run `jobs` times two at a time.

    The bot's process pays pickling, the pipe and a hand-off to an I/O thread; the worker pays
    unpickling and the reply. Per job, in ms of CPU, both sides, and the wall time per job.
    """
    import functools

    from bench.feedserver import render_feed
    from bot.workpool import WorkPool

    body = render_feed(1, 1, host="h1.test", epoch=datetime(2026, 1, 1, tzinfo=UTC))
    pool = WorkPool()
    paperboy_cpu = PaperboyCpu(pool)
    try:
        await pool.run(functools.partial(len, body), priority="system")  # workers started
        await pool.run(functools.partial(len, body), priority="system")
        own, workers, wall = cpu_seconds(), paperboy_cpu.workers(), time.perf_counter()

        async def one() -> None:
            await pool.run(functools.partial(len, body), priority="system")

        for _ in range(jobs // 2):
            await asyncio.gather(one(), one())
        return {
            "jobs": jobs,
            "payload_bytes": len(body),
            "bot_cpu_ms_per_job": round(1000 * (cpu_seconds() - own) / jobs, 3),
            "worker_cpu_ms_per_job": round(1000 * (paperboy_cpu.workers() - workers) / jobs, 3),
            "wall_ms_per_job": round(1000 * (time.perf_counter() - wall) / jobs, 3),
            "load_average_after": load_average(),
        }
    finally:
        await pool.close()


# ---------------------------------------------------------------- the naive baseline
async def naive_worker(feeds: int, sample: int, port: int) -> dict[str, Any]:
    """Fetch and fully parse `sample` feeds one after the other; extrapolate to `feeds`."""
    import aiohttp
    import feedparser

    hosts = host_count(feeds)
    seen: dict[str, set[str]] = {}
    errors = 0
    connector = aiohttp.TCPConnector(resolver=FarmResolver())
    async with aiohttp.ClientSession(connector=connector) as session:
        cpu, wall = cpu_seconds(), time.perf_counter()
        for index in range(sample):
            url = feed_url(port, index, hosts=hosts)
            try:
                async with session.get(url) as response:
                    body = await response.read()
                parsed = feedparser.parse(body)
                seen.setdefault(url, set()).update(e.get("id", "") for e in parsed.entries)
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
        wall_s, cpu_s = time.perf_counter() - wall, cpu_seconds() - cpu
    scale = feeds / sample
    return {
        "sample": sample,
        "sample_wall_s": round(wall_s, 2),
        "wall_s": round(wall_s * scale, 1),
        "cpu_s": round(cpu_s * scale, 1),
        "errors": errors,
        "peak_rss_mb": peak_rss_mb(),
        "extrapolated": sample < feeds,
    }


# ---------------------------------------------------------------- lemon24/reader
READER_WORKERS = 16


def _resolve_farm_names_to_loopback() -> None:
    """Make `*.test` names resolve to 127.0.0.1 in this process (reader uses requests)."""
    import socket

    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


async def reader_worker(feeds: int, port: int, cycles: int, folder: Path) -> dict[str, Any]:
    """Seed N feeds with reader, then measure `cycles` cycles; runs in its own process."""
    from reader import make_reader

    _resolve_farm_names_to_loopback()
    hosts = host_count(feeds)
    reader = make_reader(str(folder / "reader.sqlite"))
    try:
        for index in range(feeds):
            reader.add_feed(feed_url(port, index, hosts=hosts))

        def update() -> dict[str, Any]:
            cpu, wall = cpu_seconds(), time.perf_counter()
            errors = 0
            for _url, value in reader.update_feeds_iter(workers=READER_WORKERS, scheduled=False):
                errors += isinstance(value, Exception)
            return {
                "wall_s": time.perf_counter() - wall,
                "cpu_s": cpu_seconds() - cpu,
                "errors": errors,
            }

        await control(port, "cycle", n=0)
        seed = update()
        seed = {**seed, "wall_s": round(seed["wall_s"], 2), "cpu_s": round(seed["cpu_s"], 2)}
        seed["entries"] = reader.get_entry_counts().total
        runs = []
        for cycle in range(1, cycles + 1):
            await control(port, "cycle", n=cycle)
            run = update()
            served = await control(port, "stats")
            run["changed"] = int(served.get("200", 0))
            run["not_modified"] = int(served.get("304", 0))
            runs.append(run)
        # As for Paperboy: one more cycle at the same farm state, every feed answering 304.
        await control(port, "cycle", n=cycles)  # the same state; resets the farm's counts
        unchanged = update()
        unchanged["not_modified"] = int((await control(port, "stats")).get("304", 0))
        cycle_cpu = statistics.median(r["cpu_s"] for r in runs)
        changed_count = statistics.median(r["changed"] for r in runs)
        per_304_ms = 1000 * unchanged["cpu_s"] / max(1, feeds)
        return {
            "all_304_cycle": unchanged,
            "cpu_ms_per_304": round(per_304_ms, 2),
            "cpu_ms_per_changed_net": round(
                (1000 * cycle_cpu - per_304_ms * (feeds - changed_count)) / max(1, changed_count),
                2,
            ),
            "load_average_after": load_average(),
            "version": _reader_version(),
            "workers": READER_WORKERS,
            "feeds": feeds,
            "seed": seed,
            "cycles": runs,
            "entries": reader.get_entry_counts().total,
            "wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
            "errors": sum(r["errors"] for r in runs),
            "peak_rss_mb": peak_rss_mb(),
        }
    finally:
        reader.close()


def _reader_version() -> str:
    from importlib.metadata import version

    return version("reader")


def reader_installed() -> bool:
    """Whether the benchmark-only `reader` package is importable here."""
    return importlib.util.find_spec("reader") is not None


# ---------------------------------------------------------------- the driver
def _worker(args: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.polling", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.polling {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def measure(
    feeds: int,
    *,
    cycles: int,
    naive_sample: int,
    latency_ms: float = 0.0,
    with_reader: bool = True,
    with_naive: bool = True,
) -> dict[str, Any]:
    """One farm, contenders one after the other on it, each in its own process: Paperboy's
    cycles, reader's (when it is installed), then the naive loop on a subset."""
    load_before = load_average()
    async with farm_process(feeds, latency_ms=latency_ms) as port:
        with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as folder:
            paperboy = await asyncio.to_thread(
                _worker,
                [
                    *("--worker", "paperboy", "--feeds", str(feeds), "--port", str(port)),
                    *("--cycles", str(cycles), "--folder", folder),
                ],
                7200,
            )
        reader: dict[str, Any] = {"skipped": "reader is not installed (make bench-deps)"}
        if with_reader and reader_installed():
            with tempfile.TemporaryDirectory(prefix="paperboy-bench-reader-") as folder:
                reader = await asyncio.to_thread(
                    _worker,
                    [
                        *("--worker", "reader", "--feeds", str(feeds), "--port", str(port)),
                        *("--cycles", str(cycles), "--folder", folder),
                    ],
                    7200,
                )
        elif not with_reader:
            reader = {"skipped": "not asked for"}
        naive: dict[str, Any] = {"skipped": "not asked for"}
        if with_naive:
            naive = await asyncio.to_thread(
                _worker,
                [
                    *("--worker", "naive", "--feeds", str(feeds), "--port", str(port)),
                    *("--sample", str(min(feeds, naive_sample))),
                ],
                3600,
            )
    return {
        "feeds": feeds,
        "latency_ms": latency_ms,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "paperboy": paperboy,
        "naive": naive,
        "reader": reader,
        "speedup": _over(naive, paperboy, "wall_s"),
        "cpu_ratio": _over(naive, paperboy, "cpu_s"),
        "vs_reader": _ratios(paperboy, reader),
    }


def _over(slow: dict[str, Any], fast: dict[str, Any], key: str) -> float | None:
    if "skipped" in slow:
        return None
    return round(float(slow[key]) / max(float(fast[key]), 1e-9), 1)


def _ratios(paperboy: dict[str, Any], reader: dict[str, Any]) -> dict[str, float] | None:
    """How many times faster Paperboy is than reader (reader / Paperboy; above 1 = faster):
    seed wall, cycle wall and cycle CPU (medians), and CPU per changed and per unchanged feed."""
    if "skipped" in reader:
        return None

    def ratio(theirs: float, ours: float) -> float:
        return round(theirs / max(ours, 1e-9), 2)

    return {
        "seed_wall": ratio(reader["seed"]["wall_s"], paperboy["seed"]["wall_s"]),
        "seed_cpu": ratio(reader["seed"]["cpu_s"], paperboy["seed"]["cpu_s"]),
        "cycle_wall": ratio(reader["wall_s"], paperboy["wall_s"]),
        "cycle_cpu": ratio(reader["cpu_s"], paperboy["cpu_s"]),
        "cpu_per_changed": ratio(
            reader["cpu_ms_per_changed_net"], paperboy["cpu_ms_per_changed_net"]
        ),
        "cpu_per_304": ratio(reader["cpu_ms_per_304"], paperboy["cpu_ms_per_304"]),
    }


async def run(
    sizes: list[int],
    *,
    cycles: int,
    naive_sample: int,
    latency_ms: float = 0.0,
    with_reader: bool = True,
    with_naive: bool = True,
) -> list[dict[str, Any]]:
    """Measure every size in turn."""
    return [
        await measure(
            n,
            cycles=cycles,
            naive_sample=naive_sample,
            latency_ms=latency_ms,
            with_reader=with_reader,
            with_naive=with_naive,
        )
        for n in sizes
    ]


def summary_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    rows = []
    for result in results:
        n, p, b = result["feeds"], result["paperboy"], result["naive"]
        name = f"polling {n:,} feeds"
        if result.get("latency_ms"):
            name += f", {result['latency_ms']:g} ms server latency"
        big = n >= 100_000
        rows += [
            (
                name,
                "load average (1/5/15 min) before / after",
                f"{result['load_average_before']} / {result['load_average_after']}",
                "",
            ),
            (name, "cycle wall (median)", f"{p['wall_s']} s", "<= 120 s" if big else ""),
            (name, "cycle CPU, bot + workers (median)", f"{p['cpu_s']} s", ""),
            (
                name,
                "CPU per unchanged (304) / changed feed",
                f"{p['cpu_ms_per_304']} / {p['cpu_ms_per_changed_net']} ms",
                "<= 0.3 / <= 3 ms",
            ),
            (
                name,
                "CPU per changed feed, measured alone (a cycle of only the changed feeds)",
                f"{p['changed_only_cycle']['cpu_ms_per_changed']} ms "
                f"({p['changed_only_cycle']['changed']} feeds, of which workers "
                f"{p['changed_only_cycle']['workers_cpu_s']} s)",
                "<= 3 ms",
            ),
            (
                name,
                "peak RSS, bot + workers (cycle / incl. seed)",
                f"{p['peak_rss_mb']} / {p['peak_rss_with_seed_mb']} MB",
                "<= 500 MB" if big else "",
            ),
            (
                name,
                "errors",
                str(p["errors"] + p["seed"]["errors"] + p["all_304_cycle"]["errors"]),
                "0",
            ),
            (
                name,
                "seed cycle wall / CPU",
                f"{p['seed']['wall_s']} s / {p['seed']['cpu_s']} s",
                "",
            ),
        ]
        if "skipped" not in b:
            rows += [
                (
                    name,
                    "naive loop wall" + (f" (from {b['sample']})" if b["extrapolated"] else ""),
                    f"{b['wall_s']} s",
                    "",
                ),
                (
                    name,
                    "speed-up vs naive (wall / CPU)",
                    f"{result['speedup']}x / {result['cpu_ratio']}x",
                    "",
                ),
            ]
        r = result.get("reader") or {"skipped": "not measured"}
        if "skipped" in r:
            rows.append((name, "lemon24/reader", f"skipped: {r['skipped']}", ""))
            continue
        ratios = result["vs_reader"]
        rows += [
            (
                name,
                f"reader {r['version']} seed / cycle wall (median) / cycle CPU",
                f"{r['seed']['wall_s']} s / {r['wall_s']} s / {r['cpu_s']} s",
                "",
            ),
            (
                name,
                "reader CPU per unchanged (304) / changed feed; peak RSS",
                f"{r['cpu_ms_per_304']} / {r['cpu_ms_per_changed_net']} ms; {r['peak_rss_mb']} MB",
                "",
            ),
            (
                name,
                "Paperboy faster than reader: seed wall, cycle wall, cycle CPU",
                f"{ratios['seed_wall']}x, {ratios['cycle_wall']}x, {ratios['cycle_cpu']}x",
                ">= 2x, >= 3x, >= 3x",
            ),
            (
                name,
                "... CPU per changed feed, per 304",
                f"{ratios['cpu_per_changed']}x, {ratios['cpu_per_304']}x",
                "",
            ),
            (name, "reader errors", str(r["errors"] + r["seed"]["errors"]), "0"),
        ]
    return rows


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="100 feeds, 1 cycle")
    parser.add_argument("--feeds", type=int, nargs="*", default=[1000, 10_000])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="the farm waits this long before answering"
    )
    parser.add_argument(
        "--no-reader", action="store_true", help="leave lemon24/reader out (it is the slowest)"
    )
    parser.add_argument(
        "--no-naive", action="store_true", help="leave the naive loop out (for 100,000 feeds)"
    )
    parser.add_argument(
        "--pool-overhead",
        action="store_true",
        help="only measure one worker-pool job's own cost (pickling, pipe, hand-offs)",
    )
    parser.add_argument(
        "--processes",
        default="",
        help="measure polling processes sharing the database and farm (issue #15) instead: "
        "'2', or phases on the same seeded database such as '2,1,1c256' (c: page cache MB)",
    )
    parser.add_argument("--cache-mb", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--worker", choices=("paperboy", "naive", "reader", "shared"), help=argparse.SUPPRESS
    )
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    if args.worker == "paperboy":
        global SERVER_PID
        SERVER_PID = args.server_pid
        result = asyncio.run(
            paperboy_worker(
                args.feeds[0],
                args.port,
                args.cycles,
                args.folder,
                database_url=args.database_url,
            )
        )
        print(json.dumps(result))
        return
    if args.worker == "shared":
        asyncio.run(shared_worker(args.port, args.folder, args.start, args.cache_mb))
        return
    if args.processes:
        shared = [
            asyncio.run(
                measure_shared(
                    n,
                    phases=parse_phases(args.processes),
                    cycles=args.cycles,
                    latency_ms=args.latency_ms,
                )
            )
            for n in args.feeds
        ]
        text = json.dumps(shared, indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n", encoding="utf-8")
        return
    if args.worker == "reader":
        result = asyncio.run(reader_worker(args.feeds[0], args.port, args.cycles, args.folder))
        print(json.dumps(result))
        return
    if args.worker == "naive":
        print(json.dumps(asyncio.run(naive_worker(args.feeds[0], args.sample, args.port))))
        return
    if args.pool_overhead:
        print(json.dumps(asyncio.run(pool_overhead()), indent=2))
        return
    sizes, cycles, sample = args.feeds, args.cycles, args.naive_sample
    if args.smoke:
        sizes, cycles, sample = [100], 1, 20
    results = asyncio.run(
        run(
            sizes,
            cycles=cycles,
            naive_sample=sample,
            latency_ms=args.latency_ms,
            with_reader=not args.no_reader,
            with_naive=not args.no_naive,
        )
    )
    print_report(summary_rows(results), results, args.json)


if __name__ == "__main__":
    main()
