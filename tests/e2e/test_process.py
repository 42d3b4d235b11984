"""`paperboy run` as a real process against the Discord stand-in: start, stop, bad token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def paperboy_run(
    tmp_path: Path, config: Path, token: str, *run_args: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot run` with `token`; killed at the end if still running (a failed test
    must not leave a bot behind)."""
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    env["DISCORD_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
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
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def exit_and_output(
    process: asyncio.subprocess.Process, timeout: float = 30
) -> tuple[int, str]:
    """The exit code and everything else the process writes to stderr; one still running after
    `timeout` is killed, and the test fails with what it wrote."""
    assert process.stderr is not None
    lines: list[str] = []

    async def drain(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            lines.append(line.decode())

    try:
        await asyncio.wait_for(drain(process.stderr), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running {timeout} s on:\n" + "".join(lines)) from None
    return await process.wait(), "".join(lines)


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
        config = write_config(tmp_path, standin, bench_database)
        async with paperboy_run(tmp_path, config, standin.token) as process:
            assert process.stderr is not None
            lines: list[str] = []
            await asyncio.wait_for(read_until(process.stderr, "Invite Paperboy with", lines), 30)
            invite = lines[-1]
            assert "scope=bot+applications.commands" in invite
            assert "permissions=" in invite
            assert standin.token not in "".join(lines)
            process.send_signal(signal.SIGTERM)
            code, rest = await exit_and_output(process)
        assert code == 0, rest
        assert "Traceback" not in rest
        assert standin.token not in rest


async def test_token_discord_rejects_exits_2_with_one_clear_line(
    tmp_path: Path, bench_database: str
) -> None:
    async with DiscordStandIn() as standin:
        config = write_config(tmp_path, standin, bench_database)
        async with paperboy_run(tmp_path, config, "not-the-token") as process:
            code, text = await exit_and_output(process)
        assert code == 2, text
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
        config = write_config(tmp_path, standin, bench_database)
        async with paperboy_run(tmp_path, config, standin.token, *run_args) as process:
            await standin.recorder.wait_for(
                lambda: standin.gateway.connection_count or None,
                30,
                "the bot's gateway connection",
            )
            process.send_signal(signal.SIGTERM)
            code, rest = await exit_and_output(process)
        assert code == 0, rest
        assert "Received SIGTERM; shutting down" in rest
        assert "Traceback" not in rest
        assert "Retrying" not in rest
