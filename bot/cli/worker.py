"""`paperboy worker`: poll feeds and archive pages without connecting to Discord.

Beside shard processes started with `paperboy run --no-poll` (README, Running at scale). Every
worker polls its share of the due feeds (per-feed claims; a killed worker's feeds are polled by
another within `[scale] feed_claim_seconds` plus one interval); archiving and WebSub renewals run
under the poll lease, so one worker does them and another takes over within
`[scale] poll_lease_seconds` if it is killed. Announcements it commits are delivered by
the bot process serving each server, which looks for them every `[scale] check_seconds`; the
moderators' notices and keyword alerts of its polls are handed over the same way (migration 0017).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.app import open_app
from bot.cli._context import CommandContext
from bot.errors import ConfigError
from bot.web import parse_listen

log = logging.getLogger(__name__)

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `worker` command."""
    worker = subparsers.add_parser(
        "worker", help="poll feeds and archive pages, without Discord (beside shard processes)"
    )
    worker.set_defaults(handler=_worker)


async def _worker(args: argparse.Namespace, ctx: CommandContext) -> int:
    try:
        parse_listen(ctx.config.http)
    except ConfigError as error:
        print(f"paperboy: {ctx.config.source}: {error}", file=sys.stderr)
        return EXIT_USAGE
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def request_stop(signame: str) -> None:
        if not stopping.is_set():
            log.info("Received %s; shutting down", signame)
            stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)
    app = await open_app(ctx.config)
    try:
        app.health.expects_gateway = False  # /healthz: no Discord here, by design
        app.start_background(poll=True, shared=True)
        app.hand_over_to_bot_processes()  # notices and alerts need Discord: the bot processes'
        log.info("Worker started: polling feeds and archiving pages (no Discord connection)")
        await stopping.wait()
        return 0
    finally:
        await app.close()  # cancels polling, gives back unused claims, releases the lease
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
