"""The `paperboy` command line: `run`, `db ...`, and the tools that work without Discord.

Each module in COMMAND_MODULES exposes `register(subparsers)`, adding subcommands whose
`handler` is `async def handler(args, ctx) -> int` (the exit status).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

from bot import __version__
from bot import config as config_module
from bot.cli._context import CommandContext
from bot.errors import PaperboyError

COMMAND_MODULES = (
    "bot.cli.run",
    "bot.cli.worker",
    "bot.cli.db",
    "bot.cli.feeds",
    "bot.cli.articles",
    "bot.cli.doctor",
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

LOG_FORMATS = ("text", "json")

EXAMPLES: dict[str, str] = {
    "": """examples:
  paperboy --config config.toml run          start the bot (DISCORD_TOKEN in the environment)
  paperboy doctor                            check config, database, Discord and feeds
  paperboy feed check https://example.org/   try a feed without Discord
  paperboy archive import https://example.org/sitemap.xml
  paperboy search "rent strike" --json

Global options (--config, --log-level, --log-format, --quiet) go before or after the command.""",
    "run": """examples:
  DISCORD_TOKEN=... paperboy run --config config.toml
  paperboy run --log-format json        one JSON object per log line, for log collectors
  paperboy run --shards 0-3 --shard-count 8 --no-poll   shards 0..3 of 8; a worker polls""",
    "worker": """examples:
  paperboy worker --config config.toml   poll feeds and archive pages beside shard processes""",
    "db": """examples:
  paperboy db migrate
  paperboy db backup /backups/paperboy-$(date +%F).db
  paperboy db info --config config.toml""",
    "db migrate": "example:\n  paperboy db migrate --config config.toml",
    "db backup": "example:\n  paperboy db backup /backups/paperboy-$(date +%F).db",
    "db info": "example:\n  paperboy db info --config config.toml",
    "db copy": "example (stop the bot first; the target must be empty):\n"
    "  paperboy db copy --to postgresql://paperboy@db.example:5432/paperboy",
    "feed": "example:\n  paperboy feed check https://example.org/ --json",
    "feed check": """examples:
  paperboy feed check https://example.org/            finds the feed from the home page
  paperboy feed check https://example.org/feed.xml --json""",
    "archive": "example:\n  paperboy archive import https://example.org/sitemap.xml",
    "archive import": """examples:
  paperboy archive import https://example.org/sitemap.xml
  paperboy archive import https://example.org/feed.xml saved/*.html --quiet""",
    "extract": "example:\n  paperboy extract https://example.org/2026/10/story --json",
    "summarize": """examples:
  paperboy summarize https://example.org/2026/10/story
  cat story.txt | paperboy summarize - --style key-points""",
    "related": """examples:
  paperboy related https://example.org/2026/10/story --limit 3
  paperboy related "rent strike in Riverside" --json""",
    "search": """examples:
  paperboy search rent strike
  paperboy search '"rent freeze"' --json""",
    "doctor": """examples:
  paperboy doctor --config config.toml       a table of problems, each with its fix
  paperboy doctor --json                     the same as one JSON object (exit 1 if problems)""",
}
"""Examples shown under each command's --help, by command path ("" is `paperboy` itself)."""


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes, before or after its name.

    Subcommands use SUPPRESS defaults so an option given before the command is not reset when
    the subcommand's parser does not see it again."""
    default = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help=f"config file (default: ${config_module.CONFIG_ENV}, else ./config.toml if present)",
    )
    group.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=default,
        help="override [bot] log_level",
    )
    group.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default,
        help="text (default) or json: one JSON object per line, for log collectors",
    )
    group.add_argument(
        "--quiet",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no progress bars (they are shown only when standard error is a terminal)",
    )


def _subcommands(
    parser: argparse.ArgumentParser, path: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (command path, parser) below `parser`, depth first."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                sub_path = f"{path} {name}".strip()
                found.append((sub_path, sub))
                found += _subcommands(sub, sub_path)
    return found


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Paperboy: announces a publication's articles on Discord and answers members "
        "with summaries, related pieces and search.",
        epilog=EXAMPLES[""],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"paperboy {__version__}")
    _add_global_options(parser, top=True)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for path, sub in _subcommands(parser):
        _add_global_options(sub, top=False)
        sub.epilog = EXAMPLES.get(path, sub.epilog)
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
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
    setup_logging(
        args.log_level or config.bot.log_level,
        configured_secrets(config, os.environ),
        log_format=args.log_format or "text",
    )
    ctx = CommandContext(config, quiet=args.quiet)
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


class JsonFormatter(RedactingFormatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, exc (the
    traceback, or null); every field redacted before it is encoded."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__("%(message)s", "%Y-%m-%dT%H:%M:%S", secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        message = self.redact(record.getMessage())
        exc = None
        if record.exc_info:
            exc = self.formatException(record.exc_info)
        elif record.exc_text:
            exc = record.exc_text
        if record.stack_info:
            exc = (exc + "\n" if exc else "") + self.formatStack(record.stack_info)
        when = datetime.fromtimestamp(record.created, tz=UTC)
        fields = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "exc": self.redact(exc) if exc else None,
        }
        return json.dumps(fields, ensure_ascii=False)


def make_log_handler(
    stream: TextIO, secrets: Sequence[str], *, log_format: str = "text"
) -> logging.Handler:
    """One line per record on `stream` (text or JSON), with `secrets` redacted."""
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(
            RedactingFormatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S", secrets
            )
        )
    return handler


def setup_logging(level: str, secrets: Sequence[str] = (), *, log_format: str = "text") -> None:
    """Logs to stderr (readable lines, or JSON objects), with secrets redacted."""
    root = logging.getLogger()
    root.handlers[:] = [make_log_handler(sys.stderr, secrets, log_format=log_format)]
    root.setLevel(level)
    # discord.py's HTTP chatter is useful only when debugging it.
    logging.getLogger("discord.http").setLevel(max(logging.getLevelName(level), logging.INFO))
