"""A local WordPress-like news site for tests: feeds, pages, and controls to break them.

Usage::

    async with NewsSite() as site:               # 10 oldest samples already published
        feed = await http.get(site.feed_url)
        site.publish_next()                      # a new item at the top of every feed
        site.set_fault("/feed/", ServerError())  # this path now answers 500
        waiter = site.next_request("/feed/")     # register first, then trigger, then await
        ...
        record = await waiter

Everything is deterministic: the same state renders the same bytes, guids and ETags.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import struct
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from types import TracebackType
from typing import Literal

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from bot.clock import Clock
from tests.bench.news_site_articles import (
    ARTICLES_DIR,
    SampleArticle,
    category_slug,
    load_articles,
)
from tests.bench.news_site_render import (
    SiteInfo,
    SiteItem,
    article_page,
    atom_feed,
    category_page,
    home_page,
    json_feed,
    rss_feed,
    sitemap,
)

__all__ = [
    "ARTICLES_DIR",
    "CloudflareChallenge",
    "CustomResponse",
    "Fault",
    "GzipBomb",
    "Hang",
    "Malformed",
    "NewsSite",
    "Oversize",
    "RateLimited",
    "Redirect",
    "RequestRecord",
    "SampleArticle",
    "ServerError",
    "SiteItem",
    "Slow",
    "Trickle",
    "load_articles",
]

FIRST_POST_ID = 1001
PATHOLOGICAL_PAGE_PATH = "/longreads/everything/"
"""A 5 MB article page that takes extraction many seconds (see `pathological_page`)."""
PATHOLOGICAL_HOME_PATH = "/mirror/"
"""A home page whose declared feed takes many seconds to read (see `pathological_home_page`)."""
PATHOLOGICAL_FEED_PATH = "/mirror/everything.xml"
"""The feed that home page declares: 5 MB of items (see `pathological_feed`)."""
_GUID_PLACEHOLDER = "{site-url}"  # filled in with the real address once the port is known
MiB = 1024 * 1024
_FEED_TYPES = ("application/rss+xml", "application/atom+xml")


# ---------------------------------------------------------------- faults


@dataclass
class Fault:
    """Base of the per-path faults; `times` limits how often it fires (None = until cleared)."""

    times: int | None = field(default=None, kw_only=True)


@dataclass
class ServerError(Fault):
    """Answer with an HTTP error status (500 by default)."""

    status: int = 500


@dataclass
class RateLimited(Fault):
    """Answer 429 Too Many Requests with a Retry-After header (seconds or an HTTP date)."""

    retry_after: str = "120"


@dataclass
class Redirect(Fault):
    """Redirect to `location` (a path on this site or any absolute URL, e.g. a private IP)."""

    location: str = "/feed/"
    status: int = 301


@dataclass
class Slow(Fault):
    """Wait `delay` seconds before sending the headers, then answer normally."""

    delay: float = 2.0


@dataclass
class Hang(Fault):
    """Hold the request without answering until `NewsSite.release_hangs()` (or shutdown)."""


@dataclass
class Trickle(Fault):
    """Send headers at once, then the normal body in `chunk_size` pieces `interval` s apart."""

    chunk_size: int = 64
    interval: float = 0.05


@dataclass
class GzipBomb(Fault):
    """A small gzip body (Content-Encoding: gzip) that inflates to `inflated_size` bytes."""

    inflated_size: int = 64 * MiB


@dataclass
class Oversize(Fault):
    """A feed of `size` bytes (mostly padding); `chunked` hides the length until the end."""

    size: int = 20 * MiB
    chunked: bool = True


MalformedKind = Literal[
    "truncated", "wrong-encoding", "mislabelled-latin1", "html", "empty", "garbage"
]


@dataclass
class Malformed(Fault):
    """A broken body for the normal content of the path.

    truncated: cut in the middle; wrong-encoding: declares UTF-8 but is sent as cp1252;
    mislabelled-latin1: declares ISO-8859-1 but is UTF-8; html: the home page served with an
    XML feed content type; empty: 200 with no body; garbage: bytes that are not text at all.
    """

    kind: MalformedKind = "truncated"


@dataclass
class CloudflareChallenge(Fault):
    """A bot-protection interstitial: 403 with `cf-mitigated: challenge`."""


@dataclass
class CustomResponse(Fault):
    """Any response a test wants to hand-craft."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestRecord:
    """One request the site received, in arrival order."""

    method: str
    path: str
    query: str
    headers: CIMultiDictProxy[str]

    @property
    def if_none_match(self) -> str | None:
        """The If-None-Match header, if sent."""
        return self.headers.get("If-None-Match")

    @property
    def if_modified_since(self) -> str | None:
        """The If-Modified-Since header, if sent."""
        return self.headers.get("If-Modified-Since")


@dataclass(frozen=True)
class _Rendered:
    """A normal response before faults, compression and validators are applied."""

    body: bytes
    content_type: str
    last_modified: datetime | None


# ---------------------------------------------------------------- the site


class NewsSite:
    """The stand-in site: an aiohttp server on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self,
        articles: Sequence[SampleArticle] | None = None,
        *,
        initially_published: int = 10,
        feed_size: int = 10,
        clock: Clock | None = None,
        home_feed_links: bool = True,
        send_validators: bool = True,
        honour_conditional_get: bool = True,
        gzip_responses: bool = True,
        image_as_enclosure: bool = False,
        site_name: str = "The Weekly Worker",
        guid_base: str | None = None,
    ) -> None:
        samples = list(articles) if articles is not None else load_articles()
        samples.sort(key=lambda article: (article.published, article.slug))
        if initially_published > len(samples):
            raise ValueError("initially_published exceeds the number of sample articles")
        self.feed_size = feed_size
        self.clock = clock
        self.home_feed_links = home_feed_links
        self.send_validators = send_validators
        self.honour_conditional_get = honour_conditional_get
        self.gzip_responses = gzip_responses
        self.image_as_enclosure = image_as_enclosure
        self.site_name = site_name
        # WordPress guids are "<site url>/?p=<id>"; a fixed guid_base keeps them port-independent.
        self.guid_base = guid_base
        self.hub_url: str | None = None
        """Set to a WebSub hub's address and every feed advertises it (in the document and in
        `Link` headers, as WordPress's WebSub plugin does)."""
        self.requests: list[RequestRecord] = []
        self._items: dict[int, SiteItem] = {}
        self._unpublished: list[SampleArticle] = samples[initially_published:]
        self._next_id = FIRST_POST_ID
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._waiters: dict[str, list[asyncio.Future[RequestRecord]]] = defaultdict(list)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url = ""
        for article in samples[:initially_published]:
            self._add(article, article.published)

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> NewsSite:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind to an ephemeral port on 127.0.0.1 and start serving."""
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://127.0.0.1:{port}"
        for item in self._items.values():
            item.guid = item.guid.replace(_GUID_PLACEHOLDER, self._base_url)

    async def close(self) -> None:
        """Release held requests, fail pending waiters and stop the server."""
        self._release.set()
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._waiters.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ addresses

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (no trailing slash); only valid once started."""
        if not self._base_url:
            raise RuntimeError("NewsSite is not started")
        return self._base_url

    def url(self, path: str) -> str:
        """Absolute URL of a path on this site."""
        return self.base_url + path

    @property
    def home_url(self) -> str:
        """The front page."""
        return self.url("/")

    @property
    def feed_url(self) -> str:
        """The main RSS 2.0 feed."""
        return self.url("/feed/")

    @property
    def atom_url(self) -> str:
        """The Atom 1.0 feed."""
        return self.url("/feed/atom/")

    @property
    def json_feed_url(self) -> str:
        """The JSON Feed 1.1 feed."""
        return self.url("/feed/json")

    @property
    def sitemap_url(self) -> str:
        """The XML sitemap."""
        return self.url("/sitemap.xml")

    def category_feed_url(self, category: str) -> str:
        """The RSS feed of one category, by name ("Housing") or slug ("housing")."""
        return self.url(f"/category/{category_slug(category)}/feed/")

    def article_url(self, item: SiteItem | int) -> str:
        """The permalink of a published item (or post id)."""
        return self.url(self._item(item).path)

    # ------------------------------------------------------------ content controls

    @property
    def items(self) -> list[SiteItem]:
        """Every published item, newest first (the order of the feeds)."""
        return sorted(self._items.values(), key=lambda i: (i.published, i.post_id), reverse=True)

    @property
    def unpublished(self) -> list[SampleArticle]:
        """Sample articles still waiting to be published, oldest first."""
        return list(self._unpublished)

    def publish_next(self, at: datetime | None = None) -> SiteItem:
        """Publish the oldest unpublished sample; it becomes the newest item in every feed."""
        if not self._unpublished:
            raise LookupError("every sample article is already published")
        return self.publish(self._unpublished[0], at=at)

    def publish(self, article: SampleArticle, at: datetime | None = None) -> SiteItem:
        """Publish a sample or custom article dated `at` (default: see `_publication_time`)."""
        if article in self._unpublished:
            self._unpublished.remove(article)
        return self._add(article, at or self._publication_time(article))

    def edit(
        self,
        item: SiteItem | int,
        *,
        title: str | None = None,
        paragraphs: Sequence[str] | None = None,
        standfirst: str | None = None,
        published: datetime | None = None,
        modified: datetime | None = None,
    ) -> SiteItem:
        """Change a published item's text, title or date; bumps its modified time."""
        target = self._item(item)
        if title is not None:
            target.title = title
        if paragraphs is not None:
            target.paragraphs = tuple(paragraphs)
        if standfirst is not None:
            target.standfirst = standfirst or None
        if published is not None:
            _require_aware(published)
            target.published = published
        target.modified = modified or self._later_than(target.modified)
        return target

    def change_guid(self, item: SiteItem | int, guid: str) -> SiteItem:
        """Give an item a new guid (as a botched WordPress migration would)."""
        target = self._item(item)
        target.guid = guid
        target.modified = self._later_than(target.modified)
        return target

    def unpublish(self, item: SiteItem | int) -> None:
        """Take an item down: it leaves the feeds and its page answers 404."""
        del self._items[self._item(item).post_id]

    # ------------------------------------------------------------ fault controls

    def set_fault(self, path: str, fault: Fault) -> None:
        """Make every request to `path` (exact path, query ignored; "*" = any) hit `fault`."""
        self._faults[path] = [fault]

    def add_fault(self, path: str, fault: Fault) -> None:
        """Queue another fault for `path`; used with `times=` to script a sequence."""
        self._faults[path].append(fault)

    def clear_faults(self, path: str | None = None) -> None:
        """Remove the faults of one path, or of every path."""
        if path is None:
            self._faults.clear()
        else:
            self._faults.pop(path, None)

    def redirect_loop(self, path_a: str, path_b: str, status: int = 302) -> None:
        """Make two paths redirect to each other forever."""
        self.set_fault(path_a, Redirect(path_b, status=status))
        self.set_fault(path_b, Redirect(path_a, status=status))

    def release_hangs(self) -> None:
        """Let every request held by a `Hang` fault go on (they then answer normally)."""
        self._release.set()
        self._release = asyncio.Event()

    # ------------------------------------------------------------ request log

    def requests_to(self, path: str) -> list[RequestRecord]:
        """Logged requests to one path, oldest first."""
        return [record for record in self.requests if record.path == path]

    def next_request(self, path: str) -> asyncio.Future[RequestRecord]:
        """A future for the next request to `path` ("*" = any); call it before triggering."""
        waiter: asyncio.Future[RequestRecord] = asyncio.get_running_loop().create_future()
        self._waiters[path].append(waiter)
        return waiter

    # ------------------------------------------------------------ internals

    def _publication_time(self, article: SampleArticle) -> datetime:
        """The clock's now; without a clock the article's own date, kept newer than the rest."""
        if self.clock is not None:
            return self.clock.now()
        latest = max((i.published for i in self._items.values()), default=None)
        if latest is None or article.published > latest:
            return article.published
        return latest + timedelta(hours=1)

    def _later_than(self, moment: datetime) -> datetime:
        if self.clock is not None and self.clock.now() > moment:
            return self.clock.now()
        return moment + timedelta(hours=1)

    def _add(self, article: SampleArticle, when: datetime) -> SiteItem:
        _require_aware(when)
        post_id = self._next_id
        self._next_id += 1
        item = SiteItem(
            post_id=post_id,
            guid=f"{self.guid_base or self._base_url or _GUID_PLACEHOLDER}/?p={post_id}",
            title=article.title,
            slug=article.slug,
            author=article.author,
            published=when,
            modified=when,
            topic=article.topic,
            categories=article.categories,
            standfirst=article.standfirst,
            image=article.image,
            paragraphs=article.paragraphs,
            captions=article.captions,
        )
        self._items[post_id] = item
        return item

    def _item(self, item: SiteItem | int) -> SiteItem:
        post_id = item if isinstance(item, int) else item.post_id
        try:
            return self._items[post_id]
        except KeyError:
            raise LookupError(f"no published item with id {post_id}") from None

    def _info(self) -> SiteInfo:
        return SiteInfo(base_url=self.base_url, name=self.site_name, hub_url=self.hub_url)

    def _log(self, request: web.Request) -> RequestRecord:
        record = RequestRecord(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
        )
        self.requests.append(record)
        for key in (request.path, "*"):
            waiters = self._waiters.get(key, [])
            while waiters:
                waiter = waiters.pop(0)
                if not waiter.done():
                    waiter.set_result(record)
        return record

    def _take_fault(self, path: str) -> Fault | None:
        for key in (path, "*"):
            queue = self._faults.get(key)
            while queue:
                fault = queue[0]
                if fault.times is not None and fault.times <= 0:
                    queue.pop(0)
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _render(self, path: str) -> _Rendered | None:
        """The normal content of a path, or None for 404."""
        info = self._info()
        items = self.items
        latest = items[: self.feed_size]

        def newest(chosen: Sequence[SiteItem]) -> datetime | None:
            return max((item.modified for item in chosen), default=None)

        xml = "application/rss+xml; charset=UTF-8"
        if path in ("/feed/", "/feed", "/rss/", "/?feed=rss2"):
            body = rss_feed(info, latest, image_as_enclosure=self.image_as_enclosure)
            return _Rendered(body.encode(), xml, newest(latest))
        if path in ("/feed/atom/", "/feed/atom"):
            body = atom_feed(info, latest)
            return _Rendered(body.encode(), "application/atom+xml; charset=UTF-8", newest(latest))
        if path in ("/feed/json", "/feed/json/"):
            body = json_feed(info, latest)
            return _Rendered(body.encode(), "application/feed+json; charset=UTF-8", newest(latest))
        if path == "/sitemap.xml":
            body = sitemap(info, items)
            return _Rendered(body.encode(), "application/xml; charset=UTF-8", newest(items))
        if path == "/":
            body = home_page(info, latest, feed_links=self.home_feed_links)
            return _Rendered(body.encode(), "text/html; charset=UTF-8", newest(latest))
        parts = [part for part in path.split("/") if part]
        if len(parts) >= 2 and parts[0] == "category":
            in_category = [
                item for item in items if parts[1] in map(category_slug, item.categories)
            ]
            if not in_category:
                return None
            name = next(c for c in in_category[0].categories if category_slug(c) == parts[1])
            if parts[2:] == ["feed"]:
                chosen = in_category[: self.feed_size]
                body = rss_feed(
                    info,
                    chosen,
                    self_path=f"/category/{parts[1]}/feed/",
                    title_suffix=f" » {name}",
                    image_as_enclosure=self.image_as_enclosure,
                )
                return _Rendered(body.encode(), xml, newest(chosen))
            if len(parts) == 2:
                return _Rendered(
                    category_page(info, name, in_category).encode(),
                    "text/html; charset=UTF-8",
                    newest(in_category),
                )
            return None
        if path == PATHOLOGICAL_PAGE_PATH:
            return _Rendered(pathological_page(), "text/html; charset=UTF-8", None)
        if path == PATHOLOGICAL_HOME_PATH:
            return _Rendered(pathological_home_page(), "text/html; charset=UTF-8", None)
        if path == PATHOLOGICAL_FEED_PATH:
            return _Rendered(pathological_feed(), "application/rss+xml; charset=UTF-8", None)
        if parts[:1] == ["wp-content"] and path.endswith((".jpg", ".jpeg", ".png")):
            return _Rendered(_tiny_png(), "image/png", None)
        for item in items:
            if path == item.path:
                others = [other for other in items if other.post_id != item.post_id]
                page = article_page(info, item, others)
                return _Rendered(page.encode(), "text/html; charset=UTF-8", item.modified)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = self._log(request)
        fault = self._take_fault(request.path)
        if isinstance(fault, Hang):
            await self._release.wait()
            fault = None
        if isinstance(fault, Slow):
            await asyncio.sleep(fault.delay)
            fault = None
        if fault is None and request.path == "/feed/bomb/":
            fault = GzipBomb()  # a permanent bomb endpoint, besides the per-path fault
        if fault is not None and not isinstance(fault, Trickle):
            special = await self._fault_response(request, fault)
            if special is not None:
                return special
        rendered = self._render(request.path)
        if rendered is None:
            return web.Response(status=404, text="Page not found", content_type="text/html")
        return await self._respond(request, record, rendered, fault)

    async def _fault_response(
        self, request: web.Request, fault: Fault
    ) -> web.StreamResponse | None:
        if isinstance(fault, ServerError):
            return web.Response(
                status=fault.status,
                text="<h1>Error establishing a database connection</h1>",
                content_type="text/html",
            )
        if isinstance(fault, RateLimited):
            return web.Response(
                status=429,
                text="Too many requests",
                headers={"Retry-After": fault.retry_after},
            )
        if isinstance(fault, Redirect):
            return web.Response(status=fault.status, headers={"Location": fault.location})
        if isinstance(fault, CloudflareChallenge):
            return web.Response(
                status=403,
                body=_CHALLENGE_PAGE,
                content_type="text/html",
                charset="UTF-8",
                headers={
                    "cf-mitigated": "challenge",
                    "Server": "cloudflare",
                    "cf-ray": "8c1f00d1e2a3b4c5-LHR",
                    "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
                },
            )
        if isinstance(fault, CustomResponse):
            return web.Response(
                status=fault.status,
                body=fault.body,
                headers={"Content-Type": fault.content_type, **fault.headers},
            )
        if isinstance(fault, GzipBomb):
            return web.Response(
                body=_gzip_bomb(fault.inflated_size),
                headers={
                    "Content-Type": "application/rss+xml; charset=UTF-8",
                    "Content-Encoding": "gzip",
                },
            )
        if isinstance(fault, Oversize):
            return await self._oversize(request, fault)
        if isinstance(fault, Malformed):
            return self._malformed(request.path, fault)
        raise TypeError(f"unknown fault {fault!r}")

    async def _oversize(self, request: web.Request, fault: Oversize) -> web.StreamResponse:
        head = (
            b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            b"<title>Oversize</title><description>"
        )
        tail = b"</description></channel></rss>"
        padding = max(0, fault.size - len(head) - len(tail))
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        if not fault.chunked:
            response.content_length = len(head) + padding + len(tail)
        await response.prepare(request)
        try:
            await response.write(head)
            chunk = b"x" * (256 * 1024)
            while padding > 0:
                await response.write(chunk[: min(padding, len(chunk))])
                padding -= len(chunk)
            await response.write(tail)
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client stopped reading once it hit its limit, as it should
        return response

    def _malformed(self, path: str, fault: Malformed) -> web.Response:
        rendered = self._render(path) or self._render("/feed/")
        assert rendered is not None
        text = rendered.body.decode()
        content_type = rendered.content_type.split(";")[0]
        if fault.kind == "truncated":
            body = rendered.body[: len(rendered.body) // 2]
        elif fault.kind == "wrong-encoding":
            body = text.encode("cp1252", errors="replace")
        elif fault.kind == "mislabelled-latin1":
            body = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1).encode()
            return web.Response(
                body=body, headers={"Content-Type": f"{content_type}; charset=ISO-8859-1"}
            )
        elif fault.kind == "html":
            home = self._render("/")
            assert home is not None
            body = home.body
        elif fault.kind == "empty":
            body = b""
        else:
            body = hashlib.sha512(path.encode()).digest() * 64 + b"\x00\xff\xfe"
        return web.Response(body=body, headers={"Content-Type": f"{content_type}; charset=UTF-8"})

    async def _respond(
        self,
        request: web.Request,
        record: RequestRecord,
        rendered: _Rendered,
        fault: Fault | None,
    ) -> web.StreamResponse:
        headers: dict[str, str] = {"Content-Type": rendered.content_type, "Vary": "Accept-Encoding"}
        etag = '"' + hashlib.sha1(rendered.body).hexdigest()[:20] + '"'
        last_modified = (
            format_datetime(rendered.last_modified, usegmt=True) if rendered.last_modified else None
        )
        if self.hub_url and rendered.content_type.startswith(_FEED_TYPES):
            headers["Link"] = f'<{self.hub_url}>; rel="hub", <{request.url}>; rel="self"'
        if self.send_validators:
            headers["ETag"] = etag
            if last_modified:
                headers["Last-Modified"] = last_modified
        if (
            self.send_validators
            and self.honour_conditional_get
            and request.method in ("GET", "HEAD")
            and _not_modified(record, etag, rendered.last_modified)
        ):
            del headers["Content-Type"]
            return web.Response(status=304, headers=headers)

        body = rendered.body
        accepts = request.headers.get("Accept-Encoding", "").lower()
        if (
            self.gzip_responses
            and "gzip" in accepts
            and not headers["Content-Type"].startswith("image/")
        ):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            return web.Response(headers=headers)
        if not isinstance(fault, Trickle):
            return web.Response(body=body, headers=headers)

        response = web.StreamResponse(headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        for start in range(0, len(body), fault.chunk_size):
            await response.write(body[start : start + fault.chunk_size])
            await asyncio.sleep(fault.interval)  # simulated slow network, not synchronisation
        await response.write_eof()
        return response


def _not_modified(record: RequestRecord, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    if record.if_none_match is not None:
        candidates = [tag.strip().removeprefix("W/") for tag in record.if_none_match.split(",")]
        return "*" in candidates or etag in candidates
    if record.if_modified_since is not None and last_modified is not None:
        try:
            since = parsedate_to_datetime(record.if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


@cache
def pathological_page() -> bytes:
    """5 MB (just under the extractor's 5 MiB cap) of short paragraphs: trafilatura and then
    its own fallbacks take tens of seconds on it.

    Well-formed and innocent-looking; its size alone makes extraction slow, so it stays slow
    even once every parser is linear.
    """
    paragraph = "<p>Some words in a paragraph that goes on, and on.</p>\n"
    count = 5_000_000 // len(paragraph)
    head = "<!DOCTYPE html>\n<html><head><title>Everything</title></head><body><article>\n"
    return (head + paragraph * count + "</article></body></html>\n").encode()


@cache
def pathological_home_page() -> bytes:
    """A home page that declares one feed, `pathological_feed`, after 8,000 unclosed `<base`
    tags (once quadratic for the feed-link scan, now read in one pass of the head)."""
    link = f'<link rel="alternate" type="application/rss+xml" href="{PATHOLOGICAL_FEED_PATH}">'
    return f"<!DOCTYPE html>\n<html><head><title>Mirror</title>\n{link}\n{'<base ' * 8000}".encode()


@cache
def pathological_feed() -> bytes:
    """A well-formed RSS feed of about 45,000 tiny items, just under the 5 MiB feed cap: every
    parser is linear on it, but feedparser still takes seconds of CPU (about 2 µs a byte)."""
    item = "<item><title>Item {n}</title><link>/mirror/{n}</link><category>c</category></item>"
    items = "".join(item.format(n=n) for n in range(45_000))
    channel = f"<channel><title>Everything</title><link>/mirror/</link>{items}</channel>"
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0">{channel}</rss>'.encode()


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("the news site only takes aware datetimes")


@cache
def _gzip_bomb(inflated_size: int) -> bytes:
    """Gzip of an RSS prefix followed by `inflated_size` spaces, built without holding it all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31 = gzip container
    parts = [compressor.compress(b'<?xml version="1.0"?><rss version="2.0"><channel>')]
    block = b" " * MiB
    remaining = inflated_size
    while remaining > 0:
        parts.append(compressor.compress(block[: min(remaining, MiB)]))
        remaining -= MiB
    parts.append(compressor.flush())
    return b"".join(parts)


@cache
def _tiny_png() -> bytes:
    """A valid 1x1 grey PNG, so image URLs in feeds resolve to a real image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        payload = kind + data
        return struct.pack(">I", len(data)) + payload + struct.pack(">I", zlib.crc32(payload))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


_CHALLENGE_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    b'<meta http-equiv="refresh" content="390"></head><body>'
    b"<h1>Checking if the site connection is secure</h1>"
    b"<p>Enable JavaScript and cookies to continue</p>"
    b'<noscript><div id="challenge-error-text">Enable JavaScript and cookies to continue'
    b"</div></noscript></body></html>"
)
