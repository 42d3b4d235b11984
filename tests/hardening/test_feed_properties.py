"""Property-based hostile feeds: random structure, encodings, dates, sizes and nesting.

Whatever hypothesis builds, parsing gives a clear FeedError or clean items, every rendering of
them is sendable, and one document costs bounded CPU time and memory. `PAPERBOY_SOAK=1` runs many
more examples.

Documents run to hundreds of kilobytes, and hypothesis refuses (with a warning that
`filterwarnings = error` turns into an error hiding the real failure) to print an example whose
repr passes 30,000 characters. So each document is a `Document` that prints as a short
description (kind, sizes, digest, opening bytes), and a failure prints the `@reproduce_failure`
blob that replays the exact document.
"""

from __future__ import annotations

import hashlib
import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.errors import FeedError
from bot.feeds import parse_feed
from bot.feeds.parse import EARLIEST_DATE
from tests.hardening.support import (
    NOW,
    SOAK,
    announcement_of,
    plan_problems,
    render_everywhere,
    text_problems,
)

EXAMPLES = 2000 if SOAK else 40
MAX_CPU_SECONDS_PER_DOCUMENT = 5.0
"""CPU time of this thread (not wall time, so other work on the machine does not count), without
tracemalloc running. Typical documents take well under a second."""
MAX_MEMORY_PER_DOCUMENT = 64 * 1024 * 1024
"""Peak Python allocation while parsing and rendering one document of at most ~1 MB."""
DRAWN_ITEMS = 8
"""Items of an XML feed drawn in full; the rest of a long feed are small plain items. Keeps a
document to tens of kilobytes: when its declared encoding is wrong, feedparser hands the whole
body to chardet, whose cost grows with every byte (tenfold under tracemalloc)."""
MAX_EXAMPLE_REPR = 2000
"""Characters a printed example may take (hypothesis gives up at 30,000)."""
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    print_blob=True,  # the exact failing document, since its printed form is only a summary
    deadline=None,  # time is bounded below on CPU time, which a busy machine does not inflate
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # Shrinking documents of hundreds of KB can take many minutes (and swallows the per-test
    # timeout); a failure is reported with the example as generated. Shrink locally if needed.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

# Text from every corner of Unicode, with the characters feeds really abuse mixed in.
HOSTILE_PIECES = st.sampled_from(
    ["\x00", "\x07", "\x1b[31m", "\u202e", "\u2066", "\ufeff", "\r\n", "\u0085", "@everyone",
     "<@&1>", "<#2>", "**", "`", "||", "# ", "> ", "&amp;", "&#0;", "&#x202e;", "&nbsp;",
     "]]>", "<script>alert(1)</script>", "<b>", "\ud800", "👩‍👩‍👧‍👦", "e\u0301", "&bogus;"]
)  # fmt: skip
TEXT = st.lists(st.one_of(st.text(max_size=40), HOSTILE_PIECES), max_size=12).map("".join)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "utf-16-le", "latin-1", "cp1252", "koi8-r"])
DECLARED = st.one_of(st.none(), ENCODINGS, st.sampled_from(["bogus-9", "utf-32", ""]))


class Document:
    """A generated feed document that prints as a short description, not its whole body."""

    __slots__ = ("body", "headers", "recipe")

    def __init__(self, body: bytes, headers: dict[str, str], recipe: str) -> None:
        self.body, self.headers, self.recipe = body, headers, recipe

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.body).hexdigest()[:16]
        return (
            f"Document({self.recipe}, {len(self.body)} bytes, sha256 {digest}, "
            f"headers={self.headers!r}, starts {self.body[:160]!r})"
        )


def dates() -> st.SearchStrategy[str]:
    """Dates in RFC 822, ISO 8601 and nonsense, from year 1 to 9999."""
    # hypothesis takes naive bounds and attaches the zone itself.
    earliest, latest = datetime(1, 1, 2), datetime(9999, 12, 30)  # noqa: DTZ001
    moment = st.datetimes(min_value=earliest, max_value=latest, timezones=st.just(UTC))
    return st.one_of(
        moment.map(lambda m: format_datetime(m, usegmt=True)),
        moment.map(lambda m: m.isoformat()),
        st.sampled_from(["", "0", "yesterday", "Mon, 31 Feb 2026 25:61:61 +9999", "-1"]),
        TEXT,
    )


@st.composite
def nested(draw: st.DrawFn, deepest: int = 50) -> str:
    """An HTML fragment, possibly nested `deepest` deep or left unclosed."""
    depth = draw(st.sampled_from([0, 1, 5, deepest]))
    tag = draw(st.sampled_from(["div", "b", "blockquote", "ul><li", "p", "x:unknown"]))
    closed = draw(st.booleans())
    inner = escape(draw(TEXT))
    closing = "".join(f"</{tag.split('><')[-1]}>" for _ in range(depth)) if closed else ""
    return f"<{tag}>" * depth + inner + closing


def wrap(text: str, mode: str) -> str:
    """Insert text escaped, inside CDATA, or raw (which may break the document on purpose)."""
    if mode == "escaped":
        return escape(text)
    if mode == "cdata":
        return "<![CDATA[" + text + "]]>"
    return text


@st.composite
def xml_feeds(draw: st.DrawFn) -> Document:
    """An RSS, Atom or RDF document with random items, then encoded in some encoding."""
    kind = draw(st.sampled_from(["rss", "atom", "rdf"]))
    mode = st.sampled_from(["escaped", "escaped", "cdata", "raw"])
    count = draw(st.sampled_from([0, 1, 3, 20, 60]))
    items = []
    for index in range(min(count, DRAWN_ITEMS)):
        title = wrap(draw(TEXT), draw(mode))
        # One item may nest thousands deep; all of them doing so would only make it slow to test.
        body = wrap(draw(nested(1000 if index == 0 else 50)), draw(mode))
        link = escape(draw(st.one_of(st.just("https://paper.example/a"), TEXT)))
        date = escape(draw(dates()))
        image = escape(draw(st.one_of(st.just("/img.png"), TEXT)))
        if kind == "atom":
            items.append(
                f"<entry><title type='html'>{title}</title><link href='{link}'/>"
                f"<id>{link}</id><updated>{date}</updated><content type='html'>{body}</content>"
                f"<category term='{escape(draw(TEXT), {chr(39): '&#39;'})}'/></entry>"
            )
        else:
            items.append(
                f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{date}</pubDate><description>{body}</description>"
                f"<category>{wrap(draw(TEXT), draw(mode))}</category>"
                f"<media:content url='{image}' medium='image'/></item>"
            )
    # Many plain items stand in for long feeds without drawing each one.
    plain = "<entry><title>a</title></entry>" if kind == "atom" else "<item><title>a</title></item>"
    items += [plain] * max(0, count - DRAWN_ITEMS)
    title = wrap(draw(TEXT), draw(mode))
    if kind == "atom":
        document = (
            "<feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{title}</title>{''.join(items)}</feed>"
        )
    elif kind == "rss":
        document = (
            "<rss version='2.0' xmlns:media='http://search.yahoo.com/mrss/'><channel>"
            f"<title>{title}</title><link>https://paper.example/</link>{''.join(items)}"
            "</channel></rss>"
        )
    else:
        document = (
            "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
            "xmlns='http://purl.org/rss/1.0/'><channel><title>"
            f"{title}</title></channel>{''.join(items)}</rdf:RDF>"
        )
    declared = draw(DECLARED)
    prolog = f"<?xml version='1.0' encoding='{declared}'?>" if declared is not None else ""
    actual = draw(ENCODINGS)
    body = (prolog + document).encode(actual, "surrogatepass" if "utf" in actual else "replace")
    headers = {}
    if draw(st.booleans()):
        charset = draw(st.one_of(ENCODINGS, st.just("nonsense")))
        headers["Content-Type"] = f"application/{kind}+xml; charset={charset}"
    recipe = f"{kind}, {count} items, declared {declared!r}, encoded {actual}"
    return Document(body, headers, recipe)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)


@st.composite
def json_feeds(draw: st.DrawFn) -> Document:
    """A JSON Feed whose fields hold values of any JSON type."""
    keys = ["id", "url", "title", "content_html", "content_text", "summary", "image",
            "date_published", "date_modified", "authors", "tags", "external_url"]  # fmt: skip
    items = []
    for _ in range(draw(st.integers(0, 8))):
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
        item: dict[str, Any] = {}
        for key in chosen:
            item[key] = draw(st.one_of(JSON_VALUES, TEXT, dates()))
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": draw(st.one_of(TEXT, JSON_VALUES)),
        "items": draw(st.one_of(st.just(items), JSON_VALUES)),
    }
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([0, 0, 10, 100_000]))
    text = text[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}" if depth else text
    body = text.encode("utf-8", "surrogatepass")
    recipe = f"JSON Feed, {len(items)} items, nested {depth} deep"
    return Document(body, {"Content-Type": "application/feed+json"}, recipe)


def parse_and_render(body: bytes, headers: dict[str, str]) -> list[str]:
    """What the bot does with a fetched document; the problems found in its output."""
    try:
        feed = parse_feed(body, url="https://paper.example/feed/", headers=headers, now=NOW)
    except FeedError as error:
        problems = [] if error.kind in ("not-a-feed", "parse-error") else [f"kind {error.kind}"]
        return problems if str(error).endswith(".") else [*problems, f"sentence: {error}"]
    problems = text_problems(feed)
    for index, item in enumerate(feed.items):
        if item.date is not None and not EARLIEST_DATE <= item.date <= NOW + timedelta(days=2):
            problems.append(f"item {index}: date {item.date} out of range")
        for plan in render_everywhere(announcement_of(item, feed, index + 1)):
            problems += plan_problems(plan)
    return problems


def check_document(body: bytes, headers: dict[str, str]) -> None:
    """Parse and render one document within bounded CPU time and memory; check every output.

    Time and memory are measured in separate runs: tracemalloc slows allocation-heavy code
    (chardet's byte-by-byte encoding guess) about tenfold, so CPU time measured under it says
    more about tracemalloc than about the parser.
    """
    started = time.thread_time()
    problems = parse_and_render(body, headers)
    spent = time.thread_time() - started
    assert problems == []
    assert spent < MAX_CPU_SECONDS_PER_DOCUMENT, f"{spent:.1f} s of CPU for one document"
    tracemalloc.start()
    try:
        parse_and_render(body, headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_MEMORY_PER_DOCUMENT, f"peak {peak / 2**20:.0f} MiB for one document"


@PROPERTY_SETTINGS
@given(xml_feeds())
def test_random_xml_feeds_parse_or_refuse_and_render_cleanly(document: Document) -> None:
    check_document(document.body, document.headers)


@PROPERTY_SETTINGS
@given(json_feeds())
def test_random_json_feeds_parse_or_refuse_and_render_cleanly(document: Document) -> None:
    check_document(document.body, document.headers)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(xml_feeds(), json_feeds()))
def test_a_failing_document_can_be_printed(document: Document) -> None:
    """However large the document, its printed form stays far below hypothesis's limit."""
    assert len(repr(document)) <= MAX_EXAMPLE_REPR


@PROPERTY_SETTINGS
@given(st.binary(max_size=4096), st.sampled_from(["application/rss+xml", "text/html", ""]))
def test_random_bytes_are_refused_or_parsed_cleanly(body: bytes, content_type: str) -> None:
    check_document(body, {"Content-Type": content_type} if content_type else {})
