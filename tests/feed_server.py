"""A loopback feed server for poller tests: serves `replies` by path, counts `requests`, and
answers If-None-Match with a content-hash ETag; plus small RSS builders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


# -- a loopback feed server ---------------------------------------------------------------------


@dataclass
class Reply:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"


class FeedServer:
    """Serves whatever `replies` says; honours If-None-Match with a content hash ETag."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.requests: list[web.Request] = []
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str) -> str:
        return self.base + path

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        reply = self.replies.get(request.path)
        if reply is None:
            return web.Response(status=404, text="not found")
        headers = dict(reply.headers)
        if reply.status == 200:
            etag = '"' + hashlib.sha1(reply.body).hexdigest()[:16] + '"'
            headers.setdefault("ETag", etag)
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers=headers)
        headers["Content-Type"] = reply.content_type
        return web.Response(status=reply.status, body=reply.body, headers=headers)


def item(
    n: int,
    *,
    base: str = "https://paper.example",
    guid: str | None = None,
    title: str | None = None,
    published: datetime | None = None,
    description: str | None = None,
    link: str | None = None,
    categories: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One RSS item's fields; dated an hour apart by number unless told."""
    return {
        "guid": guid or f"{base}/?p={n}",
        "title": title or f"Story number {n}",
        "link": link or f"{base}/2026/09/story-{n}/",
        "published": published or START - timedelta(hours=100 - n),
        "description": description or f"What happened in story {n}, told briefly.",
        "categories": categories,
    }


def rss(items: list[dict[str, Any]], *, title: str = "The Paper") -> bytes:
    """An RSS 2.0 document of the items, in the order given (newest first by convention)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>',
        f"<title>{title}</title><link>https://paper.example/</link><description>d</description>",
    ]
    for entry in items:
        categories = "".join(f"<category>{c}</category>" for c in entry["categories"])
        parts.append(
            f"<item><title>{entry['title']}</title><link>{entry['link']}</link>"
            f'<guid isPermaLink="false">{entry["guid"]}</guid>'
            f"<pubDate>{format_datetime(entry['published'], usegmt=True)}</pubDate>"
            f"<description>{entry['description']}</description>{categories}</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()
