"""Idle footprint: RSS of the running bot with 1,000 subscriptions over 200 feeds, between polls.

    .venv/bin/python -m bench.idle            # 200 feeds, 1,000 subscriptions, 20 s window
    .venv/bin/python -m bench.idle --smoke    # 20 feeds, 100 subscriptions, 2 s window

The real `paperboy run` process connects to the Discord stand-in (10 guilds of 10 channels) and
polls the feed farm (in this process). The database is prepared beforehand with the feeds and
subscriptions, as moderators would have made them. Once the farm has served every feed (the
bot's first poll) and the process has then been quiet (under 2% CPU for 3 s running; the time
this takes is reported), RSS and CPU of the bot process are sampled once a second from /proc
for the window; the idle RSS is the median of the window's second half. Page fetching
(`fetch_full_text`) is off so the window is truly idle: the feed items' links lead nowhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.feedserver import FeedFarm, running_farm

REPO_ROOT = Path(__file__).resolve().parents[1]
GUILDS, CHANNELS_PER_GUILD, SUBSCRIPTIONS_PER_FEED = 10, 10, 5


def process_memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def prepare_database(
    path: Path, feeds: int, port: int, channels: list[tuple[int, int]]
) -> int:
    """Feeds on the farm and SUBSCRIPTIONS_PER_FEED subscriptions each; returns the count."""
    from bot.models import NewSubscription
    from bot.storage import Storage

    now = datetime.now(UTC)
    storage = await Storage.open(path)
    made = 0
    try:
        for index in range(feeds):
            feed = await storage.add_feed(f"http://127.0.0.1:{port}/feed/{index}.xml", now=now)
            for k in range(SUBSCRIPTIONS_PER_FEED):
                guild_id, channel_id = channels[
                    (index * SUBSCRIPTIONS_PER_FEED + k) % len(channels)
                ]
                new = NewSubscription(guild_id, channel_id, feed.id, "embed")
                made += await storage.add_subscription(new, now=now) is not None
    finally:
        await storage.close()
    return made


def write_config(folder: Path, standin: Any) -> Path:
    """A config for the bot process: the stand-in, the database, default polling intervals."""
    path = folder / "config.toml"
    path.write_text(
        f'[bot]\napi_base_url = "{standin.api_base_url}"\ngateway_url = "{standin.gateway_url}"\n'
        'guild_ready_timeout_seconds = 0.5\nlog_level = "WARNING"\n'
        f'[database]\npath = "{folder / "bot.db"}"\n'
        "[fetch]\nallow_private_addresses = true\n"
        "[feeds]\nfetch_full_text = false\n",
        encoding="utf-8",
    )
    return path


async def _drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))


async def measure(
    feeds: int, window_seconds: int, *, settle_limit: float = 180.0
) -> dict[str, Any]:
    """Start the bot, wait for its first poll of every feed, then sample its memory."""
    from tests.bench.discord_standin import DiscordStandIn

    farm = FeedFarm(feeds)
    async with DiscordStandIn() as standin, running_farm(farm) as port:
        channels = []
        for g in range(GUILDS):
            guild = standin.add_guild(f"Bench guild {g}")
            for c in range(CHANNELS_PER_GUILD):
                channels.append((guild.id, standin.add_channel(guild.id, f"news-{c}").id))
        with tempfile.TemporaryDirectory(prefix="paperboy-idle-") as name:
            folder = Path(name)
            subscriptions = await prepare_database(folder / "bot.db", feeds, port, channels)
            env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
            env["DISCORD_TOKEN"] = standin.token
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(write_config(folder, standin)),
                "run",
                cwd=folder,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            assert process.stderr is not None
            log: list[str] = []
            drain = asyncio.create_task(_drain(process.stderr, log))
            try:
                first_poll = asyncio.create_task(farm.wait_for_answers("200", feeds))
                done, _ = await asyncio.wait(
                    {first_poll, drain}, timeout=120, return_when=asyncio.FIRST_COMPLETED
                )
                if first_poll not in done:
                    first_poll.cancel()
                    raise RuntimeError("the bot did not poll every feed:\n" + "".join(log[-30:]))
                # The first poll's writes and the term indexing of the new articles follow the
                # fetches; idle starts when the process has used under 2% CPU for 3 s running.
                settle_started, quiet, last = (
                    time.perf_counter(),
                    0,
                    process_cpu_seconds(process.pid),
                )
                while quiet < 3 and time.perf_counter() - settle_started < settle_limit:
                    await asyncio.sleep(1.0)  # a measurement interval, as below
                    now_cpu = process_cpu_seconds(process.pid)
                    quiet = quiet + 1 if now_cpu - last < 0.02 else 0
                    last = now_cpu
                settle_s = time.perf_counter() - settle_started
                cpu_start = process_cpu_seconds(process.pid)
                samples = []
                for _ in range(window_seconds):
                    # A measurement interval, not synchronisation: the bot is left alone.
                    await asyncio.sleep(1.0)
                    samples.append(process_memory_mb(process.pid)[0])
                idle_cpu = process_cpu_seconds(process.pid) - cpu_start
                peak = process_memory_mb(process.pid)[1]
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 30)
                await drain
    tail = samples[len(samples) // 2 :]
    return {
        "feeds": feeds,
        "subscriptions": subscriptions,
        "guilds": GUILDS,
        "idle_rss_mb": round(statistics.median(tail), 1),
        "peak_rss_mb": round(peak, 1),
        "idle_cpu_pct": round(100 * idle_cpu / window_seconds, 2),
        "window_s": window_seconds,
        "settle_s": round(settle_s, 1),
        "settled": quiet >= 3,
        "exit_code": process.returncode,
        "tracebacks": sum("Traceback" in line for line in log),
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    name = f"idle {result['subscriptions']:,} subs / {result['feeds']} feeds"
    return [
        (name, "idle RSS (median)", f"{result['idle_rss_mb']} MB", "<= 150 MB"),
        (name, "peak RSS incl. first poll", f"{result['peak_rss_mb']} MB", ""),
        (name, "idle CPU", f"{result['idle_cpu_pct']} %", ""),
        (name, "busy after first poll (settle time)", f"{result['settle_s']} s", ""),
    ]


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="20 feeds, a 2 s window")
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    feeds, window = (20, 2) if args.smoke else (args.feeds, args.window)
    result = asyncio.run(measure(feeds, window))
    print_report(summary_rows(result), result, args.json)


if __name__ == "__main__":
    main()
