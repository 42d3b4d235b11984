"""Polling throughput: one full cycle over N feeds, Paperboy's poller against the naive loop.

    .venv/bin/python -m bench.polling --feeds 1000 10000      # full
    .venv/bin/python -m bench.polling --smoke                 # seconds

The feed farm (`bench.feedserver`) runs in its own process. Paperboy runs in another: a real
database file, the real Fetcher (one session, conditional GET, per-host limits) and the real
Poller with one subscription per feed. Its first cycle seeds every feed (all 200s, 20 items
each); then each measured cycle has 10% of feeds with a new item and 90% answering 304. Feeds are
spread over N/10 sites (all 127.0.0.1, with the per-address limit raised to stand for many
addresses), since real feeds live on many sites.

The baseline is the loop many bots use: fetch every feed in turn without validators and parse it
in full with feedparser each time. It runs in a third process on a subset and is extrapolated
linearly to N (it is strictly sequential, so time scales with the number of feeds).

The second contender is lemon24/reader, a mature feed library, in a fourth process on the same
farm: its own SQLite file, `update_feeds(workers=16, scheduled=False)` per cycle (conditional GET
on, like Paperboy), measured like Paperboy (seed, then cycles; wall and CPU of its process, all
threads). It is a benchmark-only package, installed with `make bench-deps`
(`pip install reader==3.26`); without it the row says "skipped".
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.feedserver import FarmResolver, control, farm_process, feed_url

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


def use_fast_parse_path() -> bool:
    """Point this process's poller at `bot.feeds.fast` (bench-only: the bot still uses
    `parse_feed`); False when the poller no longer has the hook this relies on."""
    from bot.feeds.fast import parse_feed_fast_or_full
    from bot.ingest import poller

    if not hasattr(poller, "parse_feed_off_loop"):
        return False

    async def fast_off_loop(body: bytes, **kwargs: Any) -> Any:
        return await asyncio.to_thread(parse_feed_fast_or_full, body, **kwargs)

    poller.parse_feed_off_loop = fast_off_loop  # type: ignore[assignment]
    return True


async def paperboy_worker(
    feeds: int,
    port: int,
    cycles: int,
    folder: Path,
    *,
    fast_parse: bool = False,
    database_url: str = "",
) -> dict[str, Any]:
    """Seed N feeds, then measure `cycles` cycles; runs in its own process."""
    from bot.clock import FakeClock
    from bot.config import from_mapping
    from bot.fetch import Fetcher, make_session
    from bot.ingest.poller import Poller
    from bot.models import NewSubscription
    from bot.storage import Storage

    config = from_mapping(
        {
            "database": {"path": str(folder / "poll.db"), "url": database_url},
            "fetch": {"allow_private_addresses": True},
            # Real sites live on many addresses; the farm's all share 127.0.0.1, so the
            # per-address limit is raised to what many addresses would allow together.
            "limits": {"per_ip_concurrency": 256},
        }
    )
    if fast_parse and not use_fast_parse_path():
        return {"skipped": "the poller has no parse_feed_off_loop to point at the fast path"}
    clock = FakeClock(datetime.now(UTC))
    storage = await Storage.open(config.database.target())
    session = make_session(config.fetch, "Paperboy-bench", resolver=FarmResolver())
    try:
        hosts = host_count(feeds)
        started = time.perf_counter()
        for index in range(feeds):
            feed = await storage.add_feed(feed_url(port, index, hosts=hosts), now=clock.now())
            await storage.add_subscription(
                NewSubscription(
                    guild_id=1000 + index // 100,
                    channel_id=5000 + index // 10,
                    feed_id=feed.id,
                    format="embed",
                ),
                now=clock.now(),
            )
        setup_seconds = time.perf_counter() - started
        # Built as bot/app.py builds it.
        poller = Poller(
            storage, Fetcher(session, config.fetch, limits=config.limits), config, clock,
            concurrency=config.fetch.max_concurrency,
        )  # fmt: skip
        await control(port, "cycle", n=0)
        cpu, wall = cpu_seconds(), time.perf_counter()
        seeded, seed_errors = await _poll_cycle(poller)
        seed = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(cpu_seconds() - cpu, 2),
            "polled": seeded,
            "errors": seed_errors,
            "peak_rss_mb": peak_rss_mb(),
        }
        runs = []
        for cycle in range(1, cycles + 1):
            await control(port, "cycle", n=cycle)
            clock.advance(CYCLE_ADVANCE_SECONDS)
            reset_peak_rss()
            cpu, wall = cpu_seconds(), time.perf_counter()
            polled, errors = await _poll_cycle(poller)
            wall_s, cpu_s = time.perf_counter() - wall, cpu_seconds() - cpu
            served = await control(port, "stats")
            changed = int(served.get("200", 0))
            runs.append(
                {
                    "wall_s": wall_s,
                    "cpu_s": cpu_s,
                    "polled": polled,
                    "errors": errors,
                    "changed": changed,
                    "not_modified": int(served.get("304", 0)),
                    "cpu_ms_per_changed": 1000 * cpu_s / max(1, changed),
                    "peak_rss_mb": peak_rss_mb(),
                }
            )
        # One more cycle at the same farm state: every feed answers 304, which isolates the cost
        # of an unchanged feed from that of a changed one.
        await control(port, "cycle", n=cycles)
        clock.advance(CYCLE_ADVANCE_SECONDS)
        cpu, wall = cpu_seconds(), time.perf_counter()
        unchanged_polled, unchanged_errors = await _poll_cycle(poller)
        unchanged = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(cpu_seconds() - cpu, 2),
            "polled": unchanged_polled,
            "errors": unchanged_errors,
            "not_modified": int((await control(port, "stats")).get("304", 0)),
        }
        per_304_ms = 1000 * unchanged["cpu_s"] / max(1, unchanged_polled)
        cycle_cpu = statistics.median(r["cpu_s"] for r in runs)
        changed_count = statistics.median(r["changed"] for r in runs)
        unchanged_count = feeds - changed_count
        return {
            "all_304_cycle": unchanged,
            "cpu_ms_per_304": round(per_304_ms, 2),
            "cpu_ms_per_changed_net": round(
                (1000 * cycle_cpu - per_304_ms * unchanged_count) / max(1, changed_count), 2
            ),
            "feeds": feeds,
            "hosts": hosts,
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
    finally:
        await session.close()
        await storage.close()


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

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


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
        return {
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
    fast_parse: bool = False,
) -> dict[str, Any]:
    """One farm: Paperboy's cycles, the naive loop on a subset, then reader's cycles (when it
    is installed); each in its own process."""
    async with farm_process(feeds, latency_ms=latency_ms) as port:
        with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as folder:
            paperboy = await asyncio.to_thread(
                _worker,
                [
                    *("--worker", "paperboy", "--feeds", str(feeds), "--port", str(port)),
                    *("--cycles", str(cycles), "--folder", folder),
                ],
                3600,
            )
        naive = await asyncio.to_thread(
            _worker,
            [
                *("--worker", "naive", "--feeds", str(feeds), "--port", str(port)),
                *("--sample", str(min(feeds, naive_sample))),
            ],
            3600,
        )
        fast: dict[str, Any] = {"skipped": "not asked for (--fast-parse)"}
        if fast_parse:
            with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as folder:
                fast = await asyncio.to_thread(
                    _worker,
                    [
                        *("--worker", "paperboy", "--feeds", str(feeds), "--port", str(port)),
                        *("--cycles", str(cycles), "--folder", folder, "--fast-parse"),
                    ],
                    3600,
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
                    3600,
                )
        elif not with_reader:
            reader = {"skipped": "not asked for"}
    return {
        "feeds": feeds,
        "latency_ms": latency_ms,
        "paperboy": paperboy,
        "paperboy_fast_parse": fast,
        "naive": naive,
        "reader": reader,
        "speedup": round(naive["wall_s"] / max(paperboy["wall_s"], 1e-9), 1),
        "cpu_ratio": round(naive["cpu_s"] / max(paperboy["cpu_s"], 1e-9), 1),
        "vs_reader": _ratios(paperboy, reader),
        "fast_parse_vs_reader": _ratios(fast, reader) if "skipped" not in fast else None,
    }


def _ratios(paperboy: dict[str, Any], reader: dict[str, Any]) -> dict[str, float] | None:
    """Paperboy / reader for seed wall, cycle wall and cycle CPU (below 1 = Paperboy faster)."""
    if "skipped" in reader:
        return None
    return {
        "seed_wall": round(paperboy["seed"]["wall_s"] / max(reader["seed"]["wall_s"], 1e-9), 2),
        "cycle_wall": round(paperboy["wall_s"] / max(reader["wall_s"], 1e-9), 2),
        "cycle_cpu": round(paperboy["cpu_s"] / max(reader["cpu_s"], 1e-9), 2),
    }


async def run(
    sizes: list[int],
    *,
    cycles: int,
    naive_sample: int,
    latency_ms: float = 0.0,
    with_reader: bool = True,
    fast_parse: bool = False,
) -> list[dict[str, Any]]:
    """Measure every size in turn."""
    return [
        await measure(
            n,
            cycles=cycles,
            naive_sample=naive_sample,
            latency_ms=latency_ms,
            with_reader=with_reader,
            fast_parse=fast_parse,
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
        target = "<= 60 s" if n >= 10_000 else ""
        rows += [
            (name, "cycle wall (median)", f"{p['wall_s']} s", target),
            (name, "cycle CPU (median)", f"{p['cpu_s']} s", ""),
            (
                name,
                "CPU per unchanged (304) / changed feed",
                f"{p['cpu_ms_per_304']} / {p['cpu_ms_per_changed_net']} ms",
                "",
            ),
            (
                name,
                "peak RSS (cycle / incl. seed)",
                f"{p['peak_rss_mb']} / {p['peak_rss_with_seed_mb']} MB",
                "<= 300 MB" if n >= 10_000 else "",
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
        f = result.get("paperboy_fast_parse") or {"skipped": "not measured"}
        if "skipped" not in f:
            rows += [
                (
                    name,
                    "with bot.feeds.fast (bench-only): cycle wall / CPU",
                    f"{f['wall_s']} s / {f['cpu_s']} s",
                    "",
                ),
                (
                    name,
                    "with bot.feeds.fast: CPU per unchanged / changed feed",
                    f"{f['cpu_ms_per_304']} / {f['cpu_ms_per_changed_net']} ms",
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
                "Paperboy / reader: seed wall, cycle wall, cycle CPU",
                f"{ratios['seed_wall']}x, {ratios['cycle_wall']}x, {ratios['cycle_cpu']}x",
                "<= 1",
            ),
            (name, "reader errors", str(r["errors"] + r["seed"]["errors"]), "0"),
        ]
        if result.get("fast_parse_vs_reader"):
            ratios = result["fast_parse_vs_reader"]
            rows.append(
                (
                    name,
                    "... with bot.feeds.fast / reader: seed, cycle wall, cycle CPU",
                    f"{ratios['seed_wall']}x, {ratios['cycle_wall']}x, {ratios['cycle_cpu']}x",
                    "<= 1",
                )
            )
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
        "--fast-parse",
        action="store_true",
        help="also run Paperboy with its poller pointed at bot.feeds.fast (bench-only wiring)",
    )
    parser.add_argument("--worker", choices=("paperboy", "naive", "reader"), help=argparse.SUPPRESS)
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
                fast_parse=args.fast_parse,
                database_url=args.database_url,
            )
        )
        print(json.dumps(result))
        return
    if args.worker == "reader":
        result = asyncio.run(reader_worker(args.feeds[0], args.port, args.cycles, args.folder))
        print(json.dumps(result))
        return
    if args.worker == "naive":
        print(json.dumps(asyncio.run(naive_worker(args.feeds[0], args.sample, args.port))))
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
            fast_parse=args.fast_parse,
        )
    )
    print_report(summary_rows(results), results, args.json)


if __name__ == "__main__":
    main()
