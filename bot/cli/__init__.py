"""The `paperboy` command line: `run`, `db ...`, and the tools that work without Discord.

Each module in COMMAND_MODULES exposes `register(subparsers)`, adding subcommands whose
`handler` is `async def handler(args, ctx) -> int` (the exit status).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from bot import __version__
from bot import config as config_module
from bot.cli._context import CommandContext
from bot.errors import PaperboyError

COMMAND_MODULES = ("bot.cli.run", "bot.cli.db", "bot.cli.feeds", "bot.cli.articles")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Paperboy: announces a publication's articles on Discord and answers members "
        "with summaries, related pieces and search.",
    )
    parser.add_argument("--version", action="version", version=f"paperboy {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"config file (default: ${config_module.CONFIG_ENV}, else ./config.toml if present)",
    )
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="override [bot] log_level",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `paperboy` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        config = config_module.load(config_module.resolve_path(args.config))
    except PaperboyError as error:
        print(f"paperboy: {error}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(args.log_level or config.bot.log_level)
    ctx = CommandContext(config)
    try:
        return int(asyncio.run(_run_handler(handler, args, ctx)))
    except PaperboyError as error:
        print(f"paperboy: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


async def _run_handler(handler: object, args: argparse.Namespace, ctx: CommandContext) -> int:
    try:
        result = await handler(args, ctx)  # type: ignore[operator]
        return int(result)
    finally:
        await ctx.aclose()


class _RedactSecrets(logging.Filter):
    """Replaces known secrets (the Discord token) in every log record, as a last line of defence."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            if any(s in message for s in self._secrets):
                for secret in self._secrets:
                    message = message.replace(secret, "[redacted]")
                record.msg, record.args = message, None
        return True


def setup_logging(level: str) -> None:
    """Readable logs to stderr, with secrets redacted."""
    import os

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(_RedactSecrets([os.environ.get(config_module.TOKEN_ENV, "")]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # discord.py's HTTP chatter is useful only when debugging it.
    logging.getLogger("discord.http").setLevel(max(logging.getLevelName(level), logging.INFO))
