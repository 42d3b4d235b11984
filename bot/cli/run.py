"""`paperboy run`: start the bot, on every server or on some shards (README, Running at scale)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from bot.cli._context import CommandContext
from bot.config import TOKEN_ENV
from bot.errors import ConfigError
from bot.shards import ShardSet, parse_shards
from bot.web import parse_listen

log = logging.getLogger(__name__)

EXIT_USAGE = 2

TOKEN_HELP = (
    f"paperboy: {TOKEN_ENV} is not set. Create a bot in the Discord Developer Portal "
    "(https://discord.com/developers/applications > your application > Bot > Reset Token) "
    f"and start Paperboy with {TOKEN_ENV}=<token> in its environment."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` command."""
    run = subparsers.add_parser("run", help="start the bot (needs DISCORD_TOKEN)")
    scale = run.add_argument_group("running at scale (README)")
    scale.add_argument(
        "--shards",
        metavar="IDS",
        help="serve only these shards, e.g. 0-3 or 0,2,5 (needs --shard-count)",
    )
    scale.add_argument(
        "--shard-count",
        type=int,
        metavar="N",
        help="shards the bot runs in all, across every process (alone: all N in this process)",
    )
    scale.add_argument(
        "--no-poll",
        action="store_true",
        help="do not poll feeds: leave it to `paperboy worker`",
    )
    run.set_defaults(handler=_run)


def shards_from_args(shards: str | None, shard_count: int | None) -> ShardSet | None:
    """The shards `--shards` and `--shard-count` ask for; None: no sharding (the default).
    Raises ConfigError with the fix."""
    if shards is None and shard_count is None:
        return None
    if shard_count is None:
        raise ConfigError(
            "--shards needs --shard-count: the number of shards the bot runs across every "
            "process (e.g. --shards 0-3 --shard-count 8)."
        )
    if shards is None:
        shards = f"0-{max(shard_count, 1) - 1}"  # all of them
    return parse_shards(shards, shard_count)


async def stop_client(runner: asyncio.Task[None]) -> None:
    """Stop the client's task; the caller closes the client after.

    Closing alone is not enough while the gateway handshake is under way: discord.py's
    reconnect path then reads the session it has not got yet and raises AttributeError
    (Rapptz/discord.py#10520), and an auto-sharded client retries a shard that failed to
    connect every 5 s for ever. Cancelled, the client stops wherever it is. The cancel is
    repeated because Python 3.11's `asyncio.wait_for`, through which discord.py awaits the
    handshake, drops a cancel that arrives as the handshake completes (CPython gh-86296).
    """
    while not runner.done():
        runner.cancel()
        await asyncio.wait({runner}, timeout=0.5)
    if not runner.cancelled() and runner.exception() is not None:
        runner.result()  # it failed before the cancel reached it: re-raise (login rejected...)


async def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    try:
        shards = shards_from_args(args.shards, args.shard_count)
    except ConfigError as error:
        print(f"paperboy: {error}", file=sys.stderr)
        return EXIT_USAGE
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(TOKEN_HELP, file=sys.stderr)
        return EXIT_USAGE
    try:
        parse_listen(ctx.config.http)  # refuse a public endpoint before logging in
    except ConfigError as error:
        print(f"paperboy: {ctx.config.source}: {error}", file=sys.stderr)
        return EXIT_USAGE
    # The only place the core reaches into the Discord layer: start it.
    from cogs.client import LoginRejected, make_bot

    bot = make_bot(ctx.config, shards=shards, poll=not args.no_poll)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def request_stop(signame: str) -> None:
        if not stopping.is_set():
            log.info("Received %s; shutting down", signame)
            stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)

    runner = asyncio.create_task(bot.start(token), name="discord-client")
    waiter = asyncio.create_task(stopping.wait(), name="stop-signal")
    try:
        done, _ = await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            runner.result()  # re-raise a login or start-up failure
            return 0
        await stop_client(runner)
        return 0
    except LoginRejected as error:
        print(f"paperboy: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        waiter.cancel()
        if not bot.is_closed():
            await bot.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
