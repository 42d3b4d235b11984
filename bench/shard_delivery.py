"""Delivery through two shard processes: 1,000 announcements over 50 channels, Discord's limits.

    PYTHONPATH=. .venv/bin/python -m bench.shard_delivery            # 1,000 over 50 channels
    PYTHONPATH=. .venv/bin/python -m bench.shard_delivery --smoke    # 40 over 4 channels

Like `bench.delivery`, but the bot runs as two real `paperboy run --shards N --shard-count 2
--no-poll` processes on one SQLite file, with `[scale] bot_processes = 2`, against the Discord
stand-in enforcing Discord's limits (5 posts per 5 s per channel, 50 requests per second for the
token across both processes). Half the channels are in a server on shard 0, half on shard 1. The
outbox is filled before the processes start; the drain time runs from the first post to the last
(the processes' start-up is not delivery). We report it against the fastest drain the limits
allow, the 429s provoked, and which process posted into which server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.delivery import Limits, fastest_drain_seconds, fill_outbox
from bot.storage import Storage

COUNT = 2


def write_config(folder: Path, standin: Any, name: str, interval: float) -> Path:
    """One shard process's config: the shared database, its own REST base URL."""
    path = folder / f"{name}.toml"
    path.write_text(
        "[bot]\n"
        f'api_base_url = "{standin.api_base_url_via(name)}"\n'
        f'gateway_url = "{standin.gateway_url}"\n'
        "guild_ready_timeout_seconds = 0.05\nreidentify_delay_seconds = 0\n"
        f'[database]\npath = "{folder / "bench.db"}"\n'
        f"[announcements]\nper_channel_interval_seconds = {interval}\n"
        "[scale]\nbot_processes = 2\n",
        encoding="utf-8",
    )
    return path


async def measure(
    channels_count: int, per_channel: int, limits: Limits, interval: float = 1.0
) -> dict[str, Any]:
    """Drain the outbox once through two shard processes."""
    from tests.bench.discord_standin import DiscordStandIn

    async with DiscordStandIn() as standin:
        channels: list[tuple[int, int]] = []
        for shard in range(COUNT):
            guild = standin.add_guild(f"Shard {shard}", shard=(shard, COUNT))
            for n in range(channels_count // COUNT):
                channels.append((guild.id, standin.add_channel(guild.id, f"news-{n}").id))
        with tempfile.TemporaryDirectory(prefix="paperboy-shard-delivery-") as name:
            folder = Path(name)
            storage = await Storage.open(folder / "bench.db")
            try:
                total = await fill_outbox(storage, channels, per_channel, datetime.now(UTC))
            finally:
                await storage.close()
            limiter = standin.rate_limits
            enforce = limiter.check
            scopes: Counter[str] = Counter()

            def counted(bucket: str, major: str, exempt_global: bool) -> Any:
                """The stand-in's check, counting each 429 by scope (global or per route)."""
                headers, error, retry = enforce(bucket, major, exempt_global)
                if error is not None:
                    scopes[headers.get("X-RateLimit-Scope", "?")] += 1
                return headers, error, retry

            limiter.check = counted  # type: ignore[method-assign]
            standin.rate_limits.enable(
                per_route=limits.per_route,
                per_seconds=limits.per_seconds,
                global_per_second=limits.global_per_second,
            )
            env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
            env["DISCORD_TOKEN"] = standin.token
            processes = []
            for shard in range(COUNT):
                config = write_config(folder, standin, f"p{shard}", interval)
                with (folder / f"p{shard}.log").open("wb") as log:
                    processes.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "bot",
                            "--config",
                            str(config),
                            "run",
                            "--shards",
                            str(shard),
                            "--shard-count",
                            str(COUNT),
                            "--no-poll",
                            env=env,
                            stdout=log,
                            stderr=log,
                        )
                    )

            def posted() -> int:
                return sum(len(standin.messages_in(c)) for _, c in channels)

            try:
                await standin.wait_until(lambda: posted() >= total, timeout=600, what="drained")
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                for process in processes:
                    await process.wait()
            provoked = len(standin.recorder.rate_limited)
            kinds = Counter(
                f"{r.method} {'/'.join(p if not p.isdigit() else '#' for p in r.path.split('/'))}"
                for r in standin.recorder.requests
            )
            provoked_on = sorted(
                {f"{r.via} {r.method} {r.path}" for r in standin.recorder.rate_limited}
            )
            moments = sorted(
                datetime.fromisoformat(m["timestamp"])
                for _, c in channels
                for m in standin.messages_in(c)
            )
            by_process = {
                str(guild): sorted(
                    {
                        r.via
                        for _, c in channels
                        if _ == guild
                        for r in standin.recorder.requests_to("POST", f"/channels/{c}/messages")
                    }
                )
                for guild in sorted({g for g, _ in channels})
            }
    drain = (moments[-1] - moments[0]).total_seconds()
    fastest = fastest_drain_seconds(per_channel, channels_count, limits)
    return {
        "announcements": total,
        "channels": channels_count,
        "processes": COUNT,
        "drain_s": round(drain, 2),
        "fastest_s": fastest,
        "ratio": round(drain / fastest, 2) if fastest > 0 else None,
        "provoked_429": provoked,
        "provoked_on": provoked_on,
        "provoked_by_scope": dict(scopes),
        "requests": dict(kinds),
        "messages": len(moments),
        "posted_by": by_process,
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    name = (
        f"delivery {result['announcements']:,} / {result['channels']} ch, "
        f"{result['processes']} shard processes"
    )
    drain = f"{result['drain_s']} s ({result['fastest_s']} s) = {result['ratio']}x"
    return [
        (name, "drain time, first to last post (fastest allowed)", drain, "<= 1.3x"),
        (name, "429s provoked", str(result["provoked_429"]), "0"),
        (name, "servers' posts by process", str(result["posted_by"]), "one each"),
    ]


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="40 announcements, short windows")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    if args.smoke:
        limits = Limits(per_route=5, per_seconds=0.5, global_per_second=50)
        result = asyncio.run(measure(4, 10, limits, interval=0.1))
    else:
        result = asyncio.run(measure(50, 20, Limits()))
    print_report(summary_rows(result), [result], args.json)


if __name__ == "__main__":
    main()
