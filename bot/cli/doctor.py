"""`paperboy doctor`: every check with its result, and a fix for each problem."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import textwrap
from pathlib import Path

from bot.cli._context import CommandContext
from bot.clock import SystemClock
from bot.doctor import Doctor, Finding
from bot.errors import PaperboyError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `doctor` command."""
    doctor = subparsers.add_parser(
        "doctor",
        help="check config, database, token, intents, channel permissions and feeds",
        description="Checks the configuration, the database, the token against Discord, the "
        "intents, the bot's permissions in every subscribed channel and thread, and every "
        "feed's health; prints each problem with how to fix it. Exit status 1 if any.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(handler=_doctor)


async def _doctor(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = None
    # Doctor never creates a database: a missing file is reported, not made (a PostgreSQL
    # database is the operator's to create, so opening it never makes one either).
    if bool(ctx.config.database.url) or await asyncio.to_thread(
        Path(ctx.config.database.path).exists
    ):
        try:
            storage = await ctx.storage()
        except PaperboyError:
            storage = None
    import aiohttp

    # Its own plain session: Discord is not a feed, so the fetch guard does not apply.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        findings = await Doctor(ctx.config, storage, session, now=SystemClock().now()).run()
    problems = [f for f in findings if not f.ok]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not problems,
                    "problems": [f.to_json() for f in problems],
                    "checks": [f.to_json() for f in findings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(render_table(findings))
    return 1 if problems else 0


def render_table(findings: list[Finding], width: int | None = None) -> str:
    """The findings as a table (check, where, result), each problem followed by its fix."""
    width = width or max(80, shutil.get_terminal_size((100, 24)).columns)
    check_w = max([len("CHECK"), *(len(f.check) for f in findings)])
    where_w = min(44, max([len("WHERE"), *(len(f.where) for f in findings)]))
    result_w = max(20, width - check_w - where_w - 4)
    indent = " " * (check_w + where_w + 4)
    lines = [f"{'CHECK':<{check_w}}  {'WHERE':<{where_w}}  RESULT"]
    for finding in findings:
        result = ("ok: " if finding.ok else "PROBLEM: ") + finding.detail
        wrapped = textwrap.wrap(result, result_w) or [""]
        where = (
            finding.where if len(finding.where) <= where_w else finding.where[: where_w - 1] + "…"
        )
        lines.append(f"{finding.check:<{check_w}}  {where:<{where_w}}  {wrapped[0]}")
        lines += [indent + more for more in wrapped[1:]]
        if finding.fix:
            lines += [indent + part for part in textwrap.wrap("fix: " + finding.fix, result_w)]
    problems = sum(not f.ok for f in findings)
    lines.append("")
    lines.append(
        f"{problems} problem{'s' if problems != 1 else ''} found."
        if problems
        else "No problems found."
    )
    return "\n".join(lines)
