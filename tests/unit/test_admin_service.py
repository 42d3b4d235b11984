"""FeedAdmin against real SQLite, a real fetcher and the loopback news site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.delivery.service import DeliveryService
from bot.errors import FeedError, FetchError, InvalidInput, NotFound
from bot.ingest.poller import Poller
from bot.models import GuildSettings
from bot.services.admin import (
    ChannelInfo,
    SubscriptionOptions,
    check_channel_fit,
    may_moderate,
    shown,
    timezone_choices,
)
from tests.builders import ALL, GUILD, INJECTION, MOD, NEWS, OTHER_GUILD, AdminBench, admin_bench

OTHER_NEWS = ChannelInfo(21, "news", "text", ALL)
FORUM = ChannelInfo(12, "articles", "forum", ALL)


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[AdminBench]:
    """A FeedAdmin with loopback fetching allowed."""
    async for made in admin_bench(tmp_path, announcements={"max_age_days": 0.0}):
        yield made


async def _add(
    bench: AdminBench, channel: ChannelInfo = NEWS, guild: int = GUILD, **options: object
):
    return await bench.admin.add(
        guild,
        MOD,
        bench.site.home_url,
        channel,
        SubscriptionOptions(**options),  # type: ignore[arg-type]
    )


async def test_add_from_home_page_finds_feed_and_previews_newest_item(bench: AdminBench) -> None:
    result = await _add(bench)
    assert result.feed.url == bench.site.feed_url
    assert result.item_count == 10
    newest = max(bench.site.items, key=lambda item: item.published)
    assert result.preview is not None
    assert result.preview.embeds[0].title.replace("\\", "") == newest.title
    assert result.subscription.format == "embed"
    assert result.subscription.created_by == MOD
    entries = await bench.storage.audit_entries(GUILD)
    assert [entry.action for entry in entries] == ["feed.add"]
    assert bench.changes[0].action == "feed.add"


async def test_duplicate_add_is_reported_not_stored(bench: AdminBench) -> None:
    first = await _add(bench)
    with pytest.raises(InvalidInput, match="already goes to #news"):
        await _add(bench)
    assert await bench.storage.count_guild_subscriptions(GUILD) == 1
    # Same feed, another channel: a second subscription is fine.
    await _add(bench, ChannelInfo(13, "more-news", "text", ALL))
    assert first.subscription.id == 1
    assert await bench.storage.count_guild_subscriptions(GUILD) == 2


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://localhost/"]
)
async def test_private_addresses_refused_with_guard_on(tmp_path: Path, url: str) -> None:
    async for bench in admin_bench(tmp_path, fetch={"allow_private_addresses": False}):
        with pytest.raises(FetchError) as caught:
            await bench.admin.add(GUILD, MOD, url, NEWS, SubscriptionOptions())
        assert caught.value.kind == "private-address"
        assert await bench.storage.count_guild_subscriptions(GUILD) == 0


async def test_too_long_and_bad_scheme_urls_refused(bench: AdminBench) -> None:
    with pytest.raises(InvalidInput, match="2,048"):
        await bench.admin.add(
            GUILD, MOD, "https://example.org/" + "a" * 2100, NEWS, SubscriptionOptions()
        )
    with pytest.raises(FetchError, match="Only http and https"):
        await bench.admin.add(GUILD, MOD, "ftp://example.org/feed", NEWS, SubscriptionOptions())


async def test_page_without_feed_is_refused_with_what_was_tried(tmp_path: Path) -> None:
    async def page(request: web.Request) -> web.Response:
        if request.path == "/":
            return web.Response(text="<html><body>Hello</body></html>", content_type="text/html")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async for bench in admin_bench(tmp_path):
            with pytest.raises(FeedError, match="found no feed there") as caught:
                await bench.admin.add(
                    GUILD, MOD, f"http://127.0.0.1:{port}/", NEWS, SubscriptionOptions()
                )
            assert caught.value.kind == "not-a-feed"
            assert await bench.storage.count_guild_subscriptions(GUILD) == 0
    finally:
        await runner.cleanup()


def test_channel_fit_rules() -> None:
    with pytest.raises(InvalidInput, match="needs a forum channel"):
        check_channel_fit("forum", NEWS)
    with pytest.raises(InvalidInput, match="only the forum or webhook"):
        check_channel_fit("embed", FORUM)
    check_channel_fit("forum", FORUM)
    check_channel_fit("webhook", FORUM)
    no_embeds = ChannelInfo(1, "quiet", "text", ALL - {"embed_links", "read_message_history"})
    with pytest.raises(InvalidInput, match="Read Message History, Embed Links"):
        check_channel_fit("embed", no_embeds)
    check_channel_fit("text", ChannelInfo(1, "quiet", "text", ALL - {"embed_links"}))
    with pytest.raises(InvalidInput, match="Manage Webhooks"):
        check_channel_fit("webhook", ChannelInfo(1, "w", "text", ALL - {"manage_webhooks"}))
    with pytest.raises(InvalidInput, match="Create Public Threads"):
        check_channel_fit(
            "embed", ChannelInfo(1, "t", "text", ALL - {"create_public_threads"}), auto_thread=True
        )
    with pytest.raises(InvalidInput, match="text, announcement and forum"):
        check_channel_fit("embed", ChannelInfo(1, "voice", "other", ALL))


async def test_permission_problem_stops_add_before_fetching(bench: AdminBench) -> None:
    before = len(bench.site.requests)
    channel = ChannelInfo(14, "locked", "text", frozenset({"view_channel"}))
    with pytest.raises(InvalidInput, match="lacks permission in #locked"):
        await _add(bench, channel)
    with pytest.raises(InvalidInput, match="needs a forum channel"):
        await _add(bench, NEWS, format="forum")
    assert len(bench.site.requests) == before


async def test_forum_channel_defaults_to_forum_format(bench: AdminBench) -> None:
    result = await _add(bench, FORUM)
    assert result.subscription.format == "forum"
    assert result.preview is not None and result.preview.thread_name


async def test_subscription_limit(tmp_path: Path) -> None:
    async for bench in admin_bench(tmp_path, moderation={"max_subscriptions_per_guild": 1}):
        await _add(bench)
        with pytest.raises(InvalidInput, match="already has 1 subscriptions"):
            await _add(bench, ChannelInfo(13, "more", "text", ALL))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"include": "x" * 1200}, "include filter is not valid"),
        ({"exclude": ", ".join(f"w{i}" for i in range(60))}, "exclude filter is not valid"),
        ({"template": "{title} {secret}"}, "Unknown placeholder"),
        ({"template": "x" * 1600}, "1500"),
        ({"interval_seconds": 0}, "interval must be from"),
        ({"format": "carrier-pigeon"}, "Unknown format"),
    ],
)
async def test_bad_options_refused_specifically(
    bench: AdminBench, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await _add(bench, **options)
    assert await bench.storage.count_guild_subscriptions(GUILD) == 0


async def test_hostile_text_is_stored_verbatim_and_shown_escaped(bench: AdminBench) -> None:
    result = await _add(bench, exclude=INJECTION, template="**{title}** " + INJECTION)
    stored = await bench.storage.subscription(result.subscription.id)
    assert stored is not None
    assert stored.exclude_filter == INJECTION
    assert stored.template.endswith(INJECTION)
    assert await bench.storage.count_guild_subscriptions(GUILD) == 1
    assert shown("**bold** @everyone <@&1>") == "\\*\\*bold\\*\\* @\u200beveryone <\u200b@&1>"


async def test_other_guilds_subscriptions_are_not_found(bench: AdminBench) -> None:
    mine = (await _add(bench)).subscription
    theirs = (await _add(bench, OTHER_NEWS, guild=OTHER_GUILD)).subscription
    assert [label for label, _ in await bench.admin.choices(GUILD, "")] == [
        f"#{mine.id} {(await bench.storage.feed(mine.feed_id)).title}"  # type: ignore[union-attr]
    ]
    for call in (
        bench.admin.remove(GUILD, MOD, theirs.id),
        bench.admin.pause(GUILD, MOD, theirs.id),
        bench.admin.resume(GUILD, MOD, theirs.id),
        bench.admin.preview(GUILD, theirs.id),
        bench.admin.status(GUILD, theirs.id),
        bench.admin.edit(GUILD, MOD, theirs.id, SubscriptionOptions(format="text")),
    ):
        with pytest.raises(NotFound, match=f"no subscription number {theirs.id} in this server"):
            await call
    still = await bench.storage.subscription(theirs.id)
    assert still is not None and not still.paused and still.format == "embed"


async def test_edit_pause_remove(bench: AdminBench) -> None:
    sub = (await _add(bench)).subscription
    edited = await bench.admin.edit(
        GUILD,
        MOD,
        sub.id,
        SubscriptionOptions(
            format="text", include="housing", mention_role_id=55, interval_seconds=600
        ),
        NEWS,
    )
    assert edited.subscription.format == "text"
    assert edited.subscription.include_filter == "housing"
    assert edited.subscription.mention_role_id == 55
    assert edited.subscription.interval_seconds == 600
    assert edited.feed.subscription_intervals == (600,)
    with pytest.raises(InvalidInput, match="Nothing to change"):
        await bench.admin.edit(GUILD, MOD, sub.id, SubscriptionOptions())
    with pytest.raises(InvalidInput, match="needs a forum channel"):
        await bench.admin.edit(GUILD, MOD, sub.id, SubscriptionOptions(format="forum"), NEWS)
    paused = await bench.admin.pause(GUILD, MOD, sub.id)
    assert paused.subscription.state == "paused"
    with pytest.raises(InvalidInput, match="already paused"):
        await bench.admin.pause(GUILD, MOD, sub.id)
    await bench.admin.remove(GUILD, MOD, sub.id)
    assert await bench.storage.guild_subscriptions(GUILD) == []
    actions = [entry.action for entry in await bench.storage.audit_entries(GUILD)]
    assert actions == ["feed.remove", "feed.pause", "feed.edit", "feed.add"]


async def test_resume_resets_backoff_and_retries_failed_deliveries(bench: AdminBench) -> None:
    poller = Poller(bench.storage, bench.fetcher, bench.config, bench.clock)
    delivery = DeliveryService(bench.storage, bench.config, bench.clock)
    bench.admin.poll_feed = poller.poll_feed
    bench.admin.seed_subscription = delivery.seed_new_subscription
    woken: list[str] = []
    bench.admin.wake_delivery = lambda: woken.append("delivery")
    sub = (await _add(bench)).subscription
    rows = await bench.storage.subscription_outbox(sub.id)
    pending = [row for row in rows if row.state == "pending"]
    assert len(pending) == 1  # backlog_count = 1: the newest item is announced
    await bench.storage.pause_for_refusal(
        pending[0].id, [sub.id], reason="Missing Access", row_failed=True
    )
    later = bench.clock.now().replace(year=2027)
    await bench.storage.record_poll_failure(
        sub.feed_id, kind="timeout", message="slow", now=bench.clock.now(), next_check_at=later
    )
    health = (await bench.admin.status(GUILD, sub.id))[0]
    assert health.subscription.paused and health.subscription.pause_reason == "Missing Access"
    assert (health.failed, health.pending, health.last_delivery_error) == (1, 0, "Missing Access")
    assert health.feed.consecutive_failures == 1 and health.feed.last_error_kind == "timeout"

    summary, retried = await bench.admin.resume(GUILD, MOD, sub.id)
    assert retried == 1 and woken == ["delivery"]
    assert summary.subscription.state == "active"
    assert summary.feed.next_check_at == bench.clock.now()
    assert summary.feed.consecutive_failures == 0
    health = (await bench.admin.status(GUILD))[0]
    assert (health.failed, health.pending) == (0, 1)


async def test_preview_from_archive_uses_subscription_format(bench: AdminBench) -> None:
    poller = Poller(bench.storage, bench.fetcher, bench.config, bench.clock)
    bench.admin.poll_feed = poller.poll_feed
    sub = (await _add(bench, format="text", template="NEW: {title}")).subscription
    plan = await bench.admin.preview(GUILD, sub.id)
    assert plan.embeds == ()
    assert plan.content.startswith("NEW: ")


async def test_settings_timezone_roles_and_moderator_check(bench: AdminBench) -> None:
    with pytest.raises(InvalidInput, match="not a known time zone"):
        await bench.admin.set_timezone(GUILD, MOD, "Mars/Olympus_Mons")
    settings = await bench.admin.set_timezone(GUILD, MOD, "Europe/London")
    assert settings.timezone == "Europe/London"
    await bench.admin.set_log_channel(GUILD, MOD, 99)
    await bench.admin.set_moderator_role(GUILD, MOD, 42)
    stored = await bench.admin.settings(GUILD)
    assert (stored.timezone, stored.log_channel_id, stored.moderator_role_id) == (
        "Europe/London",
        99,
        42,
    )
    assert bench.changes[-1].log_channel_id == 99
    assert may_moderate(has_manage_guild=False, role_ids=[42], settings=stored)
    assert not may_moderate(has_manage_guild=False, role_ids=[41], settings=stored)
    assert may_moderate(has_manage_guild=True, role_ids=[], settings=GuildSettings(GUILD))
    assert not may_moderate(has_manage_guild=False, role_ids=[42], settings=GuildSettings(GUILD))


def test_timezone_choices() -> None:
    assert timezone_choices("london") == ["Europe/London"]
    assert timezone_choices("")[0] == "UTC"
    assert len(timezone_choices("a")) == 25
