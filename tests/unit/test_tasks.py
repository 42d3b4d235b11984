"""Background tasks have an owner: failures are logged, close() cancels and waits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.tasks import TaskOwner


async def test_a_failing_task_is_logged_with_its_name_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = TaskOwner()

    async def broken() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        task = owner.spawn(broken(), name="poller")
        await asyncio.gather(task, return_exceptions=True)
    [record] = [r for r in caplog.records if "poller" in r.getMessage()]
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])
    assert owner.running == []


async def test_close_cancels_running_tasks_and_refuses_new_ones() -> None:
    owner = TaskOwner()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    owner.spawn(forever(), name="archiver")
    await started.wait()
    assert owner.running == ["archiver"]
    await owner.close()
    assert cancelled.is_set()

    async def late() -> None:
        return None

    with pytest.raises(RuntimeError, match="closed"):
        owner.spawn(late(), name="late")
