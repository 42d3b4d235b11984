"""Acceptance: each server sees only its own part of the archive (issue #13, part 1).

Two servers on the Discord stand-in follow two different news sites. For every member-facing
command, button and autocomplete, each server sees nothing of the other's feeds; forged
custom ids and `archive:` ids from the other server are answered as not found; /feeds why says
only that this server never received the other's article; alerts fire only for the server's
own feeds. Every check runs in both directions, with the owner's view as the positive control
(so an empty answer can only mean the scope held, not that the archive was empty).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from bot.app import App
from bot.models import WHOLE_ARCHIVE
from cogs.alerts import AlertSender
from cogs.client import PaperboyBot
from tests.bench.discord_standin import DiscordStandIn, Seed
from tests.bench.discord_standin.harness import running_client
from tests.bench.news_site import NewsSite
from tests.bench.news_site_articles import load_articles
from tests.bench.news_site_render import SiteItem
from tests.conftest import make_config
from tests.e2e.conftest import message_text
from tests.e2e.support import follow_site

NOT_FOUND = "no longer in the archive"


@dataclass
class Server:
    """One server of the pair: its seed on the stand-in, the site it follows, that feed."""

    name: str
    seed: Seed
    site: NewsSite
    feed_id: int
    article_ids: set[int]

    def item(self) -> SiteItem:
        """An article of this server's site with a standfirst (a distinctive summary)."""
        return next(item for item in self.site.items if item.standfirst)


@dataclass
class World:
    discord: DiscordStandIn
    bot: PaperboyBot
    a: Server
    b: Server

    @property
    def app(self) -> App:
        return self.bot.app

    def pairs(self) -> list[tuple[Server, Server]]:
        """(viewer, other) both ways round."""
        return [(self.a, self.b), (self.b, self.a)]

    async def ask(
        self, server: Server, command: str, options: dict[str, Any], *, admin: bool = False
    ) -> str:
        seed = server.seed
        user = seed.admin_id if admin else seed.member_id
        handle = await self.discord.invoke(seed.guild_id, user, command, options)
        return message_text(await handle.reply(10)).replace("\\", "")

    async def choices(self, server: Server, command: str, option: str, typed: str) -> list[str]:
        seed = server.seed
        found = await self.discord.autocomplete(
            seed.guild_id, seed.member_id, command, {option: typed}, option
        )
        return [str(choice["value"]) for choice in found]


async def follow(app: App, seed: Seed, site: NewsSite) -> tuple[int, set[int]]:
    """Subscribe the server's #news to the site's feed, poll it, archive every page."""
    feed_id = await follow_site(app, seed, site.feed_url, archive=True)
    items = await app.storage.feed_items(feed_id, limit=100)
    return feed_id, {item.article_id for item in items}


@pytest.fixture
async def world(tmp_path: Path, bench_database: str) -> AsyncIterator[World]:
    samples = load_articles()
    half = len(samples) // 2
    config = make_config(tmp_path, database={"url": bench_database})
    async with (
        DiscordStandIn() as discord,
        NewsSite(samples[:half], initially_published=8) as site_a,
        NewsSite(samples[half:], initially_published=8, site_name="The Other Paper") as site_b,
    ):
        seed_a = discord.populate_default()
        seed_b = discord.populate_default("Second Branch")
        bot = PaperboyBot(config)
        async with running_client(discord, bot):
            feed_a, ids_a = await follow(bot.app, seed_a, site_a)
            feed_b, ids_b = await follow(bot.app, seed_b, site_b)
            assert ids_a and ids_b and not ids_a & ids_b
            yield World(
                discord,
                bot,
                Server("A", seed_a, site_a, feed_a, ids_a),
                Server("B", seed_b, site_b, feed_b, ids_b),
            )
        discord.assert_no_unknown_routes()


async def test_search_sees_only_this_servers_articles(world: World) -> None:
    for viewer, other in world.pairs():
        item = other.item()
        own = await world.ask(other, "search", {"query": item.title})
        assert other.site.article_url(item) in own  # the owner finds it
        text = await world.ask(viewer, "search", {"query": item.title})
        assert other.site.base_url not in text, (viewer.name, text)
        # Any word at all: only the viewer's own site ever shows up.
        text = await world.ask(viewer, "search", {"query": "the workers council"})
        assert other.site.base_url not in text


async def test_summary_by_title_and_archive_id_stay_inside_the_server(world: World) -> None:
    for viewer, other in world.pairs():
        item = other.item()
        assert item.standfirst is not None
        article_id = await world.app.storage.article_id_for_url(
            WHOLE_ARCHIVE, other.site.article_url(item)
        )
        assert article_id in other.article_ids
        own = await world.ask(other, "summary", {"article": item.title})
        assert item.standfirst[:50] in own  # the owner reads it by title

        by_title = await world.ask(viewer, "summary", {"article": item.title})
        assert "not a link to an article" in by_title
        assert item.standfirst[:50] not in by_title
        by_id = await world.ask(viewer, "summary", {"article": f"archive:{article_id}"})
        assert NOT_FOUND in by_id and item.standfirst[:50] not in by_id
        related = await world.ask(viewer, "related", {"article": f"archive:{article_id}"})
        assert NOT_FOUND in related and other.site.base_url not in related


async def test_related_finds_pieces_only_in_this_servers_archive(world: World) -> None:
    for viewer, other in world.pairs():
        item = other.item()
        # Free text taken from the other server's article: answers come from the viewer's feeds.
        text = await world.ask(viewer, "related", {"article": item.title, "count": 10})
        assert other.site.base_url not in text
        # A public link may still be read (it is public), but its related pieces are the
        # viewer's own: the other server's archived copy is not used or listed.
        handle = await world.discord.invoke(
            viewer.seed.guild_id,
            viewer.seed.member_id,
            "related",
            {"article": other.site.article_url(item), "count": 10},
        )
        reply = await handle.reply(15)
        listed = "".join(str(embed.get("description")) for embed in reply.get("embeds") or [])
        assert other.site.base_url not in listed and other.site.base_url not in str(
            reply.get("content")
        )


async def test_summary_of_a_public_link_still_works_from_another_server(world: World) -> None:
    viewer, other = world.a, world.b
    item = other.item()
    assert item.standfirst is not None
    text = await world.ask(viewer, "summary", {"article": other.site.article_url(item)})
    assert item.standfirst[:50] in text  # read as the public page it is


async def test_autocomplete_offers_only_this_servers_titles_and_feeds(world: World) -> None:
    for viewer, other in world.pairs():
        own_ids = {f"archive:{i}" for i in viewer.article_ids}
        other_ids = {f"archive:{i}" for i in other.article_ids}
        for command in ("summary", "related"):
            empty = await world.choices(viewer, command, "article", "")
            assert empty and set(empty) <= own_ids, (viewer.name, command, empty)
            typed = other.item().title[:20]
            assert other_ids & set(await world.choices(other, command, "article", typed))
            assert not other_ids & set(await world.choices(viewer, command, "article", typed))
        assert await world.choices(viewer, "latest", "feed", "") == [str(viewer.feed_id)]


async def test_latest_lists_only_this_servers_feeds(world: World) -> None:
    for viewer, other in world.pairs():
        text = await world.ask(viewer, "latest", {"count": 10})
        assert viewer.site.base_url in text and other.site.base_url not in text
        forged = await world.ask(viewer, "latest", {"feed": str(other.feed_id)})
        assert "does not follow that feed" in forged and other.site.base_url not in forged


async def test_forged_buttons_for_another_servers_article_are_not_found(world: World) -> None:
    for viewer, other in world.pairs():
        article_id = min(other.article_ids)
        own_id = min(viewer.article_ids)
        buttons = [
            {"type": 2, "style": 2, "label": label, "custom_id": f"pb:{kind}:{ident}"}
            for kind, label in (("summary", "Summary"), ("related", "Related"))
            for ident in (article_id, own_id)
        ]
        message = await world.discord.post_user_message(
            viewer.seed.news_id,
            viewer.seed.admin_id,
            "A hand-made message with another server's ids",
            components=[{"type": 1, "components": buttons}],
        )
        for kind in ("summary", "related"):
            click = await world.discord.click(
                viewer.seed.member_id, int(message["id"]), f"pb:{kind}:{article_id}"
            )
            reply = await click.reply(10)
            assert reply.get("flags", 0) & 64
            text = message_text(reply)
            assert NOT_FOUND in text and other.site.base_url not in text
            # The same button for the server's own article works (the positive control).
            click = await world.discord.click(
                viewer.seed.member_id, int(message["id"]), f"pb:{kind}:{own_id}"
            )
            assert NOT_FOUND not in message_text(await click.reply(10))


async def test_feeds_why_says_only_that_this_server_never_received_it(world: World) -> None:
    for viewer, other in world.pairs():
        item = other.item()
        url = other.site.article_url(item)
        own = await world.ask(other, "feeds why", {"url": url}, admin=True)
        assert "Seen in the feed" in own
        text = await world.ask(viewer, "feeds why", {"url": url}, admin=True)
        assert text.startswith("This server never received"), text
        assert item.title not in text and "Seen in the feed" not in text


async def test_alerts_fire_only_for_this_servers_feeds(world: World) -> None:
    sender = cast(AlertSender, world.bot.get_cog("AlertSender"))
    assert sender is not None
    for viewer, other in world.pairs():
        coming = other.site.unpublished[0]
        keyword = max(coming.title.split(), key=len).strip(".,:;!?“”\"'")
        for server in (viewer, other):
            text = await world.ask(server, "alerts add", {"keyword": keyword})
            assert "Alert added" in text
        other.site.publish_next()
        outcome = await world.app.poller.poll_feed(other.feed_id)
        assert outcome.new_articles, outcome
        await asyncio.wait_for(sender.idle.wait(), 10)
        titles = [
            dm["embeds"][0]["title"]
            for dm in world.discord.direct_messages_to(other.seed.member_id)
        ]
        assert coming.title in titles
        assert all(
            dm["embeds"][0]["title"] != coming.title
            for dm in world.discord.direct_messages_to(viewer.seed.member_id)
        )
