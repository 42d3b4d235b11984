"""`paperboy db ...`: database maintenance."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.cli._context import CommandContext
from bot.storage import Storage, backup_database, latest_version


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


async def _migrate(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = await ctx.storage()
    version = await storage.schema_version()
    print(f"{storage.path}: schema version {version} (latest {latest_version()})")
    return 0


async def _backup(args: argparse.Namespace, ctx: CommandContext) -> int:
    source = ctx.config.database.path
    await asyncio.to_thread(backup_database, source, args.path)
    print(f"Backed up {source} to {args.path}", file=sys.stderr)
    return 0


async def _info(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage: Storage = await ctx.storage()
    for line in await storage.describe():
        print(line)
    return 0
