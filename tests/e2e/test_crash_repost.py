"""SIGKILL in the middle of a repost: a real bot process, killed while Discord holds the post of
an article's new version.

A repost is an outbox row like any post: claimed (committed) before Discord is asked, and after
a crash looked for in the channel. The stand-in holds the POST unanswered, the bot is killed with
SIGKILL, and a new process must end with exactly one repost in the channel:
- killed before Discord made the message: the claimed row is found not posted and posted once;
- killed after (the answer lost): the message is found and not posted again.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Storage
from tests.bench.discord_standin import DiscordStandIn
from tests.bench.news_site import NewsSite
from tests.conftest import storage_target
from tests.e2e.support import start_bot, subscribe_following_changes, write_config

pytestmark = pytest.mark.timeout(120)


async def outbox_states(path: str, subscription_id: int) -> list[str]:
    """The states of the subscription's outbox rows, oldest first (read beside the bot)."""
    storage = await Storage.open(path, migrate=False)
    try:
        return [row.state for row in await storage.subscription_outbox(subscription_id)]
    finally:
        await storage.close()


@pytest.mark.parametrize("posted_before_kill", [False, True], ids=["before-post", "after-post"])
async def test_sigkill_between_claim_and_post_yields_exactly_one_repost(
    tmp_path: Path, bench_database: str, posted_before_kill: bool
) -> None:
    async with DiscordStandIn() as standin, NewsSite(initially_published=3) as site:
        world = standin.populate_default()
        general = world.general_id
        config_path = write_config(tmp_path, standin, bench_database)
        database = storage_target(bench_database, tmp_path / "bot.db")
        subscription = await subscribe_following_changes(config_path, site, world, "repost")
        item = site.publish_next()
        original = item.title
        path = f"/channels/{general}/messages"
        process: Any = await start_bot(tmp_path, config_path, standin.token, 0)
        try:

            def posts() -> list[dict[str, Any]]:
                return [
                    m
                    for m in standin.messages_in(general, include_threads=False)
                    if original in (m.get("content") or "")
                ]

            def reposts() -> list[dict[str, Any]]:
                return [m for m in posts() if "Updated: " in (m.get("content") or "")]

            def requests() -> int:
                return len(standin.recorder.requests_to("POST", path))

            await standin.wait_until(lambda: len(posts()) == 1, timeout=30, what="the post")
            before = requests()
            standin.faults.hang("POST", path, after_effect=posted_before_kill)
            site.edit(item, title=f"{original} (updated)")
            # The bot polls every second: it sees the change, queues the repost, claims it.
            await standin.wait_until(
                lambda: requests() == before + 1, timeout=30, what="the repost request"
            )
            process.send_signal(signal.SIGKILL)
            await process.wait()
            process = None
            assert await outbox_states(database, subscription) == ["sent", "claimed"]
            assert len(reposts()) == (1 if posted_before_kill else 0)
            standin.faults.clear()  # the held request is answered to nobody

            gets = len(standin.recorder.requests_to("GET", path))
            process = await start_bot(tmp_path, config_path, standin.token, 1)
            # Reconciliation reads the channel; then the repost is made once, or found made.
            await standin.wait_until(
                lambda: (
                    len(standin.recorder.requests_to("GET", path)) > gets
                    and len(reposts()) == 1
                    and (posted_before_kill or requests() == before + 2)
                ),
                timeout=30,
                what="the reconciled repost",
            )
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
            process = None
        finally:
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

        assert len(reposts()) == 1
        assert len(posts()) == 2
        assert requests() == before + (1 if posted_before_kill else 2)
        assert "(updated)" in reposts()[0]["content"]
        assert await outbox_states(database, subscription) == ["sent", "sent"]
