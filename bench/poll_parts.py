"""Where a changed feed's CPU goes: polls run one at a time, each part's CPU timed on its own.

A developer's tool beside `bench.polling` (not part of `python -m bench`): with one poll at a
time, the loop thread's CPU between two points belongs to that poll alone, which a cycle of 64
concurrent polls cannot say. The worker's share is the pool's processes' CPU.

    .venv/bin/python -m bench.poll_parts --feeds 300 --cycles 5
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.feedserver import changed_in_cycle, control, farm_process
from bench.polling import (
    CYCLE_ADVANCE_SECONDS,
    _bench_config,
    _poll_cycle,
    add_farm_feeds,
    bench_paperboy,
)

_PARTS = (
    "fetch (42 KB body)",
    "read subscriptions",
    "read known keys",
    "hand-off to the worker (loop side)",
    "record and plan (transaction)",
    "  of which planning",
    "  of which rendering",
)


def _timed(parts: dict[str, float], name: str, call: Callable[..., Awaitable[Any]]) -> Any:
    @functools.wraps(call)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return await call(*args, **kwargs)
        finally:
            parts[name] += time.thread_time() - started

    return timed


def _timed_sync(parts: dict[str, float], name: str, call: Callable[..., Any]) -> Any:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return call(*args, **kwargs)
        finally:
            parts[name] += time.thread_time() - started

    return timed


async def measure(
    feeds: int, cycles: int, profile: cProfile.Profile | None = None
) -> dict[str, Any]:
    """Seed `feeds` farm feeds (one subscription each), then poll each cycle's changed feeds
    one at a time; per poll: the loop thread's CPU by part, the process's, the workers'."""
    import bot.ingest.poller as poller_module
    from bot.clock import FakeClock

    # Printed in this order: the poll's steps as they happen.
    parts: dict[str, float] = dict.fromkeys(_PARTS, 0.0)
    async with farm_process(feeds) as port:
        with tempfile.TemporaryDirectory(prefix="paperboy-parts-") as folder:
            clock = FakeClock(datetime.now(UTC))
            config = _bench_config(Path(folder))
            async with bench_paperboy(config, clock, concurrency=64) as paperboy:
                storage, fetcher, poller = paperboy.storage, paperboy.fetcher, paperboy.poller
                cpu = paperboy.cpu
                ids = await add_farm_feeds(storage, feeds, port, clock.now())
                await control(port, "cycle", n=0)
                await _poll_cycle(poller)  # the seed
                # Instance attributes and the poller module's names: the bench's own process.
                timed_parts: list[tuple[Any, str, str, Any]] = [
                    (fetcher, "fetch", _PARTS[0], _timed),
                    (storage, "feed_readers", _PARTS[1], _timed),
                    (storage, "recent_entry_keys", _PARTS[2], _timed),
                    (poller_module, "read_document", _PARTS[3], _timed),
                    (poller, "_ingest", _PARTS[4], _timed),
                    (poller_module, "plan_outbox", _PARTS[5], _timed_sync),
                    (poller_module, "render_payload", _PARTS[6], _timed_sync),
                ]
                for owner, name, label, wrap in timed_parts:
                    setattr(owner, name, wrap(parts, label, getattr(owner, name)))
                loop_cpu = process_cpu = all_cpu = 0.0
                polls = 0
                for cycle in range(1, cycles + 1):
                    await control(port, "cycle", n=cycle)
                    clock.advance(CYCLE_ADVANCE_SECONDS)
                    for index, feed_id in enumerate(ids):
                        if not changed_in_cycle(index, cycle):
                            continue
                        feed = await storage.feed(feed_id)
                        assert feed is not None
                        thread, process, everything = time.thread_time(), time.process_time(), cpu()
                        if profile is not None:
                            profile.enable()
                        outcome = await poller._poll(feed)
                        if profile is not None:
                            profile.disable()
                        loop_cpu += time.thread_time() - thread
                        process_cpu += time.process_time() - process
                        all_cpu += cpu() - everything
                        polls += 1
                        if not (outcome.ok and outcome.outbox_rows == 1):
                            raise RuntimeError(
                                f"a changed feed's poll did not plan one post: {outcome}"
                            )

    def per_poll(seconds: float) -> float:
        return round(1000 * seconds / max(1, polls), 3)

    return {
        "polls": polls,
        "ms_per_poll": {
            "everything (bot + workers)": per_poll(all_cpu),
            "bot process (loop + SQLite's thread)": per_poll(process_cpu),
            "loop thread": per_poll(loop_cpu),
            **{name: per_poll(seconds) for name, seconds in parts.items()},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile the loop thread's polls (deterministic profiler: its overhead "
        "inflates the parts) and print the N functions with the most own time",
    )
    args = parser.parse_args()
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    result = asyncio.run(measure(args.feeds, args.cycles, profile))
    print(f"{result['polls']} changed feeds polled one at a time; CPU per poll:")
    for name, value in result["ms_per_poll"].items():
        print(f"  {name:40s} {value:7.3f} ms")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
