"""The worker pool: deadlines kill and replace workers, the memory cap, priorities, close()."""

from __future__ import annotations

import asyncio
import functools
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.config import WorkersConfig
from bot.errors import FeedError, TryLater
from bot.workpool import JobOutOfMemory, JobTimedOut, PoolClosed, RemoteJobError, WorkPool

# -- jobs (module level, so workers can unpickle them) ---------------------------------------------


def add(a: int, b: int) -> int:
    """A quick job."""
    return a + b


def worker_pid() -> int:
    """Which process ran the job."""
    return os.getpid()


def spin_forever() -> None:
    """A job that never ends on its own."""
    while True:
        pass


def signal_then_spin(fifo: str) -> None:
    """Say "running" through the named pipe `fifo`, then never end."""
    with open(fifo, "wb") as started:
        started.write(b"x")
    spin_forever()


def read_one_byte(fifo: str) -> bytes:
    """Block until a job opens `fifo` and writes to it (run in a thread)."""
    with open(fifo, "rb") as started:
        return started.read(1)


def wait_for_file(path: str) -> str:
    """A job that holds its worker until the test creates `path`."""
    while not os.path.exists(path):
        time.sleep(0.005)
    return "released"


def allocate(megabytes: int) -> int:
    """A job that needs `megabytes` of memory at once."""
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def refuse_feed() -> None:
    """A job that raises an expected error with its own __init__."""
    raise FeedError("not-a-feed", "That is not a feed.")


def divide_by_zero() -> float:
    """A job with a bug."""
    return 1 / 0


def pool_with(**values: object) -> WorkPool:
    """A pool with test limits."""
    return WorkPool(WorkersConfig(**values))  # type: ignore[arg-type]


def is_reaped(pid: int) -> bool:
    """True once the process is gone entirely (not even a zombie)."""
    return not Path(f"/proc/{pid}").exists()


# -- tests ----------------------------------------------------------------------------------------


async def test_a_job_runs_in_another_process_and_returns_its_result() -> None:
    pool = pool_with(processes=1)
    try:
        assert await pool.run(functools.partial(add, 2, 3), priority="system") == 5
        assert await pool.run(worker_pid, priority="member") != os.getpid()
    finally:
        await pool.close()


async def test_a_job_past_its_deadline_is_killed_and_the_worker_replaced() -> None:
    pool = pool_with(processes=1, job_timeout_seconds=0.5)
    try:
        first = await pool.run(worker_pid, priority="system")
        with pytest.raises(JobTimedOut) as caught:
            await pool.run(spin_forever, priority="member", what="this page")
        assert str(caught.value) == (
            "Reading this page took too long (over 0.5 s), so Paperboy stopped."
        )
        await pool.settled()
        assert is_reaped(first)  # killed, not abandoned
        after = await pool.run(worker_pid, priority="system")
        assert after != first
        assert pool.killed == 1
    finally:
        await pool.close()


async def test_a_job_over_the_memory_cap_fails_clearly_and_the_pool_goes_on() -> None:
    pool = pool_with(processes=1, memory_limit_mb=256)
    try:
        with pytest.raises(JobOutOfMemory, match="more than the 256 MB of memory"):
            await pool.run(functools.partial(allocate, 1024), priority="system")
        assert await pool.run(functools.partial(allocate, 16), priority="system") == 16 * 2**20
    finally:
        await pool.close()


async def test_expected_errors_come_back_as_themselves_and_bugs_as_remote_errors() -> None:
    pool = pool_with(processes=1)
    try:
        with pytest.raises(FeedError) as caught:
            await pool.run(refuse_feed, priority="system")
        assert caught.value.kind == "not-a-feed"
        assert str(caught.value) == "That is not a feed."
        with pytest.raises(RemoteJobError, match="ZeroDivisionError"):
            await pool.run(divide_by_zero, priority="system")
    finally:
        await pool.close()


async def test_system_jobs_run_while_member_jobs_fill_the_queue(tmp_path: Path) -> None:
    release = tmp_path / "release"
    pool = pool_with(processes=2, queue_size=2)
    try:
        hold = functools.partial(wait_for_file, str(release))
        members = [
            asyncio.create_task(pool.run(hold, priority="member")),
            asyncio.create_task(pool.run(hold, priority="member")),
            asyncio.create_task(pool.run(hold, priority="member")),
        ]
        await asyncio.sleep(0)  # each task runs up to its first wait
        # One member job holds a worker, two wait; the last worker is the system's.
        assert len(pool._waiting["member"]) == 2
        assert await pool.run(functools.partial(add, 1, 1), priority="system") == 2
        with pytest.raises(TryLater) as caught:
            await pool.run(hold, priority="member")
        assert str(caught.value) == "Paperboy is busy reading other pages; try again in 20 seconds."
        assert caught.value.retry_after == 20
        release.touch()
        assert await asyncio.gather(*members) == ["released"] * 3
    finally:
        release.touch()
        await pool.close()


async def test_waiting_system_jobs_go_before_waiting_member_jobs(tmp_path: Path) -> None:
    release = tmp_path / "release"
    pool = pool_with(processes=1, queue_size=4)
    order: list[str] = []

    async def job(name: str, priority: str) -> None:
        await pool.run(functools.partial(add, 0, 0), priority=priority)  # type: ignore[arg-type]
        order.append(name)

    try:
        holder = asyncio.create_task(
            pool.run(functools.partial(wait_for_file, str(release)), priority="system")
        )
        member = asyncio.create_task(job("member", "member"))
        system = asyncio.create_task(job("system", "system"))
        await asyncio.sleep(0)  # each task runs up to its first wait
        assert len(pool._waiting["member"]) == 1 and len(pool._waiting["system"]) == 1
        release.touch()
        await asyncio.gather(holder, member, system)
        assert order == ["system", "member"]
    finally:
        release.touch()
        await pool.close()


async def test_close_kills_every_worker_and_leaves_no_zombie(tmp_path: Path) -> None:
    pool = pool_with(processes=2)
    pids = await asyncio.gather(
        pool.run(worker_pid, priority="system"), pool.run(worker_pid, priority="system")
    )
    assert sorted(pids) == sorted(pool.pids)
    busy = asyncio.create_task(pool.run(spin_forever, priority="system"))
    await asyncio.sleep(0)  # the job is on its way to a worker
    await pool.close()
    with pytest.raises(PoolClosed):
        await busy
    assert all(is_reaped(pid) for pid in pids)
    with pytest.raises(PoolClosed):
        await pool.run(worker_pid, priority="system")


async def test_a_cancelled_job_kills_its_worker(tmp_path: Path) -> None:
    pool = pool_with(processes=1)
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    try:
        pid = await pool.run(worker_pid, priority="member")
        task = asyncio.create_task(
            pool.run(functools.partial(signal_then_spin, str(fifo)), priority="member")
        )
        assert await asyncio.to_thread(read_one_byte, str(fifo)) == b"x"  # running in the worker
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pool.settled()
        assert is_reaped(pid)
        assert await pool.run(functools.partial(add, 1, 2), priority="system") == 3
    finally:
        await pool.close()


async def test_a_worker_killed_from_outside_is_reported_and_replaced(tmp_path: Path) -> None:
    pool = pool_with(processes=1)
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    try:
        pid = await pool.run(worker_pid, priority="system")
        task = asyncio.create_task(
            pool.run(functools.partial(signal_then_spin, str(fifo)), priority="member")
        )
        # Killed once the job is running in the worker (not while it is still on its way, when
        # the pool would rightly hand it to a fresh worker instead).
        assert await asyncio.to_thread(read_one_byte, str(fifo)) == b"x"
        os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
        with pytest.raises(JobOutOfMemory, match="stopped unexpectedly"):
            await task
        await pool.settled()
        assert is_reaped(pid)
        assert await pool.run(worker_pid, priority="system") != pid
    finally:
        await pool.close()


async def test_a_worker_that_died_while_idle_is_replaced_before_the_next_job() -> None:
    pool = pool_with(processes=1)
    try:
        pid = await pool.run(worker_pid, priority="system")
        exited = os.pidfd_open(pid)
        try:
            os.kill(pid, signal.SIGKILL)
            select.select([exited], [], [], 20)
        finally:
            os.close(exited)
        assert await pool.run(worker_pid, priority="member") != pid
        assert pool.pids != [pid]
    finally:
        await pool.close()


BOT_LIKE = textwrap.dedent(
    """
    import asyncio
    from bot.workpool import WorkPool
    from tests.unit.test_workpool import spin_forever, worker_pid

    async def main():
        pool = WorkPool()
        print(await pool.run(worker_pid, priority="system"), flush=True)
        await pool.run(spin_forever, priority="system")

    if __name__ == "__main__":
        asyncio.run(main())
    """
)


def test_a_worker_mid_job_ends_when_paperboy_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "bot_like.py"
    script.write_text(BOT_LIKE)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, cwd=root, env=env, text=True
    ) as paperboy:
        assert paperboy.stdout is not None
        worker = int(paperboy.stdout.readline())
        exited = os.pidfd_open(worker)  # readable once the worker has exited
        try:
            paperboy.kill()  # SIGKILL: no close(), no atexit
            paperboy.wait()
            ready, _, _ = select.select([exited], [], [], 20)
            assert ready, "the worker outlived Paperboy"
        finally:
            os.close(exited)
