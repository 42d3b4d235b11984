"""The one wiring point: `open_app` builds every service once, and the Discord-facing pieces are
handed over once through `App.attach_discord`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.delivery.worker import Outgoing, SentMessage
from bot.services.admin import Change
from tests.conftest import make_config

GUILD, MODERATOR, LOG_CHANNEL = 700, 42, 10


class NoSender:
    """A sender nothing is sent through in these tests."""

    async def send(self, outgoing: Outgoing) -> SentMessage:
        raise AssertionError("nothing is delivered here")

    async def find_existing(self, outgoing: Outgoing) -> SentMessage | None:
        raise AssertionError("nothing is reconciled here")


class QuietNotifier:
    """Remembers what moderators would have been told."""

    def __init__(self) -> None:
        self.told: list[tuple[int, str]] = []

    async def tell_moderators(self, guild_id: int, text: str) -> None:
        self.told.append((guild_id, text))


class RecordingChangeLog:
    """Remembers every change handed to the log channel."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    async def post_change(self, change: Change) -> None:
        self.changes.append(change)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    opened = await open_app(make_config(tmp_path))
    try:
        yield opened
    finally:
        await opened.close()


async def test_the_worker_exists_only_once_discord_is_attached(app: App) -> None:
    with pytest.raises(RuntimeError, match="attach_discord"):
        app.worker  # noqa: B018 (the property is what is tested)
    sender, notifier = NoSender(), QuietNotifier()
    app.attach_discord(sender=sender, notifier=notifier, change_log=RecordingChangeLog())
    assert app.worker.sender is sender and app.worker.notifier is notifier
    assert app.worker.notice_source is app.delivery
    with pytest.raises(RuntimeError, match="already attached"):
        app.attach_discord(sender=sender, notifier=notifier, change_log=RecordingChangeLog())


async def test_settings_changes_reach_the_attached_change_log(app: App) -> None:
    change_log = RecordingChangeLog()
    app.attach_discord(sender=NoSender(), notifier=QuietNotifier(), change_log=change_log)
    await app.admin.set_log_channel(GUILD, MODERATOR, LOG_CHANNEL)
    await app.admin.set_timezone(GUILD, MODERATOR, "Europe/Berlin")
    assert [(c.action, c.log_channel_id, c.user_id) for c in change_log.changes] == [
        ("settings.log-channel", LOG_CHANNEL, MODERATOR),
        ("settings.timezone", LOG_CHANNEL, MODERATOR),
    ]


async def test_services_share_one_feed_admin_wired_to_poller_and_delivery(app: App) -> None:
    assert app.portability.admin is app.admin
    assert app.admin.wake_poller == app.poller.wake
    assert app.admin.poll_feed == app.poller.poll_feed
    assert app.admin.seed_subscription == app.delivery.seed_new_subscription
    assert app.admin.wake_delivery == app.delivery.wake
    assert app.admin.pool is app.pool
