"""Full-text extraction from an article page: trafilatura first, readability-lxml as fallback.

The publisher's own description (og:description, meta description or JSON-LD) is kept apart
from the text so `brief` can use a genuine standfirst. Nothing here touches the network:
trafilatura's `bare_extraction` only parses the HTML it is given.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import lxml.html
from lxml import etree

from bot.articles.boilerplate import strip_boilerplate
from bot.errors import InvalidInput
from bot.textutil import clean_text

if TYPE_CHECKING:
    from bot.workpool import Priority, WorkPool

log = logging.getLogger(__name__)

MAX_HTML_BYTES = 5 * 1024 * 1024
_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "blogposting",
    "reportagenewsarticle",
    "report",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "webpage",
}


@dataclass(frozen=True)
class Extracted:
    """What an article page says about itself, and its main text without boilerplate."""

    url: str
    title: str
    author: str
    published: datetime | None
    description: str
    site_name: str
    image_url: str
    text: str


def _decode(html: str | bytes) -> str:
    if isinstance(html, str):
        return html
    if len(html) > MAX_HTML_BYTES:
        raise InvalidInput("This page is too large to read as an article.")
    match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", html[:4096], re.IGNORECASE)
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return html.decode(encoding, "replace")
    except LookupError:
        return html.decode("utf-8", "replace")


def parse_published(value: str) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 date or timestamp, or None if it is not one."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # A bare date or local time without zone: read as UTC rather than guess the site's zone.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _json_ld_objects(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.append(item["@graph"])
                found.append(item)
    return found


def _ld_type(item: dict[str, Any]) -> set[str]:
    kind = item.get("@type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds}


def _ld_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _ld_text(value.get("name") or value.get("url") or "")
    if isinstance(value, list):
        return ", ".join(t for t in (_ld_text(v) for v in value) if t)
    return ""


def page_metadata(tree: Any) -> dict[str, str]:
    """Title, description, author, date, site name and image the page declares (og, meta, LD)."""
    meta: dict[str, str] = {}
    for element in tree.xpath("//meta[@content]"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        if key and key not in meta:
            meta[key] = element.get("content", "").strip()
    ld: dict[str, str] = {}
    for item in _json_ld_objects(tree):
        if _ld_type(item) & _ARTICLE_TYPES:
            for key in ("headline", "description", "datePublished", "author", "image"):
                if key not in ld and item.get(key):
                    ld[key] = _ld_text(item[key])
            publisher = item.get("publisher")
            if "publisher" not in ld and publisher:
                ld["publisher"] = _ld_text(publisher)
    title_tag = tree.findtext(".//title") or ""
    return {
        "title": meta.get("og:title") or ld.get("headline") or meta.get("twitter:title") or "",
        "title_tag": title_tag,
        "description": meta.get("og:description")
        or meta.get("description")
        or ld.get("description")
        or meta.get("twitter:description")
        or "",
        "author": meta.get("author") or ld.get("author") or meta.get("article:author") or "",
        "published": meta.get("article:published_time")
        or ld.get("datePublished")
        or meta.get("date")
        or meta.get("dc.date")
        or "",
        "site_name": meta.get("og:site_name") or ld.get("publisher") or "",
        "image": meta.get("og:image") or meta.get("twitter:image") or ld.get("image") or "",
    }


def _trafilatura_text(html: str, url: str) -> tuple[str, dict[str, str]]:
    import trafilatura

    document = trafilatura.bare_extraction(
        html,
        url=url or None,
        include_comments=False,
        favor_precision=True,
        include_tables=False,
        include_images=False,
        with_metadata=True,
    )
    if document is None or isinstance(document, dict):
        return "", {}
    found = document.as_dict()
    fields = {key: str(found.get(key) or "") for key in ("title", "author", "date", "sitename")}
    return str(found.get("text") or ""), fields


def _readability_text(html: str) -> tuple[str, str]:
    from readability import Document

    try:
        document = Document(html)
        summary_html = document.summary(html_partial=True)
        title = document.short_title() or ""
    except Exception:  # readability raises bare Exceptions on hopeless pages
        log.debug("readability could not parse the page", exc_info=True)
        return "", ""
    fragment = lxml.html.fromstring(summary_html)
    blocks = fragment.xpath("//p|//h2|//h3|//li|//blockquote")
    parts = [" ".join(block.text_content().split()) for block in blocks]
    if not parts:
        parts = [" ".join(fragment.text_content().split())]
    return "\n".join(part for part in parts if part), title


def _drop_leading_title(text: str, title: str) -> str:
    """Extractors often keep the <h1>; the title is stored on its own, so drop the repeat."""
    first, _, rest = text.partition("\n")
    if title and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest
    return text


def extract_article(html: str | bytes, url: str) -> Extracted:
    """Extract an article's text and metadata from its HTML; raises InvalidInput for non-pages."""
    source = _decode(html)
    if not source.strip():
        raise InvalidInput("The page is empty.")
    try:
        tree = lxml.html.fromstring(source.encode("utf-8", "replace"))
    except (etree.ParserError, ValueError):
        raise InvalidInput("This page is not readable HTML.") from None
    meta = page_metadata(tree)
    text, fields = _trafilatura_text(source, url)
    if not text.strip():
        text, readability_title = _readability_text(source)
        fields.setdefault("title", readability_title)
    title = meta["title"] or fields.get("title", "") or meta["title_tag"]
    text = _drop_leading_title(strip_boilerplate(clean_text(text)), title)
    return Extracted(
        url=url,
        title=clean_text(title, single_line=True),
        author=clean_text(meta["author"] or fields.get("author", ""), single_line=True),
        published=parse_published(meta["published"] or fields.get("date", "")),
        description=clean_text(meta["description"], single_line=True),
        site_name=clean_text(meta["site_name"] or fields.get("sitename", ""), single_line=True),
        image_url=meta["image"].strip(),
        text=text,
    )


async def extract_in_thread(
    html: str | bytes,
    url: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109  (the brief asks for a per-call limit)
    pool: WorkPool | None = None,
    priority: Priority = "system",
) -> Extracted:
    """Extract off the event loop.

    With a `pool` (the bot), in a worker process: past the pool's deadline or memory cap the
    worker is killed and a JobTimedOut or JobOutOfMemory says so; `timeout` is not used. Without
    one (tools and tests), in a thread given `timeout`; InvalidInput when it runs out.
    """
    if pool is not None:
        job = functools.partial(extract_article, html, url)
        return await pool.run(job, priority=priority, what="this page")
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.to_thread(extract_article, html, url)
    except TimeoutError:
        # The thread cannot be killed; it finishes in the background and its result is dropped.
        raise InvalidInput("Reading this page took too long; it may not be an article.") from None
