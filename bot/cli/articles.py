"""`paperboy summarize | related | search | extract`: the article tools, without Discord."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.articles.extract import Extracted, extract_in_thread
from bot.articles.related import RelatedItem, related_to_text, related_to_url
from bot.articles.summarize import STYLES, best_summary
from bot.cli._context import CommandContext
from bot.errors import InvalidInput, PaperboyError
from bot.models import WHOLE_ARCHIVE


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the summarize, related, search and extract commands."""
    summarize = subparsers.add_parser("summarize", help="summarise URLs, .html or .txt files")
    summarize.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="URL, .html file, .txt file (first line title) or - for stdin",
    )
    summarize.add_argument("--style", choices=STYLES, default="brief")
    summarize.add_argument("--json", action="store_true", help="one JSON object per line")
    summarize.set_defaults(handler=_summarize)

    related = subparsers.add_parser("related", help="archived articles related to a source")
    related.add_argument("source", metavar="SOURCE", help="archived URL, any URL, or free text")
    related.add_argument("--limit", type=int, default=5)
    related.add_argument("--json", action="store_true")
    related.set_defaults(handler=_related)

    search = subparsers.add_parser("search", help="full-text search of the archive")
    search.add_argument("query", nargs="+", metavar="QUERY")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=_search)

    extract = subparsers.add_parser("extract", help="extract an article's text and metadata")
    extract.add_argument("sources", nargs="+", metavar="SOURCE", help="URL, .html file or -")
    extract.add_argument("--json", action="store_true")
    extract.set_defaults(handler=_extract)


@dataclass(frozen=True)
class _Loaded:
    title: str
    text: str
    standfirst: str
    url: str
    extracted: Extracted | None


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


async def extract_page(ctx: CommandContext, url: str) -> Extracted:
    """A web page fetched through the project's guarded fetcher, then extracted."""
    from bot.fetch import Fetcher

    result = await Fetcher(await ctx.http(), ctx.config.fetch).fetch(
        url, kind="page", now=datetime.now(UTC)
    )
    if not result.body:
        raise InvalidInput(f"{url} returned an empty page.")
    # The Content-Type header's charset decides how the page's bytes are decoded.
    content_type = result.headers.get("content-type")
    return await extract_in_thread(result.body, url, content_type=content_type)


async def _load(ctx: CommandContext, source: str) -> _Loaded:
    if _is_url(source):
        extracted = await extract_page(ctx, source)
        return _Loaded(extracted.title, extracted.text, extracted.description, source, extracted)
    if source == "-":
        raw = sys.stdin.read()
        path_suffix = ".html" if raw.lstrip().startswith("<") else ".txt"
    else:
        path = Path(source)
        try:
            # A CLI run serves one user; a blocking read of a local file stalls nobody.
            raw = path.read_text(encoding="utf-8", errors="replace")  # noqa: ASYNC240
        except OSError as error:
            raise InvalidInput(f"Cannot read {source}: {error.strerror}.") from None
        path_suffix = path.suffix.lower()
    if path_suffix in (".html", ".htm"):
        extracted = await extract_in_thread(raw, "")
        return _Loaded(extracted.title, extracted.text, extracted.description, "", extracted)
    title, _, body = raw.partition("\n")
    return _Loaded(title.strip(), body, "", "", None)


def _emit(obj: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print("\n".join(lines))


async def _summarize(args: argparse.Namespace, ctx: CommandContext) -> int:
    status = 0
    for source in args.sources:
        try:
            loaded = await _load(ctx, source)
            summary = await best_summary(
                loaded.title,
                loaded.text,
                standfirst=loaded.standfirst,
                style=args.style,
                model=await ctx.llm(),
            )
        except PaperboyError as error:
            print(f"paperboy: {source}: {error}", file=sys.stderr)
            status = 1
            continue
        bullet = "- " if args.style == "key-points" else ""
        _emit(
            {
                "source": source,
                "title": loaded.title,
                "summary": list(summary.sentences),
                "kind": summary.kind,
            },
            args.json,
            [f"# {loaded.title} ({summary.kind}, {summary.reading_minutes} min read)"]
            + [bullet + sentence for sentence in summary.sentences]
            + [""],
        )
    return status


def _item_json(item: RelatedItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "url": item.url,
        "published": item.published.isoformat() if item.published else None,
        "score": item.score,
        "shared_terms": list(item.shared_terms),
    }


async def _related(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = await ctx.storage()
    limit = max(1, min(args.limit, 50))
    now = datetime.now(UTC)
    if _is_url(args.source):

        async def load_page(url: str) -> tuple[str, str]:
            extracted = await extract_page(ctx, url)
            return extracted.title, extracted.text

        items = await related_to_url(
            storage, WHOLE_ARCHIVE, args.source, load_page, limit=limit, now=now
        )
    else:
        items = await related_to_text(storage, WHOLE_ARCHIVE, "", args.source, limit=limit, now=now)
    _emit(
        {"items": [_item_json(item) for item in items]},
        args.json,
        [
            f"{item.score:.3f}  {item.title}  <{item.url}>  ({', '.join(item.shared_terms)})"
            for item in items
        ]
        or ["No related articles found."],
    )
    return 0


async def _search(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = await ctx.storage()
    hits = await storage.search_articles(
        WHOLE_ARCHIVE, " ".join(args.query), limit=max(1, min(args.limit, 100))
    )
    _emit(
        {
            "items": [
                {
                    "id": h.article.id,
                    "title": h.article.title,
                    "url": h.article.url,
                    "published": h.article.published.isoformat() if h.article.published else None,
                    "snippet": h.snippet,
                    "score": round(h.score, 4),
                }
                for h in hits
            ]
        },
        args.json,
        [f"{h.article.title}  <{h.article.url}>\n    {h.snippet}" for h in hits]
        or ["No articles match."],
    )
    return 0


async def _extract(args: argparse.Namespace, ctx: CommandContext) -> int:
    status = 0
    for source in args.sources:
        try:
            loaded = await _load(ctx, source)
        except PaperboyError as error:
            print(f"paperboy: {source}: {error}", file=sys.stderr)
            status = 1
            continue
        extracted = loaded.extracted
        published = extracted.published.isoformat() if extracted and extracted.published else None
        obj = {
            "source": source,
            "url": loaded.url,
            "title": loaded.title,
            "author": extracted.author if extracted else "",
            "published": published,
            "description": loaded.standfirst,
            "text": loaded.text,
        }
        _emit(obj, args.json, [f"# {loaded.title}", loaded.text, ""])
    return status
