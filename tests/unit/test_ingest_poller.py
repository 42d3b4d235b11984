"""The poller against loopback feeds and a real database: dedupe, delivery work, faults."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.announce.render import MessagePlan
from bot.clock import FakeClock
from bot.config import Config
from bot.errors import FetchError, NotFound
from bot.fetch import Fetcher, kinds, make_session
from bot.ingest.poller import NewArticlesEvent, Poller
from bot.storage import PollTransaction, Storage
from tests.builders import subscribe
from tests.conftest import make_config
from tests.feed_server import START, FeedServer, Reply, item, rss

# -- fixtures -----------------------------------------------------------------------------------


@dataclass
class Env:
    storage: Storage
    config: Config
    clock: FakeClock
    fetcher: Fetcher
    poller: Poller
    server: FeedServer
    events: list[NewArticlesEvent]

    async def add_feed(self, path: str, body: bytes) -> int:
        self.server.replies[path] = Reply(rss_body := body)
        assert rss_body
        feed = await self.storage.add_feed(self.server.url(path), now=self.clock.now())
        return feed.id

    async def subscribe(self, feed_id: int, channel_id: int, **extra: Any) -> int:
        subscription = await subscribe(
            self.storage, feed_id, channel_id, now=self.clock.now(), **extra
        )
        return subscription.id

    async def count(self, table: str, where: str = "1 = 1") -> int:
        return int(await self.storage.scalar(f"SELECT count(*) FROM {table} WHERE {where}"))


def build_env(
    storage: Storage, config: Config, server: FeedServer, session: Any, clock: FakeClock
) -> Env:
    fetcher = Fetcher(session, config.fetch)
    poller = Poller(storage, fetcher, config, clock, rng=random.Random(7))
    events: list[NewArticlesEvent] = []

    async def remember(event: NewArticlesEvent) -> None:
        events.append(event)

    poller.on_new_articles.append(remember)
    return Env(storage, config, clock, fetcher, poller, server, events)


@pytest.fixture
async def env(storage: Storage, tmp_path: Path) -> AsyncIterator[Env]:
    config = make_config(
        tmp_path,
        feeds={"failing_threshold": 3, "default_interval_seconds": 300, "min_interval_seconds": 60},
        announcements={"max_age_days": 0.0},
    )
    clock = FakeClock(START)
    async with FeedServer() as server, make_session(config.fetch, "test") as session:
        yield build_env(storage, config, server, session, clock)


# -- first poll, new items, dedupe --------------------------------------------------------------


async def test_first_poll_records_items_as_seen_without_delivery_work(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(3), item(2), item(1)]))
    await env.subscribe(feed_id, channel_id=100)

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.ok and outcome.seeded
    assert await env.count("articles") == 3
    assert await env.count("feed_entries") == 3
    assert await env.count("outbox") == 0
    assert [e.seeded for e in env.events] == [True]
    items = await env.storage.feed_items(feed_id, limit=2)
    assert [i.title for i in items] == ["Story number 3", "Story number 2"]


async def test_a_new_item_creates_one_pending_delivery_per_subscription(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(2), item(1)]))
    sub_a = await env.subscribe(feed_id, channel_id=100)
    sub_b = await env.subscribe(feed_id, channel_id=200)
    await env.poller.poll_feed(feed_id)
    env.server.replies["/feed/"] = Reply(rss([item(3, published=START), item(2), item(1)]))

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.ok and not outcome.seeded
    assert len(outcome.new_articles) == 1 and outcome.outbox_rows == 2
    rows = await env.storage.fetch_all("SELECT * FROM outbox ORDER BY subscription_id")
    assert [(r["subscription_id"], r["state"]) for r in rows] == [
        (sub_a, "pending"),
        (sub_b, "pending"),
    ]
    for row in rows:
        plan = MessagePlan.from_json(row["payload"])
        assert plan.marker == f"pb-o{row['id']}"
        assert plan.embeds[0].title == "Story number 3"
    assert env.events[-1] == NewArticlesEvent(feed_id, outcome.new_articles, seeded=False)


async def test_an_edited_item_is_not_new_again(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(2), item(1)]))
    await env.subscribe(feed_id, channel_id=100)
    await env.poller.poll_feed(feed_id)
    edited = item(
        2,
        title="Story number 2 (updated)",
        published=START + timedelta(hours=5),
        description="A rewritten description.",
    )
    env.server.replies["/feed/"] = Reply(rss([edited, item(1)]))

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.ok and outcome.new_articles == () and outcome.new_to_feed == ()
    assert await env.count("articles") == 2
    assert await env.count("outbox") == 0


async def test_a_guid_repeated_in_one_feed_keeps_the_first_item(env: Env) -> None:
    first = item(2, title="The first copy")
    second = item(2, title="A stale copy", link="https://paper.example/other/")
    feed_id = await env.add_feed("/feed/", rss([first, second, item(1)]))

    await env.poller.poll_feed(feed_id)

    titles = [row[0] for row in await env.storage.fetch_all("SELECT title FROM articles")]
    assert sorted(titles) == ["Story number 1", "The first copy"]
    assert await env.count("feed_entries") == 2


async def test_one_article_through_two_section_feeds_is_one_row_and_one_post_per_channel(
    env: Env,
) -> None:
    housing = await env.add_feed("/category/housing/feed/", rss([item(1)]))
    campaigns = await env.add_feed("/category/campaigns/feed/", rss([item(1)]))
    await env.subscribe(housing, channel_id=100)
    await env.subscribe(campaigns, channel_id=100)  # the same channel through another feed
    other_channel = await env.subscribe(campaigns, channel_id=200)
    await env.poller.poll_due()
    shared = item(5, published=START)
    tracked = dict(shared, link=shared["link"] + "?utm_source=rss", guid="campaigns-5")
    env.server.replies["/category/housing/feed/"] = Reply(rss([shared, item(1)]))
    env.server.replies["/category/campaigns/feed/"] = Reply(rss([tracked, item(1)]))

    await env.poller.poll_feed(housing)
    await env.poller.poll_feed(campaigns)

    assert await env.count("articles") == 2
    rows = await env.storage.fetch_all("SELECT channel_id, subscription_id FROM outbox")
    assert sorted(r["channel_id"] for r in rows) == [100, 200]
    assert other_channel in [r["subscription_id"] for r in rows]


async def test_a_changed_guid_for_a_known_article_is_not_announced_again(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(2), item(1)]))
    await env.subscribe(feed_id, channel_id=100)
    await env.poller.poll_feed(feed_id)
    env.server.replies["/feed/"] = Reply(rss([item(2, guid="migrated-2"), item(1)]))

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.new_to_feed == () and await env.count("outbox") == 0
    assert await env.count("feed_entries") == 3  # the new key is remembered


async def test_filtered_and_held_back_items_get_skipped_rows_with_reasons(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(1)]))
    sub = await env.subscribe(feed_id, channel_id=100, exclude_filter="sport")
    await env.poller.poll_feed(feed_id)
    sporty = item(2, title="Sport roundup", published=START)
    many = [item(n, published=START - timedelta(minutes=n)) for n in range(10, 17)]
    env.server.replies["/feed/"] = Reply(rss([sporty, *many, item(1)]))

    await env.poller.poll_feed(feed_id)

    rows = await env.storage.fetch_all(
        "SELECT o.state, o.reason, a.title FROM outbox o JOIN articles a ON a.id = o.article_id "
        "WHERE subscription_id = ?",
        (sub,),
    )
    by_title = {r["title"]: (r["state"], r["reason"]) for r in rows}
    assert by_title["Sport roundup"] == ("skipped", "filtered: excluded: sport found in the title")
    states = [state for state, _ in by_title.values()]
    assert states.count("pending") == env.config.announcements.max_new_per_poll
    assert states.count("skipped") == 1 + 7 - env.config.announcements.max_new_per_poll


# -- the unit of work ---------------------------------------------------------------------------


async def test_a_crash_inside_the_poll_leaves_no_trace_and_the_next_poll_redoes_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(1)]))
    await env.subscribe(feed_id, channel_id=100)
    await env.subscribe(feed_id, channel_id=200)
    await env.poller.poll_feed(feed_id)
    before = await env.storage.feed(feed_id)
    env.server.replies["/feed/"] = Reply(rss([item(2, published=START), item(1)]))
    real_add_outbox = PollTransaction.add_outbox
    seen_articles: list[int] = []

    async def crash_after_articles(self: PollTransaction, rows: Any) -> Any:
        seen_articles.extend(self.inserted_article_ids)
        raise RuntimeError("simulated crash between writes")

    monkeypatch.setattr(PollTransaction, "add_outbox", crash_after_articles)
    crashed = await env.poller.poll_feed(feed_id)

    assert seen_articles, "the crash came after the article was inserted"
    assert not crashed.ok and crashed.error_kind == "internal"
    assert await env.count("articles") == 1
    assert await env.count("feed_entries") == 1
    assert await env.count("outbox") == 0
    after = await env.storage.feed(feed_id)
    assert after is not None and before is not None
    assert (after.etag, after.last_success_at) == (before.etag, before.last_success_at)
    assert after.consecutive_failures == 1

    monkeypatch.setattr(PollTransaction, "add_outbox", real_add_outbox)
    redone = await env.poller.poll_feed(feed_id)

    assert redone.ok and len(redone.new_articles) == 1 and redone.outbox_rows == 2
    assert await env.count("articles") == 2 and await env.count("outbox") == 2
    recovered = await env.storage.feed(feed_id)
    assert recovered is not None and recovered.consecutive_failures == 0


# -- failures -----------------------------------------------------------------------------------


class FailingResolver(AbstractResolver):
    """Every name is unknown."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(socket.EAI_NONAME, f"unknown host {host}")

    async def close(self) -> None:
        return None


FAULTS: dict[str, Reply] = {
    "http-5xx": Reply(b"<h1>down</h1>", status=503, content_type="text/html"),
    "http-4xx": Reply(b"gone", status=410, content_type="text/plain"),
    "rate-limited": Reply(b"slow down", status=429, headers={"Retry-After": "7200"}),
    "blocked-by-challenge": Reply(
        b"<html>challenge</html>", status=403, headers={"cf-mitigated": "challenge"}
    ),
    "not-a-feed": Reply(b"<!DOCTYPE html><html><body>hi</body></html>", content_type="text/html"),
    "parse-error": Reply(b'<feed xmlns="http://www.w3.org/2005/Atom"><<<<'),
    "too-large": Reply(b"<rss>" + b" " * 3000 + b"</rss>"),
    "redirects": Reply(status=302, headers={"Location": "/broken/"}),
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_each_fault_is_recorded_with_its_class_and_the_other_feeds_carry_on(
    storage: Storage, tmp_path: Path, kind: str
) -> None:
    config = make_config(tmp_path, fetch={"max_feed_bytes": 2048})
    clock = FakeClock(START)
    async with FeedServer() as server, make_session(config.fetch, "test") as session:
        env = build_env(storage, config, server, session, clock)
        healthy = await env.add_feed("/good/", rss([item(1)]))
        broken = await env.add_feed("/broken/", rss([item(1)]))
        server.replies["/broken/"] = FAULTS[kind]

        report = await env.poller.poll_due()

        assert report.polled == 2
        assert [o.feed_id for o in report.failed] == [broken]
        feed = await storage.feed(broken)
        assert feed is not None
        assert feed.last_error_kind == kind
        assert feed.last_error_message and feed.last_error_message.endswith(".")
        assert feed.consecutive_failures == 1
        assert feed.next_check_at >= START + timedelta(seconds=config.feeds.min_interval_seconds)
        good = await storage.feed(healthy)
        assert good is not None and good.last_success_at == START


async def test_transport_faults_are_recorded_too(storage: Storage, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(START)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on this port now
    async with FeedServer() as server:
        async with make_session(config.fetch, "test") as session:
            env = build_env(storage, config, server, session, clock)
            refused = await storage.add_feed(f"http://127.0.0.1:{port}/feed", now=START)
            await env.poller.poll_due()
        async with make_session(config.fetch, "test", resolver=FailingResolver()) as session:
            env = build_env(storage, config, server, session, clock)
            unknown = await storage.add_feed("http://no-such-host.example/feed", now=START)
            await env.poller.poll_feed(unknown.id)
    refused_now, unknown_now = await storage.feed(refused.id), await storage.feed(unknown.id)
    assert refused_now is not None and refused_now.last_error_kind == "refused"
    assert unknown_now is not None and unknown_now.last_error_kind == "dns"


async def test_backoff_grows_with_each_failure_in_a_row(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(1)]))
    env.server.replies["/feed/"] = FAULTS["http-5xx"]
    waits = []
    for _ in range(4):
        await env.poller.poll_feed(feed_id)
        feed = await env.storage.feed(feed_id)
        assert feed is not None
        waits.append((feed.next_check_at - env.clock.now()).total_seconds())
        env.clock.advance(waits[-1])
    # Doubling with ±10% jitter: each wait is well over the previous one.
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(waits))


async def test_a_feed_left_waiting_for_a_request_slot_is_not_counted_as_failing(
    storage: Storage, tmp_path: Path
) -> None:
    # The site's only slot is held (as by other feeds of the same site) past the bounded wait:
    # the site was never asked, so the feed keeps its failure count and stays due.
    config = make_config(
        tmp_path, fetch={"per_host_concurrency": 1}, limits={"slot_wait_seconds": 0.05}
    )
    async with FeedServer() as server, make_session(config.fetch, "test") as session:
        env = build_env(storage, config, server, session, FakeClock(START))
        env.fetcher = env.poller.fetcher = Fetcher(session, config.fetch, limits=config.limits)
        feed_id = await env.add_feed("/feed/", rss([item(1)]))
        async with env.fetcher.host_limiter.hold("127.0.0.1"):
            outcome = await env.poller.poll_feed(feed_id)
        assert (outcome.ok, outcome.error_kind) == (False, "busy")
        feed = await env.storage.feed(feed_id)
        assert feed is not None
        assert feed.consecutive_failures == 0 and feed.next_check_at <= env.clock.now()
        assert (await env.poller.poll_feed(feed_id)).ok  # the slot is free again: polled


async def test_a_failing_feed_is_reported_once_until_it_recovers(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(1)]))
    env.server.replies["/feed/"] = FAULTS["http-5xx"]
    threshold = env.config.feeds.failing_threshold
    for _ in range(threshold - 1):
        await env.poller.poll_feed(feed_id)
    assert await env.storage.feeds_to_report_failing(threshold) == []
    await env.poller.poll_feed(feed_id)
    assert [f.id for f in await env.storage.feeds_to_report_failing(threshold)] == [feed_id]
    await env.storage.mark_failing_notified(feed_id)
    await env.poller.poll_feed(feed_id)
    assert await env.storage.feeds_to_report_failing(threshold) == []

    env.server.replies["/feed/"] = Reply(rss([item(1)]))
    await env.poller.poll_feed(feed_id)
    feed = await env.storage.feed(feed_id)
    assert feed is not None and feed.consecutive_failures == 0 and not feed.failing_notified
    assert feed.last_error_kind is None and feed.last_success_at is not None

    env.server.replies["/feed/"] = FAULTS["http-5xx"]
    for _ in range(threshold):
        await env.poller.poll_feed(feed_id)
    assert [f.id for f in await env.storage.feeds_to_report_failing(threshold)] == [feed_id]


# -- conditional GET and server hints -----------------------------------------------------------


async def test_not_modified_is_a_success_with_nothing_to_parse(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(1)]))
    await env.poller.poll_feed(feed_id)
    first = await env.storage.feed(feed_id)
    assert first is not None and first.etag
    env.clock.advance(600)

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.ok and outcome.not_modified
    assert env.server.requests[-1].headers.get("If-None-Match") == first.etag
    feed = await env.storage.feed(feed_id)
    assert feed is not None and feed.last_success_at == env.clock.now() and feed.etag == first.etag


async def test_cache_control_and_retry_after_push_the_next_check_back(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(1)]))
    env.server.replies["/feed/"] = Reply(rss([item(1)]), headers={"Cache-Control": "max-age=3600"})
    await env.poller.poll_feed(feed_id)
    feed = await env.storage.feed(feed_id)
    assert feed is not None and feed.next_check_at == START + timedelta(seconds=3600)

    env.server.replies["/feed/"] = FAULTS["rate-limited"]
    await env.poller.poll_feed(feed_id)
    feed = await env.storage.feed(feed_id)
    assert feed is not None and feed.next_check_at == START + timedelta(seconds=7200)
    assert await env.storage.due_feed_ids(START + timedelta(seconds=7199)) == []


async def test_poll_feed_of_an_unknown_feed_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound):
        await env.poller.poll_feed(999)


# -- the loop -----------------------------------------------------------------------------------


async def test_run_polls_due_feeds_and_wakes_on_demand(env: Env) -> None:
    polled = asyncio.Event()

    async def signal(event: NewArticlesEvent) -> None:
        polled.set()

    env.poller.on_new_articles.append(signal)
    task = asyncio.create_task(env.poller.run())
    try:
        feed_id = await env.add_feed("/feed/", rss([item(1)]))
        env.poller.wake()
        async with asyncio.timeout(10):
            await polled.wait()
        feed = await env.storage.feed(feed_id)
        assert feed is not None and feed.last_success_at == START
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_failing_hook_does_not_undo_the_poll(env: Env) -> None:
    async def broken(event: NewArticlesEvent) -> None:
        raise RuntimeError("alert service down")

    env.poller.on_new_articles.insert(0, broken)
    feed_id = await env.add_feed("/feed/", rss([item(1)]))

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.ok and await env.count("articles") == 1
    assert len(env.events) == 1  # later hooks still ran


# -- a changed feed pays for its new items; unchanged feeds are recorded in batches -------------


async def test_a_changed_feed_counts_all_its_items_and_adds_only_the_new_one(env: Env) -> None:
    feed_id = await env.add_feed("/feed/", rss([item(2), item(1)]))
    await env.subscribe(feed_id, channel_id=100)
    await env.poller.poll_feed(feed_id)
    env.server.replies["/feed/"] = Reply(rss([item(3), item(2), item(1)]))
    env.clock.advance(600)

    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.items == 3 and len(outcome.new_to_feed) == 1 and outcome.outbox_rows == 1
    assert await env.count("articles") == 3 and await env.count("feed_entries") == 3


async def test_a_round_of_unchanged_feeds_is_recorded_when_the_round_ends(env: Env) -> None:
    feeds = [await env.add_feed(f"/feed/{n}", rss([item(n)])) for n in range(5)]
    await env.poller.poll_due()
    env.clock.advance(600)

    report = await env.poller.poll_due()

    assert [outcome.not_modified for outcome in report.outcomes] == [True] * 5
    assert await env.storage.due_feed_ids(env.clock.now()) == []
    for feed_id in feeds:
        feed = await env.storage.feed(feed_id)
        assert feed is not None and feed.last_success_at == env.clock.now()


async def test_unchanged_bookkeeping_lost_in_a_crash_only_means_another_check(
    storage: Storage, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(START)
    async with FeedServer() as server, make_session(config.fetch, "test") as session:
        env = build_env(storage, config, server, session, clock)
        feed_id = await env.add_feed("/feed/", rss([item(2), item(1)]))
        await env.subscribe(feed_id, channel_id=100)
        await env.poller.poll_feed(feed_id)
        clock.advance(600)
        # The 304 waits in the poller's batch, and the process dies before the batch is written
        # (the private call is the only way to stop between the two).
        outcome = await env.poller._poll_feed(feed_id)
        assert outcome.not_modified
        assert await storage.due_feed_ids(clock.now()) == [feed_id]

        restarted = build_env(storage, config, server, session, clock)
        server.replies["/feed/"] = Reply(rss([item(3), item(2), item(1)]))
        again = await restarted.poller.poll_feed(feed_id)

    assert again.ok and len(again.new_to_feed) == 1 and again.outbox_rows == 1
    assert await env.count("outbox") == 1


class FlakyBookkeeping(Storage):
    """A database whose next `failures` batches of unchanged checks fail to be written."""

    failures = 0

    async def record_not_modified(self, checks: Any, *, holder: str | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        await super().record_not_modified(checks, holder=holder)


async def test_a_batch_that_cannot_be_written_leaves_its_feeds_due_and_fails_none(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(START)
    storage = await FlakyBookkeeping.open(tmp_path / "flaky.db")
    try:
        async with FeedServer() as server, make_session(config.fetch, "test") as session:
            env = build_env(storage, config, server, session, clock)
            feeds = [await env.add_feed(f"/feed/{n}", rss([item(n)])) for n in range(3)]
            await env.poller.poll_due()
            clock.advance(600)
            storage.failures = 1

            report = await env.poller.poll_due()

            assert [o.ok and o.not_modified for o in report.outcomes] == [True] * 3
            assert sorted(await storage.due_feed_ids(clock.now())) == sorted(feeds)
            again = await env.poller.poll_due()
            assert again.polled == 3 and await storage.due_feed_ids(clock.now()) == []
    finally:
        await storage.close()


async def test_a_poll_that_waited_for_our_own_request_slots_is_deferred_not_failed(
    env: Env,
) -> None:
    """Paperboy's own request slots stayed full: the site was never asked, so neither the feed's
    health nor the failure metrics count it; the poll is counted as deferred."""
    feed_id = await env.add_feed("/feed", rss([item(1)]))

    async def busy(*args: Any, **kwargs: Any) -> Any:
        raise FetchError(kinds.BUSY, "Paperboy is busy; try again in 20 seconds.", retry_after=20)

    env.fetcher.fetch = busy  # type: ignore[method-assign]
    outcome = await env.poller.poll_feed(feed_id)

    assert outcome.error_kind == kinds.BUSY and not outcome.ok
    feed = await env.storage.feed(feed_id)
    assert feed is not None and feed.consecutive_failures == 0 and feed.last_error_kind is None
    registry = env.poller.metrics.registry
    assert registry.get_sample_value("paperboy_polls_total", {"result": "deferred"}) == 1
    assert registry.get_sample_value("paperboy_polls_total", {"result": "failed"}) == 0
    assert registry.get_sample_value("paperboy_poll_failures_total", {"kind": kinds.BUSY}) is None
