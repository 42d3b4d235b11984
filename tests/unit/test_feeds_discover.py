"""Discovery pieces: feed links in pages, usual feed paths, and telling pages from feeds."""

from __future__ import annotations

import pytest

from bot.feeds import fallback_paths, find_feed_links, looks_like_html

PAGE = """<!DOCTYPE html>
<html><head>
<title>The Red Weekly</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Feed" href="https://redweekly.example/feed/">
<link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">
<LINK REL="Alternate" TYPE="application/atom+xml" HREF="/atom.xml"/>
<link rel="alternate" type="application/feed+json" href="feed.json">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="https://redweekly.example/feed/">
<link rel="alternate" type="application/rss+xml">
</head><body><a href="/feed/other">not a link tag</a></body></html>
"""


def test_find_feed_links_in_page_order_absolute_and_deduplicated() -> None:
    found = find_feed_links(PAGE, "https://redweekly.example/2025/06/story/")
    assert found == [
        "https://redweekly.example/feed/",
        "https://redweekly.example/comments/feed/",
        "https://redweekly.example/atom.xml",
        "https://redweekly.example/2025/06/story/feed.json",
    ]


def test_find_feed_links_accepts_bytes_and_honours_base_href() -> None:
    page = (
        b'<html><head><base href="https://cdn.example/site/">'
        b'<link rel="alternate" type="application/json" href="f.json"></head></html>'
    )
    assert find_feed_links(page, "https://site.example/") == ["https://cdn.example/site/f.json"]


@pytest.mark.parametrize("page", ["", "<html>", "<<<>>>", "\x00\xff", "<link rel=alternate"])
def test_find_feed_links_on_junk_finds_nothing(page: str) -> None:
    assert find_feed_links(page, "https://x.example/") == []


def test_fallback_paths_start_at_the_site_root() -> None:
    assert fallback_paths("https://redweekly.example/section/news?x=1") == [
        "https://redweekly.example/feed/",
        "https://redweekly.example/rss/",
        "https://redweekly.example/feed.xml",
        "https://redweekly.example/atom.xml",
        "https://redweekly.example/index.xml",
        "https://redweekly.example/rss.xml",
        "https://redweekly.example/?feed=rss2",
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (PAGE.encode(), "text/html", True),
        (PAGE.encode(), None, True),
        (b"<html><body>hi</body></html>", "application/xml", True),
        (b"\n\n  <!doctype HTML><p>x", None, True),
        (b'<?xml version="1.0"?><rss version="2.0"></rss>', "text/html", False),
        (b"<!-- <html> --><feed xmlns='http://www.w3.org/2005/Atom'/>", "text/html", False),
        (b"<rdf:RDF xmlns:rdf='x'></rdf:RDF>", "text/html", False),
        ('<?xml version="1.0"?><rss/>'.encode("utf-16"), "text/html", False),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "text/html", False),
        (b"something unknown", "text/html", True),
        (b"something unknown", "application/xml", False),
    ],
)
def test_looks_like_html(body: bytes, content_type: str | None, expected: bool) -> None:
    assert looks_like_html(body, content_type) is expected
