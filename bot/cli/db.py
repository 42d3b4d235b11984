"""`paperboy db ...`: database maintenance."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli._context import CommandContext
from bot.errors import PaperboyError
from bot.storage import (
    Storage,
    backup_database,
    copy_source_rows,
    copy_sqlite_to_postgres,
    latest_version,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `db` command group."""
    db = subparsers.add_parser("db", help="database maintenance: migrate, backup, info")
    commands = db.add_subparsers(title="db commands", metavar="COMMAND", required=True)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=_migrate)

    backup = commands.add_parser(
        "backup", help="write a consistent copy of the database (safe while the bot runs)"
    )
    backup.add_argument("path", help="file to create; must not exist")
    backup.set_defaults(handler=_backup)

    info = commands.add_parser("info", help="show the database file, schema version and counts")
    info.set_defaults(handler=_info)

    copy = commands.add_parser(
        "copy",
        help="copy the SQLite database into an empty PostgreSQL database (then set [database] url)",
    )
    copy.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user@host:5432/dbname, empty"
    )
    copy.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="the SQLite file (default: [database] path)",
    )
    copy.add_argument("--batch", type=int, default=2000, help="rows per COPY batch")
    copy.set_defaults(handler=_copy)


async def _migrate(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = await ctx.storage()
    version = await storage.schema_version()
    print(f"{storage.path}: schema version {version} (latest {latest_version()})")
    return 0


async def _backup(args: argparse.Namespace, ctx: CommandContext) -> int:
    if ctx.config.database.url:
        raise PaperboyError(
            "db backup copies the SQLite file; for PostgreSQL use its own tools "
            f"(pg_dump {ctx.config.database.where()})."
        )
    source = ctx.config.database.path
    await asyncio.to_thread(backup_database, source, args.path)
    print(f"Backed up {source} to {args.path}", file=sys.stderr)
    return 0


async def _info(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage: Storage = await ctx.storage()
    for line in await storage.describe():
        print(line)
    return 0


async def _copy(args: argparse.Namespace, ctx: CommandContext) -> int:
    from tqdm import tqdm

    from bot.config import redact_url

    if not args.to.startswith(("postgresql://", "postgres://")):
        raise PaperboyError(f"--to must be a postgresql:// URL, not {redact_url(args.to)!r}.")
    path = args.source or ctx.config.database.path
    if not await asyncio.to_thread(Path(path).is_file):
        raise PaperboyError(f"There is no SQLite database at {path} to copy.")
    source = await Storage.open(path, busy_timeout_ms=ctx.config.database.busy_timeout_ms)
    try:
        target = await Storage.open(args.to, busy_timeout_ms=ctx.config.database.busy_timeout_ms)
        try:
            total = sum((await copy_source_rows(source)).values())
            with tqdm(
                total=total, unit="row", file=sys.stderr, disable=not ctx.show_progress()
            ) as bar:

                def advance(table: str, rows: int) -> None:
                    bar.set_description(table)
                    bar.update(rows)

                copied = await copy_sqlite_to_postgres(
                    source, target, batch_size=max(1, args.batch), progress=advance
                )
        finally:
            await target.close()
    finally:
        await source.close()
    print(
        f"Copied {sum(copied.values())} rows in {len(copied)} tables from {path} to "
        f"{redact_url(args.to)}; row counts verified. Set [database] url to use it.",
        file=sys.stderr,
    )
    return 0
