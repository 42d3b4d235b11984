"""`paperboy run` as a real process against the Discord stand-in: start, stop, bad token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.bench.discord_standin import DiscordStandIn


def write_config(tmp_path: Path, standin: DiscordStandIn, database_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[bot]\napi_base_url = "{standin.api_base_url}"\ngateway_url = "{standin.gateway_url}"\n'
        "guild_ready_timeout_seconds = 0.5\n"
        f'[database]\npath = "{tmp_path / "bot.db"}"\nurl = "{database_url}"\n'
        "[fetch]\nallow_private_addresses = true\n",
        encoding="utf-8",
    )
    return path


async def start(
    tmp_path: Path, config: Path, token: str, *run_args: str
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    env["DISCORD_TOKEN"] = token
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "run",
        *run_args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(stream: asyncio.StreamReader, needle: str, collected: list[str]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"process ended before logging {needle!r}:\n" + "".join(collected))
        collected.append(line.decode())
        if needle in collected[-1]:
            return


async def test_runs_logs_invite_and_stops_cleanly_on_sigterm(
    tmp_path: Path, bench_database: str
) -> None:
    async with DiscordStandIn() as standin:
        standin.populate_default()
        process = await start(
            tmp_path, write_config(tmp_path, standin, bench_database), standin.token
        )
        assert process.stderr is not None
        lines: list[str] = []
        await asyncio.wait_for(read_until(process.stderr, "Invite Paperboy with", lines), 30)
        invite = lines[-1]
        assert "scope=bot+applications.commands" in invite
        assert "permissions=" in invite
        assert standin.token not in "".join(lines)
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        assert await process.wait() == 0, rest
        assert "Traceback" not in rest
        assert standin.token not in rest


async def test_token_discord_rejects_exits_2_with_one_clear_line(
    tmp_path: Path, bench_database: str
) -> None:
    async with DiscordStandIn() as standin:
        process = await start(
            tmp_path, write_config(tmp_path, standin, bench_database), "not-the-token"
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        text = stderr.decode()
        assert process.returncode == 2, text
        assert "Discord rejected the token in DISCORD_TOKEN" in text
        assert "Traceback" not in text


@pytest.mark.parametrize("run_args", [(), ("--shard-count", "2")], ids=["one-session", "sharded"])
async def test_sigterm_during_the_gateway_handshake_stops_cleanly(
    tmp_path: Path, bench_database: str, run_args: tuple[str, ...]
) -> None:
    # discord.py cannot be closed while it waits for HELLO: its reconnect path reads the
    # session it has not got yet (AttributeError, Rapptz/discord.py#10520), and a shard that
    # fails to connect is retried every 5 s for ever. Both must still stop on SIGTERM.
    async with DiscordStandIn() as standin:
        standin.populate_default()
        standin.gateway.hold_hello()
        process = await start(
            tmp_path, write_config(tmp_path, standin, bench_database), standin.token, *run_args
        )
        assert process.stderr is not None
        await standin.recorder.wait_for(
            lambda: standin.gateway.connection_count or None, 30, "the bot's gateway connection"
        )
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        assert await process.wait() == 0, rest
        assert "Received SIGTERM; shutting down" in rest
        assert "Traceback" not in rest
        assert "Retrying" not in rest
