"""The three feedparser internals bot/feeds uses still behave as bot/feeds expects.

They are not public API: a feedparser release may move or change them. These tests fail first
when it does, before a feed is cleaned differently from RSS or the entity guard is bypassed.
"""

from __future__ import annotations

import feedparser

from bot.feeds._feedparser import absolute_links, sanitize_html


def test_sanitize_html_drops_scripts_and_handlers_like_rss_content() -> None:
    dirty = '<p onclick="steal()">Hi <script>alert(1)</script><a href="/x">there</a></p>'
    clean = sanitize_html(dirty)
    assert "script" not in clean and "onclick" not in clean
    assert clean == '<p>Hi <a href="/x">there</a></p>'
    # The same fragment inside an RSS description gets the same cleaning from parse().
    rss = f"<rss version='2.0'><channel><item><description><![CDATA[{dirty}]]></description></item></channel></rss>"  # noqa: E501
    assert feedparser.parse(rss).entries[0].summary == clean


def test_absolute_links_resolves_against_the_base() -> None:
    resolved = absolute_links('<a href="/news/1">one</a><img src="pic.jpg">', "https://ex.org/a/")
    assert 'href="https://ex.org/news/1"' in resolved
    assert 'src="https://ex.org/a/pic.jpg"' in resolved
