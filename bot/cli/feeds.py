"""`paperboy feed check URL` and `paperboy archive import SOURCE...`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli._context import CommandContext
from bot.clock import SystemClock, to_iso
from bot.errors import FeedError, FetchError
from bot.feeds import ParsedFeed, ParsedItem
from bot.fetch import Fetcher
from bot.ingest.archiver import Archiver
from bot.ingest.discovery import resolve_source
from bot.ingest.importer import Importer, ImportReport
from bot.workpool import JobOutOfMemory, JobTimedOut


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `feed` and `archive` command groups."""
    feed = subparsers.add_parser("feed", help="feed tools: check a feed without Discord")
    feed_commands = feed.add_subparsers(title="feed commands", metavar="COMMAND", required=True)
    check = feed_commands.add_parser(
        "check", help="fetch a feed (or find it from a site's page), parse it and show its items"
    )
    check.add_argument("url", help="a feed address or a site's page")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=_check)

    archive = subparsers.add_parser("archive", help="the article archive")
    archive_commands = archive.add_subparsers(
        title="archive commands", metavar="COMMAND", required=True
    )
    importing = archive_commands.add_parser(
        "import",
        help="import articles from feed, sitemap or article URLs, or local .html/.txt files",
    )
    importing.add_argument("sources", nargs="+", metavar="SOURCE")
    importing.set_defaults(handler=_import)


def item_json(item: ParsedItem) -> dict[str, Any]:
    """One item in the `--json` output."""
    return {
        "key": item.key,
        "title": item.title,
        "url": item.url,
        "published": to_iso(item.published) if item.published else None,
        "author": item.author,
        "categories": list(item.categories),
        "summary": item.summary,
        "image": item.image_url,
    }


def feed_json(feed_url: str, parsed: ParsedFeed) -> dict[str, Any]:
    """The whole `--json` output."""
    return {
        "feed": {"title": parsed.title, "url": feed_url, "site_url": parsed.site_url},
        "items": [item_json(item) for item in parsed.items],
    }


def _print_feed(feed_url: str, parsed: ParsedFeed) -> None:
    print(f"{parsed.title or '(untitled feed)'}")
    print(f"  feed: {feed_url}")
    if parsed.site_url:
        print(f"  site: {parsed.site_url}")
    print(f"  format: {parsed.format}{' (not well-formed, but readable)' if parsed.bozo else ''}")
    print(f"  items: {len(parsed.items)}")
    for item in parsed.items:
        date = item.published.strftime("%Y-%m-%d %H:%M") if item.published else "undated"
        print(f"\n- {item.title or '(untitled)'}")
        print(f"  {date}  {item.url or '(no link)'}")
        if item.author:
            print(f"  by {item.author}")
        if item.categories:
            print(f"  categories: {', '.join(item.categories)}")
        print(f"  key: {item.key}")


async def _check(args: argparse.Namespace, ctx: CommandContext) -> int:
    fetcher = Fetcher(await ctx.http(), ctx.config.fetch)
    try:
        found = await resolve_source(
            fetcher,
            args.url,
            SystemClock().now(),
            max_items=ctx.config.feeds.max_items,
            pool=ctx.pool(),
            priority="system",
        )
    except (FetchError, FeedError) as error:
        return _refused(error.kind, error, as_json=args.json)
    except JobTimedOut as error:
        return _refused("too-slow", error, as_json=args.json)
    except JobOutOfMemory as error:
        return _refused("too-large", error, as_json=args.json)
    feed_url, parsed = found.feed_url, found.parsed
    if args.json:
        print(json.dumps(feed_json(feed_url, parsed), ensure_ascii=False, indent=2))
    else:
        print(f"Recognised: {found.description}")
        _print_feed(feed_url, parsed)
    return 0


def _refused(kind: str, error: Exception, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": {"kind": kind, "message": str(error)}}))
    else:
        print(f"{kind}: {error}", file=sys.stderr)
    return 1


async def _import(args: argparse.Namespace, ctx: CommandContext) -> int:
    from tqdm import tqdm

    storage = await ctx.storage()
    fetcher = Fetcher(await ctx.http(), ctx.config.fetch)
    clock = SystemClock()
    # Many untrusted pages in a row: each is read in a worker, killed at the deadline if need be.
    archiver = Archiver(storage, fetcher, ctx.config, clock, pool=ctx.pool())
    importer = Importer(storage, fetcher, archiver, clock)
    report = ImportReport()
    with tqdm(
        desc="reading sources", unit="document", file=sys.stderr, disable=not ctx.show_progress()
    ) as reading:
        jobs = await importer.expand(args.sources, report, fetched=reading.update)
    with tqdm(
        total=len(jobs), unit="article", file=sys.stderr, disable=not ctx.show_progress()
    ) as bar:
        await importer.run(jobs, report, advance=lambda: bar.update(1))
    for source, message in report.failures:
        print(f"failed: {source}: {message}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failed and not report.imported and not report.skipped else 0
