"""Member commands end to end: the real bot, the Discord stand-in and the news site.

The archive is filled the way production fills it: a feed is polled (the first poll seeds it)
and the archiver fetches and extracts each article page.
"""

from __future__ import annotations

import asyncio
from typing import cast

from bot.articles.sentences import split_sentences
from bot.models import WHOLE_ARCHIVE
from cogs.alerts import AlertSender
from tests.bench.news_site_render import SiteItem
from tests.e2e.conftest import Bench, message_text
from tests.e2e.support import follow_site


def item_where(bench: Bench, *, standfirst: bool, captions: bool | None = None) -> SiteItem:
    return next(
        item
        for item in bench.site.items
        if bool(item.standfirst) == standfirst
        and (captions is None or bool(item.captions) == captions)
    )


async def test_summary_shows_the_standfirst_or_whole_opening_sentences(bench: Bench) -> None:
    await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    with_standfirst = item_where(bench, standfirst=True)
    handle = await bench.command(
        "summary", {"article": bench.site.article_url(with_standfirst)}, user=bench.seed.member_id
    )
    reply = await handle.reply(10)
    text = message_text(reply)
    assert with_standfirst.standfirst is not None
    assert with_standfirst.standfirst[:60] in text.replace("\\", "")
    assert "From the publisher" in text
    assert reply["embeds"][0]["url"] == bench.site.article_url(with_standfirst)

    plain = item_where(bench, standfirst=False)
    handle = await bench.command(
        "summary",
        {"article": bench.site.article_url(plain), "private": True},
        user=bench.seed.member_id,
    )
    reply = await handle.reply(10)
    embed = reply["embeds"][0]
    assert "Automatic summary" in embed["footer"]["text"]
    first_sentence = split_sentences(plain.paragraphs[0])[0]
    assert embed["description"].replace("\\", "").startswith(first_sentence)
    assert reply.get("flags", 0) & 64  # private when asked


async def test_summary_of_a_captioned_page_never_shows_a_caption(bench: Bench) -> None:
    await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    captioned = [item for item in bench.site.items if item.captions]
    assert captioned, "the sample site must have articles opening with photo captions"
    for item in captioned:
        for style in ("brief", "key-points"):
            handle = await bench.command(
                "summary",
                {"article": bench.site.article_url(item), "style": style},
                user=bench.seed.member_id,
            )
            text = message_text(await handle.reply(10))
            assert "Photo:" not in text, (item.slug, style, text)
            for caption in item.captions:
                assert caption.removeprefix("Photo:").strip()[:40] not in text


async def test_summarize_article_menu_and_announcement_buttons(bench: Bench) -> None:
    await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    item = item_where(bench, standfirst=True)
    posted = await bench.discord.post_user_message(
        bench.seed.general_id,
        bench.seed.member_id,
        f"Have you read <{bench.site.article_url(item)}>?",
    )
    handle = await bench.discord.invoke_message_command(
        bench.seed.guild_id, bench.seed.member_id, "Summarize article", int(posted["id"])
    )
    assert item.standfirst is not None
    assert item.standfirst[:60] in message_text(await handle.reply(10)).replace("\\", "")

    # An announcement posted before a restart: only its custom ids tie it to the bot.
    article_id = await bench.app.storage.article_id_for_url(
        WHOLE_ARCHIVE, bench.site.article_url(item)
    )
    assert article_id is not None
    buttons = [
        {"type": 2, "style": 2, "label": "Summary", "custom_id": f"pb:summary:{article_id}"},
        {"type": 2, "style": 2, "label": "Related", "custom_id": f"pb:related:{article_id}"},
    ]
    announcement = await bench.discord.post_user_message(
        bench.seed.news_id,
        bench.seed.admin_id,
        item.title,
        components=[{"type": 1, "components": buttons}],
    )
    click = await bench.discord.click(
        bench.seed.member_id, int(announcement["id"]), f"pb:summary:{article_id}"
    )
    reply = await click.reply(10)
    assert reply.get("flags", 0) & 64
    assert item.standfirst[:60] in message_text(reply).replace("\\", "")

    click = await bench.discord.click(
        bench.seed.member_id, int(announcement["id"]), f"pb:related:{article_id}"
    )
    reply = await click.reply(10)
    assert reply.get("flags", 0) & 64
    assert "Related to" in message_text(reply)
    assert bench.site.article_url(item) not in str(reply["embeds"][0]["description"])


async def test_related_puts_the_same_topic_first(bench: Bench) -> None:
    await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    topics = {bench.site.article_url(i): i.topic for i in bench.site.items}
    item = next(
        i for i in bench.site.items if sum(j.topic == i.topic for j in bench.site.items) > 1
    )
    handle = await bench.command(
        "related", {"article": bench.site.article_url(item), "count": 3}, user=bench.seed.member_id
    )
    reply = await handle.reply(10)
    description = reply["embeds"][0]["description"]
    urls = [url for url in topics if f"({url})" in description]
    assert bench.site.article_url(item) not in urls
    first = min(urls, key=description.index)
    assert topics[first] == item.topic


async def test_search_reads_operators_as_words(bench: Bench) -> None:
    await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    for query in ('"unbalanced', "NEAR(", "strike NEAR( workers", "workers"):
        handle = await bench.command("search", {"query": query}, user=bench.seed.member_id)
        reply = await handle.reply(10)
        text = message_text(reply)
        assert "went wrong" not in text
        assert reply.get("flags", 0) & 64
    assert "**" in text  # the last query matched: highlighted snippets
    handle = await bench.command("search", {"query": "xylophonist"}, user=bench.seed.member_id)
    assert "No articles in the archive match" in message_text(await handle.reply(10))


async def test_alert_dm_arrives_and_closed_dms_disable_alerts_with_a_note(bench: Bench) -> None:
    feed_id = await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    next_article = bench.site.unpublished[0]
    keyword = next_article.title.split()[-1].strip(".,:;!?")
    for user in (bench.seed.member_id, bench.seed.closed_dms_id):
        handle = await bench.command("alerts add", {"keyword": keyword}, user=user)
        assert "Alert added" in message_text(await handle.reply(10))

    # load_extension imports the module afresh, so the class is not the one imported here.
    sender = cast(AlertSender, bench.bot.get_cog("AlertSender"))
    assert sender is not None
    bench.site.publish_next()
    outcome = await bench.app.poller.poll_feed(feed_id)
    assert outcome.new_articles, outcome
    await asyncio.wait_for(sender.idle.wait(), 10)

    [dm] = bench.discord.direct_messages_to(bench.seed.member_id)
    assert dm["embeds"][0]["title"] == next_article.title
    assert keyword in dm["embeds"][0]["footer"]["text"]
    assert bench.discord.direct_messages_to(bench.seed.closed_dms_id) == []

    listed = await bench.app.alerts.list_alerts(bench.seed.closed_dms_id, bench.seed.guild_id)
    assert listed.disabled
    handle = await bench.command("search", {"query": keyword}, user=bench.seed.closed_dms_id)
    await handle.reply(10)
    note = await handle.followup(0, 10)
    assert note.message is not None
    assert "switched off" in note.message["content"]
    # Told once only.
    handle = await bench.command("search", {"query": keyword}, user=bench.seed.closed_dms_id)
    await handle.reply(10)
    assert [r for r in handle.responses if r.kind == "followup"] == []


async def test_latest_autocomplete_and_alert_management(bench: Bench) -> None:
    feed_id = await follow_site(bench.app, bench.seed, bench.site.feed_url, archive=True)
    member = bench.seed.member_id
    newest = bench.site.items[0]
    handle = await bench.command("latest", {"count": 3}, user=member)
    reply = await handle.reply(10)
    assert reply.get("flags", 0) & 64
    description = reply["embeds"][0]["description"]
    assert description.count("\n") == 2
    assert bench.site.article_url(newest) in description.splitlines()[0]

    feeds = await bench.discord.autocomplete(
        bench.seed.guild_id, member, "latest", {"feed": ""}, "feed"
    )
    assert [choice["value"] for choice in feeds] == [str(feed_id)]
    titles = await bench.discord.autocomplete(
        bench.seed.guild_id, member, "summary", {"article": newest.title[:12]}, "article"
    )
    assert titles and len(titles) <= 25
    assert all(len(choice["name"]) <= 100 for choice in titles)
    handle = await bench.command("summary", {"article": titles[0]["value"]}, user=member)
    assert message_text(await handle.reply(10)).startswith(titles[0]["name"][:40])

    for keyword in ("rent", "Élection"):
        await (await bench.command("alerts add", {"keyword": keyword}, user=member)).reply(10)
    handle = await bench.command("alerts add", {"keyword": "RENT"}, user=member)
    assert "already have an alert" in message_text(await handle.reply(10))
    listed = message_text(await (await bench.command("alerts list", user=member)).reply(10))
    assert "rent" in listed and "Élection" in listed
    choices = await bench.discord.autocomplete(
        bench.seed.guild_id, member, "alerts remove", {"keyword": "elec"}, "keyword"
    )
    assert [choice["value"] for choice in choices] == ["Élection"]
    handle = await bench.command("alerts remove", {"keyword": "election"}, user=member)
    assert "removed" in message_text(await handle.reply(10))
