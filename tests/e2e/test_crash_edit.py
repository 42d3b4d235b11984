"""SIGKILL in the middle of an edit: a real bot process, killed while Discord holds its edit.

An article that changes after it was announced is edited through the outbox of edits: claimed
(committed) before Discord is asked, then settled. The stand-in holds the PATCH unanswered, the
bot is killed with SIGKILL, and a new process must end with exactly one edit applied:
- killed before Discord applied it: the claimed edit is found not applied and made once;
- killed after Discord applied it (the answer lost): it is found applied and not made again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.config import load
from bot.models import NewSubscription, Rhythm
from bot.storage import Storage
from tests.bench.discord_standin import DiscordStandIn, Seed
from tests.bench.news_site import NewsSite

pytestmark = pytest.mark.timeout(120)


def write_config(tmp_path: Path, standin: DiscordStandIn) -> Path:
    """A config pointing the bot at the stand-in, with fast polling and no pacing."""
    path = tmp_path / "config.toml"
    path.write_text(
        "[bot]\n"
        f'api_base_url = "{standin.api_base_url}"\n'
        f'gateway_url = "{standin.gateway_url}"\n'
        "guild_ready_timeout_seconds = 0.05\n"
        "reidentify_delay_seconds = 0\n"
        f'[database]\npath = "{tmp_path / "bot.db"}"\n'
        "[fetch]\nallow_private_addresses = true\n"
        "[feeds]\nmin_interval_seconds = 1\ndefault_interval_seconds = 1\n"
        "fetch_full_text = false\n"
        "[announcements]\nper_channel_interval_seconds = 0\nmax_age_days = 0\n"
        "backlog_count = 0\n",
        encoding="utf-8",
    )
    return path


async def subscribe_with_edits(config_path: Path, site: NewsSite, world: Seed) -> int:
    """#general follows the site (text format) and edits posts when articles change."""
    app = await open_app(load(config_path))
    try:
        now = app.clock.now()
        feed = await app.storage.add_feed(site.feed_url, now=now)
        assert (await app.poller.poll_feed(feed.id)).seeded
        subscription = await app.storage.add_subscription(
            NewSubscription(world.guild_id, world.general_id, feed.id, "text"), now=now
        )
        assert subscription is not None
        await app.storage.set_rhythm(subscription.id, Rhythm(on_change="edit"))
        return subscription.id
    finally:
        await app.close()


async def start_bot(tmp_path: Path, config_path: Path, token: str, run: int) -> Any:
    """`python -m bot run` as a child process, logging to a file."""
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    env["DISCORD_TOKEN"] = token
    log_file = (tmp_path / f"run-{run}.log").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config_path),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
    finally:
        log_file.close()


async def edit_states(path: Path) -> list[str]:
    """The states of every row in the outbox of edits (read beside the running bot)."""
    storage = await Storage.open(path, migrate=False)
    try:
        rows = await storage.fetch_all("SELECT state FROM outbox_edits ORDER BY id")
    finally:
        await storage.close()
    return [row["state"] for row in rows]


@pytest.mark.parametrize("applied_before_kill", [False, True], ids=["before-edit", "after-edit"])
async def test_sigkill_between_claim_and_edit_yields_exactly_one_edit(
    tmp_path: Path, applied_before_kill: bool
) -> None:
    async with DiscordStandIn() as standin, NewsSite(initially_published=3) as site:
        world = standin.populate_default()
        general = world.general_id
        config_path = write_config(tmp_path, standin)
        await subscribe_with_edits(config_path, site, world)
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
            assert await edit_states(tmp_path / "bot.db") == ["claimed"]
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
        assert await edit_states(tmp_path / "bot.db") == ["sent"]
