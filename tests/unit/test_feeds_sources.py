"""The pure resolvers: what people paste, to the feed Paperboy follows; and sitemaps as feeds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import FeedError
from bot.feeds.sitemap import (
    MAX_CHILD_SITEMAPS,
    is_sitemap,
    parse_sitemap,
    parse_w3c_date,
    read_sitemap,
)
from bot.feeds.sources import (
    describe,
    platform_of_page,
    recognise,
    sitemap_candidates,
    youtube_channel_id,
    youtube_feed,
)
from bot.fetch import kinds
from bot.fetch.http import REDDIT_RATE_LIMIT_WAIT, is_reddit, reddit_refusal
from tests.bench import platforms

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
UC = "UCw8ZhLPdQ0u7Y-3cNbKx2Vg"
YT = "https://www.youtube.com/feeds/videos.xml"


def feeds_of(url: str, **options: bool) -> list[str]:
    source = recognise(url, **options)
    assert source is not None, url
    return [candidate.url for candidate in source.candidates]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://www.youtube.com/channel/{UC}", [f"{YT}?channel_id={UC}"]),
        (f"https://youtube.com/channel/{UC}/featured", [f"{YT}?channel_id={UC}"]),
        (
            f"https://m.youtube.com/channel/{UC}/videos",
            [f"{YT}?playlist_id=UULF{UC[2:]}", f"{YT}?channel_id={UC}"],
        ),
        (
            f"https://www.youtube.com/channel/{UC}/shorts",
            [f"{YT}?playlist_id=UUSH{UC[2:]}", f"{YT}?channel_id={UC}"],
        ),
        (
            f"https://www.youtube.com/channel/{UC}/streams",
            [f"{YT}?playlist_id=UULV{UC[2:]}", f"{YT}?channel_id={UC}"],
        ),
        ("https://www.youtube.com/playlist?list=PLabcdefghij", [f"{YT}?playlist_id=PLabcdefghij"]),
        ("https://www.reddit.com/r/python/", ["https://www.reddit.com/r/python/.rss"]),
        ("https://old.reddit.com/r/Python/new/", ["https://www.reddit.com/r/Python/new/.rss"]),
        (
            "https://www.reddit.com/r/python/comments/abc/some_post/",
            ["https://www.reddit.com/r/python/.rss"],
        ),
        ("https://www.reddit.com/r/python/.rss", ["https://www.reddit.com/r/python/.rss"]),
        ("https://www.reddit.com/r/python.rss", ["https://www.reddit.com/r/python/.rss"]),
        ("https://reddit.com/u/spez", ["https://www.reddit.com/user/spez/.rss"]),
        ("https://www.reddit.com/user/spez/submitted/", ["https://www.reddit.com/user/spez/.rss"]),
        ("https://mastodon.social/@Gargron", ["https://mastodon.social/@Gargron.rss"]),
        ("https://hachyderm.io/@someone@fosstodon.org", ["https://fosstodon.org/@someone.rss"]),
        ("https://bsky.app/profile/jay.bsky.team", ["https://bsky.app/profile/jay.bsky.team/rss"]),
        (
            "https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/post/3k",
            ["https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/rss"],
        ),
        ("https://example.substack.com/p/a-post", ["https://example.substack.com/feed"]),
        ("https://example.ghost.io/", ["https://example.ghost.io/rss/"]),
        ("https://example.wordpress.com/2024/01/x/", ["https://example.wordpress.com/feed/"]),
        ("https://example.blogspot.com/", ["https://example.blogspot.com/feeds/posts/default"]),
        ("https://example.blogspot.co.uk/", ["https://example.blogspot.co.uk/feeds/posts/default"]),
        ("https://medium.com/@someone", ["https://medium.com/feed/@someone"]),
        ("https://medium.com/@someone/a-story-1a2b3c", ["https://medium.com/feed/@someone"]),
        ("https://medium.com/the-publication", ["https://medium.com/feed/the-publication"]),
        ("https://medium.com/tag/python", ["https://medium.com/feed/tag/python"]),
        ("https://someone.medium.com/", ["https://someone.medium.com/feed"]),
    ],
)
def test_addresses_people_paste_become_their_feeds(url: str, expected: list[str]) -> None:
    assert feeds_of(url) == expected


@pytest.mark.parametrize(
    ("url", "page", "variant"),
    [
        ("https://www.youtube.com/@example", "https://www.youtube.com/@example", "all"),
        ("https://www.youtube.com/@example/videos", "https://www.youtube.com/@example", "videos"),
        ("https://www.youtube.com/@example/shorts", "https://www.youtube.com/@example", "shorts"),
        ("https://www.youtube.com/c/Example", "https://www.youtube.com/c/Example", "all"),
        ("https://www.youtube.com/user/example", "https://www.youtube.com/user/example", "all"),
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "all",
        ),
        ("https://youtu.be/dQw4w9WgXcQ?si=x", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "all"),
        (
            "https://www.youtube.com/shorts/dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "all",
        ),
    ],
)
def test_youtube_addresses_without_a_channel_id_read_the_page_first(
    url: str, page: str, variant: str
) -> None:
    source = recognise(url)
    assert source is not None and source.kind == "youtube"
    assert source.page == page and source.candidates == ()
    assert source.youtube_variant == variant


def test_leaving_out_shorts_picks_the_uulf_playlist_unless_a_tab_says_otherwise() -> None:
    plain = recognise(f"https://www.youtube.com/channel/{UC}", youtube_shorts=False)
    assert plain is not None and plain.youtube_variant == "videos"
    assert plain.candidates[0].url == f"{YT}?playlist_id=UULF{UC[2:]}"
    assert plain.candidates[0].note == "videos without Shorts"
    # The Shorts tab asks for Shorts: the option does not turn that into videos.
    tab = recognise("https://www.youtube.com/@x/shorts", youtube_shorts=False)
    assert tab is not None and tab.youtube_variant == "shorts"
    assert [c.url for c in youtube_feed(UC, "all")] == [f"{YT}?channel_id={UC}"]


@pytest.mark.parametrize(
    "url",
    [
        f"{YT}?channel_id={UC}",
        "https://www.youtube.com/",
        "https://www.youtube.com/results?search_query=x",
        "https://www.reddit.com/",
        "https://bsky.app/profile/x.bsky.social/rss",
        "https://medium.com/feed/@someone",
        "https://example.substack.com/feed",
        "https://example.org/",
        "https://example.org/feed/",
        "https://example.org/@",
        "ftp://www.youtube.com/@x",
    ],
)
def test_feeds_and_other_sites_are_not_claimed(url: str) -> None:
    assert recognise(url) is None


def test_channel_id_from_channel_and_watch_pages() -> None:
    post = platforms.PlatformSites(certificate_dir=None).posts["youtube"][0]
    assert youtube_channel_id(platforms.youtube_channel_page()) == platforms.CHANNEL_ID
    assert youtube_channel_id(platforms.youtube_watch_page(post).encode()) == platforms.CHANNEL_ID
    rss_only = (
        '<html><head><link rel="alternate" type="application/rss+xml" '
        f'href="https://www.youtube.com/feeds/videos.xml?channel_id={UC}"></head></html>'
    )
    assert youtube_channel_id(rss_only) == UC
    assert (
        youtube_channel_id("<html><head><title>Nothing</title></head><body></body></html>") is None
    )
    # A canonical link elsewhere is not a YouTube channel.
    other = f'<html><head><link rel="canonical" href="https://evil.example/channel/{UC}"></head>'
    assert youtube_channel_id(other) is None


def test_channel_id_scan_is_linear_in_a_hostile_page() -> None:
    # Near-misses of every pattern, repeated: each attempt fails after a bounded look.
    hostile = ('"channelId":"UC' + "x" * 10 + '" itemprop="channelId" content="' * 20_000).encode()
    assert youtube_channel_id(hostile) is None


def test_platform_from_generator_meta() -> None:
    page = platforms.blog_home("ghost", "ghost.example.org", "/rss/")
    ghost = platform_of_page(page, "https://ghost.example.org/")
    assert ghost is not None and ghost.kind == "ghost"
    assert [c.url for c in ghost.candidates] == ["https://ghost.example.org/rss/"]
    wordpress = platform_of_page(
        '<head><meta name="generator" content="WordPress 6.7.1"></head>', "https://a.example/x/"
    )
    assert wordpress is not None and wordpress.candidates[0].url == "https://a.example/feed/"
    assert platform_of_page("<head><meta name=generator content=Hugo></head>", "https://a/") is None


def test_describe_names_the_kind_and_what_is_followed() -> None:
    source = recognise(f"https://www.youtube.com/channel/{UC}", youtube_shorts=False)
    assert source is not None
    assert (
        describe(source, "Example", source.candidates[0].note)
        == "YouTube channel Example (videos without Shorts)"
    )
    reddit = recognise("https://www.reddit.com/r/python")
    assert reddit is not None and describe(reddit, "") == "subreddit r/python"


def test_sitemap_candidates_from_robots_news_first_then_usual_paths() -> None:
    robots = (
        "User-agent: *\nDisallow: /x\nSitemap: https://a.example/sitemap_index.xml\n"
        "sitemap:/news-sitemap.xml\n"
    )
    assert sitemap_candidates(robots, "https://a.example/some/page") == [
        "https://a.example/news-sitemap.xml",
        "https://a.example/sitemap_index.xml",
        "https://a.example/sitemap_news.xml",
        "https://a.example/sitemap.xml",
    ]
    many = "".join(f"Sitemap: https://a.example/s{i}.xml\n" for i in range(1000))
    assert len(sitemap_candidates(many, "https://a.example/")) == 4 + 3


# -- sitemaps -----------------------------------------------------------------------------------


def test_news_sitemap_becomes_a_feed_newest_first() -> None:
    sites = platforms.PlatformSites(certificate_dir=None)
    posts = sites.posts["news"]
    body = platforms.news_sitemap(list(reversed(posts))).encode()
    assert is_sitemap(body)
    read = read_sitemap(body, url="https://news.example/news-sitemap.xml", now=NOW, max_items=50)
    assert read.feed is not None and read.children == ()
    feed = read.feed
    assert feed.format == "news-sitemap" and feed.title == platforms.CHANNEL_NAME
    assert [item.url for item in feed.items] == [post.url for post in posts]
    assert [item.title for item in feed.items] == [post.title for post in posts]
    assert feed.items[0].published == posts[0].published
    assert feed.items[0].key == f"g:{posts[0].url}" or posts[0].url in feed.items[0].key


def test_plain_sitemap_orders_by_lastmod_and_caps_items() -> None:
    urls = "".join(
        f"<url><loc>https://a.example/p{i}</loc><lastmod>2026-01-{i + 1:02d}</lastmod></url>"
        for i in range(20)
    )
    body = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}<url><loc>https://a.example/undated</loc></url></urlset>"
    ).encode()
    read = read_sitemap(body, url="https://a.example/sitemap.xml", now=NOW, max_items=5)
    assert read.feed is not None and read.feed.format == "sitemap"
    assert [i.url for i in read.feed.items] == [
        f"https://a.example/p{i}" for i in (19, 18, 17, 16, 15)
    ]


def test_sitemap_index_names_its_newest_children_only() -> None:
    entries = "".join(
        f"<sitemap><loc>https://a.example/s{i}.xml</loc><lastmod>2026-0{i + 1}-01</lastmod></sitemap>"  # noqa: E501
        for i in range(6)
    )
    body = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    read = read_sitemap(body.encode(), url="https://a.example/i.xml", now=NOW, max_items=5)
    assert read.feed is None
    assert read.children == tuple(f"https://a.example/s{i}.xml" for i in (5, 4, 3))
    assert len(read.children) == MAX_CHILD_SITEMAPS


def test_sitemap_parser_refuses_entities_and_non_sitemaps_and_caps_urls() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa">'
        + "".join(
            f'<!ENTITY a{i} "&a{i - 1 if i else ""};&a{i - 1 if i else ""};">' for i in range(40)
        )
        + ']><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&a39;</loc></url></urlset>'
    )
    with pytest.raises(FeedError) as refused:
        parse_sitemap(laughs.encode(), url="https://a.example/")
    assert refused.value.kind == "parse-error"
    with pytest.raises(FeedError) as not_sitemap:
        parse_sitemap(b"<rss><channel/></rss>", url="https://a.example/")
    assert not_sitemap.value.kind == "not-a-feed"
    many = "".join(f"<url><loc>https://a.example/{i}</loc></url>" for i in range(300))
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{many}</urlset>'.encode()
    assert len(parse_sitemap(body, url="https://a.example/", max_urls=100).entries) == 100


def test_sitemap_locations_must_be_http_urls() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>javascript:alert(1)</loc></url><url><loc>file:///etc/passwd</loc></url>"
        b"<url><loc>https://a.example/ok</loc></url></urlset>"
    )
    assert [e.loc for e in parse_sitemap(body, url="https://a.example/").entries] == [
        "https://a.example/ok"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-05", datetime(2026, 12, 5, tzinfo=UTC)),
        ("2026-12-05T10:30:00Z", datetime(2026, 12, 5, 10, 30, tzinfo=UTC)),
        ("2026-12-05T10:30:00+01:00", datetime(2026, 12, 5, 9, 30, tzinfo=UTC)),
        ("2026-12-05T10:30:00.123+00:00", datetime(2026, 12, 5, 10, 30, 0, 123000, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_w3c_dates(value: str, expected: datetime | None) -> None:
    assert parse_w3c_date(value) == expected


def test_reddit_refusals_say_why_and_how_long_to_wait() -> None:
    limited = reddit_refusal(429, {}, None)
    assert limited.kind == kinds.RATE_LIMITED and limited.retry_after == REDDIT_RATE_LIMIT_WAIT
    assert "10 minutes" in str(limited)
    assert reddit_refusal(429, {"x-ratelimit-reset": "90"}, None).retry_after == 90.0
    assert reddit_refusal(429, {"x-ratelimit-reset": "90"}, 300.0).retry_after == 300.0
    assert reddit_refusal(429, {"x-ratelimit-reset": "1"}, None).retry_after == 60.0  # a floor
    assert reddit_refusal(429, {"x-ratelimit-reset": "junk"}, 1e9).retry_after == 6 * 3600.0
    forbidden = reddit_refusal(403, {}, None)
    assert forbidden.kind == kinds.HTTP_4XX and forbidden.retry_after == 3600.0
    assert [is_reddit(h) for h in ("old.reddit.com", "reddit.com.", "notreddit.com")] == [
        True,
        True,
        False,
    ]
