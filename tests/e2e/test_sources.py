"""Following what people paste, end to end: a moderator pastes a YouTube channel, a subreddit, a
Mastodon or Bluesky profile, a newsletter or blog, or a news site with no feed; `/feeds add` says
what it recognised; a post published there afterwards is announced.

The platforms are the HTTPS stand-ins of tests/bench/platforms.py under their real host names:
the bot's one HTTP session gets a resolver that maps those names to the stand-in and trusts its
certificate (`open_app(resolver=, tls=)`), nothing else is changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from cogs.client import PaperboyBot
from tests.bench import platforms
from tests.bench.discord_standin import DiscordStandIn
from tests.bench.discord_standin.harness import running_client
from tests.bench.news_site import NewsSite
from tests.bench.platforms import Platform, PlatformSites, Post
from tests.conftest import make_config
from tests.e2e.conftest import Bench, message_text
from tests.e2e.support import FAST_HIGH_RATE


@pytest.fixture(scope="module")
def certificate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One certificate for the module: openssl takes a while to make one."""
    return tmp_path_factory.mktemp("platform-tls")


@asynccontextmanager
async def sources_bench(
    tmp_path: Path, database_url: str, certificate_dir: Path
) -> AsyncIterator[tuple[Bench, PlatformSites]]:
    """The end-to-end bench with the platform stand-ins reachable under their real names."""
    config = make_config(tmp_path, database={"url": database_url}, announcements=FAST_HIGH_RATE)
    async with (
        DiscordStandIn() as discord_standin,
        NewsSite() as site,
        PlatformSites(certificate_dir=certificate_dir) as sites,
    ):
        seed = discord_standin.populate_default()
        app = await open_app(config, resolver=sites.resolver(), tls=sites.tls())
        try:
            bot = PaperboyBot(config, app=app)
            async with running_client(discord_standin, bot):
                yield Bench(discord_standin, seed, site, bot, config), sites
        finally:
            await app.close()
        discord_standin.assert_no_unknown_routes()


def announced_urls(bench: Bench) -> list[str]:
    """The article links of the embed announcements in #news, oldest first."""
    urls = []
    for message in bench.discord.messages_in(bench.seed.news_id):
        for embed in message.get("embeds") or []:
            if embed.get("url"):
                urls.append(str(embed["url"]))
    return urls


async def add_and_see_the_next_post(
    bench: Bench,
    sites: PlatformSites,
    platform: Platform,
    pasted: str,
    recognised: str,
    options: dict[str, Any] | None = None,
) -> Post:
    """Paste `pasted` into /feeds add, check what it says, publish a post and await its
    announcement."""
    handle = await bench.command(
        "feeds add", {"url": pasted, "channel": bench.seed.news_id, **(options or {})}
    )
    reply = message_text(await handle.reply(20.0)).replace("\\", "")
    assert f"Recognised: {recognised}." in reply, reply
    newest = next(post for post in sites.posts[platform] if not post.short)
    await bench.discord.wait_until(
        lambda: newest.url in announced_urls(bench), timeout=30, what=f"{platform} backlog"
    )
    fresh = sites.publish(platform)
    bench.app.poller.wake()
    await bench.discord.wait_until(
        lambda: fresh.url in announced_urls(bench), timeout=30, what=f"new {platform} post"
    )
    return fresh


async def test_video_and_social_sources_are_added_by_pasting_and_announced(
    tmp_path: Path, bench_database: str, certificate_dir: Path
) -> None:
    async with sources_bench(tmp_path, bench_database, certificate_dir) as (bench, sites):
        await add_and_see_the_next_post(
            bench,
            sites,
            "youtube",
            "https://www.youtube.com/@weeklyworker",
            "YouTube channel The Weekly Worker (videos without Shorts)",
            {"shorts": False},
        )
        short = sites.publish("youtube", short=True)
        await add_and_see_the_next_post(
            bench,
            sites,
            "reddit",
            "https://www.reddit.com/r/weeklyworker/",
            "subreddit r/weeklyworker",
        )
        await add_and_see_the_next_post(
            bench,
            sites,
            "mastodon",
            "https://mastodon.social/@weeklyworker",
            "Mastodon profile The Weekly Worker",
        )
        await add_and_see_the_next_post(
            bench,
            sites,
            "bluesky",
            "https://bsky.app/profile/weeklyworker.bsky.social",
            "Bluesky profile @weeklyworker.bsky.social - The Weekly Worker",
        )
        # Shorts were left out: the Short published meanwhile was never announced.
        assert short.url not in announced_urls(bench)
        reddit = [r for r in sites.requests if r.host == "www.reddit.com"]
        assert reddit and all(r.user_agent.startswith("Paperboy/") for r in reddit)


async def test_newsletters_blogs_and_a_site_without_a_feed_are_announced(
    tmp_path: Path, bench_database: str, certificate_dir: Path
) -> None:
    async with sources_bench(tmp_path, bench_database, certificate_dir) as (bench, sites):
        cases: list[tuple[Platform, str, str]] = [
            (
                "substack",
                "https://weeklyworker.substack.com/",
                "Substack newsletter The Weekly Worker",
            ),
            ("ghost", "https://ghost.weeklyworker.org/", "Ghost site The Weekly Worker"),
            ("wordpress", "https://blog.weeklyworker.org/", "WordPress site The Weekly Worker"),
            ("blogger", "https://weeklyworker.blogspot.com/", "Blogger blog The Weekly Worker"),
            (
                "medium",
                "https://medium.com/@weeklyworker",
                "Medium author Stories by The Weekly Worker on Medium",
            ),
            ("news", "https://news.weeklyworker.org/", "Google News sitemap The Weekly Worker"),
        ]
        for platform, pasted, recognised in cases:
            await add_and_see_the_next_post(bench, sites, platform, pasted, recognised)
        # The site without a feed: its article was announced with the title and standfirst
        # its page gives.
        fresh = sites.posts["news"][0]
        embed = next(
            e
            for m in bench.discord.messages_in(bench.seed.news_id)
            for e in m.get("embeds") or []
            if e.get("url") == fresh.url
        )
        assert embed["title"] == fresh.title
        assert fresh.text[:40] in embed.get("description", "")
        assert platforms.NEWS_HOST in {r.host for r in sites.requests}
