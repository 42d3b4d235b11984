"""Shared mechanisms for background work: the task owner, the hook runner and the wake signal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVarTuple

log = logging.getLogger(__name__)

Ts = TypeVarTuple("Ts")


async def run_hooks(
    hooks: Iterable[Callable[[*Ts], Awaitable[object]]], *args: *Ts, what: str
) -> None:
    """Call every hook in turn with `args`; a hook's failure is logged (naming `what`) and
    swallowed, so it never undoes the caller's committed work nor stops the other hooks."""
    for hook in list(hooks):  # a copy: a hook may unregister itself
        try:
            await hook(*args)
        except Exception:
            log.exception("A hook failed: %s", what)


class WakeSignal:
    """A loop's 'look now' flag: `set()` by whoever commits work, slept on by the loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Wake the loop (or make its next sleep return at once)."""
        self._event.set()

    def clear(self) -> None:
        """Forget earlier wakes: called as a round starts, before it reads its work."""
        self._event.clear()

    def is_set(self) -> bool:
        """Whether a wake arrived since the last `clear()`."""
        return self._event.is_set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep until woken or `seconds` pass; True if woken."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class TaskOwner:
    """Owns a set of named background tasks for the lifetime of the process."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Start `coro` as a task; an unexpected exception is logged, never lost."""
        if self._closed:
            coro.close()
            raise RuntimeError("TaskOwner is closed")
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("Background task %s failed", task.get_name(), exc_info=error)

    @property
    def running(self) -> list[str]:
        """Names of the tasks still running."""
        return sorted(task.get_name() for task in self._tasks)

    async def close(self) -> None:
        """Cancel every task and wait for them to finish."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
