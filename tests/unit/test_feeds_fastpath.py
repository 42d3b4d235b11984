"""Golden tests of the gated fast parse path (bot/feeds/fast.py) against feedparser's path.

Every document the gate admits must give exactly the `ParsedFeed` that `parse_feed` gives; every
document where the two would differ must be refused (and so parsed by feedparser).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp
import pytest
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.feedserver import render_feed
from bot.errors import FeedError
from bot.feeds import parse_feed
from bot.feeds.fast import is_plain_html, parse_feed_fast_or_full, read_fast
from bot.feeds.parse import normalise_feed
from tests.bench.news_site import NewsSite

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "feedparser"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://example.com/feed/"
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def assert_same_as_feedparser(
    body: bytes, *, url: str = URL, headers: dict[str, str] | None = None
) -> bool:
    """Whether the gate admitted `body`; fails when admitted and the results differ."""
    raw = read_fast(body, url=url, headers=headers)
    if raw is None:
        return False
    expected = parse_feed(body, url=url, now=NOW, headers=headers)  # raises = the test fails
    assert normalise_feed(raw, url=url, now=NOW) == expected
    assert parse_feed_fast_or_full(body, url=url, now=NOW, headers=headers) == expected
    return True


def test_every_corpus_document_is_identical_or_refused() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found at {CORPUS} (it is shared, not in the repo)")
    files = sorted(CORPUS.rglob("*.xml"))
    admitted = dict.fromkeys((path.relative_to(CORPUS).parts[0] for path in files), 0)
    for path in files:
        if assert_same_as_feedparser(path.read_bytes()):
            admitted[path.relative_to(CORPUS).parts[0]] += 1
    # Not vacuous: the gate lets a good part of the well-formed corpus through (490 when this
    # was written) and nothing of the broken or entity documents. Of encoding/ it admits one
    # UTF-8 document whose HTML holds a cp1252 character reference; feedparser's sanitiser,
    # which the fast path runs on such HTML, rewrites it the same way on both paths.
    assert admitted["wellformed"] > 400
    assert admitted["illformed"] == admitted["entities"] == 0
    assert admitted["encoding"] <= 1


def test_corpus_with_a_utf8_content_type_header() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found at {CORPUS}")
    admitted = 0
    for path in sorted((CORPUS / "wellformed").rglob("*.xml")):
        kind = "atom" if "atom" in path.parent.name else "rss"
        headers = {"Content-Type": f"application/{kind}+xml; charset=utf-8"}
        admitted += assert_same_as_feedparser(path.read_bytes(), headers=headers)
    assert admitted > 400


@pytest.mark.parametrize("version", [0, 3])
def test_the_farm_feed_takes_the_fast_path(version: int) -> None:
    body = render_feed(7, version, host="site7.farm.test", epoch=NOW - timedelta(hours=1))
    url = "http://site7.farm.test/feed/7.xml"
    assert assert_same_as_feedparser(body, url=url, headers=RSS_HEADERS)
    assert assert_same_as_feedparser(body, url=url)


@pytest.mark.parametrize("image_as_enclosure", [False, True])
async def test_the_news_site_feeds_take_the_fast_path(image_as_enclosure: bool) -> None:
    async with (
        NewsSite(initially_published=12, image_as_enclosure=image_as_enclosure) as site,
        aiohttp.ClientSession() as session,
    ):
        categories = {c for item in site.items for c in item.categories}
        urls = [site.feed_url, site.atom_url, *map(site.category_feed_url, sorted(categories))]
        for url in urls:
            async with session.get(url) as response:
                body = await response.read()
                headers = {"Content-Type": response.headers["Content-Type"]}
            assert assert_same_as_feedparser(body, url=url, headers=headers), url


RSS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Site &amp; co</title>'
    '<atom:link href="https://example.com/feed/" rel="self" type="application/rss+xml"/>'
    "<link>https://example.com/?a=1&amp;b=2</link><description>About it</description>"
    "<image><url>/logo.png</url><title>Site</title><link>https://example.com/</link></image>"
)
ATOM_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
    'xml:lang="en"><title type="html">Site &amp;lt;b&amp;gt;</title>'
    '<subtitle>Plain &amp; simple</subtitle><link rel="ALTERNATE" href="/home"/>'
    "<id>urn:x</id><updated>2025-12-01T00:00:00Z</updated><icon>/i.png</icon>"
)
# Each branch of the fast path, in documents the gate admits; each must match feedparser.
CRAFTED = [
    RSS_HEAD + "<item><title>Fish &amp; chips</title><link>/a?x=1&amp;y=2</link>"
    "<guid>https://example.com/p/1</guid><pubDate>Mon, 01 Dec 2025 10:00:00 GMT</pubDate>"
    "<dc:creator>Ann (ann@example.com)</dc:creator><category domain='x'>A</category>"
    "<category></category><category>&amp;amp; co</category>"
    "<description>&lt;p&gt;Hi &lt;a href='/rel'&gt;there&lt;/a&gt;&lt;/p&gt;</description>"
    '<enclosure url="https://cdn.test/e.jpg" type="image/jpeg" length="1"/>'
    '<media:thumbnail url="https://cdn.test/t.jpg"/>'
    '<media:content url="https://cdn.test/m.jpg" medium="image"/></item>'
    "<item><title>&lt;b&gt;Bold&lt;/b&gt; claims</title><guid>/p/2</guid>"
    "<dc:date>2025-12-01T09:00:00+01:00</dc:date><author>bob@example.com (Bob)</author>"
    "<content:encoded><![CDATA[<p>Body <img src='/i.jpg'> <script>x()</script></p>]]>"
    "</content:encoded></item>"
    '<item><guid isPermaLink="false">tag:1</guid><description>Only &lt;i&gt;text&lt;/i&gt;'
    "</description><content:encoded>&lt;p&gt;Full&lt;/p&gt;</content:encoded></item>"
    "<item><title>Tab\tand\nline</title><link>https://example.com/t</link></item>"
    "</channel></rss>",
    ATOM_HEAD + "<entry><title>Plain &lt;not a tag&gt;</title><id>/e/1</id>"
    "<updated>2025-12-01T10:00:00Z</updated><author><name>Cy</name><email>c@x.test</email>"
    '</author><category term="T" scheme="s"/><category label="L"/>'
    '<link rel="enclosure" type="image/png" href="/enc.png"/>'
    '<content type="html" xml:base="https://other.test/dir/">&lt;p&gt;See &lt;a href="x"&gt;'
    "x&lt;/a&gt;&lt;/p&gt;</content></entry>"
    '<entry><title type="html">A &amp;amp; B</title><id>tag:2</id>'
    '<link href="https://example.com/2" rel="alternate" type="text/html"/>'
    "<published>2025-11-30T10:00:00-05:00</published><summary>Short\nsummary</summary>"
    '<content type="text">Long &lt;text&gt;</content></entry>'
    "<entry><id>tag:3</id><summary type='html'>&lt;p&gt;Only summary&lt;/p&gt;</summary></entry>"
    "</feed>",
]


@pytest.mark.parametrize("document", CRAFTED, ids=["rss", "atom"])
def test_crafted_documents_take_the_fast_path_and_match(document: str) -> None:
    body = document.encode()
    assert assert_same_as_feedparser(body)
    assert assert_same_as_feedparser(body, headers={"Content-Type": "text/xml; charset=utf-8"})
    feed = parse_feed_fast_or_full(body, url=URL, now=NOW)
    assert len(feed.items) >= 3  # the documents are read, not refused


# Field values that probe feedparser's rules: escaping, markup sniffing, entities, mojibake,
# relative and odd links, dates it parses and dates it does not.
_TEXTS = ["Hello", "  spaced  ", "Fish & chips", "<b>bold</b>", "a < b", "&amp;", "&nbsp;",
          "Café", "日本", "x\ny", "<p>Para</p><p>Two</p>", "<a href='/r'>l</a>",
          "<img src='i.jpg'>", "don’t", "A &#8217; B", "<script>x</script>", "", "   ",
          "<br/>", "tab\tx", "Ã©", "<em>e</em> & <i>i</i>", "<P>UP</P>"]  # fmt: skip
_DATES = ["Mon, 01 Dec 2025 10:00:00 GMT", "2025-12-01T10:00:00Z", "1 Dec 2025", "garbage",
          "", "Tue, 31 Dec 2030 10:00:00 +0000", "2025-12-01"]  # fmt: skip
_URLS = ["https://example.com/a", "/rel", "rel2", "http://x.test/?a=1&b=2", "",
         "javascript:alert(1)", "https://example.com/a#f", " https://sp.test/ "]  # fmt: skip


def _text(rng: random.Random) -> str:
    value = rng.choice(_TEXTS)
    return f"<![CDATA[{value}]]>" if rng.random() < 0.4 else escape(value)


def _random_rss(rng: random.Random) -> bytes:
    items = []
    for _ in range(rng.randint(1, 4)):
        permalink = rng.choice(["", ' isPermaLink="false"', ' isPermaLink="true"'])
        date_tag = rng.choice(["pubDate", "dc:date"])
        author = escape(rng.choice(["Ann", "a@b.test (Bob)", "Cy <c@d.test>"]))
        parts = [
            f"<title>{_text(rng)}</title>",
            f"<link>{escape(rng.choice(_URLS))}</link>",
            f"<guid{permalink}>{escape(rng.choice([*_URLS, 'tag:1']))}</guid>",
            f"<{date_tag}>{rng.choice(_DATES)}</{date_tag}>",
            f"<dc:creator>{author}</dc:creator>",
            f"<description>{_text(rng)}</description>",
            f"<content:encoded>{_text(rng)}</content:encoded>",
            f'<enclosure url="{escape(rng.choice(_URLS))}" type="image/jpeg" length="1"/>',
            f'<media:content url="{escape(rng.choice(_URLS))}" medium="image"/>',
            f'<media:thumbnail url="{escape(rng.choice(_URLS))}"/>',
            *(f"<category>{_text(rng)}</category>" for _ in range(rng.randint(0, 3))),
        ]
        parts = [part for part in parts if rng.random() < 0.7]
        rng.shuffle(parts)
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>{_text(rng)}</title><link>{escape(rng.choice(_URLS))}</link>"
        f"<description>{_text(rng)}</description>{''.join(items)}</channel></rss>"
    ).encode()


def _random_atom(rng: random.Random) -> bytes:
    entries = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["", ' type="text"', ' type="html"'])
        content_kind = rng.choice(["", ' type="html"'])
        base = rng.choice(["", ' xml:base="https://b.test/d/"'])
        rel = rng.choice(["", ' rel="alternate"', ' rel="enclosure" type="image/png"'])
        email = rng.choice(["", "<email>e@x.test</email>"])
        href = escape(rng.choice(_URLS) or "/x")
        parts = [
            f"<title{kind}>{_text(rng)}</title>",
            f'<link href="{href}"{rel}/>',
            f"<id>{escape(rng.choice(_URLS) or 'tag:9')}</id>",
            f"<updated>{rng.choice(_DATES)}</updated>",
            f"<published>{rng.choice(_DATES)}</published>",
            f"<author><name>N</name>{email}</author>",
            f"<summary{kind}>{_text(rng)}</summary>",
            f"<content{content_kind}{base}>{_text(rng)}</content>",
            f'<category term="{rng.choice(["T", "t", ""])}"/>',
        ]
        parts = [part for part in parts if rng.random() < 0.7]
        rng.shuffle(parts)
        entries.append("<entry>" + "".join(parts) + "</entry>")
    site = escape(rng.choice(_URLS) or "/")
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{_text(rng)}</title><link href='{site}'/>{''.join(entries)}</feed>"
    ).encode()


def test_generated_documents_are_identical_or_refused() -> None:
    """Differential check beyond the corpus: random RSS and Atom built from the fields the fast
    path reads, in random order, with values that probe feedparser's rules."""
    rng = random.Random(14)
    admitted = 0
    for index in range(400):
        body = _random_rss(rng) if index % 2 == 0 else _random_atom(rng)
        admitted += assert_same_as_feedparser(body)
    assert admitted > 200  # most are admitted (mojibake in a field refuses the document)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        # Legacy encodings, lies about them, and header charsets feedparser would follow.
        (('<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>T'
          "</title><item><title>Caf\xe9</title></item></channel></rss>").encode("latin-1"),
         None),
        ('<rss version="2.0"><channel><item><title>Caf\u00e9</title></item></channel></rss>'
         .encode(), {"Content-Type": "text/xml"}),
        (b'<rss version="2.0"><channel><item><title>A</title></item></channel></rss>',
         {"Content-Type": "application/rss+xml; charset=windows-1252"}),
        # A DTD, broken markup, another RSS version, mojibake feedparser would repair.
        (b'<!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"><channel><item><title>&a;'
         b"</title></item></channel></rss>", None),
        (b'<rss version="2.0"><channel><item><title>A</item></channel></rss>', None),
        (b'<rss version="0.91"><channel><item><title>A</title></item></channel></rss>', None),
        ('<rss version="2.0"><channel><item><title>CafÃ©</title></item></channel></rss>'
         .encode(), None),
        # Elements the fast path does not know, and an item with nested markup.
        (b'<rss version="2.0"><channel><item><title>A</title><source url="http://a.test/">'
         b"S</source></item></channel></rss>", None),
        (b'<rss version="2.0"><channel><item><description><p>x</p></description></item>'
         b"</channel></rss>", None),
        # xml:base moves feedparser's base for everything inside it.
        (b'<rss version="2.0"><channel xml:base="https://other.test/"><item><link>/a</link>'
         b"</item></channel></rss>", None),
        (b'<rss version="2.0"><channel><item xml:base="https://other.test/"><link>/a</link>'
         b"</item></channel></rss>", None),
    ],
)  # fmt: skip
def test_refused_documents_go_to_feedparser(body: bytes, headers: dict[str, str] | None) -> None:
    assert read_fast(body, url=URL, headers=headers) is None
    try:
        expected = parse_feed(body, url=URL, now=NOW, headers=headers)
    except FeedError as error:
        with pytest.raises(FeedError) as raised:
            parse_feed_fast_or_full(body, url=URL, now=NOW, headers=headers)
        assert (raised.value.kind, str(raised.value)) == (error.kind, str(error))
        return
    assert parse_feed_fast_or_full(body, url=URL, now=NOW, headers=headers) == expected


def test_polling_bench_reports_reader_as_skipped_when_absent() -> None:
    from bench import polling

    paperboy = {
        "seed": {"wall_s": 2.0, "cpu_s": 4.0},
        "wall_s": 1.0,
        "cpu_s": 1.0,
        "cpu_ms_per_changed_net": 2.0,
        "cpu_ms_per_304": 0.25,
    }
    assert polling._ratios(paperboy, {"skipped": "reader is not installed"}) is None
    reader = {
        "seed": {"wall_s": 4.0, "cpu_s": 2.0},
        "wall_s": 2.0,
        "cpu_s": 0.5,
        "cpu_ms_per_changed_net": 8.0,
        "cpu_ms_per_304": 1.0,
    }
    # How many times faster Paperboy is: above 1 when it is faster.
    assert polling._ratios(paperboy, reader) == {
        "seed_wall": 2.0,
        "seed_cpu": 0.5,
        "cycle_wall": 2.0,
        "cycle_cpu": 0.5,
        "cpu_per_changed": 4.0,
        "cpu_per_304": 4.0,
    }


def test_non_feeds_raise_what_parse_feed_raises() -> None:
    for body, kind in ((b"<html><body>hi</body></html>", "not-a-feed"), (b"  ", "not-a-feed")):
        with pytest.raises(FeedError) as raised:
            parse_feed_fast_or_full(body, url=URL, now=NOW)
        assert raised.value.kind == kind


_PLAIN_PIECES = st.one_of(
    st.text(st.characters(blacklist_characters="<>&\r", blacklist_categories=("Cs",)), max_size=8),
    st.sampled_from(["&amp;", "&lt;", "&gt;", "&quot;"]),
    st.sampled_from(["p", "b", "i", "em", "strong", "li", "h2", "code", "q"]).flatmap(
        lambda tag: st.sampled_from([f"<{tag}>", f"</{tag}>"])
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PLAIN_PIECES, max_size=12).map("".join))
def test_plain_html_is_left_alone_by_feedparsers_resolver_and_sanitiser(fragment: str) -> None:
    """Why the fast path may skip feedparser's HTML passes on plain HTML: they are identities."""
    fragment = fragment.strip()
    assert is_plain_html(fragment)
    resolved = resolve_relative_uris(fragment, URL, "utf-8", "text/html")
    assert _sanitize_html(resolved, "utf-8", "text/html") == fragment


@pytest.mark.parametrize(
    "fragment",
    ['<a href="/x">x</a>', "<p class=a>x</p>", "&nbsp;", "&#146;", "&am<p>p;", "a > b", "<br>",
     "<script>x</script>", "<P>x</P>", "0\r\n0"],
)  # fmt: skip
def test_html_feedparser_may_rewrite_is_not_plain(fragment: str) -> None:
    assert not is_plain_html(fragment)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@st.composite
def rfc822_like_dates(draw: st.DrawFn) -> str:
    """Dates in and around the common RFC 822 form: out-of-range fields, odd zones, other case."""
    weekday = draw(st.sampled_from(("", *(f"{day}, " for day in _WEEKDAYS), "mon, ", "Mon ")))
    # Mostly in range, so the shortcut's arithmetic is exercised, not only its refusals.
    number = draw(st.one_of(st.integers(1, 28), st.integers(0, 99)))
    day = draw(st.sampled_from((f"{number:02d}", str(number))))
    month = draw(st.sampled_from((*_MONTH_NAMES, "dec", "DEC", "Sept")))
    year = f"{draw(st.integers(0, 9999)):04d}"
    clock = ":".join(
        f"{draw(st.one_of(st.integers(0, top), st.integers(0, 99))):02d}" for top in (23, 59, 59)
    )
    zone = draw(
        st.sampled_from(
            (
                "GMT",
                f"{draw(st.sampled_from('+-'))}{draw(st.integers(0, 9999)):04d}",
                "UTC",
                "EST",
                "Z",
                "+05:30",
            )
        )
    )
    separator = draw(st.sampled_from((" ", " ", " ", "  ")))
    return separator.join((weekday + day, month, year, clock, zone))


@given(rfc822_like_dates())
@settings(max_examples=3000, deadline=None)
def test_the_common_date_form_is_read_exactly_as_feedparser_reads_it(text: str) -> None:
    from bot.feeds.fast import _Reader, feedparser_date

    assert _Reader.date(text) == feedparser_date(text)


def test_the_common_date_form_takes_the_shortcut_and_odd_ones_do_not() -> None:
    from bot.feeds.fast import _COMMON_RFC822, _Reader

    # Not vacuous: the bench's and WordPress's form is read by the shortcut, to the same value.
    assert _COMMON_RFC822.fullmatch("Sat, 05 Dec 2026 19:10:11 +0000")
    assert _Reader.date("Sat, 05 Dec 2026 19:10:11 +0130") == datetime(
        2026, 12, 5, 17, 40, 11, tzinfo=UTC
    )
    assert _Reader.date("Sat, 05 Dec 2026 19:10:11 GMT") == datetime(
        2026, 12, 5, 19, 10, 11, tzinfo=UTC
    )
    # Out of range for the shortcut: feedparser decides (its other readers may still read it).
    assert _Reader.date("Sat, 31 Feb 2026 19:10:11 +0000") is None
    assert _Reader.date("2026-12-05T19:10:11Z") == datetime(2026, 12, 5, 19, 10, 11, tzinfo=UTC)
