"""Discovery and polling of pasted sources against the platform stand-ins (real HTTPS under real
host names, through an injected resolver and certificate trust), with a real database."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Config, FetchConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, FetchResult, kinds, make_session
from bot.ingest.archiver import Archiver
from bot.ingest.discovery import resolve_source
from bot.ingest.poller import Poller
from bot.ingest.sitemaps import read_document
from bot.models import WHOLE_ARCHIVE
from bot.storage import Storage
from tests.bench import platforms
from tests.bench.platforms import PlatformSites
from tests.builders import subscribe
from tests.conftest import make_config

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
UA = "Paperboy/test (+https://paperboy.example/contact)"
LOCAL = FetchConfig(allow_private_addresses=True, total_timeout_seconds=10.0)


@pytest.fixture(scope="module")
def certificate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One certificate for the module: openssl takes a while to make one."""
    return tmp_path_factory.mktemp("platform-tls")


@pytest.fixture
async def sites(certificate_dir: Path) -> AsyncIterator[PlatformSites]:
    async with PlatformSites(certificate_dir=certificate_dir) as running:
        yield running


@pytest.fixture
async def fetcher(sites: PlatformSites) -> AsyncIterator[Fetcher]:
    async with make_session(LOCAL, UA, resolver=sites.resolver(), tls=sites.tls()) as session:
        yield Fetcher(session, LOCAL)


YOUTUBE_FEED = f"https://www.youtube.com/feeds/videos.xml?channel_id={platforms.CHANNEL_ID}"
YOUTUBE_VIDEOS = (
    f"https://www.youtube.com/feeds/videos.xml?playlist_id=UULF{platforms.CHANNEL_ID[2:]}"
)


@pytest.mark.parametrize(
    ("pasted", "feed_url", "description"),
    [
        (
            "https://www.youtube.com/@weeklyworker",
            YOUTUBE_FEED,
            "YouTube channel The Weekly Worker (videos and Shorts)",
        ),
        (
            "https://www.youtube.com/@weeklyworker/videos",
            YOUTUBE_VIDEOS,
            "YouTube channel The Weekly Worker (videos without Shorts)",
        ),
        (
            f"https://www.youtube.com/channel/{platforms.CHANNEL_ID}",
            YOUTUBE_FEED,
            "YouTube channel The Weekly Worker (videos and Shorts)",
        ),
        (
            "https://www.reddit.com/r/weeklyworker/",
            "https://www.reddit.com/r/weeklyworker/.rss",
            "subreddit r/weeklyworker",
        ),
        (
            "https://mastodon.social/@weeklyworker",
            "https://mastodon.social/@weeklyworker.rss",
            "Mastodon profile The Weekly Worker",
        ),
        (
            "https://bsky.app/profile/weeklyworker.bsky.social",
            "https://bsky.app/profile/weeklyworker.bsky.social/rss",
            "Bluesky profile @weeklyworker.bsky.social - The Weekly Worker",
        ),
        (
            "https://weeklyworker.substack.com/",
            "https://weeklyworker.substack.com/feed",
            "Substack newsletter The Weekly Worker",
        ),
        (
            "https://ghost.weeklyworker.org/",
            "https://ghost.weeklyworker.org/rss/",
            "Ghost site The Weekly Worker",
        ),
        (
            "https://blog.weeklyworker.org/",
            "https://blog.weeklyworker.org/feed/",
            "WordPress site The Weekly Worker",
        ),
        (
            "https://weeklyworker.blogspot.com/",
            "https://weeklyworker.blogspot.com/feeds/posts/default",
            "Blogger blog The Weekly Worker",
        ),
        (
            "https://medium.com/@weeklyworker",
            "https://medium.com/feed/@weeklyworker",
            "Medium author Stories by The Weekly Worker on Medium",
        ),
        (
            "https://news.weeklyworker.org/",
            "https://news.weeklyworker.org/news-sitemap.xml",
            "Google News sitemap The Weekly Worker",
        ),
    ],
)
async def test_pasted_addresses_resolve_to_their_feeds(
    sites: PlatformSites, fetcher: Fetcher, pasted: str, feed_url: str, description: str
) -> None:
    found = await resolve_source(fetcher, pasted, NOW)
    assert found.feed_url == feed_url
    assert found.description == description
    assert found.parsed.items, "the feed has items"


async def test_youtube_video_and_short_links_lead_to_the_channel(
    sites: PlatformSites, fetcher: Fetcher
) -> None:
    video = next(v for v in sites.posts["youtube"] if not v.short)
    short = next(v for v in sites.posts["youtube"] if v.short)
    for pasted in (video.url, f"https://youtu.be/{video.ident}", short.url):
        found = await resolve_source(fetcher, pasted, NOW)
        assert found.feed_url == YOUTUBE_FEED, pasted
    # The page was read for its channel id; the video itself carries none.
    assert sites.seen("www.youtube.com", "/watch")


async def test_leaving_out_shorts_follows_the_uulf_playlist(
    sites: PlatformSites, fetcher: Fetcher
) -> None:
    whole = await resolve_source(fetcher, "https://www.youtube.com/@weeklyworker", NOW)
    videos = await resolve_source(
        fetcher, "https://www.youtube.com/@weeklyworker", NOW, youtube_shorts=False
    )
    assert videos.feed_url == YOUTUBE_VIDEOS
    assert videos.description.endswith("(videos without Shorts)")
    shorts = {v.url for v in sites.posts["youtube"] if v.short}
    assert shorts and shorts <= {item.url for item in whole.parsed.items}
    assert not shorts & {item.url for item in videos.parsed.items}


async def test_reddit_is_asked_with_a_descriptive_user_agent_and_refusals_are_explained(
    sites: PlatformSites, fetcher: Fetcher
) -> None:
    await resolve_source(fetcher, "https://www.reddit.com/r/weeklyworker", NOW)
    assert [r.user_agent for r in sites.seen("www.reddit.com", "/r/weeklyworker/.rss")] == [UA]

    sites.reddit_refusal = 429
    with pytest.raises(FetchError) as limited:
        await resolve_source(fetcher, "https://www.reddit.com/r/weeklyworker", NOW)
    assert limited.value.kind == kinds.RATE_LIMITED
    assert limited.value.retry_after == 420.0  # Reddit's x-ratelimit-reset
    assert "Reddit answered 429" in str(limited.value) and "7 minutes" in str(limited.value)

    sites.reddit_refusal = 403
    with pytest.raises(FetchError) as forbidden:
        await resolve_source(fetcher, "https://www.reddit.com/user/weeklyworker", NOW)
    assert forbidden.value.kind == kinds.HTTP_4XX
    assert "private, banned or quarantined" in str(forbidden.value)
    assert forbidden.value.retry_after == 3600.0


async def test_a_site_without_a_feed_is_followed_through_its_news_sitemap(
    sites: PlatformSites, fetcher: Fetcher
) -> None:
    found = await resolve_source(fetcher, "https://news.weeklyworker.org/", NOW)
    newest = sites.posts["news"][0]
    first = found.parsed.items[0]
    assert (first.url, first.title) == (newest.url, newest.title)
    assert first.summary == newest.text  # the standfirst, read from the article page
    # robots.txt named it; the usual feed addresses were tried first and are 404s.
    assert sites.seen(platforms.NEWS_HOST, "/robots.txt")
    assert sites.seen(platforms.NEWS_HOST, "/feed/")


async def test_every_source_goes_through_the_private_network_guard(sites: PlatformSites) -> None:
    guarded = FetchConfig(allow_private_addresses=False, total_timeout_seconds=5.0)
    async with make_session(guarded, UA, resolver=sites.resolver(), tls=sites.tls()) as session:
        fetcher = Fetcher(session, guarded)
        for pasted in (
            "https://www.youtube.com/@weeklyworker",
            "https://www.reddit.com/r/weeklyworker",
            "https://news.weeklyworker.org/",
        ):
            with pytest.raises(FetchError) as refused:
                await resolve_source(fetcher, pasted, NOW)
            assert refused.value.kind == kinds.PRIVATE_ADDRESS, pasted
    assert sites.requests == []  # nothing reached the (loopback) stand-in


# -- a sitemap followed by the poller -----------------------------------------------------------


async def test_the_poller_reads_new_sitemap_pages_within_its_budget(
    sites: PlatformSites, tmp_path: Path, storage: Storage
) -> None:
    config: Config = make_config(tmp_path)
    config = replace(config, fetch=replace(config.fetch, total_timeout_seconds=10.0))
    clock = FakeClock(NOW)
    async with make_session(
        config.fetch, UA, resolver=sites.resolver(), tls=sites.tls()
    ) as session:
        poller = Poller(
            storage, Fetcher(session, config.fetch), config, clock, rng=random.Random(1)
        )
        feed = await storage.add_feed("https://news.weeklyworker.org/news-sitemap.xml", now=NOW)
        await subscribe(storage, feed.id, channel_id=10, now=NOW)
        seeded = await poller.poll_feed(feed.id)
        assert seeded.ok and seeded.seeded
        pages_at_seed = [r for r in sites.requests if r.path.startswith("/20")]
        assert len(pages_at_seed) <= 1  # only the newest page, for the backlog

        fresh = [sites.publish("news") for _ in range(7)]  # two more than one poll reads
        first = await poller.poll_feed(feed.id)
        assert first.ok and len(first.new_to_feed) == 5
        stored = await storage.feed(feed.id)
        assert stored is not None and stored.etag is None  # so the next poll reads it in full
        second = await poller.poll_feed(feed.id)
        assert second.ok and len(second.new_to_feed) == 2
        third = await poller.poll_feed(feed.id)
        assert third.ok and third.new_to_feed == ()

        archived = await storage.archived_articles(
            WHOLE_ARCHIVE, [*first.new_to_feed, *second.new_to_feed]
        )
    titles = {article.title for article in archived.values()}
    assert titles == {p.title for p in fresh}
    page_reads = [r for r in sites.requests if r.path.startswith("/20")]
    assert len(page_reads) - len(pages_at_seed) == 7  # each new page read once, old ones never


async def test_a_sitemap_index_is_followed_one_level_down(
    sites: PlatformSites, fetcher: Fetcher
) -> None:
    found = await resolve_source(fetcher, "https://news.weeklyworker.org/sitemap_index.xml", NOW)
    assert found.parsed.format == "sitemap"
    assert found.description == "sitemap news.weeklyworker.org"
    assert [item.url for item in found.parsed.items] == [p.url for p in sites.posts["news"]]
    # A plain sitemap has no titles: the newest page was read for the preview.
    assert found.parsed.items[0].title == sites.posts["news"][0].title
    assert sites.seen(platforms.NEWS_HOST, "/post-sitemap.xml")


@pytest.mark.parametrize(
    ("sitemap", "waits"),
    [("/post-sitemap.xml", True), ("/news-sitemap.xml", False)],
)
async def test_an_unreadable_page_waits_unless_the_sitemap_gives_its_title(
    sites: PlatformSites, tmp_path: Path, storage: Storage, sitemap: str, waits: bool
) -> None:
    config: Config = make_config(tmp_path)
    async with make_session(
        config.fetch, UA, resolver=sites.resolver(), tls=sites.tls()
    ) as session:
        poller = Poller(
            storage, Fetcher(session, config.fetch), config, FakeClock(NOW), rng=random.Random(1)
        )
        feed = await storage.add_feed(f"https://{platforms.NEWS_HOST}{sitemap}", now=NOW)
        await subscribe(storage, feed.id, channel_id=10, now=NOW)
        assert (await poller.poll_feed(feed.id)).seeded
        fresh = sites.publish("news")
        page = fresh.url.split(platforms.NEWS_HOST, 1)[1]
        sites.broken_paths.add(page)
        broken = await poller.poll_feed(feed.id)
        assert broken.ok
        # A plain sitemap says nothing but the address: the item waits for its page. A news
        # sitemap names its title, which is enough to announce it.
        assert len(broken.new_to_feed) == (0 if waits else 1)
        sites.broken_paths.clear()
        mended = await poller.poll_feed(feed.id)
        assert len(mended.new_to_feed) == (1 if waits else 0)
        archived = await storage.archived_articles(
            WHOLE_ARCHIVE, [*broken.new_to_feed, *mended.new_to_feed]
        )
    assert [a.title for a in archived.values()] == [fresh.title]


async def test_archiving_gives_untitled_sitemap_pages_their_titles(
    sites: PlatformSites, tmp_path: Path, storage: Storage
) -> None:
    config: Config = make_config(tmp_path)
    clock = FakeClock(NOW)
    async with make_session(
        config.fetch, UA, resolver=sites.resolver(), tls=sites.tls()
    ) as session:
        fetcher = Fetcher(session, config.fetch)
        poller = Poller(storage, fetcher, config, clock, rng=random.Random(1))
        feed = await storage.add_feed(f"https://{platforms.NEWS_HOST}/post-sitemap.xml", now=NOW)
        seeded = await poller.poll_feed(feed.id)
        ids = list(seeded.new_articles)
        before = await storage.archived_articles(WHOLE_ARCHIVE, ids)
        # A first read only records the plain sitemap's pages: all but the newest untitled.
        assert sorted(a.title for a in before.values()).count("") == len(ids) - 1
        while (await Archiver(storage, fetcher, config, clock).archive_pending()).total:
            pass
        after = await storage.archived_articles(WHOLE_ARCHIVE, ids)
    assert {a.title for a in after.values()} == {p.title for p in sites.posts["news"]}


async def test_sitemap_pages_on_private_addresses_are_never_fetched(sites: PlatformSites) -> None:
    # The sitemap itself came from a public site; the pages it lists point inside the network:
    # the metadata address, and names resolving to loopback (where the stand-in would answer).
    body = platforms.plain_sitemap(sites.posts["news"]).replace(
        f"https://{platforms.NEWS_HOST}/", "http://169.254.169.254/latest/", 1
    )
    listed = FetchResult(
        url=f"https://{platforms.NEWS_HOST}/post-sitemap.xml",
        status=200,
        body=body.encode(),
        headers={},
        content_type="application/xml",
        charset=None,
        etag=None,
        last_modified=None,
        not_modified=False,
        hint_seconds=None,
    )
    guarded = FetchConfig(allow_private_addresses=False, total_timeout_seconds=5.0)
    async with make_session(guarded, UA, resolver=sites.resolver(), tls=sites.tls()) as session:
        read = await read_document(
            Fetcher(session, guarded),
            listed,
            now=NOW,
            max_items=50,
            pool=None,
            priority="system",
            known=no_keys,
            seeding=False,
        )
    assert read.feed.items == () and read.deferred == len(sites.posts["news"])
    assert sites.requests == []


async def no_keys(keys: object) -> set[str]:
    """A feed that has seen nothing yet."""
    return set()


async def test_reddit_refusals_back_the_poller_off_and_are_recorded_in_words(
    sites: PlatformSites, tmp_path: Path, storage: Storage
) -> None:
    config: Config = make_config(tmp_path)
    clock = FakeClock(NOW)
    async with make_session(
        config.fetch, UA, resolver=sites.resolver(), tls=sites.tls()
    ) as session:
        poller = Poller(
            storage, Fetcher(session, config.fetch), config, clock, rng=random.Random(1)
        )
        feed = await storage.add_feed("https://www.reddit.com/r/weeklyworker/.rss", now=NOW)
        for refusal, wait in ((429, 420.0), (403, 3600.0)):
            sites.reddit_refusal = refusal
            outcome = await poller.poll_feed(feed.id)
            assert not outcome.ok
            stored = await storage.feed(feed.id)
            assert stored is not None
            assert stored.last_error_message and "Reddit answered" in stored.last_error_message
            # The interval is 1 s in tests: only Reddit's own wait can push the next check out.
            assert (stored.next_check_at - NOW).total_seconds() >= wait
