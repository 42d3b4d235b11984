"""Identity: canonical URLs and entry keys that survive edits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from bot.feeds import canonical_url, entry_key, identity, parse_feed, resolve_http_url

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4", "https://example.com/a"),
        ("https://example.com/?p=4182&utm_source=rss", "https://example.com/?p=4182"),
        ("https://example.com/?z=1&a=2&m=3", "https://example.com/?a=2&m=3&z=1"),
        ("https://example.com/?ref=main", "https://example.com/?ref=main"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("not a url", "not a url"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_two_section_feeds_reach_one_article() -> None:
    via_politics = "https://Paper.example/2025/06/story/?utm_source=politics-feed#more"
    via_housing = "https://paper.example:443/2025/06/story/?utm_source=housing-feed"
    assert canonical_url(via_politics) == canonical_url(via_housing)


@given(urls())
def test_canonical_url_is_idempotent_on_urls(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@given(st.text())
def test_canonical_url_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a", "https://x.example/feed/", "https://x.example/a"),
        ("b", "https://x.example/feed/", "https://x.example/feed/b"),
        ("HTTP://X.example/c", "https://x.example/", "http://X.example/c"),
        ("javascript:alert(1)", "https://x.example/", None),
        ("data:text/html,hi", "https://x.example/", None),
        ("ftp://x.example/f", "https://x.example/", None),
        ("http://", "https://x.example/", None),
        ("http://x.example:99999/", "https://x.example/", None),
        ("", "https://x.example/", None),
        (None, "https://x.example/", None),
    ],
)
def test_resolve_http_url(link: str | None, base: str, expected: str | None) -> None:
    assert resolve_http_url(link, base) == expected


def test_key_prefers_guid_then_link_then_hash() -> None:
    with_guid = entry_key(guid="abc", link="https://x.example/a", title="T", content="C")
    with_link = entry_key(guid=None, link="https://x.example/a", title="T", content="C")
    with_neither = entry_key(guid="  ", link=None, title="T", content="C")
    assert with_guid == "guid:abc"
    assert with_link == "url:https://x.example/a"
    assert with_neither.startswith("hash:")
    assert with_neither != entry_key(guid=None, link=None, title="T", content="D")


def test_key_of_a_link_is_canonical() -> None:
    plain = entry_key(guid=None, link="https://x.example/a", title="", content="")
    tracked = entry_key(guid=None, link="https://X.example/a?utm_source=z#c", title="", content="")
    assert plain == tracked


def test_very_long_guid_gives_a_bounded_key() -> None:
    key = entry_key(guid="g" * 10_000, link=None, title="", content="")
    assert len(key) < 100 and key.startswith("guid:sha256:")


def rss_item(pub_date: str, description: str, *, guid: str = "", link: str = "") -> bytes:
    return (
        '<rss version="2.0"><channel><title>F</title><item><title>Same story</title>'
        f"{guid}{link}<pubDate>{pub_date}</pubDate><description>{description}</description>"
        "</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("guid", "link"),
    [
        ('<guid isPermaLink="false">https://x.example/?p=7</guid>', ""),
        ("", "<link>https://x.example/story</link>"),
    ],
)
def test_edited_date_and_description_keep_the_key(guid: str, link: str) -> None:
    first = rss_item("Mon, 02 Jun 2025 10:00:00 GMT", "Original text.", guid=guid, link=link)
    edited = rss_item("Tue, 03 Jun 2025 09:00:00 GMT", "Corrected text.", guid=guid, link=link)
    before = parse_feed(first, url="https://x.example/feed", now=NOW).items[0]
    after = parse_feed(edited, url="https://x.example/feed", now=NOW).items[0]
    assert before.published != after.published and before.summary != after.summary
    assert before.key == after.key


_URL_PIECES = st.sampled_from(
    ["http", "https", "HTTP", "://", "/", ":", "80", "443", "0", "08080", "8080", "99999",
     "a", "B", "example", ".", "-", "xn--bcher-kva", "é", "%2f", "%2F", "?", "#", "&", "=",
     "utm_source", "p", "1", "@", "user", "[::1]", "~", "'", "(", ";", " ", "\t", "//"]
)  # fmt: skip


_URL_SHAPED = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "Http"]),
    st.lists(_URL_PIECES, min_size=1, max_size=4).map("".join),
    st.sampled_from(["", ":80", ":443", ":8080", ":080", ":65536", ":0", ":"]),
    st.lists(_URL_PIECES, max_size=8).map("".join),
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.lists(_URL_PIECES, max_size=14).map("".join), _URL_SHAPED, urls()))
def test_the_shortcut_for_canonical_urls_gives_what_the_full_rules_give(url: str) -> None:
    """canonical_url returns a URL unchanged when it already looks canonical; on any input that
    must be exactly what splitting and rejoining it by the full rules gives."""
    assert canonical_url(url) == identity._canonical_by_the_rules(url.strip())


def test_the_shortcut_keeps_the_rules_for_default_and_padded_ports() -> None:
    assert canonical_url("http://a.example:80/x") == "http://a.example/x"
    assert canonical_url("https://a.example:443/") == "https://a.example/"
    assert canonical_url("http://a.example:080/x") == "http://a.example/x"
    assert canonical_url("http://a.example:8080/x") == "http://a.example:8080/x"
    assert canonical_url("https://a.example/story-1/") == "https://a.example/story-1/"
