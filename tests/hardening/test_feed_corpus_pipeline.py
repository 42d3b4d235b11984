"""feedparser's own corpus, served over loopback HTTP, through fetch, parse, normalise and render.

Every document of `shared/corpus/feedparser/` (ill-formed, encoding, entity and sanitizer cases)
must come out as a clear FeedError or as items whose every rendering, in every format, is valid
Unicode without control characters and within Discord's limits. The corpus is read from beside
the repository and never copied in.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import FetchConfig
from bot.errors import FeedError
from bot.feeds import parse_feed
from bot.fetch import Fetcher, make_session
from tests.hardening.support import (
    NOW,
    SHARED,
    announcement_of,
    plan_problems,
    render_everywhere,
    text_problems,
    web_server,
)

CORPUS = (SHARED / "corpus" / "feedparser").resolve()
FILES = sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []
LOCAL = FetchConfig(allow_private_addresses=True, total_timeout_seconds=10.0)
REFUSALS = ("not-a-feed", "parse-error")
# feedparser's test server sends the headers a document names in "Header: Name: value" lines.
_HEADER_LINE = re.compile(rb"^\s*Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)


def groups() -> dict[str, list[Path]]:
    """Corpus files by folder, so a failure names its neighbourhood and each test stays short."""
    found: dict[str, list[Path]] = defaultdict(list)
    for path in FILES:
        found[str(path.parent.relative_to(CORPUS))].append(path)
    return dict(found)


GROUPS = groups()


def declared_headers(body: bytes) -> dict[str, str]:
    """The HTTP headers a corpus document asks its server to send."""
    headers = {}
    for name, value in _HEADER_LINE.findall(body[:2048]):
        headers[name.decode("ascii").title()] = value.decode("latin-1")
    return headers


async def serve_corpus(request: web.Request) -> web.Response:
    path = (CORPUS / request.match_info["tail"]).resolve()
    if CORPUS not in path.parents or not path.is_file():
        return web.Response(status=404)
    body = path.read_bytes()
    headers = declared_headers(body)
    headers.setdefault("Content-Type", "application/xml")
    return web.Response(body=body, headers=headers)


def test_the_corpus_is_there() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the feedparser corpus is not at {CORPUS} (it is shared, never in the repo)")
    assert len(FILES) > 1000 and len(GROUPS) > 5


@pytest.mark.parametrize("group", sorted(GROUPS))
async def test_every_corpus_document_survives_fetch_parse_and_render(group: str) -> None:
    problems: list[str] = []
    async with web_server({"/{tail:.*}": serve_corpus}) as base, make_session(LOCAL, "t") as s:
        fetcher = Fetcher(s, LOCAL)
        for path in GROUPS[group]:
            name = str(path.relative_to(CORPUS))
            result = await fetcher.fetch(f"{base}/{name}", kind="feed", now=NOW)
            assert result.body is not None
            try:
                feed = parse_feed(result.body, url=result.url, headers=result.headers, now=NOW)
            except FeedError as error:
                # A pipeline that refused everything would pass; well-formed feeds must parse.
                if group.startswith("wellformed"):
                    problems.append(f"{name}: a well-formed feed was refused: {error}")
                elif error.kind not in REFUSALS or not str(error).endswith("."):
                    problems.append(f"{name}: unclear refusal {error.kind}: {error}")
                continue
            problems += [f"{name}: {p}" for p in text_problems(feed)]
            for index, item in enumerate(feed.items):
                for plan in render_everywhere(announcement_of(item, feed, index + 1)):
                    problems += [f"{name}: {p}" for p in plan_problems(plan)]
    assert problems == []
