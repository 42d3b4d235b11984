"""What `paperboy worker`, which has no Discord, hands to the bot processes through the database
(migration 0017): the moderators' notices it raises while polling, posted by the process serving
each server, and the new articles it polls, matched against members' keyword alerts and sent by
a bot process. Real processes: two `run --shards N --shard-count 2 --no-poll` and a worker, on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock
from bot.models import GuildSettings
from bot.services.alerts import AlertService
from bot.storage import Storage
from tests.bench.discord_standin import DiscordStandIn
from tests.bench.news_site import NewsSite
from tests.conftest import storage_target
from tests.e2e.processes import (
    dispatch,
    news_channels,
    processes,
    shard_process,
    shared_database,
    subscribe_before_start,
    write_config,
)

pytestmark = pytest.mark.timeout(240)

COUNT = 2
MAX_NEW_PER_POLL = 2
KEYWORD = "cooperative"


def held_back_notices(standin: DiscordStandIn, channel_id: int) -> list[dict[str, Any]]:
    return [
        m
        for m in standin.messages_in(channel_id, include_threads=False)
        if "/feeds why" in (m.get("content") or "")
    ]


async def test_a_workers_notices_and_alerts_reach_discord_through_the_bot_processes(
    tmp_path: Path, bench_engine: str, request: pytest.FixtureRequest
) -> None:
    url = await shared_database(bench_engine, request)
    async with (
        DiscordStandIn() as standin,
        NewsSite(initially_published=2, feed_size=200) as site,
        processes(tmp_path, standin, url) as running,
    ):
        worlds = [
            standin.populate_default("Shard zero", shard=(0, COUNT)),
            standin.populate_default("Shard one", shard=(1, COUNT)),
        ]
        setup = write_config(tmp_path, standin, "setup", url)
        await subscribe_before_start(setup, site, news_channels(worlds))
        # Log channels and an alert, as moderators and a member set them (their commands are
        # tested on their own): written before the processes start.
        storage = await Storage.open(storage_target(url, tmp_path / "bot.db"))
        try:
            clock = SystemClock()
            for world in worlds:
                await storage.update_guild_settings(
                    GuildSettings(world.guild_id, log_channel_id=world.general_id),
                    now=clock.now(),
                )
            member = worlds[1].member_id
            await AlertService(storage, clock).add(member, worlds[1].guild_id, KEYWORD)
        finally:
            await storage.close()

        overrides = {"announcements": {"max_new_per_poll": MAX_NEW_PER_POLL}}
        for shard in range(COUNT):
            await running.start(f"p{shard}", *shard_process(shard, COUNT), overrides=overrides)
        await running.start("worker", "worker", overrides=overrides)
        await standin.wait_until(
            lambda: standin.gateway.connected_shards() == {(s, COUNT) for s in range(COUNT)},
            timeout=60,
            what="both shard processes connected",
        )

        # An article matching the member's alert: the worker polls it, a bot process DMs it.
        matching = dataclasses.replace(
            dispatch(1, "Handoff"), title=f"Printers form a {KEYWORD} in the old mill"
        )
        site.publish(matching, at=None)
        await standin.wait_until(
            lambda: standin.direct_messages_to(member), timeout=60, what="the alert DM"
        )
        [dm] = standin.direct_messages_to(member)
        assert dm["embeds"][0]["title"] == matching.title
        assert KEYWORD in dm["embeds"][0]["footer"]["text"]

        # More new items at once than a poll may announce: the worker holds some back, and
        # each server's moderators are told in its log channel, by its own shard's process.
        for number in range(2, 2 + MAX_NEW_PER_POLL + 2):
            site.publish(dispatch(number, "Handoff"), at=None)
        for shard, world in enumerate(worlds):
            await standin.wait_until(
                lambda world=world: held_back_notices(standin, world.general_id),
                timeout=60,
                what=f"the held-back notice in server {world.guild_id}",
            )
            posters = {
                r.via
                for r in standin.recorder.requests_to(
                    "POST", f"/channels/{world.general_id}/messages"
                )
            }
            assert posters == {f"p{shard}"}

        codes = await running.stop_all()
        assert codes == {"p0": 0, "p1": 0, "worker": 0}, codes
        for name in ("p0", "p1", "worker"):
            assert "Traceback" not in running.log(name), running.log(name)
        assert "Not told to guild" not in running.log("worker")
        # Told once each, and the DM was sent once.
        for world in worlds:
            assert len(held_back_notices(standin, world.general_id)) == 1
        assert len(standin.direct_messages_to(member)) == 1
