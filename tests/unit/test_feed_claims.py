"""Per-feed claims: several processes poll one database, each due feed once per cycle.

Two `Storage` handles on one file are two processes' view of the database; they share one fake
clock (one machine's time) and one loopback feed server, which counts the requests per feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from bot.clock import FakeClock
from bot.config import Config
from bot.fetch import Fetcher, make_session
from bot.ingest.poller import (
    CLAIM_LOST_KIND,
    IDLE_WAKE_SECONDS,
    MIN_LOOP_PAUSE_SECONDS,
    Poller,
)
from bot.storage import ClaimLost, NotModifiedCheck, Storage
from tests.builders import subscribe
from tests.conftest import make_config
from tests.feed_server import START, FeedServer, Reply, item, rss

CLAIM_SECONDS = 300.0
BOTH_ASK_WAIT_SECONDS = 10.0


class GatedFeedServer(FeedServer):
    """A feed server that holds the first request on `held_path` until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.held_path = ""
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.path == self.held_path and not self.arrived.is_set():
            reply = self.replies[request.path]  # the document as it was when asked
            self.arrived.set()
            await self.release.wait()
            self.requests.append(request)
            return web.Response(body=reply.body, content_type="application/rss+xml")
        return await super()._handle(request)


class BothAskServer(FeedServer):
    """Answers nothing until both processes (told apart by their User-Agent) have asked for a
    feed, so each is sure to have claimed a share before the other can finish the cycle."""

    def __init__(self) -> None:
        super().__init__()
        self.agents: set[str] = set()
        self.both_asked = asyncio.Event()

    def new_cycle(self) -> None:
        self.requests.clear()
        self.agents.clear()
        self.both_asked.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        self.agents.add(request.headers.get("User-Agent", ""))
        if len(self.agents) >= 2:
            self.both_asked.set()
        # Bounded, so a process that never asks fails the test's "both took a share" check
        # instead of hanging it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.both_asked.wait(), BOTH_ASK_WAIT_SECONDS)
        return await super()._handle(request)


def _config(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        feeds={"default_interval_seconds": 300, "min_interval_seconds": 60},
        announcements={"max_age_days": 0.0},
        scale={"feed_claim_seconds": CLAIM_SECONDS},
    )


def _polls(poller: Poller, result: str) -> float:
    """The poller's `paperboy_polls_total` count for one result."""
    value = poller.metrics.registry.get_sample_value("paperboy_polls_total", {"result": result})
    return value or 0.0


@asynccontextmanager
async def _two_processes(
    tmp_path: Path, server: FeedServer, clock: FakeClock, *, concurrency: int = 2
) -> AsyncIterator[tuple[Poller, Poller]]:
    """Two pollers, each with its own database handle and holder name, on one database file."""
    config = _config(tmp_path)
    path = tmp_path / "shared.db"
    first = await Storage.open(path)
    second = await Storage.open(path)
    try:
        # A session each, as two processes have, told apart by their User-Agent.
        async with (
            make_session(config.fetch, "test-0") as session_0,
            make_session(config.fetch, "test-1") as session_1,
        ):
            pollers = tuple(
                Poller(
                    storage,
                    Fetcher(session, config.fetch),
                    config,
                    clock,
                    concurrency=concurrency,
                    rng=random.Random(n),
                    holder=f"host/{100 + n}/aa",
                )
                for n, (storage, session) in enumerate(((first, session_0), (second, session_1)))
            )
            yield pollers[0], pollers[1]
    finally:
        await first.close()
        await second.close()


async def _add_feeds(storage: Storage, server: FeedServer, clock: FakeClock, count: int) -> None:
    for n in range(count):
        server.replies[f"/feed/{n}"] = Reply(rss([item(2, base=f"https://s{n}.example")]))
        await storage.add_feed(server.url(f"/feed/{n}"), now=clock.now())


async def test_two_processes_claim_disjoint_sets_of_due_feeds(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with FeedServer() as server, _two_processes(tmp_path, server, clock) as (a, b):
        await _add_feeds(a.storage, server, clock, 40)
        expires = clock.now() + timedelta(seconds=CLAIM_SECONDS)

        mine = await a.storage.claim_due_feeds(
            clock.now(), holder=a.holder, expires_at=expires, limit=15
        )
        theirs = await b.storage.claim_due_feeds(
            clock.now(), holder=b.holder, expires_at=expires, limit=100
        )
        again = await a.storage.claim_due_feeds(
            clock.now(), holder=a.holder, expires_at=expires, limit=100
        )

        assert len(mine) == 15 and len(theirs) == 25 and again == []
        assert {f.id for f in mine}.isdisjoint({f.id for f in theirs})
        assert await a.storage.feed_claim(mine[0].id) == (a.holder, expires)


async def test_two_pollers_poll_every_due_feed_exactly_once_per_cycle(tmp_path: Path) -> None:
    clock = FakeClock(START)
    # Without the wait for both, one process may poll all 60 while the other's first claim
    # still sleeps in SQLite's busy handler: correct (each feed once), but no sharing to see.
    async with BothAskServer() as server, _two_processes(tmp_path, server, clock) as (a, b):
        await _add_feeds(a.storage, server, clock, 60)
        for cycle in range(3):
            server.new_cycle()
            if cycle:
                clock.advance(3600)  # every feed due again
                for n in range(0, 60, 10):  # some feeds changed
                    path = f"/feed/{n}"
                    base = f"https://s{n}.example"
                    server.replies[path] = Reply(
                        rss([item(2 + cycle, base=base), item(2, base=base)])
                    )

            first, second = await asyncio.gather(a.poll_due(), b.poll_due())

            per_feed = Counter(request.path for request in server.requests)
            assert sorted(per_feed) == sorted(f"/feed/{n}" for n in range(60)), cycle
            assert set(per_feed.values()) == {1}, cycle  # 0 double polls, 0 missed
            assert first.polled + second.polled == 60
            assert first.polled and second.polled  # both took a share
            assert all(o.ok for o in first.outcomes + second.outcomes)
            assert await a.storage.due_feed_ids(clock.now()) == []
            claims = await a.storage.scalar(
                "SELECT count(*) FROM feeds WHERE claimed_by IS NOT NULL"
            )
            assert claims == 0  # every poll's write cleared its claim


async def test_a_dead_processs_claims_are_polled_by_another_after_the_expiry(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    async with FeedServer() as server, _two_processes(tmp_path, server, clock) as (a, b):
        await _add_feeds(a.storage, server, clock, 10)
        # The first process claims everything due, then is killed before it polls any of it.
        await a.storage.claim_due_feeds(
            clock.now(),
            holder=a.holder,
            expires_at=clock.now() + timedelta(seconds=CLAIM_SECONDS),
            limit=100,
        )

        clock.advance(CLAIM_SECONDS - 1)
        before = await b.poll_due()
        assert before.polled == 0 and server.requests == []
        clock.advance(1)
        after = await b.poll_due()

        assert after.polled == 10 and all(o.ok for o in after.outcomes)
        assert Counter(r.path for r in server.requests) == {f"/feed/{n}": 1 for n in range(10)}


async def test_a_poller_sleeps_until_another_processs_claims_expire(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with FeedServer() as server, _two_processes(tmp_path, server, clock) as (a, b):
        assert await b.seconds_until_due() == IDLE_WAKE_SECONDS  # no feeds at all
        await _add_feeds(a.storage, server, clock, 3)
        expires = clock.now() + timedelta(seconds=CLAIM_SECONDS)
        held = await a.storage.claim_due_feeds(
            clock.now(), holder=a.holder, expires_at=expires, limit=100
        )
        assert len(held) == 3
        # All due, all held by the other process: look again when the claims expire (it was
        # every half second, each look an empty claim).
        assert await b.storage.next_claimable_at(clock.now(), holder=b.holder) == expires
        assert await b.seconds_until_due() == CLAIM_SECONDS
        assert await a.seconds_until_due() == MIN_LOOP_PAUSE_SECONDS  # its own: due
        clock.advance(100)
        assert await b.seconds_until_due() == CLAIM_SECONDS - 100
        # A claim given back is due at once for the other.
        await a.storage.release_claims([held[0].id], holder=a.holder)
        assert await b.seconds_until_due() == MIN_LOOP_PAUSE_SECONDS
        assert (await b.poll_due()).polled == 1
        # Polled: that feed is due again in an interval; the other two still held.
        assert await b.seconds_until_due() == CLAIM_SECONDS - 100
        clock.advance(CLAIM_SECONDS - 100)  # the claims have expired: due
        assert await b.seconds_until_due() == MIN_LOOP_PAUSE_SECONDS
        assert (await b.poll_due()).polled == 2
        later = await b.seconds_until_due()
        assert MIN_LOOP_PAUSE_SECONDS < later <= IDLE_WAKE_SECONDS  # nothing due until then


async def test_a_late_result_after_the_claim_was_taken_over_changes_nothing(
    tmp_path: Path,
) -> None:
    """A stalls on a feed past its claim's expiry; B takes the feed over and announces the new
    item. A's late result is then dropped whole (guarded by the claim and the last check), so the
    feed is not wound back to A's validators and schedule and the item is announced once."""
    clock = FakeClock(START)
    async with GatedFeedServer() as server, _two_processes(tmp_path, server, clock) as (a, b):
        base = "https://s0.example"
        server.replies["/feed/0"] = Reply(rss([item(2, base=base)]))
        feed = await a.storage.add_feed(server.url("/feed/0"), now=clock.now())
        await subscribe(a.storage, feed.id, channel_id=100, now=clock.now())
        await a.poll_due()  # seeded
        clock.advance(3600)
        server.replies["/feed/0"] = Reply(rss([item(3, base=base), item(2, base=base)]))
        server.held_path = "/feed/0"

        stalled = asyncio.create_task(a.poll_due())
        await server.arrived.wait()
        clock.advance(CLAIM_SECONDS)  # A's claim runs out while its request hangs
        taken_over = await b.poll_due()
        after_b = await b.storage.feed(feed.id)
        server.release.set()
        late = await stalled

        assert taken_over.polled == 1 and taken_over.outbox_rows == 1
        assert [o.error_kind for o in late.outcomes] == [CLAIM_LOST_KIND]
        # Not the feed's failure: counted apart, so failure alerts speak of feeds only.
        assert _polls(a, "deferred") == 1 and _polls(a, "failed") == 0
        failures = {"kind": CLAIM_LOST_KIND}
        assert a.metrics.registry.get_sample_value("paperboy_poll_failures_total", failures) is None
        assert await a.storage.scalar("SELECT count(*) FROM outbox") == 1
        assert await a.storage.feed(feed.id) == after_b  # not wound back
        assert await a.storage.feed_claim(feed.id) == (None, None)


async def test_late_bookkeeping_and_failures_of_a_lost_claim_are_not_written(
    tmp_path: Path,
) -> None:
    """The 304 batch and the failure record are guarded by the claim as the poll's transaction
    is: a process whose claim another took over writes nothing."""
    clock = FakeClock(START)
    async with FeedServer() as server, _two_processes(tmp_path, server, clock) as (a, b):
        await _add_feeds(a.storage, server, clock, 2)
        now = clock.now()
        expiry = now + timedelta(seconds=CLAIM_SECONDS)
        ids = [
            f.id
            for f in await a.storage.claim_due_feeds(
                now, holder=a.holder, expires_at=expiry, limit=10
            )
        ]
        clock.advance(CLAIM_SECONDS)
        later = clock.now()
        retaken = await b.storage.claim_due_feeds(
            later, holder=b.holder, expires_at=later + timedelta(seconds=CLAIM_SECONDS), limit=10
        )
        assert [f.id for f in retaken] == ids

        await a.storage.record_not_modified(
            [NotModifiedCheck(ids[0], '"a"', None, now, now + timedelta(hours=1))], holder=a.holder
        )
        try:
            await a.storage.record_poll_failure(
                ids[1], kind="dns", message="x.", now=now, next_check_at=now, holder=a.holder
            )
        except ClaimLost:
            pass
        else:
            raise AssertionError("a failure of a lost claim was recorded")

        for feed_id in ids:
            feed = await a.storage.feed(feed_id)
            assert feed is not None and feed.last_checked_at is None and feed.etag is None
            assert (await a.storage.feed_claim(feed_id))[0] == b.holder
        await b.storage.record_not_modified(
            [NotModifiedCheck(ids[0], '"b"', None, later, later + timedelta(hours=1))],
            holder=b.holder,
        )
        feed = await b.storage.feed(ids[0])
        assert feed is not None and feed.etag == '"b"'
        assert await b.storage.feed_claim(ids[0]) == (None, None)


async def test_a_restart_takes_back_its_earlier_lifes_claims_but_not_another_machines(
    tmp_path: Path,
) -> None:
    """After a crash the restarted process (same machine, a holder of the same process id or a
    dead one) polls the feeds its earlier life had claimed at once, not after the expiry; claims
    of a process on another machine are left to expire."""
    clock = FakeClock(START)
    async with FeedServer() as server, _two_processes(tmp_path, server, clock) as (a, _):
        await _add_feeds(a.storage, server, clock, 4)
        expiry = clock.now() + timedelta(seconds=CLAIM_SECONDS)
        earlier_life = "host/100/old"  # a's own process id (its holder is host/100/aa)
        elsewhere = "otherhost/100/aa"
        for holder, limit in ((earlier_life, 3), (elsewhere, 1)):
            await a.storage.claim_due_feeds(
                clock.now(), holder=holder, expires_at=expiry, limit=limit
            )

        await a.take_back_dead_claims()
        report = await a.poll_due()

        assert report.polled == 3
        assert await a.storage.claim_holders() == [elsewhere]
