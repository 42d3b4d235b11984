"""Background tasks have an owner: failures are logged, close() cancels and waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from bot.tasks import TaskOwner, WakeSignal, run_hooks


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


async def test_run_hooks_logs_a_failing_hook_and_still_calls_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    called: list[tuple[str, int]] = []

    async def first(value: int) -> None:
        called.append(("first", value))
        raise RuntimeError("hook broke")

    async def second(value: int) -> None:
        called.append(("second", value))

    with caplog.at_level(logging.ERROR):
        await run_hooks([first, second], 7, what="new articles for feed 3")
    assert called == [("first", 7), ("second", 7)]
    [record] = [r for r in caplog.records if "new articles for feed 3" in r.getMessage()]
    assert record.exc_info is not None and "hook broke" in str(record.exc_info[1])


async def test_run_hooks_lets_a_hook_unregister_itself_without_skipping_others() -> None:
    called: list[str] = []
    hooks: list[Callable[[], Awaitable[None]]] = []

    async def once() -> None:
        called.append("once")
        hooks.remove(once)

    async def always() -> None:
        called.append("always")

    hooks.extend([once, always])
    await run_hooks(hooks, what="test")
    assert called == ["once", "always"]
    assert hooks == [always]


async def test_wake_signal_returns_early_when_woken_and_false_on_timeout() -> None:
    signal = WakeSignal()
    assert await signal.sleep(0.01) is False  # nobody woke it
    signal.set()
    assert signal.is_set()
    assert await signal.sleep(60) is True  # a wake before the sleep is not lost
    signal.clear()
    sleeper = asyncio.create_task(signal.sleep(60))
    signal.set()
    assert await sleeper is True
