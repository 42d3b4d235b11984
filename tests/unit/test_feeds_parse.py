"""parse_feed: what is a feed, what is not, and how items are normalised."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import FeedError
from bot.feeds import parse_feed
from tests.unit.support import check_output

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
URL = "https://paper.example/feed/"


def rss(items: str, *, channel: str = "<title>Paper</title>") -> bytes:
    document = f'<?xml version="1.0"?><rss version="2.0"><channel>{channel}{items}</channel></rss>'
    return document.encode()


def item(title: str, *, date: str | None = None, extra: str = "") -> str:
    pub = f"<pubDate>{date}</pubDate>" if date else ""
    slug = "".join(c for c in title.lower() if c.isalnum())
    return (
        f"<item><title>{title}</title><link>https://paper.example/{slug}</link>{pub}{extra}</item>"
    )


def test_web_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    with pytest.raises(FeedError) as caught:
        parse_feed(page, url=URL, now=NOW, headers={"Content-Type": "text/html; charset=utf-8"})
    assert caught.value.kind == "not-a-feed"
    assert "web page, not a feed" in str(caught.value)


def test_feed_served_as_text_html_still_parses() -> None:
    feed = parse_feed(rss(item("One")), url=URL, now=NOW, headers={"Content-Type": "text/html"})
    assert [i.title for i in feed.items] == ["One"]


@pytest.mark.parametrize("body", [b"", b"   \n", b"plain words, no markup", b"/etc/passwd"])
def test_non_documents_are_not_feeds(body: bytes) -> None:
    # b"/etc/passwd" matters: feedparser would open bytes that name a file; we never let it.
    with pytest.raises(FeedError) as caught:
        parse_feed(body, url=URL, now=NOW)
    assert caught.value.kind == "not-a-feed"


def test_broken_feed_without_items_or_title_is_a_parse_error() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(b'<rss version="2.0"><channel><ti', url=URL, now=NOW)
    assert caught.value.kind == "parse-error"


def test_broken_feed_that_still_has_items_is_accepted_as_bozo() -> None:
    body = rss(item("Kept") + "<item><title>Broken & unescaped</title></item>")
    feed = parse_feed(body, url=URL, now=NOW, headers={"Content-Type": "application/rss+xml"})
    assert feed.bozo
    assert "Kept" in [i.title for i in feed.items]


def test_well_formed_feed_is_not_bozo_even_without_content_type() -> None:
    assert not parse_feed(rss(item("A")), url=URL, now=NOW).bozo


def test_empty_but_valid_feed_has_no_items() -> None:
    feed = parse_feed(rss(""), url=URL, now=NOW)
    assert feed.title == "Paper" and feed.items == ()


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_feed(rss(""), url=URL, now=datetime(2025, 1, 1))  # noqa: DTZ001


def test_titles_are_unescaped_once_and_stripped_of_tags() -> None:
    body = rss(
        item("<![CDATA[AT&amp;amp;T &lt;b&gt;]]>")
        + item("&lt;em&gt;Bold&lt;/em&gt; move &amp;amp; more")
        + item("x &lt; y")
    )
    titles = [i.title for i in parse_feed(body, url=URL, now=NOW).items]
    assert titles == ["AT&amp;T <b>", "Bold move & more", "x < y"]


def test_titles_lose_controls_and_bidi_but_keep_text() -> None:
    body = rss(item("Line\u202e one\x07 @everyone"))
    assert parse_feed(body, url=URL, now=NOW).items[0].title == "Line one @everyone"


def test_dates_are_aware_utc_and_absurd_ones_dropped() -> None:
    soon = (NOW + timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = rss(
        item("Offset", date="Mon, 09 Jun 2025 14:00:00 +0200")
        + item("Tomorrow", date=soon)
        + item("Next year", date="Wed, 10 Jun 2026 12:00:00 GMT")
        + item("Nineteen eighties", date="Fri, 01 Jan 1988 00:00:00 GMT")
        + item("Nonsense", date="the day after the revolution")
    )
    items = {i.title: i.published for i in parse_feed(body, url=URL, now=NOW).items}
    assert items["Offset"] == datetime(2025, 6, 9, 12, 0, tzinfo=UTC)
    assert items["Tomorrow"] == NOW + timedelta(days=1)
    assert items["Next year"] is None
    assert items["Nineteen eighties"] is None
    assert items["Nonsense"] is None


def test_dated_items_come_newest_first() -> None:
    body = rss(
        item("Old", date="Mon, 02 Jun 2025 10:00:00 GMT")
        + item("New", date="Mon, 09 Jun 2025 10:00:00 GMT")
        + item("Middle", date="Thu, 05 Jun 2025 10:00:00 GMT")
    )
    assert [i.title for i in parse_feed(body, url=URL, now=NOW).items] == ["New", "Middle", "Old"]


def test_undated_items_keep_document_order() -> None:
    body = rss(item("B", date="Mon, 09 Jun 2025 10:00:00 GMT") + item("A") + item("C"))
    assert [i.title for i in parse_feed(body, url=URL, now=NOW).items] == ["B", "A", "C"]


def test_only_the_newest_max_items_are_kept() -> None:
    entries = "".join(
        item(f"Day {day}", date=f"{day:02d} May 2025 10:00:00 GMT") for day in range(1, 31)
    )
    feed = parse_feed(rss(entries), url=URL, now=NOW, max_items=3)
    assert [i.title for i in feed.items] == ["Day 30", "Day 29", "Day 28"]


def test_images_in_order_of_trust() -> None:
    media = 'xmlns:media="http://search.yahoo.com/mrss/"'
    body = (
        f'<rss version="2.0" {media}><channel><title>P</title>'
        + item("Media", extra='<media:content url="/m.jpg" medium="image"/>')
        + item("Video only", extra='<media:content url="/v.mp4" type="video/mp4"/>')
        + item("Enclosure", extra='<enclosure url="https://cdn.example/e.png" type="image/png"/>')
        + item(
            "Inline", extra="<description>&lt;img src='i.webp?a=1&amp;amp;b=2'&gt;</description>"
        )
        + item("Unsafe", extra="<description>&lt;img src='javascript:x'&gt;</description>")
        + "</channel></rss>"
    ).encode()
    images = {i.title: i.image_url for i in parse_feed(body, url=URL, now=NOW).items}
    assert images == {
        "Media": "https://paper.example/m.jpg",
        "Video only": None,
        "Enclosure": "https://cdn.example/e.png",
        "Inline": "https://paper.example/feed/i.webp?a=1&b=2",
        "Unsafe": None,
    }


def test_summary_falls_back_to_the_start_of_the_content() -> None:
    content_ns = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    long_text = "word " * 400
    body = (
        f'<rss version="2.0" {content_ns}><channel><title>P</title>'
        + item("Long", extra=f"<content:encoded><![CDATA[<p>{long_text}</p>]]></content:encoded>")
        + "</channel></rss>"
    ).encode()
    parsed = parse_feed(body, url=URL, now=NOW).items[0]
    assert parsed.summary.endswith("…") and len(parsed.summary) <= 600
    assert parsed.content_html.startswith("<p>word word")


def test_huge_title_is_capped() -> None:
    body = rss(item("word " * 10_000))
    assert len(parse_feed(body, url=URL, now=NOW).items[0].title) <= 500


def test_categories_are_cleaned_and_deduplicated() -> None:
    cats = "".join(
        f"<category><![CDATA[{c}]]></category>" for c in ["News &amp; Views", "news & views", " "]
    )
    body = rss(item("C", extra=cats))
    assert parse_feed(body, url=URL, now=NOW).items[0].categories == ("News & Views",)


def json_feed(items: list[object], version: str = "https://jsonfeed.org/version/1") -> bytes:
    return json.dumps({"version": version, "title": "J", "items": items}).encode()


def test_json_feed_1_0_is_read_and_detected_without_content_type() -> None:
    body = json_feed([{"id": "1", "url": "https://j.example/1", "title": "First"}])
    feed = parse_feed(body, url="https://j.example/feed.json", now=NOW)
    assert feed.format == "json1" and feed.items[0].key == "guid:1"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"hello": "world"}', "not-a-feed"),
        (b"[1, 2, 3]", "not-a-feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": ', "parse-error"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "parse-error"),
        (b"{" + b'"a":[' * 100_000, "parse-error"),
        (
            b'{"version": "https://jsonfeed.org/version/1", "n": ' + b"9" * 10_000 + b"}",
            "parse-error",
        ),
    ],
)
def test_bad_json_gives_a_clear_feed_error(body: bytes, kind: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(body, url=URL, now=NOW, headers={"Content-Type": "application/json"})
    assert caught.value.kind == kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2_000))
def test_random_bytes_give_a_feed_or_a_feed_error(body: bytes) -> None:
    try:
        feed = parse_feed(body, url=URL, now=NOW)
    except FeedError as error:
        assert error.kind in ("not-a-feed", "parse-error") and str(error).endswith(".")
        return
    check_output(feed)


FRAGMENTS = [
    b'<?xml version="1.0"?>', b"<rss version='2.0'>", b"<channel>", b"<item>", b"</item>",
    b"<title>", b"</title>", b"<link>", b"</link>", b"<feed xmlns='http://www.w3.org/2005/Atom'>",
    b"<entry>", b"<!DOCTYPE rss [", b'<!ENTITY e "x">', b"]>", b"&e;", b"&amp;", b"<![CDATA[",
    b"]]>", b"\x00", b"\xff\xfe", b"\xe2\x80\xae", b"{", b'"version":', b"<img src='", b"'>",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=20), max_size=40))
def test_feed_shaped_noise_gives_a_feed_or_a_feed_error(parts: list[bytes]) -> None:
    try:
        feed = parse_feed(b"".join(parts), url=URL, now=NOW)
    except FeedError as error:
        assert error.kind in ("not-a-feed", "parse-error") and str(error).endswith(".")
        return
    check_output(feed)


def test_json_feed_lone_surrogates_become_replacement_characters() -> None:
    # Found by the hardening property tests: "\ud800" in JSON crashed feedparser's sanitizer.
    document = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [{"id": "1",'
        b' "title": "\\udfff Title", "content_html": "<p>\\ud800</p>"}]}'
    )
    feed = parse_feed(document, url=URL, now=NOW, headers={"Content-Type": "application/feed+json"})
    [entry] = feed.items
    assert entry.title == "\ufffd Title"
    assert "\ufffd" in entry.content_html
    check_output(feed)


WRONGLY_TYPED = [1.2, 1000, True, None, ["https://j.example/x"], {"href": "https://j.example/x"}]


@pytest.mark.parametrize("value", WRONGLY_TYPED, ids=repr)
def test_json_feed_fields_of_the_wrong_type_are_dropped_not_coerced(value: object) -> None:
    # "url": 1.2 once became https://j.example/1.2 and "title": 1000 the title "1000".
    wrong = {
        "url": value,
        "external_url": value,
        "title": value,
        "summary": value,
        "content_html": value,
        "content_text": value,
        "image": value,
        "banner_image": value,
        "tags": [value, "Kept"],
        "authors": [{"name": value}, {"name": "Ann"}],
        "date_published": value,
    }
    body = json_feed([{"id": "a", **wrong}, {"id": "b", "title": "Fine"}])
    document = {**json.loads(body), "title": value, "home_page_url": value, "icon": value}
    feed = parse_feed(json.dumps(document).encode(), url="https://j.example/feed.json", now=NOW)
    first = next(entry for entry in feed.items if entry.key == "guid:a")
    assert (first.url, first.title, first.summary, first.content_html) == (None, "", "", "")
    assert (first.image_url, first.published, first.categories) == (None, None, ("Kept",))
    assert first.author == "Ann"
    assert (feed.title, feed.site_url, feed.icon_url) == ("", None, None)


@pytest.mark.parametrize(("value", "key"), [(7, "guid:7"), (1.5, "guid:1.5"), ("x", "guid:x")])
def test_json_feed_numeric_ids_are_coerced_as_the_spec_says(value: object, key: str) -> None:
    body = json_feed([{"id": value, "title": "T", "url": "https://j.example/t"}])
    assert parse_feed(body, url=URL, now=NOW).items[0].key == key


@pytest.mark.parametrize("label", ["punycode", "utf-7", "rot13", "nonsense"])
@pytest.mark.parametrize("title", ["Left-right +AEA- news", "Caf\u00e9-\u00e9t\u00e9 +AEA-"])
def test_a_feed_declaring_a_codec_outside_the_whatwg_list_is_read_as_utf8(
    label: str, title: str
) -> None:
    # feedparser alone honours any codec Python knows: on an ASCII feed punycode garbles the
    # text (quadratic in time), utf-7 turns "+AEA-" into "@", rot13 rotates every letter.
    body = rss(item(title)).replace(
        b'<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{label}"?>'.encode()
    )
    for headers in ({}, {"Content-Type": f"application/rss+xml; charset={label}"}):
        assert parse_feed(body, url=URL, now=NOW, headers=headers).items[0].title == title


@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        ('<?xml version="1.0" encoding="windows-1252"?>', None),
        ('<?xml version="1.0"?>', "application/rss+xml; charset=windows-1252"),
        ('<?xml version="1.0" encoding="utf-8"?>', "text/xml; charset=latin1"),
        ("", "text/xml; charset=iso-8859-1"),
    ],
)
def test_legacy_feeds_decode_in_the_whatwg_order(
    declaration: str, content_type: str | None
) -> None:
    document = rss(item("x")).decode().replace('<?xml version="1.0"?>', declaration)
    body = document.replace("<title>x</title>", "<title>\u201cCaf\u00e9\u201d</title>")
    headers = {"Content-Type": content_type} if content_type else {}
    feed = parse_feed(body.encode("cp1252"), url=URL, now=NOW, headers=headers)
    assert feed.items[0].title == "\u201cCaf\u00e9\u201d"


@pytest.mark.parametrize("fast", [False, True], ids=["feedparser", "fast path"])
def test_an_author_holding_a_marked_section_python_cannot_name_is_text(fast: bool) -> None:
    # Authors reach html_to_text unsanitised; Python 3.11's HTMLParser raised AssertionError on
    # "<![ x", and the whole feed failed to read.
    from bot.feeds.fast import parse_feed_fast_or_full

    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<link>https://paper.example/</link><item><title>One</title>"
        b"<link>https://paper.example/1</link><author>&lt;![ x</author>"
        b"<description>Text</description></item></channel></rss>"
    )
    read = parse_feed_fast_or_full if fast else parse_feed
    feed = read(body, url=URL, now=NOW)
    assert [(item.title, item.author) for item in feed.items] == [("One", "<![ x")]
