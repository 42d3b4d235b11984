"""Tests of the news-site stand-in itself: feeds, pages, controls and the sample corpus."""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import feedparser
import pytest
from multidict import CIMultiDict

from bot.clock import FakeClock
from tests.bench.news_site import (
    CloudflareChallenge,
    GzipBomb,
    Hang,
    Malformed,
    NewsSite,
    Oversize,
    RateLimited,
    Redirect,
    ServerError,
    Trickle,
    load_articles,
)

RAW = {"Accept-Encoding": "identity"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    async with NewsSite() as running:
        yield running


async def fetch(
    http: aiohttp.ClientSession, url: str, **kwargs: object
) -> tuple[int, CIMultiDict[str], bytes]:
    async with http.get(url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, response.headers.copy(), await response.read()


# ---------------------------------------------------------------- the sample corpus


def test_corpus_has_enough_articles_topics_and_variety() -> None:
    articles = load_articles()
    assert len(articles) >= 30
    per_topic = Counter(article.topic for article in articles)
    assert len(per_topic) >= 5
    assert all(count >= 5 for count in per_topic.values()), per_topic
    assert all(400 <= article.word_count <= 1500 for article in articles)
    without_standfirst = sum(1 for article in articles if article.standfirst is None)
    assert 0.25 <= without_standfirst / len(articles) <= 0.45
    assert sum(1 for article in articles if article.captions) >= 5
    assert all(c.startswith("Photo:") for a in articles for c in a.captions)
    assert not any(p.startswith("Photo:") for a in articles for p in a.paragraphs)
    assert len({article.slug for article in articles}) == len(articles)
    corpus = " ".join(article.text for article in articles)
    for needle in ("Dr.", "Mr.", "Cllr.", "St.", "U.S.", "a.m.", "%", "Zoë", "Ł", "café", "“"):
        assert needle in corpus + " ".join(a.author + a.title for a in articles), needle
    assert re.search(r"\b[A-Z]\. [A-Z]\. [A-Z][a-z]+", corpus), "no initials like J. R. Smith"


def test_topics_are_distinguishable_by_vocabulary() -> None:
    """Each topic has words frequent in it and rare elsewhere (related articles rely on it)."""
    articles = load_articles()
    words_by_topic: dict[str, Counter[str]] = {}
    for article in articles:
        words = re.findall(r"[a-z]{5,}", article.text.lower())
        words_by_topic.setdefault(article.topic, Counter()).update(set(words))
    for topic, counts in words_by_topic.items():
        others = Counter[str]()
        for other, other_counts in words_by_topic.items():
            if other != topic:
                others.update(other_counts)
        distinctive = [w for w, n in counts.items() if n >= 3 and others[w] <= 1]
        assert len(distinctive) >= 5, (topic, distinctive)


# ---------------------------------------------------------------- feeds and pages


async def test_rss_feed_parses_with_wordpress_fields(site: NewsSite, http) -> None:
    status, headers, body = await fetch(http, site.feed_url)
    assert status == 200 and headers["Content-Type"].startswith("application/rss+xml")
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 10
    newest = site.items[0]
    entry = feed.entries[0]
    assert entry.title == newest.title
    assert entry.id == f"{site.base_url}/?p={newest.post_id}"
    assert entry.guidislink is False
    assert entry.link == site.article_url(newest)
    assert entry.author == newest.author
    assert [tag.term for tag in entry.tags] == list(newest.categories)
    assert newest.paragraphs[1][:40] in html.unescape(entry.content[0].value)
    published = [datetime(*e.published_parsed[:6], tzinfo=UTC) for e in feed.entries]
    assert published == sorted(published, reverse=True)
    by_id = {item.guid: item for item in site.items}
    for entry in feed.entries:
        item = by_id[entry.id]
        if item.standfirst:
            assert entry.summary == item.standfirst
        else:
            assert entry.summary.endswith(" [&#8230;]")  # WordPress writes the entity
            assert len(entry.summary.split()) == 56
    assert any("media_content" in entry for entry in feed.entries)


async def test_atom_and_json_feeds_carry_the_same_items(site: NewsSite, http) -> None:
    _, _headers, atom_body = await fetch(http, site.atom_url)
    atom = feedparser.parse(atom_body)
    assert not atom.bozo and atom.version == "atom10"
    _, json_headers, json_body = await fetch(http, site.json_feed_url)
    assert json_headers["Content-Type"].startswith("application/feed+json")
    document = json.loads(json_body)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    expected = [item.guid for item in site.items[:10]]
    assert [entry.id for entry in atom.entries] == expected
    assert [item["id"] for item in document["items"]] == expected
    assert document["items"][0]["authors"] == [{"name": site.items[0].author}]
    assert atom.entries[0].title == site.items[0].title


async def test_category_feed_sitemap_and_images(site: NewsSite, http) -> None:
    status, _, body = await fetch(http, site.category_feed_url("Housing"))
    assert status == 200
    feed = feedparser.parse(body)
    assert feed.entries and all(
        "Housing" in [tag.term for tag in entry.tags] for entry in feed.entries
    )
    status, _, _ = await fetch(http, site.url("/category/no-such-thing/feed/"))
    assert status == 404
    _, _, sitemap = await fetch(http, site.sitemap_url)
    assert sitemap.count(b"<loc>") == len(site.items)
    with_image = next(item for item in site.items if item.image_path)
    status, _headers, png = await fetch(http, site.url(with_image.image_path or ""))
    assert status == 200 and png.startswith(b"\x89PNG")


async def test_home_page_autodiscovery_links_can_be_switched_off(site: NewsSite, http) -> None:
    _, _, home = await fetch(http, site.home_url)
    assert b'rel="alternate" type="application/rss+xml"' in home
    assert f'href="{site.base_url}/feed/atom/"'.encode() in home
    site.home_feed_links = False
    _, _, bare = await fetch(http, site.home_url)
    assert b"application/rss+xml" not in bare and b"application/atom+xml" not in bare
    assert site.items[0].title.encode() in bare.replace(b"&#x27;", b"'")


async def test_article_page_has_metadata_and_clutter(site: NewsSite, http) -> None:
    item = next(i for i in site.items if i.standfirst and i.captions and i.image)
    status, _, body = await fetch(http, site.article_url(item))
    assert status == 200
    page = body.decode()
    assert f'<meta property="og:description" content="{item.standfirst}">' in page.replace(
        "&#x27;", "'"
    )
    for marker in (
        'property="og:title"',
        'property="og:image"',
        'property="og:site_name"',
        'property="article:published_time"',
        'property="article:author"',
        '<meta name="description"',
        "Most read",
        "Share on Facebook",
        "Tweet",
        "Subscribe to our newsletter",
        "Related articles",
        "comments",
        "<footer",
    ):
        assert marker in page, marker
    ld = json.loads(re.search(r'ld\+json">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert ld["@type"] == "NewsArticle" and ld["headline"] == item.title
    assert ld["author"][0]["name"] == item.author and ld["description"] == item.standfirst
    if item.caption_style == "figcaption":
        assert f"<figcaption>{item.captions[0]}</figcaption>" in page.replace("&#x27;", "'")
    else:
        assert f"<p>{item.captions[0]}</p>" in page.replace("&#x27;", "'")
    status, _, _ = await fetch(http, site.url("/2026/01/no-such-article/"))
    assert status == 404


async def test_both_caption_styles_occur() -> None:
    async with NewsSite(initially_published=30) as site:
        styles = {item.caption_style for item in site.items if item.captions}
    assert styles == {"figcaption", "paragraph"}


# ---------------------------------------------------------------- content controls


async def test_conditional_get_then_publish_gives_fresh_200(site: NewsSite, http) -> None:
    _, headers, _first = await fetch(http, site.feed_url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    status, _, body = await fetch(http, site.feed_url, headers={"If-None-Match": etag})
    assert status == 304 and body == b""
    status, _, _ = await fetch(http, site.feed_url, headers={"If-Modified-Since": last_modified})
    assert status == 304
    assert site.requests_to("/feed/")[-2].if_none_match == etag

    new = site.publish_next()
    status, headers, body = await fetch(http, site.feed_url, headers={"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert feedparser.parse(body).entries[0].id == new.guid


async def test_validators_are_deterministic_and_toggleable(http) -> None:
    async with NewsSite() as one, NewsSite() as two:
        _, h1, b1 = await fetch(http, one.atom_url, headers=RAW)
        _, h2, b2 = await fetch(http, two.atom_url, headers=RAW)
        # Only the port differs; the same state gives the same Last-Modified.
        assert h1["Last-Modified"] == h2["Last-Modified"]
        assert b1.replace(one.base_url.encode(), b"X") == b2.replace(two.base_url.encode(), b"X")
        _, again, _ = await fetch(http, one.atom_url, headers=RAW)
        assert again["ETag"] == h1["ETag"]
        one.honour_conditional_get = False
        status, _, _ = await fetch(http, one.atom_url, headers={"If-None-Match": h1["ETag"]})
        assert status == 200
        one.send_validators = False
        _, bare, _ = await fetch(http, one.atom_url)
        assert "ETag" not in bare and "Last-Modified" not in bare


async def test_publish_edit_change_guid_and_unpublish(http) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    async with NewsSite(initially_published=10, clock=clock) as site:
        assert len(site.unpublished) == 20
        first = site.publish_next()
        assert first.published == clock.now() and site.items[0] is first
        custom = load_articles()[0]
        clock.advance(60)
        again = site.publish(custom)
        assert site.items[0] is again and again.post_id != first.post_id

        clock.advance(60)
        site.edit(first, title="Corrected: a new headline", paragraphs=["Only this now."])
        old = site.items[5]
        site.edit(old, published=datetime(2027, 1, 1, tzinfo=UTC))
        site.change_guid(again, "urn:uuid:moved")
        site.unpublish(site.items[-1])
        feed = feedparser.parse((await fetch(http, site.feed_url))[2])
        ids = [entry.id for entry in feed.entries]
        assert ids[0] == old.guid  # re-dated into the future: now on top
        assert "urn:uuid:moved" in ids
        titles = {entry.id: entry.title for entry in feed.entries}
        assert titles[first.guid] == "Corrected: a new headline"
        status, _, _ = await fetch(http, site.article_url(first))
        assert status == 200
        with pytest.raises(ValueError):
            site.edit(first, published=datetime(2027, 1, 1))  # noqa: DTZ001 - naive on purpose


async def test_publish_without_clock_uses_sample_dates_in_order() -> None:
    async with NewsSite(initially_published=3) as site:
        samples = load_articles()
        item = site.publish_next()
        assert item.published == samples[3].published
        assert site.items[0] is item
        assert item.guid == f"{site.base_url}/?p={item.post_id}"
    fixed = NewsSite(initially_published=1, guid_base="https://weekly.example")
    assert fixed.items[0].guid == "https://weekly.example/?p=1001"


# ---------------------------------------------------------------- faults


async def test_server_error_rate_limit_and_cloudflare(site: NewsSite, http) -> None:
    site.set_fault("/feed/", ServerError(times=1))
    assert (await fetch(http, site.feed_url))[0] == 500
    assert (await fetch(http, site.feed_url))[0] == 200  # fault used up

    site.set_fault("/feed/atom/", RateLimited(retry_after="90"))
    status, headers, _ = await fetch(http, site.atom_url)
    assert status == 429 and headers["Retry-After"] == "90"

    site.set_fault("/feed/json", CloudflareChallenge())
    status, headers, body = await fetch(http, site.json_feed_url)
    assert status == 403 and headers["cf-mitigated"] == "challenge"
    assert b"Just a moment" in body
    # Faults are per path: the RSS feed is unaffected meanwhile.
    assert (await fetch(http, site.feed_url))[0] == 200
    site.clear_faults()
    assert (await fetch(http, site.json_feed_url))[0] == 200


async def test_fault_sequence_with_add_fault(site: NewsSite, http) -> None:
    site.add_fault("/feed/", ServerError(status=503, times=1))
    site.add_fault("/feed/", RateLimited(times=1))
    statuses = [(await fetch(http, site.feed_url))[0] for _ in range(3)]
    assert statuses == [503, 429, 200]


async def test_redirects_loops_and_private_targets(site: NewsSite, http) -> None:
    site.set_fault("/rss.xml", Redirect("/feed/", status=301))
    async with http.get(site.url("/rss.xml")) as response:
        assert response.status == 200 and str(response.url) == site.feed_url
        assert response.history[0].status == 301

    site.redirect_loop("/a/", "/b/")
    with pytest.raises(aiohttp.TooManyRedirects):
        await fetch(http, site.url("/a/"), max_redirects=5)

    site.set_fault("/meta/", Redirect("http://169.254.169.254/latest/meta-data/"))
    status, headers, _ = await fetch(http, site.url("/meta/"), allow_redirects=False)
    assert status == 301 and headers["Location"] == "http://169.254.169.254/latest/meta-data/"


async def test_gzip_when_accepted_and_the_bomb(site: NewsSite, http) -> None:
    async with http.get(site.feed_url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        compressed_ok = feedparser.parse(await response.read())
    assert len(compressed_ok.entries) == 10
    _status, headers, _ = await fetch(http, site.feed_url, headers=RAW)
    assert "Content-Encoding" not in headers

    site.set_fault("/feed/", GzipBomb(inflated_size=8 * 1024 * 1024))
    async with http.get(site.feed_url, auto_decompress=False) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        packed = await response.read()
    assert len(packed) < 64 * 1024
    assert len(gzip.decompress(packed)) > 8 * 1024 * 1024
    async with http.get(site.url("/feed/bomb/"), auto_decompress=False) as response:
        assert response.headers["Content-Encoding"] == "gzip"


async def test_oversize_body_is_streamed(site: NewsSite, http) -> None:
    site.set_fault("/feed/", Oversize(size=3 * 1024 * 1024, chunked=True))
    async with http.get(site.feed_url) as response:
        assert response.content_length is None
        first = await response.content.read(1024)
        assert first.startswith(b"<?xml")
        # A careful client stops here; reading on would give the full size.
    site.set_fault("/feed/", Oversize(size=2 * 1024 * 1024, chunked=False))
    async with http.get(site.feed_url) as response:
        assert response.content_length == 2 * 1024 * 1024
        assert len(await response.read()) == 2 * 1024 * 1024


async def test_malformed_bodies(site: NewsSite, http) -> None:
    site.set_fault("/feed/", Malformed("truncated"))
    assert feedparser.parse((await fetch(http, site.feed_url))[2]).bozo

    site.set_fault("/feed/", Malformed("html"))
    _status, headers, body = await fetch(http, site.feed_url)
    assert headers["Content-Type"].startswith("application/rss+xml")
    assert body.lstrip().startswith(b"<!DOCTYPE html>")

    site.set_fault("/feed/", Malformed("wrong-encoding"))
    _, _, body = await fetch(http, site.feed_url)
    assert b'encoding="UTF-8"' in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")

    site.set_fault("/feed/", Malformed("mislabelled-latin1"))
    _, headers, body = await fetch(http, site.feed_url)
    assert "ISO-8859-1" in headers["Content-Type"] and b'encoding="ISO-8859-1"' in body
    assert "“".encode() in body

    site.set_fault("/feed/", Malformed("empty"))
    assert (await fetch(http, site.feed_url))[2] == b""


async def test_hang_holds_until_released_and_trickle_delivers_everything(
    site: NewsSite, http
) -> None:
    site.set_fault("/feed/", Hang(times=1))
    arrived = site.next_request("/feed/")
    with pytest.raises(TimeoutError):
        await fetch(http, site.feed_url, timeout=aiohttp.ClientTimeout(total=0.3))
    assert (await arrived).path == "/feed/"

    site.set_fault("/feed/atom/", Hang())
    arrived = site.next_request("/feed/atom/")
    task = asyncio.ensure_future(http.get(site.atom_url))
    await arrived  # the server holds it now
    site.release_hangs()
    response = await task
    assert response.status == 200
    response.release()

    site.set_fault("/sitemap.xml", Trickle(chunk_size=512, interval=0.001))
    status, _, trickled = await fetch(http, site.sitemap_url, headers=RAW)
    site.clear_faults("/sitemap.xml")
    assert status == 200 and trickled == (await fetch(http, site.sitemap_url, headers=RAW))[2]


async def test_request_log_and_next_request(site: NewsSite, http) -> None:
    waiter = site.next_request("/feed/")
    any_waiter = site.next_request("*")
    await fetch(http, site.feed_url + "?paged=2", headers={"If-None-Match": '"abc"'})
    record = await waiter
    assert record.method == "GET" and record.query == "paged=2"
    assert record.if_none_match == '"abc"'
    assert (await any_waiter) is record
    assert site.requests[-1] is record
