"""SIGKILL in the middle of an edit: a real bot process, killed while Discord holds its edit.

An article that changes after it was announced is edited through the outbox of edits: claimed
(committed) before Discord is asked, then settled. The stand-in holds the PATCH unanswered, the
bot is killed with SIGKILL, and a new process must end with exactly one edit applied:
- killed before Discord applied it: the claimed edit is found not applied and made once;
- killed after Discord applied it (the answer lost): it is found applied and not made again.
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


async def edit_states(path: str) -> list[str]:
    """The states of every row in the outbox of edits (read beside the running bot)."""
    storage = await Storage.open(path, migrate=False)
    try:
        rows = await storage.fetch_all("SELECT state FROM outbox_edits ORDER BY id")
    finally:
        await storage.close()
    return [row["state"] for row in rows]


@pytest.mark.parametrize("applied_before_kill", [False, True], ids=["before-edit", "after-edit"])
async def test_sigkill_between_claim_and_edit_yields_exactly_one_edit(
    tmp_path: Path, bench_database: str, applied_before_kill: bool
) -> None:
    async with DiscordStandIn() as standin, NewsSite(initially_published=3) as site:
        world = standin.populate_default()
        general = world.general_id
        config_path = write_config(tmp_path, standin, bench_database)
        database = storage_target(bench_database, tmp_path / "bot.db")
        await subscribe_following_changes(config_path, site, world, "edit")
        item = site.publish_next()
        process: Any = await start_bot(tmp_path, config_path, standin.token, 0)
        try:

            def posts() -> list[dict[str, Any]]:
                return [
                    m
                    for m in standin.messages_in(general, include_threads=False)
                    if item.title in (m.get("content") or "")
                ]

            await standin.wait_until(lambda: len(posts()) == 1, timeout=30, what="the post")
            message_id = int(posts()[0]["id"])
            path = f"/channels/{general}/messages/{message_id}"

            def patches() -> int:
                return len(standin.recorder.requests_to("PATCH", path))

            standin.faults.hang("PATCH", path, after_effect=applied_before_kill)
            site.edit(item, title=f"{item.title} (updated)")
            # The bot polls every second: it sees the change, claims the edit and sends it.
            await standin.wait_until(lambda: patches() == 1, timeout=30, what="the edit request")
            process.send_signal(signal.SIGKILL)
            await process.wait()
            process = None
            assert await edit_states(database) == ["claimed"]
            assert standin.edit_counts.get(message_id, 0) == (1 if applied_before_kill else 0)
            standin.faults.clear()  # the held request is answered to nobody

            gets = len(standin.recorder.requests_to("GET", path))
            process = await start_bot(tmp_path, config_path, standin.token, 1)
            # Reconciliation reads the message; then the edit is made once, or found made.
            await standin.wait_until(
                lambda: (
                    len(standin.recorder.requests_to("GET", path)) > gets
                    and standin.edit_counts.get(message_id, 0) == 1
                    and (applied_before_kill or patches() == 2)
                ),
                timeout=30,
                what="the reconciled edit",
            )
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
            process = None
        finally:
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

        assert standin.edit_counts[message_id] == 1
        assert patches() == (1 if applied_before_kill else 2)
        assert "(updated)" in standin.messages[message_id]["content"]
        assert len(posts()) == 1
        assert await edit_states(database) == ["sent"]
