"""The `paperboy` command line: `run`, `db ...`, and the tools that work without Discord.

Each module in COMMAND_MODULES exposes `register(subparsers)`, adding subcommands whose
`handler` is `async def handler(args, ctx) -> int` (the exit status).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

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
    setup_logging(args.log_level or config.bot.log_level, configured_secrets(config, os.environ))
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


REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Shorter values are not treated as secrets: replacing them would mangle ordinary words."""


def configured_secrets(config: config_module.Config, environ: Mapping[str, str]) -> list[str]:
    """Every secret Paperboy is given: the Discord token and the LLM API key (the variable named
    by `[summaries] openai_api_key_env`), without surrounding whitespace, longest first."""
    names = (config_module.TOKEN_ENV, config.summaries.openai_api_key_env)
    values = {environ.get(name, "").strip() for name in names}
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


class RedactingFormatter(logging.Formatter):
    """Formats a record, then replaces every known secret in the whole text, tracebacks and
    stack information included: a last line of defence, whatever a library put in a message."""

    def __init__(self, fmt: str, datefmt: str, secrets: Sequence[str]) -> None:
        super().__init__(fmt, datefmt)
        self._secrets = list(secrets)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by [redacted]."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, redacted (the cached traceback text too)."""
        text = self.redact(super().format(record))
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return text


def make_log_handler(stream: TextIO, secrets: Sequence[str]) -> logging.Handler:
    """One line per record on `stream`, with `secrets` redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S", secrets
        )
    )
    return handler


def setup_logging(level: str, secrets: Sequence[str] = ()) -> None:
    """Readable logs to stderr, with secrets redacted."""
    root = logging.getLogger()
    root.handlers[:] = [make_log_handler(sys.stderr, secrets)]
    root.setLevel(level)
    # discord.py's HTTP chatter is useful only when debugging it.
    logging.getLogger("discord.http").setLevel(max(logging.getLevelName(level), logging.INFO))
