"""Operator pieces without the bench: the listen address rule, the health decision, what the
status page hides, the permission arithmetic doctor uses, and metrics bound at wiring time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import open_app
from bot.config import HttpConfig
from bot.doctor import PERMISSION_BITS, channel_permissions, granted_names
from bot.errors import ConfigError
from bot.metrics import EVENT_LOOP_STALLS, POOL_JOBS_KILLED, Metrics
from bot.web import health_problems, hide_queries, parse_listen, public_url
from tests.conftest import make_config

NOW = datetime(2026, 10, 2, 9, 30, tzinfo=UTC)


def test_listen_is_off_by_default_and_loopback_is_accepted() -> None:
    assert parse_listen(HttpConfig()) is None
    assert parse_listen(HttpConfig(listen="127.0.0.1:8080")) == ("127.0.0.1", 8080)
    assert parse_listen(HttpConfig(listen="[::1]:9000")) == ("::1", 9000)
    assert parse_listen(HttpConfig(listen="localhost:0")) == ("localhost", 0)


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.168.1.5:8080", "[::]:80", "host:80"])
def test_a_public_listen_address_is_refused_unless_allowed(listen: str) -> None:
    with pytest.raises(ConfigError, match=r"not a loopback address.*reverse proxy"):
        parse_listen(HttpConfig(listen=listen))
    assert parse_listen(HttpConfig(listen=listen, allow_public=True)) is not None


@pytest.mark.parametrize("listen", ["8080", "127.0.0.1", "127.0.0.1:http", ":8080"])
def test_a_malformed_listen_address_is_named(listen: str) -> None:
    with pytest.raises(ConfigError, match="expected host:port"):
        parse_listen(HttpConfig(listen=listen))


async def test_open_app_refuses_a_public_endpoint_before_opening_anything(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, http={"listen": "0.0.0.0:8080"})
    with pytest.raises(ConfigError, match="allow_public"):
        await open_app(config)
    assert not (tmp_path / "paperboy.db").exists()


def test_health_names_each_problem() -> None:
    healthy = dict(
        now=NOW,
        gateway_connected=True,
        last_poll_round=NOW - timedelta(seconds=30),
        started_at=NOW - timedelta(hours=1),
        stale_after=timedelta(minutes=10),
        write_problem=None,
    )
    assert health_problems(**healthy) == []  # type: ignore[arg-type]
    assert health_problems(**{**healthy, "gateway_connected": False}) == [  # type: ignore[arg-type]
        "not connected to the Discord gateway"
    ]
    stale = {**healthy, "last_poll_round": NOW - timedelta(minutes=11)}
    assert health_problems(**stale) == ["no polling round finished for 660 s"]  # type: ignore[arg-type]
    fresh_start = {**healthy, "last_poll_round": None, "started_at": NOW - timedelta(seconds=5)}
    assert health_problems(**fresh_start) == []  # type: ignore[arg-type]
    broken = {**healthy, "write_problem": "the database is not writable (disk I/O error)"}
    assert health_problems(**broken) == ["the database is not writable (disk I/O error)"]  # type: ignore[arg-type]


def test_addresses_are_shown_without_credentials_or_query() -> None:
    assert public_url("https://user:pw@example.org:8443/feed.xml?key=abc#x") == (
        "https://example.org:8443/feed.xml?…"
    )
    assert public_url("https://example.org/feed.xml") == "https://example.org/feed.xml"
    assert hide_queries("404 at https://example.org/f?token=abc and http://x/y?z") == (
        "404 at https://example.org/f?… and http://x/y?…"
    )


GUILD_ID, BOT_ID, BOT_ROLE = 1, 2, 3
SEND = PERMISSION_BITS["send_messages"]
VIEW = PERMISSION_BITS["view_channel"]


def guild(everyone: int, role: int, owner: int = 99) -> dict[str, object]:
    return {
        "id": str(GUILD_ID),
        "owner_id": str(owner),
        "roles": [
            {"id": str(GUILD_ID), "permissions": str(everyone)},
            {"id": str(BOT_ROLE), "permissions": str(role)},
        ],
    }


def channel(*overwrites: tuple[int, int, int, int]) -> dict[str, object]:
    return {
        "permission_overwrites": [
            {"id": str(i), "type": t, "allow": str(a), "deny": str(d)} for i, t, a, d in overwrites
        ]
    }


MEMBER = {"roles": [str(BOT_ROLE)]}


def test_permissions_follow_discords_order_of_overwrites() -> None:
    base = guild(VIEW | SEND, 0)
    assert granted_names(channel_permissions(base, MEMBER, channel(), BOT_ID)) >= {
        "view_channel",
        "send_messages",
    }
    # @everyone denies Send Messages; the bot's role allows it back; a member overwrite wins.
    denied = channel((GUILD_ID, 0, 0, SEND))
    assert "send_messages" not in granted_names(channel_permissions(base, MEMBER, denied, BOT_ID))
    allowed = channel((GUILD_ID, 0, 0, SEND), (BOT_ROLE, 0, SEND, 0))
    assert "send_messages" in granted_names(channel_permissions(base, MEMBER, allowed, BOT_ID))
    member_deny = channel((BOT_ROLE, 0, SEND, 0), (BOT_ID, 1, 0, SEND))
    assert "send_messages" not in granted_names(
        channel_permissions(base, MEMBER, member_deny, BOT_ID)
    )
    # Without View Channel nothing counts; administrators and the owner have everything.
    hidden = channel((GUILD_ID, 0, 0, VIEW))
    assert channel_permissions(base, MEMBER, hidden, BOT_ID) == 0
    admin = guild(0, 1 << 3)
    assert "send_messages" in granted_names(channel_permissions(admin, MEMBER, hidden, BOT_ID))
    owner = guild(0, 0, owner=BOT_ID)
    assert "send_messages" in granted_names(channel_permissions(owner, MEMBER, hidden, BOT_ID))


def scrape(metrics: Metrics) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
        if not sample.labels
    }


def test_values_bound_at_wiring_time_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    assert scrape(metrics)[EVENT_LOOP_STALLS] == 0
    stalls = [0]
    metrics.bind_counter(EVENT_LOOP_STALLS, "stalls", lambda: stalls[0])
    metrics.bind_counter(POOL_JOBS_KILLED, "killed", lambda: 4)
    stalls[0] = 3
    found = scrape(metrics)
    assert found[EVENT_LOOP_STALLS] == 3
    assert found[POOL_JOBS_KILLED] == 4
    metrics.bind_gauge("paperboy_event_loop_lag_seconds", "lag", lambda: 0.25)
    assert scrape(metrics)["paperboy_event_loop_lag_seconds"] == 0.25


def test_two_metrics_objects_do_not_share_counters() -> None:
    first, second = Metrics(), Metrics()
    first.observe_delivery("sent")
    assert first.deliveries.labels("sent")._value.get() == 1
    assert second.deliveries.labels("sent")._value.get() == 0


def test_the_container_config_loads_and_its_endpoint_is_allowed() -> None:
    from bot.config import load

    path = Path(__file__).resolve().parents[2] / "deploy" / "config.container.toml"
    config = load(path)
    # Inside a container 0.0.0.0 is needed for a published port, so it must say allow_public.
    assert parse_listen(config.http) == ("0.0.0.0", 8080)
