"""The operator endpoint on the end-to-end bench: /healthz follows the gateway and the database,
/metrics parses with prometheus-client's own parser and moves as the bench publishes and
delivers, and the status page shows feed health without secrets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Bench, BenchFactory
from tests.e2e.support import FAST_HIGH_RATE, ready_text_channel, wait_for_count

HTTP = {"listen": "127.0.0.1:0"}


async def get(bench: Bench, path: str) -> tuple[int, str]:
    assert bench.app.ops is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{bench.app.ops.port}{path}") as response,
    ):
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels), parsed by prometheus-client's parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def event_once(bench: Bench, name: str) -> asyncio.Event:
    """An event set the next time the client dispatches `name` (Paperboy has seen it by then)."""
    seen = asyncio.Event()

    async def listener(*args: Any) -> None:
        seen.set()

    bench.bot.add_listener(listener, name)
    return seen


@pytest.mark.sqlite_only(
    "makes the database read-only with SQLite's PRAGMA query_only; the PostgreSQL write probe "
    "is tested in tests/unit/test_storage_postgres.py"
)
async def test_healthz_follows_the_gateway_and_a_read_only_database(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(http=HTTP) as bench:
        await bench.app.poller.poll_due()  # a polling round has finished
        assert await get(bench, "/healthz") == (200, "ok\n")

        dropped, resumed = event_once(bench, "on_disconnect"), event_once(bench, "on_resumed")
        async with bench.discord.gateway_outage():
            await asyncio.wait_for(dropped.wait(), 10)
            status, body = await get(bench, "/healthz")
            assert status == 503
            assert "not connected to the Discord gateway" in body
        await asyncio.wait_for(resumed.wait(), 20)
        assert await get(bench, "/healthz") == (200, "ok\n")

        # The writer's own connection goes read-only (reads use a second connection, and a
        # transaction cannot turn query_only off again, so the pragma is set outside one).
        writer = bench.app.storage._sqlite().raw
        await writer.execute("PRAGMA query_only = ON")
        try:
            status, body = await get(bench, "/healthz")
        finally:
            await writer.execute("PRAGMA query_only = OFF")
        assert status == 503
        assert "the database is not writable" in body and "readonly" in body
        assert await get(bench, "/healthz") == (200, "ok\n")


async def test_metrics_parse_and_count_polls_deliveries_and_commands(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(http=HTTP, announcements=FAST_HIGH_RATE) as bench:
        feed_id, _ = await ready_text_channel(bench)
        status, text = await get(bench, "/metrics")
        assert status == 200
        before = samples(text)
        assert before[("paperboy_event_loop_stalls_total", ())] == 0
        assert before[("paperboy_pool_jobs_killed_total", ())] == 0

        for _ in range(2):
            bench.site.publish_next()
        outcome = await bench.app.poller.poll_feed(feed_id)
        assert outcome.ok and outcome.outbox_rows == 2
        await wait_for_count(bench, 2)
        bench.discord.faults.rate_limit("POST", "/channels/*/messages", times=1)
        bench.site.publish_next()
        await bench.app.poller.poll_feed(feed_id)
        await wait_for_count(bench, 3)
        completed = event_once(bench, "on_app_command_completion")
        handle = await bench.command("latest", user=bench.seed.member_id)
        await handle.reply()
        await asyncio.wait_for(completed.wait(), 10)  # counted when dispatched, before listeners

        after = samples((await get(bench, "/metrics"))[1])

        def moved(name: str, **labels: str) -> float:
            key = (name, tuple(sorted(labels.items())))
            return after.get(key, 0.0) - before.get(key, 0.0)

        assert moved("paperboy_polls_total", result="ok") == 2
        assert moved("paperboy_new_articles_total") == 3
        assert moved("paperboy_deliveries_total", outcome="sent") == 3
        assert moved("paperboy_discord_rate_limited_total") == 1
        assert moved("paperboy_feed_fetch_seconds_count") == 2
        assert moved("paperboy_member_commands_total", command="latest", result="ok") == 1
        assert after[("paperboy_outbox_depth", (("state", "pending"),))] == 0


async def test_failed_polls_are_counted_by_kind(make_bench: BenchFactory) -> None:
    async with make_bench(http=HTTP) as bench:
        feed = await bench.app.storage.add_feed(
            bench.site.url("/missing.xml"), now=bench.app.clock.now()
        )
        assert not (await bench.app.poller.poll_feed(feed.id)).ok
        found = samples((await get(bench, "/metrics"))[1])
        assert found[("paperboy_polls_total", (("result", "failed"),))] == 1
        assert found[("paperboy_poll_failures_total", (("kind", "http-4xx"),))] == 1


async def test_status_page_escapes_feed_text_and_hides_query_strings(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(http=HTTP) as bench:
        secret_url = bench.site.url("/missing.xml") + "?key=s3cret-feed-key"
        feed = await bench.app.storage.add_feed(
            secret_url, now=bench.app.clock.now(), title="<script>alert(1)</script>"
        )
        await bench.app.poller.poll_feed(feed.id)
        status, page = await get(bench, "/")
        assert status == 200
        assert "s3cret-feed-key" not in page
        assert "/missing.xml?…" in page
        assert "failing ×1" in page
        assert bench.discord.token not in page
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
