"""`paperboy doctor` against the Discord stand-in and the news site, as a real subprocess: it
finds a channel where the bot lacks Send Messages and a feed that has been failing, and says how
to fix each; a healthy setup exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.config import Config
from bot.models import NewSubscription
from tests.bench.discord_standin import DiscordStandIn, Overwrite, Perm
from tests.bench.news_site import NewsSite
from tests.conftest import make_config


def write_config(tmp_path: Path, standin: DiscordStandIn, database_url: str) -> tuple[Path, Config]:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path / "paperboy.db"}"\nurl = "{database_url}"\n'
        f'[bot]\napi_base_url = "{standin.api_base_url}"\n'
        "[fetch]\nallow_private_addresses = true\n"
    )
    return path, make_config(
        tmp_path, bot={"api_base_url": standin.api_base_url}, database={"url": database_url}
    )


async def doctor(config_path: Path, *args: str, token: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    env["DISCORD_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        "--config",
        str(config_path),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 50)
    assert process.returncode is not None
    assert "Traceback" not in err.decode(), err.decode()
    return process.returncode, out.decode()


async def subscribe(config: Config, guild_id: int, channel_id: int, feed_url: str) -> int:
    app = await open_app(config)
    try:
        feed = await app.storage.add_feed(feed_url, now=app.clock.now())
        await app.storage.add_subscription(
            NewSubscription(
                guild_id=guild_id, channel_id=channel_id, feed_id=feed.id, format="embed"
            ),
            now=app.clock.now(),
        )
        return feed.id
    finally:
        await app.close()


async def poll(config: Config, feed_id: int, times: int) -> None:
    app = await open_app(config)
    try:
        for _ in range(times):
            await app.poller.poll_feed(feed_id)
    finally:
        await app.close()


def problems(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [p for p in report["problems"] if p["check"] == check]


async def test_doctor_finds_a_channel_without_send_messages_and_a_failing_feed(
    tmp_path: Path,
    bench_database: str,
) -> None:
    async with DiscordStandIn() as standin, NewsSite() as site:
        seed = standin.populate_default()
        locked = standin.add_channel(
            seed.guild_id,
            "locked",
            overwrites=[Overwrite(seed.guild_id, 0, deny=Perm.SEND_MESSAGES)],
        )
        config_path, config = write_config(tmp_path, standin, bench_database)
        await subscribe(config, seed.guild_id, seed.general_id, site.feed_url)
        await subscribe(config, seed.guild_id, locked.id, site.feed_url)
        failing = await subscribe(
            config, seed.guild_id, seed.general_id, site.url("/gone.xml?key=private-key")
        )
        await poll(config, failing, 3)

        status, out = await doctor(config_path, "--json", token=standin.token)
        assert status == 1
        report = json.loads(out)
        assert not report["ok"]
        [channel] = problems(report, "permissions")
        assert f"({locked.id})" in channel["where"]
        assert "Send Messages" in channel["detail"]
        assert "allow Send Messages" in channel["fix"]
        [feed] = problems(report, "feed")
        assert f"feed {failing}" in feed["where"]
        assert "failing 3× in a row (http-4xx)" in feed["detail"]
        assert "paperboy feed check" in feed["fix"]
        assert "private-key" not in out
        assert len(report["problems"]) == 2  # #general, the token and the database are fine
        checks = {(c["check"], c["ok"]) for c in report["checks"]}
        assert {("token", True), ("intents", True), ("database", True), ("config", True)} <= checks

        status, table = await doctor(config_path, token=standin.token)
        assert status == 1
        assert "PROBLEM: " in table and "fix: " in table
        assert "2 problems found." in table


async def test_doctor_on_a_healthy_setup_exits_0_and_a_bad_token_is_named(
    tmp_path: Path,
    bench_database: str,
) -> None:
    async with DiscordStandIn() as standin, NewsSite() as site:
        seed = standin.populate_default()
        config_path, config = write_config(tmp_path, standin, bench_database)
        feed_id = await subscribe(config, seed.guild_id, seed.general_id, site.feed_url)
        await poll(config, feed_id, 1)
        status, table = await doctor(config_path, token=standin.token)
        assert status == 0, table
        assert "No problems found." in table

        status, out = await doctor(config_path, "--json", token="not-the-token")
        assert status == 1
        [token] = problems(json.loads(out), "token")
        assert token["detail"] == "Discord rejected the token"
        assert "Reset Token" in token["fix"]
