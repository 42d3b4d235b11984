"""Real `paperboy` processes on one shared database, for the scale-out scenarios (issue #15).

Each process gets a config file of its own (its own REST base URL on the Discord stand-in, so
the record says which process posted; its own settings where a test asks) and logs to a file;
every process still running at the end of a test is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.bench.discord_standin import DiscordStandIn, Seed
from tests.bench.news_site import NewsSite
from tests.bench.news_site_articles import SampleArticle
from tests.markers import marker_of

Settings = Mapping[str, Mapping[str, object]]
FIRST_PUBLISHED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def dispatch(number: int, newsroom: str) -> SampleArticle:
    """A short article for a scale-out scenario, a minute after the one before; its slug makes
    its URL unique (`newsroom` names the scenario: "Shard", "Worker")."""
    return SampleArticle(
        title=f"{newsroom} dispatch {number}",
        slug=f"{newsroom.lower()}-dispatch-{number}",
        author="Scale Desk",
        published=FIRST_PUBLISHED + timedelta(minutes=number),
        topic="unions",
        categories=("Unions",),
        standfirst=None,
        image=None,
        paragraphs=(f"Dispatch number {number} from the {newsroom.lower()} newsroom.",),
    )


def shard_process(shard: int, count: int) -> tuple[str, ...]:
    """The command of a shard process that leaves polling to workers."""
    return ("run", "--shards", str(shard), "--shard-count", str(count), "--no-poll")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    tmp_path: Path,
    standin: DiscordStandIn,
    name: str,
    database_url: str = "",
    overrides: Settings | None = None,
) -> Path:
    """One process's config: the shared database (the SQLite file, or a PostgreSQL database
    when `database_url` is given), its own REST base URL, and `overrides` by section."""
    sections: dict[str, dict[str, object]] = {
        "bot": {
            "api_base_url": standin.api_base_url_via(name),
            "gateway_url": standin.gateway_url,
            "guild_ready_timeout_seconds": 0.05,
            "reidentify_delay_seconds": 0,
        },
        "database": {"path": str(tmp_path / "bot.db"), "url": database_url},
        "fetch": {"allow_private_addresses": True},
        "feeds": {
            "min_interval_seconds": 1,
            "default_interval_seconds": 1,
            "fetch_full_text": False,
        },
        "announcements": {
            "per_channel_interval_seconds": 0,
            "max_age_days": 0,
            "max_new_per_poll": 100,
            "backlog_count": 1,
        },
        # A worker killed mid-poll holds its feeds' claims until they expire (another machine's
        # view): the shortest expiry allowed keeps a test's take-over within its wait.
        "scale": {
            "bot_processes": 2,
            "check_seconds": 0.2,
            "poll_lease_seconds": 3,
            "feed_claim_seconds": 5.0,
        },
    }
    for section, values in (overrides or {}).items():
        sections.setdefault(section, {}).update(values)
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path = tmp_path / f"config-{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Processes:
    """The child processes of one test; each logs to its own file; all stopped at the end."""

    def __init__(self, tmp_path: Path, standin: DiscordStandIn, database_url: str = "") -> None:
        self.tmp_path = tmp_path
        self.standin = standin
        self.database_url = database_url
        self.running: dict[str, asyncio.subprocess.Process] = {}

    async def start(
        self, name: str, *command: str, overrides: Settings | None = None
    ) -> asyncio.subprocess.Process:
        """Start `python -m bot --config <its config> <command...>` under `name`."""
        env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
        env["DISCORD_TOKEN"] = self.standin.token
        config = write_config(self.tmp_path, self.standin, name, self.database_url, overrides)
        with (self.tmp_path / f"{name}.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(config),
                *command,
                cwd=self.tmp_path,
                env=env,
                stdout=log,
                stderr=log,
            )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        """Everything the process wrote so far."""
        return (self.tmp_path / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    async def wait_for_log(self, name: str, needle: str, timeout: float = 30) -> None:
        """Wait until the process logged `needle` (its log is a file; read it as it grows)."""
        process = self.running[name]
        async with asyncio.timeout(timeout):
            while needle not in self.log(name):
                if process.returncode is not None:
                    raise AssertionError(
                        f"{name} ended before logging {needle!r}:\n{self.log(name)}"
                    )
                # Polling a file the child writes: there is no event to wait on across processes.
                await asyncio.sleep(0.05)

    async def kill(self, name: str) -> None:
        """SIGKILL the process and reap it."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop_all(self) -> dict[str, int]:
        """SIGTERM every running process; returns their exit codes (killed if one hangs)."""
        codes: dict[str, int] = {}
        for name, process in list(self.running.items()):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                codes[name] = await asyncio.wait_for(process.wait(), 30)
            if process.returncode is None:
                process.kill()
                await process.wait()
        self.running.clear()
        return codes


@contextlib.asynccontextmanager
async def processes(
    tmp_path: Path, standin: DiscordStandIn, database_url: str = ""
) -> AsyncIterator[Processes]:
    """A `Processes` whose children are all stopped when the block ends."""
    running = Processes(tmp_path, standin, database_url)
    try:
        yield running
    finally:
        await running.stop_all()


def announcements(standin: DiscordStandIn, channel_id: int) -> list[dict[str, Any]]:
    """The announcements (messages carrying a delivery marker) in the channel itself."""
    return [m for m in standin.messages_in(channel_id, include_threads=False) if marker_of(m)]


def posts_by_process(standin: DiscordStandIn, channel_id: int) -> set[str]:
    """Which processes posted messages into the channel."""
    return {r.via for r in standin.recorder.requests_to("POST", f"/channels/{channel_id}/messages")}


def announced_urls(
    standin: DiscordStandIn, channel_id: int, published: list[str]
) -> list[list[str]]:
    """For each announcement in the channel, oldest first, the published URLs it names."""
    return [
        [url for url in published if url in (m.get("content") or "")]
        for m in announcements(standin, channel_id)
    ]


async def shared_database(bench_engine: str, request: pytest.FixtureRequest) -> str:
    """'' (the SQLite file in tmp_path), or a new, empty PostgreSQL database every process
    points at (the processes migrate it as they start)."""
    if bench_engine == "sqlite":
        return ""
    cluster = request.getfixturevalue("pg_cluster")
    return str(await cluster.new_database(migrated=False))


async def subscribe_before_start(
    config: Path, site: NewsSite, channels: list[tuple[int, int]]
) -> int:
    """Add the site's feed, read it once (its items count as seen), subscribe each
    (guild id, channel id) in text format; returns the feed's id."""
    from bot.app import open_app
    from bot.config import load
    from bot.models import NewSubscription

    app = await open_app(load(config))
    try:
        now = app.clock.now()
        feed = await app.storage.add_feed(site.feed_url, now=now)
        outcome = await app.poller.poll_feed(feed.id)
        assert outcome.ok and outcome.seeded, outcome
        for guild_id, channel_id in channels:
            subscription = await app.storage.add_subscription(
                NewSubscription(
                    guild_id=guild_id, channel_id=channel_id, feed_id=feed.id, format="text"
                ),
                now=now,
            )
            assert subscription is not None
            await app.delivery.seed_new_subscription(subscription.id)
        return feed.id
    finally:
        await app.close()


def news_channels(worlds: list[Seed]) -> list[tuple[int, int]]:
    """Each server's #news, as (guild id, channel id)."""
    return [(world.guild_id, world.news_id) for world in worlds]
