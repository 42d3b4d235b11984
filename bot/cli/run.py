"""`paperboy run`: start the bot."""

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
    run.set_defaults(handler=_run)


async def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
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
    from cogs.client import LoginRejected, PaperboyBot

    bot = PaperboyBot(ctx.config)
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
        await bot.close()
        await runner
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
