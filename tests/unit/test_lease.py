"""The poll lease on a real SQLite file, with a fake clock: one holder at a time, a killed
holder's lease taken over after its expiry (or at once when its process is known dead)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bot.app import open_app
from bot.clock import FakeClock
from bot.lease import LeaseKeeper, make_holder, may_take
from bot.storage import Lease, Storage
from tests.builders import NOW
from tests.conftest import make_config

LEASE_SECONDS = 30.0


def keeper(storage: Storage, clock: FakeClock, holder: str, *, alive: bool = True) -> LeaseKeeper:
    return LeaseKeeper(
        storage, clock, seconds=LEASE_SECONDS, holder=holder, alive=lambda pid: alive
    )


async def test_second_holder_waits_then_takes_over_after_the_expiry(database_target: str) -> None:
    path = database_target
    clock = FakeClock(NOW)
    # Two handles on one file, as two processes have.
    first_db, second_db = await Storage.open(path), await Storage.open(path)
    try:
        first = keeper(first_db, clock, "host-a/100/aa")
        second = keeper(second_db, clock, "host-b/200/bb")
        assert await first.try_take()
        assert not await second.try_take()
        clock.advance(LEASE_SECONDS / 3)
        assert await first.try_take()  # renewed: now held until +40 s
        clock.advance(LEASE_SECONDS - 1)
        assert not await second.try_take()  # 39 s: the renewal still holds
        # The first holder is killed: it renews no more. At the expiry the second takes over.
        clock.advance(1)
        assert await second.try_take()
        assert second.held.is_set()
        lease = await second_db.lease("poller")
        assert lease is not None and lease.holder == "host-b/200/bb"
        # The first, back from a long stall, finds it lost and must stop.
        assert not await first.try_take()
        assert not first.held.is_set()
    finally:
        await first_db.close()
        await second_db.close()


async def test_a_clean_stop_hands_the_lease_over_at_once(database_target: str) -> None:
    clock = FakeClock(NOW)
    async with _storage(database_target) as storage:
        first = keeper(storage, clock, "host-a/100/aa")
        second = keeper(storage, clock, "host-b/200/bb")
        assert await first.try_take()
        await first.release()
        assert await second.try_take()


async def test_a_dead_holder_on_this_machine_is_taken_over_at_once(database_target: str) -> None:
    clock = FakeClock(NOW)
    async with _storage(database_target) as storage:
        assert await keeper(storage, clock, "host-a/100/aa").try_take()
        # Same machine, process 100 no longer runs (kill -9, then a restart).
        assert await keeper(storage, clock, "host-a/300/cc", alive=False).try_take()
        # Another machine cannot know: it waits for the expiry.
        assert not await keeper(storage, clock, "host-b/400/dd", alive=False).try_take()


def test_may_take_decides_from_holder_expiry_and_liveness() -> None:
    lease = Lease("poller", "host-a/100/aa", NOW)
    before = NOW - timedelta(seconds=1)
    assert may_take(lease, "host-a/100/aa", before, alive=lambda pid: True)  # ours
    assert may_take(lease, "host-b/1/x", NOW, alive=lambda pid: True)  # expired at NOW
    early = Lease("poller", "host-a/100/aa", NOW.replace(year=NOW.year + 1))
    assert not may_take(early, "host-b/1/x", NOW, alive=lambda pid: False)  # elsewhere
    assert not may_take(early, "host-a/1/x", NOW, alive=lambda pid: True)  # alive here
    assert may_take(early, "host-a/1/x", NOW, alive=lambda pid: False)  # dead here
    assert may_take(early, "host-a/100/new", NOW, alive=lambda pid: True)  # our pid, reborn
    assert not may_take(
        Lease("poller", "garbage", early.expires_at), "garbage2/1/x", NOW, alive=lambda p: False
    )
    assert make_holder("h", 5).startswith("h/5/")


async def test_run_does_the_work_only_while_holding(database_target: str) -> None:
    clock = FakeClock(NOW)
    async with _storage(database_target) as storage:
        other = keeper(storage, clock, "host-b/200/bb")
        assert await other.try_take()
        mine = LeaseKeeper(
            storage, clock, seconds=0.3, holder="host-a/100/aa", alive=lambda pid: True
        )
        started = asyncio.Event()

        async def work() -> None:
            started.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(mine.run(work))
        await asyncio.sleep(0)  # let it try once
        assert not started.is_set()
        await other.release()
        await asyncio.wait_for(started.wait(), 10)
        assert mine.held.is_set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Cancelled: it released the lease for the next process.
        assert await other.try_take()


@asynccontextmanager
async def _storage(target: str | Path, name: str = "lease.db") -> AsyncIterator[Storage]:
    """The database at `target`: a PostgreSQL URL, or a folder for a SQLite file `name`."""
    storage = await Storage.open(
        target if str(target).startswith("postgresql:") else Path(target) / name
    )
    try:
        yield storage
    finally:
        await storage.close()


async def test_health_of_a_standby_worker_and_a_shard_process_that_does_not_poll(
    tmp_path: Path,
) -> None:
    """/healthz: neither a worker (no Discord by design) nor a --no-poll shard process reports a
    stale polling round; a worker that waits for the lease (archiving) still polls its share."""
    clock = FakeClock(NOW)
    config = make_config(tmp_path, http={"listen": "127.0.0.1:0"})
    async with _storage(tmp_path, "paperboy.db") as other:  # the config's database
        worker = await open_app(config, clock=clock)
        try:
            assert worker.ops is not None
            clock.advance(3600)  # long after any polling round was due
            assert await keeper(other, clock, "elsewhere/1/aa").try_take()  # another one polls
            assert await worker.ops.problems()  # before the roles are set: both problems
            worker.health.expects_gateway = False
            worker.start_background(poll=True, shared=True)
            assert worker.poll_lease is not None
            assert not await worker.poll_lease.try_take()  # the other archives
            await worker.poller.poll_due()  # ... but every worker polls its share of the feeds
            assert await worker.ops.problems() == []
        finally:
            await worker.close()
        shard = await open_app(config, clock=clock)
        try:
            assert shard.ops is not None
            shard.health.gateway_up(clock.now())
            shard.start_background(poll=False, shared=True)
            clock.advance(3600)
            assert await shard.ops.problems() == []
        finally:
            await shard.close()
